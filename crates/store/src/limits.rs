//! Attempt counters kept in the database (`rate_limits`), so that every instance behind a load
//! balancer counts the same hits. Each function is one atomic statement: there is no
//! read-then-write gap for concurrent attempts, or two instances, to slip through.
//!
//! Counters are fixed windows: a hit after the window is over starts a new one. Limits that
//! must hold under concurrency count the attempt *before* the secret is checked (a
//! reservation) and [`release`] it when the attempt succeeds, so that at most `limit` checks
//! can ever run in one window, however many arrive at once.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr, Statement, Value};

use crate::StoreError;

/// What a counted attempt may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Go ahead: this is hit number `hits` of the window (1-based).
    Allowed {
        /// Hits in the window, this one included.
        hits: u32,
    },
    /// Over the limit; the window ends this many seconds from now (at least 1).
    Refused {
        /// Seconds until the next attempt can succeed, for `Retry-After`.
        retry_after: u64,
    },
}

impl Admission {
    /// Whether the attempt may go ahead.
    pub fn allowed(self) -> bool {
        matches!(self, Admission::Allowed { .. })
    }
}

/// Counts one hit on `key` and says whether it fits under `limit` per `window_secs`.
/// Both databases run the same statement (`$n` parameters, `ON CONFLICT … RETURNING`).
pub async fn hit<C: ConnectionTrait>(
    conn: &C,
    key: &str,
    limit: u32,
    window_secs: i64,
    now: DateTime<Utc>,
) -> Result<Admission, StoreError> {
    let now = now.timestamp();
    let stale_before = now - window_secs;
    let sql = "INSERT INTO rate_limits (key, hits, window_start) VALUES ($1, 1, $2) \
               ON CONFLICT (key) DO UPDATE SET \
               hits = CASE WHEN rate_limits.window_start <= $3 THEN 1 ELSE rate_limits.hits + 1 END, \
               window_start = CASE WHEN rate_limits.window_start <= $3 THEN $2 ELSE rate_limits.window_start END \
               RETURNING hits, window_start";
    let stmt = Statement::from_sql_and_values(
        conn.get_database_backend(),
        sql,
        [
            Value::from(key.to_owned()),
            Value::from(now),
            Value::from(stale_before),
        ],
    );
    let row = conn
        .query_one_raw(stmt)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("the rate_limits upsert returned no row".into()))?;
    let hits: i64 = row.try_get("", "hits")?;
    let window_start: i64 = row.try_get("", "window_start")?;
    if hits <= i64::from(limit) {
        Ok(Admission::Allowed {
            hits: u32::try_from(hits).unwrap_or(u32::MAX),
        })
    } else {
        let retry_after = (window_start + window_secs - now).max(1);
        Ok(Admission::Refused {
            retry_after: u64::try_from(retry_after).unwrap_or(1),
        })
    }
}

/// Gives back one hit of `key` (an attempt that succeeded does not count against the limit).
pub async fn release<C: ConnectionTrait>(conn: &C, key: &str) -> Result<(), StoreError> {
    let stmt = Statement::from_sql_and_values(
        conn.get_database_backend(),
        "UPDATE rate_limits SET hits = hits - 1 WHERE key = $1 AND hits > 0",
        [Value::from(key.to_owned())],
    );
    conn.execute_raw(stmt).await?;
    Ok(())
}

/// Deletes rows whose window started at or before `before`: they count nothing any more.
pub async fn sweep<C: ConnectionTrait>(conn: &C, before: DateTime<Utc>) -> Result<u64, StoreError> {
    let stmt = Statement::from_sql_and_values(
        conn.get_database_backend(),
        "DELETE FROM rate_limits WHERE window_start <= $1",
        [Value::from(before.timestamp())],
    );
    Ok(conn.execute_raw(stmt).await?.rows_affected())
}
