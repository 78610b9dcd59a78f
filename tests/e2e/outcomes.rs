//! Every outcome of every kind, table-driven from the core: for each kind, the officer's
//! terminal actions are the ones `available_events` offers on a request in progress; each is
//! driven through the service on a real request, and the state it ends in and the mail it sends
//! must be exactly what `apply` predicts.

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
