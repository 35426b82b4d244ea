//! Adaptive jitter buffer for decoded media paths (sans-IO).
//!
//! Packets are pushed with their RTP sequence number, timestamp and arrival
//! [`Instant`]; the consumer pops one frame per packet interval with the
//! current time and gets [`Playout::Frame`], [`Playout::Lost`] (run packet
//! loss concealment for one frame) or [`Playout::Empty`] (nothing to play:
//! not started, or the stream has stopped).
//!
//! Design:
//! - Storage is a fixed ring of `capacity` slots indexed by the extended
//!   (wrap-corrected) sequence number, allocated once: memory never grows.
//! - The target delay is the audio to hold at each pop, counting the frame
//!   about to play: the spread of transit times (arrival minus media time)
//!   over the last `jitter_window` packets plus one frame, clamped to
//!   `min_delay..=max_delay`. A window maximum reacts at once to
//!   a jitter increase and forgets it once the window has passed.
//! - Delay is added when the held audio stayed below the target over the
//!   last few pops (one concealed frame is inserted, reported as `Lost`) or
//!   naturally by an underrun (the missing frame is concealed and still
//!   played if it arrives). Delay is removed by discarding one frame when
//!   the held audio stayed above the target by more than a frame over the
//!   last few pops, and at once when it exceeds `max_delay`.
//! - A sequence jump beyond the RFC 3550 dropout/misorder limits, or transit
//!   times jumping by more than `resync_threshold` (a new timestamp base),
//!   confirmed by a second packet, restarts the buffer. Callers that see an
//!   SSRC change should call [`JitterBuffer::resync`] directly.

use std::time::{Duration, Instant};

/// RFC 3550 A.1: a forward jump up to this is a gap, not a new stream.
const MAX_DROPOUT: u16 = 3000;
/// RFC 3550 A.1: a backward step up to this is reordering or duplication.
const MAX_MISORDER: u16 = 100;
/// Pops over which the minimum buffered audio is taken before shrinking.
const SHRINK_WINDOW: u32 = 10;
/// Transit samples needed before the target follows the measurement.
const MIN_TRANSIT_SAMPLES: usize = 4;
/// The extended sequence numbers start here, so that reordering before the
/// first packet never goes below zero.
const EXT_BASE: u64 = 1 << 32;

/// Tuning of a [`JitterBuffer`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JitterConfig {
    /// RTP clock rate of the payload (8000 for G.711 and G.722, 48000 for
    /// Opus).
    pub clock_rate: u32,
    /// Nominal packet duration; refined from timestamps of consecutive
    /// packets once they arrive.
    pub frame_duration: Duration,
    /// Lower bound of the target delay.
    pub min_delay: Duration,
    /// Upper bound of the target delay and of the buffered audio.
    pub max_delay: Duration,
    /// Number of packet slots (bounds memory and the reordering span).
    pub capacity: usize,
    /// Packets over which the transit spread (jitter) is measured.
    pub jitter_window: usize,
    /// A transit-time jump larger than this means the timestamps restarted.
    pub resync_threshold: Duration,
}

impl JitterConfig {
    /// Defaults for a stream with the given RTP clock rate and 20 ms packets.
    pub fn new(clock_rate: u32) -> Self {
        JitterConfig {
            clock_rate,
            frame_duration: Duration::from_millis(20),
            min_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(200),
            capacity: 64,
            jitter_window: 100,
            resync_threshold: Duration::from_secs(1),
        }
    }
}

/// What the consumer should play for the current frame interval.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Playout<P> {
    /// The next packet in sequence.
    Frame(P),
    /// A frame is missing (lost, late, or delay being added): conceal it.
    Lost,
    /// Nothing to play: buffering, or the stream has stopped.
    Empty,
}

/// Counters since creation (not reset by a resync).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JitterStats {
    /// Packets passed to `push`.
    pub received: u64,
    /// Frames returned by `pop`.
    pub played: u64,
    /// Packets that arrived after their slot was played or skipped.
    pub late: u64,
    /// Packets received twice.
    pub duplicate: u64,
    /// Sequence numbers skipped because they never arrived in time.
    pub lost: u64,
    /// Packets dropped because they did not fit in the buffer.
    pub overflow: u64,
    /// Frames dropped to reduce the delay, or flushed by a resync.
    pub discarded: u64,
    /// Concealed frames inserted to grow the delay.
    pub inserted: u64,
    /// Pops that found the buffer empty while playing.
    pub underruns: u64,
    /// Restarts on a new sequence/timestamp base.
    pub resyncs: u64,
}

struct Slot<P> {
    ext: u64,
    payload: P,
}

/// Adaptive, bounded jitter buffer keyed by RTP sequence number.
pub struct JitterBuffer<P> {
    cfg: JitterConfig,
    slots: Vec<Option<Slot<P>>>,
    queued: usize,
    started: bool,
    /// Nothing has been played since the stream (re)started, so a reordered
    /// earlier packet may still become the first one.
    fresh: bool,
    playing: bool,
    /// Next extended sequence number to play; every queued packet is >= it.
    head: u64,
    /// Highest extended sequence number accepted.
    highest: u64,
    /// Bit i set: sequence head-1-i was played (tells duplicates from late).
    played_mask: u64,
    buffering_since: Option<Instant>,
    last_arrival: Option<Instant>,
    /// A jumped sequence number that would confirm a restart.
    seq_probe: Option<u16>,
    ts_jumps: u32,
    // Timing.
    epoch: Option<Instant>,
    last_ts: u32,
    last_ext_ts: i64,
    /// Last in-order packet, for the frame duration estimate.
    last_in_order: Option<(u64, u32)>,
    frame: Duration,
    transits: Vec<i64>,
    transit_pos: usize,
    transit_len: usize,
    prev_transit: Option<i64>,
    jitter_us: f64,
    target: Duration,
    // Delay control.
    window_pops: u32,
    window_min: Duration,
    window_max: Duration,
    grow_pending: bool,
    stats: JitterStats,
}

impl<P> JitterBuffer<P> {
    /// A buffer with the given configuration. Out-of-range values are
    /// corrected (capacity at least 4, min_delay <= max_delay, etc.).
    pub fn new(mut cfg: JitterConfig) -> Self {
        cfg.clock_rate = cfg.clock_rate.max(1);
        cfg.capacity = cfg.capacity.clamp(4, 1 << 16);
        cfg.jitter_window = cfg.jitter_window.clamp(MIN_TRANSIT_SAMPLES, 1 << 16);
        // Bounds keep all Duration arithmetic far from overflow.
        cfg.frame_duration = cfg
            .frame_duration
            .clamp(Duration::from_millis(1), Duration::from_secs(1));
        cfg.max_delay = cfg.max_delay.min(Duration::from_secs(10));
        cfg.min_delay = cfg.min_delay.min(cfg.max_delay);
        cfg.resync_threshold = cfg.resync_threshold.min(Duration::from_secs(3600));
        let frame = cfg.frame_duration;
        let target = (2 * frame).clamp(cfg.min_delay, cfg.max_delay);
        let mut slots = Vec::with_capacity(cfg.capacity);
        slots.resize_with(cfg.capacity, || None);
        JitterBuffer {
            slots,
            queued: 0,
            started: false,
            fresh: true,
            playing: false,
            head: 0,
            highest: 0,
            played_mask: 0,
            buffering_since: None,
            last_arrival: None,
            seq_probe: None,
            ts_jumps: 0,
            epoch: None,
            last_ts: 0,
            last_ext_ts: 0,
            last_in_order: None,
            frame,
            transits: vec![0; cfg.jitter_window],
            transit_pos: 0,
            transit_len: 0,
            prev_transit: None,
            jitter_us: 0.0,
            target,
            window_pops: 0,
            window_min: Duration::MAX,
            window_max: Duration::ZERO,
            grow_pending: false,
            stats: JitterStats::default(),
            cfg,
        }
    }

    /// Counters.
    pub fn stats(&self) -> JitterStats {
        self.stats
    }

    /// Current target delay.
    pub fn target_delay(&self) -> Duration {
        self.target
    }

    /// Audio queued from the play head to the newest packet (0 when empty).
    pub fn buffered(&self) -> Duration {
        self.frame * self.depth_frames() as u32
    }

    /// Packet duration in use (configured, refined from timestamps).
    pub fn frame_duration(&self) -> Duration {
        self.frame
    }

    /// RFC 3550 interarrival jitter estimate, for RTCP reports.
    pub fn interarrival_jitter(&self) -> Duration {
        Duration::from_micros(self.jitter_us as u64)
    }

    /// Packets currently held.
    pub fn len(&self) -> usize {
        self.queued
    }

    /// True when no packet is held.
    pub fn is_empty(&self) -> bool {
        self.queued == 0
    }

    /// Drops all packets and timing state and waits for a new stream (call
    /// on an SSRC change). Counters and the current target are kept.
    pub fn resync(&mut self) {
        let flushed = self.queued as u64;
        self.stats.discarded += flushed;
        for slot in &mut self.slots {
            *slot = None;
        }
        self.queued = 0;
        self.started = false;
        self.fresh = true;
        self.playing = false;
        self.played_mask = 0;
        self.buffering_since = None;
        self.seq_probe = None;
        self.ts_jumps = 0;
        self.epoch = None;
        self.last_in_order = None;
        self.transit_len = 0;
        self.transit_pos = 0;
        self.prev_transit = None;
        self.window_pops = 0;
        self.window_min = Duration::MAX;
        self.window_max = Duration::ZERO;
        self.grow_pending = false;
        self.stats.resyncs += 1;
    }

    /// Offers a received packet.
    pub fn push(&mut self, seq: u16, ts: u32, payload: P, arrival: Instant) {
        self.stats.received += 1;
        if !self.started {
            self.start_stream(seq, ts, arrival);
        }

        let delta = seq.wrapping_sub(self.highest as u16);
        if (MAX_DROPOUT..=u16::MAX - MAX_MISORDER).contains(&delta) {
            // A jump: a restarted stream or a stray packet. Restart only
            // when the next packet confirms the new numbering.
            if self.seq_probe == Some(seq) {
                self.resync();
                self.start_stream(seq, ts, arrival);
            } else {
                self.seq_probe = Some(seq.wrapping_add(1));
                self.stats.late += 1;
                return;
            }
        }
        self.seq_probe = None;

        let mut transit = self.transit_us(ts, arrival);
        if self.transit_len >= MIN_TRANSIT_SAMPLES {
            let limit = self.cfg.resync_threshold.as_micros() as i64;
            if transit.saturating_sub(self.transit_min()).saturating_abs() > limit {
                // Media time and arrival time no longer agree: a new
                // timestamp base, once a second packet confirms it.
                self.ts_jumps += 1;
                if self.ts_jumps < 2 {
                    self.stats.late += 1;
                    return;
                }
                self.resync();
                self.start_stream(seq, ts, arrival);
                transit = self.transit_us(ts, arrival);
            } else {
                self.ts_jumps = 0;
            }
        }

        let ext = self.extend(seq);
        self.last_arrival = Some(arrival);
        if ext < self.head {
            let behind = self.head - 1 - ext;
            let may_lead = self.fresh && self.highest - ext < self.cfg.capacity as u64;
            if may_lead {
                self.head = ext;
            } else {
                if behind < 64 && self.played_mask & (1 << behind) != 0 {
                    self.stats.duplicate += 1;
                } else {
                    self.stats.late += 1;
                }
                return;
            }
        }
        if ext >= self.head + self.cfg.capacity as u64 {
            // No room: drop the oldest audio, keeping the stream current.
            let new_head = ext + 1 - self.cfg.capacity as u64;
            self.advance_to(new_head, true);
        }
        let idx = (ext % self.cfg.capacity as u64) as usize;
        if let Some(slot) = &self.slots[idx] {
            if slot.ext == ext {
                self.stats.duplicate += 1;
                return;
            }
        }
        self.slots[idx] = Some(Slot { ext, payload });
        self.queued += 1;
        if ext > self.highest {
            self.highest = ext;
        }
        self.learn_frame(ext, ts);
        self.record_transit(transit);
        if !self.playing && self.buffering_since.is_none() {
            self.buffering_since = Some(arrival);
        }
    }

    /// The frame to play now. Call once per frame interval.
    pub fn pop(&mut self, now: Instant) -> Playout<P> {
        if !self.started {
            return Playout::Empty;
        }
        if !self.playing && !self.try_start(now) {
            return Playout::Empty;
        }

        self.control_delay(self.buffered());

        let idx = (self.head % self.cfg.capacity as u64) as usize;
        let present = matches!(&self.slots[idx], Some(s) if s.ext == self.head);
        if present {
            if self.grow_pending {
                // Hold the head back one frame to grow towards the target.
                self.grow_pending = false;
                self.stats.inserted += 1;
                return Playout::Lost;
            }
            let slot = self.slots[idx].take().expect("checked present");
            self.queued -= 1;
            self.head += 1;
            self.played_mask = (self.played_mask << 1) | 1;
            self.fresh = false;
            self.stats.played += 1;
            return Playout::Frame(slot.payload);
        }
        if self.queued > 0 {
            // Later packets are here, so this one is lost (or so late that
            // waiting would only add delay).
            self.head += 1;
            self.played_mask <<= 1;
            self.stats.lost += 1;
            return Playout::Lost;
        }
        // Empty while playing: conceal and keep the slot open in case the
        // packet is only late, unless the stream has gone quiet.
        let quiet = self
            .last_arrival
            .is_none_or(|t| now.saturating_duration_since(t) >= self.cfg.max_delay);
        if quiet {
            self.playing = false;
            self.buffering_since = None;
            return Playout::Empty;
        }
        self.stats.underruns += 1;
        Playout::Lost
    }

    fn start_stream(&mut self, seq: u16, ts: u32, arrival: Instant) {
        self.started = true;
        self.fresh = true;
        self.playing = false;
        self.head = EXT_BASE + u64::from(seq);
        self.highest = self.head;
        self.played_mask = 0;
        self.buffering_since = None;
        self.epoch = Some(arrival);
        self.last_ts = ts;
        self.last_ext_ts = 0;
        self.last_in_order = None;
        self.seq_probe = None;
        self.ts_jumps = 0;
    }

    fn extend(&self, seq: u16) -> u64 {
        let delta = i64::from(seq.wrapping_sub(self.highest as u16) as i16);
        (self.highest as i64 + delta) as u64
    }

    /// Transit time in microseconds: arrival minus media time, both relative
    /// to the stream start. Only differences between packets matter.
    fn transit_us(&mut self, ts: u32, arrival: Instant) -> i64 {
        let epoch = *self.epoch.get_or_insert(arrival);
        let arrival_us = match arrival.checked_duration_since(epoch) {
            Some(d) => d.as_micros() as i64,
            None => -(epoch.duration_since(arrival).as_micros() as i64),
        };
        let ext_ts = self
            .last_ext_ts
            .saturating_add(i64::from(ts.wrapping_sub(self.last_ts) as i32));
        self.last_ts = ts;
        self.last_ext_ts = ext_ts;
        arrival_us.saturating_sub(ext_ts.saturating_mul(1_000_000) / i64::from(self.cfg.clock_rate))
    }

    fn transit_min(&self) -> i64 {
        self.transits[..self.transit_len]
            .iter()
            .copied()
            .min()
            .unwrap_or(0)
    }

    fn record_transit(&mut self, transit: i64) {
        if let Some(prev) = self.prev_transit {
            let d = transit.saturating_sub(prev).saturating_abs() as f64;
            self.jitter_us += (d - self.jitter_us) / 16.0;
        }
        self.prev_transit = Some(transit);
        let n = self.transits.len();
        self.transits[self.transit_pos] = transit;
        self.transit_pos = (self.transit_pos + 1) % n;
        self.transit_len = (self.transit_len + 1).min(n);
        if self.transit_len >= MIN_TRANSIT_SAMPLES {
            let window = &self.transits[..self.transit_len];
            let lo = window.iter().copied().min().unwrap_or(0);
            let hi = window.iter().copied().max().unwrap_or(0);
            let spread =
                Duration::from_micros(hi.saturating_sub(lo).max(0) as u64).min(self.cfg.max_delay);
            self.target = (spread + self.frame).clamp(self.cfg.min_delay, self.cfg.max_delay);
        }
    }

    fn learn_frame(&mut self, ext: u64, ts: u32) {
        if let Some((prev_ext, prev_ts)) = self.last_in_order {
            if ext == prev_ext + 1 {
                let step = ts.wrapping_sub(prev_ts);
                // Ignore timestamp gaps from silence suppression.
                if step > 0 && step <= self.cfg.clock_rate / 8 {
                    let us = u64::from(step) * 1_000_000 / u64::from(self.cfg.clock_rate);
                    self.frame = Duration::from_micros(us.max(1));
                }
            }
        }
        if self.last_in_order.is_none_or(|(e, _)| ext > e) {
            self.last_in_order = Some((ext, ts));
        }
    }

    fn depth_frames(&self) -> u64 {
        if self.queued == 0 || self.highest < self.head {
            0
        } else {
            self.highest - self.head + 1
        }
    }

    /// Decides whether buffering has collected enough to start playing.
    fn try_start(&mut self, now: Instant) -> bool {
        if self.queued == 0 {
            return false;
        }
        let waited = self
            .buffering_since
            .is_some_and(|t| now.saturating_duration_since(t) >= self.target);
        if !waited && self.buffered() < self.target {
            return false;
        }
        // Start at the oldest queued packet; earlier numbers are gone.
        let mut first = self.head;
        while first <= self.highest {
            let idx = (first % self.cfg.capacity as u64) as usize;
            if matches!(&self.slots[idx], Some(s) if s.ext == first) {
                break;
            }
            first += 1;
        }
        if first > self.head {
            self.advance_to(first, false);
        }
        // After a stall a burst may have queued more than needed: start
        // with the newest audio that still fills the target.
        let keep = self.frames_for(self.target).max(1) + 1;
        while self.depth_frames() > keep {
            let head = self.head;
            self.advance_to(head + 1, false);
        }
        self.playing = true;
        self.window_pops = 0;
        self.window_min = Duration::MAX;
        self.window_max = Duration::ZERO;
        true
    }

    /// Keeps the held audio near the target: drops a frame when even the
    /// minimum over the last few pops exceeded the target by more than a
    /// frame, schedules an inserted frame when even the maximum stayed below
    /// it, and drops at once whatever exceeds the maximum delay. Using the
    /// window extremes keeps a single missing or bunched packet from
    /// triggering either.
    fn control_delay(&mut self, buffered: Duration) {
        let cap = self.cfg.max_delay + self.frame;
        while self.buffered() > cap {
            let head = self.head;
            self.advance_to(head + 1, false);
        }
        self.window_min = self.window_min.min(buffered);
        self.window_max = self.window_max.max(buffered);
        self.window_pops += 1;
        if self.window_pops >= SHRINK_WINDOW {
            if self.window_min > self.target + self.frame && self.depth_frames() > 1 {
                let head = self.head;
                self.advance_to(head + 1, false);
            } else if self.window_max < self.target {
                self.grow_pending = true;
            }
            self.window_pops = 0;
            self.window_min = Duration::MAX;
            self.window_max = Duration::ZERO;
        }
    }

    fn frames_for(&self, d: Duration) -> u64 {
        (d.as_micros() / self.frame.as_micros().max(1)) as u64
    }

    /// Moves the play head to `new_head`, dropping queued packets on the
    /// way (counted as overflow or discarded) and counting never-received
    /// numbers as lost while playing.
    fn advance_to(&mut self, new_head: u64, overflow: bool) {
        let cap = self.cfg.capacity as u64;
        let skip = new_head.saturating_sub(self.head);
        for ext in self.head..self.head + skip.min(cap) {
            let idx = (ext % cap) as usize;
            if matches!(&self.slots[idx], Some(s) if s.ext == ext) {
                self.slots[idx] = None;
                self.queued -= 1;
                if overflow {
                    self.stats.overflow += 1;
                } else {
                    self.stats.discarded += 1;
                }
            } else if !self.fresh {
                self.stats.lost += 1;
            }
        }
        if skip > cap && !self.fresh {
            self.stats.lost += skip - cap;
        }
        self.played_mask = if skip >= 64 {
            0
        } else {
            self.played_mask << skip
        };
        self.head = new_head.max(self.head);
    }
}

impl<P> std::fmt::Debug for JitterBuffer<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JitterBuffer")
            .field("queued", &self.queued)
            .field("playing", &self.playing)
            .field("target", &self.target)
            .field("buffered", &self.buffered())
            .field("stats", &self.stats)
            .finish()
    }
}
