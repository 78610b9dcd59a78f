//! Complaints and consultations (苦情・相談, APPI Art. 40): the business must deal with
//! complaints about its handling of personal information properly and promptly, and keep a
//! desk to do it. The law sets no deadline; the desk keeps its own target (a first reply
//! within [`REPLY_TARGET_BUSINESS_DAYS`] business days), shown in the queue and the digest.
//! Pure: the states, what moves them, the target day, what a message may hold, the figures.

use chrono::{Datelike, Duration, NaiveDate};

use crate::holidays::is_non_business_day;

/// A first reply is aimed at within this many business days of receipt (the day received
/// not counted; weekends and holidays skipped).
pub const REPLY_TARGET_BUSINESS_DAYS: u32 = 5;

/// The longest message, in characters (the person's or the officer's).
pub const MAX_MESSAGE_CHARS: usize = 4000;

/// What the person brings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ComplaintKind {
    /// 苦情: something was done wrong.
    Complaint,
    /// 相談・問い合わせ: a question or a worry.
    Consultation,
}

impl ComplaintKind {
    /// Both, in the form's order.
    pub const ALL: [ComplaintKind; 2] = [ComplaintKind::Complaint, ComplaintKind::Consultation];

    /// Stable spelling (stored, posted).
    pub fn as_str(self) -> &'static str {
        match self {
            ComplaintKind::Complaint => "complaint",
            ComplaintKind::Consultation => "consultation",
        }
    }

    /// From its stable spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// In words.
    pub fn label(self, en: bool) -> &'static str {
        match (self, en) {
            (ComplaintKind::Complaint, false) => "苦情",
            (ComplaintKind::Complaint, true) => "Complaint",
            (ComplaintKind::Consultation, false) => "相談・問い合わせ",
            (ComplaintKind::Consultation, true) => "Question or consultation",
        }
    }
}

/// Where a complaint stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ComplaintState {
    /// Received; nobody has replied yet (the target runs).
    Open,
    /// Replied to at least once; not closed.
    Replied,
    /// Dealt with: closed with a category and an outcome.
    Closed,
    /// It was a request under Arts. 33–35 and became one (its history kept here).
    Converted,
}

impl ComplaintState {
    /// Every state.
    pub const ALL: [ComplaintState; 4] = [
        ComplaintState::Open,
        ComplaintState::Replied,
        ComplaintState::Closed,
        ComplaintState::Converted,
    ];

    /// Stable spelling (stored).
    pub fn as_str(self) -> &'static str {
        match self {
            ComplaintState::Open => "open",
            ComplaintState::Replied => "replied",
            ComplaintState::Closed => "closed",
            ComplaintState::Converted => "converted",
        }
    }

    /// From its stable spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// In words.
    pub fn label(self, en: bool) -> &'static str {
        match (self, en) {
            (ComplaintState::Open, false) => "未回答",
            (ComplaintState::Open, true) => "Awaiting a reply",
            (ComplaintState::Replied, false) => "回答済み（対応中）",
            (ComplaintState::Replied, true) => "Replied (in hand)",
            (ComplaintState::Closed, false) => "完了",
            (ComplaintState::Closed, true) => "Closed",
            (ComplaintState::Converted, false) => "開示等の請求として受付",
            (ComplaintState::Converted, true) => "Taken up as a request",
        }
    }

    /// Still in the office's hands.
    pub fn is_open(self) -> bool {
        matches!(self, ComplaintState::Open | ComplaintState::Replied)
    }
}

macro_rules! labelled {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $v:ident = $s:literal, $ja:literal, $en:literal;)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vdoc])* $v,)* }

        impl $name {
            /// Every value, in the form's order.
            pub const ALL: &'static [$name] = &[$($name::$v,)*];

            /// Stable spelling (stored, posted).
            pub fn as_str(self) -> &'static str {
                match self { $($name::$v => $s,)* }
            }

            /// From its stable spelling.
            pub fn parse(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s)
            }

            /// In words.
            pub fn label(self, en: bool) -> &'static str {
                match self { $($name::$v => if en { $en } else { $ja },)* }
            }
        }
    };
}

labelled! {
    /// What a closed complaint was about (the monthly figures count by it).
    Category {
        /// 利用目的.
        Purpose = "purpose", "利用目的・利用の範囲", "Purpose of use";
        /// 取得.
        Acquisition = "acquisition", "取得の方法", "How the data was obtained";
        /// 第三者提供.
        Provision = "provision", "第三者への提供・共同利用", "Provision to third parties";
        /// 安全管理.
        Security = "security", "安全管理・漏えい等", "Security, leaks";
        /// 開示等の手続.
        Requests = "requests", "開示等の請求の手続", "Procedures for requests";
        /// 勧誘・広告.
        Marketing = "marketing", "勧誘・広告の送付", "Marketing";
        /// 従業者の対応.
        Conduct = "conduct", "従業者の対応", "Staff conduct";
        /// その他.
        Other = "other", "その他", "Other";
    }
}

labelled! {
    /// How a complaint ended.
    Outcome {
        /// 説明により了承.
        Explained = "explained", "説明により了承を得た", "Explained and accepted";
        /// 対応を改善.
        Remedied = "remedied", "取扱いを改めた（訂正・利用停止・配信停止など）", "Handling changed (corrected, stopped)";
        /// 了承を得られず.
        Unresolved = "unresolved", "了承を得られなかった（他の相談先を案内）", "Not accepted (other bodies named)";
        /// 連絡途絶・取下げ.
        Withdrawn = "withdrawn", "取下げ・連絡が取れなくなった", "Withdrawn or no further contact";
        /// 情報提供のみ.
        Informed = "informed", "情報提供・回答のみ（相談）", "Information given (consultation)";
    }
}

/// What moves a complaint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComplaintAction {
    /// An officer replies to the person (by mail).
    Reply,
    /// An officer closes it.
    Close(Category, Outcome),
    /// Opened again after closing (the person came back).
    Reopen,
    /// Taken up as a request under Arts. 33–35.
    Convert,
}

/// Why an action does not apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ComplaintRefusal {
    /// Closed or converted: nothing more is done on it (reopen a closed one first).
    #[error("the complaint is no longer open")]
    NotOpen,
    /// Only a closed complaint reopens.
    #[error("only a closed complaint reopens")]
    NotClosed,
}

/// The state an action leads to, or why it does not apply. `replied` says whether the
/// office ever replied (a reopened complaint goes back to where it was).
pub fn next(
    state: ComplaintState,
    action: ComplaintAction,
    replied: bool,
) -> Result<ComplaintState, ComplaintRefusal> {
    use ComplaintAction as A;
    use ComplaintState as S;
    match (state, action) {
        (S::Open | S::Replied, A::Reply) => Ok(S::Replied),
        (S::Open | S::Replied, A::Close(..)) => Ok(S::Closed),
        (S::Open | S::Replied, A::Convert) => Ok(S::Converted),
        (S::Closed, A::Reopen) => Ok(if replied { S::Replied } else { S::Open }),
        (S::Open | S::Replied | S::Converted, A::Reopen) => Err(ComplaintRefusal::NotClosed),
        (S::Closed | S::Converted, _) => Err(ComplaintRefusal::NotOpen),
    }
}

/// The day a first reply is aimed at: [`REPLY_TARGET_BUSINESS_DAYS`] business days after the
/// day of receipt (a complaint received on a Friday is due the next Friday; over a holiday
/// week, later).
pub fn reply_target(received_on: NaiveDate) -> NaiveDate {
    let mut day = received_on;
    let mut left = REPLY_TARGET_BUSINESS_DAYS;
    while left > 0 {
        day += Duration::days(1);
        if !is_non_business_day(day) {
            left -= 1;
        }
    }
    day
}

/// Why a message cannot be taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// Nothing but spaces.
    #[error("empty")]
    Empty,
    /// Longer than allowed.
    #[error("too long")]
    TooLong,
    /// A control character other than a line break or a tab.
    #[error("control character")]
    Control,
}

/// A message as it is kept: line breaks made `\n`, spaces trimmed at both ends; refused
/// when empty, over `max` characters, or holding a control character (which no keyboard
/// types, and which a mail or a printout would mangle).
pub fn clean_text(text: &str, max: usize) -> Result<String, TextError> {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let text = text.trim();
    if text.is_empty() {
        return Err(TextError::Empty);
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(TextError::Control);
    }
    if text.chars().count() > max {
        return Err(TextError::TooLong);
    }
    Ok(text.to_owned())
}

/// One complaint as the month's figures see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Figures {
    /// Its kind.
    pub kind: ComplaintKind,
    /// Its state now.
    pub state: ComplaintState,
    /// The day (in Japan) it was received.
    pub received_on: NaiveDate,
    /// The day of its first reply, if any.
    pub first_reply_on: Option<NaiveDate>,
    /// The day it was closed (or converted), if it was.
    pub closed_on: Option<NaiveDate>,
    /// Its category, once closed.
    pub category: Option<Category>,
}

/// A month's figures (the dashboard's, and the monthly report's).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Month {
    /// Complaints received in the month.
    pub complaints: u32,
    /// Consultations received in the month.
    pub consultations: u32,
    /// Closed in the month (a complaint reopened since counts in the month it first closed).
    pub closed: u32,
    /// Taken up as requests in the month.
    pub converted: u32,
    /// First replies given in the month...
    pub replied: u32,
    /// ...of which by their target day.
    pub replied_on_target: u32,
    /// Still open at the end of the month (or today, for this month).
    pub open: u32,
    /// Closed in the month, by category (in [`Category::ALL`]'s order; none left out).
    pub by_category: Vec<(Category, u32)>,
}

/// The figures of the month holding `month` (any day of it), counted up to `today`.
pub fn month(all: &[Figures], month: NaiveDate, today: NaiveDate) -> Month {
    let first = month.with_day(1).expect("day 1 exists");
    let next = if first.month() == 12 {
        NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)
    }
    .expect("a month follows");
    let end = (next - Duration::days(1)).min(today);
    let within = |d: NaiveDate| d >= first && d < next;
    let mut m = Month {
        by_category: Category::ALL.iter().map(|c| (*c, 0)).collect(),
        ..Month::default()
    };
    for f in all {
        if within(f.received_on) {
            match f.kind {
                ComplaintKind::Complaint => m.complaints += 1,
                ComplaintKind::Consultation => m.consultations += 1,
            }
        }
        if let Some(r) = f.first_reply_on.filter(|d| within(*d)) {
            m.replied += 1;
            if r <= reply_target(f.received_on) {
                m.replied_on_target += 1;
            }
        }
        if f.closed_on.is_some_and(within) {
            if f.state == ComplaintState::Converted {
                m.converted += 1;
            } else {
                m.closed += 1;
                if let Some(cat) = f.category
                    && let Some(slot) = m.by_category.iter_mut().find(|(k, _)| *k == cat)
                {
                    slot.1 += 1;
                }
            }
        }
        // Today's month counts what is open now (a reopened complaint among them); a past
        // month, what was not yet closed at its end.
        let open_at_end = f.received_on <= end
            && if end == today {
                f.state.is_open()
            } else {
                f.closed_on.is_none_or(|c| c > end)
            };
        if open_at_end {
            m.open += 1;
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use ComplaintAction as A;
    use ComplaintState as S;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn every_state_and_action_has_one_answer() {
        let close = A::Close(Category::Other, Outcome::Explained);
        // (state, action, replied) → expected, written out for every pair.
        let table = [
            (S::Open, A::Reply, false, Ok(S::Replied)),
            (S::Open, close, false, Ok(S::Closed)),
            (S::Open, A::Convert, false, Ok(S::Converted)),
            (S::Open, A::Reopen, false, Err(ComplaintRefusal::NotClosed)),
            (S::Replied, A::Reply, true, Ok(S::Replied)),
            (S::Replied, close, true, Ok(S::Closed)),
            (S::Replied, A::Convert, true, Ok(S::Converted)),
            (
                S::Replied,
                A::Reopen,
                true,
                Err(ComplaintRefusal::NotClosed),
            ),
            (S::Closed, A::Reply, true, Err(ComplaintRefusal::NotOpen)),
            (S::Closed, close, true, Err(ComplaintRefusal::NotOpen)),
            (S::Closed, A::Convert, true, Err(ComplaintRefusal::NotOpen)),
            (S::Closed, A::Reopen, true, Ok(S::Replied)),
            (S::Closed, A::Reopen, false, Ok(S::Open)),
            (S::Converted, A::Reply, true, Err(ComplaintRefusal::NotOpen)),
            (S::Converted, close, true, Err(ComplaintRefusal::NotOpen)),
            (
                S::Converted,
                A::Convert,
                true,
                Err(ComplaintRefusal::NotOpen),
            ),
            (
                S::Converted,
                A::Reopen,
                true,
                Err(ComplaintRefusal::NotClosed),
            ),
        ];
        for (state, action, replied, want) in table {
            assert_eq!(next(state, action, replied), want, "{state:?} {action:?}");
        }
    }

    #[test]
    fn spellings_read_back_and_labels_are_words() {
        for s in S::ALL {
            assert_eq!(S::parse(s.as_str()), Some(s));
            assert!(!s.label(false).is_ascii() && s.label(true).is_ascii());
        }
        for k in ComplaintKind::ALL {
            assert_eq!(ComplaintKind::parse(k.as_str()), Some(k));
        }
        for c in Category::ALL {
            assert_eq!(Category::parse(c.as_str()), Some(*c));
            assert!(!c.label(false).is_ascii());
        }
        for o in Outcome::ALL {
            assert_eq!(Outcome::parse(o.as_str()), Some(*o));
        }
        assert_eq!(S::parse("Open"), None);
        assert_eq!(Category::parse(""), None);
    }

    #[test]
    fn the_target_counts_business_days_after_receipt() {
        // Tue 2026-12-01 → Tue 12-08 (5 business days: 2,3,4,7,8).
        assert_eq!(reply_target(d(2026, 12, 1)), d(2026, 12, 8));
        // Fri 2026-12-04 → Fri 12-11.
        assert_eq!(reply_target(d(2026, 12, 4)), d(2026, 12, 11));
        // Received on a Saturday: counted from the Monday, due the Friday.
        assert_eq!(reply_target(d(2026, 12, 5)), d(2026, 12, 11));
        // Golden Week 2027: Thu 4/29 (昭和の日), Mon 5/3–Wed 5/5 are holidays.
        // From Wed 4/28: 4/30 (Fri), 5/6 (Thu), 5/7 (Fri), 5/10 (Mon), 5/11 (Tue).
        assert_eq!(reply_target(d(2027, 4, 28)), d(2027, 5, 11));
        // New Year: 1/1 is a holiday, weekends around it. From Tue 2026-12-29:
        // 12/30 (Wed), 12/31 (Thu), 1/4 (Mon), 1/5 (Tue), 1/6 (Wed).
        assert_eq!(reply_target(d(2026, 12, 29)), d(2027, 1, 6));
    }

    #[test]
    fn text_is_kept_as_typed_but_clean() {
        assert_eq!(clean_text("  a\r\nb\rc \n", 10), Ok("a\nb\nc".to_owned()));
        assert_eq!(clean_text("\t tab\tin", 10), Ok("tab\tin".to_owned()));
        assert_eq!(clean_text("   \n ", 10), Err(TextError::Empty));
        assert_eq!(clean_text("bell\u{7}", 10), Err(TextError::Control));
        assert_eq!(clean_text("nul\0", 10), Err(TextError::Control));
        assert_eq!(clean_text("esc\u{1b}[0m", 20), Err(TextError::Control));
        // Characters, not bytes: ten kanji fit in ten.
        assert_eq!(
            clean_text("苦情苦情苦情苦情苦情", 10).map(|s| s.len()),
            Ok(30)
        );
        assert_eq!(
            clean_text("苦情苦情苦情苦情苦情苦", 10),
            Err(TextError::TooLong)
        );
    }

    #[test]
    fn a_month_counts_what_happened_in_it() {
        let f =
            |kind, received_on, first_reply_on, closed_on: Option<NaiveDate>, category| Figures {
                kind,
                state: if closed_on.is_some() {
                    S::Closed
                } else {
                    S::Open
                },
                received_on,
                first_reply_on,
                closed_on,
                category,
            };
        let all = [
            // November's, replied in November on target, closed in December.
            f(
                ComplaintKind::Complaint,
                d(2026, 11, 30),
                Some(d(2026, 11, 30)),
                Some(d(2026, 12, 2)),
                Some(Category::Security),
            ),
            // December: replied late (target 12/8), closed.
            f(
                ComplaintKind::Complaint,
                d(2026, 12, 1),
                Some(d(2026, 12, 9)),
                Some(d(2026, 12, 10)),
                Some(Category::Marketing),
            ),
            // December: replied on the target day, still open.
            f(
                ComplaintKind::Consultation,
                d(2026, 12, 1),
                Some(d(2026, 12, 8)),
                None,
                None,
            ),
            // December: not replied, open.
            f(
                ComplaintKind::Consultation,
                d(2026, 12, 15),
                None,
                None,
                None,
            ),
            // January: outside.
            f(ComplaintKind::Complaint, d(2027, 1, 4), None, None, None),
            // December: taken up as a request on 12/3 (no category).
            Figures {
                state: S::Converted,
                ..f(
                    ComplaintKind::Complaint,
                    d(2026, 12, 2),
                    None,
                    Some(d(2026, 12, 3)),
                    None,
                )
            },
            // November: closed 11/20, reopened since (open now, closed in November).
            Figures {
                state: S::Replied,
                ..f(
                    ComplaintKind::Consultation,
                    d(2026, 11, 10),
                    Some(d(2026, 11, 11)),
                    Some(d(2026, 11, 20)),
                    Some(Category::Other),
                )
            },
        ];
        let dec = month(&all, d(2026, 12, 20), d(2026, 12, 31));
        assert_eq!((dec.complaints, dec.consultations), (2, 2));
        assert_eq!((dec.closed, dec.converted), (2, 1));
        assert_eq!((dec.replied, dec.replied_on_target), (2, 1));
        // Open on 12/31 (today): the consultation replied on target, the one not replied,
        // and November's reopened one.
        assert_eq!(dec.open, 3);
        let count = |c| dec.by_category.iter().find(|(k, _)| *k == c).unwrap().1;
        assert_eq!(count(Category::Security), 1);
        assert_eq!(count(Category::Marketing), 1);
        assert_eq!(count(Category::Other), 0);
        assert_eq!(dec.by_category.len(), Category::ALL.len());
        let nov = month(&all, d(2026, 11, 1), d(2026, 12, 31));
        assert_eq!((nov.complaints, nov.consultations), (1, 1));
        assert_eq!((nov.replied, nov.replied_on_target), (2, 2));
        // Open at the end of November: the one closed in December; the reopened one counts
        // as closed in November, where it first closed, in its category.
        assert_eq!((nov.closed, nov.open), (1, 1));
        let other = nov
            .by_category
            .iter()
            .find(|(k, _)| *k == Category::Other)
            .unwrap()
            .1;
        assert_eq!(other, 1);
        // Today's month counts by state: open now and received by today — the consultation
        // of 12/1 and the reopened one (the one of 12/15 is not received yet).
        let so_far = month(&all, d(2026, 12, 1), d(2026, 12, 5));
        assert_eq!(so_far.open, 2);
    }
}
