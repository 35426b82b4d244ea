//! Per-leg receive quality: the statistics of RFC 3550 Appendix A (sequence
//! tracking A.1, loss A.3, jitter A.8), round-trip time from the LSR/DLSR of
//! received reports, and a call-quality estimate from a simplified ITU-T
//! G.107 E-model.
//!
//! Sans-IO: arrival times and report times are `Instant` arguments, NTP
//! timestamps are passed in by the owner (who reads the wall clock).

use std::time::{Duration, Instant};

use crate::rtcp::{duration_to_ntp_short, ntp_middle32, ntp_short_to_duration, ReportBlock};

/// A jump of at most this many sequence numbers ahead is loss, not a
/// restart (RFC 3550 A.1).
const MAX_DROPOUT: u16 = 3000;
/// A packet at most this far behind the highest is reordering.
const MAX_MISORDER: u16 = 100;

/// Receive statistics for one incoming RTP stream (one SSRC).
#[derive(Debug, Clone)]
pub struct ReceiveStats {
    ssrc: u32,
    clock_rate: u32,
    started: bool,
    base_seq: u16,
    max_seq: u16,
    /// Count of sequence wraps, shifted by 16 (RFC 3550 `cycles`).
    cycles: u32,
    /// After a large jump, the sequence number that would confirm a
    /// restart of the sender's numbering.
    bad_seq: Option<u16>,
    received: u64,
    expected_prior: u64,
    received_prior: u64,
    /// Arrival time origin, to express arrivals in timestamp units.
    epoch: Option<Instant>,
    /// Previous relative transit time (arrival − RTP timestamp), wrapping.
    transit: Option<u32>,
    /// Interarrival jitter estimate in timestamp units.
    jitter: f64,
    /// Middle 32 bits of the last SR's NTP time and when it arrived.
    last_sr: Option<(u32, Instant)>,
}

impl ReceiveStats {
    /// `clock_rate`: the RTP clock of the stream's payload type.
    pub fn new(ssrc: u32, clock_rate: u32) -> Self {
        ReceiveStats {
            ssrc,
            clock_rate: clock_rate.max(1),
            started: false,
            base_seq: 0,
            max_seq: 0,
            cycles: 0,
            bad_seq: None,
            received: 0,
            expected_prior: 0,
            received_prior: 0,
            epoch: None,
            transit: None,
            jitter: 0.0,
            last_sr: None,
        }
    }

    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// Account one received RTP packet.
    pub fn on_packet(&mut self, seq: u16, rtp_timestamp: u32, arrival: Instant) {
        if !self.update_seq(seq) {
            return;
        }
        let epoch = *self.epoch.get_or_insert(arrival);
        let since = arrival.saturating_duration_since(epoch);
        let arrival_units =
            (since.as_nanos() * u128::from(self.clock_rate) / 1_000_000_000) as u64 as u32;
        let transit = arrival_units.wrapping_sub(rtp_timestamp);
        if let Some(prev) = self.transit {
            // Differences of wrapping transit times are small signed values.
            let d = f64::from((transit.wrapping_sub(prev) as i32).unsigned_abs());
            self.jitter += (d - self.jitter) / 16.0;
        }
        self.transit = Some(transit);
    }

    /// Sequence bookkeeping; false if the packet is not counted (a large
    /// jump not yet confirmed as a restart).
    fn update_seq(&mut self, seq: u16) -> bool {
        if !self.started {
            self.restart(seq);
            self.started = true;
            self.received = 1;
            return true;
        }
        let delta = seq.wrapping_sub(self.max_seq);
        if delta < MAX_DROPOUT {
            if seq < self.max_seq {
                self.cycles = self.cycles.wrapping_add(1 << 16);
            }
            self.max_seq = seq;
        } else if delta <= u16::MAX - MAX_MISORDER {
            // Far from where we are: either a stray or the sender restarted
            // its numbering. Two consecutive packets confirm a restart.
            if self.bad_seq == Some(seq) {
                self.restart(seq);
            } else {
                self.bad_seq = Some(seq.wrapping_add(1));
                return false;
            }
        }
        // Otherwise: a duplicate or reordered packet, counted as received
        // (so cumulative loss can go negative, as RFC 3550 intends).
        self.received += 1;
        true
    }

    fn restart(&mut self, seq: u16) {
        self.base_seq = seq;
        self.max_seq = seq;
        self.cycles = 0;
        self.bad_seq = None;
        self.received = 0;
        self.expected_prior = 0;
        self.received_prior = 0;
        self.transit = None;
    }

    /// Extended highest sequence number received (cycles + max seq).
    pub fn extended_highest_seq(&self) -> u32 {
        self.cycles | u32::from(self.max_seq)
    }

    /// Packets expected from the first to the highest sequence number.
    pub fn expected(&self) -> u64 {
        if !self.started {
            return 0;
        }
        u64::from(self.extended_highest_seq()) - u64::from(self.base_seq) + 1
    }

    pub fn received(&self) -> u64 {
        self.received
    }

    /// Expected − received; negative with duplicates.
    pub fn cumulative_lost(&self) -> i64 {
        self.expected() as i64 - self.received as i64
    }

    /// Loss over the whole stream, percent.
    pub fn loss_percent(&self) -> f64 {
        let expected = self.expected();
        if expected == 0 {
            return 0.0;
        }
        (self.cumulative_lost().max(0) as f64) * 100.0 / expected as f64
    }

    /// Interarrival jitter in timestamp units (as reported in RTCP).
    pub fn jitter(&self) -> u32 {
        self.jitter as u32
    }

    /// Interarrival jitter in milliseconds.
    pub fn jitter_ms(&self) -> f64 {
        self.jitter * 1000.0 / f64::from(self.clock_rate)
    }

    /// Remember a sender report from this source for LSR/DLSR.
    pub fn on_sender_report(&mut self, ntp_timestamp: u64, arrival: Instant) {
        self.last_sr = Some((ntp_middle32(ntp_timestamp), arrival));
    }

    /// Build the report block for this source and start a new interval for
    /// the fraction lost (RFC 3550 A.3).
    pub fn report_block(&mut self, now: Instant) -> ReportBlock {
        let expected = self.expected();
        let expected_interval = expected.saturating_sub(self.expected_prior);
        let received_interval = self.received.saturating_sub(self.received_prior);
        self.expected_prior = expected;
        self.received_prior = self.received;
        let lost_interval = expected_interval as i64 - received_interval as i64;
        let fraction_lost = if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            ((lost_interval << 8) / expected_interval as i64).min(255) as u8
        };
        let (last_sr, delay_since_last_sr) = match self.last_sr {
            Some((lsr, at)) => (
                lsr,
                duration_to_ntp_short(now.saturating_duration_since(at)),
            ),
            None => (0, 0),
        };
        ReportBlock {
            ssrc: self.ssrc,
            fraction_lost,
            cumulative_lost: self.cumulative_lost().clamp(-0x80_0000, 0x7f_ffff) as i32,
            extended_highest_seq: self.extended_highest_seq(),
            jitter: self.jitter(),
            last_sr,
            delay_since_last_sr,
        }
    }
}

/// RTT from a report block and the arrival time of the report as the middle
/// 32 bits of NTP time (RFC 3550 §6.4.1): A − LSR − DLSR. `None` when the
/// peer has not received an SR yet (LSR 0) or the result is negative
/// (clock or peer error).
pub fn rtt_from_ntp(last_sr: u32, dlsr: u32, arrival_middle32: u32) -> Option<Duration> {
    if last_sr == 0 {
        return None;
    }
    let rtt = arrival_middle32.wrapping_sub(last_sr).wrapping_sub(dlsr);
    // A "negative" value shows as a huge unsigned one.
    if rtt > u32::MAX / 2 {
        return None;
    }
    Some(ntp_short_to_duration(rtt))
}

/// Our recent sender reports, to compute RTT from the reports that echo
/// them, with the monotonic clock rather than the wall clock.
#[derive(Debug, Clone, Default)]
pub struct SentReports {
    ring: [Option<(u32, Instant)>; 16],
    pos: usize,
}

impl SentReports {
    pub fn new() -> Self {
        Self::default()
    }

    /// Record an SR we sent with this NTP timestamp at this instant.
    pub fn on_sr_sent(&mut self, ntp_timestamp: u64, at: Instant) {
        self.ring[self.pos] = Some((ntp_middle32(ntp_timestamp), at));
        self.pos = (self.pos + 1) % self.ring.len();
    }

    /// RTT from a received report block about our stream: now − SR send
    /// time − DLSR. `None` if the block echoes no SR we remember.
    pub fn rtt(&self, block: &ReportBlock, now: Instant) -> Option<Duration> {
        if block.last_sr == 0 {
            return None;
        }
        let (_, sent) = self
            .ring
            .iter()
            .flatten()
            .find(|(m, _)| *m == block.last_sr)?;
        now.saturating_duration_since(*sent)
            .checked_sub(ntp_short_to_duration(block.delay_since_last_sr))
    }
}

/// Codec parameters of the E-model: equipment impairment `ie` and packet
/// loss robustness `bpl`, on the narrowband R scale.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CodecImpairment {
    pub ie: f64,
    pub bpl: f64,
}

impl CodecImpairment {
    /// G.711 without packet loss concealment (G.113 Appendix I).
    pub const G711: CodecImpairment = CodecImpairment { ie: 0.0, bpl: 4.3 };
    /// G.711 with the PLC of G.711 Appendix I (G.113 Appendix I).
    pub const G711_PLC: CodecImpairment = CodecImpairment { ie: 0.0, bpl: 25.1 };
    /// G.722 at 64 kbit/s with PLC. Its wideband advantage does not show on
    /// the narrowband scale (Ie,wb 13 vs 36 for G.711 would give a negative
    /// Ie), so Ie is 0; Bpl is a planning approximation close to G.711 with
    /// PLC, not a G.113 table value.
    pub const G722: CodecImpairment = CodecImpairment { ie: 0.0, bpl: 25.0 };
    /// Opus (speech, ≥ 24 kbit/s, PLC). Not in the narrowband G.113 tables;
    /// Ie 0 and a Bpl above G.711+PLC reflect its better concealment. A
    /// planning approximation.
    pub const OPUS: CodecImpairment = CodecImpairment { ie: 0.0, bpl: 33.0 };
}

/// What the E-model needs to know about a leg.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QualityInput {
    pub codec: CodecImpairment,
    /// Packet loss, percent (0–100), including late discards.
    pub loss_percent: f64,
    /// 1 for random loss; > 1 for bursty loss.
    pub burst_ratio: f64,
    pub rtt: Duration,
    /// Delay of the receiver's jitter buffer.
    pub jitter_buffer: Duration,
    /// Codec, packetisation and other fixed delays.
    pub extra_delay: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QualityEstimate {
    /// Transmission rating factor, 0–93.2 here.
    pub r: f64,
    /// Estimated mean opinion score, 1–4.5.
    pub mos: f64,
    /// The one-way delay used, in milliseconds.
    pub one_way_delay_ms: f64,
}

/// R for default G.107 parameters with no impairment (Ro − Is).
pub const R_DEFAULT: f64 = 93.2;

/// Delay impairment Idd of G.107 for a one-way delay in ms (echo assumed
/// cancelled, so the talker-echo terms are left out).
pub fn delay_impairment(one_way_ms: f64) -> f64 {
    if one_way_ms <= 100.0 {
        return 0.0;
    }
    let x = (one_way_ms / 100.0).log2();
    25.0 * ((1.0 + x.powi(6)).powf(1.0 / 6.0) - 3.0 * (1.0 + (x / 3.0).powi(6)).powf(1.0 / 6.0)
        + 2.0)
}

/// Effective equipment impairment Ie-eff of G.107 for a loss percentage.
pub fn effective_equipment_impairment(
    codec: CodecImpairment,
    loss_percent: f64,
    burst_ratio: f64,
) -> f64 {
    let ppl = loss_percent.clamp(0.0, 100.0);
    let burst = if burst_ratio.is_finite() && burst_ratio >= 1.0 {
        burst_ratio
    } else {
        1.0
    };
    codec.ie + (95.0 - codec.ie) * ppl / (ppl / burst + codec.bpl)
}

/// MOS from R (G.107 Annex B).
pub fn r_to_mos(r: f64) -> f64 {
    if r.is_nan() || r <= 0.0 {
        1.0
    } else if r >= 100.0 {
        4.5
    } else {
        // The cubic dips just below 1 for R < 7; MOS is 1 at worst.
        (1.0 + 0.035 * r + r * (r - 60.0) * (100.0 - r) * 7e-6).max(1.0)
    }
}

/// R and MOS for a leg.
pub fn estimate(input: &QualityInput) -> QualityEstimate {
    let one_way = input.rtt / 2 + input.jitter_buffer + input.extra_delay;
    let one_way_ms = one_way.as_secs_f64() * 1000.0;
    let r = (R_DEFAULT
        - delay_impairment(one_way_ms)
        - effective_equipment_impairment(input.codec, input.loss_percent, input.burst_ratio))
    .max(0.0);
    QualityEstimate {
        r,
        mos: r_to_mos(r),
        one_way_delay_ms: one_way_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seq_restart_needs_two_packets() {
        let t = Instant::now();
        let mut s = ReceiveStats::new(1, 8000);
        for i in 0..10u16 {
            s.on_packet(100 + i, u32::from(i) * 160, t);
        }
        s.on_packet(40000, 0, t);
        assert_eq!(s.extended_highest_seq(), 109, "a stray is not counted");
        s.on_packet(40001, 160, t);
        assert_eq!(s.extended_highest_seq(), 40001);
        assert_eq!(s.expected(), 1);
        assert_eq!(s.received(), 1);
    }
}
