//! Proof that a change is all or nothing (issue #15, item 7): the database is made to fail at
//! the N-th row written (a trigger on every table a change writes), for N = 1, 2, … until the
//! change goes through; after every failure nothing of the change is visible. On SQLite and
//! PostgreSQL.

use chrono::Utc;
use madoguchi_domain::{Actor, DocumentPurpose, Event, Role};
use madoguchi_service::EventText;
use madoguchi_store::audit::Origin;
use sea_orm::{ConnectionTrait, Statement};

use crate::helpers::*;
use crate::on_both;

/// The tables a change to a request writes.
const TABLES: [&str; 7] = [
    "requests",
    "audit_entries",
    "outbox",
    "subject_tokens",
    "attachments",
    "payments",
    "webhook_deliveries",
];

/// Installs the fault: a counter, and a trigger on each table that counts the rows written
/// and fails the statement that writes row number `n`. Disarmed while the counter is negative.
async fn install_fault(app: &TestApp) {
    let db = app.service.db().conn();
    let backend = db.get_database_backend();
    let run = |sql: String| async move {
        db.execute_raw(Statement::from_string(backend, sql))
            .await
            .unwrap();
    };
    run("CREATE TABLE fault (n INTEGER NOT NULL)".into()).await;
    run("INSERT INTO fault (n) VALUES (-1)".into()).await;
    if app.backend == Backend::Postgres {
        run("CREATE FUNCTION fault_step() RETURNS trigger AS $$ BEGIN \
             UPDATE fault SET n = n - 1 WHERE n > 0; \
             IF (SELECT n FROM fault) = 0 THEN RAISE EXCEPTION 'injected fault'; END IF; \
             RETURN NEW; END $$ LANGUAGE plpgsql"
            .into())
        .await;
        for t in TABLES {
            run(format!(
                "CREATE TRIGGER fault_{t} BEFORE INSERT OR UPDATE ON {t} \
                 FOR EACH ROW EXECUTE FUNCTION fault_step()"
            ))
            .await;
        }
    } else {
        for t in TABLES {
            for op in ["INSERT", "UPDATE"] {
                run(format!(
                    "CREATE TRIGGER fault_{t}_{op} BEFORE {op} ON {t} BEGIN \
                     UPDATE fault SET n = n - 1 WHERE n > 0; \
                     SELECT RAISE(ABORT, 'injected fault') WHERE (SELECT n FROM fault) = 0; END"
                ))
                .await;
            }
        }
    }
}

async fn arm(app: &TestApp, n: i64) {
    app.sql(&format!("UPDATE fault SET n = {n}")).await;
}

/// Rows in every table a change writes, and the request's trail position: what must not move
/// when a change fails.
async fn snapshot(app: &TestApp, pid: uuid::Uuid) -> Vec<i64> {
    let db = app.service.db().conn();
    let mut counts = table_counts(app).await;
    // Changes that update rather than insert: download counts, the ledger's kinds.
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT CAST(COALESCE(SUM(downloads), 0) AS BIGINT) AS n FROM attachments".to_owned(),
        ))
        .await
        .unwrap()
        .unwrap();
    counts.push(row.try_get::<i64>("", "n").unwrap());
    use sea_orm::EntityTrait;
    let kinds = madoguchi_store::entities::payment::Entity::find()
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .filter(|p| p.kind.starts_with("refund_recorded"))
        .count();
    counts.push(kinds as i64);
    let r = app.request(pid).await;
    counts.extend([r.version, r.audit_seq]);
    counts
}

/// Runs `change` with the fault at the 1st, 2nd, … row until it succeeds; every failure must
/// leave `snapshot` as it was. Returns how many rows the change writes.
async fn all_or_nothing<F, Fut>(app: &TestApp, pid: uuid::Uuid, mut change: F) -> i64
where
    F: FnMut(i64) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for n in 1..100 {
        let before = snapshot(app, pid).await;
        arm(app, n).await;
        let ok = change(n).await;
        arm(app, -1).await;
        if ok {
            assert_ne!(
                snapshot(app, pid).await,
                before,
                "the change wrote something"
            );
            return n - 1;
        }
        assert_eq!(
            snapshot(app, pid).await,
            before,
            "failing at row {n} left part of the change behind"
        );
        app.verify_audit().await;
    }
    panic!("the change never went through");
}

on_both!(
    a_transition_an_access_code_and_an_upload_are_all_or_nothing,
    |app: TestApp| async move {
        let app = app;
        let pid = file_and_confirm(&app, "atomic@example.jp").await;
        // Nothing else may write while the fault counts rows: the app's own mail worker and
        // timers stop (the changes below are the service's, called directly).
        app.deliver_mail().await;
        app.halt().await;
        install_fault(&app).await;

        // An access code: older codes end, the new one, its mail, its entry, the trail head.
        let rows = all_or_nothing(&app, pid, |n| {
            let service = app.service.clone();
            async move {
                // A fresh client address each time: the code limits count every try.
                let origin = Origin {
                    ip: Some(format!("192.0.2.{n}")),
                    user_agent: None,
                };
                service
                    .send_access_code(pid, &origin, Utc::now())
                    .await
                    .is_ok()
            }
        })
        .await;
        assert!(rows >= 4, "a code writes at least 4 rows, wrote {rows}");

        // An upload of five files: five documents and five entries, or none.
        let files: Vec<(String, Vec<u8>)> = (0..5)
            .map(|i| (format!("id-{i}.png"), png(&format!("atomic-{i}"))))
            .collect();
        let rows = all_or_nothing(&app, pid, |_| {
            let (service, files) = (app.service.clone(), files.clone());
            async move {
                service
                    .upload(
                        pid,
                        DocumentPurpose::Identity,
                        files,
                        &Actor::Subject,
                        &Origin::default(),
                        Utc::now(),
                    )
                    .await
                    .is_ok()
            }
        })
        .await;
        assert!(
            rows >= 11,
            "five files and five entries and the head, wrote {rows}"
        );

        // A transition with mail: the request row, its entries, the outbox.
        let officer = Actor::Staff {
            id: "o".into(),
            role: Role::Officer,
        };
        let rows = all_or_nothing(&app, pid, |_| {
            let (service, officer) = (app.service.clone(), officer.clone());
            async move {
                service
                    .act(
                        pid,
                        None,
                        &Event::ApproveIdentity,
                        &officer,
                        &EventText::default(),
                        &Origin::default(),
                        Utc::now(),
                    )
                    .await
                    .is_ok()
            }
        })
        .await;
        assert!(rows >= 3, "the row, an entry and a mail, wrote {rows}");
        app.verify_audit().await;
    }
);

on_both!(
    a_download_and_a_recorded_refund_are_all_or_nothing,
    |app: TestApp| async move {
        let app = app;
        let officer = Actor::Staff {
            id: "o".into(),
            role: Role::Officer,
        };
        let act = |pid: uuid::Uuid, event: Event, actor: Actor| {
            let service = app.service.clone();
            async move {
                service
                    .act(
                        pid,
                        None,
                        &event,
                        &actor,
                        &EventText::default(),
                        &Origin::default(),
                        Utc::now(),
                    )
                    .await
                    .unwrap();
            }
        };
        let paid = |pid: uuid::Uuid| {
            let act = &act;
            let officer = officer.clone();
            async move {
                act(pid, Event::ApproveIdentity, officer.clone()).await;
                act(
                    pid,
                    Event::RecordPayment {
                        amount: madoguchi_domain::Yen(3000),
                        method: madoguchi_domain::PaymentMethod::Cash,
                    },
                    officer,
                )
                .await;
            }
        };
        // An answered request with one file to download.
        let answered = file_and_confirm(&app, "atomic-download@example.jp").await;
        paid(answered).await;
        let docs = app
            .service
            .upload(
                answered,
                DocumentPurpose::Package,
                vec![("answer.pdf".into(), b"%PDF-1.7 atomic answer".to_vec())],
                &officer,
                &Origin::default(),
                Utc::now(),
            )
            .await
            .unwrap();
        act(
            answered,
            Event::Complete(madoguchi_domain::Outcome::Fulfilled),
            officer.clone(),
        )
        .await;
        // A paid request withdrawn before work: a refund due, to be recorded as paid back.
        let withdrawn = file_and_confirm(&app, "atomic-refund@example.jp").await;
        paid(withdrawn).await;
        act(withdrawn, Event::Withdraw, Actor::Subject).await;
        let refund_id = {
            use sea_orm::EntityTrait;
            let id = app.request(withdrawn).await.id;
            madoguchi_store::entities::payment::Entity::find()
                .all(app.service.db().conn())
                .await
                .unwrap()
                .into_iter()
                .find(|p| p.request_id == id && p.kind.starts_with("refund_due"))
                .expect("a refund is due")
                .id
        };
        app.deliver_mail().await;
        app.halt().await;
        install_fault(&app).await;

        let rows = all_or_nothing(&app, answered, |_| {
            let service = app.service.clone();
            let doc = docs[0];
            async move {
                service
                    .download_package(answered, doc, &Origin::default(), Utc::now())
                    .await
                    .is_ok()
            }
        })
        .await;
        assert!(rows >= 2, "the count and the entry, wrote {rows}");
        let rows = all_or_nothing(&app, withdrawn, |_| {
            let (service, officer) = (app.service.clone(), officer.clone());
            async move {
                service
                    .record_offline_refund(
                        withdrawn,
                        refund_id,
                        "窓口で返金 0001",
                        &officer,
                        &Origin::default(),
                        Utc::now(),
                    )
                    .await
                    .is_ok()
            }
        })
        .await;
        assert!(rows >= 2, "the refund row and the entry, wrote {rows}");
        app.verify_audit().await;
    }
);

/// Rows in every table a change writes: what a failed intake must leave as it was.
async fn table_counts(app: &TestApp) -> Vec<i64> {
    let db = app.service.db().conn();
    let mut counts = Vec::new();
    for t in TABLES {
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                format!("SELECT COUNT(*) AS n FROM {t}"),
            ))
            .await
            .unwrap()
            .unwrap();
        counts.push(row.try_get::<i64>("", "n").unwrap());
    }
    counts
}

on_both!(
    an_intake_is_all_or_nothing_with_its_webhook_deliveries,
    |app: TestApp| async move {
        let app = app;
        app.halt().await;
        // An endpoint that wants the filing: its delivery is part of the intake's change (on
        // PostgreSQL the one statement without a transaction around it).
        app.sql(&format!(
            "INSERT INTO webhook_endpoints (pid, url, events, secret, active, created_at) \
             VALUES ({}, 'https://hooks.example.jp/in', 'request.filed,request.state_changed', \
             'not opened here', {}, CURRENT_TIMESTAMP)",
            match app.backend {
                Backend::Postgres => format!("'{}'", uuid::Uuid::new_v4()),
                _ => format!("X'{}'", uuid::Uuid::new_v4().simple()),
            },
            match app.backend {
                Backend::Postgres => "true",
                _ => "1",
            }
        ))
        .await;
        install_fault(&app).await;
        let mut wrote = None;
        for n in 1..30 {
            let before = table_counts(&app).await;
            arm(&app, n).await;
            // Through the service (the app's server and workers are stopped, so that nothing
            // else writes while the fault counts rows), as the API files it.
            let input: madoguchi_web::intake::IntakeInput =
                serde_json::from_value(valid_json(&format!("intake-{n}@example.jp"))).unwrap();
            let new = input
                .parse_now(
                    madoguchi_service::Channel::Api,
                    &madoguchi_domain::Policy::appi(),
                )
                .unwrap();
            let filed = app
                .service
                .file_request(new, &Origin::default(), Utc::now())
                .await;
            arm(&app, -1).await;
            if filed.is_ok() {
                let after = table_counts(&app).await;
                // The request, its entry, its link token, its mail and one delivery.
                assert_eq!(
                    after
                        .iter()
                        .zip(&before)
                        .map(|(a, b)| a - b)
                        .collect::<Vec<_>>(),
                    vec![1, 1, 1, 1, 0, 0, 1],
                    "an intake's rows"
                );
                wrote = Some(n - 1);
                break;
            }
            assert_eq!(
                table_counts(&app).await,
                before,
                "failing at row {n} left part of the intake behind"
            );
        }
        assert_eq!(
            wrote,
            Some(5),
            "an intake writes five rows, each failed in turn"
        );
        app.verify_audit().await;
    }
);
