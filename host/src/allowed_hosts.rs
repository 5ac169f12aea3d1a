//! `allowed_outbound_hosts`: which destinations a component may reach, with
//! Spin's patterns (`https://api.example.com`, `*://*.example.com:*`,
//! `redis://127.0.0.1:6379`, `http://*.spin.internal`, CIDR hosts, port
//! ranges, and well-known default ports per scheme).

use std::net::IpAddr;

use anyhow::{anyhow, bail, Context as _, Result};

/// The suffix of service-chaining hosts: `http://<component>.spin.internal`.
pub const SERVICE_CHAINING_SUFFIX: &str = ".spin.internal";

/// A component's parsed allow-list.
#[derive(Debug, Clone, Default)]
pub struct AllowedHosts {
    entries: Vec<AllowedHost>,
}

#[derive(Debug, Clone, PartialEq)]
struct AllowedHost {
    scheme: Option<String>,
    host: HostPattern,
    port: PortPattern,
}

#[derive(Debug, Clone, PartialEq)]
enum HostPattern {
    Any,
    /// `*.example.com`, stored as `.example.com`.
    Subdomain(String),
    Literal(String),
    Cidr(IpAddr, u8),
    /// `self`: relative requests to the application itself.
    ToSelf,
}

#[derive(Debug, Clone, PartialEq)]
enum PortPattern {
    Any,
    Ranges(Vec<(u16, u16)>),
}

impl AllowedHosts {
    /// Parses each entry; an invalid one is an error naming it.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self> {
        let entries = entries
            .iter()
            .map(|e| {
                let e = e.as_ref();
                AllowedHost::parse(e)
                    .with_context(|| format!("invalid allowed outbound host {e:?}"))
            })
            .collect::<Result<_>>()?;
        Ok(Self { entries })
    }

    /// Whether a connection to `scheme://host[:port]` is allowed.
    pub fn allows(&self, scheme: &str, host: &str, port: Option<u16>) -> bool {
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        let Some(port) = port.or_else(|| well_known_port(scheme)) else {
            return false;
        };
        self.entries.iter().any(|e| e.allows(scheme, &host, port))
    }

    /// Whether a URL such as `redis://127.0.0.1:6379/0` is allowed.
    pub fn allows_url(&self, url: &str) -> bool {
        match url::Url::parse(url) {
            Ok(u) => match u.host_str() {
                Some(host) => self.allows(u.scheme(), host, u.port()),
                None => false,
            },
            Err(_) => false,
        }
    }
}

impl AllowedHost {
    fn parse(entry: &str) -> Result<Self> {
        let entry = entry.trim();
        let (scheme, rest) = entry
            .split_once("://")
            .ok_or_else(|| anyhow!("no scheme: use <scheme>://<host>[:<port>], e.g. https://example.com or *://*:* to allow everything"))?;
        let scheme = match scheme {
            "*" => None,
            s if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphabetic()) => {
                Some(s.to_ascii_lowercase())
            }
            s => bail!("invalid scheme {s:?}"),
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        // A CIDR such as 10.0.0.0/8 contains '/', and IPv6 contains ':', so
        // try the whole remainder as a host before splitting off a port.
        let (host, port) = match HostPattern::parse(rest) {
            Ok(host) => (host, None),
            Err(whole) => match rest.rsplit_once(':') {
                Some((host, port)) => {
                    if port.contains('/') {
                        bail!("must not contain a path");
                    }
                    (HostPattern::parse(host)?, Some(port))
                }
                None if rest.contains('/') => bail!("must not contain a path"),
                None => return Err(whole),
            },
        };
        let port = match port {
            None | Some("") => match scheme.as_deref().and_then(well_known_port) {
                Some(p) => PortPattern::Ranges(vec![(p, p)]),
                None => bail!("no port given and the scheme has no well-known port"),
            },
            Some("*") => PortPattern::Any,
            Some(p) => PortPattern::parse(p)?,
        };
        Ok(Self { scheme, host, port })
    }

    fn allows(&self, scheme: &str, host: &str, port: u16) -> bool {
        let scheme_ok = self
            .scheme
            .as_deref()
            .is_none_or(|s| s.eq_ignore_ascii_case(scheme));
        scheme_ok && self.host.allows(host) && self.port.allows(port)
    }
}

impl HostPattern {
    fn parse(host: &str) -> Result<Self> {
        let host = host.trim();
        if host == "*" {
            return Ok(Self::Any);
        }
        if host == "self" || host == "self.alt" {
            return Ok(Self::ToSelf);
        }
        if let Some((ip, bits)) = host.split_once('/') {
            let ip: IpAddr = ip.parse().context("CIDR address")?;
            let bits: u8 = bits.parse().context("CIDR prefix length")?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            if bits > max {
                bail!("CIDR prefix length {bits} is over {max}");
            }
            return Ok(Self::Cidr(ip, bits));
        }
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Ok(Self::Literal(ip.to_string()));
        }
        if let Some(domain) = host.strip_prefix("*.") {
            if domain.contains('*') || !is_domain(domain) {
                bail!("invalid wildcard host {host:?}");
            }
            return Ok(Self::Subdomain(format!(".{}", domain.to_ascii_lowercase())));
        }
        if host.contains('*') {
            bail!("wildcards are allowed only as a leading `*.`");
        }
        if !is_domain(host) {
            bail!("invalid host {host:?}");
        }
        Ok(Self::Literal(host.to_ascii_lowercase()))
    }

    fn allows(&self, host: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Subdomain(suffix) => host.ends_with(suffix.as_str()),
            Self::Literal(literal) => match (literal.parse::<IpAddr>(), host.parse::<IpAddr>()) {
                (Ok(a), Ok(b)) => a == b,
                _ => literal == host,
            },
            Self::Cidr(net, bits) => host
                .parse::<IpAddr>()
                .is_ok_and(|ip| cidr_contains(*net, *bits, ip)),
            Self::ToSelf => false,
        }
    }
}

impl PortPattern {
    fn parse(spec: &str) -> Result<Self> {
        let range = match spec.split_once('-') {
            Some((lo, hi)) => {
                let lo: u16 = lo.parse().context("port range start")?;
                let hi: u16 = hi.parse().context("port range end")?;
                if lo > hi {
                    bail!("port range {spec:?} is empty");
                }
                (lo, hi)
            }
            None => {
                let p: u16 = spec
                    .parse()
                    .with_context(|| format!("invalid port {spec:?}"))?;
                (p, p)
            }
        };
        Ok(Self::Ranges(vec![range]))
    }

    fn allows(&self, port: u16) -> bool {
        match self {
            Self::Any => true,
            Self::Ranges(ranges) => ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&port)),
        }
    }
}

fn well_known_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        "redis" | "rediss" => Some(6379),
        "mysql" => Some(3306),
        "postgres" => Some(5432),
        "mqtt" => Some(1883),
        _ => None,
    }
}

fn is_domain(host: &str) -> bool {
    !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
}

fn cidr_contains(net: IpAddr, bits: u8, ip: IpAddr) -> bool {
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(n) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(entries: &[&str]) -> AllowedHosts {
        AllowedHosts::parse(entries).expect("valid")
    }

    #[test]
    fn literal_hosts_use_well_known_ports() {
        let h = hosts(&["https://api.example.com", "redis://127.0.0.1"]);
        assert!(h.allows("https", "api.example.com", None));
        assert!(h.allows("https", "API.example.com", Some(443)));
        assert!(!h.allows("https", "api.example.com", Some(8443)));
        assert!(!h.allows("http", "api.example.com", None));
        assert!(h.allows_url("redis://127.0.0.1:6379"));
        assert!(!h.allows_url("redis://127.0.0.1:6380"));
    }

    #[test]
    fn wildcards_ranges_and_cidr() {
        let h = hosts(&[
            "*://*.spin.internal:*",
            "http://localhost:3000-3010",
            "http://10.0.0.0/8:80",
        ]);
        assert!(h.allows("http", "ops.spin.internal", None));
        assert!(!h.allows("http", "spin.internal", None));
        assert!(h.allows("http", "localhost", Some(3005)));
        assert!(!h.allows("http", "localhost", Some(3011)));
        assert!(h.allows("http", "10.1.2.3", None));
        assert!(!h.allows("http", "11.1.2.3", None));
        assert!(hosts(&["*://*:*"]).allows("tcp", "anything", Some(1)));
    }

    #[test]
    fn rejects_malformed_entries() {
        for bad in [
            "example.com",
            "*",
            "https://exa*mple.com",
            "https://example.com/path",
            "foo://example.com",
            "http://example.com:99999",
        ] {
            assert!(
                AllowedHosts::parse(&[bad]).is_err(),
                "{bad} should be rejected"
            );
        }
    }
}
