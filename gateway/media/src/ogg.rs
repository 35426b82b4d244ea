//! Ogg/Opus recording files: an Ogg page writer (RFC 3533) carrying an
//! Opus stream (RFC 7845), and a minimal page reader to check them.
//!
//! The writer is the one place in this crate that writes to a
//! `std::io::Write`; it does no other I/O and reads no clock. Granule
//! positions count 48 kHz samples, as RFC 7845 §4 requires whatever the
//! input rate.

use std::io::{self, Write};

/// Flags of the page header type byte.
pub const FLAG_CONTINUED: u8 = 0x01;
pub const FLAG_BOS: u8 = 0x02;
pub const FLAG_EOS: u8 = 0x04;

const CAPTURE: &[u8; 4] = b"OggS";
const PAGE_HEADER_LEN: usize = 27;
const MAX_SEGMENTS: usize = 255;
/// Granule position of a page on which no packet ends.
pub const NO_GRANULE: u64 = u64::MAX;

/// CRC-32 of Ogg: polynomial 0x04c11db7, MSB first, initial value 0, no
/// final XOR (RFC 3533 §6; not the reflected zlib CRC).
pub fn ogg_crc32(data: &[u8]) -> u32 {
    const TABLE: [u32; 256] = crc_table();
    data.iter().fold(0u32, |crc, &b| {
        (crc << 8) ^ TABLE[usize::from(((crc >> 24) as u8) ^ b)]
    })
}

const fn crc_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut r = (i as u32) << 24;
        let mut bit = 0;
        while bit < 8 {
            r = if r & 0x8000_0000 != 0 {
                (r << 1) ^ 0x04c1_1db7
            } else {
                r << 1
            };
            bit += 1;
        }
        table[i] = r;
        i += 1;
    }
    table
}

/// The identification header (RFC 7845 §5.1), channel mapping family 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpusHead {
    /// 1 or 2 (mapping family 0).
    pub channels: u8,
    /// Samples at 48 kHz to drop at the start (encoder delay; 312 for
    /// libopus at its defaults).
    pub pre_skip: u16,
    /// Sample rate of the original input, informational.
    pub input_sample_rate: u32,
    /// Q7.8 dB gain to apply on output.
    pub output_gain: i16,
}

impl Default for OpusHead {
    fn default() -> Self {
        OpusHead {
            channels: 1,
            pre_skip: 312,
            input_sample_rate: 48_000,
            output_gain: 0,
        }
    }
}

impl OpusHead {
    pub fn to_bytes(&self) -> [u8; 19] {
        let mut b = [0u8; 19];
        b[..8].copy_from_slice(b"OpusHead");
        b[8] = 1; // version
        b[9] = self.channels;
        b[10..12].copy_from_slice(&self.pre_skip.to_le_bytes());
        b[12..16].copy_from_slice(&self.input_sample_rate.to_le_bytes());
        b[16..18].copy_from_slice(&self.output_gain.to_le_bytes());
        b[18] = 0; // mapping family 0: mono or stereo, no table
        b
    }

    pub fn parse(b: &[u8]) -> Option<Self> {
        if b.len() < 19 || &b[..8] != b"OpusHead" || b[8] >> 4 != 0 {
            return None;
        }
        Some(OpusHead {
            channels: b[9],
            pre_skip: u16::from_le_bytes([b[10], b[11]]),
            input_sample_rate: u32::from_le_bytes([b[12], b[13], b[14], b[15]]),
            output_gain: i16::from_le_bytes([b[16], b[17]]),
        })
    }
}

/// The comment header (RFC 7845 §5.2): vendor and `KEY=value` comments,
/// e.g. `MEETING=1234`, `TITLE=...`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OpusTags {
    pub vendor: String,
    pub comments: Vec<(String, String)>,
}

impl OpusTags {
    pub fn new(vendor: &str) -> Self {
        OpusTags {
            vendor: vendor.to_string(),
            comments: Vec::new(),
        }
    }

    pub fn with(mut self, key: &str, value: &str) -> Self {
        self.comments.push((key.to_string(), value.to_string()));
        self
    }

    /// Field names are ASCII 0x20–0x7D without `=` (Vorbis comment rules).
    fn valid_key(key: &str) -> bool {
        !key.is_empty() && key.bytes().all(|c| (0x20..=0x7d).contains(&c) && c != b'=')
    }

    pub fn to_bytes(&self) -> io::Result<Vec<u8>> {
        let mut b = Vec::with_capacity(64);
        b.extend_from_slice(b"OpusTags");
        let len32 =
            |n: usize| u32::try_from(n).map_err(|_| invalid("OpusTags field longer than 4 GiB"));
        b.extend_from_slice(&len32(self.vendor.len())?.to_le_bytes());
        b.extend_from_slice(self.vendor.as_bytes());
        b.extend_from_slice(&len32(self.comments.len())?.to_le_bytes());
        for (k, v) in &self.comments {
            if !Self::valid_key(k) {
                return Err(invalid("OpusTags comment key is not a valid field name"));
            }
            b.extend_from_slice(&len32(k.len() + 1 + v.len())?.to_le_bytes());
            b.extend_from_slice(k.as_bytes());
            b.push(b'=');
            b.extend_from_slice(v.as_bytes());
        }
        Ok(b)
    }

    /// Parse, bounding every count by the bytes present.
    pub fn parse(b: &[u8]) -> Option<Self> {
        let rest = b.strip_prefix(b"OpusTags")?;
        let (vendor, mut rest) = take_string(rest)?;
        let count = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?);
        rest = &rest[4..];
        let mut comments = Vec::new();
        for _ in 0..count {
            let (c, r) = take_string(rest)?;
            rest = r;
            let (k, v) = c.split_once('=')?;
            comments.push((k.to_string(), v.to_string()));
        }
        Some(OpusTags { vendor, comments })
    }
}

fn take_string(b: &[u8]) -> Option<(String, &[u8])> {
    let len = u32::from_le_bytes(b.get(..4)?.try_into().ok()?) as usize;
    let s = b.get(4..4usize.checked_add(len)?)?;
    Some((String::from_utf8_lossy(s).into_owned(), &b[4 + len..]))
}

fn invalid(msg: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// Duration of an Opus packet in 48 kHz samples, from its TOC byte and
/// frame count (RFC 6716 §3.1). `None` for an empty or truncated packet.
pub fn opus_packet_samples(packet: &[u8]) -> Option<u32> {
    let toc = *packet.first()?;
    let config = toc >> 3;
    let frame = match config {
        0..=11 => [480, 960, 1920, 2880][usize::from(config % 4)],
        12..=15 => [480, 960][usize::from(config % 2)],
        _ => [120, 240, 480, 960][usize::from(config % 4)],
    };
    let frames = match toc & 0x03 {
        0 => 1,
        1 | 2 => 2,
        _ => u32::from(*packet.get(1)? & 0x3f),
    };
    let total = frame * frames;
    // RFC 6716 §3.2.5: at most 120 ms per packet.
    (total <= 5760).then_some(total)
}

/// Writes one logical Opus stream as Ogg pages.
///
/// Pages are closed when they hold about `page_samples` of audio (1 s by
/// default, so a crash loses at most about a second), when the segment
/// table is full, and at [`finish`](Self::finish), which marks the last
/// page EOS.
pub struct OggOpusWriter<W: Write> {
    out: W,
    serial: u32,
    page_seq: u32,
    /// Samples (48 kHz) of all packets written, pre-skip included.
    granule: u64,
    page_samples: u64,
    // The page being assembled.
    segments: Vec<u8>,
    body: Vec<u8>,
    flags: u8,
    /// Granule of the last packet completed on this page.
    page_granule: u64,
    page_start_granule: u64,
    audio_packets: u64,
}

impl<W: Write> OggOpusWriter<W> {
    /// Start a stream: writes the OpusHead page (BOS) and OpusTags page(s).
    pub fn new(out: W, serial: u32, head: &OpusHead, tags: &OpusTags) -> io::Result<Self> {
        if !(1..=2).contains(&head.channels) {
            return Err(invalid(
                "only mono and stereo (mapping family 0) are written",
            ));
        }
        let mut w = OggOpusWriter {
            out,
            serial,
            page_seq: 0,
            granule: 0,
            page_samples: 48_000,
            segments: Vec::with_capacity(MAX_SEGMENTS),
            body: Vec::with_capacity(8192),
            flags: FLAG_BOS,
            page_granule: NO_GRANULE,
            page_start_granule: 0,
            audio_packets: 0,
        };
        // Each header packet ends its page (RFC 7845 §3).
        w.add_packet(&head.to_bytes())?;
        w.flush_page(0)?;
        w.add_packet(&tags.to_bytes()?)?;
        w.flush_page(0)?;
        Ok(w)
    }

    /// Close pages after this many 48 kHz samples (minimum one packet).
    pub fn with_page_samples(mut self, samples: u64) -> Self {
        self.page_samples = samples.max(1);
        self
    }

    /// Append an Opus packet, its duration read from its TOC byte.
    pub fn write_packet(&mut self, packet: &[u8]) -> io::Result<()> {
        let samples =
            opus_packet_samples(packet).ok_or_else(|| invalid("not a valid Opus packet"))?;
        self.write_packet_with_samples(packet, samples)
    }

    /// Append a packet of `samples` 48 kHz samples.
    pub fn write_packet_with_samples(&mut self, packet: &[u8], samples: u32) -> io::Result<()> {
        if packet.is_empty() {
            return Err(invalid("empty Opus packet"));
        }
        // Close the previous page lazily, so that the last page, which must
        // carry the EOS flag, is still open when finish() is called.
        if self.granule - self.page_start_granule >= self.page_samples && !self.body.is_empty() {
            self.flush_page(0)?;
        }
        self.granule += u64::from(samples);
        self.add_packet(packet)?;
        self.audio_packets += 1;
        Ok(())
    }

    /// Samples written so far (48 kHz, pre-skip included).
    pub fn granule_position(&self) -> u64 {
        self.granule
    }

    /// Write the last page with the EOS flag and return the writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.flush_page(FLAG_EOS)?;
        self.out.flush()?;
        Ok(self.out)
    }

    /// Lace a packet into the current page, spilling into continuation
    /// pages when the segment table fills up.
    fn add_packet(&mut self, packet: &[u8]) -> io::Result<()> {
        let mut rest = packet;
        loop {
            if self.segments.len() == MAX_SEGMENTS {
                self.flush_page(0)?;
                self.flags |= FLAG_CONTINUED;
            }
            let n = rest.len().min(255);
            self.segments.push(n as u8);
            self.body.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            // A segment shorter than 255 (possibly 0) ends the packet.
            if n < 255 {
                break;
            }
        }
        self.page_granule = self.granule;
        Ok(())
    }

    fn flush_page(&mut self, extra_flags: u8) -> io::Result<()> {
        let flags = self.flags | extra_flags;
        let mut page = Vec::with_capacity(PAGE_HEADER_LEN + self.segments.len() + self.body.len());
        page.extend_from_slice(CAPTURE);
        page.push(0);
        page.push(flags);
        page.extend_from_slice(&self.page_granule.to_le_bytes());
        page.extend_from_slice(&self.serial.to_le_bytes());
        page.extend_from_slice(&self.page_seq.to_le_bytes());
        page.extend_from_slice(&[0; 4]);
        page.push(self.segments.len() as u8);
        page.extend_from_slice(&self.segments);
        page.extend_from_slice(&self.body);
        let crc = ogg_crc32(&page);
        page[22..26].copy_from_slice(&crc.to_le_bytes());
        self.out.write_all(&page)?;
        self.page_seq = self.page_seq.wrapping_add(1);
        self.segments.clear();
        self.body.clear();
        self.flags = 0;
        // A page on which no packet ends carries granule −1; the granule of
        // an empty final page is that of the stream end.
        self.page_granule = if extra_flags & FLAG_EOS != 0 {
            self.granule
        } else {
            NO_GRANULE
        };
        self.page_start_granule = self.granule;
        Ok(())
    }
}

/// Why a byte stream is not valid Ogg.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OggError {
    #[error("no OggS capture pattern at offset {0}")]
    NoCapture(usize),
    #[error("page at offset {0} is truncated")]
    Truncated(usize),
    #[error("page at offset {0} has stream structure version {1}")]
    BadVersion(usize, u8),
    #[error("page at offset {offset}: CRC {found:08x}, computed {computed:08x}")]
    BadCrc {
        offset: usize,
        found: u32,
        computed: u32,
    },
}

/// One page, borrowed from the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OggPage<'a> {
    pub flags: u8,
    pub granule: u64,
    pub serial: u32,
    pub sequence: u32,
    pub segments: &'a [u8],
    pub body: &'a [u8],
}

/// Split a complete Ogg byte stream into pages, checking each CRC.
pub fn read_pages(data: &[u8]) -> Result<Vec<OggPage<'_>>, OggError> {
    let mut pages = Vec::new();
    let mut off = 0;
    while off < data.len() {
        let d = &data[off..];
        if d.len() < PAGE_HEADER_LEN {
            return Err(OggError::Truncated(off));
        }
        if &d[..4] != CAPTURE {
            return Err(OggError::NoCapture(off));
        }
        if d[4] != 0 {
            return Err(OggError::BadVersion(off, d[4]));
        }
        let nseg = usize::from(d[26]);
        let seg_end = PAGE_HEADER_LEN + nseg;
        if d.len() < seg_end {
            return Err(OggError::Truncated(off));
        }
        let segments = &d[PAGE_HEADER_LEN..seg_end];
        let body_len: usize = segments.iter().map(|&s| usize::from(s)).sum();
        let end = seg_end + body_len;
        if d.len() < end {
            return Err(OggError::Truncated(off));
        }
        let found = u32::from_le_bytes([d[22], d[23], d[24], d[25]]);
        let mut header = [0u8; PAGE_HEADER_LEN];
        header.copy_from_slice(&d[..PAGE_HEADER_LEN]);
        header[22..26].fill(0);
        let crc = {
            // CRC over the page with the CRC field zeroed, without copying
            // the body: continue the same register over the three parts.
            let mut crc = ogg_crc32(&header);
            crc = crc_continue(crc, segments);
            crc_continue(crc, &d[seg_end..end])
        };
        if crc != found {
            return Err(OggError::BadCrc {
                offset: off,
                found,
                computed: crc,
            });
        }
        pages.push(OggPage {
            flags: d[5],
            granule: u64::from_le_bytes(d[6..14].try_into().expect("8 bytes")),
            serial: u32::from_le_bytes([d[14], d[15], d[16], d[17]]),
            sequence: u32::from_le_bytes([d[18], d[19], d[20], d[21]]),
            segments,
            body: &d[seg_end..end],
        });
        off += end;
    }
    Ok(pages)
}

fn crc_continue(crc: u32, data: &[u8]) -> u32 {
    const TABLE: [u32; 256] = crc_table();
    data.iter().fold(crc, |crc, &b| {
        (crc << 8) ^ TABLE[usize::from(((crc >> 24) as u8) ^ b)]
    })
}

/// A packet reassembled from pages, with the granule of the page on which
/// it ended (the same for all packets ending on that page).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OggPacket {
    pub data: Vec<u8>,
    pub page_granule: u64,
    /// Sequence number of the page on which the packet ended.
    pub page_sequence: u32,
}

/// Reassemble the packets of one logical stream (`serial`) from its pages.
/// A packet still open at the end of the input is dropped.
pub fn packets(pages: &[OggPage<'_>], serial: u32) -> Vec<OggPacket> {
    let mut out = Vec::new();
    let mut cur: Vec<u8> = Vec::new();
    for page in pages.iter().filter(|p| p.serial == serial) {
        if page.flags & FLAG_CONTINUED == 0 {
            cur.clear();
        }
        let mut pos = 0;
        for &seg in page.segments {
            let n = usize::from(seg);
            cur.extend_from_slice(&page.body[pos..pos + n]);
            pos += n;
            if n < 255 {
                out.push(OggPacket {
                    data: std::mem::take(&mut cur),
                    page_granule: page.granule,
                    page_sequence: page.sequence,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_known_value() {
        // The Ogg CRC is the non-reflected CRC-32/MPEG-2 polynomial with a
        // zero init and no final XOR ("CRC-32/OGG"): check value of
        // "123456789" is 0x89a1897f.
        assert_eq!(ogg_crc32(b"123456789"), 0x89a1_897f);
        assert_eq!(ogg_crc32(b""), 0);
    }

    #[test]
    fn toc_durations() {
        assert_eq!(opus_packet_samples(&[0xfc, 0xff]), Some(960)); // CELT FB 20 ms
        assert_eq!(opus_packet_samples(&[0x08]), Some(960)); // SILK NB 20 ms
        assert_eq!(opus_packet_samples(&[0x0b, 0x03]), Some(960 * 3)); // code 3, 3 frames
        assert_eq!(opus_packet_samples(&[0x1b, 0x03]), None); // 3×60 ms > 120 ms
        assert_eq!(opus_packet_samples(&[0x1b, 0x02]), Some(5760));
        assert_eq!(opus_packet_samples(&[0x03]), None);
        assert_eq!(opus_packet_samples(&[]), None);
    }
}
