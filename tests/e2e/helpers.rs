//! The test harness: `TestApp` starts the application exactly as `madoguchi serve` does.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request};
use madoguchi::Application;
use madoguchi_config::Config;
use madoguchi_service::Service;
use madoguchi_store::entities::request;
use madoguchi_worker::MailWorker;
use sea_orm::{ConnectionTrait, Database, EntityTrait, PaginatorTrait, Statement};
use tokio::sync::watch;

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs a scenario as two tests, one per backend.
#[macro_export]
macro_rules! on_both {
    ($name:ident, $body:expr) => {
        $crate::on_both!($name, vars = [], $body);
    };
    // With configuration variables on top of the test defaults, e.g.
    // `vars = [("MADOGUCHI_INTAKE_PER_IP_PER_HOUR", "2")]`.
    ($name:ident, vars = [$($var:expr),* $(,)?], $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = $crate::helpers::TestApp::spawn_with(
                    $crate::helpers::Backend::Sqlite,
                    &[$($var),*],
                )
                .await;
                ($body)(app).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(app) = $crate::helpers::TestApp::spawn_postgres_with(&[$($var),*]).await
                else {
                    return;
                };
                ($body)(app).await;
            }
        }
    };
}

pub struct TestApp {
    pub backend: Backend,
    pub service: Service,
    pub worker: MailWorker,
    pub mail_dir: PathBuf,
    pub client: Client,
    pub stripe: crate::fake_stripe::FakeStripe,
    pub database_url: String,
    /// Where the HTTP server listens.
    pub addr: SocketAddr,
    /// Where `/metrics` is served, when `MADOGUCHI_METRICS_LISTEN` was set.
    pub metrics_addr: Option<SocketAddr>,
    stop: watch::Sender<bool>,
    pub dir: PathBuf,
    pg: Option<(String, String)>,
}

fn postgres_admin_url() -> Option<String> {
    match std::env::var("MADOGUCHI_TEST_POSTGRES") {
        Ok(v) if v == "skip" => None,
        Ok(v) => Some(v),
        Err(_) => Some("postgres://postgres@127.0.0.1:5432/test".to_owned()),
    }
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        TestApp::spawn_with(backend, &[]).await
    }

    /// Like `spawn`, with configuration variables set on top of the test defaults.
    pub async fn spawn_with(backend: Backend, extra: &[(&str, &str)]) -> TestApp {
        match backend {
            Backend::Sqlite => TestApp::start(Backend::Sqlite, None, extra).await,
            Backend::Postgres => TestApp::spawn_postgres_with(extra)
                .await
                .expect("PostgreSQL tests are skipped"),
        }
    }

    /// A fresh PostgreSQL database for this test; `None` only when explicitly skipped.
    pub async fn spawn_postgres() -> Option<TestApp> {
        TestApp::spawn_postgres_with(&[]).await
    }

    /// Like `spawn_postgres`, with configuration variables on top of the test defaults.
    pub async fn spawn_postgres_with(extra: &[(&str, &str)]) -> Option<TestApp> {
        let admin = postgres_admin_url()?;
        let name = format!("madoguchi_test_{}", uuid::Uuid::new_v4().simple());
        let conn = Database::connect(&admin)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {admin} is unreachable ({e}); set MADOGUCHI_TEST_POSTGRES=skip to run without it"));
        conn.execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create database");
        conn.close().await.ok();
        let base = admin
            .rsplit_once('/')
            .map_or(admin.as_str(), |(b, _)| b)
            .to_owned();
        let url = format!("{base}/{name}");
        Some(TestApp::start(Backend::Postgres, Some((admin, name, url)), extra).await)
    }

    async fn start(
        backend: Backend,
        pg: Option<(String, String, String)>,
        extra: &[(&str, &str)],
    ) -> TestApp {
        let dir =
            std::env::temp_dir().join(format!("madoguchi-test-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut vars = BTreeMap::new();
        vars.insert("MADOGUCHI_DATA_DIR".to_owned(), dir.display().to_string());
        vars.insert("MADOGUCHI_LISTEN".to_owned(), "127.0.0.1:0".to_owned());
        vars.insert(
            "MADOGUCHI_BASE_URL".to_owned(),
            "http://madoguchi.test".to_owned(),
        );
        vars.insert(
            "MADOGUCHI_SECRET".to_owned(),
            "test-secret-test-secret-test-secret-0123".to_owned(),
        );
        vars.insert("MADOGUCHI_BODY_LIMIT".to_owned(), "32768".to_owned());
        // Every test client files from 127.0.0.1; tests/e2e/limits.rs turns the limit on.
        vars.insert(
            "MADOGUCHI_INTAKE_PER_IP_PER_HOUR".to_owned(),
            "0".to_owned(),
        );
        let stripe = crate::fake_stripe::FakeStripe::start().await;
        vars.insert(
            "STRIPE_SECRET_KEY".to_owned(),
            "sk_test_madoguchi".to_owned(),
        );
        vars.insert(
            "STRIPE_WEBHOOK_SECRET".to_owned(),
            crate::fake_stripe::WEBHOOK_SECRET.to_owned(),
        );
        vars.insert(
            "STRIPE_API_BASE".to_owned(),
            format!("http://{}/", stripe.addr),
        );
        if let Some((_, _, url)) = &pg {
            vars.insert("DATABASE_URL".to_owned(), url.clone());
            vars.insert("MADOGUCHI_DB_MAX_CONNECTIONS".to_owned(), "8".to_owned());
        }
        for (k, v) in extra {
            vars.insert((*k).to_owned(), (*v).to_owned());
        }
        let config = Config::from_vars(&vars).unwrap();
        let database_url = config.database_url.clone();
        let app = Application::build(config)
            .await
            .expect("application builds");
        let addr = app.local_addr();
        let metrics_addr = app.metrics_addr();
        let service = app.service().clone();
        let worker = app.worker().clone();
        let (stop, stop_rx) = watch::channel(false);
        tokio::spawn(app.run(stop_rx));
        TestApp {
            backend,
            service,
            worker,
            mail_dir: dir.join("mail"),
            client: Client::new(addr),
            stripe,
            database_url,
            addr,
            metrics_addr,
            stop,
            dir,
            pg: pg.map(|(admin, name, _)| (admin, name)),
        }
    }

    /// Stops the app's HTTP server and background workers (the database stays), so a test can
    /// run its own workers without racing them.
    pub async fn halt(&self) {
        let _ = self.stop.send(true);
        tokio::time::sleep(Duration::from_millis(1200)).await;
    }

    /// Sends everything in the outbox and waits until no message is pending or in flight.
    pub async fn deliver_mail(&self) {
        for _ in 0..500 {
            self.worker.drain().await.unwrap();
            let unsent = madoguchi_store::outbox::unsent_count(self.service.db().conn())
                .await
                .unwrap();
            if unsent == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the outbox did not drain");
    }

    /// Every delivered message, parsed.
    pub async fn mails(&self) -> Vec<Mail> {
        self.deliver_mail().await;
        let Ok(entries) = std::fs::read_dir(&self.mail_dir) else {
            return Vec::new();
        };
        let mut mails: Vec<Mail> = entries
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
            .map(|e| {
                let mut m = Mail::parse(&std::fs::read_to_string(e.path()).unwrap());
                // Sent order: the file's write time (the Date header has one-second steps).
                let t = e.metadata().and_then(|md| md.modified()).unwrap();
                m.date_order = format!(
                    "{:020}",
                    t.duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
                );
                m
            })
            .collect();
        mails.sort_by(|a, b| a.date_order.cmp(&b.date_order));
        mails
    }

    /// Messages to one address.
    pub async fn mails_to(&self, to: &str) -> Vec<Mail> {
        self.mails()
            .await
            .into_iter()
            .filter(|m| m.to.contains(to))
            .collect()
    }

    /// The path of the confirmation link in the last confirmation mail to `to`.
    pub async fn confirmation_path(&self, to: &str) -> String {
        let mail = self
            .mails_to(to)
            .await
            .into_iter()
            .rev()
            .find(|m| m.text.contains("/confirm/"))
            .expect("a confirmation mail");
        mail.link_path("/confirm/").expect("a confirmation link")
    }

    pub async fn request(&self, pid: uuid::Uuid) -> request::Model {
        madoguchi_store::requests::find_by_pid(self.service.db().conn(), self.service.cipher(), pid)
            .await
            .unwrap()
    }

    pub async fn request_count(&self) -> u64 {
        request::Entity::find()
            .count(self.service.db().conn())
            .await
            .unwrap()
    }

    pub async fn audit_actions(&self, pid: uuid::Uuid) -> Vec<String> {
        madoguchi_store::audit::for_request(self.service.db().conn(), pid)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect()
    }

    pub async fn verify_audit(&self) {
        let result = madoguchi_store::audit::verify(self.service.db().conn())
            .await
            .unwrap();
        assert!(result.is_ok(), "audit trail broken: {result:?}");
    }

    /// Runs raw SQL (for tampering and inspection).
    pub async fn sql(&self, sql: &str) {
        let db = self.service.db().conn();
        db.execute_raw(Statement::from_string(
            db.get_database_backend(),
            sql.to_owned(),
        ))
        .await
        .unwrap();
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some((admin, name)) = self.pg.take() {
            // Best effort: drop the database from a separate thread (Drop cannot await).
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async move {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    if let Ok(conn) = Database::connect(&admin).await {
                        let _ = conn
                            .execute_unprepared(&format!(
                                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                            ))
                            .await;
                    }
                });
            });
        }
    }
}

/// A parsed `.eml` file.
#[derive(Debug, Clone)]
pub struct Mail {
    pub from: String,
    pub to: String,
    pub subject: String,
    pub message_id: String,
    pub text: String,
    pub html: String,
    date_order: String,
}

fn decode_words(s: &str) -> String {
    // RFC 2047 encoded words as lettre writes them: =?utf-8?b?...?=
    s.split_whitespace()
        .map(|w| {
            if let Some(inner) = w
                .strip_prefix("=?utf-8?b?")
                .and_then(|w| w.strip_suffix("?="))
            {
                String::from_utf8(
                    base64::engine::general_purpose::STANDARD
                        .decode(inner)
                        .unwrap(),
                )
                .unwrap()
            } else {
                format!(" {w}")
            }
        })
        .collect::<String>()
        .trim()
        .to_owned()
}

impl Mail {
    fn parse(raw: &str) -> Mail {
        let raw = raw.replace("\r\n", "\n");
        let (head, body) = raw.split_once("\n\n").unwrap();
        let mut headers: HashMap<String, String> = HashMap::new();
        let mut last = String::new();
        for line in head.lines() {
            if line.starts_with([' ', '\t']) {
                headers.get_mut(&last).unwrap().push_str(line);
            } else if let Some((k, v)) = line.split_once(':') {
                last = k.to_lowercase();
                headers.insert(last.clone(), v.trim().to_owned());
            }
        }
        let mut text = String::new();
        let mut html = String::new();
        let body = format!("\n{body}");
        for part in body.split("\n--").skip(1) {
            let Some((phead, pbody)) = part.split_once("\n\n") else {
                continue;
            };
            let decoded = if phead.to_lowercase().contains("base64") {
                let b64: String = pbody.lines().take_while(|l| !l.starts_with("--")).collect();
                String::from_utf8(
                    base64::engine::general_purpose::STANDARD
                        .decode(b64.trim())
                        .unwrap(),
                )
                .unwrap()
            } else {
                pbody.to_owned()
            };
            if phead.contains("text/plain") {
                text = decoded;
            } else if phead.contains("text/html") {
                html = decoded;
            }
        }
        Mail {
            from: decode_words(headers.get("from").map(String::as_str).unwrap_or("")),
            to: headers.get("to").cloned().unwrap_or_default(),
            subject: decode_words(headers.get("subject").map(String::as_str).unwrap_or("")),
            message_id: headers.get("message-id").cloned().unwrap_or_default(),
            date_order: headers.get("date").cloned().unwrap_or_default(),
            text,
            html,
        }
    }

    /// The path part of the first link containing `marker`.
    pub fn link_path(&self, marker: &str) -> Option<String> {
        self.text
            .split_whitespace()
            .find(|w| w.starts_with("http") && w.contains(marker))
            .map(|url| {
                url.splitn(4, '/')
                    .nth(3)
                    .map(|p| format!("/{p}"))
                    .unwrap_or_default()
            })
    }
}

/// A minimal HTTP/1.1 client with a cookie jar, over hyper.
#[derive(Clone)]
pub struct Client {
    addr: SocketAddr,
    jar: Arc<Mutex<HashMap<String, String>>>,
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: String,
    /// The body as sent (for files).
    pub bytes: Vec<u8>,
}

impl Response {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The value of the hidden CSRF field on a page.
    pub fn csrf(&self) -> String {
        let marker = "name=\"csrf\" value=\"";
        let start = self.body.find(marker).expect("a CSRF field") + marker.len();
        self.body[start..].split('"').next().unwrap().to_owned()
    }
}

impl Client {
    pub fn new(addr: SocketAddr) -> Client {
        Client {
            addr,
            jar: Arc::default(),
        }
    }

    /// A client with its own cookies (another browser).
    pub fn fresh(&self) -> Client {
        Client::new(self.addr)
    }

    /// One HTTP/1.1 exchange on a fresh connection; `None` if the connection fails.
    async fn exchange(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
        jar: bool,
    ) -> Option<Response> {
        let stream = tokio::net::TcpStream::connect(self.addr).await.ok()?;
        let (mut tx, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .ok()?;
        tokio::spawn(conn);
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "madoguchi.test")
            .header("user-agent", "madoguchi-e2e");
        if jar {
            let cookies: String = self
                .jar
                .lock()
                .unwrap()
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            if !cookies.is_empty() {
                req = req.header("cookie", cookies);
            }
        }
        for (k, v) in headers {
            req = req.header(*k, v.as_str());
        }
        let res = tx
            .send_request(req.body(Full::new(Bytes::from(body))).ok()?)
            .await
            .ok()?;
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        if jar {
            for c in headers.get_all("set-cookie") {
                if let Some((kv, _)) = c.to_str().unwrap().split_once(';')
                    && let Some((k, v)) = kv.split_once('=')
                {
                    self.jar.lock().unwrap().insert(k.to_owned(), v.to_owned());
                }
            }
        }
        let bytes = res.into_body().collect().await.ok()?.to_bytes().to_vec();
        Some(Response {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
            bytes,
        })
    }

    /// A browser request: cookies kept, optional content type.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Response {
        let headers: Vec<(&str, String)> = content_type
            .map(|ct| ("content-type", ct.to_owned()))
            .into_iter()
            .collect();
        self.exchange(method, path, &headers, body, true)
            .await
            .expect("the server answers")
    }

    pub async fn get(&self, path: &str) -> Response {
        self.send(Method::GET, path, None, Vec::new()).await
    }

    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        let body: String = fields
            .iter()
            .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
            .collect::<Vec<_>>()
            .join("&");
        self.send(
            Method::POST,
            path,
            Some("application/x-www-form-urlencoded"),
            body.into_bytes(),
        )
        .await
    }

    /// Posts the staff login form as a browser does: the form (and its CSRF cookie) first.
    pub async fn post_login(&self, fields: &[(&str, &str)]) -> Response {
        self.post_with_login_csrf("/staff/login", fields).await
    }

    /// Posts the second-factor step of the staff login, with the visitor's CSRF token.
    pub async fn post_login_totp(&self, fields: &[(&str, &str)]) -> Response {
        self.post_with_login_csrf("/staff/login/totp", fields).await
    }

    async fn post_with_login_csrf(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        let csrf = self.get("/staff/login").await.csrf();
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_form(path, &all).await
    }

    pub async fn post_json(&self, path: &str, value: &serde_json::Value) -> Response {
        self.send(
            Method::POST,
            path,
            Some("application/json"),
            value.to_string().into_bytes(),
        )
        .await
    }
}

pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b' ' => "+".to_owned(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The path's request id, from a `/r/{pid}?...` redirect.
pub fn pid_from_location(location: &str) -> uuid::Uuid {
    let id = location
        .trim_start_matches("/r/")
        .split(['?', '/'])
        .next()
        .unwrap();
    uuid::Uuid::parse_str(id).unwrap()
}

/// A valid intake form (a disclosure, delivered electronically); tests change one field at a
/// time with [`with_field`].
pub fn intake_form<'a>(csrf: &'a str, email: &'a str, lang: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("lang", lang),
        ("kind", "disclosure"),
        ("requester", "subject"),
        ("subject_name", "山田 花子"),
        ("subject_kana", "ヤマダ ハナコ"),
        ("email", email),
        ("delivery", "electronic"),
        ("details", "通販サイトの会員情報と購入履歴"),
        ("consent", "on"),
    ]
}

/// `fields` with `name` set to `value` (added when absent).
pub fn with_field<'a>(
    mut fields: Vec<(&'a str, &'a str)>,
    name: &'a str,
    value: &'a str,
) -> Vec<(&'a str, &'a str)> {
    match fields.iter_mut().find(|(k, _)| *k == name) {
        Some(f) => f.1 = value,
        None => fields.push((name, value)),
    }
    fields
}

/// A valid API body; tests change one field at a time.
pub fn valid_json(email: &str) -> serde_json::Value {
    serde_json::json!({
        "kind": "disclosure",
        "requester": "subject",
        "subject_name": "山田 太郎",
        "subject_kana": "ヤマダ タロウ",
        "email": email,
        "delivery": "electronic",
        "details": "会員サービスで保有している私の個人データ一式",
        "consent": true,
        "lang": "ja"
    })
}

/// Files through the API and returns the public id.
pub async fn file_via_api(app: &TestApp, email: &str) -> uuid::Uuid {
    let res = app
        .client
        .post_json("/api/v1/requests", &valid_json(email))
        .await;
    assert_eq!(res.status, 201, "{}", res.body);
    uuid::Uuid::parse_str(res.json()["id"].as_str().unwrap()).unwrap()
}

/// Files and confirms: the request ends in identity review.
pub async fn file_and_confirm(app: &TestApp, email: &str) -> uuid::Uuid {
    let pid = file_via_api(app, email).await;
    let path = app.confirmation_path(email).await;
    let page = app.client.get(&path).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let res = app.client.post_form(&path, &[("csrf", &page.csrf())]).await;
    assert_eq!(res.status, 303, "{}", res.body);
    pid
}

/// Creates a staff account; returns (email, password).
pub async fn staff_user(app: &TestApp, role: madoguchi_domain::Role) -> (String, String) {
    let email = format!(
        "{}-{}@staff.example.jp",
        role.as_str(),
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let (user, handed_over) = app
        .service
        .create_staff_user(
            &email,
            role.as_str(),
            role,
            &madoguchi_domain::Actor::System,
            &Default::default(),
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    // The member replaces the handed-over password, as the first sign-in makes them
    // (`a_handed_over_password_must_be_replaced_first` walks that page).
    let own = format!("{handed_over}-own");
    let who = madoguchi_service::staff::StaffIdentity {
        user_id: user.id,
        pid: user.pid,
        email: user.email.clone(),
        name: user.name.clone(),
        role,
        csrf: None,
        must_change_password: true,
        totp_enabled: false,
        sso: false,
    };
    app.service
        .change_password(
            &who,
            "",
            &handed_over,
            &own,
            &Default::default(),
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    (email, own)
}

/// A new account with `role` and the one-time password it was handed.
pub async fn new_staff_account(app: &TestApp, role: madoguchi_domain::Role) -> (String, String) {
    let email = format!(
        "{}-{}@staff.example.jp",
        role.as_str(),
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let (_, handed_over) = app
        .service
        .create_staff_user(
            &email,
            role.as_str(),
            role,
            &madoguchi_domain::Actor::System,
            &Default::default(),
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    (email, handed_over)
}

/// A browser logged in as a new account with `role`.
pub async fn staff_client(app: &TestApp, role: madoguchi_domain::Role) -> Client {
    let (email, password) = staff_user(app, role).await;
    let client = app.client.fresh();
    let res = client
        .post_login(&[
            ("email", &email),
            ("password", &password),
            ("next", "/staff"),
        ])
        .await;
    assert_eq!(res.status, 303, "login: {}", res.body);
    client
}

/// An API token for a new account with `role`.
pub async fn staff_token(app: &TestApp, role: madoguchi_domain::Role) -> String {
    let (email, _) = staff_user(app, role).await;
    let user = app
        .service
        .staff_users()
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.email == email)
        .unwrap();
    let who = madoguchi_service::staff::StaffIdentity {
        user_id: user.id,
        pid: user.pid,
        email: user.email,
        name: user.name,
        role,
        csrf: None,
        must_change_password: false,
        totp_enabled: false,
        sso: false,
    };
    app.service
        .create_api_token(&who, role, "test", &Default::default(), chrono::Utc::now())
        .await
        .unwrap()
}

impl Client {
    /// Sends with a bearer token (no cookies).
    pub async fn with_bearer(
        &self,
        method: hyper::Method,
        path: &str,
        token: &str,
        body: Option<serde_json::Value>,
    ) -> Response {
        let mut headers = vec![("authorization", format!("Bearer {token}"))];
        if body.is_some() {
            headers.push(("content-type", "application/json".to_owned()));
        }
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        self.exchange(method, path, &headers, bytes, false)
            .await
            .expect("the server answers")
    }

    /// Every cookie this client holds.
    pub fn cookies(&self) -> Vec<(String, String)> {
        self.jar
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// The value of a cookie this client holds.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.jar.lock().unwrap().get(name).cloned()
    }

    /// Plants a cookie (to test fixation).
    pub fn set_cookie(&self, name: &str, value: &str) {
        self.jar
            .lock()
            .unwrap()
            .insert(name.to_owned(), value.to_owned());
    }
}

/// A multipart/form-data body: text fields, then files under `files`.
pub fn multipart(fields: &[(&str, &str)], files: &[(&str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "madoguchi-test-boundary-7d3f";
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    for (name, bytes) in files {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// A tiny valid PNG header followed by a marker we can look for in raw storage.
pub fn png(marker: &str) -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    b.extend_from_slice(marker.as_bytes());
    b
}

/// Opens the subject's private page for a confirmed request: asks for a code, reads it from
/// the mail, enters it. Returns the subject's browser.
pub async fn subject_session(app: &TestApp, pid: uuid::Uuid, email: &str) -> Client {
    let browser = app.client.fresh();
    let status = browser.get(&format!("/r/{pid}")).await;
    let res = browser
        .post_form(&format!("/r/{pid}/code"), &[("csrf", &status.csrf())])
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let code = latest_code(app, email).await;
    let page = browser.get(&format!("/r/{pid}/access")).await;
    let res = browser
        .post_form(
            &format!("/r/{pid}/access"),
            &[("csrf", &page.csrf()), ("code", &code)],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    browser
}

/// The code in the newest code mail to `email`, in either language.
pub async fn latest_code(app: &TestApp, email: &str) -> String {
    let mail = app
        .mails_to(email)
        .await
        .into_iter()
        .rev()
        .find(|m| m.subject.contains("確認コード") || m.subject.contains("one-time code"))
        .expect("a code mail");
    let (at, label) = ["確認コード: ", "Code: "]
        .into_iter()
        .find_map(|l| mail.text.find(l).map(|at| (at, l)))
        .expect("the code line");
    mail.text[at + label.len()..at + label.len() + 6].to_owned()
}

/// The configuration a test app runs with (same directory and keys).
pub fn app_config(app: &TestApp) -> madoguchi_config::Config {
    let mut vars = BTreeMap::new();
    vars.insert(
        "MADOGUCHI_DATA_DIR".to_owned(),
        app.dir.display().to_string(),
    );
    vars.insert("DATABASE_URL".to_owned(), app.database_url.clone());
    vars.insert(
        "MADOGUCHI_SECRET".to_owned(),
        "test-secret-test-secret-test-secret-0123".to_owned(),
    );
    vars.insert(
        "MADOGUCHI_BASE_URL".to_owned(),
        "http://madoguchi.test".to_owned(),
    );
    madoguchi_config::Config::from_vars(&vars).unwrap()
}

impl Client {
    /// Sends a body with extra headers.
    pub async fn send_with_headers(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
        headers: &[(&str, &str)],
    ) -> Response {
        let mut all = vec![("content-type", content_type.to_owned())];
        all.extend(headers.iter().map(|(k, v)| (*k, (*v).to_owned())));
        self.exchange(method, path, &all, body, false)
            .await
            .expect("the server answers")
    }
}

impl Client {
    /// POSTs JSON; `None` when the connection fails (the server died).
    pub async fn post_json_fallible(
        &self,
        path: &str,
        value: &serde_json::Value,
    ) -> Option<(u16, String)> {
        let headers = [("content-type", "application/json".to_owned())];
        let res = self
            .exchange(
                Method::POST,
                path,
                &headers,
                value.to_string().into_bytes(),
                false,
            )
            .await?;
        Some((res.status, res.body))
    }
}

/// A port nothing listens on right now (for servers the tests start themselves).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A multipart/form-data body: text fields, then files each under its own field name
/// (`(field, file name, bytes)`).
pub fn multipart_named(
    fields: &[(&str, &str)],
    files: &[(&str, &str, &[u8])],
) -> (String, Vec<u8>) {
    let boundary = "madoguchi-test-boundary-9a1c";
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    for (field, name, bytes) in files {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{name}\"\r\nContent-Type: text/csv\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// The fields a browser would send for the form on `html` whose hidden `event` is `event`,
/// submitted as it stands: hidden and text inputs with their values, each select's selected
/// option (or its first), checked boxes, textareas. An officer who changes nothing sends this.
pub fn form_as_is(html: &str, event: &str) -> Vec<(String, String)> {
    let marker = format!("name=\"event\" value=\"{event}\"");
    let form = html
        .split("<form ")
        .find(|f| f.split("</form>").next().unwrap_or("").contains(&marker))
        .unwrap_or_else(|| panic!("no form for {event}"));
    let form = form.split("</form>").next().unwrap();
    let attr = |tag: &str, name: &str| -> Option<String> {
        let key = format!(" {name}=\"");
        let start = tag.find(&key)? + key.len();
        let end = tag[start..].find('"')? + start;
        Some(unescape(&tag[start..end]))
    };
    let mut out = Vec::new();
    for tag in form.split("<input").skip(1) {
        let tag = tag.split('>').next().unwrap();
        let Some(name) = attr(tag, "name") else {
            continue;
        };
        match attr(tag, "type").as_deref().unwrap_or("text") {
            "checkbox" | "radio" => {
                if tag.contains(" checked") {
                    out.push((name, attr(tag, "value").unwrap_or_else(|| "on".into())));
                }
            }
            "submit" | "file" | "button" => {}
            _ => out.push((name, attr(tag, "value").unwrap_or_default())),
        }
    }
    for select in form.split("<select").skip(1) {
        let open = select.split('>').next().unwrap();
        let Some(name) = attr(open, "name") else {
            continue;
        };
        let options: Vec<&str> = select
            .split("</select>")
            .next()
            .unwrap()
            .split("<option")
            .skip(1)
            .map(|o| o.split('>').next().unwrap())
            .collect();
        let chosen = options
            .iter()
            .find(|o| o.contains(" selected"))
            .or(options.first());
        if let Some(o) = chosen {
            out.push((name, attr(o, "value").unwrap_or_default()));
        }
    }
    for area in form.split("<textarea").skip(1) {
        let open = area.split('>').next().unwrap();
        let Some(name) = attr(open, "name") else {
            continue;
        };
        let text = area
            .split_once('>')
            .map(|(_, rest)| rest.split("</textarea>").next().unwrap_or(""))
            .unwrap_or("");
        out.push((name, unescape(text)));
    }
    out
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Enters a request received outside the web form at `/staff/intake` as `officer` (the CSRF
/// field is added) and returns the public id it was filed under.
pub async fn staff_intake(officer: &Client, fields: &[(&str, &str)]) -> uuid::Uuid {
    let csrf = officer.get("/staff/intake").await.csrf();
    let mut all = vec![("csrf", csrf.as_str())];
    all.extend_from_slice(fields);
    let res = officer.post_form("/staff/intake", &all).await;
    assert_eq!(res.status, 303, "{}", res.body);
    staff_pid(&res)
}

/// The request a staff page's redirect points at (`/staff/requests/{pid}…`).
pub fn staff_pid(res: &Response) -> uuid::Uuid {
    res.header("location")
        .trim_start_matches("/staff/requests/")
        .split(['?', '#'])
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// Sends an action from the request page as `officer`, on the version the page shows; the
/// response's status (303 when accepted).
pub async fn try_act(
    officer: &Client,
    app: &TestApp,
    pid: uuid::Uuid,
    fields: &[(&str, &str)],
) -> Response {
    let csrf = officer.get(&format!("/staff/requests/{pid}")).await.csrf();
    let v = app.request(pid).await.version.to_string();
    let mut all = vec![("csrf", csrf.as_str()), ("version", v.as_str())];
    all.extend_from_slice(fields);
    officer
        .post_form(&format!("/staff/requests/{pid}/events"), &all)
        .await
}

/// [`try_act`], which must be accepted.
pub async fn act(officer: &Client, app: &TestApp, pid: uuid::Uuid, fields: &[(&str, &str)]) {
    let res = try_act(officer, app, pid, fields).await;
    assert_eq!(res.status, 303, "{fields:?}: {}", res.body);
}

/// Every audit entry of a request: (actor kind, action, detail JSON).
pub async fn trail(app: &TestApp, pid: uuid::Uuid) -> Vec<(String, String, String)> {
    madoguchi_store::audit::for_request(app.service.db().conn(), pid)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.actor_kind, e.action, e.detail))
        .collect()
}

/// A small SMTP server that takes every message except those to an address containing
/// `refused` (550, as a mailbox that does not exist answers); returns its port.
pub async fn picky_smtp(refused: &'static str) -> u16 {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (r, mut w) = sock.into_split();
                let mut lines = BufReader::new(r).lines();
                let _ = w.write_all(b"220 picky ESMTP\r\n").await;
                let mut in_data = false;
                while let Ok(Some(line)) = lines.next_line().await {
                    if in_data {
                        if line == "." {
                            in_data = false;
                            let _ = w.write_all(b"250 2.0.0 queued\r\n").await;
                        }
                        continue;
                    }
                    let u = line.to_ascii_uppercase();
                    let reply: &[u8] = if u.starts_with("EHLO") || u.starts_with("HELO") {
                        b"250 picky\r\n"
                    } else if u.starts_with("RCPT") && line.contains(refused) {
                        b"550 5.1.1 no such user\r\n"
                    } else if u.starts_with("DATA") {
                        in_data = true;
                        b"354 go ahead\r\n"
                    } else if u.starts_with("QUIT") {
                        b"221 bye\r\n"
                    } else {
                        b"250 OK\r\n"
                    };
                    let _ = w.write_all(reply).await;
                }
            });
        }
    });
    port
}
