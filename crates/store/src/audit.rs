//! The hash-chained audit trail.
//!
//! Every request has its own chain (`request:<id>`), whose head (sequence and hash) lives on the
//! request row: the row's version check already orders writers of one request, so appending
//! costs one extra row and no global lock. Entries not about a request (logins, settings)
//! go to named chains whose heads live in `audit_chains`. The format is specified in
//! `docs/audit.md`.

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    sea_query::Expr,
};
use sha2::{Digest, Sha256};

use crate::entities::{audit_chain, audit_checkpoint, audit_entry, request};
use crate::error::StoreError;

/// The `prev_hash` of the first entry of every chain.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

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

/// The fields an entry's hash covers, in order, as they are stored.
#[derive(Debug, Clone, Copy)]
pub struct HashInput<'a> {
    /// Chain name.
    pub chain: &'a str,
    /// Position in the chain, from 1.
    pub seq: i64,
    /// When, truncated to microseconds.
    pub at: DateTime<Utc>,
    /// Actor kind.
    pub actor_kind: &'a str,
    /// Actor id.
    pub actor_id: Option<&'a str>,
    /// Role.
    pub role: Option<&'a str>,
    /// Action.
    pub action: &'a str,
    /// Detail as stored (a JSON object).
    pub detail: &'a str,
    /// Source IP.
    pub ip: Option<&'a str>,
    /// User agent.
    pub user_agent: Option<&'a str>,
}

/// `SHA-256(prev_hash ‖ "\n" ‖ canonical JSON array of the fields)`, hex-encoded.
pub fn entry_hash(prev_hash: &str, e: &HashInput<'_>) -> String {
    // Written out by hand rather than through a `serde_json::Value`: the same bytes (compact,
    // serde_json's string escaping), without building a tree per entry — verification hashes
    // every entry in the trail.
    fn string(buf: &mut Vec<u8>, s: &str) {
        serde_json::to_writer(&mut *buf, s).expect("writing to a Vec cannot fail");
    }
    fn opt(buf: &mut Vec<u8>, s: Option<&str>) {
        match s {
            Some(s) => string(buf, s),
            None => buf.extend_from_slice(b"null"),
        }
    }
    let mut buf = Vec::with_capacity(512);
    buf.extend_from_slice(prev_hash.as_bytes());
    buf.push(b'\n');
    buf.push(b'[');
    string(&mut buf, e.chain);
    buf.push(b',');
    buf.extend_from_slice(e.seq.to_string().as_bytes());
    buf.push(b',');
    string(&mut buf, &e.at.to_rfc3339_opts(SecondsFormat::Micros, true));
    buf.push(b',');
    string(&mut buf, e.actor_kind);
    buf.push(b',');
    opt(&mut buf, e.actor_id);
    buf.push(b',');
    opt(&mut buf, e.role);
    buf.push(b',');
    string(&mut buf, e.action);
    buf.push(b',');
    string(&mut buf, e.detail);
    buf.push(b',');
    opt(&mut buf, e.ip);
    buf.push(b',');
    opt(&mut buf, e.user_agent);
    buf.push(b']');
    hex::encode(Sha256::digest(&buf))
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

/// Inserts linked rows.
pub async fn insert<C: ConnectionTrait>(
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
pub async fn append_named<C: ConnectionTrait>(
    db: &C,
    chain: &str,
    entries: &[NewEntry],
    origin: &Origin,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    for _ in 0..20 {
        let head = audit_chain::Entity::find_by_id(chain.to_owned())
            .one(db)
            .await?;
        let (seq, prev) = head
            .as_ref()
            .map_or((0, GENESIS.to_owned()), |h| (h.seq, h.head.clone()));
        let (rows, new_seq, new_head) = link(chain, None, seq, &prev, entries, origin, now);
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
            match audit_chain::Entity::insert(row).exec(db).await {
                Ok(_) => true,
                Err(e) if StoreError::from(e.clone()).is_unique_violation() => false,
                Err(e) => return Err(e.into()),
            }
        };
        if moved {
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

/// `SHA-256(prev ‖ "\n" ‖ JSON [seq, at, upto_id, heads])` for a checkpoint.
pub fn checkpoint_hash(
    prev: &str,
    seq: i64,
    at: DateTime<Utc>,
    upto_id: i64,
    heads: &str,
) -> String {
    let canonical = serde_json::json!([
        seq,
        at.to_rfc3339_opts(SecondsFormat::Micros, true),
        upto_id,
        heads
    ]);
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update(b"\n");
    h.update(canonical.to_string().as_bytes());
    hex::encode(h.finalize())
}

/// Writes the next checkpoint: the heads of every chain that moved since the last one, up to
/// entries older than a few seconds (so a transaction still committing is not skipped), linked
/// to the previous checkpoint. Several instances may try; the sequence key lets one win.
pub async fn write_checkpoint<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
) -> Result<Option<i64>, StoreError> {
    use sea_orm::QuerySelect;
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

/// Walks every chain in batches and checks each link, that every chain ends where its head
/// says, and that every head recorded by a checkpoint is still there with the same hash.
/// Detects edited, deleted, inserted, reordered and truncated entries, whole chains removed
/// (with or without their request), and edited checkpoints.
pub async fn verify<C: ConnectionTrait>(db: &C) -> Result<Result<Summary, Break>, StoreError> {
    use sea_orm::QuerySelect;
    use std::collections::HashMap;
    let mut summary = Summary::default();
    // The head each chain must end at, and which request owns it.
    let mut heads: HashMap<String, (i64, String, Option<i64>)> = HashMap::new();
    let rows: Vec<(i64, uuid::Uuid, i64, String)> = request::Entity::find()
        .select_only()
        .columns([
            request::Column::Id,
            request::Column::Pid,
            request::Column::AuditSeq,
            request::Column::AuditHead,
        ])
        .into_tuple()
        .all(db)
        .await?;
    summary.requests = rows.len() as u64;
    for (id, pid, seq, head) in rows {
        heads.insert(request_chain(pid), (seq, head, Some(id)));
    }
    for c in audit_chain::Entity::find().all(db).await? {
        heads.insert(c.chain, (c.seq, c.head, None));
    }
    // Checkpoints: their own chain, and the heads they promise.
    let mut promised: HashMap<(String, i64), String> = HashMap::new();
    let mut prev = GENESIS.to_owned();
    for (i, c) in audit_checkpoint::Entity::find()
        .order_by_asc(audit_checkpoint::Column::Seq)
        .all(db)
        .await?
        .into_iter()
        .enumerate()
    {
        let expected_seq = i as i64 + 1;
        if c.seq != expected_seq {
            return Ok(Err(brk(
                "checkpoints",
                expected_seq,
                format!("expected checkpoint {expected_seq}, found {}", c.seq),
            )));
        }
        if c.prev_hash != prev
            || checkpoint_hash(&c.prev_hash, c.seq, c.at, c.upto_id, &c.heads) != c.hash
        {
            return Ok(Err(brk(
                "checkpoints",
                c.seq,
                "checkpoint content does not match its hash",
            )));
        }
        let list: Vec<(String, i64, String)> = serde_json::from_str(&c.heads)
            .map_err(|e| StoreError::Corrupt(format!("checkpoint {}: {e}", c.seq)))?;
        for (chain, seq, hash) in list {
            if !heads.contains_key(&chain) {
                return Ok(Err(brk(
                    &chain,
                    seq,
                    format!("checkpoint {} recorded this chain, which is gone", c.seq),
                )));
            }
            promised.insert((chain, seq), hash);
        }
        prev = c.hash;
        summary.checkpoints += 1;
    }
    let mut current: Option<(String, i64, String)> = None;
    let mut cursor: Option<(String, i64)> = None;
    loop {
        let mut q = audit_entry::Entity::find()
            .order_by_asc(audit_entry::Column::Chain)
            .order_by_asc(audit_entry::Column::Seq)
            .limit(20_000);
        if let Some((chain, seq)) = &cursor {
            q = q.filter(
                sea_orm::Condition::any()
                    .add(audit_entry::Column::Chain.gt(chain.clone()))
                    .add(
                        sea_orm::Condition::all()
                            .add(audit_entry::Column::Chain.eq(chain.clone()))
                            .add(audit_entry::Column::Seq.gt(*seq)),
                    ),
            );
        }
        let batch = q.all(db).await?;
        if batch.is_empty() {
            break;
        }
        cursor = batch.last().map(|e| (e.chain.clone(), e.seq));
        for e in batch {
            let computed = stored_hash(&e);
            summary.entries += 1;
            let (expect_seq, expect_prev) = match &current {
                Some((chain, seq, hash)) if *chain == e.chain => (seq + 1, hash.clone()),
                Some((chain, seq, hash)) => {
                    if let Err(b) = close_chain(chain, *seq, hash, &mut heads) {
                        return Ok(Err(b));
                    }
                    summary.chains += 1;
                    (1, GENESIS.to_owned())
                }
                None => (1, GENESIS.to_owned()),
            };
            let owner = heads.get(&e.chain).map(|h| h.2);
            if let Some(owner) = owner
                && owner.is_some()
                && e.request_id != owner
            {
                return Ok(Err(brk(
                    &e.chain,
                    e.seq,
                    "entry is attached to another request",
                )));
            }
            if e.seq != expect_seq {
                return Ok(Err(brk(
                    &e.chain,
                    expect_seq,
                    format!("expected entry {expect_seq}, found {}", e.seq),
                )));
            }
            if e.prev_hash != expect_prev {
                return Ok(Err(brk(
                    &e.chain,
                    e.seq,
                    "prev_hash does not match the previous entry",
                )));
            }
            if computed != e.hash {
                return Ok(Err(brk(
                    &e.chain,
                    e.seq,
                    "entry content does not match its hash",
                )));
            }
            if let Some(h) = promised.remove(&(e.chain.clone(), e.seq))
                && h != e.hash
            {
                return Ok(Err(brk(
                    &e.chain,
                    e.seq,
                    "entry differs from the one a checkpoint recorded",
                )));
            }
            current = Some((e.chain, e.seq, e.hash));
        }
    }
    if let Some((chain, seq, hash)) = current {
        if let Err(b) = close_chain(&chain, seq, &hash, &mut heads) {
            return Ok(Err(b));
        }
        summary.chains += 1;
    }
    if let Some((chain, (seq, _, _))) = heads.into_iter().find(|(_, (seq, _, _))| *seq > 0) {
        return Ok(Err(brk(
            &chain,
            1,
            format!("the head says {seq} entries but none are stored"),
        )));
    }
    if let Some(((chain, seq), _)) = promised.into_iter().next() {
        return Ok(Err(brk(
            &chain,
            seq,
            "an entry a checkpoint recorded is missing",
        )));
    }
    Ok(Ok(summary))
}

fn close_chain(
    chain: &str,
    seq: i64,
    hash: &str,
    heads: &mut std::collections::HashMap<String, (i64, String, Option<i64>)>,
) -> Result<(), Break> {
    match heads.remove(chain) {
        Some((hs, hh, _)) if hs == seq && hh == hash => Ok(()),
        Some((hs, _, _)) if hs == seq => Err(brk(
            chain,
            seq,
            "the last entry differs from the chain's head",
        )),
        Some((hs, _, _)) => Err(brk(
            chain,
            seq + 1,
            format!("chain ends at {seq} but its head says {hs}"),
        )),
        None => Err(brk(chain, seq, "entries belong to no known chain")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_hand_written_canonical_form_is_serde_json_compact() {
        let at = Utc.with_ymd_and_hms(2026, 11, 22, 3, 4, 5).unwrap();
        let e = HashInput {
            chain: "request:x",
            seq: 7,
            at,
            actor_kind: "staff",
            actor_id: Some("ｏ\"1\\\n"),
            role: None,
            action: "data.viewed",
            detail: "{\"target\":\"詳細\"}",
            ip: Some("127.0.0.1"),
            user_agent: None,
        };
        let canonical = serde_json::json!([
            e.chain,
            e.seq,
            at.to_rfc3339_opts(SecondsFormat::Micros, true),
            e.actor_kind,
            e.actor_id,
            e.role,
            e.action,
            e.detail,
            e.ip,
            e.user_agent,
        ]);
        let mut h = Sha256::new();
        h.update(b"prev");
        h.update(b"\n");
        h.update(canonical.to_string().as_bytes());
        assert_eq!(entry_hash("prev", &e), hex::encode(h.finalize()));
    }
}
