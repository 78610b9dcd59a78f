//! Rate limits kept in the database, so that every instance behind a load balancer counts
//! the same hits. One atomic upsert per attempt: it starts a new fixed window when the old
//! one is over, otherwise adds one hit, and returns the row; there is no read-then-write gap
//! for two instances to slip through.

use chrono::{DateTime, Utc};
use madoguchi_store::audit::Origin;
use madoguchi_store::sea_orm::{ConnectionTrait, DbErr, Statement, Value};

use crate::{Service, ServiceError};

/// The window the intake limit counts in.
pub const INTAKE_WINDOW_SECS: i64 = 3600;

/// What a rate-limited attempt may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Go ahead.
    Allowed,
    /// Over the limit; the window ends this many seconds from now (at least 1).
    Refused {
        /// Seconds until the next attempt can succeed, for `Retry-After`.
        retry_after: u64,
    },
}

/// Counts one hit on `key` and says whether it fits under `limit` per `window_secs`.
/// Both databases run the same statement (`$n` parameters, `ON CONFLICT … RETURNING`).
pub async fn hit<C: ConnectionTrait>(
    conn: &C,
    key: &str,
    limit: u32,
    window_secs: i64,
    now: DateTime<Utc>,
) -> Result<Admission, ServiceError> {
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
        Ok(Admission::Allowed)
    } else {
        let retry_after = (window_start + window_secs - now).max(1);
        Ok(Admission::Refused {
            retry_after: u64::try_from(retry_after).unwrap_or(1),
        })
    }
}

impl Service {
    /// Deletes rate-limit rows whose window is over: they count nothing any more, and their
    /// keys name client addresses, which are kept no longer than they are needed.
    pub async fn sweep_rate_limits(&self, now: DateTime<Utc>) -> Result<u64, ServiceError> {
        let conn = self.db().conn();
        let stmt = Statement::from_sql_and_values(
            conn.get_database_backend(),
            "DELETE FROM rate_limits WHERE window_start <= $1",
            [Value::from(now.timestamp() - INTAKE_WINDOW_SECS)],
        );
        Ok(conn.execute_raw(stmt).await?.rows_affected())
    }

    /// Takes one of the client address's intake slots for this hour
    /// (`MADOGUCHI_INTAKE_PER_IP_PER_HOUR`; `0` admits everything). The address is the one
    /// the login throttle uses; requests without one share the key `unknown`.
    pub async fn admit_intake(
        &self,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<Admission, ServiceError> {
        let limit = self.config().intake_per_ip_per_hour;
        if limit == 0 {
            return Ok(Admission::Allowed);
        }
        let key = format!("intake:{}", origin.ip.as_deref().unwrap_or("unknown"));
        hit(self.db().conn(), &key, limit, INTAKE_WINDOW_SECS, now).await
    }
}
