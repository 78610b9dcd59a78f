//! The staff JSON API (bearer tokens): the queue, one request, events, the fee schedule.
//! Every operation is in the OpenAPI document (`/api/openapi.json`) with the problems it can
//! answer, so schemathesis checks the staff side as well as intake.

use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use madoguchi_domain::{FeeSchedule, RequestKind, Yen, available_events, jst_date};
use madoguchi_service::queue::cursor_to_string;
use madoguchi_service::staff::StaffIdentity;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::work::{QueueQuery, event_from_fields};
use crate::error::{ApiError, AppError, Problem};
use crate::extract::ClientOrigin;
use crate::state::AppState;

/// A request as the staff API shows it (no personal data in the list).
#[derive(Debug, Serialize, ToSchema)]
pub struct RequestSummary {
    /// Public id.
    id: Uuid,
    /// Request number.
    #[schema(example = "R-2026-000123")]
    number: String,
    /// Request kind.
    #[schema(example = "disclosure")]
    kind: String,
    /// Lifecycle state.
    #[schema(example = "identity_review")]
    state: String,
    /// Statutory deadline (JST date).
    #[schema(format = Date, example = "2026-12-06")]
    due_on: String,
    /// From this date the subject may sue (Art. 39).
    #[schema(format = Date, example = "2026-12-06")]
    may_sue_from: String,
    /// Assigned officer's row id.
    assignee_id: Option<i64>,
    /// Optimistic-lock version; send it back with events.
    version: i64,
}

fn summary(r: &madoguchi_service::rows::request::Model) -> RequestSummary {
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

/// One page of the queue.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueuePage {
    /// The requests, by due date.
    items: Vec<RequestSummary>,
    /// Cursor for the next page (`after=`), or null on the last page.
    next: Option<String>,
}

/// The subject's data as filed.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubjectData {
    name: String,
    kana: String,
    /// Absent for a request entered from a letter without one (answered by post).
    email: Option<String>,
    requester: String,
    details: String,
    /// The subject's date of birth, when given (customer-record identity, minors).
    #[schema(format = Date, example = "2012-04-01")]
    date_of_birth: Option<String>,
    /// Set when a legal representative filed for a subject who was already of age
    /// (`MADOGUCHI_MINOR_AGE`) on the day of arrival: the subject's age then. The officer
    /// decides; a parent acts for an adult only as a guardian.
    adult_subject_age: Option<u32>,
}

/// One audit entry of a request.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditLine {
    seq: i64,
    at: DateTime<Utc>,
    action: String,
    actor: String,
    /// The entry's detail as a JSON text.
    detail: String,
}

/// One request with its data, the actions allowed now, and its audit trail.
#[derive(Debug, Serialize, ToSchema)]
pub struct RequestDetail {
    request: RequestSummary,
    subject: SubjectData,
    /// Fee in yen.
    fee: i64,
    /// Paid so far, in yen.
    paid: i64,
    /// Events the caller may send now, e.g. `approve_identity`.
    actions: Vec<String>,
    audit: Vec<AuditLine>,
}

/// The request after an event.
#[derive(Debug, Serialize, ToSchema)]
pub struct Applied {
    request: RequestSummary,
}

/// An event for a request. Fields other than `event` and `version` depend on the event.
#[derive(Debug, ToSchema)]
#[schema(example = json!({"event": "approve_identity", "version": 2}))]
pub struct EventInput {
    /// `approve_identity`, `request_more_evidence`, `reject_identity`, `record_payment`,
    /// `start_work`, `request_info`, `extend_deadline`, `complete`, `refuse` or `withdraw`.
    pub event: String,
    /// The version last seen; a stale one gets 409.
    pub version: i64,
    /// Words for the subject (what is missing, the question, the reason).
    pub text: Option<String>,
    /// `record_payment`: the offline method, e.g. `bank_transfer`.
    pub method: Option<String>,
    /// `record_payment`: the amount in yen.
    pub amount: Option<i64>,
    /// `record_payment`: the officer's reference.
    pub reference: Option<String>,
    /// `complete`: `fulfilled`, `no_data` or `partially_fulfilled`.
    pub outcome: Option<String>,
    /// `refuse` and `partially_fulfilled`: the refusal grounds. Also the grounds of a
    /// `correction` or `remedy` answer.
    pub grounds: Option<Vec<String>>,
    /// `complete` item by item (Art. 33(1),(5)): one entry per data set, in order. The overall
    /// outcome follows from the items (every item refused makes it a refusal, which needs
    /// `text` as the explanation). Instead of `outcome`.
    pub items: Option<Vec<ItemInput>>,
    /// `complete` for a correction (Art. 34): `corrected`, `partly_corrected` or
    /// `not_corrected` (the last two with `grounds`).
    pub correction: Option<String>,
    /// `correction`: what was investigated.
    pub investigated: Option<String>,
    /// `correction`: the content of the correction, as told to the subject (Art. 34(3)).
    pub content: Option<String>,
    /// `complete` for a suspension, erasure or third-party stop (Art. 35): `done` (with
    /// `measure`, `what`, `systems`, `done_on`), `alternative` (with `alternative`) or
    /// `not_done` (with `grounds`).
    pub remedy: Option<String>,
    /// `remedy`: `suspended_use`, `erased` or `stopped_provision`.
    pub measure: Option<String>,
    /// `remedy`: what was stopped or erased.
    pub what: Option<String>,
    /// `remedy`: where, i.e. in which systems.
    pub systems: Option<String>,
    /// `remedy`: when it was done (YYYY-MM-DD).
    #[schema(format = Date)]
    pub done_on: Option<String>,
    /// `remedy`: the alternative measure taken (Art. 35(2),(4),(6)).
    pub alternative: Option<String>,
}

/// One data set of an item-by-item answer.
#[derive(Debug, ToSchema)]
#[schema(example = json!({"label": "会員情報", "result": "disclosed"}))]
pub struct ItemInput {
    /// The data set's name (会員情報), not its content: one line, at most 100 characters.
    pub label: String,
    /// `disclosed`, `partially_disclosed`, `no_data`, `refused` or `under_other_law`.
    pub result: String,
    /// `partially_disclosed` and `refused`: the statutory grounds.
    pub grounds: Option<Vec<String>>,
    /// `under_other_law`: the law that provides the disclosure (Art. 33(4)).
    pub law: Option<String>,
}

/// `items` as the form's row fields (`item_label_1`, …), so one reader serves both.
fn item_fields(items: Vec<Value>) -> Result<Vec<(String, String)>, AppError> {
    use madoguchi_domain::answer::MAX_ITEMS;
    let field = |n: usize, code: &str, message: &str| {
        AppError::Validation(vec![crate::error::FieldError {
            field: format!("items[{n}]"),
            code: code.into(),
            message: message.into(),
        }])
    };
    if items.is_empty() {
        return Err(field(
            0,
            "required",
            "name at least one data set and its result",
        ));
    }
    if items.len() > MAX_ITEMS {
        return Err(field(MAX_ITEMS, "invalid", "too many data sets"));
    }
    let mut out = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let n = i + 1;
        let Value::Object(item) = item else {
            return Err(AppError::BadRequest("items: expected objects".into()));
        };
        let text = |k: &str| match item.get(k) {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(AppError::BadRequest(format!(
                "items[{i}].{k}: expected a string"
            ))),
        };
        let label = text("label")?;
        if label.trim().is_empty() {
            return Err(field(i, "required", "name the data set"));
        }
        out.push((format!("item_label_{n}"), label));
        out.push((format!("item_result_{n}"), text("result")?));
        out.push((format!("item_law_{n}"), text("law")?));
        match item.get("grounds") {
            None | Some(Value::Null) => {}
            Some(Value::Array(gs)) => {
                for g in gs {
                    let g = g.as_str().ok_or_else(|| {
                        AppError::BadRequest(format!("items[{i}].grounds: expected strings"))
                    })?;
                    out.push((format!("item_grounds_{n}"), g.to_owned()));
                }
            }
            Some(_) => {
                return Err(AppError::BadRequest(format!(
                    "items[{i}].grounds: expected an array"
                )));
            }
        }
    }
    Ok(out)
}

/// The fee per request kind, in yen.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeeTable {
    disclosure: i64,
    third_party_record_disclosure: i64,
    purpose_notification: i64,
    correction: i64,
    suspension_or_erasure: i64,
    third_party_stop: i64,
}

/// A new fee schedule: kinds left out cost nothing.
#[derive(Debug, ToSchema)]
#[schema(example = json!({"disclosure": 3000, "third_party_record_disclosure": 3000}))]
pub struct FeeUpdate {
    /// Fee for disclosure, in yen.
    pub disclosure: Option<i64>,
    /// Fee for disclosure of third-party records, in yen.
    pub third_party_record_disclosure: Option<i64>,
    /// Fee for notification of purposes, in yen.
    pub purpose_notification: Option<i64>,
    /// Correction is free by law; anything but 0 is refused.
    pub correction: Option<i64>,
    /// Suspension or erasure is free by law; anything but 0 is refused.
    pub suspension_or_erasure: Option<i64>,
    /// Stopping third-party provision is free by law; anything but 0 is refused.
    pub third_party_stop: Option<i64>,
}

/// A JSON body that could not be read, as the problem it is.
fn json_rejection(r: JsonRejection) -> AppError {
    match r {
        JsonRejection::MissingJsonContentType(_) => AppError::UnsupportedMediaType,
        r if r.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => AppError::TooLarge,
        r => AppError::BadRequest(r.body_text()),
    }
}

/// The queue, as JSON, with the same filters as the page.
#[utoipa::path(
    get,
    path = "/api/v1/staff/requests",
    tag = "staff",
    security(("bearer" = [])),
    params(
        ("q" = Option<String>, Query, description = "Search: request number, e-mail address or name"),
        ("state" = Option<String>, Query, description = "Only this state, e.g. `in_progress`"),
        ("kind" = Option<String>, Query, description = "Only this kind, e.g. `correction`"),
        ("jurisdiction" = Option<String>, Query, description = "Only this jurisdiction: `appi`, `gdpr` or `ccpa`"),
        ("assignee" = Option<String>, Query, description = "`me`, `none`, or an officer's row id"),
        ("due" = Option<String>, Query, description = "Due within this many days"),
        ("overdue" = Option<String>, Query, description = "Any value: only overdue requests"),
        ("waiting" = Option<String>, Query, description = "Any value: only requests waiting for the subject"),
        ("closed" = Option<String>, Query, description = "Any value: include closed requests"),
        ("after" = Option<String>, Query, description = "The `next` cursor of the previous page"),
        ("limit" = Option<String>, Query, description = "Page size (default 50, at most 200)"),
    ),
    responses(
        (status = 200, description = "One page of the queue", body = QueuePage),
        (status = 400, description = "Unreadable query string", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token's role may not read the queue", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_requests(
    State(state): State<AppState>,
    Extension(who): Extension<StaffIdentity>,
    query: Result<Query<QueueQuery>, QueryRejection>,
) -> Result<Json<QueuePage>, ApiError> {
    let Query(q) = query.map_err(|r| AppError::BadRequest(r.body_text()))?;
    let page = state
        .service
        .queue(&q.filter(&who), jst_date(Utc::now()))
        .await?;
    Ok(Json(QueuePage {
        items: page.rows.iter().map(summary).collect(),
        next: page.next.map(cursor_to_string),
    }))
}

/// One request with its data (the read is audited) and the actions allowed now.
#[utoipa::path(
    get,
    path = "/api/v1/staff/requests/{pid}",
    tag = "staff",
    security(("bearer" = [])),
    params(("pid" = String, Path, description = "The request's public id (a UUID)")),
    responses(
        (status = 200, description = "The request", body = RequestDetail),
        (status = 401, description = "No valid bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token's role may not read requests", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such request", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn show_request(
    State(state): State<AppState>,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    Path(pid): Path<String>,
) -> Result<Json<RequestDetail>, ApiError> {
    let pid = Uuid::parse_str(&pid).map_err(|_| AppError::NotFound)?;
    let now = Utc::now();
    let d = state
        .service
        .request_detail(pid, &who, &origin, now)
        .await?;
    let actions = available_events(&d.domain, &who.actor(), now);
    Ok(Json(RequestDetail {
        request: summary(&d.request),
        subject: SubjectData {
            name: d.request.subject_name.clone(),
            kana: d.request.subject_kana.clone(),
            email: madoguchi_service::email_of(&d.request).map(str::to_owned),
            requester: d.request.requester.clone(),
            details: d.request.details.clone(),
            date_of_birth: d.request.subject_birth_date.map(|b| b.to_string()),
            // The same warning the request page shows.
            adult_subject_age: madoguchi_domain::represented_adult_age(
                d.domain.requester,
                d.request.subject_birth_date,
                d.request.arrived_at,
                state.service.config().minor_age,
            ),
        },
        fee: d.request.fee,
        paid: d.request.paid,
        actions: actions.into_iter().map(str::to_owned).collect(),
        audit: d
            .audit
            .iter()
            .map(|e| AuditLine {
                seq: e.seq,
                at: e.at,
                action: e.action.clone(),
                actor: e.actor_kind.clone(),
                detail: e.detail.clone(),
            })
            .collect(),
    }))
}

/// Applies an event: `{"event": "approve_identity", "version": 2, "text": "...", ...}`.
#[utoipa::path(
    post,
    path = "/api/v1/staff/requests/{pid}/events",
    tag = "staff",
    security(("bearer" = [])),
    params(("pid" = String, Path, description = "The request's public id (a UUID)")),
    request_body(content = EventInput, content_type = "application/json"),
    responses(
        (status = 200, description = "Applied", body = Applied),
        (status = 400, description = "Unreadable body, or `version` missing", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token's role may not send this event", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such request", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Stale version, or the event does not fit the state", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown event or invalid field", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn apply_event(
    State(state): State<AppState>,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    Path(pid): Path<String>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<Applied>, ApiError> {
    let pid = Uuid::parse_str(&pid).map_err(|_| AppError::NotFound)?;
    let Json(body) = body.map_err(json_rejection)?;
    let Value::Object(map) = body else {
        return Err(AppError::BadRequest("expected an object".into()).into());
    };
    let mut fields = Vec::new();
    for (k, v) in map {
        match v {
            Value::Array(items) if k == "items" => fields.extend(item_fields(items)?),
            _ if k == "items" && !v.is_null() => {
                return Err(AppError::BadRequest("items: expected an array".into()).into());
            }
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
    let answer = super::answer::answer_from_fields(&fields)?.filter(|_| event.name() == "complete");
    let row = super::answer::Action {
        event: &event,
        text: &text,
        answer,
    }
    .send(&state.service, pid, version, &who, &origin)
    .await?;
    Ok(Json(Applied {
        request: summary(&row),
    }))
}

/// The fee schedule.
#[utoipa::path(
    get,
    path = "/api/v1/staff/settings/fees",
    tag = "staff",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The fee per kind, in yen", body = FeeTable),
        (status = 401, description = "No valid bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Administrators and auditors only", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn show_fees(State(state): State<AppState>) -> Result<Json<FeeTable>, ApiError> {
    let fees = state.service.fee_schedule().await?;
    let fee = |k| fees.fee(k).0;
    Ok(Json(FeeTable {
        disclosure: fee(RequestKind::Disclosure),
        third_party_record_disclosure: fee(RequestKind::ThirdPartyRecordDisclosure),
        purpose_notification: fee(RequestKind::PurposeNotification),
        correction: fee(RequestKind::Correction),
        suspension_or_erasure: fee(RequestKind::SuspensionOrErasure),
        third_party_stop: fee(RequestKind::ThirdPartyStop),
    }))
}

/// Replaces the fee schedule: `{"disclosure": 3000, ...}`; kinds left out cost nothing.
#[utoipa::path(
    put,
    path = "/api/v1/staff/settings/fees",
    tag = "staff",
    security(("bearer" = [])),
    request_body(content = FeeUpdate, content_type = "application/json"),
    responses(
        (status = 200, description = "The new fee per kind, in yen", body = FeeTable),
        (status = 400, description = "Unreadable body, unknown kind, or an amount that is not an integer", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Administrators only", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A fee the law does not allow (Art. 38)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update_fees(
    State(state): State<AppState>,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    body: Bytes,
) -> Result<Json<FeeTable>, ApiError> {
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
