//! CSRF protection for forms: a random id in an HttpOnly, SameSite=Strict cookie, and in the
//! form its HMAC under the server secret. A forged form cannot know the HMAC. An attacker can
//! learn the HMAC of an id of their own choosing (by loading a form with it), so the cookie
//! must be one they cannot plant: behind TLS it is named `__Host-…`, which browsers accept
//! only from this exact host, over HTTPS, for the whole site (no sibling-domain cookie
//! tossing). Over plain HTTP (development) the prefix cannot be used.

use axum::http::HeaderMap;
use madoguchi_service::secrets::{constant_time_eq, random_token};

use crate::cookies::{cookie, set_cookie};
use crate::state::AppState;

/// Cookie name over plain HTTP.
pub const COOKIE: &str = "madoguchi_csrf";
/// Cookie name behind TLS.
pub const HOST_COOKIE: &str = "__Host-madoguchi_csrf";

fn cookie_name(state: &AppState) -> &'static str {
    if state.secure_cookies() {
        HOST_COOKIE
    } else {
        COOKIE
    }
}

/// The form token for this visitor, and a `Set-Cookie` if the visitor had no id yet.
pub fn issue(state: &AppState, headers: &HeaderMap) -> (String, Option<String>) {
    let name = cookie_name(state);
    match cookie(headers, name).filter(|v| v.len() == 64) {
        Some(id) => (state.service.csrf_token(&id), None),
        None => {
            let id = random_token();
            let set = set_cookie(name, &id, 60 * 60 * 12, state.secure_cookies());
            (state.service.csrf_token(&id), Some(set))
        }
    }
}

/// Whether the submitted token belongs to the visitor's cookie.
pub fn verify(state: &AppState, headers: &HeaderMap, submitted: &str) -> bool {
    cookie(headers, cookie_name(state))
        .is_some_and(|id| constant_time_eq(&state.service.csrf_token(&id), submitted))
}
