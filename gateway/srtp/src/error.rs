use crate::SrtpSuite;

/// Why a packet or a context was refused. None of these carry key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SrtpError {
    #[error("packet too short: {len} bytes, need at least {min}")]
    TooShort { len: usize, min: usize },
    #[error("not an RTP/RTCP version 2 packet")]
    BadVersion,
    #[error("RTP header (CSRCs or extension) runs past the end of the packet")]
    BadHeader,
    #[error("authentication tag mismatch")]
    AuthFailed,
    #[error("replayed packet: SSRC {ssrc:#010x}, index {index}")]
    Replayed { ssrc: u32, index: u64 },
    #[error("packet older than the replay window: SSRC {ssrc:#010x}, index {index}")]
    TooOld { ssrc: u32, index: u64 },
    #[error("context already tracks {limit} SSRCs; refusing SSRC {ssrc:#010x}")]
    TooManySsrcs { ssrc: u32, limit: usize },
    #[error("packet index space exhausted for SSRC {ssrc:#010x}; the session must be rekeyed")]
    IndexExhausted { ssrc: u32 },
    #[error("{suite} needs a {expected_key}-byte key and {expected_salt}-byte salt, got {key} and {salt}")]
    BadKeyLength {
        suite: SrtpSuite,
        expected_key: usize,
        expected_salt: usize,
        key: usize,
        salt: usize,
    },
    #[error("invalid option: {0}")]
    BadOption(&'static str),
}
