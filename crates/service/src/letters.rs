//! Letters: the notices a requester without an e-mail address gets on paper. They are decided
//! with the transition that decides the mail (an outbox row marked as a letter, its postal
//! address and context sealed like any mail), printed by a clerk, and recorded as posted
//! through the commit path, each posting on the request's trail.

use chrono::{DateTime, Utc};
use madoguchi_domain::{AuditOnly, Mail};
use madoguchi_mail::MailContext;
use madoguchi_store::change::Write;
use madoguchi_store::entities::request;
use madoguchi_store::{outbox, requests};
use uuid::Uuid;

use madoguchi_domain::Actor;

use crate::{Origin, Service, ServiceError};

/// A notice to print and post.
#[derive(Debug, Clone)]
pub struct Letter {
    /// The outbox row (names the letter in the staff pages' links).
    pub id: i64,
    /// Which notice.
    pub mail: Mail,
    /// Where it goes.
    pub address: String,
    /// What it says, as decided with the transition.
    pub context: MailContext,
    /// When it was decided.
    pub created_at: DateTime<Utc>,
    /// When a clerk recorded it as posted.
    pub posted_at: Option<DateTime<Utc>>,
}

impl Letter {
    fn from_row(m: madoguchi_store::entities::outbox::Model) -> Option<Letter> {
        if m.status != outbox::LETTER && m.status != outbox::POSTED {
            return None;
        }
        Some(Letter {
            mail: Mail::parse(&m.template)?,
            context: serde_json::from_str(&m.context).ok()?,
            address: m.recipient,
            posted_at: m.sent_at.filter(|_| m.status == outbox::POSTED),
            created_at: m.created_at,
            id: m.id,
        })
    }
}

impl Service {
    /// A request's letters, oldest first.
    pub async fn letters(&self, request_id: i64) -> Result<Vec<Letter>, ServiceError> {
        Ok(
            outbox::for_request(self.db().conn(), &self.cipher, request_id)
                .await?
                .into_iter()
                .filter_map(Letter::from_row)
                .collect(),
        )
    }

    /// One letter of a request, with the request (the printable page).
    pub async fn letter(
        &self,
        pid: Uuid,
        id: i64,
    ) -> Result<(request::Model, Letter), ServiceError> {
        let row = requests::find_by_pid(self.db().conn(), &self.cipher, pid).await?;
        let letter = self
            .letters(row.id)
            .await?
            .into_iter()
            .find(|l| l.id == id)
            .ok_or(ServiceError::NotFound)?;
        Ok((row, letter))
    }

    /// Records a letter as posted, with the carrier's tracking number when it has one: the
    /// letter's row and the entry on the trail in one change. A second recording (two
    /// clerks, a double click) is a conflict, never a second entry.
    pub async fn post_letter(
        &self,
        pid: Uuid,
        id: i64,
        tracking: String,
        actor: &Actor,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let (_, letter) = self.letter(pid, id).await?;
        if letter.posted_at.is_some() {
            return Err(ServiceError::Repeated("letter"));
        }
        let event = AuditOnly::LetterPosted {
            letter: letter.mail.as_str().to_owned(),
            tracking,
        };
        let write = Write::PostLetter { id };
        self.record(
            pid,
            vec![event],
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
