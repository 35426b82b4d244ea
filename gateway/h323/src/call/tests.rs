//! The H.245 housekeeping of an answered call: channels the room closes
//! or asks us to close, flow control, the empty capability set that
//! pauses the media and the full one that resumes it, and Q.931 messages
//! we do not know (answered with Status) or a Status that says the room
//! has no call.

use super::*;
use crate::h245::{
    CapabilityDescriptor, CapabilityTableEntry, FlowControlCommand, FlowControlScope,
    ForwardLogicalChannelParameters, H2250LogicalChannelParameters, H245Address,
    OpenLogicalChannel, ReverseLogicalChannelParameters, TerminalCapabilitySet, H245_PROTOCOL_V7,
};
use gateway_callmodel::{
    CodecCap, Direction as MediaDirection, MediaCaps, MediaKind, MediaTransport, StreamCaps,
};

const CRV: u16 = 0x0456;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn vendor() -> VendorIdentifier {
    VendorIdentifier {
        vendor: H221NonStandard {
            t35_country_code: 181,
            t35_extension: 0,
            manufacturer_code: 0x5555,
        },
        product_id: Some(b"gateway".to_vec()),
        version_id: None,
        enterprise_number: None,
    }
}

fn pcmu() -> AudioCapability {
    AudioCapability::Framed(FramedAudio::G711Ulaw64k, 20)
}

fn h2250(media: Option<&str>) -> H2250LogicalChannelParameters {
    H2250LogicalChannelParameters {
        session_id: 1,
        media_channel: media.map(|m| H245Address::Unicast(addr(m))),
        media_control_channel: Some(H245Address::Unicast(addr("198.51.100.7:5005"))),
        ..Default::default()
    }
}

fn fast_start() -> Vec<Vec<u8>> {
    let from_room = OpenLogicalChannel {
        forward_logical_channel_number: 10,
        forward: ForwardLogicalChannelParameters {
            port_number: None,
            data_type: DataType::Audio(pcmu()),
            h2250: Some(h2250(None)),
        },
        reverse: None,
    };
    let to_room = OpenLogicalChannel {
        forward_logical_channel_number: 20,
        forward: ForwardLogicalChannelParameters {
            port_number: None,
            data_type: DataType::NullData,
            h2250: None,
        },
        reverse: Some(ReverseLogicalChannelParameters {
            data_type: DataType::Audio(pcmu()),
            h2250: Some(h2250(Some("198.51.100.7:5004"))),
        }),
    };
    [from_room, to_room]
        .iter()
        .map(|o| o.encode_fast_start().unwrap())
        .collect()
}

fn tcs(seq: u8, full: bool) -> H245Message {
    H245Message::TerminalCapabilitySet(TerminalCapabilitySet {
        sequence_number: seq,
        protocol_identifier: H245_PROTOCOL_V7.to_vec(),
        multiplex_capability: None,
        capability_table: full.then(|| {
            vec![CapabilityTableEntry {
                number: 1,
                capability: Some(Capability::Audio(CapDirection::Receive, pcmu())),
            }]
        }),
        capability_descriptors: full.then(|| {
            vec![CapabilityDescriptor {
                number: 0,
                simultaneous_capabilities: Some(vec![vec![1]]),
            }]
        }),
    })
}

fn frame(mt: MessageType, body: UuBody, h245: &[H245Message], ies: Vec<Ie>) -> Vec<u8> {
    frame_dir(mt, body, h245, ies, false)
}

/// `from_destination`: the callee of a call we placed is speaking.
fn frame_dir(
    mt: MessageType,
    body: UuBody,
    h245: &[H245Message],
    ies: Vec<Ie>,
    from_destination: bool,
) -> Vec<u8> {
    let mut ui = H323UserInformation::new(body);
    ui.pdu.h245_tunnelling = true;
    if !h245.is_empty() {
        ui.pdu.h245_control = Some(h245.iter().map(|m| m.encode().unwrap()).collect());
    }
    let mut m = Message::new(mt, CRV, from_destination);
    m.ies = ies;
    m.ies.push(Ie::UserUser {
        protocol_discriminator: UU_PROTOCOL_X208,
        data: ui.encode().unwrap(),
    });
    tpkt::encode(&m.build().unwrap()).unwrap()
}

fn setup() -> Vec<u8> {
    let body = UuBody::Setup(SetupUuie {
        protocol_identifier: H225_PROTOCOL_V4.to_vec(),
        h245_address: None,
        source_address: Some(vec![AliasAddress::H323Id("room-2001".into())]),
        source_info: EndpointType::terminal(),
        destination_address: Some(vec![AliasAddress::DialedDigits("1001".into())]),
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
        endpoint_identifier: None,
        multiple_calls: false,
        maintain_connection: false,
    });
    frame(MessageType::Setup, body, &[tcs(1, true)], Vec::new())
}

fn facility(h245: &[H245Message]) -> Vec<u8> {
    frame(MessageType::Facility, UuBody::Empty, h245, Vec::new())
}

/// Q.931 messages the leg sent since the last call, with their H.245.
fn sent(leg: &mut H323CallLeg) -> Vec<(Message, Vec<H245Message>)> {
    let mut framer = TpktFramer::new(65535);
    while let Some(f) = leg.poll_transmit() {
        framer.push(&f);
    }
    let mut out = Vec::new();
    while let Some(f) = framer.next_frame().unwrap() {
        let msg = Message::parse(&f).unwrap();
        let uu = H323UserInformation::decode(msg.user_user().unwrap()).unwrap();
        let h245 = uu
            .pdu
            .h245_control
            .iter()
            .flatten()
            .map(|p| H245Message::decode(p).unwrap())
            .collect();
        out.push((msg, h245));
    }
    out
}

fn h245_sent(leg: &mut H323CallLeg) -> Vec<H245Message> {
    sent(leg).into_iter().flat_map(|(_, h)| h).collect()
}

fn events(leg: &mut H323CallLeg) -> Vec<LegEvent> {
    std::iter::from_fn(|| leg.poll_event()).collect()
}

/// An answered Fast Start call whose opening exchange is drained.
fn answered(t0: Instant) -> H323CallLeg {
    let mut leg = H323CallLeg::new_incoming(CallLegConfig::new(vendor(), 0x00AB_CDEF));
    leg.handle_bytes(t0, &setup());
    assert!(matches!(&events(&mut leg)[..], [LegEvent::Incoming { .. }]));
    leg.handle_command(
        t0,
        LegCommand::Answer(MediaCaps {
            streams: vec![StreamCaps {
                kind: MediaKind::Audio,
                rtp: Some(addr("192.0.2.1:40000")),
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
        }),
    );
    sent(&mut leg);
    events(&mut leg);
    assert_eq!(leg.state(), CallState::Active);
    leg
}

#[test]
fn channel_closes_flow_control_and_the_empty_capability_set() {
    let t0 = Instant::now();
    let mut leg = answered(t0);

    // the room closes its channel and asks us to close ours: both acked
    leg.handle_bytes(
        t0,
        &facility(&[
            H245Message::CloseLogicalChannel {
                forward_logical_channel_number: 10,
                source_user: true,
                reason: None,
            },
            H245Message::RequestChannelClose {
                forward_logical_channel_number: 20,
                reason: None,
            },
        ]),
    );
    assert_eq!(
        h245_sent(&mut leg),
        [
            H245Message::CloseLogicalChannelAck(10),
            H245Message::RequestChannelCloseAck(20),
        ]
    );

    // flowControlCommand is in units of 100 bit/s; noRestriction says
    // nothing the bridge could act on
    leg.handle_bytes(
        t0,
        &facility(&[
            H245Message::FlowControlCommand(FlowControlCommand {
                scope: FlowControlScope::LogicalChannel(10),
                maximum_bit_rate: Some(640),
            }),
            H245Message::FlowControlCommand(FlowControlCommand {
                scope: FlowControlScope::WholeMultiplex,
                maximum_bit_rate: None,
            }),
        ]),
    );
    assert_eq!(events(&mut leg), [LegEvent::Bandwidth(64)]);
    assert!(h245_sent(&mut leg).is_empty(), "commands are not answered");

    // the empty capability set pauses (H.323 8.4.6), a repeat changes
    // nothing, the next full one resumes; each set is acknowledged
    leg.handle_bytes(t0, &facility(&[tcs(2, false)]));
    assert_eq!(events(&mut leg), [LegEvent::Hold(true)]);
    leg.handle_bytes(t0, &facility(&[tcs(3, false)]));
    assert!(events(&mut leg).is_empty());
    leg.handle_bytes(t0, &facility(&[tcs(4, true)]));
    assert_eq!(events(&mut leg), [LegEvent::Hold(false)]);
    assert_eq!(
        h245_sent(&mut leg),
        [
            H245Message::TerminalCapabilitySetAck(2),
            H245Message::TerminalCapabilitySetAck(3),
            H245Message::TerminalCapabilitySetAck(4),
        ]
    );
    assert_eq!(leg.state(), CallState::Active);
}

#[test]
fn unknown_messages_get_status_and_a_status_without_a_call_ends_ours() {
    let t0 = Instant::now();
    let mut leg = answered(t0);

    // a message type Q.931 does not define: Status, cause 97, state 10
    let mut m = Message::new(MessageType::Other(0x4A), CRV, false);
    m.ies.push(Ie::UserUser {
        protocol_discriminator: UU_PROTOCOL_X208,
        data: H323UserInformation::new(UuBody::Empty).encode().unwrap(),
    });
    leg.handle_bytes(t0, &tpkt::encode(&m.build().unwrap()).unwrap());
    let got = sent(&mut leg);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0.message_type, MessageType::Status);
    assert_eq!(got[0].0.cause(), Some(97));
    assert!(got[0].0.ies.contains(&Ie::Other {
        id: 0x14,
        data: vec![10]
    }));
    assert!(events(&mut leg).is_empty(), "the call goes on");

    // a Status of our call in state Null: the room has no call any more
    let status = frame(
        MessageType::Status,
        UuBody::Status(CallIdUuie {
            protocol_identifier: H225_PROTOCOL_V4.to_vec(),
            call_identifier: CallIdentifier { guid: [9; 16] },
        }),
        &[],
        vec![Ie::Other {
            id: 0x14,
            data: vec![0],
        }],
    );
    leg.handle_bytes(t0, &status);
    let ev = events(&mut leg);
    assert!(matches!(&ev[..], [LegEvent::Ended(_)]), "{ev:?}");
    assert_eq!(leg.state(), CallState::Released);
}

#[test]
fn unanswered_tcs_and_msd_are_released_when_t101_and_t106_expire() {
    let t0 = Instant::now();
    let t = Duration::from_secs(30);

    // the timers start when our TCS and MSD leave with the Connect
    let mut leg = answered(t0);
    assert_eq!(leg.poll_timeout(), Some(t0 + t));
    leg.handle_timeout(t0 + t - Duration::from_secs(1));
    assert!(sent(&mut leg).is_empty());
    leg.handle_timeout(t0 + t);
    assert_eq!(
        h245_sent(&mut leg),
        [
            H245Message::TerminalCapabilitySetRelease,
            H245Message::MasterSlaveDeterminationRelease,
        ]
    );
    assert_eq!(leg.stats().h245_timeouts, 2);
    assert_eq!(leg.poll_timeout(), None, "released once, not again");
    assert!(events(&mut leg).is_empty(), "the call goes on");
    assert_eq!(leg.state(), CallState::Active);

    // answered in time: nothing expires
    let mut leg = answered(t0);
    leg.handle_bytes(
        t0 + Duration::from_secs(1),
        &facility(&[
            H245Message::TerminalCapabilitySetAck(1),
            H245Message::MasterSlaveDeterminationAck(MsdDecision::Master),
        ]),
    );
    sent(&mut leg);
    assert_eq!(leg.poll_timeout(), None);
    leg.handle_timeout(t0 + 2 * t);
    assert!(sent(&mut leg).is_empty());
    assert_eq!(leg.stats().h245_timeouts, 0);

    // while Fast Start holds our TCS back, only the answer timer runs
    let mut leg = H323CallLeg::new_incoming(CallLegConfig::new(vendor(), 1));
    leg.handle_bytes(t0, &setup());
    sent(&mut leg);
    assert_eq!(leg.poll_timeout(), Some(t0 + Duration::from_secs(180)));
    leg.handle_timeout(t0 + t);
    assert!(sent(&mut leg).is_empty());
}

#[test]
fn an_unanswered_slow_start_channel_is_closed_and_the_call_released_at_t103() {
    let t0 = Instant::now();
    let t = Duration::from_secs(30);
    let call = OutgoingCall {
        calling_number: "1001".into(),
        called_aliases: vec![AliasAddress::DialedDigits("2001".into())],
        called_number: Some("2001".into()),
        destination: Some(addr("198.51.100.7:1720")),
        source: Some(addr("192.0.2.1:1720")),
        conference_id: [3; 16],
        call_identifier: [4; 16],
        call_reference: CRV,
        offer: MediaCaps {
            streams: vec![StreamCaps {
                kind: MediaKind::Audio,
                rtp: Some(addr("192.0.2.1:40000")),
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
    };
    let mut leg = H323CallLeg::new_outgoing(CallLegConfig::new(vendor(), 0x12_3456), call).unwrap();
    sent(&mut leg);
    // Connect accepts no proposal; the callee's capabilities open our
    // channel; it acknowledges our TCS and MSD, never the channel
    let connect = UuBody::Connect(ConnectUuie {
        protocol_identifier: H225_PROTOCOL_V4.to_vec(),
        h245_address: None,
        destination_info: EndpointType::terminal(),
        conference_id: [3; 16],
        call_identifier: Some(CallIdentifier { guid: [4; 16] }),
        fast_start: None,
        multiple_calls: false,
        maintain_connection: false,
        fast_connect_refused: false,
    });
    leg.handle_bytes(
        t0,
        &frame_dir(MessageType::Connect, connect, &[tcs(1, true)], vec![], true),
    );
    let opened = h245_sent(&mut leg);
    assert!(
        opened
            .iter()
            .any(|m| matches!(m, H245Message::OpenLogicalChannel(o) if o.forward_logical_channel_number == 1)),
        "{opened:?}"
    );
    leg.handle_bytes(
        t0 + Duration::from_secs(1),
        &frame_dir(
            MessageType::Facility,
            UuBody::Empty,
            &[
                H245Message::TerminalCapabilitySetAck(1),
                H245Message::MasterSlaveDeterminationAck(MsdDecision::Slave),
            ],
            vec![],
            true,
        ),
    );
    sent(&mut leg);
    assert!(events(&mut leg).is_empty(), "no media yet");
    assert_eq!(leg.poll_timeout(), Some(t0 + t));
    leg.handle_timeout(t0 + t - Duration::from_millis(1));
    assert!(sent(&mut leg).is_empty());

    leg.handle_timeout(t0 + t);
    let ev = events(&mut leg);
    assert!(
        matches!(&ev[..], [LegEvent::Ended(c)] if c.q850() == Q850::RECOVERY_ON_TIMER_EXPIRY),
        "{ev:?}"
    );
    let got = sent(&mut leg);
    let h245: Vec<_> = got.iter().flat_map(|(_, h)| h.clone()).collect();
    assert!(h245.contains(&H245Message::CloseLogicalChannel {
        forward_logical_channel_number: 1,
        source_user: false,
        reason: None,
    }));
    let last = &got.last().unwrap().0;
    assert_eq!(last.message_type, MessageType::ReleaseComplete);
    assert_eq!(last.cause(), Some(102));
    assert_eq!(leg.stats().h245_timeouts, 1);
    assert_eq!(leg.poll_timeout(), None);
}
