//! Where a municipality's SMS gateway and App IO calls may go: an office sets these addresses,
//! so the sender must not become a way into the installation's own network (a gateway at
//! `http://169.254.169.254/` or `http://10.0.0.5/` would make the server call it). Only public
//! addresses are reached, checked on the resolved address (a name that resolves to a private
//! address is refused too), unless the installation allows private hosts
//! (`channels_allow_private_hosts`, for a gateway inside the municipality's own network and for
//! the tests' stand-ins on 127.0.0.1).

use std::net::{IpAddr, SocketAddr};

/// Whether `ip` is an address of the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                // Shared address space (carrier-grade NAT), 100.64.0.0/10.
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
                // "This network", 0.0.0.0/8.
                || o[0] == 0)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                // Unique local fc00::/7 and link-local fe80::/10.
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

/// The refusal of a call to `url` whose host is a private address written as such (names are
/// checked when resolved, by [`PublicOnly`]); `None` when the call may go.
pub fn refused_literal(url: &str, allow_private: bool) -> Option<String> {
    if allow_private {
        return None;
    }
    let parsed = reqwest::Url::parse(url.trim()).ok()?;
    let host = parsed.host_str()?;
    if host.eq_ignore_ascii_case("localhost") {
        return Some(not_public(host));
    }
    let ip: IpAddr = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()?;
    (!is_public(ip)).then(|| not_public(host))
}

fn not_public(host: &str) -> String {
    format!(
        "L'indirizzo {host} non è un indirizzo pubblico: il servizio non lo chiama. Indica l'indirizzo pubblico del gateway."
    )
}

/// A resolver that keeps only public addresses (or all, when the installation allows private
/// hosts); a name with none left cannot be reached.
pub struct PublicOnly {
    pub allow_private: bool,
}

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| allow_private || is_public(a.ip()))
                .collect();
            if found.is_empty() {
                return Err(not_public(&host).into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "2a00:1450:4001:80b::200e", "151.101.1.1"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn private_literals_are_refused_unless_allowed() {
        assert!(refused_literal("http://169.254.169.254/latest", false).is_some());
        assert!(refused_literal("https://localhost:8443/sms", false).is_some());
        assert!(refused_literal("http://[::1]:9000/", false).is_some());
        assert!(refused_literal("https://sms.example.it/invia", false).is_none());
        assert!(refused_literal("http://127.0.0.1:9000/", true).is_none());
    }
}
