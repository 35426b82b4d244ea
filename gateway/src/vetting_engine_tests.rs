//! The vetting gate through the whole engine: pending and suspended
//! endpoints refused with a Warning, a changed device sent back to review.

use crate::engine_tests::*;
use crate::registrar::BindingChange;
use crate::store_writer::StoreOp;
use gateway_sip::message::{HeaderName, Method, Response};
use std::net::SocketAddr;
use tokio::sync::mpsc;

fn vetting_entry(
    state: gateway_admin::VettingState,
    reason: Option<&str>,
) -> gateway_admin::VettingEntry {
    gateway_admin::VettingEntry {
        state,
        reason: reason.map(str::to_string),
        device: None,
    }
}

fn set_vetting(h: &mut Harness, id: &str, entry: gateway_admin::VettingEntry) {
    h.e.vetting_mut()
        .replace(std::collections::HashMap::from([(id.to_string(), entry)]));
}

/// REGISTER through the 401 dance with a User-Agent; the final answer.
fn register_with_ua(
    h: &mut Harness,
    user: &str,
    pass: &str,
    from: SocketAddr,
    ua: &str,
) -> Response {
    let cid = format!("reg-{user}-{}", branch());
    let text = |cseq: u32, auth: Option<&str>| {
        let mut extra = vec![
            format!("Contact: <sip:{user}@{from}>"),
            "Expires: 600".to_string(),
            format!("User-Agent: {ua}"),
        ];
        if let Some(a) = auth {
            extra.push(format!("Authorization: {a}"));
        }
        request_text(
            "REGISTER",
            "sip:127.0.0.1",
            from,
            &branch(),
            &format!("<sip:{user}@127.0.0.1>;tag=reg{user}"),
            &format!("<sip:{user}@127.0.0.1>"),
            &cid,
            cseq,
            &extra,
            "",
        )
    };
    h.send(from, &text(1, None));
    let out = h.out();
    let www = resp(&out, from, 401)
        .headers
        .get(&HeaderName::WwwAuthenticate)
        .unwrap()
        .to_string();
    let auth = digest(&www, user, pass, "REGISTER", "sip:127.0.0.1", 1);
    h.send(from, &text(2, Some(&auth)));
    let out = h.out();
    let finals: Vec<Response> = responses(&out, from)
        .into_iter()
        .filter(|r| r.status >= 200)
        .collect();
    assert_eq!(finals.len(), 1, "one final answer:\n{}", describe(&out));
    finals.into_iter().next().unwrap()
}

fn binding_upserts(h: &mut Harness) -> usize {
    h.store_ops()
        .into_iter()
        .filter(|op| matches!(op, StoreOp::Binding(BindingChange::Upsert(_))))
        .count()
}

fn assert_vetting_403(r: &Response, text: &str) {
    assert_eq!(r.status, 403, "{} {}", r.status, r.reason);
    assert!(
        r.reason.contains(text),
        "reason {:?} lacks {text:?}",
        r.reason
    );
    let w = r
        .headers
        .get(&HeaderName::Warning)
        .expect("403 carries a Warning");
    assert!(
        w.starts_with("399 127.0.0.1 \"") && w.ends_with('"') && w.contains(text),
        "Warning {w:?} does not name {text:?}"
    );
}

const POLYCOM: &str = "Polycom/6.4.2.1234 PolycomRealPresenceGroup-500/6.4.2";
const POLYCOM_NEW_FW: &str = "Polycom/6.4.3.2000 PolycomRealPresenceGroup-500/6.4.3";

#[tokio::test]
async fn register_of_pending_or_suspended_endpoint_is_refused_with_warning() {
    use gateway_admin::VettingState as V;
    let mut h = Harness::new();
    let ua = addr("127.0.0.1:40301");
    set_vetting(&mut h, "1001", vetting_entry(V::Pending, None));
    let r = register_with_ua(&mut h, "1001", "pass1001", ua, POLYCOM);
    assert_vetting_403(&r, "Endpoint 1001 is pending security vetting");
    assert_eq!(
        binding_upserts(&mut h),
        0,
        "a refused REGISTER binds nothing"
    );

    set_vetting(
        &mut h,
        "1001",
        vetting_entry(V::Suspended, Some("device sent for repair")),
    );
    let r = register_with_ua(&mut h, "1001", "pass1001", ua, POLYCOM);
    assert_vetting_403(&r, "Endpoint 1001 is suspended: device sent for repair");
    assert_eq!(binding_upserts(&mut h), 0);

    // A wrong password is still a digest failure, not a vetting answer.
    let r = register_with_ua(&mut h, "1001", "wrong", ua, POLYCOM);
    assert!(r.headers.get(&HeaderName::Warning).is_none());

    h.e.vetting_mut().apply(gateway_admin::VettingChange {
        endpoint_id: "1001".into(),
        state: V::Approved,
        reason: None,
    });
    let r = register_with_ua(&mut h, "1001", "pass1001", ua, POLYCOM);
    assert_eq!(r.status, 200, "{}", r.reason);
    assert_eq!(binding_upserts(&mut h), 1);
    // Endpoints the registry does not know keep registering as before.
    let r = register_with_ua(&mut h, "1002", "pass1002", addr("127.0.0.1:40302"), POLYCOM);
    assert_eq!(r.status, 200, "{}", r.reason);
}

#[tokio::test]
async fn invite_from_pending_or_suspended_endpoint_is_refused_with_warning() {
    use gateway_admin::VettingState as V;
    let mut h = Harness::new();
    register(
        &mut h,
        "1002",
        "pass1002",
        addr("127.0.0.1:40312"),
        "<sip:1002@127.0.0.1:40312>",
    );
    h.store_ops();
    for (state, reason, text) in [
        (
            V::Pending,
            None,
            "Endpoint 1001 is pending security vetting",
        ),
        (
            V::Suspended,
            Some("lost"),
            "Endpoint 1001 is suspended: lost",
        ),
    ] {
        set_vetting(&mut h, "1001", vetting_entry(state, reason));
        let a_ua = addr("127.0.0.1:40311");
        let mut a = Caller::new(a_ua, "1001", "1002");
        h.send(a_ua, &a.invite(&[], &sdp("127.0.0.5", 30000, 1)));
        let out = h.out();
        let ch = resp(&out, a_ua, 407);
        let pa = ch
            .headers
            .get(&HeaderName::ProxyAuthenticate)
            .unwrap()
            .to_string();
        h.send(a_ua, &a.ack_failure(&ch));
        h.out();
        let cred = digest(&pa, "1001", "pass1001", "INVITE", &a.ruri, 1);
        h.send(
            a_ua,
            &a.invite(
                &[format!("Proxy-Authorization: {cred}")],
                &sdp("127.0.0.5", 30000, 1),
            ),
        );
        let out = h.out();
        assert_vetting_403(&resp(&out, a_ua, 403), text);
        no_request(&out, addr("127.0.0.1:40312"), Method::Invite);
    }
}

#[tokio::test]
async fn changed_device_is_refused_at_once_and_reported_until_approved() {
    use gateway_admin::VettingState as V;
    let mut h = Harness::new();
    let (tx, mut seen) = mpsc::channel(16);
    h.e.vetting_mut().set_observer(tx);
    set_vetting(
        &mut h,
        "1001",
        vetting_entry(V::Approved, Some("vetted in the dialplan")),
    );
    let ua = addr("127.0.0.1:40321");

    // An approved endpoint without a device adopts the first one.
    let r = register_with_ua(&mut h, "1001", "pass1001", ua, POLYCOM);
    assert_eq!(r.status, 200, "{}", r.reason);
    let r = register_with_ua(&mut h, "1001", "pass1001", ua, POLYCOM);
    assert_eq!(r.status, 200, "the same device again: {}", r.reason);

    let r = register_with_ua(&mut h, "1001", "pass1001", ua, POLYCOM_NEW_FW);
    assert_vetting_403(&r, "Endpoint 1001 is pending security vetting");
    let r = register_with_ua(&mut h, "1001", "pass1001", ua, POLYCOM_NEW_FW);
    assert_vetting_403(&r, "pending security vetting");

    let mut got = Vec::new();
    while let Ok(d) = seen.try_recv() {
        assert_eq!(d.endpoint_id, "1001");
        got.push(d.user_agent);
    }
    assert_eq!(got, vec![POLYCOM, POLYCOM, POLYCOM_NEW_FW, POLYCOM_NEW_FW]);

    h.e.vetting_mut().apply(gateway_admin::VettingChange {
        endpoint_id: "1001".into(),
        state: V::Approved,
        reason: Some("new firmware checked".into()),
    });
    let r = register_with_ua(&mut h, "1001", "pass1001", ua, POLYCOM_NEW_FW);
    assert_eq!(r.status, 200, "approved again: {}", r.reason);
}
