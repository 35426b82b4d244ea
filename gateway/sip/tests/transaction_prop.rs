//! Property tests: random mixes of requests, responses, TU answers and time
//! never panic the transaction layer and keep its bookkeeping consistent.

use gateway_sip::parse::parse_message;
use gateway_sip::transaction::{
    make_response, PeerAddr, ServerTxId, TimerConfig, TransactionLayer, Transport, TxEvent, TxId,
};
use gateway_sip::{HeaderName, Message, Request};
use proptest::prelude::*;
use std::collections::HashSet;
use std::time::{Duration, Instant};

const METHODS: &[&str] = &[
    "INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "PRACK", "UPDATE", "FOO",
];
const BRANCHES: &[&str] = &[
    "z9hG4bKa",
    "z9hG4bKb",
    "z9hG4bK",
    "legacy1",
    "z9hG4bKa;rport",
];

#[derive(Debug, Clone)]
enum Step {
    /// A request arrives.
    Request {
        method: usize,
        branch: usize,
        cseq_method: usize,
        tcp: bool,
    },
    /// A response arrives.
    Response {
        status: u16,
        branch: usize,
        cseq_method: usize,
    },
    /// The TU answers the n-th server transaction it has seen.
    Respond { which: usize, status: u16 },
    /// The TU starts a client transaction.
    Send {
        method: usize,
        branch: usize,
        tcp: bool,
    },
    /// Time passes.
    Advance { millis: u64 },
    /// A send fails.
    TransportError { which: usize },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (
            0..METHODS.len(),
            0..BRANCHES.len(),
            0..METHODS.len(),
            any::<bool>()
        )
            .prop_map(|(method, branch, cseq_method, tcp)| Step::Request {
                method,
                branch,
                cseq_method,
                tcp
            }),
        (
            prop_oneof![
                Just(100u16),
                Just(180),
                Just(200),
                Just(487),
                Just(603),
                0u16..1000
            ],
            0..BRANCHES.len(),
            0..METHODS.len()
        )
            .prop_map(|(status, branch, cseq_method)| Step::Response {
                status,
                branch,
                cseq_method
            }),
        (
            0usize..8,
            prop_oneof![Just(100u16), Just(180), Just(200), Just(486), 0u16..1000]
        )
            .prop_map(|(which, status)| Step::Respond { which, status }),
        (0..METHODS.len(), 0..BRANCHES.len(), any::<bool>()).prop_map(|(method, branch, tcp)| {
            Step::Send {
                method,
                branch,
                tcp,
            }
        }),
        (0u64..40_000).prop_map(|millis| Step::Advance { millis }),
        (0usize..8).prop_map(|which| Step::TransportError { which }),
    ]
}

fn request(method: &str, branch: &str, cseq_method: &str) -> Request {
    let text = format!(
        "{method} sip:bob@example.com SIP/2.0\r\n\
         Via: SIP/2.0/UDP 10.0.0.1:5060;branch={branch}\r\n\
         From: <sip:alice@example.com>;tag=f\r\n\
         To: <sip:bob@example.com>\r\n\
         Call-ID: prop@10.0.0.1\r\n\
         CSeq: 1 {method}\r\n\
         Content-Length: 0\r\n\r\n"
    );
    let mut r = match parse_message(text.as_bytes()) {
        Ok(Message::Request(r)) => r,
        other => panic!("test request must parse: {other:?}"),
    };
    // The parser refuses a CSeq method that differs from the request's; a
    // TU-built or hand-edited message may still carry one.
    r.headers.set(HeaderName::CSeq, format!("1 {cseq_method}"));
    r
}

fn peer(tcp: bool) -> PeerAddr {
    PeerAddr {
        transport: if tcp { Transport::Tcp } else { Transport::Udp },
        addr: "10.0.0.1:5060".parse().unwrap(),
        conn: tcp.then_some(7),
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 300,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_traffic_never_panics_and_ids_are_consistent(steps in prop::collection::vec(step(), 1..60)) {
        let base = Instant::now();
        let mut now = base;
        let mut l = TransactionLayer::new(TimerConfig::default());
        let mut servers: Vec<(ServerTxId, Request)> = Vec::new();
        let mut live: HashSet<TxId> = HashSet::new();
        let mut ended: HashSet<TxId> = HashSet::new();
        for s in steps {
            match s {
                Step::Request { method, branch, cseq_method, tcp } => {
                    // Most requests carry their own method in CSeq; some lie.
                    let cm = if cseq_method % 3 == 0 { cseq_method } else { method };
                    let r = request(METHODS[method], BRANCHES[branch], METHODS[cm]);
                    l.receive(now, Message::Request(r), peer(tcp));
                }
                Step::Response { status, branch, cseq_method } => {
                    let r = request("INVITE", BRANCHES[branch], METHODS[cseq_method]);
                    let mut resp = make_response(&r, 200, Some("t"));
                    resp.status = status;
                    l.receive(now, Message::Response(resp), peer(false));
                }
                Step::Respond { which, status } => {
                    if let Some((id, req)) = servers.get(which) {
                        let mut resp = make_response(req, 200, Some("t"));
                        resp.status = status;
                        let _ = l.respond(now, id, resp);
                    }
                }
                Step::Send { method, branch, tcp } => {
                    let r = request(METHODS[method], BRANCHES[branch], METHODS[method]);
                    if let Ok(id) = l.send_request(now, r, peer(tcp)) {
                        prop_assert!(live.insert(TxId::Client(id)), "ids are fresh");
                    }
                }
                Step::Advance { millis } => {
                    now += Duration::from_millis(millis);
                    l.handle_timeout(now);
                    if let Some(t) = l.poll_timeout() {
                        prop_assert!(t > now, "nothing due is left behind");
                    }
                }
                Step::TransportError { which } => {
                    if let Some((id, _)) = servers.get(which) {
                        l.transport_error(TxId::Server(*id));
                    }
                }
            }
            while l.poll_transmit().is_some() {}
            while let Some(ev) = l.poll_event() {
                match ev {
                    TxEvent::Request { id, req, .. } => {
                        prop_assert!(live.insert(TxId::Server(id)), "ids are fresh");
                        servers.push((id, req));
                    }
                    TxEvent::Terminated { id } => {
                        prop_assert!(live.remove(&id), "terminated once, after creation");
                        ended.insert(id);
                    }
                    TxEvent::Response { id, .. } => {
                        prop_assert!(!ended.contains(&TxId::Client(id)), "no event after the end");
                    }
                    TxEvent::Timeout { id } | TxEvent::TransportError { id } => {
                        prop_assert!(live.contains(&id));
                    }
                    TxEvent::Ack { .. } => {}
                }
            }
            prop_assert_eq!(l.len(), live.len());
        }
        // Everything ends once all timers have run (server transactions the
        // TU never answered stay, as they must).
        now += Duration::from_secs(3600);
        l.handle_timeout(now);
        while let Some(ev) = l.poll_event() {
            if let TxEvent::Terminated { id } = ev {
                live.remove(&id);
            }
        }
        prop_assert_eq!(l.len(), live.len());
        prop_assert!(l.poll_timeout().is_none_or(|t| t > now));
    }

    #[test]
    fn mangled_messages_through_the_parser_never_panic_the_layer(
        at in 0usize..400, len in 0usize..40, junk in prop::collection::vec(any::<u8>(), 0..40),
        response in any::<bool>(),
    ) {
        let base = request("INVITE", "z9hG4bKm", "INVITE");
        let msg = if response {
            Message::Response(make_response(&base, 180, Some("x")))
        } else {
            Message::Request(base)
        };
        let mut bytes = msg.to_bytes();
        let at = at.min(bytes.len());
        let end = (at + len).min(bytes.len());
        bytes.splice(at..end, junk);
        let mut l = TransactionLayer::new(TimerConfig::default());
        let now = Instant::now();
        if let Ok(m) = parse_message(&bytes) {
            l.receive(now, m.clone(), peer(false));
            l.receive(now, m, peer(false));
        }
        l.handle_timeout(now + Duration::from_secs(100));
        while l.poll_event().is_some() {}
        prop_assert!(l.len() <= 1);
    }
}
