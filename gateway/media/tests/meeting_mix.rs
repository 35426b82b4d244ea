//! Three phones on real UDP sockets in one meeting bridge, each sending its
//! own tone: each must hear the other two and not itself.

use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use gateway_callmodel::AudioCodec;
use gateway_media::meeting::{MeetingBridge, MeetingLegSpec};
use gateway_media::MediaRelay;
use tokio::net::UdpSocket;

const TONES: [f32; 3] = [440.0, 1000.0, 1700.0];

fn tone_packet(freq: f32, seq: u16, pt: u8) -> Vec<u8> {
    let mut p = vec![0x80, pt];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(seq as u32 * 160).to_be_bytes());
    p.extend_from_slice(&(0x1000 + pt as u32).to_be_bytes());
    for i in 0..160 {
        let t = (seq as usize * 160 + i) as f32 / 8000.0;
        let s = (6000.0 * (2.0 * std::f32::consts::PI * freq * t).sin()) as i16;
        p.push(if pt == 8 {
            codecs::alaw_encode(s)
        } else {
            codecs::ulaw_encode(s)
        });
    }
    p
}

async fn phone(freq: f32, pt: u8, sock: UdpSocket, to: SocketAddr, packets: u16) -> Vec<i16> {
    let mut heard = Vec::new();
    let mut buf = [0u8; 2048];
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    for seq in 0..packets {
        tick.tick().await;
        sock.send_to(&tone_packet(freq, seq, pt), to).await.unwrap();
        while let Ok((n, _)) = sock.try_recv_from(&mut buf) {
            assert!(n > 12, "short packet from the bridge");
            assert_eq!(
                buf[1] & 0x7f,
                pt,
                "the bridge answers in the leg's own payload type"
            );
            let decode = if pt == 8 {
                codecs::alaw_decode
            } else {
                codecs::ulaw_decode
            };
            heard.extend(buf[12..n].iter().map(|&b| decode(b)));
        }
    }
    heard
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_leg_hears_the_others_and_not_itself() {
    let relay = MediaRelay::new("127.0.0.1".parse().unwrap(), 41000..=41099).unwrap();
    let bridge = MeetingBridge::start(&relay, "test-meeting", None).unwrap();
    let mut tasks = Vec::new();
    let mut counters = Vec::new();
    for (i, freq) in TONES.into_iter().enumerate() {
        let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let bound = relay.bind_leg().unwrap();
        let (local_rtp, _) = bound.local_addr();
        // Leg 1 speaks PCMA: the mix transcodes between legs.
        let (codec, pt) = if i == 1 {
            (AudioCodec::Pcma, 8)
        } else {
            (AudioCodec::Pcmu, 0)
        };
        let c = bridge
            .add_leg(
                bound,
                MeetingLegSpec {
                    id: i as u64,
                    label: format!("phone-{i}"),
                    remote_rtp: sock.local_addr().unwrap(),
                    remote_rtcp: None,
                    rtcp_mux: false,
                    codec,
                    payload_type: pt,
                    telephone_event: None,
                    ptime_ms: 20,
                    inbound: None,
                    outbound: None,
                },
            )
            .unwrap();
        counters.push(c);
        tasks.push(tokio::spawn(phone(freq, pt, sock, local_rtp, 100)));
    }
    let mut heard = Vec::new();
    for t in tasks {
        heard.push(t.await.unwrap());
    }
    for (i, h) in heard.iter().enumerate() {
        assert!(
            h.len() > 8000 / 2,
            "phone {i} heard only {} samples",
            h.len()
        );
        let tail = &h[h.len() / 4..];
        let power = |f: f32| codecs::goertzel_power(tail, 8000, f);
        let own = power(TONES[i]);
        for (j, &f) in TONES.iter().enumerate() {
            if j != i {
                assert!(
                    power(f) > 50.0 * own,
                    "phone {i}: tone {f} Hz power {} vs its own {} Hz {}",
                    power(f),
                    TONES[i],
                    own
                );
            }
        }
        assert!(counters[i].packets_in.load(Relaxed) >= 90);
        assert!(counters[i].packets_out.load(Relaxed) >= 80);
    }
    bridge.remove_leg(0).unwrap();
    bridge.close().await;
    assert_eq!(
        relay.metrics().ports_in_use,
        0,
        "every leg's ports went back"
    );
    assert_eq!(relay.metrics().sessions_active, 0);
}

#[tokio::test]
async fn a_recording_that_cannot_be_created_refuses_the_meeting() {
    let relay = MediaRelay::new("127.0.0.1".parse().unwrap(), 41100..=41109).unwrap();
    let spec = gateway_media::meeting::RecordingSpec {
        path: "/proc/no-such-dir/8002.ogg".into(),
        ..Default::default()
    };
    let err = MeetingBridge::start(&relay, "m", Some(&spec)).unwrap_err();
    assert_eq!(err.sip_status(), 503);
    assert!(err.to_string().contains("/proc/no-such-dir"), "{err}");
    assert_eq!(relay.metrics().sessions_active, 0);
    assert_eq!(relay.metrics().ports_in_use, 0);
}
