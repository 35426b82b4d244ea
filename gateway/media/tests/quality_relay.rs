//! Per-leg quality measured by the relay on real loopback sockets: loss and
//! jitter of forwarded RTP, RTT from SR/RR pairs crossing the relay, MOS,
//! and the metrics recorded at session end. Current-thread runtime, as in
//! `relay.rs`: once the test has received a forwarded packet, the relay
//! task's wakeup (which publishes the quality) is complete. Pass/fail never
//! depends on how fast the machine is: timing only bounds the RTT from
//! above by the test's own timeout.

use std::net::SocketAddr;
use std::time::Duration;

use gateway_media::quality::{estimate, CodecImpairment, QualityInput};
use gateway_media::rtcp::{build_rr, build_sr, ntp_middle32, ReportBlock, SenderReport};
use gateway_media::{Leg, MediaRelay, MediaSession, RelayConfig};
use tokio::net::UdpSocket;

fn relay(low: u16, high: u16) -> MediaRelay {
    let mut cfg = RelayConfig::new("127.0.0.1".parse().unwrap(), low..=high);
    cfg.random_start = false;
    MediaRelay::with_config(cfg).unwrap()
}

async fn endpoint() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").await.unwrap()
}

fn addr(s: &UdpSocket) -> SocketAddr {
    s.local_addr().unwrap()
}

fn rtp(ssrc: u32, seq: u16, ts: u32) -> Vec<u8> {
    let mut p = vec![0x80, 0];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.resize(172, 0xd5);
    p
}

async fn recv(s: &UdpSocket) -> Vec<u8> {
    let mut buf = vec![0u8; 2048];
    let (n, _) = tokio::time::timeout(Duration::from_secs(5), s.recv_from(&mut buf))
        .await
        .expect("relay did not deliver a packet")
        .unwrap();
    buf.truncate(n);
    buf
}

/// Two plain endpoints, each with separate RTP and RTCP sockets, wired to
/// stream 0 of a fresh session.
struct Call {
    session: MediaSession,
    a: UdpSocket,
    a_rtcp: UdpSocket,
    b: UdpSocket,
    b_rtcp: UdpSocket,
    a_local: (SocketAddr, SocketAddr),
    b_local: (SocketAddr, SocketAddr),
}

async fn call(relay: &MediaRelay) -> Call {
    let session = relay.allocate("quality", 1).unwrap();
    let (a, a_rtcp, b, b_rtcp) = (
        endpoint().await,
        endpoint().await,
        endpoint().await,
        endpoint().await,
    );
    session
        .set_remote(0, Leg::A, addr(&a), Some(addr(&a_rtcp)), false)
        .unwrap();
    session
        .set_remote(0, Leg::B, addr(&b), Some(addr(&b_rtcp)), false)
        .unwrap();
    let a_local = session.local_addr(0, Leg::A).unwrap();
    let b_local = session.local_addr(0, Leg::B).unwrap();
    Call {
        session,
        a,
        a_rtcp,
        b,
        b_rtcp,
        a_local,
        b_local,
    }
}

fn sr(ssrc: u32, ntp: u64) -> Vec<u8> {
    build_sr(&SenderReport {
        ssrc,
        ntp_timestamp: ntp,
        rtp_timestamp: 0,
        packet_count: 10,
        octet_count: 1600,
        reports: vec![],
    })
    .unwrap()
}

#[tokio::test]
async fn loss_and_jitter_of_each_leg_and_mos_below_the_lossless_one() {
    let relay = relay(23400, 23439);
    let c = call(&relay).await;
    c.session.set_clock_rate(0, Leg::A, 8000).unwrap();
    c.session.set_clock_rate(0, Leg::B, 8000).unwrap();
    c.session
        .set_codec(0, Leg::A, CodecImpairment::G711)
        .unwrap();
    // A skips every 10th sequence number: 20 of 201 lost.
    for seq in 0..=200u16 {
        if seq % 10 == 9 {
            continue;
        }
        // The timestamps say 20 ms apart; the packets leave in a burst with
        // an occasional pause, so arrival and timestamp disagree: jitter.
        if seq % 16 == 0 {
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
        c.a.send_to(&rtp(0xa, seq, u32::from(seq) * 160), c.a_local.0)
            .await
            .unwrap();
        recv(&c.b).await;
    }
    // B loses nothing.
    for seq in 1000..1201u16 {
        c.b.send_to(&rtp(0xb, seq, u32::from(seq) * 160), c.b_local.0)
            .await
            .unwrap();
        recv(&c.a).await;
    }
    let q = c.session.quality(0).unwrap();
    assert_eq!((q.a.expected, q.a.received, q.a.lost), (201, 181, 20));
    assert!((q.a.loss_percent - 9.95).abs() < 0.01, "{:?}", q.a);
    assert!(q.a.jitter_ms > 0.0, "{:?}", q.a);
    assert_eq!((q.b.expected, q.b.lost), (201, 0));
    let mos_a = q.a.mos.expect("A sent audio");
    let mos_b = q.b.mos.expect("B sent audio");
    let lossless = estimate(&QualityInput {
        codec: CodecImpairment::G711,
        loss_percent: 0.0,
        burst_ratio: 1.0,
        rtt: Duration::ZERO,
        jitter_buffer: Duration::ZERO,
        extra_delay: Duration::ZERO,
    })
    .mos;
    assert!(mos_a < lossless - 1.0, "A {mos_a} vs lossless {lossless}");
    assert!(mos_a < mos_b, "A {mos_a} vs B {mos_b}");
    // No RTCP crossed: no RTT, no reports.
    assert_eq!(
        (q.a.rtt_ms, q.b.reported, q.round_trip_ms()),
        (None, None, None)
    );

    let before = relay.metrics();
    assert_eq!(before.mos.count, 0, "recorded at session end only");
    c.session.close().await;
    let m = relay.metrics();
    assert_eq!((m.rtp_expected, m.rtp_lost), (402, 20));
    assert_eq!(m.mos.count, 2);
    assert!((m.mos.sum() - (mos_a + mos_b)).abs() < 0.01);
    // A's score lands in a low bucket, B's in a high one.
    let cumulative = m.mos.cumulative();
    let at = |bound: f64| cumulative.iter().find(|(b, _)| *b == bound).unwrap().1;
    assert_eq!(at(3.0), 1);
    assert_eq!(cumulative.last().unwrap().1, 2);
}

#[tokio::test]
async fn sr_and_rr_crossing_the_relay_give_the_rtt_of_each_leg() {
    let relay = relay(23440, 23479);
    let c = call(&relay).await;
    // Media first, so that the reports can be matched to the SSRCs.
    c.a.send_to(&rtp(0xa, 1, 160), c.a_local.0).await.unwrap();
    recv(&c.b).await;
    c.b.send_to(&rtp(0xb, 1, 160), c.b_local.0).await.unwrap();
    recv(&c.a).await;

    // A's SR crosses to B; B answers at once (DLSR 0) with a report about A.
    let ntp_a = 0xe9a0_0000_4000_0000u64;
    c.a_rtcp
        .send_to(&sr(0xa, ntp_a), c.a_local.1)
        .await
        .unwrap();
    assert_eq!(recv(&c.b_rtcp).await, sr(0xa, ntp_a));
    let about_a = ReportBlock {
        ssrc: 0xa,
        fraction_lost: 64,
        cumulative_lost: 3,
        extended_highest_seq: 1,
        jitter: 40,
        last_sr: ntp_middle32(ntp_a),
        delay_since_last_sr: 0,
    };
    let rr_b = build_rr(0xb, &[about_a]).unwrap();
    c.b_rtcp.send_to(&rr_b, c.b_local.1).await.unwrap();
    assert_eq!(recv(&c.a_rtcp).await, rr_b);

    let q = c.session.quality(0).unwrap();
    let rtt_b = q.b.rtt_ms.expect("B echoed A's SR");
    assert!((0.0..5000.0).contains(&rtt_b), "{rtt_b}");
    assert_eq!(q.a.rtt_ms, None);
    assert_eq!(q.round_trip_ms(), None, "only one leg known");
    let rep = q.b.reported.expect("B's report");
    assert_eq!(rep.fraction_lost_percent, 25.0);
    assert_eq!(rep.cumulative_lost, 3);
    assert_eq!(rep.jitter_ms, 5.0);

    // And the other way: B's SR, answered by A inside an SR of its own.
    let ntp_b = 0xe9a0_0001_8000_0000u64;
    c.b_rtcp
        .send_to(&sr(0xb, ntp_b), c.b_local.1)
        .await
        .unwrap();
    recv(&c.a_rtcp).await;
    let sr_a = build_sr(&SenderReport {
        ssrc: 0xa,
        ntp_timestamp: ntp_a + (1 << 32),
        rtp_timestamp: 0,
        packet_count: 1,
        octet_count: 160,
        reports: vec![ReportBlock {
            ssrc: 0xb,
            last_sr: ntp_middle32(ntp_b),
            ..Default::default()
        }],
    })
    .unwrap();
    c.a_rtcp.send_to(&sr_a, c.a_local.1).await.unwrap();
    recv(&c.b_rtcp).await;
    let q = c.session.quality(0).unwrap();
    let rtt_a = q.a.rtt_ms.expect("A echoed B's SR");
    let total = q.round_trip_ms().expect("both legs known");
    assert!((total - (rtt_a + rtt_b)).abs() < 1e-9);
    c.session.close().await;
}

#[tokio::test]
async fn rtcp_between_two_srtcp_legs_is_not_read() {
    let relay = relay(23480, 23519);
    let c = call(&relay).await;
    c.session.set_rtcp_encrypted(0, Leg::A, true).unwrap();
    c.session.set_rtcp_encrypted(0, Leg::B, true).unwrap();
    let ntp = 0xe9a0_0002_0000_0000u64;
    c.a_rtcp.send_to(&sr(0xa, ntp), c.a_local.1).await.unwrap();
    recv(&c.b_rtcp).await;
    let block = ReportBlock {
        ssrc: 0xa,
        last_sr: ntp_middle32(ntp),
        ..Default::default()
    };
    c.b_rtcp
        .send_to(&build_rr(0xb, &[block]).unwrap(), c.b_local.1)
        .await
        .unwrap();
    recv(&c.a_rtcp).await;
    let q = c.session.quality(0).unwrap();
    assert_eq!((q.b.rtt_ms, q.b.reported), (None, None));

    // From an SRTCP leg to a plain one the relay reads after the transform
    // (here the identity: what a decrypting transform would leave).
    c.session.set_rtcp_encrypted(0, Leg::A, false).unwrap();
    c.a_rtcp.send_to(&sr(0xa, ntp), c.a_local.1).await.unwrap();
    recv(&c.b_rtcp).await;
    c.b_rtcp
        .send_to(&build_rr(0xb, &[block]).unwrap(), c.b_local.1)
        .await
        .unwrap();
    recv(&c.a_rtcp).await;
    let q = c.session.quality(0).unwrap();
    assert!(q.b.rtt_ms.is_some(), "{q:?}");
    c.session.close().await;
}

#[tokio::test]
async fn garbage_rtcp_is_forwarded_or_dropped_but_never_breaks_the_session() {
    let relay = relay(23520, 23559);
    let c = call(&relay).await;
    let mut garbage: Vec<Vec<u8>> = vec![
        // Length field far beyond the datagram.
        vec![0x80, 200, 0xff, 0xff, 0, 0, 0, 1],
        // SR claiming 31 report blocks in 28 bytes.
        {
            let mut p = sr(0xa, 1);
            p[0] |= 31;
            p
        },
        // Padding bit with a zero padding count.
        vec![0xa0, 201, 0, 1, 0, 0, 0, 0],
        // A report block echoing an SR nobody sent, then trailing junk.
        {
            let mut p = build_rr(
                0xb,
                &[ReportBlock {
                    last_sr: 0xdead_beef,
                    delay_since_last_sr: u32::MAX,
                    ..Default::default()
                }],
            )
            .unwrap();
            p.extend_from_slice(&[0x80, 0, 0, 0, 0xff]);
            p
        },
    ];
    // Pseudo-random datagrams that still look like RTCP version 2.
    let mut x = 0x2545_f491_4f6c_dd1du64;
    for len in 8..72usize {
        let mut p = vec![0u8; len];
        for b in &mut p {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        p[0] = 0x80 | (p[0] & 0x3f);
        p[1] = 200 + (p[1] % 8);
        garbage.push(p);
    }
    for g in &garbage {
        c.a_rtcp.send_to(g, c.a_local.1).await.unwrap();
        c.b_rtcp.send_to(g, c.b_local.1).await.unwrap();
    }
    // The session still relays, and the garbage taught it nothing.
    c.a.send_to(&rtp(0xa, 7, 0), c.a_local.0).await.unwrap();
    assert_eq!(recv(&c.b).await, rtp(0xa, 7, 0));
    let q = c.session.quality(0).unwrap();
    assert_eq!((q.a.rtt_ms, q.b.rtt_ms), (None, None));
    assert_eq!(q.a.received, 1);
    c.session.close().await;
}
