//! A call whose routing decision requires encryption admits only SRTP
//! media on both legs: a plain offer is refused, a plain answer ends the
//! attempt, an SRTP answer is re-keyed towards the caller.

use crate::engine_tests::{a_addr, b_addr, describe, resp, test_config, Caller, Harness};
use gateway_sip::message::{HeaderName, Message, Method};
use gateway_sip::transaction::Transport;

const SRTP_OFFER: &str =
    "v=0\r\no=- 1 1 IN IP4 127.0.0.5\r\ns=-\r\nc=IN IP4 127.0.0.5\r\nt=0 0\r\n\
m=audio 30000 RTP/SAVP 0\r\na=rtpmap:0 PCMU/8000\r\n\
a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n";

fn required() -> Harness {
    let plan = gateway_dialplan::SAMPLE_DIALPLAN
        .replace("encryption = \"optional\"", "encryption = \"required\"");
    assert_ne!(
        plan,
        gateway_dialplan::SAMPLE_DIALPLAN,
        "the fixture sets encryption"
    );
    let mut h = Harness::with(test_config(), &plan);
    // The fixture's trunk is reached over UDP: these tests are about the
    // SRTP itself, so SDES over plain signalling is allowed here (the
    // default refusal is tested below).
    h.e.sdes_without_tls = true;
    h
}

fn invite_over_tls(
    h: &mut Harness,
    a: &mut Caller,
    body: &str,
) -> Vec<(std::net::SocketAddr, Message)> {
    let text = a.invite(&[], body);
    h.send_over(Transport::Tls, a.addr, text.as_bytes());
    h.out()
}

fn b_invite(out: &[(std::net::SocketAddr, Message)]) -> gateway_sip::message::Request {
    out.iter()
        .find_map(|(to, m)| match m {
            Message::Request(r) if *to == b_addr() && r.method == Method::Invite => Some(r.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no INVITE to B:\n{}", describe(&out.to_vec())))
}

#[tokio::test]
async fn a_plain_offer_is_refused_with_the_reason() {
    let mut h = required();
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    let plain = SRTP_OFFER.replace("RTP/SAVP", "RTP/AVP");
    let out = invite_over_tls(&mut h, &mut a, &plain);
    let r = resp(&out, a.addr, 488);
    assert!(r.reason.contains("Encryption required"), "{}", r.reason);
    assert!(r.headers.get(&HeaderName::Warning).is_some());
    assert!(h.e.bridged.calls.is_empty());
}

#[tokio::test]
async fn the_callee_gets_savp_and_a_plain_answer_ends_the_attempt() {
    let mut h = required();
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    let out = invite_over_tls(&mut h, &mut a, SRTP_OFFER);
    let inv = b_invite(&out);
    let body = String::from_utf8(inv.body.clone()).unwrap();
    assert!(
        body.contains("RTP/SAVP"),
        "SAVP when encryption is required: {body}"
    );
    assert!(
        !body.contains("WVNfX19z"),
        "the caller's key stays on its leg: {body}"
    );
    let plain = "v=0\r\no=- 2 1 IN IP4 127.0.0.6\r\ns=-\r\nc=IN IP4 127.0.0.6\r\nt=0 0\r\n\
m=audio 30002 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
    h.send(
        b_addr(),
        &crate::engine_tests::response_text(
            &inv,
            200,
            "OK",
            Some("b1"),
            Some("<sip:b@127.0.0.1:5070>"),
            &[],
            plain,
        ),
    );
    let out = h.out();
    let r = resp(&out, a.addr, 488);
    assert!(r.reason.contains("without SRTP"), "{}", r.reason);
    let to_b: Vec<Method> = out
        .iter()
        .filter_map(|(to, m)| match m {
            Message::Request(r) if *to == b_addr() => Some(r.method.clone()),
            _ => None,
        })
        .collect();
    assert!(
        to_b.contains(&Method::Ack) && to_b.contains(&Method::Bye),
        "B is released: {to_b:?}"
    );
}

#[tokio::test]
async fn an_srtp_answer_is_rekeyed_towards_the_caller() {
    let mut h = required();
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    let out = invite_over_tls(&mut h, &mut a, SRTP_OFFER);
    let inv = b_invite(&out);
    let offered = String::from_utf8(inv.body.clone()).unwrap();
    let line = offered
        .lines()
        .find_map(|l| l.strip_prefix("a=crypto:"))
        .expect("keys offered to B");
    let b_keys = crate::call::sdes::answer(&[line.to_string()]).unwrap();
    let answer = format!(
        "v=0\r\no=- 2 1 IN IP4 127.0.0.6\r\ns=-\r\nc=IN IP4 127.0.0.6\r\nt=0 0\r\n\
m=audio 30002 RTP/SAVP 0\r\na=rtpmap:0 PCMU/8000\r\na=crypto:{}\r\n",
        b_keys.our_line()
    );
    h.send(
        b_addr(),
        &crate::engine_tests::response_text(
            &inv,
            200,
            "OK",
            Some("b1"),
            Some("<sip:b@127.0.0.1:5070>"),
            &[],
            &answer,
        ),
    );
    let out = h.out();
    let ok = resp(&out, a.addr, 200);
    let to_a = String::from_utf8(ok.body.clone()).unwrap();
    assert!(to_a.contains("RTP/SAVP"), "{to_a}");
    let ours = to_a
        .lines()
        .find_map(|l| l.strip_prefix("a=crypto:"))
        .expect("our key for A");
    assert!(
        ours.starts_with("1 AES_CM_128_HMAC_SHA1_80 inline:"),
        "{ours}"
    );
    assert!(
        !ours.contains("WVNfX19z") && !answer.contains(&ours[30..]),
        "A gets a key of ours"
    );
}

/// By default SDES keys never cross plain signalling: a callee reached
/// over UDP is refused with 488 and the reason, and so is a caller that
/// offers SRTP over UDP; `sdes_without_tls` admits the caller.
#[tokio::test]
async fn sdes_over_plain_signalling_is_refused_unless_allowed() {
    let mut h = required();
    h.e.sdes_without_tls = false;
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    let out = invite_over_tls(&mut h, &mut a, SRTP_OFFER);
    let r = resp(&out, a.addr, 488);
    assert!(r.reason.contains("in clear"), "{}", r.reason);
    assert!(r.headers.get(&HeaderName::Warning).is_some());

    let mut c = Caller::new(a_addr(), "9999", "5551235");
    h.send(c.addr, &c.invite(&[], SRTP_OFFER));
    let r = resp(&h.out(), c.addr, 488);
    assert!(r.reason.contains("TLS"), "{}", r.reason);

    h.e.sdes_without_tls = true;
    let mut d = Caller::new(a_addr(), "9999", "5551236");
    h.send(d.addr, &d.invite(&[], SRTP_OFFER));
    let out = h.out();
    let to_b = b_invite(&out);
    assert!(String::from_utf8_lossy(&to_b.body).contains("RTP/SAVP"));
}
