//! Rate-limit counters shared by every instance: one row per key (e.g. `intake:<address>`),
//! a fixed window started at `window_start` (Unix seconds) and the hits counted in it.
//! Seconds as integers compare the same way on SQLite and PostgreSQL.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(RateLimits::Table)
                .if_not_exists()
                .col(string(RateLimits::Key).primary_key())
                .col(big_integer(RateLimits::Hits))
                .col(big_integer(RateLimits::WindowStart))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(RateLimits::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum RateLimits {
    Table,
    Key,
    Hits,
    WindowStart,
}
