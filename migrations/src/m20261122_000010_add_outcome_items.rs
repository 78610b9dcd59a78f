//! The officer's detailed answer, kept with the request.
//!
//! `requests.answer` is a JSON text (`madoguchi_domain::Recorded`): the results and grounds of
//! a disclosure item by item (Art. 33), of a correction (Art. 34) or of a suspension, erasure
//! or third-party stop (Art. 35), with their words (the data sets' labels, the law named, the
//! content of a correction, what was erased where and when). The words are shown to the
//! subject and never written to the audit trail, which records the results by position only.
//! Nullable: requests answered before this migration, or with a single outcome, have none, and
//! older code does not read it. One column rather than a table: the answer is written once, in
//! the transaction that closes the request, and always read whole.

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
                .add_column(text_null(Requests::Answer))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Requests::Table)
                .drop_column(Requests::Answer)
                .to_owned(),
        )
        .await
    }
}

#[derive(DeriveIden)]
enum Requests {
    Table,
    Answer,
}
