//! `webhook_deliveries` table. Mirrors the migration.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_deliveries")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The delivery's id, sent with it (a receiver recognises a repeat by it).
    #[sea_orm(unique)]
    pub pid: Uuid,
    pub endpoint_id: i64,
    pub event: String,
    /// The event as JSON (no personal data).
    pub payload: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    pub claimed_until: Option<DateTimeUtc>,
    /// The claim it is under: only that claim records its outcome.
    pub claim_id: Option<Uuid>,
    pub last_error: Option<String>,
    pub response_status: Option<i32>,
    pub created_at: DateTimeUtc,
    pub delivered_at: Option<DateTimeUtc>,
    /// For events a timer finds (a deadline): one delivery per endpoint per key.
    pub dedupe_key: Option<String>,
}

impl ActiveModelBehavior for ActiveModel {}
