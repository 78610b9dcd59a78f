//! Staff single sign-on: an account is tied to the provider's subject (`<issuer> <sub>`, one
//! account per subject), and each login begun is remembered here until the provider sends the
//! browser back: the state and nonce it must match and the PKCE verifier, keyed by the hash of
//! a cookie only that browser holds. A row is taken once (deleted when used) and lives ten
//! minutes at most; rows here are shared by every instance, so the browser may come back to
//! any of them.

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
                .add_column(string_len_null(StaffUsers::SsoSubject, 600))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_staff_users_sso_subject")
                .table(StaffUsers::Table)
                .col(StaffUsers::SsoSubject)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(StaffSsoLogins::Table)
                .col(string_len(StaffSsoLogins::IdHash, 64).primary_key())
                .col(string_len(StaffSsoLogins::State, 100))
                .col(string_len(StaffSsoLogins::Nonce, 100))
                .col(string_len(StaffSsoLogins::Verifier, 100))
                .col(string_len(StaffSsoLogins::Next, 500))
                .col(timestamp_with_time_zone(StaffSsoLogins::CreatedAt))
                .col(timestamp_with_time_zone(StaffSsoLogins::ExpiresAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_staff_sso_logins_expires")
                .table(StaffSsoLogins::Table)
                .col(StaffSsoLogins::ExpiresAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(StaffSsoLogins::Table).to_owned())
            .await?;
        m.drop_index(
            Index::drop()
                .name("idx_staff_users_sso_subject")
                .table(StaffUsers::Table)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(StaffUsers::Table)
                .drop_column(StaffUsers::SsoSubject)
                .to_owned(),
        )
        .await
    }
}

#[derive(DeriveIden)]
enum StaffUsers {
    Table,
    SsoSubject,
}

#[derive(DeriveIden)]
enum StaffSsoLogins {
    Table,
    IdHash,
    State,
    Nonce,
    Verifier,
    Next,
    CreatedAt,
    ExpiresAt,
}
