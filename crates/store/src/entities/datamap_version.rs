//! `datamap_versions` table. Mirrors the migration.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "datamap_versions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub hash: String,
    pub label: String,
    #[sea_orm(column_type = "Text")]
    pub source: String,
    pub created_at: DateTimeUtc,
    pub created_by: Option<String>,
}

impl ActiveModelBehavior for ActiveModel {}
