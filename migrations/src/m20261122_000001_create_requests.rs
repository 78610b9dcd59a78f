use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Requests::Table)
                .if_not_exists()
                .col(big_pk_auto(Requests::Id))
                .col(uuid_uniq(Requests::Pid))
                .col(string_uniq(Requests::Number))
                .col(string(Requests::Kind))
                .col(string(Requests::State))
                .col(big_integer(Requests::Version))
                .col(string(Requests::Jurisdiction))
                .col(text(Requests::Policy))
                .col(string(Requests::Lang))
                .col(string(Requests::Channel))
                .col(string(Requests::Requester))
                .col(string(Requests::SubjectName))
                .col(string(Requests::SubjectKana))
                .col(string(Requests::Email))
                .col(string(Requests::EmailNorm))
                .col(string_null(Requests::Phone))
                .col(text_null(Requests::PostalAddress))
                .col(string_null(Requests::Delivery))
                .col(string_null(Requests::Ground))
                .col(text(Requests::Details))
                .col(text_null(Requests::CurrentContent))
                .col(text_null(Requests::CorrectContent))
                .col(text_null(Requests::Agent))
                .col(text_null(Requests::SubjectMessage))
                .col(text_null(Requests::SubjectReply))
                .col(big_integer(Requests::Fee))
                .col(big_integer(Requests::Paid))
                .col(boolean(Requests::IdentityVerified))
                .col(boolean(Requests::WorkStarted))
                .col(boolean(Requests::Extended))
                .col(timestamp_with_time_zone(Requests::ArrivedAt))
                .col(date(Requests::DueOn))
                .col(date(Requests::MaySueFrom))
                .col(timestamp_with_time_zone_null(Requests::PausedSince))
                .col(timestamp_with_time_zone_null(Requests::ExpiresAt))
                .col(timestamp_with_time_zone_null(Requests::ClosedAt))
                .col(big_integer_null(Requests::AssigneeId))
                .col(big_integer_null(Requests::DuplicateOf))
                .col(big_integer(Requests::AuditSeq))
                .col(string(Requests::AuditHead))
                .col(timestamp_with_time_zone(Requests::CreatedAt))
                .col(timestamp_with_time_zone(Requests::UpdatedAt))
                .to_owned(),
        )
        .await?;
        // The queue: open requests by due date, filtered by state.
        m.create_index(
            Index::create()
                .name("requests_state_due")
                .table(Requests::Table)
                .col(Requests::State)
                .col(Requests::DueOn)
                .col(Requests::Id)
                .to_owned(),
        )
        .await?;
        // The queue's default view: everything by due date.
        m.create_index(
            Index::create()
                .name("requests_due")
                .table(Requests::Table)
                .col(Requests::DueOn)
                .col(Requests::Id)
                .to_owned(),
        )
        .await?;
        // Duplicate detection at intake and search by e-mail.
        m.create_index(
            Index::create()
                .name("requests_email_kind")
                .table(Requests::Table)
                .col(Requests::EmailNorm)
                .col(Requests::Kind)
                .to_owned(),
        )
        .await?;
        // The timer sweep: what expires next.
        m.create_index(
            Index::create()
                .name("requests_expires")
                .table(Requests::Table)
                .col(Requests::ExpiresAt)
                .to_owned(),
        )
        .await?;

        // Named counters, e.g. the yearly request number on SQLite (PostgreSQL uses a sequence).
        m.create_table(
            Table::create()
                .table(Counters::Table)
                .if_not_exists()
                .col(string(Counters::Name).primary_key())
                .col(big_integer(Counters::Value))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Settings::Table)
                .if_not_exists()
                .col(string(Settings::Key).primary_key())
                .col(text(Settings::Value))
                .col(timestamp_with_time_zone(Settings::UpdatedAt))
                .to_owned(),
        )
        .await?;
        if m.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
            m.get_connection()
                .execute_unprepared("CREATE SEQUENCE IF NOT EXISTS request_number_seq")
                .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
            m.get_connection()
                .execute_unprepared("DROP SEQUENCE IF EXISTS request_number_seq")
                .await?;
        }
        m.drop_table(Table::drop().table(Settings::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(Counters::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(Requests::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Requests {
    Table,
    Id,
    Pid,
    Number,
    Kind,
    State,
    Version,
    Jurisdiction,
    Policy,
    Lang,
    Channel,
    Requester,
    SubjectName,
    SubjectKana,
    Email,
    EmailNorm,
    Phone,
    PostalAddress,
    Delivery,
    Ground,
    Details,
    CurrentContent,
    CorrectContent,
    Agent,
    SubjectMessage,
    SubjectReply,
    Fee,
    Paid,
    IdentityVerified,
    WorkStarted,
    Extended,
    ArrivedAt,
    DueOn,
    MaySueFrom,
    PausedSince,
    ExpiresAt,
    ClosedAt,
    AssigneeId,
    DuplicateOf,
    AuditSeq,
    AuditHead,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Counters {
    Table,
    Name,
    Value,
}

#[derive(DeriveIden)]
enum Settings {
    Table,
    Key,
    Value,
    UpdatedAt,
}
