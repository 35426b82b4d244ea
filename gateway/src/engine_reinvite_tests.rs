//! In-dialog offers of a SIP-to-SIP call: re-INVITEs passed on both ways and
//! glare, offerless re-INVITEs answered locally, and session timers per
//! leg (RFC 4028). The harness is in `engine_tests`.

use crate::engine_tests::*;
use gateway_sip::headers::NameAddr;
use gateway_sip::message::{HeaderName, Message, Method, Request, Response};
use std::time::Duration;

// ---------------------------------------------------------------- 7. re-INVITE

#[tokio::test]
async fn reinvite_from_caller_is_relayed_and_glare_gets_491() {
    let mut h = Harness::new();
    let (mut a, b_inv, _ok) = established(&mut h, "bt11", &[]);

    h.send(a.addr, &a.invite(&[], &sdp("127.0.0.5", 31000, 2)));
    let out = h.out();
    assert!(responses(&out, a.addr).iter().all(|r| r.status < 200));
    let re = req(&out, b_addr(), Method::Invite);
    assert_eq!(to_tag(&re.headers).as_deref(), Some("bt11"));
    assert_eq!(re.cseq().unwrap().seq, 2);
    let (ip, port) = sdp_media(&re.body);
    assert_eq!(ip, "127.0.0.1");
    assert!(h.in_range(port));
    assert!(!c_lines(&re.body).contains("127.0.0.5"));

    // Glare: B offers while A's offer is pending.
    h.send(
        b_addr(),
        &b_request_text(
            &b_inv,
            "bt11",
            "INVITE",
            1,
            &[],
            &sdp("127.0.0.6", 31002, 2),
        ),
    );
    let out = h.out();
    let r = resp(&out, b_addr(), 491);
    assert_eq!(cseq_method(&r), Method::Invite);
    no_request(&out, a.addr, Method::Invite);
    // The 491 is ACKed by B (same transaction): nothing more.
    h.send(b_addr(), &response_ack_for(&b_inv, "bt11", &r, 1));
    assert!(h.out().is_empty());

    h.send(
        b_addr(),
        &response_text(
            &re,
            200,
            "OK",
            None,
            Some("<sip:callee@127.0.0.1:5070>"),
            &[],
            &sdp("127.0.0.6", 31002, 2),
        ),
    );
    let out = h.out();
    let ok = resp(&out, a.addr, 200);
    assert_eq!(cseq_method(&ok), Method::Invite);
    assert_eq!(ok.cseq().unwrap().seq, a.cseq);
    let (ip, port) = sdp_media(&ok.body);
    assert_eq!(ip, "127.0.0.1");
    assert!(h.in_range(port));
    let ack = req(&out, b_addr(), Method::Ack);
    assert_eq!(ack.cseq().unwrap().seq, 2);
    h.send(a.addr, &a.ack_2xx());
    assert!(h.out().is_empty());

    // The call still ends normally.
    h.send(a.addr, &a.in_dialog("BYE", ""));
    let out = h.out();
    resp(&out, a.addr, 200);
    req(&out, b_addr(), Method::Bye);
}

/// B's ACK to a non-2xx final response to its re-INVITE.
fn response_ack_for(b_inv: &Request, b_tag: &str, r: &Response, cseq: u32) -> String {
    let from_engine = b_inv.headers.get(&HeaderName::From).unwrap();
    let contact = b_inv.headers.get(&HeaderName::Contact).unwrap();
    let target = NameAddr::parse(contact).unwrap().uri.to_string();
    let via = r.top_via().unwrap();
    request_text(
        "ACK",
        &target,
        b_addr(),
        via.branch().unwrap(),
        &format!(
            "{};tag={b_tag}",
            b_inv.headers.get(&HeaderName::To).unwrap()
        ),
        from_engine,
        b_inv.headers.get(&HeaderName::CallId).unwrap(),
        cseq,
        &[],
        "",
    )
}

// ---------------------------------------------------------------- 8. offerless re-INVITE

#[tokio::test]
async fn offerless_reinvite_is_answered_locally() {
    let mut h = Harness::new();
    let (mut a, _b_inv, ok) = established(&mut h, "bt12", &[]);
    h.send(a.addr, &a.invite(&[], ""));
    let out = h.out();
    let r = resp(&out, a.addr, 200);
    assert_eq!(cseq_method(&r), Method::Invite);
    assert_eq!(to_tag(&r.headers), a.remote_tag);
    assert_eq!(r.body, ok.body, "the last SDP sent to A");
    assert_eq!(
        r.headers.get(&HeaderName::ContentType),
        Some("application/sdp")
    );
    no_request(&out, b_addr(), Method::Invite);
    let mut ack = a.ack_2xx();
    ack = ack.replace("Content-Length: 0\r\n\r\n", "");
    let answer = sdp("127.0.0.5", 30000, 2);
    ack.push_str(&format!(
        "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{answer}",
        answer.len()
    ));
    h.send(a.addr, &ack);
    let out = h.out();
    no_request(&out, b_addr(), Method::Invite);
    no_request(&out, b_addr(), Method::Ack);
}

// ---------------------------------------------------------------- 9. session timers

#[tokio::test]
async fn gateway_refreshes_callee_session() {
    let mut h = Harness::new();
    let (mut a, _b_inv, _ok) = established(
        &mut h,
        "bt13",
        &[
            "Session-Expires: 90;refresher=uac".into(),
            "Require: timer".into(),
        ],
    );
    let mut last_cseq = 1;
    for round in 0..4 {
        h.advance(Duration::from_secs(44));
        let out = h.out();
        assert!(
            requests(&out, b_addr(), Method::Invite).is_empty(),
            "round {round}: refresh too early"
        );
        h.advance(Duration::from_secs(2));
        let out = h.out();
        let re = req(&out, b_addr(), Method::Invite);
        assert!(re.cseq().unwrap().seq > last_cseq);
        last_cseq = re.cseq().unwrap().seq;
        assert_eq!(to_tag(&re.headers).as_deref(), Some("bt13"));
        eprintln!(
            "{}",
            String::from_utf8_lossy(&Message::Request(re.clone()).to_bytes())
        );
        no_request(&out, a.addr, Method::Invite);
        no_request(&out, a.addr, Method::Bye);
        no_request(&out, b_addr(), Method::Bye);
        let body = if re.body.is_empty() {
            String::new()
        } else {
            sdp("127.0.0.6", 30002, 1)
        };
        h.send(
            b_addr(),
            &response_text(
                &re,
                200,
                "OK",
                None,
                Some("<sip:callee@127.0.0.1:5070>"),
                &[
                    "Session-Expires: 90;refresher=uac".into(),
                    "Require: timer".into(),
                ],
                &body,
            ),
        );
        let out = h.out();
        let ack = req(&out, b_addr(), Method::Ack);
        assert_eq!(ack.cseq().unwrap().seq, last_cseq);
    }
    assert_eq!(h.metrics.calls_active.get(), 1);
    assert!(h.cdrs().is_empty(), "the call is still up");
    h.send(a.addr, &a.in_dialog("BYE", ""));
    let out = h.out();
    resp(&out, a.addr, 200);
    req(&out, b_addr(), Method::Bye);
    assert_eq!(h.cdrs()[0].outcome, "answered");
}
