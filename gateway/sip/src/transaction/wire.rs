//! The few header facts the transaction and dialog layers need, read
//! through the shared parser (`headers.rs`, `uri.rs`).
//!
//! Every function is lenient: it returns `None` on anything odd instead of
//! an error, because the layers above only need a few tokens and treat a
//! missing one the same way as a malformed one.

use crate::headers::{CSeq, NameAddr, Via};
use crate::message::{HeaderName, Headers, Message, Method, Request, Response};
use crate::uri::Uri;

/// The parts of the top Via that transaction matching needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ViaInfo {
    /// `host[:port]`, host lowercased, as written (no default port filled
    /// in: RFC 3261 17.2.3 compares sent-by as it appears).
    pub sent_by: String,
    pub branch: Option<String>,
}

pub(crate) fn top_via(h: &Headers) -> Option<ViaInfo> {
    let v = Via::parse(h.get(&HeaderName::Via)?).ok()?;
    let mut sent_by = v.host.to_ascii_lowercase();
    if let Some(p) = v.port {
        sent_by.push(':');
        sent_by.push_str(&p.to_string());
    }
    Some(ViaInfo {
        sent_by,
        branch: v.branch().map(str::to_string),
    })
}

pub(crate) fn cseq(h: &Headers) -> Option<(u32, Method)> {
    let c = CSeq::parse(h.get(&HeaderName::CSeq)?).ok()?;
    Some((c.seq, c.method))
}

pub(crate) fn call_id(h: &Headers) -> Option<&str> {
    h.get(&HeaderName::CallId)
        .map(str::trim)
        .filter(|c| !c.is_empty())
}

/// The `tag` parameter of a From/To value.
pub(crate) fn tag(value: &str) -> Option<String> {
    NameAddr::parse(value)
        .ok()?
        .tag()
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

pub(crate) fn header_tag(h: &Headers, name: &HeaderName) -> Option<String> {
    tag(h.get(name)?)
}

/// Append `;tag=...` to a From/To value that has none. The value is kept
/// as written otherwise, so a peer sees its own bytes echoed.
pub(crate) fn with_tag(value: &str, tag_value: &str) -> String {
    let v = value.trim();
    if tag(v).is_some() {
        return v.to_string();
    }
    format!("{v};tag={tag_value}")
}

pub(crate) fn name_addr_uri(value: &str) -> Option<Uri> {
    NameAddr::parse(value).ok().map(|n| n.uri)
}

/// Does the URI of a Route/Record-Route value carry `;lr`?
pub(crate) fn route_is_loose(value: &str) -> bool {
    name_addr_uri(value).is_some_and(|u| u.param("lr").is_some())
}

pub(crate) fn fmt_uri(u: &Uri) -> String {
    u.to_string()
}

/// A response with the headers RFC 3261 8.2.6.2 copies, plus Timestamp
/// (8.2.6.1) so a 100 Trying lets the peer measure the RTT.
pub(crate) fn response_from_request(req: &Request, status: u16, reason: &str) -> Response {
    let mut r = Response::from_request(req, status, reason);
    if let Some(ts) = req.headers.get(&HeaderName::Timestamp) {
        r.headers.push(HeaderName::Timestamp, ts);
    }
    r
}

pub(crate) fn to_bytes(msg: &Message) -> Vec<u8> {
    msg.to_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn via_parts() {
        let mut h = Headers::new();
        h.push(
            HeaderName::Via,
            "SIP/2.0/UDP PC33.Example.com:5060;rport;branch=z9hG4bK776",
        );
        let v = top_via(&h).unwrap();
        assert_eq!(v.sent_by, "pc33.example.com:5060");
        assert_eq!(v.branch.as_deref(), Some("z9hG4bK776"));
        let mut bad = Headers::new();
        bad.push(HeaderName::Via, "garbage");
        assert!(top_via(&bad).is_none());
    }

    #[test]
    fn tags_and_routes() {
        assert_eq!(
            tag("\"A;b\" <sip:a@b;tag=no>;tag=1928").as_deref(),
            Some("1928")
        );
        assert_eq!(tag("<sip:a@b;tag=x>"), None);
        assert_eq!(with_tag("<sip:a@b>", "t1"), "<sip:a@b>;tag=t1");
        assert_eq!(with_tag("<sip:a@b>;tag=t0", "t1"), "<sip:a@b>;tag=t0");
        assert!(route_is_loose("<sip:p1.example.com;lr>"));
        assert!(!route_is_loose("<sip:p1.example.com>;lr"));
    }
}
