//! Crash safety: the real binary on PostgreSQL is killed with SIGKILL in the middle of
//! intake and transitions, three times, and restarted. Every request that got a 2xx exists
//! with its audit entries, the trail verifies, and every e-mail reaches a real SMTP server at
//! least once, a resend always with the same Message-ID; the duplicate rate is printed.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::helpers::*;

fn start(exe: &str, env: &[(&str, String)], port: u16) -> Child {
    Command::new(exe)
        .arg("serve")
        .envs(env.iter().map(|(k, v)| (*k, v.clone())))
        .env("MADOGUCHI_LISTEN", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

async fn wait_ready(client: &Client, addr: std::net::SocketAddr) {
    for _ in 0..400 {
        if tokio::net::TcpStream::connect(addr).await.is_ok()
            && client.get("/readyz").await.status == 200
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the server did not come back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_intake_loses_and_duplicates_nothing() {
    let Some(app) = TestApp::spawn_postgres().await else {
        return;
    };
    // The in-process app only provided a fresh database; the binary does the work.
    app.halt().await;
    let dir =
        std::env::temp_dir().join(format!("madoguchi-crash-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let smtp = crate::mail::smtpd(free_port()).await;
    let env = [
        ("DATABASE_URL", app.database_url.clone()),
        (
            "MADOGUCHI_SMTP_URL",
            format!("smtp://127.0.0.1:{}", smtp.port),
        ),
        ("MADOGUCHI_DATA_DIR", dir.display().to_string()),
        (
            "MADOGUCHI_SECRET",
            "crash-secret-crash-secret-crash-secret-0".to_owned(),
        ),
        // Short leases so that messages a killed worker had claimed are resent within the test.
        ("MADOGUCHI_MAIL_LEASE_SECS", "2".to_owned()),
        // Thousands of requests from one address.
        ("MADOGUCHI_INTAKE_PER_IP_PER_HOUR", "0".to_owned()),
    ];
    let exe = env!("CARGO_BIN_EXE_madoguchi");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let accepted: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut kills = 0;
    for round in 0..3u64 {
        let mut child = start(exe, &env, port);
        let client = Client::new(addr);
        wait_ready(&client, addr).await;
        let mut tasks = Vec::new();
        for c in 0..8 {
            let (client, accepted) = (client.clone(), accepted.clone());
            tasks.push(tokio::spawn(async move {
                for i in 0..1000 {
                    let email = format!("crash-{round}-{c}-{i}@example.jp");
                    // Connection errors are expected once the server dies mid-request.
                    let res = tokio::time::timeout(
                        Duration::from_secs(2),
                        client.post_json_fallible("/api/v1/requests", &valid_json(&email)),
                    )
                    .await;
                    match res {
                        Ok(Some((201, body))) => {
                            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
                            accepted
                                .lock()
                                .unwrap()
                                .push(v["id"].as_str().unwrap().to_owned());
                        }
                        Ok(Some(_)) => {}
                        _ => return,
                    }
                }
            }));
        }
        // Kill at a different moment each round.
        tokio::time::sleep(Duration::from_millis(300 + 250 * round)).await;
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        kills += 1;
        for t in tasks {
            let _ = t.await;
        }
    }
    // A last clean run lets the outbox drain.
    let mut child = start(exe, &env, port);
    let client = Client::new(addr);
    wait_ready(&client, addr).await;
    let db = app.service.db().conn();
    for _ in 0..400 {
        if madoguchi_store::outbox::unsent_count(db).await.unwrap() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();

    let accepted = accepted.lock().unwrap().clone();
    assert!(
        accepted.len() > 20,
        "enough requests were accepted to mean something: {}",
        accepted.len()
    );
    for pid in &accepted {
        let pid = uuid::Uuid::parse_str(pid).unwrap();
        let actions = app.audit_actions(pid).await;
        assert_eq!(
            actions.first().map(String::as_str),
            Some("request.filed"),
            "{pid} lost its trail"
        );
    }
    app.verify_audit().await;
    assert_eq!(
        madoguchi_store::outbox::unsent_count(db).await.unwrap(),
        0,
        "every message was sent after restart"
    );
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let sent = madoguchi_store::entities::outbox::Entity::find()
        .filter(madoguchi_store::entities::outbox::Column::Status.eq("sent"))
        .count(db)
        .await
        .unwrap();
    // What the SMTP server received, by Message-ID: a message delivered twice was sent, then
    // the process died before its row was marked (docs/reliability.md).
    let mut received: HashMap<String, usize> = HashMap::new();
    for m in crate::mail::maildir_messages(&smtp.maildir) {
        let id = m
            .lines()
            .find_map(|l| {
                l.strip_prefix("Message-ID: ")
                    .or_else(|| l.strip_prefix("Message-Id: "))
            })
            .expect("every message carries a Message-ID")
            .trim()
            .to_owned();
        *received.entry(id).or_default() += 1;
    }
    assert_eq!(
        received.len() as u64,
        sent,
        "every sent message reached the server, under its one Message-ID"
    );
    let duplicates: usize = received.values().map(|n| n - 1).sum();
    println!(
        "crash test: {duplicates} of {sent} messages delivered twice ({:.2} %) over {kills} SIGKILLs",
        100.0 * duplicates as f64 / sent.max(1) as f64
    );
    // A resend happens only for messages in flight when the process died: at most one
    // claimed batch (64) per kill.
    assert!(duplicates <= 64 * kills, "{duplicates} duplicates");
    let requests = app.request_count().await;
    println!(
        "crash test: {kills} SIGKILLs, {} accepted (2xx), {requests} stored, {sent} messages sent once each",
        accepted.len()
    );
    assert!(requests >= accepted.len() as u64);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A connector job whose instance is SIGKILLed mid-read is taken again once its claim
/// expires, by the next instance, and ends in exactly the rows an uninterrupted run finds,
/// recorded once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_gathering_resumes_and_ends_in_the_same_rows() {
    use crate::connectors::{MAP, SUBJECT, news, shop, support, tag};
    if std::env::var("MADOGUCHI_TEST_POSTGRES").as_deref() == Ok("skip") {
        return;
    }
    let tag = tag();
    let shop_url = shop(&tag).await;
    // The shop's members behind a view that takes two seconds to read: time to kill.
    {
        use sqlx::Connection;
        let mut c = sqlx::PgConnection::connect(&shop_url).await.unwrap();
        sqlx::raw_sql(
            "ALTER TABLE customers RENAME TO customers_data;
             CREATE VIEW customers AS SELECT * FROM customers_data
               WHERE (SELECT pg_sleep(2)) IS NOT NULL;",
        )
        .execute(&mut c)
        .await
        .unwrap();
    }
    let dir = std::env::temp_dir().join(format!("madoguchi-gather-crash-{tag}"));
    std::fs::create_dir_all(&dir).unwrap();
    let map_path = dir.join("map.toml");
    std::fs::write(&map_path, MAP).unwrap();
    let support_url = support(&tag).await;
    let news_url = news(&dir).await;
    let map_var = map_path.display().to_string();
    // The first instance (in process) takes the request to work; it cannot reach the shop
    // (its variable is unset there), so the shop's job waits for a retry.
    let app = TestApp::spawn_postgres_with(&[
        ("MADOGUCHI_DATAMAP", &map_var),
        ("TEST_SUPPORT_URL", &support_url),
        ("TEST_NEWS_URL", &news_url),
    ])
    .await
    .unwrap();
    let mut body = valid_json(SUBJECT);
    body["subject_name"] = "山田 花子".into();
    let res = app.client.post_json("/api/v1/requests", &body).await;
    assert_eq!(res.status, 201, "{}", res.body);
    let pid = uuid::Uuid::parse_str(res.json()["id"].as_str().unwrap()).unwrap();
    crate::answers::bring_in_progress(&app, pid, SUBJECT).await;
    let job_state = |system: &'static str| {
        let app = &app;
        async move {
            use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
            madoguchi_store::entities::gather_job::Entity::find()
                .filter(madoguchi_store::entities::gather_job::Column::System.eq(system))
                .one(app.service.db().conn())
                .await
                .unwrap()
                .map(|j| (j.state, j.attempts))
        }
    };
    for _ in 0..200 {
        if job_state("shop").await.is_some_and(|(_, a)| a >= 1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.halt().await;

    // The second instance is the real binary, with the shop's variable and a short lease.
    let env = [
        ("DATABASE_URL", app.database_url.clone()),
        ("MADOGUCHI_DATA_DIR", app.dir.display().to_string()),
        (
            "MADOGUCHI_SECRET",
            "test-secret-test-secret-test-secret-0123".to_owned(),
        ),
        ("MADOGUCHI_GATHER_LEASE_SECS", "3".to_owned()),
        ("MADOGUCHI_DATAMAP", map_var.clone()),
        ("TEST_SHOP_URL", shop_url.clone()),
        ("TEST_SUPPORT_URL", support_url.clone()),
        ("TEST_NEWS_URL", news_url.clone()),
    ];
    let exe = env!("CARGO_BIN_EXE_madoguchi");
    let port = free_port();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut child = start(exe, &env, port);
    wait_ready(&Client::new(addr), addr).await;
    // Killed while it reads the shop (the retry comes five seconds after the first try).
    let mut running = false;
    for _ in 0..400 {
        if job_state("shop").await.is_some_and(|(s, _)| s == "running") {
            running = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(running, "the binary claimed the shop's job");
    tokio::time::sleep(Duration::from_millis(500)).await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert_eq!(job_state("shop").await.unwrap().0, "running");

    // The next instance takes it again once the claim has run out.
    let mut child = start(exe, &env, port);
    wait_ready(&Client::new(addr), addr).await;
    let mut done = false;
    for _ in 0..600 {
        let (s, su) = (job_state("shop").await, job_state("support").await);
        if s.is_some_and(|(s, _)| s == "done") && su.is_some_and(|(s, _)| s == "done") {
            done = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        done,
        "{:?} {:?}",
        job_state("shop").await,
        job_state("support").await
    );

    // Exactly what an uninterrupted run finds (tests/e2e/connectors.rs), each system once.
    let g = app
        .service
        .gathering(&app.request(pid).await, false)
        .await
        .unwrap();
    let rows = |id: &str| -> Vec<Vec<String>> {
        let mut r = g.datasets.iter().find(|d| d.id == id).unwrap().rows.clone();
        r.sort();
        r
    };
    assert_eq!(rows("customers"), [["1", SUBJECT, "山田 花子"]]);
    assert_eq!(rows("orders"), [["1", "急須"], ["1", "緑茶 2袋"]]);
    assert_eq!(rows("tickets").len(), 2);
    assert_eq!(rows("subscribers"), [[SUBJECT, "新茶の案内"]]);
    let actions = app.audit_actions(pid).await;
    assert_eq!(
        actions.iter().filter(|a| *a == "data.gathered").count(),
        3,
        "{actions:?}"
    );
    app.verify_audit().await;
}

/// An erasure whose instance is SIGKILLed in the middle of the business system's
/// transaction: the system rolls it back, the job is taken again after its lease, and the end
/// state is the one an uninterrupted erasure leaves, recorded once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_an_erasure_resumes_to_the_same_end_state() {
    use crate::connectors::{MAP, SUBJECT, news, shop, support, tag};
    use madoguchi_domain::Role;
    if std::env::var("MADOGUCHI_TEST_POSTGRES").as_deref() == Ok("skip") {
        return;
    }
    let tag = tag();
    let shop_url = shop(&tag).await;
    // Each order deleted takes a second: time to kill inside the transaction.
    {
        use sqlx::Connection;
        let mut c = sqlx::PgConnection::connect(&shop_url).await.unwrap();
        sqlx::raw_sql(
            "CREATE FUNCTION slow() RETURNS trigger AS $$ BEGIN PERFORM pg_sleep(1); RETURN OLD; END $$ LANGUAGE plpgsql;
             CREATE TRIGGER slow_delete BEFORE DELETE ON orders FOR EACH ROW EXECUTE FUNCTION slow();",
        )
        .execute(&mut c)
        .await
        .unwrap();
    }
    let dir = std::env::temp_dir().join(format!("madoguchi-erase-crash-{tag}"));
    std::fs::create_dir_all(&dir).unwrap();
    let map_path = dir.join("map.toml");
    std::fs::write(&map_path, MAP).unwrap();
    let support_url = support(&tag).await;
    let news_url = news(&dir).await;
    let map_var = map_path.display().to_string();
    let app = TestApp::spawn_postgres_with(&[
        ("MADOGUCHI_DATAMAP", &map_var),
        ("TEST_SHOP_URL", &shop_url),
        ("TEST_SUPPORT_URL", &support_url),
        ("TEST_NEWS_URL", &news_url),
    ])
    .await
    .unwrap();
    let mut body = valid_json(SUBJECT);
    body["subject_name"] = "山田 花子".into();
    body["kind"] = "suspension_or_erasure".into();
    body["ground"] = "no_longer_needed".into();
    body.as_object_mut().unwrap().remove("delivery");
    let res = app.client.post_json("/api/v1/requests", &body).await;
    assert_eq!(res.status, 201, "{}", res.body);
    let pid = uuid::Uuid::parse_str(res.json()["id"].as_str().unwrap()).unwrap();
    crate::answers::bring_in_progress(&app, pid, SUBJECT).await;
    assert!(crate::connectors::settled(&app, pid).await.complete);
    // The in-process instance stops before anything is ordered; the binary carries it out.
    app.halt().await;
    let env = [
        ("DATABASE_URL", app.database_url.clone()),
        ("MADOGUCHI_DATA_DIR", app.dir.display().to_string()),
        (
            "MADOGUCHI_SECRET",
            "test-secret-test-secret-test-secret-0123".to_owned(),
        ),
        ("MADOGUCHI_GATHER_LEASE_SECS", "3".to_owned()),
        ("MADOGUCHI_DATAMAP", map_var.clone()),
        ("TEST_SHOP_URL", shop_url.clone()),
        ("TEST_SUPPORT_URL", support_url.clone()),
        ("TEST_NEWS_URL", news_url.clone()),
    ];
    let exe = env!("CARGO_BIN_EXE_madoguchi");
    let port = free_port();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut child = start(exe, &env, port);
    wait_ready(&Client::new(addr), addr).await;
    // The officer orders it (service call; the binary's worker claims the jobs).
    app.service
        .order_erasure(
            pid,
            madoguchi_service::erasure::Measure::Erase,
            &madoguchi_domain::Actor::Staff {
                id: "officer".into(),
                role: Role::Officer,
            },
            &madoguchi_service::Origin::default(),
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    let shop_job = || {
        let app = &app;
        async move {
            use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
            madoguchi_store::entities::gather_job::Entity::find()
                .filter(madoguchi_store::entities::gather_job::Column::System.eq("shop"))
                .filter(madoguchi_store::entities::gather_job::Column::Purpose.eq("erase"))
                .one(app.service.db().conn())
                .await
                .unwrap()
                .map(|j| j.state)
        }
    };
    let mut running = false;
    for _ in 0..200 {
        if shop_job().await.as_deref() == Some("running") {
            running = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(running, "the binary claimed the shop's erasure");
    tokio::time::sleep(Duration::from_millis(700)).await;
    child.kill().unwrap(); // SIGKILL, mid-transaction
    child.wait().unwrap();
    // Rolled back: the subject's orders are all still there.
    let orders = |url: String| async move {
        use sqlx::Connection;
        let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM orders WHERE customer_id = 1")
            .fetch_one(&mut c)
            .await
            .unwrap()
    };
    assert_eq!(orders(shop_url.clone()).await, 2);

    let mut child = start(exe, &env, port);
    wait_ready(&Client::new(addr), addr).await;
    let mut progress = Default::default();
    for _ in 0..400 {
        progress = app
            .service
            .erasure(&app.request(pid).await, false)
            .await
            .unwrap();
        if progress.complete {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(progress.complete, "{progress:?}");
    assert_eq!(orders(shop_url.clone()).await, 0);
    let actions = app.audit_actions(pid).await;
    assert_eq!(
        actions.iter().filter(|a| *a == "data.erased").count(),
        3,
        "{actions:?}"
    );
    app.verify_audit().await;
}
