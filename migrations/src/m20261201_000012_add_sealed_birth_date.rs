//! The subject's date of birth, sealed (`sealed:v1:…`, see `crates/store/src/sealed.rs`).
//!
//! A `DATE` column cannot hold ciphertext, so the sealed value gets a text column of its own;
//! new rows leave `subject_birth_date` empty. Rows written before are read from the old column
//! until `madoguchi keys rotate` moves their date here. Nullable: older code ignores it.

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
                .add_column(text_null(Requests::SubjectBirthDateSealed))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Requests::Table)
                .drop_column(Requests::SubjectBirthDateSealed)
                .to_owned(),
        )
        .await
    }
}

#[derive(DeriveIden)]
enum Requests {
    Table,
    SubjectBirthDateSealed,
}
