//! Endpoints through the API: the role boundaries of a district's
//! administrator (404 outside its subtree, 403 for what it may see but not
//! change, nothing changed in the database either way), contacts with their
//! history, and requests refused as problem details.

mod common;
use common::*;

on_both!(
    with World::new;
    district_admin_boundaries,
    contacts_keep_their_history,
    bad_requests_are_problem_details,
);

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
