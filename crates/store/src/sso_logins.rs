//! Staff sign-ins begun at the identity provider and not yet come back: each is taken once.

use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use crate::StoreError;
use crate::entities::staff_sso_login;

/// What is remembered of a sign-in while the browser is at the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingLogin {
    /// The hash of the `state` sent (the answer must carry the same).
    pub state_hash: String,
    /// The nonce the ID token must carry.
    pub nonce: String,
    /// The PKCE verifier.
    pub verifier: String,
    /// The staff page to open afterwards.
    pub next: String,
    /// When it stops being accepted.
    pub expires_at: DateTime<Utc>,
}

/// Remembers a sign-in under the hash of the browser's cookie, and forgets the expired ones.
pub async fn insert<C: ConnectionTrait>(
    db: &C,
    id_hash: &str,
    login: &PendingLogin,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    staff_sso_login::Entity::delete_many()
        .filter(staff_sso_login::Column::ExpiresAt.lt(now))
        .exec(db)
        .await?;
    staff_sso_login::Entity::insert(staff_sso_login::ActiveModel {
        id_hash: Set(id_hash.to_owned()),
        state: Set(login.state_hash.clone()),
        nonce: Set(login.nonce.clone()),
        verifier: Set(login.verifier.clone()),
        next: Set(login.next.clone()),
        created_at: Set(now.trunc_subsecs(6)),
        expires_at: Set(login.expires_at.trunc_subsecs(6)),
    })
    .exec(db)
    .await?;
    Ok(())
}

/// Takes the sign-in remembered under this hash: it is deleted, and returned only to the one
/// caller whose delete removed it (a replayed answer, or two tabs at once, gets `None`).
pub async fn take<C: ConnectionTrait>(
    db: &C,
    id_hash: &str,
) -> Result<Option<PendingLogin>, StoreError> {
    let Some(row) = staff_sso_login::Entity::find_by_id(id_hash.to_owned())
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let gone = staff_sso_login::Entity::delete_by_id(id_hash.to_owned())
        .exec(db)
        .await?;
    if gone.rows_affected != 1 {
        return Ok(None);
    }
    Ok(Some(PendingLogin {
        state_hash: row.state,
        nonce: row.nonce,
        verifier: row.verifier,
        next: row.next,
        expires_at: row.expires_at,
    }))
}
