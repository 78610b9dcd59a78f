//! `attachments` table. Mirrors the migration; hand-written models live in the parent module.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "attachments")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub pid: Uuid,
    pub request_id: i64,
    pub purpose: String,
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    pub key_id: String,
    pub nonce: Vec<u8>,
    pub ciphertext: Option<Vec<u8>>,
    pub downloads: i32,
    pub created_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
}

impl ActiveModelBehavior for ActiveModel {}
