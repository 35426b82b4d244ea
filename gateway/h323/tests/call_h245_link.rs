//! H.245 on a TCP connection of its own: a peer that does not tunnel names
//! its h245Address (we connect) or leaves it to us (we listen and name
//! ours). The same H.245 machine runs over TPKT on that connection; the
//! release ends the session and closes it; a broken stream or a closed
//! connection ends only this call. Everything the leg sends on either
//! connection is decoded by pycrate too.

mod common;

use std::net::SocketAddr;
use std::time::Instant;

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

const CRV: u16 = 0x0456;
const OUR_RTP: &str = "192.0.2.1:40000";
const ROOM_RTP: &str = "198.51.100.7:5004";
const ROOM_RTCP: &str = "198.51.100.7:5005";
const ROOM_H245: &str = "198.51.100.7:1300";
const OUR_H245: &str = "192.0.2.1:40123";

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

fn ta(s: &str) -> TransportAddress {
    match addr(s) {
        SocketAddr::V4(a) => TransportAddress::ip(a.ip().octets(), a.port()),
        _ => unreachable!(),
    }
}

fn h2250(media: Option<&str>, control: &str) -> H2250LogicalChannelParameters {
    H2250LogicalChannelParameters {
        session_id: 1,
        media_channel: media.map(|m| H245Address::Unicast(addr(m))),
        media_control_channel: Some(H245Address::Unicast(addr(control))),
        ..Default::default()
    }
}

/// PCMA both ways, as a room proposes it.
fn proposals() -> Vec<Vec<u8>> {
    let cap = AudioCapability::Framed(FramedAudio::G711Alaw64k, 20);
    [
        OpenLogicalChannel {
            forward_logical_channel_number: 11,
            forward: ForwardLogicalChannelParameters {
                port_number: None,
                data_type: DataType::Audio(cap.clone()),
                h2250: Some(h2250(None, ROOM_RTCP)),
            },
            reverse: None,
        },
        OpenLogicalChannel {
            forward_logical_channel_number: 21,
            forward: ForwardLogicalChannelParameters {
                port_number: None,
                data_type: DataType::NullData,
                h2250: None,
            },
            reverse: Some(ReverseLogicalChannelParameters {
                data_type: DataType::Audio(cap),
                h2250: Some(h2250(Some(ROOM_RTP), ROOM_RTCP)),
            }),
        },
    ]
    .iter()
    .map(|o| o.encode_fast_start().unwrap())
    .collect()
}

fn media(direction: MediaDirection) -> MediaCaps {
    MediaCaps {
        streams: vec![StreamCaps {
            kind: MediaKind::Audio,
            rtp: Some(addr(OUR_RTP)),
            rtcp: None,
            rtcp_mux: false,
            transport: MediaTransport::Rtp,
            direction,
            codecs: vec![CodecCap {
                payload_type: 8,
                name: "PCMA".into(),
                clock_rate: 8000,
                channels: 1,
                fmtp: None,
            }],
            ptime_ms: Some(20),
            bandwidth_kbps: None,
        }],
    }
}

fn room_tcs() -> TerminalCapabilitySet {
    TerminalCapabilitySet {
        sequence_number: 5,
        protocol_identifier: H245_PROTOCOL_V7.to_vec(),
        multiplex_capability: None,
        capability_table: Some(vec![
            CapabilityTableEntry {
                number: 1,
                capability: Some(Capability::Audio(
                    Direction::Receive,
                    AudioCapability::Framed(FramedAudio::G711Alaw64k, 20),
                )),
            },
            CapabilityTableEntry {
                number: 2,
                capability: Some(Capability::UserInput(
                    Direction::ReceiveAndTransmit,
                    UserInputCapabilityKind::Dtmf,
                )),
            },
        ]),
        capability_descriptors: Some(vec![CapabilityDescriptor {
            number: 0,
            simultaneous_capabilities: Some(vec![vec![1], vec![2]]),
        }]),
    }
}

fn pdu(m: H245Message) -> Vec<u8> {
    tpkt::encode(&m.encode().unwrap()).unwrap()
}

fn events(leg: &mut H323CallLeg) -> Vec<LegEvent> {
    std::iter::from_fn(|| leg.poll_event()).collect()
}

/// The peer of the leg: the signalling it reads, the H.245 connection.
struct Peer {
    /// The leg placed the call (the peer answers with the callee flag).
    callee: bool,
    framer: TpktFramer,
    h245_framer: TpktFramer,
    uu_seen: Vec<Vec<u8>>,
    h245_seen: Vec<Vec<u8>>,
}

struct Got {
    msg: Message,
    uu: H323UserInformation,
}

impl Peer {
    fn new(callee: bool) -> Self {
        Peer {
            callee,
            framer: TpktFramer::new(65535),
            h245_framer: TpktFramer::new(65535),
            uu_seen: Vec::new(),
            h245_seen: Vec::new(),
        }
    }

    /// A message without tunnelling.
    fn frame(&self, mt: MessageType, body: UuBody) -> Vec<u8> {
        let ui = H323UserInformation::new(body);
        let mut m = Message::new(mt, CRV, self.callee);
        m.ies.push(Ie::UserUser {
            protocol_discriminator: UU_PROTOCOL_X208,
            data: ui.encode().unwrap(),
        });
        tpkt::encode(&m.build().unwrap()).unwrap()
    }

    fn setup(&self, h245_address: Option<TransportAddress>, fast_start: bool) -> Vec<u8> {
        self.frame(
            MessageType::Setup,
            UuBody::Setup(SetupUuie {
                protocol_identifier: H225_PROTOCOL_V4.to_vec(),
                h245_address,
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
                fast_start: fast_start.then(proposals),
                media_wait_for_connect: false,
                can_overlap_send: false,
                endpoint_identifier: None,
                multiple_calls: false,
                maintain_connection: false,
            }),
        )
    }

    fn answer(&self, mt: MessageType, h245_address: Option<TransportAddress>) -> Vec<u8> {
        let p = ProceedingUuie {
            protocol_identifier: H225_PROTOCOL_V4.to_vec(),
            destination_info: EndpointType::terminal(),
            h245_address: h245_address.clone(),
            call_identifier: Some(CallIdentifier { guid: [4; 16] }),
            fast_start: None,
            multiple_calls: false,
            maintain_connection: false,
            fast_connect_refused: false,
        };
        let body = match mt {
            MessageType::Alerting => UuBody::Alerting(p),
            MessageType::Connect => UuBody::Connect(ConnectUuie {
                protocol_identifier: H225_PROTOCOL_V4.to_vec(),
                h245_address,
                destination_info: EndpointType::terminal(),
                conference_id: [3; 16],
                call_identifier: Some(CallIdentifier { guid: [4; 16] }),
                fast_start: None,
                multiple_calls: false,
                maintain_connection: false,
                fast_connect_refused: true,
            }),
            _ => UuBody::CallProceeding(p),
        };
        self.frame(mt, body)
    }

    fn drain(&mut self, leg: &mut H323CallLeg) -> Vec<Got> {
        while let Some(f) = leg.poll_transmit() {
            self.framer.push(&f);
        }
        let mut out = Vec::new();
        while let Some(frame) = self.framer.next_frame().unwrap() {
            let msg = Message::parse(&frame).unwrap();
            assert_eq!(msg.call_reference, CRV);
            let uu_bytes = msg.user_user().unwrap().to_vec();
            let uu = H323UserInformation::decode(&uu_bytes).unwrap();
            assert!(!uu.pdu.h245_tunnelling, "we do not tunnel with this peer");
            assert_eq!(uu.pdu.h245_control, None);
            self.uu_seen.push(uu_bytes);
            out.push(Got { msg, uu });
        }
        out
    }

    /// The H.245 actions, with the PDUs of Send decoded.
    fn actions(&mut self, leg: &mut H323CallLeg) -> (Vec<H245Action>, Vec<H245Message>) {
        let mut acts = Vec::new();
        let mut pdus = Vec::new();
        while let Some(a) = leg.poll_h245_action() {
            if let H245Action::Send(f) = &a {
                self.h245_framer.push(f);
                while let Some(p) = self.h245_framer.next_frame().unwrap() {
                    pdus.push(H245Message::decode(&p).unwrap());
                    self.h245_seen.push(p);
                }
                acts.push(H245Action::Send(Vec::new()));
            } else {
                acts.push(a);
            }
        }
        (acts, pdus)
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

fn h245_address_of(got: &Got) -> Option<TransportAddress> {
    match &got.uu.pdu.body {
        UuBody::CallProceeding(p) | UuBody::Alerting(p) => p.h245_address.clone(),
        UuBody::Connect(c) => c.h245_address.clone(),
        UuBody::Facility(f) => f.h245_address.clone(),
        _ => None,
    }
}

#[test]
fn a_caller_naming_its_h245_address_gets_our_connection_and_the_whole_exchange_on_it() {
    let t0 = Instant::now();
    let mut leg = H323CallLeg::new_incoming(config());
    let mut room = Peer::new(false);
    leg.handle_bytes(t0, &room.setup(Some(ta(ROOM_H245)), true));
    assert!(matches!(
        &events(&mut leg)[..],
        [LegEvent::Incoming { offer: Some(_), .. }]
    ));
    let got = room.drain(&mut leg);
    assert_eq!(got[0].msg.message_type, MessageType::CallProceeding);
    let (acts, _) = room.actions(&mut leg);
    assert_eq!(acts, [H245Action::Connect(addr(ROOM_H245))]);
    assert_eq!(leg.h245_transport(), H245Transport::Connecting);

    // bytes before the connection is up are not ours to read
    leg.handle_h245_bytes(t0, &pdu(H245Message::RoundTripDelayRequest(1)));
    leg.h245_connected(t0);
    assert_eq!(leg.h245_transport(), H245Transport::Connected);
    // the room's TCS and MSD arrive in pieces; Fast Start is pending, so
    // nothing of ours goes out yet (H.323 8.1.7.1)
    let mut bytes = pdu(H245Message::TerminalCapabilitySet(room_tcs()));
    bytes.extend(pdu(H245Message::MasterSlaveDetermination {
        terminal_type: 50,
        status_determination_number: 77,
    }));
    bytes.extend(tpkt::encode(&[]).unwrap()); // a keep-alive
    for chunk in bytes.chunks(5) {
        leg.handle_h245_bytes(t0, chunk);
    }
    assert_eq!(room.actions(&mut leg).0, []);
    assert_eq!(leg.remote_capabilities(), Some(&room_tcs()));

    leg.handle_command(t0, LegCommand::Answer(media(MediaDirection::SendRecv)));
    let got = room.drain(&mut leg);
    assert_eq!(got[0].msg.message_type, MessageType::Connect);
    let UuBody::Connect(c) = &got[0].uu.pdu.body else {
        panic!()
    };
    assert!(c.fast_start.is_some());
    assert_eq!(c.h245_address, None, "the room's address is in use");
    let (acts, pdus) = room.actions(&mut leg);
    assert!(
        acts.iter().all(|a| *a == H245Action::Send(Vec::new())),
        "{acts:?}"
    );
    // ours were queued at the Setup, the acks when the room's came
    assert!(matches!(pdus[0], H245Message::TerminalCapabilitySet(_)));
    assert!(matches!(
        pdus[1],
        H245Message::MasterSlaveDetermination { .. }
    ));
    assert_eq!(
        pdus[2..],
        [
            H245Message::TerminalCapabilitySetAck(5),
            H245Message::MasterSlaveDeterminationAck(MsdDecision::Slave)
        ]
    );
    assert_eq!(leg.is_master(), Some(true));

    // commands and indications on the connection map as tunnelled ones do
    let mut bytes = pdu(H245Message::TerminalCapabilitySetAck(1));
    bytes.extend(pdu(H245Message::UserInput(
        UserInputIndication::Alphanumeric("7".into()),
    )));
    bytes.extend(pdu(H245Message::MiscellaneousCommand(
        MiscellaneousCommand {
            logical_channel_number: 11,
            command: MiscCommandType::VideoFastUpdatePicture,
        },
    )));
    bytes.extend(pdu(H245Message::RoundTripDelayRequest(4)));
    leg.handle_h245_bytes(t0, &bytes);
    assert!(leg.capabilities_exchanged());
    assert_eq!(
        events(&mut leg),
        [
            LegEvent::Dtmf {
                digit: '7',
                duration_ms: 100
            },
            LegEvent::KeyframeRequest
        ]
    );
    assert_eq!(
        room.actions(&mut leg).1,
        [H245Message::RoundTripDelayResponse(4)]
    );
    leg.handle_command(
        t0,
        LegCommand::Dtmf {
            digit: '9',
            duration_ms: 200,
        },
    );
    assert!(matches!(
        &room.actions(&mut leg).1[..],
        [H245Message::UserInput(UserInputIndication::Signal {
            signal_type: '9',
            ..
        })]
    ));
    assert!(
        room.drain(&mut leg).is_empty(),
        "nothing rides on H.225.0 any more"
    );

    // our release: endSession and close on H.245, ReleaseComplete on H.225.0
    leg.handle_command(t0, LegCommand::End(Cause::normal_clearing()));
    let (acts, pdus) = room.actions(&mut leg);
    assert_eq!(acts, [H245Action::Send(Vec::new()), H245Action::Close]);
    assert_eq!(
        pdus,
        [H245Message::EndSessionCommand(
            EndSessionCommand::Disconnect
        )]
    );
    let got = room.drain(&mut leg);
    assert_eq!(got[0].msg.message_type, MessageType::ReleaseComplete);
    assert!(leg.is_released());
    assert_eq!(leg.h245_transport(), H245Transport::Closed);
    // a late close report changes nothing
    leg.h245_closed(t0);
    assert!(events(&mut leg).is_empty());
    room.pycrate_accepts();
}

#[test]
fn without_an_address_we_listen_and_name_ours_and_the_peer_closing_it_ends_the_call() {
    let t0 = Instant::now();
    let mut leg = H323CallLeg::new_incoming(config());
    let mut room = Peer::new(false);
    leg.handle_bytes(t0, &room.setup(None, true));
    events(&mut leg);
    assert_eq!(room.actions(&mut leg).0, [H245Action::Listen]);
    assert_eq!(leg.h245_transport(), H245Transport::Listening(None));
    let got = room.drain(&mut leg);
    assert_eq!(got.len(), 1);
    assert_eq!(h245_address_of(&got[0]), None, "not known yet");

    leg.h245_listening(t0, addr(OUR_H245));
    let got = room.drain(&mut leg);
    assert_eq!(got[0].msg.message_type, MessageType::Facility);
    let UuBody::Facility(f) = &got[0].uu.pdu.body else {
        panic!()
    };
    assert_eq!(f.reason, FacilityReason::StartH245);
    assert_eq!(f.h245_address, Some(ta(OUR_H245)));
    assert_eq!(f.call_identifier, Some(CallIdentifier { guid: [9; 16] }));
    // ... and again in our next messages while the room has not come
    leg.handle_command(t0, LegCommand::Progress { early_media: None });
    leg.handle_command(t0, LegCommand::Answer(media(MediaDirection::SendRecv)));
    let got = room.drain(&mut leg);
    let types: Vec<_> = got.iter().map(|g| g.msg.message_type).collect();
    assert_eq!(types, [MessageType::Alerting, MessageType::Connect]);
    assert!(got.iter().all(|g| h245_address_of(g) == Some(ta(OUR_H245))));

    leg.h245_connected(t0);
    let (_, pdus) = room.actions(&mut leg);
    assert!(
        matches!(pdus[0], H245Message::TerminalCapabilitySet(_)),
        "{pdus:?}"
    );
    // once connected our address is no longer named
    leg.handle_command(
        t0,
        LegCommand::Dtmf {
            digit: '1',
            duration_ms: 100,
        },
    );
    assert_eq!(room.actions(&mut leg).1.len(), 1);

    leg.h245_closed(t0);
    let ev = events(&mut leg);
    assert!(
        matches!(&ev[..], [LegEvent::Ended(c)] if c.q850() == Q850::NORMAL_UNSPECIFIED),
        "{ev:?}"
    );
    let got = room.drain(&mut leg);
    assert_eq!(got[0].msg.message_type, MessageType::ReleaseComplete);
    assert_eq!(room.actions(&mut leg).0, [], "nothing to close twice");
    room.pycrate_accepts();
}

#[test]
fn a_broken_h245_stream_or_a_failed_connection_ends_only_when_nothing_else_carries_media() {
    let t0 = Instant::now();
    // not TPKT on H.245: this call is released as a protocol error
    let mut leg = H323CallLeg::new_incoming(config());
    let mut room = Peer::new(false);
    leg.handle_bytes(t0, &room.setup(Some(ta(ROOM_H245)), true));
    events(&mut leg);
    room.drain(&mut leg);
    room.actions(&mut leg);
    leg.h245_connected(t0);
    leg.handle_h245_bytes(t0, b"GET / HTTP/1.1\r\n\r\n");
    let ev = events(&mut leg);
    assert!(
        matches!(&ev[..], [LegEvent::Ended(c)] if c.q850() == Q850::PROTOCOL_ERROR),
        "{ev:?}"
    );
    assert_eq!(room.drain(&mut leg)[0].msg.cause(), Some(111));
    assert_eq!(room.actions(&mut leg).0.last(), Some(&H245Action::Close));

    // the connection to the caller's address fails, but Fast Start
    // carries the media: the call goes on without H.245
    let mut leg = H323CallLeg::new_incoming(config());
    leg.handle_bytes(t0, &room.setup(Some(ta(ROOM_H245)), true));
    events(&mut leg);
    room.drain(&mut leg);
    room.actions(&mut leg);
    leg.h245_closed(t0);
    assert!(events(&mut leg).is_empty());
    assert_eq!(leg.h245_transport(), H245Transport::Closed);
    leg.handle_command(t0, LegCommand::Answer(media(MediaDirection::SendRecv)));
    let got = room.drain(&mut leg);
    assert_eq!(got[0].msg.message_type, MessageType::Connect);
    assert!(!leg.is_released());

    // without Fast Start the call has no media without H.245
    let mut leg = H323CallLeg::new_incoming(config());
    leg.handle_bytes(t0, &room.setup(Some(ta(ROOM_H245)), false));
    events(&mut leg);
    room.drain(&mut leg);
    room.actions(&mut leg);
    leg.h245_closed(t0);
    let ev = events(&mut leg);
    assert!(
        matches!(&ev[..], [LegEvent::Ended(c)] if c.q850() == Q850::BEARER_CAPABILITY_NOT_AVAILABLE),
        "{ev:?}"
    );
    assert_eq!(room.drain(&mut leg)[0].msg.cause(), Some(58));
    room.pycrate_accepts();
}

fn outgoing() -> H323CallLeg {
    H323CallLeg::new_outgoing(
        config(),
        OutgoingCall {
            calling_number: "1001".into(),
            called_aliases: vec![AliasAddress::H323Id("room-2001".into())],
            called_number: Some("2001".into()),
            destination: Some(addr("198.51.100.7:1720")),
            source: None,
            conference_id: [3; 16],
            call_identifier: [4; 16],
            call_reference: CRV,
            offer: media(MediaDirection::SendRecv),
        },
    )
    .unwrap()
}

#[test]
fn a_callee_that_does_not_tunnel_gets_slow_start_on_its_h245_address() {
    let t0 = Instant::now();
    let mut leg = outgoing();
    let mut room = Peer::new(true);
    assert_eq!(room.drain_setup(&mut leg), MessageType::Setup);
    // Alerting names the room's address and says it does not tunnel
    leg.handle_bytes(t0, &room.answer(MessageType::Alerting, Some(ta(ROOM_H245))));
    assert_eq!(
        room.actions(&mut leg).0,
        [H245Action::Connect(addr(ROOM_H245))]
    );
    assert!(matches!(
        &events(&mut leg)[..],
        [LegEvent::Progress { early_media: None }]
    ));
    leg.h245_connected(t0);
    // Connect refuses Fast Start: our TCS and MSD go on the connection
    leg.handle_bytes(t0, &room.answer(MessageType::Connect, None));
    assert!(events(&mut leg).is_empty(), "no media yet");
    let (_, pdus) = room.actions(&mut leg);
    assert!(
        matches!(pdus[0], H245Message::TerminalCapabilitySet(_)),
        "{pdus:?}"
    );
    assert!(matches!(
        pdus[1],
        H245Message::MasterSlaveDetermination { .. }
    ));
    // the room's capabilities: our audio channel opens towards it
    leg.handle_h245_bytes(t0, &pdu(H245Message::TerminalCapabilitySet(room_tcs())));
    let (_, pdus) = room.actions(&mut leg);
    let olc = pdus
        .iter()
        .find_map(|p| match p {
            H245Message::OpenLogicalChannel(o) => Some(o.clone()),
            _ => None,
        })
        .expect("our channel");
    assert_eq!(
        olc.forward.data_type,
        DataType::Audio(AudioCapability::Framed(FramedAudio::G711Alaw64k, 20))
    );
    leg.handle_h245_bytes(
        t0,
        &pdu(H245Message::OpenLogicalChannelAck(OpenLogicalChannelAck {
            forward_logical_channel_number: olc.forward_logical_channel_number,
            reverse: None,
            h2250_ack: Some(H2250LogicalChannelAckParameters {
                session_id: Some(1),
                media_channel: Some(H245Address::Unicast(addr(ROOM_RTP))),
                media_control_channel: Some(H245Address::Unicast(addr(ROOM_RTCP))),
                dynamic_rtp_payload_type: None,
                flow_control_to_zero: false,
            }),
        })),
    );
    let ev = events(&mut leg);
    let [LegEvent::Answer(caps), LegEvent::Answered] = &ev[..] else {
        panic!("{ev:?}")
    };
    assert_eq!(caps.streams[0].rtp, Some(addr(ROOM_RTP)));

    // the room ends the session on H.245: we answer it and release
    leg.handle_h245_bytes(
        t0,
        &pdu(H245Message::EndSessionCommand(
            EndSessionCommand::Disconnect,
        )),
    );
    assert!(matches!(&events(&mut leg)[..], [LegEvent::Ended(_)]));
    let (acts, pdus) = room.actions(&mut leg);
    assert_eq!(
        pdus,
        [H245Message::EndSessionCommand(
            EndSessionCommand::Disconnect
        )],
        "one endSession, not two"
    );
    assert_eq!(acts.last(), Some(&H245Action::Close));
    assert_eq!(
        room.drain(&mut leg)[0].msg.message_type,
        MessageType::ReleaseComplete
    );
    room.pycrate_accepts();
}

#[test]
fn a_callee_naming_no_address_is_told_ours_after_connect() {
    let t0 = Instant::now();
    let mut leg = outgoing();
    let mut room = Peer::new(true);
    room.drain_setup(&mut leg);
    leg.handle_bytes(t0, &room.answer(MessageType::Connect, None));
    assert_eq!(room.actions(&mut leg).0, [H245Action::Listen]);
    assert!(!leg.is_released());
    leg.h245_listening(t0, addr(OUR_H245));
    let got = room.drain(&mut leg);
    assert_eq!(got[0].msg.message_type, MessageType::Facility);
    assert!(!got[0].msg.from_destination);
    assert_eq!(h245_address_of(&got[0]), Some(ta(OUR_H245)));
    // a callee that never comes: the listener gives up, the call goes
    leg.h245_closed(t0);
    let ev = events(&mut leg);
    assert!(
        matches!(&ev[..], [LegEvent::Ended(c)] if c.q850() == Q850::BEARER_CAPABILITY_NOT_AVAILABLE),
        "{ev:?}"
    );
    room.pycrate_accepts();
}

impl Peer {
    /// Reads our Setup (sent without tunnelling? no: we offer it) and
    /// returns its type; the Setup is not checked for tunnelling.
    fn drain_setup(&mut self, leg: &mut H323CallLeg) -> MessageType {
        let f = leg.poll_transmit().unwrap();
        self.framer.push(&f);
        let frame = self.framer.next_frame().unwrap().unwrap();
        let msg = Message::parse(&frame).unwrap();
        self.uu_seen.push(msg.user_user().unwrap().to_vec());
        msg.message_type
    }
}

#[test]
fn arbitrary_bytes_on_the_h245_connection_never_panic_the_leg() {
    let t0 = Instant::now();
    let room = Peer::new(false);
    let setup = room.setup(Some(ta(ROOM_H245)), true);
    let mut stream = pdu(H245Message::TerminalCapabilitySet(room_tcs()));
    stream.extend(pdu(H245Message::OpenLogicalChannel(
        OpenLogicalChannel::decode_fast_start(&proposals()[0]).unwrap(),
    )));
    for i in 0..stream.len() * 8 {
        let mut b = stream.clone();
        b[i / 8] ^= 0x80 >> (i % 8);
        let mut leg = H323CallLeg::new_incoming(config());
        leg.handle_bytes(t0, &setup);
        leg.h245_connected(t0);
        leg.handle_command(t0, LegCommand::Answer(media(MediaDirection::SendRecv)));
        leg.handle_h245_bytes(t0, &b);
        while leg.poll_transmit().is_some() {}
        while leg.poll_event().is_some() {}
        while leg.poll_h245_action().is_some() {}
        leg.h245_closed(t0);
    }
}

#[test]
fn the_peers_release_closes_the_h245_connection_without_ending_the_session_again() {
    let t0 = Instant::now();
    let mut leg = H323CallLeg::new_incoming(config());
    let mut room = Peer::new(false);
    leg.handle_bytes(t0, &room.setup(Some(ta(ROOM_H245)), true));
    leg.h245_connected(t0);
    leg.handle_command(t0, LegCommand::Answer(media(MediaDirection::SendRecv)));
    room.drain(&mut leg);
    room.actions(&mut leg);
    events(&mut leg);
    let rc = room.frame(
        MessageType::ReleaseComplete,
        UuBody::ReleaseComplete(ReleaseCompleteUuie {
            protocol_identifier: H225_PROTOCOL_V4.to_vec(),
            reason: None,
            call_identifier: Some(CallIdentifier { guid: [9; 16] }),
        }),
    );
    leg.handle_bytes(t0, &rc);
    assert!(leg.is_released());
    assert_eq!(
        events(&mut leg),
        [LegEvent::Ended(Cause::normal_clearing())]
    );
    assert_eq!(room.actions(&mut leg), (vec![H245Action::Close], vec![]));
    assert!(room.drain(&mut leg).is_empty());
}

#[test]
fn a_flood_of_requests_while_fast_start_is_pending_is_bounded() {
    let t0 = Instant::now();
    let mut leg = H323CallLeg::new_incoming(config());
    let room = Peer::new(false);
    leg.handle_bytes(t0, &room.setup(Some(ta(ROOM_H245)), true));
    leg.h245_connected(t0);
    let mut bytes = Vec::new();
    for i in 0..1000u32 {
        bytes.extend(pdu(H245Message::RoundTripDelayRequest(i as u8)));
    }
    leg.handle_h245_bytes(t0, &bytes);
    assert!(leg.stats().h245_dropped > 800, "{:?}", leg.stats());
    leg.handle_command(t0, LegCommand::Answer(media(MediaDirection::SendRecv)));
    let sent = std::iter::from_fn(|| leg.poll_h245_action())
        .filter(|a| matches!(a, H245Action::Send(_)))
        .count();
    assert!(sent <= 128, "{sent} PDUs held back and sent");
}
