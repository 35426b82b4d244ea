//! Ogg/Opus recording files: an Ogg page writer (RFC 3533) carrying an
//! Opus stream (RFC 7845), and a minimal page reader to check them.
//!
//! The writer is the one place in this crate that writes to a
//! `std::io::Write`; it does no other I/O and reads no clock. Granule
//! positions count 48 kHz samples, as RFC 7845 §4 requires whatever the
//! input rate.

use std::io::{self, Read, Write};

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
        let mut started = false;
        loop {
            if self.segments.len() == MAX_SEGMENTS {
                self.flush_page(0)?;
                // Only a page that begins inside a packet is a
                // continuation: a reader drops the first packet of a page
                // flagged so after a page that ended one (libogg does).
                if started {
                    self.flags |= FLAG_CONTINUED;
                }
            }
            started = true;
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

/// Why a possibly cut Ogg stream cannot be repaired.
#[derive(Debug, thiserror::Error)]
pub enum OggRepairError {
    /// Not even the first page holds a whole packet: nothing to keep.
    #[error("no complete Ogg packet at the start of the stream")]
    Empty,
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// What [`scan_for_repair`] found: where a stream cut by a crash can be
/// ended, and the page that ends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OggRepair {
    /// The stream is whole: its last page is EOS and ends a packet, and
    /// nothing follows it. Nothing needs to change.
    pub intact: bool,
    /// Offset of the last page kept. The repaired stream is the input up
    /// to here followed by [`OggRepair::last_page`].
    pub keep: u64,
    /// The page at `keep` flagged EOS, without the start of a packet it
    /// does not finish, its CRC computed again.
    pub last_page: Vec<u8>,
    /// Granule position of the last page kept (48 kHz samples, pre-skip
    /// included, for Opus).
    pub granule: u64,
    /// The stream's identification header, if its first packet is one.
    pub head: Option<OpusHead>,
    /// Whole packets kept, the two header packets included.
    pub packets: u64,
    /// Bytes read from the input.
    pub scanned: u64,
}

impl OggRepair {
    /// Length of the repaired stream.
    pub fn repaired_len(&self) -> u64 {
        self.keep + self.last_page.len() as u64
    }

    /// The audio kept, as a player counts it: the last granule position
    /// less the pre-skip (RFC 7845 §4.2, as the recorder computes it).
    pub fn duration_ms(&self) -> Option<u64> {
        let head = self.head?;
        (self.granule != NO_GRANULE)
            .then(|| self.granule.saturating_sub(u64::from(head.pre_skip)) / 48)
    }
}

/// A page a stream may end on: the last one so far on which a packet ends.
#[derive(Debug, Default)]
struct EndPage {
    offset: u64,
    /// The whole page as read.
    page: Vec<u8>,
    /// Lacing values up to and including the last packet end.
    segments: usize,
    granule: u64,
    /// Whole packets up to the end of this page.
    packets: u64,
}

impl EndPage {
    /// The page as the last of a stream: EOS, trimmed, CRC fixed.
    fn finished(&self) -> Vec<u8> {
        let nseg = usize::from(self.page[26]);
        let lacing = &self.page[PAGE_HEADER_LEN..PAGE_HEADER_LEN + nseg];
        let body_len: usize = lacing[..self.segments]
            .iter()
            .map(|&l| usize::from(l))
            .sum();
        let mut out = Vec::with_capacity(PAGE_HEADER_LEN + self.segments + body_len);
        out.extend_from_slice(&self.page[..PAGE_HEADER_LEN]);
        out[5] |= FLAG_EOS;
        out[22..26].fill(0);
        out[26] = self.segments as u8;
        out.extend_from_slice(&lacing[..self.segments]);
        let body = PAGE_HEADER_LEN + nseg;
        out.extend_from_slice(&self.page[body..body + body_len]);
        let crc = ogg_crc32(&out);
        out[22..26].copy_from_slice(&crc.to_le_bytes());
        out
    }
}

/// Reads a possibly cut Ogg stream (one logical stream, as
/// [`OggOpusWriter`] writes it) and finds the longest prefix that is a
/// valid stream once its last page is marked EOS.
///
/// Reading stops at the first thing a crash leaves behind: a page cut
/// short, a bad CRC, bytes that are no page, a page of another stream or
/// out of sequence, anything after an EOS page. Of the whole pages before
/// it, the stream ends on the last on which a packet ends; a packet begun
/// there and never finished is cut off that page. Memory stays bounded by
/// two pages (64 KiB each at most) whatever the input's length.
pub fn scan_for_repair(input: &mut impl Read) -> Result<OggRepair, OggRepairError> {
    const MAX_PAGE: usize = PAGE_HEADER_LEN + MAX_SEGMENTS + MAX_SEGMENTS * 255;
    let mut page = Vec::with_capacity(MAX_PAGE);
    let mut end: Option<EndPage> = None;
    let mut offset = 0u64;
    let mut serial = None;
    let mut next_seq = 0u32;
    let mut eos = false;
    // Whole packets so far.
    let mut packets = 0u64;
    let mut head = None;
    let mut first_packet: Vec<u8> = Vec::new();
    // Whether reading stopped at the end of the input on a page boundary.
    let mut clean_end = false;
    loop {
        page.clear();
        page.resize(PAGE_HEADER_LEN, 0);
        let got = read_full(input, &mut page)?;
        if got == 0 {
            clean_end = true;
            break;
        }
        if got < PAGE_HEADER_LEN || &page[..4] != CAPTURE || page[4] != 0 {
            offset += got as u64;
            break;
        }
        let nseg = usize::from(page[26]);
        page.resize(PAGE_HEADER_LEN + nseg, 0);
        let got = read_full(input, &mut page[PAGE_HEADER_LEN..])?;
        if got < nseg {
            offset += (PAGE_HEADER_LEN + got) as u64;
            break;
        }
        let body_len: usize = page[PAGE_HEADER_LEN..]
            .iter()
            .map(|&l| usize::from(l))
            .sum();
        let body = page.len();
        page.resize(body + body_len, 0);
        let got = read_full(input, &mut page[body..])?;
        if got < body_len {
            offset += (body + got) as u64;
            break;
        }
        let found = u32::from_le_bytes([page[22], page[23], page[24], page[25]]);
        let crc = {
            let mut crc = ogg_crc32(&page[..22]);
            crc = crc_continue(crc, &[0; 4]);
            crc_continue(crc, &page[26..])
        };
        let page_serial = u32::from_le_bytes([page[14], page[15], page[16], page[17]]);
        let seq = u32::from_le_bytes([page[18], page[19], page[20], page[21]]);
        let foreign = serial.is_some_and(|s| s != page_serial);
        // A continuation flag that does not match the previous page's end
        // is not what a crash leaves, so it does not end the stream here
        // (the writer set it wrongly once); the packet count follows the
        // lacing values, as the page reader does.
        if crc != found || foreign || seq != next_seq || eos {
            offset += page.len() as u64;
            break;
        }
        serial = Some(page_serial);
        next_seq = seq.wrapping_add(1);
        eos = page[5] & FLAG_EOS != 0;
        let lacing = &page[PAGE_HEADER_LEN..body];
        let mut pos = body;
        let mut last_end = None;
        for (i, &l) in lacing.iter().enumerate() {
            let n = usize::from(l);
            if packets == 0 && first_packet.len() < 64 {
                first_packet.extend_from_slice(&page[pos..pos + n]);
            }
            pos += n;
            if l < 255 {
                if packets == 0 {
                    head = OpusHead::parse(&first_packet);
                }
                packets += 1;
                last_end = Some(i + 1);
            }
        }
        if let Some(segments) = last_end {
            let e = end.get_or_insert_with(EndPage::default);
            e.offset = offset;
            e.page.clone_from(&page);
            e.segments = segments;
            e.granule = u64::from_le_bytes(page[6..14].try_into().expect("8 bytes"));
            e.packets = packets;
        }
        offset += page.len() as u64;
    }
    let Some(e) = end else {
        return Err(OggRepairError::Empty);
    };
    let last_page = e.finished();
    let whole = e.segments == usize::from(e.page[26]);
    let intact = clean_end && eos && whole && e.offset + e.page.len() as u64 == offset;
    Ok(OggRepair {
        intact,
        keep: e.offset,
        last_page,
        granule: e.granule,
        head,
        packets: e.packets,
        scanned: offset,
    })
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match input.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
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

    // ---- repair of a stream cut by a crash ----

    use std::path::{Path, PathBuf};
    use std::process::Command;

    /// A recording as the recorder writes it: `seconds` of a 440 Hz tone,
    /// real Opus at `bitrate`, pages of `page_samples`.
    fn recording(seconds: usize, bitrate: u32, page_samples: u64) -> (Vec<u8>, OpusHead) {
        let mut enc =
            codecs::OpusEncoder::new(48_000, 1, codecs::Application::Audio, bitrate).unwrap();
        let head = OpusHead {
            pre_skip: enc.lookahead().unwrap() as u16,
            ..OpusHead::default()
        };
        let tags = OpusTags::new("gateway test").with("MEETING", "1234");
        let mut w = OggOpusWriter::new(Vec::new(), 0x5eed, &head, &tags)
            .unwrap()
            .with_page_samples(page_samples);
        for f in 0..seconds * 50 {
            let pcm: Vec<i16> = (0..960)
                .map(|n| {
                    let t = (f * 960 + n) as f64 / 48_000.0;
                    ((t * 440.0 * std::f64::consts::TAU).sin() * 8000.0) as i16
                })
                .collect();
            let mut pkt = Vec::new();
            enc.encode(&pcm, &mut pkt).unwrap();
            w.write_packet(&pkt).unwrap();
        }
        (w.finish().unwrap(), head)
    }

    /// Offsets of the pages of a whole stream.
    fn page_offsets(file: &[u8]) -> Vec<usize> {
        let mut at = 0;
        read_pages(file)
            .unwrap()
            .iter()
            .map(|p| {
                let o = at;
                at += PAGE_HEADER_LEN + p.segments.len() + p.body.len();
                o
            })
            .collect()
    }

    fn repair(cut: &[u8]) -> (OggRepair, Vec<u8>) {
        let r = scan_for_repair(&mut &cut[..]).unwrap();
        let mut fixed = cut[..r.keep as usize].to_vec();
        fixed.extend_from_slice(&r.last_page);
        assert_eq!(fixed.len() as u64, r.repaired_len());
        (r, fixed)
    }

    /// What an independent reader makes of a file: opusinfo's verdict on
    /// the stream structure (empty when it has nothing to warn about) and
    /// opusdec's sample count at 48 kHz. `None` when opus-tools (Debian
    /// package `opus-tools`) is not installed, outside CI.
    fn decode_with_opus_tools(name: &str, file: &[u8]) -> Option<(String, usize)> {
        let have = Command::new("opusinfo").arg("-V").output().is_ok();
        if !have {
            assert!(
                std::env::var_os("CI").is_none(),
                "opus-tools must be installed in CI"
            );
            eprintln!("SKIP: opusinfo not installed (Debian package opus-tools)");
            return None;
        }
        let dir = std::env::temp_dir().join(format!("ogg-repair-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path: PathBuf = dir.join(format!("{name}.opus"));
        std::fs::write(&path, file).unwrap();
        let info = Command::new("opusinfo").arg(&path).output().unwrap();
        let text = String::from_utf8_lossy(&info.stdout).into_owned()
            + &String::from_utf8_lossy(&info.stderr);
        let complaints: String = text
            .lines()
            .filter(|l| {
                let l = l.to_ascii_lowercase();
                l.contains("warning") || l.contains("error") || l.contains("hole")
            })
            .collect::<Vec<_>>()
            .join("\n");
        let raw = dir.join(format!("{name}.raw"));
        let dec = Command::new("opusdec")
            .args(["--quiet", "--rate", "48000"])
            .arg(&path)
            .arg(&raw)
            .output()
            .unwrap();
        assert!(
            dec.status.success(),
            "opusdec failed on {name}: {}",
            String::from_utf8_lossy(&dec.stderr)
        );
        let samples = std::fs::metadata(&raw).unwrap().len() as usize / 2;
        let _ = std::fs::remove_file(&raw);
        let _ = std::fs::remove_file(Path::new(&path));
        Some((complaints, samples))
    }

    #[test]
    fn opus_tools_notice_a_missing_eos() {
        // The check the repair tests rely on: opusinfo does complain about
        // a stream cut after a whole page.
        let (file, _) = recording(3, 32_000, 48_000);
        let pages = page_offsets(&file);
        let cut = &file[..pages[pages.len() - 2]];
        if let Some((complaints, _)) = decode_with_opus_tools("no-eos", cut) {
            assert!(
                complaints.contains("EOS not set"),
                "opusinfo said {complaints:?}"
            );
        }
    }

    #[test]
    fn only_a_page_that_begins_inside_a_packet_is_flagged_continued() {
        // 255 one-segment packets fill a page exactly; the next packet
        // begins a page of its own, which continues nothing.
        let mut w = OggOpusWriter::new(Vec::new(), 1, &OpusHead::default(), &OpusTags::new("t"))
            .unwrap()
            .with_page_samples(u64::MAX);
        for _ in 0..256 {
            w.write_packet(&[0xfc, 1, 2]).unwrap();
        }
        // And one packet spanning two pages.
        w.write_packet(&vec![0xfc; 255 * 255]).unwrap();
        let file = w.finish().unwrap();
        let pages = read_pages(&file).unwrap();
        assert_eq!(pages[2].segments.len(), 255);
        assert_eq!(
            pages[3].flags & FLAG_CONTINUED,
            0,
            "a new packet, not a continuation"
        );
        assert_eq!(pages[4].flags & FLAG_CONTINUED, FLAG_CONTINUED);
        for w in pages.windows(2) {
            let open = w[0].segments.last() == Some(&255);
            assert_eq!(
                w[1].flags & FLAG_CONTINUED != 0,
                open,
                "page {}",
                w[1].sequence
            );
        }
        assert_eq!(packets(&pages, 1).len(), 2 + 257);
    }

    #[test]
    fn an_intact_recording_needs_no_repair() {
        let (file, head) = recording(2, 32_000, 48_000);
        let (r, fixed) = repair(&file);
        assert!(r.intact);
        assert_eq!(fixed, file, "nothing changes");
        assert_eq!(r.scanned, file.len() as u64);
        assert_eq!(r.packets, 2 + 100);
        assert_eq!(r.head, Some(head));
        assert_eq!(r.granule, 100 * 960);
        assert_eq!(
            r.duration_ms(),
            Some((100 * 960 - u64::from(head.pre_skip)) / 48)
        );
        if let Some((complaints, samples)) = decode_with_opus_tools("intact", &fixed) {
            assert_eq!(complaints, "");
            assert_eq!(samples, 100 * 960 - usize::from(head.pre_skip));
        }
    }

    #[test]
    fn a_recording_cut_mid_page_ends_on_its_last_whole_page() {
        // 3 s in 1 s pages: head, tags, 3 audio pages (the third EOS).
        let (file, head) = recording(3, 32_000, 48_000);
        let pages = page_offsets(&file);
        assert_eq!(pages.len(), 5);
        // Cut in the middle of the third audio page, as a crash leaves a
        // page the buffered writer had half written.
        let cut = &file[..(pages[4] + file.len()) / 2];
        let (r, fixed) = repair(cut);
        assert!(!r.intact);
        assert_eq!(r.keep, pages[3] as u64, "the second audio page is the last");
        let read = read_pages(&fixed).expect("whole pages with good CRCs");
        assert_eq!(read.len(), 4);
        let last = read.last().unwrap();
        assert_eq!(last.flags & FLAG_EOS, FLAG_EOS);
        assert_eq!(last.granule, r.granule);
        // Pages close after at least 1 s: the granule is a whole number of
        // 20 ms packets past 1 s and short of 3 s.
        assert!(r.granule % 960 == 0 && (2 * 48_000..3 * 48_000).contains(&r.granule));
        let kept = packets(&read, 0x5eed);
        assert_eq!(kept.len() as u64, r.packets);
        assert_eq!(r.granule, (r.packets - 2) * 960);
        assert_eq!(
            r.duration_ms(),
            Some((r.granule - u64::from(head.pre_skip)) / 48)
        );
        // Repairing again finds it whole.
        let (again, same) = repair(&fixed);
        assert!(again.intact);
        assert_eq!(same, fixed);
        if let Some((complaints, samples)) = decode_with_opus_tools("mid-page", &fixed) {
            assert_eq!(complaints, "");
            assert_eq!(samples as u64, r.granule - u64::from(head.pre_skip));
        }
    }

    #[test]
    fn a_recording_cut_mid_packet_drops_the_unfinished_packet() {
        // Packets of two lacing values (256..510 bytes) in pages of up to
        // 10 s: the segment table fills first, and a packet continues on
        // the next page.
        let (file, head) = recording(6, 128_000, 480_000);
        let all = read_pages(&file).unwrap();
        let offsets = page_offsets(&file);
        let spill = all
            .iter()
            .position(|p| p.segments.last() == Some(&255))
            .expect("a packet continued on the next page");
        assert_eq!(all[spill + 1].flags & FLAG_CONTINUED, FLAG_CONTINUED);
        let whole_packets_before = packets(&all[..=spill], 0x5eed).len() as u64;
        // Cut inside the continuation page: the packet begun on `spill` is
        // never finished.
        let cut = &file[..offsets[spill + 1] + 40];
        let (r, fixed) = repair(cut);
        assert!(!r.intact);
        assert_eq!(r.keep, offsets[spill] as u64);
        assert_eq!(r.packets, whole_packets_before);
        let read = read_pages(&fixed).expect("whole pages with good CRCs");
        let last = read.last().unwrap();
        assert_eq!(last.flags & FLAG_EOS, FLAG_EOS);
        assert_ne!(last.segments.last(), Some(&255), "no packet left open");
        assert_eq!(last.segments.len(), all[spill].segments.len() - 1);
        assert_eq!(packets(&read, 0x5eed).len() as u64, r.packets);
        assert_eq!(
            r.granule, all[spill].granule,
            "the granule of its last whole packet"
        );
        assert_eq!(r.granule, (r.packets - 2) * 960);
        if let Some((complaints, samples)) = decode_with_opus_tools("mid-packet", &fixed) {
            assert_eq!(complaints, "");
            assert_eq!(samples as u64, r.granule - u64::from(head.pre_skip));
        }
    }

    #[test]
    fn garbage_after_the_stream_and_a_bad_crc_end_it() {
        let (file, _) = recording(3, 32_000, 48_000);
        let pages = page_offsets(&file);
        // A whole stream followed by zeros (a power cut's unwritten blocks).
        let mut zeros = file.clone();
        zeros.extend_from_slice(&[0; 4096]);
        let (r, fixed) = repair(&zeros);
        assert!(!r.intact);
        assert_eq!(fixed, file);
        // A flipped byte in the last page: the stream ends before it.
        let mut flipped = file.clone();
        flipped[pages[4] + 40] ^= 1;
        let (r, _) = repair(&flipped);
        assert_eq!(r.keep, pages[3] as u64);
        // Nothing whole: an error, not a panic.
        for cut in [&file[..0], &file[..20], &file[..pages[1] - 3]] {
            assert!(matches!(
                scan_for_repair(&mut &cut[..]),
                Err(OggRepairError::Empty)
            ));
        }
        // Only the header pages: a stream of no audio, ending on the tags.
        let (r, fixed) = repair(&file[..pages[2] + 10]);
        assert_eq!((r.packets, r.granule, r.keep), (2, 0, pages[1] as u64));
        assert_eq!(r.duration_ms(), Some(0));
        assert_eq!(read_pages(&fixed).unwrap().len(), 2);
    }
}
