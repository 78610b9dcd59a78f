//! `incident_people` table. Mirrors the migration.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "incident_people")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub pid: Uuid,
    pub incident_id: i64,
    /// Sealed (`incident_person:<pid>:name`).
    pub name: String,
    /// Sealed (`incident_person:<pid>:email`).
    pub email: Option<String>,
    /// Sealed (`incident_person:<pid>:postal_address`).
    pub postal_address: Option<String>,
    /// A keyed index of who they are (one person once per incident). Empty once erased.
    pub person_index: String,
    /// The outbox message that told them.
    pub message_id: Option<String>,
    pub notified_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
