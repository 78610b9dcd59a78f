//! The staff member's own account: password, TOTP enrolment and API tokens.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::{Extension, Form};
use chrono::Utc;
use madoguchi_domain::Role;
use madoguchi_service::Lang;
use madoguchi_service::ServiceError;
use madoguchi_service::staff::StaffIdentity;
use serde::Deserialize;

use super::guard::SESSION_COOKIE;
use super::pages::{AccountPage, Chrome, PasswordPage};
use crate::cookies::cookie;
use crate::error::{AppError, FieldError, PageError};
use crate::extract::ClientOrigin;
use crate::lang::PageLang;
use crate::pages::render;
use crate::state::AppState;

async fn page(
    state: &AppState,
    who: &StaffIdentity,
    lang: Lang,
    totp_secret: Option<String>,
    recovery: Vec<String>,
    new_token: Option<String>,
) -> Result<Response, PageError> {
    let user = state.service.staff_user(who.pid).await?;
    let tokens = state.service.api_tokens(who).await?;
    Ok(render(&AccountPage {
        c: Chrome::new(who, lang),
        totp_required: state.config.require_totp && !user.totp_enabled && !who.sso,
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
    PageLang(lang): PageLang,
    Extension(who): Extension<StaffIdentity>,
) -> Result<Response, PageError> {
    page(&state, &who, lang, None, Vec::new(), None).await
}

#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    password: String,
}

/// Starts TOTP enrolment (the account's password is asked for again).
pub async fn begin_totp(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    Form(f): Form<PasswordForm>,
) -> Result<Response, PageError> {
    let secret = state
        .service
        .totp_begin(&who, &f.password, &origin, Utc::now())
        .await?;
    page(&state, &who, lang, Some(secret), Vec::new(), None).await
}

#[derive(Debug, Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
}

/// Confirms TOTP enrolment and shows the recovery codes once.
pub async fn confirm_totp(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    Form(f): Form<CodeForm>,
) -> Result<Response, PageError> {
    let codes = state
        .service
        .totp_confirm(&who, &f.code, &origin, Utc::now())
        .await?;
    page(&state, &who, lang, None, codes, None).await
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
    PageLang(lang): PageLang,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    Form(f): Form<TokenForm>,
) -> Result<Response, PageError> {
    let role =
        Role::parse(&f.role).ok_or_else(|| PageError::from(AppError::BadRequest("role".into())))?;
    let token = state
        .service
        .create_api_token(&who, role, &f.label, &origin, Utc::now())
        .await?;
    page(&state, &who, lang, None, Vec::new(), Some(token)).await
}

/// Revokes one of the caller's tokens.
pub async fn revoke_token(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    state
        .service
        .revoke_api_token(&who, id, &origin, Utc::now())
        .await?;
    page(&state, &who, lang, None, Vec::new(), None).await
}

#[derive(Debug, Deserialize)]
pub struct NewPasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    confirm_password: String,
}

fn password_page(who: &StaffIdentity, lang: Lang, errors: Vec<FieldError>, done: bool) -> Response {
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let mut res = render(&PasswordPage {
        c: Chrome::new(who, lang),
        forced: who.must_change_password,
        done,
        errors,
    });
    *res.status_mut() = status;
    res
}

/// The password form (the only page open to someone still on a handed-over password).
pub async fn show_password(
    PageLang(lang): PageLang,
    Extension(who): Extension<StaffIdentity>,
) -> Response {
    password_page(&who, lang, Vec::new(), false)
}

/// Replaces the password; every error names its field in the page's language.
pub async fn change_password(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    headers: HeaderMap,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    Form(f): Form<NewPasswordForm>,
) -> Result<Response, PageError> {
    let error = |field: &str, ja: &str, en_text: &str| FieldError {
        field: field.to_owned(),
        code: "invalid".to_owned(),
        message: if lang.is_en() { en_text } else { ja }.to_owned(),
    };
    if f.new_password != f.confirm_password {
        return Ok(password_page(
            &who,
            lang,
            vec![error(
                "confirm_password",
                "確認用の新しいパスワードが一致しません。",
                "The new password and its repetition differ.",
            )],
            false,
        ));
    }
    let token = cookie(&headers, SESSION_COOKIE).unwrap_or_default();
    match state
        .service
        .change_password(
            &who,
            &token,
            &f.current_password,
            &f.new_password,
            &origin,
            Utc::now(),
        )
        .await
    {
        Ok(()) => {
            tracing::info!(staff = %who.pid, "password changed");
            let who = StaffIdentity {
                must_change_password: false,
                ..who
            };
            Ok(password_page(&who, lang, Vec::new(), true))
        }
        Err(ServiceError::Invalid("current_password")) => Ok(password_page(
            &who,
            lang,
            vec![error(
                "current_password",
                "現在のパスワードが正しくありません。",
                "The current password is not correct.",
            )],
            false,
        )),
        Err(ServiceError::Invalid("new_password")) => Ok(password_page(
            &who,
            lang,
            vec![error(
                "new_password",
                "新しいパスワードは12文字以上で、現在のパスワードやメールアドレスとは異なるものにしてください。",
                "Use 12 characters or more, other than the current password and your address.",
            )],
            false,
        )),
        Err(e) => Err(PageError::from(e)),
    }
}
