//! H323CallLeg against a calling room simulated with the crate's own
//! encoders, on a virtual clock: Fast Start offer and answer, tunnelled
//! TCS/MSD, user input, fast update, release both ways, Status, timers.
//! Every PDU the leg sends is also decoded by pycrate.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{hex, oracle};
use gateway_callmodel::{
    AudioCodec, Cause, CodecCap, Direction as MediaDirection, H225ReleaseReason, LegCommand,
    LegEvent, MediaCaps, MediaKind, MediaTransport, StreamCaps, Q850,
};
use gateway_h323::call::*;
use gateway_h323::h225::*;
use gateway_h323::h245::*;
use gateway_h323::q931::{Ie, Message, MessageType, PartyNumber, UU_PROTOCOL_X208};
use gateway_h323::tpkt::{self, TpktFramer};

const CRV: u16 = 0x1234;
const ROOM_RTP: &str = "198.51.100.7:5004";
const ROOM_RTCP: &str = "198.51.100.7:5005";
const OUR_RTP: &str = "192.0.2.1:40000";

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
        version_id: Some(b"0.1".to_vec()),
        enterprise_number: None,
    }
}

fn leg() -> H323CallLeg {
    H323CallLeg::new_incoming(CallLegConfig::new(vendor(), 0x00AB_CDEF))
}

fn h2250(media: Option<&str>, control: &str) -> H2250LogicalChannelParameters {
    H2250LogicalChannelParameters {
        session_id: 1,
        media_channel: media.map(|m| H245Address::Unicast(addr(m))),
        media_control_channel: Some(H245Address::Unicast(addr(control))),
        ..Default::default()
    }
}

/// Fast Start proposals as a room sends them: per codec one channel from
/// the room and one towards it.
fn proposals() -> Vec<OpenLogicalChannel> {
    let mut v = Vec::new();
    for (i, f) in [
        FramedAudio::G711Ulaw64k,
        FramedAudio::G711Alaw64k,
        FramedAudio::G729,
    ]
    .into_iter()
    .enumerate()
    {
        let cap = AudioCapability::Framed(f, 20);
        v.push(OpenLogicalChannel {
            forward_logical_channel_number: 10 + i as u16,
            forward: ForwardLogicalChannelParameters {
                port_number: None,
                data_type: DataType::Audio(cap.clone()),
                h2250: Some(h2250(None, ROOM_RTCP)),
            },
            reverse: None,
        });
        v.push(OpenLogicalChannel {
            forward_logical_channel_number: 20 + i as u16,
            forward: ForwardLogicalChannelParameters {
                port_number: None,
                data_type: DataType::NullData,
                h2250: None,
            },
            reverse: Some(ReverseLogicalChannelParameters {
                data_type: DataType::Audio(cap),
                h2250: Some(h2250(Some(ROOM_RTP), ROOM_RTCP)),
            }),
        });
    }
    v
}

fn room_tcs() -> TerminalCapabilitySet {
    TerminalCapabilitySet {
        sequence_number: 3,
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

fn h245(m: H245Message) -> Vec<u8> {
    m.encode().unwrap()
}

/// The calling room: frames what it sends, decodes what it gets.
struct Room {
    framer: TpktFramer,
    /// Every H323-UserInformation and tunnelled H.245 PDU received.
    uu_seen: Vec<Vec<u8>>,
    h245_seen: Vec<Vec<u8>>,
}

struct Got {
    msg: Message,
    uu: H323UserInformation,
    h245: Vec<H245Message>,
}

impl Room {
    fn new() -> Self {
        Room {
            framer: TpktFramer::new(65535),
            uu_seen: Vec::new(),
            h245_seen: Vec::new(),
        }
    }

    fn frame(mt: MessageType, body: UuBody, h245: Vec<Vec<u8>>, ies: Vec<Ie>) -> Vec<u8> {
        let mut ui = H323UserInformation::new(body);
        ui.pdu.h245_tunnelling = true;
        if !h245.is_empty() {
            ui.pdu.h245_control = Some(h245);
        }
        let mut m = Message::new(mt, CRV, false);
        m.ies = ies;
        m.ies.push(Ie::UserUser {
            protocol_discriminator: UU_PROTOCOL_X208,
            data: ui.encode().unwrap(),
        });
        tpkt::encode(&m.build().unwrap()).unwrap()
    }

    fn setup(fast_start: bool, h245: Vec<Vec<u8>>) -> Vec<u8> {
        let body = UuBody::Setup(SetupUuie {
            protocol_identifier: H225_PROTOCOL_V4.to_vec(),
            h245_address: None,
            source_address: Some(vec![AliasAddress::H323Id("room-2001".into())]),
            source_info: EndpointType::terminal(),
            destination_address: Some(vec![AliasAddress::DialedDigits("1001".into())]),
            dest_call_signal_address: Some(TransportAddress::ip([192, 0, 2, 1], 1720)),
            dest_extra_call_info: None,
            active_mc: false,
            conference_id: [7; 16],
            conference_goal: ConferenceGoal::Create,
            call_type: CallType::PointToPoint,
            source_call_signal_address: Some(TransportAddress::ip([198, 51, 100, 7], 1720)),
            call_identifier: Some(CallIdentifier { guid: [9; 16] }),
            fast_start: fast_start.then(|| {
                proposals()
                    .iter()
                    .map(|o| o.encode_fast_start().unwrap())
                    .collect()
            }),
            media_wait_for_connect: false,
            can_overlap_send: false,
            endpoint_identifier: Some("CITY-GK-000001".into()),
            multiple_calls: false,
            maintain_connection: false,
        });
        let calling = Ie::CallingPartyNumber(PartyNumber {
            type_of_number: 0,
            numbering_plan: 1,
            presentation: Some((0, 0)),
            digits: "2001".into(),
        });
        Self::frame(MessageType::Setup, body, h245, vec![calling])
    }

    fn facility(h245: Vec<Vec<u8>>) -> Vec<u8> {
        Self::frame(MessageType::Facility, UuBody::Empty, h245, Vec::new())
    }

    fn drain(&mut self, leg: &mut H323CallLeg) -> Vec<Got> {
        let mut out = Vec::new();
        while let Some(f) = leg.poll_transmit() {
            self.framer.push(&f);
        }
        while let Some(frame) = self.framer.next_frame().unwrap() {
            let msg = Message::parse(&frame).unwrap();
            assert_eq!(msg.call_reference, CRV);
            assert!(msg.from_destination, "our messages carry the flag");
            let uu_bytes = msg.user_user().unwrap().to_vec();
            let uu = H323UserInformation::decode(&uu_bytes).unwrap();
            self.uu_seen.push(uu_bytes);
            let h245 = uu
                .pdu
                .h245_control
                .iter()
                .flatten()
                .map(|p| {
                    self.h245_seen.push(p.clone());
                    H245Message::decode(p).unwrap()
                })
                .collect();
            out.push(Got { msg, uu, h245 });
        }
        out
    }
}

fn events(leg: &mut H323CallLeg) -> Vec<LegEvent> {
    std::iter::from_fn(|| leg.poll_event()).collect()
}

fn our_answer() -> MediaCaps {
    MediaCaps {
        streams: vec![StreamCaps {
            kind: MediaKind::Audio,
            rtp: Some(addr(OUR_RTP)),
            rtcp: None,
            rtcp_mux: false,
            transport: MediaTransport::Rtp,
            direction: MediaDirection::SendRecv,
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

#[test]
fn fast_start_call_is_answered_negotiates_h245_gets_dtmf_and_is_released_by_the_room() {
    let t0 = Instant::now();
    let mut leg = leg();
    let mut room = Room::new();

    let setup = Room::setup(
        true,
        vec![
            h245(H245Message::TerminalCapabilitySet(room_tcs())),
            h245(H245Message::MasterSlaveDetermination {
                terminal_type: 50,
                status_determination_number: 0x123,
            }),
        ],
    );
    // TCP delivers in arbitrary pieces
    for chunk in setup.chunks(7) {
        leg.handle_bytes(t0, chunk);
    }
    let ev = events(&mut leg);
    let [LegEvent::Incoming { target, offer }] = &ev[..] else {
        panic!("expected Incoming, got {ev:?}")
    };
    assert_eq!(target, "1001");
    let offer = offer.as_ref().expect("a Fast Start offer");
    let s = &offer.streams[0];
    assert_eq!(s.kind, MediaKind::Audio);
    assert_eq!(s.rtp, Some(addr(ROOM_RTP)));
    assert_eq!(s.rtcp, Some(addr(ROOM_RTCP)));
    assert_eq!(s.direction, MediaDirection::SendRecv);
    let codecs: Vec<_> = s
        .codecs
        .iter()
        .map(|c| (c.payload_type, c.audio_codec()))
        .collect();
    assert_eq!(
        codecs,
        vec![(0, Some(AudioCodec::Pcmu)), (8, Some(AudioCodec::Pcma))],
        "G.729 is not offered: the bridge cannot transcode it"
    );
    assert_eq!(
        leg.caller_aliases(),
        &[AliasAddress::H323Id("room-2001".into())]
    );
    assert_eq!(leg.calling_number(), Some("2001"));
    assert_eq!(leg.endpoint_identifier(), Some("CITY-GK-000001"));

    // CallProceeding at once, without fastStart and without H.245 (which
    // would make the room give up Fast Start)
    let got = room.drain(&mut leg);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].msg.message_type, MessageType::CallProceeding);
    let UuBody::CallProceeding(p) = &got[0].uu.pdu.body else {
        panic!("{:?}", got[0].uu.pdu.body)
    };
    assert_eq!(p.fast_start, None);
    assert!(got[0].h245.is_empty());
    assert!(got[0].uu.pdu.h245_tunnelling);

    leg.handle_command(t0, LegCommand::Progress { early_media: None });
    let got = room.drain(&mut leg);
    assert_eq!(got[0].msg.message_type, MessageType::Alerting);
    assert!(got[0].h245.is_empty(), "Fast Start still pending");
    assert_eq!(leg.state(), CallState::Ringing);

    leg.handle_command(
        t0 + Duration::from_secs(3),
        LegCommand::Answer(our_answer()),
    );
    let got = room.drain(&mut leg);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].msg.message_type, MessageType::Connect);
    let UuBody::Connect(c) = &got[0].uu.pdu.body else {
        panic!()
    };
    assert_eq!(c.conference_id, [7; 16]);
    let fs: Vec<_> = c
        .fast_start
        .as_ref()
        .expect("fastStart answer")
        .iter()
        .map(|b| OpenLogicalChannel::decode_fast_start(b).unwrap())
        .collect();
    assert_eq!(fs.len(), 2);
    // the room's G.711 A-law channel, now with where we receive it
    assert_eq!(fs[0].forward_logical_channel_number, 11);
    assert_eq!(
        fs[0].forward.h2250.as_ref().unwrap().media_channel,
        Some(H245Address::Unicast(addr(OUR_RTP)))
    );
    assert_eq!(
        fs[0].forward.h2250.as_ref().unwrap().media_control_channel,
        Some(H245Address::Unicast(addr("192.0.2.1:40001")))
    );
    // our channel towards the room, A-law to its address
    assert_eq!(fs[1].forward.data_type, DataType::NullData);
    let rev = fs[1].reverse.as_ref().unwrap();
    assert_eq!(
        rev.data_type,
        DataType::Audio(AudioCapability::Framed(FramedAudio::G711Alaw64k, 20))
    );
    assert_eq!(
        rev.h2250.as_ref().unwrap().media_channel,
        Some(H245Address::Unicast(addr(ROOM_RTP)))
    );
    // H.245 rides with the fastStart answer: acks to the room, then ours
    assert_eq!(
        got[0].h245[..2],
        [
            H245Message::TerminalCapabilitySetAck(3),
            H245Message::MasterSlaveDeterminationAck(MsdDecision::Slave),
        ]
    );
    assert!(matches!(
        got[0].h245[2],
        H245Message::TerminalCapabilitySet(_)
    ));
    assert!(matches!(
        got[0].h245[3],
        H245Message::MasterSlaveDetermination {
            terminal_type: 60,
            ..
        }
    ));
    assert_eq!(leg.is_master(), Some(true), "a gateway outranks a terminal");
    assert_eq!(leg.state(), CallState::Active);

    // the room acknowledges ours, sends a digit and asks for a keyframe
    leg.handle_bytes(
        t0 + Duration::from_secs(4),
        &Room::facility(vec![
            h245(H245Message::TerminalCapabilitySetAck(1)),
            h245(H245Message::MasterSlaveDeterminationAck(
                MsdDecision::Master,
            )),
            h245(H245Message::UserInput(UserInputIndication::Signal {
                signal_type: '5',
                duration: Some(240),
                rtp: None,
            })),
            h245(H245Message::MiscellaneousCommand(MiscellaneousCommand {
                logical_channel_number: 2,
                command: MiscCommandType::VideoFastUpdatePicture,
            })),
            h245(H245Message::RoundTripDelayRequest(9)),
        ]),
    );
    assert!(leg.capabilities_exchanged());
    assert_eq!(
        events(&mut leg),
        vec![
            LegEvent::Dtmf {
                digit: '5',
                duration_ms: 240
            },
            LegEvent::KeyframeRequest
        ]
    );
    let got = room.drain(&mut leg);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].msg.message_type, MessageType::Facility);
    assert_eq!(got[0].uu.pdu.body, UuBody::Empty);
    assert_eq!(got[0].h245, vec![H245Message::RoundTripDelayResponse(9)]);

    // a digit from the far side goes as a DTMF signal (the room's TCS has dtmf)
    leg.handle_command(
        t0 + Duration::from_secs(5),
        LegCommand::Dtmf {
            digit: '#',
            duration_ms: 160,
        },
    );
    let got = room.drain(&mut leg);
    assert_eq!(
        got[0].h245,
        vec![H245Message::UserInput(UserInputIndication::Signal {
            signal_type: '#',
            duration: Some(160),
            rtp: None
        })]
    );

    // StatusEnquiry is answered with our state
    leg.handle_bytes(
        t0 + Duration::from_secs(6),
        &Room::frame(
            MessageType::StatusEnquiry,
            UuBody::StatusInquiry(CallIdUuie {
                protocol_identifier: H225_PROTOCOL_V4.to_vec(),
                call_identifier: CallIdentifier { guid: [9; 16] },
            }),
            vec![],
            vec![],
        ),
    );
    let got = room.drain(&mut leg);
    assert_eq!(got[0].msg.message_type, MessageType::Status);
    assert_eq!(got[0].msg.cause(), Some(30));
    assert!(got[0].msg.ies.contains(&Ie::Other {
        id: 0x14,
        data: vec![10]
    }));

    // the room hangs up busy-ish: its Q.850 cause reaches the owner
    leg.handle_bytes(
        t0 + Duration::from_secs(60),
        &Room::frame(
            MessageType::ReleaseComplete,
            UuBody::ReleaseComplete(ReleaseCompleteUuie {
                protocol_identifier: H225_PROTOCOL_V4.to_vec(),
                reason: Some(ReleaseCompleteReason::Reason(
                    H225ReleaseReason::UndefinedReason,
                )),
                call_identifier: Some(CallIdentifier { guid: [9; 16] }),
            }),
            vec![],
            vec![Ie::Cause {
                coding_standard: 0,
                location: 0,
                value: 16,
                diagnostics: vec![],
            }],
        ),
    );
    assert_eq!(
        events(&mut leg),
        vec![LegEvent::Ended(Cause::new(Q850::NORMAL_CLEARING))]
    );
    assert!(leg.is_released());
    assert_eq!(leg.poll_timeout(), None);
    assert!(room.drain(&mut leg).is_empty(), "nothing answers a release");

    pycrate_accepts(&room);
}

/// Every UU-PDU and H.245 PDU the leg sent decodes in pycrate.
fn pycrate_accepts(room: &Room) {
    let input: String = room
        .uu_seen
        .iter()
        .enumerate()
        .map(|(i, b)| format!("uu{i} {}\n", hex(b)))
        .collect();
    for (res, b) in oracle("uu-check", &input).iter().zip(&room.uu_seen) {
        assert!(res.get("error").is_none(), "pycrate: {res} for {}", hex(b));
        let ours = H323UserInformation::decode(b).unwrap();
        assert_eq!(
            res.pointer("/value/h323-uu-pdu/h323-message-body/0")
                .and_then(|v| v.as_str()),
            Some(ours.pdu.body.name())
        );
    }
    let input: String = room
        .h245_seen
        .iter()
        .enumerate()
        .map(|(i, b)| format!("h{i} {}\n", hex(b)))
        .collect();
    let results = oracle("h245-check", &input);
    assert_eq!(results.len(), room.h245_seen.len());
    for (res, b) in results.iter().zip(&room.h245_seen) {
        assert!(res.get("error").is_none(), "pycrate: {res} for {}", hex(b));
    }
    assert!(room.h245_seen.len() >= 6);
}

fn release_of(got: &Got) -> (H225ReleaseReason, Option<u8>) {
    assert_eq!(got.msg.message_type, MessageType::ReleaseComplete);
    let UuBody::ReleaseComplete(r) = &got.uu.pdu.body else {
        panic!()
    };
    (
        r.reason.as_ref().and_then(|r| r.reason()).unwrap(),
        got.msg.cause(),
    )
}

#[test]
fn owner_release_slow_start_and_timers() {
    let t0 = Instant::now();

    // the owner rejects a call: busy goes out as Q.850 17 and its H.225 reason
    let mut l = leg();
    let mut room = Room::new();
    l.handle_bytes(t0, &Room::setup(true, vec![]));
    events(&mut l);
    room.drain(&mut l);
    l.handle_command(t0, LegCommand::End(Cause::new(Q850::USER_BUSY)));
    let got = room.drain(&mut l);
    assert_eq!(
        release_of(&got[0]),
        (H225ReleaseReason::from_q850(Q850::USER_BUSY), Some(17))
    );
    assert!(l.is_released());
    assert!(events(&mut l).is_empty(), "the owner knows why it ended");

    // a cause that came from H.323 keeps its reason on the way out
    let mut l = leg();
    l.handle_bytes(t0, &Room::setup(true, vec![]));
    room.drain(&mut l);
    l.handle_command(
        t0,
        LegCommand::End(Cause::from_h225(H225ReleaseReason::NoPermission)),
    );
    let got = room.drain(&mut l);
    assert_eq!(release_of(&got[0]).0, H225ReleaseReason::NoPermission);

    // slow start: no offer, and H.245 flows at once with CallProceeding
    let mut l = leg();
    l.handle_bytes(t0, &Room::setup(false, vec![]));
    assert_eq!(
        events(&mut l),
        vec![LegEvent::Incoming {
            target: "1001".into(),
            offer: None
        }]
    );
    let got = room.drain(&mut l);
    assert_eq!(got[0].msg.message_type, MessageType::CallProceeding);
    assert!(matches!(
        got[0].h245[0],
        H245Message::TerminalCapabilitySet(_)
    ));
    l.handle_command(t0, LegCommand::Answer(our_answer()));
    let got = room.drain(&mut l);
    let UuBody::Connect(c) = &got[0].uu.pdu.body else {
        panic!()
    };
    assert_eq!(c.fast_start, None);
    // the room opens its audio channel over H.245: we acknowledge with our address
    let olc = OpenLogicalChannel {
        forward_logical_channel_number: 5,
        forward: ForwardLogicalChannelParameters {
            port_number: None,
            data_type: DataType::Audio(AudioCapability::Framed(FramedAudio::G711Alaw64k, 20)),
            h2250: Some(h2250(None, ROOM_RTCP)),
        },
        reverse: None,
    };
    l.handle_bytes(
        t0,
        &Room::facility(vec![h245(H245Message::OpenLogicalChannel(olc))]),
    );
    let got = room.drain(&mut l);
    match &got[0].h245[..] {
        [H245Message::OpenLogicalChannelAck(a)] => {
            assert_eq!(a.forward_logical_channel_number, 5);
            assert_eq!(
                a.h2250_ack.as_ref().unwrap().media_channel,
                Some(H245Address::Unicast(addr(OUR_RTP)))
            );
        }
        h => panic!("expected OLC ack, got {h:?}"),
    }
    // the room ends the session with H.245 EndSession
    l.handle_bytes(
        t0,
        &Room::facility(vec![h245(H245Message::EndSessionCommand(
            EndSessionCommand::Disconnect,
        ))]),
    );
    assert_eq!(
        events(&mut l),
        vec![LegEvent::Ended(Cause::normal_clearing())]
    );
    let got = room.drain(&mut l);
    assert_eq!(release_of(&got[0]).1, Some(16));
    assert_eq!(
        got[0].h245,
        vec![H245Message::EndSessionCommand(
            EndSessionCommand::Disconnect
        )]
    );

    // nobody answers: the no-answer timer releases with Q.850 19
    let mut l = leg();
    l.handle_bytes(t0, &Room::setup(true, vec![]));
    events(&mut l);
    room.drain(&mut l);
    let deadline = l.poll_timeout().expect("answer timer");
    assert_eq!(deadline, t0 + Duration::from_secs(180));
    l.handle_timeout(deadline - Duration::from_secs(1));
    assert!(events(&mut l).is_empty());
    l.handle_timeout(deadline);
    assert_eq!(
        events(&mut l),
        vec![LegEvent::Ended(Cause::new(Q850::NO_ANSWER))]
    );
    let got = room.drain(&mut l);
    assert_eq!(release_of(&got[0]).1, Some(19));

    // garbage inside a TPKT: the call is released as an invalid message
    let mut l = leg();
    l.handle_bytes(t0, &Room::setup(true, vec![]));
    events(&mut l);
    room.drain(&mut l);
    l.handle_bytes(
        t0,
        &tpkt::encode(&[0x08, 0x02, 0x12, 0x34, 0x7E, 0x00]).unwrap(),
    );
    let ev = events(&mut l);
    assert!(
        matches!(&ev[..], [LegEvent::Ended(c)] if c.q850() == Q850::INVALID_MESSAGE),
        "{ev:?}"
    );
    let got = room.drain(&mut l);
    assert_eq!(release_of(&got[0]).1, Some(95));

    pycrate_accepts(&room);
}

#[test]
fn arbitrary_bytes_never_panic_the_leg() {
    let t0 = Instant::now();
    let setup = Room::setup(
        true,
        vec![h245(H245Message::TerminalCapabilitySet(room_tcs()))],
    );
    for i in 0..setup.len() * 8 {
        let mut b = setup.clone();
        b[i / 8] ^= 0x80 >> (i % 8);
        let mut l = leg();
        l.handle_bytes(t0, &b);
        while l.poll_transmit().is_some() {}
        while l.poll_event().is_some() {}
    }
    for n in 0..setup.len() {
        let mut l = leg();
        l.handle_bytes(t0, &setup[..n]);
        assert!(l.poll_event().is_none() || n == setup.len());
    }
}

#[test]
fn undecodable_uu_pdu_in_the_first_setup_is_refused_on_the_callers_crv() {
    let t0 = Instant::now();
    let mut m = Message::new(MessageType::Setup, CRV, false);
    m.ies.push(Ie::UserUser {
        protocol_discriminator: UU_PROTOCOL_X208,
        data: vec![0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x01],
    });
    let mut l = leg();
    l.handle_bytes(t0, &tpkt::encode(&m.build().unwrap()).unwrap());
    let ev = events(&mut l);
    assert!(
        matches!(&ev[..], [LegEvent::Ended(c)] if c.q850() == Q850::INVALID_MESSAGE),
        "{ev:?}"
    );
    // Room::drain asserts the call reference is the caller's
    let got = Room::new().drain(&mut l);
    assert_eq!(release_of(&got[0]).1, Some(95));
    assert!(l.is_released());
}
