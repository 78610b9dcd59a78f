//! `complaints` table. Mirrors the migration; hand-written models live in the parent module.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "complaints")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub pid: Uuid,
    #[sea_orm(unique)]
    pub number: String,
    pub kind: String,
    pub state: String,
    pub lang: String,
    /// Sealed (`complaint:<pid>:name`).
    pub name: String,
    /// Sealed (`complaint:<pid>:email`).
    pub email: String,
    /// Sealed (`complaint:<pid>:phone`).
    pub phone: Option<String>,
    pub assignee_id: Option<i64>,
    pub received_on: Date,
    pub reply_due: Date,
    pub first_reply_at: Option<DateTimeUtc>,
    pub closed_at: Option<DateTimeUtc>,
    pub category: Option<String>,
    pub outcome: Option<String>,
    pub request_id: Option<i64>,
    pub purged_at: Option<DateTimeUtc>,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
