//! CANCEL, early-dialog BYE and the timers that end a call attempt or a
//! call: Timer B, ring timeout, missing ACK, maximum call duration.

use super::*;

// ---------------------------------------------------------------- 5. CANCEL

#[tokio::test]
async fn cancel_before_answer() {
    let mut h = Harness::new();
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    let b_inv = place_call(&mut h, &mut a, b_addr(), &sdp("127.0.0.5", 30000, 1));
    h.send(
        b_addr(),
        &response_text(
            &b_inv,
            180,
            "Ringing",
            Some("bt5"),
            Some("<sip:callee@127.0.0.1:5070>"),
            &[],
            "",
        ),
    );
    resp(&h.out(), a.addr, 180);

    h.send(a.addr, &a.cancel());
    let out = h.out();
    let c = resp(&out, a.addr, 200);
    assert_eq!(cseq_method(&c), Method::Cancel);
    let t = resp(&out, a.addr, 487);
    assert_eq!(cseq_method(&t), Method::Invite);
    let cancel = req(&out, b_addr(), Method::Cancel);
    assert_eq!(cancel.cseq().unwrap().seq, b_inv.cseq().unwrap().seq);
    assert_eq!(
        cancel.top_via().unwrap().branch(),
        b_inv.top_via().unwrap().branch(),
        "CANCEL matches B's INVITE transaction"
    );
    h.send(a.addr, &a.ack_failure(&t));

    h.send(
        b_addr(),
        &response_text(&cancel, 200, "OK", Some("bt5"), None, &[], ""),
    );
    h.send(
        b_addr(),
        &response_text(
            &b_inv,
            487,
            "Request Terminated",
            Some("bt5"),
            None,
            &[],
            "",
        ),
    );
    let out = h.out();
    let ack = req(&out, b_addr(), Method::Ack);
    assert_eq!(
        ack.top_via().unwrap().branch(),
        b_inv.top_via().unwrap().branch()
    );
    assert!(responses(&out, a.addr).is_empty(), "A already has its 487");
    let cdrs = h.cdrs();
    assert_eq!(cdrs.len(), 1);
    assert_eq!(cdrs[0].outcome, "cancelled");
    assert_eq!(h.metrics.calls_active.get(), 0);
    assert_eq!(h.completed("cancelled"), 1);
}

#[tokio::test]
async fn cancel_crossing_the_callees_200() {
    let mut h = Harness::new();
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    let b_inv = place_call(&mut h, &mut a, b_addr(), &sdp("127.0.0.5", 30000, 1));
    h.send(
        b_addr(),
        &response_text(
            &b_inv,
            180,
            "Ringing",
            Some("bt6"),
            Some("<sip:callee@127.0.0.1:5070>"),
            &[],
            "",
        ),
    );
    h.out();
    h.send(a.addr, &a.cancel());
    let out = h.out();
    let t = resp(&out, a.addr, 487);
    let cancel = req(&out, b_addr(), Method::Cancel);
    h.send(a.addr, &a.ack_failure(&t));

    // B answered before it saw the CANCEL.
    h.send(
        b_addr(),
        &response_text(
            &b_inv,
            200,
            "OK",
            Some("bt6"),
            Some("<sip:callee@127.0.0.1:5070>"),
            &[],
            &sdp("127.0.0.6", 30002, 1),
        ),
    );
    let out = h.out();
    let ack = req(&out, b_addr(), Method::Ack);
    assert_eq!(to_tag(&ack.headers).as_deref(), Some("bt6"));
    let bye = req(&out, b_addr(), Method::Bye);
    assert_eq!(to_tag(&bye.headers).as_deref(), Some("bt6"));
    assert!(
        responses(&out, a.addr).iter().all(|r| r.status != 200),
        "A must not be connected after its CANCEL"
    );
    h.send(
        b_addr(),
        &response_text(&cancel, 200, "OK", Some("bt6"), None, &[], ""),
    );
    h.send(
        b_addr(),
        &response_text(&bye, 200, "OK", None, None, &[], ""),
    );
    h.out();
    let cdrs = h.cdrs();
    assert_eq!(cdrs.len(), 1);
    assert_eq!(cdrs[0].outcome, "cancelled");
    assert_eq!(h.metrics.calls_active.get(), 0);
}

#[tokio::test]
async fn callee_silent_gives_408_after_timer_b() {
    let mut h = Harness::new();
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    let b_inv = place_call(&mut h, &mut a, b_addr(), &sdp("127.0.0.5", 30000, 1));
    h.advance(Duration::from_secs(31));
    let out = h.out();
    assert!(
        responses(&out, a.addr).is_empty(),
        "too early:\n{}",
        describe(&out)
    );
    let retrans = requests(&out, b_addr(), Method::Invite);
    assert!(retrans.len() >= 5, "Timer A retransmits the INVITE");
    assert!(retrans
        .iter()
        .all(|r| r.top_via().unwrap().branch() == b_inv.top_via().unwrap().branch()));
    h.advance(Duration::from_secs(2));
    let out = h.out();
    let r = resp(&out, a.addr, 408);
    assert!(
        !r.reason.is_empty() && r.reason != "Request Timeout",
        "reason: {}",
        r.reason
    );
    h.send(a.addr, &a.ack_failure(&r));
    let cdrs = h.cdrs();
    assert_eq!(cdrs.len(), 1);
    assert_eq!(cdrs[0].outcome, "no_answer");
    assert_eq!(h.metrics.calls_active.get(), 0);
}

fn ring_timeout_call() -> (Harness, Caller, Request, Request) {
    let mut cfg = test_config();
    cfg.ring_timeout = Duration::from_secs(5);
    let mut h = Harness::with(cfg, gateway_dialplan::SAMPLE_DIALPLAN);
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    let b_inv = place_call(&mut h, &mut a, b_addr(), &sdp("127.0.0.5", 30000, 1));
    h.send(
        b_addr(),
        &response_text(
            &b_inv,
            180,
            "Ringing",
            Some("bt9"),
            Some("<sip:callee@127.0.0.1:5070>"),
            &[],
            "",
        ),
    );
    resp(&h.out(), a.addr, 180);
    h.advance(Duration::from_secs(4));
    assert!(responses(&h.out(), a.addr).is_empty());
    h.advance(Duration::from_secs(2));
    let out = h.out();
    let r = resp(&out, a.addr, 480);
    assert!(r.reason.contains("5551234"), "reason: {}", r.reason);
    let cancel = req(&out, b_addr(), Method::Cancel);
    h.send(a.addr, &a.ack_failure(&r));
    (h, a, b_inv, cancel)
}

#[tokio::test]
async fn ring_timeout_cancels_callee() {
    let (mut h, _a, b_inv, cancel) = ring_timeout_call();
    h.send(
        b_addr(),
        &response_text(&cancel, 200, "OK", Some("bt9"), None, &[], ""),
    );
    h.send(
        b_addr(),
        &response_text(
            &b_inv,
            487,
            "Request Terminated",
            Some("bt9"),
            None,
            &[],
            "",
        ),
    );
    let out = h.out();
    req(&out, b_addr(), Method::Ack);
    assert_eq!(h.cdrs().len(), 1);
    assert_eq!(h.metrics.calls_active.get(), 0);
}

#[tokio::test]
async fn ring_timeout_cdr_is_no_answer() {
    let (mut h, _a, b_inv, cancel) = ring_timeout_call();
    h.send(
        b_addr(),
        &response_text(&cancel, 200, "OK", Some("bt9"), None, &[], ""),
    );
    h.send(
        b_addr(),
        &response_text(
            &b_inv,
            487,
            "Request Terminated",
            Some("bt9"),
            None,
            &[],
            "",
        ),
    );
    h.out();
    let cdrs = h.cdrs();
    assert_eq!(cdrs.len(), 1);
    assert_eq!(cdrs[0].outcome, "no_answer", "{:?}", cdrs[0]);
    assert_eq!(cdrs[0].sip_status, 480);
    assert_eq!(h.completed("cancelled"), 0);
}

// ---------------------------------------------------------------- 10. max duration

#[tokio::test]
async fn max_call_duration_hangs_up_both_legs() {
    let dp = gateway_dialplan::SAMPLE_DIALPLAN
        .replace("max_duration_secs = 14400", "max_duration_secs = 60");
    assert_ne!(dp, gateway_dialplan::SAMPLE_DIALPLAN);
    let mut h = Harness::with(test_config(), &dp);
    let (a, _b_inv, _ok) = established(&mut h, "bt14", &[]);
    h.advance(Duration::from_secs(59));
    let out = h.out();
    no_request(&out, a.addr, Method::Bye);
    no_request(&out, b_addr(), Method::Bye);
    h.advance(Duration::from_secs(2));
    let out = h.out();
    let bye_a = req(&out, a.addr, Method::Bye);
    assert_eq!(
        bye_a.headers.get(&HeaderName::CallId),
        Some(a.call_id.as_str())
    );
    assert_eq!(to_tag(&bye_a.headers).as_deref(), Some(a.from_tag.as_str()));
    let bye_b = req(&out, b_addr(), Method::Bye);
    assert_eq!(to_tag(&bye_b.headers).as_deref(), Some("bt14"));
    ok_all(&mut h, &out, a.addr, Method::Bye);
    ok_all(&mut h, &out, b_addr(), Method::Bye);
    h.out();
    let cdrs = h.cdrs();
    assert_eq!(cdrs.len(), 1);
    assert_eq!(cdrs[0].outcome, "answered");
    assert!(
        cdrs[0].reason.to_lowercase().contains("duration"),
        "{}",
        cdrs[0].reason
    );
    assert_eq!(h.metrics.calls_active.get(), 0);
}

#[tokio::test]
async fn cancel_before_any_provisional_waits_for_one() {
    let mut h = Harness::new();
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    let b_inv = place_call(&mut h, &mut a, b_addr(), &sdp("127.0.0.5", 30000, 1));
    h.send(a.addr, &a.cancel());
    let out = h.out();
    resp(&out, a.addr, 200);
    let t = resp(&out, a.addr, 487);
    h.send(a.addr, &a.ack_failure(&t));
    // RFC 3261 9.1: no CANCEL before B sent a provisional response.
    no_request(&out, b_addr(), Method::Cancel);
    h.send(
        b_addr(),
        &response_text(&b_inv, 180, "Ringing", Some("bt19"), None, &[], ""),
    );
    let out = h.out();
    let cancel = req(&out, b_addr(), Method::Cancel);
    assert!(
        responses(&out, a.addr).is_empty(),
        "A hears nothing after its 487:\n{}",
        describe(&out)
    );
    h.send(
        b_addr(),
        &response_text(&cancel, 200, "OK", Some("bt19"), None, &[], ""),
    );
    h.send(
        b_addr(),
        &response_text(
            &b_inv,
            487,
            "Request Terminated",
            Some("bt19"),
            None,
            &[],
            "",
        ),
    );
    let out = h.out();
    req(&out, b_addr(), Method::Ack);
    let cdrs = h.cdrs();
    assert_eq!(cdrs.len(), 1);
    assert_eq!(cdrs[0].outcome, "cancelled");
}

#[tokio::test]
async fn cancel_then_callee_silent_ends_by_timer_b() {
    let mut h = Harness::new();
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    place_call(&mut h, &mut a, b_addr(), &sdp("127.0.0.5", 30000, 1));
    h.send(a.addr, &a.cancel());
    let out = h.out();
    let t = resp(&out, a.addr, 487);
    h.send(a.addr, &a.ack_failure(&t));
    h.advance(Duration::from_secs(40));
    let out = h.out();
    assert!(
        responses(&out, a.addr)
            .iter()
            .all(|r| r.status < 200 || r.status == 487),
        "{}",
        describe(&out)
    );
    let cdrs = h.cdrs();
    assert_eq!(cdrs.len(), 1);
    assert_eq!(cdrs[0].outcome, "cancelled");
    assert_eq!(h.metrics.calls_active.get(), 0);
}

/// B answers; A never ACKs. Returns after A got its first 200.
fn answered_without_ack() -> (Harness, Caller) {
    let mut h = Harness::new();
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    let b_inv = place_call(&mut h, &mut a, b_addr(), &sdp("127.0.0.5", 30000, 1));
    h.send(
        b_addr(),
        &response_text(
            &b_inv,
            200,
            "OK",
            Some("bt22"),
            Some("<sip:callee@127.0.0.1:5070>"),
            &[],
            &sdp("127.0.0.6", 30002, 1),
        ),
    );
    let out = h.out();
    resp(&out, a.addr, 200);
    (h, a)
}

/// RFC 3261 13.3.1.4: no ACK within 64*T1 of the 2xx: the UAS ends the
/// dialog with BYE, and the gateway hangs up the callee too.
#[tokio::test]
async fn caller_never_acks_the_answer() {
    let (mut h, a) = answered_without_ack();
    h.advance(Duration::from_secs(35));
    let out = h.out();
    req(&out, b_addr(), Method::Bye);
    ok_all(&mut h, &out, b_addr(), Method::Bye);
    ok_all(&mut h, &out, a.addr, Method::Bye);
    h.out();
    let cdrs = h.cdrs();
    assert_eq!(cdrs.len(), 1);
    assert_eq!(cdrs[0].outcome, "failed");
    assert_eq!(h.metrics.calls_active.get(), 0);
}

/// RFC 3261 13.3.1.4: the UAS core retransmits its 2xx (T1, doubling to
/// T2) until the ACK comes; one lost UDP datagram must not end the call.
#[tokio::test]
async fn answer_to_caller_is_retransmitted_until_acked() {
    let (mut h, mut a) = answered_without_ack();
    h.advance(Duration::from_secs(5));
    let out = h.out();
    let again: Vec<Response> = responses(&out, a.addr)
        .into_iter()
        .filter(|r| r.status == 200)
        .collect();
    assert!(
        again.len() >= 2,
        "200 retransmitted to A:\n{}",
        describe(&out)
    );
    a.learn(&again[0]);
    h.send(a.addr, &a.ack_2xx());
    h.advance(Duration::from_secs(40));
    let out = h.out();
    no_request(&out, b_addr(), Method::Bye);
    assert_eq!(h.metrics.calls_active.get(), 1);
}

#[tokio::test]
async fn late_cancel_and_retransmitted_2xx_leave_the_call_alone() {
    let mut h = Harness::new();
    let (mut a, b_inv, _ok) = established(&mut h, "bt37", &[]);
    // CANCEL after the answer: 200 for the CANCEL, nothing else.
    h.send(a.addr, &a.cancel());
    let out = h.out();
    let r = resp(&out, a.addr, 200);
    assert_eq!(cseq_method(&r), Method::Cancel);
    no_request(&out, b_addr(), Method::Cancel);
    no_request(&out, b_addr(), Method::Bye);
    // B retransmits its 200: re-ACKed, A hears nothing.
    h.send(
        b_addr(),
        &response_text(
            &b_inv,
            200,
            "OK",
            Some("bt37"),
            Some("<sip:callee@127.0.0.1:5070>"),
            &[],
            &sdp("127.0.0.6", 30002, 1),
        ),
    );
    let out = h.out();
    req(&out, b_addr(), Method::Ack);
    assert!(responses(&out, a.addr).is_empty(), "{}", describe(&out));
    // An in-dialog request with an old CSeq is refused.
    a.cseq = 4;
    h.send(a.addr, &a.in_dialog("INFO", ""));
    let out = h.out();
    let info = req(&out, b_addr(), Method::Info);
    h.send(
        b_addr(),
        &response_text(&info, 200, "OK", None, None, &[], ""),
    );
    resp(&h.out(), a.addr, 200);
    a.cseq = 2;
    h.send(a.addr, &a.in_dialog("INFO", ""));
    let out = h.out();
    let r = resp(&out, a.addr, 500);
    assert_eq!(cseq_method(&r), Method::Info);
    no_request(&out, b_addr(), Method::Info);
    assert_eq!(h.metrics.calls_active.get(), 1);
}

/// RFC 3261 15 and 15.1.2: the caller may BYE an early dialog; the
/// gateway answers the pending INVITE with 487, cancels B, and the call
/// was never answered.
#[tokio::test]
async fn bye_on_early_dialog_ends_the_attempt() {
    let mut h = Harness::new();
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    let b_inv = place_call(&mut h, &mut a, b_addr(), &sdp("127.0.0.5", 30000, 1));
    h.send(
        b_addr(),
        &response_text(&b_inv, 180, "Ringing", Some("bt51"), None, &[], ""),
    );
    let out = h.out();
    let ringing = resp(&out, a.addr, 180);
    a.remote_tag = to_tag(&ringing.headers);
    let invite_cseq = a.cseq;
    h.send(a.addr, &a.in_dialog("BYE", ""));
    let out = h.out();
    let ok = resp(&out, a.addr, 200);
    assert_eq!(cseq_method(&ok), Method::Bye);
    req(&out, b_addr(), Method::Cancel);
    let t = responses(&out, a.addr)
        .into_iter()
        .find(|r| cseq_method(r) == Method::Invite && r.status >= 300)
        .unwrap_or_else(|| panic!("A's INVITE left pending:\n{}", describe(&out)));
    assert_eq!(t.status, 487);
    assert_eq!(t.cseq().unwrap().seq, invite_cseq);
    // B confirms the CANCEL with 487 (a 200 crossing the CANCEL would
    // still need ACK and BYE); the CDR may already be written.
    h.send(
        b_addr(),
        &response_text(
            &b_inv,
            487,
            "Request Terminated",
            Some("bt51"),
            None,
            &[],
            "",
        ),
    );
    let cdrs = h.cdrs();
    assert_eq!(cdrs.len(), 1);
    assert_ne!(cdrs[0].outcome, "answered", "{:?}", cdrs[0]);
    assert!(cdrs[0].answered_at_ms.is_none());
}
