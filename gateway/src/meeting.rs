//! Meetings the gateway hosts. A room dials a meeting number; the routing
//! decision says `Meeting`; the room's SIP dialog ends here (we are its UAS)
//! and its media joins the meeting's bridge, which mixes every leg for every
//! other (mix-minus). One [`Meeting`] per number, owned by the engine like a
//! call; its media is owned by the bridge task.
//!
//! The SIP leg turns SDP into neutral capabilities ([`caps_from_sdp`]) and
//! the bridge decides from those alone, so H.323 and WebRTC legs join the
//! same meetings through the same `MeetingLegSpec`.

use crate::call::caps::{answer_sdp, caps_from_sdp, AnsweredStream};
use crate::engine::{Engine, EngineTimer, ALLOW, SUPPORTED, USER_AGENT};
use crate::store_writer::StoreOp;
use gateway_callmodel::{Direction, MediaKind};
use gateway_dialplan::{Classification, RouteDecision};
use gateway_media::meeting::{MeetingBridge, MeetingLegCounters, MeetingLegSpec};
use gateway_sdp::SessionDescription;
use gateway_sip::dialog::{AckWait, Dialog, RetransmitAction};
use gateway_sip::message::{HeaderName, Method, Request};
use gateway_sip::session_timer::{negotiate_uas, SessionTimerConfig};
use gateway_sip::transaction::{add_via, make_response, PeerAddr, ServerTxId};
use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::{debug, info, info_span, warn};

pub struct Meeting {
    pub number: String,
    pub unit: String,
    pub classification: Classification,
    pub record: bool,
    bridge: MeetingBridge,
    legs: HashMap<u64, SipMeetingLeg>,
    started: Instant,
}

/// One room's SIP dialog, terminated by the gateway.
struct SipMeetingLeg {
    /// The room's Call-ID, on every log line of the leg.
    label: String,
    invite: Request,
    invite_tx: ServerTxId,
    peer: PeerAddr,
    tag: String,
    dialog: Option<Dialog>,
    ack_wait: Option<AckWait>,
    /// The SDP we answered with, re-sent on offerless re-INVITEs.
    answer: Vec<u8>,
    sdp_version: u64,
    counters: Arc<MeetingLegCounters>,
    caller: String,
    from_uri: String,
    started_unix_ms: i64,
    started: Instant,
}

/// Where an in-dialog request or ACK for a meeting leg goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeetingLegRef {
    pub number: String,
    pub leg: u64,
}

fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
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
        let Some(m) = self.dialplan.meeting_by_user(number).cloned() else {
            return self.reply(now, id, &req, 404, &format!("No meeting {number}"), None);
        };
        let label = req
            .headers
            .get(&HeaderName::CallId)
            .unwrap_or("")
            .to_string();
        let Some(body) = crate::call::sdp_body(&req.headers, &req.body) else {
            return self.refuse_488(now, id, &req, "A meeting needs an SDP offer in the INVITE");
        };
        let Some(offer) = std::str::from_utf8(&body)
            .ok()
            .and_then(|t| SessionDescription::parse(t).ok())
        else {
            return self.reply(now, id, &req, 400, "Malformed SDP offer", None);
        };
        let caps = caps_from_sdp(&offer);
        let Some((index, audio)) = caps.first(MediaKind::Audio) else {
            return self.refuse_488(now, id, &req, "The offer has no audio stream");
        };
        if decision.policy.encryption_required && !caps.all_encrypted() {
            info!(call_id = %label, meeting = %m.number, "plain media refused from a classified meeting");
            return self.refuse_488(
                now,
                id,
                &req,
                &format!(
                    "Meeting {} is {}: only encrypted legs are admitted (SRTP media over SIP TLS)",
                    m.number,
                    m.classification.as_str()
                ),
            );
        }
        if audio.transport.is_encrypted() {
            // SRTP legs join once the bridge protects media (the SRTP crate).
            return self.refuse_488(
                now,
                id,
                &req,
                "Encrypted media (SRTP) is not available on this gateway yet",
            );
        }
        let Some((pt, codec)) = audio
            .codecs
            .iter()
            .filter_map(|c| c.audio_codec().map(|a| (c.payload_type, a)))
            .find(|(_, a)| gateway_media::meeting::can_mix(*a))
        else {
            return self.refuse_488(
                now,
                id,
                &req,
                "No audio codec in common (the meeting mixes PCMU and PCMA)",
            );
        };
        let Some(remote_rtp) = audio.rtp else {
            return self.refuse_488(now, id, &req, "The audio stream has no address");
        };
        let telephone_event = audio.telephone_event(codec.rtp_clock());
        let participants = self.meetings.get(&m.number).map_or(0, |x| x.legs.len());
        if participants >= m.max_participants as usize {
            info!(call_id = %label, meeting = %m.number, participants, "meeting full");
            return self.reply(
                now,
                id,
                &req,
                486,
                &format!("Meeting {} is full ({participants} participants)", m.number),
                None,
            );
        }

        // Media first: nothing is answered unless the leg is in the mix.
        let bound = match self.media.bind_leg() {
            Ok(b) => b,
            Err(e) => {
                warn!(call_id = %label, error = %e, "no media ports for a meeting leg");
                return self.reply(now, id, &req, e.sip_status(), &format!("Media: {e}"), None);
            }
        };
        let (local_rtp, local_rtcp) = bound.local_addr();
        if !self.meetings.contains_key(&m.number) {
            let bridge = match MeetingBridge::start(&self.media, &m.number) {
                Ok(b) => b,
                Err(e) => {
                    return self.reply(now, id, &req, e.sip_status(), &format!("Media: {e}"), None)
                }
            };
            info!(meeting = %m.number, unit = %m.unit, classification = m.classification.as_str(), record = m.record, "meeting started");
            self.meetings.insert(
                m.number.clone(),
                Meeting {
                    number: m.number.clone(),
                    unit: m.unit.clone(),
                    classification: m.classification,
                    record: m.record,
                    bridge,
                    legs: HashMap::new(),
                    started: now,
                },
            );
        }
        let leg_id = self.alloc_call_id();
        let ptime = audio.ptime_ms.unwrap_or(20);
        let spec = MeetingLegSpec {
            id: leg_id,
            label: format!("{caller} ({label})"),
            remote_rtp,
            remote_rtcp: audio.rtcp,
            rtcp_mux: audio.rtcp_mux,
            codec,
            payload_type: pt,
            telephone_event,
            ptime_ms: ptime,
            inbound: None,
            outbound: None,
        };
        let session_id = self.random_hex(6);
        let session_id = u64::from_str_radix(&session_id, 16)
            .unwrap_or(1)
            .to_string();
        let tag = self.random_hex(8);
        let contact = self.contact(from.transport);
        let meeting = self.meetings.get_mut(&m.number).expect("inserted above");
        let counters = match meeting.bridge.add_leg(bound, spec) {
            Ok(c) => c,
            Err(e) => {
                let empty = meeting.legs.is_empty();
                if empty {
                    self.end_meeting(&m.number);
                }
                return self.reply(now, id, &req, e.sip_status(), &format!("Media: {e}"), None);
            }
        };

        let mut accepted = vec![audio
            .codecs
            .iter()
            .find(|c| c.payload_type == pt)
            .cloned()
            .expect("chosen from this list")];
        if let Some(te) = telephone_event {
            if let Some(c) = audio.codecs.iter().find(|c| c.payload_type == te) {
                accepted.push(c.clone());
            }
        }
        let answer = answer_sdp(
            &offer,
            &[AnsweredStream {
                index,
                local_rtp: std::net::SocketAddr::new(self.cfg.advertised_ip, local_rtp.port()),
                local_rtcp: std::net::SocketAddr::new(self.cfg.advertised_ip, local_rtcp.port()),
                codecs: accepted,
                direction: audio.direction.reversed(),
                ptime_ms: Some(ptime),
                crypto: None,
            }],
            self.cfg.advertised_ip,
            &session_id,
            1,
        );
        let mut resp = make_response(&req, 200, Some(&tag));
        resp.headers.push(HeaderName::Contact, contact.clone());
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
        let dialog = Dialog::uas_from_invite(&req, &tag, &contact).ok();
        let from_uri = req.from().map(|f| f.uri.to_string()).unwrap_or_default();
        info!(call_id = %label, meeting = %m.number, caller = %caller, codec = ?codec, participants = participants + 1, "joined meeting");
        let leg = SipMeetingLeg {
            label,
            invite: req,
            invite_tx: id,
            peer: from,
            tag: tag.clone(),
            dialog,
            ack_wait: Some(wait),
            answer,
            sdp_version: 1,
            counters,
            caller,
            from_uri,
            started_unix_ms: unix_ms(),
            started: now,
        };
        meeting.legs.insert(leg_id, leg);
        self.meeting_tags.insert(
            tag,
            MeetingLegRef {
                number: m.number.clone(),
                leg: leg_id,
            },
        );
        self.metrics.calls_active.inc();
        self.respond(now, id, resp);
        if let Some(at) = ack_deadline {
            self.schedule(at, EngineTimer::MeetingAnswer(leg_id));
        }
        let max = Duration::from_secs(decision.policy.max_duration_secs.max(1));
        self.schedule(now + max, EngineTimer::MeetingMaxDuration(leg_id));
        self.meeting_legs.insert(leg_id, m.number.clone());
    }

    /// 488 with a `Warning` (RFC 3261 20.43) saying why, so a room's
    /// administrator sees the reason on the device or in a trace.
    fn refuse_488(&mut self, now: Instant, id: ServerTxId, req: &Request, why: &str) {
        let mut resp = make_response(req, 488, None);
        resp.reason = format!("Not Acceptable Here ({why})");
        resp.headers.push(
            HeaderName::Other("Warning".into()),
            format!(
                "399 {} \"{}\"",
                self.cfg.advertised_ip,
                why.replace('"', "'")
            ),
        );
        resp.headers.push(HeaderName::Server, USER_AGENT);
        self.respond(now, id, resp);
    }

    pub(crate) fn on_meeting_ack(&mut self, r: &MeetingLegRef) {
        let Some(leg) = self
            .meetings
            .get_mut(&r.number)
            .and_then(|m| m.legs.get_mut(&r.leg))
        else {
            return;
        };
        leg.ack_wait = None;
        if let Some(d) = leg.dialog.as_mut() {
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
        let transport = self
            .meetings
            .get(&r.number)
            .and_then(|m| m.legs.get(&r.leg))
            .map(|l| l.peer.transport);
        let contact = transport.map(|t| self.contact(t)).unwrap_or_default();
        let Some(meeting) = self.meetings.get_mut(&r.number) else {
            return self.reply(now, id, &req, 481, "Call/Transaction Does Not Exist", None);
        };
        let Some(leg) = meeting.legs.get_mut(&r.leg) else {
            return self.reply(now, id, &req, 481, "Call/Transaction Does Not Exist", None);
        };
        let span = info_span!("call", call_id = %leg.label);
        let _g = span.enter();
        if let Some(d) = leg.dialog.as_mut() {
            if let Err(e) = d.on_request(&req) {
                let status = e.status();
                return self.reply(now, id, &req, status, &e.to_string(), None);
            }
        }
        let tag = leg.tag.clone();
        match req.method {
            Method::Bye => {
                self.reply(now, id, &req, 200, "OK", Some(&tag));
                self.leave_meeting(&r, "answered", 200, "Participant left");
            }
            Method::Invite | Method::Update => {
                // A refresh, hold or move: follow the new address, answer
                // with the same media (version bumped when it is an offer).
                let offer = crate::call::sdp_body(&req.headers, &req.body).and_then(|b| {
                    std::str::from_utf8(&b)
                        .ok()
                        .and_then(|t| SessionDescription::parse(t).ok())
                });
                if let Some(offer) = &offer {
                    let caps = caps_from_sdp(offer);
                    if let Some((_, a)) = caps.first(MediaKind::Audio) {
                        if let Some(rtp) = a.rtp {
                            let _ = meeting.bridge.set_remote(r.leg, rtp, a.rtcp, a.rtcp_mux);
                        }
                        if matches!(a.direction, Direction::SendOnly | Direction::Inactive) {
                            info!("participant put the meeting on hold");
                        }
                    }
                    leg.sdp_version += 1;
                    leg.answer = bump_origin_version(&leg.answer, leg.sdp_version);
                }
                let mut resp = make_response(&req, 200, Some(&tag));
                resp.headers.push(HeaderName::Contact, contact);
                resp.headers.push(HeaderName::Server, USER_AGENT);
                if let Ok(n) = negotiate_uas(&req, &SessionTimerConfig::default()) {
                    n.apply_to_response(&mut resp);
                }
                resp.headers
                    .push(HeaderName::ContentType, "application/sdp");
                resp.body = leg.answer.clone();
                self.respond(now, id, resp);
            }
            Method::Info => {
                let body = String::from_utf8_lossy(&req.body);
                if body.contains("picture_fast_update") {
                    debug!("participant asks for a video keyframe");
                } else if !req.body.is_empty() {
                    debug!(body = %body.trim(), "INFO from participant");
                }
                self.reply(now, id, &req, 200, "OK", Some(&tag));
            }
            Method::Options => self.reply(now, id, &req, 200, "OK", Some(&tag)),
            _ => {
                let mut resp = make_response(&req, 405, Some(&tag));
                resp.headers.push(HeaderName::Allow, ALLOW);
                self.respond(now, id, resp);
            }
        }
    }

    /// The 2xx retransmission timer of a leg (RFC 3261 13.3.1.4).
    pub(crate) fn on_meeting_answer_timer(&mut self, now: Instant, leg_id: u64) {
        let Some(number) = self.meeting_legs.get(&leg_id).cloned() else {
            return;
        };
        let Some(leg) = self
            .meetings
            .get_mut(&number)
            .and_then(|m| m.legs.get_mut(&leg_id))
        else {
            return;
        };
        let Some(wait) = leg.ack_wait.as_mut() else {
            return;
        };
        let action = wait.handle_timeout(now);
        let next = wait.poll_timeout();
        let tx = leg.invite_tx;
        match action {
            Some(RetransmitAction::Resend(resp)) => {
                if let Err(e) = self.tx.respond(now, &tx, resp) {
                    debug!(error = %e, "2xx retransmission to a participant not sent");
                }
            }
            Some(RetransmitAction::GiveUp) => {
                warn!(call_id = %leg.label, "participant never acknowledged the meeting's 200 OK");
                let r = MeetingLegRef {
                    number,
                    leg: leg_id,
                };
                self.send_meeting_bye(now, &r);
                return self.leave_meeting(&r, "failed", 408, "No ACK from participant");
            }
            None => {}
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
        info!(leg = leg_id, "maximum call duration reached in meeting");
        self.send_meeting_bye(now, &r);
        self.leave_meeting(&r, "answered", 200, "Maximum call duration reached");
    }

    fn send_meeting_bye(&mut self, now: Instant, r: &MeetingLegRef) {
        let branch = self.new_branch();
        let Some(leg) = self
            .meetings
            .get_mut(&r.number)
            .and_then(|m| m.legs.get_mut(&r.leg))
        else {
            return;
        };
        let peer = leg.peer;
        let Some(mut bye) = leg
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

    /// Take a leg out of its meeting, write its CDR, and end the meeting
    /// when it was the last one.
    fn leave_meeting(
        &mut self,
        r: &MeetingLegRef,
        outcome: &'static str,
        status: u16,
        reason: &str,
    ) {
        let Some(meeting) = self.meetings.get_mut(&r.number) else {
            return;
        };
        let Some(leg) = meeting.legs.remove(&r.leg) else {
            return;
        };
        let _ = meeting.bridge.remove_leg(r.leg);
        let empty = meeting.legs.is_empty();
        let unit = meeting.unit.clone();
        self.meeting_tags.remove(&leg.tag);
        self.meeting_legs.remove(&r.leg);
        self.metrics.calls_active.dec();
        self.count_outcome(outcome);
        let talk_ms = self.now.saturating_duration_since(leg.started).as_millis() as i64;
        let ended = leg.started_unix_ms + talk_ms;
        info!(
            call_id = %leg.label,
            meeting = %r.number,
            caller = %leg.caller,
            reason,
            talk_ms,
            packets_in = leg.counters.packets_in.load(Relaxed),
            packets_out = leg.counters.packets_out.load(Relaxed),
            "left meeting"
        );
        let _ = self.store.send(StoreOp::Cdr(gateway_store::Cdr {
            call_id: leg.label.clone(),
            from_uri: leg.from_uri.clone(),
            to_uri: leg.invite.uri.to_string(),
            caller: leg.caller.clone(),
            callee: format!("meeting:{}", r.number),
            unit: Some(unit),
            started_at_ms: leg.started_unix_ms,
            answered_at_ms: Some(leg.started_unix_ms),
            ended_at_ms: ended,
            duration_ms: talk_ms,
            outcome: outcome.to_string(),
            sip_status: status,
            reason: reason.to_string(),
            rtp_packets_in: leg.counters.packets_in.load(Relaxed) as i64,
            rtp_packets_out: leg.counters.packets_out.load(Relaxed) as i64,
        }));
        if empty {
            self.end_meeting(&r.number);
        }
    }

    fn end_meeting(&mut self, number: &str) {
        if let Some(m) = self.meetings.remove(number) {
            info!(
                meeting = %m.number,
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

/// Our SDP with the `o=` version replaced (RFC 3264 §8: a changed
/// description carries a higher version).
fn bump_origin_version(sdp: &[u8], version: u64) -> Vec<u8> {
    let Ok(text) = std::str::from_utf8(sdp) else {
        return sdp.to_vec();
    };
    let mut out = String::with_capacity(text.len() + 4);
    for line in text.split_inclusive("\r\n") {
        if let Some(rest) = line.strip_prefix("o=") {
            let mut f: Vec<&str> = rest.trim_end().split(' ').collect();
            if f.len() == 6 {
                let v = version.to_string();
                f[2] = &v;
                out.push_str("o=");
                out.push_str(&f.join(" "));
                out.push_str("\r\n");
                continue;
            }
        }
        out.push_str(line);
    }
    out.into_bytes()
}
