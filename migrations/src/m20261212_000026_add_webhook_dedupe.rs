//! Webhook events that a timer finds rather than a change makes (a deadline near or passed)
//! are written once per endpoint whatever the number of instances and runs: a key per event,
//! unique per endpoint. Deliveries of changes have no key (each change is its own event).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(WebhookDeliveries::Table)
                .add_column(string_len_null(WebhookDeliveries::DedupeKey, 200))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_webhook_deliveries_once")
                .table(WebhookDeliveries::Table)
                .col(WebhookDeliveries::EndpointId)
                .col(WebhookDeliveries::DedupeKey)
                .unique()
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("idx_webhook_deliveries_once")
                .table(WebhookDeliveries::Table)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(WebhookDeliveries::Table)
                .drop_column(WebhookDeliveries::DedupeKey)
                .to_owned(),
        )
        .await
    }
}

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    EndpointId,
    DedupeKey,
}
