//! Mail administration: failed messages with their errors and a retry, and a preview of
//! every template with sample data in both languages.

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::Utc;
use madoguchi_domain::Mail;
use madoguchi_service::staff::StaffIdentity;
use serde::Deserialize;

use super::pages::{Chrome, MailPage};
use crate::error::{AppError, PageError};
use crate::lang::PageLang;
use crate::pages::{escape, render};
use crate::state::AppState;

/// Failed messages and previews.
pub async fn show_mail(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(who): Extension<StaffIdentity>,
) -> Result<Response, PageError> {
    Ok(render(&MailPage {
        c: Chrome::new(&who, lang),
        failed: state.service.failed_mail().await?,
        unsent: state.service.unsent_mail().await?,
        templates: Mail::ALL.iter().map(|m| m.as_str().to_owned()).collect(),
    }))
}

/// Puts a failed message back in the queue.
pub async fn retry_mail(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let ok = state.service.retry_mail(id, Utc::now()).await?;
    if !ok {
        return Err(PageError::from(AppError::NotFound));
    }
    Ok(Redirect::to("/staff/admin/mail").into_response())
}

#[derive(Debug, Deserialize)]
pub struct PreviewQuery {
    #[serde(default)]
    mlang: String,
}

/// Renders one template with sample data: subject, text and the HTML part.
pub async fn preview_mail(
    Path(template): Path<String>,
    Query(q): Query<PreviewQuery>,
) -> Result<Response, PageError> {
    let mail = Mail::parse(&template).ok_or(PageError::from(AppError::NotFound))?;
    let mlang = if q.mlang == "en" { "en" } else { "ja" };
    let r = madoguchi_mail::render(mail, &madoguchi_mail::sample_for(mail, mlang))
        .map_err(|e| PageError::from(AppError::Internal(e.to_string())))?;
    Ok(Html(format!(
        "<!DOCTYPE html><html lang=\"{mlang}\"><head><meta charset=\"utf-8\"><title>{t}</title><link rel=\"stylesheet\" href=\"/static/app.css\"></head><body><main><h1>{t}</h1><h2>Text</h2><pre>{text}</pre><h2>HTML</h2><iframe title=\"HTML part\" sandbox srcdoc=\"{html}\" style=\"width:100%;height:30rem;border:1px solid #ccc\"></iframe></main></body></html>",
        t = escape(&r.subject),
        text = escape(&r.text),
        html = escape(&r.html),
    ))
    .into_response())
}
