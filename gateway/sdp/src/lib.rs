//! SDP (RFC 8866) for the gateway: a parser, a serializer that round-trips,
//! typed accessors for the attributes the media layer needs, and the editing
//! helpers a B2BUA uses to anchor media.
//!
//! The crate is sans-IO. Parsing never panics and never allocates more than a
//! bounded multiple of its input: the number of lines, media sections and
//! attributes is capped (see [`limits`]).
//!
//! Attributes are stored in order as name/value pairs, so every attribute the
//! gateway does not understand (BFCP, ICE, DTLS, simulcast, ...) survives a
//! parse/serialize cycle byte for byte. Typed views are computed on demand.
//!
//! ```
//! use gateway_sdp::SessionDescription;
//!
//! let offer = "v=0\no=- 1 1 IN IP4 192.0.2.10\ns=-\nc=IN IP4 192.0.2.10\nt=0 0\n\
//!              m=audio 49170 RTP/AVP 0 8 101\na=rtpmap:101 telephone-event/8000\n";
//! let mut sdp = SessionDescription::parse(offer).unwrap();
//! sdp.set_connection_addr("203.0.113.1".parse().unwrap());
//! sdp.media[0].set_port(40000);
//! sdp.media[0].retain_payload_types(&[8, 101]);
//! sdp.bump_version();
//! assert_eq!(
//!     sdp.to_string(),
//!     "v=0\r\no=- 1 2 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 203.0.113.1\r\nt=0 0\r\n\
//!      m=audio 40000 RTP/AVP 8 101\r\na=rtpmap:101 telephone-event/8000\r\n"
//! );
//! ```

mod attributes;
pub mod crypto;
mod edit;
mod error;
mod model;
mod parse;

pub use attributes::{Crypto, Direction, Fingerprint, RtcpAttr, RtpMap, SecretKeyParams, Setup};
pub use error::SdpError;
pub use model::{
    Attribute, Bandwidth, Connection, MediaDescription, Origin, SessionDescription, Timing,
};

/// Bounds applied while parsing untrusted SDP.
pub mod limits {
    /// Most `m=` sections accepted in one description.
    pub const MAX_MEDIA: usize = 64;
    /// Most `a=` lines accepted in one description (session and media levels together).
    pub const MAX_ATTRIBUTES: usize = 1024;
    /// Most lines of any kind accepted in one description.
    pub const MAX_LINES: usize = 4096;
}
