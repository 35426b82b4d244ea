//! SIP-to-SIP calls through the neutral owner (two SIP legs and a bridge):
//! the wire behaviour of each leg, reached through neutral leg events and
//! commands. H.323 and WebRTC legs reach the owner the same way.

use crate::engine_tests::*;
use gateway_sip::message::{HeaderName, Method};
use std::time::Duration;

fn neutral() -> Harness {
    Harness::new()
}

fn sdp_codecs(ip: &str, port: u16, codecs: &[(u8, &str)]) -> String {
    let pts: Vec<String> = codecs.iter().map(|(pt, _)| pt.to_string()).collect();
    let mut s = format!(
        "v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\nm=audio {port} RTP/AVP {}\r\n",
        pts.join(" ")
    );
    for (pt, map) in codecs {
        s.push_str(&format!("a=rtpmap:{pt} {map}\r\n"));
    }
    s
}

fn rtpmaps(body: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(body)
        .lines()
        .filter_map(|l| l.strip_prefix("a=rtpmap:"))
        .map(|l| {
            l.split_once(' ')
                .map(|(_, m)| m.to_string())
                .unwrap_or_default()
        })
        .collect()
}

#[tokio::test]
async fn a_neutral_call_relays_media_dtmf_and_hang_up() {
    let mut h = neutral();
    let a_rtp = tokio::net::UdpSocket::bind("127.0.0.5:0").await.unwrap();
    let b_rtp = tokio::net::UdpSocket::bind("127.0.0.6:0").await.unwrap();
    let a_port = a_rtp.local_addr().unwrap().port();
    let b_port = b_rtp.local_addr().unwrap().port();
    let a_offer = sdp_codecs(
        "127.0.0.5",
        a_port,
        &[(0, "PCMU/8000"), (101, "telephone-event/8000")],
    );

    let mut a = Caller::new(a_addr(), "9999", "5551234");
    let b_inv = place_call(&mut h, &mut a, b_addr(), &a_offer);
    assert_eq!(b_inv.uri.to_string(), "sip:5551234@127.0.0.1:5070");
    assert_eq!(b_inv.max_forwards().unwrap(), 69);
    let (ip, gw_b_port) = sdp_media(&b_inv.body);
    assert_eq!(ip, "127.0.0.1");
    assert!(h.in_range(gw_b_port));
    let offered = rtpmaps(&b_inv.body);
    assert_eq!(
        offered[0], "PCMU/8000",
        "the caller's codec first: {offered:?}"
    );
    assert!(offered.iter().any(|m| m == "opus/48000/2"), "{offered:?}");
    assert!(
        offered.iter().any(|m| m == "telephone-event/8000"),
        "{offered:?}"
    );

    h.send(
        b_addr(),
        &response_text(
            &b_inv,
            180,
            "Ringing",
            Some("nb1"),
            Some("<sip:callee@127.0.0.1:5070>"),
            &[],
            "",
        ),
    );
    let out = h.out();
    let ringing = resp(&out, a.addr, 180);
    assert!(to_tag(&ringing.headers).is_some());

    let b_answer = sdp_codecs(
        "127.0.0.6",
        b_port,
        &[(0, "PCMU/8000"), (101, "telephone-event/8000")],
    );
    let ok = answer(&mut h, &mut a, &b_inv, "nb1", &b_answer, &[]);
    let (ip, gw_a_port) = sdp_media(&ok.body);
    assert_eq!(ip, "127.0.0.1");
    assert_ne!(gw_a_port, gw_b_port);
    assert_eq!(rtpmaps(&ok.body), ["PCMU/8000", "telephone-event/8000"]);
    assert_eq!(h.metrics.calls_active.get(), 1);

    // The same codec on both legs: packets pass untouched, both ways.
    let mut pkt = vec![0x80u8, 0, 0, 1, 0, 0, 0, 0, 0x11, 0x22, 0x33, 0x44];
    pkt.extend_from_slice(&[0xd5; 160]);
    let mut buf = [0u8; 2048];
    a_rtp.send_to(&pkt, ("127.0.0.1", gw_a_port)).await.unwrap();
    let (n, src) = tokio::time::timeout(Duration::from_secs(5), b_rtp.recv_from(&mut buf))
        .await
        .expect("RTP relayed to B")
        .unwrap();
    assert_eq!(&buf[..n], &pkt[..]);
    assert_eq!(src.port(), gw_b_port);
    pkt[3] = 2;
    b_rtp.send_to(&pkt, ("127.0.0.1", gw_b_port)).await.unwrap();
    let (n, _) = tokio::time::timeout(Duration::from_secs(5), a_rtp.recv_from(&mut buf))
        .await
        .expect("RTP relayed to A")
        .unwrap();
    assert_eq!(&buf[..n], &pkt[..]);

    // A digit by INFO becomes a neutral Dtmf event and an INFO to B.
    let info = a.in_dialog_with(
        "INFO",
        "application/dtmf-relay",
        "Signal=7\r\nDuration=160\r\n",
    );
    h.send(a.addr, &info);
    let out = h.out();
    assert_eq!(cseq_method(&resp(&out, a.addr, 200)), Method::Info);
    let b_info = req(&out, b_addr(), Method::Info);
    let body = String::from_utf8_lossy(&b_info.body).to_string();
    assert!(
        body.contains("Signal=7") && body.contains("Duration=160"),
        "{body}"
    );
    ok_all(&mut h, &out, b_addr(), Method::Info);
    assert!(h.out().is_empty());

    // An INFO of a package the gateway does not read is refused, the call
    // stays.
    let odd = a.in_dialog_with("INFO", "text/plain", "hello");
    h.send(a.addr, &odd);
    let out = h.out();
    let r = resp(&out, a.addr, 415);
    assert!(r
        .headers
        .get(&HeaderName::Accept)
        .is_some_and(|v| v.contains("dtmf-relay")));
    no_request(&out, b_addr(), Method::Info);

    // An empty INFO goes on to B, and A hears B's answer.
    h.send(a.addr, &a.in_dialog("INFO", ""));
    let out = h.out();
    assert!(responses(&out, a.addr).is_empty(), "A waits for B's answer");
    let probe = req(&out, b_addr(), Method::Info);
    h.send(
        b_addr(),
        &response_text(&probe, 481, "Call Does Not Exist", None, None, &[], ""),
    );
    assert_eq!(
        resp(&h.out(), a.addr, 481).cseq().unwrap().method,
        Method::Info
    );

    // A hangs up: B gets a BYE that says why (RFC 6432 Reason).
    h.send(a.addr, &a.in_dialog("BYE", ""));
    let out = h.out();
    assert_eq!(cseq_method(&resp(&out, a.addr, 200)), Method::Bye);
    let bye = req(&out, b_addr(), Method::Bye);
    assert_eq!(to_tag(&bye.headers).as_deref(), Some("nb1"));
    assert!(
        bye.headers
            .get(&HeaderName::Reason)
            .is_some_and(|r| r.contains("cause=16")),
        "{:?}",
        bye.headers.get(&HeaderName::Reason)
    );
    ok_all(&mut h, &out, b_addr(), Method::Bye);
    assert!(h.out().is_empty());
    let cdrs = h.cdrs();
    assert_eq!(cdrs.len(), 1, "{cdrs:?}");
    assert_eq!(cdrs[0].outcome, "answered");
    assert_eq!(cdrs[0].call_id, a.call_id);
    assert_eq!(cdrs[0].caller, "trunk:loopback-trunk");
    assert!(
        cdrs[0].rtp_packets_in >= 1 && cdrs[0].rtp_packets_out >= 1,
        "{:?}",
        cdrs[0]
    );
    assert_eq!(h.metrics.calls_active.get(), 0);
}

#[tokio::test]
async fn the_callees_refusal_reaches_the_caller_through_the_cause() {
    let mut h = neutral();
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    let b_inv = place_call(&mut h, &mut a, b_addr(), &sdp("127.0.0.5", 30000, 1));
    h.send(
        b_addr(),
        &response_text(
            &b_inv,
            486,
            "Busy Here",
            Some("nb2"),
            None,
            &["Reason: Q.850;cause=17;text=\"user busy\"".to_string()],
            "",
        ),
    );
    let out = h.out();
    req(&out, b_addr(), Method::Ack);
    let busy = resp(&out, a.addr, 486);
    assert!(
        busy.headers
            .get(&HeaderName::Reason)
            .is_some_and(|r| r.contains("cause=17")),
        "{busy:?}"
    );
    let cdrs = h.cdrs();
    assert_eq!(cdrs.len(), 1);
    assert_eq!(cdrs[0].outcome, "busy");
    assert_eq!(cdrs[0].sip_status, 486);
    assert_eq!(h.metrics.calls_active.get(), 0);
}

#[tokio::test]
async fn a_codec_only_the_callee_has_is_transcoded_for_the_caller() {
    let mut h = neutral();
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    let a_offer = sdp_codecs("127.0.0.5", 30000, &[(9, "G722/8000")]);
    let b_inv = place_call(&mut h, &mut a, b_addr(), &a_offer);
    let b_answer = sdp_codecs("127.0.0.6", 30002, &[(0, "PCMU/8000")]);
    let ok = answer(&mut h, &mut a, &b_inv, "nb3", &b_answer, &[]);
    assert_eq!(
        rtpmaps(&ok.body),
        ["G722/8000"],
        "the caller keeps its codec"
    );
}

#[tokio::test]
async fn the_caller_cancelling_cancels_the_callee_once_it_rings() {
    let mut h = neutral();
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    let b_inv = place_call(&mut h, &mut a, b_addr(), &sdp("127.0.0.5", 30000, 1));
    h.send(a.addr, &a.cancel());
    let out = h.out();
    assert_eq!(cseq_method(&resp(&out, a.addr, 200)), Method::Cancel);
    resp(&out, a.addr, 487);
    // No provisional from B yet: no CANCEL before one (RFC 3261 §9.1).
    no_request(&out, b_addr(), Method::Cancel);
    h.send(
        b_addr(),
        &response_text(&b_inv, 180, "Ringing", Some("nb4"), None, &[], ""),
    );
    let out = h.out();
    let cancel = req(&out, b_addr(), Method::Cancel);
    assert!(cancel.headers.get(&HeaderName::Reason).is_some());
    h.send(
        b_addr(),
        &response_text(&cancel, 200, "OK", None, None, &[], ""),
    );
    h.send(
        b_addr(),
        &response_text(
            &b_inv,
            487,
            "Request Terminated",
            Some("nb4"),
            None,
            &[],
            "",
        ),
    );
    let out = h.out();
    req(&out, b_addr(), Method::Ack);
    let cdrs = h.cdrs();
    assert_eq!(cdrs.len(), 1);
    assert_eq!(cdrs[0].outcome, "cancelled", "{:?}", cdrs[0]);
    assert_eq!(h.metrics.calls_active.get(), 0);
}

#[tokio::test]
async fn an_unanswered_callee_is_cancelled_at_the_ring_timeout() {
    let mut h = neutral();
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    let b_inv = place_call(&mut h, &mut a, b_addr(), &sdp("127.0.0.5", 30000, 1));
    h.send(
        b_addr(),
        &response_text(&b_inv, 180, "Ringing", Some("nb5"), None, &[], ""),
    );
    h.out();
    h.advance(Duration::from_secs(121));
    let out = h.out();
    resp(&out, a.addr, 480);
    req(&out, b_addr(), Method::Cancel);
    let cdrs = h.cdrs();
    assert_eq!(cdrs.len(), 1);
    assert_eq!(cdrs[0].outcome, "no_answer");
}

#[tokio::test]
async fn a_trunk_challenge_is_answered_once_with_its_credentials() {
    let dialplan = gateway_dialplan::SAMPLE_DIALPLAN.replace(
        "name = \"loopback-trunk\"",
        "name = \"loopback-trunk\"\nusername = \"gw\"\npassword = \"s3cret\"",
    );
    let mut h = Harness::with(test_config(), &dialplan);
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    let b_inv = place_call(&mut h, &mut a, b_addr(), &sdp("127.0.0.5", 30000, 1));
    let challenge = ["WWW-Authenticate: Digest realm=\"carrier\", nonce=\"n1\"".to_string()];
    h.send(
        b_addr(),
        &response_text(
            &b_inv,
            401,
            "Unauthorized",
            Some("nb6"),
            None,
            &challenge,
            "",
        ),
    );
    let out = h.out();
    req(&out, b_addr(), Method::Ack);
    let retry = req(&out, b_addr(), Method::Invite);
    let auth = retry
        .headers
        .get(&HeaderName::Authorization)
        .expect("Authorization");
    assert!(
        auth.contains("username=\"gw\"") && auth.contains("realm=\"carrier\""),
        "{auth}"
    );
    assert_eq!(retry.cseq().unwrap().seq, b_inv.cseq().unwrap().seq + 1);
    assert!(responses(&out, a.addr).iter().all(|r| r.status < 200));

    // Challenged again: the caller gets 503, never the challenge.
    h.send(
        b_addr(),
        &response_text(
            &retry,
            401,
            "Unauthorized",
            Some("nb6"),
            None,
            &challenge,
            "",
        ),
    );
    let out = h.out();
    let r = resp(&out, a.addr, 503);
    assert!(r.headers.get(&HeaderName::WwwAuthenticate).is_none());
    assert!(r.reason.contains("authentication"), "{}", r.reason);
    no_request(&out, b_addr(), Method::Invite);
}

#[tokio::test]
async fn a_late_offer_is_offered_by_the_bridge_and_answered_in_the_ack() {
    let mut h = neutral();
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    let b_inv = place_call(&mut h, &mut a, b_addr(), "");
    let offered = rtpmaps(&b_inv.body);
    assert!(
        offered.len() >= 4,
        "the bridge offers what it can: {offered:?}"
    );
    let b_answer = sdp_codecs("127.0.0.6", 30002, &[(96, "opus/48000/2")]);
    h.send(
        b_addr(),
        &response_text(
            &b_inv,
            200,
            "OK",
            Some("nb7"),
            Some("<sip:callee@127.0.0.1:5070>"),
            &[],
            &b_answer,
        ),
    );
    let out = h.out();
    req(&out, b_addr(), Method::Ack);
    let ok = resp(&out, a.addr, 200);
    let to_a = rtpmaps(&ok.body);
    assert_eq!(
        to_a[0], "opus/48000/2",
        "the callee's codec leads: {to_a:?}"
    );
    a.learn(&ok);
    // The caller answers in its ACK with PCMU: transcoded to the callee's Opus.
    let ack = a.ack_2xx();
    let body = sdp_codecs("127.0.0.5", 30000, &[(0, "PCMU/8000")]);
    let ack = ack.replace(
        "Content-Length: 0\r\n\r\n",
        &format!(
            "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    );
    h.send(a.addr, &ack);
    assert!(h.out().is_empty());
    let call = h.e.bridged.calls.values().next().expect("the call goes on");
    assert!(call.is_transcoded(), "PCMU caller, Opus callee");

    // An ACK without the answer would have ended the call: not here.
    h.send(a.addr, &a.in_dialog("BYE", ""));
    let out = h.out();
    req(&out, b_addr(), Method::Bye);
}

#[tokio::test]
async fn video_in_the_same_format_is_forwarded_without_decoding() {
    let mut h = neutral();
    let a_video = tokio::net::UdpSocket::bind("127.0.0.5:0").await.unwrap();
    let b_video = tokio::net::UdpSocket::bind("127.0.0.6:0").await.unwrap();
    let (av_port, bv_port) = (
        a_video.local_addr().unwrap().port(),
        b_video.local_addr().unwrap().port(),
    );
    let video = |port: u16| {
        format!("m=video {port} RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=1\r\n")
    };
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    let offer = format!("{}{}", sdp("127.0.0.5", 30000, 1), video(av_port));
    let b_inv = place_call(&mut h, &mut a, b_addr(), &offer);
    let text = String::from_utf8_lossy(&b_inv.body).to_string();
    let ports: Vec<u16> = text
        .lines()
        .filter_map(|l| l.strip_prefix("m="))
        .filter_map(|l| l.split_whitespace().nth(1)?.parse().ok())
        .collect();
    assert_eq!(ports.len(), 2, "{text}");
    assert!(
        ports.iter().all(|p| h.in_range(*p)) && ports[0] != ports[1],
        "{text}"
    );
    assert!(text.contains("packetization-mode=1"), "{text}");
    let b_sdp = format!("{}{}", sdp("127.0.0.6", 30002, 1), video(bv_port));
    let ok = answer(&mut h, &mut a, &b_inv, "nb8", &b_sdp, &[]);
    let to_a = String::from_utf8_lossy(&ok.body).to_string();
    let gw_av: u16 = to_a
        .lines()
        .find_map(|l| l.strip_prefix("m=video "))
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .expect("the caller's video is answered");
    assert!(h.in_range(gw_av), "{to_a}");

    // An H.264 packet from the caller reaches the callee untouched.
    let mut pkt = vec![0x80u8, 96, 0, 7, 0, 0, 0, 90, 0xAA, 0xBB, 0xCC, 0xDD];
    pkt.extend_from_slice(&[0x65, 1, 2, 3, 4, 5]);
    a_video.send_to(&pkt, ("127.0.0.1", gw_av)).await.unwrap();
    let mut buf = [0u8; 2048];
    let (n, src) = tokio::time::timeout(Duration::from_secs(5), b_video.recv_from(&mut buf))
        .await
        .expect("video relayed to B")
        .unwrap();
    assert_eq!(&buf[..n], &pkt[..]);
    assert_eq!(src.port(), ports[1]);
}

/// A callee that numbers the caller's H.264 format 97 (RFC 3264 lets it):
/// still forwarded without decoding, the payload type renumbered each way.
#[tokio::test]
async fn video_numbered_differently_by_the_callee_is_renumbered_each_way() {
    let mut h = neutral();
    let a_video = tokio::net::UdpSocket::bind("127.0.0.5:0").await.unwrap();
    let b_video = tokio::net::UdpSocket::bind("127.0.0.6:0").await.unwrap();
    let (av_port, bv_port) = (
        a_video.local_addr().unwrap().port(),
        b_video.local_addr().unwrap().port(),
    );
    let video = |port: u16, pt: u8| {
        format!("m=video {port} RTP/AVP {pt}\r\na=rtpmap:{pt} H264/90000\r\na=fmtp:{pt} packetization-mode=1\r\n")
    };
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    let offer = format!("{}{}", sdp("127.0.0.5", 30000, 1), video(av_port, 96));
    let b_inv = place_call(&mut h, &mut a, b_addr(), &offer);
    let text = String::from_utf8_lossy(&b_inv.body).to_string();
    let gw_bv: u16 = text
        .lines()
        .find_map(|l| l.strip_prefix("m=video "))
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .expect("video offered to the callee");
    let b_sdp = format!("{}{}", sdp("127.0.0.6", 30002, 1), video(bv_port, 97));
    let ok = answer(&mut h, &mut a, &b_inv, "nb9", &b_sdp, &[]);
    let to_a = String::from_utf8_lossy(&ok.body).to_string();
    assert!(
        to_a.contains("a=rtpmap:96 H264/90000"),
        "the caller keeps 96: {to_a}"
    );
    let gw_av: u16 = to_a
        .lines()
        .find_map(|l| l.strip_prefix("m=video "))
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .expect("the caller's video is answered");

    let packet = |pt: u8| {
        let mut p = vec![0x80u8, 0x80 | pt, 0, 7, 0, 0, 0, 90, 0xAA, 0xBB, 0xCC, 0xDD];
        p.extend_from_slice(&[0x65, 1, 2, 3, 4, 5]);
        p
    };
    let mut buf = [0u8; 2048];
    a_video
        .send_to(&packet(96), ("127.0.0.1", gw_av))
        .await
        .unwrap();
    let (n, _) = tokio::time::timeout(Duration::from_secs(5), b_video.recv_from(&mut buf))
        .await
        .expect("video relayed to B")
        .unwrap();
    assert_eq!(
        &buf[..n],
        &packet(97)[..],
        "the callee gets its 97, marker kept"
    );
    b_video
        .send_to(&packet(97), ("127.0.0.1", gw_bv))
        .await
        .unwrap();
    let (n, _) = tokio::time::timeout(Duration::from_secs(5), a_video.recv_from(&mut buf))
        .await
        .expect("video relayed to A")
        .unwrap();
    assert_eq!(&buf[..n], &packet(96)[..], "the caller gets its 96");
}

/// A body that is not SDP is no offer: the callee gets the bridge's own
/// SDP offer, never the caller's body labelled as one.
#[tokio::test]
async fn a_non_sdp_body_is_not_taken_for_an_offer() {
    let mut h = neutral();
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    let body = "<presence/>";
    let text = a.invite(&[], "").replace(
        "Content-Length: 0\r\n\r\n",
        &format!(
            "Content-Type: application/pidf+xml\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    );
    h.send(a.addr, &text);
    let out = h.out();
    let b_inv = req(&out, b_addr(), Method::Invite);
    let offered = String::from_utf8_lossy(&b_inv.body).to_string();
    assert!(!offered.contains("presence"), "{offered}");
    let (ip, port) = sdp_media(&b_inv.body);
    assert_eq!(ip, "127.0.0.1");
    assert!(h.in_range(port), "{offered}");
}

/// A callee that insists on SRTP refuses our plain offer with 488: it gets
/// one more INVITE offering RTP/SAVP with our keys, and its SRTP answer
/// connects a plain caller (SRTP terminated on the callee's leg).
#[tokio::test]
async fn a_callee_refusing_plain_rtp_is_offered_srtp_once() {
    let mut h = neutral();
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    let b_inv = place_call(&mut h, &mut a, b_addr(), &sdp("127.0.0.5", 30000, 1));
    assert!(String::from_utf8_lossy(&b_inv.body).contains("RTP/AVP"));
    h.send(
        b_addr(),
        &response_text(
            &b_inv,
            488,
            "Not Acceptable Here",
            Some("nb9"),
            None,
            &[],
            "",
        ),
    );
    let out = h.out();
    assert!(responses(&out, a.addr).iter().all(|r| r.status < 300));
    let again = req(&out, b_addr(), Method::Invite);
    assert_eq!(again.cseq().unwrap().seq, b_inv.cseq().unwrap().seq + 1);
    assert_eq!(
        again.headers.get(&HeaderName::CallId),
        b_inv.headers.get(&HeaderName::CallId)
    );
    let offered = String::from_utf8_lossy(&again.body).to_string();
    assert!(
        offered.contains("RTP/SAVP") && offered.contains("a=crypto:"),
        "{offered}"
    );
    let srtp_answer = sdp("127.0.0.6", 30002, 1).replace("RTP/AVP", "RTP/SAVP")
        + "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n";
    let ok = answer(&mut h, &mut a, &again, "nb9", &srtp_answer, &[]);
    let to_a = String::from_utf8_lossy(&ok.body).to_string();
    assert!(
        to_a.contains("RTP/AVP") && !to_a.contains("a=crypto"),
        "{to_a}"
    );

    // A second refusal ends the call with it.
    let mut c = Caller::new(a_addr(), "9999", "5551235");
    let b_inv = place_call(&mut h, &mut c, b_addr(), &sdp("127.0.0.5", 30010, 1));
    h.send(
        b_addr(),
        &response_text(
            &b_inv,
            488,
            "Not Acceptable Here",
            Some("nb10"),
            None,
            &[],
            "",
        ),
    );
    let again = req(&h.out(), b_addr(), Method::Invite);
    h.send(
        b_addr(),
        &response_text(
            &again,
            488,
            "Not Acceptable Here",
            Some("nb10"),
            None,
            &[],
            "",
        ),
    );
    let r = resp(&h.out(), c.addr, 488);
    assert_eq!(cseq_method(&r), Method::Invite);
}
