//! Request bodies that are JSON but not objects, found by the schemathesis
//! run (interop-tests/test_admin_schemathesis.py): serde reads a derived
//! struct from an array too, field by field, so `[null, null]` as a PATCH
//! body used to clear an endpoint's display name.

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
    let app = router(admin);
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
    (Db(dir), app, token)
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
