//! The hash-chained audit trail.
//!
//! Every request has its own chain (`request:<id>`), whose head (sequence and hash) lives on the
//! request row: the row's version check already orders writers of one request, so appending
//! costs one extra row and no global lock. Entries not about a request (logins, settings)
//! go to named chains whose heads live in `audit_chains`. The format is specified in
//! `docs/audit.md`.

use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, sea_query::Expr,
};

use sea_orm::sqlx::Row as _;

use crate::entities::{audit_chain, audit_checkpoint, audit_entry};
use crate::error::StoreError;

/// The canonical form and its hashes are pure and live in the domain crate, where the
/// benchmarks and an independent verifier can use them without a database.
pub use madoguchi_domain::chain::{GENESIS, HashInput, checkpoint_hash, entry_hash};

/// Where an action came from, for the trail's "from where" column.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    /// Client IP address, as seen by the server (or the trusted proxy's header).
    pub ip: Option<String>,
    /// The User-Agent header, truncated.
    pub user_agent: Option<String>,
}

/// An entry before it is placed in a chain.
#[derive(Debug, Clone)]
pub struct NewEntry {
    /// `subject`, `staff`, `system` or `webhook`.
    pub actor_kind: String,
    /// The staff member's public id, when there is one.
    pub actor_id: Option<String>,
    /// The staff role at the time.
    pub role: Option<String>,
    /// Dotted action name.
    pub action: String,
    /// Small structured facts; never personal data.
    pub detail: Vec<(String, String)>,
}

/// The chain a request's entries belong to, named by its public id (known before the row is
/// inserted, so intake links its first entry without a second write).
pub fn request_chain(pid: uuid::Uuid) -> String {
    format!("request:{pid}")
}

/// Recomputes the hash of a stored entry.
pub fn stored_hash(m: &audit_entry::Model) -> String {
    entry_hash(
        &m.prev_hash,
        &HashInput {
            chain: &m.chain,
            seq: m.seq,
            at: m.at,
            actor_kind: &m.actor_kind,
            actor_id: m.actor_id.as_deref(),
            role: m.role.as_deref(),
            action: &m.action,
            detail: &m.detail,
            ip: m.ip.as_deref(),
            user_agent: m.user_agent.as_deref(),
        },
    )
}

fn detail_json(detail: &[(String, String)]) -> String {
    let map: serde_json::Map<String, serde_json::Value> = detail
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    serde_json::Value::Object(map).to_string()
}

/// Links `entries` onto a chain whose head is `(seq, head)`. Returns the rows and the new head.
pub fn link(
    chain: &str,
    request_id: Option<i64>,
    seq: i64,
    head: &str,
    entries: &[NewEntry],
    origin: &Origin,
    now: DateTime<Utc>,
) -> (Vec<audit_entry::ActiveModel>, i64, String) {
    let at = now.trunc_subsecs(6);
    let mut rows = Vec::with_capacity(entries.len());
    let mut seq = seq;
    let mut prev = head.to_owned();
    for e in entries {
        seq += 1;
        let detail = detail_json(&e.detail);
        let hash = entry_hash(
            &prev,
            &HashInput {
                chain,
                seq,
                at,
                actor_kind: &e.actor_kind,
                actor_id: e.actor_id.as_deref(),
                role: e.role.as_deref(),
                action: &e.action,
                detail: &detail,
                ip: origin.ip.as_deref(),
                user_agent: origin.user_agent.as_deref(),
            },
        );
        rows.push(audit_entry::ActiveModel {
            chain: Set(chain.to_owned()),
            seq: Set(seq),
            request_id: Set(request_id),
            at: Set(at),
            actor_kind: Set(e.actor_kind.clone()),
            actor_id: Set(e.actor_id.clone()),
            role: Set(e.role.clone()),
            action: Set(e.action.clone()),
            detail: Set(detail),
            ip: Set(origin.ip.clone()),
            user_agent: Set(origin.user_agent.clone()),
            prev_hash: Set(prev.clone()),
            hash: Set(hash.clone()),
            ..Default::default()
        });
        prev = hash;
    }
    (rows, seq, prev)
}

/// The insert of linked rows, for a change's [`crate::batch::Batch`]; none for no rows.
pub(crate) fn insert_statement(
    rows: Vec<audit_entry::ActiveModel>,
) -> Option<sea_orm::sea_query::InsertStatement> {
    use sea_orm::QueryTrait;
    (!rows.is_empty()).then(|| audit_entry::Entity::insert_many(rows).into_query())
}

/// Inserts linked rows.
pub(crate) async fn insert<C: ConnectionTrait>(
    db: &C,
    rows: Vec<audit_entry::ActiveModel>,
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    audit_entry::Entity::insert_many(rows).exec(db).await?;
    Ok(())
}

/// Appends entries to a named chain (not a request's). The head row is updated with a compare
/// on its sequence, so two writers of the same chain cannot fork it; the loser retries.
pub(crate) async fn append_named<C: ConnectionTrait>(
    db: &C,
    chain: &str,
    entries: &[NewEntry],
    origin: &Origin,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    append_named_for(db, chain, entries, &[], origin, now).await
}

/// [`append_named`], with the request each entry is about (`requests[i]` for `entries[i]`;
/// missing ones are `None`), so the auditor's per-request filter finds entries of a named
/// chain too. The request id is not part of the hash: the chain is what is proven, and the
/// entry's detail names the request where that matters.
pub(crate) async fn append_named_for<C: ConnectionTrait>(
    db: &C,
    chain: &str,
    entries: &[NewEntry],
    requests: &[Option<i64>],
    origin: &Origin,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    for _ in 0..20 {
        // Inside a transaction on PostgreSQL the head row stays locked until commit, so
        // concurrent appenders queue instead of racing (SQLite's write transaction already
        // serialises them; the lock clause is not written for SQLite).
        let head = audit_chain::Entity::find_by_id(chain.to_owned())
            .lock_exclusive()
            .one(db)
            .await?;
        let (seq, prev) = head
            .as_ref()
            .map_or((0, GENESIS.to_owned()), |h| (h.seq, h.head.clone()));
        let (mut rows, new_seq, new_head) = link(chain, None, seq, &prev, entries, origin, now);
        let moved = if head.is_some() {
            audit_chain::Entity::update_many()
                .col_expr(audit_chain::Column::Seq, Expr::value(new_seq))
                .col_expr(audit_chain::Column::Head, Expr::value(new_head.clone()))
                .filter(audit_chain::Column::Chain.eq(chain))
                .filter(audit_chain::Column::Seq.eq(seq))
                .exec(db)
                .await?
                .rows_affected
                == 1
        } else {
            let row = audit_chain::ActiveModel {
                chain: Set(chain.to_owned()),
                seq: Set(new_seq),
                head: Set(new_head.clone()),
            };
            // `DO NOTHING` rather than catching the unique violation: inside a PostgreSQL
            // transaction a failed statement would abort the caller's whole transaction.
            match audit_chain::Entity::insert(row)
                .on_conflict(
                    sea_orm::sea_query::OnConflict::column(audit_chain::Column::Chain)
                        .do_nothing()
                        .to_owned(),
                )
                .exec(db)
                .await
            {
                Ok(_) => true,
                Err(sea_orm::DbErr::RecordNotInserted) => false,
                Err(e) => return Err(e.into()),
            }
        };
        if moved {
            for (row, request) in rows.iter_mut().zip(requests) {
                row.request_id = Set(*request);
            }
            return insert(db, rows).await;
        }
    }
    Err(StoreError::Conflict)
}

/// A request's entries, oldest first.
pub async fn for_request<C: ConnectionTrait>(
    db: &C,
    pid: uuid::Uuid,
) -> Result<Vec<audit_entry::Model>, StoreError> {
    Ok(audit_entry::Entity::find()
        .filter(audit_entry::Column::Chain.eq(request_chain(pid)))
        .order_by_asc(audit_entry::Column::Seq)
        .all(db)
        .await?)
}

/// The first problem found by [`verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Break {
    /// The chain (or `checkpoints`).
    pub chain: String,
    /// The position where the chain breaks.
    pub seq: i64,
    /// What is wrong there.
    pub reason: String,
}

/// What [`verify`] checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Entries whose hash was recomputed.
    pub entries: u64,
    /// Chains walked.
    pub chains: u64,
    /// Requests whose chains were checked against their heads.
    pub requests: u64,
    /// Checkpoints verified.
    pub checkpoints: u64,
}

fn brk(chain: &str, seq: i64, reason: impl Into<String>) -> Break {
    Break {
        chain: chain.to_owned(),
        seq,
        reason: reason.into(),
    }
}

/// Writes the next checkpoint: the heads of every chain that moved since the last one, up to
/// entries older than a few seconds (so a transaction still committing is not skipped), linked
/// to the previous checkpoint. Several instances may try; the sequence key lets one win.
pub async fn write_checkpoint<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
) -> Result<Option<i64>, StoreError> {
    let last = audit_checkpoint::Entity::find()
        .order_by_desc(audit_checkpoint::Column::Seq)
        .one(db)
        .await?;
    let (last_seq, prev, watermark) =
        last.map_or((0, GENESIS.to_owned(), 0), |c| (c.seq, c.hash, c.upto_id));
    let settled = now - chrono::Duration::seconds(5);
    let upto: Option<i64> = audit_entry::Entity::find()
        .select_only()
        .column_as(audit_entry::Column::Id.max(), "m")
        .filter(audit_entry::Column::At.lte(settled))
        .into_tuple::<Option<i64>>()
        .one(db)
        .await?
        .flatten();
    let Some(upto) = upto.filter(|u| *u > watermark) else {
        return Ok(None);
    };
    let moved: Vec<(String, i64)> = audit_entry::Entity::find()
        .select_only()
        .column(audit_entry::Column::Chain)
        .column_as(audit_entry::Column::Seq.max(), "s")
        .filter(audit_entry::Column::Id.gt(watermark))
        .filter(audit_entry::Column::Id.lte(upto))
        .group_by(audit_entry::Column::Chain)
        .into_tuple()
        .all(db)
        .await?;
    let mut heads = Vec::with_capacity(moved.len());
    for (chain, seq) in moved {
        let e = audit_entry::Entity::find()
            .filter(audit_entry::Column::Chain.eq(chain.clone()))
            .filter(audit_entry::Column::Seq.eq(seq))
            .one(db)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("{chain} lost entry {seq}")))?;
        heads.push(serde_json::json!([chain, seq, e.hash]));
    }
    heads.sort_by(|a, b| a[0].as_str().cmp(&b[0].as_str()));
    let heads = serde_json::Value::Array(heads).to_string();
    let seq = last_seq + 1;
    let at = now.trunc_subsecs(6);
    let row = audit_checkpoint::ActiveModel {
        seq: Set(seq),
        at: Set(at),
        upto_id: Set(upto),
        heads: Set(heads.clone()),
        prev_hash: Set(prev.clone()),
        hash: Set(checkpoint_hash(&prev, seq, at, upto, &heads)),
    };
    match audit_checkpoint::Entity::insert(row).exec(db).await {
        Ok(_) => Ok(Some(seq)),
        Err(e) if StoreError::from(e.clone()).is_unique_violation() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The latest checkpoint's hash, to anchor outside the system (print it, mail it to the DPO).
pub async fn latest_checkpoint<C: ConnectionTrait>(
    db: &C,
) -> Result<Option<audit_checkpoint::Model>, StoreError> {
    Ok(audit_checkpoint::Entity::find()
        .order_by_desc(audit_checkpoint::Column::Seq)
        .one(db)
        .await?)
}

mod verify;
pub use verify::verify;
