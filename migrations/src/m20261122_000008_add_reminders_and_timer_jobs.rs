//! Reminders and shared timers.
//!
//! `requests.expiry_warned_for` remembers which expiry the subject was warned about, so a
//! reminder goes once per waiting period. `timer_jobs` holds one row per periodic job (daily
//! staff digest, mail-failure alert, audit verification): an instance runs a job only after
//! moving its `next_run_at` forward with a conditional UPDATE, so with several instances each
//! run happens once.

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
                .add_column(timestamp_with_time_zone_null(Requests::ExpiryWarnedFor))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(TimerJobs::Table)
                .if_not_exists()
                .col(string(TimerJobs::Name).primary_key())
                .col(timestamp_with_time_zone(TimerJobs::NextRunAt))
                .col(timestamp_with_time_zone_null(TimerJobs::LastRunAt))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(TimerJobs::Table).to_owned())
            .await?;
        m.alter_table(
            Table::alter()
                .table(Requests::Table)
                .drop_column(Requests::ExpiryWarnedFor)
                .to_owned(),
        )
        .await
    }
}

#[derive(DeriveIden)]
enum Requests {
    Table,
    ExpiryWarnedFor,
}

#[derive(DeriveIden)]
enum TimerJobs {
    Table,
    Name,
    NextRunAt,
    LastRunAt,
}
