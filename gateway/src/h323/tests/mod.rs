//! H.323 through the whole engine on a virtual clock: RAS datagrams and
//! call-signalling bytes go in as `H323Input`, what the engine sends is
//! decoded with the protocol crate, and the meeting binds real loopback
//! ports.

use super::{H323Config, H323Input, H323Output};
use crate::engine_tests::{test_config, Harness};
use gateway_callmodel::H225ReleaseReason;
use gateway_h323::h225::*;
use gateway_h323::h245::{
    AudioCapability, DataType, ForwardLogicalChannelParameters, FramedAudio,
    H2250LogicalChannelParameters, H245Address, OpenLogicalChannel,
    ReverseLogicalChannelParameters,
};
use gateway_h323::q931::Ie;
use gateway_h323::q931::{Message, MessageType, UU_PROTOCOL_X208};
use gateway_h323::tpkt::{self, TpktFramer};
use std::net::SocketAddr;
use std::time::Duration;

const RAS_PEER: &str = "127.0.0.9:41719";
const CS_PEER: &str = "127.0.0.9:41720";
const CRV: u16 = 0x0321;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn harness(dialplan: &str) -> Harness {
    let mut h = Harness::with(test_config(), dialplan);
    h.e.enable_h323(H323Config {
        gatekeeper_id: "gw".into(),
        ras_address: addr("127.0.0.1:1719"),
        call_signal_address: addr("127.0.0.1:1720"),
    });
    h
}

fn vendor() -> VendorIdentifier {
    VendorIdentifier {
        vendor: H221NonStandard {
            t35_country_code: 181,
            t35_extension: 0,
            manufacturer_code: 77,
        },
        product_id: Some(b"RoomSim".to_vec()),
        version_id: Some(b"1.0".to_vec()),
        enterprise_number: None,
    }
}

fn rrq(seq: u16, aliases: Vec<AliasAddress>) -> Vec<u8> {
    RasMessage::RegistrationRequest(RegistrationRequest {
        request_seq_num: seq,
        protocol_identifier: H225_PROTOCOL_V4.to_vec(),
        non_standard_data: None,
        discovery_complete: true,
        call_signal_address: vec![TransportAddress::ip([127, 0, 0, 9], 41720)],
        ras_address: vec![TransportAddress::ip([127, 0, 0, 9], 41719)],
        terminal_type: EndpointType::terminal(),
        terminal_alias: Some(aliases),
        gatekeeper_identifier: None,
        endpoint_vendor: vendor(),
        time_to_live: Some(60),
        keep_alive: false,
        endpoint_identifier: None,
        will_supply_uuies: false,
        maintain_connection: false,
        additive_registration: false,
        supports_alt_gk: false,
        multiple_calls: None,
    })
    .encode()
    .unwrap()
}

fn outputs(h: &mut Harness) -> Vec<H323Output> {
    std::iter::from_fn(|| h.e.h323_transmit()).collect()
}

fn ras(h: &mut Harness, data: Vec<u8>) -> Vec<RasMessage> {
    let now = h.now;
    h.e.h323_input(
        now,
        H323Input::Ras {
            from: addr(RAS_PEER),
            data,
        },
    );
    outputs(h)
        .into_iter()
        .map(|o| match o {
            H323Output::Ras { to, data } => {
                assert_eq!(to, addr(RAS_PEER), "answers go to the source");
                RasMessage::decode(&data).unwrap()
            }
            other => panic!("unexpected {other:?}"),
        })
        .collect()
}

fn register(h: &mut Harness) -> String {
    match &ras(h, rrq(1, vec![AliasAddress::H323Id("room-2001".into())]))[..] {
        [RasMessage::RegistrationConfirm(c)] => c.endpoint_identifier.clone(),
        other => panic!("{other:?}"),
    }
}

fn h2250(media: Option<SocketAddr>, control: SocketAddr) -> H2250LogicalChannelParameters {
    H2250LogicalChannelParameters {
        session_id: 1,
        media_channel: media.map(H245Address::Unicast),
        media_control_channel: Some(H245Address::Unicast(control)),
        ..Default::default()
    }
}

/// PCMU both ways, the room receiving at 127.0.0.9:40000.
fn fast_start() -> Vec<Vec<u8>> {
    let cap = AudioCapability::Framed(FramedAudio::G711Ulaw64k, 20);
    let (rtp, rtcp) = (addr("127.0.0.9:40000"), addr("127.0.0.9:40001"));
    [
        OpenLogicalChannel {
            forward_logical_channel_number: 1,
            forward: ForwardLogicalChannelParameters {
                port_number: None,
                data_type: DataType::Audio(cap.clone()),
                h2250: Some(h2250(None, rtcp)),
            },
            reverse: None,
        },
        OpenLogicalChannel {
            forward_logical_channel_number: 2,
            forward: ForwardLogicalChannelParameters {
                port_number: None,
                data_type: DataType::NullData,
                h2250: None,
            },
            reverse: Some(ReverseLogicalChannelParameters {
                data_type: DataType::Audio(cap),
                h2250: Some(h2250(Some(rtp), rtcp)),
            }),
        },
    ]
    .iter()
    .map(|o| o.encode_fast_start().unwrap())
    .collect()
}

fn frame(mt: MessageType, body: UuBody) -> Vec<u8> {
    frame_with(mt, body, true)
}

fn frame_with(mt: MessageType, body: UuBody, tunnelling: bool) -> Vec<u8> {
    let mut ui = H323UserInformation::new(body);
    ui.pdu.h245_tunnelling = tunnelling;
    let mut m = Message::new(mt, CRV, false);
    m.ies.push(Ie::UserUser {
        protocol_discriminator: UU_PROTOCOL_X208,
        data: ui.encode().unwrap(),
    });
    tpkt::encode(&m.build().unwrap()).unwrap()
}

fn setup(dest: &str, endpoint_identifier: Option<String>) -> Vec<u8> {
    frame(
        MessageType::Setup,
        UuBody::Setup(setup_uuie(dest, endpoint_identifier)),
    )
}

fn setup_uuie(dest: &str, endpoint_identifier: Option<String>) -> SetupUuie {
    SetupUuie {
        protocol_identifier: H225_PROTOCOL_V4.to_vec(),
        h245_address: None,
        source_address: Some(vec![AliasAddress::H323Id("room-2001".into())]),
        source_info: EndpointType::terminal(),
        destination_address: Some(vec![AliasAddress::DialedDigits(dest.into())]),
        dest_call_signal_address: None,
        dest_extra_call_info: None,
        active_mc: false,
        conference_id: [7; 16],
        conference_goal: ConferenceGoal::Create,
        call_type: CallType::PointToPoint,
        source_call_signal_address: None,
        call_identifier: Some(CallIdentifier { guid: [9; 16] }),
        fast_start: Some(fast_start()),
        media_wait_for_connect: false,
        can_overlap_send: false,
        endpoint_identifier,
        multiple_calls: false,
        maintain_connection: false,
    }
}

fn release_complete() -> Vec<u8> {
    frame(
        MessageType::ReleaseComplete,
        UuBody::ReleaseComplete(ReleaseCompleteUuie {
            protocol_identifier: H225_PROTOCOL_V4.to_vec(),
            reason: None,
            call_identifier: Some(CallIdentifier { guid: [9; 16] }),
        }),
    )
}

/// What the engine sent on connection 1: decoded messages, and whether it
/// asked for the connection to be closed.
fn received(h: &mut Harness) -> (Vec<(Message, H323UserInformation)>, bool) {
    let mut framer = TpktFramer::new(65535);
    let mut closed = false;
    for o in outputs(h) {
        match o {
            H323Output::Send { conn: 1, data } => framer.push(&data),
            H323Output::Close { conn: 1 } => closed = true,
            other => panic!("unexpected {other:?}"),
        }
    }
    let mut out = Vec::new();
    while let Some(f) = framer.next_frame().unwrap() {
        let m = Message::parse(&f).unwrap();
        assert_eq!(m.call_reference, CRV);
        let uu = H323UserInformation::decode(m.user_user().unwrap()).unwrap();
        out.push((m, uu));
    }
    (out, closed)
}

fn input(h: &mut Harness, i: H323Input) {
    let now = h.now;
    h.e.h323_input(now, i);
}

fn connect_and_call(h: &mut Harness, dest: &str, eid: Option<String>) {
    input(
        h,
        H323Input::Accepted {
            conn: 1,
            peer: addr(CS_PEER),
        },
    );
    input(
        h,
        H323Input::Bytes {
            conn: 1,
            data: setup(dest, eid),
        },
    );
}

fn release_of(m: &(Message, H323UserInformation)) -> (Option<H225ReleaseReason>, Option<u8>) {
    assert_eq!(m.0.message_type, MessageType::ReleaseComplete);
    let UuBody::ReleaseComplete(r) = &m.1.pdu.body else {
        panic!("{:?}", m.1.pdu.body)
    };
    (r.reason.as_ref().and_then(|r| r.reason()), m.0.cause())
}

#[tokio::test]
async fn registration_follows_the_dialplan_and_the_vetting_gate() {
    let mut h = harness(gateway_dialplan::SAMPLE_DIALPLAN);
    let unknown = ras(&mut h, rrq(1, vec![AliasAddress::H323Id("nobody".into())]));
    assert!(
        matches!(&unknown[..], [RasMessage::RegistrationReject(r)] if r.reject_reason == RegistrationRejectReason::InvalidAlias),
        "{unknown:?}"
    );
    register(&mut h);
    // the RRQ's vendor became the device of the (registry-known) endpoint;
    // a later RRQ from another product sends it back to review and is
    // itself refused with securityDenial
    h.e.vetting_mut().replace(std::collections::HashMap::from([(
        "2001".to_string(),
        gateway_admin::VettingEntry {
            state: gateway_admin::VettingState::Approved,
            reason: None,
            device: None,
        },
    )]));
    register(&mut h);
    let mut other = rrq(3, vec![AliasAddress::H323Id("room-2001".into())]);
    if let Ok(RasMessage::RegistrationRequest(mut r)) = RasMessage::decode(&other) {
        r.endpoint_vendor.version_id = Some(b"2.0".to_vec());
        other = RasMessage::RegistrationRequest(r).encode().unwrap();
    }
    let refused = ras(&mut h, other);
    assert!(
        matches!(&refused[..], [RasMessage::RegistrationReject(r)] if r.reject_reason == RegistrationRejectReason::SecurityDenial),
        "{refused:?}"
    );
    // not RAS at all: dropped, counted
    let before = h.metrics.parse_errors.get();
    assert!(ras(&mut h, vec![0xFF, 0x00, 0x13]).is_empty());
    assert_eq!(h.metrics.parse_errors.get(), before + 1);
}

#[tokio::test]
async fn a_registered_room_joins_meeting_8000_and_leaves_with_a_cdr() {
    let mut h = harness(gateway_dialplan::SAMPLE_DIALPLAN);
    let eid = register(&mut h);
    connect_and_call(&mut h, "8000", Some(eid));
    let (msgs, closed) = received(&mut h);
    assert!(!closed);
    let types: Vec<MessageType> = msgs.iter().map(|m| m.0.message_type).collect();
    assert_eq!(types, [MessageType::CallProceeding, MessageType::Connect]);
    let UuBody::Connect(c) = &msgs[1].1.pdu.body else {
        panic!()
    };
    let fs = c.fast_start.as_ref().expect("Fast Start answered");
    let ours = fs
        .iter()
        .map(|b| OpenLogicalChannel::decode_fast_start(b).unwrap())
        .find(|o| matches!(o.forward.data_type, DataType::Audio(_)))
        .expect("the room's transmit channel, with our address");
    let media = ours.forward.h2250.and_then(|p| p.media_channel);
    let Some(H245Address::Unicast(rtp)) = media else {
        panic!("{media:?}")
    };
    assert!(h.in_range(rtp.port()), "answered with relay port {rtp}");
    assert_eq!(h.e.meeting_participants("8000"), 1);
    assert_eq!(h.metrics.calls_active.get(), 1);

    input(
        &mut h,
        H323Input::Bytes {
            conn: 1,
            data: release_complete(),
        },
    );
    let (msgs, closed) = received(&mut h);
    assert!(msgs.is_empty() && closed, "{msgs:?}");
    assert_eq!(h.e.meeting_participants("8000"), 0);
    let cdrs = h.cdrs();
    assert_eq!(cdrs.len(), 1);
    assert_eq!(cdrs[0].callee, "meeting:8000");
    assert_eq!(cdrs[0].caller, "endpoint:2001");
    assert_eq!(cdrs[0].from_uri, "h323:room-2001");
}

#[tokio::test]
async fn secret_meetings_sip_targets_and_the_maximum_duration_release() {
    let mut h = harness(gateway_dialplan::SAMPLE_DIALPLAN);
    let eid = register(&mut h);
    connect_and_call(&mut h, "8001", Some(eid.clone()));
    let (msgs, closed) = received(&mut h);
    assert!(closed);
    let last = msgs.last().unwrap();
    assert_eq!(
        release_of(last).0,
        Some(H225ReleaseReason::SecurityDenied),
        "a plain leg in a secret meeting"
    );
    assert_eq!(h.e.meeting_participants("8001"), 0);

    // A SIP phone that is not registered: the neutral call cannot place
    // its SIP leg; SIP 480 reaches the room as Q.850 18 (RFC 3398).
    connect_and_call(&mut h, "1001", Some(eid));
    let (msgs, closed) = received(&mut h);
    assert!(closed);
    assert_eq!(release_of(msgs.last().unwrap()).1, Some(18));

    let short = gateway_dialplan::SAMPLE_DIALPLAN
        .replace("max_duration_secs = 14400", "max_duration_secs = 60");
    let mut h = harness(&short);
    let eid = register(&mut h);
    connect_and_call(&mut h, "8000", Some(eid));
    received(&mut h);
    assert_eq!(h.e.meeting_participants("8000"), 1);
    h.advance(Duration::from_secs(59));
    let (msgs, closed) = received(&mut h);
    assert!(!closed);
    // this room never answered our TCS and MSD: T101 and T106 released
    // them in a Facility, and the call went on
    let h245: Vec<_> = msgs
        .iter()
        .filter(|m| m.0.message_type == MessageType::Facility)
        .flat_map(|m| m.1.pdu.h245_control.iter().flatten())
        .map(|p| gateway_h323::h245::H245Message::decode(p).unwrap())
        .collect();
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    assert_eq!(
        h245,
        [
            gateway_h323::h245::H245Message::TerminalCapabilitySetRelease,
            gateway_h323::h245::H245Message::MasterSlaveDeterminationRelease,
        ]
    );
    h.advance(Duration::from_secs(2));
    let (msgs, closed) = received(&mut h);
    assert!(closed);
    assert_eq!(release_of(&msgs[0]).1, Some(16));
    assert_eq!(h.e.meeting_participants("8000"), 0);
}

#[tokio::test]
async fn silent_and_vanishing_connections_are_cleaned_up() {
    let mut h = harness(gateway_dialplan::SAMPLE_DIALPLAN);
    input(
        &mut h,
        H323Input::Accepted {
            conn: 1,
            peer: addr(CS_PEER),
        },
    );
    h.advance(Duration::from_secs(9));
    assert!(outputs(&mut h).is_empty());
    h.advance(Duration::from_secs(2));
    assert_eq!(outputs(&mut h), [H323Output::Close { conn: 1 }]);

    // a room in the meeting whose TCP connection just goes away
    let eid = register(&mut h);
    connect_and_call(&mut h, "8000", Some(eid));
    received(&mut h);
    assert_eq!(h.e.meeting_participants("8000"), 1);
    input(&mut h, H323Input::Closed { conn: 1 });
    assert_eq!(h.e.meeting_participants("8000"), 0);
    assert!(outputs(&mut h).is_empty());
}

// ------------------------------------------------- calls we place to rooms

/// What the engine sent on an outgoing connection: the Connect request,
/// decoded messages, and whether it closed it.
struct Placed {
    connect: Option<(u64, SocketAddr)>,
    msgs: Vec<(Message, H323UserInformation)>,
    closed: bool,
}

fn placed(h: &mut Harness) -> Placed {
    let mut framer = TpktFramer::new(65535);
    let mut p = Placed {
        connect: None,
        msgs: Vec::new(),
        closed: false,
    };
    for o in outputs(h) {
        match o {
            H323Output::Connect { conn, addr } => p.connect = Some((conn, addr)),
            H323Output::Send { data, .. } => framer.push(&data),
            H323Output::Close { .. } => p.closed = true,
            other => panic!("unexpected {other:?}"),
        }
    }
    while let Some(f) = framer.next_frame().unwrap() {
        let m = Message::parse(&f).unwrap();
        let uu = H323UserInformation::decode(m.user_user().unwrap()).unwrap();
        p.msgs.push((m, uu));
    }
    p
}

/// The room's answer on our call reference, with the callee flag.
fn answer_frame(crv: u16, mt: MessageType, body: UuBody) -> Vec<u8> {
    let mut ui = H323UserInformation::new(body);
    ui.pdu.h245_tunnelling = true;
    let mut m = Message::new(mt, crv, true);
    m.ies.push(Ie::UserUser {
        protocol_discriminator: UU_PROTOCOL_X208,
        data: ui.encode().unwrap(),
    });
    tpkt::encode(&m.build().unwrap()).unwrap()
}

/// The room accepts PCMU from the Setup's proposals, receiving at
/// 127.0.0.9:40000.
fn accept_pcmu(setup: &SetupUuie) -> Vec<Vec<u8>> {
    let pcmu = DataType::Audio(AudioCapability::Framed(FramedAudio::G711Ulaw64k, 20));
    let olcs: Vec<_> = setup
        .fast_start
        .iter()
        .flatten()
        .map(|b| OpenLogicalChannel::decode_fast_start(b).unwrap())
        .collect();
    let mut tx = olcs
        .iter()
        .find(|o| o.reverse.is_none() && o.forward.data_type == pcmu)
        .expect("PCMU proposed")
        .clone();
    tx.forward.h2250.as_mut().unwrap().media_channel =
        Some(H245Address::Unicast(addr("127.0.0.9:40000")));
    let rx = olcs
        .iter()
        .find(|o| o.reverse.as_ref().map(|r| &r.data_type) == Some(&pcmu))
        .unwrap()
        .clone();
    vec![
        tx.encode_fast_start().unwrap(),
        rx.encode_fast_start().unwrap(),
    ]
}

fn proceeding_body(fast_start: Option<Vec<Vec<u8>>>) -> ProceedingUuie {
    ProceedingUuie {
        protocol_identifier: H225_PROTOCOL_V4.to_vec(),
        destination_info: EndpointType::terminal(),
        h245_address: None,
        call_identifier: None,
        fast_start,
        multiple_calls: false,
        maintain_connection: false,
        fast_connect_refused: false,
    }
}

#[tokio::test]
async fn a_sip_caller_reaches_the_registered_room_by_its_number() {
    use crate::engine_tests::{resp, Caller};
    use gateway_sip::message::Method;
    let mut h = harness(gateway_dialplan::SAMPLE_DIALPLAN);
    // The caller's RTP socket: digits from the room arrive here in band.
    let caller_rtp = tokio::net::UdpSocket::bind("127.0.0.5:0").await.unwrap();
    let sdp = format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.5\r\ns=-\r\nc=IN IP4 127.0.0.5\r\nt=0 0\r\n\
         m=audio {} RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\n\
         a=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n",
        caller_rtp.local_addr().unwrap().port()
    );
    let sdp = sdp.as_str();

    // not registered: 480, and nothing is dialled
    let a_addr = addr("127.0.0.1:40011");
    let mut a = Caller::new(a_addr, "5551234", "2001");
    h.send(a_addr, &a.invite(&[], sdp));
    let out = h.out();
    resp(&out, a_addr, 480);
    h.send(a_addr, &a.ack_failure(&resp(&out, a_addr, 480)));
    assert!(outputs(&mut h).is_empty());

    register(&mut h);
    let mut a = Caller::new(a_addr, "5551234", "2001");
    h.send(a_addr, &a.invite(&[], sdp));
    let out = h.out();
    resp(&out, a_addr, 100);
    let p = placed(&mut h);
    let (conn, to) = p.connect.expect("a connection to the room");
    assert_eq!(to, addr(CS_PEER), "the call-signalling address of the RRQ");
    assert!(conn >= super::OUTGOING_CONN_BASE);
    let [(setup_msg, setup_uu)] = &p.msgs[..] else {
        panic!("{:?}", p.msgs)
    };
    assert_eq!(setup_msg.message_type, MessageType::Setup);
    assert!(!setup_msg.from_destination);
    let crv = setup_msg.call_reference;
    let UuBody::Setup(setup) = &setup_uu.pdu.body else {
        panic!()
    };
    assert!(setup
        .destination_address
        .iter()
        .flatten()
        .any(|a| *a == AliasAddress::H323Id("room-2001".into())));
    assert_eq!(
        setup.source_address,
        Some(vec![AliasAddress::DialedDigits("5551234".into())])
    );
    // our receive channel names the relay's B side
    let relay = setup
        .fast_start
        .iter()
        .flatten()
        .map(|b| OpenLogicalChannel::decode_fast_start(b).unwrap())
        .find_map(|o| o.reverse?.h2250?.media_channel)
        .expect("a receive proposal");
    let H245Address::Unicast(relay) = relay else {
        panic!()
    };
    assert!(h.in_range(relay.port()), "{relay}");

    // up, proceeding, ringing, answered with Fast Start
    input(&mut h, H323Input::Connected { conn });
    let bytes = [
        answer_frame(
            crv,
            MessageType::CallProceeding,
            UuBody::CallProceeding(proceeding_body(None)),
        ),
        answer_frame(
            crv,
            MessageType::Alerting,
            UuBody::Alerting(proceeding_body(None)),
        ),
    ]
    .concat();
    input(&mut h, H323Input::Bytes { conn, data: bytes });
    let out = h.out();
    resp(&out, a_addr, 180);
    let connect = UuBody::Connect(ConnectUuie {
        protocol_identifier: H225_PROTOCOL_V4.to_vec(),
        h245_address: None,
        destination_info: EndpointType::terminal(),
        conference_id: setup.conference_id,
        call_identifier: setup.call_identifier,
        fast_start: Some(accept_pcmu(setup)),
        multiple_calls: false,
        maintain_connection: false,
        fast_connect_refused: false,
    });
    input(
        &mut h,
        H323Input::Bytes {
            conn,
            data: answer_frame(crv, MessageType::Connect, connect),
        },
    );
    let out = h.out();
    let ok = resp(&out, a_addr, 200);
    let body = String::from_utf8_lossy(&ok.body).to_string();
    assert!(body.contains("RTP/AVP 0"), "PCMU forwarded: {body}");
    a.learn(&ok);
    h.send(a_addr, &a.ack_2xx());
    h.out();
    // our TCS and MSD go to the room after its Connect
    let p = placed(&mut h);
    assert!(p
        .msgs
        .iter()
        .any(|(m, u)| m.message_type == MessageType::Facility && u.pdu.h245_control.is_some()));

    // a digit from the room reaches the caller in band: it negotiated
    // telephone-event, so the relay plays RFC 4733 events to it
    let uii = gateway_h323::h245::H245Message::UserInput(
        gateway_h323::h245::UserInputIndication::Alphanumeric("5".into()),
    )
    .encode()
    .unwrap();
    let mut ui = H323UserInformation::new(UuBody::Empty);
    ui.pdu.h245_tunnelling = true;
    ui.pdu.h245_control = Some(vec![uii]);
    let mut m = Message::new(MessageType::Facility, crv, true);
    m.ies.push(Ie::UserUser {
        protocol_discriminator: UU_PROTOCOL_X208,
        data: ui.encode().unwrap(),
    });
    input(
        &mut h,
        H323Input::Bytes {
            conn,
            data: tpkt::encode(&m.build().unwrap()).unwrap(),
        },
    );
    let out = h.out();
    crate::engine_tests::no_request(&out, a_addr, Method::Info);
    let mut buf = [0u8; 512];
    let event = loop {
        let (n, _) = tokio::time::timeout(Duration::from_secs(3), caller_rtp.recv_from(&mut buf))
            .await
            .expect("an RFC 4733 event reaches the caller")
            .unwrap();
        if n >= 16 && buf[1] & 0x7f == 101 {
            break buf[12];
        }
    };
    assert_eq!(event, 5, "the room's digit 5");
    // and the caller's INFO digit reaches the room as H.245 userInput
    h.send(
        a_addr,
        &a.in_dialog_with(
            "INFO",
            "application/dtmf-relay",
            "Signal=3\r\nDuration=160\r\n",
        ),
    );
    let out = h.out();
    resp(&out, a_addr, 200);
    let p = placed(&mut h);
    let uii: Vec<_> = p
        .msgs
        .iter()
        .flat_map(|(_, u)| u.pdu.h245_control.iter().flatten())
        .map(|b| gateway_h323::h245::H245Message::decode(b).unwrap())
        .collect();
    assert_eq!(
        uii,
        vec![gateway_h323::h245::H245Message::UserInput(
            gateway_h323::h245::UserInputIndication::Alphanumeric("3".into())
        )],
        "alphanumeric: the room sent no capabilities naming DTMF signals"
    );

    // the caller hangs up: ReleaseComplete, normal clearing, connection closed
    h.send(a_addr, &a.in_dialog("BYE", ""));
    let out = h.out();
    resp(&out, a_addr, 200);
    let p = placed(&mut h);
    assert!(p.closed);
    let rel = p.msgs.last().expect("ReleaseComplete");
    assert_eq!(rel.0.message_type, MessageType::ReleaseComplete);
    assert_eq!(rel.0.cause(), Some(16));
    let cdrs = h.cdrs();
    let cdr = cdrs.last().unwrap();
    assert_eq!(cdr.outcome, "answered");
    assert_eq!(h.metrics.calls_active.get(), 0);

    // the room cannot be reached: destination out of order for the caller
    let mut a = Caller::new(a_addr, "5551234", "2001");
    h.send(a_addr, &a.invite(&[], sdp));
    h.out();
    let (conn, _) = placed(&mut h).connect.unwrap();
    input(&mut h, H323Input::Closed { conn });
    let out = h.out();
    let fail = crate::engine_tests::responses(&out, a_addr)
        .into_iter()
        .find(|r| r.status >= 300)
        .expect("a final failure");
    assert_eq!(fail.status, 502, "Q.850 27 is 502 (RFC 3398)");
    assert_eq!(h.metrics.calls_active.get(), 0);
}

#[tokio::test]
async fn a_room_calling_a_registered_room_goes_through_the_gateway() {
    let mut h = harness(gateway_dialplan::SAMPLE_DIALPLAN);
    let eid = register(&mut h);
    // the room dials its own number: an H.323 leg calls, one is placed
    connect_and_call(&mut h, "2001", Some(eid));
    let mut connect = None;
    let mut to_caller = Vec::new();
    for o in outputs(&mut h) {
        match o {
            H323Output::Connect { conn, addr } => connect = Some((conn, addr)),
            H323Output::Send { conn: 1, data } => to_caller.push(data),
            H323Output::Send { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        connect.map(|(_, a)| a),
        Some(addr(CS_PEER)),
        "placed to the registration's call-signalling address"
    );
    assert!(!to_caller.is_empty(), "the caller got CallProceeding");
    // the callee's connection fails: the caller is released with Q.850 27
    let (conn, _) = connect.unwrap();
    input(&mut h, H323Input::Closed { conn });
    let (msgs, closed) = received(&mut h);
    assert!(closed);
    assert_eq!(release_of(msgs.last().unwrap()).1, Some(27));
}

// ------------------------------------------------- H.245 on its own connection

/// The engine's outputs split: H.225.0 messages on connection 1 (decoded),
/// and everything about its H.245 connection (H245Send PDUs decoded).
#[derive(Default)]
struct Split {
    msgs: Vec<(Message, H323UserInformation)>,
    closed: bool,
    h245: Vec<H323Output>,
    pdus: Vec<gateway_h323::h245::H245Message>,
}

fn split(h: &mut Harness, h245_framer: &mut TpktFramer) -> Split {
    let mut framer = TpktFramer::new(65535);
    let mut s = Split::default();
    for o in outputs(h) {
        match o {
            H323Output::Send { conn: 1, data } => framer.push(&data),
            H323Output::Close { conn: 1 } => s.closed = true,
            H323Output::H245Send { conn: 1, data } => {
                h245_framer.push(&data);
                while let Some(p) = h245_framer.next_frame().unwrap() {
                    s.pdus
                        .push(gateway_h323::h245::H245Message::decode(&p).unwrap());
                }
            }
            o @ (H323Output::H245Connect { conn: 1, .. }
            | H323Output::H245Listen { conn: 1, .. }
            | H323Output::H245Close { conn: 1 }) => s.h245.push(o),
            other => panic!("unexpected {other:?}"),
        }
    }
    while let Some(f) = framer.next_frame().unwrap() {
        let m = Message::parse(&f).unwrap();
        let uu = H323UserInformation::decode(m.user_user().unwrap()).unwrap();
        assert!(!uu.pdu.h245_tunnelling && uu.pdu.h245_control.is_none());
        s.msgs.push((m, uu));
    }
    s
}

fn h245_tpkt(m: gateway_h323::h245::H245Message) -> Vec<u8> {
    tpkt::encode(&m.encode().unwrap()).unwrap()
}

#[tokio::test]
async fn a_room_that_does_not_tunnel_gets_h245_on_a_connection_of_its_own() {
    use gateway_h323::h245::{H245Message, UserInputIndication};
    let mut h = harness(gateway_dialplan::SAMPLE_DIALPLAN);
    let eid = register(&mut h);
    let mut h245 = TpktFramer::new(65535);
    input(
        &mut h,
        H323Input::Accepted {
            conn: 1,
            peer: addr(CS_PEER),
        },
    );
    let mut s = setup_uuie("8000", Some(eid.clone()));
    s.h245_address = Some(TransportAddress::ip([127, 0, 0, 9], 41300));
    input(
        &mut h,
        H323Input::Bytes {
            conn: 1,
            data: frame_with(MessageType::Setup, UuBody::Setup(s), false),
        },
    );
    let out = split(&mut h, &mut h245);
    let types: Vec<_> = out.msgs.iter().map(|m| m.0.message_type).collect();
    assert_eq!(types, [MessageType::CallProceeding, MessageType::Connect]);
    assert_eq!(
        out.h245,
        [H323Output::H245Connect {
            conn: 1,
            addr: addr("127.0.0.9:41300")
        }]
    );
    assert_eq!(h.e.meeting_participants("8000"), 1);

    // up: our capabilities and MSD go on it (Fast Start was answered)
    input(&mut h, H323Input::H245Connected { conn: 1 });
    let out = split(&mut h, &mut h245);
    assert!(
        matches!(out.pdus[0], H245Message::TerminalCapabilitySet(_)),
        "{:?}",
        out.pdus
    );
    assert!(matches!(
        out.pdus[1],
        H245Message::MasterSlaveDetermination { .. }
    ));

    // a digit and a round trip on it; a PDU that is not H.245 is counted
    // and dropped, the call stays
    let before = h.metrics.parse_errors.get();
    let mut bytes = h245_tpkt(H245Message::UserInput(UserInputIndication::Alphanumeric(
        "4".into(),
    )));
    bytes.extend(tpkt::encode(&[0xFF, 0xFF, 0xFF]).unwrap());
    bytes.extend(h245_tpkt(H245Message::RoundTripDelayRequest(3)));
    input(
        &mut h,
        H323Input::H245Bytes {
            conn: 1,
            data: bytes,
        },
    );
    let out = split(&mut h, &mut h245);
    assert_eq!(out.pdus, [H245Message::RoundTripDelayResponse(3)]);
    assert_eq!(h.metrics.parse_errors.get(), before + 1);
    assert_eq!(h.e.meeting_participants("8000"), 1);

    // the room releases: both connections close
    input(
        &mut h,
        H323Input::Bytes {
            conn: 1,
            data: frame_with(
                MessageType::ReleaseComplete,
                UuBody::ReleaseComplete(ReleaseCompleteUuie {
                    protocol_identifier: H225_PROTOCOL_V4.to_vec(),
                    reason: None,
                    call_identifier: Some(CallIdentifier { guid: [9; 16] }),
                }),
                false,
            ),
        },
    );
    let out = split(&mut h, &mut h245);
    assert!(out.closed);
    assert_eq!(out.h245, [H323Output::H245Close { conn: 1 }]);
    assert_eq!(h.e.meeting_participants("8000"), 0);
    // a late report of the gone call's H.245 changes nothing
    input(&mut h, H323Input::H245Closed { conn: 1 });
    assert!(outputs(&mut h).is_empty());

    // no address: we listen, from the room's host only, and name our
    // advertised address; a broken H.245 stream ends that call alone
    input(
        &mut h,
        H323Input::Accepted {
            conn: 1,
            peer: addr(CS_PEER),
        },
    );
    input(
        &mut h,
        H323Input::Bytes {
            conn: 1,
            data: frame_with(
                MessageType::Setup,
                UuBody::Setup(setup_uuie("8000", Some(eid))),
                false,
            ),
        },
    );
    let out = split(&mut h, &mut h245);
    assert_eq!(
        out.h245,
        [H323Output::H245Listen {
            conn: 1,
            peer: addr(CS_PEER).ip()
        }]
    );
    input(
        &mut h,
        H323Input::H245Listening {
            conn: 1,
            addr: addr("0.0.0.0:41555"),
        },
    );
    let out = split(&mut h, &mut h245);
    let UuBody::Facility(f) = &out.msgs[0].1.pdu.body else {
        panic!("{:?}", out.msgs)
    };
    assert_eq!(f.reason, FacilityReason::StartH245);
    assert_eq!(
        f.h245_address,
        Some(TransportAddress::ip([127, 0, 0, 1], 41555)),
        "the advertised host, not 0.0.0.0"
    );
    input(&mut h, H323Input::H245Connected { conn: 1 });
    split(&mut h, &mut h245);
    let mut h245 = TpktFramer::new(65535);
    input(
        &mut h,
        H323Input::H245Bytes {
            conn: 1,
            data: vec![0x16, 0x03, 0x01, 0x00],
        },
    );
    let out = split(&mut h, &mut h245);
    assert!(out.closed);
    assert_eq!(out.h245.last(), Some(&H323Output::H245Close { conn: 1 }));
    let rc = out.msgs.last().unwrap();
    assert_eq!(rc.0.message_type, MessageType::ReleaseComplete);
    assert_eq!(rc.0.cause(), Some(111));
    assert_eq!(h.e.meeting_participants("8000"), 0);
}

// ------------------------------------------------------------------ video

const H264_FMTP: &str = "profile-level-id=42e01f;packetization-mode=1";

/// The room accepts PCMU and every video proposal of the Setup: it
/// receives audio at 127.0.0.9:40000 and video at 127.0.0.9:40002, and
/// sends video on its channel 33.
fn accept_pcmu_and_video(setup: &SetupUuie) -> Vec<Vec<u8>> {
    use gateway_h323::h245::DataType as D;
    let mut out = accept_pcmu(setup);
    for b in setup.fast_start.iter().flatten() {
        let mut o = OpenLogicalChannel::decode_fast_start(b).unwrap();
        match o.reverse.as_mut() {
            None if matches!(o.forward.data_type, D::Video(_)) => {
                let h = o.forward.h2250.as_mut().unwrap();
                h.media_channel = Some(H245Address::Unicast(addr("127.0.0.9:40002")));
                h.media_control_channel = Some(H245Address::Unicast(addr("127.0.0.9:40003")));
            }
            Some(r) if matches!(r.data_type, D::Video(_)) => {
                o.forward_logical_channel_number = 33;
                r.h2250.as_mut().unwrap().media_control_channel =
                    Some(H245Address::Unicast(addr("127.0.0.9:40003")));
            }
            _ => continue,
        }
        out.push(o.encode_fast_start().unwrap());
    }
    out
}

#[tokio::test]
async fn a_sip_callers_h264_reaches_the_room_as_h245_video_and_keyframes_cross() {
    use crate::engine_tests::{resp, Caller};
    use gateway_h323::h245::{H245Message, MiscCommandType, MiscellaneousCommand, VideoCapability};
    use gateway_sip::message::Method;
    let mut h = harness(gateway_dialplan::SAMPLE_DIALPLAN);
    register(&mut h);
    let sdp = format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.5\r\ns=-\r\nc=IN IP4 127.0.0.5\r\nt=0 0\r\n\
         m=audio 30000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n\
         m=video 30002 RTP/AVP 97\r\na=rtpmap:97 H264/90000\r\na=fmtp:97 {H264_FMTP}\r\n"
    );
    let a_addr = addr("127.0.0.1:40011");
    let mut a = Caller::new(a_addr, "5551234", "2001");
    h.send(a_addr, &a.invite(&[], &sdp));
    h.out();
    let p = placed(&mut h);
    let (conn, _) = p.connect.unwrap();
    let crv = p.msgs[0].0.call_reference;
    let UuBody::Setup(setup) = &p.msgs[0].1.pdu.body else {
        panic!()
    };
    let video: Vec<_> = setup
        .fast_start
        .iter()
        .flatten()
        .map(|b| OpenLogicalChannel::decode_fast_start(b).unwrap())
        .filter(|o| {
            let dt = o
                .reverse
                .as_ref()
                .map_or(&o.forward.data_type, |r| &r.data_type);
            matches!(dt, DataType::Video(VideoCapability::Generic(_)))
        })
        .collect();
    assert_eq!(video.len(), 2, "H.264 both ways from the caller's offer");
    for o in &video {
        let h = o
            .reverse
            .as_ref()
            .map_or(o.forward.h2250.as_ref(), |r| r.h2250.as_ref());
        let h = h.unwrap();
        assert_eq!((h.session_id, h.dynamic_rtp_payload_type), (2, Some(97)));
    }
    let relay_video = video
        .iter()
        .find_map(|o| o.reverse.as_ref()?.h2250.as_ref()?.media_channel.clone());
    let Some(H245Address::Unicast(relay_video)) = relay_video else {
        panic!("{video:?}")
    };
    assert!(h.in_range(relay_video.port()));

    input(&mut h, H323Input::Connected { conn });
    let connect = UuBody::Connect(ConnectUuie {
        protocol_identifier: H225_PROTOCOL_V4.to_vec(),
        h245_address: None,
        destination_info: EndpointType::terminal(),
        conference_id: setup.conference_id,
        call_identifier: setup.call_identifier,
        fast_start: Some(accept_pcmu_and_video(setup)),
        multiple_calls: false,
        maintain_connection: false,
        fast_connect_refused: false,
    });
    input(
        &mut h,
        H323Input::Bytes {
            conn,
            data: answer_frame(crv, MessageType::Connect, connect),
        },
    );
    let out = h.out();
    let ok = resp(&out, a_addr, 200);
    let body = String::from_utf8_lossy(&ok.body).to_string();
    let m_video = body
        .lines()
        .find(|l| l.starts_with("m=video"))
        .unwrap_or_else(|| panic!("no video in {body}"));
    assert!(
        m_video.ends_with(" 97") && !m_video.starts_with("m=video 0 "),
        "{body}"
    );
    assert!(body.contains("H264/90000"), "{body}");
    a.learn(&ok);
    h.send(a_addr, &a.ack_2xx());
    h.out();
    placed(&mut h);

    // the caller asks for a keyframe: the room hears videoFastUpdatePicture
    // on the channel it sends video on
    h.send(
        a_addr,
        &a.in_dialog_with(
            "INFO",
            "application/media_control+xml",
            "<media_control><vc_primitive><to_encoder><picture_fast_update/>\
             </to_encoder></vc_primitive></media_control>",
        ),
    );
    let out = h.out();
    resp(&out, a_addr, 200);
    let p = placed(&mut h);
    let cmds: Vec<_> = p
        .msgs
        .iter()
        .flat_map(|(_, u)| u.pdu.h245_control.iter().flatten())
        .map(|b| H245Message::decode(b).unwrap())
        .filter(|m| matches!(m, H245Message::MiscellaneousCommand(_)))
        .collect();
    assert_eq!(
        cmds,
        [H245Message::MiscellaneousCommand(MiscellaneousCommand {
            logical_channel_number: 33,
            command: MiscCommandType::VideoFastUpdatePicture,
        })]
    );
    // ... and the room's request reaches the caller as INFO
    let fast_update = H245Message::MiscellaneousCommand(MiscellaneousCommand {
        logical_channel_number: 2,
        command: MiscCommandType::VideoFastUpdatePicture,
    })
    .encode()
    .unwrap();
    let mut ui = H323UserInformation::new(UuBody::Empty);
    ui.pdu.h245_tunnelling = true;
    ui.pdu.h245_control = Some(vec![fast_update]);
    let mut m = Message::new(MessageType::Facility, crv, true);
    m.ies.push(Ie::UserUser {
        protocol_discriminator: UU_PROTOCOL_X208,
        data: ui.encode().unwrap(),
    });
    input(
        &mut h,
        H323Input::Bytes {
            conn,
            data: tpkt::encode(&m.build().unwrap()).unwrap(),
        },
    );
    let out = h.out();
    let info = crate::engine_tests::req(&out, a_addr, Method::Info);
    assert!(String::from_utf8_lossy(&info.body).contains("picture_fast_update"));
}

#[tokio::test]
async fn a_rooms_h264_reaches_a_sip_phone_and_is_forwarded() {
    use crate::engine_tests::{register as sip_register, response_text};
    use gateway_sip::message::Method;
    let mut h = harness(gateway_dialplan::SAMPLE_DIALPLAN);
    let eid = register(&mut h);
    let phone = addr("127.0.0.1:40021");
    sip_register(
        &mut h,
        "1001",
        "pass1001",
        phone,
        "<sip:1001@127.0.0.1:40021>",
    );
    // the room proposes PCMU and H.264 (PT 109, mode 1) both ways
    let mut s = setup_uuie("1001", Some(eid));
    let h264 = gateway_h323::h245::VideoCapability::Generic(
        gateway_h323::h245::GenericCapability::h264(64, 71, 10240),
    );
    let pk = gateway_h323::h245::video::H264Params::from_fmtp(Some(H264_FMTP), None)
        .unwrap()
        .packetization(Some(109));
    let vh = |media: Option<&str>| H2250LogicalChannelParameters {
        session_id: 2,
        media_channel: media.map(|m| H245Address::Unicast(addr(m))),
        media_control_channel: Some(H245Address::Unicast(addr("127.0.0.9:40003"))),
        dynamic_rtp_payload_type: Some(109),
        media_packetization: Some(pk.clone()),
        ..Default::default()
    };
    let mut fs = fast_start();
    fs.push(
        OpenLogicalChannel {
            forward_logical_channel_number: 12,
            forward: ForwardLogicalChannelParameters {
                port_number: None,
                data_type: DataType::Video(h264.clone()),
                h2250: Some(vh(None)),
            },
            reverse: None,
        }
        .encode_fast_start()
        .unwrap(),
    );
    fs.push(
        OpenLogicalChannel {
            forward_logical_channel_number: 22,
            forward: ForwardLogicalChannelParameters {
                port_number: None,
                data_type: DataType::NullData,
                h2250: None,
            },
            reverse: Some(ReverseLogicalChannelParameters {
                data_type: DataType::Video(h264),
                h2250: Some(vh(Some("127.0.0.9:40002"))),
            }),
        }
        .encode_fast_start()
        .unwrap(),
    );
    s.fast_start = Some(fs);
    input(
        &mut h,
        H323Input::Accepted {
            conn: 1,
            peer: addr(CS_PEER),
        },
    );
    input(
        &mut h,
        H323Input::Bytes {
            conn: 1,
            data: frame(MessageType::Setup, UuBody::Setup(s)),
        },
    );
    let out = h.out();
    let inv = crate::engine_tests::req(&out, phone, Method::Invite);
    let offer = String::from_utf8_lossy(&inv.body).to_string();
    assert!(offer.contains("m=video"), "{offer}");
    assert!(offer.contains("a=rtpmap:109 H264/90000"), "{offer}");
    assert!(offer.contains("packetization-mode=1"), "{offer}");
    received(&mut h);

    // the phone answers with H.264 on the same payload type and the same
    // packetization mode (forwarding needs it, RFC 6184)
    let answer = format!(
        "v=0\r\no=- 2 2 IN IP4 127.0.0.6\r\ns=-\r\nc=IN IP4 127.0.0.6\r\nt=0 0\r\n\
         m=audio 30010 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n\
         m=video 30012 RTP/AVP 109\r\na=rtpmap:109 H264/90000\r\na=fmtp:109 {H264_FMTP}\r\n"
    );
    let answer = answer.as_str();
    h.send(
        phone,
        &response_text(
            &inv,
            200,
            "OK",
            Some("ph1"),
            Some("<sip:1001@127.0.0.1:40021>"),
            &[],
            answer,
        ),
    );
    let out = h.out();
    let _ack = crate::engine_tests::req(&out, phone, Method::Ack);
    let (msgs, closed) = received(&mut h);
    assert!(!closed);
    let connect = msgs
        .iter()
        .find(|m| m.0.message_type == MessageType::Connect)
        .expect("Connect to the room");
    let UuBody::Connect(c) = &connect.1.pdu.body else {
        panic!()
    };
    let olcs: Vec<_> = c
        .fast_start
        .iter()
        .flatten()
        .map(|b| OpenLogicalChannel::decode_fast_start(b).unwrap())
        .collect();
    let theirs = olcs
        .iter()
        .find(|o| o.forward_logical_channel_number == 12)
        .expect("the room's video channel accepted");
    let Some(H245Address::Unicast(relay)) = theirs.forward.h2250.as_ref().unwrap().media_channel
    else {
        panic!()
    };
    assert!(h.in_range(relay.port()), "video into the relay: {relay}");
    let ours = olcs
        .iter()
        .find(|o| o.forward_logical_channel_number == 2)
        .expect("our video channel towards the room");
    assert_eq!(
        ours.reverse
            .as_ref()
            .unwrap()
            .h2250
            .as_ref()
            .unwrap()
            .media_channel,
        Some(H245Address::Unicast(addr("127.0.0.9:40002")))
    );
}

/// A room with H.264 joins meeting 8000: its video goes into the switch
/// and the switch's keyframe requests reach it as videoFastUpdatePicture.
/// Waits for `meeting::LegSignalling::answers_video` to admit H.323 legs'
/// video (the meeting module's, not this adapter's, decision).
#[tokio::test]
async fn a_rooms_h264_joins_the_meeting_switch() {
    use gateway_h323::h245::{H245Message, MiscCommandType, MiscellaneousCommand};
    let mut h = harness(gateway_dialplan::SAMPLE_DIALPLAN);
    let eid = register(&mut h);
    let mut s = setup_uuie("8000", Some(eid));
    let h264 = gateway_h323::h245::VideoCapability::Generic(
        gateway_h323::h245::GenericCapability::h264(64, 71, 10240),
    );
    let pk = gateway_h323::h245::video::H264Params::from_fmtp(Some(H264_FMTP), None)
        .unwrap()
        .packetization(Some(109));
    let vh = |media: Option<&str>| H2250LogicalChannelParameters {
        session_id: 2,
        media_channel: media.map(|m| H245Address::Unicast(addr(m))),
        media_control_channel: Some(H245Address::Unicast(addr("127.0.0.9:40003"))),
        dynamic_rtp_payload_type: Some(109),
        media_packetization: Some(pk.clone()),
        ..Default::default()
    };
    let mut fs = fast_start();
    for o in [
        OpenLogicalChannel {
            forward_logical_channel_number: 12,
            forward: ForwardLogicalChannelParameters {
                port_number: None,
                data_type: DataType::Video(h264.clone()),
                h2250: Some(vh(None)),
            },
            reverse: None,
        },
        OpenLogicalChannel {
            forward_logical_channel_number: 22,
            forward: ForwardLogicalChannelParameters {
                port_number: None,
                data_type: DataType::NullData,
                h2250: None,
            },
            reverse: Some(ReverseLogicalChannelParameters {
                data_type: DataType::Video(h264),
                h2250: Some(vh(Some("127.0.0.9:40002"))),
            }),
        },
    ] {
        fs.push(o.encode_fast_start().unwrap());
    }
    s.fast_start = Some(fs);
    input(
        &mut h,
        H323Input::Accepted {
            conn: 1,
            peer: addr(CS_PEER),
        },
    );
    input(
        &mut h,
        H323Input::Bytes {
            conn: 1,
            data: frame(MessageType::Setup, UuBody::Setup(s)),
        },
    );
    let (msgs, _) = received(&mut h);
    let UuBody::Connect(c) = &msgs[1].1.pdu.body else {
        panic!("{msgs:?}")
    };
    let olcs: Vec<_> = c
        .fast_start
        .iter()
        .flatten()
        .map(|b| OpenLogicalChannel::decode_fast_start(b).unwrap())
        .collect();
    let theirs = olcs
        .iter()
        .find(|o| o.forward_logical_channel_number == 12)
        .expect("the room's video goes into the switch");
    let Some(H245Address::Unicast(port)) = theirs.forward.h2250.as_ref().unwrap().media_channel
    else {
        panic!()
    };
    assert!(h.in_range(port.port()));
    assert!(olcs.iter().any(|o| o.forward_logical_channel_number == 2));
    let now = h.now;
    h.e.h323_leg_command(now, 1, gateway_callmodel::LegCommand::KeyframeRequest);
    let (msgs, _) = received(&mut h);
    let cmds: Vec<_> = msgs
        .iter()
        .flat_map(|(_, u)| u.pdu.h245_control.iter().flatten())
        .map(|b| H245Message::decode(b).unwrap())
        .filter(|m| matches!(m, H245Message::MiscellaneousCommand(_)))
        .collect();
    assert_eq!(
        cmds,
        [H245Message::MiscellaneousCommand(MiscellaneousCommand {
            logical_channel_number: 12,
            command: MiscCommandType::VideoFastUpdatePicture,
        })]
    );
}

/// Rooms that do not register call straight to 1720: a source address in
/// a trunk's ACL is that trunk (the CDR says so), any other is refused.
#[tokio::test]
async fn an_unregistered_room_is_admitted_by_its_source_address_like_a_trunk() {
    let mut h = harness(gateway_dialplan::SAMPLE_DIALPLAN);
    // 127.0.0.1 is in loopback-trunk's ACL
    input(
        &mut h,
        H323Input::Accepted {
            conn: 1,
            peer: addr("127.0.0.1:41720"),
        },
    );
    input(
        &mut h,
        H323Input::Bytes {
            conn: 1,
            data: setup("8000", None),
        },
    );
    let (msgs, closed) = received(&mut h);
    assert!(!closed, "{msgs:?}");
    let types: Vec<MessageType> = msgs.iter().map(|m| m.0.message_type).collect();
    assert_eq!(types, [MessageType::CallProceeding, MessageType::Connect]);
    assert_eq!(h.e.meeting_participants("8000"), 1);
    input(
        &mut h,
        H323Input::Bytes {
            conn: 1,
            data: release_complete(),
        },
    );
    let (_, closed) = received(&mut h);
    assert!(closed);
    let cdrs = h.cdrs();
    assert_eq!(cdrs.len(), 1);
    assert_eq!(cdrs[0].caller, "trunk:loopback-trunk");
    assert_eq!(cdrs[0].callee, "meeting:8000");

    // 127.0.0.9 is in no ACL and not registered: refused, nothing joins
    connect_and_call(&mut h, "8000", None);
    let (msgs, closed) = received(&mut h);
    assert!(closed);
    let types: Vec<MessageType> = msgs.iter().map(|m| m.0.message_type).collect();
    assert_eq!(
        types.last(),
        Some(&MessageType::ReleaseComplete),
        "{types:?}"
    );
    // the dialplan's 403 is Q.850 21, call rejected (RFC 3398)
    assert_eq!(release_of(msgs.last().unwrap()).1, Some(21));
    assert_eq!(h.e.meeting_participants("8000"), 0);
    assert!(
        h.cdrs().is_empty(),
        "a refusal before any leg leaves no CDR"
    );
}

mod redirect;
mod slow_start;
