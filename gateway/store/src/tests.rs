//! Every test body runs against a fresh SQLite file and, when
//! `GATEWAY_TEST_POSTGRES_URL` names a PostgreSQL server (see `tests/pg.sh`),
//! against a fresh PostgreSQL database too.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use gateway_dialplan::{Caller, Credentials, Dialplan, RouteOutcome, RouteRequest};
use sqlx::{Connection, Row};

use super::*;

const LOOPBACK: &str = include_str!("../../../dialplans/loopback.toml");
const HANOI_2024: &str = include_str!("../../../dialplans/hanoi-2024.toml");
const HANOI_2025: &str = include_str!("../../../dialplans/hanoi-2025.toml");
const UNITS_2024: &str = include_str!("../../admin/data/hanoi-admin-units-3tier-2024.json");
const UNITS_2025: &str = include_str!("../../admin/data/hanoi-admin-units-2tier-2025.json");

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
    let root = std::env::temp_dir().join(format!("gateway-store-test-{}", unique()));
    // A nested path that does not exist yet: connect must create it.
    let file = root.join("var/lib/gateway/gateway.db");
    TestDb {
        url: format!("sqlite://{}", file.display()),
        dir: Some(root),
    }
}

async fn pg_db() -> Option<TestDb> {
    let base = std::env::var("GATEWAY_TEST_POSTGRES_URL").ok()?;
    sqlx::any::install_default_drivers();
    let name = format!("gw_test_{}", unique());
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
                super::$name(&db).await;
            }

            #[tokio::test]
            async fn postgres() {
                match super::pg_db().await {
                    Some(db) => super::$name(&db).await,
                    None => eprintln!("skipped: GATEWAY_TEST_POSTGRES_URL is not set"),
                }
            }
        }
    )*};
}

on_both!(
    empty_store,
    import_and_load,
    import_is_all_or_nothing,
    import_rejects_source_that_is_not_the_dialplan,
    concurrent_imports_agree,
    bindings_lifecycle,
    cdrs_roundtrip,
    cdr_batches_are_all_or_nothing,
    cdr_quality_columns_roundtrip,
    admin_units_import_and_subtree,
);

fn parse(src: &str, name: &str) -> Dialplan {
    Dialplan::parse(src, name).expect("sample dialplan parses")
}

async fn count(store: &Store, sql: &str) -> i64 {
    let row = sqlx::query(sql).fetch_one(store.pool()).await.expect(sql);
    row.try_get::<i64, _>(0).expect("count is an integer")
}

async fn empty_store(db: &TestDb) {
    let store = Store::connect(&db.url).await.expect("connect");
    let want = if db.url.starts_with("postgres") {
        Backend::Postgres
    } else {
        Backend::Sqlite
    };
    assert_eq!(store.backend(), want);
    assert!(store.load_dialplan().await.unwrap().is_none());
    assert!(store.dialplan_version().await.unwrap().is_none());
    assert!(store.load_bindings(0).await.unwrap().is_empty());
    assert!(store.list_cdrs(10).await.unwrap().is_empty());
    store.close().await;
    // Migrations already applied: connecting again changes nothing.
    let store = Store::connect(&db.url).await.expect("reconnect");
    assert_eq!(count(&store, "SELECT COUNT(*) FROM units").await, 0);
}

async fn import_and_load(db: &TestDb) {
    let store = Store::connect(&db.url).await.unwrap();
    let loop_dp = parse(LOOPBACK, "dialplans/loopback.toml");
    let v1 = store
        .import_dialplan(&loop_dp, LOOPBACK, "dialplans/loopback.toml")
        .await
        .unwrap();
    assert_eq!(v1, 1);
    // The same text again is no new version.
    assert_eq!(
        store
            .import_dialplan(&loop_dp, LOOPBACK, "dialplans/loopback.toml")
            .await
            .unwrap(),
        1
    );
    let loaded = store.load_dialplan().await.unwrap().expect("a dialplan");
    assert_eq!(loaded.endpoints(), loop_dp.endpoints());
    assert_eq!(
        loaded.endpoint("1002").unwrap().credentials,
        Credentials::Password("pass1002".into())
    );
    let r = loaded.route(&RouteRequest {
        caller: Caller::Endpoint("1001".into()),
        from_user: None,
        target: "1002".into(),
        transport_secure: false,
        at_unix_secs: 0,
    });
    assert_eq!(r.outcome, RouteOutcome::Endpoint { id: "1002".into() });

    let hanoi = parse(HANOI_2024, "dialplans/hanoi-2024.toml");
    let started = std::time::Instant::now();
    let v2 = store
        .import_dialplan(&hanoi, HANOI_2024, "dialplans/hanoi-2024.toml")
        .await
        .unwrap();
    // Informational only: no timing decides pass or fail.
    eprintln!(
        "{:?}: imported 557 units and endpoints in {:?}",
        store.backend(),
        started.elapsed()
    );
    assert_eq!(v2, 2);
    let ver = store.dialplan_version().await.unwrap().unwrap();
    assert_eq!(ver.version, 2);
    assert_eq!(ver.file_name, "dialplans/hanoi-2024.toml");
    assert_eq!(
        ver.sha256,
        hex::encode(sha2::Sha256::digest(HANOI_2024.as_bytes()))
    );
    assert!(ver.imported_at_unix > 1_700_000_000);

    // The normalized tables answer admin questions directly.
    assert_eq!(count(&store, "SELECT COUNT(*) FROM units").await, 557);
    assert_eq!(count(&store, "SELECT COUNT(*) FROM endpoints").await, 557);
    assert_eq!(
        count(&store, "SELECT COUNT(*) FROM endpoint_numbers").await,
        557
    );
    assert_eq!(
        count(&store, "SELECT COUNT(*) FROM endpoint_aliases").await,
        557
    );
    assert_eq!(count(&store, "SELECT COUNT(*) FROM trunks").await, 3);
    assert_eq!(count(&store, "SELECT COUNT(*) FROM trunk_acl").await, 3);
    assert_eq!(count(&store, "SELECT COUNT(*) FROM rules").await, 6);
    let in_ba_dinh = hanoi
        .units()
        .iter()
        .filter(|u| u.parent.as_deref() == Some("001"))
        .count() as i64;
    assert!(in_ba_dinh > 10);
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM endpoints e JOIN units u ON u.code = e.unit_code WHERE u.parent_code = '001'"
        )
        .await,
        in_ba_dinh
    );
    let row = sqlx::query(
        "SELECT r.action, r.target_trunk, r.rewrite, r.from_unit, r.caller_id, r.max_duration_secs, n.number \
         FROM rules r, endpoint_numbers n WHERE r.name = $1 AND n.endpoint_id = $2",
    )
    .bind("pstn")
    .bind("bp-00004")
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!(row.try_get::<String, _>("action").unwrap(), "trunk");
    assert_eq!(
        row.try_get::<Option<String>, _>("target_trunk")
            .unwrap()
            .as_deref(),
        Some("carrier")
    );
    assert_eq!(
        row.try_get::<Option<String>, _>("rewrite")
            .unwrap()
            .as_deref(),
        Some("84$1")
    );
    assert_eq!(
        row.try_get::<Option<String>, _>("from_unit")
            .unwrap()
            .as_deref(),
        Some("01")
    );
    assert_eq!(
        row.try_get::<Option<i64>, _>("max_duration_secs").unwrap(),
        Some(3600)
    );
    assert_eq!(row.try_get::<String, _>("number").unwrap(), "300004");

    let loaded = store.load_dialplan().await.unwrap().unwrap();
    assert_eq!(loaded.units(), hanoi.units());
    assert_eq!(loaded.rules(), hanoi.rules());

    // The two-tier structure replaces the three-tier one entirely.
    let h25 = parse(HANOI_2025, "dialplans/hanoi-2025.toml");
    assert_eq!(
        store
            .import_dialplan(&h25, HANOI_2025, "dialplans/hanoi-2025.toml")
            .await
            .unwrap(),
        3
    );
    assert_eq!(count(&store, "SELECT COUNT(*) FROM units").await, 127);
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM units WHERE kind LIKE '%district'"
        )
        .await,
        0
    );
    let versions = store.dialplan_versions(10).await.unwrap();
    assert_eq!(
        versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        [3, 2, 1]
    );
    let (file, src) = store.dialplan_source(1).await.unwrap().unwrap();
    assert_eq!(
        (file.as_str(), src.as_str()),
        ("dialplans/loopback.toml", LOOPBACK)
    );
    assert!(store.dialplan_source(9).await.unwrap().is_none());
}

async fn import_is_all_or_nothing(db: &TestDb) {
    let store = Store::connect(&db.url).await.unwrap();
    let loop_dp = parse(LOOPBACK, "loopback.toml");
    store
        .import_dialplan(&loop_dp, LOOPBACK, "loopback.toml")
        .await
        .unwrap();
    let hanoi = parse(HANOI_2024, "hanoi-2024.toml");
    for stage in ["dialplan_versions", "units", "endpoints", "rules"] {
        let err = store
            .import_inner(&hanoi, HANOI_2024, "hanoi-2024.toml", Some(stage))
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Injected(s) if s == stage),
            "{err}"
        );
        assert_eq!(
            store.dialplan_version().await.unwrap().unwrap().version,
            1,
            "after {stage}"
        );
        // The loopback fixture's own counts: it grows with the interop tests.
        assert_eq!(
            count(&store, "SELECT COUNT(*) FROM units").await,
            loop_dp.units().len() as i64,
            "after {stage}"
        );
        assert_eq!(
            count(&store, "SELECT COUNT(*) FROM endpoints").await,
            loop_dp.endpoints().len() as i64,
            "after {stage}"
        );
        assert_eq!(
            count(&store, "SELECT COUNT(*) FROM rules").await,
            loop_dp.rules().len() as i64,
            "after {stage}"
        );
    }
    let loaded = store.load_dialplan().await.unwrap().unwrap();
    assert_eq!(loaded.endpoints(), loop_dp.endpoints());
    // And a clean attempt afterwards succeeds.
    assert_eq!(
        store
            .import_dialplan(&hanoi, HANOI_2024, "hanoi-2024.toml")
            .await
            .unwrap(),
        2
    );
}

async fn import_rejects_source_that_is_not_the_dialplan(db: &TestDb) {
    let store = Store::connect(&db.url).await.unwrap();
    let loop_dp = parse(LOOPBACK, "loopback.toml");
    let err = store
        .import_dialplan(&loop_dp, HANOI_2025, "hanoi-2025.toml")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::DialplanMismatch { .. }), "{err}");
    let err = store
        .import_dialplan(&loop_dp, "[[unit]]\ncode = 1\n", "broken.toml")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("broken.toml:2:8"), "{err}");
    assert!(store.dialplan_version().await.unwrap().is_none());
}

async fn concurrent_imports_agree(db: &TestDb) {
    // Separate pools, as separate gateway nodes would have.
    let a = Store::connect(&db.url).await.unwrap();
    let b = Store::connect(&db.url).await.unwrap();
    let c = Store::connect(&db.url).await.unwrap();
    let hanoi = parse(HANOI_2025, "hanoi-2025.toml");
    let (ra, rb, rc) = tokio::join!(
        a.import_dialplan(&hanoi, HANOI_2025, "hanoi-2025.toml"),
        b.import_dialplan(&hanoi, HANOI_2025, "hanoi-2025.toml"),
        c.import_dialplan(&hanoi, HANOI_2025, "hanoi-2025.toml"),
    );
    assert_eq!((ra.unwrap(), rb.unwrap(), rc.unwrap()), (1, 1, 1));
    assert_eq!(a.dialplan_versions(10).await.unwrap().len(), 1);
    assert_eq!(count(&a, "SELECT COUNT(*) FROM units").await, 127);
}

fn binding(endpoint: &str, contact: &str, expires: i64) -> Binding {
    Binding {
        endpoint_id: endpoint.into(),
        contact_uri: contact.into(),
        received: Some("127.0.0.1:5062".into()),
        transport: "udp".into(),
        path: vec![],
        instance_id: None,
        reg_id: None,
        expires_at_unix: expires,
        call_id: format!("reg-{endpoint}"),
        cseq: 1,
        user_agent: Some("SIPp".into()),
    }
}

async fn bindings_lifecycle(db: &TestDb) {
    let store = Store::connect(&db.url).await.unwrap();
    let now = 1_800_000_000;
    let a = binding("1001", "sip:1001@127.0.0.1:5062", now + 3600);
    let mut b = binding("1001", "sip:1001@10.0.0.2:5060;transport=tcp", now + 60);
    b.path = vec![
        "<sip:edge1.example;lr>".into(),
        "<sip:edge2.example;lr;ob>".into(),
    ];
    b.instance_id = Some("<urn:uuid:00000000-0000-1000-8000-000a95a0e128>".into());
    b.reg_id = Some(1);
    b.transport = "tcp".into();
    b.received = None;
    b.user_agent = None;
    let c = binding("1002", "sip:1002@127.0.0.1:5064", now - 1);
    for x in [&a, &b, &c] {
        store.upsert_binding(x).await.unwrap();
    }
    // c has expired; ordered by endpoint then contact.
    assert_eq!(
        store.load_bindings(now).await.unwrap(),
        vec![b.clone(), a.clone()]
    );
    // Expiring exactly now counts as expired.
    assert_eq!(
        store.load_bindings(now + 60).await.unwrap(),
        vec![a.clone()]
    );

    // A refresh replaces the binding in place.
    let mut a2 = a.clone();
    a2.expires_at_unix = now + 7200;
    a2.cseq = 2;
    a2.received = Some("127.0.0.1:6000".into());
    store.upsert_binding(&a2).await.unwrap();
    let all = store.load_bindings(now).await.unwrap();
    assert_eq!(all.len(), 2);
    assert!(all.contains(&a2));
    assert_eq!(store.bindings_of("1001", now).await.unwrap().len(), 2);
    assert!(store.bindings_of("1002", now).await.unwrap().is_empty());

    assert!(store.delete_binding("1001", &b.contact_uri).await.unwrap());
    assert!(!store.delete_binding("1001", &b.contact_uri).await.unwrap());
    assert_eq!(store.load_bindings(now).await.unwrap(), vec![a2.clone()]);

    assert_eq!(store.purge_expired(now).await.unwrap(), 1); // c
    assert_eq!(store.purge_expired(now).await.unwrap(), 0);
    assert_eq!(count(&store, "SELECT COUNT(*) FROM bindings").await, 1);
    assert_eq!(store.delete_bindings_of("1001").await.unwrap(), 1);
    assert!(store.load_bindings(0).await.unwrap().is_empty());

    // Many bindings load in one query.
    for i in 0..300 {
        store
            .upsert_binding(&binding(
                &format!("bp-{i:05}"),
                &format!("sip:x@10.1.{}.{}", i / 200, i % 200),
                now + 10,
            ))
            .await
            .unwrap();
    }
    assert_eq!(store.load_bindings(now).await.unwrap().len(), 300);
}

fn cdr(call_id: &str, started: i64, outcome: &str) -> Cdr {
    Cdr {
        call_id: call_id.into(),
        from_uri: "sip:1001@gateway.local".into(),
        to_uri: "sip:1002@gateway.local".into(),
        caller: "endpoint:1001".into(),
        callee: "1002".into(),
        unit: Some("01".into()),
        started_at_ms: started,
        answered_at_ms: Some(started + 1500),
        ended_at_ms: started + 61_500,
        outcome: outcome.into(),
        sip_status: 200,
        reason: "OK".into(),
        duration_ms: 60_000,
        rtp_packets_in: 3000,
        rtp_packets_out: 2999,
        ..Default::default()
    }
}

async fn cdrs_roundtrip(db: &TestDb) {
    let store = Store::connect(&db.url).await.unwrap();
    let t = 1_800_000_000_000;
    let a = cdr("a@x", t, "answered");
    let mut b = cdr("b@x", t + 10, "rejected");
    b.answered_at_ms = None;
    b.sip_status = 603;
    b.reason = "Decline".into();
    b.unit = None;
    b.duration_ms = 0;
    let c = cdr("c@x", t + 20, "cancelled");
    for x in [&a, &b, &c] {
        store.insert_cdr(x).await.unwrap();
    }
    assert_eq!(
        store.list_cdrs(2).await.unwrap(),
        vec![c.clone(), b.clone()]
    );
    assert_eq!(store.list_cdrs(10).await.unwrap(), vec![c, b, a.clone()]);
    // The same call twice is a constraint violation, not a silent duplicate.
    assert!(matches!(
        store.insert_cdr(&a).await,
        Err(StoreError::Database(_))
    ));
    let err = store
        .insert_cdr(&cdr("d@x", t, "exploded"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Invalid {
                field: "cdr.outcome",
                ..
            }
        ),
        "{err}"
    );
    // The database itself refuses outcomes outside the list.
    let raw = sqlx::query(
        "INSERT INTO cdrs (call_id, started_at_ms, ended_at_ms, from_uri, to_uri, caller, callee, outcome, \
         sip_status, reason, duration_ms, rtp_packets_in, rtp_packets_out) \
         VALUES ('e', 1, 2, 'f', 't', 'c', 'd', 'exploded', 500, 'x', 0, 0, 0)",
    )
    .execute(store.pool())
    .await;
    assert!(raw.is_err());
}

async fn cdr_batches_are_all_or_nothing(db: &TestDb) {
    let store = Store::connect(&db.url).await.unwrap();
    let t = 1_700_000_000_000;
    // More rows than one multi-row INSERT chunk holds.
    let batch: Vec<Cdr> = (0..250)
        .map(|i| cdr(&format!("{i}@batch"), t + i, "answered"))
        .collect();
    store.insert_cdrs(&batch).await.unwrap();
    assert_eq!(store.list_cdrs(1000).await.unwrap().len(), 250);
    // A duplicate inside the next batch refuses the whole batch.
    let mut second: Vec<Cdr> = (0..3)
        .map(|i| cdr(&format!("{i}@second"), t + 1000 + i, "busy"))
        .collect();
    second.push(batch[7].clone());
    assert!(store.insert_cdrs(&second).await.is_err());
    assert_eq!(store.list_cdrs(1000).await.unwrap().len(), 250);
    store.insert_cdrs(&[]).await.unwrap();
}

async fn cdr_quality_columns_roundtrip(db: &TestDb) {
    let store = Store::connect(&db.url).await.unwrap();
    let t = 1_750_000_000_000;
    let full = Cdr {
        mos_a: Some(4.1234),
        mos_b: Some(3.5),
        loss_pct_a: Some(10.0),
        loss_pct_b: Some(0.0),
        jitter_ms_a: Some(12.625),
        jitter_ms_b: Some(0.125),
        rtt_ms: Some(187),
        ..cdr("q1@x", t, "answered")
    };
    // Only one leg measured, no RTCP: the rest stays NULL.
    let partial = Cdr {
        mos_a: Some(4.39),
        loss_pct_a: Some(0.5),
        jitter_ms_a: Some(3.0),
        ..cdr("q2@x", t + 1, "answered")
    };
    // Not a number is "not measured", on both databases alike.
    let nan = Cdr {
        mos_b: Some(f64::NAN),
        jitter_ms_b: Some(f64::INFINITY),
        rtt_ms: Some(u32::MAX),
        ..cdr("q3@x", t + 2, "answered")
    };
    store
        .insert_cdrs(&[full.clone(), partial.clone(), nan.clone()])
        .await
        .unwrap();
    let got = store.list_cdrs(10).await.unwrap();
    let nan_stored = Cdr {
        mos_b: None,
        jitter_ms_b: None,
        ..nan
    };
    assert_eq!(got, vec![nan_stored, partial, full]);
    assert_eq!(got[0].rtt_ms, Some(u32::MAX));
    assert_eq!(got[2].mos_a, Some(4.1234));
    // Rows written without the columns (older gateways) read back as None.
    sqlx::query(
        "INSERT INTO cdrs (call_id, started_at_ms, ended_at_ms, from_uri, to_uri, caller, callee, outcome, \
         sip_status, reason, duration_ms, rtp_packets_in, rtp_packets_out) \
         VALUES ('old', 1, 2, 'f', 't', 'c', 'd', 'failed', 500, 'x', 0, 0, 0)",
    )
    .execute(store.pool())
    .await
    .unwrap();
    let old = store.list_cdrs(10).await.unwrap().pop().unwrap();
    assert_eq!(old.call_id, "old");
    assert_eq!((old.mos_a, old.loss_pct_b, old.rtt_ms), (None, None, None));
    // A CDR serialized before the fields existed still deserializes.
    let mut json = serde_json::to_value(&old).unwrap();
    for k in [
        "mos_a",
        "mos_b",
        "loss_pct_a",
        "loss_pct_b",
        "jitter_ms_a",
        "jitter_ms_b",
        "rtt_ms",
    ] {
        json.as_object_mut().unwrap().remove(k);
    }
    assert_eq!(serde_json::from_value::<Cdr>(json).unwrap(), old);
}

/// Counts straight from the JSON: (units, districts, children of `district`).
fn json_counts(json: &str, district: u64) -> (usize, usize, usize) {
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    let kids = v["city"]["children"].as_array().unwrap();
    let grandchildren: usize = kids
        .iter()
        .map(|k| k["children"].as_array().map_or(0, |c| c.len()))
        .sum();
    let of_district = kids
        .iter()
        .find(|k| k["code"].as_u64() == Some(district))
        .and_then(|k| k["children"].as_array().map(|c| c.len()))
        .unwrap_or(0);
    (1 + kids.len() + grandchildren, kids.len(), of_district)
}

async fn admin_units_import_and_subtree(db: &TestDb) {
    use unicode_normalization::UnicodeNormalization;
    let store = Store::connect(&db.url).await.unwrap();
    let (total24, districts, in_ba_dinh) = json_counts(UNITS_2024, 1);
    assert_eq!((total24, districts), (557, 30));
    assert!(in_ba_dinh > 10);
    let (total25, wards25, _) = json_counts(UNITS_2025, 0);
    assert_eq!((total25, wards25), (127, 126));

    let s24 = store
        .import_units(Structure::Y2024, UNITS_2024)
        .await
        .unwrap();
    assert_eq!(
        s24,
        UnitImport {
            inserted: 557,
            updated: 0,
            unchanged: 0
        }
    );
    let s25 = store
        .import_units(Structure::Y2025, UNITS_2025)
        .await
        .unwrap();
    assert_eq!(s25.inserted, 127);
    // Idempotent: the same files again change nothing.
    let again = store
        .import_units(Structure::Y2024, UNITS_2024)
        .await
        .unwrap();
    assert_eq!(
        again,
        UnitImport {
            inserted: 0,
            updated: 0,
            unchanged: 557
        }
    );
    assert_eq!(
        store
            .import_units(Structure::Y2025, UNITS_2025)
            .await
            .unwrap()
            .unchanged,
        127
    );
    assert_eq!(
        count(&store, "SELECT COUNT(*) FROM adm_units").await,
        557 + 127
    );
    assert_eq!(
        count(&store, "SELECT COUNT(*) FROM adm_units WHERE structure = '2024' AND kind IN ('urban_district', 'rural_district', 'town')").await,
        30
    );
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM adm_units WHERE structure = '2025' AND parent_code = '01'"
        )
        .await,
        126
    );
    // A changed name is an update, and only that.
    let renamed = UNITS_2025.replacen("Phường Hoàn Kiếm", "Phuong Hoan Kiem (test)", 1);
    assert_eq!(
        store
            .import_units(Structure::Y2025, &renamed)
            .await
            .unwrap(),
        UnitImport {
            inserted: 0,
            updated: 1,
            unchanged: 126
        }
    );
    store
        .import_units(Structure::Y2025, UNITS_2025)
        .await
        .unwrap();

    let city24 = UnitRef::new(Structure::Y2024, "01");
    let ba_dinh = UnitRef::new(Structure::Y2024, "001");
    let sub = store.unit_subtree(&ba_dinh).await.unwrap();
    assert_eq!(sub.len(), 1 + in_ba_dinh);
    assert_eq!(sub[0].code, "001");
    assert_eq!(sub[0].depth, 0);
    assert!(sub[1..]
        .iter()
        .all(|u| u.depth == 1 && u.parent_code.as_deref() == Some("001")));
    assert_eq!(store.unit_subtree(&city24).await.unwrap().len(), 557);
    let city25 = store
        .unit_subtree(&UnitRef::new(Structure::Y2025, "01"))
        .await
        .unwrap();
    assert_eq!(city25.len(), 127);
    assert!(store
        .unit_subtree(&UnitRef::new(Structure::Y2024, "999"))
        .await
        .unwrap()
        .is_empty());

    // Codes repeat across structures with other meanings.
    let truc_bach = store
        .admin_unit(&UnitRef::new(Structure::Y2024, "00004"))
        .await
        .unwrap()
        .unwrap();
    let ba_dinh25 = store
        .admin_unit(&UnitRef::new(Structure::Y2025, "00004"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(truc_bach.name, "Phường Trúc Bạch");
    assert_eq!(ba_dinh25.name, "Phường Ba Đình");
    assert_eq!(truc_bach.valid_to.as_deref(), Some("2025-07-01"));
    assert_eq!(ba_dinh25.valid_from.as_deref(), Some("2025-07-01"));
    for u in store.unit_subtree(&city24).await.unwrap() {
        assert_eq!(
            u.name,
            u.name.nfc().collect::<String>(),
            "{} is NFC",
            u.code
        );
    }

    assert!(store
        .unit_in_subtree(&ba_dinh, &truc_bach.unit_ref())
        .await
        .unwrap());
    assert!(store
        .unit_in_subtree(&city24, &truc_bach.unit_ref())
        .await
        .unwrap());
    assert!(store.unit_in_subtree(&ba_dinh, &ba_dinh).await.unwrap());
    assert!(!store
        .unit_in_subtree(
            &UnitRef::new(Structure::Y2024, "002"),
            &truc_bach.unit_ref()
        )
        .await
        .unwrap());
    assert!(!store
        .unit_in_subtree(&truc_bach.unit_ref(), &ba_dinh)
        .await
        .unwrap());
    assert!(!store
        .unit_in_subtree(&city24, &ba_dinh25.unit_ref())
        .await
        .unwrap());

    // A broken file changes nothing.
    assert!(store
        .import_units(Structure::Y2025, "{\"city\": 3}")
        .await
        .is_err());
    assert_eq!(
        count(&store, "SELECT COUNT(*) FROM adm_units").await,
        557 + 127
    );
}

#[test]
fn unit_refs_parse() {
    assert_eq!(
        UnitRef::parse("2024/001", Structure::Y2025),
        Some(UnitRef::new(Structure::Y2024, "001"))
    );
    assert_eq!(
        UnitRef::parse("00070", Structure::Y2025),
        Some(UnitRef::new(Structure::Y2025, "00070"))
    );
    assert_eq!(UnitRef::parse("2023/001", Structure::Y2025), None);
    assert_eq!(UnitRef::parse("2024/", Structure::Y2025), None);
    assert_eq!(UnitRef::parse("01; DROP", Structure::Y2025), None);
    assert_eq!(UnitRef::new(Structure::Y2025, "01").to_string(), "2025/01");
}

#[tokio::test]
async fn sqlite_file_is_created_in_wal_mode() {
    let db = sqlite_db();
    let path = db.url.strip_prefix("sqlite://").unwrap().to_string();
    assert!(!std::path::Path::new(&path).exists());
    let store = Store::connect(&db.url).await.unwrap();
    assert_eq!(store.backend(), Backend::Sqlite);
    assert!(std::path::Path::new(&path).is_file());
    let mode: String = sqlx::query("PRAGMA journal_mode")
        .fetch_one(store.pool())
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    assert_eq!(mode.to_lowercase(), "wal");
}

#[tokio::test]
async fn in_memory_sqlite_works() {
    let store = Store::connect("sqlite::memory:").await.unwrap();
    let dp = parse(LOOPBACK, "loopback.toml");
    assert_eq!(
        store
            .import_dialplan(&dp, LOOPBACK, "loopback.toml")
            .await
            .unwrap(),
        1
    );
    assert!(store.load_dialplan().await.unwrap().is_some());
}

#[tokio::test]
async fn unsupported_url_is_refused() {
    let err = Store::connect("mysql://localhost/x").await.unwrap_err();
    assert!(matches!(err, StoreError::UnsupportedUrl(_)), "{err}");
}

use sha2::Digest;
