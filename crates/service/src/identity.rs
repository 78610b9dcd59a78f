//! Identity by customer record (本人確認): the pluggable source a confirmed request is looked
//! up in, the source backed by the `customers` table, and its CSV import.
//!
//! The table keeps keyed hashes, not the data: `email_hash` = HMAC(secret, address) finds the
//! record, `match_hash` = HMAC(secret, address, normalised name, date of birth) is compared.
//! A leaked table without the secret reveals nothing; rotating `MADOGUCHI_SECRET` means
//! importing the customers again.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use madoguchi_domain::{EmailAddress, normalize_name, parse_birth_date};
use madoguchi_store::audit::{NewEntry, Origin};
use madoguchi_store::customers::{self, NewCustomer, Upserted};
use madoguchi_store::secrets::{constant_time_eq, keyed};
use madoguchi_store::{Db, StoreError};

use crate::{Service, ServiceError};

/// Where the business's customer records are looked up. Implement it to ask a CRM or a
/// member database instead of the `customers` table; plug it in with
/// [`Service::with_identity_source`].
#[async_trait::async_trait]
pub trait IdentitySource: Send + Sync + fmt::Debug {
    /// Whether one customer record has this address, this name and this date of birth.
    /// Names compare after [`normalize_name`] (widths and spaces folded). An error means the
    /// source could not answer; the request then goes to document review.
    async fn matches(
        &self,
        email: &EmailAddress,
        name: &str,
        date_of_birth: NaiveDate,
    ) -> Result<bool, ServiceError>;
}

/// The default source: the `customers` table, filled by `madoguchi customers import`.
#[derive(Clone)]
pub struct CustomerTable {
    db: Db,
    secret: Arc<[u8]>,
}

impl fmt::Debug for CustomerTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CustomerTable").finish_non_exhaustive()
    }
}

impl CustomerTable {
    /// A source over `db`'s table, hashing with the service secret.
    pub fn new(db: Db, secret: Arc<[u8]>) -> Self {
        CustomerTable { db, secret }
    }

    fn email_hash(&self, email: &EmailAddress) -> String {
        keyed(
            &self.secret,
            &format!("customer-email:v1:{}", email.normalized()),
        )
    }

    fn match_hash(&self, email: &EmailAddress, name: &str, date_of_birth: NaiveDate) -> String {
        keyed(
            &self.secret,
            &format!(
                "customer-match:v1:{}\n{}\n{}",
                email.normalized(),
                normalize_name(name),
                date_of_birth.format("%Y-%m-%d")
            ),
        )
    }

    /// The row the import writes for one customer.
    pub fn row(&self, c: &CustomerRecord) -> NewCustomer {
        NewCustomer {
            email_hash: self.email_hash(&c.email),
            match_hash: self.match_hash(&c.email, &c.name, c.date_of_birth),
            external_ref: c.external_ref.clone(),
        }
    }
}

#[async_trait::async_trait]
impl IdentitySource for CustomerTable {
    async fn matches(
        &self,
        email: &EmailAddress,
        name: &str,
        date_of_birth: NaiveDate,
    ) -> Result<bool, ServiceError> {
        let found = customers::find_by_email_hash(self.db.conn(), &self.email_hash(email)).await?;
        Ok(found.is_some_and(|c| {
            constant_time_eq(&c.match_hash, &self.match_hash(email, name, date_of_birth))
        }))
    }
}

/// One customer as the CSV gives it, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerRecord {
    /// The customer's address.
    pub email: EmailAddress,
    /// Their name as the business holds it.
    pub name: String,
    /// Their date of birth.
    pub date_of_birth: NaiveDate,
    /// The business's own id, if given.
    pub external_ref: Option<String>,
}

/// A problem on one line of the file; nothing is imported while there is any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// 1-based line where the record starts (the header is line 1).
    pub line: usize,
    /// What is wrong, without the line's content (it is personal data).
    pub message: String,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Why an import was refused.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file is not the expected CSV, or rows are bad. Nothing was imported.
    #[error("{} bad line(s); nothing was imported", .0.len())]
    Rejected(Vec<LineError>),
    /// The database failed. Nothing was imported.
    #[error(transparent)]
    Service(#[from] ServiceError),
}

/// What an import did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportReport {
    /// Records read from the file.
    pub rows: u64,
    /// New customers.
    pub inserted: u64,
    /// Customers whose record was replaced.
    pub updated: u64,
}

const MAX_NAME: usize = 100;
const MAX_REF: usize = 200;

/// Parses `email,name,date_of_birth[,external_ref]` CSV (RFC 4180: quoted fields may hold
/// commas, doubled quotes and line breaks; CRLF or LF; an optional UTF-8 BOM). Returns every
/// record or every problem, by line.
pub fn parse_customers_csv(
    text: &str,
    today: NaiveDate,
) -> Result<Vec<CustomerRecord>, Vec<LineError>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let records = match split_records(text) {
        Ok(r) => r,
        Err(e) => return Err(vec![e]),
    };
    let mut errors = Vec::new();
    let mut out = Vec::new();
    let mut iter = records.into_iter().filter(|(_, fields)| {
        // Blank lines (a trailing newline, say) are not records.
        !(fields.len() == 1 && fields[0].trim().is_empty())
    });
    let Some((header_line, header)) = iter.next() else {
        return Err(vec![LineError {
            line: 1,
            message: "the file is empty; expected the header email,name,date_of_birth".into(),
        }]);
    };
    let header: Vec<String> = header.iter().map(|h| h.trim().to_lowercase()).collect();
    let with_ref = match header.as_slice() {
        [a, b, c] if a == "email" && b == "name" && c == "date_of_birth" => false,
        [a, b, c, d]
            if a == "email" && b == "name" && c == "date_of_birth" && d == "external_ref" =>
        {
            true
        }
        _ => {
            return Err(vec![LineError {
                line: header_line,
                message: "the header must be email,name,date_of_birth[,external_ref]".into(),
            }]);
        }
    };
    let width = if with_ref { 4 } else { 3 };
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (line, fields) in iter {
        let mut fail = |message: String| errors.push(LineError { line, message });
        if fields.len() != width {
            fail(format!("expected {width} fields, found {}", fields.len()));
            continue;
        }
        let email = EmailAddress::parse(&fields[0]);
        let name = fields[1].trim();
        let dob = parse_birth_date(&fields[2], today);
        let external_ref = fields
            .get(3)
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty());
        let mut ok = true;
        if email.is_err() {
            fail("email is not an e-mail address".into());
            ok = false;
        }
        if name.is_empty() || name.chars().count() > MAX_NAME {
            fail(format!("name must be 1 to {MAX_NAME} characters"));
            ok = false;
        }
        if let Err(e) = dob {
            fail(format!("date_of_birth: {e}"));
            ok = false;
        }
        if external_ref
            .as_ref()
            .is_some_and(|r| r.chars().count() > MAX_REF)
        {
            fail(format!("external_ref is longer than {MAX_REF} characters"));
            ok = false;
        }
        if let Ok(e) = &email
            && let Some(first) = seen.insert(e.normalized(), line)
        {
            fail(format!("the same e-mail address as line {first}"));
            ok = false;
        }
        if let (true, Ok(email), Ok(date_of_birth)) = (ok, email, dob) {
            out.push(CustomerRecord {
                email,
                name: name.to_owned(),
                date_of_birth,
                external_ref,
            });
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Splits CSV text into records of fields, each with the line it starts on.
pub(crate) fn split_records(text: &str) -> Result<Vec<(usize, Vec<String>)>, LineError> {
    let mut records = Vec::new();
    let mut fields: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut line = 1;
    let mut start = 1;
    let mut quoted = false;
    // Whether the current field began with a quote (and so may not take bare text after it).
    let mut was_quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                '\n' => {
                    line += 1;
                    field.push('\n');
                }
                c => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() && !was_quoted => {
                quoted = true;
                was_quoted = true;
            }
            '"' => {
                return Err(LineError {
                    line,
                    message: "a quote inside an unquoted field (quote the whole field and \
                              double the quote)"
                        .into(),
                });
            }
            ',' => {
                fields.push(std::mem::take(&mut field));
                was_quoted = false;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                fields.push(std::mem::take(&mut field));
                records.push((start, std::mem::take(&mut fields)));
                was_quoted = false;
                line += 1;
                start = line;
            }
            c if was_quoted => {
                return Err(LineError {
                    line,
                    message: format!("unexpected {c:?} after a closing quote"),
                });
            }
            c => field.push(c),
        }
    }
    if quoted {
        return Err(LineError {
            line: start,
            message: "a quoted field is not closed".into(),
        });
    }
    if !field.is_empty() || !fields.is_empty() || was_quoted {
        fields.push(field);
        records.push((start, fields));
    }
    Ok(records)
}

impl Service {
    /// Looks the request's subject up in the identity source. `None` when the request is not
    /// one to look up (its kind's method is not `customer_record`).
    pub(crate) async fn customer_match(
        &self,
        row: &madoguchi_store::entities::request::Model,
        current: &madoguchi_domain::Request,
    ) -> Option<madoguchi_domain::CustomerMatch> {
        use madoguchi_domain::{CustomerMatch, IdentityMethod};
        if current.policy.identity_for(current.kind) != IdentityMethod::CustomerRecord {
            return None;
        }
        if current.requester.is_agent() {
            return Some(CustomerMatch::AgentFiled);
        }
        let (Ok(email), Some(dob)) = (EmailAddress::parse(&row.email), row.subject_birth_date)
        else {
            // Filed without a date of birth (by staff from paper, say): nothing to compare.
            return Some(CustomerMatch::NotFound);
        };
        match self
            .identity_source
            .matches(&email, &row.subject_name, dob)
            .await
        {
            Ok(true) => Some(CustomerMatch::Matched),
            Ok(false) => Some(CustomerMatch::NotFound),
            Err(e) => {
                tracing::warn!(request = %row.pid, error = %e, "customer-record lookup failed; falling back to document review");
                Some(CustomerMatch::Unavailable)
            }
        }
    }

    /// Imports customer records from CSV text: every row or none, in one transaction,
    /// replacing the record of an address already known. The import is audited (counts only).
    pub async fn import_customers(
        &self,
        csv: &str,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<ImportReport, ImportError> {
        let records = parse_customers_csv(csv, madoguchi_domain::jst_date(now))
            .map_err(ImportError::Rejected)?;
        let table = CustomerTable::new(self.db.clone(), self.secret.clone());
        let rows: Vec<NewCustomer> = records.iter().map(|c| table.row(c)).collect();
        let tx = self.db.begin_write().await.map_err(ServiceError::from)?;
        let Upserted { inserted, updated } = customers::upsert(&tx, &rows, now)
            .await
            .map_err(ServiceError::from)?;
        let entry = NewEntry {
            actor_kind: "system".to_owned(),
            actor_id: None,
            role: None,
            action: "customers.imported".to_owned(),
            detail: vec![
                ("rows".to_owned(), rows.len().to_string()),
                ("inserted".to_owned(), inserted.to_string()),
                ("updated".to_owned(), updated.to_string()),
            ],
        };
        madoguchi_store::change::record_office(&tx, "customers", &[entry], origin, now)
            .await
            .map_err(ServiceError::from)?;
        tx.commit()
            .await
            .map_err(|e| ServiceError::from(StoreError::from(e)))?;
        Ok(ImportReport {
            rows: rows.len() as u64,
            inserted,
            updated,
        })
    }

    /// How many customer records the table holds.
    pub async fn customer_count(&self) -> Result<u64, ServiceError> {
        Ok(customers::count(self.db.conn()).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
    }

    #[test]
    fn a_good_file_parses_with_quotes_crlf_and_a_bom() {
        let text = "\u{feff}email,name,date_of_birth,external_ref\r\n\
                    taro@example.jp,山田 太郎,1990-04-01,C-1\r\n\
                    \"hanako@example.jp\",\"Suzuki, \"\"Hana\"\"\nko\",2001-12-31,\r\n\
                    jiro@example.jp,佐藤次郎,1985-01-02,\"\"\r\n";
        let got = parse_customers_csv(text, today()).unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].name, "山田 太郎");
        assert_eq!(got[0].external_ref.as_deref(), Some("C-1"));
        assert_eq!(got[1].name, "Suzuki, \"Hana\"\nko");
        assert_eq!(got[1].external_ref, None);
        assert_eq!(got[2].external_ref, None);
    }

    #[test]
    fn bad_rows_are_all_reported_by_line() {
        let text = "email,name,date_of_birth\n\
                    ok@example.jp,山田太郎,1990-04-01\n\
                    not-an-address,山田太郎,1990-04-01\n\
                    a@example.jp,,1990-13-01\n\
                    ok@example.jp,別人,1990-04-01\n\
                    b@example.jp,x\n";
        let errors = parse_customers_csv(text, today()).unwrap_err();
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [3, 4, 4, 5, 6], "{errors:?}");
        assert!(errors[3].message.contains("line 2"));
        // No message repeats the row's content.
        assert!(errors.iter().all(|e| !e.message.contains("山田")));
    }

    #[test]
    fn line_numbers_count_breaks_inside_quotes() {
        let text = "email,name,date_of_birth\n\"a@example.jp\",\"two\nlines\",1990-01-01\nbad,x,1990-01-01\n";
        let errors = parse_customers_csv(text, today()).unwrap_err();
        assert_eq!(errors[0].line, 4);
    }

    #[test]
    fn the_shape_of_the_file_is_checked() {
        for (text, line) in [
            ("", 1),
            ("mail,name,dob\n", 1),
            ("email,name,date_of_birth\n\"a@example.jp,x,1990-01-01\n", 2),
            (
                "email,name,date_of_birth\na\"b@example.jp,x,1990-01-01\n",
                2,
            ),
            (
                "email,name,date_of_birth\n\"a@example.jp\"x,y,1990-01-01\n",
                2,
            ),
        ] {
            let errors = parse_customers_csv(text, today()).unwrap_err();
            assert_eq!(errors.len(), 1, "{text:?}");
            assert_eq!(errors[0].line, line, "{text:?}: {errors:?}");
        }
        assert_eq!(
            parse_customers_csv("email,name,date_of_birth\n", today()).unwrap(),
            []
        );
    }
}
