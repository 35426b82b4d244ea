//! Request bodies of the wrong shape. The first were found by the
//! schemathesis run (interop-tests/test_admin_schemathesis.py): serde reads
//! a derived struct from an array too, field by field, so `[null, null]` as
//! a PATCH body used to clear an endpoint's display name, and
//! `{"unit": ["2024", "00001"]}` named a unit. Every body is now strict at
//! every depth: objects only where an object is expected, lists only where
//! a list is, no unknown field, and the problem names the field.

use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use gateway_admin::*;
use gateway_store::Store;
use serde_json::{json, Value};
use tower::ServiceExt;

static NEXT: AtomicU32 = AtomicU32::new(0);
const PASSWORD: &str = "correct horse battery";

struct Db(std::path::PathBuf);

impl Drop for Db {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn app() -> (Db, Router, String) {
    let (db, _, app, token) = app_with_admin().await;
    (db, app, token)
}

async fn app_with_admin() -> (Db, Admin, Router, String) {
    let dir = std::env::temp_dir().join(format!(
        "gateway-admin-json-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let url = format!("sqlite://{}", dir.join("admin.db").display());
    let store = Store::connect(&url).await.expect("connect");
    let clock = Arc::new(AtomicI64::new(1_800_000_000_000));
    let admin = Admin::with_clock(
        store,
        AdminConfig {
            realm: "hanoi.gateway.local".into(),
            token_ttl_secs: 3600,
            default_structure: Structure::Y2024,
        },
        Arc::new(move || clock.load(Ordering::SeqCst)),
    );
    admin.import_city_units().await.expect("units import");
    admin
        .add_user(
            NewUser {
                name: "city".into(),
                password: PASSWORD.into(),
                role: Role::CityAdmin,
                unit: None,
            },
            "test-setup",
        )
        .await
        .expect("add user");
    admin
        .add_user(
            NewUser {
                name: "bd-operator".into(),
                password: PASSWORD.into(),
                role: Role::Operator,
                unit: Some(UnitRef::new(Structure::Y2024, "001")),
            },
            "test-setup",
        )
        .await
        .expect("add user");
    let app = router(admin.clone());
    let (st, body) = send(
        &app,
        Method::POST,
        "/api/v1/session",
        None,
        Some(json!({"user": "city", "password": PASSWORD}).to_string()),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let token = body["token"].as_str().unwrap().to_string();
    (Db(dir), admin, app, token)
}

async fn send(
    app: &Router,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<String>,
) -> (StatusCode, Value) {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    if body.is_some() {
        req = req.header("content-type", "application/json");
    }
    let req = req
        .body(body.map(Body::from).unwrap_or_else(Body::empty))
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    if status.is_client_error() {
        assert_eq!(ct, "application/problem+json", "{path}: {status}");
    }
    let value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).expect("a JSON answer")
    };
    (status, value)
}

#[tokio::test]
async fn array_and_scalar_bodies_are_refused_and_change_nothing() {
    let (_db, app, token) = app().await;
    let t = Some(token.as_str());
    let (st, body) = send(
        &app,
        Method::POST,
        "/api/v1/endpoints",
        t,
        Some(
            json!({
                "id": "bp-1",
                "unit": {"structure": "2024", "code": "00001"},
                "protocol": "sip",
                "display": "Điểm cầu Phúc Xá",
                "numbers": ["100001"],
            })
            .to_string(),
        ),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{body}");

    // Positionally, the second field of a patch is `display`.
    for bad in [
        "[null, null]",
        " [null, \"x\"] ",
        "\"display\"",
        "null",
        "7",
        "true",
    ] {
        let (st, body) = send(
            &app,
            Method::PATCH,
            "/api/v1/endpoints/bp-1",
            t,
            Some(bad.to_string()),
        )
        .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
        assert!(
            body["detail"].as_str().unwrap().contains("JSON object"),
            "{bad}: {body}"
        );
    }
    let (st, ep) = send(&app, Method::GET, "/api/v1/endpoints/bp-1", t, None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(ep["display"], "Điểm cầu Phúc Xá", "{ep}");

    // An array in place of a whole new endpoint creates nothing.
    let positional = json!([
        "bp-2",
        {"structure": "2024", "code": "00001"},
        null,
        "sip"
    ]);
    let (st, body) = send(
        &app,
        Method::POST,
        "/api/v1/endpoints",
        t,
        Some(positional.to_string()),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (st, _) = send(&app, Method::GET, "/api/v1/endpoints/bp-2", t, None).await;
    assert_eq!(st, StatusCode::NOT_FOUND);

    // Not JSON at all stays a syntax error; an empty body stays `{}`.
    let (st, body) = send(&app, Method::POST, "/api/v1/route", t, Some("[1,".into())).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");
    let (st, body) = send(
        &app,
        Method::PATCH,
        "/api/v1/endpoints/bp-1",
        t,
        Some("  ".into()),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["display"], "Điểm cầu Phúc Xá", "{body}");
    // A login given as an array is refused the same way.
    let (st, body) = send(
        &app,
        Method::POST,
        "/api/v1/session",
        None,
        Some(json!(["city", PASSWORD]).to_string()),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
}

/// One refused body: the field the problem must name.
struct Bad {
    method: Method,
    path: &'static str,
    body: Value,
    field: Option<&'static str>,
}

fn bad(method: Method, path: &'static str, body: Value, field: Option<&'static str>) -> Bad {
    Bad {
        method,
        path,
        body,
        field,
    }
}

async fn refused(app: &Router, token: &str, cases: Vec<Bad>) {
    for c in cases {
        let (st, problem) = send(
            app,
            c.method.clone(),
            c.path,
            Some(token),
            Some(c.body.to_string()),
        )
        .await;
        let what = format!("{} {} {}", c.method, c.path, c.body);
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{what}: {problem}");
        assert_eq!(problem["status"], 422, "{what}: {problem}");
        assert_eq!(problem["field"].as_str(), c.field, "{what}: {problem}");
        let detail = problem["detail"].as_str().unwrap();
        if let Some(f) = c.field {
            assert!(detail.contains(f), "{what}: {detail}");
        }
    }
}

/// The rows of a table, to show that refused bodies wrote nothing.
async fn rows(admin: &Admin, table: &str) -> i64 {
    use sqlx::Row;
    sqlx::query(&format!("SELECT COUNT(*) AS n FROM {table}"))
        .fetch_one(admin.store().pool())
        .await
        .unwrap()
        .get::<i64, _>("n")
}

async fn audit_rows(admin: &Admin) -> i64 {
    rows(admin, "adm_audit").await
}

fn unit(code: &str) -> Value {
    json!({"structure": "2024", "code": code})
}

async fn endpoint(app: &Router, token: &str, id: &str) -> Value {
    let (st, body) = send(
        app,
        Method::POST,
        "/api/v1/endpoints",
        Some(token),
        Some(
            json!({
                "id": id,
                "unit": unit("00001"),
                "protocol": "sip",
                "display": "Điểm cầu Phúc Xá",
                "numbers": ["100001"],
                "contacts": {"office_lead": {"name": "Trần Văn An"}},
            })
            .to_string(),
        ),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    body
}

#[tokio::test]
async fn endpoint_bodies_are_strict_at_every_depth() {
    let (_db, admin, app, token) = app_with_admin().await;
    let before = endpoint(&app, &token, "bp-1").await;
    let audit = audit_rows(&admin).await;
    let new = |extra: Value| {
        let mut b = json!({"id": "bp-9", "unit": unit("00004"), "protocol": "sip"});
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    use Method as M;
    const EPS: &str = "/api/v1/endpoints";
    const BP1: &str = "/api/v1/endpoints/bp-1";
    refused(
        &app,
        &token,
        vec![
            // Arrays where an object is expected, read positionally before.
            bad(
                M::POST,
                EPS,
                new(json!({"unit": ["2024", "00004"]})),
                Some("unit"),
            ),
            bad(M::POST, EPS, new(json!({"contacts": []})), Some("contacts")),
            bad(
                M::POST,
                EPS,
                new(json!({"contacts": {"office_lead": ["Hà", "0901"]}})),
                Some("contacts.office_lead"),
            ),
            bad(
                M::POST,
                EPS,
                new(json!({"credentials": ["hanoi", "a long secret"]})),
                Some("credentials"),
            ),
            // Unknown fields, at the top and inside.
            bad(M::POST, EPS, new(json!({"colour": "red"})), Some("colour")),
            bad(
                M::POST,
                EPS,
                new(json!({"unit": {"structure": "2024", "code": "00004", "name": "x"}})),
                Some("unit.name"),
            ),
            bad(
                M::POST,
                EPS,
                new(json!({"credentials": {"pasword": "a long secret"}})),
                Some("credentials.pasword"),
            ),
            // Lists only from arrays.
            bad(
                M::POST,
                EPS,
                new(json!({"numbers": "100009"})),
                Some("numbers"),
            ),
            bad(
                M::POST,
                EPS,
                new(json!({"numbers": {"0": "100009"}})),
                Some("numbers"),
            ),
            bad(
                M::POST,
                EPS,
                new(json!({"aliases": ["a", ["b"]]})),
                Some("aliases[1]"),
            ),
            // A missing field is named too.
            bad(
                M::POST,
                EPS,
                json!({"id": "bp-9", "unit": unit("00004")}),
                Some("protocol"),
            ),
            bad(
                M::POST,
                EPS,
                new(json!({"contacts": {"technical_officer": {"phone": "0901"}}})),
                Some("contacts.technical_officer.name"),
            ),
            // The same in a change.
            bad(
                M::PATCH,
                BP1,
                json!({"unit": ["2024", "00004"]}),
                Some("unit"),
            ),
            bad(
                M::PATCH,
                BP1,
                json!({"contacts": {"technical_officer": {"name": "Hà", "fax": "1"}}}),
                Some("contacts.technical_officer.fax"),
            ),
            bad(
                M::PATCH,
                BP1,
                json!({"display": "Mới", "maintenance": "2026-01-01"}),
                Some("maintenance"),
            ),
            bad(
                M::PATCH,
                BP1,
                json!({"numbers": [["100002"]]}),
                Some("numbers[0]"),
            ),
            bad(M::PATCH, BP1, json!({"display": ["Mới"]}), Some("display")),
            bad(M::PATCH, BP1, json!(["Mới"]), None),
        ],
    )
    .await;
    let (st, _) = send(&app, M::GET, "/api/v1/endpoints/bp-9", Some(&token), None).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (_, after) = send(&app, M::GET, BP1, Some(&token), None).await;
    for k in ["unit", "display", "numbers", "contacts", "updated_at_unix"] {
        assert_eq!(after[k], before[k], "{k}");
    }
    assert_eq!(audit_rows(&admin).await, audit);
}

#[tokio::test]
async fn vetting_user_and_session_bodies_are_strict() {
    let (_db, admin, app, token) = app_with_admin().await;
    endpoint(&app, &token, "bp-1").await;
    let audit = audit_rows(&admin).await;
    let users = rows(&admin, "adm_users").await;
    let sessions = rows(&admin, "adm_sessions").await;
    use Method as M;
    let user = |extra: Value| {
        let mut b = json!({"name": "u1", "password": "a long password", "role": "operator",
                           "unit": unit("001")});
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    refused(
        &app,
        &token,
        vec![
            // Vetting decisions (the body is read before the role check).
            bad(M::POST, "/api/v1/vetting/bp-1/approve", json!(["ok"]), None),
            bad(
                M::POST,
                "/api/v1/vetting/bp-1/approve",
                json!({"reason": "ok", "by": "someone"}),
                Some("by"),
            ),
            bad(
                M::POST,
                "/api/v1/vetting/bp-1/suspend",
                json!({"reason": ["stolen"]}),
                Some("reason"),
            ),
            // New users.
            bad(
                M::POST,
                "/api/v1/users",
                user(json!({"unit": ["2024", "001"]})),
                Some("unit"),
            ),
            bad(
                M::POST,
                "/api/v1/users",
                user(json!({"role": ["operator"]})),
                Some("role"),
            ),
            bad(
                M::POST,
                "/api/v1/users",
                user(json!({"roles": ["operator"]})),
                Some("roles"),
            ),
            bad(
                M::POST,
                "/api/v1/users",
                user(json!({"unit": {"structure": "2024", "code": "001", "x": 1}})),
                Some("unit.x"),
            ),
            // Changes to users.
            bad(M::PATCH, "/api/v1/users/bd-operator", json!([true]), None),
            bad(
                M::PATCH,
                "/api/v1/users/bd-operator",
                json!({"disabled": "yes"}),
                Some("disabled"),
            ),
            bad(
                M::PATCH,
                "/api/v1/users/bd-operator",
                json!({"enabled": false}),
                Some("enabled"),
            ),
            bad(
                M::PATCH,
                "/api/v1/users/bd-operator",
                json!({"unit": {"structure": "2024"}}),
                Some("unit.code"),
            ),
            bad(
                M::PATCH,
                "/api/v1/users/bd-operator",
                json!({"unit": ["2024", "002"]}),
                Some("unit"),
            ),
            // Logging in.
            bad(
                M::POST,
                "/api/v1/session",
                json!({"user": "city", "password": PASSWORD, "otp": "123456"}),
                Some("otp"),
            ),
            bad(
                M::POST,
                "/api/v1/session",
                json!({"user": ["city"], "password": PASSWORD}),
                Some("user"),
            ),
        ],
    )
    .await;
    let (_, ep) = send(&app, M::GET, "/api/v1/endpoints/bp-1", Some(&token), None).await;
    assert_eq!(ep["vetting"]["state"], "pending");
    let (_, list) = send(&app, M::GET, "/api/v1/users", Some(&token), None).await;
    let op = list
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "bd-operator")
        .unwrap();
    assert_eq!(op["disabled"], false);
    assert_eq!(op["unit"], unit("001"));
    assert_eq!(rows(&admin, "adm_users").await, users);
    assert_eq!(rows(&admin, "adm_sessions").await, sessions);
    assert_eq!(audit_rows(&admin).await, audit);
}

#[tokio::test]
async fn dialplan_route_and_grant_bodies_are_strict() {
    let (_db, admin, app, token) = app_with_admin().await;
    endpoint(&app, &token, "bp-1").await;
    let audit = audit_rows(&admin).await;
    use Method as M;
    const SOURCE: &str = "[gateway]\nrealm = \"hanoi.gateway.local\"\n";
    const GRANTS: &str = "/api/v1/units/2024/001/recording-grants";
    refused(
        &app,
        &token,
        vec![
            bad(
                M::POST,
                "/api/v1/versions",
                json!({"source": [SOURCE]}),
                Some("source"),
            ),
            bad(
                M::POST,
                "/api/v1/versions",
                json!({"source": SOURCE, "dryrun": true}),
                Some("dryrun"),
            ),
            bad(
                M::POST,
                "/api/v1/versions",
                json!([SOURCE, "dialplan.toml"]),
                None,
            ),
            bad(
                M::POST,
                "/api/v1/route",
                json!({"caller": "bp-1", "target": "100001", "secure": true}),
                Some("secure"),
            ),
            bad(
                M::POST,
                "/api/v1/route",
                json!({"caller": "anonymous", "target": "100001", "source": ["127.0.0.1"]}),
                Some("source"),
            ),
            bad(
                M::POST,
                "/api/v1/route",
                json!({"caller": "bp-1"}),
                Some("target"),
            ),
            bad(
                M::POST,
                GRANTS,
                json!({"grantee": ["2024", "002"]}),
                Some("grantee"),
            ),
            bad(
                M::POST,
                GRANTS,
                json!({"grantee": unit("002"), "until": 1900000000}),
                Some("until"),
            ),
            bad(
                M::POST,
                GRANTS,
                json!({"grantee": {"structure": "2024", "code": "002", "name": "Hoàn Kiếm"}}),
                Some("grantee.name"),
            ),
        ],
    )
    .await;
    let (st, versions) = send(&app, M::GET, "/api/v1/versions", Some(&token), None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(versions["versions"], json!([]), "{versions}");
    let (st, grants) = send(&app, M::GET, GRANTS, Some(&token), None).await;
    assert_eq!(st, StatusCode::OK, "{grants}");
    assert_eq!(grants, json!([]));
    assert_eq!(audit_rows(&admin).await, audit);

    // The well-formed versions of the same bodies are accepted.
    let (st, body) = send(
        &app,
        M::POST,
        "/api/v1/route",
        Some(&token),
        Some(json!({"caller": "anonymous", "target": "100001", "source": "127.0.0.1"}).to_string()),
    )
    .await;
    assert_ne!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (st, body) = send(
        &app,
        M::POST,
        GRANTS,
        Some(&token),
        Some(json!({"grantee": unit("002"), "reason": "công văn 12"}).to_string()),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
}
