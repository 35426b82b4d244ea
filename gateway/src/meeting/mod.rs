//! Meetings the gateway hosts. A room dials a meeting number, the routing
//! decision says `Meeting`, and the room's leg joins the meeting's bridge,
//! which mixes every leg for every other (mix-minus).
//!
//! This module is the protocol-neutral owner: it admits a leg from its
//! neutral media offer ([`MediaCaps`]), answers with neutral capabilities,
//! reacts to neutral [`LegEvent`]s and ends legs with a [`Cause`]. It never
//! asks which protocol a leg speaks; the signalling adapters do that: SIP in
//! [`sip`] today, H.323 and WebRTC legs next, through the same
//! [`Engine::admit_to_meeting`] / [`Engine::on_meeting_leg_event`] calls.

pub mod h323;
pub(crate) mod recording;
pub(crate) mod repair;
pub mod sip;
pub(crate) mod webrtc;

use crate::engine::Engine;
use crate::store_writer::StoreOp;
use gateway_callmodel::{
    Cause, CodecCap, Direction, LegCommand, LegEvent, MediaCaps, MediaKind, MediaTransport,
    StreamCaps,
};
use gateway_dialplan::{Classification, RouteDecision};
use gateway_media::meeting::{H264Format, KeyframeFeedback, MeetingVideoEvent, MeetingVideoSpec};
use gateway_media::meeting::{MeetingBridge, MeetingLegCounters, MeetingLegSpec};
use gateway_media::srtp::{SrtpProtect, SrtpUnprotect};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Instant;
use tracing::{debug, info, warn};

pub struct Meeting {
    pub number: String,
    pub unit: String,
    pub classification: Classification,
    pub record: bool,
    /// The H.264 packetization every video leg must share (switched video
    /// is forwarded, not transcoded): the first video leg's.
    video_format: Option<H264Format>,
    bridge: MeetingBridge,
    legs: HashMap<u64, MeetingLeg>,
    started: Instant,
    /// The recording in progress (`record` meetings).
    recording: Option<recording::ActiveRecording>,
}

/// One participant: who it is, its media counters and its signalling.
pub(crate) struct MeetingLeg {
    /// On every log line of the leg (the SIP Call-ID, an H.323 call id ...).
    pub(crate) label: String,
    pub(crate) caller: String,
    pub(crate) signalling: LegSignalling,
    counters: Arc<MeetingLegCounters>,
    /// For the CDR: who called, what they dialled.
    cdr_from: String,
    cdr_to: String,
    started_unix_ms: i64,
    started: Instant,
}

/// The protocol half of a leg. The meeting only stores it for the adapter.
pub(crate) enum LegSignalling {
    Sip(Box<sip::SipMeetingLeg>),
    H323(Box<h323::H323MeetingLeg>),
    WebRtc(Box<webrtc::WebrtcMeetingLeg>),
}

impl LegSignalling {
    /// How the leg agreed to be asked for a keyframe of video payload type
    /// `pt` (SIP: `a=rtcp-fb`). Signalling without RTCP feedback (H.323's
    /// videoFastUpdatePicture, SIP INFO) is asked through the adapter.
    fn keyframe_feedback(&self, pt: u8) -> KeyframeFeedback {
        match self {
            LegSignalling::Sip(s) => s.keyframe_feedback(pt),
            LegSignalling::H323(_) | LegSignalling::WebRtc(_) => KeyframeFeedback::default(),
        }
    }

    /// Whether the adapter puts the meeting's video answer on the wire (a
    /// video stream bound but never answered would still count as a
    /// camera). SIP answers in SDP, H.323 opens H.245 video channels.
    fn answers_video(&self) -> bool {
        matches!(self, LegSignalling::Sip(_) | LegSignalling::H323(_))
    }
}

/// Where an in-dialog message or timer of a meeting leg goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeetingLegRef {
    pub number: String,
    pub leg: u64,
}

/// What a leg's adapter knows when its peer asks to join.
pub(crate) struct JoinRequest<'a> {
    pub number: &'a str,
    pub decision: &'a RouteDecision,
    pub offer: &'a MediaCaps,
    /// Signalling that keys cannot be read from: SIP over TLS, WebRTC.
    /// SDES keys in plain SIP are not encryption (MISSION: classified
    /// meetings admit only encrypted legs).
    pub secure_signalling: bool,
    pub label: String,
    pub caller: String,
    pub cdr_from: String,
    pub cdr_to: String,
    pub signalling: LegSignalling,
}

/// The meeting's answer to a join: which offered stream it took and what it
/// answers for it (our address, the chosen codecs); other streams refused.
#[derive(Debug, Clone)]
pub(crate) struct Admitted {
    pub leg: MeetingLegRef,
    pub stream_index: usize,
    pub answer: StreamCaps,
    /// The offered video stream, when the meeting took it.
    pub video: Option<AdmittedVideo>,
}

/// The video half of an admission.
#[derive(Debug, Clone)]
pub(crate) struct AdmittedVideo {
    pub stream_index: usize,
    pub answer: StreamCaps,
    /// What the answer agrees to for keyframe requests.
    pub feedback: KeyframeFeedback,
}

/// The offered video stream the meeting takes: H.264 whose packetization
/// matches the meeting's (any, for the first video leg). A leg whose video
/// does not match gets its video m-line refused (port 0, RFC 3264 §6) and
/// stays in the meeting with audio: answering `inactive` would keep ports
/// bound for a stream that can never carry anything.
struct VideoPlan<'a> {
    index: usize,
    stream: &'a StreamCaps,
    codec: CodecCap,
    format: H264Format,
}

fn plan_video(offer: &MediaCaps, meeting: Option<H264Format>) -> Option<VideoPlan<'_>> {
    let (index, stream) = offer.first(MediaKind::Video)?;
    if matches!(stream.transport, MediaTransport::DtlsSrtp { .. }) {
        return None;
    }
    let (codec, format) = stream.codecs.iter().find_map(|c| {
        if !c.name.eq_ignore_ascii_case("H264") || c.clock_rate != 90_000 {
            return None;
        }
        let f = H264Format::from_fmtp(c.fmtp.as_deref())?;
        meeting.is_none_or(|m| m == f).then(|| (c.clone(), f))
    })?;
    Some(VideoPlan {
        index,
        stream,
        codec,
        format,
    })
}

fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A refusal the caller's protocol maps from the cause: 488 for SIP, a
/// release with Q.850 65/88 for H.323.
fn refuse(status: u16, why: String) -> Cause {
    Cause::from_sip_status(status, &why)
}

/// The media plan for one leg: the first offered audio codec the bridge can
/// mix, in the peer's order of preference, plus its telephone-event.
struct AudioPlan {
    index: usize,
    remote_rtp: SocketAddr,
    codec: CodecCap,
    audio: gateway_callmodel::AudioCodec,
    telephone_event: Option<CodecCap>,
    ptime_ms: u32,
}

fn plan_audio(offer: &MediaCaps) -> Result<(AudioPlan, &StreamCaps), Cause> {
    let Some((index, audio)) = offer.first(MediaKind::Audio) else {
        return Err(refuse(488, "The offer has no audio stream".into()));
    };
    let Some((codec, a)) = audio.codecs.iter().find_map(|c| {
        c.audio_codec()
            .filter(|a| gateway_media::meeting::can_mix(*a))
            .map(|a| (c.clone(), a))
    }) else {
        let names: Vec<&str> = audio.codecs.iter().map(|c| c.name.as_str()).collect();
        return Err(refuse(
            488,
            format!(
                "No audio codec in common: offered {}, the meeting mixes {}",
                names.join(" "),
                gateway_media::meeting::MIXABLE.join(" ")
            ),
        ));
    };
    let remote_rtp = audio
        .rtp
        .ok_or_else(|| refuse(488, "The audio stream has no address".into()))?;
    let telephone_event = audio
        .telephone_event(a.rtp_clock())
        .and_then(|pt| audio.codecs.iter().find(|c| c.payload_type == pt).cloned());
    Ok((
        AudioPlan {
            index,
            remote_rtp,
            codec,
            audio: a,
            telephone_event,
            ptime_ms: audio.ptime_ms.unwrap_or(20).clamp(10, 60),
        },
        audio,
    ))
}

impl Engine {
    /// Admit a leg into meeting `number`, starting the meeting if it is the
    /// first. Nothing is answered unless the leg is in the mix; a refusal
    /// leaves no trace (no ports, no half-started meeting).
    pub(crate) fn admit_to_meeting(
        &mut self,
        now: Instant,
        join: JoinRequest<'_>,
    ) -> Result<Admitted, Cause> {
        let Some(m) = self.dialplan.meeting_by_user(join.number).cloned() else {
            return Err(refuse(404, format!("No meeting {}", join.number)));
        };
        let label = join.label;
        if join.decision.policy.encryption_required
            && !(join.secure_signalling && join.offer.all_encrypted())
        {
            info!(call_id = %label, meeting = %m.number, "plain leg refused from a classified meeting");
            return Err(refuse(
                488,
                format!(
                    "Meeting {} is {}: only encrypted legs are admitted (SRTP media over SIP TLS)",
                    m.number,
                    m.classification.as_str()
                ),
            ));
        }
        let (plan, audio) = plan_audio(join.offer)?;
        // An SRTP leg is decrypted on the way in and encrypted on the way
        // out with a key of ours: the mix itself is plain.
        let (srtp, answer_transport) = match &audio.transport {
            MediaTransport::Rtp => (None, MediaTransport::Rtp),
            MediaTransport::SrtpSdes { crypto } => {
                match crate::call::sdes::answer(crypto)
                    .and_then(|k| Ok((k.our_line(), k.contexts()?)))
                {
                    Ok((line, leg)) => (Some(leg), MediaTransport::SrtpSdes { crypto: vec![line] }),
                    Err(why) => return Err(refuse(488, format!("SRTP offer not usable: {why}"))),
                }
            }
            MediaTransport::DtlsSrtp { .. } => {
                return Err(refuse(
                    488,
                    "DTLS-SRTP is not available for SIP rooms; offer SDES (a=crypto)".into(),
                ))
            }
        };
        let participants = self.meetings.get(&m.number).map_or(0, |x| x.legs.len());
        if participants >= m.max_participants as usize {
            info!(call_id = %label, meeting = %m.number, participants, "meeting full");
            return Err(refuse(
                486,
                format!("Meeting {} is full ({participants} participants)", m.number),
            ));
        }

        let bound = self.media.bind_leg().map_err(|e| {
            warn!(call_id = %label, error = %e, "no media ports for a meeting leg");
            refuse(e.sip_status(), format!("Media: {e}"))
        })?;
        let (local_rtp, local_rtcp) = bound.local_addr();
        if !self.meetings.contains_key(&m.number) {
            let recording = m.record.then(|| self.plan_recording(&m)).transpose()?;
            let spec = recording.as_ref().map(|r| &r.spec);
            let bridge = MeetingBridge::start(&self.media, &m.number, spec).map_err(|e| {
                warn!(meeting = %m.number, error = %e, "meeting could not start");
                refuse(e.sip_status(), format!("Meeting {}: {e}", m.number))
            })?;
            let recording = recording.map(|r| {
                self.recording_started(r.row);
                r.active
            });
            info!(meeting = %m.number, unit = %m.unit, classification = m.classification.as_str(), record = m.record, "meeting started");
            self.meetings.insert(
                m.number.clone(),
                Meeting {
                    number: m.number.clone(),
                    unit: m.unit.clone(),
                    classification: m.classification,
                    record: m.record,
                    video_format: None,
                    bridge,
                    legs: HashMap::new(),
                    started: now,
                    recording,
                },
            );
        }
        let leg_id = self.alloc_call_id();
        let spec = MeetingLegSpec {
            id: leg_id,
            label: format!("{} ({label})", join.caller),
            remote_rtp: plan.remote_rtp,
            remote_rtcp: audio.rtcp,
            rtcp_mux: audio.rtcp_mux,
            codec: plan.audio,
            payload_type: plan.codec.payload_type,
            telephone_event: plan.telephone_event.as_ref().map(|c| c.payload_type),
            ptime_ms: plan.ptime_ms,
            inbound: None,
            outbound: None,
        };
        let spec = match srtp {
            Some(leg) => MeetingLegSpec {
                inbound: Some(Box::new(SrtpUnprotect::new(leg.inbound))),
                outbound: Some(Box::new(SrtpProtect::new(leg.outbound))),
                ..spec
            },
            None => spec,
        };
        let meeting = self.meetings.get_mut(&m.number).expect("inserted above");
        let counters = match meeting.bridge.add_leg(bound, spec) {
            Ok(c) => c,
            Err(e) => {
                if meeting.legs.is_empty() {
                    self.end_meeting(&m.number);
                }
                return Err(refuse(e.sip_status(), format!("Media: {e}")));
            }
        };
        info!(call_id = %label, meeting = %m.number, caller = %join.caller, codec = ?plan.audio, encrypted = audio.transport.is_encrypted(), participants = participants + 1, "joined meeting");
        if let Some(r) = &meeting.recording {
            r.joined();
        }
        let label_for_video = label.clone();
        let answers_video = join.signalling.answers_video();
        let signalling_feedback = {
            let s = &join.signalling;
            let fbs: Vec<(u8, KeyframeFeedback)> = join
                .offer
                .first(MediaKind::Video)
                .map(|(_, v)| {
                    v.codecs
                        .iter()
                        .map(|c| (c.payload_type, s.keyframe_feedback(c.payload_type)))
                        .collect()
                })
                .unwrap_or_default();
            move |pt: u8| {
                fbs.iter()
                    .find(|(p, _)| *p == pt)
                    .map_or(KeyframeFeedback::default(), |(_, f)| *f)
            }
        };
        meeting.legs.insert(
            leg_id,
            MeetingLeg {
                label,
                caller: join.caller,
                signalling: join.signalling,
                counters,
                cdr_from: join.cdr_from,
                cdr_to: join.cdr_to,
                started_unix_ms: unix_ms(),
                started: now,
            },
        );
        self.meeting_legs.insert(leg_id, m.number.clone());
        self.metrics.calls_active.inc();

        let video = answers_video
            .then(|| {
                self.admit_video(
                    &m.number,
                    leg_id,
                    &label_for_video,
                    join.offer,
                    &signalling_feedback,
                )
            })
            .flatten();
        let mut codecs = vec![plan.codec];
        codecs.extend(plan.telephone_event);
        let answer = StreamCaps {
            kind: MediaKind::Audio,
            rtp: Some(SocketAddr::new(self.cfg.advertised_ip, local_rtp.port())),
            rtcp: Some(SocketAddr::new(self.cfg.advertised_ip, local_rtcp.port())),
            rtcp_mux: false,
            transport: answer_transport,
            direction: audio.direction.reversed(),
            codecs,
            ptime_ms: Some(plan.ptime_ms),
            bandwidth_kbps: None,
        };
        Ok(Admitted {
            leg: MeetingLegRef {
                number: m.number.clone(),
                leg: leg_id,
            },
            stream_index: plan.index,
            answer,
            video,
        })
    }

    /// Gives an admitted leg its video stream if it offered one the
    /// meeting can switch. A refusal only refuses the video.
    fn admit_video(
        &mut self,
        number: &str,
        leg_id: u64,
        label: &str,
        offer: &MediaCaps,
        feedback_of: &dyn Fn(u8) -> KeyframeFeedback,
    ) -> Option<AdmittedVideo> {
        let meeting = self.meetings.get(number)?;
        let Some(plan) = plan_video(offer, meeting.video_format) else {
            if let Some((_, v)) = offer.first(MediaKind::Video) {
                let names: Vec<String> = v
                    .codecs
                    .iter()
                    .map(|c| format!("{} {}", c.name, c.fmtp.as_deref().unwrap_or("")))
                    .collect();
                info!(call_id = %label, meeting = %number, offered = ?names, format = ?meeting.video_format, "video refused: no H.264 in the meeting's packetization");
            }
            return None;
        };
        let v = plan.stream;
        let remote_rtp = v.rtp?;
        let (srtp, transport) = match &v.transport {
            MediaTransport::SrtpSdes { crypto } => match crate::call::sdes::answer(crypto)
                .and_then(|k| Ok((k.our_line(), k.contexts()?)))
            {
                Ok((line, leg)) => (Some(leg), MediaTransport::SrtpSdes { crypto: vec![line] }),
                Err(why) => {
                    info!(call_id = %label, error = %why, "video refused: SRTP offer not usable");
                    return None;
                }
            },
            _ => (None, MediaTransport::Rtp),
        };
        let bound = match self.media.bind_leg() {
            Ok(b) => b,
            Err(e) => {
                warn!(call_id = %label, error = %e, "no media ports for a meeting leg's video: audio only");
                return None;
            }
        };
        let (local_rtp, local_rtcp) = bound.local_addr();
        let feedback = feedback_of(plan.codec.payload_type);
        let (inbound, outbound) = match srtp {
            Some(leg) => (
                Some(Box::new(SrtpUnprotect::new(leg.inbound)) as Box<_>),
                Some(Box::new(SrtpProtect::new(leg.outbound)) as Box<_>),
            ),
            None => (None, None),
        };
        let spec = MeetingVideoSpec {
            remote_rtp,
            remote_rtcp: v.rtcp,
            rtcp_mux: v.rtcp_mux,
            payload_type: plan.codec.payload_type,
            sends: v.direction.sends(),
            receives: v.direction.receives(),
            feedback,
            inbound,
            outbound,
        };
        let meeting = self.meetings.get_mut(number)?;
        if let Err(e) = meeting.bridge.add_video(leg_id, bound, spec) {
            warn!(call_id = %label, error = %e, "video not added to the meeting: audio only");
            return None;
        }
        meeting.video_format.get_or_insert(plan.format);
        info!(call_id = %label, meeting = %number, pt = plan.codec.payload_type, packetization_mode = plan.format.packetization_mode, profile_idc = plan.format.profile_idc, pli = feedback.pli, fir = feedback.fir, encrypted = v.transport.is_encrypted(), "video joined the switch");
        Some(AdmittedVideo {
            stream_index: plan.index,
            answer: StreamCaps {
                kind: MediaKind::Video,
                rtp: Some(SocketAddr::new(self.cfg.advertised_ip, local_rtp.port())),
                rtcp: Some(SocketAddr::new(self.cfg.advertised_ip, local_rtcp.port())),
                rtcp_mux: false,
                transport,
                direction: v.direction.reversed(),
                codecs: vec![plan.codec],
                ptime_ms: None,
                bandwidth_kbps: None,
            },
            feedback,
        })
    }

    /// What the meetings' bridges ask of signalling: keyframe requests for
    /// legs without RTCP feedback. Called from the legs' poll timers (see
    /// `sip::VIDEO_POLL`).
    pub(crate) fn poll_meeting_video(&mut self, now: Instant) {
        let mut asks: Vec<MeetingLegRef> = Vec::new();
        for m in self.meetings.values_mut() {
            while let Some(ev) = m.bridge.poll_video_event() {
                match ev {
                    MeetingVideoEvent::KeyframeRequest { leg } => asks.push(MeetingLegRef {
                        number: m.number.clone(),
                        leg,
                    }),
                    MeetingVideoEvent::Speaker { leg } => {
                        let who = leg.and_then(|l| m.legs.get(&l)).map(|l| l.label.as_str());
                        info!(meeting = %m.number, speaker = ?who, "video shows a new speaker");
                    }
                }
            }
        }
        for r in asks {
            self.meeting_leg_command(now, &r, LegCommand::KeyframeRequest);
        }
    }

    /// Ask a leg's adapter to do something.
    pub(crate) fn meeting_leg_command(&mut self, now: Instant, r: &MeetingLegRef, cmd: LegCommand) {
        let Some(leg) = self.meeting_leg_mut(r) else {
            return;
        };
        match &leg.signalling {
            LegSignalling::Sip(_) => self.sip_meeting_command(now, r, cmd),
            LegSignalling::H323(h) => {
                let conn = h.conn;
                self.h323_leg_command(now, conn, cmd)
            }
            LegSignalling::WebRtc(_) => self.webrtc_leg_command(r, cmd),
        }
    }

    pub(crate) fn meeting_leg_mut(&mut self, r: &MeetingLegRef) -> Option<&mut MeetingLeg> {
        self.meetings
            .get_mut(&r.number)
            .and_then(|m| m.legs.get_mut(&r.leg))
    }

    /// What a leg's adapter reports. A new offer mid-call (a refresh, hold,
    /// a moved address) keeps the leg's codec: the media follows the new
    /// address and the adapter answers as before.
    pub(crate) fn on_meeting_leg_event(&mut self, r: &MeetingLegRef, event: LegEvent) {
        let Some(meeting) = self.meetings.get_mut(&r.number) else {
            return;
        };
        let Some(leg) = meeting.legs.get(&r.leg) else {
            return;
        };
        match event {
            // an Answer: a leg that joined on the meeting's offer (an H.323
            // room without Fast Start) says where it receives only now
            LegEvent::Offer(caps) | LegEvent::Answer(caps) => {
                if let Some((_, v)) = caps.first(MediaKind::Video) {
                    if let Some(rtp) = v.rtp {
                        let _ = meeting
                            .bridge
                            .set_video_remote(r.leg, rtp, v.rtcp, v.rtcp_mux);
                    }
                }
                if let Some((_, a)) = caps.first(MediaKind::Audio) {
                    if let Some(rtp) = a.rtp {
                        let _ = meeting.bridge.set_remote(r.leg, rtp, a.rtcp, a.rtcp_mux);
                    }
                    if matches!(a.direction, Direction::SendOnly | Direction::Inactive) {
                        info!(call_id = %leg.label, "participant put the meeting on hold");
                    }
                }
            }
            LegEvent::Dtmf { digit, duration_ms } => {
                debug!(call_id = %leg.label, %digit, duration_ms, "DTMF from participant");
            }
            LegEvent::KeyframeRequest => {
                debug!(call_id = %leg.label, "participant asks for a video keyframe");
                let _ = meeting.bridge.keyframe_requested(r.leg);
            }
            LegEvent::Ended(cause) => {
                self.leave_meeting(r, cause);
            }
            LegEvent::Hold(on) => {
                debug!(call_id = %leg.label, on, "participant hold");
            }
            other => debug!(call_id = %leg.label, event = ?other, "meeting leg event ignored"),
        }
    }

    /// Take a leg out of its meeting, write its CDR, and end the meeting
    /// when it was the last one. The adapter has already told its peer.
    pub(crate) fn leave_meeting(&mut self, r: &MeetingLegRef, cause: Cause) -> Option<MeetingLeg> {
        let meeting = self.meetings.get_mut(&r.number)?;
        let leg = meeting.legs.remove(&r.leg)?;
        let _ = meeting.bridge.remove_leg(r.leg);
        let empty = meeting.legs.is_empty();
        let unit = meeting.unit.clone();
        self.meeting_legs.remove(&r.leg);
        match &leg.signalling {
            LegSignalling::Sip(s) => {
                self.meeting_tags.remove(s.tag());
            }
            LegSignalling::H323(h) => debug!(conn = h.conn, "H.323 leg out of the meeting"),
            LegSignalling::WebRtc(w) => {
                let _ = w.control.send(crate::webrtc::LegControl::Left);
            }
        };
        self.metrics.calls_active.dec();
        let outcome = if cause.is_normal() {
            "answered"
        } else {
            "failed"
        };
        self.count_outcome(outcome);
        let talk_ms = self.now.saturating_duration_since(leg.started).as_millis() as i64;
        info!(
            call_id = %leg.label,
            meeting = %r.number,
            caller = %leg.caller,
            cause = %cause,
            talk_ms,
            packets_in = leg.counters.packets_in.load(Relaxed),
            packets_out = leg.counters.packets_out.load(Relaxed),
            "left meeting"
        );
        let _ = self.store.send(StoreOp::Cdr(gateway_store::Cdr {
            call_id: leg.label.clone(),
            from_uri: leg.cdr_from.clone(),
            to_uri: leg.cdr_to.clone(),
            caller: leg.caller.clone(),
            callee: format!("meeting:{}", r.number),
            unit: Some(unit),
            started_at_ms: leg.started_unix_ms,
            answered_at_ms: Some(leg.started_unix_ms),
            ended_at_ms: leg.started_unix_ms + talk_ms,
            duration_ms: talk_ms,
            outcome: outcome.to_string(),
            sip_status: cause.sip_status().unwrap_or(200),
            reason: cause.text().unwrap_or("").to_string(),
            rtp_packets_in: leg.counters.packets_in.load(Relaxed) as i64,
            rtp_packets_out: leg.counters.packets_out.load(Relaxed) as i64,
            ..Default::default()
        }));
        if empty {
            self.end_meeting(&r.number);
        }
        Some(leg)
    }

    fn end_meeting(&mut self, number: &str) {
        if let Some(m) = self.meetings.remove(number) {
            info!(
                meeting = %m.number,
                classification = m.classification.as_str(),
                recorded = m.record,
                recorded_packets = m.bridge.recording_stats().packets_written.load(Relaxed),
                recording_dropped = m.bridge.recording_stats().packets_dropped.load(Relaxed),
                lasted_s = self.now.saturating_duration_since(m.started).as_secs(),
                "meeting ended (no participants left)"
            );
            // Dropping the handle ends the mixing task and frees its ports.
            drop(m.bridge);
        }
    }

    /// Number of participants in a meeting, for tests and the admin API.
    #[allow(dead_code)]
    pub(crate) fn meeting_participants(&self, number: &str) -> usize {
        self.meetings.get(number).map_or(0, |m| m.legs.len())
    }
}

#[cfg(test)]
mod tests;
