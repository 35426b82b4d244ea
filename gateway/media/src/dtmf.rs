//! DTMF: RFC 4733 telephone-events in RTP, and the SIP INFO bodies
//! (`application/dtmf-relay`, `application/dtmf`) that older peers use
//! instead.
//!
//! Sans-IO: the receiver and sender take RTP fields, payloads and `Instant`s
//! as arguments and hand back values; the owner of the media session sends
//! and schedules.
//!
//! - [`TelephoneEvent`]: the 4-byte event payload.
//! - [`DtmfReceiver`]: packets → one `Began` and one `Ended` per key press,
//!   whatever the network did to the packets on the way.
//! - [`DtmfSender`]: a key press → the packet schedule of RFC 4733 §2.5.1.
//! - [`EventPtRemapper`]: rewrite the telephone-event payload type when
//!   forwarding between legs that negotiated different numbers.
//! - [`EventForwarder`]: that, plus the marker regenerated where the
//!   first report of an event came without one.
//! - [`parse_dtmf_relay`], [`format_dtmf_relay`], [`parse_application_dtmf`],
//!   [`format_application_dtmf`]: SIP INFO bodies.

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use crate::packet::{self, PacketClass, RTP_HEADER_LEN};

/// Length of one event block in a telephone-event payload (RFC 4733 §2.3).
pub const TELEPHONE_EVENT_LEN: usize = 4;
/// Largest duration one event report (or segment) can express.
pub const MAX_SEGMENT_DURATION: u16 = 0xFFFF;
/// Default volume of generated events: −10 dBm0, a typical keypad level.
pub const DEFAULT_VOLUME: u8 = 10;

/// Why DTMF input was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DtmfError {
    #[error("telephone-event payload of {0} bytes is shorter than 4")]
    PayloadTooShort(usize),
    #[error("event code {0} is not a DTMF digit or flash")]
    NotDtmf(u8),
    #[error("'{0}' is not a DTMF signal")]
    UnknownSignal(String),
    #[error("DTMF body has no Signal line")]
    MissingSignal,
    #[error("DTMF duration '{0}' is not a number of milliseconds")]
    BadDuration(String),
    #[error("not an RTP packet: {0}")]
    NotRtp(#[from] packet::MalformedPacket),
    #[error("RTP header of {header} bytes (with extension/padding) does not fit in {len}")]
    RtpOverrun { header: usize, len: usize },
    #[error("clock rate {0} Hz is not usable for telephone-events")]
    BadClockRate(u32),
}

/// Keep error text short when it echoes peer input.
fn echo(s: &str) -> String {
    s.chars().take(16).collect()
}

/// A DTMF digit (`0`–`9`, `*`, `#`, `A`–`D`) or hook flash: event codes
/// 0–16 of RFC 4733 §3.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DtmfEvent(u8);

impl DtmfEvent {
    /// Event 16, hook flash. Written `!` in SIP INFO bodies, as Cisco and
    /// most PBXes do.
    pub const FLASH: DtmfEvent = DtmfEvent(16);

    /// From an RFC 4733 event code; `None` for codes that are not DTMF.
    pub fn from_code(code: u8) -> Option<Self> {
        (code <= 16).then_some(DtmfEvent(code))
    }

    /// From a keypad character (`a`–`d` accepted) or `!` for flash.
    pub fn from_char(c: char) -> Option<Self> {
        let code = match c {
            '0'..='9' => c as u8 - b'0',
            '*' => 10,
            '#' => 11,
            'A'..='D' => 12 + (c as u8 - b'A'),
            'a'..='d' => 12 + (c as u8 - b'a'),
            '!' => 16,
            _ => return None,
        };
        Some(DtmfEvent(code))
    }

    pub fn code(self) -> u8 {
        self.0
    }

    /// The keypad character; `!` for flash.
    pub fn to_char(self) -> char {
        match self.0 {
            0..=9 => (b'0' + self.0) as char,
            10 => '*',
            11 => '#',
            12..=15 => (b'A' + self.0 - 12) as char,
            _ => '!',
        }
    }

    pub fn is_flash(self) -> bool {
        self.0 == 16
    }
}

impl fmt::Display for DtmfEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_char())
    }
}

/// One telephone-event report (RFC 4733 §2.3). `event` is kept raw so that
/// non-DTMF events can be forwarded untouched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    pub event: u8,
    /// E bit: this report ends the event.
    pub end: bool,
    /// Power level in −dBm0, 0–63.
    pub volume: u8,
    /// Duration so far, in RTP timestamp units, from the packet's timestamp.
    pub duration: u16,
}

impl TelephoneEvent {
    /// Parse the first event block of a payload. Any further blocks are
    /// redundancy (RFC 4733 §2.5.1.5 / RFC 2198 style) and are ignored.
    pub fn parse(payload: &[u8]) -> Result<Self, DtmfError> {
        if payload.len() < TELEPHONE_EVENT_LEN {
            return Err(DtmfError::PayloadTooShort(payload.len()));
        }
        Ok(TelephoneEvent {
            event: payload[0],
            end: payload[1] & 0x80 != 0,
            // The R bit (0x40) is reserved: ignored on receipt.
            volume: payload[1] & 0x3f,
            duration: u16::from_be_bytes([payload[2], payload[3]]),
        })
    }

    pub fn to_bytes(&self) -> [u8; TELEPHONE_EVENT_LEN] {
        let d = self.duration.to_be_bytes();
        [
            self.event,
            (u8::from(self.end) << 7) | (self.volume & 0x3f),
            d[0],
            d[1],
        ]
    }

    /// The DTMF digit, if the event is one.
    pub fn dtmf(&self) -> Option<DtmfEvent> {
        DtmfEvent::from_code(self.event)
    }
}

/// The fields of an RTP packet the DTMF code needs, borrowed from the
/// datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpView<'a> {
    pub marker: bool,
    pub payload_type: u8,
    pub sequence: u16,
    pub timestamp: u32,
    pub ssrc: u32,
    pub payload: &'a [u8],
}

/// Split an RTP packet into header fields and payload, skipping CSRCs and
/// the header extension and removing padding. Validation of version and
/// CSRC count is [`packet::inspect`]'s.
pub fn split_rtp(datagram: &[u8]) -> Result<RtpView<'_>, DtmfError> {
    let info = packet::inspect(datagram, false, false)?;
    debug_assert_eq!(info.class, PacketClass::Rtp);
    let len = datagram.len();
    let mut header = RTP_HEADER_LEN + 4 * usize::from(datagram[0] & 0x0f);
    if datagram[0] & 0x10 != 0 {
        if header + 4 > len {
            return Err(DtmfError::RtpOverrun {
                header: header + 4,
                len,
            });
        }
        let words = u16::from_be_bytes([datagram[header + 2], datagram[header + 3]]);
        header += 4 + 4 * usize::from(words);
    }
    let mut end = len;
    if datagram[0] & 0x20 != 0 && len > 0 {
        end = len.saturating_sub(usize::from(datagram[len - 1]));
    }
    if header > end || (datagram[0] & 0x20 != 0 && datagram[len - 1] == 0) {
        return Err(DtmfError::RtpOverrun { header, len });
    }
    Ok(RtpView {
        marker: datagram[1] & 0x80 != 0,
        payload_type: datagram[1] & 0x7f,
        sequence: u16::from_be_bytes([datagram[2], datagram[3]]),
        timestamp: u32::from_be_bytes([datagram[4], datagram[5], datagram[6], datagram[7]]),
        ssrc: info.ssrc,
        payload: &datagram[header..end],
    })
}

/// Why the receiver considers an event over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// A report with the E bit arrived.
    EndBit,
    /// A report for a later event arrived before any end report.
    NextEvent,
    /// No report for the idle time (all end reports lost).
    Timeout,
    /// The owner closed the stream.
    Flush,
}

/// What the receiver tells its owner; each key press yields exactly one
/// `Began` followed by exactly one `Ended`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtmfNotification {
    Began {
        event: DtmfEvent,
        /// RTP timestamp of the event's first segment.
        timestamp: u32,
    },
    Ended {
        event: DtmfEvent,
        timestamp: u32,
        /// Total duration in RTP timestamp units, over all segments; the
        /// longest duration seen if the end report was lost.
        duration: u64,
        reason: EndReason,
    },
}

/// Counters of what the receiver dropped, for diagnostics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DtmfReceiverStats {
    pub packets: u64,
    /// Reports for an event already ended (e.g. the 2nd and 3rd end packet).
    pub duplicates: u64,
    /// Reports for an event older than one already seen.
    pub late: u64,
    /// Valid telephone-events that are not DTMF (tones, line events).
    pub non_dtmf: u64,
    /// Same timestamp as the current event but another event code.
    pub conflicting: u64,
}

#[derive(Debug, Clone, Copy)]
struct ActiveEvent {
    event: DtmfEvent,
    first_ts: u32,
    segment_ts: u32,
    segment_duration: u16,
    /// Length of the segments before the current one.
    prior: u64,
    last_seen: Instant,
}

/// How many ended timestamps are remembered to recognise retransmitted and
/// reordered reports. End reports come within ~100 ms; a few events of
/// history are plenty.
const RECENT: usize = 8;

/// Turns a stream of telephone-event packets into key presses, each reported
/// once.
///
/// An event is identified by its RTP timestamp (RFC 4733 §2.5.2.1), not by
/// the marker bit, which is lost with the first packet, nor by the E bit,
/// which comes three times or not at all. One receiver per SSRC: on a new
/// SSRC the owner starts a new receiver.
#[derive(Debug)]
pub struct DtmfReceiver {
    clock_rate: u32,
    idle_end: Duration,
    current: Option<ActiveEvent>,
    recent: [Option<u32>; RECENT],
    recent_pos: usize,
    /// Newest event/segment timestamp and the sequence number it came with:
    /// the reference for "late" and for detecting a timestamp restart.
    newest: Option<(u32, u16)>,
    out: VecDeque<DtmfNotification>,
    stats: DtmfReceiverStats,
}

impl DtmfReceiver {
    /// `clock_rate`: the telephone-event clock (8000, 16000, 48000 …).
    pub fn new(clock_rate: u32) -> Result<Self, DtmfError> {
        if clock_rate < 1000 {
            return Err(DtmfError::BadClockRate(clock_rate));
        }
        Ok(DtmfReceiver {
            clock_rate,
            idle_end: Duration::from_millis(1000),
            current: None,
            recent: [None; RECENT],
            recent_pos: 0,
            newest: None,
            out: VecDeque::new(),
            stats: DtmfReceiverStats::default(),
        })
    }

    /// How long without a report before an unfinished event is ended
    /// (default 1 s: senders update every 50 ms or so).
    pub fn with_idle_end(mut self, idle: Duration) -> Self {
        self.idle_end = idle;
        self
    }

    pub fn clock_rate(&self) -> u32 {
        self.clock_rate
    }

    pub fn stats(&self) -> DtmfReceiverStats {
        self.stats
    }

    /// Feed a full RTP packet already known to carry telephone-events.
    pub fn on_rtp(&mut self, now: Instant, datagram: &[u8]) -> Result<(), DtmfError> {
        let v = split_rtp(datagram)?;
        self.on_packet(now, v.sequence, v.timestamp, v.marker, v.payload)
    }

    /// Feed one telephone-event packet by its RTP fields and payload.
    pub fn on_packet(
        &mut self,
        now: Instant,
        seq: u16,
        timestamp: u32,
        marker: bool,
        payload: &[u8],
    ) -> Result<(), DtmfError> {
        let report = TelephoneEvent::parse(payload)?;
        self.stats.packets += 1;
        let Some(event) = report.dtmf() else {
            self.stats.non_dtmf += 1;
            return Ok(());
        };
        if self.recent.contains(&Some(timestamp)) {
            self.stats.duplicates += 1;
            return Ok(());
        }
        if let Some(cur) = self.current.as_mut() {
            if timestamp == cur.segment_ts {
                if event != cur.event {
                    self.stats.conflicting += 1;
                    return Ok(());
                }
                cur.segment_duration = cur.segment_duration.max(report.duration);
                cur.last_seen = now;
                if report.end {
                    self.close(EndReason::EndBit);
                }
                return Ok(());
            }
        }
        if let Some((newest_ts, newest_seq)) = self.newest {
            let ts_delta = timestamp.wrapping_sub(newest_ts) as i32;
            let seq_delta = seq.wrapping_sub(newest_seq) as i16;
            // Timestamp older than the newest event: a straggler, unless the
            // sequence number moved on, which means the peer restarted its
            // timestamps (new source, re-INVITE) and this is a new event.
            if ts_delta < 0 && seq_delta <= 0 {
                self.stats.late += 1;
                return Ok(());
            }
        }
        let next_segment = self.current.is_some_and(|cur| {
            event == cur.event
                && !marker
                && self.is_next_segment(timestamp.wrapping_sub(cur.segment_ts))
        });
        if let Some(cur) = self.current.as_mut() {
            if next_segment {
                let delta = timestamp.wrapping_sub(cur.segment_ts);
                let old = cur.segment_ts;
                cur.prior += u64::from(delta);
                cur.segment_ts = timestamp;
                cur.segment_duration = report.duration;
                cur.last_seen = now;
                self.remember(old);
                self.newest = Some((timestamp, seq));
                if report.end {
                    self.close(EndReason::EndBit);
                }
                return Ok(());
            }
            self.close(EndReason::NextEvent);
        }
        self.current = Some(ActiveEvent {
            event,
            first_ts: timestamp,
            segment_ts: timestamp,
            segment_duration: report.duration,
            prior: 0,
            last_seen: now,
        });
        self.newest = Some((timestamp, seq));
        self.out
            .push_back(DtmfNotification::Began { event, timestamp });
        if report.end {
            self.close(EndReason::EndBit);
        }
        Ok(())
    }

    /// A new segment of a long event starts 0xFFFF after the previous one
    /// (RFC 4733 §2.5.1.3); a second press of the same key starts only
    /// after the first one's (short) duration plus a pause. Allow 100 ms of
    /// rounding by senders.
    fn is_next_segment(&self, delta: u32) -> bool {
        let slack = self.clock_rate / 10;
        let full = u32::from(MAX_SEGMENT_DURATION);
        delta >= full.saturating_sub(slack) && delta <= full + slack
    }

    fn remember(&mut self, ts: u32) {
        self.recent[self.recent_pos] = Some(ts);
        self.recent_pos = (self.recent_pos + 1) % RECENT;
    }

    fn close(&mut self, reason: EndReason) {
        if let Some(cur) = self.current.take() {
            self.remember(cur.segment_ts);
            self.out.push_back(DtmfNotification::Ended {
                event: cur.event,
                timestamp: cur.first_ts,
                duration: cur.prior + u64::from(cur.segment_duration),
                reason,
            });
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) should be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.current.map(|c| c.last_seen + self.idle_end)
    }

    /// End an event whose end reports never came.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(deadline) = self.poll_timeout() {
            if now >= deadline {
                self.close(EndReason::Timeout);
            }
        }
    }

    /// End any event in progress (stream closed, leg ended).
    pub fn flush(&mut self) {
        self.close(EndReason::Flush);
    }

    /// Next notification, in order.
    pub fn poll_event(&mut self) -> Option<DtmfNotification> {
        self.out.pop_front()
    }
}

/// Timestamp units for a duration in milliseconds at a clock rate.
pub fn ms_to_units(ms: u32, clock_rate: u32) -> u64 {
    u64::from(ms) * u64::from(clock_rate) / 1000
}

/// Milliseconds for a duration in timestamp units (rounded down).
pub fn units_to_ms(units: u64, clock_rate: u32) -> u64 {
    if clock_rate == 0 {
        return 0;
    }
    units * 1000 / u64::from(clock_rate)
}

/// One packet of a generated event. The owner puts it in an RTP packet
/// with its own sequence number and SSRC (shared with the audio stream) at
/// `start + at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventPacket {
    /// Send time relative to the key press.
    pub at: Duration,
    pub timestamp: u32,
    pub marker: bool,
    pub report: TelephoneEvent,
}

impl EventPacket {
    /// The complete RTP packet (no CSRC, no extension).
    pub fn to_rtp(&self, payload_type: u8, seq: u16, ssrc: u32) -> [u8; 16] {
        let mut p = [0u8; RTP_HEADER_LEN + TELEPHONE_EVENT_LEN];
        p[0] = 0x80;
        p[1] = (u8::from(self.marker) << 7) | (payload_type & 0x7f);
        p[2..4].copy_from_slice(&seq.to_be_bytes());
        p[4..8].copy_from_slice(&self.timestamp.to_be_bytes());
        p[8..12].copy_from_slice(&ssrc.to_be_bytes());
        p[12..16].copy_from_slice(&self.report.to_bytes());
        p
    }
}

/// Produces the packets of RFC 4733 §2.5.1 for one key press: a first
/// report with the marker bit, updates every `interval`, then the final
/// report three times with the E bit, all with the event's timestamp.
#[derive(Debug, Clone, Copy)]
pub struct DtmfSender {
    clock_rate: u32,
    interval_ms: u32,
    volume: u8,
}

impl DtmfSender {
    /// `interval_ms`: the update interval, normally the audio ptime (20 ms)
    /// or the 50 ms RFC 4733 suggests.
    pub fn new(clock_rate: u32, interval_ms: u32) -> Result<Self, DtmfError> {
        if clock_rate < 1000 {
            return Err(DtmfError::BadClockRate(clock_rate));
        }
        Ok(DtmfSender {
            clock_rate,
            interval_ms: interval_ms.clamp(5, 1000),
            volume: DEFAULT_VOLUME,
        })
    }

    pub fn with_volume(mut self, volume: u8) -> Self {
        self.volume = volume.min(63);
        self
    }

    /// All packets of one event of `duration_ms` starting at RTP timestamp
    /// `start_ts`. Events longer than 0xFFFF units are split into segments
    /// (§2.5.1.3): each new segment has timestamp = previous + 0xFFFF and
    /// no marker; only the last segment ends with the E bit.
    pub fn packets(&self, event: DtmfEvent, duration_ms: u32, start_ts: u32) -> Vec<EventPacket> {
        let total = ms_to_units(duration_ms.max(1), self.clock_rate).max(1);
        let step = ms_to_units(self.interval_ms, self.clock_rate).max(1);
        let full = u64::from(MAX_SEGMENT_DURATION);
        let mut out = Vec::new();
        let mut seg_start = 0u64; // units since the key press
        loop {
            let seg_len = (total - seg_start).min(full);
            let last = seg_start + seg_len == total;
            let ts = start_ts.wrapping_add(seg_start as u32);
            // Offsets within the segment at which updates go out.
            let mut off = 0u64;
            while off < seg_len {
                let elapsed = (off + step).min(seg_len);
                out.push(EventPacket {
                    at: self.units_to_time(seg_start + off),
                    timestamp: ts,
                    marker: out.is_empty(),
                    report: TelephoneEvent {
                        event: event.code(),
                        end: false,
                        volume: self.volume,
                        duration: elapsed as u16,
                    },
                });
                off += step;
            }
            if last {
                for i in 0..3 {
                    out.push(EventPacket {
                        at: self.units_to_time(total + i * step),
                        timestamp: ts,
                        marker: false,
                        report: TelephoneEvent {
                            event: event.code(),
                            end: true,
                            volume: self.volume,
                            duration: seg_len as u16,
                        },
                    });
                }
                return out;
            }
            seg_start += seg_len;
        }
    }

    /// The RTP timestamp advance the audio stream should apply after an
    /// event of this length, so audio resumes after the event.
    pub fn duration_units(&self, duration_ms: u32) -> u64 {
        ms_to_units(duration_ms.max(1), self.clock_rate).max(1)
    }

    fn units_to_time(&self, units: u64) -> Duration {
        Duration::from_micros(units * 1_000_000 / u64::from(self.clock_rate))
    }
}

/// What [`EventPtRemapper::apply`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remapped {
    /// The payload type was rewritten (marker bit kept).
    Rewritten { from: u8, to: u8 },
    /// Not a telephone-event payload type of the incoming leg.
    NotEvent,
}

/// Rewrites the telephone-event payload type of packets forwarded from one
/// leg to another (e.g. 101 on a SIP trunk, 126 on WebRTC). Several rates
/// can be mapped (8000 Hz and 48000 Hz event PTs); rates must match per
/// pair, since a forwarded event keeps its timestamps and durations.
#[derive(Debug, Clone, Default)]
pub struct EventPtRemapper {
    pairs: Vec<(u8, u8)>,
}

impl EventPtRemapper {
    pub fn new() -> Self {
        Self::default()
    }

    /// Map `from` on the incoming leg to `to` on the outgoing one. A second
    /// mapping for the same `from` replaces the first.
    pub fn map(&mut self, from: u8, to: u8) -> &mut Self {
        let (from, to) = (from & 0x7f, to & 0x7f);
        self.pairs.retain(|&(f, _)| f != from);
        self.pairs.push((from, to));
        self
    }

    pub fn lookup(&self, from: u8) -> Option<u8> {
        self.pairs
            .iter()
            .find(|&&(f, _)| f == from)
            .map(|&(_, t)| t)
    }

    /// Rewrite the packet in place if it is a mapped telephone-event.
    pub fn apply(&self, rtp: &mut [u8]) -> Result<Remapped, DtmfError> {
        packet::inspect(rtp, false, false)?;
        if rtp.len() < RTP_HEADER_LEN {
            return Err(DtmfError::NotRtp(packet::MalformedPacket::TooShort(
                rtp.len(),
            )));
        }
        let from = rtp[1] & 0x7f;
        match self.lookup(from) {
            Some(to) => {
                rtp[1] = (rtp[1] & 0x80) | to;
                Ok(Remapped::Rewritten { from, to })
            }
            None => Ok(Remapped::NotEvent),
        }
    }
}

/// Forwards one leg's telephone-events to the other: the payload type
/// mapped (101 on one leg, 96 on the other), and the marker bit set on the
/// first report of each event that arrives without one (the marked packet
/// was lost, or the sender never sets it), since receivers that start a
/// tone on the marker would otherwise miss the digit. Timestamps and
/// durations pass unchanged: where the clocks differ, the
/// [`Transcoder`](crate::transcode::Transcoder) before it rescales them.
/// Retransmitted end reports pass as they came, redundancy included.
#[derive(Debug, Clone)]
pub struct EventForwarder {
    from: u8,
    to: u8,
    clock_rate: u32,
    /// Timestamp, event code and whether it ended, of the newest event.
    newest: Option<(u32, u8, bool)>,
    regenerated: u64,
}

impl EventForwarder {
    /// Events arriving as `from`, sent on as `to`, at `clock_rate`.
    pub fn new(from: u8, to: u8, clock_rate: u32) -> EventForwarder {
        EventForwarder {
            from: from & 0x7f,
            to: to & 0x7f,
            clock_rate,
            newest: None,
            regenerated: 0,
        }
    }

    /// Markers this forwarder had to set.
    pub fn regenerated_markers(&self) -> u64 {
        self.regenerated
    }

    /// Rewrite one packet in place; other payload types are left alone.
    pub fn apply(&mut self, rtp: &mut [u8]) {
        let Ok(v) = split_rtp(rtp) else {
            return;
        };
        if v.payload_type != self.from {
            return;
        }
        let Ok(report) = TelephoneEvent::parse(v.payload) else {
            return;
        };
        let ts = v.timestamp;
        let mut marker = v.marker;
        match self.newest {
            Some((newest, _, _)) if ts == newest || (ts.wrapping_sub(newest) as i32) < 0 => {}
            Some((newest, code, ended))
                if code == report.event
                    && !ended
                    && continues_segment(ts.wrapping_sub(newest), self.clock_rate) =>
            {
                // The next segment of a long event (RFC 4733 §2.5.1.3):
                // no marker there.
                self.newest = Some((ts, code, false));
            }
            _ => {
                if !marker {
                    marker = true;
                    self.regenerated += 1;
                }
                self.newest = Some((ts, report.event, false));
            }
        }
        if let Some(n) = self.newest.as_mut().filter(|n| n.0 == ts) {
            n.2 |= report.end;
        }
        rtp[1] = (u8::from(marker) << 7) | self.to;
    }
}

fn continues_segment(delta: u32, clock_rate: u32) -> bool {
    let slack = clock_rate / 10;
    let full = u32::from(MAX_SEGMENT_DURATION);
    delta >= full.saturating_sub(slack) && delta <= full + slack
}

impl crate::transform::PacketTransform for EventForwarder {
    fn transform(&mut self, class: PacketClass, buf: &mut [u8], len: usize) -> Option<usize> {
        if class == PacketClass::Rtp {
            self.apply(&mut buf[..len]);
        }
        Some(len)
    }
}

/// A DTMF signal from a SIP INFO body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InfoDtmf {
    pub event: DtmfEvent,
    /// Milliseconds, if the body gave one.
    pub duration_ms: Option<u32>,
}

/// Signal value: a keypad character, or the numeric event code some
/// devices send (`Signal=11` for `#`, `Signal=16` for flash).
fn parse_signal(value: &str) -> Result<DtmfEvent, DtmfError> {
    let v = value.trim();
    let mut chars = v.chars();
    if let (Some(c), None) = (chars.next(), chars.clone().next()) {
        return DtmfEvent::from_char(c).ok_or_else(|| DtmfError::UnknownSignal(echo(v)));
    }
    v.parse::<u8>()
        .ok()
        .and_then(DtmfEvent::from_code)
        .ok_or_else(|| DtmfError::UnknownSignal(echo(v)))
}

/// Parse an `application/dtmf-relay` body: `Signal=5` and optionally
/// `Duration=160` (ms), one per line, keys case-insensitive, spaces
/// anywhere around `=`, CRLF or LF, unknown lines ignored.
pub fn parse_dtmf_relay(body: &str) -> Result<InfoDtmf, DtmfError> {
    let mut event = None;
    let mut duration_ms = None;
    for line in body.lines().take(32) {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim();
        if key.eq_ignore_ascii_case("signal") {
            event = Some(parse_signal(value)?);
        } else if key.eq_ignore_ascii_case("duration") {
            let v = value.trim();
            duration_ms = Some(
                v.parse::<u32>()
                    .map_err(|_| DtmfError::BadDuration(echo(v)))?,
            );
        }
    }
    Ok(InfoDtmf {
        event: event.ok_or(DtmfError::MissingSignal)?,
        duration_ms,
    })
}

/// Format an `application/dtmf-relay` body.
pub fn format_dtmf_relay(event: DtmfEvent, duration_ms: u32) -> String {
    format!("Signal={}\r\nDuration={}\r\n", event.to_char(), duration_ms)
}

/// Parse an `application/dtmf` body: the digit alone (or its event code).
pub fn parse_application_dtmf(body: &str) -> Result<DtmfEvent, DtmfError> {
    let v = body.trim();
    if v.is_empty() {
        return Err(DtmfError::MissingSignal);
    }
    parse_signal(v)
}

/// Format an `application/dtmf` body.
pub fn format_application_dtmf(event: DtmfEvent) -> String {
    event.to_char().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_chars_round_trip() {
        for code in 0..=16u8 {
            let e = DtmfEvent::from_code(code).unwrap();
            assert_eq!(DtmfEvent::from_char(e.to_char()), Some(e));
        }
        assert_eq!(DtmfEvent::from_code(17), None);
        assert_eq!(DtmfEvent::from_char('x'), None);
        assert_eq!(DtmfEvent::from_char('c').unwrap().code(), 14);
    }

    #[test]
    fn split_rtp_handles_extension_and_padding() {
        let mut p = vec![0xb0, 101, 0, 1, 0, 0, 0, 10, 0, 0, 0, 7];
        p.extend_from_slice(&[0xbe, 0xde, 0, 1, 1, 2, 3, 4]); // 1-word extension
        p.extend_from_slice(&[5, 0x8a, 0, 160]);
        p.extend_from_slice(&[0, 0, 3]); // 3 bytes of padding
        let v = split_rtp(&p).unwrap();
        assert_eq!(v.payload, &[5, 0x8a, 0, 160]);
        assert_eq!(v.payload_type, 101);
        // Padding count larger than the packet.
        let n = p.len();
        p[n - 1] = 200;
        assert!(split_rtp(&p).is_err());
        // Extension length running past the end.
        let mut q = vec![0x90, 101, 0, 1, 0, 0, 0, 10, 0, 0, 0, 7, 0xbe, 0xde, 0, 9];
        assert!(split_rtp(&q).is_err());
        q.truncate(13);
        assert!(split_rtp(&q).is_err());
    }

    fn event_packet(pt: u8, marker: bool, seq: u16, ts: u32, ev: TelephoneEvent) -> Vec<u8> {
        let mut p = vec![0x80, pt | if marker { 0x80 } else { 0 }];
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&ts.to_be_bytes());
        p.extend_from_slice(&7u32.to_be_bytes());
        p.extend_from_slice(&ev.to_bytes());
        p
    }

    fn report(event: u8, end: bool, duration: u16) -> TelephoneEvent {
        TelephoneEvent {
            event,
            end,
            volume: 10,
            duration,
        }
    }

    #[test]
    fn forwarder_maps_the_payload_type_and_regenerates_a_lost_marker() {
        let mut f = EventForwarder::new(101, 96, 8000);
        // The marked first packet of digit 4 was lost: the first one seen
        // gets the marker, the following ones and the three ends do not.
        let rows = [
            (2, 400, false, false),
            (3, 800, false, false),
            (4, 960, true, false),
            (4, 960, true, false),
            (5, 960, true, false),
        ];
        let mut out = Vec::new();
        for (seq, dur, end, marker) in rows {
            let mut p = event_packet(101, marker, seq, 16000, report(4, end, dur));
            f.apply(&mut p);
            out.push(split_rtp(&p).map(|v| (v.payload_type, v.marker)).unwrap());
        }
        assert_eq!(out[0], (96, true));
        assert!(out[1..].iter().all(|&o| o == (96, false)), "{out:?}");
        assert_eq!(f.regenerated_markers(), 1);
        // The next press keeps the marker it came with and is not counted.
        let mut p = event_packet(101, true, 6, 17600, report(4, false, 160));
        f.apply(&mut p);
        assert_eq!(p[1], 0x80 | 96);
        assert_eq!(f.regenerated_markers(), 1);
        // A late report of the old event stays unmarked.
        let mut late = event_packet(101, false, 1, 16000, report(4, false, 160));
        f.apply(&mut late);
        assert_eq!(late[1], 96);
        // The next segment of a long event gets none either.
        let mut seg = event_packet(101, false, 9, 17600 + 0xFFFF, report(4, false, 160));
        f.apply(&mut seg);
        assert_eq!(seg[1], 96);
        // Audio and garbage untouched.
        let mut audio = vec![0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7, 1, 2];
        f.apply(&mut audio);
        assert_eq!(audio[1], 0);
        let mut short = vec![0x80, 101, 0, 1];
        f.apply(&mut short);
        assert_eq!(short[1], 101);
    }

    #[test]
    fn a_digit_without_marker_and_with_repeated_ends_is_one_key_press() {
        let now = Instant::now();
        let mut rx = DtmfReceiver::new(8000).unwrap();
        // No marker at all; the end report three times (twice with one seq,
        // SIPp style, once more with the next); then a stray repeat later.
        let rows = [
            (10, 400, false),
            (11, 800, false),
            (12, 1120, true),
            (12, 1120, true),
            (13, 1120, true),
            (14, 1120, true),
        ];
        for (seq, d, end) in rows {
            let p = event_packet(101, false, seq, 3200, report(9, end, d));
            rx.on_rtp(now, &p).unwrap();
        }
        let mut ended = Vec::new();
        while let Some(n) = rx.poll_event() {
            if let DtmfNotification::Ended {
                event, duration, ..
            } = n
            {
                ended.push((event.to_char(), duration));
            }
        }
        assert_eq!(ended, [('9', 1120)]);
        assert_eq!(rx.stats().duplicates, 3);
    }
}
