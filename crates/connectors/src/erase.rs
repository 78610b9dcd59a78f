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

use madoguchi_datamap::plan::{MASK, Measure, RowAction, plan_all};
use madoguchi_datamap::{ConnectorKind, DataMap, Dataset, IdentityKey, MarkValue, System};
use serde::{Deserialize, Serialize};
use serde_json::Value;

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

/// What one job is to do: the measure, in which system, and a key that names the job (the
/// base of the idempotency keys of HTTP calls, the same on every try).
#[derive(Debug, Clone, Copy)]
pub struct Act<'a> {
    /// Erase or suspend.
    pub measure: Measure,
    /// The system, by id.
    pub system: &'a str,
    /// Names the job; the same on every try.
    pub job_key: &'a str,
    /// A later try of a job that may have changed the system already.
    pub resumed: bool,
}

/// Whether a connector can carry out this action on a dataset: SQL systems always; HTTP
/// systems when the map declares the call (`delete_call`, `update_call`).
pub fn can_act(map: &DataMap, dataset: &str, action: &RowAction) -> bool {
    let Some(d) = map.dataset(dataset) else {
        return false;
    };
    match map.system(d.system.get_ref()).map(|s| s.connector.kind) {
        Some(k) if k.is_sql() => true,
        Some(ConnectorKind::Http) => match action {
            RowAction::Delete => d.delete_call.is_some(),
            RowAction::Update { .. } => d.update_call.is_some(),
            RowAction::Keep => true,
        },
        _ => false,
    }
}

/// Erases the subject's rows in one system, or suspends their use (`act.measure`). `found`
/// holds what was gathered for them in every system (the keys rows are found by).
pub async fn erase_system(
    map: &DataMap,
    act: Act<'_>,
    subject: &Subject,
    found: &BTreeMap<String, Rows>,
    env: Env<'_>,
) -> Result<Vec<Erased>, ConnectorError> {
    let system_id = act.system;
    let resumed = act.resumed;
    let system = map
        .system(system_id)
        .ok_or_else(|| ConnectorError::NotReadable(system_id.to_owned()))?;
    let kind = system.connector.kind;
    if !kind.is_sql() && kind != ConnectorKind::Http {
        return Err(ConnectorError::NotReadable(system_id.to_owned()));
    }
    let pool = pooled(system, env, Access::Write).await?;
    let mut out = Vec::new();
    let mut changes = Vec::new();
    for plan in plan_all(map, act.measure)
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
        if let Driver::Http(_) = &pool.driver {
            out.push(http_change(&pool, system, d, &plan.action, subject, found, act).await?);
            out.last_mut().expect("pushed").retained = plan.retained.clone();
            continue;
        }
        let types = column_types(&pool, system, d).await?;
        let mut n = 0;
        let Some((filter, values)) =
            finder_filter(&pool, d, subject, found, &types, &BTreeMap::new(), &mut n)
        else {
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
    if !changes.is_empty() {
        out.extend(apply(&pool, system_id, &changes, resumed).await?);
        verify(&pool, &changes).await?;
    }
    Ok(out)
}

/// A path segment percent-encoded (unreserved characters kept).
fn encode_segment(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A declared call's path with each `{field}` replaced by the record's value; `None` when the
/// record has no value for one.
fn fill(path: &str, fields: &[String], row: &[Option<String>]) -> Option<String> {
    let mut out = path.to_owned();
    for name in madoguchi_datamap::placeholders(path) {
        let i = fields.iter().position(|f| f == name)?;
        let v = row.get(i)?.as_deref()?.trim();
        // `.` and `..` would be resolved as path segments: another resource than the record's.
        if v.is_empty() || v == "." || v == ".." {
            return None;
        }
        out = out.replacen(&format!("{{{name}}}"), &encode_segment(v), 1);
    }
    Some(out)
}

/// Sets a dotted key (`reason.label`) in a JSON object, making the objects on the way.
fn put(object: &mut serde_json::Map<String, Value>, key: &str, value: Value) {
    match key.split_once('.') {
        None => {
            object.insert(key.to_owned(), value);
        }
        Some((head, rest)) => {
            let inner = object
                .entry(head.to_owned())
                .or_insert_with(|| Value::Object(Default::default()));
            if !inner.is_object() {
                *inner = Value::Object(Default::default());
            }
            put(inner.as_object_mut().expect("an object"), rest, value);
        }
    }
}

/// The idempotency key of one call: the job's key and what the call does, hashed (stable
/// across tries, distinct per record and change; holds no personal data).
fn idempotency_key(job_key: &str, method: &str, path: &str, body: Option<&Value>) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for part in [job_key, method, path] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    if let Some(b) = body {
        h.update(b.to_string().as_bytes());
    }
    format!("madoguchi-{}", &hex::encode(h.finalize())[..40])
}

/// The subject's records of an HTTP dataset now: read again with the access query, each
/// one that was gathered, as gathered or as the change makes it (`changed`: field → new
/// value, `None` cleared) — a record that is neither is someone's new data, or the map
/// changed: nothing is changed, gather again. HTTP has no transaction, so any earlier try
/// (one that crashed, or failed on a later record) may have changed some records already:
/// fewer, or changed, records are expected, never unknown ones.
async fn records_now(
    pool: &Pool,
    system: &System,
    d: &Dataset,
    subject: &Subject,
    found: &BTreeMap<String, Rows>,
    changed: &[(String, Option<String>)],
) -> Result<Rows, ConnectorError> {
    let now = crate::read_dataset(pool, system, d, subject, found).await?;
    let gathered = found.get(d.id.get_ref());
    let expected = gathered.map_or(0, |r| r.rows.len());
    let fixed = |row: &Vec<Option<String>>| -> Vec<Option<String>> {
        now.fields
            .iter()
            .zip(row)
            .map(|(f, v)| match changed.iter().find(|(c, _)| c == f) {
                Some((_, new)) => new.clone(),
                None => v.clone(),
            })
            .collect()
    };
    let known = |row: &Vec<Option<String>>| {
        gathered.is_some_and(|g| g.rows.contains(row) || g.rows.iter().any(|x| fixed(x) == *row))
    };
    if now.rows.iter().any(|r| !known(r)) {
        return Err(ConnectorError::Query {
            dataset: d.id.get_ref().clone(),
            reason: format!(
                "{} records match now where {expected} were gathered; nothing was changed in this dataset (gather again)",
                now.rows.len()
            ),
        });
    }
    Ok(now)
}

/// Erases or suspends in an HTTP dataset: the declared call once per record (once in all
/// when its path names no field), then the access query again must find nothing that should
/// be gone. HTTP has no transaction: a crash between calls resumes with the records left.
async fn http_change(
    pool: &Pool,
    system: &System,
    d: &Dataset,
    action: &RowAction,
    subject: &Subject,
    found: &BTreeMap<String, Rows>,
    act: Act<'_>,
) -> Result<Erased, ConnectorError> {
    let Driver::Http(client) = &pool.driver else {
        return Err(ConnectorError::NotReadable(system.id.get_ref().clone()));
    };
    let dataset = d.id.get_ref().clone();
    let expected = found.get(&dataset).map_or(0, |r| r.rows.len()) as u64;
    let (call, body, done) = match action {
        RowAction::Delete => (d.delete_call.as_ref(), None, Done::Deleted),
        RowAction::Update { clear, mask, set } => {
            let mut body = serde_json::Map::new();
            for f in clear {
                put(&mut body, f, Value::Null);
            }
            for f in mask {
                put(&mut body, f, Value::String(MASK.into()));
            }
            for (f, v) in set {
                put(&mut body, f, v.to_json());
            }
            (
                d.update_call.as_ref(),
                Some(Value::Object(body)),
                Done::Cleared,
            )
        }
        RowAction::Keep => unreachable!("kept datasets are not changed"),
    };
    let call = call.ok_or_else(|| ConnectorError::Query {
        dataset: dataset.clone(),
        reason: "the map declares no call that changes it; its owner changes it by hand".into(),
    })?;
    let changed: Vec<(String, Option<String>)> = match action {
        RowAction::Update { clear, mask, .. } => clear
            .iter()
            .map(|f| (f.clone(), None))
            .chain(mask.iter().map(|f| (f.clone(), Some(MASK.to_owned()))))
            .collect(),
        _ => Vec::new(),
    };
    let now = records_now(pool, system, d, subject, found, &changed).await?;
    let mut paths: Vec<String> = Vec::new();
    for row in &now.rows {
        let path = fill(&call.path, &now.fields, row).ok_or_else(|| ConnectorError::Query {
            dataset: dataset.clone(),
            reason: "a record has no value for a field its call's path names".into(),
        })?;
        if !paths.contains(&path) {
            paths.push(path);
        }
    }
    for path in &paths {
        let key = idempotency_key(act.job_key, call.method.as_str(), path, body.as_ref());
        let url = client.url_at(path);
        let there = client
            .call(&dataset, call.method, &url, body.as_ref(), &key)
            .await?;
        if !there && body.is_some() {
            return Err(ConnectorError::Query {
                dataset: dataset.clone(),
                reason: "a record to change was not there any more (gather again)".into(),
            });
        }
    }
    // The proof: read again, nothing that should be gone is found.
    let after = crate::read_dataset(pool, system, d, subject, found).await?;
    let left = match action {
        RowAction::Delete => after.rows.len(),
        RowAction::Update { clear, mask, .. } => after
            .rows
            .iter()
            .filter(|row| {
                after.fields.iter().zip(row.iter()).any(|(f, v)| {
                    (clear.contains(f) && v.is_some())
                        || (mask.contains(f) && v.as_deref() != Some(MASK))
                })
            })
            .count(),
        RowAction::Keep => 0,
    };
    if left != 0 {
        return Err(ConnectorError::Query {
            dataset,
            reason: format!("{left} records still hold what was to be erased"),
        });
    }
    Ok(Erased {
        dataset,
        done,
        rows: expected,
        retained: Vec::new(),
    })
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
    overrides: &BTreeMap<String, String>,
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
                // After a correction of the column, its rows are found by the new value.
                let v = match overrides.get(&column) {
                    Some(new) => vec![new.clone()],
                    None => v,
                };
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

/// A mark's value written into a statement (the map's checks keep text values plain).
fn literal(value: &MarkValue) -> String {
    match value {
        MarkValue::Bool(true) => "TRUE".into(),
        MarkValue::Bool(false) => "FALSE".into(),
        MarkValue::Int(i) => i.to_string(),
        MarkValue::Text(t) => format!("'{}'", t.replace('\'', "''")),
    }
}

/// `UPDATE … SET` for the cleared and masked fields and the columns set.
fn set_clause(
    pool: &Pool,
    clear: &[String],
    mask: &[String],
    set: &[(String, MarkValue)],
) -> String {
    clear
        .iter()
        .map(|f| format!("{} = NULL", quote(pool, f)))
        .chain(
            mask.iter()
                .map(|f| format!("{} = '{MASK}'", quote(pool, f))),
        )
        .chain(
            set.iter()
                .map(|(f, v)| format!("{} = {}", quote(pool, f), literal(v))),
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
                RowAction::Update { clear, mask, set } => format!(
                    "UPDATE {table} SET {} WHERE {}",
                    set_clause($pool, clear, mask, set),
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

/// `SELECT COUNT(*) …` with its values bound, outside a transaction.
async fn count(pool: &Pool, sql: &str, values: &[String]) -> Result<i64, sqlx::Error> {
    macro_rules! count {
        ($p:expr) => {{
            let mut q = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_owned()));
            for v in values {
                q = q.bind(v.clone());
            }
            q.fetch_one($p).await
        }};
    }
    match &pool.driver {
        Driver::Postgres(p) => count!(p),
        Driver::Mysql(p) => count!(p),
        Driver::Sqlite(p) => count!(p),
        Driver::Http(_) => Ok(0),
    }
}

/// After the commit: the same lookups find no row that should be gone, and no kept row with
/// a field that should be cleared or masked.
async fn verify(pool: &Pool, changes: &[Change<'_>]) -> Result<(), ConnectorError> {
    for c in changes {
        let table = quote(pool, &table_of(c.dataset));
        let leftover = match &c.action {
            RowAction::Delete => String::new(),
            RowAction::Update { clear, mask, set } => {
                let not_done: Vec<String> = clear
                    .iter()
                    .map(|f| format!("{} IS NOT NULL", quote(pool, f)))
                    .chain(mask.iter().map(|f| {
                        let col = quote(pool, f);
                        format!("({col} IS NULL OR {col} <> '{MASK}')")
                    }))
                    .chain(set.iter().map(|(f, v)| {
                        let col = quote(pool, f);
                        format!("({col} IS NULL OR {col} <> {})", literal(v))
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
        let left = count(pool, &sql, &c.values)
            .await
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

/// Corrects the subject's rows of one dataset: every field in `values` set to its new value,
/// on exactly the rows gathered (found again with the gathered keys). In a SQL system in one
/// transaction with the same count check as an erasure; in an HTTP system by the declared
/// `update_call` per record. Afterwards the rows are found again (by the new value where the
/// corrected field is what finds them) and must hold the new values. A resumed try sets the
/// same values again, or, when the corrected field was what found the rows and nothing matches
/// any more, counts the crashed try's commit as done.
pub async fn correct_dataset(
    map: &DataMap,
    dataset_id: &str,
    subject: &Subject,
    found: &BTreeMap<String, Rows>,
    values: &[(String, String)],
    act: Act<'_>,
    env: Env<'_>,
) -> Result<Corrected, ConnectorError> {
    let resumed = act.resumed;
    let d = map
        .dataset(dataset_id)
        .ok_or_else(|| ConnectorError::NotReadable(dataset_id.to_owned()))?;
    let system = map
        .system(d.system.get_ref())
        .ok_or_else(|| ConnectorError::NotReadable(d.system.get_ref().clone()))?;
    let pool = pooled(system, env, Access::Write).await?;
    if let Driver::Http(_) = &pool.driver {
        return http_correct(&pool, system, d, subject, found, values, act).await;
    }
    if !system.connector.kind.is_sql() {
        return Err(ConnectorError::NotReadable(system.id.get_ref().clone()));
    }
    let types = column_types(&pool, system, d).await?;
    if let Some((field, _)) = values.iter().find(|(f, v)| !fits(&types, f, v)) {
        return Err(ConnectorError::Query {
            dataset: dataset_id.to_owned(),
            reason: format!("the new value of {field} does not fit its column's type"),
        });
    }
    let expected = found.get(dataset_id).map_or(0, |r| r.rows.len()) as u64;
    let mut n = 0;
    let filter = finder_filter(&pool, d, subject, found, &types, &BTreeMap::new(), &mut n);
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
            'run: {
                let mut tx = $p.begin().await.map_err(failed)?;
                let mut q = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(count_sql.clone()));
                for v in &filter_values {
                    q = q.bind(v.clone());
                }
                let now = u64::try_from(q.fetch_one(&mut *tx).await.map_err(failed)?).unwrap_or(0);
                if now == 0 && resumed {
                    // The try that crashed committed it (the corrected field found the rows).
                    tx.rollback().await.map_err(failed)?;
                    break 'run expected;
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
            }
        }};
    }
    let rows = match &pool.driver {
        Driver::Postgres(p) => run!(p),
        Driver::Mysql(p) => run!(p),
        Driver::Sqlite(p) => run!(p),
        Driver::Http(_) => return Err(ConnectorError::NotReadable(system.id.get_ref().clone())),
    };
    // The proof: the rows found now (by the new value where a corrected field finds them)
    // hold the new values, at least as many as were corrected.
    let overrides: BTreeMap<String, String> = values.iter().cloned().collect();
    let mut n = 0;
    let (filter, mut bound) = finder_filter(&pool, d, subject, found, &types, &overrides, &mut n)
        .ok_or_else(|| ConnectorError::Query {
        dataset: dataset_id.to_owned(),
        reason: "the corrected rows cannot be found again".into(),
    })?;
    let shape: Vec<(String, usize)> = values.iter().map(|(f, _)| (f.clone(), 1)).collect();
    let holds = conditions_sql(&pool, &shape, &types, &mut n);
    bound.extend(new_values);
    let check = format!("SELECT COUNT(*) FROM {table} WHERE ({filter}) AND {holds}");
    let holding = count(&pool, &check, &bound)
        .await
        .map_err(|e| crate::refused(dataset_id, &e))?;
    if u64::try_from(holding).unwrap_or(0) < rows {
        return Err(ConnectorError::Query {
            dataset: dataset_id.to_owned(),
            reason: format!("after correcting, {holding} of {rows} rows hold the new values"),
        });
    }
    Ok(Corrected {
        dataset: dataset_id.to_owned(),
        fields: values.iter().map(|(f, _)| f.clone()).collect(),
        rows,
    })
}

/// The subject as found after a correction: an identity key a finder compares with a
/// corrected field takes the new value.
fn corrected_subject(d: &Dataset, subject: &Subject, values: &[(String, String)]) -> Subject {
    let mut out = subject.clone();
    for c in d.find_by.iter().flat_map(|f| &f.conditions) {
        let (Some(k), Some((_, new))) =
            (c.key, values.iter().find(|(f, _)| f == c.field.get_ref()))
        else {
            continue;
        };
        let slot = match k {
            IdentityKey::Email => &mut out.email,
            IdentityKey::Phone => &mut out.phone,
            IdentityKey::CustomerNumber => &mut out.customer_number,
            IdentityKey::Name => &mut out.name,
            IdentityKey::BirthDate => &mut out.birth_date,
        };
        *slot = Some(new.clone());
    }
    out
}

/// Corrects the subject's records of an HTTP dataset with its `update_call`, then reads them
/// again (by the new value where a corrected field finds them): they must hold the new values.
async fn http_correct(
    pool: &Pool,
    system: &System,
    d: &Dataset,
    subject: &Subject,
    found: &BTreeMap<String, Rows>,
    values: &[(String, String)],
    act: Act<'_>,
) -> Result<Corrected, ConnectorError> {
    let Driver::Http(client) = &pool.driver else {
        return Err(ConnectorError::NotReadable(system.id.get_ref().clone()));
    };
    let dataset = d.id.get_ref().clone();
    let call = d
        .update_call
        .as_ref()
        .ok_or_else(|| ConnectorError::Query {
            dataset: dataset.clone(),
            reason: "the map declares no call that changes it; its owner changes it by hand".into(),
        })?;
    let expected = found.get(&dataset).map_or(0, |r| r.rows.len());
    let changed: Vec<(String, Option<String>)> = values
        .iter()
        .map(|(f, v)| (f.clone(), Some(v.clone())))
        .collect();
    let now = records_now(pool, system, d, subject, found, &changed).await?;
    let mut body = serde_json::Map::new();
    for (f, v) in values {
        put(&mut body, f, Value::String(v.clone()));
    }
    let body = Value::Object(body);
    let mut paths: Vec<String> = Vec::new();
    for row in &now.rows {
        let path = fill(&call.path, &now.fields, row).ok_or_else(|| ConnectorError::Query {
            dataset: dataset.clone(),
            reason: "a record has no value for a field its call's path names".into(),
        })?;
        if !paths.contains(&path) {
            paths.push(path);
        }
    }
    for path in &paths {
        let key = idempotency_key(act.job_key, call.method.as_str(), path, Some(&body));
        client
            .call(
                &dataset,
                call.method,
                &client.url_at(path),
                Some(&body),
                &key,
            )
            .await?;
    }
    let after = crate::read_dataset(
        pool,
        system,
        d,
        &corrected_subject(d, subject, values),
        found,
    )
    .await?;
    let holds = |row: &Vec<Option<String>>| {
        values.iter().all(|(f, new)| {
            after
                .fields
                .iter()
                .position(|x| x == f)
                .is_some_and(|i| row[i].as_deref().map(str::trim) == Some(new.trim()))
        })
    };
    let holding = after.rows.iter().filter(|r| holds(r)).count();
    if holding < expected {
        return Err(ConnectorError::Query {
            dataset,
            reason: format!(
                "after correcting, {holding} of {expected} records hold the new values"
            ),
        });
    }
    Ok(Corrected {
        dataset,
        fields: values.iter().map(|(f, _)| f.clone()).collect(),
        rows: expected as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_calls_path_is_filled_with_the_records_values_encoded() {
        let fields = vec!["email".to_owned(), "id".to_owned()];
        let row = vec![Some("a b/c@example.jp".to_owned()), Some("7".to_owned())];
        assert_eq!(
            fill("/v1/members/{email}/points/{id}", &fields, &row).as_deref(),
            Some("/v1/members/a%20b%2Fc%40example.jp/points/7")
        );
        // A record without the value: no call rather than a call for someone else.
        let blank = vec![Some(" ".to_owned()), None];
        assert_eq!(fill("/v1/members/{email}", &fields, &blank), None);
        assert_eq!(fill("/v1/points/{id}", &fields, &blank), None);
        assert_eq!(fill("/v1/all", &fields, &blank).as_deref(), Some("/v1/all"));
        // A value that is a dot segment would name another resource: no call.
        for dots in [".", ".."] {
            let row = vec![Some(dots.to_owned()), Some("7".to_owned())];
            assert_eq!(fill("/v1/members/{email}/points", &fields, &row), None);
        }
    }

    #[test]
    fn dotted_keys_make_nested_objects() {
        let mut body = serde_json::Map::new();
        put(&mut body, "reason.label", Value::Null);
        put(&mut body, "email", Value::String("***".into()));
        put(&mut body, "reason.code", Value::Bool(true));
        assert_eq!(
            Value::Object(body),
            serde_json::json!({"email": "***", "reason": {"label": null, "code": true}})
        );
    }

    #[test]
    fn an_idempotency_key_is_the_same_on_every_try_and_differs_per_change() {
        let body = serde_json::json!({"email": "x@example.jp"});
        let k = idempotency_key("job-1", "PATCH", "/v1/m/a", Some(&body));
        assert_eq!(k, idempotency_key("job-1", "PATCH", "/v1/m/a", Some(&body)));
        assert!(k.starts_with("madoguchi-") && k.len() == "madoguchi-".len() + 40);
        assert!(!k.contains("example"));
        for other in [
            idempotency_key("job-2", "PATCH", "/v1/m/a", Some(&body)),
            idempotency_key("job-1", "DELETE", "/v1/m/a", None),
            idempotency_key("job-1", "PATCH", "/v1/m/b", Some(&body)),
            idempotency_key("job-1", "PATCH", "/v1/m/a", Some(&serde_json::json!({}))),
        ] {
            assert_ne!(k, other);
        }
    }

    #[test]
    fn marks_are_written_as_plain_literals() {
        assert_eq!(literal(&MarkValue::Bool(true)), "TRUE");
        assert_eq!(literal(&MarkValue::Int(1)), "1");
        assert_eq!(literal(&MarkValue::Text("stop".into())), "'stop'");
    }
}
