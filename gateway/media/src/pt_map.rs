//! Payload-type rewriting for a forwarded stream whose two legs number
//! the same format differently (RFC 3264 lets an answerer pick its own
//! dynamic payload type). Only the RTP header's PT bits change: the
//! payload, the marker bit and RTCP pass untouched, so forwarding stays
//! free of decoding.

use crate::packet::PacketClass;
use crate::transform::PacketTransform;

/// Rewrites the payload types listed to the receiver's numbers; any other
/// payload type passes unchanged.
#[derive(Debug, Clone)]
pub struct PayloadTypeMap {
    /// Indexed by the 7-bit payload type; `NONE` leaves it as it is.
    to: [u8; 128],
}

const NONE: u8 = u8::MAX;

impl PayloadTypeMap {
    /// `pairs` are (payload type as it arrives, payload type to send).
    /// Payload types above 127 cannot be on the wire and are ignored.
    pub fn new(pairs: &[(u8, u8)]) -> PayloadTypeMap {
        let mut to = [NONE; 128];
        for &(from, dest) in pairs {
            if from < 128 && dest < 128 {
                to[usize::from(from)] = dest;
            }
        }
        PayloadTypeMap { to }
    }

    /// Whether the map changes nothing (every pair maps a type to itself).
    pub fn is_identity(&self) -> bool {
        self.to
            .iter()
            .enumerate()
            .all(|(pt, &dest)| dest == NONE || usize::from(dest) == pt)
    }
}

impl PacketTransform for PayloadTypeMap {
    #[inline]
    fn transform(&mut self, class: PacketClass, buf: &mut [u8], len: usize) -> Option<usize> {
        if class == PacketClass::Rtp && len >= 12 {
            let byte = buf[1];
            let dest = self.to[usize::from(byte & 0x7f)];
            if dest != NONE {
                buf[1] = (byte & 0x80) | dest;
            }
        }
        Some(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rtp(pt: u8, marker: bool) -> Vec<u8> {
        let mut p = vec![0x80, pt | if marker { 0x80 } else { 0 }, 0, 1];
        p.extend_from_slice(&[0; 8]);
        p.extend_from_slice(b"payload");
        p
    }

    #[test]
    fn listed_types_are_renumbered_and_the_marker_kept() {
        let mut map = PayloadTypeMap::new(&[(96, 97), (97, 97)]);
        for (pt, marker, want) in [
            (96, true, 97),
            (96, false, 97),
            (97, true, 97),
            (0, true, 0),
        ] {
            let mut p = rtp(pt, marker);
            let len = p.len();
            assert_eq!(map.transform(PacketClass::Rtp, &mut p, len), Some(len));
            assert_eq!(p[1] & 0x7f, want, "pt {pt}");
            assert_eq!(p[1] & 0x80 != 0, marker, "marker of pt {pt}");
            assert_eq!(&p[12..], b"payload");
        }
    }

    #[test]
    fn rtcp_and_runts_pass_unchanged() {
        let mut map = PayloadTypeMap::new(&[(72, 1), (96, 97)]);
        // An RTCP SR's packet type 200 has the PT bits of 72 (200 & 0x7f).
        let mut sr = vec![0x80, 200, 0, 6, 1, 2, 3, 4];
        let before = sr.clone();
        assert_eq!(map.transform(PacketClass::Rtcp, &mut sr, 8), Some(8));
        assert_eq!(sr, before);
        let mut runt = vec![0x80, 96, 0];
        assert_eq!(map.transform(PacketClass::Rtp, &mut runt, 3), Some(3));
        assert_eq!(runt[1], 96);
    }

    #[test]
    fn identity_is_recognised_and_bad_types_ignored() {
        assert!(PayloadTypeMap::new(&[(96, 96), (0, 0)]).is_identity());
        assert!(PayloadTypeMap::new(&[(200, 5), (5, 200)]).is_identity());
        assert!(!PayloadTypeMap::new(&[(96, 97)]).is_identity());
    }
}
