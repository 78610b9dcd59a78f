//! Monitoring (issue 20): `/metrics` on its own listener, scraped and parsed as Prometheus
//! reads it, with the counts the database holds and the routes' timings, no personal data
//! in any label; the public listener does not serve it.

use std::collections::BTreeMap;

use crate::helpers::*;

/// The samples of an OpenMetrics/Prometheus text exposition: `name{labels}` → value. Every
/// line must be a comment (`# HELP`, `# TYPE`, `# UNIT`, `# EOF`) or one sample.
fn parse(text: &str) -> BTreeMap<String, f64> {
    let mut samples = BTreeMap::new();
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix("# ") {
            let word = comment.split(' ').next().unwrap_or_default();
            assert!(
                matches!(word, "HELP" | "TYPE" | "UNIT" | "EOF"),
                "unexpected comment: {line}"
            );
            continue;
        }
        // The value follows the last space outside the labels' braces.
        let split = match line.rfind('}') {
            Some(close) => close + 1 + line[close + 1..].find(' ').expect("a value"),
            None => line.find(' ').expect("a value"),
        };
        let (name, value) = line.split_at(split);
        let value: f64 = value
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("not a number: {line}"));
        let name = name.trim();
        assert!(
            name.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_'),
            "a metric name: {line}"
        );
        assert!(
            samples.insert(name.to_owned(), value).is_none(),
            "a sample twice: {line}"
        );
    }
    samples
}

async fn scraped(backend: Backend) {
    let vars = [("MADOGUCHI_METRICS_LISTEN", "127.0.0.1:0")];
    let Some(app) = (match backend {
        Backend::Sqlite => Some(TestApp::spawn_with(backend, &vars).await),
        Backend::Postgres => TestApp::spawn_postgres_with(&vars).await,
    }) else {
        return;
    };
    // Three disclosures: one past its due day, one due in two days, one past its due day
    // but paused while the subject is awaited (its clock stands still: not overdue).
    let today = madoguchi_domain::jst_date(chrono::Utc::now());
    let mut numbers = Vec::new();
    for (i, due) in [-3_i64, 2, -3].into_iter().enumerate() {
        let pid = file_via_api(&app, &format!("metrics{i}@example.jp")).await;
        let number = app.request(pid).await.number;
        let due_on = today + chrono::Duration::days(due);
        // Its clock running (a filing's clock waits on the address's confirmation).
        app.sql(&format!(
            "UPDATE requests SET due_on = '{due_on}', paused_since = NULL WHERE number = '{number}'"
        ))
        .await;
        numbers.push((pid, number));
    }
    app.sql(&format!(
        "UPDATE requests SET paused_since = '2026-11-01 00:00:00+00:00' WHERE number = '{}'",
        numbers[2].1
    ))
    .await;
    // A complaint past its reply target.
    let csrf = app.client.get("/complaints").await.csrf();
    let res = app
        .client
        .post_form(
            "/complaints",
            &[
                ("csrf", &csrf),
                ("kind", "complaint"),
                ("name", "計測 太郎"),
                ("email", "metrics-complaint@example.jp"),
                ("body", "確認してください。"),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let past = today - chrono::Duration::days(10);
    app.sql(&format!("UPDATE complaints SET reply_due = '{past}'"))
        .await;
    assert_eq!(
        app.client.get(&format!("/r/{}", numbers[0].0)).await.status,
        200
    );
    // An invented method: timed as "other", never as itself.
    let res = app
        .client
        .send(
            hyper::Method::from_bytes(b"INVENTED").unwrap(),
            "/healthz",
            None,
            Vec::new(),
        )
        .await;
    assert_eq!(res.status, 405);
    app.deliver_mail().await;

    // Mail sent, counted in the database around the scrape (a timer may send one meanwhile).
    let sent = || async {
        use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
        madoguchi_store::entities::outbox::Entity::find()
            .filter(madoguchi_store::entities::outbox::Column::Status.eq("sent"))
            .count(app.service.db().conn())
            .await
            .unwrap() as f64
    };
    let sent_before = sent().await;
    let scraper = Client::new(app.metrics_addr.expect("the metrics listener"));
    let res = scraper.get("/metrics").await;
    let sent_after = sent().await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert!(
        res.header("content-type")
            .starts_with("application/openmetrics-text")
    );
    assert!(res.body.trim_end().ends_with("# EOF"));
    assert!(
        res.body
            .contains("# UNIT madoguchi_http_request_duration_seconds seconds")
    );
    let samples = parse(&res.body);
    let get = |name: &str| {
        samples
            .get(name)
            .copied()
            .unwrap_or_else(|| panic!("{name} missing from:\n{}", res.body))
    };
    assert_eq!(
        get("madoguchi_requests{kind=\"disclosure\",state=\"submitted\"}"),
        3.0
    );
    // Every kind and state is reported, 0 where none.
    assert_eq!(
        get("madoguchi_requests{kind=\"correction\",state=\"in_progress\"}"),
        0.0
    );
    assert_eq!(get("madoguchi_requests_overdue"), 1.0);
    assert_eq!(get("madoguchi_requests_due_soon"), 1.0);
    // At least the three confirmation mails, the complaint's receipt and the office's
    // notice; exactly what the database held at the scrape.
    let reported = get("madoguchi_outbox_messages{status=\"sent\"}");
    assert!(sent_before >= 5.0);
    assert!((sent_before..=sent_after).contains(&reported), "{reported}");
    assert_eq!(get("madoguchi_outbox_messages{status=\"failed\"}"), 0.0);
    assert_eq!(
        get("madoguchi_connector_jobs{purpose=\"gather\",state=\"failed\"}"),
        0.0
    );
    assert_eq!(get("madoguchi_complaints{state=\"open\"}"), 1.0);
    assert_eq!(get("madoguchi_complaints_past_target"), 1.0);
    // The routes' timings by pattern: three filings, the status page once.
    assert_eq!(
        get(
            "madoguchi_http_request_duration_seconds_count{method=\"POST\",route=\"/api/v1/requests\",status=\"2xx\"}"
        ),
        3.0
    );
    assert_eq!(
        get(
            "madoguchi_http_request_duration_seconds_count{method=\"GET\",route=\"/r/{pid}\",status=\"2xx\"}"
        ),
        1.0
    );
    assert_eq!(
        get(
            "madoguchi_http_request_duration_seconds_count{method=\"other\",route=\"/healthz\",status=\"4xx\"}"
        ),
        1.0
    );
    assert!(!res.body.contains("INVENTED"));
    // No personal data, no identifier in any label.
    for (pid, number) in &numbers {
        assert!(!res.body.contains(&pid.to_string()));
        assert!(!res.body.contains(number.as_str()));
    }
    assert!(!res.body.contains("example.jp"));

    // Each listener serves its own: the public one has no /metrics, the metrics one no app.
    assert_eq!(app.client.get("/metrics").await.status, 404);
    assert_eq!(scraper.get("/").await.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_scraped_and_parsed_on_sqlite() {
    scraped(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_scraped_and_parsed_on_postgres() {
    scraped(Backend::Postgres).await;
}
