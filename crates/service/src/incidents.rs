//! The incident register (漏えい等, Art. 26): an officer records what happened; the domain
//! says whether and by when it must be reported; each change is one transaction with its
//! entry on the `incidents` chain (no personal data in the entry: the report's words are
//! sealed on the row).

use chrono::{DateTime, NaiveDate, Utc};
use madoguchi_domain::incident::{Assessment, IncidentFacts, REPORT_ITEMS, ReportTo, assess};
use madoguchi_store::audit::Origin;
use madoguchi_store::incidents;
pub use madoguchi_store::incidents::{Incident, IncidentChange, Report};
use uuid::Uuid;

use crate::staff::{StaffIdentity, audit_entry};
use crate::{Service, ServiceError};

/// An incident with what the rules make of it.
#[derive(Debug, Clone)]
pub struct IncidentView {
    /// The stored incident.
    pub incident: Incident,
    /// Reportable? To whom, by when?
    pub assessment: Assessment,
}

impl IncidentView {
    fn of(incident: Incident) -> Self {
        let assessment = assess(&incident.facts);
        IncidentView {
            incident,
            assessment,
        }
    }

    /// The next report still owed and its last day: the 速報 (or the entruster's notice),
    /// then the 確報; none once all that is due went, or when nothing is reportable.
    pub fn next_due(&self) -> Option<(&'static str, NaiveDate)> {
        let row = &self.incident.row;
        match (row.prelim_at, row.final_at) {
            (None, _) => self.assessment.prelim_due.map(|d| ("preliminary", d)),
            (Some(_), None) => self.assessment.final_due.map(|d| ("final", d)),
            _ => None,
        }
    }
}

/// The longest report item, in characters.
pub const MAX_ITEM_CHARS: usize = 4000;

fn check(facts: &IncidentFacts, report: &Report, today: NaiveDate) -> Result<(), ServiceError> {
    if facts.aware_on > today {
        return Err(ServiceError::Invalid("aware_on"));
    }
    if let Some(e) = &facts.entrusted_by
        && (e.trim().is_empty() || e.chars().count() > 200 || e.contains(['\r', '\n']))
    {
        return Err(ServiceError::Invalid("entrusted_by"));
    }
    for (key, text) in report {
        if !REPORT_ITEMS.iter().any(|(k, _, _)| k == key) {
            return Err(ServiceError::Invalid("report"));
        }
        if text.chars().count() > MAX_ITEM_CHARS {
            return Err(ServiceError::Invalid("report"));
        }
    }
    Ok(())
}

/// What the trail says of an assessment (rules and dates, never the report's words).
fn assessment_detail(a: &Assessment) -> Vec<(&'static str, String)> {
    let criteria: Vec<&str> = a
        .criteria
        .iter()
        .map(|c| match c {
            madoguchi_domain::incident::Criterion::SpecialCare => "7(1)",
            madoguchi_domain::incident::Criterion::FinancialDamage => "7(2)",
            madoguchi_domain::incident::Criterion::UnlawfulPurpose => "7(3)",
            madoguchi_domain::incident::Criterion::OverThousand => "7(4)",
        })
        .collect();
    let report_to = match a.report_to {
        ReportTo::Nobody => "none",
        ReportTo::Commission => "commission",
        ReportTo::Entruster(_) => "entruster",
    };
    let day = |d: Option<NaiveDate>| d.map(|d| d.to_string()).unwrap_or_default();
    vec![
        ("criteria", criteria.join(",")),
        ("report_to", report_to.to_owned()),
        ("prelim_due", day(a.prelim_due)),
        ("final_due", day(a.final_due)),
    ]
}

/// An incident report due within this many days is warned about (dashboard, digest).
pub const WARN_WITHIN_DAYS: i64 = 2;

impl Service {
    /// Incidents whose next report is overdue or due within [`WARN_WITHIN_DAYS`].
    pub async fn incidents_due(&self, today: NaiveDate) -> Result<Vec<IncidentView>, ServiceError> {
        Ok(self
            .incidents()
            .await?
            .into_iter()
            .filter(|v| {
                v.next_due()
                    .is_some_and(|(_, d)| d <= today + chrono::Duration::days(WARN_WITHIN_DAYS))
            })
            .collect())
    }

    /// The digest's lines for [`Service::incidents_due`].
    pub(crate) async fn incident_deadline_lines(
        &self,
        today: NaiveDate,
    ) -> Result<Vec<String>, ServiceError> {
        Ok(self
            .incidents_due(today)
            .await?
            .iter()
            .filter_map(|v| {
                let (stage, due) = v.next_due()?;
                let stage = if stage == "final" {
                    "確報 / final"
                } else {
                    "速報 / preliminary"
                };
                let late = if due < today {
                    "  期限超過 / overdue"
                } else {
                    ""
                };
                Some(format!("{}  {stage}  {due}{late}", v.incident.row.number))
            })
            .collect())
    }

    /// Every incident, newest first, each with its assessment.
    pub async fn incidents(&self) -> Result<Vec<IncidentView>, ServiceError> {
        Ok(incidents::all(self.db().conn(), self.cipher())
            .await?
            .into_iter()
            .map(IncidentView::of)
            .collect())
    }

    /// One incident.
    pub async fn incident(&self, pid: Uuid) -> Result<IncidentView, ServiceError> {
        Ok(IncidentView::of(
            incidents::by_pid(self.db().conn(), self.cipher(), pid).await?,
        ))
    }

    /// Opens an incident; returns its public id.
    pub async fn open_incident(
        &self,
        facts: IncidentFacts,
        report: Report,
        who: &StaffIdentity,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<Uuid, ServiceError> {
        check(&facts, &report, madoguchi_domain::jst_date(now))?;
        let detail = assessment_detail(&assess(&facts));
        let actor = who.actor();
        let (pid, _) = incidents::open(
            self.db(),
            self.cipher(),
            &facts,
            &report,
            |number| {
                let mut d = vec![("number", number.to_owned())];
                d.extend(detail);
                audit_entry(&actor, "incident.opened", d)
            },
            origin,
            now,
        )
        .await?;
        Ok(pid)
    }

    /// Changes an incident at the version the officer read (a stale one is a conflict).
    pub async fn change_incident(
        &self,
        pid: Uuid,
        version: i32,
        change: IncidentChange,
        who: &StaffIdentity,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let today = madoguchi_domain::jst_date(now);
        let current = incidents::by_pid(self.db().conn(), self.cipher(), pid).await?;
        let entry = match &change {
            IncidentChange::Edit { facts, report } => {
                check(facts, report, today)?;
                let mut d = vec![("number", current.row.number.clone())];
                d.extend(assessment_detail(&assess(facts)));
                audit_entry(&who.actor(), "incident.updated", d)
            }
            IncidentChange::Preliminary { on, reference }
            | IncidentChange::Final { on, reference } => {
                if *on > today || *on < current.facts.aware_on {
                    return Err(ServiceError::Invalid("reported_on"));
                }
                let reference = reference.trim();
                // A reference goes on the trail: letters, digits and a few marks only, so no
                // name or address can be written there.
                if reference.is_empty()
                    || reference.chars().count() > 100
                    || !reference.chars().all(|c| {
                        c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '/' | '.' | '#' | ' ')
                    })
                {
                    return Err(ServiceError::Invalid("reference"));
                }
                let a = assess(&current.facts);
                let final_report = matches!(change, IncidentChange::Final { .. });
                if !a.reportable() || (final_report && a.final_due.is_none()) {
                    return Err(ServiceError::Invalid("not_reportable"));
                }
                if final_report && current.row.prelim_at.is_none() {
                    return Err(ServiceError::Invalid("prelim_first"));
                }
                let action = if final_report {
                    "incident.final_reported"
                } else {
                    "incident.preliminary_reported"
                };
                audit_entry(
                    &who.actor(),
                    action,
                    vec![
                        ("number", current.row.number.clone()),
                        ("on", on.to_string()),
                        ("reference", reference.to_owned()),
                    ],
                )
            }
        };
        let change = match change {
            IncidentChange::Preliminary { on, reference } => IncidentChange::Preliminary {
                on,
                reference: reference.trim().to_owned(),
            },
            IncidentChange::Final { on, reference } => IncidentChange::Final {
                on,
                reference: reference.trim().to_owned(),
            },
            edit => edit,
        };
        incidents::change(
            self.db(),
            self.cipher(),
            pid,
            version,
            change,
            entry,
            origin,
            now,
        )
        .await?;
        Ok(())
    }
}
