//! The few header facts the transaction and dialog layers need, extracted
//! from raw header values.
//!
//! Why this exists: the typed parsers in `headers.rs`/`uri.rs` and the
//! serializer are being written in parallel. Everything the layers above
//! read or write goes through this one module, so switching to the shared
//! parser is a change in one place. The extraction here is deliberately
//! lenient (it never panics and returns `None` on anything odd): the message
//! was already accepted by the parser, and these layers only need a few
//! tokens from it.

use crate::message::{HeaderName, Headers, Message, Method};
use crate::uri::{Scheme, Uri};

/// The parts of the top Via that transaction matching needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ViaInfo {
    /// Uppercased transport token (UDP, TCP, TLS, ...).
    pub transport: String,
    /// `host[:port]`, host lowercased, as it appears (no default port filled
    /// in: RFC 3261 17.2.3 compares sent-by as written).
    pub sent_by: String,
    pub branch: Option<String>,
}

pub(crate) fn parse_via(value: &str) -> Option<ViaInfo> {
    let (head, params) = match value.find(';') {
        Some(i) => (&value[..i], &value[i + 1..]),
        None => (value, ""),
    };
    let head = head.trim();
    // "SIP / 2.0 / UDP host:port": the protocol may contain spaces around
    // slashes, so take the transport as the token after the second slash.
    let mut slashes = head.match_indices('/');
    let _ = slashes.next()?;
    let (second, _) = slashes.next()?;
    let rest = head[second + 1..].trim_start();
    let end = rest.find(|c: char| c.is_whitespace())?;
    let transport = rest[..end].to_ascii_uppercase();
    let sent_by = rest[end..].trim().to_ascii_lowercase();
    if sent_by.is_empty() || transport.is_empty() {
        return None;
    }
    let branch = param_value(params, "branch").map(str::to_string);
    Some(ViaInfo {
        transport,
        sent_by,
        branch,
    })
}

pub(crate) fn top_via(h: &Headers) -> Option<ViaInfo> {
    // The parser splits Via on commas, but a TU-built message may carry a
    // single raw value with several hops.
    let v = h.get(&HeaderName::Via)?;
    let first = v.split(',').next()?;
    parse_via(first)
}

/// Value of `name` in a `;a=b;c` parameter string (leading `;` optional).
fn param_value<'a>(params: &'a str, name: &str) -> Option<&'a str> {
    for p in params.split(';') {
        let p = p.trim();
        let (n, v) = match p.find('=') {
            Some(i) => (p[..i].trim(), p[i + 1..].trim()),
            None => (p, ""),
        };
        if n.eq_ignore_ascii_case(name) {
            return Some(v.trim_matches('"'));
        }
    }
    None
}

fn has_param(params: &str, name: &str) -> bool {
    params.split(';').any(|p| {
        let n = p.split('=').next().unwrap_or("").trim();
        n.eq_ignore_ascii_case(name)
    })
}

pub(crate) fn cseq(h: &Headers) -> Option<(u32, Method)> {
    let v = h.get(&HeaderName::CSeq)?;
    let mut it = v.split_whitespace();
    let n: u32 = it.next()?.parse().ok()?;
    let m = it.next()?;
    if it.next().is_some() {
        return None;
    }
    Some((n, Method::from_token(m)))
}

pub(crate) fn call_id(h: &Headers) -> Option<&str> {
    h.get(&HeaderName::CallId).map(str::trim)
}

/// A name-addr or addr-spec split into its URI text and the header
/// parameters after it.
pub(crate) struct NameAddrParts<'a> {
    pub uri: &'a str,
    pub params: &'a str,
}

pub(crate) fn split_name_addr(value: &str) -> Option<NameAddrParts<'_>> {
    let value = value.trim();
    if let Some(lt) = find_unquoted(value, '<') {
        let gt = value[lt..].find('>')? + lt;
        Some(NameAddrParts {
            uri: value[lt + 1..gt].trim(),
            params: &value[gt + 1..],
        })
    } else {
        // addr-spec form: everything after the first ';' is a header
        // parameter (RFC 3261 20.10), never a URI parameter.
        match value.find(';') {
            Some(i) => Some(NameAddrParts {
                uri: value[..i].trim(),
                params: &value[i..],
            }),
            None => Some(NameAddrParts {
                uri: value,
                params: "",
            }),
        }
    }
}

fn find_unquoted(s: &str, c: char) -> Option<usize> {
    let mut quoted = false;
    let mut escaped = false;
    for (i, ch) in s.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match ch {
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            _ if ch == c && !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

/// The `tag` parameter of a From/To value.
pub(crate) fn tag(value: &str) -> Option<String> {
    let p = split_name_addr(value)?;
    param_value(p.params, "tag")
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

pub(crate) fn header_tag(h: &Headers, name: &HeaderName) -> Option<String> {
    tag(h.get(name)?)
}

/// Append `;tag=...` to a From/To value that has none.
pub(crate) fn with_tag(value: &str, tag: &str) -> String {
    let v = value.trim();
    if let Some(p) = split_name_addr(v) {
        if has_param(p.params, "tag") {
            return v.to_string();
        }
    }
    format!("{v};tag={tag}")
}

pub(crate) fn name_addr_uri(value: &str) -> Option<Uri> {
    parse_uri(split_name_addr(value)?.uri)
}

/// Does the URI text of a Route/Record-Route value carry `;lr`?
pub(crate) fn route_is_loose(value: &str) -> bool {
    split_name_addr(value)
        .and_then(|p| parse_uri(p.uri))
        .map(|u| u.param("lr").is_some())
        .unwrap_or(false)
}

pub(crate) fn parse_uri(s: &str) -> Option<Uri> {
    let s = s.trim();
    let colon = s.find(':')?;
    let scheme = match s[..colon].to_ascii_lowercase().as_str() {
        "sip" => Scheme::Sip,
        "sips" => Scheme::Sips,
        "tel" => Scheme::Tel,
        "" => return None,
        other => Scheme::Other(other.to_string()),
    };
    let rest = &s[colon + 1..];
    let (rest, headers) = match rest.find('?') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, ""),
    };
    let headers = headers
        .split('&')
        .filter(|x| !x.is_empty())
        .map(|kv| match kv.find('=') {
            Some(i) => (kv[..i].to_string(), kv[i + 1..].to_string()),
            None => (kv.to_string(), String::new()),
        })
        .collect();
    let (userhost, params) = match rest.find(';') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, ""),
    };
    let params = params
        .split(';')
        .filter(|x| !x.is_empty())
        .map(|kv| match kv.find('=') {
            Some(i) => (kv[..i].to_string(), Some(kv[i + 1..].to_string())),
            None => (kv.to_string(), None),
        })
        .collect();
    if scheme == Scheme::Tel {
        return Some(Uri {
            scheme,
            user: Some(userhost.to_string()),
            password: None,
            host: String::new(),
            port: None,
            params,
            headers,
        });
    }
    let (userinfo, hostport) = match userhost.rfind('@') {
        Some(i) => (Some(&userhost[..i]), &userhost[i + 1..]),
        None => (None, userhost),
    };
    let (user, password) = match userinfo {
        Some(u) => match u.find(':') {
            Some(i) => (Some(u[..i].to_string()), Some(u[i + 1..].to_string())),
            None => (Some(u.to_string()), None),
        },
        None => (None, None),
    };
    let (host, port) = if hostport.starts_with('[') {
        let end = hostport.find(']')?;
        let host = &hostport[..=end];
        let port = match hostport[end + 1..].strip_prefix(':') {
            Some(p) => Some(p.parse().ok()?),
            None => None,
        };
        (host.to_string(), port)
    } else {
        match hostport.rfind(':') {
            Some(i) => (
                hostport[..i].to_string(),
                Some(hostport[i + 1..].parse().ok()?),
            ),
            None => (hostport.to_string(), None),
        }
    };
    if host.is_empty() {
        return None;
    }
    Some(Uri {
        scheme,
        user,
        password,
        host,
        port,
        params,
        headers,
    })
}

pub(crate) fn fmt_uri(u: &Uri) -> String {
    let mut s = String::with_capacity(48);
    s.push_str(match &u.scheme {
        Scheme::Sip => "sip",
        Scheme::Sips => "sips",
        Scheme::Tel => "tel",
        Scheme::Other(o) => o,
    });
    s.push(':');
    if let Some(user) = &u.user {
        s.push_str(user);
        if let Some(pw) = &u.password {
            s.push(':');
            s.push_str(pw);
        }
        if !u.host.is_empty() {
            s.push('@');
        }
    }
    s.push_str(&u.host);
    if let Some(p) = u.port {
        s.push(':');
        s.push_str(&p.to_string());
    }
    for (n, v) in &u.params {
        s.push(';');
        s.push_str(n);
        if let Some(v) = v {
            s.push('=');
            s.push_str(v);
        }
    }
    for (i, (n, v)) in u.headers.iter().enumerate() {
        s.push(if i == 0 { '?' } else { '&' });
        s.push_str(n);
        s.push('=');
        s.push_str(v);
    }
    s
}

/// A response carrying the headers RFC 3261 8.2.6.2 copies from the
/// request. The To tag is left to the caller.
pub(crate) fn response_from_request(
    req: &crate::message::Request,
    status: u16,
    reason: &str,
) -> crate::message::Response {
    let mut headers = Headers::new();
    for h in req.headers.iter() {
        if matches!(
            h.name,
            HeaderName::Via
                | HeaderName::From
                | HeaderName::To
                | HeaderName::CallId
                | HeaderName::CSeq
                | HeaderName::Timestamp
        ) {
            headers.push(h.name.clone(), h.value.clone());
        }
    }
    crate::message::Response {
        status,
        reason: reason.to_string(),
        headers,
        body: Vec::new(),
    }
}

/// Serialize a message; Content-Length always reflects the body.
pub(crate) fn to_bytes(msg: &Message) -> Vec<u8> {
    let mut out = Vec::with_capacity(512 + msg.body().len());
    match msg {
        Message::Request(r) => {
            out.extend_from_slice(r.method.as_str().as_bytes());
            out.push(b' ');
            out.extend_from_slice(fmt_uri(&r.uri).as_bytes());
            out.extend_from_slice(b" SIP/2.0\r\n");
        }
        Message::Response(r) => {
            out.extend_from_slice(format!("SIP/2.0 {} {}\r\n", r.status, r.reason).as_bytes());
        }
    }
    for h in msg.headers().iter() {
        if h.name == HeaderName::ContentLength {
            continue;
        }
        out.extend_from_slice(h.name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(h.value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", msg.body().len()).as_bytes());
    out.extend_from_slice(msg.body());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn via_parts() {
        let v = parse_via("SIP/2.0/udp PC33.Example.com:5060;rport;branch=z9hG4bK776").unwrap();
        assert_eq!(v.transport, "UDP");
        assert_eq!(v.sent_by, "pc33.example.com:5060");
        assert_eq!(v.branch.as_deref(), Some("z9hG4bK776"));
        assert!(parse_via("garbage").is_none());
        assert!(parse_via("SIP/2.0/UDP").is_none());
    }

    #[test]
    fn tags_and_uris() {
        assert_eq!(
            tag("\"A;b\" <sip:a@b;tag=no>;tag=1928").as_deref(),
            Some("1928")
        );
        assert_eq!(tag("sip:a@b;tag=x").as_deref(), Some("x"));
        assert_eq!(tag("<sip:a@b;tag=x>"), None);
        let u = parse_uri("sip:bob:pw@[2001:db8::1]:5070;lr;transport=tcp?subject=x").unwrap();
        assert_eq!(u.host, "[2001:db8::1]");
        assert_eq!(u.port, Some(5070));
        assert_eq!(
            fmt_uri(&u),
            "sip:bob:pw@[2001:db8::1]:5070;lr;transport=tcp?subject=x"
        );
        assert!(route_is_loose("<sip:p1.example.com;lr>"));
        assert!(!route_is_loose("<sip:p1.example.com>;lr"));
        assert!(parse_uri("sip:host:notaport").is_none());
    }
}
