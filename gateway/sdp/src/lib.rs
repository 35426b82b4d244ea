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

mod attributes;
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
