//! Customer records for identity by record (本人確認). Rows hold keyed hashes only; the
//! service computes them (it holds the key), this module stores and finds them.

use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
};

use crate::entities::customer::{self, Entity as Customers};
use crate::error::StoreError;

/// One customer, as the import writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCustomer {
    /// Keyed hash of the normalised e-mail address (the lookup key).
    pub email_hash: String,
    /// Keyed hash of address, normalised name and date of birth (what a match compares).
    pub match_hash: String,
    /// The business's own id for the customer, if given.
    pub external_ref: Option<String>,
}

/// What an import changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Upserted {
    /// Rows for addresses not seen before.
    pub inserted: u64,
    /// Rows that replaced the record of a known address.
    pub updated: u64,
}

/// Rows per statement: well under SQLite's and PostgreSQL's bound-parameter limits.
const CHUNK: usize = 500;

/// Inserts or replaces customers by `email_hash`, in the caller's transaction.
pub async fn upsert<C: ConnectionTrait>(
    db: &C,
    rows: &[NewCustomer],
    now: DateTime<Utc>,
) -> Result<Upserted, StoreError> {
    let now = now.trunc_subsecs(6);
    let mut out = Upserted::default();
    for chunk in rows.chunks(CHUNK) {
        let known = Customers::find()
            .filter(customer::Column::EmailHash.is_in(chunk.iter().map(|r| r.email_hash.clone())))
            .count(db)
            .await?;
        out.updated += known;
        out.inserted += chunk.len() as u64 - known;
        Customers::insert_many(chunk.iter().map(|r| customer::ActiveModel {
            email_hash: Set(r.email_hash.clone()),
            match_hash: Set(r.match_hash.clone()),
            external_ref: Set(r.external_ref.clone()),
            updated_at: Set(now),
            ..Default::default()
        }))
        .on_conflict(
            OnConflict::column(customer::Column::EmailHash)
                .update_columns([
                    customer::Column::MatchHash,
                    customer::Column::ExternalRef,
                    customer::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    }
    Ok(out)
}

/// The record for an address's keyed hash.
pub async fn find_by_email_hash<C: ConnectionTrait>(
    db: &C,
    email_hash: &str,
) -> Result<Option<customer::Model>, StoreError> {
    Ok(Customers::find()
        .filter(customer::Column::EmailHash.eq(email_hash))
        .one(db)
        .await?)
}

/// How many customer records there are.
pub async fn count<C: ConnectionTrait>(db: &C) -> Result<u64, StoreError> {
    Ok(Customers::find().count(db).await?)
}
