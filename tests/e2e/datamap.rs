//! The data map (issue 16): installed at start or in the console (every problem by line,
//! nothing changed), each version audited; the Art. 32(1) notice built from it; a purpose
//! notification and a disclosure answered from it; the third-party provision register
//! imported all or nothing and answering an Art. 33(5) request end to end.

use madoguchi_domain::Role;

use crate::answers::{in_progress, unqp};
use crate::helpers::*;
use crate::on_both;

/// The documented example map, by absolute path.
fn example_path() -> String {
    format!("{}/../datamap/example.toml", env!("CARGO_MANIFEST_DIR"))
}

/// `MADOGUCHI_DATAMAP` naming the example.
fn example_var() -> (&'static str, &'static str) {
    (
        "MADOGUCHI_DATAMAP",
        Box::leak(example_path().into_boxed_str()),
    )
}

pub(crate) fn example() -> String {
    std::fs::read_to_string(example_path()).unwrap()
}

/// SHA-256 of a file as `sha256sum` prints it (independent of the code under test).
fn sha256sum(path: &str) -> String {
    let out = std::process::Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum runs");
    String::from_utf8(out.stdout).unwrap()[..64].to_owned()
}

/// The actions recorded on a named chain, oldest first, with their detail.
async fn chain(app: &TestApp, name: &str) -> Vec<(String, String, Option<String>)> {
    use madoguchi_store::sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    madoguchi_store::entities::audit_entry::Entity::find()
        .filter(madoguchi_store::entities::audit_entry::Column::Chain.eq(name))
        .order_by_asc(madoguchi_store::entities::audit_entry::Column::Seq)
        .all(app.service.db().conn())
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.action, e.detail, e.actor_id))
        .collect()
}

on_both!(
    the_map_file_installs_at_start_and_the_notice_publishes_it,
    vars = [example_var()],
    |app: TestApp| async move {
        let page = app.client.get("/procedures").await;
        assert_eq!(page.status, 200);
        for words in [
            // Purposes (Art. 32(1)(ii)).
            "ご注文の商品を発送するため",
            "法令に基づく帳簿の保存のため",
            // Categories, the special-care one marked.
            "健康に関する情報（要配慮個人情報）",
            "購入履歴",
            // Safety-management measures (政令10条1号).
            "（技術的安全管理措置）アクセス権限を限定し",
            // Countries, named.
            "<li>日本</li>",
            "<li>米国</li>",
            // The processor abroad, with what Art. 28 asks.
            "CloudCRM Inc.（顧客管理の委託先）",
            "米国（カリフォルニア州消費者プライバシー法等）",
            // Joint use (Art. 27(5)(iii)).
            "株式会社アスター及びその子会社",
            "株式会社アスター 東京都千代田区丸の内1-1-1 代表取締役 山田太郎",
        ] {
            assert!(page.body.contains(words), "{words}");
        }
        let en = app.client.get("/procedures?lang=en").await;
        for words in [
            "To ship orders",
            "Health information (special care-required personal information)",
            "<li>United States</li>",
            "Aster Inc. and its subsidiaries",
        ] {
            assert!(en.body.contains(words), "{words}");
        }
        assert!(!en.body.contains("ご注文の商品"));

        let json = app.client.get("/procedures.json").await;
        assert_eq!(json.status, 200);
        let v = json.json();
        assert_eq!(v["notice"]["purposes"].as_array().unwrap().len(), 5);
        assert_eq!(v["notice"]["hash"], sha256sum(&example_path()).as_str());
        assert_eq!(v["notice"]["countries"], serde_json::json!(["JP", "US"]));
        assert_eq!(v["fees"][0]["yen"], 3000);

        // The start installed it as the system, on the map's trail.
        let trail = chain(&app, "datamap").await;
        assert_eq!(trail.len(), 1);
        assert_eq!(trail[0].0, "datamap.changed");
        assert!(trail[0].1.contains(&sha256sum(&example_path())));
        assert_eq!(trail[0].2, None);

        // The schema is served for the business's own tooling.
        let schema = app.client.get("/api/datamap.schema.json").await;
        assert_eq!(schema.status, 200);
        assert!(
            schema
                .header("content-type")
                .starts_with("application/json")
        );
        assert!(schema.json()["properties"]["datasets"].is_object());
    }
);

on_both!(
    the_console_refuses_a_map_with_problems_by_line_and_audits_each_version,
    |app: TestApp| async move {
        let admin = staff_client(&app, Role::Admin).await;
        let page = admin.get("/staff/admin/datamap").await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("データマップはまだありません"));
        // Without a map the notice says nothing it cannot back.
        let notice = app.client.get("/procedures.json").await;
        assert_eq!(notice.json()["notice"], serde_json::Value::Null);

        // A dataset nobody can be found in, and a password where a variable's name belongs.
        let broken = example()
            .replace(
                "find_by = [{ match = [{ field = \"customer_id\", from = \"customers.id\" }] }]\nrecipients = [\"yamato\"]",
                "recipients = [\"yamato\"]",
            )
            .replace("url_env = \"LEDGER_DATABASE_URL\"", "url_env = \"mysql://root:pw@db/ledger\"");
        let line_of = |needle: &str| broken.lines().position(|l| l.contains(needle)).unwrap() + 1;
        let res = admin
            .post_form(
                "/staff/admin/datamap",
                &[("csrf", &page.csrf()), ("source", &broken)],
            )
            .await;
        assert_eq!(res.status, 422, "{}", res.body);
        let orders = line_of("id = \"orders\"");
        let ledger = line_of("mysql://root:pw@db/ledger");
        assert!(
            res.body.contains(&format!(
                "行 {orders}: データセット「orders」はどの本人確認キーからもたどれません"
            )),
            "{}",
            res.body
        );
        assert!(res.body.contains(&format!(
            "行 {ledger}: url_env には環境変数の名前を書いてください"
        )));
        // What was submitted comes back to be fixed; nothing was installed or audited.
        assert!(res.body.contains("mysql://root:pw@db/ledger"));
        assert!(chain(&app, "datamap").await.is_empty());

        // The example goes in; the officer cannot replace it, the auditor can read it.
        let page = admin.get("/staff/admin/datamap").await;
        let res = admin
            .post_form(
                "/staff/admin/datamap",
                &[("csrf", &page.csrf()), ("source", &example())],
            )
            .await;
        assert_eq!(res.status, 200, "{}", res.body);
        assert!(res.body.contains("データマップを検査し、差し替えました。"));
        assert!(res.body.contains("会員情報"));
        let trail = chain(&app, "datamap").await;
        assert_eq!(trail.len(), 1);
        assert!(trail[0].2.is_some(), "the administrator is named");
        assert!(trail[0].1.contains(&sha256sum(&example_path())));
        let notice = app.client.get("/procedures").await;
        assert!(notice.body.contains("ご注文の商品を発送するため"));

        // The same file again changes nothing; an edited one is a second version.
        let page = admin.get("/staff/admin/datamap").await;
        let res = admin
            .post_form(
                "/staff/admin/datamap",
                &[("csrf", &page.csrf()), ("source", &example())],
            )
            .await;
        assert!(
            res.body
                .contains("現在の版と同じ内容のため、変更はありません。")
        );
        assert_eq!(chain(&app, "datamap").await.len(), 1);
        let edited = example().replace("version = \"2026-12\"", "version = \"2027-01\"");
        let res = admin
            .post_form(
                "/staff/admin/datamap",
                &[("csrf", &page.csrf()), ("source", &edited)],
            )
            .await;
        assert_eq!(res.status, 200);
        assert!(res.body.contains("2027-01"));
        assert_eq!(chain(&app, "datamap").await.len(), 2);
        assert_eq!(
            app.client.get("/procedures.json").await.json()["notice"]["version"],
            "2027-01"
        );

        let officer = staff_client(&app, Role::Officer).await;
        let page = officer.get("/staff/admin/datamap").await;
        assert_eq!(page.status, 403);
        let auditor = staff_client(&app, Role::Auditor).await;
        let page = auditor.get("/staff/admin/datamap").await;
        assert_eq!(page.status, 200);
        assert!(!page.body.contains("検査して差し替える"));
        let res = auditor
            .post_form(
                "/staff/admin/datamap",
                &[("csrf", &page.csrf()), ("source", &example())],
            )
            .await;
        assert_eq!(res.status, 403);
    }
);

#[tokio::test]
async fn a_map_with_problems_stops_the_start() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let bad = app.dir.join("bad-map.toml");
    std::fs::write(
        &bad,
        example().replace(
            "country = \"US\"\nprocessor",
            "country = \"USA\"\nprocessor",
        ),
    )
    .unwrap();
    let mut config = app_config(&app);
    config.datamap = Some(bad.clone());
    config.listen = "127.0.0.1:0".parse().unwrap();
    let line = example()
        .lines()
        .position(|l| l.contains("country = \"US\""))
        .unwrap()
        + 1;
    let err = match madoguchi::Application::build(config).await {
        Ok(_) => panic!("a map with problems must stop the start"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains(&format!(
            "{}:{line}: country \"USA\" is not an ISO 3166-1 alpha-2 code",
            bad.display()
        )),
        "{err}"
    );
}

on_both!(
    a_purpose_notification_and_a_disclosure_are_answered_from_the_map,
    vars = [example_var()],
    |app: TestApp| async move {
        let email = "purpose@example.jp";
        let pid = in_progress(&app, email, "purpose_notification", "ja").await;
        let c = staff_client(&app, Role::Officer).await;
        let page = c.get(&format!("/staff/requests/{pid}")).await;
        assert!(
            page.body
                .contains("本人へのご連絡欄を、データマップの利用目的から記入しています。")
        );
        assert!(page.body.contains(
            "当社は、お客様の個人情報を次の目的で利用しています。\n・本サービスの提供のため\n・ご注文の商品を発送するため"
        ), "{}", page.body);
        let text = "当社は、お客様の個人情報を次の目的で利用しています。\n・本サービスの提供のため\n・ご注文の商品を発送するため\n・お問い合わせに回答するため\n・新商品やキャンペーンのご案内のため\n・法令に基づく帳簿の保存のため";
        let v = app.request(pid).await.version.to_string();
        let res = c
            .post_form(
                &format!("/staff/requests/{pid}/events"),
                &[
                    ("csrf", &page.csrf()),
                    ("version", &v),
                    ("event", "complete"),
                    ("outcome", "fulfilled"),
                    ("text", text),
                ],
            )
            .await;
        assert_eq!(res.status, 303, "{}", res.body);
        app.deliver_mail().await;
        let mail = app.mails_to(email).await.pop().unwrap();
        assert!(
            unqp(&mail.text).contains("・お問い合わせに回答するため"),
            "{}",
            mail.text
        );
        // The answer records the map it was given under.
        assert_eq!(
            app.request(pid).await.datamap_hash.as_deref(),
            Some(sha256sum(&example_path()).as_str())
        );

        // A disclosure's form offers the map's datasets, the withheld field's dataset
        // partially disclosed on its Art. 33(2) ground, with a spare row.
        let pid = in_progress(&app, "disclose@example.jp", "disclosure", "ja").await;
        let page = c.get(&format!("/staff/requests/{pid}")).await;
        let b = &page.body;
        assert!(b.contains("データマップのデータセットから記入しています。"));
        assert!(
            b.contains("id=\"item-label-1\" maxlength=\"100\" value=\"会員情報\""),
            "{b}"
        );
        assert!(b.contains("value=\"請求書・領収書の控え\""));
        assert!(b.contains("name=\"item_label_5\""));
        assert!(!b.contains("name=\"item_label_6\""));
        assert!(b.contains("value=\"partially_disclosed\" selected"));
        assert!(b.contains("name=\"item_grounds_1\" value=\"serious_business_interference\" id=\"ig-1-serious_business_interference\" checked"));
        assert!(!b.contains("name=\"item_grounds_2\" value=\"serious_business_interference\" id=\"ig-2-serious_business_interference\" checked"));
    }
);

const CSV_HEADER: &str = "direction,occurred_on,counterparty,counterparty_address,counterparty_representative,subject_name,subject_email,subject_phone,items,basis,acquisition,retention_years";

on_both!(
    a_third_party_record_request_is_answered_from_the_register,
    |app: TestApp| async move {
        let email = "records@example.jp";
        let officer = staff_client(&app, Role::Officer).await;
        let page = officer.get("/staff/register").await;
        assert_eq!(page.status, 200);
        // One bad line refuses the whole import, each problem by line.
        let bad = format!(
            "{CSV_HEADER}\n\
             provided,2026-10-01,ヤマト運輸株式会社,,,山田 太郎,{email},,氏名、住所,consent,,3\n\
             received,2026-10-02,データ株式会社,,,山田 太郎,{email},,購入履歴,as_provider_states,,3\n\
             sent,2026-13-01,x,,,y,z@example.jp,,a,consent,,3\n"
        );
        let res = officer
            .post_form(
                "/staff/register",
                &[("csrf", &page.csrf()), ("format", "csv"), ("records", &bad)],
            )
            .await;
        assert_eq!(res.status, 422, "{}", res.body);
        assert!(
            res.body
                .contains("行 3: acquisition: 受領の記録には提供元の取得の経緯が必要です"),
            "{}",
            res.body
        );
        assert!(
            res.body
                .contains("行 3: counterparty_address: 受領の記録には提供元の住所が必要です"),
            "{}",
            res.body
        );
        assert!(
            res.body
                .contains("行 4: direction: provided か received を入力してください")
        );
        assert!(
            res.body
                .contains("行 4: occurred_on: 日付を YYYY-MM-DD で入力してください")
        );
        assert!(res.body.contains("記録はありません。"));

        // Fixed: two records about the subject, one about someone else.
        let good = format!(
            "{CSV_HEADER}\n\
             provided,2026-10-01,ヤマト運輸株式会社,,,山田 太郎,{email},,氏名、住所,consent,,3\n\
             received,2026-10-02,データ株式会社,東京都港区1-1,代表取締役 佐藤,山田 太郎,{email},,購入履歴,as_provider_states,\"展示会で名刺交換により取得\",3\n\
             provided,2026-10-03,別の会社,,,他人 次郎,other@example.jp,,氏名,consent,,1\n"
        );
        let res = officer
            .post_form(
                "/staff/register",
                &[
                    ("csrf", &page.csrf()),
                    ("format", "csv"),
                    ("records", &good),
                ],
            )
            .await;
        assert_eq!(res.status, 200, "{}", res.body);
        assert!(res.body.contains("記録 (3)"), "{}", res.body);
        // And one more by the API, found by the subject's phone number only.
        let token = staff_token(&app, Role::Officer).await;
        let res = app
            .client
            .with_bearer(
                hyper::Method::POST,
                "/api/v1/staff/register",
                &token,
                Some(serde_json::json!([{
                    "direction": "provided",
                    "occurred_on": "2026-10-04",
                    "counterparty": "電話会社",
                    "subject_name": "山田 太郎",
                    "subject_phone": "03-1234-5678",
                    "items": "電話番号",
                    "basis": "opt_out"
                }])),
            )
            .await;
        assert_eq!(res.status, 201, "{}", res.body);
        assert_eq!(res.json()["imported"], 1);
        let register = chain(&app, "register").await;
        let actions: Vec<&str> = register.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(
            actions,
            // The page, the refused import's page, the import and its page, the API's import.
            [
                "register.viewed",
                "register.viewed",
                "register.imported",
                "register.viewed",
                "register.imported"
            ]
        );
        // The register's rows hold no readable personal data.
        let stored: Vec<String> = {
            use madoguchi_store::sea_orm::EntityTrait;
            madoguchi_store::entities::provision_record::Entity::find()
                .all(app.service.db().conn())
                .await
                .unwrap()
                .into_iter()
                .map(|r| r.record)
                .collect()
        };
        assert_eq!(stored.len(), 4);
        assert!(
            stored
                .iter()
                .all(|r| !r.contains("山田") && !r.contains(email))
        );

        // The subject asks for the records (Art. 33(5)), with their phone number.
        let mut body = valid_json(email);
        body["kind"] = "third_party_record_disclosure".into();
        body["phone"] = "03-1234-5678".into();
        let res = app.client.post_json("/api/v1/requests", &body).await;
        assert_eq!(res.status, 201, "{}", res.body);
        let pid = uuid::Uuid::parse_str(res.json()["id"].as_str().unwrap()).unwrap();
        crate::answers::bring_in_progress(&app, pid, email).await;
        let page = officer.get(&format!("/staff/requests/{pid}")).await;
        let b = &page.body;
        assert!(
            b.contains(
                "本人のメールアドレス・電話番号に一致する第三者提供記録 3 件から記入しています。"
            ),
            "{b}"
        );
        assert!(
            b.contains("value=\"2026年10月1日 提供 ヤマト運輸株式会社: 氏名、住所\""),
            "{b}"
        );
        assert!(b.contains("value=\"2026年10月2日 受領 データ株式会社: 購入履歴\""));
        assert!(b.contains("value=\"2026年10月4日 提供 電話会社: 電話番号\""));
        assert!(!b.contains("別の会社"));
        // The officer sends it as suggested.
        let v = app.request(pid).await.version.to_string();
        let res = officer
            .post_form(
                &format!("/staff/requests/{pid}/events"),
                &[
                    ("csrf", &page.csrf()),
                    ("version", &v),
                    ("event", "complete"),
                    ("outcome", "fulfilled"),
                    (
                        "item_label_1",
                        "2026年10月1日 提供 ヤマト運輸株式会社: 氏名、住所",
                    ),
                    ("item_result_1", "disclosed"),
                    (
                        "item_label_2",
                        "2026年10月2日 受領 データ株式会社: 購入履歴",
                    ),
                    ("item_result_2", "disclosed"),
                    ("item_label_3", "2026年10月4日 提供 電話会社: 電話番号"),
                    ("item_result_3", "disclosed"),
                    ("text", "第三者提供記録を開示します"),
                ],
            )
            .await;
        assert_eq!(res.status, 303, "{}", res.body);
        app.deliver_mail().await;
        // The answer's mail (the payment's may reach the server after it).
        let mail = app
            .mails_to(email)
            .await
            .into_iter()
            .map(|m| unqp(&m.text))
            .find(|t| t.contains("回答の内容"))
            .expect("the answer's mail");
        assert!(
            mail.contains("2026年10月1日 提供 ヤマト運輸株式会社: 氏名、住所"),
            "{mail}"
        );
        assert!(
            mail.contains("2026年10月4日 提供 電話会社: 電話番号"),
            "{mail}"
        );
        assert!(!mail.contains("別の会社"));

        // API refusals: not JSON or CSV, a bad record by its number, an auditor.
        let res = app
            .client
            .with_bearer(
                hyper::Method::POST,
                "/api/v1/staff/register",
                &token,
                Some(serde_json::json!([{"direction": "provided"}])),
            )
            .await;
        assert_eq!(res.status, 422, "{}", res.body);
        assert!(res.body.contains("line 1"), "{}", res.body);
        let auditor = staff_token(&app, Role::Auditor).await;
        let res = app
            .client
            .with_bearer(
                hyper::Method::POST,
                "/api/v1/staff/register",
                &auditor,
                Some(serde_json::json!([])),
            )
            .await;
        assert_eq!(res.status, 403);
    }
);

on_both!(
    records_past_their_period_are_purged_with_an_entry,
    |app: TestApp| async move {
        let officer = staff_client(&app, Role::Officer).await;
        let page = officer.get("/staff/register").await;
        // Periods count from the day a record is made (規則21条・25条): a one-year record made
        // today is purged after a year, a three-year one is kept.
        let csv = format!(
            "{CSV_HEADER}\n\
             provided,2024-05-01,古い会社,,,山田 太郎,old@example.jp,,氏名,consent,,1\n\
             provided,2024-05-01,新しい会社,,,山田 太郎,old@example.jp,,氏名,consent,,3\n"
        );
        let res = officer
            .post_form(
                "/staff/register",
                &[("csrf", &page.csrf()), ("format", "csv"), ("records", &csv)],
            )
            .await;
        assert_eq!(res.status, 200, "{}", res.body);
        // A key rotation re-seals the register; it still reads.
        let mut ring = madoguchi::load_keys(&app_config(&app)).unwrap();
        ring.rotate("k2");
        app.service.set_keys(ring);
        app.service.reseal_personal_data().await.unwrap();
        let records: Vec<String> = {
            use madoguchi_store::sea_orm::EntityTrait;
            madoguchi_store::entities::provision_record::Entity::find()
                .all(app.service.db().conn())
                .await
                .unwrap()
                .into_iter()
                .map(|r| r.record)
                .collect()
        };
        assert!(
            records.iter().all(|r| r.starts_with("sealed:v1:k2:")),
            "{records:?}"
        );
        assert!(
            officer
                .get("/staff/register")
                .await
                .body
                .contains("新しい会社")
        );
        // Nothing is due today; in 400 days the one-year record is.
        let now = chrono::Utc::now();
        assert_eq!(app.service.purge_register(now).await.unwrap(), 0);
        let later = now + chrono::Duration::days(400);
        assert_eq!(app.service.purge_register(later).await.unwrap(), 1);
        assert_eq!(app.service.purge_register(later).await.unwrap(), 0);
        let page = officer.get("/staff/register").await;
        assert!(page.body.contains("新しい会社"));
        assert!(!page.body.contains("古い会社"));
        let register = chain(&app, "register").await;
        let purged: Vec<_> = register
            .iter()
            .filter(|e| e.0 == "register.purged")
            .collect();
        assert_eq!(purged.len(), 1);
        assert!(purged[0].1.contains("\"records\":\"1\""), "{}", purged[0].1);
    }
);
