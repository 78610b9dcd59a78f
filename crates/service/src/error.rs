//! The service's one error type.

use madoguchi_domain::LedgerKind;
use madoguchi_domain::TransitionError;
use madoguchi_store::tokens::TokenError;
use madoguchi_store::{Refused, StoreError};

/// Why a service call failed. The web crate maps each variant to a status and a message.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// No such request.
    #[error("not found")]
    NotFound,
    /// Someone else changed the request first.
    #[error("the request was changed by someone else")]
    Conflict,
    /// The lifecycle refused the event.
    #[error(transparent)]
    Transition(#[from] TransitionError),
    /// A link or code was not accepted.
    #[error("token: {0}")]
    Token(TokenError),
    /// A file was refused.
    #[error(transparent)]
    File(crate::files::FileError),
    /// A one-time code was refused.
    #[error(transparent)]
    Access(crate::access::AccessError),
    /// An input was refused; names the field.
    #[error("invalid {0}")]
    Invalid(&'static str),
    /// A filing breaks the law's intake rules; names each field and rule.
    #[error("the request is incomplete: {}", .0.iter().map(|e| e.field).collect::<Vec<_>>().join(", "))]
    Filing(Vec<madoguchi_domain::IntakeError>),
    /// A unique value already exists; names the field.
    #[error("{0} already exists")]
    Duplicate(&'static str),
    /// An administrator's settings were refused; says why.
    #[error(transparent)]
    Settings(#[from] crate::settings::SettingsError),
    /// Already done (a letter already recorded as posted): a double click, not a race to retry.
    #[error("{0} was already recorded")]
    Repeated(&'static str),
    /// The database failed.
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ServiceError::NotFound,
            StoreError::Conflict => ServiceError::Conflict,
            // A change's precondition, in the words its caller's users get.
            StoreError::Refused(why) => match why {
                Refused::Token(e) => ServiceError::Token(e),
                Refused::CodeUsed => ServiceError::Access(crate::AccessError::Expired),
                Refused::CodeLocked => ServiceError::Access(crate::AccessError::Locked),
                Refused::DocumentGone => ServiceError::File(crate::FileError::Deleted),
                // Another instance purged it first.
                Refused::AlreadyPurged => ServiceError::Repeated("purge"),
                // Another clerk recorded it first: final, not a race to retry.
                Refused::LetterPosted => ServiceError::Repeated("letter"),
                Refused::DownloadLimit => ServiceError::File(crate::FileError::LimitReached),
                Refused::LineMoved {
                    to: LedgerKind::FlaggedRefunded,
                    ..
                } => ServiceError::Invalid("this payment is no longer flagged"),
                Refused::LineMoved {
                    to: LedgerKind::RefundRecorded,
                    ..
                } => ServiceError::Invalid("this refund is not due"),
                // A claim another instance made first.
                Refused::LineMoved { .. } | Refused::JobTakenOver => ServiceError::Conflict,
                Refused::TaskClosed => {
                    ServiceError::Token(madoguchi_store::tokens::TokenError::Used)
                }
            },
            // Another officer ordered the same run first: a conflict to reload, not a failure.
            // Any other unique violation stays an error (and is logged).
            other if other.is_duplicate_job() => ServiceError::Conflict,
            other => ServiceError::Store(other),
        }
    }
}

impl From<madoguchi_store::sea_orm::DbErr> for ServiceError {
    fn from(e: madoguchi_store::sea_orm::DbErr) -> Self {
        ServiceError::Store(StoreError::Db(e))
    }
}
