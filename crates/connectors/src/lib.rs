//! Connectors: read a subject's rows from the business's own systems, as the data map declares
//! them. SQL systems (PostgreSQL, MySQL/MariaDB, SQLite) are read through sqlx: table and
//! column names come only from the checked map (plain identifiers, quoted), every value is a
//! bound parameter, each statement has a timeout and each dataset a row cap that fails rather
//! than returning half. HTTP systems are read by declared requests ([`http`]).
//!
//! Traversal starts from the subject's identity keys and follows the map's references; a row
//! is returned only if a finder of its dataset matches it with values that themselves came
//! from the subject (their keys, or rows already found for them).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use madoguchi_datamap::{Condition, ConnectorKind, DataMap, Dataset, Finder, IdentityKey, System};
use serde::{Deserialize, Serialize};

mod erase;
mod http;
pub mod webhook;

pub use erase::{Act, Corrected, Done, Erased, can_act, correct_dataset, erase_system};

pub use http::DEFAULT_RATE_PER_SEC;

/// How a connector reads the environment variables the map names.
pub type Env<'a> = &'a (dyn Fn(&str) -> Option<String> + Sync);

/// One value an HTTP lookup sends and checks: the record's `field` must equal `value`, sent
/// as the query parameter `param`.
#[derive(Clone)]
pub(crate) struct Lookup {
    field: String,
    param: String,
    value: String,
    /// Compared without case (an e-mail address).
    any_case: bool,
}

/// What a connection check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checked {
    /// A database: connected, and this many tables read with `LIMIT 0`.
    Tables(usize),
    /// A web service: it answered with the credentials given. Its datasets cannot be asked
    /// for without a person's values, so they are first read when a request is gathered.
    Reached,
}

/// What Madoguchi knows of the subject to look them up by.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subject {
    /// The confirmed e-mail address, as given.
    pub email: Option<String>,
    /// The telephone number, as given.
    pub phone: Option<String>,
    /// The customer number, when known.
    pub customer_number: Option<String>,
    /// The name.
    pub name: Option<String>,
    /// The date of birth, `YYYY-MM-DD`.
    pub birth_date: Option<String>,
}

impl Subject {
    fn key(&self, k: IdentityKey) -> Option<&str> {
        match k {
            IdentityKey::Email => self.email.as_deref(),
            IdentityKey::Phone => self.phone.as_deref(),
            IdentityKey::CustomerNumber => self.customer_number.as_deref(),
            IdentityKey::Name => self.name.as_deref(),
            IdentityKey::BirthDate => self.birth_date.as_deref(),
        }
        .map(str::trim)
        .filter(|v| !v.is_empty())
    }
}

/// The subject's rows of one dataset: every declared field, as text (NULL as `None`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rows {
    /// The dataset's id.
    pub dataset: String,
    /// The fields, in the map's order.
    pub fields: Vec<String>,
    /// The rows, each value in field order.
    pub rows: Vec<Vec<Option<String>>>,
    /// Whether a finder could run at all: without the keys it needs, a dataset is not
    /// searched, which is not the same as holding nothing about the person.
    #[serde(default = "searched")]
    pub searched: bool,
    /// The fields withheld from disclosure when the rows were read, with their ground (the
    /// map may change before the answer is sent).
    #[serde(default)]
    pub withheld: Vec<(String, madoguchi_datamap::WithholdGround)>,
}

fn searched() -> bool {
    true
}

impl Rows {
    /// The values of one field, NULLs left out.
    pub fn values(&self, field: &str) -> Vec<String> {
        let Some(i) = self.fields.iter().position(|f| f == field) else {
            return Vec::new();
        };
        // NULLs and blanks are no key: `IN ('')` would match every row with a blank.
        let mut out: Vec<String> = self
            .rows
            .iter()
            .filter_map(|r| r.get(i).cloned().flatten())
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

/// Why a system could not be read. Never holds a credential or a row. Stored with its job as
/// JSON ([`ConnectorError::to_stored`]) so pages can say it in their own language
/// ([`ConnectorError::words`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "error", content = "detail", rename_all = "snake_case")]
pub enum ConnectorError {
    /// The map names no such system, or it cannot be read by a connector.
    #[error("system {0}: no connector can read it")]
    NotReadable(String),
    /// The environment variable the map names is not set.
    #[error("system {system}: the environment variable {variable} is not set")]
    MissingCredentials {
        /// The system.
        system: String,
        /// The variable.
        variable: String,
    },
    /// The system could not be reached or refused the connection.
    #[error("system {system}: could not connect ({reason})")]
    Unreachable {
        /// The system.
        system: String,
        /// What went wrong, without the URL.
        reason: String,
    },
    /// A statement took longer than the system's timeout.
    #[error("dataset {dataset}: no answer within {secs} s")]
    Timeout {
        /// The dataset.
        dataset: String,
        /// The timeout.
        secs: u64,
    },
    /// More rows than the cap for one subject: refused rather than half returned.
    #[error("dataset {dataset}: more than {limit} rows for one person; check its finders")]
    TooManyRows {
        /// The dataset.
        dataset: String,
        /// The cap.
        limit: u32,
    },
    /// The system refused a statement (a missing table or column, say).
    #[error("dataset {dataset}: the system refused the query ({reason})")]
    Query {
        /// The dataset.
        dataset: String,
        /// What the system said, without values.
        reason: String,
    },
}

impl ConnectorError {
    /// The form stored with a job (JSON), read back by [`ConnectorError::from_stored`].
    pub fn to_stored(&self) -> String {
        serde_json::to_string(self).expect("an error serialises")
    }

    /// A stored error, when it is one.
    pub fn from_stored(s: &str) -> Option<ConnectorError> {
        serde_json::from_str(s).ok()
    }

    /// The error in words for a person, Japanese or English, naming systems by `system` and
    /// datasets by `dataset` (their names in the map; the two kinds of id are separate). What
    /// the system itself said stays as it said it.
    pub fn words(
        &self,
        system_name: &dyn Fn(&str) -> String,
        dataset_name: &dyn Fn(&str) -> String,
        en: bool,
    ) -> String {
        use ConnectorError as E;
        match (self, en) {
            (E::NotReadable(s), false) => {
                format!("システム「{}」はコネクタで読み取れません", system_name(s))
            }
            (E::NotReadable(s), true) => format!("{}: no connector can read it", system_name(s)),
            (E::MissingCredentials { system, variable }, false) => format!(
                "システム「{}」の接続情報が設定されていません（環境変数 {variable}）",
                system_name(system)
            ),
            (E::MissingCredentials { system, variable }, true) => format!(
                "{}: its connection is not set up (environment variable {variable})",
                system_name(system)
            ),
            (E::Unreachable { system, reason }, false) => {
                format!(
                    "システム「{}」に接続できません（{reason}）",
                    system_name(system)
                )
            }
            (E::Unreachable { system, reason }, true) => {
                format!("{}: could not connect ({reason})", system_name(system))
            }
            (E::Timeout { dataset, secs }, false) => {
                format!(
                    "「{}」が {secs} 秒以内に応答しませんでした",
                    dataset_name(dataset)
                )
            }
            (E::Timeout { dataset, secs }, true) => {
                format!("{}: no answer within {secs} s", dataset_name(dataset))
            }
            (E::TooManyRows { dataset, limit }, false) => format!(
                "「{}」で一人分として {limit} 行を超えるデータが見つかりました（検索条件を確認してください）",
                dataset_name(dataset)
            ),
            (E::TooManyRows { dataset, limit }, true) => format!(
                "{}: more than {limit} rows for one person; check its finders",
                dataset_name(dataset)
            ),
            (E::Query { dataset, reason }, false) => {
                format!(
                    "「{}」への処理が受け付けられませんでした（{reason}）",
                    dataset_name(dataset)
                )
            }
            (E::Query { dataset, reason }, true) => {
                format!(
                    "{}: the system refused the query ({reason})",
                    dataset_name(dataset)
                )
            }
        }
    }
}

/// Default statement timeout.
pub const DEFAULT_TIMEOUT_SECS: u32 = 30;
/// Default row cap per dataset and subject.
pub const DEFAULT_ROW_LIMIT: u32 = 10_000;
/// Values bound in one `IN` list at most; longer lists are read in chunks.
const IN_CHUNK: usize = 500;

/// The systems a system's datasets find rows through (other systems only), so that a job
/// for it runs after theirs.
pub fn depends_on(map: &DataMap, system: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for d in map.datasets.iter().filter(|d| d.system.get_ref() == system) {
        for f in &d.find_by {
            for c in &f.conditions {
                if let Some(from) = &c.from
                    && let Some((ds, _)) = from.get_ref().split_once('.')
                    && let Some(other) = map.dataset(ds)
                    && other.system.get_ref() != system
                {
                    out.insert(other.system.get_ref().clone());
                }
            }
        }
    }
    out
}

/// The systems a connector reads (every kind but `manual`), in the map's order.
pub fn readable_systems(map: &DataMap) -> Vec<String> {
    map.systems
        .iter()
        .filter(|s| s.connector.kind != ConnectorKind::Manual)
        .filter(|s| {
            map.datasets
                .iter()
                .any(|d| d.system.get_ref() == s.id.get_ref())
        })
        .map(|s| s.id.get_ref().clone())
        .collect()
}

/// A connection to one system, with the column types of the tables it read (read once per
/// pool: a table's types do not change under a running service, and asking again for every
/// subject would double the statements).
struct Pool {
    driver: Driver,
    types: std::sync::Mutex<BTreeMap<String, BTreeMap<String, String>>>,
}

enum Driver {
    Postgres(sqlx::PgPool),
    Mysql(sqlx::MySqlPool),
    Sqlite(sqlx::SqlitePool),
    Http(Box<http::Client>),
}

impl From<Driver> for Pool {
    fn from(driver: Driver) -> Pool {
        Pool {
            driver,
            types: Default::default(),
        }
    }
}

/// Whether a connection reads, or changes data (an erasure): the map may name other
/// credentials for changing (`write_url_env`), so reading can keep a read-only user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    Read,
    Write,
}

/// The URL the system's variable holds.
fn url_of(system: &System, env: Env<'_>) -> Result<String, ConnectorError> {
    url_for(system, env, Access::Read)
}

/// The URL for reading or for changing data.
fn url_for(system: &System, env: Env<'_>, access: Access) -> Result<String, ConnectorError> {
    let c = &system.connector;
    let var = match access {
        Access::Write => c.write_url_env.as_ref().or(c.url_env.as_ref()),
        Access::Read => c.url_env.as_ref(),
    }
    .ok_or_else(|| ConnectorError::NotReadable(system.id.get_ref().clone()))?;
    env(var.get_ref()).ok_or_else(|| ConnectorError::MissingCredentials {
        system: system.id.get_ref().clone(),
        variable: var.get_ref().clone(),
    })
}

/// An error's words with the URL (and so any password in it) taken out.
fn redact(e: &dyn std::fmt::Display, url: &str) -> String {
    let mut text = e.to_string().replace(url, "<url>");
    if let Some((_, rest)) = url.split_once("://")
        && let Some((userinfo, _)) = rest.split_once('@')
    {
        for part in userinfo.split(':').filter(|p| p.len() >= 3) {
            text = text.replace(part, "<redacted>");
        }
    }
    text.chars().take(300).collect()
}

async fn connect(system: &System, env: Env<'_>, access: Access) -> Result<Pool, ConnectorError> {
    use sqlx::pool::PoolOptions;
    if system.connector.kind == ConnectorKind::Http {
        return Ok(Driver::Http(Box::new(http::Client::new(system, env)?)).into());
    }
    let url = url_for(system, env, access)?;
    let id = system.id.get_ref().clone();
    let secs = u64::from(
        system
            .connector
            .timeout_secs
            .unwrap_or(DEFAULT_TIMEOUT_SECS),
    );
    let fail = |e: sqlx::Error| ConnectorError::Unreachable {
        system: id.clone(),
        reason: redact(&e, &url),
    };
    let acquire = Duration::from_secs(secs);
    let driver = match system.connector.kind {
        // The server stops a statement at the timeout too: dropping the future alone would
        // leave it running and the connection busy.
        ConnectorKind::Postgres => {
            let opts: sqlx::postgres::PgConnectOptions = url.parse().map_err(fail)?;
            let opts = opts.options([("statement_timeout", format!("{}s", secs))]);
            Driver::Postgres(
                PoolOptions::new()
                    .max_connections(2)
                    .idle_timeout(Duration::from_secs(60))
                    .acquire_timeout(acquire)
                    .connect_with(opts)
                    .await
                    .map_err(fail)?,
            )
        }
        ConnectorKind::Mysql => {
            let ms = secs * 1000;
            Driver::Mysql(
                PoolOptions::new()
                    .max_connections(2)
                    .idle_timeout(Duration::from_secs(60))
                    .acquire_timeout(acquire)
                    .after_connect(move |conn: &mut sqlx::MySqlConnection, _| {
                        Box::pin(async move {
                            use sqlx::Executor as _;
                            // MySQL names it max_execution_time, MariaDB max_statement_time
                            // (seconds); each ignores the other's with a warning only.
                            let _ = conn
                                .execute(sqlx::AssertSqlSafe(format!(
                                    "SET SESSION max_execution_time = {ms}"
                                )))
                                .await;
                            let _ = conn
                                .execute(sqlx::AssertSqlSafe(format!(
                                    "SET SESSION max_statement_time = {}",
                                    ms / 1000
                                )))
                                .await;
                            Ok(())
                        })
                    })
                    .connect(&url)
                    .await
                    .map_err(fail)?,
            )
        }
        ConnectorKind::Sqlite => {
            // Read-only unless erasing: gathering never writes to a business system.
            let opts: sqlx::sqlite::SqliteConnectOptions =
                url.parse()
                    .map_err(|e: sqlx::Error| ConnectorError::Unreachable {
                        system: id.clone(),
                        reason: redact(&e, &url),
                    })?;
            Driver::Sqlite(
                PoolOptions::new()
                    .max_connections(1)
                    .idle_timeout(Duration::from_secs(60))
                    .acquire_timeout(acquire)
                    .connect_with(opts.read_only(access == Access::Read))
                    .await
                    .map_err(fail)?,
            )
        }
        ConnectorKind::Http | ConnectorKind::Manual => return Err(ConnectorError::NotReadable(id)),
    };
    Ok(driver.into())
}

/// Checks that a system can be reached and each of its tables read, without reading a row.
pub async fn test_system(
    map: &DataMap,
    system_id: &str,
    env: Env<'_>,
) -> Result<Checked, ConnectorError> {
    let system = map
        .system(system_id)
        .ok_or_else(|| ConnectorError::NotReadable(system_id.to_owned()))?;
    let pool = connect(system, env, Access::Read).await?;
    if let Driver::Http(client) = &pool.driver {
        return client.check().await.map(|()| Checked::Reached);
    }
    let mut checked = 0;
    for d in map
        .datasets
        .iter()
        .filter(|d| d.system.get_ref() == system_id)
    {
        let sql = select_sql(&pool, d, None, &BTreeMap::new());
        let sql = format!("{sql} LIMIT 0");
        run(&pool, system, d, &sql, &[]).await?;
        checked += 1;
    }
    close(pool).await;
    Ok(Checked::Tables(checked))
}

/// Closes the pool, waiting a few seconds at most: a connection stuck on a dead link is
/// dropped rather than waited for.
async fn close(pool: Pool) {
    let closing = async {
        match pool.driver {
            Driver::Postgres(p) => p.close().await,
            Driver::Mysql(p) => p.close().await,
            Driver::Sqlite(p) => p.close().await,
            Driver::Http(_) => {}
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), closing).await;
}

fn quote(pool: &Pool, ident: &str) -> String {
    // Identifiers are checked plain by the map (letters, digits, `_`, one `.` for a schema);
    // quoting keeps reserved words working.
    let q = if matches!(pool.driver, Driver::Mysql(_)) {
        '`'
    } else {
        '"'
    };
    // Doubling the quote character is belt and braces: the map's check refuses it already.
    ident
        .split('.')
        .map(|part| format!("{q}{}{q}", part.replace(q, &format!("{q}{q}"))))
        .collect::<Vec<_>>()
        .join(".")
}

fn as_text(pool: &Pool, column: &str) -> String {
    match pool.driver {
        Driver::Postgres(_) => format!("{column}::text"),
        Driver::Mysql(_) => format!("CAST({column} AS CHAR)"),
        Driver::Sqlite(_) | Driver::Http(_) => format!("CAST({column} AS TEXT)"),
    }
}

fn placeholder(pool: &Pool, n: usize) -> String {
    match pool.driver {
        Driver::Postgres(_) => format!("${n}"),
        _ => "?".to_owned(),
    }
}

/// `SELECT <every field as text> FROM <location>`, and a `WHERE` from `conditions`: each a
/// column and how many values it is compared with (`= ?` for one, `IN (…)` for more).
fn select_sql(
    pool: &Pool,
    d: &Dataset,
    conditions: Option<&[(String, usize)]>,
    types: &BTreeMap<String, String>,
) -> String {
    let columns: Vec<String> = d
        .fields
        .iter()
        .map(|f| as_text(pool, &quote(pool, f.name.get_ref())))
        .collect();
    let mut sql = format!(
        "SELECT {} FROM {}",
        columns.join(", "),
        quote(pool, &table_of(d))
    );
    if let Some(conditions) = conditions {
        let mut n = 0;
        sql.push_str(" WHERE ");
        sql.push_str(&conditions_sql(pool, conditions, types, &mut n));
    }
    sql
}

/// The table a dataset is in (its location, or its id).
fn table_of(d: &Dataset) -> String {
    d.location.clone().unwrap_or_else(|| d.id.get_ref().clone())
}

/// `a = ? AND b IN (?, ?)`: each condition a column and how many values it is compared with;
/// `n` counts the placeholders used so far (PostgreSQL numbers them).
fn conditions_sql(
    pool: &Pool,
    conditions: &[(String, usize)],
    types: &BTreeMap<String, String>,
    n: &mut usize,
) -> String {
    let clauses: Vec<String> = conditions
        .iter()
        .map(|(column, count)| {
            let col = quote(pool, column);
            // PostgreSQL compares a text parameter cast to the column's own type, so an
            // index on the column is used; a type it cannot name (an array, a type of the
            // business's own) is compared as text. SQLite converts a text value to the
            // column's type itself.
            // `character` would cast to char(1) and cut the value: compared as text.
            let cast = match pool.driver {
                Driver::Postgres(_) => types.get(column).cloned().filter(|t| castable(t)),
                _ => None,
            };
            // MySQL compares a string column with a string and an integer column with
            // an integer natively (indexes used; values that are not integers never reach
            // an integer column, see `fits`). Any other type is compared as text, since
            // MySQL would compare '12abc' with a number as 12.
            let col = match (&pool.driver, &cast) {
                (Driver::Postgres(_), None) => format!("{col}::text"),
                (Driver::Mysql(_), _)
                    if types
                        .get(column)
                        .is_none_or(|t| !is_mysql_text(t) && !is_integer(t)) =>
                {
                    format!("CAST({col} AS CHAR)")
                }
                _ => col,
            };
            let marks: Vec<String> = (0..*count)
                .map(|_| {
                    *n += 1;
                    match &cast {
                        Some(t) => format!("{}::{t}", placeholder(pool, *n)),
                        None => placeholder(pool, *n),
                    }
                })
                .collect();
            if *count == 1 {
                format!("{col} = {}", marks[0])
            } else {
                format!("{col} IN ({})", marks.join(", "))
            }
        })
        .collect();
    clauses.join(" AND ")
}

/// A statement the database refused, in words that hold no value.
pub(crate) fn refused(dataset: &str, e: &sqlx::Error) -> ConnectorError {
    ConnectorError::Query {
        dataset: dataset.to_owned(),
        reason: match e {
            // A missing table or column, or a permission (SQLSTATE classes 42 and 28): the
            // database's words name tables and columns. Any other error may quote a value
            // (PostgreSQL's "invalid input syntax … \"090-…\""): only its code is kept.
            sqlx::Error::Database(db) => {
                let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
                if code.starts_with("42") || code.starts_with("28") {
                    db.message().chars().take(300).collect()
                } else {
                    format!("database error {code}")
                }
            }
            other => other.to_string().chars().take(300).collect(),
        },
    }
}

/// Whether a column type is an integer (on PostgreSQL or MySQL).
fn is_integer(t: &str) -> bool {
    matches!(
        t,
        "smallint" | "integer" | "bigint" | "tinyint" | "mediumint" | "int"
    )
}

/// Whether a MySQL column type holds text.
fn is_mysql_text(t: &str) -> bool {
    matches!(
        t,
        "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" | "enum" | "set"
    )
}

/// Whether a value can equal anything in a column of this type: an integer column holds no
/// `12abc` (MySQL would compare it as 12, PostgreSQL would refuse the statement) and nothing
/// beyond its range; a uuid column only uuids. A value that cannot fit matches nothing.
fn fits(types: &BTreeMap<String, String>, column: &str, value: &str) -> bool {
    match types.get(column).map(String::as_str) {
        Some("smallint") => value.parse::<i16>().is_ok(),
        Some("integer" | "int" | "mediumint") => value.parse::<i32>().is_ok(),
        Some("tinyint") => value.parse::<i8>().is_ok() || value.parse::<u8>().is_ok(),
        Some("bigint") => value.parse::<i64>().is_ok() || value.parse::<u64>().is_ok(),
        Some("uuid") => {
            value.len() == 36
                && value.bytes().enumerate().all(|(i, b)| {
                    if matches!(i, 8 | 13 | 18 | 23) {
                        b == b'-'
                    } else {
                        b.is_ascii_hexdigit()
                    }
                })
        }
        _ => true,
    }
}

/// Whether PostgreSQL can cast any text to this type without refusing the statement once
/// [`fits`] has passed the value: text types, integers, uuid. Others (dates, numerics, …)
/// are compared as text: a free-text key never fails the job there.
fn castable(t: &str) -> bool {
    matches!(
        t,
        "text" | "character varying" | "smallint" | "integer" | "bigint" | "uuid" | "citext"
    )
}

/// The type of each of the dataset's columns: on PostgreSQL as a cast can name it (built-in
/// types only: letters, digits, spaces and `_`), on MySQL its `DATA_TYPE`. Empty on SQLite.
/// Read once per pool and table.
async fn column_types(
    pool: &Pool,
    system: &System,
    d: &Dataset,
) -> Result<BTreeMap<String, String>, ConnectorError> {
    let location = d.location.clone().unwrap_or_else(|| d.id.get_ref().clone());
    if let Some(known) = pool.types.lock().expect("types cache").get(&location) {
        return Ok(known.clone());
    }
    let (schema, table) = match location.split_once('.') {
        Some((s, t)) => (Some(s.to_owned()), t.to_owned()),
        None => (None, location.clone()),
    };
    let secs = u64::from(
        system
            .connector
            .timeout_secs
            .unwrap_or(DEFAULT_TIMEOUT_SECS),
    );
    let query = async {
        match &pool.driver {
            Driver::Postgres(p) => {
                sqlx::query_as::<_, (String, String)>(
                    "SELECT column_name::text, data_type::text FROM information_schema.columns \
                     WHERE table_name = $1 AND table_schema = COALESCE($2, current_schema())",
                )
                .bind(&table)
                .bind(&schema)
                .fetch_all(p)
                .await
            }
            Driver::Mysql(p) => {
                sqlx::query_as::<_, (String, String)>(
                    "SELECT CAST(COLUMN_NAME AS CHAR), CAST(LOWER(DATA_TYPE) AS CHAR) \
                     FROM information_schema.columns \
                     WHERE TABLE_NAME = ? AND TABLE_SCHEMA = COALESCE(?, DATABASE())",
                )
                .bind(&table)
                .bind(&schema)
                .fetch_all(p)
                .await
            }
            Driver::Sqlite(_) | Driver::Http(_) => Ok(Vec::new()),
        }
    };
    let rows = tokio::time::timeout(Duration::from_secs(secs), query)
        .await
        .map_err(|_| ConnectorError::Timeout {
            dataset: d.id.get_ref().clone(),
            secs,
        })?
        .map_err(|e| ConnectorError::Query {
            dataset: d.id.get_ref().clone(),
            reason: e.to_string().chars().take(300).collect(),
        })?;
    let types: BTreeMap<String, String> = rows
        .into_iter()
        .filter(|(_, t)| {
            t != "ARRAY"
                && t != "USER-DEFINED"
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b' ' || b == b'_')
        })
        .collect();
    pool.types
        .lock()
        .expect("types cache")
        .insert(location, types.clone());
    Ok(types)
}

async fn run(
    pool: &Pool,
    system: &System,
    d: &Dataset,
    sql: &str,
    values: &[String],
) -> Result<Vec<Vec<Option<String>>>, ConnectorError> {
    use sqlx::Row;
    let secs = u64::from(
        system
            .connector
            .timeout_secs
            .unwrap_or(DEFAULT_TIMEOUT_SECS),
    );
    let dataset = d.id.get_ref().clone();
    let width = d.fields.len();
    let refused = |e: sqlx::Error| refused(&dataset, &e);
    let work = async {
        macro_rules! fetch {
            ($p:expr) => {{
                // Built from the checked map's plain names only; every value is bound.
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()));
                for v in values {
                    q = q.bind(v.clone());
                }
                let rows = q.fetch_all($p).await.map_err(refused)?;
                rows.iter()
                    .map(|r| {
                        (0..width)
                            .map(|i| r.try_get::<Option<String>, _>(i).map_err(refused))
                            .collect::<Result<Vec<_>, _>>()
                    })
                    .collect::<Result<Vec<_>, _>>()
            }};
        }
        match &pool.driver {
            Driver::Postgres(p) => fetch!(p),
            Driver::Mysql(p) => fetch!(p),
            Driver::Sqlite(p) => fetch!(p),
            Driver::Http(_) => Ok(Vec::new()),
        }
    };
    tokio::time::timeout(Duration::from_secs(secs), work)
        .await
        .map_err(|_| ConnectorError::Timeout {
            dataset: d.id.get_ref().clone(),
            secs,
        })?
}

/// Reads the subject's rows of every dataset of `system_id`. `known` holds rows already
/// found in other systems (for references across systems). Datasets are read in the order
/// their references allow; a finder whose referenced values are not known finds nothing.
pub async fn gather_system(
    map: &DataMap,
    system_id: &str,
    subject: &Subject,
    known: &BTreeMap<String, Rows>,
    env: Env<'_>,
) -> Result<Vec<Rows>, ConnectorError> {
    let system = map
        .system(system_id)
        .ok_or_else(|| ConnectorError::NotReadable(system_id.to_owned()))?;
    let pool = pooled(system, env, Access::Read).await?;
    gather_with(&pool, map, system, subject, known).await
}

/// Connections kept between jobs, by everything that makes one (kind, limits, URL and
/// credentials): a subject's gathering does not pay for connecting, and an HTTP system's pace
/// holds across jobs. Idle database connections close after a minute.
static POOLS: std::sync::OnceLock<std::sync::Mutex<BTreeMap<String, std::sync::Arc<Pool>>>> =
    std::sync::OnceLock::new();

/// Pools kept at most; past it the cache starts again (old pools close when their jobs end).
const MAX_POOLS: usize = 64;

async fn pooled(
    system: &System,
    env: Env<'_>,
    access: Access,
) -> Result<std::sync::Arc<Pool>, ConnectorError> {
    let c = &system.connector;
    let mut key = format!(
        "{}|{:?}|{:?}|{:?}|{:?}|{:?}",
        system.id.get_ref(),
        access,
        c.kind,
        c.timeout_secs,
        c.rate_per_sec,
        url_for(system, env, access)?
    );
    for var in c.token_env.iter().chain(c.headers_env.values()) {
        key.push('|');
        key.push_str(&env(var.get_ref()).unwrap_or_default());
    }
    let cache = POOLS.get_or_init(Default::default);
    if let Some(p) = cache.lock().expect("pool cache").get(&key) {
        return Ok(p.clone());
    }
    let pool = std::sync::Arc::new(connect(system, env, access).await?);
    let mut cache = cache.lock().expect("pool cache");
    if cache.len() >= MAX_POOLS {
        cache.clear();
    }
    Ok(cache.entry(key).or_insert(pool).clone())
}

async fn gather_with(
    pool: &Pool,
    map: &DataMap,
    system: &System,
    subject: &Subject,
    known: &BTreeMap<String, Rows>,
) -> Result<Vec<Rows>, ConnectorError> {
    let mine: Vec<&Dataset> = map
        .datasets
        .iter()
        .filter(|d| d.system.get_ref() == system.id.get_ref())
        .collect();
    let mut found: BTreeMap<String, Rows> = known.clone();
    let mut done: BTreeSet<String> = BTreeSet::new();
    // Each pass reads the datasets whose references are all settled; the map's checks
    // exclude cycles, so every dataset is read within as many passes as there are datasets.
    for _ in 0..=mine.len() {
        let ready: Vec<&&Dataset> = mine
            .iter()
            .filter(|d| !done.contains(d.id.get_ref()))
            .filter(|d| {
                d.find_by.iter().flat_map(|f| &f.conditions).all(|c| {
                    c.from.as_ref().is_none_or(|from| {
                        let ds = from.get_ref().split('.').next().unwrap_or("");
                        found.contains_key(ds)
                            || done.contains(ds)
                            || map
                                .dataset(ds)
                                .is_none_or(|o| o.system.get_ref() != system.id.get_ref())
                    })
                })
            })
            .collect();
        if ready.is_empty() {
            break;
        }
        for d in ready {
            let rows = read_dataset(pool, system, d, subject, &found).await?;
            done.insert(d.id.get_ref().clone());
            found.insert(d.id.get_ref().clone(), rows);
        }
    }
    Ok(mine
        .iter()
        .filter_map(|d| found.remove(d.id.get_ref()))
        .collect())
}

/// A finder can run only if it is anchored: a finder of unverified keys alone (a phone
/// number, a name, a date of birth) could find another person who shares them, so it must
/// hold the confirmed address, the customer number, or a reference to rows found that way.
fn anchored(finder: &Finder) -> bool {
    finder.conditions.iter().any(|c| {
        c.from.is_some()
            || matches!(
                c.key,
                Some(IdentityKey::Email | IdentityKey::CustomerNumber)
            )
    })
}

/// The values each condition of a finder compares with; `None` when one has none (the
/// finder then finds nothing and does not run).
fn finder_values<'f>(
    finder: &'f Finder,
    subject: &Subject,
    found: &BTreeMap<String, Rows>,
) -> Option<Vec<(&'f Condition, Vec<String>)>> {
    let mut out = Vec::new();
    for c in &finder.conditions {
        let values = match (&c.key, &c.from) {
            (Some(k), None) => subject
                .key(*k)
                .map(|v| vec![v.to_owned()])
                .unwrap_or_default(),
            (None, Some(from)) => {
                let (ds, field) = from.get_ref().split_once('.').unwrap_or(("", ""));
                found.get(ds).map(|r| r.values(field)).unwrap_or_default()
            }
            _ => Vec::new(),
        };
        if values.is_empty() {
            return None;
        }
        out.push((c, values));
    }
    (!out.is_empty()).then_some(out)
}

/// Lookups of one HTTP dataset at most: each combination of values is one request (or more,
/// with pages).
const MAX_LOOKUPS: usize = 1000;

async fn read_dataset(
    pool: &Pool,
    system: &System,
    d: &Dataset,
    subject: &Subject,
    found: &BTreeMap<String, Rows>,
) -> Result<Rows, ConnectorError> {
    let limit = system.connector.row_limit.unwrap_or(DEFAULT_ROW_LIMIT);
    let runnable: Vec<Vec<(&Condition, Vec<String>)>> = d
        .find_by
        .iter()
        .filter(|f| anchored(f))
        .filter_map(|f| finder_values(f, subject, found))
        .collect();
    let searched = !runnable.is_empty();
    let rows = match &pool.driver {
        Driver::Http(client) => {
            let mut lookups: Vec<Vec<Lookup>> = Vec::new();
            for conditions in runnable {
                // Every combination of the conditions' values (most have one value each;
                // a reference brings one per row found).
                let mut combos: Vec<Vec<Lookup>> = vec![Vec::new()];
                for (c, values) in conditions {
                    let field = c.field.get_ref();
                    let param = c.param.clone().unwrap_or_else(|| field.clone());
                    let mut next = Vec::with_capacity(combos.len() * values.len());
                    for combo in &combos {
                        for v in &values {
                            let mut more = combo.clone();
                            more.push(Lookup {
                                field: field.clone(),
                                param: param.clone(),
                                value: v.clone(),
                                any_case: c.key == Some(IdentityKey::Email),
                            });
                            next.push(more);
                        }
                    }
                    combos = next;
                    if combos.len() > MAX_LOOKUPS {
                        return Err(ConnectorError::Query {
                            dataset: d.id.get_ref().clone(),
                            reason: format!(
                                "more than {MAX_LOOKUPS} lookups for one person; check its finders"
                            ),
                        });
                    }
                }
                lookups.extend(combos);
            }
            http::read_dataset(client, d, lookups, limit).await?
        }
        _ => read_sql(pool, system, d, runnable, limit).await?,
    };
    Ok(Rows {
        dataset: d.id.get_ref().clone(),
        fields: d.fields.iter().map(|f| f.name.get_ref().clone()).collect(),
        rows,
        searched,
        withheld: d
            .fields
            .iter()
            .filter_map(|f| f.withhold.map(|g| (f.name.get_ref().clone(), g)))
            .collect(),
    })
}

async fn read_sql(
    pool: &Pool,
    system: &System,
    d: &Dataset,
    runnable: Vec<Vec<(&Condition, Vec<String>)>>,
    limit: u32,
) -> Result<Vec<Vec<Option<String>>>, ConnectorError> {
    let types = column_types(pool, system, d).await?;
    // Rows are counted, not merged: two identical rows are two rows (two identical order
    // lines; an erasure's count must match). A row found by two finders is one row: across
    // finders each distinct row counts as often as the finder that found it most often.
    let mut counts: BTreeMap<Vec<Option<String>>, usize> = BTreeMap::new();
    for finder in runnable {
        let mut this: BTreeMap<Vec<Option<String>>, usize> = BTreeMap::new();
        let conditions: Vec<(String, Vec<String>)> = finder
            .into_iter()
            .map(|(c, v)| {
                let column = c.field.get_ref().clone();
                let v = v.into_iter().filter(|x| fits(&types, &column, x)).collect();
                (column, v)
            })
            .collect();
        // A condition left without a value that could match finds nothing.
        if conditions
            .iter()
            .any(|(_, v): &(String, Vec<String>)| v.is_empty())
        {
            continue;
        }
        // Long reference lists are read in chunks (the first multi-valued condition).
        let split = conditions.iter().position(|(_, v)| v.len() > IN_CHUNK);
        let chunks: Vec<Vec<(String, Vec<String>)>> = match split {
            None => vec![conditions],
            Some(i) => conditions[i]
                .1
                .chunks(IN_CHUNK)
                .map(|chunk| {
                    let mut c = conditions.clone();
                    c[i].1 = chunk.to_vec();
                    c
                })
                .collect(),
        };
        for conditions in chunks {
            let shape: Vec<(String, usize)> = conditions
                .iter()
                .map(|(c, v)| (c.clone(), v.len()))
                .collect();
            let values: Vec<String> = conditions.into_iter().flat_map(|(_, v)| v).collect();
            let sql = format!(
                "{} LIMIT {}",
                select_sql(pool, d, Some(&shape), &types),
                u64::from(limit) + 1
            );
            for row in run(pool, system, d, &sql, &values).await? {
                *this.entry(row).or_default() += 1;
            }
            if this.values().sum::<usize>() > limit as usize {
                return Err(ConnectorError::TooManyRows {
                    dataset: d.id.get_ref().clone(),
                    limit,
                });
            }
        }
        for (row, n) in this {
            let c = counts.entry(row).or_default();
            *c = (*c).max(n);
        }
        if counts.values().sum::<usize>() > limit as usize {
            return Err(ConnectorError::TooManyRows {
                dataset: d.id.get_ref().clone(),
                limit,
            });
        }
    }
    Ok(counts
        .into_iter()
        .flat_map(|(row, n)| std::iter::repeat_n(row, n))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_error_is_said_in_either_language_with_the_maps_names() {
        let e = ConnectorError::MissingCredentials {
            system: "news".into(),
            variable: "NEWS_URL".into(),
        };
        let back = ConnectorError::from_stored(&e.to_stored()).unwrap();
        assert_eq!(back, e);
        let name = |id: &str| {
            if id == "news" {
                "メールマガジン".to_owned()
            } else {
                id.to_owned()
            }
        };
        // A dataset sharing the system's id is still named as a dataset.
        let none = |id: &str| id.to_owned();
        assert_eq!(
            back.words(&name, &none, false),
            "システム「メールマガジン」の接続情報が設定されていません（環境変数 NEWS_URL）"
        );
        let name_en = |id: &str| {
            if id == "news" {
                "Newsletter".to_owned()
            } else {
                id.to_owned()
            }
        };
        assert_eq!(
            back.words(&name_en, &none, true),
            "Newsletter: its connection is not set up (environment variable NEWS_URL)"
        );
        let timeout = ConnectorError::Timeout {
            dataset: "news".into(),
            secs: 10,
        };
        assert_eq!(
            timeout.words(&name, &none, false),
            "「news」が 10 秒以内に応答しませんでした"
        );
        let e = ConnectorError::NotReadable("paper".into());
        assert_eq!(ConnectorError::from_stored(&e.to_stored()), Some(e));
        // Text that is not a stored error is not taken for one.
        assert_eq!(
            ConnectorError::from_stored("waiting for another system"),
            None
        );
    }

    #[test]
    fn blank_and_null_values_are_no_key() {
        let rows = Rows {
            dataset: "customers".into(),
            fields: vec!["id".into(), "code".into()],
            rows: vec![
                vec![Some("1".into()), Some(" ".into())],
                vec![Some("1".into()), None],
                vec![Some("2".into()), Some("".into())],
                vec![Some(" 3 ".into()), Some("A".into())],
            ],
            searched: true,
            withheld: vec![],
        };
        assert_eq!(rows.values("id"), ["1", "2", "3"]);
        assert_eq!(rows.values("code"), ["A"]);
        assert_eq!(rows.values("missing"), Vec::<String>::new());
    }
}
