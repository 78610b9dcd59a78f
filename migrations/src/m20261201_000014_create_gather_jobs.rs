//! Connector jobs: one per request, run and system, claimed by any instance, retried with
//! backoff, resumed after a crash (an expired claim is taken again). `result` is the rows
//! found, sealed; `hash` is what the audit trail records of them.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(GatherJobs::Table)
                .col(big_integer(GatherJobs::Id).auto_increment().primary_key())
                .col(big_integer(GatherJobs::RequestId))
                .col(integer(GatherJobs::Run))
                .col(string_len(GatherJobs::System, 100))
                .col(string_len(GatherJobs::State, 16))
                .col(integer(GatherJobs::Attempts))
                .col(timestamp_with_time_zone(GatherJobs::NextAttemptAt))
                .col(timestamp_with_time_zone_null(GatherJobs::ClaimedUntil))
                .col(text_null(GatherJobs::Error))
                .col(text_null(GatherJobs::Result))
                .col(integer(GatherJobs::Rows))
                .col(string_len_null(GatherJobs::Hash, 64))
                .col(timestamp_with_time_zone(GatherJobs::CreatedAt))
                .col(timestamp_with_time_zone(GatherJobs::UpdatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("uq_gather_jobs_request_run_system")
                .table(GatherJobs::Table)
                .col(GatherJobs::RequestId)
                .col(GatherJobs::Run)
                .col(GatherJobs::System)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_gather_jobs_due")
                .table(GatherJobs::Table)
                .col(GatherJobs::State)
                .col(GatherJobs::NextAttemptAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(GatherJobs::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum GatherJobs {
    Table,
    Id,
    RequestId,
    Run,
    System,
    State,
    Attempts,
    NextAttemptAt,
    ClaimedUntil,
    Error,
    Result,
    Rows,
    Hash,
    CreatedAt,
    UpdatedAt,
}
