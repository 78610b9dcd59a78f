//! Officers' notes for colleagues on a request: never shown to the requester, sealed at rest,
//! each written with its `note.added` entry in one change, purged with the request.

use chrono::{DateTime, Utc};
use madoguchi_domain::{Actor, AuditOnly};
use madoguchi_store::change::Write;
use madoguchi_store::notes;
use uuid::Uuid;

use crate::{Origin, Service, ServiceError};

pub use notes::Note;

/// The longest note, in characters.
pub const MAX_NOTE_CHARS: usize = 4000;

impl Service {
    /// A request's notes, oldest first.
    pub async fn notes(&self, request_id: i64) -> Result<Vec<Note>, ServiceError> {
        Ok(notes::of_request(self.db().conn(), &self.cipher, request_id).await?)
    }

    /// Adds a note by a staff member (the domain checks the actor may work requests).
    pub async fn add_note(
        &self,
        pid: Uuid,
        text: &str,
        author: (&Actor, i64),
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(ServiceError::Invalid("write the note"));
        }
        if text.chars().count() > MAX_NOTE_CHARS {
            return Err(ServiceError::Invalid("the note is too long"));
        }
        let (actor, author_id) = author;
        let write = Write::AddNote {
            pid: Uuid::new_v4(),
            author_id: Some(author_id),
            text: text.to_owned(),
        };
        self.record(
            pid,
            vec![AuditOnly::Note],
            actor,
            vec![write],
            Vec::new(),
            origin,
            now,
        )
        .await?;
        Ok(())
    }
}
