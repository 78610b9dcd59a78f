//! The store's one error type.

use sea_orm::DbErr;

/// What can go wrong in the store. The web crate maps each variant to an HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No such row (or not visible to the caller).
    #[error("not found")]
    NotFound,
    /// Another writer changed the row since it was read (optimistic version check).
    #[error("the record was changed by someone else; reload and try again")]
    Conflict,
    /// A stored value does not parse; the database was edited by hand or is corrupt.
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbErr),
}

impl StoreError {
    /// True when the database reported a unique-constraint violation.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Db(e) if matches!(e.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_))))
    }
}
