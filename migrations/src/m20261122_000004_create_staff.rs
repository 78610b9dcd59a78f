use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(StaffUsers::Table)
                .if_not_exists()
                .col(big_pk_auto(StaffUsers::Id))
                .col(uuid_uniq(StaffUsers::Pid))
                .col(string_uniq(StaffUsers::Email))
                .col(string(StaffUsers::Name))
                .col(string(StaffUsers::Role))
                .col(string(StaffUsers::PasswordHash))
                .col(string_null(StaffUsers::TotpSecret))
                .col(boolean(StaffUsers::TotpEnabled).default(false))
                .col(text_null(StaffUsers::RecoveryCodes))
                .col(boolean(StaffUsers::Disabled))
                .col(integer(StaffUsers::FailedLogins))
                .col(timestamp_with_time_zone_null(StaffUsers::LockedUntil))
                .col(timestamp_with_time_zone(StaffUsers::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(StaffSessions::Table)
                .if_not_exists()
                .col(string(StaffSessions::IdHash).primary_key())
                .col(big_integer(StaffSessions::UserId))
                .col(string(StaffSessions::Csrf))
                .col(boolean(StaffSessions::MfaPending).default(false))
                .col(timestamp_with_time_zone(StaffSessions::CreatedAt))
                .col(timestamp_with_time_zone(StaffSessions::LastSeenAt))
                .col(timestamp_with_time_zone(StaffSessions::ExpiresAt))
                .to_owned(),
        )
        .await?;
        // Failed logins per client address, shared by every instance.
        m.create_table(
            Table::create()
                .table(LoginThrottle::Table)
                .if_not_exists()
                .col(string(LoginThrottle::Key).primary_key())
                .col(integer(LoginThrottle::Failures))
                .col(timestamp_with_time_zone(LoginThrottle::WindowStart))
                .col(timestamp_with_time_zone_null(LoginThrottle::LockedUntil))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(ApiTokens::Table)
                .if_not_exists()
                .col(big_pk_auto(ApiTokens::Id))
                .col(big_integer(ApiTokens::UserId))
                .col(string_uniq(ApiTokens::TokenHash))
                .col(string(ApiTokens::Role))
                .col(string(ApiTokens::Label))
                .col(timestamp_with_time_zone(ApiTokens::CreatedAt))
                .col(timestamp_with_time_zone_null(ApiTokens::RevokedAt))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(ApiTokens::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(StaffSessions::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(StaffUsers::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum StaffUsers {
    Table,
    Id,
    Pid,
    Email,
    Name,
    Role,
    PasswordHash,
    TotpSecret,
    TotpEnabled,
    RecoveryCodes,
    Disabled,
    FailedLogins,
    LockedUntil,
    CreatedAt,
}

#[derive(DeriveIden)]
enum StaffSessions {
    Table,
    IdHash,
    UserId,
    Csrf,
    MfaPending,
    CreatedAt,
    LastSeenAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum ApiTokens {
    Table,
    Id,
    UserId,
    TokenHash,
    Role,
    Label,
    CreatedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum LoginThrottle {
    Table,
    Key,
    Failures,
    WindowStart,
    LockedUntil,
}
