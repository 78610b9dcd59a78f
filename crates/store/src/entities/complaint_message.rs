//! `complaint_messages` table. Mirrors the migration.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "complaint_messages")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub pid: Uuid,
    pub complaint_id: i64,
    /// From the office to the person (a reply), or from the person.
    pub outgoing: bool,
    pub author_id: Option<i64>,
    /// Sealed (`complaint_message:<pid>`).
    pub body: String,
    /// The outbox message that carried it (the receipt's confirmation, a reply).
    pub message_id: Option<String>,
    pub created_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
