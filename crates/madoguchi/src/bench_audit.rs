//! Generated audit chains for the verification benchmark: valid links, real hashes, inserted
//! in bulk under named chains with their heads.

use chrono::Utc;
use madoguchi_store::Db;
use madoguchi_store::audit::{self, NewEntry, Origin};
use madoguchi_store::entities::audit_chain;
use madoguchi_store::sea_orm::{ActiveValue::Set, EntityTrait};

/// Adds about `entries` entries in chains of ten.
pub async fn seed(db: &Db, entries: u64) -> anyhow::Result<()> {
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
