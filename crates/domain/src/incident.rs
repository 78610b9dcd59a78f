//! Breaches (漏えい等, APPI Art. 26; 施行規則 7–10): whether an incident must be reported to
//! the Personal Information Protection Commission and by when. Pure: from the facts an
//! officer records.
//!
//! - Reportable (規則7) when personal data leaked, was lost or damaged, or may have been, and
//!   (1) special-care data (要配慮個人情報) is involved, (2) misuse could cause financial
//!   damage, (3) it may have been done for an unlawful purpose (unauthorised access, an
//!   insider taking it) — each from one person — or (4) more than 1,000 people are involved.
//!   Data protected by advanced encryption (高度な暗号化その他の個人の権利利益を保護するために
//!   必要な措置) is not reportable.
//! - 速報 (規則8(1)): promptly; the PPC's guidelines read that as about three to five days from
//!   becoming aware. 確報 (規則8(2)): within 30 days of becoming aware, 60 days for (3).
//!   Counted as the guidelines count them: the day the business became aware is day 1, and
//!   weekends and holidays count (no move to the next business day).
//! - A processor (委託先) is released from reporting when it tells the business that entrusted
//!   it (規則9): its register then tracks that notice, due as the 速報 would be.

use chrono::{Duration, NaiveDate};

/// What an officer records about an incident, as far as it is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentFacts {
    /// The day the business became aware (知った日).
    pub aware_on: NaiveDate,
    /// Special-care data (要配慮個人情報) involved.
    pub special_care: bool,
    /// Misuse could cause financial damage (card numbers, bank credentials).
    pub financial_risk: bool,
    /// It may have been done for an unlawful purpose.
    pub unlawful_intent: bool,
    /// People involved, known or estimated.
    pub people: u32,
    /// The data was protected by advanced encryption or a like measure.
    pub protected: bool,
    /// Handled for another business (委託先): that business is told instead of the PPC.
    pub entrusted_by: Option<String>,
}

/// Why an incident is reportable (規則7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Criterion {
    /// 規則7(1).
    SpecialCare,
    /// 規則7(2).
    FinancialDamage,
    /// 規則7(3).
    UnlawfulPurpose,
    /// 規則7(4).
    OverThousand,
}

impl Criterion {
    /// The criterion in words, citing the rule.
    pub fn label(self, en: bool) -> &'static str {
        let (ja, en_words) = match self {
            Criterion::SpecialCare => (
                "要配慮個人情報が含まれる（規則第7条第1号）",
                "Special-care data involved (Rules Art. 7(1))",
            ),
            Criterion::FinancialDamage => (
                "不正に利用されることにより財産的被害が生じるおそれがある（規則第7条第2号）",
                "Misuse could cause financial damage (Rules Art. 7(2))",
            ),
            Criterion::UnlawfulPurpose => (
                "不正の目的をもって行われたおそれがある（規則第7条第3号）",
                "May have been done for an unlawful purpose (Rules Art. 7(3))",
            ),
            Criterion::OverThousand => (
                "本人の数が1,000人を超える（規則第7条第4号）",
                "More than 1,000 people (Rules Art. 7(4))",
            ),
        };
        if en { en_words } else { ja }
    }
}

/// Who the business must tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportTo {
    /// Nobody: not reportable (still recorded, and the people may still be told).
    Nobody,
    /// The Personal Information Protection Commission (or the ministry it delegated to).
    Commission,
    /// The business that entrusted the data (規則9): the processor's duty ends with that notice.
    Entruster(String),
}

/// What the rules make of the facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    /// The criteria met (empty: not reportable).
    pub criteria: Vec<Criterion>,
    /// Met, but the data was protected: not reportable.
    pub exempt: bool,
    /// Who is told.
    pub report_to: ReportTo,
    /// The 速報 (or the notice to the entruster) should go by this day (day 3)...
    pub prelim_target: Option<NaiveDate>,
    /// ...and at the latest by this day (day 5).
    pub prelim_due: Option<NaiveDate>,
    /// The 確報 by this day (day 30, or day 60 for an unlawful purpose); none for a processor,
    /// whose duty ends with the notice.
    pub final_due: Option<NaiveDate>,
    /// The people must be told (Art. 26(2)): whenever it is reportable to the Commission (a
    /// processor that told the business entrusting it is released: the entruster tells them).
    pub notify_people: bool,
}

impl Assessment {
    /// Whether the incident must be reported (to the Commission or the entruster).
    pub fn reportable(&self) -> bool {
        self.report_to != ReportTo::Nobody
    }
}

/// Day `n` counting the day of awareness as day 1.
fn day(aware_on: NaiveDate, n: i64) -> NaiveDate {
    aware_on + Duration::days(n - 1)
}

/// The rules applied to the facts.
pub fn assess(f: &IncidentFacts) -> Assessment {
    let mut criteria = Vec::new();
    if f.special_care {
        criteria.push(Criterion::SpecialCare);
    }
    if f.financial_risk {
        criteria.push(Criterion::FinancialDamage);
    }
    if f.unlawful_intent {
        criteria.push(Criterion::UnlawfulPurpose);
    }
    if f.people > 1000 {
        criteria.push(Criterion::OverThousand);
    }
    let exempt = !criteria.is_empty() && f.protected;
    let report_to = if criteria.is_empty() || exempt {
        ReportTo::Nobody
    } else if let Some(entruster) = &f.entrusted_by {
        ReportTo::Entruster(entruster.clone())
    } else {
        ReportTo::Commission
    };
    let reportable = report_to != ReportTo::Nobody;
    let final_due = (report_to == ReportTo::Commission)
        .then(|| day(f.aware_on, if f.unlawful_intent { 60 } else { 30 }));
    Assessment {
        prelim_target: reportable.then(|| day(f.aware_on, 3)),
        prelim_due: reportable.then(|| day(f.aware_on, 5)),
        final_due,
        notify_people: report_to == ReportTo::Commission,
        criteria,
        exempt,
        report_to,
    }
}

/// The most people an incident may name: more than everyone in Japan is a typing slip.
pub const MAX_PEOPLE: u32 = 100_000_000;

/// A number of people as an officer types it: full-width digits and thousands separators
/// (`1,200`, `１，２００`) read; `None` for anything else or above [`MAX_PEOPLE`].
pub fn parse_people(typed: &str) -> Option<u32> {
    use unicode_normalization::UnicodeNormalization;
    let digits: String = typed.nfkc().filter(|c| *c != ',').collect();
    let digits = digits.trim();
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u32>().ok().filter(|n| *n <= MAX_PEOPLE)
}

/// The items a report to the Commission carries (規則8(1)), in the order of its form.
pub const REPORT_ITEMS: [(&str, &str, &str); 9] = [
    ("summary", "概要", "Summary"),
    (
        "items",
        "漏えい等が発生し、又は発生したおそれがある個人データの項目",
        "The personal data items involved",
    ),
    (
        "people",
        "漏えい等が発生し、又は発生したおそれがある個人データに係る本人の数",
        "The number of people involved",
    ),
    ("cause", "原因", "Cause"),
    (
        "secondary",
        "二次被害又はそのおそれの有無及びその内容",
        "Secondary damage, or its risk, and what it is",
    ),
    (
        "response",
        "本人への対応の実施状況",
        "What was done for the people involved",
    ),
    ("publication", "公表の実施状況", "Publication"),
    (
        "prevention",
        "再発防止のための措置",
        "Measures against recurrence",
    ),
    ("other", "その他参考となる事項", "Other relevant matters"),
];

/// The report's items the people are told (規則10: 規則8(1)の第1号 概要, 第2号 項目, 第4号 原因,
/// 第5号 二次被害, 第9号 その他), by key in [`REPORT_ITEMS`].
pub const NOTICE_ITEMS: [&str; 5] = ["summary", "items", "cause", "secondary", "other"];

/// The items a notice cannot go without (規則10: 概要, 項目, 原因, 二次被害 — say 「なし」 where
/// there is none); その他 may be empty.
pub const NOTICE_REQUIRED: [&str; 4] = ["summary", "items", "cause", "secondary"];

/// The required items a report still lacks (empty or blank), by key in [`NOTICE_REQUIRED`]'s
/// order: no notice goes while any is missing.
pub fn missing_notice_items<'a>(text_of: impl Fn(&str) -> Option<&'a str>) -> Vec<&'static str> {
    NOTICE_REQUIRED
        .into_iter()
        .filter(|k| text_of(k).is_none_or(|t| t.trim().is_empty()))
        .collect()
}

/// The most people one import takes.
pub const MAX_AFFECTED: usize = 10_000;

/// A person an incident involves, to be told (Art. 26(2)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AffectedPerson {
    /// Their name, as the letter or mail addresses them.
    pub name: String,
    /// Told by mail where there is one...
    pub email: Option<crate::EmailAddress>,
    /// ...else by a letter to this address.
    pub postal_address: Option<String>,
}

/// Why a person's line cannot be taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PersonProblem {
    /// No name, or one over 100 characters or several lines.
    Name,
    /// An e-mail address that is not one.
    Email,
    /// A postal address over 300 characters or several lines.
    PostalAddress,
    /// Neither an e-mail nor a postal address: the person cannot be told (publish instead).
    NoAddress,
}

impl PersonProblem {
    /// In words, naming the column.
    pub fn words(self, en: bool) -> &'static str {
        match (self, en) {
            (PersonProblem::Name, false) => "name: 氏名を1行、100文字以内で入力してください",
            (PersonProblem::Name, true) => "name: one line of at most 100 characters",
            (PersonProblem::Email, false) => "email: メールアドレスの形ではありません",
            (PersonProblem::Email, true) => "email: not an e-mail address",
            (PersonProblem::PostalAddress, false) => {
                "postal_address: 住所を1行、300文字以内で入力してください"
            }
            (PersonProblem::PostalAddress, true) => {
                "postal_address: one line of at most 300 characters"
            }
            (PersonProblem::NoAddress, false) => {
                "email か postal_address のどちらかが必要です（通知できない方は公表で代えます）"
            }
            (PersonProblem::NoAddress, true) => {
                "email or postal_address is needed (people who cannot be told are covered by publication)"
            }
        }
    }
}

/// A person's line checked: every problem, or the person.
pub fn affected_person(
    name: &str,
    email: &str,
    postal_address: &str,
) -> Result<AffectedPerson, Vec<PersonProblem>> {
    // One line of text a mail or a letter can carry: no control character, no bidi override
    // (which would reorder what the person reads).
    let one_line = |s: &str, max: usize| {
        let s = s.trim();
        let clean = !s.chars().any(|c| {
            c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        });
        (!s.is_empty() && s.chars().count() <= max && clean).then(|| s.to_owned())
    };
    let mut problems = Vec::new();
    let name = one_line(name, 100);
    if name.is_none() {
        problems.push(PersonProblem::Name);
    }
    let email = if email.trim().is_empty() {
        None
    } else {
        let parsed = crate::EmailAddress::parse(email).ok();
        if parsed.is_none() {
            problems.push(PersonProblem::Email);
        }
        parsed
    };
    let postal = if postal_address.trim().is_empty() {
        None
    } else {
        let p = one_line(postal_address, 300);
        if p.is_none() {
            problems.push(PersonProblem::PostalAddress);
        }
        p
    };
    if email.is_none() && postal.is_none() && problems.is_empty() {
        problems.push(PersonProblem::NoAddress);
    }
    match name {
        Some(name) if problems.is_empty() => Ok(AffectedPerson {
            name,
            email,
            postal_address: postal,
        }),
        _ => Err(problems),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn facts() -> IncidentFacts {
        IncidentFacts {
            aware_on: d(2026, 12, 1),
            special_care: false,
            financial_risk: false,
            unlawful_intent: false,
            people: 12,
            protected: false,
            entrusted_by: None,
        }
    }

    #[test]
    fn an_affected_person_needs_a_name_and_a_way_to_be_told() {
        let ok = affected_person(" 山田 花子 ", "hanako@example.jp", "").unwrap();
        assert_eq!(ok.name, "山田 花子");
        assert_eq!(ok.email.unwrap().as_str(), "hanako@example.jp");
        assert_eq!(ok.postal_address, None);
        let by_post = affected_person("山田 花子", "", "〒100-0001 東京都千代田区1-1").unwrap();
        assert_eq!(
            by_post.postal_address.as_deref(),
            Some("〒100-0001 東京都千代田区1-1")
        );
        assert_eq!(
            affected_person("山田 花子", "", ""),
            Err(vec![PersonProblem::NoAddress])
        );
        assert_eq!(
            affected_person("", "hanako@", "東京\n千代田"),
            Err(vec![
                PersonProblem::Name,
                PersonProblem::Email,
                PersonProblem::PostalAddress
            ])
        );
        assert_eq!(
            affected_person(&"名".repeat(101), "a@example.jp", ""),
            Err(vec![PersonProblem::Name])
        );
        // A tab or a bidi override is refused too (a letter would print it as it came).
        assert_eq!(
            affected_person("山田\t花子", "a@example.jp", "東京都\u{202e}区"),
            Err(vec![PersonProblem::Name, PersonProblem::PostalAddress])
        );
        for k in NOTICE_REQUIRED {
            assert!(NOTICE_ITEMS.contains(&k), "{k}");
        }
        // A blank item is missing; その他 is not required.
        let report = |k: &str| match k {
            "summary" => Some("概要"),
            "items" => Some("  "),
            "other" => Some("その他"),
            _ => None,
        };
        assert_eq!(
            missing_notice_items(report),
            ["items", "cause", "secondary"]
        );
        // Every item told is an item of the report.
        for k in NOTICE_ITEMS {
            assert!(REPORT_ITEMS.iter().any(|(key, _, _)| *key == k), "{k}");
        }
    }

    #[test]
    fn people_are_read_as_typed() {
        for (typed, n) in [
            ("1,200", Some(1200)),
            ("１，２００", Some(1200)),
            (" 12 ", Some(12)),
            ("0", Some(0)),
            ("100000000", Some(100_000_000)),
        ] {
            assert_eq!(parse_people(typed), n, "{typed:?}");
        }
        for bad in ["", "約100", "-1", "+5", "100000001", "4294967296", "1.5"] {
            assert_eq!(parse_people(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn twelve_people_and_nothing_else_is_recorded_not_reported() {
        let a = assess(&facts());
        assert!(!a.reportable());
        assert!(a.criteria.is_empty());
        assert_eq!((a.prelim_due, a.final_due), (None, None));
        assert!(!a.notify_people);
    }

    #[test]
    fn one_person_is_enough_for_the_first_three_criteria_and_1001_for_the_fourth() {
        for (f, c) in [
            (
                IncidentFacts {
                    special_care: true,
                    people: 1,
                    ..facts()
                },
                Criterion::SpecialCare,
            ),
            (
                IncidentFacts {
                    financial_risk: true,
                    people: 1,
                    ..facts()
                },
                Criterion::FinancialDamage,
            ),
            (
                IncidentFacts {
                    unlawful_intent: true,
                    people: 1,
                    ..facts()
                },
                Criterion::UnlawfulPurpose,
            ),
            (
                IncidentFacts {
                    people: 1001,
                    ..facts()
                },
                Criterion::OverThousand,
            ),
        ] {
            let a = assess(&f);
            assert_eq!(a.criteria, vec![c]);
            assert_eq!(a.report_to, ReportTo::Commission);
            assert!(a.notify_people);
        }
        // "More than 1,000": exactly 1,000 is not.
        assert!(
            !assess(&IncidentFacts {
                people: 1000,
                ..facts()
            })
            .reportable()
        );
    }

    #[test]
    fn the_final_report_is_due_on_day_30_or_day_60_for_an_unlawful_purpose() {
        // Aware on 1 December: day 1 is 1 December, day 30 is 30 December, day 60 is
        // 29 January; the 速報 is aimed at day 3 (3 December) and due by day 5 (5 December).
        let a = assess(&IncidentFacts {
            special_care: true,
            ..facts()
        });
        assert_eq!(a.prelim_target, Some(d(2026, 12, 3)));
        assert_eq!(a.prelim_due, Some(d(2026, 12, 5)));
        assert_eq!(a.final_due, Some(d(2026, 12, 30)));
        let a = assess(&IncidentFacts {
            unlawful_intent: true,
            special_care: true,
            ..facts()
        });
        assert_eq!(a.final_due, Some(d(2027, 1, 29)));
    }

    #[test]
    fn a_preliminary_window_over_a_weekend_is_not_moved() {
        // Aware on Friday 4 December 2026: day 3 is Sunday the 6th and day 5 Tuesday the
        // 8th; weekends count, so neither moves to a business day.
        let a = assess(&IncidentFacts {
            aware_on: d(2026, 12, 4),
            financial_risk: true,
            ..facts()
        });
        assert_eq!(a.prelim_target, Some(d(2026, 12, 6)));
        assert_eq!(a.prelim_due, Some(d(2026, 12, 8)));
        // Over the new year holidays the 確報 is not moved either: aware 2 December, day 30
        // is 31 December.
        let a = assess(&IncidentFacts {
            aware_on: d(2026, 12, 2),
            financial_risk: true,
            ..facts()
        });
        assert_eq!(a.final_due, Some(d(2026, 12, 31)));
    }

    #[test]
    fn protected_data_is_exempt_and_a_processor_tells_its_entruster() {
        let a = assess(&IncidentFacts {
            special_care: true,
            protected: true,
            ..facts()
        });
        assert!(a.exempt);
        assert!(!a.reportable());
        let a = assess(&IncidentFacts {
            people: 5000,
            entrusted_by: Some("株式会社アスター".into()),
            ..facts()
        });
        assert_eq!(a.report_to, ReportTo::Entruster("株式会社アスター".into()));
        assert_eq!(a.prelim_due, Some(d(2026, 12, 5)));
        assert_eq!(
            a.final_due, None,
            "the processor's duty ends with the notice"
        );
        assert!(
            !a.notify_people,
            "the entruster tells the people (Art. 26(2))"
        );
    }
}
