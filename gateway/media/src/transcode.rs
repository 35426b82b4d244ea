//! Transcoding one direction of a two-leg call: the payload of the sending
//! leg's codec is decoded to 16 kHz PCM and encoded in the receiving leg's
//! codec, with the payload type and the timestamp clock rewritten.
//!
//! The decoded path is a new RTP stream, so it is repaired before it is
//! encoded rather than passed on with the sender's faults:
//!
//! - **Reordering and duplicates.** A packet that is the next expected
//!   sequence number goes out at once: nothing earlier can still come, so
//!   an in-order stream gains no delay. Only behind a gap are packets held,
//!   in sequence order, until the missing one arrives or [`REORDER_DEPTH`]
//!   newer packets have (40 ms at 20 ms packets) and it is taken as lost;
//!   then the held ones go out together, so the delay ends with the gap. A
//!   packet that comes after its slot was played, or twice, is dropped.
//!   The [`PacketTransform`] hook runs once per arriving packet and can
//!   return one packet, with no timer to release held audio at its due
//!   time, so this is arrival-driven in-order reassembly, not a timed
//!   playout buffer: the arrival jitter passes on to the receiver's own
//!   jitter buffer, which is where playout timing belongs anyway. A held
//!   packet is reported as [`Verdict::Held`], not as a drop.
//! - **Loss.** A missing slot is concealed when it is due: Opus with the
//!   in-band FEC of the held next packet (libopus conceals when there is
//!   none), G.711 and G.722 with the pitch-repeating [`codecs::plc::Plc`].
//!   Since one arrival may have to release the concealed frame and the
//!   frame that follows it, one outgoing packet then carries up to
//!   [`MAX_FRAMES_PER_PACKET`] frames (Opus only in 10/20/40/60 ms). A gap
//!   of more than [`MAX_CONCEALED_RUN`] packets (an outage, a sender pause)
//!   is not filled: the output timestamps jump and the marker bit is set.
//! - **Numbering.** The outgoing sequence numbers are the gateway's own,
//!   one per packet sent, so the receiver sees no gap where the gateway
//!   concealed one; the SSRC stays the sender's. Timestamps follow the
//!   sender's clock rescaled, so they stay continuous across concealment.
//!
//! RFC 4733 events share the audio's sequence numbers: they are held and
//! released in order too, with their payload type mapped and timestamps
//! and durations rescaled; other payload types (comfort noise, a stray
//! video PT) are dropped, as the receiver did not negotiate them.
//!
//! RTCP is terminated ([`PacketTransform::terminates_rtcp`]): the relay
//! consumes the legs' reports and sends its own (see [`crate::rtcp_term`]),
//! because counts, timestamps and loss of one leg mean nothing on the other.

use std::collections::VecDeque;

use codecs::g722::G722Decoder;
use codecs::plc::Plc;
use codecs::{OpusDecoder, Resampler};
use gateway_callmodel::AudioCodec;

use crate::meeting::codec::{LegCodec, FRAME, MIX_RATE};
use crate::meeting::UnsupportedCodec;
use crate::packet::PacketClass;
use crate::rtp_header;
use crate::transform::{PacketTransform, Verdict};

/// Newer packets that must arrive behind a missing one before it is taken
/// as lost: reordering within this span is undone, and the lost packet's
/// successor is at hand for Opus FEC. 40 ms at 20 ms packets, paid only
/// while a gap is open.
pub const REORDER_DEPTH: i64 = 2;
/// Longest run of missing packets concealed; longer gaps are passed on.
pub const MAX_CONCEALED_RUN: i64 = 3;
/// Frames one outgoing packet carries at most (catching up after a loss).
pub const MAX_FRAMES_PER_PACKET: usize = 3;
/// Packets held at most, whatever arrives: bounds memory and delay.
const HOLD_CAPACITY: usize = 16;
/// A sequence number this far from the newest is a new numbering, not
/// reordering (RFC 3550 A.1 uses 3000 ahead and 100 behind; the buffer only
/// ever looks a few packets back).
const MAX_SEQ_JUMP: i64 = 3000;
/// Extended sequence numbers start here so that early reordering stays
/// positive.
const EXT_BASE: i64 = 1 << 20;
/// Slots remembered after they were played from a real packet, so that a
/// second copy arriving after the first went out counts as a duplicate, not
/// as late.
const PLAYED_MEMORY: usize = 16;
/// Largest payload held (an RTP packet fits in the relay's 4 KiB buffer).
const MAX_PAYLOAD: usize = 4096;

/// One side of a transcoded direction: its codec and payload types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodecEnd {
    pub codec: AudioCodec,
    pub payload_type: u8,
    /// The leg's telephone-event payload type, if it negotiated one.
    pub telephone_event: Option<u8>,
}

/// Counters of one direction.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TranscodeStats {
    /// Packets sent on carrying audio.
    pub transcoded: u64,
    pub events: u64,
    /// Packets refused: unknown payload type, malformed, undecodable.
    pub dropped: u64,
    /// Frames filled in by concealment (FEC or PLC).
    pub concealed: u64,
    /// Packets that came after their slot was concealed or skipped.
    pub late: u64,
    /// Second copies, whether the first is still held or already sent.
    pub duplicates: u64,
    /// Packets kept behind a gap rather than sent when they arrived; they
    /// go out later (or are concealed around), so they are not drops.
    pub held: u64,
    /// Packets that arrived after a later one and were still in time to
    /// fill their gap.
    pub reordered: u64,
    /// Sequence numbers of gaps too long to conceal.
    pub skipped: u64,
}

/// What arrived in a sequence slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Audio,
    Event,
    /// A payload type the receiver did not negotiate (comfort noise):
    /// dropped when due, and its slot is not a loss.
    Other,
}

#[derive(Debug)]
struct Held {
    ext: i64,
    kind: Kind,
    ts: u32,
    marker: bool,
    payload: Vec<u8>,
}

/// Decoder to 16 kHz PCM that can also fill a lost frame.
enum LossDecoder {
    G711 {
        alaw: bool,
        up: Resampler,
        narrow: Vec<i16>,
        plc: Box<Plc>,
    },
    G722 {
        dec: Box<G722Decoder>,
        plc: Box<Plc>,
    },
    Opus(Box<OpusDecoder>),
}

impl LossDecoder {
    fn new(codec: AudioCodec) -> Result<LossDecoder, UnsupportedCodec> {
        let err = |e: codecs::CodecError| UnsupportedCodec(codec, e.to_string());
        Ok(match codec {
            AudioCodec::Pcmu | AudioCodec::Pcma => LossDecoder::G711 {
                alaw: codec == AudioCodec::Pcma,
                up: Resampler::new(8000, MIX_RATE).map_err(err)?,
                narrow: Vec::with_capacity(2 * FRAME),
                plc: Box::new(Plc::new(MIX_RATE)),
            },
            AudioCodec::G722 => LossDecoder::G722 {
                dec: Box::new(G722Decoder::new()),
                plc: Box::new(Plc::new(MIX_RATE)),
            },
            AudioCodec::Opus => {
                LossDecoder::Opus(Box::new(OpusDecoder::new(MIX_RATE, 1).map_err(err)?))
            }
        })
    }

    /// Appends the decoded payload to `out`; false (nothing appended) if
    /// the codec refuses it.
    fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) -> bool {
        let start = out.len();
        match self {
            LossDecoder::G711 {
                alaw,
                up,
                narrow,
                plc,
            } => {
                let decode: fn(u8) -> i16 = if *alaw {
                    codecs::alaw_decode
                } else {
                    codecs::ulaw_decode
                };
                narrow.clear();
                narrow.extend(payload.iter().map(|&b| decode(b)));
                up.process(narrow, out);
                plc.good_frame(&mut out[start..]);
            }
            LossDecoder::G722 { dec, plc } => {
                dec.decode(payload, out);
                plc.good_frame(&mut out[start..]);
            }
            LossDecoder::Opus(dec) => {
                if dec.decode(payload, out).is_err() {
                    out.truncate(start);
                    return false;
                }
            }
        }
        out.len() > start
    }

    /// Appends `samples` of concealment; `next` is the packet after the
    /// lost one, if it is at hand (Opus recovers the frame from its FEC).
    fn conceal(&mut self, samples: usize, next: Option<&[u8]>, out: &mut Vec<i16>) {
        let start = out.len();
        match self {
            LossDecoder::G711 { plc, .. } | LossDecoder::G722 { plc, .. } => {
                out.resize(start + samples, 0);
                plc.conceal(&mut out[start..]);
            }
            LossDecoder::Opus(dec) => {
                let ok = match next {
                    Some(p) => dec.decode_fec(p, samples, out).is_ok(),
                    None => dec.decode_lost(samples, out).is_ok(),
                };
                if !ok {
                    out.truncate(start);
                    out.resize(start + samples, 0);
                }
            }
        }
    }

    fn reset(&mut self) {
        match self {
            LossDecoder::G711 { up, plc, .. } => {
                up.reset();
                plc.reset();
            }
            LossDecoder::G722 { dec, plc } => {
                dec.reset();
                plc.reset();
            }
            LossDecoder::Opus(dec) => {
                let _ = dec.reset();
            }
        }
    }
}

/// Decodes `from`'s codec, encodes `to`'s: install it as the transform of
/// the direction whose packets come from the `from` leg.
pub struct Transcoder {
    from: CodecEnd,
    to: CodecEnd,
    decoder: LossDecoder,
    encoder: LegCodec,
    /// Held packets in sequence order.
    held: VecDeque<Held>,
    /// Extended sequence numbers of the last slots played from a packet (a
    /// ring; `i64::MIN` is empty).
    played: [i64; PLAYED_MEMORY],
    played_at: usize,
    /// Payload buffers of released packets, reused.
    spare: Vec<Vec<u8>>,
    ssrc: Option<u32>,
    /// Extended sequence number of the next slot to play; `None` until
    /// the first packet.
    next_play: Option<i64>,
    highest: i64,
    /// Something was released since the stream (re)started.
    playing: bool,
    /// Timestamp (sender's clock) and length in 16 kHz samples of the last
    /// audio frame released, to place concealed frames.
    last_frame: Option<(u32, usize)>,
    /// The next packet starts after a gap that was not concealed.
    discontinuity: bool,
    out_seq: Option<u16>,
    pcm: Vec<i16>,
    payload: Vec<u8>,
    clock: ClockMap,
    stats: TranscodeStats,
}

impl std::fmt::Debug for Transcoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transcoder")
            .field("from", &self.from)
            .field("to", &self.to)
            .field("held", &self.held.len())
            .field("stats", &self.stats)
            .finish()
    }
}

/// What the release loop decided for one slot.
enum Slot {
    Frame,
    Conceal,
    Skip,
    Stop,
}

impl Transcoder {
    pub fn new(from: CodecEnd, to: CodecEnd) -> Result<Transcoder, UnsupportedCodec> {
        Ok(Transcoder {
            decoder: LossDecoder::new(from.codec)?,
            encoder: LegCodec::new(to.codec)?,
            from,
            to,
            held: VecDeque::with_capacity(HOLD_CAPACITY + 1),
            played: [i64::MIN; PLAYED_MEMORY],
            played_at: 0,
            spare: Vec::new(),
            ssrc: None,
            next_play: None,
            highest: 0,
            playing: false,
            last_frame: None,
            discontinuity: false,
            out_seq: None,
            pcm: Vec::with_capacity(MAX_FRAMES_PER_PACKET * 3 * FRAME),
            payload: Vec::with_capacity(1500),
            clock: ClockMap::new(from.codec.rtp_clock(), to.codec.rtp_clock()),
            stats: TranscodeStats::default(),
        })
    }

    pub fn stats(&self) -> TranscodeStats {
        self.stats
    }

    /// Packets waiting for their turn.
    pub fn held(&self) -> usize {
        self.held.len()
    }

    fn drop_packet(&mut self) -> Option<usize> {
        self.stats.dropped += 1;
        None
    }

    /// Sender's RTP clock ticks of `samples` at 16 kHz.
    fn ticks(&self, samples: usize) -> u32 {
        (samples as u64 * u64::from(self.from.codec.rtp_clock()) / u64::from(MIX_RATE)) as u32
    }

    /// Forget the held packets and the decoder's history: a new SSRC or a
    /// new numbering. Output numbering and clock go on.
    fn restart(&mut self) {
        while let Some(h) = self.held.pop_front() {
            self.spare.push(h.payload);
        }
        self.played = [i64::MIN; PLAYED_MEMORY];
        self.next_play = None;
        self.playing = false;
        self.last_frame = None;
        self.discontinuity = true;
        self.decoder.reset();
    }

    /// Files a packet into the buffer and returns its extended sequence
    /// number; `None` if it is late or a duplicate.
    fn hold(
        &mut self,
        ssrc: u32,
        seq: u16,
        kind: Kind,
        ts: u32,
        marker: bool,
        payload: &[u8],
    ) -> Option<i64> {
        if self.ssrc != Some(ssrc) {
            if self.ssrc.is_some() {
                self.restart();
            }
            self.ssrc = Some(ssrc);
        }
        let first = self.next_play.is_none();
        let mut ext = match self.next_play {
            None => EXT_BASE + i64::from(seq),
            Some(_) => self.highest + i64::from(seq.wrapping_sub(self.highest as u16) as i16),
        };
        let mut first = first;
        if !first && (ext - self.highest).abs() > MAX_SEQ_JUMP {
            self.restart();
            ext = EXT_BASE + i64::from(seq);
            first = true;
        }
        if let Some(np) = self.next_play {
            if ext < np && self.playing {
                if self.played.contains(&ext) {
                    self.stats.duplicates += 1;
                } else {
                    self.stats.late += 1;
                }
                return None;
            }
        }
        let at = self.held.partition_point(|h| h.ext < ext);
        if self.held.get(at).is_some_and(|h| h.ext == ext) {
            self.stats.duplicates += 1;
            return None;
        }
        let mut buf = self.spare.pop().unwrap_or_default();
        buf.clear();
        buf.extend_from_slice(&payload[..payload.len().min(MAX_PAYLOAD)]);
        self.held.insert(
            at,
            Held {
                ext,
                kind,
                ts,
                marker,
                payload: buf,
            },
        );
        self.next_play = Some(match self.next_play {
            // Before anything plays, an earlier packet may still be first.
            Some(np) if self.playing => np,
            Some(np) => np.min(ext),
            None => ext,
        });
        if !first && ext < self.highest {
            self.stats.reordered += 1;
        }
        self.highest = if first { ext } else { self.highest.max(ext) };
        Some(ext)
    }

    /// Takes the packet of the slot being played.
    fn pop_head(&mut self) -> Option<Held> {
        let h = self.held.pop_front()?;
        self.played[self.played_at] = h.ext;
        self.played_at = (self.played_at + 1) % PLAYED_MEMORY;
        Some(h)
    }

    /// Decide what the slot `np` holds, given what is buffered.
    fn slot(&self, np: i64, frames: usize) -> Slot {
        let Some(head) = self.held.front() else {
            return Slot::Stop;
        };
        if frames >= MAX_FRAMES_PER_PACKET {
            return Slot::Stop;
        }
        if head.ext == np {
            // Nothing earlier can come any more: waiting would only delay.
            return Slot::Frame;
        }
        // A gap: wait for the missing packet until enough newer ones show
        // it is lost rather than late.
        let due = self.highest - np >= REORDER_DEPTH || self.held.len() > HOLD_CAPACITY;
        if !due {
            return Slot::Stop;
        }
        if head.ext - np > MAX_CONCEALED_RUN || self.last_frame.is_none() {
            Slot::Skip
        } else {
            Slot::Conceal
        }
    }

    /// Whether `pcm_samples` of 16 kHz audio can go in one packet of the
    /// receiving codec.
    fn encodable(&self, pcm_samples: usize) -> bool {
        match self.to.codec {
            AudioCodec::Opus => [1, 2, 4, 6]
                .iter()
                .any(|&k| k * MIX_RATE as usize / 100 == pcm_samples),
            _ => pcm_samples > 0,
        }
    }

    /// Release what is due into one outgoing packet written to `buf`.
    fn release(&mut self, buf: &mut [u8]) -> Option<usize> {
        let mut np = self.next_play?;
        self.pcm.clear();
        let mut frames = 0usize;
        // (first timestamp in the sender's clock, marker)
        let mut first: Option<(u32, bool)> = None;
        loop {
            match self.slot(np, frames) {
                Slot::Stop => break,
                Slot::Skip => {
                    if frames > 0 {
                        break;
                    }
                    let head = self.held.front().map_or(np, |h| h.ext);
                    self.stats.skipped += (head - np) as u64;
                    np = head;
                    self.last_frame = None;
                    self.discontinuity = true;
                }
                Slot::Conceal => {
                    let Some((ts, samples)) = self.last_frame else {
                        break;
                    };
                    if !self.encodable(self.pcm.len() + samples) && frames > 0 {
                        break;
                    }
                    let ts = ts.wrapping_add(self.ticks(samples));
                    let next = self
                        .held
                        .front()
                        .filter(|h| h.ext == np + 1 && h.kind == Kind::Audio)
                        .map(|h| h.payload.as_slice());
                    self.decoder.conceal(samples, next, &mut self.pcm);
                    self.stats.concealed += 1;
                    first.get_or_insert((ts, false));
                    self.last_frame = Some((ts, samples));
                    self.playing = true;
                    np += 1;
                    frames += 1;
                }
                Slot::Frame => {
                    let (kind, ts, marker) = {
                        let h = &self.held[0];
                        (h.kind, h.ts, h.marker)
                    };
                    if kind == Kind::Other {
                        let h = self.pop_head()?;
                        self.spare.push(h.payload);
                        self.stats.dropped += 1;
                        np += 1;
                        continue;
                    }
                    if kind == Kind::Event {
                        if frames > 0 {
                            break;
                        }
                        let h = self.pop_head()?;
                        self.playing = true;
                        self.next_play = Some(np + 1);
                        let out = self.emit_event(buf, &h);
                        self.spare.push(h.payload);
                        return out;
                    }
                    if frames > 0 {
                        // A timestamp jump (silence suppression) starts a
                        // new packet, and so does a frame that would make
                        // the packet a length the codec cannot carry (the
                        // frame is assumed as long as the previous one).
                        let fits = self.last_frame.is_some_and(|(t, s)| {
                            t.wrapping_add(self.ticks(s)) == ts
                                && self.encodable(self.pcm.len() + s)
                        });
                        if !fits {
                            break;
                        }
                    }
                    let h = self.pop_head()?;
                    let before = self.pcm.len();
                    let decoded = self.decoder.decode(&h.payload, &mut self.pcm);
                    self.spare.push(h.payload);
                    np += 1;
                    self.playing = true;
                    if !decoded {
                        // An undecodable packet is as good as lost.
                        self.stats.dropped += 1;
                        self.pcm.truncate(before);
                        if let Some((t, s)) = self.last_frame {
                            self.decoder.conceal(s, None, &mut self.pcm);
                            self.stats.concealed += 1;
                            self.last_frame = Some((t.wrapping_add(self.ticks(s)), s));
                            first.get_or_insert((t.wrapping_add(self.ticks(s)), false));
                            frames += 1;
                        }
                        continue;
                    }
                    let samples = self.pcm.len() - before;
                    first.get_or_insert((ts, marker));
                    self.last_frame = Some((ts, samples));
                    frames += 1;
                }
            }
        }
        self.next_play = Some(np);
        let (ts, marker) = first?;
        self.emit_audio(buf, ts, marker)
    }

    fn next_out_seq(&mut self, seq_hint: u16) -> u16 {
        let s = self.out_seq.unwrap_or(seq_hint);
        self.out_seq = Some(s.wrapping_add(1));
        s
    }

    fn emit_audio(&mut self, buf: &mut [u8], ts: u32, marker: bool) -> Option<usize> {
        self.payload.clear();
        if !self.encodable(self.pcm.len()) || !self.encoder.encode(&self.pcm, &mut self.payload) {
            return self.drop_packet();
        }
        let len = 12 + self.payload.len();
        if len > buf.len() {
            return self.drop_packet();
        }
        let marker = marker || std::mem::take(&mut self.discontinuity);
        let seq = self.next_out_seq(0);
        let ts = self.clock.map(ts);
        write_header(
            buf,
            self.to.payload_type,
            marker,
            seq,
            ts,
            self.ssrc.unwrap_or(0),
        );
        buf[12..len].copy_from_slice(&self.payload);
        self.stats.transcoded += 1;
        Some(len)
    }

    fn emit_event(&mut self, buf: &mut [u8], h: &Held) -> Option<usize> {
        let Some(pt) = self.to.telephone_event else {
            return self.drop_packet();
        };
        let len = 12 + h.payload.len();
        if h.payload.len() < 4 || len > buf.len() {
            return self.drop_packet();
        }
        let seq = self.next_out_seq(0);
        let ts = self.clock.map(h.ts);
        write_header(buf, pt, h.marker, seq, ts, self.ssrc.unwrap_or(0));
        buf[12..len].copy_from_slice(&h.payload);
        // The event's duration counts in the RTP clock too (RFC 4733 §2.3.5).
        let d = u16::from_be_bytes([buf[14], buf[15]]);
        let scaled = self.clock.scale_duration(u32::from(d)).min(u16::MAX as u32) as u16;
        buf[14..16].copy_from_slice(&scaled.to_be_bytes());
        self.stats.events += 1;
        Some(len)
    }
}

/// Writes a fresh 12-byte header: the payload that follows is ours, so the
/// sender's CSRCs, extensions and padding do not apply to it.
fn write_header(buf: &mut [u8], pt: u8, marker: bool, seq: u16, ts: u32, ssrc: u32) {
    buf[0] = 0x80;
    buf[1] = (pt & 0x7f) | if marker { 0x80 } else { 0 };
    buf[2..4].copy_from_slice(&seq.to_be_bytes());
    buf[4..8].copy_from_slice(&ts.to_be_bytes());
    buf[8..12].copy_from_slice(&ssrc.to_be_bytes());
}

impl PacketTransform for Transcoder {
    fn transform(&mut self, class: PacketClass, buf: &mut [u8], len: usize) -> Option<usize> {
        self.process(class, buf, len).forwarded()
    }

    fn process(&mut self, class: PacketClass, buf: &mut [u8], len: usize) -> Verdict {
        if class != PacketClass::Rtp {
            // Reports about the sender's stream mean nothing to the
            // receiver of ours; the relay answers them itself.
            return Verdict::Drop;
        }
        let Some(v) = buf.get(..len).and_then(rtp_header::parse) else {
            self.stats.dropped += 1;
            return Verdict::Drop;
        };
        let (start, end) = v.payload;
        let kind = if v.payload_type == self.from.payload_type {
            Kind::Audio
        } else if Some(v.payload_type) == self.from.telephone_event {
            Kind::Event
        } else {
            Kind::Other
        };
        let payload = if kind == Kind::Other {
            &[][..]
        } else {
            &buf[start..end]
        };
        let Some(ext) = self.hold(v.ssrc, v.seq, kind, v.timestamp, v.marker, payload) else {
            return Verdict::Drop;
        };
        if self.out_seq.is_none() {
            // Start our numbering where the sender's was: as random.
            self.out_seq = Some(v.seq);
        }
        if let Some(n) = self.release(buf) {
            return Verdict::Forward(n);
        }
        // Nothing went out: either this packet waits behind a gap, or it
        // was consumed without output (comfort noise, an encoder refusal).
        if self.held.iter().any(|h| h.ext == ext) {
            self.stats.held += 1;
            Verdict::Held
        } else {
            Verdict::Drop
        }
    }

    fn terminates_rtcp(&self) -> bool {
        true
    }
}

/// Maps timestamps of one RTP clock onto another, incrementally, so that
/// reordered packets map consistently and wrap-around is harmless.
#[derive(Debug, Clone, Copy)]
struct ClockMap {
    from_rate: u32,
    to_rate: u32,
    last: Option<(u32, u32)>,
}

impl ClockMap {
    fn new(from_rate: u32, to_rate: u32) -> ClockMap {
        ClockMap {
            from_rate,
            to_rate,
            last: None,
        }
    }

    fn scale_duration(&self, d: u32) -> u32 {
        (u64::from(d) * u64::from(self.to_rate) / u64::from(self.from_rate)) as u32
    }

    fn map(&mut self, ts: u32) -> u32 {
        let out = match self.last {
            // The first packet keeps its timestamp: the receiver only needs a
            // consistent clock, and the sender's offset is as random as ours.
            None => ts,
            Some((prev_in, prev_out)) => {
                let d = i64::from(ts.wrapping_sub(prev_in) as i32);
                let scaled = d * i64::from(self.to_rate) / i64::from(self.from_rate);
                prev_out.wrapping_add(scaled as i32 as u32)
            }
        };
        self.last = Some((ts, out));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(pt: u8, seq: u16, ts: u32, payload: &[u8]) -> Vec<u8> {
        let mut p = Vec::new();
        rtp_header::write_header(&mut p, pt, false, seq, ts, 0x1234_5678);
        p.extend_from_slice(payload);
        p.resize(4096, 0);
        p
    }

    fn tone(freq: f32, rate: u32, n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| {
                (8000.0 * (2.0 * std::f32::consts::PI * freq * i as f32 / rate as f32).sin()) as i16
            })
            .collect()
    }

    const PCMU: CodecEnd = CodecEnd {
        codec: AudioCodec::Pcmu,
        payload_type: 0,
        telephone_event: Some(101),
    };
    const PCMA: CodecEnd = CodecEnd {
        codec: AudioCodec::Pcma,
        payload_type: 8,
        telephone_event: Some(96),
    };
    const OPUS: CodecEnd = CodecEnd {
        codec: AudioCodec::Opus,
        payload_type: 111,
        telephone_event: Some(110),
    };

    /// One packet out of the transcoder.
    #[derive(Debug, Clone)]
    struct Out {
        pt: u8,
        marker: bool,
        seq: u16,
        ts: u32,
        payload: Vec<u8>,
    }

    fn push(t: &mut Transcoder, pt: u8, seq: u16, ts: u32, payload: &[u8]) -> Option<Out> {
        let mut p = packet(pt, seq, ts, payload);
        let n = t.transform(PacketClass::Rtp, &mut p, 12 + payload.len())?;
        let v = rtp_header::parse(&p[..n]).unwrap();
        Some(Out {
            pt: v.payload_type,
            marker: v.marker,
            seq: v.seq,
            ts: v.timestamp,
            payload: p[v.payload.0..v.payload.1].to_vec(),
        })
    }

    /// 20 ms PCMU packets of a 440 Hz tone, sequence `seq0 + i`.
    fn ulaw_frames(n: usize) -> Vec<Vec<u8>> {
        tone(440.0, 8000, 160 * n)
            .chunks_exact(160)
            .map(|f| f.iter().map(|&s| codecs::ulaw_encode(s)).collect())
            .collect()
    }

    /// Output sequence numbers are consecutive and each timestamp follows
    /// the previous packet's end (8 kHz, one byte per sample for G.711).
    fn assert_continuous(out: &[Out]) {
        for w in out.windows(2) {
            assert_eq!(
                w[1].seq,
                w[0].seq.wrapping_add(1),
                "{:?} {:?}",
                w[0].seq,
                w[1].seq
            );
            assert_eq!(
                w[1].ts.wrapping_sub(w[0].ts),
                w[0].payload.len() as u32,
                "timestamps continuous after seq {}",
                w[0].seq
            );
        }
    }

    #[test]
    fn pcmu_to_opus_and_back_keeps_the_tone_and_rescales_the_clock() {
        let mut there = Transcoder::new(PCMU, OPUS).unwrap();
        let mut back = Transcoder::new(OPUS, PCMU).unwrap();
        let mut heard = Vec::new();
        let mut opus_ts = Vec::new();
        for (i, ulaw) in ulaw_frames(50).iter().enumerate() {
            // In order, each packet goes out as it arrives: no added delay.
            let o = push(&mut there, 0, i as u16, 1000 + 160 * i as u32, ulaw)
                .unwrap_or_else(|| panic!("packet {i} held on an in-order stream"));
            assert_eq!(o.pt, 111);
            assert!(!o.payload.is_empty());
            opus_ts.push(o.ts);
            let b = push(&mut back, 111, o.seq, o.ts, &o.payload)
                .unwrap_or_else(|| panic!("packet {i} held on the way back"));
            assert_eq!(b.pt, 0);
            assert_eq!(b.payload.len(), 160, "20 ms of PCMU back");
            heard.extend(b.payload.iter().map(|&b| codecs::ulaw_decode(b)));
        }
        assert!(
            opus_ts.windows(2).all(|w| w[1].wrapping_sub(w[0]) == 960),
            "20 ms at the 48 kHz Opus clock"
        );
        let f = codecs::dominant_frequency(&heard[1600..], 8000);
        assert!(
            (f - 440.0).abs() < 10.0,
            "heard {f} Hz after PCMU→Opus→PCMU"
        );
        assert_eq!(there.stats().transcoded, 50);
        assert_eq!((there.stats().held, there.stats().reordered), (0, 0));
        assert_eq!(there.held(), 0);
    }

    #[test]
    fn reordered_and_duplicated_packets_come_out_in_order_once() {
        let frames = ulaw_frames(12);
        let mut t = Transcoder::new(PCMU, PCMA).unwrap();
        let order = [0u16, 1, 3, 2, 4, 4, 5, 7, 6, 8, 9, 3, 10, 11];
        let mut out = Vec::new();
        let mut verdicts = Vec::new();
        for &s in &order {
            let ts = 5000 + 160 * u32::from(s);
            let mut p = packet(0, 100 + s, ts, &frames[s as usize]);
            let v = t.process(PacketClass::Rtp, &mut p, 12 + 160);
            if let Verdict::Forward(n) = v {
                let h = rtp_header::parse(&p[..n]).unwrap();
                out.push(Out {
                    pt: h.payload_type,
                    marker: h.marker,
                    seq: h.seq,
                    ts: h.timestamp,
                    payload: p[h.payload.0..h.payload.1].to_vec(),
                });
            }
            verdicts.push(v);
        }
        // Only a packet ahead of a gap waits (3 for 2, 7 for 6), and it is
        // held, not dropped; the copies of 4 and 3 are the drops.
        use Verdict::{Drop, Held};
        let kinds: Vec<char> = verdicts
            .iter()
            .map(|v| match v {
                Verdict::Forward(_) => 'F',
                Held => 'H',
                Drop => 'D',
            })
            .collect();
        assert_eq!(kinds.iter().collect::<String>(), "FFHFFDFHFFFDFF");
        let st = t.stats();
        assert_eq!(
            (st.duplicates, st.late, st.concealed, st.dropped),
            (2, 0, 0, 0),
            "{st:?}"
        );
        assert_eq!((st.held, st.reordered), (2, 2), "{st:?}");
        // All 12 distinct packets are out, nothing left held; the packet
        // that fills a gap goes out with the one held behind it.
        assert_eq!(t.held(), 0);
        let total: usize = out.iter().map(|o| o.payload.len()).sum();
        assert_eq!(total, 12 * 160);
        assert_eq!(out.len(), 10);
        assert!(out.iter().all(|o| o.pt == 8));
        assert_eq!(out[2].payload.len(), 2 * 160, "2 and 3 together");
        assert_continuous(&out);
        assert_eq!(out[0].ts, 5000, "the first packet keeps its timestamp");
        // The same audio as from a clean, in-order stream: no frame
        // swapped, doubled or concealed.
        let mut clean = Transcoder::new(PCMU, PCMA).unwrap();
        let mut want = Vec::new();
        for s in 0..12u16 {
            if let Some(o) = push(
                &mut clean,
                0,
                100 + s,
                5000 + 160 * u32::from(s),
                &frames[s as usize],
            ) {
                want.extend(o.payload);
            }
        }
        let got: Vec<u8> = out.iter().flat_map(|o| o.payload.iter().copied()).collect();
        assert!(got == want, "reordered stream decoded differently");
    }

    #[test]
    fn a_lost_packet_is_concealed_in_the_next_one_and_numbering_stays_continuous() {
        let frames = ulaw_frames(30);
        let mut t = Transcoder::new(PCMU, PCMA).unwrap();
        let mut out = Vec::new();
        for (i, f) in frames.iter().enumerate() {
            if i == 10 || i == 20 || i == 21 {
                continue;
            }
            if let Some(o) = push(&mut t, 0, 7 + i as u16, 160 * i as u32, f) {
                out.push(o);
            }
        }
        // The lost packet turning up after all is late, and dropped.
        let mut p = packet(0, 7 + 10, 1600, &frames[10]);
        assert_eq!(t.process(PacketClass::Rtp, &mut p, 12 + 160), Verdict::Drop);
        let st = t.stats();
        assert_eq!((st.concealed, st.late, st.duplicates), (3, 1, 0), "{st:?}");
        // 11 waited for 10 until 12 showed 10 lost; 22 alone is two ahead
        // of the missing 20, so 20 and 21 are concealed at once.
        assert_eq!((st.held, st.reordered), (1, 0), "{st:?}");
        assert_continuous(&out);
        // All 30 slots are out, in 26 packets: 10 (concealed) with 11 and
        // 12, and 20, 21 (concealed) with 22.
        let total: usize = out.iter().map(|o| o.payload.len()).sum();
        assert_eq!(total, 30 * 160);
        assert_eq!(out.len(), 26);
        assert_eq!(t.held(), 0);
        let long = out.iter().filter(|o| o.payload.len() > 160).count();
        assert!(long >= 1, "the catch-up goes in longer packets");
        assert!(out
            .iter()
            .all(|o| o.payload.len() <= 160 * MAX_FRAMES_PER_PACKET));
        // The concealment continues the tone rather than leaving silence.
        let pcm: Vec<i16> = out
            .iter()
            .flat_map(|o| o.payload.iter().map(|&b| codecs::alaw_decode(b)))
            .collect();
        let gap = &pcm[10 * 160..11 * 160];
        let rms = (gap.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / 160.0).sqrt();
        assert!(rms > 2000.0, "concealed frame rms {rms}");
        let f = codecs::dominant_frequency(&pcm[19 * 160..22 * 160], 8000);
        assert!((f - 440.0).abs() < 20.0, "{f} Hz across a two-frame loss");
    }

    #[test]
    fn opus_loss_is_recovered_from_the_next_packets_fec() {
        // Opus in from a sender with FEC on, G.711 out.
        let mut enc = codecs::OpusEncoder::new(16000, 1, codecs::Application::Voip, 32000).unwrap();
        enc.set_fec(true).unwrap();
        enc.set_packet_loss_percent(20).unwrap();
        let pcm = tone(440.0, 16000, 320 * 40);
        let mut t = Transcoder::new(OPUS, PCMU).unwrap();
        let mut out = Vec::new();
        for (i, f) in pcm.chunks_exact(320).enumerate() {
            let mut p = Vec::new();
            enc.encode(f, &mut p).unwrap();
            if i == 25 {
                continue;
            }
            if let Some(o) = push(&mut t, 111, i as u16, 960 * i as u32, &p) {
                out.push(o);
            }
        }
        assert_eq!(t.stats().concealed, 1);
        assert_continuous(&out);
        let heard: Vec<i16> = out
            .iter()
            .flat_map(|o| o.payload.iter().map(|&b| codecs::ulaw_decode(b)))
            .collect();
        let lost = &heard[25 * 160..26 * 160];
        let rms = (lost.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / 160.0).sqrt();
        assert!(rms > 2000.0, "FEC frame rms {rms}");
        let f = codecs::dominant_frequency(&heard[23 * 160..28 * 160], 8000);
        assert!((f - 440.0).abs() < 20.0, "{f} Hz across the loss");
    }

    #[test]
    fn a_long_gap_is_not_concealed_and_is_marked() {
        let frames = ulaw_frames(30);
        let mut t = Transcoder::new(PCMU, PCMA).unwrap();
        let mut out = Vec::new();
        for (i, f) in frames.iter().enumerate() {
            if (10..20).contains(&i) {
                continue;
            }
            if let Some(o) = push(&mut t, 0, i as u16, 160 * i as u32, f) {
                out.push(o);
            }
        }
        let st = t.stats();
        assert_eq!((st.concealed, st.skipped), (0, 10), "{st:?}");
        let jump = out
            .iter()
            .position(|o| o.marker)
            .expect("marker after the gap");
        assert_eq!(out[jump].ts, 20 * 160, "the timestamps jump with the gap");
        assert_eq!(out[jump].seq, out[jump - 1].seq.wrapping_add(1));
        let total: usize = out.iter().map(|o| o.payload.len()).sum();
        assert_eq!(total, 20 * 160, "frames 0–9 and 20–29, no filler");
        assert_eq!(st.held, 0, "a gap past the reordering span holds nothing");
    }

    #[test]
    fn a_new_ssrc_or_numbering_restarts_without_concealing() {
        let frames = ulaw_frames(10);
        let mut t = Transcoder::new(PCMU, PCMA).unwrap();
        let mut out = Vec::new();
        for (i, f) in frames.iter().enumerate() {
            let seq = if i < 5 { i as u16 } else { 40000 + i as u16 };
            if let Some(o) = push(&mut t, 0, seq, 160 * i as u32, f) {
                out.push(o);
            }
        }
        assert_eq!(t.stats().concealed, 0);
        assert_eq!(t.stats().skipped, 0);
        assert!(out.windows(2).all(|w| w[1].seq == w[0].seq.wrapping_add(1)));
    }

    #[test]
    fn events_are_remapped_in_order_and_strangers_dropped() {
        let frames = ulaw_frames(4);
        let mut t = Transcoder::new(PCMU, OPUS).unwrap();
        let mut out = Vec::new();
        for i in 0..2u16 {
            out.extend(push(
                &mut t,
                0,
                i,
                5000 + 160 * u32::from(i),
                &frames[i as usize],
            ));
        }
        // Digit 5, volume 10, duration 800 (100 ms at 8 kHz), in the
        // audio's numbering.
        for i in 2..5u16 {
            out.extend(push(&mut t, 101, i, 5320, &[5, 10, 0x03, 0x20]));
        }
        // Comfort noise in slot 5: the receiver did not negotiate it, so it
        // is a drop, not a hold.
        let mut cn = packet(13, 5, 5400, &[40]);
        assert_eq!(t.process(PacketClass::Rtp, &mut cn, 13), Verdict::Drop);
        let mut garbage = vec![0u8; 64];
        assert_eq!(t.process(PacketClass::Rtp, &mut garbage, 5), Verdict::Drop);
        for i in 6..9u16 {
            out.extend(push(&mut t, 0, i, 6000 + 160 * u32::from(i), &frames[0]));
        }
        let pts: Vec<u8> = out.iter().map(|o| o.pt).collect();
        assert_eq!(pts, [111, 111, 110, 110, 110, 111, 111, 111]);
        let e = &out[2];
        assert_eq!(e.ts.wrapping_sub(out[0].ts), 320 * 6, "rescaled to 48 kHz");
        assert_eq!(u16::from_be_bytes([e.payload[2], e.payload[3]]), 4800);
        assert!(out.windows(2).all(|w| w[1].seq == w[0].seq.wrapping_add(1)));
        // Slot 5 (comfort noise, dropped) is not concealed as lost audio.
        assert_eq!(t.stats().concealed, 0);
        assert_eq!(t.stats().dropped, 2, "the garbage and the comfort noise");
        assert_eq!(t.stats().events, 3);
        assert_eq!(t.stats().held, 0);
    }

    #[test]
    fn rtcp_is_terminated() {
        let mut t = Transcoder::new(PCMU, OPUS).unwrap();
        assert!(t.terminates_rtcp());
        let mut rtcp = vec![0x80, 200, 0, 6];
        assert_eq!(t.transform(PacketClass::Rtcp, &mut rtcp, 4), None);
    }

    #[test]
    fn the_clock_map_handles_wrap_and_reordering() {
        let mut c = ClockMap::new(8000, 48000);
        let a = c.map(u32::MAX - 159);
        let b = c.map((u32::MAX - 159).wrapping_add(160)); // wraps past zero
        assert_eq!(b.wrapping_sub(a), 960);
        let late = c.map(u32::MAX - 159);
        assert_eq!(late, a, "a reordered packet maps where it did");
        let mut d = ClockMap::new(48000, 8000);
        let x = d.map(7);
        assert_eq!(d.map(7 + 960).wrapping_sub(x), 160);
    }
}
