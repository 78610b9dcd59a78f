//! Identity (本人確認) beyond documents: customer records and their import, the date of birth
//! at intake, legal representatives of minors and adults, and where results go.

use chrono::{Datelike, Duration, NaiveDate, Utc};
use hyper::Method;
use madoguchi_domain::{Actor, Event, Outcome, Role, jst_date};
use madoguchi_service::{EventText, ImportError};
use madoguchi_store::audit::Origin;
use sea_orm::EntityTrait;

use crate::helpers::*;
use crate::on_both;

/// The date of birth of someone who is `years` old today (Japan date) and a month.
fn born_years_ago(years: i32) -> String {
    let month_ago = jst_date(Utc::now()) - Duration::days(31);
    let year = month_ago.year() - years;
    month_ago
        .with_year(year)
        .or_else(|| NaiveDate::from_ymd_opt(year, 2, 28))
        .unwrap()
        .to_string()
}

fn officer() -> Actor {
    Actor::Staff {
        id: "officer-identity".into(),
        role: Role::Officer,
    }
}

async fn confirm(app: &TestApp, email: &str) {
    let path = app.confirmation_path(email).await;
    let page = app.client.get(&path).await;
    let res = app.client.post_form(&path, &[("csrf", &page.csrf())]).await;
    assert_eq!(res.status, 303, "{}", res.body);
}

async fn file(app: &TestApp, body: &serde_json::Value) -> uuid::Uuid {
    let res = app.client.post_json("/api/v1/requests", body).await;
    assert_eq!(res.status, 201, "{}", res.body);
    uuid::Uuid::parse_str(res.json()["id"].as_str().unwrap()).unwrap()
}

fn agent_json(email: &str, requester: &str, relationship: &str) -> serde_json::Value {
    let mut body = valid_json(email);
    body["requester"] = serde_json::json!(requester);
    body["agent_name"] = serde_json::json!("山田 花子");
    body["agent_kana"] = serde_json::json!("ヤマダ ハナコ");
    body["agent_relationship"] = serde_json::json!(relationship);
    body
}

async fn upload(browser: &Client, pid: uuid::Uuid, purpose: &str, name: &str, bytes: &[u8]) {
    let csrf = browser.get(&format!("/r/{pid}/private")).await.csrf();
    let (ct, body) = multipart(&[("csrf", &csrf), ("purpose", purpose)], &[(name, bytes)]);
    let res = browser
        .send(
            Method::POST,
            &format!("/r/{pid}/documents"),
            Some(&ct),
            body,
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
}

async fn import(app: &TestApp, csv: &str) -> Result<madoguchi_service::ImportReport, ImportError> {
    app.service
        .import_customers(csv, &Origin::default(), Utc::now())
        .await
}

on_both!(
    a_parent_files_for_a_minor_with_documents_and_the_officer_approves,
    |app: TestApp| async move {
        let dob = born_years_ago(12);
        let mut body = agent_json("parent@example.jp", "legal_representative", "親権者（母）");
        body["date_of_birth"] = serde_json::json!(dob);
        let pid = file(&app, &body).await;
        let row = app.request(pid).await;
        assert_eq!(
            row.subject_birth_date.map(|d| d.to_string()),
            Some(dob.clone())
        );
        confirm(&app, "parent@example.jp").await;
        assert_eq!(app.request(pid).await.state, "identity_review");

        let browser = subject_session(&app, pid, "parent@example.jp").await;
        upload(&browser, pid, "identity", "child-id.png", &png("CHILD-ID")).await;
        upload(
            &browser,
            pid,
            "agent_identity",
            "mother-id.png",
            &png("MOTHER"),
        )
        .await;
        upload(&browser, pid, "authority", "koseki.pdf", b"%PDF-1.4 KOSEKI").await;

        let staff = staff_client(&app, Role::Officer).await;
        let detail = staff.get(&format!("/staff/requests/{pid}")).await;
        assert_eq!(detail.status, 200);
        // As people write it.
        let written = madoguchi_domain::written_date(
            chrono::NaiveDate::parse_from_str(&dob, "%Y-%m-%d").unwrap(),
            false,
        );
        assert!(
            detail.body.contains(&written),
            "the officer sees the date of birth"
        );
        assert!(detail.body.contains("親権者（母）"));
        assert!(
            !detail.body.contains("adult-subject-warning"),
            "a minor's parent is not flagged"
        );
        let v = app.request(pid).await.version.to_string();
        let res = staff
            .post_form(
                &format!("/staff/requests/{pid}/events"),
                &[
                    ("csrf", &detail.csrf()),
                    ("version", &v),
                    ("event", "approve_identity"),
                ],
            )
            .await;
        assert_eq!(res.status, 303, "{}", res.body);
        let row = app.request(pid).await;
        assert_eq!(row.state, "awaiting_payment");
        assert!(row.identity_verified);

        let mails = app.mails_to("parent@example.jp").await;
        let subjects: Vec<&str> = mails.iter().map(|m| m.subject.as_str()).collect();
        for expected in [
            "メールアドレスを確認しました",
            "本人確認完了と手数料のお支払いのお願い",
            "確認コード",
        ] {
            assert!(
                subjects.iter().any(|s| s.contains(expected)),
                "{expected}: {subjects:?}"
            );
        }
        let approved = mails
            .iter()
            .find(|m| m.subject.contains("本人確認完了"))
            .unwrap();
        assert!(
            approved.text.contains("山田 花子 様"),
            "the mail addresses the parent"
        );

        let trail = trail(&app, pid).await;
        let actions: Vec<&str> = trail.iter().map(|(_, a, _)| a.as_str()).collect();
        for expected in [
            "request.filed",
            "request.confirm_email",
            "document.uploaded",
            "data.viewed",
            "request.approve_identity",
        ] {
            assert!(actions.contains(&expected), "{expected}: {actions:?}");
        }
        assert_eq!(
            actions
                .iter()
                .filter(|a| **a == "document.uploaded")
                .count(),
            3
        );
        let filed = &trail
            .iter()
            .find(|(_, a, _)| a == "request.filed")
            .unwrap()
            .2;
        assert!(filed.contains("legal_representative"), "{filed}");
        for (_, action, detail) in &trail {
            assert!(
                !detail.contains(&dob) && !detail.contains("山田"),
                "{action} holds personal data: {detail}"
            );
        }
        app.verify_audit().await;
    }
);

on_both!(
    a_customer_record_match_approves_identity_without_an_officer,
    vars = [("MADOGUCHI_IDENTITY_DISCLOSURE", "customer_record")],
    |app: TestApp| async move {
        let report = import(
            &app,
            "email,name,date_of_birth,external_ref\n\
             Member@Example.jp,山田太郎,1990-04-01,M-0001\n",
        )
        .await
        .unwrap();
        assert_eq!((report.inserted, report.updated), (1, 0));

        // The API asks for the date of birth this method needs, as a problem naming it.
        let res = app
            .client
            .post_json("/api/v1/requests", &valid_json("member@example.jp"))
            .await;
        assert_eq!(res.status, 422, "{}", res.body);
        assert_eq!(res.header("content-type"), "application/problem+json");
        let errors = res.json()["errors"].as_array().unwrap().clone();
        assert!(
            errors
                .iter()
                .any(|e| e["field"] == "date_of_birth" && e["code"] == "birth_date_required"),
            "{errors:?}"
        );

        // The form says so in the subject's language.
        let form = app.client.get("/?kind=disclosure").await;
        let mut fields = vec![
            ("csrf".to_owned(), form.csrf()),
            ("kind".to_owned(), "disclosure".to_owned()),
            ("requester".to_owned(), "subject".to_owned()),
            ("subject_name".to_owned(), "山田 太郎".to_owned()),
            ("subject_kana".to_owned(), "ヤマダ タロウ".to_owned()),
            ("email".to_owned(), "member@example.jp".to_owned()),
            ("delivery".to_owned(), "electronic".to_owned()),
            ("details".to_owned(), "会員情報".to_owned()),
            ("consent".to_owned(), "on".to_owned()),
        ];
        let refs: Vec<(&str, &str)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let res = app.client.post_form("/requests", &refs).await;
        assert_eq!(res.status, 422, "{}", res.body);
        assert!(res.body.contains("生年月日の入力が必要"), "{}", res.body);
        // Full-width spaces and widths do not matter to the match.
        fields[3].1 = "山田　太郎".to_owned();
        fields.push(("date_of_birth".to_owned(), "1990-04-01".to_owned()));
        let refs: Vec<(&str, &str)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let res = app.client.post_form("/requests", &refs).await;
        assert_eq!(res.status, 303, "{}", res.body);
        let pid = pid_from_location(res.header("location"));

        confirm(&app, "member@example.jp").await;
        let row = app.request(pid).await;
        assert!(row.identity_verified, "identity proven by the record");
        assert_eq!(row.state, "awaiting_payment");

        let trail = trail(&app, pid).await;
        let matched = trail
            .iter()
            .find(|(_, a, _)| a == "identity.matched_customer_record")
            .expect("the match is audited");
        assert_eq!(matched.0, "system", "recorded as the system's act");
        let step = trail
            .iter()
            .find(|(_, a, _)| a == "request.match_customer_record")
            .unwrap();
        assert_eq!(step.0, "system");
        let confirm_entry = trail
            .iter()
            .find(|(_, a, _)| a == "request.confirm_email")
            .unwrap();
        assert_eq!(confirm_entry.0, "subject");
        for (_, action, detail) in &trail {
            for secret in ["1990-04-01", "山田", "member@example.jp", "M-0001"] {
                assert!(
                    !detail.contains(secret),
                    "{action} holds personal data: {detail}"
                );
            }
        }
        let subjects: Vec<String> = app
            .mails_to("member@example.jp")
            .await
            .into_iter()
            .map(|m| m.subject)
            .collect();
        // One mail says both: identity settled, and the fee asked for at once.
        assert!(
            subjects
                .iter()
                .any(|s| s.contains("本人確認完了と手数料のお支払いのお願い")),
            "{subjects:?}"
        );
        assert!(
            !subjects
                .iter()
                .any(|s| s.contains("本人確認が完了しました")),
            "not a second mail in the same second: {subjects:?}"
        );
        app.verify_audit().await;
    }
);

on_both!(
    without_a_customer_record_match_the_request_goes_to_document_review,
    vars = [
        ("MADOGUCHI_IDENTITY", "customer_record"),
        ("MADOGUCHI_IDENTITY_DISCLOSURE", "customer_record")
    ],
    |app: TestApp| async move {
        import(
            &app,
            "email,name,date_of_birth\n\
             someone@example.jp,山田太郎,1990-04-01\n\
             kid@example.jp,山田太郎,2015-04-01\n",
        )
        .await
        .unwrap();
        // Right address and name, wrong date of birth.
        let mut body = valid_json("someone@example.jp");
        body["date_of_birth"] = serde_json::json!("1990-04-02");
        let pid = file(&app, &body).await;
        confirm(&app, "someone@example.jp").await;
        let row = app.request(pid).await;
        assert_eq!(row.state, "identity_review");
        assert!(!row.identity_verified);
        let trail_a = trail(&app, pid).await;
        let fallback = trail_a
            .iter()
            .find(|(_, a, _)| a == "identity.customer_record_not_matched")
            .expect("the fallback is audited");
        assert_eq!(fallback.0, "system");
        assert!(fallback.2.contains("not_found"), "{}", fallback.2);
        assert!(fallback.2.contains("document_review"), "{}", fallback.2);

        // A parent's request is never matched, even with the child's exact record.
        let mut body = agent_json("kid@example.jp", "legal_representative", "親権者");
        body["subject_name"] = serde_json::json!("山田太郎");
        body["date_of_birth"] = serde_json::json!("2015-04-01");
        let agent_pid = file(&app, &body).await;
        confirm(&app, "kid@example.jp").await;
        let row = app.request(agent_pid).await;
        assert_eq!(row.state, "identity_review");
        assert!(!row.identity_verified);
        let agent_trail = trail(&app, agent_pid).await;
        assert!(
            agent_trail
                .iter()
                .any(|(_, a, d)| a == "identity.customer_record_not_matched"
                    && d.contains("agent_filed")),
            "{agent_trail:?}"
        );

        // The officer then decides on documents as under the document method.
        let v = app.request(pid).await.version;
        let row = app
            .service
            .act(
                pid,
                Some(v),
                &Event::ApproveIdentity,
                &officer(),
                &EventText::default(),
                &Origin::default(),
                Utc::now(),
            )
            .await
            .unwrap();
        assert_eq!(row.state, "awaiting_payment");
        app.verify_audit().await;
    }
);

on_both!(
    a_customer_import_is_all_or_nothing,
    vars = [("MADOGUCHI_IDENTITY_DISCLOSURE", "customer_record")],
    |app: TestApp| async move {
        let bad = "email,name,date_of_birth\n\
                   good@example.jp,佐藤 一郎,1980-01-02\n\
                   not-an-address,鈴木 次郎,1981-02-03\n\
                   other@example.jp,高橋 三郎,1982-02-30\n";
        match import(&app, bad).await {
            Err(ImportError::Rejected(errors)) => {
                let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
                assert_eq!(lines, [3, 4], "{errors:?}");
            }
            other => panic!("a bad file was accepted: {other:?}"),
        }
        assert_eq!(
            app.service.customer_count().await.unwrap(),
            0,
            "not even the good row"
        );

        let good = "email,name,date_of_birth,external_ref\r\n\
                    good@example.jp,佐藤 一郎,1980-01-02,C-1\r\n\
                    \"other@example.jp\",\"高橋, 三郎\",1982-02-28,\r\n";
        let report = import(&app, good).await.unwrap();
        assert_eq!((report.rows, report.inserted, report.updated), (2, 2, 0));
        let again = "email,name,date_of_birth\n\
                     GOOD@example.jp,佐藤 一郎,1980-01-03\n\
                     new@example.jp,新井 四郎,1990-05-06\n";
        let report = import(&app, again).await.unwrap();
        assert_eq!(
            (report.inserted, report.updated),
            (1, 1),
            "an address already known is replaced"
        );
        assert_eq!(app.service.customer_count().await.unwrap(), 3);

        // The table holds no readable personal data.
        let rows = madoguchi_store::entities::customer::Entity::find()
            .all(app.service.db().conn())
            .await
            .unwrap();
        for r in &rows {
            let all = format!("{r:?}");
            for plain in ["example.jp", "佐藤", "1980-01-02"] {
                assert!(!all.contains(plain), "{all}");
            }
        }

        // The command line does the same, under the same key: what it imports matches.
        let exe = env!("CARGO_BIN_EXE_madoguchi");
        let dir = app.dir.clone();
        let cli = |args: &[&str]| {
            std::process::Command::new(exe)
                .args(args)
                .env_remove("MADOGUCHI_CONFIG")
                .env("DATABASE_URL", &app.database_url)
                .env("MADOGUCHI_DATA_DIR", dir.display().to_string())
                .env(
                    "MADOGUCHI_SECRET",
                    "test-secret-test-secret-test-secret-0123",
                )
                .env("RUST_LOG", "error")
                .output()
                .unwrap()
        };
        let bad_file = dir.join("bad.csv");
        std::fs::write(
            &bad_file,
            "email,name,date_of_birth\ncli@example.jp,x,19900101\n",
        )
        .unwrap();
        let out = cli(&["customers", "import", "--csv", bad_file.to_str().unwrap()]);
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("line 2"), "{stderr}");
        assert!(stderr.contains("nothing was imported"), "{stderr}");
        let good_file = dir.join("good.csv");
        std::fs::write(
            &good_file,
            "email,name,date_of_birth\ncli@example.jp,ｸﾗｲ ﾀﾛｳ,1990-01-01\n",
        )
        .unwrap();
        let out = cli(&["customers", "import", "--csv", good_file.to_str().unwrap()]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains("imported 1 customers: 1 new, 0 updated"),
            "{stdout}"
        );
        let out = cli(&["customers", "count"]);
        assert!(String::from_utf8_lossy(&out.stdout).contains("4 customer records"));

        let mut body = valid_json("cli@example.jp");
        body["subject_name"] = serde_json::json!("クライ タロウ");
        body["subject_kana"] = serde_json::json!("クライ タロウ");
        body["date_of_birth"] = serde_json::json!("1990-01-01");
        let pid = file(&app, &body).await;
        confirm(&app, "cli@example.jp").await;
        assert!(
            app.request(pid).await.identity_verified,
            "half-width kana in the file match full-width on the form"
        );
    }
);

on_both!(
    the_officer_is_warned_when_a_legal_representative_files_for_an_adult,
    |app: TestApp| async move {
        let mut body = agent_json("adult-parent@example.jp", "legal_representative", "親権者");
        body["date_of_birth"] = serde_json::json!(born_years_ago(25));
        let pid = file(&app, &body).await;
        confirm(&app, "adult-parent@example.jp").await;
        let staff = staff_client(&app, Role::Officer).await;
        let detail = staff.get(&format!("/staff/requests/{pid}")).await;
        assert!(
            detail.body.contains("adult-subject-warning"),
            "{}",
            detail.body
        );
        assert!(detail.body.contains("成年"));
        assert!(detail.body.contains("25"), "the age is shown");
        let actions = app.audit_actions(pid).await;
        assert!(
            actions.contains(&"request.confirm_email".to_owned()),
            "the warning changes nothing: the officer decides"
        );

        // The staff API says the same.
        let token = staff_token(&app, Role::Officer).await;
        let api = app
            .client
            .with_bearer(
                hyper::Method::GET,
                &format!("/api/v1/staff/requests/{pid}"),
                &token,
                None,
            )
            .await;
        assert_eq!(api.status, 200, "{}", api.body);
        assert_eq!(api.json()["subject"]["adult_subject_age"], 25);
        assert_eq!(api.json()["subject"]["date_of_birth"], born_years_ago(25));

        // A subject filing for themselves with a date of birth is never flagged.
        let mut body = valid_json("adult-self@example.jp");
        body["date_of_birth"] = serde_json::json!(born_years_ago(40));
        let own = file(&app, &body).await;
        let detail = staff.get(&format!("/staff/requests/{own}")).await;
        assert!(!detail.body.contains("adult-subject-warning"));
    }
);

on_both!(
    the_minor_age_is_configurable,
    vars = [("MADOGUCHI_MINOR_AGE", "20")],
    |app: TestApp| async move {
        let mut body = agent_json("nineteen@example.jp", "legal_representative", "親権者");
        body["date_of_birth"] = serde_json::json!(born_years_ago(19));
        let pid = file(&app, &body).await;
        let staff = staff_client(&app, Role::Officer).await;
        let detail = staff.get(&format!("/staff/requests/{pid}")).await;
        assert!(
            !detail.body.contains("adult-subject-warning"),
            "19 is a minor when the age of majority is 20"
        );
    }
);

/// Files a correction as an appointed agent with the subject's own address, approves identity
/// and completes it; returns the request.
async fn agent_request_answered(app: &TestApp) -> uuid::Uuid {
    let mut body = agent_json("lawyer@example.jp", "appointed_agent", "弁護士");
    body["kind"] = serde_json::json!("correction");
    body["current_content"] = serde_json::json!("旧住所");
    body["correct_content"] = serde_json::json!("新住所");
    body["subject_email"] = serde_json::json!("taro.self@example.jp");
    let pid = file(app, &body).await;
    confirm(app, "lawyer@example.jp").await;
    let now = Utc::now();
    for event in [Event::ApproveIdentity, Event::Complete(Outcome::Fulfilled)] {
        let v = app.request(pid).await.version;
        app.service
            .act(
                pid,
                Some(v),
                &event,
                &officer(),
                &EventText::default(),
                &Origin::default(),
                now + Duration::seconds(1),
            )
            .await
            .unwrap();
    }
    assert_eq!(app.request(pid).await.state, "fulfilled");
    pid
}

on_both!(
    results_to_both_sends_the_answer_to_the_agent_and_the_subject,
    vars = [("MADOGUCHI_RESULTS_TO", "both")],
    |app: TestApp| async move {
        let pid = agent_request_answered(&app).await;
        let answered = |mails: &[Mail]| {
            mails
                .iter()
                .filter(|m| m.subject.contains("ご請求への対応が完了"))
                .count()
        };
        let agent = app.mails_to("lawyer@example.jp").await;
        let subject = app.mails_to("taro.self@example.jp").await;
        assert_eq!(answered(&agent), 1);
        assert_eq!(
            answered(&subject),
            1,
            "{:?}",
            subject.iter().map(|m| &m.subject).collect::<Vec<_>>()
        );
        let to_subject = subject
            .iter()
            .find(|m| m.subject.contains("ご請求への対応が完了"))
            .unwrap();
        assert!(
            to_subject.text.contains("山田 太郎 様"),
            "greets the subject"
        );
        assert!(
            subject
                .iter()
                .all(|m| m.subject.contains("ご請求への対応が完了")),
            "only the result goes to the subject, not the agent's steps"
        );

        // The code that opens the answer goes to both, and either can use it.
        let browser = subject_session(&app, pid, "taro.self@example.jp").await;
        assert_eq!(browser.get(&format!("/r/{pid}/private")).await.status, 200);
        assert!(
            app.mails_to("lawyer@example.jp")
                .await
                .iter()
                .any(|m| m.subject.contains("確認コード")),
            "the agent got the same code"
        );
    }
);

on_both!(
    results_to_subject_sends_the_answer_to_the_subject_only,
    vars = [("MADOGUCHI_RESULTS_TO", "subject")],
    |app: TestApp| async move {
        let pid = agent_request_answered(&app).await;
        let done = |m: &Mail| m.subject.contains("ご請求への対応が完了");
        assert!(!app.mails_to("lawyer@example.jp").await.iter().any(done));
        assert!(app.mails_to("taro.self@example.jp").await.iter().any(done));
        // Once answered, the code goes to the subject alone.
        let browser = subject_session(&app, pid, "taro.self@example.jp").await;
        assert_eq!(browser.get(&format!("/r/{pid}/private")).await.status, 200);
        assert!(
            !app.mails_to("lawyer@example.jp")
                .await
                .iter()
                .any(|m| m.subject.contains("確認コード")),
            "the agent gets no code after the answer"
        );
    }
);
