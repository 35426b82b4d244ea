//! The WHIP/WHEP HTTP side over a real socket, with the real engine (the
//! loopback sample dialplan: 8000 normal, 8001 secret) admitting legs.

use super::http::{router, test_state, WebPeer};
use crate::engine_tests::Harness;
use gateway_webrtc::str0m::media::{Direction, MediaKind};
use gateway_webrtc::str0m::{Candidate, Rtc};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

/// A browser-like offer made by str0m.
fn offer(dir: Direction) -> String {
    let mut rtc = Rtc::builder()
        .clear_codecs()
        .enable_opus(true, false)
        .build(Instant::now());
    rtc.add_local_candidate(Candidate::host("127.0.0.1:50000".parse().unwrap(), "udp").unwrap());
    let mut api = rtc.sdp_api();
    api.add_media(MediaKind::Audio, dir, None, None, None);
    let (o, _) = api.apply().unwrap();
    o.to_sdp_string()
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request on its own connection.
async fn request(
    to: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    let mut s = tokio::net::TcpStream::connect(to).await.unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Reply {
        status,
        headers,
        body: body.to_string(),
    }
}

const SDP: (&str, &str) = ("Content-Type", "application/sdp");
const FRAG: (&str, &str) = ("Content-Type", "application/trickle-ice-sdpfrag");

#[tokio::test]
async fn whip_and_whep_answer_with_the_right_status_location_and_problems() {
    let mut h = Harness::new();
    let (tx, mut rx) = mpsc::channel(16);
    let state = test_state(tx, "127.0.0.1".parse().unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let at = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let app = router(state).into_make_service_with_connect_info::<WebPeer>();
        axum::serve(listener, app).await.unwrap();
    });

    let (progress_tx, mut progress) = mpsc::unbounded_channel::<&'static str>();
    let client = tokio::spawn(async move {
        let publish = offer(Direction::SendOnly);
        let r = request(at, "POST", "/whip/99999", &[SDP], &publish).await;
        assert_eq!(r.status, 404, "{}", r.body);
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
        assert!(r.body.contains("No meeting 99999"), "{}", r.body);

        let r = request(at, "POST", "/whip/8001", &[SDP], &publish).await;
        assert_eq!(r.status, 403, "{}", r.body);
        assert!(
            r.body.contains("secret") && r.body.contains("authenticated"),
            "{}",
            r.body
        );

        let r = request(at, "POST", "/whip/8000", &[SDP], "v=0\r\nnonsense\r\n").await;
        assert_eq!(r.status, 400, "{}", r.body);
        assert!(r.body.contains("\"status\":400"), "{}", r.body);
        let r = request(
            at,
            "POST",
            "/whip/8000",
            &[("Content-Type", "text/plain")],
            &publish,
        )
        .await;
        assert_eq!(r.status, 415, "{}", r.body);
        // a WHEP viewer whose offer only sends cannot watch
        let r = request(at, "POST", "/whep/8000", &[SDP], &publish).await;
        assert_eq!(r.status, 422, "{}", r.body);

        let r = request(at, "POST", "/whip/8000", &[SDP], &publish).await;
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(r.header("content-type"), Some("application/sdp"));
        let loc = r.header("location").unwrap().to_string();
        assert!(loc.starts_with("/whip/8000/") && loc.len() > 20, "{loc}");
        let etag = r.header("etag").unwrap().to_string();
        assert!(
            r.body.contains("a=ice-lite") && r.body.contains("a=recvonly"),
            "{}",
            r.body
        );
        assert!(
            r.body.contains("127.0.0.1") && r.body.contains("typ host"),
            "{}",
            r.body
        );
        progress_tx.send("joined").unwrap();

        let cand = "a=candidate:1 1 udp 2113929471 127.0.0.1 50000 typ host\r\n";
        let r = request(at, "PATCH", &loc, &[FRAG, ("If-Match", "\"other\"")], cand).await;
        assert_eq!(r.status, 412, "{}", r.body);
        let r = request(at, "PATCH", &loc, &[SDP], cand).await;
        assert_eq!(r.status, 415, "{}", r.body);
        let r = request(
            at,
            "PATCH",
            &loc,
            &[FRAG, ("If-Match", &etag)],
            "garbage\r\n",
        )
        .await;
        assert_eq!(r.status, 400, "{}", r.body);
        let restart = "a=ice-ufrag:new1\r\na=ice-pwd:xxxxxxxxxxxxxxxxxxxxxxxx\r\n";
        let r = request(at, "PATCH", &loc, &[FRAG], restart).await;
        assert_eq!(r.status, 422, "{}", r.body);
        let r = request(at, "PATCH", &loc, &[FRAG, ("If-Match", &etag)], cand).await;
        assert_eq!(r.status, 204, "{}", r.body);
        let r = request(at, "PATCH", "/whip/8000/nosuchsession", &[FRAG], cand).await;
        assert_eq!(r.status, 404, "{}", r.body);

        let r = request(at, "DELETE", &loc, &[], "").await;
        assert_eq!(r.status, 200, "{}", r.body);
        let r = request(at, "DELETE", &loc, &[], "").await;
        assert_eq!(r.status, 404, "{}", r.body);
        // methods WHIP does not define on the endpoint
        let r = request(at, "GET", "/whip/8000", &[], "").await;
        assert_eq!(r.status, 405);

        let view = offer(Direction::RecvOnly);
        let r = request(at, "POST", "/whep/8000", &[SDP], &view).await;
        assert_eq!(r.status, 201, "{}", r.body);
        assert!(r.header("location").unwrap().starts_with("/whep/8000/"));
        assert!(r.body.contains("a=sendonly"), "{}", r.body);
        let r = request(at, "DELETE", r.header("location").unwrap(), &[], "").await;
        assert_eq!(r.status, 200);
        progress_tx.send("done").unwrap();
    });

    // The engine loop: what the runtime's select! arm does.
    let mut most = 0;
    let mut done = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        tokio::select! {
            Some(m) = rx.recv() => {
                h.e.webrtc_input(Instant::now(), m);
                most = most.max(h.e.meeting_participants("8000"));
            }
            Some(p) = progress.recv() => {
                if p == "joined" {
                    assert_eq!(h.e.meeting_participants("8000"), 1);
                }
                done |= p == "done";
            }
            _ = tokio::time::sleep_until(deadline) => panic!("timed out"),
        }
        if done && h.e.meeting_participants("8000") == 0 {
            break;
        }
    }
    client.await.unwrap();
    // the WHIP leg's end and the WHEP join may cross in the channel
    assert!((1..=2).contains(&most), "{most}");
    assert_eq!(h.e.meeting_participants("8001"), 0);
}
