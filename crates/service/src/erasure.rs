//! Erasure and suspension of use carried out in the business's systems (Art. 35), and
//! corrections (Art. 34): the plan from the map and what was gathered (a dry run the officer
//! reads before anything changes), the order (and a second officer's approval where the
//! office requires it), one job per system that changes it (a SQL system in one transaction,
//! an HTTP system by its declared calls) and checks it, and the record the answer is written
//! from.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use madoguchi_connectors::{Act, Done, Erased, Rows};
use madoguchi_datamap::DataMap;
pub use madoguchi_datamap::plan::Measure;
use madoguchi_datamap::plan::{RowAction, plan_all};
use madoguchi_domain::{Actor, AuditOnly, RequestKind, State};
use madoguchi_store::audit::Origin;
use madoguchi_store::change::Write;
use madoguchi_store::entities::{gather_job, request};
use madoguchi_store::gather as store;
use madoguchi_store::requests;
use uuid::Uuid;

use crate::gather::SystemProgress;
use crate::{Service, ServiceError};

/// What the latest gathering found: every dataset's rows (counts for the plan), the rows
/// connectors read (the only keys a connector may change rows by), and the systems whose
/// owner answered by hand.
#[derive(Debug, Default)]
struct Gathered {
    all: BTreeMap<String, Rows>,
    keys: BTreeMap<String, Rows>,
    by_owner: Vec<String>,
}

/// One dataset of the plan, as the officer reads it (no personal data: counts and names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedDataset {
    /// The dataset's name.
    pub label: String,
    /// Its system's name.
    pub system: String,
    /// What happens, in words.
    pub action: String,
    /// The subject's rows found in it.
    pub rows: usize,
    /// Fields kept, with their basis.
    pub retained: Vec<(String, String)>,
    /// Whether a connector carries it out (else the system's owner does, by hand).
    pub by_connector: bool,
    /// Whether someone must change it by hand (rows to change that no connector changes).
    pub by_hand: bool,
}

/// The dry run of an erasure or a suspension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErasurePlan {
    /// Erase or suspend.
    pub measure: Measure,
    /// Each dataset with rows of the subject.
    pub datasets: Vec<PlannedDataset>,
    /// The systems a connector changes, by id.
    pub systems: Vec<String>,
    /// Rows the connectors change.
    pub rows: usize,
    /// The systems whose owner changes them by hand (asked by e-mail), by id: no connector
    /// can do all of it there, or the owner reported the rows.
    pub owner_systems: Vec<String>,
    /// Who received the subject's data and is told (processors, third parties, joint users).
    pub recipients: Vec<PlannedRecipient>,
}

/// A recipient of the subject's data, as a plan lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedRecipient {
    /// The recipient's id in the map.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The datasets it received that hold the subject's rows, by name.
    pub datasets: Vec<String>,
    /// Whether it is told by e-mail (the map gives its contact); else by hand.
    pub by_mail: bool,
}

impl ErasurePlan {
    /// Whether it suspends use (else it erases).
    pub fn suspends(&self) -> bool {
        self.measure == Measure::Suspend
    }

    /// Whether ordering it does anything: a connector, an owner or a recipient has work.
    pub fn has_work(&self) -> bool {
        !self.systems.is_empty()
            || !self.owner_systems.is_empty()
            || self.recipients.iter().any(|r| r.by_mail)
    }
}

/// Where an erasure stands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErasureProgress {
    /// Ordered and waiting for a second officer (their staff id is not shown).
    pub awaiting_approval: bool,
    /// What the waiting order or the latest run does: a suspension of use (else erasure).
    pub suspend: bool,
    /// A stop of provision to third parties (the recipients told).
    pub stop: bool,
    /// A run is underway or done (none, or one with a failed system, can be ordered again).
    pub running: bool,
    /// Each system's job.
    pub systems: Vec<SystemProgress>,
    /// What was done, line by line, in the subject's language (for the answer).
    pub lines: Vec<String>,
    /// Whether every job is done.
    pub complete: bool,
    /// The systems changed, in the subject's language.
    pub changed_in: Vec<String>,
    /// The day (Japan) the last job finished, `YYYY-MM-DD`.
    pub done_on: Option<String>,
}

fn action_words(action: &RowAction, unmarked: bool, en: bool) -> String {
    let mut out = match (action, en) {
        (RowAction::Delete, false) => "行を削除".to_owned(),
        (RowAction::Delete, true) => "Delete the rows".to_owned(),
        (RowAction::Update { clear, mask, set }, false) => {
            let mut parts = Vec::new();
            if !clear.is_empty() || !mask.is_empty() {
                parts.push(format!("項目を消去（{} 項目）", clear.len() + mask.len()));
            }
            if !set.is_empty() {
                parts.push("利用停止の印を付ける".to_owned());
            }
            parts.join("・")
        }
        (RowAction::Update { clear, mask, set }, true) => {
            let mut parts = Vec::new();
            if !clear.is_empty() || !mask.is_empty() {
                parts.push(format!("Erase fields ({})", clear.len() + mask.len()));
            }
            if !set.is_empty() {
                parts.push("Mark as not to be used".to_owned());
            }
            parts.join("; ")
        }
        (RowAction::Keep, false) => "変更しない".to_owned(),
        (RowAction::Keep, true) => "No change".to_owned(),
    };
    if unmarked {
        // The map names no mark: the owner stops the use by hand.
        out = if en {
            "Stop using the rows".to_owned()
        } else {
            "利用を停止する".to_owned()
        };
    }
    out
}

impl Service {
    /// The rows of the request's latest gathering, by dataset, when it is complete.
    async fn gathered_rows(&self, row: &request::Model) -> Result<Option<Gathered>, ServiceError> {
        let jobs = store::latest_run(self.db().conn(), row.id).await?;
        if jobs.is_empty() || jobs.iter().any(|j| j.state != store::DONE) {
            return Ok(None);
        }
        let mut out = Gathered::default();
        for job in &jobs {
            // Rows an owner typed in are theirs to act on: never the keys a connector
            // changes another person's rows by.
            let by_owner = job.task_nonce.is_some();
            if by_owner {
                out.by_owner.push(job.system.clone());
            }
            for r in self.job_rows(job)? {
                if !by_owner {
                    out.keys.insert(r.dataset.clone(), r.clone());
                }
                out.all.insert(r.dataset.clone(), r);
            }
        }
        Ok(Some(out))
    }

    /// The dry run: what an erasure or a suspension would do to each dataset holding the
    /// subject's rows. `None` unless the request is a suspension or erasure at work whose
    /// gathering is complete.
    pub async fn erasure_plan(
        &self,
        row: &request::Model,
        measure: Measure,
        en: bool,
    ) -> Result<Option<ErasurePlan>, ServiceError> {
        let current = requests::to_domain(row)?;
        if current.kind != RequestKind::SuspensionOrErasure || current.state != State::InProgress {
            return Ok(None);
        }
        let Some(m) = self.datamap().await? else {
            return Ok(None);
        };
        let Some(found) = self.gathered_rows(row).await? else {
            return Ok(None);
        };
        Ok(Some(plan_of(&m.map, &found, measure, en)))
    }

    /// Orders the erasure the plan shows: carried out at once, or, where the office requires
    /// a second officer, recorded for their approval. Returns whether it was queued.
    pub async fn order_erasure(
        &self,
        pid: Uuid,
        measure: Measure,
        actor: &Actor,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<bool, ServiceError> {
        let row = self.request_row(pid).await?;
        let plan = self
            .erasure_plan(&row, measure, false)
            .await?
            .filter(ErasurePlan::has_work)
            .ok_or(ServiceError::Invalid("erasure"))?;
        let state = self.erasure_state(&row).await?;
        if state.pending.is_some() || state.active {
            return Err(ServiceError::Invalid("erasure already ordered"));
        }
        let ordered = AuditOnly::ErasureOrdered {
            systems: u32::try_from(plan.systems.len()).unwrap_or(u32::MAX),
            rows: u32::try_from(plan.rows).unwrap_or(u32::MAX),
            suspend: plan.suspends(),
        };
        if self.config().erasure_needs_two {
            self.record(
                pid,
                vec![ordered],
                actor,
                Vec::new(),
                Vec::new(),
                origin,
                now,
            )
            .await?;
            return Ok(false);
        }
        let work = self.queue_erasure(&row, &plan, now).await?;
        let mut events = vec![ordered];
        events.extend(work.events);
        self.record(pid, events, actor, work.writes, work.mail, origin, now)
            .await?;
        Ok(true)
    }

    /// A second officer approves an ordered erasure; it is carried out.
    pub async fn approve_erasure(
        &self,
        pid: Uuid,
        actor: &Actor,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let row = self.request_row(pid).await?;
        let state = self.erasure_state(&row).await?;
        let Some(measure) = state.pending else {
            return Err(ServiceError::Invalid("erasure approval"));
        };
        madoguchi_domain::check_second_officer(state.ordered_by.as_deref().unwrap_or(""), actor)?;
        let plan = self
            .erasure_plan(&row, measure, false)
            .await?
            .filter(ErasurePlan::has_work)
            .ok_or(ServiceError::Invalid("erasure"))?;
        let work = self.queue_erasure(&row, &plan, now).await?;
        let approved = AuditOnly::ErasureApproved {
            systems: u32::try_from(plan.systems.len()).unwrap_or(u32::MAX),
            suspend: plan.suspends(),
        };
        let mut events = vec![approved];
        events.extend(work.events);
        self.record(pid, events, actor, work.writes, work.mail, origin, now)
            .await?;
        Ok(())
    }

    /// The jobs of an ordered plan: one per system a connector changes, a task for the owner
    /// of each system changed by hand and for each recipient told by e-mail, with their mail
    /// and trail entries.
    async fn queue_erasure(
        &self,
        row: &request::Model,
        plan: &ErasurePlan,
        now: DateTime<Utc>,
    ) -> Result<crate::tasks::Handover, ServiceError> {
        let state = self.erasure_state(row).await?;
        if !state.failed.is_empty() && state.suspend == plan.suspends() {
            // What failed is taken up again; what was done stays done.
            return self.reopen(row, &state.failed, now).await;
        }
        let run = self.next_run(row).await?;
        let mut work = self
            .hand_over(
                row,
                Some(plan.measure),
                &plan.owner_systems,
                &plan.recipients,
                run,
                now,
            )
            .await?;
        work.writes.insert(
            0,
            Write::QueueErase {
                systems: plan.systems.clone(),
                run,
                suspend: plan.suspends(),
            },
        );
        Ok(work)
    }

    /// The next run of a request's erasures, suspensions and instructions to recipients.
    pub(crate) async fn next_run(&self, row: &request::Model) -> Result<i32, ServiceError> {
        let last = |jobs: Vec<gather_job::Model>| jobs.first().map_or(0, |j| j.run);
        Ok(last(store::latest_erasure(self.db().conn(), row.id).await?)
            .max(last(store::latest_notices(self.db().conn(), row.id).await?))
            + 1)
    }

    /// Where the ordering stands.
    pub(crate) async fn erasure_state(
        &self,
        row: &request::Model,
    ) -> Result<OrderState, ServiceError> {
        let trail = madoguchi_store::audit::for_request(self.db().conn(), row.pid).await?;
        let ordered = |a: &str| a == "erasure.ordered" || a == "suspension.ordered";
        let approved = |a: &str| a == "erasure.approved" || a == "suspension.approved";
        let last = trail.iter().rposition(|e| ordered(&e.action));
        // Where a second officer must approve, the latest order waits until an approval
        // follows it on the trail (the trail's order, not the jobs' times: a reminder or an
        // answer touches jobs, an order does not).
        let pending = last
            .filter(|i| {
                self.config().erasure_needs_two
                    && !trail[i + 1..].iter().any(|e| approved(&e.action))
            })
            .map(|i| &trail[i]);
        let suspend = last.is_some_and(|i| trail[i].action == "suspension.ordered");
        let (jobs, notices) = self.latest_remedy(row).await?;
        let all: Vec<&gather_job::Model> = jobs.iter().chain(&notices).collect();
        let busy = all
            .iter()
            .any(|j| j.state != store::FAILED && j.state != store::DONE);
        let failed: Vec<gather_job::Model> = all
            .iter()
            .filter(|j| j.state == store::FAILED)
            .map(|j| (*j).clone())
            .collect();
        Ok(OrderState {
            pending: pending.map(|_| {
                if suspend {
                    Measure::Suspend
                } else {
                    Measure::Erase
                }
            }),
            // Nothing can be ordered while anything is underway, nor when all of it is done.
            active: !all.is_empty() && (busy || failed.is_empty()),
            ordered_by: pending.and_then(|e| e.actor_id.clone()),
            failed: if busy { Vec::new() } else { failed },
            suspend,
            jobs,
            notices,
        })
    }

    /// The latest run's jobs: its systems' (erase or suspend) and its recipients' (notify).
    pub(crate) async fn latest_remedy(
        &self,
        row: &request::Model,
    ) -> Result<(Vec<gather_job::Model>, Vec<gather_job::Model>), ServiceError> {
        let jobs = store::latest_erasure(self.db().conn(), row.id).await?;
        let notices = store::latest_notices(self.db().conn(), row.id).await?;
        let run = jobs
            .iter()
            .chain(&notices)
            .map(|j| j.run)
            .max()
            .unwrap_or(0);
        let of_run = |v: Vec<gather_job::Model>| v.into_iter().filter(|j| j.run == run).collect();
        Ok((of_run(jobs), of_run(notices)))
    }

    /// Whether the latest order (or run) suspends use rather than erases.
    pub(crate) async fn suspends(&self, row: &request::Model) -> Result<bool, ServiceError> {
        Ok(self.erasure_state(row).await?.suspend)
    }

    /// Where the request's erasure stands, and what was done (in the subject's language).
    pub async fn erasure(
        &self,
        row: &request::Model,
        en: bool,
    ) -> Result<ErasureProgress, ServiceError> {
        let state = self.erasure_state(row).await?;
        let (jobs, notices) = (&state.jobs, &state.notices);
        let map = self.datamap().await?;
        let map = map.as_deref().map(|m| &m.map);
        let subject_en = row.lang == "en";
        let mut out = ErasureProgress {
            awaiting_approval: state.pending.is_some(),
            suspend: state.suspend,
            running: state.active,
            // Done when every system and every recipient told has confirmed.
            complete: !(jobs.is_empty() && notices.is_empty())
                && jobs.iter().chain(notices).all(|j| j.state == store::DONE),
            ..Default::default()
        };
        for job in jobs {
            let name = |en: bool| {
                map.and_then(|m| m.system(&job.system))
                    .map_or_else(|| job.system.clone(), |s| s.name.get(en).to_owned())
            };
            out.systems.push(SystemProgress {
                system: name(en),
                state: job.state.clone(),
                rows: job.rows,
                attempts: job.attempts,
                error: crate::gather::job_error_words(job.error.as_deref(), map, en),
                reason: self.declined_reason(job)?,
            });
            if job.state != store::DONE {
                continue;
            }
            let Some(json) = store::open_result(self.cipher(), job)? else {
                continue;
            };
            let done: Vec<Erased> = serde_json::from_str(&json).map_err(|e| {
                ServiceError::Store(madoguchi_store::StoreError::Corrupt(format!(
                    "erase job {}: {e}",
                    job.id
                )))
            })?;
            let on = madoguchi_domain::written_date(
                madoguchi_domain::jst_date(job.updated_at),
                subject_en,
            );
            let day = madoguchi_domain::jst_date(job.updated_at).to_string();
            if out.done_on.as_ref().is_none_or(|d| *d < day) {
                out.done_on = Some(day);
            }
            if done
                .iter()
                .any(|e| matches!(e.done, Done::Deleted | Done::Cleared))
            {
                out.changed_in.push(name(subject_en));
            }
            for e in done {
                let label = map
                    .and_then(|m| m.dataset(&e.dataset))
                    .map_or_else(|| e.dataset.clone(), |d| d.label.get(subject_en).to_owned());
                let system = name(subject_en);
                let line = match (e.done, subject_en) {
                    (Done::Deleted, false) => {
                        format!("{label}（{system}）: {} 件を削除しました（{on}）", e.rows)
                    }
                    (Done::Deleted, true) => {
                        format!("{label} ({system}): {} record(s) deleted on {on}", e.rows)
                    }
                    (Done::Cleared, false) if state.suspend => format!(
                        "{label}（{system}）: {} 件の記録の利用を停止しました（{on}）",
                        e.rows
                    ),
                    (Done::Cleared, true) if state.suspend => format!(
                        "{label} ({system}): use of {} record(s) stopped on {on}",
                        e.rows
                    ),
                    (Done::Cleared, false) => format!(
                        "{label}（{system}）: {} 件の記録からお客様の情報を消去しました（{on}）",
                        e.rows
                    ),
                    (Done::Cleared, true) => format!(
                        "{label} ({system}): your data erased from {} record(s) on {on}",
                        e.rows
                    ),
                    // The basis may be a law or the business's own rule: named as it is.
                    (Done::Kept, false) => format!(
                        "{label}（{system}）: {}（保存の根拠: {}）",
                        if state.suspend {
                            "引き続き保存しています"
                        } else {
                            "消去せず保存しています"
                        },
                        bases(&e.retained).join("、")
                    ),
                    (Done::Kept, true) => format!(
                        "{label} ({system}): kept (basis: {})",
                        bases(&e.retained).join(", ")
                    ),
                    (Done::NoRows, _) => continue,
                };
                out.lines.push(line);
            }
        }
        self.notices_into(row, notices, &mut out, map, en).await?;
        Ok(out)
    }

    /// Why the person asked by a job's link said it cannot be done (sealed with the job).
    fn declined_reason(&self, job: &gather_job::Model) -> Result<Option<String>, ServiceError> {
        if job.state != store::FAILED || job.error.as_deref() != Some(store::DECLINED) {
            return Ok(None);
        }
        Ok(store::open_result(self.cipher(), job)?
            .and_then(|j| serde_json::from_str::<serde_json::Value>(&j).ok())
            .and_then(|v| v["reason"].as_str().map(str::to_owned)))
    }

    /// The recipients told of the latest erasure, suspension or stop of provision: each as a
    /// line of progress, and, once confirmed, a line of the answer. The whole is complete only
    /// when every recipient told has confirmed.
    async fn notices_into(
        &self,
        row: &request::Model,
        notices: &[gather_job::Model],
        out: &mut ErasureProgress,
        map: Option<&DataMap>,
        en: bool,
    ) -> Result<(), ServiceError> {
        let subject_en = row.lang == "en";
        let stop = row.kind == RequestKind::ThirdPartyStop.as_str();
        for job in notices {
            let name = |en: bool| {
                map.and_then(|m| m.recipient(&job.system))
                    .map_or_else(|| job.system.clone(), |r| r.name.get(en).to_owned())
            };
            out.systems.push(SystemProgress {
                system: name(en),
                state: job.state.clone(),
                rows: job.rows,
                attempts: job.attempts,
                error: crate::gather::job_error_words(job.error.as_deref(), map, en),
                reason: self.declined_reason(job)?,
            });
            if job.state != store::DONE {
                continue;
            }
            let on = madoguchi_domain::written_date(
                madoguchi_domain::jst_date(job.updated_at),
                subject_en,
            );
            let day = madoguchi_domain::jst_date(job.updated_at).to_string();
            if out.done_on.as_ref().is_none_or(|d| *d < day) {
                out.done_on = Some(day);
            }
            let who = name(subject_en);
            out.lines.push(match (stop, out.suspend, subject_en) {
                (true, _, false) => {
                    format!("{who}: 提供を停止し、先方から対応の報告を受けました（{on}）")
                }
                (true, _, true) => format!("{who}: provision stopped; they confirmed on {on}"),
                (false, false, false) => {
                    format!("{who}（提供先）: 消去を依頼し、対応の報告を受けました（{on}）")
                }
                (false, false, true) => {
                    format!("{who} (recipient): asked to erase; they confirmed on {on}")
                }
                (false, true, false) => {
                    format!("{who}（提供先）: 利用停止を依頼し、対応の報告を受けました（{on}）")
                }
                (false, true, true) => {
                    format!("{who} (recipient): asked to stop using it; they confirmed on {on}")
                }
            });
            if !out.changed_in.contains(&who) {
                out.changed_in.push(who);
            }
        }
        out.stop = stop;
        Ok(())
    }

    /// Runs a claimed erasure job: changes the system and checks it, then commits the record
    /// (counts per dataset, sealed) with its `data.erased` entry; a failure is retried with
    /// backoff and, after the last try, left for the officer (nothing changed in the system).
    pub(crate) async fn run_erase(
        &self,
        row: &request::Model,
        job: &gather_job::Model,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let Some((m, found)) = self.action_inputs(row, job, now).await? else {
            return Ok(());
        };
        let vars = self.config().other_vars.clone();
        let env = move |name: &str| vars.get(name);
        let subject = crate::gather::subject_of(row);
        // A later try may follow one that committed and died before saying so.
        let resumed = job.attempts > 1;
        let suspend = job.purpose == store::SUSPEND;
        let job_key = format!("job-{}", job.id);
        let act = Act {
            measure: if suspend {
                Measure::Suspend
            } else {
                Measure::Erase
            },
            system: &job.system,
            job_key: &job_key,
            resumed,
        };
        match madoguchi_connectors::erase_system(&m.map, act, &subject, &found, &env).await {
            Ok(done) => {
                let count = |d: Done| -> u32 {
                    done.iter()
                        .filter(|e| e.done == d)
                        .map(|e| u32::try_from(e.rows).unwrap_or(u32::MAX))
                        .sum()
                };
                let event = AuditOnly::Erased {
                    system: job.system.clone(),
                    deleted: count(Done::Deleted),
                    cleared: count(Done::Cleared),
                    kept: count(Done::Kept),
                    suspend,
                };
                let rows = count(Done::Deleted) + count(Done::Cleared);
                self.finish_action(row, job, event, &done, rows, now).await
            }
            Err(e) => self.action_failed(row, job, e, now).await,
        }
    }

    /// What an erase or correction job works from: the map and the keys connectors
    /// gathered. `None` when the job was ended (the request left work) or put back (the
    /// request is being gathered again) instead.
    async fn action_inputs(
        &self,
        row: &request::Model,
        job: &gather_job::Model,
        now: DateTime<Utc>,
    ) -> Result<
        Option<(
            std::sync::Arc<crate::datamap::MapInForce>,
            BTreeMap<String, Rows>,
        )>,
        ServiceError,
    > {
        if requests::to_domain(row)?.state != State::InProgress {
            let gone = "the request is no longer in work".to_owned();
            self.fail_erase(row, job, gone, None, now).await?;
            return Ok(None);
        }
        let (Some(m), Some(found)) = (self.datamap().await?, self.gathered_rows(row).await?) else {
            // Gathered again since: wait for it.
            let retry = Some(now + chrono::Duration::seconds(30));
            let waiting = "the gathering is not complete".to_owned();
            self.fail_erase(row, job, waiting, retry, now).await?;
            return Ok(None);
        };
        Ok(Some((m, found.keys)))
    }

    /// Commits what an erase or correction job did (counts and names, sealed, in place of its
    /// plan) with its trail entry.
    async fn finish_action<T: serde::Serialize>(
        &self,
        row: &request::Model,
        job: &gather_job::Model,
        event: AuditOnly,
        done: &T,
        rows: u32,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let result = serde_json::to_string(done).expect("outcomes serialise");
        let finish = Write::FinishGather {
            job_id: job.id,
            attempts: job.attempts,
            hash: hex::encode(sha2::Sha256::digest(result.as_bytes())),
            result,
            rows: i32::try_from(rows).unwrap_or(i32::MAX),
        };
        let recorded = self
            .record(
                row.pid,
                vec![event],
                &Actor::System,
                vec![finish],
                Vec::new(),
                &Origin::default(),
                now,
            )
            .await;
        match recorded {
            // Taken over after this instance's claim expired: the other one finishes.
            Ok(_) | Err(ServiceError::Conflict) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// A connector could not carry out an erase or correction job: retried with backoff,
    /// then left for the officer (nothing changed in the system).
    async fn action_failed(
        &self,
        row: &request::Model,
        job: &gather_job::Model,
        e: madoguchi_connectors::ConnectorError,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        tracing::warn!(request = %row.pid, system = %job.system, purpose = %job.purpose, error = %e, "a connector could not act");
        let retry = crate::gather::retry_at(job.attempts, now);
        if retry.is_none() && job.purpose != store::CORRECT {
            // Given up: the system's owner finishes it by hand.
            return self.hand_to_owner(row, job, e.to_stored(), now).await;
        }
        self.fail_erase(row, job, e.to_stored(), retry, now).await
    }

    /// An erase or suspend job the connector gave up on becomes its system's owner's task:
    /// the job waits on their link, they are mailed what to do.
    async fn hand_to_owner(
        &self,
        row: &request::Model,
        job: &gather_job::Model,
        error: String,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let measure = if job.purpose == store::SUSPEND {
            Measure::Suspend
        } else {
            Measure::Erase
        };
        let mut work = self
            .hand_over(
                row,
                Some(measure),
                std::slice::from_ref(&job.system),
                &[],
                job.run,
                now,
            )
            .await?;
        // The task's link, taken from the writes that would open a new job: this job is it.
        let link = work.writes.iter_mut().find_map(|w| match w {
            Write::OpenTasks { tasks, .. } if !tasks.is_empty() => Some(tasks.remove(0).1),
            _ => None,
        });
        let Some(link) = link else {
            return self.fail_erase(row, job, error, None, now).await;
        };
        let mut events = vec![AuditOnly::EraseFailed {
            system: job.system.clone(),
            attempts: u32::try_from(job.attempts).unwrap_or(0),
            last: true,
        }];
        events.extend(work.events);
        let write = Write::FailGather {
            job_id: job.id,
            attempts: job.attempts,
            error,
            retry_at: None,
            give_back: false,
            hand_to_owner: Some(link),
        };
        match self
            .record(
                row.pid,
                events,
                &Actor::System,
                vec![write],
                work.mail,
                &Origin::default(),
                now,
            )
            .await
        {
            Ok(_) | Err(ServiceError::Conflict) => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub(crate) async fn fail_erase(
        &self,
        row: &request::Model,
        job: &gather_job::Model,
        error: String,
        retry_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let event = AuditOnly::EraseFailed {
            system: job.system.clone(),
            attempts: u32::try_from(job.attempts).unwrap_or(0),
            last: retry_at.is_none(),
        };
        let write = Write::FailGather {
            job_id: job.id,
            attempts: job.attempts,
            error,
            retry_at,
            give_back: false,
            hand_to_owner: None,
        };
        match self
            .record(
                row.pid,
                vec![event],
                &Actor::System,
                vec![write],
                Vec::new(),
                &Origin::default(),
                now,
            )
            .await
        {
            Ok(_) | Err(ServiceError::Conflict) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

use sha2::Digest as _;

/// The bases fields are kept under, each once.
fn bases(retained: &[(String, String)]) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for (_, basis) in retained {
        if !out.contains(&basis.as_str()) {
            out.push(basis);
        }
    }
    out
}

/// Where the ordering of an erasure or suspension stands.
pub(crate) struct OrderState {
    /// An order waiting for approval (newer than the latest run), and what it orders.
    pub(crate) pending: Option<Measure>,
    /// A run is underway or done (a run with a failed system can be ordered again).
    pub(crate) active: bool,
    /// Who gave the waiting order (staff id).
    pub(crate) ordered_by: Option<String>,
    /// The latest run suspends use.
    pub(crate) suspend: bool,
    /// The latest run's failed jobs, once nothing of it is still underway (they are what a
    /// new order takes up again).
    pub(crate) failed: Vec<gather_job::Model>,
    /// The latest run's systems' jobs.
    pub(crate) jobs: Vec<gather_job::Model>,
    /// The latest run's recipients' jobs.
    pub(crate) notices: Vec<gather_job::Model>,
}

/// The plan of every dataset holding the subject's rows, in the order they change. A system
/// is changed by its connector, or, where any of its changes needs a hand (no connector can
/// make it, or its owner reported the rows), entirely by its owner.
fn plan_of(map: &DataMap, found: &Gathered, measure: Measure, en: bool) -> ErasurePlan {
    let mut out = ErasurePlan {
        measure,
        datasets: Vec::new(),
        systems: Vec::new(),
        rows: 0,
        owner_systems: Vec::new(),
        recipients: Vec::new(),
    };
    let rows_of = |id: &str| found.all.get(id).map_or(0, |r| r.rows.len());
    let plans = plan_all(map, measure);
    let changes =
        |p: &madoguchi_datamap::plan::DatasetPlan| p.action != RowAction::Keep || p.unmarked;
    let by_hand: std::collections::BTreeSet<&str> = plans
        .iter()
        .filter(|p| rows_of(&p.dataset) > 0 && changes(p))
        .filter(|p| {
            p.unmarked
                || !madoguchi_connectors::can_act(map, &p.dataset, &p.action)
                || found.by_owner.contains(&p.system)
        })
        .map(|p| p.system.as_str())
        .collect();
    for p in &plans {
        let rows = rows_of(&p.dataset);
        if rows == 0 {
            continue;
        }
        let Some(d) = map.dataset(&p.dataset) else {
            continue;
        };
        let system = map.system(&p.system);
        let by_connector = !by_hand.contains(p.system.as_str());
        if changes(p) {
            let list = if by_connector {
                out.rows += rows;
                &mut out.systems
            } else {
                &mut out.owner_systems
            };
            if !list.contains(&p.system) {
                list.push(p.system.clone());
            }
        }
        let field_label = |name: &str| {
            d.fields
                .iter()
                .find(|f| f.name.get_ref() == name)
                .map_or_else(|| name.to_owned(), |f| f.label.get(en).to_owned())
        };
        out.datasets.push(PlannedDataset {
            label: d.label.get(en).to_owned(),
            system: system.map_or_else(|| p.system.clone(), |s| s.name.get(en).to_owned()),
            action: action_words(&p.action, p.unmarked, en),
            rows,
            retained: p
                .retained
                .iter()
                .map(|(f, basis)| (field_label(f), basis.clone()))
                .collect(),
            by_connector,
            by_hand: !by_connector && changes(p),
        });
    }
    out.recipients = recipients_of(map, |id| rows_of(id) > 0, |_| true, en);
    out
}

/// The recipients (of the kinds `kind` keeps) of datasets holding the subject's rows, each
/// with those datasets' names.
pub(crate) fn recipients_of(
    map: &DataMap,
    holds: impl Fn(&str) -> bool,
    kind: impl Fn(madoguchi_datamap::RecipientKind) -> bool,
    en: bool,
) -> Vec<PlannedRecipient> {
    map.recipients
        .iter()
        .filter(|r| kind(r.kind))
        .filter_map(|r| {
            let datasets: Vec<String> = map
                .datasets
                .iter()
                .filter(|d| holds(d.id.get_ref()))
                .filter(|d| d.recipients.iter().any(|x| x.get_ref() == r.id.get_ref()))
                .map(|d| d.label.get(en).to_owned())
                .collect();
            (!datasets.is_empty()).then(|| PlannedRecipient {
                id: r.id.get_ref().clone(),
                name: r.name.get(en).to_owned(),
                datasets,
                by_mail: r.contact.is_some(),
            })
        })
        .collect()
}

/// A gathered dataset whose fields a correction can change, as the officer's form shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorrectableDataset {
    /// The dataset's id.
    pub id: String,
    /// Its name.
    pub label: String,
    /// Its system's name.
    pub system: String,
    /// The correctable fields: name, label and the values held now (distinct).
    pub fields: Vec<(String, String, Vec<String>)>,
}

/// What a correction job is told to do (sealed until it is done).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct CorrectionPlan {
    dataset: String,
    values: Vec<(String, String)>,
    /// The officer who ordered it (staff id), where a second must approve it.
    #[serde(default)]
    ordered_by: Option<String>,
}

impl Service {
    /// The datasets a correction can change: gathered rows of the subject in a SQL system,
    /// fields the map says are correctable. `None` unless the request is a correction at work
    /// whose gathering is complete.
    pub async fn correction_targets(
        &self,
        row: &request::Model,
        en: bool,
    ) -> Result<Option<Vec<CorrectableDataset>>, ServiceError> {
        let current = requests::to_domain(row)?;
        if current.kind != RequestKind::Correction || current.state != State::InProgress {
            return Ok(None);
        }
        let Some(m) = self.datamap().await? else {
            return Ok(None);
        };
        let Some(found) = self.gathered_rows(row).await? else {
            return Ok(None);
        };
        let mut out = Vec::new();
        for d in &m.map.datasets {
            let Some(rows) = found
                .keys
                .get(d.id.get_ref())
                .filter(|r| !r.rows.is_empty())
            else {
                continue;
            };
            let Some(system) = m.map.system(d.system.get_ref()) else {
                continue;
            };
            let update = RowAction::Update {
                clear: Vec::new(),
                mask: Vec::new(),
                set: Vec::new(),
            };
            if !madoguchi_connectors::can_act(&m.map, d.id.get_ref(), &update)
                || found.by_owner.contains(d.system.get_ref())
            {
                continue;
            }
            let fields = d
                .fields
                .iter()
                .filter(|f| f.correctable)
                .map(|f| {
                    let mut now = rows.values(f.name.get_ref());
                    now.dedup();
                    (f.name.get_ref().clone(), f.label.get(en).to_owned(), now)
                })
                .collect::<Vec<_>>();
            if fields.is_empty() {
                continue;
            }
            out.push(CorrectableDataset {
                id: d.id.get_ref().clone(),
                label: d.label.get(en).to_owned(),
                system: system.name.get(en).to_owned(),
                fields,
            });
        }
        Ok(Some(out))
    }

    /// Orders a correction of one dataset: each named field set to its new value on the
    /// subject's gathered rows, carried out by a job in the dataset's system. The trail names
    /// the fields, never the values.
    pub async fn order_correction(
        &self,
        pid: Uuid,
        dataset: &str,
        values: Vec<(String, String)>,
        actor: &Actor,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let row = self.request_row(pid).await?;
        let targets = self
            .correction_targets(&row, false)
            .await?
            .ok_or(ServiceError::Invalid("correction"))?;
        let target = targets
            .iter()
            .find(|t| t.id == dataset)
            .ok_or(ServiceError::Invalid("dataset"))?;
        // One value per field (the last given), blank fields left as they are.
        let mut by_field: BTreeMap<String, String> = BTreeMap::new();
        for (f, v) in values {
            by_field.insert(f, v.trim().to_owned());
        }
        let values: Vec<(String, String)> = by_field
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .collect();
        if values.is_empty()
            || values.iter().any(|(f, v)| {
                !target.fields.iter().any(|t| &t.0 == f)
                    || v.chars().count() > 1000
                    || v.chars().any(char::is_control)
            })
        {
            return Err(ServiceError::Invalid("correction values"));
        }
        let map = self.datamap().await?.ok_or(ServiceError::Invalid("map"))?;
        let system = map
            .map
            .dataset(dataset)
            .map(|d| d.system.get_ref().clone())
            .ok_or(ServiceError::Invalid("dataset"))?;
        let run = store::corrections(self.db().conn(), row.id)
            .await?
            .last()
            .map_or(1, |j| j.run + 1);
        let fields = values
            .iter()
            .map(|(f, _)| f.as_str())
            .collect::<Vec<_>>()
            .join(",");
        let hold = self.config().erasure_needs_two;
        let ordered_by = match actor {
            Actor::Staff { id, .. } => Some(id.clone()),
            _ => None,
        };
        let plan = serde_json::to_string(&CorrectionPlan {
            dataset: dataset.to_owned(),
            values,
            ordered_by: ordered_by.filter(|_| hold),
        })
        .expect("a plan serialises");
        self.record(
            pid,
            vec![AuditOnly::CorrectionOrdered {
                dataset: dataset.to_owned(),
                fields,
            }],
            actor,
            vec![Write::QueueCorrect {
                system,
                run,
                plan,
                hold,
            }],
            Vec::new(),
            origin,
            now,
        )
        .await?;
        Ok(())
    }

    /// A second officer approves the corrections waiting for approval; they are carried out.
    /// The officer who ordered one cannot approve it.
    pub async fn approve_corrections(
        &self,
        pid: Uuid,
        actor: &Actor,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let row = self.request_row(pid).await?;
        let held: Vec<gather_job::Model> = store::corrections(self.db().conn(), row.id)
            .await?
            .into_iter()
            .filter(|j| j.state == store::HELD)
            .collect();
        if held.is_empty() {
            return Err(ServiceError::Invalid("correction approval"));
        }
        let mut events = Vec::new();
        let mut writes = Vec::new();
        for job in &held {
            let plan: CorrectionPlan = store::open_result(self.cipher(), job)?
                .and_then(|j| serde_json::from_str(&j).ok())
                .ok_or(ServiceError::Invalid("correction plan"))?;
            madoguchi_domain::check_second_officer(
                plan.ordered_by.as_deref().unwrap_or(""),
                actor,
            )?;
            events.push(AuditOnly::CorrectionApproved {
                dataset: plan.dataset.clone(),
            });
            writes.push(Write::ReleaseJob { job_id: job.id });
        }
        self.record(pid, events, actor, writes, Vec::new(), origin, now)
            .await?;
        Ok(())
    }

    /// Runs a claimed correction job; the record of what it did replaces its plan.
    pub(crate) async fn run_correct(
        &self,
        row: &request::Model,
        job: &gather_job::Model,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let plan: CorrectionPlan = match store::open_result(self.cipher(), job)? {
            Some(json) => serde_json::from_str(&json).map_err(|e| {
                ServiceError::Store(madoguchi_store::StoreError::Corrupt(format!(
                    "correction job {}: {e}",
                    job.id
                )))
            })?,
            None => {
                return self
                    .fail_erase(row, job, "the correction has no plan".into(), None, now)
                    .await;
            }
        };
        let Some((m, found)) = self.action_inputs(row, job, now).await? else {
            return Ok(());
        };
        let vars = self.config().other_vars.clone();
        let env = move |name: &str| vars.get(name);
        let subject = crate::gather::subject_of(row);
        let job_key = format!("job-{}", job.id);
        let act = Act {
            measure: Measure::Erase,
            system: &job.system,
            job_key: &job_key,
            resumed: job.attempts > 1,
        };
        match madoguchi_connectors::correct_dataset(
            &m.map,
            &plan.dataset,
            &subject,
            &found,
            &plan.values,
            act,
            &env,
        )
        .await
        {
            Ok(done) => {
                let rows = u32::try_from(done.rows).unwrap_or(u32::MAX);
                let event = AuditOnly::Corrected {
                    dataset: done.dataset.clone(),
                    fields: done.fields.join(","),
                    rows,
                };
                self.finish_action(row, job, event, &done, rows, now).await
            }
            Err(e) => self.action_failed(row, job, e, now).await,
        }
    }

    /// The corrections carried out, line by line in the subject's language, and each job's
    /// progress.
    pub async fn corrections(
        &self,
        row: &request::Model,
        en: bool,
    ) -> Result<ErasureProgress, ServiceError> {
        let jobs = store::corrections(self.db().conn(), row.id).await?;
        let map = self.datamap().await?;
        let map = map.as_deref().map(|m| &m.map);
        let subject_en = row.lang == "en";
        let mut out = ErasureProgress {
            complete: !jobs.is_empty() && jobs.iter().all(|j| j.state == store::DONE),
            awaiting_approval: jobs.iter().any(|j| j.state == store::HELD),
            ..Default::default()
        };
        for job in &jobs {
            let system = |en: bool| {
                map.and_then(|m| m.system(&job.system))
                    .map_or_else(|| job.system.clone(), |s| s.name.get(en).to_owned())
            };
            out.systems.push(SystemProgress {
                system: system(en),
                state: job.state.clone(),
                rows: job.rows,
                attempts: job.attempts,
                error: crate::gather::job_error_words(job.error.as_deref(), map, en),
                reason: None,
            });
            if job.state != store::DONE {
                continue;
            }
            let Some(json) = store::open_result(self.cipher(), job)? else {
                continue;
            };
            let Ok(done) = serde_json::from_str::<madoguchi_connectors::Corrected>(&json) else {
                continue;
            };
            let d = map.and_then(|m| m.dataset(&done.dataset));
            let label = d.map_or_else(
                || done.dataset.clone(),
                |d| d.label.get(subject_en).to_owned(),
            );
            let fields: Vec<String> = done
                .fields
                .iter()
                .map(|f| {
                    d.and_then(|d| d.fields.iter().find(|x| x.name.get_ref() == f))
                        .map_or_else(|| f.clone(), |x| x.label.get(subject_en).to_owned())
                })
                .collect();
            let on = madoguchi_domain::written_date(
                madoguchi_domain::jst_date(job.updated_at),
                subject_en,
            );
            let day = madoguchi_domain::jst_date(job.updated_at).to_string();
            if out.done_on.as_ref().is_none_or(|d| *d < day) {
                out.done_on = Some(day);
            }
            if !out.changed_in.contains(&system(subject_en)) {
                out.changed_in.push(system(subject_en));
            }
            out.lines.push(if subject_en {
                format!(
                    "{label} ({}): {} corrected on {on}",
                    system(true),
                    fields.join(", ")
                )
            } else {
                format!(
                    "{label}（{}）: {}を訂正しました（{on}）",
                    system(false),
                    fields.join("・")
                )
            });
        }
        Ok(out)
    }
}
