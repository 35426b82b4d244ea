//! Calls the gateway refuses, and callee failures relayed to the caller.

use super::*;

// ---------------------------------------------------------------- 4. refusals

#[tokio::test]
async fn unregistered_target_unknown_number_and_unknown_caller_are_refused() {
    let mut h = Harness::new();
    let a_ua = addr("127.0.0.1:40031");

    // 1001 → 1002, 1002 not registered.
    let mut a = Caller::new(a_ua, "1001", "1002");
    h.send(a_ua, &a.invite(&[], ""));
    let ch = resp(&h.out(), a_ua, 407);
    h.send(a_ua, &a.ack_failure(&ch));
    let pa = ch
        .headers
        .get(&HeaderName::ProxyAuthenticate)
        .unwrap()
        .to_string();
    let cred = digest(&pa, "1001", "pass1001", "INVITE", &a.ruri, 1);
    h.send(
        a_ua,
        &a.invite(&[format!("Proxy-Authorization: {cred}")], ""),
    );
    let out = h.out();
    let r = resp(&out, a_ua, 480);
    assert!(r.reason.contains("1002"), "reason: {}", r.reason);
    assert_eq!(out.iter().filter(|(to, _)| *to != a_ua).count(), 0);

    // 1001 dials something no rule matches: the dialplan's refusal.
    let mut a = Caller::new(a_ua, "1001", "nobody-here");
    let expected = h.e.dialplan.route(&gateway_dialplan::RouteRequest {
        caller: gateway_dialplan::Caller::Endpoint("1001".into()),
        from_user: Some("1001".into()),
        target: "nobody-here".into(),
        transport_secure: false,
        at_unix_secs: crate::engine::unix_now(),
    });
    let gateway_dialplan::RouteOutcome::Reject { status, reason } = expected.outcome else {
        panic!(
            "the sample dialplan routes nobody-here: {:?}",
            expected.outcome
        );
    };
    h.send(a_ua, &a.invite(&[], ""));
    let ch = resp(&h.out(), a_ua, 407);
    h.send(a_ua, &a.ack_failure(&ch));
    let pa = ch
        .headers
        .get(&HeaderName::ProxyAuthenticate)
        .unwrap()
        .to_string();
    let cred = digest(&pa, "1001", "pass1001", "INVITE", &a.ruri, 1);
    h.send(
        a_ua,
        &a.invite(&[format!("Proxy-Authorization: {cred}")], ""),
    );
    let out = h.out();
    let r = resp(&out, a_ua, status);
    assert_eq!(r.reason, reason);

    // An unknown caller from an address that is no trunk.
    let stranger = addr("198.51.100.1:5060");
    let mut s = Caller::new(stranger, "9999", "1001");
    h.send(stranger, &s.invite(&[], ""));
    let out = h.out();
    let r = resp(&out, stranger, 403);
    assert!(!r.reason.is_empty());
    assert_eq!(out.iter().filter(|(to, _)| *to != stranger).count(), 0);
    assert_eq!(h.metrics.calls_active.get(), 0);
    assert!(h.cdrs().is_empty(), "no call was placed");
}

/// RFC 3261 8.2.6.2: every final response of a UAS carries a To tag, so
/// that the caller's ACK can match it.
#[tokio::test]
async fn final_refusals_carry_a_to_tag() {
    let mut h = Harness::new();
    let mut a = Caller::new(a_addr(), "9999", "1002");
    h.send(a.addr, &a.invite(&[], ""));
    let r = resp(&h.out(), a.addr, 480);
    assert!(to_tag(&r.headers).is_some(), "480 without To tag");
}

// ---------------------------------------------------------------- 6. callee failures

#[tokio::test]
async fn callee_busy_is_relayed() {
    let mut h = Harness::new();
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    let b_inv = place_call(&mut h, &mut a, b_addr(), &sdp("127.0.0.5", 30000, 1));
    h.send(
        b_addr(),
        &response_text(&b_inv, 486, "Busy Here", Some("bt7"), None, &[], ""),
    );
    let out = h.out();
    let r = resp(&out, a.addr, 486);
    assert_eq!(r.reason, "Busy Here");
    assert!(to_tag(&r.headers).is_some());
    req(&out, b_addr(), Method::Ack);
    h.send(a.addr, &a.ack_failure(&r));
    let cdrs = h.cdrs();
    assert_eq!(cdrs.len(), 1);
    assert_eq!(cdrs[0].outcome, "busy");
    assert_eq!(cdrs[0].sip_status, 486);
    assert_eq!(h.completed("busy"), 1);
}

#[tokio::test]
async fn callee_demanding_auth_becomes_503_and_stray_requests() {
    let mut h = Harness::new();
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    let b_inv = place_call(&mut h, &mut a, b_addr(), &sdp("127.0.0.5", 30000, 1));
    h.send(
        b_addr(),
        &response_text(
            &b_inv,
            401,
            "Unauthorized",
            Some("bt30"),
            None,
            &["WWW-Authenticate: Digest realm=\"x\", nonce=\"n\"".into()],
            "",
        ),
    );
    let out = h.out();
    let r = resp(&out, a.addr, 503);
    assert!(r.headers.get(&HeaderName::WwwAuthenticate).is_none());
    assert!(r.reason.contains("authentication"), "{}", r.reason);

    // CANCEL for nothing, out-of-dialog OPTIONS.
    let stray = Caller::new(a_addr(), "9999", "5551234");
    let mut c = stray.cancel();
    c = c.replace("branch=;", &format!("branch={};", branch()));
    h.send(a.addr, &c);
    let out = h.out();
    resp(&out, a.addr, 481);
    h.send(
        a.addr,
        &request_text(
            "OPTIONS",
            "sip:127.0.0.1",
            a.addr,
            &branch(),
            "<sip:x@127.0.0.1>;tag=o1",
            "<sip:127.0.0.1>",
            "opt@x",
            1,
            &[],
            "",
        ),
    );
    let out = h.out();
    let r = resp(&out, a.addr, 200);
    assert!(r
        .headers
        .get(&HeaderName::Allow)
        .unwrap()
        .contains("INVITE"));
}

#[tokio::test]
async fn digest_replay_on_invite_is_refused_and_next_nc_accepted() {
    let mut h = Harness::new();
    let ua = addr("127.0.0.1:40031");
    let mut a = Caller::new(ua, "1001", "5551234");
    h.send(ua, &a.invite(&[], ""));
    let ch = resp(&h.out(), ua, 407);
    h.send(ua, &a.ack_failure(&ch));
    let pa = ch
        .headers
        .get(&HeaderName::ProxyAuthenticate)
        .unwrap()
        .to_string();
    let cred = digest(&pa, "1001", "pass1001", "INVITE", &a.ruri, 1);
    h.send(ua, &a.invite(&[format!("Proxy-Authorization: {cred}")], ""));
    let out = h.out();
    req(&out, b_addr(), Method::Invite);

    // A new call replaying the same credentials.
    let mut a2 = Caller::new(ua, "1001", "5551234");
    h.send(
        ua,
        &a2.invite(&[format!("Proxy-Authorization: {cred}")], ""),
    );
    let out = h.out();
    no_request(&out, b_addr(), Method::Invite);
    assert!(responses(&out, ua)
        .iter()
        .any(|r| r.status == 407 || r.status == 403));

    // The next nonce count on the same nonce is fine.
    let mut a3 = Caller::new(ua, "1001", "5551234");
    let cred2 = digest(&pa, "1001", "pass1001", "INVITE", &a3.ruri, 2);
    h.send(
        ua,
        &a3.invite(&[format!("Proxy-Authorization: {cred2}")], ""),
    );
    let out = h.out();
    req(&out, b_addr(), Method::Invite);

    // 1001's credentials used for 1002's From: refused.
    let mut a4 = Caller::new(ua, "1002", "5551234");
    let cred3 = digest(&pa, "1001", "pass1001", "INVITE", &a4.ruri, 3);
    h.send(
        ua,
        &a4.invite(&[format!("Proxy-Authorization: {cred3}")], ""),
    );
    let out = h.out();
    no_request(&out, b_addr(), Method::Invite);
    assert!(responses(&out, ua)
        .iter()
        .any(|r| r.status == 403 || r.status == 407));
}

#[tokio::test]
async fn callee_sdp_without_address_fails_the_call_cleanly() {
    let mut h = Harness::new();
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    let b_inv = place_call(&mut h, &mut a, b_addr(), &sdp("127.0.0.5", 30000, 1));
    let bad = "v=0\r\no=- 1 1 IN IP4 127.0.0.6\r\ns=-\r\nt=0 0\r\nm=audio 30002 RTP/AVP 0\r\n";
    h.send(
        b_addr(),
        &response_text(
            &b_inv,
            200,
            "OK",
            Some("bt38"),
            Some("<sip:callee@127.0.0.1:5070>"),
            &[],
            bad,
        ),
    );
    let out = h.out();
    let r = resp(&out, a.addr, 488);
    assert!(to_tag(&r.headers).is_some());
    req(&out, b_addr(), Method::Ack);
    let bye = req(&out, b_addr(), Method::Bye);
    assert_eq!(to_tag(&bye.headers).as_deref(), Some("bt38"));
    h.send(a.addr, &a.ack_failure(&r));
    let cdrs = h.cdrs();
    assert_eq!(cdrs.len(), 1);
    assert_eq!(cdrs[0].outcome, "failed");
    assert_eq!(h.metrics.calls_active.get(), 0);
}
