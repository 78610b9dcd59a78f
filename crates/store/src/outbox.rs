//! The mail outbox. Rows are written in the transaction that decided to send them; workers on
//! any instance claim due rows with `FOR UPDATE SKIP LOCKED` (PostgreSQL) or a single atomic
//! `UPDATE … RETURNING` (SQLite, whose writers are serialised), under a lease. A worker that
//! dies mid-send leaves its lease to expire, and the message is sent again with the same
//! Message-ID, so the recipient's mail system can recognise the duplicate.

use chrono::{DateTime, Duration, SubsecRound, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, Statement, sea_query::Expr,
};
use uuid::Uuid;

use crate::entities::outbox::{self, Entity as Outbox};
use crate::error::StoreError;
use crate::sealed::RowCipher;

/// Waiting to be sent (or retried).
pub const PENDING: &str = "pending";
/// Claimed by a worker under a lease.
pub const SENDING: &str = "sending";
/// Accepted by the transport.
pub const SENT: &str = "sent";
/// Gave up after the last attempt; shown to staff.
pub const FAILED: &str = "failed";
/// A notice to a requester without an e-mail address: printed and posted by a clerk, never
/// sent by the worker. `recipient` holds the postal address.
pub const LETTER: &str = "letter";
/// A letter the clerk recorded as posted.
pub const POSTED: &str = "posted";

/// A message to enqueue.
#[derive(Debug, Clone)]
pub struct NewMessage {
    /// The request it is about, if any.
    pub request_id: Option<i64>,
    /// The address.
    pub recipient: String,
    /// The reader's language.
    pub lang: madoguchi_domain::Lang,
    /// Template name.
    pub template: String,
    /// What the template needs, as JSON.
    pub context: serde_json::Value,
    /// A letter to print and post (`recipient` is then the postal address), not a mail.
    pub by_post: bool,
}

/// Enqueues messages in the caller's transaction, their recipient and context sealed;
/// returns their Message-IDs in order. Inserted in chunks (a notice run may be thousands of
/// messages; SQLite takes at most 32,766 values in one statement).
pub(crate) async fn enqueue<C: ConnectionTrait>(
    db: &C,
    cipher: &RowCipher,
    messages: Vec<NewMessage>,
    host: &str,
    now: DateTime<Utc>,
) -> Result<Vec<String>, StoreError> {
    let (statements, ids) = insert_statements(cipher, messages, host, now);
    for s in &statements {
        db.execute(s).await?;
    }
    Ok(ids)
}

/// The inserts of messages, sealed, for a change's [`crate::batch::Batch`], and their
/// Message-IDs in order.
pub(crate) fn insert_statements(
    cipher: &RowCipher,
    messages: Vec<NewMessage>,
    host: &str,
    now: DateTime<Utc>,
) -> (Vec<sea_orm::sea_query::InsertStatement>, Vec<String>) {
    let ids: Vec<String> = messages
        .iter()
        .map(|_| format!("<{}@{host}>", Uuid::new_v4()))
        .collect();
    let mut messages = messages.into_iter().zip(ids.iter().cloned()).peekable();
    let mut statements = Vec::new();
    while messages.peek().is_some() {
        let chunk: Vec<_> = messages.by_ref().take(500).collect();
        statements.push(insert_chunk(cipher, chunk, now));
    }
    (statements, ids)
}

fn insert_chunk(
    cipher: &RowCipher,
    messages: Vec<(NewMessage, String)>,
    now: DateTime<Utc>,
) -> sea_orm::sea_query::InsertStatement {
    use sea_orm::QueryTrait;
    let now = now.trunc_subsecs(6);
    let rows = messages.into_iter().map(|(m, message_id)| {
        let (recipient, context) =
            cipher.seal_message(&message_id, &m.recipient, &m.context.to_string());
        outbox::ActiveModel {
            message_id: Set(message_id),
            request_id: Set(m.request_id),
            recipient: Set(recipient),
            lang: Set(m.lang.as_str().to_owned()),
            template: Set(m.template),
            context: Set(context),
            status: Set(if m.by_post { LETTER } else { PENDING }.to_owned()),
            attempts: Set(0),
            // Due at once in real time, whatever logical time the transition ran at.
            next_attempt_at: Set(now.min(Utc::now().trunc_subsecs(6))),
            claimed_until: Set(None),
            last_error: Set(None),
            created_at: Set(now),
            sent_at: Set(None),
            ..Default::default()
        }
    });
    Outbox::insert_many(rows).into_query()
}

/// Claims up to `limit` due messages for `lease`, opened. Expired leases are reclaimed.
pub async fn claim<C: ConnectionTrait>(
    db: &C,
    cipher: &RowCipher,
    limit: u64,
    lease: Duration,
    now: DateTime<Utc>,
) -> Result<Vec<outbox::Model>, StoreError> {
    let backend = db.get_database_backend();
    let now = now.trunc_subsecs(6);
    let until = now + lease;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let (sql, values): (&str, Vec<sea_orm::Value>) = match backend {
        DatabaseBackend::Postgres => (
            "UPDATE outbox SET status = 'sending', claimed_until = $1, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM outbox \
                WHERE (status = 'pending' AND next_attempt_at <= $2) \
                   OR (status = 'sending' AND claimed_until < $2) \
                ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED) \
             RETURNING *",
            vec![until.into(), now.into(), limit.into()],
        ),
        _ => (
            "UPDATE outbox SET status = 'sending', claimed_until = ?, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM outbox \
                WHERE (status = 'pending' AND next_attempt_at <= ?) \
                   OR (status = 'sending' AND claimed_until < ?) \
                ORDER BY next_attempt_at, id LIMIT ?) \
             RETURNING *",
            vec![until.into(), now.into(), now.into(), limit.into()],
        ),
    };
    let mut rows = Outbox::find()
        .from_raw_sql(Statement::from_sql_and_values(backend, sql, values))
        .all(db)
        .await?;
    rows.sort_by_key(|r| r.id);
    let mut opened = Vec::with_capacity(rows.len());
    for row in rows {
        let id = row.id;
        match cipher.open_message(row) {
            Ok(m) => opened.push(m),
            // A row that does not open (its key left the ring, or it was altered) fails on
            // its own, visibly, instead of blocking every batch it would be claimed in.
            Err(e) => {
                tracing::error!(message = id, error = %e, "an outbox row cannot be opened");
                Outbox::update_many()
                    .col_expr(outbox::Column::Status, Expr::value(FAILED))
                    .col_expr(
                        outbox::Column::LastError,
                        Expr::value("the message cannot be decrypted with the configured keys"),
                    )
                    .col_expr(
                        outbox::Column::ClaimedUntil,
                        Expr::value(None::<DateTime<Utc>>),
                    )
                    .filter(outbox::Column::Id.eq(id))
                    .exec(db)
                    .await?;
            }
        }
    }
    Ok(opened)
}

/// How one delivery attempt ended.
#[derive(Debug, Clone)]
pub enum Delivery {
    /// The transport accepted the message.
    Sent,
    /// It did not; `retry_at` is when to try again, `None` when the message failed for good.
    NotSent {
        /// The transport's error (may name the address: kept on the row, never in the trail).
        error: String,
        /// When to try again.
        retry_at: Option<DateTime<Utc>>,
    },
}

/// The chain every delivery outcome is appended to (`docs/audit.md`).
pub const MAIL_CHAIN: &str = "mail";

/// Records how a batch of deliveries ended and appends one entry per message to the `mail`
/// audit chain, in one transaction: the trail says which message was sent or failed exactly
/// when the outbox does. The entries name the message, template, attempt and request, never
/// the address or the transport's error text (which often quotes the address).
pub async fn record_deliveries(
    db: &crate::Db,
    done: &[(outbox::Model, Delivery)],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    use crate::audit::{NewEntry, Origin};
    if done.is_empty() {
        return Ok(());
    }
    let tx = db.begin_write().await?;
    let sent: Vec<i64> = done
        .iter()
        .filter(|(_, d)| matches!(d, Delivery::Sent))
        .map(|(m, _)| m.id)
        .collect();
    if !sent.is_empty() {
        mark_sent_all(&tx, &sent, now).await?;
    }
    let mut entries = Vec::with_capacity(done.len());
    let mut requests = Vec::with_capacity(done.len());
    for (m, d) in done {
        let action = match d {
            Delivery::Sent => "mail.sent",
            Delivery::NotSent { error, retry_at } => {
                mark_attempt_failed(&tx, m.id, error, *retry_at, now).await?;
                if retry_at.is_some() {
                    "mail.retrying"
                } else {
                    "mail.failed"
                }
            }
        };
        let mut detail = vec![
            ("outbox_id".to_owned(), m.id.to_string()),
            ("template".to_owned(), m.template.clone()),
            ("attempt".to_owned(), m.attempts.to_string()),
        ];
        if let Some(r) = m.request_id {
            detail.push(("request_id".to_owned(), r.to_string()));
        }
        entries.push(NewEntry {
            actor_kind: "system".into(),
            actor_id: None,
            role: None,
            action: action.into(),
            detail,
        });
        requests.push(m.request_id);
    }
    crate::change::record_office_for(
        &tx,
        MAIL_CHAIN,
        &entries,
        &requests,
        &Origin::default(),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

async fn mark_sent_all<C: ConnectionTrait>(
    db: &C,
    ids: &[i64],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    Outbox::update_many()
        .col_expr(outbox::Column::Status, Expr::value(SENT))
        .col_expr(outbox::Column::SentAt, Expr::value(now.trunc_subsecs(6)))
        .col_expr(
            outbox::Column::ClaimedUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            outbox::Column::LastError,
            Expr::value(Option::<String>::None),
        )
        .filter(outbox::Column::Id.is_in(ids.iter().copied()))
        .exec(db)
        .await?;
    Ok(())
}

/// Puts a message back for a later attempt, or marks it failed when `retry_at` is `None`. A
/// failed message keeps the time of its last attempt (`now`) in `next_attempt_at`, which is
/// how the failing-mail alert tells new failures from old ones.
pub async fn mark_attempt_failed<C: ConnectionTrait>(
    db: &C,
    id: i64,
    error: &str,
    retry_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let error: String = error.chars().take(1000).collect();
    let mut update = Outbox::update_many()
        .col_expr(outbox::Column::LastError, Expr::value(error))
        .col_expr(
            outbox::Column::ClaimedUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        );
    update = match retry_at {
        Some(at) => update
            .col_expr(outbox::Column::Status, Expr::value(PENDING))
            .col_expr(
                outbox::Column::NextAttemptAt,
                Expr::value(at.trunc_subsecs(6)),
            ),
        None => update
            .col_expr(outbox::Column::Status, Expr::value(FAILED))
            .col_expr(
                outbox::Column::NextAttemptAt,
                Expr::value(now.trunc_subsecs(6)),
            ),
    };
    update.filter(outbox::Column::Id.eq(id)).exec(db).await?;
    Ok(())
}

/// Puts a failed message back in the queue (staff "retry").
pub async fn retry_failed<C: ConnectionTrait>(
    db: &C,
    id: i64,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let r = Outbox::update_many()
        .col_expr(outbox::Column::Status, Expr::value(PENDING))
        .col_expr(outbox::Column::Attempts, Expr::value(0))
        .col_expr(
            outbox::Column::NextAttemptAt,
            Expr::value(now.trunc_subsecs(6)),
        )
        .filter(outbox::Column::Id.eq(id))
        .filter(outbox::Column::Status.eq(FAILED))
        .exec(db)
        .await?;
    Ok(r.rows_affected == 1)
}

/// Messages not yet sent or failed (pending or claimed).
pub async fn unsent_count<C: ConnectionTrait>(db: &C) -> Result<u64, StoreError> {
    Ok(Outbox::find()
        .filter(outbox::Column::Status.is_in([PENDING, SENDING]))
        .count(db)
        .await?)
}

/// A request's messages, oldest first.
pub async fn for_request<C: ConnectionTrait>(
    db: &C,
    cipher: &RowCipher,
    request_id: i64,
) -> Result<Vec<outbox::Model>, StoreError> {
    Outbox::find()
        .filter(outbox::Column::RequestId.eq(request_id))
        .order_by_asc(outbox::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|r| cipher.open_message(r))
        .collect()
}

/// Delivery trouble since `since`, leaving out `except` (the alert itself): messages that
/// failed for good (their last attempt was after `since`) and messages still retrying
/// after at least `retrying_after` attempts. Returns (failed, retrying).
pub async fn trouble_since<C: ConnectionTrait>(
    db: &C,
    since: DateTime<Utc>,
    retrying_after: i32,
    except: &str,
) -> Result<(u64, u64), StoreError> {
    let failed = Outbox::find()
        .filter(outbox::Column::Status.eq(FAILED))
        .filter(outbox::Column::NextAttemptAt.gt(since))
        .filter(outbox::Column::Template.ne(except))
        .count(db)
        .await?;
    let retrying = Outbox::find()
        .filter(outbox::Column::Status.is_in([PENDING, SENDING]))
        .filter(outbox::Column::Attempts.gte(retrying_after))
        .filter(outbox::Column::Template.ne(except))
        .count(db)
        .await?;
    Ok((failed, retrying))
}

/// Failed messages, newest first (the admin page).
pub async fn failed<C: ConnectionTrait>(
    db: &C,
    cipher: &RowCipher,
) -> Result<Vec<outbox::Model>, StoreError> {
    Outbox::find()
        .filter(outbox::Column::Status.eq(FAILED))
        .order_by_desc(outbox::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|r| cipher.open_message(r))
        .collect()
}

/// Re-seals every message's recipient and context not sealed under the current key. Returns
/// how many rows changed.
pub async fn reseal_all<C: ConnectionTrait>(
    db: &C,
    cipher: &RowCipher,
) -> Result<usize, StoreError> {
    use sea_orm::QuerySelect;
    let (mut after, mut changed) = (0_i64, 0);
    loop {
        let rows = Outbox::find()
            .filter(outbox::Column::Id.gt(after))
            .order_by_asc(outbox::Column::Id)
            .limit(500)
            .all(db)
            .await?;
        let Some(last) = rows.last() else {
            return Ok(changed);
        };
        after = last.id;
        for raw in rows {
            if cipher.is_current(&raw.recipient) && cipher.is_current(&raw.context) {
                continue;
            }
            let (id, message_id) = (raw.id, raw.message_id.clone());
            let (old_recipient, old_context) = (raw.recipient.clone(), raw.context.clone());
            let open = cipher.open_message(raw)?;
            let (recipient, context) =
                cipher.seal_message(&message_id, &open.recipient, &open.context);
            // Compare-and-set: a row changed meanwhile is left for the next re-seal.
            let r = Outbox::update_many()
                .col_expr(outbox::Column::Recipient, Expr::value(recipient))
                .col_expr(outbox::Column::Context, Expr::value(context))
                .filter(outbox::Column::Id.eq(id))
                .filter(outbox::Column::Recipient.eq(old_recipient))
                .filter(outbox::Column::Context.eq(old_context))
                .exec(db)
                .await?;
            changed += r.rows_affected as usize;
        }
    }
}
