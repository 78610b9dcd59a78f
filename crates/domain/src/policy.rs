//! Jurisdiction policies: deadlines, extensions, clock pauses, identity method and timeouts.
//!
//! A request keeps a snapshot of the policy it was filed under, so that a later settings
//! change never moves the deadline of a request already in the queue.

use chrono::{DateTime, Datelike, Days, FixedOffset, Months, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::holidays::is_non_business_day;
use crate::kind::RequestKind;

/// Japan has no daylight saving time, so Japan Standard Time is a fixed +09:00.
pub fn jst() -> FixedOffset {
    FixedOffset::east_opt(9 * 3600).expect("+09:00 is a valid offset")
}

/// The calendar date in Japan at an instant.
pub fn jst_date(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&jst()).date_naive()
}

/// A date as people read it: `2026年12月10日`, or `10 December 2026` in English.
pub fn written_date(d: NaiveDate, en: bool) -> String {
    if en {
        d.format("%-d %B %Y").to_string()
    } else {
        d.format("%Y年%-m月%-d日").to_string()
    }
}

/// A moment as people write it, in Japan time: 「2026年12月4日（金）19時31分」 or
/// "Fri 4 December 2026, 19:31 (Japan time)".
pub fn written_time(t: DateTime<Utc>, en: bool) -> String {
    let local = t.with_timezone(&jst());
    if en {
        local.format("%a %-d %B %Y, %H:%M (Japan time)").to_string()
    } else {
        const DAYS: [&str; 7] = ["月", "火", "水", "木", "金", "土", "日"];
        let day = DAYS[local.weekday().num_days_from_monday() as usize];
        format!(
            "{}（{day}）{}",
            local.format("%Y年%-m月%-d日"),
            local.format("%-H時%M分")
        )
    }
}

/// The legal regime whose deadlines apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Jurisdiction {
    /// 個人情報保護法 (Japan).
    Appi,
    /// EU General Data Protection Regulation.
    Gdpr,
    /// California Consumer Privacy Act as amended by the CPRA.
    Ccpa,
}

impl Jurisdiction {
    /// Every jurisdiction.
    pub const ALL: [Jurisdiction; 3] = [Jurisdiction::Appi, Jurisdiction::Gdpr, Jurisdiction::Ccpa];

    /// Stable identifier.
    pub fn as_str(self) -> &'static str {
        match self {
            Jurisdiction::Appi => "appi",
            Jurisdiction::Gdpr => "gdpr",
            Jurisdiction::Ccpa => "ccpa",
        }
    }

    /// Parses [`Jurisdiction::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|j| j.as_str() == s)
    }
}

/// A span of time used for deadlines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "unit", content = "n", rename_all = "snake_case")]
pub enum Period {
    /// Calendar days.
    Days(u32),
    /// Business days: skips Saturdays, Sundays and Japanese public holidays.
    BusinessDays(u32),
    /// Calendar months; the same date n months later, or that month's last day.
    Months(u32),
}

impl Period {
    /// The date `self` after `from`.
    pub fn after(self, from: NaiveDate) -> NaiveDate {
        match self {
            Period::Days(n) => from
                .checked_add_days(Days::new(u64::from(n)))
                .unwrap_or(NaiveDate::MAX),
            Period::BusinessDays(n) => add_business_days(from, n),
            Period::Months(n) => from
                .checked_add_months(Months::new(n))
                .unwrap_or(NaiveDate::MAX),
        }
    }
}

fn add_business_days(from: NaiveDate, n: u32) -> NaiveDate {
    let mut day = from;
    let mut left = n;
    while left > 0 {
        let Some(next) = day.succ_opt() else {
            return NaiveDate::MAX;
        };
        day = next;
        if !is_non_business_day(day) {
            left -= 1;
        }
    }
    day
}

/// When a request must be answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadlineRule {
    /// Time to answer, counted from the date of arrival in Japan time.
    pub period: Period,
    /// One extension the officer may take, with notice to the subject.
    pub extension: Option<Period>,
    /// Whether time spent waiting for the subject moves the due date back.
    pub pause_while_waiting: bool,
}

/// How a subject proves who they are (本人確認).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityMethod {
    /// Confirming the contact e-mail is enough.
    EmailOnly,
    /// Matched against the business's own customer records.
    CustomerRecord,
    /// An uploaded identity document reviewed by an officer.
    Document,
}

impl IdentityMethod {
    /// Every method.
    pub const ALL: [IdentityMethod; 3] = [
        IdentityMethod::EmailOnly,
        IdentityMethod::CustomerRecord,
        IdentityMethod::Document,
    ];

    /// Stable identifier.
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityMethod::EmailOnly => "email_only",
            IdentityMethod::CustomerRecord => "customer_record",
            IdentityMethod::Document => "document",
        }
    }

    /// The method, in words.
    pub fn label(self, en: bool) -> &'static str {
        match (self, en) {
            (IdentityMethod::EmailOnly, false) => "メールアドレスの確認",
            (IdentityMethod::EmailOnly, true) => "Confirmed e-mail address",
            (IdentityMethod::CustomerRecord, false) => "顧客情報との照合",
            (IdentityMethod::CustomerRecord, true) => "Matched against customer records",
            (IdentityMethod::Document, false) => "本人確認書類",
            (IdentityMethod::Document, true) => "Identity document",
        }
    }

    /// Parses [`IdentityMethod::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// Identity methods set for single kinds, overriding [`Policy::identity`]. A fixed struct
/// rather than a map keeps [`Policy`] `Copy`; unset kinds are left out of the JSON snapshot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityByKind {
    /// 開示 (Art. 33(1)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disclosure: Option<IdentityMethod>,
    /// 第三者提供記録の開示 (Art. 33(5)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub third_party_record_disclosure: Option<IdentityMethod>,
    /// 利用目的の通知 (Art. 32(2)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose_notification: Option<IdentityMethod>,
    /// 訂正・追加・削除 (Art. 34).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correction: Option<IdentityMethod>,
    /// 利用停止・消去 (Art. 35(1),(5)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspension_or_erasure: Option<IdentityMethod>,
    /// 第三者提供の停止 (Art. 35(3),(5)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub third_party_stop: Option<IdentityMethod>,
}

impl IdentityByKind {
    /// The method set for `kind`, if any.
    pub fn get(&self, kind: RequestKind) -> Option<IdentityMethod> {
        *self.slot(kind)
    }

    /// Sets (or clears) the method for `kind`.
    pub fn set(&mut self, kind: RequestKind, method: Option<IdentityMethod>) {
        *self.slot_mut(kind) = method;
    }

    fn slot(&self, kind: RequestKind) -> &Option<IdentityMethod> {
        match kind {
            RequestKind::Disclosure => &self.disclosure,
            RequestKind::ThirdPartyRecordDisclosure => &self.third_party_record_disclosure,
            RequestKind::PurposeNotification => &self.purpose_notification,
            RequestKind::Correction => &self.correction,
            RequestKind::SuspensionOrErasure => &self.suspension_or_erasure,
            RequestKind::ThirdPartyStop => &self.third_party_stop,
        }
    }

    fn slot_mut(&mut self, kind: RequestKind) -> &mut Option<IdentityMethod> {
        match kind {
            RequestKind::Disclosure => &mut self.disclosure,
            RequestKind::ThirdPartyRecordDisclosure => &mut self.third_party_record_disclosure,
            RequestKind::PurposeNotification => &mut self.purpose_notification,
            RequestKind::Correction => &mut self.correction,
            RequestKind::SuspensionOrErasure => &mut self.suspension_or_erasure,
            RequestKind::ThirdPartyStop => &mut self.third_party_stop,
        }
    }

    fn is_empty(&self) -> bool {
        RequestKind::ALL.into_iter().all(|k| self.get(k).is_none())
    }
}

/// The rules a request is handled under, snapshotted when it is filed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// The legal regime.
    pub jurisdiction: Jurisdiction,
    /// The answer deadline.
    pub deadline: DeadlineRule,
    /// How identity is proven, unless `identity_by_kind` says otherwise for a kind.
    pub identity: IdentityMethod,
    /// Per-kind identity methods (requests filed before this setting existed read none).
    #[serde(default, skip_serializing_if = "IdentityByKind::is_empty")]
    pub identity_by_kind: IdentityByKind,
    /// Hours the e-mail confirmation link stays valid.
    pub confirm_within_hours: u32,
    /// Days the subject has to answer a request for evidence, information or payment.
    pub answer_within_days: u32,
    /// Whether a fee is refunded when the request is withdrawn or refused before work starts.
    pub refund_before_work: bool,
    /// How long before the subject's turn runs out they are reminded (requests filed before
    /// this setting existed read the default).
    #[serde(default = "default_warning_hours")]
    pub warn_before_expiry_hours: u32,
}

fn default_warning_hours() -> u32 {
    DEFAULT_WARNING_HOURS
}

/// Three days: long enough to find a document or make a transfer.
pub const DEFAULT_WARNING_HOURS: u32 = 72;

impl Policy {
    /// APPI: answer 遅滞なく; the default target is 14 calendar days from arrival, aligned with
    /// the Art. 39 two-week bar, with the clock paused while the subject is asked for something.
    pub fn appi() -> Self {
        Policy {
            jurisdiction: Jurisdiction::Appi,
            deadline: DeadlineRule {
                period: Period::Days(14),
                extension: None,
                pause_while_waiting: true,
            },
            identity: IdentityMethod::Document,
            identity_by_kind: IdentityByKind::default(),
            confirm_within_hours: 72,
            answer_within_days: 30,
            refund_before_work: true,
            warn_before_expiry_hours: DEFAULT_WARNING_HOURS,
        }
    }

    /// GDPR Art. 12(3): one month, extendable by two more with notice; the clock runs.
    pub fn gdpr() -> Self {
        Policy {
            jurisdiction: Jurisdiction::Gdpr,
            deadline: DeadlineRule {
                period: Period::Months(1),
                extension: Some(Period::Months(2)),
                pause_while_waiting: false,
            },
            ..Policy::appi()
        }
    }

    /// CCPA/CPRA §7021(b): 45 days, extendable by 45; verification does not pause the clock.
    pub fn ccpa() -> Self {
        Policy {
            jurisdiction: Jurisdiction::Ccpa,
            deadline: DeadlineRule {
                period: Period::Days(45),
                extension: Some(Period::Days(45)),
                pause_while_waiting: false,
            },
            ..Policy::appi()
        }
    }

    /// The default policy of a jurisdiction.
    pub fn for_jurisdiction(j: Jurisdiction) -> Self {
        match j {
            Jurisdiction::Appi => Policy::appi(),
            Jurisdiction::Gdpr => Policy::gdpr(),
            Jurisdiction::Ccpa => Policy::ccpa(),
        }
    }

    /// The identity method for a kind: the one set for that kind, else the policy's default.
    pub fn identity_for(&self, kind: RequestKind) -> IdentityMethod {
        self.identity_by_kind.get(kind).unwrap_or(self.identity)
    }
}

/// Full years of age on `on` for someone born on `born`, counted as Japanese law does
/// (年齢計算ニ関スル法律, 民法 143 条): a year is complete at the end of the day before the
/// birthday, so a person is a year older on their birthday, and someone born on 29 February
/// becomes a year older on 1 March in common years. `None` for a birth date after `on`.
pub fn age_on(born: NaiveDate, on: NaiveDate) -> Option<u32> {
    if born > on {
        return None;
    }
    let mut years = on.year() - born.year();
    if (on.month(), on.day()) < (born.month(), born.day()) {
        years -= 1;
    }
    u32::try_from(years).ok()
}

/// Whether someone born on `born` had reached `minor_age` (the age of majority: 18 in Japan
/// since April 2022) on the Japan date of `at`. `false` for a birth date after that day.
pub fn is_adult_at(born: NaiveDate, at: DateTime<Utc>, minor_age: u32) -> bool {
    age_on(born, jst_date(at)).is_some_and(|age| age >= minor_age)
}

/// The subject's age on arrival when a legal representative filed for someone already of age:
/// a parent is 法定代理人 of a minor only, so the officer is warned (and decides; a guardian
/// acts for an adult). `None` in every other case.
pub fn represented_adult_age(
    requester: crate::kind::Requester,
    born: Option<NaiveDate>,
    arrived_at: DateTime<Utc>,
    minor_age: u32,
) -> Option<u32> {
    born.filter(|_| requester == crate::kind::Requester::LegalRepresentative)
        .filter(|b| is_adult_at(*b, arrived_at, minor_age))
        .and_then(|b| age_on(b, jst_date(arrived_at)))
}

/// The first date from which the subject may sue while the request is not refused: once two
/// weeks from its arrival have passed (APPI Art. 39(1)). The day of arrival is not counted
/// (Civil Code Art. 140), and the two weeks end with the day before the same weekday
/// (Art. 143(2)): a request that arrived on Monday the 23rd may be sued on from Tuesday the
/// 8th.
pub fn may_sue_from(arrived_at: DateTime<Utc>) -> NaiveDate {
    Period::Days(15).after(jst_date(arrived_at))
}

/// Why an administrator's policy was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The answer period is zero or absurdly long.
    #[error("the answer period must be between 1 and 365 days, 260 business days or 12 months")]
    Deadline,
    /// The extension is zero or absurdly long.
    #[error("the extension must be between 1 and 365 days, 260 business days or 12 months")]
    Extension,
    /// A timeout is out of range.
    #[error("{0} is out of range")]
    Timeout(&'static str),
}

impl Period {
    fn reasonable(self) -> bool {
        match self {
            Period::Days(n) => (1..=365).contains(&n),
            Period::BusinessDays(n) => (1..=260).contains(&n),
            Period::Months(n) => (1..=12).contains(&n),
        }
    }
}

impl Policy {
    /// Checks a policy an administrator wrote before it governs new requests.
    pub fn validate(&self) -> Result<(), PolicyError> {
        if !self.deadline.period.reasonable() {
            return Err(PolicyError::Deadline);
        }
        if self.deadline.extension.is_some_and(|e| !e.reasonable()) {
            return Err(PolicyError::Extension);
        }
        if !(1..=24 * 30).contains(&self.confirm_within_hours) {
            return Err(PolicyError::Timeout("confirm_within_hours"));
        }
        if !(1..=365).contains(&self.answer_within_days) {
            return Err(PolicyError::Timeout("answer_within_days"));
        }
        if self.warn_before_expiry_hours > self.answer_within_days * 24 {
            return Err(PolicyError::Timeout("warn_before_expiry_hours"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_written_as_people_read_them() {
        let d = NaiveDate::from_ymd_opt(2026, 1, 5).unwrap();
        assert_eq!(written_date(d, false), "2026年1月5日");
        assert_eq!(written_date(d, true), "5 January 2026");
        // 2026-12-04 10:31 UTC is Friday 19:31 in Tokyo.
        let t = Utc.with_ymd_and_hms(2026, 12, 4, 10, 31, 0).unwrap();
        assert_eq!(written_time(t, false), "2026年12月4日（金）19時31分");
        assert_eq!(
            written_time(t, true),
            "Fri 4 December 2026, 19:31 (Japan time)"
        );
    }
    use chrono::TimeZone;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn arrival_is_counted_in_japan_time() {
        // 2026-11-22 16:00 UTC is 2026-11-23 01:00 in Tokyo.
        let at = Utc.with_ymd_and_hms(2026, 11, 22, 16, 0, 0).unwrap();
        assert_eq!(jst_date(at), d(2026, 11, 23));
        // Counted from Tue 11/24; two weeks end with Mon 12/7; suit from Tue 12/8.
        assert_eq!(may_sue_from(at), d(2026, 12, 8));
    }

    #[test]
    fn business_days_skip_weekends_and_holidays() {
        // Fri 2026-11-20 + 3 business days: skip Sat, Sun, Mon 11/23 (holiday) → Thu 11/26.
        assert_eq!(
            Period::BusinessDays(3).after(d(2026, 11, 20)),
            d(2026, 11, 26)
        );
        // Across Golden Week 2026: Thu 4/30 + 2 → Fri 5/1, then Thu 5/7.
        assert_eq!(Period::BusinessDays(2).after(d(2026, 4, 30)), d(2026, 5, 7));
    }

    #[test]
    fn age_counts_full_years_to_the_birthday() {
        let born = d(2008, 11, 23);
        assert_eq!(age_on(born, d(2026, 11, 22)), Some(17));
        assert_eq!(age_on(born, d(2026, 11, 23)), Some(18));
        assert_eq!(age_on(born, born), Some(0));
        assert_eq!(age_on(born, d(2008, 11, 22)), None, "not born yet");
        // 29 February: a year older on 1 March in common years, on the 29th in leap years.
        let leap = d(2008, 2, 29);
        assert_eq!(age_on(leap, d(2026, 2, 28)), Some(17));
        assert_eq!(age_on(leap, d(2026, 3, 1)), Some(18));
        assert_eq!(age_on(leap, d(2028, 2, 29)), Some(20));
    }

    #[test]
    fn adulthood_is_judged_on_the_japan_date() {
        let born = d(2008, 11, 23);
        // 2026-11-22 15:30 UTC is already 11-23 00:30 in Tokyo: the 18th birthday.
        let at = Utc.with_ymd_and_hms(2026, 11, 22, 15, 30, 0).unwrap();
        assert!(is_adult_at(born, at, 18));
        let before = Utc.with_ymd_and_hms(2026, 11, 22, 14, 30, 0).unwrap();
        assert!(!is_adult_at(born, before, 18));
        assert!(is_adult_at(born, before, 17), "the age is configurable");
        assert!(
            !is_adult_at(d(2030, 1, 1), at, 0),
            "a future birth date is nobody's"
        );
    }

    #[test]
    fn identity_is_chosen_per_kind_with_the_policy_default() {
        let mut p = Policy::appi();
        for kind in RequestKind::ALL {
            assert_eq!(p.identity_for(kind), IdentityMethod::Document);
        }
        p.identity = IdentityMethod::EmailOnly;
        p.identity_by_kind
            .set(RequestKind::Disclosure, Some(IdentityMethod::Document));
        p.identity_by_kind.set(
            RequestKind::Correction,
            Some(IdentityMethod::CustomerRecord),
        );
        assert_eq!(
            p.identity_for(RequestKind::Disclosure),
            IdentityMethod::Document
        );
        assert_eq!(
            p.identity_for(RequestKind::Correction),
            IdentityMethod::CustomerRecord
        );
        assert_eq!(
            p.identity_for(RequestKind::ThirdPartyStop),
            IdentityMethod::EmailOnly
        );
    }

    #[test]
    fn old_policy_snapshots_still_read() {
        // A snapshot written before per-kind methods existed.
        let mut old = serde_json::to_value(Policy::appi()).unwrap();
        assert!(
            old.get("identity_by_kind").is_none(),
            "an empty override is not written"
        );
        old.as_object_mut().unwrap().remove("identity_by_kind");
        let p: Policy = serde_json::from_value(old).unwrap();
        assert_eq!(p, Policy::appi());
        let mut set = Policy::appi();
        set.identity_by_kind.set(
            RequestKind::PurposeNotification,
            Some(IdentityMethod::EmailOnly),
        );
        let back: Policy = serde_json::from_str(&serde_json::to_string(&set).unwrap()).unwrap();
        assert_eq!(back, set);
    }

    #[test]
    fn an_administrators_policy_is_checked() {
        assert_eq!(Policy::appi().validate(), Ok(()));
        assert_eq!(Policy::gdpr().validate(), Ok(()));
        assert_eq!(Policy::ccpa().validate(), Ok(()));
        let mut p = Policy::appi();
        p.deadline.period = Period::Days(0);
        assert_eq!(p.validate(), Err(PolicyError::Deadline));
        p.deadline.period = Period::BusinessDays(261);
        assert_eq!(p.validate(), Err(PolicyError::Deadline));
        p.deadline.period = Period::BusinessDays(10);
        assert_eq!(p.validate(), Ok(()));
        let mut g = Policy::gdpr();
        g.deadline.extension = Some(Period::Months(13));
        assert_eq!(g.validate(), Err(PolicyError::Extension));
        g.deadline.extension = None;
        g.confirm_within_hours = 0;
        assert_eq!(
            g.validate(),
            Err(PolicyError::Timeout("confirm_within_hours"))
        );
    }

    #[test]
    fn months_clamp_to_month_end() {
        assert_eq!(Period::Months(1).after(d(2026, 1, 31)), d(2026, 2, 28));
        assert_eq!(Period::Months(1).after(d(2026, 11, 22)), d(2026, 12, 22));
    }
}
