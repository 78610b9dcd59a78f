//! `staff_users` table. Mirrors the migration; hand-written models live in the parent module.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "staff_users")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub pid: Uuid,
    #[sea_orm(unique)]
    pub email: String,
    pub name: String,
    pub role: String,
    pub password_hash: String,
    pub totp_secret: Option<String>,
    pub totp_enabled: bool,
    pub recovery_codes: Option<String>,
    pub disabled: bool,
    pub failed_logins: i32,
    pub locked_until: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub totp_last_step: Option<i64>,
    pub totp_pending_secret: Option<String>,
    /// The password was handed over (one-time): it must be replaced before any work.
    pub must_change_password: bool,
    /// The identity provider's subject (`<issuer> <sub>`) once the account signs in by SSO.
    pub sso_subject: Option<String>,
}

impl ActiveModelBehavior for ActiveModel {}
