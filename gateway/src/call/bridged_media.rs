//! The media plan of a call between two neutral legs: what the callee is
//! offered from the caller's capabilities, and, once it answers, which path
//! each direction takes (forwarded or transcoded, SRTP terminated per leg)
//! and what the caller is answered. Pure functions over [`MediaCaps`]: no
//! SDP, no H.245, no sockets.

use super::media_path::{SrtpLegs, TranscodePlan};
use super::sdes::{self, LegKeys};
use gateway_callmodel::{
    AudioCodec, Cause, CodecCap, Direction, MediaCaps, MediaKind, MediaTransport, StreamCaps,
};
use gateway_media::transcode::CodecEnd;
use gateway_sdp::crypto::SdesCrypto;
use std::net::SocketAddr;

/// The relay streams of a bridged call: its audio, and its video when
/// both legs take the same video format (forwarded, never decoded).
pub(crate) const AUDIO_STREAM: usize = 0;
pub(crate) const VIDEO_STREAM: usize = 1;

/// The bridge's own payload type for telephone-event where it adds one.
const TELEPHONE_EVENT_PT: u8 = 101;

/// Codecs the bridge can decode and encode, in the order it adds them to
/// an offer after the caller's own.
const TRANSCODABLE: [AudioCodec; 4] = [
    AudioCodec::Opus,
    AudioCodec::G722,
    AudioCodec::Pcmu,
    AudioCodec::Pcma,
];

/// Where the relay receives for one leg: what goes in that leg's answer or
/// offer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LocalMedia {
    pub rtp: SocketAddr,
    pub rtcp: SocketAddr,
}

/// What was offered to the callee, kept until it answers.
#[derive(Debug, Clone)]
pub(crate) struct OfferState {
    /// The caller's audio stream: its index in the caller's offer.
    pub a_index: usize,
    pub a_audio: StreamCaps,
    /// The caller's SRTP keys and ours towards it (it offered SDES).
    pub a_keys: Option<LegKeys>,
    /// The keys we offered the callee (encryption required).
    pub b_keys_offered: Option<Vec<SdesCrypto>>,
    /// The caller's video stream (index in its offer) offered on to the
    /// callee unchanged but for our address.
    pub a_video: Option<(usize, StreamCaps)>,
}

/// A leg's telephone-event: payload type and clock.
pub(crate) type TelephoneEvent = (u8, u32);

/// Video forwarded between the legs: where each receives, and the payload
/// type each numbers the format with (they may differ: RFC 3264 lets the
/// answerer choose its own; the relay then renumbers, never decodes).
#[derive(Debug, Clone, Copy)]
pub(crate) struct VideoPlan {
    pub a_remote: (SocketAddr, Option<SocketAddr>, bool),
    pub b_remote: (SocketAddr, Option<SocketAddr>, bool),
    pub a_pt: u8,
    pub b_pt: u8,
}

impl VideoPlan {
    /// The renumbering towards the answerer (`to_b`) or the offerer. A leg
    /// may send with either number (its own or the one in the SDP it got),
    /// so both arrive mapped to the receiver's.
    pub fn payload_types(&self, to_b: bool) -> Option<gateway_media::PayloadTypeMap> {
        if self.a_pt == self.b_pt {
            return None;
        }
        let dest = if to_b { self.b_pt } else { self.a_pt };
        Some(gateway_media::PayloadTypeMap::new(&[
            (self.a_pt, dest),
            (self.b_pt, dest),
        ]))
    }
}

/// The same video format: codec and clock and, for H.264, the
/// packetization mode (RFC 6184: mode 0 and mode 1 streams are not
/// interchangeable without repacketizing).
fn same_video_format(a: &CodecCap, b: &CodecCap) -> bool {
    let mode = |c: &CodecCap| {
        c.fmtp
            .as_deref()
            .and_then(|f| {
                f.split(';').find_map(|p| {
                    let (k, v) = p.split_once('=')?;
                    k.trim()
                        .eq_ignore_ascii_case("packetization-mode")
                        .then(|| v.trim().to_string())
                })
            })
            .unwrap_or_else(|| "0".into())
    };
    same_codec(a, b) && (!a.name.eq_ignore_ascii_case("H264") || mode(a) == mode(b))
}

/// The path of the call's audio, once the callee answered.
#[derive(Debug)]
pub(crate) struct BridgePlan {
    /// The caller's answer, stream for stream of its offer.
    pub a_answer: MediaCaps,
    pub a_remote: (SocketAddr, Option<SocketAddr>, bool),
    pub b_remote: (SocketAddr, Option<SocketAddr>, bool),
    pub transcode: Option<TranscodePlan>,
    /// SRTP per leg; the caller is the "offerer" side.
    pub srtp: Option<SrtpLegs>,
    /// Clock rates for the relay's quality estimates (caller, callee).
    pub clocks: (u32, u32),
    /// The codec of each leg, where the bridge knows it (quality estimate).
    pub audio: (Option<AudioCodec>, Option<AudioCodec>),
    pub codecs: (String, String),
    pub video: Option<VideoPlan>,
    /// Each leg's telephone-event, if it took one.
    pub telephone_events: (Option<TelephoneEvent>, Option<TelephoneEvent>),
}

fn refuse(status: u16, why: impl Into<String>) -> Cause {
    Cause::from_sip_status(status, &why.into())
}

fn codec_cap(codec: AudioCodec, payload_type: u8) -> CodecCap {
    let (name, clock, channels) = match codec {
        AudioCodec::Pcmu => ("PCMU", 8000, 1),
        AudioCodec::Pcma => ("PCMA", 8000, 1),
        AudioCodec::G722 => ("G722", 8000, 1),
        AudioCodec::Opus => ("opus", 48000, 2),
    };
    CodecCap {
        payload_type,
        name: name.into(),
        clock_rate: clock,
        channels,
        fmtp: None,
    }
}

fn same_codec(a: &CodecCap, b: &CodecCap) -> bool {
    a.name.eq_ignore_ascii_case(&b.name) && a.clock_rate == b.clock_rate
}

/// Adds every codec the bridge transcodes that `codecs` lacks, on its
/// static payload type or a free dynamic one.
fn push_transcodable(codecs: &mut Vec<CodecCap>) {
    for codec in TRANSCODABLE {
        if codecs.iter().any(|c| c.audio_codec() == Some(codec)) {
            continue;
        }
        let pt = match codec.static_payload_type() {
            Some(pt) if codecs.iter().all(|c| c.payload_type != pt) => pt,
            _ => match free_dynamic_pt(codecs) {
                Some(pt) => pt,
                None => continue,
            },
        };
        codecs.push(codec_cap(codec, pt));
    }
}

/// Adds telephone-event/8000 on `preferred` (the peer's own) if free, else
/// on 101, else on a free dynamic payload type.
fn push_telephone_event(codecs: &mut Vec<CodecCap>, preferred: Option<u8>) {
    let free = |pt: &u8| codecs.iter().all(|c| c.payload_type != *pt);
    let pt = preferred
        .filter(free)
        .or_else(|| Some(TELEPHONE_EVENT_PT).filter(free))
        .or_else(|| free_dynamic_pt(codecs));
    if let Some(pt) = pt {
        codecs.push(CodecCap {
            payload_type: pt,
            name: "telephone-event".into(),
            clock_rate: 8000,
            channels: 1,
            fmtp: Some("0-16".into()),
        });
    }
}

/// The transport we offer a leg: SDES-SRTP with fresh keys when the call
/// requires encryption, else plain RTP.
fn our_transport(require_encryption: bool) -> (MediaTransport, Option<Vec<SdesCrypto>>) {
    if require_encryption {
        let ours = sdes::offer();
        let lines = ours.iter().map(sdes::line).collect();
        (MediaTransport::SrtpSdes { crypto: lines }, Some(ours))
    } else {
        (MediaTransport::Rtp, None)
    }
}

/// A dynamic payload type not used in `codecs`.
fn free_dynamic_pt(codecs: &[CodecCap]) -> Option<u8> {
    (96..=127).find(|pt| codecs.iter().all(|c| c.payload_type != *pt))
}

/// The callee's offer: the caller's audio codecs first (forwarding needs
/// no work), then those the bridge can transcode to, then telephone-event;
/// our address; SRTP when the call requires encryption. Other streams are
/// not offered yet (video between legs of different protocols comes with
/// the meeting bridge's switching).
pub(crate) fn offer_for_callee(
    a_offer: &MediaCaps,
    b_local: LocalMedia,
    b_video_local: Option<LocalMedia>,
    require_encryption: bool,
) -> Result<(MediaCaps, OfferState), Cause> {
    let Some((a_index, a_audio)) = a_offer.first(MediaKind::Audio) else {
        return Err(refuse(488, "The offer has no audio stream"));
    };
    if require_encryption && !a_audio.transport.is_encrypted() {
        return Err(refuse(
            488,
            "Encryption required: offer SRTP (RTP/SAVP with a=crypto) for the audio",
        ));
    }
    let a_keys = match &a_audio.transport {
        MediaTransport::Rtp => None,
        MediaTransport::SrtpSdes { crypto } => Some(
            sdes::answer(crypto)
                .map_err(|why| refuse(488, format!("SRTP offer not usable: {why}")))?,
        ),
        MediaTransport::DtlsSrtp { .. } => {
            return Err(refuse(
                488,
                "DTLS-SRTP is not terminated on this path; offer SDES (a=crypto)",
            ))
        }
    };
    let mut codecs: Vec<CodecCap> = a_audio
        .codecs
        .iter()
        .filter(|c| !c.is_telephone_event())
        .cloned()
        .collect();
    if codecs.iter().any(|c| c.audio_codec().is_some()) {
        push_transcodable(&mut codecs);
    }
    push_telephone_event(&mut codecs, a_audio.telephone_event(8000));
    let (transport, b_keys_offered) = our_transport(require_encryption);
    let stream = StreamCaps {
        kind: MediaKind::Audio,
        rtp: Some(b_local.rtp),
        rtcp: Some(b_local.rtcp),
        rtcp_mux: false,
        transport,
        direction: a_audio.direction,
        codecs,
        ptime_ms: a_audio.ptime_ms,
        bandwidth_kbps: None,
    };
    let mut streams = vec![stream];
    // Plain video passes through to a callee that takes the same format;
    // encrypted video would need keys of its own and is not offered on.
    let a_video = match (plain_video(a_offer), b_video_local) {
        (Some((index, v)), Some(local)) if !require_encryption => {
            streams.push(StreamCaps {
                rtp: Some(local.rtp),
                rtcp: Some(local.rtcp),
                rtcp_mux: false,
                bandwidth_kbps: None,
                ..v.clone()
            });
            Some((index, v.clone()))
        }
        _ => None,
    };
    Ok((
        MediaCaps { streams },
        OfferState {
            a_index,
            a_audio: a_audio.clone(),
            a_keys,
            b_keys_offered,
            a_video,
        },
    ))
}

/// The callee refused our plain offer (488): the same offer with SDES-SRTP
/// audio and fresh keys, for callees that insist on SRTP. Plain video is
/// left out (it would be refused the same way). `None` if the offer was
/// encrypted already or has no audio.
pub(crate) fn with_srtp(offer: &MediaCaps, state: &OfferState) -> Option<(MediaCaps, OfferState)> {
    let (_, audio) = offer.first(MediaKind::Audio)?;
    if audio.transport.is_encrypted() || state.b_keys_offered.is_some() {
        return None;
    }
    let (transport, keys) = our_transport(true);
    let mut audio = audio.clone();
    audio.transport = transport;
    let mut state = state.clone();
    state.b_keys_offered = keys;
    state.a_video = None;
    Some((
        MediaCaps {
            streams: vec![audio],
        },
        state,
    ))
}

/// The offer's first enabled plain-RTP video stream.
pub(crate) fn plain_video(offer: &MediaCaps) -> Option<(usize, &StreamCaps)> {
    offer
        .first(MediaKind::Video)
        .filter(|(_, v)| v.transport == MediaTransport::Rtp && !v.codecs.is_empty())
}

/// The bridge's own audio offer, for a leg that offered nothing (a SIP
/// INVITE without SDP: the offer goes in our 2xx or INVITE, the answer
/// comes back): every codec it can transcode, `first` leading (the codec
/// the other leg already chose, so that no transcoding is needed if this
/// leg takes it), then telephone-event; SRTP keys when required.
pub(crate) fn own_offer(
    local: LocalMedia,
    first: Option<&CodecCap>,
    require_encryption: bool,
) -> (MediaCaps, Option<Vec<SdesCrypto>>) {
    let mut codecs: Vec<CodecCap> = first
        .filter(|c| c.audio_codec().is_some())
        .cloned()
        .into_iter()
        .collect();
    push_transcodable(&mut codecs);
    push_telephone_event(&mut codecs, None);
    let (transport, keys) = our_transport(require_encryption);
    let stream = StreamCaps {
        kind: MediaKind::Audio,
        rtp: Some(local.rtp),
        rtcp: Some(local.rtcp),
        rtcp_mux: false,
        transport,
        direction: Direction::SendRecv,
        codecs,
        ptime_ms: Some(20),
        bandwidth_kbps: None,
    };
    (
        MediaCaps {
            streams: vec![stream],
        },
        keys,
    )
}

/// The caller answered our own offer (late offer): what it accepted
/// becomes the caller's side of the plan, as if it had offered it.
pub(crate) fn caller_answered(
    a_answer: &MediaCaps,
    ours: Option<&[SdesCrypto]>,
    b_keys_offered: Option<Vec<SdesCrypto>>,
) -> Result<OfferState, Cause> {
    let Some((a_index, a_audio)) = a_answer.first(MediaKind::Audio) else {
        return Err(refuse(488, "The caller's answer has no audio stream"));
    };
    let a_keys = match (ours, &a_audio.transport) {
        (Some(ours), MediaTransport::SrtpSdes { crypto }) => Some(
            sdes::accept(ours, crypto)
                .map_err(|why| refuse(488, format!("The caller's SRTP answer: {why}")))?,
        ),
        (Some(_), _) => {
            return Err(refuse(
                488,
                "Encryption required but the caller answered without SRTP",
            ))
        }
        (None, _) => None,
    };
    Ok(OfferState {
        a_index,
        a_audio: a_audio.clone(),
        a_keys,
        b_keys_offered,
        a_video: None,
    })
}

fn end_of(codecs: &[CodecCap], chosen: &CodecCap, codec: AudioCodec) -> CodecEnd {
    CodecEnd {
        codec,
        payload_type: chosen.payload_type,
        telephone_event: codecs
            .iter()
            .find(|c| c.is_telephone_event() && c.clock_rate == codec.rtp_clock())
            .map(|c| c.payload_type),
    }
}

fn remote_of(s: &StreamCaps) -> Option<(SocketAddr, Option<SocketAddr>, bool)> {
    Some((s.rtp?, s.rtcp, s.rtcp_mux))
}

/// The callee answered: decide each direction's path and the caller's
/// answer. The caller keeps a codec it offered; when the callee chose
/// another, the bridge transcodes.
pub(crate) fn plan_answer(
    offer: &OfferState,
    a_offer: &MediaCaps,
    b_answer: &MediaCaps,
    a_local: LocalMedia,
    a_video_local: Option<LocalMedia>,
) -> Result<BridgePlan, Cause> {
    let Some((_, b_audio)) = b_answer.first(MediaKind::Audio) else {
        return Err(refuse(488, "The callee's answer has no audio stream"));
    };
    let b_remote =
        remote_of(b_audio).ok_or_else(|| refuse(488, "The callee's audio has no address"))?;
    let a_remote = remote_of(&offer.a_audio)
        .ok_or_else(|| refuse(488, "The caller's audio has no address"))?;
    let Some(b_chosen) = b_audio.codecs.iter().find(|c| !c.is_telephone_event()) else {
        return Err(refuse(488, "The callee's answer names no audio codec"));
    };
    let a_codecs = &offer.a_audio.codecs;
    let forwarded = a_codecs
        .iter()
        .find(|c| same_codec(c, b_chosen) && c.payload_type == b_chosen.payload_type);
    let (a_chosen, transcode) = match forwarded {
        Some(c) => (c.clone(), None),
        None => {
            let b_codec = b_chosen.audio_codec().ok_or_else(|| {
                refuse(
                    488,
                    format!(
                        "The callee chose {}, which the bridge cannot decode",
                        b_chosen.name
                    ),
                )
            })?;
            let (a_cap, a_codec) = a_codecs
                .iter()
                .find_map(|c| c.audio_codec().map(|x| (c.clone(), x)))
                .ok_or_else(|| refuse(488, "No codec of the caller's the bridge can encode"))?;
            let plan = TranscodePlan {
                index: AUDIO_STREAM,
                offerer: end_of(a_codecs, &a_cap, a_codec),
                answerer: end_of(&b_audio.codecs, b_chosen, b_codec),
            };
            (a_cap, Some(plan))
        }
    };
    let b_keys = match (&offer.b_keys_offered, &b_audio.transport) {
        (Some(ours), MediaTransport::SrtpSdes { crypto }) => Some(
            sdes::accept(ours, crypto)
                .map_err(|why| refuse(488, format!("The callee's SRTP answer: {why}")))?,
        ),
        (Some(_), _) => {
            return Err(refuse(
                488,
                "Encryption required but the callee answered without SRTP",
            ))
        }
        (None, _) => None,
    };
    let mut a_codecs_answer = vec![a_chosen.clone()];
    let clock = a_chosen.audio_codec().map_or(8000, AudioCodec::rtp_clock);
    if let Some(te) = a_codecs
        .iter()
        .find(|c| c.is_telephone_event() && c.clock_rate == clock)
    {
        a_codecs_answer.push(te.clone());
    }
    let a_transport = match &offer.a_keys {
        Some(k) => MediaTransport::SrtpSdes {
            crypto: vec![k.our_line()],
        },
        None => MediaTransport::Rtp,
    };
    // Video: forwarded when the callee chose a format the caller offered
    // (renumbered if its payload type differs); otherwise the caller's
    // video is refused.
    let video = match (
        &offer.a_video,
        b_answer.first(MediaKind::Video),
        a_video_local,
    ) {
        (Some((vi, av)), Some((_, bv)), Some(local)) => bv
            .codecs
            .first()
            .and_then(|c| {
                // The caller's own entry, preferring its same number.
                let mut same = av.codecs.iter().filter(|a| same_video_format(a, c));
                let first = same.clone().next()?;
                let a_codec = same
                    .find(|a| a.payload_type == c.payload_type)
                    .unwrap_or(first);
                Some((c, a_codec))
            })
            .and_then(|(c, a_codec)| {
                let plan = VideoPlan {
                    a_remote: remote_of(av)?,
                    b_remote: remote_of(bv)?,
                    a_pt: a_codec.payload_type,
                    b_pt: c.payload_type,
                };
                let answer = StreamCaps {
                    rtp: Some(local.rtp),
                    rtcp: Some(local.rtcp),
                    rtcp_mux: false,
                    direction: bv.direction,
                    codecs: vec![a_codec.clone()],
                    bandwidth_kbps: None,
                    ..av.clone()
                };
                Some((*vi, plan, answer))
            }),
        _ => None,
    };
    let streams = a_offer
        .streams
        .iter()
        .enumerate()
        .map(|(i, s)| {
            if let Some((_, _, answer)) = video.as_ref().filter(|(vi, _, _)| *vi == i) {
                answer.clone()
            } else if i == offer.a_index {
                StreamCaps {
                    kind: MediaKind::Audio,
                    rtp: Some(a_local.rtp),
                    rtcp: Some(a_local.rtcp),
                    rtcp_mux: false,
                    transport: a_transport.clone(),
                    direction: b_audio.direction,
                    codecs: a_codecs_answer.clone(),
                    ptime_ms: offer.a_audio.ptime_ms,
                    bandwidth_kbps: None,
                }
            } else {
                StreamCaps {
                    rtp: None,
                    rtcp: None,
                    direction: Direction::Inactive,
                    ..s.clone()
                }
            }
        })
        .collect();
    let srtp = (offer.a_keys.is_some() || b_keys.is_some()).then(|| SrtpLegs {
        index: AUDIO_STREAM,
        offerer: offer.a_keys.clone(),
        answerer: b_keys,
    });
    Ok(BridgePlan {
        a_answer: MediaCaps { streams },
        a_remote,
        b_remote,
        transcode,
        srtp,
        clocks: (clock, b_chosen.clock_rate),
        audio: (a_chosen.audio_codec(), b_chosen.audio_codec()),
        codecs: (a_chosen.name.clone(), b_chosen.name.clone()),
        video: video.map(|(_, plan, _)| plan),
        telephone_events: (
            a_codecs_answer
                .iter()
                .find(|c| c.is_telephone_event())
                .map(|c| (c.payload_type, c.clock_rate)),
            b_audio
                .codecs
                .iter()
                .find(|c| c.is_telephone_event())
                .map(|c| (c.payload_type, c.clock_rate)),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn audio(codecs: &[(u8, &str, u32)], transport: MediaTransport) -> MediaCaps {
        MediaCaps {
            streams: vec![StreamCaps {
                kind: MediaKind::Audio,
                rtp: Some(addr("192.0.2.10:5004")),
                rtcp: Some(addr("192.0.2.10:5005")),
                rtcp_mux: false,
                transport,
                direction: Direction::SendRecv,
                codecs: codecs
                    .iter()
                    .map(|(pt, n, r)| CodecCap {
                        payload_type: *pt,
                        name: n.to_string(),
                        clock_rate: *r,
                        channels: 1,
                        fmtp: None,
                    })
                    .collect(),
                ptime_ms: Some(20),
                bandwidth_kbps: None,
            }],
        }
    }

    fn local(port: u16) -> LocalMedia {
        LocalMedia {
            rtp: addr(&format!("203.0.113.1:{port}")),
            rtcp: addr(&format!("203.0.113.1:{}", port + 1)),
        }
    }

    fn names(c: &MediaCaps) -> Vec<String> {
        c.streams[0].codecs.iter().map(|c| c.name.clone()).collect()
    }

    #[test]
    fn the_callee_is_offered_the_callers_codecs_then_transcodable_ones() {
        let a = audio(
            &[(0, "PCMU", 8000), (101, "telephone-event", 8000)],
            MediaTransport::Rtp,
        );
        let (b, _) = offer_for_callee(&a, local(30000), None, false).unwrap();
        assert_eq!(
            names(&b),
            ["PCMU", "opus", "G722", "PCMA", "telephone-event"]
        );
        assert_eq!(b.streams[0].rtp, Some(addr("203.0.113.1:30000")));
        let pts: Vec<u8> = b.streams[0].codecs.iter().map(|c| c.payload_type).collect();
        assert_eq!(pts, [0, 96, 9, 8, 101], "static PTs kept, Opus dynamic");
        assert_eq!(b.streams[0].transport, MediaTransport::Rtp);
    }

    #[test]
    fn same_codec_is_forwarded_and_the_caller_keeps_its_payload_types() {
        let a = audio(
            &[
                (8, "PCMA", 8000),
                (0, "PCMU", 8000),
                (101, "telephone-event", 8000),
            ],
            MediaTransport::Rtp,
        );
        let (_, st) = offer_for_callee(&a, local(30000), None, false).unwrap();
        let b = audio(
            &[(0, "PCMU", 8000), (101, "telephone-event", 8000)],
            MediaTransport::Rtp,
        );
        let plan = plan_answer(&st, &a, &b, local(30002), None).unwrap();
        assert!(plan.transcode.is_none());
        assert_eq!(names(&plan.a_answer), ["PCMU", "telephone-event"]);
        assert_eq!(
            plan.a_answer.streams[0].rtp,
            Some(addr("203.0.113.1:30002"))
        );
        assert!(plan.srtp.is_none());
    }

    #[test]
    fn a_codec_the_caller_lacks_is_transcoded_from_its_first() {
        let a = audio(&[(9, "G722", 8000), (0, "PCMU", 8000)], MediaTransport::Rtp);
        let (_, st) = offer_for_callee(&a, local(30000), None, false).unwrap();
        let b = audio(&[(96, "opus", 48000)], MediaTransport::Rtp);
        let plan = plan_answer(&st, &a, &b, local(30002), None).unwrap();
        let t = plan.transcode.expect("transcoded");
        assert_eq!(t.offerer.codec, AudioCodec::G722);
        assert_eq!(t.answerer.codec, AudioCodec::Opus);
        assert_eq!(t.answerer.payload_type, 96);
        assert_eq!(names(&plan.a_answer), ["G722"]);
        assert_eq!(plan.clocks, (8000, 48000));
    }

    #[test]
    fn encryption_required_refuses_a_plain_caller_and_a_plain_callee() {
        let plain = audio(&[(0, "PCMU", 8000)], MediaTransport::Rtp);
        let err = offer_for_callee(&plain, local(30000), None, true).unwrap_err();
        assert_eq!(err.to_sip_status(), 488);
        let key = "1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz";
        let srtp = audio(
            &[(0, "PCMU", 8000)],
            MediaTransport::SrtpSdes {
                crypto: vec![key.into()],
            },
        );
        let (b, st) = offer_for_callee(&srtp, local(30000), None, true).unwrap();
        assert!(b.streams[0].transport.is_encrypted());
        let err = plan_answer(&st, &srtp, &plain, local(30002), None).unwrap_err();
        assert_eq!(err.to_sip_status(), 488);
    }

    #[test]
    fn an_srtp_caller_is_answered_with_our_key_and_the_plain_callee_gets_rtp() {
        let key = "1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz";
        let a = audio(
            &[(0, "PCMU", 8000)],
            MediaTransport::SrtpSdes {
                crypto: vec![key.into()],
            },
        );
        let (b_offer, st) = offer_for_callee(&a, local(30000), None, false).unwrap();
        assert_eq!(b_offer.streams[0].transport, MediaTransport::Rtp);
        let b = audio(&[(0, "PCMU", 8000)], MediaTransport::Rtp);
        let plan = plan_answer(&st, &a, &b, local(30002), None).unwrap();
        match &plan.a_answer.streams[0].transport {
            MediaTransport::SrtpSdes { crypto } => {
                assert_eq!(crypto.len(), 1);
                assert_ne!(crypto[0], key, "our own key, not the caller's echoed");
            }
            t => panic!("expected SDES answer, got {t:?}"),
        }
        let srtp = plan.srtp.expect("caller side terminated");
        assert!(srtp.offerer.is_some() && srtp.answerer.is_none());
    }

    #[test]
    fn a_late_offer_leads_with_the_callees_codec_and_plans_from_the_callers_answer() {
        let b_answer = audio(&[(96, "opus", 48000)], MediaTransport::Rtp);
        let (offer, keys) = own_offer(local(30000), Some(&b_answer.streams[0].codecs[0]), false);
        assert!(keys.is_none());
        assert_eq!(
            names(&offer),
            ["opus", "G722", "PCMU", "PCMA", "telephone-event"]
        );
        // The caller picks PCMU from our offer: the callee's Opus is transcoded.
        let a_answer = audio(&[(0, "PCMU", 8000)], MediaTransport::Rtp);
        let st = caller_answered(&a_answer, None, None).unwrap();
        let plan = plan_answer(&st, &a_answer, &b_answer, local(30002), None).unwrap();
        let t = plan.transcode.expect("transcoded");
        assert_eq!(
            (t.offerer.codec, t.answerer.codec),
            (AudioCodec::Pcmu, AudioCodec::Opus)
        );
        // Keys required: an answer without SRTP is refused.
        let (_, ours) = own_offer(local(30000), None, true);
        let err = caller_answered(&a_answer, ours.as_deref(), None).unwrap_err();
        assert_eq!(err.to_sip_status(), 488);
    }

    fn with_video(mut caps: MediaCaps, pt: u8, fmtp: &str) -> MediaCaps {
        caps.streams.push(StreamCaps {
            kind: MediaKind::Video,
            rtp: Some(addr("192.0.2.10:5006")),
            rtcp: Some(addr("192.0.2.10:5007")),
            rtcp_mux: false,
            transport: MediaTransport::Rtp,
            direction: Direction::SendRecv,
            codecs: vec![CodecCap {
                payload_type: pt,
                name: "H264".into(),
                clock_rate: 90000,
                channels: 1,
                fmtp: Some(fmtp.into()),
            }],
            ptime_ms: None,
            bandwidth_kbps: Some(1024),
        });
        caps
    }

    #[test]
    fn the_same_video_format_is_forwarded_and_another_is_refused() {
        let a = with_video(
            audio(&[(0, "PCMU", 8000)], MediaTransport::Rtp),
            96,
            "packetization-mode=1",
        );
        let (b_offer, st) = offer_for_callee(&a, local(30000), Some(local(30004)), false).unwrap();
        assert_eq!(b_offer.streams.len(), 2);
        assert_eq!(b_offer.streams[1].rtp, Some(addr("203.0.113.1:30004")));
        assert_eq!(
            b_offer.streams[1].codecs[0].fmtp.as_deref(),
            Some("packetization-mode=1")
        );

        let b = with_video(
            audio(&[(0, "PCMU", 8000)], MediaTransport::Rtp),
            96,
            "packetization-mode=1",
        );
        let plan = plan_answer(&st, &a, &b, local(30002), Some(local(30006))).unwrap();
        assert!(plan.video.is_some());
        assert_eq!(
            plan.a_answer.streams[1].rtp,
            Some(addr("203.0.113.1:30006"))
        );

        assert!(plan.video.unwrap().payload_types(true).is_none());

        // The callee numbers the same format 97: forwarded, renumbered both
        // ways, and the caller's answer keeps the caller's 96.
        let b = with_video(
            audio(&[(0, "PCMU", 8000)], MediaTransport::Rtp),
            97,
            "packetization-mode=1",
        );
        let plan = plan_answer(&st, &a, &b, local(30002), Some(local(30006))).unwrap();
        let v = plan.video.expect("forwarded");
        assert_eq!((v.a_pt, v.b_pt), (96, 97));
        assert_eq!(plan.a_answer.streams[1].codecs[0].payload_type, 96);
        use gateway_media::{PacketClass, PacketTransform};
        let mut pkt = [0x80u8, 0x80 | 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0x65];
        v.payload_types(true)
            .unwrap()
            .transform(PacketClass::Rtp, &mut pkt, 13);
        assert_eq!(pkt[1], 0x80 | 97, "to the callee: its number, marker kept");
        v.payload_types(false)
            .unwrap()
            .transform(PacketClass::Rtp, &mut pkt, 13);
        assert_eq!(pkt[1], 0x80 | 96, "to the caller: its number");

        // Another packetization mode is another format: no forwarding.
        let b = with_video(
            audio(&[(0, "PCMU", 8000)], MediaTransport::Rtp),
            96,
            "packetization-mode=0",
        );
        let plan = plan_answer(&st, &a, &b, local(30002), Some(local(30006))).unwrap();
        assert!(plan.video.is_none());
        assert_eq!(
            plan.a_answer.streams[1].rtp, None,
            "the caller's video refused"
        );
        // No relay stream for video: nothing is offered on.
        let (b_offer, _) = offer_for_callee(&a, local(30000), None, false).unwrap();
        assert_eq!(b_offer.streams.len(), 1);
    }

    #[test]
    fn an_offer_without_audio_is_refused() {
        let err = offer_for_callee(&MediaCaps::default(), local(30000), None, false).unwrap_err();
        assert_eq!(err.to_sip_status(), 488);
    }
}
