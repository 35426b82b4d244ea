//! WebRTC legs at runtime: the web listener (WHIP/WHEP over HTTPS, or
//! plain HTTP behind a reverse proxy) and one task per leg that drives the
//! sans-IO `gateway_webrtc::WebrtcLeg` with its sockets and timers.
//!
//! The engine stays the owner of meetings: the listener asks it to admit a
//! leg ([`WebrtcToEngine::Join`]) and leg tasks tell it when a leg ended;
//! the engine tells a leg task to stop through [`LegControl`]. See
//! `crate::meeting::webrtc` for the media path chosen (plain Opus RTP to
//! the mixer over loopback).

pub(crate) mod http;
pub(crate) mod leg;
#[cfg(test)]
mod tests;

use crate::meeting::webrtc::JoinRefused;
use crate::meeting::MeetingLegRef;
use gateway_callmodel::Cause;
use gateway_webrtc::LegMode;
use std::net::SocketAddr;
use tokio::sync::{mpsc, oneshot};

/// What the web side asks of, or reports to, the engine.
pub(crate) enum WebrtcToEngine {
    Join {
        join: WebrtcJoin,
        reply: oneshot::Sender<Result<WebrtcJoined, JoinRefused>>,
    },
    /// The leg task ended on its own (DELETE, ICE gave up, an error).
    Ended { leg: MeetingLegRef, cause: Cause },
}

/// A WHIP/WHEP session that wants into meeting `number`.
pub(crate) struct WebrtcJoin {
    pub number: String,
    pub mode: LegMode,
    pub session: String,
    /// The HTTP client's address (the media may come from elsewhere).
    pub remote: SocketAddr,
    /// The leg task's plain-RTP socket towards the mixer.
    pub media: SocketAddr,
    pub control: mpsc::UnboundedSender<LegControl>,
}

pub(crate) struct WebrtcJoined {
    pub leg: MeetingLegRef,
    /// Where the leg task sends the meeting plain RTP (and hears it from).
    pub meeting_rtp: SocketAddr,
}

/// What a leg task is told.
#[derive(Debug)]
pub(crate) enum LegControl {
    /// Trickled ICE candidates (`a=candidate` values without `a=`).
    Candidates(Vec<String>),
    /// The WHIP/WHEP client sent DELETE.
    Delete,
    /// The meeting ends the leg with this cause.
    End(Cause),
    /// The meeting has already let the leg go (it ended, or we asked).
    Left,
}

/// Where the runtime plugs the web listener in: `None` when `web_listen`
/// is off. The receiver goes into the engine loop's `select!`.
pub(crate) async fn start(
    cfg: &crate::config::Config,
) -> Result<Option<(SocketAddr, mpsc::Receiver<WebrtcToEngine>)>, String> {
    let Some((addr, explicit)) = cfg.web().map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    let (tx, rx) = mpsc::channel(256);
    match http::spawn(cfg, addr, tx).await {
        Ok(bound) => Ok(Some((bound, rx))),
        Err(http::SpawnError::Bind(e))
            if !explicit && e.kind() == std::io::ErrorKind::AddrInUse =>
        {
            tracing::warn!(web = %addr, "default web listener port taken: no WHIP/WHEP here (set web_listen)");
            Ok(None)
        }
        Err(e) => Err(format!("{e} ({addr})")),
    }
}
