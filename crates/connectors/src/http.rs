//! HTTP systems (a SaaS, an internal API): each dataset is a declared `GET` of a path below
//! the system's base URL, the subject's values in query parameters, the records at a dotted
//! path of the JSON answer, further pages by cursor, page number or `Link` header.
//!
//! What the service answers is checked, not trusted: a record is kept only when its fields
//! equal the values asked for, so a service that ignores a filter cannot hand over another
//! person's records. Requests are paced (`rate_per_sec`), each has the system's timeout, and
//! 429 and 5xx answers are retried with backoff (a `Retry-After` in seconds is honoured).
//! Redirects are not followed, and URLs (which hold the subject's values) are never put in an
//! error.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{HeaderName, HeaderValue};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use madoguchi_datamap::{Dataset, Pages, System};
use serde_json::Value;
use tokio::sync::Mutex;

use crate::{ConnectorError, DEFAULT_TIMEOUT_SECS, Env, Lookup};

/// Tries per request: the first and three retries.
const TRIES: u32 = 4;
/// The longest wait a `Retry-After` may ask for.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);
/// The largest answer read, per page.
const MAX_BODY: usize = 16 * 1024 * 1024;
/// Pages read per lookup at most: a service that never ends its list is stopped.
const MAX_PAGES: usize = 1000;
/// Requests per second when the map sets none.
pub const DEFAULT_RATE_PER_SEC: u32 = 5;

type Https = hyper_rustls::HttpsConnector<HttpConnector>;

/// A connection to one HTTP system.
pub(crate) struct Client {
    system: String,
    inner: HyperClient<Https, Full<Bytes>>,
    base: url::Url,
    headers: Vec<(HeaderName, HeaderValue)>,
    timeout: Duration,
    /// The shortest time between two requests, and when the last was sent.
    gap: Duration,
    last: Mutex<Option<Instant>>,
}

impl Client {
    pub(crate) fn new(system: &System, env: Env<'_>) -> Result<Client, ConnectorError> {
        let id = system.id.get_ref().clone();
        let base_text = crate::url_of(system, env)?;
        let base = url::Url::parse(&base_text)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            .ok_or_else(|| ConnectorError::Unreachable {
                system: id.clone(),
                reason: "the base URL is not an http(s) URL".into(),
            })?;
        // A token and a person's address never cross a network in clear: plain HTTP only to
        // this machine.
        if base.scheme() == "http" && !is_loopback(&base) {
            return Err(ConnectorError::Unreachable {
                system: id,
                reason: "the base URL must use https (plain http only to this machine)".into(),
            });
        }
        let missing = |variable: &str| ConnectorError::MissingCredentials {
            system: id.clone(),
            variable: variable.to_owned(),
        };
        let bad_value = |variable: &str| ConnectorError::Unreachable {
            system: id.clone(),
            reason: format!("the value of {variable} cannot be sent in a header"),
        };
        let mut headers = Vec::new();
        if let Some(var) = &system.connector.token_env {
            let token = env(var.get_ref()).ok_or_else(|| missing(var.get_ref()))?;
            let mut value = HeaderValue::from_str(&format!("Bearer {}", token.trim()))
                .map_err(|_| bad_value(var.get_ref()))?;
            value.set_sensitive(true);
            headers.push((hyper::header::AUTHORIZATION, value));
        }
        for (name, var) in &system.connector.headers_env {
            let v = env(var.get_ref()).ok_or_else(|| missing(var.get_ref()))?;
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad_value(name))?;
            let mut value =
                HeaderValue::from_str(v.trim()).map_err(|_| bad_value(var.get_ref()))?;
            value.set_sensitive(true);
            headers.push((name, value));
        }
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls_ring())
            .map_err(|e| ConnectorError::Unreachable {
                system: id.clone(),
                reason: e.to_string(),
            })?
            .https_or_http()
            .enable_http1()
            .build();
        let inner = HyperClient::builder(hyper_util::rt::TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(https);
        let rate = system
            .connector
            .rate_per_sec
            .unwrap_or(DEFAULT_RATE_PER_SEC)
            .max(1);
        Ok(Client {
            system: id,
            inner,
            base,
            headers,
            timeout: Duration::from_secs(u64::from(
                system
                    .connector
                    .timeout_secs
                    .unwrap_or(DEFAULT_TIMEOUT_SECS),
            )),
            gap: Duration::from_secs(1) / rate,
            last: Mutex::new(None),
        })
    }

    /// The URL of a dataset's location below the base (the base's own path kept).
    fn url_of(&self, d: &Dataset) -> url::Url {
        let mut url = self.base.clone();
        let location = d.location.as_deref().unwrap_or("/");
        let path = format!("{}{}", self.base.path().trim_end_matches('/'), location);
        url.set_path(&path);
        url.set_query(None);
        url
    }

    /// The URL of a path below the base (the base's own path kept); `path` is already
    /// percent-encoded.
    pub(crate) fn url_at(&self, path: &str) -> url::Url {
        let mut url = self.base.clone();
        url.set_path(&format!(
            "{}{}",
            self.base.path().trim_end_matches('/'),
            path
        ));
        url.set_query(None);
        url
    }

    /// Waits until the next request may be sent.
    async fn pace(&self) {
        let mut last = self.last.lock().await;
        if let Some(t) = *last {
            let next = t + self.gap;
            let now = Instant::now();
            if next > now {
                tokio::time::sleep(next - now).await;
            }
        }
        *last = Some(Instant::now());
    }

    /// One `GET`, retried on 429, 5xx and lost connections: the JSON answer and the next
    /// page's URL from a `Link` header.
    async fn get(
        &self,
        d: &Dataset,
        url: &url::Url,
    ) -> Result<(Value, Option<url::Url>), ConnectorError> {
        let dataset = d.id.get_ref().clone();
        let (parts, body) = self
            .exchange(&dataset, hyper::Method::GET, url, None, None)
            .await?;
        let json: Value = serde_json::from_slice(&body).map_err(|e| ConnectorError::Query {
            dataset: dataset.clone(),
            // serde_json's words name a line and column, never the text.
            reason: format!("the answer is not JSON ({})", e.classify_words()),
        })?;
        let next = next_link(&parts.headers, url);
        if next
            .as_ref()
            .is_some_and(|n| n.origin() != self.base.origin())
        {
            // The token would go there: not followed, and not half a list.
            return Err(ConnectorError::Query {
                dataset,
                reason: "the next page is on another site; it is not followed".into(),
            });
        }
        Ok((json, next))
    }

    /// A call that changes records (a declared `delete_call` or `update_call`), with an
    /// `Idempotency-Key` that stays the same when the call is tried again (by this job after
    /// an outage, or by the job resumed after a crash), so a service that honours it does the
    /// change once. Whether the record was there (`false`: 404 or 410, already gone).
    pub(crate) async fn call(
        &self,
        dataset: &str,
        method: madoguchi_datamap::CallMethod,
        url: &url::Url,
        body: Option<&Value>,
        idempotency: &str,
    ) -> Result<bool, ConnectorError> {
        let method = hyper::Method::from_bytes(method.as_str().as_bytes())
            .expect("declared methods are valid");
        let body = body.map(|b| serde_json::to_vec(b).expect("JSON serialises"));
        let (parts, _) = self
            .exchange(dataset, method, url, body.as_deref(), Some(idempotency))
            .await?;
        Ok(parts.status.is_success())
    }

    /// Sends one request, retried on 429, 5xx, timeouts and lost connections; the answer of
    /// a success, or of 404/410 to a `DELETE` (gone already). Every other status is an error
    /// that names no URL.
    async fn exchange(
        &self,
        dataset: &str,
        method: hyper::Method,
        url: &url::Url,
        body: Option<&[u8]>,
        idempotency: Option<&str>,
    ) -> Result<(hyper::http::response::Parts, Bytes), ConnectorError> {
        let dataset = dataset.to_owned();
        let mut last_reason = String::new();
        for attempt in 0..TRIES {
            self.pace().await;
            let mut request = hyper::Request::builder()
                .method(method.clone())
                .uri(url.as_str())
                .header(hyper::header::ACCEPT, "application/json")
                .header(hyper::header::USER_AGENT, "madoguchi-connector");
            if body.is_some() {
                request = request.header(hyper::header::CONTENT_TYPE, "application/json");
            }
            if let Some(key) = idempotency {
                request = request.header("Idempotency-Key", key);
            }
            for (name, value) in &self.headers {
                request = request.header(name, value);
            }
            let request = request
                .body(Full::new(Bytes::copy_from_slice(body.unwrap_or_default())))
                .map_err(|e| ConnectorError::Query {
                    dataset: dataset.clone(),
                    reason: format!("the request could not be built ({e})"),
                })?;
            let answer = tokio::time::timeout(self.timeout, async {
                let response = self.inner.request(request).await?;
                let (parts, body) = response.into_parts();
                let body = Limited::new(body, MAX_BODY).collect().await;
                Ok::<_, hyper_util::client::legacy::Error>((parts, body))
            })
            .await;
            let retry_after;
            match answer {
                Err(_) => {
                    // No answer in time: tried again like an outage, then reported as a
                    // timeout.
                    if attempt + 1 == TRIES {
                        return Err(ConnectorError::Timeout {
                            dataset,
                            secs: self.timeout.as_secs(),
                        });
                    }
                    last_reason = format!("no answer within {} s", self.timeout.as_secs());
                    retry_after = None;
                }
                Ok(Err(e)) => {
                    // A connection refused or reset: the error names the host, not the path.
                    last_reason = connect_reason(&e).to_owned();
                    retry_after = None;
                }
                Ok(Ok((parts, body))) => {
                    let status = parts.status;
                    let gone =
                        method == hyper::Method::DELETE && matches!(status.as_u16(), 404 | 410);
                    if status.is_success() || gone {
                        let body = body.map_err(|_| ConnectorError::Query {
                            dataset: dataset.clone(),
                            reason: format!(
                                "the answer was cut off or larger than {} MiB",
                                MAX_BODY >> 20
                            ),
                        })?;
                        return Ok((parts, body.to_bytes()));
                    }
                    if status.is_redirection() {
                        return Err(ConnectorError::Query {
                            dataset,
                            reason: format!(
                                "HTTP {}: redirects are not followed; give the final URL",
                                status.as_u16()
                            ),
                        });
                    }
                    if status.as_u16() == 401 || status.as_u16() == 403 {
                        return Err(ConnectorError::Unreachable {
                            system: self.system.clone(),
                            reason: format!(
                                "HTTP {}: the service refused the credentials",
                                status.as_u16()
                            ),
                        });
                    }
                    if status.as_u16() != 429 && !status.is_server_error() {
                        return Err(ConnectorError::Query {
                            dataset,
                            reason: format!("HTTP {}", status.as_u16()),
                        });
                    }
                    last_reason = format!("HTTP {}", status.as_u16());
                    retry_after = parts
                        .headers
                        .get(hyper::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(|s| Duration::from_secs(s).min(MAX_RETRY_AFTER));
                }
            }
            if attempt + 1 < TRIES {
                let backoff = Duration::from_millis(250 << attempt);
                tokio::time::sleep(retry_after.unwrap_or(backoff)).await;
            }
        }
        Err(ConnectorError::Unreachable {
            system: self.system.clone(),
            reason: format!("{last_reason} after {TRIES} tries"),
        })
    }

    /// Checks that the service answers at its base URL with the credentials given, without
    /// asking for anyone's records.
    pub(crate) async fn check(&self) -> Result<(), ConnectorError> {
        self.pace().await;
        let mut request = hyper::Request::get(self.base.as_str());
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        let request =
            request
                .body(Full::new(Bytes::new()))
                .map_err(|e| ConnectorError::Unreachable {
                    system: self.system.clone(),
                    reason: e.to_string(),
                })?;
        let unreachable = |reason: String| ConnectorError::Unreachable {
            system: self.system.clone(),
            reason,
        };
        let response = tokio::time::timeout(self.timeout, self.inner.request(request))
            .await
            .map_err(|_| unreachable(format!("no answer within {} s", self.timeout.as_secs())))?
            .map_err(|e| unreachable(format!("could not connect ({})", connect_reason(&e))))?;
        let status = response.status().as_u16();
        match status {
            401 | 403 => Err(unreachable(format!(
                "HTTP {status}: the service refused the credentials"
            ))),
            500.. => Err(unreachable(format!("HTTP {status}"))),
            _ => Ok(()),
        }
    }
}

/// Whether a URL's host is this machine.
pub(crate) fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

fn rustls_ring() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    std::sync::Arc::new(rustls::crypto::ring::default_provider())
}

/// Why a connection failed, in words that hold no URL.
fn connect_reason(e: &hyper_util::client::legacy::Error) -> &'static str {
    if e.is_connect() {
        "connection refused or unreachable"
    } else {
        "the connection was lost"
    }
}

trait ClassifyWords {
    fn classify_words(&self) -> String;
}

impl ClassifyWords for serde_json::Error {
    fn classify_words(&self) -> String {
        format!("line {}, column {}", self.line(), self.column())
    }
}

/// The `rel="next"` target of a `Link` header, resolved against the page's URL.
fn next_link(headers: &hyper::HeaderMap, page: &url::Url) -> Option<url::Url> {
    for value in headers.get_all(hyper::header::LINK) {
        let Ok(text) = value.to_str() else { continue };
        // `<url>; rel="next", <url>; rel="prev"`: a URL may itself hold commas, so each link
        // is read from its `<` to its `>`, then its parameters up to the next `<`.
        let mut rest = text;
        while let Some(start) = rest.find('<') {
            let after = &rest[start + 1..];
            let Some(end) = after.find('>') else { break };
            let target = &after[..end];
            let params_all = &after[end + 1..];
            let params = params_all
                .find('<')
                .map_or(params_all, |n| &params_all[..n]);
            let next = params.split([';', ',']).any(|p| {
                p.trim()
                    .to_ascii_lowercase()
                    .strip_prefix("rel=")
                    .is_some_and(|r| r.trim_matches('"').split_whitespace().any(|r| r == "next"))
            });
            if next {
                return page.join(target).ok();
            }
            rest = params_all;
        }
    }
    None
}

/// The value at a dotted path of a JSON value.
fn at<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.')
        .try_fold(value, |v, key| v.as_object().and_then(|o| o.get(key)))
}

/// A JSON value as the text a row holds: strings as they are, numbers and booleans written
/// out, objects and lists as compact JSON, null as no value.
fn as_text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        other => Some(other.to_string()),
    }
}

/// Reads the subject's records of one HTTP dataset: one lookup per combination of the
/// finders' values, every page of each, each record checked against the values asked for.
pub(crate) async fn read_dataset(
    client: &Client,
    d: &Dataset,
    lookups: Vec<Vec<Lookup>>,
    limit: u32,
) -> Result<Vec<Vec<Option<String>>>, ConnectorError> {
    let mut rows: Vec<Vec<Option<String>>> = Vec::new();
    let mut seen: BTreeSet<Vec<Option<String>>> = BTreeSet::new();
    for lookup in lookups {
        let mut url = client.url_of(d);
        {
            let mut query = url.query_pairs_mut();
            for l in &lookup {
                query.append_pair(&l.param, &l.value);
            }
        }
        let mut page_number = 1u64;
        for page in 0.. {
            if page >= MAX_PAGES {
                return Err(ConnectorError::Query {
                    dataset: d.id.get_ref().clone(),
                    reason: format!("the service kept answering after {MAX_PAGES} pages"),
                });
            }
            let (json, link) = client.get(d, &url).await?;
            let records = match &d.records {
                Some(path) => at(&json, path),
                None => Some(&json),
            }
            .and_then(Value::as_array)
            .ok_or_else(|| ConnectorError::Query {
                dataset: d.id.get_ref().clone(),
                reason: match &d.records {
                    Some(path) => format!("the answer has no list at {path:?}"),
                    None => "the answer is not a list".into(),
                },
            })?;
            let mut new = 0;
            for record in records {
                // Only what was asked for: every condition's field equals its value.
                // E-mail addresses are compared without case (services often match so).
                let matches = lookup.iter().all(|l| {
                    as_text(at(record, &l.field)).is_some_and(|v| {
                        if l.any_case {
                            v.trim().eq_ignore_ascii_case(l.value.trim())
                        } else {
                            v.trim() == l.value.trim()
                        }
                    })
                });
                if !matches {
                    continue;
                }
                let row: Vec<Option<String>> = d
                    .fields
                    .iter()
                    .map(|f| as_text(at(record, f.name.get_ref())))
                    .collect();
                if seen.insert(row.clone()) {
                    rows.push(row);
                    new += 1;
                }
                if rows.len() > limit as usize {
                    return Err(ConnectorError::TooManyRows {
                        dataset: d.id.get_ref().clone(),
                        limit,
                    });
                }
            }
            let next = match &d.pages {
                None => None,
                Some(Pages::Link) => link,
                Some(Pages::Cursor { param, next }) => as_text(at(&json, next))
                    .filter(|c| !c.trim().is_empty())
                    .map(|cursor| with_param(&url, param, &cursor)),
                // A page that brings nothing new ends a numbered list (also one whose service
                // ignores the page number and repeats the first).
                Some(Pages::Number { param }) => (!records.is_empty() && new > 0).then(|| {
                    page_number += 1;
                    with_param(&url, param, &page_number.to_string())
                }),
            };
            match next {
                Some(n) if n != url => url = n,
                _ => break,
            }
        }
    }
    Ok(rows)
}

/// The URL with one query parameter set (replaced if present).
fn with_param(url: &url::Url, name: &str, value: &str) -> url::Url {
    let mut out = url.clone();
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != name)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    out.query_pairs_mut()
        .clear()
        .extend_pairs(kept)
        .append_pair(name, value);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_read_at_dotted_paths_as_text() {
        let v: Value = serde_json::json!({
            "a": {"b": "x", "n": 12, "t": true, "z": null, "l": [1, 2]}
        });
        assert_eq!(as_text(at(&v, "a.b")), Some("x".into()));
        assert_eq!(as_text(at(&v, "a.n")), Some("12".into()));
        assert_eq!(as_text(at(&v, "a.t")), Some("true".into()));
        assert_eq!(as_text(at(&v, "a.z")), None);
        assert_eq!(as_text(at(&v, "a.missing")), None);
        assert_eq!(as_text(at(&v, "a.l")), Some("[1,2]".into()));
        assert_eq!(as_text(at(&v, "a.b.c")), None);
    }

    #[test]
    fn the_next_link_is_found_and_resolved() {
        let mut h = hyper::HeaderMap::new();
        h.insert(
            hyper::header::LINK,
            HeaderValue::from_static(
                "<https://api.example/p?page=1>; rel=\"prev\", </p?page=3>; rel=\"next\"",
            ),
        );
        let page = url::Url::parse("https://api.example/p?page=2").unwrap();
        assert_eq!(
            next_link(&h, &page).unwrap().as_str(),
            "https://api.example/p?page=3"
        );
        assert_eq!(next_link(&hyper::HeaderMap::new(), &page), None);
    }

    #[test]
    fn links_with_commas_and_several_rels_are_read() {
        let mut h = hyper::HeaderMap::new();
        h.insert(
            hyper::header::LINK,
            HeaderValue::from_static(
                "</p?ids=1,2&page=1>; rel=\"prev first\", </p?ids=1,2&page=3>; rel=\"next\"",
            ),
        );
        let page = url::Url::parse("https://api.example/p?ids=1,2&page=2").unwrap();
        assert_eq!(
            next_link(&h, &page).unwrap().as_str(),
            "https://api.example/p?ids=1,2&page=3"
        );
    }

    #[test]
    fn plain_http_goes_to_this_machine_only() {
        let u = |s: &str| url::Url::parse(s).unwrap();
        assert!(is_loopback(&u("http://127.0.0.1:8091")));
        assert!(is_loopback(&u("http://localhost/api")));
        assert!(is_loopback(&u("http://[::1]:80")));
        assert!(!is_loopback(&u("http://points.example.jp")));
        assert!(!is_loopback(&u("http://10.0.0.5")));
    }

    #[test]
    fn a_parameter_is_replaced_not_repeated() {
        let u = url::Url::parse("http://h/p?email=a%40b&cursor=1").unwrap();
        assert_eq!(
            with_param(&u, "cursor", "2").as_str(),
            "http://h/p?email=a%40b&cursor=2"
        );
    }
}
