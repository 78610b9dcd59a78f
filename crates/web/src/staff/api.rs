//! The staff JSON API (bearer tokens): the queue, one request, events, the fee schedule.

use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::{Extension, Json};
use chrono::Utc;
use madoguchi_domain::{FeeSchedule, RequestKind, Yen, available_events, jst_date};
use madoguchi_service::queue::cursor_to_string;
use madoguchi_service::staff::StaffIdentity;
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::work::{QueueQuery, event_from_fields};
use crate::error::{ApiError, AppError};
use crate::extract::ClientOrigin;
use crate::state::AppState;

/// A request as the staff API shows it (no personal data in the list).
#[derive(Debug, Serialize)]
pub struct RequestSummary {
    id: Uuid,
    number: String,
    kind: String,
    state: String,
    due_on: String,
    may_sue_from: String,
    assignee_id: Option<i64>,
    version: i64,
}

fn summary(r: &madoguchi_store::entities::request::Model) -> RequestSummary {
    RequestSummary {
        id: r.pid,
        number: r.number.clone(),
        kind: r.kind.clone(),
        state: r.state.clone(),
        due_on: r.due_on.to_string(),
        may_sue_from: r.may_sue_from.to_string(),
        assignee_id: r.assignee_id,
        version: r.version,
    }
}

/// The queue, as JSON, with the same filters as the page.
pub async fn list_requests(
    State(state): State<AppState>,
    Extension(who): Extension<StaffIdentity>,
    Query(q): Query<QueueQuery>,
) -> Result<Json<Value>, ApiError> {
    let page = state
        .service
        .queue(&q.filter(&who), jst_date(Utc::now()))
        .await?;
    Ok(Json(json!({
        "items": page.rows.iter().map(summary).collect::<Vec<_>>(),
        "next": page.next.map(cursor_to_string),
    })))
}

/// One request with its data (the read is audited) and the actions allowed now.
pub async fn show_request(
    State(state): State<AppState>,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    Path(pid): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let pid = Uuid::parse_str(&pid).map_err(|_| AppError::NotFound)?;
    let now = Utc::now();
    let d = state
        .service
        .request_detail(pid, &who, &origin, now)
        .await?;
    let actions = available_events(&d.domain, &who.actor(), now);
    Ok(Json(json!({
        "request": summary(&d.request),
        "subject": {
            "name": d.request.subject_name,
            "kana": d.request.subject_kana,
            "email": d.request.email,
            "requester": d.request.requester,
            "details": d.request.details,
        },
        "fee": d.request.fee,
        "paid": d.request.paid,
        "actions": actions,
        "audit": d.audit.iter().map(|e| json!({"seq": e.seq, "at": e.at, "action": e.action, "actor": e.actor_kind, "detail": e.detail})).collect::<Vec<_>>(),
    })))
}

/// Applies an event: `{"event": "approve_identity", "version": 2, "text": "...", ...}`.
pub async fn apply_event(
    State(state): State<AppState>,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    Path(pid): Path<String>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let pid = Uuid::parse_str(&pid).map_err(|_| AppError::NotFound)?;
    let Json(body) = body.map_err(|r| AppError::BadRequest(r.body_text()))?;
    let Value::Object(map) = body else {
        return Err(AppError::BadRequest("expected an object".into()).into());
    };
    let mut fields = Vec::new();
    for (k, v) in map {
        match v {
            Value::String(s) => fields.push((k, s)),
            Value::Number(n) => fields.push((k, n.to_string())),
            Value::Array(items) => fields.extend(
                items
                    .into_iter()
                    .filter_map(|i| i.as_str().map(|s| (k.clone(), s.to_owned()))),
            ),
            _ => {}
        }
    }
    let (event, text, version) = event_from_fields(&fields)?;
    let version = version.ok_or_else(|| AppError::BadRequest("`version` is required".into()))?;
    let row = state
        .service
        .act(
            pid,
            Some(version),
            &event,
            &who.actor(),
            &text,
            &origin,
            Utc::now(),
        )
        .await?;
    Ok(Json(json!({ "request": summary(&row) })))
}

/// The fee schedule.
pub async fn show_fees(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let fees = state.service.fee_schedule().await?;
    let map: serde_json::Map<String, Value> = RequestKind::ALL
        .into_iter()
        .map(|k| (k.as_str().to_owned(), json!(fees.fee(k).0)))
        .collect();
    Ok(Json(Value::Object(map)))
}

/// Replaces the fee schedule: `{"disclosure": 3000, ...}`; kinds left out cost nothing.
pub async fn update_fees(
    State(state): State<AppState>,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let map: serde_json::Map<String, Value> =
        serde_json::from_slice(&body).map_err(|e| AppError::BadRequest(e.to_string()))?;
    let mut fees = FeeSchedule::free();
    for (k, v) in &map {
        let kind = RequestKind::parse(k)
            .ok_or_else(|| AppError::BadRequest(format!("unknown kind {k}")))?;
        let amount = v
            .as_i64()
            .ok_or_else(|| AppError::BadRequest(format!("{k}: an integer amount in yen")))?;
        fees.set(kind, Yen(amount)).map_err(|e| {
            AppError::Validation(vec![crate::error::FieldError {
                field: k.clone(),
                code: "fee".into(),
                message: e.to_string(),
            }])
        })?;
    }
    state
        .service
        .set_fee_schedule(fees, &who, &origin, Utc::now())
        .await?;
    show_fees(State(state)).await
}
