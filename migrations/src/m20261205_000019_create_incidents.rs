//! The incident register (漏えい等, APPI Art. 26): the facts the rules are applied to (not
//! personal data), the report's nine items (sealed: they may describe people), and when each
//! report went and under which reference. Changes are versioned (two officers at once) and
//! audited on the `incidents` chain.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Incidents::Table)
                .col(big_integer(Incidents::Id).auto_increment().primary_key())
                .col(uuid_uniq(Incidents::Pid))
                .col(string_len_uniq(Incidents::Number, 20))
                .col(date(Incidents::AwareOn))
                .col(boolean(Incidents::SpecialCare))
                .col(boolean(Incidents::FinancialRisk))
                .col(boolean(Incidents::UnlawfulIntent))
                .col(integer(Incidents::People))
                .col(boolean(Incidents::Protected))
                .col(string_len_null(Incidents::EntrustedBy, 200))
                .col(text(Incidents::Report))
                .col(timestamp_with_time_zone_null(Incidents::PrelimAt))
                .col(string_len_null(Incidents::PrelimRef, 100))
                .col(timestamp_with_time_zone_null(Incidents::FinalAt))
                .col(string_len_null(Incidents::FinalRef, 100))
                .col(integer(Incidents::Version))
                .col(timestamp_with_time_zone(Incidents::CreatedAt))
                .col(timestamp_with_time_zone(Incidents::UpdatedAt))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Incidents::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Incidents {
    Table,
    Id,
    Pid,
    Number,
    AwareOn,
    SpecialCare,
    FinancialRisk,
    UnlawfulIntent,
    People,
    Protected,
    EntrustedBy,
    Report,
    PrelimAt,
    PrelimRef,
    FinalAt,
    FinalRef,
    Version,
    CreatedAt,
    UpdatedAt,
}
