//! The web crate's one error type and its two faces: RFC 9457 problem details for the API,
//! an HTML page in the visitor's language for the pages.

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use madoguchi_domain::TransitionError;
use madoguchi_service::Lang;
use madoguchi_service::ServiceError;
use madoguchi_service::TokenError;
use serde::Serialize;
use utoipa::ToSchema;

use crate::pages;

/// A field that failed validation.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct FieldError {
    /// The field's name as sent.
    pub field: String,
    /// Machine-readable reason, e.g. `required`, `email`, `length`.
    pub code: String,
    /// Human-readable message in the request's language.
    pub message: String,
}

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 422: input failed validation; the fields say why.
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// 400: the body could not be read as the declared format.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// 401: no valid credentials (API).
    #[error("authentication required")]
    Unauthorized,
    /// 403: the CSRF token is missing or wrong, or the role may not do this.
    #[error("forbidden")]
    Forbidden,
    /// 404: nothing here (also for resources the caller may not know exist).
    #[error("not found")]
    NotFound,
    /// 409: someone else changed the request first, or the event does not fit its state.
    #[error("conflict: {0}")]
    Conflict(String),
    /// 410: the link was used or has expired.
    #[error("link no longer valid")]
    Gone,
    /// 429: too many attempts; wait.
    #[error("too many attempts")]
    TooManyRequests,
    /// 413: the body is larger than allowed.
    #[error("payload too large")]
    TooLarge,
    /// 415: the body is not in a format this endpoint reads.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// 503: a service we depend on is unavailable; try again.
    #[error("temporarily unavailable")]
    Unavailable,
    /// 500: a bug or an outage; details are logged, not shown.
    #[error("internal error")]
    Internal(String),
}

/// Result alias for handlers.
pub type Result<T, E = AppError> = std::result::Result<T, E>;

impl AppError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Unauthorized => StatusCode::UNAUTHORIZED,
            AppError::Forbidden => StatusCode::FORBIDDEN,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::Gone => StatusCode::GONE,
            AppError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            AppError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn slug(&self) -> &'static str {
        match self {
            AppError::Validation(_) => "validation",
            AppError::BadRequest(_) => "bad-request",
            AppError::Unauthorized => "unauthorized",
            AppError::Forbidden => "forbidden",
            AppError::NotFound => "not-found",
            AppError::Conflict(_) => "conflict",
            AppError::Gone => "gone",
            AppError::TooLarge => "too-large",
            AppError::TooManyRequests => "too-many-requests",
            AppError::UnsupportedMediaType => "unsupported-media-type",
            AppError::Unavailable => "unavailable",
            AppError::Internal(_) => "internal",
        }
    }

    fn log(&self) {
        if let AppError::Internal(detail) = self {
            tracing::error!(error = %detail, "request failed");
        }
    }
}

impl From<ServiceError> for AppError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::NotFound => AppError::NotFound,
            ServiceError::Conflict => AppError::Conflict(
                "the request was changed by someone else; reload and try again".into(),
            ),
            ServiceError::Transition(TransitionError::Forbidden { .. }) => AppError::Forbidden,
            // A detailed answer that breaks a rule is an input error: name the field.
            ServiceError::Transition(TransitionError::Answer(a)) => {
                AppError::Validation(vec![FieldError {
                    field: a.field(),
                    code: a.code().into(),
                    message: a.to_string(),
                }])
            }
            ServiceError::Transition(t) => AppError::Conflict(t.to_string()),
            ServiceError::Token(TokenError::Unknown) => AppError::NotFound,
            ServiceError::Token(TokenError::Expired | TokenError::Used) => AppError::Gone,
            // Database messages can quote stored values; log only the kind.
            ServiceError::File(f) => {
                use madoguchi_service::FileError as F;
                match f {
                    F::Type | F::Empty | F::TooMany | F::TooLarge => {
                        AppError::Validation(vec![FieldError {
                            field: "files".into(),
                            code: match f {
                                F::Type => "type",
                                F::Empty => "empty",
                                F::TooMany => "count",
                                _ => "size",
                            }
                            .into(),
                            message: f.to_string(),
                        }])
                    }
                    F::Closed | F::LimitReached => AppError::Conflict(f.to_string()),
                    F::Expired | F::Deleted => AppError::Gone,
                }
            }
            ServiceError::Access(a) => {
                use madoguchi_service::AccessError as A;
                match a {
                    A::Wrong => AppError::Validation(vec![FieldError {
                        field: "code".into(),
                        code: "wrong".into(),
                        message: a.to_string(),
                    }]),
                    A::Expired => AppError::Gone,
                    A::Locked | A::TooManyCodes => AppError::TooManyRequests,
                    A::Unconfirmed | A::ByPost => AppError::Conflict(a.to_string()),
                }
            }
            ServiceError::Filing(broken) => AppError::Validation(
                broken
                    .iter()
                    .map(|e| FieldError {
                        field: e.field.to_owned(),
                        code: e.code.to_owned(),
                        message: match e.code {
                            "ground_mismatch" => "this ground does not apply to this kind".into(),
                            "required_without_email" => {
                                "without an e-mail address notices go by post: a postal address is required".into()
                            }
                            "needs_email" => {
                                "an electronic answer needs an e-mail address".into()
                            }
                            "birth_date_required" => {
                                "the date of birth is needed to match the customer record".into()
                            }
                            _ => format!("{} is required for this request", e.field),
                        },
                    })
                    .collect(),
            ),
            ServiceError::Invalid(field) => AppError::Validation(vec![FieldError {
                field: field.to_owned(),
                code: "invalid".into(),
                message: format!("invalid {field}"),
            }]),
            ServiceError::Duplicate(field) => AppError::Conflict(format!("{field} already exists")),
            ServiceError::Repeated(what) => AppError::Conflict(format!("the {what} was already recorded")),
            ServiceError::Settings(e) => AppError::Validation(vec![FieldError {
                field: "settings".into(),
                code: "invalid".into(),
                message: e.to_string(),
            }]),
            ServiceError::Store(s) => AppError::Internal(format!(
                "store: {}",
                madoguchi_service::Service::store_failure_kind(&s)
            )),
        }
    }
}

/// Problem details (RFC 9457).
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the problem type.
    #[serde(rename = "type")]
    pub type_: String,
    /// Short summary.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// Explanation for this occurrence.
    pub detail: String,
    /// Per-field errors, for validation problems.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// An [`AppError`] answered as `application/problem+json`.
#[derive(Debug)]
pub struct ApiError(pub AppError);

impl<E: Into<AppError>> From<E> for ApiError {
    fn from(e: E) -> Self {
        ApiError(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = self.0;
        e.log();
        let status = e.status();
        let detail = match &e {
            AppError::Internal(_) => "an unexpected error occurred; it has been logged".to_owned(),
            other => other.to_string(),
        };
        let problem = Problem {
            type_: format!("https://madoguchi.dev/problems/{}", e.slug()),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail,
            errors: match e {
                AppError::Validation(errors) => errors,
                _ => Vec::new(),
            },
        };
        let mut res = (status, Json(problem)).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/problem+json"),
        );
        res
    }
}

/// An [`AppError`] answered as an HTML page in the visitor's language. A handler returns it
/// with `?` and names no language: the page is rendered by [`render_error_pages`], which reads
/// the language from the request as every page does. A handler whose page follows another
/// language (a form's own `lang` field) names it with [`PageError::with_lang`].
#[derive(Debug)]
pub struct PageError {
    error: AppError,
    lang: Option<Lang>,
}

impl<E: Into<AppError>> From<E> for PageError {
    fn from(e: E) -> Self {
        PageError {
            error: e.into(),
            lang: None,
        }
    }
}

impl PageError {
    /// An error page in the language given, whatever the request's.
    pub fn with_lang(error: impl Into<AppError>, lang: Lang) -> Self {
        PageError {
            error: error.into(),
            lang: Some(lang),
        }
    }

    /// The page at once, for middleware that answers outside [`render_error_pages`].
    pub fn page(error: AppError, lang: Lang) -> Response {
        error.log();
        (error.status(), pages::error_page(&error, lang)).into_response()
    }
}

/// An error page waiting for its language (see [`render_error_pages`]).
#[derive(Debug, Clone)]
struct PendingPage(std::sync::Arc<AppError>, Option<Lang>);

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        self.error.log();
        let mut res = self.error.status().into_response();
        res.extensions_mut()
            .insert(PendingPage(std::sync::Arc::new(self.error), self.lang));
        res
    }
}

/// Renders every [`PageError`] a handler or guard returned, in the request's language.
pub async fn render_error_pages(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let lang = crate::lang::PageLang::of(req.uri(), req.headers()).0;
    let res = next.run(req).await;
    let Some(PendingPage(error, named)) = res.extensions().get::<PendingPage>().cloned() else {
        return res;
    };
    let mut page = pages::error_page(&error, named.unwrap_or(lang));
    *page.status_mut() = res.status();
    // What the handler added to the error (a `Retry-After`, cookies) stays with it, every
    // value of a repeated header included; the page's own headers win.
    let own: Vec<_> = page.headers().keys().cloned().collect();
    for (name, value) in res.headers() {
        if !own.contains(name) {
            page.headers_mut().append(name, value.clone());
        }
    }
    page
}
