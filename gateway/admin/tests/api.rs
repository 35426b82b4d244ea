//! The administration API in-process (tower `oneshot` on the router) over a
//! real database: a fresh SQLite file per test and, when
//! `GATEWAY_TEST_POSTGRES_URL` names a server (`gateway/store/tests/pg.sh`),
//! a fresh PostgreSQL database too.

use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::Router;
use gateway_admin::*;
use gateway_store::Store;
use serde_json::{json, Value};
use sqlx::{Connection, Row};
use tower::ServiceExt;

static NEXT: AtomicU32 = AtomicU32::new(0);

struct TestDb {
    url: String,
    dir: Option<PathBuf>,
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(d) = &self.dir {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

fn unique() -> String {
    format!(
        "{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn sqlite_db() -> TestDb {
    let root = std::env::temp_dir().join(format!("gateway-admin-test-{}", unique()));
    TestDb {
        url: format!("sqlite://{}", root.join("admin.db").display()),
        dir: Some(root),
    }
}

async fn pg_db() -> Option<TestDb> {
    let base = std::env::var("GATEWAY_TEST_POSTGRES_URL").ok()?;
    sqlx::any::install_default_drivers();
    let name = format!("gw_admin_{}", unique());
    let mut admin = sqlx::AnyConnection::connect(&base)
        .await
        .expect("connect to GATEWAY_TEST_POSTGRES_URL");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .expect("create test database");
    admin.close().await.ok();
    let (head, query) = match base.split_once('?') {
        Some((h, q)) => (h, format!("?{q}")),
        None => (base.as_str(), String::new()),
    };
    let scheme_end = head.find("://").map(|i| i + 3).unwrap_or(0);
    let host_part = match head[scheme_end..].find('/') {
        Some(i) => &head[..scheme_end + i],
        None => head,
    };
    Some(TestDb {
        url: format!("{host_part}/{name}{query}"),
        dir: None,
    })
}

macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                let db = super::sqlite_db();
                super::$name(super::World::new(&db).await).await;
            }

            #[tokio::test]
            async fn postgres() {
                match super::pg_db().await {
                    Some(db) => super::$name(super::World::new(&db).await).await,
                    None => eprintln!("skipped: GATEWAY_TEST_POSTGRES_URL is not set"),
                }
            }
        }
    )*};
}

on_both!(
    unit_import_counts_and_trees,
    district_admin_boundaries,
    only_security_reviewer_vets,
    device_change_sends_approved_back_to_review,
    contacts_keep_their_history,
    bad_requests_are_problem_details,
    tokens_expire_and_log_out,
    openapi_lists_what_exists,
    dialplan_endpoints_are_adopted,
    dialplan_versions_upload_diff_restore,
    dialplan_objects_are_scoped,
    route_tries_a_call,
    users_are_changed_within_the_subtree,
);

const PASSWORD: &str = "correct horse battery";
const BA_DINH: &str = "001"; // 2024 district
const HOAN_KIEM: &str = "002"; // 2024 district
const PHUC_XA: &str = "00001"; // ward of Ba Đình
const TRUC_BACH: &str = "00004"; // ward of Ba Đình
const HANG_BAC: &str = "00037"; // ward of Hoàn Kiếm

struct World {
    admin: Admin,
    app: Router,
    clock: Arc<AtomicI64>,
    tokens: std::collections::HashMap<&'static str, String>,
}

fn unit24(code: &str) -> Option<UnitRef> {
    Some(UnitRef::new(Structure::Y2024, code))
}

impl World {
    async fn new(db: &TestDb) -> World {
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

    fn now_secs(&self) -> i64 {
        self.clock.load(Ordering::SeqCst) / 1000
    }

    fn advance(&self, secs: i64) {
        self.clock.fetch_add(secs * 1000, Ordering::SeqCst);
    }

    async fn call(
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

    async fn raw(
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
    async fn snapshot(&self) -> Vec<String> {
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

    async fn vetting_of(&self, id: &str) -> String {
        sqlx::query("SELECT vetting_state FROM adm_endpoints WHERE id = $1")
            .bind(id)
            .fetch_one(self.admin.store().pool())
            .await
            .unwrap()
            .try_get(0)
            .unwrap()
    }
}

fn assert_problem(
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

fn count_nodes(v: &Value) -> usize {
    1 + v["children"]
        .as_array()
        .map(|c| c.iter().map(count_nodes).sum())
        .unwrap_or(0)
}

async fn unit_import_counts_and_trees(w: World) {
    // The files shipped with the crate, counted independently.
    let v24: Value = serde_json::from_str(data::UNITS_2024).unwrap();
    let v25: Value = serde_json::from_str(data::UNITS_2025).unwrap();
    let districts = v24["city"]["children"].as_array().unwrap();
    let wards24: usize = districts
        .iter()
        .map(|d| d["children"].as_array().unwrap().len())
        .sum();
    assert_eq!((districts.len(), wards24), (30, 526));
    assert_eq!(v25["city"]["children"].as_array().unwrap().len(), 126);

    // Importing again is a no-op.
    let again = w.admin.import_city_units().await.unwrap();
    assert_eq!(
        again[0],
        UnitImport {
            inserted: 0,
            updated: 0,
            unchanged: 557
        }
    );
    assert_eq!(
        again[1],
        UnitImport {
            inserted: 0,
            updated: 0,
            unchanged: 127
        }
    );

    let (st, _, trees) = w
        .call(
            Method::GET,
            "/api/v1/units?structure=2024",
            Some("city"),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let roots = trees.as_array().unwrap();
    assert_eq!(roots.len(), 1);
    assert_eq!(roots[0]["name"], "Thành phố Hà Nội");
    assert_eq!(roots[0]["children"].as_array().unwrap().len(), 30);
    assert_eq!(count_nodes(&roots[0]), 557);
    let (_, _, trees) = w
        .call(
            Method::GET,
            "/api/v1/units?structure=2025",
            Some("city"),
            None,
        )
        .await;
    assert_eq!(trees[0]["children"].as_array().unwrap().len(), 126);
    let (_, _, all) = w
        .call(Method::GET, "/api/v1/units?flat=true", Some("city"), None)
        .await;
    assert_eq!(all.as_array().unwrap().len(), 557 + 127);

    // A district administrator's tree is its district.
    let ba_dinh_wards = districts.iter().find(|d| d["code"] == 1).unwrap()["children"]
        .as_array()
        .unwrap()
        .len();
    let (_, _, trees) = w
        .call(Method::GET, "/api/v1/units", Some("bd-admin"), None)
        .await;
    assert_eq!(trees.as_array().unwrap().len(), 1);
    assert_eq!(trees[0]["code"], BA_DINH);
    assert_eq!(count_nodes(&trees[0]), 1 + ba_dinh_wards);
    let (st, _, sub) = w
        .call(
            Method::GET,
            &format!("/api/v1/units/2024/{BA_DINH}/subtree"),
            Some("city"),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(count_nodes(&sub[0]), 1 + ba_dinh_wards);

    let (st, _, u) = w
        .call(
            Method::GET,
            &format!("/api/v1/units/2024/{TRUC_BACH}"),
            Some("bd-admin"),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{u}");
    assert_eq!(u["name"], "Phường Trúc Bạch");
    // Its ancestors as far as the actor sees: the district, not the city.
    assert_eq!(
        u["ancestors"],
        json!([{"structure": "2024", "code": BA_DINH}])
    );
    let (st, h, b) = w
        .call(
            Method::GET,
            &format!("/api/v1/units/2024/{HOAN_KIEM}"),
            Some("bd-admin"),
            None,
        )
        .await;
    assert_problem(st, &h, &b, StatusCode::NOT_FOUND, "not found");
    let (st, h, b) = w
        .call(
            Method::GET,
            &format!("/api/v1/units/2025/{TRUC_BACH}"),
            Some("bd-admin"),
            None,
        )
        .await;
    assert_problem(st, &h, &b, StatusCode::NOT_FOUND, "not found");
}

async fn district_admin_boundaries(w: World) {
    let before = w.snapshot().await;

    // Another district's endpoint does not exist for it: reading, changing,
    // deleting, approving.
    let (st, h, b) = w
        .call(
            Method::GET,
            "/api/v1/endpoints/bp-hk-1",
            Some("bd-admin"),
            None,
        )
        .await;
    assert_problem(
        st,
        &h,
        &b,
        StatusCode::NOT_FOUND,
        "endpoint bp-hk-1 not found",
    );
    let (st, h, b) = w
        .call(
            Method::PATCH,
            "/api/v1/endpoints/bp-hk-1",
            Some("bd-admin"),
            Some(json!({"display": "mine now"})),
        )
        .await;
    assert_problem(st, &h, &b, StatusCode::NOT_FOUND, "not found");
    let (st, h, b) = w
        .call(
            Method::DELETE,
            "/api/v1/endpoints/bp-hk-1",
            Some("bd-admin"),
            None,
        )
        .await;
    assert_problem(st, &h, &b, StatusCode::NOT_FOUND, "not found");
    let (st, h, b) = w
        .call(
            Method::POST,
            "/api/v1/vetting/bp-hk-1/approve",
            Some("bd-reviewer"),
            None,
        )
        .await;
    assert_problem(st, &h, &b, StatusCode::NOT_FOUND, "not found");
    // Nor may it put anything there.
    let (st, h, b) = w
        .call(
            Method::POST,
            "/api/v1/endpoints",
            Some("bd-admin"),
            Some(json!({"id": "sneaky", "unit": {"structure": "2024", "code": HANG_BAC}, "protocol": "h323"})),
        )
        .await;
    assert_problem(
        st,
        &h,
        &b,
        StatusCode::NOT_FOUND,
        "unit 2024/00037 not found",
    );
    let (st, h, b) = w
        .call(
            Method::PATCH,
            "/api/v1/endpoints/bp-bd-1",
            Some("bd-admin"),
            Some(json!({"unit": {"structure": "2024", "code": HANG_BAC}})),
        )
        .await;
    assert_problem(
        st,
        &h,
        &b,
        StatusCode::NOT_FOUND,
        "unit 2024/00037 not found",
    );

    // Visible but not its role's to change: 403.
    let (st, _, ep) = w
        .call(
            Method::GET,
            "/api/v1/endpoints/bp-bd-1",
            Some("bd-operator"),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(ep["unit"], json!({"structure": "2024", "code": PHUC_XA}));
    let (st, h, b) = w
        .call(
            Method::PATCH,
            "/api/v1/endpoints/bp-bd-1",
            Some("bd-operator"),
            Some(json!({"display": "x"})),
        )
        .await;
    assert_problem(
        st,
        &h,
        &b,
        StatusCode::FORBIDDEN,
        "bd-operator (operator) may not change endpoints",
    );
    let (st, h, b) = w
        .call(
            Method::DELETE,
            "/api/v1/endpoints/bp-bd-1",
            Some("bd-auditor"),
            None,
        )
        .await;
    assert_problem(st, &h, &b, StatusCode::FORBIDDEN, "may not delete");
    let (st, h, b) = w
        .call(
            Method::POST,
            "/api/v1/endpoints",
            Some("bd-operator"),
            Some(json!({"id": "op-made", "unit": {"structure": "2024", "code": TRUC_BACH}, "protocol": "sip"})),
        )
        .await;
    assert_problem(
        st,
        &h,
        &b,
        StatusCode::FORBIDDEN,
        "may not create endpoints",
    );
    let (st, h, b) = w
        .call(
            Method::POST,
            "/api/v1/users",
            Some("bd-admin"),
            Some(json!({"name": "rev2", "password": PASSWORD, "role": "security-reviewer", "unit": {"structure": "2024", "code": BA_DINH}})),
        )
        .await;
    assert_problem(
        st,
        &h,
        &b,
        StatusCode::FORBIDDEN,
        "may not create security-reviewer users",
    );
    let (st, h, b) = w
        .call(
            Method::POST,
            "/api/v1/users",
            Some("bd-admin"),
            Some(json!({"name": "hk-op", "password": PASSWORD, "role": "operator", "unit": {"structure": "2024", "code": HOAN_KIEM}})),
        )
        .await;
    assert_problem(st, &h, &b, StatusCode::NOT_FOUND, "unit 2024/002 not found");
    let (st, h, b) = w
        .call(
            Method::POST,
            "/api/v1/users",
            Some("bd-admin"),
            Some(json!({"name": "everywhere", "password": PASSWORD, "role": "operator"})),
        )
        .await;
    assert_problem(st, &h, &b, StatusCode::FORBIDDEN, "needs a unit");
    let (st, h, b) = w
        .call(Method::GET, "/api/v1/audit", Some("bd-operator"), None)
        .await;
    assert_problem(
        st,
        &h,
        &b,
        StatusCode::FORBIDDEN,
        "may not read the audit log",
    );

    // Checked in the database: none of that changed anything.
    assert_eq!(w.snapshot().await, before);

    // Its own subtree it administers.
    let (st, _, list) = w
        .call(Method::GET, "/api/v1/endpoints", Some("bd-admin"), None)
        .await;
    assert_eq!(st, StatusCode::OK);
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["bp-bd-1"]);
    let (_, _, list) = w
        .call(Method::GET, "/api/v1/endpoints", Some("city"), None)
        .await;
    assert_eq!(list.as_array().unwrap().len(), 2);
    let (st, h, b) = w
        .call(
            Method::GET,
            "/api/v1/endpoints?unit=2024/002",
            Some("bd-admin"),
            None,
        )
        .await;
    assert_problem(st, &h, &b, StatusCode::NOT_FOUND, "not found");

    let (st, _, after) = w
        .call(
            Method::PATCH,
            "/api/v1/endpoints/bp-bd-1",
            Some("bd-admin"),
            Some(json!({"display": "Phòng họp UBND phường Phúc Xá", "unit": {"structure": "2024", "code": TRUC_BACH}, "numbers": ["100001", "100002"]})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{after}");
    assert_eq!(after["unit"]["code"], TRUC_BACH);
    assert_eq!(after["numbers"], json!(["100001", "100002"]));
    // A number another endpoint holds is a conflict, wherever that one is.
    let (st, h, b) = w
        .call(
            Method::PATCH,
            "/api/v1/endpoints/bp-bd-1",
            Some("bd-admin"),
            Some(json!({"numbers": ["100037"]})),
        )
        .await;
    assert_problem(
        st,
        &h,
        &b,
        StatusCode::CONFLICT,
        "number 100037 is already in use",
    );
    assert!(!b["detail"].as_str().unwrap().contains("bp-hk-1"));
    let (st, _, created) = w
        .call(
            Method::POST,
            "/api/v1/users",
            Some("bd-admin"),
            Some(json!({"name": "tb-op", "password": PASSWORD, "role": "operator", "unit": {"structure": "2024", "code": TRUC_BACH}})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{created}");
    // Users it sees: those scoped inside its district, none elsewhere.
    let (st, _, users) = w
        .call(Method::GET, "/api/v1/users", Some("bd-admin"), None)
        .await;
    assert_eq!(st, StatusCode::OK, "{users}");
    let names: Vec<&str> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "bd-admin",
            "bd-auditor",
            "bd-operator",
            "bd-reviewer",
            "tb-op"
        ]
    );
    let (_, _, users) = w
        .call(Method::GET, "/api/v1/users", Some("city"), None)
        .await;
    assert_eq!(users.as_array().unwrap().len(), 8);
    let (st, h, b) = w
        .call(Method::GET, "/api/v1/users", Some("bd-operator"), None)
        .await;
    assert_problem(st, &h, &b, StatusCode::FORBIDDEN, "may not list users");

    // The audit log: the change with before and after, visible to the
    // district's auditor; the other district's creation is not.
    let (st, _, rows) = w
        .call(
            Method::GET,
            "/api/v1/audit?object_kind=endpoint",
            Some("bd-auditor"),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{rows}");
    let rows = rows.as_array().unwrap();
    assert!(rows.iter().all(|r| r["object_id"] == "bp-bd-1"), "{rows:?}");
    let update = &rows[0];
    assert_eq!(update["action"], "endpoint.update");
    assert_eq!(update["actor"], "bd-admin");
    assert_eq!(update["actor_role"], "unit-admin");
    assert_eq!(update["before"]["display"], "Điểm cầu bp-bd-1");
    assert_eq!(update["before"]["unit"]["code"], PHUC_XA);
    assert_eq!(update["after"]["display"], "Phòng họp UBND phường Phúc Xá");
    assert_eq!(update["after"]["unit"]["code"], TRUC_BACH);
    assert_eq!(rows.last().unwrap()["action"], "endpoint.create");
    // Credentials appear in no audit row, only their fingerprint.
    let ha1: String = sqlx::query("SELECT ha1_md5 FROM adm_endpoints WHERE id = 'bp-bd-1'")
        .fetch_one(w.admin.store().pool())
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    assert_eq!(ha1.len(), 32);
    let (_, _, everything) = w
        .call(Method::GET, "/api/v1/audit", Some("city"), None)
        .await;
    let text = everything.to_string();
    assert!(!text.contains(&ha1) && !text.contains("s3cret-room"));
    assert!(everything.as_array().unwrap().len() > rows.len());

    // And deleting its own works, leaving the whole endpoint in the audit.
    let (st, _, _) = w
        .call(
            Method::DELETE,
            "/api/v1/endpoints/bp-bd-1",
            Some("bd-admin"),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, _, _) = w
        .call(Method::GET, "/api/v1/endpoints/bp-bd-1", Some("city"), None)
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (_, _, rows) = w
        .call(
            Method::GET,
            "/api/v1/audit?object_id=bp-bd-1&limit=1",
            Some("bd-auditor"),
            None,
        )
        .await;
    assert_eq!(rows[0]["action"], "endpoint.delete");
    assert_eq!(rows[0]["before"]["numbers"], json!(["100001", "100002"]));
    assert_eq!(rows[0]["after"], Value::Null);
}

async fn only_security_reviewer_vets(w: World) {
    let (_, _, ep) = w
        .call(Method::GET, "/api/v1/endpoints/bp-bd-1", Some("city"), None)
        .await;
    assert_eq!(ep["vetting"]["state"], "pending");
    let (_, _, queue) = w
        .call(Method::GET, "/api/v1/vetting", Some("bd-admin"), None)
        .await;
    assert_eq!(queue.as_array().unwrap().len(), 1);

    let before = w.snapshot().await;
    for user in ["city", "bd-admin", "bd-operator", "bd-auditor"] {
        let (st, h, b) = w
            .call(
                Method::POST,
                "/api/v1/vetting/bp-bd-1/approve",
                Some(user),
                Some(json!({})),
            )
            .await;
        assert_problem(
            st,
            &h,
            &b,
            StatusCode::FORBIDDEN,
            "only a security-reviewer",
        );
        let (st, h, b) = w
            .call(
                Method::POST,
                "/api/v1/vetting/bp-bd-1/suspend",
                Some(user),
                Some(json!({"reason": "x"})),
            )
            .await;
        assert_problem(
            st,
            &h,
            &b,
            StatusCode::FORBIDDEN,
            "only a security-reviewer",
        );
    }
    assert_eq!(w.snapshot().await, before);
    assert_eq!(w.vetting_of("bp-bd-1").await, "pending");

    // The district's reviewer approves in its district (no body needed).
    let (st, _, ep) = w
        .call(
            Method::POST,
            "/api/v1/vetting/bp-bd-1/approve",
            Some("bd-reviewer"),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{ep}");
    assert_eq!(ep["vetting"]["state"], "approved");
    assert_eq!(ep["vetting"]["by"], "bd-reviewer");
    assert_eq!(w.vetting_of("bp-bd-1").await, "approved");
    let (st, h, b) = w
        .call(
            Method::POST,
            "/api/v1/vetting/bp-bd-1/approve",
            Some("reviewer"),
            None,
        )
        .await;
    assert_problem(st, &h, &b, StatusCode::CONFLICT, "already approved");
    let (st, h, b) = w
        .call(
            Method::POST,
            "/api/v1/vetting/bp-bd-1/suspend",
            Some("reviewer"),
            Some(json!({})),
        )
        .await;
    assert_problem(
        st,
        &h,
        &b,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a suspension needs a reason",
    );
    assert_eq!(b["field"], "reason");
    let (st, _, ep) = w
        .call(
            Method::POST,
            "/api/v1/vetting/bp-bd-1/suspend",
            Some("reviewer"),
            Some(json!({"reason": "thiết bị mang đi sửa chữa"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{ep}");
    assert_eq!(ep["vetting"]["state"], "suspended");
    assert_eq!(ep["vetting"]["reason"], "thiết bị mang đi sửa chữa");

    let (_, _, rows) = w
        .call(
            Method::GET,
            "/api/v1/audit?object_id=bp-bd-1",
            Some("bd-auditor"),
            None,
        )
        .await;
    let actions: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["vetting.suspend", "vetting.approve", "endpoint.create"]
    );
    let approve = &rows[1];
    assert_eq!(approve["actor"], "bd-reviewer");
    assert_eq!(approve["before"]["vetting"]["state"], "pending");
    assert_eq!(approve["after"]["vetting"]["state"], "approved");
    // The queue no longer has it.
    let (_, _, queue) = w
        .call(Method::GET, "/api/v1/vetting", Some("bd-admin"), None)
        .await;
    assert!(queue.as_array().unwrap().is_empty());
}

async fn device_change_sends_approved_back_to_review(w: World) {
    let a = &w.admin;
    // Approved before any device was seen: it adopts the first one.
    let (st, _, _) = w
        .call(
            Method::POST,
            "/api/v1/vetting/bp-bd-1/approve",
            Some("reviewer"),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let ua1 = "Yealink SIP-T46S 66.86.0.15 80:5e:c0:12:34:56";
    assert_eq!(
        a.observe_device("bp-bd-1", ua1).await.unwrap(),
        DeviceObservation::FirstSeen { adopted: true }
    );
    assert_eq!(w.vetting_of("bp-bd-1").await, "approved");
    w.advance(600);
    assert_eq!(
        a.observe_device("bp-bd-1", ua1).await.unwrap(),
        DeviceObservation::Unchanged
    );
    let (_, _, ep) = w
        .call(
            Method::GET,
            "/api/v1/endpoints/bp-bd-1",
            Some("bd-admin"),
            None,
        )
        .await;
    assert_eq!(ep["device"]["vendor"], "Yealink");
    assert_eq!(ep["device"]["model"], "SIP-T46S");
    assert_eq!(ep["device"]["firmware"], "66.86.0.15");
    assert_eq!(ep["device"]["serial"], "805ec0123456");
    assert_eq!(ep["device"]["last_seen_unix"], w.now_secs());
    assert!(ep["device"]["first_seen_unix"].as_i64().unwrap() < w.now_secs());

    // Maintenance is planned on the device; a firmware update keeps it.
    let (st, _, ep) = w
        .call(
            Method::PATCH,
            "/api/v1/endpoints/bp-bd-1",
            Some("bd-admin"),
            Some(json!({"maintenance_due": "2026-03-31"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{ep}");
    assert_eq!(ep["device"]["maintenance_due"], "2026-03-31");

    w.advance(600);
    let audit_before = w
        .call(Method::GET, "/api/v1/audit", Some("city"), None)
        .await
        .2;
    let seen = a
        .observe_device("bp-bd-1", "Yealink SIP-T46S 66.86.0.20 80:5e:c0:12:34:56")
        .await
        .unwrap();
    assert_eq!(
        seen,
        DeviceObservation::Changed {
            what: vec!["firmware"],
            back_to_review: true
        }
    );
    assert_eq!(w.vetting_of("bp-bd-1").await, "pending");
    let (_, _, queue) = w
        .call(Method::GET, "/api/v1/vetting", Some("reviewer"), None)
        .await;
    let item = queue
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == "bp-bd-1")
        .expect("in the queue");
    assert_eq!(item["vetting"]["by"], SYSTEM_ACTOR);
    assert!(item["vetting"]["reason"]
        .as_str()
        .unwrap()
        .contains("firmware"));
    let events = item["device_events"].as_array().unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["kind"], "adopted");
    assert_eq!(events[1]["kind"], "changed");
    assert_eq!(events[1]["before"]["firmware"], "66.86.0.15");
    assert_eq!(events[1]["after"]["firmware"], "66.86.0.20");
    assert_eq!(item["device"]["maintenance_due"], "2026-03-31");

    let (_, _, audit) = w
        .call(Method::GET, "/api/v1/audit", Some("city"), None)
        .await;
    assert_eq!(
        audit.as_array().unwrap().len(),
        audit_before.as_array().unwrap().len() + 1
    );
    let row = &audit[0];
    assert_eq!(row["action"], "device.changed");
    assert_eq!(row["actor"], SYSTEM_ACTOR);
    assert_eq!(row["before"]["vetting"]["state"], "approved");
    assert_eq!(row["after"]["vetting"]["state"], "pending");

    // Approved again, then another unit entirely: product and serial.
    let (st, _, _) = w
        .call(
            Method::POST,
            "/api/v1/vetting/bp-bd-1/approve",
            Some("reviewer"),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let seen = a
        .observe_device(
            "bp-bd-1",
            "PolycomRealPresenceGroup-Group_500-UA/6.2.2.1 SN:8G1234ABCD",
        )
        .await
        .unwrap();
    assert_eq!(
        seen,
        DeviceObservation::Changed {
            what: vec!["product", "firmware", "serial"],
            back_to_review: true
        }
    );
    let (_, _, ep) = w
        .call(Method::GET, "/api/v1/endpoints/bp-bd-1", Some("city"), None)
        .await;
    assert_eq!(ep["vetting"]["state"], "pending");
    assert_eq!(ep["device"]["model"], "Group 500");
    assert_eq!(ep["device"]["maintenance_due"], Value::Null);
    let history = ep["device_history"].as_array().unwrap();
    assert_eq!(history.len(), 3);
    assert!(history[..2].iter().all(|d| d["retired_unix"].is_i64()));

    // A pending endpoint's first device is recorded, not adopted; a change
    // on a pending one keeps it pending.
    assert_eq!(
        a.observe_device("bp-hk-1", "baresip v2.0.0 (x86_64/linux)")
            .await
            .unwrap(),
        DeviceObservation::FirstSeen { adopted: false }
    );
    assert_eq!(
        a.observe_device("bp-hk-1", "baresip v3.1.0 (x86_64/linux)")
            .await
            .unwrap(),
        DeviceObservation::Changed {
            what: vec!["firmware"],
            back_to_review: false
        }
    );
    assert_eq!(w.vetting_of("bp-hk-1").await, "pending");
    assert!(matches!(
        a.observe_device("nobody", "baresip v2.0.0").await,
        Err(AdminError::NotFound(_))
    ));
    assert_eq!(
        a.vetting_state("bp-hk-1").await.unwrap().map(|v| v.0),
        Some(VettingState::Pending)
    );
    assert_eq!(a.vetting_state("nobody").await.unwrap(), None);
}

async fn contacts_keep_their_history(w: World) {
    let (st, _, ep) = w
        .call(
            Method::PATCH,
            "/api/v1/endpoints/bp-bd-1",
            Some("bd-admin"),
            Some(json!({"contacts": {
                "office_lead": {"name": "Trần Thị B", "phone": "0912345678"},
                "technical_officer": {"name": "Lê Văn C", "email": "c@example.vn"}
            }})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{ep}");
    assert_eq!(ep["contacts"]["office_lead"]["name"], "Trần Thị B");
    assert_eq!(ep["contacts"]["technical_officer"]["name"], "Lê Văn C");
    let (_, _, full) = w
        .call(
            Method::GET,
            "/api/v1/endpoints/bp-bd-1",
            Some("bd-admin"),
            None,
        )
        .await;
    let history = full["contact_history"].as_array().unwrap();
    assert_eq!(history.len(), 3);
    assert_eq!(history[0]["name"], "Nguyễn Văn A");
    assert_eq!(history[0]["until_unix"], w.now_secs());
    assert_eq!(history[1]["until_unix"], Value::Null);
    assert_eq!(history[1]["changed_by"], "bd-admin");

    // The same contacts again change nothing and write no audit row.
    let audit = w.snapshot().await;
    let (st, _, _) = w
        .call(
            Method::PATCH,
            "/api/v1/endpoints/bp-bd-1",
            Some("bd-admin"),
            Some(
                json!({"contacts": {"office_lead": {"name": "Trần Thị B", "phone": "0912345678"}}}),
            ),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(w.snapshot().await, audit);
    // Names are kept in NFC whatever form they come in.
    let decomposed = "Nguye\u{0302}\u{0303}n Va\u{0306}n D";
    let (_, _, ep) = w
        .call(
            Method::PATCH,
            "/api/v1/endpoints/bp-bd-1",
            Some("bd-admin"),
            Some(json!({"contacts": {"technical_officer": {"name": decomposed}}})),
        )
        .await;
    assert_eq!(ep["contacts"]["technical_officer"]["name"], "Nguyễn Văn D");
}

async fn bad_requests_are_problem_details(w: World) {
    let before = w.snapshot().await;
    let token = w.tokens["city"].clone();
    let (st, h, b) = w
        .raw(
            Method::POST,
            "/api/v1/endpoints",
            Some(&token),
            Some("{\"id\": \"x\",".into()),
            "application/json",
        )
        .await;
    assert_problem(
        st,
        &h,
        &b,
        StatusCode::BAD_REQUEST,
        "invalid JSON body: EOF while parsing",
    );
    let (st, h, b) = w
        .call(
            Method::POST,
            "/api/v1/endpoints",
            Some("city"),
            Some(json!({"id": "x", "unit": {"structure": "2024", "code": "001"}})),
        )
        .await;
    assert_problem(
        st,
        &h,
        &b,
        StatusCode::UNPROCESSABLE_ENTITY,
        "missing field `protocol`",
    );
    let (st, h, b) = w
        .call(
            Method::POST,
            "/api/v1/endpoints",
            Some("city"),
            Some(json!({"id": "x", "unit": {"structure": "2024", "code": "001"}, "protocol": "sip", "vetted": true})),
        )
        .await;
    assert_problem(
        st,
        &h,
        &b,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown field `vetted`",
    );
    let (st, h, b) = w
        .call(
            Method::POST,
            "/api/v1/endpoints",
            Some("city"),
            Some(json!({"id": "x", "unit": {"structure": "2024", "code": "001"}, "protocol": "skype"})),
        )
        .await;
    assert_problem(
        st,
        &h,
        &b,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown variant `skype`",
    );
    let (st, h, b) = w
        .call(
            Method::POST,
            "/api/v1/endpoints",
            Some("city"),
            Some(json!({"id": "has space", "unit": {"structure": "2024", "code": "001"}, "protocol": "sip"})),
        )
        .await;
    assert_problem(st, &h, &b, StatusCode::UNPROCESSABLE_ENTITY, "invalid id");
    assert_eq!(b["field"], "id");
    let (st, h, b) = w
        .call(
            Method::POST,
            "/api/v1/endpoints",
            Some("city"),
            Some(json!({"id": "x", "unit": {"structure": "2024", "code": "001"}, "protocol": "sip", "numbers": ["12ab"]})),
        )
        .await;
    assert_problem(
        st,
        &h,
        &b,
        StatusCode::UNPROCESSABLE_ENTITY,
        "\"12ab\" is not a number",
    );
    let (st, h, b) = w
        .call(
            Method::POST,
            "/api/v1/endpoints",
            Some("city"),
            Some(json!({"id": "x", "unit": {"structure": "2024", "code": "001"}, "protocol": "sip", "credentials": {"password": "a", "ha1_md5": "00"}})),
        )
        .await;
    assert_problem(
        st,
        &h,
        &b,
        StatusCode::UNPROCESSABLE_ENTITY,
        "either a password or HA1",
    );
    let (st, h, b) = w
        .call(Method::POST, "/api/v1/endpoints", Some("city"), Some(json!({"id": "bp-bd-1", "unit": {"structure": "2024", "code": "001"}, "protocol": "sip"})))
        .await;
    assert_problem(st, &h, &b, StatusCode::CONFLICT, "already exists");
    let (st, h, b) = w
        .raw(
            Method::POST,
            "/api/v1/endpoints",
            Some(&token),
            Some("id=x".into()),
            "application/x-www-form-urlencoded",
        )
        .await;
    assert_problem(
        st,
        &h,
        &b,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "must be JSON",
    );
    let (st, h, b) = w
        .call(
            Method::GET,
            "/api/v1/endpoints?vetting=maybe",
            Some("city"),
            None,
        )
        .await;
    assert_problem(st, &h, &b, StatusCode::BAD_REQUEST, "vetting");
    let (st, h, b) = w
        .call(Method::GET, "/api/v1/nothing-here", Some("city"), None)
        .await;
    assert_problem(st, &h, &b, StatusCode::NOT_FOUND, "no such resource");
    let (st, h, b) = w
        .call(
            Method::PUT,
            "/api/v1/endpoints/bp-bd-1",
            Some("city"),
            Some(json!({})),
        )
        .await;
    assert_problem(
        st,
        &h,
        &b,
        StatusCode::METHOD_NOT_ALLOWED,
        "does not support the method",
    );
    let (st, h, b) = w
        .call(Method::GET, "/api/v1/units/1999/01", Some("city"), None)
        .await;
    assert_problem(st, &h, &b, StatusCode::NOT_FOUND, "no unit structure");
    assert_eq!(w.snapshot().await, before);
}

async fn tokens_expire_and_log_out(w: World) {
    let (st, h, b) = w.call(Method::GET, "/api/v1/endpoints", None, None).await;
    assert_problem(
        st,
        &h,
        &b,
        StatusCode::UNAUTHORIZED,
        "missing Authorization",
    );
    assert!(h.get("www-authenticate").is_some());
    let (st, h, b) = w
        .call(Method::GET, "/api/v1/endpoints", Some("not-a-token"), None)
        .await;
    assert_problem(st, &h, &b, StatusCode::UNAUTHORIZED, "unknown bearer token");
    let (st, h, b) = w
        .call(
            Method::POST,
            "/api/v1/session",
            None,
            Some(json!({"user": "city", "password": "wrong password"})),
        )
        .await;
    assert_problem(
        st,
        &h,
        &b,
        StatusCode::UNAUTHORIZED,
        "invalid user name or password",
    );
    let (st, h, b) = w
        .call(
            Method::POST,
            "/api/v1/session",
            None,
            Some(json!({"user": "ghost", "password": PASSWORD})),
        )
        .await;
    assert_problem(
        st,
        &h,
        &b,
        StatusCode::UNAUTHORIZED,
        "invalid user name or password",
    );

    // Tokens are stored hashed, passwords as argon2.
    let token = w.tokens["city"].clone();
    let stored: Vec<String> = sqlx::query("SELECT token_sha256 FROM adm_sessions")
        .fetch_all(w.admin.store().pool())
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get(0).unwrap())
        .collect();
    assert!(!stored.contains(&token));
    let hash: String = sqlx::query("SELECT password_hash FROM adm_users WHERE name = 'city'")
        .fetch_one(w.admin.store().pool())
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");

    let (st, _, _) = w
        .call(Method::GET, "/api/v1/endpoints", Some("city"), None)
        .await;
    assert_eq!(st, StatusCode::OK);
    w.advance(3599);
    let (st, _, _) = w
        .call(Method::GET, "/api/v1/endpoints", Some("city"), None)
        .await;
    assert_eq!(st, StatusCode::OK);
    w.advance(1);
    let (st, h, b) = w
        .call(Method::GET, "/api/v1/endpoints", Some("city"), None)
        .await;
    assert_problem(st, &h, &b, StatusCode::UNAUTHORIZED, "expired");

    // A fresh login works; logging out ends that token.
    let (st, _, s) = w
        .call(
            Method::POST,
            "/api/v1/session",
            None,
            Some(json!({"user": "bd-admin", "password": PASSWORD})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    assert_eq!(s["expires_at_unix"], w.now_secs() + 3600);
    assert_eq!(s["role"], "unit-admin");
    assert_eq!(s["unit"], json!({"structure": "2024", "code": BA_DINH}));
    let t = s["token"].as_str().unwrap();
    let (st, _, _) = w
        .raw(Method::GET, "/api/v1/endpoints", Some(t), None, "")
        .await;
    assert_eq!(st, StatusCode::OK);
    let (st, _, _) = w
        .raw(Method::DELETE, "/api/v1/session", Some(t), None, "")
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, _, _) = w
        .raw(Method::GET, "/api/v1/endpoints", Some(t), None, "")
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
}

async fn openapi_lists_what_exists(w: World) {
    let (st, h, doc) = w
        .call(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(h.get("content-type").unwrap(), "application/json");
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    let mut operations = 0;
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            operations += 1;
            // Every listed operation is routed: without credentials it is
            // refused for that (or answered), never "no such resource" or
            // "method not allowed".
            let concrete = path
                .replace("{structure}", "2024")
                .replace("{code}", "001")
                .replace("{id}", "bp-bd-1")
                .replace("{n}", "1")
                .replace("{m}", "2")
                .replace("{number}", "8000")
                .replace("{name}", "bd-operator");
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let (st, _, _) = w.raw(m, &concrete, None, None, "").await;
            assert!(
                st != StatusCode::NOT_FOUND && st != StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path} answered {st}"
            );
            let public = op.get("security").is_some_and(|s| s == &json!([]));
            if !public {
                assert_eq!(st, StatusCode::UNAUTHORIZED, "{method} {path}");
            }
            // Every $ref resolves.
            for r in op.to_string().split("\"$ref\":\"").skip(1) {
                let target = r.split('"').next().unwrap();
                let mut node = &doc;
                for part in target.trim_start_matches("#/").split('/') {
                    node = &node[part];
                }
                assert!(!node.is_null(), "{target} in {method} {path}");
            }
        }
    }
    assert_eq!(operations, 34);
}

async fn dialplan_endpoints_are_adopted(w: World) {
    const LOOPBACK: &str = include_str!("../../../dialplans/loopback.toml");
    let dp = gateway_dialplan::Dialplan::parse(LOOPBACK, "loopback.toml").unwrap();
    let a = &w.admin;
    // No dialplan imported yet: nothing to adopt.
    assert_eq!(
        a.adopt_dialplan_endpoints(Structure::Y2025).await.unwrap(),
        DialplanAdoption::default()
    );
    a.store()
        .import_dialplan(&dp, LOOPBACK, "loopback.toml")
        .await
        .unwrap();
    let report = a.adopt_dialplan_endpoints(Structure::Y2025).await.unwrap();
    let ids: Vec<&str> = dp.endpoints().iter().map(|e| e.id.as_str()).collect();
    assert_eq!(report.added, ids);
    assert!(report.skipped.is_empty(), "{report:?}");
    let again = a.adopt_dialplan_endpoints(Structure::Y2025).await.unwrap();
    assert_eq!((again.added.len(), again.already), (0, ids.len()));

    let first = &dp.endpoints()[0];
    let (st, _, ep) = w
        .call(
            Method::GET,
            &format!("/api/v1/endpoints/{}", first.id),
            Some("city"),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{ep}");
    assert_eq!(ep["unit"], json!({"structure": "2025", "code": first.unit}));
    assert_eq!(ep["numbers"], json!(first.numbers));
    assert_eq!(
        ep["vetting"]["state"],
        if first.vetted { "approved" } else { "pending" }
    );
    assert_eq!(ep["credentials"]["forms"], json!(["md5", "sha-256"]));
    // The password became its HA1 forms, nothing else.
    if let gateway_dialplan::Credentials::Password(pw) = &first.credentials {
        let stored: String = sqlx::query("SELECT ha1_md5 FROM adm_endpoints WHERE id = $1")
            .bind(first.id.as_str())
            .fetch_one(a.store().pool())
            .await
            .unwrap()
            .try_get(0)
            .unwrap();
        use md5::Digest;
        let want = hex::encode(md5::Md5::digest(format!(
            "{}:{}:{pw}",
            first.id,
            dp.gateway().realm
        )));
        assert_eq!(stored, want);
    }
    // A vetted fixture endpoint adopts the first device it registers with.
    if first.vetted {
        assert_eq!(
            a.observe_device(&first.id, "baresip v2.0.0 (x86_64/linux)")
                .await
                .unwrap(),
            DeviceObservation::FirstSeen { adopted: true }
        );
        assert_eq!(w.vetting_of(&first.id).await, "approved");
    }
    // Endpoints are known by id: another structure does not duplicate them.
    let other = a.adopt_dialplan_endpoints(Structure::Y2024).await.unwrap();
    assert_eq!((other.added.len(), other.already), (0, ids.len()));
}

const LOOPBACK: &str = include_str!("../../../dialplans/loopback.toml");

/// A dialplan with meetings, trunks and rules in two districts of the 2024
/// structure (the test world's default) and in the city.
const DISTRICTS: &str = r#"
[[unit]]
code = "01"
name = "Thành phố Hà Nội"
kind = "city"

[[unit]]
code = "001"
name = "Quận Ba Đình"
kind = "urban_district"
parent = "01"

[[unit]]
code = "00001"
name = "Phường Phúc Xá"
kind = "ward"
parent = "001"

[[unit]]
code = "002"
name = "Quận Hoàn Kiếm"
kind = "urban_district"
parent = "01"

[[endpoint]]
id = "bd-room"
unit = "00001"
password = "room-pass"
numbers = ["100001"]
vetted = true

[[endpoint]]
id = "hk-room"
unit = "002"
password = "room-pass"
numbers = ["100037"]
vetted = true

[[meeting]]
number = "8100"
name = "Giao ban Ba Đình"
unit = "001"
classification = "confidential"
record = true
max_participants = 40

[[meeting]]
number = "8101"
name = "Phúc Xá"
aliases = ["phuc-xa"]
unit = "00001"

[[meeting]]
number = "8200"
name = "Giao ban Hoàn Kiếm"
unit = "002"

[[meeting]]
number = "8000"
name = "Thành phố"
unit = "01"
classification = "secret"

[[trunk]]
name = "bd-trunk"
uri = "sip:10.0.1.1:5060"
acl = ["10.0.1.0/24"]
unit = "001"

[[trunk]]
name = "hk-trunk"
uri = "sip:10.0.2.1:5060"
acl = ["10.0.2.0/24"]
unit = "002"

[[trunk]]
name = "carrier"
uri = "sip:10.0.9.1:5060"
acl = ["10.0.9.0/24"]
username = "gw"
password = "carrier-secret"

[[rule]]
name = "bd-out"
match = { prefix = "0" }
from_unit = "001"
action = "trunk"
trunk = "bd-trunk"
strip = 1

[[rule]]
name = "hk-out"
match = { prefix = "0" }
from_unit = "002"
action = "trunk"
trunk = "hk-trunk"

[[rule]]
name = "no-international"
match = { prefix = "00" }
action = "reject"
status = 403
"#;

async fn upload(w: &World, user: &str, source: &str, file: &str) -> (StatusCode, HeaderMap, Value) {
    w.raw(
        Method::POST,
        &format!("/api/v1/versions?file_name={file}"),
        Some(w.tokens[user].as_str()),
        Some(source.to_string()),
        "application/toml",
    )
    .await
}

async fn dialplan_versions_upload_diff_restore(w: World) {
    let mut changes = w.admin.subscribe_dialplan();

    // A broken dialplan: every problem with its line, column and field,
    // and nothing stored.
    let broken = LOOPBACK.replace(
        "unit = \"01\"\npassword = \"pass1002\"",
        "unit = \"0099\"\npassword = \"pass1002\"",
    );
    assert_ne!(broken, LOOPBACK);
    let broken_line = broken.lines().position(|l| l == "unit = \"0099\"").unwrap() + 1;
    let (st, h, body) = upload(&w, "city", &broken, "broken.toml").await;
    assert_problem(
        st,
        &h,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "broken.toml:",
    );
    let errors = body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{body}");
    assert_eq!(errors[0]["line"], broken_line);
    assert_eq!(errors[0]["field"], "endpoint[1].unit");
    assert!(errors[0]["column"].as_u64().unwrap() >= 1);
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("broken.toml:{broken_line}:")),
        "{body}"
    );
    // TOML syntax errors are problems with a place too.
    let (st, h, body) = upload(&w, "city", "[gateway\nrealm = 1\n", "syntax.toml").await;
    assert_problem(
        st,
        &h,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "syntax.toml:1:",
    );
    assert_eq!(body["errors"][0]["line"], 1);
    let (st, _, list) = w
        .call(Method::GET, "/api/v1/versions", Some("city"), None)
        .await;
    assert_eq!(st, StatusCode::OK, "{list}");
    assert_eq!(list["versions"], json!([]));
    assert_eq!(list["current"], Value::Null);

    // A unit-admin may not apply, even a valid dialplan; nothing changes.
    let before = w.snapshot().await;
    let (st, h, body) = upload(&w, "bd-admin", LOOPBACK, "loopback.toml").await;
    assert_problem(st, &h, &body, StatusCode::FORBIDDEN, "may not apply");
    let (st, h, body) = w
        .call(
            Method::POST,
            "/api/v1/versions",
            Some("bd-admin"),
            Some(json!({"source": LOOPBACK})),
        )
        .await;
    assert_problem(st, &h, &body, StatusCode::FORBIDDEN, "city-admin");
    assert_eq!(w.snapshot().await, before);
    assert!(w.admin.store().dialplan_version().await.unwrap().is_none());

    // Version 1, as TOML.
    let (st, h, v1) = upload(&w, "city", LOOPBACK, "loopback.toml").await;
    assert_eq!(st, StatusCode::CREATED, "{v1}");
    assert_eq!(h.get("location").unwrap(), "/api/v1/versions/1");
    assert_eq!(v1["version"]["version"], 1);
    assert_eq!(v1["created"], true);
    assert_eq!(changes.try_recv().unwrap(), 1);
    // The same text again: nothing stored, nothing announced.
    let (st, _, same) = upload(&w, "city", LOOPBACK, "loopback.toml").await;
    assert_eq!(st, StatusCode::OK, "{same}");
    assert_eq!(
        (same["created"].clone(), same["version"]["version"].clone()),
        (json!(false), json!(1))
    );
    assert!(changes.try_recv().is_err());

    // A dry run shows the diff and stores nothing.
    let v2_text = LOOPBACK.replace("max_duration_secs = 14400", "max_duration_secs = 7200");
    let (st, _, check) = w
        .call(
            Method::POST,
            "/api/v1/versions",
            Some("city"),
            Some(json!({"source": v2_text, "file_name": "loopback.toml", "dry_run": true})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{check}");
    assert!(
        check["diff"]
            .as_str()
            .unwrap()
            .contains("-max_duration_secs = 14400\n+max_duration_secs = 7200\n"),
        "{check}"
    );
    assert_eq!(
        w.admin
            .store()
            .dialplan_version()
            .await
            .unwrap()
            .unwrap()
            .version,
        1
    );

    // A city-sized upload (beyond axum's default 2 MB body limit) is taken.
    let big = format!(
        "{LOOPBACK}{}",
        "# padding padding padding padding padding\n".repeat(80_000)
    );
    assert!(big.len() > 3_000_000);
    let (st, _, check) = w
        .raw(
            Method::POST,
            "/api/v1/versions?file_name=big.toml&dry_run=true",
            Some(w.tokens["city"].as_str()),
            Some(big),
            "application/toml",
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{check}");
    assert_eq!(check["valid"], true);

    // Version 2, as JSON.
    let (st, _, v2) = w
        .call(
            Method::POST,
            "/api/v1/versions",
            Some("city"),
            Some(json!({"source": v2_text, "file_name": "loopback.toml"})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{v2}");
    assert_eq!(v2["version"]["version"], 2);
    assert_eq!(v2["previous"], 1);
    assert!(v2["diff"]
        .as_str()
        .unwrap()
        .contains("+max_duration_secs = 7200"));
    assert_eq!(changes.try_recv().unwrap(), 2);

    // The diff between them, as JSON and as text.
    let (st, _, diff) = w
        .call(Method::GET, "/api/v1/versions/1/diff/2", Some("city"), None)
        .await;
    assert_eq!(st, StatusCode::OK, "{diff}");
    let text = diff["diff"].as_str().unwrap();
    assert!(
        text.starts_with("--- v1 loopback.toml\n+++ v2 loopback.toml\n@@ "),
        "{text}"
    );
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with('-') && !l.starts_with("---"))
            .count(),
        1
    );
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with('+') && !l.starts_with("+++"))
            .count(),
        1
    );
    let req = Request::builder()
        .method(Method::GET)
        .uri("/api/v1/versions/2/diff/1")
        .header("authorization", format!("Bearer {}", w.tokens["city"]))
        .header("accept", "text/x-diff")
        .body(Body::empty())
        .unwrap();
    let resp = w.app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let raw = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&raw)
        .contains("-max_duration_secs = 7200\n+max_duration_secs = 14400\n"));
    let (st, h, body) = w
        .call(Method::GET, "/api/v1/versions/1/diff/9", Some("city"), None)
        .await;
    assert_problem(st, &h, &body, StatusCode::NOT_FOUND, "version 9");

    // Restore version 1: a new version 3 with version 1's text.
    let (st, h, body) = w
        .call(
            Method::POST,
            "/api/v1/versions/1/restore",
            Some("bd-admin"),
            None,
        )
        .await;
    assert_problem(
        st,
        &h,
        &body,
        StatusCode::FORBIDDEN,
        "may not apply or restore",
    );
    let (st, _, v3) = w
        .call(
            Method::POST,
            "/api/v1/versions/1/restore",
            Some("city"),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{v3}");
    assert_eq!(v3["version"]["version"], 3);
    assert_eq!(v3["version"]["sha256"], v1["version"]["sha256"]);
    assert_eq!(changes.try_recv().unwrap(), 3);
    let (st, _, src) = w
        .call(Method::GET, "/api/v1/versions/3", Some("city"), None)
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(src["source"], LOOPBACK);
    assert_eq!(src["current"], true);
    let loaded = w.admin.store().load_dialplan().await.unwrap().unwrap();
    assert_eq!(loaded.gateway().max_duration_secs, 14400);
    let (_, _, list) = w
        .call(Method::GET, "/api/v1/versions", Some("city"), None)
        .await;
    assert_eq!(list["current"], 3);
    assert_eq!(list["versions"].as_array().unwrap().len(), 3);

    // Reading versions is for the whole network's administrators and auditors.
    for user in ["bd-admin", "bd-auditor", "bd-operator", "reviewer"] {
        let (st, h, body) = w
            .call(Method::GET, "/api/v1/versions/1", Some(user), None)
            .await;
        assert_problem(
            st,
            &h,
            &body,
            StatusCode::FORBIDDEN,
            "may not read dialplan versions",
        );
    }

    // Audited: who, which version, before and after.
    let (st, _, audit) = w
        .call(
            Method::GET,
            "/api/v1/audit?object_kind=dialplan",
            Some("city"),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{audit}");
    let rows = audit.as_array().unwrap();
    let actions: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r["action"].as_str().unwrap(),
                r["object_id"].as_str().unwrap(),
                r["actor"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("dialplan.restore", "3", "city"),
            ("dialplan.apply", "2", "city"),
            ("dialplan.apply", "1", "city"),
        ]
    );
    assert_eq!(rows[0]["before"]["version"], 2);
    assert_eq!(rows[0]["after"]["restored_from"], 1);
    assert_eq!(rows[0]["actor_role"], "city-admin");
    // A district's auditor does not see the whole network's changes.
    let (_, _, audit) = w
        .call(
            Method::GET,
            "/api/v1/audit?object_kind=dialplan",
            Some("bd-auditor"),
            None,
        )
        .await;
    assert_eq!(audit, json!([]));
}

async fn apply_as_city(w: &World, source: &str, file: &str) {
    let (st, _, body) = upload(w, "city", source, file).await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
}

async fn dialplan_objects_are_scoped(w: World) {
    // No dialplan yet: nothing to list.
    let (st, h, body) = w
        .call(Method::GET, "/api/v1/meetings", Some("city"), None)
        .await;
    assert_problem(st, &h, &body, StatusCode::NOT_FOUND, "no dialplan");
    apply_as_city(&w, DISTRICTS, "districts.toml").await;

    let numbers = |v: &Value, key: &str| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|m| m[key].as_str().unwrap().to_string())
            .collect()
    };
    let (st, _, all) = w
        .call(Method::GET, "/api/v1/meetings", Some("city"), None)
        .await;
    assert_eq!(st, StatusCode::OK, "{all}");
    assert_eq!(numbers(&all, "number"), ["8100", "8101", "8200", "8000"]);
    let (st, _, bd) = w
        .call(Method::GET, "/api/v1/meetings", Some("bd-admin"), None)
        .await;
    assert_eq!(st, StatusCode::OK, "{bd}");
    assert_eq!(numbers(&bd, "number"), ["8100", "8101"]);
    assert_eq!(bd[0]["unit"], json!({"structure": "2024", "code": "001"}));
    assert_eq!(bd[0]["classification"], "confidential");
    assert_eq!(bd[0]["encryption_required"], true);
    assert_eq!(bd[0]["record"], true);
    assert_eq!(bd[0]["max_participants"], 40);
    assert_eq!(bd[1]["max_participants"], 32);
    let (_, _, hk) = w
        .call(Method::GET, "/api/v1/meetings", Some("hk-admin"), None)
        .await;
    assert_eq!(numbers(&hk, "number"), ["8200"]);

    // One meeting: by number or alias inside the subtree, 404 outside it.
    let (st, _, m) = w
        .call(
            Method::GET,
            "/api/v1/meetings/phuc-xa",
            Some("bd-operator"),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{m}");
    assert_eq!(m["number"], "8101");
    for (user, number) in [
        ("bd-admin", "8200"),
        ("bd-admin", "8000"),
        ("hk-admin", "8100"),
        ("city", "8999"),
    ] {
        let (st, h, body) = w
            .call(
                Method::GET,
                &format!("/api/v1/meetings/{number}"),
                Some(user),
                None,
            )
            .await;
        assert_problem(
            st,
            &h,
            &body,
            StatusCode::NOT_FOUND,
            &format!("meeting {number} not found"),
        );
    }

    // Trunks: by unit; a trunk of no unit only for the whole network; no passwords.
    let (_, _, t) = w
        .call(Method::GET, "/api/v1/trunks", Some("city"), None)
        .await;
    assert_eq!(numbers(&t, "name"), ["bd-trunk", "hk-trunk", "carrier"]);
    assert_eq!(t[2]["authenticates"], true);
    assert!(!t.to_string().contains("carrier-secret"));
    let (_, _, t) = w
        .call(Method::GET, "/api/v1/trunks", Some("bd-admin"), None)
        .await;
    assert_eq!(numbers(&t, "name"), ["bd-trunk"]);

    // Rules: by from_unit; positions are the order they are tried in.
    let (_, _, r) = w
        .call(Method::GET, "/api/v1/rules", Some("city"), None)
        .await;
    assert_eq!(
        numbers(&r, "name"),
        ["bd-out", "hk-out", "no-international"]
    );
    assert_eq!(r[2]["action"], "reject");
    assert_eq!(r[2]["status"], 403);
    let (_, _, r) = w
        .call(Method::GET, "/api/v1/rules", Some("hk-admin"), None)
        .await;
    assert_eq!(numbers(&r, "name"), ["hk-out"]);
    assert_eq!(r[0]["position"], 1);
    assert_eq!(r[0]["match"], json!({"kind": "prefix", "pattern": "0"}));
    assert_eq!(
        r[0]["from_unit"],
        json!({"structure": "2024", "code": "002"})
    );
    assert_eq!(r[0]["trunk"], "hk-trunk");

    // Try a call: only from callers in one's subtree.
    let (st, _, d) = w
        .call(
            Method::POST,
            "/api/v1/route",
            Some("bd-admin"),
            Some(json!({"caller": "bd-room", "target": "0912345678"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{d}");
    assert_eq!(d["outcome"]["kind"], "trunk");
    assert_eq!(d["outcome"]["name"], "bd-trunk");
    assert_eq!(d["outcome"]["uri"], "sip:912345678@10.0.1.1:5060");
    for caller in ["hk-room", "trunk:hk-trunk", "trunk:carrier", "no-such-room"] {
        let (st, h, body) = w
            .call(
                Method::POST,
                "/api/v1/route",
                Some("bd-admin"),
                Some(json!({"caller": caller, "target": "8100"})),
            )
            .await;
        assert_problem(st, &h, &body, StatusCode::NOT_FOUND, "not found");
    }
    let (st, h, body) = w
        .call(
            Method::POST,
            "/api/v1/route",
            Some("bd-admin"),
            Some(json!({"caller": "anonymous", "target": "8100"})),
        )
        .await;
    assert_problem(st, &h, &body, StatusCode::FORBIDDEN, "anonymous");
}

async fn route_tries_a_call(w: World) {
    apply_as_city(&w, LOOPBACK, "loopback.toml").await;
    let route = |body: Value| {
        let w = &w;
        async move {
            w.call(Method::POST, "/api/v1/route", Some("city"), Some(body))
                .await
        }
    };
    // 8000 is the normal loopback meeting: the caller joins it.
    let (st, _, d) =
        route(json!({"caller": "1001", "target": "8000", "transport_secure": false})).await;
    assert_eq!(st, StatusCode::OK, "{d}");
    assert_eq!(d["version"], 1);
    assert_eq!(d["caller"], json!({"endpoint": "1001"}));
    assert_eq!(d["outcome"], json!({"kind": "meeting", "number": "8000"}));
    assert_eq!(d["policy"]["encryption_required"], false);
    assert_eq!(d["policy"]["unit"], "01");
    assert!(d["trace"].to_string().contains("is meeting 8000"), "{d}");
    // By alias too.
    let (_, _, d) = route(json!({"caller": "1001", "target": "meeting-8000"})).await;
    assert_eq!(d["outcome"], json!({"kind": "meeting", "number": "8000"}));

    // 8001 is secret: without TLS the leg is refused as a 488 with the reason.
    let (st, _, d) =
        route(json!({"caller": "1001", "target": "8001", "transport_secure": false})).await;
    assert_eq!(st, StatusCode::OK, "{d}");
    assert_eq!(d["outcome"]["kind"], "reject");
    assert_eq!(d["outcome"]["status"], 488);
    let reason = d["outcome"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("8001") && reason.contains("secret") && reason.contains("encrypted"),
        "{reason}"
    );
    assert_eq!(d["policy"]["encryption_required"], true);
    let (_, _, d) =
        route(json!({"caller": "1001", "target": "8001", "transport_secure": true})).await;
    assert_eq!(d["outcome"], json!({"kind": "meeting", "number": "8001"}));

    // Other callers and targets: the trunk by name, an anonymous source in
    // its ACL, one outside, and the rule that sends numbers out.
    let (_, _, d) = route(json!({"caller": "trunk:loopback-trunk", "target": "1002"})).await;
    assert_eq!(d["outcome"], json!({"kind": "endpoint", "id": "1002"}));
    let (_, _, d) =
        route(json!({"caller": "anonymous", "source": "127.0.0.1", "target": "5551234"})).await;
    assert_eq!(d["outcome"]["kind"], "trunk", "{d}");
    assert_eq!(d["outcome"]["uri"], "sip:5551234@127.0.0.1:5070");
    assert!(d["trace"].to_string().contains("loopback-out"), "{d}");
    let (_, _, d) =
        route(json!({"caller": "anonymous", "source": "192.0.2.1", "target": "8000"})).await;
    assert_eq!(d["outcome"]["status"], 403);

    // An endpoint the registry holds as not yet vetted is refused, as the
    // gateway's vetting gate refuses it.
    let (st, _, _) = w
        .call(
            Method::POST,
            "/api/v1/endpoints",
            Some("city"),
            Some(json!({
                "id": "1003",
                "unit": {"structure": "2024", "code": "01"},
                "protocol": "sip"
            })),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    let (_, _, d) = route(json!({"caller": "1003", "target": "8000"})).await;
    assert_eq!(d["outcome"]["status"], 403, "{d}");
    assert!(
        d["outcome"]["reason"].as_str().unwrap().contains("pending"),
        "{d}"
    );

    // Malformed requests are problems.
    let (st, h, body) = route(json!({"caller": "1001"})).await;
    assert_problem(st, &h, &body, StatusCode::UNPROCESSABLE_ENTITY, "target");
    let (st, h, body) = w
        .call(
            Method::POST,
            "/api/v1/route",
            None,
            Some(json!({"caller": "1001", "target": "8000"})),
        )
        .await;
    assert_problem(st, &h, &body, StatusCode::UNAUTHORIZED, "Bearer");
}

async fn users_are_changed_within_the_subtree(w: World) {
    let before = w.snapshot().await;
    let unit = |code: &str| json!({"structure": "2024", "code": code});
    let patch = |who: &'static str, name: &str, body: Value| {
        let path = format!("/api/v1/users/{name}");
        let w = &w;
        async move { w.call(Method::PATCH, &path, Some(who), Some(body)).await }
    };
    // Outside the subtree (another district, the whole network): 404.
    for (name, body) in [
        ("hk-admin", json!({"disabled": true})),
        ("reviewer", json!({"disabled": true})),
        ("city", json!({"role": "operator"})),
        ("nobody", json!({"disabled": true})),
    ] {
        let (st, h, b) = patch("bd-admin", name, body).await;
        assert_problem(
            st,
            &h,
            &b,
            StatusCode::NOT_FOUND,
            &format!("user {name} not found"),
        );
    }
    // Seen, but not this change: 403.
    for (who, name, body, says) in [
        (
            "bd-admin",
            "bd-reviewer",
            json!({"disabled": true}),
            "may not change security-reviewer users",
        ),
        (
            "bd-admin",
            "bd-operator",
            json!({"role": "security-reviewer"}),
            "may not make users security-reviewer",
        ),
        (
            "bd-admin",
            "bd-operator",
            json!({"unit": null}),
            "may not give a user the whole network",
        ),
        (
            "bd-admin",
            "bd-admin",
            json!({"disabled": true}),
            "may not change its own",
        ),
        (
            "city",
            "city",
            json!({"unit": unit(BA_DINH)}),
            "may not change its own",
        ),
        (
            "bd-auditor",
            "bd-operator",
            json!({"disabled": true}),
            "may not change users",
        ),
        (
            "bd-operator",
            "bd-auditor",
            json!({"role": "operator"}),
            "may not change users",
        ),
    ] {
        let (st, h, b) = patch(who, name, body).await;
        assert_problem(st, &h, &b, StatusCode::FORBIDDEN, says);
    }
    // A scope outside its own subtree does not exist for it.
    let (st, h, b) = patch("bd-admin", "bd-operator", json!({"unit": unit(HANG_BAC)})).await;
    assert_problem(
        st,
        &h,
        &b,
        StatusCode::NOT_FOUND,
        "unit 2024/00037 not found",
    );
    assert_eq!(
        w.snapshot().await,
        before,
        "a refused change wrote something"
    );

    // A district administrator narrows its operator to a ward and makes it
    // an auditor: effective at once for the user's current token.
    let (st, _, b) = w
        .call(Method::GET, "/api/v1/audit", Some("bd-operator"), None)
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{b}");
    let (st, _, user) = patch(
        "bd-admin",
        "bd-operator",
        json!({"role": "auditor", "unit": unit(PHUC_XA)}),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{user}");
    assert_eq!(user["role"], "auditor");
    assert_eq!(user["unit"], unit(PHUC_XA));
    assert_eq!(user["disabled"], false);
    let (st, _, b) = w
        .call(Method::GET, "/api/v1/audit", Some("bd-operator"), None)
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    let (_, _, rows) = w
        .call(
            Method::GET,
            "/api/v1/audit?object_kind=user&object_id=bd-operator",
            Some("bd-auditor"),
            None,
        )
        .await;
    let row = &rows[0];
    assert_eq!(row["action"], "user.update", "{rows}");
    assert_eq!(row["actor"], "bd-admin");
    assert_eq!(row["before"]["role"], "operator");
    assert_eq!(row["before"]["unit"], unit(BA_DINH));
    assert_eq!(row["after"]["role"], "auditor");
    assert_eq!(row["after"]["unit"], unit(PHUC_XA));
    // The same change again changes and audits nothing.
    let audited = w.snapshot().await;
    let (st, _, _) = patch(
        "bd-admin",
        "bd-operator",
        json!({"role": "auditor", "unit": unit(PHUC_XA)}),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(w.snapshot().await, audited);

    // Disabled: the token stops working, the sessions are gone, no login.
    let (st, _, user) = patch("bd-admin", "bd-operator", json!({"disabled": true})).await;
    assert_eq!(st, StatusCode::OK, "{user}");
    assert_eq!(user["disabled"], true);
    let (st, _, _) = w
        .call(Method::GET, "/api/v1/endpoints", Some("bd-operator"), None)
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let sessions: i64 =
        sqlx::query("SELECT COUNT(*) FROM adm_sessions WHERE user_name = 'bd-operator'")
            .fetch_one(w.admin.store().pool())
            .await
            .unwrap()
            .try_get(0)
            .unwrap();
    assert_eq!(sessions, 0);
    let login = json!({"user": "bd-operator", "password": PASSWORD});
    let (st, _, _) = w
        .call(Method::POST, "/api/v1/session", None, Some(login.clone()))
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);

    // The city administrator enables it again for the whole network; the
    // district's administrator no longer sees it.
    let (st, _, user) = patch(
        "city",
        "bd-operator",
        json!({"disabled": false, "role": "operator", "unit": null}),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{user}");
    assert_eq!(user["unit"], Value::Null);
    let (st, _, _) = w
        .call(Method::POST, "/api/v1/session", None, Some(login))
        .await;
    assert_eq!(st, StatusCode::CREATED);
    let (st, h, b) = patch("bd-admin", "bd-operator", json!({"disabled": true})).await;
    assert_problem(st, &h, &b, StatusCode::NOT_FOUND, "not found");
    let stored: String = sqlx::query(
        "SELECT role || '|' || COALESCE(scope_code, '-') || '|' || disabled FROM adm_users WHERE name = 'bd-operator'",
    )
    .fetch_one(w.admin.store().pool())
    .await
    .unwrap()
    .try_get(0)
    .unwrap();
    assert_eq!(stored, "operator|-|0");
}
