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
use madoguchi_service::staff::StaffIdentity;
use madoguchi_store::secrets::constant_time_eq;

use crate::cookies::cookie;
use crate::error::{ApiError, AppError, PageError};
use crate::lang::PageLang;
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
}

fn deny(api: bool, e: AppError, en: bool) -> Response {
    if api {
        ApiError(e).into_response()
    } else {
        PageError(e, en).into_response()
    }
}

/// The middleware.
pub async fn guard(
    State((state, g)): State<(AppState, Guard)>,
    lang: PageLang,
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
        Err(e) => return deny(g.api, e.into(), lang.en()),
    };
    if !g.roles.contains(&identity.role) {
        return deny(g.api, AppError::Forbidden, lang.en());
    }
    let req = if !g.api && req.method() != Method::GET && req.method() != Method::HEAD {
        match check_csrf(req, &identity, state.config.body_limit).await {
            Ok(r) => r,
            Err(e) => return deny(false, e, lang.en()),
        }
    } else {
        req
    };
    let mut req = req;
    req.extensions_mut().insert(identity);
    next.run(req).await
}

/// Reads the form body (bounded), checks its `csrf` field against the session's token, and
/// hands the body on unchanged. Multipart forms are checked by their handler.
async fn check_csrf(
    req: Request,
    identity: &StaffIdentity,
    limit: usize,
) -> Result<Request, AppError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    if content_type.starts_with("multipart/form-data") {
        return Ok(req);
    }
    if !content_type.starts_with("application/x-www-form-urlencoded") {
        return Err(AppError::Forbidden);
    }
    let (parts, body) = req.into_parts();
    let bytes = to_bytes(body, limit)
        .await
        .map_err(|_| AppError::TooLarge)?;
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes)
        .map_err(|_| AppError::BadRequest("unreadable form".into()))?;
    let submitted = fields
        .iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    let expected = identity.csrf.as_deref().unwrap_or("");
    if expected.is_empty() || !constant_time_eq(submitted, expected) {
        return Err(AppError::Forbidden);
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}
