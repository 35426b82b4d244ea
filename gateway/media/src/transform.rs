//! Per-direction hook between receiving and sending a packet.
//!
//! SRTP (unprotect on one leg, protect on the other) and transcoding plug
//! in here without touching the forwarding loop; a [`Chain`] runs several
//! in order (unprotect → transcode → protect).

use crate::packet::PacketClass;

/// What a transform did with one packet, as [`PacketTransform::process`]
/// reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Send `buf[..n]`.
    Forward(usize),
    /// Kept to go out later (a reordering buffer waiting for an earlier
    /// packet): nothing to send now, and nothing lost either, so counters
    /// of dropped packets must not count it.
    Held,
    /// Refused (authentication failure, malformed, late, a payload type the
    /// receiver does not take, …).
    Drop,
}

impl Verdict {
    /// The length to send, if there is a packet to send now.
    pub fn forwarded(self) -> Option<usize> {
        match self {
            Verdict::Forward(n) => Some(n),
            Verdict::Held | Verdict::Drop => None,
        }
    }
}

/// Transforms packets flowing in one direction of one stream.
///
/// `buf` is the whole receive buffer; the packet occupies `buf[..len]`. The
/// spare room after it lets a transform grow the packet in place (an SRTP
/// authentication tag, for instance) without allocating.
pub trait PacketTransform: Send + 'static {
    /// Returns the new length, or `None` when there is nothing to send,
    /// dropped or held alike; [`PacketTransform::process`] tells the two
    /// apart.
    fn transform(&mut self, class: PacketClass, buf: &mut [u8], len: usize) -> Option<usize>;

    /// [`PacketTransform::transform`] with the reason when nothing goes out.
    /// Only transforms that hold packets (the transcoder's reordering)
    /// need to override it: the default calls every `None` a drop.
    fn process(&mut self, class: PacketClass, buf: &mut [u8], len: usize) -> Verdict {
        match self.transform(class, buf, len) {
            Some(n) => Verdict::Forward(n),
            None => Verdict::Drop,
        }
    }

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

/// Several transforms in order; a packet any of them drops or holds goes
/// no further (a held one is that transform's to send later).
pub struct Chain(pub Vec<Box<dyn PacketTransform>>);

impl PacketTransform for Chain {
    fn transform(&mut self, class: PacketClass, buf: &mut [u8], len: usize) -> Option<usize> {
        self.process(class, buf, len).forwarded()
    }

    fn process(&mut self, class: PacketClass, buf: &mut [u8], len: usize) -> Verdict {
        let mut len = len;
        for t in &mut self.0 {
            match t.process(class, buf, len) {
                Verdict::Forward(n) => len = n,
                other => return other,
            }
        }
        Verdict::Forward(len)
    }

    fn terminates_rtcp(&self) -> bool {
        self.0.iter().any(|t| t.terminates_rtcp())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Holds every other packet, drops packets of length 0, and appends a
    /// byte to what it forwards.
    #[derive(Default)]
    struct HoldOdd(u32);

    impl PacketTransform for HoldOdd {
        fn transform(&mut self, class: PacketClass, buf: &mut [u8], len: usize) -> Option<usize> {
            self.process(class, buf, len).forwarded()
        }

        fn process(&mut self, _class: PacketClass, buf: &mut [u8], len: usize) -> Verdict {
            if len == 0 {
                return Verdict::Drop;
            }
            self.0 += 1;
            if self.0 % 2 == 1 {
                return Verdict::Held;
            }
            buf[len] = 0xaa;
            Verdict::Forward(len + 1)
        }
    }

    /// Drops packets whose first byte is zero.
    struct DropZero;

    impl PacketTransform for DropZero {
        fn transform(&mut self, _class: PacketClass, buf: &mut [u8], len: usize) -> Option<usize> {
            (buf[0] != 0).then_some(len)
        }
    }

    #[test]
    fn the_default_process_calls_every_none_a_drop() {
        let mut buf = [0u8, 1, 2, 3];
        assert_eq!(
            DropZero.process(PacketClass::Rtp, &mut buf, 2),
            Verdict::Drop
        );
        buf[0] = 1;
        assert_eq!(
            DropZero.process(PacketClass::Rtp, &mut buf, 2),
            Verdict::Forward(2)
        );
        assert_eq!(
            IdentityTransform.process(PacketClass::Rtcp, &mut buf, 3),
            Verdict::Forward(3)
        );
    }

    #[test]
    fn a_chain_passes_on_a_hold_and_a_drop_as_such() {
        let mut chain = Chain(vec![Box::new(DropZero), Box::new(HoldOdd::default())]);
        let mut buf = [1u8, 2, 0, 0];
        assert_eq!(chain.process(PacketClass::Rtp, &mut buf, 2), Verdict::Held);
        assert_eq!(
            chain.process(PacketClass::Rtp, &mut buf, 2),
            Verdict::Forward(3)
        );
        assert_eq!(buf[2], 0xaa, "the second transform ran");
        buf[0] = 0;
        assert_eq!(chain.process(PacketClass::Rtp, &mut buf, 2), Verdict::Drop);
        // `transform` keeps its old meaning: nothing to send.
        buf[0] = 1;
        assert_eq!(chain.transform(PacketClass::Rtp, &mut buf, 2), None);
        assert_eq!(chain.transform(PacketClass::Rtp, &mut buf, 2), Some(3));
    }
}
