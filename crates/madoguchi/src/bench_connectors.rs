//! `madoguchi bench --only connectors`: one subject's data gathered across the example shop's
//! database systems (PostgreSQL shop, MariaDB support, SQLite newsletter), each holding
//! `customers` people (1M by default; indexed as the example's seed indexes them), beside the
//! same queries sent directly through the same drivers on connections already open. Then a
//! hundred subjects gathered at once.
//!
//! PostgreSQL from `DATABASE_URL` (or `postgres://postgres@127.0.0.1:5432/test`), MariaDB or
//! MySQL from `MADOGUCHI_BENCH_MYSQL` (or `mysql://root@127.0.0.1:3306/test`). The HTTP system
//! is left out: its time is the remote service's.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::Context;
use madoguchi_connectors::{Rows, Subject};
use madoguchi_datamap::DataMap;
use sqlx::Connection;

use crate::bench::{Row, pct};

const MAP: &str = r#"version = "bench"
safety_measures = { ja = "措置", en = "Measures" }
[[purposes]]
id = "service"
label = { ja = "提供", en = "Service" }
[[categories]]
id = "contact"
label = { ja = "連絡先", en = "Contact" }
[[systems]]
id = "shop"
name = { ja = "通販サイト", en = "Shop" }
owner = "o@example.jp"
country = "JP"
connector = { kind = "postgres", url_env = "BENCH_SHOP_URL" }
[[systems]]
id = "support"
name = { ja = "サポート", en = "Support" }
owner = "o@example.jp"
country = "JP"
connector = { kind = "mysql", url_env = "BENCH_SUPPORT_URL" }
[[systems]]
id = "news"
name = { ja = "メールマガジン", en = "Newsletter" }
owner = "o@example.jp"
country = "JP"
connector = { kind = "sqlite", url_env = "BENCH_NEWS_URL" }
[[datasets]]
id = "customers"
system = "shop"
label = { ja = "会員", en = "Members" }
purposes = ["service"]
retention = { period = { ja = "1年", en = "1 year" }, basis = "規程" }
find_by = [{ match = [{ field = "email", key = "email" }] }]
fields = [
  { name = "id", label = { ja = "番号", en = "Number" }, category = "contact", erase = "delete_row" },
  { name = "email", label = { ja = "メール", en = "E-mail" }, category = "contact", erase = "delete_row" },
  { name = "name", label = { ja = "氏名", en = "Name" }, category = "contact", erase = "delete_row" },
  { name = "address", label = { ja = "住所", en = "Address" }, category = "contact", erase = "delete_row" },
]
[[datasets]]
id = "orders"
system = "shop"
label = { ja = "注文", en = "Orders" }
purposes = ["service"]
retention = { period = { ja = "3年", en = "3 years" }, basis = "規程" }
find_by = [{ match = [{ field = "customer_id", from = "customers.id" }] }]
fields = [
  { name = "id", label = { ja = "注文番号", en = "Order" }, category = "contact", erase = "delete_row" },
  { name = "customer_id", label = { ja = "会員番号", en = "Member" }, category = "contact", erase = "delete_row" },
  { name = "items", label = { ja = "品", en = "Items" }, category = "contact", erase = "delete_row" },
]
[[datasets]]
id = "tickets"
system = "support"
label = { ja = "問い合わせ", en = "Tickets" }
purposes = ["service"]
retention = { period = { ja = "2年", en = "2 years" }, basis = "規程" }
find_by = [
  { match = [{ field = "email", key = "email" }] },
  { match = [{ field = "customer_id", from = "customers.id" }] },
]
fields = [
  { name = "email", label = { ja = "メール", en = "E-mail" }, category = "contact", erase = "clear" },
  { name = "customer_id", label = { ja = "会員番号", en = "Member" }, category = "contact", erase = "clear" },
  { name = "body", label = { ja = "内容", en = "Body" }, category = "contact", erase = "clear" },
]
[[datasets]]
id = "subscribers"
system = "news"
label = { ja = "購読", en = "Subscription" }
purposes = ["service"]
retention = { period = { ja = "解除まで", en = "Until unsubscribed" }, basis = "規程" }
find_by = [{ match = [{ field = "email", key = "email" }] }]
fields = [
  { name = "email", label = { ja = "メール", en = "E-mail" }, category = "contact", erase = "delete_row" },
  { name = "topics", label = { ja = "テーマ", en = "Topics" }, category = "contact", erase = "delete_row" },
]
"#;

/// The three systems, created and filled; their URLs, and what to drop afterwards.
struct Systems {
    vars: BTreeMap<String, String>,
    pg_admin: String,
    pg_name: String,
    my_admin: String,
    my_name: String,
    dir: std::path::PathBuf,
}

async fn seed(customers: u64) -> anyhow::Result<Systems> {
    let pg_admin = std::env::var("DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres"))
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".into());
    let my_admin = std::env::var("MADOGUCHI_BENCH_MYSQL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into());
    let id = uuid::Uuid::new_v4().simple().to_string()[..10].to_owned();
    let pg_name = format!("madoguchi_bench_shop_{id}");
    let my_name = format!("madoguchi_bench_support_{id}");
    let dir = std::env::temp_dir().join(format!("madoguchi-bench-connectors-{id}"));
    std::fs::create_dir_all(&dir)?;
    let started = Instant::now();

    let mut c = sqlx::PgConnection::connect(&pg_admin).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {pg_name}")))
        .execute(&mut c)
        .await?;
    let shop_url = format!("{}/{pg_name}", pg_admin.rsplit_once('/').context("url")?.0);
    let mut c = sqlx::PgConnection::connect(&shop_url).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE TABLE customers (id serial PRIMARY KEY, email text, name text, address text);
         INSERT INTO customers (email, name, address)
           SELECT 'c' || i || '@example.jp', '会員 ' || i, '東京都千代田区' || i
           FROM generate_series(1, {customers}) AS i;
         CREATE INDEX customers_email ON customers (email);
         CREATE TABLE orders (id serial PRIMARY KEY, customer_id int, items text);
         INSERT INTO orders (customer_id, items)
           SELECT (i % {customers}) + 1, '品 ' || i FROM generate_series(1, {}) AS i;
         CREATE INDEX orders_customer ON orders (customer_id);",
        customers * 2
    )))
    .execute(&mut c)
    .await?;
    sqlx::raw_sql("VACUUM ANALYZE").execute(&mut c).await?;

    let mut c = sqlx::MySqlConnection::connect(&my_admin).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE DATABASE {my_name} CHARACTER SET utf8mb4"
    )))
    .execute(&mut c)
    .await?;
    let support_url = format!("{}/{my_name}", my_admin.rsplit_once('/').context("url")?.0);
    let mut c = sqlx::MySqlConnection::connect(&support_url).await?;
    sqlx::raw_sql(
        "CREATE TABLE tickets (id int AUTO_INCREMENT PRIMARY KEY, email varchar(200), customer_id int, body text)",
    )
    .execute(&mut c)
    .await?;
    // Half the tickets found by address, half by member number, in chunks of 100k.
    let mut from = 1;
    while from <= customers {
        let to = (from + 99_999).min(customers);
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "INSERT INTO tickets (email, customer_id, body)
             SELECT IF(seq % 2 = 0, CONCAT('c', seq, '@example.jp'), NULL),
                    IF(seq % 2 = 1, seq, NULL), CONCAT('問い合わせ ', seq)
             FROM seq_{from}_to_{to}"
        )))
        .execute(&mut c)
        .await
        .context("MariaDB's sequence tables (seq_1_to_n) are needed")?;
        from = to + 1;
    }
    sqlx::raw_sql(
        "CREATE INDEX tickets_email ON tickets (email); CREATE INDEX tickets_customer ON tickets (customer_id); ANALYZE TABLE tickets",
    )
    .execute(&mut c)
    .await?;

    let news = dir.join("news.db");
    let mut c =
        sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=rwc", news.display())).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE TABLE subscribers (email TEXT, topics TEXT);
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {customers})
         INSERT INTO subscribers SELECT 'c' || i || '@example.jp', 'テーマ ' || i FROM n;
         CREATE INDEX subscribers_email ON subscribers (email);
         ANALYZE;"
    )))
    .execute(&mut c)
    .await?;
    c.close().await?;
    eprintln!(
        "seeded {customers} customers in each system in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    let vars = [
        ("BENCH_SHOP_URL", shop_url),
        ("BENCH_SUPPORT_URL", support_url),
        ("BENCH_NEWS_URL", format!("sqlite://{}", news.display())),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    Ok(Systems {
        vars,
        pg_admin,
        pg_name,
        my_admin,
        my_name,
        dir,
    })
}

/// A customer number spread over the whole table (no cache of recent ones favoured).
fn pick(customers: u64) -> u64 {
    (uuid::Uuid::new_v4().as_u128() % u128::from(customers)) as u64 + 1
}

/// One subject through the connectors, as the jobs run them: the shop, then support with the
/// shop's rows known, and the newsletter.
async fn through_connectors(
    map: &DataMap,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
    n: u64,
) -> anyhow::Result<usize> {
    let subject = Subject {
        email: Some(format!("c{n}@example.jp")),
        ..Subject::default()
    };
    let shop =
        madoguchi_connectors::gather_system(map, "shop", &subject, &BTreeMap::new(), env).await?;
    let known: BTreeMap<String, Rows> = shop
        .iter()
        .map(|r| (r.dataset.clone(), r.clone()))
        .collect();
    let support =
        madoguchi_connectors::gather_system(map, "support", &subject, &known, env).await?;
    let news =
        madoguchi_connectors::gather_system(map, "news", &subject, &BTreeMap::new(), env).await?;
    Ok(shop
        .iter()
        .chain(&support)
        .chain(&news)
        .map(|r| r.rows.len())
        .sum())
}

/// A row of four text columns.
type Text4 = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// The same subject's lookups as a developer would write them by hand, sent directly on open
/// connections: the floor a connector's generic statements are measured against.
struct Direct {
    pg: sqlx::PgPool,
    my: sqlx::MySqlPool,
    lite: sqlx::SqlitePool,
}

impl Direct {
    async fn one(&self, n: u64) -> anyhow::Result<usize> {
        let email = format!("c{n}@example.jp");
        let customers: Vec<Text4> = sqlx::query_as(
            "SELECT id::text, email, name, address FROM customers WHERE email = $1 LIMIT 10001",
        )
        .bind(&email)
        .fetch_all(&self.pg)
        .await?;
        let ids: Vec<String> = customers.iter().filter_map(|c| c.0.clone()).collect();
        let mut found = customers.len();
        for id in &ids {
            let orders: Vec<(Option<String>, Option<String>, Option<String>)> = sqlx::query_as(
                "SELECT id::text, customer_id::text, items FROM orders WHERE customer_id = $1::integer LIMIT 10001",
            )
            .bind(id)
            .fetch_all(&self.pg)
            .await?;
            found += orders.len();
        }
        let by_email: Vec<(Option<String>, Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT email, CAST(customer_id AS CHAR), body FROM tickets WHERE email = ? LIMIT 10001",
        )
        .bind(&email)
        .fetch_all(&self.my)
        .await?;
        found += by_email.len();
        for id in &ids {
            let by_id: Vec<(Option<String>, Option<String>, Option<String>)> = sqlx::query_as(
                "SELECT email, CAST(customer_id AS CHAR), body FROM tickets WHERE customer_id = ? LIMIT 10001",
            )
            .bind(id)
            .fetch_all(&self.my)
            .await?;
            found += by_id.len();
        }
        let subs: Vec<(Option<String>, Option<String>)> =
            sqlx::query_as("SELECT email, topics FROM subscribers WHERE email = ? LIMIT 10001")
                .bind(&email)
                .fetch_all(&self.lite)
                .await?;
        Ok(found + subs.len())
    }
}

/// Runs the connectors part and returns its rows.
pub async fn run(customers: u64, subjects: usize) -> anyhow::Result<Vec<Row>> {
    let systems = seed(customers).await?;
    let result = measure(&systems, customers, subjects).await;
    // Dropped whatever happened.
    if let Ok(mut c) = sqlx::PgConnection::connect(&systems.pg_admin).await {
        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            systems.pg_name
        )))
        .execute(&mut c)
        .await;
    }
    if let Ok(mut c) = sqlx::MySqlConnection::connect(&systems.my_admin).await {
        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {}",
            systems.my_name
        )))
        .execute(&mut c)
        .await;
    }
    let _ = std::fs::remove_dir_all(&systems.dir);
    result
}

async fn measure(systems: &Systems, customers: u64, subjects: usize) -> anyhow::Result<Vec<Row>> {
    let map = DataMap::load(MAP).map_err(|p| anyhow::anyhow!("bench map: {p:?}"))?;
    let vars = systems.vars.clone();
    let env = move |name: &str| vars.get(name).cloned();
    let direct = Direct {
        pg: sqlx::PgPool::connect(&systems.vars["BENCH_SHOP_URL"]).await?,
        my: sqlx::MySqlPool::connect(&systems.vars["BENCH_SUPPORT_URL"]).await?,
        lite: sqlx::SqlitePool::connect(&systems.vars["BENCH_NEWS_URL"]).await?,
    };
    // Warm both paths (connections, plans, pages) alike.
    for _ in 0..20 {
        let n = pick(customers);
        through_connectors(&map, &env, n).await?;
        direct.one(n).await?;
    }
    // Interleaved, so both see the same machine at the same moments.
    let (mut via, mut straight) = (Vec::new(), Vec::new());
    for _ in 0..subjects {
        let n = pick(customers);
        let t = Instant::now();
        let a = through_connectors(&map, &env, n).await?;
        via.push(t.elapsed().as_secs_f64() * 1000.0);
        let t = Instant::now();
        let b = direct.one(n).await?;
        straight.push(t.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!(a == b, "subject {n}: connectors found {a} rows, direct {b}");
    }
    via.sort_by(f64::total_cmp);
    straight.sort_by(f64::total_cmp);
    let mut rows = vec![Row {
        figure: format!(
            "connectors: one subject across 3 systems, {customers} customers each ({subjects} subjects)"
        ),
        value: format!(
            "p50 {:.2} ms, p99 {:.2} ms",
            pct(&via, 0.5),
            pct(&via, 0.99)
        ),
        floor: format!(
            "same queries direct: p50 {:.2} ms, p99 {:.2} ms → {:.2}× at p50, {:.2}× at p99",
            pct(&straight, 0.5),
            pct(&straight, 0.99),
            pct(&via, 0.5) / pct(&straight, 0.5),
            pct(&via, 0.99) / pct(&straight, 0.99)
        ),
    }];
    // A hundred subjects at once (a hundred requests put to work together).
    let map = std::sync::Arc::new(map);
    let t = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let map = map.clone();
        let vars = systems.vars.clone();
        tasks.push(tokio::spawn(async move {
            let env = move |name: &str| vars.get(name).cloned();
            through_connectors(&map, &env, pick(customers)).await
        }));
    }
    for task in tasks {
        task.await??;
    }
    let all = t.elapsed().as_secs_f64();
    let t = Instant::now();
    for _ in 0..100 {
        direct.one(pick(customers)).await?;
    }
    let one_by_one = t.elapsed().as_secs_f64();
    rows.push(Row {
        figure: "connectors: 100 subjects gathered at once".into(),
        value: format!("{:.2} s ({:.0} subjects/s)", all, 100.0 / all),
        floor: format!("the same 100 direct, one after another: {one_by_one:.2} s"),
    });
    rows.push(erasure(systems, &map, &direct, customers).await?);
    Ok(rows)
}

/// Erasure of one subject across the three systems through the connectors (their count
/// checks, one transaction per system, the check afterwards) beside the same changes sent
/// directly, one transaction per system. Every subject is erased once, so each side gets
/// subjects of its own.
async fn erasure(
    systems: &Systems,
    map: &DataMap,
    direct: &Direct,
    customers: u64,
) -> anyhow::Result<Row> {
    let vars = systems.vars.clone();
    let env = move |name: &str| vars.get(name).cloned();
    let mut used = std::collections::BTreeSet::new();
    let mut fresh = || loop {
        let n = pick(customers);
        if used.insert(n) {
            return n;
        }
    };
    let (mut via, mut straight) = (Vec::new(), Vec::new());
    for _ in 0..100 {
        // Through the connectors: gathered first (not timed), as the service does.
        let n = fresh();
        let subject = Subject {
            email: Some(format!("c{n}@example.jp")),
            ..Subject::default()
        };
        let mut found: BTreeMap<String, Rows> = BTreeMap::new();
        for system in ["shop", "support", "news"] {
            for r in
                madoguchi_connectors::gather_system(map, system, &subject, &found, &env).await?
            {
                found.insert(r.dataset.clone(), r);
            }
        }
        let t = Instant::now();
        for system in ["shop", "support", "news"] {
            let act = madoguchi_connectors::Act {
                measure: madoguchi_datamap::plan::Measure::Erase,
                system,
                job_key: "bench",
                resumed: false,
            };
            madoguchi_connectors::erase_system(map, act, &subject, &found, &env).await?;
        }
        via.push(t.elapsed().as_secs_f64() * 1000.0);
        // Directly: the same changes, one transaction per system.
        let n = fresh();
        let email = format!("c{n}@example.jp");
        let t = Instant::now();
        let mut tx = direct.pg.begin().await?;
        sqlx::query("DELETE FROM orders WHERE customer_id = $1::integer")
            .bind(n.to_string())
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM customers WHERE email = $1")
            .bind(&email)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        let mut tx = direct.my.begin().await?;
        sqlx::query(
            "UPDATE tickets SET email = NULL, customer_id = NULL, body = NULL WHERE email = ? OR customer_id = ?",
        )
        .bind(&email)
        .bind(n.to_string())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        sqlx::query("DELETE FROM subscribers WHERE email = ?")
            .bind(&email)
            .execute(&direct.lite)
            .await?;
        straight.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    via.sort_by(f64::total_cmp);
    straight.sort_by(f64::total_cmp);
    Ok(Row {
        figure: format!(
            "connectors: erasure of one subject across 3 systems, {customers} customers each (100 subjects)"
        ),
        value: format!(
            "p50 {:.2} ms, p99 {:.2} ms",
            pct(&via, 0.5),
            pct(&via, 0.99)
        ),
        floor: format!(
            "same changes direct: p50 {:.2} ms, p99 {:.2} ms → {:.2}× at p50",
            pct(&straight, 0.5),
            pct(&straight, 0.99),
            pct(&via, 0.5) / pct(&straight, 0.5)
        ),
    })
}
