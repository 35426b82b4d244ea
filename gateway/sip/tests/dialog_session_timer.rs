//! RFC 4028 session timers: parsing, negotiation, 422 and deadlines.

use gateway_sip::parse::parse_message;
use gateway_sip::session_timer::{
    apply_to_request, interval_after_422, negotiate_uac, negotiate_uas, parse_min_se, reject_422,
    Negotiated, Refresher, SessionExpires, SessionTimer, SessionTimerAction, SessionTimerConfig,
    SessionTimerError,
};
use gateway_sip::transaction::make_response;
use gateway_sip::{HeaderName, Message, Request};
use std::time::{Duration, Instant};

fn invite(extra: &str) -> Request {
    let text = format!(
        "INVITE sip:bob@gw.example.com SIP/2.0\r\n\
         Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKst\r\n\
         From: <sip:alice@example.com>;tag=a\r\n\
         To: <sip:bob@gw.example.com>\r\n\
         Call-ID: st-1@10.0.0.1\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:alice@10.0.0.1>\r\n\
         {extra}\
         Content-Length: 0\r\n\r\n"
    );
    match parse_message(text.as_bytes()).unwrap() {
        Message::Request(r) => r,
        _ => unreachable!(),
    }
}

#[test]
fn session_expires_and_min_se_parse() {
    assert_eq!(
        SessionExpires::parse("1800;refresher=uac"),
        Ok(SessionExpires {
            interval: 1800,
            refresher: Some(Refresher::Uac)
        })
    );
    assert_eq!(
        SessionExpires::parse(" 4000 ; refresher=UAS ;x=y"),
        Ok(SessionExpires {
            interval: 4000,
            refresher: Some(Refresher::Uas)
        })
    );
    assert_eq!(SessionExpires::parse("90").unwrap().refresher, None);
    for bad in [
        "",
        "abc",
        "-5",
        "1800;refresher=proxy",
        "99999999999",
        "1 800",
    ] {
        assert!(SessionExpires::parse(bad).is_err(), "{bad:?}");
    }
    assert_eq!(
        SessionExpires {
            interval: 600,
            refresher: Some(Refresher::Uas)
        }
        .to_string(),
        "600;refresher=uas"
    );
    assert_eq!(parse_min_se("120"), Ok(120));
    assert_eq!(parse_min_se(" 90;foo"), Ok(90));
    assert_eq!(
        parse_min_se("x"),
        Err(SessionTimerError::Malformed("Min-SE"))
    );
    // The compact form `x` is Session-Expires too.
    let r = invite("x: 1200\r\n");
    assert_eq!(
        SessionExpires::from_headers(&r.headers)
            .unwrap()
            .map(|s| s.interval),
        Some(1200)
    );
}

#[test]
fn uas_rejects_too_small_interval_with_422_and_min_se() {
    let cfg = SessionTimerConfig {
        interval: 1800,
        min_se: 120,
    };
    let req = invite("Supported: timer\r\nSession-Expires: 100\r\n");
    let err = negotiate_uas(&req, &cfg).unwrap_err();
    assert_eq!(err, SessionTimerError::TooSmall { min_se: 120 });
    let resp = reject_422(&req, 120);
    assert_eq!(resp.status, 422);
    assert_eq!(resp.headers.get(&HeaderName::MinSE), Some("120"));
    // The UAC side reads it back and retries with at least that.
    assert_eq!(interval_after_422(&resp, 100), Some(120));
    assert_eq!(interval_after_422(&resp, 300), Some(300));
    assert_eq!(
        interval_after_422(&make_response(&req, 488, None), 100),
        None
    );
}

#[test]
fn uas_negotiation_cases() {
    let cfg = SessionTimerConfig::default();
    // A peer without timer support: we refresh it ourselves.
    let n = negotiate_uas(&invite(""), &cfg).unwrap();
    assert_eq!(
        n,
        Negotiated {
            interval: 1800,
            refresher: Refresher::Uas,
            require_timer: false
        }
    );
    assert!(n.we_refresh(false));
    // A peer that supports timers and leaves the choice to us refreshes.
    let n = negotiate_uas(
        &invite("Supported: timer\r\nSession-Expires: 900\r\n"),
        &cfg,
    )
    .unwrap();
    assert_eq!(n.interval, 900);
    assert_eq!(n.refresher, Refresher::Uac);
    assert!(n.require_timer);
    assert!(!n.we_refresh(false));
    let mut ok = make_response(&invite(""), 200, Some("t"));
    n.apply_to_response(&mut ok);
    assert_eq!(
        ok.headers.get(&HeaderName::SessionExpires),
        Some("900;refresher=uac")
    );
    assert_eq!(ok.headers.get(&HeaderName::Require), Some("timer"));
    // A long interval is shortened to ours; an explicit refresher is kept.
    let n = negotiate_uas(
        &invite("Supported: timer\r\nSession-Expires: 7200;refresher=uas\r\n"),
        &cfg,
    )
    .unwrap();
    assert_eq!((n.interval, n.refresher), (1800, Refresher::Uas));
    assert!(!n.require_timer);
    // Session-Expires without Supported: timer (a proxy added it): the UAC
    // cannot refresh, so we do.
    let n = negotiate_uas(&invite("Session-Expires: 600;refresher=uac\r\n"), &cfg).unwrap();
    assert_eq!(n.refresher, Refresher::Uas);
    assert!(!n.require_timer);
}

#[test]
fn uac_negotiation_and_request_headers() {
    let cfg = SessionTimerConfig::default();
    let mut req = invite("");
    apply_to_request(&mut req, &cfg, None);
    assert_eq!(req.headers.get(&HeaderName::SessionExpires), Some("1800"));
    assert_eq!(req.headers.get(&HeaderName::MinSE), Some("90"));
    assert_eq!(req.headers.get(&HeaderName::Supported), Some("timer"));
    apply_to_request(&mut req, &cfg, Some(Refresher::Uac));
    assert_eq!(
        req.headers.get_all(&HeaderName::Supported).count(),
        1,
        "timer is listed once"
    );
    // The UAS does not do timers: we refresh.
    let plain_ok = make_response(&req, 200, Some("t"));
    let n = negotiate_uac(&plain_ok, &cfg).unwrap();
    assert!(n.we_refresh(true));
    // The UAS chose itself.
    let mut ok = make_response(&req, 200, Some("t"));
    ok.headers
        .push(HeaderName::SessionExpires, "1200;refresher=uas");
    let n = negotiate_uac(&ok, &cfg).unwrap();
    assert_eq!(n.interval, 1200);
    assert!(!n.we_refresh(true));
}

#[test]
fn refresher_refreshes_at_half_interval_and_expires_without_success() {
    let base = Instant::now();
    let mut t = SessionTimer::new(base, 1800, true);
    assert_eq!(t.poll_timeout(), Some(base + Duration::from_secs(900)));
    assert_eq!(t.handle_timeout(base + Duration::from_secs(899)), None);
    assert_eq!(
        t.handle_timeout(base + Duration::from_secs(900)),
        Some(SessionTimerAction::SendRefresh)
    );
    // The refresh never succeeds: expiry at 1800 - 32.
    assert_eq!(t.poll_timeout(), Some(base + Duration::from_secs(1768)));
    assert_eq!(t.handle_timeout(base + Duration::from_secs(1000)), None);
    assert_eq!(
        t.handle_timeout(base + Duration::from_secs(1768)),
        Some(SessionTimerAction::Expired)
    );
    assert_eq!(t.poll_timeout(), None);
    assert_eq!(t.handle_timeout(base + Duration::from_secs(5000)), None);
}

#[test]
fn refresh_success_restarts_and_watcher_expires_at_interval_minus_a_third() {
    let base = Instant::now();
    let mut t = SessionTimer::new(base, 1800, true);
    let later = base + Duration::from_secs(900);
    assert_eq!(
        t.handle_timeout(later),
        Some(SessionTimerAction::SendRefresh)
    );
    t.refreshed(later, 1800, true);
    assert_eq!(t.poll_timeout(), Some(later + Duration::from_secs(900)));
    // The peer becomes the refresher on a short interval: we only watch,
    // and the margin is interval/3 because that is below 32 s.
    t.refreshed(later, 90, false);
    assert!(!t.we_refresh());
    assert_eq!(t.poll_timeout(), Some(later + Duration::from_secs(60)));
    assert_eq!(
        t.handle_timeout(later + Duration::from_secs(60)),
        Some(SessionTimerAction::Expired)
    );
}
