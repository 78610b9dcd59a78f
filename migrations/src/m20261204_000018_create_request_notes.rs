//! Notes officers leave for each other on a request (never shown to the requester). The text
//! may name the person, so it is sealed like the request's own columns (`text`, bound to the
//! note's public id); the author is a staff row. Purged with the request's personal data.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(RequestNotes::Table)
                .col(big_integer(RequestNotes::Id).auto_increment().primary_key())
                .col(uuid_uniq(RequestNotes::Pid))
                .col(big_integer(RequestNotes::RequestId))
                .col(big_integer_null(RequestNotes::AuthorId))
                .col(text(RequestNotes::Text))
                .col(timestamp_with_time_zone(RequestNotes::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_request_notes_request")
                .table(RequestNotes::Table)
                .col(RequestNotes::RequestId)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(RequestNotes::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum RequestNotes {
    Table,
    Id,
    Pid,
    RequestId,
    AuthorId,
    Text,
    CreatedAt,
}
