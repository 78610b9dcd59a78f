//! Erasing a subject's rows in the business's SQL systems, as the map's erasure plan says
//! (`madoguchi_datamap::plan`): rows deleted, fields cleared or masked, retained fields left
//! with their basis.
//!
//! Rows are found again with the finders and the key values gathered before (not read
//! afresh: once a member is deleted, their orders could no longer be found through them).
//! Each system changes in one transaction; for each dataset the rows matching now must be the
//! rows gathered (a mismatch aborts the whole system: the data changed, gather again), and the
//! statement must change exactly them. After the commit the same lookups run again and must
//! find nothing that should be gone. A job resumed after a crash that finds nothing left
//! counts the dataset as done, so nothing is done twice.

use std::collections::BTreeMap;

use madoguchi_datamap::plan::{MASK, RowAction, erasure_all};
use madoguchi_datamap::{ConnectorKind, DataMap, Dataset};
use serde::{Deserialize, Serialize};

use crate::{
    Access, ConnectorError, Driver, Env, Pool, Rows, Subject, anchored, column_types,
    conditions_sql, finder_values, fits, pooled, quote, table_of,
};

/// What erasing did in one dataset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Erased {
    /// The dataset's id.
    pub dataset: String,
    /// What happened to the subject's rows.
    pub done: Done,
    /// How many rows.
    pub rows: u64,
    /// Fields kept, with the law or rule they are kept under.
    pub retained: Vec<(String, String)>,
}

/// What happened to a dataset's rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Done {
    /// The rows were deleted.
    Deleted,
    /// Fields of the rows were cleared or masked; the rows stay.
    Cleared,
    /// Kept as they are (every field retained).
    Kept,
    /// There were no rows to erase.
    NoRows,
}

/// One dataset's change: the statement's `WHERE` and its values, and the rows expected.
struct Change<'m> {
    dataset: &'m Dataset,
    action: RowAction,
    retained: Vec<(String, String)>,
    filter: String,
    values: Vec<String>,
    expected: u64,
}

/// Erases the subject's rows in one SQL system. `found` holds what was gathered for them in
/// every system (the keys rows are found by). `resumed`: a later try of a job that may have
/// committed already.
pub async fn erase_system(
    map: &DataMap,
    system_id: &str,
    subject: &Subject,
    found: &BTreeMap<String, Rows>,
    resumed: bool,
    env: Env<'_>,
) -> Result<Vec<Erased>, ConnectorError> {
    let system = map
        .system(system_id)
        .ok_or_else(|| ConnectorError::NotReadable(system_id.to_owned()))?;
    if !system.connector.kind.is_sql() || system.connector.kind == ConnectorKind::Http {
        return Err(ConnectorError::NotReadable(system_id.to_owned()));
    }
    let pool = pooled(system, env, Access::Write).await?;
    let mut out = Vec::new();
    let mut changes = Vec::new();
    for plan in erasure_all(map)
        .into_iter()
        .filter(|p| p.system == system_id)
    {
        let Some(d) = map.dataset(&plan.dataset) else {
            continue;
        };
        let expected = found.get(&plan.dataset).map_or(0, |r| r.rows.len()) as u64;
        if plan.action == RowAction::Keep || expected == 0 {
            out.push(Erased {
                dataset: plan.dataset.clone(),
                done: if expected == 0 {
                    Done::NoRows
                } else {
                    Done::Kept
                },
                rows: expected,
                retained: plan.retained.clone(),
            });
            continue;
        }
        let types = column_types(&pool, system, d).await?;
        let mut n = 0;
        let Some((filter, values)) = finder_filter(&pool, d, subject, found, &types, &mut n) else {
            return Err(ConnectorError::Query {
                dataset: plan.dataset.clone(),
                reason: "its rows cannot be found again (no finder has its keys)".into(),
            });
        };
        changes.push(Change {
            dataset: d,
            action: plan.action.clone(),
            retained: plan.retained.clone(),
            filter,
            values,
            expected,
        });
    }
    out.extend(apply(&pool, system_id, &changes, resumed).await?);
    verify(&pool, &changes).await?;
    Ok(out)
}

/// The `WHERE` that finds a dataset's gathered rows again: each anchored finder with the
/// gathered key values (those that fit their columns) as one parenthesised clause, joined
/// by `OR`, and the values in order; `None` when no finder has its keys. `n` counts the
/// placeholders used.
fn finder_filter(
    pool: &Pool,
    d: &Dataset,
    subject: &Subject,
    found: &BTreeMap<String, Rows>,
    types: &BTreeMap<String, String>,
    n: &mut usize,
) -> Option<(String, Vec<String>)> {
    let mut clauses = Vec::new();
    let mut values = Vec::new();
    for finder in d.find_by.iter().filter(|f| anchored(f)) {
        let Some(conditions) = finder_values(finder, subject, found) else {
            continue;
        };
        let conditions: Vec<(String, Vec<String>)> = conditions
            .into_iter()
            .map(|(c, v)| {
                let column = c.field.get_ref().clone();
                let v = v.into_iter().filter(|x| fits(types, &column, x)).collect();
                (column, v)
            })
            .collect();
        if conditions.iter().any(|(_, v)| v.is_empty()) {
            continue;
        }
        let shape: Vec<(String, usize)> = conditions
            .iter()
            .map(|(c, v)| (c.clone(), v.len()))
            .collect();
        clauses.push(format!("({})", conditions_sql(pool, &shape, types, n)));
        values.extend(conditions.into_iter().flat_map(|(_, v)| v));
    }
    (!clauses.is_empty()).then(|| (clauses.join(" OR "), values))
}

/// `UPDATE … SET` for the cleared and masked fields.
fn set_clause(pool: &Pool, clear: &[String], mask: &[String]) -> String {
    clear
        .iter()
        .map(|f| format!("{} = NULL", quote(pool, f)))
        .chain(
            mask.iter()
                .map(|f| format!("{} = '{MASK}'", quote(pool, f))),
        )
        .collect::<Vec<_>>()
        .join(", ")
}

macro_rules! in_transaction {
    ($p:expr, $pool:expr, $system:expr, $changes:expr, $resumed:expr) => {{
        let failed = |e: sqlx::Error| crate::refused($system, &e);
        let mut tx = $p.begin().await.map_err(failed)?;
        let mut out = Vec::new();
        for c in $changes {
            let table = quote($pool, &table_of(c.dataset));
            let count_sql = format!("SELECT COUNT(*) FROM {table} WHERE {}", c.filter);
            let mut q = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(count_sql));
            for v in &c.values {
                q = q.bind(v.clone());
            }
            let now = u64::try_from(q.fetch_one(&mut *tx).await.map_err(failed)?).unwrap_or(0);
            let done = match &c.action {
                RowAction::Delete => Done::Deleted,
                _ => Done::Cleared,
            };
            if now == 0 && $resumed {
                // Done by the try that crashed before it could say so.
                out.push(Erased {
                    dataset: c.dataset.id.get_ref().clone(),
                    done,
                    rows: c.expected,
                    retained: c.retained.clone(),
                });
                continue;
            }
            if now != c.expected {
                return Err(ConnectorError::Query {
                    dataset: c.dataset.id.get_ref().clone(),
                    reason: format!(
                        "{now} rows match now where {} were gathered; nothing was changed in this system (gather again)",
                        c.expected
                    ),
                });
            }
            let sql = match &c.action {
                RowAction::Delete => format!("DELETE FROM {table} WHERE {}", c.filter),
                RowAction::Update { clear, mask } => format!(
                    "UPDATE {table} SET {} WHERE {}",
                    set_clause($pool, clear, mask),
                    c.filter
                ),
                RowAction::Keep => continue,
            };
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for v in &c.values {
                q = q.bind(v.clone());
            }
            let changed = q.execute(&mut *tx).await.map_err(failed)?.rows_affected();
            if changed != now {
                return Err(ConnectorError::Query {
                    dataset: c.dataset.id.get_ref().clone(),
                    reason: format!(
                        "{changed} rows changed where {now} were expected; nothing was changed in this system"
                    ),
                });
            }
            out.push(Erased {
                dataset: c.dataset.id.get_ref().clone(),
                done,
                rows: changed,
                retained: c.retained.clone(),
            });
        }
        tx.commit().await.map_err(failed)?;
        Ok(out)
    }};
}

/// Changes every dataset of the system in one transaction, or none.
async fn apply(
    pool: &Pool,
    system: &str,
    changes: &[Change<'_>],
    resumed: bool,
) -> Result<Vec<Erased>, ConnectorError> {
    match &pool.driver {
        Driver::Postgres(p) => in_transaction!(p, pool, system, changes, resumed),
        Driver::Mysql(p) => in_transaction!(p, pool, system, changes, resumed),
        Driver::Sqlite(p) => in_transaction!(p, pool, system, changes, resumed),
        Driver::Http(_) => Err(ConnectorError::NotReadable(system.to_owned())),
    }
}

/// After the commit: the same lookups find no row that should be gone, and no kept row with
/// a field that should be cleared or masked.
async fn verify(pool: &Pool, changes: &[Change<'_>]) -> Result<(), ConnectorError> {
    for c in changes {
        let table = quote(pool, &table_of(c.dataset));
        let leftover = match &c.action {
            RowAction::Delete => String::new(),
            RowAction::Update { clear, mask } => {
                let not_done: Vec<String> = clear
                    .iter()
                    .map(|f| format!("{} IS NOT NULL", quote(pool, f)))
                    .chain(mask.iter().map(|f| {
                        let col = quote(pool, f);
                        format!("({col} IS NULL OR {col} <> '{MASK}')")
                    }))
                    .collect();
                format!(" AND ({})", not_done.join(" OR "))
            }
            RowAction::Keep => continue,
        };
        let sql = format!(
            "SELECT COUNT(*) FROM {table} WHERE ({}){leftover}",
            c.filter
        );
        macro_rules! count {
            ($p:expr) => {{
                let mut q = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.clone()));
                for v in &c.values {
                    q = q.bind(v.clone());
                }
                q.fetch_one($p).await
            }};
        }
        let left = match &pool.driver {
            Driver::Postgres(p) => count!(p),
            Driver::Mysql(p) => count!(p),
            Driver::Sqlite(p) => count!(p),
            Driver::Http(_) => Ok(0),
        }
        .map_err(|e| ConnectorError::Query {
            dataset: c.dataset.id.get_ref().clone(),
            reason: format!(
                "the check after erasing failed ({})",
                e.to_string().chars().take(200).collect::<String>()
            ),
        })?;
        if left != 0 {
            return Err(ConnectorError::Query {
                dataset: c.dataset.id.get_ref().clone(),
                reason: format!("{left} rows still hold what was erased"),
            });
        }
    }
    Ok(())
}

/// What correcting did in one dataset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Corrected {
    /// The dataset's id.
    pub dataset: String,
    /// The fields corrected.
    pub fields: Vec<String>,
    /// Rows corrected.
    pub rows: u64,
}

/// Corrects the subject's rows of one dataset in its SQL system: every field in `values`
/// set to its new value, on exactly the rows gathered (found again with the gathered keys),
/// in one transaction with the same count check as an erasure. A resumed try sets the same
/// values again, or, when the corrected field was what found the rows and nothing matches any
/// more, counts the crashed try's commit as done.
pub async fn correct_dataset(
    map: &DataMap,
    dataset_id: &str,
    subject: &Subject,
    found: &BTreeMap<String, Rows>,
    values: &[(String, String)],
    resumed: bool,
    env: Env<'_>,
) -> Result<Corrected, ConnectorError> {
    let d = map
        .dataset(dataset_id)
        .ok_or_else(|| ConnectorError::NotReadable(dataset_id.to_owned()))?;
    let system = map
        .system(d.system.get_ref())
        .ok_or_else(|| ConnectorError::NotReadable(d.system.get_ref().clone()))?;
    if !system.connector.kind.is_sql() {
        return Err(ConnectorError::NotReadable(system.id.get_ref().clone()));
    }
    let pool = pooled(system, env, Access::Write).await?;
    let types = column_types(&pool, system, d).await?;
    if let Some((field, _)) = values.iter().find(|(f, v)| !fits(&types, f, v)) {
        return Err(ConnectorError::Query {
            dataset: dataset_id.to_owned(),
            reason: format!("the new value of {field} does not fit its column's type"),
        });
    }
    let expected = found.get(dataset_id).map_or(0, |r| r.rows.len()) as u64;
    let mut n = 0;
    let filter = finder_filter(&pool, d, subject, found, &types, &mut n);
    let Some((filter, filter_values)) = filter.filter(|_| expected > 0) else {
        return Err(ConnectorError::Query {
            dataset: dataset_id.to_owned(),
            reason: "no gathered rows to correct".into(),
        });
    };
    // `SET a = ?, b = ?`: on PostgreSQL numbered after the filter's values and cast to the
    // column's type; elsewhere bound first (they come first in the statement).
    let set: Vec<String> = values
        .iter()
        .map(|(field, _)| {
            let col = quote(&pool, field);
            match &pool.driver {
                Driver::Postgres(_) => {
                    n += 1;
                    match types.get(field).filter(|t| crate::castable(t)) {
                        Some(t) => format!("{col} = ${n}::{t}"),
                        None => format!("{col} = ${n}"),
                    }
                }
                _ => format!("{col} = ?"),
            }
        })
        .collect();
    let table = quote(&pool, &table_of(d));
    let update = format!("UPDATE {table} SET {} WHERE {filter}", set.join(", "));
    let count_sql = format!("SELECT COUNT(*) FROM {table} WHERE {filter}");
    let new_values: Vec<String> = values.iter().map(|(_, v)| v.clone()).collect();
    let ordered: Vec<String> = match &pool.driver {
        Driver::Postgres(_) => filter_values.iter().chain(&new_values).cloned().collect(),
        _ => new_values.iter().chain(&filter_values).cloned().collect(),
    };
    let failed = |e: sqlx::Error| crate::refused(dataset_id, &e);
    macro_rules! run {
        ($p:expr) => {{
            let mut tx = $p.begin().await.map_err(failed)?;
            let mut q = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(count_sql.clone()));
            for v in &filter_values {
                q = q.bind(v.clone());
            }
            let now = u64::try_from(q.fetch_one(&mut *tx).await.map_err(failed)?).unwrap_or(0);
            if now == 0 && resumed {
                // The try that crashed committed it (the corrected field found the rows).
                tx.rollback().await.map_err(failed)?;
                return Ok(Corrected {
                    dataset: dataset_id.to_owned(),
                    fields: values.iter().map(|(f, _)| f.clone()).collect(),
                    rows: expected,
                });
            }
            if now != expected {
                return Err(ConnectorError::Query {
                    dataset: dataset_id.to_owned(),
                    reason: format!(
                        "{now} rows match now where {expected} were gathered; nothing was changed (gather again)"
                    ),
                });
            }
            let mut q = sqlx::query(sqlx::AssertSqlSafe(update.clone()));
            for v in &ordered {
                q = q.bind(v.clone());
            }
            let changed = q.execute(&mut *tx).await.map_err(failed)?.rows_affected();
            if changed != now {
                return Err(ConnectorError::Query {
                    dataset: dataset_id.to_owned(),
                    reason: format!("{changed} rows changed where {now} were expected; nothing was changed"),
                });
            }
            tx.commit().await.map_err(failed)?;
            changed
        }};
    }
    let rows = match &pool.driver {
        Driver::Postgres(p) => run!(p),
        Driver::Mysql(p) => run!(p),
        Driver::Sqlite(p) => run!(p),
        Driver::Http(_) => return Err(ConnectorError::NotReadable(system.id.get_ref().clone())),
    };
    Ok(Corrected {
        dataset: dataset_id.to_owned(),
        fields: values.iter().map(|(f, _)| f.clone()).collect(),
        rows,
    })
}
