//! Every outcome of every kind, table-driven from the core: for each kind, the officer's
//! terminal actions are the ones `available_events` offers on a request in progress; each is
//! driven through the service on a real request, and the state it ends in and the mail it sends
//! must be exactly what `apply` predicts, and what the rules written down here by hand say.

use chrono::Utc;
use madoguchi_domain::{
    Actor, Effect, Event, Outcome, PaymentMethod, RefusalGround, RequestKind, Role, State,
    SuspensionGround, apply, available_events,
};
use madoguchi_service::EventText;
use madoguchi_store::audit::Origin;

use crate::helpers::*;
use crate::on_both;

fn officer() -> Actor {
    Actor::Staff {
        id: "officer-table".into(),
        role: Role::Officer,
    }
}

/// What an intake of `kind` needs besides the common fields.
fn intake(kind: RequestKind, email: &str) -> serde_json::Value {
    let mut body = valid_json(email);
    body["kind"] = kind.as_str().into();
    if !kind.is_disclosure() {
        body.as_object_mut().unwrap().remove("delivery");
    }
    if kind.needs_ground() {
        let ground = SuspensionGround::ALL
            .into_iter()
            .find(|g| g.applies_to(kind))
            .expect("every kind that needs a ground has one");
        body["ground"] = ground.as_str().into();
    }
    if kind == RequestKind::Correction {
        body["current_content"] = "旧住所".into();
        body["correct_content"] = "新住所".into();
    }
    body
}

/// The rules written down independently of the core (the seed policy and APPI): each outcome's
/// end state, and the mail the subject (and the office) get, as a sorted list. A fee paid for
/// a request refused or withdrawn before work started goes back (the seed's refund rule);
/// an answer on the merits means the work was done, so the fee stays.
fn written_rule(kind: RequestKind, event: &Event) -> (&'static str, Vec<&'static str>) {
    let paid = matches!(
        kind,
        RequestKind::Disclosure | RequestKind::ThirdPartyRecordDisclosure
    );
    let refund: &[&'static str] = if paid { &["refunded"] } else { &[] };
    let (state, mut mails): (&str, Vec<&str>) = match event {
        Event::Complete(Outcome::Fulfilled) => ("fulfilled", vec!["completed"]),
        Event::Complete(Outcome::PartiallyFulfilled { .. }) => {
            ("partially_fulfilled", vec!["completed"])
        }
        Event::Complete(Outcome::NoData) => ("no_data", vec!["completed"]),
        Event::Refuse { .. } => ("refused", [&["refused"][..], refund].concat()),
        Event::Withdraw => (
            "withdrawn",
            [&["withdrawn", "staff_withdrawn"][..], refund].concat(),
        ),
        other => panic!("no written rule for {}", other.name()),
    };
    mails.sort_unstable();
    (state, mails)
}

/// The concrete events behind each terminal action the core offers for `kind`.
fn terminal_events(kind: RequestKind, offered: &[&str]) -> Vec<(Event, &'static str)> {
    let ground = RefusalGround::ALL
        .into_iter()
        .find(|g| g.applies_to(kind))
        .expect("every kind has a refusal ground");
    let mut out = Vec::new();
    for name in offered {
        match *name {
            "complete" => {
                out.push((Event::Complete(Outcome::Fulfilled), ""));
                out.push((
                    Event::Complete(Outcome::PartiallyFulfilled {
                        grounds: vec![ground],
                    }),
                    "一部についてはお応えできません。",
                ));
                out.push((Event::Complete(Outcome::NoData), ""));
            }
            "refuse" => out.push((
                Event::Refuse {
                    grounds: vec![ground],
                    explanation: "法令に基づきお応えできません。".into(),
                },
                "法令に基づきお応えできません。",
            )),
            "withdraw" => out.push((Event::Withdraw, "")),
            _ => {}
        }
    }
    out
}

on_both!(
    every_outcome_of_every_kind_ends_where_the_core_says_with_its_mail,
    |app: TestApp| async move {
        let mut covered = Vec::new();
        for kind in RequestKind::ALL {
            // The actions come from the core, on a request of this kind in progress.
            let probe = {
                let email = format!("probe-{}@example.jp", kind.as_str());
                let pid = file_to_work(&app, kind, &email).await;
                madoguchi_store::requests::to_domain(&app.request(pid).await).unwrap()
            };
            assert_eq!(probe.state, State::InProgress, "{kind:?}");
            let offered = available_events(&probe, &officer(), Utc::now());
            for name in ["complete", "refuse", "withdraw"] {
                assert!(
                    offered.contains(&name),
                    "{kind:?} offers {name}: {offered:?}"
                );
            }
            for (i, (event, text)) in terminal_events(kind, &offered).into_iter().enumerate() {
                let email = format!("outcome-{}-{i}@example.jp", kind.as_str());
                let pid = file_to_work(&app, kind, &email).await;
                let before = app.request(pid).await;
                let predicted = apply(
                    &madoguchi_store::requests::to_domain(&before).unwrap(),
                    &event,
                    &officer(),
                    Utc::now(),
                )
                .unwrap_or_else(|e| panic!("{kind:?} {}: {e}", event.name()));
                let mails: Vec<&str> = predicted
                    .effects
                    .iter()
                    .filter_map(|e| match e {
                        Effect::Email { mail, .. } => Some(mail.as_str()),
                        _ => None,
                    })
                    .collect();
                let after = app
                    .service
                    .act(
                        pid,
                        Some(before.version),
                        &event,
                        &officer(),
                        &EventText {
                            message: Some(text.to_owned()).filter(|t| !t.is_empty()),
                            reference: None,
                        },
                        &Origin::default(),
                        Utc::now(),
                    )
                    .await
                    .unwrap_or_else(|e| panic!("{kind:?} {}: {e}", event.name()));
                assert_eq!(
                    after.state,
                    predicted.next.state.as_str(),
                    "{kind:?} {}",
                    event.name()
                );
                assert!(
                    predicted.next.state.is_terminal(),
                    "{kind:?} {}",
                    event.name()
                );
                assert!(after.closed_at.is_some(), "the retention clock starts");
                let queued: Vec<String> = madoguchi_store::outbox::for_request(
                    app.service.db().conn(),
                    app.service.cipher(),
                    after.id,
                )
                .await
                .unwrap()
                .into_iter()
                .map(|m| m.template)
                .collect();
                let new = &queued[queued.len() - mails.len()..];
                assert_eq!(new, mails.as_slice(), "{kind:?} {}", event.name());
                assert!(
                    mails
                        .iter()
                        .any(|m| ["completed", "refused", "withdrawn"].contains(m)),
                    "the subject is told: {mails:?}"
                );
                // And what the rules say, written down without the core.
                let (state, written) = written_rule(kind, &event);
                assert_eq!(after.state, state, "{kind:?} {}", event.name());
                let mut sorted: Vec<&str> = new.iter().map(String::as_str).collect();
                sorted.sort_unstable();
                assert_eq!(sorted, written, "{kind:?} {}", event.name());
                covered.push((kind, predicted.next.state));
            }
        }
        // Six kinds, each answered in full, in part, with no data, refused and withdrawn.
        assert_eq!(covered.len(), RequestKind::ALL.len() * 5);
        app.deliver_mail().await;
        app.verify_audit().await;
    }
);

/// Files a request of `kind`, confirms it, approves identity and pays any fee: in progress.
async fn file_to_work(app: &TestApp, kind: RequestKind, email: &str) -> uuid::Uuid {
    let res = app
        .client
        .post_json("/api/v1/requests", &intake(kind, email))
        .await;
    assert_eq!(res.status, 201, "{kind:?}: {}", res.body);
    let pid = uuid::Uuid::parse_str(res.json()["id"].as_str().unwrap()).unwrap();
    let path = app.confirmation_path(email).await;
    let page = app.client.get(&path).await;
    let res = app.client.post_form(&path, &[("csrf", &page.csrf())]).await;
    assert_eq!(res.status, 303, "{}", res.body);
    let act = |event: Event| async move {
        app.service
            .act(
                pid,
                None,
                &event,
                &officer(),
                &EventText::default(),
                &Origin::default(),
                Utc::now(),
            )
            .await
            .unwrap()
    };
    let row = act(Event::ApproveIdentity).await;
    if row.state == State::AwaitingPayment.as_str() {
        act(Event::RecordPayment {
            amount: madoguchi_domain::Yen(row.fee),
            method: PaymentMethod::BankTransfer,
        })
        .await;
    }
    pid
}

on_both!(
    the_rarer_grounds_are_filed_and_refused_on_as_the_law_names_them,
    |app: TestApp| async move {
        // Art. 35(5): a stop or erasure asked for because of a reportable breach or a harm to
        // the subject's rights, for use and for provision alike.
        let console = staff_client(&app, Role::Officer).await;
        for (ground, words) in [
            ("reportable_breach", "漏えい等の事態が生じた（第26条第1項）"),
            (
                "harm_to_rights",
                "権利又は正当な利益が害されるおそれ（第35条第5項）",
            ),
        ] {
            for kind in [
                RequestKind::SuspensionOrErasure,
                RequestKind::ThirdPartyStop,
            ] {
                let email = format!("{ground}-{}@example.jp", kind.as_str());
                let mut body = intake(kind, &email);
                body["ground"] = ground.into();
                let res = app.client.post_json("/api/v1/requests", &body).await;
                assert_eq!(res.status, 201, "{ground} {kind:?}: {}", res.body);
                let pid = uuid::Uuid::parse_str(res.json()["id"].as_str().unwrap()).unwrap();
                assert_eq!(app.request(pid).await.ground.as_deref(), Some(ground));
                let page = console.get(&format!("/staff/requests/{pid}")).await;
                assert!(page.body.contains(words), "{ground} {kind:?}");
            }
        }
        // Refusals on the grounds only one kind has: a purpose notification whose notice
        // would harm someone (Art. 32(2)(ii)), and a record of provision the law excludes
        // (Art. 33(5), Cabinet Order Art. 11).
        for (kind, ground, article) in [
            (
                RequestKind::PurposeNotification,
                RefusalGround::PurposeNoticeException,
                "第32条第2項第2号",
            ),
            (
                RequestKind::ThirdPartyRecordDisclosure,
                RefusalGround::ExcludedRecord,
                "第33条第5項・政令第11条",
            ),
        ] {
            let email = format!("refused-{}@example.jp", ground.as_str());
            let pid = file_to_work(&app, kind, &email).await;
            let row = app
                .service
                .act(
                    pid,
                    None,
                    &Event::Refuse {
                        grounds: vec![ground],
                        explanation: "法令の定めによりお応えできません。".into(),
                    },
                    &officer(),
                    &EventText {
                        message: Some("法令の定めによりお応えできません。".into()),
                        reference: None,
                    },
                    &Origin::default(),
                    Utc::now(),
                )
                .await
                .unwrap();
            assert_eq!(row.state, "refused");
            app.deliver_mail().await;
            let refusal = app
                .mails_to(&email)
                .await
                .into_iter()
                .map(|m| crate::answers::unqp(&m.text))
                .find(|t| t.contains("応じることができない"))
                .expect("the refusal is mailed");
            assert!(refusal.contains(article), "{ground:?}: {refusal}");
            // Not on a kind it does not belong to.
            let other = if kind == RequestKind::PurposeNotification {
                RequestKind::Correction
            } else {
                RequestKind::Disclosure
            };
            let pid = file_to_work(
                &app,
                other,
                &format!("wrong-{}@example.jp", ground.as_str()),
            )
            .await;
            let wrong = app
                .service
                .act(
                    pid,
                    None,
                    &Event::Refuse {
                        grounds: vec![ground],
                        explanation: "x".into(),
                    },
                    &officer(),
                    &EventText::default(),
                    &Origin::default(),
                    Utc::now(),
                )
                .await;
            assert!(wrong.is_err(), "{ground:?} on {other:?}");
        }
    }
);

on_both!(
    the_refusal_form_offers_only_the_grounds_of_the_kind,
    |app: TestApp| async move {
        // Art. 36 with Arts. 33(2), 34: the officer can only cite a ground the kind has.
        let console = staff_client(&app, Role::Officer).await;
        for (kind, offered, not_offered) in [
            (
                RequestKind::Correction,
                "content_is_factual",
                "harm_to_persons",
            ),
            (
                RequestKind::Disclosure,
                "harm_to_persons",
                "content_is_factual",
            ),
        ] {
            let pid = file_to_work(&app, kind, &format!("form-{}@example.jp", kind.as_str())).await;
            let page = console.get(&format!("/staff/requests/{pid}")).await;
            assert!(
                page.body.contains(&format!("value=\"{offered}\"")),
                "{kind:?} offers {offered}"
            );
            assert!(
                !page.body.contains(&format!("value=\"{not_offered}\"")),
                "{kind:?} does not offer {not_offered}"
            );
        }
    }
);
