//! Malformed or unsupported input: garbage datagrams, Max-Forwards 0,
//! unknown URI schemes, unknown required extensions.

use super::*;

// ---------------------------------------------------------------- 11. garbage

#[tokio::test]
async fn garbage_does_not_disturb_an_established_call() {
    let mut h = Harness::new();
    let (mut a, _b_inv, _ok) = established(&mut h, "bt15", &[]);
    let junk = addr("127.0.0.1:40099");
    let errors_before = h.metrics.parse_errors.get();

    h.send_bytes(junk, b"\x00\x01\x02\xff garbage \r\n\r\n");
    h.send_bytes(junk, b"");
    h.send_bytes(junk, b"INVITE\r\n\r\n");
    h.send_bytes(junk, &[0xffu8; 3000]);
    h.send(junk, "SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n");
    h.send(
        junk,
        "OPTIONS sip:127.0.0.1 SIP/2.0\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: nv\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
    );
    let out = h.out();
    assert!(
        out.is_empty(),
        "nothing is addressable:\n{}",
        describe(&out)
    );

    // Via present, Call-ID missing: 400 at the source.
    h.send(
        junk,
        &format!(
            "INVITE sip:5551234@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:40099;branch={};rport\r\nFrom: <sip:x@127.0.0.1>;tag=1\r\nTo: <sip:5551234@127.0.0.1>\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
            branch()
        ),
    );
    let out = h.out();
    assert!(out.is_empty(), "{}", describe(&out));
    let (to, text) = h.unparsed.pop().expect("a 400 for the missing Call-ID");
    assert_eq!(to, junk);
    assert!(text.starts_with("SIP/2.0 400 "), "{text}");
    assert!(
        text.to_lowercase().contains("call-id"),
        "the reason names the header: {text}"
    );
    assert!(text.contains("received=127.0.0.1"), "{text}");

    // A lying Content-Length.
    h.send(
        junk,
        &format!(
            "INVITE sip:5551234@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:40099;branch={}\r\nFrom: <sip:x@127.0.0.1>;tag=1\r\nTo: <sip:5551234@127.0.0.1>\r\nCall-ID: cl@x\r\nCSeq: 1 INVITE\r\nContent-Length: 99999999\r\n\r\nv=0\r\n",
            branch()
        ),
    );
    let out = h.out();
    no_request(&out, b_addr(), Method::Invite);
    // An in-dialog BYE with a foreign tag does not end our call.
    h.send(
        junk,
        &request_text(
            "BYE",
            "sip:gw@127.0.0.1:5060",
            junk,
            &branch(),
            "<sip:x@127.0.0.1>;tag=zz",
            "<sip:gw@127.0.0.1>;tag=notours",
            "other@x",
            1,
            &[],
            "",
        ),
    );
    let out = h.out();
    resp(&out, junk, 481);
    no_request(&out, b_addr(), Method::Bye);
    assert!(h.metrics.parse_errors.get() > errors_before);
    assert_eq!(h.metrics.calls_active.get(), 1);
    assert!(h.cdrs().is_empty());

    h.send(a.addr, &a.in_dialog("BYE", ""));
    let out = h.out();
    resp(&out, a.addr, 200);
    req(&out, b_addr(), Method::Bye);
    assert_eq!(h.cdrs()[0].outcome, "answered");
}

// ---------------------------------------------------------------- 12. Max-Forwards

#[tokio::test]
async fn max_forwards_zero_gets_483() {
    let mut h = Harness::new();
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    h.send(
        a.addr,
        &a.invite(&["Max-Forwards: 0".into()], &sdp("127.0.0.5", 30000, 1)),
    );
    let out = h.out();
    let r = resp(&out, a.addr, 483);
    assert_eq!(cseq_method(&r), Method::Invite);
    no_request(&out, b_addr(), Method::Invite);
    assert_eq!(h.metrics.calls_active.get(), 0);
}

#[tokio::test]
async fn unknown_uri_scheme_gets_416() {
    let mut h = Harness::new();
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    let text =
        a.invite(&[], &sdp("127.0.0.5", 30000, 1))
            .replacen("INVITE sip:", "INVITE mailto:", 1);
    assert!(text.starts_with("INVITE mailto:"), "{text}");
    h.send(a.addr, &text);
    let out = h.out();
    let r = resp(&out, a.addr, 416);
    assert_eq!(r.reason, "Unsupported URI Scheme");
    no_request(&out, b_addr(), Method::Invite);
}

#[tokio::test]
async fn unknown_required_extension_gets_420() {
    let mut h = Harness::new();
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    h.send(
        a.addr,
        &a.invite(&["Require: frobnicate".into()], &sdp("127.0.0.5", 30000, 1)),
    );
    let out = h.out();
    let r = resp(&out, a.addr, 420);
    assert_eq!(r.headers.get(&HeaderName::Unsupported), Some("frobnicate"));
    no_request(&out, b_addr(), Method::Invite);
}
