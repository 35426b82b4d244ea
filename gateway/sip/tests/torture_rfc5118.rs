//! RFC 5118 (SIP torture tests for IPv6), section 4, rewritten as compact
//! messages: each case keeps the header under test exactly as the RFC
//! gives it and fills the rest with ordinary mandatory headers.

use gateway_sip::message::Message;
use gateway_sip::parse::parse_message;
use gateway_sip::{ParseError, Request};

fn register(request_uri: &str, extra: &[&str]) -> Vec<u8> {
    let mut m = format!("REGISTER {request_uri} SIP/2.0\r\n");
    let has_via = extra.iter().any(|l| l.starts_with("Via:"));
    if !has_via {
        m.push_str("Via: SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bKas3-111\r\n");
    }
    for line in [
        "To: sip:user@example.com",
        "From: sip:user@example.com;tag=81x2",
        "Call-ID: SSG9559905523997077@hlau_4100",
        "Max-Forwards: 70",
        "CSeq: 98176 REGISTER",
    ] {
        m.push_str(line);
        m.push_str("\r\n");
    }
    for line in extra {
        m.push_str(line);
        m.push_str("\r\n");
    }
    m.push_str("Content-Length: 0\r\n\r\n");
    m.into_bytes()
}

fn parse_request(data: &[u8]) -> Request {
    match parse_message(data) {
        Ok(Message::Request(r)) => r,
        other => panic!("{other:?}"),
    }
}

#[test]
fn ipv6_good_4_1() {
    let r = parse_request(&register(
        "sip:[2001:db8::10]",
        &["Contact: \"Caller\" <sip:caller@[2001:db8::1]>"],
    ));
    assert_eq!(r.uri.host, "[2001:db8::10]");
    assert_eq!(r.uri.port, None);
    assert_eq!(r.top_via().unwrap().host, "[2001:db8::9:1]");
    assert_eq!(r.contacts().unwrap()[0].uri.host, "[2001:db8::1]");
}

#[test]
fn ipv6_without_brackets_is_rejected_4_2() {
    let f = parse_message(&register("sip:2001:db8::10", &[])).unwrap_err();
    assert_eq!(f.error, ParseError::RequestUri);
    assert_eq!(f.error_response().unwrap().status, 400);
    let via = register(
        "sip:[2001:db8::10]",
        &["Via: SIP/2.0/UDP 2001:db8::9:1;branch=z9hG4bKas3"],
    );
    assert_eq!(
        parse_message(&via).unwrap_err().error,
        ParseError::Header("Via".into())
    );
}

#[test]
fn port_ambiguous_and_unambiguous_4_3_4_4() {
    let r = parse_request(&register("sip:[2001:db8::10:5070]", &[]));
    assert_eq!(
        (r.uri.host.as_str(), r.uri.port),
        ("[2001:db8::10:5070]", None)
    );
    let r = parse_request(&register("sip:[2001:db8::10]:5070", &[]));
    assert_eq!(
        (r.uri.host.as_str(), r.uri.port),
        ("[2001:db8::10]", Some(5070))
    );
    assert_eq!(r.uri.to_string(), "sip:[2001:db8::10]:5070");
}

#[test]
fn via_received_with_and_without_delimiters_4_5() {
    for received in ["[2001:db8::9:255]", "2001:db8::9:255"] {
        let via =
            format!("Via: SIP/2.0/UDP [2001:db8::9:1];received={received};branch=z9hG4bKas3-111");
        let r = parse_request(&register("sip:[2001:db8::10]", &[&via]));
        let v = r.top_via().unwrap();
        assert_eq!(v.received(), Some(received));
        assert_eq!(v.branch(), Some("z9hG4bKas3-111"));
    }
}

#[test]
fn multiple_addresses_in_headers_4_7() {
    let r = parse_request(&register(
        "sip:[2001:db8::10]",
        &[
            "Via: SIP/2.0/UDP [2001:db8::9:1]:6050;branch=z9hG4bKas3-111",
            "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKjhja8781hjuaij65144",
            "Via: SIP/2.0/TCP [2001:db8::9:255];branch=z9hG4bK451jj;received=192.0.2.200",
        ],
    ));
    let vias = r.vias().unwrap();
    assert_eq!(vias.len(), 3);
    assert_eq!(
        (vias[0].host.as_str(), vias[0].port),
        ("[2001:db8::9:1]", Some(6050))
    );
    assert_eq!(vias[1].host, "192.0.2.1");
    assert_eq!(vias[2].received(), Some("192.0.2.200"));
}

#[test]
fn ipv4_mapped_and_embedded_ipv4_4_9_4_10() {
    for host in [
        "[::ffff:192.0.2.2]",
        "[2001:db8::192.0.2.1]",
        "[::1]",
        "[2001:db8:0:0:0:0:0:1]",
    ] {
        let r = parse_request(&register(
            &format!("sip:{host}"),
            &[&format!("Contact: <sip:caller@{host};transport=udp>")],
        ));
        assert_eq!(r.uri.host, host);
        assert_eq!(r.contacts().unwrap()[0].uri.host, host);
    }
    for bad in [
        "[::ffff:192.0.2.256]",
        "[2001:db8::1::2]",
        "[2001:db8:0:0:0:0:0:1:2]",
        "[]",
    ] {
        let err = parse_message(&register(&format!("sip:{bad}"), &[])).unwrap_err();
        assert_eq!(err.error, ParseError::RequestUri, "{bad}");
    }
}
