//! What monitoring reads (`/metrics`): counts grouped by stored spellings, never a row's
//! content. Each is one aggregate query.

use chrono::NaiveDate;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect,
};

use crate::StoreError;
use crate::entities::{complaint, gather_job, outbox, request};

/// The counts a scrape reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Requests by (kind, state).
    pub requests: Vec<(String, String, i64)>,
    /// Open requests past their due day, their clock running (not paused for the subject).
    pub overdue: i64,
    /// Open requests, clock running, due today or in the next six days.
    pub due_soon: i64,
    /// Outbox messages by status.
    pub outbox: Vec<(String, i64)>,
    /// Connector jobs by (purpose, state).
    pub jobs: Vec<(String, String, i64)>,
    /// Complaints by state.
    pub complaints: Vec<(String, i64)>,
    /// Complaints awaiting a first reply past their target day.
    pub complaints_past_target: i64,
}

/// The counts as of `today` (in Japan).
pub async fn counts<C: ConnectionTrait>(db: &C, today: NaiveDate) -> Result<Counts, StoreError> {
    let requests = request::Entity::find()
        .select_only()
        .column(request::Column::Kind)
        .column(request::Column::State)
        .column_as(Expr::col(request::Column::Id).count(), "n")
        // In the order of the index `requests_state_kind_due`.
        .group_by(request::Column::State)
        .group_by(request::Column::Kind)
        .into_tuple()
        .all(db)
        .await?;
    // Open and running: not closed, and its clock not stopped while the subject is awaited
    // (a paused request keeps its old due day until it resumes). The open states are written
    // as a literal, as the queue writes them, so both databases use the partial index
    // `requests_open_due` (migration 6).
    let running = || {
        request::Entity::find()
            .filter(crate::requests::open_condition())
            .filter(request::Column::PausedSince.is_null())
    };
    let overdue = running()
        .filter(request::Column::DueOn.lt(today))
        .count(db)
        .await?;
    let due_soon = running()
        .filter(request::Column::DueOn.gte(today))
        .filter(request::Column::DueOn.lt(today + chrono::Duration::days(7)))
        .count(db)
        .await?;
    let outbox = outbox::Entity::find()
        .select_only()
        .column(outbox::Column::Status)
        .column_as(Expr::col(outbox::Column::Id).count(), "n")
        .group_by(outbox::Column::Status)
        .into_tuple()
        .all(db)
        .await?;
    let jobs = gather_job::Entity::find()
        .select_only()
        .column(gather_job::Column::Purpose)
        .column(gather_job::Column::State)
        .column_as(Expr::col(gather_job::Column::Id).count(), "n")
        .group_by(gather_job::Column::Purpose)
        .group_by(gather_job::Column::State)
        .into_tuple()
        .all(db)
        .await?;
    let complaints = complaint::Entity::find()
        .select_only()
        .column(complaint::Column::State)
        .column_as(Expr::col(complaint::Column::Id).count(), "n")
        .group_by(complaint::Column::State)
        .into_tuple()
        .all(db)
        .await?;
    let complaints_past_target = complaint::Entity::find()
        .filter(complaint::Column::State.eq("open"))
        .filter(complaint::Column::ReplyDue.lt(today))
        .count(db)
        .await?;
    let signed = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    Ok(Counts {
        requests,
        overdue: signed(overdue),
        due_soon: signed(due_soon),
        outbox,
        jobs,
        complaints,
        complaints_past_target: signed(complaints_past_target),
    })
}
