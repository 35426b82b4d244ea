//! Vetting through the API: only a security reviewer approves or
//! suspends, and a changed device sends an approved endpoint back to
//! review.

mod common;
use common::*;

on_both!(
    with World::new;
    only_security_reviewer_vets,
    device_change_sends_approved_back_to_review,
);

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
