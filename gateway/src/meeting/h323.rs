//! The H.323 adapter of a meeting leg: the Setup's Fast Start proposals
//! are the neutral offer (audio, and H.264 video when proposed), the
//! meeting's neutral answer goes back in the Connect (our fastStart
//! element), and the leg's events (UII digits, videoFastUpdatePicture as
//! keyframe requests, release) reach the meeting through the H.323 leg in
//! `crate::h323::leg`; the switch's keyframe requests go back to the room
//! as videoFastUpdatePicture. A Setup without Fast Start joins on the
//! meeting's offer instead (see [`slow_start_offer`]).
//!
//! H.323 legs carry plain RTP (no H.235 media security), so a classified
//! meeting refuses them with the H.225 reason `securityDenied`.

use super::{JoinRequest, LegSignalling};
use crate::engine::Engine;
use crate::h323::ConnId;
use gateway_callmodel::{
    Cause, CodecCap, Direction, H225ReleaseReason, LegCommand, MediaCaps, MediaKind,
    MediaTransport, StreamCaps,
};
use gateway_dialplan::RouteDecision;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;
use tracing::info;

/// The meeting's handle on an H.323 leg: the connection that carries it.
pub(crate) struct H323MeetingLeg {
    pub(crate) conn: ConnId,
}

impl Engine {
    /// Why a classified meeting (or a route requiring encryption) refuses
    /// an H.323 leg: H.225 `securityDenied`, with the meeting named.
    pub(crate) fn h323_plain_leg_refusal(&self, target: &str) -> Cause {
        let text = match self.dialplan.meeting_by_user(target) {
            Some(m) => format!(
                "Meeting {} is {}: only encrypted legs are admitted, and H.323 media is not encrypted",
                m.number,
                m.classification.as_str()
            ),
            None => "Encryption required, and H.323 media is not encrypted".to_string(),
        };
        Cause::from_h225(H225ReleaseReason::SecurityDenied).with_text(&text)
    }

    /// The routing decision sent the Setup on `conn` to meeting `number`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn h323_join_meeting(
        &mut self,
        now: Instant,
        conn: ConnId,
        decision: &RouteDecision,
        number: &str,
        caller: String,
        target: &str,
        offer: Option<MediaCaps>,
    ) {
        let Some(c) = self.h323.conns.get(&conn) else {
            return;
        };
        let label = c.label.clone();
        let cdr_from = c
            .leg
            .caller_aliases()
            .iter()
            .find_map(|a| match a {
                gateway_h323::h225::AliasAddress::H323Id(s)
                | gateway_h323::h225::AliasAddress::DialedDigits(s) => Some(format!("h323:{s}")),
                _ => None,
            })
            .unwrap_or_else(|| format!("h323:{}", c.peer));
        if decision.policy.encryption_required {
            info!(call_id = %label, meeting = %number, "plain H.323 leg refused from a classified meeting");
            let cause = self.h323_plain_leg_refusal(number);
            return self.h323_leg_command(now, conn, LegCommand::End(cause));
        }
        let peer_ip = c.peer.ip();
        let offer = offer.unwrap_or_else(|| {
            info!(call_id = %label, meeting = %number, "H.323 leg without Fast Start: the meeting offers its audio over H.245");
            slow_start_offer(peer_ip)
        });
        let admitted = self.admit_to_meeting(
            now,
            JoinRequest {
                number,
                decision,
                offer: &offer,
                secure_signalling: false,
                label,
                caller,
                cdr_from,
                cdr_to: format!("h323:{target}"),
                signalling: LegSignalling::H323(Box::new(H323MeetingLeg { conn })),
            },
        );
        match admitted {
            Ok(a) => {
                if let Some(c) = self.h323.conns.get_mut(&conn) {
                    c.meeting = Some(a.leg);
                }
                self.h323_set_max_duration(now, conn, decision.policy.max_duration_secs);
                // the video the meeting switches goes in the same answer:
                // our Fast Start video channels, or the address channels
                // the room opens over H.245 are acknowledged with
                let answer = MediaCaps {
                    streams: std::iter::once(a.answer)
                        .chain(a.video.map(|v| v.answer))
                        .collect(),
                };
                self.h323_leg_command(now, conn, LegCommand::Answer(answer));
            }
            Err(cause) => self.h323_leg_command(now, conn, LegCommand::End(cause)),
        }
    }
}

/// What the meeting takes from a room whose Setup had no Fast Start: the
/// room learns our address and codec from the answer (the leg opens its
/// channel with it), and tells where it receives only in the
/// OpenLogicalChannelAck, which the meeting applies as the leg's new
/// remote (`LegEvent::Answer`). Until then media goes to the room's
/// signalling host, so RTP from that host latches at once.
///
/// One codec only: a meeting leg mixes one codec both ways, and the leg
/// opens its channel with the first of the answer the room receives, which
/// must be the one the mixer was given. G.711 is the audio every H.323
/// terminal must receive, and µ-law is the mixer's first codec.
fn slow_start_offer(room: IpAddr) -> MediaCaps {
    MediaCaps {
        streams: vec![StreamCaps {
            kind: MediaKind::Audio,
            // the discard port: nothing listens there, and the room's own
            // address replaces it once it acks our channel
            rtp: Some(SocketAddr::new(room, 9)),
            rtcp: None,
            rtcp_mux: false,
            transport: MediaTransport::Rtp,
            direction: Direction::SendRecv,
            codecs: vec![CodecCap {
                payload_type: 0,
                name: "PCMU".into(),
                clock_rate: 8000,
                channels: 1,
                fmtp: None,
            }],
            ptime_ms: Some(20),
            bandwidth_kbps: None,
        }],
    }
}
