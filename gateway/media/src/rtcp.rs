//! RTCP (RFC 3550 §6) compound packets and the feedback messages of
//! RFC 4585 / RFC 5104 that a video gateway must understand: PLI and FIR
//! (keyframe requests), generic NACK, and REMB (bandwidth estimate).
//!
//! Parsing is strict about structure (version, lengths, padding, counts)
//! and never trusts a count or length field: every item is checked against
//! the bytes actually present, so allocation is bounded by the datagram.
//! Packet types the gateway does not act on (APP, XR, other feedback) are
//! returned as [`RtcpPacket::Other`] so a compound packet still parses.
//!
//! Reduced-size RTCP (RFC 5506, used by WebRTC) is accepted: a compound
//! packet need not start with SR/RR. [`is_full_compound`] tells whether it
//! does.

use std::time::Duration;

pub const PT_SR: u8 = 200;
pub const PT_RR: u8 = 201;
pub const PT_SDES: u8 = 202;
pub const PT_BYE: u8 = 203;
pub const PT_APP: u8 = 204;
pub const PT_RTPFB: u8 = 205;
pub const PT_PSFB: u8 = 206;

/// RTPFB FMT values (RFC 4585 §6.2).
pub const FMT_NACK: u8 = 1;
/// PSFB FMT values (RFC 4585 §6.3, RFC 5104 §4.3).
pub const FMT_PLI: u8 = 1;
pub const FMT_FIR: u8 = 4;
pub const FMT_AFB: u8 = 15;

/// SDES item types (RFC 3550 §6.5).
pub const SDES_END: u8 = 0;
pub const SDES_CNAME: u8 = 1;
pub const SDES_NAME: u8 = 2;
pub const SDES_TOOL: u8 = 6;

const HEADER_LEN: usize = 4;
const REPORT_BLOCK_LEN: usize = 24;
const MAX_COUNT: usize = 31;

/// Why an RTCP datagram or packet was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RtcpError {
    #[error("RTCP packet of {0} bytes is shorter than its header")]
    TooShort(usize),
    #[error("RTCP version is {0}, expected 2")]
    BadVersion(u8),
    #[error("length field says {declared} bytes but only {available} remain")]
    LengthOverrun { declared: usize, available: usize },
    #[error("padding of {padding} bytes in a packet of {len} bytes")]
    BadPadding { padding: usize, len: usize },
    #[error("padding bit set on a packet that is not the last of the compound")]
    PaddingNotLast,
    #[error("packet type {packet_type} with count {count} needs {needed} bytes, has {len}")]
    CountOverrun {
        packet_type: u8,
        count: usize,
        needed: usize,
        len: usize,
    },
    #[error("SDES chunk is malformed")]
    BadSdes,
    #[error("feedback message {packet_type}/{fmt} is malformed")]
    BadFeedback { packet_type: u8, fmt: u8 },
    #[error("{0} items do not fit the 5-bit count field")]
    TooManyItems(usize),
    #[error("text of {0} bytes does not fit an 8-bit length")]
    TextTooLong(usize),
    #[error("compound packet is empty")]
    Empty,
}

/// One reception report block (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportBlock {
    pub ssrc: u32,
    /// Fraction lost since the last report, in 1/256.
    pub fraction_lost: u8,
    /// Cumulative packets lost, 24-bit signed (duplicates can make it < 0).
    pub cumulative_lost: i32,
    pub extended_highest_seq: u32,
    /// Interarrival jitter in timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the NTP time of the last SR received, 0 if none.
    pub last_sr: u32,
    /// Delay since that SR, in 1/65536 s.
    pub delay_since_last_sr: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderReport {
    pub ssrc: u32,
    /// 64-bit NTP timestamp (seconds since 1900 in the upper 32 bits).
    pub ntp_timestamp: u64,
    pub rtp_timestamp: u32,
    pub packet_count: u32,
    pub octet_count: u32,
    pub reports: Vec<ReportBlock>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiverReport {
    pub ssrc: u32,
    pub reports: Vec<ReportBlock>,
}

/// One SDES item. Text is kept lossily as UTF-8 (RFC 3550 says UTF-8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdesItem {
    pub kind: u8,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdesChunk {
    pub ssrc: u32,
    pub items: Vec<SdesItem>,
}

impl SdesChunk {
    /// A chunk with just a CNAME, the one item every source must send.
    pub fn cname(ssrc: u32, cname: &str) -> Self {
        SdesChunk {
            ssrc,
            items: vec![SdesItem {
                kind: SDES_CNAME,
                text: cname.to_string(),
            }],
        }
    }

    pub fn get_cname(&self) -> Option<&str> {
        self.items
            .iter()
            .find(|i| i.kind == SDES_CNAME)
            .map(|i| i.text.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bye {
    pub ssrcs: Vec<u32>,
    pub reason: Option<String>,
}

/// One FIR request (RFC 5104 §4.3.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirEntry {
    pub ssrc: u32,
    /// Incremented by the requester for each new request.
    pub seq_nr: u8,
}

/// One generic NACK FCI (RFC 4585 §6.2.1): `pid` lost, plus the bit mask
/// of the 16 following sequence numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NackPair {
    pub pid: u16,
    pub blp: u16,
}

/// A parsed RTCP packet of a compound packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RtcpPacket {
    SenderReport(SenderReport),
    ReceiverReport(ReceiverReport),
    SourceDescription(Vec<SdesChunk>),
    Bye(Bye),
    /// Picture Loss Indication: send a keyframe.
    Pli {
        sender_ssrc: u32,
        media_ssrc: u32,
    },
    /// Full Intra Request.
    Fir {
        sender_ssrc: u32,
        entries: Vec<FirEntry>,
    },
    Nack {
        sender_ssrc: u32,
        media_ssrc: u32,
        pairs: Vec<NackPair>,
    },
    /// Receiver Estimated Max Bitrate (draft-alvestrand-rmcat-remb).
    Remb {
        sender_ssrc: u32,
        bitrate_bps: u64,
        ssrcs: Vec<u32>,
    },
    /// APP, XR, and feedback types not listed above: skipped.
    Other {
        packet_type: u8,
        count: u8,
    },
}

impl NackPair {
    /// The lost sequence numbers this pair names.
    pub fn lost(&self) -> impl Iterator<Item = u16> + '_ {
        std::iter::once(self.pid).chain(
            (0..16u16)
                .filter(|b| self.blp & (1 << b) != 0)
                .map(|b| self.pid.wrapping_add(b + 1)),
        )
    }
}

/// Group lost sequence numbers into NACK pairs (each pair covers 17).
pub fn nack_pairs(lost: &[u16]) -> Vec<NackPair> {
    let mut out: Vec<NackPair> = Vec::new();
    for &seq in lost {
        if let Some(last) = out.last_mut() {
            let d = seq.wrapping_sub(last.pid);
            if d == 0 {
                continue;
            }
            if (1..=16).contains(&d) {
                last.blp |= 1 << (d - 1);
                continue;
            }
        }
        out.push(NackPair { pid: seq, blp: 0 });
    }
    out
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Parse a compound RTCP datagram into its packets.
///
/// The whole datagram is rejected if any part is malformed (RFC 3550 A.2):
/// a peer that gets lengths wrong cannot be trusted for the rest.
pub fn parse_compound(datagram: &[u8]) -> Result<Vec<RtcpPacket>, RtcpError> {
    if datagram.is_empty() {
        return Err(RtcpError::Empty);
    }
    let mut out = Vec::new();
    let mut rest = datagram;
    while !rest.is_empty() {
        if rest.len() < HEADER_LEN {
            return Err(RtcpError::TooShort(rest.len()));
        }
        let version = rest[0] >> 6;
        if version != 2 {
            return Err(RtcpError::BadVersion(version));
        }
        let declared = (usize::from(be16(rest, 2)) + 1) * 4;
        if declared > rest.len() {
            return Err(RtcpError::LengthOverrun {
                declared,
                available: rest.len(),
            });
        }
        let (packet, tail) = rest.split_at(declared);
        let padded = packet[0] & 0x20 != 0;
        let body_end = if padded {
            if !tail.is_empty() {
                return Err(RtcpError::PaddingNotLast);
            }
            let padding = usize::from(packet[declared - 1]);
            if padding == 0 || padding > declared - HEADER_LEN {
                return Err(RtcpError::BadPadding {
                    padding,
                    len: declared,
                });
            }
            declared - padding
        } else {
            declared
        };
        out.push(parse_one(&packet[..body_end])?);
        rest = tail;
    }
    Ok(out)
}

/// Does the compound packet follow RFC 3550 §6.1 (SR or RR first)? Peers
/// that did not negotiate RFC 5506 expect that.
pub fn is_full_compound(packets: &[RtcpPacket]) -> bool {
    matches!(
        packets.first(),
        Some(RtcpPacket::SenderReport(_) | RtcpPacket::ReceiverReport(_))
    )
}

/// `p`: header and body of one packet, padding removed.
fn parse_one(p: &[u8]) -> Result<RtcpPacket, RtcpError> {
    let count = usize::from(p[0] & 0x1f);
    let packet_type = p[1];
    let need = |needed: usize| -> Result<(), RtcpError> {
        if needed > p.len() {
            Err(RtcpError::CountOverrun {
                packet_type,
                count,
                needed,
                len: p.len(),
            })
        } else {
            Ok(())
        }
    };
    match packet_type {
        PT_SR => {
            need(28 + count * REPORT_BLOCK_LEN)?;
            Ok(RtcpPacket::SenderReport(SenderReport {
                ssrc: be32(p, 4),
                ntp_timestamp: (u64::from(be32(p, 8)) << 32) | u64::from(be32(p, 12)),
                rtp_timestamp: be32(p, 16),
                packet_count: be32(p, 20),
                octet_count: be32(p, 24),
                reports: parse_blocks(&p[28..], count),
            }))
        }
        PT_RR => {
            need(8 + count * REPORT_BLOCK_LEN)?;
            Ok(RtcpPacket::ReceiverReport(ReceiverReport {
                ssrc: be32(p, 4),
                reports: parse_blocks(&p[8..], count),
            }))
        }
        PT_SDES => parse_sdes(&p[HEADER_LEN..], count).map(RtcpPacket::SourceDescription),
        PT_BYE => {
            need(HEADER_LEN + 4 * count)?;
            let ssrcs = (0..count).map(|i| be32(p, HEADER_LEN + 4 * i)).collect();
            let after = HEADER_LEN + 4 * count;
            let reason = match p.get(after) {
                None => None,
                Some(&len) => {
                    let text = p.get(after + 1..after + 1 + usize::from(len)).ok_or(
                        RtcpError::CountOverrun {
                            packet_type,
                            count,
                            needed: after + 1 + usize::from(len),
                            len: p.len(),
                        },
                    )?;
                    Some(String::from_utf8_lossy(text).into_owned())
                }
            };
            Ok(RtcpPacket::Bye(Bye { ssrcs, reason }))
        }
        PT_RTPFB | PT_PSFB => parse_feedback(p, packet_type, count as u8),
        _ => Ok(RtcpPacket::Other {
            packet_type,
            count: count as u8,
        }),
    }
}

fn parse_blocks(b: &[u8], count: usize) -> Vec<ReportBlock> {
    (0..count)
        .map(|i| {
            let o = i * REPORT_BLOCK_LEN;
            let lost24 = be32(b, o + 4) & 0x00ff_ffff;
            // Sign-extend the 24-bit field.
            let cumulative_lost = ((lost24 << 8) as i32) >> 8;
            ReportBlock {
                ssrc: be32(b, o),
                fraction_lost: b[o + 4],
                cumulative_lost,
                extended_highest_seq: be32(b, o + 8),
                jitter: be32(b, o + 12),
                last_sr: be32(b, o + 16),
                delay_since_last_sr: be32(b, o + 20),
            }
        })
        .collect()
}

fn parse_sdes(mut b: &[u8], count: usize) -> Result<Vec<SdesChunk>, RtcpError> {
    let mut chunks = Vec::with_capacity(count.min(b.len() / 8));
    for _ in 0..count {
        if b.len() < 4 {
            return Err(RtcpError::BadSdes);
        }
        let ssrc = be32(b, 0);
        let mut pos = 4;
        let mut items = Vec::new();
        loop {
            let kind = *b.get(pos).ok_or(RtcpError::BadSdes)?;
            if kind == SDES_END {
                pos += 1;
                break;
            }
            let len = usize::from(*b.get(pos + 1).ok_or(RtcpError::BadSdes)?);
            let text = b.get(pos + 2..pos + 2 + len).ok_or(RtcpError::BadSdes)?;
            items.push(SdesItem {
                kind,
                text: String::from_utf8_lossy(text).into_owned(),
            });
            pos += 2 + len;
        }
        // The end item is followed by null padding to the next word.
        let chunk_len = pos.next_multiple_of(4);
        if chunk_len > b.len() {
            return Err(RtcpError::BadSdes);
        }
        chunks.push(SdesChunk { ssrc, items });
        b = &b[chunk_len..];
    }
    Ok(chunks)
}

fn parse_feedback(p: &[u8], packet_type: u8, fmt: u8) -> Result<RtcpPacket, RtcpError> {
    let bad = RtcpError::BadFeedback { packet_type, fmt };
    if p.len() < 12 {
        return Err(bad);
    }
    let sender_ssrc = be32(p, 4);
    let media_ssrc = be32(p, 8);
    let fci = &p[12..];
    match (packet_type, fmt) {
        (PT_RTPFB, FMT_NACK) => {
            if fci.is_empty() || fci.len() % 4 != 0 {
                return Err(bad);
            }
            let pairs = fci
                .chunks_exact(4)
                .map(|c| NackPair {
                    pid: be16(c, 0),
                    blp: be16(c, 2),
                })
                .collect();
            Ok(RtcpPacket::Nack {
                sender_ssrc,
                media_ssrc,
                pairs,
            })
        }
        (PT_PSFB, FMT_PLI) => Ok(RtcpPacket::Pli {
            sender_ssrc,
            media_ssrc,
        }),
        (PT_PSFB, FMT_FIR) => {
            if fci.is_empty() || fci.len() % 8 != 0 {
                return Err(bad);
            }
            let entries = fci
                .chunks_exact(8)
                .map(|c| FirEntry {
                    ssrc: be32(c, 0),
                    seq_nr: c[4],
                })
                .collect();
            Ok(RtcpPacket::Fir {
                sender_ssrc,
                entries,
            })
        }
        (PT_PSFB, FMT_AFB) if fci.starts_with(b"REMB") => {
            if fci.len() < 8 {
                return Err(bad);
            }
            let num = usize::from(fci[4]);
            if fci.len() < 8 + 4 * num {
                return Err(bad);
            }
            let exp = u32::from(fci[5] >> 2);
            let mantissa = (u64::from(fci[5] & 0x03) << 16) | u64::from(be16(fci, 6));
            // 18-bit mantissa shifted by up to 63 would overflow; saturate.
            let bitrate_bps = mantissa.checked_shl(exp).filter(|v| v >> exp == mantissa);
            let ssrcs = (0..num).map(|i| be32(fci, 8 + 4 * i)).collect();
            Ok(RtcpPacket::Remb {
                sender_ssrc,
                bitrate_bps: bitrate_bps.unwrap_or(u64::MAX),
                ssrcs,
            })
        }
        _ => Ok(RtcpPacket::Other {
            packet_type,
            count: fmt,
        }),
    }
}

fn write_header(out: &mut Vec<u8>, count: usize, packet_type: u8) -> usize {
    let start = out.len();
    out.push(0x80 | (count as u8 & 0x1f));
    out.push(packet_type);
    out.extend_from_slice(&[0, 0]);
    start
}

/// Pad to a word boundary with zeros and fill in the length field.
fn finish(out: &mut Vec<u8>, start: usize) {
    while (out.len() - start) % 4 != 0 {
        out.push(0);
    }
    let words = ((out.len() - start) / 4 - 1) as u16;
    out[start + 2..start + 4].copy_from_slice(&words.to_be_bytes());
}

fn check_count(n: usize) -> Result<(), RtcpError> {
    if n > MAX_COUNT {
        Err(RtcpError::TooManyItems(n))
    } else {
        Ok(())
    }
}

fn write_blocks(out: &mut Vec<u8>, blocks: &[ReportBlock]) {
    for b in blocks {
        out.extend_from_slice(&b.ssrc.to_be_bytes());
        let lost = b.cumulative_lost.clamp(-0x80_0000, 0x7f_ffff) as u32 & 0x00ff_ffff;
        out.extend_from_slice(&((u32::from(b.fraction_lost) << 24) | lost).to_be_bytes());
        out.extend_from_slice(&b.extended_highest_seq.to_be_bytes());
        out.extend_from_slice(&b.jitter.to_be_bytes());
        out.extend_from_slice(&b.last_sr.to_be_bytes());
        out.extend_from_slice(&b.delay_since_last_sr.to_be_bytes());
    }
}

impl RtcpPacket {
    /// Append this packet to `out` (no padding bit: word alignment is by
    /// zero-filled fields as RFC 3550 does for SDES and BYE).
    /// [`RtcpPacket::Other`] writes nothing: its body was not kept.
    pub fn write(&self, out: &mut Vec<u8>) -> Result<(), RtcpError> {
        match self {
            RtcpPacket::SenderReport(sr) => {
                check_count(sr.reports.len())?;
                let s = write_header(out, sr.reports.len(), PT_SR);
                out.extend_from_slice(&sr.ssrc.to_be_bytes());
                out.extend_from_slice(&sr.ntp_timestamp.to_be_bytes());
                out.extend_from_slice(&sr.rtp_timestamp.to_be_bytes());
                out.extend_from_slice(&sr.packet_count.to_be_bytes());
                out.extend_from_slice(&sr.octet_count.to_be_bytes());
                write_blocks(out, &sr.reports);
                finish(out, s);
            }
            RtcpPacket::ReceiverReport(rr) => {
                check_count(rr.reports.len())?;
                let s = write_header(out, rr.reports.len(), PT_RR);
                out.extend_from_slice(&rr.ssrc.to_be_bytes());
                write_blocks(out, &rr.reports);
                finish(out, s);
            }
            RtcpPacket::SourceDescription(chunks) => {
                check_count(chunks.len())?;
                for item in chunks.iter().flat_map(|c| &c.items) {
                    if item.text.len() > 255 {
                        return Err(RtcpError::TextTooLong(item.text.len()));
                    }
                }
                let s = write_header(out, chunks.len(), PT_SDES);
                for c in chunks {
                    let cs = out.len();
                    out.extend_from_slice(&c.ssrc.to_be_bytes());
                    for item in &c.items {
                        out.push(item.kind);
                        out.push(item.text.len() as u8);
                        out.extend_from_slice(item.text.as_bytes());
                    }
                    // At least one null octet ends the item list.
                    out.push(SDES_END);
                    while (out.len() - cs) % 4 != 0 {
                        out.push(0);
                    }
                }
                finish(out, s);
            }
            RtcpPacket::Bye(bye) => {
                check_count(bye.ssrcs.len())?;
                if let Some(r) = &bye.reason {
                    if r.len() > 255 {
                        return Err(RtcpError::TextTooLong(r.len()));
                    }
                }
                let s = write_header(out, bye.ssrcs.len(), PT_BYE);
                for ssrc in &bye.ssrcs {
                    out.extend_from_slice(&ssrc.to_be_bytes());
                }
                if let Some(r) = &bye.reason {
                    out.push(r.len() as u8);
                    out.extend_from_slice(r.as_bytes());
                }
                finish(out, s);
            }
            RtcpPacket::Pli {
                sender_ssrc,
                media_ssrc,
            } => {
                let s = write_header(out, usize::from(FMT_PLI), PT_PSFB);
                out.extend_from_slice(&sender_ssrc.to_be_bytes());
                out.extend_from_slice(&media_ssrc.to_be_bytes());
                finish(out, s);
            }
            RtcpPacket::Fir {
                sender_ssrc,
                entries,
            } => {
                let s = write_header(out, usize::from(FMT_FIR), PT_PSFB);
                out.extend_from_slice(&sender_ssrc.to_be_bytes());
                // RFC 5104 §4.3.1.2: media source SSRC unused, set to 0.
                out.extend_from_slice(&0u32.to_be_bytes());
                for e in entries {
                    out.extend_from_slice(&e.ssrc.to_be_bytes());
                    out.extend_from_slice(&[e.seq_nr, 0, 0, 0]);
                }
                finish(out, s);
            }
            RtcpPacket::Nack {
                sender_ssrc,
                media_ssrc,
                pairs,
            } => {
                let s = write_header(out, usize::from(FMT_NACK), PT_RTPFB);
                out.extend_from_slice(&sender_ssrc.to_be_bytes());
                out.extend_from_slice(&media_ssrc.to_be_bytes());
                for p in pairs {
                    out.extend_from_slice(&p.pid.to_be_bytes());
                    out.extend_from_slice(&p.blp.to_be_bytes());
                }
                finish(out, s);
            }
            RtcpPacket::Remb {
                sender_ssrc,
                bitrate_bps,
                ssrcs,
            } => {
                if ssrcs.len() > 255 {
                    return Err(RtcpError::TooManyItems(ssrcs.len()));
                }
                let s = write_header(out, usize::from(FMT_AFB), PT_PSFB);
                out.extend_from_slice(&sender_ssrc.to_be_bytes());
                out.extend_from_slice(&0u32.to_be_bytes());
                out.extend_from_slice(b"REMB");
                let mut exp = 0u32;
                let mut mantissa = *bitrate_bps;
                while mantissa >= 1 << 18 {
                    mantissa >>= 1;
                    exp += 1;
                }
                out.push(ssrcs.len() as u8);
                out.push(((exp as u8) << 2) | ((mantissa >> 16) as u8 & 0x03));
                out.extend_from_slice(&(mantissa as u16).to_be_bytes());
                for ssrc in ssrcs {
                    out.extend_from_slice(&ssrc.to_be_bytes());
                }
                finish(out, s);
            }
            RtcpPacket::Other { .. } => {}
        }
        Ok(())
    }
}

/// Serialize packets into one compound datagram.
pub fn build_compound(packets: &[RtcpPacket]) -> Result<Vec<u8>, RtcpError> {
    let mut out = Vec::with_capacity(128);
    for p in packets {
        p.write(&mut out)?;
    }
    if out.is_empty() {
        return Err(RtcpError::Empty);
    }
    Ok(out)
}

/// A sender report with its report blocks.
pub fn build_sr(sr: &SenderReport) -> Result<Vec<u8>, RtcpError> {
    build_compound(std::slice::from_ref(&RtcpPacket::SenderReport(sr.clone())))
}

/// A receiver report (an empty one is what a receive-only leg sends).
pub fn build_rr(ssrc: u32, reports: &[ReportBlock]) -> Result<Vec<u8>, RtcpError> {
    build_compound(&[RtcpPacket::ReceiverReport(ReceiverReport {
        ssrc,
        reports: reports.to_vec(),
    })])
}

pub fn build_pli(sender_ssrc: u32, media_ssrc: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(12);
    let _ = RtcpPacket::Pli {
        sender_ssrc,
        media_ssrc,
    }
    .write(&mut out);
    out
}

pub fn build_fir(sender_ssrc: u32, media_ssrc: u32, seq_nr: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(20);
    let _ = RtcpPacket::Fir {
        sender_ssrc,
        entries: vec![FirEntry {
            ssrc: media_ssrc,
            seq_nr,
        }],
    }
    .write(&mut out);
    out
}

pub fn build_bye(ssrcs: &[u32], reason: Option<&str>) -> Result<Vec<u8>, RtcpError> {
    build_compound(&[RtcpPacket::Bye(Bye {
        ssrcs: ssrcs.to_vec(),
        reason: reason.map(str::to_string),
    })])
}

/// Seconds between the NTP epoch (1900) and the Unix epoch (1970).
pub const NTP_UNIX_OFFSET_SECS: u64 = 2_208_988_800;

/// 64-bit NTP timestamp for a time since the Unix epoch (the caller reads
/// the wall clock; this module does not).
pub fn ntp_from_unix(since_epoch: Duration) -> u64 {
    let secs = since_epoch.as_secs().wrapping_add(NTP_UNIX_OFFSET_SECS);
    let frac = (u64::from(since_epoch.subsec_nanos()) << 32) / 1_000_000_000;
    (secs << 32) | frac
}

/// The middle 32 bits of an NTP timestamp, as carried in LSR (16.16 fixed
/// point seconds).
pub fn ntp_middle32(ntp: u64) -> u32 {
    (ntp >> 16) as u32
}

/// A duration as 1/65536 s units, the unit of DLSR, saturating.
pub fn duration_to_ntp_short(d: Duration) -> u32 {
    let v = (d.as_secs() << 16) | ((u64::from(d.subsec_nanos()) << 16) / 1_000_000_000);
    v.min(u64::from(u32::MAX)) as u32
}

/// 1/65536 s units back to a duration.
pub fn ntp_short_to_duration(v: u32) -> Duration {
    Duration::from_secs(u64::from(v >> 16))
        + Duration::from_nanos((u64::from(v & 0xffff) * 1_000_000_000) >> 16)
}
