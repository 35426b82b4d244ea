//! Slow start on a call the room places (its Setup has no fastStart): when
//! the owner answers, the leg opens its own audio channel towards the room
//! over H.245 and the room's OpenLogicalChannelAck becomes the room's media
//! for the owner (`LegEvent::Answer`); the room's channel towards us, even
//! one opened while the call rang, is acknowledged with our address.
//! Tunnelled H.245 and H.245 on a connection of its own, on a virtual
//! clock; every PDU the leg sends is also decoded by pycrate.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{hex, oracle};
use gateway_callmodel::{
    Cause, CodecCap, Direction as MediaDirection, LegCommand, LegEvent, MediaCaps, MediaKind,
    MediaTransport, StreamCaps, Q850,
};
use gateway_h323::call::*;
use gateway_h323::h225::*;
use gateway_h323::h245::*;
use gateway_h323::q931::{Ie, Message, MessageType, UU_PROTOCOL_X208};
use gateway_h323::tpkt::{self, TpktFramer};

const CRV: u16 = 0x0777;
const OUR_RTP: &str = "192.0.2.1:40000";
const OUR_RTCP: &str = "192.0.2.1:40001";
const ROOM_RTP: &str = "198.51.100.7:5004";
const ROOM_RTCP: &str = "198.51.100.7:5005";
const ROOM_H245: &str = "198.51.100.7:1300";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

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

fn cap(pt: u8, name: &str) -> CodecCap {
    CodecCap {
        payload_type: pt,
        name: name.into(),
        clock_rate: 8000,
        channels: 1,
        fmtp: None,
    }
}

/// The bridge's offer to the caller (late offer): the callee's codec
/// first, then what else the bridge transcodes.
fn our_offer(codecs: Vec<CodecCap>) -> MediaCaps {
    MediaCaps {
        streams: vec![StreamCaps {
            kind: MediaKind::Audio,
            rtp: Some(addr(OUR_RTP)),
            rtcp: Some(addr(OUR_RTCP)),
            rtcp_mux: false,
            transport: MediaTransport::Rtp,
            direction: MediaDirection::SendRecv,
            codecs,
            ptime_ms: Some(20),
            bandwidth_kbps: None,
        }],
    }
}

fn room_tcs(receives: &[FramedAudio]) -> TerminalCapabilitySet {
    let mut table: Vec<CapabilityTableEntry> = receives
        .iter()
        .enumerate()
        .map(|(i, f)| CapabilityTableEntry {
            number: i as u16 + 1,
            capability: Some(Capability::Audio(
                Direction::Receive,
                AudioCapability::Framed(*f, 20),
            )),
        })
        .collect();
    let audio: Vec<u16> = table.iter().map(|e| e.number).collect();
    let n = table.len() as u16 + 1;
    table.push(CapabilityTableEntry {
        number: n,
        capability: Some(Capability::UserInput(
            Direction::ReceiveAndTransmit,
            UserInputCapabilityKind::Dtmf,
        )),
    });
    TerminalCapabilitySet {
        sequence_number: 1,
        protocol_identifier: H245_PROTOCOL_V7.to_vec(),
        multiplex_capability: None,
        capability_table: Some(table),
        capability_descriptors: Some(vec![CapabilityDescriptor {
            number: 0,
            simultaneous_capabilities: Some(vec![audio, vec![n]]),
        }]),
    }
}

/// The room's transmit channel, as it opens it over H.245.
fn room_olc(lcn: u16, f: FramedAudio) -> OpenLogicalChannel {
    OpenLogicalChannel {
        forward_logical_channel_number: lcn,
        forward: ForwardLogicalChannelParameters {
            port_number: None,
            data_type: DataType::Audio(AudioCapability::Framed(f, 20)),
            h2250: Some(H2250LogicalChannelParameters {
                session_id: 1,
                media_control_channel: Some(H245Address::Unicast(addr(ROOM_RTCP))),
                ..Default::default()
            }),
        },
        reverse: None,
    }
}

fn room_ack(lcn: u16) -> H245Message {
    H245Message::OpenLogicalChannelAck(OpenLogicalChannelAck {
        forward_logical_channel_number: lcn,
        reverse: None,
        h2250_ack: Some(H2250LogicalChannelAckParameters {
            session_id: Some(1),
            media_channel: Some(H245Address::Unicast(addr(ROOM_RTP))),
            media_control_channel: Some(H245Address::Unicast(addr(ROOM_RTCP))),
            dynamic_rtp_payload_type: None,
            flow_control_to_zero: false,
        }),
    })
}

fn events(leg: &mut H323CallLeg) -> Vec<LegEvent> {
    std::iter::from_fn(|| leg.poll_event()).collect()
}

/// The calling room.
struct Room {
    tunnelling: bool,
    framer: TpktFramer,
    h245_framer: TpktFramer,
    uu_seen: Vec<Vec<u8>>,
    h245_seen: Vec<Vec<u8>>,
}

/// What the leg sent, in order: Q.931 message types and every H.245 PDU
/// (tunnelled or on the H.245 connection).
#[derive(Default)]
struct Sent {
    messages: Vec<MessageType>,
    h245: Vec<H245Message>,
    actions: Vec<H245Action>,
}

impl Room {
    fn new(tunnelling: bool) -> Self {
        Room {
            tunnelling,
            framer: TpktFramer::new(65535),
            h245_framer: TpktFramer::new(65535),
            uu_seen: Vec::new(),
            h245_seen: Vec::new(),
        }
    }

    fn frame(&self, mt: MessageType, body: UuBody, h245: Vec<H245Message>) -> Vec<u8> {
        let mut ui = H323UserInformation::new(body);
        ui.pdu.h245_tunnelling = self.tunnelling;
        if !h245.is_empty() {
            ui.pdu.h245_control = Some(h245.iter().map(|m| m.encode().unwrap()).collect());
        }
        let mut m = Message::new(mt, CRV, false);
        m.ies.push(Ie::UserUser {
            protocol_discriminator: UU_PROTOCOL_X208,
            data: ui.encode().unwrap(),
        });
        tpkt::encode(&m.build().unwrap()).unwrap()
    }

    /// Setup without fastStart: slow start.
    fn setup(&self, h245_address: Option<&str>, h245: Vec<H245Message>) -> Vec<u8> {
        let body = UuBody::Setup(SetupUuie {
            protocol_identifier: H225_PROTOCOL_V4.to_vec(),
            h245_address: h245_address.map(|a| match addr(a) {
                SocketAddr::V4(a) => TransportAddress::ip(a.ip().octets(), a.port()),
                _ => unreachable!(),
            }),
            source_address: Some(vec![AliasAddress::DialedDigits("2001".into())]),
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
            fast_start: None,
            media_wait_for_connect: false,
            can_overlap_send: false,
            endpoint_identifier: None,
            multiple_calls: false,
            maintain_connection: false,
        });
        self.frame(MessageType::Setup, body, h245)
    }

    /// H.245 from the room: tunnelled in a Facility, or on its connection.
    fn h245(&self, leg: &mut H323CallLeg, now: Instant, pdus: Vec<H245Message>) {
        if self.tunnelling {
            leg.handle_bytes(now, &self.frame(MessageType::Facility, UuBody::Empty, pdus));
        } else {
            for p in pdus {
                leg.handle_h245_bytes(now, &tpkt::encode(&p.encode().unwrap()).unwrap());
            }
        }
    }

    fn drain(&mut self, leg: &mut H323CallLeg) -> Sent {
        let mut sent = Sent::default();
        while let Some(f) = leg.poll_transmit() {
            self.framer.push(&f);
        }
        while let Some(frame) = self.framer.next_frame().unwrap() {
            let msg = Message::parse(&frame).unwrap();
            assert_eq!(msg.call_reference, CRV);
            let uu_bytes = msg.user_user().unwrap().to_vec();
            let uu = H323UserInformation::decode(&uu_bytes).unwrap();
            assert_eq!(uu.pdu.h245_tunnelling, self.tunnelling);
            self.uu_seen.push(uu_bytes);
            sent.messages.push(msg.message_type);
            for p in uu.pdu.h245_control.iter().flatten() {
                sent.h245.push(H245Message::decode(p).unwrap());
                self.h245_seen.push(p.clone());
            }
        }
        while let Some(a) = leg.poll_h245_action() {
            if let H245Action::Send(f) = &a {
                self.h245_framer.push(f);
                while let Some(p) = self.h245_framer.next_frame().unwrap() {
                    sent.h245.push(H245Message::decode(&p).unwrap());
                    self.h245_seen.push(p);
                }
            } else {
                sent.actions.push(a);
            }
        }
        sent
    }

    fn pycrate_accepts(&self) {
        for (mode, seen) in [("uu-check", &self.uu_seen), ("h245-check", &self.h245_seen)] {
            let input: String = seen
                .iter()
                .enumerate()
                .map(|(i, b)| format!("m{i} {}\n", hex(b)))
                .collect();
            let results = oracle(mode, &input);
            assert_eq!(results.len(), seen.len());
            for (res, b) in results.iter().zip(seen) {
                assert!(res.get("error").is_none(), "pycrate: {res} for {}", hex(b));
            }
        }
    }
}

fn our_olc(sent: &Sent) -> Option<OpenLogicalChannel> {
    sent.h245.iter().find_map(|m| match m {
        H245Message::OpenLogicalChannel(o) => Some(o.clone()),
        _ => None,
    })
}

fn ack_for(sent: &Sent, lcn: u16) -> Option<H2250LogicalChannelAckParameters> {
    sent.h245.iter().find_map(|m| match m {
        H245Message::OpenLogicalChannelAck(a) if a.forward_logical_channel_number == lcn => {
            a.h2250_ack.clone()
        }
        _ => None,
    })
}

/// The whole exchange; `tunnelling` false runs H.245 on the connection the
/// leg makes to the room's h245Address.
fn slow_start_call(tunnelling: bool) {
    let t0 = Instant::now();
    let mut leg = H323CallLeg::new_incoming(config());
    let mut room = Room::new(tunnelling);
    let tcs = H245Message::TerminalCapabilitySet(room_tcs(&[
        FramedAudio::G711Alaw64k,
        FramedAudio::G711Ulaw64k,
    ]));
    let msd = H245Message::MasterSlaveDetermination {
        terminal_type: 50,
        status_determination_number: 77,
    };
    if tunnelling {
        leg.handle_bytes(t0, &room.setup(None, vec![tcs.clone(), msd.clone()]));
    } else {
        leg.handle_bytes(t0, &room.setup(Some(ROOM_H245), vec![]));
    }
    assert_eq!(
        events(&mut leg),
        vec![LegEvent::Incoming {
            target: "1001".into(),
            offer: None
        }]
    );
    let mut sent = room.drain(&mut leg);
    assert_eq!(sent.messages, [MessageType::CallProceeding]);
    if !tunnelling {
        assert_eq!(sent.actions, [H245Action::Connect(addr(ROOM_H245))]);
        leg.h245_connected(t0);
        room.h245(&mut leg, t0, vec![tcs, msd]);
        sent = room.drain(&mut leg);
    }
    assert!(sent
        .h245
        .iter()
        .any(|m| matches!(m, H245Message::TerminalCapabilitySet(_))));
    assert!(sent
        .h245
        .iter()
        .any(|m| matches!(m, H245Message::TerminalCapabilitySetAck(1))));

    // the room acks our set and opens its µ-law channel while the call
    // still rings: the channel waits for our address, neither acked nor
    // refused
    room.h245(
        &mut leg,
        t0,
        vec![
            H245Message::TerminalCapabilitySetAck(1),
            H245Message::OpenLogicalChannel(room_olc(7, FramedAudio::G711Ulaw64k)),
        ],
    );
    let sent = room.drain(&mut leg);
    assert!(
        !sent.h245.iter().any(|m| matches!(
            m,
            H245Message::OpenLogicalChannelAck(_) | H245Message::OpenLogicalChannelReject { .. }
        )),
        "{:?}",
        sent.h245
    );
    leg.handle_command(t0, LegCommand::Progress { early_media: None });
    assert_eq!(room.drain(&mut leg).messages, [MessageType::Alerting]);

    // answered with A-law first: the room's channel is acked with our
    // address and ours follows its µ-law (which it also receives)
    leg.handle_command(
        t0,
        LegCommand::Answer(our_offer(vec![
            cap(8, "PCMA"),
            cap(0, "PCMU"),
            cap(101, "telephone-event"),
        ])),
    );
    let sent = room.drain(&mut leg);
    assert_eq!(sent.messages[0], MessageType::Connect);
    let h = ack_for(&sent, 7).expect("the room's channel acked");
    assert_eq!(h.media_channel, Some(H245Address::Unicast(addr(OUR_RTP))));
    assert_eq!(
        h.media_control_channel,
        Some(H245Address::Unicast(addr(OUR_RTCP)))
    );
    let olc = our_olc(&sent).expect("our channel opened");
    assert_eq!(
        olc.forward.data_type,
        DataType::Audio(AudioCapability::Framed(FramedAudio::G711Ulaw64k, 20))
    );
    assert!(olc.reverse.is_none());
    let h2250 = olc.forward.h2250.clone().unwrap();
    assert_eq!(h2250.session_id, 1);
    assert_eq!(
        h2250.media_control_channel,
        Some(H245Address::Unicast(addr(OUR_RTCP)))
    );
    assert!(
        events(&mut leg).is_empty(),
        "no media before the room's ack"
    );

    // the room's ack names where it receives: that is its media
    room.h245(
        &mut leg,
        t0,
        vec![room_ack(olc.forward_logical_channel_number)],
    );
    let ev = events(&mut leg);
    let [LegEvent::Answer(caps)] = &ev[..] else {
        panic!("{ev:?}")
    };
    let s = &caps.streams[0];
    assert_eq!(s.rtp, Some(addr(ROOM_RTP)));
    assert_eq!(s.rtcp, Some(addr(ROOM_RTCP)));
    assert_eq!(s.direction, MediaDirection::SendRecv);
    assert_eq!(s.codecs[0].payload_type, 0);
    assert_eq!(leg.state(), CallState::Active);
    assert!(leg.poll_timeout().is_none(), "T103 stopped by the ack");

    leg.handle_command(t0, LegCommand::End(Cause::normal_clearing()));
    let sent = room.drain(&mut leg);
    assert!(sent.messages.contains(&MessageType::ReleaseComplete));
    assert!(leg.is_released());
    room.pycrate_accepts();
}

#[test]
fn a_tunnelling_caller_without_fast_start_gets_our_channel_and_its_ack_is_its_media() {
    slow_start_call(true);
}

#[test]
fn a_caller_with_its_own_h245_connection_gets_slow_start_on_it() {
    slow_start_call(false);
}

#[test]
fn slow_start_refusals_and_t103() {
    let t0 = Instant::now();
    let tcs = |f: &[FramedAudio]| H245Message::TerminalCapabilitySet(room_tcs(f));
    let start = |room: &mut Room, first: Vec<H245Message>| {
        let mut leg = H323CallLeg::new_incoming(config());
        leg.handle_bytes(t0, &room.setup(None, first));
        events(&mut leg);
        room.drain(&mut leg);
        leg
    };

    // the capability set comes after the answer: our channel waits for
    // it, then takes the first answered codec the room receives
    let mut room = Room::new(true);
    let mut leg = start(&mut room, vec![]);
    leg.handle_command(
        t0,
        LegCommand::Answer(our_offer(vec![cap(9, "G722"), cap(8, "PCMA")])),
    );
    let sent = room.drain(&mut leg);
    assert_eq!(sent.messages, [MessageType::Connect]);
    assert!(our_olc(&sent).is_none(), "the room's capabilities unknown");
    room.h245(&mut leg, t0, vec![tcs(&[FramedAudio::G711Alaw64k])]);
    let sent = room.drain(&mut leg);
    let olc = our_olc(&sent).expect("opened once the set arrived");
    assert_eq!(
        olc.forward.data_type,
        DataType::Audio(AudioCapability::Framed(FramedAudio::G711Alaw64k, 20))
    );
    // the room refuses it: no media, the call ends with Q.850 58
    room.h245(
        &mut leg,
        t0,
        vec![H245Message::OpenLogicalChannelReject {
            forward_logical_channel_number: olc.forward_logical_channel_number,
            cause: OlcRejectCause::Unspecified,
        }],
    );
    let ev = events(&mut leg);
    assert!(
        matches!(&ev[..], [LegEvent::Ended(c)] if c.q850() == Q850::BEARER_CAPABILITY_NOT_AVAILABLE),
        "{ev:?}"
    );
    let sent = room.drain(&mut leg);
    assert_eq!(sent.messages, [MessageType::ReleaseComplete]);

    // the room receives none of the answered codecs
    let mut leg = start(&mut room, vec![tcs(&[FramedAudio::G711Alaw64k])]);
    leg.handle_command(t0, LegCommand::Answer(our_offer(vec![cap(0, "PCMU")])));
    let ev = events(&mut leg);
    assert!(
        matches!(&ev[..], [LegEvent::Ended(c)] if c.q850() == Q850::BEARER_CAPABILITY_NOT_AVAILABLE),
        "{ev:?}"
    );
    assert!(room
        .drain(&mut leg)
        .messages
        .contains(&MessageType::ReleaseComplete));

    // an answer without any audio we can put on a channel
    let mut leg = start(&mut room, vec![tcs(&[FramedAudio::G711Alaw64k])]);
    leg.handle_command(
        t0,
        LegCommand::Answer(our_offer(vec![CodecCap {
            payload_type: 111,
            name: "opus".into(),
            clock_rate: 48000,
            channels: 2,
            fmtp: None,
        }])),
    );
    let ev = events(&mut leg);
    assert!(
        matches!(&ev[..], [LegEvent::Ended(c)] if c.q850() == Q850::BEARER_CAPABILITY_NOT_AVAILABLE),
        "{ev:?}"
    );
    room.drain(&mut leg);

    // the room never answers our channel: T103 closes it and releases
    let mut leg = start(&mut room, vec![tcs(&[FramedAudio::G711Alaw64k])]);
    leg.handle_command(t0, LegCommand::Answer(our_offer(vec![cap(8, "PCMA")])));
    let sent = room.drain(&mut leg);
    let olc = our_olc(&sent).unwrap();
    // the room answers its TCS and MSD so only T103 is left running
    room.h245(
        &mut leg,
        t0,
        vec![
            H245Message::TerminalCapabilitySetAck(1),
            H245Message::MasterSlaveDeterminationAck(MsdDecision::Slave),
        ],
    );
    room.drain(&mut leg);
    let t103 = leg.poll_timeout().expect("T103 armed");
    assert_eq!(t103, t0 + Duration::from_secs(30));
    leg.handle_timeout(t103 - Duration::from_millis(1));
    assert!(events(&mut leg).is_empty());
    leg.handle_timeout(t103);
    let ev = events(&mut leg);
    assert!(
        matches!(&ev[..], [LegEvent::Ended(c)] if c.q850() == Q850::RECOVERY_ON_TIMER_EXPIRY),
        "{ev:?}"
    );
    let sent = room.drain(&mut leg);
    assert!(sent.h245.iter().any(|m| matches!(
        m,
        H245Message::CloseLogicalChannel { forward_logical_channel_number, .. }
            if *forward_logical_channel_number == olc.forward_logical_channel_number
    )));
    assert_eq!(leg.stats().h245_timeouts, 1);
    room.pycrate_accepts();
}

/// The room opened its channel in G.722 while the call rang; the answer
/// carries G.711 µ-law only (a meeting's offer): that channel is refused as
/// a data type we do not take, never acknowledged into a leg nobody
/// decodes, and ours opens in µ-law.
#[test]
fn a_room_channel_outside_the_answer_is_refused() {
    let t0 = Instant::now();
    let mut room = Room::new(true);
    let mut leg = H323CallLeg::new_incoming(config());
    let tcs = H245Message::TerminalCapabilitySet(room_tcs(&[
        FramedAudio::G722_64k,
        FramedAudio::G711Ulaw64k,
    ]));
    leg.handle_bytes(
        t0,
        &room.setup(
            None,
            vec![
                tcs,
                H245Message::OpenLogicalChannel(room_olc(5, FramedAudio::G722_64k)),
            ],
        ),
    );
    events(&mut leg);
    let sent = room.drain(&mut leg);
    assert!(ack_for(&sent, 5).is_none(), "held while ringing");
    leg.handle_command(t0, LegCommand::Answer(our_offer(vec![cap(0, "PCMU")])));
    let sent = room.drain(&mut leg);
    assert!(
        ack_for(&sent, 5).is_none(),
        "a G.722 channel into a µ-law leg"
    );
    assert!(
        sent.h245.iter().any(|m| matches!(
            m,
            H245Message::OpenLogicalChannelReject {
                forward_logical_channel_number: 5,
                cause: OlcRejectCause::DataTypeNotSupported,
            }
        )),
        "{:?}",
        sent.h245
    );
    let olc = our_olc(&sent).expect("our channel opened");
    assert_eq!(
        olc.forward.data_type,
        DataType::Audio(AudioCapability::Framed(FramedAudio::G711Ulaw64k, 20))
    );
    // A second try in µ-law is acknowledged.
    room.h245(
        &mut leg,
        t0,
        vec![H245Message::OpenLogicalChannel(room_olc(
            6,
            FramedAudio::G711Ulaw64k,
        ))],
    );
    let sent = room.drain(&mut leg);
    assert!(ack_for(&sent, 6).is_some(), "{:?}", sent.h245);
    room.pycrate_accepts();
}
