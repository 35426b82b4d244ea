//! The small amount of address syntax a dialplan needs: SIP URIs as written
//! by an administrator (not a full RFC 3261 parser — the SIP crate owns that)
//! and CIDR blocks for trunk access lists.

use std::fmt;
use std::net::IpAddr;

/// A `sip:` / `sips:` URI: `sip:[user@]host[:port][;param[=value]]*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipUri {
    /// `sips:` — the hop must use TLS.
    pub secure: bool,
    pub user: Option<String>,
    /// Host name, IPv4 address, or IPv6 address in brackets (`[::1]`).
    pub host: String,
    pub port: Option<u16>,
    pub params: Vec<(String, Option<String>)>,
}

impl SipUri {
    pub fn parse(s: &str) -> Result<SipUri, String> {
        let (secure, rest) = if let Some(r) = strip_prefix_ci(s, "sips:") {
            (true, r)
        } else if let Some(r) = strip_prefix_ci(s, "sip:") {
            (false, r)
        } else {
            return Err(format!("{s:?} is not a sip: or sips: URI"));
        };
        if rest.contains('?') {
            return Err(format!("{s:?}: URI headers (?...) are not allowed here"));
        }
        if rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!("{s:?} contains whitespace"));
        }
        let (user, rest) = match rest.rfind('@') {
            Some(at) => {
                let user = &rest[..at];
                if user.is_empty() {
                    return Err(format!("{s:?} has an empty user part"));
                }
                (Some(user.to_string()), &rest[at + 1..])
            }
            None => (None, rest),
        };
        let (hostport, params) = match rest.find(';') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, ""),
        };
        let (host, port) = split_host_port(hostport).map_err(|e| format!("{s:?}: {e}"))?;
        let mut parsed = Vec::new();
        if rest.contains(';') {
            for p in params.split(';') {
                let (name, value) = match p.split_once('=') {
                    Some((n, v)) => (n, Some(v.to_string())),
                    None => (p, None),
                };
                if name.is_empty() || !name.chars().all(is_token_char) {
                    return Err(format!("{s:?}: bad URI parameter {p:?}"));
                }
                if let Some(v) = &value {
                    if v.is_empty() {
                        return Err(format!("{s:?}: URI parameter {name:?} has no value"));
                    }
                }
                parsed.push((name.to_ascii_lowercase(), value));
            }
        }
        Ok(SipUri {
            secure,
            user,
            host,
            port,
            params: parsed,
        })
    }

    /// Value of `;transport=`, lower-cased, if present.
    pub fn transport(&self) -> Option<String> {
        self.params
            .iter()
            .find(|(n, _)| n == "transport")
            .and_then(|(_, v)| v.as_ref().map(|v| v.to_ascii_lowercase()))
    }

    /// This URI with `user` (already escaped or not: it is escaped here) as
    /// user part, replacing any user part it had.
    pub fn with_user(&self, user: &str) -> SipUri {
        SipUri {
            user: Some(escape_user(user)),
            ..self.clone()
        }
    }
}

impl fmt::Display for SipUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.secure { "sips:" } else { "sip:" })?;
        if let Some(u) = &self.user {
            write!(f, "{u}@")?;
        }
        f.write_str(&self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        for (n, v) in &self.params {
            match v {
                Some(v) => write!(f, ";{n}={v}")?,
                None => write!(f, ";{n}")?,
            }
        }
        Ok(())
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    if s.len() >= prefix.len()
        && s.is_char_boundary(prefix.len())
        && s[..prefix.len()].eq_ignore_ascii_case(prefix)
    {
        Some(&s[prefix.len()..])
    } else {
        None
    }
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-.!%*_+`'~".contains(c)
}

fn split_host_port(hp: &str) -> Result<(String, Option<u16>), String> {
    let (host, port) = if let Some(rest) = hp.strip_prefix('[') {
        let end = rest.find(']').ok_or("unterminated IPv6 reference")?;
        let addr = &rest[..end];
        if addr.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("bad IPv6 address {addr:?}"));
        }
        let after = &rest[end + 1..];
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or("garbage after IPv6 address")?),
        };
        (format!("[{addr}]"), port)
    } else {
        match hp.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (hp.to_string(), None),
        }
    };
    if host.is_empty() {
        return Err("missing host".into());
    }
    if !host.starts_with('[') {
        let labels_ok = host.split('.').all(|l| {
            !l.is_empty()
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        });
        if !labels_ok {
            return Err(format!("bad host {host:?}"));
        }
    }
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => Some(n),
            _ => return Err(format!("bad port {p:?}")),
        },
    };
    Ok((host.to_ascii_lowercase(), port))
}

/// Escapes a string for use as the user part of a SIP URI (RFC 3261 `user`):
/// unreserved and user-unreserved characters pass, the rest become `%XX`.
/// Dialled targets come from the network, so nothing is trusted to be clean.
pub fn escape_user(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        let c = b as char;
        if c.is_ascii_alphanumeric() || "-_.!~*'()&=+$,;?/".contains(c) {
            out.push(c);
        } else if c == '%' {
            // Already-escaped input keeps its escapes; a stray '%' is escaped.
            out.push('%');
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// An IPv4 or IPv6 network in CIDR notation; a bare address is a /32 or /128.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub addr: IpAddr,
    pub prefix_len: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a
            .parse()
            .map_err(|_| format!("{s:?} is not an IP address or CIDR block"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix_len = match p {
            None => max,
            Some(p) => match p.parse::<u8>() {
                Ok(n) if n <= max => n,
                _ => return Err(format!("{s:?}: prefix length must be 0..={max}")),
            },
        };
        let cidr = Cidr { addr, prefix_len };
        let network = cidr.network();
        if network != addr {
            return Err(format!(
                "{s:?} has host bits set; did you mean {network}/{prefix_len}?"
            ));
        }
        Ok(cidr)
    }

    fn network(&self) -> IpAddr {
        match self.addr {
            IpAddr::V4(a) => IpAddr::V4((u32::from(a) & mask32(self.prefix_len)).into()),
            IpAddr::V6(a) => IpAddr::V6((u128::from(a) & mask128(self.prefix_len)).into()),
        }
    }

    /// Whether `ip` lies in this block. IPv4-mapped IPv6 sources (what a
    /// dual-stack socket reports) are compared as IPv4.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let m = mask32(self.prefix_len);
                u32::from(a) & m == u32::from(n) & m
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let m = mask128(self.prefix_len);
                u128::from(a) & m == u128::from(n) & m
            }
            _ => false,
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)
    }
}

fn mask32(len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len))
    }
}

fn mask128(len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_trunk_uris() {
        let u = SipUri::parse("sip:127.0.0.1:5070;transport=TCP").unwrap();
        assert_eq!(u.host, "127.0.0.1");
        assert_eq!(u.port, Some(5070));
        assert_eq!(u.transport().as_deref(), Some("tcp"));
        assert!(!u.secure);
        assert_eq!(
            u.with_user("0912").to_string(),
            "sip:0912@127.0.0.1:5070;transport=TCP"
        );
        let u = SipUri::parse("sips:[2001:db8::1]:5061").unwrap();
        assert!(u.secure);
        assert_eq!(u.host, "[2001:db8::1]");
        assert_eq!(u.to_string(), "sips:[2001:db8::1]:5061");
    }

    #[test]
    fn rejects_bad_uris() {
        for bad in [
            "http://x",
            "sip:",
            "sip:host:0",
            "sip:host:99999",
            "sip:-bad-.example",
            "sip:@host",
            "sip:host;",
            "sip:host?subject=x",
            "sip:ho st",
            "sip:[::1",
        ] {
            assert!(SipUri::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn escapes_user_parts() {
        assert_eq!(escape_user("+84 24#1"), "+84%2024%231");
        assert_eq!(escape_user("phòng"), "ph%C3%B2ng");
    }

    #[test]
    fn cidr_contains_and_rejects_host_bits() {
        let c = Cidr::parse("10.1.0.0/16").unwrap();
        assert!(c.contains("10.1.200.3".parse().unwrap()));
        assert!(!c.contains("10.2.0.1".parse().unwrap()));
        assert!(c.contains("::ffff:10.1.0.9".parse().unwrap()));
        assert!(Cidr::parse("127.0.0.1")
            .unwrap()
            .contains("127.0.0.1".parse().unwrap()));
        assert!(Cidr::parse("0.0.0.0/0")
            .unwrap()
            .contains("8.8.8.8".parse().unwrap()));
        assert!(Cidr::parse("2001:db8::/32")
            .unwrap()
            .contains("2001:db8:1::5".parse().unwrap()));
        assert!(Cidr::parse("10.1.0.1/16")
            .unwrap_err()
            .contains("10.1.0.0/16"));
        assert!(Cidr::parse("10.1.0.0/33").is_err());
        assert!(Cidr::parse("10.1.0/24").is_err());
    }
}
