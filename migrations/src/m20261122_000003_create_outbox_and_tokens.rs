use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Outbox::Table)
                .if_not_exists()
                .col(big_pk_auto(Outbox::Id))
                .col(string_uniq(Outbox::MessageId))
                .col(big_integer_null(Outbox::RequestId))
                .col(string(Outbox::Recipient))
                .col(string(Outbox::Lang))
                .col(string(Outbox::Template))
                .col(text(Outbox::Context))
                .col(string(Outbox::Status))
                .col(integer(Outbox::Attempts))
                .col(timestamp_with_time_zone(Outbox::NextAttemptAt))
                .col(timestamp_with_time_zone_null(Outbox::ClaimedUntil))
                .col(text_null(Outbox::LastError))
                .col(timestamp_with_time_zone(Outbox::CreatedAt))
                .col(timestamp_with_time_zone_null(Outbox::SentAt))
                .to_owned(),
        )
        .await?;
        // The worker's claim: pending messages that are due.
        m.create_index(
            Index::create()
                .name("outbox_due")
                .table(Outbox::Table)
                .col(Outbox::Status)
                .col(Outbox::NextAttemptAt)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("outbox_request")
                .table(Outbox::Table)
                .col(Outbox::RequestId)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(SubjectTokens::Table)
                .if_not_exists()
                .col(big_pk_auto(SubjectTokens::Id))
                .col(big_integer(SubjectTokens::RequestId))
                .col(string(SubjectTokens::Purpose))
                .col(string_uniq(SubjectTokens::TokenHash))
                .col(timestamp_with_time_zone(SubjectTokens::ExpiresAt))
                .col(timestamp_with_time_zone_null(SubjectTokens::UsedAt))
                .col(integer(SubjectTokens::Attempts))
                .col(timestamp_with_time_zone(SubjectTokens::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("subject_tokens_request")
                .table(SubjectTokens::Table)
                .col(SubjectTokens::RequestId)
                .col(SubjectTokens::Purpose)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(SubjectTokens::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(Outbox::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    Id,
    MessageId,
    RequestId,
    Recipient,
    Lang,
    Template,
    Context,
    Status,
    Attempts,
    NextAttemptAt,
    ClaimedUntil,
    LastError,
    CreatedAt,
    SentAt,
}

#[derive(DeriveIden)]
enum SubjectTokens {
    Table,
    Id,
    RequestId,
    Purpose,
    TokenHash,
    ExpiresAt,
    UsedAt,
    Attempts,
    CreatedAt,
}
