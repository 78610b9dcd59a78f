//! The law's intake rules (Art. 32–37 and the business's identity policy): what a request of
//! each kind must say before it can be filed. One function, used by the service for every
//! channel (form, API, staff intake), so the core refuses what a channel forgot to check.
//! Parsing (is this an e-mail address, is this kana) stays at the edge; these rules look at
//! parsed values.

use crate::kind::{DeliveryMethod, RequestKind, Requester, SuspensionGround};
use crate::policy::{IdentityMethod, Policy};

/// The agent's particulars, as given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgentFacts<'a> {
    /// Name.
    pub name: &'a str,
    /// Furigana.
    pub kana: &'a str,
    /// Relationship to the subject.
    pub relationship: &'a str,
}

/// What the intake rules look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilingFacts<'a> {
    /// What is asked (`None` when the form's choice did not parse: the kind's rules are
    /// skipped, the others still apply, so every error comes back at once).
    pub kind: Option<RequestKind>,
    /// Who asks (`None` likewise).
    pub requester: Option<Requester>,
    /// How a disclosure is to be delivered.
    pub delivery: Option<DeliveryMethod>,
    /// Where paper goes.
    pub postal_address: Option<&'a str>,
    /// The ground of a suspension, erasure or third-party stop.
    pub ground: Option<SuspensionGround>,
    /// For a correction: the content as held.
    pub current_content: Option<&'a str>,
    /// For a correction: the correct content.
    pub correct_content: Option<&'a str>,
    /// The agent, when one files.
    pub agent: Option<AgentFacts<'a>>,
    /// Whether a date of birth was given.
    pub birth_date_given: bool,
    /// Whether the requester gave an e-mail address. Only staff may enter a request without
    /// one (post, counter, phone); every notice then goes by letter.
    pub has_email: bool,
}

/// One rule a filing breaks: the field (as the forms name it) and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntakeError {
    /// The field, e.g. `delivery`.
    pub field: &'static str,
    /// Why: `required`, `ground_mismatch`, `birth_date_required`, `required_without_email`
    /// (letters need an address) or `needs_email` (an electronic answer needs one).
    pub code: &'static str,
}

fn blank(s: Option<&str>) -> bool {
    s.is_none_or(|s| s.trim().is_empty())
}

/// Every rule the filing breaks, in the order the form shows the fields; empty when it may be
/// filed under `policy`.
pub fn check_filing(f: &FilingFacts<'_>, policy: &Policy) -> Vec<IntakeError> {
    let mut errors = Vec::new();
    let mut fail = |field, code| errors.push(IntakeError { field, code });
    if let (Some(kind), Some(Requester::Subject)) = (f.kind, f.requester)
        && policy.identity_for(kind) == IdentityMethod::CustomerRecord
        && !f.birth_date_given
        && f.has_email
    {
        // Matched against the customer record (by address and date): without the date there
        // is nothing to match. Without an address nothing is matched: an officer reviews.
        fail("date_of_birth", "birth_date_required");
    }
    let kind = f.kind;
    let paper_needs_address = kind.is_some_and(RequestKind::is_disclosure)
        && f.delivery == Some(DeliveryMethod::Paper)
        && blank(f.postal_address);
    if kind.is_some_and(RequestKind::is_disclosure) {
        // Art. 33(1): the subject chooses how the data is delivered.
        match f.delivery {
            None => fail("delivery", "required"),
            // The download's codes go by e-mail.
            Some(DeliveryMethod::Electronic) if !f.has_email => fail("delivery", "needs_email"),
            Some(DeliveryMethod::Paper) if blank(f.postal_address) => {
                fail("postal_address", "required");
            }
            Some(_) => {}
        }
    }
    if !f.has_email && blank(f.postal_address) && !paper_needs_address {
        // Without an address every notice is a letter, so it needs somewhere to go.
        fail("postal_address", "required_without_email");
    }
    if let Some(kind) = kind.filter(|k| k.needs_ground()) {
        // Art. 35: a suspension, erasure or third-party stop is granted on a ground.
        match f.ground {
            None => fail("ground", "required"),
            Some(g) if !g.applies_to(kind) => fail("ground", "ground_mismatch"),
            Some(_) => {}
        }
    }
    if kind == Some(RequestKind::Correction) {
        // Art. 34: what is held, and what is true.
        if blank(f.current_content) {
            fail("current_content", "required");
        }
        if blank(f.correct_content) {
            fail("correct_content", "required");
        }
    }
    if f.requester.is_some_and(Requester::is_agent) {
        // Art. 37(3): who the agent is, and by what right.
        let a = f.agent.unwrap_or(AgentFacts {
            name: "",
            kana: "",
            relationship: "",
        });
        if a.name.trim().is_empty() {
            fail("agent_name", "required");
        }
        if a.kana.trim().is_empty() {
            fail("agent_kana", "required");
        }
        if a.relationship.trim().is_empty() {
            fail("agent_relationship", "required");
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(kind: RequestKind) -> FilingFacts<'static> {
        FilingFacts {
            kind: Some(kind),
            requester: Some(Requester::Subject),
            delivery: None,
            postal_address: None,
            ground: None,
            current_content: None,
            correct_content: None,
            agent: None,
            birth_date_given: false,
            has_email: true,
        }
    }

    fn fields(errors: &[IntakeError]) -> Vec<(&str, &str)> {
        errors.iter().map(|e| (e.field, e.code)).collect()
    }

    #[test]
    fn a_disclosure_needs_a_delivery_method_and_paper_an_address() {
        let p = Policy::appi();
        let mut f = facts(RequestKind::Disclosure);
        assert_eq!(fields(&check_filing(&f, &p)), [("delivery", "required")]);
        f.delivery = Some(DeliveryMethod::Paper);
        assert_eq!(
            fields(&check_filing(&f, &p)),
            [("postal_address", "required")]
        );
        f.postal_address = Some("  ");
        assert_eq!(
            fields(&check_filing(&f, &p)),
            [("postal_address", "required")]
        );
        f.postal_address = Some("東京都千代田区1-1");
        assert!(check_filing(&f, &p).is_empty());
        f.delivery = Some(DeliveryMethod::Electronic);
        f.postal_address = None;
        assert!(check_filing(&f, &p).is_empty());
    }

    #[test]
    fn without_an_address_every_notice_is_a_letter_and_the_answer_paper() {
        let p = Policy::appi();
        // A correction entered by a clerk from a letter with no e-mail address.
        let mut f = facts(RequestKind::SuspensionOrErasure);
        f.ground = Some(SuspensionGround::NoLongerNeeded);
        f.has_email = false;
        assert_eq!(
            fields(&check_filing(&f, &p)),
            [("postal_address", "required_without_email")]
        );
        f.postal_address = Some("大阪府大阪市北区1-2-3");
        assert!(check_filing(&f, &p).is_empty());
        // A disclosure: the download is announced by e-mail, so it must be paper.
        let mut f = facts(RequestKind::Disclosure);
        f.has_email = false;
        f.delivery = Some(DeliveryMethod::Electronic);
        assert_eq!(
            fields(&check_filing(&f, &p)),
            [
                ("delivery", "needs_email"),
                ("postal_address", "required_without_email")
            ]
        );
        f.delivery = Some(DeliveryMethod::Paper);
        assert_eq!(
            fields(&check_filing(&f, &p)),
            [("postal_address", "required")]
        );
        f.postal_address = Some("大阪府大阪市北区1-2-3");
        assert!(check_filing(&f, &p).is_empty());
    }

    #[test]
    fn a_suspension_needs_a_ground_that_fits_it() {
        let p = Policy::appi();
        for kind in RequestKind::ALL.into_iter().filter(|k| k.needs_ground()) {
            let mut f = facts(kind);
            assert_eq!(
                fields(&check_filing(&f, &p)),
                [("ground", "required")],
                "{kind:?}"
            );
            for g in SuspensionGround::ALL {
                f.ground = Some(g);
                let expected: Vec<(&str, &str)> = if g.applies_to(kind) {
                    vec![]
                } else {
                    vec![("ground", "ground_mismatch")]
                };
                assert_eq!(fields(&check_filing(&f, &p)), expected, "{kind:?} {g:?}");
            }
        }
    }

    #[test]
    fn rules_whose_choice_did_not_parse_are_skipped_not_the_others() {
        let p = Policy::appi();
        let mut f = facts(RequestKind::Disclosure);
        f.requester = None;
        assert_eq!(fields(&check_filing(&f, &p)), [("delivery", "required")]);
        f.kind = None;
        f.requester = Requester::ALL.into_iter().find(|r| r.is_agent());
        assert_eq!(
            fields(&check_filing(&f, &p)),
            [
                ("agent_name", "required"),
                ("agent_kana", "required"),
                ("agent_relationship", "required")
            ]
        );
    }

    #[test]
    fn a_correction_needs_both_contents() {
        let p = Policy::appi();
        let mut f = facts(RequestKind::Correction);
        assert_eq!(
            fields(&check_filing(&f, &p)),
            [
                ("current_content", "required"),
                ("correct_content", "required")
            ]
        );
        f.current_content = Some("旧住所");
        f.correct_content = Some("新住所");
        assert!(check_filing(&f, &p).is_empty());
    }

    #[test]
    fn an_agent_says_who_they_are_and_by_what_right() {
        let p = Policy::appi();
        let mut f = facts(RequestKind::Correction);
        f.current_content = Some("a");
        f.correct_content = Some("b");
        f.requester = Requester::ALL.into_iter().find(|r| r.is_agent());
        assert_eq!(
            fields(&check_filing(&f, &p)),
            [
                ("agent_name", "required"),
                ("agent_kana", "required"),
                ("agent_relationship", "required")
            ]
        );
        f.agent = Some(AgentFacts {
            name: "代理 一郎",
            kana: "ダイリ イチロウ",
            relationship: "親権者",
        });
        assert!(check_filing(&f, &p).is_empty());
    }
}
