//! H323CallLeg placing a call: our Setup with Fast Start proposals from the
//! owner's offer, a simulated answering room (the crate's own encoders),
//! its answers as neutral events, tunnelled TCS/MSD after Connect, user
//! input both ways and release both ways. What the leg sends is also
//! decoded by pycrate.

mod common;

use std::net::SocketAddr;
use std::time::Instant;

use common::{hex, oracle};
use gateway_callmodel::{
    AudioCodec, Cause, CodecCap, Direction as MediaDirection, H225ReleaseReason, LegCommand,
    LegEvent, MediaCaps, MediaKind, MediaTransport, StreamCaps, Q850,
};
use gateway_h323::call::*;
use gateway_h323::h225::*;
use gateway_h323::h245::*;
use gateway_h323::q931::{Ie, Message, MessageType, UU_PROTOCOL_X208};
use gateway_h323::tpkt::{self, TpktFramer};

const CRV: u16 = 0x0321;
const OUR_RTP: &str = "192.0.2.1:40000";
const OUR_RTCP: &str = "192.0.2.1:40001";
const ROOM_RTP: &str = "198.51.100.7:5004";
const ROOM_RTCP: &str = "198.51.100.7:5005";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn vendor() -> VendorIdentifier {
    VendorIdentifier {
        vendor: H221NonStandard {
            t35_country_code: 181,
            t35_extension: 0,
            manufacturer_code: 0,
        },
        product_id: Some(b"gateway".to_vec()),
        version_id: Some(b"0.1".to_vec()),
        enterprise_number: None,
    }
}

fn cap(pt: u8, name: &str, rate: u32) -> CodecCap {
    CodecCap {
        payload_type: pt,
        name: name.into(),
        clock_rate: rate,
        channels: 1,
        fmtp: None,
    }
}

/// The bridge's offer to the callee: Opus first (not proposable), then
/// G.722, PCMU, PCMA and telephone-event.
fn offer() -> MediaCaps {
    MediaCaps {
        streams: vec![StreamCaps {
            kind: MediaKind::Audio,
            rtp: Some(addr(OUR_RTP)),
            rtcp: Some(addr(OUR_RTCP)),
            rtcp_mux: false,
            transport: MediaTransport::Rtp,
            direction: MediaDirection::SendRecv,
            codecs: vec![
                cap(111, "opus", 48000),
                cap(9, "G722", 8000),
                cap(0, "PCMU", 8000),
                cap(8, "PCMA", 8000),
                cap(101, "telephone-event", 8000),
            ],
            ptime_ms: Some(20),
            bandwidth_kbps: None,
        }],
    }
}

fn call(offer: MediaCaps) -> OutgoingCall {
    OutgoingCall {
        calling_number: "1001".into(),
        called_aliases: vec![
            AliasAddress::DialedDigits("2001".into()),
            AliasAddress::H323Id("room-2001".into()),
        ],
        called_number: Some("2001".into()),
        destination: Some(addr("198.51.100.7:1720")),
        source: Some(addr("192.0.2.1:1720")),
        conference_id: [3; 16],
        call_identifier: [4; 16],
        call_reference: CRV,
        offer,
    }
}

fn leg() -> H323CallLeg {
    H323CallLeg::new_outgoing(CallLegConfig::new(vendor(), 0x0012_3456), call(offer())).unwrap()
}

struct Got {
    msg: Message,
    uu: H323UserInformation,
    h245: Vec<H245Message>,
}

/// The answering room: frames what it sends, decodes what it gets.
struct Room {
    framer: TpktFramer,
    uu_seen: Vec<Vec<u8>>,
    h245_seen: Vec<Vec<u8>>,
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
        let mut m = Message::new(mt, CRV, true);
        m.ies = ies;
        m.ies.push(Ie::UserUser {
            protocol_discriminator: UU_PROTOCOL_X208,
            data: ui.encode().unwrap(),
        });
        tpkt::encode(&m.build().unwrap()).unwrap()
    }

    fn proceeding(fast_start: Option<Vec<Vec<u8>>>) -> ProceedingUuie {
        ProceedingUuie {
            protocol_identifier: H225_PROTOCOL_V4.to_vec(),
            destination_info: EndpointType::terminal(),
            h245_address: None,
            call_identifier: Some(CallIdentifier { guid: [4; 16] }),
            fast_start,
            multiple_calls: false,
            maintain_connection: false,
            fast_connect_refused: false,
        }
    }

    fn connect(fast_start: Option<Vec<Vec<u8>>>, h245: Vec<Vec<u8>>) -> Vec<u8> {
        let body = UuBody::Connect(ConnectUuie {
            protocol_identifier: H225_PROTOCOL_V4.to_vec(),
            h245_address: None,
            destination_info: EndpointType::terminal(),
            conference_id: [3; 16],
            call_identifier: Some(CallIdentifier { guid: [4; 16] }),
            fast_start,
            multiple_calls: false,
            maintain_connection: false,
            fast_connect_refused: false,
        });
        Self::frame(MessageType::Connect, body, h245, vec![])
    }

    fn facility(h245: Vec<Vec<u8>>) -> Vec<u8> {
        Self::frame(MessageType::Facility, UuBody::Empty, h245, vec![])
    }

    fn release(q850: Option<u8>, reason: H225ReleaseReason) -> Vec<u8> {
        let body = UuBody::ReleaseComplete(ReleaseCompleteUuie {
            protocol_identifier: H225_PROTOCOL_V4.to_vec(),
            reason: Some(ReleaseCompleteReason::Reason(reason)),
            call_identifier: Some(CallIdentifier { guid: [4; 16] }),
        });
        let ies = q850
            .map(|value| Ie::Cause {
                coding_standard: 0,
                location: 0,
                value,
                diagnostics: vec![],
            })
            .into_iter()
            .collect();
        Self::frame(MessageType::ReleaseComplete, body, vec![], ies)
    }

    fn drain(&mut self, leg: &mut H323CallLeg) -> Vec<Got> {
        while let Some(f) = leg.poll_transmit() {
            self.framer.push(&f);
        }
        let mut out = Vec::new();
        while let Some(frame) = self.framer.next_frame().unwrap() {
            let msg = Message::parse(&frame).unwrap();
            assert_eq!(msg.call_reference, CRV);
            assert!(!msg.from_destination, "we allocated the call reference");
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

    /// pycrate decodes every UU-PDU and H.245 PDU the leg sent, and the
    /// same message alternative as ours.
    fn pycrate_accepts(&self) {
        let input: String = self
            .uu_seen
            .iter()
            .enumerate()
            .map(|(i, b)| format!("uu{i} {}\n", hex(b)))
            .collect();
        let results = oracle("uu-check", &input);
        assert_eq!(results.len(), self.uu_seen.len());
        for (res, b) in results.iter().zip(&self.uu_seen) {
            assert!(res.get("error").is_none(), "pycrate: {res} for {}", hex(b));
            let ours = H323UserInformation::decode(b).unwrap();
            assert_eq!(
                res.pointer("/value/h323-uu-pdu/h323-message-body/0")
                    .and_then(|v| v.as_str()),
                Some(ours.pdu.body.name())
            );
        }
        let input: String = self
            .h245_seen
            .iter()
            .enumerate()
            .map(|(i, b)| format!("h{i} {}\n", hex(b)))
            .collect();
        for (res, b) in oracle("h245-check", &input).iter().zip(&self.h245_seen) {
            assert!(res.get("error").is_none(), "pycrate: {res} for {}", hex(b));
        }
    }
}

fn events(leg: &mut H323CallLeg) -> Vec<LegEvent> {
    std::iter::from_fn(|| leg.poll_event()).collect()
}

fn h245(m: H245Message) -> Vec<u8> {
    m.encode().unwrap()
}

/// The room accepts `codec`: it receives our channel at ROOM_RTP and sends
/// us its own.
fn room_accepts(setup: &SetupUuie, codec: FramedAudio) -> Vec<Vec<u8>> {
    let olcs: Vec<_> = setup
        .fast_start
        .as_ref()
        .unwrap()
        .iter()
        .map(|b| OpenLogicalChannel::decode_fast_start(b).unwrap())
        .collect();
    let ours_tx = olcs
        .iter()
        .find(|o| {
            o.reverse.is_none()
                && o.forward.data_type == DataType::Audio(AudioCapability::Framed(codec, 20))
        })
        .unwrap();
    let ours_rx = olcs
        .iter()
        .find(|o| {
            o.reverse.as_ref().map(|r| &r.data_type)
                == Some(&DataType::Audio(AudioCapability::Framed(codec, 20)))
        })
        .unwrap();
    let mut tx = ours_tx.clone();
    let h = tx.forward.h2250.as_mut().unwrap();
    h.media_channel = Some(H245Address::Unicast(addr(ROOM_RTP)));
    h.media_control_channel = Some(H245Address::Unicast(addr(ROOM_RTCP)));
    let mut rx = ours_rx.clone();
    rx.forward_logical_channel_number = 77;
    rx.reverse
        .as_mut()
        .unwrap()
        .h2250
        .as_mut()
        .unwrap()
        .media_control_channel = Some(H245Address::Unicast(addr(ROOM_RTCP)));
    vec![
        tx.encode_fast_start().unwrap(),
        rx.encode_fast_start().unwrap(),
    ]
}

fn room_tcs() -> TerminalCapabilitySet {
    TerminalCapabilitySet {
        sequence_number: 1,
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

fn setup_of(got: &Got) -> SetupUuie {
    assert_eq!(got.msg.message_type, MessageType::Setup);
    let UuBody::Setup(s) = &got.uu.pdu.body else {
        panic!("{:?}", got.uu.pdu.body)
    };
    s.clone()
}

#[test]
fn setup_proposes_the_offer_and_the_connect_answer_becomes_the_callees_media() {
    let t0 = Instant::now();
    let mut leg = leg();
    let mut room = Room::new();
    assert!(leg.is_outgoing());
    assert_eq!(leg.state(), CallState::Calling);
    assert!(events(&mut leg).is_empty());

    let got = room.drain(&mut leg);
    assert_eq!(got.len(), 1, "the Setup alone, no H.245 before Fast Start");
    let setup = setup_of(&got[0]);
    assert!(got[0].h245.is_empty());
    assert!(got[0].uu.pdu.h245_tunnelling);
    assert_eq!(
        setup.destination_address,
        Some(vec![
            AliasAddress::DialedDigits("2001".into()),
            AliasAddress::H323Id("room-2001".into())
        ])
    );
    assert_eq!(
        setup.source_address,
        Some(vec![AliasAddress::DialedDigits("1001".into())])
    );
    assert_eq!(
        setup.call_identifier,
        Some(CallIdentifier { guid: [4; 16] })
    );
    assert_eq!(setup.conference_id, [3; 16]);
    assert_eq!(
        setup.dest_call_signal_address,
        Some(TransportAddress::ip([198, 51, 100, 7], 1720))
    );
    assert!(setup.source_info.gateway.is_some());
    let numbers: Vec<_> = got[0]
        .msg
        .ies
        .iter()
        .filter_map(|ie| match ie {
            Ie::CallingPartyNumber(p) => Some(("calling", p.digits.clone())),
            Ie::CalledPartyNumber(p) => Some(("called", p.digits.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        numbers,
        vec![("calling", "1001".into()), ("called", "2001".into())]
    );
    assert!(got[0]
        .msg
        .ies
        .iter()
        .any(|ie| matches!(ie, Ie::BearerCapability(_))));

    // per proposable codec, in the offer's order: our transmit channel
    // (our RTCP) and our receive channel (our RTP and RTCP)
    let olcs: Vec<_> = setup
        .fast_start
        .as_ref()
        .expect("fastStart")
        .iter()
        .map(|b| OpenLogicalChannel::decode_fast_start(b).unwrap())
        .collect();
    assert_eq!(olcs.len(), 6, "Opus and telephone-event are not proposed");
    let kinds: Vec<_> = olcs
        .iter()
        .map(|o| match (&o.forward.data_type, &o.reverse) {
            (DataType::Audio(c), None) => ("tx", c.clone()),
            (DataType::NullData, Some(r)) => match &r.data_type {
                DataType::Audio(c) => ("rx", c.clone()),
                d => panic!("{d:?}"),
            },
            o => panic!("{o:?}"),
        })
        .collect();
    let f = |x| AudioCapability::Framed(x, 20);
    assert_eq!(
        kinds,
        vec![
            ("tx", f(FramedAudio::G722_64k)),
            ("rx", f(FramedAudio::G722_64k)),
            ("tx", f(FramedAudio::G711Ulaw64k)),
            ("rx", f(FramedAudio::G711Ulaw64k)),
            ("tx", f(FramedAudio::G711Alaw64k)),
            ("rx", f(FramedAudio::G711Alaw64k)),
        ]
    );
    let lcns: std::collections::HashSet<_> = olcs
        .iter()
        .map(|o| o.forward_logical_channel_number)
        .collect();
    assert_eq!(lcns.len(), 6, "distinct logical channel numbers");
    let tx = olcs[0].forward.h2250.as_ref().unwrap();
    assert_eq!(tx.media_channel, None, "the callee says where it receives");
    assert_eq!(
        tx.media_control_channel,
        Some(H245Address::Unicast(addr(OUR_RTCP)))
    );
    let rx = olcs[1].reverse.as_ref().unwrap().h2250.as_ref().unwrap();
    assert_eq!(rx.media_channel, Some(H245Address::Unicast(addr(OUR_RTP))));
    assert_eq!(
        rx.media_control_channel,
        Some(H245Address::Unicast(addr(OUR_RTCP)))
    );

    // CallProceeding without media is no news for the owner; Alerting rings
    leg.handle_bytes(
        t0,
        &Room::frame(
            MessageType::CallProceeding,
            UuBody::CallProceeding(Room::proceeding(None)),
            vec![],
            vec![],
        ),
    );
    assert!(events(&mut leg).is_empty());
    assert_eq!(leg.state(), CallState::Proceeding);
    leg.handle_bytes(
        t0,
        &Room::frame(
            MessageType::Alerting,
            UuBody::Alerting(Room::proceeding(None)),
            vec![],
            vec![],
        ),
    );
    assert_eq!(
        events(&mut leg),
        vec![LegEvent::Progress { early_media: None }]
    );
    assert_eq!(leg.state(), CallState::Ringing);
    assert!(room.drain(&mut leg).is_empty());

    // Connect accepts A-law both ways, with the room's TCS and MSD tunnelled
    let connect = Room::connect(
        Some(room_accepts(&setup, FramedAudio::G711Alaw64k)),
        vec![
            h245(H245Message::TerminalCapabilitySet(room_tcs())),
            h245(H245Message::MasterSlaveDetermination {
                terminal_type: 50,
                status_determination_number: 0x42,
            }),
        ],
    );
    for chunk in connect.chunks(5) {
        leg.handle_bytes(t0, chunk);
    }
    let ev = events(&mut leg);
    let [LegEvent::Answer(caps), LegEvent::Answered] = &ev[..] else {
        panic!("expected Answer and Answered, got {ev:?}")
    };
    let s = &caps.streams[0];
    assert_eq!(s.rtp, Some(addr(ROOM_RTP)));
    assert_eq!(s.rtcp, Some(addr(ROOM_RTCP)));
    assert_eq!(s.direction, MediaDirection::SendRecv);
    assert_eq!(s.transport, MediaTransport::Rtp);
    assert_eq!(
        s.codecs
            .iter()
            .map(|c| (c.payload_type, c.audio_codec()))
            .collect::<Vec<_>>(),
        vec![(8, Some(AudioCodec::Pcma))]
    );
    assert_eq!(leg.state(), CallState::Active);

    // our H.245 follows the Connect: acks to the room, then our TCS
    let got = room.drain(&mut leg);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].msg.message_type, MessageType::Facility);
    assert_eq!(
        got[0].h245[..2],
        [
            H245Message::TerminalCapabilitySetAck(1),
            H245Message::MasterSlaveDeterminationAck(MsdDecision::Slave),
        ]
    );
    assert!(matches!(
        got[0].h245[2],
        H245Message::TerminalCapabilitySet(_)
    ));
    assert_eq!(
        got[0].h245.len(),
        3,
        "the room's MSD decided already: no second determination of ours"
    );
    assert_eq!(leg.is_master(), Some(true));

    // the room acknowledges and sends a digit; a digit goes the other way
    leg.handle_bytes(
        t0,
        &Room::facility(vec![
            h245(H245Message::TerminalCapabilitySetAck(1)),
            h245(H245Message::MasterSlaveDeterminationAck(
                MsdDecision::Master,
            )),
            h245(H245Message::UserInput(UserInputIndication::Alphanumeric(
                "4".into(),
            ))),
        ]),
    );
    assert!(leg.capabilities_exchanged());
    assert_eq!(
        events(&mut leg),
        vec![LegEvent::Dtmf {
            digit: '4',
            duration_ms: 100
        }]
    );
    leg.handle_command(
        t0,
        LegCommand::Dtmf {
            digit: '9',
            duration_ms: 200,
        },
    );
    let got = room.drain(&mut leg);
    assert_eq!(
        got[0].h245,
        vec![H245Message::UserInput(UserInputIndication::Signal {
            signal_type: '9',
            duration: Some(200),
            rtp: None
        })]
    );

    // answer commands mean nothing to the calling side
    leg.handle_command(t0, LegCommand::Answer(offer()));
    leg.handle_command(t0, LegCommand::Progress { early_media: None });
    assert!(room.drain(&mut leg).is_empty());

    // the owner hangs up: ReleaseComplete, normal clearing
    leg.handle_command(t0, LegCommand::End(Cause::normal_clearing()));
    let got = room.drain(&mut leg);
    assert_eq!(got[0].msg.message_type, MessageType::ReleaseComplete);
    assert_eq!(got[0].msg.cause(), Some(16));
    assert!(leg.is_released());
    assert!(events(&mut leg).is_empty(), "the owner knows why it ended");

    room.pycrate_accepts();
}

#[test]
fn early_media_busy_slow_start_and_unusable_offers() {
    let t0 = Instant::now();
    let config = || CallLegConfig::new(vendor(), 7);

    // fastStart in Alerting: early media; Connect then only answers
    let mut l = leg();
    let mut room = Room::new();
    let setup = setup_of(&room.drain(&mut l)[0]);
    l.handle_bytes(
        t0,
        &Room::frame(
            MessageType::Alerting,
            UuBody::Alerting(Room::proceeding(Some(room_accepts(
                &setup,
                FramedAudio::G711Ulaw64k,
            )))),
            vec![],
            vec![],
        ),
    );
    let ev = events(&mut l);
    let [LegEvent::Progress {
        early_media: Some(caps),
    }] = &ev[..]
    else {
        panic!("{ev:?}")
    };
    assert_eq!(caps.streams[0].codecs[0].payload_type, 0);
    assert_eq!(caps.streams[0].rtp, Some(addr(ROOM_RTP)));
    l.handle_bytes(t0, &Room::connect(None, vec![]));
    assert_eq!(events(&mut l), vec![LegEvent::Answered]);
    // and the room releases: its Q.850 cause reaches the owner
    l.handle_bytes(
        t0,
        &Room::release(Some(16), H225ReleaseReason::UndefinedReason),
    );
    assert_eq!(
        events(&mut l),
        vec![LegEvent::Ended(Cause::new(Q850::NORMAL_CLEARING))]
    );
    assert!(l.is_released());

    // busy before anything else, given only as an H.225 reason
    let mut l = leg();
    room.drain(&mut l);
    l.handle_bytes(t0, &Room::release(None, H225ReleaseReason::InConf));
    let ev = events(&mut l);
    assert!(
        matches!(&ev[..], [LegEvent::Ended(c)] if c.q850() == Q850::USER_BUSY),
        "{ev:?}"
    );
    assert!(room.drain(&mut l).is_empty(), "nothing answers a release");

    // Connect without accepting any proposal: slow start over tunnelled
    // H.245 — our channel opens with the first offered codec the room
    // receives, and its acknowledgement is the callee's media
    let mut l = leg();
    room.drain(&mut l);
    l.handle_bytes(t0, &Room::connect(None, vec![]));
    assert!(events(&mut l).is_empty(), "no media yet");
    let got = room.drain(&mut l);
    assert!(matches!(
        got[0].h245[..],
        [
            H245Message::TerminalCapabilitySet(_),
            H245Message::MasterSlaveDetermination { .. }
        ]
    ));
    l.handle_bytes(
        t0,
        &Room::facility(vec![h245(H245Message::TerminalCapabilitySet(room_tcs()))]),
    );
    let got = room.drain(&mut l);
    let olc = got
        .iter()
        .flat_map(|g| &g.h245)
        .find_map(|m| match m {
            H245Message::OpenLogicalChannel(o) => Some(o.clone()),
            _ => None,
        })
        .expect("our channel opened");
    assert_eq!(
        olc.forward.data_type,
        DataType::Audio(AudioCapability::Framed(FramedAudio::G711Alaw64k, 20)),
        "G.722 and PCMU come first in the offer, but the room only receives A-law"
    );
    assert!(events(&mut l).is_empty());
    l.handle_bytes(
        t0,
        &Room::facility(vec![h245(H245Message::OpenLogicalChannelAck(
            OpenLogicalChannelAck {
                forward_logical_channel_number: olc.forward_logical_channel_number,
                reverse: None,
                h2250_ack: Some(H2250LogicalChannelAckParameters {
                    session_id: Some(1),
                    media_channel: Some(H245Address::Unicast(addr(ROOM_RTP))),
                    media_control_channel: Some(H245Address::Unicast(addr(ROOM_RTCP))),
                    dynamic_rtp_payload_type: None,
                    flow_control_to_zero: false,
                }),
            },
        ))]),
    );
    let ev = events(&mut l);
    let [LegEvent::Answer(caps), LegEvent::Answered] = &ev[..] else {
        panic!("{ev:?}")
    };
    assert_eq!(caps.streams[0].rtp, Some(addr(ROOM_RTP)));
    assert_eq!(caps.streams[0].codecs[0].payload_type, 8);

    // without Fast Start and without tunnelling, and separate H.245
    // connections turned off, there is no way to media
    let mut no_link = CallLegConfig::new(vendor(), 0x0012_3456);
    no_link.h245_connection = false;
    let mut l = H323CallLeg::new_outgoing(no_link, call(offer())).unwrap();
    room.drain(&mut l);
    let mut ui = H323UserInformation::new(UuBody::Connect(ConnectUuie {
        protocol_identifier: H225_PROTOCOL_V4.to_vec(),
        h245_address: None,
        destination_info: EndpointType::terminal(),
        conference_id: [3; 16],
        call_identifier: Some(CallIdentifier { guid: [4; 16] }),
        fast_start: None,
        multiple_calls: false,
        maintain_connection: false,
        fast_connect_refused: true,
    }));
    ui.pdu.h245_tunnelling = false;
    let mut m = Message::new(MessageType::Connect, CRV, true);
    m.ies.push(Ie::UserUser {
        protocol_discriminator: UU_PROTOCOL_X208,
        data: ui.encode().unwrap(),
    });
    l.handle_bytes(t0, &tpkt::encode(&m.build().unwrap()).unwrap());
    let ev = events(&mut l);
    assert!(
        matches!(&ev[..], [LegEvent::Ended(c)] if c.q850() == Q850::BEARER_CAPABILITY_NOT_AVAILABLE),
        "{ev:?}"
    );
    let got = room.drain(&mut l);
    assert_eq!(got[0].msg.message_type, MessageType::ReleaseComplete);
    assert_eq!(got[0].msg.cause(), Some(58));

    // an offer of Opus alone has nothing to propose
    let mut opus = offer();
    opus.streams[0].codecs.retain(|c| c.name == "opus");
    assert_eq!(
        H323CallLeg::new_outgoing(config(), call(opus)).err(),
        Some(OutgoingError::NoFastStartAudio)
    );
    // a send-only offer proposes only channels we transmit on
    let mut send_only = offer();
    send_only.streams[0].direction = MediaDirection::SendOnly;
    let mut l = H323CallLeg::new_outgoing(config(), call(send_only)).unwrap();
    let setup = setup_of(&room.drain(&mut l)[0]);
    assert!(setup
        .fast_start
        .unwrap()
        .iter()
        .all(|b| OpenLogicalChannel::decode_fast_start(b)
            .unwrap()
            .reverse
            .is_none()));

    room.pycrate_accepts();
}

#[test]
fn arbitrary_answers_never_panic_the_calling_leg() {
    let t0 = Instant::now();
    let mut l = leg();
    let setup = setup_of(&Room::new().drain(&mut l)[0]);
    let connect = Room::connect(
        Some(room_accepts(&setup, FramedAudio::G711Alaw64k)),
        vec![h245(H245Message::TerminalCapabilitySet(room_tcs()))],
    );
    for i in 0..connect.len() * 8 {
        let mut b = connect.clone();
        b[i / 8] ^= 0x80 >> (i % 8);
        let mut l = leg();
        l.handle_bytes(t0, &b);
        while l.poll_transmit().is_some() {}
        while l.poll_event().is_some() {}
        l.handle_command(t0, LegCommand::End(Cause::normal_clearing()));
    }
}
