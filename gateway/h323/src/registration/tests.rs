use super::*;
use crate::h235::{AuthMethod, Expect};

const GK: &str = "203.0.113.5:1719";
const TS: u64 = 1_700_000_000;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn wall() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(TS)
}

fn aliases() -> Vec<AliasAddress> {
    vec![
        AliasAddress::H323Id("city-gateway".into()),
        AliasAddress::DialedDigits("8400".into()),
    ]
}

fn config() -> OutsideGatekeeperConfig {
    let mut c = OutsideGatekeeperConfig::new(
        addr(GK),
        addr("192.0.2.1:1719"),
        addr("192.0.2.1:1720"),
        aliases(),
        VendorIdentifier {
            vendor: H221NonStandard {
                t35_country_code: 0xB5,
                t35_extension: 0,
                manufacturer_code: 0,
            },
            product_id: Some(b"gateway".to_vec()),
            version_id: None,
            enterprise_number: None,
        },
    );
    c.prefixes = vec!["84".into()];
    c.time_to_live = Duration::from_secs(120);
    c
}

fn one(out: Vec<(SocketAddr, Vec<u8>)>) -> (SocketAddr, RasMessage, RasSecurity, Vec<u8>) {
    assert_eq!(out.len(), 1, "one datagram: {out:?}");
    let (to, b) = out.into_iter().next().unwrap();
    let (m, sec) = RasMessage::decode_secured(&b).unwrap();
    (to, m, sec, b)
}

fn gcf(seq: u16, gk_id: &str, sec: &RasSecurity) -> Vec<u8> {
    RasMessage::GatekeeperConfirm(GatekeeperConfirm {
        request_seq_num: seq,
        protocol_identifier: H225_PROTOCOL_V4.to_vec(),
        non_standard_data: None,
        gatekeeper_identifier: Some(gk_id.into()),
        ras_address: TransportAddress::ip([203, 0, 113, 5], 1719),
    })
    .encode_secured(sec)
    .unwrap()
}

fn rcf(seq: u16, eid: &str, ttl: u32) -> Vec<u8> {
    RasMessage::RegistrationConfirm(RegistrationConfirm {
        request_seq_num: seq,
        protocol_identifier: H225_PROTOCOL_V4.to_vec(),
        non_standard_data: None,
        call_signal_address: vec![],
        terminal_alias: None,
        gatekeeper_identifier: Some("CARRIER-GK".into()),
        endpoint_identifier: eid.into(),
        time_to_live: Some(ttl),
        will_respond_to_irr: false,
        pre_granted_arq: None,
        maintain_connection: false,
        supports_additive_registration: false,
    })
    .encode()
    .unwrap()
}

/// Discovery and registration; returns the registration and the time.
fn registered(cfg: OutsideGatekeeperConfig) -> (OutsideRegistration, Instant) {
    let t0 = Instant::now();
    let mut r = OutsideRegistration::new(cfg, t0);
    assert_eq!(r.poll_timeout(), Some(t0));
    let (to, grq, _, _) = one(r.handle_timeout(t0, wall()));
    assert_eq!(to, addr(GK));
    let RasMessage::GatekeeperRequest(grq) = grq else {
        panic!("expected GRQ, got {grq:?}")
    };
    let (_, rrq, _, _) = one(r
        .handle(
            t0,
            wall(),
            addr(GK),
            &gcf(grq.request_seq_num, "CARRIER-GK", &RasSecurity::default()),
        )
        .unwrap());
    let RasMessage::RegistrationRequest(rrq) = rrq else {
        panic!("expected RRQ, got {rrq:?}")
    };
    assert!(r
        .handle(
            t0,
            wall(),
            addr(GK),
            &rcf(rrq.request_seq_num, "CARRIER-GK-42", 120)
        )
        .unwrap()
        .is_empty());
    assert!(r.is_registered());
    (r, t0)
}

#[test]
fn discovers_registers_as_a_gateway_and_keeps_alive() {
    let t0 = Instant::now();
    let mut r = OutsideRegistration::new(config(), t0);
    let (_, grq, sec, _) = one(r.handle_timeout(t0, wall()));
    let RasMessage::GatekeeperRequest(grq) = grq else {
        panic!()
    };
    assert_eq!(grq.endpoint_alias, Some(aliases()));
    assert_eq!(grq.ras_address, TransportAddress::ip([192, 0, 2, 1], 1719));
    let gw = grq.endpoint_type.gateway.as_ref().expect("a gateway");
    let protocols = gw.protocol.as_ref().unwrap();
    assert!(protocols
        .iter()
        .all(|p| p.prefixes == vec![AliasAddress::DialedDigits("84".into())]));
    assert!(sec.is_empty(), "no password: no H.235 offer");

    // the answer to the GCF is a full RRQ naming the gatekeeper
    let out = r
        .handle(
            t0,
            wall(),
            addr(GK),
            &gcf(grq.request_seq_num, "CARRIER-GK", &RasSecurity::default()),
        )
        .unwrap();
    let (to, rrq, _, _) = one(out);
    assert_eq!(to, addr(GK));
    let RasMessage::RegistrationRequest(rrq) = rrq else {
        panic!()
    };
    assert!(!rrq.keep_alive && rrq.discovery_complete);
    assert_eq!(rrq.terminal_alias, Some(aliases()));
    assert_eq!(rrq.gatekeeper_identifier.as_deref(), Some("CARRIER-GK"));
    assert_eq!(rrq.time_to_live, Some(120));
    assert_eq!(
        rrq.call_signal_address,
        vec![TransportAddress::ip([192, 0, 2, 1], 1720)]
    );
    // a stale or foreign answer is not ours
    assert!(r
        .handle(
            t0,
            wall(),
            addr("198.51.100.1:1719"),
            &rcf(rrq.request_seq_num, "X", 60)
        )
        .is_none());
    assert!(r
        .handle(t0, wall(), addr(GK), &rcf(rrq.request_seq_num + 9, "X", 60))
        .is_none());

    assert!(r
        .handle(
            t0,
            wall(),
            addr(GK),
            &rcf(rrq.request_seq_num, "CARRIER-GK-42", 60)
        )
        .unwrap()
        .is_empty());
    assert_eq!(
        r.poll_event(),
        Some(OutsideGatekeeperEvent::Registered {
            gatekeeper_identifier: Some("CARRIER-GK".into()),
            endpoint_identifier: "CARRIER-GK-42".into(),
            time_to_live: Duration::from_secs(60),
        })
    );
    // keep-alive at three quarters of the granted 60 s, not before
    let refresh = t0 + Duration::from_secs(45);
    assert_eq!(r.poll_timeout(), Some(refresh));
    assert!(r
        .handle_timeout(refresh - Duration::from_millis(1), wall())
        .is_empty());
    let (_, ka, _, _) = one(r.handle_timeout(refresh, wall()));
    let RasMessage::RegistrationRequest(ka) = ka else {
        panic!()
    };
    assert!(ka.keep_alive);
    assert_eq!(ka.endpoint_identifier.as_deref(), Some("CARRIER-GK-42"));
    assert_eq!(ka.terminal_alias, None);
    assert!(r
        .handle(
            refresh,
            wall(),
            addr(GK),
            &rcf(ka.request_seq_num, "CARRIER-GK-42", 60)
        )
        .unwrap()
        .is_empty());
    assert_eq!(r.poll_event(), None, "a refresh is not a new registration");
    assert_eq!(r.poll_timeout(), Some(refresh + Duration::from_secs(45)));
}

#[test]
fn unanswered_requests_are_retransmitted_then_retried_later() {
    let t0 = Instant::now();
    let mut cfg = config();
    cfg.retry_interval = Duration::from_secs(30);
    let mut r = OutsideRegistration::new(cfg, t0);
    let (_, _, _, first) = one(r.handle_timeout(t0, wall()));
    for i in 1..3u64 {
        let at = t0 + Duration::from_secs(3 * i);
        assert_eq!(r.poll_timeout(), Some(at));
        let (_, _, _, again) = one(r.handle_timeout(at, wall()));
        assert_eq!(again, first, "a retransmission is the same datagram");
    }
    assert!(r
        .handle_timeout(t0 + Duration::from_secs(9), wall())
        .is_empty());
    assert_eq!(
        r.poll_event(),
        Some(OutsideGatekeeperEvent::Unanswered {
            request: "gatekeeperRequest"
        })
    );
    assert_eq!(r.poll_timeout(), Some(t0 + Duration::from_secs(39)));
    let (_, grq, _, b) = one(r.handle_timeout(t0 + Duration::from_secs(39), wall()));
    assert!(matches!(grq, RasMessage::GatekeeperRequest(_)));
    assert_ne!(b, first, "a new request, a new sequence number");
}

#[test]
fn lost_registrations_are_made_again() {
    // keep-alive unanswered: discovery again at once
    let (mut r, t0) = registered(config());
    r.poll_event();
    let refresh = t0 + Duration::from_secs(90);
    one(r.handle_timeout(refresh, wall()));
    for i in 1..=2 {
        one(r.handle_timeout(refresh + Duration::from_secs(3 * i), wall()));
    }
    let out = r.handle_timeout(refresh + Duration::from_secs(9), wall());
    let (_, grq, _, _) = one(out);
    assert!(matches!(grq, RasMessage::GatekeeperRequest(_)), "{grq:?}");
    assert!(!r.is_registered());
    assert_eq!(
        r.poll_event(),
        Some(OutsideGatekeeperEvent::Unanswered {
            request: "registrationRequest"
        })
    );
    assert_eq!(
        r.poll_event(),
        Some(OutsideGatekeeperEvent::Lost {
            reason: "keep-alive unanswered"
        })
    );

    // keep-alive refused (the gatekeeper restarted): a full RRQ at once
    let (mut r, t0) = registered(config());
    let refresh = t0 + Duration::from_secs(90);
    let (_, ka, _, _) = one(r.handle_timeout(refresh, wall()));
    let rrj = RasMessage::RegistrationReject(RegistrationReject {
        request_seq_num: match ka {
            RasMessage::RegistrationRequest(k) => k.request_seq_num,
            _ => panic!(),
        },
        protocol_identifier: H225_PROTOCOL_V4.to_vec(),
        non_standard_data: None,
        reject_reason: RegistrationRejectReason::FullRegistrationRequired,
        gatekeeper_identifier: None,
    })
    .encode()
    .unwrap();
    let (_, full, _, _) = one(r.handle(refresh, wall(), addr(GK), &rrj).unwrap());
    assert!(
        matches!(&full, RasMessage::RegistrationRequest(f) if !f.keep_alive && f.terminal_alias.is_some()),
        "{full:?}"
    );

    // the gatekeeper unregisters us: UCF, then discovery
    let (mut r, t0) = registered(config());
    let urq = RasMessage::UnregistrationRequest(UnregistrationRequest {
        request_seq_num: 77,
        call_signal_address: vec![TransportAddress::ip([192, 0, 2, 1], 1720)],
        endpoint_alias: None,
        non_standard_data: None,
        endpoint_identifier: Some("CARRIER-GK-42".into()),
        gatekeeper_identifier: None,
        reason: Some(UnregRequestReason::Maintenance),
    })
    .encode()
    .unwrap();
    let out = r.handle(t0, wall(), addr(GK), &urq).unwrap();
    let msgs: Vec<RasMessage> = out
        .iter()
        .map(|(_, b)| RasMessage::decode(b).unwrap())
        .collect();
    assert!(
        matches!(&msgs[..], [RasMessage::UnregistrationConfirm(u), RasMessage::GatekeeperRequest(_)] if u.request_seq_num == 77),
        "{msgs:?}"
    );
    assert!(!r.is_registered());
}

#[test]
fn shutdown_unregisters_once() {
    let (mut r, t0) = registered(config());
    r.poll_event();
    let (to, urq, _, _) = one(r.shutdown(wall()));
    assert_eq!(to, addr(GK));
    let RasMessage::UnregistrationRequest(urq) = urq else {
        panic!()
    };
    assert_eq!(urq.endpoint_identifier.as_deref(), Some("CARRIER-GK-42"));
    assert_eq!(urq.gatekeeper_identifier.as_deref(), Some("CARRIER-GK"));
    assert_eq!(r.poll_event(), Some(OutsideGatekeeperEvent::Unregistered));
    assert_eq!(r.poll_timeout(), None);
    assert!(r.shutdown(wall()).is_empty());
    assert!(r.handle(t0, wall(), addr(GK), &rcf(1, "x", 60)).is_none());
    // not registered: nothing to send
    let mut fresh = OutsideRegistration::new(config(), t0);
    assert!(fresh.shutdown(wall()).is_empty());
}

#[test]
fn answers_the_gatekeepers_irq() {
    let (mut r, t0) = registered(config());
    let irq = RasMessage::InfoRequest(InfoRequest {
        request_seq_num: 5,
        call_reference_value: 0,
        non_standard_data: None,
        reply_address: None,
        call_identifier: None,
    })
    .encode()
    .unwrap();
    let (_, irr, _, _) = one(r.handle(t0, wall(), addr(GK), &irq).unwrap());
    assert!(
        matches!(irr, RasMessage::InfoRequestResponse(i) if i.request_seq_num == 5 && i.endpoint_identifier == "CARRIER-GK-42")
    );
}

fn expect<'a>(aliases: &'a [AliasAddress], eid: Option<&'a str>) -> Expect<'a> {
    Expect {
        password: "carrier-secret",
        aliases,
        endpoint_identifier: eid,
        gatekeeper_identifier: "CARRIER-GK",
        unix_now: TS,
        window: Duration::from_secs(60),
    }
}

#[test]
fn password_tokens_follow_the_gatekeepers_choice() {
    let mut cfg = config();
    cfg.password = Some("carrier-secret".into());
    let t0 = Instant::now();
    let al = aliases();

    // the GRQ offers pwdHash; a GCF naming no mode: MD5 password hash
    let mut r = OutsideRegistration::new(cfg.clone(), t0);
    let (_, grq, sec, _) = one(r.handle_timeout(t0, wall()));
    assert_eq!(
        h235::choose_pwd_hash_algorithm(&sec),
        Some(h235::OID_H2351_U),
        "both offered"
    );
    let seq = match grq {
        RasMessage::GatekeeperRequest(g) => g.request_seq_num,
        _ => panic!(),
    };
    let (_, _, sec, bytes) = one(r
        .handle(
            t0,
            wall(),
            addr(GK),
            &gcf(seq, "CARRIER-GK", &RasSecurity::default()),
        )
        .unwrap());
    let v = h235::verify(&expect(&al, None), &sec, &bytes).unwrap();
    assert_eq!(v.method, AuthMethod::Md5Password);

    // a GCF choosing HMAC-SHA1-96: H.235.1 over the whole RRQ
    let mut r = OutsideRegistration::new(cfg, t0);
    let (_, grq, _, _) = one(r.handle_timeout(t0, wall()));
    let seq = match grq {
        RasMessage::GatekeeperRequest(g) => g.request_seq_num,
        _ => panic!(),
    };
    let (mode, oid) = h235::encode_pwd_hash_mode(h235::OID_H2351_U).unwrap();
    let chosen = RasSecurity {
        authentication_mode: Some(mode),
        algorithm_oid: Some(oid),
        ..Default::default()
    };
    let (_, rrq, sec, bytes) = one(r
        .handle(t0, wall(), addr(GK), &gcf(seq, "CARRIER-GK", &chosen))
        .unwrap());
    let v = h235::verify(&expect(&al, None), &sec, &bytes).unwrap();
    assert_eq!(v.method, AuthMethod::H2351);
    let seq = match rrq {
        RasMessage::RegistrationRequest(q) => q.request_seq_num,
        _ => panic!(),
    };
    r.handle(t0, wall(), addr(GK), &rcf(seq, "CARRIER-GK-42", 60))
        .unwrap();
    // the URQ carries the endpoint identifier as sender
    let (_, _, sec, bytes) = one(r.shutdown(wall()));
    let v = h235::verify(&expect(&al, Some("CARRIER-GK-42")), &sec, &bytes).unwrap();
    assert_eq!(v.method, AuthMethod::H2351);
    let wrong = Expect {
        password: "guess",
        ..expect(&al, Some("CARRIER-GK-42"))
    };
    assert!(h235::verify(&wrong, &sec, &bytes).is_err());
}
