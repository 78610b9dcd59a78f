//! Connectors that gather (issue 17): a disclosure put to work has the subject's rows read
//! from a shop on PostgreSQL, support tickets on MariaDB and a newsletter list on SQLite,
//! following the map's references; exactly the subject's rows, none of a namesake's; each
//! system's outcome on the trail as counts and a hash; credentials nowhere; a system that
//! cannot be reached is retried and shown to the officer.

use madoguchi_domain::Role;
use sqlx::Connection;

use crate::answers::bring_in_progress;
use crate::helpers::*;
use crate::on_both;

pub(crate) const MAP: &str = r#"version = "connectors-test"
safety_measures = { ja = "暗号化しています。", en = "Encrypted." }

[[purposes]]
id = "service"
label = { ja = "サービスの提供", en = "Providing the service" }

[[categories]]
id = "contact"
label = { ja = "連絡先", en = "Contact details" }

[[categories]]
id = "order"
label = { ja = "購入履歴", en = "Purchases" }

[[systems]]
id = "shop"
name = { ja = "通販サイト", en = "Shop" }
owner = "shop@example.jp"
country = "JP"
connector = { kind = "postgres", url_env = "TEST_SHOP_URL", timeout_secs = 10 }

[[systems]]
id = "support"
name = { ja = "サポート", en = "Support" }
owner = "cs@example.jp"
country = "JP"
connector = { kind = "mysql", url_env = "TEST_SUPPORT_URL", timeout_secs = 10 }

[[systems]]
id = "news"
name = { ja = "メールマガジン", en = "Newsletter" }
owner = "news@example.jp"
country = "JP"
connector = { kind = "sqlite", url_env = "TEST_NEWS_URL" }

[[datasets]]
id = "customers"
system = "shop"
label = { ja = "会員情報", en = "Member account" }
location = "customers"
purposes = ["service"]
retention = { period = { ja = "退会後1年", en = "A year after leaving" }, basis = "規程" }
find_by = [{ match = [{ field = "email", key = "email" }] }]
fields = [
  { name = "id", label = { ja = "会員番号", en = "Member number" }, category = "contact", erase = "delete_row" },
  { name = "email", label = { ja = "メールアドレス", en = "E-mail" }, category = "contact", erase = "delete_row" },
  { name = "name", label = { ja = "氏名", en = "Name" }, category = "contact", erase = "delete_row" },
  { name = "fraud_score", label = { ja = "不正利用スコア", en = "Fraud score" }, category = "order", erase = "delete_row", withhold = "serious_interference" },
]

[[datasets]]
id = "orders"
system = "shop"
label = { ja = "ご注文", en = "Orders" }
location = "orders"
purposes = ["service"]
retention = { period = { ja = "3年", en = "3 years" }, basis = "規程" }
find_by = [{ match = [{ field = "customer_id", from = "customers.id" }] }]
fields = [
  { name = "customer_id", label = { ja = "会員番号", en = "Member number" }, category = "contact", erase = "delete_row" },
  { name = "items", label = { ja = "ご注文の品", en = "Items" }, category = "order", erase = "delete_row" },
]

[[datasets]]
id = "tickets"
system = "support"
label = { ja = "お問い合わせ", en = "Enquiries" }
location = "tickets"
purposes = ["service"]
retention = { period = { ja = "2年", en = "2 years" }, basis = "規程" }
find_by = [
  { match = [{ field = "email", key = "email" }] },
  { match = [{ field = "customer_id", from = "customers.id" }] },
]
fields = [
  { name = "email", label = { ja = "メールアドレス", en = "E-mail" }, category = "contact", erase = "clear" },
  { name = "customer_id", label = { ja = "会員番号", en = "Member number" }, category = "contact", erase = "clear" },
  { name = "body", label = { ja = "内容", en = "What was asked" }, category = "contact", erase = "clear" },
]

[[datasets]]
id = "subscribers"
system = "news"
label = { ja = "メールマガジン購読", en = "Newsletter subscription" }
location = "subscribers"
purposes = ["service"]
retention = { period = { ja = "解除まで", en = "Until unsubscribed" }, basis = "規程" }
find_by = [{ match = [{ field = "email", key = "email" }] }]
fields = [
  { name = "email", label = { ja = "メールアドレス", en = "E-mail" }, category = "contact", erase = "delete_row" },
  { name = "topics", label = { ja = "購読テーマ", en = "Topics" }, category = "contact", erase = "delete_row" },
]
"#;

pub(crate) const SUBJECT: &str = "hanako@example.jp";

/// A fresh PostgreSQL database for the shop, seeded; its URL.
pub(crate) async fn shop(tag: &str) -> String {
    let admin = std::env::var("MADOGUCHI_TEST_POSTGRES")
        .ok()
        .filter(|v| v != "skip")
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let name = format!("shop_{tag}");
    let mut c = sqlx::PgConnection::connect(&admin).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name}"
    )))
    .execute(&mut c)
    .await
    .unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut c)
        .await
        .unwrap();
    let url = match admin.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{name}"),
        None => unreachable!(),
    };
    let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::raw_sql(
        "CREATE TABLE customers (id serial PRIMARY KEY, email text, name text, fraud_score int);
         CREATE TABLE orders (id serial PRIMARY KEY, customer_id int, items text);
         INSERT INTO customers (email, name, fraud_score) VALUES
           ('hanako@example.jp', '山田 花子', 12),
           ('other.hanako@example.jp', '山田 花子', 3),
           (NULL, '名無し', 0);
         INSERT INTO orders (customer_id, items) VALUES
           (1, '緑茶 2袋'), (1, '急須'), (2, '別人の注文'), (3, '名無しの注文'), (NULL, '持ち主なし');",
    )
    .execute(&mut c)
    .await
    .unwrap();
    url
}

/// A fresh MariaDB database for support tickets, seeded; its URL.
pub(crate) async fn support(tag: &str) -> String {
    let name = format!("support_{tag}");
    let mut c = sqlx::MySqlConnection::connect("mysql://root@127.0.0.1:3306/test")
        .await
        .unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name}; CREATE DATABASE {name} CHARACTER SET utf8mb4"
    )))
    .execute(&mut c)
    .await
    .unwrap();
    let url = format!("mysql://root@127.0.0.1:3306/{name}");
    let mut c = sqlx::MySqlConnection::connect(&url).await.unwrap();
    sqlx::raw_sql(
        "CREATE TABLE tickets (id int AUTO_INCREMENT PRIMARY KEY, email varchar(200), customer_id int, body text);
         INSERT INTO tickets (email, customer_id, body) VALUES
           ('hanako@example.jp', NULL, '配送日を変えたい'),
           (NULL, 1, '電話での問い合わせ: 急須が割れていた'),
           ('other.hanako@example.jp', 2, '別人の問い合わせ'),
           (NULL, NULL, '誰のでもない');",
    )
    .execute(&mut c)
    .await
    .unwrap();
    url
}

/// A SQLite newsletter list, seeded; its URL.
pub(crate) async fn news(dir: &std::path::Path) -> String {
    let path = dir.join("news.db");
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::raw_sql(
        "CREATE TABLE subscribers (email TEXT, topics TEXT);
         INSERT INTO subscribers VALUES ('hanako@example.jp', '新茶の案内'), ('other.hanako@example.jp', '別人');",
    )
    .execute(&mut c)
    .await
    .unwrap();
    c.close().await.unwrap();
    format!("sqlite://{}", path.display())
}

/// Waits until the request's latest gathering has no job pending or running.
pub(crate) async fn settled(
    app: &TestApp,
    pid: uuid::Uuid,
) -> madoguchi_service::gather::Gathering {
    for _ in 0..300 {
        let row = app.request(pid).await;
        let g = app.service.gathering(&row, false).await.unwrap();
        if !g.systems.is_empty()
            && g.systems.iter().all(|s| {
                s.state == "done"
                    || (s.state == "pending"
                        && s.error.is_some()
                        && s.error.as_deref() != Some("他のシステムの収集を待っています"))
                    || s.state == "failed"
                    || s.state == "owner"
            })
        {
            return g;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the gathering did not settle");
}

/// The business's three systems, seeded, and the app started with their variables and map.
async fn with_business(backend: Backend, tag: &str) -> (TestApp, Vec<(&'static str, String)>) {
    with_business_map(backend, tag, MAP).await
}

/// The business's three systems, seeded, and the app started with `map`.
pub(crate) async fn with_business_map(
    backend: Backend,
    tag: &str,
    map: &str,
) -> (TestApp, Vec<(&'static str, String)>) {
    with_business_vars(backend, tag, map, &[]).await
}

/// The business's three systems, seeded, and the app started with `map` and `extra`.
pub(crate) async fn with_business_vars(
    backend: Backend,
    tag: &str,
    map: &str,
    extra: &[(&'static str, &'static str)],
) -> (TestApp, Vec<(&'static str, String)>) {
    let dir = std::env::temp_dir().join(format!("madoguchi-business-{tag}"));
    std::fs::create_dir_all(&dir).unwrap();
    let map_path = dir.join("map.toml");
    std::fs::write(&map_path, map).unwrap();
    let vars = vec![
        ("TEST_SHOP_URL", shop(tag).await),
        ("TEST_SUPPORT_URL", support(tag).await),
        ("TEST_NEWS_URL", news(&dir).await),
        ("MADOGUCHI_DATAMAP", map_path.display().to_string()),
    ];
    let mut leaked: Vec<(&'static str, &'static str)> = vars
        .iter()
        .map(|(k, v)| (*k, &*Box::leak(v.clone().into_boxed_str())))
        .collect();
    leaked.extend_from_slice(extra);
    let app = match backend {
        Backend::Sqlite => TestApp::spawn_with(Backend::Sqlite, &leaked).await,
        Backend::Postgres => TestApp::spawn_postgres_with(&leaked).await.unwrap(),
    };
    (app, vars)
}

async fn a_disclosure_is_gathered_from_three_databases(backend: Backend, tag: &str) {
    let (app, vars) = with_business(backend, tag).await;
    let mut body = valid_json(SUBJECT);
    body["subject_name"] = "山田 花子".into();
    let res = app.client.post_json("/api/v1/requests", &body).await;
    assert_eq!(res.status, 201, "{}", res.body);
    let pid = uuid::Uuid::parse_str(res.json()["id"].as_str().unwrap()).unwrap();
    bring_in_progress(&app, pid, SUBJECT).await;

    let g = settled(&app, pid).await;
    let states: Vec<(&str, &str, i32)> = g
        .systems
        .iter()
        .map(|s| (s.system.as_str(), s.state.as_str(), s.rows))
        .collect();
    // The subject's rows: their account; its two orders (none of the namesake's, none with a
    // NULL owner); the ticket by their address and the one by their member number; their
    // subscription.
    assert_eq!(
        states,
        [
            ("通販サイト", "done", 3),
            ("サポート", "done", 2),
            ("メールマガジン", "done", 1)
        ]
    );
    let rows = |id: &str| -> Vec<Vec<String>> {
        g.datasets.iter().find(|d| d.id == id).unwrap().rows.clone()
    };
    assert_eq!(rows("customers"), [["1", SUBJECT, "山田 花子"]]);
    let mut orders = rows("orders");
    orders.sort();
    assert_eq!(orders, [["1", "急須"], ["1", "緑茶 2袋"]]);
    let mut tickets = rows("tickets");
    tickets.sort();
    assert_eq!(
        tickets,
        [
            ["", "1", "電話での問い合わせ: 急須が割れていた"],
            [SUBJECT, "", "配送日を変えたい"]
        ]
    );
    assert_eq!(rows("subscribers"), [[SUBJECT, "新茶の案内"]]);
    // The fraud score is withheld on its ground, not shown.
    let customers = g.datasets.iter().find(|d| d.id == "customers").unwrap();
    assert_eq!(customers.columns, ["会員番号", "メールアドレス", "氏名"]);
    assert_eq!(customers.withheld.len(), 1);

    // The officer sees it, and the answer form starts from it.
    let officer = staff_client(&app, Role::Officer).await;
    let page = officer.get(&format!("/staff/requests/{pid}")).await;
    let b = &page.body;
    assert!(b.contains("保有データの収集（コネクタ）"));
    assert!(b.contains("緑茶 2袋"));
    assert!(!b.contains("別人"), "nothing of the namesake");
    assert!(
        b.contains("不正利用スコア（当社の業務の適正な実施に著しい支障を及ぼすおそれがあるため）"),
        "{b}"
    );
    assert!(b.contains("コネクタが収集したデータから記入しています。"));
    assert!(b.contains("id=\"item-label-1\" maxlength=\"100\" value=\"会員情報\""));

    // The trail has counts and hashes, never the data or a credential.
    let actions = app.audit_actions(pid).await;
    assert_eq!(actions.iter().filter(|a| *a == "data.gathered").count(), 3);
    let trail: String = madoguchi_store::audit::for_request(app.service.db().conn(), pid)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.detail)
        .collect();
    assert!(trail.contains("\"sha256\""));
    assert!(!trail.contains("緑茶") && !trail.contains(SUBJECT));
    for (_, url) in &vars {
        assert!(!b.contains(url.as_str()) && !trail.contains(url.as_str()));
    }
    // What was gathered is sealed at rest.
    let stored: Vec<Option<String>> = {
        use madoguchi_store::sea_orm::EntityTrait;
        madoguchi_store::entities::gather_job::Entity::find()
            .all(app.service.db().conn())
            .await
            .unwrap()
            .into_iter()
            .map(|j| j.result)
            .collect()
    };
    assert_eq!(stored.len(), 3);
    assert!(stored.iter().flatten().all(|r| !r.contains("緑茶")));

    // A key rotation re-seals what was gathered; it still opens.
    let mut ring = madoguchi::load_keys(&app_config(&app)).unwrap();
    ring.rotate("k2");
    app.service.set_keys(ring);
    app.service.reseal_personal_data().await.unwrap();
    let resealed: Vec<String> = {
        use madoguchi_store::sea_orm::EntityTrait;
        madoguchi_store::entities::gather_job::Entity::find()
            .all(app.service.db().conn())
            .await
            .unwrap()
            .into_iter()
            .filter_map(|j| j.result)
            .collect()
    };
    assert_eq!(resealed.len(), 3);
    assert!(resealed.iter().all(|r| r.contains(":k2:")), "{resealed:?}");
    let again = app
        .service
        .gathering(&app.request(pid).await, false)
        .await
        .unwrap();
    assert_eq!(again, g);

    // Each system can be checked without reading a row.
    let map = madoguchi_datamap::DataMap::load(MAP).unwrap();
    let env = |name: &str| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    };
    for system in ["shop", "support", "news"] {
        assert!(
            madoguchi_connectors::test_system(&map, system, &env)
                .await
                .is_ok(),
            "{system}"
        );
    }

    // The officer builds the answer from the gathered data and sends it as suggested; the
    // subject downloads it: nobody typed any of the data.
    let res = officer
        .post_form(
            &format!("/staff/requests/{pid}/package"),
            &[("csrf", &page.csrf())],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let page = officer.get(&format!("/staff/requests/{pid}")).await;
    let number = app.request(pid).await.number;
    assert!(
        page.body.contains(&format!("{number}-disclosure.zip")),
        "{}",
        page.body
    );
    let v = app.request(pid).await.version.to_string();
    let res = officer
        .post_form(
            &format!("/staff/requests/{pid}/events"),
            &[
                ("csrf", &page.csrf()),
                ("version", &v),
                ("event", "complete"),
                ("outcome", "fulfilled"),
                ("item_label_1", "会員情報"),
                ("item_result_1", "partially_disclosed"),
                ("item_grounds_1", "serious_business_interference"),
                ("item_label_2", "ご注文"),
                ("item_result_2", "disclosed"),
                ("item_label_3", "お問い合わせ"),
                ("item_result_3", "disclosed"),
                ("item_label_4", "メールマガジン購読"),
                ("item_result_4", "disclosed"),
                ("text", "ご請求の保有個人データを開示します"),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
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
    assert_eq!(file.header("content-type"), "application/zip");
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(file.bytes.clone())).unwrap();
    let mut read = |name: &str| {
        use std::io::Read as _;
        let mut s = String::new();
        zip.by_name(name).unwrap().read_to_string(&mut s).unwrap();
        s
    };
    let report = read("report.html");
    assert!(report.contains("<td>緑茶 2袋</td>"), "{report}");
    assert!(
        report.contains(
            "不正利用スコア（当社の業務の適正な実施に著しい支障を及ぼすおそれがあるため）"
        )
    );
    assert!(!report.contains("別人") && !report.contains("12</td>"));
    let orders = read("orders.csv");
    assert!(
        orders.starts_with("\u{feff}会員番号,ご注文の品\r\n"),
        "{orders}"
    );
    assert!(orders.contains("1,急須\r\n"));
    let data: serde_json::Value = serde_json::from_str(&read("data.json")).unwrap();
    assert_eq!(data["request"], number.as_str());
    assert_eq!(data["datasets"].as_array().unwrap().len(), 4);

    // The administrator checks the connections from the console.
    let admin = staff_client(&app, Role::Admin).await;
    let page = admin.get("/staff/admin/datamap").await;
    let res = admin
        .post_form("/staff/admin/datamap/test", &[("csrf", &page.csrf())])
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    for line in [
        "通販サイト: OK（2 テーブルを読み取れます）",
        "サポート: OK（1 テーブルを読み取れます）",
        "メールマガジン: OK（1 テーブルを読み取れます）",
    ] {
        assert!(res.body.contains(line), "{line}: {}", res.body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disclosure_is_gathered_from_three_databases_on_sqlite() {
    a_disclosure_is_gathered_from_three_databases(Backend::Sqlite, &tag()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disclosure_is_gathered_from_three_databases_on_postgres() {
    if std::env::var("MADOGUCHI_TEST_POSTGRES").as_deref() == Ok("skip") {
        return;
    }
    a_disclosure_is_gathered_from_three_databases(Backend::Postgres, &tag()).await;
}

pub(crate) fn tag() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_owned()
}

on_both!(
    a_system_that_cannot_be_reached_is_retried_and_shown_without_its_password,
    |app: TestApp| async move {
        // The map, with the newsletter pointing at a database server that is not there.
        let admin = staff_client(&app, Role::Admin).await;
        let page = admin.get("/staff/admin/datamap").await;
        let map = MAP.replace(
            "connector = { kind = \"sqlite\", url_env = \"TEST_NEWS_URL\" }",
            "connector = { kind = \"postgres\", url_env = \"TEST_NOWHERE_URL\", timeout_secs = 2 }",
        );
        // Only the unreachable system's datasets stay, so the run has one job.
        let map = map
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
        let map = map
            .replace("connector = { kind = \"postgres\", url_env = \"TEST_SHOP_URL\", timeout_secs = 10 }", "connector = { kind = \"manual\" }")
            .replace("connector = { kind = \"mysql\", url_env = \"TEST_SUPPORT_URL\", timeout_secs = 10 }", "connector = { kind = \"manual\" }");
        let res = admin
            .post_form(
                "/staff/admin/datamap",
                &[("csrf", &page.csrf()), ("source", &map)],
            )
            .await;
        assert_eq!(res.status, 200, "{}", res.body);
        // Monitoring wants to hear of a system given up on.
        let hooks = admin.get("/staff/admin/webhooks").await;
        let res = admin
            .post_form(
                "/staff/admin/webhooks",
                &[
                    ("csrf", &hooks.csrf()),
                    ("url", "http://127.0.0.1:9/connectors"),
                    ("event_connector.failed", "1"),
                ],
            )
            .await;
        assert_eq!(res.status, 200, "{}", res.body);
        let pid = file_via_api(&app, SUBJECT).await;
        bring_in_progress(&app, pid, SUBJECT).await;
        // TEST_NOWHERE_URL is not set: the job fails on its first try, visibly.
        let g = settled(&app, pid).await;
        assert_eq!(g.systems.len(), 1);
        assert_eq!(g.systems[0].state, "pending");
        assert_eq!(g.systems[0].attempts, 1);
        // Said in the page's language, naming the system by its name.
        assert_eq!(
            g.systems[0].error.as_deref(),
            Some(
                "システム「メールマガジン」の接続情報が設定されていません（環境変数 TEST_NOWHERE_URL）"
            )
        );
        let actions = app.audit_actions(pid).await;
        assert!(actions.contains(&"gather.failed".to_owned()), "{actions:?}");
        // A try that will be retried is not a failure to report; the last one is, once.
        let failed_events = || async {
            use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
            madoguchi_store::entities::webhook_delivery::Entity::find()
                .filter(
                    madoguchi_store::entities::webhook_delivery::Column::Event
                        .eq("connector.failed"),
                )
                .all(app.service.db().conn())
                .await
                .unwrap()
        };
        assert!(failed_events().await.is_empty());
        app.sql(
            "UPDATE gather_jobs SET attempts = 3, next_attempt_at = '2000-01-01 00:00:00+00:00'",
        )
        .await;
        let mut given_up = false;
        for _ in 0..100 {
            let state = settled(&app, pid).await.systems[0].state.clone();
            if state == "failed" || state == "owner" {
                given_up = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(
            given_up,
            "the fourth try gives up (or hands the system to its owner)"
        );
        let events = failed_events().await;
        assert_eq!(events.len(), 1);
        let payload: serde_json::Value = serde_json::from_str(&events[0].payload).unwrap();
        assert_eq!(payload["data"]["system"], "news");
        assert_eq!(payload["data"]["purpose"], "gather");
        assert_eq!(
            payload["data"]["number"],
            app.request(pid).await.number.as_str()
        );
        assert!(
            !events[0].payload.contains("TEST_NOWHERE_URL"),
            "not the error's words"
        );
        let officer = staff_client(&app, Role::Officer).await;
        let page = officer.get(&format!("/staff/requests/{pid}")).await;
        assert!(
            page.body
                .contains("システム「メールマガジン」の接続情報が設定されていません")
        );
        // The officer asks again: a new run, on the trail.
        let res = officer
            .post_form(
                &format!("/staff/requests/{pid}/gather"),
                &[("csrf", &page.csrf())],
            )
            .await;
        assert_eq!(res.status, 303, "{}", res.body);
        assert!(
            app.audit_actions(pid)
                .await
                .contains(&"gather.requested".to_owned())
        );
        // The officer asks the subject something and the subject answers: back in progress,
        // the gathering is kept (not queued a second time).
        let page = officer.get(&format!("/staff/requests/{pid}")).await;
        let v = app.request(pid).await.version.to_string();
        let res = officer
            .post_form(
                &format!("/staff/requests/{pid}/events"),
                &[
                    ("csrf", &page.csrf()),
                    ("version", &v),
                    ("event", "request_info"),
                    ("text", "ご利用のサービス名を教えてください"),
                ],
            )
            .await;
        assert_eq!(res.status, 303, "{}", res.body);
        app.service
            .provide_info(
                pid,
                "通販サイトです",
                &madoguchi_service::Origin::default(),
                chrono::Utc::now(),
            )
            .await
            .unwrap();
        assert_eq!(app.request(pid).await.state, "in_progress");
        // A system given up on is on the dashboard until it is dealt with.
        app.sql("UPDATE gather_jobs SET state = 'failed'").await;
        let dashboard = officer.get("/staff/dashboard").await;
        assert!(
            dashboard
                .body
                .contains("収集に失敗したシステムがあります。")
        );
        assert!(
            dashboard.body.contains("<li>メールマガジン: 2 件</li>"),
            "{}",
            dashboard.body
        );
        // An auditor cannot.
        let auditor = staff_client(&app, Role::Auditor).await;
        let page = auditor.get(&format!("/staff/requests/{pid}")).await;
        let res = auditor
            .post_form(
                &format!("/staff/requests/{pid}/gather"),
                &[("csrf", &page.csrf())],
            )
            .await;
        assert_eq!(res.status, 403);
    }
);

/// A reference value that is not an integer never reaches an integer column: MySQL would
/// compare `1abc` with 1 and hand over member 1's tickets; PostgreSQL would refuse the
/// statement and fail the job.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_that_is_not_an_integer_matches_no_integer_column() {
    if std::env::var("MADOGUCHI_TEST_POSTGRES").as_deref() == Ok("skip") {
        return;
    }
    let tag = tag();
    let vars = [
        ("TEST_SHOP_URL", shop(&tag).await),
        ("TEST_SUPPORT_URL", support(&tag).await),
    ];
    let env = |name: &str| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    };
    // Tickets (MariaDB) and orders (PostgreSQL), both found by a member number another
    // system knows (`members.id`, read elsewhere).
    let map = MAP.split("[[datasets]]").next().unwrap().to_owned()
        + r#"
[[datasets]]
id = "members"
system = "news"
label = { ja = "会員", en = "Members" }
purposes = ["service"]
retention = { period = { ja = "1年", en = "1 year" }, basis = "規程" }
find_by = [{ match = [{ field = "email", key = "email" }] }]
fields = [{ name = "id", label = { ja = "番号", en = "Number" }, category = "contact", erase = "delete_row" }, { name = "email", label = { ja = "メール", en = "E-mail" }, category = "contact", erase = "delete_row" }]

[[datasets]]
id = "tickets"
system = "support"
label = { ja = "問い合わせ", en = "Tickets" }
location = "tickets"
purposes = ["service"]
retention = { period = { ja = "2年", en = "2 years" }, basis = "規程" }
find_by = [{ match = [{ field = "customer_id", from = "members.id" }] }]
fields = [{ name = "customer_id", label = { ja = "会員番号", en = "Member" }, category = "contact", erase = "clear" }, { name = "body", label = { ja = "内容", en = "Body" }, category = "contact", erase = "clear" }]

[[datasets]]
id = "orders"
system = "shop"
label = { ja = "注文", en = "Orders" }
location = "orders"
purposes = ["service"]
retention = { period = { ja = "3年", en = "3 years" }, basis = "規程" }
find_by = [{ match = [{ field = "customer_id", from = "members.id" }] }]
fields = [{ name = "customer_id", label = { ja = "会員番号", en = "Member" }, category = "contact", erase = "delete_row" }, { name = "items", label = { ja = "品", en = "Items" }, category = "order", erase = "delete_row" }]
"#;
    let map = madoguchi_datamap::DataMap::load(&map).unwrap_or_else(|p| panic!("{p:?}"));
    let known_as = |id: &str| {
        std::collections::BTreeMap::from([(
            "members".to_owned(),
            madoguchi_connectors::Rows {
                dataset: "members".into(),
                fields: vec!["id".into(), "email".into()],
                rows: vec![vec![Some(id.to_owned()), None]],
                searched: true,
                withheld: vec![],
            },
        )])
    };
    let nobody = madoguchi_connectors::Subject::default();
    for system in ["support", "shop"] {
        let found =
            madoguchi_connectors::gather_system(&map, system, &nobody, &known_as("1abc"), &env)
                .await
                .unwrap_or_else(|e| panic!("{system}: {e}"));
        assert!(
            found.iter().all(|r| r.rows.is_empty()),
            "{system}: {found:?}"
        );
    }
    // The same reference as an integer finds member 1's rows in both.
    let tickets =
        madoguchi_connectors::gather_system(&map, "support", &nobody, &known_as("1"), &env)
            .await
            .unwrap();
    assert_eq!(
        tickets[0].rows,
        [[
            Some("1".to_owned()),
            Some("電話での問い合わせ: 急須が割れていた".to_owned())
        ]]
    );
    let mut orders =
        madoguchi_connectors::gather_system(&map, "shop", &nobody, &known_as("1"), &env)
            .await
            .unwrap()[0]
            .rows
            .clone();
    orders.sort();
    assert_eq!(
        orders,
        [
            [Some("1".to_owned()), Some("急須".to_owned())],
            [Some("1".to_owned()), Some("緑茶 2袋".to_owned())]
        ]
    );
}

/// A correction is gathered too (the officer sees what is held before changing it), but its
/// answer is not a disclosure package.
async fn a_correction_shows_what_is_held_without_a_package(backend: Backend, tag: &str) {
    let (app, _vars) = with_business(backend, tag).await;
    let mut body = valid_json(SUBJECT);
    body["subject_name"] = "山田 花子".into();
    body["kind"] = serde_json::json!("correction");
    body["current_content"] = serde_json::json!("登録住所が旧住所のまま");
    body["correct_content"] = serde_json::json!("大阪府大阪市北区梅田1-1-1");
    body.as_object_mut().unwrap().remove("delivery");
    let res = app.client.post_json("/api/v1/requests", &body).await;
    assert_eq!(res.status, 201, "{}", res.body);
    let pid = uuid::Uuid::parse_str(res.json()["id"].as_str().unwrap()).unwrap();
    bring_in_progress(&app, pid, SUBJECT).await;
    let g = settled(&app, pid).await;
    assert!(g.complete);
    let customers = g.datasets.iter().find(|d| d.id == "customers").unwrap();
    assert_eq!(customers.rows, [["1", SUBJECT, "山田 花子"]]);
    let officer = staff_client(&app, Role::Officer).await;
    let page = officer.get(&format!("/staff/requests/{pid}")).await;
    assert!(page.body.contains("保有データの収集（コネクタ）"));
    assert!(
        !page.body.contains("/package\""),
        "no package for a correction"
    );
    let res = officer
        .post_form(
            &format!("/staff/requests/{pid}/package"),
            &[("csrf", &page.csrf())],
        )
        .await;
    assert_ne!(res.status, 303);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_correction_shows_what_is_held_without_a_package_on_sqlite() {
    a_correction_shows_what_is_held_without_a_package(Backend::Sqlite, &tag()).await;
}
