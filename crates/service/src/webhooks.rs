//! Outgoing webhooks (issue 20): an administrator registers endpoints and the events each
//! wants; each change a request goes through writes its deliveries in its own transaction
//! (`store::change::commit`), and a sender on every instance claims them (one instance per
//! delivery), signs and posts them, retries with backoff and gives up after the last try,
//! which an administrator can replay. A payload carries no personal data: the request's
//! number, kind, state, due day and a link to its staff page.
//!
//! Signature: `Madoguchi-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`
//! under the endpoint's secret (shown once when it is registered).

use chrono::{DateTime, Duration, Utc};
use hmac::{KeyInit, Mac};
pub use madoguchi_connectors::webhook::WebhookClient;
use madoguchi_connectors::webhook::checked_url;
use madoguchi_store::audit::Origin;
pub use madoguchi_store::entities::{webhook_delivery, webhook_endpoint};
use madoguchi_store::webhooks::{self, Claimed, Outcome};
use uuid::Uuid;

use crate::staff::{StaffIdentity, audit_entry};
use crate::{Service, ServiceError};

/// The events an endpoint can ask for: (stable name, ja, en).
pub const EVENTS: [(&str, &str, &str); 7] = [
    ("request.filed", "請求の受付", "A request is filed"),
    (
        "request.state_changed",
        "請求の状態の変化",
        "A request changes state",
    ),
    (
        "request.deadline_near",
        "請求の期限が3日以内",
        "A request is due within 3 days",
    ),
    ("request.overdue", "請求の期限超過", "A request is overdue"),
    (
        "connector.failed",
        "社内システムとの連携の失敗",
        "A connector job failed for good",
    ),
    (
        "incident.deadline_near",
        "漏えい等の報告期限が近い",
        "An incident report is due soon",
    ),
    (
        "incident.overdue",
        "漏えい等の報告期限超過",
        "An incident report is overdue",
    ),
];

/// The timer job that looks for deadlines to report.
pub const DEADLINES_JOB: &str = "webhook_deadlines";
/// A request is "near" its deadline this many days before it (the digest's window).
const NEAR_DAYS: i64 = 3;
/// Requests looked at per run (soonest first; the rest are found by the next run).
const DEADLINE_ROWS: u64 = 1000;

/// Tries per delivery: the first and six retries, after these waits.
const BACKOFF_SECS: [i64; 6] = [10, 60, 300, 1800, 7200, 21600];

/// The signature header's value for `body` sent at `t`.
pub fn signature(secret: &str, t: i64, body: &[u8]) -> String {
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

impl Service {
    /// Writes the deadline events (a request due within three days or overdue, an incident
    /// report due soon or overdue) for the endpoints that want them, once per request and due
    /// day (or incident, stage and due day) whatever the number of instances: hourly, on the
    /// instance that claims the run. Returns the deliveries written.
    pub async fn webhook_deadlines(&self, now: DateTime<Utc>) -> Result<u64, ServiceError> {
        let conn = self.db().conn();
        let wanted = [
            "request.deadline_near",
            "request.overdue",
            "incident.deadline_near",
            "incident.overdue",
        ];
        if !webhooks::anyone_wants(conn, &wanted).await? {
            return Ok(0);
        }
        if !madoguchi_store::jobs::claim(conn, DEADLINES_JOB, now, now, now + Duration::hours(1))
            .await?
        {
            return Ok(0);
        }
        let today = madoguchi_domain::jst_date(now);
        let mut found = Vec::new();
        let due = webhooks::requests_due_before(
            conn,
            today + Duration::days(NEAR_DAYS + 1),
            DEADLINE_ROWS,
        )
        .await?;
        for r in &due {
            let event = if r.due_on < today {
                "request.overdue"
            } else {
                "request.deadline_near"
            };
            found.push(webhooks::Found {
                event,
                payload: webhooks::request_payload(r, &r.state, None, r.due_on),
                key: format!("{event}:{}:{}", r.pid, r.due_on),
            });
        }
        for v in self.incidents_due(today).await? {
            let Some((stage, due_on)) = v.next_due() else {
                continue;
            };
            let event = if due_on < today {
                "incident.overdue"
            } else {
                "incident.deadline_near"
            };
            let row = &v.incident.row;
            found.push(webhooks::Found {
                event,
                payload: serde_json::json!({ "data": {
                    "number": row.number,
                    "report": stage,
                    "due_on": due_on.to_string(),
                    "path": format!("/staff/incidents/{}", row.pid),
                }}),
                key: format!("{event}:{}:{stage}:{due_on}", row.pid),
            });
        }
        Ok(webhooks::enqueue_found(self.db(), &found, now).await?)
    }

    /// Registers an endpoint for `events`; returns its public id and its signing secret
    /// (shown once: only its sealed form is kept).
    pub async fn add_webhook(
        &self,
        url: &str,
        events: &[&str],
        who: &StaffIdentity,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(Uuid, String), ServiceError> {
        let Some((url, host)) = checked_url(url) else {
            return Err(ServiceError::Invalid("webhook_url"));
        };
        let url = url.as_str();
        // A page refreshed after adding one must not add it twice (every event would go
        // twice, under two secrets).
        if webhooks::active_url(self.db().conn(), url).await? {
            return Err(ServiceError::Invalid("webhook_duplicate"));
        }
        if events.is_empty() || !events.iter().all(|e| EVENTS.iter().any(|(n, _, _)| n == e)) {
            return Err(ServiceError::Invalid("webhook_events"));
        }
        let secret = format!("whsec_{}", madoguchi_store::secrets::random_token());
        let actor = who.actor();
        let joined = events.join(",");
        let pid = webhooks::add_endpoint(
            self.db(),
            self.cipher(),
            (url, events, &secret),
            |pid| {
                audit_entry(
                    &actor,
                    "webhook.added",
                    vec![
                        ("endpoint", pid.to_string()),
                        ("host", host),
                        ("events", joined),
                    ],
                )
            },
            origin,
            now,
        )
        .await?;
        Ok((pid, secret))
    }

    /// Stops an endpoint.
    pub async fn disable_webhook(
        &self,
        pid: Uuid,
        who: &StaffIdentity,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let entry = audit_entry(
            &who.actor(),
            "webhook.disabled",
            vec![("endpoint", pid.to_string())],
        );
        Ok(webhooks::disable_endpoint(self.db(), pid, entry, origin, now).await?)
    }

    /// Every endpoint, newest first.
    pub async fn webhook_endpoints(&self) -> Result<Vec<webhook_endpoint::Model>, ServiceError> {
        Ok(webhooks::endpoints(self.db().conn()).await?)
    }

    /// The latest deliveries, newest first.
    pub async fn webhook_deliveries(&self) -> Result<Vec<webhook_delivery::Model>, ServiceError> {
        Ok(webhooks::recent(self.db().conn(), 100).await?)
    }

    /// Sends a failed delivery again.
    pub async fn replay_webhook(
        &self,
        pid: Uuid,
        who: &StaffIdentity,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let entry = audit_entry(
            &who.actor(),
            "webhook.replayed",
            vec![("delivery", pid.to_string())],
        );
        match webhooks::replay(self.db(), pid, entry, origin, now).await {
            Err(madoguchi_store::StoreError::Conflict) => Err(ServiceError::Repeated("replay")),
            other => Ok(other?),
        }
    }

    /// Claims the deliveries due and sends them; returns how many were tried.
    pub async fn deliver_webhooks(
        &self,
        client: &WebhookClient,
        now: DateTime<Utc>,
    ) -> Result<usize, ServiceError> {
        // A batch is sent within its lease: five tries of at most ten seconds each, under a
        // two-minute lease, so no other instance takes a delivery over while it is sent.
        let claimed =
            webhooks::claim(self.db(), self.cipher(), 5, Duration::seconds(120), now).await?;
        let n = claimed.len();
        for c in claimed {
            let outcome = self.send_one(client, &c).await;
            webhooks::finish(
                self.db().conn(),
                c.delivery.id,
                c.delivery.claim_id,
                outcome,
                Utc::now(),
            )
            .await?;
        }
        Ok(n)
    }

    async fn send_one(&self, client: &WebhookClient, c: &Claimed) -> Outcome {
        let mut body = webhooks::body(&c.delivery);
        // The link to the staff page, from this deployment's public address.
        if let Some(path) = body["data"]["path"].as_str() {
            body["data"]["link"] =
                serde_json::Value::String(format!("{}{path}", self.config().base_url));
        }
        let body = body.to_string().into_bytes();
        let t = Utc::now().timestamp();
        let headers = [
            (
                "Madoguchi-Signature",
                signature(&c.endpoint.secret, t, &body),
            ),
            ("Madoguchi-Event", c.delivery.event.clone()),
            ("Madoguchi-Delivery", c.delivery.pid.to_string()),
        ];
        let tried = usize::try_from(c.delivery.attempts).unwrap_or(usize::MAX);
        let answer = client.post(&c.endpoint.row.url, &headers, body).await;
        // Counted from the try's end (a timeout is ten seconds long).
        let retry_at = BACKOFF_SECS
            .get(tried.saturating_sub(1))
            .map(|s| Utc::now() + Duration::seconds(*s));
        match answer {
            Ok(status) if (200..300).contains(&status) => Outcome::Delivered { status },
            Ok(status) => Outcome::NotDelivered {
                status: Some(status),
                error: format!("HTTP {status}"),
                retry_at,
            },
            Err(error) => Outcome::NotDelivered {
                status: None,
                error,
                retry_at,
            },
        }
    }
}
