//! HTTP connectors (issue 17) against the example shop's points service
//! (`examples/shop/points_server.py`, a real HTTP server): every way of paging, nested JSON
//! keys, a service that ignores the filter, retries on 429 and 503, refused credentials, and
//! errors that hold neither the token nor the subject's address.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use madoguchi_connectors::{Checked, ConnectorError, Subject};
use madoguchi_datamap::DataMap;

pub(crate) const TOKEN: &str = "points-test-token-7f3a";
const SUBJECT: &str = "hanako@example.jp";

/// The example's points service, on a free port; killed when dropped.
pub struct PointsServer {
    child: Child,
    /// Its base URL.
    pub url: String,
}

impl PointsServer {
    /// Starts the server over the example's records, failing the first `fail` requests with
    /// `status`.
    pub fn start(fail: u32, status: u16) -> PointsServer {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/shop");
        let mut child = Command::new("python3")
            .arg(dir.join("points_server.py"))
            .args(["--port", "0", "--token", TOKEN])
            .arg("--data")
            .arg(dir.join("seed/points.json"))
            .args(["--fail-first", &fail.to_string()])
            .args(["--fail-status", &status.to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs the points server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port: u16 = line
            .trim()
            .strip_prefix("listening on ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("the points server said {line:?}"));
        PointsServer {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Requests to `/v1` it has answered so far.
    pub async fn requests(&self) -> u64 {
        self.get("/_stats")["requests"].as_u64().unwrap()
    }

    /// Every record the service holds now.
    pub fn records(&self) -> Vec<serde_json::Value> {
        serde_json::from_value(self.get("/_records")).unwrap()
    }

    /// A JSON answer of the service, asked for by a process of its own (not the connector).
    fn get(&self, path: &str) -> serde_json::Value {
        let out = Command::new("python3")
            .args([
                "-c",
                "import sys,urllib.request as u;r=u.Request(sys.argv[1]+sys.argv[3],headers={'Authorization':'Bearer '+sys.argv[2]});print(u.urlopen(r).read().decode())",
                &self.url,
                TOKEN,
                path,
            ])
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

impl Drop for PointsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn points_map(extra_connector: &str) -> DataMap {
    let text = format!(
        r#"version = "http-test"
safety_measures = {{ ja = "暗号化しています。", en = "Encrypted." }}

[[purposes]]
id = "points"
label = {{ ja = "ポイント", en = "Points" }}

[[categories]]
id = "points"
label = {{ ja = "ポイント", en = "Points" }}

[[systems]]
id = "points"
name = {{ ja = "ポイント", en = "Points" }}
owner = "points@example.jp"
country = "JP"
connector = {{ kind = "http", url_env = "T_POINTS_URL", token_env = "T_POINTS_TOKEN", timeout_secs = 5, rate_per_sec = 50{extra_connector} }}
{datasets}"#,
        datasets = [
            ("cursor", "/v1/points", "records = \"data\"\npages = { by = \"cursor\", param = \"cursor\", next = \"next_cursor\" }"),
            ("numbered", "/v1/points-by-page", "records = \"items\"\npages = { by = \"number\", param = \"page\" }"),
            ("linked", "/v1/points-linked", "pages = { by = \"link\" }"),
            ("unfiltered", "/v1/points-unfiltered", "records = \"data\""),
        ]
        .iter()
        .map(|(id, path, paging)| format!(
            r#"
[[datasets]]
id = "{id}"
system = "points"
label = {{ ja = "{id}", en = "{id}" }}
location = "{path}"
{paging}
purposes = ["points"]
retention = {{ period = {{ ja = "2年", en = "2 years" }}, basis = "規程" }}
find_by = [{{ match = [{{ field = "email", key = "email" }}] }}]
fields = [
  {{ name = "email", label = {{ ja = "メール", en = "E-mail" }}, category = "points", erase = "delete_row" }},
  {{ name = "granted_on", label = {{ ja = "付与日", en = "Granted on" }}, category = "points", erase = "delete_row" }},
  {{ name = "points", label = {{ ja = "ポイント", en = "Points" }}, category = "points", erase = "delete_row" }},
  {{ name = "reason.label", label = {{ ja = "理由", en = "Why" }}, category = "points", erase = "delete_row" }},
]
"#
        ))
        .collect::<String>()
    );
    DataMap::load(&text).unwrap_or_else(|p| panic!("{p:?}"))
}

fn env_for(url: &str, token: &str) -> impl Fn(&str) -> Option<String> + Sync + use<> {
    let url = url.to_owned();
    let token = token.to_owned();
    move |name: &str| match name {
        "T_POINTS_URL" => Some(url.clone()),
        "T_POINTS_TOKEN" => Some(token.clone()),
        _ => None,
    }
}

fn subject() -> Subject {
    Subject {
        email: Some(SUBJECT.into()),
        ..Subject::default()
    }
}

/// The subject's three records, as the seed file holds them (written out here, not read from
/// the connector).
fn expected() -> Vec<Vec<Option<String>>> {
    let row = |d: &str, p: &str, why: &str| {
        vec![
            Some(SUBJECT.to_owned()),
            Some(d.to_owned()),
            Some(p.to_owned()),
            Some(why.to_owned()),
        ]
    };
    vec![
        row("2026-04-01", "120", "ご購入"),
        row("2026-05-10", "80", "ご購入"),
        row("2026-06-01", "500", "誕生日"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_paging_reads_exactly_the_subjects_records() {
    let server = PointsServer::start(0, 503);
    let map = points_map("");
    let env = env_for(&server.url, TOKEN);
    let found =
        madoguchi_connectors::gather_system(&map, "points", &subject(), &BTreeMap::new(), &env)
            .await
            .unwrap();
    let by_id: BTreeMap<&str, &madoguchi_connectors::Rows> =
        found.iter().map(|r| (r.dataset.as_str(), r)).collect();
    for id in ["cursor", "numbered", "linked"] {
        assert_eq!(by_id[id].rows, expected(), "{id}");
        assert!(by_id[id].searched);
    }
    // The service that ignores the filter hands over everyone's records; only the subject's
    // are kept (not the namesake's, not the record with a blank address).
    assert_eq!(by_id["unfiltered"].rows, expected());
    // Pages: cursor 2 (2 + 1 records), numbered 3 (the third empty), linked 2, unfiltered 1.
    assert_eq!(server.requests().await, 8);

    // A person the service does not know: every dataset searched, nothing found.
    let nobody = Subject {
        email: Some("nobody@example.jp".into()),
        ..Subject::default()
    };
    let found =
        madoguchi_connectors::gather_system(&map, "points", &nobody, &BTreeMap::new(), &env)
            .await
            .unwrap();
    assert!(found.iter().all(|r| r.searched && r.rows.is_empty()));

    // The connection check asks for nobody's records.
    let before = server.requests().await;
    assert_eq!(
        madoguchi_connectors::test_system(&map, "points", &env).await,
        Ok(Checked::Reached)
    );
    assert_eq!(server.requests().await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_and_outages_are_retried_with_backoff() {
    // Two 429s with Retry-After: 1 are waited out.
    let server = PointsServer::start(2, 429);
    let map = points_map("");
    let env = env_for(&server.url, TOKEN);
    let started = std::time::Instant::now();
    let found =
        madoguchi_connectors::gather_system(&map, "points", &subject(), &BTreeMap::new(), &env)
            .await
            .unwrap();
    assert!(started.elapsed() >= std::time::Duration::from_secs(2));
    assert_eq!(found[0].rows, expected());
    assert_eq!(server.requests().await, 10);
    drop(server);

    // A service down for longer than four tries fails the dataset, saying why, with neither
    // the token nor the subject's address in the words.
    let server = PointsServer::start(100, 503);
    let env = env_for(&server.url, TOKEN);
    let e = madoguchi_connectors::gather_system(&map, "points", &subject(), &BTreeMap::new(), &env)
        .await
        .unwrap_err();
    assert_eq!(
        e,
        ConnectorError::Unreachable {
            system: "points".into(),
            reason: "HTTP 503 after 4 tries".into()
        }
    );
    assert_eq!(server.requests().await, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_credentials_and_missing_services_are_clear_and_leak_nothing() {
    let server = PointsServer::start(0, 503);
    let map = points_map("");
    let env = env_for(&server.url, "wrong-token-9c2e");
    let e = madoguchi_connectors::gather_system(&map, "points", &subject(), &BTreeMap::new(), &env)
        .await
        .unwrap_err();
    let said = e.to_string();
    assert_eq!(
        said,
        "system points: could not connect (HTTP 401: the service refused the credentials)"
    );
    assert_eq!(
        madoguchi_connectors::test_system(&map, "points", &env)
            .await
            .unwrap_err()
            .to_string(),
        said
    );
    drop(server);

    // Nothing listens: the connection is retried, then reported without the URL's query.
    let env = env_for("http://127.0.0.1:9", TOKEN);
    let e = madoguchi_connectors::gather_system(&map, "points", &subject(), &BTreeMap::new(), &env)
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "system points: could not connect (connection refused or unreachable after 4 tries)"
    );
    assert!(!e.contains(SUBJECT) && !e.contains("hanako"));

    // Plain HTTP to another machine would carry the token and the address in clear.
    let env = env_for("http://points.example.jp", TOKEN);
    assert_eq!(
        madoguchi_connectors::gather_system(&map, "points", &subject(), &BTreeMap::new(), &env)
            .await
            .unwrap_err()
            .to_string(),
        "system points: could not connect (the base URL must use https (plain http only to this machine))"
    );

    // A header variable that is not set is named.
    let keyed = points_map(", headers_env = { \"X-Api-Key\" = \"T_POINTS_KEY\" }");
    let env = env_for("http://127.0.0.1:9", TOKEN);
    assert_eq!(
        madoguchi_connectors::gather_system(&keyed, "points", &subject(), &BTreeMap::new(), &env)
            .await
            .unwrap_err(),
        ConnectorError::MissingCredentials {
            system: "points".into(),
            variable: "T_POINTS_KEY".into()
        }
    );
}
