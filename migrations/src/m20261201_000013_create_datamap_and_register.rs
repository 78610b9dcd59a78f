//! The data map's versions, the version a request was answered under, and the third-party
//! provision register (Arts. 29, 30).
//!
//! `datamap_versions` keeps every accepted map (its source and SHA-256), newest last, so an
//! answer can be read against the map it was given under; installing the map in force again
//! adds nothing, installing an older one again adds it anew. `provision_records` holds one provision to or
//! receipt from a third party; what it says of the person is one sealed JSON column
//! (`record`), found by blind indexes of the person's address and phone number, and purged
//! after `retain_until` by a timer.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(DatamapVersions::Table)
                .col(
                    big_integer(DatamapVersions::Id)
                        .auto_increment()
                        .primary_key(),
                )
                .col(string_len(DatamapVersions::Hash, 64))
                .col(string_len(DatamapVersions::Label, 100))
                .col(text(DatamapVersions::Source))
                .col(timestamp_with_time_zone(DatamapVersions::CreatedAt))
                .col(string_len_null(DatamapVersions::CreatedBy, 64))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Requests::Table)
                .add_column(string_len_null(Requests::DatamapHash, 64))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(ProvisionRecords::Table)
                .col(
                    big_integer(ProvisionRecords::Id)
                        .auto_increment()
                        .primary_key(),
                )
                .col(uuid_uniq(ProvisionRecords::Pid))
                .col(string_len(ProvisionRecords::Direction, 16))
                .col(date(ProvisionRecords::OccurredOn))
                .col(string_len_null(ProvisionRecords::EmailIndex, 80))
                .col(string_len_null(ProvisionRecords::PhoneIndex, 80))
                .col(text(ProvisionRecords::Record))
                .col(date(ProvisionRecords::RetainUntil))
                .col(timestamp_with_time_zone(ProvisionRecords::CreatedAt))
                .col(string_len_null(ProvisionRecords::CreatedBy, 64))
                .to_owned(),
        )
        .await?;
        for (name, col) in [
            ("idx_provision_email", ProvisionRecords::EmailIndex),
            ("idx_provision_phone", ProvisionRecords::PhoneIndex),
            ("idx_provision_retain", ProvisionRecords::RetainUntil),
        ] {
            m.create_index(
                Index::create()
                    .name(name)
                    .table(ProvisionRecords::Table)
                    .col(col)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(ProvisionRecords::Table).to_owned())
            .await?;
        m.alter_table(
            Table::alter()
                .table(Requests::Table)
                .drop_column(Requests::DatamapHash)
                .to_owned(),
        )
        .await?;
        m.drop_table(Table::drop().table(DatamapVersions::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum DatamapVersions {
    Table,
    Id,
    Hash,
    Label,
    Source,
    CreatedAt,
    CreatedBy,
}

#[derive(DeriveIden)]
enum Requests {
    Table,
    DatamapHash,
}

#[derive(DeriveIden)]
enum ProvisionRecords {
    Table,
    Id,
    Pid,
    Direction,
    OccurredOn,
    EmailIndex,
    PhoneIndex,
    Record,
    RetainUntil,
    CreatedAt,
    CreatedBy,
}
