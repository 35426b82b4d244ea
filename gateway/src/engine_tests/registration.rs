//! REGISTER: challenge, bindings, expiry in virtual time, stale CSeq, and
//! qualify (OPTIONS pings that drop contacts which stop answering).

use super::*;

// ---------------------------------------------------------------- 1. REGISTER

#[tokio::test]
async fn register_challenge_accept_refuse_and_remove() {
    let mut h = Harness::new();
    let ua = addr("127.0.0.1:40011");
    let contact = "<sip:1001@127.0.0.1:40011>";
    let cid = "reg-flow-1";

    h.send(
        ua,
        &register_text("1001", ua, cid, 1, contact, Some(600), None),
    );
    let out = h.out();
    let c = resp(&out, ua, 401);
    let www = c
        .headers
        .get(&HeaderName::WwwAuthenticate)
        .expect("401 carries WWW-Authenticate")
        .to_string();
    assert!(www.contains("realm=\"gateway.local\""), "{www}");
    assert!(
        h.store_ops().is_empty(),
        "nothing stored before authentication"
    );

    // Wrong password: challenged again, never accepted.
    let bad = digest(&www, "1001", "wrong", "REGISTER", "sip:127.0.0.1", 1);
    h.send(
        ua,
        &register_text("1001", ua, cid, 2, contact, Some(600), Some(&bad)),
    );
    let out = h.out();
    assert!(responses(&out, ua).iter().all(|r| r.status != 200));
    assert_eq!(responses(&out, ua).last().unwrap().status, 401);
    assert!(h.metrics.auth_failures.get() >= 1);

    // Right password.
    let good = digest(&www, "1001", "pass1001", "REGISTER", "sip:127.0.0.1", 1);
    h.send(
        ua,
        &register_text("1001", ua, cid, 3, contact, Some(600), Some(&good)),
    );
    let out = h.out();
    let ok = resp(&out, ua, 200);
    let c = ok
        .headers
        .get(&HeaderName::Contact)
        .expect("200 lists Contact");
    assert!(c.contains("sip:1001@127.0.0.1:40011"), "{c}");
    assert!(c.contains("expires=600"), "{c}");
    let ops = h.store_ops();
    assert!(
        ops.iter().any(|op| matches!(op, StoreOp::Binding(BindingChange::Upsert(b))
            if b.endpoint_id == "1001" && b.contact.contains("127.0.0.1:40011") && b.source.addr == ua)),
        "{ops:?}"
    );

    // The same Authorization again (same nonce and nc): a replay.
    h.send(
        ua,
        &register_text("1001", ua, cid, 4, contact, Some(600), Some(&good)),
    );
    let out = h.out();
    assert!(
        responses(&out, ua).iter().all(|r| r.status != 200),
        "replayed credentials accepted:\n{}",
        describe(&out)
    );
    assert!(matches!(
        responses(&out, ua).last().unwrap().status,
        401 | 403
    ));
    assert!(h.store_ops().is_empty());

    // Expires below the minimum: 423 with Min-Expires.
    let nc2 = digest(&www, "1001", "pass1001", "REGISTER", "sip:127.0.0.1", 2);
    h.send(
        ua,
        &register_text("1001", ua, cid, 5, contact, Some(10), Some(&nc2)),
    );
    let out = h.out();
    let r = resp(&out, ua, 423);
    assert_eq!(r.headers.get(&HeaderName::MinExpires), Some("60"));

    // Expires: 0 removes the binding.
    let nc3 = digest(&www, "1001", "pass1001", "REGISTER", "sip:127.0.0.1", 3);
    h.send(
        ua,
        &register_text("1001", ua, cid, 6, contact, Some(0), Some(&nc3)),
    );
    let out = h.out();
    let ok = resp(&out, ua, 200);
    assert!(ok.headers.get(&HeaderName::Contact).is_none());
    let ops = h.store_ops();
    assert!(
        ops.iter().any(|op| matches!(op, StoreOp::Binding(BindingChange::Remove { endpoint_id, .. }) if endpoint_id == "1001")),
        "{ops:?}"
    );

    // Two contacts, then Contact: * with Expires: 0 removes both.
    let nc4 = digest(&www, "1001", "pass1001", "REGISTER", "sip:127.0.0.1", 4);
    h.send(
        ua,
        &register_text(
            "1001",
            ua,
            cid,
            7,
            "<sip:1001@127.0.0.1:40011>, <sip:1001@127.0.0.1:40012>",
            Some(600),
            Some(&nc4),
        ),
    );
    let out = h.out();
    let ok = resp(&out, ua, 200);
    assert_eq!(ok.headers.get_all(&HeaderName::Contact).count(), 2);
    h.store_ops();
    let nc5 = digest(&www, "1001", "pass1001", "REGISTER", "sip:127.0.0.1", 5);
    h.send(
        ua,
        &register_text("1001", ua, cid, 8, "*", Some(0), Some(&nc5)),
    );
    let out = h.out();
    let ok = resp(&out, ua, 200);
    assert_eq!(ok.headers.get_all(&HeaderName::Contact).count(), 0);
    let removed = h
        .store_ops()
        .into_iter()
        .filter(|op| matches!(op, StoreOp::Binding(BindingChange::Remove { .. })))
        .count();
    assert_eq!(removed, 2);

    // Nobody is registered any more: a call to 1001 finds no contact.
    let mut a = Caller::new(a_addr(), "9999", "1001");
    h.send(a.addr, &a.invite(&[], &sdp("127.0.0.5", 30000, 1)));
    let out = h.out();
    resp(&out, a.addr, 480);
}

#[tokio::test]
async fn registration_expires_in_virtual_time() {
    let mut h = Harness::new();
    let ua = addr("127.0.0.1:40036");
    let cid = "reg-exp";
    h.send(
        ua,
        &register_text(
            "1002",
            ua,
            cid,
            1,
            "<sip:1002@127.0.0.1:40036>",
            Some(60),
            None,
        ),
    );
    let c = resp(&h.out(), ua, 401);
    let www = c
        .headers
        .get(&HeaderName::WwwAuthenticate)
        .unwrap()
        .to_string();
    let cred = digest(&www, "1002", "pass1002", "REGISTER", "sip:127.0.0.1", 1);
    h.send(
        ua,
        &register_text(
            "1002",
            ua,
            cid,
            2,
            "<sip:1002@127.0.0.1:40036>",
            Some(60),
            Some(&cred),
        ),
    );
    let ok = resp(&h.out(), ua, 200);
    assert!(ok
        .headers
        .get(&HeaderName::Contact)
        .unwrap()
        .contains("expires=60"));
    h.store_ops();

    let mut a = Caller::new(a_addr(), "9999", "room-1002");
    h.send(a.addr, &a.invite(&[], ""));
    let out = h.out();
    let b = req(&out, ua, Method::Invite);
    assert_eq!(b.uri.to_string(), "sip:1002@127.0.0.1:40036");
    h.send(
        ua,
        &response_text(&b, 486, "Busy Here", Some("x"), None, &[], ""),
    );
    let out = h.out();
    let r = resp(&out, a.addr, 486);
    h.send(a.addr, &a.ack_failure(&r));

    h.advance(Duration::from_secs(75));
    h.out();
    let ops = h.store_ops();
    assert!(
        ops.iter().any(|op| matches!(op, StoreOp::Binding(BindingChange::Remove { endpoint_id, .. }) if endpoint_id == "1002")),
        "{ops:?}"
    );
    let mut a = Caller::new(a_addr(), "9999", "1002");
    h.send(a.addr, &a.invite(&[], ""));
    resp(&h.out(), a.addr, 480);
}

#[tokio::test]
async fn register_with_an_old_cseq_changes_nothing() {
    let mut h = Harness::new();
    let ua = addr("127.0.0.1:40050");
    let cid = "reg-cseq";
    let c1 = "<sip:1001@127.0.0.1:40050>";
    h.send(ua, &register_text("1001", ua, cid, 5, c1, Some(600), None));
    let c = resp(&h.out(), ua, 401);
    let www = c
        .headers
        .get(&HeaderName::WwwAuthenticate)
        .unwrap()
        .to_string();
    let cred = digest(&www, "1001", "pass1001", "REGISTER", "sip:127.0.0.1", 1);
    h.send(
        ua,
        &register_text("1001", ua, cid, 6, c1, Some(600), Some(&cred)),
    );
    resp(&h.out(), ua, 200);
    h.store_ops();
    // A delayed copy of an older REGISTER (same Call-ID, lower CSeq).
    let cred = digest(&www, "1001", "pass1001", "REGISTER", "sip:127.0.0.1", 2);
    h.send(
        ua,
        &register_text("1001", ua, cid, 4, c1, Some(0), Some(&cred)),
    );
    let out = h.out();
    assert!(
        responses(&out, ua).iter().all(|r| r.status != 200),
        "{}",
        describe(&out)
    );
    assert!(h.store_ops().is_empty());
    let mut a = Caller::new(a_addr(), "9999", "1001");
    h.send(a.addr, &a.invite(&[], ""));
    req(&h.out(), ua, Method::Invite);
}

// ---------------------------------------------------------------- qualify

/// Registered contacts are pinged with OPTIONS; one that answers stays, one
/// that never answers (Timer F) loses its binding, in memory and in the store.
#[tokio::test]
async fn qualify_drops_contacts_that_stop_answering() {
    let mut cfg = test_config();
    cfg.qualify_interval = Duration::from_secs(30);
    let mut h = Harness::with(cfg, gateway_dialplan::SAMPLE_DIALPLAN);
    let live = addr("127.0.0.1:40011");
    let silent = addr("127.0.0.1:40012");
    register(
        &mut h,
        "1001",
        "pass1001",
        live,
        "<sip:1001@127.0.0.1:40011>",
    );
    register(
        &mut h,
        "1002",
        "pass1002",
        silent,
        "<sip:1002@127.0.0.1:40012>",
    );
    h.out();
    h.store_ops();
    let active = |h: &Harness| {
        h.metrics
            .engine
            .registrations_active
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    assert_eq!(active(&h), 2);

    // 80 s of virtual time: the live contact answers every ping, the silent
    // one never does, so its first ping's Timer F (64*T1 = 32 s) runs out.
    let mut silent_pinged = false;
    for _ in 0..8 {
        h.advance(Duration::from_secs(10));
        let out = h.out();
        silent_pinged |= !requests(&out, silent, Method::Options).is_empty();
        for ping in requests(&out, live, Method::Options) {
            assert_eq!(ping.uri.to_string(), "sip:1001@127.0.0.1:40011");
            h.send(live, &response_text(&ping, 200, "OK", None, None, &[], ""));
        }
    }
    assert!(silent_pinged);
    let removed: Vec<String> = h
        .store_ops()
        .into_iter()
        .filter_map(|op| match op {
            StoreOp::Binding(BindingChange::Remove { endpoint_id, .. }) => Some(endpoint_id),
            _ => None,
        })
        .collect();
    assert_eq!(removed, vec!["1002".to_string()]);
    assert_eq!(active(&h), 1);
}
