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
///
/// Unlike RFC 3550 A.1 there is no probation period: the relay only hands
/// over packets of a source it has latched (see `leg`), so the first packet
/// already starts the statistics.
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

/// RTP clock of video payload formats (RFC 3551): the E-model describes
/// speech, so streams on this clock get no MOS.
pub const VIDEO_CLOCK_RATE: u32 = 90_000;

/// Delay the E-model adds for packetisation when nothing better is known
/// (one 20 ms packet, the common ptime).
const PACKETISATION_DELAY: Duration = Duration::from_millis(20);

/// What a peer says in its RTCP reports about the stream it receives
/// through the gateway (the other peer's media, end to end).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PeerReport {
    /// Loss in the peer's last reporting interval, percent.
    pub fraction_lost_percent: f64,
    /// Cumulative packets lost since the peer started receiving.
    pub cumulative_lost: i32,
    /// Interarrival jitter the peer measured, in milliseconds.
    pub jitter_ms: f64,
}

/// Raw measurements of one leg of a forwarded stream.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LegMeasurement {
    /// RTP clock rate used for jitter (the leg's codec).
    pub clock_rate: u32,
    /// RTP packets received from the leg (duplicates included).
    pub received: u64,
    /// Packets the sequence numbers say the leg sent.
    pub expected: u64,
    /// Interarrival jitter of the leg's RTP at the gateway, ms.
    pub jitter_ms: f64,
    /// Round trip gateway → peer → gateway.
    pub rtt: Option<Duration>,
    /// The leg's own latest reception report.
    pub reported: Option<PeerReport>,
}

impl LegMeasurement {
    /// Expected − received, never negative (duplicates can exceed).
    pub fn lost(&self) -> u64 {
        self.expected.saturating_sub(self.received)
    }

    pub fn loss_percent(&self) -> f64 {
        if self.expected == 0 {
            0.0
        } else {
            self.lost() as f64 * 100.0 / self.expected as f64
        }
    }
}

/// Quality of one leg: what the gateway measured on the RTP the leg sends,
/// what the leg reports, and an E-model estimate.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LegQuality {
    pub received: u64,
    pub expected: u64,
    pub lost: u64,
    pub loss_percent: f64,
    pub jitter_ms: f64,
    /// Round trip between the gateway and this leg's peer, ms.
    pub rtt_ms: Option<f64>,
    pub reported: Option<PeerReport>,
    /// E-model estimate of the audio from this leg; `None` when no RTP
    /// arrived or the stream is video.
    pub mos: Option<f64>,
    pub r: Option<f64>,
}

impl LegQuality {
    /// Rate a leg. `conversation_rtt` is the round trip between the two
    /// endpoints (the delay a talker feels), `None` when unknown (counted
    /// as 0, so the MOS is then an upper bound as far as delay goes).
    ///
    /// The loss used is the loss on the way from the peer to the gateway:
    /// the MOS of a leg points at that leg's network. Loss further on shows
    /// in the other leg's [`PeerReport`]. The jitter buffer is taken as
    /// twice the measured jitter, as adaptive buffers roughly settle there.
    pub fn assess(
        m: &LegMeasurement,
        codec: CodecImpairment,
        conversation_rtt: Option<Duration>,
    ) -> LegQuality {
        let estimate = (m.received > 0 && m.clock_rate != VIDEO_CLOCK_RATE).then(|| {
            let jitter = if m.jitter_ms.is_finite() {
                m.jitter_ms.clamp(0.0, 10_000.0)
            } else {
                0.0
            };
            estimate(&QualityInput {
                codec,
                loss_percent: m.loss_percent(),
                burst_ratio: 1.0,
                rtt: conversation_rtt.unwrap_or_default(),
                jitter_buffer: Duration::from_secs_f64(2.0 * jitter / 1000.0),
                extra_delay: PACKETISATION_DELAY,
            })
        });
        LegQuality {
            received: m.received,
            expected: m.expected,
            lost: m.lost(),
            loss_percent: m.loss_percent(),
            jitter_ms: m.jitter_ms,
            rtt_ms: m.rtt.map(|d| d.as_secs_f64() * 1000.0),
            reported: m.reported,
            mos: estimate.map(|e| e.mos),
            r: estimate.map(|e| e.r),
        }
    }
}

/// Quality of both legs of one forwarded stream (one m-line of a call).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct StreamQuality {
    /// Leg A (the caller's side in a call).
    pub a: LegQuality,
    pub b: LegQuality,
}

impl StreamQuality {
    pub fn new(measured: [LegMeasurement; 2], codecs: [CodecImpairment; 2]) -> StreamQuality {
        let rtt = conversation_rtt(measured[0].rtt, measured[1].rtt);
        StreamQuality {
            a: LegQuality::assess(&measured[0], codecs[0], rtt),
            b: LegQuality::assess(&measured[1], codecs[1], rtt),
        }
    }

    /// Round trip between the two endpoints through the gateway, ms: the
    /// sum of both legs' round trips. `None` unless both are known.
    pub fn round_trip_ms(&self) -> Option<f64> {
        Some(self.a.rtt_ms? + self.b.rtt_ms?)
    }
}

/// The endpoints' round trip, or the one leg known (a lower bound) for
/// the E-model, which would otherwise assume no delay at all.
fn conversation_rtt(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a + b),
        (a, b) => a.or(b),
    }
}

/// Passive quality monitor of one leg of a forwarded stream: receive
/// statistics of the RTP the leg sends, RTT from the leg's reports about
/// the SRs of the other peer that the gateway forwarded to it, and the
/// leg's latest reception report.
///
/// RTT: the gateway forwards the other peer's SR to this leg at time T1
/// (its arrival; forwarding adds microseconds), this leg answers with a
/// report echoing the SR's NTP middle 32 bits (LSR) after holding it DLSR,
/// and the report reaches the gateway at T2. T2 − T1 − DLSR is the round
/// trip between the gateway and this leg's peer only: the segment this leg
/// is responsible for, with no clock shared between the hosts.
#[derive(Debug, Clone)]
pub struct LegMonitor {
    clock_rate: u32,
    current: Option<ReceiveStats>,
    /// Totals of sources that came before `current` (new SSRC, new clock).
    past_expected: u64,
    past_received: u64,
    forwarded_srs: SentReports,
    rtt: Option<Duration>,
    reported: Option<ReportBlock>,
}

impl Default for LegMonitor {
    fn default() -> Self {
        LegMonitor::new(8000)
    }
}

impl LegMonitor {
    pub fn new(clock_rate: u32) -> Self {
        LegMonitor {
            clock_rate: clock_rate.max(1),
            current: None,
            past_expected: 0,
            past_received: 0,
            forwarded_srs: SentReports::new(),
            rtt: None,
            reported: None,
        }
    }

    /// The clock of the leg's payload format. A change (re-INVITE to
    /// another codec) starts a new measurement; counts carry over.
    pub fn set_clock_rate(&mut self, clock_rate: u32) {
        let clock_rate = clock_rate.max(1);
        if clock_rate != self.clock_rate {
            self.clock_rate = clock_rate;
            self.retire_current();
        }
    }

    fn retire_current(&mut self) {
        if let Some(s) = self.current.take() {
            self.past_expected += s.expected();
            self.past_received += s.received();
        }
    }

    /// The RTP clock of the leg's payload format.
    pub fn clock_rate(&self) -> u32 {
        self.clock_rate
    }

    /// SSRC of the RTP the leg sends now.
    pub fn ssrc(&self) -> Option<u32> {
        self.current.as_ref().map(ReceiveStats::ssrc)
    }

    /// An RTP packet from the leg. Only the fixed header is read: SRTP
    /// leaves it in clear, so this works before decryption.
    pub fn on_rtp(&mut self, packet: &[u8], arrival: Instant) {
        let Some(h) = packet.get(..12) else {
            return;
        };
        let seq = u16::from_be_bytes([h[2], h[3]]);
        let ts = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
        let ssrc = u32::from_be_bytes([h[8], h[9], h[10], h[11]]);
        if self.ssrc() != Some(ssrc) {
            self.retire_current();
            self.current = Some(ReceiveStats::new(ssrc, self.clock_rate));
        }
        if let Some(s) = self.current.as_mut() {
            s.on_packet(seq, ts, arrival);
        }
    }

    /// An SR of the other peer, sent on toward this leg at `at`.
    pub fn on_sr_forwarded(&mut self, ntp_timestamp: u64, at: Instant) {
        self.forwarded_srs.on_sr_sent(ntp_timestamp, at);
    }

    /// An SR the leg itself sent (kept for LSR/DLSR in our own reports).
    pub fn on_own_sr(&mut self, ssrc: u32, ntp_timestamp: u64, arrival: Instant) {
        if let Some(s) = self.current.as_mut().filter(|s| s.ssrc() == ssrc) {
            s.on_sender_report(ntp_timestamp, arrival);
        }
    }

    /// Report blocks the leg sent. `about`: the SSRC of the media the leg
    /// receives through us, to pick the right block when there are several.
    pub fn on_report_blocks(
        &mut self,
        blocks: &[ReportBlock],
        about: Option<u32>,
        arrival: Instant,
    ) {
        let chosen = about
            .and_then(|ssrc| blocks.iter().find(|b| b.ssrc == ssrc))
            .or(blocks.first());
        if let Some(b) = chosen {
            self.reported = Some(*b);
        }
        if let Some(rtt) = blocks
            .iter()
            .find_map(|b| self.forwarded_srs.rtt(b, arrival))
        {
            self.rtt = Some(rtt);
        }
    }

    /// The gateway's reception report block about the leg's RTP, for the
    /// reports it sends a leg whose RTCP it terminates; starts a new
    /// interval for the fraction lost. `None` before any RTP.
    pub fn report_block(&mut self, now: Instant) -> Option<ReportBlock> {
        self.current.as_mut().map(|s| s.report_block(now))
    }

    pub fn measurement(&self) -> LegMeasurement {
        let (expected, received, jitter_ms) = match &self.current {
            Some(s) => (s.expected(), s.received(), s.jitter_ms()),
            None => (0, 0, 0.0),
        };
        let rate = f64::from(self.clock_rate);
        LegMeasurement {
            clock_rate: self.clock_rate,
            received: self.past_received + received,
            expected: self.past_expected + expected,
            jitter_ms,
            rtt: self.rtt,
            reported: self.reported.map(|b| PeerReport {
                fraction_lost_percent: f64::from(b.fraction_lost) * 100.0 / 256.0,
                cumulative_lost: b.cumulative_lost,
                jitter_ms: f64::from(b.jitter) * 1000.0 / rate,
            }),
        }
    }
}

/// Monitors of both legs of a forwarded stream, fed by the relay with the
/// packets it forwards. Index 0 is leg A, 1 is leg B.
#[derive(Debug, Clone, Default)]
pub struct ForwardedStreamMonitor {
    pub legs: [LegMonitor; 2],
}

impl ForwardedStreamMonitor {
    /// A parsed compound RTCP packet from leg `from` (0 or 1), which
    /// arrived at `arrival`; `forwarded`: it was sent on to the other leg
    /// (an SR that never left cannot be echoed).
    pub fn on_rtcp(
        &mut self,
        from: usize,
        packets: &[crate::rtcp::RtcpPacket],
        arrival: Instant,
        forwarded: bool,
    ) {
        use crate::rtcp::RtcpPacket;
        let (from, to) = if from == 0 { (0, 1) } else { (1, 0) };
        let about = self.legs[to].ssrc();
        for p in packets {
            match p {
                RtcpPacket::SenderReport(sr) => {
                    if forwarded {
                        self.legs[to].on_sr_forwarded(sr.ntp_timestamp, arrival);
                    }
                    self.legs[from].on_own_sr(sr.ssrc, sr.ntp_timestamp, arrival);
                    self.legs[from].on_report_blocks(&sr.reports, about, arrival);
                }
                RtcpPacket::ReceiverReport(rr) => {
                    self.legs[from].on_report_blocks(&rr.reports, about, arrival);
                }
                _ => {}
            }
        }
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

    use crate::rtcp::{ReceiverReport, RtcpPacket, SenderReport};

    fn rtp(seq: u16, ts: u32, ssrc: u32) -> Vec<u8> {
        let mut p = vec![0x80, 0];
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&ts.to_be_bytes());
        p.extend_from_slice(&ssrc.to_be_bytes());
        p
    }

    fn sr(ssrc: u32, ntp: u64) -> RtcpPacket {
        RtcpPacket::SenderReport(SenderReport {
            ssrc,
            ntp_timestamp: ntp,
            rtp_timestamp: 0,
            packet_count: 0,
            octet_count: 0,
            reports: vec![],
        })
    }

    fn rr(ssrc: u32, block: ReportBlock) -> RtcpPacket {
        RtcpPacket::ReceiverReport(ReceiverReport {
            ssrc,
            reports: vec![block],
        })
    }

    #[test]
    fn rtt_of_a_leg_from_the_sr_forwarded_to_it() {
        let t0 = Instant::now();
        let ntp = 0xe000_0000_8000_0000u64;
        let mut m = ForwardedStreamMonitor::default();
        // A's SR goes on to B; B answers 130 ms later, having held it 30 ms.
        m.on_rtcp(0, &[sr(0xa, ntp)], t0, true);
        let block = ReportBlock {
            ssrc: 0xa,
            fraction_lost: 64,
            cumulative_lost: 7,
            jitter: 80,
            last_sr: ntp_middle32(ntp),
            delay_since_last_sr: duration_to_ntp_short(Duration::from_millis(30)),
            ..Default::default()
        };
        m.on_rtcp(1, &[rr(0xb, block)], t0 + Duration::from_millis(130), true);
        let b = m.legs[1].measurement();
        let rtt = b.rtt.expect("rtt of leg B");
        assert!(
            rtt.abs_diff(Duration::from_millis(100)) < Duration::from_millis(1),
            "{rtt:?}"
        );
        assert_eq!(m.legs[0].measurement().rtt, None, "A echoed nothing");
        let rep = b.reported.unwrap();
        assert_eq!(rep.fraction_lost_percent, 25.0);
        assert_eq!(rep.cumulative_lost, 7);
        assert_eq!(rep.jitter_ms, 10.0);
    }

    #[test]
    fn an_sr_that_was_not_forwarded_gives_no_rtt() {
        let t0 = Instant::now();
        let ntp = 0xe000_0001_0000_0000u64;
        let mut m = ForwardedStreamMonitor::default();
        m.on_rtcp(0, &[sr(0xa, ntp)], t0, false);
        let block = ReportBlock {
            ssrc: 0xa,
            last_sr: ntp_middle32(ntp),
            ..Default::default()
        };
        m.on_rtcp(1, &[rr(0xb, block)], t0 + Duration::from_millis(50), true);
        assert_eq!(m.legs[1].measurement().rtt, None);
        // A DLSR longer than the time elapsed is a peer error, not an RTT.
        m.on_rtcp(0, &[sr(0xa, ntp)], t0, true);
        let late = ReportBlock {
            delay_since_last_sr: duration_to_ntp_short(Duration::from_secs(1)),
            ..block
        };
        m.on_rtcp(1, &[rr(0xb, late)], t0 + Duration::from_millis(50), true);
        assert_eq!(m.legs[1].measurement().rtt, None);
    }

    #[test]
    fn loss_jitter_and_mos_of_a_leg() {
        let t0 = Instant::now();
        let mut lossy = LegMonitor::new(8000);
        let mut clean = LegMonitor::new(8000);
        for i in 0..=200u16 {
            // Arrivals wobble by 0–6 ms around the 20 ms grid.
            let at = t0 + Duration::from_millis(u64::from(i) * 20 + u64::from(i % 4) * 2);
            let pkt = rtp(i, u32::from(i) * 160, 7);
            clean.on_rtp(&pkt, at);
            if i % 10 != 9 {
                lossy.on_rtp(&pkt, at);
            }
        }
        let (l, c) = (lossy.measurement(), clean.measurement());
        assert_eq!((l.expected, l.received, l.lost()), (201, 181, 20));
        assert!(
            (l.loss_percent() - 9.95).abs() < 0.01,
            "{}",
            l.loss_percent()
        );
        assert_eq!(c.lost(), 0);
        assert!(c.jitter_ms > 0.5 && c.jitter_ms < 10.0, "{}", c.jitter_ms);
        let ql = LegQuality::assess(&l, CodecImpairment::G711, None);
        let qc = LegQuality::assess(&c, CodecImpairment::G711, None);
        assert!(qc.mos.unwrap() > 4.3, "{qc:?}");
        assert!(ql.mos.unwrap() < qc.mos.unwrap() - 1.0, "{ql:?}");
        // Better concealment, better score at the same loss.
        let plc = LegQuality::assess(&l, CodecImpairment::G711_PLC, None);
        assert!(plc.mos.unwrap() > ql.mos.unwrap());
        // Video gets no MOS; a leg without RTP neither.
        let video = LegMeasurement {
            clock_rate: VIDEO_CLOCK_RATE,
            ..c
        };
        assert_eq!(
            LegQuality::assess(&video, CodecImpairment::G711, None).mos,
            None
        );
        assert_eq!(
            LegQuality::assess(&LegMeasurement::default(), CodecImpairment::G711, None).mos,
            None
        );
    }

    #[test]
    fn a_new_ssrc_or_clock_keeps_the_counts() {
        let t0 = Instant::now();
        let mut m = LegMonitor::new(8000);
        for i in [0u16, 1, 3] {
            m.on_rtp(&rtp(i, 0, 1), t0);
        }
        m.set_clock_rate(16000);
        for i in [100u16, 101] {
            m.on_rtp(&rtp(i, 0, 1), t0);
        }
        for i in [5000u16, 5002] {
            m.on_rtp(&rtp(i, 0, 2), t0);
        }
        m.on_rtp(&[0x80, 0, 1], t0);
        let x = m.measurement();
        assert_eq!((x.expected, x.received), (4 + 2 + 3, 3 + 2 + 2));
        assert_eq!(x.clock_rate, 16000);
    }

    #[test]
    fn round_trip_needs_both_legs() {
        let a = LegMeasurement {
            received: 10,
            expected: 10,
            rtt: Some(Duration::from_millis(40)),
            clock_rate: 8000,
            ..Default::default()
        };
        let b = LegMeasurement { rtt: None, ..a };
        let q = StreamQuality::new([a, b], [CodecImpairment::G711; 2]);
        assert_eq!(q.round_trip_ms(), None);
        let b = LegMeasurement {
            rtt: Some(Duration::from_millis(60)),
            ..a
        };
        let q = StreamQuality::new([a, b], [CodecImpairment::G711; 2]);
        assert!((q.round_trip_ms().unwrap() - 100.0).abs() < 1e-9);
    }
}
