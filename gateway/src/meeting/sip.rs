//! The SIP adapter of a meeting leg: the room's dialog ends here (we are its
//! UAS). SDP becomes neutral capabilities on the way in, the meeting's
//! neutral answer becomes SDP on the way out, and in-dialog requests become
//! [`LegEvent`]s for the meeting.

use super::{JoinRequest, LegSignalling, MeetingLegRef};
use crate::call::caps::{answer_sdp, caps_from_sdp, AnsweredStream};
use crate::engine::{Engine, EngineTimer, ALLOW, SUPPORTED, USER_AGENT};
use gateway_callmodel::{Cause, LegEvent, MediaTransport};
use gateway_dialplan::RouteDecision;
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
}

impl SipMeetingLeg {
    pub(crate) fn tag(&self) -> &str {
        &self.tag
    }
}

fn sip_leg(signalling: &mut LegSignalling) -> &mut SipMeetingLeg {
    match signalling {
        LegSignalling::Sip(s) => s,
        // SIP dialog tags and SIP leg timers only ever name SIP legs.
        LegSignalling::H323(_) => unreachable!("an H.323 meeting leg reached the SIP adapter"),
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
        };
        let admitted = self.admit_to_meeting(
            now,
            JoinRequest {
                number,
                decision,
                offer: &caps,
                secure_signalling: from.transport == Transport::Tls,
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
        let a = &admitted.answer;
        let answer = answer_sdp(
            &offer,
            &[AnsweredStream {
                index: admitted.stream_index,
                local_rtp: a.rtp.expect("the meeting answers with an address"),
                local_rtcp: a.rtcp.expect("the meeting answers with an RTCP address"),
                codecs: a.codecs.clone(),
                direction: a.direction,
                ptime_ms: a.ptime_ms,
                crypto: match &a.transport {
                    MediaTransport::SrtpSdes { crypto } => crypto.first().cloned(),
                    _ => None,
                },
            }],
            self.cfg.advertised_ip,
            &session_id,
            1,
        );
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
                if offer.is_some() {
                    s.sdp_version += 1;
                    s.answer = bump_origin_version(&s.answer, s.sdp_version);
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
                let body = String::from_utf8_lossy(&req.body);
                let content_type = req
                    .headers
                    .get(&HeaderName::ContentType)
                    .unwrap_or("")
                    .to_ascii_lowercase();
                let event = if body.contains("picture_fast_update") {
                    Some(LegEvent::KeyframeRequest)
                } else if content_type.starts_with("application/dtmf-relay") {
                    gateway_media::dtmf::parse_dtmf_relay(&body)
                        .ok()
                        .map(|d| LegEvent::Dtmf {
                            digit: d.event.to_char(),
                            duration_ms: d.duration_ms.unwrap_or(100),
                        })
                } else {
                    None
                };
                self.reply(now, id, &req, 200, "OK", Some(&tag));
                match event {
                    Some(ev) => self.on_meeting_leg_event(&r, ev),
                    None if !req.body.is_empty() => {
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

    /// The 2xx retransmission timer of a leg (RFC 3261 13.3.1.4).
    pub(crate) fn on_meeting_answer_timer(&mut self, now: Instant, leg_id: u64) {
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
