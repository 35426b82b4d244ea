//! H.235 password authentication in the RAS gatekeeper: tokens made by an
//! independent implementation (pycrate + Python hashlib/hmac, script
//! interop-tests/h323/h235_vectors.py) and whole registration and call
//! flows with the crate's own token builders, on a virtual clock.

mod common;

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{python, repo_root, unhex};
use gateway_h323::gatekeeper::*;
use gateway_h323::h225::*;
use gateway_h323::h235::{self, AuthError, AuthMethod, CryptoH323Token};

const TS: u32 = 1_700_000_000;
const ROOM: &str = "198.51.100.7:1719";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn wall(offset_s: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(TS as u64 + offset_s)
}

fn directory(alias: &AliasAddress) -> Option<DirectoryEntry> {
    let entry = |id: &str, password: Option<&str>| DirectoryEntry {
        endpoint_id: id.into(),
        vetted: true,
        password: password.map(Into::into),
    };
    match alias {
        AliasAddress::H323Id(s) if s == "room-secret" => Some(entry("2010", Some("pw"))),
        AliasAddress::DialedDigits(s) if s == "2010" => Some(entry("2010", Some("pw"))),
        AliasAddress::H323Id(s) if s == "room-other" => Some(entry("2011", Some("pw2"))),
        AliasAddress::H323Id(s) if s == "room-2001" => Some(entry("2001", None)),
        _ => None,
    }
}

fn admission(_: &AdmissionQuery<'_>) -> AdmissionDecision {
    AdmissionDecision::Allow { band_width: None }
}

type Dir = fn(&AliasAddress) -> Option<DirectoryEntry>;
type Adm = fn(&AdmissionQuery<'_>) -> AdmissionDecision;
type Gk = RasGatekeeper<Dir, Adm>;

fn gatekeeper() -> Gk {
    let cfg = GatekeeperConfig::new("CITY-GK", addr("192.0.2.1:1719"), addr("192.0.2.1:1720"));
    RasGatekeeper::new(cfg, directory as Dir, admission as Adm)
}

/// One request, its single answer decoded with its H.235 fields.
fn ask(
    gk: &mut Gk,
    now: Instant,
    wall_s: u64,
    from: &str,
    bytes: &[u8],
) -> (RasMessage, RasSecurity) {
    let out = gk.handle(now, wall(wall_s), addr(from), bytes);
    assert_eq!(out.len(), 1, "one answer");
    RasMessage::decode_secured(&out[0].1).unwrap()
}

fn auth_failure(gk: &mut Gk) -> AuthError {
    loop {
        match gk.poll_event() {
            Some(GatekeeperEvent::AuthenticationFailed { error, .. }) => return error,
            Some(_) => continue,
            None => panic!("no authentication failure reported"),
        }
    }
}

fn vendor() -> VendorIdentifier {
    VendorIdentifier {
        vendor: H221NonStandard {
            t35_country_code: 181,
            t35_extension: 0,
            manufacturer_code: 0x2331,
        },
        product_id: Some(b"HDX 8000".to_vec()),
        version_id: None,
        enterprise_number: None,
    }
}

fn secret_aliases() -> Vec<AliasAddress> {
    vec![
        AliasAddress::H323Id("room-secret".into()),
        AliasAddress::DialedDigits("2010".into()),
    ]
}

fn rrq(seq: u16, keep_alive: Option<&str>) -> RasMessage {
    RasMessage::RegistrationRequest(RegistrationRequest {
        request_seq_num: seq,
        protocol_identifier: H225_PROTOCOL_V4.to_vec(),
        non_standard_data: None,
        discovery_complete: true,
        call_signal_address: vec![TransportAddress::ip([198, 51, 100, 7], 1720)],
        ras_address: vec![TransportAddress::ip([198, 51, 100, 7], 1719)],
        terminal_type: EndpointType::terminal(),
        terminal_alias: keep_alive.is_none().then(secret_aliases),
        gatekeeper_identifier: None,
        endpoint_vendor: vendor(),
        time_to_live: Some(60),
        keep_alive: keep_alive.is_some(),
        endpoint_identifier: keep_alive.map(Into::into),
        will_supply_uuies: false,
        maintain_connection: false,
        additive_registration: false,
        supports_alt_gk: false,
        multiple_calls: None,
    })
}

fn arq(seq: u16, eid: &str) -> RasMessage {
    RasMessage::AdmissionRequest(AdmissionRequest {
        request_seq_num: seq,
        call_type: CallType::PointToPoint,
        call_model: Some(CallModel::GatekeeperRouted),
        endpoint_identifier: eid.into(),
        destination_info: Some(vec![AliasAddress::DialedDigits("8000".into())]),
        dest_call_signal_address: None,
        dest_extra_call_info: None,
        src_info: secret_aliases(),
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
}

fn drq(seq: u16, eid: &str, call: u16) -> RasMessage {
    RasMessage::DisengageRequest(DisengageRequest {
        request_seq_num: seq,
        endpoint_identifier: eid.into(),
        conference_id: [call as u8; 16],
        call_reference_value: call,
        disengage_reason: DisengageReason::NormalDrop,
        non_standard_data: None,
        call_identifier: Some(CallIdentifier {
            guid: [call as u8; 16],
        }),
        gatekeeper_identifier: None,
        answered_call: false,
    })
}

fn urq(seq: u16, eid: &str) -> RasMessage {
    RasMessage::UnregistrationRequest(UnregistrationRequest {
        request_seq_num: seq,
        call_signal_address: vec![TransportAddress::ip([198, 51, 100, 7], 1720)],
        endpoint_alias: None,
        non_standard_data: None,
        endpoint_identifier: Some(eid.into()),
        gatekeeper_identifier: None,
        reason: None,
    })
}

fn md5(password: &str, ts: u32) -> RasSecurity {
    let t = h235::md5_password_token(&secret_aliases()[0], password, ts).unwrap();
    RasSecurity {
        crypto_tokens: Some(h235::encode_crypto_tokens(&[t]).unwrap()),
        ..Default::default()
    }
}

fn h2351_bytes(m: &RasMessage, password: &str, senders_id: Option<&str>, random: i64) -> Vec<u8> {
    let t = h235::h2351_token(Some("CITY-GK"), senders_id, TS, random);
    let sec = RasSecurity {
        crypto_tokens: Some(h235::encode_crypto_tokens(&[t]).unwrap()),
        ..Default::default()
    };
    let mut b = m.encode_secured(&sec).unwrap();
    assert!(h235::h2351_sign(&mut b, password));
    b
}

#[test]
fn tokens_made_by_pycrate_and_hashlib_pass_or_fail_for_their_reason() {
    let out = Command::new(python())
        .arg(repo_root().join("interop-tests/h323/h235_vectors.py"))
        .arg(TS.to_string())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} (pip install pycrate==0.8.1): {e}", python()));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let vectors: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(vectors.len() >= 9);
    let t0 = Instant::now();
    for v in &vectors {
        let label = v["label"].as_str().unwrap();
        let bytes = unhex(v["hex"].as_str().unwrap());
        let mut gk = gatekeeper();
        let (answer, _) = ask(&mut gk, t0, 30, ROOM, &bytes);
        match (v["expect"].as_str().unwrap(), answer) {
            ("ok", RasMessage::RegistrationConfirm(_)) => {
                let reg = gk.registrations().next().unwrap();
                assert!(reg.authentication.is_some(), "{label}");
            }
            (reason, RasMessage::RegistrationReject(r)) => {
                assert_eq!(
                    r.reject_reason,
                    RegistrationRejectReason::SecurityDenial,
                    "{label}"
                );
                let e = auth_failure(&mut gk);
                assert!(format!("{e:?}").starts_with(reason), "{label}: {e:?}");
            }
            (expect, m) => panic!("{label}: expected {expect}, got {m:?}"),
        }
    }
}

#[test]
fn md5_room_registers_keeps_alive_calls_and_leaves_with_tokens() {
    let t0 = Instant::now();
    let mut gk = gatekeeper();

    // discovery offering pwdHash with MD5: the GCF names that mode
    let grq = RasMessage::GatekeeperRequest(GatekeeperRequest {
        request_seq_num: 1,
        protocol_identifier: H225_PROTOCOL_V4.to_vec(),
        non_standard_data: None,
        ras_address: TransportAddress::ip([198, 51, 100, 7], 1719),
        endpoint_type: EndpointType::terminal(),
        gatekeeper_identifier: None,
        endpoint_alias: Some(secret_aliases()),
        supports_alt_gk: false,
    });
    use gateway_h323::per::{encode_with, Index, Size};
    let offer = RasSecurity {
        // { dhExch, pwdHash } and { MD5 }
        authentication_capability: Some(
            encode_with("authenticationCapability", |e| {
                e.length(2, Size::unbounded())?;
                e.choice_index(Index::Root(0), 7, true)?;
                e.choice_index(Index::Root(2), 7, true)
            })
            .unwrap(),
        ),
        algorithm_oids: Some(
            encode_with("algorithmOIDs", |e| {
                e.length(1, Size::unbounded())?;
                e.object_identifier(h235::OID_MD5)
            })
            .unwrap(),
        ),
        ..Default::default()
    };
    let (gcf, sec) = ask(&mut gk, t0, 0, ROOM, &grq.encode_secured(&offer).unwrap());
    assert!(matches!(gcf, RasMessage::GatekeeperConfirm(_)));
    let (mode, oid) = h235::encode_pwd_hash_mode(h235::OID_MD5).unwrap();
    assert_eq!(sec.authentication_mode, Some(mode), "pwdHash");
    assert_eq!(sec.algorithm_oid, Some(oid), "MD5");

    let (rcf, _) = ask(
        &mut gk,
        t0,
        0,
        ROOM,
        &rrq(2, None).encode_secured(&md5("pw", TS)).unwrap(),
    );
    let RasMessage::RegistrationConfirm(rcf) = rcf else {
        panic!("expected RCF, got {rcf:?}")
    };
    let eid = rcf.endpoint_identifier;
    assert_eq!(
        gk.registration(&eid).unwrap().authentication,
        Some(AuthMethod::Md5Password)
    );

    // keep-alive: without a token refused, with one accepted
    let t1 = t0 + Duration::from_secs(50);
    let (a, _) = ask(&mut gk, t1, 50, ROOM, &rrq(3, Some(&eid)).encode().unwrap());
    assert!(
        matches!(&a, RasMessage::RegistrationReject(r) if r.reject_reason == RegistrationRejectReason::SecurityDenial),
        "{a:?}"
    );
    assert_eq!(auth_failure(&mut gk), AuthError::Missing);
    let ka = rrq(4, Some(&eid))
        .encode_secured(&md5("pw", TS + 50))
        .unwrap();
    assert!(matches!(
        ask(&mut gk, t1, 50, ROOM, &ka).0,
        RasMessage::RegistrationConfirm(_)
    ));

    // admission needs the token; a wrong password or an old one is refused
    let ok = arq(5, &eid).encode_secured(&md5("pw", TS + 50)).unwrap();
    assert!(matches!(
        ask(&mut gk, t1, 50, ROOM, &ok).0,
        RasMessage::AdmissionConfirm(_)
    ));
    for (seq, sec, why) in [
        (6, RasSecurity::default(), "Missing"),
        (7, md5("guess", TS + 50), "BadHash"),
        (8, md5("pw", TS - 1000), "Timestamp"),
    ] {
        let (a, _) = ask(
            &mut gk,
            t1,
            50,
            ROOM,
            &arq(seq, &eid).encode_secured(&sec).unwrap(),
        );
        assert!(
            matches!(&a, RasMessage::AdmissionReject(r) if r.reject_reason == AdmissionRejectReason::SecurityDenial),
            "{why}: {a:?}"
        );
        let e = auth_failure(&mut gk);
        assert!(format!("{e:?}").starts_with(why), "{e:?}");
        assert!(!e.to_string().contains("pw\"") && !e.to_string().contains("guess"));
    }
    assert_eq!(gk.stats().auth_failures, 4);

    // DRQ and URQ are checked when they carry a token
    let (d, _) = ask(
        &mut gk,
        t1,
        50,
        ROOM,
        &drq(9, &eid, 5).encode_secured(&md5("x", TS)).unwrap(),
    );
    assert!(
        matches!(&d, RasMessage::DisengageReject(r) if r.reject_reason == DisengageRejectReason::SecurityDenial),
        "{d:?}"
    );
    let (d, _) = ask(&mut gk, t1, 50, ROOM, &drq(10, &eid, 5).encode().unwrap());
    assert!(matches!(d, RasMessage::DisengageConfirm(_)), "{d:?}");
    let (u, _) = ask(
        &mut gk,
        t1,
        50,
        ROOM,
        &urq(11, &eid).encode_secured(&md5("x", TS)).unwrap(),
    );
    assert!(
        matches!(&u, RasMessage::UnregistrationReject(r) if r.reject_reason == UnregRejectReason::SecurityDenial),
        "{u:?}"
    );
    assert!(gk.registration(&eid).is_some());
    let (u, _) = ask(
        &mut gk,
        t1,
        50,
        ROOM,
        &urq(12, &eid).encode_secured(&md5("pw", TS + 50)).unwrap(),
    );
    assert!(matches!(u, RasMessage::UnregistrationConfirm(_)), "{u:?}");
    assert!(gk.registration(&eid).is_none());
}

#[test]
fn h2351_room_is_checked_over_the_whole_message_and_replays_are_refused() {
    let t0 = Instant::now();
    let mut gk = gatekeeper();
    let (rcf, _) = ask(
        &mut gk,
        t0,
        0,
        ROOM,
        &h2351_bytes(&rrq(1, None), "pw", None, 1),
    );
    let RasMessage::RegistrationConfirm(rcf) = rcf else {
        panic!("expected RCF, got {rcf:?}")
    };
    let eid = rcf.endpoint_identifier;
    assert_eq!(
        gk.registration(&eid).unwrap().authentication,
        Some(AuthMethod::H2351)
    );

    let signed = h2351_bytes(&arq(2, &eid), "pw", Some(&eid), 2);
    assert!(matches!(
        ask(&mut gk, t0, 0, ROOM, &signed).0,
        RasMessage::AdmissionConfirm(_)
    ));
    // a retransmission is answered from the cache the same way...
    assert!(matches!(
        ask(&mut gk, t0 + Duration::from_secs(2), 2, ROOM, &signed).0,
        RasMessage::AdmissionConfirm(_)
    ));
    // ...but the same message replayed later is refused
    let later = t0 + Duration::from_secs(60);
    let (a, _) = ask(&mut gk, later, 60, ROOM, &signed);
    assert!(
        matches!(&a, RasMessage::AdmissionReject(r) if r.reject_reason == AdmissionRejectReason::SecurityDenial),
        "{a:?}"
    );
    assert_eq!(
        auth_failure(&mut gk),
        AuthError::Replay {
            method: AuthMethod::H2351
        }
    );

    // a token claiming another endpoint as sender
    let other = h2351_bytes(&arq(3, &eid), "pw", Some("CITY-GK-000099"), 3);
    let (a, _) = ask(&mut gk, later, 60, ROOM, &other);
    assert!(matches!(a, RasMessage::AdmissionReject(_)));
    assert!(matches!(auth_failure(&mut gk), AuthError::Identity { .. }));
}

#[test]
fn cat_and_passwordless_endpoints() {
    let t0 = Instant::now();
    let mut gk = gatekeeper();
    let cat = RasSecurity {
        tokens: Some(
            h235::encode_clear_tokens(&[h235::cat_token("room-secret", "pw", TS, 9)]).unwrap(),
        ),
        ..Default::default()
    };
    let (a, _) = ask(
        &mut gk,
        t0,
        0,
        ROOM,
        &rrq(1, None).encode_secured(&cat).unwrap(),
    );
    assert!(matches!(a, RasMessage::RegistrationConfirm(_)), "{a:?}");
    assert_eq!(
        gk.registrations().next().unwrap().authentication,
        Some(AuthMethod::Cat)
    );

    // an endpoint the dialplan gives no password registers without a
    // token, and whatever token it sends is not held against it
    let mut open = rrq(2, None);
    if let RasMessage::RegistrationRequest(r) = &mut open {
        r.terminal_alias = Some(vec![AliasAddress::H323Id("room-2001".into())]);
    }
    let bogus = RasSecurity {
        crypto_tokens: Some(
            h235::encode_crypto_tokens(&[CryptoH323Token::EpPwdHash {
                alias: AliasAddress::H323Id("room-2001".into()),
                time_stamp: 1,
                token: h235::Hashed {
                    algorithm_oid: h235::OID_MD5.to_vec(),
                    hash: vec![0; 16],
                    bits: 128,
                },
            }])
            .unwrap(),
        ),
        ..Default::default()
    };
    let (a, _) = ask(
        &mut gk,
        t0,
        0,
        "198.51.100.8:1719",
        &open.encode_secured(&bogus).unwrap(),
    );
    assert!(matches!(a, RasMessage::RegistrationConfirm(_)), "{a:?}");
    let reg = gk
        .registrations()
        .find(|r| r.directory_id == "2001")
        .unwrap();
    assert_eq!(reg.authentication, None);
    assert_eq!(gk.stats().auth_failures, 0);
}

/// A reply of ours, checked as the endpoint checks it: an H.235.1 token
/// naming it as recipient and us as sender, the HMAC over the whole reply.
fn verify_reply(b: &[u8], password: &str, recipient: &str, wall_s: u64) -> h235::Verified {
    let (_, sec) = RasMessage::decode_secured(b).unwrap();
    let expect = h235::Expect {
        password,
        aliases: &[],
        endpoint_identifier: Some("CITY-GK"),
        gatekeeper_identifier: recipient,
        unix_now: TS as u64 + wall_s,
        window: Duration::from_secs(5),
    };
    h235::verify(&expect, &sec, b).unwrap_or_else(|e| panic!("reply does not verify: {e}"))
}

#[test]
fn replies_to_an_h2351_room_are_signed_with_its_password() {
    let t0 = Instant::now();
    let mut gk = gatekeeper();
    let mut replies: Vec<Vec<u8>> = Vec::new();
    let mut one = |gk: &mut Gk, now: Instant, wall_s: u64, b: &[u8]| {
        let out = gk.handle(now, wall(wall_s), addr(ROOM), b);
        assert_eq!(out.len(), 1);
        replies.push(out[0].1.clone());
        out[0].1.clone()
    };
    let rcf = one(&mut gk, t0, 0, &h2351_bytes(&rrq(1, None), "pw", None, 1));
    let RasMessage::RegistrationConfirm(r) = RasMessage::decode(&rcf).unwrap() else {
        panic!("expected RCF")
    };
    let eid = r.endpoint_identifier;
    let v = verify_reply(&rcf, "pw", &eid, 0);
    assert_eq!((v.method, v.time_stamp), (AuthMethod::H2351, TS));
    // another password does not verify it: the HMAC covers the reply
    let (_, sec) = RasMessage::decode_secured(&rcf).unwrap();
    let wrong = h235::Expect {
        password: "guess",
        aliases: &[],
        endpoint_identifier: Some("CITY-GK"),
        gatekeeper_identifier: &eid,
        unix_now: TS as u64,
        window: Duration::from_secs(5),
    };
    assert!(matches!(
        h235::verify(&wrong, &sec, &rcf),
        Err(AuthError::BadHash { .. })
    ));
    let mut tampered = rcf.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    assert!(h235::verify(
        &h235::Expect {
            password: "pw",
            ..wrong
        },
        &sec,
        &tampered
    )
    .is_err());

    let t1 = t0 + Duration::from_secs(3);
    let acf = one(
        &mut gk,
        t1,
        3,
        &h2351_bytes(&arq(2, &eid), "pw", Some(&eid), 2),
    );
    assert!(matches!(
        RasMessage::decode(&acf),
        Ok(RasMessage::AdmissionConfirm(_))
    ));
    let a = verify_reply(&acf, "pw", &eid, 3);
    assert_eq!(a.time_stamp, TS + 3, "our clock, as the request came");
    assert_ne!(a.replay_key, v.replay_key, "a fresh random per reply");
    let dcf = one(
        &mut gk,
        t1,
        3,
        &h2351_bytes(&drq(3, &eid, 2), "pw", Some(&eid), 3),
    );
    assert!(matches!(
        RasMessage::decode(&dcf),
        Ok(RasMessage::DisengageConfirm(_))
    ));
    verify_reply(&dcf, "pw", &eid, 3);
    // a refusal after the token passed is signed too
    let mut full = arq(4, &eid);
    if let RasMessage::AdmissionRequest(a) = &mut full {
        a.destination_info = None;
    }
    let arj = one(&mut gk, t1, 3, &h2351_bytes(&full, "pw", Some(&eid), 4));
    assert!(matches!(
        RasMessage::decode(&arj),
        Ok(RasMessage::AdmissionReject(_))
    ));
    verify_reply(&arj, "pw", &eid, 3);
    let ucf = one(
        &mut gk,
        t1,
        3,
        &h2351_bytes(&urq(5, &eid), "pw", Some(&eid), 5),
    );
    assert!(matches!(
        RasMessage::decode(&ucf),
        Ok(RasMessage::UnregistrationConfirm(_))
    ));
    verify_reply(&ucf, "pw", &eid, 3);
    assert_eq!(gk.stats().signed_replies, 5);

    // a refusal of a bad token is not signed (we cannot know the key is
    // shared), nor is the reply to an MD5-authenticated room
    let bad = gk.handle(
        t1,
        wall(3),
        addr(ROOM),
        &h2351_bytes(&rrq(6, None), "guess", None, 6),
    );
    let (_, sec) = RasMessage::decode_secured(&bad[0].1).unwrap();
    assert_eq!(sec.crypto_tokens, None);
    let md5_rcf = gk.handle(
        t1,
        wall(3),
        addr(ROOM),
        &rrq(7, None).encode_secured(&md5("pw", TS + 3)).unwrap(),
    );
    let (m, sec) = RasMessage::decode_secured(&md5_rcf[0].1).unwrap();
    assert!(matches!(m, RasMessage::RegistrationConfirm(_)), "{m:?}");
    assert_eq!(sec.crypto_tokens, None);

    // pycrate reads every signed reply, token included
    let input: String = replies
        .iter()
        .enumerate()
        .map(|(i, b)| format!("r{i} {}\n", common::hex(b)))
        .collect();
    let checked = common::oracle("check", &input);
    assert_eq!(checked.len(), 5);
    for r in checked {
        assert!(r.get("error").is_none(), "pycrate: {r}");
        let text = r["value"].to_string();
        assert!(
            text.contains("cryptoTokens") && text.contains("nestedcryptoToken"),
            "{text}"
        );
    }
}

const NB: &str = "203.0.113.10:1719";

fn neighbour_gatekeeper(gatekeeper_identifier: Option<&str>) -> Gk {
    let mut cfg = GatekeeperConfig::new("CITY-GK", addr("192.0.2.1:1719"), addr("192.0.2.1:1720"));
    let mut nb = gateway_h323::neighbour::Neighbour::new(addr(NB));
    nb.gatekeeper_identifier = gatekeeper_identifier.map(Into::into);
    nb.password = Some("nb-secret".into());
    cfg.neighbours = vec![nb];
    RasGatekeeper::new(cfg, directory as Dir, admission as Adm)
}

fn lrq(seq: u16) -> RasMessage {
    RasMessage::LocationRequest(LocationRequest {
        request_seq_num: seq,
        endpoint_identifier: None,
        destination_info: vec![AliasAddress::H323Id("room-2001".into())],
        non_standard_data: None,
        reply_address: TransportAddress::ip([203, 0, 113, 10], 1719),
        source_info: None,
        can_map_alias: false,
        gatekeeper_identifier: Some("CITY-GK".into()),
        hop_count: None,
        call_identifier: None,
        band_width: None,
        can_map_src_alias: false,
    })
}

fn lrq_answer(gk: &mut Gk, bytes: &[u8]) -> (RasMessage, RasSecurity, Vec<u8>) {
    let out = gk.handle(Instant::now(), wall(0), addr(NB), bytes);
    assert_eq!(out.len(), 1);
    let (m, sec) = RasMessage::decode_secured(&out[0].1).unwrap();
    (m, sec, out[0].1.clone())
}

fn lrj_reason(m: &RasMessage) -> Option<LocationRejectReason> {
    match m {
        RasMessage::LocationReject(r) => Some(r.reject_reason.clone()),
        _ => None,
    }
}

#[test]
fn a_neighbour_with_a_password_must_authenticate_its_lrqs() {
    let mut gk = neighbour_gatekeeper(Some("GOV-GK"));
    // room-2001 is registered, so a good LRQ gets an LCF
    let mut reg = rrq(1, None);
    if let RasMessage::RegistrationRequest(r) = &mut reg {
        r.terminal_alias = Some(vec![AliasAddress::H323Id("room-2001".into())]);
    }
    let (m, _) = ask(&mut gk, Instant::now(), 0, ROOM, &reg.encode().unwrap());
    assert!(matches!(m, RasMessage::RegistrationConfirm(_)));
    assert!(matches!(
        gk.poll_event(),
        Some(GatekeeperEvent::Registered(_))
    ));

    // no token, a wrong password, a token naming another sender
    let sign = |seq, pw: &str, sender: Option<&str>, random| {
        let t = h235::h2351_token(Some("CITY-GK"), sender, TS, random);
        let sec = RasSecurity {
            crypto_tokens: Some(h235::encode_crypto_tokens(&[t]).unwrap()),
            ..Default::default()
        };
        let mut b = lrq(seq).encode_secured(&sec).unwrap();
        assert!(h235::h2351_sign(&mut b, pw));
        b
    };
    for (bytes, why) in [
        (lrq(2).encode().unwrap(), "Missing"),
        (sign(3, "guess", Some("GOV-GK"), 1), "BadHash"),
        (sign(4, "nb-secret", Some("OTHER-GK"), 2), "Identity"),
    ] {
        let (m, _, _) = lrq_answer(&mut gk, &bytes);
        assert_eq!(
            lrj_reason(&m),
            Some(LocationRejectReason::SecurityDenial),
            "{why}"
        );
        match gk.poll_event() {
            Some(GatekeeperEvent::AuthenticationFailed {
                directory_id,
                request,
                error,
                ..
            }) => {
                assert_eq!(
                    directory_id,
                    format!("h323_neighbour {NB}"),
                    "names the neighbour"
                );
                assert_eq!(request, "locationRequest");
                assert!(format!("{error:?}").starts_with(why), "{why}: {error:?}");
            }
            other => panic!("{why}: {other:?}"),
        }
    }

    // H.235.1 with the shared password: LCF, signed back to the neighbour
    let (m, sec, raw) = lrq_answer(&mut gk, &sign(5, "nb-secret", Some("GOV-GK"), 3));
    assert!(matches!(m, RasMessage::LocationConfirm(_)), "{m:?}");
    assert!(sec.crypto_tokens.is_some());
    verify_reply(&raw, "nb-secret", "GOV-GK", 0);
    // MD5 and CAT name the neighbour by its gatekeeperIdentifier
    let md5 =
        h235::md5_password_token(&AliasAddress::H323Id("GOV-GK".into()), "nb-secret", TS).unwrap();
    let sec = RasSecurity {
        crypto_tokens: Some(h235::encode_crypto_tokens(&[md5]).unwrap()),
        ..Default::default()
    };
    let (m, _, _) = lrq_answer(&mut gk, &lrq(6).encode_secured(&sec).unwrap());
    assert!(matches!(m, RasMessage::LocationConfirm(_)), "MD5: {m:?}");
    let cat = RasSecurity {
        tokens: Some(
            h235::encode_clear_tokens(&[h235::cat_token("GOV-GK", "nb-secret", TS, 7)]).unwrap(),
        ),
        ..Default::default()
    };
    let (m, _, _) = lrq_answer(&mut gk, &lrq(7).encode_secured(&cat).unwrap());
    assert!(matches!(m, RasMessage::LocationConfirm(_)), "CAT: {m:?}");
    // the same H.235.1 token again (not a retransmission: a new seq) is a replay
    let (m, _, _) = lrq_answer(&mut gk, &sign(8, "nb-secret", Some("GOV-GK"), 3));
    assert_eq!(lrj_reason(&m), Some(LocationRejectReason::SecurityDenial));
    assert_eq!(gk.stats().auth_failures, 4);

    // without a gatekeeper_id only H.235.1 can name the neighbour
    let mut gk = neighbour_gatekeeper(None);
    let (m, _, _) = lrq_answer(&mut gk, &lrq(9).encode_secured(&sec).unwrap());
    assert_eq!(lrj_reason(&m), Some(LocationRejectReason::SecurityDenial));
    let (m, _, _) = lrq_answer(&mut gk, &sign(10, "nb-secret", Some("ANY-GK"), 4));
    assert_eq!(
        lrj_reason(&m),
        Some(LocationRejectReason::NotRegistered),
        "authenticated, not ours"
    );
}
