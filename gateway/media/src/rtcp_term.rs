//! RTCP of a decoded leg (sans-IO).
//!
//! When a direction is transcoded, the stream a leg receives is the
//! gateway's: other timestamps, other packet counts, concealed gaps. The
//! far peer's sender reports and reception reports describe a different
//! stream, so they are not passed on (the relay consumes them for its
//! quality figures), and the gateway reports to each decoded leg itself,
//! as an RTP endpoint would (RFC 3550 §6.4, §7.2 on translators that
//! change the data):
//!
//! - an SR whose sender is the SSRC of the RTP the gateway sends the leg,
//!   with the packets and payload octets it sent and the RTP timestamp of
//!   the report's wall-clock time on that stream's clock — or an RR when
//!   nothing was sent yet;
//! - one report block about the leg's own RTP, from the gateway's
//!   reception statistics of it (loss since the previous report,
//!   cumulative loss, extended highest sequence number, jitter, and the
//!   LSR/DLSR of the leg's last SR so the leg can measure its RTT);
//! - an SDES CNAME, which every compound packet carries.
//!
//! The relay records each SR it sends as if forwarded (see
//! [`crate::quality::LegMonitor::on_sr_forwarded`]) so the leg's reports
//! echoing it give the leg's RTT the same way as on forwarded streams.

use std::time::{Duration, Instant};

use crate::rtcp::{
    build_compound, ReceiverReport, ReportBlock, RtcpPacket, SdesChunk, SenderReport,
};
use crate::rtp_header;

/// Time between reports to a leg (RFC 3550's recommended minimum).
pub const REPORT_INTERVAL: Duration = Duration::from_secs(5);
/// The first report goes out this long after the first packet seen, so
/// that a short call still gets an RTT.
pub const FIRST_REPORT: Duration = Duration::from_secs(1);

/// The sender half of a report: what the gateway sent to one leg.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SentStream {
    pub ssrc: Option<u32>,
    /// Packets sent (RFC 3550: wraps at 2^32).
    pub packets: u32,
    /// Payload octets sent, headers and padding excluded (wraps).
    pub octets: u32,
    /// Timestamp of the last packet sent and when it went.
    pub last: Option<(u32, Instant)>,
}

impl SentStream {
    /// Account an RTP packet sent to the leg. Only the header is read: on
    /// an SRTP leg the payload count includes the authentication tag.
    pub fn on_rtp_sent(&mut self, packet: &[u8], at: Instant) {
        let Some(v) = rtp_header::parse(packet) else {
            return;
        };
        if self.ssrc != Some(v.ssrc) {
            // A new source starts its own counts (RFC 3550 §6.4.1).
            *self = SentStream {
                ssrc: Some(v.ssrc),
                ..SentStream::default()
            };
        }
        self.packets = self.packets.wrapping_add(1);
        self.octets = self.octets.wrapping_add((v.payload.1 - v.payload.0) as u32);
        self.last = Some((v.timestamp, at));
    }

    /// The stream's RTP timestamp at `now`: the last one sent, advanced by
    /// the time since at `clock_rate`.
    pub fn rtp_timestamp_at(&self, now: Instant, clock_rate: u32) -> Option<u32> {
        let (ts, at) = self.last?;
        let elapsed = now.saturating_duration_since(at);
        let ticks = elapsed.as_nanos() * u128::from(clock_rate) / 1_000_000_000;
        Some(ts.wrapping_add(ticks as u64 as u32))
    }
}

/// The gateway's RTCP towards one decoded leg.
#[derive(Debug, Clone)]
pub struct RtcpTerminator {
    /// SSRC of an RR while nothing has been sent (no stream of ours yet).
    own_ssrc: u32,
    cname: String,
    clock_rate: u32,
    sent: SentStream,
    next_report: Option<Instant>,
    reports: u64,
}

/// One report built by [`RtcpTerminator::report`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltReport {
    pub datagram: Vec<u8>,
    /// The NTP timestamp of the SR, if the report is one (for RTT).
    pub sr_ntp: Option<u64>,
}

impl RtcpTerminator {
    /// `own_ssrc`: a random SSRC for receiver-only reports; `cname`: the
    /// gateway's canonical name; `clock_rate`: the RTP clock of what the
    /// gateway sends the leg.
    pub fn new(own_ssrc: u32, cname: &str, clock_rate: u32) -> Self {
        RtcpTerminator {
            own_ssrc,
            // SDES items are at most 255 octets.
            cname: cname.chars().take(64).collect(),
            clock_rate: clock_rate.max(1),
            sent: SentStream::default(),
            next_report: None,
            reports: 0,
        }
    }

    pub fn set_clock_rate(&mut self, clock_rate: u32) {
        self.clock_rate = clock_rate.max(1);
    }

    pub fn sent(&self) -> &SentStream {
        &self.sent
    }

    /// Reports built so far.
    pub fn reports(&self) -> u64 {
        self.reports
    }

    pub fn on_rtp_sent(&mut self, packet: &[u8], at: Instant) {
        self.sent.on_rtp_sent(packet, at);
    }

    /// Whether a report is due at `now`. The first call starts the clock.
    pub fn due(&mut self, now: Instant) -> bool {
        match self.next_report {
            None => {
                self.next_report = Some(now + FIRST_REPORT);
                false
            }
            Some(t) => now >= t,
        }
    }

    /// The compound report to send at `now` (wall clock `ntp`), with
    /// `reception` the gateway's report block about the leg's RTP, if it
    /// has received any. Schedules the next one.
    pub fn report(
        &mut self,
        now: Instant,
        ntp: u64,
        reception: Option<ReportBlock>,
    ) -> BuiltReport {
        self.next_report = Some(now + REPORT_INTERVAL);
        self.reports += 1;
        let blocks: Vec<ReportBlock> = reception.into_iter().collect();
        let (first, ssrc, sr_ntp) = match (
            self.sent.ssrc,
            self.sent.rtp_timestamp_at(now, self.clock_rate),
        ) {
            (Some(ssrc), Some(rtp_timestamp)) => (
                RtcpPacket::SenderReport(SenderReport {
                    ssrc,
                    ntp_timestamp: ntp,
                    rtp_timestamp,
                    packet_count: self.sent.packets,
                    octet_count: self.sent.octets,
                    reports: blocks,
                }),
                ssrc,
                Some(ntp),
            ),
            _ => (
                RtcpPacket::ReceiverReport(ReceiverReport {
                    ssrc: self.own_ssrc,
                    reports: blocks,
                }),
                self.own_ssrc,
                None,
            ),
        };
        let sdes = RtcpPacket::SourceDescription(vec![SdesChunk::cname(ssrc, &self.cname)]);
        // Both packets are bounded (one block, a short CNAME): building
        // cannot fail; an empty datagram would only be skipped by the relay.
        let datagram = build_compound(&[first, sdes]).unwrap_or_default();
        BuiltReport { datagram, sr_ntp }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quality::LegMonitor;
    use crate::rtcp::{
        duration_to_ntp_short, ntp_middle32, parse_compound, RtcpPacket, SDES_CNAME,
    };

    fn rtp(seq: u16, ts: u32, ssrc: u32, payload: usize) -> Vec<u8> {
        let mut p = Vec::new();
        rtp_header::write_header(&mut p, 0, false, seq, ts, ssrc);
        p.resize(12 + payload, 0xff);
        p
    }

    #[test]
    fn the_first_report_waits_then_every_interval() {
        let t0 = Instant::now();
        let mut t = RtcpTerminator::new(9, "gw", 8000);
        assert!(!t.due(t0));
        assert!(!t.due(t0 + FIRST_REPORT - Duration::from_millis(1)));
        assert!(t.due(t0 + FIRST_REPORT));
        t.report(t0 + FIRST_REPORT, 0, None);
        assert!(!t.due(t0 + FIRST_REPORT + Duration::from_secs(4)));
        assert!(t.due(t0 + FIRST_REPORT + REPORT_INTERVAL));
        assert_eq!(t.reports(), 1);
    }

    #[test]
    fn a_receiver_only_report_before_anything_was_sent() {
        let t0 = Instant::now();
        let mut t = RtcpTerminator::new(0x5151, "gw@example", 8000);
        let r = t.report(t0, 0xe000_0000_0000_0000, None);
        assert_eq!(r.sr_ntp, None);
        let p = parse_compound(&r.datagram).unwrap();
        assert_eq!(p.len(), 2);
        match &p[0] {
            RtcpPacket::ReceiverReport(rr) => {
                assert_eq!(rr.ssrc, 0x5151);
                assert!(rr.reports.is_empty());
            }
            other => panic!("expected an RR, got {other:?}"),
        }
    }

    /// The gateway sent 50 packets of 160 octets to the leg and received
    /// 100 from it with 10 lost; the leg sent an SR 300 ms before our
    /// report. Every field of the SR and of its block is checked.
    #[test]
    fn sender_report_fields_of_a_decoded_leg() {
        let t0 = Instant::now();
        let mut t = RtcpTerminator::new(1, "gateway@test", 8000);
        for i in 0..50u16 {
            let at = t0 + Duration::from_millis(20 * u64::from(i));
            t.on_rtp_sent(&rtp(500 + i, 8000 + 160 * u32::from(i), 0xaaaa, 160), at);
        }
        // The leg's RTP at the gateway: 110 sequence numbers, every 11th
        // lost; the last one is lost too, so 109 are expected and 9 lost.
        let mut leg = LegMonitor::new(8000);
        let mut received = 0;
        for i in 0..110u16 {
            if i % 11 == 10 {
                continue;
            }
            let at = t0 + Duration::from_millis(20 * u64::from(i));
            leg.on_rtp(
                &rtp(65500u16.wrapping_add(i), 160 * u32::from(i), 0xbbbb, 160),
                at,
            );
            received += 1;
        }
        assert_eq!(received, 100);
        let leg_sr_ntp = 0xe123_4567_89ab_cdefu64;
        leg.on_own_sr(0xbbbb, leg_sr_ntp, t0 + Duration::from_millis(1900));
        let now = t0 + Duration::from_millis(2200);
        let ntp = 0xe200_0000_8000_0000u64;
        let r = t.report(now, ntp, leg.report_block(now));
        assert_eq!(r.sr_ntp, Some(ntp));
        let p = parse_compound(&r.datagram).unwrap();
        let RtcpPacket::SenderReport(sr) = &p[0] else {
            panic!("expected an SR, got {:?}", p[0]);
        };
        assert_eq!(sr.ssrc, 0xaaaa, "the SSRC of what the gateway sends");
        assert_eq!(sr.ntp_timestamp, ntp);
        assert_eq!((sr.packet_count, sr.octet_count), (50, 50 * 160));
        // Last packet at 980 ms with ts 8000 + 49·160; 1220 ms later.
        assert_eq!(sr.rtp_timestamp, 8000 + 49 * 160 + 1220 * 8);
        assert_eq!(sr.reports.len(), 1);
        let b = sr.reports[0];
        assert_eq!(b.ssrc, 0xbbbb, "about the leg's own RTP");
        assert_eq!(b.cumulative_lost, 9);
        assert_eq!(b.fraction_lost, (9 * 256 / 109) as u8);
        // 65500 + 108 wraps once: cycles 1, highest 72.
        assert_eq!(b.extended_highest_seq, (1 << 16) | 72);
        assert_eq!(b.jitter, 0, "packets on the 20 ms grid");
        assert_eq!(b.last_sr, ntp_middle32(leg_sr_ntp));
        assert_eq!(
            b.delay_since_last_sr,
            duration_to_ntp_short(Duration::from_millis(300))
        );
        let RtcpPacket::SourceDescription(chunks) = &p[1] else {
            panic!("expected SDES, got {:?}", p[1]);
        };
        assert_eq!(chunks[0].ssrc, 0xaaaa);
        assert_eq!(chunks[0].items[0].kind, SDES_CNAME);
        assert_eq!(chunks[0].get_cname(), Some("gateway@test"));
        // The next report's fraction covers only the new interval.
        for i in 110..120u16 {
            let at = t0 + Duration::from_millis(20 * u64::from(i));
            leg.on_rtp(
                &rtp(65500u16.wrapping_add(i), 160 * u32::from(i), 0xbbbb, 160),
                at,
            );
        }
        let later = now + REPORT_INTERVAL;
        let b = leg.report_block(later).unwrap();
        // (109 was lost, 110.. arrived: one more loss in this interval.)
        assert_eq!(b.cumulative_lost, 10);
        assert_eq!(b.fraction_lost, (256 / 11) as u8, "1 of 11");
    }

    #[test]
    fn jitter_in_the_block_is_in_the_legs_timestamp_units() {
        let t0 = Instant::now();
        let mut leg = LegMonitor::new(8000);
        for i in 0..200u16 {
            // Every other packet 10 ms late.
            let late = if i % 2 == 1 { 10 } else { 0 };
            let at = t0 + Duration::from_millis(20 * u64::from(i) + late);
            leg.on_rtp(&rtp(i, 160 * u32::from(i), 7, 160), at);
        }
        let b = leg.report_block(t0 + Duration::from_secs(5)).unwrap();
        // |D| is 80 ticks every packet: the estimate converges to 80.
        assert!((75..=80).contains(&b.jitter), "{}", b.jitter);
        assert_eq!(
            (b.cumulative_lost, b.last_sr, b.delay_since_last_sr),
            (0, 0, 0)
        );
    }

    #[test]
    fn a_new_sending_ssrc_restarts_the_counts() {
        let t0 = Instant::now();
        let mut s = SentStream::default();
        s.on_rtp_sent(&rtp(1, 100, 1, 20), t0);
        s.on_rtp_sent(&rtp(2, 260, 1, 20), t0);
        s.on_rtp_sent(&rtp(9, 900, 2, 33), t0);
        assert_eq!((s.ssrc, s.packets, s.octets), (Some(2), 1, 33));
        s.on_rtp_sent(&[0x80, 0], t0);
        assert_eq!(s.packets, 1, "a runt is not counted");
    }
}
