//! Verifying the trail: every chain walked from its genesis, every entry's hash recomputed,
//! every head and checkpoint promise checked (`docs/audit.md`). The reading side decodes and
//! checks links; a second thread recomputes hashes in batches; the earliest break wins.

use super::*;

fn sqlx_err(e: sea_orm::sqlx::Error) -> StoreError {
    StoreError::Db(sea_orm::DbErr::Query(sea_orm::RuntimeErr::SqlxError(
        std::sync::Arc::new(e),
    )))
}

/// Requests whose chain has entries. One with none has no chain to walk: were entries stored
/// for it anyway, they would belong to no known chain, which is reported as such.
const HEADS_SQL: &str = "SELECT pid, audit_seq, audit_head, id FROM requests WHERE audit_seq > 0";
const CHAINS_SQL: &str = "SELECT chain, seq, head FROM audit_chains";
const CHECKPOINTS_SQL: &str =
    "SELECT seq, at, upto_id, heads, prev_hash, hash FROM audit_checkpoints ORDER BY seq";
const ENTRIES_SQL: &str = "SELECT chain, seq, request_id, at, actor_kind, actor_id, role, \
     action, detail, ip, user_agent, prev_hash, hash FROM audit_entries ORDER BY chain, seq";

/// Runs `$sql` on the transaction `$tx` and runs `$body` with each row as `$row`, streamed.
macro_rules! each_row {
    ($tx:ident, $sql:expr, |$row:ident| $body:block) => {{
        let mut rows = sea_orm::sqlx::query($sql).fetch(&mut *$tx);
        // `BoxStream`'s `poll_next`, callable on the trait object without naming the trait.
        while let Some(row) = std::future::poll_fn(|cx| rows.as_mut().poll_next(cx)).await {
            let $row = row.map_err(sqlx_err)?;
            $body
        }
    }};
}

/// The whole verification on one backend's transaction; evaluates to the verdict and returns
/// early with the store error when reading fails.
macro_rules! walk {
    ($tx:ident) => {{
        let mut v = Verifier::default();
        each_row!($tx, HEADS_SQL, |r| {
            let pid: uuid::Uuid = r.try_get(0).map_err(sqlx_err)?;
            let seq: i64 = r.try_get(1).map_err(sqlx_err)?;
            let head: &str = r.try_get(2).map_err(sqlx_err)?;
            let id: i64 = r.try_get(3).map_err(sqlx_err)?;
            v.request_head(pid, seq, head, id);
        });
        each_row!($tx, CHAINS_SQL, |r| {
            let chain: &str = r.try_get(0).map_err(sqlx_err)?;
            let seq: i64 = r.try_get(1).map_err(sqlx_err)?;
            let head: &str = r.try_get(2).map_err(sqlx_err)?;
            v.named_head(chain, seq, head);
        });
        let mut verdict = Ok(());
        each_row!($tx, CHECKPOINTS_SQL, |r| {
            verdict = v.checkpoint(
                r.try_get(0).map_err(sqlx_err)?,
                r.try_get(1).map_err(sqlx_err)?,
                r.try_get(2).map_err(sqlx_err)?,
                r.try_get(3).map_err(sqlx_err)?,
                r.try_get(4).map_err(sqlx_err)?,
                r.try_get(5).map_err(sqlx_err)?,
            )?;
            if verdict.is_err() {
                break;
            }
        });
        let mut at = None;
        let mut content = None;
        if verdict.is_ok() {
            let mut pipe = Pipeline::start();
            // The first row's column types are checked; the rest are decoded without the check
            // (a column's type is the same in every row, and the check costs as much as the
            // decoding).
            let mut checked = false;
            each_row!($tx, ENTRIES_SQL, |r| {
                macro_rules! col {
                    ($i:literal) => {
                        if checked {
                            r.try_get_unchecked($i)
                        } else {
                            r.try_get($i)
                        }
                        .map_err(sqlx_err)?
                    };
                }
                let e = StoredEntry {
                    chain: col!(0),
                    seq: col!(1),
                    request_id: col!(2),
                    at: col!(3),
                    actor_kind: col!(4),
                    actor_id: col!(5),
                    role: col!(6),
                    action: col!(7),
                    detail: col!(8),
                    ip: col!(9),
                    user_agent: col!(10),
                    prev_hash: col!(11),
                    hash: col!(12),
                };
                checked = true;
                let full = pipe.push(&e);
                verdict = v.entry(&e);
                if verdict.is_err() {
                    at = Some(pipe.next - 1);
                    break;
                }
                if let Some(batch) = full
                    && (pipe.sender().send(batch).await.is_err() || pipe.found_mismatch())
                {
                    break;
                }
            });
            let (rest, tx) = pipe.close();
            let _ = tx.send(rest).await;
            drop(tx);
            content = pipe.result.await.map_err(|_| hashing_failed())?;
        }
        let after_content = v.break_after_content;
        Pipeline::arbitrate(
            verdict.and_then(|()| v.finish()),
            at,
            after_content,
            content,
        )
    }};
}
/// Walks every chain and checks each link, that every chain ends where its head says, and
/// that every head recorded by a checkpoint is still there with the same hash. Detects edited,
/// deleted, inserted, reordered and truncated entries, whole chains removed (with or without
/// their request), and edited checkpoints.
///
/// One read-only transaction (a snapshot on both databases, so an entry appended meanwhile
/// cannot look like a head out of step) reads the heads, the checkpoints and then every entry
/// in one ordered query, streamed through the driver: memory holds the heads and one row at a
/// time, and each row's columns are borrowed, not copied into a model.
pub async fn verify(db: &DatabaseConnection) -> Result<Result<Summary, Break>, StoreError> {
    match db.get_database_backend() {
        DbBackend::Sqlite => {
            let options = db.get_sqlite_connection_pool().connect_options();
            let file = options.get_filename();
            if file.is_file() {
                // A database file: read it on a blocking thread through SQLite's own row
                // cursor. sqlx copies every value of every row into the async task through a
                // channel, which bounded verification to a third of this.
                let file = file.to_owned();
                return tokio::task::spawn_blocking(move || sqlite_file::verify(&file))
                    .await
                    .map_err(|e| StoreError::Corrupt(format!("verification thread: {e}")))?;
            }
            // An in-memory database is only reachable through the pool.
            // A deferred transaction: its first read takes the snapshot the others share.
            let mut tx = db
                .get_sqlite_connection_pool()
                .begin()
                .await
                .map_err(sqlx_err)?;
            let verdict = walk!(tx);
            tx.rollback().await.map_err(sqlx_err)?;
            Ok(verdict)
        }
        DbBackend::Postgres => {
            let mut tx = db
                .get_postgres_connection_pool()
                .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                .await
                .map_err(sqlx_err)?;
            let verdict = walk!(tx);
            tx.rollback().await.map_err(sqlx_err)?;
            Ok(verdict)
        }
        other => Err(StoreError::Corrupt(format!(
            "audit verification does not support {other:?}"
        ))),
    }
}

/// Verification of a SQLite database file through `rusqlite` on the calling (blocking) thread.
mod sqlite_file {
    use std::path::Path;

    use chrono::{DateTime, NaiveDateTime, Utc};
    use rusqlite::types::ValueRef;
    use rusqlite::{Connection, OpenFlags, Row};

    use super::{
        Break, CHAINS_SQL, CHECKPOINTS_SQL, ENTRIES_SQL, HEADS_SQL, Pipeline, StoreError,
        StoredEntry, Summary, Verifier, hashing_failed,
    };

    fn err(e: rusqlite::Error) -> StoreError {
        StoreError::Corrupt(format!("reading the audit trail: {e}"))
    }

    fn bad(column: &str, what: &str) -> StoreError {
        StoreError::Corrupt(format!("audit column {column}: {what}"))
    }

    fn text<'r>(row: &'r Row<'_>, i: usize) -> Result<&'r str, StoreError> {
        match row.get_ref(i).map_err(err)? {
            ValueRef::Text(t) => std::str::from_utf8(t).map_err(|_| bad("text", "not UTF-8")),
            _ => Err(bad("text", "not text")),
        }
    }

    fn opt_text<'r>(row: &'r Row<'_>, i: usize) -> Result<Option<&'r str>, StoreError> {
        match row.get_ref(i).map_err(err)? {
            ValueRef::Null => Ok(None),
            _ => text(row, i).map(Some),
        }
    }

    fn int(row: &Row<'_>, i: usize) -> Result<i64, StoreError> {
        match row.get_ref(i).map_err(err)? {
            ValueRef::Integer(n) => Ok(n),
            _ => Err(bad("integer", "not an integer")),
        }
    }

    fn opt_int(row: &Row<'_>, i: usize) -> Result<Option<i64>, StoreError> {
        match row.get_ref(i).map_err(err)? {
            ValueRef::Null => Ok(None),
            _ => int(row, i).map(Some),
        }
    }

    /// Timestamps as sqlx writes them (RFC 3339), or SQLite's own `YYYY-MM-DD HH:MM:SS.fff`.
    fn time(row: &Row<'_>, i: usize) -> Result<DateTime<Utc>, StoreError> {
        let t = text(row, i)?;
        DateTime::parse_from_rfc3339(t)
            .map(|d| d.with_timezone(&Utc))
            .or_else(|_| NaiveDateTime::parse_from_str(t, "%F %T%.f").map(|n| n.and_utc()))
            .map_err(|_| bad("at", "not a timestamp"))
    }

    fn pid(row: &Row<'_>, i: usize) -> Result<uuid::Uuid, StoreError> {
        match row.get_ref(i).map_err(err)? {
            ValueRef::Blob(b) => uuid::Uuid::from_slice(b).map_err(|_| bad("pid", "not a UUID")),
            ValueRef::Text(t) => std::str::from_utf8(t)
                .ok()
                .and_then(|t| uuid::Uuid::try_parse(t).ok())
                .ok_or_else(|| bad("pid", "not a UUID")),
            _ => Err(bad("pid", "not a UUID")),
        }
    }

    pub(super) fn verify(file: &Path) -> Result<Result<Summary, Break>, StoreError> {
        let conn = Connection::open_with_flags(
            file,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(err)?;
        // One read transaction: its first read takes the snapshot the others share.
        conn.execute_batch("BEGIN").map_err(err)?;
        let mut v = Verifier::default();
        let mut q = conn.prepare(HEADS_SQL).map_err(err)?;
        let mut rows = q.query([]).map_err(err)?;
        while let Some(r) = rows.next().map_err(err)? {
            v.request_head(pid(r, 0)?, int(r, 1)?, text(r, 2)?, int(r, 3)?);
        }
        let mut q = conn.prepare(CHAINS_SQL).map_err(err)?;
        let mut rows = q.query([]).map_err(err)?;
        while let Some(r) = rows.next().map_err(err)? {
            v.named_head(text(r, 0)?, int(r, 1)?, text(r, 2)?);
        }
        let mut q = conn.prepare(CHECKPOINTS_SQL).map_err(err)?;
        let mut rows = q.query([]).map_err(err)?;
        while let Some(r) = rows.next().map_err(err)? {
            let verdict = v.checkpoint(
                int(r, 0)?,
                time(r, 1)?,
                int(r, 2)?,
                text(r, 3)?,
                text(r, 4)?,
                text(r, 5)?,
            )?;
            if let Err(b) = verdict {
                return Ok(Err(b));
            }
        }
        let mut pipe = Pipeline::start();
        let mut at = None;
        let mut verdict = Ok(());
        let mut q = conn.prepare(ENTRIES_SQL).map_err(err)?;
        let mut rows = q.query([]).map_err(err)?;
        while let Some(r) = rows.next().map_err(err)? {
            let e = StoredEntry {
                chain: text(r, 0)?,
                seq: int(r, 1)?,
                request_id: opt_int(r, 2)?,
                at: time(r, 3)?,
                actor_kind: text(r, 4)?,
                actor_id: opt_text(r, 5)?,
                role: opt_text(r, 6)?,
                action: text(r, 7)?,
                detail: text(r, 8)?,
                ip: opt_text(r, 9)?,
                user_agent: opt_text(r, 10)?,
                prev_hash: text(r, 11)?,
                hash: text(r, 12)?,
            };
            let full = pipe.push(&e);
            verdict = v.entry(&e);
            if verdict.is_err() {
                at = Some(pipe.next - 1);
                break;
            }
            if let Some(batch) = full
                && (pipe.sender().blocking_send(batch).is_err() || pipe.found_mismatch())
            {
                break;
            }
        }
        let (rest, tx) = pipe.close();
        let _ = tx.blocking_send(rest);
        drop(tx);
        let content = pipe.result.blocking_recv().map_err(|_| hashing_failed())?;
        let after_content = v.break_after_content;
        Ok(Pipeline::arbitrate(
            verdict.and_then(|()| v.finish()),
            at,
            after_content,
            content,
        ))
    }
}

/// One row of `audit_entries`, borrowed from the driver's row.
struct StoredEntry<'r> {
    chain: &'r str,
    seq: i64,
    request_id: Option<i64>,
    at: DateTime<Utc>,
    actor_kind: &'r str,
    actor_id: Option<&'r str>,
    role: Option<&'r str>,
    action: &'r str,
    detail: &'r str,
    ip: Option<&'r str>,
    user_agent: Option<&'r str>,
    prev_hash: &'r str,
    hash: &'r str,
}

fn hashing_failed() -> StoreError {
    StoreError::Corrupt("the audit hashing thread stopped".into())
}

fn content_break(chain: &str, seq: i64) -> Break {
    brk(chain, seq, "entry content does not match its hash")
}

/// Recomputes entry hashes on a second thread while the reading thread decodes rows and checks
/// the structure: the two halves each take about one core's worth per entry.
///
/// Entries are copied into batches (one text arena each, so a batch is two allocations). The
/// verdict is the one the sequential walk would give: the break at the earliest entry, and at
/// the same entry, links and sequence before content, content before checkpoint promises.
struct Pipeline {
    batch: Batch,
    next: u64,
    tx: Option<tokio::sync::mpsc::Sender<Batch>>,
    result: tokio::sync::oneshot::Receiver<Option<(u64, Break)>>,
    mismatch: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

const BATCH: usize = 512;

/// Where a field's text lives in a batch's arena.
#[derive(Clone, Copy)]
struct Span(u32, u32);

struct Spans {
    chain: Span,
    seq: i64,
    at: DateTime<Utc>,
    actor_kind: Span,
    actor_id: Option<Span>,
    role: Option<Span>,
    action: Span,
    detail: Span,
    ip: Option<Span>,
    user_agent: Option<Span>,
    prev_hash: Span,
    hash: Span,
}

struct Batch {
    first: u64,
    text: String,
    rows: Vec<Spans>,
}

impl Batch {
    fn new(first: u64) -> Self {
        Self {
            first,
            text: String::with_capacity(BATCH * 512),
            rows: Vec::with_capacity(BATCH),
        }
    }

    fn put(&mut self, s: &str) -> Span {
        let start = self.text.len();
        self.text.push_str(s);
        // A batch's arena stays far below 4 GiB: 512 rows of database text.
        Span(start as u32, s.len() as u32)
    }

    fn push(&mut self, e: &StoredEntry<'_>) {
        let row = Spans {
            chain: self.put(e.chain),
            seq: e.seq,
            at: e.at,
            actor_kind: self.put(e.actor_kind),
            actor_id: e.actor_id.map(|v| self.put(v)),
            role: e.role.map(|v| self.put(v)),
            action: self.put(e.action),
            detail: self.put(e.detail),
            ip: e.ip.map(|v| self.put(v)),
            user_agent: e.user_agent.map(|v| self.put(v)),
            prev_hash: self.put(e.prev_hash),
            hash: self.put(e.hash),
        };
        self.rows.push(row);
    }

    fn get(&self, s: Span) -> &str {
        &self.text[s.0 as usize..(s.0 + s.1) as usize]
    }

    /// The first entry whose content does not match its hash, by position in the walk.
    fn check(&self, hasher: &mut madoguchi_domain::chain::EntryHasher) -> Option<(u64, Break)> {
        self.rows.iter().enumerate().find_map(|(i, r)| {
            let input = HashInput {
                chain: self.get(r.chain),
                seq: r.seq,
                at: r.at,
                actor_kind: self.get(r.actor_kind),
                actor_id: r.actor_id.map(|v| self.get(v)),
                role: r.role.map(|v| self.get(v)),
                action: self.get(r.action),
                detail: self.get(r.detail),
                ip: r.ip.map(|v| self.get(v)),
                user_agent: r.user_agent.map(|v| self.get(v)),
            };
            let computed = hasher.hash(self.get(r.prev_hash), &input);
            (computed.as_slice() != self.get(r.hash).as_bytes())
                .then(|| (self.first + i as u64, content_break(input.chain, r.seq)))
        })
    }
}

impl Pipeline {
    fn start() -> Self {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Batch>(4);
        let (result_tx, result) = tokio::sync::oneshot::channel();
        let mismatch = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = mismatch.clone();
        std::thread::spawn(move || {
            let mut hasher = madoguchi_domain::chain::EntryHasher::new();
            let mut found = None;
            while let Some(batch) = rx.blocking_recv() {
                if found.is_none() {
                    found = batch.check(&mut hasher);
                    if found.is_some() {
                        flag.store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            }
            let _ = result_tx.send(found);
        });
        Self {
            batch: Batch::new(0),
            next: 0,
            tx: Some(tx),
            result,
            mismatch,
        }
    }

    /// Queues an entry's hash check; returns a full batch for the caller to send (the
    /// reading side is async on PostgreSQL and blocking on SQLite).
    fn push(&mut self, e: &StoredEntry<'_>) -> Option<Batch> {
        self.batch.push(e);
        self.next += 1;
        (self.batch.rows.len() == BATCH)
            .then(|| std::mem::replace(&mut self.batch, Batch::new(self.next)))
    }

    /// Whether the hashing thread found a mismatch (the rest need not be read).
    fn found_mismatch(&self) -> bool {
        self.mismatch.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn sender(&self) -> &tokio::sync::mpsc::Sender<Batch> {
        self.tx.as_ref().expect("open until finished")
    }

    /// The last partial batch, and the channel's end.
    fn close(&mut self) -> (Batch, tokio::sync::mpsc::Sender<Batch>) {
        let rest = std::mem::replace(&mut self.batch, Batch::new(self.next));
        (rest, self.tx.take().expect("closed once"))
    }

    /// Combines the structural verdict with the hashing thread's. `at` is the position of the
    /// entry the structural break was found at (`None` when it was found after all entries).
    fn arbitrate(
        structural: Result<Summary, Break>,
        at: Option<u64>,
        after_content: bool,
        content: Option<(u64, Break)>,
    ) -> Result<Summary, Break> {
        match (structural, content) {
            (s, None) => s,
            (Ok(_), Some((_, c))) => Err(c),
            (Err(s), Some((pos, c))) => match at {
                Some(at) if at < pos || (at == pos && !after_content) => Err(s),
                _ => Err(c),
            },
        }
    }
}

/// A chain's stored head: its sequence and hash (as 32 bytes; `None` when the stored text is
/// not 64 lower-case hex digits, which no entry's hash can equal).
#[derive(Debug, Clone, Copy)]
struct Head {
    seq: i64,
    hash: Option<[u8; 32]>,
}

impl Head {
    fn new(seq: i64, hex: &str) -> Self {
        Self {
            seq,
            hash: madoguchi_domain::chain::parse_hex(hex),
        }
    }
}

/// The heads each chain must end at: request chains keyed by their request's public id (16
/// bytes, with the request's row id), named chains by name.
#[derive(Debug, Default)]
struct Heads {
    requests: std::collections::HashMap<uuid::Uuid, (Head, i64)>,
    named: std::collections::HashMap<Box<str>, Head>,
}

/// A request chain's public id, when `chain` is exactly `request_chain(pid)`.
fn request_pid(chain: &str) -> Option<uuid::Uuid> {
    let text = chain.strip_prefix("request:")?;
    let pid = uuid::Uuid::try_parse(text).ok()?;
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    (pid.hyphenated().encode_lower(&mut buf) == text).then_some(pid)
}

impl Heads {
    /// The chain's head and, for a request's chain, the request's row id.
    fn get(&self, chain: &str) -> Option<(Head, Option<i64>)> {
        match request_pid(chain).and_then(|pid| self.requests.get(&pid)) {
            Some((head, id)) => Some((*head, Some(*id))),
            None => self.named.get(chain).map(|h| (*h, None)),
        }
    }

    fn remove(&mut self, chain: &str) -> Option<Head> {
        match request_pid(chain).and_then(|pid| self.requests.remove(&pid)) {
            Some((head, _)) => Some(head),
            None => self.named.remove(chain),
        }
    }

    /// A chain whose head says it has entries (all chains still here had none streamed).
    fn any_with_entries(&self) -> Option<(String, i64)> {
        self.requests
            .iter()
            .find(|(_, (h, _))| h.seq > 0)
            .map(|(pid, (h, _))| (request_chain(*pid), h.seq))
            .or_else(|| {
                self.named
                    .iter()
                    .find(|(_, h)| h.seq > 0)
                    .map(|(c, h)| (c.to_string(), h.seq))
            })
    }
}

/// The chain being walked.
#[derive(Debug)]
struct Current {
    chain: String,
    seq: i64,
    hash: madoguchi_domain::chain::HexHash,
    /// `Some(id)` when the chain is a request's (its entries must name that request).
    owner: Option<i64>,
    /// What checkpoints recorded about this chain: seq → hash.
    promised: std::collections::HashMap<i64, Box<str>>,
}

/// The verification's state: fed the heads, then the checkpoints, then every entry in
/// `(chain, seq)` order.
#[derive(Debug, Default)]
struct Verifier {
    summary: Summary,
    heads: Heads,
    /// Checkpointed heads not yet met, by chain.
    promised: std::collections::HashMap<Box<str>, std::collections::HashMap<i64, Box<str>>>,
    checkpoint_prev: Option<String>,
    /// Links are followed through the stored hashes; a [`Pipeline`] on another thread checks
    /// that each equals its entry's recomputed hash, so wherever it passes they are the same.
    current: Option<Current>,
    /// The last break returned by [`Verifier::entry`] is one the sequential order checks after
    /// the entry's content (so a content mismatch of the same entry wins over it).
    break_after_content: bool,
}

impl Verifier {
    fn request_head(&mut self, pid: uuid::Uuid, seq: i64, head: &str, id: i64) {
        self.summary.requests += 1;
        self.heads.requests.insert(pid, (Head::new(seq, head), id));
    }

    fn named_head(&mut self, chain: &str, seq: i64, head: &str) {
        // A named chain that is spelt like a request's replaces it, as it always has.
        if let Some(pid) = request_pid(chain) {
            self.heads.requests.remove(&pid);
        }
        self.heads.named.insert(chain.into(), Head::new(seq, head));
    }

    fn checkpoint(
        &mut self,
        seq: i64,
        at: DateTime<Utc>,
        upto_id: i64,
        heads: &str,
        prev_hash: &str,
        hash: &str,
    ) -> Result<Result<(), Break>, StoreError> {
        let expected_seq = self.summary.checkpoints as i64 + 1;
        if seq != expected_seq {
            return Ok(Err(brk(
                "checkpoints",
                expected_seq,
                format!("expected checkpoint {expected_seq}, found {seq}"),
            )));
        }
        if prev_hash != self.checkpoint_prev.as_deref().unwrap_or(GENESIS)
            || checkpoint_hash(prev_hash, seq, at, upto_id, heads) != hash
        {
            return Ok(Err(brk(
                "checkpoints",
                seq,
                "checkpoint content does not match its hash",
            )));
        }
        let list: Vec<(String, i64, String)> = serde_json::from_str(heads)
            .map_err(|e| StoreError::Corrupt(format!("checkpoint {seq}: {e}")))?;
        for (chain, head_seq, head) in list {
            if self.heads.get(&chain).is_none() {
                return Ok(Err(brk(
                    &chain,
                    head_seq,
                    format!("checkpoint {seq} recorded this chain, which is gone"),
                )));
            }
            self.promised
                .entry(chain.into())
                .or_default()
                .insert(head_seq, head.into());
        }
        self.checkpoint_prev = Some(hash.to_owned());
        self.summary.checkpoints += 1;
        Ok(Ok(()))
    }

    fn entry(&mut self, e: &StoredEntry<'_>) -> Result<(), Break> {
        self.summary.entries += 1;
        let (expect_seq, linked) = match &self.current {
            Some(c) if c.chain == e.chain => (c.seq + 1, e.prev_hash.as_bytes() == c.hash),
            _ => {
                if let Some(done) = self.current.take() {
                    self.close(done)?;
                }
                // A new chain: its owner and its checkpointed heads are looked up once.
                let owner = self.heads.get(e.chain).and_then(|(_, owner)| owner);
                self.current = Some(Current {
                    chain: e.chain.to_owned(),
                    seq: 0,
                    hash: [0; 64],
                    owner,
                    promised: self.promised.remove(e.chain).unwrap_or_default(),
                });
                (1, e.prev_hash == GENESIS)
            }
        };
        let c = self.current.as_mut().expect("set above");
        if c.owner.is_some() && e.request_id != c.owner {
            return Err(brk(e.chain, e.seq, "entry is attached to another request"));
        }
        if e.seq != expect_seq {
            return Err(brk(
                e.chain,
                expect_seq,
                format!("expected entry {expect_seq}, found {}", e.seq),
            ));
        }
        if !linked {
            return Err(brk(
                e.chain,
                e.seq,
                "prev_hash does not match the previous entry",
            ));
        }
        if let Some(h) = c.promised.remove(&e.seq)
            && *h != *e.hash
        {
            self.break_after_content = true;
            return Err(brk(
                e.chain,
                e.seq,
                "entry differs from the one a checkpoint recorded",
            ));
        }
        c.seq = e.seq;
        // A stored hash of the wrong length can only be a content mismatch, which the
        // pipeline reports at this entry, before any break the zeros cause later.
        c.hash = <[u8; 64]>::try_from(e.hash.as_bytes()).unwrap_or([0; 64]);
        Ok(())
    }

    /// Checks that a walked chain ends at its head.
    fn close(&mut self, c: Current) -> Result<(), Break> {
        if !c.promised.is_empty() {
            // Reported after every chain is walked, as a missing entry.
            self.promised.insert(c.chain.as_str().into(), c.promised);
        }
        let last =
            madoguchi_domain::chain::parse_hex(std::str::from_utf8(&c.hash).expect("hex is ASCII"));
        match self.heads.remove(&c.chain) {
            Some(h) if h.seq == c.seq && h.hash.is_some() && h.hash == last => {}
            Some(h) if h.seq == c.seq => {
                return Err(brk(
                    &c.chain,
                    c.seq,
                    "the last entry differs from the chain's head",
                ));
            }
            Some(h) => {
                return Err(brk(
                    &c.chain,
                    c.seq + 1,
                    format!("chain ends at {} but its head says {}", c.seq, h.seq),
                ));
            }
            None => return Err(brk(&c.chain, c.seq, "entries belong to no known chain")),
        }
        self.summary.chains += 1;
        Ok(())
    }

    fn finish(mut self) -> Result<Summary, Break> {
        if let Some(done) = self.current.take() {
            self.close(done)?;
        }
        if let Some((chain, seq)) = self.heads.any_with_entries() {
            return Err(brk(
                &chain,
                1,
                format!("the head says {seq} entries but none are stored"),
            ));
        }
        if let Some((chain, seq)) = self
            .promised
            .iter()
            .find_map(|(chain, p)| p.keys().next().map(|seq| (chain, *seq)))
        {
            return Err(brk(chain, seq, "an entry a checkpoint recorded is missing"));
        }
        Ok(self.summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(chain: &str, seq: i64, reason: &str) -> Break {
        brk(chain, seq, reason)
    }

    #[test]
    fn the_earliest_break_wins_whichever_thread_found_it() {
        let content = Some((5, content_break("request:a", 6)));
        let structural = Err(at("request:b", 1, "prev_hash does not match"));
        // A structural break before the mismatched entry is what the sequential walk meets
        // first; one after it, or found after all entries, loses to the mismatch.
        assert_eq!(
            Pipeline::arbitrate(structural.clone(), Some(4), false, content.clone()),
            structural
        );
        assert_eq!(
            Pipeline::arbitrate(structural.clone(), Some(6), false, content.clone()),
            Err(content_break("request:a", 6))
        );
        assert_eq!(
            Pipeline::arbitrate(structural.clone(), None, false, content.clone()),
            Err(content_break("request:a", 6))
        );
        // At the same entry: links and sequence are checked before content, a checkpoint's
        // promise after it.
        assert_eq!(
            Pipeline::arbitrate(structural.clone(), Some(5), false, content.clone()),
            structural
        );
        assert_eq!(
            Pipeline::arbitrate(structural, Some(5), true, content.clone()),
            Err(content_break("request:a", 6))
        );
        assert_eq!(
            Pipeline::arbitrate(Ok(Summary::default()), None, false, content),
            Err(content_break("request:a", 6))
        );
        assert_eq!(
            Pipeline::arbitrate(Ok(Summary::default()), None, false, None),
            Ok(Summary::default())
        );
    }
}
