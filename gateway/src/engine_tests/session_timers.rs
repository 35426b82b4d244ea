//! Session timers (RFC 4028) on either leg: refreshes, expiry, and their
//! interplay with pending re-INVITEs.

use super::*;

#[tokio::test]
async fn session_expires_when_callee_refresher_stays_silent() {
    let mut h = Harness::new();
    let (a, _b_inv, _ok) = established(
        &mut h,
        "bt23",
        &[
            "Session-Expires: 90;refresher=uas".into(),
            "Require: timer".into(),
        ],
    );
    h.advance(Duration::from_secs(55));
    let out = h.out();
    no_request(&out, b_addr(), Method::Bye);
    no_request(&out, b_addr(), Method::Invite);
    assert!(h.cdrs().is_empty());
    h.advance(Duration::from_secs(10));
    let out = h.out();
    req(&out, b_addr(), Method::Bye);
    req(&out, a.addr, Method::Bye);
    ok_all(&mut h, &out, b_addr(), Method::Bye);
    ok_all(&mut h, &out, a.addr, Method::Bye);
    let cdrs = h.cdrs();
    assert_eq!(cdrs.len(), 1);
    assert_eq!(cdrs[0].sip_status, 408);
}

#[tokio::test]
async fn caller_session_timer_refreshed_by_caller_and_expiring() {
    let mut h = Harness::new();
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    let st = [
        "Supported: timer".to_string(),
        "Session-Expires: 90;refresher=uac".to_string(),
    ];
    h.send(a.addr, &a.invite(&st, &sdp("127.0.0.5", 30000, 1)));
    let out = h.out();
    let b_inv = req(&out, b_addr(), Method::Invite);
    let ok = answer(
        &mut h,
        &mut a,
        &b_inv,
        "bt35",
        &sdp("127.0.0.6", 30002, 1),
        &[],
    );
    let se = ok
        .headers
        .get(&HeaderName::SessionExpires)
        .expect("Session-Expires in A's 200");
    assert!(se.starts_with("90") && se.contains("refresher=uac"), "{se}");
    assert!(ok
        .headers
        .get_all(&HeaderName::Require)
        .any(|v| v.contains("timer")));

    // A refreshes twice with offerless re-INVITEs: the call lives on.
    for _ in 0..2 {
        h.advance(Duration::from_secs(40));
        assert!(h.out().is_empty());
        h.send(a.addr, &a.invite(&st, ""));
        let out = h.out();
        let r = resp(&out, a.addr, 200);
        assert!(r.headers.get(&HeaderName::SessionExpires).is_some());
        no_request(&out, b_addr(), Method::Invite);
        h.send(a.addr, &a.ack_2xx());
    }
    // Then A falls silent: BYE both legs at 90 - 30 s after the last refresh.
    h.advance(Duration::from_secs(55));
    let out = h.out();
    no_request(&out, a.addr, Method::Bye);
    h.advance(Duration::from_secs(10));
    let out = h.out();
    req(&out, a.addr, Method::Bye);
    req(&out, b_addr(), Method::Bye);
    assert_eq!(h.cdrs().len(), 1);
}

/// RFC 3261 14.2: a re-INVITE that arrives while our own INVITE in that
/// dialog is pending gets 491.
#[tokio::test]
async fn glare_with_our_session_refresh_gets_491() {
    let mut h = Harness::new();
    let (a, b_inv, _ok) = established(
        &mut h,
        "bt44",
        &["Session-Expires: 90;refresher=uac".into()],
    );
    h.advance(Duration::from_secs(46));
    let out = h.out();
    let refresh = req(&out, b_addr(), Method::Invite);
    h.send(
        b_addr(),
        &response_text(&refresh, 100, "Trying", None, None, &[], ""),
    );
    h.send(
        b_addr(),
        &b_request_text(
            &b_inv,
            "bt44",
            "INVITE",
            1,
            &[],
            &sdp("127.0.0.6", 32002, 2),
        ),
    );
    let out = h.out();
    no_request(&out, a.addr, Method::Invite);
    resp(&out, b_addr(), 491);
}

/// RFC 3261 14.1: no new INVITE in a dialog while another is in progress.
#[tokio::test]
async fn no_refresh_while_a_reinvite_is_pending() {
    let mut h = Harness::new();
    let (mut a, _b_inv, _ok) = established(
        &mut h,
        "bt45",
        &["Session-Expires: 90;refresher=uac".into()],
    );
    h.advance(Duration::from_secs(44));
    assert!(h.out().is_empty());
    h.send(a.addr, &a.invite(&[], &sdp("127.0.0.5", 31000, 2)));
    let out = h.out();
    let re = req(&out, b_addr(), Method::Invite);
    h.send(
        b_addr(),
        &response_text(&re, 100, "Trying", None, None, &[], ""),
    );
    h.advance(Duration::from_secs(3));
    let out = h.out();
    let others: Vec<Request> = requests(&out, b_addr(), Method::Invite)
        .into_iter()
        .filter(|r| r.top_via().unwrap().branch() != re.top_via().unwrap().branch())
        .collect();
    assert!(
        others.is_empty(),
        "second INVITE while one is pending:\n{}",
        describe(&out)
    );
}

/// RFC 4028 7.2/9: a 2xx to a refresh without Session-Expires tells the
/// UAC the session timer is off. A caller that refreshes with re-INVITEs
/// carrying SDP (relayed to B) must still see Session-Expires in the 2xx,
/// or it stops refreshing and the gateway's own timer ends the call.
#[tokio::test]
async fn relayed_refresh_keeps_the_callers_session_timer() {
    let mut h = Harness::new();
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    let st = [
        "Supported: timer".to_string(),
        "Session-Expires: 90;refresher=uac".to_string(),
    ];
    h.send(a.addr, &a.invite(&st, &sdp("127.0.0.5", 30000, 1)));
    let out = h.out();
    let b_inv = req(&out, b_addr(), Method::Invite);
    answer(
        &mut h,
        &mut a,
        &b_inv,
        "bt49",
        &sdp("127.0.0.6", 30002, 1),
        &[],
    );
    h.advance(Duration::from_secs(40));
    h.send(a.addr, &a.invite(&st, &sdp("127.0.0.5", 30000, 2)));
    let out = h.out();
    let re = req(&out, b_addr(), Method::Invite);
    h.send(
        b_addr(),
        &response_text(&re, 200, "OK", None, None, &[], &sdp("127.0.0.6", 30002, 2)),
    );
    let out = h.out();
    let ok = resp(&out, a.addr, 200);
    let se = ok
        .headers
        .get(&HeaderName::SessionExpires)
        .unwrap_or_else(|| panic!("no Session-Expires in the 200 to A's refresh"));
    assert!(se.contains("refresher=uac"), "{se}");
    assert!(ok
        .headers
        .get_all(&HeaderName::Require)
        .any(|v| v.contains("timer")));
}
