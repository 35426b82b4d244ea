//! Transaction layer state machines driven by a virtual clock.

use gateway_sip::parse::parse_message;
use gateway_sip::transaction::{
    build_cancel, make_response, CancelTarget, ClientTxId, InviteServerState, PeerAddr, ServerTxId,
    TimerConfig, TransactionLayer, Transmit, Transport, TxError, TxEvent, TxId,
};
use gateway_sip::{HeaderName, Message, Method, Request, Response};
use std::time::{Duration, Instant};

fn peer(transport: Transport, port: u16) -> PeerAddr {
    PeerAddr {
        transport,
        addr: format!("127.0.0.1:{port}").parse().unwrap(),
        conn: None,
    }
}

fn udp() -> PeerAddr {
    peer(Transport::Udp, 5070)
}

fn request(method: &str, branch: &str, cseq: u32) -> Request {
    let text = format!(
        "{method} sip:bob@127.0.0.1:5070 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5060;branch={branch}\r\n\
         From: <sip:alice@127.0.0.1>;tag=a1\r\n\
         To: <sip:bob@127.0.0.1>\r\n\
         Call-ID: call-1@127.0.0.1\r\n\
         CSeq: {cseq} {method}\r\n\
         Contact: <sip:alice@127.0.0.1:5060>\r\n\
         Max-Forwards: 70\r\n\
         Content-Length: 0\r\n\r\n"
    );
    match parse_message(text.as_bytes()).unwrap() {
        Message::Request(r) => r,
        _ => unreachable!(),
    }
}

fn parse(t: &Transmit) -> Message {
    parse_message(&t.bytes).expect("layer output parses")
}

fn transmits(l: &mut TransactionLayer) -> Vec<Transmit> {
    std::iter::from_fn(|| l.poll_transmit()).collect()
}

fn events(l: &mut TransactionLayer) -> Vec<TxEvent> {
    std::iter::from_fn(|| l.poll_event()).collect()
}

/// Advance virtual time deadline by deadline until `until`, returning the
/// offsets from `base` at which something was transmitted.
fn run_until(l: &mut TransactionLayer, base: Instant, until: Duration) -> Vec<Duration> {
    let mut sent = Vec::new();
    while let Some(t) = l.poll_timeout() {
        if t > base + until {
            break;
        }
        l.handle_timeout(t);
        for _ in transmits(l) {
            sent.push(t - base);
        }
    }
    sent
}

fn secs(v: &[f64]) -> Vec<Duration> {
    v.iter().map(|s| Duration::from_secs_f64(*s)).collect()
}

fn server_id(evs: &[TxEvent]) -> ServerTxId {
    evs.iter()
        .find_map(|e| match e {
            TxEvent::Request { id, .. } => Some(*id),
            _ => None,
        })
        .expect("a Request event")
}

fn responses(evs: &[TxEvent]) -> Vec<u16> {
    evs.iter()
        .filter_map(|e| match e {
            TxEvent::Response { resp, .. } => Some(resp.status),
            _ => None,
        })
        .collect()
}

fn has_timeout(evs: &[TxEvent], id: TxId) -> bool {
    evs.contains(&TxEvent::Timeout { id })
}

fn has_terminated(evs: &[TxEvent], id: TxId) -> bool {
    evs.contains(&TxEvent::Terminated { id })
}

fn respond_to(req: &Request, status: u16) -> Response {
    make_response(req, status, Some("b1"))
}

fn start_client(
    l: &mut TransactionLayer,
    now: Instant,
    method: &str,
    to: PeerAddr,
) -> (ClientTxId, Request) {
    let req = request(method, "z9hG4bKclient1", 1);
    let id = l.send_request(now, req.clone(), to).unwrap();
    let t = transmits(l);
    assert_eq!(t.len(), 1, "the request is sent at once");
    assert_eq!(t[0].tx, Some(TxId::Client(id)));
    (id, req)
}

#[test]
fn invite_client_timer_a_doubles_without_t2_cap_then_timer_b() {
    let base = Instant::now();
    let mut l = TransactionLayer::new(TimerConfig::default());
    let (id, _) = start_client(&mut l, base, "INVITE", udp());
    let sent = run_until(&mut l, base, Duration::from_secs(31));
    // A: 0.5, 1, 2, 4, 8, 16 s intervals; no T2 cap for INVITE.
    assert_eq!(sent, secs(&[0.5, 1.5, 3.5, 7.5, 15.5, 31.5][..5]));
    assert_eq!(l.poll_timeout(), Some(base + Duration::from_millis(31_500)));
    let sent = run_until(&mut l, base, Duration::from_secs(40));
    assert_eq!(sent, secs(&[31.5]));
    let evs = events(&mut l);
    assert!(has_timeout(&evs, TxId::Client(id)), "Timer B at 64*T1");
    assert!(has_terminated(&evs, TxId::Client(id)));
    assert_eq!(l.len(), 0);
    assert_eq!(l.stats().retransmissions_sent, 6);
    assert_eq!(l.stats().timeouts, 1);
    assert_eq!(l.poll_timeout(), None);
}

#[test]
fn non_invite_client_timer_e_caps_at_t2_then_timer_f() {
    let base = Instant::now();
    let mut l = TransactionLayer::new(TimerConfig::default());
    let (id, _) = start_client(&mut l, base, "OPTIONS", udp());
    let sent = run_until(&mut l, base, Duration::from_secs(40));
    assert_eq!(
        sent,
        secs(&[0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5])
    );
    let evs = events(&mut l);
    assert!(has_timeout(&evs, TxId::Client(id)), "Timer F at 64*T1");
    assert_eq!(l.len(), 0);
}

#[test]
fn non_invite_client_proceeding_retransmits_every_t2_and_timer_k_absorbs() {
    let base = Instant::now();
    let mut l = TransactionLayer::new(TimerConfig::default());
    let (id, req) = start_client(&mut l, base, "BYE", udp());
    l.receive(
        base + Duration::from_millis(100),
        Message::Response(respond_to(&req, 100)),
        udp(),
    );
    assert_eq!(responses(&events(&mut l)), vec![100]);
    // E was armed at 0.5 s in Trying; after it fires in Proceeding the
    // interval is T2.
    let sent = run_until(&mut l, base, Duration::from_millis(8_600));
    assert_eq!(sent, secs(&[0.5, 4.5, 8.5]));
    let t = base + Duration::from_secs(9);
    l.receive(t, Message::Response(respond_to(&req, 200)), udp());
    assert_eq!(responses(&events(&mut l)), vec![200]);
    // A retransmitted 200 is absorbed in Completed.
    l.receive(t, Message::Response(respond_to(&req, 200)), udp());
    assert!(events(&mut l).is_empty());
    assert_eq!(l.stats().retransmissions_absorbed, 1);
    assert_eq!(
        l.poll_timeout(),
        Some(t + Duration::from_secs(5)),
        "Timer K = T4"
    );
    assert!(run_until(&mut l, base, Duration::from_secs(20)).is_empty());
    assert!(has_terminated(&events(&mut l), TxId::Client(id)));
}

#[test]
fn invite_client_acks_non_2xx_and_timer_d_absorbs_retransmissions() {
    let base = Instant::now();
    let mut l = TransactionLayer::new(TimerConfig::default());
    let (id, req) = start_client(&mut l, base, "INVITE", udp());
    let t = base + Duration::from_millis(200);
    l.receive(t, Message::Response(respond_to(&req, 180)), udp());
    l.receive(t, Message::Response(respond_to(&req, 486)), udp());
    assert_eq!(responses(&events(&mut l)), vec![180, 486]);
    let out = transmits(&mut l);
    assert_eq!(out.len(), 1);
    let Message::Request(ack) = parse(&out[0]) else {
        panic!("ACK expected")
    };
    assert_eq!(ack.method, Method::Ack);
    // Same branch as the INVITE (17.1.1.3), To tag from the response.
    assert_eq!(ack.top_via().unwrap().branch(), Some("z9hG4bKclient1"));
    assert_eq!(ack.to().unwrap().tag(), Some("b1"));
    assert_eq!(ack.cseq().unwrap().seq, 1);
    assert_eq!(ack.cseq().unwrap().method, Method::Ack);
    // A retransmitted 486 gets the ACK again and does not reach the TU.
    l.receive(
        t + Duration::from_secs(1),
        Message::Response(respond_to(&req, 486)),
        udp(),
    );
    assert!(events(&mut l).is_empty());
    assert_eq!(transmits(&mut l).len(), 1);
    assert_eq!(l.stats().retransmissions_absorbed, 1);
    assert_eq!(
        l.poll_timeout(),
        Some(t + Duration::from_secs(32)),
        "Timer D"
    );
    run_until(&mut l, base, Duration::from_secs(60));
    assert!(has_terminated(&events(&mut l), TxId::Client(id)));
    assert_eq!(l.len(), 0);
}

#[test]
fn invite_client_accepted_passes_2xx_retransmissions_until_timer_m() {
    let base = Instant::now();
    let mut l = TransactionLayer::new(TimerConfig::default());
    let (id, req) = start_client(&mut l, base, "INVITE", udp());
    let ok = respond_to(&req, 200);
    l.receive(base, Message::Response(ok.clone()), udp());
    l.receive(
        base + Duration::from_secs(1),
        Message::Response(ok.clone()),
        udp(),
    );
    // Both 2xx reach the TU (which ACKs each); no ACK from the transaction.
    assert_eq!(responses(&events(&mut l)), vec![200, 200]);
    assert!(transmits(&mut l).is_empty());
    // A late 4xx in Accepted is absorbed.
    l.receive(base, Message::Response(respond_to(&req, 404)), udp());
    assert!(events(&mut l).is_empty());
    assert_eq!(
        l.poll_timeout(),
        Some(base + Duration::from_secs(32)),
        "Timer M"
    );
    run_until(&mut l, base, Duration::from_secs(33));
    assert!(has_terminated(&events(&mut l), TxId::Client(id)));
    // After M, a 2xx is a stray.
    l.receive(base, Message::Response(ok), udp());
    assert_eq!(l.stats().stray_responses, 1);
}

#[test]
fn invite_server_sends_100_and_resends_last_provisional() {
    let base = Instant::now();
    let mut l = TransactionLayer::new(TimerConfig::default());
    let inv = request("INVITE", "z9hG4bKsrv", 7);
    l.receive(base, Message::Request(inv.clone()), udp());
    let id = server_id(&events(&mut l));
    let out = transmits(&mut l);
    assert_eq!(out.len(), 1);
    let Message::Response(trying) = parse(&out[0]) else {
        panic!()
    };
    assert_eq!(trying.status, 100);
    // Retransmitted INVITE before any TU answer: the 100 again.
    l.receive(base, Message::Request(inv.clone()), udp());
    let out = transmits(&mut l);
    assert_eq!(out.len(), 1);
    assert!(events(&mut l).is_empty(), "retransmission absorbed");
    l.respond(base, &id, respond_to(&inv, 180)).unwrap();
    transmits(&mut l);
    l.receive(base, Message::Request(inv.clone()), udp());
    let out = transmits(&mut l);
    let Message::Response(r) = parse(&out[0]) else {
        panic!()
    };
    assert_eq!(r.status, 180);
    assert_eq!(l.stats().retransmissions_absorbed, 2);
    assert_eq!(l.stats().retransmissions_sent, 2);
    // No timers while Proceeding: the TU owns the answer time.
    assert_eq!(l.poll_timeout(), None);
}

#[test]
fn invite_server_timer_g_until_timer_h_when_ack_never_arrives() {
    let base = Instant::now();
    let mut l = TransactionLayer::new(TimerConfig::default());
    let inv = request("INVITE", "z9hG4bKsrv", 7);
    l.receive(base, Message::Request(inv.clone()), udp());
    let id = server_id(&events(&mut l));
    transmits(&mut l);
    l.respond(base, &id, respond_to(&inv, 486)).unwrap();
    assert_eq!(transmits(&mut l).len(), 1);
    let sent = run_until(&mut l, base, Duration::from_secs(40));
    assert_eq!(
        sent,
        secs(&[0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5])
    );
    let evs = events(&mut l);
    assert!(has_timeout(&evs, TxId::Server(id)), "Timer H");
    assert!(has_terminated(&evs, TxId::Server(id)));
}

#[test]
fn invite_server_ack_confirms_and_timer_i_absorbs_acks() {
    let base = Instant::now();
    let mut l = TransactionLayer::new(TimerConfig::default());
    let inv = request("INVITE", "z9hG4bKsrv", 7);
    l.receive(base, Message::Request(inv.clone()), udp());
    let id = server_id(&events(&mut l));
    l.respond(base, &id, respond_to(&inv, 603)).unwrap();
    transmits(&mut l);
    let ack = request("ACK", "z9hG4bKsrv", 7);
    let t = base + Duration::from_millis(100);
    l.receive(t, Message::Request(ack.clone()), udp());
    assert_eq!(
        l.invite_server_state(&id),
        Some(InviteServerState::Confirmed)
    );
    // Neither ACK reaches the TU: they belong to the transaction.
    l.receive(t, Message::Request(ack), udp());
    assert!(events(&mut l).is_empty());
    assert_eq!(
        l.poll_timeout(),
        Some(t + Duration::from_secs(5)),
        "Timer I = T4"
    );
    assert!(
        run_until(&mut l, base, Duration::from_secs(10)).is_empty(),
        "G stopped"
    );
    assert!(has_terminated(&events(&mut l), TxId::Server(id)));
}

#[test]
fn invite_server_accepted_passes_2xx_absorbs_invites_until_timer_l() {
    let base = Instant::now();
    let mut l = TransactionLayer::new(TimerConfig::default());
    let inv = request("INVITE", "z9hG4bKsrv", 7);
    l.receive(base, Message::Request(inv.clone()), udp());
    let id = server_id(&events(&mut l));
    transmits(&mut l);
    let ok = respond_to(&inv, 200);
    l.respond(base, &id, ok.clone()).unwrap();
    assert_eq!(transmits(&mut l).len(), 1);
    assert_eq!(
        l.invite_server_state(&id),
        Some(InviteServerState::Accepted)
    );
    // INVITE retransmission: absorbed, nothing resent (RFC 6026 7.1).
    l.receive(base, Message::Request(inv.clone()), udp());
    assert!(transmits(&mut l).is_empty());
    assert!(events(&mut l).is_empty());
    // The TU's 2xx retransmission passes through.
    l.respond(base + Duration::from_millis(500), &id, ok)
        .unwrap();
    assert_eq!(transmits(&mut l).len(), 1);
    // A 4xx is refused now.
    assert!(matches!(
        l.respond(base, &id, respond_to(&inv, 486)),
        Err(TxError::InvalidState(_))
    ));
    // The ACK for the 2xx has its own branch: it goes to the TU.
    let ack = request("ACK", "z9hG4bKack2xx", 7);
    l.receive(base, Message::Request(ack), udp());
    assert!(matches!(events(&mut l)[..], [TxEvent::Ack { .. }]));
    assert_eq!(
        l.poll_timeout(),
        Some(base + Duration::from_secs(32)),
        "Timer L"
    );
    run_until(&mut l, base, Duration::from_secs(33));
    assert!(has_terminated(&events(&mut l), TxId::Server(id)));
}

#[test]
fn non_invite_server_absorbs_retransmissions_and_timer_j() {
    let base = Instant::now();
    let mut l = TransactionLayer::new(TimerConfig::default());
    let bye = request("BYE", "z9hG4bKbye", 8);
    l.receive(base, Message::Request(bye.clone()), udp());
    let id = server_id(&events(&mut l));
    assert!(
        transmits(&mut l).is_empty(),
        "no automatic 100 for non-INVITE"
    );
    // Trying: nothing to resend yet.
    l.receive(base, Message::Request(bye.clone()), udp());
    assert!(transmits(&mut l).is_empty());
    assert!(events(&mut l).is_empty());
    l.respond(base, &id, respond_to(&bye, 200)).unwrap();
    assert_eq!(transmits(&mut l).len(), 1);
    l.receive(
        base + Duration::from_secs(2),
        Message::Request(bye.clone()),
        udp(),
    );
    let out = transmits(&mut l);
    assert_eq!(out.len(), 1);
    let Message::Response(r) = parse(&out[0]) else {
        panic!()
    };
    assert_eq!(r.status, 200);
    assert!(events(&mut l).is_empty());
    assert_eq!(l.stats().retransmissions_absorbed, 2);
    assert!(matches!(
        l.respond(base, &id, respond_to(&bye, 500)),
        Err(TxError::InvalidState(_))
    ));
    assert_eq!(
        l.poll_timeout(),
        Some(base + Duration::from_secs(32)),
        "Timer J"
    );
    run_until(&mut l, base, Duration::from_secs(33));
    assert!(has_terminated(&events(&mut l), TxId::Server(id)));
    // After J, the same request is a new transaction.
    l.receive(base + Duration::from_secs(40), Message::Request(bye), udp());
    assert!(matches!(events(&mut l)[..], [TxEvent::Request { .. }]));
}

#[test]
fn reliable_transport_has_no_retransmissions_and_zero_length_timers() {
    let base = Instant::now();
    let tcp = peer(Transport::Tcp, 5071);
    let mut l = TransactionLayer::new(TimerConfig::default());
    // INVITE client: only Timer B.
    let (id, req) = start_client(&mut l, base, "INVITE", tcp);
    assert_eq!(l.poll_timeout(), Some(base + Duration::from_secs(32)));
    l.receive(base, Message::Response(respond_to(&req, 486)), tcp);
    assert_eq!(transmits(&mut l).len(), 1, "the ACK");
    let evs = events(&mut l);
    assert!(has_terminated(&evs, TxId::Client(id)), "D = 0");
    // Non-INVITE client: only Timer F, K = 0.
    let opt = {
        let r = request("OPTIONS", "z9hG4bKopt", 2);
        l.send_request(base, r.clone(), tcp).unwrap();
        r
    };
    transmits(&mut l);
    assert!(run_until(&mut l, base, Duration::from_secs(31)).is_empty());
    l.receive(base, Message::Response(respond_to(&opt, 200)), tcp);
    assert!(events(&mut l)
        .iter()
        .any(|e| matches!(e, TxEvent::Terminated { .. })));
    // INVITE server: no G, I = 0.
    let inv = request("INVITE", "z9hG4bKs", 3);
    l.receive(base, Message::Request(inv.clone()), tcp);
    let sid = server_id(&events(&mut l));
    l.respond(base, &sid, respond_to(&inv, 486)).unwrap();
    transmits(&mut l);
    assert_eq!(
        l.poll_timeout(),
        Some(base + Duration::from_secs(32)),
        "only H"
    );
    l.receive(base, Message::Request(request("ACK", "z9hG4bKs", 3)), tcp);
    assert!(has_terminated(&events(&mut l), TxId::Server(sid)));
    // Non-INVITE server: J = 0.
    let bye = request("BYE", "z9hG4bKb", 4);
    l.receive(base, Message::Request(bye.clone()), tcp);
    let sid = server_id(&events(&mut l));
    l.respond(base, &sid, respond_to(&bye, 200)).unwrap();
    assert!(has_terminated(&events(&mut l), TxId::Server(sid)));
    assert_eq!(l.len(), 0);
    assert_eq!(l.stats().retransmissions_sent, 0);
}

#[test]
fn cancel_after_final_response_leaves_invite_alone() {
    let base = Instant::now();
    let mut l = TransactionLayer::new(TimerConfig::default());
    let inv = request("INVITE", "z9hG4bKcx", 1);
    l.receive(base, Message::Request(inv.clone()), udp());
    let inv_id = server_id(&events(&mut l));
    l.respond(base, &inv_id, respond_to(&inv, 200)).unwrap();
    transmits(&mut l);
    let cancel = build_cancel(&inv);
    l.receive(base, Message::Request(cancel.clone()), udp());
    let evs = events(&mut l);
    let cancel_id = server_id(&evs);
    assert_ne!(cancel_id, inv_id, "CANCEL has its own transaction");
    assert_eq!(
        l.invite_for_cancel(&cancel),
        CancelTarget::AlreadyAnswered(inv_id)
    );
    l.respond(base, &cancel_id, respond_to(&cancel, 200))
        .unwrap();
    let out = transmits(&mut l);
    let Message::Response(r) = parse(&out[0]) else {
        panic!()
    };
    assert_eq!((r.status, r.cseq().unwrap().method), (200, Method::Cancel));
    assert_eq!(
        l.invite_server_state(&inv_id),
        Some(InviteServerState::Accepted)
    );
}

#[test]
fn cancel_before_final_response_and_unknown_cancel() {
    let base = Instant::now();
    let mut l = TransactionLayer::new(TimerConfig::default());
    let inv = request("INVITE", "z9hG4bKcy", 1);
    l.receive(base, Message::Request(inv.clone()), udp());
    let inv_id = server_id(&events(&mut l));
    let cancel = build_cancel(&inv);
    assert_eq!(l.invite_for_cancel(&cancel), CancelTarget::Pending(inv_id));
    l.receive(base, Message::Request(cancel.clone()), udp());
    let cancel_id = server_id(&events(&mut l));
    l.respond(base, &cancel_id, respond_to(&cancel, 200))
        .unwrap();
    l.respond(base, &inv_id, respond_to(&inv, 487)).unwrap();
    assert_eq!(
        l.invite_server_state(&inv_id),
        Some(InviteServerState::Completed)
    );

    let stray = build_cancel(&request("INVITE", "z9hG4bKnobody", 1));
    assert_eq!(l.invite_for_cancel(&stray), CancelTarget::NotFound);
    let resp = make_response(&stray, 481, Some("x"));
    assert_eq!(resp.status, 481);
    assert_eq!(resp.cseq().unwrap().method, Method::Cancel);
}

#[test]
fn client_cancel_matches_its_own_transaction() {
    let base = Instant::now();
    let mut l = TransactionLayer::new(TimerConfig::default());
    let (inv_id, inv) = start_client(&mut l, base, "INVITE", udp());
    l.receive(base, Message::Response(respond_to(&inv, 180)), udp());
    let cancel = build_cancel(l.client_request(&inv_id).unwrap());
    let cancel_id = l.send_request(base, cancel.clone(), udp()).unwrap();
    events(&mut l);
    l.receive(base, Message::Response(respond_to(&cancel, 200)), udp());
    l.receive(base, Message::Response(respond_to(&inv, 487)), udp());
    let evs = events(&mut l);
    assert!(evs.contains(&TxEvent::Response {
        id: cancel_id,
        resp: respond_to(&cancel, 200)
    }));
    assert!(evs.iter().any(
        |e| matches!(e, TxEvent::Response { id, resp } if *id == inv_id && resp.status == 487)
    ));
}

#[test]
fn send_request_rejects_bad_input_and_transport_errors_end_transactions() {
    let base = Instant::now();
    let mut l = TransactionLayer::new(TimerConfig::default());
    let mut no_branch = request("OPTIONS", "z9hG4bKx", 1);
    no_branch
        .headers
        .set(HeaderName::Via, "SIP/2.0/UDP 127.0.0.1:5060");
    assert_eq!(
        l.send_request(base, no_branch, udp()),
        Err(TxError::MissingBranch)
    );
    assert_eq!(
        l.send_request(base, request("ACK", "z9hG4bKa", 1), udp()),
        Err(TxError::AckInTransaction)
    );
    let id = l
        .send_request(base, request("OPTIONS", "z9hG4bKdup", 1), udp())
        .unwrap();
    assert_eq!(
        l.send_request(base, request("OPTIONS", "z9hG4bKdup", 1), udp()),
        Err(TxError::DuplicateTransaction)
    );
    l.transport_error(TxId::Client(id));
    let evs = events(&mut l);
    assert_eq!(
        evs,
        vec![
            TxEvent::TransportError {
                id: TxId::Client(id)
            },
            TxEvent::Terminated {
                id: TxId::Client(id)
            }
        ]
    );
    assert_eq!(l.len(), 0);
    assert_eq!(l.poll_timeout(), None, "stale deadlines are pruned");
    assert_eq!(
        l.respond(
            base,
            &ServerTxId(999),
            respond_to(&request("BYE", "z9hG4bKq", 1), 200)
        ),
        Err(TxError::UnknownTransaction)
    );
}

#[test]
fn malformed_and_stray_messages_are_counted_not_passed_up() {
    let base = Instant::now();
    let mut l = TransactionLayer::new(TimerConfig::default());
    let mut r = request("OPTIONS", "z9hG4bKm", 1);
    r.headers.remove(&HeaderName::Via);
    l.receive(base, Message::Request(r), udp());
    let resp = respond_to(&request("OPTIONS", "z9hG4bKnone", 1), 200);
    l.receive(base, Message::Response(resp), udp());
    assert!(events(&mut l).is_empty());
    assert_eq!(l.stats().malformed_dropped, 1);
    assert_eq!(l.stats().stray_responses, 1);
}

#[test]
fn rfc2543_requests_without_magic_cookie_still_match() {
    let base = Instant::now();
    let mut l = TransactionLayer::new(TimerConfig::default());
    let inv = request("INVITE", "oldbranch", 5);
    l.receive(base, Message::Request(inv.clone()), udp());
    let id = server_id(&events(&mut l));
    l.respond(base, &id, respond_to(&inv, 480)).unwrap();
    l.receive(
        base,
        Message::Request(request("ACK", "oldbranch", 5)),
        udp(),
    );
    assert_eq!(
        l.invite_server_state(&id),
        Some(InviteServerState::Confirmed)
    );
}

#[test]
fn many_transactions_keep_deadlines_ordered() {
    let base = Instant::now();
    let mut l = TransactionLayer::new(TimerConfig::default());
    for i in 0..10_000u32 {
        let r = request("OPTIONS", &format!("z9hG4bK{i}"), i + 1);
        l.send_request(base + Duration::from_millis(u64::from(i % 100)), r, udp())
            .unwrap();
    }
    assert_eq!(l.len(), 10_000);
    assert_eq!(l.poll_timeout(), Some(base + Duration::from_millis(500)));
    transmits(&mut l);
    l.handle_timeout(base + Duration::from_secs(40));
    // Every F fired (each transaction fired once, at the late instant).
    assert_eq!(l.len(), 0);
    assert_eq!(l.stats().timeouts, 10_000);
}

#[test]
fn overload_limit_answers_503_statelessly() {
    let base = Instant::now();
    let mut l = TransactionLayer::new(TimerConfig::default());
    l.set_max_transactions(2);
    for i in 0..3 {
        l.receive(
            base,
            Message::Request(request("OPTIONS", &format!("z9hG4bKo{i}"), 1)),
            udp(),
        );
    }
    assert_eq!(l.len(), 2);
    assert_eq!(events(&mut l).len(), 2);
    let out = transmits(&mut l);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].tx, None, "stateless");
    let Message::Response(r) = parse(&out[0]) else {
        panic!()
    };
    assert_eq!(r.status, 503);
    assert!(r.headers.contains(&HeaderName::RetryAfter));
    assert_eq!(l.stats().rejected_overload, 1);
}

#[test]
fn responses_go_back_on_the_connection_the_request_came_on() {
    let base = Instant::now();
    let mut l = TransactionLayer::new(TimerConfig::default());
    let from = PeerAddr {
        conn: Some(42),
        ..peer(Transport::Tls, 5061)
    };
    let inv = request("INVITE", "z9hG4bKconn", 1);
    l.receive(base, Message::Request(inv.clone()), from);
    let id = server_id(&events(&mut l));
    l.respond(base, &id, respond_to(&inv, 180)).unwrap();
    let out = transmits(&mut l);
    assert_eq!(out.len(), 2, "100 Trying and 180");
    assert!(out
        .iter()
        .all(|t| t.to == from && t.tx == Some(TxId::Server(id))));
}
