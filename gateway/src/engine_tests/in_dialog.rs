//! In-dialog requests relayed between the legs: re-INVITE, INFO, BYE during
//! a pending re-INVITE, glare, Max-Forwards countdown.

use super::*;

#[tokio::test]
async fn reinvite_from_callee_is_relayed_to_caller() {
    let mut h = Harness::new();
    let (a, b_inv, _ok) = established(&mut h, "bt24", &[]);
    h.send(
        b_addr(),
        &b_request_text(
            &b_inv,
            "bt24",
            "INVITE",
            1,
            &[],
            &sdp("127.0.0.6", 32002, 2),
        ),
    );
    let out = h.out();
    let re = req(&out, a.addr, Method::Invite);
    assert_eq!(re.uri.to_string(), format!("sip:caller@{}", a_addr()));
    assert_eq!(to_tag(&re.headers).as_deref(), Some(a.from_tag.as_str()));
    let (ip, port) = sdp_media(&re.body);
    assert_eq!(ip, "127.0.0.1");
    assert!(h.in_range(port));
    h.send(a.addr, &a_ok(&re, &sdp("127.0.0.5", 32000, 2)));
    let out = h.out();
    let ok = resp(&out, b_addr(), 200);
    assert_eq!(cseq_method(&ok), Method::Invite);
    assert_eq!(to_tag(&ok.headers).as_deref(), b_inv.from().unwrap().tag());
    let (ip, port) = sdp_media(&ok.body);
    assert_eq!(ip, "127.0.0.1");
    assert!(h.in_range(port));
    let ack = req(&out, a.addr, Method::Ack);
    assert_eq!(ack.cseq().unwrap().seq, re.cseq().unwrap().seq);
}

#[tokio::test]
async fn reinvite_refused_by_callee_keeps_the_call() {
    let mut h = Harness::new();
    let (mut a, _b_inv, _ok) = established(&mut h, "bt25", &[]);
    h.send(a.addr, &a.invite(&[], &sdp("127.0.0.5", 31000, 2)));
    let out = h.out();
    let re = req(&out, b_addr(), Method::Invite);
    h.send(
        b_addr(),
        &response_text(&re, 488, "Not Acceptable Here", None, None, &[], ""),
    );
    let out = h.out();
    let r = resp(&out, a.addr, 488);
    assert_eq!(cseq_method(&r), Method::Invite);
    let ack = req(&out, b_addr(), Method::Ack);
    assert_eq!(
        ack.top_via().unwrap().branch(),
        re.top_via().unwrap().branch()
    );
    h.send(a.addr, &a.ack_failure(&r));
    assert!(h.out().is_empty());
    assert_eq!(h.metrics.calls_active.get(), 1);
    h.send(a.addr, &a.in_dialog("BYE", ""));
    let out = h.out();
    resp(&out, a.addr, 200);
    req(&out, b_addr(), Method::Bye);
}

/// RFC 3261 15.1.2: a UAS that receives a BYE answers its pending
/// requests of that dialog with 487.
#[tokio::test]
async fn bye_during_pending_reinvite_answers_it() {
    let mut h = Harness::new();
    let (mut a, _b_inv, _ok) = established(&mut h, "bt26", &[]);
    h.send(a.addr, &a.invite(&[], &sdp("127.0.0.5", 31000, 2)));
    let out = h.out();
    req(&out, b_addr(), Method::Invite);
    let reinvite_cseq = a.cseq;
    h.send(a.addr, &a.in_dialog("BYE", ""));
    let out = h.out();
    let bye_ok = resp(&out, a.addr, 200);
    assert_eq!(cseq_method(&bye_ok), Method::Bye);
    req(&out, b_addr(), Method::Bye);
    let pending = responses(&out, a.addr)
        .into_iter()
        .find(|r| cseq_method(r) == Method::Invite && r.status >= 300);
    let pending = pending.unwrap_or_else(|| {
        panic!(
            "the pending re-INVITE got no final response:\n{}",
            describe(&out)
        )
    });
    assert_eq!(pending.status, 487);
    assert_eq!(pending.cseq().unwrap().seq, reinvite_cseq);
}

/// A relayed in-dialog request carries the caller's Max-Forwards less one;
/// one that arrives with 0 is refused with 483 and not relayed.
#[tokio::test]
async fn relayed_requests_count_down_max_forwards() {
    let mut h = Harness::new();
    let (mut a, _b_inv, _ok) = established(&mut h, "bt29", &[]);
    let text = a
        .in_dialog("INFO", "")
        .replace("Max-Forwards: 70\r\n", "Max-Forwards: 9\r\n");
    assert!(text.contains("Max-Forwards: 9\r\n"), "{text}");
    h.send(a.addr, &text);
    let out = h.out();
    let info = req(&out, b_addr(), Method::Info);
    assert_eq!(info.headers.get(&HeaderName::MaxForwards), Some("8"));
    h.send(
        b_addr(),
        &response_text(&info, 200, "OK", None, None, &[], ""),
    );
    h.out();

    let text = a
        .in_dialog("INFO", "")
        .replace("Max-Forwards: 70\r\n", "Max-Forwards: 0\r\n");
    h.send(a.addr, &text);
    let out = h.out();
    let r = resp(&out, a.addr, 483);
    assert_eq!(cseq_method(&r), Method::Info);
    no_request(&out, b_addr(), Method::Info);
}

#[tokio::test]
async fn glare_the_other_way_round() {
    let mut h = Harness::new();
    let (mut a, b_inv, _ok) = established(&mut h, "bt39", &[]);
    h.send(
        b_addr(),
        &b_request_text(
            &b_inv,
            "bt39",
            "INVITE",
            1,
            &[],
            &sdp("127.0.0.6", 32002, 2),
        ),
    );
    let out = h.out();
    let re = req(&out, a.addr, Method::Invite);
    h.send(a.addr, &a.invite(&[], &sdp("127.0.0.5", 31000, 2)));
    let out = h.out();
    let r = resp(&out, a.addr, 491);
    assert_eq!(r.cseq().unwrap().seq, a.cseq);
    no_request(&out, b_addr(), Method::Invite);
    h.send(a.addr, &a.ack_failure(&r));
    h.send(a.addr, &a_ok(&re, &sdp("127.0.0.5", 32000, 2)));
    let out = h.out();
    resp(&out, b_addr(), 200);
    req(&out, a.addr, Method::Ack);
}

/// A video room adds video to an audio call: the new m-line must be
/// anchored like the first, or media would bypass the gateway.
#[tokio::test]
async fn reinvite_adding_video_is_anchored() {
    let mut h = Harness::new();
    let (mut a, _b_inv, _ok) = established(&mut h, "bt42", &[]);
    let av = format!(
        "{}m=video 30100 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n",
        sdp("127.0.0.5", 30000, 2)
    );
    h.send(a.addr, &a.invite(&[], &av));
    let out = h.out();
    let re = req(&out, b_addr(), Method::Invite);
    let text = String::from_utf8_lossy(&re.body).to_string();
    assert_eq!(text.matches("m=").count(), 2, "{text}");
    assert!(!c_lines(&re.body).contains("127.0.0.5"), "{text}");
    let video_port: u16 = text
        .lines()
        .find_map(|l| l.strip_prefix("m=video "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .unwrap();
    assert!(h.in_range(video_port), "{text}");
}
