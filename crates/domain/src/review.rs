//! An officer's review of what connectors gathered: for each field, whether it is disclosed,
//! withheld on an Art. 33(2) ground, or left out of the answer (not the subject's personal
//! data: an internal key, a column the map over-declared).

use std::collections::BTreeMap;

use crate::RefusalGround;

/// What the answer does with one gathered field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldDecision {
    /// Disclosed.
    Disclose,
    /// Withheld, on one of Art. 33(2)'s three grounds (listed in the answer with it).
    Withhold(RefusalGround),
    /// Left out of the answer altogether.
    Drop,
}

impl FieldDecision {
    /// Every decision an officer can choose, in the order a form lists them.
    pub const ALL: [FieldDecision; 5] = [
        FieldDecision::Disclose,
        FieldDecision::Withhold(RefusalGround::HarmToPersons),
        FieldDecision::Withhold(RefusalGround::SeriousBusinessInterference),
        FieldDecision::Withhold(RefusalGround::ViolatesOtherLaw),
        FieldDecision::Drop,
    ];

    /// Stable spelling (stored, and in the trail).
    pub fn as_str(self) -> &'static str {
        match self {
            FieldDecision::Disclose => "disclose",
            FieldDecision::Withhold(RefusalGround::HarmToPersons) => "withhold:harm_to_persons",
            FieldDecision::Withhold(RefusalGround::SeriousBusinessInterference) => {
                "withhold:serious_business_interference"
            }
            FieldDecision::Withhold(RefusalGround::ViolatesOtherLaw) => {
                "withhold:violates_other_law"
            }
            // Other grounds do not withhold a field of a disclosure; `parse` never makes one.
            FieldDecision::Withhold(_) => "withhold:other",
            FieldDecision::Drop => "drop",
        }
    }

    /// Parses [`FieldDecision::as_str`]; only the choices of [`FieldDecision::ALL`].
    pub fn parse(s: &str) -> Option<FieldDecision> {
        FieldDecision::ALL.into_iter().find(|d| d.as_str() == s)
    }

    /// The decision in words.
    pub fn label(self, en: bool) -> String {
        match (self, en) {
            (FieldDecision::Disclose, false) => "開示する".into(),
            (FieldDecision::Disclose, true) => "Disclose".into(),
            (FieldDecision::Withhold(g), false) => format!("開示しない（法{}）", g.article()),
            (FieldDecision::Withhold(g), true) => format!(
                "Withhold (APPI Art. 33(2)({}))",
                match g {
                    RefusalGround::HarmToPersons => "i",
                    RefusalGround::SeriousBusinessInterference => "ii",
                    _ => "iii",
                }
            ),
            (FieldDecision::Drop, false) => "回答に含めない（本人の保有個人データではない）".into(),
            (FieldDecision::Drop, true) => "Leave out (not the person's personal data)".into(),
        }
    }
}

/// The decisions of one gathering, by `dataset.field`; a field without one follows the map
/// (withheld where the map withholds it, disclosed otherwise).
pub type Review = BTreeMap<String, FieldDecision>;

/// The key a field's decision is stored under.
pub fn review_key(dataset: &str, field: &str) -> String {
    format!("{dataset}.{field}")
}

/// The effective decision for a field: the officer's, else the map's default.
pub fn decision_for(
    review: &Review,
    dataset: &str,
    field: &str,
    by_map: Option<RefusalGround>,
) -> FieldDecision {
    review
        .get(&review_key(dataset, field))
        .copied()
        .unwrap_or(match by_map {
            Some(g) => FieldDecision::Withhold(g),
            None => FieldDecision::Disclose,
        })
}

/// Four eyes: an erasure ordered by one officer is approved by another. `ordered_by` is the
/// staff id the order was recorded under.
pub fn check_second_officer(
    ordered_by: &str,
    approver: &crate::Actor,
) -> Result<(), crate::TransitionError> {
    match approver.staff_id() {
        Some(id) if id != ordered_by && approver.is_worker() => Ok(()),
        _ => Err(crate::TransitionError::Forbidden {
            event: "approve_erasure",
            actor: "the officer who ordered it",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_erasure_is_approved_by_another_officer_only() {
        use crate::{Actor, Role};
        let officer = |id: &str, role| Actor::Staff {
            id: id.into(),
            role,
        };
        assert!(check_second_officer("a", &officer("b", Role::Officer)).is_ok());
        assert!(check_second_officer("a", &officer("b", Role::Admin)).is_ok());
        assert!(check_second_officer("a", &officer("a", Role::Officer)).is_err());
        assert!(check_second_officer("a", &officer("b", Role::Auditor)).is_err());
        assert!(check_second_officer("a", &Actor::System).is_err());
    }

    #[test]
    fn every_choice_reads_back_and_nothing_else_does() {
        for d in FieldDecision::ALL {
            assert_eq!(FieldDecision::parse(d.as_str()), Some(d));
        }
        for bad in [
            "",
            "withhold",
            "withhold:other",
            "withhold:not_justified",
            "Disclose",
            "drop ",
        ] {
            assert_eq!(FieldDecision::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_officer_overrides_the_map_and_silence_follows_it() {
        let mut review = Review::new();
        review.insert(review_key("customers", "score"), FieldDecision::Disclose);
        review.insert(review_key("customers", "id"), FieldDecision::Drop);
        let serious = Some(RefusalGround::SeriousBusinessInterference);
        assert_eq!(
            decision_for(&review, "customers", "score", serious),
            FieldDecision::Disclose
        );
        assert_eq!(
            decision_for(&review, "customers", "id", None),
            FieldDecision::Drop
        );
        assert_eq!(
            decision_for(&review, "customers", "name", None),
            FieldDecision::Disclose
        );
        assert_eq!(
            decision_for(&review, "orders", "score", serious),
            FieldDecision::Withhold(RefusalGround::SeriousBusinessInterference)
        );
        assert_eq!(
            FieldDecision::Withhold(RefusalGround::HarmToPersons).label(false),
            "開示しない（法第33条第2項第1号）"
        );
    }
}
