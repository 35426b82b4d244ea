//! Untrusted input never panics: dialled targets and caller addresses come
//! from the network, dialplan text from an administrator's editor.

use std::net::IpAddr;
use std::sync::Arc;

use gateway_dialplan::*;
use proptest::prelude::*;

const HANOI_2025: &str = include_str!("../../../dialplans/hanoi-2025.toml");

fn hanoi() -> Dialplan {
    Dialplan::parse(HANOI_2025, "hanoi-2025.toml").expect("sample parses")
}

#[test]
fn snapshot_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Dialplan>();
    let d = Arc::new(hanoi());
    let d2 = Arc::clone(&d);
    let r = std::thread::spawn(move || d2.endpoint_by_user("300004").map(|e| e.id.clone()))
        .join()
        .unwrap();
    assert_eq!(r.as_deref(), Some("bp-00004"));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn routing_any_target_yields_a_decision(target in "\\PC{0,40}", secure: bool, ip: [u8; 4]) {
        let d = hanoi();
        let callers = [
            Caller::Anonymous { source: IpAddr::from(ip) },
            Caller::Anonymous { source: "203.0.113.9".parse().unwrap() },
            Caller::Trunk("carrier".into()),
            Caller::Endpoint(target.clone()),
        ];
        for caller in callers {
            let r = d.route(&RouteRequest { caller, from_user: None, target: target.clone(), transport_secure: secure, at_unix_secs: 0 });
            prop_assert!(!r.trace.is_empty());
            match &r.outcome {
                RouteOutcome::Reject { status, .. } => prop_assert!((400..700).contains(status)),
                RouteOutcome::Trunk { uri, .. } | RouteOutcome::Uri { uri } => {
                    prop_assert!(SipUri::parse(uri).is_ok(), "bad uri {}", uri);
                }
                RouteOutcome::Endpoint { id } => prop_assert!(d.endpoint(id).is_some()),
                RouteOutcome::Meeting { number } => prop_assert!(d.meeting_by_user(number).is_some()),
            }
        }
    }

    #[test]
    fn parsing_mangled_dialplans_never_panics(cut in 0usize..4000, junk in "\\PC{0,12}") {
        let src = HANOI_2025;
        let mut cut = cut.min(src.len());
        while !src.is_char_boundary(cut) {
            cut -= 1;
        }
        let mangled = format!("{}{}{}", &src[..cut], junk, &src[cut..]);
        for e in Dialplan::check(&mangled, "m.toml") {
            prop_assert!(e.line >= 1, "{}", e);
            prop_assert!(e.line <= mangled.lines().count() + 1, "{}", e);
        }
    }
}
