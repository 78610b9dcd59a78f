//! Who may reach a staff route: one guard per route, configured from the route table.
//! Anonymous visitors of pages are sent to the login page, of the API get 401; staff whose
//! role the route does not admit get 403. Cookie sessions must also prove CSRF on every
//! state-changing request; bearer tokens are not ambient credentials and need not.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use madoguchi_domain::Role;
use madoguchi_service::secrets::constant_time_eq;
use madoguchi_service::staff::StaffIdentity;

use crate::cookies::cookie;
use crate::error::{ApiError, AppError, PageError};
use crate::state::AppState;

/// The staff session cookie.
pub const SESSION_COOKIE: &str = "madoguchi_staff";

/// The roles a route admits, and whether it is an API route.
#[derive(Debug, Clone, Copy)]
pub struct Guard {
    /// Roles admitted.
    pub roles: &'static [Role],
    /// API routes authenticate with bearer tokens and answer problem+json.
    pub api: bool,
    /// The route takes files: multipart bodies are admitted (and their CSRF field checked
    /// here like any other form's); elsewhere a multipart body is refused.
    pub uploads: bool,
    /// A long form's own limit (bytes), above the service's body limit.
    pub form_limit: Option<usize>,
}

fn deny(api: bool, e: AppError) -> Response {
    if api {
        ApiError(e).into_response()
    } else {
        PageError::from(e).into_response()
    }
}

/// The middleware.
pub async fn guard(
    State((state, g)): State<(AppState, Guard)>,
    req: Request,
    next: Next,
) -> Response {
    let now = Utc::now();
    let identity = if g.api {
        let bearer = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_owned);
        match bearer {
            Some(t) => state.service.api_identity(t.trim()).await,
            None => Ok(None),
        }
    } else {
        match cookie(req.headers(), SESSION_COOKIE) {
            Some(t) => state.service.session(&t, now).await,
            None => Ok(None),
        }
    };
    let identity = match identity {
        Ok(Some(i)) => i,
        Ok(None) if g.api => {
            let mut res = ApiError(AppError::Unauthorized).into_response();
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
            return res;
        }
        Ok(None) => {
            let next_path = req.uri().path_and_query().map_or("/staff", |p| p.as_str());
            let target = format!("/staff/login?next={}", crate::pages::urlencode(next_path));
            return Redirect::to(&target).into_response();
        }
        Err(e) => return deny(g.api, e.into()),
    };
    if !g.roles.contains(&identity.role) {
        return deny(g.api, AppError::Forbidden);
    }
    // A handed-over password opens nothing but its own replacement (and the way out).
    if !g.api
        && identity.must_change_password
        && !matches!(
            req.uri().path(),
            "/staff/account/password" | "/staff/logout"
        )
    {
        return Redirect::to("/staff/account/password").into_response();
    }
    // Where a second factor is compulsory, an account without one sets it up before anything
    // else; its API tokens are refused until then.
    if state.config.require_totp && !identity.totp_enabled && !identity.sso {
        if g.api {
            return deny(true, AppError::Forbidden);
        }
        if !matches!(
            req.uri().path(),
            "/staff/account"
                | "/staff/account/totp"
                | "/staff/account/totp/confirm"
                | "/staff/account/password"
                | "/staff/logout"
        ) {
            return Redirect::to("/staff/account#totp-h").into_response();
        }
    }
    let req = if !g.api && req.method() != Method::GET && req.method() != Method::HEAD {
        let limit = if g.uploads {
            state.config.package_max_bytes
        } else {
            g.form_limit
                .map_or(state.config.body_limit, |l| l.max(state.config.body_limit))
        };
        match check_csrf(req, &identity, g.uploads, limit).await {
            Ok(r) => r,
            Err(e) => return deny(false, e),
        }
    } else {
        req
    };
    let mut req = req;
    req.extensions_mut().insert(identity);
    next.run(req).await
}

/// Reads the body (bounded), checks its `csrf` field against the session's token, and hands
/// the body on unchanged. This is the one place a cookie session's CSRF token is checked,
/// whatever the content type: urlencoded forms always, multipart only on routes that take
/// files, anything else never (a handler that reads raw bytes must not see an unchecked body).
async fn check_csrf(
    req: Request,
    identity: &StaffIdentity,
    uploads: bool,
    limit: usize,
) -> Result<Request, AppError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let multipart = match essence.as_str() {
        "application/x-www-form-urlencoded" => false,
        "multipart/form-data" if uploads => true,
        _ => return Err(AppError::Forbidden),
    };
    let (parts, body) = req.into_parts();
    let bytes = to_bytes(body, limit)
        .await
        .map_err(|_| AppError::TooLarge)?;
    let submitted = if multipart {
        multipart_csrf(&content_type, bytes.clone()).await?
    } else {
        let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes)
            .map_err(|_| AppError::BadRequest("unreadable form".into()))?;
        fields
            .into_iter()
            .find(|(k, _)| k == "csrf")
            .map(|(_, v)| v)
            .unwrap_or_default()
    };
    let expected = identity.csrf.as_deref().unwrap_or("");
    if expected.is_empty() || !constant_time_eq(&submitted, expected) {
        return Err(AppError::Forbidden);
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

/// The `csrf` field of a buffered multipart body (empty when it has none).
async fn multipart_csrf(content_type: &str, bytes: axum::body::Bytes) -> Result<String, AppError> {
    let unreadable = || AppError::BadRequest("unreadable form".into());
    let boundary = multer::parse_boundary(content_type).map_err(|_| unreadable())?;
    let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(bytes) });
    let mut form = multer::Multipart::new(stream, boundary);
    while let Some(field) = form.next_field().await.map_err(|_| unreadable())? {
        if field.name() == Some("csrf") {
            return field.text().await.map_err(|_| unreadable());
        }
    }
    Ok(String::new())
}
