//! Timers that tell people things: the subject's warning before their turn runs out, the
//! office's daily digest of requests due soon and overdue, and an alert when outgoing mail
//! keeps failing. Every instance runs them; the request's version check (warnings) and the
//! shared `timer_jobs` claim (digest, alert) make each one happen once.

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use madoguchi_domain::{self as domain, Actor, Event, Mail, RequestKind, State, policy::jst};
use madoguchi_mail::MailContext;
use madoguchi_store::audit::Origin;
use madoguchi_store::{jobs, outbox, requests};

use crate::queue::QueueFilter;
use crate::{EventText, Service, ServiceError};

/// Job names in `timer_jobs`.
pub const DIGEST_JOB: &str = "staff_digest";
/// See [`DIGEST_JOB`].
pub const MAIL_ALERT_JOB: &str = "mail_failing_alert";

/// The digest lists requests due within this many days (and every overdue one).
const DIGEST_DUE_WITHIN_DAYS: u32 = 3;
/// Rows listed in one digest; the rest are counted.
const DIGEST_ROWS: u64 = 100;
/// The digest goes out at this hour, Japan time, when the office opens.
const DIGEST_HOUR_JST: u32 = 9;
/// A message still retrying after this many attempts means delivery is failing.
const RETRYING_AFTER: i32 = 3;
/// How often delivery trouble is checked (and at most how often staff are alerted).
const MAIL_ALERT_EVERY: Duration = Duration::minutes(30);

/// The next `DIGEST_HOUR_JST` o'clock in Japan strictly after `now`.
pub fn next_digest_at(now: DateTime<Utc>) -> DateTime<Utc> {
    let local = now.with_timezone(&jst());
    let at = NaiveTime::from_hms_opt(DIGEST_HOUR_JST, 0, 0).expect("a valid hour");
    let today = local.date_naive().and_time(at);
    let next = if local.naive_local() < today {
        today
    } else {
        today + Duration::days(1)
    };
    jst()
        .from_local_datetime(&next)
        .single()
        .expect("Japan has no daylight saving time")
        .with_timezone(&Utc)
}

impl Service {
    /// Warns each subject whose turn runs out soon, once per waiting period.
    pub async fn warn_expiring(&self, now: DateTime<Utc>) -> Result<usize, ServiceError> {
        let lead = Duration::hours(i64::from(domain::policy::DEFAULT_WARNING_HOURS));
        let rows = requests::expiring_between(self.db().conn(), &self.cipher, now, now + lead, 200)
            .await?;
        let mut warned = 0;
        for row in rows {
            let Ok(request) = requests::to_domain(&row) else {
                continue;
            };
            if !request.expiry_warning_due(now) {
                continue;
            }
            match self
                .act(
                    row.pid,
                    Some(row.version),
                    &Event::WarnExpiry,
                    &Actor::System,
                    &EventText::default(),
                    &Origin::default(),
                    now,
                )
                .await
            {
                Ok(_) => warned += 1,
                // Another instance warned first, or the subject acted meanwhile.
                Err(ServiceError::Conflict | ServiceError::Transition(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(warned)
    }

    /// Sends the daily digest if it is due and no other instance has sent it. Returns whether
    /// this call sent one (nothing is sent on a day with nothing due).
    pub async fn staff_digest(&self, now: DateTime<Utc>) -> Result<bool, ServiceError> {
        let conn = self.db().conn();
        let first = next_digest_at(now - Duration::days(1));
        if !jobs::claim(conn, DIGEST_JOB, first, now, next_digest_at(now)).await? {
            return Ok(false);
        }
        let today = domain::jst_date(now);
        let page = self
            .queue(
                &QueueFilter {
                    due_within_days: Some(DIGEST_DUE_WITHIN_DAYS),
                    limit: DIGEST_ROWS,
                    ..QueueFilter::default()
                },
                today,
            )
            .await?;
        let tasks = self.overdue_task_lines(now).await?;
        let incidents = self.incident_deadline_lines(today).await?;
        let complaints = self.complaint_due_lines(today).await?;
        if page.rows.is_empty() && tasks.is_empty() && incidents.is_empty() && complaints.is_empty()
        {
            return Ok(false);
        }
        let line = |r: &madoguchi_store::entities::request::Model| {
            let kind = RequestKind::parse(&r.kind).map_or("", RequestKind::label_ja);
            let state = State::parse(&r.state).map_or("", State::label_ja);
            // Art. 39: the subject may already sue over it.
            let may_sue = if r.may_sue_from <= today {
                "  提訴可能（法第39条）/ may sue"
            } else {
                ""
            };
            let due = domain::written_date(r.due_on, false);
            format!("{}  {kind}  {state}  {due}{may_sue}", r.number)
        };
        let (overdue, soon): (Vec<_>, Vec<_>) = page.rows.iter().partition(|r| r.due_on < today);
        let mut message = String::new();
        if !overdue.is_empty() {
            message.push_str(&format!("■ 期限超過 / overdue: {}\n", overdue.len()));
            for r in &overdue {
                message.push_str(&format!("  {}\n", line(r)));
            }
        }
        if !soon.is_empty() {
            message.push_str(&format!(
                "■ {DIGEST_DUE_WITHIN_DAYS}日以内に期限 / due within {DIGEST_DUE_WITHIN_DAYS} days: {}\n",
                soon.len()
            ));
            for r in &soon {
                message.push_str(&format!("  {}\n", line(r)));
            }
        }
        if page.next.is_some() {
            message.push_str(&format!(
                "（ほか多数。一覧で確認してください / {DIGEST_ROWS} shown; more in the queue）\n"
            ));
        }
        if !tasks.is_empty() {
            message.push_str(&format!(
                "■ 担当者・提供先の回答が期限超過 / owners' and recipients' answers overdue: {}\n",
                tasks.len()
            ));
            for t in &tasks {
                message.push_str(&format!("  {t}\n"));
            }
        }
        if !incidents.is_empty() {
            message.push_str(&format!(
                "■ 漏えい等の報告期限（2日以内・超過）/ incident reports due within 2 days or overdue: {}\n",
                incidents.len()
            ));
            for l in &incidents {
                message.push_str(&format!("  {l}\n"));
            }
        }
        if !complaints.is_empty() {
            message.push_str(&format!(
                "■ 苦情・相談の初回回答が本日目安・目安超過 / complaints due a first reply today or past it: {}\n",
                complaints.len()
            ));
            for l in &complaints {
                message.push_str(&format!("  {l}\n"));
            }
        }
        let link = format!(
            "{}/staff?due={DIGEST_DUE_WITHIN_DAYS}",
            self.config().base_url
        );
        self.notify_office(Mail::StaffDigest, message.trim_end().to_owned(), link, now)
            .await?;
        Ok(true)
    }

    /// Alerts the office when mail failed for good or keeps failing since the last check.
    /// Returns whether an alert was queued.
    pub async fn alert_failing_mail(&self, now: DateTime<Utc>) -> Result<bool, ServiceError> {
        let conn = self.db().conn();
        let since = jobs::last_run(conn, MAIL_ALERT_JOB)
            .await?
            .unwrap_or(now - MAIL_ALERT_EVERY);
        if !jobs::claim(conn, MAIL_ALERT_JOB, now, now, now + MAIL_ALERT_EVERY).await? {
            return Ok(false);
        }
        let (failed, retrying) =
            outbox::trouble_since(conn, since, RETRYING_AFTER, Mail::StaffMailFailing.as_str())
                .await?;
        if failed == 0 && retrying == 0 {
            return Ok(false);
        }
        let message = format!(
            "送信できなかったメール / failed for good: {failed}\n\
             再送を繰り返しているメール / still retrying after {RETRYING_AFTER} attempts: {retrying}"
        );
        let link = format!("{}/staff/admin/mail", self.config().base_url);
        self.notify_office(Mail::StaffMailFailing, message, link, now)
            .await?;
        Ok(true)
    }

    /// Queues a message to the privacy office that is about the whole service, not a request.
    pub(crate) async fn notify_office(
        &self,
        mail: Mail,
        message: String,
        link: String,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let settings = self.settings().await?;
        let ctx = MailContext {
            recipient_name: "個人情報窓口ご担当者".into(),
            message,
            link,
            today: domain::written_date(domain::jst_date(now), false),
            ..crate::complaints::business_context(&settings, madoguchi_domain::Lang::Ja)
        };
        madoguchi_store::change::commit_office_mail(
            self.db(),
            &self.cipher,
            vec![outbox::NewMessage {
                request_id: None,
                recipient: settings.business.staff_address.clone(),
                lang: madoguchi_domain::Lang::Ja,
                template: mail.as_str().to_owned(),
                context: serde_json::to_value(ctx).expect("a mail context serialises"),
                by_post: false,
            }],
            self.mail_host(),
            now,
        )
        .await?;
        self.mail_wakeup.notify_one();
        Ok(())
    }
}

impl Service {
    /// The open tasks whose answer is overdue, one line each: the request's number, who was
    /// asked (the system or recipient, by name), for what, and the day it was due.
    async fn overdue_task_lines(&self, now: DateTime<Utc>) -> Result<Vec<String>, ServiceError> {
        use madoguchi_store::gather as jobs_store;
        let overdue = jobs_store::overdue_tasks(self.db().conn(), now, DIGEST_ROWS).await?;
        if overdue.is_empty() {
            return Ok(Vec::new());
        }
        let map = self.datamap().await?;
        let map = map.as_deref().map(|m| &m.map);
        Ok(overdue
            .into_iter()
            .map(|(job, number)| {
                let who = map
                    .and_then(|m| {
                        m.system(&job.system)
                            .map(|s| s.name.ja.clone())
                            .or_else(|| m.recipient(&job.system).map(|r| r.name.ja.clone()))
                    })
                    .unwrap_or_else(|| job.system.clone());
                let what = match job.purpose.as_str() {
                    p if p == jobs_store::ERASE => "消去",
                    p if p == jobs_store::SUSPEND => "利用停止",
                    p if p == jobs_store::NOTIFY => "提供先の確認",
                    _ => "データ確認",
                };
                let due = job
                    .task_due_at
                    .map(|d| domain::jst_date(d).to_string())
                    .unwrap_or_default();
                format!("{number}  {who}  {what}  {due}")
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_goes_out_at_nine_in_japan() {
        // 2026-11-22 08:59 JST → the same day at 09:00 JST (00:00 UTC).
        let before = Utc.with_ymd_and_hms(2026, 11, 21, 23, 59, 0).unwrap();
        assert_eq!(
            next_digest_at(before),
            Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).unwrap()
        );
        // At 09:00 exactly, the next one is tomorrow.
        let at = Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).unwrap();
        assert_eq!(
            next_digest_at(at),
            Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0).unwrap()
        );
    }
}
