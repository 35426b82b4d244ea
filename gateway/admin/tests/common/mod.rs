//! What the administration API tests share: databases made as the store's
//! tests make them (`gateway/store/tests/common`, included by path, with
//! `on_both!`), and a [`World`]: the city's units, a user of each role
//! logged in, an endpoint in each of two districts, and the router driven
//! in-process (tower `oneshot`).
#![allow(dead_code)]

#[path = "../../../store/tests/common/mod.rs"]
mod testdb;
#[allow(unused_imports)] // not every test file uses every one
pub use testdb::{postgres, sqlite, unique, Db};

pub use std::sync::atomic::{AtomicI64, Ordering};
pub use std::sync::Arc;

pub use axum::body::Body;
pub use axum::http::{HeaderMap, Method, Request, StatusCode};
pub use axum::Router;
pub use gateway_admin::*;
pub use gateway_store::Store;
pub use serde_json::{json, Value};
pub use sqlx::Row;
pub use tower::ServiceExt;

pub const PASSWORD: &str = "correct horse battery";
pub const BA_DINH: &str = "001"; // 2024 district
pub const HOAN_KIEM: &str = "002"; // 2024 district
pub const PHUC_XA: &str = "00001"; // ward of Ba Đình
pub const TRUC_BACH: &str = "00004"; // ward of Ba Đình
pub const HANG_BAC: &str = "00037"; // ward of Hoàn Kiếm

/// The city's units, a user of each role logged in (`tokens` by name),
/// one endpoint in each of two districts, and the router.
pub struct World {
    pub admin: Admin,
    pub app: Router,
    pub clock: Arc<AtomicI64>,
    pub tokens: std::collections::HashMap<&'static str, String>,
}

pub fn unit24(code: &str) -> Option<UnitRef> {
    Some(UnitRef::new(Structure::Y2024, code))
}

impl World {
    pub async fn new(db: &Db) -> World {
        let store = Store::connect(&db.url).await.expect("connect");
        let clock = Arc::new(AtomicI64::new(1_800_000_000_000));
        let c = clock.clone();
        let admin = Admin::with_clock(
            store,
            AdminConfig {
                realm: "hanoi.gateway.local".into(),
                token_ttl_secs: 3600,
                default_structure: Structure::Y2024,
            },
            Arc::new(move || c.load(Ordering::SeqCst)),
        );
        admin.import_city_units().await.expect("units import");
        let users: [(&'static str, Role, Option<UnitRef>); 7] = [
            ("city", Role::CityAdmin, None),
            ("bd-admin", Role::UnitAdmin, unit24(BA_DINH)),
            ("hk-admin", Role::UnitAdmin, unit24(HOAN_KIEM)),
            ("bd-operator", Role::Operator, unit24(BA_DINH)),
            ("bd-auditor", Role::Auditor, unit24(BA_DINH)),
            ("reviewer", Role::SecurityReviewer, None),
            ("bd-reviewer", Role::SecurityReviewer, unit24(BA_DINH)),
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
        let app = router(admin.clone());
        let mut w = World {
            admin,
            app,
            clock,
            tokens: Default::default(),
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
            assert_eq!(body["token_type"], "Bearer");
            w.tokens
                .insert(name, body["token"].as_str().unwrap().to_string());
        }
        // One endpoint in each district, created by the city administrator.
        for (id, ward, number) in [
            ("bp-bd-1", PHUC_XA, "100001"),
            ("bp-hk-1", HANG_BAC, "100037"),
        ] {
            let (st, _, body) = w
                .call(
                    Method::POST,
                    "/api/v1/endpoints",
                    Some("city"),
                    Some(json!({
                        "id": id,
                        "unit": {"structure": "2024", "code": ward},
                        "protocol": "sip",
                        "display": format!("Điểm cầu {id}"),
                        "numbers": [number],
                        "aliases": [format!("room-{id}")],
                        "credentials": {"password": "s3cret-room"},
                        "contacts": {"office_lead": {"name": "Nguyễn Văn A"}}
                    })),
                )
                .await;
            assert_eq!(st, StatusCode::CREATED, "{body}");
        }
        w
    }

    pub fn now_secs(&self) -> i64 {
        self.clock.load(Ordering::SeqCst) / 1000
    }

    pub fn advance(&self, secs: i64) {
        self.clock.fetch_add(secs * 1000, Ordering::SeqCst);
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        user: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, HeaderMap, Value) {
        let token = user.map(|u| self.tokens.get(u).cloned().unwrap_or_else(|| u.to_string()));
        self.raw(
            method,
            path,
            token.as_deref(),
            body.map(|b| b.to_string()),
            "application/json",
        )
        .await
    }

    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<String>,
        content_type: &str,
    ) -> (StatusCode, HeaderMap, Value) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        if body.is_some() {
            req = req.header("content-type", content_type);
        }
        let req = req
            .body(body.map(Body::from).unwrap_or_else(Body::empty))
            .unwrap();
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 24)
            .await
            .unwrap();
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                panic!(
                    "{path}: body is not JSON ({e}): {}",
                    String::from_utf8_lossy(&bytes)
                )
            })
        };
        (status, headers, value)
    }

    /// Everything the registry holds, as text: equal before and after a
    /// refused request means nothing changed.
    pub async fn snapshot(&self) -> Vec<String> {
        let mut out = Vec::new();
        for sql in [
            "SELECT id || '|' || unit_structure || '/' || unit_code || '|' || COALESCE(display, '') || '|' || protocol || '|' || COALESCE(ha1_md5, '') || '|' || COALESCE(fixed_address, '') || '|' || vetting_state || '|' || COALESCE(vetting_reason, '') || '|' || updated_at_unix FROM adm_endpoints ORDER BY id",
            "SELECT number || '|' || endpoint_id FROM adm_endpoint_numbers ORDER BY number",
            "SELECT alias || '|' || endpoint_id FROM adm_endpoint_aliases ORDER BY alias",
            "SELECT id || '|' || endpoint_id || '|' || name || '|' || COALESCE(until_unix, -1) FROM adm_contacts ORDER BY id",
            "SELECT id || '|' || endpoint_id || '|' || model FROM adm_devices ORDER BY id",
            "SELECT name || '|' || role || '|' || COALESCE(scope_structure, '') || '/' || COALESCE(scope_code, '') || '|' || disabled FROM adm_users ORDER BY name",
            "SELECT user_name FROM adm_sessions ORDER BY token_sha256",
            "SELECT id || '|' || action || '|' || object_id FROM adm_audit ORDER BY id",
        ] {
            for row in sqlx::query(sql).fetch_all(self.admin.store().pool()).await.unwrap() {
                out.push(row.try_get::<String, _>(0).unwrap());
            }
        }
        out
    }

    pub async fn vetting_of(&self, id: &str) -> String {
        sqlx::query("SELECT vetting_state FROM adm_endpoints WHERE id = $1")
            .bind(id)
            .fetch_one(self.admin.store().pool())
            .await
            .unwrap()
            .try_get(0)
            .unwrap()
    }
}

pub fn assert_problem(
    st: StatusCode,
    headers: &HeaderMap,
    body: &Value,
    want: StatusCode,
    detail_has: &str,
) {
    assert_eq!(st, want, "{body}");
    assert_eq!(
        headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/problem+json"),
        "{body}"
    );
    assert_eq!(body["status"], want.as_u16());
    assert_eq!(body["type"], "about:blank");
    assert_eq!(body["title"], want.canonical_reason().unwrap());
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains(detail_has),
        "{detail:?} should contain {detail_has:?}"
    );
}
