//! Outgoing webhooks (issue 20): a real receiver on loopback checks every signature as the
//! docs tell a receiver to, sees each state change of a request exactly once, carries no
//! personal data; an endpoint that is down is retried, gives up, and is replayed; several
//! senders at once deliver each event once.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use hmac::{KeyInit, Mac};
use madoguchi_domain::Role;

use crate::helpers::*;

type Received = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

/// A receiver on loopback that keeps what it gets and answers `status` (204 at first; a test
/// sets 503 to play an endpoint that is down).
struct Receiver {
    port: u16,
    got: Received,
    status: Arc<std::sync::atomic::AtomicU16>,
}

impl Receiver {
    fn answer(&self, status: u16) {
        self.status
            .store(status, std::sync::atomic::Ordering::SeqCst);
    }
    fn got(&self) -> Vec<(HeaderMap, Bytes)> {
        self.got.lock().unwrap().clone()
    }
}

async fn receiver() -> Receiver {
    let got: Received = Arc::default();
    let status = Arc::new(std::sync::atomic::AtomicU16::new(204));
    let (keep, answer) = (got.clone(), status.clone());
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let (keep, answer) = (keep.clone(), answer.clone());
            async move {
                let code = answer.load(std::sync::atomic::Ordering::SeqCst);
                if code == 204 {
                    keep.lock().unwrap().push((headers, body));
                }
                StatusCode::from_u16(code).unwrap()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Receiver { port, got, status }
}

/// Checks a delivery's signature as a receiver would: `t=…,v1=…`, HMAC-SHA256 over
/// "<t>.<body>" under the secret, and a timestamp within five minutes.
fn verified(secret: &str, headers: &HeaderMap, body: &[u8]) -> bool {
    let Some(sig) = headers
        .get("madoguchi-signature")
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mut t = None;
    let mut v1 = None;
    for part in sig.split(',') {
        match part.split_once('=') {
            Some(("t", x)) => t = x.parse::<i64>().ok(),
            Some(("v1", x)) => v1 = hex::decode(x).ok(),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    if (chrono::Utc::now().timestamp() - t).abs() > 300 {
        return false;
    }
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    mac.verify_slice(&v1).is_ok()
}

/// Registers an endpoint through the administrator's page; returns its secret.
async fn register(app: &TestApp, admin: &Client, url: &str) -> String {
    let page = admin.get("/staff/admin/webhooks").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let res = admin
        .post_form(
            "/staff/admin/webhooks",
            &[
                ("csrf", &page.csrf()),
                ("url", url),
                ("event_request.filed", "1"),
                ("event_request.state_changed", "1"),
            ],
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    let at = res.body.find("<p><code>whsec_").expect("the secret, once") + "<p><code>".len();
    let _ = app;
    res.body[at..at + res.body[at..].find('<').unwrap()].to_owned()
}

async fn wait_for(r: &Receiver, n: usize) {
    for _ in 0..200 {
        if r.got().len() >= n {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Makes every delivery waiting for a retry due now.
async fn due_now(app: &TestApp) {
    app.sql(
        "UPDATE webhook_deliveries SET next_attempt_at = '2000-01-01 00:00:00+00:00' \
         WHERE status = 'pending'",
    )
    .await;
}

crate::on_both!(
    every_state_change_reaches_the_receiver_once_signed,
    |app: TestApp| async move {
        let hook = receiver().await;
        let admin = staff_client(&app, Role::Admin).await;
        // Not a web address: refused in words.
        let page = admin.get("/staff/admin/webhooks").await;
        let res = admin
            .post_form(
                "/staff/admin/webhooks",
                &[
                    ("csrf", &page.csrf()),
                    ("url", "ftp://example.jp/hook"),
                    ("event_request.filed", "1"),
                ],
            )
            .await;
        assert_eq!(res.status, 422);
        assert!(
            res.body
                .contains("URL: https:// で始まるアドレスを入力してください")
        );
        let url = format!("http://127.0.0.1:{}/hook", hook.port);
        let secret = register(&app, &admin, &url).await;
        // The same URL again (a refreshed page): refused, so no event goes twice.
        let page = admin.get("/staff/admin/webhooks").await;
        let res = admin
            .post_form(
                "/staff/admin/webhooks",
                &[
                    ("csrf", &page.csrf()),
                    ("url", &url),
                    ("event_request.filed", "1"),
                ],
            )
            .await;
        assert_eq!(res.status, 422);
        assert!(res.body.contains("この URL は既に登録されています。"));

        // A disclosure filed, confirmed, identity approved, the fee paid: four events.
        let pid = file_via_api(&app, "hooked@example.jp").await;
        crate::answers::bring_in_progress(&app, pid, "hooked@example.jp").await;
        wait_for(&hook, 4).await;
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let got = hook.got();
        assert_eq!(got.len(), 4, "each once");
        let number = app.request(pid).await.number;
        let mut seen = Vec::new();
        let mut ids = std::collections::BTreeSet::new();
        for (headers, body) in &got {
            assert!(verified(&secret, headers, body), "signed");
            assert!(
                !verified("whsec_wrong", headers, body),
                "and only under its secret"
            );
            let text = std::str::from_utf8(body).unwrap();
            assert!(!text.contains("hooked@example.jp") && !text.contains("山田"));
            let v: serde_json::Value = serde_json::from_slice(body).unwrap();
            assert!(
                ids.insert(v["id"].as_str().unwrap().to_owned()),
                "a new id each"
            );
            assert_eq!(
                headers.get("madoguchi-delivery").unwrap().to_str().unwrap(),
                v["id"].as_str().unwrap()
            );
            assert_eq!(v["data"]["number"], number.as_str());
            assert_eq!(v["data"]["kind"], "disclosure");
            assert!(
                v["data"]["link"]
                    .as_str()
                    .unwrap()
                    .ends_with(&format!("/staff/requests/{pid}"))
            );
            seen.push((
                v["type"].as_str().unwrap().to_owned(),
                v["data"]["previous_state"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned(),
                v["data"]["state"].as_str().unwrap().to_owned(),
            ));
        }
        let seen: Vec<(&str, &str, &str)> = seen
            .iter()
            .map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str()))
            .collect();
        assert_eq!(
            seen,
            [
                ("request.filed", "", "submitted"),
                ("request.state_changed", "submitted", "identity_review"),
                (
                    "request.state_changed",
                    "identity_review",
                    "awaiting_payment"
                ),
                ("request.state_changed", "awaiting_payment", "in_progress"),
            ]
        );
        // The page lists them delivered.
        let page = admin.get("/staff/admin/webhooks").await;
        assert_eq!(page.body.matches("配信済み").count(), 4, "{}", page.body);
    }
);

crate::on_both!(
    an_endpoint_that_is_down_is_retried_gives_up_and_is_replayed,
    |app: TestApp| async move {
        let hook = receiver().await;
        hook.answer(503);
        let admin = staff_client(&app, Role::Admin).await;
        let secret = register(
            &app,
            &admin,
            &format!("http://127.0.0.1:{}/hook", hook.port),
        )
        .await;
        file_via_api(&app, "down@example.jp").await;
        // Seven tries, each answered 503, the waits between them skipped.
        let client =
            madoguchi_service::webhooks::WebhookClient::new(std::time::Duration::from_secs(2))
                .unwrap();
        for _ in 0..10 {
            due_now(&app).await;
            app.service
                .deliver_webhooks(&client, chrono::Utc::now())
                .await
                .unwrap();
        }
        let deliveries = app.service.webhook_deliveries().await.unwrap();
        assert_eq!(deliveries.len(), 1);
        assert_eq!(deliveries[0].status, "failed");
        assert_eq!(deliveries[0].attempts, 7, "the first try and six retries");
        assert_eq!(deliveries[0].last_error.as_deref(), Some("HTTP 503"));
        assert_eq!(deliveries[0].response_status, Some(503));
        let page = admin.get("/staff/admin/webhooks").await;
        assert!(
            page.body
                .contains("<span class=\"badge overdue\">失敗</span>")
        );
        // The receiver is back; the administrator sends it again (twice: a double click).
        hook.answer(204);
        let id = deliveries[0].pid;
        for _ in 0..2 {
            let res = admin
                .post_form(
                    &format!("/staff/admin/webhooks/deliveries/{id}/replay"),
                    &[("csrf", &page.csrf())],
                )
                .await;
            assert_eq!(res.status, 303, "{}", res.body);
        }
        wait_for(&hook, 1).await;
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        let got = hook.got();
        assert_eq!(got.len(), 1, "sent once");
        assert!(verified(&secret, &got[0].0, &got[0].1));
        let v: serde_json::Value = serde_json::from_slice(&got[0].1).unwrap();
        assert_eq!(
            v["id"].as_str().unwrap(),
            id.to_string(),
            "the same delivery"
        );
        // On the trail: added and replayed, by whom, nothing of the request.
        let trail = app
            .service
            .audit_trail(&madoguchi_service::TrailFilter {
                action: Some("webhook.".into()),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        let actions: Vec<&str> = trail.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["webhook.replayed", "webhook.added"]);
        assert!(
            trail[1].detail.contains("127.0.0.1"),
            "the host it sends to"
        );
        app.verify_audit().await;

        // Stopped: what waits for it fails, saying why, and cannot be replayed.
        hook.answer(503);
        file_via_api(&app, "after@example.jp").await;
        let endpoint = app.service.webhook_endpoints().await.unwrap()[0].pid;
        let page = admin.get("/staff/admin/webhooks").await;
        let res = admin
            .post_form(
                &format!("/staff/admin/webhooks/{endpoint}/disable"),
                &[("csrf", &page.csrf())],
            )
            .await;
        assert_eq!(res.status, 303);
        let latest = app.service.webhook_deliveries().await.unwrap().remove(0);
        assert_eq!(latest.status, "failed");
        assert_eq!(
            latest.last_error.as_deref(),
            Some("the endpoint was stopped")
        );
        assert!(
            app.service
                .replay_webhook(
                    latest.pid,
                    &madoguchi_service::staff::StaffIdentity {
                        user_id: 0,
                        pid: uuid::Uuid::nil(),
                        email: String::new(),
                        name: String::new(),
                        role: Role::Admin,
                        csrf: None,
                        must_change_password: false,
                        totp_enabled: false,
                        sso: false,
                    },
                    &Default::default(),
                    chrono::Utc::now()
                )
                .await
                .is_err()
        );
    }
);

crate::on_both!(
    several_senders_at_once_deliver_each_event_once,
    |app: TestApp| async move {
        // Twelve filings while the receiver is down: each tried once and waiting.
        let hook = receiver().await;
        hook.answer(503);
        let admin = staff_client(&app, Role::Admin).await;
        register(
            &app,
            &admin,
            &format!("http://127.0.0.1:{}/hook", hook.port),
        )
        .await;
        for i in 0..12 {
            file_via_api(&app, &format!("many{i}@example.jp")).await;
        }
        hook.answer(204);
        // Then all due at once, for three more senders started together beside the
        // application's own, as further instances would run.
        let start = Arc::new(tokio::sync::Barrier::new(3));
        let mut senders = Vec::new();
        for _ in 0..3 {
            let (service, start) = (app.service.clone(), start.clone());
            senders.push(tokio::spawn(async move {
                let client = madoguchi_service::webhooks::WebhookClient::new(
                    std::time::Duration::from_secs(5),
                )
                .unwrap();
                start.wait().await;
                for _ in 0..10 {
                    service
                        .deliver_webhooks(&client, chrono::Utc::now())
                        .await
                        .unwrap();
                }
            }));
        }
        due_now(&app).await;
        for s in senders {
            s.await.unwrap();
        }
        wait_for(&hook, 12).await;
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        let got = hook.got();
        let ids: std::collections::BTreeSet<String> = got
            .iter()
            .map(|(h, _)| {
                h.get("madoguchi-delivery")
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(got.len(), 12, "no event twice");
        assert_eq!(ids.len(), 12);
        let delivered = app
            .service
            .webhook_deliveries()
            .await
            .unwrap()
            .iter()
            .filter(|d| d.status == "delivered")
            .count();
        assert_eq!(delivered, 12);
    }
);

crate::on_both!(
    a_sender_whose_claim_was_taken_over_records_nothing,
    |app: TestApp| async move {
        let hook = receiver().await;
        hook.answer(503);
        let admin = staff_client(&app, Role::Admin).await;
        register(
            &app,
            &admin,
            &format!("http://127.0.0.1:{}/hook", hook.port),
        )
        .await;
        file_via_api(&app, "claimed@example.jp").await;
        let (db, cipher) = (app.service.db(), app.service.cipher());
        let lease = chrono::Duration::seconds(60);
        // Claimed an hour on (whatever the application's own sender did meanwhile), then
        // taken over once that lease has run out.
        let later = chrono::Utc::now() + chrono::Duration::hours(1);
        let first = madoguchi_store::webhooks::claim(db, cipher, 5, lease, later)
            .await
            .unwrap();
        assert_eq!(first.len(), 1);
        let second = madoguchi_store::webhooks::claim(
            db,
            cipher,
            5,
            lease,
            later + chrono::Duration::minutes(2),
        )
        .await
        .unwrap();
        assert_eq!(second.len(), 1);
        assert_ne!(first[0].delivery.claim_id, second[0].delivery.claim_id);
        let delivered = madoguchi_store::webhooks::Outcome::Delivered { status: 204 };
        // The first sender's late answer changes nothing; the second's is recorded.
        madoguchi_store::webhooks::finish(
            db.conn(),
            first[0].delivery.id,
            first[0].delivery.claim_id,
            delivered.clone(),
            later,
        )
        .await
        .unwrap();
        assert_eq!(
            app.service.webhook_deliveries().await.unwrap()[0].status,
            "sending"
        );
        madoguchi_store::webhooks::finish(
            db.conn(),
            second[0].delivery.id,
            second[0].delivery.claim_id,
            delivered,
            later,
        )
        .await
        .unwrap();
        assert_eq!(
            app.service.webhook_deliveries().await.unwrap()[0].status,
            "delivered"
        );
    }
);

/// How many deliveries of `event` are written.
async fn deliveries_of(app: &TestApp, event: &str) -> Vec<serde_json::Value> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    madoguchi_store::entities::webhook_delivery::Entity::find()
        .filter(madoguchi_store::entities::webhook_delivery::Column::Event.eq(event))
        .order_by_asc(madoguchi_store::entities::webhook_delivery::Column::Id)
        .all(app.service.db().conn())
        .await
        .unwrap()
        .into_iter()
        .map(|d| serde_json::from_str(&d.payload).unwrap())
        .collect()
}

crate::on_both!(
    deadlines_near_and_passed_are_sent_once_per_due_day,
    |app: TestApp| async move {
        let admin = staff_client(&app, Role::Admin).await;
        let page = admin.get("/staff/admin/webhooks").await;
        assert!(
            page.body.contains("請求の期限超過"),
            "the events are offered in words"
        );
        let res = admin
            .post_form(
                "/staff/admin/webhooks",
                &[
                    ("csrf", &page.csrf()),
                    ("url", "http://127.0.0.1:9/deadlines"),
                    ("event_request.deadline_near", "1"),
                    ("event_request.overdue", "1"),
                ],
            )
            .await;
        assert_eq!(res.status, 200, "{}", res.body);
        // Three requests being worked (their clocks running).
        let mut pids = Vec::new();
        for email in ["late@example.jp", "near@example.jp", "far@example.jp"] {
            let pid = file_via_api(&app, email).await;
            crate::answers::bring_in_progress(&app, pid, email).await;
            pids.push(pid);
        }
        let (late, near, far) = (pids[0], pids[1], pids[2]);
        // The app's own timers stopped: this test runs the deadline sweep itself.
        app.halt().await;
        app.sql("DELETE FROM timer_jobs WHERE name = 'webhook_deadlines'")
            .await;
        let today = madoguchi_domain::jst_date(chrono::Utc::now());
        let mut numbers = std::collections::HashMap::new();
        for pid in [late, near, far] {
            numbers.insert(pid, app.request(pid).await.number);
        }
        let set_due = |pid: uuid::Uuid, days: i64| {
            let day = today + chrono::Duration::days(days);
            format!(
                "UPDATE requests SET due_on = '{day}' WHERE number = '{}'",
                numbers[&pid]
            )
        };
        app.sql(&set_due(late, -1)).await;
        app.sql(&set_due(near, 2)).await;
        app.sql(&set_due(far, 10)).await;
        let written = app
            .service
            .webhook_deadlines(chrono::Utc::now())
            .await
            .unwrap();
        assert_eq!(written, 2);
        let overdue = deliveries_of(&app, "request.overdue").await;
        let soon = deliveries_of(&app, "request.deadline_near").await;
        assert_eq!(overdue.len(), 1);
        assert_eq!(soon.len(), 1);
        assert_eq!(
            overdue[0]["data"]["number"],
            app.request(late).await.number.as_str()
        );
        assert_eq!(
            soon[0]["data"]["due_on"],
            (today + chrono::Duration::days(2)).to_string()
        );
        assert!(
            !overdue[0].to_string().contains("late@example.jp"),
            "no personal data"
        );
        // Another run (another instance, the next hour): nothing twice.
        app.sql("DELETE FROM timer_jobs WHERE name = 'webhook_deadlines'")
            .await;
        assert_eq!(
            app.service
                .webhook_deadlines(chrono::Utc::now())
                .await
                .unwrap(),
            0
        );
        // Within the hour the run is not even made.
        app.sql(&set_due(far, 1)).await;
        assert_eq!(
            app.service
                .webhook_deadlines(chrono::Utc::now())
                .await
                .unwrap(),
            0
        );
        // A new due day (an extension, say) is a new event.
        app.sql("DELETE FROM timer_jobs WHERE name = 'webhook_deadlines'")
            .await;
        app.sql(&set_due(near, 3)).await;
        assert_eq!(
            app.service
                .webhook_deadlines(chrono::Utc::now())
                .await
                .unwrap(),
            2
        );
        assert_eq!(deliveries_of(&app, "request.deadline_near").await.len(), 3);
        assert_eq!(deliveries_of(&app, "request.overdue").await.len(), 1);
    }
);
