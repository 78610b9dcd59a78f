//! Work done by hand through a link, for an erasure, a suspension of use or a stop of
//! provision (Art. 35): a system's owner changes what no connector can (or what a connector
//! gave up on) and reports it done or why not; a recipient of the data (a processor, a third
//! party, a joint user) is told what to do with what it received and confirms. Both are jobs
//! waiting on a link (the owner's task machinery of `owner.rs`), so they show on the request
//! page with the connectors' jobs, are reminded, and make the answer complete when done.

use chrono::{DateTime, Utc};
use madoguchi_datamap::plan::{Measure, RowAction, plan_all};
use madoguchi_datamap::{DataMap, RecipientKind};
use madoguchi_domain::{Actor, AuditOnly, Mail, RequestKind, State};
use madoguchi_mail::MailContext;
use madoguchi_store::audit::Origin;
use madoguchi_store::change::{TaskLink, Write};
use madoguchi_store::entities::{gather_job, request};
use madoguchi_store::gather as store;
use madoguchi_store::secrets::random_token;
use madoguchi_store::{outbox, requests};
use uuid::Uuid;

use crate::erasure::{PlannedRecipient, recipients_of};
use crate::{Service, ServiceError};

/// What handing work over writes: the jobs, the mail and the trail entries.
#[derive(Debug, Default)]
pub(crate) struct Handover {
    pub writes: Vec<Write>,
    pub mail: Vec<outbox::NewMessage>,
    pub events: Vec<AuditOnly>,
}

/// What the person behind a link is asked to do.
#[derive(Debug, Clone)]
pub struct Work {
    /// A recipient of the data (else the business's own system owner).
    pub recipient: bool,
    /// The measure, in words (`消去`, `利用停止`, …).
    pub measure: String,
    /// What to do, dataset by dataset (no personal data: names, what and counts).
    pub items: Vec<WorkItem>,
}

/// One dataset of the work.
#[derive(Debug, Clone)]
pub struct WorkItem {
    /// The dataset's name.
    pub label: String,
    /// Where it is, as the map says (a system's own datasets only).
    pub location: Option<String>,
    /// What to do with the person's rows.
    pub what: String,
    /// How many rows were found (for a recipient: none counted).
    pub rows: usize,
}

/// The measure in words, for mail and pages.
fn measure_words(measure: Option<Measure>, en: bool) -> &'static str {
    match (measure, en) {
        (Some(Measure::Erase), false) => "消去",
        (Some(Measure::Erase), true) => "erasure",
        (Some(Measure::Suspend), false) => "利用停止",
        (Some(Measure::Suspend), true) => "suspension of use",
        // Provision stops; the recipient is asked to stop using what it received.
        (None, false) => "利用停止",
        (None, true) => "stop of use",
    }
}

/// What the owner of `system` does, dataset by dataset, under `measure`.
fn owner_items(
    map: &DataMap,
    measure: Measure,
    system: &str,
    rows_of: &dyn Fn(&str) -> usize,
    en: bool,
) -> Vec<WorkItem> {
    plan_all(map, measure)
        .into_iter()
        .filter(|p| p.system == system && rows_of(&p.dataset) > 0)
        .filter(|p| p.action != RowAction::Keep || p.unmarked)
        .filter_map(|p| {
            let d = map.dataset(&p.dataset)?;
            let label = |f: &String| {
                d.fields
                    .iter()
                    .find(|x| x.name.get_ref() == f)
                    .map_or_else(|| f.clone(), |x| x.label.get(en).to_owned())
            };
            let what = match (&p.action, en) {
                _ if p.unmarked => {
                    if en {
                        "stop using the rows (mark them so)".to_owned()
                    } else {
                        "利用を停止する（利用しない旨の印を付ける）".to_owned()
                    }
                }
                (RowAction::Delete, false) => "行を削除する".to_owned(),
                (RowAction::Delete, true) => "delete the rows".to_owned(),
                (RowAction::Update { clear, mask, set }, _) => {
                    let mut parts = Vec::new();
                    let fields: Vec<String> = clear.iter().chain(mask).map(label).collect();
                    if !fields.is_empty() {
                        parts.push(if en {
                            format!("erase {}", fields.join(", "))
                        } else {
                            format!("{}を消去する", fields.join("・"))
                        });
                    }
                    for (f, v) in set {
                        let v = v.to_json().to_string();
                        parts.push(if en {
                            format!("set {f} to {v}")
                        } else {
                            format!("{f} を {v} にする")
                        });
                    }
                    parts.join(if en { "; " } else { "、" })
                }
                (RowAction::Keep, _) => return None,
            };
            Some(WorkItem {
                label: d.label.get(en).to_owned(),
                location: d.location.clone(),
                what,
                rows: rows_of(&p.dataset),
            })
        })
        .collect()
}

impl Service {
    /// Hands work over: a link to each owner of `systems` (what to change, under `measure`)
    /// and to each recipient told by e-mail (`measure` `None`: provision stops), as jobs of
    /// run `run`, with their mail and trail entries.
    pub(crate) async fn hand_over(
        &self,
        row: &request::Model,
        measure: Option<Measure>,
        systems: &[String],
        recipients: &[PlannedRecipient],
        run: i32,
        now: DateTime<Utc>,
    ) -> Result<Handover, ServiceError> {
        let mut out = Handover::default();
        let map = self.datamap().await?;
        let Some(map) = map.as_deref().map(|m| &m.map) else {
            return Ok(out);
        };
        let due_at = crate::owner::task_due(row.due_on, now);
        let due_on = madoguchi_domain::jst_date(due_at).to_string();
        let counts = self.gathered_counts(row).await?;
        let rows_of = |id: &str| counts.get(id).copied().unwrap_or(0);
        let mut tasks = Vec::new();
        if let Some(measure) = measure {
            for id in systems {
                let Some(system) = map.system(id) else {
                    continue;
                };
                let nonce = random_token();
                let lines = owner_items(map, measure, id, &rows_of, false)
                    .into_iter()
                    .map(|i| format!("{}: {}（{} 件）", i.label, i.what, i.rows))
                    .collect();
                out.mail.push(
                    self.task_mail(
                        row,
                        Mail::OwnerAction,
                        (&system.owner, &format!("{} ご担当者", system.name.ja)),
                        &system.name.ja,
                        measure_words(Some(measure), false),
                        lines,
                        &nonce,
                        due_at,
                    )
                    .await?,
                );
                out.events.push(AuditOnly::OwnerAsked {
                    system: id.clone(),
                    due_on: due_on.clone(),
                });
                tasks.push((id.clone(), self.link(nonce, due_at)));
            }
            out.writes.push(Write::OpenTasks {
                purpose: if measure == Measure::Suspend {
                    store::SUSPEND
                } else {
                    store::ERASE
                },
                run,
                tasks,
            });
        }
        let mut notices = Vec::new();
        for r in recipients.iter().filter(|r| r.by_mail) {
            let Some(recipient) = map.recipient(&r.id) else {
                continue;
            };
            let Some(contact) = &recipient.contact else {
                continue;
            };
            let nonce = random_token();
            out.mail.push(
                self.task_mail(
                    row,
                    Mail::RecipientNotice,
                    (contact, &recipient.name.ja),
                    &recipient.name.ja,
                    measure_words(measure, false),
                    r.datasets.clone(),
                    &nonce,
                    due_at,
                )
                .await?,
            );
            out.events.push(AuditOnly::RecipientNotified {
                recipient: r.id.clone(),
                due_on: due_on.clone(),
            });
            notices.push((r.id.clone(), self.link(nonce, due_at)));
        }
        out.writes.push(Write::OpenTasks {
            purpose: store::NOTIFY,
            run,
            tasks: notices,
        });
        Ok(out)
    }

    /// Takes up the failed jobs of the latest run again, in place: a connector's job is run
    /// again; work done by hand (an owner's, a recipient's) goes out with a new link and mail.
    /// Jobs that were done stay done, so nothing is asked twice.
    pub(crate) async fn reopen(
        &self,
        row: &request::Model,
        failed: &[gather_job::Model],
        now: DateTime<Utc>,
    ) -> Result<Handover, ServiceError> {
        let map = self.datamap().await?;
        let Some(map) = map.as_deref().map(|m| &m.map) else {
            return Ok(Handover::default());
        };
        let counts = self.gathered_counts(row).await?;
        let all = recipients_of(
            map,
            |id| counts.get(id).is_some_and(|n| *n > 0),
            |_| true,
            false,
        );
        let suspended = self.suspends(row).await?;
        let mut out = Handover::default();
        for job in failed {
            let measure = match job.purpose.as_str() {
                p if p == store::SUSPEND => Some(Measure::Suspend),
                p if p == store::ERASE => Some(Measure::Erase),
                _ => None,
            };
            let by_hand = job.purpose == store::NOTIFY || job.task_nonce.is_some();
            if !by_hand {
                out.writes.push(Write::ReopenJob {
                    job_id: job.id,
                    link: None,
                });
                continue;
            }
            let (systems, recipients): (Vec<String>, Vec<PlannedRecipient>) =
                if job.purpose == store::NOTIFY {
                    let r = all.iter().filter(|r| r.id == job.system).cloned().collect();
                    (Vec::new(), r)
                } else {
                    (vec![job.system.clone()], Vec::new())
                };
            let measure = if job.purpose == store::NOTIFY {
                // The recipients of an erasure or suspension are asked as the run's
                // systems were; of a stop of provision, to stop using it.
                (row.kind != RequestKind::ThirdPartyStop.as_str()).then_some(if suspended {
                    Measure::Suspend
                } else {
                    Measure::Erase
                })
            } else {
                measure
            };
            let work = self
                .hand_over(row, measure, &systems, &recipients, job.run, now)
                .await?;
            let linked = work
                .writes
                .iter()
                .any(|w| matches!(w, Write::OpenTasks { tasks, .. } if !tasks.is_empty()));
            if !linked {
                // Gone from the map, or no contact any more: nobody to ask.
                return Err(ServiceError::Invalid("no one to ask again"));
            }
            for w in work.writes {
                if let Write::OpenTasks { tasks, .. } = w {
                    for (_, link) in tasks {
                        out.writes.push(Write::ReopenJob {
                            job_id: job.id,
                            link: Some(link),
                        });
                    }
                }
            }
            out.mail.extend(work.mail);
            out.events.extend(work.events);
        }
        Ok(out)
    }

    fn link(&self, nonce: String, due_at: DateTime<Utc>) -> TaskLink {
        TaskLink {
            token: self.owner_token(&nonce),
            nonce,
            due_at,
        }
    }

    /// The rows of the latest complete gathering, counted by dataset.
    pub(crate) async fn gathered_counts(
        &self,
        row: &request::Model,
    ) -> Result<std::collections::BTreeMap<String, usize>, ServiceError> {
        let jobs = store::latest_run(self.db().conn(), row.id).await?;
        let mut out = std::collections::BTreeMap::new();
        for job in jobs.iter().filter(|j| j.state == store::DONE) {
            for r in self.job_rows(job)? {
                out.insert(r.dataset.clone(), r.rows.len());
            }
        }
        Ok(out)
    }

    /// A task's mail, in Japanese (the business's own staff, or a business it deals with),
    /// with the link derived from `nonce` at send time. No personal data: the page behind the
    /// link names the person.
    #[expect(
        clippy::too_many_arguments,
        reason = "each is a distinct part of the letter"
    )]
    async fn task_mail(
        &self,
        row: &request::Model,
        mail: Mail,
        (to, addressee): (&str, &str),
        about: &str,
        measure: &str,
        lines: Vec<String>,
        nonce: &str,
        due_at: DateTime<Utc>,
    ) -> Result<outbox::NewMessage, ServiceError> {
        let settings = self.settings().await?;
        let kind = RequestKind::parse(&row.kind).unwrap_or(RequestKind::SuspensionOrErasure);
        let ctx = MailContext {
            lang: madoguchi_domain::Lang::Ja,
            business_name: settings.business.name.clone(),
            business_contact: settings.business.contact.clone(),
            business_phone: settings.branding.phone.clone(),
            business_hours: settings.branding.hours.clone(),
            privacy_url: settings.branding.privacy_url.clone(),
            brand_colour: settings.branding.colour.clone(),
            recipient_name: addressee.to_owned(),
            number: row.number.clone(),
            kind_ja: kind.label_ja().to_owned(),
            kind_en: kind.label_en().to_owned(),
            due_on: madoguchi_domain::written_date(madoguchi_domain::jst_date(due_at), false),
            system_name: about.to_owned(),
            message: measure.to_owned(),
            provision_stopped: mail == Mail::RecipientNotice && kind == RequestKind::ThirdPartyStop,
            answer_lines: lines,
            owner_nonce: Some(nonce.to_owned()),
            ..MailContext::default()
        };
        Ok(outbox::NewMessage {
            request_id: Some(row.id),
            recipient: to.to_owned(),
            lang: madoguchi_domain::Lang::Ja,
            template: mail.as_str().to_owned(),
            context: serde_json::to_value(ctx).expect("a mail context serialises"),
            by_post: false,
        })
    }

    /// What a link's job asks for, when it is work rather than a search.
    pub(crate) async fn work_of(
        &self,
        job: &gather_job::Model,
        row: &request::Model,
        en: bool,
    ) -> Result<Option<Work>, ServiceError> {
        let measure = match job.purpose.as_str() {
            p if p == store::ERASE => Some(Measure::Erase),
            p if p == store::SUSPEND => Some(Measure::Suspend),
            p if p == store::NOTIFY => {
                let stop = row.kind == RequestKind::ThirdPartyStop.as_str();
                let suspend = self.suspends(row).await?;
                (!stop).then_some(if suspend {
                    Measure::Suspend
                } else {
                    Measure::Erase
                })
            }
            _ => return Ok(None),
        };
        let map = self.datamap().await?;
        let Some(map) = map.as_deref().map(|m| &m.map) else {
            return Ok(None);
        };
        let counts = self.gathered_counts(row).await?;
        let rows_of = |id: &str| counts.get(id).copied().unwrap_or(0);
        if job.purpose == store::NOTIFY {
            let items = recipients_of(map, |id| rows_of(id) > 0, |_| true, en)
                .into_iter()
                .find(|r| r.id == job.system)
                .map(|r| r.datasets)
                .unwrap_or_default()
                .into_iter()
                .map(|label| WorkItem {
                    label,
                    location: None,
                    what: measure_words(measure, en).to_owned(),
                    rows: 0,
                })
                .collect();
            return Ok(Some(Work {
                recipient: true,
                measure: measure_words(measure, en).to_owned(),
                items,
            }));
        }
        let measure = measure.expect("a system's work has a measure");
        Ok(Some(Work {
            recipient: false,
            measure: measure_words(Some(measure), en).to_owned(),
            items: owner_items(map, measure, &job.system, &rows_of, en),
        }))
    }

    /// The answer to a work link: done, or not with the reason (kept sealed with the job; the
    /// officer reads it on the request page). A system owner's "done" records what the plan
    /// asked of them as done in their system.
    pub async fn answer_work(
        &self,
        token: &str,
        done: bool,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let job =
            store::task_by_token(self.db().conn(), token)
                .await?
                .ok_or(ServiceError::Token(
                    madoguchi_store::tokens::TokenError::Unknown,
                ))?;
        if ![store::ERASE, store::SUSPEND, store::NOTIFY].contains(&job.purpose.as_str()) {
            // A search is answered with its rows, not a report.
            return Err(ServiceError::Invalid("a search's link"));
        }
        let row = requests::find_by_id(self.db().conn(), self.cipher(), job.request_id).await?;
        if requests::to_domain(&row)?.state != State::InProgress {
            return Err(ServiceError::Token(
                madoguchi_store::tokens::TokenError::Expired,
            ));
        }
        let reason = reason.trim();
        if !done && (reason.is_empty() || reason.chars().count() > 2000) {
            return Err(ServiceError::Invalid("reason"));
        }
        let (write, rows) = if done {
            let outcome = self.work_outcome(&job, &row).await?;
            let rows: u64 = outcome.iter().map(|e| e.rows).sum();
            let result = serde_json::to_string(&outcome).expect("outcomes serialise");
            (
                Write::AnswerTask {
                    job_id: job.id,
                    token: token.to_owned(),
                    hash: hex::encode(<sha2::Sha256 as sha2::Digest>::digest(result.as_bytes())),
                    result,
                    rows: i32::try_from(rows).unwrap_or(i32::MAX),
                },
                u32::try_from(rows).unwrap_or(u32::MAX),
            )
        } else {
            (
                Write::DeclineTask {
                    job_id: job.id,
                    token: token.to_owned(),
                    reason: serde_json::json!({ "reason": reason }).to_string(),
                },
                0,
            )
        };
        self.record(
            row.pid,
            vec![AuditOnly::OwnerActed {
                system: job.system.clone(),
                done,
                rows,
            }],
            &Actor::System,
            vec![write],
            Vec::new(),
            &Origin::default(),
            now,
        )
        .await?;
        Ok(())
    }

    /// What a system owner's "done" did: the plan of their system, with the rows gathered
    /// (for a recipient: nothing counted).
    async fn work_outcome(
        &self,
        job: &gather_job::Model,
        row: &request::Model,
    ) -> Result<Vec<madoguchi_connectors::Erased>, ServiceError> {
        use madoguchi_connectors::{Done, Erased};
        let measure = match job.purpose.as_str() {
            p if p == store::ERASE => Measure::Erase,
            p if p == store::SUSPEND => Measure::Suspend,
            _ => return Ok(Vec::new()),
        };
        let map = self.datamap().await?;
        let Some(map) = map.as_deref().map(|m| &m.map) else {
            return Ok(Vec::new());
        };
        let counts = self.gathered_counts(row).await?;
        Ok(plan_all(map, measure)
            .into_iter()
            .filter(|p| p.system == job.system)
            .map(|p| {
                let rows = counts.get(&p.dataset).copied().unwrap_or(0) as u64;
                let done = match (&p.action, rows) {
                    (_, 0) => Done::NoRows,
                    _ if p.unmarked => Done::Cleared,
                    (RowAction::Delete, _) => Done::Deleted,
                    (RowAction::Update { .. }, _) => Done::Cleared,
                    (RowAction::Keep, _) => Done::Kept,
                };
                Erased {
                    dataset: p.dataset,
                    done,
                    rows,
                    retained: p.retained,
                }
            })
            .collect())
    }

    /// The third parties a stop of provision (Art. 35(3)) is for: those that received a
    /// dataset holding the subject's rows. `None` unless the request is a third-party stop at
    /// work whose gathering is complete.
    pub async fn stop_plan(
        &self,
        row: &request::Model,
        en: bool,
    ) -> Result<Option<Vec<PlannedRecipient>>, ServiceError> {
        let current = requests::to_domain(row)?;
        if current.kind != RequestKind::ThirdPartyStop || current.state != State::InProgress {
            return Ok(None);
        }
        let jobs = store::latest_run(self.db().conn(), row.id).await?;
        if jobs.is_empty() || jobs.iter().any(|j| j.state != store::DONE) {
            return Ok(None);
        }
        let map = self.datamap().await?;
        let Some(map) = map.as_deref().map(|m| &m.map) else {
            return Ok(None);
        };
        let counts = self.gathered_counts(row).await?;
        Ok(Some(recipients_of(
            map,
            |id| counts.get(id).is_some_and(|n| *n > 0),
            |k| k == RecipientKind::ThirdParty,
            en,
        )))
    }

    /// The officer stops provision to the third parties the plan lists and tells those with a
    /// contact (their confirmations are awaited through links).
    pub async fn stop_provision(
        &self,
        pid: Uuid,
        actor: &Actor,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let row = self.request_row(pid).await?;
        let plan = self
            .stop_plan(&row, false)
            .await?
            .filter(|p| !p.is_empty())
            .ok_or(ServiceError::Invalid("stop of provision"))?;
        let state = self.erasure_state(&row).await?;
        let trail = madoguchi_store::audit::for_request(self.db().conn(), row.pid).await?;
        let stopped = trail.iter().any(|e| e.action == "provision.stopped");
        // Once stopped, only what a recipient could not do is taken up again.
        if state.active || (stopped && state.failed.is_empty()) {
            return Err(ServiceError::Invalid("stop already ordered"));
        }
        let failed = state.failed;
        let work = if failed.is_empty() {
            let run = self.next_run(&row).await?;
            self.hand_over(&row, None, &[], &plan, run, now).await?
        } else {
            // Told again: only those who said they could not.
            self.reopen(&row, &failed, now).await?
        };
        let mut events = vec![AuditOnly::ProvisionStopped {
            recipients: u32::try_from(plan.len()).unwrap_or(u32::MAX),
        }];
        events.extend(work.events);
        self.record(pid, events, actor, work.writes, work.mail, origin, now)
            .await?;
        Ok(())
    }
}
