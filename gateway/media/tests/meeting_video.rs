//! Three rooms with audio and H.264 video on real UDP sockets in one
//! meeting bridge. They take turns talking: each room must get the
//! speaker's video (its payload bytes untouched) on one SSRC with
//! gap-free sequence numbers, each new source starting at a keyframe; the
//! new speaker is asked for a keyframe by RTCP PLI when it negotiated
//! feedback, else through its signalling (an event of the bridge).

use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use gateway_callmodel::AudioCodec;
use gateway_media::meeting::video::is_h264_keyframe_start;
use gateway_media::meeting::{
    KeyframeFeedback, MeetingBridge, MeetingLegSpec, MeetingVideoEvent, MeetingVideoSpec,
};
use gateway_media::rtcp::{parse_compound, RtcpPacket};
use gateway_media::MediaRelay;
use tokio::net::UdpSocket;

const TICKS: u32 = 400;
const VIDEO_PT: u8 = 96;

/// Who talks at tick `t`: room 0, then 1, then 2.
fn talker(t: u32) -> usize {
    match t {
        0..=99 => 0,
        100..=249 => 1,
        _ => 2,
    }
}

fn audio_packet(seq: u16, loud: bool) -> Vec<u8> {
    let mut p = vec![0x80, 0];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(seq as u32 * 160).to_be_bytes());
    p.extend_from_slice(&0x5151u32.to_be_bytes());
    for i in 0..160 {
        let t = (seq as usize * 160 + i) as f32 / 8000.0;
        let s = if loud {
            (8000.0 * (2.0 * std::f32::consts::PI * 500.0 * t).sin()) as i16
        } else {
            0
        };
        p.push(codecs::ulaw_encode(s));
    }
    p
}

/// A video packet of room `room`: an FU-A IDR start or a P slice, then the
/// room and a counter so the receiver can tell whose bytes it got.
fn video_packet(room: usize, seq: u16, key: bool) -> Vec<u8> {
    let mut p = vec![0x80, VIDEO_PT | 0x80];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(seq as u32 * 1800).to_be_bytes());
    p.extend_from_slice(&video_ssrc(room).to_be_bytes());
    if key {
        p.extend_from_slice(&[0x7c, 0x85]);
    } else {
        p.push(0x41);
    }
    p.push(room as u8);
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&[0xab; 40]);
    p
}

fn video_ssrc(room: usize) -> u32 {
    0x7000_0000 + room as u32
}

#[derive(Debug, Default)]
struct Seen {
    /// (ssrc, seq, timestamp, source room, keyframe start, payload ok)
    video: Vec<(u32, u16, u32, u8, bool, bool)>,
    /// Media SSRCs named by the PLIs we got.
    plis: Vec<u32>,
}

struct Room {
    n: usize,
    audio: UdpSocket,
    video: UdpSocket,
    video_rtcp: UdpSocket,
    to_audio: SocketAddr,
    to_video: SocketAddr,
    /// Sends a keyframe every this many ticks (0: only when asked).
    key_every: u32,
}

async fn run_room(r: Room) -> Seen {
    let mut seen = Seen::default();
    let mut buf = [0u8; 2048];
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let mut key_due = true;
    for t in 0..TICKS {
        tick.tick().await;
        let seq = t as u16;
        r.audio
            .send_to(&audio_packet(seq, talker(t) == r.n), r.to_audio)
            .await
            .unwrap();
        let key = key_due || (r.key_every > 0 && t % r.key_every == 0);
        key_due = false;
        r.video
            .send_to(&video_packet(r.n, seq, key), r.to_video)
            .await
            .unwrap();
        while r.audio.try_recv_from(&mut buf).is_ok() {}
        while let Ok((n, _)) = r.video.try_recv_from(&mut buf) {
            let p = &buf[..n];
            assert!(n > 12 && p[0] >> 6 == 2, "not RTP from the bridge");
            assert_eq!(p[1] & 0x7f, VIDEO_PT);
            let payload = &p[12..];
            let src = payload
                .get(if payload[0] & 0x1f == 28 { 2 } else { 1 })
                .copied();
            let src = src.unwrap_or(0xff);
            // The bytes are the source's own, after the header.
            let body_at = if payload[0] & 0x1f == 28 { 5 } else { 4 };
            let intact =
                payload.len() == body_at + 40 && payload[body_at..].iter().all(|&b| b == 0xab);
            seen.video.push((
                u32::from_be_bytes([p[8], p[9], p[10], p[11]]),
                u16::from_be_bytes([p[2], p[3]]),
                u32::from_be_bytes([p[4], p[5], p[6], p[7]]),
                src,
                is_h264_keyframe_start(payload),
                intact,
            ));
        }
        while let Ok((n, _)) = r.video_rtcp.try_recv_from(&mut buf) {
            for p in parse_compound(&buf[..n]).expect("RTCP from the bridge parses") {
                if let RtcpPacket::Pli { media_ssrc, .. } = p {
                    seen.plis.push(media_ssrc);
                    key_due = true;
                }
            }
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_see_the_active_speaker_and_switches_start_at_keyframes() {
    let relay = MediaRelay::new("127.0.0.1".parse().unwrap(), 41200..=41299).unwrap();
    let mut bridge = MeetingBridge::start(&relay, "video-meeting", None).unwrap();
    let mut tasks = Vec::new();
    let mut video_counters = Vec::new();
    for n in 0..3usize {
        let audio = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let video = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let video_rtcp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let a = relay.bind_leg().unwrap();
        let v = relay.bind_leg().unwrap();
        let (to_audio, _) = a.local_addr();
        let (to_video, _) = v.local_addr();
        bridge
            .add_leg(
                a,
                MeetingLegSpec {
                    id: n as u64,
                    label: format!("room-{n}"),
                    remote_rtp: audio.local_addr().unwrap(),
                    remote_rtcp: None,
                    rtcp_mux: false,
                    codec: AudioCodec::Pcmu,
                    payload_type: 0,
                    telephone_event: None,
                    ptime_ms: 20,
                    inbound: None,
                    outbound: None,
                },
            )
            .unwrap();
        // Rooms 0 and 1 negotiated RTCP feedback; room 2 did not (it is
        // asked through its signalling) and sends a keyframe every 0.5 s.
        let feedback = KeyframeFeedback {
            pli: n < 2,
            fir: false,
        };
        video_counters.push(
            bridge
                .add_video(
                    n as u64,
                    v,
                    MeetingVideoSpec {
                        remote_rtp: video.local_addr().unwrap(),
                        remote_rtcp: Some(video_rtcp.local_addr().unwrap()),
                        rtcp_mux: false,
                        payload_type: VIDEO_PT,
                        sends: true,
                        receives: true,
                        feedback,
                        inbound: None,
                        outbound: None,
                    },
                )
                .unwrap(),
        );
        tasks.push(tokio::spawn(run_room(Room {
            n,
            audio,
            video,
            video_rtcp,
            to_audio,
            to_video,
            key_every: if n == 2 { 25 } else { 0 },
        })));
    }
    let mut seen = Vec::new();
    for t in tasks {
        seen.push(t.await.unwrap());
    }
    let mut events = Vec::new();
    while let Some(e) = bridge.poll_video_event() {
        events.push(e);
    }

    for (n, s) in seen.iter().enumerate() {
        assert!(
            s.video.len() > 200,
            "room {n} got {} video packets",
            s.video.len()
        );
        let ssrc = s.video[0].0;
        assert!(
            s.video.iter().all(|v| v.0 == ssrc),
            "room {n}: one SSRC across switches"
        );
        assert!(
            s.video.iter().all(|v| v.5),
            "room {n}: payload bytes changed"
        );
        for w in s.video.windows(2) {
            assert_eq!(
                w[1].1,
                w[0].1.wrapping_add(1),
                "room {n}: sequence gap or repeat at {:?} -> {:?}",
                w[0],
                w[1]
            );
            assert!(
                w[1].2.wrapping_sub(w[0].2) as i32 >= 0,
                "room {n}: timestamp went back at {:?} -> {:?}",
                w[0],
                w[1]
            );
            if w[1].3 != w[0].3 {
                assert!(w[1].4, "room {n}: switched to {} mid-GOP", w[1].3);
            }
        }
        assert!(
            s.video[0].4,
            "room {n}: the first packet is a keyframe start"
        );
        let sources: Vec<u8> = {
            let mut v: Vec<u8> = s.video.iter().map(|v| v.3).collect();
            v.dedup();
            v
        };
        assert!(
            !sources.contains(&(n as u8)),
            "room {n} got its own video back"
        );
        // Who each room showed, in order: 0 talks, then 1, then 2; the
        // speaker sees the previous speaker.
        let expected: &[u8] = match n {
            0 => &[1, 2],
            1 => &[0, 2],
            _ => &[0, 1],
        };
        assert_eq!(sources, expected, "room {n} showed {sources:?}");
    }
    assert!(
        seen[1].plis.contains(&video_ssrc(1)),
        "room 1 was never asked for a keyframe by PLI when it took the floor: {:?}",
        seen[1].plis
    );
    assert!(seen[2].plis.is_empty(), "room 2 negotiated no PLI");
    assert!(
        events.contains(&MeetingVideoEvent::KeyframeRequest { leg: 2 }),
        "room 2 was not asked through its signalling: {events:?}"
    );
    assert!(events.contains(&MeetingVideoEvent::Speaker { leg: Some(2) }));
    assert!(video_counters[1].plis_sent.load(Relaxed) >= 1);
    assert!(video_counters[2].signalled_requests.load(Relaxed) >= 1);
    bridge.close().await;
}
