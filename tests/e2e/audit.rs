//! Tamper evidence: every way of rewriting history is caught and located; untouched data
//! verifies; the auditor can read, verify and export the trail.

use chrono::{Duration, Utc};
use madoguchi_domain::{Actor, AuditOnly, Event, Role};
use madoguchi_service::EventText;
use madoguchi_store::audit::{Break, Origin};

use crate::helpers::*;
use crate::on_both;

/// Two requests with trails, a checkpoint over them, then one more entry after it.
async fn trail(app: &TestApp) -> (uuid::Uuid, uuid::Uuid) {
    let a = file_and_confirm(app, "trail-a@example.jp").await;
    let b = file_and_confirm(app, "trail-b@example.jp").await;
    let o = Actor::Staff {
        id: "o".into(),
        role: Role::Officer,
    };
    app.service
        .act(
            a,
            None,
            &Event::ApproveIdentity,
            &o,
            &EventText::default(),
            &Origin::default(),
            Utc::now(),
        )
        .await
        .unwrap();
    assert!(
        app.service
            .audit_checkpoint(Utc::now() + Duration::seconds(10))
            .await
            .unwrap()
            .is_some()
    );
    let view = Event::Record(AuditOnly::Viewed {
        target: "details".into(),
    });
    app.service
        .act(
            a,
            None,
            &view,
            &o,
            &EventText::default(),
            &Origin::default(),
            Utc::now(),
        )
        .await
        .unwrap();
    app.verify_audit().await;
    (a, b)
}

pub async fn unguard(app: &TestApp) {
    match app.backend {
        Backend::Sqlite => {
            for t in [
                "audit_entries_no_update",
                "audit_entries_no_delete",
                "audit_checkpoints_no_update",
                "audit_checkpoints_no_delete",
            ] {
                app.sql(&format!("DROP TRIGGER {t}")).await;
            }
        }
        Backend::Postgres => {
            app.sql("ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only")
                .await;
            app.sql("ALTER TABLE audit_checkpoints DISABLE TRIGGER audit_checkpoints_append_only")
                .await;
        }
    }
}

async fn broken(app: &TestApp) -> Break {
    madoguchi_store::audit::verify(app.service.db().conn())
        .await
        .unwrap()
        .expect_err("tampering must be detected")
}

fn chain(pid: uuid::Uuid) -> String {
    format!("request:{pid}")
}

on_both!(an_edited_entry_is_found, |app: TestApp| async move {
    let (a, _) = trail(&app).await;
    unguard(&app).await;
    app.sql(&format!(
        "UPDATE audit_entries SET actor_kind = 'system' WHERE chain = '{}' AND seq = 2",
        chain(a)
    ))
    .await;
    let b = broken(&app).await;
    assert_eq!((b.chain, b.seq), (chain(a), 2));
});

on_both!(a_deleted_middle_entry_is_found, |app: TestApp| async move {
    let (a, _) = trail(&app).await;
    unguard(&app).await;
    app.sql(&format!(
        "DELETE FROM audit_entries WHERE chain = '{}' AND seq = 2",
        chain(a)
    ))
    .await;
    let b = broken(&app).await;
    assert_eq!((b.chain, b.seq), (chain(a), 2));
});

on_both!(
    an_inserted_entry_is_found_even_with_a_valid_hash,
    |app: TestApp| async move {
        let (a, _) = trail(&app).await;
        unguard(&app).await;
        let last = madoguchi_store::audit::for_request(app.service.db().conn(), a)
            .await
            .unwrap()
            .last()
            .unwrap()
            .clone();
        // The attacker knows the format and links the forged entry correctly.
        let (rows, _, _) = madoguchi_store::audit::link(
            &chain(a),
            Some(last.request_id.unwrap()),
            last.seq,
            &last.hash,
            &[madoguchi_store::audit::NewEntry {
                actor_kind: "staff".into(),
                actor_id: None,
                role: None,
                action: "request.complete".into(),
                detail: vec![],
            }],
            &Origin::default(),
            Utc::now(),
        );
        // Straight into the table, as an attacker with database access would.
        use madoguchi_store::sea_orm::EntityTrait;
        madoguchi_store::entities::audit_entry::Entity::insert_many(rows)
            .exec(app.service.db().conn())
            .await
            .unwrap();
        let b = broken(&app).await;
        assert_eq!(b.chain, chain(a));
    }
);

on_both!(swapped_entries_are_found, |app: TestApp| async move {
    let (a, _) = trail(&app).await;
    unguard(&app).await;
    let c = chain(a);
    app.sql(&format!(
        "UPDATE audit_entries SET seq = 99 WHERE chain = '{c}' AND seq = 1"
    ))
    .await;
    app.sql(&format!(
        "UPDATE audit_entries SET seq = 1 WHERE chain = '{c}' AND seq = 2"
    ))
    .await;
    app.sql(&format!(
        "UPDATE audit_entries SET seq = 2 WHERE chain = '{c}' AND seq = 99"
    ))
    .await;
    let b = broken(&app).await;
    assert_eq!((b.chain, b.seq), (c, 1));
});

on_both!(a_cut_tail_is_found, |app: TestApp| async move {
    let (a, _) = trail(&app).await;
    unguard(&app).await;
    let last = madoguchi_store::audit::for_request(app.service.db().conn(), a)
        .await
        .unwrap()
        .len();
    app.sql(&format!(
        "DELETE FROM audit_entries WHERE chain = '{}' AND seq = {last}",
        chain(a)
    ))
    .await;
    let b = broken(&app).await;
    assert_eq!(b.chain, chain(a));
    assert!(b.reason.contains("head"), "{}", b.reason);
});

on_both!(
    a_request_deleted_with_its_whole_trail_is_found_by_the_checkpoint,
    |app: TestApp| async move {
        let (_, b) = trail(&app).await;
        unguard(&app).await;
        app.sql(&format!(
            "DELETE FROM audit_entries WHERE chain = '{}'",
            chain(b)
        ))
        .await;
        let br = broken(&app).await;
        assert_eq!(
            br.chain,
            chain(b),
            "entries gone while the request row remains"
        );
        app.sql(&format!("DELETE FROM subject_tokens WHERE request_id = (SELECT id FROM requests WHERE pid = '{b}')")).await;
        app.sql(&format!(
            "DELETE FROM outbox WHERE request_id = (SELECT id FROM requests WHERE pid = '{b}')"
        ))
        .await;
        let db = app.service.db().conn();
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        madoguchi_store::entities::request::Entity::delete_many()
            .filter(madoguchi_store::entities::request::Column::Pid.eq(b))
            .exec(db)
            .await
            .unwrap();
        let br = broken(&app).await;
        assert_eq!(br.chain, chain(b));
        assert!(br.reason.contains("checkpoint"), "{}", br.reason);
    }
);

on_both!(an_edited_checkpoint_is_found, |app: TestApp| async move {
    trail(&app).await;
    unguard(&app).await;
    app.sql("UPDATE audit_checkpoints SET heads = '[]' WHERE seq = 1")
        .await;
    let b = broken(&app).await;
    assert_eq!((b.chain.as_str(), b.seq), ("checkpoints", 1));
});

on_both!(
    concurrent_views_and_transitions_keep_a_valid_trail,
    |app: TestApp| async move {
        let mut pids = Vec::new();
        for i in 0..6 {
            pids.push(file_and_confirm(&app, &format!("conc{i}@example.jp")).await);
        }
        let mut tasks = Vec::new();
        for (i, pid) in pids.iter().enumerate() {
            for j in 0..6 {
                let s = app.service.clone();
                let pid = *pid;
                tasks.push(tokio::spawn(async move {
                    let who = Actor::Staff {
                        id: format!("s{j}"),
                        role: if j % 2 == 0 {
                            Role::Auditor
                        } else {
                            Role::Officer
                        },
                    };
                    let event = if j == 3 && i % 2 == 0 {
                        Event::ApproveIdentity
                    } else {
                        Event::Record(AuditOnly::Viewed {
                            target: "details".into(),
                        })
                    };
                    s.act(
                        pid,
                        None,
                        &event,
                        &who,
                        &EventText::default(),
                        &Origin::default(),
                        Utc::now(),
                    )
                    .await
                }));
            }
        }
        for t in tasks {
            let r = t.await.unwrap();
            assert!(
                r.is_ok() || matches!(r, Err(madoguchi_service::ServiceError::Conflict)),
                "{r:?}"
            );
        }
        app.service
            .audit_checkpoint(Utc::now() + Duration::seconds(10))
            .await
            .unwrap();
        app.verify_audit().await;
    }
);

on_both!(
    the_auditor_reads_verifies_and_exports,
    |app: TestApp| async move {
        let (a, _) = trail(&app).await;
        let auditor = staff_client(&app, Role::Auditor).await;
        let page = auditor.get("/staff/audit").await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("request.confirm_email"));
        assert!(
            !page.body.contains(" UTC"),
            "times are Japan time on the page"
        );
        let number = app.request(a).await.number;
        let who = auditor
            .get(&format!("/staff/audit?number={number}&action=data.viewed"))
            .await;
        assert!(who.body.contains("data.viewed"));
        assert!(
            !who.body.contains("request.filed"),
            "filtered to views of this subject's data"
        );
        let res = auditor
            .post_form("/staff/audit/verify", &[("csrf", &page.csrf())])
            .await;
        assert!(
            res.body.contains("改ざんは検出されませんでした"),
            "{}",
            res.body
        );
        let csv = auditor.get("/staff/audit/export.csv").await;
        assert_eq!(csv.status, 200);
        let lines: Vec<&str> = csv.body.lines().collect();
        // With a byte-order mark, so Excel in Japan opens it as UTF-8.
        assert!(
            lines[0].starts_with("\u{feff}id,at,chain"),
            "{:?}",
            lines[0]
        );
        let jsonl = auditor.get("/staff/audit/export.jsonl").await;
        let rows: Vec<serde_json::Value> = jsonl
            .body
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(
            rows.len(),
            lines.len() - 1,
            "both exports hold the whole trail"
        );
        let ids: Vec<i64> = rows.iter().map(|r| r["id"].as_i64().unwrap()).collect();
        assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "oldest first, each once"
        );
        let officer = staff_client(&app, Role::Officer).await;
        assert_eq!(officer.get("/staff/audit").await.status, 403);
    }
);
