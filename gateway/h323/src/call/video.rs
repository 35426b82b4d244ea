//! Video in an H.323 call: H.264 (H.241 generic capability) and H.263
//! logical channels in session 2, mapped to and from the neutral video
//! stream of [`MediaCaps`] so that the bridge forwards video between legs
//! that agree on the format. The gateway never decodes video, so every
//! channel carries the format as the other side of the bridge sends it.
//!
//! - Fast Start: the Setup's video proposals become the offer's video
//!   stream, the owner's answer picks among them (a call we receive); our
//!   proposals come from the owner's offer and the callee's accepted ones
//!   become its answer (a call we place).
//! - Slow start (a call we place whose callee refused Fast Start): our
//!   video channel opens next to the audio one when the callee's
//!   capabilities can receive the format; the owner hears the answer once
//!   both were acknowledged or refused.
//! - Channels the peer opens over H.245 are acknowledged with where we
//!   receive video, when the owner gave us such an address.
//! - Keyframes: videoFastUpdatePicture from the peer is
//!   `LegEvent::KeyframeRequest`; `LegCommand::KeyframeRequest` asks the
//!   peer with videoFastUpdatePicture on the channel it sends video on.

use super::*;
use crate::h245::video::H264Params;
use crate::h245::{
    ForwardLogicalChannelParameters, H2250LogicalChannelParameters, H263VideoCapability,
    MediaPacketization, MiscellaneousCommand, ReverseLogicalChannelParameters, RtpPayloadType,
    VideoCapability,
};

/// H.225.0 session of the main video.
pub(super) const VIDEO_SESSION: u8 = 2;
/// Our video channel's number (audio's is 1), Fast Start or H.245.
pub(super) const OUR_VIDEO_LCN: u16 = 2;
/// H.264 needs a dynamic payload type; this one when a channel names none.
const DEFAULT_H264_PT: u8 = 96;
/// RFC 3551's static payload type of H.263 (RFC 2190 packetization).
const H263_PT: u8 = 34;
/// maxBitRate (100 bit/s units) we announce when nothing says otherwise:
/// 1.92 Mbit/s, enough for 720p30 H.264.
const DEFAULT_VIDEO_RATE: u32 = 19200;

/// One video proposal of Fast Start (ours or the caller's), decoded.
#[derive(Debug, Clone)]
pub(super) struct VideoProposal {
    pub(super) olc: OpenLogicalChannel,
    pub(super) codec: CodecCap,
    /// The caller transmits on it (forward); else it receives (reverse).
    pub(super) caller_sends: bool,
}

/// Our video channel opened over H.245 in slow start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum SlowVideo {
    /// Not opened: no video offered, or the callee cannot receive it.
    None,
    Opened(CodecCap),
    /// Acknowledged: where the callee receives.
    Established {
        codec: CodecCap,
        rtp: SocketAddr,
        rtcp: Option<SocketAddr>,
    },
    /// Refused by the callee.
    Refused,
}

/// The video side of a call.
#[derive(Debug)]
pub(super) struct VideoState {
    pub(super) proposals: Vec<VideoProposal>,
    /// Where we receive video (the relay's port), once the owner said.
    pub(super) local: Option<(SocketAddr, SocketAddr)>,
    /// The video stream of the owner's offer (a call we place).
    pub(super) offered: Option<StreamCaps>,
    /// The logical channel the peer sends video on.
    pub(super) peer_lcn: Option<u16>,
    pub(super) slow: SlowVideo,
}

impl VideoState {
    pub(super) fn new() -> Self {
        VideoState {
            proposals: Vec::new(),
            local: None,
            offered: None,
            peer_lcn: None,
            slow: SlowVideo::None,
        }
    }
}

fn is_h264(c: &CodecCap) -> bool {
    c.name.eq_ignore_ascii_case("H264") && c.clock_rate == 90_000
}

fn is_h263(c: &CodecCap) -> bool {
    c.name.eq_ignore_ascii_case("H263") && c.clock_rate == 90_000
}

/// Two codecs carry the same video format (what forwarding needs).
fn same_format(a: &CodecCap, b: &CodecCap) -> bool {
    if is_h264(a) && is_h264(b) {
        let mode = |c: &CodecCap| {
            H264Params::from_fmtp(c.fmtp.as_deref(), None).map(|p| p.packetization_mode)
        };
        return mode(a) == mode(b);
    }
    is_h263(a) && is_h263(b)
}

fn video_cap(payload_type: u8, name: &str, fmtp: Option<String>) -> CodecCap {
    CodecCap {
        payload_type,
        name: name.into(),
        clock_rate: 90_000,
        channels: 1,
        fmtp,
    }
}

/// RFC 4629 picture sizes of an H.263 capability (`CIF=1;QCIF=1`).
fn h263_fmtp(v: &H263VideoCapability) -> Option<String> {
    let sizes = [
        ("SQCIF", v.sqcif_mpi),
        ("QCIF", v.qcif_mpi),
        ("CIF", v.cif_mpi),
        ("CIF4", v.cif4_mpi),
        ("CIF16", v.cif16_mpi),
    ];
    let parts: Vec<String> = sizes
        .iter()
        .filter_map(|(n, m)| m.map(|m| format!("{n}={m}")))
        .collect();
    (!parts.is_empty()).then(|| parts.join(";"))
}

fn h263_of_fmtp(fmtp: Option<&str>, max_bit_rate: u32) -> H263VideoCapability {
    let mut v = H263VideoCapability {
        max_bit_rate: max_bit_rate.clamp(1, 192400),
        ..Default::default()
    };
    for param in fmtp.unwrap_or("").split(';') {
        let Some((k, m)) = param.split_once('=') else {
            continue;
        };
        let Ok(m) = m.trim().parse::<u8>() else {
            continue;
        };
        let m = Some(m.clamp(1, 32));
        match k.trim().to_ascii_uppercase().as_str() {
            "SQCIF" => v.sqcif_mpi = m,
            "QCIF" => v.qcif_mpi = m,
            "CIF" => v.cif_mpi = m,
            "CIF4" => v.cif4_mpi = m,
            "CIF16" => v.cif16_mpi = m,
            _ => {}
        }
    }
    if [v.sqcif_mpi, v.qcif_mpi, v.cif_mpi, v.cif4_mpi, v.cif16_mpi]
        .iter()
        .all(Option::is_none)
    {
        v.qcif_mpi = Some(1);
        v.cif_mpi = Some(1);
    }
    v
}

/// The payload type a channel names: dynamicRTPPayloadType, else the one
/// in its mediaPacketization.
fn channel_pt(h: Option<&H2250LogicalChannelParameters>) -> Option<u8> {
    let h = h?;
    h.dynamic_rtp_payload_type.or(match &h.media_packetization {
        Some(MediaPacketization::RtpPayloadType(RtpPayloadType { payload_type, .. })) => {
            *payload_type
        }
        _ => None,
    })
}

/// The neutral codec of a video data type on a channel with these
/// parameters (None for formats the gateway does not forward).
pub(super) fn video_codec_of(
    cap: &VideoCapability,
    h: Option<&H2250LogicalChannelParameters>,
) -> Option<CodecCap> {
    match cap {
        VideoCapability::Generic(g) => {
            let p = H264Params::from_capability(g, h.and_then(|h| h.media_packetization.as_ref()))?;
            let pt = channel_pt(h).unwrap_or(DEFAULT_H264_PT);
            Some(video_cap(pt, "H264", Some(p.fmtp())))
        }
        VideoCapability::H263(v) => {
            let pt = channel_pt(h).unwrap_or(H263_PT);
            Some(video_cap(pt, "H263", h263_fmtp(v)))
        }
        _ => None,
    }
}

/// maxBitRate of a video capability, in kbit/s.
fn video_kbps(cap: &VideoCapability) -> Option<u32> {
    match cap {
        VideoCapability::Generic(g) => g.max_bit_rate.map(|r| r / 10),
        VideoCapability::H263(v) => Some(v.max_bit_rate / 10),
        _ => None,
    }
}

/// The H.245 form of a neutral video codec, with the mediaPacketization
/// its channels carry.
pub(super) fn video_capability_of(
    c: &CodecCap,
    kbps: Option<u32>,
) -> Option<(VideoCapability, Option<MediaPacketization>)> {
    let rate = kbps
        .map(|k| k.saturating_mul(10))
        .unwrap_or(DEFAULT_VIDEO_RATE);
    if is_h264(c) {
        let p = H264Params::from_fmtp(c.fmtp.as_deref(), Some(rate))?;
        return Some((
            VideoCapability::Generic(p.capability()),
            Some(p.packetization(Some(c.payload_type))),
        ));
    }
    if is_h263(c) {
        return Some((
            VideoCapability::H263(h263_of_fmtp(c.fmtp.as_deref(), rate)),
            None,
        ));
    }
    None
}

/// The video capabilities of our TerminalCapabilitySet: those of the
/// offer we place a call with, else H.264 (baseline, level 3.1, both
/// packetization modes) and H.263 (QCIF, CIF).
pub(super) fn tcs_video(offered: Option<&StreamCaps>) -> Vec<VideoCapability> {
    let mut caps: Vec<VideoCapability> = Vec::new();
    let from_offer = offered
        .map(|s| {
            s.codecs
                .iter()
                .filter_map(|c| video_capability_of(c, s.bandwidth_kbps))
        })
        .into_iter()
        .flatten()
        .map(|(v, _)| v);
    for v in from_offer {
        if !caps.contains(&v) {
            caps.push(v);
        }
    }
    if caps.is_empty() && offered.is_none() {
        let h264 = H264Params {
            profile_idc: 0x42,
            level_idc: 31,
            packetization_mode: 1,
            max_bit_rate: Some(DEFAULT_VIDEO_RATE),
        };
        caps.push(VideoCapability::Generic(h264.capability()));
        caps.push(VideoCapability::H263(h263_of_fmtp(
            None,
            DEFAULT_VIDEO_RATE,
        )));
    }
    caps
}

fn video_h2250(
    media: Option<SocketAddr>,
    control: SocketAddr,
    codec: &CodecCap,
    packetization: Option<MediaPacketization>,
) -> H2250LogicalChannelParameters {
    H2250LogicalChannelParameters {
        session_id: VIDEO_SESSION,
        media_channel: media.map(H245Address::Unicast),
        media_control_channel: Some(H245Address::Unicast(control)),
        dynamic_rtp_payload_type: (codec.payload_type >= 96).then_some(codec.payload_type),
        media_packetization: packetization,
        ..Default::default()
    }
}

/// The first enabled plain-RTP video stream of the owner's media.
fn owner_video(caps: &MediaCaps) -> Option<(&StreamCaps, SocketAddr, SocketAddr)> {
    let (_, s) = caps.first(MediaKind::Video)?;
    if s.transport != MediaTransport::Rtp {
        return None;
    }
    let rtp = s.rtp?;
    let rtcp = s
        .rtcp
        .unwrap_or_else(|| SocketAddr::new(rtp.ip(), rtp.port().wrapping_add(1)));
    Some((s, rtp, rtcp))
}

impl H323CallLeg {
    // ------------------------------------------------ a call we receive

    /// A video proposal of the caller's Setup; false when it is not one.
    pub(super) fn take_video_proposal(&mut self, olc: &OpenLogicalChannel) -> bool {
        let (cap, h, caller_sends) = match (&olc.forward.data_type, &olc.reverse) {
            (DataType::Video(cap), None) => (cap, olc.forward.h2250.as_ref(), true),
            (DataType::NullData, Some(rev)) => match &rev.data_type {
                DataType::Video(cap) => (cap, rev.h2250.as_ref(), false),
                _ => return false,
            },
            _ => return false,
        };
        let Some(codec) = video_codec_of(cap, h) else {
            return true;
        };
        if self.video.proposals.len() < 32 {
            self.video.proposals.push(VideoProposal {
                olc: olc.clone(),
                codec,
                caller_sends,
            });
        }
        true
    }

    /// The caller's video proposals as the offer's video stream: what it
    /// receives first (what the bridge will send it), its addresses from
    /// the receive proposal.
    pub(super) fn video_offer(&self) -> Option<StreamCaps> {
        let ps = &self.video.proposals;
        if ps.is_empty() {
            return None;
        }
        let mut codecs: Vec<CodecCap> = Vec::new();
        for p in ps
            .iter()
            .filter(|p| !p.caller_sends)
            .chain(ps.iter().filter(|p| p.caller_sends))
        {
            if !codecs.iter().any(|c| same_format(c, &p.codec)) {
                codecs.push(p.codec.clone());
            }
        }
        let receive = ps.iter().find(|p| !p.caller_sends);
        let h = receive.and_then(|p| p.olc.reverse.as_ref()?.h2250.as_ref());
        let rtp = h.and_then(|h| unicast(&h.media_channel));
        let rtcp = h
            .and_then(|h| unicast(&h.media_control_channel))
            .or_else(|| {
                ps.iter()
                    .find_map(|p| unicast(&p.olc.forward.h2250.as_ref()?.media_control_channel))
            });
        let (sends, receives) = (ps.iter().any(|p| p.caller_sends), receive.is_some());
        let direction = match (sends, receives) {
            (true, true) => MediaDirection::SendRecv,
            (true, false) => MediaDirection::SendOnly,
            _ => MediaDirection::RecvOnly,
        };
        let kbps = ps.iter().find_map(|p| {
            let dt = match &p.olc.reverse {
                Some(r) => &r.data_type,
                None => &p.olc.forward.data_type,
            };
            match dt {
                DataType::Video(v) => video_kbps(v),
                _ => None,
            }
        });
        Some(StreamCaps {
            kind: MediaKind::Video,
            rtp,
            rtcp,
            rtcp_mux: false,
            transport: MediaTransport::Rtp,
            direction,
            codecs,
            ptime_ms: None,
            bandwidth_kbps: kbps,
        })
    }

    /// Our Fast Start answer's video channels for the owner's answer.
    pub(super) fn video_answer(&mut self, caps: &MediaCaps) -> Vec<OpenLogicalChannel> {
        let mut out = Vec::new();
        let Some((s, rtp, rtcp)) = owner_video(caps) else {
            return out;
        };
        let Some(codec) = s.codecs.first() else {
            return out;
        };
        self.video.local = Some((rtp, rtcp));
        let pick = |caller_sends: bool, ps: &[VideoProposal]| {
            // the proposal whose payload type the answer took (an SDP answer
            // keeps the offer's number, not always its fmtp), else the same
            // format under another number
            ps.iter()
                .filter(|p| p.caller_sends == caller_sends)
                .find(|p| {
                    p.codec.payload_type == codec.payload_type
                        && p.codec.name.eq_ignore_ascii_case(&codec.name)
                })
                .or_else(|| {
                    ps.iter()
                        .filter(|p| p.caller_sends == caller_sends)
                        .find(|p| same_format(&p.codec, codec))
                })
                .map(|p| p.olc.clone())
        };
        if s.direction.receives() {
            if let Some(mut olc) = pick(true, &self.video.proposals) {
                if let Some(h) = olc.forward.h2250.as_mut() {
                    h.media_channel = Some(H245Address::Unicast(rtp));
                    h.media_control_channel = Some(H245Address::Unicast(rtcp));
                }
                self.video.peer_lcn = Some(olc.forward_logical_channel_number);
                out.push(olc);
            }
        }
        if s.direction.sends() {
            if let Some(mut olc) = pick(false, &self.video.proposals) {
                olc.forward_logical_channel_number = OUR_VIDEO_LCN;
                if let Some(h) = olc.reverse.as_mut().and_then(|r| r.h2250.as_mut()) {
                    h.media_control_channel = Some(H245Address::Unicast(rtcp));
                }
                out.push(olc);
            }
        }
        out
    }

    /// The owner's answer names where we receive video: channels the peer
    /// opens over H.245 are acknowledged with it.
    pub(super) fn note_local_video(&mut self, caps: &MediaCaps) {
        if let Some((_, rtp, rtcp)) = owner_video(caps) {
            self.video.local = Some((rtp, rtcp));
        }
    }

    // --------------------------------------------------- a call we place

    /// Our Fast Start video proposals from the owner's offer, numbered on
    /// from `lcn`.
    pub(super) fn propose_video(
        &mut self,
        offer: &MediaCaps,
        lcn: &mut u16,
    ) -> Vec<OpenLogicalChannel> {
        let mut out = Vec::new();
        let Some((s, rtp, rtcp)) = owner_video(offer) else {
            return out;
        };
        self.video.local = Some((rtp, rtcp));
        self.video.offered = Some(s.clone());
        let mut seen: Vec<&CodecCap> = Vec::new();
        for c in &s.codecs {
            if seen
                .iter()
                .any(|x| same_format(x, c) && x.payload_type == c.payload_type)
            {
                continue;
            }
            let Some((cap, pk)) = video_capability_of(c, s.bandwidth_kbps) else {
                continue;
            };
            seen.push(c);
            if s.direction.sends() {
                *lcn += 1;
                let olc = OpenLogicalChannel {
                    forward_logical_channel_number: *lcn,
                    forward: ForwardLogicalChannelParameters {
                        port_number: None,
                        data_type: DataType::Video(cap.clone()),
                        h2250: Some(video_h2250(None, rtcp, c, pk.clone())),
                    },
                    reverse: None,
                };
                out.push(olc.clone());
                self.video.proposals.push(VideoProposal {
                    olc,
                    codec: c.clone(),
                    caller_sends: true,
                });
            }
            if s.direction.receives() {
                *lcn += 1;
                let olc = OpenLogicalChannel {
                    forward_logical_channel_number: *lcn,
                    forward: ForwardLogicalChannelParameters {
                        port_number: None,
                        data_type: DataType::NullData,
                        h2250: None,
                    },
                    reverse: Some(ReverseLogicalChannelParameters {
                        data_type: DataType::Video(cap),
                        h2250: Some(video_h2250(Some(rtp), rtcp, c, pk)),
                    }),
                };
                out.push(olc.clone());
                self.video.proposals.push(VideoProposal {
                    olc,
                    codec: c.clone(),
                    caller_sends: false,
                });
            }
        }
        out
    }

    /// The callee's accepted video channels as its video stream (the
    /// peer's view: where it receives, what it sends), in our offer's
    /// payload type so that the bridge can forward.
    pub(super) fn accepted_video(&mut self, fast_start: &[Vec<u8>]) -> Option<StreamCaps> {
        let mut send: Option<(CodecCap, Option<SocketAddr>, Option<SocketAddr>)> = None;
        let mut receive: Option<(CodecCap, u16, Option<SocketAddr>)> = None;
        for bytes in fast_start.iter().take(64) {
            let Ok(olc) = OpenLogicalChannel::decode_fast_start(bytes) else {
                continue;
            };
            match (&olc.forward.data_type, &olc.reverse) {
                (DataType::Video(_), None) if send.is_none() => {
                    // our proposal, returned with where the callee receives
                    let Some(p) = self.video.proposals.iter().find(|p| {
                        p.caller_sends
                            && p.olc.forward_logical_channel_number
                                == olc.forward_logical_channel_number
                    }) else {
                        continue;
                    };
                    let h = olc.forward.h2250.as_ref();
                    send = Some((
                        p.codec.clone(),
                        h.and_then(|h| unicast(&h.media_channel)),
                        h.and_then(|h| unicast(&h.media_control_channel)),
                    ));
                }
                (DataType::NullData, Some(rev)) if receive.is_none() => {
                    let DataType::Video(cap) = &rev.data_type else {
                        continue;
                    };
                    let h = rev.h2250.as_ref();
                    let Some(theirs) = video_codec_of(cap, h) else {
                        continue;
                    };
                    let Some(p) = self
                        .video
                        .proposals
                        .iter()
                        .find(|p| !p.caller_sends && same_format(&p.codec, &theirs))
                    else {
                        continue;
                    };
                    receive = Some((
                        p.codec.clone(),
                        olc.forward_logical_channel_number,
                        h.and_then(|h| unicast(&h.media_control_channel)),
                    ));
                }
                _ => {}
            }
        }
        if let Some((_, lcn, _)) = &receive {
            self.video.peer_lcn = Some(*lcn);
        }
        let direction = match (send.is_some(), receive.is_some()) {
            (true, true) => MediaDirection::SendRecv,
            (true, false) => MediaDirection::RecvOnly,
            (false, true) => MediaDirection::SendOnly,
            (false, false) => return None,
        };
        let (codec, rtp, rtcp) = match (send, receive) {
            (Some((c, rtp, rtcp)), r) => (c, rtp, rtcp.or(r.and_then(|r| r.2))),
            (None, Some((c, _, rtcp))) => (c, None, rtcp),
            (None, None) => return None,
        };
        Some(StreamCaps {
            kind: MediaKind::Video,
            rtp,
            rtcp,
            rtcp_mux: false,
            transport: MediaTransport::Rtp,
            direction,
            codecs: vec![codec],
            ptime_ms: None,
            bandwidth_kbps: None,
        })
    }

    /// Slow start: open our video channel when the callee can receive a
    /// format of our offer.
    pub(super) fn slow_start_open_video(&mut self) {
        if self.video.slow != SlowVideo::None {
            return;
        }
        let (Some(s), Some((_, rtcp)), Some(tcs)) = (
            self.video.offered.as_ref(),
            self.video.local,
            self.remote_tcs.as_ref(),
        ) else {
            return;
        };
        if !s.direction.sends() {
            return;
        }
        let receivable: Vec<CodecCap> = tcs
            .capability_table
            .iter()
            .flatten()
            .filter_map(|e| match &e.capability {
                Some(Capability::Video(
                    CapDirection::Receive | CapDirection::ReceiveAndTransmit,
                    v,
                )) => video_codec_of(v, None),
                _ => None,
            })
            .collect();
        let chosen = s.codecs.iter().find(|c| {
            receivable.iter().any(|r| {
                // H.264's packetization is a channel matter, not a capability's
                (is_h264(c) && is_h264(r)) || same_format(c, r)
            })
        });
        let Some(codec) = chosen.cloned() else {
            return;
        };
        let Some((cap, pk)) = video_capability_of(&codec, s.bandwidth_kbps) else {
            return;
        };
        let olc = OpenLogicalChannel {
            forward_logical_channel_number: OUR_VIDEO_LCN,
            forward: ForwardLogicalChannelParameters {
                port_number: None,
                data_type: DataType::Video(cap),
                h2250: Some(video_h2250(None, rtcp, &codec, pk)),
            },
            reverse: None,
        };
        self.queue_h245(&H245Message::OpenLogicalChannel(olc));
        self.video.slow = SlowVideo::Opened(codec);
    }

    pub(super) fn slow_video_opened(&self) -> bool {
        matches!(self.video.slow, SlowVideo::Opened(_))
    }

    /// T103 expired on our video channel (H.245 C.5.4): it is closed and
    /// the call goes on with audio alone, as if the peer had refused it.
    pub(super) fn slow_video_timed_out(&mut self) {
        self.queue_h245(&H245Message::CloseLogicalChannel {
            forward_logical_channel_number: OUR_VIDEO_LCN,
            source_user: false,
            reason: None,
        });
        self.video.slow = SlowVideo::Refused;
        self.slow_start_finish();
    }

    /// The callee acknowledged or refused our slow-start video channel;
    /// false when `lcn` is not it.
    pub(super) fn on_video_olc_answer(
        &mut self,
        lcn: u16,
        ack: Option<&OpenLogicalChannelAck>,
    ) -> bool {
        let SlowVideo::Opened(codec) = &self.video.slow else {
            return false;
        };
        if lcn != OUR_VIDEO_LCN {
            return false;
        }
        self.video_olc_deadline = None;
        let h = ack.and_then(|a| a.h2250_ack.as_ref());
        self.video.slow = match h.and_then(|h| unicast(&h.media_channel)) {
            Some(rtp) => SlowVideo::Established {
                codec: codec.clone(),
                rtp,
                rtcp: h.and_then(|h| unicast(&h.media_control_channel)),
            },
            None => SlowVideo::Refused,
        };
        true
    }

    /// Slow start's video, once settled: None while our channel waits for
    /// the callee's answer.
    pub(super) fn slow_video_settled(&self) -> Option<Option<StreamCaps>> {
        match &self.video.slow {
            SlowVideo::Opened(_) => None,
            SlowVideo::Established { codec, rtp, rtcp } => Some(Some(StreamCaps {
                kind: MediaKind::Video,
                rtp: Some(*rtp),
                rtcp: *rtcp,
                rtcp_mux: false,
                transport: MediaTransport::Rtp,
                // what the callee sends us arrives on its own channel
                direction: if self.video.peer_lcn.is_some() {
                    MediaDirection::SendRecv
                } else {
                    MediaDirection::RecvOnly
                },
                codecs: vec![codec.clone()],
                ptime_ms: None,
                bandwidth_kbps: None,
            })),
            SlowVideo::None | SlowVideo::Refused => Some(None),
        }
    }

    // ------------------------------------------------------- both ways

    /// A video channel the peer opens over H.245: acknowledged with where
    /// we receive video, if the owner gave us such an address and the
    /// format is one we forward. None when `olc` is not video.
    pub(super) fn on_peer_video_olc(&mut self, olc: &OpenLogicalChannel) -> Option<H245Message> {
        let DataType::Video(cap) = &olc.forward.data_type else {
            return None;
        };
        let lcn = olc.forward_logical_channel_number;
        let h = olc.forward.h2250.as_ref();
        let codec = video_codec_of(cap, h);
        Some(match (codec, self.video.local) {
            (Some(codec), Some((rtp, rtcp))) if olc.reverse.is_none() => {
                self.video.peer_lcn = Some(lcn);
                H245Message::OpenLogicalChannelAck(OpenLogicalChannelAck {
                    forward_logical_channel_number: lcn,
                    reverse: None,
                    h2250_ack: Some(H2250LogicalChannelAckParameters {
                        session_id: Some(h.map_or(VIDEO_SESSION, |h| h.session_id).max(1)),
                        media_channel: Some(H245Address::Unicast(rtp)),
                        media_control_channel: Some(H245Address::Unicast(rtcp)),
                        dynamic_rtp_payload_type: (codec.payload_type >= 96)
                            .then_some(codec.payload_type),
                        flow_control_to_zero: false,
                    }),
                })
            }
            (codec, _) => H245Message::OpenLogicalChannelReject {
                forward_logical_channel_number: lcn,
                cause: if codec.is_some() {
                    OlcRejectCause::DataTypeNotAvailable
                } else {
                    OlcRejectCause::DataTypeNotSupported
                },
            },
        })
    }

    /// Asks the peer for a keyframe on the channel it sends video on.
    pub(super) fn request_keyframe(&mut self) {
        let Some(lcn) = self.video.peer_lcn else {
            return;
        };
        self.queue_h245(&H245Message::MiscellaneousCommand(MiscellaneousCommand {
            logical_channel_number: lcn,
            command: MiscCommandType::VideoFastUpdatePicture,
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn h264_and_h263_map_to_neutral_codecs_and_back() {
        let c = video_cap(
            109,
            "H264",
            Some("profile-level-id=42e01f;packetization-mode=1".into()),
        );
        let (cap, pk) = video_capability_of(&c, Some(1024)).unwrap();
        let h = H2250LogicalChannelParameters {
            session_id: 2,
            dynamic_rtp_payload_type: Some(109),
            media_packetization: pk,
            ..Default::default()
        };
        assert_eq!(video_codec_of(&cap, Some(&h)), Some(c.clone()));
        assert_eq!(video_kbps(&cap), Some(1024));
        // the payload type from mediaPacketization when dynamicRTPPayloadType is absent
        let h2 = H2250LogicalChannelParameters {
            dynamic_rtp_payload_type: None,
            ..h.clone()
        };
        assert_eq!(video_codec_of(&cap, Some(&h2)).unwrap().payload_type, 109);
        assert_eq!(
            video_codec_of(&cap, None).unwrap().fmtp.as_deref(),
            Some("profile-level-id=42e01f;packetization-mode=0"),
            "no mediaPacketization: single NAL unit mode"
        );

        let h263 = video_cap(34, "H263", Some("QCIF=2;CIF=1".into()));
        let (cap, pk) = video_capability_of(&h263, None).unwrap();
        assert_eq!(pk, None);
        let VideoCapability::H263(v) = &cap else {
            panic!()
        };
        assert_eq!(
            (v.qcif_mpi, v.cif_mpi, v.sqcif_mpi),
            (Some(2), Some(1), None)
        );
        assert_eq!(v.max_bit_rate, DEFAULT_VIDEO_RATE);
        assert_eq!(
            video_codec_of(&cap, None),
            Some(video_cap(34, "H263", Some("QCIF=2;CIF=1".into())))
        );
        // VP8 and H.261 are not forwarded here
        assert_eq!(
            video_capability_of(&video_cap(100, "VP8", None), None),
            None
        );
        assert_eq!(
            video_codec_of(&VideoCapability::H261(Default::default()), None),
            None
        );
        assert!(!same_format(
            &c,
            &video_cap(109, "H264", Some("packetization-mode=0".into()))
        ));
    }

    #[test]
    fn our_tcs_video_follows_the_offer_or_defaults() {
        let d = tcs_video(None);
        assert_eq!(d.len(), 2);
        assert!(
            matches!(&d[0], VideoCapability::Generic(g) if g.is(&crate::h245::H264_CAPABILITY_OID))
        );
        let s = StreamCaps {
            kind: MediaKind::Video,
            rtp: None,
            rtcp: None,
            rtcp_mux: false,
            transport: MediaTransport::Rtp,
            direction: MediaDirection::SendRecv,
            codecs: vec![video_cap(100, "VP8", None)],
            ptime_ms: None,
            bandwidth_kbps: None,
        };
        assert!(
            tcs_video(Some(&s)).is_empty(),
            "an offer of VP8 only: no video to announce"
        );
    }
}
