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

/// The client a limit is keyed on: its IPv4 address, or the /64 network of its IPv6 address
/// (one home line or host is handed a whole /64, so counting single addresses would let it
/// take as many quotas as it likes). Requests without an address share the key `unknown`.
pub(crate) fn client(origin: &Origin) -> String {
    let Some(ip) = origin.ip.as_deref() else {
        return "unknown".to_owned();
    };
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        Ok(v4) => v4.to_string(),
        Err(_) => ip.to_owned(),
    }
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
        self.admit_keyed("intake", origin, now).await
    }

    /// One of the client address's slots this hour for a public form (`what`: `intake`,
    /// `complaint`), each form counted apart under the intake's limit.
    pub(crate) async fn admit_keyed(
        &self,
        what: &str,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<Admission, ServiceError> {
        let limit = self.config().intake_per_ip_per_hour;
        if limit == 0 {
            return Ok(Admission::Allowed { hits: 0 });
        }
        let key = format!("{what}:{}", client(origin));
        Ok(limits::hit(self.db().conn(), &key, limit, INTAKE_WINDOW_SECS, now).await?)
    }

    /// Takes one of the client's access-code slots for this request, one of its slots overall,
    /// and one of the request's own (`access::MAX_CODES_PER_HOUR`), each counted atomically.
    pub(crate) async fn admit_code_request(
        &self,
        request_id: i64,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<Admission, ServiceError> {
        let conn = self.db().conn();
        let ip = client(origin);
        let ip = ip.as_str();
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
        let per_client = limits::hit(
            conn,
            &format!("code:{ip}"),
            CODES_PER_CLIENT,
            INTAKE_WINDOW_SECS,
            now,
        )
        .await?;
        if !per_client.allowed() {
            return Ok(per_client);
        }
        Ok(limits::hit(
            conn,
            &format!("code-request:{request_id}"),
            crate::access::MAX_CODES_PER_HOUR,
            INTAKE_WINDOW_SECS,
            now,
        )
        .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(ip: &str) -> String {
        client(&Origin {
            ip: Some(ip.to_owned()),
            user_agent: None,
        })
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        assert_eq!(of("192.0.2.7"), "192.0.2.7");
        assert_eq!(of("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(of("2001:db8:1:2:bbbb:cccc:dddd:eeee"), "2001:db8:1:2::/64");
        assert_ne!(of("2001:db8:1:3::1"), "2001:db8:1:2::/64");
        assert_eq!(
            of("::ffff:192.0.2.7"),
            "192.0.2.7",
            "a mapped IPv4 is the IPv4"
        );
        assert_eq!(client(&Origin::default()), "unknown");
    }
}
