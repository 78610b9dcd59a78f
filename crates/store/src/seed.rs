//! Bulk seeding for tests and benchmarks: many requests in few statements, without going
//! through HTTP. Rows are real requests (filed by the domain) with empty audit chains.

use chrono::{DateTime, Duration, Utc};
use madoguchi_domain::{self as domain, FeeSchedule, Policy, RequestKind, State};
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};
use uuid::Uuid;

use crate::audit::{self, NewEntry, Origin};
use crate::entities::{audit_chain, request};
use crate::error::StoreError;
use crate::requests::lifecycle_columns;
use crate::sealed::RowCipher;

/// Inserts `n` requests numbered from `first`, spread over kinds, states and due dates (some
/// overdue), in batches inside the caller's connection or transaction.
pub async fn requests<C: ConnectionTrait>(
    db: &C,
    cipher: &RowCipher,
    first: u64,
    n: u64,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let fees = FeeSchedule::default();
    let mut batch = Vec::with_capacity(500);
    for i in first..first + n {
        let kind = RequestKind::ALL[(i % 6) as usize];
        let arrived = now - Duration::days((i % 40) as i64);
        let mut r = domain::Request::file(kind, Policy::appi(), &fees, arrived).next;
        r.state = [
            State::IdentityReview,
            State::InProgress,
            State::AwaitingPayment,
            State::Fulfilled,
            State::Submitted,
        ][(i % 5) as usize];
        if r.state.is_terminal() {
            r.closed_at = Some(arrived + Duration::days((i % 13) as i64 + 1));
        }
        r.paused_since = None;
        // Seeded rows are a fixed population: no timer may expire them under a test.
        r.expires_at = None;
        let mut am = request::ActiveModel {
            pid: Set(Uuid::new_v4()),
            number: Set(format!("R-2026-{i:07}")),
            version: Set(1),
            lang: Set("ja".into()),
            channel: Set("web".into()),
            requester: Set("subject".into()),
            subject_name: Set(format!("試験 {i}")),
            subject_kana: Set("シケン".into()),
            email: Set(format!("seed{i}@example.jp")),
            email_norm: Set(cipher.email_index(&format!("seed{i}@example.jp"))),
            phone: Set(None),
            postal_address: Set(None),
            delivery: Set(kind.is_disclosure().then(|| "electronic".to_owned())),
            ground: Set(None),
            details: Set("seeded".into()),
            current_content: Set(None),
            correct_content: Set(None),
            agent: Set(None),
            subject_message: Set(None),
            subject_reply: Set(None),
            assignee_id: Set(None),
            duplicate_of: Set(None),
            audit_seq: Set(0),
            audit_head: Set(crate::audit::GENESIS.to_owned()),
            created_at: Set(arrived),
            updated_at: Set(arrived),
            ..Default::default()
        };
        lifecycle_columns(&r, &mut am);
        // Sealed as real rows are, so the queue and its search cost what they do in use.
        cipher.seal_request(&mut am);
        batch.push(am);
        if batch.len() == 500 {
            request::Entity::insert_many(std::mem::take(&mut batch))
                .exec(db)
                .await?;
        }
    }
    if !batch.is_empty() {
        request::Entity::insert_many(batch).exec(db).await?;
    }
    Ok(())
}

/// Generated audit chains for the verification benchmark: valid links, real hashes, inserted
/// in bulk under named chains with their heads. Adds about `entries` entries in chains of ten.
pub async fn audit_chains(db: &crate::Db, entries: u64) -> Result<(), StoreError> {
    let chains = entries / 10;
    let entry = NewEntry {
        actor_kind: "staff".into(),
        actor_id: Some("bench".into()),
        role: Some("officer".into()),
        action: "data.viewed".into(),
        detail: vec![("target".into(), "details".into())],
    };
    let ten = vec![entry; 10];
    let origin = Origin {
        ip: Some("127.0.0.1".into()),
        user_agent: Some("bench".into()),
    };
    let mut rows = Vec::new();
    let mut heads = Vec::new();
    for c in 0..chains {
        let chain = format!("bench:{c:08}");
        let (linked, seq, head) =
            audit::link(&chain, None, 0, audit::GENESIS, &ten, &origin, Utc::now());
        rows.extend(linked);
        heads.push(audit_chain::ActiveModel {
            chain: Set(chain),
            seq: Set(seq),
            head: Set(head),
        });
        if rows.len() >= 2000 {
            let tx = db.begin_write().await?;
            for chunk in std::mem::take(&mut rows).chunks(1000) {
                audit::insert(&tx, chunk.to_vec()).await?;
            }
            for chunk in std::mem::take(&mut heads).chunks(1000) {
                audit_chain::Entity::insert_many(chunk.to_vec())
                    .exec(&tx)
                    .await?;
            }
            tx.commit().await?;
        }
    }
    let tx = db.begin_write().await?;
    if !rows.is_empty() {
        audit::insert(&tx, rows).await?;
    }
    if !heads.is_empty() {
        audit_chain::Entity::insert_many(heads).exec(&tx).await?;
    }
    tx.commit().await?;
    Ok(())
}
