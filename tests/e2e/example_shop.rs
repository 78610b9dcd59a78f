//! The example shop of `examples/shop` (issue 17), with its own map, seed files and points
//! service: a disclosure request goes from intake to a downloaded package, every value in it
//! the subject's and none of anyone else's, with no officer typing any data (the officer
//! builds the package and sends the answer form as the connectors filled it).

use std::path::PathBuf;

use madoguchi_domain::Role;
use sqlx::Connection;

use crate::answers::bring_in_progress;
use crate::connectors::{settled, tag};
use crate::erase::{carried_out, t, table};
use crate::helpers::*;
use crate::http_connector::{PointsServer, TOKEN};

const SUBJECT: &str = "hanako@example.jp";

fn example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/shop")
}

fn seed(name: &str) -> String {
    std::fs::read_to_string(example().join("seed").join(name)).unwrap()
}

/// The example's systems, each in a fresh database seeded from its file; the variables the
/// example's map names.
async fn systems(tag: &str, points: &PointsServer) -> Vec<(&'static str, String)> {
    let admin = std::env::var("MADOGUCHI_TEST_POSTGRES")
        .ok()
        .filter(|v| v != "skip")
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let shop = format!("exshop_{tag}");
    let mut c = sqlx::PgConnection::connect(&admin).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {shop}")))
        .execute(&mut c)
        .await
        .unwrap();
    let shop_url = format!("{}/{shop}", admin.rsplit_once('/').unwrap().0);
    let mut c = sqlx::PgConnection::connect(&shop_url).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(seed("shop.sql")))
        .execute(&mut c)
        .await
        .unwrap();

    let support = format!("exsupport_{tag}");
    let mut c = sqlx::MySqlConnection::connect("mysql://root@127.0.0.1:3306/test")
        .await
        .unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE DATABASE {support} CHARACTER SET utf8mb4"
    )))
    .execute(&mut c)
    .await
    .unwrap();
    let support_url = format!("mysql://root@127.0.0.1:3306/{support}");
    let mut c = sqlx::MySqlConnection::connect(&support_url).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(seed("support.sql")))
        .execute(&mut c)
        .await
        .unwrap();

    let dir = std::env::temp_dir().join(format!("madoguchi-example-{tag}"));
    std::fs::create_dir_all(&dir).unwrap();
    let news = dir.join("news.db");
    let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=rwc", news.display()))
        .await
        .unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(seed("news.sql")))
        .execute(&mut c)
        .await
        .unwrap();
    c.close().await.unwrap();

    vec![
        ("SHOP_DATABASE_URL", shop_url),
        ("SUPPORT_DATABASE_URL", support_url),
        ("NEWS_DATABASE_URL", format!("sqlite://{}", news.display())),
        ("POINTS_BASE_URL", points.url.clone()),
        ("POINTS_TOKEN", TOKEN.to_owned()),
        (
            "MADOGUCHI_DATAMAP",
            example().join("datamap.toml").display().to_string(),
        ),
    ]
}

async fn a_disclosure_goes_from_intake_to_a_downloaded_package(backend: Backend, tag: &str) {
    let points = PointsServer::start(0, 503);
    let vars = systems(tag, &points).await;
    let leaked: Vec<(&'static str, &'static str)> = vars
        .iter()
        .map(|(k, v)| (*k, &*Box::leak(v.clone().into_boxed_str())))
        .collect();
    let app = match backend {
        Backend::Sqlite => TestApp::spawn_with(Backend::Sqlite, &leaked).await,
        Backend::Postgres => TestApp::spawn_postgres_with(&leaked).await.unwrap(),
    };

    let mut body = valid_json(SUBJECT);
    body["subject_name"] = "山田 花子".into();
    let res = app.client.post_json("/api/v1/requests", &body).await;
    assert_eq!(res.status, 201, "{}", res.body);
    let pid = uuid::Uuid::parse_str(res.json()["id"].as_str().unwrap()).unwrap();
    bring_in_progress(&app, pid, SUBJECT).await;
    let g = settled(&app, pid).await;
    assert!(g.complete, "{:?}", g.systems);

    // The officer builds the package and sends the answer form as it was filled in.
    let officer = staff_client(&app, Role::Officer).await;
    let page = officer.get(&format!("/staff/requests/{pid}")).await;
    let res = officer
        .post_form(
            &format!("/staff/requests/{pid}/package"),
            &[("csrf", &page.csrf())],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let page = officer.get(&format!("/staff/requests/{pid}")).await;
    let fields = form_as_is(&page.body, "complete");
    let fields: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let res = officer
        .post_form(&format!("/staff/requests/{pid}/events"), &fields)
        .await;
    assert_eq!(res.status, 303, "{fields:?}: {}", res.body);
    // The fraud score is withheld (Art. 33(2)(ii)): answered in part.
    assert_eq!(app.request(pid).await.state, "partially_fulfilled");

    // The subject downloads it.
    let subject = subject_session(&app, pid, SUBJECT).await;
    let private = subject.get(&format!("/r/{pid}/private")).await;
    let link = private
        .body
        .split("href=\"")
        .map(|s| s.split('"').next().unwrap_or(""))
        .find(|h| h.contains("/files/"))
        .unwrap_or_else(|| panic!("a download link: {}", private.body))
        .to_owned();
    let file = subject.get(&link).await;
    assert_eq!(file.status, 200);
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(file.bytes.clone())).unwrap();
    let mut data = String::new();
    std::io::Read::read_to_string(&mut zip.by_name("data.json").unwrap(), &mut data).unwrap();
    let data: serde_json::Value = serde_json::from_str(&data).unwrap();

    // Exactly the seeded data of the subject (examples/shop/seed), written out here: the
    // account (fraud score withheld), the two orders, the ticket by address and the one by
    // member number, the subscription, the three point grants. Nothing of the namesake at
    // another address, nothing whose owner is NULL.
    let datasets: Vec<(String, Vec<Vec<String>>)> = data["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let mut rows: Vec<Vec<String>> = serde_json::from_value(d["rows"].clone()).unwrap();
            rows.sort();
            (d["id"].as_str().unwrap().to_owned(), rows)
        })
        .collect();
    let v = |r: &[&str]| r.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        datasets,
        vec![
            (
                "customers".to_owned(),
                vec![v(&["1", SUBJECT, "山田 花子", "東京都千代田区丸の内1-1-1"])]
            ),
            (
                "orders".to_owned(),
                vec![
                    v(&["1", "1", "2026-04-01", "新茶 八十八夜 2袋"]),
                    v(&["2", "1", "2026-05-10", "急須（常滑焼）"]),
                ]
            ),
            (
                "tickets".to_owned(),
                vec![
                    v(&["", "1", "電話での問い合わせ: 急須の蓋が欠けていた"]),
                    v(&[SUBJECT, "", "配送日を変えたい"]),
                ]
            ),
            ("subscribers".to_owned(), vec![v(&[SUBJECT, "新茶の案内"])]),
            (
                "points".to_owned(),
                vec![
                    v(&[SUBJECT, "2026-04-01", "120", "ご購入"]),
                    v(&[SUBJECT, "2026-05-10", "80", "ご購入"]),
                    v(&[SUBJECT, "2026-06-01", "500", "誕生日"]),
                ]
            ),
        ]
    );
    assert_eq!(
        data["datasets"][0]["withheld"][0]["field"],
        "不正利用スコア"
    );
    let text = data.to_string();
    for other in [
        "hanako.yamada@example.com",
        "別人",
        "名無し",
        "持ち主",
        "誰のもの",
    ] {
        assert!(!text.contains(other), "{other}");
    }
    // The answer the subject was mailed lists each dataset as the connectors found it.
    let mails = app.mails_to(SUBJECT).await;
    let answer = mails
        .iter()
        .find(|m| m.text.contains("回答の内容:"))
        .expect("the answer mail");
    assert!(
        answer.text.contains("ポイント履歴: 開示"),
        "{}",
        answer.text
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_shop_answers_a_disclosure_on_sqlite() {
    a_disclosure_goes_from_intake_to_a_downloaded_package(Backend::Sqlite, &tag()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_shop_answers_a_disclosure_on_postgres() {
    if std::env::var("MADOGUCHI_TEST_POSTGRES").as_deref() == Ok("skip") {
        return;
    }
    a_disclosure_goes_from_intake_to_a_downloaded_package(Backend::Postgres, &tag()).await;
}

/// The officer reviews the gathered fields before the package: a field left out, one
/// withheld on a ground the map did not give, one the map withheld disclosed after all. The
/// page, the suggested answer and the package follow; each change is on the trail.
async fn an_officer_reviews_fields_before_the_package(backend: Backend, tag: &str) {
    let points = PointsServer::start(0, 503);
    let vars = systems(tag, &points).await;
    let leaked: Vec<(&'static str, &'static str)> = vars
        .iter()
        .map(|(k, v)| (*k, &*Box::leak(v.clone().into_boxed_str())))
        .collect();
    let app = match backend {
        Backend::Sqlite => TestApp::spawn_with(Backend::Sqlite, &leaked).await,
        Backend::Postgres => TestApp::spawn_postgres_with(&leaked).await.unwrap(),
    };
    let pid = file_via_api(&app, SUBJECT).await;
    bring_in_progress(&app, pid, SUBJECT).await;
    assert!(settled(&app, pid).await.complete);
    let officer = staff_client(&app, Role::Officer).await;
    let page = officer.get(&format!("/staff/requests/{pid}")).await;
    assert!(
        page.body
            .contains("項目ごとの扱い（開示する・開示しない・回答に含めない）")
    );
    let review = |fields: Vec<(&'static str, &'static str)>| {
        let officer = &officer;
        let csrf = page.csrf();
        async move {
            let mut form = vec![("csrf", csrf.as_str()), ("dataset", "customers")];
            form.extend(fields);
            officer
                .post_form(&format!("/staff/requests/{pid}/review"), &form)
                .await
        }
    };
    // A choice that is not one of the form's: refused, nothing stored.
    let res = review(vec![("field_id", "withhold:not_justified")]).await;
    assert_eq!(res.status, 400);
    let res = review(vec![
        ("field_id", "drop"),
        ("field_email", "disclose"),
        ("field_name", "disclose"),
        ("field_address", "withhold:harm_to_persons"),
        ("field_fraud_score", "disclose"),
    ])
    .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let g = settled(&app, pid).await;
    let customers = g.datasets.iter().find(|d| d.id == "customers").unwrap();
    assert_eq!(
        customers.columns,
        ["メールアドレス", "氏名", "不正利用スコア"]
    );
    assert_eq!(customers.rows, [[SUBJECT, "山田 花子", "12"]]);
    assert_eq!(customers.withheld.len(), 1);
    assert_eq!(customers.withheld[0].0, "住所");
    // Three decisions changed (email and name were disclosed already): three entries.
    let actions = app.audit_actions(pid).await;
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "data.field_reviewed")
            .count(),
        3
    );
    // The suggested answer follows: in part, on the ground chosen.
    let page = officer.get(&format!("/staff/requests/{pid}")).await;
    let fields = form_as_is(&page.body, "complete");
    let item = |k: &str| {
        fields
            .iter()
            .filter(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .collect::<Vec<_>>()
    };
    assert_eq!(item("item_label_1"), ["会員情報"]);
    assert_eq!(item("item_result_1"), ["partially_disclosed"]);
    assert_eq!(item("item_grounds_1"), ["harm_to_persons"]);
    // The package follows.
    let res = officer
        .post_form(
            &format!("/staff/requests/{pid}/package"),
            &[("csrf", &page.csrf())],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let docs = app
        .service
        .documents(app.request(pid).await.id)
        .await
        .unwrap();
    let (_, bytes) = app
        .service
        .read_document_as_staff(
            pid,
            docs[0].pid,
            &madoguchi_domain::Actor::Staff {
                id: "reviewer".into(),
                role: Role::Officer,
            },
            &madoguchi_service::Origin::default(),
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut data = String::new();
    std::io::Read::read_to_string(&mut zip.by_name("data.json").unwrap(), &mut data).unwrap();
    let data: serde_json::Value = serde_json::from_str(&data).unwrap();
    assert_eq!(
        data["datasets"][0]["columns"],
        serde_json::json!(["メールアドレス", "氏名", "不正利用スコア"])
    );
    assert_eq!(data["datasets"][0]["withheld"][0]["field"], "住所");
    assert!(!data.to_string().contains("東京都千代田区"));
    // An auditor reads but does not decide.
    let auditor = staff_client(&app, Role::Auditor).await;
    let page = auditor.get(&format!("/staff/requests/{pid}")).await;
    let res = auditor
        .post_form(
            &format!("/staff/requests/{pid}/review"),
            &[
                ("csrf", &page.csrf()),
                ("dataset", "customers"),
                ("field_id", "disclose"),
            ],
        )
        .await;
    assert_eq!(res.status, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_officer_reviews_fields_before_the_package_on_sqlite() {
    an_officer_reviews_fields_before_the_package(Backend::Sqlite, &tag()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_officer_reviews_fields_before_the_package_on_postgres() {
    if std::env::var("MADOGUCHI_TEST_POSTGRES").as_deref() == Ok("skip") {
        return;
    }
    an_officer_reviews_fields_before_the_package(Backend::Postgres, &tag()).await;
}

/// The example's systems and an app that reads them, for the requests that change data.
async fn shop_app(
    backend: Backend,
    tag: &str,
) -> (TestApp, PointsServer, Vec<(&'static str, String)>) {
    let points = PointsServer::start(0, 503);
    let vars = systems(tag, &points).await;
    let leaked: Vec<(&'static str, &'static str)> = vars
        .iter()
        .map(|(k, v)| (*k, &*Box::leak(v.clone().into_boxed_str())))
        .collect();
    let app = match backend {
        Backend::Sqlite => TestApp::spawn_with(Backend::Sqlite, &leaked).await,
        Backend::Postgres => TestApp::spawn_postgres_with(&leaked).await.unwrap(),
    };
    (app, points, vars)
}

/// Files a request of `kind` for the subject and brings it to work with its gathering done.
async fn filed(app: &TestApp, kind: &str) -> uuid::Uuid {
    let mut body = valid_json(SUBJECT);
    body["subject_name"] = "山田 花子".into();
    body["kind"] = kind.into();
    match kind {
        "correction" => {
            body["current_content"] = "メールアドレス: hanako@example.jp".into();
            body["correct_content"] = "メールアドレス: hanako.new@example.jp".into();
        }
        "third_party_stop" => body["ground"] = "unlawful_provision".into(),
        _ => body["ground"] = "no_longer_needed".into(),
    }
    body.as_object_mut().unwrap().remove("delivery");
    let res = app.client.post_json("/api/v1/requests", &body).await;
    assert_eq!(res.status, 201, "{}", res.body);
    let pid = uuid::Uuid::parse_str(res.json()["id"].as_str().unwrap()).unwrap();
    bring_in_progress(app, pid, SUBJECT).await;
    let g = settled(app, pid).await;
    assert!(g.complete, "{:?}", g.systems);
    pid
}

/// The officer sends the answer as it was filled in; returns the message's text.
async fn answered(app: &TestApp, officer: &Client, pid: uuid::Uuid) -> String {
    let page = officer.get(&format!("/staff/requests/{pid}")).await;
    let fields = form_as_is(&page.body, "complete");
    let text = fields
        .iter()
        .find(|(k, _)| k == "text")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let form: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let res = officer
        .post_form(&format!("/staff/requests/{pid}/events"), &form)
        .await;
    assert_eq!(res.status, 303, "{form:?}: {}", res.body);
    assert_eq!(app.request(pid).await.state, "fulfilled");
    text
}

/// The recipient at `address` opens the latest link mailed to it and reports the work done
/// (or, with a reason, that it cannot be); returns the page it got.
async fn report(app: &TestApp, address: &str, done: Option<&str>) -> Response {
    let mut link = None;
    for _ in 0..100 {
        link = app
            .mails_to(address)
            .await
            .last()
            .and_then(|m| m.link_path("/owner/"));
        if link.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let link = link.unwrap_or_else(|| panic!("no link mailed to {address}"));
    let them = app.client.fresh();
    let page = them.get(&link).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let csrf = page.csrf();
    let fields: Vec<(&str, &str)> = match done {
        None => vec![("csrf", &csrf), ("outcome", "done")],
        Some(why) => vec![("csrf", &csrf), ("outcome", "cannot"), ("reason", why)],
    };
    let (ct, b) = multipart_named(&fields, &[]);
    them.send(hyper::Method::POST, &link, Some(&ct), b).await
}

fn var(vars: &[(&'static str, String)], k: &str) -> String {
    vars.iter().find(|(n, _)| *n == k).unwrap().1.clone()
}

/// The points records of people other than the subject, as seeded (examples/shop/seed).
fn others_points() -> Vec<serde_json::Value> {
    vec![
        serde_json::json!({"email": "hanako.yamada@example.com", "granted_on": "2026-04-02", "points": 30, "reason": {"label": "別人"}}),
        serde_json::json!({"email": "", "granted_on": "2026-04-03", "points": 1, "reason": null}),
    ]
}

/// An erasure request in the example shop: the officer orders the plan once; the
/// connectors delete and clear in all four systems (the points service by its declared
/// call), check that nothing is left, and the answer and the subject's notice list it. No
/// one touches a system; everyone else's data stays as seeded.
async fn an_erasure_in_every_system_of_the_example(backend: Backend, tag: &str) {
    let (app, points, vars) = shop_app(backend, tag).await;
    let pid = filed(&app, "suspension_or_erasure").await;
    let officer = staff_client(&app, Role::Officer).await;
    let page = officer.get(&format!("/staff/requests/{pid}")).await;
    assert!(
        page.body
            .contains("<td>ポイント履歴</td><td>ポイントサービス</td><td>行を削除</td><td>3</td>"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("担当者が手作業で実施"));
    let res = officer
        .post_form(
            &format!("/staff/requests/{pid}/erase"),
            &[("csrf", &page.csrf())],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    // The delivery processor and the points partner are asked to erase what they received:
    // Japanese business letters, no personal data in them.
    let letter = app.mails_to("privacy@haiso.example.jp").await.remove(0);
    assert!(
        letter
            .text
            .starts_with("みどり配送株式会社（配送の委託先） 御中"),
        "{}",
        letter.text
    );
    assert!(letter.text.contains("・会員情報"), "{}", letter.text);
    assert!(
        letter
            .subject
            .contains("当社が提供した個人データの消去について")
    );
    assert!(!letter.text.contains(SUBJECT) && !letter.text.contains("山田"));
    for address in ["privacy@haiso.example.jp", "dpo@koukan.example.jp"] {
        let res = report(&app, address, None).await;
        assert_eq!(res.status, 200, "{}", res.body);
        assert!(
            res.body.contains("実施済みとして記録しました"),
            "{}",
            res.body
        );
    }
    carried_out(&app, pid, false).await;

    let shop = var(&vars, "SHOP_DATABASE_URL");
    assert_eq!(
        table(&shop, "SELECT id::text, email, name FROM customers").await,
        [
            t(&[
                Some("2"),
                Some("hanako.yamada@example.com"),
                Some("山田 花子")
            ]),
            t(&[Some("3"), None, Some("名無し")]),
        ]
    );
    assert_eq!(
        table(&shop, "SELECT customer_id::text, items FROM orders").await,
        [
            t(&[None, Some("持ち主のない注文")]),
            t(&[Some("2"), Some("別人の注文")]),
            t(&[Some("3"), Some("名無しの注文")]),
        ]
    );
    assert_eq!(
        table(
            &var(&vars, "SUPPORT_DATABASE_URL"),
            "SELECT CAST(id AS CHAR), email, CAST(customer_id AS CHAR), body FROM tickets"
        )
        .await,
        [
            t(&[Some("1"), None, None, None]),
            t(&[Some("2"), None, None, None]),
            t(&[
                Some("3"),
                Some("hanako.yamada@example.com"),
                Some("2"),
                Some("別人の問い合わせ")
            ]),
            t(&[Some("4"), None, None, Some("誰のものでもない問い合わせ")]),
        ]
    );
    assert_eq!(
        table(
            &var(&vars, "NEWS_DATABASE_URL"),
            "SELECT email, topics FROM subscribers"
        )
        .await,
        [t(&[Some("hanako.yamada@example.com"), Some("別人の購読")])]
    );
    assert_eq!(points.records(), others_points());

    let today =
        madoguchi_domain::written_date(madoguchi_domain::jst_date(chrono::Utc::now()), false);
    let text = answered(&app, &officer, pid).await;
    for line in [
        format!("ご注文（通販サイト）: 2 件を削除しました（{today}）"),
        format!("会員情報（通販サイト）: 1 件を削除しました（{today}）"),
        format!(
            "お問い合わせ履歴（お問い合わせ管理）: 2 件の記録からお客様の情報を消去しました（{today}）"
        ),
        format!("メールマガジン購読（メールマガジン）: 1 件を削除しました（{today}）"),
        format!("ポイント履歴（ポイントサービス）: 3 件を削除しました（{today}）"),
        format!(
            "みどり配送株式会社（配送の委託先）（提供先）: 消去を依頼し、対応の報告を受けました（{today}）"
        ),
        format!(
            "ポイント交換株式会社（提携先）（提供先）: 消去を依頼し、対応の報告を受けました（{today}）"
        ),
    ] {
        assert!(text.contains(&line), "{line}: {text}");
    }
    let notice = app
        .mails_to(SUBJECT)
        .await
        .into_iter()
        .rev()
        .find(|m| m.text.contains("消去しました"))
        .expect("the notice");
    assert!(
        notice.text.contains(&format!(
            "ポイント履歴（ポイントサービス）: 3 件を削除しました（{today}）"
        )),
        "{}",
        notice.text
    );
    let actions = app.audit_actions(pid).await;
    assert_eq!(actions.iter().filter(|a| *a == "data.erased").count(), 4);
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "recipient.notified")
            .count(),
        2
    );
    assert_eq!(actions.iter().filter(|a| *a == "owner.done").count(), 2);
    app.verify_audit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erasure_in_every_system_of_the_example_on_sqlite() {
    an_erasure_in_every_system_of_the_example(Backend::Sqlite, &tag()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erasure_in_every_system_of_the_example_on_postgres() {
    if std::env::var("MADOGUCHI_TEST_POSTGRES").as_deref() == Ok("skip") {
        return;
    }
    an_erasure_in_every_system_of_the_example(Backend::Postgres, &tag()).await;
}

/// A suspension of use in the example shop: the member is marked not to be contacted, the
/// enquiries archived, the subscription ended and the points frozen; the orders stay as they
/// are (not used for anything a suspension stops). The answer says use was stopped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspension_marks_archives_unsubscribes_and_freezes() {
    let (app, points, vars) = shop_app(Backend::Sqlite, &tag()).await;
    let pid = filed(&app, "suspension_or_erasure").await;
    let officer = staff_client(&app, Role::Officer).await;
    let page = officer.get(&format!("/staff/requests/{pid}")).await;
    for text in [
        "利用停止の計画（実行前の確認）",
        "<td>会員情報</td><td>通販サイト</td><td>利用停止の印を付ける</td><td>1</td>",
        "<td>ご注文</td><td>通販サイト</td><td>変更しない</td><td>2</td>",
        "<td>メールマガジン購読</td><td>メールマガジン</td><td>行を削除</td><td>1</td>",
        "<td>ポイント履歴</td><td>ポイントサービス</td><td>利用停止の印を付ける</td><td>3</td>",
    ] {
        assert!(page.body.contains(text), "{text}: {}", page.body);
    }
    let res = officer
        .post_form(
            &format!("/staff/requests/{pid}/erase"),
            &[("csrf", &page.csrf()), ("measure", "suspend")],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let letter = app.mails_to("dpo@koukan.example.jp").await.remove(0);
    assert!(
        letter
            .subject
            .contains("当社が提供した個人データの利用停止について"),
        "{}",
        letter.subject
    );
    for address in ["privacy@haiso.example.jp", "dpo@koukan.example.jp"] {
        assert_eq!(report(&app, address, None).await.status, 200);
    }
    carried_out(&app, pid, false).await;

    let shop = var(&vars, "SHOP_DATABASE_URL");
    assert_eq!(
        table(
            &shop,
            "SELECT id::text, email, do_not_contact::text FROM customers"
        )
        .await,
        [
            t(&[Some("1"), Some(SUBJECT), Some("true")]),
            t(&[Some("2"), Some("hanako.yamada@example.com"), Some("false")]),
            t(&[Some("3"), None, Some("false")]),
        ]
    );
    assert_eq!(table(&shop, "SELECT id::text FROM orders").await.len(), 5);
    assert_eq!(
        table(
            &var(&vars, "SUPPORT_DATABASE_URL"),
            "SELECT CAST(id AS CHAR), CAST(archived AS CHAR), body FROM tickets"
        )
        .await,
        [
            t(&[Some("1"), Some("1"), Some("配送日を変えたい")]),
            t(&[
                Some("2"),
                Some("1"),
                Some("電話での問い合わせ: 急須の蓋が欠けていた")
            ]),
            t(&[Some("3"), Some("0"), Some("別人の問い合わせ")]),
            t(&[Some("4"), Some("0"), Some("誰のものでもない問い合わせ")]),
        ]
    );
    assert_eq!(
        table(
            &var(&vars, "NEWS_DATABASE_URL"),
            "SELECT email FROM subscribers"
        )
        .await,
        [t(&[Some("hanako.yamada@example.com")])]
    );
    let records = points.records();
    let frozen: Vec<bool> = records
        .iter()
        .map(|r| r["frozen"] == serde_json::json!(true))
        .collect();
    assert_eq!(frozen, [true, true, true, false, false], "{records:?}");

    let today =
        madoguchi_domain::written_date(madoguchi_domain::jst_date(chrono::Utc::now()), false);
    let text = answered(&app, &officer, pid).await;
    for line in [
        "ご請求に基づき、次のとおりお客様の個人データの利用を停止しました。".to_owned(),
        format!("会員情報（通販サイト）: 1 件の記録の利用を停止しました（{today}）"),
        format!("お問い合わせ履歴（お問い合わせ管理）: 2 件の記録の利用を停止しました（{today}）"),
        format!("メールマガジン購読（メールマガジン）: 1 件を削除しました（{today}）"),
        format!("ポイント履歴（ポイントサービス）: 3 件の記録の利用を停止しました（{today}）"),
    ] {
        assert!(text.contains(&line), "{line}: {text}");
    }
    let actions = app.audit_actions(pid).await;
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "suspension.ordered")
            .count(),
        1
    );
    assert_eq!(actions.iter().filter(|a| *a == "data.suspended").count(), 4);
    app.verify_audit().await;
}

/// A correction of the e-mail address in the example shop: the officer enters the new
/// address for the member account and for the points history; the shop's database and the
/// points service are changed (by its declared call), found again by the new address and
/// checked; nothing else changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_correction_reaches_the_database_and_the_points_service() {
    const NEW: &str = "hanako.new@example.jp";
    let (app, points, vars) = shop_app(Backend::Sqlite, &tag()).await;
    let pid = filed(&app, "correction").await;
    let officer = staff_client(&app, Role::Officer).await;
    for dataset in ["customers", "points"] {
        let page = officer.get(&format!("/staff/requests/{pid}")).await;
        let res = officer
            .post_form(
                &format!("/staff/requests/{pid}/correct"),
                &[
                    ("csrf", &page.csrf()),
                    ("dataset", dataset),
                    ("value_email", NEW),
                ],
            )
            .await;
        assert_eq!(res.status, 303, "{dataset}: {}", res.body);
        carried_out(&app, pid, true).await;
    }
    assert_eq!(
        table(
            &var(&vars, "SHOP_DATABASE_URL"),
            "SELECT id::text, email FROM customers"
        )
        .await,
        [
            t(&[Some("1"), Some(NEW)]),
            t(&[Some("2"), Some("hanako.yamada@example.com")]),
            t(&[Some("3"), None]),
        ]
    );
    let mut expected = vec![
        serde_json::json!({"email": NEW, "granted_on": "2026-04-01", "points": 120, "reason": {"label": "ご購入"}}),
        serde_json::json!({"email": NEW, "granted_on": "2026-05-10", "points": 80, "reason": {"label": "ご購入"}}),
        serde_json::json!({"email": NEW, "granted_on": "2026-06-01", "points": 500, "reason": {"label": "誕生日"}}),
    ];
    expected.extend(others_points());
    assert_eq!(points.records(), expected);
    let today =
        madoguchi_domain::written_date(madoguchi_domain::jst_date(chrono::Utc::now()), false);
    let text = answered(&app, &officer, pid).await;
    for line in [
        format!("会員情報（通販サイト）: メールアドレスを訂正しました（{today}）"),
        format!("ポイント履歴（ポイントサービス）: メールアドレスを訂正しました（{today}）"),
    ] {
        assert!(text.contains(&line), "{line}: {text}");
    }
    app.verify_audit().await;
}

/// A stop of provision to third parties (Art. 35(3)) in the example shop: the plan names the
/// points partner (the delivery processor is no third party); the partner is told and first
/// says it cannot, with a reason the officer reads; told again, it confirms, and the answer
/// says provision stopped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_of_provision_tells_the_third_party_until_it_confirms() {
    let (app, _points, _vars) = shop_app(Backend::Sqlite, &tag()).await;
    let pid = filed(&app, "third_party_stop").await;

    let officer = staff_client(&app, Role::Officer).await;
    let page = officer.get(&format!("/staff/requests/{pid}")).await;
    assert!(
        page.body.contains("第三者提供の停止（実行前の確認）"),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("<li>ポイント交換株式会社（提携先）: ポイント履歴（"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("<li>みどり配送株式会社"));
    let res = officer
        .post_form(
            &format!("/staff/requests/{pid}/stop"),
            &[("csrf", &page.csrf())],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    assert!(app.mails_to("privacy@haiso.example.jp").await.is_empty());
    let letter = app.mails_to("dpo@koukan.example.jp").await.remove(0);
    assert!(
        letter
            .text
            .contains("当社は、ご本人の個人データの貴社への提供を停止いたしました。"),
        "{}",
        letter.text
    );
    // A second press (a double click, another officer) while the partner has not answered
    // is refused: one letter only.
    let page = officer.get(&format!("/staff/requests/{pid}")).await;
    assert!(
        !page.body.contains("/stop\""),
        "the button is gone while it is underway"
    );
    let res = officer
        .post_form(
            &format!("/staff/requests/{pid}/stop"),
            &[("csrf", &page.csrf())],
        )
        .await;
    assert_ne!(res.status, 303, "{}", res.body);
    assert_eq!(app.mails_to("dpo@koukan.example.jp").await.len(), 1);

    // No reason given: refused, saying what is missing. Then with one.
    let res = report(&app, "dpo@koukan.example.jp", Some("  ")).await;
    assert_eq!(res.status, 422);
    assert!(
        res.body
            .contains("実施できない理由を2,000文字以内で記入してください。")
    );
    let res = report(
        &app,
        "dpo@koukan.example.jp",
        Some("担当者が不在のため来週対応します"),
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert!(res.body.contains("実施できない旨とその理由を記録しました"));
    let page = officer.get(&format!("/staff/requests/{pid}")).await;
    assert!(
        page.body
            .contains("実施できないとの報告: 担当者が不在のため来週対応します"),
        "{}",
        page.body
    );
    let trail: String = madoguchi_store::audit::for_request(app.service.db().conn(), pid)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.detail)
        .collect();
    assert!(!trail.contains("担当者が不在"));

    // Told again (only the partner, with a new link); now it confirms.
    let res = officer
        .post_form(
            &format!("/staff/requests/{pid}/stop"),
            &[("csrf", &page.csrf())],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(app.mails_to("dpo@koukan.example.jp").await.len(), 2);
    assert_eq!(
        report(&app, "dpo@koukan.example.jp", None).await.status,
        200
    );
    let today =
        madoguchi_domain::written_date(madoguchi_domain::jst_date(chrono::Utc::now()), false);
    let text = answered(&app, &officer, pid).await;
    for line in [
        "ご請求に基づき、次のとおりお客様の個人データの第三者への提供を停止しました。".to_owned(),
        format!(
            "ポイント交換株式会社（提携先）: 提供を停止し、先方から対応の報告を受けました（{today}）"
        ),
    ] {
        assert!(text.contains(&line), "{line}: {text}");
    }
    let actions = app.audit_actions(pid).await;
    for (a, n) in [
        ("provision.stopped", 2),
        ("recipient.notified", 2),
        ("owner.declined", 1),
        ("owner.done", 1),
    ] {
        assert_eq!(
            actions.iter().filter(|x| *x == a).count(),
            n,
            "{a}: {actions:?}"
        );
    }
    app.verify_audit().await;
}
