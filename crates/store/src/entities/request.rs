//! `requests` table. Mirrors the migration; hand-written models live in the parent module.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "requests")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub pid: Uuid,
    #[sea_orm(unique)]
    pub number: String,
    pub kind: String,
    pub state: String,
    pub version: i64,
    pub jurisdiction: String,
    pub policy: String,
    pub lang: String,
    pub channel: String,
    pub requester: String,
    pub subject_name: String,
    pub subject_kana: String,
    pub email: String,
    pub email_norm: String,
    pub phone: Option<String>,
    pub postal_address: Option<String>,
    pub delivery: Option<String>,
    pub ground: Option<String>,
    /// The incident a request on the breach ground cites (Art. 35(5)).
    pub incident_id: Option<i64>,
    pub details: String,
    pub current_content: Option<String>,
    pub correct_content: Option<String>,
    pub agent: Option<String>,
    pub subject_message: Option<String>,
    pub subject_reply: Option<String>,
    pub fee: i64,
    pub paid: i64,
    pub identity_verified: bool,
    pub work_started: bool,
    pub extended: bool,
    pub arrived_at: DateTimeUtc,
    pub due_on: Date,
    pub may_sue_from: Date,
    pub paused_since: Option<DateTimeUtc>,
    pub expires_at: Option<DateTimeUtc>,
    pub expiry_warned_for: Option<DateTimeUtc>,
    pub closed_at: Option<DateTimeUtc>,
    pub assignee_id: Option<i64>,
    pub duplicate_of: Option<i64>,
    pub audit_seq: i64,
    pub audit_head: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub subject_birth_date: Option<Date>,
    pub subject_email: Option<String>,
    /// The detailed answer as JSON (`madoguchi_domain::Recorded`), once answered in detail.
    pub answer: Option<String>,
    /// The date of birth, sealed (rows written before sealing keep `subject_birth_date`).
    pub subject_birth_date_sealed: Option<String>,
    /// The SHA-256 of the data map the request was answered under (`datamap_versions`).
    pub datamap_hash: Option<String>,
    /// When its personal data were erased at the end of the retention period (Art. 22).
    pub purged_at: Option<DateTimeUtc>,
}

impl ActiveModelBehavior for ActiveModel {}
