//! Meetings through the whole engine on a virtual clock: rooms (here the
//! loopback trunk, which may dial anything) join with raw SIP, the engine
//! answers as the meeting, and the bridge binds real loopback ports.

use crate::engine_tests::{
    a_addr, describe, requests, resp, sdp, sdp_media, test_config, Caller, Harness,
};
use gateway_sip::message::{HeaderName, Method};
use std::net::SocketAddr;
use std::time::Duration;

fn room(n: u16) -> SocketAddr {
    SocketAddr::new(a_addr().ip(), 40100 + n)
}

/// A room dials `meeting`; returns it (dialog learned) and the 200's SDP.
fn join(h: &mut Harness, n: u16, meeting: &str, body: &str) -> (Caller, Vec<u8>) {
    let mut c = Caller::new(room(n), &format!("room{n}"), meeting);
    h.send(c.addr, &c.invite(&[], body));
    let out = h.out();
    let ok = resp(&out, c.addr, 200);
    c.learn(&ok);
    h.send(c.addr, &c.ack_2xx());
    let after = h.out();
    assert!(
        after.is_empty(),
        "nothing follows the ACK:\n{}",
        describe(&after)
    );
    (c, ok.body.clone())
}

#[tokio::test]
async fn rooms_join_and_leave_and_the_empty_meeting_ends() {
    let mut h = Harness::new();
    let (mut a, answer) = join(&mut h, 1, "8000", &sdp("127.0.0.5", 30000, 1));
    let (ip, port) = sdp_media(&answer);
    assert_eq!(ip, "127.0.0.1");
    assert!(h.in_range(port), "answered with relay port {port}");
    let text = String::from_utf8(answer).unwrap();
    assert!(text.contains("a=rtpmap:0 PCMU/8000"), "{text}");
    let (mut b, _) = join(&mut h, 2, "meeting-8000", &sdp("127.0.0.6", 30002, 1));
    assert_eq!(
        h.e.meeting_participants("8000"),
        2,
        "an alias joins the same meeting"
    );
    assert_eq!(h.metrics.calls_active.get(), 2);

    h.send(a.addr, &a.in_dialog("BYE", ""));
    let out = h.out();
    resp(&out, a.addr, 200);
    assert_eq!(h.e.meeting_participants("8000"), 1, "the other room stays");
    let cdrs = h.cdrs();
    assert_eq!(cdrs.len(), 1);
    assert_eq!(cdrs[0].callee, "meeting:8000");
    assert_eq!(
        (cdrs[0].outcome.as_str(), cdrs[0].unit.as_deref()),
        ("answered", Some("01"))
    );

    h.send(b.addr, &b.in_dialog("BYE", ""));
    resp(&h.out(), b.addr, 200);
    assert_eq!(h.e.meeting_participants("8000"), 0);
    assert!(h.e.meetings.is_empty(), "an empty meeting ends");
    assert_eq!(h.metrics.calls_active.get(), 0);
}

#[tokio::test]
async fn a_plain_room_is_refused_from_the_secret_meeting_with_the_reason() {
    let mut h = Harness::new();
    let mut c = Caller::new(room(3), "room3", "8001");
    h.send(c.addr, &c.invite(&[], &sdp("127.0.0.5", 30000, 1)));
    let r = resp(&h.out(), c.addr, 488);
    assert!(
        r.reason.contains("Meeting 8001 is secret"),
        "reason: {}",
        r.reason
    );
    let warning = r.headers.get(&HeaderName::Warning).unwrap();
    assert!(
        warning.starts_with("399 ") && warning.contains("only encrypted legs"),
        "{warning}"
    );
    assert!(
        h.e.meetings.is_empty(),
        "no meeting started for a refused room"
    );
}

#[tokio::test]
async fn offers_the_bridge_cannot_take_are_refused_and_hold_nothing() {
    let mut h = Harness::new();
    let g729 = "v=0\r\no=- 1 1 IN IP4 127.0.0.5\r\ns=-\r\nc=IN IP4 127.0.0.5\r\nt=0 0\r\n\
m=audio 30000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n";
    let mut c = Caller::new(room(4), "room4", "8000");
    h.send(c.addr, &c.invite(&[], g729));
    let r = resp(&h.out(), c.addr, 488);
    assert!(
        r.reason.contains("G729") && r.reason.contains("PCMU"),
        "reason: {}",
        r.reason
    );
    let mut d = Caller::new(room(5), "room5", "8000");
    h.send(d.addr, &d.invite(&[], ""));
    let r = resp(&h.out(), d.addr, 488);
    assert!(r.reason.contains("SDP offer"), "reason: {}", r.reason);
    assert!(h.e.meetings.is_empty());
    assert_eq!(h.metrics.calls_active.get(), 0);
}

#[tokio::test]
async fn a_full_meeting_answers_486() {
    let plan = gateway_dialplan::SAMPLE_DIALPLAN.replace(
        "name = \"Loopback meeting\"",
        "name = \"Loopback meeting\"\nmax_participants = 2",
    );
    let mut h = Harness::with(test_config(), &plan);
    join(&mut h, 1, "8000", &sdp("127.0.0.5", 30000, 1));
    join(&mut h, 2, "8000", &sdp("127.0.0.6", 30002, 1));
    let mut c = Caller::new(room(3), "room3", "8000");
    h.send(c.addr, &c.invite(&[], &sdp("127.0.0.7", 30004, 1)));
    let r = resp(&h.out(), c.addr, 486);
    assert!(r.reason.contains("full"), "reason: {}", r.reason);
    assert_eq!(h.e.meeting_participants("8000"), 2);
}

#[tokio::test]
async fn refreshes_keep_the_answer_and_info_is_answered() {
    let mut h = Harness::new();
    let (mut a, first) = join(&mut h, 1, "8000", &sdp("127.0.0.5", 30000, 1));
    // The room moves its media (re-INVITE with a new port and version).
    h.send(a.addr, &a.in_dialog("INVITE", &sdp("127.0.0.5", 30010, 2)));
    let out = h.out();
    let ok = resp(&out, a.addr, 200);
    assert_eq!(sdp_media(&ok.body), sdp_media(&first), "same meeting ports");
    let version = |b: &[u8]| {
        let t = String::from_utf8(b.to_vec()).unwrap();
        let o = t.lines().find(|l| l.starts_with("o=")).unwrap().to_string();
        o.split(' ').nth(2).unwrap().parse::<u64>().unwrap()
    };
    assert_eq!(
        version(&ok.body),
        version(&first) + 1,
        "a new answer bumps o= version"
    );
    h.send(a.addr, &a.ack_2xx());
    h.out();
    h.send(
        a.addr,
        &a.in_dialog_with(
            "INFO",
            "application/dtmf-relay",
            "Signal=5\r\nDuration=160\r\n",
        ),
    );
    resp(&h.out(), a.addr, 200);
    assert_eq!(h.e.meeting_participants("8000"), 1);
}

#[tokio::test]
async fn a_room_that_never_acks_is_dropped_with_a_bye() {
    let mut h = Harness::new();
    let mut c = Caller::new(room(6), "room6", "8000");
    h.send(c.addr, &c.invite(&[], &sdp("127.0.0.5", 30000, 1)));
    resp(&h.out(), c.addr, 200);
    assert_eq!(h.e.meeting_participants("8000"), 1);
    let mut retransmitted = 0;
    let mut bye = false;
    for _ in 0..70 {
        h.advance(Duration::from_millis(500));
        let out = h.out();
        retransmitted += out
            .iter()
            .filter(|(to, m)| {
                *to == c.addr
                    && matches!(m, gateway_sip::message::Message::Response(r) if r.status == 200)
            })
            .count();
        bye |= out.iter().any(|(to, m)| {
            *to == c.addr
                && matches!(m, gateway_sip::message::Message::Request(r) if r.method == Method::Bye)
        });
    }
    assert!(
        retransmitted >= 5,
        "the 200 is retransmitted until ACK ({retransmitted})"
    );
    assert!(bye, "a BYE ends the unacknowledged leg");
    assert_eq!(h.e.meeting_participants("8000"), 0);
    assert!(h.e.meetings.is_empty());
}

fn av_sdp(ip: &str, port: u16, video: &str) -> String {
    format!(
        "v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n\
m=video {} RTP/AVP 96 97\r\na=rtpmap:96 H264/90000\r\n{video}\
a=rtpmap:97 VP8/90000\r\na=sendrecv\r\n",
        port + 2
    )
}

/// The `m=video` line of an answer and the lines of its section.
fn video_section(answer: &[u8]) -> (String, Vec<String>) {
    let text = String::from_utf8(answer.to_vec()).unwrap();
    let mut lines = text.lines().skip_while(|l| !l.starts_with("m=video"));
    let m = lines.next().unwrap_or_default().to_string();
    let rest = lines
        .take_while(|l| !l.starts_with("m="))
        .map(str::to_string)
        .collect();
    (m, rest)
}

#[tokio::test]
async fn video_is_answered_when_the_packetization_matches_with_the_offered_feedback() {
    let mut h = Harness::new();
    let fb = "a=fmtp:96 profile-level-id=42e01f;packetization-mode=1\r\n\
a=rtcp-fb:96 nack\r\na=rtcp-fb:96 nack pli\r\na=rtcp-fb:* ccm fir\r\n";
    let (_, first) = join(&mut h, 1, "8000", &av_sdp("127.0.0.5", 30000, fb));
    let (m, attrs) = video_section(&first);
    let port: u16 = m.split(' ').nth(1).unwrap().parse().unwrap();
    assert!(h.in_range(port), "video on a relay port: {m}");
    assert!(m.ends_with("RTP/AVP 96"), "only H.264 answered: {m}");
    assert!(attrs.iter().any(|l| l == "a=rtpmap:96 H264/90000"));
    assert!(attrs
        .iter()
        .any(|l| l.starts_with("a=fmtp:96 ") && l.contains("packetization-mode=1")));
    assert!(
        attrs.iter().any(|l| l == "a=rtcp-fb:96 nack pli"),
        "{attrs:?}"
    );
    assert!(
        attrs.iter().any(|l| l == "a=rtcp-fb:96 ccm fir"),
        "{attrs:?}"
    );
    assert!(attrs.iter().any(|l| l == "a=sendrecv"));
    let (audio_ip, audio_port) = sdp_media(&first);
    assert_eq!(audio_ip, "127.0.0.1");
    assert_ne!(audio_port, port, "audio and video on their own ports");

    // Same packetization, no feedback: answered, asked by INFO later.
    let plain = "a=fmtp:96 profile-level-id=42801e;packetization-mode=1\r\n";
    let (_, second) = join(&mut h, 2, "8000", &av_sdp("127.0.0.6", 30010, plain));
    let (m, attrs) = video_section(&second);
    assert!(!m.starts_with("m=video 0 "), "{m}");
    assert!(
        !attrs.iter().any(|l| l.starts_with("a=rtcp-fb")),
        "{attrs:?}"
    );

    // Another packetization cannot be forwarded: the video is refused,
    // the room stays with audio.
    let mode0 = "a=fmtp:96 profile-level-id=42e01f\r\n";
    let (_, third) = join(&mut h, 3, "8000", &av_sdp("127.0.0.7", 30020, mode0));
    let (m, _) = video_section(&third);
    assert!(m.starts_with("m=video 0 "), "{m}");
    assert_eq!(h.e.meeting_participants("8000"), 3);
}

#[tokio::test]
async fn a_room_without_rtcp_feedback_is_asked_for_keyframes_by_info() {
    let mut h = Harness::new();
    let fb = "a=fmtp:96 packetization-mode=1\r\na=rtcp-fb:96 nack pli\r\n";
    let (_, _) = join(&mut h, 1, "8000", &av_sdp("127.0.0.5", 30000, fb));
    let plain = "a=fmtp:96 packetization-mode=1\r\n";
    let (b, _) = join(&mut h, 2, "8000", &av_sdp("127.0.0.6", 30010, plain));
    // Room 2 joining makes it room 1's view: the bridge asks it for a
    // keyframe, which only its signalling can carry. The bridge runs on
    // its own task: give it turns until the INFO leaves (bounded).
    let mut info = None;
    for _ in 0..200 {
        tokio::time::sleep(Duration::from_millis(10)).await;
        h.advance(Duration::from_millis(100));
        if let Some(r) = requests(&h.out(), b.addr, Method::Info).into_iter().next() {
            info = Some(r);
            break;
        }
    }
    let info = info.expect("no INFO picture_fast_update to the room without RTCP feedback");
    assert_eq!(
        info.headers.get(&HeaderName::ContentType),
        Some("application/media_control+xml")
    );
    let body = String::from_utf8(info.body.clone()).unwrap();
    assert!(body.contains("<picture_fast_update/>"), "{body}");
    assert_eq!(
        info.headers.get(&HeaderName::CallId),
        Some(b.call_id.as_str()),
        "in the room's dialog"
    );
}
