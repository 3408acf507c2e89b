//! # zlc-ssrf
//!
//! Which addresses zlc's outbound HTTP (webhook actions, and handlers' HTTP calls) may
//! reach. A pipeline posts event data to URLs written by its author; without a rule, a
//! URL such as `https://169.254.169.254/latest/meta-data/` or `http://10.0.0.1/admin`
//! turns the bot into a way into the network it runs in (server-side request forgery).
//! So addresses that are not on the public internet are refused unless the pipeline
//! opts in for that one action (`allow_private = true`).
//!
//! The rule is applied twice, by two crates, which is why it lives here, with no
//! dependencies: `zlc check` applies it to the literal host of every URL (IP literals
//! and `localhost`), and the runtime applies it to every address a host name resolves
//! to, at connect time (so a public name that resolves to a private address is caught).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is not on the public internet, or `None` when it is.
pub fn internal_range(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_range(v4),
        IpAddr::V6(v6) => v6_range(v6),
    }
}

fn v4_range(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        (0, _, _) => "unspecified (0.0.0.0/8)",
        (10, _, _) => "private (10.0.0.0/8)",
        (100, 64..=127, _) => "shared carrier-grade NAT (100.64.0.0/10)",
        (127, _, _) => "loopback (127.0.0.0/8)",
        (169, 254, _) => "link-local (169.254.0.0/16, where cloud metadata services answer)",
        (172, 16..=31, _) => "private (172.16.0.0/12)",
        (192, 0, 0) => "IETF protocol assignments (192.0.0.0/24)",
        (192, 168, _) => "private (192.168.0.0/16)",
        (198, 18..=19, _) => "benchmarking (198.18.0.0/15)",
        (224..=239, _, _) => "multicast (224.0.0.0/4)",
        (240..=255, _, _) => "reserved (240.0.0.0/4)",
        _ => return None,
    })
}

fn v6_range(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    // Addresses that carry an IPv4 address are judged by it: IPv4-mapped
    // (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d), NAT64 (64:ff9b::/96) and 6to4.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_range(v4);
    }
    if s[..6] == [0; 6] && !(s[6] == 0 && s[7] <= 1) {
        return v4_range(Ipv4Addr::new(
            (s[6] >> 8) as u8,
            s[6] as u8,
            (s[7] >> 8) as u8,
            s[7] as u8,
        ));
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return v4_range(Ipv4Addr::new(
            (s[6] >> 8) as u8,
            s[6] as u8,
            (s[7] >> 8) as u8,
            s[7] as u8,
        ));
    }
    if s[0] == 0x2002 {
        return v4_range(Ipv4Addr::new(
            (s[1] >> 8) as u8,
            s[1] as u8,
            (s[2] >> 8) as u8,
            s[2] as u8,
        ));
    }
    Some(match s[0] {
        _ if ip.is_unspecified() => "unspecified (::)",
        _ if ip.is_loopback() => "loopback (::1)",
        0xfc00..=0xfdff => "unique local (fc00::/7)",
        0xfe80..=0xfebf => "link-local (fe80::/10)",
        0xfec0..=0xfeff => "site-local (fec0::/10)",
        0xff00..=0xffff => "multicast (ff00::/8)",
        _ => return None,
    })
}

/// Why the host of a URL (as written: a name, an IPv4 literal or a bracketed IPv6
/// literal) is internal, or `None`. Names other than `localhost` are not judged here:
/// only their resolved addresses can be.
pub fn internal_host(host: &str) -> Option<&'static str> {
    let host = host.trim_end_matches('.');
    let lower = host.to_ascii_lowercase();
    if lower == "localhost" || lower.ends_with(".localhost") {
        return Some("loopback (localhost)");
    }
    let literal = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    literal.parse::<IpAddr>().ok().and_then(internal_range)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocked(s: &str) -> bool {
        internal_host(s).is_some()
    }

    #[test]
    fn private_loopback_and_link_local_are_internal() {
        for host in [
            "169.254.169.254",
            "10.0.0.1",
            "127.0.0.1",
            "127.1.2.3",
            "172.16.5.4",
            "172.31.255.255",
            "192.168.1.1",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "localhost",
            "LOCALHOST.",
            "api.localhost",
            "[::1]",
            "[::]",
            "[fe80::1]",
            "[fd00::1]",
            "[ff02::1]",
        ] {
            assert!(blocked(host), "{host} must be internal");
        }
    }

    #[test]
    fn ipv6_forms_that_carry_an_ipv4_address_are_judged_by_it() {
        for host in [
            "[::ffff:127.0.0.1]",
            "[::ffff:7f00:1]",
            "[::ffff:169.254.169.254]",
            "[::127.0.0.1]",
            "[64:ff9b::10.0.0.1]",
            "[2002:a00:1::]",
        ] {
            assert!(blocked(host), "{host} must be internal");
        }
        assert!(!blocked("[::ffff:93.184.216.34]"));
        assert!(!blocked("[64:ff9b::93.184.216.34]"));
    }

    #[test]
    fn public_addresses_and_names_pass() {
        for host in [
            "93.184.216.34",
            "172.32.0.1",
            "100.128.0.1",
            "169.255.0.1",
            "8.8.8.8",
            "[2606:4700:4700::1111]",
            "hooks.example.com",
            "localhost.example.com",
        ] {
            assert!(!blocked(host), "{host} is public");
        }
    }

    #[test]
    fn the_reason_names_the_range() {
        assert_eq!(
            internal_host("169.254.169.254"),
            Some("link-local (169.254.0.0/16, where cloud metadata services answer)")
        );
        assert_eq!(
            internal_host("[::ffff:127.0.0.1]"),
            Some("loopback (127.0.0.0/8)")
        );
    }
}
