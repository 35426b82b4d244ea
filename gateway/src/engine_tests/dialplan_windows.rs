//! The dialplan's time windows and trunk number ranges, through the engine:
//! a SIP INVITE in, what the caller and the callee side see out.

use super::*;

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// The loopback sample with two windowed rules before its catch-all: `56…`
/// holds today and tomorrow (in the dialplan's zone, so a test running at
/// midnight still sees it hold), `55…` only on the day after tomorrow.
fn windowed_loopback() -> String {
    let today = gateway_dialplan::TimeZone::default()
        .local(crate::engine::unix_now())
        .weekday as usize;
    let day = |ahead: usize| DAYS[(today + ahead) % 7];
    let rules = format!(
        "[[rule]]\nname = \"not-today\"\nmatch = {{ prefix = \"55\" }}\naction = \"reject\"\n\
         status = 480\nreason = \"Not today\"\ntime = [\"{} 00:00-24:00\"]\n\n\
         [[rule]]\nname = \"today\"\nmatch = {{ prefix = \"56\" }}\naction = \"reject\"\n\
         status = 486\nreason = \"Today\"\ntime = [\"{},{} 00:00-24:00\"]\n\n",
        day(2),
        day(0),
        day(1)
    );
    let src = gateway_dialplan::SAMPLE_DIALPLAN;
    let at = src.find("[[rule]]").expect("the sample has a rule");
    format!("{}{rules}{}", &src[..at], &src[at..])
}

#[tokio::test]
async fn a_call_outside_a_rules_window_falls_through_to_the_next_rule() {
    let mut h = Harness::with(test_config(), &windowed_loopback());
    // 55…: its rule's window is the day after tomorrow, so the call goes
    // on to the sample's catch-all and out over the loopback trunk.
    let mut a = Caller::new(a_addr(), "9999", "551234");
    let b_inv = place_call(&mut h, &mut a, b_addr(), &sdp("127.0.0.5", 30000, 1));
    assert_eq!(b_inv.uri.to_string(), "sip:551234@127.0.0.1:5070");

    // 56…: its window holds now, so the rule refuses the call.
    let mut c = Caller::new(addr("127.0.0.1:40002"), "9999", "561234");
    h.send(c.addr, &c.invite(&[], &sdp("127.0.0.5", 30002, 1)));
    let out = h.out();
    let r = resp(&out, c.addr, 486);
    assert_eq!(r.reason, "Today");
    no_request(&out, b_addr(), Method::Invite);
}

#[tokio::test]
async fn a_trunk_calling_outside_its_inbound_numbers_gets_403_with_the_reason() {
    let dialplan = gateway_dialplan::SAMPLE_DIALPLAN.replacen(
        "acl = [\"127.0.0.1/32\", \"::1/128\"]\n",
        "acl = [\"127.0.0.1/32\", \"::1/128\"]\ninbound_numbers = [\"1001-1003\", \"8000-8002\"]\n",
        1,
    );
    assert_ne!(dialplan, gateway_dialplan::SAMPLE_DIALPLAN);
    let mut h = Harness::with(test_config(), &dialplan);
    let mut a = Caller::new(a_addr(), "9999", "5551234");
    h.send(a.addr, &a.invite(&[], &sdp("127.0.0.5", 30000, 1)));
    let out = h.out();
    let r = resp(&out, a.addr, 403);
    let reason = "Trunk loopback-trunk (carrier) may not call 5551234: not in its inbound_numbers";
    assert_eq!(r.reason, reason);
    // A Warning header carries it too, for the caller's log.
    let warning = r.headers.get(&HeaderName::Warning).unwrap_or_default();
    assert!(warning.contains(reason), "Warning: {warning:?}");
    no_request(&out, b_addr(), Method::Invite);
    assert_eq!(h.metrics.calls_active.get(), 0);
}
