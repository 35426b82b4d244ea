//! SIP, SIPS and tel URIs (RFC 3261 19.1, RFC 3966).
//! OWNER: parser helper. The public shape below is relied on by other layers.
//!
//! Parsing happens in two steps: `UriRef` checks the grammar and borrows the
//! pieces from the input without allocating (the message parser uses it to
//! validate Request-URIs and the URIs inside From/To/Contact), and `Uri`
//! owns them for the layers above.

use crate::error::ParseError;
use crate::parse::scan::{is_escaped_at, is_unreserved};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scheme {
    Sip,
    Sips,
    Tel,
    Other(String),
}

impl Scheme {
    pub fn as_str(&self) -> &str {
        match self {
            Scheme::Sip => "sip",
            Scheme::Sips => "sips",
            Scheme::Tel => "tel",
            Scheme::Other(s) => s,
        }
    }
}

/// A parsed URI. `host` keeps IPv6 references with their brackets
/// (`[2001:db8::1]`). For `tel:` URIs the number is in `user` and `host` is
/// empty. Parameter names keep their case; values keep their escaping.
///
/// The user part and password keep their escaping as received (`%40` stays
/// `%40`) so that a URI is forwarded byte-exact. For a scheme other than
/// sip/sips/tel the whole opaque part after `scheme:` is kept in `host` and
/// `user`, `port`, `params` and `headers` are empty: such URIs are carried
/// (and answered with 416 where they are a Request-URI), never interpreted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uri {
    pub scheme: Scheme,
    pub user: Option<String>,
    pub password: Option<String>,
    pub host: String,
    pub port: Option<u16>,
    pub params: Vec<(String, Option<String>)>,
    pub headers: Vec<(String, String)>,
}

impl Uri {
    pub fn parse(s: &str) -> Result<Uri, ParseError> {
        Ok(UriRef::parse(s)?.to_uri())
    }

    /// `sip:user@host` (user optional), a convenience for building requests.
    pub fn sip(user: Option<&str>, host: &str) -> Uri {
        Uri {
            scheme: Scheme::Sip,
            user: user.map(str::to_string),
            password: None,
            host: host.to_string(),
            port: None,
            params: Vec::new(),
            headers: Vec::new(),
        }
    }

    /// The value of a URI parameter, matched case-insensitively. `Some(None)`
    /// for a flag parameter such as `;lr`.
    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_deref())
    }

    /// `transport` parameter, lowercased, if present.
    pub fn transport(&self) -> Option<String> {
        self.param("transport")
            .flatten()
            .map(|t| t.to_ascii_lowercase())
    }

    /// Whether this is a sip: or sips: URI (the schemes this stack routes).
    pub fn is_sip(&self) -> bool {
        matches!(self.scheme, Scheme::Sip | Scheme::Sips)
    }
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.scheme.as_str())?;
        f.write_str(":")?;
        if let Scheme::Other(_) = self.scheme {
            return f.write_str(&self.host);
        }
        if let Some(user) = &self.user {
            f.write_str(user)?;
            if let Some(pw) = &self.password {
                f.write_str(":")?;
                f.write_str(pw)?;
            }
            if self.scheme != Scheme::Tel {
                f.write_str("@")?;
            }
        }
        f.write_str(&self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        for (name, value) in &self.params {
            f.write_str(";")?;
            f.write_str(name)?;
            if let Some(v) = value {
                f.write_str("=")?;
                f.write_str(v)?;
            }
        }
        for (i, (name, value)) in self.headers.iter().enumerate() {
            f.write_str(if i == 0 { "?" } else { "&" })?;
            f.write_str(name)?;
            f.write_str("=")?;
            f.write_str(value)?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Uri {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Uri, ParseError> {
        Uri::parse(s)
    }
}

/// A grammar-checked URI borrowing from its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UriRef<'a> {
    pub scheme: &'a str,
    pub user: Option<&'a str>,
    pub password: Option<&'a str>,
    pub host: &'a str,
    pub port: Option<u16>,
    /// The uri-parameters without the leading `;`, already validated.
    pub params: &'a str,
    /// The headers without the leading `?`, already validated.
    pub headers: &'a str,
}

impl<'a> UriRef<'a> {
    pub fn parse(s: &'a str) -> Result<UriRef<'a>, ParseError> {
        let colon = s.find(':').ok_or(ParseError::Uri)?;
        let scheme = &s[..colon];
        if !is_scheme(scheme) {
            return Err(ParseError::Uri);
        }
        let rest = &s[colon + 1..];
        if scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips") {
            parse_sip_rest(scheme, rest)
        } else if scheme.eq_ignore_ascii_case("tel") {
            parse_tel_rest(scheme, rest)
        } else {
            parse_opaque_rest(scheme, rest)
        }
    }

    pub fn scheme(&self) -> Scheme {
        if self.scheme.eq_ignore_ascii_case("sip") {
            Scheme::Sip
        } else if self.scheme.eq_ignore_ascii_case("sips") {
            Scheme::Sips
        } else if self.scheme.eq_ignore_ascii_case("tel") {
            Scheme::Tel
        } else {
            Scheme::Other(self.scheme.to_string())
        }
    }

    pub fn to_uri(self) -> Uri {
        Uri {
            scheme: self.scheme(),
            user: self.user.map(str::to_string),
            password: self.password.map(str::to_string),
            host: self.host.to_string(),
            port: self.port,
            params: uri_params(self.params)
                .map(|(n, v)| (n.to_string(), v.map(str::to_string)))
                .collect(),
            headers: uri_headers(self.headers)
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        }
    }
}

/// scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
fn is_scheme(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphabetic()
        && b[1..]
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
}

/// SIP-URI = "sip:" [ userinfo ] hostport uri-parameters [ headers ]
fn parse_sip_rest<'a>(scheme: &'a str, rest: &'a str) -> Result<UriRef<'a>, ParseError> {
    // The user part may contain ';', '?' and '/' (user-unreserved), but no
    // component of a SIP URI may contain an unescaped '@' except as the end
    // of the userinfo: the first '@' ends it.
    let (user, password, after_user) = match memchr::memchr(b'@', rest.as_bytes()) {
        Some(at) => {
            let (user, password) = userinfo(&rest[..at])?;
            (Some(user), password, &rest[at + 1..])
        }
        None => (None, None, rest),
    };
    let (after_user, headers, has_headers) = match memchr::memchr(b'?', after_user.as_bytes()) {
        Some(q) => (&after_user[..q], &after_user[q + 1..], true),
        None => (after_user, "", false),
    };
    let (hostport, params) = match memchr::memchr(b';', after_user.as_bytes()) {
        Some(semi) => (&after_user[..semi], &after_user[semi + 1..]),
        None => (after_user, ""),
    };
    let (host, port) = hostport_of(hostport).ok_or(ParseError::Uri)?;
    if !params.is_empty() || after_user.len() != hostport.len() {
        validate_uri_params(params)?;
    }
    if has_headers {
        validate_uri_headers(headers)?;
    }
    Ok(UriRef {
        scheme,
        user,
        password,
        host,
        port,
        params,
        headers,
    })
}

/// userinfo = ( user / telephone-subscriber ) [ ":" password ] "@"
fn userinfo(s: &str) -> Result<(&str, Option<&str>), ParseError> {
    let (user, password) = match memchr::memchr(b':', s.as_bytes()) {
        Some(c) => (&s[..c], Some(&s[c + 1..])),
        None => (s, None),
    };
    let user_ok = !user.is_empty()
        && all_escaped_or(user, |c| {
            is_unreserved(c) || matches!(c, b'&' | b'=' | b'+' | b'$' | b',' | b';' | b'?' | b'/')
        });
    let password_ok = password.is_none_or(|p| {
        all_escaped_or(p, |c| {
            is_unreserved(c) || matches!(c, b'&' | b'=' | b'+' | b'$' | b',')
        })
    });
    if user_ok && password_ok {
        Ok((user, password))
    } else {
        Err(ParseError::Uri)
    }
}

/// telephone-subscriber as in RFC 3966, kept loose: the number up to the
/// first ';', then uri-parameters.
fn parse_tel_rest<'a>(scheme: &'a str, rest: &'a str) -> Result<UriRef<'a>, ParseError> {
    let (number, params) = match memchr::memchr(b';', rest.as_bytes()) {
        Some(semi) => (&rest[..semi], &rest[semi + 1..]),
        None => (rest, ""),
    };
    let number_ok = !number.is_empty()
        && all_escaped_or(number, |c| {
            c.is_ascii_hexdigit() || matches!(c, b'+' | b'-' | b'.' | b'(' | b')' | b'*' | b'#')
        });
    if !number_ok {
        return Err(ParseError::Uri);
    }
    if number.len() != rest.len() {
        validate_uri_params(params)?;
    }
    Ok(UriRef {
        scheme,
        user: Some(number),
        password: None,
        host: "",
        port: None,
        params,
        headers: "",
    })
}

/// Any other absolute URI: carried opaque, only checked to be printable
/// without whitespace so that it cannot break the message framing.
fn parse_opaque_rest<'a>(scheme: &'a str, rest: &'a str) -> Result<UriRef<'a>, ParseError> {
    if rest.is_empty() || !rest.bytes().all(|c| c > b' ' && c < 0x7f) {
        return Err(ParseError::Uri);
    }
    Ok(UriRef {
        scheme,
        user: None,
        password: None,
        host: rest,
        port: None,
        params: "",
        headers: "",
    })
}

/// hostport = host [ ":" port ], with host = hostname / IPv4address /
/// IPv6reference. Used by URIs and (after whitespace trimming) by Via.
pub(crate) fn hostport_of(s: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if s.starts_with('[') {
        let close = memchr::memchr(b']', s.as_bytes())?;
        let host = &s[..=close];
        if !is_ipv6_reference(host) {
            return None;
        }
        match &s[close + 1..] {
            "" => (host, None),
            p => (host, Some(p.strip_prefix(':')?)),
        }
    } else {
        match memchr::memchr(b':', s.as_bytes()) {
            Some(c) => (&s[..c], Some(&s[c + 1..])),
            None => (s, None),
        }
    };
    if !host.starts_with('[') && !is_hostname(host) {
        return None;
    }
    let port = match port {
        Some(p) => Some(port_of(p)?),
        None => None,
    };
    Some((host, port))
}

/// port = 1*DIGIT, limited to what fits a u16.
pub(crate) fn port_of(s: &str) -> Option<u16> {
    if s.is_empty() || s.len() > 5 || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// hostname / IPv4address: letters, digits, '-', '.'. '_' is tolerated
/// because deployed DNS names carry it.
fn is_hostname(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_'))
}

/// IPv6reference = "[" IPv6address "]": hex groups, at most one "::", an
/// optional trailing dotted IPv4 (RFC 5118 3.2 cases).
fn is_ipv6_reference(s: &str) -> bool {
    let Some(inner) = s.strip_prefix('[').and_then(|s| s.strip_suffix(']')) else {
        return false;
    };
    if inner.len() < 2 || inner.len() > 45 {
        return false;
    }
    let double_colons = inner.matches("::").count();
    if double_colons > 1 || inner.contains(":::") {
        return false;
    }
    let mut hex_groups = 0;
    let mut groups = inner.split(':').peekable();
    while let Some(g) = groups.next() {
        let is_last = groups.peek().is_none();
        if g.is_empty() {
            continue;
        }
        if is_last && g.contains('.') {
            if !is_ipv4(g) {
                return false;
            }
            hex_groups += 2;
        } else if g.len() > 4 || !g.bytes().all(|c| c.is_ascii_hexdigit()) {
            return false;
        } else {
            hex_groups += 1;
        }
    }
    // An empty group may only come from a "::" (or start/end next to one).
    let leading_single = inner.starts_with(':') && !inner.starts_with("::");
    let trailing_single = inner.ends_with(':') && !inner.ends_with("::");
    if leading_single || trailing_single {
        return false;
    }
    if double_colons == 1 {
        hex_groups < 8
    } else {
        hex_groups == 8
    }
}

fn is_ipv4(s: &str) -> bool {
    let mut n = 0;
    for part in s.split('.') {
        n += 1;
        if part.is_empty() || part.len() > 3 || !part.bytes().all(|c| c.is_ascii_digit()) {
            return false;
        }
        if part.parse::<u16>().map_or(true, |v| v > 255) {
            return false;
        }
    }
    n == 4
}

/// Whether every byte is allowed by `ok` or is part of a `%HEX HEX` escape.
fn all_escaped_or(s: &str, ok: impl Fn(u8) -> bool) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if !is_escaped_at(b, i) {
                return false;
            }
            i += 3;
        } else if ok(b[i]) {
            i += 1;
        } else {
            return false;
        }
    }
    true
}

/// paramchar = param-unreserved / unreserved / escaped
fn is_paramchar(c: u8) -> bool {
    is_unreserved(c) || matches!(c, b'[' | b']' | b'/' | b':' | b'&' | b'+' | b'$')
}

/// uri-parameters = *( ";" pname [ "=" pvalue ] ), given without the first ';'.
fn validate_uri_params(s: &str) -> Result<(), ParseError> {
    for p in s.split(';') {
        let (name, value) = match memchr::memchr(b'=', p.as_bytes()) {
            Some(eq) => (&p[..eq], Some(&p[eq + 1..])),
            None => (p, None),
        };
        let name_ok = !name.is_empty() && all_escaped_or(name, is_paramchar);
        let value_ok = value.is_none_or(|v| !v.is_empty() && all_escaped_or(v, is_paramchar));
        if !name_ok || !value_ok {
            return Err(ParseError::Uri);
        }
    }
    Ok(())
}

/// headers = "?" header *( "&" header ), header = hname "=" hvalue
fn validate_uri_headers(s: &str) -> Result<(), ParseError> {
    let is_hnv =
        |c: u8| is_unreserved(c) || matches!(c, b'[' | b']' | b'/' | b'?' | b':' | b'+' | b'$');
    for h in s.split('&') {
        let eq = memchr::memchr(b'=', h.as_bytes()).ok_or(ParseError::Uri)?;
        let (name, value) = (&h[..eq], &h[eq + 1..]);
        if name.is_empty() || !all_escaped_or(name, is_hnv) || !all_escaped_or(value, is_hnv) {
            return Err(ParseError::Uri);
        }
    }
    Ok(())
}

/// Iterate validated uri-parameters.
pub(crate) fn uri_params(s: &str) -> impl Iterator<Item = (&str, Option<&str>)> {
    s.split(';')
        .filter(|p| !p.is_empty())
        .map(|p| match memchr::memchr(b'=', p.as_bytes()) {
            Some(eq) => (&p[..eq], Some(&p[eq + 1..])),
            None => (p, None),
        })
}

/// Iterate validated URI headers.
fn uri_headers(s: &str) -> impl Iterator<Item = (&str, &str)> {
    s.split('&').filter(|h| !h.is_empty()).map(|h| {
        let eq = memchr::memchr(b'=', h.as_bytes()).unwrap_or(h.len());
        (&h[..eq], h.get(eq + 1..).unwrap_or(""))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sip_uri_with_everything() {
        let u = Uri::parse("sip:alice:secret@example.com:5070;transport=tcp;lr?subject=hi&x=y")
            .unwrap();
        assert_eq!(u.scheme, Scheme::Sip);
        assert_eq!(u.user.as_deref(), Some("alice"));
        assert_eq!(u.password.as_deref(), Some("secret"));
        assert_eq!(u.host, "example.com");
        assert_eq!(u.port, Some(5070));
        assert_eq!(u.transport().as_deref(), Some("tcp"));
        assert_eq!(u.param("LR"), Some(None));
        assert_eq!(u.headers.len(), 2);
        assert_eq!(
            u.to_string(),
            "sip:alice:secret@example.com:5070;transport=tcp;lr?subject=hi&x=y"
        );
    }

    #[test]
    fn ipv6_references() {
        let u = Uri::parse("sips:[2001:db8::10]:5061").unwrap();
        assert_eq!(u.scheme, Scheme::Sips);
        assert_eq!(u.host, "[2001:db8::10]");
        assert_eq!(u.port, Some(5061));
        assert!(Uri::parse("sip:[2001:db8::10:5070]").is_ok());
        assert!(Uri::parse("sip:[::ffff:192.0.2.1]").is_ok());
        assert!(Uri::parse("sip:2001:db8::10").is_err());
        assert!(Uri::parse("sip:[2001:db8::10").is_err());
        assert!(Uri::parse("sip:[2001:db8:::10]").is_err());
        assert!(Uri::parse("sip:[1:2:3:4:5:6:7:8:9]").is_err());
    }

    #[test]
    fn user_part_may_hold_semicolons_and_escapes() {
        let u = Uri::parse("sip:user;par=u%40example.net@example.com").unwrap();
        assert_eq!(u.user.as_deref(), Some("user;par=u%40example.net"));
        assert_eq!(u.host, "example.com");
        assert!(u.params.is_empty());
        assert!(Uri::parse("sip:us%4@example.com").is_err());
    }

    #[test]
    fn tel_and_other_schemes() {
        let t = Uri::parse("tel:+1-201-555-0123;phone-context=example.com").unwrap();
        assert_eq!(t.scheme, Scheme::Tel);
        assert_eq!(t.user.as_deref(), Some("+1-201-555-0123"));
        assert_eq!(
            t.to_string(),
            "tel:+1-201-555-0123;phone-context=example.com"
        );
        let o = Uri::parse("urn:service:sos").unwrap();
        assert_eq!(o.scheme, Scheme::Other("urn".into()));
        assert_eq!(o.to_string(), "urn:service:sos");
    }

    #[test]
    fn rejects_bad_uris() {
        for bad in [
            "",
            "sip:",
            "example.com",
            "sip:user@",
            "sip:host:99999",
            "sip:host:",
            "sip:host;=x",
            "sip:host?noequals",
            "sip:a b@host",
            "1sip:host",
            "sip:<host>",
        ] {
            assert!(Uri::parse(bad).is_err(), "{bad}");
        }
    }
}
