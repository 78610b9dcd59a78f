//! Whether a staff member must replace the password they were handed before working: set on
//! every account an administrator (or `madoguchi user add`) creates with a one-time password.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(StaffUsers::Table)
                .add_column(boolean(StaffUsers::MustChangePassword).default(false))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(StaffUsers::Table)
                .drop_column(StaffUsers::MustChangePassword)
                .to_owned(),
        )
        .await
    }
}

#[derive(DeriveIden)]
enum StaffUsers {
    Table,
    MustChangePassword,
}
