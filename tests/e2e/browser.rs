//! The whole journey in a real browser: headless Chromium, driven over WebDriver, against the
//! real server. A subject files a disclosure request in Japanese, confirms the e-mail, proves
//! who they are with an upload, an officer approves, records the offline fee and fulfils with
//! a file, the subject downloads it with a one-time code, and an auditor verifies the trail.
//!
//! Every page on the way is checked by axe-core (injected from `tests/browser/node_modules`):
//! no serious or critical violation, a `lang` on the document, a title. A screenshot of each
//! step lands in `target/browser/<journey>/` for a reviewer to look at.
//!
//! Chromium and ChromeDriver come from Debian (`.ci/run` installs them). Where they are
//! missing the journey is skipped with a message, unless `MADOGUCHI_BROWSER_TESTS=required`
//! (CI sets it), which turns a missing browser into a failure.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{ClientBuilder, Locator};
use madoguchi_domain::Role;
use serde_json::{Value, json};

use crate::helpers::*;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
/// The host the app's links name (`MADOGUCHI_BASE_URL` in the test harness); Chromium
/// resolves it to the test server, so links from e-mails are followed exactly as sent.
const ORIGIN: &str = "http://madoguchi.test";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Whether the browser journey can run here; panics if it must and cannot.
fn browser_available() -> bool {
    let required = std::env::var("MADOGUCHI_BROWSER_TESTS").is_ok_and(|v| v == "required");
    let axe = root().join("tests/browser/node_modules/axe-core/axe.min.js");
    let missing: Vec<String> = [Path::new(CHROMEDRIVER), Path::new(CHROMIUM), axe.as_path()]
        .into_iter()
        .filter(|p| !p.exists())
        .map(|p| p.display().to_string())
        .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        !required,
        "browser tests are required but {missing:?} is missing (apt-get install chromium \
         chromium-driver; npm ci --prefix tests/browser)"
    );
    eprintln!("browser journey skipped: {missing:?} missing");
    false
}

#[derive(Clone, Copy)]
enum Viewport {
    Desktop,
    Phone,
}

/// One Chromium with its own ChromeDriver, profile and cookies.
struct Browser {
    web: fantoccini::Client,
    driver: Child,
    shots: PathBuf,
    who: &'static str,
    axe: String,
    problems: Vec<String>,
    steps: u32,
}

/// A raw Chrome DevTools command, through ChromeDriver's `goog/cdp/execute` endpoint.
#[derive(Debug)]
struct DevTools(&'static str, Value);

impl fantoccini::wd::WebDriverCompatibleCommand for DevTools {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/goog/cdp/execute",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (hyper::Method, Option<String>) {
        let body = json!({ "cmd": self.0, "params": self.1 });
        (hyper::Method::POST, Some(body.to_string()))
    }
}

impl Browser {
    async fn open(app: SocketAddr, viewport: Viewport, shots: &Path, who: &'static str) -> Self {
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let mut args = vec![
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            format!("--host-resolver-rules=MAP madoguchi.test {app}"),
            "--lang=ja".to_owned(),
        ];
        let mut options = json!({
            "binary": CHROMIUM,
            "prefs": { "intl.accept_languages": "ja,en" }
        });
        match viewport {
            Viewport::Desktop => args.push("--window-size=1280,1000".to_owned()),
            // Sized through DevTools once the session is up (a window can't be narrower
            // than 500 px).
            Viewport::Phone => {
                args.push(
                    "--user-agent=Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 \
                     (KHTML, like Gecko) Chrome/130.0 Mobile Safari/537.36"
                        .to_owned(),
                );
            }
        }
        options["args"] = json!(args);
        let mut caps = serde_json::Map::new();
        caps.insert("goog:chromeOptions".to_owned(), options);
        let url = format!("http://127.0.0.1:{port}");
        let mut web = None;
        for _ in 0..100 {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(c) => {
                    web = Some(c);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        let web = web.expect("a WebDriver session with Chromium");
        if let Viewport::Phone = viewport {
            web.issue_cmd(DevTools(
                "Emulation.setDeviceMetricsOverride",
                json!({ "width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": false }),
            ))
            .await
            .expect("a phone-sized viewport");
        }
        std::fs::create_dir_all(shots).unwrap();
        Browser {
            web,
            driver,
            shots: shots.to_owned(),
            who,
            axe: std::fs::read_to_string(
                root().join("tests/browser/node_modules/axe-core/axe.min.js"),
            )
            .unwrap(),
            problems: Vec::new(),
            steps: 0,
        }
    }

    async fn goto(&self, path: &str) {
        self.web.goto(&format!("{ORIGIN}{path}")).await.unwrap();
    }

    async fn path(&self) -> String {
        self.web.current_url().await.unwrap().path().to_owned()
    }

    async fn text(&self) -> String {
        self.web
            .find(Locator::Css("body"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    async fn fill(&self, css: &str, value: &str) {
        let el = self.web.find(Locator::Css(css)).await.unwrap();
        el.clear().await.ok();
        el.send_keys(value).await.unwrap();
    }

    async fn click(&self, css: &str) {
        self.click_on(Locator::Css(css)).await;
    }

    /// Clicks a submit button and waits for the next document to load.
    async fn submit(&self, css: &str) {
        self.submit_on(Locator::Css(css)).await;
    }

    async fn submit_on(&self, locator: Locator<'_>) {
        // Marks the current document, so the next one can be told from it even when the
        // server redirects back to the same address.
        self.web
            .execute("window.__madoguchiOld = true;", vec![])
            .await
            .unwrap();
        self.click_on(locator).await;
        self.wait_for_new_document().await;
    }

    async fn wait_for_new_document(&self) {
        for _ in 0..200 {
            let fresh = self
                .web
                .execute(
                    "return !window.__madoguchiOld && document.readyState === 'complete';",
                    vec![],
                )
                .await
                .unwrap_or(Value::Bool(false));
            if fresh == Value::Bool(true) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if let Ok(png) = self.web.screenshot().await {
            std::fs::write(self.shots.join(format!("{}-stuck.png", self.who)), png).ok();
        }
        let focus = self
            .web
            .execute(
                "const a = document.activeElement; return a.outerHTML.slice(0, 200) + ' | ' + \
                 Array.from(document.querySelectorAll('input[name=reference]')).map(i => i.value).join(',');",
                vec![],
            )
            .await;
        panic!(
            "{}: no new page after submitting on {} (focus: {focus:?})",
            self.who,
            self.url().await
        );
    }

    async fn click_on(&self, locator: Locator<'_>) {
        match self.web.find(locator).await {
            Ok(el) => el.click().await.unwrap(),
            Err(e) => panic!(
                "{}: no {locator:?} on {}: {e}\n{}",
                self.who,
                self.url().await,
                self.text().await
            ),
        }
    }

    /// Submits the officer's action form for `event`, after `prepare` filled its fields.
    async fn act(&self, event: &str) {
        self.submit_on(Locator::XPath(&format!(
            "//form[input[@name='event' and @value='{event}']]//button[@type='submit']"
        )))
        .await;
    }

    async fn url(&self) -> String {
        self.web
            .current_url()
            .await
            .map(|u| u.to_string())
            .unwrap_or_default()
    }

    /// Checks the page as a reviewer would: a language, a title, axe-core's serious and
    /// critical rules; then saves a screenshot.
    async fn check(&mut self, step: &str) {
        let lang = self
            .web
            .execute("return document.documentElement.lang;", vec![])
            .await
            .unwrap();
        if lang.as_str().is_none_or(str::is_empty) {
            self.problems.push(format!("{step}: no lang on <html>"));
        }
        if self.web.title().await.unwrap().trim().is_empty() {
            self.problems.push(format!("{step}: no <title>"));
        }
        // Every page, the subject's and the staff's, must read on a phone without scrolling
        // sideways (wide tables scroll inside their own box).
        let overflow = self
            .web
            .execute(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
                vec![],
            )
            .await
            .unwrap();
        if overflow.as_i64().unwrap_or(0) > 0 {
            self.problems.push(format!(
                "{step}: the page is {overflow} px wider than the screen"
            ));
        }
        // The engine is injected each time: every navigation is a new document.
        self.web.execute(&self.axe, vec![]).await.unwrap();
        let result = self
            .web
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, { resultTypes: ['violations'] })
                    .then(r => done({
                        rules: r.passes.length + r.violations.length + r.incomplete.length,
                        serious: r.violations
                            .filter(v => v.impact === 'serious' || v.impact === 'critical')
                            .map(v => v.id + ' (' + v.impact + '): ' + v.nodes.slice(0, 3)
                                .map(n => n.target.join(' ')).join(', '))
                    }))
                    .catch(e => done({ rules: 0, serious: ['axe failed: ' + e] }));",
                vec![],
            )
            .await
            .unwrap();
        assert!(
            result["rules"].as_u64().unwrap_or(0) > 20,
            "axe-core evaluated its rules on {step}: {result}"
        );
        for v in result["serious"].as_array().cloned().unwrap_or_default() {
            self.problems.push(format!(
                "{step} ({}): {}",
                self.path().await,
                v.as_str().unwrap_or_default()
            ));
        }
        self.steps += 1;
        let png = self.web.screenshot().await.unwrap();
        let file = format!("{}-{:02}-{step}.png", self.who, self.steps);
        std::fs::write(self.shots.join(file), png).unwrap();
    }

    /// Fetches the file a link points to with this browser's cookies. (Headless Chromium
    /// here leaves downloads unfinished, and the page's CSP rightly forbids script fetching.)
    async fn download(&self, http: &Client, css: &str) -> Response {
        let href = self
            .web
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{}: no {css}: {e}", self.who))
            .attr("href")
            .await
            .unwrap()
            .expect("the link has an address");
        let jar = http.fresh();
        for c in self.web.get_all_cookies().await.unwrap() {
            jar.set_cookie(c.name(), c.value());
        }
        jar.get(&href).await
    }

    async fn close(mut self) -> Vec<String> {
        self.web.clone().close().await.ok();
        self.driver.kill().ok();
        self.driver.wait().ok();
        std::mem::take(&mut self.problems)
    }
}

/// The subject's part up to the code: asks for one, reads it from the mail, enters it.
async fn open_private_page(app: &TestApp, subject: &mut Browser, pid: &str, email: &str) {
    subject.goto(&format!("/r/{pid}")).await;
    subject
        .submit(&format!("form[action^='/r/{pid}/code'] button"))
        .await;
    assert_eq!(subject.path().await, format!("/r/{pid}/access"));
    subject.check("code-entry").await;
    let code = latest_code(app, email).await;
    subject.fill("#code", &code).await;
    subject
        .submit(&format!("form[action^='/r/{pid}/access'] button"))
        .await;
    assert_eq!(
        subject.path().await,
        format!("/r/{pid}/private"),
        "the code opens the private page"
    );
}

async fn staff_login(app: &TestApp, who: &mut Browser, role: Role) {
    let (email, password) = staff_user(app, role).await;
    who.goto("/staff").await;
    assert_eq!(
        who.path().await,
        "/staff/login",
        "anonymous staff pages lead to the login"
    );
    who.check("login").await;
    who.fill("#email", &email).await;
    who.fill("#password", &password).await;
    who.submit("form[action='/staff/login'] button").await;
    assert!(
        !who.path().await.starts_with("/staff/login"),
        "login failed: {}",
        who.text().await
    );
}

async fn journey(app: TestApp, viewport: Viewport, name: &str) {
    if !browser_available() {
        return;
    }
    let shots = root().join("target/browser").join(name);
    let _ = std::fs::remove_dir_all(&shots);
    let files = app.dir.join("uploads");
    std::fs::create_dir_all(&files).unwrap();
    let id_card = files.join("運転免許証.png");
    // A real image (a card drawn in a few rectangles), so the officer's workspace shows it.
    std::fs::copy(root().join("tests/browser/id-card.png"), &id_card).unwrap();
    let package = files.join("開示データ.pdf");
    let package_bytes = b"%PDF-1.7\n% madoguchi browser package\n%%EOF\n".to_vec();
    std::fs::write(&package, &package_bytes).unwrap();
    let email = format!("hanako.{name}@example.jp");

    // The subject files, in Japanese, with the keyboard-free path a real person takes.
    let mut subject = Browser::open(app.addr, viewport, &shots, "subject").await;
    subject.goto("/").await;
    subject.check("intake").await;
    assert!(
        subject.text().await.contains("開示"),
        "the form is Japanese"
    );
    // Step one: the kind and who files; step two asks only what a disclosure needs.
    subject.click("#kind-disclosure").await;
    subject.submit("form[action='/'] button[type=submit]").await;
    subject.check("intake-step-2").await;
    assert!(subject.text().await.contains("手順 2／2"));
    subject.fill("#subject_name", "山田 花子").await;
    subject.fill("#subject_kana", "ヤマダ ハナコ").await;
    subject.fill("#email", &email).await;
    subject
        .fill("#details", "会員情報と購買履歴の開示を求めます。")
        .await;
    subject.click("#delivery-electronic").await;
    subject.click("#consent-box").await;
    subject
        .submit("form[action^='/requests'] button[type=submit]")
        .await;
    subject.check("filed").await;
    assert!(
        subject.text().await.contains(&email) || subject.text().await.contains("メール"),
        "the subject is told to check their mail"
    );

    let confirm = app.confirmation_path(&email).await;
    subject.goto(&confirm).await;
    subject.check("confirm").await;
    subject.submit("form[action^='/confirm/'] button").await;
    let status_path = subject.path().await;
    assert!(
        status_path.starts_with("/r/"),
        "confirmed: {status_path}: {}",
        subject.text().await
    );
    let pid = status_path.trim_start_matches("/r/").to_owned();
    subject.check("status").await;

    open_private_page(&app, &mut subject, &pid, &email).await;
    subject.check("private").await;
    subject
        .web
        .find(Locator::Css("#purpose"))
        .await
        .unwrap()
        .select_by_value("identity")
        .await
        .unwrap();
    subject.fill("#files", id_card.to_str().unwrap()).await;
    subject
        .submit(&format!("form[action^='/r/{pid}/documents'] button"))
        .await;
    subject.check("uploaded").await;
    assert!(subject.text().await.contains("運転免許証.png"));

    // An officer approves, records the fee paid by transfer, attaches the answer, closes.
    let mut officer = Browser::open(app.addr, viewport, &shots, "officer").await;
    staff_login(&app, &mut officer, Role::Officer).await;
    officer.check("queue").await;
    officer.goto(&format!("/staff/requests/{pid}")).await;
    officer.check("detail").await;
    assert!(
        officer.text().await.contains("運転免許証.png"),
        "the officer sees the uploaded document"
    );
    // The document opens in the workspace beside the actions, not in a tab of its own.
    officer.click("a[href*='?doc=']").await;
    officer.check("document-inline").await;
    assert!(officer.url().await.contains("?doc="));
    // A note for colleagues, kept on the request.
    officer
        .fill("#note-text", "窓口で原本を確認済み（免許証）。")
        .await;
    officer
        .submit(&format!(
            "form[action='/staff/requests/{pid}/notes'] button"
        ))
        .await;
    officer.check("noted").await;
    assert!(officer.text().await.contains("窓口で原本を確認済み"));
    officer.act("approve_identity").await;
    officer.check("identity-approved").await;
    officer
        .fill("input[name=reference]", "振込 0001 ヤマダハナコ")
        .await;
    officer.act("record_payment").await;
    officer.check("paid").await;
    officer.fill("#package", package.to_str().unwrap()).await;
    officer
        .submit(&format!(
            "form[action='/staff/requests/{pid}/documents'] button"
        ))
        .await;
    assert!(officer.text().await.contains("開示データ.pdf"));
    officer.act("complete").await;
    officer.check("completed").await;
    let state = app.request(pid.parse().unwrap()).await.state;
    assert_eq!(state, "fulfilled", "the request is answered");

    // The subject downloads the answer with a fresh code.
    open_private_page(&app, &mut subject, &pid, &email).await;
    subject.check("answer").await;
    let file = subject.download(&app.client, "a[href*='/files/']").await;
    assert_eq!(file.status, 200, "download: {}", file.body);
    assert!(file.header("content-disposition").starts_with("attachment"));
    assert_eq!(
        file.body.as_bytes(),
        package_bytes,
        "the subject gets the file the officer attached"
    );

    subject.click("a[href*='/receipts/']").await;
    subject.check("receipt").await;
    assert!(
        subject.text().await.contains("¥3,000"),
        "the receipt for the transfer"
    );

    // The office's map goes in; the public notice shows what it holds, and the officer's
    // provision register is held to the same checks.
    app.service
        .install_datamap(
            &crate::datamap::example(),
            None,
            &Default::default(),
            chrono::Utc::now(),
        )
        .await
        .unwrap()
        .unwrap();
    subject.goto("/procedures").await;
    subject.check("procedures").await;
    assert!(subject.text().await.contains("ご注文の商品を発送するため"));
    officer.goto("/staff/register").await;
    officer.check("register").await;

    // An auditor verifies the whole trail with one click.
    let mut auditor = Browser::open(app.addr, viewport, &shots, "auditor").await;
    staff_login(&app, &mut auditor, Role::Auditor).await;
    // The other staff pages an auditor reads, held to the same checks.
    for (path, step) in [
        ("/staff/dashboard", "dashboard"),
        ("/staff/admin/users", "users"),
        ("/staff/admin/settings", "settings"),
        ("/staff/admin/mail", "mail"),
        ("/staff/admin/datamap", "datamap"),
    ] {
        auditor.goto(path).await;
        auditor.check(step).await;
    }
    auditor.goto("/staff/audit").await;
    auditor
        .submit("form[action='/staff/audit/verify'] button")
        .await;
    auditor.check("verified").await;
    let banner = auditor
        .web
        .find(Locator::Css("[role=status]"))
        .await
        .expect("a verification result")
        .text()
        .await
        .unwrap();
    let ok = auditor
        .web
        .find(Locator::Css("p.banner[role=status]"))
        .await
        .is_ok();
    assert!(ok, "the trail verifies: {banner}");
    app.verify_audit().await;

    let mut problems = subject.close().await;
    problems.extend(officer.close().await);
    problems.extend(auditor.close().await);
    assert!(
        problems.is_empty(),
        "accessibility and page problems:\n{}",
        problems.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desktop_journey_on_sqlite() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    journey(app, Viewport::Desktop, "desktop-sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desktop_journey_on_postgres() {
    let Some(app) = TestApp::spawn_postgres().await else {
        return;
    };
    journey(app, Viewport::Desktop, "desktop-postgres").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phone_journey_on_sqlite() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    journey(app, Viewport::Phone, "phone-sqlite").await;
}

/// The business of the connector journey: a newsletter list in SQLite a connector reads, and
/// paper applications their owner searches by hand.
const CONNECTOR_MAP: &str = r#"version = "browser-connectors"
safety_measures = { ja = "暗号化しています。", en = "Encrypted." }

[[purposes]]
id = "news"
label = { ja = "メールマガジンの配信", en = "Sending the newsletter" }

[[categories]]
id = "contact"
label = { ja = "連絡先", en = "Contact details" }

[[systems]]
id = "news"
name = { ja = "メールマガジン", en = "Newsletter" }
owner = "news@example.jp"
country = "JP"
connector = { kind = "sqlite", url_env = "BROWSER_NEWS_URL" }

[[systems]]
id = "paper"
name = { ja = "紙の申込書", en = "Paper applications" }
owner = "archive@example.jp"
country = "JP"
connector = { kind = "manual" }

[[datasets]]
id = "subscribers"
system = "news"
label = { ja = "メールマガジン購読", en = "Newsletter subscription" }
purposes = ["news"]
retention = { period = { ja = "解除まで", en = "Until unsubscribed" }, basis = "規程" }
find_by = [{ match = [{ field = "email", key = "email" }] }]
fields = [
  { name = "email", label = { ja = "メールアドレス", en = "E-mail" }, category = "contact", erase = "delete_row" },
  { name = "topics", label = { ja = "購読テーマ", en = "Topics" }, category = "contact", erase = "delete_row" },
  { name = "internal_code", label = { ja = "配信管理コード", en = "Delivery code" }, category = "contact", erase = "delete_row" },
]

[[datasets]]
id = "applications"
system = "paper"
label = { ja = "入会申込書", en = "Membership applications" }
purposes = ["news"]
retention = { period = { ja = "5年", en = "5 years" }, basis = "規程" }
find_by = [{ match = [{ field = "email", key = "email" }] }]
fields = [
  { name = "email", label = { ja = "メールアドレス", en = "E-mail" }, category = "contact", erase = "delete_row" },
  { name = "note", label = { ja = "記載内容", en = "What it says" }, category = "contact", erase = "delete_row" },
]
"#;

/// An answer built from the business's own systems, in the browser: the owner of a paper
/// archive answers through their link, the officer sees what the connector read, leaves an
/// internal field out, builds the package and sends the answer as filled in; the subject
/// downloads it. Every page held to the same accessibility checks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connector_journey_on_sqlite() {
    if !browser_available() {
        return;
    }
    let name = "connectors-sqlite";
    let shots = root().join("target/browser").join(name);
    let _ = std::fs::remove_dir_all(&shots);
    let business = std::env::temp_dir().join(format!(
        "madoguchi-browser-business-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&business).unwrap();
    let email = "hanako.connectors@example.jp";
    {
        use sqlx::Connection;
        let url = format!("sqlite://{}?mode=rwc", business.join("news.db").display());
        let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "CREATE TABLE subscribers (email TEXT, topics TEXT, internal_code TEXT);
             INSERT INTO subscribers VALUES ('{email}', '新茶の案内', 'NL-0042'),
               ('someone.else@example.jp', '別人の購読', 'NL-0043');"
        )))
        .execute(&mut c)
        .await
        .unwrap();
        c.close().await.unwrap();
    }
    let map_path = business.join("map.toml");
    std::fs::write(&map_path, CONNECTOR_MAP).unwrap();
    let news_url: &'static str =
        Box::leak(format!("sqlite://{}", business.join("news.db").display()).into_boxed_str());
    let map_var: &'static str = Box::leak(map_path.display().to_string().into_boxed_str());
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        &[
            ("BROWSER_NEWS_URL", news_url),
            ("MADOGUCHI_DATAMAP", map_var),
        ],
    )
    .await;
    let mut body = valid_json(email);
    body["subject_name"] = "山田 花子".into();
    let res = app.client.post_json("/api/v1/requests", &body).await;
    assert_eq!(res.status, 201, "{}", res.body);
    let pid = res.json()["id"].as_str().unwrap().to_owned();
    crate::answers::bring_in_progress(&app, pid.parse().unwrap(), email).await;

    // The archive's owner opens their link, searches, finds nothing, and says so.
    let link = app
        .mails_to("archive@example.jp")
        .await
        .last()
        .and_then(|m| m.link_path("/owner/"))
        .expect("the owner's link");
    let mut owner = Browser::open(app.addr, Viewport::Desktop, &shots, "owner").await;
    owner.goto(&link).await;
    owner.check("owner-task").await;
    assert!(
        owner
            .text()
            .await
            .contains("紙の申込書のデータ確認のお願い")
    );
    owner.click("#searched").await;
    owner
        .submit("form[action^='/owner/'] button[type=submit]")
        .await;
    owner.check("owner-answered").await;
    assert!(owner.text().await.contains("ご回答を受け付けました"));

    // The officer sees what was read, leaves the internal code out, builds the package.
    let mut officer = Browser::open(app.addr, Viewport::Desktop, &shots, "officer").await;
    staff_login(&app, &mut officer, Role::Officer).await;
    let page = format!("/staff/requests/{pid}");
    let mut seen = false;
    for _ in 0..100 {
        officer.goto(&page).await;
        let text = officer.text().await;
        if text.contains("NL-0042") && text.contains("入会申込書") {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(seen, "the gathering shows: {}", officer.text().await);
    assert!(!officer.text().await.contains("別人"));
    officer.check("gathered").await;
    officer
        .click_on(Locator::XPath(
            "//details[.//input[@name='dataset' and @value='subscribers']]/summary",
        ))
        .await;
    officer
        .web
        .find(Locator::Css("#review-subscribers-internal_code"))
        .await
        .unwrap()
        .select_by_value("drop")
        .await
        .unwrap();
    officer
        .submit_on(Locator::XPath(
            "//form[input[@name='dataset' and @value='subscribers']]//button[@type='submit']",
        ))
        .await;
    officer.check("reviewed").await;
    officer
        .submit(&format!(
            "form[action='/staff/requests/{pid}/package'] button"
        ))
        .await;
    officer.check("packaged").await;
    assert!(officer.text().await.contains("-disclosure.zip"));
    officer.act("complete").await;
    officer.check("completed").await;
    assert_eq!(app.request(pid.parse().unwrap()).await.state, "fulfilled");

    // The subject downloads it: their subscription, without the internal code.
    let mut subject = Browser::open(app.addr, Viewport::Desktop, &shots, "subject").await;
    open_private_page(&app, &mut subject, &pid, email).await;
    subject.check("answer").await;
    let file = subject.download(&app.client, "a[href*='/files/']").await;
    assert_eq!(file.status, 200, "download: {}", file.body);
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(file.bytes.clone())).unwrap();
    let mut data = String::new();
    std::io::Read::read_to_string(&mut zip.by_name("data.json").unwrap(), &mut data).unwrap();
    let data: Value = serde_json::from_str(&data).unwrap();
    let subscribers = data["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == "subscribers")
        .unwrap();
    assert_eq!(
        subscribers["columns"],
        json!(["メールアドレス", "購読テーマ"])
    );
    assert_eq!(subscribers["rows"], json!([[email, "新茶の案内"]]));
    assert!(!data.to_string().contains("NL-0042"));

    let mut problems = owner.close().await;
    problems.extend(officer.close().await);
    problems.extend(subject.close().await);
    assert!(
        problems.is_empty(),
        "accessibility and page problems:\n{}",
        problems.join("\n")
    );
}

/// An erasure in the browser: the officer reads the plan (nothing changed yet), orders it,
/// the connector carries it out in the newsletter's database, and the officer sends the
/// answer as it was filled in from what was done. The pages pass the same checks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasure_journey_on_sqlite() {
    if !browser_available() {
        return;
    }
    let name = "erasure-sqlite";
    let shots = root().join("target/browser").join(name);
    let _ = std::fs::remove_dir_all(&shots);
    let business = std::env::temp_dir().join(format!(
        "madoguchi-browser-erasure-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&business).unwrap();
    let email = "hanako.erasure@example.jp";
    let news = business.join("news.db");
    {
        use sqlx::Connection;
        let url = format!("sqlite://{}?mode=rwc", news.display());
        let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "CREATE TABLE subscribers (email TEXT, topics TEXT, internal_code TEXT);
             INSERT INTO subscribers VALUES ('{email}', '新茶の案内', 'NL-0042'),
               ('someone.else@example.jp', '別人の購読', 'NL-0043');"
        )))
        .execute(&mut c)
        .await
        .unwrap();
        c.close().await.unwrap();
    }
    // Only the newsletter: no owner to wait for.
    let map = CONNECTOR_MAP
        .split("[[systems]]\nid = \"paper\"")
        .next()
        .unwrap()
        .to_owned()
        + &CONNECTOR_MAP
            .split("[[datasets]]")
            .nth(1)
            .map(|d| format!("[[datasets]]{d}"))
            .unwrap();
    let map_path = business.join("map.toml");
    std::fs::write(&map_path, &map).unwrap();
    let news_url: &'static str = Box::leak(format!("sqlite://{}", news.display()).into_boxed_str());
    let map_var: &'static str = Box::leak(map_path.display().to_string().into_boxed_str());
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        &[
            ("BROWSER_NEWS_URL", news_url),
            ("MADOGUCHI_DATAMAP", map_var),
        ],
    )
    .await;
    let mut body = valid_json(email);
    body["subject_name"] = "山田 花子".into();
    body["kind"] = "suspension_or_erasure".into();
    body["ground"] = "no_longer_needed".into();
    body.as_object_mut().unwrap().remove("delivery");
    let res = app.client.post_json("/api/v1/requests", &body).await;
    assert_eq!(res.status, 201, "{}", res.body);
    let pid = res.json()["id"].as_str().unwrap().to_owned();
    crate::answers::bring_in_progress(&app, pid.parse().unwrap(), email).await;

    let mut officer = Browser::open(app.addr, Viewport::Desktop, &shots, "officer").await;
    staff_login(&app, &mut officer, Role::Officer).await;
    let page = format!("/staff/requests/{pid}");
    let mut planned = false;
    for _ in 0..100 {
        officer.goto(&page).await;
        if officer.text().await.contains("消去の計画（実行前の確認）") {
            planned = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(planned, "the plan shows: {}", officer.text().await);
    officer.check("plan").await;
    officer
        .submit(&format!(
            "form[action='/staff/requests/{pid}/erase'] button"
        ))
        .await;
    let mut done = false;
    for _ in 0..100 {
        officer.goto(&page).await;
        if officer.text().await.contains("1 件を削除しました") {
            done = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(done, "the erasure is carried out: {}", officer.text().await);
    officer.check("erased").await;
    // The erasure's last job may still be writing its outcome (a new version of the request)
    // when its line shows: a completion sent from the page before it is refused as stale,
    // as it should be, and sent again from the fresh page.
    for _ in 0..3 {
        officer.goto(&page).await;
        officer.act("complete").await;
        if app.request(pid.parse().unwrap()).await.state == "fulfilled" {
            break;
        }
    }
    officer.check("completed").await;
    let state = app.request(pid.parse().unwrap()).await.state;
    assert_eq!(state, "fulfilled", "{}", officer.text().await);
    let rest = {
        use sqlx::Connection;
        let mut c = sqlx::SqliteConnection::connect(news_url).await.unwrap();
        sqlx::query_scalar::<_, String>("SELECT email FROM subscribers")
            .fetch_all(&mut c)
            .await
            .unwrap()
    };
    assert_eq!(rest, ["someone.else@example.jp"]);
    let mail = app
        .mails_to(email)
        .await
        .into_iter()
        .rev()
        .find(|m| m.text.contains("消去しました"))
        .expect("the notice");
    assert!(
        mail.text
            .contains("メールマガジン購読（メールマガジン）: 1 件を削除しました"),
        "{}",
        mail.text
    );
    let problems = officer.close().await;
    assert!(
        problems.is_empty(),
        "accessibility and page problems:\n{}",
        problems.join("\n")
    );
}

/// The privacy office's other duties in a real browser: a person writes to the complaints
/// desk (form, a refused field, the received page), an officer replies and closes it, and
/// records an incident and its notices' section; every page checked by axe-core.
async fn office_journey(app: TestApp, viewport: Viewport, name: &str) {
    if !browser_available() {
        return;
    }
    let shots = root().join("target/browser").join(name);
    let _ = std::fs::remove_dir_all(&shots);
    let mut person = Browser::open(app.addr, viewport, &shots, "person").await;
    person.goto("/complaints").await;
    person.check("complaint-form").await;
    // Sent without a kind: refused in words, what was typed kept.
    person.fill("#name", "相談 花子").await;
    person.fill("#email", "soudan@example.jp").await;
    person
        .fill(
            "#body",
            "退会後もメールマガジンが届きます。止めてください。",
        )
        .await;
    person
        .submit("form[action^='/complaints'] button[type=submit]")
        .await;
    person.check("complaint-refused").await;
    assert!(
        person
            .text()
            .await
            .contains("ご連絡の種別を選択してください。")
    );
    person.click("#kind-complaint").await;
    person
        .submit("form[action^='/complaints'] button[type=submit]")
        .await;
    person.check("complaint-received").await;
    assert!(person.text().await.contains("ご連絡を承りました"));

    let mut officer = Browser::open(app.addr, viewport, &shots, "officer").await;
    staff_login(&app, &mut officer, Role::Officer).await;
    officer.goto("/staff/complaints").await;
    officer.check("complaints").await;
    officer.click("table a[href^='/staff/complaints/']").await;
    officer.check("complaint").await;
    officer
        .fill(
            "#reply-text",
            "ご不便をおかけしました。メールマガジンの配信を停止いたしました。",
        )
        .await;
    officer.submit("form[action$='/reply'] button").await;
    officer.check("complaint-replied").await;
    assert!(officer.text().await.contains("回答済み（対応中）"));

    // An incident, and its notices' section.
    officer.goto("/staff/incidents/new").await;
    officer.check("incident-new").await;
    officer.fill("#aware-on", "2026年11月20日").await;
    officer.fill("#people", "3").await;
    officer.click("#special-care").await;
    officer
        .fill("#item-summary", "健康診断の結果を別の方に誤送信した。")
        .await;
    officer
        .submit("form[action='/staff/incidents'] button[type=submit]")
        .await;
    officer.check("incident").await;
    assert!(
        officer
            .text()
            .await
            .contains("本人への通知（法第26条第2項）")
    );

    let mut problems = person.close().await;
    problems.extend(officer.close().await);
    assert!(
        problems.is_empty(),
        "accessibility and page problems:\n{}",
        problems.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn office_journey_on_sqlite() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    office_journey(app, Viewport::Desktop, "office-desktop-sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn office_journey_on_a_phone() {
    let Some(app) = TestApp::spawn_postgres().await else {
        return;
    };
    office_journey(app, Viewport::Phone, "office-phone-postgres").await;
}

/// An officer signs in through the company's OpenID provider (a real one, `oidc-provider`),
/// with passwords turned off: the login page offers the organisation account only, the
/// provider's own login page takes the officer's name, and the browser comes back signed in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sso_journey_on_sqlite() {
    if !browser_available() {
        return;
    }
    let Some(provider) = crate::sso::Provider::start().await else {
        return;
    };
    let vars = provider.vars();
    let mut all: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    all.extend([
        ("MADOGUCHI_LOCAL_LOGIN", "false"),
        ("MADOGUCHI_OIDC_PROVISION", "true"),
    ]);
    let app = TestApp::spawn_with(Backend::Sqlite, &all).await;
    let shots = root().join("target/browser/sso-desktop-sqlite");
    let _ = std::fs::remove_dir_all(&shots);
    let mut officer = Browser::open(app.addr, Viewport::Desktop, &shots, "officer").await;
    officer.goto("/staff").await;
    assert_eq!(officer.path().await, "/staff/login");
    officer.check("login-sso").await;
    assert!(
        officer
            .web
            .find(Locator::Css("input[type=password]"))
            .await
            .is_err(),
        "no password field where passwords are off"
    );
    officer
        .submit("form[action='/staff/sso'] button[type=submit]")
        .await;
    assert!(
        officer
            .url()
            .await
            .starts_with(&format!("{}/interaction/", provider.issuer)),
        "at the provider: {}",
        officer.url().await
    );
    officer.fill("#login", "alice").await;
    officer.fill("#password", "anything").await;
    officer.submit("form button[type=submit]").await;
    // Back through the signed-in page, which opens the queue by itself.
    for _ in 0..100 {
        if officer.path().await == "/staff" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        officer.path().await,
        "/staff",
        "signed in and on the queue: {}",
        officer.text().await
    );
    officer.check("queue-after-sso").await;
    assert!(
        officer.text().await.contains("佐藤 花子"),
        "the provider's name is shown"
    );
    let problems = officer.close().await;
    assert!(
        problems.is_empty(),
        "accessibility and page problems:\n{}",
        problems.join("\n")
    );
}
