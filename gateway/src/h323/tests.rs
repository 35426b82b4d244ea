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
    let mut ui = H323UserInformation::new(body);
    ui.pdu.h245_tunnelling = true;
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
        UuBody::Setup(SetupUuie {
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
        }),
    )
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

    connect_and_call(&mut h, "1001", Some(eid));
    let (msgs, closed) = received(&mut h);
    assert!(closed);
    // a two-leg call to SIP endpoint 1001, which has no registration: 480
    // on the SIP side is Q.850 18 towards the room
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
    assert!(msgs.is_empty() && !closed);
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
