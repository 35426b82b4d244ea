//! Classification and minimal validation of packets arriving on a media port.
//!
//! The relay does not need to understand RTP beyond what it takes to route a
//! packet: is it RTP or RTCP, and which SSRC sent it (the SSRC is the only
//! thing that lets us tell a NAT rebinding from a stranger). Anything that is
//! not plausibly RTP/RTCP version 2 is rejected here so that later stages can
//! index the header without bounds worries.

use std::fmt;

/// Size of the fixed RTP header (RFC 3550 §5.1).
pub const RTP_HEADER_LEN: usize = 12;
/// An RTCP packet is at least its 4-byte header plus the sender SSRC.
pub const RTCP_MIN_LEN: usize = 8;

/// RTP or RTCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketClass {
    Rtp,
    Rtcp,
}

/// What the relay learned from a packet header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketInfo {
    pub class: PacketClass,
    /// RTP: the stream SSRC. RTCP: the SSRC of the packet sender (first
    /// packet of a compound packet).
    pub ssrc: u32,
}

/// Why a datagram was not accepted as RTP/RTCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MalformedPacket {
    #[error("datagram of {0} bytes is shorter than an RTP/RTCP header")]
    TooShort(usize),
    #[error("version field is {0}, expected 2")]
    BadVersion(u8),
    #[error("CSRC list of {csrc_count} entries does not fit in {len} bytes")]
    CsrcOverrun { csrc_count: u8, len: usize },
}

/// Is this second header byte an RTCP packet type under RFC 5761 §4?
///
/// With rtcp-mux the RTP payload types 64–95 are avoided precisely so that
/// the second byte (marker bit + payload type) of RTP never falls into
/// 192–223, where the RTCP packet types (SR=200, RR=201, …) live.
#[inline]
pub fn is_rtcp_type_byte(second_byte: u8) -> bool {
    (192..=223).contains(&second_byte)
}

/// Classify and validate a datagram.
///
/// `on_rtcp_port`: the packet arrived on the separate RTCP port, so it can
/// only be RTCP. `rtcp_mux`: RTP and RTCP share the RTP port and are told
/// apart by [`is_rtcp_type_byte`]. Without mux a packet on the RTP port is
/// always taken as RTP (RFC 5761 demultiplexing applies only when
/// negotiated).
pub fn inspect(
    packet: &[u8],
    on_rtcp_port: bool,
    rtcp_mux: bool,
) -> Result<PacketInfo, MalformedPacket> {
    if packet.len() < RTCP_MIN_LEN {
        return Err(MalformedPacket::TooShort(packet.len()));
    }
    let version = packet[0] >> 6;
    if version != 2 {
        return Err(MalformedPacket::BadVersion(version));
    }
    let rtcp = on_rtcp_port || (rtcp_mux && is_rtcp_type_byte(packet[1]));
    if rtcp {
        let ssrc = u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]);
        return Ok(PacketInfo {
            class: PacketClass::Rtcp,
            ssrc,
        });
    }
    if packet.len() < RTP_HEADER_LEN {
        return Err(MalformedPacket::TooShort(packet.len()));
    }
    let csrc_count = packet[0] & 0x0f;
    if RTP_HEADER_LEN + 4 * usize::from(csrc_count) > packet.len() {
        return Err(MalformedPacket::CsrcOverrun {
            csrc_count,
            len: packet.len(),
        });
    }
    let ssrc = u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]);
    Ok(PacketInfo {
        class: PacketClass::Rtp,
        ssrc,
    })
}

impl fmt::Display for PacketClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PacketClass::Rtp => "rtp",
            PacketClass::Rtcp => "rtcp",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rtp(pt_byte: u8, ssrc: u32) -> Vec<u8> {
        let mut p = vec![0x80, pt_byte, 0, 1, 0, 0, 0, 160];
        p.extend_from_slice(&ssrc.to_be_bytes());
        p.extend_from_slice(&[0xd5; 160]);
        p
    }

    #[test]
    fn rtp_on_rtp_port() {
        let info = inspect(&rtp(0, 0xdead_beef), false, false).unwrap();
        assert_eq!(
            info,
            PacketInfo {
                class: PacketClass::Rtp,
                ssrc: 0xdead_beef
            }
        );
    }

    #[test]
    fn mux_demux_by_second_byte() {
        // SR with sender SSRC 7.
        let sr = [0x80, 200, 0, 6, 0, 0, 0, 7, 0, 0, 0, 0];
        assert_eq!(
            inspect(&sr, false, true).unwrap(),
            PacketInfo {
                class: PacketClass::Rtcp,
                ssrc: 7
            }
        );
        // Without mux the same bytes on the RTP port are RTP (PT 72 + marker).
        assert_eq!(inspect(&sr, false, false).unwrap().class, PacketClass::Rtp);
        // Boundaries of the RFC 5761 range.
        assert!(!is_rtcp_type_byte(191));
        assert!(is_rtcp_type_byte(192));
        assert!(is_rtcp_type_byte(223));
        assert!(!is_rtcp_type_byte(224));
        // Marker bit set with PT 96 is RTP.
        assert_eq!(
            inspect(&rtp(0x80 | 96, 1), false, true).unwrap().class,
            PacketClass::Rtp
        );
    }

    #[test]
    fn rtcp_port_takes_rtcp() {
        let rr = [0x81, 201, 0, 7, 0, 0, 0, 9];
        assert_eq!(
            inspect(&rr, true, false).unwrap(),
            PacketInfo {
                class: PacketClass::Rtcp,
                ssrc: 9
            }
        );
    }

    #[test]
    fn garbage_is_rejected() {
        assert_eq!(
            inspect(&[], false, false),
            Err(MalformedPacket::TooShort(0))
        );
        assert_eq!(
            inspect(&[0x80, 0, 0], false, true),
            Err(MalformedPacket::TooShort(3))
        );
        assert_eq!(
            inspect(&[0x40; 20], false, false),
            Err(MalformedPacket::BadVersion(1))
        );
        // STUN binding request starts with 0x00 0x01.
        assert_eq!(
            inspect(
                &[0x00, 0x01, 0, 0, 0x21, 0x12, 0xa4, 0x42, 0, 0, 0, 0],
                false,
                false
            ),
            Err(MalformedPacket::BadVersion(0))
        );
        // 10 bytes: fine as RTCP, too short as RTP.
        assert_eq!(
            inspect(&[0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0], false, false),
            Err(MalformedPacket::TooShort(10))
        );
        // CC=15 needs 72 bytes.
        let mut p = rtp(0, 1);
        p[0] = 0x8f;
        p.truncate(40);
        assert_eq!(
            inspect(&p, false, false),
            Err(MalformedPacket::CsrcOverrun {
                csrc_count: 15,
                len: 40
            })
        );
    }

    #[test]
    fn never_panics_on_any_short_input() {
        for len in 0..64usize {
            for first in [0u8, 0x80, 0x8f, 0xbf, 0xff] {
                let mut p = vec![0xc8u8; len];
                if let Some(b) = p.first_mut() {
                    *b = first;
                }
                for (port, mux) in [(false, false), (false, true), (true, false)] {
                    let _ = inspect(&p, port, mux);
                }
            }
        }
    }
}
