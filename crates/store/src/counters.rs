//! Named counters (`counters` table): the yearly numbers of incidents and complaints. Bumped
//! in the caller's transaction, so two officers (or two people) at once wait on the row and
//! get consecutive numbers, where counting rows would give both the same one.

use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};

use crate::StoreError;

/// The counter's next value (1 for a counter not yet used).
pub(crate) async fn bump<C: ConnectionTrait>(tx: &C, name: &str) -> Result<i64, StoreError> {
    let backend = tx.get_database_backend();
    let sql = match backend {
        DatabaseBackend::Postgres => {
            "INSERT INTO counters (name, value) VALUES ($1, 1) ON CONFLICT (name) \
             DO UPDATE SET value = counters.value + 1 RETURNING value AS n"
        }
        _ => {
            "INSERT INTO counters (name, value) VALUES (?, 1) ON CONFLICT (name) \
             DO UPDATE SET value = counters.value + 1 RETURNING value AS n"
        }
    };
    let row = tx
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [name.to_owned().into()],
        ))
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("counter {name}")))?;
    Ok(row.try_get("", "n")?)
}
