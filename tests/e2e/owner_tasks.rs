//! Owners' tasks (issue 17): a manual system is searched by the person who answers for it,
//! through a link that needs no staff account; a system whose connector keeps failing is
//! handed to its owner the same way; an owner who has not answered is reminded once, with the
//! same link. What the owner sends is reviewed and packaged like a connector's rows.

use hyper::Method;
use madoguchi_domain::Role;

use crate::answers::bring_in_progress;
use crate::connectors::{MAP, SUBJECT, settled, tag, with_business_map};
use crate::helpers::*;
use crate::on_both;

/// The business's map with a paper archive its owner searches by hand.
fn map_with_paper() -> String {
    format!(
        r#"{MAP}
[[systems]]
id = "paper"
name = {{ ja = "紙の申込書", en = "Paper applications" }}
owner = "archive@example.jp"
country = "JP"
connector = {{ kind = "manual" }}

[[datasets]]
id = "applications"
system = "paper"
label = {{ ja = "入会申込書", en = "Membership applications" }}
location = "書庫B-3"
purposes = ["service"]
retention = {{ period = {{ ja = "5年", en = "5 years" }}, basis = "規程" }}
find_by = [{{ match = [{{ field = "email", key = "email" }}] }}]
fields = [
  {{ name = "email", label = {{ ja = "メールアドレス", en = "E-mail" }}, category = "contact", erase = "delete_row" }},
  {{ name = "name", label = {{ ja = "氏名", en = "Name" }}, category = "contact", erase = "delete_row" }},
  {{ name = "note", label = {{ ja = "記載内容", en = "What it says" }}, category = "contact", erase = "delete_row" }},
]
"#
    )
}

async fn an_owner_answers_a_manual_system_through_their_link(backend: Backend, tag: &str) {
    let map = map_with_paper();
    let (app, _vars) = with_business_map(backend, tag, &map).await;
    let mut body = valid_json(SUBJECT);
    body["subject_name"] = "山田 花子".into();
    let res = app.client.post_json("/api/v1/requests", &body).await;
    assert_eq!(res.status, 201, "{}", res.body);
    let pid = uuid::Uuid::parse_str(res.json()["id"].as_str().unwrap()).unwrap();
    bring_in_progress(&app, pid, SUBJECT).await;
    let g = settled(&app, pid).await;
    let paper = g.systems.iter().find(|s| s.system == "紙の申込書").unwrap();
    assert_eq!(paper.state, "owner");
    assert!(!g.complete, "the package waits for the owner");

    // The owner's mail: the request's number and the due date, a link, no personal data.
    let mails = app.mails_to("archive@example.jp").await;
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    let number = app.request(pid).await.number;
    assert!(
        mail.subject
            .contains("【ご対応のお願い】紙の申込書のデータ確認"),
        "{}",
        mail.subject
    );
    assert!(mail.text.contains(&format!("受付番号: {number}")));
    assert!(
        mail.text.starts_with("紙の申込書 ご担当者 様"),
        "{}",
        mail.text
    );
    assert!(!mail.text.contains(SUBJECT) && !mail.text.contains("山田"));
    let link = mail.link_path("/owner/").expect("a task link");

    // The page behind it, without any account: whom to look for and what to send.
    let owner = app.client.fresh();
    let page = owner.get(&link).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.header("cache-control"), "no-store");
    for text in [
        "紙の申込書のデータ確認のお願い",
        "山田 花子",
        SUBJECT,
        "入会申込書",
        "書庫B-3",
        "<code>email,name,note</code>",
        "同姓同名でもメールアドレスや生年月日が異なる方は別人です。",
    ] {
        assert!(page.body.contains(text), "{text}: {}", page.body);
    }

    // Not ticked: refused, nothing taken.
    let csrf = page.csrf();
    let (ct, b) = multipart_named(&[("csrf", &csrf)], &[]);
    let res = owner.send(Method::POST, &link, Some(&ct), b).await;
    assert_eq!(res.status, 422);
    assert!(
        res.body
            .contains("一覧のすべてのデータを確認したことをチェックしてください。")
    );
    // A column the map does not have: refused, naming the dataset and the column.
    let (ct, b) = multipart_named(
        &[("csrf", &csrf), ("searched", "yes")],
        &[(
            "csv_applications",
            "a.csv",
            "email,name,note,my_number\nx,y,z,1\n".as_bytes(),
        )],
    );
    let res = owner.send(Method::POST, &link, Some(&ct), b).await;
    assert_eq!(res.status, 422);
    assert!(
        res.body
            .contains("入会申込書</a>: 1行目: 列「my_number」は台帳にない項目です"),
        "{}",
        res.body
    );
    // A spreadsheet's Shift_JIS CSV, columns by their labels in another order: taken.
    let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode(
        "記載内容,メールアドレス,氏名\r\n2025年4月 入会（店頭）,hanako@example.jp,山田 花子\r\n",
    );
    let (ct, b) = multipart_named(
        &[("csrf", &csrf), ("searched", "yes")],
        &[("csv_applications", "export.csv", &sjis)],
    );
    let res = owner.send(Method::POST, &link, Some(&ct), b).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert!(res.body.contains("ご回答を受け付けました"));
    assert!(res.body.contains("1 件のデータを受け付けました。"));

    // The link no longer works; a forged one never did.
    assert_eq!(owner.get(&link).await.status, 404);
    assert_eq!(owner.get("/owner/not-a-real-token").await.status, 404);

    // The officer sees the owner's rows like a connector's, and can build the package.
    let g = settled(&app, pid).await;
    assert!(g.complete);
    let apps = g.datasets.iter().find(|d| d.id == "applications").unwrap();
    assert_eq!(
        apps.rows,
        [[SUBJECT, "山田 花子", "2025年4月 入会（店頭）"]]
    );
    let officer = staff_client(&app, Role::Officer).await;
    let page = officer.get(&format!("/staff/requests/{pid}")).await;
    assert!(page.body.contains("2025年4月 入会（店頭）"));
    assert!(page.body.contains("回答ファイルを作成して添付する"));

    // The trail: asked (with the due day) and answered (counts and a hash), no data.
    let actions = app.audit_actions(pid).await;
    assert!(actions.contains(&"owner.asked".to_owned()), "{actions:?}");
    assert!(
        actions.contains(&"owner.answered".to_owned()),
        "{actions:?}"
    );
    let trail: String = madoguchi_store::audit::for_request(app.service.db().conn(), pid)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.detail)
        .collect();
    assert!(!trail.contains("入会（店頭）") && !trail.contains(SUBJECT));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_answers_a_manual_system_through_their_link_on_sqlite() {
    an_owner_answers_a_manual_system_through_their_link(Backend::Sqlite, &tag()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_answers_a_manual_system_through_their_link_on_postgres() {
    if std::env::var("MADOGUCHI_TEST_POSTGRES").as_deref() == Ok("skip") {
        return;
    }
    an_owner_answers_a_manual_system_through_their_link(Backend::Postgres, &tag()).await;
}

on_both!(
    a_system_that_keeps_failing_is_handed_to_its_owner_and_reminded_once,
    |app: TestApp| async move {
        // One system, whose connection variable is not set: every try fails.
        let admin = staff_client(&app, Role::Admin).await;
        let page = admin.get("/staff/admin/datamap").await;
        let map = MAP
            .split("[[datasets]]")
            .enumerate()
            .filter(|(i, part)| *i == 0 || part.contains("system = \"news\""))
            .map(|(i, part)| {
                if i == 0 {
                    part.to_owned()
                } else {
                    format!("[[datasets]]{part}")
                }
            })
            .collect::<String>();
        let res = admin
            .post_form(
                "/staff/admin/datamap",
                &[("csrf", &page.csrf()), ("source", &map)],
            )
            .await;
        assert_eq!(res.status, 200, "{}", res.body);
        let pid = file_via_api(&app, SUBJECT).await;
        bring_in_progress(&app, pid, SUBJECT).await;
        settled(&app, pid).await;
        // The retries' times come early (the service is asked as if later).
        let start = chrono::Utc::now();
        for hour in 1..=12 {
            let g = settled(&app, pid).await;
            if g.systems[0].state == "owner" {
                break;
            }
            app.service
                .run_gather_job(start + chrono::Duration::hours(hour))
                .await
                .unwrap();
        }
        let g = settled(&app, pid).await;
        assert_eq!(g.systems[0].state, "owner");
        assert_eq!(g.systems[0].attempts, 4);
        let actions = app.audit_actions(pid).await;
        assert_eq!(actions.iter().filter(|a| *a == "gather.failed").count(), 4);
        assert!(actions.contains(&"owner.asked".to_owned()));
        let asked = app.mails_to("news@example.jp").await;
        assert_eq!(asked.len(), 1);
        assert!(
            asked[0]
                .subject
                .starts_with("【ご対応のお願い】メールマガジンのデータ確認")
        );
        let link = asked[0].link_path("/owner/").unwrap();
        let officer = staff_client(&app, Role::Officer).await;
        let page = officer.get(&format!("/staff/requests/{pid}")).await;
        assert!(page.body.contains("担当者の回答待ち（依頼メール送信済み）"));

        // Two days before it is due, the owner is reminded, once, with the same link.
        let now = chrono::Utc::now();
        assert_eq!(app.service.remind_owners(now).await.unwrap(), 0);
        let later = now + chrono::Duration::days(60);
        assert_eq!(app.service.remind_owners(later).await.unwrap(), 1);
        assert_eq!(app.service.remind_owners(later).await.unwrap(), 0);
        let mails = app.mails_to("news@example.jp").await;
        assert_eq!(mails.len(), 2);
        assert!(
            mails[1]
                .subject
                .starts_with("【再送・期限が近づいています】"),
            "{}",
            mails[1].subject
        );
        assert_eq!(mails[1].link_path("/owner/").unwrap(), link);
        assert!(
            app.audit_actions(pid)
                .await
                .contains(&"owner.reminded".to_owned())
        );
        // Past its due day, the office's daily digest lists it (by number, system and what was
        // asked; no personal data).
        let after_due = madoguchi_service::reminders::next_digest_at(later);
        assert!(app.service.staff_digest(after_due).await.unwrap());
        let number = app.request(pid).await.number;
        let digest = app
            .mails()
            .await
            .into_iter()
            .rev()
            .find(|m| m.subject.contains("【日次】"))
            .expect("the digest");
        assert!(
            digest.text.contains(
                "■ 担当者・提供先の回答が期限超過 / owners' and recipients' answers overdue: 1"
            ),
            "{}",
            digest.text
        );
        assert!(
            digest
                .text
                .contains(&format!("{number}  メールマガジン  データ確認  ")),
            "{}",
            digest.text
        );
        assert!(!digest.text.contains(SUBJECT));

        // The owner found nothing: no file, the box ticked.
        let owner = app.client.fresh();
        let page = owner.get(&link).await;
        assert_eq!(page.status, 200);
        let (ct, b) = multipart_named(&[("csrf", &page.csrf()), ("searched", "yes")], &[]);
        let res = owner.send(Method::POST, &link, Some(&ct), b).await;
        assert_eq!(res.status, 200, "{}", res.body);
        let g = settled(&app, pid).await;
        assert_eq!(g.systems[0].state, "done");
        assert!(g.datasets.iter().all(|d| d.searched && d.rows.is_empty()));
        // An answered link stops working.
        assert_eq!(owner.get(&link).await.status, 404);
    }
);

/// Waits until the request's erasure has no job left running or waiting to run.
async fn erasure_settled(
    app: &TestApp,
    pid: uuid::Uuid,
) -> madoguchi_service::erasure::ErasureProgress {
    let mut progress = Default::default();
    for _ in 0..300 {
        progress = app
            .service
            .erasure(&app.request(pid).await, false)
            .await
            .unwrap();
        if progress
            .systems
            .iter()
            // A job waiting for its next try (after an error) is settled too.
            .all(|s| (s.state != "pending" || s.error.is_some()) && s.state != "running")
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    progress
}

/// An erasure reaches a paper archive through its owner: the connectors erase the databases,
/// the archive's owner is mailed what to do (no personal data in the mail), sees whom on the
/// page behind the link, and reports it done; the answer lists it with the rest. A database
/// whose table went missing since the gathering fails every try and is handed to its owner
/// the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erasure_by_hand_is_reported_by_the_systems_owner() {
    let map = map_with_paper();
    let (app, vars) = with_business_map(Backend::Sqlite, &tag(), &map).await;
    let mut body = valid_json(SUBJECT);
    body["subject_name"] = "山田 花子".into();
    body["kind"] = "suspension_or_erasure".into();
    body["ground"] = "no_longer_needed".into();
    body.as_object_mut().unwrap().remove("delivery");
    let res = app.client.post_json("/api/v1/requests", &body).await;
    assert_eq!(res.status, 201, "{}", res.body);
    let pid = uuid::Uuid::parse_str(res.json()["id"].as_str().unwrap()).unwrap();
    bring_in_progress(&app, pid, SUBJECT).await;
    settled(&app, pid).await;
    // The archive's owner reports one application.
    let link = app.mails_to("archive@example.jp").await[0]
        .link_path("/owner/")
        .unwrap();
    let owner = app.client.fresh();
    let page = owner.get(&link).await;
    let (ct, b) = multipart_named(
        &[("csrf", &page.csrf()), ("searched", "yes")],
        &[(
            "csv_applications",
            "a.csv",
            "email,name,note\nhanako@example.jp,山田 花子,店頭\n".as_bytes(),
        )],
    );
    assert_eq!(
        owner.send(Method::POST, &link, Some(&ct), b).await.status,
        200
    );
    assert!(settled(&app, pid).await.complete);
    // The newsletter's table is gone since: its erasure will fail every try.
    let news = vars
        .iter()
        .find(|(k, _)| *k == "TEST_NEWS_URL")
        .unwrap()
        .1
        .clone();
    {
        use sqlx::Connection;
        let mut c = sqlx::SqliteConnection::connect(&news).await.unwrap();
        sqlx::raw_sql("DROP TABLE subscribers")
            .execute(&mut c)
            .await
            .unwrap();
    }

    let officer = staff_client(&app, Role::Officer).await;
    let page = officer.get(&format!("/staff/requests/{pid}")).await;
    assert!(
        page.body.contains(
            "<td>入会申込書</td><td>紙の申込書</td><td>行を削除（担当者が手作業で実施）</td><td>1</td>"
        ),
        "{}",
        page.body
    );
    let res = officer
        .post_form(
            &format!("/staff/requests/{pid}/erase"),
            &[("csrf", &page.csrf())],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);

    // The archive's owner is asked, by a mail that says what, not whom.
    let mails = app.mails_to("archive@example.jp").await;
    assert_eq!(mails.len(), 2);
    let mail = &mails[1];
    assert!(
        mail.subject
            .starts_with("【ご対応のお願い】紙の申込書での消去の実施"),
        "{}",
        mail.subject
    );
    assert!(
        mail.text.contains("・入会申込書: 行を削除する（1 件）"),
        "{}",
        mail.text
    );
    assert!(!mail.text.contains(SUBJECT) && !mail.text.contains("山田"));
    let link = mail.link_path("/owner/").unwrap();
    let page = owner.get(&link).await;
    assert_eq!(page.status, 200);
    for text in [
        "紙の申込書での消去のお願い",
        "山田 花子",
        SUBJECT,
        "書庫B-3",
        "<td>行を削除する</td><td>1</td>",
    ] {
        assert!(page.body.contains(text), "{text}: {}", page.body);
    }
    // Ordering again while it is underway is refused.
    let officer_page = officer.get(&format!("/staff/requests/{pid}")).await;
    let res = officer
        .post_form(
            &format!("/staff/requests/{pid}/erase"),
            &[("csrf", &officer_page.csrf())],
        )
        .await;
    assert_ne!(res.status, 303, "{}", res.body);
    assert_eq!(app.mails_to("archive@example.jp").await.len(), 2);
    // A CSV is no answer to work; the report is.
    let (ct, b) = multipart_named(&[("csrf", &page.csrf()), ("searched", "yes")], &[]);
    assert_eq!(
        owner.send(Method::POST, &link, Some(&ct), b).await.status,
        422
    );
    let (ct, b) = multipart_named(&[("csrf", &page.csrf()), ("outcome", "done")], &[]);
    let res = owner.send(Method::POST, &link, Some(&ct), b).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(owner.get(&link).await.status, 404);

    // The newsletter's job fails; its later tries come early (asked as if hours later); after
    // the last its owner is asked to erase by hand.
    erasure_settled(&app, pid).await;
    let start = chrono::Utc::now();
    for hour in 1..=12 {
        let p = erasure_settled(&app, pid).await;
        if p.systems
            .iter()
            .any(|s| s.system == "メールマガジン" && s.state == "owner")
        {
            break;
        }
        app.service
            .run_gather_job(start + chrono::Duration::hours(hour))
            .await
            .unwrap();
    }
    let p = erasure_settled(&app, pid).await;
    let news_job = p
        .systems
        .iter()
        .find(|s| s.system == "メールマガジン")
        .unwrap();
    assert_eq!(news_job.state, "owner", "{p:?}");
    let asked = app.mails_to("news@example.jp").await;
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert!(
        asked[0]
            .subject
            .starts_with("【ご対応のお願い】メールマガジンでの消去の実施")
    );
    assert!(!p.complete);
    let link = asked[0].link_path("/owner/").unwrap();
    let page = owner.get(&link).await;
    let (ct, b) = multipart_named(&[("csrf", &page.csrf()), ("outcome", "done")], &[]);
    assert_eq!(
        owner.send(Method::POST, &link, Some(&ct), b).await.status,
        200
    );

    let p = erasure_settled(&app, pid).await;
    assert!(p.complete, "{p:?}");
    let today =
        madoguchi_domain::written_date(madoguchi_domain::jst_date(chrono::Utc::now()), false);
    for line in [
        format!("入会申込書（紙の申込書）: 1 件を削除しました（{today}）"),
        format!("メールマガジン購読（メールマガジン）: 1 件を削除しました（{today}）"),
        format!("会員情報（通販サイト）: 1 件を削除しました（{today}）"),
    ] {
        assert!(p.lines.contains(&line), "{line}: {:?}", p.lines);
    }
    let actions = app.audit_actions(pid).await;
    assert_eq!(
        actions.iter().filter(|a| *a == "owner.done").count(),
        2,
        "{actions:?}"
    );
    assert!(
        actions.contains(&"erasure.failed".to_owned()),
        "{actions:?}"
    );
    app.verify_audit().await;
}
