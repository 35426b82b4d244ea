//! Video in H323CallLeg: H.264 (H.241 generic capability, packetization
//! mode in mediaPacketization) and H.263 logical channels in session 2,
//! mapped to the neutral video stream both ways (Fast Start offer and
//! answer, our Fast Start proposals and the callee's acceptance, slow-start
//! channels over H.245), and videoFastUpdatePicture for keyframe requests.
//! What the leg sends is decoded by pycrate too.

mod common;

use std::net::SocketAddr;
use std::time::Instant;

use common::{hex, oracle};
use gateway_callmodel::{
    CodecCap, Direction as MediaDirection, LegCommand, LegEvent, MediaCaps, MediaKind,
    MediaTransport, StreamCaps,
};
use gateway_h323::call::*;
use gateway_h323::h225::*;
use gateway_h323::h245::video::{H264Params, H264_NON_INTERLEAVED_OID};
use gateway_h323::h245::*;
use gateway_h323::q931::{Ie, Message, MessageType, UU_PROTOCOL_X208};
use gateway_h323::tpkt::{self, TpktFramer};

const CRV: u16 = 0x0567;
const ROOM_RTP: &str = "198.51.100.7:5004";
const ROOM_RTCP: &str = "198.51.100.7:5005";
const ROOM_VRTP: &str = "198.51.100.7:5006";
const ROOM_VRTCP: &str = "198.51.100.7:5007";
const OUR_RTP: &str = "192.0.2.1:40000";
const OUR_VRTP: &str = "192.0.2.1:40002";
const OUR_VRTCP: &str = "192.0.2.1:40003";
const H264_FMTP: &str = "profile-level-id=42e01f;packetization-mode=1";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn unicast(s: &str) -> Option<H245Address> {
    Some(H245Address::Unicast(addr(s)))
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

fn codec(pt: u8, name: &str, rate: u32, fmtp: Option<&str>) -> CodecCap {
    CodecCap {
        payload_type: pt,
        name: name.into(),
        clock_rate: rate,
        channels: 1,
        fmtp: fmtp.map(str::to_string),
    }
}

fn stream(kind: MediaKind, rtp: &str, rtcp: Option<&str>, codecs: Vec<CodecCap>) -> StreamCaps {
    StreamCaps {
        kind,
        rtp: Some(addr(rtp)),
        rtcp: rtcp.map(addr),
        rtcp_mux: false,
        transport: MediaTransport::Rtp,
        direction: MediaDirection::SendRecv,
        codecs,
        ptime_ms: None,
        bandwidth_kbps: None,
    }
}

/// Our media as the owner gives it: PCMU, and video in `video`.
fn ours(video: Vec<CodecCap>) -> MediaCaps {
    let mut streams = vec![stream(
        MediaKind::Audio,
        OUR_RTP,
        None,
        vec![codec(0, "PCMU", 8000, None)],
    )];
    if !video.is_empty() {
        streams.push(stream(MediaKind::Video, OUR_VRTP, Some(OUR_VRTCP), video));
    }
    MediaCaps { streams }
}

fn h264_cap() -> VideoCapability {
    VideoCapability::Generic(GenericCapability::h264(64, 71, 10240))
}

fn h263_cap() -> VideoCapability {
    VideoCapability::H263(H263VideoCapability {
        qcif_mpi: Some(1),
        cif_mpi: Some(2),
        max_bit_rate: 3840,
        ..Default::default()
    })
}

fn h2250(session: u8, media: Option<&str>, control: &str) -> H2250LogicalChannelParameters {
    H2250LogicalChannelParameters {
        session_id: session,
        media_channel: media.and_then(unicast),
        media_control_channel: unicast(control),
        ..Default::default()
    }
}

fn h264_channel(media: Option<&str>, control: &str, pt: u8) -> H2250LogicalChannelParameters {
    H2250LogicalChannelParameters {
        dynamic_rtp_payload_type: Some(pt),
        media_packetization: Some(MediaPacketization::RtpPayloadType(RtpPayloadType {
            descriptor: PayloadDescriptor::Oid(H264_NON_INTERLEAVED_OID.to_vec()),
            payload_type: Some(pt),
        })),
        ..h2250(2, media, control)
    }
}

fn forward(lcn: u16, dt: DataType, h: H2250LogicalChannelParameters) -> OpenLogicalChannel {
    OpenLogicalChannel {
        forward_logical_channel_number: lcn,
        forward: ForwardLogicalChannelParameters {
            port_number: None,
            data_type: dt,
            h2250: Some(h),
        },
        reverse: None,
    }
}

fn reverse(lcn: u16, dt: DataType, h: H2250LogicalChannelParameters) -> OpenLogicalChannel {
    OpenLogicalChannel {
        forward_logical_channel_number: lcn,
        forward: ForwardLogicalChannelParameters {
            port_number: None,
            data_type: DataType::NullData,
            h2250: None,
        },
        reverse: Some(ReverseLogicalChannelParameters {
            data_type: dt,
            h2250: Some(h),
        }),
    }
}

/// A room's Fast Start: PCMU both ways, H.264 (PT 109, mode 1) and H.263
/// both ways.
fn room_proposals() -> Vec<Vec<u8>> {
    let pcmu = DataType::Audio(AudioCapability::Framed(FramedAudio::G711Ulaw64k, 20));
    [
        forward(10, pcmu.clone(), h2250(1, None, ROOM_RTCP)),
        reverse(20, pcmu, h2250(1, Some(ROOM_RTP), ROOM_RTCP)),
        forward(
            12,
            DataType::Video(h264_cap()),
            h264_channel(None, ROOM_VRTCP, 109),
        ),
        reverse(
            22,
            DataType::Video(h264_cap()),
            h264_channel(Some(ROOM_VRTP), ROOM_VRTCP, 109),
        ),
        forward(13, DataType::Video(h263_cap()), h2250(2, None, ROOM_VRTCP)),
        reverse(
            23,
            DataType::Video(h263_cap()),
            h2250(2, Some(ROOM_VRTP), ROOM_VRTCP),
        ),
    ]
    .iter()
    .map(|o| o.encode_fast_start().unwrap())
    .collect()
}

fn events(leg: &mut H323CallLeg) -> Vec<LegEvent> {
    std::iter::from_fn(|| leg.poll_event()).collect()
}

struct Got {
    msg: Message,
    uu: H323UserInformation,
    h245: Vec<H245Message>,
}

/// The other side: tunnelled H.225.0 messages, everything seen kept for pycrate.
struct Peer {
    callee: bool,
    framer: TpktFramer,
    uu_seen: Vec<Vec<u8>>,
    h245_seen: Vec<Vec<u8>>,
}

impl Peer {
    fn new(callee: bool) -> Self {
        Peer {
            callee,
            framer: TpktFramer::new(65535),
            uu_seen: Vec::new(),
            h245_seen: Vec::new(),
        }
    }

    fn frame(&self, mt: MessageType, body: UuBody, h245: Vec<H245Message>) -> Vec<u8> {
        let mut ui = H323UserInformation::new(body);
        ui.pdu.h245_tunnelling = true;
        if !h245.is_empty() {
            ui.pdu.h245_control = Some(h245.iter().map(|m| m.encode().unwrap()).collect());
        }
        let mut m = Message::new(mt, CRV, self.callee);
        m.ies.push(Ie::UserUser {
            protocol_discriminator: UU_PROTOCOL_X208,
            data: ui.encode().unwrap(),
        });
        tpkt::encode(&m.build().unwrap()).unwrap()
    }

    fn facility(&self, h245: Vec<H245Message>) -> Vec<u8> {
        self.frame(MessageType::Facility, UuBody::Empty, h245)
    }

    fn setup(&self, fast_start: Vec<Vec<u8>>) -> Vec<u8> {
        self.frame(
            MessageType::Setup,
            UuBody::Setup(SetupUuie {
                protocol_identifier: H225_PROTOCOL_V4.to_vec(),
                h245_address: None,
                source_address: Some(vec![AliasAddress::H323Id("room-2001".into())]),
                source_info: EndpointType::terminal(),
                destination_address: Some(vec![AliasAddress::DialedDigits("8000".into())]),
                dest_call_signal_address: None,
                dest_extra_call_info: None,
                active_mc: false,
                conference_id: [7; 16],
                conference_goal: ConferenceGoal::Create,
                call_type: CallType::PointToPoint,
                source_call_signal_address: None,
                call_identifier: Some(CallIdentifier { guid: [9; 16] }),
                fast_start: Some(fast_start),
                media_wait_for_connect: false,
                can_overlap_send: false,
                endpoint_identifier: None,
                multiple_calls: false,
                maintain_connection: false,
            }),
            vec![],
        )
    }

    fn connect(&self, fast_start: Option<Vec<Vec<u8>>>, h245: Vec<H245Message>) -> Vec<u8> {
        self.frame(
            MessageType::Connect,
            UuBody::Connect(ConnectUuie {
                protocol_identifier: H225_PROTOCOL_V4.to_vec(),
                h245_address: None,
                destination_info: EndpointType::terminal(),
                conference_id: [3; 16],
                call_identifier: Some(CallIdentifier { guid: [4; 16] }),
                fast_connect_refused: fast_start.is_none(),
                fast_start,
                multiple_calls: false,
                maintain_connection: false,
            }),
            h245,
        )
    }

    fn drain(&mut self, leg: &mut H323CallLeg) -> Vec<Got> {
        while let Some(f) = leg.poll_transmit() {
            self.framer.push(&f);
        }
        let mut out = Vec::new();
        while let Some(frame) = self.framer.next_frame().unwrap() {
            let msg = Message::parse(&frame).unwrap();
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

    /// The fastStart OLCs of a message, decoded (and kept for pycrate).
    fn fast_start(&mut self, got: &Got) -> Vec<OpenLogicalChannel> {
        let fs = match &got.uu.pdu.body {
            UuBody::Connect(c) => c.fast_start.clone(),
            UuBody::Setup(s) => s.fast_start.clone(),
            UuBody::CallProceeding(p) | UuBody::Alerting(p) => p.fast_start.clone(),
            _ => None,
        };
        fs.unwrap_or_default()
            .into_iter()
            .map(|b| {
                let o = OpenLogicalChannel::decode_fast_start(&b).unwrap();
                // pycrate reads an OLC inside a request
                let req = H245Message::OpenLogicalChannel(o.clone());
                self.h245_seen.push(req.encode().unwrap());
                o
            })
            .collect()
    }

    fn pycrate_accepts(&self) -> Vec<serde_json::Value> {
        let mut all = Vec::new();
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
            all.extend(results);
        }
        all
    }
}

fn video_of(caps: &MediaCaps) -> &StreamCaps {
    caps.first(MediaKind::Video).expect("a video stream").1
}

fn misc(lcn: u16) -> H245Message {
    H245Message::MiscellaneousCommand(MiscellaneousCommand {
        logical_channel_number: lcn,
        command: MiscCommandType::VideoFastUpdatePicture,
    })
}

#[test]
fn a_rooms_video_proposals_become_the_offer_and_the_answer_picks_h264() {
    let t0 = Instant::now();
    let mut leg = H323CallLeg::new_incoming(config());
    let mut room = Peer::new(false);
    leg.handle_bytes(t0, &room.setup(room_proposals()));
    let ev = events(&mut leg);
    let [LegEvent::Incoming {
        offer: Some(offer), ..
    }] = &ev[..]
    else {
        panic!("{ev:?}")
    };
    assert_eq!(offer.streams.len(), 2);
    let v = video_of(offer);
    assert_eq!(v.rtp, Some(addr(ROOM_VRTP)));
    assert_eq!(v.rtcp, Some(addr(ROOM_VRTCP)));
    assert_eq!(v.direction, MediaDirection::SendRecv);
    assert_eq!(
        v.codecs,
        [
            codec(109, "H264", 90_000, Some(H264_FMTP)),
            codec(34, "H263", 90_000, Some("QCIF=1;CIF=2")),
        ]
    );
    assert_eq!(v.bandwidth_kbps, Some(1024));
    room.drain(&mut leg);

    // the owner takes H.264 (its first, as a meeting or the bridge does)
    leg.handle_command(
        t0,
        LegCommand::Answer(ours(vec![codec(109, "H264", 90_000, Some(H264_FMTP))])),
    );
    let got = room.drain(&mut leg);
    assert_eq!(got[0].msg.message_type, MessageType::Connect);
    let fs = room.fast_start(&got[0]);
    assert_eq!(fs.len(), 4, "audio and video, both ways");
    let vf = &fs[2];
    assert_eq!(
        vf.forward_logical_channel_number, 12,
        "the room's H.264 channel"
    );
    let h = vf.forward.h2250.as_ref().unwrap();
    assert_eq!(h.media_channel, unicast(OUR_VRTP));
    assert_eq!(h.media_control_channel, unicast(OUR_VRTCP));
    assert_eq!(h.session_id, 2);
    assert_eq!(h.dynamic_rtp_payload_type, Some(109));
    let vr = &fs[3];
    assert_eq!(vr.forward_logical_channel_number, 2, "our video channel");
    assert_eq!(
        vr.reverse.as_ref().unwrap().data_type,
        DataType::Video(h264_cap())
    );
    let rh = vr.reverse.as_ref().unwrap().h2250.as_ref().unwrap();
    assert_eq!(rh.media_channel, unicast(ROOM_VRTP));
    assert_eq!(rh.media_control_channel, unicast(OUR_VRTCP));
    // our capabilities name H.264 and H.263 video
    let tcs = got[0]
        .h245
        .iter()
        .find_map(|m| match m {
            H245Message::TerminalCapabilitySet(t) => Some(t.clone()),
            _ => None,
        })
        .expect("our TCS");
    let video: Vec<_> = tcs
        .capability_table
        .iter()
        .flatten()
        .filter_map(|e| match &e.capability {
            Some(Capability::Video(Direction::Receive, v)) => Some(v.clone()),
            _ => None,
        })
        .collect();
    assert!(matches!(
        &video[..],
        [VideoCapability::Generic(_), VideoCapability::H263(_)]
    ));
    assert_eq!(
        tcs.capability_descriptors.as_ref().unwrap()[0]
            .simultaneous_capabilities
            .as_ref()
            .unwrap()
            .len(),
        3,
        "audio, video and user input alternatives"
    );

    // keyframes both ways: ours names the room's H.264 channel
    leg.handle_command(t0, LegCommand::KeyframeRequest);
    let got = room.drain(&mut leg);
    assert_eq!(got[0].h245, [misc(12)]);
    leg.handle_bytes(t0, &room.facility(vec![misc(2)]));
    assert_eq!(events(&mut leg), [LegEvent::KeyframeRequest]);
    let checked = room.pycrate_accepts();
    assert!(checked
        .iter()
        .any(|r| r.to_string().contains("videoFastUpdatePicture")));
}

#[test]
fn h263_is_answered_when_chosen_and_an_audio_answer_opens_no_video() {
    let t0 = Instant::now();
    let mut leg = H323CallLeg::new_incoming(config());
    let mut room = Peer::new(false);
    leg.handle_bytes(t0, &room.setup(room_proposals()));
    events(&mut leg);
    room.drain(&mut leg);
    let mut caps = ours(vec![codec(34, "H263", 90_000, Some("QCIF=1"))]);
    caps.streams[1].direction = MediaDirection::RecvOnly;
    leg.handle_command(t0, LegCommand::Answer(caps));
    let got = room.drain(&mut leg);
    let fs = room.fast_start(&got[0]);
    assert_eq!(fs.len(), 3, "we only receive video");
    assert_eq!(fs[2].forward_logical_channel_number, 13);
    assert_eq!(fs[2].forward.data_type, DataType::Video(h263_cap()));

    // audio only: no video channel, and so no keyframe to ask for
    let mut leg = H323CallLeg::new_incoming(config());
    leg.handle_bytes(t0, &room.setup(room_proposals()));
    events(&mut leg);
    room.drain(&mut leg);
    leg.handle_command(t0, LegCommand::Answer(ours(vec![])));
    let got = room.drain(&mut leg);
    assert_eq!(room.fast_start(&got[0]).len(), 2);
    leg.handle_command(t0, LegCommand::KeyframeRequest);
    assert!(room.drain(&mut leg).is_empty());
    room.pycrate_accepts();
}

#[test]
fn channels_the_room_opens_over_h245_get_our_video_address_or_a_refusal() {
    let t0 = Instant::now();
    let mut leg = H323CallLeg::new_incoming(config());
    let mut room = Peer::new(false);
    // no Fast Start: the room opens its channels after Connect
    leg.handle_bytes(t0, &room.setup(vec![]));
    events(&mut leg);
    room.drain(&mut leg);
    leg.handle_command(
        t0,
        LegCommand::Answer(ours(vec![codec(109, "H264", 90_000, Some(H264_FMTP))])),
    );
    room.drain(&mut leg);
    let h261 = VideoCapability::H261(H261VideoCapability {
        qcif_mpi: Some(1),
        max_bit_rate: 3840,
        ..Default::default()
    });
    leg.handle_bytes(
        t0,
        &room.facility(vec![
            H245Message::OpenLogicalChannel(forward(
                40,
                DataType::Video(h264_cap()),
                h264_channel(None, ROOM_VRTCP, 109),
            )),
            H245Message::OpenLogicalChannel(forward(
                41,
                DataType::Video(h261),
                h2250(2, None, ROOM_VRTCP),
            )),
        ]),
    );
    let got = room.drain(&mut leg);
    match &got[0].h245[..] {
        [H245Message::OpenLogicalChannelAck(a), H245Message::OpenLogicalChannelReject {
            forward_logical_channel_number: 41,
            cause: OlcRejectCause::DataTypeNotSupported,
        }] => {
            assert_eq!(a.forward_logical_channel_number, 40);
            let h = a.h2250_ack.as_ref().unwrap();
            assert_eq!(h.session_id, Some(2));
            assert_eq!(h.media_channel, unicast(OUR_VRTP));
            assert_eq!(h.media_control_channel, unicast(OUR_VRTCP));
            assert_eq!(h.dynamic_rtp_payload_type, Some(109));
        }
        other => panic!("{other:?}"),
    }
    leg.handle_command(t0, LegCommand::KeyframeRequest);
    assert_eq!(room.drain(&mut leg)[0].h245, [misc(40)]);
    room.pycrate_accepts();
}

fn outgoing(video: Vec<CodecCap>) -> H323CallLeg {
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
            offer: ours(video),
        },
    )
    .unwrap()
}

#[test]
fn our_video_proposals_come_from_the_offer_and_the_callee_accepts_h264() {
    let t0 = Instant::now();
    let mut leg = outgoing(vec![
        codec(97, "H264", 90_000, Some(H264_FMTP)),
        codec(100, "VP8", 90_000, None),
    ]);
    let mut room = Peer::new(true);
    let got = room.drain(&mut leg);
    let fs = room.fast_start(&got[0]);
    let video: Vec<_> = fs
        .iter()
        .filter(|o| {
            matches!(o.forward.data_type, DataType::Video(_))
                || matches!(
                    o.reverse.as_ref().map(|r| &r.data_type),
                    Some(DataType::Video(_))
                )
        })
        .collect();
    assert_eq!(
        video.len(),
        2,
        "H.264 both ways; VP8 has no H.323 form here"
    );
    let tx = video.iter().find(|o| o.reverse.is_none()).unwrap();
    let DataType::Video(VideoCapability::Generic(g)) = &tx.forward.data_type else {
        panic!()
    };
    let h = tx.forward.h2250.as_ref().unwrap();
    assert_eq!(
        H264Params::from_capability(g, h.media_packetization.as_ref()).map(|p| p.fmtp()),
        Some(H264_FMTP.to_string())
    );
    assert_eq!((h.session_id, h.dynamic_rtp_payload_type), (2, Some(97)));
    assert_eq!(h.media_control_channel, unicast(OUR_VRTCP));
    let rx = video.iter().find(|o| o.reverse.is_some()).unwrap();
    let rh = rx.reverse.as_ref().unwrap().h2250.as_ref().unwrap();
    assert_eq!(rh.media_channel, unicast(OUR_VRTP));

    // the room accepts audio and video; its own video channel is number 33
    let mut accepted = Vec::new();
    for o in &fs {
        let mut o = o.clone();
        match o.reverse.as_mut() {
            None => {
                let video = matches!(o.forward.data_type, DataType::Video(_));
                if !video
                    && o.forward.data_type
                        != DataType::Audio(AudioCapability::Framed(FramedAudio::G711Ulaw64k, 20))
                {
                    continue;
                }
                let h = o.forward.h2250.as_mut().unwrap();
                h.media_channel = unicast(if video { ROOM_VRTP } else { ROOM_RTP });
                h.media_control_channel = unicast(if video { ROOM_VRTCP } else { ROOM_RTCP });
            }
            Some(r) => {
                if matches!(r.data_type, DataType::Video(_)) {
                    o.forward_logical_channel_number = 33;
                    r.h2250.as_mut().unwrap().media_control_channel = unicast(ROOM_VRTCP);
                }
            }
        }
        accepted.push(o.encode_fast_start().unwrap());
    }
    leg.handle_bytes(t0, &room.connect(Some(accepted), vec![]));
    let ev = events(&mut leg);
    let [LegEvent::Answer(caps), LegEvent::Answered] = &ev[..] else {
        panic!("{ev:?}")
    };
    let v = video_of(caps);
    assert_eq!(v.rtp, Some(addr(ROOM_VRTP)));
    assert_eq!(v.rtcp, Some(addr(ROOM_VRTCP)));
    assert_eq!(v.direction, MediaDirection::SendRecv);
    assert_eq!(
        v.codecs,
        [codec(97, "H264", 90_000, Some(H264_FMTP))],
        "the offer's payload type, for the bridge to forward"
    );
    room.drain(&mut leg);
    leg.handle_command(t0, LegCommand::KeyframeRequest);
    assert_eq!(room.drain(&mut leg)[0].h245, [misc(33)]);

    // pycrate reads our H.264 proposal as H.241 says: the generic
    // capability's OID and the non-interleaved packetization OID
    let checked = room.pycrate_accepts();
    let text: String = checked.iter().map(|r| r.to_string()).collect();
    assert!(text.contains("rtpPayloadType"), "{text}");
    assert!(
        text.contains("[0,0,8,241,0,0,0,1]") || text.contains("0.0.8.241.0.0.0.1"),
        "{text}"
    );
}

fn room_tcs(video: bool) -> TerminalCapabilitySet {
    let mut table = vec![CapabilityTableEntry {
        number: 1,
        capability: Some(Capability::Audio(
            Direction::Receive,
            AudioCapability::Framed(FramedAudio::G711Ulaw64k, 20),
        )),
    }];
    if video {
        table.push(CapabilityTableEntry {
            number: 2,
            capability: Some(Capability::Video(Direction::Receive, h264_cap())),
        });
    }
    TerminalCapabilitySet {
        sequence_number: 1,
        protocol_identifier: H245_PROTOCOL_V7.to_vec(),
        multiplex_capability: None,
        capability_table: Some(table),
        capability_descriptors: None,
    }
}

fn ack(lcn: u16, session: u8, rtp: &str, rtcp: &str) -> H245Message {
    H245Message::OpenLogicalChannelAck(OpenLogicalChannelAck {
        forward_logical_channel_number: lcn,
        reverse: None,
        h2250_ack: Some(H2250LogicalChannelAckParameters {
            session_id: Some(session),
            media_channel: unicast(rtp),
            media_control_channel: unicast(rtcp),
            dynamic_rtp_payload_type: None,
            flow_control_to_zero: false,
        }),
    })
}

#[test]
fn slow_start_opens_our_video_next_to_audio_and_answers_once_both_are_settled() {
    let t0 = Instant::now();
    let h264 = codec(97, "H264", 90_000, Some(H264_FMTP));
    let mut leg = outgoing(vec![h264.clone()]);
    let mut room = Peer::new(true);
    room.drain(&mut leg);
    leg.handle_bytes(
        t0,
        &room.connect(
            None,
            vec![H245Message::TerminalCapabilitySet(room_tcs(true))],
        ),
    );
    assert!(events(&mut leg).is_empty());
    let got = room.drain(&mut leg);
    let olcs: Vec<_> = got
        .iter()
        .flat_map(|g| g.h245.iter())
        .filter_map(|m| match m {
            H245Message::OpenLogicalChannel(o) => Some(o.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(olcs.len(), 2, "{olcs:?}");
    assert_eq!(olcs[1].forward_logical_channel_number, 2);
    assert!(matches!(
        olcs[1].forward.data_type,
        DataType::Video(VideoCapability::Generic(_))
    ));
    assert_eq!(
        olcs[1]
            .forward
            .h2250
            .as_ref()
            .unwrap()
            .dynamic_rtp_payload_type,
        Some(97)
    );
    // audio acknowledged: the answer waits for video
    leg.handle_bytes(t0, &room.facility(vec![ack(1, 1, ROOM_RTP, ROOM_RTCP)]));
    assert!(events(&mut leg).is_empty());
    leg.handle_bytes(t0, &room.facility(vec![ack(2, 2, ROOM_VRTP, ROOM_VRTCP)]));
    let ev = events(&mut leg);
    let [LegEvent::Answer(caps), LegEvent::Answered] = &ev[..] else {
        panic!("{ev:?}")
    };
    assert_eq!(caps.streams.len(), 2);
    let v = video_of(caps);
    assert_eq!(
        (v.rtp, v.codecs.clone()),
        (Some(addr(ROOM_VRTP)), vec![h264.clone()])
    );

    // refused video: audio alone is the answer
    let mut leg = outgoing(vec![h264.clone()]);
    room.drain(&mut leg);
    leg.handle_bytes(
        t0,
        &room.connect(
            None,
            vec![H245Message::TerminalCapabilitySet(room_tcs(true))],
        ),
    );
    room.drain(&mut leg);
    leg.handle_bytes(
        t0,
        &room.facility(vec![
            H245Message::OpenLogicalChannelReject {
                forward_logical_channel_number: 2,
                cause: OlcRejectCause::DataTypeNotSupported,
            },
            ack(1, 1, ROOM_RTP, ROOM_RTCP),
        ]),
    );
    let ev = events(&mut leg);
    assert!(
        matches!(&ev[..], [LegEvent::Answer(c), LegEvent::Answered] if c.streams.len() == 1),
        "{ev:?}"
    );

    // video never answered: T103 closes it and audio alone is the answer
    let mut leg = outgoing(vec![h264.clone()]);
    room.drain(&mut leg);
    leg.handle_bytes(
        t0,
        &room.connect(
            None,
            vec![H245Message::TerminalCapabilitySet(room_tcs(true))],
        ),
    );
    room.drain(&mut leg);
    leg.handle_bytes(
        t0,
        &room.facility(vec![
            ack(1, 1, ROOM_RTP, ROOM_RTCP),
            H245Message::TerminalCapabilitySetAck(1),
            H245Message::MasterSlaveDeterminationAck(MsdDecision::Slave),
        ]),
    );
    room.drain(&mut leg);
    assert!(events(&mut leg).is_empty(), "the answer waits for video");
    let t103 = leg.poll_timeout().expect("T103 on the video channel");
    assert_eq!(t103, t0 + std::time::Duration::from_secs(30));
    leg.handle_timeout(t103);
    let got = room.drain(&mut leg);
    assert!(got.iter().flat_map(|g| g.h245.iter()).any(|m| matches!(
        m,
        H245Message::CloseLogicalChannel {
            forward_logical_channel_number: 2,
            ..
        }
    )));
    let ev = events(&mut leg);
    assert!(
        matches!(&ev[..], [LegEvent::Answer(c), LegEvent::Answered] if c.streams.len() == 1),
        "{ev:?}"
    );
    assert!(!leg.is_released(), "the call goes on with audio");
    assert_eq!(leg.stats().h245_timeouts, 1);

    // a room that receives no video gets no video channel
    let mut leg = outgoing(vec![h264]);
    room.drain(&mut leg);
    leg.handle_bytes(
        t0,
        &room.connect(
            None,
            vec![H245Message::TerminalCapabilitySet(room_tcs(false))],
        ),
    );
    let got = room.drain(&mut leg);
    let opened = got
        .iter()
        .flat_map(|g| g.h245.iter())
        .filter(|m| matches!(m, H245Message::OpenLogicalChannel(_)))
        .count();
    assert_eq!(opened, 1);
    leg.handle_bytes(t0, &room.facility(vec![ack(1, 1, ROOM_RTP, ROOM_RTCP)]));
    assert!(
        matches!(&events(&mut leg)[..], [LegEvent::Answer(c), LegEvent::Answered] if c.streams.len() == 1)
    );
    room.pycrate_accepts();
}

#[test]
fn mangled_video_proposals_never_panic_the_leg() {
    let t0 = Instant::now();
    let room = Peer::new(false);
    let setup = room.setup(room_proposals());
    let answer = ours(vec![codec(109, "H264", 90_000, Some(H264_FMTP))]);
    for i in (0..setup.len() * 8).step_by(3) {
        let mut b = setup.clone();
        b[i / 8] ^= 0x80 >> (i % 8);
        let mut leg = H323CallLeg::new_incoming(config());
        leg.handle_bytes(t0, &b);
        leg.handle_command(t0, LegCommand::Answer(answer.clone()));
        leg.handle_command(t0, LegCommand::KeyframeRequest);
        while leg.poll_transmit().is_some() {}
        while leg.poll_event().is_some() {}
    }
}
