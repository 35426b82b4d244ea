//! Neighbour gatekeepers in the RAS gatekeeper, on a virtual clock: ARQs
//! the dialplan cannot place are located by LRQ (first LCF wins, all LRJ
//! or the timeout refuse), and LRQs from neighbours are answered for what
//! is ours. What the gatekeeper sends is also decoded by pycrate.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{hex, oracle};
use gateway_h323::gatekeeper::*;
use gateway_h323::h225::*;
use gateway_h323::neighbour::Neighbour;

const GK_RAS: &str = "192.0.2.1:1719";
const GK_CSA: &str = "192.0.2.1:1720";
const ROOM: &str = "198.51.100.7:1719";
const NB_A: &str = "203.0.113.10:1719";
const NB_B: &str = "203.0.113.20:1719";
const NB_C: &str = "203.0.113.30:1719";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn wall() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

fn directory(alias: &AliasAddress) -> Option<DirectoryEntry> {
    match alias {
        AliasAddress::H323Id(s) if s == "room-2001" => Some(DirectoryEntry {
            endpoint_id: "2001".into(),
            vetted: true,
            password: None,
        }),
        AliasAddress::DialedDigits(s) if s == "2001" => {
            directory(&AliasAddress::H323Id("room-2001".into()))
        }
        _ => None,
    }
}

/// The dialplan: meeting 8000 is ours, numbers starting with 0 are not.
struct Plan;

impl Admission for Plan {
    fn admit(&mut self, q: &AdmissionQuery<'_>) -> AdmissionDecision {
        match q.destination.first() {
            Some(AliasAddress::DialedDigits(d)) if d == "8000" => {
                AdmissionDecision::Allow { band_width: None }
            }
            Some(AliasAddress::DialedDigits(d)) if d.starts_with('0') => AdmissionDecision::Unknown,
            _ => AdmissionDecision::Reject(AdmissionRejectReason::CalledPartyNotRegistered),
        }
    }

    fn locate(&mut self, q: &LocationQuery<'_>) -> bool {
        q.destination
            .iter()
            .any(|a| matches!(a, AliasAddress::DialedDigits(d) if d == "8000"))
    }
}

type Dir = fn(&AliasAddress) -> Option<DirectoryEntry>;
type Gk = RasGatekeeper<Dir, Plan>;

fn gatekeeper() -> Gk {
    let mut cfg = GatekeeperConfig::new("CITY-GK", addr(GK_RAS), addr(GK_CSA));
    cfg.neighbours = vec![
        Neighbour {
            address: addr(NB_A),
            prefixes: vec!["024".into()],
            gatekeeper_identifier: Some("HANOI-GOV".into()),
            password: None,
        },
        Neighbour {
            // wants our LRQs signed (H.235.1)
            password: Some("b-secret".into()),
            ..Neighbour::new(addr(NB_B))
        },
        Neighbour {
            address: addr(NB_C),
            prefixes: vec!["9".into()],
            gatekeeper_identifier: None,
            password: None,
        },
    ];
    cfg.lrq_timeout = Duration::from_secs(3);
    RasGatekeeper::new(cfg, directory as Dir, Plan)
}

fn decode_all(out: &[(SocketAddr, Vec<u8>)]) -> Vec<(SocketAddr, RasMessage)> {
    out.iter()
        .map(|(a, b)| (*a, RasMessage::decode(b).expect("our datagram decodes")))
        .collect()
}

fn register(gk: &mut Gk, t0: Instant) -> String {
    let rrq = RasMessage::RegistrationRequest(RegistrationRequest {
        request_seq_num: 1,
        protocol_identifier: H225_PROTOCOL_V4.to_vec(),
        non_standard_data: None,
        discovery_complete: true,
        call_signal_address: vec![TransportAddress::ip([198, 51, 100, 7], 1720)],
        ras_address: vec![TransportAddress::ip([198, 51, 100, 7], 1719)],
        terminal_type: EndpointType::terminal(),
        terminal_alias: Some(vec![
            AliasAddress::H323Id("room-2001".into()),
            AliasAddress::DialedDigits("2001".into()),
        ]),
        gatekeeper_identifier: None,
        endpoint_vendor: VendorIdentifier {
            vendor: H221NonStandard {
                t35_country_code: 181,
                t35_extension: 0,
                manufacturer_code: 1,
            },
            product_id: None,
            version_id: None,
            enterprise_number: None,
        },
        time_to_live: Some(300),
        keep_alive: false,
        endpoint_identifier: None,
        will_supply_uuies: false,
        maintain_connection: false,
        additive_registration: false,
        supports_alt_gk: false,
        multiple_calls: None,
    });
    let out = decode_all(&gk.handle(t0, wall(), addr(ROOM), &rrq.encode().unwrap()));
    match &out[..] {
        [(_, RasMessage::RegistrationConfirm(r))] => r.endpoint_identifier.clone(),
        o => panic!("expected RCF, got {o:?}"),
    }
}

fn arq(seq: u16, eid: &str, digits: &str) -> Vec<u8> {
    RasMessage::AdmissionRequest(AdmissionRequest {
        request_seq_num: seq,
        call_type: CallType::PointToPoint,
        call_model: None,
        endpoint_identifier: eid.into(),
        destination_info: Some(vec![AliasAddress::DialedDigits(digits.into())]),
        dest_call_signal_address: None,
        dest_extra_call_info: None,
        src_info: vec![AliasAddress::DialedDigits("2001".into())],
        src_call_signal_address: None,
        band_width: 1280,
        call_reference_value: seq,
        non_standard_data: None,
        conference_id: [seq as u8; 16],
        active_mc: false,
        answer_call: false,
        can_map_alias: false,
        call_identifier: Some(CallIdentifier {
            guid: [seq as u8; 16],
        }),
        gatekeeper_identifier: None,
        will_supply_uuies: false,
        can_map_src_alias: false,
    })
    .encode()
    .unwrap()
}

fn lcf(seq: u16, csa: [u8; 4]) -> Vec<u8> {
    RasMessage::LocationConfirm(LocationConfirm {
        request_seq_num: seq,
        call_signal_address: TransportAddress::ip(csa, 1720),
        ras_address: TransportAddress::ip(csa, 1719),
        non_standard_data: None,
        destination_info: None,
        destination_type: None,
    })
    .encode()
    .unwrap()
}

fn lrj(seq: u16) -> Vec<u8> {
    RasMessage::LocationReject(LocationReject {
        request_seq_num: seq,
        reject_reason: LocationRejectReason::NotRegistered,
        non_standard_data: None,
    })
    .encode()
    .unwrap()
}

/// Sends an ARQ the dialplan cannot place; returns the LRQs' seq and the
/// neighbours asked, after checking the endpoint was told to wait.
fn ask(
    gk: &mut Gk,
    now: Instant,
    arq_bytes: &[u8],
    pycrate: &mut Vec<Vec<u8>>,
) -> (u16, Vec<SocketAddr>) {
    let raw = gk.handle(now, wall(), addr(ROOM), arq_bytes);
    pycrate.extend(raw.iter().map(|(_, b)| b.clone()));
    let out = decode_all(&raw);
    let (to, first) = &out[0];
    assert_eq!(*to, addr(ROOM));
    assert!(
        matches!(first, RasMessage::RequestInProgress(r) if r.delay == 4000),
        "{first:?}"
    );
    let mut seq = None;
    let mut asked = Vec::new();
    for ((to, m), (_, bytes)) in out[1..].iter().zip(&raw[1..]) {
        let RasMessage::LocationRequest(l) = m else {
            panic!("expected LRQ, got {m:?}")
        };
        let (_, sec) = RasMessage::decode_secured(bytes).unwrap();
        if *to == addr(NB_B) {
            let expect = gateway_h323::h235::Expect {
                password: "b-secret",
                aliases: &[],
                endpoint_identifier: Some("CITY-GK"),
                gatekeeper_identifier: "-",
                unix_now: 1_700_000_000,
                window: Duration::from_secs(1),
            };
            let v = gateway_h323::h235::verify(&expect, &sec, bytes)
                .unwrap_or_else(|e| panic!("our LRQ to B does not verify: {e}"));
            assert_eq!(v.method, gateway_h323::h235::AuthMethod::H2351);
        } else {
            assert_eq!(sec.crypto_tokens, None, "no password, no token");
        }
        assert_eq!(l.reply_address, TransportAddress::ip([192, 0, 2, 1], 1719));
        assert_eq!(
            l.source_info,
            Some(vec![AliasAddress::DialedDigits("2001".into())])
        );
        if *to == addr(NB_A) {
            assert_eq!(l.gatekeeper_identifier.as_deref(), Some("HANOI-GOV"));
        }
        assert!(
            seq.is_none() || seq == Some(l.request_seq_num),
            "one seq for all"
        );
        seq = Some(l.request_seq_num);
        asked.push(*to);
    }
    (seq.expect("LRQs sent"), asked)
}

#[test]
fn first_lcf_admits_the_call_directly_to_the_neighbour_zone() {
    let t0 = Instant::now();
    let mut gk = gatekeeper();
    let eid = register(&mut gk, t0);
    let mut seen = Vec::new();

    let request = arq(10, &eid, "0241234567");
    let (seq, asked) = ask(&mut gk, t0, &request, &mut seen);
    assert_eq!(
        asked,
        vec![addr(NB_A), addr(NB_B)],
        "prefix 024 and the catch-all, not 9"
    );
    assert_eq!(
        gk.poll_timeout(),
        Some(t0 + Duration::from_secs(1)),
        "the LRQs' first retransmission"
    );

    // a retransmitted ARQ is told to wait again, no LRQ repeated
    let again = decode_all(&gk.handle(t0 + Duration::from_secs(1), wall(), addr(ROOM), &request));
    assert!(
        matches!(&again[..], [(_, RasMessage::RequestInProgress(_))]),
        "{again:?}"
    );

    // answers from a host not asked, or for another LRQ, are ignored
    assert!(gk
        .handle(t0, wall(), addr(NB_C), &lcf(seq, [10, 9, 9, 9]))
        .is_empty());
    assert!(gk
        .handle(
            t0,
            wall(),
            addr(NB_A),
            &lcf(seq.wrapping_add(7), [10, 9, 9, 9])
        )
        .is_empty());

    assert!(
        gk.handle(t0, wall(), addr(NB_A), &lrj(seq)).is_empty(),
        "B still to answer"
    );
    let raw = gk.handle(t0, wall(), addr(NB_B), &lcf(seq, [10, 2, 0, 5]));
    seen.extend(raw.iter().map(|(_, b)| b.clone()));
    let out = decode_all(&raw);
    match &out[..] {
        [(to, RasMessage::AdmissionConfirm(a))] => {
            assert_eq!(*to, addr(ROOM));
            assert_eq!(a.request_seq_num, 10);
            assert_eq!(a.call_model, CallModel::Direct);
            assert_eq!(
                a.dest_call_signal_address,
                TransportAddress::ip([10, 2, 0, 5], 1720)
            );
            assert_eq!(a.band_width, 1280);
        }
        o => panic!("expected ACF, got {o:?}"),
    }
    assert_eq!(gk.registration(&eid).unwrap().calls.len(), 1);
    assert_eq!(
        gk.poll_timeout(),
        Some(gk.registration(&eid).unwrap().expires_at + Duration::from_secs(10))
    );
    // the ARQ's retransmission now gets the ACF
    let again = decode_all(&gk.handle(t0 + Duration::from_secs(2), wall(), addr(ROOM), &request));
    assert!(
        matches!(&again[..], [(_, RasMessage::AdmissionConfirm(_))]),
        "{again:?}"
    );
    // a late LCF is ignored
    assert!(gk
        .handle(t0, wall(), addr(NB_A), &lcf(seq, [10, 9, 9, 9]))
        .is_empty());

    // pycrate reads what we sent: RIP, LRQs, ACF
    let input: String = seen
        .iter()
        .enumerate()
        .map(|(i, b)| format!("m{i} {}\n", hex(b)))
        .collect();
    for r in oracle("check", &input) {
        assert!(r.get("error").is_none(), "pycrate: {r}");
    }
}

#[test]
fn all_lrj_or_silence_refuse_the_call() {
    let t0 = Instant::now();
    let mut gk = gatekeeper();
    let eid = register(&mut gk, t0);
    let mut seen = Vec::new();

    let (seq, _) = ask(&mut gk, t0, &arq(20, &eid, "0249"), &mut seen);
    assert!(gk.handle(t0, wall(), addr(NB_B), &lrj(seq)).is_empty());
    let out = decode_all(&gk.handle(t0, wall(), addr(NB_A), &lrj(seq)));
    assert!(
        matches!(&out[..], [(_, RasMessage::AdmissionReject(r))] if r.reject_reason == AdmissionRejectReason::CalledPartyNotRegistered),
        "{out:?}"
    );

    // nobody answers: refused when the wait is over, not before
    let (seq2, _) = ask(&mut gk, t0, &arq(21, &eid, "0250"), &mut seen);
    assert_ne!(seq, seq2);
    let deadline = t0 + Duration::from_secs(3);
    assert_eq!(
        gk.poll_timeout(),
        Some(t0 + Duration::from_secs(1)),
        "first retransmission"
    );
    let mut resent = Vec::new();
    while let Some(t) = gk.poll_timeout().filter(|t| *t < deadline) {
        for (to, m) in decode_all(&gk.handle_timeout(t)) {
            match m {
                RasMessage::LocationRequest(l) => resent.push((t, to, l.request_seq_num)),
                other => panic!("only LRQs before the deadline: {other:?}"),
            }
        }
    }
    let at = |s| t0 + Duration::from_secs(s);
    assert_eq!(
        resent,
        vec![(at(1), addr(NB_B), seq2), (at(2), addr(NB_B), seq2)],
        "to the one neighbour asked (0250 is not A's), every second, same \
         requestSeqNum, none at the deadline"
    );
    assert_eq!(gk.stats().lrq_retransmissions, 2);
    assert_eq!(gk.poll_timeout(), Some(deadline));
    let out = decode_all(&gk.handle_timeout(deadline));
    assert!(
        matches!(&out[..], [(to, RasMessage::AdmissionReject(r))] if *to == addr(ROOM) && r.request_seq_num == 21),
        "{out:?}"
    );
    assert!(gk.registration(&eid).unwrap().calls.is_empty());

    // a neighbour asking for more time pushes the deadline out, each
    // time it asks, to at most the LRQ timeout plus 30 s
    let (seq3, asked3) = ask(&mut gk, t0, &arq(22, &eid, "0245"), &mut seen);
    assert_eq!(asked3, vec![addr(NB_A), addr(NB_B)]);
    let rip = RasMessage::RequestInProgress(RequestInProgress {
        request_seq_num: seq3,
        non_standard_data: None,
        delay: 10_000,
    })
    .encode()
    .unwrap();
    let out = decode_all(&gk.handle(t0, wall(), addr(NB_B), &rip));
    assert!(
        matches!(&out[..], [(to, RasMessage::RequestInProgress(r))] if *to == addr(ROOM) && r.request_seq_num == 22 && r.delay == 11_000),
        "{out:?}"
    );
    assert!(
        gk.handle(t0, wall(), addr(NB_B), &rip).is_empty(),
        "the same wait again: nothing new to tell the room"
    );
    // A (024) did not answer: its LRQ goes again each second; B said it
    // is working on it, so it is not asked again before its delay is over
    for s in 1..=9 {
        let out = decode_all(&gk.handle_timeout(t0 + Duration::from_secs(s)));
        assert!(
            matches!(&out[..], [(to, RasMessage::LocationRequest(l))] if *to == addr(NB_A) && l.request_seq_num == seq3),
            "{s}: {out:?}"
        );
    }
    let rip_late = RasMessage::RequestInProgress(RequestInProgress {
        request_seq_num: seq3,
        non_standard_data: None,
        delay: 30_000,
    })
    .encode()
    .unwrap();
    // A asks for 30 s at 9 s: the wait grows to the cap (3 s + 30 s)
    let out = decode_all(&gk.handle(t0 + Duration::from_secs(9), wall(), addr(NB_A), &rip_late));
    assert!(
        matches!(&out[..], [(_, RasMessage::RequestInProgress(r))] if r.request_seq_num == 22 && r.delay == 25_000),
        "{out:?}"
    );
    assert_eq!(
        gk.poll_timeout(),
        Some(t0 + Duration::from_secs(10)),
        "B's delay ends first"
    );
    let out = decode_all(&gk.handle_timeout(t0 + Duration::from_secs(10)));
    assert!(
        matches!(&out[..], [(to, RasMessage::LocationRequest(_))] if *to == addr(NB_B)),
        "B asked again once its delay is over: {out:?}"
    );
    // more time asked past the cap changes nothing
    let out = gk.handle(t0 + Duration::from_secs(10), wall(), addr(NB_B), &rip_late);
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(gk.poll_timeout(), Some(t0 + Duration::from_secs(33)));
    assert!(gk
        .handle_timeout(t0 + Duration::from_secs(33) - Duration::from_millis(1))
        .is_empty());
    let out = decode_all(&gk.handle_timeout(t0 + Duration::from_secs(33)));
    assert!(
        matches!(&out[..], [(_, RasMessage::AdmissionReject(r))] if r.request_seq_num == 22),
        "{out:?}"
    );

    // a destination no neighbour serves is refused at once
    let out = decode_all(&gk.handle(t0, wall(), addr(ROOM), &arq(23, &eid, "#0")));
    assert!(
        matches!(&out[..], [(_, RasMessage::AdmissionReject(_))]),
        "{out:?}"
    );
}

#[test]
fn lrq_from_neighbours_is_answered_for_our_aliases_only() {
    let t0 = Instant::now();
    let mut gk = gatekeeper();
    register(&mut gk, t0);
    let lrq = |seq: u16, alias: AliasAddress, reply_port: u16| {
        RasMessage::LocationRequest(LocationRequest {
            request_seq_num: seq,
            endpoint_identifier: None,
            destination_info: vec![alias],
            non_standard_data: None,
            reply_address: TransportAddress::ip([203, 0, 113, 10], reply_port),
            source_info: Some(vec![AliasAddress::DialedDigits("0241111".into())]),
            can_map_alias: false,
            gatekeeper_identifier: Some("HANOI-GOV".into()),
            hop_count: Some(1),
            call_identifier: None,
            band_width: None,
            can_map_src_alias: false,
        })
        .encode()
        .unwrap()
    };
    let mut seen = Vec::new();
    let mut ask = |gk: &mut Gk, from: &str, b: Vec<u8>| {
        let raw = gk.handle(t0, wall(), addr(from), &b);
        seen.extend(raw.iter().map(|(_, b)| b.clone()));
        decode_all(&raw)
    };
    // a registered room, by either alias: LCF with our call-signalling
    // address, to the LRQ's replyAddress on the neighbour's host
    for (seq, alias) in [
        (1, AliasAddress::H323Id("room-2001".into())),
        (2, AliasAddress::DialedDigits("2001".into())),
        (3, AliasAddress::DialedDigits("8000".into())),
    ] {
        let out = ask(&mut gk, "203.0.113.10:40000", lrq(seq, alias, 1719));
        match &out[..] {
            [(to, RasMessage::LocationConfirm(l))] => {
                assert_eq!(*to, addr(NB_A));
                assert_eq!(
                    l.call_signal_address,
                    TransportAddress::ip([192, 0, 2, 1], 1720)
                );
                assert_eq!(l.request_seq_num, seq);
            }
            o => panic!("{seq}: expected LCF, got {o:?}"),
        }
    }
    // not ours
    let out = ask(
        &mut gk,
        NB_A,
        lrq(4, AliasAddress::DialedDigits("0249".into()), 1719),
    );
    assert!(
        matches!(&out[..], [(_, RasMessage::LocationReject(r))] if r.reject_reason == LocationRejectReason::NotRegistered),
        "{out:?}"
    );
    // a stranger learns nothing, and a replyAddress elsewhere is not used
    let out = ask(
        &mut gk,
        "198.51.100.99:1719",
        lrq(5, AliasAddress::DialedDigits("2001".into()), 1719),
    );
    match &out[..] {
        [(to, RasMessage::LocationReject(r))] => {
            assert_eq!(*to, addr("198.51.100.99:1719"));
            assert_eq!(r.reject_reason, LocationRejectReason::RequestDenied);
        }
        o => panic!("expected LRJ, got {o:?}"),
    }
    let input: String = seen
        .iter()
        .enumerate()
        .map(|(i, b)| format!("m{i} {}\n", hex(b)))
        .collect();
    for r in oracle("check", &input) {
        assert!(r.get("error").is_none(), "pycrate: {r}");
    }
}
