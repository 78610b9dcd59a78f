//! Identity by customer record (本人確認), and what intake now asks for it.
//!
//! `customers` is what the business's own records say about a customer, reduced to what a
//! match needs and nothing readable: `email_hash` is a keyed hash (HMAC-SHA256 under the
//! service secret) of the lower-cased address, `match_hash` a keyed hash of that address, the
//! normalised name and the date of birth. Without the secret the table is a list of random
//! strings, so it is not a second copy of the customer base. `madoguchi customers import`
//! fills it; the lookup after e-mail confirmation reads it by `email_hash` (unique: one record
//! per address, the import's upsert key).
//!
//! `requests.subject_birth_date` is the subject's date of birth given at intake (required when
//! the kind's identity method is `customer_record`); `requests.subject_email` the subject's own
//! address an agent may give, for sending the result to the subject. Both nullable: rows filed
//! before this migration have neither, and older code does not read them.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Customers::Table)
                .if_not_exists()
                .col(big_pk_auto(Customers::Id))
                .col(string(Customers::EmailHash))
                .col(string(Customers::MatchHash))
                .col(string_null(Customers::ExternalRef))
                .col(timestamp_with_time_zone(Customers::UpdatedAt))
                .to_owned(),
        )
        .await?;
        // The lookup by address, and the import's upsert (ON CONFLICT (email_hash)).
        m.create_index(
            Index::create()
                .name("customers_email_hash")
                .table(Customers::Table)
                .col(Customers::EmailHash)
                .unique()
                .to_owned(),
        )
        .await?;
        // SQLite takes one column per ALTER TABLE.
        m.alter_table(
            Table::alter()
                .table(Requests::Table)
                .add_column(date_null(Requests::SubjectBirthDate))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Requests::Table)
                .add_column(string_null(Requests::SubjectEmail))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Requests::Table)
                .drop_column(Requests::SubjectEmail)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Requests::Table)
                .drop_column(Requests::SubjectBirthDate)
                .to_owned(),
        )
        .await?;
        m.drop_table(Table::drop().table(Customers::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Customers {
    Table,
    Id,
    EmailHash,
    MatchHash,
    ExternalRef,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Requests {
    Table,
    SubjectBirthDate,
    SubjectEmail,
}
