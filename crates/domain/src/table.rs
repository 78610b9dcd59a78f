//! The transition table, derived from [`apply`](crate::apply) itself, for the documentation:
//! `docs/state-machine.md` is checked against it by a test, so the doc cannot drift.

use chrono::{DateTime, Duration, TimeZone, Utc};

use crate::{
    Actor, Answer, CustomerMatch, DeliveryMethod, Event, FeeSchedule, IdentityMethod, ItemResult,
    Outcome, PaymentMethod, RefusalGround, Request, RequestKind, Role, State, Yen, apply,
    policy::Policy,
};

/// One row: in `from`, `event` by any of `actors` leads to `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Starting state.
    pub from: State,
    /// Event name.
    pub event: &'static str,
    /// Who may send it.
    pub actors: Vec<&'static str>,
    /// Resulting state.
    pub to: State,
}

fn sample_events() -> Vec<Event> {
    vec![
        Event::ConfirmEmail,
        Event::ConfirmRequester {
            how: crate::ContactCheck::SignedForm,
        },
        Event::SubmitEvidence,
        Event::ApproveIdentity,
        Event::RequestMoreEvidence {
            missing: "x".into(),
        },
        Event::RejectIdentity { reason: "x".into() },
        Event::RecordPayment {
            amount: Yen(3000),
            method: PaymentMethod::BankTransfer,
        },
        Event::RecordPayment {
            amount: Yen(3000),
            method: PaymentMethod::Card,
        },
        Event::StartWork,
        Event::RequestInfo {
            question: "x".into(),
        },
        Event::ProvideInfo,
        Event::ChangeDelivery {
            to: DeliveryMethod::Paper,
            reason: "x".into(),
        },
        Event::ChangeDelivery {
            to: DeliveryMethod::Electronic,
            reason: "x".into(),
        },
        Event::ExtendDeadline { reason: "x".into() },
        Event::Complete(Outcome::Fulfilled),
        Event::Complete(Outcome::PartiallyFulfilled {
            grounds: vec![RefusalGround::NotRetainedData],
        }),
        Event::Complete(Outcome::NoData),
        Event::Complete(Outcome::Answered {
            answer: Answer::Items {
                items: vec![ItemResult::Refused {
                    grounds: vec![RefusalGround::NotRetainedData],
                }],
            },
            explanation: "x".into(),
        }),
        Event::Refuse {
            grounds: vec![RefusalGround::NotRetainedData],
            explanation: "x".into(),
        },
        Event::Withdraw,
        Event::Expire,
        Event::WarnExpiry,
        Event::MatchCustomerRecord {
            result: CustomerMatch::Matched,
        },
        Event::MatchCustomerRecord {
            result: CustomerMatch::NotFound,
        },
    ]
}

fn actors() -> Vec<(&'static str, Actor)> {
    vec![
        ("subject", Actor::Subject),
        (
            "officer",
            Actor::Staff {
                id: "o".into(),
                role: Role::Officer,
            },
        ),
        (
            "admin",
            Actor::Staff {
                id: "a".into(),
                role: Role::Admin,
            },
        ),
        (
            "auditor",
            Actor::Staff {
                id: "u".into(),
                role: Role::Auditor,
            },
        ),
        ("system", Actor::System),
        ("webhook", Actor::PaymentProvider),
    ]
}

/// A ¥3,000 GDPR disclosure (so that extension exists) whose identity is proven by customer
/// record (so that the lookup's rows appear), placed in `state`, with the facts that state
/// implies.
fn in_state(state: State, at: DateTime<Utc>) -> Request {
    let mut policy = Policy::gdpr();
    policy.identity_by_kind.set(
        RequestKind::Disclosure,
        Some(IdentityMethod::CustomerRecord),
    );
    let mut r = Request::file(RequestKind::Disclosure, policy, &FeeSchedule::default(), at).next;
    r.state = state;
    let past_identity = !matches!(
        state,
        State::Submitted | State::IdentityReview | State::AwaitingIdentity
    );
    r.identity_verified = past_identity;
    if past_identity && state != State::AwaitingPayment {
        r.paid = r.fee;
    }
    r.expires_at = Some(at);
    r
}

/// Every accepted (state, event) pair, with who may send it.
pub fn rows() -> Vec<Row> {
    let at = Utc
        .with_ymd_and_hms(2026, 11, 2, 1, 0, 0)
        .single()
        .expect("valid date");
    let now = at + Duration::days(1);
    // The expiry warning is only accepted before the expiry, the expiry only after it.
    let before_expiry = at - Duration::hours(1);
    let mut out: Vec<Row> = Vec::new();
    for from in State::ALL {
        let request = in_state(from, at);
        for event in sample_events() {
            let mut who = Vec::new();
            let mut to = None;
            for (label, actor) in actors() {
                if let Ok(t) = apply(&request, &event, &actor, now)
                    .or_else(|_| apply(&request, &event, &actor, before_expiry))
                {
                    who.push(label);
                    to = Some(t.next.state);
                }
            }
            if let Some(to) = to {
                let name = match &event {
                    Event::Complete(Outcome::Fulfilled) => "complete (fulfilled)",
                    Event::Complete(Outcome::PartiallyFulfilled { .. }) => "complete (partially)",
                    Event::Complete(Outcome::NoData) => "complete (no data)",
                    Event::Complete(Outcome::Answered { .. }) => "complete (every item refused)",
                    Event::RecordPayment {
                        method: PaymentMethod::Card,
                        ..
                    } => "record_payment (card)",
                    Event::RecordPayment { .. } => "record_payment (offline)",
                    Event::MatchCustomerRecord {
                        result: CustomerMatch::Matched,
                    } => "match_customer_record (matched)",
                    Event::MatchCustomerRecord { .. } => "match_customer_record (no match)",
                    e => e.name(),
                };
                let row = Row {
                    from,
                    event: name,
                    actors: who,
                    to,
                };
                // A change of delivery either way is one row.
                if !out.contains(&row) {
                    out.push(row);
                }
            }
        }
    }
    out
}

/// The table as Markdown, followed by a Mermaid diagram of the same rows.
pub fn markdown() -> String {
    let mut s = String::from("| from | event | who | to |\n|---|---|---|---|\n");
    for r in rows() {
        s.push_str(&format!(
            "| `{}` | `{}` | {} | `{}` |\n",
            r.from.as_str(),
            r.event,
            r.actors.join(", "),
            r.to.as_str()
        ));
    }
    s.push_str("\n```mermaid\nstateDiagram-v2\n    [*] --> submitted: file\n");
    let mut seen = std::collections::BTreeSet::new();
    for r in rows() {
        if r.from != r.to
            && seen.insert((r.from, r.to, r.event.split(' ').next().unwrap_or(r.event)))
        {
            s.push_str(&format!(
                "    {} --> {}: {}\n",
                r.from.as_str(),
                r.to.as_str(),
                r.event.split(' ').next().unwrap_or(r.event)
            ));
        }
    }
    s.push_str("```\n");
    s
}
