//! The incident register (漏えい等, Art. 26): an officer records what happened; the domain
//! says whether and by when it must be reported; each change is one transaction with its
//! entry on the `incidents` chain (no personal data in the entry: the report's words are
//! sealed on the row).

use chrono::{DateTime, NaiveDate, Utc};
use madoguchi_domain::incident::{
    AffectedPerson, Assessment, IncidentFacts, NOTICE_ITEMS, REPORT_ITEMS, ReportTo, assess,
    missing_notice_items,
};
use madoguchi_store::incidents::{NewPerson, NoticeRun};

use crate::identity::LineError;
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
                // The digest is read by people: the day as they write it.
                let due = madoguchi_domain::written_date(due, false);
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
            IncidentChange::Published { on, how } => {
                let how = how.trim();
                if *on > today || *on < current.facts.aware_on {
                    return Err(ServiceError::Invalid("published_on"));
                }
                if how.is_empty() || how.chars().count() > 300 || how.contains(['\r', '\n']) {
                    return Err(ServiceError::Invalid("published_how"));
                }
                audit_entry(
                    &who.actor(),
                    "incident.published",
                    vec![
                        ("number", current.row.number.clone()),
                        ("on", on.to_string()),
                    ],
                )
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
            IncidentChange::Published { on, how } => IncidentChange::Published {
                on,
                how: how.trim().to_owned(),
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

/// How the notices of an incident stand: counts by status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NoticeCounts {
    /// Imported, not yet told.
    pub waiting: usize,
    /// Mails queued or retrying.
    pub queued: usize,
    /// Mails sent.
    pub sent: usize,
    /// Mails that failed for good.
    pub failed: usize,
    /// Letters to print and post.
    pub to_post: usize,
    /// Letters posted.
    pub posted: usize,
}

impl NoticeCounts {
    /// Counted from each person's status.
    pub fn of(people: &[Person]) -> Self {
        let mut c = NoticeCounts::default();
        for p in people {
            match p.status {
                NoticeStatus::Waiting => c.waiting += 1,
                NoticeStatus::Queued => c.queued += 1,
                NoticeStatus::Sent => c.sent += 1,
                NoticeStatus::Failed => c.failed += 1,
                NoticeStatus::ToPost => c.to_post += 1,
                NoticeStatus::Posted => c.posted += 1,
            }
        }
        c
    }
}

pub use madoguchi_store::incidents::{NoticeStatus, Person};

impl Service {
    /// The people an incident involves, each with their notice's status.
    pub async fn incident_people(&self, incident_id: i64) -> Result<Vec<Person>, ServiceError> {
        Ok(incidents::people(self.db().conn(), self.cipher(), incident_id).await?)
    }

    /// Adds the people an incident involves (read by [`parse_affected`]), all or none, at
    /// the incident's version: a person already imported, or twice in the file, refuses the
    /// import by line (an import run twice tells nobody twice). Returns how many.
    pub async fn import_affected(
        &self,
        pid: Uuid,
        version: i32,
        people: Vec<(usize, AffectedPerson)>,
        who: &StaffIdentity,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<Result<usize, Vec<LineError>>, ServiceError> {
        let current = incidents::by_pid(self.db().conn(), self.cipher(), pid).await?;
        let mut seen = incidents::person_indexes(self.db().conn(), current.row.id).await?;
        let mut twice = Vec::new();
        let mut rows = Vec::with_capacity(people.len());
        for (line, p) in people {
            let index = self.person_index(&p);
            if !seen.insert(index.clone()) {
                twice.push(line);
                continue;
            }
            rows.push(NewPerson {
                index,
                name: p.name,
                email: p.email.map(String::from),
                postal_address: p.postal_address,
            });
        }
        if !twice.is_empty() {
            return Ok(Err(twice
                .into_iter()
                .map(|line| LineError {
                    line,
                    message: "同じ方が既に取り込まれているか、ファイル内で重複しています / already imported, or twice in the file".into(),
                })
                .collect()));
        }
        let n = rows.len();
        let entry = audit_entry(
            &who.actor(),
            "incident.people_imported",
            vec![
                ("number", current.row.number.clone()),
                ("people", n.to_string()),
            ],
        );
        incidents::add_people(
            self.db(),
            self.cipher(),
            pid,
            version,
            rows,
            entry,
            origin,
            now,
        )
        .await?;
        Ok(Ok(n))
    }

    /// Who a person is, keyed (never stored in the clear): their address, else their name
    /// and postal address.
    fn person_index(&self, p: &AffectedPerson) -> String {
        let squeeze = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        match &p.email {
            Some(e) => self
                .cipher()
                .email_index(&format!("person:{}", e.normalized())),
            None => self.cipher().email_index(&format!(
                "person:{}|{}",
                squeeze(&p.name),
                squeeze(p.postal_address.as_deref().unwrap_or_default())
            )),
        }
    }

    /// Tells everyone imported and not yet told (Art. 26(2)): a mail where there is an
    /// address, else a letter to post, each carrying the items the rules require (規則10),
    /// in one transaction at the incident's version. Returns (mails, letters).
    pub async fn send_incident_notices(
        &self,
        pid: Uuid,
        version: i32,
        who: &StaffIdentity,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(usize, usize), ServiceError> {
        self.notice_run(pid, version, NoticeRun::Everyone, who, origin, now)
            .await
    }

    /// Prepares letters for those whose mail failed for good and whose postal address is
    /// known. Returns how many.
    pub async fn send_failed_as_letters(
        &self,
        pid: Uuid,
        version: i32,
        who: &StaffIdentity,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<usize, ServiceError> {
        Ok(self
            .notice_run(pid, version, NoticeRun::FailedByPost, who, origin, now)
            .await?
            .1)
    }

    async fn notice_run(
        &self,
        pid: Uuid,
        version: i32,
        run: NoticeRun,
        who: &StaffIdentity,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(usize, usize), ServiceError> {
        let current = incidents::by_pid(self.db().conn(), self.cipher(), pid).await?;
        let report = &current.report;
        if !missing_notice_items(|k| report.get(k).map(String::as_str)).is_empty() {
            return Err(ServiceError::Invalid("notice_items"));
        }
        let settings = self.settings().await?;
        let lines = notice_lines(&current.report);
        let number = current.row.number.clone();
        let actor = who.actor();
        let by_post_only = run == NoticeRun::FailedByPost;
        let sent = incidents::send_notices(
            self.db(),
            self.cipher(),
            (pid, version, run),
            |p| {
                let ctx = madoguchi_mail::MailContext {
                    recipient_name: p.name.clone(),
                    number: number.clone(),
                    answer_lines: lines.clone(),
                    ..crate::complaints::business_context(&settings, madoguchi_domain::Lang::Ja)
                };
                let (recipient, by_post) = match (&p.email, &p.postal_address) {
                    (_, Some(a)) if by_post_only => (a.clone(), true),
                    (Some(e), _) => (e.clone(), false),
                    (None, Some(a)) => (a.clone(), true),
                    (None, None) => (String::new(), true),
                };
                madoguchi_store::outbox::NewMessage {
                    request_id: None,
                    recipient,
                    lang: madoguchi_domain::Lang::Ja,
                    template: madoguchi_domain::Mail::IncidentNotice.as_str().to_owned(),
                    context: serde_json::to_value(ctx).expect("a mail context serialises"),
                    by_post,
                }
            },
            |mails, letters| {
                audit_entry(
                    &actor,
                    if by_post_only {
                        "incident.letters_prepared"
                    } else {
                        "incident.notices_sent"
                    },
                    vec![
                        ("number", number.clone()),
                        ("mails", mails.to_string()),
                        ("letters", letters.to_string()),
                    ],
                )
            },
            origin,
            self.mail_host(),
            now,
        )
        .await;
        let (mails, letters) = match sent {
            Err(madoguchi_store::StoreError::NotFound) => {
                return Err(ServiceError::Invalid("nobody_waiting"));
            }
            other => other?,
        };
        if mails > 0 {
            self.mail_wakeup.notify_one();
        }
        Ok((mails, letters))
    }

    /// The notice letters still to post, opened: (outbox row, postal address, context).
    pub async fn incident_letters(
        &self,
        incident_id: i64,
    ) -> Result<Vec<(i64, String, madoguchi_mail::MailContext)>, ServiceError> {
        incidents::letters_to_post(self.db().conn(), self.cipher(), incident_id)
            .await?
            .into_iter()
            .map(|m| {
                let ctx = serde_json::from_str(&m.context).map_err(|_| {
                    ServiceError::Store(madoguchi_store::StoreError::Corrupt(format!(
                        "outbox {}: context",
                        m.id
                    )))
                })?;
                Ok((m.id, m.recipient, ctx))
            })
            .collect()
    }

    /// Records the notice letters printed (outbox rows up to `upto`) as posted; returns how
    /// many.
    pub async fn incident_letters_posted(
        &self,
        (pid, upto): (Uuid, i64),
        who: &StaffIdentity,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<usize, ServiceError> {
        let current = incidents::by_pid(self.db().conn(), self.cipher(), pid).await?;
        let actor = who.actor();
        Ok(incidents::letters_posted(
            self.db(),
            (pid, upto),
            |n| {
                audit_entry(
                    &actor,
                    "incident.letters_posted",
                    vec![
                        ("number", current.row.number.clone()),
                        ("letters", n.to_string()),
                    ],
                )
            },
            origin,
            now,
        )
        .await?)
    }

    /// Erases the people of incidents imported (and told) longer ago than the records'
    /// retention period, with the mail or letter that told them. Returns how many.
    pub async fn purge_incident_people(&self, now: DateTime<Utc>) -> Result<usize, ServiceError> {
        let days = self.settings().await?.retention.records_days;
        let before = now - chrono::Duration::days(i64::from(days));
        Ok(incidents::erase_people(
            self.db(),
            before,
            |number, n| {
                audit_entry(
                    &madoguchi_domain::Actor::System,
                    "incident.people_erased",
                    vec![("number", number.to_owned()), ("people", n.to_string())],
                )
            },
            &Origin::default(),
            now,
        )
        .await?)
    }
}

/// The items told, `【label】` then the text, in the order of the rules (規則10).
pub fn notice_lines(report: &Report) -> Vec<String> {
    NOTICE_ITEMS
        .iter()
        .filter_map(|key| {
            let text = report.get(*key)?.trim();
            let (_, ja, _) = REPORT_ITEMS.iter().find(|(k, _, _)| k == key)?;
            (!text.is_empty()).then(|| format!("【{ja}】\n{text}"))
        })
        .collect()
}

/// The CSV's header.
pub const PEOPLE_HEADER: [&str; 3] = ["name", "email", "postal_address"];

/// Reads the people of an incident from CSV with [`PEOPLE_HEADER`]: each person with its
/// line, or every problem by line (never the line's content).
pub fn parse_affected(
    text: &str,
    en: bool,
) -> Result<Vec<(usize, AffectedPerson)>, Vec<LineError>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let records = crate::identity::split_records(text).map_err(|e| vec![e])?;
    let mut iter = records
        .into_iter()
        .filter(|(_, f)| !(f.len() == 1 && f[0].trim().is_empty()));
    let say = |ja: String, en_words: String| if en { en_words } else { ja };
    let header_ok = iter.next().is_some_and(|(_, h)| {
        h.iter()
            .map(|x| x.trim().to_lowercase())
            .eq(PEOPLE_HEADER.iter().map(|x| x.to_string()))
    });
    if !header_ok {
        return Err(vec![LineError {
            line: 1,
            message: say(
                format!("1行目の見出しは {} としてください", PEOPLE_HEADER.join(",")),
                format!("the header must be {}", PEOPLE_HEADER.join(",")),
            ),
        }]);
    }
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (line, f) in iter {
        if out.len() + errors.len() >= madoguchi_domain::incident::MAX_AFFECTED {
            errors.push(LineError {
                line,
                message: say(
                    format!(
                        "一度に取り込めるのは {} 人までです",
                        madoguchi_domain::incident::MAX_AFFECTED
                    ),
                    format!(
                        "at most {} people per import",
                        madoguchi_domain::incident::MAX_AFFECTED
                    ),
                ),
            });
            break;
        }
        if f.len() != PEOPLE_HEADER.len() {
            errors.push(LineError {
                line,
                message: say(
                    format!("3 項目が必要ですが {} 項目あります", f.len()),
                    format!("expected 3 fields, found {}", f.len()),
                ),
            });
            continue;
        }
        match madoguchi_domain::incident::affected_person(&f[0], &f[1], &f[2]) {
            Ok(p) => out.push((line, p)),
            Err(problems) => errors.extend(problems.into_iter().map(|p| LineError {
                line,
                message: p.words(en).to_owned(),
            })),
        }
    }
    if out.is_empty() && errors.is_empty() {
        errors.push(LineError {
            line: 2,
            message: say(
                "取り込む行がありません".into(),
                "no people to import".into(),
            ),
        });
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

impl Service {
    /// A request on the breach ground (Art. 35(5)) cites an incident reportable to the
    /// Commission (a processor's is not the business's own data): on its trail (the
    /// incident's number) with the row, in one change, once, while the request is open; its
    /// answer then names the incident.
    pub async fn link_incident(
        &self,
        request: Uuid,
        incident: Uuid,
        who: &StaffIdentity,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let row = self.request_row(request).await?;
        if row.ground.as_deref()
            != Some(madoguchi_domain::SuspensionGround::ReportableBreach.as_str())
        {
            return Err(ServiceError::Invalid("ground"));
        }
        if row.incident_id.is_some() {
            return Err(ServiceError::Repeated("incident link"));
        }
        if madoguchi_domain::State::parse(&row.state).is_none_or(|s| s.is_terminal()) {
            return Err(ServiceError::Invalid("request_closed"));
        }
        let found = incidents::by_pid(self.db().conn(), self.cipher(), incident).await?;
        if assess(&found.facts).report_to != ReportTo::Commission {
            return Err(ServiceError::Invalid("not_reportable"));
        }
        self.record(
            request,
            vec![madoguchi_domain::AuditOnly::IncidentLinked {
                number: found.row.number.clone(),
            }],
            &who.actor(),
            vec![madoguchi_store::change::Write::LinkIncident {
                incident_id: found.row.id,
            }],
            Vec::new(),
            origin,
            now,
        )
        .await?;
        Ok(())
    }

    /// The incident a request cites: its public id and number.
    pub async fn incident_of_request(
        &self,
        incident_id: Option<i64>,
    ) -> Result<Option<(Uuid, String)>, ServiceError> {
        let Some(id) = incident_id else {
            return Ok(None);
        };
        Ok(incidents::pid_and_number(self.db().conn(), id).await?)
    }

    /// The incidents a request on the breach ground can cite (reportable to the Commission):
    /// public id, number and the day each became known. The reports' words are not read.
    pub async fn citable_incidents(&self) -> Result<Vec<(Uuid, String, NaiveDate)>, ServiceError> {
        Ok(incidents::summaries(self.db().conn())
            .await?
            .into_iter()
            .filter(|(_, _, _, facts)| assess(facts).report_to == ReportTo::Commission)
            .map(|(pid, number, aware_on, _)| (pid, number, aware_on))
            .collect())
    }
}
