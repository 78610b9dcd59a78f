//! Identity documents and answers: codes, uploads checked by content, encryption at rest,
//! officer review, downloads, key rotation and retention.

use chrono::{Duration, Utc};
use hyper::Method;
use madoguchi_domain::{Actor, Event, Outcome, Role};
use madoguchi_service::{EventText, FileError, ServiceError};
use madoguchi_store::audit::Origin;

use crate::helpers::*;
use crate::on_both;

async fn upload(
    browser: &Client,
    pid: uuid::Uuid,
    purpose: &str,
    files: &[(&str, &[u8])],
) -> Response {
    let csrf = browser.get(&format!("/r/{pid}/private")).await.csrf();
    let (ct, body) = multipart(&[("csrf", &csrf), ("purpose", purpose)], files);
    browser
        .send(
            Method::POST,
            &format!("/r/{pid}/documents"),
            Some(&ct),
            body,
        )
        .await
}

on_both!(
    an_agent_files_with_documents_and_the_officer_reviews_and_approves,
    |app: TestApp| async move {
        let mut body = valid_json("agent@example.jp");
        body["requester"] = serde_json::json!("appointed_agent");
        body["agent_name"] = serde_json::json!("弁護士 佐藤 一郎");
        body["agent_kana"] = serde_json::json!("サトウ イチロウ");
        body["agent_relationship"] = serde_json::json!("弁護士");
        let res = app.client.post_json("/api/v1/requests", &body).await;
        let pid = uuid::Uuid::parse_str(res.json()["id"].as_str().unwrap()).unwrap();
        let path = app.confirmation_path("agent@example.jp").await;
        let page = app.client.get(&path).await;
        app.client.post_form(&path, &[("csrf", &page.csrf())]).await;

        // No personal data without a code.
        let stranger = app.client.fresh();
        let res = stranger.get(&format!("/r/{pid}/private")).await;
        assert_eq!(res.status, 303);
        assert!(!res.body.contains("山田"));

        let browser = subject_session(&app, pid, "agent@example.jp").await;
        let private = browser.get(&format!("/r/{pid}/private")).await;
        assert_eq!(private.status, 200);
        assert!(private.body.contains("山田 太郎"));
        assert!(
            private.body.contains("個人番号が記載された裏面"),
            "the My Number warning is shown"
        );
        assert!(
            private.body.contains("value=\"authority\""),
            "agents are asked for proof of authority"
        );

        let res = upload(
            &browser,
            pid,
            "identity",
            &[("license.png", &png("SUBJECT-ID-MARKER"))],
        )
        .await;
        assert_eq!(res.status, 200, "{}", res.body);
        let res = upload(
            &browser,
            pid,
            "agent_identity",
            &[("bar.png", &png("AGENT-ID"))],
        )
        .await;
        assert_eq!(res.status, 200);
        let res = upload(
            &browser,
            pid,
            "authority",
            &[("inin.pdf", b"%PDF-1.4 POWER-OF-ATTORNEY")],
        )
        .await;
        assert_eq!(res.status, 200);

        let officer = staff_client(&app, Role::Officer).await;
        let detail = officer.get(&format!("/staff/requests/{pid}")).await;
        assert!(
            detail.body.contains("弁護士 佐藤 一郎"),
            "the officer sees the agent"
        );
        assert!(
            detail.body.contains("マイナンバー"),
            "the officer gets the same checklist"
        );
        let doc_link = detail
            .body
            .split("?doc=")
            .nth(1)
            .unwrap()
            .split('#')
            .next()
            .unwrap()
            .to_owned();
        let doc = officer
            .get(&format!("/staff/requests/{pid}/documents/{doc_link}"))
            .await;
        assert_eq!(doc.status, 200);
        assert!(doc.header("content-security-policy").contains("sandbox"));
        let v = app.request(pid).await.version.to_string();
        let csrf = detail.csrf();
        let res = officer
            .post_form(
                &format!("/staff/requests/{pid}/events"),
                &[
                    ("csrf", &csrf),
                    ("version", &v),
                    ("event", "approve_identity"),
                ],
            )
            .await;
        assert_eq!(res.status, 303);
        assert_eq!(app.request(pid).await.state, "awaiting_payment");
        let actions = app.audit_actions(pid).await;
        assert_eq!(
            actions.iter().filter(|a| *a == "document.uploaded").count(),
            3
        );
        assert!(actions.contains(&"access_code.accepted".to_owned()));
        assert!(
            actions.iter().filter(|a| *a == "data.viewed").count() >= 2,
            "the page view and the document view: {actions:?}"
        );
        assert!(
            app.mails_to("agent@example.jp")
                .await
                .iter()
                .any(|m| m.subject.contains("本人確認完了と手数料のお支払いのお願い"))
        );
        app.verify_audit().await;
    }
);

on_both!(
    uploads_are_judged_by_content_and_limits,
    |app: TestApp| async move {
        let pid = file_and_confirm(&app, "files@example.jp").await;
        let browser = subject_session(&app, pid, "files@example.jp").await;
        let res = upload(
            &browser,
            pid,
            "identity",
            &[("photo.jpg", b"just some text pretending")],
        )
        .await;
        assert_eq!(res.status, 422);
        assert!(res.body.contains("中身で判定"));
        let res = upload(
            &browser,
            pid,
            "identity",
            &[("id.pdf", b"MZ\x90\x00\x03\x00\x00\x00 an executable")],
        )
        .await;
        assert_eq!(res.status, 422);
        let res = upload(
            &browser,
            pid,
            "identity",
            &[("scan.pdf", &png("REALLY-A-PNG"))],
        )
        .await;
        assert_eq!(res.status, 200);
        let six: Vec<Vec<u8>> = (0..6).map(|i| png(&format!("n{i}"))).collect();
        let many: Vec<(&str, &[u8])> = six.iter().map(|b| ("a.png", b.as_slice())).collect();
        let res = upload(&browser, pid, "identity", &many).await;
        assert_eq!(res.status, 422, "over the count limit");
        let mut big = png("BIG");
        big.resize(10 * 1024 * 1024 + 10, 0);
        let res = upload(&browser, pid, "identity", &[("big.png", &big)]).await;
        assert_eq!(res.status, 413, "over the size limit");
        let docs = app
            .service
            .documents(app.request(pid).await.id)
            .await
            .unwrap();
        assert_eq!(docs.len(), 1, "only the real PNG was stored");
        assert_eq!(
            docs[0].content_type, "image/png",
            "stored as what it is, not what it was called"
        );
    }
);

on_both!(
    codes_are_single_use_limited_and_locked,
    |app: TestApp| async move {
        let pid = file_and_confirm(&app, "codes@example.jp").await;
        let browser = app.client.fresh();
        let status = browser.get(&format!("/r/{pid}")).await;
        browser
            .post_form(&format!("/r/{pid}/code"), &[("csrf", &status.csrf())])
            .await;
        let code = latest_code(&app, "codes@example.jp").await;
        let wrong = if code == "000000" { "111111" } else { "000000" };
        let csrf = browser.get(&format!("/r/{pid}/access")).await.csrf();
        for _ in 0..4 {
            let res = browser
                .post_form(
                    &format!("/r/{pid}/access"),
                    &[("csrf", &csrf), ("code", wrong)],
                )
                .await;
            assert_eq!(res.status, 422);
            assert!(res.body.contains("正しくありません"));
        }
        let res = browser
            .post_form(
                &format!("/r/{pid}/access"),
                &[("csrf", &csrf), ("code", wrong)],
            )
            .await;
        assert_eq!(res.status, 429, "the fifth wrong code locks it");
        let res = browser
            .post_form(
                &format!("/r/{pid}/access"),
                &[("csrf", &csrf), ("code", &code)],
            )
            .await;
        assert_ne!(res.status, 303, "a locked code stays locked");
        assert!(
            app.audit_actions(pid)
                .await
                .contains(&"access_code.locked".to_owned())
        );
        // An expired code.
        app.service
            .send_access_code(pid, &Origin::default(), Utc::now())
            .await
            .unwrap();
        let code = latest_code(&app, "codes@example.jp").await;
        let err = app
            .service
            .verify_access_code(
                pid,
                &code,
                &Origin::default(),
                Utc::now() + Duration::minutes(11),
            )
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            ServiceError::Access(madoguchi_service::AccessError::Expired)
        ));
        // A session for one request opens nothing of another.
        let other = file_and_confirm(&app, "other@example.jp").await;
        let browser = subject_session(&app, pid, "codes@example.jp").await;
        let token = browser.cookie("madoguchi_subject").unwrap();
        assert!(
            app.service
                .subject_session(pid, &token, Utc::now())
                .await
                .unwrap()
        );
        assert!(
            !app.service
                .subject_session(other, &token, Utc::now())
                .await
                .unwrap()
        );
        let res = browser.get(&format!("/r/{other}/private")).await;
        assert_ne!(res.status, 200);
        assert!(!res.body.contains("other@example.jp"));
    }
);

on_both!(
    documents_are_encrypted_at_rest_and_survive_key_rotation,
    |app: TestApp| async move {
        let pid = file_and_confirm(&app, "crypt@example.jp").await;
        let browser = subject_session(&app, pid, "crypt@example.jp").await;
        upload(
            &browser,
            pid,
            "identity",
            &[("a.png", &png("PLAINTEXT-MARKER-123"))],
        )
        .await;
        use sea_orm::EntityTrait;
        let rows = madoguchi_store::entities::attachment::Entity::find()
            .all(app.service.db().conn())
            .await
            .unwrap();
        let raw = rows[0].ciphertext.clone().unwrap();
        assert!(
            !raw.windows(20).any(|w| w == b"PLAINTEXT-MARKER-123"),
            "no plaintext in the database"
        );
        assert!(!raw.starts_with(b"\x89PNG"));
        let old_key = rows[0].key_id.clone();
        let mut ring = madoguchi::load_keys(&app_config(&app)).unwrap();
        ring.rotate("k2");
        app.service.set_keys(ring);
        assert_eq!(app.service.reencrypt_documents().await.unwrap(), 1);
        let rows = madoguchi_store::entities::attachment::Entity::find()
            .all(app.service.db().conn())
            .await
            .unwrap();
        assert_eq!(rows[0].key_id, "k2");
        assert_ne!(rows[0].key_id, old_key);
        let officer = Actor::Staff {
            id: "o".into(),
            role: Role::Officer,
        };
        let (_, bytes) = app
            .service
            .read_document_as_staff(pid, rows[0].pid, &officer, &Origin::default(), Utc::now())
            .await
            .unwrap();
        assert!(bytes.ends_with(b"PLAINTEXT-MARKER-123"));
    }
);

on_both!(
    an_answer_is_downloaded_with_a_code_within_its_window_and_limit,
    |app: TestApp| async move {
        let pid = answered_with(
            &app,
            "dl@example.jp",
            &[("kaiji.pdf", b"%PDF-1.7 DISCLOSED-DATA")],
        )
        .await;
        let officer = staff_client(&app, Role::Officer).await;
        let now = Utc::now();
        let letter = officer.get(&format!("/staff/requests/{pid}/letter")).await;
        assert!(
            letter.body.contains("kaiji.pdf")
                && letter.body.contains("株式会社サンプル")
                && letter.body.contains(&app.request(pid).await.number)
        );

        let doc = app
            .service
            .documents(app.request(pid).await.id)
            .await
            .unwrap()[0]
            .pid;
        let stranger = app.client.fresh();
        assert_ne!(
            stranger.get(&format!("/r/{pid}/files/{doc}")).await.status,
            200,
            "no code, no file"
        );
        let browser = subject_session(&app, pid, "dl@example.jp").await;
        for _ in 0..5 {
            let res = browser.get(&format!("/r/{pid}/files/{doc}")).await;
            assert_eq!(res.status, 200);
            assert!(res.body.contains("DISCLOSED-DATA"));
            assert!(res.header("content-disposition").starts_with("attachment"));
        }
        assert_eq!(
            browser.get(&format!("/r/{pid}/files/{doc}")).await.status,
            409,
            "over the download limit"
        );
        let late = app
            .service
            .download_package(pid, doc, &Origin::default(), now + Duration::days(31))
            .await
            .unwrap_err();
        assert!(matches!(late, ServiceError::File(FileError::Expired)));
        assert_eq!(
            app.audit_actions(pid)
                .await
                .iter()
                .filter(|a| *a == "file.downloaded")
                .count(),
            5
        );
        app.verify_audit().await;
    }
);

on_both!(
    retention_deletes_exactly_what_is_due,
    |app: TestApp| async move {
        let kept = file_and_confirm(&app, "kept@example.jp").await;
        let rejected = file_and_confirm(&app, "gone@example.jp").await;
        for (pid, email) in [(kept, "kept@example.jp"), (rejected, "gone@example.jp")] {
            let browser = subject_session(&app, pid, email).await;
            upload(&browser, pid, "identity", &[("id.png", &png("ID"))]).await;
        }
        let o = Actor::Staff {
            id: "o".into(),
            role: Role::Officer,
        };
        let text = EventText {
            message: Some("不鮮明".into()),
            reference: None,
        };
        app.service
            .act(
                rejected,
                None,
                &Event::RejectIdentity {
                    reason: "不鮮明".into(),
                },
                &o,
                &text,
                &Origin::default(),
                Utc::now(),
            )
            .await
            .unwrap();
        app.service
            .act(
                kept,
                None,
                &Event::ApproveIdentity,
                &o,
                &EventText::default(),
                &Origin::default(),
                Utc::now(),
            )
            .await
            .unwrap();
        assert_eq!(
            app.service
                .retention_sweep(Utc::now() + Duration::minutes(1))
                .await
                .unwrap(),
            1,
            "the rejected request's document goes at once"
        );
        let kept_docs = app
            .service
            .documents(app.request(kept).await.id)
            .await
            .unwrap();
        assert!(!kept_docs[0].deleted, "an open request keeps its documents");
        let gone_docs = app
            .service
            .documents(app.request(rejected).await.id)
            .await
            .unwrap();
        assert!(gone_docs[0].deleted);
        assert!(
            app.audit_actions(rejected)
                .await
                .contains(&"document.deleted".to_owned())
        );
        assert_eq!(
            app.service
                .retention_sweep(Utc::now() + Duration::days(400))
                .await
                .unwrap(),
            0,
            "open requests keep documents however old"
        );
        app.verify_audit().await;
    }
);

on_both!(
    the_whole_answer_downloads_as_one_zip_counted_per_file,
    |app: TestApp| async move {
        let pdf: &[u8] = b"%PDF-1.7 FIRST-PART";
        let png = png("SECOND-PART");
        let pid = answered_with(
            &app,
            "zip@example.jp",
            &[("one.pdf", pdf), ("two.png", png.as_slice())],
        )
        .await;

        assert_ne!(
            app.client
                .fresh()
                .get(&format!("/r/{pid}/answer.zip"))
                .await
                .status,
            200,
            "no code, no ZIP"
        );
        let browser = subject_session(&app, pid, "zip@example.jp").await;
        let page = browser.get(&format!("/r/{pid}/private")).await;
        assert!(
            page.body.contains(&format!("/r/{pid}/answer.zip")),
            "offered"
        );
        let res = browser.get(&format!("/r/{pid}/answer.zip")).await;
        assert_eq!(res.status, 200, "{}", res.body);
        assert_eq!(res.header("content-type"), "application/zip");
        assert!(res.header("content-disposition").starts_with("attachment"));
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(res.bytes.clone())).unwrap();
        assert_eq!(zip.len(), 2);
        let mut contents = Vec::new();
        for i in 0..zip.len() {
            use std::io::Read as _;
            let mut f = zip.by_index(i).unwrap();
            let name = f.name().unwrap().into_owned();
            assert!(name.starts_with("document-"), "{name}");
            let mut b = Vec::new();
            f.read_to_end(&mut b).unwrap();
            contents.push(b);
        }
        assert!(contents.contains(&pdf.to_vec()));
        assert!(contents.contains(&png));

        // Each file counted once per ZIP; the limit (5) is reached by any route, and a ZIP
        // that would pass it for one file is refused for all.
        let docs = app
            .service
            .documents(app.request(pid).await.id)
            .await
            .unwrap();
        assert!(docs.iter().all(|d| d.downloads == 1), "{docs:?}");
        let first = docs[0].pid;
        for _ in 0..4 {
            assert_eq!(
                browser.get(&format!("/r/{pid}/files/{first}")).await.status,
                200
            );
        }
        assert_eq!(
            browser.get(&format!("/r/{pid}/answer.zip")).await.status,
            409,
            "one file is at its limit"
        );
        let after = app
            .service
            .documents(app.request(pid).await.id)
            .await
            .unwrap();
        assert_eq!(
            after.iter().map(|d| d.downloads).sum::<i32>(),
            6,
            "the refused ZIP counted nothing"
        );
        let downloads: Vec<String> = app
            .audit_actions(pid)
            .await
            .into_iter()
            .filter(|a| a == "file.downloaded")
            .collect();
        assert_eq!(
            downloads.len(),
            5,
            "one entry for the ZIP, four single files"
        );
        app.verify_audit().await;
    }
);

/// A disclosure filed and confirmed at `email`, approved, paid in cash, with `files` attached by
/// an officer on the request page and completed as fulfilled.
async fn answered_with(app: &TestApp, email: &str, files: &[(&str, &[u8])]) -> uuid::Uuid {
    let pid = file_and_confirm(app, email).await;
    let officer = staff_client(app, Role::Officer).await;
    let o = Actor::Staff {
        id: "o".into(),
        role: Role::Officer,
    };
    let act = |event: Event| {
        let o = o.clone();
        async move {
            app.service
                .act(
                    pid,
                    None,
                    &event,
                    &o,
                    &EventText::default(),
                    &Origin::default(),
                    Utc::now(),
                )
                .await
                .unwrap();
        }
    };
    act(Event::ApproveIdentity).await;
    act(Event::RecordPayment {
        amount: madoguchi_domain::Yen(3000),
        method: madoguchi_domain::PaymentMethod::Cash,
    })
    .await;
    for (name, bytes) in files {
        let csrf = officer.get(&format!("/staff/requests/{pid}")).await.csrf();
        let (ct, body) = multipart(&[("csrf", &csrf)], &[(name, bytes)]);
        let res = officer
            .send(
                Method::POST,
                &format!("/staff/requests/{pid}/documents"),
                Some(&ct),
                body,
            )
            .await;
        assert_eq!(res.status, 303, "{}", res.body);
    }
    act(Event::Complete(Outcome::Fulfilled)).await;
    pid
}
