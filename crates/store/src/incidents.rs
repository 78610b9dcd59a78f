//! The incident register's rows: written in one transaction with their entry on the
//! `incidents` audit chain (the service builds the entry), changed only at the version read
//! (two officers at once: one wins, the other is told), the report's items sealed.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use madoguchi_domain::incident::IncidentFacts;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use crate::audit::{NewEntry, Origin};
use crate::entities::incident;
use crate::sealed::RowCipher;
use crate::{Db, StoreError};

/// The report's items by key (`summary`, `cause`, …), as the officer wrote them.
pub type Report = BTreeMap<String, String>;

/// An incident as read back: its facts, its report opened, its reports' dates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    /// The row.
    pub row: incident::Model,
    /// The facts the rules apply to.
    pub facts: IncidentFacts,
    /// The report's items.
    pub report: Report,
}

fn report_aad(pid: Uuid) -> String {
    format!("incident:{pid}:report")
}

fn read(cipher: &RowCipher, row: incident::Model) -> Result<Incident, StoreError> {
    let report = cipher.open(&report_aad(row.pid), &row.report)?;
    let report: Report = serde_json::from_str(&report)
        .map_err(|_| StoreError::Corrupt(format!("incident {}: report", row.number)))?;
    let facts = IncidentFacts {
        aware_on: row.aware_on,
        special_care: row.special_care,
        financial_risk: row.financial_risk,
        unlawful_intent: row.unlawful_intent,
        people: u32::try_from(row.people).unwrap_or(0),
        protected: row.protected,
        entrusted_by: row.entrusted_by.clone(),
    };
    Ok(Incident { row, facts, report })
}

/// Every incident, newest first.
pub async fn all<C: ConnectionTrait>(
    db: &C,
    cipher: &RowCipher,
) -> Result<Vec<Incident>, StoreError> {
    incident::Entity::find()
        .order_by_desc(incident::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|r| read(cipher, r))
        .collect()
}

/// One incident by its public id.
pub async fn by_pid<C: ConnectionTrait>(
    db: &C,
    cipher: &RowCipher,
    pid: Uuid,
) -> Result<Incident, StoreError> {
    let row = incident::Entity::find()
        .filter(incident::Column::Pid.eq(pid))
        .one(db)
        .await?
        .ok_or(StoreError::NotFound)?;
    read(cipher, row)
}

/// Opens an incident with its entry; returns its public id and number.
pub async fn open(
    db: &Db,
    cipher: &RowCipher,
    facts: &IncidentFacts,
    report: &Report,
    entry: impl FnOnce(&str) -> NewEntry,
    origin: &Origin,
    now: DateTime<Utc>,
) -> Result<(Uuid, String), StoreError> {
    let at = now.trunc_subsecs(6);
    let tx = db.begin_write().await?;
    let year = madoguchi_domain::jst_date(now).format("%Y").to_string();
    let n = crate::counters::bump(&tx, &format!("incident_number_{year}")).await?;
    let number = format!("I-{year}-{n:04}");
    let pid = Uuid::new_v4();
    let report = serde_json::to_string(report).expect("a report serialises");
    incident::Entity::insert(incident::ActiveModel {
        pid: Set(pid),
        number: Set(number.clone()),
        aware_on: Set(facts.aware_on),
        special_care: Set(facts.special_care),
        financial_risk: Set(facts.financial_risk),
        unlawful_intent: Set(facts.unlawful_intent),
        people: Set(i32::try_from(facts.people).unwrap_or(i32::MAX)),
        protected: Set(facts.protected),
        entrusted_by: Set(facts.entrusted_by.clone()),
        report: Set(cipher.seal(&report_aad(pid), &report)),
        prelim_at: Set(None),
        prelim_ref: Set(None),
        final_at: Set(None),
        final_ref: Set(None),
        version: Set(1),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    })
    .exec(&tx)
    .await?;
    crate::change::record_office(&tx, "incidents", &[entry(&number)], origin, now).await?;
    tx.commit().await?;
    Ok((pid, number))
}

/// A change to an incident, made at the version it was read at.
#[derive(Debug, Clone)]
pub enum IncidentChange {
    /// New facts and report items.
    Edit {
        /// The facts.
        facts: IncidentFacts,
        /// The report's items.
        report: Report,
    },
    /// The 速報 (or the notice to the entruster) went, on this day, under this reference.
    Preliminary {
        /// When.
        on: NaiveDate,
        /// Its reference (受付番号 of the Commission's form, a letter's number).
        reference: String,
    },
    /// The 確報 went.
    Final {
        /// When.
        on: NaiveDate,
        /// Its reference.
        reference: String,
    },
}

/// Applies a change with its entry in one transaction; refused (`Conflict`) unless the row is
/// still at `version`, and a report already recorded is not recorded again.
#[expect(
    clippy::too_many_arguments,
    reason = "the row, its version, the change, its entry and the commit's context"
)]
pub async fn change(
    db: &Db,
    cipher: &RowCipher,
    pid: Uuid,
    version: i32,
    change: IncidentChange,
    entry: NewEntry,
    origin: &Origin,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    use incident::Column as C;
    let at = now.trunc_subsecs(6);
    let noon = |d: NaiveDate| d.and_hms_opt(3, 0, 0).expect("a time").and_utc();
    let tx = db.begin_write().await?;
    let mut update = incident::Entity::update_many()
        .col_expr(C::Version, Expr::col(C::Version).add(1))
        .col_expr(C::UpdatedAt, Expr::value(at))
        .filter(C::Pid.eq(pid))
        .filter(C::Version.eq(version));
    match change {
        IncidentChange::Edit { facts, report } => {
            let report = serde_json::to_string(&report).expect("a report serialises");
            update = update
                .col_expr(C::AwareOn, Expr::value(facts.aware_on))
                .col_expr(C::SpecialCare, Expr::value(facts.special_care))
                .col_expr(C::FinancialRisk, Expr::value(facts.financial_risk))
                .col_expr(C::UnlawfulIntent, Expr::value(facts.unlawful_intent))
                .col_expr(
                    C::People,
                    Expr::value(i32::try_from(facts.people).unwrap_or(i32::MAX)),
                )
                .col_expr(C::Protected, Expr::value(facts.protected))
                .col_expr(C::EntrustedBy, Expr::value(facts.entrusted_by))
                .col_expr(
                    C::Report,
                    Expr::value(cipher.seal(&report_aad(pid), &report)),
                );
        }
        IncidentChange::Preliminary { on, reference } => {
            update = update
                .col_expr(C::PrelimAt, Expr::value(Some(noon(on))))
                .col_expr(C::PrelimRef, Expr::value(Some(reference)))
                .filter(C::PrelimAt.is_null());
        }
        IncidentChange::Final { on, reference } => {
            update = update
                .col_expr(C::FinalAt, Expr::value(Some(noon(on))))
                .col_expr(C::FinalRef, Expr::value(Some(reference)))
                .filter(C::FinalAt.is_null());
        }
    }
    let changed = update.exec(&tx).await?;
    if changed.rows_affected != 1 {
        return Err(StoreError::Conflict);
    }
    crate::change::record_office(&tx, "incidents", &[entry], origin, now).await?;
    tx.commit().await?;
    Ok(())
}

/// Re-seals every incident report not sealed under the current key; returns how many
/// changed (one changed meanwhile is left for the next run: compare-and-set).
pub async fn reseal_all<C: ConnectionTrait>(
    db: &C,
    cipher: &RowCipher,
) -> Result<usize, StoreError> {
    let (mut after, mut changed) = (0_i64, 0);
    loop {
        let rows = incident::Entity::find()
            .filter(incident::Column::Id.gt(after))
            .order_by_asc(incident::Column::Id)
            .limit(200)
            .all(db)
            .await?;
        let Some(last) = rows.last() else {
            return Ok(changed);
        };
        after = last.id;
        for row in rows {
            if cipher.is_current(&row.report) {
                continue;
            }
            let aad = report_aad(row.pid);
            let plain = cipher.open(&aad, &row.report)?;
            let r = incident::Entity::update_many()
                .col_expr(
                    incident::Column::Report,
                    Expr::value(cipher.seal(&aad, &plain)),
                )
                .filter(incident::Column::Id.eq(row.id))
                .filter(incident::Column::Report.eq(row.report))
                .exec(db)
                .await?;
            changed += r.rows_affected as usize;
        }
    }
}
