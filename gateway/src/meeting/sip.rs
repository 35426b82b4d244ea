//! The SIP adapter of a meeting leg: the room's dialog ends here (we are its
//! UAS). SDP becomes neutral capabilities on the way in, the meeting's
//! neutral answer becomes SDP on the way out, and in-dialog requests become
//! [`LegEvent`]s for the meeting.

use super::{JoinRequest, LegSignalling, MeetingLegRef};
use crate::call::caps::{answer_sdp, caps_from_sdp, AnsweredStream};
use crate::engine::{Engine, EngineTimer, ALLOW, SUPPORTED, USER_AGENT};
use gateway_callmodel::{Cause, LegCommand, LegEvent, MediaTransport};
use gateway_dialplan::RouteDecision;
use gateway_media::meeting::KeyframeFeedback;
use gateway_sdp::SessionDescription;
use gateway_sip::dialog::{AckWait, Dialog, RetransmitAction};
use gateway_sip::message::{HeaderName, Method, Request};
use gateway_sip::session_timer::{negotiate_uas, SessionTimerConfig};
use gateway_sip::transaction::{add_via, make_response, PeerAddr, ServerTxId, Transport};
use std::time::{Duration, Instant};
use tracing::{debug, info_span, warn};

/// One room's SIP dialog, terminated by the gateway.
pub(crate) struct SipMeetingLeg {
    invite_tx: ServerTxId,
    peer: PeerAddr,
    tag: String,
    dialog: Option<Dialog>,
    ack_wait: Option<AckWait>,
    /// The SDP we answered with, re-sent on refreshes (version bumped when
    /// answering a new offer).
    answer: Vec<u8>,
    sdp_version: u64,
    /// `a=rtcp-fb` keyframe feedback offered per video payload type.
    video_feedback: Vec<(u8, KeyframeFeedback)>,
    /// Next poll of the bridge's video events (legs asked by INFO only).
    video_poll_at: Option<Instant>,
}

impl SipMeetingLeg {
    pub(crate) fn tag(&self) -> &str {
        &self.tag
    }

    pub(crate) fn keyframe_feedback(&self, pt: u8) -> KeyframeFeedback {
        self.video_feedback
            .iter()
            .find(|(p, _)| *p == pt)
            .map_or(KeyframeFeedback::default(), |(_, f)| *f)
    }
}

/// How often a meeting with a video leg that is asked for keyframes by
/// INFO looks for the bridge's requests. The runtime has no channel from
/// the bridges yet; the poll rides on the leg's own timer.
const VIDEO_POLL: Duration = Duration::from_millis(100);

/// RFC 5168 (XML schema for media control): the body that asks a SIP
/// video endpoint for a full picture.
pub(crate) const PICTURE_FAST_UPDATE: &str = "<?xml version=\"1.0\" encoding=\"utf-8\" ?>\r\n\
<media_control>\r\n <vc_primitive>\r\n  <to_encoder>\r\n   <picture_fast_update/>\r\n\
  </to_encoder>\r\n </vc_primitive>\r\n</media_control>\r\n";

/// The keyframe feedback (RFC 4585 PLI, RFC 5104 FIR) the offer's first
/// enabled video m-line asks for, per payload type.
fn offered_video_feedback(offer: &SessionDescription) -> Vec<(u8, KeyframeFeedback)> {
    let Some(m) = offer
        .media
        .iter()
        .find(|m| m.media == "video" && m.port != 0)
    else {
        return Vec::new();
    };
    m.payload_types()
        .into_iter()
        .map(|pt| {
            let mut f = KeyframeFeedback::default();
            for v in m.rtcp_fb(pt) {
                let words: Vec<&str> = v.split_whitespace().collect();
                match words.as_slice() {
                    [n, p] if n.eq_ignore_ascii_case("nack") && p.eq_ignore_ascii_case("pli") => {
                        f.pli = true
                    }
                    [c, x] if c.eq_ignore_ascii_case("ccm") && x.eq_ignore_ascii_case("fir") => {
                        f.fir = true
                    }
                    _ => {}
                }
            }
            (pt, f)
        })
        .collect()
}

/// Our answer with the keyframe feedback we accept for the video stream
/// (`media_index`), so the peer sends us PLI/FIR and expects ours.
fn with_rtcp_fb(sdp: Vec<u8>, media_index: usize, pt: u8, f: KeyframeFeedback) -> Vec<u8> {
    if !f.over_rtcp() {
        return sdp;
    }
    let Ok(text) = String::from_utf8(sdp) else {
        return Vec::new();
    };
    let mut lines = String::new();
    if f.pli {
        lines.push_str(&format!("a=rtcp-fb:{pt} nack pli\r\n"));
    }
    if f.fir {
        lines.push_str(&format!("a=rtcp-fb:{pt} ccm fir\r\n"));
    }
    let mut out = String::with_capacity(text.len() + lines.len());
    let mut m = 0usize;
    let mut inside = false;
    for line in text.split_inclusive("\r\n") {
        if line.starts_with("m=") {
            if inside {
                out.push_str(&lines);
            }
            inside = m == media_index;
            m += 1;
        }
        out.push_str(line);
    }
    if inside {
        out.push_str(&lines);
    }
    out.into_bytes()
}

fn sip_leg(signalling: &mut LegSignalling) -> &mut SipMeetingLeg {
    match signalling {
        LegSignalling::Sip(s) => s,
        // SIP dialog tags and SIP leg timers only ever name SIP legs.
        LegSignalling::H323(_) => unreachable!("an H.323 meeting leg reached the SIP adapter"),
        LegSignalling::WebRtc(_) => unreachable!("a WebRTC meeting leg reached the SIP adapter"),
    }
}

fn parse_sdp(req: &Request) -> Option<SessionDescription> {
    let body = crate::call::sdp_body(&req.headers, &req.body)?;
    std::str::from_utf8(&body)
        .ok()
        .and_then(|t| SessionDescription::parse(t).ok())
}

impl Engine {
    /// The routing decision sent this INVITE to meeting `number`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn join_meeting(
        &mut self,
        now: Instant,
        id: ServerTxId,
        req: Request,
        from: PeerAddr,
        decision: &RouteDecision,
        number: &str,
        caller: String,
    ) {
        let label = req
            .headers
            .get(&HeaderName::CallId)
            .unwrap_or("")
            .to_string();
        if crate::call::sdp_body(&req.headers, &req.body).is_none() {
            let cause = Cause::from_sip_status(488, "A meeting needs an SDP offer in the INVITE");
            return self.refuse_with_cause(now, id, &req, &cause);
        }
        let Some(offer) = parse_sdp(&req) else {
            return self.reply(now, id, &req, 400, "Malformed SDP offer", None);
        };
        let caps = caps_from_sdp(&offer);
        let tag = self.random_hex(8);
        let contact = self.contact(from.transport);
        let session_id = self.random_hex(6);
        let session_id = u64::from_str_radix(&session_id, 16)
            .unwrap_or(1)
            .to_string();
        let leg = SipMeetingLeg {
            invite_tx: id,
            peer: from,
            tag: tag.clone(),
            dialog: Dialog::uas_from_invite(&req, &tag, &contact).ok(),
            ack_wait: None,
            answer: Vec::new(),
            sdp_version: 1,
            video_feedback: offered_video_feedback(&offer),
            video_poll_at: None,
        };
        let admitted = self.admit_to_meeting(
            now,
            JoinRequest {
                number,
                decision,
                offer: &caps,
                secure_signalling: from.transport == Transport::Tls || self.sdes_without_tls,
                label,
                caller,
                cdr_from: req.from().map(|f| f.uri.to_string()).unwrap_or_default(),
                cdr_to: req.uri.to_string(),
                signalling: LegSignalling::Sip(Box::new(leg)),
            },
        );
        let admitted = match admitted {
            Ok(a) => a,
            Err(cause) => return self.refuse_with_cause(now, id, &req, &cause),
        };
        let answered = |index: usize, a: &gateway_callmodel::StreamCaps| AnsweredStream {
            index,
            local_rtp: a.rtp.expect("the meeting answers with an address"),
            local_rtcp: a.rtcp.expect("the meeting answers with an RTCP address"),
            codecs: a.codecs.clone(),
            direction: a.direction,
            ptime_ms: a.ptime_ms,
            crypto: match &a.transport {
                MediaTransport::SrtpSdes { crypto } => crypto.first().cloned(),
                _ => None,
            },
        };
        let mut streams = vec![answered(admitted.stream_index, &admitted.answer)];
        streams.extend(
            admitted
                .video
                .as_ref()
                .map(|v| answered(v.stream_index, &v.answer)),
        );
        let mut answer = answer_sdp(&offer, &streams, self.cfg.advertised_ip, &session_id, 1);
        if let Some(v) = &admitted.video {
            if let Some(c) = v.answer.codecs.first() {
                answer = with_rtcp_fb(answer, v.stream_index, c.payload_type, v.feedback);
            }
        }
        let poll_video = admitted
            .video
            .as_ref()
            .is_some_and(|v| !v.feedback.over_rtcp());
        let mut resp = make_response(&req, 200, Some(&tag));
        resp.headers.push(HeaderName::Contact, contact);
        resp.headers.push(HeaderName::Allow, ALLOW);
        resp.headers.push(HeaderName::Supported, SUPPORTED);
        resp.headers.push(HeaderName::Server, USER_AGENT);
        if let Ok(n) = negotiate_uas(&req, &SessionTimerConfig::default()) {
            // The room refreshes (refresher=uac); we only answer refreshes.
            n.apply_to_response(&mut resp);
        }
        resp.headers
            .push(HeaderName::ContentType, "application/sdp");
        resp.body = answer.clone();
        let t = self.tx.config();
        let wait = AckWait::new(now, t.t1, t.t2, resp.clone());
        let ack_deadline = wait.poll_timeout();
        let r = admitted.leg;
        if let Some(leg) = self.meeting_leg_mut(&r) {
            let s = sip_leg(&mut leg.signalling);
            s.answer = answer;
            s.ack_wait = Some(wait);
            if poll_video {
                s.video_poll_at = Some(now + VIDEO_POLL);
            }
        }
        if poll_video {
            self.schedule(now + VIDEO_POLL, EngineTimer::MeetingAnswer(r.leg));
        }
        self.meeting_tags.insert(tag, r.clone());
        self.respond(now, id, resp);
        if let Some(at) = ack_deadline {
            self.schedule(at, EngineTimer::MeetingAnswer(r.leg));
        }
        let max = Duration::from_secs(decision.policy.max_duration_secs.max(1));
        self.schedule(now + max, EngineTimer::MeetingMaxDuration(r.leg));
    }

    pub(crate) fn on_meeting_ack(&mut self, r: &MeetingLegRef) {
        let Some(leg) = self.meeting_leg_mut(r) else {
            return;
        };
        let s = sip_leg(&mut leg.signalling);
        s.ack_wait = None;
        if let Some(d) = s.dialog.as_mut() {
            d.confirm();
        }
    }

    pub(crate) fn on_meeting_request(
        &mut self,
        now: Instant,
        r: MeetingLegRef,
        id: ServerTxId,
        req: Request,
    ) {
        let transport = match self.meeting_leg_mut(&r) {
            Some(leg) => sip_leg(&mut leg.signalling).peer.transport,
            None => return self.reply(now, id, &req, 481, "Call/Transaction Does Not Exist", None),
        };
        let contact = self.contact(transport);
        let leg = self.meeting_leg_mut(&r).expect("checked above");
        let span = info_span!("call", call_id = %leg.label);
        let _g = span.enter();
        let s = sip_leg(&mut leg.signalling);
        if let Some(d) = s.dialog.as_mut() {
            if let Err(e) = d.on_request(&req) {
                let status = e.status();
                return self.reply(now, id, &req, status, &e.to_string(), None);
            }
        }
        let tag = s.tag.clone();
        match req.method {
            Method::Bye => {
                self.reply(now, id, &req, 200, "OK", Some(&tag));
                let cause = Cause::normal_clearing().with_text("Participant left");
                self.on_meeting_leg_event(&r, LegEvent::Ended(cause));
            }
            Method::Invite | Method::Update => {
                // A refresh, hold or move: the media follows the new address;
                // the answer stays (version bumped when it answers an offer).
                let offer = parse_sdp(&req);
                if let Some(offer) = &offer {
                    s.sdp_version += 1;
                    s.answer = crate::call::caps::reanswer(&s.answer, offer, s.sdp_version);
                }
                let mut resp = make_response(&req, 200, Some(&tag));
                resp.headers.push(HeaderName::Contact, contact);
                resp.headers.push(HeaderName::Server, USER_AGENT);
                if let Ok(n) = negotiate_uas(&req, &SessionTimerConfig::default()) {
                    n.apply_to_response(&mut resp);
                }
                resp.headers
                    .push(HeaderName::ContentType, "application/sdp");
                resp.body = s.answer.clone();
                if let Some(offer) = offer {
                    self.on_meeting_leg_event(&r, LegEvent::Offer(caps_from_sdp(&offer)));
                }
                self.respond(now, id, resp);
            }
            Method::Info => {
                let event = crate::call::sip_leg::info_event(&req);
                self.reply(now, id, &req, 200, "OK", Some(&tag));
                match event {
                    Some(ev) => self.on_meeting_leg_event(&r, ev),
                    None if !req.body.is_empty() => {
                        let body = String::from_utf8_lossy(&req.body);
                        debug!(body = %body.trim(), "INFO from participant not understood")
                    }
                    None => {}
                }
            }
            Method::Options => self.reply(now, id, &req, 200, "OK", Some(&tag)),
            _ => {
                let mut resp = make_response(&req, 405, Some(&tag));
                resp.headers.push(HeaderName::Allow, ALLOW);
                self.respond(now, id, resp);
            }
        }
    }

    /// The 2xx retransmission timer of a leg (RFC 3261 13.3.1.4), which
    /// also carries the leg's poll of the bridge's video requests. Each of
    /// the two acts only when its own deadline is due, so neither chain of
    /// timers is duplicated by the other firing.
    pub(crate) fn on_meeting_answer_timer(&mut self, now: Instant, leg_id: u64) {
        self.on_meeting_video_poll(now, leg_id);
        self.on_meeting_ack_timer(now, leg_id);
    }

    fn on_meeting_video_poll(&mut self, now: Instant, leg_id: u64) {
        let Some(number) = self.meeting_legs.get(&leg_id).cloned() else {
            return;
        };
        let r = MeetingLegRef {
            number,
            leg: leg_id,
        };
        let Some(leg) = self.meeting_leg_mut(&r) else {
            return;
        };
        let s = sip_leg(&mut leg.signalling);
        if s.video_poll_at.is_none_or(|at| at > now) {
            return;
        }
        let next = now + VIDEO_POLL;
        s.video_poll_at = Some(next);
        self.schedule(next, EngineTimer::MeetingAnswer(leg_id));
        self.poll_meeting_video(now);
    }

    /// What the meeting asks of a SIP leg.
    pub(crate) fn sip_meeting_command(&mut self, now: Instant, r: &MeetingLegRef, cmd: LegCommand) {
        match cmd {
            LegCommand::KeyframeRequest => {
                let sent = self.send_meeting_info(
                    now,
                    r,
                    "application/media_control+xml",
                    PICTURE_FAST_UPDATE.as_bytes(),
                );
                if let Some(leg) = self.meeting_leg_mut(r) {
                    debug!(call_id = %leg.label, sent, "keyframe asked by INFO picture_fast_update");
                }
            }
            other => debug!(command = ?other, "meeting command not used for SIP legs"),
        }
    }

    fn send_meeting_info(
        &mut self,
        now: Instant,
        r: &MeetingLegRef,
        content_type: &str,
        body: &[u8],
    ) -> bool {
        let branch = self.new_branch();
        let Some(leg) = self.meeting_leg_mut(r) else {
            return false;
        };
        let s = sip_leg(&mut leg.signalling);
        let peer = s.peer;
        // Only in a confirmed dialog: before the ACK the room may not know
        // our tag yet, and the next poll asks again anyway.
        if s.ack_wait.is_some() {
            return false;
        }
        let Some(mut info) = s
            .dialog
            .as_mut()
            .and_then(|d| d.create_request(Method::Info).ok())
        else {
            return false;
        };
        let hp = self.cfg.sent_by(peer.transport);
        add_via(&mut info, peer.transport, &hp, &branch);
        info.headers.push(HeaderName::UserAgent, USER_AGENT);
        info.headers.push(HeaderName::ContentType, content_type);
        info.body = body.to_vec();
        match self.tx.send_request(now, info, peer) {
            Ok(_) => true,
            Err(e) => {
                debug!(error = %e, "INFO to a participant not sent");
                false
            }
        }
    }

    fn on_meeting_ack_timer(&mut self, now: Instant, leg_id: u64) {
        let Some(number) = self.meeting_legs.get(&leg_id).cloned() else {
            return;
        };
        let r = MeetingLegRef {
            number,
            leg: leg_id,
        };
        let Some(leg) = self.meeting_leg_mut(&r) else {
            return;
        };
        let label = leg.label.clone();
        let s = sip_leg(&mut leg.signalling);
        let Some(wait) = s.ack_wait.as_mut() else {
            return;
        };
        let action = wait.handle_timeout(now);
        let next = wait.poll_timeout();
        let tx = s.invite_tx;
        match action {
            Some(RetransmitAction::Resend(resp)) => {
                if let Err(e) = self.tx.respond(now, &tx, resp) {
                    debug!(error = %e, "2xx retransmission to a participant not sent");
                }
            }
            Some(RetransmitAction::GiveUp) => {
                warn!(call_id = %label, "participant never acknowledged the meeting's 200 OK");
                self.send_meeting_bye(now, &r);
                let cause = Cause::from_sip_status(408, "No ACK from participant");
                return self.on_meeting_leg_event(&r, LegEvent::Ended(cause));
            }
            // Not due: another timer of this leg fired.
            None => return,
        }
        if let Some(at) = next {
            self.schedule(at, EngineTimer::MeetingAnswer(leg_id));
        }
    }

    pub(crate) fn on_meeting_max_duration(&mut self, now: Instant, leg_id: u64) {
        let Some(number) = self.meeting_legs.get(&leg_id).cloned() else {
            return;
        };
        let r = MeetingLegRef {
            number,
            leg: leg_id,
        };
        tracing::info!(leg = leg_id, "maximum call duration reached in meeting");
        self.send_meeting_bye(now, &r);
        let cause = Cause::normal_clearing().with_text("Maximum call duration reached");
        self.on_meeting_leg_event(&r, LegEvent::Ended(cause));
    }

    fn send_meeting_bye(&mut self, now: Instant, r: &MeetingLegRef) {
        let branch = self.new_branch();
        let Some(leg) = self.meeting_leg_mut(r) else {
            return;
        };
        let s = sip_leg(&mut leg.signalling);
        let peer = s.peer;
        let Some(mut bye) = s
            .dialog
            .as_mut()
            .and_then(|d| d.create_request(Method::Bye).ok())
        else {
            return;
        };
        let hp = self.cfg.sent_by(peer.transport);
        add_via(&mut bye, peer.transport, &hp, &branch);
        bye.headers.push(HeaderName::UserAgent, USER_AGENT);
        if let Err(e) = self.tx.send_request(now, bye, peer) {
            debug!(error = %e, "BYE to a participant not sent");
        }
    }
}
