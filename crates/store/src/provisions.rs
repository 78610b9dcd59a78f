//! The third-party provision register (Arts. 29, 30): records sealed at rest, found by blind
//! indexes of the person's address and phone number, imported all or nothing with their
//! audit entry, and purged after their retention period.

use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use madoguchi_domain::register::{Direction, ProvisionRecord};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use crate::audit::{NewEntry, Origin};
use crate::entities::provision_record;
use crate::sealed::RowCipher;
use crate::{Db, StoreError};

/// The chain the register's imports, views and purges are recorded on.
pub const CHAIN: &str = "register";

/// A stored record, opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// Public id.
    pub pid: Uuid,
    /// The record.
    pub record: ProvisionRecord,
    /// The last day it is kept.
    pub retain_until: NaiveDate,
    /// When it was written.
    pub created_at: DateTime<Utc>,
}

fn aad(pid: Uuid) -> String {
    format!("provision:{pid}")
}

/// The blind index of a phone number's digits.
pub fn phone_index(cipher: &RowCipher, digits: &str) -> String {
    cipher.email_index(&format!("tel:{digits}"))
}

fn open(cipher: &RowCipher, m: provision_record::Model) -> Result<Stored, StoreError> {
    let json = cipher.open(&aad(m.pid), &m.record)?;
    let record: ProvisionRecord = serde_json::from_str(&json)
        .map_err(|e| StoreError::Corrupt(format!("provision {}: {e}", m.pid)))?;
    if Direction::parse(&m.direction) != Some(record.direction) {
        return Err(StoreError::Corrupt(format!(
            "provision {}: direction {:?} does not match its record",
            m.pid, m.direction
        )));
    }
    Ok(Stored {
        pid: m.pid,
        record,
        retain_until: m.retain_until,
        created_at: m.created_at,
    })
}

/// Stores checked records and the entry that records their import, in one transaction.
pub async fn import(
    db: &Db,
    cipher: &RowCipher,
    records: &[ProvisionRecord],
    by: Option<&str>,
    entry: NewEntry,
    origin: &Origin,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let rows: Vec<provision_record::ActiveModel> = records
        .iter()
        .map(|r| {
            let pid = Uuid::new_v4();
            let json = serde_json::to_string(r).expect("a record serialises");
            provision_record::ActiveModel {
                pid: Set(pid),
                direction: Set(r.direction.as_str().to_owned()),
                occurred_on: Set(r.occurred_on),
                email_index: Set(r.email_normalized().map(|e| cipher.email_index(&e))),
                phone_index: Set(r.phone_digits().map(|d| phone_index(cipher, &d))),
                record: Set(cipher.seal(&aad(pid), &json)),
                retain_until: Set(r.retain_until(madoguchi_domain::jst_date(now))),
                created_at: Set(now.trunc_subsecs(6)),
                created_by: Set(by.map(str::to_owned)),
                ..Default::default()
            }
        })
        .collect();
    let tx = db.begin_write().await?;
    for chunk in rows.chunks(500) {
        provision_record::Entity::insert_many(chunk.to_vec())
            .exec(&tx)
            .await?;
    }
    crate::change::record_office(&tx, CHAIN, &[entry], origin, now).await?;
    tx.commit().await?;
    Ok(())
}

/// The records about a person, by the blind index of their address or of their phone
/// number, oldest first.
pub async fn for_person<C: ConnectionTrait>(
    db: &C,
    cipher: &RowCipher,
    email_index: Option<&str>,
    phone_index: Option<&str>,
) -> Result<Vec<Stored>, StoreError> {
    let mut any = Condition::any();
    if let Some(e) = email_index {
        any = any.add(provision_record::Column::EmailIndex.eq(e));
    }
    if let Some(p) = phone_index {
        any = any.add(provision_record::Column::PhoneIndex.eq(p));
    }
    if email_index.is_none() && phone_index.is_none() {
        return Ok(Vec::new());
    }
    provision_record::Entity::find()
        .filter(any)
        .order_by_asc(provision_record::Column::OccurredOn)
        .order_by_asc(provision_record::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|m| open(cipher, m))
        .collect()
}

/// A page of the register, newest first, and how many records it holds.
pub async fn page<C: ConnectionTrait>(
    db: &C,
    cipher: &RowCipher,
    limit: u64,
    offset: u64,
) -> Result<(Vec<Stored>, u64), StoreError> {
    let total = provision_record::Entity::find().count(db).await?;
    let rows = provision_record::Entity::find()
        .order_by_desc(provision_record::Column::OccurredOn)
        .order_by_desc(provision_record::Column::Id)
        .limit(limit)
        .offset(offset)
        .all(db)
        .await?
        .into_iter()
        .map(|m| open(cipher, m))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((rows, total))
}

/// Deletes the records whose period ended before `today`, with one entry saying how many,
/// in one transaction. Returns how many.
pub async fn purge(
    db: &Db,
    today: NaiveDate,
    entry: impl FnOnce(u64) -> NewEntry,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let tx = db.begin_write().await?;
    let gone = provision_record::Entity::delete_many()
        .filter(provision_record::Column::RetainUntil.lt(today))
        .exec(&tx)
        .await?
        .rows_affected;
    if gone > 0 {
        crate::change::record_office(&tx, CHAIN, &[entry(gone)], &Origin::default(), now).await?;
    }
    tx.commit().await?;
    Ok(gone)
}

/// Re-seals every record not sealed under the current key. Returns how many changed.
pub async fn reseal_all<C: ConnectionTrait>(
    db: &C,
    cipher: &RowCipher,
) -> Result<usize, StoreError> {
    use sea_orm::sea_query::Expr;
    let (mut after, mut changed) = (0_i64, 0);
    loop {
        let rows = provision_record::Entity::find()
            .filter(provision_record::Column::Id.gt(after))
            .order_by_asc(provision_record::Column::Id)
            .limit(500)
            .all(db)
            .await?;
        let Some(last) = rows.last() else {
            return Ok(changed);
        };
        after = last.id;
        for r in rows {
            if cipher.is_current(&r.record) {
                continue;
            }
            let plain = cipher.open(&aad(r.pid), &r.record)?;
            let done = provision_record::Entity::update_many()
                .col_expr(
                    provision_record::Column::Record,
                    Expr::value(cipher.seal(&aad(r.pid), &plain)),
                )
                .filter(provision_record::Column::Id.eq(r.id))
                .filter(provision_record::Column::Record.eq(r.record.clone()))
                .exec(db)
                .await?;
            changed += done.rows_affected as usize;
        }
    }
}
