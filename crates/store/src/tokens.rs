//! Single-use tokens the subject receives by e-mail (confirmation links, one-time codes).
//! Only their SHA-256 is stored.

use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, sea_query::Expr,
};

use crate::entities::subject_token::{self, Entity as Tokens};
use crate::error::StoreError;
use crate::secrets::hash_token;

/// Confirms the contact address.
pub const CONFIRM_EMAIL: &str = "confirm_email";

/// Why a token was not accepted. The subject sees one message for all of them except expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// No such token (mistyped, forged, or for another purpose).
    #[error("unknown token")]
    Unknown,
    /// It existed but its time ran out.
    #[error("expired token")]
    Expired,
    /// It was already used.
    #[error("used token")]
    Used,
}

/// Counts one attempt on a live code before it is checked, atomically, and returns the
/// attempt's number; `None` when the code is used, locked or has had `max` attempts already.
/// Counting first means that however many guesses arrive at once, at most `max` are checked.
pub async fn count_attempt<C: ConnectionTrait>(
    db: &C,
    token_id: i64,
    max: i32,
) -> Result<Option<i32>, StoreError> {
    let stmt = sea_orm::Statement::from_sql_and_values(
        db.get_database_backend(),
        "UPDATE subject_tokens SET attempts = attempts + 1 \
         WHERE id = $1 AND used_at IS NULL AND attempts < $2 RETURNING attempts",
        [sea_orm::Value::from(token_id), sea_orm::Value::from(max)],
    );
    let row = db.query_one_raw(stmt).await?;
    Ok(match row {
        Some(r) => Some(r.try_get::<i32>("", "attempts")?),
        None => None,
    })
}

/// Stores the hash of `token`.
pub async fn insert<C: ConnectionTrait>(
    db: &C,
    request_id: i64,
    purpose: &str,
    token: &str,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    db.execute(&insert_statement(
        request_id, purpose, token, expires_at, now,
    ))
    .await?;
    Ok(())
}

/// The insert of a token's hash, for a change's [`crate::batch::Batch`].
pub(crate) fn insert_statement(
    request_id: i64,
    purpose: &str,
    token: &str,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> sea_orm::sea_query::InsertStatement {
    use sea_orm::QueryTrait;
    let row = subject_token::ActiveModel {
        request_id: Set(request_id),
        purpose: Set(purpose.to_owned()),
        token_hash: Set(hash_token(token)),
        expires_at: Set(expires_at.trunc_subsecs(6)),
        used_at: Set(None),
        attempts: Set(0),
        created_at: Set(now.trunc_subsecs(6)),
        ..Default::default()
    };
    Tokens::insert(row).into_query()
}

/// Finds a live token without using it (to show the confirmation page).
pub async fn peek<C: ConnectionTrait>(
    db: &C,
    purpose: &str,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Result<subject_token::Model, TokenError>, StoreError> {
    let found = Tokens::find()
        .filter(subject_token::Column::TokenHash.eq(hash_token(token)))
        .filter(subject_token::Column::Purpose.eq(purpose))
        .one(db)
        .await?;
    Ok(match found {
        None => Err(TokenError::Unknown),
        Some(t) if t.used_at.is_some() => Err(TokenError::Used),
        Some(t) if t.expires_at <= now => Err(TokenError::Expired),
        Some(t) => Ok(t),
    })
}

/// Uses a token exactly once: of two concurrent uses, one wins and the other sees `Used`.
pub async fn consume<C: ConnectionTrait>(
    db: &C,
    purpose: &str,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Result<subject_token::Model, TokenError>, StoreError> {
    let t = match peek(db, purpose, token, now).await? {
        Ok(t) => t,
        Err(e) => return Ok(Err(e)),
    };
    let r = Tokens::update_many()
        .col_expr(
            subject_token::Column::UsedAt,
            Expr::value(now.trunc_subsecs(6)),
        )
        .filter(subject_token::Column::Id.eq(t.id))
        .filter(subject_token::Column::UsedAt.is_null())
        .exec(db)
        .await?;
    Ok(if r.rows_affected == 1 {
        Ok(t)
    } else {
        Err(TokenError::Used)
    })
}
