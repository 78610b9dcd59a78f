//! Audit jobs: checkpoints, verification, and the alert when verification fails.

use chrono::{DateTime, Utc};
use madoguchi_domain::Mail;
use madoguchi_store::audit::{self, Break, Summary};

use crate::{Service, ServiceError};

/// The periodic verification's name in `timer_jobs`.
pub const VERIFY_JOB: &str = "audit_verify";

impl Service {
    /// Writes a checkpoint if anything moved since the last one.
    pub async fn audit_checkpoint(&self, now: DateTime<Utc>) -> Result<Option<i64>, ServiceError> {
        Ok(audit::write_checkpoint(self.db().conn(), now).await?)
    }

    /// Verifies the whole trail.
    pub async fn verify_audit(&self) -> Result<Result<Summary, Break>, ServiceError> {
        Ok(audit::verify(self.db().conn()).await?)
    }

    /// The hourly verification, run by whichever instance claims it first. `None` when it
    /// was not due here.
    pub async fn verify_audit_if_due(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Option<Result<Summary, Break>>, ServiceError> {
        let hour = chrono::Duration::hours(1);
        let claimed =
            madoguchi_store::jobs::claim(self.db().conn(), VERIFY_JOB, now + hour, now, now + hour)
                .await?;
        if !claimed {
            return Ok(None);
        }
        Ok(Some(self.verify_audit_and_alert(now).await?))
    }

    /// Verifies and, on failure, e-mails the privacy office (once per run).
    pub async fn verify_audit_and_alert(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Result<Summary, Break>, ServiceError> {
        let result = self.verify_audit().await?;
        if let Err(b) = &result {
            tracing::error!(chain = %b.chain, seq = b.seq, "audit trail verification failed");
            self.notify_office(
                Mail::StaffAuditFailed,
                format!("{} #{}: {}", b.chain, b.seq, b.reason),
                format!("{}/staff/audit", self.config().base_url),
                now,
            )
            .await?;
        }
        Ok(result)
    }
}

/// Filters for the global trail.
#[derive(Debug, Clone, Default)]
pub struct TrailFilter {
    /// `subject`, `staff`, `system`, `webhook`.
    pub actor_kind: Option<String>,
    /// A staff member's public id.
    pub actor_id: Option<String>,
    /// Action prefix, e.g. `login.` or `data.viewed`.
    pub action: Option<String>,
    /// One request (by row id).
    pub request_id: Option<i64>,
    /// From this instant.
    pub from: Option<DateTime<Utc>>,
    /// Until this instant.
    pub until: Option<DateTime<Utc>>,
    /// Keyset: entries with a smaller id than this (newest first).
    pub before_id: Option<i64>,
    /// Keyset for exports: entries with a larger id (oldest first).
    pub after_id: Option<i64>,
    /// Page size.
    pub limit: u64,
}

impl Service {
    /// A page of the trail (newest first, or oldest first when `after_id` is set).
    pub async fn audit_trail(
        &self,
        f: &TrailFilter,
    ) -> Result<Vec<madoguchi_store::entities::audit_entry::Model>, ServiceError> {
        use madoguchi_store::entities::audit_entry::{Column, Entity};
        use madoguchi_store::sea_orm::{
            ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
        };
        let mut q = Entity::find();
        if let Some(k) = &f.actor_kind {
            q = q.filter(Column::ActorKind.eq(k.clone()));
        }
        if let Some(a) = &f.actor_id {
            q = q.filter(Column::ActorId.eq(a.clone()));
        }
        if let Some(a) = &f.action {
            q = q.filter(Column::Action.starts_with(a.clone()));
        }
        if let Some(r) = f.request_id {
            q = q.filter(Column::RequestId.eq(r));
        }
        if let Some(t) = f.from {
            q = q.filter(Column::At.gte(t));
        }
        if let Some(t) = f.until {
            q = q.filter(Column::At.lte(t));
        }
        if let Some(id) = f.before_id {
            q = q.filter(Column::Id.lt(id));
        }
        q = match f.after_id {
            Some(id) => q.filter(Column::Id.gt(id)).order_by_asc(Column::Id),
            None => q.order_by_desc(Column::Id),
        };
        Ok(q.limit(f.limit.clamp(1, 5000))
            .all(self.db().conn())
            .await?)
    }
}
