#![doc = include_str!("../README.md")]

mod control;
mod cookies;
mod csrf;
pub mod error;
mod extract;
pub mod intake;
mod lang;
pub mod metrics;
pub mod pages;
pub mod routes;
pub mod staff;
mod state;

use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::IntoResponse;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

pub use routes::api::ApiDoc;
pub use state::AppState;

/// Content-Security-Policy: no script at all, styles only from our own stylesheet.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

/// The longest pause allowed between two pieces of a request body.
pub const BODY_IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The whole application with its middleware.
pub fn router(state: AppState) -> Router {
    let body_limit = state.config.body_limit;
    let upload_limit = state.config.upload_max_bytes * state.config.upload_max_files + 1024 * 1024;
    let hsts = state.secure_cookies();
    let package_limit = state.config.package_max_bytes;
    let mut app = Router::new()
        .merge(routes::public::router())
        .merge(routes::complaints::router(body_limit))
        .merge(routes::subject::router(upload_limit))
        .merge(routes::owner::router(upload_limit))
        .merge(routes::payments::router())
        .merge(routes::api::router())
        .merge(routes::health::router())
        .merge(staff::router(state.clone()))
        // After routing, so the route's pattern is known (a 404 is not timed by route).
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .fallback(not_found)
        .with_state(state.clone())
        // Error pages in the visitor's language, for every route, guard and the fallback.
        .layer(axum::middleware::from_fn(error::render_error_pages))
        .layer(axum::middleware::from_fn_with_state(
            state,
            control::refuse_control_characters,
        ))
        .layer(DefaultBodyLimit::max(body_limit))
        // A hard cap for bodies no extractor reads.
        .layer(RequestBodyLimitLayer::new(
            body_limit.max(upload_limit).max(package_limit),
        ))
        // A client that stops sending its body mid-way is cut off, not waited for: every
        // reader of a body (the guards, the extractors) would hold its task forever.
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            BODY_IDLE_TIMEOUT,
        ))
        // The framework's own refusals (a body over the hard cap, an extractor's limit) come
        // as plain text; they get the page or problem document every other error gets.
        .layer(axum::middleware::from_fn(control::humane_framework_errors))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        // Links carry tokens in their paths; never leak them to other sites.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ));
    if hsts {
        app = app.layer(SetResponseHeaderLayer::if_not_present(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        ));
    }
    app.layer(
        // Spans name the route pattern, never the URI: paths carry tokens and ids.
        TraceLayer::new_for_http()
            .make_span_with(|req: &Request| {
                let route = req
                    .extensions()
                    .get::<MatchedPath>()
                    .map_or("unmatched", MatchedPath::as_str);
                tracing::info_span!("http", method = %req.method(), route = %route)
            })
            .on_response(
                |res: &axum::response::Response, latency: Duration, _span: &tracing::Span| {
                    tracing::debug!(
                        status = res.status().as_u16(),
                        ms = latency.as_millis() as u64,
                        "response"
                    );
                },
            ),
    )
}

async fn not_found(lang::PageLang(lang): lang::PageLang, req: Request) -> axum::response::Response {
    if req.uri().path().starts_with("/api/") {
        error::ApiError(error::AppError::NotFound).into_response()
    } else {
        error::PageError::page(error::AppError::NotFound, lang)
    }
}
