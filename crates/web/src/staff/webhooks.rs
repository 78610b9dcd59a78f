//! The administrator's webhooks page: the endpoints and the events each wants (a new one's
//! signing secret shown once), the latest deliveries with their failures, and a replay for
//! one that failed.

use askama::Template;
use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use madoguchi_domain::written_time;
use madoguchi_service::Lang;
use madoguchi_service::ServiceError;
use madoguchi_service::staff::StaffIdentity;
use madoguchi_service::webhooks::EVENTS;
use uuid::Uuid;

use super::form::Fields;
use super::pages::Chrome;
use crate::error::{AppError, PageError};
use crate::extract::ClientOrigin;
use crate::lang::PageLang;
use crate::pages::render;
use crate::state::AppState;

#[derive(Debug, Template)]
#[template(path = "staff/webhooks.html")]
pub struct WebhooksPage {
    pub c: Chrome,
    /// (public id, URL, events in words, active)
    pub endpoints: Vec<(String, String, String, bool)>,
    /// (public id, event in words, status in words, attempts, when, last error, failed)
    pub deliveries: Vec<(String, String, String, i32, String, String, bool)>,
    /// (value, label) of each event.
    pub events: Vec<(&'static str, &'static str)>,
    /// A new endpoint's secret, shown once.
    pub secret: Option<String>,
    pub error: String,
    pub url: String,
}

impl WebhooksPage {
    /// Japanese or English, by the page's language.
    pub fn t<'a>(&self, ja: &'a str, en: &'a str) -> &'a str {
        if self.c.lang.is_en() { en } else { ja }
    }
}

fn event_words(name: &str, lang: Lang) -> String {
    EVENTS.iter().find(|(n, _, _)| *n == name).map_or_else(
        || name.to_owned(),
        |(_, ja, en_w)| if lang.is_en() { en_w } else { ja }.to_string(),
    )
}

async fn page(
    state: &AppState,
    who: &StaffIdentity,
    lang: Lang,
    secret: Option<String>,
    error: String,
    url: String,
) -> Result<Response, PageError> {
    let err = |e: ServiceError| PageError::from(e);
    let endpoints = state.service.webhook_endpoints().await.map_err(err)?;
    let deliveries = state.service.webhook_deliveries().await.map_err(err)?;
    let status_words = |s: &str| {
        let (ja, en_w) = match s {
            "pending" => ("送信待ち", "Waiting"),
            "sending" => ("送信中", "Sending"),
            "delivered" => ("配信済み", "Delivered"),
            _ => ("失敗", "Failed"),
        };
        if lang.is_en() { en_w } else { ja }.to_owned()
    };
    let mut res = render(&WebhooksPage {
        c: Chrome::new(who, lang),
        endpoints: endpoints
            .into_iter()
            .map(|e| {
                let words: Vec<String> =
                    e.events.split(',').map(|n| event_words(n, lang)).collect();
                (
                    e.pid.to_string(),
                    e.url,
                    words.join(if lang.is_en() { ", " } else { "、" }),
                    e.active,
                )
            })
            .collect(),
        deliveries: deliveries
            .into_iter()
            .map(|d| {
                (
                    d.pid.to_string(),
                    event_words(&d.event, lang),
                    status_words(&d.status),
                    d.attempts,
                    written_time(d.delivered_at.unwrap_or(d.created_at), lang.is_en()),
                    d.last_error.unwrap_or_default(),
                    d.status == "failed",
                )
            })
            .collect(),
        events: EVENTS
            .iter()
            .map(|(n, ja, en_w)| (*n, if lang.is_en() { *en_w } else { *ja }))
            .collect(),
        secret,
        url,
        error: error.clone(),
    });
    if !error.is_empty() {
        *res.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(res)
}

/// The page.
pub async fn show(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(who): Extension<StaffIdentity>,
) -> Result<Response, PageError> {
    page(&state, &who, lang, None, String::new(), String::new()).await
}

/// Registers an endpoint.
pub async fn add(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    body: Bytes,
) -> Result<Response, PageError> {
    let f = Fields::parse(&body)?;
    let url = f.get("url").to_owned();
    let events: Vec<&str> = EVENTS
        .iter()
        .map(|(n, _, _)| *n)
        .filter(|n| f.checked(&format!("event_{n}")))
        .collect();
    match state
        .service
        .add_webhook(&url, &events, &who, &origin, Utc::now())
        .await
    {
        Ok((_, secret)) => {
            // The secret is on this page only: not kept by a cache or the browser's history.
            let mut res = page(
                &state,
                &who,
                lang,
                Some(secret),
                String::new(),
                String::new(),
            )
            .await?;
            res.headers_mut().insert(
                axum::http::header::CACHE_CONTROL,
                axum::http::HeaderValue::from_static("no-store"),
            );
            Ok(res)
        }
        Err(ServiceError::Invalid(field)) => {
            let (ja, en_w) = if field == "webhook_url" {
                (
                    "URL: https:// で始まるアドレスを入力してください（http はこのサーバー上のみ。ユーザー名・パスワード・# は含めないでください）。",
                    "URL: an https:// address (plain http only on this machine; no user name, password or #).",
                )
            } else if field == "webhook_duplicate" {
                (
                    "この URL は既に登録されています。",
                    "This URL is already registered.",
                )
            } else {
                (
                    "送る事象を1つ以上選んでください。",
                    "Choose at least one event.",
                )
            };
            page(
                &state,
                &who,
                lang,
                None,
                if lang.is_en() { en_w } else { ja }.to_owned(),
                url,
            )
            .await
        }
        Err(e) => Err(PageError::from(e)),
    }
}

fn pid(s: &str) -> Result<Uuid, PageError> {
    Uuid::parse_str(s).map_err(|_| PageError::from(AppError::NotFound))
}

/// Stops an endpoint.
pub async fn disable(
    State(state): State<AppState>,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    state
        .service
        .disable_webhook(pid(&id)?, &who, &origin, Utc::now())
        .await?;
    Ok(Redirect::to("/staff/admin/webhooks").into_response())
}

/// Sends a failed delivery again.
pub async fn replay(
    State(state): State<AppState>,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    match state
        .service
        .replay_webhook(pid(&id)?, &who, &origin, Utc::now())
        .await
    {
        // A double click: already on its way again.
        Ok(()) | Err(ServiceError::Repeated(_)) => {
            Ok(Redirect::to("/staff/admin/webhooks").into_response())
        }
        Err(e) => Err(PageError::from(e)),
    }
}
