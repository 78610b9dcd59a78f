//! Personal data at rest (issue #23, finding 5): after a whole journey the database files, as
//! a thief or a backup would hold them (the SQLite file with its WAL, or `pg_dump`), contain
//! none of what the subject wrote, nor a staff member's TOTP secret.

use chrono::Utc;
use madoguchi_domain::{Actor, Event, Role};
use madoguchi_service::EventText;
use madoguchi_store::audit::Origin;

use crate::helpers::*;
use crate::on_both;

/// Everything the journey writes that must not appear in the clear. Each is distinctive, so
/// a hit cannot be a coincidence.
const NAME: &str = "封印花子";
const KANA: &str = "フウインハナコ";
const EMAIL_LOCAL: &str = "sealed-journey-7c1f";
const PHONE: &str = "03-5550-0199";
const ADDRESS: &str = "東京都千代田区封印町一丁目";
const DETAILS: &str = "封印詳細：会員番号と配送先";
const CURRENT: &str = "旧住所：封印市旧町";
const CORRECT: &str = "新住所：封印市新町";
const QUESTION: &str = "封印質問：どの店舗ですか";
const REPLY: &str = "封印返信：新宿店です";
const FILE_NAME: &str = "封印花子_運転免許証.png";
const BIRTH_DATE: &str = "1987-06-05";

/// The bytes of the database as stored: the SQLite file and its WAL, or a `pg_dump`.
fn dump(app: &TestApp) -> Vec<u8> {
    if app.backend == Backend::Sqlite {
        let path = app
            .database_url
            .trim_start_matches("sqlite://")
            .split('?')
            .next()
            .unwrap()
            .to_owned();
        let mut bytes = std::fs::read(&path).unwrap();
        if let Ok(wal) = std::fs::read(format!("{path}-wal")) {
            bytes.extend_from_slice(&wal);
        }
        bytes
    } else {
        let out = std::process::Command::new("pg_dump")
            .arg("--data-only")
            .arg(&app.database_url)
            .output()
            .expect("pg_dump runs (postgresql-client)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }
}

fn holds(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

on_both!(
    a_database_dump_after_a_whole_journey_holds_no_personal_data,
    |app: TestApp| async move {
        let app = app;
        let email = format!("{EMAIL_LOCAL}@example.jp");
        let mut body = valid_json(&email);
        body["kind"] = serde_json::json!("correction");
        body["subject_name"] = serde_json::json!(NAME);
        body["subject_kana"] = serde_json::json!(KANA);
        body["phone"] = serde_json::json!(PHONE);
        body["postal_address"] = serde_json::json!(ADDRESS);
        body["details"] = serde_json::json!(DETAILS);
        body["current_content"] = serde_json::json!(CURRENT);
        body["correct_content"] = serde_json::json!(CORRECT);
        body["date_of_birth"] = serde_json::json!(BIRTH_DATE);
        body.as_object_mut().unwrap().remove("delivery");
        let res = app.client.post_json("/api/v1/requests", &body).await;
        assert_eq!(res.status, 201, "{}", res.body);
        let pid = uuid::Uuid::parse_str(res.json()["id"].as_str().unwrap()).unwrap();
        let path = app.confirmation_path(&email).await;
        let page = app.client.get(&path).await;
        let res = app.client.post_form(&path, &[("csrf", &page.csrf())]).await;
        assert_eq!(res.status, 303);
        // An identity document, under a name that names the subject.
        let subject = subject_session(&app, pid, &email).await;
        let csrf = subject.get(&format!("/r/{pid}/private")).await.csrf();
        let png = png("sealed-journey-document");
        let (ct, upload) = multipart(
            &[("csrf", &csrf), ("purpose", "identity")],
            &[(FILE_NAME, &png)],
        );
        let res = subject
            .send(
                hyper::Method::POST,
                &format!("/r/{pid}/documents"),
                Some(&ct),
                upload,
            )
            .await;
        assert_eq!(res.status, 200, "{}", res.body);
        let officer = Actor::Staff {
            id: "officer".into(),
            role: Role::Officer,
        };
        let o = Origin::default();
        app.service
            .act(
                pid,
                None,
                &Event::ApproveIdentity,
                &officer,
                &EventText::default(),
                &o,
                Utc::now(),
            )
            .await
            .unwrap();
        app.service
            .act(
                pid,
                None,
                &Event::RequestInfo {
                    question: QUESTION.into(),
                },
                &officer,
                &EventText {
                    message: Some(QUESTION.into()),
                    reference: None,
                },
                &o,
                Utc::now(),
            )
            .await
            .unwrap();
        app.service
            .provide_info(pid, REPLY, &o, Utc::now())
            .await
            .unwrap();
        app.deliver_mail().await;
        // A staff member with TOTP.
        let (email_staff, password) = staff_user(&app, Role::Officer).await;
        let c = app.client.fresh();
        c.post_login(&[("email", &email_staff), ("password", &password)])
            .await;
        let csrf = c.get("/staff/account").await.csrf();
        let page = c
            .post_form(
                "/staff/account/totp",
                &[("csrf", &csrf), ("password", &password)],
            )
            .await;
        let marker = "<p><code class=\"number\">";
        let start = page.body.find(marker).unwrap() + marker.len();
        let secret = page.body[start..].split('<').next().unwrap().to_owned();
        let key = madoguchi_service::totp::base32_decode(&secret).unwrap();
        let code = madoguchi_service::totp::code_at(&key, (Utc::now().timestamp() / 30) as u64);
        let res = c
            .post_form(
                "/staff/account/totp/confirm",
                &[("csrf", &csrf), ("code", &code)],
            )
            .await;
        assert_eq!(res.status, 200);

        // The service still reads everything back: the officer's page shows what was filed.
        let row = app.request(pid).await;
        assert_eq!(row.subject_name, NAME);
        assert_eq!(row.subject_reply.as_deref(), Some(REPLY));
        assert_eq!(
            row.subject_birth_date.map(|d| d.to_string()).as_deref(),
            Some(BIRTH_DATE)
        );
        let staff = staff_client(&app, Role::Officer).await;
        let detail = staff.get(&format!("/staff/requests/{pid}")).await;
        assert!(detail.body.contains(NAME), "{}", detail.body);
        assert!(
            detail.body.contains(FILE_NAME),
            "the document's name is shown"
        );
        // The staff search finds it by address (through the blind index).
        let found = staff.get(&format!("/staff?q={email}&closed=1")).await;
        assert!(found.body.contains(&row.number), "{}", found.body);

        let bytes = dump(&app);
        assert!(bytes.len() > 10_000, "the dump has the database in it");
        assert!(
            holds(&bytes, &row.number),
            "the dump is readable: it holds the number"
        );
        for needle in [
            NAME,
            KANA,
            EMAIL_LOCAL,
            PHONE,
            ADDRESS,
            DETAILS,
            CURRENT,
            CORRECT,
            QUESTION,
            REPLY,
            FILE_NAME,
            "封印花子_運転",
            BIRTH_DATE,
            secret.as_str(),
        ] {
            assert!(
                !holds(&bytes, needle),
                "{needle:?} is in the database in the clear"
            );
        }
    }
);

on_both!(
    rows_stored_before_sealing_are_sealed_by_reseal,
    |app: TestApp| async move {
        let pid = file_and_confirm(&app, "legacy-row@example.jp").await;
        // As a row written by the previous version: plain text, the address as its own index.
        let id = app.request(pid).await.id;
        app.sql(&format!(
            "UPDATE requests SET subject_name = '旧データ 太郎', email_norm = 'legacy-row@example.jp' \
             WHERE id = {id}"
        ))
        .await;
        assert_eq!(
            app.request(pid).await.subject_name,
            "旧データ 太郎",
            "read as it is"
        );
        let (requests, _) = app.service.reseal_personal_data().await.unwrap();
        assert_eq!(requests, 1, "exactly the legacy row changed");
        assert_eq!(app.request(pid).await.subject_name, "旧データ 太郎");
        let bytes = dump(&app);
        assert!(!holds(&bytes, "旧データ"));
        // Found by address again, through the index the reseal wrote.
        let staff = staff_client(&app, Role::Officer).await;
        let number = app.request(pid).await.number;
        let found = staff.get("/staff?q=legacy-row@example.jp&closed=1").await;
        assert!(found.body.contains(&number), "{}", found.body);
        let (again, _) = app.service.reseal_personal_data().await.unwrap();
        assert_eq!(again, 0, "nothing left to seal");
    }
);

on_both!(
    notes_and_incident_reports_in_the_clear_are_sealed_by_reseal,
    |app: TestApp| async move {
        use sea_orm::EntityTrait;
        let pid = file_and_confirm(&app, "reseal-notes@example.jp").await;
        let officer = staff_client(&app, Role::Officer).await;
        let page = officer.get(&format!("/staff/requests/{pid}")).await;
        let res = officer
            .post_form(
                &format!("/staff/requests/{pid}/notes"),
                &[("csrf", &page.csrf()), ("text", "封印前のメモ")],
            )
            .await;
        assert_eq!(res.status, 303, "{}", res.body);
        let form = officer.get("/staff/incidents/new").await;
        let res = officer
            .post_form(
                "/staff/incidents",
                &[
                    ("csrf", &form.csrf()),
                    ("aware_on", "2026/11/20"),
                    ("people", "2"),
                    ("item_summary", "封印前の概要"),
                ],
            )
            .await;
        assert_eq!(res.status, 303, "{}", res.body);
        // As rows written in the clear (before sealing, or by hand).
        app.sql("UPDATE request_notes SET text = '平文のメモ'")
            .await;
        app.sql("UPDATE incidents SET report = '{\"summary\":\"平文の概要\"}'")
            .await;
        app.service.reseal_personal_data().await.unwrap();
        let conn = app.service.db().conn();
        let note = madoguchi_store::entities::request_note::Entity::find()
            .one(conn)
            .await
            .unwrap()
            .unwrap();
        assert!(note.text.starts_with("sealed:v1:"), "{}", note.text);
        let incident = madoguchi_store::entities::incident::Entity::find()
            .one(conn)
            .await
            .unwrap()
            .unwrap();
        assert!(
            incident.report.starts_with("sealed:v1:"),
            "{}",
            incident.report
        );
        // And they read back as written.
        let page = officer.get(&format!("/staff/requests/{pid}")).await;
        assert!(page.body.contains("平文のメモ"));
        let report = officer
            .get(&format!("/staff/incidents/{}/report", incident.pid))
            .await;
        assert!(report.body.contains("平文の概要"), "{}", report.body);
    }
);
