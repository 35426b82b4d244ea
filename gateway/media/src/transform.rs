//! Per-direction hook between receiving and sending a packet.
//!
//! SRTP (unprotect on one leg, protect on the other) and transcoding plug
//! in here without touching the forwarding loop; a [`Chain`] runs several
//! in order (unprotect → transcode → protect).

use crate::packet::PacketClass;

/// Transforms packets flowing in one direction of one stream.
///
/// `buf` is the whole receive buffer; the packet occupies `buf[..len]`. The
/// spare room after it lets a transform grow the packet in place (an SRTP
/// authentication tag, for instance) without allocating. Returns the new
/// length, or `None` to drop the packet (authentication failure, …).
pub trait PacketTransform: Send + 'static {
    fn transform(&mut self, class: PacketClass, buf: &mut [u8], len: usize) -> Option<usize>;

    /// The packets this transform emits are a new stream (decoded and
    /// encoded again), so reports about either side's stream mean nothing
    /// on the other: the relay consumes RTCP arriving for this direction
    /// and sends the receiving leg reports of its own.
    fn terminates_rtcp(&self) -> bool {
        false
    }
}

/// Forwards packets unchanged.
#[derive(Debug, Default, Clone, Copy)]
pub struct IdentityTransform;

impl PacketTransform for IdentityTransform {
    #[inline]
    fn transform(&mut self, _class: PacketClass, _buf: &mut [u8], len: usize) -> Option<usize> {
        Some(len)
    }
}

/// Several transforms in order; a packet any of them drops goes no further.
pub struct Chain(pub Vec<Box<dyn PacketTransform>>);

impl PacketTransform for Chain {
    fn transform(&mut self, class: PacketClass, buf: &mut [u8], len: usize) -> Option<usize> {
        let mut len = len;
        for t in &mut self.0 {
            len = t.transform(class, buf, len)?;
        }
        Some(len)
    }

    fn terminates_rtcp(&self) -> bool {
        self.0.iter().any(|t| t.terminates_rtcp())
    }
}
