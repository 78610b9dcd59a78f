//! Monitoring counts connector jobs by purpose and state at every scrape: an index that
//! answers it without reading the jobs' sealed results (on SQLite, `purpose` sits after them
//! in the row).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(
            Index::create()
                .name("idx_gather_jobs_purpose_state")
                .table(GatherJobs::Table)
                .col(GatherJobs::Purpose)
                .col(GatherJobs::State)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("idx_gather_jobs_purpose_state")
                .table(GatherJobs::Table)
                .to_owned(),
        )
        .await
    }
}

#[derive(DeriveIden)]
enum GatherJobs {
    Table,
    Purpose,
    State,
}
