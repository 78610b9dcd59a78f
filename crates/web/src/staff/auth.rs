//! Staff login (password, then TOTP when enrolled; or single sign-on through the company's
//! OpenID provider) and logout.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use madoguchi_service::Lang;
use madoguchi_service::sso::{SsoCallback, SsoOutcome, SsoRefusal};
use madoguchi_service::staff::{ABSOLUTE_TIMEOUT, LoginOutcome};
use serde::Deserialize;

use super::guard::SESSION_COOKIE;
use super::pages::{Chrome, LoginPage, SignedInPage, SsoRedirectPage};
use crate::cookies::{cookie, set_cookie, set_lax_cookie};
use crate::csrf;
use crate::error::PageError;
use crate::extract::ClientOrigin;
use crate::lang::PageLang;
use crate::pages::render;
use crate::state::AppState;

const PENDING_COOKIE: &str = "madoguchi_staff_mfa";
/// Ties the provider's answer to the browser that began the sign-in.
const SSO_COOKIE: &str = "madoguchi_staff_sso";
/// The only path the single sign-on cookie is sent to.
const SSO_CALLBACK: &str = "/staff/sso/callback";

#[derive(Debug, Deserialize, Default)]
pub struct NextQuery {
    #[serde(default)]
    next: String,
}

/// Only local paths: the login page must not become an open redirect.
fn safe_next(next: &str) -> String {
    // At most what a sign-in remembers (`staff_sso_logins.next`).
    if next.len() <= 500
        && next.starts_with("/staff")
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
    lang: Lang,
    error: &str,
    next: &str,
    totp_step: bool,
    status: StatusCode,
) -> Response {
    let (csrf, set) = csrf::issue(state, headers);
    let mut res = render(&LoginPage {
        c: Chrome::anonymous(lang),
        csrf,
        error: error.to_owned(),
        next: safe_next(next),
        totp_step,
        sso: state.service.sso_enabled(),
        passwords: state.config.local_login,
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
    PageLang(lang): PageLang,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> Response {
    page(&state, &headers, lang, "", &q.next, false, StatusCode::OK)
}

/// A login form without the visitor's token: shown again, fresh, with nothing checked.
fn expired_form(
    state: &AppState,
    headers: &HeaderMap,
    lang: Lang,
    next: &str,
    totp: bool,
) -> Response {
    let msg = if lang.is_en() {
        "The form has expired. Please enter your details again."
    } else {
        "フォームの有効期限が切れました。もう一度入力してください。"
    };
    page(state, headers, lang, msg, next, totp, StatusCode::FORBIDDEN)
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
    lang: Lang,
    outcome: LoginOutcome,
    next: &str,
) -> Response {
    match outcome {
        LoginOutcome::Success { token } => session_response(state, &token, next),
        LoginOutcome::NeedTotp { token } => {
            let mut res = page(state, headers, lang, "", next, true, StatusCode::OK);
            let c = set_cookie(PENDING_COOKIE, &token, 300, state.secure_cookies());
            if let Ok(v) = HeaderValue::from_str(&c) {
                res.headers_mut().append(header::SET_COOKIE, v);
            }
            res
        }
        LoginOutcome::Failed => {
            let msg = if lang.is_en() {
                "The e-mail, password or code is wrong."
            } else {
                "メールアドレス、パスワードまたはコードが正しくありません。"
            };
            page(
                state,
                headers,
                lang,
                msg,
                next,
                false,
                StatusCode::UNAUTHORIZED,
            )
        }
        LoginOutcome::Locked => {
            let msg = if lang.is_en() {
                "Too many failed attempts. Try again in 15 minutes."
            } else {
                "失敗が続いたため、一時的にログインできません。15分後にお試しください。"
            };
            page(
                state,
                headers,
                lang,
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
    PageLang(lang): PageLang,
    headers: HeaderMap,
    ClientOrigin(origin): ClientOrigin,
    Form(f): Form<LoginForm>,
) -> Result<Response, PageError> {
    if !csrf::verify(&state, &headers, &f.csrf) {
        return Ok(expired_form(&state, &headers, lang, &f.next, false));
    }
    if !state.config.local_login {
        return Ok(passwords_off(&state, &headers, lang, &f.next));
    }
    let outcome = state
        .service
        .login(&f.email, &f.password, &origin, Utc::now())
        .await?;
    Ok(outcome_response(&state, &headers, lang, outcome, &f.next))
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
    PageLang(lang): PageLang,
    headers: HeaderMap,
    ClientOrigin(origin): ClientOrigin,
    Form(f): Form<TotpForm>,
) -> Result<Response, PageError> {
    if !csrf::verify(&state, &headers, &f.csrf) {
        return Ok(expired_form(&state, &headers, lang, &f.next, true));
    }
    if !state.config.local_login {
        return Ok(passwords_off(&state, &headers, lang, &f.next));
    }
    let Some(pending) = cookie(&headers, PENDING_COOKIE) else {
        return Ok(outcome_response(
            &state,
            &headers,
            lang,
            LoginOutcome::Failed,
            &f.next,
        ));
    };
    let outcome = state
        .service
        .login_totp(&pending, &f.code, &origin, Utc::now())
        .await?;
    Ok(outcome_response(&state, &headers, lang, outcome, &f.next))
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

/// A password posted where passwords are turned off.
fn passwords_off(state: &AppState, headers: &HeaderMap, lang: Lang, next: &str) -> Response {
    let msg = if lang.is_en() {
        "Passwords are turned off here. Sign in with your organisation account."
    } else {
        "パスワードでのログインは無効です。組織のアカウントでログインしてください。"
    };
    page(
        state,
        headers,
        lang,
        msg,
        next,
        false,
        StatusCode::FORBIDDEN,
    )
}

#[derive(Debug, Deserialize)]
pub struct SsoStartForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    next: String,
}

/// Begins a single sign-on: the browser goes to the provider with a cookie that only the
/// callback receives.
pub async fn sso_start(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    headers: HeaderMap,
    ClientOrigin(origin): ClientOrigin,
    Form(f): Form<SsoStartForm>,
) -> Result<Response, PageError> {
    if !csrf::verify(&state, &headers, &f.csrf) {
        return Ok(expired_form(&state, &headers, lang, &f.next, false));
    }
    let begun = state
        .service
        .sso_begin(&safe_next(&f.next), &origin, Utc::now())
        .await?;
    let begun = match begun {
        Ok(b) => b,
        Err(refusal) => return Ok(sso_refused(&state, &headers, lang, refusal)),
    };
    let mut res = render(&SsoRedirectPage {
        c: Chrome::anonymous(lang),
        url: begun.url,
    });
    // The link holds this sign-in's state and nonce: never kept by a cache.
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // SameSite=Lax: the provider sends the browser back with a top-level GET from its own
    // site, which a Strict cookie would not accompany. The path keeps it off every other page.
    let c = set_lax_cookie(
        SSO_COOKIE,
        &begun.cookie,
        SSO_CALLBACK,
        madoguchi_service::sso::PENDING_FOR.num_seconds(),
        state.secure_cookies(),
    );
    if let Ok(v) = HeaderValue::from_str(&c) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(res)
}

#[derive(Debug, Deserialize, Default)]
pub struct SsoAnswer {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
}

/// Where the provider sends the browser back.
pub async fn sso_callback(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    headers: HeaderMap,
    ClientOrigin(origin): ClientOrigin,
    Query(q): Query<SsoAnswer>,
) -> Result<Response, PageError> {
    let answer = SsoCallback {
        code: q.code,
        state: q.state,
        iss: q.iss,
        error: q.error,
    };
    let outcome = state
        .service
        .sso_finish(
            cookie(&headers, SSO_COOKIE).as_deref(),
            &answer,
            &origin,
            Utc::now(),
        )
        .await?;
    let mut res = match outcome {
        SsoOutcome::Success { token, next } => {
            let mut res = render(&SignedInPage {
                c: Chrome::anonymous(lang),
                next: safe_next(&next),
            });
            res.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            let c = set_cookie(
                SESSION_COOKIE,
                &token,
                ABSOLUTE_TIMEOUT.num_seconds(),
                state.secure_cookies(),
            );
            if let Ok(v) = HeaderValue::from_str(&c) {
                res.headers_mut().append(header::SET_COOKIE, v);
            }
            res
        }
        SsoOutcome::Refused(r) => sso_refused(&state, &headers, lang, r),
    };
    // The sign-in is used up either way.
    let gone = set_lax_cookie(SSO_COOKIE, "", SSO_CALLBACK, 0, state.secure_cookies());
    if let Ok(v) = HeaderValue::from_str(&gone) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(res)
}

/// The login page saying why single sign-on did not open a session, and what to do.
fn sso_refused(state: &AppState, headers: &HeaderMap, lang: Lang, r: SsoRefusal) -> Response {
    let (ja, english, status) = match r {
        SsoRefusal::Off => (
            "組織のアカウントでのログインは設定されていません。",
            "Signing in with an organisation account is not set up.",
            StatusCode::NOT_FOUND,
        ),
        SsoRefusal::Expired => (
            "ログインの手続きが時間切れになったか、別のブラウザーで始められました。もう一度お試しください。",
            "The sign-in took too long or was started in another browser. Please try again.",
            StatusCode::BAD_REQUEST,
        ),
        SsoRefusal::Cancelled => (
            "組織のアカウントでのログインが完了しませんでした。もう一度お試しください。",
            "The sign-in with your organisation account was not completed. Please try again.",
            StatusCode::UNAUTHORIZED,
        ),
        SsoRefusal::Unreachable => (
            "組織の認証サービスに接続できませんでした。しばらくしてからお試しください。",
            "Your organisation's sign-in service could not be reached. Please try again later.",
            StatusCode::BAD_GATEWAY,
        ),
        SsoRefusal::Failed => (
            "組織の認証サービスからの応答を確認できませんでした。もう一度お試しください。続く場合は管理者に連絡してください。",
            "The answer from your organisation's sign-in service could not be verified. Please try again; if it persists, tell your administrator.",
            StatusCode::UNAUTHORIZED,
        ),
        SsoRefusal::NoRole => (
            "このアカウントには窓口の担当者の権限がありません。必要な場合は管理者に連絡してください。",
            "This account has no role in the privacy office. Ask your administrator if you need one.",
            StatusCode::FORBIDDEN,
        ),
        SsoRefusal::NoAccount => (
            "このアカウントは担当者として登録されていません。管理者に登録を依頼してください。",
            "This account is not registered as staff. Ask your administrator to add you.",
            StatusCode::FORBIDDEN,
        ),
        SsoRefusal::Disabled => (
            "このアカウントは無効になっています。管理者に連絡してください。",
            "This account is disabled. Please contact your administrator.",
            StatusCode::FORBIDDEN,
        ),
        SsoRefusal::AddressTaken => (
            "このメールアドレスの担当者アカウントに、組織のアカウントを自動ではつなげられません。管理者に連絡してください。",
            "A staff account with this e-mail address cannot be tied to your organisation account automatically. Please contact your administrator.",
            StatusCode::FORBIDDEN,
        ),
        SsoRefusal::Throttled => (
            "ログインの試行が続いたため、一時的に受け付けていません。15分後にお試しください。",
            "Too many sign-ins were started. Try again in 15 minutes.",
            StatusCode::TOO_MANY_REQUESTS,
        ),
    };
    page(
        state,
        headers,
        lang,
        if lang.is_en() { english } else { ja },
        "",
        false,
        status,
    )
}
