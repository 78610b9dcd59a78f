//! The payment ledger as the service reads it: rows with their kind typed
//! (`madoguchi_domain::LedgerKind`), the one place where the stored spellings are mapped.

use chrono::{DateTime, Utc};
use madoguchi_domain::{LedgerKind, PaymentMethod, Yen};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::StoreError;
use crate::entities::payment;

/// One line of a request's ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentLine {
    /// Row key (the refund forms post it back).
    pub id: i64,
    /// What the line is.
    pub kind: LedgerKind,
    /// How the money moved; `None` for a method no version of the domain knows (older rows
    /// wrote `as_paid` when a refund had no payment before it): shown as unknown, not fatal.
    pub method: Option<PaymentMethod>,
    /// How much.
    pub amount: Yen,
    /// The receipt's number, for payments.
    pub receipt_number: Option<String>,
    /// When it was written.
    pub created_at: DateTime<Utc>,
}

/// The kind of a stored row; a spelling no version wrote is corruption, named by row.
pub fn kind_of(row: &payment::Model) -> Result<LedgerKind, StoreError> {
    LedgerKind::parse(&row.kind).ok_or_else(|| {
        StoreError::Corrupt(format!("payment {}: unknown kind {:?}", row.id, row.kind))
    })
}

/// A stored row as a ledger line.
pub fn line(row: &payment::Model) -> Result<PaymentLine, StoreError> {
    Ok(PaymentLine {
        id: row.id,
        kind: kind_of(row)?,
        method: PaymentMethod::parse(&row.method),
        amount: Yen(row.amount),
        receipt_number: row.receipt_number.clone(),
        created_at: row.created_at,
    })
}

/// A request's ledger, oldest first.
pub async fn for_request<C: ConnectionTrait>(
    db: &C,
    request_id: i64,
) -> Result<Vec<PaymentLine>, StoreError> {
    payment::Entity::find()
        .filter(payment::Column::RequestId.eq(request_id))
        .order_by_asc(payment::Column::Id)
        .all(db)
        .await?
        .iter()
        .map(line)
        .collect()
}
