//! Call setup and teardown: trunk and endpoint calls, media anchoring,
//! offers in INVITE or ACK, forks, early media and reliable provisionals, CDRs.

use super::*;

// ---------------------------------------------------------------- 2. trunk call

#[tokio::test]
async fn trunk_call_answered_and_hung_up_with_anchored_media() {
    let mut h = Harness::new();
    // Real media endpoints on other loopback addresses, to check the relay.
    let a_rtp = tokio::net::UdpSocket::bind("127.0.0.5:0").await.unwrap();
    let b_rtp = tokio::net::UdpSocket::bind("127.0.0.6:0").await.unwrap();
    let a_port = a_rtp.local_addr().unwrap().port();
    let b_port = b_rtp.local_addr().unwrap().port();

    let mut a = Caller::new(a_addr(), "9999", "5551234");
    let b_inv = place_call(&mut h, &mut a, b_addr(), &sdp("127.0.0.5", a_port, 1));
    assert_eq!(h.metrics.call_attempts.get(), 1);
    assert_eq!(h.metrics.calls_active.get(), 1);
    assert_eq!(b_inv.uri.to_string(), "sip:5551234@127.0.0.1:5070");
    assert_eq!(b_inv.max_forwards().unwrap(), 69);
    assert_ne!(
        b_inv.headers.get(&HeaderName::CallId),
        Some(a.call_id.as_str()),
        "leg B has its own Call-ID"
    );
    let (ip, gw_b_port) = sdp_media(&b_inv.body);
    assert_eq!(ip, "127.0.0.1");
    assert!(h.in_range(gw_b_port), "B is offered port {gw_b_port}");
    assert!(!c_lines(&b_inv.body).contains("127.0.0.5"));

    // 180 then 200.
    h.send(
        b_addr(),
        &response_text(
            &b_inv,
            180,
            "Ringing",
            Some("btag1"),
            Some("<sip:callee@127.0.0.1:5070>"),
            &[],
            "",
        ),
    );
    let out = h.out();
    let ringing = resp(&out, a.addr, 180);
    let a_tag = to_tag(&ringing.headers).expect("180 to A has our tag");
    assert!(requests(&out, b_addr(), Method::Ack).is_empty());

    h.send(
        b_addr(),
        &response_text(
            &b_inv,
            200,
            "OK",
            Some("btag1"),
            Some("<sip:callee@127.0.0.1:5070>"),
            &[],
            &sdp("127.0.0.6", b_port, 1),
        ),
    );
    let out = h.out();
    let ok = resp(&out, a.addr, 200);
    assert_eq!(to_tag(&ok.headers).as_deref(), Some(a_tag.as_str()));
    assert_eq!(
        ok.headers.get(&HeaderName::CallId),
        Some(a.call_id.as_str())
    );
    let contact = ok
        .headers
        .get(&HeaderName::Contact)
        .expect("200 has Contact");
    assert!(contact.contains("127.0.0.1:5060"), "{contact}");
    assert_eq!(
        ok.headers.get(&HeaderName::ContentType),
        Some("application/sdp")
    );
    let (ip, gw_a_port) = sdp_media(&ok.body);
    assert_eq!(ip, "127.0.0.1");
    assert!(h.in_range(gw_a_port));
    assert_ne!(gw_a_port, gw_b_port);
    assert!(!c_lines(&ok.body).contains("127.0.0.6"));
    let ack = req(&out, b_addr(), Method::Ack);
    assert_eq!(to_tag(&ack.headers).as_deref(), Some("btag1"));
    a.learn(&ok);
    h.send(a.addr, &a.ack_2xx());
    assert!(h.out().is_empty());

    // RTP A -> gateway reaches B from the gateway's B-side port, and back.
    let mut pkt = vec![0x80u8, 0, 0, 1, 0, 0, 0, 0, 0x11, 0x22, 0x33, 0x44];
    pkt.extend_from_slice(&[0xd5; 160]);
    let mut buf = [0u8; 2048];
    a_rtp.send_to(&pkt, ("127.0.0.1", gw_a_port)).await.unwrap();
    let (n, src) = tokio::time::timeout(Duration::from_secs(5), b_rtp.recv_from(&mut buf))
        .await
        .expect("RTP relayed to B")
        .unwrap();
    assert_eq!(&buf[..n], &pkt[..]);
    assert_eq!(src, addr(&format!("127.0.0.1:{gw_b_port}")));
    pkt[3] = 2;
    b_rtp.send_to(&pkt, ("127.0.0.1", gw_b_port)).await.unwrap();
    let (n, src) = tokio::time::timeout(Duration::from_secs(5), a_rtp.recv_from(&mut buf))
        .await
        .expect("RTP relayed to A")
        .unwrap();
    assert_eq!(&buf[..n], &pkt[..]);
    assert_eq!(src, addr(&format!("127.0.0.1:{gw_a_port}")));

    // A hangs up.
    h.send(a.addr, &a.in_dialog("BYE", ""));
    let out = h.out();
    let r = resp(&out, a.addr, 200);
    assert_eq!(cseq_method(&r), Method::Bye);
    let bye = req(&out, b_addr(), Method::Bye);
    assert_eq!(to_tag(&bye.headers).as_deref(), Some("btag1"));
    assert_eq!(
        bye.headers.get(&HeaderName::CallId),
        b_inv.headers.get(&HeaderName::CallId)
    );
    h.send(
        b_addr(),
        &response_text(&bye, 200, "OK", None, None, &[], ""),
    );
    assert!(h.out().is_empty());
    let cdrs = h.cdrs();
    assert_eq!(cdrs.len(), 1, "{cdrs:?}");
    assert_eq!(cdrs[0].outcome, "answered");
    assert_eq!(cdrs[0].call_id, a.call_id);
    assert_eq!(cdrs[0].caller, "trunk:loopback-trunk");
    assert_eq!(cdrs[0].callee, "5551234");
    assert!(cdrs[0].answered_at_ms.is_some());
    assert!(
        cdrs[0].rtp_packets_in >= 1 && cdrs[0].rtp_packets_out >= 1,
        "{:?}",
        cdrs[0]
    );
    assert_eq!(h.metrics.calls_active.get(), 0);
    assert_eq!(h.completed("answered"), 1);
}

// ---------------------------------------------------------------- 3. endpoint call behind NAT

#[tokio::test]
async fn endpoint_call_goes_to_registered_source_address() {
    let mut h = Harness::new();
    let nat_src = addr("127.0.0.1:40002");
    register(
        &mut h,
        "1002",
        "pass1002",
        nat_src,
        "<sip:1002@192.0.2.7:5062>",
    );
    h.store_ops();

    let a_ua = addr("127.0.0.1:40021");
    let mut a = Caller::new(a_ua, "1001", "1002");
    h.send(a_ua, &a.invite(&[], &sdp("127.0.0.5", 30000, 1)));
    let out = h.out();
    let ch = resp(&out, a_ua, 407);
    let pa = ch
        .headers
        .get(&HeaderName::ProxyAuthenticate)
        .expect("407 carries Proxy-Authenticate")
        .to_string();
    no_request(&out, nat_src, Method::Invite);
    h.send(a_ua, &a.ack_failure(&ch));
    assert!(h.out().is_empty());

    let cred = digest(&pa, "1001", "pass1001", "INVITE", &a.ruri, 1);
    h.send(
        a_ua,
        &a.invite(
            &[format!("Proxy-Authorization: {cred}")],
            &sdp("127.0.0.5", 30000, 1),
        ),
    );
    let out = h.out();
    resp(&out, a_ua, 100);
    let b_inv = req(&out, nat_src, Method::Invite);
    assert_eq!(b_inv.uri.to_string(), "sip:1002@192.0.2.7:5062");
    assert!(
        b_inv.headers.get(&HeaderName::ProxyAuthorization).is_none(),
        "credentials of leg A never reach leg B"
    );
    let from = b_inv.from().unwrap();
    assert_eq!(from.uri.user.as_deref(), Some("1001"));
    let (ip, port) = sdp_media(&b_inv.body);
    assert_eq!(ip, "127.0.0.1");
    assert!(h.in_range(port));
}

#[tokio::test]
async fn bye_from_callee_reaches_caller() {
    let mut h = Harness::new();
    let (a, b_inv, _ok) = established(&mut h, "bt18", &[]);
    h.send(b_addr(), &b_request_text(&b_inv, "bt18", "BYE", 1, &[], ""));
    let out = h.out();
    let r = resp(&out, b_addr(), 200);
    assert_eq!(cseq_method(&r), Method::Bye);
    let bye = req(&out, a.addr, Method::Bye);
    assert_eq!(bye.uri.to_string(), format!("sip:caller@{}", a_addr()));
    assert_eq!(to_tag(&bye.headers).as_deref(), Some(a.from_tag.as_str()));
    assert_eq!(bye.from().unwrap().tag(), a.remote_tag.as_deref());
    assert_eq!(
        bye.headers.get(&HeaderName::CallId),
        Some(a.call_id.as_str())
    );
    assert!(bye.cseq().unwrap().seq >= 1);
    h.send(a.addr, &a_ok(&bye, ""));
    assert!(h.out().is_empty());
    let cdrs = h.cdrs();
    assert_eq!(cdrs.len(), 1);
    assert_eq!(cdrs[0].outcome, "answered");
    assert!(cdrs[0].reason.contains("callee"), "{}", cdrs[0].reason);
}

#[tokio::test]
async fn retransmitted_invite_places_one_call() {
    let mut h = Harness::new();
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    let text = a.invite(&[], &sdp("127.0.0.5", 30000, 1));
    h.send(a.addr, &text);
    let first = h.out();
    assert_eq!(requests(&first, b_addr(), Method::Invite).len(), 1);
    h.send(a.addr, &text);
    let out = h.out();
    assert!(requests(&out, b_addr(), Method::Invite).is_empty());
    resp(&out, a.addr, 100);
    assert_eq!(h.metrics.calls_active.get(), 1);
    assert_eq!(h.metrics.call_attempts.get(), 1);
}

/// RFC 3261 13.2.1: A's offer needs an answer in a reliable message. The
/// engine relays B's reliable 183 to A unreliably, so A's 200 must carry
/// the answer even when B's 200 (legally) does not repeat it.
#[tokio::test]
async fn early_media_and_reliable_provisional() {
    let mut h = Harness::new();
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    let b_inv = place_call(&mut h, &mut a, b_addr(), &sdp("127.0.0.5", 30000, 1));
    h.send(
        b_addr(),
        &response_text(
            &b_inv,
            183,
            "Session Progress",
            Some("bt29"),
            Some("<sip:callee@127.0.0.1:5070>"),
            &["Require: 100rel".into(), "RSeq: 1".into()],
            &sdp("127.0.0.6", 30002, 1),
        ),
    );
    let out = h.out();
    let p = resp(&out, a.addr, 183);
    assert!(
        p.headers.get(&HeaderName::RSeq).is_none(),
        "A's 183 is unreliable"
    );
    let (ip, port) = sdp_media(&p.body);
    assert_eq!(ip, "127.0.0.1");
    assert!(h.in_range(port));
    let prack = req(&out, b_addr(), Method::Prack);
    assert_eq!(prack.headers.get(&HeaderName::RAck), Some("1 1 INVITE"));
    h.send(
        b_addr(),
        &response_text(&prack, 200, "OK", None, None, &[], ""),
    );
    assert!(h.out().is_empty());
    // The 200 without SDP (the answer came in the 183) still connects A.
    h.send(
        b_addr(),
        &response_text(
            &b_inv,
            200,
            "OK",
            Some("bt29"),
            Some("<sip:callee@127.0.0.1:5070>"),
            &[],
            "",
        ),
    );
    let out = h.out();
    let ok = resp(&out, a.addr, 200);
    req(&out, b_addr(), Method::Ack);
    assert_eq!(ok.body, p.body, "A's 200 repeats the answer it already has");
}

/// The engine gets its time from the runtime: a CDR's times follow the
/// clock passed in, so a 60 s call lasts 60 s even on a virtual clock.
#[tokio::test]
async fn cdr_duration_follows_the_engine_clock() {
    let dp = gateway_dialplan::SAMPLE_DIALPLAN
        .replace("max_duration_secs = 14400", "max_duration_secs = 60");
    let mut h = Harness::with(test_config(), &dp);
    established(&mut h, "bt32", &[]);
    h.advance(Duration::from_secs(61));
    h.out();
    let cdrs = h.cdrs();
    assert_eq!(cdrs.len(), 1);
    assert!(
        (59_000..=61_000).contains(&cdrs[0].duration_ms),
        "duration {} ms",
        cdrs[0].duration_ms
    );
}

#[tokio::test]
async fn media_ports_are_released_when_a_call_ends() {
    // Room for exactly one call: two RTP/RTCP pairs.
    let mut h = Harness::with_ports(4, test_config(), gateway_dialplan::SAMPLE_DIALPLAN);
    let (mut a, _b_inv, _ok) = established(&mut h, "bt34", &[]);

    let mut a2 = Caller::new(addr("127.0.0.1:40002"), "9998", "5551234");
    h.send(a2.addr, &a2.invite(&[], &sdp("127.0.0.5", 30010, 1)));
    let out = h.out();
    let r = resp(&out, a2.addr, 503);
    assert!(r.reason.contains("Media relay"), "{}", r.reason);
    no_request(&out, b_addr(), Method::Invite);
    h.send(a2.addr, &a2.ack_failure(&r));

    h.send(a.addr, &a.in_dialog("BYE", ""));
    let out = h.out();
    ok_all(&mut h, &out, b_addr(), Method::Bye);
    // The relay task frees its ports when it sees the session dropped.
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
    let mut a3 = Caller::new(addr("127.0.0.1:40003"), "9997", "5551234");
    let mut placed = false;
    for _ in 0..100 {
        h.send(a3.addr, &a3.invite(&[], &sdp("127.0.0.5", 30020, 1)));
        let out = h.out();
        if !requests(&out, b_addr(), Method::Invite).is_empty() {
            placed = true;
            break;
        }
        let r = resp(&out, a3.addr, 503);
        h.send(a3.addr, &a3.ack_failure(&r));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(placed, "ports of the finished call were never released");
}

#[tokio::test]
async fn two_calls_are_independent() {
    let mut h = Harness::new();
    let (mut a1, _b1, _) = established(&mut h, "bt40a", &[]);
    let mut a2 = Caller::new(addr("127.0.0.1:40002"), "9998", "5551235");
    let b2 = place_call(&mut h, &mut a2, b_addr(), &sdp("127.0.0.5", 30010, 1));
    answer(
        &mut h,
        &mut a2,
        &b2,
        "bt40b",
        &sdp("127.0.0.6", 30012, 1),
        &[],
    );
    assert_eq!(h.metrics.calls_active.get(), 2);
    h.send(a1.addr, &a1.in_dialog("BYE", ""));
    let out = h.out();
    let bye = req(&out, b_addr(), Method::Bye);
    assert_eq!(to_tag(&bye.headers).as_deref(), Some("bt40a"));
    no_request(&out, a2.addr, Method::Bye);
    assert_eq!(h.metrics.calls_active.get(), 1);
    h.send(a2.addr, &a2.in_dialog("BYE", ""));
    let out = h.out();
    let bye = req(&out, b_addr(), Method::Bye);
    assert_eq!(to_tag(&bye.headers).as_deref(), Some("bt40b"));
    let cdrs = h.cdrs();
    assert_eq!(cdrs.len(), 2);
    assert_eq!(cdrs[0].call_id, a1.call_id);
    assert_eq!(cdrs[1].call_id, a2.call_id);
}

#[tokio::test]
async fn second_fork_answer_is_acked_and_hung_up() {
    let mut h = Harness::new();
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    let b_inv = place_call(&mut h, &mut a, b_addr(), &sdp("127.0.0.5", 30000, 1));
    answer(
        &mut h,
        &mut a,
        &b_inv,
        "fork1",
        &sdp("127.0.0.6", 30002, 1),
        &[],
    );
    h.send(
        b_addr(),
        &response_text(
            &b_inv,
            200,
            "OK",
            Some("fork2"),
            Some("<sip:other@127.0.0.1:5070>"),
            &[],
            &sdp("127.0.0.7", 30004, 1),
        ),
    );
    let out = h.out();
    let ack = req(&out, b_addr(), Method::Ack);
    assert_eq!(to_tag(&ack.headers).as_deref(), Some("fork2"));
    let bye = req(&out, b_addr(), Method::Bye);
    assert_eq!(to_tag(&bye.headers).as_deref(), Some("fork2"));
    assert_eq!(bye.uri.to_string(), "sip:other@127.0.0.1:5070");
    assert!(responses(&out, a.addr).is_empty());
    h.send(
        b_addr(),
        &response_text(&bye, 200, "OK", None, None, &[], ""),
    );
    h.out();
    // The call stays with the first fork.
    h.send(a.addr, &a.in_dialog("BYE", ""));
    let out = h.out();
    let bye = req(&out, b_addr(), Method::Bye);
    assert_eq!(to_tag(&bye.headers).as_deref(), Some("fork1"));
    assert_eq!(h.cdrs().len(), 1);
}

#[tokio::test]
async fn initial_audio_and_video_are_both_anchored() {
    let mut h = Harness::new();
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    let av = format!(
        "{}m=video 30100 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n",
        sdp("127.0.0.5", 30000, 1)
    );
    let b_inv = place_call(&mut h, &mut a, b_addr(), &av);
    let text = String::from_utf8_lossy(&b_inv.body).to_string();
    let ports: Vec<u16> = text
        .lines()
        .filter_map(|l| l.strip_prefix("m="))
        .filter_map(|l| l.split_whitespace().nth(1)?.parse().ok())
        .collect();
    assert_eq!(ports.len(), 2);
    assert!(ports.iter().all(|p| h.in_range(*p)), "{text}");
    assert_ne!(ports[0], ports[1]);
    assert!(!c_lines(&b_inv.body).contains("127.0.0.5"), "{text}");
}

/// Carriers send SDP with ISUP in multipart/mixed (RFC 3204): the SDP part
/// is what gets anchored.
#[tokio::test]
async fn multipart_sdp_with_isup_from_a_trunk() {
    let mut h = Harness::new();
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    let sdp_part = sdp("127.0.0.5", 30000, 1);
    let body = format!(
        "--xyz\r\nContent-Type: application/sdp\r\n\r\n{sdp_part}\r\n--xyz\r\n\
         Content-Type: application/isup;version=itu-t92+\r\nContent-Disposition: signal;handling=optional\r\n\r\n\
         \x01\x00\x49\x00\r\n--xyz--\r\n"
    );
    let text = a.invite(&[], "").replace(
        "Content-Length: 0\r\n\r\n",
        &format!(
            "Content-Type: multipart/mixed;boundary=xyz\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    );
    h.send(a.addr, &text);
    let out = h.out();
    let b_inv = req(&out, b_addr(), Method::Invite);
    let b_text = String::from_utf8_lossy(&b_inv.body).to_string();
    assert!(!c_lines(&b_inv.body).contains("127.0.0.5"), "{b_text}");
    assert!(b_text.contains("c=IN IP4 127.0.0.1"), "{b_text}");
}

/// A display name whose text begins with a quote character must still be
/// re-quoted on leg B, or B gets an unparseable From.
#[tokio::test]
async fn display_name_starting_with_a_quote_is_requoted() {
    let mut h = Harness::new();
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    a.from = r#""\"Boss\" office" <sip:9999@127.0.0.1>"#.to_string();
    h.send(a.addr, &a.invite(&[], &sdp("127.0.0.5", 30000, 1)));
    let out = h.out();
    let b_inv = req(&out, b_addr(), Method::Invite);
    let from = b_inv.from().expect("B's From parses");
    assert_eq!(from.display.as_deref(), Some(r#""Boss" office"#));
    assert!(h.unparsed.is_empty());
}

#[tokio::test]
async fn display_names_reach_leg_b() {
    let mut h = Harness::new();
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    a.from = "Phòng họp số 1 <sip:9999@127.0.0.1>".to_string();
    let b_inv = place_call(&mut h, &mut a, b_addr(), &sdp("127.0.0.5", 30000, 1));
    let from = b_inv.from().unwrap();
    assert_eq!(from.display.as_deref(), Some("Phòng họp số 1"));
    assert_eq!(from.uri.user.as_deref(), Some("9999"));
}
