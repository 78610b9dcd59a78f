//! Periodic jobs shared by every instance. A job runs when an instance moves its
//! `next_run_at` forward with one conditional UPDATE; the database lets exactly one instance
//! do that per run, so a daily digest goes out once however many instances are up.

use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::entities::timer_job::{self, Entity as TimerJobs};
use crate::error::StoreError;

/// Claims the run of `name` that is due at `now`, scheduling the next at `next`. A job seen for
/// the first time is due at `first`. Returns whether this caller won the run.
pub async fn claim<C: ConnectionTrait>(
    db: &C,
    name: &str,
    first: DateTime<Utc>,
    now: DateTime<Utc>,
    next: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let now = now.trunc_subsecs(6);
    // Most ticks find the job not yet due: a read, not a write (SQLite would take its write
    // lock for an UPDATE that matches nothing).
    match TimerJobs::find_by_id(name.to_owned()).one(db).await? {
        Some(job) if job.next_run_at > now => return Ok(false),
        Some(_) => {}
        None => {
            TimerJobs::insert(timer_job::ActiveModel {
                name: Set(name.to_owned()),
                next_run_at: Set(first.trunc_subsecs(6)),
                last_run_at: Set(None),
            })
            .on_conflict_do_nothing()
            .exec(db)
            .await?;
        }
    }
    let won = TimerJobs::update_many()
        .col_expr(
            timer_job::Column::NextRunAt,
            Expr::value(next.trunc_subsecs(6)),
        )
        .col_expr(timer_job::Column::LastRunAt, Expr::value(Some(now)))
        .filter(timer_job::Column::Name.eq(name))
        .filter(timer_job::Column::NextRunAt.lte(now))
        .exec(db)
        .await?
        .rows_affected
        == 1;
    Ok(won)
}

/// When `name` last ran, if ever.
pub async fn last_run<C: ConnectionTrait>(
    db: &C,
    name: &str,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    Ok(TimerJobs::find_by_id(name.to_owned())
        .one(db)
        .await?
        .and_then(|j| j.last_run_at))
}
