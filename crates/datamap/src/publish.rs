//! What the business must make known (Art. 32(1), 政令10条; Art. 27(5)(iii); Art. 28),
//! derived from the map: the public notice's content, in both languages.

use serde::Serialize;

use crate::{DataMap, RecipientKind, Text};

/// The notice's content, as `/procedures` shows it and `/procedures.json` serves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notice {
    /// The map version it was built from (the business's label).
    pub version: String,
    /// The map's hash.
    pub hash: String,
    /// The purposes of use (Art. 32(1)(ii)).
    pub purposes: Vec<NoticePurpose>,
    /// The categories held, with whether they are 要配慮個人情報.
    pub categories: Vec<NoticeCategory>,
    /// The safety-management measures (政令10条1号).
    pub safety_measures: Text,
    /// The countries where data is handled, the business's own systems and its processors'
    /// (ISO codes, sorted).
    pub countries: Vec<String>,
    /// Third parties and processors abroad, with the information Art. 28 asks for.
    pub foreign_recipients: Vec<NoticeRecipient>,
    /// Joint users (Art. 27(5)(iii)).
    pub joint_use: Vec<NoticeRecipient>,
}

/// A purpose of use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NoticePurpose {
    /// Its id in the map.
    pub id: String,
    /// Its words.
    pub label: Text,
}

/// A category held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NoticeCategory {
    /// Its id in the map.
    pub id: String,
    /// Its name.
    pub label: Text,
    /// 要配慮個人情報.
    pub special_care: bool,
}

/// A recipient as the notice names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NoticeRecipient {
    /// Its name.
    pub name: Text,
    /// Third party, joint use or processor.
    pub kind: RecipientKind,
    /// Where it handles the data.
    pub country: String,
    /// The categories it receives (names).
    pub categories: Vec<Text>,
    /// The foreign country's system and the measures taken (Art. 28).
    pub foreign_regime: Option<Text>,
    /// Joint use: scope of users.
    pub scope: Option<Text>,
    /// Joint use: their purpose.
    pub purpose: Option<Text>,
    /// Joint use: the responsible party.
    pub responsible: Option<Text>,
}

impl DataMap {
    /// The notice's content. Only categories some dataset holds are listed, in the map's
    /// order; only purposes some dataset is held for.
    pub fn notice(&self, hash: &str) -> Notice {
        let held: Vec<&str> = self
            .datasets
            .iter()
            .flat_map(|d| d.fields.iter().map(|f| f.category.get_ref().as_str()))
            .collect();
        let used: Vec<&str> = self
            .datasets
            .iter()
            .flat_map(|d| d.purposes.iter().map(|p| p.get_ref().as_str()))
            .collect();
        let mut countries: Vec<String> = self
            .systems
            .iter()
            .map(|s| s.country.get_ref().clone())
            .chain(
                self.recipients
                    .iter()
                    .filter(|r| r.kind == RecipientKind::Processor)
                    .map(|r| r.country.get_ref().clone()),
            )
            .collect();
        countries.sort();
        countries.dedup();
        let recipient = |r: &crate::Recipient| NoticeRecipient {
            name: r.name.clone(),
            kind: r.kind,
            country: r.country.get_ref().clone(),
            categories: r
                .categories
                .iter()
                .filter_map(|c| self.category(c.get_ref()).map(|c| c.label.clone()))
                .collect(),
            foreign_regime: r.foreign_regime.clone(),
            scope: r.joint_use.as_ref().map(|j| j.scope.clone()),
            purpose: r.joint_use.as_ref().map(|j| j.purpose.clone()),
            responsible: r.joint_use.as_ref().map(|j| j.responsible.clone()),
        };
        Notice {
            version: self.version.clone(),
            hash: hash.to_owned(),
            purposes: self
                .purposes
                .iter()
                .filter(|p| used.contains(&p.id.get_ref().as_str()))
                .map(|p| NoticePurpose {
                    id: p.id.get_ref().clone(),
                    label: p.label.clone(),
                })
                .collect(),
            categories: self
                .categories
                .iter()
                .filter(|c| held.contains(&c.id.get_ref().as_str()))
                .map(|c| NoticeCategory {
                    id: c.id.get_ref().clone(),
                    label: c.label.clone(),
                    special_care: c.special_care,
                })
                .collect(),
            safety_measures: self.safety_measures.clone(),
            countries,
            foreign_recipients: self
                .recipients
                .iter()
                .filter(|r| r.country.get_ref() != "JP" && r.kind != RecipientKind::JointUse)
                .map(recipient)
                .collect(),
            joint_use: self
                .recipients
                .iter()
                .filter(|r| r.kind == RecipientKind::JointUse)
                .map(recipient)
                .collect(),
        }
    }
}
