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

/// How the request's accepted fee was paid (its latest payment line), if it was.
pub async fn accepted_payment_method<C: ConnectionTrait>(
    db: &C,
    request_id: i64,
) -> Result<Option<PaymentMethod>, StoreError> {
    let Some(paid) = payment::Entity::find()
        .filter(payment::Column::RequestId.eq(request_id))
        .filter(payment::Column::Kind.eq(LedgerKind::Payment.as_db()))
        .order_by_desc(payment::Column::Id)
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    PaymentMethod::parse(&paid.method).map(Some).ok_or_else(|| {
        StoreError::Corrupt(format!(
            "payment {}: unknown method {:?}",
            paid.id, paid.method
        ))
    })
}

/// The request a provider payment (or a refund of it) belongs to.
pub async fn request_of_reference<C: ConnectionTrait>(
    db: &C,
    reference: &str,
) -> Result<Option<i64>, StoreError> {
    Ok(payment::Entity::find()
        .filter(payment::Column::Reference.eq(reference))
        .one(db)
        .await?
        .map(|p| p.request_id))
}

/// Card refunds waiting to be sent, every request's.
pub async fn card_refunds_due<C: ConnectionTrait>(
    db: &C,
) -> Result<Vec<payment::Model>, StoreError> {
    Ok(payment::Entity::find()
        .filter(payment::Column::Kind.is_in(LedgerKind::refunds_due()))
        .filter(payment::Column::Method.eq(PaymentMethod::Card.as_str()))
        .all(db)
        .await?)
}

/// The provider's id of the request's accepted card payment, if it was paid by card.
pub async fn accepted_card_payment<C: ConnectionTrait>(
    db: &C,
    request_id: i64,
) -> Result<Option<String>, StoreError> {
    Ok(payment::Entity::find()
        .filter(payment::Column::RequestId.eq(request_id))
        .filter(payment::Column::Kind.eq(LedgerKind::Payment.as_db()))
        .filter(payment::Column::Method.eq(PaymentMethod::Card.as_str()))
        .order_by_desc(payment::Column::Id)
        .one(db)
        .await?
        .and_then(|p| p.provider_ref))
}

/// Whether a provider's webhook event was applied already.
pub async fn provider_event_seen<C: ConnectionTrait>(db: &C, id: &str) -> Result<bool, StoreError> {
    Ok(
        crate::entities::provider_event::Entity::find_by_id(id.to_owned())
            .one(db)
            .await?
            .is_some(),
    )
}

/// Remembers a provider's webhook event as applied; one seen already (a concurrent delivery)
/// is not an error.
pub async fn remember_provider_event<C: ConnectionTrait>(
    db: &C,
    id: &str,
    kind: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    use chrono::SubsecRound;
    use sea_orm::ActiveValue::Set;
    let row = crate::entities::provider_event::ActiveModel {
        id: Set(id.to_owned()),
        kind: Set(kind.to_owned()),
        received_at: Set(now.trunc_subsecs(6)),
    };
    match crate::entities::provider_event::Entity::insert(row)
        .exec(db)
        .await
        .map_err(StoreError::from)
    {
        Err(e) if !e.is_unique_violation() => Err(e),
        _ => Ok(()),
    }
}
