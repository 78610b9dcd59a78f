//! `incidents` table. Mirrors the migration; hand-written models live in the parent module.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "incidents")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub pid: Uuid,
    #[sea_orm(unique)]
    pub number: String,
    pub aware_on: Date,
    pub special_care: bool,
    pub financial_risk: bool,
    pub unlawful_intent: bool,
    pub people: i32,
    pub protected: bool,
    pub entrusted_by: Option<String>,
    /// The report's items as JSON, sealed (`incident:<pid>:report`).
    pub report: String,
    pub prelim_at: Option<DateTimeUtc>,
    pub prelim_ref: Option<String>,
    pub final_at: Option<DateTimeUtc>,
    pub final_ref: Option<String>,
    /// Where the people could not be told: the day the incident was published instead...
    pub published_on: Option<Date>,
    /// ...and where (a page's address, a notice's description). Not personal data.
    pub published_how: Option<String>,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
