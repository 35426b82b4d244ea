//! SRTP on a leg as relay transforms: [`SrtpUnprotect`] for packets that
//! arrive from an encrypted leg, [`SrtpProtect`] for packets that leave
//! towards one. Each wraps one direction's context of `gateway-srtp`, so
//! every leg has its own keys: SRTP↔RTP, SRTP↔SRTP with other keys and
//! RTP↔RTP all go through the same relay loop.

use gateway_srtp::{SrtpContext, SrtpError};

use crate::packet::PacketClass;
use crate::transform::PacketTransform;

/// Counters of one SRTP direction (authentication failures and replays
/// are what an operator looks for when a leg "has no audio").
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SrtpStats {
    pub ok: u64,
    pub auth_failed: u64,
    pub replayed: u64,
    pub other_errors: u64,
}

impl SrtpStats {
    fn count(&mut self, r: &Result<(), SrtpError>) {
        match r {
            Ok(()) => self.ok += 1,
            Err(SrtpError::AuthFailed) => self.auth_failed += 1,
            Err(SrtpError::Replayed { .. } | SrtpError::TooOld { .. }) => self.replayed += 1,
            Err(_) => self.other_errors += 1,
        }
    }
}

/// The SRTP contexts work on a `Vec`; the relay hands transforms a slice
/// of its receive buffer. One scratch buffer per direction, reused.
fn apply(
    scratch: &mut Vec<u8>,
    buf: &mut [u8],
    len: usize,
    f: impl FnOnce(&mut Vec<u8>) -> Result<(), SrtpError>,
    stats: &mut SrtpStats,
) -> Option<usize> {
    scratch.clear();
    scratch.extend_from_slice(buf.get(..len)?);
    let r = f(scratch);
    stats.count(&r);
    r.ok()?;
    let out = buf.get_mut(..scratch.len())?;
    out.copy_from_slice(scratch);
    Some(scratch.len())
}

/// Decrypts and authenticates what an encrypted leg sends; forged,
/// replayed or undecodable packets are dropped.
pub struct SrtpUnprotect {
    ctx: SrtpContext,
    scratch: Vec<u8>,
    stats: SrtpStats,
}

impl SrtpUnprotect {
    pub fn new(ctx: SrtpContext) -> SrtpUnprotect {
        SrtpUnprotect {
            ctx,
            scratch: Vec::with_capacity(2048),
            stats: SrtpStats::default(),
        }
    }

    pub fn stats(&self) -> SrtpStats {
        self.stats
    }
}

impl PacketTransform for SrtpUnprotect {
    fn transform(&mut self, class: PacketClass, buf: &mut [u8], len: usize) -> Option<usize> {
        let ctx = &mut self.ctx;
        match class {
            PacketClass::Rtp => apply(
                &mut self.scratch,
                buf,
                len,
                |p| ctx.unprotect_rtp(p),
                &mut self.stats,
            ),
            PacketClass::Rtcp => apply(
                &mut self.scratch,
                buf,
                len,
                |p| ctx.unprotect_rtcp(p),
                &mut self.stats,
            ),
        }
    }
}

/// Encrypts and tags what goes to an encrypted leg.
pub struct SrtpProtect {
    ctx: SrtpContext,
    scratch: Vec<u8>,
    stats: SrtpStats,
}

impl SrtpProtect {
    pub fn new(ctx: SrtpContext) -> SrtpProtect {
        SrtpProtect {
            ctx,
            scratch: Vec::with_capacity(2048),
            stats: SrtpStats::default(),
        }
    }

    pub fn stats(&self) -> SrtpStats {
        self.stats
    }
}

impl PacketTransform for SrtpProtect {
    fn transform(&mut self, class: PacketClass, buf: &mut [u8], len: usize) -> Option<usize> {
        let ctx = &mut self.ctx;
        match class {
            PacketClass::Rtp => apply(
                &mut self.scratch,
                buf,
                len,
                |p| ctx.protect_rtp(p),
                &mut self.stats,
            ),
            PacketClass::Rtcp => apply(
                &mut self.scratch,
                buf,
                len,
                |p| ctx.protect_rtcp(p),
                &mut self.stats,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transform::Chain;
    use gateway_srtp::{SrtpKey, SrtpOptions, SrtpSuite};

    fn ctx(suite: SrtpSuite, byte: u8) -> SrtpContext {
        let key =
            SrtpKey::from_concatenated(suite, &vec![byte; suite.key_len() + suite.salt_len()])
                .unwrap();
        SrtpContext::new(suite, &key, SrtpOptions::default()).unwrap()
    }

    fn rtp(seq: u16) -> Vec<u8> {
        let mut p = vec![
            0x80,
            0,
            (seq >> 8) as u8,
            seq as u8,
            0,
            0,
            0,
            160,
            0,
            0,
            0,
            7,
        ];
        p.extend_from_slice(&[0xd5; 160]);
        p
    }

    #[test]
    fn a_packet_crosses_from_one_leg_key_to_another() {
        // Leg A encrypts with key 1; the gateway re-encrypts for leg B with
        // key 2 (SRTP↔SRTP with other keys); B decrypts.
        let suite = SrtpSuite::AesCm128HmacSha1_80;
        let gcm = SrtpSuite::AeadAes128Gcm;
        let mut a_sends = SrtpProtect::new(ctx(suite, 1));
        let mut gateway = Chain(vec![
            Box::new(SrtpUnprotect::new(ctx(suite, 1))),
            Box::new(SrtpProtect::new(ctx(gcm, 2))),
        ]);
        let mut b_receives = SrtpUnprotect::new(ctx(gcm, 2));
        for seq in 0..5u16 {
            let plain = rtp(seq);
            let mut buf = vec![0u8; 2048];
            buf[..plain.len()].copy_from_slice(&plain);
            let n = a_sends
                .transform(PacketClass::Rtp, &mut buf, plain.len())
                .unwrap();
            assert_ne!(buf[12..172], plain[12..], "leg A's packet is encrypted");
            let n = gateway.transform(PacketClass::Rtp, &mut buf, n).unwrap();
            let n = b_receives.transform(PacketClass::Rtp, &mut buf, n).unwrap();
            assert_eq!(&buf[..n], &plain[..]);
        }
        assert_eq!(b_receives.stats().ok, 5);
    }

    #[test]
    fn forged_and_replayed_packets_are_dropped_and_counted() {
        let suite = SrtpSuite::AesCm128HmacSha1_32;
        let mut tx = SrtpProtect::new(ctx(suite, 3));
        let mut rx = SrtpUnprotect::new(ctx(suite, 3));
        let plain = rtp(9);
        let mut buf = vec![0u8; 2048];
        buf[..plain.len()].copy_from_slice(&plain);
        let n = tx
            .transform(PacketClass::Rtp, &mut buf, plain.len())
            .unwrap();
        let sent = buf[..n].to_vec();
        assert!(rx.transform(PacketClass::Rtp, &mut buf, n).is_some());
        buf[..n].copy_from_slice(&sent);
        assert!(
            rx.transform(PacketClass::Rtp, &mut buf, n).is_none(),
            "replay"
        );
        let mut forged = sent.clone();
        forged[20] ^= 1;
        forged[3] = 10;
        buf[..n].copy_from_slice(&forged);
        assert!(
            rx.transform(PacketClass::Rtp, &mut buf, n).is_none(),
            "forgery"
        );
        assert_eq!(
            (rx.stats().ok, rx.stats().replayed, rx.stats().auth_failed),
            (1, 1, 1)
        );
        // A plain packet sent to an encrypted leg's port is not audio either.
        buf[..plain.len()].copy_from_slice(&plain);
        assert!(rx
            .transform(PacketClass::Rtp, &mut buf, plain.len())
            .is_none());
    }
}
