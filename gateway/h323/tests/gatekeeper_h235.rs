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
