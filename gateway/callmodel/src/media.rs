//! Media capabilities of a leg, independent of SDP, H.245 or WebRTC.

use std::net::SocketAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaKind {
    Audio,
    Video,
    /// Content sharing (BFCP-controlled video, H.239) and anything else.
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Direction {
    #[default]
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    /// The direction the other side answers with (RFC 3264 §6.1).
    pub fn reversed(self) -> Direction {
        match self {
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            d => d,
        }
    }

    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }
}

/// How a stream's packets are protected on the wire.
#[derive(Clone, PartialEq, Eq, Default)]
pub enum MediaTransport {
    #[default]
    Rtp,
    /// SDES-keyed SRTP (RFC 4568): the offered or chosen suites and keys in
    /// their SDES text form. Keys never reach logs: see the Debug impl.
    SrtpSdes { crypto: Vec<String> },
    /// DTLS-SRTP (RFC 5763): keys come from the handshake.
    DtlsSrtp { fingerprint: String },
}

impl std::fmt::Debug for MediaTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MediaTransport::Rtp => f.write_str("Rtp"),
            MediaTransport::SrtpSdes { crypto } => {
                write!(f, "SrtpSdes({} keys, redacted)", crypto.len())
            }
            MediaTransport::DtlsSrtp { .. } => f.write_str("DtlsSrtp"),
        }
    }
}

impl MediaTransport {
    pub fn is_encrypted(&self) -> bool {
        !matches!(self, MediaTransport::Rtp)
    }
}

/// The audio codecs the media bridge can decode and encode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AudioCodec {
    Pcmu,
    Pcma,
    G722,
    Opus,
}

impl AudioCodec {
    /// From an rtpmap encoding name and clock rate (case-insensitive names;
    /// G.722 is announced at 8000 though it samples at 16 kHz, RFC 3551 §4.5.2).
    pub fn from_rtpmap(name: &str, clock_rate: u32) -> Option<AudioCodec> {
        match (name.to_ascii_lowercase().as_str(), clock_rate) {
            ("pcmu", 8000) => Some(AudioCodec::Pcmu),
            ("pcma", 8000) => Some(AudioCodec::Pcma),
            ("g722", 8000) => Some(AudioCodec::G722),
            ("opus", 48000) => Some(AudioCodec::Opus),
            _ => None,
        }
    }

    /// The static payload type, if the codec has one (RFC 3551).
    pub fn static_payload_type(self) -> Option<u8> {
        match self {
            AudioCodec::Pcmu => Some(0),
            AudioCodec::Pcma => Some(8),
            AudioCodec::G722 => Some(9),
            AudioCodec::Opus => None,
        }
    }

    pub fn rtpmap(self) -> &'static str {
        match self {
            AudioCodec::Pcmu => "PCMU/8000",
            AudioCodec::Pcma => "PCMA/8000",
            AudioCodec::G722 => "G722/8000",
            AudioCodec::Opus => "opus/48000/2",
        }
    }

    /// The RTP clock: timestamp units per second.
    pub fn rtp_clock(self) -> u32 {
        match self {
            AudioCodec::Opus => 48000,
            _ => 8000,
        }
    }

    /// The sample rate the codec's PCM runs at.
    pub fn pcm_rate(self) -> u32 {
        match self {
            AudioCodec::Pcmu | AudioCodec::Pcma => 8000,
            AudioCodec::G722 => 16000,
            AudioCodec::Opus => 48000,
        }
    }
}

/// One codec a leg offers or accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodecCap {
    pub payload_type: u8,
    /// Encoding name as the peer spelled it (`PCMU`, `opus`, `H264`,
    /// `telephone-event`).
    pub name: String,
    pub clock_rate: u32,
    pub channels: u8,
    pub fmtp: Option<String>,
}

impl CodecCap {
    pub fn audio_codec(&self) -> Option<AudioCodec> {
        AudioCodec::from_rtpmap(&self.name, self.clock_rate)
    }

    pub fn is_telephone_event(&self) -> bool {
        self.name.eq_ignore_ascii_case("telephone-event")
    }
}

/// One media stream (an SDP m-line, an H.245 logical channel pair, a WebRTC
/// transceiver).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamCaps {
    pub kind: MediaKind,
    /// Where the leg receives RTP; `None` for a disabled stream.
    pub rtp: Option<SocketAddr>,
    pub rtcp: Option<SocketAddr>,
    pub rtcp_mux: bool,
    pub transport: MediaTransport,
    pub direction: Direction,
    /// In the peer's order of preference.
    pub codecs: Vec<CodecCap>,
    pub ptime_ms: Option<u32>,
    /// Application-specific bandwidth (b=AS, H.245 maxBitRate), kbit/s.
    pub bandwidth_kbps: Option<u32>,
}

impl StreamCaps {
    /// The first audio codec of the peer's list that the bridge supports,
    /// with its payload type.
    pub fn preferred_audio(&self) -> Option<(u8, AudioCodec)> {
        self.codecs
            .iter()
            .find_map(|c| c.audio_codec().map(|a| (c.payload_type, a)))
    }

    pub fn telephone_event(&self, clock_rate: u32) -> Option<u8> {
        self.codecs
            .iter()
            .find(|c| c.is_telephone_event() && c.clock_rate == clock_rate)
            .map(|c| c.payload_type)
    }
}

/// Everything one offer or answer says about media.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MediaCaps {
    pub streams: Vec<StreamCaps>,
}

impl MediaCaps {
    pub fn first(&self, kind: MediaKind) -> Option<(usize, &StreamCaps)> {
        self.streams
            .iter()
            .enumerate()
            .find(|(_, s)| s.kind == kind && s.rtp.is_some())
    }

    /// Every enabled stream is encrypted (and there is at least one).
    pub fn all_encrypted(&self) -> bool {
        let mut enabled = self.streams.iter().filter(|s| s.rtp.is_some()).peekable();
        enabled.peek().is_some() && enabled.all(|s| s.transport.is_encrypted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(transport: MediaTransport, codecs: &[(u8, &str, u32)]) -> StreamCaps {
        StreamCaps {
            kind: MediaKind::Audio,
            rtp: Some("192.0.2.1:4000".parse().unwrap()),
            rtcp: None,
            rtcp_mux: false,
            transport,
            direction: Direction::SendRecv,
            codecs: codecs
                .iter()
                .map(|&(pt, name, rate)| CodecCap {
                    payload_type: pt,
                    name: name.into(),
                    clock_rate: rate,
                    channels: 1,
                    fmtp: None,
                })
                .collect(),
            ptime_ms: None,
            bandwidth_kbps: None,
        }
    }

    #[test]
    fn preferred_audio_skips_unknown_codecs_in_peer_order() {
        let s = stream(
            MediaTransport::Rtp,
            &[(18, "G729", 8000), (96, "OPUS", 48000), (0, "PCMU", 8000)],
        );
        assert_eq!(s.preferred_audio(), Some((96, AudioCodec::Opus)));
        let s = stream(MediaTransport::Rtp, &[(101, "telephone-event", 8000)]);
        assert_eq!(s.preferred_audio(), None);
        assert_eq!(s.telephone_event(8000), Some(101));
        assert_eq!(s.telephone_event(48000), None);
    }

    #[test]
    fn encryption_is_judged_over_enabled_streams() {
        let srtp = MediaTransport::SrtpSdes {
            crypto: vec!["1 AES_CM_128_HMAC_SHA1_80 inline:secret".into()],
        };
        let mut caps = MediaCaps {
            streams: vec![stream(srtp.clone(), &[(0, "PCMU", 8000)])],
        };
        assert!(caps.all_encrypted());
        let mut plain = stream(MediaTransport::Rtp, &[(0, "PCMU", 8000)]);
        caps.streams.push(plain.clone());
        assert!(!caps.all_encrypted());
        plain.rtp = None;
        caps.streams[1] = plain;
        assert!(
            caps.all_encrypted(),
            "a disabled plain stream carries nothing"
        );
        assert!(!MediaCaps::default().all_encrypted());
        assert!(
            !format!("{srtp:?}").contains("secret"),
            "keys must not reach Debug"
        );
    }

    #[test]
    fn g722_is_announced_at_8000_but_samples_at_16k() {
        let c = AudioCodec::from_rtpmap("g722", 8000).unwrap();
        assert_eq!((c.rtp_clock(), c.pcm_rate()), (8000, 16000));
        assert_eq!(AudioCodec::from_rtpmap("G722", 16000), None);
    }
}
