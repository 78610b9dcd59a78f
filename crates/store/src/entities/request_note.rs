//! `request_notes` table. Mirrors the migration; hand-written models live in the parent module.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "request_notes")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub pid: Uuid,
    pub request_id: i64,
    pub author_id: Option<i64>,
    /// Sealed (`sealed:v1:…`, bound to `request_note:<pid>:text`).
    pub text: String,
    pub created_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
