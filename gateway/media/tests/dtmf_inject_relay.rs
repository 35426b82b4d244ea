//! A digit signalled to the relay (SIP INFO on the other side) comes out
//! of the relay as RFC 4733 events in the audio stream, over real sockets
//! on 127.0.0.1.

use std::net::SocketAddr;
use std::time::Duration;

use gateway_media::dtmf::{split_rtp, DtmfEvent, TelephoneEvent};
use gateway_media::dtmf_inject::{DtmfInjector, InjectConfig};
use gateway_media::{Direction, IdentityTransform, Leg, MediaRelay, Pipeline, RelayConfig};
use tokio::net::UdpSocket;

fn relay(low: u16, high: u16) -> MediaRelay {
    let mut cfg = RelayConfig::new("127.0.0.1".parse().unwrap(), low..=high);
    cfg.random_start = false;
    MediaRelay::with_config(cfg).unwrap()
}

fn audio(seq: u16) -> Vec<u8> {
    let mut p = vec![0x80, 0];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&0xB0B0u32.to_be_bytes());
    p.resize(172, 0xd5);
    p
}

/// Receive one datagram; the timeout only keeps a broken relay from
/// hanging the test run.
async fn recv(s: &UdpSocket) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 2048];
    let (n, _) = tokio::time::timeout(Duration::from_secs(2), s.recv_from(&mut buf))
        .await
        .ok()?
        .ok()?;
    buf.truncate(n);
    Some(buf)
}

#[tokio::test]
async fn a_signalled_digit_is_played_into_the_audio_toward_the_event_leg() {
    let relay = relay(23600, 23619);
    let session = relay.allocate("dtmf-inject", 1).unwrap();
    let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = |s: &UdpSocket| -> SocketAddr { s.local_addr().unwrap() };
    session.set_remote(0, Leg::A, addr(&a), None, true).unwrap();
    session.set_remote(0, Leg::B, addr(&b), None, true).unwrap();
    let (a_side, _) = session.local_addr(0, Leg::A).unwrap();
    let (b_side, _) = session.local_addr(0, Leg::B).unwrap();

    // B speaks INFO only; A negotiated telephone-event 101/8000: digits
    // from B ride in the B→A direction.
    assert!(!session.can_inject_dtmf(0, Direction::BtoA));
    let five = DtmfEvent::from_char('5').unwrap();
    assert!(session.inject_dtmf(0, Direction::BtoA, five, 160).is_err());
    let mut cfg = InjectConfig::new(101, 8000, 8000);
    cfg.seq = 40000;
    session
        .set_pipeline(
            0,
            Direction::BtoA,
            Pipeline {
                inbound: Box::new(IdentityTransform),
                inject: Some(DtmfInjector::new(cfg).unwrap()),
                outbound: Box::new(IdentityTransform),
            },
        )
        .unwrap();
    assert!(session.can_inject_dtmf(0, Direction::BtoA));
    assert!(!session.can_inject_dtmf(0, Direction::AtoB));

    // A's packet latches A; B's audio reaches A.
    a.send_to(&audio(1), a_side).await.unwrap();
    let got = recv(&b).await.expect("A's audio reaches B");
    assert_eq!(got[1] & 0x7f, 0);
    b.send_to(&audio(500), b_side).await.unwrap();
    let first = recv(&a).await.expect("B's audio reaches A");
    assert_eq!(u16::from_be_bytes([first[2], first[3]]), 500);

    session.inject_dtmf(0, Direction::BtoA, five, 160).unwrap();
    let mut events = Vec::new();
    while let Some(p) = recv(&a).await {
        let v = split_rtp(&p).unwrap();
        assert_eq!(v.payload_type, 101, "only events while the digit plays");
        assert_eq!(v.ssrc, 0xB0B0, "in B's stream");
        let e = TelephoneEvent::parse(v.payload).unwrap();
        events.push((v.sequence, v.marker, v.timestamp, e));
        if events.iter().filter(|e| e.3.end).count() == 3 {
            break;
        }
    }
    let seqs: Vec<u16> = events.iter().map(|e| e.0).collect();
    assert_eq!(seqs, (501..501 + seqs.len() as u16).collect::<Vec<_>>());
    assert!(events[0].1 && events[1..].iter().all(|e| !e.1));
    assert!(events.iter().all(|e| e.3.event == 5 && e.2 == events[0].2));
    assert_eq!(events.last().unwrap().3.duration, 1280);
    // Audio after the digit continues the numbering.
    b.send_to(&audio(501), b_side).await.unwrap();
    let after = recv(&a).await.expect("B's audio after the digit");
    assert_eq!(
        u16::from_be_bytes([after[2], after[3]]),
        seqs.last().unwrap() + 1
    );
    session.close().await;
}
