//! Typed views of the headers every layer needs, parsed on demand from raw
//! header values. OWNER: parser helper.
//!
//! Each view has a borrowing twin (`ViaRef`, `NameAddrRef`) that checks the
//! grammar without allocating; the message parser runs those over the
//! headers it must vouch for, and the owned types are built from them.

use crate::error::ParseError;
use crate::message::Method;
use crate::parse::scan::{is_token, is_token_char, is_ws, quoted_string_len, trim_ws, ParamIter};
use crate::uri::{hostport_of, port_of, Uri, UriRef};
use std::fmt;

/// Generic `;name=value` parameters; names keep their case and are matched
/// case-insensitively. Values are kept as received, quoted-string values
/// with their quotes, so that a header is re-serialized unchanged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(pub Vec<(String, Option<String>)>);

impl Params {
    pub fn get(&self, name: &str) -> Option<Option<&str>> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_deref())
    }
    pub fn set(&mut self, name: &str, value: Option<String>) {
        if let Some(p) = self
            .0
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            p.1 = value;
        } else {
            self.0.push((name.to_string(), value));
        }
    }
    pub fn remove(&mut self, name: &str) {
        self.0.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Parse `;a=b;c` (whitespace allowed around `;` and `=`).
    pub fn parse(s: &str) -> Result<Params, ParseError> {
        let mut out = Vec::new();
        for p in ParamIter::new(s) {
            let (n, v) = p.map_err(|_| ParseError::Header("parameter".into()))?;
            out.push((n.to_string(), v.map(str::to_string)));
        }
        Ok(Params(out))
    }

    fn from_validated(s: &str) -> Params {
        Params(
            ParamIter::new(s)
                .filter_map(Result::ok)
                .map(|(n, v)| (n.to_string(), v.map(str::to_string)))
                .collect(),
        )
    }
}

impl fmt::Display for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, value) in &self.0 {
            f.write_str(";")?;
            f.write_str(name)?;
            if let Some(v) = value {
                f.write_str("=")?;
                f.write_str(v)?;
            }
        }
        Ok(())
    }
}

fn bad(header: &str) -> ParseError {
    ParseError::Header(header.to_string())
}

/// One Via value: `SIP/2.0/UDP host:port;branch=...;rport;received=...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    /// Uppercased transport: UDP, TCP, TLS, SCTP, WS, WSS.
    pub transport: String,
    pub host: String,
    pub port: Option<u16>,
    pub params: Params,
}

impl Via {
    pub fn parse(value: &str) -> Result<Via, ParseError> {
        let v = ViaRef::parse(value)?;
        Ok(Via {
            transport: v.transport.to_ascii_uppercase(),
            host: v.host.to_string(),
            port: v.port,
            params: Params::from_validated(v.params),
        })
    }
    pub fn branch(&self) -> Option<&str> {
        self.params.get("branch").flatten()
    }
    /// `received` parameter (RFC 3261 18.2.1).
    pub fn received(&self) -> Option<&str> {
        self.params.get("received").flatten()
    }
    /// `rport`: `None` if absent, `Some(None)` if present without value
    /// (RFC 3581), `Some(Some(port))` when filled in.
    pub fn rport(&self) -> Option<Option<u16>> {
        self.params
            .get("rport")
            .map(|v| v.and_then(|p| p.parse().ok()))
    }
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SIP/2.0/{} {}", self.transport, self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        self.params.fmt(f)
    }
}

impl std::str::FromStr for Via {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Via, ParseError> {
        Via::parse(s)
    }
}

/// A grammar-checked Via value borrowing from its input.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ViaRef<'a> {
    pub transport: &'a str,
    pub host: &'a str,
    pub port: Option<u16>,
    /// The via-params including their leading `;`, validated.
    pub params: &'a str,
}

impl<'a> ViaRef<'a> {
    /// via-parm = sent-protocol LWS sent-by *( SEMI via-params ), with
    /// sent-protocol = protocol-name SLASH protocol-version SLASH transport
    /// and SLASH = SWS "/" SWS.
    pub fn parse(value: &'a str) -> Result<ViaRef<'a>, ParseError> {
        let mut s = Cursor::new(trim_ws(value));
        let name = s.token();
        s.skip_ws();
        s.expect(b'/').ok_or_else(|| bad("Via"))?;
        s.skip_ws();
        let version = s.token();
        s.skip_ws();
        s.expect(b'/').ok_or_else(|| bad("Via"))?;
        s.skip_ws();
        let transport = s.token();
        if !name.eq_ignore_ascii_case("SIP") || transport.is_empty() {
            return Err(bad("Via"));
        }
        if version != "2.0" {
            return Err(ParseError::Version(version.to_string()));
        }
        if s.skip_ws() == 0 {
            return Err(bad("Via"));
        }
        let host = s.host().ok_or_else(|| bad("Via"))?;
        s.skip_ws();
        let port = if s.expect(b':').is_some() {
            s.skip_ws();
            Some(port_of(s.digits()).ok_or_else(|| bad("Via"))?)
        } else {
            None
        };
        let params = s.rest();
        if hostport_of(host).is_none() {
            return Err(bad("Via"));
        }
        if ParamIter::new(params).any(|p| p.is_err()) {
            return Err(bad("Via"));
        }
        Ok(ViaRef {
            transport,
            host,
            port,
            params,
        })
    }
}

/// `"Display" <uri>;tag=...` as in From, To, Contact, Route, Record-Route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr {
    /// The display name with quotes removed and `\` escapes resolved.
    pub display: Option<String>,
    pub uri: Uri,
    pub params: Params,
}

impl NameAddr {
    pub fn parse(value: &str) -> Result<NameAddr, ParseError> {
        let n = NameAddrRef::parse(value).map_err(|_| bad("address"))?;
        Ok(n.to_name_addr())
    }

    /// A bare `<uri>` with no display name or parameters.
    pub fn new(uri: Uri) -> NameAddr {
        NameAddr {
            display: None,
            uri,
            params: Params::default(),
        }
    }

    pub fn tag(&self) -> Option<&str> {
        self.params.get("tag").flatten()
    }
}

impl fmt::Display for NameAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(d) = &self.display {
            f.write_str("\"")?;
            for c in d.chars() {
                if c == '"' || c == '\\' {
                    f.write_str("\\")?;
                }
                write!(f, "{c}")?;
            }
            f.write_str("\" ")?;
        }
        write!(f, "<{}>", self.uri)?;
        self.params.fmt(f)
    }
}

impl std::str::FromStr for NameAddr {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<NameAddr, ParseError> {
        NameAddr::parse(s)
    }
}

/// A grammar-checked name-addr / addr-spec borrowing from its input.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NameAddrRef<'a> {
    /// As received: a quoted string with its quotes, or a run of tokens.
    pub display: Option<&'a str>,
    pub uri: UriRef<'a>,
    /// The header parameters including their leading `;`, validated.
    pub params: &'a str,
}

impl<'a> NameAddrRef<'a> {
    /// ( name-addr / addr-spec ) *( SEMI param ), where
    /// name-addr = [ display-name ] LAQUOT addr-spec RAQUOT.
    pub fn parse(value: &'a str) -> Result<NameAddrRef<'a>, ParseError> {
        let s = trim_ws(value);
        let b = s.as_bytes();
        let (display, uri, params) = if b.first() == Some(&b'"') {
            let len = quoted_string_len(b).ok_or(ParseError::Uri)?;
            let rest = trim_ws(&s[len..]);
            let (uri, params) = angle_bracketed(rest)?;
            (Some(&s[..len]), uri, params)
        } else if let Some(lt) = memchr::memchr(b'<', b)
            // A ';' first means an addr-spec whose parameters hold the '<'
            // (`sip:a@b;+sip.instance="<urn:...>"`): display names have no ';'.
            .filter(|&lt| memchr::memchr(b';', &b[..lt]).is_none())
        {
            let display = trim_ws(&s[..lt]);
            // Tokens only (RFC 3261 25.1), but UTF-8 is let through: room
            // systems send unquoted Vietnamese names, and refusing the
            // whole request over it helps nobody.
            if !display
                .bytes()
                .all(|c| is_token_char(c) || is_ws(c) || c >= 0x80)
            {
                return Err(ParseError::Uri);
            }
            let (uri, params) = angle_bracketed(&s[lt..])?;
            ((!display.is_empty()).then_some(display), uri, params)
        } else {
            // addr-spec without brackets: parameters belong to the header,
            // so the URI ends at the first ';' (RFC 3261 20.10).
            // A URI holding ',', '?' or ';' must be bracketed (RFC 3261 20),
            // which is what makes RFC 4475 regbadct malformed.
            let end = b
                .iter()
                .position(|&c| c == b';' || is_ws(c))
                .unwrap_or(b.len());
            if b[..end].iter().any(|&c| c == b'?' || c == b',') {
                return Err(ParseError::Uri);
            }
            (None, &s[..end], &s[end..])
        };
        let uri = UriRef::parse(uri)?;
        if ParamIter::new(params).any(|p| p.is_err()) {
            return Err(ParseError::Uri);
        }
        Ok(NameAddrRef {
            display,
            uri,
            params,
        })
    }

    pub fn to_name_addr(self) -> NameAddr {
        NameAddr {
            display: self.display.map(unquote),
            uri: self.uri.to_uri(),
            params: Params::from_validated(self.params),
        }
    }
}

/// `<uri>` followed by parameters: returns the URI text and the rest.
fn angle_bracketed(s: &str) -> Result<(&str, &str), ParseError> {
    let inner = s.strip_prefix('<').ok_or(ParseError::Uri)?;
    let gt = memchr::memchr(b'>', inner.as_bytes()).ok_or(ParseError::Uri)?;
    Ok((&inner[..gt], &inner[gt + 1..]))
}

/// The content of a quoted string with escapes resolved, or a token run as is.
fn unquote(s: &str) -> String {
    let Some(inner) = s.strip_prefix('"').and_then(|s| s.strip_suffix('"')) else {
        return s.to_string();
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(e) = chars.next() {
                out.push(e);
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CSeq {
    pub seq: u32,
    pub method: Method,
}

impl CSeq {
    /// CSeq = 1*DIGIT LWS Method
    pub fn parse(value: &str) -> Result<CSeq, ParseError> {
        let (seq, method) = cseq_parts(value)?;
        Ok(CSeq {
            seq,
            method: Method::from_token(method),
        })
    }
}

/// The number and method token of a CSeq value, without allocating.
pub(crate) fn cseq_parts(value: &str) -> Result<(u32, &str), ParseError> {
    let mut s = Cursor::new(trim_ws(value));
    let digits = s.digits();
    let seq = if digits.is_empty() || digits.len() > 10 {
        None
    } else {
        digits.parse::<u32>().ok()
    };
    let seq = seq.ok_or_else(|| bad("CSeq"))?;
    if s.skip_ws() == 0 {
        return Err(bad("CSeq"));
    }
    let method = s.rest();
    if !is_token(method) {
        return Err(bad("CSeq"));
    }
    Ok((seq, method))
}

impl fmt::Display for CSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.seq, self.method)
    }
}

impl std::str::FromStr for CSeq {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<CSeq, ParseError> {
        CSeq::parse(s)
    }
}

/// A forward-only byte cursor over one header value.
struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(s: &'a str) -> Self {
        Cursor { s, pos: 0 }
    }
    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }
    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(&f) {
            self.pos += 1;
        }
        &self.s[start..self.pos]
    }
    fn token(&mut self) -> &'a str {
        self.take_while(is_token_char)
    }
    fn digits(&mut self) -> &'a str {
        self.take_while(|c| c.is_ascii_digit())
    }
    fn skip_ws(&mut self) -> usize {
        self.take_while(is_ws).len()
    }
    fn expect(&mut self, c: u8) -> Option<()> {
        (self.peek() == Some(c)).then(|| self.pos += 1)
    }
    /// An IPv6 reference up to its `]`, or a hostname / IPv4 run.
    fn host(&mut self) -> Option<&'a str> {
        if self.peek() == Some(b'[') {
            let close = memchr::memchr(b']', &self.s.as_bytes()[self.pos..])?;
            let start = self.pos;
            self.pos += close + 1;
            Some(&self.s[start..self.pos])
        } else {
            let h =
                self.take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_'));
            (!h.is_empty()).then_some(h)
        }
    }
    fn rest(&self) -> &'a str {
        &self.s[self.pos..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn via_round_trip() {
        let v =
            Via::parse("SIP/2.0/udp pc33.atlanta.com:5066;branch=z9hG4bK776asdhds;rport").unwrap();
        assert_eq!(v.transport, "UDP");
        assert_eq!(v.host, "pc33.atlanta.com");
        assert_eq!(v.port, Some(5066));
        assert_eq!(v.branch(), Some("z9hG4bK776asdhds"));
        assert_eq!(v.rport(), Some(None));
        assert_eq!(
            v.to_string(),
            "SIP/2.0/UDP pc33.atlanta.com:5066;branch=z9hG4bK776asdhds;rport"
        );
    }

    #[test]
    fn via_with_spaces_and_ipv6() {
        let v = Via::parse("SIP  /   2.0 / TCP [2001:db8::9:1] : 5060 ; branch = z9hG4bKx ; received=[2001:db8::9:255]").unwrap();
        assert_eq!(v.transport, "TCP");
        assert_eq!(v.host, "[2001:db8::9:1]");
        assert_eq!(v.port, Some(5060));
        assert_eq!(v.branch(), Some("z9hG4bKx"));
        assert_eq!(v.received(), Some("[2001:db8::9:255]"));
    }

    #[test]
    fn via_rejects() {
        for bad in [
            "",
            "SIP/2.0/UDP",
            "SIP/2.0/UDP ",
            "SIP/2.0/UDPhost",
            "SIP/2.0 host",
            "SIP/2.0/UDP host;;",
            "SIP/2.0/UDP 192.0.2.15;;,;,,",
            "SIP/2.0/UDP host:abc",
            "SIP/2.0/UDP host;branch=",
            "SIP/2.0/UDP [2001:db8::1",
            "HTTP/2.0/UDP host",
        ] {
            assert!(Via::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Via::parse("SIP/3.0/UDP host"),
            Err(ParseError::Version("3.0".into()))
        );
    }

    #[test]
    fn name_addr_forms() {
        let n = NameAddr::parse(
            "\"Bob \\\"B\\\" Smith\" <sip:bob@biloxi.com;transport=tcp>;tag=a6c85cf",
        )
        .unwrap();
        assert_eq!(n.display.as_deref(), Some("Bob \"B\" Smith"));
        assert_eq!(n.uri.host, "biloxi.com");
        assert_eq!(n.uri.transport().as_deref(), Some("tcp"));
        assert_eq!(n.tag(), Some("a6c85cf"));
        assert_eq!(
            n.to_string(),
            "\"Bob \\\"B\\\" Smith\" <sip:bob@biloxi.com;transport=tcp>;tag=a6c85cf"
        );

        let n = NameAddr::parse("Bob Smith <sip:bob@biloxi.com>").unwrap();
        assert_eq!(n.display.as_deref(), Some("Bob Smith"));
        let n = NameAddr::parse("Phòng họp Ba Đình <sip:room@hanoi.example.vn>").unwrap();
        assert_eq!(n.display.as_deref(), Some("Phòng họp Ba Đình"));

        let n = NameAddr::parse("sip:bob@biloxi.com;tag=1928301774").unwrap();
        assert_eq!(n.display, None);
        assert!(n.uri.params.is_empty());
        assert_eq!(n.tag(), Some("1928301774"));

        let n = NameAddr::parse("sip:a@b;+sip.instance=\"<urn:uuid:1>\"").unwrap();
        assert_eq!(n.uri.host, "b");
        assert_eq!(
            n.params.get("+sip.instance"),
            Some(Some("\"<urn:uuid:1>\""))
        );
        let n = NameAddr::parse("<sip:[2001:db8::1]:5060>;+sip.instance=\"<urn:uuid:1>\"").unwrap();
        assert_eq!(n.uri.host, "[2001:db8::1]");
        assert_eq!(
            n.params.get("+sip.instance"),
            Some(Some("\"<urn:uuid:1>\""))
        );
    }

    #[test]
    fn name_addr_rejects() {
        for bad in [
            "",
            "\"unbalanced <sip:a@b>",
            "<sip:a@b",
            "sip:a@b>",
            "<sip:a@b>;;",
            "Bob, <sip:a@b>",
            "<>",
            "<notauri>",
        ] {
            assert!(NameAddr::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cseq() {
        assert_eq!(
            CSeq::parse(" 4711  INVITE ").unwrap(),
            CSeq {
                seq: 4711,
                method: Method::Invite
            }
        );
        assert_eq!(
            CSeq::parse("1 NEWMETHOD").unwrap().method,
            Method::Other("NEWMETHOD".into())
        );
        for bad in [
            "",
            "INVITE",
            "1INVITE",
            "-1 INVITE",
            "99999999999 INVITE",
            "1 INV ITE",
            "1",
        ] {
            assert!(CSeq::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            CSeq::parse("x").unwrap_err().to_string(),
            "malformed CSeq header"
        );
    }
}
