//! RTCP on a transcoded stream, over real sockets on 127.0.0.1: the legs'
//! reports are consumed, not passed across; each leg gets the gateway's
//! own SR about the stream it receives, with a block about its own RTP;
//! its answer gives the leg's RTT. A forwarded stream still passes RTCP.

use std::net::SocketAddr;
use std::time::Duration;

use gateway_callmodel::AudioCodec;
use gateway_media::rtcp::{
    build_compound, duration_to_ntp_short, ntp_middle32, parse_compound, ReceiverReport,
    ReportBlock, RtcpPacket,
};
use gateway_media::transcode::{CodecEnd, Transcoder};
use gateway_media::{Direction, Leg, MediaRelay, MediaSession, RelayConfig};
use tokio::net::UdpSocket;

fn relay(low: u16, high: u16) -> MediaRelay {
    let mut cfg = RelayConfig::new("127.0.0.1".parse().unwrap(), low..=high);
    cfg.random_start = false;
    MediaRelay::with_config(cfg).unwrap()
}

const PCMU: CodecEnd = CodecEnd {
    codec: AudioCodec::Pcmu,
    payload_type: 0,
    telephone_event: None,
};
const PCMA: CodecEnd = CodecEnd {
    codec: AudioCodec::Pcma,
    payload_type: 8,
    telephone_event: None,
};

fn audio(pt: u8, seq: u16, ssrc: u32) -> Vec<u8> {
    let mut p = vec![0x80, pt];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.resize(172, 0xd5);
    p
}

fn rr(ssrc: u32, blocks: Vec<ReportBlock>) -> Vec<u8> {
    build_compound(&[RtcpPacket::ReceiverReport(ReceiverReport {
        ssrc,
        reports: blocks,
    })])
    .unwrap()
}

/// Receive one datagram; the timeout only keeps a broken relay from
/// hanging the test run.
async fn recv(s: &UdpSocket, wait: Duration) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 2048];
    let (n, _) = tokio::time::timeout(wait, s.recv_from(&mut buf))
        .await
        .ok()?
        .ok()?;
    buf.truncate(n);
    Some(buf)
}

struct Peers {
    session: MediaSession,
    a: UdpSocket,
    b: UdpSocket,
    a_side: SocketAddr,
    b_side: SocketAddr,
}

async fn peers(relay: &MediaRelay, label: &str) -> Peers {
    let session = relay.allocate(label, 1).unwrap();
    let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    // rtcp-mux on both legs: RTP and RTCP on one socket each.
    session
        .set_remote(0, Leg::A, a.local_addr().unwrap(), None, true)
        .unwrap();
    session
        .set_remote(0, Leg::B, b.local_addr().unwrap(), None, true)
        .unwrap();
    let (a_side, _) = session.local_addr(0, Leg::A).unwrap();
    let (b_side, _) = session.local_addr(0, Leg::B).unwrap();
    Peers {
        session,
        a,
        b,
        a_side,
        b_side,
    }
}

#[tokio::test]
async fn a_transcoded_stream_terminates_rtcp_and_reports_itself() {
    let relay = relay(23700, 23719);
    let p = peers(&relay, "rtcp-term").await;
    p.session
        .set_transform(
            0,
            Direction::AtoB,
            Box::new(Transcoder::new(PCMU, PCMA).unwrap()),
        )
        .unwrap();
    p.session
        .set_transform(
            0,
            Direction::BtoA,
            Box::new(Transcoder::new(PCMA, PCMU).unwrap()),
        )
        .unwrap();

    // A sends 100 packets with 3 sequence numbers missing, B a clean 100.
    let mut a_sent = 0u32;
    let mut sr_to_a = None;
    let a_report = rr(
        0xA,
        vec![ReportBlock {
            ssrc: 0xB,
            ..Default::default()
        }],
    );
    let mut rtcp_at_b = Vec::new();
    for i in 0..100u16 {
        if ![20, 50, 51].contains(&i) {
            p.a.send_to(&audio(0, 1000 + i, 0xA), p.a_side)
                .await
                .unwrap();
            a_sent += 1;
        }
        p.b.send_to(&audio(8, 7000 + i, 0xB), p.b_side)
            .await
            .unwrap();
        if i == 10 {
            // A report from A must not reach B.
            p.a.send_to(&a_report, p.a_side).await.unwrap();
        }
        // Pace the packets a little so that the first report falls due
        // while media still flows (no assertion on timing).
        tokio::time::sleep(Duration::from_millis(15)).await;
        while let Some(d) = recv(&p.a, Duration::from_millis(1)).await {
            if d[1] >= 200 && d[1] <= 206 {
                sr_to_a.get_or_insert(d);
            }
        }
        while let Some(d) = recv(&p.b, Duration::from_millis(1)).await {
            if d[1] >= 200 && d[1] <= 206 {
                rtcp_at_b.push(d);
            }
        }
    }
    assert!(!rtcp_at_b.contains(&a_report), "A's RR leaked to B");
    // What B got is the gateway's report about the stream B receives.
    for d in &rtcp_at_b {
        match &parse_compound(d).unwrap()[0] {
            RtcpPacket::SenderReport(sr) => {
                assert_eq!(sr.ssrc, 0xA);
                assert_eq!(sr.reports.first().map(|b| b.ssrc), Some(0xB));
                assert_eq!(sr.reports[0].cumulative_lost, 0);
            }
            other => panic!("B got {other:?}"),
        }
    }
    assert_eq!(a_sent, 97);
    // Keep media flowing until the gateway reports to A.
    let mut seq = 100u16;
    while sr_to_a.is_none() && seq < 400 {
        p.b.send_to(&audio(8, 7000 + seq, 0xB), p.b_side)
            .await
            .unwrap();
        p.a.send_to(&audio(0, 1000 + seq, 0xA), p.a_side)
            .await
            .unwrap();
        seq += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
        while let Some(d) = recv(&p.a, Duration::from_millis(1)).await {
            if d[1] >= 200 && d[1] <= 206 {
                sr_to_a.get_or_insert(d);
            }
        }
    }
    let sr_to_a = sr_to_a.expect("the gateway reports to A");
    let packets = parse_compound(&sr_to_a).unwrap();
    let RtcpPacket::SenderReport(sr) = &packets[0] else {
        panic!("expected an SR first, got {packets:?}");
    };
    assert_eq!(sr.ssrc, 0xB, "the sender of the stream A receives");
    assert!(sr.packet_count > 0 && sr.octet_count == 160 * sr.packet_count);
    let block = sr.reports.first().expect("a block about A's RTP");
    assert_eq!(block.ssrc, 0xA);
    // The report falls due after a second: count what was missing by then.
    let highest = block.extended_highest_seq;
    let missing = [20u32, 50, 51]
        .iter()
        .filter(|&&i| 1000 + i < highest)
        .count();
    assert!(highest > 1020, "{block:?}");
    assert_eq!(block.cumulative_lost, missing as i32, "{block:?}");
    assert!(matches!(
        packets.get(1),
        Some(RtcpPacket::SourceDescription(_))
    ));

    // A answers the SR after holding it 10 ms: the gateway gets A's RTT.
    let echo = ReportBlock {
        ssrc: 0xB,
        last_sr: ntp_middle32(sr.ntp_timestamp),
        delay_since_last_sr: duration_to_ntp_short(Duration::from_millis(10)),
        fraction_lost: 0,
        ..Default::default()
    };
    p.a.send_to(&rr(0xA, vec![echo]), p.a_side).await.unwrap();
    let mut q = p.session.quality(0).unwrap();
    for _ in 0..100 {
        if q.a.rtt_ms.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        // Any packet wakes the relay task to publish.
        p.b.send_to(&audio(8, 7000 + seq, 0xB), p.b_side)
            .await
            .unwrap();
        seq += 1;
        q = p.session.quality(0).unwrap();
    }
    assert!(
        q.a.rtt_ms.is_some(),
        "A's RTT from the echo of our SR: {q:?}"
    );
    assert_eq!(q.a.lost, 3);
    assert_eq!(q.b.lost, 0);
    let stats = p.session.stats();
    assert_eq!(
        stats.a_to_b.rtcp_packets, 0,
        "nothing of A's RTCP went to B"
    );
    p.session.close().await;
}

#[tokio::test]
async fn a_forwarded_stream_passes_rtcp_through() {
    let relay = relay(23720, 23739);
    let p = peers(&relay, "rtcp-forward").await;
    p.a.send_to(&audio(0, 1, 0xA), p.a_side).await.unwrap();
    p.b.send_to(&audio(0, 1, 0xB), p.b_side).await.unwrap();
    let report = rr(
        0xA,
        vec![ReportBlock {
            ssrc: 0xB,
            ..Default::default()
        }],
    );
    p.a.send_to(&report, p.a_side).await.unwrap();
    let mut got = None;
    while let Some(d) = recv(&p.b, Duration::from_secs(2)).await {
        if d[1] == 201 {
            got = Some(d);
            break;
        }
    }
    assert_eq!(
        got.as_deref(),
        Some(&report[..]),
        "A's RR reaches B untouched"
    );
    p.session.close().await;
}

#[tokio::test]
async fn reports_go_to_the_rtcp_port_without_mux() {
    let relay = relay(23740, 23759);
    let session = relay.allocate("rtcp-nomux", 1).unwrap();
    let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let a_rtcp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    session
        .set_remote(
            0,
            Leg::A,
            a.local_addr().unwrap(),
            Some(a_rtcp.local_addr().unwrap()),
            false,
        )
        .unwrap();
    session
        .set_remote(0, Leg::B, b.local_addr().unwrap(), None, false)
        .unwrap();
    let (a_side, _) = session.local_addr(0, Leg::A).unwrap();
    let (b_side, _) = session.local_addr(0, Leg::B).unwrap();
    session
        .set_transform(
            0,
            Direction::AtoB,
            Box::new(Transcoder::new(PCMU, PCMA).unwrap()),
        )
        .unwrap();
    session
        .set_transform(
            0,
            Direction::BtoA,
            Box::new(Transcoder::new(PCMA, PCMU).unwrap()),
        )
        .unwrap();
    let mut report = None;
    for i in 0..200u16 {
        a.send_to(&audio(0, i, 0xA), a_side).await.unwrap();
        b.send_to(&audio(8, i, 0xB), b_side).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        if let Some(d) = recv(&a_rtcp, Duration::from_millis(1)).await {
            report = Some(d);
            break;
        }
    }
    let report = report.expect("the gateway's report on A's RTCP port");
    assert!(matches!(
        parse_compound(&report).unwrap()[0],
        RtcpPacket::SenderReport(_)
    ));
    session.close().await;
}

#[tokio::test]
async fn reports_with_the_gateways_pipeline() {
    use gateway_media::dtmf_inject::{DtmfInjector, InjectConfig};
    use gateway_media::{Chain, IdentityTransform, PacketTransform, Pipeline};
    let relay = relay(23760, 23779);
    let session = relay.allocate("rtcp-pipeline", 1).unwrap();
    let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let a_rtcp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for (from, f, t) in [(Direction::AtoB, PCMU, PCMA), (Direction::BtoA, PCMA, PCMU)] {
        let chain: Vec<Box<dyn PacketTransform>> = vec![Box::new(Transcoder::new(f, t).unwrap())];
        session
            .set_pipeline(
                0,
                from,
                Pipeline {
                    inbound: Box::new(Chain(chain)),
                    inject: Some(DtmfInjector::new(InjectConfig::new(101, 8000, 8000)).unwrap()),
                    outbound: Box::new(IdentityTransform),
                },
            )
            .unwrap();
    }
    session.set_clock_rate(0, Leg::A, 8000).unwrap();
    session.set_clock_rate(0, Leg::B, 8000).unwrap();
    session
        .set_remote(
            0,
            Leg::A,
            a.local_addr().unwrap(),
            Some(a_rtcp.local_addr().unwrap()),
            false,
        )
        .unwrap();
    session
        .set_remote(0, Leg::B, b.local_addr().unwrap(), None, false)
        .unwrap();
    let (a_side, _) = session.local_addr(0, Leg::A).unwrap();
    let (b_side, _) = session.local_addr(0, Leg::B).unwrap();
    let mut report = None;
    for i in 0..200u16 {
        a.send_to(&audio(0, i, 0xA), a_side).await.unwrap();
        b.send_to(&audio(8, i, 0xB), b_side).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        if let Some(d) = recv(&a_rtcp, Duration::from_millis(1)).await {
            report = Some(d);
            break;
        }
    }
    assert!(report.is_some(), "the gateway's report on A's RTCP port");
    session.close().await;
}
