//! WebRTC legs, sans-IO: the str0m state machine behind a small API the
//! runtime drives (datagrams in, datagrams and events out, time as an
//! argument). Nothing here opens a socket, reads a clock or spawns a task.
//!
//! A leg is the server side of one WHIP (RFC 9725) or WHEP session:
//! ICE-lite with one host candidate, DTLS-SRTP, BUNDLE, rtcp-mux and Opus
//! audio. What it hears comes out as Opus frames with their RTP time; what
//! it should send goes in the same way. [`rtp`] frames those as plain RTP
//! for a meeting's media plane, and [`whip`] holds the HTTP-side rules
//! (trickle fragments, problem bodies) that need no I/O either.

pub mod rtp;
pub mod whip;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;
use str0m::change::SdpOffer;
use str0m::media::{Direction, Frequency, MediaTime, Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc};

pub use str0m;

/// Which way media flows on a leg, as the HTTP endpoint decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegMode {
    /// WHIP: the peer publishes into the meeting; we only receive.
    Publish,
    /// WHEP: the peer watches the meeting; we only send.
    Subscribe,
}

impl LegMode {
    pub fn as_str(self) -> &'static str {
        match self {
            LegMode::Publish => "whip",
            LegMode::Subscribe => "whep",
        }
    }
}

/// Why an offer or a datagram could not be used. Offers are the peer's
/// fault (HTTP 400/422); `Rtc` errors after setup end the leg.
#[derive(Debug, thiserror::Error)]
pub enum WebrtcError {
    #[error("the offer is not valid SDP: {0}")]
    BadSdp(String),
    #[error("the offer has no audio stream")]
    NoAudio,
    #[error("the offer's audio has no Opus/48000/2")]
    NoOpus,
    #[error("the offer's audio {0}")]
    WrongDirection(&'static str),
    #[error("the offer was refused: {0}")]
    Refused(String),
    #[error("not an ICE candidate: {0}")]
    BadCandidate(String),
    #[error("WebRTC: {0}")]
    Rtc(String),
}

impl WebrtcError {
    /// The HTTP status a WHIP/WHEP client should get for a refused offer:
    /// 400 for what does not parse, 422 for SDP we understood but cannot
    /// serve (RFC 9725 leaves the choice; 422 tells a tool the body was read).
    pub fn http_status(&self) -> u16 {
        match self {
            WebrtcError::BadSdp(_) | WebrtcError::BadCandidate(_) => 400,
            WebrtcError::NoAudio
            | WebrtcError::NoOpus
            | WebrtcError::WrongDirection(_)
            | WebrtcError::Refused(_) => 422,
            WebrtcError::Rtc(_) => 500,
        }
    }
}

/// A state worth a log line at 3 a.m.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LegState {
    Ice(&'static str),
    /// ICE and DTLS both done: SRTP keys exist, media can flow.
    Connected,
}

/// What the runtime must do next for a leg.
#[derive(Debug)]
pub enum LegOutput {
    /// Send `bytes` from the leg's socket to `to`.
    Transmit {
        to: SocketAddr,
        bytes: Vec<u8>,
    },
    /// An Opus frame the peer sent, with its RTP time (48 kHz).
    Audio {
        rtp_time: u32,
        payload: Arc<[u8]>,
    },
    State(LegState),
    /// Nothing more until this instant (or a datagram, or a command).
    Timeout(Instant),
}

/// The server side of one WebRTC session.
pub struct WebrtcLeg {
    rtc: Rtc,
    mode: LegMode,
    local: SocketAddr,
    audio: Mid,
    /// The Opus payload type the answer agreed on (for sending).
    opus_pt: Option<Pt>,
    connected: bool,
    /// The 32-bit RTP times of what we send, extended so str0m sees a
    /// monotonic media time across the 2^32 wrap (about 25 h at 48 kHz).
    send_time: Option<(u32, u64)>,
}

fn ice_state_name(s: IceConnectionState) -> &'static str {
    match s {
        IceConnectionState::New => "new",
        IceConnectionState::Checking => "checking",
        IceConnectionState::Connected => "connected",
        IceConnectionState::Completed => "completed",
        IceConnectionState::Disconnected => "disconnected",
    }
}

/// Offers bigger than this are refused before parsing (browsers send
/// 3-8 KB; a publisher with many codecs stays well under).
pub const MAX_OFFER_BYTES: usize = 64 * 1024;

impl WebrtcLeg {
    /// Answers `offer` for a leg whose media socket is reachable at
    /// `candidate` (the host candidate we announce; ICE-lite, so it is
    /// the only one). Refuses offers without Opus audio, and offers whose
    /// audio direction cannot carry what `mode` needs.
    pub fn accept(
        now: Instant,
        mode: LegMode,
        offer: &str,
        candidate: SocketAddr,
    ) -> Result<(Self, String), WebrtcError> {
        if offer.len() > MAX_OFFER_BYTES {
            return Err(WebrtcError::BadSdp(format!(
                "{} bytes, more than {MAX_OFFER_BYTES}",
                offer.len()
            )));
        }
        let parsed =
            SdpOffer::from_sdp_string(offer).map_err(|e| WebrtcError::BadSdp(e.to_string()))?;
        let mut rtc = Rtc::builder()
            .set_ice_lite(true)
            .clear_codecs()
            .enable_opus(true, false)
            .build(now);
        let host = Candidate::host(candidate, "udp")
            .map_err(|e| WebrtcError::Rtc(format!("host candidate {candidate}: {e}")))?;
        rtc.add_local_candidate(host);
        let answer = rtc
            .sdp_api()
            .accept_offer(parsed)
            .map_err(|e| WebrtcError::Refused(e.to_string()))?;
        // MediaAdded events only come once the session runs; the answer
        // we just made names the accepted audio m-line (a rejected one has
        // port 0), and the Rtc knows its direction.
        let answer_sdp = answer.to_sdp_string();
        let audio = answered_audio_mid(&answer_sdp).and_then(|mid| {
            let m = rtc.media(mid)?;
            Some((mid, m.direction()))
        });
        let (mid, direction) = audio.ok_or(WebrtcError::NoAudio)?;
        // `direction` is ours, as answered.
        match (mode, direction) {
            (LegMode::Publish, Direction::RecvOnly | Direction::SendRecv) => {}
            (LegMode::Subscribe, Direction::SendOnly | Direction::SendRecv) => {}
            (LegMode::Publish, _) => return Err(WebrtcError::WrongDirection("sends nothing")),
            (LegMode::Subscribe, _) => return Err(WebrtcError::WrongDirection("receives nothing")),
        }
        let opus_pt = rtc.writer(mid).and_then(|w| {
            w.payload_params()
                .find(|p| {
                    let s = p.spec();
                    s.codec == str0m::format::Codec::Opus
                        && s.clock_rate == Frequency::FORTY_EIGHT_KHZ
                })
                .map(|p| p.pt())
        });
        if opus_pt.is_none() {
            return Err(WebrtcError::NoOpus);
        }
        let leg = WebrtcLeg {
            rtc,
            mode,
            local: candidate,
            audio: mid,
            opus_pt,
            connected: false,
            send_time: None,
        };
        Ok((leg, answer_sdp))
    }

    pub fn mode(&self) -> LegMode {
        self.mode
    }

    /// ICE and DTLS are done.
    pub fn is_connected(&self) -> bool {
        self.connected
    }

    /// False once ICE gave up or the leg was closed: drop it.
    pub fn is_alive(&self) -> bool {
        self.rtc.is_alive()
    }

    /// One `a=candidate` value (without `a=`) trickled by the peer.
    pub fn add_remote_candidate(&mut self, line: &str) -> Result<(), WebrtcError> {
        let c = Candidate::from_sdp_string(line)
            .map_err(|e| WebrtcError::BadCandidate(e.to_string()))?;
        self.rtc.add_remote_candidate(c);
        Ok(())
    }

    /// A datagram that arrived on the leg's socket. Anything that is not
    /// STUN, DTLS, RTP or RTCP is dropped here, not an error for the leg.
    pub fn receive(
        &mut self,
        now: Instant,
        source: SocketAddr,
        bytes: &[u8],
    ) -> Result<(), WebrtcError> {
        let Ok(r) = Receive::new(Protocol::Udp, source, self.local, bytes) else {
            return Ok(());
        };
        let input = Input::Receive(now, r);
        if !self.rtc.accepts(&input) {
            return Ok(());
        }
        self.rtc
            .handle_input(input)
            .map_err(|e| WebrtcError::Rtc(e.to_string()))
    }

    /// The deadline from the last [`LegOutput::Timeout`] passed.
    pub fn timeout(&mut self, now: Instant) -> Result<(), WebrtcError> {
        self.rtc
            .handle_input(Input::Timeout(now))
            .map_err(|e| WebrtcError::Rtc(e.to_string()))
    }

    /// An Opus frame for the peer (WHEP), stamped with its 48 kHz RTP
    /// time. Returns false (frame dropped) until DTLS is up, or when the
    /// leg does not send.
    pub fn send_audio(
        &mut self,
        now: Instant,
        rtp_time: u32,
        payload: &[u8],
    ) -> Result<bool, WebrtcError> {
        let Some(pt) = self.opus_pt else {
            return Ok(false);
        };
        if !self.connected || self.mode != LegMode::Subscribe {
            return Ok(false);
        }
        let extended = match self.send_time {
            None => u64::from(rtp_time),
            Some((last, ext)) => {
                ext.wrapping_add_signed(i64::from(rtp_time.wrapping_sub(last) as i32))
            }
        };
        self.send_time = Some((rtp_time, extended));
        let Some(w) = self.rtc.writer(self.audio) else {
            return Ok(false);
        };
        w.write(
            pt,
            now,
            MediaTime::new(extended, Frequency::FORTY_EIGHT_KHZ),
            payload.to_vec(),
        )
        .map_err(|e| WebrtcError::Rtc(e.to_string()))?;
        Ok(true)
    }

    /// Ends the session (DTLS close_notify goes out on the next polls).
    pub fn close(&mut self) {
        self.rtc.disconnect();
    }

    /// The next thing to do; call until it returns [`LegOutput::Timeout`]
    /// after every input (str0m's single-mutation rule).
    pub fn poll(&mut self) -> Result<LegOutput, WebrtcError> {
        loop {
            let out = self
                .rtc
                .poll_output()
                .map_err(|e| WebrtcError::Rtc(e.to_string()))?;
            match out {
                Output::Timeout(t) => return Ok(LegOutput::Timeout(t)),
                Output::Transmit(t) => {
                    return Ok(LegOutput::Transmit {
                        to: t.destination,
                        bytes: t.contents.to_vec(),
                    })
                }
                Output::Event(Event::Connected) => {
                    self.connected = true;
                    return Ok(LegOutput::State(LegState::Connected));
                }
                Output::Event(Event::IceConnectionStateChange(s)) => {
                    return Ok(LegOutput::State(LegState::Ice(ice_state_name(s))))
                }
                Output::Event(Event::MediaData(d)) => {
                    if d.mid != self.audio || self.mode != LegMode::Publish {
                        continue;
                    }
                    let t = d.time.rebase(Frequency::FORTY_EIGHT_KHZ);
                    return Ok(LegOutput::Audio {
                        rtp_time: t.numer() as u32,
                        payload: d.data,
                    });
                }
                Output::Event(_) => continue,
            }
        }
    }
}

/// The mid of the first audio m-line our answer accepted.
fn answered_audio_mid(answer: &str) -> Option<Mid> {
    let mut in_audio = false;
    for line in answer.lines() {
        if let Some(m) = line.strip_prefix("m=") {
            in_audio = m.starts_with("audio ") && !m.starts_with("audio 0 ");
        } else if let Some(mid) = line.strip_prefix("a=mid:") {
            if in_audio {
                return Some(Mid::from(mid.trim()));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests;
