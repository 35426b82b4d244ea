//! Users and sessions through the API: tokens expire and end at logout;
//! users are changed (role, scope, disabled) only within the actor's
//! subtree and its rights.

mod common;
use common::*;

on_both!(
    with World::new;
    tokens_expire_and_log_out,
    users_are_changed_within_the_subtree,
);

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
