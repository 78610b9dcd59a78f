//! Settings an administrator changes at run time, stored in the database so every instance
//! sees them, each change audited on the `settings` chain.

use chrono::{DateTime, SubsecRound, Utc};
use madoguchi_domain::FeeSchedule;
use madoguchi_store::audit::Origin;
use madoguchi_store::entities::setting;
use madoguchi_store::sea_orm::{ActiveValue::Set, EntityTrait, sea_query::OnConflict};

use crate::staff::{StaffIdentity, audit_entry};
use crate::{Service, ServiceError};

const FEES: &str = "fees";

impl Service {
    /// The fee schedule in force: the administrator's, else the configuration's.
    pub async fn fee_schedule(&self) -> Result<FeeSchedule, ServiceError> {
        let stored = setting::Entity::find_by_id(FEES.to_owned())
            .one(self.db().conn())
            .await?;
        Ok(stored
            .and_then(|s| serde_json::from_str::<FeeSchedule>(&s.value).ok())
            .filter(|f| f.validate().is_ok())
            .unwrap_or_else(|| self.config().fees.clone()))
    }

    /// Replaces the fee schedule after checking it against Art. 38.
    pub async fn set_fee_schedule(
        &self,
        fees: FeeSchedule,
        who: &StaffIdentity,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        fees.validate().map_err(|_| ServiceError::Invalid("fees"))?;
        let value = serde_json::to_string(&fees).expect("a fee schedule serialises");
        let row = setting::ActiveModel {
            key: Set(FEES.to_owned()),
            value: Set(value.clone()),
            updated_at: Set(now.trunc_subsecs(6)),
        };
        setting::Entity::insert(row)
            .on_conflict(
                OnConflict::column(setting::Column::Key)
                    .update_columns([setting::Column::Value, setting::Column::UpdatedAt])
                    .to_owned(),
            )
            .exec(self.db().conn())
            .await?;
        let detail: Vec<(&str, String)> = madoguchi_domain::RequestKind::ALL
            .into_iter()
            .map(|k| (k.as_str(), fees.fee(k).0.to_string()))
            .collect();
        self.audit_named(
            "settings",
            audit_entry(&who.actor(), "settings.fees_changed", detail),
            origin,
            now,
        )
        .await
    }
}
