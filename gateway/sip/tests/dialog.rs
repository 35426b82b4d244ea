//! Dialog state, request construction, glare and 100rel.

use gateway_sip::dialog::{
    glare_retry_delay, reliable_rseq, AckWait, Dialog, DialogError, DialogId, DialogState,
    GlareVerdict, InviteSession, ReliableProvisionals, RetransmitAction,
};
use gateway_sip::parse::parse_message;
use gateway_sip::transaction::make_response;
use gateway_sip::{HeaderName, Message, Method, Request, Response, Uri};
use proptest::prelude::*;
use std::time::{Duration, Instant};

fn invite_with(extra: &str) -> Request {
    let text = format!(
        "INVITE sip:bob@gw.example.com SIP/2.0\r\n\
         Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1\r\n\
         From: \"Alice\" <sip:alice@example.com>;tag=alice-tag\r\n\
         To: <sip:bob@gw.example.com>\r\n\
         Call-ID: dlg-1@10.0.0.1\r\n\
         CSeq: 10 INVITE\r\n\
         Contact: <sip:alice@10.0.0.1:5060;transport=udp>\r\n\
         {extra}\
         Content-Length: 0\r\n\r\n"
    );
    match parse_message(text.as_bytes()).unwrap() {
        Message::Request(r) => r,
        _ => unreachable!(),
    }
}

fn invite() -> Request {
    invite_with(
        "Record-Route: <sip:p1.example.com;lr>\r\nRecord-Route: <sip:p2.example.com;lr>\r\n",
    )
}

fn in_dialog_request(method: &str, cseq: u32, contact: Option<&str>) -> Request {
    let contact = contact
        .map(|c| format!("Contact: {c}\r\n"))
        .unwrap_or_default();
    let text = format!(
        "{method} sip:bob@10.0.0.2 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK{cseq}\r\n\
         From: <sip:alice@example.com>;tag=alice-tag\r\n\
         To: <sip:bob@gw.example.com>;tag=gw-tag\r\n\
         Call-ID: dlg-1@10.0.0.1\r\n\
         CSeq: {cseq} {method}\r\n\
         {contact}\
         Content-Length: 0\r\n\r\n"
    );
    match parse_message(text.as_bytes()).unwrap() {
        Message::Request(r) => r,
        _ => unreachable!(),
    }
}

fn uri(s: &str) -> Uri {
    Uri::parse(s).unwrap()
}

#[test]
fn uas_dialog_from_invite_builds_requests_to_the_remote_target() {
    let inv = invite();
    let mut d = Dialog::uas_from_invite(&inv, "gw-tag", "<sip:gw@10.0.0.2:5060>").unwrap();
    assert_eq!(
        d.id,
        DialogId {
            call_id: "dlg-1@10.0.0.1".into(),
            local_tag: "gw-tag".into(),
            remote_tag: "alice-tag".into()
        }
    );
    assert_eq!(d.state, DialogState::Early);
    assert_eq!(d.remote_cseq, Some(10));
    assert!(!d.is_uac);
    assert_eq!(
        d.route_set,
        vec!["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"],
        "UAS keeps the Record-Route order"
    );
    d.confirm();
    let bye = d.create_request(Method::Bye).unwrap();
    assert_eq!(bye.uri, uri("sip:alice@10.0.0.1:5060;transport=udp"));
    assert_eq!(
        bye.headers.get_all(&HeaderName::Route).collect::<Vec<_>>(),
        vec!["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]
    );
    assert_eq!(bye.cseq().unwrap().seq, 1);
    assert_eq!(bye.from().unwrap().tag(), Some("gw-tag"));
    assert_eq!(bye.to().unwrap().tag(), Some("alice-tag"));
    assert_eq!(bye.call_id().unwrap(), "dlg-1@10.0.0.1");
    assert_eq!(bye.headers.get(&HeaderName::MaxForwards), Some("70"));
    assert!(
        !bye.headers.contains(&HeaderName::Contact),
        "BYE is no target refresh"
    );
    let reinvite = d.create_request(Method::Invite).unwrap();
    assert_eq!(reinvite.cseq().unwrap().seq, 2);
    assert_eq!(
        reinvite.headers.get(&HeaderName::Contact),
        Some("<sip:gw@10.0.0.2:5060>")
    );
    // The id derived from a request the peer sends in this dialog matches.
    let peer_bye = in_dialog_request("BYE", 11, None);
    assert_eq!(DialogId::of_received_request(&peer_bye), Some(d.id.clone()));
}

#[test]
fn uac_dialog_reverses_record_route_and_acks_with_the_invite_cseq() {
    let inv = invite_with("");
    let mut ok = make_response(&inv, 200, Some("bob-tag"));
    ok.headers
        .push(HeaderName::RecordRoute, "<sip:p2.example.com;lr>");
    ok.headers
        .push(HeaderName::RecordRoute, "<sip:p1.example.com;lr>");
    ok.headers
        .push(HeaderName::Contact, "<sip:bob@10.0.0.9:5070>");
    let mut d = Dialog::uac_from_response(&inv, &ok).unwrap();
    assert_eq!(d.state, DialogState::Confirmed);
    assert!(d.is_uac);
    assert_eq!(d.id.local_tag, "alice-tag");
    assert_eq!(d.id.remote_tag, "bob-tag");
    assert_eq!(
        d.route_set,
        vec!["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]
    );
    assert_eq!(d.remote_target, uri("sip:bob@10.0.0.9:5070"));
    let ack = d.create_ack(10);
    assert_eq!(ack.method, Method::Ack);
    assert_eq!(ack.cseq().unwrap().seq, 10);
    assert_eq!(ack.cseq().unwrap().method, Method::Ack);
    assert_eq!(d.local_cseq, 10, "ACK does not consume a CSeq");
    let bye = d.create_request(Method::Bye).unwrap();
    assert_eq!(bye.cseq().unwrap().seq, 11);
    assert_eq!(
        DialogId::of_received_response(&ok),
        Some(d.id.clone()),
        "responses map to the UAC's dialog id"
    );
}

#[test]
fn uac_dialog_creation_rules() {
    let inv = invite_with("");
    let trying = make_response(&inv, 100, Some("x"));
    assert_eq!(
        Dialog::uac_from_response(&inv, &trying),
        Err(DialogError::NotDialogCreating)
    );
    let no_tag = make_response(&inv, 180, None);
    assert_eq!(
        Dialog::uac_from_response(&inv, &no_tag),
        Err(DialogError::NoRemoteTag)
    );
    // An early dialog without Contact targets the Request-URI for now.
    let ringing = make_response(&inv, 180, Some("bob-tag"));
    let mut d = Dialog::uac_from_response(&inv, &ringing).unwrap();
    assert_eq!(d.state, DialogState::Early);
    assert_eq!(d.remote_target, inv.uri);
    // The 2xx brings the Contact and confirms.
    let mut ok = make_response(&inv, 200, Some("bob-tag"));
    ok.headers.push(HeaderName::Contact, "<sip:bob@10.0.0.9>");
    d.on_response(&Method::Invite, &ok);
    assert_eq!(d.state, DialogState::Confirmed);
    assert_eq!(d.remote_target, uri("sip:bob@10.0.0.9"));
    // A 2xx without Contact cannot create a dialog.
    let bare_ok = make_response(&inv, 200, Some("bob-tag"));
    assert!(matches!(
        Dialog::uac_from_response(&inv, &bare_ok),
        Err(DialogError::BadHeader("Contact"))
    ));
    // 481 to a mid-dialog request ends the dialog.
    d.on_response(&Method::Info, &make_response(&inv, 481, None));
    assert_eq!(d.state, DialogState::Terminated);
    assert_eq!(d.create_request(Method::Bye), Err(DialogError::Terminated));
}

#[test]
fn strict_route_becomes_the_request_uri() {
    let inv = invite_with(
        "Record-Route: <sip:strict.example.com>\r\nRecord-Route: <sip:p2.example.com;lr>\r\n",
    );
    let mut d = Dialog::uas_from_invite(&inv, "gw-tag", "<sip:gw@10.0.0.2>").unwrap();
    let bye = d.create_request(Method::Bye).unwrap();
    assert_eq!(bye.uri, uri("sip:strict.example.com"));
    assert_eq!(
        bye.headers.get_all(&HeaderName::Route).collect::<Vec<_>>(),
        vec![
            "<sip:p2.example.com;lr>",
            "<sip:alice@10.0.0.1:5060;transport=udp>"
        ]
    );
}

#[test]
fn remote_cseq_must_not_go_down_and_target_refresh_updates_contact() {
    let mut d = Dialog::uas_from_invite(&invite(), "gw-tag", "<sip:gw@10.0.0.2>").unwrap();
    d.on_request(&in_dialog_request("ACK", 10, None)).unwrap();
    assert_eq!(d.state, DialogState::Confirmed);
    d.on_request(&in_dialog_request(
        "INVITE",
        12,
        Some("<sip:alice@10.0.0.77:5062>"),
    ))
    .unwrap();
    assert_eq!(d.remote_target, uri("sip:alice@10.0.0.77:5062"));
    assert_eq!(d.remote_cseq, Some(12));
    // INFO is no target refresh: its Contact is ignored.
    d.on_request(&in_dialog_request(
        "INFO",
        13,
        Some("<sip:elsewhere@10.9.9.9>"),
    ))
    .unwrap();
    assert_eq!(d.remote_target, uri("sip:alice@10.0.0.77:5062"));
    let err = d
        .on_request(&in_dialog_request("INFO", 11, None))
        .unwrap_err();
    assert_eq!(err, DialogError::CSeqOutOfOrder { got: 11, last: 13 });
    assert_eq!(err.status(), 500);
    d.on_request(&in_dialog_request("BYE", 14, None)).unwrap();
    assert_eq!(d.state, DialogState::Terminated);
    let err = d
        .on_request(&in_dialog_request("INFO", 15, None))
        .unwrap_err();
    assert_eq!(err.status(), 481);
}

#[test]
fn glare_both_sides_reinvite_get_491() {
    // Both ends of a confirmed dialog send a re-INVITE with an offer at
    // the same time.
    let mut a = InviteSession::default();
    let mut b = InviteSession::default();
    assert!(a.can_send_offer() && b.can_send_offer());
    a.on_send(&Method::Invite, true);
    b.on_send(&Method::Invite, true);
    assert_eq!(
        a.on_receive(&Method::Invite, true),
        GlareVerdict::RequestPending
    );
    assert_eq!(
        b.on_receive(&Method::Invite, true),
        GlareVerdict::RequestPending
    );
    // Each gets the other's 491: their INVITEs are over.
    a.on_final_received(&Method::Invite);
    b.on_final_received(&Method::Invite);
    assert!(a.can_send_offer() && b.can_send_offer());
    // The Call-ID owner (A) waits longer, so B's retry wins.
    let a_wait = glare_retry_delay(true, 0);
    let b_wait = glare_retry_delay(false, u32::MAX);
    assert!(b_wait < a_wait);
    assert_eq!(a.on_receive(&Method::Invite, true), GlareVerdict::Proceed);
    // A second INVITE while the first is unanswered: 500.
    assert_eq!(
        a.on_receive(&Method::Invite, true),
        GlareVerdict::ServerError
    );
    a.on_final_sent(&Method::Invite);
    assert!(a.can_send_offer());
}

#[test]
fn glare_update_offer_against_pending_offer() {
    let mut s = InviteSession::default();
    s.on_send(&Method::Update, true);
    assert!(!s.can_send_offer());
    assert_eq!(
        s.on_receive(&Method::Update, true),
        GlareVerdict::RequestPending
    );
    // An UPDATE without an offer does not collide.
    assert_eq!(s.on_receive(&Method::Update, false), GlareVerdict::Proceed);
    s.on_answer_received();
    assert_eq!(s.on_receive(&Method::Update, true), GlareVerdict::Proceed);
    assert_eq!(
        s.on_receive(&Method::Update, true),
        GlareVerdict::ServerError
    );
    s.on_answer_sent();
    assert!(s.can_send_offer());
}

#[test]
fn glare_retry_delay_edges() {
    assert_eq!(glare_retry_delay(true, 0), Duration::from_millis(2100));
    assert_eq!(glare_retry_delay(true, 190), Duration::from_millis(4000));
    assert_eq!(glare_retry_delay(false, 0), Duration::ZERO);
    assert_eq!(glare_retry_delay(false, 200), Duration::from_millis(2000));
}

proptest! {
    #[test]
    fn glare_retry_delay_stays_in_range(r in any::<u32>(), owner in any::<bool>()) {
        let d = glare_retry_delay(owner, r);
        if owner {
            prop_assert!(d >= Duration::from_millis(2100) && d <= Duration::from_secs(4));
        } else {
            prop_assert!(d <= Duration::from_secs(2));
        }
        prop_assert_eq!(d.as_millis() % 10, 0);
    }
}

fn reliable_180(inv: &Request, rseq: u32) -> Response {
    let mut r = make_response(inv, 180, Some("bob-tag"));
    r.headers.push(HeaderName::Require, "100rel");
    r.headers.push(HeaderName::RSeq, rseq.to_string());
    r.headers.push(HeaderName::Contact, "<sip:bob@10.0.0.9>");
    r
}

#[test]
fn uac_prack_for_each_new_reliable_provisional_only() {
    let inv = invite_with("Supported: 100rel\r\n");
    let first = reliable_180(&inv, 5);
    assert_eq!(reliable_rseq(&first), Some(5));
    let mut d = Dialog::uac_from_response(&inv, &first).unwrap();
    let prack = d.create_prack(&first).unwrap().expect("a PRACK");
    assert_eq!(prack.method, Method::Prack);
    assert_eq!(prack.headers.get(&HeaderName::RAck), Some("5 10 INVITE"));
    assert_eq!(prack.cseq().unwrap().seq, 11);
    assert_eq!(prack.uri, uri("sip:bob@10.0.0.9"));
    // The retransmission of the same provisional: no second PRACK.
    assert_eq!(d.create_prack(&first), Ok(None));
    // A gap is not acknowledged either.
    assert_eq!(d.create_prack(&reliable_180(&inv, 7)), Ok(None));
    assert!(d.create_prack(&reliable_180(&inv, 6)).unwrap().is_some());
    // A plain 180 is not reliable.
    let plain = make_response(&inv, 180, Some("bob-tag"));
    assert_eq!(reliable_rseq(&plain), None);
    assert_eq!(d.create_prack(&plain), Err(DialogError::NotReliable));
}

fn retransmit_times(
    base: Instant,
    mut poll: impl FnMut() -> Option<Instant>,
    mut fire: impl FnMut(Instant) -> Option<RetransmitAction>,
) -> (Vec<Duration>, Option<Duration>) {
    let mut resent = Vec::new();
    for _ in 0..100 {
        let Some(t) = poll() else { break };
        match fire(t) {
            Some(RetransmitAction::Resend(_)) => resent.push(t - base),
            Some(RetransmitAction::GiveUp) => return (resent, Some(t - base)),
            None => {}
        }
    }
    (resent, None)
}

#[test]
fn uas_reliable_provisional_retransmits_until_prack() {
    let base = Instant::now();
    let inv = invite_with("Supported: 100rel\r\n");
    let mut rel = ReliableProvisionals::new(Duration::from_millis(500), 1000, 10);
    let mut r = make_response(&inv, 183, Some("gw-tag"));
    assert_eq!(rel.send(base, &mut r), Ok(1000));
    assert_eq!(
        reliable_rseq(&r),
        Some(1000),
        "Require: 100rel and RSeq added"
    );
    let mut second = make_response(&inv, 180, Some("gw-tag"));
    assert_eq!(
        rel.send(base, &mut second),
        Err(DialogError::ProvisionalPending)
    );
    assert_eq!(rel.poll_timeout(), Some(base + Duration::from_millis(500)));
    // Two retransmissions, then the PRACK.
    assert!(matches!(
        rel.handle_timeout(base + Duration::from_millis(500)),
        Some(RetransmitAction::Resend(_))
    ));
    assert_eq!(rel.poll_timeout(), Some(base + Duration::from_millis(1500)));
    let mut wrong = in_dialog_request("PRACK", 11, None);
    wrong.headers.push(HeaderName::RAck, "999 10 INVITE");
    let err = rel.on_prack(&wrong).unwrap_err();
    assert_eq!(err.status(), 481);
    let mut prack = in_dialog_request("PRACK", 11, None);
    prack.headers.push(HeaderName::RAck, "1000 10 INVITE");
    assert_eq!(rel.on_prack(&prack), Ok(1000));
    assert_eq!(rel.poll_timeout(), None);
    assert!(!rel.is_pending());
    // The next reliable provisional gets the next RSeq.
    assert_eq!(rel.send(base, &mut second), Ok(1001));
}

#[test]
fn uas_reliable_provisional_gives_up_after_64_t1() {
    let base = Instant::now();
    let inv = invite_with("");
    let mut rel = ReliableProvisionals::new(Duration::from_millis(500), 1, 10);
    let mut r = make_response(&inv, 180, Some("gw-tag"));
    rel.send(base, &mut r).unwrap();
    let rel = std::cell::RefCell::new(rel);
    let (resent, gave_up) = retransmit_times(
        base,
        || rel.borrow().poll_timeout(),
        |t| rel.borrow_mut().handle_timeout(t),
    );
    let ms = |v: &[u64]| {
        v.iter()
            .map(|m| Duration::from_millis(*m))
            .collect::<Vec<_>>()
    };
    // T1 doubling each time, without a T2 cap (RFC 3262 3).
    assert_eq!(resent, ms(&[500, 1500, 3500, 7500, 15500, 31500]));
    assert_eq!(gave_up, Some(Duration::from_secs(32)));
    assert_eq!(rel.borrow().poll_timeout(), None);
}

#[test]
fn ack_wait_retransmits_2xx_capped_at_t2_then_gives_up() {
    let base = Instant::now();
    let ok = make_response(&invite(), 200, Some("gw-tag"));
    let w = std::cell::RefCell::new(AckWait::new(
        base,
        Duration::from_millis(500),
        Duration::from_secs(4),
        ok,
    ));
    let (resent, gave_up) = retransmit_times(
        base,
        || w.borrow().poll_timeout(),
        |t| w.borrow_mut().handle_timeout(t),
    );
    let s = |v: &[f64]| {
        v.iter()
            .map(|x| Duration::from_secs_f64(*x))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        resent,
        s(&[0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5])
    );
    assert_eq!(gave_up, Some(Duration::from_secs(32)));
    assert_eq!(
        w.borrow().poll_timeout(),
        None,
        "no deadline after giving up"
    );
}
