//! The data map (保有個人データの台帳): what personal data the business holds, where, why, for
//! how long and for whom. One TOML file declares it; [`DataMap::parse`] reads it and
//! [`check`] finds every mistake with its line before the map is used. What APPI asks the
//! business to publish (Art. 32(1)) and to answer (Art. 32(2), 33) is derived from it here.
//!
//! Pure: no IO, no clock. The service stores versions, the web serves them, connectors read
//! the systems and datasets.

mod check;
pub mod plan;
mod publish;

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use toml::Spanned;

pub use check::{Problem, ProblemKind, check};
pub use publish::{Notice, NoticeCategory, NoticePurpose, NoticeRecipient};

/// Words in both languages the product speaks: Japanese first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Text {
    /// 日本語.
    pub ja: String,
    /// English.
    pub en: String,
}

impl Text {
    /// The words in `en` or Japanese.
    pub fn get(&self, en: bool) -> &str {
        if en { &self.en } else { &self.ja }
    }
}

/// The whole map.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DataMap {
    /// The business's own name for this version (e.g. `2026-12`): shown beside the hash.
    pub version: String,
    /// The safety-management measures taken (安全管理措置, Art. 23; published under 政令10条1号).
    pub safety_measures: Text,
    /// The purposes of use (利用目的, Art. 17, 21).
    #[serde(default)]
    pub purposes: Vec<Purpose>,
    /// The categories of personal data (項目), as the notice names them.
    #[serde(default)]
    pub categories: Vec<Category>,
    /// Where the data lives.
    #[serde(default)]
    pub systems: Vec<System>,
    /// What each system holds.
    #[serde(default)]
    pub datasets: Vec<Dataset>,
    /// Who receives data: third parties, joint users, processors.
    #[serde(default)]
    pub recipients: Vec<Recipient>,
}

/// A purpose of use.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Purpose {
    /// How datasets refer to it.
    #[schemars(with = "String")]
    pub id: Spanned<String>,
    /// What it is, as the notice says it.
    pub label: Text,
}

/// A category of personal data.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Category {
    /// How fields and recipients refer to it.
    #[schemars(with = "String")]
    pub id: Spanned<String>,
    /// Its name.
    pub label: Text,
    /// Whether it is 要配慮個人情報 (special care-required personal information, Art. 2(3)).
    #[serde(default)]
    pub special_care: bool,
}

/// A system that holds personal data.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct System {
    /// How datasets refer to it.
    #[schemars(with = "String")]
    pub id: Spanned<String>,
    /// Its name.
    pub name: Text,
    /// Who answers for it (an address), told when a request needs work in it.
    pub owner: String,
    /// Where it runs, as an ISO 3166-1 alpha-2 code (`JP`, `US`).
    #[schemars(with = "String")]
    pub country: Spanned<String>,
    /// The processor (委託先) that runs it, by recipient id; none when the business runs it.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub processor: Option<Spanned<String>>,
    /// How a connector reaches it.
    pub connector: Connector,
}

/// How a connector reaches a system. Credentials are never in the file: only the names of
/// environment variables that hold them.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Connector {
    /// The kind of system.
    pub kind: ConnectorKind,
    /// The environment variable holding the database URL (postgres, mysql, sqlite) or the
    /// service's base URL (http).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub url_env: Option<Spanned<String>>,
    /// The environment variable holding the database URL connectors change data with
    /// (erasure), when reading uses a read-only user; `url_env` when absent.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub write_url_env: Option<Spanned<String>>,
    /// The environment variable holding an API token (http).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub token_env: Option<Spanned<String>>,
    /// The longest a query may take, in seconds (default 30).
    #[serde(default)]
    pub timeout_secs: Option<u32>,
    /// The most rows one dataset may return for one subject (default 10,000).
    #[serde(default)]
    pub row_limit: Option<u32>,
    /// HTTP: more headers sent with every request, each naming the environment variable
    /// that holds its value (`{ "X-Api-Key" = "POINTS_API_KEY" }`).
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub headers_env: BTreeMap<String, Spanned<String>>,
    /// HTTP: the most requests per second sent to the system (default 5).
    #[serde(default)]
    pub rate_per_sec: Option<u32>,
}

/// The kinds of system a connector reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConnectorKind {
    /// PostgreSQL.
    Postgres,
    /// MySQL or MariaDB.
    Mysql,
    /// SQLite.
    Sqlite,
    /// A web service (JSON over HTTP).
    Http,
    /// No connector: the owner does the work by hand and reports it.
    Manual,
}

impl ConnectorKind {
    /// Whether a database URL is needed.
    pub fn is_sql(self) -> bool {
        matches!(
            self,
            ConnectorKind::Postgres | ConnectorKind::Mysql | ConnectorKind::Sqlite
        )
    }
}

/// A set of personal data in one system (a table, an API resource).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Dataset {
    /// Unique in the map.
    #[schemars(with = "String")]
    pub id: Spanned<String>,
    /// The system it lives in, by id.
    #[schemars(with = "String")]
    pub system: Spanned<String>,
    /// Its name, as the disclosure answer lists it.
    pub label: Text,
    /// Where in the system: a table (SQL) or a resource path (http).
    #[serde(default)]
    pub location: Option<String>,
    /// Why it is held, by purpose id.
    #[schemars(with = "Vec<String>")]
    pub purposes: Vec<Spanned<String>>,
    /// How long it is kept, and why.
    pub retention: Retention,
    /// How a subject's rows are found: any one finder that matches is enough.
    #[serde(default)]
    pub find_by: Vec<Finder>,
    /// Its fields.
    #[serde(default)]
    pub fields: Vec<Field>,
    /// Who receives it, by recipient id.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub recipients: Vec<Spanned<String>>,
    /// HTTP: where the records are in the JSON answer, as a dotted path (`data.items`);
    /// absent when the answer is the list itself.
    #[serde(default)]
    pub records: Option<String>,
    /// HTTP: how further pages of the answer are asked for; absent when there is one page.
    #[serde(default)]
    pub pages: Option<Pages>,
    /// HTTP: the call that deletes one of the subject's records (an erasure that deletes
    /// rows), `{field}` in its path replaced by that record's value. A path without
    /// placeholders is called once (a service that erases a whole person in one call).
    /// Without it the system's owner deletes the records by hand.
    #[serde(default)]
    pub delete_call: Option<Call>,
    /// HTTP: the call that changes fields of one record (erasure by clearing or masking, a
    /// correction, the suspension mark); the new values go in a JSON object.
    #[serde(default)]
    pub update_call: Option<Call>,
    /// How a suspension of use (利用停止) marks the subject's rows so the system stops using
    /// them: a column (or JSON key) set to a value. Without it the owner marks them by hand.
    #[serde(default)]
    pub suspend_mark: Option<Mark>,
}

/// A declared HTTP call that changes records.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Call {
    /// The method.
    pub method: CallMethod,
    /// A path below the base URL; `{field}` is replaced by the record's value of that field.
    pub path: String,
}

impl Call {
    /// The fields its path names, in order.
    pub fn placeholders(&self) -> Vec<&str> {
        placeholders(&self.path)
    }
}

/// The `{field}`s a call's path names, in order.
pub fn placeholders(path: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = path;
    while let Some((_, after)) = rest.split_once('{') {
        let Some((name, tail)) = after.split_once('}') else {
            break;
        };
        out.push(name);
        rest = tail;
    }
    out
}

/// The methods a declared call may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum CallMethod {
    /// `DELETE`.
    Delete,
    /// `PATCH`.
    Patch,
    /// `PUT`.
    Put,
    /// `POST`.
    Post,
}

impl CallMethod {
    /// The method's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            CallMethod::Delete => "DELETE",
            CallMethod::Patch => "PATCH",
            CallMethod::Put => "PUT",
            CallMethod::Post => "POST",
        }
    }
}

/// The mark a suspension of use sets.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Mark {
    /// The column or JSON key (not one of the dataset's fields: the mark is not personal
    /// data).
    #[schemars(with = "String")]
    pub field: Spanned<String>,
    /// The value that means "do not use".
    pub value: MarkValue,
}

/// A mark's value: plain, so that it can be written into a statement as it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum MarkValue {
    /// `true` or `false`.
    Bool(bool),
    /// A whole number.
    Int(i64),
    /// A short word: letters, digits, space and `_ - . :` (checked).
    Text(String),
}

impl MarkValue {
    /// Whether a text value is plain enough to write into a statement.
    pub fn is_plain(&self) -> bool {
        match self {
            MarkValue::Text(t) => {
                !t.is_empty()
                    && t.len() <= 64
                    && t.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b" _-.:".contains(&b))
            }
            _ => true,
        }
    }

    /// The value as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            MarkValue::Bool(b) => serde_json::Value::Bool(*b),
            MarkValue::Int(i) => serde_json::Value::from(*i),
            MarkValue::Text(t) => serde_json::Value::String(t.clone()),
        }
    }
}

/// How an HTTP dataset's further pages are asked for.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum Pages {
    /// The answer holds the next page's cursor at the dotted path `next`; it is sent back in
    /// the query parameter `param`. No cursor (absent, null or empty) ends the list.
    Cursor {
        /// The query parameter.
        param: String,
        /// Where the next cursor is in the answer.
        next: String,
    },
    /// Pages numbered from 1 in the query parameter `param`, until a page comes back empty.
    Number {
        /// The query parameter.
        param: String,
    },
    /// The answer's `Link` header names the next page (`rel="next"`, same origin only).
    Link,
}

/// How long a dataset is kept.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// The period, in words (e.g. `退会後5年` / `5 years after the account closes`).
    pub period: Text,
    /// Its basis: a law that requires it, or the business's own rule.
    pub basis: String,
    /// Whether a law requires keeping it that long: then nothing in it may be erased on
    /// request before the period ends (fields must say `erase = "retain"`).
    #[serde(default)]
    pub required_by_law: bool,
}

/// One way to find a subject's rows: every condition must hold (a composite key).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Finder {
    /// The conditions.
    #[serde(rename = "match")]
    pub conditions: Vec<Condition>,
}

/// One condition: a field of this dataset equals one of the subject's identity keys, or a
/// field of another dataset's matching rows (`from = "customers.id"`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// A field of this dataset.
    #[schemars(with = "String")]
    pub field: Spanned<String>,
    /// The subject's identity key it equals.
    #[serde(default)]
    pub key: Option<IdentityKey>,
    /// Or: `dataset.field` it equals.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub from: Option<Spanned<String>>,
    /// HTTP: the query parameter that carries the value (default: the field's name). The
    /// connector also checks each record's field against it, so a service that ignores the
    /// parameter cannot hand over other people's records.
    #[serde(default)]
    pub param: Option<String>,
}

/// What Madoguchi knows of a subject to look them up by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IdentityKey {
    /// The confirmed e-mail address.
    Email,
    /// The telephone number given.
    Phone,
    /// The business's customer number (from the customer record).
    CustomerNumber,
    /// The name.
    Name,
    /// The date of birth.
    BirthDate,
}

/// A field of a dataset.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Field {
    /// Its name in the system (a column, a JSON key).
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// Its name for people.
    pub label: Text,
    /// Its category, by id.
    #[schemars(with = "String")]
    pub category: Spanned<String>,
    /// Withheld from a disclosure, on this ground; disclosed when absent.
    #[serde(default)]
    pub withhold: Option<WithholdGround>,
    /// How it is erased.
    pub erase: Erase,
    /// The law or rule it is kept under, when `erase = "retain"`.
    #[serde(default)]
    pub retain_basis: Option<String>,
    /// What suspension of use does to it.
    #[serde(default = "Suspend::default")]
    pub suspend: Suspend,
    /// Whether a correction can change it.
    #[serde(default = "yes")]
    pub correctable: bool,
}

fn yes() -> bool {
    true
}

/// Why a field is not disclosed (Art. 33(2)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WithholdGround {
    /// Disclosure could harm the life, body, property or other rights of the subject or a
    /// third party (第1号).
    HarmToPerson,
    /// Disclosure could seriously interfere with the business (第2号).
    SeriousInterference,
    /// Disclosure would break another law (第3号).
    OtherLaw,
}

impl WithholdGround {
    /// The ground as the answer names it.
    pub fn label(self, en: bool) -> &'static str {
        match (self, en) {
            (WithholdGround::HarmToPerson, false) => "法第33条第2項第1号",
            (WithholdGround::SeriousInterference, false) => "法第33条第2項第2号",
            (WithholdGround::OtherLaw, false) => "法第33条第2項第3号",
            (WithholdGround::HarmToPerson, true) => "APPI Art. 33(2)(i)",
            (WithholdGround::SeriousInterference, true) => "APPI Art. 33(2)(ii)",
            (WithholdGround::OtherLaw, true) => "APPI Art. 33(2)(iii)",
        }
    }
}

/// How a field is erased on request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Erase {
    /// The whole row goes.
    DeleteRow,
    /// The value is cleared (NULL or empty).
    Clear,
    /// The value is replaced by a mask that no longer identifies.
    Mask,
    /// Kept, under `retain_basis`.
    Retain,
}

impl Erase {
    /// Whether the value is gone afterwards.
    pub fn removes(self) -> bool {
        !matches!(self, Erase::Retain)
    }
}

/// What suspension of use (利用停止, Art. 35) does to a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum Suspend {
    /// The row is marked so that it is no longer used (the system honours the mark).
    #[default]
    Mark,
    /// Suspension is done by erasing it as `erase` says.
    Erase,
    /// Not used for any purpose a suspension could stop (kept only as the law requires).
    NotApplicable,
}

/// Someone who receives personal data from the business.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Recipient {
    /// How systems and datasets refer to it.
    #[schemars(with = "String")]
    pub id: Spanned<String>,
    /// What kind of recipient.
    pub kind: RecipientKind,
    /// Its name.
    pub name: Text,
    /// Where it handles the data, ISO 3166-1 alpha-2.
    #[schemars(with = "String")]
    pub country: Spanned<String>,
    /// The categories it receives, by id.
    #[schemars(with = "Vec<String>")]
    pub categories: Vec<Spanned<String>>,
    /// For a recipient abroad (Art. 28): the country's system for personal information and the
    /// measures the recipient takes, as the subject is told.
    #[serde(default)]
    pub foreign_regime: Option<Text>,
    /// For joint use (Art. 27(5)(iii)): what the notice must say.
    #[serde(default)]
    pub joint_use: Option<JointUse>,
    /// Where instructions about a person's data go (an e-mail address): asked to erase it,
    /// stop using it, or told that provision stops (Art. 35), they confirm through a link.
    /// Without it the officer tells them by hand.
    #[serde(default)]
    pub contact: Option<String>,
}

/// The kinds of recipient APPI distinguishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecipientKind {
    /// A third party (第三者): provision needs consent or an exception (Art. 27).
    ThirdParty,
    /// Joint users (共同利用, Art. 27(5)(iii)).
    JointUse,
    /// A processor (委託先, Art. 27(5)(i)).
    Processor,
}

/// What joint use must make known (Art. 27(5)(iii)).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JointUse {
    /// Who uses it jointly (the scope of joint users).
    pub scope: Text,
    /// Their purpose of use.
    pub purpose: Text,
    /// The party responsible for its management: name, address and representative.
    pub responsible: Text,
}

/// Why a file could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The line (1-based), when the parser knows it.
    pub line: Option<usize>,
    /// What the parser said.
    pub message: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "line {l}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ParseError {}

/// The line (1-based) of a byte offset in `source`.
pub fn line_of(source: &str, offset: usize) -> usize {
    source.as_bytes()[..offset.min(source.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

impl DataMap {
    /// Reads a map. Syntax errors and unknown keys are errors with their line; the meaning
    /// is checked by [`check`].
    pub fn parse(source: &str) -> Result<DataMap, ParseError> {
        toml::from_str(source).map_err(|e: toml::de::Error| ParseError {
            line: e.span().map(|s| line_of(source, s.start)),
            message: e.message().trim().to_owned(),
        })
    }

    /// Reads and checks a map: the map, or every problem found.
    pub fn load(source: &str) -> Result<DataMap, Vec<Problem>> {
        let map = DataMap::parse(source).map_err(|e| {
            vec![Problem {
                line: e.line.unwrap_or(1),
                kind: ProblemKind::Syntax(e.message),
            }]
        })?;
        let problems = check(&map, source);
        if problems.is_empty() {
            Ok(map)
        } else {
            Err(problems)
        }
    }

    /// The dataset with this id.
    pub fn dataset(&self, id: &str) -> Option<&Dataset> {
        self.datasets.iter().find(|d| d.id.get_ref() == id)
    }

    /// The system with this id.
    pub fn system(&self, id: &str) -> Option<&System> {
        self.systems.iter().find(|s| s.id.get_ref() == id)
    }

    /// The purpose with this id.
    pub fn purpose(&self, id: &str) -> Option<&Purpose> {
        self.purposes.iter().find(|p| p.id.get_ref() == id)
    }

    /// The category with this id.
    pub fn category(&self, id: &str) -> Option<&Category> {
        self.categories.iter().find(|c| c.id.get_ref() == id)
    }

    /// The recipient with this id.
    pub fn recipient(&self, id: &str) -> Option<&Recipient> {
        self.recipients.iter().find(|r| r.id.get_ref() == id)
    }

    /// The purposes of the datasets that hold any of `categories`, in the map's order (the
    /// pre-filled answer to a purpose-notification request, Art. 32(2)); with no `categories`,
    /// every purpose some dataset is held for.
    pub fn purposes_for(&self, categories: &[&str]) -> Vec<&Purpose> {
        self.purposes
            .iter()
            .filter(|p| {
                self.datasets.iter().any(|d| {
                    d.purposes.iter().any(|q| q.get_ref() == p.id.get_ref())
                        && (categories.is_empty()
                            || d.fields
                                .iter()
                                .any(|f| categories.contains(&f.category.get_ref().as_str())))
                })
            })
            .collect()
    }
}

impl Dataset {
    /// The categories its fields hold, each once, in field order.
    pub fn categories(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for f in &self.fields {
            if !out.contains(&f.category.get_ref().as_str()) {
                out.push(f.category.get_ref());
            }
        }
        out
    }

    /// The fields disclosed and those withheld (with their ground).
    pub fn withheld(&self) -> impl Iterator<Item = (&Field, WithholdGround)> {
        self.fields
            .iter()
            .filter_map(|f| f.withhold.map(|g| (f, g)))
    }
}

/// A country's name for the notice, from its ISO 3166-1 alpha-2 code; the code itself for a
/// country this table does not name.
pub fn country_name(code: &str, en: bool) -> String {
    const NAMES: &[(&str, &str, &str)] = &[
        ("JP", "日本", "Japan"),
        ("US", "米国", "United States"),
        ("GB", "英国", "United Kingdom"),
        ("IE", "アイルランド", "Ireland"),
        ("DE", "ドイツ", "Germany"),
        ("FR", "フランス", "France"),
        ("NL", "オランダ", "Netherlands"),
        ("SG", "シンガポール", "Singapore"),
        ("KR", "韓国", "Republic of Korea"),
        ("CN", "中国", "China"),
        ("TW", "台湾", "Taiwan"),
        ("HK", "香港", "Hong Kong"),
        ("IN", "インド", "India"),
        ("VN", "ベトナム", "Viet Nam"),
        ("PH", "フィリピン", "Philippines"),
        ("TH", "タイ", "Thailand"),
        ("AU", "オーストラリア", "Australia"),
        ("CA", "カナダ", "Canada"),
    ];
    NAMES.iter().find(|(c, _, _)| *c == code).map_or_else(
        || code.to_owned(),
        |(_, ja, en_name)| {
            if en {
                (*en_name).to_owned()
            } else {
                (*ja).to_owned()
            }
        },
    )
}

/// The hash that names a version of the map: SHA-256 of the file's bytes, in hex.
pub fn version_hash(source: &str) -> String {
    hex::encode(Sha256::digest(source.as_bytes()))
}

/// The JSON Schema of the format (served at `/api/datamap.schema.json`).
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(DataMap)).expect("a schema serialises")
}

/// The example map of `docs/datamap.md`, kept here so tests check that it is valid.
pub const EXAMPLE: &str = include_str!("../example.toml");
