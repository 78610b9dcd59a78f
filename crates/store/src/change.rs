//! The one way a request changes. A [`Change`] names everything one change writes — the
//! request row, the trail entries that explain it, ledger lines, documents, subject tokens and
//! mail — and [`commit`] writes it in one transaction, or nothing of it.
//!
//! Nothing else writes audit entries, ledger rows or outbox rows: `audit::insert`,
//! `audit::append_named` and `outbox::enqueue` are private to this crate and called from this
//! module alone (and from `seed`, which generates benchmark chains). Office-wide trails (staff
//! accounts, settings, customer records, mail deliveries) append through [`record_office`] in
//! the transaction of the change they record, and office-wide mail goes through
//! [`commit_office_mail`]. `grep -rnE "audit::insert|append_named|outbox::enqueue|
//! payment::Entity::(insert|update)" crates/` shows it.
//! Each write that can lose a race carries its own precondition (a version, a still-live
//! token, a ledger line still of the kind read) and refuses with [`Refused`], which rolls the
//! whole change back.

use chrono::{DateTime, SubsecRound, Utc};
use madoguchi_domain::{self as domain, LedgerKind};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect,
    sea_query::{Expr, ExprTrait},
};
use uuid::Uuid;

use crate::audit::{self, NewEntry, Origin};
use crate::batch::Batch;
use crate::entities::{attachment, payment, request, subject_token};
use crate::error::{Refused, StoreError};
use crate::outbox::{self, NewMessage};
use crate::sealed::RowCipher;
use crate::secrets::hash_token;
use crate::{Db, requests, tokens};

/// The mail of a new request, made from the row as inserted (its number is taken inside the
/// transaction).
pub type MailFor<'a> = Box<dyn FnOnce(&request::Model) -> Vec<NewMessage> + Send + 'a>;

/// What happens to the request row.
pub enum Update<'a> {
    /// A new request (intake). `row` holds its filing columns; the number is taken in the
    /// transaction unless given (a request filed again the same day keeps its number).
    New {
        /// The filing columns.
        row: Box<request::ActiveModel>,
        /// Its public id (the chain is named by it).
        pid: Uuid,
        /// A number already chosen, if any.
        number: Option<String>,
        /// Its row id, where drawn beforehand (PostgreSQL, `IntakeFacts::id`).
        id: Option<i64>,
        /// Its mail.
        mail: MailFor<'a>,
    },
    /// Only the trail grows (a view, a download, a code, a ledger event). With no entries the
    /// row is not touched at all: the change's other writes carry their own preconditions.
    Trail(&'a request::Model),
    /// A lifecycle transition: refused unless the row still has the version it was read with.
    Lifecycle {
        /// The row as read.
        current: &'a request::Model,
        /// The core's next state.
        next: Box<domain::Request>,
        /// Words for the subject (sealed).
        to_subject: Option<String>,
        /// The subject's own reply (sealed).
        reply: Option<String>,
        /// The officer's detailed answer, on the transition that closes the request.
        answer: Option<Box<domain::Recorded>>,
        /// The hash of the data map in force, on the transition that answers the request.
        datamap: Option<String>,
    },
    /// A new assignee.
    Assignee {
        /// The row as read.
        current: &'a request::Model,
        /// Who works it now.
        assignee: Option<i64>,
    },
}

/// A row written beside the request's, in the same transaction.
#[derive(Debug, Clone)]
pub enum Write {
    /// Uses a one-time link token (the subject's confirmation); refused unless live.
    ConsumeToken {
        /// What the token is for.
        purpose: &'static str,
        /// The token as the link carried it (only its hash is compared).
        token: String,
    },
    /// Stores a one-time link token's hash.
    IssueToken {
        /// What the token is for.
        purpose: &'static str,
        /// The token (only its hash is stored).
        token: String,
        /// Until when it works.
        expires_at: DateTime<Utc>,
    },
    /// A new access code: the request's older live codes end (only the latest works).
    ReplaceCode {
        /// The codes' purpose.
        purpose: &'static str,
        /// What is stored for the code (a keyed hash; the caller compares it).
        stored: String,
        /// Until when it works.
        expires_at: DateTime<Utc>,
    },
    /// The right code: used up (refused unless still live, so one code opens one session)
    /// and a session stored.
    AcceptCode {
        /// The code's row.
        token_id: i64,
        /// The session's purpose.
        session_purpose: &'static str,
        /// The session token (only its hash is stored).
        session: String,
        /// Until when the session works.
        expires_at: DateTime<Utc>,
    },
    /// The last wrong try locks the code (refused unless still live, so it is locked, and
    /// its entry written, once).
    LockCode {
        /// The code's row.
        token_id: i64,
    },
    /// A letter recorded as posted (refused unless it is the request's and not yet posted,
    /// so two clerks cannot both record it).
    PostLetter {
        /// The outbox row.
        id: i64,
    },
    /// A closed request's personal data erased at the end of retention (Art. 22): every sealed
    /// column emptied, the address's index replaced by `email_index` (one no other request
    /// shares), the date of birth and the answer's words dropped, and its mail deleted.
    /// Refused unless not yet purged, so it happens, and is on the trail, once.
    PurgeRequest {
        /// The blind index that replaces the address's.
        email_index: String,
    },
    /// A complaint taken up as this (new) request: the complaint is marked converted with
    /// the request's row, its entry on the desk's chain (refused unless the complaint is
    /// still open, so it becomes one request only).
    ConvertComplaint {
        /// The complaint's row.
        complaint_id: i64,
        /// Its entry (the request's number is added here, where it is known).
        entry: NewEntry,
    },
    /// The incident a request on the breach ground cites (Art. 35(5)); refused (a conflict)
    /// when the request already cites one.
    LinkIncident {
        /// The incident's row.
        incident_id: i64,
    },
    /// An officer's note for colleagues (sealed here, with the request's other columns' key).
    AddNote {
        /// The note's public id (what its text is bound to).
        pid: uuid::Uuid,
        /// The author's staff row.
        author_id: Option<i64>,
        /// What it says.
        text: String,
    },
    /// New documents: an upload of several files is one change.
    AddDocuments(Vec<NewDocument>),
    /// Downloads of these documents, each counted only while under `limit`; refused unless
    /// every one was, so parallel downloads cannot pass the limit.
    CountDownloads {
        /// The documents' rows.
        ids: Vec<i64>,
        /// The most downloads a document allows.
        limit: i32,
    },
    /// A document's content deleted at the end of its retention (refused unless still there,
    /// so it is deleted, and its entry written, once).
    DeleteDocument {
        /// The document's row.
        id: i64,
    },
    /// A new ledger line.
    AddLine(NewLine),
    /// A ledger line moves from one kind to another (refused unless still `from`).
    MoveLine(LineMove),
    /// Connector jobs for these systems, as run `run` (a new run when an officer asks again).
    QueueGather {
        /// The systems a connector reads, by id in the data map.
        systems: Vec<String>,
        /// The systems whose owners search by hand, each with its link.
        tasks: Vec<(String, TaskLink)>,
        /// The run.
        run: i32,
    },
    /// A job's rows, stored sealed (refused unless the job is still running under the claim
    /// it was given, so a job taken over after a crash is finished once).
    FinishGather {
        /// The job.
        job_id: i64,
        /// Its attempts when claimed.
        attempts: i32,
        /// The rows, as JSON.
        result: String,
        /// How many rows.
        rows: i32,
        /// SHA-256 of `result`.
        hash: String,
    },
    /// A job's failed try: due again at `retry_at`, or given up when there is none.
    FailGather {
        /// The job.
        job_id: i64,
        /// Its attempts when claimed.
        attempts: i32,
        /// What went wrong (never a credential or a row).
        error: String,
        /// When to try again.
        retry_at: Option<DateTime<Utc>>,
        /// Not a failure (it waits on another system): the try does not count.
        give_back: bool,
        /// Given up, and handed to the system's owner with this link.
        hand_to_owner: Option<TaskLink>,
    },
    /// An owner's answer through their link: the rows they reported, stored sealed; the link
    /// stops working (refused unless the task is open under this token).
    AnswerTask {
        /// The job.
        job_id: i64,
        /// The token the link carried (only its hash is compared).
        token: String,
        /// The rows, as JSON.
        result: String,
        /// How many rows.
        rows: i32,
        /// SHA-256 of `result`.
        hash: String,
    },
    /// Queues one erasure job per system, as run `run` of the request's erasures.
    QueueErase {
        /// The systems, by id in the data map.
        systems: Vec<String>,
        /// The run.
        run: i32,
        /// A suspension of use rather than an erasure.
        suspend: bool,
    },
    /// Opens tasks done by hand through a link (a system's owner erasing, a recipient
    /// confirming instructions): one job each, waiting for its answer.
    OpenTasks {
        /// The jobs' purpose (`erase`, `suspend`, `notify`).
        purpose: &'static str,
        /// The run.
        run: i32,
        /// Each system's (or recipient's) id and link.
        tasks: Vec<(String, TaskLink)>,
    },
    /// A failed job of an erasure, suspension or instruction is taken up again: by its
    /// connector (`link` none) or by the person a new link goes to (refused unless it failed,
    /// so two officers cannot reopen it twice).
    ReopenJob {
        /// The job.
        job_id: i64,
        /// The new link, for work done by hand.
        link: Option<TaskLink>,
    },
    /// The person a task's link went to says it cannot be done: the job fails with their
    /// reason stored sealed (refused unless the task is open under this token).
    DeclineTask {
        /// The job.
        job_id: i64,
        /// The token the link carried (only its hash is compared).
        token: String,
        /// Their reason, as JSON.
        reason: String,
    },
    /// Queues a correction job for one system: its plan (the new values, personal data)
    /// stored sealed until the job replaces it with what it did.
    QueueCorrect {
        /// The system, by id in the data map.
        system: String,
        /// The run (one per correction ordered).
        run: i32,
        /// The plan, as JSON.
        plan: String,
        /// Held until a second officer approves it.
        hold: bool,
    },
    /// A held job released by a second officer's approval (refused unless still held, so it
    /// is released once).
    ReleaseJob {
        /// The job.
        job_id: i64,
    },
    /// A job's gathered rows deleted at the end of their retention (refused unless still
    /// there, so the deletion and its entry are written once); an open owner's link ends too.
    PurgeGather {
        /// The job.
        job_id: i64,
    },
    /// An officer's decisions on a finished job's fields (refused unless the review is still
    /// the one they read, so two officers' reviews do not silently overwrite each other).
    ReviewFields {
        /// The job.
        job_id: i64,
        /// The review as read.
        old: Option<String>,
        /// The review to store.
        new: String,
    },
    /// An owner's task reminded (refused unless open and not reminded yet, so one reminder
    /// goes out however many instances look).
    RemindTask {
        /// The job.
        job_id: i64,
    },
}

/// The link of an owner's task: the nonce its token is derived from, the token (only its
/// hash is stored) and when the answer is asked for.
#[derive(Debug, Clone)]
pub struct TaskLink {
    /// The nonce.
    pub nonce: String,
    /// The token.
    pub token: String,
    /// When the answer is due.
    pub due_at: DateTime<Utc>,
}

/// A document to store, already sealed by the caller (the key ring lives in the service).
#[derive(Debug, Clone)]
pub struct NewDocument {
    /// Public id (the content's associated data).
    pub pid: Uuid,
    /// Why it is kept.
    pub purpose: String,
    /// The display name, sealed.
    pub filename: String,
    /// From sniffing.
    pub content_type: String,
    /// Plain size in bytes.
    pub size: i64,
    /// The key it is sealed under.
    pub key_id: String,
    /// The nonce.
    pub nonce: Vec<u8>,
    /// The sealed content.
    pub ciphertext: Vec<u8>,
}

/// A new ledger line; the row's columns are filled here and nowhere else.
#[derive(Debug, Clone)]
pub struct NewLine {
    /// What the line is.
    pub kind: LedgerKind,
    /// How the money moved.
    pub method: domain::PaymentMethod,
    /// How much.
    pub amount: domain::Yen,
    /// The officer's or provider's reference (a transfer's name, a checkout's URL).
    pub reference: Option<String>,
    /// The provider's id of the payment, when it came through one.
    pub provider_ref: Option<String>,
    /// The receipt's number (payments only).
    pub receipt_number: Option<String>,
    /// The staff member who recorded it.
    pub recorded_by: Option<String>,
}

/// A ledger line's move from one kind to another.
#[derive(Debug, Clone)]
pub struct LineMove {
    /// Which line(s).
    pub line: LineRef,
    /// The kind it must still have.
    pub from: LedgerKind,
    /// The kind it gets.
    pub to: LedgerKind,
    /// A new reference, if it changes.
    pub reference: Option<String>,
    /// A new provider id, if it changes.
    pub provider_ref: Option<String>,
    /// Who recorded the move, if it changes.
    pub recorded_by: Option<String>,
}

/// Which ledger line a move is about.
#[derive(Debug, Clone)]
pub enum LineRef {
    /// By row key; exactly one line must move.
    Id(i64),
    /// Every line of the request whose reference is this provider payment (a refund the
    /// provider confirmed); none moving is not a refusal.
    Reference(String),
}

/// Everything one change writes.
pub struct Change<'a> {
    /// The request row.
    pub update: Update<'a>,
    /// The trail entries, linked onto the request's chain here.
    pub entries: Vec<NewEntry>,
    /// The other rows.
    pub writes: Vec<Write>,
    /// Mail to send after it commits.
    pub mail: Vec<NewMessage>,
}

impl<'a> Change<'a> {
    /// A change to an existing request's trail only (plus `writes`).
    pub fn trail(row: &'a request::Model, entries: Vec<NewEntry>) -> Self {
        Change {
            update: Update::Trail(row),
            entries,
            writes: Vec::new(),
            mail: Vec::new(),
        }
    }

    /// Adds a write.
    pub fn with(mut self, write: Write) -> Self {
        self.writes.push(write);
        self
    }

    /// Adds mail.
    pub fn mailing(mut self, mail: Vec<NewMessage>) -> Self {
        self.mail.extend(mail);
        self
    }
}

impl std::fmt::Debug for Update<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the row's columns: they hold personal data.
        match self {
            Update::New { pid, .. } => write!(f, "New({pid})"),
            Update::Trail(r) => write!(f, "Trail({})", r.pid),
            Update::Lifecycle { current, next, .. } => {
                write!(f, "Lifecycle({} -> {})", current.pid, next.state.as_str())
            }
            Update::Assignee { current, assignee } => {
                write!(f, "Assignee({} -> {assignee:?})", current.pid)
            }
        }
    }
}

impl std::fmt::Debug for Change<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Change")
            .field("update", &self.update)
            .field("entries", &self.entries.len())
            .field("writes", &self.writes.len())
            .field("mail", &self.mail.len())
            .finish()
    }
}

/// What a committed change left behind.
#[derive(Debug, Clone)]
pub struct Committed {
    /// The request's row key.
    pub request_id: i64,
    /// The request's number.
    pub number: String,
    /// Whether mail was enqueued (the sender is woken).
    pub mailed: bool,
    /// The request's row as committed, where the change wrote it whole (a transition without
    /// an answer or a map hash written after it); otherwise the caller reads it.
    pub row: Option<request::Model>,
}

/// Commits one change in one transaction. `Conflict` when the request moved since it was
/// read (the caller reads again and retries); `Refused` when another precondition failed.
pub async fn commit(
    db: &Db,
    cipher: &RowCipher,
    change: Change<'_>,
    origin: &Origin,
    mail_host: &str,
    now: DateTime<Utc>,
) -> Result<Committed, StoreError> {
    let Change {
        update,
        entries,
        writes,
        mut mail,
    } = change;
    let backend = db.backend();
    // A new request whose number and id were drawn beforehand, with nothing but inserts, is
    // one statement on PostgreSQL: atomic by itself, without `BEGIN` and `COMMIT` around it.
    let update = match update {
        Update::New {
            row,
            pid,
            number: Some(number),
            id: Some(id),
            mail: mail_for,
        } if backend == sea_orm::DatabaseBackend::Postgres
            && writes.iter().all(|w| matches!(w, Write::IssueToken { .. })) =>
        {
            return commit_new_at_once(
                db,
                cipher,
                NewAtOnce {
                    row: *row,
                    pid,
                    number,
                    id,
                    mail_for,
                    entries,
                    writes,
                    mail,
                },
                origin,
                mail_host,
                now,
            )
            .await;
        }
        other => other,
    };
    let tx = db.begin_write().await?;
    let mut committed_row = None;
    // Inserts that carry no precondition go to the database together, last.
    let mut batch = Batch::new(backend);
    // A link already used refuses as such, before the row's version is even compared.
    let (first, writes): (Vec<_>, Vec<_>) = writes
        .into_iter()
        .partition(|w| matches!(w, Write::ConsumeToken { .. }));
    for write in first {
        apply(&tx, cipher, 0, write, origin, now).await?;
    }
    let (request_id, number) = match update {
        Update::New {
            row,
            pid,
            number,
            id,
            mail: mail_for,
        } => {
            let (mut rows, seq, head) = audit::link(
                &audit::request_chain(pid),
                None,
                0,
                audit::GENESIS,
                &entries,
                origin,
                now,
            );
            let number = match number {
                Some(n) => n,
                None => requests::next_number(&tx, now).await?,
            };
            let mut am = *row;
            am.number = Set(number.clone());
            am.audit_seq = Set(seq);
            am.audit_head = Set(head);
            if let Some(id) = id {
                am.id = Set(id);
            }
            let inserted = requests::insert(&tx, cipher, am).await?;
            for r in &mut rows {
                r.request_id = Set(Some(inserted.id));
            }
            batch.extend(audit::insert_statement(rows));
            mail.extend(mail_for(&inserted));
            batch.push(&filed_event(backend, &inserted, now));
            (inserted.id, number)
        }
        Update::Trail(current) => {
            if !entries.is_empty() {
                let rows = link_onto(current, &entries, origin, now);
                requests::update_audit_head(&tx, current, (rows.1, &rows.2)).await?;
                batch.extend(audit::insert_statement(rows.0));
            }
            (current.id, current.number.clone())
        }
        Update::Lifecycle {
            current,
            next,
            to_subject,
            reply,
            answer,
            datamap,
        } => {
            let rows = link_onto(current, &entries, origin, now);
            let updated = requests::update_lifecycle(
                &tx,
                cipher,
                current,
                &next,
                (rows.1, &rows.2),
                (to_subject.as_deref(), reply.as_deref()),
                now,
            )
            .await?;
            if answer.is_none() && datamap.is_none() {
                committed_row = Some(updated);
            }
            if let Some(answer) = &answer {
                requests::set_answer(&tx, cipher, current, answer).await?;
            }
            if let Some(hash) = datamap {
                request::Entity::update_many()
                    .col_expr(request::Column::DatamapHash, Expr::value(Some(hash)))
                    .filter(request::Column::Id.eq(current.id))
                    .exec(&tx)
                    .await?;
            }
            batch.extend(audit::insert_statement(rows.0));
            if next.state.as_str() != current.state {
                let payload = crate::webhooks::request_payload(
                    current,
                    next.state.as_str(),
                    Some(&current.state),
                    next.due_on,
                );
                batch.push(&crate::webhooks::enqueue_statement(
                    backend,
                    "request.state_changed",
                    &payload,
                    now,
                ));
            }
            (current.id, current.number.clone())
        }
        Update::Assignee { current, assignee } => {
            let rows = link_onto(current, &entries, origin, now);
            requests::update_assignee(&tx, current, assignee, (rows.1, &rows.2), now).await?;
            batch.extend(audit::insert_statement(rows.0));
            (current.id, current.number.clone())
        }
    };
    // A write that changes the request's row after its update makes the row taken from that
    // update stale: the caller reads it again.
    if writes.iter().any(|w| {
        matches!(
            w,
            Write::LinkIncident { .. }
                | Write::PurgeRequest { .. }
                | Write::ConvertComplaint { .. }
        )
    }) {
        committed_row = None;
    }
    for write in writes {
        match write {
            Write::IssueToken {
                purpose,
                token,
                expires_at,
            } => batch.push(&tokens::insert_statement(
                request_id, purpose, &token, expires_at, now,
            )),
            write => apply(&tx, cipher, request_id, write, origin, now).await?,
        }
    }
    let mailed = !mail.is_empty();
    batch.extend(mail_inserts(cipher, request_id, mail, mail_host, now));
    batch.run(&tx).await?;
    tx.commit().await?;
    Ok(Committed {
        request_id,
        number,
        mailed,
        row: committed_row,
    })
}

/// A new request's change, for [`commit_new_at_once`].
struct NewAtOnce<'a> {
    row: request::ActiveModel,
    pid: Uuid,
    number: String,
    id: i64,
    mail_for: MailFor<'a>,
    entries: Vec<NewEntry>,
    writes: Vec<Write>,
    mail: Vec<NewMessage>,
}

/// Commits a new request as one statement (PostgreSQL): the request's row with its id drawn
/// beforehand, its trail, the `request.filed` deliveries, its link tokens and its mail. The
/// mail is made from the row as it will be stored (the database adds nothing to it but its
/// microsecond rounding, which no message shows).
async fn commit_new_at_once(
    db: &Db,
    cipher: &RowCipher,
    new: NewAtOnce<'_>,
    origin: &Origin,
    mail_host: &str,
    now: DateTime<Utc>,
) -> Result<Committed, StoreError> {
    let NewAtOnce {
        mut row,
        pid,
        number,
        id,
        mail_for,
        entries,
        writes,
        mut mail,
    } = new;
    let (rows, seq, head) = audit::link(
        &audit::request_chain(pid),
        Some(id),
        0,
        audit::GENESIS,
        &entries,
        origin,
        now,
    );
    row.id = Set(id);
    row.number = Set(number.clone());
    row.audit_seq = Set(seq);
    row.audit_head = Set(head);
    use sea_orm::TryIntoModel;
    let as_stored = row.clone().try_into_model().map_err(|e| {
        StoreError::Corrupt(format!("a new request's row leaves a column unset: {e}"))
    })?;
    let backend = db.backend();
    let mut batch = Batch::new(backend);
    batch.push(&requests::insert_statement(cipher, row));
    batch.extend(audit::insert_statement(rows));
    batch.push(&filed_event(backend, &as_stored, now));
    for write in writes {
        if let Write::IssueToken {
            purpose,
            token,
            expires_at,
        } = write
        {
            batch.push(&tokens::insert_statement(
                id, purpose, &token, expires_at, now,
            ));
        }
    }
    mail.extend(mail_for(&as_stored));
    let mailed = !mail.is_empty();
    batch.extend(mail_inserts(cipher, id, mail, mail_host, now));
    if batch.fits_one_statement() {
        batch.run(db.conn()).await?;
    } else {
        let tx = db.begin_write().await?;
        batch.run(&tx).await?;
        tx.commit().await?;
    }
    Ok(Committed {
        request_id: id,
        number,
        mailed,
        row: None,
    })
}

/// The `request.filed` deliveries of a new request.
fn filed_event(
    backend: sea_orm::DatabaseBackend,
    row: &request::Model,
    now: DateTime<Utc>,
) -> sea_orm::sea_query::InsertStatement {
    crate::webhooks::enqueue_statement(
        backend,
        "request.filed",
        &crate::webhooks::request_payload(row, &row.state, None, row.due_on),
        now,
    )
}

/// The inserts of a change's mail, each message tied to its request.
fn mail_inserts(
    cipher: &RowCipher,
    request_id: i64,
    mail: Vec<NewMessage>,
    mail_host: &str,
    now: DateTime<Utc>,
) -> Vec<sea_orm::sea_query::InsertStatement> {
    let mail = mail
        .into_iter()
        .map(|m| NewMessage {
            request_id: Some(request_id),
            ..m
        })
        .collect();
    outbox::insert_statements(cipher, mail, mail_host, now).0
}

/// The `connector.failed` webhook event (its last try failed), in the failure's own
/// transaction: which system, what for, which request, whether its owner was asked instead;
/// not the error's words (a business database's message may quote values).
async fn connector_failed<C: ConnectionTrait>(
    tx: &C,
    request_id: i64,
    job_id: i64,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    use crate::entities::gather_job;
    let (Some(job), Some(req)) = (
        gather_job::Entity::find_by_id(job_id).one(tx).await?,
        request::Entity::find_by_id(request_id).one(tx).await?,
    ) else {
        return Ok(());
    };
    let payload = serde_json::json!({ "data": {
        "number": req.number,
        "kind": req.kind,
        "system": job.system,
        "purpose": job.purpose,
        "attempts": job.attempts,
        "handed_to_owner": job.state == crate::gather::OWNER,
        "path": format!("/staff/requests/{}", req.pid),
    }});
    crate::webhooks::enqueue(tx, "connector.failed", &payload, now).await
}

/// Entries linked onto a request's chain at its head as read.
fn link_onto(
    current: &request::Model,
    entries: &[NewEntry],
    origin: &Origin,
    now: DateTime<Utc>,
) -> (Vec<crate::entities::audit_entry::ActiveModel>, i64, String) {
    audit::link(
        &audit::request_chain(current.pid),
        Some(current.id),
        current.audit_seq,
        &current.audit_head,
        entries,
        origin,
        now,
    )
}

fn refused_unless(rows_affected: u64, expected: u64, why: Refused) -> Result<(), StoreError> {
    if rows_affected == expected {
        Ok(())
    } else {
        Err(StoreError::Refused(why))
    }
}

async fn apply<C: ConnectionTrait>(
    tx: &C,
    cipher: &RowCipher,
    request_id: i64,
    write: Write,
    origin: &Origin,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let at = now.trunc_subsecs(6);
    match write {
        Write::LinkIncident { incident_id } => {
            // Once: a colleague's link made meanwhile is not overwritten.
            let linked = request::Entity::update_many()
                .col_expr(request::Column::IncidentId, Expr::value(Some(incident_id)))
                .filter(request::Column::Id.eq(request_id))
                .filter(request::Column::IncidentId.is_null())
                .exec(tx)
                .await?;
            if linked.rows_affected != 1 {
                return Err(StoreError::Conflict);
            }
        }
        Write::ConvertComplaint {
            complaint_id,
            mut entry,
        } => {
            let number: Option<String> = request::Entity::find_by_id(request_id)
                .select_only()
                .column(request::Column::Number)
                .into_tuple()
                .one(tx)
                .await?;
            entry
                .detail
                .push(("request".to_owned(), number.unwrap_or_default()));
            crate::complaints::convert(tx, complaint_id, request_id, entry, origin, now).await?;
        }
        Write::ConsumeToken { purpose, token } => {
            if let Err(e) = tokens::consume(tx, purpose, &token, now).await? {
                return Err(StoreError::Refused(Refused::Token(e)));
            }
        }
        Write::IssueToken {
            purpose,
            token,
            expires_at,
        } => tokens::insert(tx, request_id, purpose, &token, expires_at, now).await?,
        Write::ReplaceCode {
            purpose,
            stored,
            expires_at,
        } => {
            subject_token::Entity::update_many()
                .col_expr(subject_token::Column::UsedAt, Expr::value(at))
                .filter(subject_token::Column::RequestId.eq(request_id))
                .filter(subject_token::Column::Purpose.eq(purpose))
                .filter(subject_token::Column::UsedAt.is_null())
                .exec(tx)
                .await?;
            subject_token::Entity::insert(subject_token::ActiveModel {
                request_id: Set(request_id),
                purpose: Set(purpose.to_owned()),
                token_hash: Set(stored),
                expires_at: Set(expires_at.trunc_subsecs(6)),
                used_at: Set(None),
                attempts: Set(0),
                created_at: Set(at),
                ..Default::default()
            })
            .exec(tx)
            .await?;
        }
        Write::AcceptCode {
            token_id,
            session_purpose,
            session,
            expires_at,
        } => {
            let used = use_token(tx, token_id, at).await?;
            refused_unless(used, 1, Refused::CodeUsed)?;
            subject_token::Entity::insert(subject_token::ActiveModel {
                request_id: Set(request_id),
                purpose: Set(session_purpose.to_owned()),
                token_hash: Set(hash_token(&session)),
                expires_at: Set(expires_at.trunc_subsecs(6)),
                used_at: Set(None),
                attempts: Set(0),
                created_at: Set(at),
                ..Default::default()
            })
            .exec(tx)
            .await?;
        }
        Write::LockCode { token_id } => {
            let locked = use_token(tx, token_id, at).await?;
            // Another try locked it first and wrote the entry.
            refused_unless(locked, 1, Refused::CodeLocked)?;
        }
        Write::AddNote {
            pid,
            author_id,
            text,
        } => {
            // A request whose personal data were erased takes no new words about the person.
            let purged = request::Entity::find_by_id(request_id)
                .one(tx)
                .await?
                .is_none_or(|r| r.purged_at.is_some());
            refused_unless(u64::from(!purged), 1, Refused::AlreadyPurged)?;
            crate::entities::request_note::Entity::insert(
                crate::entities::request_note::ActiveModel {
                    pid: Set(pid),
                    request_id: Set(request_id),
                    author_id: Set(author_id),
                    text: Set(cipher.seal(&crate::notes::text_aad(pid), &text)),
                    created_at: Set(at),
                    ..Default::default()
                },
            )
            .exec(tx)
            .await?;
        }
        Write::AddDocuments(docs) => {
            if !docs.is_empty() {
                let rows = docs.into_iter().map(|d| attachment::ActiveModel {
                    pid: Set(d.pid),
                    request_id: Set(request_id),
                    purpose: Set(d.purpose),
                    filename: Set(d.filename),
                    content_type: Set(d.content_type),
                    size: Set(d.size),
                    key_id: Set(d.key_id),
                    nonce: Set(d.nonce),
                    ciphertext: Set(Some(d.ciphertext)),
                    downloads: Set(0),
                    created_at: Set(at),
                    deleted_at: Set(None),
                    ..Default::default()
                });
                attachment::Entity::insert_many(rows).exec(tx).await?;
            }
        }
        Write::CountDownloads { ids, limit } => {
            let counted = attachment::Entity::update_many()
                .col_expr(
                    attachment::Column::Downloads,
                    Expr::col(attachment::Column::Downloads).add(1),
                )
                .filter(attachment::Column::Id.is_in(ids.iter().copied()))
                .filter(attachment::Column::RequestId.eq(request_id))
                .filter(attachment::Column::Downloads.lt(limit))
                .exec(tx)
                .await?;
            refused_unless(
                counted.rows_affected,
                ids.len() as u64,
                Refused::DownloadLimit,
            )?;
        }
        Write::PostLetter { id } => {
            let posted = crate::entities::outbox::Entity::update_many()
                .col_expr(
                    crate::entities::outbox::Column::Status,
                    Expr::value(outbox::POSTED),
                )
                .col_expr(
                    crate::entities::outbox::Column::SentAt,
                    Expr::value(Some(at)),
                )
                .filter(crate::entities::outbox::Column::Id.eq(id))
                .filter(crate::entities::outbox::Column::RequestId.eq(request_id))
                .filter(crate::entities::outbox::Column::Status.eq(outbox::LETTER))
                .exec(tx)
                .await?;
            refused_unless(posted.rows_affected, 1, Refused::LetterPosted)?;
        }
        Write::PurgeRequest { email_index } => {
            use request::Column as C;
            let none = Expr::value(Option::<String>::None);
            let purged = request::Entity::update_many()
                .col_expr(C::SubjectName, Expr::value(""))
                .col_expr(C::SubjectKana, Expr::value(""))
                .col_expr(C::Email, Expr::value(""))
                .col_expr(C::EmailNorm, Expr::value(email_index))
                .col_expr(C::Details, Expr::value(""))
                .col_expr(C::Phone, none.clone())
                .col_expr(C::PostalAddress, none.clone())
                .col_expr(C::CurrentContent, none.clone())
                .col_expr(C::CorrectContent, none.clone())
                .col_expr(C::Agent, none.clone())
                .col_expr(C::SubjectMessage, none.clone())
                .col_expr(C::SubjectReply, none.clone())
                .col_expr(C::SubjectEmail, none.clone())
                .col_expr(C::Answer, none.clone())
                .col_expr(C::SubjectBirthDateSealed, none)
                .col_expr(
                    C::SubjectBirthDate,
                    Expr::value(Option::<chrono::NaiveDate>::None),
                )
                .col_expr(C::PurgedAt, Expr::value(Some(at)))
                .filter(C::Id.eq(request_id))
                .filter(C::PurgedAt.is_null())
                .filter(C::ClosedAt.is_not_null())
                .exec(tx)
                .await?;
            refused_unless(purged.rows_affected, 1, Refused::AlreadyPurged)?;
            // The mail held the name and the address (sealed, but held): it goes too.
            crate::entities::outbox::Entity::delete_many()
                .filter(crate::entities::outbox::Column::RequestId.eq(request_id))
                .exec(tx)
                .await?;
            // Officers' notes may name the person: they go too.
            crate::entities::request_note::Entity::delete_many()
                .filter(crate::entities::request_note::Column::RequestId.eq(request_id))
                .exec(tx)
                .await?;
        }
        Write::DeleteDocument { id } => {
            let gone = attachment::Entity::update_many()
                .col_expr(
                    attachment::Column::Ciphertext,
                    Expr::value(Option::<Vec<u8>>::None),
                )
                .col_expr(attachment::Column::DeletedAt, Expr::value(Some(at)))
                .filter(attachment::Column::Id.eq(id))
                .filter(attachment::Column::RequestId.eq(request_id))
                .filter(attachment::Column::DeletedAt.is_null())
                .exec(tx)
                .await?;
            refused_unless(gone.rows_affected, 1, Refused::DocumentGone)?;
        }
        Write::AddLine(line) => {
            payment::Entity::insert(payment::ActiveModel {
                request_id: Set(request_id),
                method: Set(line.method.as_str().to_owned()),
                amount: Set(line.amount.0),
                kind: Set(line.kind.as_db().to_owned()),
                reference: Set(line.reference),
                provider_ref: Set(line.provider_ref),
                receipt_number: Set(line.receipt_number),
                recorded_by: Set(line.recorded_by),
                created_at: Set(at),
                ..Default::default()
            })
            .exec(tx)
            .await?;
        }
        Write::QueueGather {
            systems,
            tasks,
            run,
        } => {
            use crate::entities::gather_job;
            // A new run supersedes the owners' tasks of the earlier ones: their links end.
            gather_job::Entity::update_many()
                .col_expr(
                    gather_job::Column::State,
                    Expr::value(crate::gather::SUPERSEDED),
                )
                .col_expr(
                    gather_job::Column::TaskTokenHash,
                    Expr::value(Option::<String>::None),
                )
                .col_expr(gather_job::Column::UpdatedAt, Expr::value(at))
                .filter(gather_job::Column::RequestId.eq(request_id))
                .filter(gather_job::Column::Purpose.eq(crate::gather::GATHER))
                .filter(gather_job::Column::State.eq(crate::gather::OWNER))
                .exec(tx)
                .await?;
            let jobs = systems
                .into_iter()
                .map(|s| (s, None))
                .chain(tasks.into_iter().map(|(s, t)| (s, Some(t))));
            let rows = jobs.map(|(system, task)| gather_job::ActiveModel {
                request_id: Set(request_id),
                run: Set(run),
                system: Set(system),
                state: Set(if task.is_some() {
                    crate::gather::OWNER
                } else {
                    crate::gather::PENDING
                }
                .to_owned()),
                attempts: Set(0),
                next_attempt_at: Set(at),
                claimed_until: Set(None),
                error: Set(None),
                result: Set(None),
                rows: Set(0),
                hash: Set(None),
                created_at: Set(at),
                updated_at: Set(at),
                task_token_hash: Set(task.as_ref().map(|t| hash_token(&t.token))),
                task_nonce: Set(task.as_ref().map(|t| t.nonce.clone())),
                task_due_at: Set(task.as_ref().map(|t| t.due_at.trunc_subsecs(6))),
                task_reminded_at: Set(None),
                purpose: Set(crate::gather::GATHER.to_owned()),
                ..Default::default()
            });
            gather_job::Entity::insert_many(rows).exec(tx).await?;
        }
        Write::QueueErase {
            systems,
            run,
            suspend,
        } => {
            use crate::entities::gather_job;
            if !systems.is_empty() {
                let rows = systems.into_iter().map(|system| gather_job::ActiveModel {
                    request_id: Set(request_id),
                    run: Set(run),
                    system: Set(system),
                    state: Set(crate::gather::PENDING.to_owned()),
                    attempts: Set(0),
                    next_attempt_at: Set(at),
                    rows: Set(0),
                    created_at: Set(at),
                    updated_at: Set(at),
                    purpose: Set(if suspend {
                        crate::gather::SUSPEND
                    } else {
                        crate::gather::ERASE
                    }
                    .to_owned()),
                    ..Default::default()
                });
                gather_job::Entity::insert_many(rows).exec(tx).await?;
            }
        }
        Write::OpenTasks {
            purpose,
            run,
            tasks,
        } => {
            use crate::entities::gather_job;
            if !tasks.is_empty() {
                let rows = tasks
                    .into_iter()
                    .map(|(system, link)| gather_job::ActiveModel {
                        request_id: Set(request_id),
                        run: Set(run),
                        system: Set(system),
                        state: Set(crate::gather::OWNER.to_owned()),
                        attempts: Set(0),
                        next_attempt_at: Set(at),
                        rows: Set(0),
                        created_at: Set(at),
                        updated_at: Set(at),
                        purpose: Set(purpose.to_owned()),
                        task_token_hash: Set(Some(hash_token(&link.token))),
                        task_nonce: Set(Some(link.nonce)),
                        task_due_at: Set(Some(link.due_at.trunc_subsecs(6))),
                        ..Default::default()
                    });
                gather_job::Entity::insert_many(rows).exec(tx).await?;
            }
        }
        Write::ReopenJob { job_id, link } => {
            use crate::entities::gather_job;
            let state = if link.is_some() {
                crate::gather::OWNER
            } else {
                crate::gather::PENDING
            };
            let update = gather_job::Entity::update_many()
                .col_expr(gather_job::Column::State, Expr::value(state))
                .col_expr(gather_job::Column::Attempts, Expr::value(0))
                .col_expr(
                    gather_job::Column::Error,
                    Expr::value(Option::<String>::None),
                )
                .col_expr(
                    gather_job::Column::Result,
                    Expr::value(Option::<String>::None),
                )
                .col_expr(gather_job::Column::NextAttemptAt, Expr::value(at))
                .col_expr(
                    gather_job::Column::TaskTokenHash,
                    Expr::value(link.as_ref().map(|t| hash_token(&t.token))),
                )
                .col_expr(
                    gather_job::Column::TaskNonce,
                    Expr::value(link.as_ref().map(|t| t.nonce.clone())),
                )
                .col_expr(
                    gather_job::Column::TaskDueAt,
                    Expr::value(link.as_ref().map(|t| t.due_at.trunc_subsecs(6))),
                )
                .col_expr(
                    gather_job::Column::TaskRemindedAt,
                    Expr::value(Option::<DateTime<Utc>>::None),
                )
                .col_expr(gather_job::Column::UpdatedAt, Expr::value(at));
            job_in_state(
                tx,
                update,
                request_id,
                job_id,
                crate::gather::FAILED,
                Refused::JobTakenOver,
            )
            .await?;
        }
        Write::DeclineTask {
            job_id,
            token,
            reason,
        } => {
            use crate::entities::gather_job;
            let update = gather_job::Entity::update_many()
                .col_expr(
                    gather_job::Column::State,
                    Expr::value(crate::gather::FAILED),
                )
                .col_expr(
                    gather_job::Column::Result,
                    Expr::value(Some(
                        cipher.seal(&crate::gather::result_aad(job_id), &reason),
                    )),
                )
                .col_expr(
                    gather_job::Column::Error,
                    Expr::value(Some(crate::gather::DECLINED.to_owned())),
                )
                .col_expr(
                    gather_job::Column::TaskTokenHash,
                    Expr::value(Option::<String>::None),
                )
                .col_expr(gather_job::Column::UpdatedAt, Expr::value(at))
                .filter(gather_job::Column::TaskTokenHash.eq(hash_token(&token)));
            job_in_state(
                tx,
                update,
                request_id,
                job_id,
                crate::gather::OWNER,
                Refused::TaskClosed,
            )
            .await?;
        }
        Write::AnswerTask {
            job_id,
            token,
            result,
            rows,
            hash,
        } => {
            use crate::entities::gather_job;
            let update = gather_job::Entity::update_many()
                .col_expr(gather_job::Column::State, Expr::value(crate::gather::DONE))
                .col_expr(
                    gather_job::Column::Result,
                    Expr::value(Some(
                        cipher.seal(&crate::gather::result_aad(job_id), &result),
                    )),
                )
                .col_expr(gather_job::Column::Rows, Expr::value(rows))
                .col_expr(gather_job::Column::Hash, Expr::value(Some(hash)))
                .col_expr(
                    gather_job::Column::Error,
                    Expr::value(Option::<String>::None),
                )
                .col_expr(
                    gather_job::Column::TaskTokenHash,
                    Expr::value(Option::<String>::None),
                )
                .col_expr(gather_job::Column::UpdatedAt, Expr::value(at))
                .filter(gather_job::Column::TaskTokenHash.eq(hash_token(&token)));
            job_in_state(
                tx,
                update,
                request_id,
                job_id,
                crate::gather::OWNER,
                Refused::TaskClosed,
            )
            .await?;
        }
        Write::ReleaseJob { job_id } => {
            use crate::entities::gather_job;
            let update = gather_job::Entity::update_many()
                .col_expr(
                    gather_job::Column::State,
                    Expr::value(crate::gather::PENDING),
                )
                .col_expr(gather_job::Column::NextAttemptAt, Expr::value(at))
                .col_expr(gather_job::Column::UpdatedAt, Expr::value(at));
            job_in_state(
                tx,
                update,
                request_id,
                job_id,
                crate::gather::HELD,
                Refused::JobTakenOver,
            )
            .await?;
        }
        Write::QueueCorrect {
            system,
            run,
            plan,
            hold,
        } => {
            use crate::entities::gather_job;
            let row = gather_job::ActiveModel {
                request_id: Set(request_id),
                run: Set(run),
                system: Set(system),
                state: Set(if hold {
                    crate::gather::HELD
                } else {
                    crate::gather::PENDING
                }
                .to_owned()),
                attempts: Set(0),
                next_attempt_at: Set(at),
                rows: Set(0),
                created_at: Set(at),
                updated_at: Set(at),
                purpose: Set(crate::gather::CORRECT.to_owned()),
                ..Default::default()
            };
            let id = gather_job::Entity::insert(row)
                .exec(tx)
                .await?
                .last_insert_id;
            // Sealed under the job's own id, like every job's result.
            gather_job::Entity::update_many()
                .col_expr(
                    gather_job::Column::Result,
                    Expr::value(Some(cipher.seal(&crate::gather::result_aad(id), &plan))),
                )
                .filter(gather_job::Column::Id.eq(id))
                .exec(tx)
                .await?;
        }
        Write::PurgeGather { job_id } => {
            use crate::entities::gather_job;
            let purged = gather_job::Entity::update_many()
                .col_expr(
                    gather_job::Column::Result,
                    Expr::value(Option::<String>::None),
                )
                .col_expr(
                    gather_job::Column::TaskTokenHash,
                    Expr::value(Option::<String>::None),
                )
                .col_expr(gather_job::Column::UpdatedAt, Expr::value(at))
                .filter(gather_job::Column::Id.eq(job_id))
                .filter(gather_job::Column::RequestId.eq(request_id))
                .filter(
                    sea_orm::Condition::any()
                        .add(gather_job::Column::Result.is_not_null())
                        .add(gather_job::Column::TaskTokenHash.is_not_null()),
                )
                .exec(tx)
                .await?;
            refused_unless(purged.rows_affected, 1, Refused::JobTakenOver)?;
        }
        Write::ReviewFields { job_id, old, new } => {
            use crate::entities::gather_job;
            let mut q = gather_job::Entity::update_many()
                .col_expr(gather_job::Column::Review, Expr::value(Some(new)))
                .filter(gather_job::Column::Id.eq(job_id))
                .filter(gather_job::Column::RequestId.eq(request_id))
                .filter(gather_job::Column::State.eq(crate::gather::DONE));
            q = match old {
                Some(old) => q.filter(gather_job::Column::Review.eq(old)),
                None => q.filter(gather_job::Column::Review.is_null()),
            };
            let reviewed = q.exec(tx).await?;
            refused_unless(reviewed.rows_affected, 1, Refused::JobTakenOver)?;
        }
        Write::RemindTask { job_id } => {
            use crate::entities::gather_job;
            let update = gather_job::Entity::update_many()
                .col_expr(gather_job::Column::TaskRemindedAt, Expr::value(Some(at)))
                .col_expr(gather_job::Column::UpdatedAt, Expr::value(at))
                .filter(gather_job::Column::TaskRemindedAt.is_null());
            job_in_state(
                tx,
                update,
                request_id,
                job_id,
                crate::gather::OWNER,
                Refused::TaskClosed,
            )
            .await?;
        }
        Write::FinishGather {
            job_id,
            attempts,
            result,
            rows,
            hash,
        } => {
            use crate::entities::gather_job;
            let update = gather_job::Entity::update_many()
                .col_expr(gather_job::Column::State, Expr::value(crate::gather::DONE))
                .col_expr(
                    gather_job::Column::Result,
                    Expr::value(Some(
                        cipher.seal(&crate::gather::result_aad(job_id), &result),
                    )),
                )
                .col_expr(gather_job::Column::Rows, Expr::value(rows))
                .col_expr(gather_job::Column::Hash, Expr::value(Some(hash)))
                .col_expr(
                    gather_job::Column::Error,
                    Expr::value(Option::<String>::None),
                )
                .col_expr(
                    gather_job::Column::ClaimedUntil,
                    Expr::value(Option::<DateTime<Utc>>::None),
                )
                .col_expr(gather_job::Column::UpdatedAt, Expr::value(at))
                .filter(gather_job::Column::Attempts.eq(attempts));
            job_in_state(
                tx,
                update,
                request_id,
                job_id,
                crate::gather::RUNNING,
                Refused::JobTakenOver,
            )
            .await?;
        }
        Write::FailGather {
            job_id,
            attempts,
            error,
            retry_at,
            give_back,
            hand_to_owner,
        } => {
            use crate::entities::gather_job;
            let state = match (retry_at, &hand_to_owner) {
                (Some(_), _) => crate::gather::PENDING,
                (None, Some(_)) => crate::gather::OWNER,
                (None, None) => crate::gather::FAILED,
            };
            let spent = if give_back { attempts - 1 } else { attempts };
            let update = gather_job::Entity::update_many()
                .col_expr(gather_job::Column::State, Expr::value(state))
                .col_expr(gather_job::Column::Attempts, Expr::value(spent))
                .col_expr(gather_job::Column::Error, Expr::value(Some(error)))
                .col_expr(
                    gather_job::Column::NextAttemptAt,
                    Expr::value(retry_at.unwrap_or(now).trunc_subsecs(6)),
                )
                .col_expr(
                    gather_job::Column::ClaimedUntil,
                    Expr::value(Option::<DateTime<Utc>>::None),
                )
                .col_expr(
                    gather_job::Column::TaskTokenHash,
                    Expr::value(hand_to_owner.as_ref().map(|t| hash_token(&t.token))),
                )
                .col_expr(
                    gather_job::Column::TaskNonce,
                    Expr::value(hand_to_owner.as_ref().map(|t| t.nonce.clone())),
                )
                .col_expr(
                    gather_job::Column::TaskDueAt,
                    Expr::value(hand_to_owner.as_ref().map(|t| t.due_at.trunc_subsecs(6))),
                )
                .col_expr(gather_job::Column::UpdatedAt, Expr::value(at))
                .filter(gather_job::Column::Attempts.eq(attempts));
            job_in_state(
                tx,
                update,
                request_id,
                job_id,
                crate::gather::RUNNING,
                Refused::JobTakenOver,
            )
            .await?;
            // The last try failed: given up on, or handed to the system's owner as a task.
            if retry_at.is_none() {
                connector_failed(tx, request_id, job_id, now).await?;
            }
        }
        Write::MoveLine(m) => {
            let mut q = payment::Entity::update_many()
                .col_expr(payment::Column::Kind, Expr::value(m.to.as_db()))
                .filter(payment::Column::RequestId.eq(request_id))
                .filter(payment::Column::Kind.eq(m.from.as_db()));
            if let Some(r) = m.reference {
                q = q.col_expr(payment::Column::Reference, Expr::value(Some(r)));
            }
            if let Some(p) = m.provider_ref {
                q = q.col_expr(payment::Column::ProviderRef, Expr::value(Some(p)));
            }
            if let Some(by) = m.recorded_by {
                q = q.col_expr(payment::Column::RecordedBy, Expr::value(Some(by)));
            }
            match m.line {
                LineRef::Id(id) => {
                    let moved = q.filter(payment::Column::Id.eq(id)).exec(tx).await?;
                    refused_unless(
                        moved.rows_affected,
                        1,
                        Refused::LineMoved {
                            from: m.from,
                            to: m.to,
                        },
                    )?;
                }
                LineRef::Reference(r) => {
                    q.filter(payment::Column::Reference.eq(r)).exec(tx).await?;
                }
            }
        }
    }
    Ok(())
}

async fn use_token<C: ConnectionTrait>(
    tx: &C,
    token_id: i64,
    at: DateTime<Utc>,
) -> Result<u64, StoreError> {
    Ok(subject_token::Entity::update_many()
        .col_expr(subject_token::Column::UsedAt, Expr::value(at))
        .filter(subject_token::Column::Id.eq(token_id))
        .filter(subject_token::Column::UsedAt.is_null())
        .exec(tx)
        .await?
        .rows_affected)
}

/// Appends entries to an office-wide chain (staff accounts, settings, customer records) in
/// the caller's transaction: the one that makes the change they record.
pub async fn record_office<C: ConnectionTrait>(
    tx: &C,
    chain: &str,
    entries: &[NewEntry],
    origin: &Origin,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    audit::append_named(tx, chain, entries, origin, now).await
}

/// [`record_office`], with the request each entry is about (`requests[i]` for `entries[i]`),
/// so the auditor's per-request filter finds them (the `mail` chain's deliveries).
pub async fn record_office_for<C: ConnectionTrait>(
    tx: &C,
    chain: &str,
    entries: &[NewEntry],
    requests: &[Option<i64>],
    origin: &Origin,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    audit::append_named_for(tx, chain, entries, requests, origin, now).await
}

/// Enqueues mail to the office that is about the whole service, not one request.
pub async fn commit_office_mail(
    db: &Db,
    cipher: &RowCipher,
    mail: Vec<NewMessage>,
    mail_host: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mail = mail
        .into_iter()
        .map(|m| NewMessage {
            request_id: None,
            ..m
        })
        .collect();
    outbox::enqueue(db.conn(), cipher, mail, mail_host, now).await?;
    Ok(())
}

/// Applies a job's update only while the job is the request's and in `state` (the write's
/// precondition); refused with `refusal` otherwise, so a race loses cleanly.
async fn job_in_state<C: ConnectionTrait>(
    tx: &C,
    update: sea_orm::UpdateMany<crate::entities::gather_job::Entity>,
    request_id: i64,
    job_id: i64,
    state: &str,
    refusal: Refused,
) -> Result<(), StoreError> {
    use crate::entities::gather_job;
    let changed = update
        .filter(gather_job::Column::Id.eq(job_id))
        .filter(gather_job::Column::RequestId.eq(request_id))
        .filter(gather_job::Column::State.eq(state))
        .exec(tx)
        .await?;
    refused_unless(changed.rows_affected, 1, refusal)
}
