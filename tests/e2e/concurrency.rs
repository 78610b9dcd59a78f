//! Races: two officers on one request, one link clicked many times, a burst of intake.

use chrono::Utc;
use madoguchi_domain::{Actor, Event, Role};
use madoguchi_service::{EventText, ServiceError};
use madoguchi_store::audit::Origin;

use crate::helpers::*;
use crate::on_both;

on_both!(
    two_officers_racing_on_one_request_exactly_one_wins,
    |app: TestApp| async move {
        for round in 0..5 {
            let email = format!("race{round}@example.jp");
            let pid = file_and_confirm(&app, &email).await;
            let v = app.request(pid).await.version;
            let a = Actor::Staff {
                id: "o-a".into(),
                role: Role::Officer,
            };
            let b = Actor::Staff {
                id: "o-b".into(),
                role: Role::Officer,
            };
            let s1 = app.service.clone();
            let s2 = app.service.clone();
            let approve = tokio::spawn(async move {
                s1.act(
                    pid,
                    Some(v),
                    &Event::ApproveIdentity,
                    &a,
                    &EventText::default(),
                    &Origin::default(),
                    Utc::now(),
                )
                .await
            });
            let reject = tokio::spawn(async move {
                let text = EventText {
                    message: Some("写真が不鮮明".into()),
                    reference: None,
                };
                s2.act(
                    pid,
                    Some(v),
                    &Event::RejectIdentity {
                        reason: "写真が不鮮明".into(),
                    },
                    &b,
                    &text,
                    &Origin::default(),
                    Utc::now(),
                )
                .await
            });
            let results = [approve.await.unwrap(), reject.await.unwrap()];
            let wins = results.iter().filter(|r| r.is_ok()).count();
            assert_eq!(wins, 1, "{results:?}");
            let loser = results
                .iter()
                .find(|r| r.is_err())
                .unwrap()
                .as_ref()
                .unwrap_err();
            assert!(matches!(loser, ServiceError::Conflict), "{loser:?}");
            assert_eq!(app.request(pid).await.version, v + 1);
        }
        app.verify_audit().await;
    }
);

on_both!(
    a_confirmation_link_clicked_many_times_at_once_confirms_once,
    |app: TestApp| async move {
        let pid = file_via_api(&app, "clicks@example.jp").await;
        let path = app.confirmation_path("clicks@example.jp").await;
        let csrf = app.client.get(&path).await.csrf();
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let client = app.client.clone();
            let path = path.clone();
            let csrf = csrf.clone();
            tasks.push(tokio::spawn(async move {
                client.post_form(&path, &[("csrf", &csrf)]).await.status
            }));
        }
        let mut statuses = Vec::new();
        for t in tasks {
            statuses.push(t.await.unwrap());
        }
        assert_eq!(
            statuses.iter().filter(|s| **s == 303).count(),
            1,
            "{statuses:?}"
        );
        assert!(
            statuses.iter().all(|s| [303, 409, 410].contains(s)),
            "{statuses:?}"
        );
        assert_eq!(
            app.audit_actions(pid).await,
            vec!["request.filed", "request.confirm_email"]
        );
        app.verify_audit().await;
    }
);

on_both!(
    a_burst_of_intake_gets_distinct_numbers_and_a_valid_trail,
    |app: TestApp| async move {
        let mut tasks = Vec::new();
        for i in 0..40 {
            let client = app.client.clone();
            tasks.push(tokio::spawn(async move {
                client
                    .post_json(
                        "/api/v1/requests",
                        &valid_json(&format!("burst{i}@example.jp")),
                    )
                    .await
            }));
        }
        let mut numbers = std::collections::BTreeSet::new();
        for t in tasks {
            let res = t.await.unwrap();
            assert_eq!(res.status, 201, "{}", res.body);
            numbers.insert(res.json()["number"].as_str().unwrap().to_owned());
        }
        assert_eq!(numbers.len(), 40);
        assert_eq!(app.request_count().await, 40);
        assert_eq!(
            app.mails().await.len(),
            40,
            "one confirmation each, none twice"
        );
        app.verify_audit().await;
    }
);

on_both!(
    parallel_transitions_do_not_starve_the_pool_when_the_settings_snapshot_is_stale,
    |app: TestApp| async move {
        let mut pids = Vec::new();
        for i in 0..12 {
            pids.push(file_and_confirm(&app, &format!("stale{i}@example.jp")).await);
        }
        // Past the snapshot's life, every transition wants a fresh read of the settings; none
        // may take it while holding its transaction's connection (a pool of 4 on SQLite).
        tokio::time::sleep(
            madoguchi_service::settings::FRESH_FOR + std::time::Duration::from_millis(200),
        )
        .await;
        let started = std::time::Instant::now();
        let mut tasks = Vec::new();
        for pid in pids {
            let service = app.service.clone();
            tasks.push(tokio::spawn(async move {
                service
                    .act(
                        pid,
                        None,
                        &Event::ApproveIdentity,
                        &Actor::Staff {
                            id: "o".into(),
                            role: Role::Officer,
                        },
                        &EventText::default(),
                        &Origin::default(),
                        Utc::now(),
                    )
                    .await
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        // Not a timing assertion on speed: a starved pool shows as the 10-second acquire
        // timeout, which is what this guards against.
        assert!(
            started.elapsed() < std::time::Duration::from_secs(8),
            "transitions waited for the pool: {:?}",
            started.elapsed()
        );
        app.verify_audit().await;
    }
);
