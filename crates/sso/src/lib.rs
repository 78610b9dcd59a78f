//! Staff single sign-on by OpenID Connect: this application is a confidential client of the
//! company's identity provider, using the authorization code flow with PKCE (S256), a state
//! and a nonce per login, and the ID token verified against the keys the provider publishes.
//!
//! The crate knows nothing of accounts or sessions: it makes the authorization URL and, given
//! the provider's answer and what was remembered of the login, returns the verified claims.
//! Where the login is remembered, and what the claims open, is the service's business.
//!
//! The provider's metadata and keys are fetched on first use, not at start (a provider that is
//! down must not stop the privacy office from starting), kept for an hour, and the keys are
//! fetched again when a token names a key not seen yet (the provider rotated its keys).

pub mod token;

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::sync::RwLock;

pub use token::{IdClaims, Jwks, TokenError};

/// How long a call to the provider may take.
const TIMEOUT: Duration = Duration::from_secs(10);
/// The largest answer read from the provider.
const MAX_BODY: usize = 1024 * 1024;
/// Metadata and keys are fetched again after this long.
const REFRESH: Duration = Duration::from_secs(3600);
/// Keys are fetched again for an unknown key id at most this often (a stream of tokens naming
/// made-up key ids must not make this server hammer the provider).
const KEYS_MIN_GAP: Duration = Duration::from_secs(10);

type Https = hyper_rustls::HttpsConnector<HttpConnector>;

/// Why a sign-in could not be completed. Never holds a token, a code or a claim's value.
#[derive(Debug, thiserror::Error)]
pub enum SsoError {
    /// The settings cannot work (an issuer that is not https, say).
    #[error("single sign-on is misconfigured: {0}")]
    Config(String),
    /// The provider could not be reached or answered something unreadable.
    #[error("the identity provider could not be used: {0}")]
    Provider(String),
    /// The provider refused the code (used already, expired, not for this client): its
    /// OAuth error code, e.g. `invalid_grant`.
    #[error("the identity provider refused the sign-in ({0})")]
    Refused(String),
    /// The answer at the callback named another issuer (a mix-up attack, RFC 9207).
    #[error("the answer came from another issuer")]
    WrongIssuer,
    /// The ID token failed a check.
    #[error(transparent)]
    Token(#[from] TokenError),
}

impl SsoError {
    /// A short reason for the audit trail, with no value from the provider but its error code.
    pub fn reason(&self) -> String {
        match self {
            SsoError::Config(_) => "sso_config".into(),
            SsoError::Provider(_) => "sso_provider_unreachable".into(),
            SsoError::Refused(code) => format!("sso_refused_{code}"),
            SsoError::WrongIssuer => "sso_wrong_issuer".into(),
            SsoError::Token(t) => format!(
                "sso_token_{}",
                match t {
                    TokenError::Malformed => "malformed",
                    TokenError::Algorithm(_) => "algorithm",
                    TokenError::UnknownKey => "unknown_key",
                    TokenError::Signature => "signature",
                    TokenError::Issuer => "issuer",
                    TokenError::Audience => "audience",
                    TokenError::Expired => "expired",
                    TokenError::Nonce => "nonce",
                    TokenError::Claim(_) => "claim",
                }
            ),
        }
    }
}

/// The relying party's settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The issuer URL; metadata is read from `<issuer>/.well-known/openid-configuration`.
    pub issuer: String,
    /// This application's client id at the provider.
    pub client_id: String,
    /// Its client secret.
    pub client_secret: SecretString,
    /// Where the provider sends the browser back (registered with the provider).
    pub redirect_uri: String,
    /// Scopes asked for, space-separated; `openid` is always among them.
    pub scopes: String,
}

/// A login begun: the URL to send the browser to, and what must be remembered (server side)
/// until it comes back.
#[derive(Debug, Clone)]
pub struct Authorization {
    /// The provider's authorization URL with every parameter.
    pub url: String,
    /// Echoed back by the provider: ties the answer to this login.
    pub state: String,
    /// Put into the ID token by the provider: ties the token to this login.
    pub nonce: String,
    /// The PKCE verifier, shown to the token endpoint only.
    pub verifier: String,
}

/// The provider's metadata (OpenID Connect Discovery 1.0 §3), what this client reads of it.
#[derive(Debug, Clone, Deserialize)]
struct Metadata {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    #[serde(default)]
    token_endpoint_auth_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    code_challenge_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    authorization_response_iss_parameter_supported: bool,
}

#[derive(Debug)]
struct Discovered {
    meta: Metadata,
    keys: Jwks,
    at: Instant,
    keys_at: Instant,
}

/// The relying party.
pub struct SsoClient {
    settings: Settings,
    http: HyperClient<Https, Full<Bytes>>,
    discovered: RwLock<Option<Discovered>>,
}

impl std::fmt::Debug for SsoClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SsoClient")
            .field("issuer", &self.settings.issuer)
            .field("client_id", &self.settings.client_id)
            .finish_non_exhaustive()
    }
}

/// A URL this client may call: https, or plain http to this machine only (a test provider).
fn checked_url(text: &str, what: &str) -> Result<url::Url, SsoError> {
    let url =
        url::Url::parse(text).map_err(|_| SsoError::Config(format!("the {what} is not a URL")))?;
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => return Err(SsoError::Config(format!("the {what} names no host"))),
    };
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        _ => Err(SsoError::Config(format!(
            "the {what} must use https (plain http only to this machine)"
        ))),
    }
}

fn random_b64(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("the operating system's random source failed");
    URL_SAFE_NO_PAD.encode(buf)
}

/// The PKCE challenge of a verifier (RFC 7636 §4.2, S256).
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// An OAuth error code as the provider sent it, kept only if it looks like one.
fn error_code(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct OauthError {
        error: String,
    }
    serde_json::from_slice::<OauthError>(body)
        .ok()
        .map(|e| e.error)
        .filter(|c| c.len() <= 40 && c.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_'))
        .unwrap_or_else(|| "unknown".into())
}

impl SsoClient {
    /// A client for these settings; nothing is fetched yet.
    pub fn new(settings: Settings) -> Result<SsoClient, SsoError> {
        checked_url(&settings.issuer, "issuer")?;
        // The redirect URI is this application's own address (its base URL), which the
        // provider checks against its registration; plain http there is a development set-up.
        url::Url::parse(&settings.redirect_uri)
            .map_err(|_| SsoError::Config("the redirect URI is not a URL".into()))?;
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(std::sync::Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .map_err(|e| SsoError::Config(e.to_string()))?
            .https_or_http()
            .enable_http1()
            .build();
        // No pooled connections: a sign-in makes three calls minutes apart, and a connection
        // the provider closed while idle would fail the next call.
        let http = HyperClient::builder(hyper_util::rt::TokioExecutor::new())
            .pool_max_idle_per_host(0)
            .build(https);
        Ok(SsoClient {
            settings,
            http,
            discovered: RwLock::new(None),
        })
    }

    /// The issuer, as configured.
    pub fn issuer(&self) -> &str {
        &self.settings.issuer
    }

    async fn call(&self, req: Request<Full<Bytes>>) -> Result<(StatusCode, Bytes), SsoError> {
        let answer = tokio::time::timeout(TIMEOUT, async {
            let res = self.http.request(req).await.map_err(|e| {
                SsoError::Provider(if e.is_connect() {
                    "no connection".into()
                } else {
                    "the connection failed".into()
                })
            })?;
            let status = res.status();
            let body = Limited::new(res.into_body(), MAX_BODY)
                .collect()
                .await
                .map_err(|_| SsoError::Provider("the answer was too long or broken off".into()))?
                .to_bytes();
            Ok::<_, SsoError>((status, body))
        })
        .await
        .map_err(|_| SsoError::Provider("no answer within 10 seconds".into()))??;
        Ok(answer)
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        url: &url::Url,
        what: &str,
    ) -> Result<T, SsoError> {
        let req = Request::builder()
            .method(Method::GET)
            .uri(url.as_str())
            .header(ACCEPT, "application/json")
            .body(Full::new(Bytes::new()))
            .map_err(|_| SsoError::Config(format!("the {what} URL cannot be requested")))?;
        let (status, body) = self.call(req).await?;
        if !status.is_success() {
            return Err(SsoError::Provider(format!("the {what} answered {status}")));
        }
        serde_json::from_slice(&body)
            .map_err(|_| SsoError::Provider(format!("the {what} is not the expected JSON")))
    }

    async fn fetch_metadata(&self) -> Result<Discovered, SsoError> {
        let base = self.settings.issuer.trim_end_matches('/');
        let url = checked_url(
            &format!("{base}/.well-known/openid-configuration"),
            "issuer",
        )?;
        let meta: Metadata = self.get_json(&url, "provider's metadata").await?;
        // The metadata must be the issuer's own (Discovery §4.3): a document naming another
        // issuer would let that issuer's tokens in.
        if meta.issuer != self.settings.issuer {
            return Err(SsoError::Provider(
                "the metadata names another issuer than the one configured".into(),
            ));
        }
        for (url, what) in [
            (&meta.authorization_endpoint, "authorization endpoint"),
            (&meta.token_endpoint, "token endpoint"),
            (&meta.jwks_uri, "key set"),
        ] {
            checked_url(url, what).map_err(|e| SsoError::Provider(e.to_string()))?;
        }
        if let Some(methods) = &meta.code_challenge_methods_supported
            && !methods.iter().any(|m| m == "S256")
        {
            return Err(SsoError::Provider(
                "the provider does not support PKCE with S256".into(),
            ));
        }
        let keys: Jwks = self
            .get_json(&checked_url(&meta.jwks_uri, "key set")?, "key set")
            .await?;
        let now = Instant::now();
        Ok(Discovered {
            meta,
            keys,
            at: now,
            keys_at: now,
        })
    }

    /// The metadata (fetched when missing or an hour old).
    async fn metadata(&self) -> Result<Metadata, SsoError> {
        if let Some(d) = self.discovered.read().await.as_ref()
            && d.at.elapsed() < REFRESH
        {
            return Ok(d.meta.clone());
        }
        let fresh = self.fetch_metadata().await?;
        let meta = fresh.meta.clone();
        *self.discovered.write().await = Some(fresh);
        Ok(meta)
    }

    /// Begins a login: fresh state, nonce and PKCE verifier, and the URL to send the browser.
    pub async fn authorization(&self) -> Result<Authorization, SsoError> {
        let meta = self.metadata().await?;
        let (state, nonce, verifier) = (random_b64(32), random_b64(32), random_b64(32));
        let mut url = url::Url::parse(&meta.authorization_endpoint)
            .map_err(|_| SsoError::Provider("the authorization endpoint is not a URL".into()))?;
        let mut scopes: Vec<&str> = self.settings.scopes.split_whitespace().collect();
        if !scopes.contains(&"openid") {
            scopes.insert(0, "openid");
        }
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.settings.client_id)
            .append_pair("redirect_uri", &self.settings.redirect_uri)
            .append_pair("scope", &scopes.join(" "))
            .append_pair("state", &state)
            .append_pair("nonce", &nonce)
            .append_pair("code_challenge", &pkce_challenge(&verifier))
            .append_pair("code_challenge_method", "S256");
        Ok(Authorization {
            url: url.into(),
            state,
            nonce,
            verifier,
        })
    }

    /// Completes a login: checks the answer's issuer, trades the code (with the verifier) for
    /// tokens, and verifies the ID token against the nonce. `iss` is the callback's `iss`
    /// parameter, if any.
    pub async fn finish(
        &self,
        code: &str,
        iss: Option<&str>,
        nonce: &str,
        verifier: &str,
        now_secs: i64,
    ) -> Result<IdClaims, SsoError> {
        let meta = self.metadata().await?;
        match iss {
            Some(i) if i != meta.issuer => return Err(SsoError::WrongIssuer),
            None if meta.authorization_response_iss_parameter_supported => {
                return Err(SsoError::WrongIssuer);
            }
            _ => {}
        }
        let id_token = self.exchange(&meta, code, verifier).await?;
        let expected = token::Expected {
            issuer: &meta.issuer,
            client_id: &self.settings.client_id,
            nonce,
            now: now_secs,
        };
        let keys = self.keys().await;
        match token::verify(&id_token, &keys, &expected) {
            Err(TokenError::UnknownKey) => {
                let keys = self.refetch_keys(&meta).await?;
                Ok(token::verify(&id_token, &keys, &expected)?)
            }
            other => Ok(other?),
        }
    }

    async fn keys(&self) -> Jwks {
        self.discovered
            .read()
            .await
            .as_ref()
            .map(|d| d.keys.clone())
            .unwrap_or_default()
    }

    /// The key set fetched again (key rotation), unless it was fetched moments ago.
    async fn refetch_keys(&self, meta: &Metadata) -> Result<Jwks, SsoError> {
        let mut guard = self.discovered.write().await;
        if let Some(d) = guard.as_ref()
            && d.keys_at.elapsed() < KEYS_MIN_GAP
        {
            return Ok(d.keys.clone());
        }
        let keys: Jwks = self
            .get_json(&checked_url(&meta.jwks_uri, "key set")?, "key set")
            .await?;
        if let Some(d) = guard.as_mut() {
            d.keys = keys.clone();
            d.keys_at = Instant::now();
        }
        Ok(keys)
    }

    /// The token request (RFC 6749 §4.1.3 with RFC 7636's verifier); returns the ID token.
    async fn exchange(
        &self,
        meta: &Metadata,
        code: &str,
        verifier: &str,
    ) -> Result<String, SsoError> {
        let secret = self.settings.client_secret.expose_secret();
        // client_secret_basic unless the provider offers only client_secret_post.
        let post_auth = meta
            .token_endpoint_auth_methods_supported
            .as_ref()
            .is_some_and(|m| {
                !m.iter().any(|x| x == "client_secret_basic")
                    && m.iter().any(|x| x == "client_secret_post")
            });
        // Built before any await: the serializer is not Send.
        let body = {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            form.append_pair("grant_type", "authorization_code")
                .append_pair("code", code)
                .append_pair("redirect_uri", &self.settings.redirect_uri)
                .append_pair("code_verifier", verifier);
            if post_auth {
                form.append_pair("client_id", &self.settings.client_id)
                    .append_pair("client_secret", secret);
            }
            form.finish()
        };
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(meta.token_endpoint.as_str())
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(ACCEPT, "application/json");
        if !post_auth {
            // RFC 6749 §2.3.1: each part form-encoded before the Basic encoding.
            let enc =
                |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            let basic =
                STANDARD.encode(format!("{}:{}", enc(&self.settings.client_id), enc(secret)));
            let mut value = HeaderValue::from_str(&format!("Basic {basic}"))
                .map_err(|_| SsoError::Config("the client credentials cannot be sent".into()))?;
            value.set_sensitive(true);
            req = req.header(AUTHORIZATION, value);
        }
        let req = req
            .body(Full::new(Bytes::from(body)))
            .map_err(|_| SsoError::Config("the token endpoint cannot be requested".into()))?;
        let (status, body) = self.call(req).await?;
        if status.is_client_error() {
            return Err(SsoError::Refused(error_code(&body)));
        }
        if !status.is_success() {
            return Err(SsoError::Provider(format!(
                "the token endpoint answered {status}"
            )));
        }
        #[derive(Deserialize)]
        struct TokenAnswer {
            id_token: Option<String>,
        }
        serde_json::from_slice::<TokenAnswer>(&body)
            .ok()
            .and_then(|t| t.id_token)
            .ok_or_else(|| SsoError::Provider("the token endpoint sent no ID token".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pkce_challenge_is_rfc_7636s_example() {
        // RFC 7636 Appendix B.
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn only_https_or_loopback_http_is_called() {
        for ok in [
            "https://login.example.jp",
            "http://127.0.0.1:4444",
            "http://localhost/x",
            "http://[::1]:80",
        ] {
            assert!(checked_url(ok, "issuer").is_ok(), "{ok}");
        }
        for bad in [
            "http://login.example.jp",
            "ftp://127.0.0.1",
            "not a url",
            "http://10.0.0.1",
            "file:///etc/passwd",
        ] {
            assert!(checked_url(bad, "issuer").is_err(), "{bad}");
        }
    }

    #[test]
    fn only_a_well_formed_oauth_error_code_is_kept() {
        assert_eq!(error_code(br#"{"error":"invalid_grant"}"#), "invalid_grant");
        assert_eq!(error_code(br#"{"error":"<script>"}"#), "unknown");
        assert_eq!(error_code(b"not json"), "unknown");
        assert_eq!(
            error_code(format!(r#"{{"error":"{}"}}"#, "a".repeat(41)).as_bytes()),
            "unknown"
        );
    }

    #[test]
    fn a_sign_in_can_be_awaited_on_any_thread() {
        fn is_send<T: Send>(_: &T) {}
        let client = SsoClient::new(Settings {
            issuer: "https://login.example.jp".into(),
            client_id: "c".into(),
            client_secret: SecretString::from("s".to_owned()),
            redirect_uri: "https://madoguchi.example.jp/staff/sso/callback".into(),
            scopes: "email".into(),
        })
        .unwrap();
        is_send(&client.authorization());
        is_send(&client.finish("code", None, "nonce", "verifier", 0));
    }

    #[test]
    fn state_nonce_and_verifier_are_long_and_fresh() {
        let (a, b) = (random_b64(32), random_b64(32));
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
    }
}
