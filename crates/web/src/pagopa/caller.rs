//! Who may call the station. Only pagoPA's node may: a receipt moves money, so in live mode the
//! station is closed unless the installation says how to recognise the node, and then every
//! configured proof must hold:
//! - the node's addresses (`allowed_ips`): the caller's address, which is the connection's peer,
//!   or, when the peer is a trusted proxy, the last address in `X-Forwarded-For` that is not one;
//! - its client certificate, verified by the TLS-terminating proxy, which passes a header
//!   (`client_cert_header`, e.g. the subject or the fingerprint) whose value must be one of
//!   `client_cert_values`; believed only from a trusted proxy;
//! - a shared key in a header (`key_header`, `key`), compared in constant time.
//!
//! With none of them configured, only a caller on this machine is let through (no forwarding
//! header), and only for municipalities in sandbox mode: the sandbox plays the node against its
//! own station on loopback.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName};
use ipnet::IpNet;
use subtle::ConstantTimeEq;

/// The installation's settings for recognising the node.
#[derive(Debug, Clone, Default)]
pub struct StationAccess {
    /// The node's addresses.
    pub allowed_ips: Vec<IpNet>,
    /// The header a trusted proxy sets after verifying the node's client certificate.
    pub client_cert_header: Option<HeaderName>,
    /// The values of that header that identify the node.
    pub client_cert_values: Vec<String>,
    /// The header that carries the shared key, and the key.
    pub key_header: Option<HeaderName>,
    pub key: Option<String>,
}

impl StationAccess {
    /// Whether any proof of the node is configured (otherwise the station is closed to
    /// everyone but the local sandbox).
    pub fn configured(&self) -> bool {
        !self.allowed_ips.is_empty() || self.client_cert_header.is_some() || self.key.is_some()
    }
}

/// Who is calling, as far as the station is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// Every configured proof of the node holds.
    Node,
    /// A caller on this machine with no proof: the sandbox. Served only for municipalities in
    /// sandbox mode.
    Local,
    /// Anyone else: refused before the message is read.
    Stranger,
}

/// The connection's peer address, when the server was started with it (`refettorio serve`
/// always is).
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub Option<SocketAddr>);

impl<S: Send + Sync> FromRequestParts<S> for PeerAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(PeerAddr(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0),
        ))
    }
}

fn in_any(nets: &[IpNet], ip: IpAddr) -> bool {
    let ip = canonical(ip);
    nets.iter().any(|n| n.contains(&ip))
}

/// An IPv4 address written as IPv6 (`::ffff:1.2.3.4`) is the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// The caller's address: the peer, or, when the peer is a trusted proxy, the last address in
/// `X-Forwarded-For` that is not a trusted proxy. `None` when a trusted proxy's header cannot
/// be read.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted_proxies: &[IpNet]) -> Option<IpAddr> {
    if !in_any(trusted_proxies, peer) {
        return Some(canonical(peer));
    }
    let mut hops = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        let text = value.to_str().ok()?;
        for hop in text.split(',') {
            hops.push(hop.trim().parse::<IpAddr>().ok()?);
        }
    }
    match hops
        .into_iter()
        .rev()
        .find(|ip| !in_any(trusted_proxies, *ip))
    {
        Some(ip) => Some(canonical(ip)),
        // Nothing forwarded (or only proxies): the proxy itself is calling.
        None => Some(canonical(peer)),
    }
}

fn forwarded(headers: &HeaderMap) -> bool {
    headers.contains_key("x-forwarded-for") || headers.contains_key("forwarded")
}

/// Decides who is calling the station.
pub fn identify(
    access: &StationAccess,
    trusted_proxies: &[IpNet],
    peer: Option<SocketAddr>,
    headers: &HeaderMap,
) -> Caller {
    let Some(peer) = peer.map(|p| p.ip()) else {
        return Caller::Stranger;
    };
    if access.configured() && proves_node(access, trusted_proxies, peer, headers) {
        return Caller::Node;
    }
    if canonical(peer).is_loopback() && !forwarded(headers) {
        return Caller::Local;
    }
    Caller::Stranger
}

fn proves_node(
    access: &StationAccess,
    trusted_proxies: &[IpNet],
    peer: IpAddr,
    headers: &HeaderMap,
) -> bool {
    if !access.allowed_ips.is_empty() {
        match client_ip(peer, headers, trusted_proxies) {
            Some(ip) if in_any(&access.allowed_ips, ip) => {}
            _ => return false,
        }
    }
    if let Some(name) = &access.client_cert_header {
        if !in_any(trusted_proxies, peer) {
            return false;
        }
        let Some(value) = headers.get(name).and_then(|v| v.to_str().ok()) else {
            return false;
        };
        if !access.client_cert_values.iter().any(|v| v == value.trim()) {
            return false;
        }
    }
    if let Some(key) = &access.key {
        let Some(name) = &access.key_header else {
            return false;
        };
        let given = headers.get(name).map(|v| v.as_bytes()).unwrap_or_default();
        if !bool::from(given.ct_eq(key.as_bytes())) {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use axum::http::HeaderValue;

    fn peer(s: &str) -> Option<SocketAddr> {
        Some(SocketAddr::new(s.parse().unwrap(), 40000))
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn unconfigured_the_station_serves_only_the_local_sandbox() {
        let none = StationAccess::default();
        let h = HeaderMap::new();
        assert_eq!(identify(&none, &[], peer("127.0.0.1"), &h), Caller::Local);
        assert_eq!(identify(&none, &[], peer("::1"), &h), Caller::Local);
        assert_eq!(
            identify(&none, &[], peer("203.0.113.9"), &h),
            Caller::Stranger
        );
        assert_eq!(identify(&none, &[], None, &h), Caller::Stranger);
        // A local proxy forwarding someone else's request is not the sandbox.
        let fwd = headers(&[("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(
            identify(&none, &[], peer("127.0.0.1"), &fwd),
            Caller::Stranger
        );
    }

    #[test]
    fn every_configured_proof_must_hold() {
        let access = StationAccess {
            allowed_ips: nets(&["198.51.100.0/24"]),
            client_cert_header: Some(HeaderName::from_static("x-client-cert-subject")),
            client_cert_values: vec!["CN=nodo".into()],
            key_header: Some(HeaderName::from_static("x-station-key")),
            key: Some("s3cret".into()),
        };
        let proxies = nets(&["10.0.0.5/32"]);
        let good = headers(&[
            ("x-forwarded-for", "198.51.100.7"),
            ("x-client-cert-subject", "CN=nodo"),
            ("x-station-key", "s3cret"),
        ]);
        assert_eq!(
            identify(&access, &proxies, peer("10.0.0.5"), &good),
            Caller::Node
        );
        // The same headers straight from the internet: the certificate header is not believed
        // and the address is the peer's.
        assert_eq!(
            identify(&access, &proxies, peer("198.51.100.7"), &good),
            Caller::Stranger
        );
        for (name, value) in [
            ("x-forwarded-for", "203.0.113.9"),
            ("x-client-cert-subject", "CN=someone"),
            ("x-station-key", "s3cre"),
        ] {
            let mut bad = good.clone();
            bad.insert(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
            assert_eq!(
                identify(&access, &proxies, peer("10.0.0.5"), &bad),
                Caller::Stranger,
                "{name}: {value}"
            );
        }
        let mut missing = good.clone();
        missing.remove("x-station-key");
        assert_eq!(
            identify(&access, &proxies, peer("10.0.0.5"), &missing),
            Caller::Stranger
        );
    }

    #[test]
    fn the_client_address_is_the_last_hop_before_the_trusted_proxies() {
        let proxies = nets(&["10.0.0.0/8"]);
        let h = headers(&[("x-forwarded-for", "1.2.3.4, 198.51.100.7, 10.0.0.9")]);
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            client_ip(ip("10.0.0.5"), &h, &proxies),
            Some(ip("198.51.100.7"))
        );
        // An untrusted peer's header is ignored.
        assert_eq!(
            client_ip(ip("203.0.113.1"), &h, &proxies),
            Some(ip("203.0.113.1"))
        );
        let bad = headers(&[("x-forwarded-for", "not an address")]);
        assert_eq!(client_ip(ip("10.0.0.5"), &bad, &proxies), None);
        assert_eq!(
            client_ip(ip("::ffff:198.51.100.7"), &HeaderMap::new(), &[]),
            Some(ip("198.51.100.7"))
        );
    }
}
