//! The subject's private side of a request: a one-time code opens a session scoped to this
//! request alone; behind it they see their data, upload documents, answer questions,
//! withdraw, and download the answer. Another request's id with this session is 404.

use axum::extract::rejection::FormRejection;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Multipart, Path, RawPathParams, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::Utc;
use madoguchi_domain::{Actor, DocumentPurpose, Event, PaymentMethod, Requester, State as RState};
use madoguchi_service::Lang;
use madoguchi_service::{AccessError, EventText, FileError, ServiceError};
use serde::Deserialize;
use uuid::Uuid;

use super::public::with_cookie;
use crate::cookies::{cookie, set_cookie};
use crate::csrf;
use crate::error::{AppError, PageError};
use crate::extract::ClientOrigin;
use crate::lang::PageLang;
use crate::pages::{self, AccessPage, PrivatePage, ReceiptPage};
use crate::state::AppState;

const COOKIE: &str = "madoguchi_subject";

/// The subject's private routes.
pub fn router(upload_limit: usize) -> Router<AppState> {
    Router::new()
        .route("/r/{pid}/code", post(send_code))
        .route("/r/{pid}/access", get(show_access).post(verify_code))
        .route("/r/{pid}/private", get(show_private))
        .route(
            "/r/{pid}/documents",
            post(upload_documents).layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route("/r/{pid}/evidence", post(submit_evidence))
        .route("/r/{pid}/info", post(provide_info))
        .route("/r/{pid}/withdraw", post(withdraw))
        .route("/r/{pid}/files/{doc}", get(download))
        .route("/r/{pid}/answer.zip", get(download_zip))
        .route("/r/{pid}/receipts/{number}", get(show_receipt))
}

fn parse_pid(pid: &str) -> Result<Uuid, PageError> {
    Uuid::parse_str(pid).map_err(|_| PageError::from(AppError::NotFound))
}

fn lang_q(lang: Lang) -> &'static str {
    if lang.is_en() { "?lang=en" } else { "" }
}

#[derive(Debug, Deserialize)]
struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

/// A readable form whose CSRF token belongs to this visitor, or the page error that says why
/// not.
fn checked_form<T>(
    state: &AppState,
    headers: &HeaderMap,
    form: Result<Form<T>, FormRejection>,
    token: impl Fn(&T) -> &str,
) -> Result<T, PageError> {
    let Ok(Form(f)) = form else {
        return Err(PageError::from(AppError::BadRequest("form".into())));
    };
    if !csrf::verify(state, headers, token(&f)) {
        return Err(PageError::from(AppError::Forbidden));
    }
    Ok(f)
}

/// The request a private route is about, with a live session of this browser for it: a
/// handler that takes it carries no session preamble. Without a session the browser is sent
/// to the request's page to ask for a code; an id that is not one is a page not found.
struct SubjectSession(Uuid);

impl FromRequestParts<AppState> for SubjectSession {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let pid = params
            .iter()
            .find(|(k, _)| *k == "pid")
            .and_then(|(_, v)| Uuid::parse_str(v).ok())
            .ok_or_else(|| PageError::from(AppError::NotFound).into_response())?;
        let live = match cookie(&parts.headers, COOKIE) {
            Some(t) => state
                .service
                .subject_session(pid, &t, Utc::now())
                .await
                .map_err(|e| PageError::from(e).into_response())?,
            None => false,
        };
        if live {
            Ok(SubjectSession(pid))
        } else {
            let lang = PageLang::of(&parts.uri, &parts.headers).0;
            Err(Redirect::to(&format!("/r/{pid}{}", lang_q(lang))).into_response())
        }
    }
}

/// A form's CSRF token must be this visitor's.
fn check_csrf(state: &AppState, headers: &HeaderMap, token: &str) -> Result<(), PageError> {
    if csrf::verify(state, headers, token) {
        Ok(())
    } else {
        Err(PageError::from(AppError::Forbidden))
    }
}

/// Sends a one-time code to the confirmed address.
async fn send_code(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    headers: HeaderMap,
    ClientOrigin(origin): ClientOrigin,
    Path(pid): Path<String>,
    form: Result<Form<CsrfOnly>, FormRejection>,
) -> Result<Response, PageError> {
    let pid = parse_pid(&pid)?;
    checked_form(&state, &headers, form, |f| &f.csrf)?;
    state
        .service
        .send_access_code(pid, &origin, Utc::now())
        .await?;
    Ok(Redirect::to(&format!("/r/{pid}/access{}", lang_q(lang))).into_response())
}

async fn access_page(
    state: &AppState,
    headers: &HeaderMap,
    lang: Lang,
    pid: Uuid,
    (error, code): (&str, &str),
    status: StatusCode,
) -> Result<Response, PageError> {
    let row = state.service.request_row(pid).await?;
    let (token, set) = csrf::issue(state, headers);
    let mut res = with_cookie(
        pages::render(&AccessPage {
            lang,
            business_name: state.brand().await,
            pid: pid.to_string(),
            number: row.number,
            csrf: token,
            error: error.to_owned(),
            code: code.to_owned(),
        }),
        set,
        lang,
    );
    *res.status_mut() = status;
    Ok(res)
}

/// The code entry page.
async fn show_access(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    headers: HeaderMap,
    Path(pid): Path<String>,
    axum::extract::Query(q): axum::extract::Query<CodeQuery>,
) -> Result<Response, PageError> {
    let pid = parse_pid(&pid)?;
    // The mail's link carries the code: the page opens with it typed in, and the person
    // still presses the button (a link scanner that fetches the page uses nothing up).
    let code: String = q
        .code
        .chars()
        .filter(char::is_ascii_digit)
        .take(6)
        .collect();
    access_page(&state, &headers, lang, pid, ("", &code), StatusCode::OK).await
}

/// The code a mail's link carries.
#[derive(Debug, Default, Deserialize)]
struct CodeQuery {
    #[serde(default)]
    code: String,
}

#[derive(Debug, Deserialize)]
struct CodeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
}

/// Checks the code and opens a session for this request only.
async fn verify_code(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    headers: HeaderMap,
    ClientOrigin(origin): ClientOrigin,
    Path(pid): Path<String>,
    form: Result<Form<CodeForm>, FormRejection>,
) -> Result<Response, PageError> {
    let pid = parse_pid(&pid)?;
    let f = checked_form(&state, &headers, form, |f| &f.csrf)?;
    match state
        .service
        .verify_access_code(pid, &f.code, &origin, Utc::now())
        .await
    {
        Ok(token) => {
            let mut res =
                Redirect::to(&format!("/r/{pid}/private{}", lang_q(lang))).into_response();
            let c = set_cookie(
                COOKIE,
                &token,
                madoguchi_service::SUBJECT_SESSION_MAX_SECS,
                state.secure_cookies(),
            )
            .replace("Path=/", &format!("Path=/r/{pid}"));
            if let Ok(v) = HeaderValue::from_str(&c) {
                res.headers_mut().append(header::SET_COOKIE, v);
            }
            Ok(res)
        }
        Err(ServiceError::Access(a)) => {
            let (msg, status) = match (a, lang.is_en()) {
                (AccessError::Wrong, false) => (
                    "確認コードが正しくありません。",
                    StatusCode::UNPROCESSABLE_ENTITY,
                ),
                (AccessError::Wrong, true) => {
                    ("The code is not correct.", StatusCode::UNPROCESSABLE_ENTITY)
                }
                (AccessError::Locked, false) => (
                    "誤ったコードが続いたため、このコードは無効になりました。新しいコードをお送りください。",
                    StatusCode::TOO_MANY_REQUESTS,
                ),
                (AccessError::Locked, true) => (
                    "Too many wrong codes: this code no longer works. Ask for a new one.",
                    StatusCode::TOO_MANY_REQUESTS,
                ),
                (_, false) => (
                    "確認コードの有効期限が切れました。新しいコードをお送りください。",
                    StatusCode::GONE,
                ),
                (_, true) => ("The code has expired. Ask for a new one.", StatusCode::GONE),
            };
            access_page(&state, &headers, lang, pid, (msg, ""), status).await
        }
        Err(e) => Err(PageError::from(e)),
    }
}

async fn private_page(
    state: &AppState,
    headers: &HeaderMap,
    lang: Lang,
    pid: Uuid,
    flash: &str,
    error: &str,
    status: StatusCode,
) -> Result<Response, PageError> {
    let row = state.service.request_row(pid).await?;
    let lifecycle = madoguchi_service::Service::lifecycle_of(&row)?;
    let (st, kind) = (lifecycle.state, lifecycle.kind);
    let agent = Requester::parse(&row.requester).is_some_and(Requester::is_agent);
    let docs = state.service.documents(row.id).await?;
    let documents = docs
        .iter()
        .filter(|d| !d.deleted)
        .map(|d| {
            let link = if d.purpose == DocumentPurpose::Package && st.is_fulfilment() {
                format!("/r/{pid}/files/{}", d.pid)
            } else {
                String::new()
            };
            (
                d.pid.to_string(),
                if lang.is_en() {
                    d.purpose.label_en()
                } else {
                    d.purpose.label_ja()
                }
                .to_owned(),
                d.filename.clone(),
                link,
            )
        })
        .collect::<Vec<_>>();
    let downloadable = documents.iter().filter(|d| !d.3.is_empty()).count();
    let zip_link = if downloadable > 1 {
        format!("/r/{pid}/answer.zip")
    } else {
        String::new()
    };
    let receipts = state
        .service
        .receipts(row.id)
        .await?
        .into_iter()
        .filter_map(|p| p.receipt_number)
        .map(|n| {
            let link = format!(
                "/r/{pid}/receipts/{n}{}",
                if lang.is_en() { "?lang=en" } else { "" }
            );
            (n, link)
        })
        .collect();
    let mut purposes = vec![DocumentPurpose::Identity];
    if agent {
        purposes.extend([DocumentPurpose::AgentIdentity, DocumentPurpose::Authority]);
    }
    purposes.push(DocumentPurpose::Other);
    let (token, set) = csrf::issue(state, headers);
    let mut res = with_cookie(
        pages::render(&PrivatePage {
            lang,
            business_name: state.brand().await,
            pid: pid.to_string(),
            number: row.number.clone(),
            csrf: token,
            state: if lang.is_en() {
                st.label_en()
            } else {
                st.label_ja()
            }
            .to_owned(),
            kind: if lang.is_en() {
                kind.label_en()
            } else {
                kind.label_ja()
            }
            .to_owned(),
            name: row.subject_name.clone(),
            details: row.details.clone(),
            message: row.subject_message.clone().unwrap_or_default(),
            can_upload: madoguchi_service::Service::accepts_uploads(st)
                && st != RState::AwaitingInfo,
            awaiting_identity: st == RState::AwaitingIdentity,
            awaiting_info: st == RState::AwaitingInfo,
            agent,
            open: !st.is_terminal(),
            purposes: purposes
                .into_iter()
                .map(|p| {
                    (
                        p.as_str().to_owned(),
                        if lang.is_en() {
                            p.label_en()
                        } else {
                            p.label_ja()
                        }
                        .to_owned(),
                    )
                })
                .collect(),
            documents,
            zip_link,
            answer: madoguchi_service::Service::answer_of(&row)
                .map(|a| a.lines(lang.is_en()))
                .unwrap_or_default(),
            max_mb: state.config.upload_max_bytes / (1024 * 1024),
            max_files: state.config.upload_max_files,
            flash: flash.to_owned(),
            error: error.to_owned(),
            receipts,
        }),
        set,
        lang,
    );
    *res.status_mut() = status;
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

/// The private page.
async fn show_private(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    headers: HeaderMap,
    SubjectSession(pid): SubjectSession,
) -> Result<Response, PageError> {
    private_page(&state, &headers, lang, pid, "", "", StatusCode::OK).await
}

fn file_error_message(e: FileError, lang: Lang, max_mb: usize, max_files: usize) -> String {
    match (e, lang.is_en()) {
        (FileError::Type, false) => {
            "PDF・JPEG・PNG形式のファイルのみ受け付けます（ファイル名ではなく中身で判定します）。"
                .into()
        }
        (FileError::Type, true) => {
            "Only PDF, JPEG and PNG files are accepted (judged by content, not by name).".into()
        }
        (FileError::TooLarge, false) => format!("1ファイル{max_mb}MiBまでです。"),
        (FileError::TooLarge, true) => format!("Each file may be at most {max_mb} MiB."),
        (FileError::TooMany, false) => format!("一度に{max_files}ファイルまでです。"),
        (FileError::TooMany, true) => format!("At most {max_files} files at a time."),
        (FileError::Empty, false) => "ファイルを選択してください。".into(),
        (FileError::Empty, true) => "Choose a file.".into(),
        (_, false) => "現在は書類を提出できません。".into(),
        (_, true) => "Documents cannot be sent at this stage.".into(),
    }
}

/// Uploads documents (multipart). Every file is checked by content before any is stored.
async fn upload_documents(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    headers: HeaderMap,
    ClientOrigin(origin): ClientOrigin,
    SubjectSession(pid): SubjectSession,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Response, PageError> {
    let (max_mb, max_files, max_bytes) = (
        state.config.upload_max_bytes / (1024 * 1024),
        state.config.upload_max_files,
        state.config.upload_max_bytes,
    );
    let mut multipart =
        multipart.map_err(|_| PageError::from(AppError::BadRequest("multipart".into())))?;
    let mut csrf_value = String::new();
    let mut purpose = DocumentPurpose::Identity;
    let mut files = Vec::new();
    let mut error = None;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                error = Some(FileError::TooLarge);
                break;
            }
            Err(_) => return Err(PageError::from(AppError::BadRequest("multipart".into()))),
        };
        match field.name().unwrap_or("") {
            "csrf" => csrf_value = field.text().await.unwrap_or_default(),
            "purpose" => {
                purpose = DocumentPurpose::parse(&field.text().await.unwrap_or_default())
                    .unwrap_or(DocumentPurpose::Other)
            }
            "files" => {
                let name = field.file_name().unwrap_or("").to_owned();
                let mut field = field;
                let mut bytes = Vec::new();
                while let Ok(Some(chunk)) = field.chunk().await {
                    bytes.extend_from_slice(&chunk);
                    if bytes.len() > max_bytes {
                        error = Some(FileError::TooLarge);
                        break;
                    }
                }
                if !(name.is_empty() && bytes.is_empty()) {
                    files.push((name, bytes));
                }
                if files.len() > max_files {
                    error = Some(FileError::TooMany);
                }
            }
            _ => {}
        }
        if error.is_some() {
            break;
        }
    }
    if error.is_none() && !csrf::verify(&state, &headers, &csrf_value) {
        return Err(PageError::from(AppError::Forbidden));
    }
    if purpose == DocumentPurpose::Package {
        return Err(PageError::from(AppError::Forbidden));
    }
    let result = match error {
        Some(e) => Err(ServiceError::File(e)),
        None => state
            .service
            .upload(pid, purpose, files, &Actor::Subject, &origin, Utc::now())
            .await
            .map(|_| ()),
    };
    match result {
        Ok(()) => {
            let flash = if lang.is_en() {
                "Received. Thank you."
            } else {
                "受け付けました。"
            };
            private_page(&state, &headers, lang, pid, flash, "", StatusCode::OK).await
        }
        Err(ServiceError::File(e)) => {
            let status = if e == FileError::TooLarge {
                StatusCode::PAYLOAD_TOO_LARGE
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            private_page(
                &state,
                &headers,
                lang,
                pid,
                "",
                &file_error_message(e, lang, max_mb, max_files),
                status,
            )
            .await
        }
        Err(e) => Err(PageError::from(e)),
    }
}

/// Tells the officer all evidence is in.
async fn submit_evidence(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    headers: HeaderMap,
    ClientOrigin(origin): ClientOrigin,
    SubjectSession(pid): SubjectSession,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, PageError> {
    check_csrf(&state, &headers, &f.csrf)?;
    state
        .service
        .submit_evidence(pid, &origin, Utc::now())
        .await?;
    Ok(Redirect::to(&format!("/r/{pid}/private{}", lang_q(lang))).into_response())
}

#[derive(Debug, Deserialize)]
struct InfoForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    answer: String,
}

/// Answers the officer's question.
async fn provide_info(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    headers: HeaderMap,
    ClientOrigin(origin): ClientOrigin,
    SubjectSession(pid): SubjectSession,
    Form(f): Form<InfoForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &headers, &f.csrf)?;
    state
        .service
        .provide_info(pid, &f.answer, &origin, Utc::now())
        .await?;
    Ok(Redirect::to(&format!("/r/{pid}/private{}", lang_q(lang))).into_response())
}

#[derive(Debug, Deserialize)]
struct WithdrawForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    confirm: String,
}

/// Withdraws the request (the box must be ticked: no accidental withdrawals).
async fn withdraw(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    headers: HeaderMap,
    ClientOrigin(origin): ClientOrigin,
    SubjectSession(pid): SubjectSession,
    Form(f): Form<WithdrawForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &headers, &f.csrf)?;
    if f.confirm != "on" {
        let msg = if lang.is_en() {
            "Tick the box to confirm the withdrawal."
        } else {
            "取下げを確認するチェックを入れてください。"
        };
        return private_page(
            &state,
            &headers,
            lang,
            pid,
            "",
            msg,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    state
        .service
        .act(
            pid,
            None,
            &Event::Withdraw,
            &Actor::Subject,
            &EventText::default(),
            &origin,
            Utc::now(),
        )
        .await?;
    Ok(Redirect::to(&format!("/r/{pid}{}", lang_q(lang))).into_response())
}

/// A printable receipt for one payment of this request.
async fn show_receipt(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    SubjectSession(pid): SubjectSession,
    Path((_, number)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let row = state.service.request_row(pid).await?;
    let paid = state
        .service
        .receipts(row.id)
        .await?
        .into_iter()
        .find(|p| p.receipt_number.as_deref() == Some(number.as_str()))
        .ok_or(PageError::from(AppError::NotFound))?;
    let kind = madoguchi_service::Service::lifecycle_of(&row)?.kind;
    let payer = madoguchi_service::Agent::addressee(&row);
    let mut res = pages::render(&ReceiptPage {
        lang,
        business_name: state.brand().await,
        business_contact: state.business().await.contact,
        receipt_number: number,
        payer,
        amount: madoguchi_domain::Yen(paid.amount).to_string(),
        method: PaymentMethod::parse(&paid.method)
            .map_or(paid.method.clone(), |m| m.label(lang.is_en()).to_owned()),
        date: madoguchi_domain::written_date(
            madoguchi_domain::jst_date(paid.created_at),
            lang.is_en(),
        ),
        number: row.number.clone(),
        kind: if lang.is_en() {
            kind.label_en()
        } else {
            kind.label_ja()
        }
        .to_owned(),
        back: format!(
            "/r/{pid}/private{}",
            if lang.is_en() { "?lang=en" } else { "" }
        ),
    });
    // A receipt names the payer: never cached or stored by a shared proxy.
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

/// Downloads one file of the answer.
async fn download(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    SubjectSession(pid): SubjectSession,
    Path((_, doc)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let doc = parse_pid(&doc)?;
    let (meta, bytes) = state
        .service
        .download_package(pid, doc, &origin, Utc::now())
        .await?;
    Ok(file_response(&meta, bytes, "attachment"))
}

/// Downloads every file of the answer as one ZIP (stored, not compressed: the files are PDF
/// and images). Each file counts as one download; all or none.
async fn download_zip(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    SubjectSession(pid): SubjectSession,
) -> Result<Response, PageError> {
    let files = state
        .service
        .download_whole_package(pid, &origin, Utc::now())
        .await?;
    let zip =
        zip_of(&files).map_err(|e| PageError::from(AppError::Internal(format!("zip: {e}"))))?;
    let mut res = zip.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"answer-{pid}.zip\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

/// The files under the names a single download gives them.
fn zip_of(files: &[(madoguchi_service::Document, Vec<u8>)]) -> zip::result::ZipResult<Vec<u8>> {
    use std::io::Write as _;
    let size: usize = files.iter().map(|(_, b)| b.len() + 128).sum();
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::with_capacity(size + 512)));
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (meta, bytes) in files {
        zip.start_file(download_name(meta), options)?;
        zip.write_all(bytes)?;
    }
    Ok(zip.finish()?.into_inner())
}

/// `document-<id>.<ext>`: never the uploaded name, which the subject's system did not choose.
fn download_name(meta: &madoguchi_service::Document) -> String {
    let ext = match meta.content_type.as_str() {
        "application/pdf" => "pdf",
        "image/png" => "png",
        "application/zip" => "zip",
        _ => "jpg",
    };
    format!("document-{}.{ext}", meta.pid)
}

/// A decrypted file as a response that cannot run in our origin.
pub fn file_response(
    meta: &madoguchi_service::Document,
    bytes: Vec<u8>,
    disposition: &str,
) -> Response {
    let mut res = bytes.into_response();
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&meta.content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{disposition}; filename=\"{}\"",
        download_name(meta)
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "sandbox; default-src 'none'; img-src 'self'; plugin-types application/pdf",
        ),
    );
    res
}
