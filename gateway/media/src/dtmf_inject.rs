//! Digits that arrive by signalling (SIP INFO) played into the RTP stream
//! toward a leg that negotiated telephone-event (RFC 4733 §2.5.1).
//!
//! The injected events ride in the audio stream the relay already forwards
//! in that direction: same SSRC, timestamps on the audio clock, sequence
//! numbers continuous with the audio. The injector therefore owns the
//! direction's outgoing sequence numbers: every forwarded RTP packet passes
//! through [`DtmfInjector::on_forward`], which renumbers it by the count of
//! packets injected and suppressed so far, so the receiver sees neither a
//! gap nor a duplicate.
//!
//! Audio of the sending leg is suppressed while an event plays: the digit
//! came by signalling, so that audio holds no tone, and a receiver that
//! renders the event replaces the audio anyway.
//!
//! Sans-IO: time comes in as `Instant` arguments; the relay task asks
//! [`DtmfInjector::poll_timeout`] when to call [`DtmfInjector::poll_packet`].

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::dtmf::{DtmfError, DtmfEvent, DtmfSender, EventPacket};
use crate::packet::RTP_HEADER_LEN;
use crate::rtp_header;

/// Digits waiting to be played; more is a peer flooding INFOs.
pub const MAX_QUEUED: usize = 32;
/// Shortest and longest tone played for a signalled digit.
pub const MIN_DURATION_MS: u32 = 40;
pub const MAX_DURATION_MS: u32 = 5000;
/// Tone length when the INFO body gives none (`application/dtmf`).
pub const DEFAULT_DURATION_MS: u32 = 100;
/// Silence between two queued digits, so the receiver sees two presses.
pub const INTER_DIGIT_GAP: Duration = Duration::from_millis(60);
/// Spacing of the three end reports: short, so the audio mute after the
/// tone stays short.
const END_SPACING_MS: u64 = 20;

/// Why a digit was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InjectError {
    #[error("{MAX_QUEUED} digits are already waiting to be played")]
    QueueFull,
}

/// How to write events into one direction of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InjectConfig {
    /// The receiving leg's telephone-event payload type.
    pub payload_type: u8,
    /// Its clock (8000, or 48000 on an Opus leg).
    pub event_clock: u32,
    /// The RTP clock of the audio the events ride in (timestamps advance
    /// at this rate); the same as `event_clock` when the peer follows
    /// RFC 4733's advice.
    pub audio_clock: u32,
    /// Interval of the updates, 50 ms per RFC 4733 §2.5.1.2.
    pub interval_ms: u32,
    /// SSRC, first sequence number and timestamp used when no audio has
    /// been forwarded yet (the caller draws them at random).
    pub ssrc: u32,
    pub seq: u16,
    pub timestamp: u32,
}

impl InjectConfig {
    /// Events of `payload_type` at `event_clock`, riding audio at
    /// `audio_clock`, 50 ms updates, random starting values.
    pub fn new(payload_type: u8, event_clock: u32, audio_clock: u32) -> InjectConfig {
        InjectConfig {
            payload_type: payload_type & 0x7f,
            event_clock,
            audio_clock,
            interval_ms: 50,
            ssrc: rand::random(),
            seq: rand::random(),
            timestamp: rand::random(),
        }
    }
}

/// Counters, for logs and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InjectStats {
    pub digits: u64,
    pub packets: u64,
    /// Audio packets withheld while an event played.
    pub suppressed: u64,
    pub queue_full: u64,
}

/// The stream as the receiver sees it so far.
#[derive(Debug, Clone, Copy)]
struct OutStream {
    ssrc: u32,
    /// Highest sequence number sent.
    last_seq: u16,
    /// `out = in + offset` for forwarded packets of `ssrc`.
    offset: u16,
    /// A timestamp and when it was current, to place an event's start on
    /// the audio clock.
    clock: (Instant, u32),
}

#[derive(Debug)]
struct Playing {
    packets: Vec<EventPacket>,
    next: usize,
    started: Instant,
}

/// Plays queued digits as RFC 4733 events into one direction.
#[derive(Debug)]
pub struct DtmfInjector {
    cfg: InjectConfig,
    sender: DtmfSender,
    queue: VecDeque<(DtmfEvent, u32)>,
    playing: Option<Playing>,
    /// The next digit may not start before this.
    not_before: Option<Instant>,
    out: Option<OutStream>,
    stats: InjectStats,
}

impl DtmfInjector {
    pub fn new(cfg: InjectConfig) -> Result<DtmfInjector, DtmfError> {
        if cfg.audio_clock < 1000 {
            return Err(DtmfError::BadClockRate(cfg.audio_clock));
        }
        Ok(DtmfInjector {
            sender: DtmfSender::new(cfg.event_clock, cfg.interval_ms)?,
            cfg,
            queue: VecDeque::new(),
            playing: None,
            not_before: None,
            out: None,
            stats: InjectStats::default(),
        })
    }

    pub fn config(&self) -> &InjectConfig {
        &self.cfg
    }

    pub fn stats(&self) -> InjectStats {
        self.stats
    }

    /// Queue a digit of `duration_ms` (clamped to 40 ms–5 s), signalled at
    /// `now`.
    pub fn push(
        &mut self,
        now: Instant,
        event: DtmfEvent,
        duration_ms: u32,
    ) -> Result<(), InjectError> {
        if self.queue.len() >= MAX_QUEUED {
            self.stats.queue_full += 1;
            return Err(InjectError::QueueFull);
        }
        let ms = duration_ms.clamp(MIN_DURATION_MS, MAX_DURATION_MS);
        if !self.busy() {
            self.not_before = Some(self.not_before.map_or(now, |t| t.max(now)));
        }
        self.queue.push_back((event, ms));
        Ok(())
    }

    /// Whether a digit is playing or waiting.
    pub fn busy(&self) -> bool {
        self.playing.is_some() || !self.queue.is_empty()
    }

    /// When [`poll_packet`](Self::poll_packet) has something to send.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.playing {
            Some(p) => p.packets.get(p.next).map(|e| p.started + e.at),
            None if !self.queue.is_empty() => self.not_before,
            None => None,
        }
    }

    /// The next event packet due at `now`, written to `buf`; its length.
    /// Call until `None`.
    pub fn poll_packet(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        if buf.len() < RTP_HEADER_LEN + crate::dtmf::TELEPHONE_EVENT_LEN {
            return None;
        }
        if self.playing.is_none() {
            if self.not_before.is_some_and(|t| now < t) {
                return None;
            }
            let (event, ms) = self.queue.pop_front()?;
            let start_ts = self.timestamp_at(now);
            self.playing = Some(Playing {
                packets: self.schedule(event, ms, start_ts),
                next: 0,
                started: now,
            });
            self.stats.digits += 1;
        }
        let p = self.playing.as_mut()?;
        let e = *p.packets.get(p.next)?;
        if p.started + e.at > now {
            return None;
        }
        p.next += 1;
        let finished = p.next == p.packets.len();
        let out = self.out.get_or_insert(OutStream {
            ssrc: self.cfg.ssrc,
            last_seq: self.cfg.seq.wrapping_sub(1),
            offset: 0,
            clock: (now, e.timestamp),
        });
        out.last_seq = out.last_seq.wrapping_add(1);
        out.offset = out.offset.wrapping_add(1);
        let pkt = e.to_rtp(self.cfg.payload_type, out.last_seq, out.ssrc);
        buf[..pkt.len()].copy_from_slice(&pkt);
        self.stats.packets += 1;
        if finished {
            self.playing = None;
            self.not_before = Some(now + INTER_DIGIT_GAP);
        }
        Some(pkt.len())
    }

    /// A packet the relay forwards in this direction (after the other
    /// transforms, before any SRTP protection): renumbered, or `None` when
    /// it is audio withheld during an event. Non-RTP input is the caller's
    /// to filter out.
    pub fn on_forward(&mut self, now: Instant, buf: &mut [u8], len: usize) -> Option<usize> {
        let Some(v) = rtp_header::parse(&buf[..len]) else {
            return Some(len);
        };
        let same_source = self.out.as_ref().is_some_and(|o| o.ssrc == v.ssrc);
        if self.playing.is_some() && v.payload_type != self.cfg.payload_type {
            self.stats.suppressed += 1;
            if let Some(out) = self.out.as_mut().filter(|_| same_source) {
                // The next forwarded packet takes this one's number.
                out.offset = out.offset.wrapping_sub(1);
            }
            return None;
        }
        if !same_source {
            // First packet, or a new source (after events that went out
            // before any audio, for one): its own number space.
            self.out = Some(OutStream {
                ssrc: v.ssrc,
                last_seq: v.seq,
                offset: 0,
                clock: (now, v.timestamp),
            });
        }
        let out = self.out.as_mut()?;
        let seq = v.seq.wrapping_add(out.offset);
        if seq.wrapping_sub(out.last_seq) as i16 > 0 {
            out.last_seq = seq;
            out.clock = (now, v.timestamp);
        }
        buf[2..4].copy_from_slice(&seq.to_be_bytes());
        Some(len)
    }

    /// Where the audio clock stands at `now`: the newest forwarded
    /// timestamp moved on by the time since it arrived.
    fn timestamp_at(&self, now: Instant) -> u32 {
        match &self.out {
            Some(o) => {
                let (at, ts) = o.clock;
                let elapsed = now.saturating_duration_since(at);
                let units = elapsed.as_micros() * u128::from(self.cfg.audio_clock) / 1_000_000;
                ts.wrapping_add(units as u32)
            }
            None => self.cfg.timestamp,
        }
    }

    /// RFC 4733 §2.5.1 packets with the end reports close together.
    fn schedule(&self, event: DtmfEvent, ms: u32, start_ts: u32) -> Vec<EventPacket> {
        let mut packets = self.sender.packets(event, ms, start_ts);
        let tone = Duration::from_millis(u64::from(ms));
        for (i, p) in packets.iter_mut().filter(|p| p.report.end).enumerate() {
            p.at = tone + Duration::from_millis(END_SPACING_MS * i as u64);
        }
        packets
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtmf::{split_rtp, DtmfNotification, DtmfReceiver, TelephoneEvent};

    fn audio(seq: u16, ts: u32) -> Vec<u8> {
        let mut p = Vec::new();
        rtp_header::write_header(&mut p, 0, false, seq, ts, 0xAB);
        p.extend_from_slice(&[0xd5; 160]);
        p
    }

    fn cfg() -> InjectConfig {
        InjectConfig {
            payload_type: 101,
            event_clock: 8000,
            audio_clock: 8000,
            interval_ms: 50,
            ssrc: 0x5555,
            seq: 9000,
            timestamp: 777,
        }
    }

    /// What left the injector: (seq, pt, marker, ts, event) per packet,
    /// with audio flowing every 20 ms from `t0` for `frames` frames.
    fn run(
        inj: &mut DtmfInjector,
        t0: Instant,
        frames: u16,
        digit_at: u16,
        digit: (char, u32),
    ) -> Vec<(u16, u8, bool, u32, Option<TelephoneEvent>, u32)> {
        let mut sent = Vec::new();
        let mut buf = [0u8; 512];
        // Millisecond steps, so injected packets go out on their schedule
        // between audio packets.
        for ms in 0..u32::from(frames) * 20 {
            let now = t0 + Duration::from_millis(u64::from(ms));
            if ms == u32::from(digit_at) * 20 + 5 {
                let e = DtmfEvent::from_char(digit.0).unwrap();
                inj.push(now, e, digit.1).unwrap();
            }
            if ms % 20 == 0 {
                let i = (ms / 20) as u16;
                let mut p = audio(1000 + i, 160 * u32::from(i));
                let n = p.len();
                if let Some(n) = inj.on_forward(now, &mut p, n) {
                    sent.push(p[..n].to_vec());
                }
            }
            while inj.poll_timeout().is_some_and(|t| t <= now) {
                match inj.poll_packet(now, &mut buf) {
                    Some(n) => sent.push(buf[..n].to_vec()),
                    None => break,
                }
            }
        }
        sent.iter()
            .map(|p| {
                let v = split_rtp(p).unwrap();
                let ev = (v.payload_type == 101).then(|| TelephoneEvent::parse(v.payload).unwrap());
                (
                    v.sequence,
                    v.payload_type,
                    v.marker,
                    v.timestamp,
                    ev,
                    v.ssrc,
                )
            })
            .collect()
    }

    #[test]
    fn an_injected_digit_follows_rfc_4733_within_the_audio_stream() {
        let mut inj = DtmfInjector::new(cfg()).unwrap();
        let t0 = Instant::now();
        let out = run(&mut inj, t0, 40, 10, ('5', 160));
        // No gaps, no duplicates: one stream, numbered on.
        for w in out.windows(2) {
            assert_eq!(w[1].0, w[0].0.wrapping_add(1), "{out:?}");
        }
        assert!(out.iter().all(|p| p.5 == 0xAB), "the audio's SSRC");
        let events: Vec<_> = out.iter().filter(|p| p.1 == 101).collect();
        let first = events[0];
        assert!(first.2, "marker on the first report");
        assert!(events[1..].iter().all(|e| !e.2), "and only there");
        // Placed on the audio clock: 5 ms after frame 10 (ts 1600).
        assert_eq!(first.3, 1600 + 40);
        assert!(
            events.iter().all(|e| e.3 == first.3),
            "one timestamp per event"
        );
        let reports: Vec<TelephoneEvent> = events.iter().map(|e| e.4.unwrap()).collect();
        assert!(reports.iter().all(|r| r.event == 5));
        let ends: Vec<_> = reports.iter().filter(|r| r.end).collect();
        assert_eq!(ends.len(), 3, "three end reports");
        assert!(ends.iter().all(|r| r.duration == 1280), "160 ms at 8 kHz");
        let updates: Vec<u16> = reports
            .iter()
            .filter(|r| !r.end)
            .map(|r| r.duration)
            .collect();
        assert_eq!(updates, [400, 800, 1200, 1280], "every 50 ms");
        assert!(
            reports.iter().rev().take(3).all(|r| r.end),
            "ends come last"
        );
        // Audio during the tone was withheld, audio after it resumes.
        let last_event = out.iter().rposition(|p| p.1 == 101).unwrap();
        let resumed = &out[last_event + 1];
        assert_eq!(resumed.1, 0);
        assert!(resumed.3 > first.3 + 1280, "audio resumes after the tone");
        assert!(inj.stats().suppressed >= 9);
        assert_eq!(inj.stats().packets, 7);
        // A receiver hears exactly one 160 ms '5'.
        let mut rx = DtmfReceiver::new(8000).unwrap();
        for e in &events {
            rx.on_packet(t0, e.0, e.3, e.2, &e.4.unwrap().to_bytes())
                .unwrap();
        }
        assert!(matches!(
            rx.poll_event(),
            Some(DtmfNotification::Began { .. })
        ));
        assert!(matches!(
            rx.poll_event(),
            Some(DtmfNotification::Ended { duration: 1280, .. })
        ));
        assert_eq!(rx.poll_event(), None);
    }

    #[test]
    fn digits_before_any_audio_and_queued_digits() {
        let mut inj = DtmfInjector::new(cfg()).unwrap();
        let t0 = Instant::now();
        let mut buf = [0u8; 64];
        inj.push(t0, DtmfEvent::from_char('1').unwrap(), 100)
            .unwrap();
        inj.push(t0, DtmfEvent::from_char('#').unwrap(), 2).unwrap(); // clamped to 40
        let mut sent = Vec::new();
        for ms in 0..1000u64 {
            let now = t0 + Duration::from_millis(ms);
            while let Some(n) = inj.poll_packet(now, &mut buf) {
                sent.push((
                    now,
                    split_rtp(&buf[..n])
                        .map(|v| (v.sequence, v.timestamp, v.ssrc, v.marker))
                        .unwrap(),
                    TelephoneEvent::parse(&buf[12..n]).unwrap(),
                ));
            }
        }
        assert!(!inj.busy());
        let seqs: Vec<u16> = sent.iter().map(|s| s.1 .0).collect();
        assert_eq!(seqs[0], 9000, "the configured start");
        assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1));
        assert!(sent.iter().all(|s| s.1 .2 == 0x5555));
        let second: Vec<_> = sent.iter().filter(|s| s.2.event == 11).collect();
        assert!(second[0].1 .3, "the next digit has its own marker");
        let first_end = sent.iter().rfind(|s| s.2.event == 1 && s.2.end).unwrap();
        assert!(
            second[0].0 >= first_end.0 + INTER_DIGIT_GAP,
            "a pause between digits"
        );
        let ts1 = sent[0].1 .1;
        assert_eq!(ts1, 777);
        assert!(
            second[0].1 .1.wrapping_sub(ts1) >= 800 + 480,
            "the next event starts later on the clock"
        );
        assert_eq!(second.iter().filter(|s| s.2.end).count(), 3);
        assert!(second
            .iter()
            .filter(|s| s.2.end)
            .all(|s| s.2.duration == 320));
        // Audio arriving after the events is a source of its own.
        let mut p = audio(50, 99999);
        let n = p.len();
        inj.on_forward(t0 + Duration::from_secs(2), &mut p, n)
            .unwrap();
        let v = split_rtp(&p).unwrap();
        assert_eq!((v.sequence, v.ssrc), (50, 0xAB));
    }

    #[test]
    fn a_flood_of_digits_is_bounded() {
        let mut inj = DtmfInjector::new(cfg()).unwrap();
        let e = DtmfEvent::from_char('9').unwrap();
        for _ in 0..MAX_QUEUED {
            inj.push(Instant::now(), e, 100).unwrap();
        }
        assert_eq!(
            inj.push(Instant::now(), e, 100),
            Err(InjectError::QueueFull)
        );
        assert_eq!(inj.stats().queue_full, 1);
    }

    #[test]
    fn opus_leg_events_use_the_48k_clock() {
        let mut c = cfg();
        c.event_clock = 48000;
        c.audio_clock = 48000;
        let mut inj = DtmfInjector::new(c).unwrap();
        let t0 = Instant::now();
        let mut p = audio(1, 48_000);
        let n = p.len();
        inj.on_forward(t0, &mut p, n).unwrap();
        inj.push(t0, DtmfEvent::from_char('0').unwrap(), 100)
            .unwrap();
        let mut buf = [0u8; 64];
        let now = t0 + Duration::from_millis(10);
        let n = inj.poll_packet(now, &mut buf).unwrap();
        let v = split_rtp(&buf[..n]).unwrap();
        assert_eq!(v.timestamp, 48_000 + 480, "10 ms at 48 kHz");
        assert_eq!(TelephoneEvent::parse(v.payload).unwrap().duration, 2400);
        let end = t0 + Duration::from_secs(1);
        let mut last = None;
        while let Some(n) = inj.poll_packet(end, &mut buf) {
            last = Some(TelephoneEvent::parse(&buf[12..n]).unwrap());
        }
        let last = last.unwrap();
        assert!(last.end);
        assert_eq!(last.duration, 4800, "100 ms at 48 kHz");
    }
}
