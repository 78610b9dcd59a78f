//! Transition tests: one per rule, then property tests over random event sequences.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use madoguchi_domain::*;
use proptest::prelude::*;

fn t0() -> DateTime<Utc> {
    // Monday 2026-11-02 10:00 JST.
    Utc.with_ymd_and_hms(2026, 11, 2, 1, 0, 0).unwrap()
}

fn officer() -> Actor {
    Actor::Staff {
        id: "o1".into(),
        role: Role::Officer,
    }
}

fn auditor() -> Actor {
    Actor::Staff {
        id: "a1".into(),
        role: Role::Auditor,
    }
}

fn filed(kind: RequestKind) -> Request {
    Request::file(kind, Policy::appi(), &FeeSchedule::default(), t0()).next
}

fn step(r: &Request, e: Event, a: &Actor) -> Request {
    apply(r, &e, a, t0())
        .unwrap_or_else(|err| panic!("{e:?}: {err}"))
        .next
}

fn mails(t: &Transition) -> Vec<(Recipient, Mail)> {
    t.effects
        .iter()
        .filter_map(|e| match e {
            Effect::Email { to, mail } => Some((*to, *mail)),
            _ => None,
        })
        .collect()
}

#[test]
fn filing_sets_due_date_fee_and_sends_confirmation() {
    let t = Request::file(
        RequestKind::Disclosure,
        Policy::appi(),
        &FeeSchedule::default(),
        t0(),
    );
    assert_eq!(t.next.state, State::Submitted);
    assert_eq!(t.next.fee, Yen(3000));
    assert_eq!(
        t.next.due_on,
        NaiveDate::from_ymd_opt(2026, 11, 16).unwrap()
    );
    // Arrived 11/2: the two weeks run 11/3–11/16, so suit lies from 11/17 (Art. 39(1)).
    assert_eq!(
        may_sue_from(t.next.arrived_at),
        NaiveDate::from_ymd_opt(2026, 11, 17).unwrap()
    );
    assert_eq!(
        t.next.may_sue_from(),
        NaiveDate::from_ymd_opt(2026, 11, 17).unwrap()
    );
    assert_eq!(mails(&t), vec![(Recipient::Subject, Mail::ConfirmAddress)]);
    let correction = filed(RequestKind::Correction);
    assert_eq!(correction.fee, Yen::ZERO);
}

#[test]
fn disclosure_walks_identity_payment_and_fulfilment() {
    let r = filed(RequestKind::Disclosure);
    let r = step(&r, Event::ConfirmEmail, &Actor::Subject);
    assert_eq!(r.state, State::IdentityReview);
    let t = apply(&r, &Event::ApproveIdentity, &officer(), t0()).unwrap();
    assert_eq!(t.next.state, State::AwaitingPayment);
    assert!(
        t.effects
            .contains(&Effect::RequestPayment { amount: Yen(3000) })
    );
    let r = t.next;
    let r = step(
        &r,
        Event::RecordPayment {
            amount: Yen(3000),
            method: PaymentMethod::Card,
        },
        &Actor::PaymentProvider,
    );
    assert_eq!(r.state, State::InProgress);
    let r = step(&r, Event::Complete(Outcome::Fulfilled), &officer());
    assert_eq!(r.state, State::Fulfilled);
    assert!(r.closed_at.is_some());
}

#[test]
fn fee_free_kinds_skip_payment() {
    let r = filed(RequestKind::Correction);
    let r = step(&r, Event::ConfirmEmail, &Actor::Subject);
    let r = step(&r, Event::ApproveIdentity, &officer());
    assert_eq!(r.state, State::InProgress);
}

#[test]
fn email_only_identity_policy_skips_review() {
    let policy = Policy {
        identity: IdentityMethod::EmailOnly,
        ..Policy::appi()
    };
    let r = Request::file(
        RequestKind::PurposeNotification,
        policy,
        &FeeSchedule::default(),
        t0(),
    )
    .next;
    let r = step(&r, Event::ConfirmEmail, &Actor::Subject);
    assert!(r.identity_verified);
    assert_eq!(r.state, State::InProgress);
}

fn customer_record_policy() -> Policy {
    let mut policy = Policy::appi();
    policy.identity_by_kind.set(
        RequestKind::Disclosure,
        Some(IdentityMethod::CustomerRecord),
    );
    policy
}

fn confirmed_by(requester: Requester, policy: Policy) -> Request {
    let t = Request::file_by(
        RequestKind::Disclosure,
        requester,
        policy,
        &FeeSchedule::default(),
        t0(),
        t0(),
    );
    step(&t.next, Event::ConfirmEmail, &Actor::Subject)
}

fn audit_actions(t: &Transition) -> Vec<String> {
    t.effects
        .iter()
        .filter_map(|e| match e {
            Effect::Audit(a) => Some(a.action.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_customer_record_match_approves_identity_as_the_system() {
    let r = confirmed_by(Requester::Subject, customer_record_policy());
    assert_eq!(
        r.state,
        State::IdentityReview,
        "confirmation alone proves nothing"
    );
    let matched = Event::MatchCustomerRecord {
        result: CustomerMatch::Matched,
    };
    let t = apply(&r, &matched, &Actor::System, t0()).unwrap();
    assert!(t.next.identity_verified);
    assert_eq!(t.next.state, State::AwaitingPayment);
    assert_eq!(
        audit_actions(&t),
        [
            "request.match_customer_record",
            "identity.matched_customer_record"
        ]
    );
    // One mail: the fee's, which says identity is settled (not two in the same second).
    assert_eq!(mails(&t), [(Recipient::Subject, Mail::PaymentRequested)]);
    // Only the system looks records up; nobody else can claim a match.
    for actor in [Actor::Subject, officer(), auditor(), Actor::PaymentProvider] {
        assert!(matches!(
            apply(&r, &matched, &actor, t0()),
            Err(TransitionError::Forbidden { .. })
        ));
    }
    // Once: identity is settled and the request has moved on.
    assert!(apply(&t.next, &matched, &Actor::System, t0()).is_err());
}

#[test]
fn no_customer_record_match_leaves_the_request_for_document_review() {
    let r = confirmed_by(Requester::Subject, customer_record_policy());
    for result in [
        CustomerMatch::NotFound,
        CustomerMatch::Unavailable,
        CustomerMatch::AgentFiled,
    ] {
        let t = apply(
            &r,
            &Event::MatchCustomerRecord { result },
            &Actor::System,
            t0(),
        )
        .unwrap();
        assert_eq!(t.next.state, State::IdentityReview);
        assert!(!t.next.identity_verified);
        assert!(mails(&t).is_empty());
        assert_eq!(
            audit_actions(&t),
            [
                "request.match_customer_record",
                "identity.customer_record_not_matched"
            ]
        );
        // The officer then decides on documents, as under the document method.
        let approved = step(&t.next, Event::ApproveIdentity, &officer());
        assert_eq!(approved.state, State::AwaitingPayment);
    }
}

#[test]
fn an_agents_request_is_never_matched_automatically() {
    for requester in [Requester::LegalRepresentative, Requester::AppointedAgent] {
        let r = confirmed_by(requester, customer_record_policy());
        let err = apply(
            &r,
            &Event::MatchCustomerRecord {
                result: CustomerMatch::Matched,
            },
            &Actor::System,
            t0(),
        )
        .unwrap_err();
        assert!(matches!(err, TransitionError::Invalid(_)), "{requester:?}");
    }
}

#[test]
fn a_lookup_is_refused_where_the_policy_does_not_use_customer_records() {
    let r = confirmed_by(Requester::Subject, Policy::appi());
    let err = apply(
        &r,
        &Event::MatchCustomerRecord {
            result: CustomerMatch::Matched,
        },
        &Actor::System,
        t0(),
    )
    .unwrap_err();
    assert!(matches!(err, TransitionError::Invalid(_)));
}

#[test]
fn the_identity_method_is_read_per_kind() {
    let mut policy = Policy::appi();
    policy.identity = IdentityMethod::EmailOnly;
    policy
        .identity_by_kind
        .set(RequestKind::Disclosure, Some(IdentityMethod::Document));
    let confirm = |kind| {
        let r = Request::file(kind, policy, &FeeSchedule::default(), t0()).next;
        step(&r, Event::ConfirmEmail, &Actor::Subject)
    };
    assert_eq!(
        confirm(RequestKind::Disclosure).state,
        State::IdentityReview
    );
    assert_eq!(confirm(RequestKind::Correction).state, State::InProgress);
}

#[test]
fn roles_are_enforced() {
    let r = step(
        &filed(RequestKind::Disclosure),
        Event::ConfirmEmail,
        &Actor::Subject,
    );
    for actor in [
        auditor(),
        Actor::Subject,
        Actor::System,
        Actor::PaymentProvider,
    ] {
        let err = apply(&r, &Event::ApproveIdentity, &actor, t0()).unwrap_err();
        assert!(
            matches!(err, TransitionError::Forbidden { .. }),
            "{actor:?}"
        );
    }
    let err = apply(
        &filed(RequestKind::Disclosure),
        &Event::ConfirmEmail,
        &officer(),
        t0(),
    )
    .unwrap_err();
    assert!(matches!(err, TransitionError::Forbidden { .. }));
}

#[test]
fn card_payments_only_from_the_webhook_and_offline_only_from_staff() {
    let r = step(
        &step(
            &filed(RequestKind::Disclosure),
            Event::ConfirmEmail,
            &Actor::Subject,
        ),
        Event::ApproveIdentity,
        &officer(),
    );
    let card = Event::RecordPayment {
        amount: Yen(3000),
        method: PaymentMethod::Card,
    };
    let cash = Event::RecordPayment {
        amount: Yen(3000),
        method: PaymentMethod::Cash,
    };
    assert!(apply(&r, &card, &officer(), t0()).is_err());
    assert!(apply(&r, &cash, &Actor::PaymentProvider, t0()).is_err());
    assert!(apply(&r, &cash, &officer(), t0()).is_ok());
}

#[test]
fn short_payment_is_refused_and_overpayment_refunded() {
    let r = step(
        &step(
            &filed(RequestKind::Disclosure),
            Event::ConfirmEmail,
            &Actor::Subject,
        ),
        Event::ApproveIdentity,
        &officer(),
    );
    let short = Event::RecordPayment {
        amount: Yen(2500),
        method: PaymentMethod::PostalMoneyOrder,
    };
    assert_eq!(
        apply(&r, &short, &officer(), t0()).unwrap_err(),
        TransitionError::ShortPayment {
            due: Yen(3000),
            got: Yen(2500)
        }
    );
    let over = Event::RecordPayment {
        amount: Yen(3500),
        method: PaymentMethod::PostalMoneyOrder,
    };
    let t = apply(&r, &over, &officer(), t0()).unwrap();
    assert!(t.effects.contains(&Effect::Refund {
        amount: Yen(500),
        reason: RefundReason::Overpayment
    }));
}

#[test]
fn refusal_needs_an_applicable_ground_and_an_explanation() {
    let r = step(
        &step(
            &filed(RequestKind::Correction),
            Event::ConfirmEmail,
            &Actor::Subject,
        ),
        Event::ApproveIdentity,
        &officer(),
    );
    let none = Event::Refuse {
        grounds: vec![],
        explanation: "x".into(),
    };
    assert!(matches!(
        apply(&r, &none, &officer(), t0()),
        Err(TransitionError::Invalid(_))
    ));
    let wrong_kind = Event::Refuse {
        grounds: vec![RefusalGround::HarmToPersons],
        explanation: "x".into(),
    };
    assert!(apply(&r, &wrong_kind, &officer(), t0()).is_err());
    let blank = Event::Refuse {
        grounds: vec![RefusalGround::ContentIsFactual],
        explanation: "  ".into(),
    };
    assert!(apply(&r, &blank, &officer(), t0()).is_err());
    let ok = Event::Refuse {
        grounds: vec![RefusalGround::ContentIsFactual],
        explanation: "調査の結果".into(),
    };
    assert_eq!(step(&r, ok, &officer()).state, State::Refused);
}

#[test]
fn a_refusal_lets_the_subject_sue_at_once_a_wait_does_not() {
    // Filed Mon 11/2; the two weeks end 11/16, so suit lies from 11/17 (Art. 39(1)).
    let r = step(
        &step(
            &filed(RequestKind::Correction),
            Event::ConfirmEmail,
            &Actor::Subject,
        ),
        Event::ApproveIdentity,
        &officer(),
    );
    assert_eq!(
        r.may_sue_from(),
        NaiveDate::from_ymd_opt(2026, 11, 17).unwrap()
    );
    // Refused on Thu 11/5 (JST): from that day on (the proviso: 拒んだとき).
    let refused_at = Utc.with_ymd_and_hms(2026, 11, 5, 3, 0, 0).unwrap();
    let refused = apply(
        &r,
        &Event::Refuse {
            grounds: vec![RefusalGround::ContentIsFactual],
            explanation: "調査の結果、内容は事実でした".into(),
        },
        &officer(),
        refused_at,
    )
    .unwrap()
    .next;
    assert_eq!(
        refused.may_sue_from(),
        NaiveDate::from_ymd_opt(2026, 11, 5).unwrap()
    );
    // Granted on the same day: nothing was refused, the wait stands.
    let granted = apply(
        &r,
        &Event::Complete(Outcome::Fulfilled),
        &officer(),
        refused_at,
    )
    .unwrap()
    .next;
    assert_eq!(
        granted.may_sue_from(),
        NaiveDate::from_ymd_opt(2026, 11, 17).unwrap()
    );
}

#[test]
fn a_request_entered_by_a_clerk_is_confirmed_by_the_clerk_and_asks_for_no_link() {
    let letter_arrived = Utc.with_ymd_and_hms(2026, 10, 30, 0, 0, 0).unwrap(); // Fri 9:00 JST
    let t = Request::enter_by(
        RequestKind::Disclosure,
        Requester::Subject,
        Policy::appi(),
        &FeeSchedule::default(),
        letter_arrived,
        ContactCheck::SignedForm,
        &officer(),
        t0(),
    )
    .unwrap();
    // No confirmation link (the requester may have no address); the office is told.
    assert_eq!(mails(&t), vec![(Recipient::Staff, Mail::StaffNewRequest)]);
    assert_eq!(t.next.state, State::IdentityReview);
    // The deadlines count from the letter's arrival, not from its entry.
    assert_eq!(
        t.next.due_on,
        NaiveDate::from_ymd_opt(2026, 11, 13).unwrap()
    );
    assert_eq!(
        t.next.may_sue_from(),
        NaiveDate::from_ymd_opt(2026, 11, 14).unwrap()
    );
    let actions: Vec<&str> = t
        .effects
        .iter()
        .filter_map(|e| match e {
            Effect::Audit(a) => Some(a.action.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        actions,
        [
            "request.filed",
            "request.confirm_requester",
            "requester.confirmed"
        ]
    );
    // Only staff enter requests: a subject cannot confirm themselves this way.
    assert!(
        Request::enter_by(
            RequestKind::Disclosure,
            Requester::Subject,
            Policy::appi(),
            &FeeSchedule::default(),
            letter_arrived,
            ContactCheck::InPerson,
            &Actor::Subject,
            t0(),
        )
        .is_err()
    );
    // An auditor changes nothing.
    assert!(
        Request::enter_by(
            RequestKind::Disclosure,
            Requester::Subject,
            Policy::appi(),
            &FeeSchedule::default(),
            letter_arrived,
            ContactCheck::InPerson,
            &auditor(),
            t0(),
        )
        .is_err()
    );
}

#[test]
fn only_notices_a_requester_must_read_or_act_on_are_posted() {
    let posted: Vec<Mail> = Mail::ALL.into_iter().filter(|m| m.by_post()).collect();
    assert_eq!(
        posted,
        [
            Mail::IdentityMoreNeeded,
            Mail::IdentityRejected,
            Mail::PaymentRequested,
            Mail::InfoNeeded,
            Mail::DeadlineExtended,
            Mail::DeliveryChanged,
            Mail::Completed,
            Mail::Refused,
            Mail::Expired,
            Mail::Refunded,
            // Not a requester's: a person an incident involves, who may have no address.
            Mail::IncidentNotice,
        ]
    );
}

fn in_progress(kind: RequestKind) -> Request {
    let r = step(&filed(kind), Event::ConfirmEmail, &Actor::Subject);
    let r = step(&r, Event::ApproveIdentity, &officer());
    if r.state == State::AwaitingPayment {
        step(
            &r,
            Event::RecordPayment {
                amount: r.amount_due(),
                method: PaymentMethod::BankTransfer,
            },
            &officer(),
        )
    } else {
        r
    }
}

fn answered(answer: Answer, explanation: &str) -> Event {
    Event::Complete(Outcome::Answered {
        answer,
        explanation: explanation.into(),
    })
}

#[test]
fn an_itemised_disclosure_closes_in_the_state_its_items_come_to() {
    let r = in_progress(RequestKind::Disclosure);
    let answer = Answer::Items {
        items: vec![
            ItemResult::Disclosed,
            ItemResult::PartiallyDisclosed {
                grounds: vec![RefusalGround::HarmToPersons],
            },
            ItemResult::NoData,
        ],
    };
    let t = apply(&r, &answered(answer, ""), &officer(), t0()).expect("accepted");
    assert_eq!(t.next.state, State::PartiallyFulfilled);
    assert_eq!(mails(&t), vec![(Recipient::Subject, Mail::Completed)]);
    let recorded = t
        .effects
        .iter()
        .find_map(|e| match e {
            Effect::Audit(a) if a.action == "answer.recorded" => Some(a.detail.clone()),
            _ => None,
        })
        .expect("the answer is audited");
    assert_eq!(recorded[0], ("items".to_owned(), "3".to_owned()));
    assert_eq!(
        recorded[2],
        (
            "item2".to_owned(),
            "partially_disclosed:harm_to_persons".to_owned()
        )
    );
    // The single-outcome path is the one-item case: same state, same mail.
    for (outcome, item) in [
        (Outcome::Fulfilled, ItemResult::Disclosed),
        (Outcome::NoData, ItemResult::NoData),
        (
            Outcome::PartiallyFulfilled {
                grounds: vec![RefusalGround::HarmToPersons],
            },
            ItemResult::PartiallyDisclosed {
                grounds: vec![RefusalGround::HarmToPersons],
            },
        ),
    ] {
        let one = apply(&r, &Event::Complete(outcome), &officer(), t0()).expect("accepted");
        let items = apply(
            &r,
            &answered(Answer::Items { items: vec![item] }, ""),
            &officer(),
            t0(),
        )
        .expect("accepted");
        assert_eq!(one.next.state, items.next.state);
        assert_eq!(mails(&one), mails(&items));
    }
}

#[test]
fn every_item_refused_is_a_refusal_that_needs_an_explanation() {
    let r = in_progress(RequestKind::Disclosure);
    let answer = Answer::Items {
        items: vec![
            ItemResult::Refused {
                grounds: vec![RefusalGround::SeriousBusinessInterference],
            },
            ItemResult::Refused {
                grounds: vec![RefusalGround::HarmToPersons],
            },
        ],
    };
    assert_eq!(
        apply(&r, &answered(answer.clone(), "  "), &officer(), t0()),
        Err(TransitionError::Answer(AnswerError::ExplanationRequired))
    );
    let t = apply(
        &r,
        &answered(answer, "業務に著しい支障があるため"),
        &officer(),
        t0(),
    )
    .expect("accepted");
    assert_eq!(t.next.state, State::Refused);
    // As `refuse`: the refusal mail, and the fee back when work had not started.
    let refuse = Event::Refuse {
        grounds: vec![
            RefusalGround::SeriousBusinessInterference,
            RefusalGround::HarmToPersons,
        ],
        explanation: "業務に著しい支障があるため".into(),
    };
    let refused = apply(&r, &refuse, &officer(), t0()).expect("accepted");
    assert_eq!(mails(&t), mails(&refused));
    assert_eq!(mails(&t)[0], (Recipient::Subject, Mail::Refused));
    let grounds = t
        .effects
        .iter()
        .find_map(|e| match e {
            Effect::Audit(a) if a.action == "grounds.recorded" => Some(a.detail.clone()),
            _ => None,
        })
        .expect("grounds audited");
    assert_eq!(
        grounds,
        vec![(
            "grounds".to_owned(),
            "serious_business_interference,harm_to_persons".to_owned()
        )]
    );
}

#[test]
fn a_detailed_answer_is_checked_against_the_kind() {
    let correction = in_progress(RequestKind::Correction);
    let items = Answer::Items {
        items: vec![ItemResult::Disclosed],
    };
    assert_eq!(
        apply(&correction, &answered(items, ""), &officer(), t0()),
        Err(TransitionError::Answer(AnswerError::WrongKind(
            "correction"
        )))
    );
    let not = Answer::Correction {
        result: CorrectionResult::NotCorrected {
            grounds: vec![RefusalGround::ContentIsFactual],
        },
    };
    assert_eq!(
        step(
            &correction,
            answered(not, "調査の結果、事実でした"),
            &officer()
        )
        .state,
        State::Refused
    );
    let erasure = in_progress(RequestKind::SuspensionOrErasure);
    let alternative = Answer::Remedy {
        result: RemedyResult::Alternative,
    };
    assert_eq!(
        step(&erasure, answered(alternative, ""), &officer()).state,
        State::PartiallyFulfilled
    );
    let done = Answer::Remedy {
        result: RemedyResult::Done {
            measure: Measure::StoppedProvision,
        },
    };
    assert_eq!(
        apply(&erasure, &answered(done, ""), &officer(), t0()),
        Err(TransitionError::Answer(AnswerError::MeasureNotApplicable))
    );
}

#[test]
fn a_disclosure_may_change_its_delivery_method_with_a_reason_before_it_is_answered() {
    let change = |reason: &str| Event::ChangeDelivery {
        to: DeliveryMethod::Paper,
        reason: reason.into(),
    };
    let mut r = in_progress(RequestKind::Disclosure);
    r.delivery = Some(DeliveryMethod::Electronic);
    let t = apply(
        &r,
        &change("ファイルが大きく電子的な提供が困難なため"),
        &officer(),
        t0(),
    )
    .unwrap();
    assert_eq!(t.next.state, State::InProgress, "the work goes on");
    assert_eq!(mails(&t), [(Recipient::Subject, Mail::DeliveryChanged)]);
    let detail = &t
        .effects
        .iter()
        .find_map(|e| match e {
            Effect::Audit(a) if a.action == "delivery.changed" => Some(a.detail.clone()),
            _ => None,
        })
        .expect("audited");
    assert!(detail.contains(&("method".to_owned(), "paper".to_owned())));
    assert!(detail.contains(&("from_method".to_owned(), "electronic".to_owned())));
    assert_eq!(
        t.next.delivery,
        Some(DeliveryMethod::Paper),
        "the request has the new method"
    );
    assert!(
        !detail.iter().any(|(_, v)| v.contains("ファイル")),
        "the reason is for the subject, not the trail"
    );
    assert!(matches!(
        apply(&r, &change("  "), &officer(), t0()),
        Err(TransitionError::Invalid(_))
    ));
    assert!(matches!(
        apply(&t.next, &change("x"), &officer(), t0()),
        Err(TransitionError::Invalid(_))
    ));
    assert!(matches!(
        apply(
            &in_progress(RequestKind::Correction),
            &change("x"),
            &officer(),
            t0()
        ),
        Err(TransitionError::Invalid(_))
    ));
    assert!(matches!(
        apply(&r, &change("x"), &auditor(), t0()),
        Err(TransitionError::Forbidden { .. })
    ));
    let done = step(&r, Event::Complete(Outcome::Fulfilled), &officer());
    assert!(matches!(
        apply(&done, &change("x"), &officer(), t0()),
        Err(TransitionError::NotAllowed { .. })
    ));
}

#[test]
fn withdrawal_before_work_refunds_and_after_work_does_not() {
    let paid = step(
        &step(
            &step(
                &filed(RequestKind::Disclosure),
                Event::ConfirmEmail,
                &Actor::Subject,
            ),
            Event::ApproveIdentity,
            &officer(),
        ),
        Event::RecordPayment {
            amount: Yen(3000),
            method: PaymentMethod::BankTransfer,
        },
        &officer(),
    );
    let t = apply(&paid, &Event::Withdraw, &Actor::Subject, t0()).unwrap();
    assert!(t.effects.contains(&Effect::Refund {
        amount: Yen(3000),
        reason: RefundReason::WithdrawnBeforeWork
    }));
    let working = step(&paid, Event::StartWork, &officer());
    let t = apply(&working, &Event::Withdraw, &Actor::Subject, t0()).unwrap();
    assert!(!t.effects.iter().any(|e| matches!(e, Effect::Refund { .. })));
}

#[test]
fn expiry_only_after_the_deadline_and_only_by_the_system() {
    let r = filed(RequestKind::Disclosure);
    assert!(apply(&r, &Event::Expire, &Actor::System, t0()).is_err());
    let later = t0() + Duration::hours(73);
    let t = apply(&r, &Event::Expire, &Actor::System, later).unwrap();
    assert_eq!(t.next.state, State::Expired);
    // Nothing goes to an address nobody confirmed.
    assert!(mails(&t).is_empty());
    assert!(apply(&r, &Event::Expire, &officer(), later).is_err());
}

#[test]
fn the_subject_is_warned_once_per_waiting_period_before_expiry() {
    let r = step(
        &filed(RequestKind::Disclosure),
        Event::ConfirmEmail,
        &Actor::Subject,
    );
    let r = step(&r, Event::ApproveIdentity, &officer());
    assert_eq!(r.state, State::AwaitingPayment);
    let at = r.expires_at.unwrap();
    let warn = |r: &Request, now| apply(r, &Event::WarnExpiry, &Actor::System, now);
    assert!(warn(&r, at - Duration::hours(73)).is_err(), "too early");
    assert!(
        apply(&r, &Event::WarnExpiry, &officer(), at - Duration::hours(1)).is_err(),
        "only the system reminds"
    );
    let t = warn(&r, at - Duration::hours(72)).unwrap();
    assert_eq!(
        t.next.state,
        State::AwaitingPayment,
        "a reminder changes nothing else"
    );
    assert_eq!(t.next.expires_at, r.expires_at);
    assert_eq!(mails(&t), vec![(Recipient::Subject, Mail::ExpiryWarning)]);
    assert!(warn(&t.next, at - Duration::hours(1)).is_err(), "once");
    assert!(warn(&r, at).is_err(), "not once expired");
    // A new waiting period (more information asked later) warns again.
    let paid = step(
        &t.next,
        Event::RecordPayment {
            amount: Yen(3000),
            method: PaymentMethod::BankTransfer,
        },
        &officer(),
    );
    let asked = apply(
        &paid,
        &Event::RequestInfo {
            question: "which account?".into(),
        },
        &officer(),
        t0() + Duration::days(2),
    )
    .unwrap()
    .next;
    let again = asked.expires_at.unwrap();
    assert_ne!(Some(again), t.next.expiry_warned_for);
    assert!(warn(&asked, again - Duration::hours(2)).is_ok());
    // Nothing to an address nobody confirmed.
    let unconfirmed = filed(RequestKind::Disclosure);
    let exp = unconfirmed.expires_at.unwrap();
    assert!(warn(&unconfirmed, exp - Duration::hours(1)).is_err());
}

#[test]
fn waiting_for_the_subject_pauses_the_appi_clock() {
    let r = filed(RequestKind::Correction);
    let due = r.due_on;
    // Confirmed three days later: the deadline moves three days.
    let t = apply(
        &r,
        &Event::ConfirmEmail,
        &Actor::Subject,
        t0() + Duration::days(3),
    )
    .unwrap();
    assert_eq!(t.next.due_on, due + Duration::days(3));
    // GDPR does not pause.
    let g = Request::file(
        RequestKind::Correction,
        Policy::gdpr(),
        &FeeSchedule::default(),
        t0(),
    )
    .next;
    let t = apply(
        &g,
        &Event::ConfirmEmail,
        &Actor::Subject,
        t0() + Duration::days(3),
    )
    .unwrap();
    assert_eq!(t.next.due_on, g.due_on);
}

#[test]
fn extension_once_and_only_where_the_policy_allows() {
    let appi = step(
        &step(
            &filed(RequestKind::Correction),
            Event::ConfirmEmail,
            &Actor::Subject,
        ),
        Event::ApproveIdentity,
        &officer(),
    );
    let ext = Event::ExtendDeadline {
        reason: "complex".into(),
    };
    assert!(apply(&appi, &ext, &officer(), t0()).is_err());
    let g = Request::file(
        RequestKind::Correction,
        Policy::gdpr(),
        &FeeSchedule::default(),
        t0(),
    )
    .next;
    let g = step(
        &step(&g, Event::ConfirmEmail, &Actor::Subject),
        Event::ApproveIdentity,
        &officer(),
    );
    let extended = step(&g, ext.clone(), &officer());
    assert_eq!(
        extended.due_on,
        NaiveDate::from_ymd_opt(2027, 2, 2).unwrap()
    );
    assert!(apply(&extended, &ext, &officer(), t0()).is_err());
}

#[test]
fn terminal_states_accept_only_audit_events() {
    let r = step(
        &filed(RequestKind::Disclosure),
        Event::Withdraw,
        &Actor::Subject,
    );
    assert_eq!(r.state, State::Withdrawn);
    assert!(apply(&r, &Event::ConfirmEmail, &Actor::Subject, t0()).is_err());
    let t = apply(
        &r,
        &Event::Record(AuditOnly::Viewed {
            target: "details".into(),
        }),
        &auditor(),
        t0(),
    )
    .unwrap();
    assert_eq!(t.next, r);
    assert_eq!(t.effects.len(), 1);
}

#[test]
fn available_events_match_what_apply_accepts() {
    let r = step(
        &filed(RequestKind::Disclosure),
        Event::ConfirmEmail,
        &Actor::Subject,
    );
    assert_eq!(
        available_events(&r, &officer(), t0()),
        vec![
            "approve_identity",
            "request_more_evidence",
            "reject_identity",
            "change_delivery",
            "withdraw"
        ]
    );
    assert!(available_events(&r, &auditor(), t0()).is_empty());
}

/// The officer's next step in each state a disclosure passes through, written down by hand:
/// what the workspace shows first (the rest stays one step away).
#[test]
fn the_next_step_is_the_one_that_moves_the_request_on() {
    let next = |r: &Request| -> Vec<&'static str> {
        available_events(r, &officer(), t0())
            .into_iter()
            .filter(|e| is_next_step(r, e))
            .collect()
    };
    let filed = filed(RequestKind::Disclosure);
    assert!(next(&filed).is_empty(), "the subject confirms first");
    let review = step(&filed, Event::ConfirmEmail, &Actor::Subject);
    assert_eq!(
        next(&review),
        vec!["approve_identity", "request_more_evidence"]
    );
    let asked = step(
        &review,
        Event::RequestMoreEvidence {
            missing: "the back of the card".into(),
        },
        &officer(),
    );
    assert_eq!(next(&asked), vec!["submit_evidence"]);
    let unpaid = step(&review, Event::ApproveIdentity, &officer());
    assert_eq!(unpaid.state, State::AwaitingPayment);
    assert_eq!(next(&unpaid), vec!["record_payment"]);
    let paid = step(
        &unpaid,
        Event::RecordPayment {
            amount: Yen(3000),
            method: PaymentMethod::BankTransfer,
        },
        &officer(),
    );
    assert_eq!(next(&paid), vec!["start_work", "complete"]);
    let working = step(&paid, Event::StartWork, &officer());
    assert_eq!(next(&working), vec!["complete"]);
    let waiting = step(
        &working,
        Event::RequestInfo {
            question: "which shop?".into(),
        },
        &officer(),
    );
    assert_eq!(next(&waiting), vec!["provide_info"]);
    let done = step(&working, Event::Complete(Outcome::Fulfilled), &officer());
    assert!(next(&done).is_empty(), "nothing moves a closed request on");
    // Refusing is never the step shown first.
    assert!(!is_next_step(&working, "refuse"));
    assert!(!is_next_step(&review, "reject_identity"));
}

#[test]
fn a_paper_disclosure_is_offered_the_switch_to_electronic_and_back() {
    let mut r = step(
        &filed(RequestKind::Disclosure),
        Event::ConfirmEmail,
        &Actor::Subject,
    );
    for method in [DeliveryMethod::Paper, DeliveryMethod::Electronic] {
        r.delivery = Some(method);
        assert!(
            available_events(&r, &officer(), t0()).contains(&"change_delivery"),
            "{method:?}"
        );
    }
}

// ---- property tests -------------------------------------------------------------------

fn any_kind() -> impl Strategy<Value = RequestKind> {
    proptest::sample::select(RequestKind::ALL.to_vec())
}

fn any_actor() -> impl Strategy<Value = Actor> {
    prop_oneof![
        Just(Actor::Subject),
        Just(officer()),
        Just(auditor()),
        Just(Actor::Staff {
            id: "ad".into(),
            role: Role::Admin
        }),
        Just(Actor::System),
        Just(Actor::PaymentProvider),
    ]
}

fn any_event() -> impl Strategy<Value = Event> {
    let ground = proptest::sample::select(RefusalGround::ALL.to_vec());
    let method = proptest::sample::select(PaymentMethod::ALL.to_vec());
    prop_oneof![
        Just(Event::ConfirmEmail),
        Just(Event::ConfirmRequester {
            how: ContactCheck::CallBack
        }),
        Just(Event::SubmitEvidence),
        Just(Event::ApproveIdentity),
        Just(Event::RequestMoreEvidence {
            missing: "back side".into()
        }),
        Just(Event::RejectIdentity {
            reason: "mismatch".into()
        }),
        (0i64..5000, method).prop_map(|(a, m)| Event::RecordPayment {
            amount: Yen(a),
            method: m
        }),
        Just(Event::StartWork),
        Just(Event::RequestInfo {
            question: "which service?".into()
        }),
        Just(Event::ProvideInfo),
        Just(Event::ExtendDeadline {
            reason: "volume".into()
        }),
        Just(Event::ChangeDelivery {
            to: madoguchi_domain::DeliveryMethod::Paper,
            reason: "too large to send".into()
        }),
        Just(Event::Complete(Outcome::Fulfilled)),
        Just(Event::Complete(Outcome::NoData)),
        proptest::collection::vec(ground.clone(), 0..3)
            .prop_map(|g| Event::Complete(Outcome::PartiallyFulfilled { grounds: g })),
        proptest::collection::vec(
            (0u8..5, proptest::collection::vec(ground.clone(), 0..2)),
            0..4
        )
        .prop_map(|items| answered(
            Answer::Items {
                items: items
                    .into_iter()
                    .map(|(r, grounds)| match r {
                        0 => ItemResult::Disclosed,
                        1 => ItemResult::PartiallyDisclosed { grounds },
                        2 => ItemResult::NoData,
                        3 => ItemResult::Refused { grounds },
                        _ => ItemResult::UnderOtherLaw,
                    })
                    .collect()
            },
            "reason"
        )),
        proptest::collection::vec(ground, 0..3).prop_map(|g| Event::Refuse {
            grounds: g,
            explanation: "reason".into()
        }),
        Just(Event::Withdraw),
        Just(Event::Expire),
        Just(Event::WarnExpiry),
        proptest::sample::select(vec![
            CustomerMatch::Matched,
            CustomerMatch::NotFound,
            CustomerMatch::AgentFiled,
            CustomerMatch::Unavailable,
        ])
        .prop_map(|result| Event::MatchCustomerRecord { result }),
        Just(Event::Record(AuditOnly::Note)),
        Just(Event::Record(AuditOnly::Viewed {
            target: "details".into()
        })),
    ]
}

fn any_policy() -> impl Strategy<Value = Policy> {
    let identity = proptest::sample::select(vec![
        IdentityMethod::EmailOnly,
        IdentityMethod::CustomerRecord,
        IdentityMethod::Document,
    ]);
    let per_kind = proptest::collection::vec(proptest::option::of(identity.clone()), 6);
    (
        proptest::sample::select(Jurisdiction::ALL.to_vec()),
        identity,
        per_kind,
        any::<bool>(),
    )
        .prop_map(|(j, identity, per_kind, business)| {
            let mut p = Policy::for_jurisdiction(j);
            p.identity = identity;
            for (kind, method) in RequestKind::ALL.into_iter().zip(per_kind) {
                p.identity_by_kind.set(kind, method);
            }
            if business {
                p.deadline.period = Period::BusinessDays(10);
            }
            p
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn lifecycle_invariants_hold_for_any_event_sequence(
        kind in any_kind(),
        requester in proptest::sample::select(Requester::ALL.to_vec()),
        policy in any_policy(),
        steps in proptest::collection::vec((any_event(), any_actor(), 0i64..200), 0..40),
    ) {
        let mut now = t0();
        let mut request =
            Request::file_by(kind, requester, policy, &FeeSchedule::default(), now, now).next;
        for (event, actor, hours) in steps {
            now += Duration::hours(hours);
            let before = request.clone();
            match apply(&before, &event, &actor, now) {
                Ok(t) => {
                    // Every accepted event leaves at least one audit entry.
                    prop_assert!(t.effects.iter().any(|e| matches!(e, Effect::Audit(_))));
                    // Terminal requests only record.
                    if before.state.is_terminal() {
                        prop_assert_eq!(&t.next, &before);
                        prop_assert!(matches!(event, Event::Record(_)));
                    }
                    // The due date never moves earlier.
                    prop_assert!(t.next.due_on >= before.due_on);
                    // Fulfilment needs identity and, where a fee applies, the fee.
                    if t.next.state.is_fulfilment() {
                        prop_assert!(t.next.identity_verified);
                        prop_assert!(t.next.paid >= t.next.fee);
                    }
                    // Nobody but staff who work requests moves a request forward past identity.
                    if t.next.state != before.state && matches!(actor, Actor::Staff { role: Role::Auditor, .. }) {
                        prop_assert!(false, "auditor changed state");
                    }
                    // Identity is proven by a record match only for the subject's own request.
                    if !before.identity_verified && t.next.identity_verified
                        && matches!(event, Event::MatchCustomerRecord { .. }) {
                        prop_assert!(!requester.is_agent());
                        prop_assert_eq!(
                            policy.identity_for(kind),
                            IdentityMethod::CustomerRecord
                        );
                    }
                    // Closed requests carry their closing time.
                    prop_assert_eq!(t.next.state.is_terminal(), t.next.closed_at.is_some());
                    // Refunds never exceed what was paid.
                    for e in &t.effects {
                        if let Effect::Refund { amount, reason } = e
                            && *reason != RefundReason::Overpayment {
                                prop_assert!(*amount <= before.paid);
                            }
                    }
                    request = t.next;
                }
                Err(_) => prop_assert_eq!(&request, &before),
            }
        }
    }

    #[test]
    fn fees_only_where_article_38_allows(kind in any_kind(), fee in 0i64..100_000) {
        let mut s = FeeSchedule::free();
        let result = s.set(kind, Yen(fee));
        if fee > 0 && !kind.fee_allowed_under_appi() {
            prop_assert_eq!(result.clone(), Err(FeeError::NotAllowed(kind)));
        }
        if result.is_ok() {
            prop_assert_eq!(s.fee(kind), Yen(fee));
        }
    }
}

/// docs/state-machine.md embeds the table generated from `apply`; regenerate it with
/// `UPDATE_DOCS=1 cargo test -p madoguchi-domain --test lifecycle`.
#[test]
fn the_documented_state_machine_is_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/state-machine.md");
    let doc = std::fs::read_to_string(path).unwrap_or_default();
    let begin = "<!-- BEGIN GENERATED TABLE -->\n";
    let end = "<!-- END GENERATED TABLE -->";
    let generated = madoguchi_domain::table::markdown();
    if std::env::var("UPDATE_DOCS").is_ok() {
        let (head, rest) = doc.split_once(begin).expect("begin marker");
        let (_, tail) = rest.split_once(end).expect("end marker");
        std::fs::write(path, format!("{head}{begin}{generated}{end}{tail}")).unwrap();
        return;
    }
    assert!(
        doc.contains(&format!("{begin}{generated}{end}")),
        "docs/state-machine.md is stale; run UPDATE_DOCS=1 cargo test -p madoguchi-domain --test lifecycle"
    );
}

// ---- rules cited by docs/appi.md, each with its own expectation --------------------------

fn reviewing(kind: RequestKind) -> Request {
    step(&filed(kind), Event::ConfirmEmail, &Actor::Subject)
}

#[test]
fn identity_is_rejected_only_with_a_reason_and_the_subject_is_told() {
    // Art. 37(1) with Art. 36: closing on identity needs words for the subject.
    let r = reviewing(RequestKind::Disclosure);
    let blank = Event::RejectIdentity { reason: " ".into() };
    assert!(apply(&r, &blank, &officer(), t0()).is_err());
    let t = apply(
        &r,
        &Event::RejectIdentity {
            reason: "ご提出の書類ではご本人と確認できませんでした".into(),
        },
        &officer(),
        t0(),
    )
    .unwrap();
    assert_eq!(t.next.state, State::Rejected);
    assert!(mails(&t).contains(&(Recipient::Subject, Mail::IdentityRejected)));
}

#[test]
fn a_published_purpose_is_a_ground_for_a_purpose_notification_only() {
    // Art. 32(2)(i): the purpose is already clear from what was published.
    for kind in RequestKind::ALL {
        let r = in_progress(kind);
        let refused = apply(
            &r,
            &Event::Refuse {
                grounds: vec![RefusalGround::PurposeAlreadyPublished],
                explanation: "プライバシーポリシーに記載のとおりです".into(),
            },
            &officer(),
            t0(),
        );
        assert_eq!(
            refused.is_ok(),
            kind == RequestKind::PurposeNotification,
            "{kind:?}"
        );
    }
    assert_eq!(
        RefusalGround::PurposeAlreadyPublished.article(),
        "第32条第2項第1号"
    );
}

#[test]
fn a_partial_answer_names_what_it_withholds_on() {
    // Art. 33(2): withholding part of the data needs a ground.
    let r = in_progress(RequestKind::Disclosure);
    let none = Event::Complete(Outcome::PartiallyFulfilled { grounds: vec![] });
    assert!(apply(&r, &none, &officer(), t0()).is_err());
    let named = Event::Complete(Outcome::PartiallyFulfilled {
        grounds: vec![RefusalGround::HarmToPersons],
    });
    assert_eq!(
        apply(&r, &named, &officer(), t0()).unwrap().next.state,
        State::PartiallyFulfilled
    );
}

#[test]
fn data_not_retained_is_a_ground_for_every_kind() {
    // Art. 16(4): only 保有個人データ carry these rights; data the business does not hold as
    // such (handled only for another, or exempted by the Cabinet Order) fall outside every
    // kind of request.
    for kind in RequestKind::ALL {
        let r = in_progress(kind);
        let t = apply(
            &r,
            &Event::Refuse {
                grounds: vec![RefusalGround::NotRetainedData],
                explanation: "保有個人データに該当しません".into(),
            },
            &officer(),
            t0(),
        )
        .unwrap_or_else(|e| panic!("{kind:?}: {e}"));
        assert_eq!(t.next.state, State::Refused, "{kind:?}");
        assert!(mails(&t).contains(&(Recipient::Subject, Mail::Refused)));
    }
    assert_eq!(RefusalGround::NotRetainedData.article(), "第16条第4項");
}

/// The requester's row of steps, written down by hand for a fee-paying disclosure and a
/// free correction.
#[test]
fn the_requesters_progress_marks_where_the_request_stands() {
    use madoguchi_domain::progress::{Mark::*, Step::*, progress};
    let filed = filed(RequestKind::Disclosure);
    assert_eq!(
        progress(&filed),
        vec![
            (Received, Done),
            (ContactConfirmed, Current),
            (Identity, Ahead),
            (Fee, Ahead),
            (Work, Ahead),
            (Answer, Ahead)
        ]
    );
    let review = step(&filed, Event::ConfirmEmail, &Actor::Subject);
    let unpaid = step(&review, Event::ApproveIdentity, &officer());
    assert_eq!(
        progress(&unpaid),
        vec![
            (Received, Done),
            (ContactConfirmed, Done),
            (Identity, Done),
            (Fee, Current),
            (Work, Ahead),
            (Answer, Ahead)
        ]
    );
    let paid = step(
        &unpaid,
        Event::RecordPayment {
            amount: Yen(3000),
            method: PaymentMethod::BankTransfer,
        },
        &officer(),
    );
    let done = step(&paid, Event::Complete(Outcome::Fulfilled), &officer());
    assert!(progress(&done).iter().all(|(_, m)| *m == Done));
    // A correction has no fee step.
    let correction = step(&filed_correction(), Event::ConfirmEmail, &Actor::Subject);
    assert_eq!(
        progress(&correction),
        vec![
            (Received, Done),
            (ContactConfirmed, Done),
            (Identity, Current),
            (Work, Ahead),
            (Answer, Ahead)
        ]
    );
    // Ended without an answer: no row of steps.
    let withdrawn = step(&review, Event::Withdraw, &Actor::Subject);
    assert!(progress(&withdrawn).is_empty());
}

fn filed_correction() -> Request {
    filed(RequestKind::Correction)
}

/// Assigning is an officer's act on the trail, like every other, and an auditor's is refused.
#[test]
fn assigning_is_recorded_by_the_core_for_workers_only() {
    let r = filed(RequestKind::Disclosure);
    let t = apply(
        &r,
        &Event::Record(AuditOnly::Assigned { assignee: Some(7) }),
        &officer(),
        t0(),
    )
    .unwrap();
    assert_eq!(t.next, r, "nothing of the request changes but who works it");
    assert_eq!(
        t.effects,
        vec![Effect::Audit(AuditRecord {
            action: "request.assigned".into(),
            // Staff acts on the trail name the role they acted in.
            detail: vec![
                ("assignee".into(), "7".into()),
                ("role".into(), "officer".into())
            ],
        })]
    );
    assert!(
        apply(
            &r,
            &Event::Record(AuditOnly::Assigned { assignee: None }),
            &auditor(),
            t0()
        )
        .is_err()
    );
}
