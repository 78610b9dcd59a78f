//! `provision_records` table (the third-party provision register). Mirrors the migration;
//! `record` is sealed JSON (`crate::provisions`).

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "provision_records")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub pid: Uuid,
    pub direction: String,
    pub occurred_on: Date,
    pub email_index: Option<String>,
    pub phone_index: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub record: String,
    pub retain_until: Date,
    pub created_at: DateTimeUtc,
    pub created_by: Option<String>,
}

impl ActiveModelBehavior for ActiveModel {}
