//! One task per WebRTC leg: it owns the leg's two sockets (ICE/DTLS-SRTP
//! towards the peer, plain RTP towards the meeting on loopback) and the
//! sans-IO `WebrtcLeg`, and nothing else touches them.

use super::http::WebState;
use super::{LegControl, WebrtcToEngine};
use crate::meeting::MeetingLegRef;
use gateway_callmodel::{Cause, Q850};
use gateway_webrtc::rtp::{parse_rtp, RtpFramer, OPUS_PT};
use gateway_webrtc::{LegOutput, LegState, WebrtcLeg};
use rand::RngCore;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

pub(crate) struct LegTask {
    pub session: String,
    pub number: String,
    pub remote: SocketAddr,
    pub webrtc: WebrtcLeg,
    pub ice: UdpSocket,
    pub media: UdpSocket,
    pub meeting_rtp: SocketAddr,
    pub leg: MeetingLegRef,
    pub control: mpsc::UnboundedReceiver<LegControl>,
    pub engine: mpsc::Sender<WebrtcToEngine>,
    pub web: Arc<WebState>,
}

/// A peer that has not completed ICE and DTLS by then is not coming.
const SETUP_TIMEOUT: Duration = Duration::from_secs(30);

/// Why the leg ended, and whether the meeting still has to be told.
struct Ending {
    why: String,
    cause: Cause,
    tell_meeting: bool,
}

pub(crate) async fn run(mut t: LegTask) {
    let kind = t.webrtc.mode().as_str();
    let started = Instant::now();
    let mut framer = {
        let mut r = rand::rng();
        RtpFramer::new(OPUS_PT, r.next_u32(), r.next_u32() as u16)
    };
    let mut ice_buf = vec![0u8; 2048];
    let mut media_buf = vec![0u8; 2048];
    let (mut to_meeting, mut to_peer) = (0u64, 0u64);
    let mut peer_addr: Option<SocketAddr> = None;
    let ending = 'run: loop {
        // Drain everything the state machine has to say before waiting.
        let deadline = loop {
            match t.webrtc.poll() {
                Ok(LegOutput::Timeout(at)) => break at,
                Ok(LegOutput::Transmit { to, bytes }) => {
                    if let Err(e) = t.ice.send_to(&bytes, to).await {
                        debug!(session = %t.session, %to, error = %e, "WebRTC send failed");
                    }
                }
                Ok(LegOutput::Audio { rtp_time, payload }) => {
                    let pkt = framer.frame(rtp_time, &payload);
                    if t.media.send_to(&pkt, t.meeting_rtp).await.is_ok() {
                        to_meeting += 1;
                    }
                }
                Ok(LegOutput::State(LegState::Connected)) => {
                    info!(kind, session = %t.session, meeting = %t.number, peer = ?peer_addr, setup_ms = started.elapsed().as_millis() as u64, "WebRTC leg connected (ICE and DTLS-SRTP up)");
                }
                Ok(LegOutput::State(LegState::Ice(s))) => {
                    info!(kind, session = %t.session, meeting = %t.number, ice = s, "WebRTC ICE state");
                    if s == "disconnected" {
                        break 'run Ending {
                            why: "ICE disconnected (no consent checks from the peer)".into(),
                            cause: Cause::new(Q850::RECOVERY_ON_TIMER_EXPIRY)
                                .with_text("WebRTC peer stopped answering (ICE)"),
                            tell_meeting: true,
                        };
                    }
                }
                Err(e) => {
                    break 'run Ending {
                        why: format!("WebRTC error: {e}"),
                        cause: Cause::new(Q850::PROTOCOL_ERROR).with_text(&e.to_string()),
                        tell_meeting: true,
                    }
                }
            }
        };
        if !t.webrtc.is_alive() {
            break Ending {
                why: "the WebRTC session closed".into(),
                cause: Cause::normal_clearing(),
                tell_meeting: true,
            };
        }
        if !t.webrtc.is_connected() && started.elapsed() > SETUP_TIMEOUT {
            break Ending {
                why: format!(
                    "ICE/DTLS not completed within {} s",
                    SETUP_TIMEOUT.as_secs()
                ),
                cause: Cause::new(Q850::RECOVERY_ON_TIMER_EXPIRY)
                    .with_text("WebRTC peer never connected"),
                tell_meeting: true,
            };
        }
        // Wake for the setup timeout too, even if str0m sleeps longer.
        let wake = if t.webrtc.is_connected() {
            deadline
        } else {
            deadline.min(started + SETUP_TIMEOUT + Duration::from_millis(10))
        };
        tokio::select! {
            r = t.ice.recv_from(&mut ice_buf) => match r {
                Ok((n, from)) => {
                    if peer_addr != Some(from) {
                        debug!(session = %t.session, %from, "WebRTC datagrams from a new address");
                        peer_addr = Some(from);
                    }
                    if let Err(e) = t.webrtc.receive(Instant::now(), from, &ice_buf[..n]) {
                        break Ending {
                            why: format!("WebRTC input refused: {e}"),
                            cause: Cause::new(Q850::PROTOCOL_ERROR).with_text(&e.to_string()),
                            tell_meeting: true,
                        };
                    }
                }
                // ICMP port unreachable and the like: the peer decides.
                Err(e) => debug!(session = %t.session, error = %e, "WebRTC socket receive error"),
            },
            r = t.media.recv_from(&mut media_buf) => {
                if let Ok((n, from)) = r {
                    // Only the meeting's own port feeds the leg.
                    if from.port() == t.meeting_rtp.port() {
                        if let Some(p) = parse_rtp(&media_buf[..n]) {
                            match t.webrtc.send_audio(Instant::now(), p.rtp_time, p.payload) {
                                Ok(true) => to_peer += 1,
                                Ok(false) => {}
                                Err(e) => warn!(session = %t.session, error = %e, "audio to the WebRTC peer dropped"),
                            }
                        }
                    }
                }
            }
            c = t.control.recv() => match c {
                Some(LegControl::Candidates(cs)) => {
                    for c in cs {
                        if let Err(e) = t.webrtc.add_remote_candidate(&c) {
                            debug!(session = %t.session, error = %e, "trickled candidate ignored");
                        }
                    }
                }
                Some(LegControl::Delete) => break Ending {
                    why: "the client sent DELETE".into(),
                    cause: Cause::normal_clearing().with_text("WHIP/WHEP DELETE"),
                    tell_meeting: true,
                },
                Some(LegControl::End(cause)) => break Ending {
                    why: format!("the meeting ended the leg: {cause}"),
                    cause,
                    tell_meeting: false,
                },
                Some(LegControl::Left) | None => break Ending {
                    why: "the meeting let the leg go".into(),
                    cause: Cause::normal_clearing(),
                    tell_meeting: false,
                },
            },
            _ = tokio::time::sleep_until(tokio::time::Instant::from_std(wake)) => {
                if let Err(e) = t.webrtc.timeout(Instant::now()) {
                    break Ending {
                        why: format!("WebRTC error: {e}"),
                        cause: Cause::new(Q850::PROTOCOL_ERROR).with_text(&e.to_string()),
                        tell_meeting: true,
                    };
                }
            }
        }
    };
    // DTLS close_notify, best effort: the peer may be gone already.
    t.webrtc.close();
    while let Ok(out) = t.webrtc.poll() {
        match out {
            LegOutput::Transmit { to, bytes } => {
                let _ = t.ice.send_to(&bytes, to).await;
            }
            LegOutput::Timeout(_) => break,
            _ => {}
        }
    }
    if let Ok(mut s) = t.web.sessions.lock() {
        s.remove(&t.session);
    }
    info!(
        kind,
        session = %t.session,
        meeting = %t.number,
        remote = %t.remote,
        peer = ?peer_addr,
        reason = %ending.why,
        lasted_s = started.elapsed().as_secs(),
        packets_to_meeting = to_meeting,
        packets_to_peer = to_peer,
        "WebRTC session ended"
    );
    if ending.tell_meeting {
        let _ = t
            .engine
            .send(WebrtcToEngine::Ended {
                leg: t.leg,
                cause: ending.cause,
            })
            .await;
    }
}
