//! The officer's answer in detail: item by item for a disclosure (Art. 33(1),(5)), the result
//! of a correction (Art. 34), and what was stopped or erased (Art. 35).
//!
//! An [`Answer`] is the structure: results and statutory grounds, by position. It travels in
//! the event and its [`Answer::audit_detail`] goes to the trail. The words that go with it (the
//! data sets' labels, the law named, the content of a correction, where and when data was
//! erased) are an [`AnswerText`]: stored with the request and shown to the subject, never in the
//! trail. The overall result ([`Verdict`]) follows from the answer, so the officer cannot
//! record items that say one thing and an outcome that says another.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::ground::RefusalGround;
use crate::kind::RequestKind;
use crate::state::State;

/// At most this many data sets in one disclosure answer.
pub const MAX_ITEMS: usize = 20;
/// A data set's label is a name (会員情報), not its content.
pub const MAX_LABEL_CHARS: usize = 100;
/// The longest free text of an answer (the content of a correction, the systems, a measure).
pub const MAX_TEXT_CHARS: usize = 4000;

/// The result for one data set named in a disclosure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum ItemResult {
    /// Disclosed in full (開示).
    Disclosed,
    /// Disclosed in part; the withheld part names its grounds (一部開示, Art. 33(2)).
    PartiallyDisclosed {
        /// Grounds for the withheld part.
        grounds: Vec<RefusalGround>,
    },
    /// No such data is held (該当なし): still an answer.
    NoData,
    /// Not disclosed, on statutory grounds (不開示, Art. 33(2)).
    Refused {
        /// Grounds for not disclosing.
        grounds: Vec<RefusalGround>,
    },
    /// Another law provides its own disclosure of this data (Art. 33(4)); the law is named in
    /// the answer's text.
    UnderOtherLaw,
}

impl ItemResult {
    /// Stable identifier, used in the audit trail and forms.
    pub fn as_str(&self) -> &'static str {
        match self {
            ItemResult::Disclosed => "disclosed",
            ItemResult::PartiallyDisclosed { .. } => "partially_disclosed",
            ItemResult::NoData => "no_data",
            ItemResult::Refused { .. } => "refused",
            ItemResult::UnderOtherLaw => "under_other_law",
        }
    }

    /// The grounds this result stands on: the ones given, or Art. 33(4) for another law.
    pub fn grounds(&self) -> Vec<RefusalGround> {
        match self {
            ItemResult::PartiallyDisclosed { grounds } | ItemResult::Refused { grounds } => {
                grounds.clone()
            }
            ItemResult::UnderOtherLaw => vec![RefusalGround::OtherLawProvides],
            ItemResult::Disclosed | ItemResult::NoData => Vec::new(),
        }
    }

    /// Whether nothing of this data set is handed over under this Act.
    fn withheld(&self) -> bool {
        matches!(self, ItemResult::Refused { .. } | ItemResult::UnderOtherLaw)
    }

    /// The result in words for the subject.
    pub fn label(&self, en: bool) -> &'static str {
        match (self, en) {
            (ItemResult::Disclosed, false) => "開示",
            (ItemResult::Disclosed, true) => "Disclosed",
            (ItemResult::PartiallyDisclosed { .. }, false) => "一部開示",
            (ItemResult::PartiallyDisclosed { .. }, true) => "Partly disclosed",
            (ItemResult::NoData, false) => "該当する個人データなし",
            (ItemResult::NoData, true) => "No such data held",
            (ItemResult::Refused { .. }, false) => "不開示",
            (ItemResult::Refused { .. }, true) => "Not disclosed",
            (ItemResult::UnderOtherLaw, false) => "他の法令による開示の対象（法第33条第4項）",
            (ItemResult::UnderOtherLaw, true) => {
                "Disclosed under another law (Art. 33(4) of the Act)"
            }
        }
    }
}

/// The result of a correction, addition or deletion (Art. 34), after investigation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum CorrectionResult {
    /// Corrected (added, deleted) as asked.
    Corrected,
    /// Corrected in part; the rest names its grounds.
    PartlyCorrected {
        /// Why the rest was not corrected.
        grounds: Vec<RefusalGround>,
    },
    /// Not corrected (e.g. the content is factual, Art. 34(2)).
    NotCorrected {
        /// Why not.
        grounds: Vec<RefusalGround>,
    },
}

impl CorrectionResult {
    /// Stable identifier.
    pub fn as_str(&self) -> &'static str {
        match self {
            CorrectionResult::Corrected => "corrected",
            CorrectionResult::PartlyCorrected { .. } => "partly_corrected",
            CorrectionResult::NotCorrected { .. } => "not_corrected",
        }
    }

    /// The result in words for the subject.
    pub fn label(&self, en: bool) -> &'static str {
        match (self, en) {
            (CorrectionResult::Corrected, false) => "訂正等を行いました",
            (CorrectionResult::Corrected, true) => "Corrected",
            (CorrectionResult::PartlyCorrected { .. }, false) => "一部について訂正等を行いました",
            (CorrectionResult::PartlyCorrected { .. }, true) => "Corrected in part",
            (CorrectionResult::NotCorrected { .. }, false) => "訂正等を行いませんでした",
            (CorrectionResult::NotCorrected { .. }, true) => "Not corrected",
        }
    }
}

/// What was done to the data under Art. 35.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// Use stopped (利用停止, Art. 35(1),(5)).
    SuspendedUse,
    /// Erased (消去, Art. 35(1),(5)).
    Erased,
    /// Provision to third parties stopped (第三者提供の停止, Art. 35(3),(5)).
    StoppedProvision,
}

impl Measure {
    /// Every measure.
    pub const ALL: [Measure; 3] = [
        Measure::SuspendedUse,
        Measure::Erased,
        Measure::StoppedProvision,
    ];

    /// Stable identifier.
    pub fn as_str(self) -> &'static str {
        match self {
            Measure::SuspendedUse => "suspended_use",
            Measure::Erased => "erased",
            Measure::StoppedProvision => "stopped_provision",
        }
    }

    /// Parses [`Measure::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// Whether the measure answers this kind of request.
    pub fn applies_to(self, kind: RequestKind) -> bool {
        match self {
            Measure::SuspendedUse | Measure::Erased => kind == RequestKind::SuspensionOrErasure,
            Measure::StoppedProvision => kind == RequestKind::ThirdPartyStop,
        }
    }

    /// The measure in words for the subject.
    pub fn label(self, en: bool) -> &'static str {
        match (self, en) {
            (Measure::SuspendedUse, false) => "利用停止",
            (Measure::SuspendedUse, true) => "Use stopped",
            (Measure::Erased, false) => "消去",
            (Measure::Erased, true) => "Erased",
            (Measure::StoppedProvision, false) => "第三者提供の停止",
            (Measure::StoppedProvision, true) => "Provision to third parties stopped",
        }
    }
}

/// The result of a suspension, erasure or third-party stop (Art. 35).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum RemedyResult {
    /// Done as asked: the text says what, in which systems, and when.
    Done {
        /// What was done.
        measure: Measure,
    },
    /// Full compliance would be very costly or difficult; an alternative measure protecting
    /// the subject was taken instead (Art. 35(2),(4),(6) provisos). The text describes it.
    Alternative,
    /// Not done, on grounds (e.g. the claimed ground was not established).
    NotDone {
        /// Why not.
        grounds: Vec<RefusalGround>,
    },
}

impl RemedyResult {
    /// Stable identifier.
    pub fn as_str(&self) -> &'static str {
        match self {
            RemedyResult::Done { .. } => "done",
            RemedyResult::Alternative => "alternative",
            RemedyResult::NotDone { .. } => "not_done",
        }
    }
}

/// The officer's answer in detail. The overall outcome follows from it ([`Answer::verdict`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "answer", rename_all = "snake_case")]
pub enum Answer {
    /// A disclosure, one result per data set, in the order the text lists them.
    Items {
        /// At least one.
        items: Vec<ItemResult>,
    },
    /// A correction, addition or deletion.
    Correction {
        /// What the investigation led to.
        result: CorrectionResult,
    },
    /// A suspension, erasure or third-party stop.
    Remedy {
        /// What was done.
        result: RemedyResult,
    },
}

/// What an answer comes to overall.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Granted in full (including a mix of disclosed and no-data items).
    Fulfilled,
    /// Granted in part, with the grounds for the rest.
    PartiallyFulfilled {
        /// Every ground named, once, in the order first named.
        grounds: Vec<RefusalGround>,
    },
    /// No data held for any item.
    NoData,
    /// Nothing granted: a refusal, which needs an explanation (Art. 36).
    Refused {
        /// Every ground named, once, in the order first named.
        grounds: Vec<RefusalGround>,
    },
}

impl Verdict {
    /// The state the request closes in.
    pub fn state(&self) -> State {
        match self {
            Verdict::Fulfilled => State::Fulfilled,
            Verdict::PartiallyFulfilled { .. } => State::PartiallyFulfilled,
            Verdict::NoData => State::NoData,
            Verdict::Refused { .. } => State::Refused,
        }
    }

    /// The grounds behind what was not granted.
    pub fn grounds(&self) -> &[RefusalGround] {
        match self {
            Verdict::PartiallyFulfilled { grounds } | Verdict::Refused { grounds } => grounds,
            Verdict::Fulfilled | Verdict::NoData => &[],
        }
    }
}

/// Which part of an answer an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The answer as a whole (a correction or an Art. 35 measure).
    Whole,
    /// A data set, counted from 1.
    Item(usize),
}

impl std::fmt::Display for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Part::Whole => f.write_str("the answer"),
            Part::Item(n) => write!(f, "item {n}"),
        }
    }
}

/// Why an answer was refused. One variant per rule; nothing is recorded when one is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    /// A disclosure answer names no data set.
    #[error("name at least one data set and its result")]
    NoItems,
    /// More data sets than one answer takes.
    #[error("at most {MAX_ITEMS} data sets per answer")]
    TooManyItems,
    /// This form of answer does not fit the kind of request.
    #[error("this kind of answer does not fit a {0} request")]
    WrongKind(&'static str),
    /// A partial or negative result names no ground.
    #[error("{0}: name at least one statutory ground for what is not granted")]
    GroundsRequired(Part),
    /// A ground that does not apply to the kind of request.
    #[error("{0}: a ground does not apply to this kind of request")]
    GroundNotApplicable(Part),
    /// A measure that does not answer this kind (erasure for a third-party stop, say).
    #[error("the measure does not fit this kind of request")]
    MeasureNotApplicable,
    /// Everything is refused but the subject is not told why (Art. 36).
    #[error("every item is refused: explain the refusal to the subject (Art. 36)")]
    ExplanationRequired,
    /// The text lists a different number of data sets than the answer.
    #[error("the labels do not match the items")]
    ItemsMismatch,
    /// A data set has no label.
    #[error("{0}: name the data set (e.g. 会員情報)")]
    LabelRequired(Part),
    /// A label longer than a name, or on more than one line.
    #[error(
        "{0}: the label is a short name of the data set, on one line (at most {MAX_LABEL_CHARS} characters)"
    )]
    LabelInvalid(Part),
    /// "Disclosed under another law" without naming the law.
    #[error("{0}: name the law that provides the disclosure (Art. 33(4))")]
    LawRequired(Part),
    /// A correction without what was investigated.
    #[error("say what was investigated")]
    InvestigationRequired,
    /// A correction (in part or in full) without its content, which the subject must be told
    /// (Art. 34(3)).
    #[error("state the content of the correction as it is told to the subject (Art. 34(3))")]
    ContentRequired,
    /// An Art. 35 measure without what was stopped or erased.
    #[error("say what was stopped or erased")]
    WhatRequired,
    /// An Art. 35 measure without the systems it was carried out in.
    #[error("say where (in which systems) it was done")]
    SystemsRequired,
    /// An Art. 35 measure without its date.
    #[error("give the date it was done")]
    DateRequired,
    /// An alternative measure that is not described.
    #[error("describe the alternative measure taken (Art. 35(2),(4),(6))")]
    AlternativeRequired,
    /// A text beyond [`MAX_TEXT_CHARS`].
    #[error("{0} is too long (at most {MAX_TEXT_CHARS} characters)")]
    TooLong(&'static str),
}

impl AnswerError {
    /// The form field the error is about (`item_label_2`, `content`, …), for showing it there.
    pub fn field(&self) -> String {
        let item = |prefix: &str, p: &Part| match p {
            Part::Item(n) => format!("{prefix}_{n}"),
            Part::Whole => "grounds".to_owned(),
        };
        match self {
            AnswerError::NoItems | AnswerError::TooManyItems | AnswerError::ItemsMismatch => {
                "items".into()
            }
            AnswerError::WrongKind(_) => "outcome".into(),
            AnswerError::GroundsRequired(p) | AnswerError::GroundNotApplicable(p) => {
                item("item_grounds", p)
            }
            AnswerError::MeasureNotApplicable => "measure".into(),
            AnswerError::ExplanationRequired => "text".into(),
            AnswerError::LabelRequired(p) | AnswerError::LabelInvalid(p) => item("item_label", p),
            AnswerError::LawRequired(p) => item("item_law", p),
            AnswerError::InvestigationRequired => "investigated".into(),
            AnswerError::ContentRequired => "content".into(),
            AnswerError::WhatRequired => "what".into(),
            AnswerError::SystemsRequired => "systems".into(),
            AnswerError::DateRequired => "done_on".into(),
            AnswerError::AlternativeRequired => "alternative".into(),
            AnswerError::TooLong(f) => (*f).into(),
        }
    }

    /// A machine-readable code for the problem's field error.
    pub fn code(&self) -> &'static str {
        match self {
            AnswerError::LabelInvalid(_) | AnswerError::TooLong(_) => "length",
            AnswerError::GroundNotApplicable(_)
            | AnswerError::WrongKind(_)
            | AnswerError::MeasureNotApplicable
            | AnswerError::ItemsMismatch
            | AnswerError::TooManyItems => "invalid",
            _ => "required",
        }
    }
}

fn check_grounds(
    kind: RequestKind,
    grounds: &[RefusalGround],
    part: Part,
) -> Result<(), AnswerError> {
    if grounds.is_empty() {
        return Err(AnswerError::GroundsRequired(part));
    }
    if grounds.iter().any(|g| !g.applies_to(kind)) {
        return Err(AnswerError::GroundNotApplicable(part));
    }
    Ok(())
}

/// Every ground, once, in the order first named.
fn merged(grounds: impl IntoIterator<Item = RefusalGround>) -> Vec<RefusalGround> {
    let mut out = Vec::new();
    for g in grounds {
        if !out.contains(&g) {
            out.push(g);
        }
    }
    out
}

fn with_grounds(result: &str, grounds: &[RefusalGround]) -> String {
    if grounds.is_empty() {
        result.to_owned()
    } else {
        let list: Vec<&str> = grounds.iter().map(|g| g.as_str()).collect();
        format!("{result}:{}", list.join(","))
    }
}

impl Answer {
    /// Checks the answer against the kind of request and derives the overall outcome:
    /// every item withheld (refused, or under another law) is a refusal; every item without
    /// data is no data; any withheld or partly disclosed item makes it partial; else fulfilled.
    pub fn verdict(&self, kind: RequestKind) -> Result<Verdict, AnswerError> {
        match self {
            Answer::Items { items } => {
                if !kind.is_disclosure() {
                    return Err(AnswerError::WrongKind(kind.as_str()));
                }
                if items.is_empty() {
                    return Err(AnswerError::NoItems);
                }
                if items.len() > MAX_ITEMS {
                    return Err(AnswerError::TooManyItems);
                }
                for (i, item) in items.iter().enumerate() {
                    let part = Part::Item(i + 1);
                    match item {
                        ItemResult::PartiallyDisclosed { grounds }
                        | ItemResult::Refused { grounds } => check_grounds(kind, grounds, part)?,
                        ItemResult::UnderOtherLaw => {
                            check_grounds(kind, &[RefusalGround::OtherLawProvides], part)?;
                        }
                        ItemResult::Disclosed | ItemResult::NoData => {}
                    }
                }
                let grounds = merged(items.iter().flat_map(ItemResult::grounds));
                Ok(if items.iter().all(ItemResult::withheld) {
                    Verdict::Refused { grounds }
                } else if items.iter().all(|i| *i == ItemResult::NoData) {
                    Verdict::NoData
                } else if grounds.is_empty() {
                    Verdict::Fulfilled
                } else {
                    Verdict::PartiallyFulfilled { grounds }
                })
            }
            Answer::Correction { result } => {
                if kind != RequestKind::Correction {
                    return Err(AnswerError::WrongKind(kind.as_str()));
                }
                Ok(match result {
                    CorrectionResult::Corrected => Verdict::Fulfilled,
                    CorrectionResult::PartlyCorrected { grounds } => {
                        check_grounds(kind, grounds, Part::Whole)?;
                        Verdict::PartiallyFulfilled {
                            grounds: merged(grounds.iter().copied()),
                        }
                    }
                    CorrectionResult::NotCorrected { grounds } => {
                        check_grounds(kind, grounds, Part::Whole)?;
                        Verdict::Refused {
                            grounds: merged(grounds.iter().copied()),
                        }
                    }
                })
            }
            Answer::Remedy { result } => {
                if !kind.needs_ground() {
                    return Err(AnswerError::WrongKind(kind.as_str()));
                }
                Ok(match result {
                    RemedyResult::Done { measure } => {
                        if !measure.applies_to(kind) {
                            return Err(AnswerError::MeasureNotApplicable);
                        }
                        Verdict::Fulfilled
                    }
                    // The subject gets a measure, not the one asked for: an answer in part,
                    // on the ground the law gives for it.
                    RemedyResult::Alternative => Verdict::PartiallyFulfilled {
                        grounds: vec![RefusalGround::AlternativeMeasureTaken],
                    },
                    RemedyResult::NotDone { grounds } => {
                        check_grounds(kind, grounds, Part::Whole)?;
                        Verdict::Refused {
                            grounds: merged(grounds.iter().copied()),
                        }
                    }
                })
            }
        }
    }

    /// The answer's facts for the audit trail: results and grounds by position, never a label
    /// or any other text.
    pub fn audit_detail(&self) -> Vec<(String, String)> {
        match self {
            Answer::Items { items } => {
                let mut d = vec![("items".to_owned(), items.len().to_string())];
                for (i, item) in items.iter().enumerate() {
                    let grounds = match item {
                        ItemResult::PartiallyDisclosed { grounds }
                        | ItemResult::Refused { grounds } => grounds.as_slice(),
                        _ => &[],
                    };
                    d.push((
                        format!("item{}", i + 1),
                        with_grounds(item.as_str(), grounds),
                    ));
                }
                d
            }
            Answer::Correction { result } => {
                let grounds = match result {
                    CorrectionResult::PartlyCorrected { grounds }
                    | CorrectionResult::NotCorrected { grounds } => grounds.as_slice(),
                    CorrectionResult::Corrected => &[],
                };
                vec![(
                    "correction".to_owned(),
                    with_grounds(result.as_str(), grounds),
                )]
            }
            Answer::Remedy { result } => {
                let value = match result {
                    RemedyResult::Done { measure } => format!("done:{}", measure.as_str()),
                    RemedyResult::Alternative => "alternative".to_owned(),
                    RemedyResult::NotDone { grounds } => with_grounds("not_done", grounds),
                };
                vec![("remedy".to_owned(), value)]
            }
        }
    }
}

/// The words for one data set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemText {
    /// The data set's name (会員情報, 購買履歴), not its content.
    pub label: String,
    /// For [`ItemResult::UnderOtherLaw`]: the law that provides the disclosure.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub law: String,
}

/// The words that go with an [`Answer`]: stored with the request, shown to the subject, never
/// in the audit trail. Which fields are needed depends on the answer ([`AnswerText::check`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AnswerText {
    /// One per item of [`Answer::Items`], in the same order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<ItemText>,
    /// Correction: what was investigated.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub investigated: String,
    /// Correction: the content of the correction as told to the subject (Art. 34(3)).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub content: String,
    /// Art. 35: what was stopped or erased.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub what: String,
    /// Art. 35: where, i.e. in which systems.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub systems: String,
    /// Art. 35: when it was done.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub done_on: Option<NaiveDate>,
    /// Art. 35: the alternative measure taken.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub alternative: String,
}

fn blank(s: &str) -> bool {
    s.trim().is_empty()
}

fn within(s: &str, field: &'static str) -> Result<(), AnswerError> {
    if s.chars().count() > MAX_TEXT_CHARS {
        Err(AnswerError::TooLong(field))
    } else {
        Ok(())
    }
}

impl AnswerText {
    /// Checks that the words the answer needs are there: a label per item (a short name on
    /// one line), the law for an item under another law, what was investigated and the content
    /// of a correction, what/where/when of an Art. 35 measure or the alternative taken.
    pub fn check(&self, answer: &Answer) -> Result<(), AnswerError> {
        for (f, v) in [
            ("investigated", &self.investigated),
            ("content", &self.content),
            ("what", &self.what),
            ("systems", &self.systems),
            ("alternative", &self.alternative),
        ] {
            within(v, f)?;
        }
        match answer {
            Answer::Items { items } => {
                if items.len() != self.items.len() {
                    return Err(AnswerError::ItemsMismatch);
                }
                for (i, (item, text)) in items.iter().zip(&self.items).enumerate() {
                    let part = Part::Item(i + 1);
                    if blank(&text.label) {
                        return Err(AnswerError::LabelRequired(part));
                    }
                    if text.label.chars().count() > MAX_LABEL_CHARS || text.label.contains('\n') {
                        return Err(AnswerError::LabelInvalid(part));
                    }
                    if *item == ItemResult::UnderOtherLaw && blank(&text.law) {
                        return Err(AnswerError::LawRequired(part));
                    }
                    if text.law.chars().count() > MAX_LABEL_CHARS || text.law.contains('\n') {
                        return Err(AnswerError::LabelInvalid(part));
                    }
                }
            }
            Answer::Correction { result } => {
                if blank(&self.investigated) {
                    return Err(AnswerError::InvestigationRequired);
                }
                if !matches!(result, CorrectionResult::NotCorrected { .. }) && blank(&self.content)
                {
                    return Err(AnswerError::ContentRequired);
                }
            }
            Answer::Remedy { result } => match result {
                RemedyResult::Done { .. } => {
                    if blank(&self.what) {
                        return Err(AnswerError::WhatRequired);
                    }
                    if blank(&self.systems) {
                        return Err(AnswerError::SystemsRequired);
                    }
                    if self.done_on.is_none() {
                        return Err(AnswerError::DateRequired);
                    }
                }
                RemedyResult::Alternative => {
                    if blank(&self.alternative) {
                        return Err(AnswerError::AlternativeRequired);
                    }
                }
                RemedyResult::NotDone { .. } => {}
            },
        }
        Ok(())
    }
}

/// An answer with its words, as stored with the request (`requests.answer`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recorded {
    /// Results and grounds.
    pub answer: Answer,
    /// Labels and texts.
    pub text: AnswerText,
}

fn grounds_words(grounds: &[RefusalGround], en: bool) -> String {
    let list: Vec<String> = grounds
        .iter()
        .map(|g| {
            if en {
                format!("{} ({})", g.label_en(), g.article())
            } else {
                format!("{}（{}）", g.label_ja(), g.article())
            }
        })
        .collect();
    list.join(if en { "; " } else { "、" })
}

impl Recorded {
    /// The answer in lines for the subject (the closing e-mail, the letter) and the officer,
    /// in Japanese or English.
    pub fn lines(&self, en: bool) -> Vec<String> {
        self.lines_with(en, true)
    }

    /// The lines without the officer's free text (what was corrected, what was erased where,
    /// the alternative measure): for a page that opens without a one-time code. Data-set
    /// labels stay: they name data sets, not their content.
    pub fn lines_without_text(&self, en: bool) -> Vec<String> {
        self.lines_with(en, false)
    }

    fn lines_with(&self, en: bool, with_text: bool) -> Vec<String> {
        let t = |ja: &str, en_s: &str| if en { en_s.to_owned() } else { ja.to_owned() };
        let why = |grounds: &[RefusalGround]| {
            if grounds.is_empty() {
                String::new()
            } else if en {
                format!(" — why: {}", grounds_words(grounds, true))
            } else {
                format!("（理由: {}）", grounds_words(grounds, false))
            }
        };
        let mut out = Vec::new();
        match &self.answer {
            Answer::Items { items } => {
                for (i, item) in items.iter().enumerate() {
                    let text = self.text.items.get(i).cloned().unwrap_or_default();
                    let result = match item {
                        ItemResult::UnderOtherLaw if !text.law.is_empty() => {
                            if en {
                                format!("{} ({})", item.label(true), text.law)
                            } else {
                                format!("{}（{}）", item.label(false), text.law)
                            }
                        }
                        ItemResult::PartiallyDisclosed { grounds }
                        | ItemResult::Refused { grounds } => {
                            format!("{}{}", item.label(en), why(grounds))
                        }
                        _ => item.label(en).to_owned(),
                    };
                    out.push(format!("{}. {}: {}", i + 1, text.label, result));
                }
            }
            Answer::Correction { result } => {
                if with_text {
                    out.push(format!(
                        "{}{}",
                        t("調査した事項: ", "What we investigated: "),
                        self.text.investigated
                    ));
                }
                let grounds = match result {
                    CorrectionResult::PartlyCorrected { grounds }
                    | CorrectionResult::NotCorrected { grounds } => grounds.as_slice(),
                    CorrectionResult::Corrected => &[],
                };
                out.push(format!(
                    "{}{}{}",
                    t("結果: ", "Result: "),
                    result.label(en),
                    why(grounds)
                ));
                if with_text && !self.text.content.is_empty() {
                    out.push(format!(
                        "{}{}",
                        t("訂正等の内容: ", "What was corrected: "),
                        self.text.content
                    ));
                }
            }
            Answer::Remedy { result } => match result {
                RemedyResult::Done { measure } => {
                    out.push(format!("{}{}", t("措置: ", "Measure: "), measure.label(en)));
                    if with_text {
                        out.push(format!("{}{}", t("対象: ", "What: "), self.text.what));
                        out.push(format!(
                            "{}{}",
                            t("実施した場所（システム等）: ", "Where (systems): "),
                            self.text.systems
                        ));
                    }
                    if let Some(d) = self.text.done_on {
                        out.push(format!("{}{d}", t("実施日: ", "Done on: ")));
                    }
                }
                RemedyResult::Alternative => {
                    out.push(t(
                        "措置: ご請求どおりの対応には多額の費用を要するため、代わるべき措置をとりました（法第35条第2項・第4項・第6項ただし書）",
                        "Measure: full compliance would be very costly, so we took an alternative measure (Art. 35(2),(4),(6) of the Act)",
                    ));
                    if with_text {
                        out.push(format!(
                            "{}{}",
                            t("代わるべき措置: ", "Alternative measure: "),
                            self.text.alternative
                        ));
                    }
                    if with_text && !self.text.what.is_empty() {
                        out.push(format!("{}{}", t("対象: ", "What: "), self.text.what));
                    }
                    if let Some(d) = self.text.done_on {
                        out.push(format!("{}{d}", t("実施日: ", "Done on: ")));
                    }
                }
                RemedyResult::NotDone { grounds } => {
                    out.push(format!(
                        "{}{}",
                        t(
                            "措置: ご請求に係る措置は行いませんでした",
                            "Measure: we did not take the measure asked for"
                        ),
                        why(grounds)
                    ));
                }
            },
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RefusalGround as G;
    use RequestKind as K;

    fn items(items: Vec<ItemResult>) -> Answer {
        Answer::Items { items }
    }

    fn partly(g: G) -> ItemResult {
        ItemResult::PartiallyDisclosed { grounds: vec![g] }
    }

    fn refused(g: G) -> ItemResult {
        ItemResult::Refused { grounds: vec![g] }
    }

    fn labelled(n: usize) -> AnswerText {
        AnswerText {
            items: (0..n)
                .map(|i| ItemText {
                    label: format!("データ{i}"),
                    law: String::new(),
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn a_disclosure_names_at_least_one_item_and_at_most_the_limit() {
        assert_eq!(
            items(vec![]).verdict(K::Disclosure),
            Err(AnswerError::NoItems)
        );
        let many = items(vec![ItemResult::Disclosed; MAX_ITEMS + 1]);
        assert_eq!(many.verdict(K::Disclosure), Err(AnswerError::TooManyItems));
        let most = items(vec![ItemResult::Disclosed; MAX_ITEMS]);
        assert_eq!(most.verdict(K::Disclosure), Ok(Verdict::Fulfilled));
    }

    #[test]
    fn the_overall_outcome_follows_from_the_items() {
        let k = K::Disclosure;
        assert_eq!(
            items(vec![ItemResult::Disclosed, ItemResult::NoData]).verdict(k),
            Ok(Verdict::Fulfilled)
        );
        assert_eq!(
            items(vec![ItemResult::NoData, ItemResult::NoData]).verdict(k),
            Ok(Verdict::NoData)
        );
        assert_eq!(
            items(vec![
                ItemResult::Disclosed,
                partly(G::HarmToPersons),
                ItemResult::NoData
            ])
            .verdict(k),
            Ok(Verdict::PartiallyFulfilled {
                grounds: vec![G::HarmToPersons]
            })
        );
        // A refused item next to a disclosed one is a partial answer.
        assert_eq!(
            items(vec![ItemResult::Disclosed, refused(G::ViolatesOtherLaw)]).verdict(k),
            Ok(Verdict::PartiallyFulfilled {
                grounds: vec![G::ViolatesOtherLaw]
            })
        );
        // No data held for one and refused for the other: still an answer in part.
        assert_eq!(
            items(vec![ItemResult::NoData, refused(G::HarmToPersons)]).verdict(k),
            Ok(Verdict::PartiallyFulfilled {
                grounds: vec![G::HarmToPersons]
            })
        );
    }

    #[test]
    fn every_item_withheld_is_a_refusal_with_every_ground_once() {
        let answer = items(vec![
            refused(G::HarmToPersons),
            ItemResult::Refused {
                grounds: vec![G::SeriousBusinessInterference, G::HarmToPersons],
            },
            ItemResult::UnderOtherLaw,
        ]);
        assert_eq!(
            answer.verdict(K::Disclosure),
            Ok(Verdict::Refused {
                grounds: vec![
                    G::HarmToPersons,
                    G::SeriousBusinessInterference,
                    G::OtherLawProvides
                ]
            })
        );
        assert_eq!(
            answer.verdict(K::Disclosure).map(|v| v.state()),
            Ok(State::Refused)
        );
    }

    #[test]
    fn partial_and_refused_items_need_grounds_that_apply_to_the_kind() {
        let none = items(vec![
            ItemResult::Disclosed,
            ItemResult::PartiallyDisclosed { grounds: vec![] },
        ]);
        assert_eq!(
            none.verdict(K::Disclosure),
            Err(AnswerError::GroundsRequired(Part::Item(2)))
        );
        let none = items(vec![ItemResult::Refused { grounds: vec![] }]);
        assert_eq!(
            none.verdict(K::Disclosure),
            Err(AnswerError::GroundsRequired(Part::Item(1)))
        );
        // Art. 34's ground on a disclosure.
        let wrong = items(vec![partly(G::ContentIsFactual)]);
        assert_eq!(
            wrong.verdict(K::Disclosure),
            Err(AnswerError::GroundNotApplicable(Part::Item(1)))
        );
        // 政令11 records are a ground only for third-party records, and Art. 33(4) only for
        // disclosure of retained data.
        assert!(
            items(vec![refused(G::ExcludedRecord)])
                .verdict(K::ThirdPartyRecordDisclosure)
                .is_ok()
        );
        assert_eq!(
            items(vec![ItemResult::UnderOtherLaw]).verdict(K::ThirdPartyRecordDisclosure),
            Err(AnswerError::GroundNotApplicable(Part::Item(1)))
        );
    }

    #[test]
    fn each_form_of_answer_fits_only_its_kinds() {
        let disclosure = items(vec![ItemResult::Disclosed]);
        for k in [
            K::PurposeNotification,
            K::Correction,
            K::SuspensionOrErasure,
        ] {
            assert_eq!(
                disclosure.verdict(k),
                Err(AnswerError::WrongKind(k.as_str()))
            );
        }
        let correction = Answer::Correction {
            result: CorrectionResult::Corrected,
        };
        assert!(correction.verdict(K::Correction).is_ok());
        assert!(correction.verdict(K::Disclosure).is_err());
        let erased = Answer::Remedy {
            result: RemedyResult::Done {
                measure: Measure::Erased,
            },
        };
        assert_eq!(
            erased.verdict(K::SuspensionOrErasure),
            Ok(Verdict::Fulfilled)
        );
        assert_eq!(
            erased.verdict(K::ThirdPartyStop),
            Err(AnswerError::MeasureNotApplicable)
        );
        assert_eq!(
            erased.verdict(K::Correction),
            Err(AnswerError::WrongKind("correction"))
        );
        let stopped = Answer::Remedy {
            result: RemedyResult::Done {
                measure: Measure::StoppedProvision,
            },
        };
        assert_eq!(stopped.verdict(K::ThirdPartyStop), Ok(Verdict::Fulfilled));
    }

    #[test]
    fn a_correction_derives_its_outcome_and_needs_grounds_for_what_it_does_not_correct() {
        let k = K::Correction;
        let partly = Answer::Correction {
            result: CorrectionResult::PartlyCorrected {
                grounds: vec![G::ContentIsFactual],
            },
        };
        assert_eq!(
            partly.verdict(k),
            Ok(Verdict::PartiallyFulfilled {
                grounds: vec![G::ContentIsFactual]
            })
        );
        let not = Answer::Correction {
            result: CorrectionResult::NotCorrected { grounds: vec![] },
        };
        assert_eq!(
            not.verdict(k),
            Err(AnswerError::GroundsRequired(Part::Whole))
        );
        let wrong = Answer::Correction {
            result: CorrectionResult::NotCorrected {
                grounds: vec![G::HarmToPersons],
            },
        };
        assert_eq!(
            wrong.verdict(k),
            Err(AnswerError::GroundNotApplicable(Part::Whole))
        );
    }

    #[test]
    fn an_alternative_measure_is_a_partial_answer_and_a_refused_measure_needs_grounds() {
        let k = K::SuspensionOrErasure;
        assert_eq!(
            Answer::Remedy {
                result: RemedyResult::Alternative
            }
            .verdict(k),
            Ok(Verdict::PartiallyFulfilled {
                grounds: vec![G::AlternativeMeasureTaken]
            })
        );
        assert_eq!(
            Answer::Remedy {
                result: RemedyResult::NotDone { grounds: vec![] }
            }
            .verdict(k),
            Err(AnswerError::GroundsRequired(Part::Whole))
        );
        assert_eq!(
            Answer::Remedy {
                result: RemedyResult::NotDone {
                    grounds: vec![G::NotJustified]
                }
            }
            .verdict(k),
            Ok(Verdict::Refused {
                grounds: vec![G::NotJustified]
            })
        );
    }

    #[test]
    fn the_audit_detail_holds_results_and_grounds_by_position_and_no_words() {
        let answer = items(vec![
            ItemResult::Disclosed,
            ItemResult::PartiallyDisclosed {
                grounds: vec![G::HarmToPersons, G::ViolatesOtherLaw],
            },
            ItemResult::NoData,
            ItemResult::UnderOtherLaw,
        ]);
        assert_eq!(
            answer.audit_detail(),
            vec![
                ("items".to_owned(), "4".to_owned()),
                ("item1".to_owned(), "disclosed".to_owned()),
                (
                    "item2".to_owned(),
                    "partially_disclosed:harm_to_persons,violates_other_law".to_owned()
                ),
                ("item3".to_owned(), "no_data".to_owned()),
                ("item4".to_owned(), "under_other_law".to_owned()),
            ]
        );
        assert_eq!(
            Answer::Remedy {
                result: RemedyResult::Done {
                    measure: Measure::Erased
                }
            }
            .audit_detail(),
            vec![("remedy".to_owned(), "done:erased".to_owned())]
        );
        assert_eq!(
            Answer::Correction {
                result: CorrectionResult::NotCorrected {
                    grounds: vec![G::ContentIsFactual]
                }
            }
            .audit_detail(),
            vec![(
                "correction".to_owned(),
                "not_corrected:content_is_factual".to_owned()
            )]
        );
    }

    #[test]
    fn every_item_needs_a_short_one_line_label_and_another_law_needs_its_name() {
        let answer = items(vec![ItemResult::Disclosed, ItemResult::UnderOtherLaw]);
        assert_eq!(labelled(1).check(&answer), Err(AnswerError::ItemsMismatch));
        let mut text = labelled(2);
        assert_eq!(
            text.check(&answer),
            Err(AnswerError::LawRequired(Part::Item(2)))
        );
        text.items[1].law = "行政機関の保有する情報の公開に関する法律".into();
        assert_eq!(text.check(&answer), Ok(()));
        text.items[0].label = "  ".into();
        assert_eq!(
            text.check(&answer),
            Err(AnswerError::LabelRequired(Part::Item(1)))
        );
        text.items[0].label = "会員情報\n氏名: 山田".into();
        assert_eq!(
            text.check(&answer),
            Err(AnswerError::LabelInvalid(Part::Item(1)))
        );
        text.items[0].label = "あ".repeat(MAX_LABEL_CHARS + 1);
        assert_eq!(
            text.check(&answer),
            Err(AnswerError::LabelInvalid(Part::Item(1)))
        );
        assert_eq!(
            AnswerError::LabelInvalid(Part::Item(1)).field(),
            "item_label_1"
        );
    }

    #[test]
    fn a_correction_states_what_was_investigated_and_what_was_corrected() {
        let corrected = Answer::Correction {
            result: CorrectionResult::Corrected,
        };
        let mut text = AnswerText::default();
        assert_eq!(
            text.check(&corrected),
            Err(AnswerError::InvestigationRequired)
        );
        text.investigated = "会員情報の住所".into();
        assert_eq!(text.check(&corrected), Err(AnswerError::ContentRequired));
        // Nothing corrected: nothing to state but the investigation (the grounds say why).
        let not = Answer::Correction {
            result: CorrectionResult::NotCorrected {
                grounds: vec![G::ContentIsFactual],
            },
        };
        assert_eq!(text.check(&not), Ok(()));
        text.content = "住所を「東京都港区1-1」に訂正しました".into();
        assert_eq!(text.check(&corrected), Ok(()));
        text.content = "x".repeat(MAX_TEXT_CHARS + 1);
        assert_eq!(text.check(&corrected), Err(AnswerError::TooLong("content")));
    }

    #[test]
    fn an_art_35_measure_states_what_where_and_when_or_the_alternative() {
        let done = Answer::Remedy {
            result: RemedyResult::Done {
                measure: Measure::Erased,
            },
        };
        let mut text = AnswerText::default();
        assert_eq!(text.check(&done), Err(AnswerError::WhatRequired));
        text.what = "購買履歴".into();
        assert_eq!(text.check(&done), Err(AnswerError::SystemsRequired));
        text.systems = "会員DB、バックアップ".into();
        assert_eq!(text.check(&done), Err(AnswerError::DateRequired));
        text.done_on = NaiveDate::from_ymd_opt(2026, 11, 30);
        assert_eq!(text.check(&done), Ok(()));
        let alternative = Answer::Remedy {
            result: RemedyResult::Alternative,
        };
        assert_eq!(
            text.check(&alternative),
            Err(AnswerError::AlternativeRequired)
        );
        text.alternative = "バックアップからの消去に代えて、アクセスを遮断しました".into();
        assert_eq!(text.check(&alternative), Ok(()));
    }

    #[test]
    fn the_subjects_lines_name_each_item_with_its_result_in_their_language() {
        let recorded = Recorded {
            answer: items(vec![
                ItemResult::Disclosed,
                partly(G::HarmToPersons),
                ItemResult::NoData,
            ]),
            text: AnswerText {
                items: vec![
                    ItemText {
                        label: "会員情報".into(),
                        law: String::new(),
                    },
                    ItemText {
                        label: "購買履歴".into(),
                        law: String::new(),
                    },
                    ItemText {
                        label: "問合せ履歴".into(),
                        law: String::new(),
                    },
                ],
                ..Default::default()
            },
        };
        let ja = recorded.lines(false);
        assert_eq!(ja[0], "1. 会員情報: 開示");
        assert!(
            ja[1].starts_with("2. 購買履歴: 一部開示（理由: "),
            "{}",
            ja[1]
        );
        assert!(ja[1].contains("第33条第2項第1号"));
        assert_eq!(ja[2], "3. 問合せ履歴: 該当する個人データなし");
        let en = recorded.lines(true);
        assert_eq!(en[2], "3. 問合せ履歴: No such data held");
    }

    #[test]
    fn the_lines_for_a_page_without_a_code_leave_the_free_text_out() {
        let recorded = Recorded {
            answer: Answer::Correction {
                result: CorrectionResult::Corrected,
            },
            text: AnswerText {
                investigated: "会員情報の住所".into(),
                content: "住所を「東京都港区1-1」に訂正しました".into(),
                ..Default::default()
            },
        };
        let all = recorded.lines(false).join("\n");
        assert!(all.contains("東京都港区1-1") && all.contains("会員情報の住所"));
        let public = recorded.lines_without_text(false).join("\n");
        assert_eq!(public, "結果: 訂正等を行いました");
        let erased = Recorded {
            answer: Answer::Remedy {
                result: RemedyResult::Done {
                    measure: Measure::Erased,
                },
            },
            text: AnswerText {
                what: "購買履歴".into(),
                systems: "会員DB".into(),
                done_on: NaiveDate::from_ymd_opt(2026, 11, 30),
                ..Default::default()
            },
        };
        assert_eq!(
            erased.lines_without_text(true),
            vec![
                "Measure: Erased".to_owned(),
                "Done on: 2026-11-30".to_owned()
            ]
        );
        assert!(
            erased
                .lines(false)
                .iter()
                .any(|l| l == "実施した場所（システム等）: 会員DB")
        );
    }

    #[test]
    fn answers_round_trip_through_json() {
        let recorded = Recorded {
            answer: Answer::Remedy {
                result: RemedyResult::Done {
                    measure: Measure::Erased,
                },
            },
            text: AnswerText {
                what: "購買履歴".into(),
                done_on: NaiveDate::from_ymd_opt(2026, 11, 30),
                ..Default::default()
            },
        };
        let json = serde_json::to_string(&recorded).expect("serialises");
        assert_eq!(
            serde_json::from_str::<Recorded>(&json).expect("parses"),
            recorded
        );
    }
}
