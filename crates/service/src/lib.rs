#![doc = include_str!("../README.md")]

mod access;
pub mod audit_jobs;
pub mod complaints;
mod context;
pub mod datamap;
pub mod erasure;
mod error;
mod files;
pub mod gather;
pub mod identity;
pub mod incidents;
mod intake;
pub mod letters;
pub mod limits;
pub mod notes;
pub mod owner;
mod package;
mod payments;
mod purge;
pub mod queue;
pub mod register;
pub mod reminders;
pub mod settings;
pub mod sso;
pub mod staff;
pub mod tasks;
pub mod totp;
pub mod webhooks;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use madoguchi_config::Config;
use madoguchi_domain::{self as domain, Actor, Effect, Event, Mail, Recipient};
use madoguchi_store::audit::NewEntry;
use madoguchi_store::change::{self, Change, NewLine, Update, Write};
use madoguchi_store::entities::request;
use madoguchi_store::secrets::keyed;
use madoguchi_store::{Db, StoreError, outbox, requests, tokens};
use tokio::sync::Notify;
use uuid::Uuid;

pub use access::{AccessError, SUBJECT_SESSION_MAX_SECS};
pub use audit_jobs::TrailFilter;
pub use context::MailLinks;
pub use error::ServiceError;
pub use files::{Document, FileError};
pub use identity::{CustomerTable, IdentitySource, ImportError, ImportReport, LineError};
pub use intake::{Agent, Channel, Entered, Lang, NewRequest, email_of};
pub use payments::CardError;

/// What the web layer renders and passes back, re-exported so that it depends on this crate
/// alone: the rows it shows, the ledger's lines, the origin of an action, token errors.
pub mod rows {
    pub use madoguchi_store::entities::{api_token, audit_entry, outbox, request, staff_user};
    pub use madoguchi_store::ledger::PaymentLine;

    /// Every status an outbox row can have (monitoring reports each, 0 where none).
    pub const OUTBOX_STATUSES: &[&str] = {
        use madoguchi_store::outbox as o;
        &[
            o::PENDING,
            o::SENDING,
            o::SENT,
            o::FAILED,
            o::LETTER,
            o::POSTED,
        ]
    };
    /// Every purpose a connector job can have.
    pub const JOB_PURPOSES: &[&str] = {
        use madoguchi_store::gather as g;
        &[g::GATHER, g::ERASE, g::SUSPEND, g::CORRECT, g::NOTIFY]
    };
    /// Every state a connector job can be in.
    pub const JOB_STATES: &[&str] = {
        use madoguchi_store::gather as g;
        &[
            g::PENDING,
            g::RUNNING,
            g::DONE,
            g::FAILED,
            g::OWNER,
            g::SUPERSEDED,
            g::HELD,
        ]
    };
}
pub use madoguchi_store::audit::Origin;
pub use madoguchi_store::tokens::TokenError;

/// Constant-time comparison and random tokens, for the web layer's CSRF tokens.
pub mod secrets {
    pub use madoguchi_store::secrets::{constant_time_eq, random_token};
}

/// The application: database, configuration and the key that derives link tokens.
#[derive(Clone)]
pub struct Service {
    db: Db,
    config: Arc<Config>,
    secret: Arc<[u8]>,
    keys: Arc<std::sync::RwLock<madoguchi_vault::KeyRing>>,
    /// Seals and opens personal data columns with `keys` (shared, so a rotation applies).
    cipher: madoguchi_store::sealed::RowCipher,
    payments: Option<madoguchi_pay::StripePayments>,
    mail_wakeup: Arc<Notify>,
    identity_source: Arc<dyn IdentitySource>,
    settings: Arc<settings::SettingsCache>,
    datamap: Arc<datamap::MapCache>,
    /// Staff sign-in through the company's OpenID provider, when set up.
    sso: Option<Arc<madoguchi_sso::SsoClient>>,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("db", &self.db)
            .finish_non_exhaustive()
    }
}

/// What the subject needs after filing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filed {
    /// Public id (the status page's address).
    pub pid: Uuid,
    /// Request number.
    pub number: String,
    /// The number of an open request of the same kind from the same address.
    pub duplicate_of: Option<String>,
}

/// Text that goes with an event: shown to the subject, stored on the request, never logged
/// and never written to the audit trail.
#[derive(Debug, Clone, Default)]
pub struct EventText {
    /// The words for the subject (what is missing, the question, the reason).
    pub message: Option<String>,
    /// For payments: the officer's reference (transfer id, money-order serials).
    pub reference: Option<String>,
}

impl Service {
    /// Builds the service. `secret` keys link tokens; instances sharing a database must share it.
    pub fn new(
        db: Db,
        config: Arc<Config>,
        secret: Vec<u8>,
        keys: madoguchi_vault::KeyRing,
    ) -> Self {
        let secret: Arc<[u8]> = secret.into();
        let keys = Arc::new(std::sync::RwLock::new(keys));
        Service {
            identity_source: Arc::new(CustomerTable::new(db.clone(), secret.clone())),
            db,
            config,
            cipher: madoguchi_store::sealed::RowCipher::new(keys.clone(), secret.clone()),
            secret,
            keys,
            payments: None,
            mail_wakeup: Arc::new(Notify::new()),
            settings: Arc::default(),
            datamap: Arc::default(),
            sso: None,
        }
    }

    pub(crate) fn office<'a>(&'a self, settings: &'a settings::Settings) -> context::Office<'a> {
        context::Office {
            base_url: &self.config.base_url,
            business: &settings.business,
            card_payments: self.config.stripe.is_some(),
            payment: &settings.payment,
            retention: &settings.retention,
            branding: &settings.branding,
        }
    }

    pub(crate) fn settings_cache(&self) -> &settings::SettingsCache {
        &self.settings
    }

    pub(crate) fn map_cache(&self) -> &datamap::MapCache {
        &self.datamap
    }

    /// Looks customers up somewhere other than the `customers` table (a CRM, say) for the
    /// `customer_record` identity method.
    pub fn with_identity_source(mut self, source: Arc<dyn IdentitySource>) -> Self {
        self.identity_source = source;
        self
    }

    /// Enables card payment through Stripe.
    pub fn with_payments(mut self, payments: madoguchi_pay::StripePayments) -> Self {
        self.payments = Some(payments);
        self
    }

    /// Whether card payment is offered.
    pub fn card_enabled(&self) -> bool {
        self.payments.is_some()
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Whether the database answers (the readiness probe).
    pub async fn ping(&self) -> Result<(), ServiceError> {
        self.db
            .ping()
            .await
            .map_err(|e| ServiceError::Store(StoreError::Db(e)))
    }

    /// A stored request's lifecycle (kind, state, deadlines): corruption is an error naming
    /// the row, never a default.
    pub fn lifecycle_of(row: &request::Model) -> Result<domain::Request, ServiceError> {
        Ok(requests::to_domain(row)?)
    }

    /// The detailed answer stored with a request, if it was answered in detail.
    pub fn answer_of(row: &request::Model) -> Option<domain::Recorded> {
        requests::answer_of(row)
    }

    /// Failed messages, newest first, opened (the mail page).
    pub async fn failed_mail(
        &self,
    ) -> Result<Vec<madoguchi_store::entities::outbox::Model>, ServiceError> {
        Ok(outbox::failed(self.db.conn(), &self.cipher).await?)
    }

    /// Messages not yet sent or failed.
    pub async fn unsent_mail(&self) -> Result<u64, ServiceError> {
        Ok(outbox::unsent_count(self.db.conn()).await?)
    }

    /// Puts a failed message back in the queue; `false` when there was no such failed message.
    pub async fn retry_mail(&self, id: i64, now: DateTime<Utc>) -> Result<bool, ServiceError> {
        let ok = outbox::retry_failed(self.db.conn(), id, now).await?;
        if ok {
            self.mail_wakeup.notify_one();
        }
        Ok(ok)
    }

    /// The newest audit checkpoint, if any (the auditor's page).
    pub async fn latest_checkpoint(
        &self,
    ) -> Result<Option<madoguchi_store::entities::audit_checkpoint::Model>, ServiceError> {
        Ok(madoguchi_store::audit::latest_checkpoint(self.db.conn()).await?)
    }

    /// A one-word kind of a store failure, for logs (database messages can quote stored
    /// values; the kind never does).
    pub fn store_failure_kind(e: &StoreError) -> String {
        match e {
            StoreError::Db(
                madoguchi_store::sea_orm::DbErr::Conn(_)
                | madoguchi_store::sea_orm::DbErr::ConnectionAcquire(_),
            ) => "connection".into(),
            StoreError::Db(_) => "query".into(),
            other => other.to_string(),
        }
    }

    /// The cipher of personal data at rest (the store seals and opens with it).
    pub fn cipher(&self) -> &madoguchi_store::sealed::RowCipher {
        &self.cipher
    }

    /// A request by public id, its personal data opened.
    pub async fn request_row(&self, pid: Uuid) -> Result<request::Model, ServiceError> {
        Ok(requests::find_by_pid(self.db.conn(), &self.cipher, pid).await?)
    }

    /// A request by number, its personal data opened.
    pub async fn request_row_by_number(
        &self,
        number: &str,
    ) -> Result<request::Model, ServiceError> {
        Ok(requests::find_by_number(self.db.conn(), &self.cipher, number).await?)
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Woken after every commit that enqueued mail, so the sender does not wait for its poll.
    pub fn mail_wakeup(&self) -> Arc<Notify> {
        self.mail_wakeup.clone()
    }

    /// How a refund goes back: the way the fee came (the payment being recorded, or the
    /// request's accepted payment).
    async fn refund_method(
        &self,
        row: &request::Model,
        event: &Event,
    ) -> Result<domain::PaymentMethod, ServiceError> {
        if let Event::RecordPayment { method, .. } = event {
            return Ok(*method);
        }
        madoguchi_store::ledger::accepted_payment_method(self.db.conn(), row.id)
            .await?
            .ok_or_else(|| {
                ServiceError::Store(StoreError::Corrupt(format!(
                    "request {}: a refund is due but no payment is recorded",
                    row.pid
                )))
            })
    }

    /// The confirmation token for a nonce (what the e-mail link carries).
    pub fn confirmation_token(&self, nonce: &str) -> String {
        keyed(&self.secret, &format!("confirm:{nonce}"))
    }

    /// The CSRF form token for a visitor's cookie id.
    pub fn csrf_token(&self, id: &str) -> String {
        keyed(&self.secret, &format!("csrf:{id}"))
    }

    /// Files a request: the row, its first audit entry, the confirmation token and the e-mail,
    /// in one transaction.
    pub async fn file_request(
        &self,
        new: NewRequest,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<Filed, ServiceError> {
        let settings = self.settings().await?;
        // The core refuses a filing that breaks the law's intake rules, whichever channel
        // brought it (the channels check the same rules first to answer in the person's words).
        let broken = domain::check_filing(&new.facts(), &settings.policy);
        if !broken.is_empty() {
            return Err(ServiceError::Filing(broken));
        }
        let arrived_at = new.arrived_at.unwrap_or(now);
        // A clerk's entry is confirmed by the clerk: the request was validly made by letter,
        // at the counter or by phone, and must not wait for (or lapse without) a link the
        // requester may never open. An address the clerk types is typed twice at the desk
        // (`email_confirm` on the intake form) against transcription errors.
        let by_clerk = new.entered.as_ref();
        let (mut t, actor) = match by_clerk {
            // Entered by a clerk: confirmed by the clerk, every entry the clerk's.
            Some(entered) => (
                domain::Request::enter_by(
                    new.kind,
                    new.requester,
                    settings.policy,
                    &settings.fees,
                    arrived_at,
                    entered.how,
                    &entered.by,
                    now,
                )?,
                entered.by.clone(),
            ),
            None if new.email.is_none() => {
                return Err(ServiceError::Invalid(
                    "only staff may enter a request without an e-mail address",
                ));
            }
            None => (
                domain::Request::file_by(
                    new.kind,
                    new.requester,
                    settings.policy,
                    &settings.fees,
                    arrived_at,
                    now,
                ),
                Actor::Subject,
            ),
        };
        t.next.delivery = new.delivery;
        let pid = Uuid::new_v4();
        // Without an address there is nothing to find duplicates by: an index no other
        // request shares.
        let email_index = match &new.email {
            Some(e) => self.cipher.email_index(&e.normalized()),
            None => self.cipher.email_index(&format!("no-address:{pid}")),
        };
        let facts = requests::intake_facts(self.db.conn(), &email_index, new.kind, now).await?;
        let duplicate = facts.duplicate;
        let entries = audit_entries(&t.effects, &actor, Some(("channel", new.channel.as_str())));
        let mut am =
            new.to_active_model(pid, "", duplicate.as_ref().map(|d| d.0), email_index, now);
        requests::lifecycle_columns(&t.next, &mut am);
        let nonce = madoguchi_store::secrets::random_token();
        let expires = t.next.expires_at.unwrap_or(now);
        // A clerk's confirmation needs no link.
        let link = by_clerk.is_none().then(|| Write::IssueToken {
            purpose: tokens::CONFIRM_EMAIL,
            token: self.confirmation_token(&nonce),
            expires_at: expires,
        });
        // Taken up from a complaint: the complaint is marked in the same transaction, so it
        // becomes one request or none.
        let converted = match &new.from_complaint {
            Some(from) => Some(self.conversion(from, &actor).await?),
            None => None,
        };
        let extra = context::Extra {
            confirm_nonce: Some(nonce.clone()),
            duplicate_of: duplicate.as_ref().map(|d| d.1.clone()),
            ..Default::default()
        };
        let mail: change::MailFor<'_> =
            Box::new(|row| self.messages(&settings, row, &t.next, &t.effects, &extra, now));
        let filed = Change {
            update: Update::New {
                row: Box::new(am),
                pid,
                number: facts.number,
                id: facts.id,
                mail,
            },
            entries,
            writes: link.into_iter().chain(converted).collect(),
            mail: Vec::new(),
        };
        let committed = self.commit_change(filed, origin, now).await?;
        let number = committed.number;
        Ok(Filed {
            pid,
            number,
            duplicate_of: duplicate.map(|d| d.1),
        })
    }

    /// Follows a confirmation link: uses the token and confirms the address in one transaction.
    pub async fn confirm_email(
        &self,
        token: &str,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<request::Model, ServiceError> {
        let t = match tokens::peek(self.db.conn(), tokens::CONFIRM_EMAIL, token, now).await? {
            Ok(t) => t,
            Err(e) => return Err(ServiceError::Token(e)),
        };
        let row = requests::find_by_id(self.db.conn(), &self.cipher, t.request_id).await?;
        // Under the customer-record method the lookup's answer is committed with the
        // confirmation, so no request is left confirmed but never looked up.
        let lookup = match requests::to_domain(&row)? {
            current if current.state == domain::State::Submitted => {
                let confirmed = domain::apply(&current, &Event::ConfirmEmail, &Actor::Subject, now);
                match confirmed {
                    Ok(c) => self.customer_match(&row, &c.next).await,
                    Err(_) => None,
                }
            }
            _ => None,
        };
        self.act_inner(
            row.pid,
            None,
            &Event::ConfirmEmail,
            &Actor::Subject,
            &EventText::default(),
            origin,
            Some((token, lookup)),
            None,
            now,
        )
        .await
    }

    /// Checks a confirmation token without using it (the page that asks to press "confirm").
    pub async fn check_confirmation(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<request::Model, ServiceError> {
        match tokens::peek(self.db.conn(), tokens::CONFIRM_EMAIL, token, now).await? {
            Ok(t) => Ok(requests::find_by_id(self.db.conn(), &self.cipher, t.request_id).await?),
            Err(e) => Err(ServiceError::Token(e)),
        }
    }

    /// Applies an event to a request. `expected_version` is the version the actor saw: if the
    /// request changed since, the event is refused with [`ServiceError::Conflict`].
    #[expect(
        clippy::too_many_arguments,
        reason = "who, what, on which version, from where, when"
    )]
    pub async fn act(
        &self,
        pid: Uuid,
        expected_version: Option<i64>,
        event: &Event,
        actor: &Actor,
        text: &EventText,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<request::Model, ServiceError> {
        self.act_inner(
            pid,
            expected_version,
            event,
            actor,
            text,
            origin,
            None,
            None,
            now,
        )
        .await
    }

    /// Answers a request in detail (item by item, a correction's result, an Art. 35 measure):
    /// the overall outcome follows from `answer`; `words` (labels, the law named, the content
    /// of a correction, what was erased where and when) are checked against it and stored with
    /// the request in the same transaction, never in the audit trail. `text.message` is the
    /// message to the subject, and the explanation when the answer comes to a refusal.
    #[expect(
        clippy::too_many_arguments,
        reason = "who, what, its words, on which version, from where, when"
    )]
    pub async fn answer(
        &self,
        pid: Uuid,
        expected_version: Option<i64>,
        answer: domain::Answer,
        words: &domain::AnswerText,
        actor: &Actor,
        text: &EventText,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<request::Model, ServiceError> {
        let event = Event::Complete(domain::Outcome::Answered {
            answer,
            explanation: text.message.clone().unwrap_or_default(),
        });
        self.act_inner(
            pid,
            expected_version,
            &event,
            actor,
            text,
            origin,
            None,
            Some(words),
            now,
        )
        .await
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "one internal entry point for every event"
    )]
    async fn act_inner(
        &self,
        pid: Uuid,
        expected_version: Option<i64>,
        event: &Event,
        actor: &Actor,
        text: &EventText,
        origin: &Origin,
        confirm: Option<(&str, Option<domain::CustomerMatch>)>,
        words: Option<&domain::AnswerText>,
        now: DateTime<Utc>,
    ) -> Result<request::Model, ServiceError> {
        // A detailed answer is recorded with its words, or not at all.
        let recorded = match event {
            Event::Complete(domain::Outcome::Answered { answer, .. }) => {
                let words = words.ok_or(ServiceError::Invalid("answer"))?;
                words.check(answer).map_err(domain::TransitionError::from)?;
                Some(domain::Recorded {
                    answer: answer.clone(),
                    text: words.clone(),
                })
            }
            _ => None,
        };
        let confirm_token = confirm.map(|(token, _)| token);
        let lookup = confirm.and_then(|(_, lookup)| lookup);
        // A write can lose only to another write of the same row; an audit-only append (a
        // staff view) moves the audit head without making the actor's page stale, so retry.
        for _ in 0..5 {
            let row = requests::find_by_pid(self.db.conn(), &self.cipher, pid).await?;
            if expected_version.is_some_and(|v| v != row.version) {
                return Err(ServiceError::Conflict);
            }
            let current = requests::to_domain(&row)?;
            if let Event::ChangeDelivery {
                to: domain::DeliveryMethod::Electronic,
                ..
            } = event
                && intake::email_of(&row).is_none()
            {
                // The download's codes go by e-mail: without an address it could never be
                // collected.
                return Err(ServiceError::Invalid("delivery"));
            }
            let mut t = domain::apply(&current, event, actor, now)?;
            let mut entries = audit_entries(&t.effects, actor, None);
            if let Some(result) = lookup {
                // The system's lookup follows the subject's confirmation in one transaction,
                // each recorded under its own actor.
                let event = Event::MatchCustomerRecord { result };
                match domain::apply(&t.next, &event, &Actor::System, now) {
                    Ok(follow) => {
                        entries.extend(audit_entries(&follow.effects, &Actor::System, None));
                        t.effects.extend(follow.effects);
                        t.next = follow.next;
                    }
                    Err(e) => {
                        tracing::warn!(request = %pid, error = %e, "customer-record result not applied");
                    }
                }
            }
            match self
                .commit(
                    &row,
                    &t,
                    entries,
                    event,
                    actor,
                    text,
                    origin,
                    confirm_token,
                    recorded.as_ref(),
                    now,
                )
                .await
            {
                Ok(Some(committed)) => return Ok(committed),
                Ok(None) => {
                    return Ok(requests::find_by_id(self.db.conn(), &self.cipher, row.id).await?);
                }
                Err(ServiceError::Conflict) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(ServiceError::Conflict)
    }

    /// Builds a transition's change (row, entries, ledger lines, mail) and commits it.
    #[expect(clippy::too_many_arguments, reason = "the parts of one transaction")]
    async fn commit(
        &self,
        row: &request::Model,
        t: &domain::Transition,
        entries: Vec<NewEntry>,
        event: &Event,
        actor: &Actor,
        text: &EventText,
        origin: &Origin,
        confirm_token: Option<&str>,
        recorded: Option<&domain::Recorded>,
        now: DateTime<Utc>,
    ) -> Result<Option<request::Model>, ServiceError> {
        let settings = self.settings().await?;
        let mut writes = Vec::new();
        let mut entries = entries;
        let mut owner_mail = Vec::new();
        if let Some(token) = confirm_token {
            writes.push(Write::ConsumeToken {
                purpose: tokens::CONFIRM_EMAIL,
                token: token.to_owned(),
            });
        }
        let update = if matches!(event, Event::Record(_)) {
            Update::Trail(row)
        } else {
            // The subject's answer is theirs, not a message to them.
            let (to_subject, reply) = if matches!(event, Event::ProvideInfo) {
                (None, text.message.clone())
            } else {
                (text.message.clone(), None)
            };
            Update::Lifecycle {
                current: row,
                next: Box::new(t.next.clone()),
                to_subject,
                reply,
                answer: recorded.cloned().map(Box::new),
                // The answer is read against the map it was given under.
                datamap: match event {
                    Event::Complete(_) | Event::Refuse { .. } => {
                        self.datamap().await?.map(|m| m.hash.clone())
                    }
                    _ => None,
                },
            }
        };
        let mut extra = context::Extra {
            message: text.message.clone(),
            answer: recorded.cloned(),
            ..Default::default()
        };
        // The answer to a request on the breach ground names the incident it cites.
        if let (Some(id), Event::Complete(_) | Event::Refuse { .. }) = (row.incident_id, event) {
            extra.incident = madoguchi_store::incidents::number_of(self.db.conn(), id).await?;
        }
        if let Some(dup) = row.duplicate_of {
            // Staff hear of a confirmed request with the open one it may duplicate.
            extra.duplicate_of = requests::find_by_id(self.db.conn(), &self.cipher, dup)
                .await
                .ok()
                .map(|d| d.number);
        }
        for effect in &t.effects {
            match effect {
                Effect::Refund { amount, reason } => {
                    writes.push(Write::AddLine(NewLine {
                        kind: domain::LedgerKind::RefundDue((*reason).into()),
                        method: self.refund_method(row, event).await?,
                        amount: *amount,
                        reference: None,
                        provider_ref: None,
                        receipt_number: None,
                        recorded_by: actor.staff_id().map(str::to_owned),
                    }));
                    extra.amount = Some(*amount);
                }
                Effect::RequestPayment { amount } => extra.amount = Some(*amount),
                Effect::Audit(_) | Effect::Email { .. } => {}
            }
        }
        // A disclosure put to work has its data gathered: the jobs are part of the change.
        // Once: a request back from waiting on the subject keeps its gathering (an officer
        // asks again if needed).
        if t.next.state == domain::State::InProgress
            && row.state != domain::State::InProgress.as_str()
            && madoguchi_store::gather::latest_run(self.db.conn(), row.id)
                .await?
                .is_empty()
            && let Some(queued) = self.gather_write(row, t.next.kind, 1, now).await?
        {
            writes.push(queued.write);
            // The owners asked are the service's doing, whoever moved the request.
            let mut effects = Vec::new();
            for asked in queued.events {
                effects.extend(
                    domain::apply(&t.next, &Event::Record(asked), &Actor::System, now)?.effects,
                );
            }
            entries.extend(audit_entries(&effects, &Actor::System, None));
            owner_mail = queued.mail;
        }
        if let Event::RecordPayment { amount, method } = event {
            let receipt = domain::ledger::receipt_number(&row.number);
            writes.push(Write::AddLine(NewLine {
                kind: domain::LedgerKind::Payment,
                method: *method,
                amount: *amount,
                reference: text.reference.clone(),
                provider_ref: if matches!(actor, Actor::PaymentProvider) {
                    text.reference.clone()
                } else {
                    None
                },
                receipt_number: Some(receipt.clone()),
                recorded_by: actor.staff_id().map(str::to_owned),
            }));
            extra.receipt_number = Some(receipt);
            extra.payment_method = Some(*method);
            extra.amount = Some(*amount);
        }
        match event {
            Event::Refuse { grounds, .. } => extra.grounds = grounds.clone(),
            Event::Complete(domain::Outcome::PartiallyFulfilled { grounds }) => {
                extra.grounds = grounds.clone()
            }
            // Each item's line names its own grounds; a refusal states them all once more.
            Event::Complete(domain::Outcome::Answered { .. })
                if t.next.state == domain::State::Refused =>
            {
                extra.grounds = recorded
                    .and_then(|r| r.answer.verdict(t.next.kind).ok())
                    .map(|v| v.grounds().to_vec())
                    .unwrap_or_default();
            }
            _ => {}
        }
        let mut mail = self.messages(&settings, row, &t.next, &t.effects, &extra, now);
        mail.extend(owner_mail);
        let change = Change {
            update,
            entries,
            writes,
            mail,
        };
        Ok(self.commit_change(change, origin, now).await?.row)
    }

    /// The one commit: every change to a request goes through here into
    /// `madoguchi_store::change::commit`, and the mail sender is woken when it queued mail.
    pub(crate) async fn commit_change(
        &self,
        change: Change<'_>,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<change::Committed, ServiceError> {
        let committed = change::commit(
            &self.db,
            &self.cipher,
            change,
            origin,
            self.mail_host(),
            now,
        )
        .await?;
        if committed.mailed {
            self.mail_wakeup.notify_one();
        }
        Ok(committed)
    }

    /// What monitoring reads: counts by stored spellings, as of today in Japan.
    pub async fn counts(&self) -> Result<madoguchi_store::counts::Counts, ServiceError> {
        Ok(madoguchi_store::counts::counts(self.db.conn(), domain::jst_date(Utc::now())).await?)
    }

    /// Records audit-only events on a request's trail with the rows they explain (`writes`)
    /// and their mail, in one change; when another change moved the trail first, the events
    /// are applied again to the row as it is now.
    #[expect(
        clippy::too_many_arguments,
        reason = "who, what, with what, from where, when"
    )]
    pub(crate) async fn record(
        &self,
        pid: Uuid,
        events: Vec<domain::AuditOnly>,
        actor: &Actor,
        writes: Vec<Write>,
        mail: Vec<outbox::NewMessage>,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<change::Committed, ServiceError> {
        let events: Vec<Event> = events.into_iter().map(Event::Record).collect();
        for _ in 0..5 {
            let row = requests::find_by_pid(self.db.conn(), &self.cipher, pid).await?;
            let current = requests::to_domain(&row)?;
            let mut effects = Vec::new();
            for event in &events {
                effects.extend(domain::apply(&current, event, actor, now)?.effects);
            }
            let change = Change {
                update: Update::Trail(&row),
                entries: audit_entries(&effects, actor, None),
                writes: writes.clone(),
                mail: mail.clone(),
            };
            match self.commit_change(change, origin, now).await {
                Err(ServiceError::Conflict) => continue,
                other => return other,
            }
        }
        Err(ServiceError::Conflict)
    }

    /// Expires requests whose subject did not act in time. Safe to run on every instance at
    /// once: each request's version check lets exactly one of them win.
    pub async fn expire_due(&self, now: DateTime<Utc>) -> Result<usize, ServiceError> {
        let due = requests::expired_before(self.db.conn(), &self.cipher, now, 200).await?;
        let mut expired = 0;
        for row in due {
            match self
                .act(
                    row.pid,
                    Some(row.version),
                    &Event::Expire,
                    &Actor::System,
                    &EventText::default(),
                    &Origin::default(),
                    now,
                )
                .await
            {
                Ok(_) => expired += 1,
                Err(ServiceError::Conflict | ServiceError::Transition(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(expired)
    }

    pub(crate) fn mail_host(&self) -> &str {
        self.config
            .base_url
            .split("://")
            .nth(1)
            .and_then(|h| h.split(['/', ':']).next())
            .filter(|h| !h.is_empty())
            .unwrap_or("madoguchi.invalid")
    }

    fn messages(
        &self,
        settings: &settings::Settings,
        row: &request::Model,
        next: &domain::Request,
        effects: &[Effect],
        extra: &context::Extra,
        now: DateTime<Utc>,
    ) -> Vec<outbox::NewMessage> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::Email { to, mail } => Some((*to, *mail)),
                _ => None,
            })
            .flat_map(|(to, mail)| {
                let ctx = context::build(self.office(settings), row, next, mail, to, extra, now);
                let lang = match to {
                    Recipient::Subject => Lang::parse(&row.lang),
                    Recipient::Staff => Lang::Ja,
                };
                // A requester without an e-mail address gets the notices that matter as
                // letters, to the postal address the filing required.
                let by_post = to == Recipient::Subject && intake::email_of(row).is_none();
                let addressees = if by_post {
                    row.postal_address
                        .clone()
                        .filter(|_| mail.by_post())
                        .map(|a| (a, None))
                        .into_iter()
                        .collect()
                } else {
                    self.addressees(settings, row, next.state, to, mail)
                };
                addressees.into_iter().map(move |(recipient, name)| {
                    let mut ctx = ctx.clone();
                    if let Some(name) = name {
                        ctx.recipient_name = name;
                    }
                    outbox::NewMessage {
                        request_id: Some(row.id),
                        recipient,
                        lang,
                        template: mail.as_str().to_owned(),
                        context: serde_json::to_value(ctx)
                            .expect("a mail context always serialises"),
                        by_post,
                    }
                })
            })
            .collect()
    }

    /// The addresses a mail goes to, each with the name to greet when it is not the usual
    /// addressee. Everything about the subject's side goes to the contact who filed, except
    /// the result of an agent's request (the answer, a refusal, and the codes that open the
    /// download once it is answered), which follows `MADOGUCHI_RESULTS_TO` when the agent
    /// gave the subject's own address.
    pub(crate) fn addressees(
        &self,
        settings: &settings::Settings,
        row: &request::Model,
        state: domain::State,
        to: Recipient,
        mail: Mail,
    ) -> Vec<(String, Option<String>)> {
        use madoguchi_config::ResultsTo;
        let contact = (row.email.clone(), None);
        match to {
            Recipient::Staff => vec![(settings.business.staff_address.clone(), None)],
            // No address, no mail (letters are decided in `messages`).
            Recipient::Subject if intake::email_of(row).is_none() => Vec::new(),
            Recipient::Subject => {
                let is_result = matches!(mail, Mail::Completed | Mail::Refused)
                    || (mail == Mail::AccessCode && state.has_result());
                let subject = row
                    .subject_email
                    .clone()
                    .filter(|_| is_result && row.agent.is_some())
                    .map(|e| (e, Some(row.subject_name.clone())));
                match (subject, self.config.results_to) {
                    (Some(s), ResultsTo::Subject) => vec![s],
                    (Some(s), ResultsTo::Both) => vec![contact, s],
                    _ => vec![contact],
                }
            }
        }
    }
}

/// Money goes back the way it came: the method of the payment being refunded.
/// How a refund goes back: the way the fee came in. A refund with no payment before it is a
/// corrupt ledger, an error naming the request, never a made-up method.
/// Turns the domain's audit effects into entries, naming the mail each transition queued so
/// the trail shows every message decided without a row per message.
pub(crate) fn audit_entries(
    effects: &[Effect],
    actor: &Actor,
    extra: Option<(&str, &str)>,
) -> Vec<NewEntry> {
    let mails: Vec<String> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::Email { to, mail } => Some(format!(
                "{}:{}",
                match to {
                    Recipient::Subject => "subject",
                    Recipient::Staff => "staff",
                },
                mail.as_str()
            )),
            _ => None,
        })
        .collect();
    let mut entries: Vec<NewEntry> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::Audit(a) => Some(NewEntry {
                actor_kind: actor.kind_str().to_owned(),
                actor_id: actor.staff_id().map(str::to_owned),
                role: actor.role().map(|r| r.as_str().to_owned()),
                action: a.action.clone(),
                detail: a.detail.clone(),
            }),
            _ => None,
        })
        .collect();
    if let Some(first) = entries.first_mut() {
        if !mails.is_empty() {
            first.detail.push(("mail".to_owned(), mails.join(",")));
        }
        if let Some((k, v)) = extra {
            first.detail.push((k.to_owned(), v.to_owned()));
        }
    }
    entries
}
