//! The complaints desk (苦情・相談, Art. 40): each complaint with its state, its target day for
//! a first reply, its assignee, how it ended (category and outcome) or the request it became;
//! and its messages, in and out. The person's name, address and phone, and every message,
//! are sealed (bound to the row's public id); the rest is what the queue and the monthly
//! figures read. Changes are versioned (two officers at once) and audited on the
//! `complaints` chain. A message keeps the Message-ID of the mail that carried it (the
//! receipt's, a reply's), so the end of retention deletes that mail with the rest.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Complaints::Table)
                .col(big_integer(Complaints::Id).auto_increment().primary_key())
                .col(uuid_uniq(Complaints::Pid))
                .col(string_len_uniq(Complaints::Number, 20))
                .col(string_len(Complaints::Kind, 20))
                .col(string_len(Complaints::State, 20))
                .col(string_len(Complaints::Lang, 2))
                .col(text(Complaints::Name))
                .col(text(Complaints::Email))
                .col(text_null(Complaints::Phone))
                .col(big_integer_null(Complaints::AssigneeId))
                .col(date(Complaints::ReceivedOn))
                .col(date(Complaints::ReplyDue))
                .col(timestamp_with_time_zone_null(Complaints::FirstReplyAt))
                .col(timestamp_with_time_zone_null(Complaints::ClosedAt))
                .col(string_len_null(Complaints::Category, 20))
                .col(string_len_null(Complaints::Outcome, 20))
                .col(big_integer_null(Complaints::RequestId))
                .col(timestamp_with_time_zone_null(Complaints::PurgedAt))
                .col(integer(Complaints::Version))
                .col(timestamp_with_time_zone(Complaints::CreatedAt))
                .col(timestamp_with_time_zone(Complaints::UpdatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_complaints_request")
                .table(Complaints::Table)
                .col(Complaints::RequestId)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_complaints_state")
                .table(Complaints::Table)
                .col(Complaints::State)
                .col(Complaints::ReplyDue)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(ComplaintMessages::Table)
                .col(
                    big_integer(ComplaintMessages::Id)
                        .auto_increment()
                        .primary_key(),
                )
                .col(uuid_uniq(ComplaintMessages::Pid))
                .col(big_integer(ComplaintMessages::ComplaintId))
                .col(boolean(ComplaintMessages::Outgoing))
                .col(big_integer_null(ComplaintMessages::AuthorId))
                .col(text(ComplaintMessages::Body))
                .col(string_len_null(ComplaintMessages::MessageId, 200))
                .col(timestamp_with_time_zone(ComplaintMessages::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_complaint_messages_complaint")
                .table(ComplaintMessages::Table)
                .col(ComplaintMessages::ComplaintId)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(ComplaintMessages::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(Complaints::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Complaints {
    Table,
    Id,
    Pid,
    Number,
    Kind,
    State,
    Lang,
    Name,
    Email,
    Phone,
    AssigneeId,
    ReceivedOn,
    ReplyDue,
    FirstReplyAt,
    ClosedAt,
    Category,
    Outcome,
    RequestId,
    PurgedAt,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ComplaintMessages {
    Table,
    Id,
    Pid,
    ComplaintId,
    Outgoing,
    AuthorId,
    Body,
    MessageId,
    CreatedAt,
}
