//! The protocol-neutral call model: legs emit and accept neutral events,
//! causes convert between SIP, Q.850 and H.225, media capabilities describe
//! what a leg can send and receive.
//!
//! A leg (SIP today, H.323 and WebRTC next) translates its protocol into
//! [`LegEvent`]s for the owner of its call or meeting, and carries out the
//! [`LegCommand`]s it gets back. Interworking is written once, against these
//! types: the owner never asks which protocol a leg speaks.

pub mod cause;
pub mod event;
pub mod media;

pub use cause::{Cause, H225ReleaseReason, Q850};
pub use event::{AppMessage, LegCommand, LegEvent, LegId};

pub use media::{
    AudioCodec, CodecCap, Direction, MediaCaps, MediaKind, MediaTransport, StreamCaps,
};
