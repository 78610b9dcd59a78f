//! Staff login (password, then TOTP when enrolled) and logout.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use madoguchi_service::staff::{ABSOLUTE_TIMEOUT, LoginOutcome};
use serde::Deserialize;

use super::guard::SESSION_COOKIE;
use super::pages::{Chrome, LoginPage};
use crate::cookies::{cookie, set_cookie};
use crate::csrf;
use crate::error::PageError;
use crate::extract::ClientOrigin;
use crate::lang::PageLang;
use crate::pages::render;
use crate::state::AppState;

const PENDING_COOKIE: &str = "madoguchi_staff_mfa";

#[derive(Debug, Deserialize, Default)]
pub struct NextQuery {
    #[serde(default)]
    next: String,
}

/// Only local paths: the login page must not become an open redirect.
fn safe_next(next: &str) -> String {
    if next.starts_with("/staff")
        && !next.starts_with("//")
        && !next.contains("://")
        && !next.contains('\\')
    {
        next.to_owned()
    } else {
        "/staff".to_owned()
    }
}

/// The login page, with the visitor's CSRF token (and its cookie when the visitor had none).
fn page(
    state: &AppState,
    headers: &HeaderMap,
    en: bool,
    error: &str,
    next: &str,
    totp_step: bool,
    status: StatusCode,
) -> Response {
    let (csrf, set) = csrf::issue(state, headers);
    let mut res = render(&LoginPage {
        c: Chrome::anonymous(en),
        csrf,
        error: error.to_owned(),
        next: safe_next(next),
        totp_step,
    });
    *res.status_mut() = status;
    if let Some(v) = set.and_then(|c| HeaderValue::from_str(&c).ok()) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

/// Shows the login form.
pub async fn show_login(
    State(state): State<AppState>,
    lang: PageLang,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> Response {
    page(
        &state,
        &headers,
        lang.en(),
        "",
        &q.next,
        false,
        StatusCode::OK,
    )
}

/// A login form without the visitor's token: shown again, fresh, with nothing checked.
fn expired_form(
    state: &AppState,
    headers: &HeaderMap,
    en: bool,
    next: &str,
    totp: bool,
) -> Response {
    let msg = if en {
        "The form has expired. Please enter your details again."
    } else {
        "フォームの有効期限が切れました。もう一度入力してください。"
    };
    page(state, headers, en, msg, next, totp, StatusCode::FORBIDDEN)
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

fn session_response(state: &AppState, token: &str, next: &str) -> Response {
    let mut res = Redirect::to(&safe_next(next)).into_response();
    let c = set_cookie(
        SESSION_COOKIE,
        token,
        ABSOLUTE_TIMEOUT.num_seconds(),
        state.secure_cookies(),
    );
    if let Ok(v) = HeaderValue::from_str(&c) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&set_cookie(PENDING_COOKIE, "", 0, state.secure_cookies()))
    {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

fn outcome_response(
    state: &AppState,
    headers: &HeaderMap,
    en: bool,
    outcome: LoginOutcome,
    next: &str,
) -> Response {
    match outcome {
        LoginOutcome::Success { token } => session_response(state, &token, next),
        LoginOutcome::NeedTotp { token } => {
            let mut res = page(state, headers, en, "", next, true, StatusCode::OK);
            let c = set_cookie(PENDING_COOKIE, &token, 300, state.secure_cookies());
            if let Ok(v) = HeaderValue::from_str(&c) {
                res.headers_mut().append(header::SET_COOKIE, v);
            }
            res
        }
        LoginOutcome::Failed => {
            let msg = if en {
                "The e-mail, password or code is wrong."
            } else {
                "メールアドレス、パスワードまたはコードが正しくありません。"
            };
            page(
                state,
                headers,
                en,
                msg,
                next,
                false,
                StatusCode::UNAUTHORIZED,
            )
        }
        LoginOutcome::Locked => {
            let msg = if en {
                "Too many failed attempts. Try again in 15 minutes."
            } else {
                "失敗が続いたため、一時的にログインできません。15分後にお試しください。"
            };
            page(
                state,
                headers,
                en,
                msg,
                next,
                false,
                StatusCode::TOO_MANY_REQUESTS,
            )
        }
    }
}

/// Checks the password. A fresh session id is issued on every login (no fixation).
pub async fn login(
    State(state): State<AppState>,
    lang: PageLang,
    headers: HeaderMap,
    ClientOrigin(origin): ClientOrigin,
    Form(f): Form<LoginForm>,
) -> Result<Response, PageError> {
    if !csrf::verify(&state, &headers, &f.csrf) {
        return Ok(expired_form(&state, &headers, lang.en(), &f.next, false));
    }
    let outcome = state
        .service
        .login(&f.email, &f.password, &origin, Utc::now())
        .await
        .map_err(|e| PageError(e.into(), lang.en()))?;
    Ok(outcome_response(
        &state,
        &headers,
        lang.en(),
        outcome,
        &f.next,
    ))
}

#[derive(Debug, Deserialize)]
pub struct TotpForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    next: String,
}

/// Checks the second factor.
pub async fn login_totp(
    State(state): State<AppState>,
    lang: PageLang,
    headers: HeaderMap,
    ClientOrigin(origin): ClientOrigin,
    Form(f): Form<TotpForm>,
) -> Result<Response, PageError> {
    if !csrf::verify(&state, &headers, &f.csrf) {
        return Ok(expired_form(&state, &headers, lang.en(), &f.next, true));
    }
    let Some(pending) = cookie(&headers, PENDING_COOKIE) else {
        return Ok(outcome_response(
            &state,
            &headers,
            lang.en(),
            LoginOutcome::Failed,
            &f.next,
        ));
    };
    let outcome = state
        .service
        .login_totp(&pending, &f.code, &origin, Utc::now())
        .await
        .map_err(|e| PageError(e.into(), lang.en()))?;
    Ok(outcome_response(
        &state,
        &headers,
        lang.en(),
        outcome,
        &f.next,
    ))
}

/// Ends the session.
pub async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(t) = cookie(&headers, SESSION_COOKIE) {
        let _ = state.service.logout(&t).await;
    }
    let mut res = Redirect::to("/staff/login").into_response();
    if let Ok(v) = HeaderValue::from_str(&set_cookie(SESSION_COOKIE, "", 0, state.secure_cookies()))
    {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}
