//! Rate limits kept in the database (the counters are `madoguchi_store::limits`), so that
//! every instance behind a load balancer counts the same hits.

use chrono::{DateTime, Duration, Utc};
use madoguchi_store::audit::Origin;
use madoguchi_store::limits;
pub use madoguchi_store::limits::Admission;

use crate::{Service, ServiceError};

/// The window the intake limit counts in.
pub const INTAKE_WINDOW_SECS: i64 = 3600;
/// Access codes one client may ask for, per request, per hour. Below the request's own
/// allowance, so that a stranger who knows a request's public id cannot spend it all.
pub const CODES_PER_CLIENT_PER_REQUEST: u32 = 3;
/// Access codes one client may ask for, over all requests, per hour.
pub const CODES_PER_CLIENT: u32 = 30;

/// The client address a limit is keyed on; requests without one share the key `unknown`.
pub(crate) fn client(origin: &Origin) -> &str {
    origin.ip.as_deref().unwrap_or("unknown")
}

impl Service {
    /// Deletes rate-limit rows whose window is over: they count nothing any more, and their
    /// keys name client addresses, which are kept no longer than they are needed.
    pub async fn sweep_rate_limits(&self, now: DateTime<Utc>) -> Result<u64, ServiceError> {
        Ok(limits::sweep(
            self.db().conn(),
            now - Duration::seconds(INTAKE_WINDOW_SECS),
        )
        .await?)
    }

    /// Takes one of the client address's intake slots for this hour
    /// (`MADOGUCHI_INTAKE_PER_IP_PER_HOUR`; `0` admits everything). The address is the one
    /// the login throttle uses.
    pub async fn admit_intake(
        &self,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<Admission, ServiceError> {
        let limit = self.config().intake_per_ip_per_hour;
        if limit == 0 {
            return Ok(Admission::Allowed { hits: 0 });
        }
        let key = format!("intake:{}", client(origin));
        Ok(limits::hit(self.db().conn(), &key, limit, INTAKE_WINDOW_SECS, now).await?)
    }

    /// Takes one of the client's access-code slots for this request and one of its slots
    /// overall. The request's own hourly allowance is counted by `send_access_code`.
    pub(crate) async fn admit_code_request(
        &self,
        request_id: i64,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<Admission, ServiceError> {
        let conn = self.db().conn();
        let ip = client(origin);
        let per_request = limits::hit(
            conn,
            &format!("code:{request_id}:{ip}"),
            CODES_PER_CLIENT_PER_REQUEST,
            INTAKE_WINDOW_SECS,
            now,
        )
        .await?;
        if !per_request.allowed() {
            return Ok(per_request);
        }
        Ok(limits::hit(
            conn,
            &format!("code:{ip}"),
            CODES_PER_CLIENT,
            INTAKE_WINDOW_SECS,
            now,
        )
        .await?)
    }
}
