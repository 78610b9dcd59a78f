//! The staff member's own account: TOTP enrolment and API tokens.

use axum::extract::{Path, State};
use axum::response::Response;
use axum::{Extension, Form};
use chrono::Utc;
use madoguchi_domain::Role;
use madoguchi_service::staff::StaffIdentity;
use serde::Deserialize;

use super::pages::{AccountPage, Chrome};
use crate::error::{AppError, PageError};
use crate::extract::ClientOrigin;
use crate::lang::PageLang;
use crate::pages::render;
use crate::state::AppState;

async fn page(
    state: &AppState,
    who: &StaffIdentity,
    en: bool,
    totp_secret: Option<String>,
    recovery: Vec<String>,
    new_token: Option<String>,
) -> Result<Response, PageError> {
    let user = state
        .service
        .staff_user(who.pid)
        .await
        .map_err(|e| PageError(e.into(), en))?;
    let tokens = state
        .service
        .api_tokens(who)
        .await
        .map_err(|e| PageError(e.into(), en))?;
    Ok(render(&AccountPage {
        c: Chrome::new(who, en),
        totp_enabled: user.totp_enabled,
        totp_secret,
        recovery,
        tokens,
        new_token,
    }))
}

/// Shows the account page.
pub async fn show_account(
    State(state): State<AppState>,
    lang: PageLang,
    Extension(who): Extension<StaffIdentity>,
) -> Result<Response, PageError> {
    page(&state, &who, lang.en(), None, Vec::new(), None).await
}

#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    password: String,
}

/// Starts TOTP enrolment (the account's password is asked for again).
pub async fn begin_totp(
    State(state): State<AppState>,
    lang: PageLang,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    Form(f): Form<PasswordForm>,
) -> Result<Response, PageError> {
    let secret = state
        .service
        .totp_begin(&who, &f.password, &origin, Utc::now())
        .await
        .map_err(|e| PageError(e.into(), lang.en()))?;
    page(&state, &who, lang.en(), Some(secret), Vec::new(), None).await
}

#[derive(Debug, Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
}

/// Confirms TOTP enrolment and shows the recovery codes once.
pub async fn confirm_totp(
    State(state): State<AppState>,
    lang: PageLang,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    Form(f): Form<CodeForm>,
) -> Result<Response, PageError> {
    let codes = state
        .service
        .totp_confirm(&who, &f.code, &origin, Utc::now())
        .await
        .map_err(|e| PageError(e.into(), lang.en()))?;
    page(&state, &who, lang.en(), None, codes, None).await
}

#[derive(Debug, Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    label: String,
    #[serde(default)]
    role: String,
}

/// Issues an API token, shown once.
pub async fn create_token(
    State(state): State<AppState>,
    lang: PageLang,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    Form(f): Form<TokenForm>,
) -> Result<Response, PageError> {
    let en = lang.en();
    let role =
        Role::parse(&f.role).ok_or_else(|| PageError(AppError::BadRequest("role".into()), en))?;
    let token = state
        .service
        .create_api_token(&who, role, &f.label, &origin, Utc::now())
        .await
        .map_err(|e| PageError(e.into(), en))?;
    page(&state, &who, en, None, Vec::new(), Some(token)).await
}

/// Revokes one of the caller's tokens.
pub async fn revoke_token(
    State(state): State<AppState>,
    lang: PageLang,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    state
        .service
        .revoke_api_token(&who, id, &origin, Utc::now())
        .await
        .map_err(|e| PageError(e.into(), lang.en()))?;
    page(&state, &who, lang.en(), None, Vec::new(), None).await
}
