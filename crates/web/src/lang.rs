//! The visitor's language: `?lang=` first, then the `lang` cookie, else Japanese.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use madoguchi_service::Lang;

use crate::cookies::cookie;

/// The language a page is rendered in.
#[derive(Debug, Clone, Copy)]
pub struct PageLang(pub Lang);

impl<S: Send + Sync> FromRequestParts<S> for PageLang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(PageLang::of(&parts.uri, &parts.headers))
    }
}

impl PageLang {
    /// The language of a request: `?lang=`, else the `lang` cookie, else Japanese.
    pub fn of(uri: &axum::http::Uri, headers: &axum::http::HeaderMap) -> PageLang {
        let from_query = uri.query().and_then(|q| {
            q.split('&')
                .filter_map(|kv| kv.split_once('='))
                .find(|(k, _)| *k == "lang")
                .map(|(_, v)| Lang::parse(v))
        });
        let lang = from_query
            .or_else(|| cookie(headers, "lang").map(|v| Lang::parse(&v)))
            .unwrap_or_default();
        PageLang(lang)
    }
}
