//! A dialplan change made by an administrator is stored with its audit row
//! in one transaction (SQLite file per test).

use gateway_dialplan::Dialplan;
use gateway_store::{DialplanAudit, Store};
use sqlx::Row;

const LOOPBACK: &str = include_str!("../../../dialplans/loopback.toml");

fn audit(action: &str) -> DialplanAudit {
    DialplanAudit {
        at_ms: 1_800_000_000_000,
        actor: "city".into(),
        actor_role: "city-admin".into(),
        action: action.into(),
        detail: serde_json::json!({"restored_from": 1}),
        unit: None,
    }
}

#[tokio::test]
async fn audited_import_writes_version_and_audit_together() {
    let dir = std::env::temp_dir().join(format!("gateway-store-dpaudit-{}", std::process::id()));
    let store = Store::connect(&format!("sqlite://{}", dir.join("s.db").display()))
        .await
        .unwrap();
    let dp = Dialplan::parse(LOOPBACK, "loopback.toml").unwrap();
    let first = store
        .import_dialplan_audited(&dp, LOOPBACK, "loopback.toml", &audit("dialplan.apply"))
        .await
        .unwrap();
    assert_eq!((first.version, first.created), (1, true));
    assert!(first.previous.is_none());

    // The same text again: nothing written, no audit row.
    let same = store
        .import_dialplan_audited(&dp, LOOPBACK, "loopback.toml", &audit("dialplan.apply"))
        .await
        .unwrap();
    assert_eq!((same.version, same.created), (1, false));

    let text2 = LOOPBACK.replace("max_duration_secs = 14400", "max_duration_secs = 7200");
    let dp2 = Dialplan::parse(&text2, "loopback.toml").unwrap();
    let second = store
        .import_dialplan_audited(&dp2, &text2, "loopback.toml", &audit("dialplan.restore"))
        .await
        .unwrap();
    assert_eq!((second.version, second.created), (2, true));
    assert_eq!(second.previous.as_ref().map(|p| p.version), Some(1));

    let rows = sqlx::query(
        "SELECT action, object_kind, object_id, before_json, after_json, unit_code FROM adm_audit ORDER BY id",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    assert_eq!(rows.len(), 2);
    let r = &rows[1];
    assert_eq!(r.get::<String, _>("action"), "dialplan.restore");
    assert_eq!(r.get::<String, _>("object_kind"), "dialplan");
    assert_eq!(r.get::<String, _>("object_id"), "2");
    assert!(r.get::<Option<String>, _>("unit_code").is_none());
    let before: serde_json::Value =
        serde_json::from_str(&r.get::<String, _>("before_json")).unwrap();
    let after: serde_json::Value = serde_json::from_str(&r.get::<String, _>("after_json")).unwrap();
    assert_eq!(before["version"], 1);
    assert_eq!(after["version"], 2);
    assert_eq!(after["restored_from"], 1);
    assert_eq!(after["sha256"].as_str().map(str::len), Some(64));
    assert!(rows[0].get::<Option<String>, _>("before_json").is_none());
    store.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}
