//! A system owner's task, behind the link their e-mail carries (no staff account): whom to
//! look for and which data, and a form to answer with a CSV per dataset or "nothing held".

use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use chrono::Utc;
use madoguchi_service::Lang;
use madoguchi_service::owner::TaskError;

use super::public::with_cookie;
use crate::csrf;
use crate::error::{AppError, PageError};
use crate::lang::PageLang;
use crate::pages::{self, OwnerTaskPage};
use crate::state::AppState;

/// The owner's routes.
pub fn router(upload_limit: usize) -> Router<AppState> {
    Router::new().route(
        "/owner/{token}",
        get(show_task)
            .post(answer_task)
            .layer(DefaultBodyLimit::max(upload_limit)),
    )
}

async fn show_task(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    task_page(
        &state,
        lang,
        &headers,
        token,
        Vec::new(),
        None,
        StatusCode::OK,
    )
    .await
}

async fn task_page(
    state: &AppState,
    lang: Lang,
    headers: &HeaderMap,
    token: String,
    errors: Vec<TaskError>,
    done: Option<(u32, Option<bool>)>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let (csrf_token, set) = csrf::issue(state, headers);
    let page = match done {
        Some((rows, work)) => OwnerTaskPage::answered(lang, state.brand().await, rows, work),
        None => {
            let task = state.service.owner_task(&token, lang.is_en()).await?;
            OwnerTaskPage::open(lang, task, csrf_token, token, errors)
        }
    };
    let mut res = with_cookie(pages::render(&page), set, lang);
    *res.status_mut() = status;
    // The page names a person: never cached, never indexed.
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res.headers_mut()
        .insert("x-robots-tag", HeaderValue::from_static("noindex"));
    Ok(res)
}

/// The owner's answer: every dataset's CSV (none for a dataset where nothing was found),
/// and the box that says they searched all of them.
async fn answer_task(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    headers: HeaderMap,
    Path(token): Path<String>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Response, PageError> {
    let mut multipart =
        multipart.map_err(|_| PageError::from(AppError::BadRequest("multipart".into())))?;
    let mut csrf_value = String::new();
    let mut searched = false;
    let mut outcome = None;
    let mut reason = String::new();
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(PageError::from(AppError::TooLarge));
            }
            Err(_) => return Err(PageError::from(AppError::BadRequest("multipart".into()))),
        };
        let name = field.name().unwrap_or("").to_owned();
        match name.as_str() {
            "csrf" => csrf_value = field.text().await.unwrap_or_default(),
            "searched" => searched = field.text().await.unwrap_or_default() == "yes",
            "outcome" => outcome = Some(field.text().await.unwrap_or_default()),
            "reason" => reason = field.text().await.unwrap_or_default(),
            _ => {
                if let Some(dataset) = name.strip_prefix("csv_") {
                    let bytes = field
                        .bytes()
                        .await
                        .map_err(|_| PageError::from(AppError::TooLarge))?;
                    if !bytes.is_empty() {
                        files.push((dataset.to_owned(), bytes.to_vec()));
                    }
                }
            }
        }
    }
    if !csrf::verify(&state, &headers, &csrf_value) {
        return Err(PageError::from(AppError::Forbidden));
    }
    if let Some(outcome) = outcome {
        return report_work(&state, lang, &headers, token, &outcome, &reason).await;
    }
    if !searched {
        let error = TaskError {
            dataset: String::new(),
            line: None,
            message: if lang.is_en() {
                "Tick the box to say you searched every dataset listed.".into()
            } else {
                "一覧のすべてのデータを確認したことをチェックしてください。".into()
            },
        };
        return task_page(
            &state,
            lang,
            &headers,
            token,
            vec![error],
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    match state
        .service
        .answer_owner_task(&token, files, lang.is_en(), Utc::now())
        .await?
    {
        Ok(rows) => {
            task_page(
                &state,
                lang,
                &headers,
                token,
                Vec::new(),
                Some((rows, None)),
                StatusCode::OK,
            )
            .await
        }
        Err(errors) => {
            task_page(
                &state,
                lang,
                &headers,
                token,
                errors,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

/// The report on work asked by link: done, or why it cannot be (the reason required).
async fn report_work(
    state: &AppState,
    lang: Lang,
    headers: &HeaderMap,
    token: String,
    outcome: &str,
    reason: &str,
) -> Result<Response, PageError> {
    let done = match outcome {
        "done" => true,
        "cannot" => false,
        _ => return Err(PageError::from(AppError::BadRequest("outcome".into()))),
    };
    let bad_reason = !done
        && (reason.trim().is_empty()
            || reason.chars().count() > 2000
            || reason
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t'));
    if bad_reason {
        let error = TaskError {
            dataset: String::new(),
            line: None,
            message: if lang.is_en() {
                "Say why it cannot be done (at most 2,000 characters).".into()
            } else {
                "実施できない理由を2,000文字以内で記入してください。".into()
            },
        };
        return task_page(
            state,
            lang,
            headers,
            token,
            vec![error],
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    state
        .service
        .answer_work(&token, done, reason, Utc::now())
        .await?;
    task_page(
        state,
        lang,
        headers,
        token,
        Vec::new(),
        Some((0, Some(done))),
        StatusCode::OK,
    )
    .await
}
