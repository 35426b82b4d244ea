//! Relay-wide counters, read by the runtime's Prometheus exporter.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Global counters of one [`crate::MediaRelay`]. Updated with relaxed atomics:
/// each value is monotonic (or a gauge) on its own; no cross-counter
/// consistency is promised. Packet counters are added once per wakeup of a
/// session task, so they lag the traffic by at most one batch (per-session
/// [`crate::SessionStats`] are exact).
#[derive(Debug, Default)]
pub struct RelayMetrics {
    pub(crate) rtp_packets: AtomicU64,
    pub(crate) rtp_bytes: AtomicU64,
    pub(crate) rtcp_packets: AtomicU64,
    pub(crate) rtcp_bytes: AtomicU64,
    pub(crate) dropped_foreign: AtomicU64,
    pub(crate) dropped_malformed: AtomicU64,
    pub(crate) dropped_no_destination: AtomicU64,
    pub(crate) dropped_transform: AtomicU64,
    pub(crate) send_errors: AtomicU64,
    pub(crate) sessions_active: AtomicU64,
    pub(crate) ports_in_use: AtomicU64,
    pub(crate) rtp_expected: AtomicU64,
    pub(crate) rtp_lost: AtomicU64,
    pub(crate) mos: MosCells,
}

/// Upper bounds of the MOS histogram buckets (the +Inf bucket is the
/// count; MOS never exceeds 4.5). Finer at the top, where codecs and
/// networks are told apart: G.711 without loss scores 4.41, 1 % loss takes
/// it to about 3.8 (G.711 without concealment).
pub const MOS_BUCKETS: [f64; 12] = [1.5, 2.0, 2.5, 3.0, 3.5, 3.8, 4.0, 4.1, 4.2, 4.3, 4.4, 4.5];

#[derive(Debug, Default)]
pub(crate) struct MosCells {
    buckets: [AtomicU64; MOS_BUCKETS.len()],
    count: AtomicU64,
    sum_milli: AtomicU64,
}

/// MOS estimates of the legs of ended sessions (one observation per leg
/// and audio stream that received RTP).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MosHistogram {
    /// Observations per bucket of [`MOS_BUCKETS`], not cumulative.
    pub buckets: [u64; MOS_BUCKETS.len()],
    pub count: u64,
    /// Sum of the observations in thousandths (kept integral so that the
    /// snapshot stays `Eq`).
    pub sum_milli: u64,
}

impl MosHistogram {
    /// (upper bound, observations ≤ bound), as Prometheus buckets are.
    pub fn cumulative(&self) -> [(f64, u64); MOS_BUCKETS.len()] {
        let mut acc = 0;
        std::array::from_fn(|i| {
            acc += self.buckets[i];
            (MOS_BUCKETS[i], acc)
        })
    }

    pub fn sum(&self) -> f64 {
        self.sum_milli as f64 / 1000.0
    }
}

/// A copy of [`RelayMetrics`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayMetricsSnapshot {
    pub rtp_packets: u64,
    pub rtp_bytes: u64,
    pub rtcp_packets: u64,
    pub rtcp_bytes: u64,
    /// Packets from a source that is neither latched nor allowed to latch.
    pub dropped_foreign: u64,
    /// Datagrams that are not RTP/RTCP version 2.
    pub dropped_malformed: u64,
    /// Packets received before the other leg had a usable address (including
    /// before any SDP on the receiving leg).
    pub dropped_no_destination: u64,
    /// Packets a [`crate::PacketTransform`] refused.
    pub dropped_transform: u64,
    /// `send_to` failed (socket buffer full, unreachable network).
    pub send_errors: u64,
    /// Gauge: sessions allocated and not yet closed.
    pub sessions_active: u64,
    /// Gauge: local UDP ports held (two per RTP/RTCP pair).
    pub ports_in_use: u64,
    /// RTP packets the peers sent us (by their sequence numbers), added
    /// when a session ends.
    pub rtp_expected: u64,
    /// Of those, how many never arrived (`rtp_lost / rtp_expected` is the
    /// loss ratio on the way to the gateway).
    pub rtp_lost: u64,
    /// MOS estimates at session end.
    pub mos: MosHistogram,
}

impl RelayMetrics {
    pub fn snapshot(&self) -> RelayMetricsSnapshot {
        RelayMetricsSnapshot {
            rtp_packets: self.rtp_packets.load(Relaxed),
            rtp_bytes: self.rtp_bytes.load(Relaxed),
            rtcp_packets: self.rtcp_packets.load(Relaxed),
            rtcp_bytes: self.rtcp_bytes.load(Relaxed),
            dropped_foreign: self.dropped_foreign.load(Relaxed),
            dropped_malformed: self.dropped_malformed.load(Relaxed),
            dropped_no_destination: self.dropped_no_destination.load(Relaxed),
            dropped_transform: self.dropped_transform.load(Relaxed),
            send_errors: self.send_errors.load(Relaxed),
            sessions_active: self.sessions_active.load(Relaxed),
            ports_in_use: self.ports_in_use.load(Relaxed),
            rtp_expected: self.rtp_expected.load(Relaxed),
            rtp_lost: self.rtp_lost.load(Relaxed),
            mos: MosHistogram {
                buckets: std::array::from_fn(|i| self.mos.buckets[i].load(Relaxed)),
                count: self.mos.count.load(Relaxed),
                sum_milli: self.mos.sum_milli.load(Relaxed),
            },
        }
    }

    /// Account the receive quality of one leg of an ended session.
    pub(crate) fn record_leg(&self, expected: u64, lost: u64, mos: Option<f64>) {
        if expected > 0 {
            self.rtp_expected.fetch_add(expected, Relaxed);
        }
        if lost > 0 {
            self.rtp_lost.fetch_add(lost, Relaxed);
        }
        let Some(mos) = mos.filter(|m| m.is_finite()) else {
            return;
        };
        if let Some(i) = MOS_BUCKETS.iter().position(|&b| mos <= b) {
            self.mos.buckets[i].fetch_add(1, Relaxed);
        }
        self.mos.count.fetch_add(1, Relaxed);
        self.mos
            .sum_milli
            .fetch_add((mos.max(0.0) * 1000.0).round() as u64, Relaxed);
    }
}

/// Per-task counts added to [`RelayMetrics`] once per wakeup of the session
/// task rather than per packet: the global counters are shared by every
/// worker thread, and bouncing their cache lines per packet costs more than
/// the counting itself.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub rtp_packets: u64,
    pub rtp_bytes: u64,
    pub rtcp_packets: u64,
    pub rtcp_bytes: u64,
    pub dropped_foreign: u64,
    pub dropped_malformed: u64,
    pub dropped_no_destination: u64,
    pub dropped_transform: u64,
    pub send_errors: u64,
}

impl Tally {
    pub fn flush(&mut self, m: &RelayMetrics) {
        let pairs = [
            (&mut self.rtp_packets, &m.rtp_packets),
            (&mut self.rtp_bytes, &m.rtp_bytes),
            (&mut self.rtcp_packets, &m.rtcp_packets),
            (&mut self.rtcp_bytes, &m.rtcp_bytes),
            (&mut self.dropped_foreign, &m.dropped_foreign),
            (&mut self.dropped_malformed, &m.dropped_malformed),
            (&mut self.dropped_no_destination, &m.dropped_no_destination),
            (&mut self.dropped_transform, &m.dropped_transform),
            (&mut self.send_errors, &m.send_errors),
        ];
        for (local, global) in pairs {
            if *local != 0 {
                global.fetch_add(std::mem::take(local), Relaxed);
            }
        }
    }
}
