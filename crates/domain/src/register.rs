//! The third-party provision register (第三者提供記録, Arts. 29, 30; 施行規則 Arts. 19–25): one
//! record per provision of personal data to a third party and per receipt from one, what it
//! must say, and how long it is kept. Pure.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::contact::{EmailAddress, parse_phone};

/// Provided to a third party (Art. 29) or received from one (Art. 30).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// 提供 (Art. 29).
    Provided,
    /// 受領 (Art. 30).
    Received,
}

impl Direction {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Provided => "provided",
            Direction::Received => "received",
        }
    }

    /// Parses [`Direction::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "provided" => Some(Direction::Provided),
            "received" => Some(Direction::Received),
            _ => None,
        }
    }

    /// As a person reads it.
    pub fn label(self, en: bool) -> &'static str {
        match (self, en) {
            (Direction::Provided, false) => "提供",
            (Direction::Provided, true) => "Provided to",
            (Direction::Received, false) => "受領",
            (Direction::Received, true) => "Received from",
        }
    }
}

/// On what the provision rests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// The subject's consent (Art. 27(1)).
    Consent,
    /// Opt-out notified to the Commission (Art. 27(2)).
    OptOut,
    /// Consent to provision to a third party abroad (Art. 28(1)).
    ForeignConsent,
    /// Received: the provider's records say how it acquired the data.
    AsProviderStates,
}

impl Basis {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Basis::Consent => "consent",
            Basis::OptOut => "opt_out",
            Basis::ForeignConsent => "foreign_consent",
            Basis::AsProviderStates => "as_provider_states",
        }
    }

    /// Parses [`Basis::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        [
            Basis::Consent,
            Basis::OptOut,
            Basis::ForeignConsent,
            Basis::AsProviderStates,
        ]
        .into_iter()
        .find(|b| b.as_str() == s)
    }

    /// As a person reads it.
    pub fn label(self, en: bool) -> &'static str {
        match (self, en) {
            (Basis::Consent, false) => "本人の同意(法第27条第1項)",
            (Basis::Consent, true) => "the person's consent (Art. 27(1))",
            (Basis::OptOut, false) => "オプトアウト(法第27条第2項)",
            (Basis::OptOut, true) => "opt-out (Art. 27(2))",
            (Basis::ForeignConsent, false) => "外国にある第三者への提供の同意(法第28条第1項)",
            (Basis::ForeignConsent, true) => "consent to provision abroad (Art. 28(1))",
            (Basis::AsProviderStates, false) => "提供元の取得の経緯による",
            (Basis::AsProviderStates, true) => "as the provider acquired it",
        }
    }
}

/// One record of the register, as an officer or the business's system writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvisionRecord {
    /// Provided or received.
    pub direction: Direction,
    /// The date of the provision or receipt.
    pub occurred_on: NaiveDate,
    /// The recipient (provided) or provider (received): name.
    pub counterparty: String,
    /// Its address (for a corporation: required for receipts, 施行規則 Art. 24(1)(ii)).
    #[serde(default)]
    pub counterparty_address: Option<String>,
    /// Its representative, for a corporation.
    #[serde(default)]
    pub counterparty_representative: Option<String>,
    /// The person the data is about: name.
    pub subject_name: String,
    /// Their e-mail address, when known (how their requests find the record).
    #[serde(default)]
    pub subject_email: Option<String>,
    /// Their telephone number, when known.
    #[serde(default)]
    pub subject_phone: Option<String>,
    /// The items of personal data (e.g. 氏名、住所、購入履歴).
    pub items: String,
    /// On what it rests.
    pub basis: Basis,
    /// Received: how the provider acquired the data (Art. 30(1)(ii)).
    #[serde(default)]
    pub acquisition: Option<String>,
    /// How long it is kept: 1 year when made as part of a contract for goods or services to
    /// the person (施行規則 Art. 21(1)(i), 25), otherwise 3 years.
    #[serde(default = "three")]
    pub retention_years: u8,
}

fn three() -> u8 {
    3
}

/// What is wrong with a record: the field, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    /// The field's name, as the import file spells it.
    pub field: &'static str,
    /// Why, in Japanese.
    pub ja: &'static str,
    /// Why, in English.
    pub en: &'static str,
}

impl RecordError {
    /// Why, in the reader's language.
    pub fn problem(&self, en: bool) -> &'static str {
        if en { self.en } else { self.ja }
    }
}

/// The Japanese of each problem [`ProvisionRecord::check`] states in English.
fn japanese(en: &str) -> &'static str {
    match en {
        "is in the future" => "未来の日付です",
        "must be 1 to 500 characters on one line" => "1行で500文字以内で入力してください",
        "must name the items, up to 500 characters" => {
            "提供した項目を500文字以内で入力してください"
        }
        "is longer than 500 characters or holds control characters" => {
            "500文字以内で、制御文字を含めずに入力してください"
        }
        "is not an e-mail address" => "メールアドレスの形式ではありません",
        "is not a telephone number" => "電話番号の形式ではありません",
        "a receipt must say how the provider acquired the data" => {
            "受領の記録には提供元の取得の経緯が必要です"
        }
        "a receipt must give the provider's address" => "受領の記録には提供元の住所が必要です",
        "a provision rests on consent, opt-out or foreign consent" => {
            "提供の根拠は consent、opt_out、foreign_consent のいずれかです"
        }
        "must be 1 or 3" => "1 か 3 を入力してください",
        _ => "本人からの請求で記録を探せるよう、メールアドレスか電話番号を入力してください",
    }
}

const MAX_TEXT: usize = 500;

impl ProvisionRecord {
    /// Every problem with the record, given today's date (JST).
    pub fn check(&self, today: NaiveDate) -> Vec<RecordError> {
        let mut out = Vec::new();
        let mut bad = |field, en: &'static str| {
            out.push(RecordError {
                field,
                ja: japanese(en),
                en,
            })
        };
        let text = |s: &str| !s.trim().is_empty() && s.chars().count() <= MAX_TEXT;
        let clean = |s: &str| !s.chars().any(|c| c.is_control() && c != '\n');
        if self.occurred_on > today {
            bad("occurred_on", "is in the future");
        }
        if !text(&self.counterparty) || !clean(&self.counterparty) {
            bad("counterparty", "must be 1 to 500 characters on one line");
        }
        if !text(&self.subject_name) || !clean(&self.subject_name) {
            bad("subject_name", "must be 1 to 500 characters on one line");
        }
        if !text(&self.items) || !clean(&self.items) {
            bad("items", "must name the items, up to 500 characters");
        }
        for (field, v) in [
            ("counterparty_address", &self.counterparty_address),
            (
                "counterparty_representative",
                &self.counterparty_representative,
            ),
            ("acquisition", &self.acquisition),
        ] {
            if v.as_deref()
                .is_some_and(|s| s.chars().count() > MAX_TEXT || !clean(s))
            {
                bad(
                    field,
                    "is longer than 500 characters or holds control characters",
                );
            }
        }
        let email = self
            .subject_email
            .as_deref()
            .filter(|s| !s.trim().is_empty());
        let phone = self
            .subject_phone
            .as_deref()
            .filter(|s| !s.trim().is_empty());
        if email.is_some_and(|e| EmailAddress::parse(e).is_err()) {
            bad("subject_email", "is not an e-mail address");
        }
        if phone.is_some_and(|p| parse_phone(p).is_err()) {
            bad("subject_phone", "is not a telephone number");
        }
        if email.is_none() && phone.is_none() {
            bad(
                "subject_email",
                "give the person's e-mail address or telephone number, so their requests find the record",
            );
        }
        match self.direction {
            Direction::Received => {
                if self
                    .acquisition
                    .as_deref()
                    .is_none_or(|a| a.trim().is_empty())
                {
                    bad(
                        "acquisition",
                        "a receipt must say how the provider acquired the data",
                    );
                }
                if self
                    .counterparty_address
                    .as_deref()
                    .is_none_or(|a| a.trim().is_empty())
                {
                    bad(
                        "counterparty_address",
                        "a receipt must give the provider's address",
                    );
                }
            }
            Direction::Provided => {
                if self.basis == Basis::AsProviderStates {
                    bad(
                        "basis",
                        "a provision rests on consent, opt-out or foreign consent",
                    );
                }
            }
        }
        if !matches!(self.retention_years, 1 | 3) {
            bad("retention_years", "must be 1 or 3");
        }
        out
    }

    /// The last day it is kept: `retention_years` from the day the record was made (規則
    /// 21条・25条 count from the record's making), which is never before the provision itself
    /// (29 February falls to 28 February).
    pub fn retain_until(&self, recorded_on: NaiveDate) -> NaiveDate {
        let from = self.occurred_on.max(recorded_on);
        let year = from.year() + i32::from(self.retention_years);
        NaiveDate::from_ymd_opt(year, from.month(), from.day())
            .or_else(|| NaiveDate::from_ymd_opt(year, from.month(), 28))
            .expect("the 28th exists in every month")
    }

    /// The normalised e-mail address (for the blind index), when given.
    pub fn email_normalized(&self) -> Option<String> {
        self.subject_email
            .as_deref()
            .and_then(|e| EmailAddress::parse(e).ok())
            .map(|e| e.normalized())
    }

    /// The telephone number's digits (for the blind index), when given.
    pub fn phone_digits(&self) -> Option<String> {
        phone_digits(self.subject_phone.as_deref()?)
    }

    /// One line for the answer to an Art. 33(5) request, in the person's language.
    pub fn answer_line(&self, en: bool) -> String {
        let date = if en {
            self.occurred_on.format("%Y-%m-%d").to_string()
        } else {
            self.occurred_on.format("%Y年%-m月%-d日").to_string()
        };
        format!(
            "{date} {} {}: {}",
            self.direction.label(en),
            self.counterparty.trim(),
            self.items.trim()
        )
    }
}

/// The digits of a telephone number (what its blind index is made of), when it is one.
pub fn phone_digits(input: &str) -> Option<String> {
    parse_phone(input)
        .ok()
        .map(|p| p.chars().filter(char::is_ascii_digit).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> ProvisionRecord {
        ProvisionRecord {
            direction: Direction::Provided,
            occurred_on: NaiveDate::from_ymd_opt(2024, 2, 29).unwrap(),
            counterparty: "ヤマト運輸株式会社".into(),
            counterparty_address: None,
            counterparty_representative: None,
            subject_name: "山田花子".into(),
            subject_email: Some("Hanako@Example.jp".into()),
            subject_phone: None,
            items: "氏名、住所".into(),
            basis: Basis::Consent,
            acquisition: None,
            retention_years: 3,
        }
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()
    }

    #[test]
    fn a_complete_provision_is_accepted_and_kept_three_years() {
        assert_eq!(record().check(today()), vec![]);
        // Recorded the same day: 2024-02-29 + 3 years, and 2027 has no 29 February.
        let same_day = NaiveDate::from_ymd_opt(2024, 2, 29).unwrap();
        assert_eq!(
            record().retain_until(same_day),
            NaiveDate::from_ymd_opt(2027, 2, 28).unwrap()
        );
        // Recorded later (imported today): counted from the day it was recorded.
        assert_eq!(
            record().retain_until(today()),
            NaiveDate::from_ymd_opt(2029, 12, 1).unwrap()
        );
        let one = ProvisionRecord {
            retention_years: 1,
            occurred_on: NaiveDate::from_ymd_opt(2026, 4, 1).unwrap(),
            ..record()
        };
        assert_eq!(
            one.retain_until(NaiveDate::from_ymd_opt(2026, 4, 1).unwrap()),
            NaiveDate::from_ymd_opt(2027, 4, 1).unwrap()
        );
        assert_eq!(
            record().email_normalized().as_deref(),
            Some("hanako@example.jp")
        );
    }

    #[test]
    fn each_missing_or_wrong_part_is_named() {
        let fields = |r: ProvisionRecord| -> Vec<&'static str> {
            r.check(today()).into_iter().map(|e| e.field).collect()
        };
        assert_eq!(
            fields(ProvisionRecord {
                occurred_on: NaiveDate::from_ymd_opt(2026, 12, 2).unwrap(),
                ..record()
            }),
            ["occurred_on"]
        );
        assert_eq!(
            fields(ProvisionRecord {
                subject_email: None,
                ..record()
            }),
            ["subject_email"]
        );
        assert_eq!(
            fields(ProvisionRecord {
                subject_email: Some("not an address".into()),
                subject_phone: Some("12".into()),
                ..record()
            }),
            ["subject_email", "subject_phone"]
        );
        assert_eq!(
            fields(ProvisionRecord {
                direction: Direction::Received,
                ..record()
            }),
            ["acquisition", "counterparty_address"]
        );
        assert_eq!(
            fields(ProvisionRecord {
                basis: Basis::AsProviderStates,
                retention_years: 2,
                items: " ".into(),
                counterparty: "a\u{7}b".into(),
                ..record()
            }),
            ["counterparty", "items", "basis", "retention_years"]
        );
    }

    #[test]
    fn the_answer_line_reads_as_a_letter_does() {
        assert_eq!(
            record().answer_line(false),
            "2024年2月29日 提供 ヤマト運輸株式会社: 氏名、住所"
        );
        assert_eq!(
            record().answer_line(true),
            "2024-02-29 Provided to ヤマト運輸株式会社: 氏名、住所"
        );
        assert_eq!(phone_digits("03-1234-5678").as_deref(), Some("0312345678"));
    }
}
