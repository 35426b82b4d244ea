//! The WebRTC adapter of a meeting leg (WHIP publishers, WHEP subscribers).
//!
//! First design, chosen so the mixer and recorder stay unchanged: the leg
//! task (`crate::webrtc::leg`) owns the str0m state machine and the
//! ICE/DTLS socket, terminates DTLS-SRTP, and exchanges plain Opus RTP with
//! the meeting's media plane over a loopback UDP socket. The meeting sees
//! an ordinary plain-RTP Opus/48000/2 leg whose "remote" is that socket.
//! A later in-process path (frames handed to the mixer through a channel)
//! saves the loopback hop.
//!
//! On the wire the leg is DTLS-SRTP, so it counts as encrypted; a
//! classified meeting still wants to know who the browser is, and until
//! WHIP/WHEP carry an authenticated user (a bearer token of the owning
//! unit's subtree) such legs are refused with 403 and the reason.

use super::{JoinRequest, LegSignalling, MeetingLegRef};
use crate::engine::Engine;
use crate::webrtc::{LegControl, WebrtcJoin, WebrtcJoined, WebrtcToEngine};
use gateway_callmodel::{
    Cause, CodecCap, Direction, LegCommand, LegEvent, MediaCaps, MediaKind, MediaTransport,
    StreamCaps,
};
use gateway_dialplan::{Caller, RouteOutcome, RouteRequest};
use gateway_webrtc::rtp::OPUS_PT;
use gateway_webrtc::LegMode;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Instant;
use tokio::sync::mpsc;
use tracing::{debug, info};

/// The meeting's handle on a WebRTC leg: the leg task's command channel.
pub(crate) struct WebrtcMeetingLeg {
    pub(crate) session: String,
    pub(crate) control: mpsc::UnboundedSender<LegControl>,
}

/// Why a join was refused, as the HTTP side answers it.
#[derive(Debug, Clone)]
pub(crate) struct JoinRefused {
    pub status: u16,
    pub detail: String,
}

impl JoinRefused {
    fn from_cause(c: &Cause) -> JoinRefused {
        let status = match c.sip_status() {
            Some(404) => 404,
            Some(403) => 403,
            Some(486) | Some(503) => 503,
            Some(488) | Some(415) => 422,
            _ => 503,
        };
        JoinRefused {
            status,
            detail: c.text().unwrap_or("refused").to_string(),
        }
    }
}

impl Engine {
    /// What the web listener and the WebRTC leg tasks tell the engine.
    pub(crate) fn webrtc_input(&mut self, now: Instant, msg: WebrtcToEngine) {
        match msg {
            WebrtcToEngine::Join { join, reply } => {
                let result = self.webrtc_join(now, join);
                // The HTTP request may have gone (client hung up): the leg
                // task then ends the leg itself when its control channel or
                // socket closes.
                if let Err(Ok(joined)) = reply.send(result) {
                    let r = joined.leg;
                    self.leave_meeting(
                        &r,
                        Cause::normal_clearing().with_text("WHIP/WHEP client went away"),
                    );
                }
            }
            WebrtcToEngine::Ended { leg, cause } => {
                self.on_meeting_leg_event(&leg, LegEvent::Ended(cause));
            }
        }
    }

    fn webrtc_join(&mut self, now: Instant, join: WebrtcJoin) -> Result<WebrtcJoined, JoinRefused> {
        let refused = |status: u16, detail: String| JoinRefused { status, detail };
        let Some(meeting) = self.dialplan.meeting_by_user(&join.number) else {
            return Err(refused(404, format!("No meeting {}", join.number)));
        };
        let number = meeting.number.clone();
        if meeting.classification.requires_encryption() {
            info!(session = %join.session, meeting = %number, remote = %join.remote, "WebRTC leg refused: classified meeting, no authenticated user");
            return Err(refused(
                403,
                format!(
                    "Meeting {number} is {}: it admits browsers only with an authenticated user of its unit, and this request carries none",
                    meeting.classification.as_str()
                ),
            ));
        }
        // The dialplan decides as for any caller (policy, unit, duration);
        // WebRTC media is DTLS-SRTP on the wire, hence transport_secure.
        let mut decision = self.dialplan.route(&RouteRequest {
            caller: Caller::Anonymous {
                source: join.remote.ip(),
            },
            from_user: None,
            target: number.clone(),
            transport_secure: true,
            at_unix_secs: crate::engine::unix_now(),
        });
        match &decision.outcome {
            RouteOutcome::Meeting { number: n } if *n == number => {}
            RouteOutcome::Reject { status, reason } => {
                return Err(JoinRefused::from_cause(&Cause::from_sip_status(
                    *status, reason,
                )))
            }
            _ => return Err(refused(404, format!("No meeting {number}"))),
        }
        // The leg is encrypted where it leaves the gateway; its loopback
        // half towards the mixer is not something policy is about.
        decision.policy.encryption_required = false;
        let direction = match join.mode {
            LegMode::Publish => Direction::SendOnly,
            LegMode::Subscribe => Direction::RecvOnly,
        };
        let offer = MediaCaps {
            streams: vec![StreamCaps {
                kind: MediaKind::Audio,
                rtp: Some(join.media),
                rtcp: None,
                rtcp_mux: true,
                transport: MediaTransport::Rtp,
                direction,
                codecs: vec![CodecCap {
                    payload_type: OPUS_PT,
                    name: "opus".into(),
                    clock_rate: 48_000,
                    channels: 2,
                    fmtp: None,
                }],
                ptime_ms: Some(20),
                bandwidth_kbps: None,
            }],
        };
        let label = format!("{}:{}", join.mode.as_str(), join.session);
        let admitted = self
            .admit_to_meeting(
                now,
                JoinRequest {
                    number: &number,
                    decision: &decision,
                    offer: &offer,
                    secure_signalling: true,
                    label: label.clone(),
                    caller: format!("webrtc:{}", join.remote.ip()),
                    cdr_from: format!("{}:{}", join.mode.as_str(), join.remote),
                    cdr_to: format!("meeting:{number}"),
                    signalling: LegSignalling::WebRtc(Box::new(WebrtcMeetingLeg {
                        session: join.session.clone(),
                        control: join.control,
                    })),
                },
            )
            .map_err(|c| JoinRefused::from_cause(&c))?;
        // The meeting answers with the advertised address; the leg task
        // talks to it on this host, where a wildcard bind means loopback.
        let port = admitted.answer.rtp.map_or(0, |a| a.port());
        let ip = match self.media.bind_ip() {
            ip if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            ip => ip,
        };
        info!(session = %join.session, meeting = %number, remote = %join.remote, mode = join.mode.as_str(), "WebRTC leg joined the meeting");
        Ok(WebrtcJoined {
            leg: admitted.leg,
            meeting_rtp: SocketAddr::new(ip, port),
        })
    }

    /// The meeting asks a WebRTC leg to do something; only ending it means
    /// anything to an audio-only leg today.
    pub(crate) fn webrtc_leg_command(&mut self, r: &MeetingLegRef, cmd: LegCommand) {
        let Some(leg) = self.meeting_leg_mut(r) else {
            return;
        };
        let LegSignalling::WebRtc(w) = &leg.signalling else {
            return;
        };
        match cmd {
            LegCommand::End(cause) => {
                let _ = w.control.send(LegControl::End(cause.clone()));
                self.leave_meeting(r, cause);
            }
            other => debug!(session = %w.session, command = ?other, "WebRTC leg command ignored"),
        }
    }
}
