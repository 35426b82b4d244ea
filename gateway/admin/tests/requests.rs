//! Requests as such: every JSON body strict at every depth (objects only
//! where an object is expected, lists only where a list is, no unknown
//! field; the problem names the field), and the OpenAPI document listing
//! exactly what is routed.
//!
//! The first bodies were found by the schemathesis run
//! (interop-tests/test_admin_schemathesis.py): serde reads a derived struct
//! from an array too, field by field, so `[null, null]` as a PATCH body
//! used to clear an endpoint's display name, and `{"unit": ["2024",
//! "00001"]}` named a unit.

mod common;
use common::*;

on_both!(
    with World::new;
    array_and_scalar_bodies_are_refused_and_change_nothing,
    endpoint_bodies_are_strict_at_every_depth,
    vetting_user_and_session_bodies_are_strict,
    dialplan_route_and_grant_bodies_are_strict,
    openapi_lists_what_exists,
);

/// A JSON body as text, sent by the city administrator (or no one).
async fn send(
    w: &World,
    method: Method,
    path: &str,
    user: Option<&str>,
    body: &str,
) -> (StatusCode, Value) {
    let token = user.map(|u| w.tokens[u].clone());
    let (st, h, value) = w
        .raw(
            method,
            path,
            token.as_deref(),
            Some(body.to_string()),
            "application/json",
        )
        .await;
    if st.is_client_error() {
        assert_eq!(
            h.get("content-type").unwrap(),
            "application/problem+json",
            "{path}: {st}"
        );
    }
    (st, value)
}

async fn array_and_scalar_bodies_are_refused_and_change_nothing(w: World) {
    const BP: &str = "/api/v1/endpoints/bp-bd-1";
    let before = w.snapshot().await;
    // Positionally, the second field of a patch is `display`.
    for bad in [
        "[null, null]",
        " [null, \"x\"] ",
        "\"display\"",
        "null",
        "7",
        "true",
    ] {
        let (st, body) = send(&w, Method::PATCH, BP, Some("city"), bad).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
        assert!(
            body["detail"].as_str().unwrap().contains("JSON object"),
            "{bad}: {body}"
        );
    }
    // An array in place of a whole new endpoint creates nothing.
    let positional = json!(["bp-2", {"structure": "2024", "code": PHUC_XA}, null, "sip"]);
    let (st, body) = send(
        &w,
        Method::POST,
        "/api/v1/endpoints",
        Some("city"),
        &positional.to_string(),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // A login given as an array is refused the same way.
    let login = json!(["city", PASSWORD]).to_string();
    let (st, body) = send(&w, Method::POST, "/api/v1/session", None, &login).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // Not JSON at all stays a syntax error.
    let (st, body) = send(&w, Method::POST, "/api/v1/route", Some("city"), "[1,").await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(w.snapshot().await, before);
    // An empty body stays `{}`.
    let (st, body) = send(&w, Method::PATCH, BP, Some("city"), "  ").await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["display"], "Điểm cầu bp-bd-1", "{body}");
    assert_eq!(w.snapshot().await, before);
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

async fn refused(w: &World, cases: Vec<Bad>) {
    for c in cases {
        let (st, problem) = send(
            w,
            c.method.clone(),
            c.path,
            Some("city"),
            &c.body.to_string(),
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

fn unit(code: &str) -> Value {
    json!({"structure": "2024", "code": code})
}

async fn endpoint_bodies_are_strict_at_every_depth(w: World) {
    let before = w.snapshot().await;
    let new = |extra: Value| {
        let mut b = json!({"id": "bp-9", "unit": unit(TRUC_BACH), "protocol": "sip"});
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    use Method as M;
    const EPS: &str = "/api/v1/endpoints";
    const BP: &str = "/api/v1/endpoints/bp-bd-1";
    refused(
        &w,
        vec![
            // Arrays where an object is expected, read positionally before.
            bad(
                M::POST,
                EPS,
                new(json!({"unit": ["2024", TRUC_BACH]})),
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
                new(json!({"unit": {"structure": "2024", "code": TRUC_BACH, "name": "x"}})),
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
            // An enum given as a list is a shape error too, not a syntax one.
            bad(
                M::POST,
                EPS,
                new(json!({"protocol": ["sip"]})),
                Some("protocol"),
            ),
            // A missing field is named too.
            bad(
                M::POST,
                EPS,
                json!({"id": "bp-9", "unit": unit(TRUC_BACH)}),
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
                BP,
                json!({"unit": ["2024", TRUC_BACH]}),
                Some("unit"),
            ),
            bad(
                M::PATCH,
                BP,
                json!({"contacts": {"technical_officer": {"name": "Hà", "fax": "1"}}}),
                Some("contacts.technical_officer.fax"),
            ),
            bad(
                M::PATCH,
                BP,
                json!({"display": "Mới", "maintenance": "2026-01-01"}),
                Some("maintenance"),
            ),
            bad(
                M::PATCH,
                BP,
                json!({"numbers": [["100002"]]}),
                Some("numbers[0]"),
            ),
            bad(M::PATCH, BP, json!({"display": ["Mới"]}), Some("display")),
            bad(M::PATCH, BP, json!(["Mới"]), None),
        ],
    )
    .await;
    // Checked in the database: nothing created, changed or audited.
    assert_eq!(w.snapshot().await, before);
}

async fn vetting_user_and_session_bodies_are_strict(w: World) {
    let before = w.snapshot().await;
    use Method as M;
    const OP: &str = "/api/v1/users/bd-operator";
    let user = |extra: Value| {
        let mut b = json!({"name": "u1", "password": "a long password", "role": "operator",
                           "unit": unit(BA_DINH)});
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    refused(
        &w,
        vec![
            // Vetting decisions (the body is read before the role check).
            bad(
                M::POST,
                "/api/v1/vetting/bp-bd-1/approve",
                json!(["ok"]),
                None,
            ),
            bad(
                M::POST,
                "/api/v1/vetting/bp-bd-1/approve",
                json!({"reason": "ok", "by": "someone"}),
                Some("by"),
            ),
            bad(
                M::POST,
                "/api/v1/vetting/bp-bd-1/suspend",
                json!({"reason": ["stolen"]}),
                Some("reason"),
            ),
            // New users.
            bad(
                M::POST,
                "/api/v1/users",
                user(json!({"unit": ["2024", BA_DINH]})),
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
                user(json!({"unit": {"structure": "2024", "code": BA_DINH, "x": 1}})),
                Some("unit.x"),
            ),
            // Changes to users.
            bad(M::PATCH, OP, json!([true]), None),
            bad(M::PATCH, OP, json!({"disabled": "yes"}), Some("disabled")),
            bad(M::PATCH, OP, json!({"enabled": false}), Some("enabled")),
            bad(
                M::PATCH,
                OP,
                json!({"unit": {"structure": "2024"}}),
                Some("unit.code"),
            ),
            bad(
                M::PATCH,
                OP,
                json!({"unit": ["2024", HOAN_KIEM]}),
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
    // The snapshot has every endpoint's vetting, every user's role, scope
    // and state, every session and every audit row.
    assert_eq!(w.snapshot().await, before);
}

async fn dialplan_route_and_grant_bodies_are_strict(w: World) {
    let before = w.snapshot().await;
    use Method as M;
    const SOURCE: &str = "[gateway]\nrealm = \"hanoi.gateway.local\"\n";
    const GRANTS: &str = "/api/v1/units/2024/001/recording-grants";
    refused(
        &w,
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
                json!({"caller": "bp-bd-1", "target": "100037", "secure": true}),
                Some("secure"),
            ),
            bad(
                M::POST,
                "/api/v1/route",
                json!({"caller": "anonymous", "target": "100037", "source": ["127.0.0.1"]}),
                Some("source"),
            ),
            bad(
                M::POST,
                "/api/v1/route",
                json!({"caller": "bp-bd-1"}),
                Some("target"),
            ),
            bad(
                M::POST,
                GRANTS,
                json!({"grantee": ["2024", HOAN_KIEM]}),
                Some("grantee"),
            ),
            bad(
                M::POST,
                GRANTS,
                json!({"grantee": unit(HOAN_KIEM), "until": 1900000000}),
                Some("until"),
            ),
            bad(
                M::POST,
                GRANTS,
                json!({"grantee": {"structure": "2024", "code": HOAN_KIEM, "name": "Hoàn Kiếm"}}),
                Some("grantee.name"),
            ),
        ],
    )
    .await;
    let (st, _, versions) = w.call(M::GET, "/api/v1/versions", Some("city"), None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(versions["versions"], json!([]), "{versions}");
    let (st, _, grants) = w.call(M::GET, GRANTS, Some("city"), None).await;
    assert_eq!(st, StatusCode::OK, "{grants}");
    assert_eq!(grants, json!([]));
    assert_eq!(w.snapshot().await, before);

    // The well-formed versions of the same bodies are accepted.
    let (st, _, body) = w
        .call(
            M::POST,
            "/api/v1/route",
            Some("city"),
            Some(json!({"caller": "anonymous", "target": "100037", "source": "127.0.0.1"})),
        )
        .await;
    assert_ne!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (st, _, body) = w
        .call(
            M::POST,
            GRANTS,
            Some("city"),
            Some(json!({"grantee": unit(HOAN_KIEM), "reason": "công văn 12"})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
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
    assert_eq!(operations, 43);
}
