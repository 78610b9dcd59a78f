//! CSRF protection for forms: a random id in an HttpOnly, SameSite=Strict cookie, and in the
//! form its HMAC under the server secret. A forged form cannot know the HMAC, and a cookie
//! planted from a sibling domain does not match a token the attacker could compute.

use axum::http::HeaderMap;
use madoguchi_store::secrets::{constant_time_eq, random_token};

use crate::cookies::{cookie, set_cookie};
use crate::state::AppState;

/// Cookie name.
pub const COOKIE: &str = "madoguchi_csrf";

/// The form token for this visitor, and a `Set-Cookie` if the visitor had no id yet.
pub fn issue(state: &AppState, headers: &HeaderMap) -> (String, Option<String>) {
    match cookie(headers, COOKIE).filter(|v| v.len() == 64) {
        Some(id) => (state.service.csrf_token(&id), None),
        None => {
            let id = random_token();
            let set = set_cookie(COOKIE, &id, 60 * 60 * 12, state.secure_cookies());
            (state.service.csrf_token(&id), Some(set))
        }
    }
}

/// Whether the submitted token belongs to the visitor's cookie.
pub fn verify(state: &AppState, headers: &HeaderMap, submitted: &str) -> bool {
    cookie(headers, COOKIE)
        .is_some_and(|id| constant_time_eq(&state.service.csrf_token(&id), submitted))
}
