//! The officer's detailed answer: reading it from the completion form (or the API's fields)
//! and what the request page needs to offer and show it.
//!
//! The form has a fixed number of item rows (no JavaScript): blank rows are ignored, and a
//! form whose rows are all blank falls back to the single outcome. A correction or an Art. 35
//! request has its own fields instead of rows.

use madoguchi_domain::answer::MAX_ITEMS;
use madoguchi_domain::{
    Answer, AnswerError, AnswerText, CorrectionResult, ItemResult, ItemText, Measure, Recorded,
    RefusalGround, RemedyResult, RequestKind,
};
use madoguchi_service::Lang;

use crate::error::{AppError, FieldError};

/// An officer's action as submitted: the event, the words for the subject, and the detailed
/// answer when a `complete` form carried one.
#[derive(Debug)]
pub struct Action<'a> {
    pub event: &'a madoguchi_domain::Event,
    pub text: &'a madoguchi_service::EventText,
    pub answer: Option<(Answer, AnswerText)>,
}

impl Action<'_> {
    /// Sends it: the detailed answer through `Service::answer`, anything else through `act`.
    /// The request page and the staff API share this.
    pub async fn send(
        self,
        service: &madoguchi_service::Service,
        pid: uuid::Uuid,
        version: i64,
        who: &madoguchi_service::staff::StaffIdentity,
        origin: &madoguchi_service::Origin,
    ) -> Result<madoguchi_service::rows::request::Model, madoguchi_service::ServiceError> {
        let now = chrono::Utc::now();
        match self.answer {
            Some((answer, words)) => {
                service
                    .answer(
                        pid,
                        Some(version),
                        answer,
                        &words,
                        &who.actor(),
                        self.text,
                        origin,
                        now,
                    )
                    .await
            }
            None => {
                service
                    .act(
                        pid,
                        Some(version),
                        self.event,
                        &who.actor(),
                        self.text,
                        origin,
                        now,
                    )
                    .await
            }
        }
    }
}

/// Item rows on the officer's form.
pub const FORM_ROWS: usize = 5;

/// The detailed answer as form and API fields: `item_label_N`, `item_result_N`,
/// `item_grounds_N` (repeated), `item_law_N` for N from 1; or `correction` with `grounds`,
/// `investigated` and `content`; or `remedy` with `measure`, `grounds`, `what`, `systems`,
/// `done_on` (YYYY-MM-DD) and `alternative`. `None` when there is none (the single outcome).
pub fn answer_from_fields(
    fields: &[(String, String)],
) -> Result<Option<(Answer, AnswerText)>, AppError> {
    let get = |k: &str| {
        fields
            .iter()
            .find(|(f, _)| f == k)
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default()
    };
    let grounds_of = |k: &str| -> Result<Vec<RefusalGround>, AppError> {
        fields
            .iter()
            .filter(|(f, _)| f == k)
            .map(|(_, v)| {
                RefusalGround::parse(v.trim()).ok_or_else(|| invalid(k, "unknown ground"))
            })
            .collect()
    };
    let correction = get("correction");
    if !correction.is_empty() {
        let grounds = grounds_of("grounds")?;
        let result = match correction.as_str() {
            "corrected" => CorrectionResult::Corrected,
            "partly_corrected" => CorrectionResult::PartlyCorrected { grounds },
            "not_corrected" => CorrectionResult::NotCorrected { grounds },
            _ => return Err(invalid("correction", "unknown correction result")),
        };
        let text = AnswerText {
            investigated: get("investigated"),
            content: get("content"),
            ..Default::default()
        };
        return Ok(Some((Answer::Correction { result }, text)));
    }
    let remedy = get("remedy");
    if !remedy.is_empty() {
        let grounds = grounds_of("grounds")?;
        let result = match remedy.as_str() {
            "done" => RemedyResult::Done {
                measure: Measure::parse(&get("measure"))
                    .ok_or_else(|| invalid("measure", "choose what was done"))?,
            },
            "alternative" => RemedyResult::Alternative,
            "not_done" => RemedyResult::NotDone { grounds },
            _ => return Err(invalid("remedy", "unknown result")),
        };
        let done_on = match get("done_on").as_str() {
            "" => None,
            d => Some(
                chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
                    .map_err(|_| invalid("done_on", "a date as YYYY-MM-DD"))?,
            ),
        };
        let text = AnswerText {
            what: get("what"),
            systems: get("systems"),
            done_on,
            alternative: get("alternative"),
            ..Default::default()
        };
        return Ok(Some((Answer::Remedy { result }, text)));
    }
    let mut items = Vec::new();
    let mut texts = Vec::new();
    for n in 1..=MAX_ITEMS {
        let label = get(&format!("item_label_{n}"));
        let law = get(&format!("item_law_{n}"));
        let grounds = grounds_of(&format!("item_grounds_{n}"))?;
        let result = get(&format!("item_result_{n}"));
        // A row with nothing written or ticked is an unused row (its select still sends a
        // value); a result without a label is caught by the label rule.
        if label.is_empty() && law.is_empty() && grounds.is_empty() {
            continue;
        }
        let result = match result.as_str() {
            "disclosed" | "" => ItemResult::Disclosed,
            "partially_disclosed" => ItemResult::PartiallyDisclosed { grounds },
            "no_data" => ItemResult::NoData,
            "refused" => ItemResult::Refused { grounds },
            "under_other_law" => ItemResult::UnderOtherLaw,
            _ => return Err(invalid(&format!("item_result_{n}"), "unknown result")),
        };
        items.push(result);
        texts.push(ItemText { label, law });
    }
    if items.is_empty() {
        return Ok(None);
    }
    Ok(Some((
        Answer::Items { items },
        AnswerText {
            items: texts,
            ..Default::default()
        },
    )))
}

fn invalid(field: &str, message: &str) -> AppError {
    AppError::Validation(vec![FieldError {
        field: field.to_owned(),
        code: "invalid".into(),
        message: message.to_owned(),
    }])
}

/// An answer rule broken, as the field error it is (in the page's language).
pub fn field_error(e: &AnswerError, lang: Lang) -> FieldError {
    FieldError {
        field: e.field(),
        code: e.code().to_owned(),
        message: if lang.is_en() {
            e.to_string()
        } else {
            message_ja(e)
        },
    }
}

fn message_ja(e: &AnswerError) -> String {
    use madoguchi_domain::answer::Part;
    let at = |p: &Part| match p {
        Part::Whole => String::new(),
        Part::Item(n) => format!("{n}行目: "),
    };
    match e {
        AnswerError::NoItems => "データの項目と結果を1つ以上記入してください".into(),
        AnswerError::TooManyItems => format!("項目は{MAX_ITEMS}件までです"),
        AnswerError::WrongKind(_) => "この種類の請求には使えない回答の形式です".into(),
        AnswerError::GroundsRequired(p) => {
            format!("{}応じない部分の法定の理由を1つ以上選んでください", at(p))
        }
        AnswerError::GroundNotApplicable(p) => {
            format!(
                "{}この種類の請求に当てはまらない理由が選ばれています",
                at(p)
            )
        }
        AnswerError::MeasureNotApplicable => "この種類の請求に当てはまらない措置です".into(),
        AnswerError::ExplanationRequired => {
            "すべての項目が不開示です。本人への理由の説明（法36条）を記入してください".into()
        }
        AnswerError::ItemsMismatch => "項目の名称と結果の数が合いません".into(),
        AnswerError::LabelRequired(p) => {
            format!("{}データの名称（例: 会員情報）を記入してください", at(p))
        }
        AnswerError::LabelInvalid(p) => format!(
            "{}名称はデータの名前を1行で（{}文字以内）記入してください",
            at(p),
            madoguchi_domain::answer::MAX_LABEL_CHARS
        ),
        AnswerError::LawRequired(p) => {
            format!(
                "{}開示の手続を定める他の法令の名称を記入してください（法33条4項）",
                at(p)
            )
        }
        AnswerError::InvestigationRequired => "調査した事項を記入してください".into(),
        AnswerError::ContentRequired => {
            "本人に通知する訂正等の内容を記入してください（法34条3項）".into()
        }
        AnswerError::WhatRequired => "停止・消去した対象を記入してください".into(),
        AnswerError::SystemsRequired => "実施した場所（システム等）を記入してください".into(),
        AnswerError::DateRequired => "実施日を記入してください".into(),
        AnswerError::AlternativeRequired => {
            "とった代わるべき措置を記入してください（法35条2項・4項・6項）".into()
        }
        AnswerError::TooLong(_) => format!(
            "入力が長すぎます（{}文字以内）",
            madoguchi_domain::answer::MAX_TEXT_CHARS
        ),
    }
}

/// Which form of answer the request page offers for a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormKind {
    /// Item rows (Art. 33).
    Items,
    /// A correction's result (Art. 34).
    Correction,
    /// A suspension, erasure or third-party stop (Art. 35).
    Remedy,
    /// The single outcome only (purpose notification).
    Single,
}

/// What the request page needs for the answer: the form's choices and the recorded answer.
#[derive(Debug, Clone)]
pub struct AnswerView {
    /// Which form.
    pub form: FormKind,
    /// Row numbers, from 1.
    pub rows: Vec<usize>,
    /// Item results: value and label.
    pub item_results: Vec<(&'static str, &'static str)>,
    /// Measures for this kind: value and label.
    pub measures: Vec<(&'static str, &'static str)>,
    /// The recorded answer, line by line, in the page's language.
    pub lines: Vec<String>,
    /// What the officer submitted, when the page comes back with an error: the form is
    /// filled in again rather than emptied. Otherwise what the data map or the provision
    /// register suggests.
    pub submitted: Vec<(String, String)>,
    /// Where the suggested answer came from, for the officer (empty when nothing was
    /// suggested).
    pub suggested_from: String,
}

impl AnswerView {
    /// For a request of `kind`, with its stored answer, in the page's language.
    pub fn new(kind: RequestKind, recorded: Option<&Recorded>, lang: Lang) -> Self {
        let form = if kind.is_disclosure() {
            FormKind::Items
        } else if kind == RequestKind::Correction {
            FormKind::Correction
        } else if kind.needs_ground() {
            FormKind::Remedy
        } else {
            FormKind::Single
        };
        let results = [
            ItemResult::Disclosed,
            ItemResult::PartiallyDisclosed { grounds: vec![] },
            ItemResult::NoData,
            ItemResult::Refused { grounds: vec![] },
            ItemResult::UnderOtherLaw,
        ];
        AnswerView {
            form,
            rows: (1..=FORM_ROWS).collect(),
            item_results: results
                .iter()
                // Art. 33(4) concerns retained personal data, not third-party records.
                .filter(|r| {
                    **r != ItemResult::UnderOtherLaw
                        || RefusalGround::OtherLawProvides.applies_to(kind)
                })
                .map(|r| (r.as_str(), r.label(lang.is_en())))
                .collect(),
            measures: Measure::ALL
                .into_iter()
                .filter(|m| m.applies_to(kind))
                .map(|m| (m.as_str(), m.label(lang.is_en())))
                .collect(),
            lines: recorded.map(|r| r.lines(lang.is_en())).unwrap_or_default(),
            submitted: Vec::new(),
            suggested_from: String::new(),
        }
    }

    /// The same view, filled in with a suggested answer (`fields` as the form names them)
    /// and the words that say where it came from; enough rows are offered for every item.
    pub fn with_suggestion(mut self, fields: Vec<(String, String)>, from: String) -> Self {
        let items = fields
            .iter()
            .filter(|(k, _)| k.starts_with("item_label_"))
            .count();
        self.rows = (1..=(items + 1).clamp(FORM_ROWS, MAX_ITEMS)).collect();
        self.submitted = fields;
        self.suggested_from = from;
        self
    }

    /// The same view, filled in with what the officer submitted.
    pub fn with_submitted(mut self, fields: Vec<(String, String)>) -> Self {
        self.submitted = fields;
        self
    }

    /// A submitted field's value (empty when there is none).
    pub fn field(&self, name: &str) -> &str {
        self.submitted
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// Whether `name` was submitted with `value` (a select's option, a ticked box).
    pub fn chose(&self, name: &str, value: &str) -> bool {
        self.submitted.iter().any(|(k, v)| k == name && v == value)
    }

    /// A submitted field of item row `n` (`label`, `result`, `law`).
    pub fn item(&self, n: &usize, part: &str) -> &str {
        self.field(&format!("item_{part}_{n}"))
    }

    /// Whether item row `n` was submitted with `value` for `part` (`result`, `grounds`).
    pub fn item_chose(&self, n: &usize, part: &str, value: &str) -> bool {
        self.chose(&format!("item_{part}_{n}"), value)
    }

    /// Whether the page offers item rows.
    pub fn items(&self) -> bool {
        self.form == FormKind::Items
    }

    /// Whether the page offers only the single outcome.
    pub fn single(&self) -> bool {
        self.form == FormKind::Single
    }

    /// Whether the page offers a correction's fields.
    pub fn correction(&self) -> bool {
        self.form == FormKind::Correction
    }

    /// Whether the page offers an Art. 35 measure's fields.
    pub fn remedy(&self) -> bool {
        self.form == FormKind::Remedy
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn blank_rows_are_ignored_and_no_rows_is_the_single_outcome() {
        let none = f(&[("item_result_1", "disclosed"), ("item_label_1", " ")]);
        assert!(answer_from_fields(&none).unwrap().is_none());
        let rows = f(&[
            ("item_label_1", "会員情報"),
            ("item_result_1", "disclosed"),
            ("item_result_2", "no_data"),
            ("item_label_3", "購買履歴"),
            ("item_result_3", "partially_disclosed"),
            ("item_grounds_3", "harm_to_persons"),
        ]);
        let (answer, text) = answer_from_fields(&rows).unwrap().unwrap();
        assert_eq!(
            answer,
            Answer::Items {
                items: vec![
                    ItemResult::Disclosed,
                    ItemResult::PartiallyDisclosed {
                        grounds: vec![RefusalGround::HarmToPersons]
                    }
                ]
            }
        );
        assert_eq!(text.items[1].label, "購買履歴");
    }

    #[test]
    fn corrections_and_measures_read_their_own_fields() {
        let c = f(&[
            ("correction", "corrected"),
            ("investigated", "住所"),
            ("content", "住所を訂正"),
        ]);
        let (answer, text) = answer_from_fields(&c).unwrap().unwrap();
        assert!(matches!(answer, Answer::Correction { .. }));
        assert_eq!(text.content, "住所を訂正");
        let bad_date = f(&[
            ("remedy", "done"),
            ("measure", "erased"),
            ("done_on", "soon"),
        ]);
        assert!(answer_from_fields(&bad_date).is_err());
        let unknown = f(&[("item_label_1", "x"), ("item_grounds_1", "nope")]);
        assert!(answer_from_fields(&unknown).is_err());
    }
}
