//! Notices to the people an incident involves (Art. 26(2)): each person imported for an
//! incident (name, and an address or a postal address, sealed), the outbox message that told
//! them (its status is the notice's: sent, failed, a letter to post, posted), and, where the
//! people cannot be told, the publication made instead (規則10 ただし書: 代替措置), recorded on
//! the incident.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(IncidentPeople::Table)
                .col(
                    big_integer(IncidentPeople::Id)
                        .auto_increment()
                        .primary_key(),
                )
                .col(uuid_uniq(IncidentPeople::Pid))
                .col(big_integer(IncidentPeople::IncidentId))
                .col(text(IncidentPeople::Name))
                .col(text_null(IncidentPeople::Email))
                .col(text_null(IncidentPeople::PostalAddress))
                .col(string_len(IncidentPeople::PersonIndex, 100))
                .col(string_len_null(IncidentPeople::MessageId, 200))
                .col(timestamp_with_time_zone_null(IncidentPeople::NotifiedAt))
                .col(timestamp_with_time_zone(IncidentPeople::CreatedAt))
                .to_owned(),
        )
        .await?;
        // One person once per incident: a keyed index of their address (or name and postal
        // address), so an import run twice cannot tell anyone twice.
        m.create_index(
            Index::create()
                .name("idx_incident_people_person")
                .table(IncidentPeople::Table)
                .col(IncidentPeople::IncidentId)
                .col(IncidentPeople::PersonIndex)
                .unique()
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Incidents::Table)
                .add_column(date_null(Incidents::PublishedOn))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Incidents::Table)
                .add_column(string_len_null(Incidents::PublishedHow, 300))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Incidents::Table)
                .drop_column(Incidents::PublishedHow)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Incidents::Table)
                .drop_column(Incidents::PublishedOn)
                .to_owned(),
        )
        .await?;
        m.drop_table(Table::drop().table(IncidentPeople::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum IncidentPeople {
    Table,
    Id,
    Pid,
    IncidentId,
    Name,
    Email,
    PostalAddress,
    PersonIndex,
    MessageId,
    NotifiedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Incidents {
    Table,
    PublishedOn,
    PublishedHow,
}
