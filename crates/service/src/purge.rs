//! Madoguchi's own register kept no longer than needed (APPI Art. 22): a closed request's
//! personal data are erased once the retention period has passed. Its number, kind, dates,
//! outcome and grounds stay, and its audit chain still verifies (the trail never held the
//! personal data).

use chrono::{DateTime, Duration, Utc};
use madoguchi_domain::{Actor, AuditOnly};
use madoguchi_store::audit::Origin;
use madoguchi_store::change::Write;
use madoguchi_store::entities::request;
use madoguchi_store::sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use crate::{Service, ServiceError};

/// Requests purged per sweep: the timer comes back for the rest.
const PER_SWEEP: u64 = 200;

impl Service {
    /// Erases the personal data of requests closed longer ago than the retention period,
    /// each in its own change with its entry on the request's trail. Returns how many.
    pub async fn purge_closed_requests(&self, now: DateTime<Utc>) -> Result<usize, ServiceError> {
        let days = self.settings().await?.retention.records_days;
        let before = now - Duration::days(i64::from(days));
        let due: Vec<Uuid> = request::Entity::find()
            .select_only()
            .column(request::Column::Pid)
            .filter(request::Column::ClosedAt.lt(before))
            .filter(request::Column::PurgedAt.is_null())
            .order_by_asc(request::Column::ClosedAt)
            .limit(PER_SWEEP)
            .into_tuple()
            .all(self.db().conn())
            .await?;
        let mut purged = 0;
        for pid in due {
            // An index no other request shares: the address's own is gone with it.
            let email_index = self.cipher().email_index(&format!("purged:{pid}"));
            match self
                .record(
                    pid,
                    vec![AuditOnly::RequestPurged],
                    &Actor::System,
                    vec![Write::PurgeRequest { email_index }],
                    Vec::new(),
                    &Origin::default(),
                    now,
                )
                .await
            {
                Ok(_) => purged += 1,
                // Another instance purged it first.
                Err(ServiceError::Repeated(_)) => {}
                Err(e) => return Err(e),
            }
        }
        if purged > 0 {
            tracing::info!(
                purged,
                "closed requests' personal data erased at the end of retention"
            );
        }
        Ok(purged)
    }
}
