//! A call we place is redirected by its callee (Facility callForwarded or
//! routeCallToGatekeeper): the leg releases the first connection with
//! facilityCallDeflection, the owner places the same call again where the
//! Facility pointed, and a second redirect is refused with Q.850 25. The
//! callees are scripted peers on real loopback TCP sockets (threads here,
//! the leg itself stays sans-IO).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use gateway_callmodel::{
    CodecCap, Direction as MediaDirection, H225ReleaseReason, LegEvent, MediaCaps, MediaKind,
    MediaTransport, StreamCaps, Q850,
};
use gateway_h323::call::*;
use gateway_h323::h225::*;
use gateway_h323::q931::{Ie, Message, MessageType, UU_PROTOCOL_X208};
use gateway_h323::tpkt;

fn config() -> CallLegConfig {
    CallLegConfig::new(
        VendorIdentifier {
            vendor: H221NonStandard {
                t35_country_code: 181,
                t35_extension: 0,
                manufacturer_code: 0,
            },
            product_id: Some(b"gateway".to_vec()),
            version_id: None,
            enterprise_number: None,
        },
        0x0012_3456,
    )
}

fn call(to: SocketAddr) -> OutgoingCall {
    OutgoingCall {
        calling_number: "1001".into(),
        called_aliases: vec![AliasAddress::DialedDigits("2001".into())],
        called_number: Some("2001".into()),
        destination: Some(to),
        source: Some("127.0.0.1:1720".parse().unwrap()),
        conference_id: [3; 16],
        call_identifier: [4; 16],
        call_reference: 0x0100,
        offer: MediaCaps {
            streams: vec![StreamCaps {
                kind: MediaKind::Audio,
                rtp: Some("127.0.0.1:40000".parse().unwrap()),
                rtcp: None,
                rtcp_mux: false,
                transport: MediaTransport::Rtp,
                direction: MediaDirection::SendRecv,
                codecs: vec![CodecCap {
                    payload_type: 0,
                    name: "PCMU".into(),
                    clock_rate: 8000,
                    channels: 1,
                    fmtp: None,
                }],
                ptime_ms: Some(20),
                bandwidth_kbps: None,
            }],
        },
    }
}

fn ta(a: SocketAddr) -> TransportAddress {
    match a {
        SocketAddr::V4(a) => TransportAddress::ip(a.ip().octets(), a.port()),
        _ => unreachable!(),
    }
}

/// One TPKT frame from a blocking stream.
fn read_frame(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut hdr = [0u8; 4];
    s.read_exact(&mut hdr).ok()?;
    let n = u16::from_be_bytes([hdr[2], hdr[3]]) as usize;
    let mut body = vec![0u8; n.checked_sub(4)?];
    s.read_exact(&mut body).ok()?;
    Some(body)
}

fn facility(
    crv: u16,
    reason: FacilityReason,
    to: Option<SocketAddr>,
    aliases: Vec<AliasAddress>,
) -> Vec<u8> {
    let mut ui = H323UserInformation::new(UuBody::Facility(FacilityUuie {
        protocol_identifier: H225_PROTOCOL_V4.to_vec(),
        alternative_address: to.map(ta),
        alternative_alias_address: (!aliases.is_empty()).then_some(aliases),
        conference_id: Some([3; 16]),
        reason,
        call_identifier: Some(CallIdentifier { guid: [4; 16] }),
        h245_address: None,
        fast_start: None,
        multiple_calls: false,
        maintain_connection: false,
    }));
    ui.pdu.h245_tunnelling = true;
    let mut m = Message::new(MessageType::Facility, crv, true);
    m.ies.push(Ie::UserUser {
        protocol_discriminator: UU_PROTOCOL_X208,
        data: ui.encode().unwrap(),
    });
    tpkt::encode(&m.build().unwrap()).unwrap()
}

/// What a scripted callee saw: the Setup and the ReleaseComplete.
struct Seen {
    setup_crv: u16,
    setup: SetupUuie,
    release: Option<(Option<H225ReleaseReason>, Option<u8>)>,
}

/// A callee that answers the Setup with one Facility and waits for the
/// release.
fn scripted_callee(
    listener: TcpListener,
    reason: FacilityReason,
    to: Option<SocketAddr>,
    aliases: Vec<AliasAddress>,
) -> thread::JoinHandle<Seen> {
    thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let f = read_frame(&mut s).expect("a Setup");
        let m = Message::parse(&f).unwrap();
        assert_eq!(m.message_type, MessageType::Setup);
        let uu = H323UserInformation::decode(m.user_user().unwrap()).unwrap();
        let UuBody::Setup(setup) = uu.pdu.body else {
            panic!("{:?}", uu.pdu.body)
        };
        s.write_all(&facility(m.call_reference, reason, to, aliases))
            .unwrap();
        let mut release = None;
        while let Some(f) = read_frame(&mut s) {
            let r = Message::parse(&f).unwrap();
            if r.message_type == MessageType::ReleaseComplete {
                let uu = H323UserInformation::decode(r.user_user().unwrap()).unwrap();
                let reason = match uu.pdu.body {
                    UuBody::ReleaseComplete(rc) => rc.reason.and_then(|r| r.reason()),
                    _ => None,
                };
                release = Some((reason, r.cause()));
                break;
            }
        }
        Seen {
            setup_crv: m.call_reference,
            setup,
            release,
        }
    })
}

/// Writes what the leg has, feeds it what the peer sends until `done`.
fn drive(leg: &mut H323CallLeg, s: &mut TcpStream, mut done: impl FnMut(&mut H323CallLeg) -> bool) {
    s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        while let Some(f) = leg.poll_transmit() {
            s.write_all(&f).unwrap();
        }
        if done(leg) {
            break;
        }
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => leg.handle_bytes(Instant::now(), &buf[..n]),
            Err(_) => {}
        }
    }
    while let Some(f) = leg.poll_transmit() {
        let _ = s.write_all(&f);
    }
}

#[test]
fn a_forwarded_call_is_placed_again_once_and_a_second_redirect_is_refused() {
    let first = TcpListener::bind("127.0.0.1:0").unwrap();
    let second = TcpListener::bind("127.0.0.1:0").unwrap();
    let (a1, a2) = (first.local_addr().unwrap(), second.local_addr().unwrap());

    // the first callee forwards to the second, naming the alias 3001
    let callee1 = scripted_callee(
        first,
        FacilityReason::CallForwarded,
        Some(a2),
        vec![AliasAddress::DialedDigits("3001".into())],
    );
    let mut leg = H323CallLeg::new_outgoing(config(), call(a1)).unwrap();
    let mut s = TcpStream::connect(a1).unwrap();
    let mut redirect = None;
    drive(&mut leg, &mut s, |l| {
        redirect = redirect.take().or_else(|| l.take_redirect());
        redirect.is_some()
    });
    let redirect = redirect.expect("the Facility is a redirect");
    assert_eq!(
        redirect,
        Redirect {
            reason: FacilityReason::CallForwarded,
            address: Some(a2),
            aliases: vec![AliasAddress::DialedDigits("3001".into())],
        }
    );
    assert!(leg.is_released());
    assert!(
        std::iter::from_fn(|| leg.poll_event()).next().is_none(),
        "the owner hears no end: the call goes on"
    );
    let seen1 = callee1.join().unwrap();
    assert_eq!(
        seen1.release,
        Some((
            Some(H225ReleaseReason::FacilityCallDeflection),
            Some(
                gateway_callmodel::Cause::from_h225(H225ReleaseReason::FacilityCallDeflection)
                    .q850()
                    .value()
            )
        ))
    );
    assert!(leg.take_redirect().is_none(), "handed over once");

    // the second callee routes it on again: not followed
    let callee2 = scripted_callee(
        second,
        FacilityReason::RouteCallToGatekeeper,
        Some(a1),
        vec![],
    );
    let mut leg2 = leg
        .redirected(redirect.address.unwrap(), &redirect.aliases)
        .unwrap();
    let mut s2 = TcpStream::connect(a2).unwrap();
    drive(&mut leg2, &mut s2, |l| l.is_released());
    let ev: Vec<_> = std::iter::from_fn(|| leg2.poll_event()).collect();
    assert!(
        matches!(&ev[..], [LegEvent::Ended(c)] if c.q850() == Q850::EXCHANGE_ROUTING_ERROR
            && c.text().is_some_and(|t| t.contains("one redirect"))),
        "{ev:?}"
    );
    assert!(leg2.take_redirect().is_none());
    let seen2 = callee2.join().unwrap();
    assert_eq!(seen2.release.unwrap().1, Some(25));
    // the same call, a new call reference, the alias of the redirect
    assert_ne!(seen2.setup_crv, seen1.setup_crv);
    assert_eq!(seen2.setup.call_identifier, seen1.setup.call_identifier);
    assert_eq!(
        seen2.setup.destination_address,
        Some(vec![AliasAddress::DialedDigits("3001".into())])
    );
    assert_eq!(seen2.setup.dest_call_signal_address, Some(ta(a2)));
}

#[test]
fn a_redirect_without_a_target_ends_the_call_and_other_reasons_are_no_redirect() {
    let t0 = Instant::now();
    let to: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let crv_of = |leg: &mut H323CallLeg| {
        let f = leg.poll_transmit().unwrap();
        Message::parse(&f[4..]).unwrap().call_reference
    };

    let mut leg = H323CallLeg::new_outgoing(config(), call(to)).unwrap();
    let crv = crv_of(&mut leg);
    leg.handle_bytes(
        t0,
        &facility(crv, FacilityReason::CallForwarded, None, vec![]),
    );
    let ev: Vec<_> = std::iter::from_fn(|| leg.poll_event()).collect();
    assert!(
        matches!(&ev[..], [LegEvent::Ended(c)] if c.q850() == Q850::NO_ROUTE_TO_DESTINATION),
        "{ev:?}"
    );
    assert!(leg.take_redirect().is_none());
    let rc = Message::parse(&leg.poll_transmit().unwrap()[4..]).unwrap();
    assert_eq!(rc.message_type, MessageType::ReleaseComplete);
    assert_eq!(rc.cause(), Some(3));

    // an unusable address (port 0) with no alias is no target either
    let mut leg = H323CallLeg::new_outgoing(config(), call(to)).unwrap();
    let crv = crv_of(&mut leg);
    leg.handle_bytes(
        t0,
        &facility(
            crv,
            FacilityReason::RouteCallToGatekeeper,
            Some("127.0.0.1:0".parse().unwrap()),
            vec![],
        ),
    );
    assert!(leg.is_released());
    assert!(leg.take_redirect().is_none());

    // alias only: the owner resolves it
    let mut leg = H323CallLeg::new_outgoing(config(), call(to)).unwrap();
    let crv = crv_of(&mut leg);
    leg.handle_bytes(
        t0,
        &facility(
            crv,
            FacilityReason::CallForwarded,
            None,
            vec![AliasAddress::H323Id("room-3001".into())],
        ),
    );
    let r = leg.take_redirect().expect("a redirect to an alias");
    assert_eq!(r.address, None);
    assert_eq!(r.aliases, vec![AliasAddress::H323Id("room-3001".into())]);

    // undefinedReason is not a redirect: the call waits on
    let mut leg = H323CallLeg::new_outgoing(config(), call(to)).unwrap();
    let crv = crv_of(&mut leg);
    leg.handle_bytes(
        t0,
        &facility(crv, FacilityReason::UndefinedReason, Some(to), vec![]),
    );
    assert!(!leg.is_released());
    assert!(leg.take_redirect().is_none());
    // and a call we did not place cannot be placed again
    assert_eq!(
        H323CallLeg::new_incoming(config())
            .redirected(to, &[])
            .err(),
        Some(OutgoingError::NotOutgoing)
    );
}
