//! `gather_jobs` table. Mirrors the migration; `result` is sealed (`crate::gather`).

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "gather_jobs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub request_id: i64,
    pub run: i32,
    pub system: String,
    pub state: String,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    pub claimed_until: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text", nullable)]
    pub error: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub result: Option<String>,
    pub rows: i32,
    pub hash: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// An owner's task: the link token's hash (while the task is open).
    pub task_token_hash: Option<String>,
    /// An owner's task: the nonce its link's token is derived from (useless without the
    /// service's secret).
    pub task_nonce: Option<String>,
    /// An owner's task: when the answer is asked for.
    pub task_due_at: Option<DateTimeUtc>,
    /// An owner's task: when the reminder went out.
    pub task_reminded_at: Option<DateTimeUtc>,
    /// The officer's decisions on the job's fields (JSON), when any.
    #[sea_orm(column_type = "Text", nullable)]
    pub review: Option<String>,
    /// `gather` (read the subject's rows) or `erase` (carry out an erasure).
    pub purpose: String,
}

impl ActiveModelBehavior for ActiveModel {}
