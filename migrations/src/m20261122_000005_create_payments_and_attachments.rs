use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Payments::Table)
                .if_not_exists()
                .col(big_pk_auto(Payments::Id))
                .col(big_integer(Payments::RequestId))
                .col(string(Payments::Method))
                .col(big_integer(Payments::Amount))
                .col(string(Payments::Kind))
                .col(string_null(Payments::Reference))
                .col(string_null(Payments::ProviderRef))
                .col(string_null(Payments::ReceiptNumber))
                .col(string_null(Payments::RecordedBy))
                .col(timestamp_with_time_zone(Payments::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("payments_request")
                .table(Payments::Table)
                .col(Payments::RequestId)
                .to_owned(),
        )
        .await?;
        // Webhook events applied once: the event id is the idempotency key.
        m.create_table(
            Table::create()
                .table(ProviderEvents::Table)
                .if_not_exists()
                .col(string(ProviderEvents::Id).primary_key())
                .col(string(ProviderEvents::Kind))
                .col(timestamp_with_time_zone(ProviderEvents::ReceivedAt))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Attachments::Table)
                .if_not_exists()
                .col(big_pk_auto(Attachments::Id))
                .col(uuid_uniq(Attachments::Pid))
                .col(big_integer(Attachments::RequestId))
                .col(string(Attachments::Purpose))
                .col(string(Attachments::Filename))
                .col(string(Attachments::ContentType))
                .col(big_integer(Attachments::Size))
                .col(string(Attachments::KeyId))
                .col(blob(Attachments::Nonce))
                .col(blob_null(Attachments::Ciphertext))
                .col(integer(Attachments::Downloads).default(0))
                .col(timestamp_with_time_zone(Attachments::CreatedAt))
                .col(timestamp_with_time_zone_null(Attachments::DeletedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("attachments_request")
                .table(Attachments::Table)
                .col(Attachments::RequestId)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Attachments::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(ProviderEvents::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(Payments::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Payments {
    Table,
    Id,
    RequestId,
    Method,
    Amount,
    Kind,
    Reference,
    ProviderRef,
    ReceiptNumber,
    RecordedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ProviderEvents {
    Table,
    Id,
    Kind,
    ReceivedAt,
}

#[derive(DeriveIden)]
enum Attachments {
    Table,
    Id,
    Pid,
    RequestId,
    Purpose,
    Filename,
    ContentType,
    Size,
    KeyId,
    Nonce,
    Ciphertext,
    Downloads,
    CreatedAt,
    DeletedAt,
}
