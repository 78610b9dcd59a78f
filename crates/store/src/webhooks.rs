//! Outgoing webhooks: endpoints (their signing secret sealed) and deliveries. A delivery is
//! written in the transaction of the change it reports (`enqueue`, called by
//! `change::commit`), claimed by one instance at a time under a lease (`FOR UPDATE SKIP
//! LOCKED` on PostgreSQL, one atomic `UPDATE … RETURNING` on SQLite), and its outcome
//! recorded: delivered, due again after a backoff, or failed for good after the last try.

use chrono::{DateTime, Duration, SubsecRound, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Statement,
};
use uuid::Uuid;

use crate::audit::{NewEntry, Origin};
use crate::entities::{webhook_delivery, webhook_endpoint};
use crate::sealed::RowCipher;
use crate::{Db, StoreError};

/// Waiting to be sent (or sent again).
pub const PENDING: &str = "pending";
/// Claimed by an instance under a lease.
pub const SENDING: &str = "sending";
/// The receiver answered 2xx.
pub const DELIVERED: &str = "delivered";
/// Gave up after the last try (an administrator can replay it).
pub const FAILED: &str = "failed";

/// The chain endpoint changes are recorded on.
pub const CHAIN: &str = "webhooks";

fn secret_aad(pid: Uuid) -> String {
    format!("webhook_endpoint:{pid}:secret")
}

/// An endpoint, its secret opened (for signing).
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The row.
    pub row: webhook_endpoint::Model,
    /// The signing secret.
    pub secret: String,
}

impl Endpoint {
    /// Whether it wants `event`.
    pub fn wants(&self, event: &str) -> bool {
        self.row.events.split(',').any(|e| e.trim() == event)
    }
}

/// Registers an endpoint with its entry; returns its public id.
pub async fn add_endpoint(
    db: &Db,
    cipher: &RowCipher,
    (url, events, secret): (&str, &[&str], &str),
    entry: impl FnOnce(Uuid) -> NewEntry,
    origin: &Origin,
    now: DateTime<Utc>,
) -> Result<Uuid, StoreError> {
    let pid = Uuid::new_v4();
    let tx = db.begin_write().await?;
    webhook_endpoint::Entity::insert(webhook_endpoint::ActiveModel {
        pid: Set(pid),
        url: Set(url.to_owned()),
        events: Set(events.join(",")),
        secret: Set(cipher.seal(&secret_aad(pid), secret)),
        active: Set(true),
        created_at: Set(now.trunc_subsecs(6)),
        ..Default::default()
    })
    .exec(&tx)
    .await?;
    crate::change::record_office(&tx, CHAIN, &[entry(pid)], origin, now).await?;
    tx.commit().await?;
    Ok(pid)
}

/// Stops an endpoint (its pending deliveries are not sent), with its entry.
pub async fn disable_endpoint(
    db: &Db,
    pid: Uuid,
    entry: NewEntry,
    origin: &Origin,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let tx = db.begin_write().await?;
    let changed = webhook_endpoint::Entity::update_many()
        .col_expr(webhook_endpoint::Column::Active, Expr::value(false))
        .filter(webhook_endpoint::Column::Pid.eq(pid))
        .filter(webhook_endpoint::Column::Active.eq(true))
        .exec(&tx)
        .await?;
    if changed.rows_affected != 1 {
        return Err(StoreError::NotFound);
    }
    // What was waiting for it will not go: said so, not left waiting for ever.
    let id: Option<i64> = webhook_endpoint::Entity::find()
        .select_only()
        .column(webhook_endpoint::Column::Id)
        .filter(webhook_endpoint::Column::Pid.eq(pid))
        .into_tuple()
        .one(&tx)
        .await?;
    webhook_delivery::Entity::update_many()
        .col_expr(webhook_delivery::Column::Status, Expr::value(FAILED))
        .col_expr(
            webhook_delivery::Column::LastError,
            Expr::value(Some("the endpoint was stopped")),
        )
        .filter(webhook_delivery::Column::EndpointId.eq(id.unwrap_or_default()))
        .filter(webhook_delivery::Column::Status.is_in([PENDING, SENDING]))
        .exec(&tx)
        .await?;
    crate::change::record_office(&tx, CHAIN, &[entry], origin, now).await?;
    tx.commit().await?;
    Ok(())
}

/// Whether an active endpoint already has this URL.
pub async fn active_url<C: ConnectionTrait>(db: &C, url: &str) -> Result<bool, StoreError> {
    use sea_orm::PaginatorTrait;
    Ok(webhook_endpoint::Entity::find()
        .filter(webhook_endpoint::Column::Url.eq(url))
        .filter(webhook_endpoint::Column::Active.eq(true))
        .count(db)
        .await?
        > 0)
}

/// Re-seals every endpoint's secret not sealed under the current key; returns how many.
pub async fn reseal_all<C: ConnectionTrait>(
    db: &C,
    cipher: &RowCipher,
) -> Result<usize, StoreError> {
    let mut changed = 0;
    for e in webhook_endpoint::Entity::find().all(db).await? {
        if cipher.is_current(&e.secret) {
            continue;
        }
        let aad = secret_aad(e.pid);
        let plain = cipher.open(&aad, &e.secret)?;
        changed += webhook_endpoint::Entity::update_many()
            .col_expr(
                webhook_endpoint::Column::Secret,
                Expr::value(cipher.seal(&aad, &plain)),
            )
            .filter(webhook_endpoint::Column::Id.eq(e.id))
            .filter(webhook_endpoint::Column::Secret.eq(e.secret))
            .exec(db)
            .await?
            .rows_affected as usize;
    }
    Ok(changed)
}

/// Every endpoint (the administrator's page), newest first; secrets not opened.
pub async fn endpoints<C: ConnectionTrait>(
    db: &C,
) -> Result<Vec<webhook_endpoint::Model>, StoreError> {
    Ok(webhook_endpoint::Entity::find()
        .order_by_desc(webhook_endpoint::Column::Id)
        .all(db)
        .await?)
}

/// One delivery of `event` for each active endpoint that wants it, as one insert that reads
/// the endpoints itself (no round trip to read them first), for a change's
/// [`crate::batch::Batch`]. `payload` is the event's data; its envelope (the delivery's id,
/// the event's name and time) is added when it is sent ([`body`]).
pub(crate) fn enqueue_statement(
    backend: sea_orm::DatabaseBackend,
    event: &str,
    payload: &serde_json::Value,
    now: DateTime<Utc>,
) -> sea_orm::sea_query::InsertStatement {
    use sea_orm::sea_query::Query;
    let now = now.trunc_subsecs(6);
    // Each delivery's own random id, made by the database (one per endpoint found): a
    // version-4 UUID, stored as PostgreSQL's uuid and as SQLite's 16-byte blob (as sqlx binds
    // a `Uuid` there). `random() & 3` picks the variant's 8, 9, a or b.
    let (pid, wants) = match backend {
        sea_orm::DatabaseBackend::Postgres => (
            "gen_random_uuid()",
            "strpos(',' || \"events\" || ',', $1) > 0",
        ),
        _ => (
            "unhex(hex(randomblob(6)) || '4' || substr(hex(randomblob(2)), 2) || \
             substr('89ab', 1 + (random() & 3), 1) || substr(hex(randomblob(2)), 2) || \
             hex(randomblob(6)))",
            "instr(',' || \"events\" || ',', ?) > 0",
        ),
    };
    let select = Query::select()
        .expr(Expr::cust(pid))
        .column(webhook_endpoint::Column::Id)
        .expr(Expr::val(event))
        .expr(Expr::val(payload.to_string()))
        .expr(Expr::val(PENDING))
        .expr(Expr::val(0i32))
        // Due at once in real time, whatever logical time the change ran at.
        .expr(Expr::val(now.min(Utc::now().trunc_subsecs(6))))
        .expr(Expr::val(now))
        .from(webhook_endpoint::Entity)
        .and_where(webhook_endpoint::Column::Active.eq(true))
        .and_where(Expr::cust_with_values(wants, [format!(",{event},")]))
        .to_owned();
    Query::insert()
        .into_table(webhook_delivery::Entity)
        .columns([
            webhook_delivery::Column::Pid,
            webhook_delivery::Column::EndpointId,
            webhook_delivery::Column::Event,
            webhook_delivery::Column::Payload,
            webhook_delivery::Column::Status,
            webhook_delivery::Column::Attempts,
            webhook_delivery::Column::NextAttemptAt,
            webhook_delivery::Column::CreatedAt,
        ])
        .select_from(select)
        .expect("the select has a value for every column")
        .to_owned()
}

/// Writes one delivery of `event` for each active endpoint that wants it, in the caller's
/// transaction ([`enqueue_statement`] sent at once).
pub(crate) async fn enqueue<C: ConnectionTrait>(
    tx: &C,
    event: &str,
    payload: &serde_json::Value,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let insert = enqueue_statement(tx.get_database_backend(), event, payload, now);
    tx.execute(&insert).await?;
    Ok(())
}

/// The body a delivery sends: its stored event data in the envelope of the delivery's id, the
/// event's name and the time it happened (the same on every try, so a receiver can tell a
/// repeat).
pub fn body(delivery: &webhook_delivery::Model) -> serde_json::Value {
    let mut body: serde_json::Value = serde_json::from_str(&delivery.payload).unwrap_or_default();
    body["id"] = serde_json::Value::String(delivery.pid.to_string());
    body["type"] = serde_json::Value::String(delivery.event.clone());
    body["created_at"] = serde_json::Value::String(delivery.created_at.to_rfc3339());
    body
}

async fn active_endpoints<C: ConnectionTrait>(
    tx: &C,
) -> Result<Vec<webhook_endpoint::Model>, StoreError> {
    Ok(webhook_endpoint::Entity::find()
        .filter(webhook_endpoint::Column::Active.eq(true))
        .all(tx)
        .await?)
}

/// The deliveries of `event` to every endpoint of `endpoints` that wants it.
fn deliveries(
    endpoints: &[webhook_endpoint::Model],
    event: &str,
    payload: &serde_json::Value,
    key: Option<&str>,
    now: DateTime<Utc>,
) -> Vec<webhook_delivery::ActiveModel> {
    let now = now.trunc_subsecs(6);
    endpoints
        .iter()
        .filter(|e| e.events.split(',').any(|x| x.trim() == event))
        .map(|e| webhook_delivery::ActiveModel {
            pid: Set(Uuid::new_v4()),
            endpoint_id: Set(e.id),
            event: Set(event.to_owned()),
            payload: Set(payload.to_string()),
            status: Set(PENDING.to_owned()),
            attempts: Set(0),
            next_attempt_at: Set(now.min(Utc::now().trunc_subsecs(6))),
            claimed_until: Set(None),
            last_error: Set(None),
            response_status: Set(None),
            created_at: Set(now),
            delivered_at: Set(None),
            dedupe_key: Set(key.map(str::to_owned)),
            ..Default::default()
        })
        .collect()
}

/// An event a timer found (a deadline near or passed), with the key that makes it one.
#[derive(Debug, Clone)]
pub struct Found {
    /// The event's name.
    pub event: &'static str,
    /// Its payload (no personal data).
    pub payload: serde_json::Value,
    /// Unique per event: the same key is delivered once per endpoint, however often found.
    pub key: String,
}

/// Writes the deliveries of events a timer found, each at most once per endpoint (a key seen
/// before is skipped, on every instance); returns how many deliveries were written.
pub async fn enqueue_found(
    db: &Db,
    found: &[Found],
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    if found.is_empty() {
        return Ok(0);
    }
    let tx = db.begin_write().await?;
    let endpoints = active_endpoints(&tx).await?;
    let mut written = 0;
    for f in found {
        for row in deliveries(&endpoints, f.event, &f.payload, Some(&f.key), now) {
            written += webhook_delivery::Entity::insert(row)
                .on_conflict(
                    sea_orm::sea_query::OnConflict::columns([
                        webhook_delivery::Column::EndpointId,
                        webhook_delivery::Column::DedupeKey,
                    ])
                    .do_nothing()
                    .to_owned(),
                )
                .exec_without_returning(&tx)
                .await?;
        }
    }
    tx.commit().await?;
    Ok(written)
}

/// A request's event payload: its number, kind, state, due day and staff page; no personal
/// data.
pub fn request_payload(
    row: &crate::entities::request::Model,
    state: &str,
    previous: Option<&str>,
    due_on: chrono::NaiveDate,
) -> serde_json::Value {
    let mut data = serde_json::json!({
        "number": row.number,
        "kind": row.kind,
        "state": state,
        "due_on": due_on.to_string(),
        "path": format!("/staff/requests/{}", row.pid),
    });
    if let Some(p) = previous {
        data["previous_state"] = serde_json::Value::String(p.to_owned());
    }
    serde_json::json!({ "data": data })
}

/// Open requests whose clock runs and whose due day is before `before` (the deadline events'
/// candidates), soonest first, at most `limit`.
pub async fn requests_due_before<C: ConnectionTrait>(
    db: &C,
    before: chrono::NaiveDate,
    limit: u64,
) -> Result<Vec<crate::entities::request::Model>, StoreError> {
    use crate::entities::request;
    Ok(request::Entity::find()
        .filter(crate::requests::open_condition())
        .filter(request::Column::PausedSince.is_null())
        .filter(request::Column::DueOn.lt(before))
        .order_by_asc(request::Column::DueOn)
        .limit(limit)
        .all(db)
        .await?)
}

/// Whether any active endpoint wants one of `events` (timers skip their search otherwise).
pub async fn anyone_wants<C: ConnectionTrait>(db: &C, events: &[&str]) -> Result<bool, StoreError> {
    Ok(webhook_endpoint::Entity::find()
        .filter(webhook_endpoint::Column::Active.eq(true))
        .all(db)
        .await?
        .iter()
        .any(|e| e.events.split(',').any(|x| events.contains(&x.trim()))))
}

/// A claimed delivery with where it goes and how it is signed.
#[derive(Debug, Clone)]
pub struct Claimed {
    /// The delivery.
    pub delivery: webhook_delivery::Model,
    /// Its endpoint, secret opened.
    pub endpoint: Endpoint,
}

/// Claims up to `limit` due deliveries of active endpoints for `lease`. Expired leases are
/// taken over.
pub async fn claim(
    db: &Db,
    cipher: &RowCipher,
    limit: u64,
    lease: Duration,
    now: DateTime<Utc>,
) -> Result<Vec<Claimed>, StoreError> {
    let conn = db.conn();
    let backend = conn.get_database_backend();
    let now = now.trunc_subsecs(6);
    let until = now + lease;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    // One id per claim: a sender whose lease was taken over (even after a replay reset the
    // attempts) records nothing.
    let claim = Uuid::new_v4();
    let (sql, values): (&str, Vec<sea_orm::Value>) = match backend {
        DatabaseBackend::Postgres => (
            "UPDATE webhook_deliveries SET status = 'sending', claimed_until = $1, \
             attempts = attempts + 1, claim_id = $4 \
             WHERE id IN (SELECT d.id FROM webhook_deliveries d \
                JOIN webhook_endpoints e ON e.id = d.endpoint_id AND e.active \
                WHERE (d.status = 'pending' AND d.next_attempt_at <= $2) \
                   OR (d.status = 'sending' AND d.claimed_until < $2) \
                ORDER BY d.next_attempt_at, d.id LIMIT $3 FOR UPDATE OF d SKIP LOCKED) \
             RETURNING *",
            vec![until.into(), now.into(), limit.into(), claim.into()],
        ),
        _ => (
            "UPDATE webhook_deliveries SET status = 'sending', claimed_until = ?, \
             attempts = attempts + 1, claim_id = ? \
             WHERE id IN (SELECT d.id FROM webhook_deliveries d \
                JOIN webhook_endpoints e ON e.id = d.endpoint_id AND e.active \
                WHERE (d.status = 'pending' AND d.next_attempt_at <= ?) \
                   OR (d.status = 'sending' AND d.claimed_until < ?) \
                ORDER BY d.next_attempt_at, d.id LIMIT ?) \
             RETURNING *",
            vec![
                until.into(),
                claim.into(),
                now.into(),
                now.into(),
                limit.into(),
            ],
        ),
    };
    let mut rows = webhook_delivery::Entity::find()
        .from_raw_sql(Statement::from_sql_and_values(backend, sql, values))
        .all(conn)
        .await?;
    rows.sort_by_key(|r| r.id);
    let ids: Vec<i64> = rows.iter().map(|r| r.endpoint_id).collect();
    let endpoints = webhook_endpoint::Entity::find()
        .filter(webhook_endpoint::Column::Id.is_in(ids))
        .all(conn)
        .await?;
    let mut claimed = Vec::with_capacity(rows.len());
    for delivery in rows {
        let Some(row) = endpoints
            .iter()
            .find(|e| e.id == delivery.endpoint_id)
            .cloned()
        else {
            continue;
        };
        match cipher.open(&secret_aad(row.pid), &row.secret) {
            Ok(secret) => claimed.push(Claimed {
                delivery,
                endpoint: Endpoint { row, secret },
            }),
            // A secret no key opens (its key dropped after a rotation): this delivery fails
            // for good, named, and the others of the batch go on.
            Err(_) => {
                finish(
                    conn,
                    delivery.id,
                    delivery.claim_id,
                    Outcome::NotDelivered {
                        status: None,
                        error: "the endpoint's secret cannot be opened with the keys in use".into(),
                        retry_at: None,
                    },
                    now,
                )
                .await?;
            }
        }
    }
    Ok(claimed)
}

/// How one try ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// 2xx.
    Delivered {
        /// The status the receiver answered.
        status: u16,
    },
    /// Anything else: due again at `retry_at`, or failed for good when there is none.
    NotDelivered {
        /// The status, if the receiver answered.
        status: Option<u16>,
        /// What went wrong (never the payload).
        error: String,
        /// When to try again.
        retry_at: Option<DateTime<Utc>>,
    },
}

/// Records a try's outcome (only while the delivery is still under this claim, so a slow
/// instance whose lease was taken over records nothing).
pub async fn finish<C: ConnectionTrait>(
    db: &C,
    id: i64,
    claim: Option<Uuid>,
    outcome: Outcome,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    use webhook_delivery::Column as C;
    let now = now.trunc_subsecs(6);
    let update = webhook_delivery::Entity::update_many()
        .col_expr(C::ClaimedUntil, Expr::value(Option::<DateTime<Utc>>::None))
        .filter(C::Id.eq(id))
        .filter(C::ClaimId.eq(claim))
        .filter(C::Status.eq(SENDING));
    let update = match outcome {
        Outcome::Delivered { status } => update
            .col_expr(C::Status, Expr::value(DELIVERED))
            .col_expr(C::ResponseStatus, Expr::value(Some(i32::from(status))))
            .col_expr(C::DeliveredAt, Expr::value(Some(now)))
            .col_expr(C::LastError, Expr::value(Option::<String>::None)),
        Outcome::NotDelivered {
            status,
            error,
            retry_at,
        } => {
            let error: String = error.chars().take(300).collect();
            let update = update
                .col_expr(C::ResponseStatus, Expr::value(status.map(i32::from)))
                .col_expr(C::LastError, Expr::value(Some(error)));
            match retry_at {
                Some(at) => update
                    .col_expr(C::Status, Expr::value(PENDING))
                    .col_expr(C::NextAttemptAt, Expr::value(at.trunc_subsecs(6))),
                None => update
                    .col_expr(C::Status, Expr::value(FAILED))
                    .col_expr(C::NextAttemptAt, Expr::value(now)),
            }
        }
    };
    update.exec(db).await?;
    Ok(())
}

/// The latest deliveries (the administrator's page), newest first.
pub async fn recent<C: ConnectionTrait>(
    db: &C,
    limit: u64,
) -> Result<Vec<webhook_delivery::Model>, StoreError> {
    Ok(webhook_delivery::Entity::find()
        .order_by_desc(webhook_delivery::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

/// Sends a failed delivery again (its attempts start over), with its entry; refused unless it
/// failed and its endpoint is active, so two clicks replay it once.
pub async fn replay(
    db: &Db,
    pid: Uuid,
    entry: NewEntry,
    origin: &Origin,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    use webhook_delivery::Column as C;
    let tx = db.begin_write().await?;
    let active: Vec<i64> = webhook_endpoint::Entity::find()
        .select_only()
        .column(webhook_endpoint::Column::Id)
        .filter(webhook_endpoint::Column::Active.eq(true))
        .into_tuple()
        .all(&tx)
        .await?;
    let changed = webhook_delivery::Entity::update_many()
        .col_expr(C::Status, Expr::value(PENDING))
        .col_expr(C::Attempts, Expr::value(0))
        .col_expr(C::NextAttemptAt, Expr::value(now.trunc_subsecs(6)))
        .col_expr(C::LastError, Expr::value(Option::<String>::None))
        .col_expr(C::ResponseStatus, Expr::value(Option::<i32>::None))
        .filter(C::Pid.eq(pid))
        .filter(C::Status.eq(FAILED))
        // A stopped endpoint's delivery stays failed.
        .filter(C::EndpointId.is_in(active))
        .exec(&tx)
        .await?;
    if changed.rows_affected != 1 {
        return Err(StoreError::Conflict);
    }
    crate::change::record_office(&tx, CHAIN, &[entry], origin, now).await?;
    tx.commit().await?;
    Ok(())
}
