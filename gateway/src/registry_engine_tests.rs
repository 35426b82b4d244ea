//! Endpoints created and changed through the administration reach the call
//! path: a real SQLite store, the admin operations, the runtime's rebuild of
//! the routing dialplan, and the whole engine.

use super::{adopt_dialplan, routing_dialplan, start_admin};
use crate::config::Config;
use crate::engine_tests::*;
use gateway_admin::{Actor, Admin, EndpointPatch, NewEndpoint, Role};
use gateway_dialplan::Dialplan;
use gateway_sip::message::{HeaderName, Method, Response};
use gateway_store::Store;
use std::net::SocketAddr;
use std::sync::Arc;

fn city() -> Actor {
    Actor {
        user: "city".into(),
        role: Role::CityAdmin,
        unit_scope: None,
    }
}

fn reviewer() -> Actor {
    Actor {
        user: "police".into(),
        role: Role::SecurityReviewer,
        unit_scope: None,
    }
}

struct World {
    cfg: Config,
    admin: Admin,
    base: Dialplan,
    _dir: TempDir,
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn world() -> World {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "gateway-registry-engine-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let store = Store::connect(&format!("sqlite://{}", dir.join("gw.db").display()))
        .await
        .unwrap();
    let cfg = Config::default();
    let text = gateway_dialplan::SAMPLE_DIALPLAN;
    let base = Dialplan::parse(text, "loopback.toml").unwrap();
    store
        .import_dialplan(&base, text, "loopback.toml")
        .await
        .unwrap();
    let admin = start_admin(&cfg, &store, &base).await.unwrap();
    adopt_dialplan(&cfg, &admin, &base).await.unwrap();
    World {
        cfg,
        admin,
        base,
        _dir: TempDir(dir),
    }
}

/// What the runtime swaps in after a registry change, put into `h`.
async fn rebuild(w: &World, h: &mut Harness) {
    let routing = routing_dialplan(&w.cfg, &w.admin, &w.base).await.unwrap();
    assert!(h
        .e
        .registrar_mut()
        .set_fixed(&routing.fixed, h.now)
        .is_empty());
    h.e.vetting_mut()
        .replace(w.admin.vetting_snapshot().await.unwrap());
    h.e.set_dialplan(Arc::new(routing.dialplan));
}

fn new_endpoint(body: serde_json::Value) -> NewEndpoint {
    serde_json::from_value(body).expect("a valid endpoint body")
}

/// REGISTER through the 401 dance; the final answer (403 when refused
/// before any challenge).
fn try_register(h: &mut Harness, user: &str, pass: &str, from: SocketAddr) -> Response {
    let cid = format!("reg-{user}-{}", branch());
    let contact = format!("<sip:{user}@{from}>");
    h.send(
        from,
        &register_text(user, from, &cid, 1, &contact, Some(600), None),
    );
    let out = h.out();
    let first = responses(&out, from).into_iter().next().expect("an answer");
    if first.status != 401 {
        return first;
    }
    let www = first
        .headers
        .get(&HeaderName::WwwAuthenticate)
        .unwrap()
        .to_string();
    let auth = digest(&www, user, pass, "REGISTER", "sip:127.0.0.1", 1);
    h.send(
        from,
        &register_text(user, from, &cid, 2, &contact, Some(600), Some(&auth)),
    );
    let out = h.out();
    responses(&out, from)
        .into_iter()
        .find(|r| r.status >= 200)
        .expect("a final answer")
}

/// The trunk (127.0.0.1) calls `number`: where the engine sends the INVITE
/// (`None`: not to `expect`), or the refusal.
fn call_from_trunk(h: &mut Harness, number: &str, expect: SocketAddr) -> Option<u16> {
    let mut a = Caller::new(a_addr(), "9999", number);
    h.send(a.addr, &a.invite(&[], &sdp("127.0.0.5", 4000, 1)));
    let out = h.out();
    if !requests(&out, expect, Method::Invite).is_empty() {
        return None;
    }
    responses(&out, a.addr)
        .into_iter()
        .map(|r| r.status)
        .find(|s| *s >= 300)
        .or(Some(0))
}

#[tokio::test]
async fn an_endpoint_created_through_the_admin_registers_is_called_and_follows_its_changes() {
    let w = world().await;
    let mut h = Harness::new();
    rebuild(&w, &mut h).await;
    let room = addr("127.0.0.1:40710");
    // Unknown before it exists.
    assert_eq!(try_register(&mut h, "room-a", "s3cret", room).status, 404);

    w.admin
        .create_endpoint(
            &city(),
            new_endpoint(serde_json::json!({
                "id": "room-a",
                "unit": {"structure": "2025", "code": "01"},
                "protocol": "sip",
                "numbers": ["1010"],
                "aliases": ["hall-a"],
                "credentials": {"password": "s3cret"},
            })),
        )
        .await
        .unwrap();
    rebuild(&w, &mut h).await;
    // Known now, but pending until vetted.
    let r = try_register(&mut h, "room-a", "s3cret", room);
    assert_eq!(r.status, 403, "{}", r.reason);
    assert!(r.reason.contains("pending"), "{}", r.reason);

    w.admin.approve(&reviewer(), "room-a", None).await.unwrap();
    rebuild(&w, &mut h).await;
    // Digest against the registry's HA1 (the password was never stored).
    assert_eq!(try_register(&mut h, "room-a", "wrong", room).status, 401);
    let r = try_register(&mut h, "room-a", "s3cret", room);
    assert_eq!(r.status, 200, "{}", r.reason);
    assert_eq!(call_from_trunk(&mut h, "1010", room), None, "by number");
    assert_eq!(call_from_trunk(&mut h, "HALL-A", room), None, "by alias");

    // A new number: it reaches the room, the old one no longer does.
    let patch: EndpointPatch =
        serde_json::from_value(serde_json::json!({"numbers": ["1011"]})).unwrap();
    w.admin
        .update_endpoint(&city(), "room-a", patch)
        .await
        .unwrap();
    rebuild(&w, &mut h).await;
    assert_eq!(call_from_trunk(&mut h, "1011", room), None);
    assert_ne!(call_from_trunk(&mut h, "1010", room), None);

    // New credentials take over from the old ones.
    let patch: EndpointPatch =
        serde_json::from_value(serde_json::json!({"credentials": {"password": "n3w"}})).unwrap();
    w.admin
        .update_endpoint(&city(), "room-a", patch)
        .await
        .unwrap();
    rebuild(&w, &mut h).await;
    assert_eq!(try_register(&mut h, "room-a", "s3cret", room).status, 401);
    assert_eq!(try_register(&mut h, "room-a", "n3w", room).status, 200);

    // Deleted: refused, and its number is no longer its.
    w.admin.delete_endpoint(&city(), "room-a").await.unwrap();
    rebuild(&w, &mut h).await;
    assert_eq!(try_register(&mut h, "room-a", "n3w", room).status, 404);
    assert_ne!(call_from_trunk(&mut h, "1011", room), None);
}

#[tokio::test]
async fn the_sha256_ha1_of_the_registry_answers_a_sha256_challenge() {
    let w = world().await;
    let mut cfg = test_config();
    cfg.digest_algorithms = vec![gateway_sip::auth::Algorithm::Sha256];
    let mut h = Harness::with(cfg, gateway_dialplan::SAMPLE_DIALPLAN);
    w.admin
        .create_endpoint(
            &city(),
            new_endpoint(serde_json::json!({
                "id": "room-s",
                "unit": {"structure": "2025", "code": "01"},
                "protocol": "sip",
                "numbers": ["1020"],
                "credentials": {"password": "sha-secret"},
            })),
        )
        .await
        .unwrap();
    w.admin.approve(&reviewer(), "room-s", None).await.unwrap();
    rebuild(&w, &mut h).await;
    let r = try_register(&mut h, "room-s", "sha-secret", addr("127.0.0.1:40720"));
    assert_eq!(r.status, 200, "{}", r.reason);
}

#[tokio::test]
async fn a_room_at_a_fixed_address_is_called_there_and_calls_without_registering() {
    let w = world().await;
    let mut h = Harness::new();
    // Not in the loopback trunk's ACL (127.0.0.1/32): without its fixed
    // address this source is nobody.
    let room = addr("127.0.0.9:5062");
    let callee = addr("127.0.0.1:40730");
    w.admin
        .create_endpoint(
            &city(),
            new_endpoint(serde_json::json!({
                "id": "hall-fixed",
                "unit": {"structure": "2025", "code": "01"},
                "protocol": "sip",
                "numbers": ["1030"],
                "fixed_address": "sip:hall@127.0.0.9:5062",
            })),
        )
        .await
        .unwrap();
    rebuild(&w, &mut h).await;
    // Pending: its calls are refused like a pending endpoint's.
    let mut a = Caller::new(room, "hall", "1001");
    h.send(room, &a.invite(&[], &sdp("127.0.0.9", 4000, 1)));
    let out = h.out();
    let r = responses(&out, room)
        .into_iter()
        .find(|r| r.status >= 300)
        .expect("refused");
    assert_eq!(r.status, 403);
    assert!(r.reason.contains("pending"), "{}", r.reason);

    w.admin
        .approve(&reviewer(), "hall-fixed", None)
        .await
        .unwrap();
    rebuild(&w, &mut h).await;
    // Called: the INVITE goes to its fixed address.
    let mut t = Caller::new(a_addr(), "9999", "1030");
    h.send(t.addr, &t.invite(&[], &sdp("127.0.0.5", 4000, 1)));
    let out = h.out();
    let inv = req(&out, room, Method::Invite);
    assert_eq!(inv.uri.to_string(), "sip:hall@127.0.0.9:5062");

    // Calling: accepted as the room (no challenge), routed as its unit's.
    register(
        &mut h,
        "1002",
        "pass1002",
        callee,
        &format!("<sip:1002@{callee}>"),
    );
    let mut a = Caller::new(room, "anything", "1002");
    h.send(room, &a.invite(&[], &sdp("127.0.0.9", 4002, 1)));
    let out = h.out();
    assert!(
        responses(&out, room).iter().all(|r| r.status < 300),
        "{}",
        describe(&out)
    );
    req(&out, callee, Method::Invite);

    // Another port of that host is not the room (its address names a port).
    let other = addr("127.0.0.9:5099");
    let mut x = Caller::new(other, "anything", "1002");
    h.send(other, &x.invite(&[], &sdp("127.0.0.9", 4004, 1)));
    let out = h.out();
    assert!(responses(&out, other).iter().any(|r| r.status == 403));
}

/// The routing dialplan's rebuild at city scale: `REGISTRY_SCALE` endpoints
/// (default 100 000) adopted from a generated file, then the time to read
/// the registry and overlay it (what every endpoint change costs). Run with
/// `cargo test -p gateway -- --ignored rebuild_at_city_scale --nocapture`.
#[tokio::test]
#[ignore]
async fn rebuild_at_city_scale() {
    use std::fmt::Write as _;
    let n: usize = std::env::var("REGISTRY_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let dir = std::env::temp_dir().join(format!("gateway-registry-scale-{}", std::process::id()));
    let _cleanup = TempDir(dir.clone());
    let store = Store::connect(&format!("sqlite://{}", dir.join("gw.db").display()))
        .await
        .unwrap();
    let mut text = String::from(
        "[gateway]\nrealm = \"gateway.local\"\n\n[[unit]]\ncode = \"01\"\nname = \"Thành phố Hà Nội\"\nkind = \"city\"\n",
    );
    for i in 0..n {
        let _ = write!(
            text,
            "\n[[endpoint]]\nid = \"e{i}\"\nunit = \"01\"\nha1_md5 = \"{i:032x}\"\nnumbers = [\"{}\"]\naliases = [\"room-{i}\"]\nvetted = true\n",
            2_000_000 + i
        );
    }
    let base = Dialplan::parse(&text, "city.toml").unwrap();
    let cfg = Config::default();
    let t = std::time::Instant::now();
    store
        .import_dialplan(&base, &text, "city.toml")
        .await
        .unwrap();
    let import = t.elapsed();
    let admin = start_admin(&cfg, &store, &base).await.unwrap();
    let t = std::time::Instant::now();
    adopt_dialplan(&cfg, &admin, &base).await.unwrap();
    let first_adoption = t.elapsed();
    let t = std::time::Instant::now();
    adopt_dialplan(&cfg, &admin, &base).await.unwrap();
    let again = t.elapsed();
    let t = std::time::Instant::now();
    let vetting = admin.vetting_snapshot().await.unwrap();
    let vetting_read = t.elapsed();
    assert_eq!(vetting.len(), n);
    let t = std::time::Instant::now();
    let registry = admin.routing_registry("gateway.local").await.unwrap();
    let registry_read = t.elapsed();
    let t = std::time::Instant::now();
    let (overlaid, issues) = base
        .clone()
        .overlay_endpoints(registry.endpoints, &registry.removed);
    let overlay = t.elapsed();
    assert!(issues.is_empty());
    assert_eq!(overlaid.endpoints().len(), n);
    let t = std::time::Instant::now();
    let routing = routing_dialplan(&cfg, &admin, &base).await.unwrap();
    let rebuild = t.elapsed();
    assert_eq!(routing.dialplan.endpoints().len(), n);
    assert_eq!(
        routing
            .dialplan
            .endpoint_by_user("room-7")
            .map(|e| e.id.as_str()),
        Some("e7")
    );
    eprintln!(
        "{n} endpoints: import {import:?}, first adoption {first_adoption:?}, \
         adoption with nothing new {again:?}; a registry change: vetting read \
         {vetting_read:?}, registry read {registry_read:?}, clone + overlay {overlay:?}, \
         routing_dialplan {rebuild:?}"
    );
}
