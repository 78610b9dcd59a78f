//! Requests: finders, numbering, and the lifecycle update with its optimistic version check.

use chrono::{DateTime, Datelike, Utc};
use madoguchi_domain as domain;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter,
    QueryOrder, Statement,
};
use uuid::Uuid;

use crate::entities::request::{self, Entity as Requests};
use crate::error::StoreError;
use crate::sealed::RowCipher;

/// Requests not closed, as a condition both databases match to the partial index
/// `requests_open_due` (migration 6): the open states written as a literal list, not bound
/// parameters, which a planner cannot compare with the index's own predicate. The one place
/// the list is written; the queue, the monitoring counts and the deadline events use it.
pub fn open_condition() -> sea_orm::sea_query::SimpleExpr {
    let open: Vec<String> = domain::State::ALL
        .into_iter()
        .filter(|s| !s.is_terminal())
        .map(|s| format!("'{}'", s.as_str()))
        .collect();
    sea_orm::sea_query::Expr::cust(format!("state IN ({})", open.join(", ")))
}

/// Rebuilds the domain's view of a stored request.
pub fn to_domain(m: &request::Model) -> Result<domain::Request, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("request {}: {what}", m.id));
    Ok(domain::Request {
        kind: domain::RequestKind::parse(&m.kind).ok_or_else(|| corrupt("kind"))?,
        requester: domain::Requester::parse(&m.requester).ok_or_else(|| corrupt("requester"))?,
        state: domain::State::parse(&m.state).ok_or_else(|| corrupt("state"))?,
        policy: serde_json::from_str(&m.policy).map_err(|_| corrupt("policy"))?,
        fee: domain::Yen(m.fee),
        paid: domain::Yen(m.paid),
        identity_verified: m.identity_verified,
        work_started: m.work_started,
        extended: m.extended,
        arrived_at: m.arrived_at,
        due_on: m.due_on,
        paused_since: m.paused_since,
        expires_at: m.expires_at,
        expiry_warned_for: m.expiry_warned_for,
        closed_at: m.closed_at,
        delivery: m
            .delivery
            .as_deref()
            .map(|d| domain::DeliveryMethod::parse(d).ok_or_else(|| corrupt("delivery")))
            .transpose()?,
    })
}

/// Fills the lifecycle columns of a new row from the domain's request.
pub fn lifecycle_columns(r: &domain::Request, am: &mut request::ActiveModel) {
    am.kind = Set(r.kind.as_str().to_owned());
    am.state = Set(r.state.as_str().to_owned());
    am.jurisdiction = Set(r.policy.jurisdiction.as_str().to_owned());
    am.policy = Set(serde_json::to_string(&r.policy).expect("a policy always serialises"));
    am.fee = Set(r.fee.0);
    am.paid = Set(r.paid.0);
    am.identity_verified = Set(r.identity_verified);
    am.work_started = Set(r.work_started);
    am.extended = Set(r.extended);
    am.arrived_at = Set(r.arrived_at);
    am.due_on = Set(r.due_on);
    am.may_sue_from = Set(r.may_sue_from());
    am.paused_since = Set(r.paused_since);
    am.expires_at = Set(r.expires_at);
    am.expiry_warned_for = Set(r.expiry_warned_for);
    am.closed_at = Set(r.closed_at);
    am.delivery = Set(r.delivery.map(|d| d.as_str().to_owned()));
}

/// The next human-friendly request number, e.g. `R-2026-000123`. PostgreSQL draws from a
/// sequence (no lock held to commit); SQLite, whose writers are serialised anyway, bumps a
/// counter row inside the caller's transaction.
pub async fn next_number<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
) -> Result<String, StoreError> {
    let backend = db.get_database_backend();
    let stmt = match backend {
        DatabaseBackend::Postgres => {
            Statement::from_string(backend, "SELECT nextval('request_number_seq') AS n")
        }
        _ => Statement::from_string(
            backend,
            "INSERT INTO counters (name, value) VALUES ('request_number', 1) \
             ON CONFLICT (name) DO UPDATE SET value = counters.value + 1 RETURNING value AS n",
        ),
    };
    let row = db
        .query_one_raw(stmt)
        .await?
        .ok_or_else(|| StoreError::Corrupt("request number counter".into()))?;
    let n: i64 = row.try_get("", "n")?;
    Ok(format_number(n, now))
}

fn format_number(n: i64, now: DateTime<Utc>) -> String {
    format!("R-{}-{n:06}", domain::jst_date(now).year())
}

/// What intake learns before its transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntakeFacts {
    /// An open request of the same kind from the same address: its row id and number.
    pub duplicate: Option<(i64, String)>,
    /// The new request's number, where it can be drawn outside the transaction.
    pub number: Option<String>,
    /// The new request's row id, where it can be drawn beforehand (PostgreSQL): with it the
    /// request's rows need not wait for the request's insert to learn its id.
    pub id: Option<i64>,
}

/// The duplicate check and, on PostgreSQL, the request number in one round trip: a sequence
/// is not transactional, so drawing it before the transaction changes nothing but the count of
/// round trips (which is what bounds intake there). SQLite's counter row is written inside the
/// transaction ([`next_number`]).
pub async fn intake_facts<C: ConnectionTrait>(
    db: &C,
    email_index: &str,
    kind: domain::RequestKind,
    now: DateTime<Utc>,
) -> Result<IntakeFacts, StoreError> {
    let backend = db.get_database_backend();
    if backend != DatabaseBackend::Postgres {
        let duplicate = find_open_duplicate(db, email_index, kind)
            .await?
            .map(|d| (d.id, d.number));
        return Ok(IntakeFacts {
            duplicate,
            number: None,
            id: None,
        });
    }
    // Built once: the terminal states are constants, written into the statement as literals.
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let terminal: Vec<String> = domain::State::ALL
            .into_iter()
            .filter(|s| s.is_terminal())
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        format!(
            "SELECT nextval('request_number_seq') AS n, \
             nextval(pg_get_serial_sequence('requests', 'id')) AS id, \
             d.id AS dup_id, d.number AS dup_number \
             FROM (SELECT 1) AS one LEFT JOIN LATERAL (SELECT id, number FROM requests \
             WHERE email_norm = $1 AND kind = $2 AND state NOT IN ({}) ORDER BY id LIMIT 1) \
             AS d ON true",
            terminal.join(", ")
        )
    });
    let values: [sea_orm::Value; 2] = [email_index.into(), kind.as_str().into()];
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            SQL.as_str(),
            values,
        ))
        .await?
        .ok_or_else(|| StoreError::Corrupt("request number sequence".into()))?;
    let n: i64 = row.try_get("", "n")?;
    let id: i64 = row.try_get("", "id")?;
    let dup_id: Option<i64> = row.try_get("", "dup_id")?;
    let dup_number: Option<String> = row.try_get("", "dup_number")?;
    Ok(IntakeFacts {
        duplicate: dup_id.zip(dup_number),
        number: Some(format_number(n, now)),
        id: Some(id),
    })
}

/// The insert of a new request row whose id is already drawn ([`IntakeFacts::id`]), its
/// personal data sealed, for a change's [`crate::batch::Batch`].
pub(crate) fn insert_statement(
    cipher: &RowCipher,
    mut row: request::ActiveModel,
) -> sea_orm::sea_query::InsertStatement {
    use sea_orm::QueryTrait;
    cipher.seal_request(&mut row);
    Requests::insert(row).into_query()
}

/// Inserts a new request row, its personal data sealed, and returns it opened.
pub async fn insert<C: ConnectionTrait>(
    db: &C,
    cipher: &RowCipher,
    mut row: request::ActiveModel,
) -> Result<request::Model, StoreError> {
    cipher.seal_request(&mut row);
    let stored = Requests::insert(row).exec_with_returning(db).await?;
    cipher.open_request(stored)
}

/// A request by its public id.
pub async fn find_by_pid<C: ConnectionTrait>(
    db: &C,
    cipher: &RowCipher,
    pid: Uuid,
) -> Result<request::Model, StoreError> {
    let row = Requests::find()
        .filter(request::Column::Pid.eq(pid))
        .one(db)
        .await?
        .ok_or(StoreError::NotFound)?;
    cipher.open_request(row)
}

/// A request by its number.
pub async fn find_by_number<C: ConnectionTrait>(
    db: &C,
    cipher: &RowCipher,
    number: &str,
) -> Result<request::Model, StoreError> {
    let row = Requests::find()
        .filter(request::Column::Number.eq(number))
        .one(db)
        .await?
        .ok_or(StoreError::NotFound)?;
    cipher.open_request(row)
}

/// A request by its key.
pub async fn find_by_id<C: ConnectionTrait>(
    db: &C,
    cipher: &RowCipher,
    id: i64,
) -> Result<request::Model, StoreError> {
    let row = Requests::find_by_id(id)
        .one(db)
        .await?
        .ok_or(StoreError::NotFound)?;
    cipher.open_request(row)
}

/// Opens every row of a list read from the database.
pub fn open_all(
    cipher: &RowCipher,
    rows: Vec<request::Model>,
) -> Result<Vec<request::Model>, StoreError> {
    rows.into_iter().map(|r| cipher.open_request(r)).collect()
}

/// Opens the rows a timer works through, leaving out (and logging) any that do not open, so
/// that one damaged row does not stop every timer behind it.
fn open_for_timers(cipher: &RowCipher, rows: Vec<request::Model>) -> Vec<request::Model> {
    rows.into_iter()
        .filter_map(|r| {
            let pid = r.pid;
            cipher
                .open_request(r)
                .map_err(|e| tracing::error!(request = %pid, error = %e, "a request row cannot be opened"))
                .ok()
        })
        .collect()
}

/// An open request of the same kind from the same address, if there is one. `email_index` is
/// the address's blind index ([`RowCipher::email_index`]). The row comes back sealed: only
/// its number and ids are read.
pub async fn find_open_duplicate<C: ConnectionTrait>(
    db: &C,
    email_index: &str,
    kind: domain::RequestKind,
) -> Result<Option<request::Model>, StoreError> {
    let terminal: Vec<&str> = domain::State::ALL
        .into_iter()
        .filter(|s| s.is_terminal())
        .map(domain::State::as_str)
        .collect();
    Ok(Requests::find()
        .filter(request::Column::EmailNorm.eq(email_index))
        .filter(request::Column::Kind.eq(kind.as_str()))
        .filter(request::Column::State.is_not_in(terminal))
        .order_by_asc(request::Column::Id)
        .one(db)
        .await?)
}

/// Requests whose subject-side expiry has passed, oldest first (the timer sweep).
pub async fn expired_before<C: ConnectionTrait>(
    db: &C,
    cipher: &RowCipher,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<request::Model>, StoreError> {
    use sea_orm::QuerySelect;
    let rows = Requests::find()
        .filter(request::Column::ExpiresAt.lte(now))
        .order_by_asc(request::Column::ExpiresAt)
        .limit(limit)
        .all(db)
        .await?;
    Ok(open_for_timers(cipher, rows))
}

/// Requests whose subject's turn runs out after `now` and by `until`, not yet warned about
/// that expiry, soonest first. The domain decides whether each one is due a warning.
pub async fn expiring_between<C: ConnectionTrait>(
    db: &C,
    cipher: &RowCipher,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<request::Model>, StoreError> {
    use sea_orm::sea_query::Expr;
    use sea_orm::{Condition, QuerySelect};
    let rows = Requests::find()
        .filter(request::Column::ExpiresAt.gt(now))
        .filter(request::Column::ExpiresAt.lte(until))
        .filter(
            Condition::any()
                .add(request::Column::ExpiryWarnedFor.is_null())
                .add(Expr::cust("expiry_warned_for <> expires_at")),
        )
        .order_by_asc(request::Column::ExpiresAt)
        .limit(limit)
        .all(db)
        .await?;
    Ok(open_for_timers(cipher, rows))
}

/// Writes a transition: the lifecycle columns, the words for the subject and the subject's
/// reply (message, reply; sealed), the new audit head and a bumped version, only
/// if the row still has the version the caller read. Otherwise nothing changes and the
/// caller gets [`StoreError::Conflict`].
pub async fn update_lifecycle<C: ConnectionTrait>(
    db: &C,
    cipher: &RowCipher,
    current: &request::Model,
    next: &domain::Request,
    audit: (i64, &str),
    (subject_message, subject_reply): (Option<&str>, Option<&str>),
    now: DateTime<Utc>,
) -> Result<request::Model, StoreError> {
    let mut am = request::ActiveModel {
        ..Default::default()
    };
    let closing = next.state.is_terminal()
        && domain::State::parse(&current.state).is_some_and(|s| !s.is_terminal());
    if let Some(m) = subject_message {
        am.subject_message = Set(Some(cipher.seal_request_column(
            current.pid,
            "subject_message",
            m,
        )));
    } else if closing {
        // A request closed without a message of its own: an earlier one (asking for
        // documents, say) would otherwise read as the closing word on its page and letter.
        am.subject_message = Set(None);
    }
    if let Some(r) = subject_reply {
        am.subject_reply = Set(Some(cipher.seal_request_column(
            current.pid,
            "subject_reply",
            r,
        )));
    }
    lifecycle_columns(next, &mut am);
    am.version = Set(current.version + 1);
    am.audit_seq = Set(audit.0);
    am.audit_head = Set(audit.1.to_owned());
    am.updated_at = Set(now);
    // The filing columns never change after intake (the date from which the subject may sue
    // does: a refusal brings it forward).
    am.arrived_at = sea_orm::ActiveValue::NotSet;
    am.kind = sea_orm::ActiveValue::NotSet;
    am.jurisdiction = sea_orm::ActiveValue::NotSet;
    am.policy = sea_orm::ActiveValue::NotSet;
    // The row comes back as written, so the caller need not read it again.
    let mut updated = Requests::update_many()
        .set(am)
        .filter(request::Column::Id.eq(current.id))
        .filter(request::Column::Version.eq(current.version))
        .filter(request::Column::AuditSeq.eq(current.audit_seq))
        .exec_with_returning(db)
        .await?;
    match (updated.pop(), updated.is_empty()) {
        (Some(row), true) => cipher.open_request(row),
        _ => Err(StoreError::Conflict),
    }
}

/// Moves only the audit head (an audit-only event such as a staff view). The version is left
/// alone so that reading a request never makes an officer's open form stale.
pub async fn update_audit_head<C: ConnectionTrait>(
    db: &C,
    current: &request::Model,
    audit: (i64, &str),
) -> Result<(), StoreError> {
    use sea_orm::sea_query::Expr;
    let result = Requests::update_many()
        .col_expr(request::Column::AuditSeq, Expr::value(audit.0))
        .col_expr(request::Column::AuditHead, Expr::value(audit.1.to_owned()))
        .filter(request::Column::Id.eq(current.id))
        .filter(request::Column::AuditSeq.eq(current.audit_seq))
        .exec(db)
        .await?;
    if result.rows_affected == 1 {
        Ok(())
    } else {
        Err(StoreError::Conflict)
    }
}

/// Sets the assignee and moves the audit head, if the audit head is still where it was read.
pub async fn update_assignee<C: ConnectionTrait>(
    db: &C,
    current: &request::Model,
    assignee: Option<i64>,
    audit: (i64, &str),
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    use sea_orm::sea_query::Expr;
    let result = Requests::update_many()
        .col_expr(request::Column::AssigneeId, Expr::value(assignee))
        .col_expr(request::Column::AuditSeq, Expr::value(audit.0))
        .col_expr(request::Column::AuditHead, Expr::value(audit.1.to_owned()))
        .col_expr(request::Column::UpdatedAt, Expr::value(now))
        .filter(request::Column::Id.eq(current.id))
        .filter(request::Column::AuditSeq.eq(current.audit_seq))
        .exec(db)
        .await?;
    if result.rows_affected == 1 {
        Ok(())
    } else {
        Err(StoreError::Conflict)
    }
}

/// Stores the officer's detailed answer (`madoguchi_domain::Recorded` as JSON) with the
/// request, in the caller's transaction: the one that closes the request.
pub async fn set_answer<C: ConnectionTrait>(
    db: &C,
    cipher: &RowCipher,
    row: &request::Model,
    answer: &domain::Recorded,
) -> Result<(), StoreError> {
    use sea_orm::sea_query::Expr;
    let json = serde_json::to_string(answer).expect("an answer always serialises");
    let sealed = cipher.seal_request_column(row.pid, "answer", &json);
    Requests::update_many()
        .col_expr(request::Column::Answer, Expr::value(sealed))
        .filter(request::Column::Id.eq(row.id))
        .exec(db)
        .await?;
    Ok(())
}

/// The detailed answer stored with a request, if it was answered in detail.
pub fn answer_of(m: &request::Model) -> Option<domain::Recorded> {
    m.answer
        .as_deref()
        .and_then(|a| serde_json::from_str(a).ok())
}

/// Re-seals every request row not sealed under the cipher's current key (rows stored before
/// sealing began included), in batches. Returns how many rows changed; a row written while it
/// ran is left as it is (run it again).
pub async fn reseal_all<C: ConnectionTrait>(
    db: &C,
    cipher: &RowCipher,
) -> Result<usize, StoreError> {
    use sea_orm::QuerySelect;
    let (mut after, mut changed) = (0_i64, 0);
    loop {
        let rows = Requests::find()
            .filter(request::Column::Id.gt(after))
            .order_by_asc(request::Column::Id)
            .limit(500)
            .all(db)
            .await?;
        let Some(last) = rows.last() else {
            return Ok(changed);
        };
        after = last.id;
        for raw in &rows {
            if let Some(am) = cipher.reseal_request(raw)? {
                // Only if nobody wrote the row since it was read: a reply or answer committed
                // meanwhile is not overwritten with the older value. Such a row keeps its
                // old key (still on the ring) until the next re-seal.
                let r = Requests::update_many()
                    .set(am)
                    .filter(request::Column::Id.eq(raw.id))
                    .filter(request::Column::Version.eq(raw.version))
                    .filter(request::Column::AuditSeq.eq(raw.audit_seq))
                    .exec(db)
                    .await?;
                changed += r.rows_affected as usize;
            }
        }
    }
}
