//! Transcoding one direction of a two-leg call, packet by packet: the
//! payload of the sending leg's codec is decoded to 16 kHz PCM and encoded
//! in the receiving leg's codec, with the payload type and the timestamp
//! clock rewritten. Sequence numbers, SSRC and marker pass unchanged, so
//! the receiver's loss and jitter statistics still describe the sender.
//!
//! One packet in gives one packet out of the same duration: both legs
//! negotiated their own ptime, but this path forwards the sender's packet
//! time, which every codec here can carry (Opus frames of 10–60 ms, G.711
//! and G.722 any whole milliseconds). RFC 4733 events are forwarded with
//! their payload type mapped and their timestamps and durations rescaled;
//! other payload types (comfort noise, a stray video PT) are dropped, as
//! the receiver did not negotiate them. RTCP passes through.

use std::collections::VecDeque;

use gateway_callmodel::AudioCodec;

use crate::meeting::codec::LegCodec;
use crate::meeting::UnsupportedCodec;
use crate::packet::PacketClass;
use crate::rtp_header;
use crate::transform::PacketTransform;

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
    pub transcoded: u64,
    pub events: u64,
    pub dropped: u64,
}

/// Decodes `from`'s codec, encodes `to`'s: install it as the transform of
/// the direction whose packets come from the `from` leg.
pub struct Transcoder {
    from: CodecEnd,
    to: CodecEnd,
    decoder: LegCodec,
    encoder: LegCodec,
    pcm: VecDeque<i16>,
    frame: Vec<i16>,
    payload: Vec<u8>,
    clock: ClockMap,
    stats: TranscodeStats,
}

impl std::fmt::Debug for Transcoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transcoder")
            .field("from", &self.from)
            .field("to", &self.to)
            .field("stats", &self.stats)
            .finish()
    }
}

impl Transcoder {
    pub fn new(from: CodecEnd, to: CodecEnd) -> Result<Transcoder, UnsupportedCodec> {
        Ok(Transcoder {
            decoder: LegCodec::new(from.codec)?,
            encoder: LegCodec::new(to.codec)?,
            from,
            to,
            pcm: VecDeque::with_capacity(4 * crate::meeting::FRAME),
            frame: Vec::with_capacity(4 * crate::meeting::FRAME),
            payload: Vec::with_capacity(1500),
            clock: ClockMap::new(from.codec.rtp_clock(), to.codec.rtp_clock()),
            stats: TranscodeStats::default(),
        })
    }

    pub fn stats(&self) -> TranscodeStats {
        self.stats
    }

    fn drop_packet(&mut self) -> Option<usize> {
        self.stats.dropped += 1;
        None
    }

    fn audio(&mut self, buf: &mut [u8], start: usize, end: usize, ts: u32) -> Option<usize> {
        self.pcm.clear();
        if !self.decoder.decode(&buf[start..end], &mut self.pcm) || self.pcm.is_empty() {
            return self.drop_packet();
        }
        self.frame.clear();
        self.frame.extend(self.pcm.iter().copied());
        self.payload.clear();
        if !self.encoder.encode(&self.frame, &mut self.payload) {
            return self.drop_packet();
        }
        let out_len = start + self.payload.len();
        if out_len > buf.len() {
            return self.drop_packet();
        }
        buf[start..out_len].copy_from_slice(&self.payload);
        finish_header(buf, self.to.payload_type, self.clock.map(ts));
        self.stats.transcoded += 1;
        Some(out_len)
    }

    fn event(&mut self, buf: &mut [u8], start: usize, end: usize, ts: u32) -> Option<usize> {
        let Some(pt) = self.to.telephone_event else {
            return self.drop_packet();
        };
        if end - start < 4 {
            return self.drop_packet();
        }
        // The event's duration counts in the RTP clock too (RFC 4733 §2.3.5).
        let d = u16::from_be_bytes([buf[start + 2], buf[start + 3]]);
        let scaled = self.clock.scale_duration(u32::from(d)).min(u16::MAX as u32) as u16;
        buf[start + 2..start + 4].copy_from_slice(&scaled.to_be_bytes());
        finish_header(buf, pt, self.clock.map(ts));
        self.stats.events += 1;
        Some(end)
    }
}

/// Writes the new payload type and timestamp and clears the padding bit
/// (the payload was rewritten without it).
fn finish_header(buf: &mut [u8], pt: u8, ts: u32) {
    buf[0] &= !0x20;
    buf[1] = (buf[1] & 0x80) | (pt & 0x7f);
    buf[4..8].copy_from_slice(&ts.to_be_bytes());
}

impl PacketTransform for Transcoder {
    fn transform(&mut self, class: PacketClass, buf: &mut [u8], len: usize) -> Option<usize> {
        if class != PacketClass::Rtp {
            return Some(len);
        }
        let Some(v) = rtp_header::parse(&buf[..len]) else {
            return self.drop_packet();
        };
        let (start, end) = v.payload;
        if v.payload_type == self.from.payload_type {
            self.audio(buf, start, end, v.timestamp)
        } else if Some(v.payload_type) == self.from.telephone_event {
            self.event(buf, start, end, v.timestamp)
        } else {
            self.drop_packet()
        }
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
    const OPUS: CodecEnd = CodecEnd {
        codec: AudioCodec::Opus,
        payload_type: 111,
        telephone_event: Some(110),
    };

    #[test]
    fn pcmu_to_opus_and_back_keeps_the_tone_and_rescales_the_clock() {
        let mut there = Transcoder::new(PCMU, OPUS).unwrap();
        let mut back = Transcoder::new(OPUS, PCMU).unwrap();
        let pcm = tone(440.0, 8000, 160 * 50);
        let mut heard = Vec::new();
        let mut opus_ts = Vec::new();
        for (i, frame) in pcm.chunks_exact(160).enumerate() {
            let ulaw: Vec<u8> = frame.iter().map(|&s| codecs::ulaw_encode(s)).collect();
            let mut p = packet(0, i as u16, 1000 + 160 * i as u32, &ulaw);
            let n = there.transform(PacketClass::Rtp, &mut p, 12 + 160).unwrap();
            let v = rtp_header::parse(&p[..n]).unwrap();
            assert_eq!((v.payload_type, v.seq), (111, i as u16));
            opus_ts.push(v.timestamp);
            let n = back.transform(PacketClass::Rtp, &mut p, n).unwrap();
            let v = rtp_header::parse(&p[..n]).unwrap();
            assert_eq!(v.payload_type, 0);
            assert_eq!(v.payload.1 - v.payload.0, 160, "20 ms of PCMU back");
            heard.extend(
                p[v.payload.0..v.payload.1]
                    .iter()
                    .map(|&b| codecs::ulaw_decode(b)),
            );
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
    }

    #[test]
    fn events_are_remapped_and_rescaled_and_strangers_dropped() {
        let mut t = Transcoder::new(PCMU, OPUS).unwrap();
        // Digit 5, end bit clear, volume 10, duration 800 (100 ms at 8 kHz).
        let mut p = packet(101, 1, 5000, &[5, 10, 0x03, 0x20]);
        let n = t.transform(PacketClass::Rtp, &mut p, 16).unwrap();
        let v = rtp_header::parse(&p[..n]).unwrap();
        assert_eq!((v.payload_type, v.timestamp), (110, 5000));
        assert_eq!(u16::from_be_bytes([p[14], p[15]]), 4800, "100 ms at 48 kHz");
        let mut cn = packet(13, 2, 5160, &[40]);
        assert_eq!(t.transform(PacketClass::Rtp, &mut cn, 13), None);
        let mut garbage = vec![0u8; 64];
        assert_eq!(t.transform(PacketClass::Rtp, &mut garbage, 5), None);
        assert_eq!(t.stats().dropped, 2);
        let mut rtcp = vec![0x80, 200, 0, 6];
        assert_eq!(t.transform(PacketClass::Rtcp, &mut rtcp, 4), Some(4));
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
