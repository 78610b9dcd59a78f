//! Gathering the subject's data with the connectors: jobs queued in the change that puts a
//! disclosure to work (or when an officer asks again), run by any instance, each outcome
//! committed with its trail entry (systems, counts and hashes, never the data); and what the
//! officer reviews.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
pub use madoguchi_connectors::Checked;
use madoguchi_connectors::{Rows, Subject};
use madoguchi_datamap::DataMap;
use madoguchi_domain::{
    Actor, AuditOnly, FieldDecision, RequestKind, Requester, Review, State, review_key,
};
use madoguchi_store::audit::Origin;
use madoguchi_store::change::Write;
use madoguchi_store::entities::{gather_job, request};
use madoguchi_store::gather as store;
use madoguchi_store::requests;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{Service, ServiceError};

/// Tries before a system is left to the officer.
pub const MAX_ATTEMPTS: i32 = 4;
/// What a job waiting on another system's job says.
const WAITING: &str = "waiting for another system";

/// One system's part of the latest gathering, as the request page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemProgress {
    /// The system's name, in the page's language.
    pub system: String,
    /// Waiting, running, done or failed (the store's spelling; pages word it).
    pub state: String,
    /// Rows found, when done.
    pub rows: i32,
    /// Tries so far.
    pub attempts: i32,
    /// Why the last try failed (never a credential or a row).
    pub error: Option<String>,
    /// Why the person asked by link said it cannot be done, in their words (staff only).
    pub reason: Option<String>,
}

/// One dataset of what was gathered, labelled for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatheredDataset {
    /// The dataset's id.
    pub id: String,
    /// Its name.
    pub label: String,
    /// The disclosed fields' names.
    pub columns: Vec<String>,
    /// The rows, disclosed fields only.
    pub rows: Vec<Vec<String>>,
    /// Withheld fields: name and ground.
    pub withheld: Vec<(String, madoguchi_domain::RefusalGround)>,
    /// Whether it could be searched (its finders had the keys they need).
    pub searched: bool,
    /// Every field read, with what the answer does with it (for the officer's review).
    pub fields: Vec<ReviewedField>,
}

/// A gathered field and the decision in force for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewedField {
    /// Its name in the system.
    pub name: String,
    /// Its label.
    pub label: String,
    /// Disclosed, withheld (on a ground) or left out.
    pub decision: FieldDecision,
}

/// What the officer sees of the latest gathering.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Gathering {
    /// Each system's progress.
    pub systems: Vec<SystemProgress>,
    /// Each dataset read so far.
    pub datasets: Vec<GatheredDataset>,
    /// Whether every system is done.
    pub complete: bool,
}

/// A gathering queued as part of a change: the write, how many systems, the owners' mail
/// and the trail entries that say they were asked.
pub(crate) struct Queued {
    pub write: Write,
    pub systems: u32,
    pub mail: Vec<madoguchi_store::outbox::NewMessage>,
    pub events: Vec<AuditOnly>,
}

/// The kinds the connectors gather for: a disclosure is answered from what they find; a
/// correction and a suspension or erasure need to know what is held and where (the officer
/// sees the current values before changing them); a stop of provision, which recipients
/// received the person's data.
pub fn gathers_for(kind: RequestKind) -> bool {
    matches!(
        kind,
        RequestKind::Disclosure
            | RequestKind::Correction
            | RequestKind::SuspensionOrErasure
            // Which third parties received the person's data follows from what is held.
            | RequestKind::ThirdPartyStop
    )
}

/// The kinds whose answer is a package of what was gathered: a disclosure only.
pub fn packages_for(kind: RequestKind) -> bool {
    kind == RequestKind::Disclosure
}

/// When a connector job that failed its try number `attempts` is tried again: after 5, 20
/// and 80 seconds; `None` after the last try.
pub(crate) fn retry_at(attempts: i32, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    (attempts < MAX_ATTEMPTS)
        .then(|| now + Duration::seconds(5 * 4_i64.pow(attempts.max(1) as u32 - 1)))
}

/// The subject's keys a request gives: the subject's own address and phone (an agent's are
/// not theirs), name and date of birth.
pub(crate) fn subject_of(row: &request::Model) -> Subject {
    let by_subject = Requester::parse(&row.requester).is_some_and(|r| !r.is_agent());
    Subject {
        email: row.subject_email.clone().or_else(|| {
            crate::intake::email_of(row)
                .filter(|_| by_subject)
                .map(str::to_owned)
        }),
        phone: row.phone.clone().filter(|_| by_subject),
        customer_number: None,
        name: Some(row.subject_name.clone()),
        birth_date: row.subject_birth_date.map(|d| d.to_string()),
    }
}

impl Service {
    /// The jobs a request entering work needs, as a write of its change: one per system a
    /// connector reads, and a task for the owner of each manual system (with its mail and
    /// trail entries), as run `run`. `None` without a map or a system to read.
    pub(crate) async fn gather_write(
        &self,
        row: &request::Model,
        kind: RequestKind,
        run: i32,
        now: DateTime<Utc>,
    ) -> Result<Option<Queued>, ServiceError> {
        if !gathers_for(kind) {
            return Ok(None);
        }
        let Some(m) = self.datamap().await? else {
            return Ok(None);
        };
        let systems = madoguchi_connectors::readable_systems(&m.map);
        let manual = crate::owner::manual_systems(&m.map);
        if systems.is_empty() && manual.is_empty() {
            return Ok(None);
        }
        let asked = self.ask_owners(row, &manual, now).await?;
        let n = u32::try_from(systems.len() + manual.len()).unwrap_or(u32::MAX);
        Ok(Some(Queued {
            write: Write::QueueGather {
                systems,
                tasks: asked.tasks,
                run,
            },
            systems: n,
            mail: asked.mail,
            events: asked.events,
        }))
    }

    /// An officer asks the connectors to gather again (after a failure, or after the business
    /// fixed a system): a new run, recorded on the trail.
    pub async fn request_gathering(
        &self,
        pid: Uuid,
        actor: &Actor,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<u32, ServiceError> {
        let row = self.request_row(pid).await?;
        let current = requests::to_domain(&row)?;
        if current.state != State::InProgress || !gathers_for(current.kind) {
            return Err(ServiceError::Invalid("gathering"));
        }
        let run = store::latest_run(self.db().conn(), row.id)
            .await?
            .first()
            .map_or(1, |j| j.run + 1);
        let Some(queued) = self.gather_write(&row, current.kind, run, now).await? else {
            return Err(ServiceError::Invalid("gathering"));
        };
        let mut events = vec![AuditOnly::GatherRequested {
            systems: queued.systems,
        }];
        events.extend(queued.events);
        self.record(
            pid,
            events,
            actor,
            vec![queued.write],
            queued.mail,
            origin,
            now,
        )
        .await?;
        Ok(queued.systems)
    }

    /// Runs one due job, if there is one: reads its system and commits the rows, or the
    /// failure (retried with backoff, given up after [`MAX_ATTEMPTS`]). Returns whether a job
    /// ran. A job whose references wait on another system's unfinished job is put back.
    pub async fn run_gather_job(&self, now: DateTime<Utc>) -> Result<bool, ServiceError> {
        let lease = Duration::seconds(i64::from(self.config().gather_lease_secs));
        let Some(job) = store::claim(self.db().conn(), lease, now).await? else {
            return Ok(false);
        };
        let row = requests::find_by_id(self.db().conn(), self.cipher(), job.request_id).await?;
        if [store::ERASE, store::SUSPEND, store::CORRECT].contains(&job.purpose.as_str()) {
            let ran = if job.purpose != store::CORRECT {
                self.run_erase(&row, &job, now).await
            } else {
                self.run_correct(&row, &job, now).await
            };
            if let Err(e) = ran {
                tracing::error!(request = %row.pid, system = %job.system, error = %e, "an erasure job failed");
                let retry = (job.attempts < MAX_ATTEMPTS).then(|| now + Duration::seconds(30));
                self.fail_erase(
                    &row,
                    &job,
                    "internal error; see the service log".into(),
                    retry,
                    now,
                )
                .await?;
            }
            return Ok(true);
        }
        match self.run_claimed(&row, &job, now).await {
            Ok(()) => Ok(true),
            // Anything else that went wrong (the store, a result that does not open) ends
            // this try like a connector's failure, so no job stays claimed for ever.
            Err(e) => {
                tracing::error!(request = %row.pid, system = %job.system, error = %e, "a connector job failed");
                let retry = (job.attempts < MAX_ATTEMPTS).then(|| now + Duration::seconds(30));
                self.fail_job(
                    &row,
                    &job,
                    "internal error; see the service log".into(),
                    retry,
                    now,
                )
                .await?;
                Ok(true)
            }
        }
    }

    async fn run_claimed(
        &self,
        row: &request::Model,
        job: &gather_job::Model,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        // Claimed again and again (an instance dying mid-job each time): given up.
        if job.attempts > MAX_ATTEMPTS * 3 {
            return self
                .fail_job(
                    row,
                    job,
                    "the job was interrupted too often".into(),
                    None,
                    now,
                )
                .await;
        }
        let Some(m) = self.datamap().await? else {
            self.fail_job(row, job, "there is no data map".into(), None, now)
                .await?;
            return Ok(());
        };
        // Rows other systems already found for this run, for references across systems.
        let siblings = store::latest_run(self.db().conn(), row.id).await?;
        let deps = madoguchi_connectors::depends_on(&m.map, &job.system);
        let waiting = siblings
            .iter()
            .filter(|s| s.run == job.run && deps.contains(&s.system))
            // A system its owner searches by hand is settled for this purpose: its rows come
            // later, and this system's finders that need them find nothing meanwhile.
            .any(|s| s.state != store::DONE && s.state != store::FAILED && s.state != store::OWNER);
        if waiting {
            // Not a failure, and the try is given back, for two minutes at most: a system
            // that never finishes must not hold this one forever.
            if now - job.created_at < Duration::minutes(2) {
                return self.wait_for_others(row, job, now).await;
            }
            return self
                .fail_job(
                    row,
                    job,
                    "waited too long for another system".into(),
                    None,
                    now,
                )
                .await;
        }
        let mut known: BTreeMap<String, Rows> = BTreeMap::new();
        for s in siblings
            .iter()
            .filter(|s| s.run == job.run && s.state == store::DONE)
        {
            for r in self.job_rows(s)? {
                known.insert(r.dataset.clone(), r);
            }
        }
        let vars = self.config().other_vars.clone();
        let env = move |name: &str| vars.get(name);
        let subject = subject_of(row);
        match madoguchi_connectors::gather_system(&m.map, &job.system, &subject, &known, &env).await
        {
            Ok(found) => {
                let result = serde_json::to_string(&found).expect("rows serialise");
                let hash = hex::encode(Sha256::digest(result.as_bytes()));
                let rows: usize = found.iter().map(|r| r.rows.len()).sum();
                let event = AuditOnly::Gathered {
                    system: job.system.clone(),
                    datasets: u32::try_from(found.len()).unwrap_or(u32::MAX),
                    rows: u32::try_from(rows).unwrap_or(u32::MAX),
                    hash: hash.clone(),
                };
                let finish = Write::FinishGather {
                    job_id: job.id,
                    attempts: job.attempts,
                    result,
                    rows: i32::try_from(rows).unwrap_or(i32::MAX),
                    hash,
                };
                match self
                    .record(
                        row.pid,
                        vec![event],
                        &Actor::System,
                        vec![finish],
                        Vec::new(),
                        &Origin::default(),
                        now,
                    )
                    .await
                {
                    // Taken over after this instance's claim expired: the other one finishes.
                    Ok(_) | Err(ServiceError::Conflict) => {}
                    Err(e) => return Err(e),
                }
            }
            Err(e) => {
                tracing::warn!(request = %row.pid, system = %job.system, error = %e, "a connector failed");
                let retry = retry_at(job.attempts, now);
                self.fail_job(row, job, e.to_stored(), retry, now).await?;
            }
        }
        Ok(())
    }

    /// Puts a job back to wait for the systems it refers to: not a failure, so the try is
    /// given back and nothing goes on the trail.
    async fn wait_for_others(
        &self,
        row: &request::Model,
        job: &gather_job::Model,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let write = Write::FailGather {
            job_id: job.id,
            attempts: job.attempts,
            error: WAITING.to_owned(),
            retry_at: Some(now + Duration::seconds(2)),
            give_back: true,
            hand_to_owner: None,
        };
        let change = madoguchi_store::change::Change::trail(row, Vec::new()).with(write);
        match self.commit_change(change, &Origin::default(), now).await {
            Ok(_) | Err(ServiceError::Conflict) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// A failed try: due again at `retry_at`; without one, the system is handed to its
    /// owner (a task with a link, mailed) when the map names it, and left failed otherwise.
    async fn fail_job(
        &self,
        row: &request::Model,
        job: &gather_job::Model,
        error: String,
        retry_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let mut events = vec![AuditOnly::GatherFailed {
            system: job.system.clone(),
            attempts: u32::try_from(job.attempts).unwrap_or(0),
            last: retry_at.is_none(),
        }];
        let mut mail = Vec::new();
        let mut hand_to_owner = None;
        if retry_at.is_none() {
            let map = self.datamap().await?;
            if let Some(system) = map.as_deref().and_then(|m| m.map.system(&job.system)) {
                let asked = self.ask_owners(row, &[system], now).await?;
                events.extend(asked.events);
                mail = asked.mail;
                hand_to_owner = asked.tasks.into_iter().next().map(|(_, t)| t);
            }
        }
        let write = Write::FailGather {
            job_id: job.id,
            attempts: job.attempts,
            error,
            retry_at,
            give_back: false,
            hand_to_owner,
        };
        let result = self
            .record(
                row.pid,
                events,
                &Actor::System,
                vec![write],
                mail,
                &Origin::default(),
                now,
            )
            .await;
        match result {
            Ok(_) | Err(ServiceError::Conflict) => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub(crate) fn job_rows(&self, job: &gather_job::Model) -> Result<Vec<Rows>, ServiceError> {
        let Some(json) = store::open_result(self.cipher(), job)? else {
            return Ok(Vec::new());
        };
        serde_json::from_str(&json).map_err(|e| {
            ServiceError::Store(madoguchi_store::StoreError::Corrupt(format!(
                "gather job {}: {e}",
                job.id
            )))
        })
    }

    /// Systems whose connector gave up on some request, with how many requests (the
    /// dashboard's warning), by the system's name in the page's language.
    pub async fn failing_connectors(&self, en: bool) -> Result<Vec<(String, u64)>, ServiceError> {
        let failing = store::failing(self.db().conn()).await?;
        let map = self.datamap().await?;
        Ok(failing
            .into_iter()
            .map(|(system, n)| {
                let name = map
                    .as_deref()
                    .and_then(|m| m.map.system(&system))
                    .map_or(system, |s| s.name.get(en).to_owned());
                (name, n)
            })
            .collect())
    }

    /// Checks each system a connector reads, without reading a row: `(system, Ok(datasets) or
    /// the reason)`. Empty without a map.
    pub async fn test_connectors(
        &self,
        en: bool,
    ) -> Result<Vec<(String, Result<Checked, String>)>, ServiceError> {
        let Some(m) = self.datamap().await? else {
            return Ok(Vec::new());
        };
        let vars = self.config().other_vars.clone();
        let env = move |name: &str| vars.get(name);
        let mut out = Vec::new();
        for system in madoguchi_connectors::readable_systems(&m.map) {
            let name = m
                .map
                .system(&system)
                .map_or_else(|| system.clone(), |s| s.name.get(en).to_owned());
            let result = madoguchi_connectors::test_system(&m.map, &system, &env)
                .await
                .map_err(|e| {
                    job_error_words(Some(&e.to_stored()), Some(&m.map), en).unwrap_or_default()
                });
            out.push((name, result));
        }
        Ok(out)
    }

    /// An officer's decisions on the fields of one gathered dataset: each disclosed, withheld
    /// on an Art. 33(2) ground, or left out of the answer. One change; a trail entry for each
    /// field whose decision changed. Returns how many changed.
    pub async fn review_fields(
        &self,
        pid: Uuid,
        dataset: &str,
        decisions: Vec<(String, FieldDecision)>,
        actor: &Actor,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<usize, ServiceError> {
        let row = self.request_row(pid).await?;
        let current = requests::to_domain(&row)?;
        if current.state != State::InProgress || !packages_for(current.kind) {
            return Err(ServiceError::Invalid("review"));
        }
        let jobs = store::latest_run(self.db().conn(), row.id).await?;
        let mut target = None;
        for job in jobs.iter().filter(|j| j.state == store::DONE) {
            if let Some(found) = self
                .job_rows(job)?
                .into_iter()
                .find(|r| r.dataset == dataset)
            {
                target = Some((job, found));
                break;
            }
        }
        let Some((job, found)) = target else {
            return Err(ServiceError::Invalid("dataset"));
        };
        let map = self.datamap().await?;
        let map = map.as_deref().map(|m| &m.map);
        let mut review = review_of(job)?;
        let before = label(map, &found, &review, false);
        let mut events = Vec::new();
        for (field, decision) in decisions {
            let Some(was) = before.fields.iter().find(|f| f.name == field) else {
                return Err(ServiceError::Invalid("field"));
            };
            review.insert(review_key(dataset, &field), decision);
            if was.decision != decision {
                events.push(AuditOnly::FieldReviewed {
                    dataset: dataset.to_owned(),
                    field,
                    decision: decision.as_str().to_owned(),
                });
            }
        }
        if events.is_empty() {
            return Ok(0);
        }
        let stored: BTreeMap<&String, &str> = review.iter().map(|(k, d)| (k, d.as_str())).collect();
        let write = Write::ReviewFields {
            job_id: job.id,
            old: job.review.clone(),
            new: serde_json::to_string(&stored).expect("a review serialises"),
        };
        let changed = events.len();
        self.record(pid, events, actor, vec![write], Vec::new(), origin, now)
            .await?;
        Ok(changed)
    }

    /// Deletes the rows connectors gathered for requests closed more than `keep` ago (they
    /// were working material; the answer sent is its own document). Returns how many jobs.
    pub(crate) async fn purge_gathered(
        &self,
        keep: Duration,
        now: DateTime<Utc>,
    ) -> Result<usize, ServiceError> {
        let mut purged = 0;
        for (job_id, request_id, system) in store::with_results(self.db().conn()).await? {
            let row = requests::find_by_id(self.db().conn(), self.cipher(), request_id).await?;
            let Some(closed) = row.closed_at else {
                continue;
            };
            if closed + keep > now {
                continue;
            }
            match self
                .record(
                    row.pid,
                    vec![AuditOnly::GatheredDeleted { system }],
                    &Actor::System,
                    vec![Write::PurgeGather { job_id }],
                    Vec::new(),
                    &Origin::default(),
                    now,
                )
                .await
            {
                Ok(_) => purged += 1,
                // Another instance deleted it first.
                Err(ServiceError::Conflict) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(purged)
    }

    /// The latest gathering of a request, labelled from the map in the page's language.
    pub async fn gathering(
        &self,
        row: &request::Model,
        en: bool,
    ) -> Result<Gathering, ServiceError> {
        let jobs = store::latest_run(self.db().conn(), row.id).await?;
        if jobs.is_empty() {
            return Ok(Gathering::default());
        }
        let map = self.datamap().await?;
        let map: Option<&DataMap> = map.as_deref().map(|m| &m.map);
        let mut out = Gathering {
            complete: jobs.iter().all(|j| j.state == store::DONE),
            ..Default::default()
        };
        for job in &jobs {
            out.systems.push(SystemProgress {
                system: map
                    .and_then(|m| m.system(&job.system))
                    .map_or_else(|| job.system.clone(), |s| s.name.get(en).to_owned()),
                state: job.state.clone(),
                rows: job.rows,
                attempts: job.attempts,
                error: job_error_words(job.error.as_deref(), map, en),
                reason: None,
            });
            if job.state != store::DONE {
                continue;
            }
            let review = review_of(job)?;
            for found in self.job_rows(job)? {
                out.datasets.push(label(map, &found, &review, en));
            }
        }
        Ok(out)
    }
}

/// A job's review, as stored.
fn review_of(job: &gather_job::Model) -> Result<Review, ServiceError> {
    let Some(text) = &job.review else {
        return Ok(Review::new());
    };
    let raw: BTreeMap<String, String> = serde_json::from_str(text).map_err(|e| {
        ServiceError::Store(madoguchi_store::StoreError::Corrupt(format!(
            "gather job {} review: {e}",
            job.id
        )))
    })?;
    raw.into_iter()
        .map(|(k, v)| {
            FieldDecision::parse(&v).map(|d| (k, d)).ok_or_else(|| {
                ServiceError::Store(madoguchi_store::StoreError::Corrupt(format!(
                    "gather job {} review: {v:?}",
                    job.id
                )))
            })
        })
        .collect()
}

/// A dataset's rows as the officer and the subject read them: labels from the map, each
/// field disclosed, withheld with its ground, or left out, as the officer decided or else as
/// the map says.
fn label(map: Option<&DataMap>, found: &Rows, review: &Review, en: bool) -> GatheredDataset {
    let d = map.and_then(|m| m.dataset(&found.dataset));
    let mut keep = Vec::new();
    let mut columns = Vec::new();
    let mut withheld = Vec::new();
    let mut fields = Vec::new();
    for (i, name) in found.fields.iter().enumerate() {
        let field = d.and_then(|d| d.fields.iter().find(|f| f.name.get_ref() == name));
        let label = field.map_or_else(|| name.clone(), |f| f.label.get(en).to_owned());
        // Withheld by the map as it was when the rows were read, whatever it says now.
        let stored = found
            .withheld
            .iter()
            .find(|(f, _)| f == name)
            .map(|(_, g)| *g);
        let by_map = stored
            .or_else(|| field.and_then(|f| f.withhold))
            .map(crate::datamap::ground_of);
        let decision = madoguchi_domain::decision_for(review, &found.dataset, name, by_map);
        match decision {
            FieldDecision::Withhold(g) => withheld.push((label.clone(), g)),
            FieldDecision::Disclose => {
                keep.push(i);
                columns.push(label.clone());
            }
            FieldDecision::Drop => {}
        }
        fields.push(ReviewedField {
            name: name.clone(),
            label,
            decision,
        });
    }
    GatheredDataset {
        id: found.dataset.clone(),
        label: d.map_or_else(|| found.dataset.clone(), |d| d.label.get(en).to_owned()),
        columns,
        rows: found
            .rows
            .iter()
            .map(|r| {
                keep.iter()
                    .map(|i| r.get(*i).cloned().flatten().unwrap_or_default())
                    .collect()
            })
            .collect(),
        withheld,
        searched: found.searched,
        fields,
    }
}

/// A job's error in the page's language: a connector's error said in words naming the map's
/// systems and datasets, the service's own notes translated, anything else as stored.
pub(crate) fn job_error_words(
    raw: Option<&str>,
    map: Option<&DataMap>,
    en: bool,
) -> Option<String> {
    let raw = raw?;
    if let Some(e) = madoguchi_connectors::ConnectorError::from_stored(raw) {
        let system = |id: &str| -> String {
            map.and_then(|m| m.system(id))
                .map_or_else(|| id.to_owned(), |s| s.name.get(en).to_owned())
        };
        let dataset = |id: &str| -> String {
            map.and_then(|m| m.dataset(id))
                .map_or_else(|| id.to_owned(), |d| d.label.get(en).to_owned())
        };
        return Some(e.words(&system, &dataset, en));
    }
    let words = match (raw, en) {
        (WAITING, false) => "他のシステムの収集を待っています",
        ("internal error; see the service log", false) => {
            "内部エラーが発生しました（サービスのログを確認してください）"
        }
        ("the request is no longer in work", false) => "請求の対応が終了したため中止しました",
        ("the gathering is not complete", false) => "データの収集が終わるのを待っています",
        (store::DECLINED, false) => "依頼先から実施できない旨の報告がありました",
        (store::DECLINED, true) => "the person asked reported it cannot be done",
        _ => raw,
    };
    Some(words.to_owned())
}
