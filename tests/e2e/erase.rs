//! Connectors that erase (issue 18), on real PostgreSQL, MariaDB and SQLite: the map's plan
//! carried out in each system in one transaction, exactly the subject's rows changed (every
//! other row compared before and after), retained fields kept, a second try after a crash
//! doing nothing twice, and a system whose data changed since it was gathered left untouched.

use std::collections::BTreeMap;

use madoguchi_connectors::{Done, Erased, Rows, Subject};
use sqlx::Connection;

use crate::connectors::{MAP, SUBJECT, news, shop, support, tag};
use crate::helpers::*;

/// Every row of a table, as text, sorted.
pub(crate) async fn table(url: &str, sql: &str) -> Vec<Vec<Option<String>>> {
    use sqlx::Row;
    macro_rules! read {
        ($c:expr) => {{
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
                .fetch_all(&mut $c)
                .await
                .unwrap();
            rows.iter()
                .map(|r| {
                    (0..r.len())
                        .map(|i| r.try_get::<Option<String>, _>(i).unwrap())
                        .collect::<Vec<_>>()
                })
                .collect::<Vec<_>>()
        }};
    }
    let mut out = if url.starts_with("postgres") {
        let mut c = sqlx::PgConnection::connect(url).await.unwrap();
        read!(c)
    } else if url.starts_with("mysql") {
        let mut c = sqlx::MySqlConnection::connect(url).await.unwrap();
        read!(c)
    } else {
        let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
        read!(c)
    };
    out.sort();
    out
}

/// Erases in one system as an erasure job would (a first try unless `resumed`).
async fn erase_in(
    map: &madoguchi_datamap::DataMap,
    system: &str,
    subject: &Subject,
    found: &BTreeMap<String, Rows>,
    resumed: bool,
    env: madoguchi_connectors::Env<'_>,
) -> Result<Vec<Erased>, madoguchi_connectors::ConnectorError> {
    let act = madoguchi_connectors::Act {
        measure: madoguchi_datamap::plan::Measure::Erase,
        system,
        job_key: "test",
        resumed,
    };
    madoguchi_connectors::erase_system(map, act, subject, found, env).await
}

/// Waits until the latest erasure or suspension (`corrections`: the corrections) is done.
pub(crate) async fn carried_out(app: &TestApp, pid: uuid::Uuid, corrections: bool) {
    let mut progress = Default::default();
    for _ in 0..300 {
        let row = app.request(pid).await;
        progress = if corrections {
            app.service.corrections(&row, false).await.unwrap()
        } else {
            app.service.erasure(&row, false).await.unwrap()
        };
        if progress.complete {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("not carried out: {progress:?}");
}

pub(crate) fn t(v: &[Option<&str>]) -> Vec<Option<String>> {
    v.iter().map(|x| x.map(str::to_owned)).collect()
}

struct Business {
    vars: Vec<(&'static str, String)>,
}

impl Business {
    async fn new() -> Business {
        let tag = tag();
        let dir = std::env::temp_dir().join(format!("madoguchi-erase-{tag}"));
        std::fs::create_dir_all(&dir).unwrap();
        Business {
            vars: vec![
                ("TEST_SHOP_URL", shop(&tag).await),
                ("TEST_SUPPORT_URL", support(&tag).await),
                ("TEST_NEWS_URL", news(&dir).await),
            ],
        }
    }

    fn url(&self, name: &str) -> String {
        self.vars
            .iter()
            .find(|(k, _)| *k == name)
            .unwrap()
            .1
            .clone()
    }

    fn env(&self) -> impl Fn(&str) -> Option<String> + Sync + '_ {
        |name: &str| {
            self.vars
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.clone())
        }
    }

    /// What the connectors gather for the subject, every system.
    async fn gather(&self, map: &madoguchi_datamap::DataMap) -> BTreeMap<String, Rows> {
        let subject = subject();
        let env = self.env();
        let mut found: BTreeMap<String, Rows> = BTreeMap::new();
        for system in ["shop", "support", "news"] {
            for r in madoguchi_connectors::gather_system(map, system, &subject, &found, &env)
                .await
                .unwrap()
            {
                found.insert(r.dataset.clone(), r);
            }
        }
        found
    }
}

fn subject() -> Subject {
    Subject {
        email: Some(SUBJECT.into()),
        ..Subject::default()
    }
}

fn erased(dataset: &str, done: Done, rows: u64) -> Erased {
    Erased {
        dataset: dataset.into(),
        done,
        rows,
        retained: vec![],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erasure_changes_exactly_the_subjects_rows_in_each_system_once() {
    if std::env::var("MADOGUCHI_TEST_POSTGRES").as_deref() == Ok("skip") {
        return;
    }
    let b = Business::new().await;
    let map = madoguchi_datamap::DataMap::load(MAP).unwrap();
    let found = b.gather(&map).await;
    let env = b.env();
    let subject = subject();

    let shop = erase_in(&map, "shop", &subject, &found, false, &env)
        .await
        .unwrap();
    // Orders before the member they were found through.
    assert_eq!(
        shop,
        [
            erased("orders", Done::Deleted, 2),
            erased("customers", Done::Deleted, 1)
        ]
    );
    let support = erase_in(&map, "support", &subject, &found, false, &env)
        .await
        .unwrap();
    assert_eq!(support, [erased("tickets", Done::Cleared, 2)]);
    let news = erase_in(&map, "news", &subject, &found, false, &env)
        .await
        .unwrap();
    assert_eq!(news, [erased("subscribers", Done::Deleted, 1)]);

    // Every table afterwards, written out from the seeds in connectors.rs: the namesake's,
    // the nameless and the ownerless rows untouched; the subject's gone or cleared.
    assert_eq!(
        table(
            &b.url("TEST_SHOP_URL"),
            "SELECT id::text, email, name, fraud_score::text FROM customers"
        )
        .await,
        [
            t(&[
                Some("2"),
                Some("other.hanako@example.jp"),
                Some("山田 花子"),
                Some("3")
            ]),
            t(&[Some("3"), None, Some("名無し"), Some("0")]),
        ]
    );
    assert_eq!(
        table(
            &b.url("TEST_SHOP_URL"),
            "SELECT customer_id::text, items FROM orders"
        )
        .await,
        [
            t(&[None, Some("持ち主なし")]),
            t(&[Some("2"), Some("別人の注文")]),
            t(&[Some("3"), Some("名無しの注文")]),
        ]
    );
    assert_eq!(
        table(
            &b.url("TEST_SUPPORT_URL"),
            "SELECT CAST(id AS CHAR), email, CAST(customer_id AS CHAR), body FROM tickets"
        )
        .await,
        [
            t(&[Some("1"), None, None, None]),
            t(&[Some("2"), None, None, None]),
            t(&[
                Some("3"),
                Some("other.hanako@example.jp"),
                Some("2"),
                Some("別人の問い合わせ")
            ]),
            t(&[Some("4"), None, None, Some("誰のでもない")]),
        ]
    );
    assert_eq!(
        table(
            &b.url("TEST_NEWS_URL"),
            "SELECT email, topics FROM subscribers"
        )
        .await,
        [t(&[Some("other.hanako@example.jp"), Some("別人")])]
    );

    // A second try after a crash (the first committed, then died) finds nothing left and
    // changes nothing; a first try that finds the data gone refuses.
    let again = erase_in(&map, "shop", &subject, &found, true, &env)
        .await
        .unwrap();
    assert_eq!(again, shop);
    let e = erase_in(&map, "shop", &subject, &found, false, &env)
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "dataset orders: the system refused the query (0 rows match now where 2 were gathered; nothing was changed in this system (gather again))"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_system_whose_data_changed_since_it_was_gathered_is_left_untouched() {
    if std::env::var("MADOGUCHI_TEST_POSTGRES").as_deref() == Ok("skip") {
        return;
    }
    let b = Business::new().await;
    let map = madoguchi_datamap::DataMap::load(MAP).unwrap();
    let found = b.gather(&map).await;
    let before = table(
        &b.url("TEST_SHOP_URL"),
        "SELECT id::text, email FROM customers",
    )
    .await;
    // The subject orders again after the gathering.
    {
        let mut c = sqlx::PgConnection::connect(&b.url("TEST_SHOP_URL"))
            .await
            .unwrap();
        sqlx::raw_sql("INSERT INTO orders (customer_id, items) VALUES (1, '新しい注文')")
            .execute(&mut c)
            .await
            .unwrap();
    }
    let env = b.env();
    let e = erase_in(&map, "shop", &subject(), &found, false, &env)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("3 rows match now where 2 were gathered"), "{e}");
    // Nothing of the system changed: not the orders, not the member.
    assert_eq!(
        table(
            &b.url("TEST_SHOP_URL"),
            "SELECT id::text, email FROM customers"
        )
        .await,
        before
    );
    assert_eq!(
        table(
            &b.url("TEST_SHOP_URL"),
            "SELECT items FROM orders WHERE customer_id = 1"
        )
        .await
        .len(),
        3
    );
}

/// An erasure request from intake to the subject's notice: the plan shown before anything
/// changes, ordered by one officer and approved by another (the office requires four eyes;
/// the one who ordered it cannot approve), carried out and checked in each system, and the
/// answer's message filled in from what was done.
async fn an_erasure_request_is_planned_approved_carried_out_and_told(backend: Backend, tag: &str) {
    use madoguchi_domain::Role;
    let (app, vars) = crate::connectors::with_business_vars(
        backend,
        tag,
        MAP,
        &[("MADOGUCHI_ERASURE_APPROVAL", "two")],
    )
    .await;
    let url = |k: &str| vars.iter().find(|(n, _)| *n == k).unwrap().1.clone();
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

    // The dry run: counts per dataset, nothing changed yet.
    let officer = staff_client(&app, Role::Officer).await;
    let page = officer.get(&format!("/staff/requests/{pid}")).await;
    for text in [
        "消去の計画（実行前の確認）",
        "<td>ご注文</td><td>通販サイト</td><td>行を削除</td><td>2</td>",
        "<td>会員情報</td><td>通販サイト</td><td>行を削除</td><td>1</td>",
        "<td>お問い合わせ</td><td>サポート</td><td>項目を消去（3 項目）</td><td>2</td>",
        "<td>メールマガジン購読</td><td>メールマガジン</td><td>行を削除</td><td>1</td>",
    ] {
        assert!(page.body.contains(text), "{text}: {}", page.body);
    }
    let shop_before = table(&url("TEST_SHOP_URL"), "SELECT id::text FROM customers").await;
    assert_eq!(shop_before.len(), 3);

    // Ordered by one officer: recorded, not carried out; the same officer cannot approve.
    let res = officer
        .post_form(
            &format!("/staff/requests/{pid}/erase"),
            &[("csrf", &page.csrf())],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let page = officer.get(&format!("/staff/requests/{pid}")).await;
    assert!(page.body.contains("別の担当者の承認を待っています"));
    let res = officer
        .post_form(
            &format!("/staff/requests/{pid}/erase/approve"),
            &[("csrf", &page.csrf())],
        )
        .await;
    assert_eq!(res.status, 403, "{}", res.body);
    assert_eq!(
        table(&url("TEST_SHOP_URL"), "SELECT id::text FROM customers").await,
        shop_before
    );
    // Another officer approves: the connectors carry it out.
    let second = staff_client(&app, Role::Admin).await;
    let page = second.get(&format!("/staff/requests/{pid}")).await;
    let res = second
        .post_form(
            &format!("/staff/requests/{pid}/erase/approve"),
            &[("csrf", &page.csrf())],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    carried_out(&app, pid, false).await;
    assert_eq!(
        table(&url("TEST_SHOP_URL"), "SELECT email FROM customers").await,
        [t(&[None]), t(&[Some("other.hanako@example.jp")])]
    );
    assert_eq!(
        table(&url("TEST_NEWS_URL"), "SELECT email FROM subscribers").await,
        [t(&[Some("other.hanako@example.jp")])]
    );
    let actions = app.audit_actions(pid).await;
    for a in ["erasure.ordered", "erasure.approved"] {
        assert_eq!(
            actions.iter().filter(|x| *x == a).count(),
            1,
            "{a}: {actions:?}"
        );
    }
    assert_eq!(actions.iter().filter(|x| *x == "data.erased").count(), 3);

    // The answer's message lists what was done, where and when.
    let page = officer.get(&format!("/staff/requests/{pid}")).await;
    let fields = crate::helpers::form_as_is(&page.body, "complete");
    let text = fields
        .iter()
        .find(|(k, _)| k == "text")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let today =
        madoguchi_domain::written_date(madoguchi_domain::jst_date(chrono::Utc::now()), false);
    for line in [
        "ご請求に基づき、次のとおりお客様の個人データを消去しました。".to_owned(),
        format!("ご注文（通販サイト）: 2 件を削除しました（{today}）"),
        format!("会員情報（通販サイト）: 1 件を削除しました（{today}）"),
        format!("お問い合わせ（サポート）: 2 件の記録からお客様の情報を消去しました（{today}）"),
        format!("メールマガジン購読（メールマガジン）: 1 件を削除しました（{today}）"),
    ] {
        assert!(text.contains(&line), "{line}: {text}");
    }
    // The officer sends the answer as it was filled in; the subject's notice lists it.
    let form: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let res = officer
        .post_form(&format!("/staff/requests/{pid}/events"), &form)
        .await;
    assert_eq!(res.status, 303, "{form:?}: {}", res.body);
    assert_eq!(app.request(pid).await.state, "fulfilled");
    let notice = app
        .mails_to(SUBJECT)
        .await
        .into_iter()
        .rev()
        .find(|m| m.text.contains("消去しました"))
        .expect("the notice");
    assert!(
        notice.text.contains(&format!(
            "ご注文（通販サイト）: 2 件を削除しました（{today}）"
        )),
        "{}",
        notice.text
    );
    let trail: String = madoguchi_store::audit::for_request(app.service.db().conn(), pid)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.detail)
        .collect();
    assert!(!trail.contains(SUBJECT) && !trail.contains("急須"));
    app.verify_audit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erasure_request_is_planned_approved_carried_out_and_told_on_sqlite() {
    an_erasure_request_is_planned_approved_carried_out_and_told(Backend::Sqlite, &tag()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erasure_request_is_planned_approved_carried_out_and_told_on_postgres() {
    if std::env::var("MADOGUCHI_TEST_POSTGRES").as_deref() == Ok("skip") {
        return;
    }
    an_erasure_request_is_planned_approved_carried_out_and_told(Backend::Postgres, &tag()).await;
}

/// A correction request: the officer enters the new value of a field; the connector sets it
/// on exactly the subject's rows, in the system, and the answer's message says what was
/// corrected, where and when. The trail names the field, never the value.
async fn a_correction_changes_exactly_the_named_field(backend: Backend, tag: &str) {
    use madoguchi_domain::Role;
    let (app, vars) = crate::connectors::with_business_vars(backend, tag, MAP, &[]).await;
    let url = |k: &str| vars.iter().find(|(n, _)| *n == k).unwrap().1.clone();
    let mut body = valid_json(SUBJECT);
    body["subject_name"] = "山田 花子".into();
    body["kind"] = "correction".into();
    body["current_content"] = "氏名: 山田 花子".into();
    body["correct_content"] = "氏名: 山本 花子（結婚により改姓）".into();
    body.as_object_mut().unwrap().remove("delivery");
    let res = app.client.post_json("/api/v1/requests", &body).await;
    assert_eq!(res.status, 201, "{}", res.body);
    let pid = uuid::Uuid::parse_str(res.json()["id"].as_str().unwrap()).unwrap();
    crate::answers::bring_in_progress(&app, pid, SUBJECT).await;
    assert!(crate::connectors::settled(&app, pid).await.complete);
    let before = table(
        &url("TEST_SHOP_URL"),
        "SELECT id::text, email, name, fraud_score::text FROM customers",
    )
    .await;

    let officer = staff_client(&app, Role::Officer).await;
    let page = officer.get(&format!("/staff/requests/{pid}")).await;
    assert!(page.body.contains("訂正の実施（コネクタ）"));
    assert!(page.body.contains("現在の値: 山田 花子"), "{}", page.body);
    // Nothing entered: refused, saying what to do.
    let res = officer
        .post_form(
            &format!("/staff/requests/{pid}/correct"),
            &[
                ("csrf", &page.csrf()),
                ("dataset", "customers"),
                ("value_name", "  "),
            ],
        )
        .await;
    assert_eq!(res.status, 422);
    assert!(res.body.contains("訂正後の値を1つ以上入力してください"));
    let res = officer
        .post_form(
            &format!("/staff/requests/{pid}/correct"),
            &[
                ("csrf", &page.csrf()),
                ("dataset", "customers"),
                ("value_name", "山本 花子"),
                ("value_email", ""),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    carried_out(&app, pid, true).await;
    // Exactly the subject's name changed; every other value and row as before.
    let expected: Vec<Vec<Option<String>>> = before
        .into_iter()
        .map(|mut r| {
            if r[0].as_deref() == Some("1") {
                r[2] = Some("山本 花子".into());
            }
            r
        })
        .collect();
    assert_eq!(
        table(
            &url("TEST_SHOP_URL"),
            "SELECT id::text, email, name, fraud_score::text FROM customers",
        )
        .await,
        expected
    );
    let today =
        madoguchi_domain::written_date(madoguchi_domain::jst_date(chrono::Utc::now()), false);
    let page = officer.get(&format!("/staff/requests/{pid}")).await;
    let fields = crate::helpers::form_as_is(&page.body, "complete");
    let text = fields
        .iter()
        .find(|(k, _)| k == "text")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    assert!(
        text.contains(&format!(
            "会員情報（通販サイト）: 氏名を訂正しました（{today}）"
        )),
        "{text}"
    );
    let form: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let res = officer
        .post_form(&format!("/staff/requests/{pid}/events"), &form)
        .await;
    assert_eq!(res.status, 303, "{form:?}: {}", res.body);
    assert_eq!(app.request(pid).await.state, "fulfilled");
    let notice = app
        .mails_to(SUBJECT)
        .await
        .into_iter()
        .rev()
        .find(|m| m.text.contains("訂正しました"))
        .expect("the notice");
    assert!(
        notice.text.contains(&format!(
            "会員情報（通販サイト）: 氏名を訂正しました（{today}）"
        )),
        "{}",
        notice.text
    );
    let actions = app.audit_actions(pid).await;
    assert!(actions.contains(&"correction.ordered".to_owned()));
    assert!(actions.contains(&"data.corrected".to_owned()));
    let trail: String = madoguchi_store::audit::for_request(app.service.db().conn(), pid)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.detail)
        .collect();
    assert!(trail.contains("\"name\""), "{trail}");
    assert!(!trail.contains("山本"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_correction_changes_exactly_the_named_field_on_sqlite() {
    a_correction_changes_exactly_the_named_field(Backend::Sqlite, &tag()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_correction_changes_exactly_the_named_field_on_postgres() {
    if std::env::var("MADOGUCHI_TEST_POSTGRES").as_deref() == Ok("skip") {
        return;
    }
    a_correction_changes_exactly_the_named_field(Backend::Postgres, &tag()).await;
}

/// Two identical rows are two rows: a disclosure shows both order lines, and an erasure's
/// count of what it changes agrees with the system's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_rows_are_counted_and_erased_as_rows() {
    if std::env::var("MADOGUCHI_TEST_POSTGRES").as_deref() == Ok("skip") {
        return;
    }
    let b = Business::new().await;
    {
        let mut c = sqlx::PgConnection::connect(&b.url("TEST_SHOP_URL"))
            .await
            .unwrap();
        sqlx::raw_sql("INSERT INTO orders (customer_id, items) VALUES (1, '急須')")
            .execute(&mut c)
            .await
            .unwrap();
    }
    let map = madoguchi_datamap::DataMap::load(MAP).unwrap();
    let found = b.gather(&map).await;
    let mut orders = found["orders"].rows.clone();
    orders.sort();
    assert_eq!(
        orders,
        [
            t(&[Some("1"), Some("急須")]),
            t(&[Some("1"), Some("急須")]),
            t(&[Some("1"), Some("緑茶 2袋")]),
        ]
    );
    let env = b.env();
    let shop = erase_in(&map, "shop", &subject(), &found, false, &env)
        .await
        .unwrap();
    assert_eq!(shop[0], erased("orders", Done::Deleted, 3));
}

/// Where the office requires four eyes, a correction waits for a second officer: the one who
/// ordered it cannot approve it, nothing changes until another does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_correction_waits_for_a_second_officer_where_the_office_requires_one() {
    use madoguchi_domain::Role;
    let (app, vars) = crate::connectors::with_business_vars(
        Backend::Sqlite,
        &tag(),
        MAP,
        &[("MADOGUCHI_ERASURE_APPROVAL", "two")],
    )
    .await;
    let url = |k: &str| vars.iter().find(|(n, _)| *n == k).unwrap().1.clone();
    let mut body = valid_json(SUBJECT);
    body["subject_name"] = "山田 花子".into();
    body["kind"] = "correction".into();
    body["current_content"] = "氏名: 山田 花子".into();
    body["correct_content"] = "氏名: 山本 花子".into();
    body.as_object_mut().unwrap().remove("delivery");
    let res = app.client.post_json("/api/v1/requests", &body).await;
    assert_eq!(res.status, 201, "{}", res.body);
    let pid = uuid::Uuid::parse_str(res.json()["id"].as_str().unwrap()).unwrap();
    crate::answers::bring_in_progress(&app, pid, SUBJECT).await;
    assert!(crate::connectors::settled(&app, pid).await.complete);
    let shop = url("TEST_SHOP_URL");
    let names = || table(&shop, "SELECT name FROM customers WHERE id = 1");

    let officer = staff_client(&app, Role::Officer).await;
    let page = officer.get(&format!("/staff/requests/{pid}")).await;
    let res = officer
        .post_form(
            &format!("/staff/requests/{pid}/correct"),
            &[
                ("csrf", &page.csrf()),
                ("dataset", "customers"),
                ("value_name", "山本 花子"),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let page = officer.get(&format!("/staff/requests/{pid}")).await;
    assert!(
        page.body
            .contains("訂正が指示され、別の担当者の承認を待っています。")
    );
    assert!(page.body.contains("別の担当者の承認待ち"));
    let res = officer
        .post_form(
            &format!("/staff/requests/{pid}/correct/approve"),
            &[("csrf", &page.csrf())],
        )
        .await;
    assert_eq!(res.status, 403, "{}", res.body);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(names().await, [t(&[Some("山田 花子")])]);

    let second = staff_client(&app, Role::Admin).await;
    let page = second.get(&format!("/staff/requests/{pid}")).await;
    let res = second
        .post_form(
            &format!("/staff/requests/{pid}/correct/approve"),
            &[("csrf", &page.csrf())],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    carried_out(&app, pid, true).await;
    assert_eq!(names().await, [t(&[Some("山本 花子")])]);
    let actions = app.audit_actions(pid).await;
    assert!(
        actions.contains(&"correction.approved".to_owned()),
        "{actions:?}"
    );
    // Approving twice is refused (nothing waits any more).
    let res = second
        .post_form(
            &format!("/staff/requests/{pid}/correct/approve"),
            &[("csrf", &page.csrf())],
        )
        .await;
    assert_ne!(res.status, 303);
}
