//! Small extractors shared by handlers.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::USER_AGENT;
use axum::http::request::Parts;
use madoguchi_config::Network;
use madoguchi_service::Origin;

use crate::state::AppState;

/// Where a request came from, for the audit trail and the per-address limits. Behind a
/// trusted reverse proxy (`MADOGUCHI_TRUSTED_PROXIES`) the client is the right-most
/// `X-Forwarded-For` entry that is not itself a trusted proxy: entries further left were
/// written by the client and prove nothing.
#[derive(Debug, Clone)]
pub struct ClientOrigin(pub Origin);

/// The client's address given the TCP peer and the `X-Forwarded-For` values.
pub fn client_ip(peer: IpAddr, forwarded: &[&str], trusted: &[Network]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let hops: Vec<&str> = forwarded
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(ip) if is_trusted(ip) => client = ip,
            Ok(ip) => return ip,
            // Garbage in the chain: stop at the last address we can vouch for.
            Err(_) => return client,
        }
    }
    client
}

impl FromRequestParts<AppState> for ClientOrigin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let forwarded: Vec<&str> = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| client_ip(c.0.ip(), &forwarded, &state.config.trusted_proxies).to_string());
        let user_agent = parts
            .headers
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(200).collect());
        Ok(ClientOrigin(Origin { ip, user_agent }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let proxies = [Network::parse("10.0.0.0/8").unwrap()];
        // Straight from the internet: the header is the client's own words.
        assert_eq!(
            client_ip(ip("203.0.113.9"), &["1.2.3.4"], &proxies),
            ip("203.0.113.9")
        );
        // Through our proxy.
        assert_eq!(
            client_ip(ip("10.0.0.2"), &["198.51.100.7"], &proxies),
            ip("198.51.100.7")
        );
        // A client that forges a first hop is still seen at the address our proxy saw.
        assert_eq!(
            client_ip(ip("10.0.0.2"), &["1.1.1.1, 198.51.100.7"], &proxies),
            ip("198.51.100.7")
        );
        // Two proxies of ours, and the header split over two lines.
        assert_eq!(
            client_ip(ip("10.0.0.2"), &["198.51.100.7", "10.0.0.5"], &proxies),
            ip("198.51.100.7")
        );
        // No header, or garbage: the last address we can vouch for.
        assert_eq!(client_ip(ip("10.0.0.2"), &[], &proxies), ip("10.0.0.2"));
        assert_eq!(
            client_ip(ip("10.0.0.2"), &["unknown"], &proxies),
            ip("10.0.0.2")
        );
        // Nobody trusted: the peer, whatever the header says.
        assert_eq!(
            client_ip(ip("10.0.0.2"), &["198.51.100.7"], &[]),
            ip("10.0.0.2")
        );
    }
}
