//! Tasks for a system's owner: a gather job a person answers instead of a connector (a manual
//! system, or one whose connector gave up). The link's token is the service's keyed hash of
//! the job's nonce, so a reminder carries the same link; the token itself is stored as its
//! hash only, for lookup. The due time and the reminder sent are the job's.
//!
//! Also the officer's review of a job's fields (`review`, JSON: `dataset.field` → decision),
//! which is not personal data, and what a job does (`purpose`: `gather`, or `erase` for a job
//! that carries out an erasure in the system).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one at a time.
        for col in [
            string_len_null(GatherJobs::TaskTokenHash, 64),
            string_len_null(GatherJobs::TaskNonce, 64),
            timestamp_with_time_zone_null(GatherJobs::TaskDueAt),
            timestamp_with_time_zone_null(GatherJobs::TaskRemindedAt),
            text_null(GatherJobs::Review),
            string_len(GatherJobs::Purpose, 16)
                .default("gather")
                .to_owned(),
        ] {
            let mut col = col;
            m.alter_table(
                Table::alter()
                    .table(GatherJobs::Table)
                    .add_column(&mut col)
                    .to_owned(),
            )
            .await?;
        }
        // A run is numbered per purpose: an erasure's run 1 beside the gathering's.
        m.drop_index(
            Index::drop()
                .name("uq_gather_jobs_request_run_system")
                .table(GatherJobs::Table)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("uq_gather_jobs_request_purpose_run_system")
                .table(GatherJobs::Table)
                .col(GatherJobs::RequestId)
                .col(GatherJobs::Purpose)
                .col(GatherJobs::Run)
                .col(GatherJobs::System)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("uq_gather_jobs_task_token")
                .table(GatherJobs::Table)
                .col(GatherJobs::TaskTokenHash)
                .unique()
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("uq_gather_jobs_request_purpose_run_system")
                .table(GatherJobs::Table)
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
        m.drop_index(
            Index::drop()
                .name("uq_gather_jobs_task_token")
                .table(GatherJobs::Table)
                .to_owned(),
        )
        .await?;
        for col in [
            GatherJobs::TaskTokenHash,
            GatherJobs::TaskNonce,
            GatherJobs::TaskDueAt,
            GatherJobs::TaskRemindedAt,
            GatherJobs::Review,
            GatherJobs::Purpose,
        ] {
            m.alter_table(
                Table::alter()
                    .table(GatherJobs::Table)
                    .drop_column(col)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum GatherJobs {
    Table,
    RequestId,
    Run,
    System,
    TaskTokenHash,
    TaskNonce,
    TaskDueAt,
    TaskRemindedAt,
    Review,
    Purpose,
}
