//! The dialplan through the API: endpoints adopted into the registry,
//! versions uploaded, diffed and restored, meetings, trunks and rules
//! scoped to the subtree, and "try a call".

mod common;
use common::*;

on_both!(
    with World::new;
    dialplan_endpoints_are_adopted,
    dialplan_versions_upload_diff_restore,
    dialplan_objects_are_scoped,
    route_tries_a_call,
);

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
