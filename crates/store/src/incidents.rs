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
use crate::entities::{incident, incident_person};
use crate::outbox::NewMessage;
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
    /// The people could not (all) be told: the incident was published instead (代替措置).
    Published {
        /// When.
        on: NaiveDate,
        /// Where (a page's address, a notice's description).
        how: String,
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
        IncidentChange::Published { on, how } => {
            update = update
                .col_expr(C::PublishedOn, Expr::value(Some(on)))
                .col_expr(C::PublishedHow, Expr::value(Some(how)));
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

fn person_aad(pid: Uuid, column: &str) -> String {
    format!("incident_person:{pid}:{column}")
}

/// A person an incident involves, as imported.
#[derive(Debug, Clone)]
pub struct NewPerson {
    /// A keyed index of who they are (`RowCipher::email_index` of their address, or of their
    /// name and postal address): one person once per incident.
    pub index: String,
    /// Their name.
    pub name: String,
    /// Their e-mail address, if any.
    pub email: Option<String>,
    /// Their postal address, if any.
    pub postal_address: Option<String>,
}

/// Where a person's notice stands (from its outbox message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeStatus {
    /// Imported; no notice yet.
    Waiting,
    /// A mail queued or being retried.
    Queued,
    /// The mail was accepted by the transport.
    Sent,
    /// The mail failed for good (a wrong address): tell them another way.
    Failed,
    /// A letter to print and post.
    ToPost,
    /// The letter was posted.
    Posted,
}

/// A person with their notice's status, opened.
#[derive(Debug, Clone)]
pub struct Person {
    /// The row.
    pub id: i64,
    /// Their name.
    pub name: String,
    /// Their e-mail address.
    pub email: Option<String>,
    /// Their postal address.
    pub postal_address: Option<String>,
    /// Their notice.
    pub status: NoticeStatus,
    /// Told (a notice went, or a letter was prepared).
    pub notified: bool,
    /// Their personal data was erased at the end of retention.
    pub erased: bool,
    /// The outbox message that told them.
    pub message_id: Option<String>,
}

/// Adds people to an incident, all or none, at the incident's version (an import running
/// twice at once, or after a colleague's change, is a conflict), with its entry.
#[expect(
    clippy::too_many_arguments,
    reason = "the incident, its version, the people, their entry and the commit's context"
)]
pub async fn add_people(
    db: &Db,
    cipher: &RowCipher,
    pid: Uuid,
    version: i32,
    people: Vec<NewPerson>,
    entry: NewEntry,
    origin: &Origin,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let at = now.trunc_subsecs(6);
    let tx = db.begin_write().await?;
    let id = bump(&tx, pid, version, at).await?;
    let rows: Vec<incident_person::ActiveModel> = people
        .into_iter()
        .map(|p| {
            let ppid = Uuid::new_v4();
            incident_person::ActiveModel {
                pid: Set(ppid),
                incident_id: Set(id),
                name: Set(cipher.seal(&person_aad(ppid, "name"), &p.name)),
                person_index: Set(p.index),
                email: Set(p.email.map(|e| cipher.seal(&person_aad(ppid, "email"), &e))),
                postal_address: Set(p
                    .postal_address
                    .map(|a| cipher.seal(&person_aad(ppid, "postal_address"), &a))),
                message_id: Set(None),
                notified_at: Set(None),
                created_at: Set(at),
                ..Default::default()
            }
        })
        .collect();
    for chunk in rows.chunks(500) {
        incident_person::Entity::insert_many(chunk.to_vec())
            .exec(&tx)
            .await?;
    }
    crate::change::record_office(&tx, "incidents", &[entry], origin, now).await?;
    tx.commit().await?;
    Ok(())
}

/// Moves the incident on from `version` (refused as a conflict otherwise); its row key.
async fn bump<C: ConnectionTrait>(
    tx: &C,
    pid: Uuid,
    version: i32,
    at: DateTime<Utc>,
) -> Result<i64, StoreError> {
    use incident::Column as C;
    let changed = incident::Entity::update_many()
        .col_expr(C::Version, Expr::col(C::Version).add(1))
        .col_expr(C::UpdatedAt, Expr::value(at))
        .filter(C::Pid.eq(pid))
        .filter(C::Version.eq(version))
        .exec(tx)
        .await?;
    if changed.rows_affected != 1 {
        return Err(StoreError::Conflict);
    }
    let id: Option<i64> = incident::Entity::find()
        .select_only()
        .column(C::Id)
        .filter(C::Pid.eq(pid))
        .into_tuple()
        .one(tx)
        .await?;
    id.ok_or(StoreError::NotFound)
}

/// An incident's people, opened, each with their notice's status, in import order.
pub async fn people<C: ConnectionTrait>(
    db: &C,
    cipher: &RowCipher,
    incident_id: i64,
) -> Result<Vec<Person>, StoreError> {
    use crate::entities::outbox;
    let rows = incident_person::Entity::find()
        .filter(incident_person::Column::IncidentId.eq(incident_id))
        .order_by_asc(incident_person::Column::Id)
        .all(db)
        .await?;
    let ids: Vec<String> = rows.iter().filter_map(|r| r.message_id.clone()).collect();
    let mut statuses: Vec<(String, String)> = Vec::new();
    for chunk in ids.chunks(500) {
        statuses.extend(
            outbox::Entity::find()
                .select_only()
                .column(outbox::Column::MessageId)
                .column(outbox::Column::Status)
                .filter(outbox::Column::MessageId.is_in(chunk.iter().cloned()))
                .into_tuple::<(String, String)>()
                .all(db)
                .await?,
        );
    }
    let statuses: std::collections::HashMap<String, String> = statuses.into_iter().collect();
    rows.into_iter()
        .map(|r| {
            let open = |column: &str, v: &Option<String>| -> Result<Option<String>, StoreError> {
                v.as_ref()
                    .map(|v| cipher.open(&person_aad(r.pid, column), v))
                    .transpose()
            };
            let erased = r.name.is_empty();
            let status = match r.message_id.as_ref().and_then(|m| statuses.get(m)) {
                // Told, its message since deleted with the person's data.
                None if r.notified_at.is_some() => NoticeStatus::Sent,
                None => NoticeStatus::Waiting,
                Some(s) => match s.as_str() {
                    crate::outbox::SENT => NoticeStatus::Sent,
                    crate::outbox::FAILED => NoticeStatus::Failed,
                    crate::outbox::LETTER => NoticeStatus::ToPost,
                    crate::outbox::POSTED => NoticeStatus::Posted,
                    _ => NoticeStatus::Queued,
                },
            };
            if erased {
                return Ok(Person {
                    id: r.id,
                    name: String::new(),
                    email: None,
                    postal_address: None,
                    status,
                    notified: r.notified_at.is_some(),
                    erased,
                    message_id: r.message_id.clone(),
                });
            }
            Ok(Person {
                id: r.id,
                name: cipher.open(&person_aad(r.pid, "name"), &r.name)?,
                email: open("email", &r.email)?,
                postal_address: open("postal_address", &r.postal_address)?,
                status,
                notified: r.notified_at.is_some(),
                erased,
                message_id: r.message_id.clone(),
            })
        })
        .collect()
}

/// Who a notice run tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeRun {
    /// Everyone not yet told.
    Everyone,
    /// Those whose mail failed for good and who have a postal address: a letter instead.
    FailedByPost,
}

/// Sends the notices of a run at the incident's version (a double click sends once): each
/// person's mail, or letter, built by `notice`, in one transaction with its entry;
/// `NotFound` when nobody is left to tell. Returns (mails, letters).
#[expect(
    clippy::too_many_arguments,
    reason = "the incident, its version, the notices, their entry and the commit's context"
)]
pub async fn send_notices(
    db: &Db,
    cipher: &RowCipher,
    (pid, version, run): (Uuid, i32, NoticeRun),
    notice: impl Fn(&Person) -> NewMessage,
    entry: impl FnOnce(usize, usize) -> NewEntry,
    origin: &Origin,
    mail_host: &str,
    now: DateTime<Utc>,
) -> Result<(usize, usize), StoreError> {
    let at = now.trunc_subsecs(6);
    let tx = db.begin_write().await?;
    let id = bump(&tx, pid, version, at).await?;
    let waiting: Vec<Person> = people(&tx, cipher, id)
        .await?
        .into_iter()
        .filter(|p| match run {
            NoticeRun::Everyone => !p.notified && !p.erased,
            NoticeRun::FailedByPost => {
                p.status == NoticeStatus::Failed && p.postal_address.is_some() && !p.erased
            }
        })
        .collect();
    if waiting.is_empty() {
        return Err(StoreError::NotFound);
    }
    let messages: Vec<NewMessage> = waiting.iter().map(&notice).collect();
    let letters = messages.iter().filter(|m| m.by_post).count();
    let mails = messages.len() - letters;
    // A letter replacing a mail that failed: the failed mail (the person's name and the
    // report in it) goes, its failure staying on the `mail` trail.
    if run == NoticeRun::FailedByPost {
        let failed: Vec<String> = waiting
            .iter()
            .filter_map(|p| p.message_id.clone())
            .collect();
        for chunk in failed.chunks(500) {
            crate::entities::outbox::Entity::delete_many()
                .filter(crate::entities::outbox::Column::MessageId.is_in(chunk.iter().cloned()))
                .filter(crate::entities::outbox::Column::Status.eq(crate::outbox::FAILED))
                .exec(&tx)
                .await?;
        }
    }
    let ids = crate::outbox::enqueue(&tx, cipher, messages, mail_host, now).await?;
    for (p, message_id) in waiting.iter().zip(ids) {
        let told = incident_person::Entity::update_many()
            .col_expr(
                incident_person::Column::MessageId,
                Expr::value(Some(message_id)),
            )
            .col_expr(incident_person::Column::NotifiedAt, Expr::value(Some(at)))
            .filter(incident_person::Column::Id.eq(p.id))
            .exec(&tx)
            .await?;
        if told.rows_affected != 1 {
            return Err(StoreError::Conflict);
        }
    }
    crate::change::record_office(&tx, "incidents", &[entry(mails, letters)], origin, now).await?;
    tx.commit().await?;
    Ok((mails, letters))
}

/// The letters of an incident's notices still to post, opened: (postal address, template,
/// context).
pub async fn letters_to_post<C: ConnectionTrait>(
    db: &C,
    cipher: &RowCipher,
    incident_id: i64,
) -> Result<Vec<crate::entities::outbox::Model>, StoreError> {
    use crate::entities::outbox;
    let ids: Vec<Option<String>> = incident_person::Entity::find()
        .select_only()
        .column(incident_person::Column::MessageId)
        .filter(incident_person::Column::IncidentId.eq(incident_id))
        .filter(incident_person::Column::MessageId.is_not_null())
        .order_by_asc(incident_person::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    let ids: Vec<String> = ids.into_iter().flatten().collect();
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        let rows = outbox::Entity::find()
            .filter(outbox::Column::MessageId.is_in(chunk.iter().cloned()))
            .filter(outbox::Column::Status.eq(crate::outbox::LETTER))
            .order_by_asc(outbox::Column::Id)
            .all(db)
            .await?;
        for r in rows {
            out.push(cipher.open_message(r)?);
        }
    }
    Ok(out)
}

/// Records the letters of an incident's notices printed (outbox rows up to `upto`) as posted,
/// with its entry; returns how many (none: nothing was waiting, a double click).
pub async fn letters_posted(
    db: &Db,
    (pid, upto): (Uuid, i64),
    entry: impl FnOnce(usize) -> NewEntry,
    origin: &Origin,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    use crate::entities::outbox;
    let at = now.trunc_subsecs(6);
    let tx = db.begin_write().await?;
    let row = incident::Entity::find()
        .filter(incident::Column::Pid.eq(pid))
        .one(&tx)
        .await?
        .ok_or(StoreError::NotFound)?;
    let ids: Vec<Option<String>> = incident_person::Entity::find()
        .select_only()
        .column(incident_person::Column::MessageId)
        .filter(incident_person::Column::IncidentId.eq(row.id))
        .filter(incident_person::Column::MessageId.is_not_null())
        .into_tuple()
        .all(&tx)
        .await?;
    let ids: Vec<String> = ids.into_iter().flatten().collect();
    let mut posted = 0;
    for chunk in ids.chunks(500) {
        posted += outbox::Entity::update_many()
            .col_expr(outbox::Column::Status, Expr::value(crate::outbox::POSTED))
            .col_expr(outbox::Column::SentAt, Expr::value(Some(at)))
            .filter(outbox::Column::MessageId.is_in(chunk.iter().cloned()))
            .filter(outbox::Column::Status.eq(crate::outbox::LETTER))
            // Only those printed: a letter prepared after the page was printed waits.
            .filter(outbox::Column::Id.lte(upto))
            .exec(&tx)
            .await?
            .rows_affected as usize;
    }
    if posted > 0 {
        crate::change::record_office(&tx, "incidents", &[entry(posted)], origin, now).await?;
    }
    tx.commit().await?;
    Ok(posted)
}

/// Re-seals every imported person's columns not sealed under the current key.
pub async fn reseal_people<C: ConnectionTrait>(
    db: &C,
    cipher: &RowCipher,
) -> Result<usize, StoreError> {
    let (mut after, mut changed) = (0_i64, 0);
    loop {
        let rows = incident_person::Entity::find()
            .filter(incident_person::Column::Id.gt(after))
            .order_by_asc(incident_person::Column::Id)
            .limit(200)
            .all(db)
            .await?;
        let Some(last) = rows.last() else {
            return Ok(changed);
        };
        after = last.id;
        for r in rows {
            if r.name.is_empty() {
                continue;
            }
            let stale = !cipher.is_current(&r.name)
                || r.email.as_deref().is_some_and(|e| !cipher.is_current(e))
                || r.postal_address
                    .as_deref()
                    .is_some_and(|a| !cipher.is_current(a));
            if !stale {
                continue;
            }
            let again = |column: &str, v: &str| -> Result<String, StoreError> {
                let a = person_aad(r.pid, column);
                Ok(cipher.seal(&a, &cipher.open(&a, v)?))
            };
            let email = r.email.as_deref().map(|e| again("email", e)).transpose()?;
            let postal = r
                .postal_address
                .as_deref()
                .map(|a| again("postal_address", a))
                .transpose()?;
            let u = incident_person::Entity::update_many()
                .col_expr(
                    incident_person::Column::Name,
                    Expr::value(again("name", &r.name)?),
                )
                .col_expr(incident_person::Column::Email, Expr::value(email))
                .col_expr(incident_person::Column::PostalAddress, Expr::value(postal))
                .filter(incident_person::Column::Id.eq(r.id))
                .filter(incident_person::Column::Name.eq(r.name))
                .exec(db)
                .await?;
            changed += u.rows_affected as usize;
        }
    }
}

/// An incident's number and the day it became known, by its row.
pub async fn number_of<C: ConnectionTrait>(
    db: &C,
    id: i64,
) -> Result<Option<(String, NaiveDate)>, StoreError> {
    Ok(incident::Entity::find_by_id(id)
        .select_only()
        .column(incident::Column::Number)
        .column(incident::Column::AwareOn)
        .into_tuple()
        .one(db)
        .await?)
}

/// An incident's public id and number, by its row.
pub async fn pid_and_number<C: ConnectionTrait>(
    db: &C,
    id: i64,
) -> Result<Option<(Uuid, String)>, StoreError> {
    Ok(incident::Entity::find_by_id(id)
        .select_only()
        .column(incident::Column::Pid)
        .column(incident::Column::Number)
        .into_tuple()
        .one(db)
        .await?)
}

/// The keyed indexes of an incident's people (who is already imported).
pub async fn person_indexes<C: ConnectionTrait>(
    db: &C,
    incident_id: i64,
) -> Result<std::collections::HashSet<String>, StoreError> {
    let rows: Vec<String> = incident_person::Entity::find()
        .select_only()
        .column(incident_person::Column::PersonIndex)
        .filter(incident_person::Column::IncidentId.eq(incident_id))
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().collect())
}

/// Erases the people imported before `before` (and told before it, if told): their name and
/// addresses, and the mail or letter that told them. Their count stays. Returns how many.
pub async fn erase_people(
    db: &Db,
    before: DateTime<Utc>,
    entry: impl Fn(&str, usize) -> NewEntry,
    origin: &Origin,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    use incident_person::Column as P;
    let before = before.trunc_subsecs(6);
    let rows = incident_person::Entity::find()
        .filter(P::Name.ne(""))
        .filter(P::CreatedAt.lt(before))
        .filter(P::NotifiedAt.is_null().or(P::NotifiedAt.lt(before)))
        .order_by_asc(P::Id)
        .limit(500)
        .all(db.conn())
        .await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let tx = db.begin_write().await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let messages: Vec<String> = rows.iter().filter_map(|r| r.message_id.clone()).collect();
    if !messages.is_empty() {
        crate::entities::outbox::Entity::delete_many()
            .filter(crate::entities::outbox::Column::MessageId.is_in(messages))
            .exec(&tx)
            .await?;
    }
    let erased = incident_person::Entity::update_many()
        .col_expr(P::Name, Expr::value(""))
        .col_expr(P::Email, Expr::value(Option::<String>::None))
        .col_expr(P::PostalAddress, Expr::value(Option::<String>::None))
        .col_expr(P::PersonIndex, Expr::cust("'erased:' || id"))
        .filter(P::Id.is_in(ids))
        .filter(P::Name.ne(""))
        .exec(&tx)
        .await?
        .rows_affected as usize;
    // One entry per incident touched, with its number and how many.
    let mut by_incident: std::collections::BTreeMap<i64, usize> = Default::default();
    for r in &rows {
        *by_incident.entry(r.incident_id).or_default() += 1;
    }
    let mut entries = Vec::new();
    for (id, n) in by_incident {
        if let Some((_, number)) = pid_and_number(&tx, id).await? {
            entries.push(entry(&number, n));
        }
    }
    crate::change::record_office(&tx, "incidents", &entries, origin, now).await?;
    tx.commit().await?;
    Ok(erased)
}

/// The register's light view for choosing an incident: public id, number, the day it became
/// known and its facts (the report's words are not read).
pub async fn summaries<C: ConnectionTrait>(
    db: &C,
) -> Result<Vec<(Uuid, String, NaiveDate, IncidentFacts)>, StoreError> {
    Ok(incident::Entity::find()
        .order_by_desc(incident::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|r| {
            let facts = IncidentFacts {
                aware_on: r.aware_on,
                special_care: r.special_care,
                financial_risk: r.financial_risk,
                unlawful_intent: r.unlawful_intent,
                people: u32::try_from(r.people).unwrap_or(0),
                protected: r.protected,
                entrusted_by: r.entrusted_by,
            };
            (r.pid, r.number, r.aware_on, facts)
        })
        .collect())
}
