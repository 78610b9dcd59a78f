//! Versions of the data map: each accepted file, newest last, with its hash and who installed
//! it (the `datamap.changed` entry is written in the same transaction).

use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::audit::{NewEntry, Origin};
use crate::entities::datamap_version;
use crate::{Db, StoreError};

/// The chain the map's changes are recorded on.
pub const CHAIN: &str = "datamap";

/// The map in force: the newest version.
pub async fn current<C: ConnectionTrait>(
    db: &C,
) -> Result<Option<datamap_version::Model>, StoreError> {
    Ok(datamap_version::Entity::find()
        .order_by_desc(datamap_version::Column::Id)
        .one(db)
        .await?)
}

/// A version by its hash (the newest row of it).
pub async fn by_hash<C: ConnectionTrait>(
    db: &C,
    hash: &str,
) -> Result<Option<datamap_version::Model>, StoreError> {
    Ok(datamap_version::Entity::find()
        .filter(datamap_version::Column::Hash.eq(hash))
        .order_by_desc(datamap_version::Column::Id)
        .one(db)
        .await?)
}

/// The versions, newest first, without their source.
pub async fn history<C: ConnectionTrait>(
    db: &C,
    limit: u64,
) -> Result<Vec<datamap_version::Model>, StoreError> {
    Ok(datamap_version::Entity::find()
        .select_only()
        .columns([
            datamap_version::Column::Id,
            datamap_version::Column::Hash,
            datamap_version::Column::Label,
            datamap_version::Column::CreatedAt,
            datamap_version::Column::CreatedBy,
        ])
        .column_as(sea_orm::sea_query::Expr::val(""), "source")
        .order_by_desc(datamap_version::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

/// Installs a checked map: a new version row and its audit entry in one transaction, unless
/// the map in force already has this hash (then nothing is written). Returns whether a
/// version was added.
#[expect(
    clippy::too_many_arguments,
    reason = "the version and its entry, one transaction"
)]
pub async fn install(
    db: &Db,
    hash: &str,
    label: &str,
    source: &str,
    by: Option<&str>,
    entry: NewEntry,
    origin: &Origin,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let tx = db.begin_write().await?;
    if current(&tx).await?.is_some_and(|c| c.hash == hash) {
        return Ok(false);
    }
    datamap_version::Entity::insert(datamap_version::ActiveModel {
        hash: Set(hash.to_owned()),
        label: Set(label.chars().take(100).collect()),
        source: Set(source.to_owned()),
        created_at: Set(now.trunc_subsecs(6)),
        created_by: Set(by.map(str::to_owned)),
        ..Default::default()
    })
    .exec(&tx)
    .await?;
    crate::change::record_office(&tx, CHAIN, &[entry], origin, now).await?;
    tx.commit().await?;
    Ok(true)
}
