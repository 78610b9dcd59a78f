//! The complaints desk's public form (苦情・相談, Art. 40): Japanese first, no script, the
//! intake's protections (CSRF, an hourly limit per client, the body limit, no personal data
//! in logs). A refused field is named in words and nothing typed is lost; once received, a
//! page says the number, that a mail went, and when to expect a reply.

use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::handler::Handler;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use chrono::Utc;
use madoguchi_domain::complaint::{ComplaintKind, MAX_MESSAGE_CHARS};
use madoguchi_service::Lang;
use madoguchi_service::complaints::{ComplaintFiling, Refusal, check_filing};
use madoguchi_service::limits::Admission;
use serde::Deserialize;
use uuid::Uuid;

use crate::csrf;
use crate::error::{AppError, FieldError, PageError};
use crate::extract::ClientOrigin;
use crate::lang::PageLang;
use crate::pages::{self, Brand};
use crate::state::AppState;

/// The desk's routes; the form takes a message of 4,000 characters whatever the body limit.
pub fn router(body_limit: usize) -> axum::Router<AppState> {
    let limit = crate::staff::form_limit("/complaints", body_limit);
    Router::new()
        .route(
            "/complaints",
            get(show_form).post(submit.layer(axum::extract::DefaultBodyLimit::max(limit))),
        )
        .route("/complaints/{pid}/received", get(show_received))
}

/// What the form posts.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct ComplaintInput {
    pub csrf: String,
    pub lang: String,
    pub kind: String,
    pub name: String,
    pub email: String,
    pub phone: String,
    pub body: String,
}

/// The form, empty or as typed with what was refused.
#[derive(Debug, askama::Template)]
#[template(path = "pages/complaint.html")]
pub struct ComplaintPage {
    pub lang: Lang,
    pub business_name: Brand,
    pub csrf: String,
    pub form: ComplaintInput,
    pub errors: Vec<FieldError>,
    /// (value, label) of each kind.
    pub kinds: Vec<(&'static str, &'static str)>,
    pub max_chars: usize,
}

impl ComplaintPage {
    /// The error of a field, in words.
    pub fn err(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }
}

/// Received: the number, the mail, the day a reply is aimed at.
#[derive(Debug, askama::Template)]
#[template(path = "pages/complaint_received.html")]
pub struct ReceivedPage {
    pub lang: Lang,
    pub business_name: Brand,
    pub number: String,
    pub reply_by: String,
}

fn words(r: &Refusal, lang: Lang) -> String {
    let (ja, en_words) = match (r.field, r.code) {
        ("kind", _) => (
            "ご連絡の種別を選択してください。",
            "Choose what your message is.",
        ),
        ("name", "required") => ("お名前を入力してください。", "Enter your name."),
        ("name", _) => (
            "お名前は1行、100文字以内で入力してください。",
            "Your name: one line, at most 100 characters.",
        ),
        ("email", "required") => (
            "ご回答をお送りするメールアドレスを入力してください。",
            "Enter the e-mail address we should reply to.",
        ),
        ("email", _) => (
            "メールアドレスを name@example.jp の形で入力してください。",
            "Enter an e-mail address like name@example.com.",
        ),
        ("phone", _) => (
            "電話番号は数字とハイフンで入力してください（例: 03-1234-5678）。",
            "Phone: digits and hyphens, like 03-1234-5678.",
        ),
        ("body", "required") => ("ご連絡の内容を入力してください。", "Write your message."),
        ("body", "too_long") => (
            "ご連絡の内容は4,000文字以内で入力してください。",
            "Your message: at most 4,000 characters.",
        ),
        ("body", _) => (
            "ご連絡の内容に使えない文字が含まれています。",
            "Your message holds a character we cannot take.",
        ),
        _ => (
            "入力内容をご確認ください。",
            "Please check what you entered.",
        ),
    };
    if lang.is_en() { en_words } else { ja }.to_owned()
}

fn page(
    state_brand: Brand,
    lang: Lang,
    csrf: String,
    form: ComplaintInput,
    errors: Vec<FieldError>,
) -> ComplaintPage {
    ComplaintPage {
        lang,
        business_name: state_brand,
        csrf,
        form,
        errors,
        kinds: ComplaintKind::ALL
            .into_iter()
            .map(|k| (k.as_str(), k.label(lang.is_en())))
            .collect(),
        max_chars: MAX_MESSAGE_CHARS,
    }
}

async fn show_form(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    headers: HeaderMap,
) -> Response {
    let (token, set) = csrf::issue(&state, &headers);
    let p = page(
        state.brand().await,
        lang,
        token,
        ComplaintInput::default(),
        Vec::new(),
    );
    super::public::with_cookie(pages::render(&p), set, lang)
}

async fn submit(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    headers: HeaderMap,
    ClientOrigin(origin): ClientOrigin,
    form: Result<Form<ComplaintInput>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(input) = form.map_err(|r| {
        let e = if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::TooLarge
        } else {
            AppError::BadRequest("unreadable form".into())
        };
        PageError::with_lang(e, lang)
    })?;
    let form_lang = if input.lang.is_empty() {
        lang
    } else if input.lang == "en" {
        Lang::En
    } else {
        Lang::Ja
    };
    if !csrf::verify(&state, &headers, &input.csrf) {
        return Err(PageError::with_lang(AppError::Forbidden, form_lang));
    }
    let filing = ComplaintFiling {
        kind: input.kind.clone(),
        name: input.name.clone(),
        email: input.email.clone(),
        phone: input.phone.clone(),
        body: input.body.clone(),
        lang: form_lang.as_str().to_owned(),
    };
    let filing = match check_filing(&filing) {
        Ok(f) => f,
        Err(refused) => {
            let errors = refused
                .iter()
                .map(|r| FieldError {
                    field: r.field.to_owned(),
                    code: r.code.to_owned(),
                    message: words(r, form_lang),
                })
                .collect();
            let (token, set) = csrf::issue(&state, &headers);
            let mut res =
                pages::render(&page(state.brand().await, form_lang, token, input, errors));
            *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            return Ok(super::public::with_cookie(res, set, lang));
        }
    };
    let now = Utc::now();
    let admission = state
        .service
        .admit_complaint(&origin, now)
        .await
        .map_err(|e| PageError::with_lang(e, form_lang))?;
    if let Admission::Refused { retry_after } = admission {
        tracing::info!("complaint refused: the client address is over its hourly limit");
        return Ok(super::api::with_retry_after(
            PageError::with_lang(AppError::TooManyRequests, form_lang).into_response(),
            retry_after,
        ));
    }
    let pid = state
        .service
        .receive_complaint(filing, &origin, now)
        .await
        .map_err(|e| PageError::with_lang(e, form_lang))?;
    tracing::info!(complaint = %pid, "complaint received");
    let to = format!(
        "/complaints/{pid}/received{}",
        if form_lang.is_en() { "?lang=en" } else { "" }
    );
    Ok(Redirect::to(&to).into_response())
}

async fn show_received(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Path(pid): Path<String>,
) -> Result<Response, PageError> {
    let pid = Uuid::parse_str(&pid).map_err(|_| PageError::from(AppError::NotFound))?;
    let (number, reply_by, _) = state.service.complaint_receipt(pid).await?;
    Ok(pages::render(&ReceivedPage {
        lang,
        business_name: state.brand().await,
        number,
        reply_by: madoguchi_domain::written_date(reply_by, lang.is_en()),
    }))
}
