//! Outgoing webhooks: the endpoints an administrator registers (their signing secret sealed)
//! and the deliveries written in the same transaction as the change they report, claimed by
//! one instance at a time under a lease like the outbox, retried with backoff, replayable.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(WebhookEndpoints::Table)
                .col(
                    big_integer(WebhookEndpoints::Id)
                        .auto_increment()
                        .primary_key(),
                )
                .col(uuid_uniq(WebhookEndpoints::Pid))
                .col(string_len(WebhookEndpoints::Url, 500))
                .col(string_len(WebhookEndpoints::Events, 500))
                .col(text(WebhookEndpoints::Secret))
                .col(boolean(WebhookEndpoints::Active))
                .col(timestamp_with_time_zone(WebhookEndpoints::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(WebhookDeliveries::Table)
                .col(
                    big_integer(WebhookDeliveries::Id)
                        .auto_increment()
                        .primary_key(),
                )
                .col(uuid_uniq(WebhookDeliveries::Pid))
                .col(big_integer(WebhookDeliveries::EndpointId))
                .col(string_len(WebhookDeliveries::Event, 50))
                .col(text(WebhookDeliveries::Payload))
                .col(string_len(WebhookDeliveries::Status, 20))
                .col(integer(WebhookDeliveries::Attempts))
                .col(timestamp_with_time_zone(WebhookDeliveries::NextAttemptAt))
                .col(timestamp_with_time_zone_null(
                    WebhookDeliveries::ClaimedUntil,
                ))
                .col(uuid_null(WebhookDeliveries::ClaimId))
                .col(string_len_null(WebhookDeliveries::LastError, 300))
                .col(integer_null(WebhookDeliveries::ResponseStatus))
                .col(timestamp_with_time_zone(WebhookDeliveries::CreatedAt))
                .col(timestamp_with_time_zone_null(
                    WebhookDeliveries::DeliveredAt,
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_webhook_deliveries_due")
                .table(WebhookDeliveries::Table)
                .col(WebhookDeliveries::Status)
                .col(WebhookDeliveries::NextAttemptAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(WebhookDeliveries::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(WebhookEndpoints::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum WebhookEndpoints {
    Table,
    Id,
    Pid,
    Url,
    Events,
    Secret,
    Active,
    CreatedAt,
}

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    Id,
    Pid,
    EndpointId,
    Event,
    Payload,
    Status,
    Attempts,
    NextAttemptAt,
    ClaimedUntil,
    ClaimId,
    LastError,
    ResponseStatus,
    CreatedAt,
    DeliveredAt,
}
