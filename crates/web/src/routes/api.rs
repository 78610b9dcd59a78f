//! The public JSON API and its OpenAPI document.

use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use madoguchi_service::Channel;
use madoguchi_service::limits::Admission;
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use crate::error::{ApiError, AppError, FieldError, Problem};
use crate::extract::ClientOrigin;
use crate::intake::IntakeInput;
use crate::staff::api as staff_api;
use crate::state::AppState;

/// `/api/v1/requests` and `/api/openapi.json`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/requests", post(create_request))
        .route("/api/openapi.json", get(openapi_document))
}

/// A filed request.
#[derive(Debug, Serialize, ToSchema)]
pub struct Filed {
    /// Public id; the status page is `/r/{id}`.
    pub id: uuid::Uuid,
    /// Human-friendly number.
    #[schema(example = "R-2026-000123")]
    pub number: String,
    /// Always `submitted`: the contact address must be confirmed from the e-mail we send.
    #[schema(example = "submitted")]
    pub state: String,
    /// The status page.
    pub status_url: String,
}

/// Files a request. The answer is the same whether or not the address has other requests.
#[utoipa::path(
    post,
    path = "/api/v1/requests",
    tag = "requests",
    request_body(
        content = IntakeInput,
        content_type = "application/json",
        example = json!({
            "kind": "disclosure",
            "requester": "subject",
            "subject_name": "山田 太郎",
            "subject_kana": "ヤマダ タロウ",
            "email": "taro@example.jp",
            "phone": "03-1234-5678",
            "delivery": "electronic",
            "details": "会員サービスで保有している私の個人データ一式",
            "consent": true,
            "lang": "ja"
        })
    ),
    responses(
        (status = 201, description = "Filed; a confirmation e-mail is on its way", body = Filed),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "This client address has filed its quota for the hour",
            body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds until a request can be filed again"))),
    )
)]
pub async fn create_request(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    body: Result<Json<IntakeInput>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(input) = body.map_err(|r| match r {
        JsonRejection::MissingJsonContentType(_) => AppError::UnsupportedMediaType,
        r if r.status() == StatusCode::PAYLOAD_TOO_LARGE => AppError::TooLarge,
        JsonRejection::JsonDataError(e) => AppError::Validation(vec![FieldError {
            field: "body".into(),
            code: "type".into(),
            message: e.body_text(),
        }]),
        r => AppError::BadRequest(r.body_text()),
    })?;
    let policy = state.service.settings().await?.policy;
    let new = input
        .parse_now(Channel::Api, &policy)
        .map_err(AppError::Validation)?;
    let now = Utc::now();
    if let Admission::Refused { retry_after } = state.service.admit_intake(&origin, now).await? {
        tracing::info!("intake refused: the client address is over its hourly limit");
        return Ok(with_retry_after(
            ApiError(AppError::TooManyRequests).into_response(),
            retry_after,
        ));
    }
    let filed = state.service.file_request(new, &origin, now).await?;
    tracing::info!(request = %filed.pid, "request filed through the API");
    let status_url = format!("{}/r/{}", state.config.base_url, filed.pid);
    let mut headers = HeaderMap::new();
    if let Ok(v) = status_url.parse() {
        headers.insert(header::LOCATION, v);
    }
    Ok((
        StatusCode::CREATED,
        headers,
        Json(Filed {
            id: filed.pid,
            number: filed.number,
            state: "submitted".into(),
            status_url,
        }),
    )
        .into_response())
}

/// Adds `Retry-After` (seconds) to a 429 answer.
pub(crate) fn with_retry_after(mut res: Response, seconds: u64) -> Response {
    res.headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from(seconds));
    res
}

/// The OpenAPI document: intake, and the staff API behind bearer tokens.
#[derive(Debug, OpenApi)]
#[openapi(
    info(title = "Madoguchi API", description = "Privacy-rights requests under Japan's APPI."),
    paths(
        create_request,
        staff_api::list_requests,
        staff_api::show_request,
        staff_api::apply_event,
        staff_api::show_fees,
        staff_api::update_fees,
        crate::staff::datamap::import_register_api,
    ),
    components(schemas(
        IntakeInput,
        Filed,
        Problem,
        FieldError,
        staff_api::RequestSummary,
        staff_api::QueuePage,
        staff_api::SubjectData,
        staff_api::AuditLine,
        staff_api::RequestDetail,
        staff_api::Applied,
        staff_api::EventInput,
        staff_api::ItemInput,
        staff_api::FeeTable,
        staff_api::FeeUpdate,
        crate::staff::datamap::Imported,
    )),
    modifiers(&BearerAuth),
    tags(
        (name = "requests", description = "Filing requests"),
        (name = "staff", description = "The staff API: an API token from the account page, sent as `Authorization: Bearer …`")
    )
)]
pub struct ApiDoc;

/// Declares the `bearer` security scheme the staff operations name.
#[derive(Debug)]
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "bearer",
                SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
            );
    }
}

/// Serves the OpenAPI document.
async fn openapi_document() -> impl IntoResponse {
    Json(ApiDoc::openapi())
}
