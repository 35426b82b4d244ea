//! Relay sessions over real sockets on 127.0.0.1. Traffic only ever goes to
//! loopback: addresses from TEST-NET (192.0.2.0/24) appear in "SDP" only and
//! the tests make sure the relay has latched to a loopback source before it
//! would send toward that leg. The tests run on tokio's current-thread
//! runtime, so a relay task's wakeup (including its flush of the global
//! metrics) is complete before the test task looks at the counters.

use std::net::SocketAddr;
use std::time::Duration;

use gateway_media::{
    Direction, Leg, MediaError, MediaRelay, MediaSession, PacketClass, PacketTransform, RelayConfig,
};
use tokio::net::UdpSocket;

const PKT_LEN: usize = 172;

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

fn rtp(ssrc: u32, seq: u16) -> Vec<u8> {
    let mut p = vec![0x80, 0];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.resize(PKT_LEN, 0xd5);
    p
}

fn rtcp(pt: u8, ssrc: u32) -> Vec<u8> {
    let mut p = vec![0x80, pt, 0, 1];
    p.extend_from_slice(&ssrc.to_be_bytes());
    p
}

fn ssrc_of(p: &[u8]) -> u32 {
    u32::from_be_bytes([p[8], p[9], p[10], p[11]])
}

/// Receive one datagram; the timeout only keeps a broken relay from hanging
/// the test run.
async fn recv(s: &UdpSocket) -> (Vec<u8>, SocketAddr) {
    let mut buf = vec![0u8; 2048];
    let (n, from) = tokio::time::timeout(Duration::from_secs(5), s.recv_from(&mut buf))
        .await
        .expect("relay did not deliver a packet")
        .unwrap();
    buf.truncate(n);
    (buf, from)
}

fn nothing_waiting(s: &UdpSocket) -> bool {
    let mut buf = [0u8; 2048];
    matches!(s.try_recv_from(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

fn local(s: &MediaSession, stream: usize, leg: Leg) -> (SocketAddr, SocketAddr) {
    s.local_addr(stream, leg).unwrap()
}

#[tokio::test]
async fn relays_rtp_and_rtcp_both_ways() {
    let relay = relay(21000, 21039);
    let session = relay.allocate("call-1", 1).unwrap();
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
    let (a_local, a_local_rtcp) = local(&session, 0, Leg::A);
    let (b_local, b_local_rtcp) = local(&session, 0, Leg::B);
    assert_eq!(a_local.port() % 2, 0);
    assert_eq!(a_local_rtcp.port(), a_local.port() + 1);
    assert_ne!(a_local, b_local);

    for seq in 0..20u16 {
        let sent = rtp(0xa, seq);
        a.send_to(&sent, a_local).await.unwrap();
        let (got, from) = recv(&b).await;
        assert_eq!(got, sent);
        assert_eq!(from, b_local, "B must see media from our B-leg port");
    }
    for seq in 0..15u16 {
        b.send_to(&rtp(0xb, seq), b_local).await.unwrap();
        let (got, from) = recv(&a).await;
        assert_eq!(ssrc_of(&got), 0xb);
        assert_eq!(from, a_local);
    }
    a_rtcp.send_to(&rtcp(201, 0xa), a_local_rtcp).await.unwrap();
    let (got, from) = recv(&b_rtcp).await;
    assert_eq!(got, rtcp(201, 0xa));
    assert_eq!(from, b_local_rtcp);

    let st = session.stats();
    assert_eq!(st.a_to_b.packets, 21);
    assert_eq!(st.a_to_b.rtcp_packets, 1);
    assert_eq!(st.a_to_b.bytes, 20 * PKT_LEN as u64 + 8);
    assert_eq!(st.b_to_a.packets, 15);
    assert_eq!(st.b_to_a.bytes, 15 * PKT_LEN as u64);
    assert_eq!(st.dropped(), 0);
    let m = relay.metrics();
    assert_eq!((m.rtp_packets, m.rtcp_packets), (35, 1));
    assert_eq!(m.rtp_bytes, 35 * PKT_LEN as u64);
    assert_eq!((m.sessions_active, m.ports_in_use), (1, 4));
    session.close().await;
    let m = relay.metrics();
    assert_eq!((m.sessions_active, m.ports_in_use), (0, 0));
}

#[tokio::test]
async fn rtcp_mux_on_one_or_both_legs() {
    let relay = relay(21040, 21079);
    // A multiplexes, B does not: RTCP changes ports on the way.
    let session = relay.allocate("mux-1", 1).unwrap();
    let (a, b, b_rtcp) = (endpoint().await, endpoint().await, endpoint().await);
    session.set_remote(0, Leg::A, addr(&a), None, true).unwrap();
    session
        .set_remote(0, Leg::B, addr(&b), Some(addr(&b_rtcp)), false)
        .unwrap();
    let (a_local, _) = local(&session, 0, Leg::A);
    let (_, b_local_rtcp) = local(&session, 0, Leg::B);
    a.send_to(&rtp(1, 1), a_local).await.unwrap();
    assert_eq!(ssrc_of(&recv(&b).await.0), 1);
    a.send_to(&rtcp(200, 1), a_local).await.unwrap();
    let (got, from) = recv(&b_rtcp).await;
    assert_eq!((got, from), (rtcp(200, 1), b_local_rtcp));
    b_rtcp.send_to(&rtcp(201, 2), b_local_rtcp).await.unwrap();
    let (got, from) = recv(&a).await;
    assert_eq!(
        (got, from),
        (rtcp(201, 2), a_local),
        "RTCP toward a mux leg uses its RTP port"
    );
    let st = session.stats();
    assert_eq!(
        (
            st.a_to_b.packets,
            st.a_to_b.rtcp_packets,
            st.b_to_a.rtcp_packets
        ),
        (2, 1, 1)
    );
    drop(session);

    // Both legs multiplex.
    let session = relay.allocate("mux-2", 1).unwrap();
    let (a, b) = (endpoint().await, endpoint().await);
    session.set_remote(0, Leg::A, addr(&a), None, true).unwrap();
    session.set_remote(0, Leg::B, addr(&b), None, true).unwrap();
    let (a_local, _) = local(&session, 0, Leg::A);
    let (b_local, _) = local(&session, 0, Leg::B);
    for p in [rtp(3, 1), rtcp(200, 3), rtp(3, 2)] {
        a.send_to(&p, a_local).await.unwrap();
        assert_eq!(recv(&b).await, (p, b_local));
    }
    b.send_to(&rtcp(203, 4), b_local).await.unwrap();
    assert_eq!(recv(&a).await, (rtcp(203, 4), a_local));
    let st = session.stats();
    assert_eq!(
        (
            st.a_to_b.packets,
            st.a_to_b.rtcp_packets,
            st.b_to_a.rtcp_packets
        ),
        (3, 1, 1)
    );
    assert_eq!(relay.metrics().rtcp_packets, 4);
}

#[tokio::test]
async fn latches_to_natted_source_and_answers_there() {
    let relay = relay(21080, 21119);
    let session = relay.allocate("nat", 1).unwrap();
    let (a, b) = (endpoint().await, endpoint().await);
    // A's SDP carries an unreachable documentation address; its packets come
    // from loopback. A speaks first, so nothing is ever sent to 192.0.2.10.
    session
        .set_remote(0, Leg::A, "192.0.2.10:4000".parse().unwrap(), None, false)
        .unwrap();
    session
        .set_remote(0, Leg::B, addr(&b), None, false)
        .unwrap();
    let (a_local, _) = local(&session, 0, Leg::A);
    let (b_local, _) = local(&session, 0, Leg::B);
    a.send_to(&rtp(0x77, 1), a_local).await.unwrap();
    assert_eq!(ssrc_of(&recv(&b).await.0), 0x77);
    for seq in 0..5 {
        b.send_to(&rtp(0x88, seq), b_local).await.unwrap();
        let (got, from) = recv(&a).await;
        assert_eq!((ssrc_of(&got), from), (0x88, a_local));
    }
    let st = session.stats();
    assert_eq!((st.a_to_b.packets, st.b_to_a.packets), (1, 5));
    assert_eq!(relay.metrics().send_errors, 0);
}

#[tokio::test]
async fn hijack_after_latch_is_dropped_and_counted() {
    let relay = relay(21120, 21159);
    let session = relay.allocate("hijack", 1).unwrap();
    let (a, b, stranger) = (endpoint().await, endpoint().await, endpoint().await);
    session
        .set_remote(0, Leg::A, addr(&a), None, false)
        .unwrap();
    session
        .set_remote(0, Leg::B, addr(&b), None, false)
        .unwrap();
    let (a_local, _) = local(&session, 0, Leg::A);
    let (b_local, _) = local(&session, 0, Leg::B);
    a.send_to(&rtp(0x1111, 1), a_local).await.unwrap();
    recv(&b).await;
    // The stranger's packet queues on the same relay socket ahead of A's
    // next one, so B receiving A's packet next proves the stranger's was
    // dropped rather than forwarded.
    stranger.send_to(&rtp(0x6666, 1), a_local).await.unwrap();
    a.send_to(&rtp(0x1111, 2), a_local).await.unwrap();
    assert_eq!(ssrc_of(&recv(&b).await.0), 0x1111);
    assert_eq!(session.stats().dropped_foreign, 1);
    assert_eq!(relay.metrics().dropped_foreign, 1);
    // Media toward A still goes to A, not to the stranger.
    b.send_to(&rtp(0x2222, 1), b_local).await.unwrap();
    recv(&a).await;
    assert!(nothing_waiting(&stranger));
}

#[tokio::test]
async fn nat_rebinding_with_same_ssrc_relatches() {
    let relay = relay(21160, 21199);
    let session = relay.allocate("rebind", 1).unwrap();
    let (a, a_rebound, b) = (endpoint().await, endpoint().await, endpoint().await);
    session
        .set_remote(0, Leg::A, "192.0.2.20:5000".parse().unwrap(), None, false)
        .unwrap();
    session
        .set_remote(0, Leg::B, addr(&b), None, false)
        .unwrap();
    let (a_local, _) = local(&session, 0, Leg::A);
    let (b_local, _) = local(&session, 0, Leg::B);
    a.send_to(&rtp(0xcafe, 1), a_local).await.unwrap();
    recv(&b).await;
    // The NAT gave A a new public port: same SSRC, new source.
    a_rebound.send_to(&rtp(0xcafe, 2), a_local).await.unwrap();
    assert_eq!(
        u16::from_be_bytes(recv(&b).await.0[2..4].try_into().unwrap()),
        2
    );
    b.send_to(&rtp(0xbeef, 1), b_local).await.unwrap();
    let (got, from) = recv(&a_rebound).await;
    assert_eq!((ssrc_of(&got), from), (0xbeef, a_local));
    assert!(nothing_waiting(&a), "old binding must no longer get media");
    // The old binding is now a stranger unless it carries the SSRC.
    a.send_to(&rtp(0xdead, 3), a_local).await.unwrap();
    a_rebound.send_to(&rtp(0xcafe, 4), a_local).await.unwrap();
    assert_eq!(ssrc_of(&recv(&b).await.0), 0xcafe);
    assert_eq!(session.stats().dropped_foreign, 1);
}

#[tokio::test]
async fn malformed_packets_are_dropped_and_counted() {
    let relay = relay(21200, 21239);
    let session = relay.allocate("garbage", 1).unwrap();
    let (a, b) = (endpoint().await, endpoint().await);
    session
        .set_remote(0, Leg::A, addr(&a), None, false)
        .unwrap();
    session
        .set_remote(0, Leg::B, addr(&b), None, false)
        .unwrap();
    let (a_local, _) = local(&session, 0, Leg::A);
    for junk in [&[1u8, 2, 3][..], &[0x40; 100][..], &[][..], &[0x8f; 20][..]] {
        a.send_to(junk, a_local).await.unwrap();
    }
    a.send_to(&rtp(5, 1), a_local).await.unwrap();
    assert_eq!(recv(&b).await.0, rtp(5, 1));
    let st = session.stats();
    assert_eq!((st.dropped_malformed, st.a_to_b.packets), (4, 1));
    assert_eq!(relay.metrics().dropped_malformed, 4);
}

#[tokio::test]
async fn port_exhaustion_and_ports_returned_after_drop() {
    // Four pairs: two sessions of one stream each (two legs = two pairs).
    let relay = relay(21240, 21247);
    let s1 = relay.allocate("s1", 1).unwrap();
    let s2 = relay.allocate("s2", 1).unwrap();
    let err = relay.allocate("s3", 1).unwrap_err();
    assert!(matches!(err, MediaError::PortsExhausted), "{err:?}");
    assert_eq!(err.sip_status(), 503);
    let m = relay.metrics();
    assert_eq!((m.sessions_active, m.ports_in_use), (2, 8));
    let s1_ports = local(&s1, 0, Leg::A);
    s1.close().await;
    let s3 = relay.allocate("s3", 1).unwrap();
    assert_eq!(
        local(&s3, 0, Leg::A),
        s1_ports,
        "only the freed pairs were left"
    );
    // Plain drop returns ports too, once the task has wound down.
    drop(s2);
    let mut freed = false;
    for _ in 0..500 {
        if relay.metrics().ports_in_use == 4 {
            freed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(freed, "ports not returned after drop");
    assert!(relay.allocate("s4", 1).is_ok());
    assert!(matches!(
        relay.allocate("too-many", 0),
        Err(MediaError::InvalidStreamCount { .. })
    ));
}

#[tokio::test]
async fn busy_port_pair_is_skipped() {
    let _squatter = std::net::UdpSocket::bind("127.0.0.1:21252").unwrap();
    let relay = relay(21250, 21259);
    let s = relay.allocate("skip", 1).unwrap();
    let (a, _) = local(&s, 0, Leg::A);
    let (b, _) = local(&s, 0, Leg::B);
    assert_eq!((a.port(), b.port()), (21250, 21254));
}

#[tokio::test]
async fn streams_are_relayed_independently_and_reinvite_moves_media() {
    let relay = relay(21260, 21299);
    let session = relay.allocate("av", 2).unwrap();
    let (a0, b0, a1, b1, b1_new) = (
        endpoint().await,
        endpoint().await,
        endpoint().await,
        endpoint().await,
        endpoint().await,
    );
    session
        .set_remote(0, Leg::A, addr(&a0), None, true)
        .unwrap();
    session
        .set_remote(0, Leg::B, addr(&b0), None, true)
        .unwrap();
    session
        .set_remote(1, Leg::A, addr(&a1), None, true)
        .unwrap();
    session
        .set_remote(1, Leg::B, addr(&b1), None, true)
        .unwrap();
    assert!(matches!(
        session.set_remote(2, Leg::A, addr(&a1), None, true),
        Err(MediaError::NoSuchStream(2))
    ));
    let audio = local(&session, 0, Leg::A).0;
    let video = local(&session, 1, Leg::A).0;
    a1.send_to(&rtp(0x71de0, 1), video).await.unwrap();
    assert_eq!(ssrc_of(&recv(&b1).await.0), 0x71de0);
    a0.send_to(&rtp(0xa0d10, 1), audio).await.unwrap();
    assert_eq!(ssrc_of(&recv(&b0).await.0), 0xa0d10);
    assert!(nothing_waiting(&b1));
    // re-INVITE: B's video moves to another address.
    session
        .set_remote(1, Leg::B, addr(&b1_new), None, true)
        .unwrap();
    a1.send_to(&rtp(0x71de0, 2), video).await.unwrap();
    assert_eq!(ssrc_of(&recv(&b1_new).await.0), 0x71de0);
    assert_eq!(session.stream_stats(1).unwrap().a_to_b.packets, 2);
    assert_eq!(session.stream_stats(0).unwrap().a_to_b.packets, 1);
    assert_eq!(session.stats().a_to_b.packets, 3);
}

#[tokio::test]
async fn media_before_sdp_is_not_forwarded() {
    let relay = relay(21300, 21339);
    let session = relay.allocate("early", 1).unwrap();
    let (a, b) = (endpoint().await, endpoint().await);
    let (a_local, _) = local(&session, 0, Leg::A);
    session
        .set_remote(0, Leg::A, addr(&a), None, false)
        .unwrap();
    // B's answer is not there yet: nowhere to send.
    a.send_to(&rtp(1, 1), a_local).await.unwrap();
    // Wait (bounded) until the relay has seen it, so B's SDP comes after.
    for _ in 0..500 {
        if session.stats().dropped_no_destination > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(session.stats().dropped_no_destination, 1);
    session
        .set_remote(0, Leg::B, addr(&b), None, false)
        .unwrap();
    a.send_to(&rtp(1, 2), a_local).await.unwrap();
    assert_eq!(recv(&b).await.0, rtp(1, 2));
    assert_eq!(session.stats().a_to_b.packets, 1);
}

struct Stamp;
impl PacketTransform for Stamp {
    fn transform(&mut self, class: PacketClass, buf: &mut [u8], len: usize) -> Option<usize> {
        // Grow the packet in place, as SRTP protect will.
        (class == PacketClass::Rtp).then(|| {
            buf[len..len + 4].copy_from_slice(b"TAG!");
            len + 4
        })
    }
}

#[tokio::test]
async fn transform_hook_applies_per_direction() {
    let relay = relay(21340, 21379);
    let session = relay.allocate("xform", 1).unwrap();
    let (a, b) = (endpoint().await, endpoint().await);
    session.set_remote(0, Leg::A, addr(&a), None, true).unwrap();
    session.set_remote(0, Leg::B, addr(&b), None, true).unwrap();
    session
        .set_transform(0, Direction::AtoB, Box::new(Stamp))
        .unwrap();
    let (a_local, _) = local(&session, 0, Leg::A);
    let (b_local, _) = local(&session, 0, Leg::B);
    a.send_to(&rtp(9, 1), a_local).await.unwrap();
    let got = recv(&b).await.0;
    assert_eq!((got.len(), &got[PKT_LEN..]), (PKT_LEN + 4, &b"TAG!"[..]));
    // RTCP is refused by this transform; the next RTP still passes.
    a.send_to(&rtcp(200, 9), a_local).await.unwrap();
    a.send_to(&rtp(9, 2), a_local).await.unwrap();
    assert_eq!(recv(&b).await.0.len(), PKT_LEN + 4);
    assert_eq!(session.stats().dropped_other, 1);
    // The other direction is untouched.
    b.send_to(&rtp(8, 1), b_local).await.unwrap();
    assert_eq!(recv(&a).await.0, rtp(8, 1));
}

#[test]
fn allocate_outside_a_runtime_is_an_error_not_a_panic() {
    let mut cfg = RelayConfig::new("127.0.0.1".parse().unwrap(), 21380..=21389);
    cfg.random_start = false;
    // On the caller's runtime, which is not there.
    cfg.threads = Some(0);
    let relay = MediaRelay::with_config(cfg).unwrap();
    assert!(matches!(
        relay.allocate("no-rt", 1),
        Err(MediaError::NoRuntime)
    ));
    assert_eq!(relay.metrics().ports_in_use, 0);
    assert_eq!(relay.metrics().sessions_active, 0);
}

mod relay_threads {
    //! Sessions on the relay's own threads, driven from plain threads with
    //! blocking sockets (no runtime of the caller's at all).

    use std::net::UdpSocket;
    use std::sync::{Arc, Mutex};
    use std::thread::ThreadId;

    use super::*;

    /// The threads (id, name) packets were handled on, in order.
    type Seen = Arc<Mutex<Vec<(ThreadId, Option<String>)>>>;

    /// Notes the thread every packet of one direction is handled on.
    struct Where(Seen);
    impl PacketTransform for Where {
        fn transform(&mut self, _: PacketClass, _: &mut [u8], len: usize) -> Option<usize> {
            let t = std::thread::current();
            self.0
                .lock()
                .unwrap()
                .push((t.id(), t.name().map(str::to_owned)));
            Some(len)
        }
    }

    fn endpoint() -> UdpSocket {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s
    }

    fn threaded(low: u16, high: u16, threads: usize, coalesce: Duration) -> MediaRelay {
        let mut cfg = RelayConfig::new("127.0.0.1".parse().unwrap(), low..=high);
        cfg.random_start = false;
        cfg.threads = Some(threads);
        cfg.coalesce = coalesce;
        MediaRelay::with_config(cfg).unwrap()
    }

    /// One session with A and B on loopback; returns what A sends to and
    /// B's socket, and where the A-to-B packets were handled.
    fn call(
        relay: &MediaRelay,
        label: &str,
    ) -> (MediaSession, UdpSocket, SocketAddr, UdpSocket, Seen) {
        let s = relay.allocate(label, 1).unwrap();
        let (a, b) = (endpoint(), endpoint());
        s.set_remote(0, Leg::A, a.local_addr().unwrap(), None, false)
            .unwrap();
        s.set_remote(0, Leg::B, b.local_addr().unwrap(), None, false)
            .unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        s.set_transform(0, Direction::AtoB, Box::new(Where(seen.clone())))
            .unwrap();
        let a_side = s.local_addr(0, Leg::A).unwrap().0;
        (s, a, a_side, b, seen)
    }

    fn recv_seqs(b: &UdpSocket, n: usize) -> Vec<u16> {
        let mut buf = [0u8; 2048];
        (0..n)
            .map(|_| {
                let (len, _) = b.recv_from(&mut buf).expect("relay did not deliver");
                assert_eq!(len, PKT_LEN);
                u16::from_be_bytes([buf[2], buf[3]])
            })
            .collect()
    }

    #[test]
    fn sessions_spread_over_the_relay_threads_and_stay_on_theirs() {
        let relay = threaded(21390, 21429, 2, Duration::ZERO);
        let calls: Vec<_> = ["t-1", "t-2"].iter().map(|l| call(&relay, l)).collect();
        for round in 0..3u16 {
            for (_, a, a_side, b, _) in &calls {
                for seq in 0..4 {
                    a.send_to(&rtp(5, round * 4 + seq), a_side).unwrap();
                }
                assert_eq!(
                    recv_seqs(b, 4),
                    (round * 4..round * 4 + 4).collect::<Vec<_>>()
                );
            }
        }
        let me = std::thread::current().id();
        let mut homes = Vec::new();
        for (_, _, _, _, seen) in &calls {
            let seen = seen.lock().unwrap();
            assert_eq!(seen.len(), 12);
            let (home, name) = seen[0].clone();
            assert_ne!(home, me);
            assert!(name.is_some_and(|n| n.starts_with("media-relay-")));
            assert!(seen.iter().all(|(t, _)| *t == home), "a session moved");
            homes.push(home);
        }
        assert_ne!(homes[0], homes[1], "two sessions on two idle threads");
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        for (s, ..) in calls {
            rt.block_on(s.close());
        }
        assert_eq!(relay.metrics().ports_in_use, 0);
        assert_eq!(relay.metrics().sessions_active, 0);
        // A closed session's thread takes the next one.
        let (s, a, a_side, b, seen) = call(&relay, "t-3");
        a.send_to(&rtp(6, 1), a_side).unwrap();
        assert_eq!(recv_seqs(&b, 1), vec![1]);
        assert!(homes.contains(&seen.lock().unwrap()[0].0));
        drop(s);
    }

    #[test]
    fn coalescing_threads_deliver_bursts_and_paced_streams_in_order() {
        let relay = threaded(21430, 21469, 1, Duration::from_millis(2));
        let (s, a, a_side, b, _) = call(&relay, "coalesce");
        // A burst, then packets a little apart (each round of the busy
        // thread then holds some), then a quiet spell, then one more.
        for seq in 0..100u16 {
            a.send_to(&rtp(7, seq), a_side).unwrap();
        }
        assert_eq!(recv_seqs(&b, 100), (0..100).collect::<Vec<_>>());
        let reader = std::thread::spawn(move || {
            let got = recv_seqs(&b, 201);
            (b, got)
        });
        for seq in 100..300u16 {
            a.send_to(&rtp(7, seq), a_side).unwrap();
            std::thread::sleep(Duration::from_micros(200));
        }
        std::thread::sleep(Duration::from_millis(20));
        a.send_to(&rtp(7, 300), a_side).unwrap();
        let (_b, got) = reader.join().unwrap();
        assert_eq!(got, (100..301).collect::<Vec<_>>());
        // Counted just after it is sent: wait (bounded) for the last count.
        for _ in 0..500 {
            if s.stats().a_to_b.packets == 301 {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let st = s.stats();
        assert_eq!((st.a_to_b.packets, st.dropped()), (301, 0));
    }
}
