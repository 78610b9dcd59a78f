//! Staff single sign-on against a real OpenID provider: `oidc-provider` from npm (a certified
//! implementation), started per test by `tests/oidc/provider.mjs` with a few people in groups.
//! The provider is driven as a browser would (its login form, its redirects, its cookies); the
//! attacks use the provider's two test-only endpoints to put a token of the attacker's making
//! into the token endpoint's answer, where a man in the middle or a rogue provider would.
//!
//! Node and `tests/oidc/node_modules` (`npm ci --prefix tests/oidc`) are needed; where missing
//! the tests are skipped with a message, unless `MADOGUCHI_SSO_TESTS=required` (CI sets it).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request};
use madoguchi_domain::Role;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::helpers::*;

const REDIRECT_URI: &str = "http://madoguchi.test/staff/sso/callback";
const CLIENT_ID: &str = "madoguchi";
const CLIENT_SECRET: &str = "madoguchi-test-client-secret";
const ROLES: &str = "madoguchi-admins=admin,madoguchi-officers=officer,madoguchi-auditors=auditor";

fn oidc_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/oidc")
}

/// The provider, killed when dropped.
pub struct Provider {
    child: tokio::process::Child,
    pub issuer: String,
    http: ProviderBrowser,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

impl Provider {
    /// Starts the provider, or `None` (with a message) where node or its packages are missing
    /// and the tests are not required.
    pub async fn start() -> Option<Provider> {
        let required = std::env::var("MADOGUCHI_SSO_TESTS").is_ok_and(|v| v == "required");
        let dir = oidc_dir();
        if !dir.join("node_modules/oidc-provider").exists() {
            assert!(
                !required,
                "SSO tests are required but tests/oidc/node_modules is missing (npm ci --prefix tests/oidc)"
            );
            eprintln!("SSO tests skipped: tests/oidc/node_modules missing");
            return None;
        }
        let mut child = tokio::process::Command::new("node")
            .arg(dir.join("provider.mjs"))
            .arg(REDIRECT_URI)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("node starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("the provider starts within 20 s")
            .unwrap()
            .expect("the provider prints its issuer");
        // The provider goes on writing notices to its output: read them, or its next write
        // to a closed pipe ends it.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let issuer = serde_json::from_str::<Value>(&first).unwrap()["issuer"]
            .as_str()
            .unwrap()
            .to_owned();
        Some(Provider {
            child,
            http: ProviderBrowser::default(),
            issuer,
        })
    }

    /// The application's settings for this provider.
    pub fn vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("MADOGUCHI_OIDC_ISSUER", self.issuer.clone()),
            ("MADOGUCHI_OIDC_CLIENT_ID", CLIENT_ID.into()),
            ("MADOGUCHI_OIDC_CLIENT_SECRET", CLIENT_SECRET.into()),
            ("MADOGUCHI_OIDC_ROLES", ROLES.into()),
            ("MADOGUCHI_OIDC_SCOPES", "email profile groups".into()),
        ]
    }

    /// A token signed with the provider's own key, or a stranger's under the same key id.
    async fn sign(&self, claims: Value, key: &str) -> String {
        let res = self
            .http
            .request(
                Method::POST,
                &format!("{}/test/sign", self.issuer),
                Some((
                    "application/json",
                    json!({"claims": claims, "key": key}).to_string(),
                )),
            )
            .await;
        assert_eq!(res.status, 200, "{}", res.body);
        res.body
    }

    /// The next answer of the token endpoint carries this ID token.
    async fn substitute_next_id_token(&self, token: &str) {
        let res = self
            .http
            .request(
                Method::POST,
                &format!("{}/test/next-id-token", self.issuer),
                Some(("application/json", json!({"id_token": token}).to_string())),
            )
            .await;
        assert_eq!(res.status, 204);
    }
}

/// The person's browser at the provider: its own cookies, redirects not followed.
#[derive(Clone, Default)]
pub struct ProviderBrowser {
    jar: Arc<Mutex<HashMap<String, String>>>,
}

pub struct Answer {
    pub status: u16,
    pub location: String,
    pub body: String,
}

impl ProviderBrowser {
    async fn request(&self, method: Method, url: &str, body: Option<(&str, String)>) -> Answer {
        let url = url::Url::parse(url).unwrap();
        let addr = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap());
        let stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let (mut tx, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .unwrap();
        tokio::spawn(conn);
        let path = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        };
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", addr.as_str());
        let cookies: Vec<String> = self
            .jar
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if !cookies.is_empty() {
            req = req.header("cookie", cookies.join("; "));
        }
        let bytes = match body {
            Some((ct, b)) => {
                req = req.header("content-type", ct);
                b.into_bytes()
            }
            None => Vec::new(),
        };
        let res = tx
            .send_request(req.body(Full::new(Bytes::from(bytes))).unwrap())
            .await
            .unwrap();
        for c in res.headers().get_all("set-cookie") {
            if let Some((kv, _)) = c.to_str().unwrap().split_once(';')
                && let Some((k, v)) = kv.split_once('=')
            {
                self.jar.lock().unwrap().insert(k.to_owned(), v.to_owned());
            }
        }
        let status = res.status().as_u16();
        let location = res
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let body = res.into_body().collect().await.unwrap().to_bytes();
        Answer {
            status,
            location: url.join(&location).map(String::from).unwrap_or(location),
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    /// Signs in at the provider as `login` and returns where it sends the browser back.
    async fn sign_in(&self, authorization_url: &str, login: &str) -> String {
        let res = self.request(Method::GET, authorization_url, None).await;
        assert_eq!(res.status, 303, "authorization: {}", res.body);
        let interaction = res.location;
        let form = self.request(Method::GET, &interaction, None).await;
        assert!(form.body.contains("name=\"login\""), "{}", form.body);
        let res = self
            .request(
                Method::POST,
                &format!("{interaction}/login"),
                Some((
                    "application/x-www-form-urlencoded",
                    format!("login={login}&password=anything"),
                )),
            )
            .await;
        assert_eq!(res.status, 303, "login at the provider: {}", res.body);
        let res = self.request(Method::GET, &res.location, None).await;
        assert_eq!(res.status, 303, "resume: {}", res.body);
        assert!(
            res.location.starts_with(REDIRECT_URI),
            "back to the app: {}",
            res.location
        );
        res.location
    }
}

/// A staff browser that has begun a sign-in; returns the provider's authorization URL, which
/// the page sends the browser on to (and links, for a browser that does not go by itself).
async fn begin(client: &Client) -> String {
    let csrf = client.get("/staff/login").await.csrf();
    let res = client
        .post_form("/staff/sso", &[("csrf", &csrf), ("next", "/staff")])
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(
        res.header("cache-control"),
        "no-store",
        "the link holds the state"
    );
    let marker = "<a id=\"provider\" href=\"";
    let start = res.body.find(marker).expect("a link to the provider") + marker.len();
    let url = unescape(res.body[start..].split('"').next().unwrap());
    assert!(
        res.body.contains(&format!(
            "http-equiv=\"refresh\" content=\"0; url={}",
            &res.body[start..].split('"').next().unwrap()
        )),
        "the page moves on by itself"
    );
    assert!(
        client.cookie("madoguchi_staff_sso").is_some(),
        "the sign-in is tied to this browser"
    );
    url
}

/// HTML attribute text back to the URL it spells.
fn unescape(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let end = rest[i..].find(';').expect("an entity ends") + i;
        let entity = &rest[i + 1..end];
        out.push(match entity {
            "amp" => '&',
            "quot" => '"',
            "lt" => '<',
            "gt" => '>',
            _ if entity.starts_with("#x") => {
                char::from_u32(u32::from_str_radix(&entity[2..], 16).unwrap()).unwrap()
            }
            _ if entity.starts_with('#') => char::from_u32(entity[1..].parse().unwrap()).unwrap(),
            other => panic!("entity {other}"),
        });
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

fn param(url: &str, name: &str) -> String {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("{name} in {url}"))
}

/// The app-relative path of the provider's answer.
fn local(callback: &str) -> String {
    callback
        .strip_prefix("http://madoguchi.test")
        .unwrap()
        .to_owned()
}

/// A whole sign-in as `login`; returns the staff browser and the callback's answer.
async fn sign_in(app: &TestApp, login: &str) -> (Client, Response) {
    let client = app.client.fresh();
    let auth = begin(&client).await;
    let back = ProviderBrowser::default().sign_in(&auth, login).await;
    let res = client.get(&local(&back)).await;
    (client, res)
}

async fn sso_app(backend: Backend, provider: &Provider, more: &[(&str, &str)]) -> TestApp {
    let vars = provider.vars();
    let mut all: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    all.extend_from_slice(more);
    match backend {
        Backend::Sqlite => TestApp::spawn_with(Backend::Sqlite, &all).await,
        Backend::Postgres => TestApp::spawn_postgres_with(&all)
            .await
            .expect("PostgreSQL"),
    }
}

async fn audit_reasons(app: &TestApp, action: &str) -> Vec<String> {
    madoguchi_store::entities::audit_entry::Entity::find()
        .filter(madoguchi_store::entities::audit_entry::Column::Action.eq(action))
        .all(app.service.db().conn())
        .await
        .unwrap()
        .into_iter()
        .map(|e| {
            let d: Value = serde_json::from_str(&e.detail).unwrap();
            d["reason"].as_str().unwrap_or_default().to_owned()
        })
        .collect()
}

async fn account(
    app: &TestApp,
    email: &str,
) -> Option<madoguchi_store::entities::staff_user::Model> {
    app.service
        .staff_users()
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.email == email)
}

/// The claims of a valid ID token for alice, for this login's nonce, in `groups`: what a token
/// substituted at the token endpoint starts from (each attack then changes one claim).
fn alices_claims(provider: &Provider, nonce: &str, groups: Value) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "iss": provider.issuer, "aud": CLIENT_ID, "sub": "alice", "nonce": nonce,
        "iat": now, "exp": now + 600, "email": "alice@example.jp", "email_verified": true,
        "name": "佐藤 花子", "groups": groups
    })
}

/// Whether this browser holds a working staff session.
async fn signed_in(client: &Client) -> bool {
    client.get("/staff").await.status == 200
}

async fn officers_and_admins_sign_in_with_roles_from_their_groups(backend: Backend) {
    let Some(provider) = Provider::start().await else {
        return;
    };
    let app = sso_app(backend, &provider, &[("MADOGUCHI_OIDC_PROVISION", "true")]).await;
    let page = app.client.get("/staff/login").await;
    assert!(
        page.body.contains("組織のアカウントでログイン"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("name=\"password\""),
        "passwords stay on by default"
    );
    // A deep link longer than a sign-in remembers goes to the queue instead (not a 500).
    let long = format!("/staff/requests?q={}", "x".repeat(600));
    let res = app
        .client
        .post_form("/staff/sso", &[("csrf", &page.csrf()), ("next", &long)])
        .await;
    assert_eq!(res.status, 200, "{}", res.body);

    let (alice, res) = sign_in(&app, "alice").await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert!(res.body.contains("ログインしました"));
    assert!(
        res.body
            .contains("http-equiv=\"refresh\" content=\"0; url=/staff\""),
        "the staff page opens from the page, where the same-site cookie is sent"
    );
    assert!(signed_in(&alice).await);
    assert_eq!(
        alice.get("/staff/admin/users").await.status,
        403,
        "the officers' group grants an officer"
    );
    let row = account(&app, "alice@example.jp")
        .await
        .expect("provisioned");
    assert_eq!(row.role, "officer");
    assert_eq!(row.name, "佐藤 花子");
    assert_eq!(
        row.sso_subject.as_deref(),
        Some(format!("{} alice", provider.issuer).as_str())
    );

    // Both the administrators' and the officers' groups: the wider role.
    let (root, res) = sign_in(&app, "root").await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(root.get("/staff/admin/users").await.status, 200);

    let (carol, _) = sign_in(&app, "carol").await;
    assert!(signed_in(&carol).await);
    assert_eq!(
        account(&app, "carol@example.jp").await.unwrap().role,
        "auditor"
    );

    // A second sign-in opens the same account (tied by subject), not a new one.
    let (_, res) = sign_in(&app, "alice").await;
    assert_eq!(res.status, 200);
    let alices = app
        .service
        .staff_users()
        .await
        .unwrap()
        .into_iter()
        .filter(|u| u.email == "alice@example.jp")
        .count();
    assert_eq!(alices, 1);

    // The role follows the provider: an administrator changed here is put back at sign-in.
    app.sql("UPDATE staff_users SET role = 'auditor' WHERE email = 'root@example.jp'")
        .await;
    let (root, _) = sign_in(&app, "root").await;
    assert_eq!(root.get("/staff/admin/users").await.status, 200);
    assert_eq!(
        account(&app, "root@example.jp").await.unwrap().role,
        "admin"
    );

    let succeeded = madoguchi_store::entities::audit_entry::Entity::find()
        .filter(madoguchi_store::entities::audit_entry::Column::Action.eq("login.succeeded"))
        .all(app.service.db().conn())
        .await
        .unwrap();
    assert_eq!(succeeded.len(), 5);
    assert!(
        succeeded
            .iter()
            .all(|e| e.detail.contains("\"method\":\"sso\""))
    );
    app.verify_audit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn officers_and_admins_sign_in_with_roles_from_their_groups_sqlite() {
    officers_and_admins_sign_in_with_roles_from_their_groups(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn officers_and_admins_sign_in_with_roles_from_their_groups_postgres() {
    if std::env::var("MADOGUCHI_TEST_POSTGRES").is_ok_and(|v| v == "skip") {
        return;
    }
    officers_and_admins_sign_in_with_roles_from_their_groups(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_without_an_account_or_a_role_are_refused_in_words() {
    let Some(provider) = Provider::start().await else {
        return;
    };
    // Provisioning off (the default).
    let app = sso_app(Backend::Sqlite, &provider, &[]).await;
    let (bob, res) = sign_in(&app, "bob").await;
    assert_eq!(res.status, 403);
    assert!(
        res.body.contains("担当者として登録されていません"),
        "{}",
        res.body
    );
    assert!(!signed_in(&bob).await);
    assert!(account(&app, "bob@example.jp").await.is_none());

    let (eve, res) = sign_in(&app, "eve").await;
    assert_eq!(res.status, 403);
    assert!(res.body.contains("権限がありません"), "{}", res.body);
    assert!(!signed_in(&eve).await);

    assert_eq!(
        audit_reasons(&app, "login.failed").await,
        vec!["sso_no_account", "sso_no_role"]
    );
    // A disabled account stays shut, whatever the provider says.
    let app = sso_app(
        Backend::Sqlite,
        &provider,
        &[("MADOGUCHI_OIDC_PROVISION", "true")],
    )
    .await;
    let (_, res) = sign_in(&app, "bob").await;
    assert_eq!(res.status, 200);
    let pid = account(&app, "bob@example.jp").await.unwrap().pid;
    app.service
        .update_staff_user(
            pid,
            None,
            Some(true),
            &madoguchi_domain::Actor::System,
            &Default::default(),
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    let (bob, res) = sign_in(&app, "bob").await;
    assert_eq!(res.status, 403);
    assert!(res.body.contains("無効になっています"), "{}", res.body);
    assert!(!signed_in(&bob).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_is_tied_by_a_verified_address_only_and_then_signs_in_there_only() {
    let Some(provider) = Provider::start().await else {
        return;
    };
    let app = sso_app(Backend::Sqlite, &provider, &[]).await;
    let (_, handed) = app
        .service
        .create_staff_user(
            "officer@example.jp",
            "担当 一郎",
            Role::Officer,
            &madoguchi_domain::Actor::System,
            &Default::default(),
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    // The provider vouches for the address without having verified it: nothing is tied.
    let (mallory, res) = sign_in(&app, "mallory").await;
    assert_eq!(res.status, 403);
    assert!(
        res.body.contains("自動ではつなげられません"),
        "{}",
        res.body
    );
    assert!(!signed_in(&mallory).await);
    assert!(
        account(&app, "officer@example.jp")
            .await
            .unwrap()
            .sso_subject
            .is_none()
    );

    // Verified: the account is tied to the subject, with the group's role.
    let (linked, res) = sign_in(&app, "linked").await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert!(signed_in(&linked).await);
    let row = account(&app, "officer@example.jp").await.unwrap();
    assert_eq!(row.sso_subject, Some(format!("{} linked", provider.issuer)));
    assert!(!row.must_change_password);
    assert!(
        audit_reasons(&app, "staff.sso_linked").await.len() == 1,
        "the tie is on the account's trail"
    );

    // Its password no longer opens it: leaving the company at the provider must take effect.
    let res = app
        .client
        .fresh()
        .post_login(&[("email", "officer@example.jp"), ("password", &handed)])
        .await;
    assert_eq!(res.status, 401);
    assert!(
        audit_reasons(&app, "login.failed")
            .await
            .contains(&"sso_account".to_owned())
    );
    // And the unverified claim to the same address still opens nothing.
    let (_, res) = sign_in(&app, "mallory").await;
    assert_eq!(res.status, 403);
}

/// Makes the claims of a substituted ID token from the login's nonce, and names the key.
type MakeToken<'a> = dyn Fn(&str) -> (Value, &'static str) + 'a;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_expired_misaddressed_and_replayed_tokens_open_nothing() {
    let Some(provider) = Provider::start().await else {
        return;
    };
    let app = sso_app(
        Backend::Sqlite,
        &provider,
        &[("MADOGUCHI_OIDC_PROVISION", "true")],
    )
    .await;
    let now = chrono::Utc::now().timestamp();
    let claims = |nonce: &str| alices_claims(&provider, nonce, json!(["madoguchi-admins"]));
    let with = |mut c: Value, k: &str, v: Value| {
        c[k] = v;
        c
    };
    // Each case: what the token endpoint answers instead, and the reason the trail records.
    let cases: Vec<(&str, Box<MakeToken>, &str)> = vec![
        (
            "forged",
            Box::new(|n| (claims(n), "stranger")),
            "sso_token_signature",
        ),
        (
            "expired",
            Box::new(|n| {
                (
                    with(
                        with(claims(n), "iat", json!(now - 7200)),
                        "exp",
                        json!(now - 3600),
                    ),
                    "provider",
                )
            }),
            "sso_token_expired",
        ),
        (
            "another audience",
            Box::new(|n| (with(claims(n), "aud", json!("other-app")), "provider")),
            "sso_token_audience",
        ),
        (
            "another login's nonce",
            Box::new(|_| (claims("a-nonce-of-another-login"), "provider")),
            "sso_token_nonce",
        ),
        (
            "another issuer",
            Box::new(|n| {
                (
                    with(claims(n), "iss", json!("https://evil.example")),
                    "provider",
                )
            }),
            "sso_token_issuer",
        ),
    ];
    for (what, make, reason) in &cases {
        let client = app.client.fresh();
        let auth = begin(&client).await;
        let (claims, key) = make(&param(&auth, "nonce"));
        let token = provider.sign(claims, key).await;
        provider.substitute_next_id_token(&token).await;
        let back = ProviderBrowser::default().sign_in(&auth, "eve").await;
        let res = client.get(&local(&back)).await;
        assert_eq!(res.status, 401, "{what}: {}", res.body);
        assert!(res.body.contains("確認できませんでした"), "{what}");
        assert!(!signed_in(&client).await, "{what} opened a session");
        assert_eq!(
            audit_reasons(&app, "login.failed")
                .await
                .last()
                .map(String::as_str),
            Some(*reason),
            "{what}"
        );
    }
    // An unsigned token ("alg": "none").
    let client = app.client.fresh();
    let auth = begin(&client).await;
    let b64 = |v: Value| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let unsigned = format!(
        "{}.{}.",
        b64(json!({"alg": "none"})),
        b64(claims(&param(&auth, "nonce")))
    );
    provider.substitute_next_id_token(&unsigned).await;
    let back = ProviderBrowser::default().sign_in(&auth, "eve").await;
    assert_eq!(client.get(&local(&back)).await.status, 401);
    assert!(!signed_in(&client).await);
    assert_eq!(
        audit_reasons(&app, "login.failed")
            .await
            .last()
            .map(String::as_str),
        Some("sso_token_algorithm")
    );
    assert!(
        account(&app, "alice@example.jp").await.is_none(),
        "no forged claim made an account"
    );
    app.verify_audit().await;
}

async fn answers_are_used_once_and_only_by_the_browser_that_began_them(backend: Backend) {
    let Some(provider) = Provider::start().await else {
        return;
    };
    let app = sso_app(backend, &provider, &[("MADOGUCHI_OIDC_PROVISION", "true")]).await;
    let client = app.client.fresh();
    let auth = begin(&client).await;
    let back = ProviderBrowser::default().sign_in(&auth, "alice").await;
    let answer = local(&back);
    // The answer arriving in another browser (an attacker's login forced on a victim): no
    // sign-in of that browser is waiting.
    let victim = app.client.fresh();
    let res = victim.get(&answer).await;
    assert_eq!(res.status, 400);
    assert!(res.body.contains("時間切れ"), "{}", res.body);
    assert!(!signed_in(&victim).await);
    // The right browser signs in once.
    assert_eq!(client.get(&answer).await.status, 200);
    assert!(signed_in(&client).await);
    // The same answer again (back button, or a replay): refused.
    let again = app.client.fresh();
    let auth2 = begin(&again).await;
    let res = again.get(&answer).await;
    assert_eq!(res.status, 400, "another login's state");
    assert!(!signed_in(&again).await);
    // The used code under a fresh sign-in's own state: the provider refuses it.
    let again = app.client.fresh();
    let auth3 = begin(&again).await;
    let replay = format!(
        "/staff/sso/callback?code={}&state={}&iss={}",
        param(&back, "code"),
        param(&auth3, "state"),
        urlencode(&provider.issuer)
    );
    let res = again.get(&replay).await;
    assert_eq!(res.status, 401, "{}", res.body);
    assert!(!signed_in(&again).await);
    // An answer naming another issuer (a mix-up): refused before the code is sent anywhere.
    let other = app.client.fresh();
    let auth4 = begin(&other).await;
    let mixed = format!(
        "/staff/sso/callback?code=abc&state={}&iss={}",
        param(&auth4, "state"),
        urlencode("https://evil.example")
    );
    assert_eq!(other.get(&mixed).await.status, 401);
    // The person stopped at the provider.
    let stopped = app.client.fresh();
    let auth5 = begin(&stopped).await;
    let res = stopped
        .get(&format!(
            "/staff/sso/callback?error=access_denied&state={}",
            param(&auth5, "state")
        ))
        .await;
    assert_eq!(res.status, 401);
    assert!(res.body.contains("完了しませんでした"), "{}", res.body);
    let _ = auth2;
    let reasons = audit_reasons(&app, "login.failed").await;
    assert_eq!(
        reasons,
        vec![
            "sso_no_pending_login",
            "sso_state_mismatch",
            "sso_refused_invalid_grant",
            "sso_wrong_issuer",
            "sso_provider_access_denied"
        ]
    );
    app.verify_audit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_are_used_once_and_only_by_the_browser_that_began_them_sqlite() {
    answers_are_used_once_and_only_by_the_browser_that_began_them(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_are_used_once_and_only_by_the_browser_that_began_them_postgres() {
    if std::env::var("MADOGUCHI_TEST_POSTGRES").is_ok_and(|v| v == "skip") {
        return;
    }
    answers_are_used_once_and_only_by_the_browser_that_began_them(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_can_be_turned_off_and_the_totp_rule_is_about_local_accounts() {
    let Some(provider) = Provider::start().await else {
        return;
    };
    let app = sso_app(
        Backend::Sqlite,
        &provider,
        &[
            ("MADOGUCHI_LOCAL_LOGIN", "false"),
            ("MADOGUCHI_REQUIRE_TOTP", "true"),
            ("MADOGUCHI_OIDC_PROVISION", "true"),
        ],
    )
    .await;
    let page = app.client.get("/staff/login").await;
    assert!(page.body.contains("組織のアカウントでログイン"));
    assert!(!page.body.contains("name=\"password\""), "no password form");
    let (email, password) = new_staff_account(&app, Role::Admin).await;
    let res = app
        .client
        .fresh()
        .post_login(&[("email", &email), ("password", &password)])
        .await;
    assert_eq!(res.status, 403);
    assert!(
        res.body.contains("パスワードでのログインは無効です"),
        "{}",
        res.body
    );
    // The provider's sign-in is the second factor: no TOTP set-up is forced on it.
    let (alice, res) = sign_in(&app, "alice").await;
    assert_eq!(res.status, 200);
    assert_eq!(
        alice.get("/staff").await.status,
        200,
        "not sent to set up TOTP"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_cannot_be_reached_is_said_in_words() {
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let issuer = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        &[
            ("MADOGUCHI_OIDC_ISSUER", issuer.as_str()),
            ("MADOGUCHI_OIDC_CLIENT_ID", CLIENT_ID),
            ("MADOGUCHI_OIDC_CLIENT_SECRET", CLIENT_SECRET),
            ("MADOGUCHI_OIDC_ROLES", ROLES),
        ],
    )
    .await;
    let client = app.client.fresh();
    let csrf = client.get("/staff/login").await.csrf();
    let res = client
        .post_form("/staff/sso", &[("csrf", &csrf), ("next", "/staff")])
        .await;
    assert_eq!(res.status, 502);
    assert!(res.body.contains("接続できませんでした"), "{}", res.body);
    // Without the form's token nothing starts.
    let res = client
        .fresh()
        .post_form("/staff/sso", &[("next", "/staff")])
        .await;
    assert_eq!(res.status, 403);
    // An issuer that is not https stops the start.
    let mut vars = std::collections::BTreeMap::new();
    for (k, v) in [
        ("MADOGUCHI_OIDC_ISSUER", "http://login.example.jp"),
        ("MADOGUCHI_OIDC_CLIENT_ID", CLIENT_ID),
        ("MADOGUCHI_OIDC_CLIENT_SECRET", CLIENT_SECRET),
        ("MADOGUCHI_OIDC_ROLES", ROLES),
        ("MADOGUCHI_DATA_DIR", app.dir.to_str().unwrap()),
        ("MADOGUCHI_LISTEN", "127.0.0.1:0"),
    ] {
        vars.insert(k.to_owned(), v.to_owned());
    }
    let config = madoguchi_config::Config::from_vars(&vars).unwrap();
    let Err(err) = madoguchi::Application::build(config).await else {
        panic!("an http issuer elsewhere than this machine was accepted");
    };
    assert!(format!("{err:#}").contains("https"), "{err:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn taken_out_of_every_group_at_the_provider_the_sessions_here_end() {
    let Some(provider) = Provider::start().await else {
        return;
    };
    let app = sso_app(
        Backend::Sqlite,
        &provider,
        &[("MADOGUCHI_OIDC_PROVISION", "true")],
    )
    .await;
    let (alice, res) = sign_in(&app, "alice").await;
    assert_eq!(res.status, 200);
    assert!(signed_in(&alice).await);
    // At the provider alice left the privacy office's group: her next sign-in carries none.
    let client = app.client.fresh();
    let auth = begin(&client).await;
    let token = provider
        .sign(
            alices_claims(&provider, &param(&auth, "nonce"), json!(["sales"])),
            "provider",
        )
        .await;
    provider.substitute_next_id_token(&token).await;
    let back = ProviderBrowser::default().sign_in(&auth, "alice").await;
    let res = client.get(&local(&back)).await;
    assert_eq!(res.status, 403);
    assert!(res.body.contains("権限がありません"), "{}", res.body);
    assert!(
        !signed_in(&alice).await,
        "the session she had open elsewhere ended"
    );
    assert_eq!(
        audit_reasons(&app, "staff.sessions_ended").await,
        vec!["sso_no_role"]
    );
    app.verify_audit().await;
}
