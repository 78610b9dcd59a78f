//! Card payment: the subject's "pay" link and Stripe's webhook.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::Utc;
use madoguchi_pay::PayError;
use madoguchi_service::CardError;
use uuid::Uuid;

use crate::error::{ApiError, AppError, PageError};
use crate::state::AppState;

/// `/r/{pid}/pay` and `/webhooks/stripe`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/r/{pid}/pay", get(pay_by_card))
        .route("/webhooks/stripe", post(stripe_webhook))
}

/// Sends the subject to Stripe Checkout for the fee due (the same session on a second click).
async fn pay_by_card(
    State(state): State<AppState>,
    Path(pid): Path<String>,
) -> Result<Response, PageError> {
    let pid = Uuid::parse_str(&pid).map_err(|_| PageError::from(AppError::NotFound))?;
    match state.service.card_checkout(pid, Utc::now()).await? {
        Ok(url) => Ok(Redirect::to(&url).into_response()),
        Err(CardError::NothingDue) => Ok(Redirect::to(&format!("/r/{pid}")).into_response()),
        Err(CardError::NotOffered) => Err(PageError::from(AppError::NotFound)),
        Err(CardError::Provider) => Err(PageError::from(AppError::Unavailable)),
    }
}

/// Stripe's webhook: the raw body is verified before anything is parsed; a bad signature is
/// 400 and changes nothing.
async fn stripe_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, ApiError> {
    let signature = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    match state
        .service
        .stripe_webhook(&body, signature, Utc::now())
        .await?
    {
        Ok(()) => Ok(StatusCode::OK.into_response()),
        Err(PayError::Signature) => Err(ApiError(AppError::BadRequest("invalid signature".into()))),
        Err(PayError::Parse(_)) => Err(ApiError(AppError::BadRequest("unreadable event".into()))),
        Err(PayError::Config(_)) => Err(ApiError(AppError::NotFound)),
        Err(PayError::Api(e)) => Err(ApiError(AppError::Internal(e))),
    }
}
