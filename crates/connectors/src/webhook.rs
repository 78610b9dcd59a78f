//! Sending a webhook: one signed `POST` of JSON to an endpoint an administrator registered,
//! over the same hyper client and TLS roots the HTTP connectors use. Plain HTTP only to this
//! machine; redirects are not followed; the answer's body is not read beyond a little.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;

type Https = hyper_rustls::HttpsConnector<HttpConnector>;

/// A client for webhook deliveries (kept and reused: it pools connections).
#[derive(Clone, Debug)]
pub struct WebhookClient {
    inner: HyperClient<Https, Full<Bytes>>,
    timeout: Duration,
}

/// Whether a URL may receive webhooks: https, or http to this machine.
pub fn acceptable_url(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|u| {
        u.host().is_some()
            && (u.scheme() == "https" || (u.scheme() == "http" && super::http::is_loopback(&u)))
    })
}

/// A URL as typed, checked and written as parsed: no control character, no user or
/// password, no fragment, https (plain http to this machine only), at most 500 characters.
/// Returns it with its host.
pub fn checked_url(typed: &str) -> Option<(String, String)> {
    let typed = typed.trim();
    if typed.chars().any(char::is_control) {
        return None;
    }
    let u = url::Url::parse(typed).ok()?;
    if !u.username().is_empty() || u.password().is_some() || u.fragment().is_some() {
        return None;
    }
    let written = u.as_str().to_owned();
    (written.chars().count() <= 500 && acceptable_url(&written))
        .then(|| (written, u.host_str().unwrap_or_default().to_owned()))
}

impl WebhookClient {
    /// A client whose every try ends after `timeout`.
    pub fn new(timeout: Duration) -> Result<WebhookClient, String> {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(std::sync::Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .map_err(|e| e.to_string())?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(WebhookClient {
            inner: HyperClient::builder(hyper_util::rt::TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(30))
                .build(https),
            timeout,
        })
    }

    /// Posts `body` with `headers`; the status the receiver answered, or why there was none
    /// (in words that hold no URL).
    pub async fn post(
        &self,
        url: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<u16, String> {
        if !acceptable_url(url) {
            return Err("the endpoint must use https (plain http only to this machine)".into());
        }
        let mut request = hyper::Request::builder()
            .method(hyper::Method::POST)
            .uri(url)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(hyper::header::USER_AGENT, "madoguchi-webhook");
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|_| "the request could not be built".to_owned())?;
        let answer = tokio::time::timeout(self.timeout, async {
            let response = self.inner.request(request).await?;
            let status = response.status().as_u16();
            // Read a little of the answer so the connection can be reused; ignore it.
            let _ = Limited::new(response.into_body(), 4096).collect().await;
            Ok::<_, hyper_util::client::legacy::Error>(status)
        })
        .await;
        match answer {
            Err(_) => Err(format!("no answer within {} s", self.timeout.as_secs())),
            Ok(Err(e)) if e.is_connect() => Err("connection refused or unreachable".into()),
            Ok(Err(_)) => Err("the connection was lost".into()),
            Ok(Ok(status)) => Ok(status),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_is_kept_only_when_it_is_safe_to_send_to() {
        assert_eq!(
            checked_url(" https://hooks.example.jp/madoguchi "),
            Some((
                "https://hooks.example.jp/madoguchi".to_owned(),
                "hooks.example.jp".to_owned()
            ))
        );
        assert!(checked_url("http://127.0.0.1:9000/hook").is_some());
        for bad in [
            "http://hooks.example.jp/h",
            "ftp://hooks.example.jp/h",
            "https://user:pass@hooks.example.jp/h",
            "https://hooks.example.jp/h#frag",
            "https://exa\nmple.jp/h",
            "hooks.example.jp/h",
        ] {
            assert_eq!(checked_url(bad), None, "{bad:?}");
        }
        assert_eq!(
            checked_url(&format!("https://h.example.jp/{}", "a".repeat(500))),
            None
        );
    }
}
