//! Connector jobs (`gather_jobs`): claimed like outbox rows (`SKIP LOCKED` on PostgreSQL, one
//! atomic `UPDATE … RETURNING` on SQLite), an expired claim taken again after a crash. Queuing,
//! finishing and failing a job are writes of a request's change (`change::Write`), committed
//! with their trail entries.

use chrono::{DateTime, Duration, SubsecRound, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Statement,
};

use crate::StoreError;
use crate::entities::gather_job::{self, Entity as Jobs};
use crate::sealed::RowCipher;

/// Waiting to run (first time or after a failure).
pub const PENDING: &str = "pending";
/// Claimed by an instance.
pub const RUNNING: &str = "running";
/// Finished: `result` holds the rows.
pub const DONE: &str = "done";
/// Given up after its last try.
pub const FAILED: &str = "failed";
/// Waiting for the system's owner to answer through their link.
pub const OWNER: &str = "owner";
/// An owner's task of an earlier run, closed when the request was gathered again.
pub const SUPERSEDED: &str = "superseded";
/// A job held until a second officer approves it (a correction, where the office requires
/// four eyes).
pub const HELD: &str = "approval";
/// A job that reads the subject's rows.
pub const GATHER: &str = "gather";
/// A job that carries out an erasure.
pub const ERASE: &str = "erase";
/// A job that carries out a correction.
pub const CORRECT: &str = "correct";
/// A job that carries out a suspension of use (marks, and erases what suspension erases).
pub const SUSPEND: &str = "suspend";
/// A recipient of the data told of an erasure, suspension or stop of provision, until they
/// confirm.
pub const NOTIFY: &str = "notify";
/// The error of a task whose owner or recipient said it cannot be done (their reason is
/// sealed in the job's result).
pub const DECLINED: &str = "declined by the person asked (see their reason)";

/// Every correction job of a request, in order.
pub async fn corrections<C: ConnectionTrait>(
    db: &C,
    request_id: i64,
) -> Result<Vec<gather_job::Model>, StoreError> {
    Ok(Jobs::find()
        .filter(gather_job::Column::RequestId.eq(request_id))
        .filter(gather_job::Column::Purpose.eq(CORRECT))
        .order_by_asc(gather_job::Column::Id)
        .all(db)
        .await?)
}

/// The open owner's task a link's token belongs to.
pub async fn task_by_token<C: ConnectionTrait>(
    db: &C,
    token: &str,
) -> Result<Option<gather_job::Model>, StoreError> {
    Ok(Jobs::find()
        .filter(gather_job::Column::TaskTokenHash.eq(crate::secrets::hash_token(token)))
        .filter(gather_job::Column::State.eq(OWNER))
        .one(db)
        .await?)
}

/// Jobs that still hold gathered rows or an open owner's link: `(job, request, system)`.
pub async fn with_results<C: ConnectionTrait>(
    db: &C,
) -> Result<Vec<(i64, i64, String)>, StoreError> {
    Ok(Jobs::find()
        .select_only()
        .columns([
            gather_job::Column::Id,
            gather_job::Column::RequestId,
            gather_job::Column::System,
        ])
        .filter(
            sea_orm::Condition::any()
                .add(gather_job::Column::Result.is_not_null())
                .add(gather_job::Column::TaskTokenHash.is_not_null()),
        )
        .into_tuple::<(i64, i64, String)>()
        .all(db)
        .await?)
}

/// Open owners' tasks due before `before` and not yet reminded.
pub async fn tasks_to_remind<C: ConnectionTrait>(
    db: &C,
    before: DateTime<Utc>,
) -> Result<Vec<gather_job::Model>, StoreError> {
    use sea_orm::sea_query::Query;
    // Only requests still at work: tasks of closed requests never crowd out current ones.
    let at_work = Query::select()
        .column(crate::entities::request::Column::Id)
        .from(crate::entities::request::Entity)
        .and_where(crate::entities::request::Column::State.eq("in_progress"))
        .to_owned();
    Ok(Jobs::find()
        .filter(gather_job::Column::State.eq(OWNER))
        // Recipients are not reminded (a business of its own, told once by letter).
        .filter(gather_job::Column::Purpose.ne(NOTIFY))
        .filter(gather_job::Column::TaskRemindedAt.is_null())
        .filter(gather_job::Column::TaskDueAt.lte(before.trunc_subsecs(6)))
        .filter(gather_job::Column::RequestId.in_subquery(at_work))
        .order_by_asc(gather_job::Column::Id)
        .limit(100)
        .all(db)
        .await?)
}

/// Open tasks (an owner's or a recipient's link) of requests still at work whose answer is
/// overdue at `now`, oldest due first, at most `limit`: `(job, request number)`.
pub async fn overdue_tasks<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<(gather_job::Model, String)>, StoreError> {
    use crate::entities::request;
    use sea_orm::sea_query::Query;
    let at_work = Query::select()
        .column(request::Column::Id)
        .from(request::Entity)
        .and_where(request::Column::State.eq("in_progress"))
        .to_owned();
    let jobs = Jobs::find()
        .filter(gather_job::Column::State.eq(OWNER))
        .filter(gather_job::Column::TaskDueAt.lt(now.trunc_subsecs(6)))
        .filter(gather_job::Column::RequestId.in_subquery(at_work))
        .order_by_asc(gather_job::Column::TaskDueAt)
        .limit(limit)
        .all(db)
        .await?;
    let ids: Vec<i64> = jobs.iter().map(|j| j.request_id).collect();
    let numbers: std::collections::BTreeMap<i64, String> = request::Entity::find()
        .select_only()
        .column(request::Column::Id)
        .column(request::Column::Number)
        .filter(request::Column::Id.is_in(ids))
        .into_tuple::<(i64, String)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    Ok(jobs
        .into_iter()
        .filter_map(|j| numbers.get(&j.request_id).cloned().map(|n| (j, n)))
        .collect())
}

/// The associated data a job's sealed result is bound to.
pub(crate) fn result_aad(job_id: i64) -> String {
    format!("gather:{job_id}")
}

/// Claims one due job for `lease`: a pending one whose time has come, or a running one whose
/// claim expired (its instance died). `None` when there is none.
pub async fn claim<C: ConnectionTrait>(
    db: &C,
    lease: Duration,
    now: DateTime<Utc>,
) -> Result<Option<gather_job::Model>, StoreError> {
    let backend = db.get_database_backend();
    let now = now.trunc_subsecs(6);
    let until = now + lease;
    let (sql, values): (&str, Vec<sea_orm::Value>) = match backend {
        DatabaseBackend::Postgres => (
            "UPDATE gather_jobs SET state = 'running', claimed_until = $1, \
                attempts = attempts + 1, updated_at = $2 \
             WHERE id IN (SELECT id FROM gather_jobs \
                WHERE (state = 'pending' AND next_attempt_at <= $2) \
                   OR (state = 'running' AND claimed_until < $2) \
                ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) \
             RETURNING *",
            vec![until.into(), now.into()],
        ),
        _ => (
            "UPDATE gather_jobs SET state = 'running', claimed_until = ?, \
                attempts = attempts + 1, updated_at = ? \
             WHERE id IN (SELECT id FROM gather_jobs \
                WHERE (state = 'pending' AND next_attempt_at <= ?) \
                   OR (state = 'running' AND claimed_until < ?) \
                ORDER BY next_attempt_at, id LIMIT 1) \
             RETURNING *",
            vec![until.into(), now.into(), now.into(), now.into()],
        ),
    };
    Ok(Jobs::find()
        .from_raw_sql(Statement::from_sql_and_values(backend, sql, values))
        .one(db)
        .await?)
}

/// The jobs of a request's latest run, in system order of creation.
pub async fn latest_run<C: ConnectionTrait>(
    db: &C,
    request_id: i64,
) -> Result<Vec<gather_job::Model>, StoreError> {
    latest_of(db, request_id, &[GATHER]).await
}

/// The jobs of a request's latest erasure or suspension (one numbering: the officer orders
/// one or the other), in system order.
pub async fn latest_erasure<C: ConnectionTrait>(
    db: &C,
    request_id: i64,
) -> Result<Vec<gather_job::Model>, StoreError> {
    latest_of(db, request_id, &[ERASE, SUSPEND]).await
}

/// The jobs of a request's latest instructions to recipients, in order.
pub async fn latest_notices<C: ConnectionTrait>(
    db: &C,
    request_id: i64,
) -> Result<Vec<gather_job::Model>, StoreError> {
    latest_of(db, request_id, &[NOTIFY]).await
}

async fn latest_of<C: ConnectionTrait>(
    db: &C,
    request_id: i64,
    purposes: &[&str],
) -> Result<Vec<gather_job::Model>, StoreError> {
    let Some(last) = Jobs::find()
        .filter(gather_job::Column::RequestId.eq(request_id))
        .filter(gather_job::Column::Purpose.is_in(purposes.iter().copied()))
        .order_by_desc(gather_job::Column::Run)
        .one(db)
        .await?
    else {
        return Ok(Vec::new());
    };
    Ok(Jobs::find()
        .filter(gather_job::Column::RequestId.eq(request_id))
        .filter(gather_job::Column::Purpose.is_in(purposes.iter().copied()))
        .filter(gather_job::Column::Run.eq(last.run))
        .order_by_asc(gather_job::Column::Id)
        .all(db)
        .await?)
}

/// A finished job's rows (the JSON the service stored), opened.
pub fn open_result(
    cipher: &RowCipher,
    job: &gather_job::Model,
) -> Result<Option<String>, StoreError> {
    job.result
        .as_deref()
        .map(|r| cipher.open(&result_aad(job.id), r))
        .transpose()
}

/// Systems with jobs that gave up, with how many, for the dashboard.
pub async fn failing<C: ConnectionTrait>(db: &C) -> Result<Vec<(String, u64)>, StoreError> {
    let rows = Jobs::find()
        .filter(gather_job::Column::State.eq(FAILED))
        .all(db)
        .await?;
    let mut out: std::collections::BTreeMap<String, u64> = Default::default();
    for r in rows {
        *out.entry(r.system).or_default() += 1;
    }
    Ok(out.into_iter().collect())
}

/// Re-seals every job result not sealed under the current key. Returns how many changed; a
/// result written meanwhile is left for the next run (compare-and-set).
pub async fn reseal_all<C: ConnectionTrait>(
    db: &C,
    cipher: &RowCipher,
) -> Result<usize, StoreError> {
    use sea_orm::QuerySelect;
    use sea_orm::sea_query::Expr;
    let (mut after, mut changed) = (0_i64, 0);
    loop {
        let rows = Jobs::find()
            .filter(gather_job::Column::Id.gt(after))
            .filter(gather_job::Column::Result.is_not_null())
            .order_by_asc(gather_job::Column::Id)
            .limit(200)
            .all(db)
            .await?;
        let Some(last) = rows.last() else {
            return Ok(changed);
        };
        after = last.id;
        for job in rows {
            let Some(stored) = job.result.clone() else {
                continue;
            };
            if cipher.is_current(&stored) {
                continue;
            }
            let plain = cipher.open(&result_aad(job.id), &stored)?;
            let r = Jobs::update_many()
                .col_expr(
                    gather_job::Column::Result,
                    Expr::value(Some(cipher.seal(&result_aad(job.id), &plain))),
                )
                .filter(gather_job::Column::Id.eq(job.id))
                .filter(gather_job::Column::Result.eq(stored))
                .exec(db)
                .await?;
            changed += r.rows_affected as usize;
        }
    }
}
