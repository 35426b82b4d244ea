//! RasGatekeeper against an endpoint simulator built with the crate's own
//! RAS encoders, on a virtual clock; everything the gatekeeper sends is
//! also decoded by pycrate.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{hex, oracle};
use gateway_h323::gatekeeper::*;
use gateway_h323::h225::*;

const GK_RAS: &str = "192.0.2.1:1719";
const GK_CSA: &str = "192.0.2.1:1720";
const ROOM: &str = "198.51.100.7:1719";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// The wall clock H.235 timestamps are checked against.
fn wall() -> std::time::SystemTime {
    std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

fn directory(alias: &AliasAddress) -> Option<DirectoryEntry> {
    let entry = |id: &str, vetted: bool, password: Option<&str>| DirectoryEntry {
        endpoint_id: id.into(),
        vetted,
        password: password.map(Into::into),
    };
    match alias {
        AliasAddress::H323Id(s) if s == "room-2001" => Some(entry("2001", true, None)),
        AliasAddress::DialedDigits(s) if s == "2001" => Some(entry("2001", true, None)),
        AliasAddress::DialedDigits(s) if s == "2002" => Some(entry("2002", true, None)),
        AliasAddress::H323Id(s) if s == "room-unvetted" => Some(entry("2009", false, None)),
        AliasAddress::H323Id(s) if s == "room-secret" => Some(entry("2010", true, Some("pw"))),
        _ => None,
    }
}

type Dir = fn(&AliasAddress) -> Option<DirectoryEntry>;

fn admission(q: &AdmissionQuery<'_>) -> AdmissionDecision {
    if q.answer_call {
        return AdmissionDecision::Allow { band_width: None };
    }
    match q.destination.first() {
        Some(AliasAddress::DialedDigits(d)) if d == "1001" || d == "8000" => {
            AdmissionDecision::Allow {
                band_width: Some(7680),
            }
        }
        _ => AdmissionDecision::Reject(AdmissionRejectReason::CalledPartyNotRegistered),
    }
}

type Adm = fn(&AdmissionQuery<'_>) -> AdmissionDecision;

fn gatekeeper() -> RasGatekeeper<Dir, Adm> {
    let mut cfg = GatekeeperConfig::new("CITY-GK", addr(GK_RAS), addr(GK_CSA));
    cfg.min_ttl = Duration::from_secs(30);
    cfg.ttl_grace = Duration::from_secs(5);
    RasGatekeeper::new(cfg, directory as Dir, admission as Adm)
}

fn vendor() -> VendorIdentifier {
    VendorIdentifier {
        vendor: H221NonStandard {
            t35_country_code: 181,
            t35_extension: 0,
            manufacturer_code: 0x2331,
        },
        product_id: Some(b"HDX 8000".to_vec()),
        version_id: Some(b"3.1.14".to_vec()),
        enterprise_number: None,
    }
}

/// An H.323 room system as far as RAS goes.
struct Endpoint {
    ras: SocketAddr,
    seq: u16,
    aliases: Vec<AliasAddress>,
    endpoint_identifier: Option<String>,
    /// Every datagram the gatekeeper sent, for the pycrate check.
    received: Vec<Vec<u8>>,
}

impl Endpoint {
    fn new(ras: &str, aliases: Vec<AliasAddress>) -> Self {
        Endpoint {
            ras: addr(ras),
            seq: 0,
            aliases,
            endpoint_identifier: None,
            received: Vec::new(),
        }
    }

    fn next_seq(&mut self) -> u16 {
        self.seq += 1;
        self.seq
    }

    fn ask_bytes(
        &mut self,
        gk: &mut RasGatekeeper<Dir, Adm>,
        now: Instant,
        bytes: &[u8],
    ) -> Option<RasMessage> {
        let out = gk.handle(now, wall(), self.ras, bytes);
        assert!(out.len() <= 1, "one answer per request");
        let (to, b) = out.into_iter().next()?;
        assert_eq!(to, self.ras, "answers go to the source address");
        self.received.push(b.clone());
        Some(RasMessage::decode(&b).expect("the gatekeeper's answer decodes"))
    }

    fn ask(&mut self, gk: &mut RasGatekeeper<Dir, Adm>, now: Instant, m: RasMessage) -> RasMessage {
        let b = m.encode().unwrap();
        self.ask_bytes(gk, now, &b).expect("an answer")
    }

    fn grq(&mut self) -> RasMessage {
        RasMessage::GatekeeperRequest(GatekeeperRequest {
            request_seq_num: self.next_seq(),
            protocol_identifier: H225_PROTOCOL_V4.to_vec(),
            non_standard_data: None,
            ras_address: TransportAddress::ip([198, 51, 100, 7], 1719),
            endpoint_type: EndpointType::terminal(),
            gatekeeper_identifier: None,
            endpoint_alias: Some(self.aliases.clone()),
            supports_alt_gk: false,
        })
    }

    fn rrq(&mut self, keep_alive: bool, ttl: u32) -> RasMessage {
        RasMessage::RegistrationRequest(RegistrationRequest {
            request_seq_num: self.next_seq(),
            protocol_identifier: H225_PROTOCOL_V4.to_vec(),
            non_standard_data: None,
            discovery_complete: true,
            call_signal_address: vec![TransportAddress::ip([198, 51, 100, 7], 1720)],
            ras_address: vec![TransportAddress::ip([198, 51, 100, 7], 1719)],
            terminal_type: EndpointType {
                vendor: Some(vendor()),
                terminal: true,
                ..Default::default()
            },
            terminal_alias: (!keep_alive).then(|| self.aliases.clone()),
            gatekeeper_identifier: Some("CITY-GK".into()),
            endpoint_vendor: vendor(),
            time_to_live: Some(ttl),
            keep_alive,
            endpoint_identifier: if keep_alive {
                self.endpoint_identifier.clone()
            } else {
                None
            },
            will_supply_uuies: false,
            maintain_connection: false,
            additive_registration: false,
            supports_alt_gk: false,
            multiple_calls: Some(false),
        })
    }

    fn arq(&mut self, dialled: &str, answer: bool) -> RasMessage {
        RasMessage::AdmissionRequest(AdmissionRequest {
            request_seq_num: self.next_seq(),
            call_type: CallType::PointToPoint,
            call_model: Some(CallModel::Direct),
            endpoint_identifier: self.endpoint_identifier.clone().unwrap_or("nobody".into()),
            destination_info: Some(vec![AliasAddress::DialedDigits(dialled.into())]),
            dest_call_signal_address: None,
            dest_extra_call_info: None,
            src_info: self.aliases.clone(),
            src_call_signal_address: Some(TransportAddress::ip([198, 51, 100, 7], 1720)),
            band_width: 15360,
            call_reference_value: 42,
            non_standard_data: None,
            conference_id: [7; 16],
            active_mc: false,
            answer_call: answer,
            can_map_alias: true,
            call_identifier: Some(CallIdentifier { guid: [9; 16] }),
            gatekeeper_identifier: None,
            will_supply_uuies: false,
            can_map_src_alias: false,
        })
    }

    fn drq(&mut self) -> RasMessage {
        RasMessage::DisengageRequest(DisengageRequest {
            request_seq_num: self.next_seq(),
            endpoint_identifier: self.endpoint_identifier.clone().unwrap(),
            conference_id: [7; 16],
            call_reference_value: 42,
            disengage_reason: DisengageReason::NormalDrop,
            non_standard_data: None,
            call_identifier: Some(CallIdentifier { guid: [9; 16] }),
            gatekeeper_identifier: None,
            answered_call: false,
        })
    }

    fn urq(&mut self) -> RasMessage {
        RasMessage::UnregistrationRequest(UnregistrationRequest {
            request_seq_num: self.next_seq(),
            call_signal_address: vec![TransportAddress::ip([198, 51, 100, 7], 1720)],
            endpoint_alias: None,
            non_standard_data: None,
            endpoint_identifier: self.endpoint_identifier.clone(),
            gatekeeper_identifier: None,
            reason: None,
        })
    }
}

fn room() -> Endpoint {
    Endpoint::new(
        ROOM,
        vec![
            AliasAddress::H323Id("room-2001".into()),
            AliasAddress::DialedDigits("2001".into()),
            AliasAddress::EmailId("unknown@example.org".into()),
        ],
    )
}

#[test]
fn room_registers_keeps_alive_is_admitted_and_disengages() {
    let t0 = Instant::now();
    let mut gk = gatekeeper();
    let mut ep = room();

    let grq = ep.grq();
    match ep.ask(&mut gk, t0, grq) {
        RasMessage::GatekeeperConfirm(c) => {
            assert_eq!(c.gatekeeper_identifier.as_deref(), Some("CITY-GK"));
            assert_eq!(c.ras_address, TransportAddress::ip([192, 0, 2, 1], 1719));
        }
        m => panic!("expected GCF, got {m:?}"),
    }

    // full registration, asking 60 s
    let rrq = ep.rrq(false, 60).encode().unwrap();
    let rcf = match ep.ask_bytes(&mut gk, t0, &rrq).unwrap() {
        RasMessage::RegistrationConfirm(c) => c,
        m => panic!("expected RCF, got {m:?}"),
    };
    assert_eq!(rcf.time_to_live, Some(60));
    assert_eq!(
        rcf.call_signal_address,
        vec![TransportAddress::ip([192, 0, 2, 1], 1720)]
    );
    assert_eq!(
        rcf.terminal_alias.as_deref(),
        Some(&ep.aliases[..2]),
        "only the aliases the dialplan knows are confirmed"
    );
    ep.endpoint_identifier = Some(rcf.endpoint_identifier.clone());
    match gk.poll_event() {
        Some(GatekeeperEvent::Registered(r)) => {
            assert_eq!(r.directory_id, "2001");
            assert_eq!(r.vendor, vendor(), "vendor goes to the device inventory");
            assert_eq!(r.endpoint_identifier, rcf.endpoint_identifier);
        }
        e => panic!("expected Registered, got {e:?}"),
    }

    // a retransmitted RRQ is answered from the cache, not registered twice
    let again = ep
        .ask_bytes(&mut gk, t0 + Duration::from_secs(2), &rrq)
        .unwrap();
    assert_eq!(again, RasMessage::RegistrationConfirm(rcf.clone()));
    assert_eq!(gk.stats().duplicates, 1);
    assert_eq!(gk.registrations().count(), 1);
    assert_eq!(gk.poll_event(), None);

    assert_eq!(
        gk.lookup_alias(&AliasAddress::DialedDigits("2001".into()))
            .map(|r| r.directory_id.as_str()),
        Some("2001")
    );
    assert_eq!(gk.poll_timeout(), Some(t0 + Duration::from_secs(65)));

    // lightweight re-registration before the TTL ends
    let t1 = t0 + Duration::from_secs(50);
    let keep = ep.rrq(true, 60);
    match ep.ask(&mut gk, t1, keep) {
        RasMessage::RegistrationConfirm(c) => {
            assert_eq!(c.endpoint_identifier, rcf.endpoint_identifier);
            assert_eq!(c.terminal_alias, None);
        }
        m => panic!("expected RCF to keep-alive, got {m:?}"),
    }
    assert_eq!(gk.poll_timeout(), Some(t1 + Duration::from_secs(65)));
    gk.handle_timeout(t0 + Duration::from_secs(70));
    assert_eq!(gk.registrations().count(), 1, "the keep-alive moved expiry");

    // admission: allowed and rejected by the dialplan
    let arq = ep.arq("1001", false);
    match ep.ask(&mut gk, t1, arq) {
        RasMessage::AdmissionConfirm(c) => {
            assert_eq!(c.call_model, CallModel::GatekeeperRouted);
            assert_eq!(
                c.dest_call_signal_address,
                TransportAddress::ip([192, 0, 2, 1], 1720),
                "gatekeeper-routed: calls come to us"
            );
            assert_eq!(c.band_width, 7680, "the dialplan's cap");
        }
        m => panic!("expected ACF, got {m:?}"),
    }
    let arq = ep.arq("666", false);
    match ep.ask(&mut gk, t1, arq) {
        RasMessage::AdmissionReject(r) => {
            assert_eq!(
                r.reject_reason,
                AdmissionRejectReason::CalledPartyNotRegistered
            )
        }
        m => panic!("expected ARJ, got {m:?}"),
    }
    let reg = gk.registration(&rcf.endpoint_identifier).unwrap();
    assert_eq!(reg.calls.len(), 1);

    // bandwidth change, then disengage
    let brq = RasMessage::BandwidthRequest(BandwidthRequest {
        request_seq_num: ep.next_seq(),
        endpoint_identifier: rcf.endpoint_identifier.clone(),
        conference_id: [7; 16],
        call_reference_value: 42,
        call_type: None,
        band_width: 100_000,
        non_standard_data: None,
        call_identifier: Some(CallIdentifier { guid: [9; 16] }),
        answered_call: false,
    });
    match ep.ask(&mut gk, t1, brq) {
        RasMessage::BandwidthConfirm(c) => assert_eq!(c.band_width, 40_960),
        m => panic!("expected BCF, got {m:?}"),
    }
    let drq = ep.drq();
    assert!(matches!(
        ep.ask(&mut gk, t1, drq),
        RasMessage::DisengageConfirm(_)
    ));
    assert!(gk
        .registration(&rcf.endpoint_identifier)
        .unwrap()
        .calls
        .is_empty());

    // IRR asking for a response gets an InfoRequestAck
    let irr = RasMessage::InfoRequestResponse(InfoRequestResponse {
        non_standard_data: None,
        request_seq_num: ep.next_seq(),
        endpoint_type: EndpointType::terminal(),
        endpoint_identifier: rcf.endpoint_identifier.clone(),
        ras_address: TransportAddress::ip([198, 51, 100, 7], 1719),
        call_signal_address: vec![TransportAddress::ip([198, 51, 100, 7], 1720)],
        endpoint_alias: None,
        per_call_info: None,
        need_response: true,
        unsolicited: true,
    });
    match ep.ask(&mut gk, t1, irr) {
        RasMessage::Other { ext_index: 3, .. } => {}
        m => panic!("expected infoRequestAck, got {m:?}"),
    }
    let (to, irq) = gk.info_request(&rcf.endpoint_identifier, 0).unwrap();
    assert_eq!(to, addr(ROOM));
    assert!(matches!(
        RasMessage::decode(&irq).unwrap(),
        RasMessage::InfoRequest(_)
    ));
    ep.received.push(irq);

    // no keep-alive any more: the registration expires
    let deadline = gk.poll_timeout().unwrap();
    gk.handle_timeout(deadline - Duration::from_millis(1));
    assert_eq!(gk.registrations().count(), 1);
    gk.handle_timeout(deadline);
    assert_eq!(gk.registrations().count(), 0);
    assert_eq!(
        gk.poll_event(),
        Some(GatekeeperEvent::Unregistered {
            endpoint_identifier: rcf.endpoint_identifier.clone(),
            directory_id: "2001".into(),
            cause: UnregisterCause::Expired,
        })
    );
    let arq = ep.arq("1001", false);
    match ep.ask(&mut gk, deadline, arq) {
        RasMessage::AdmissionReject(r) => {
            assert_eq!(r.reject_reason, AdmissionRejectReason::CallerNotRegistered)
        }
        m => panic!("expected ARJ, got {m:?}"),
    }
    let keep = ep.rrq(true, 60);
    match ep.ask(&mut gk, deadline, keep) {
        RasMessage::RegistrationReject(r) => {
            assert_eq!(
                r.reject_reason,
                RegistrationRejectReason::FullRegistrationRequired
            )
        }
        m => panic!("expected RRJ, got {m:?}"),
    }

    // register again and leave properly
    let rrq = ep.rrq(false, 600);
    let RasMessage::RegistrationConfirm(c) = ep.ask(&mut gk, deadline, rrq) else {
        panic!("expected RCF")
    };
    assert_eq!(c.time_to_live, Some(600));
    assert_ne!(
        c.endpoint_identifier, rcf.endpoint_identifier,
        "fresh identifier"
    );
    ep.endpoint_identifier = Some(c.endpoint_identifier);
    let urq = ep.urq();
    assert!(matches!(
        ep.ask(&mut gk, deadline, urq),
        RasMessage::UnregistrationConfirm(_)
    ));
    let urq = ep.urq();
    match ep.ask(&mut gk, deadline, urq) {
        RasMessage::UnregistrationReject(r) => {
            assert_eq!(r.reject_reason, UnregRejectReason::NotCurrentlyRegistered)
        }
        m => panic!("expected URJ, got {m:?}"),
    }
    assert_eq!(gk.stats().malformed, 0);

    // everything the gatekeeper sent decodes in pycrate as the same message
    let input: String = ep
        .received
        .iter()
        .enumerate()
        .map(|(i, b)| format!("m{i} {}\n", hex(b)))
        .collect();
    let results = oracle("check", &input);
    assert_eq!(results.len(), ep.received.len());
    for (res, b) in results.iter().zip(&ep.received) {
        assert!(res.get("error").is_none(), "pycrate: {res} for {}", hex(b));
        let ours = RasMessage::decode(b).unwrap();
        let name = res.pointer("/value/0").and_then(|v| v.as_str()).unwrap();
        let expected = match &ours {
            RasMessage::Other { ext_index: 3, .. } => "infoRequestAck",
            m => m.name(),
        };
        assert_eq!(name, expected);
    }
}

#[test]
fn unknown_unvetted_and_password_endpoints_are_refused_with_their_reasons() {
    let t0 = Instant::now();
    let mut gk = gatekeeper();
    let cases = [
        (
            "unknown",
            vec![AliasAddress::H323Id("stranger".into())],
            RegistrationRejectReason::InvalidAlias,
        ),
        (
            "unvetted",
            vec![AliasAddress::H323Id("room-unvetted".into())],
            RegistrationRejectReason::SecurityDenial,
        ),
        (
            "password",
            vec![AliasAddress::H323Id("room-secret".into())],
            RegistrationRejectReason::SecurityDenial,
        ),
        (
            "two endpoints",
            vec![
                AliasAddress::DialedDigits("2001".into()),
                AliasAddress::DialedDigits("2002".into()),
            ],
            RegistrationRejectReason::InvalidAlias,
        ),
    ];
    for (label, aliases, reason) in cases {
        let mut ep = Endpoint::new(ROOM, aliases);
        let rrq = ep.rrq(false, 60);
        match ep.ask(&mut gk, t0, rrq) {
            RasMessage::RegistrationReject(r) => assert_eq!(r.reject_reason, reason, "{label}"),
            m => panic!("{label}: expected RRJ, got {m:?}"),
        }
    }
    let mut stranger = Endpoint::new(ROOM, vec![AliasAddress::H323Id("stranger".into())]);
    let grq = stranger.grq();
    match stranger.ask(&mut gk, t0, grq) {
        RasMessage::GatekeeperReject(r) => {
            assert_eq!(r.reject_reason, GatekeeperRejectReason::TerminalExcluded)
        }
        m => panic!("expected GRJ, got {m:?}"),
    }
    assert_eq!(gk.registrations().count(), 0);
    // the password endpoint's RRQ carried no H.235 token
    match gk.poll_event() {
        Some(GatekeeperEvent::AuthenticationFailed {
            directory_id,
            request,
            error,
            ..
        }) => {
            assert_eq!(
                (directory_id.as_str(), request),
                ("2010", "registrationRequest")
            );
            assert_eq!(error, gateway_h323::h235::AuthError::Missing);
        }
        e => panic!("expected an authentication failure, got {e:?}"),
    }
    assert_eq!(gk.poll_event(), None);

    // the real room registers; the same aliases from another host are a
    // duplicate, and that host cannot act for the registered endpoint
    let mut ep = room();
    let rrq = ep.rrq(false, 60);
    let RasMessage::RegistrationConfirm(c) = ep.ask(&mut gk, t0, rrq) else {
        panic!("expected RCF")
    };
    let mut impostor = room();
    impostor.ras = addr("203.0.113.66:1719");
    let rrq = impostor.rrq(false, 60);
    match impostor.ask(&mut gk, t0, rrq) {
        RasMessage::RegistrationReject(r) => assert!(
            matches!(r.reject_reason, RegistrationRejectReason::DuplicateAlias(_)),
            "{r:?}"
        ),
        m => panic!("expected RRJ, got {m:?}"),
    }
    impostor.endpoint_identifier = Some(c.endpoint_identifier.clone());
    let arq = impostor.arq("1001", false);
    match impostor.ask(&mut gk, t0, arq) {
        RasMessage::AdmissionReject(r) => {
            assert_eq!(
                r.reject_reason,
                AdmissionRejectReason::InvalidEndpointIdentifier
            )
        }
        m => panic!("expected ARJ, got {m:?}"),
    }
    let urq = impostor.urq();
    match impostor.ask(&mut gk, t0, urq) {
        RasMessage::UnregistrationReject(r) => {
            assert_eq!(r.reject_reason, UnregRejectReason::PermissionDenied)
        }
        m => panic!("expected URJ, got {m:?}"),
    }
    // the room reboots (same host, full RRQ): the old registration is replaced
    let mut rebooted = room();
    rebooted.seq = 100;
    let rrq = rebooted.rrq(false, 60);
    assert!(matches!(
        rebooted.ask(&mut gk, t0, rrq),
        RasMessage::RegistrationConfirm(_)
    ));
    assert_eq!(gk.registrations().count(), 1);
    let events: Vec<_> = std::iter::from_fn(|| gk.poll_event()).collect();
    assert!(events.iter().any(|e| matches!(
        e,
        GatekeeperEvent::Unregistered {
            cause: UnregisterCause::Replaced,
            ..
        }
    )));
}

#[test]
fn malformed_datagrams_are_counted_and_never_answered() {
    let t0 = Instant::now();
    let mut gk = gatekeeper();
    let mut ep = room();
    let rrq = ep.rrq(false, 60).encode().unwrap();
    assert!(gk.handle(t0, wall(), ep.ras, &[]).is_empty());
    assert!(gk.handle(t0, wall(), ep.ras, &[0xFF; 7]).is_empty());
    let mut malformed = 2;
    // every truncation and many bit flips of a real RRQ: no panic, and no
    // answer unless the result still decodes
    for n in 0..rrq.len() {
        let out = gk.handle(t0, wall(), addr("203.0.113.9:1719"), &rrq[..n]);
        if RasMessage::decode(&rrq[..n]).is_err() {
            assert!(out.is_empty());
            malformed += 1;
        }
    }
    for i in 0..rrq.len() * 8 {
        let mut b = rrq.clone();
        b[i / 8] ^= 0x80 >> (i % 8);
        let out = gk.handle(t0, wall(), addr("203.0.113.9:1719"), &b);
        if RasMessage::decode(&b).is_err() {
            assert!(out.is_empty());
            malformed += 1;
        }
    }
    assert_eq!(gk.stats().malformed, malformed);
}
