//! The third-party provision register (Arts. 29, 30): bulk import from the business's systems
//! (JSON or CSV, all or nothing, every error by record or line), the officer's view (audited,
//! for it holds personal data), the records that answer an Art. 33(5) request, and the purge
//! after each record's retention period.

use chrono::{DateTime, NaiveDate, Utc};
use madoguchi_domain::register::{Basis, Direction, ProvisionRecord, phone_digits};
use madoguchi_domain::{EmailAddress, jst_date};
use madoguchi_store::audit::Origin;
use madoguchi_store::entities::request;
use madoguchi_store::provisions::{self, Stored};

pub use madoguchi_store::provisions::Stored as ProvisionRow;

use crate::identity::LineError;
use crate::staff::{StaffIdentity, audit_entry};
use crate::{Service, ServiceError};

/// The most records one import may hold.
pub const MAX_IMPORT: usize = 10_000;

/// The CSV header, in this order.
pub const CSV_HEADER: [&str; 12] = [
    "direction",
    "occurred_on",
    "counterparty",
    "counterparty_address",
    "counterparty_representative",
    "subject_name",
    "subject_email",
    "subject_phone",
    "items",
    "basis",
    "acquisition",
    "retention_years",
];

/// A message in the reader's language.
fn say(en: bool, ja: &str, english: &str) -> String {
    if en {
        english.to_owned()
    } else {
        ja.to_owned()
    }
}

/// Reads a JSON array of records; each problem names the record (1-based) and the field, in
/// the reader's language.
pub fn parse_json(
    body: &str,
    today: NaiveDate,
    en: bool,
) -> Result<Vec<ProvisionRecord>, Vec<LineError>> {
    let values: Vec<serde_json::Value> = serde_json::from_str(body).map_err(|e| {
        vec![LineError {
            line: e.line(),
            message: say(
                en,
                &format!("記録の JSON 配列として読めません: {e}"),
                &format!("not a JSON array of records: {e}"),
            ),
        }]
    })?;
    if values.len() > MAX_IMPORT {
        return Err(vec![LineError {
            line: 1,
            message: say(
                en,
                &format!("一度に取り込めるのは {MAX_IMPORT} 件までです"),
                &format!("at most {MAX_IMPORT} records per import"),
            ),
        }]);
    }
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (i, v) in values.into_iter().enumerate() {
        match serde_json::from_value::<ProvisionRecord>(v) {
            Ok(r) => {
                let problems = r.check(today);
                if problems.is_empty() {
                    out.push(r);
                }
                errors.extend(problems.into_iter().map(|p| LineError {
                    line: i + 1,
                    message: format!("{}: {}", p.field, p.problem(en)),
                }));
            }
            Err(e) => errors.push(LineError {
                line: i + 1,
                message: say(en, &format!("読めません: {e}"), &format!("unreadable: {e}")),
            }),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Reads CSV with [`CSV_HEADER`] (RFC 4180); each problem names its line and field.
pub fn parse_csv(
    text: &str,
    today: NaiveDate,
    en: bool,
) -> Result<Vec<ProvisionRecord>, Vec<LineError>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let records = crate::identity::split_records(text).map_err(|e| vec![e])?;
    let mut iter = records
        .into_iter()
        .filter(|(_, f)| !(f.len() == 1 && f[0].trim().is_empty()));
    let header_ok = iter.next().is_some_and(|(_, h)| {
        h.iter()
            .map(|x| x.trim().to_lowercase())
            .eq(CSV_HEADER.iter().map(|x| x.to_string()))
    });
    if !header_ok {
        return Err(vec![LineError {
            line: 1,
            message: say(
                en,
                &format!("1行目の見出しは {} としてください", CSV_HEADER.join(",")),
                &format!("the header must be {}", CSV_HEADER.join(",")),
            ),
        }]);
    }
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (line, f) in iter {
        if out.len() + errors.len() >= MAX_IMPORT {
            errors.push(LineError {
                line,
                message: say(
                    en,
                    &format!("一度に取り込めるのは {MAX_IMPORT} 件までです"),
                    &format!("at most {MAX_IMPORT} records per import"),
                ),
            });
            break;
        }
        let mut fail = |message: String| errors.push(LineError { line, message });
        if f.len() != CSV_HEADER.len() {
            fail(say(
                en,
                &format!(
                    "{} 項目が必要ですが {} 項目あります",
                    CSV_HEADER.len(),
                    f.len()
                ),
                &format!("expected {} fields, found {}", CSV_HEADER.len(), f.len()),
            ));
            continue;
        }
        let opt = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        let direction = Direction::parse(f[0].trim());
        let occurred_on = NaiveDate::parse_from_str(f[1].trim(), "%Y-%m-%d").ok();
        let basis = Basis::parse(f[9].trim());
        let years = f[11].trim();
        let retention_years = if years.is_empty() {
            Some(3)
        } else {
            years.parse::<u8>().ok()
        };
        let (Some(direction), Some(occurred_on), Some(basis), Some(retention_years)) =
            (direction, occurred_on, basis, retention_years)
        else {
            if direction.is_none() {
                fail(say(
                    en,
                    "direction: provided か received を入力してください",
                    "direction: must be provided or received",
                ));
            }
            if occurred_on.is_none() {
                fail(say(
                    en,
                    "occurred_on: 日付を YYYY-MM-DD で入力してください",
                    "occurred_on: must be a date written YYYY-MM-DD",
                ));
            }
            if basis.is_none() {
                fail(say(
                    en,
                    "basis: consent、opt_out、foreign_consent、as_provider_states のいずれかです",
                    "basis: must be consent, opt_out, foreign_consent or as_provider_states",
                ));
            }
            if retention_years.is_none() {
                fail(say(
                    en,
                    "retention_years: 1 か 3 を入力してください",
                    "retention_years: must be 1 or 3",
                ));
            }
            continue;
        };
        let r = ProvisionRecord {
            direction,
            occurred_on,
            counterparty: f[2].trim().to_owned(),
            counterparty_address: opt(&f[3]),
            counterparty_representative: opt(&f[4]),
            subject_name: f[5].trim().to_owned(),
            subject_email: opt(&f[6]),
            subject_phone: opt(&f[7]),
            items: f[8].trim().to_owned(),
            basis,
            acquisition: opt(&f[10]),
            retention_years,
        };
        let problems = r.check(today);
        if problems.is_empty() {
            out.push(r);
        }
        for p in problems {
            fail(format!("{}: {}", p.field, p.problem(en)));
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

impl Service {
    /// Imports checked records, all or none, with a `register.imported` entry naming who and
    /// how many (never whom).
    pub async fn import_register(
        &self,
        records: &[ProvisionRecord],
        who: &StaffIdentity,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<usize, ServiceError> {
        let provided = records
            .iter()
            .filter(|r| r.direction == Direction::Provided)
            .count();
        let entry = audit_entry(
            &who.actor(),
            "register.imported",
            vec![
                ("records", records.len().to_string()),
                ("provided", provided.to_string()),
                ("received", (records.len() - provided).to_string()),
            ],
        );
        let by = who.pid.to_string();
        provisions::import(
            self.db(),
            self.cipher(),
            records,
            Some(&by),
            entry,
            origin,
            now,
        )
        .await?;
        Ok(records.len())
    }

    /// A page of the register for an officer; the view is on the register's trail.
    pub async fn register_page(
        &self,
        who: &StaffIdentity,
        page: u64,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(Vec<Stored>, u64), ServiceError> {
        const PER_PAGE: u64 = 50;
        let found =
            provisions::page(self.db().conn(), self.cipher(), PER_PAGE, page * PER_PAGE).await?;
        let entry = audit_entry(
            &who.actor(),
            "register.viewed",
            vec![("page", (page + 1).to_string())],
        );
        self.audit_named(provisions::CHAIN, entry, origin, now)
            .await?;
        Ok(found)
    }

    /// The records about a request's subject: by their address and their phone number.
    pub async fn register_for(&self, row: &request::Model) -> Result<Vec<Stored>, ServiceError> {
        // The subject's own keys: an agent's address and phone are the agent's.
        let by_subject =
            madoguchi_domain::Requester::parse(&row.requester).is_some_and(|r| !r.is_agent());
        let email = row
            .subject_email
            .as_deref()
            .or(crate::intake::email_of(row).filter(|_| by_subject));
        let email_index = email
            .and_then(|e| EmailAddress::parse(e).ok())
            .map(|e| self.cipher().email_index(&e.normalized()));
        let phone_index = row
            .phone
            .as_deref()
            .filter(|_| by_subject)
            .and_then(phone_digits)
            .map(|d| provisions::phone_index(self.cipher(), &d));
        Ok(provisions::for_person(
            self.db().conn(),
            self.cipher(),
            email_index.as_deref(),
            phone_index.as_deref(),
        )
        .await?)
    }

    /// Deletes records past their period (a timer); returns how many.
    pub async fn purge_register(&self, now: DateTime<Utc>) -> Result<u64, ServiceError> {
        let entry = |n: u64| {
            audit_entry(
                &madoguchi_domain::Actor::System,
                "register.purged",
                vec![("records", n.to_string())],
            )
        };
        Ok(provisions::purge(self.db(), jst_date(now), entry, now).await?)
    }
}
