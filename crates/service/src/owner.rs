//! Tasks for a system's owner. A `manual` system of the data map (paper files, a system no
//! connector reaches), or one whose connector gave up, is searched by the person who answers
//! for it: they get an e-mail with a link that needs no staff account, see whom to look for
//! and which data, and answer with a CSV per dataset (or that nothing is held). Their answer
//! becomes the system's rows, reviewed and packaged like a connector's. A reminder goes out
//! two days before the answer is due.
//!
//! The link's token is derived at send time from a nonce in the (sealed) outbox row, as for
//! confirmation links: only its hash is stored, on the job.

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use madoguchi_connectors::Rows;
use madoguchi_datamap::{DataMap, System};
use madoguchi_domain::{Actor, AuditOnly, Mail, RequestKind, State, policy::jst};
use madoguchi_mail::MailContext;
use madoguchi_store::audit::Origin;
use madoguchi_store::change::{TaskLink, Write};
use madoguchi_store::entities::{gather_job, request};
use madoguchi_store::gather as store;
use madoguchi_store::secrets::{keyed, random_token};
use madoguchi_store::tokens::TokenError;
use madoguchi_store::{outbox, requests};
use sha2::{Digest, Sha256};

use crate::identity::LineError;
use crate::{Service, ServiceError};

/// How long before the answer is due the reminder goes out.
const REMIND_BEFORE_DAYS: i64 = 2;

/// What a link's page shows the owner.
#[derive(Debug, Clone)]
pub struct OwnerTask {
    /// The business's name.
    pub business: String,
    /// The request's number.
    pub number: String,
    /// Its kind.
    pub kind: RequestKind,
    /// The system's name.
    pub system: String,
    /// When the answer is due.
    pub due_at: DateTime<Utc>,
    /// Whom to look for.
    pub subject: SubjectKeys,
    /// The datasets to search.
    pub datasets: Vec<TaskDataset>,
    /// Work to carry out and report instead of a search (an erasure, a suspension, a
    /// recipient's instructions).
    pub work: Option<crate::tasks::Work>,
}

/// What the owner looks the person up by.
#[derive(Debug, Clone)]
pub struct SubjectKeys {
    /// Name.
    pub name: String,
    /// Name in kana.
    pub kana: String,
    /// The confirmed address.
    pub email: Option<String>,
    /// Telephone, when the subject filed themselves.
    pub phone: Option<String>,
    /// Date of birth.
    pub birth_date: Option<chrono::NaiveDate>,
}

/// A dataset of the system, as the owner's page lists it.
#[derive(Debug, Clone)]
pub struct TaskDataset {
    /// Its id (the form's field name).
    pub id: String,
    /// Its name.
    pub label: String,
    /// Where it is, as the map says.
    pub location: Option<String>,
    /// Its fields: the CSV header names and their labels.
    pub fields: Vec<(String, String)>,
}

/// Why an owner's CSV was not taken: the dataset and the line, never the line's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskError {
    /// The dataset's id.
    pub dataset: String,
    /// The line, where one is at fault.
    pub line: Option<usize>,
    /// What is wrong, in the page's language.
    pub message: String,
}

/// What the service sends when systems are handed to their owners: the jobs' links, the
/// mail and the trail entries (recorded by the service itself).
#[derive(Debug, Default)]
pub(crate) struct Asked {
    pub tasks: Vec<(String, TaskLink)>,
    pub mail: Vec<outbox::NewMessage>,
    pub events: Vec<AuditOnly>,
}

/// The systems whose owners search by hand: `manual` ones with datasets.
pub(crate) fn manual_systems(map: &DataMap) -> Vec<&System> {
    map.systems
        .iter()
        .filter(|s| s.connector.kind == madoguchi_datamap::ConnectorKind::Manual)
        .filter(|s| {
            map.datasets
                .iter()
                .any(|d| d.system.get_ref() == s.id.get_ref())
        })
        .collect()
}

/// When an owner's answer is due: the end of the day three days before the request's own due
/// date (Japan time), so the officer has time to review; but never less than two days away.
pub fn task_due(due_on: chrono::NaiveDate, now: DateTime<Utc>) -> DateTime<Utc> {
    let day = due_on - Duration::days(3);
    let end = jst()
        .from_local_datetime(&day.and_time(NaiveTime::from_hms_opt(23, 59, 0).expect("a time")))
        .single()
        .expect("Japan has no DST")
        .with_timezone(&Utc);
    end.max(now + Duration::days(2))
}

/// The day of an instant in Japan, as people read it.
fn written_date(at: DateTime<Utc>, en: bool) -> String {
    madoguchi_domain::written_date(madoguchi_domain::jst_date(at), en)
}

impl Service {
    /// The token of an owner's link, derived from the nonce its mail carries.
    pub fn owner_token(&self, nonce: &str) -> String {
        keyed(&self.secret, &format!("owner:{nonce}"))
    }

    /// Hands systems to their owners: a link each, its mail and its trail entry.
    pub(crate) async fn ask_owners(
        &self,
        row: &request::Model,
        systems: &[&System],
        now: DateTime<Utc>,
    ) -> Result<Asked, ServiceError> {
        let due_at = task_due(row.due_on, now);
        let mut asked = Asked::default();
        for system in systems {
            let nonce = random_token();
            asked.mail.push(
                self.owner_mail(row, system, &nonce, due_at, Mail::OwnerTask, "")
                    .await?,
            );
            asked.events.push(AuditOnly::OwnerAsked {
                system: system.id.get_ref().clone(),
                due_on: madoguchi_domain::jst_date(due_at).to_string(),
            });
            asked.tasks.push((
                system.id.get_ref().clone(),
                TaskLink {
                    token: self.owner_token(&nonce),
                    nonce,
                    due_at,
                },
            ));
        }
        Ok(asked)
    }

    /// A mail to a system's owner, in Japanese (the business's own staff), with the link
    /// derived from `nonce` at send time.
    async fn owner_mail(
        &self,
        row: &request::Model,
        system: &System,
        nonce: &str,
        due_at: DateTime<Utc>,
        mail: Mail,
        work: &str,
    ) -> Result<outbox::NewMessage, ServiceError> {
        let settings = self.settings().await?;
        let kind = RequestKind::parse(&row.kind).ok_or_else(|| {
            ServiceError::Store(madoguchi_store::StoreError::Corrupt(format!(
                "request {}: kind",
                row.pid
            )))
        })?;
        let ctx = MailContext {
            lang: madoguchi_domain::Lang::Ja,
            business_name: settings.business.name.clone(),
            business_contact: settings.business.contact.clone(),
            recipient_name: format!("{} ご担当者", system.name.ja),
            number: row.number.clone(),
            kind_ja: kind.label_ja().to_owned(),
            kind_en: kind.label_en().to_owned(),
            due_on: written_date(due_at, false),
            system_name: system.name.ja.clone(),
            message: work.to_owned(),
            owner_nonce: Some(nonce.to_owned()),
            ..MailContext::default()
        };
        Ok(outbox::NewMessage {
            request_id: Some(row.id),
            recipient: system.owner.clone(),
            lang: madoguchi_domain::Lang::Ja,
            template: mail.as_str().to_owned(),
            context: serde_json::to_value(ctx).expect("a mail context serialises"),
            by_post: false,
        })
    }

    /// The open task a link belongs to, with its request; the link no longer works once
    /// answered, or once the request left work.
    async fn open_task(
        &self,
        token: &str,
    ) -> Result<(gather_job::Model, request::Model), ServiceError> {
        let job = store::task_by_token(self.db().conn(), token)
            .await?
            .ok_or(ServiceError::Token(TokenError::Unknown))?;
        let row = requests::find_by_id(self.db().conn(), self.cipher(), job.request_id).await?;
        if requests::to_domain(&row)?.state != State::InProgress {
            return Err(ServiceError::Token(TokenError::Expired));
        }
        Ok((job, row))
    }

    /// What an owner's link shows: the request, whom to look for, which datasets.
    pub async fn owner_task(&self, token: &str, en: bool) -> Result<OwnerTask, ServiceError> {
        let (job, row) = self.open_task(token).await?;
        let map = self.datamap().await?;
        let map = map.as_deref().map(|m| &m.map);
        let system = map.and_then(|m| m.system(&job.system));
        let settings = self.settings().await?;
        let by_subject =
            madoguchi_domain::Requester::parse(&row.requester).is_some_and(|r| !r.is_agent());
        let work = self.work_of(&job, &row, en).await?;
        let recipient = map.and_then(|m| m.recipient(&job.system));
        let name = match (system, recipient) {
            (Some(s), _) => s.name.get(en).to_owned(),
            (None, Some(r)) => r.name.get(en).to_owned(),
            (None, None) => job.system.clone(),
        };
        // A recipient is told whom by the name and address it was given, nothing more (the
        // page must not provide what it did not receive).
        let to_recipient = job.purpose == store::NOTIFY;
        Ok(OwnerTask {
            work,
            business: settings.business.name.clone(),
            number: row.number.clone(),
            kind: RequestKind::parse(&row.kind).unwrap_or(RequestKind::Disclosure),
            system: name,
            due_at: job.task_due_at.unwrap_or(job.created_at),
            subject: SubjectKeys {
                name: row.subject_name.clone(),
                kana: row.subject_kana.clone(),
                email: row.subject_email.clone().or_else(|| {
                    crate::intake::email_of(&row)
                        .filter(|_| by_subject)
                        .map(str::to_owned)
                }),
                phone: row.phone.clone().filter(|_| by_subject && !to_recipient),
                birth_date: row.subject_birth_date.filter(|_| !to_recipient),
            },
            datasets: map
                .map(|m| {
                    m.datasets
                        .iter()
                        .filter(|d| d.system.get_ref() == &job.system)
                        .map(|d| TaskDataset {
                            id: d.id.get_ref().clone(),
                            label: d.label.get(en).to_owned(),
                            location: d.location.clone(),
                            fields: d
                                .fields
                                .iter()
                                .map(|f| (f.name.get_ref().clone(), f.label.get(en).to_owned()))
                                .collect(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
        })
    }

    /// The owner's answer: a CSV per dataset where they found rows (none where they found
    /// nothing). All or nothing: one dataset's mistake takes none of it, and says where.
    /// Returns the rows taken.
    pub async fn answer_owner_task(
        &self,
        token: &str,
        csvs: Vec<(String, Vec<u8>)>,
        en: bool,
        now: DateTime<Utc>,
    ) -> Result<Result<u32, Vec<TaskError>>, ServiceError> {
        let (job, row) = self.open_task(token).await?;
        if job.purpose != store::GATHER {
            // Work to carry out is reported, not answered with rows.
            return Err(ServiceError::Invalid("a work link"));
        }
        let map = self.datamap().await?;
        let Some(map) = map.as_deref().map(|m| &m.map) else {
            return Err(ServiceError::Invalid("data map"));
        };
        let limit = map
            .system(&job.system)
            .and_then(|s| s.connector.row_limit)
            .unwrap_or(madoguchi_connectors::DEFAULT_ROW_LIMIT) as usize;
        let mut found = Vec::new();
        let mut errors = Vec::new();
        for d in map
            .datasets
            .iter()
            .filter(|d| d.system.get_ref() == &job.system)
        {
            let id = d.id.get_ref().clone();
            let fields: Vec<String> = d.fields.iter().map(|f| f.name.get_ref().clone()).collect();
            let labels: Vec<String> = d
                .fields
                .iter()
                .map(|f| f.label.get(en).to_owned())
                .collect();
            let bytes = csvs
                .iter()
                .find(|(k, _)| k == &id)
                .map(|(_, b)| b.as_slice());
            let text = match bytes.map(decode) {
                None => None,
                Some(Some(t)) => Some(t),
                Some(None) => {
                    errors.push(TaskError {
                        dataset: id.clone(),
                        line: None,
                        message: if en {
                            "the file is not text in UTF-8 or Shift_JIS (save it as CSV)".into()
                        } else {
                            "ファイルが UTF-8 または Shift_JIS のテキストではありません(CSV 形式で保存してください)".into()
                        },
                    });
                    continue;
                }
            };
            let rows = match text.as_deref().filter(|t| !t.trim().is_empty()) {
                None => Vec::new(),
                Some(text) => match parse_rows(text, &fields, &labels, limit, en) {
                    Ok(rows) => rows,
                    Err(e) => {
                        errors.extend(e.into_iter().map(|e| TaskError {
                            dataset: id.clone(),
                            line: (e.line > 0).then_some(e.line),
                            message: e.message,
                        }));
                        continue;
                    }
                },
            };
            found.push(Rows {
                dataset: id,
                fields,
                rows,
                searched: true,
                withheld: d
                    .fields
                    .iter()
                    .filter_map(|f| f.withhold.map(|g| (f.name.get_ref().clone(), g)))
                    .collect(),
            });
        }
        if !errors.is_empty() {
            return Ok(Err(errors));
        }
        let result = serde_json::to_string(&found).expect("rows serialise");
        let hash = hex::encode(Sha256::digest(result.as_bytes()));
        let rows: usize = found.iter().map(|r| r.rows.len()).sum();
        let event = AuditOnly::OwnerAnswered {
            system: job.system.clone(),
            datasets: u32::try_from(found.len()).unwrap_or(u32::MAX),
            rows: u32::try_from(rows).unwrap_or(u32::MAX),
            hash: hash.clone(),
        };
        let write = Write::AnswerTask {
            job_id: job.id,
            token: token.to_owned(),
            result,
            rows: i32::try_from(rows).unwrap_or(i32::MAX),
            hash,
        };
        self.record(
            row.pid,
            vec![event],
            &Actor::System,
            vec![write],
            Vec::new(),
            &Origin::default(),
            now,
        )
        .await?;
        Ok(Ok(u32::try_from(rows).unwrap_or(u32::MAX)))
    }

    /// Reminds the owners of open tasks due within two days, once each. Returns how many.
    pub async fn remind_owners(&self, now: DateTime<Utc>) -> Result<usize, ServiceError> {
        let due =
            store::tasks_to_remind(self.db().conn(), now + Duration::days(REMIND_BEFORE_DAYS))
                .await?;
        let map = self.datamap().await?;
        let Some(map) = map.as_deref().map(|m| &m.map) else {
            return Ok(0);
        };
        let mut sent = 0;
        for job in due {
            let row = requests::find_by_id(self.db().conn(), self.cipher(), job.request_id).await?;
            if requests::to_domain(&row)?.state != State::InProgress {
                continue;
            }
            let Some(system) = map.system(&job.system) else {
                continue;
            };
            // Not on the heels of the first mail (a task due in two days is due "soon" at
            // once): a day after it at the earliest.
            if job.updated_at + Duration::days(1) > now {
                continue;
            }
            // The same link as the first mail (derived from the job's nonce).
            let (Some(nonce), Some(due_at)) = (&job.task_nonce, job.task_due_at) else {
                continue;
            };
            // A task to erase or suspend is reminded as such ("" is a search).
            let work = match job.purpose.as_str() {
                p if p == store::ERASE => "消去",
                p if p == store::SUSPEND => "利用停止",
                _ => "",
            };
            let mail = self
                .owner_mail(&row, system, nonce, due_at, Mail::OwnerReminder, work)
                .await?;
            let writes = vec![Write::RemindTask { job_id: job.id }];
            let result = self
                .record(
                    row.pid,
                    vec![AuditOnly::OwnerReminded {
                        system: job.system.clone(),
                    }],
                    &Actor::System,
                    writes,
                    vec![mail],
                    &Origin::default(),
                    now,
                )
                .await;
            match result {
                Ok(_) => sent += 1,
                // Another instance reminded first, or the owner just answered.
                Err(ServiceError::Token(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(sent)
    }
}

/// A CSV file's text: UTF-8 (with or without a BOM), or Shift_JIS as Japanese spreadsheets
/// save it; `None` for anything else (a binary file, a spreadsheet not saved as CSV).
fn decode(bytes: &[u8]) -> Option<String> {
    if let Ok(t) = std::str::from_utf8(bytes) {
        return Some(t.to_owned());
    }
    let (text, _, bad) = encoding_rs::SHIFT_JIS.decode(bytes);
    (!bad && !text.contains('\0')).then(|| text.into_owned())
}

/// An owner's CSV: a header naming each of the dataset's fields once (by its name or its
/// label, in any order), then rows of as many values. Values are trimmed; empty is no value.
fn parse_rows(
    text: &str,
    fields: &[String],
    labels: &[String],
    limit: usize,
    en: bool,
) -> Result<Vec<Vec<Option<String>>>, Vec<LineError>> {
    let say = |ja: String, en_text: String| if en { en_text } else { ja };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let records = crate::identity::split_records(text).map_err(|e| vec![e])?;
    let mut iter = records
        .into_iter()
        .filter(|(_, f)| !(f.len() == 1 && f[0].trim().is_empty()));
    let Some((_, header)) = iter.next() else {
        return Ok(Vec::new());
    };
    // Where each field is in the file.
    let mut at: Vec<Option<usize>> = vec![None; fields.len()];
    let mut errors = Vec::new();
    for (col, name) in header.iter().enumerate() {
        let name = name.trim();
        let i = fields
            .iter()
            .position(|f| f.eq_ignore_ascii_case(name))
            .or_else(|| labels.iter().position(|l| l == name));
        match i {
            Some(i) if at[i].is_none() => at[i] = Some(col),
            Some(_) => errors.push(LineError {
                line: 1,
                message: say(
                    format!("1行目: 列「{name}」が2回あります"),
                    format!("line 1: the column {name:?} appears twice"),
                ),
            }),
            None => errors.push(LineError {
                line: 1,
                message: say(
                    format!(
                        "1行目: 列「{name}」は台帳にない項目です(見出しは {} としてください)",
                        fields.join(",")
                    ),
                    format!(
                        "line 1: the column {name:?} is not in the data map (the header is {})",
                        fields.join(",")
                    ),
                ),
            }),
        }
    }
    for (i, f) in fields.iter().enumerate() {
        if at[i].is_none() {
            errors.push(LineError {
                line: 1,
                message: say(
                    format!("1行目: 列「{f}」がありません"),
                    format!("line 1: the column {f:?} is missing"),
                ),
            });
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut rows = Vec::new();
    for (line, values) in iter {
        if values.len() != header.len() {
            errors.push(LineError {
                line,
                message: say(
                    format!(
                        "{line}行目: 値が {} 個あります({} 個としてください)",
                        values.len(),
                        header.len()
                    ),
                    format!(
                        "line {line}: {} values where there are {} columns",
                        values.len(),
                        header.len()
                    ),
                ),
            });
            continue;
        }
        if rows.len() == limit {
            errors.push(LineError {
                line,
                message: say(
                    format!("{line}行目: 一人分として {limit} 行を超えています"),
                    format!("line {line}: more than {limit} rows for one person"),
                ),
            });
            break;
        }
        rows.push(
            at.iter()
                .map(|c| {
                    let v = values[c.expect("checked above")].trim();
                    (!v.is_empty()).then(|| v.to_owned())
                })
                .collect(),
        );
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> (Vec<String>, Vec<String>) {
        (
            vec!["email".into(), "note".into()],
            vec!["メールアドレス".into(), "備考".into()],
        )
    }

    #[test]
    fn a_csv_is_read_by_names_or_labels_in_any_order() {
        let (f, l) = names();
        let rows = parse_rows(
            "\u{feff}備考,email\r\n\"紙の申込書, 2025年\",a@example.jp\r\n,b@example.jp\r\n",
            &f,
            &l,
            10,
            false,
        )
        .unwrap();
        assert_eq!(
            rows,
            vec![
                vec![
                    Some("a@example.jp".into()),
                    Some("紙の申込書, 2025年".into())
                ],
                vec![Some("b@example.jp".into()), None],
            ]
        );
        assert_eq!(
            parse_rows("", &f, &l, 10, false).unwrap(),
            Vec::<Vec<Option<String>>>::new()
        );
    }

    #[test]
    fn shift_jis_from_a_spreadsheet_is_read_and_binary_is_not() {
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode("email,備考\na@example.jp,紙\n");
        assert_eq!(decode(&sjis).unwrap(), "email,備考\na@example.jp,紙\n");
        assert_eq!(decode("こんにちは".as_bytes()).unwrap(), "こんにちは");
        assert_eq!(decode(b"PK\x03\x04\x00\x00\xff\xfe"), None);
    }

    #[test]
    fn mistakes_name_the_line_never_the_value() {
        let (f, l) = names();
        let e = parse_rows("email,secret\nx@example.jp,1\n", &f, &l, 10, false).unwrap_err();
        assert_eq!(
            e.iter().map(|e| e.message.as_str()).collect::<Vec<_>>(),
            [
                "1行目: 列「secret」は台帳にない項目です(見出しは email,note としてください)",
                "1行目: 列「note」がありません",
            ]
        );
        let e = parse_rows("email,note\nx@example.jp\n", &f, &l, 10, true).unwrap_err();
        assert_eq!(e[0].line, 2);
        assert_eq!(e[0].message, "line 2: 1 values where there are 2 columns");
        assert!(!e[0].message.contains("x@example.jp"));
        let e = parse_rows("email,note\na,1\nb,2\nc,3\n", &f, &l, 2, false).unwrap_err();
        assert_eq!(e[0].message, "4行目: 一人分として 2 行を超えています");
    }

    #[test]
    fn an_owners_answer_is_due_three_days_before_the_request_at_the_latest() {
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 3, 0, 0).unwrap();
        // Due 2026-12-20: the owner's answer by 2026-12-17 23:59 JST (14:59 UTC).
        assert_eq!(
            task_due(chrono::NaiveDate::from_ymd_opt(2026, 12, 20).unwrap(), now),
            Utc.with_ymd_and_hms(2026, 12, 17, 14, 59, 0).unwrap()
        );
        // A request due in three days still gives the owner two.
        assert_eq!(
            task_due(chrono::NaiveDate::from_ymd_opt(2026, 12, 4).unwrap(), now),
            Utc.with_ymd_and_hms(2026, 12, 3, 3, 0, 0).unwrap()
        );
        assert_eq!(
            written_date(
                Utc.with_ymd_and_hms(2026, 12, 17, 14, 59, 0).unwrap(),
                false
            ),
            "2026年12月17日"
        );
    }
}
