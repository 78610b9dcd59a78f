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
    /// A write's own precondition failed (a token already used, a ledger line that moved);
    /// the change it belonged to wrote nothing.
    #[error("refused: {0}")]
    Refused(Refused),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// Which precondition of a change failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// A one-time link token was not live.
    #[error("{0}")]
    Token(crate::tokens::TokenError),
    /// An access code was already used (another try won).
    #[error("the code was already used")]
    CodeUsed,
    /// An access code was already locked (another try locked it).
    #[error("the code is locked")]
    CodeLocked,
    /// A document's content was already deleted.
    #[error("the document was already deleted")]
    DocumentGone,
    /// A request's personal data were already erased (or it is not closed).
    #[error("the request was already purged")]
    AlreadyPurged,
    /// A letter was already recorded as posted (or is not a letter).
    #[error("the letter was already posted")]
    LetterPosted,
    /// A document reached its download limit.
    #[error("the download limit was reached")]
    DownloadLimit,
    /// A connector job was no longer this instance's to finish (its claim expired and another
    /// took it).
    #[error("the gathering job was taken over")]
    JobTakenOver,
    /// An owner's task was no longer open (answered already, or its link replaced).
    #[error("the owner's task is no longer open")]
    TaskClosed,
    /// A ledger line no longer had the kind it was read with (`from`), so it did not move to
    /// `to`.
    #[error("the ledger line is no longer {}", .from.as_db())]
    LineMoved {
        /// The kind it was read with.
        from: madoguchi_domain::LedgerKind,
        /// The kind it was to get.
        to: madoguchi_domain::LedgerKind,
    },
}

impl StoreError {
    /// True when the database reported a unique-constraint violation.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Db(e) if matches!(e.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_))))
    }

    /// True when a job of the same run was written first (two officers ordering at once): the
    /// violation names the `gather_jobs` table or its index, on every backend.
    pub fn is_duplicate_job(&self) -> bool {
        matches!(self, StoreError::Db(e) if matches!(e.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(m)) if m.contains("gather_jobs")))
    }
}
