//! TOTP hardening on staff accounts.
//!
//! - `totp_last_step`: the 30-second step of the last code accepted for this account. A code
//!   is accepted only for a later step, so one code cannot open two sessions (RFC 6238 §5.2).
//! - `totp_pending_secret`: a new secret being enrolled. The confirmed one (`totp_secret`)
//!   stays in force until a code from the new one is confirmed, so starting an enrolment no
//!   longer switches the second factor off.
//!
//! Both secrets are stored sealed by the vault (`sealed:v1:…`); older plaintext secrets are
//! still read and are sealed by `madoguchi keys rotate`. Nullable: older code ignores them.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // SQLite alters one column per statement.
        m.alter_table(
            Table::alter()
                .table(StaffUsers::Table)
                .add_column(big_integer_null(StaffUsers::TotpLastStep))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(StaffUsers::Table)
                .add_column(text_null(StaffUsers::TotpPendingSecret))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(StaffUsers::Table)
                .drop_column(StaffUsers::TotpPendingSecret)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(StaffUsers::Table)
                .drop_column(StaffUsers::TotpLastStep)
                .to_owned(),
        )
        .await
    }
}

#[derive(DeriveIden)]
enum StaffUsers {
    Table,
    TotpLastStep,
    TotpPendingSecret,
}
