//! Recordings through the administration API, in-process on the real
//! router over a real database (a fresh SQLite file per test; PostgreSQL too
//! when `GATEWAY_TEST_POSTGRES_URL` is set, see `gateway/store/tests/pg.sh`):
//! who lists and fetches what, grants between units and their audit, and a
//! sealed file decrypted on the fly.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::{Extension, Router};
use gateway_admin::*;
use gateway_media::meeting::seal::{RecordingKey, SealWriter};
use gateway_store::{Recording, Store};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sqlx::Row;
use tower::ServiceExt;

mod common;
use common::{postgres, sqlite, unique, Db};

on_both!(
    with World::new;
    owner_lists_and_fetches_by_role,
    other_district_sees_only_what_is_granted,
    one_recording_grant_expires,
    bad_grants_are_refused,
    file_problems_are_reported_not_served,
    routes_are_documented,
);

const PASSWORD: &str = "correct horse battery";
const BA_DINH: &str = "001"; // 2024 district
const HOAN_KIEM: &str = "002"; // 2024 district
const PHUC_XA: &str = "00001"; // ward of Ba Đình
const HANG_BAC: &str = "00037"; // ward of Hoàn Kiếm
const KEY: [u8; 32] = [42; 32];

struct World {
    admin: Admin,
    app: Router,
    clock: Arc<AtomicI64>,
    data_dir: PathBuf,
    tokens: std::collections::HashMap<&'static str, String>,
    /// The Ogg bytes every test recording holds (plain or sealed).
    plain: Vec<u8>,
    _db_dir: TempDir,
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn unit24(code: &str) -> Option<UnitRef> {
    Some(UnitRef::new(Structure::Y2024, code))
}

fn sha_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// Not a real Opus stream, but Ogg-framed bytes over several seal chunks.
fn sample_ogg() -> Vec<u8> {
    let mut v = b"OggS\0\x02".to_vec();
    v.extend((0..200_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8));
    v
}

impl World {
    async fn new(db: &Db) -> World {
        let store = Store::connect(&db.url).await.expect("connect");
        let clock = Arc::new(AtomicI64::new(1_800_000_000_000));
        let c = clock.clone();
        let admin = Admin::with_clock(
            store,
            AdminConfig {
                realm: "hanoi.gateway.local".into(),
                token_ttl_secs: 24 * 3600,
                default_structure: Structure::Y2024,
            },
            Arc::new(move || c.load(Ordering::SeqCst)),
        );
        admin.import_city_units().await.expect("units import");
        let users: [(&'static str, Role, Option<UnitRef>); 8] = [
            ("city", Role::CityAdmin, None),
            ("bd-admin", Role::UnitAdmin, unit24(BA_DINH)),
            ("bd-operator", Role::Operator, unit24(BA_DINH)),
            ("bd-auditor", Role::Auditor, unit24(BA_DINH)),
            ("bd-reviewer", Role::SecurityReviewer, unit24(BA_DINH)),
            ("hk-admin", Role::UnitAdmin, unit24(HOAN_KIEM)),
            ("hk-operator", Role::Operator, unit24(HOAN_KIEM)),
            ("hb-admin", Role::UnitAdmin, unit24(HANG_BAC)),
        ];
        for (name, role, unit) in users.clone() {
            admin
                .add_user(
                    NewUser {
                        name: name.into(),
                        password: PASSWORD.into(),
                        role,
                        unit,
                    },
                    "test-setup",
                )
                .await
                .expect("add user");
        }
        let data_dir = std::env::temp_dir().join(format!("gateway-admin-recdata-{}", unique()));
        let plain = sample_ogg();
        let key = RecordingKey::from_bytes(KEY);
        let mut sealed = SealWriter::new(Vec::new(), &key).unwrap();
        sealed.write_all(&plain).unwrap();
        let sealed = sealed.finish().unwrap();
        let start = 1_799_990_000_000;
        for (id, unit, classification, status, bytes, at) in [
            ("rec-plain", PHUC_XA, "normal", "complete", &plain, start),
            (
                "rec-sealed",
                PHUC_XA,
                "confidential",
                "complete",
                &sealed,
                start + 1000,
            ),
            (
                "rec-live",
                PHUC_XA,
                "normal",
                "recording",
                &plain,
                start + 2000,
            ),
            (
                "rec-hb",
                HANG_BAC,
                "normal",
                "complete",
                &plain,
                start + 3000,
            ),
        ] {
            let encrypted = classification != "normal";
            let rel = format!(
                "recordings/{unit}/{id}.ogg{}",
                if encrypted { ".enc" } else { "" }
            );
            let path = data_dir.join(&rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, bytes).unwrap();
            let done = status == "complete";
            admin
                .store()
                .insert_recording(&Recording {
                    id: id.into(),
                    meeting_number: "8003".into(),
                    unit_code: unit.into(),
                    classification: classification.into(),
                    status: status.into(),
                    started_at_ms: at,
                    ended_at_ms: done.then_some(at + 60_000),
                    duration_ms: done.then_some(60_000),
                    file_path: rel,
                    size_bytes: done.then_some(bytes.len() as i64),
                    codec: "opus".into(),
                    encrypted,
                    key_id: encrypted.then(|| key.id_hex()),
                    sha256: done.then(|| sha_hex(bytes)),
                    participants: 2,
                    packets_dropped: 0,
                })
                .await
                .unwrap();
        }
        let files = RecordingFiles::new(&data_dir, Some(Arc::new(key)));
        let app = router(admin.clone()).layer(Extension(files));
        let mut w = World {
            admin,
            app,
            clock,
            data_dir: data_dir.clone(),
            tokens: Default::default(),
            plain,
            _db_dir: TempDir(data_dir),
        };
        for (name, _, _) in users {
            let (st, _, body) = w
                .call(
                    Method::POST,
                    "/api/v1/session",
                    None,
                    Some(json!({"user": name, "password": PASSWORD})),
                )
                .await;
            assert_eq!(st, StatusCode::CREATED, "{body}");
            w.tokens
                .insert(name, body["token"].as_str().unwrap().to_string());
        }
        w
    }

    fn advance(&self, secs: i64) {
        self.clock.fetch_add(secs * 1000, Ordering::SeqCst);
    }

    fn now_secs(&self) -> i64 {
        self.clock.load(Ordering::SeqCst) / 1000
    }

    async fn send(
        &self,
        app: &Router,
        method: Method,
        path: &str,
        user: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, HeaderMap, Vec<u8>) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(u) = user {
            req = req.header("authorization", format!("Bearer {}", self.tokens[u]));
        }
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        let req = req
            .body(
                body.map(|b| Body::from(b.to_string()))
                    .unwrap_or_else(Body::empty),
            )
            .unwrap();
        let resp = app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 24)
            .await
            .map(|b| b.to_vec())
            .unwrap_or_else(|e| format!("<body failed: {e}>").into_bytes());
        (status, headers, bytes)
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        user: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, HeaderMap, Value) {
        let (st, h, bytes) = self.send(&self.app, method, path, user, body).await;
        let v = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                panic!(
                    "{path}: not JSON ({e}): {}",
                    String::from_utf8_lossy(&bytes)
                )
            })
        };
        (st, h, v)
    }

    async fn fetch(&self, user: &str, id: &str) -> (StatusCode, HeaderMap, Vec<u8>) {
        self.send(
            &self.app,
            Method::GET,
            &format!("/api/v1/recordings/{id}/file"),
            Some(user),
            None,
        )
        .await
    }

    async fn listed(&self, user: &str) -> Vec<String> {
        let (st, _, v) = self
            .call(Method::GET, "/api/v1/recordings", Some(user), None)
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| {
                format!(
                    "{}:{}",
                    r["id"].as_str().unwrap(),
                    r["access"].as_str().unwrap()
                )
            })
            .collect()
    }

    /// Grants and audit rows, as text: equal before and after a refused
    /// request means it changed nothing.
    async fn snapshot(&self) -> Vec<String> {
        let mut out = Vec::new();
        for sql in [
            "SELECT id || '|' || owner_code || '|' || grantee_code || '|' || COALESCE(revoked_at_unix, -1) FROM recording_grants ORDER BY id",
            "SELECT id || '|' || action || '|' || object_id FROM adm_audit ORDER BY id",
        ] {
            for row in sqlx::query(sql)
                .fetch_all(self.admin.store().pool())
                .await
                .unwrap()
            {
                out.push(row.try_get::<String, _>(0).unwrap());
            }
        }
        out
    }

    async fn audit(&self, user: &str, kind: &str) -> Vec<Value> {
        let (st, _, v) = self
            .call(
                Method::GET,
                &format!("/api/v1/audit?object_kind={kind}"),
                Some(user),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        v.as_array().unwrap().clone()
    }
}

fn problem(st: StatusCode, h: &HeaderMap, body: &[u8], want: StatusCode, detail_has: &str) {
    let text = String::from_utf8_lossy(body);
    assert_eq!(st, want, "{text}");
    assert_eq!(
        h.get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/problem+json"),
        "{text}"
    );
    let v: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(v["status"], want.as_u16());
    let detail = v["detail"].as_str().unwrap();
    assert!(
        detail.contains(detail_has),
        "{detail:?} lacks {detail_has:?}"
    );
}

async fn owner_lists_and_fetches_by_role(w: World) {
    // Newest first; the ward's district sees them as their owner.
    assert_eq!(
        w.listed("bd-admin").await,
        ["rec-live:owner", "rec-sealed:owner", "rec-plain:owner"]
    );
    assert_eq!(w.listed("bd-auditor").await.len(), 3);
    assert_eq!(w.listed("city").await.len(), 4);
    let (st, _, v) = w
        .call(
            Method::GET,
            "/api/v1/recordings/rec-sealed",
            Some("bd-operator"),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["unit"], json!({"structure": "2024", "code": PHUC_XA}));
    assert_eq!(v["classification"], "confidential");
    assert_eq!(v["encrypted"], true);
    assert_eq!(v["may_fetch"], false);
    assert!(v.get("file_path").is_none(), "no server paths: {v}");

    let (st, h, bytes) = w.fetch("bd-admin", "rec-plain").await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&bytes));
    assert_eq!(h["content-type"], "audio/ogg");
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(h["content-length"], w.plain.len().to_string().as_str());
    assert!(bytes == w.plain, "plain file served as stored");
    // The sealed file comes out decrypted, equal to what was recorded.
    let (st, h, bytes) = w.fetch("bd-admin", "rec-sealed").await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&bytes));
    assert_eq!(h["content-type"], "audio/ogg");
    assert_eq!(bytes.len(), w.plain.len());
    assert!(
        bytes == w.plain,
        "decrypted bytes differ from the plain recording"
    );
    let (st, _, bytes) = w.fetch("city", "rec-sealed").await;
    assert!(st == StatusCode::OK && bytes == w.plain);

    // Roles: operators and auditors fetch normal recordings only; the
    // security reviewer none.
    for (user, id, want) in [
        ("bd-operator", "rec-plain", StatusCode::OK),
        ("bd-auditor", "rec-plain", StatusCode::OK),
        ("bd-operator", "rec-sealed", StatusCode::FORBIDDEN),
        ("bd-auditor", "rec-sealed", StatusCode::FORBIDDEN),
        ("bd-reviewer", "rec-plain", StatusCode::FORBIDDEN),
        ("bd-reviewer", "rec-sealed", StatusCode::FORBIDDEN),
    ] {
        let (st, h, body) = w.fetch(user, id).await;
        if want == StatusCode::OK {
            assert!(st == want && body == w.plain, "{user} {id}: {st}");
        } else {
            problem(st, &h, &body, want, "may not fetch");
        }
    }
    let (st, h, body) = w.fetch("bd-admin", "rec-live").await;
    problem(st, &h, &body, StatusCode::CONFLICT, "still being recorded");

    // Every fetch is audited under the owning unit, the decryption named;
    // refused fetches leave no row.
    let rows = w.audit("bd-auditor", "recording").await;
    let fetched: Vec<(String, String, bool)> = rows
        .iter()
        .map(|r| {
            assert_eq!(r["action"], "recording.fetch");
            assert_eq!(r["unit"], json!({"structure": "2024", "code": PHUC_XA}));
            (
                r["actor"].as_str().unwrap().to_string(),
                r["object_id"].as_str().unwrap().to_string(),
                r["after"]["decrypted"].as_bool().unwrap(),
            )
        })
        .collect();
    let s = |a: &str, b: &str, c| (a.to_string(), b.to_string(), c);
    assert_eq!(
        fetched,
        [
            s("bd-auditor", "rec-plain", false),
            s("bd-operator", "rec-plain", false),
            s("city", "rec-sealed", true),
            s("bd-admin", "rec-sealed", true),
            s("bd-admin", "rec-plain", false),
        ]
    );
    assert_eq!(rows[2]["after"]["classification"], "confidential");
    assert_eq!(rows[2]["actor_role"], "city-admin");
}

async fn other_district_sees_only_what_is_granted(w: World) {
    let bd_only = ["rec-plain", "rec-sealed", "rec-live"];
    assert_eq!(w.listed("hk-admin").await, ["rec-hb:owner"]);
    let before = w.snapshot().await;
    for id in bd_only {
        let (st, h, v) = w
            .send(
                &w.app,
                Method::GET,
                &format!("/api/v1/recordings/{id}"),
                Some("hk-admin"),
                None,
            )
            .await;
        problem(st, &h, &v, StatusCode::NOT_FOUND, "not found");
        let (st, h, v) = w.fetch("hk-admin", id).await;
        problem(st, &h, &v, StatusCode::NOT_FOUND, "not found");
    }
    // Ba Đình's grants are invisible to Hoàn Kiếm, and it cannot grant them.
    let grants = format!("/api/v1/units/2024/{PHUC_XA}/recording-grants");
    let (st, h, v) = w
        .send(&w.app, Method::GET, &grants, Some("hk-admin"), None)
        .await;
    problem(st, &h, &v, StatusCode::NOT_FOUND, "not found");
    let to_hk =
        json!({"grantee": {"structure": "2024", "code": HOAN_KIEM}, "reason": "công văn 12/CV"});
    let (st, h, v) = w
        .send(
            &w.app,
            Method::POST,
            &grants,
            Some("hk-admin"),
            Some(to_hk.clone()),
        )
        .await;
    problem(st, &h, &v, StatusCode::NOT_FOUND, "not found");
    // Ba Đình's operator sees the unit but may not grant.
    let (st, h, v) = w
        .send(
            &w.app,
            Method::POST,
            &grants,
            Some("bd-operator"),
            Some(to_hk.clone()),
        )
        .await;
    problem(st, &h, &v, StatusCode::FORBIDDEN, "may not grant");
    assert_eq!(
        w.snapshot().await,
        before,
        "refused requests changed something"
    );

    let (st, h, g) = w
        .call(Method::POST, &grants, Some("bd-admin"), Some(to_hk.clone()))
        .await;
    assert_eq!(st, StatusCode::CREATED, "{g}");
    let gid = g["id"].as_i64().unwrap();
    assert_eq!(h["location"], format!("{grants}/{gid}").as_str());
    assert_eq!(g["active"], true);
    assert_eq!(g["granted_by"], "bd-admin");
    assert_eq!(
        g["grantee"],
        json!({"structure": "2024", "code": HOAN_KIEM})
    );
    assert_eq!(g["recording_id"], Value::Null);
    // The same access twice says nothing new.
    let (st, h, v) = w
        .send(&w.app, Method::POST, &grants, Some("bd-admin"), Some(to_hk))
        .await;
    problem(st, &h, &v, StatusCode::CONFLICT, &format!("grant {gid}"));

    assert_eq!(
        w.listed("hk-admin").await,
        [
            "rec-hb:owner",
            "rec-live:granted",
            "rec-sealed:granted",
            "rec-plain:granted"
        ]
    );
    let (st, _, bytes) = w.fetch("hk-admin", "rec-plain").await;
    assert!(st == StatusCode::OK && bytes == w.plain, "{st}");
    let (st, _, bytes) = w.fetch("hk-admin", "rec-sealed").await;
    assert!(st == StatusCode::OK && bytes == w.plain, "{st}");
    // Roles apply to granted recordings as to own ones.
    let (st, _, bytes) = w.fetch("hk-operator", "rec-plain").await;
    assert!(st == StatusCode::OK && bytes == w.plain, "{st}");
    let (st, h, v) = w.fetch("hk-operator", "rec-sealed").await;
    problem(st, &h, &v, StatusCode::FORBIDDEN, "confidential");
    // A grant to the district does not reach the wards below it.
    assert_eq!(w.listed("hb-admin").await, ["rec-hb:owner"]);
    let (st, h, v) = w.fetch("hb-admin", "rec-plain").await;
    problem(st, &h, &v, StatusCode::NOT_FOUND, "not found");

    // The grantee cannot revoke; the owner's operator may not.
    let revoke = format!("{grants}/{gid}");
    let (st, h, v) = w
        .send(&w.app, Method::DELETE, &revoke, Some("hk-admin"), None)
        .await;
    problem(st, &h, &v, StatusCode::NOT_FOUND, "not found");
    let (st, h, v) = w
        .send(&w.app, Method::DELETE, &revoke, Some("bd-operator"), None)
        .await;
    problem(st, &h, &v, StatusCode::FORBIDDEN, "may not revoke");
    // A grant id under another unit is not found.
    let (st, h, v) = w
        .send(
            &w.app,
            Method::DELETE,
            &format!("/api/v1/units/2024/{BA_DINH}/recording-grants/{gid}"),
            Some("bd-admin"),
            None,
        )
        .await;
    problem(st, &h, &v, StatusCode::NOT_FOUND, "not found");

    w.advance(30);
    let (st, _, after) = w
        .call(Method::DELETE, &revoke, Some("bd-admin"), None)
        .await;
    assert_eq!(st, StatusCode::OK, "{after}");
    assert_eq!(after["active"], false);
    assert_eq!(after["revoked_by"], "bd-admin");
    assert_eq!(after["revoked_at_unix"], w.now_secs());
    let (st, h, v) = w
        .send(&w.app, Method::DELETE, &revoke, Some("bd-admin"), None)
        .await;
    problem(st, &h, &v, StatusCode::CONFLICT, "already revoked");

    assert_eq!(w.listed("hk-admin").await, ["rec-hb:owner"]);
    let (st, h, v) = w.fetch("hk-admin", "rec-plain").await;
    problem(st, &h, &v, StatusCode::NOT_FOUND, "not found");

    // The owner lists its grants, revoked ones included; its auditor sees
    // both changes with before and after.
    let (st, _, list) = w.call(Method::GET, &grants, Some("bd-auditor"), None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], gid);
    assert_eq!(list[0]["active"], false);
    let rows = w.audit("bd-auditor", "recording_grant").await;
    let actions: Vec<_> = rows.iter().map(|r| r["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        ["recording_grant.revoke", "recording_grant.create"]
    );
    let (revoked, created) = (&rows[0], &rows[1]);
    assert_eq!(created["actor"], "bd-admin");
    assert_eq!(created["object_id"], gid.to_string());
    assert_eq!(created["before"], Value::Null);
    assert_eq!(created["after"]["grantee"]["code"], HOAN_KIEM);
    assert_eq!(created["after"]["reason"], "công văn 12/CV");
    assert_eq!(revoked["before"]["active"], true);
    assert_eq!(revoked["before"]["revoked_at_unix"], Value::Null);
    assert_eq!(revoked["after"]["active"], false);
    assert_eq!(
        revoked["unit"],
        json!({"structure": "2024", "code": PHUC_XA})
    );
    // Hoàn Kiếm's fetches while granted are in Ba Đình's audit.
    let fetchers: Vec<_> = w
        .audit("bd-auditor", "recording")
        .await
        .iter()
        .map(|r| {
            format!(
                "{}:{}",
                r["actor"].as_str().unwrap(),
                r["after"]["access"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        fetchers,
        [
            "hk-operator:granted",
            "hk-admin:granted",
            "hk-admin:granted"
        ]
    );
}

async fn one_recording_grant_expires(w: World) {
    let grants = format!("/api/v1/units/2024/{PHUC_XA}/recording-grants");
    let (st, _, g) = w
        .call(
            Method::POST,
            &grants,
            Some("city"),
            Some(json!({
                "grantee": {"structure": "2024", "code": HANG_BAC},
                "recording_id": "rec-sealed",
                "expires_at_unix": w.now_secs() + 60,
            })),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{g}");
    assert_eq!(g["recording_id"], "rec-sealed");
    // Only that recording, and its Hoàn Kiếm district above sees it too.
    assert_eq!(
        w.listed("hb-admin").await,
        ["rec-hb:owner", "rec-sealed:granted"]
    );
    assert_eq!(
        w.listed("hk-operator").await,
        ["rec-hb:owner", "rec-sealed:granted"]
    );
    let (st, _, bytes) = w.fetch("hb-admin", "rec-sealed").await;
    assert!(st == StatusCode::OK && bytes == w.plain, "{st}");
    let (st, h, v) = w.fetch("hb-admin", "rec-plain").await;
    problem(st, &h, &v, StatusCode::NOT_FOUND, "not found");

    w.advance(60);
    assert_eq!(w.listed("hb-admin").await, ["rec-hb:owner"]);
    let (st, h, v) = w.fetch("hb-admin", "rec-sealed").await;
    problem(st, &h, &v, StatusCode::NOT_FOUND, "not found");
    let (_, _, list) = w.call(Method::GET, &grants, Some("bd-admin"), None).await;
    assert_eq!(list[0]["active"], false);
    assert_eq!(list[0]["revoked_at_unix"], Value::Null);
    // Expired, an equal grant may be given again.
    let (st, _, g2) = w
        .call(
            Method::POST,
            &grants,
            Some("bd-admin"),
            Some(json!({"grantee": {"structure": "2024", "code": HANG_BAC}, "recording_id": "rec-sealed"})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{g2}");
    assert_eq!(
        w.listed("hb-admin").await,
        ["rec-hb:owner", "rec-sealed:granted"]
    );
}

async fn bad_grants_are_refused(w: World) {
    let grants = format!("/api/v1/units/2024/{PHUC_XA}/recording-grants");
    let before = w.snapshot().await;
    let unit = |code: &str| json!({"structure": "2024", "code": code});
    for (body, want, field) in [
        (
            json!({"grantee": unit("99999")}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "grantee",
        ),
        (
            json!({"grantee": unit(PHUC_XA)}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "grantee",
        ),
        // Ba Đình is above Phúc Xá: it already sees the recordings.
        (
            json!({"grantee": unit(BA_DINH)}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "grantee",
        ),
        (
            json!({"grantee": unit(HOAN_KIEM), "recording_id": "rec-hb"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "recording_id",
        ),
        (
            json!({"grantee": unit(HOAN_KIEM), "expires_at_unix": w.now_secs()}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "expires_at_unix",
        ),
        (
            json!({"grantee": unit(HOAN_KIEM), "reason": " "}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "reason",
        ),
    ] {
        let (st, h, v) = w
            .send(
                &w.app,
                Method::POST,
                &grants,
                Some("bd-admin"),
                Some(body.clone()),
            )
            .await;
        problem(st, &h, &v, want, field);
        let v: Value = serde_json::from_slice(&v).unwrap();
        assert_eq!(v["field"], field, "{body}");
    }
    for body in [
        json!({"grantee": unit(HOAN_KIEM), "extra": 1}),
        json!({"grantee": "002"}),
    ] {
        let (st, h, v) = w
            .send(&w.app, Method::POST, &grants, Some("bd-admin"), Some(body))
            .await;
        problem(
            st,
            &h,
            &v,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid JSON body",
        );
    }
    // Other structure's unit, unknown structure, and a non-numeric grant id.
    let (st, h, v) = w
        .send(
            &w.app,
            Method::GET,
            &format!("/api/v1/units/2025/{PHUC_XA}/recording-grants"),
            Some("bd-admin"),
            None,
        )
        .await;
    problem(st, &h, &v, StatusCode::NOT_FOUND, "not found");
    let (st, h, v) = w
        .send(
            &w.app,
            Method::GET,
            "/api/v1/units/1999/001/recording-grants",
            Some("city"),
            None,
        )
        .await;
    problem(st, &h, &v, StatusCode::NOT_FOUND, "structure");
    let (st, h, v) = w
        .send(
            &w.app,
            Method::DELETE,
            &format!("{grants}/x1"),
            Some("bd-admin"),
            None,
        )
        .await;
    problem(st, &h, &v, StatusCode::NOT_FOUND, "grant x1 not found");
    let (st, h, v) = w
        .send(
            &w.app,
            Method::PUT,
            "/api/v1/recordings",
            Some("bd-admin"),
            None,
        )
        .await;
    problem(
        st,
        &h,
        &v,
        StatusCode::METHOD_NOT_ALLOWED,
        "does not support",
    );
    let (st, h, v) = w
        .send(
            &w.app,
            Method::GET,
            "/api/v1/recordings?limit=x",
            Some("bd-admin"),
            None,
        )
        .await;
    assert_eq!(
        st,
        StatusCode::BAD_REQUEST,
        "{}",
        String::from_utf8_lossy(&v)
    );
    assert_eq!(h["content-type"], "application/problem+json");
    let (st, h, v) = w
        .send(&w.app, Method::GET, "/api/v1/recordings", None, None)
        .await;
    problem(st, &h, &v, StatusCode::UNAUTHORIZED, "Bearer");
    assert_eq!(
        w.snapshot().await,
        before,
        "refused grants changed something"
    );
    // The owner filter and limit of the list.
    let (st, _, v) = w
        .call(
            Method::GET,
            &format!("/api/v1/recordings?unit={HANG_BAC}&limit=5"),
            Some("city"),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["id"], "rec-hb");
    let (_, _, v) = w
        .call(
            Method::GET,
            "/api/v1/recordings?limit=1",
            Some("city"),
            None,
        )
        .await;
    assert_eq!(v.as_array().unwrap().len(), 1);
}

async fn file_problems_are_reported_not_served(w: World) {
    let before = w.snapshot().await;
    // Without the files extension the API lists but does not serve files.
    let bare = router(w.admin.clone());
    let (st, h, v) = w
        .send(
            &bare,
            Method::GET,
            "/api/v1/recordings/rec-plain/file",
            Some("bd-admin"),
            None,
        )
        .await;
    problem(
        st,
        &h,
        &v,
        StatusCode::SERVICE_UNAVAILABLE,
        "does not serve recording files",
    );
    // Another key than the one that sealed the file.
    let other = router(w.admin.clone()).layer(Extension(RecordingFiles::new(
        &w.data_dir,
        Some(Arc::new(RecordingKey::from_bytes([7; 32]))),
    )));
    let (st, h, v) = w
        .send(
            &other,
            Method::GET,
            "/api/v1/recordings/rec-sealed/file",
            Some("bd-admin"),
            None,
        )
        .await;
    problem(
        st,
        &h,
        &v,
        StatusCode::SERVICE_UNAVAILABLE,
        "sealed with key",
    );
    let keyless = router(w.admin.clone()).layer(Extension(RecordingFiles::new(&w.data_dir, None)));
    let (st, h, v) = w
        .send(
            &keyless,
            Method::GET,
            "/api/v1/recordings/rec-sealed/file",
            Some("bd-admin"),
            None,
        )
        .await;
    problem(
        st,
        &h,
        &v,
        StatusCode::SERVICE_UNAVAILABLE,
        "no recording key",
    );
    // A changed byte: the stored SHA-256 no longer matches, nothing is served.
    let path = w
        .data_dir
        .join(format!("recordings/{PHUC_XA}/rec-plain.ogg"));
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[1000] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    let (st, h, v) = w.fetch("bd-admin", "rec-plain").await;
    problem(st, &h, &v, StatusCode::INTERNAL_SERVER_ERROR, "SHA-256");
    std::fs::remove_file(&path).unwrap();
    let (st, h, v) = w.fetch("bd-admin", "rec-plain").await;
    problem(
        st,
        &h,
        &v,
        StatusCode::SERVICE_UNAVAILABLE,
        "not on this gateway node",
    );
    // None of these was a fetch: no audit row.
    assert_eq!(w.snapshot().await, before);
    // A row pointing outside the data directory is refused before any
    // file is opened (the store refuses such rows; this one is forced in).
    sqlx::query("UPDATE recordings SET file_path = '../outside.ogg' WHERE id = 'rec-hb'")
        .execute(w.admin.store().pool())
        .await
        .unwrap();
    let (st, h, v) = w.fetch("city", "rec-hb").await;
    problem(
        st,
        &h,
        &v,
        StatusCode::INTERNAL_SERVER_ERROR,
        "outside the data directory",
    );
}

async fn routes_are_documented(w: World) {
    let (st, _, doc) = w
        .call(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(st, StatusCode::OK);
    for (path, methods) in [
        ("/api/v1/recordings", &["get"][..]),
        ("/api/v1/recordings/{id}", &["get"]),
        ("/api/v1/recordings/{id}/file", &["get"]),
        (
            "/api/v1/units/{structure}/{code}/recording-grants",
            &["get", "post"],
        ),
        (
            "/api/v1/units/{structure}/{code}/recording-grants/{id}",
            &["delete"],
        ),
    ] {
        for m in methods {
            let op = &doc["paths"][path][m];
            assert!(op.is_object(), "{m} {path} is not documented");
            // Every $ref resolves.
            for r in op.to_string().split("\"$ref\":\"").skip(1) {
                let target = r.split('"').next().unwrap();
                let mut node = &doc;
                for part in target.trim_start_matches("#/").split('/') {
                    node = &node[part];
                }
                assert!(!node.is_null(), "{target} in {m} {path}");
            }
        }
    }
    assert!(
        doc["paths"]["/api/v1/recordings/{id}/file"]["get"]["responses"]["200"]["content"]
            ["audio/ogg"]
            .is_object()
    );
}
