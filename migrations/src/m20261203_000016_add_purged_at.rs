//! When a closed request's personal data were erased at the end of the retention period
//! (APPI Art. 22). The row keeps its number, kind, dates and outcome, and the audit chain
//! still verifies: the trail never held the personal data. Nullable: older code ignores it.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Requests::Table)
                .add_column(timestamp_with_time_zone_null(Requests::PurgedAt))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Requests::Table)
                .drop_column(Requests::PurgedAt)
                .to_owned(),
        )
        .await
    }
}

#[derive(DeriveIden)]
enum Requests {
    Table,
    PurgedAt,
}
