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
        samples.insert(name.to_owned(), value);
    }
    samples
}

async fn scraped(backend: Backend) {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let vars = [("MADOGUCHI_METRICS_LISTEN", listen.as_str())];
    let Some(app) = (match backend {
        Backend::Sqlite => Some(TestApp::spawn_with(backend, &vars).await),
        Backend::Postgres => TestApp::spawn_postgres_with(&vars).await,
    }) else {
        return;
    };
    let pid = file_via_api(&app, "metrics@example.jp").await;
    assert_eq!(app.client.get(&format!("/r/{pid}")).await.status, 200);
    app.deliver_mail().await;

    let scraper = Client::new(listen.parse().unwrap());
    let res = scraper.get("/metrics").await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert!(
        res.header("content-type")
            .starts_with("application/openmetrics-text")
    );
    assert!(res.body.trim_end().ends_with("# EOF"));
    let samples = parse(&res.body);
    let get = |name: &str| {
        samples
            .get(name)
            .copied()
            .unwrap_or_else(|| panic!("{name} missing from:\n{}", res.body))
    };
    // One disclosure filed and not yet confirmed; its confirmation mail sent.
    assert_eq!(
        get("madoguchi_requests{kind=\"disclosure\",state=\"submitted\"}"),
        1.0
    );
    assert_eq!(get("madoguchi_requests_overdue"), 0.0);
    assert_eq!(get("madoguchi_outbox_messages{status=\"sent\"}"), 1.0);
    assert_eq!(get("madoguchi_complaints_past_target"), 0.0);
    // The routes' timings by pattern: the filing once, the status page once.
    assert_eq!(
        get(
            "madoguchi_http_request_duration_seconds_count{method=\"POST\",route=\"/api/v1/requests\",status=\"2xx\"}"
        ),
        1.0
    );
    assert!(
        get(
            "madoguchi_http_request_duration_seconds_count{method=\"GET\",route=\"/r/{pid}\",status=\"2xx\"}"
        ) >= 1.0
    );
    // No personal data, no identifier in any label.
    assert!(!res.body.contains("metrics@example.jp"));
    assert!(!res.body.contains(&pid.to_string()));

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
