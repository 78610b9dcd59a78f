//! The subject's pages: the intake form, the status page, e-mail confirmation, and the
//! published procedures. All work without JavaScript.

use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use chrono::Utc;
use madoguchi_domain::{RequestKind, State as RequestState};
use madoguchi_service::Channel;
use madoguchi_service::Lang;
use madoguchi_service::limits::Admission;
use serde::Deserialize;
use uuid::Uuid;

use crate::csrf;
use crate::error::{ApiError, AppError, PageError};
use crate::extract::ClientOrigin;
use crate::intake::IntakeInput;
use crate::lang::PageLang;
use crate::pages::{self, ConfirmPage, IntakePage, ProceduresPage, StatusPage};
use crate::state::AppState;

/// The subject-facing routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(show_intake_form))
        // A reload after a failed submit, or the language switch on its page, asks for the
        // form's address: it is the form.
        .route("/requests", get(back_to_form).post(submit_request))
        .route("/r/{pid}", get(show_status))
        .route(
            "/confirm/{token}",
            get(show_confirmation).post(confirm_email),
        )
        .route("/procedures", get(show_procedures))
        // The request form to print and post (保有個人データ開示等請求書).
        .route("/procedures/form", get(crate::staff::printable_form))
        .route("/procedures.json", get(procedures_json))
        .route(
            "/api/datamap.schema.json",
            get(crate::staff::datamap::datamap_schema),
        )
        .route("/static/app.css", get(stylesheet))
        .route("/static/brand.css", get(brand_stylesheet))
        .route("/brand/logo", get(brand_logo))
}

pub(crate) fn with_cookie(mut res: Response, set_cookie: Option<String>, lang: Lang) -> Response {
    if let Some(c) = set_cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    let lang_cookie = format!(
        "lang={}; Path=/; Max-Age=31536000; SameSite=Lax",
        lang.as_str()
    );
    if let Ok(v) = HeaderValue::from_str(&lang_cookie) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

/// What happens next and who acts, for the status page: a subject is never left wondering.
fn next_step(st: RequestState, documents: bool, lang: Lang) -> String {
    use RequestState as S;
    let (ja, en_text) = match st {
        S::Submitted => (
            "お送りしたメールのリンクから、メールアドレスを確認してください。確認後に手続きを開始します。",
            "Please open the link in the e-mail we sent to confirm your address; we start once it is confirmed.",
        ),
        S::IdentityReview if documents => (
            "次に、本人確認書類をご提出ください。下の「確認コードを送る」から開くページで書類をアップロードできます。ご提出いただいた書類は担当者が確認し、結果をメールでお知らせします。",
            "Next, please send your identity documents: the page you open with \"Send me a code\" below takes the upload. An officer checks them and tells you the result by e-mail.",
        ),
        S::IdentityReview => (
            "担当者がご本人であることを確認しています。結果はメールでお知らせします。",
            "An officer is confirming your identity; we tell you the result by e-mail.",
        ),
        S::AwaitingIdentity => (
            "追加の書類のご提出をお願いしています。下の「確認コードを送る」から開くページで、担当者からのご連絡をご確認のうえ、書類をアップロードしてください。",
            "We have asked you for more documents: open the page with \"Send me a code\" below to read our message and upload them.",
        ),
        S::AwaitingPayment => (
            "手数料のお支払いをお願いします。入金を確認しましたら、対応を開始します。",
            "Please pay the fee; we start work once it is received.",
        ),
        S::InProgress => (
            "担当者がご請求に対応しています。回答予定日までに、結果をメールでお知らせします。",
            "An officer is working on your request; we tell you the result by e-mail by the expected date.",
        ),
        S::AwaitingInfo => (
            "担当者からお尋ねしたいことがあります。下の「確認コードを送る」から開くページでご回答ください。",
            "We have a question for you: please answer it on the page you open with \"Send me a code\" below.",
        ),
        s if s.is_fulfilment() => (
            "回答をお送りしました。メールでお知らせした内容のほか、下の「確認コードを送る」から開くページで回答をご確認いただけます（ファイルがある場合はダウンロードできます）。",
            "We have answered: besides our e-mail, the page you open with \"Send me a code\" below shows the answer (and any file to download).",
        ),
        _ => (
            "このご請求への対応は終了しました。ご不明な点はお問い合わせ先までご連絡ください。",
            "This request is closed. If you have questions, please contact us.",
        ),
    };
    if lang.is_en() { en_text } else { ja }.to_owned()
}

/// `GET /requests`: the form, in the language asked for.
async fn back_to_form(PageLang(lang): PageLang) -> Response {
    let to = if lang.is_en() {
        "/?lang=en"
    } else {
        "/?lang=ja"
    };
    let mut res = StatusCode::SEE_OTHER.into_response();
    res.headers_mut()
        .insert(header::LOCATION, HeaderValue::from_static(to));
    res
}

/// Shows the intake form, with the fee schedule in force.
async fn show_intake_form(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    headers: HeaderMap,
    Query(step): Query<StepQuery>,
) -> Result<Response, PageError> {
    let fees = state.service.fee_schedule().await?;
    let (token, set) = csrf::issue(&state, &headers);
    // The first step picks the kind and who files; the second shows only what they need.
    let requester = madoguchi_domain::Requester::parse(&step.requester)
        .map_or("subject", |r| r.as_str())
        .to_owned();
    let kind = RequestKind::parse(&step.kind).map(|k| k.as_str().to_owned());
    let input = IntakeInput {
        kind: kind.clone().unwrap_or_default(),
        requester,
        ..IntakeInput::default()
    };
    let page = IntakePage::new(state.brand().await, &fees, lang, token, input, Vec::new());
    let page = if kind.is_none() || step.choose.is_some() {
        // Sent without a kind: say so on the first step.
        page.choosing(kind.is_none() && step.next.is_some())
    } else {
        page
    };
    Ok(with_cookie(pages::render(&page), set, lang))
}

/// The guided form's first step, sent by GET (it changes nothing).
#[derive(Debug, Default, serde::Deserialize)]
struct StepQuery {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    requester: String,
    /// Present when the first step was sent (its button).
    #[serde(default)]
    next: Option<String>,
    /// Back to the first step with the choices made (「種類・請求者を選び直す」).
    #[serde(default)]
    choose: Option<String>,
}

/// Files a request from the form; on errors re-renders it with the input kept.
async fn submit_request(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    headers: HeaderMap,
    ClientOrigin(origin): ClientOrigin,
    form: Result<Form<IntakeInput>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(mut input) = form.map_err(|r| {
        let e = if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::TooLarge
        } else {
            AppError::BadRequest("unreadable form".into())
        };
        PageError::with_lang(e, lang)
    })?;
    if input.lang.is_empty() {
        input.lang = lang.as_str().to_owned();
    }
    let form_lang = if input.lang == "en" {
        Lang::En
    } else {
        Lang::Ja
    };
    if !csrf::verify(&state, &headers, &input.csrf) {
        return Err(PageError::with_lang(AppError::Forbidden, form_lang));
    }
    let policy = state
        .service
        .settings()
        .await
        .map_err(|e| PageError::with_lang(e, form_lang))?
        .policy;
    match input.parse_now(Channel::Web, &policy) {
        Ok(new) => {
            let now = Utc::now();
            let admission = state
                .service
                .admit_intake(&origin, now)
                .await
                .map_err(|e| PageError::with_lang(e, form_lang))?;
            if let Admission::Refused { retry_after } = admission {
                tracing::info!("intake refused: the client address is over its hourly limit");
                return Ok(super::api::with_retry_after(
                    PageError::with_lang(AppError::TooManyRequests, form_lang).into_response(),
                    retry_after,
                ));
            }
            let filed = state
                .service
                .file_request(new, &origin, now)
                .await
                .map_err(|e| PageError::with_lang(e, form_lang))?;
            tracing::info!(request = %filed.pid, "request filed");
            let to = format!(
                "/r/{}?filed=1{}",
                filed.pid,
                if form_lang.is_en() { "&lang=en" } else { "" }
            );
            Ok(Redirect::to(&to).into_response())
        }
        Err(errors) => {
            let fees = state
                .service
                .fee_schedule()
                .await
                .map_err(|e| PageError::with_lang(e, form_lang))?;
            let (token, set) = csrf::issue(&state, &headers);
            let page = IntakePage::new(state.brand().await, &fees, form_lang, token, input, errors);
            let mut res = pages::render(&page);
            *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(with_cookie(res, set, lang))
        }
    }
}

#[derive(Debug, Deserialize)]
struct StatusQuery {
    #[serde(default)]
    paid: Option<String>,
    #[serde(default)]
    filed: Option<String>,
    #[serde(default)]
    confirmed: Option<String>,
}

/// Shows where a request stands. The random public id is the only key, and the page holds
/// no personal data, so a forwarded link reveals nothing about the subject.
async fn show_status(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    headers: HeaderMap,
    Path(pid): Path<String>,
    Query(q): Query<StatusQuery>,
) -> Result<Response, PageError> {
    let pid = Uuid::parse_str(&pid).map_err(|_| PageError::from(AppError::NotFound))?;
    let row = state.service.request_row(pid).await?;
    let kind = RequestKind::parse(&row.kind)
        .ok_or_else(|| PageError::from(AppError::Internal("kind".into())))?;
    let st = RequestState::parse(&row.state)
        .ok_or_else(|| PageError::from(AppError::Internal("state".into())))?;
    let (csrf_token, set) = csrf::issue(&state, &headers);
    let awaiting_payment = st == RequestState::AwaitingPayment;
    let answer = madoguchi_service::Service::answer_of(&row)
        .map(|a| a.lines_without_text(lang.is_en()))
        .unwrap_or_default();
    let settings = state.service.settings().await?;
    let payment = if awaiting_payment {
        settings
            .payment
            .offered()
            .into_iter()
            .map(|(ja, en_name, text)| {
                (
                    if lang.is_en() { en_name } else { ja }.to_owned(),
                    text.to_owned(),
                )
            })
            .collect()
    } else {
        Vec::new()
    };
    // Documents are asked for while none is on file, where they prove identity (the policy
    // it was filed under, or an agent's filing).
    let by_documents = madoguchi_service::Service::lifecycle_of(&row).is_ok_and(|r| {
        r.requester.is_agent()
            || r.policy.identity_for(r.kind) == madoguchi_domain::policy::IdentityMethod::Document
    });
    let documents_needed = by_documents
        && st == RequestState::IdentityReview
        && !state.service.documents(row.id).await?.iter().any(|d| {
            matches!(
                d.purpose,
                madoguchi_domain::DocumentPurpose::Identity
                    | madoguchi_domain::DocumentPurpose::AgentIdentity
            )
        });
    let next = next_step(st, documents_needed, lang);
    // The row of steps (none when the stored request does not read: the rest still shows).
    let progress = madoguchi_service::Service::lifecycle_of(&row)
        .map(|r| {
            madoguchi_domain::progress::progress(&r)
                .into_iter()
                .map(|(step, mark)| pages::ProgressStep {
                    label: step.label(lang.is_en()),
                    mark: match mark {
                        madoguchi_domain::progress::Mark::Done => "done",
                        madoguchi_domain::progress::Mark::Current => "current",
                        madoguchi_domain::progress::Mark::Ahead => "ahead",
                    },
                    words: mark.label(lang.is_en()),
                })
                .collect()
        })
        .unwrap_or_default();
    let page = StatusPage {
        progress,
        next,
        payment,
        contact: settings.business.contact.clone(),
        answer,
        pay_link: if awaiting_payment && state.service.card_enabled() {
            format!("/r/{}/pay", row.pid)
        } else {
            String::new()
        },
        paid: q.paid.is_some(),
        awaiting_payment,
        pid: row.pid.to_string(),
        csrf: csrf_token,
        // A request with no address is answered by post: no code can reach anyone.
        by_post: madoguchi_service::email_of(&row).is_none(),
        confirmed_address: madoguchi_service::email_of(&row).is_some()
            && (st != RequestState::Submitted && !st.is_terminal() || st.is_fulfilment()),
        lang,
        business_name: state.brand().await,
        filed: q.filed.is_some(),
        confirmed: q.confirmed.is_some(),
        number: row.number,
        kind: if lang.is_en() {
            kind.label_en()
        } else {
            kind.label_ja()
        }
        .to_owned(),
        state: if lang.is_en() {
            st.label_en()
        } else {
            st.label_ja()
        }
        .to_owned(),
        arrived_on: madoguchi_domain::written_date(
            madoguchi_domain::jst_date(row.arrived_at),
            lang.is_en(),
        ),
        due_on: madoguchi_domain::written_date(row.due_on, lang.is_en()),
        open: !st.is_terminal(),
        fee: if row.fee > 0 {
            madoguchi_domain::Yen(row.fee).to_string()
        } else {
            String::new()
        },
    };
    let mut res = with_cookie(pages::render(&page), set, lang);
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

/// Shows the confirmation button for a link from the e-mail.
async fn show_confirmation(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    let row = state.service.check_confirmation(&token, Utc::now()).await?;
    let (csrf_token, set) = csrf::issue(&state, &headers);
    let page = ConfirmPage {
        lang,
        business_name: state.brand().await,
        csrf: csrf_token,
        token,
        number: row.number,
    };
    Ok(with_cookie(pages::render(&page), set, lang))
}

#[derive(Debug, Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// Confirms the address: uses the token and moves the request on, in one transaction.
async fn confirm_email(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    headers: HeaderMap,
    ClientOrigin(origin): ClientOrigin,
    Path(token): Path<String>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(form) =
        form.map_err(|_| PageError::from(AppError::BadRequest("unreadable form".into())))?;
    if !csrf::verify(&state, &headers, &form.csrf) {
        return Err(PageError::from(AppError::Forbidden));
    }
    let row = state
        .service
        .confirm_email(&token, &origin, Utc::now())
        .await?;
    tracing::info!(request = %row.pid, "e-mail confirmed");
    let to = format!(
        "/r/{}?confirmed=1{}",
        row.pid,
        if lang.is_en() { "&lang=en" } else { "" }
    );
    Ok(Redirect::to(&to).into_response())
}

/// The Art. 32(1) publication.
async fn show_procedures(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
) -> Result<Response, PageError> {
    let settings = state.service.settings().await?;
    let (fees, c) = (&settings.fees, &settings.business);
    let deadline = match (settings.policy.deadline.period, lang.is_en()) {
        (madoguchi_domain::Period::Days(n), false) => format!("{n}日"),
        (madoguchi_domain::Period::Days(n), true) => format!("{n} days"),
        (madoguchi_domain::Period::BusinessDays(n), false) => format!("{n}営業日"),
        (madoguchi_domain::Period::BusinessDays(n), true) => format!("{n} business days"),
        (madoguchi_domain::Period::Months(n), false) => format!("{n}か月"),
        (madoguchi_domain::Period::Months(n), true) => format!("{n} month(s)"),
    };
    Ok(pages::render(&ProceduresPage {
        lang,
        business_name: pages::Brand::of(&settings),
        business_address: c.address.clone(),
        business_representative: c.representative.clone(),
        business_contact: c.contact.clone(),
        fees: pages::fee_rows(fees),
        deadline,
        notice: state
            .service
            .datamap()
            .await?
            .map(|m| m.map.notice(&m.hash)),
    }))
}

/// The Art. 32(1) publication, machine-readable: the business, the fees and the data map's
/// notice (`null` without a map).
async fn procedures_json(State(state): State<AppState>) -> Result<Response, ApiError> {
    let settings = state.service.settings().await?;
    let c = &settings.business;
    let fees: Vec<serde_json::Value> = madoguchi_domain::RequestKind::ALL
        .into_iter()
        .map(|k| {
            serde_json::json!({
                "kind": k.as_str(),
                "label_ja": k.label_ja(),
                "label_en": k.label_en(),
                "yen": settings.fees.fee(k).0,
            })
        })
        .collect();
    let notice = state
        .service
        .datamap()
        .await?
        .map(|m| m.map.notice(&m.hash));
    Ok(axum::Json(serde_json::json!({
        "business": {
            "name": c.name,
            "address": c.address,
            "representative": c.representative,
            "contact": c.contact,
        },
        "fees": fees,
        "notice": notice,
    }))
    .into_response())
}

/// The business's colour over the product's: one custom property, from a value the settings
/// checked as `#rrggbb` and readable on white. Kept briefly, so a change shows within minutes.
async fn brand_stylesheet(State(state): State<AppState>) -> Response {
    let colour = match state.service.settings().await {
        Ok(s) => s.branding.accent().to_owned(),
        Err(_) => madoguchi_service::settings::DEFAULT_ACCENT.to_owned(),
    };
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        format!(":root {{ --accent: {colour}; }}\n"),
    )
        .into_response()
}

/// The business's logo as uploaded (PNG or JPEG, judged by its bytes when it was saved).
async fn brand_logo(State(state): State<AppState>) -> Result<Response, PageError> {
    use base64::Engine;
    let settings = state.service.settings().await?;
    let Some(logo) = settings.logo.as_ref() else {
        return Err(PageError::from(AppError::NotFound));
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&logo.data)
        .map_err(|_| PageError::from(AppError::NotFound))?;
    let mut res = bytes.into_response();
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&logo.content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    Ok(res)
}

/// The one stylesheet, compiled into the binary.
async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../static/app.css"),
    )
}
