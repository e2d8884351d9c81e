//! The address a request comes from: the connection's peer, or, when the peer is a trusted proxy,
//! the rightmost address its forwarding header names that is not itself a trusted proxy. Every
//! hop to the left of that one was written by the client and proves nothing.
//!
//! Only the one header the proxies write is read. A proxy passes the other on as the client sent
//! it (nginx appends to `X-Forwarded-For` and leaves `Forwarded` alone), so reading it would let
//! any client name the address the throttle counts and the audit log records.

use crate::AppState;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use ipnet::IpNet;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

/// The most forwarding hops read, from the right: no deployment chains more proxies.
const MAX_HOPS: usize = 32;

/// The header the trusted proxies write the client's address into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For`, which nginx (`$proxy_add_x_forwarded_for`) and most load balancers append to.
    #[default]
    XForwardedFor,
    /// `Forwarded` (RFC 7239), its `for=` parameters.
    Forwarded,
}

/// The proxies whose forwarding header is believed, and that header.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    networks: Vec<IpNet>,
    header: ForwardedHeader,
}

impl TrustedProxies {
    pub fn new(networks: Vec<IpNet>, header: ForwardedHeader) -> Self {
        Self { networks, header }
    }

    pub fn trusts(&self, address: IpAddr) -> bool {
        self.networks.iter().any(|network| network.contains(&address))
    }

    /// The client of a request that came from `peer` with `headers`.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.trusts(client) {
            return client;
        }
        for hop in forwarded_hops(self.header, headers).into_iter().rev().take(MAX_HOPS) {
            // A hop that names no address ends what can be believed: the last proxy is the client.
            let Some(address) = hop else { return client };
            client = address;
            if !self.trusts(address) {
                break;
            }
        }
        client
    }
}

/// The hops `header` names, leftmost first, over all its lines; `None` for a hop that is not an
/// address (`unknown`, an obfuscated name, garbage).
fn forwarded_hops(header: ForwardedHeader, headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let (name, hop): (&str, fn(&str) -> Option<IpAddr>) = match header {
        ForwardedHeader::XForwardedFor => ("x-forwarded-for", |hop| node(hop.trim())),
        ForwardedHeader::Forwarded => ("forwarded", |element| {
            element.split(';').find_map(|pair| {
                let (name, value) = pair.split_once('=')?;
                name.trim().eq_ignore_ascii_case("for").then(|| node(value.trim().trim_matches('"')))
            })?
        }),
    };
    headers
        .get_all(name)
        .iter()
        .flat_map(|value| match value.to_str() {
            Ok(value) => value.split(',').map(hop).collect(),
            Err(_) => vec![None],
        })
        .collect()
}

/// An address, with or without a port, IPv6 with or without brackets.
fn node(text: &str) -> Option<IpAddr> {
    let address = text
        .parse::<IpAddr>()
        .or_else(|_| text.parse::<SocketAddr>().map(|socket| socket.ip()))
        .or_else(|_| text.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>())
        .ok()?;
    Some(address.to_canonical())
}

/// The caller's address; `None` only where the server runs without connection info (never under
/// [`crate::serve`]).
pub struct ClientAddress(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(ClientAddress(client_address(parts, state)))
    }
}

pub fn client_address(parts: &Parts, state: &AppState) -> Option<IpAddr> {
    let ConnectInfo(peer) = parts.extensions.get::<ConnectInfo<SocketAddr>>()?;
    Some(state.proxies.client(peer.ip(), &parts.headers))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, value.parse().unwrap());
        }
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn trusting(networks: &[&str], header: ForwardedHeader) -> TrustedProxies {
        TrustedProxies::new(networks.iter().map(|network| network.parse().unwrap()).collect(), header)
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_says() {
        let said = headers(&[("x-forwarded-for", "1.2.3.4"), ("forwarded", "for=5.6.7.8")]);
        for header in [ForwardedHeader::XForwardedFor, ForwardedHeader::Forwarded] {
            let proxies = trusting(&[], header);
            assert_eq!(proxies.client(ip("10.0.0.1"), &said), ip("10.0.0.1"), "{header:?}");
        }
    }

    #[test]
    fn behind_trusted_proxies_the_rightmost_untrusted_hop_is_the_client() {
        let proxies = trusting(&["10.0.0.0/8"], ForwardedHeader::XForwardedFor);
        let peer = ip("10.0.0.1");
        // The client wrote the leftmost value itself; the proxy appended the real peer.
        let said = headers(&[("x-forwarded-for", "6.6.6.6, 203.0.113.7, 10.0.0.2")]);
        assert_eq!(proxies.client(peer, &said), ip("203.0.113.7"));
        let split = headers(&[("x-forwarded-for", "6.6.6.6"), ("x-forwarded-for", "203.0.113.7")]);
        assert_eq!(proxies.client(peer, &split), ip("203.0.113.7"), "every header line, in order");
        assert_eq!(proxies.client(peer, &HeaderMap::new()), peer, "no header: the proxy itself");
        let hidden = headers(&[("x-forwarded-for", "6.6.6.6, unknown, 10.0.0.4")]);
        assert_eq!(proxies.client(peer, &hidden), ip("10.0.0.4"), "an unreadable hop stops the walk");
        let mapped = headers(&[("x-forwarded-for", "::ffff:203.0.113.7")]);
        assert_eq!(proxies.client(peer, &mapped), ip("203.0.113.7"), "IPv4-mapped addresses are IPv4");

        let proxies = trusting(&["10.0.0.0/8"], ForwardedHeader::Forwarded);
        let forwarded =
            headers(&[("forwarded", r#"for=6.6.6.6, for="[2001:db8::1]:4711";proto=https, for=10.0.0.3"#)]);
        assert_eq!(proxies.client(peer, &forwarded), ip("2001:db8::1"));
        let hidden = headers(&[("forwarded", "for=6.6.6.6, for=_hidden, for=10.0.0.4")]);
        assert_eq!(proxies.client(peer, &hidden), ip("10.0.0.4"), "an unreadable hop stops the walk");
    }

    #[test]
    fn only_the_header_the_proxies_write_is_read() {
        let peer = ip("10.0.0.1");
        // Each proxy wrote its own header; the client forged the other, which it passed on.
        let appended = headers(&[("forwarded", "for=6.6.6.6"), ("x-forwarded-for", "203.0.113.7")]);
        let written = headers(&[("x-forwarded-for", "6.6.6.6"), ("forwarded", "for=203.0.113.7")]);

        let proxies = trusting(&["10.0.0.0/8"], ForwardedHeader::XForwardedFor);
        assert_eq!(proxies.client(peer, &appended), ip("203.0.113.7"), "a client's Forwarded is ignored");
        let alone = headers(&[("forwarded", "for=6.6.6.6")]);
        assert_eq!(proxies.client(peer, &alone), peer, "even with no X-Forwarded-For beside it");

        let proxies = trusting(&["10.0.0.0/8"], ForwardedHeader::Forwarded);
        assert_eq!(
            proxies.client(peer, &written),
            ip("203.0.113.7"),
            "a client's X-Forwarded-For is ignored"
        );
        let alone = headers(&[("x-forwarded-for", "6.6.6.6")]);
        assert_eq!(proxies.client(peer, &alone), peer, "even with no Forwarded beside it");
    }
}
