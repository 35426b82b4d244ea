//! The reorganisation on the real data: the shipped 2024 sample dialplan
//! (`dialplans/hanoi-2024.toml`, one bridge point per unit) imported and
//! adopted into the registry, the official map, a temporary SQLite file.

use std::collections::HashMap;
use std::path::PathBuf;

use gateway_admin::reorganize::{Assignment, ObjectKind, ReorgError, ReorgMap, ReorgRequest};
use gateway_admin::*;
use gateway_store::Store;
use sqlx::Row;

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const FILE: &str = "dialplans/hanoi-2024.toml";

/// Besides the sample, two meetings and a rule scoped to a unit, so that
/// every kind of object moves: a meeting of ward 00001 (merged into 00097
/// by the map), one of district 001 and a rule of ward 00007 (split).
const EXTRA: &str = r#"
[[meeting]]
number = "8100001"
name = "Giao ban Phúc Xá"
unit = "00001"

[[meeting]]
number = "8200001"
unit = "001"
classification = "confidential"

[[rule]]
name = "cong-vi-out"
match = { prefix = "099" }
from_unit = "00007"
action = "reject"
status = 403
"#;

fn actor() -> Actor {
    Actor {
        user: "test".into(),
        role: Role::CityAdmin,
        unit_scope: None,
    }
}

fn sqlite_url(tag: &str) -> (TempDir, String) {
    let dir = std::env::temp_dir().join(format!("gateway-reorg-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let url = format!("sqlite://{}", dir.join("gw.db").display());
    (TempDir(dir), url)
}

/// A fresh database on the server `GATEWAY_TEST_POSTGRES_URL` names
/// (`gateway/store/tests/pg.sh`), or `None`.
async fn pg_url(tag: &str) -> Option<String> {
    use sqlx::Connection;
    let base = std::env::var("GATEWAY_TEST_POSTGRES_URL").ok()?;
    sqlx::any::install_default_drivers();
    let name = format!("gw_reorg_{tag}_{}", std::process::id());
    let mut c = sqlx::AnyConnection::connect(&base).await.unwrap();
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
        .execute(&mut c)
        .await
        .unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut c)
        .await
        .unwrap();
    c.close().await.ok();
    let (head, query) = match base.split_once('?') {
        Some((h, q)) => (h, format!("?{q}")),
        None => (base.as_str(), String::new()),
    };
    let scheme_end = head.find("://").map(|i| i + 3).unwrap_or(0);
    let host = match head[scheme_end..].find('/') {
        Some(i) => &head[..scheme_end + i],
        None => head,
    };
    Some(format!("{host}/{name}{query}"))
}

async fn setup(url: &str) -> (Admin, String) {
    let store = Store::connect(url).await.unwrap();
    let admin = Admin::new(
        store.clone(),
        AdminConfig {
            realm: "hanoi.gateway.local".into(),
            ..AdminConfig::default()
        },
    );
    admin.import_city_units().await.unwrap();
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(FILE);
    let src = std::fs::read_to_string(&path).unwrap() + EXTRA;
    let dp = gateway_dialplan::Dialplan::parse(&src, FILE).unwrap();
    assert_eq!(store.import_dialplan(&dp, &src, FILE).await.unwrap(), 1);
    let adopted = admin
        .adopt_dialplan_endpoints(Structure::Y2024)
        .await
        .unwrap();
    assert_eq!(adopted.added.len(), 557, "{:?}", adopted.skipped);
    for (name, role, unit) in USERS {
        admin
            .add_user(
                NewUser {
                    name: name.to_string(),
                    password: PASSWORD.into(),
                    role: *role,
                    unit: unit.map(|(s, c)| UnitRef::new(s, c)),
                },
                "test-setup",
            )
            .await
            .unwrap();
    }
    (admin, src)
}

const PASSWORD: &str = "correct horse battery";

/// Users scoped to a ward the map merges (00001 into 00097), a district
/// (split among new wards), a ward the map splits (00007), the 2024 city;
/// and two it leaves alone: the whole network and a 2025 ward.
const USERS: &[(&str, Role, Option<(Structure, &str)>)] = &[
    (
        "phuc-xa-op",
        Role::Operator,
        Some((Structure::Y2024, "00001")),
    ),
    (
        "ba-dinh-admin",
        Role::UnitAdmin,
        Some((Structure::Y2024, "001")),
    ),
    (
        "cong-vi-op",
        Role::Operator,
        Some((Structure::Y2024, "00007")),
    ),
    (
        "city-2024-admin",
        Role::CityAdmin,
        Some((Structure::Y2024, "01")),
    ),
    ("network-admin", Role::CityAdmin, None),
    (
        "new-ward-op",
        Role::Operator,
        Some((Structure::Y2025, "00097")),
    ),
];

/// name → "STRUCTURE/CODE" (empty: the whole network) of every user.
async fn user_scopes(admin: &Admin) -> HashMap<String, String> {
    sqlx::query(
        "SELECT name, COALESCE(scope_structure, '') AS s, COALESCE(scope_code, '') AS c FROM adm_users",
    )
    .fetch_all(admin.store().pool())
    .await
    .unwrap()
    .iter()
    .map(|r| {
        let (s, c): (String, String) = (r.get("s"), r.get("c"));
        let scope = if s.is_empty() { String::new() } else { format!("{s}/{c}") };
        (r.get::<String, _>("name"), scope)
    })
    .collect()
}

fn request(assignments: Vec<Assignment>, dry_run: bool) -> ReorgRequest {
    ReorgRequest {
        map: ReorgMap::parse(data::REORGANISATION_2025, "hanoi-reorganisation-2025.json").unwrap(),
        assignments,
        dry_run,
    }
}

/// (structure, unit) of every registry endpoint.
async fn registry(admin: &Admin) -> HashMap<String, (String, String)> {
    sqlx::query("SELECT id, unit_structure, unit_code FROM adm_endpoints")
        .fetch_all(admin.store().pool())
        .await
        .unwrap()
        .iter()
        .map(|r| {
            (
                r.get::<String, _>(0),
                (r.get::<String, _>(1), r.get::<String, _>(2)),
            )
        })
        .collect()
}

async fn audit_count(admin: &Admin, action: &str) -> i64 {
    sqlx::query("SELECT COUNT(*) FROM adm_audit WHERE action = $1")
        .bind(action)
        .fetch_one(admin.store().pool())
        .await
        .unwrap()
        .get::<i64, _>(0)
}

#[tokio::test]
async fn hanoi_2024_to_2025_sqlite() {
    let (_dir, url) = sqlite_url("hanoi");
    hanoi_2024_to_2025(&url).await;
}

#[tokio::test]
async fn hanoi_2024_to_2025_postgres() {
    match pg_url("hanoi").await {
        Some(url) => hanoi_2024_to_2025(&url).await,
        None => eprintln!("GATEWAY_TEST_POSTGRES_URL not set: PostgreSQL run skipped"),
    }
}

/// A failure late in the transaction (storing the new dialplan version).
async fn inject_failure(admin: &Admin, on: bool) {
    let pool = admin.store().pool();
    let sql: &[&str] = match (admin.store().backend(), on) {
        (gateway_store::Backend::Sqlite, true) => &[
            "CREATE TRIGGER reorg_fail BEFORE INSERT ON dialplan_versions \
             BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
        ],
        (gateway_store::Backend::Sqlite, false) => &["DROP TRIGGER reorg_fail"],
        (gateway_store::Backend::Postgres, true) => &[
            "CREATE FUNCTION reorg_fail() RETURNS trigger AS \
             'BEGIN RAISE EXCEPTION ''injected failure''; END' LANGUAGE plpgsql",
            "CREATE TRIGGER reorg_fail BEFORE INSERT ON dialplan_versions \
             FOR EACH ROW EXECUTE FUNCTION reorg_fail()",
        ],
        (gateway_store::Backend::Postgres, false) => &[
            "DROP TRIGGER reorg_fail ON dialplan_versions",
            "DROP FUNCTION reorg_fail()",
        ],
    };
    for q in sql {
        sqlx::query(q).execute(pool).await.unwrap();
    }
}

async fn hanoi_2024_to_2025(url: &str) {
    let (admin, _src) = setup(url).await;
    let before_registry = registry(&admin).await;
    assert!(before_registry.values().all(|(s, _)| s == "2024"));
    let before_users = user_scopes(&admin).await;
    let token = admin.login("phuc-xa-op", PASSWORD).await.unwrap().token;

    // Dry run, no decisions: what the map decides, and the rest listed.
    let dry = admin
        .reorganize(&actor(), &request(vec![], true))
        .await
        .unwrap();
    let text = dry.render();
    println!("{text}");
    let p = &dry.plan;
    assert_eq!(
        p.moved(ObjectKind::Endpoint),
        399,
        "526 − 128 split wards, and the city"
    );
    assert_eq!(
        p.awaiting(ObjectKind::Endpoint),
        158,
        "128 split wards and 30 districts"
    );
    assert_eq!((p.mapped_units, p.split_units), (526, 128));
    assert_eq!(p.moved(ObjectKind::Meeting), 1);
    assert_eq!(p.awaiting(ObjectKind::Meeting), 1);
    assert_eq!(p.awaiting(ObjectKind::Rule), 1);
    assert_eq!(p.moved(ObjectKind::Rule), 1, "pstn, of the city");
    assert_eq!(p.moved(ObjectKind::Trunk), 3);
    // Users: the merged ward's and the city's by the map; the district's
    // and the split ward's wait for a decision of their own.
    assert_eq!(p.moved(ObjectKind::User), 2);
    assert_eq!(p.awaiting(ObjectKind::User), 2);
    let user_move = |name: &str| {
        p.moves
            .iter()
            .find(|m| m.object.kind == ObjectKind::User && m.object.id == name)
            .map(|m| m.to.as_str())
    };
    assert_eq!(user_move("phuc-xa-op"), Some("00097"));
    assert_eq!(user_move("city-2024-admin"), Some("01"));
    assert!(text.contains("user phuc-xa-op [registry]: 2024/00001 Phường Phúc Xá → 2025/00097"));
    let cong_vi = p
        .pending
        .iter()
        .find(|q| q.object.key() == "user:cong-vi-op")
        .unwrap();
    assert_eq!(cong_vi.candidates, ["00008", "00025"]);
    assert!(text.contains("user:ba-dinh-admin=    # [registry] in 2024/001 Quận Ba Đình: one of "));
    assert!(text.contains("user 2 moved, 2 awaiting"), "{text}");
    let scopes = dry.before.get("registry user scopes").unwrap();
    assert_eq!((scopes.y2024, scopes.y2025), (4, 1));
    let ep = |id: &str| p.moves.iter().find(|m| m.object.id == id);
    assert_eq!(ep("bp-00001").unwrap().to, "00097");
    assert!(
        ep("bp-00001").unwrap().object.in_registry && ep("bp-00001").unwrap().object.in_dialplan
    );
    assert!(text.contains(
        "endpoint bp-00001 [registry, dialplan]: 2024/00001 Phường Phúc Xá → 2025/00097"
    ));
    let split = p
        .pending
        .iter()
        .find(|q| q.object.id == "bp-00007")
        .unwrap();
    assert_eq!(split.candidates, ["00008", "00025"]);
    assert!(text.contains(
        "endpoint:bp-00007=    # [registry, dialplan] in 2024/00007 Phường Cống Vị: one of 00008 "
    ));
    for row in &dry.before.rows {
        assert_eq!(
            dry.after.get(row.what).unwrap().total(),
            row.total(),
            "{}",
            row.what
        );
    }
    assert_eq!(dry.before.get("registry endpoints").unwrap().y2024, 557);
    assert_eq!(dry.before.get("dialplan meetings").unwrap().y2024, 2);
    assert!(text.ends_with("dry run: nothing changed"));
    assert_eq!(registry(&admin).await, before_registry);

    // Applying with decisions missing changes nothing and says what waits.
    let e = admin
        .reorganize(&actor(), &request(vec![], false))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ReorgError::Undecided(v) if v.len() == 162),
        "{e}"
    );
    assert!(e.to_string().contains("endpoint:bp-001 in 2024/001"), "{e}");
    assert!(
        e.to_string().contains("user:ba-dinh-admin in 2024/001"),
        "{e}"
    );
    assert_eq!(registry(&admin).await, before_registry);
    assert_eq!(user_scopes(&admin).await, before_users);
    assert_eq!(
        admin
            .store()
            .dialplan_version()
            .await
            .unwrap()
            .unwrap()
            .version,
        1
    );

    // A human decides (here: the first candidate), as a decisions file.
    let lines: String = p
        .pending
        .iter()
        .map(|q| format!("{}={}  # test\n", q.object.key(), q.candidates[0]))
        .collect();
    let decisions = Assignment::parse_file(&lines, "decisions.txt").unwrap();

    // A failure late in the transaction (storing the new dialplan version)
    // undoes the registry's moves and audit rows as well.
    inject_failure(&admin, true).await;
    let e = admin
        .reorganize(&actor(), &request(decisions.clone(), false))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("injected failure"), "{e}");
    assert_eq!(registry(&admin).await, before_registry);
    assert_eq!(user_scopes(&admin).await, before_users);
    assert_eq!(audit_count(&admin, "endpoint.reorganize").await, 0);
    assert_eq!(audit_count(&admin, "user.reorganize").await, 0);
    inject_failure(&admin, false).await;

    // Dry run with every decision: measured in the transaction, rolled back.
    let dry = admin
        .reorganize(&actor(), &request(decisions.clone(), true))
        .await
        .unwrap();
    assert!(dry.plan.pending.is_empty());
    assert_eq!(dry.dialplan.as_ref().unwrap().new_version, Some(2));
    assert_eq!(registry(&admin).await, before_registry);
    assert_eq!(user_scopes(&admin).await, before_users);
    assert_eq!(
        admin
            .store()
            .dialplan_version()
            .await
            .unwrap()
            .unwrap()
            .version,
        1
    );

    let done = admin
        .reorganize(&actor(), &request(decisions, false))
        .await
        .unwrap();
    println!("{}", done.render());
    assert!(done.applied);
    for row in &done.before.rows {
        let after = done.after.get(row.what).unwrap();
        assert_eq!(after.total(), row.total(), "{}", row.what);
        assert_eq!(after.y2024, 0, "{}", row.what);
    }
    assert_eq!(done.after.get("registry endpoints").unwrap().y2025, 557);
    assert_eq!(done.after.get("registry numbers").unwrap().y2025, 557);
    assert_eq!(done.after.get("dialplan rules").unwrap().y2025, 7);

    // The database: every endpoint in the unit the plan gave it, in the
    // registry and in the new dialplan version; numbers kept.
    let planned: HashMap<&str, &str> = done
        .plan
        .moves
        .iter()
        .filter(|m| m.object.kind == ObjectKind::Endpoint)
        .map(|m| (m.object.id.as_str(), m.to.as_str()))
        .collect();
    assert_eq!(planned.len(), 557);
    let after_registry = registry(&admin).await;
    for (id, (s, code)) in &after_registry {
        assert_eq!(
            (s.as_str(), code.as_str()),
            ("2025", planned[id.as_str()]),
            "{id}"
        );
    }
    assert_eq!(after_registry["bp-00001"].1, "00097");
    assert_eq!(after_registry["bp-01"].1, "01");
    let v = admin.store().dialplan_version().await.unwrap().unwrap();
    assert_eq!(
        (v.version, v.file_name.as_str()),
        (2, "dialplans/hanoi-2024.reorganised-2025.toml")
    );
    let dp = admin.store().load_dialplan().await.unwrap().unwrap();
    assert_eq!(dp.units().len(), 127);
    assert_eq!(dp.endpoints().len(), 557);
    for e in dp.endpoints() {
        assert_eq!(e.unit, planned[e.id.as_str()], "{}", e.id);
    }
    assert_eq!(dp.endpoint("bp-00001").unwrap().numbers, ["300001"]);
    assert_eq!(dp.meetings()[0].unit, "00097");
    let view = admin.get_endpoint(&actor(), "bp-00001").await.unwrap();
    assert_eq!(view.numbers, ["300001"]);
    assert_eq!(audit_count(&admin, "endpoint.reorganize").await, 557);
    assert_eq!(audit_count(&admin, "user.reorganize").await, 4);
    let scopes = done.after.get("registry user scopes").unwrap();
    assert_eq!((scopes.y2024, scopes.y2025), (0, 5));

    // Users: re-scoped as planned (the decisions took the first candidate),
    // the others as they were; a session keeps working, in the new scope.
    let users = user_scopes(&admin).await;
    let first = |key: &str| {
        p.pending
            .iter()
            .find(|q| q.object.key() == key)
            .unwrap()
            .candidates[0]
            .clone()
    };
    assert_eq!(users["phuc-xa-op"], "2025/00097");
    assert_eq!(users["city-2024-admin"], "2025/01");
    assert_eq!(
        users["cong-vi-op"],
        format!("2025/{}", first("user:cong-vi-op"))
    );
    assert_eq!(
        users["ba-dinh-admin"],
        format!("2025/{}", first("user:ba-dinh-admin"))
    );
    assert_eq!(users["network-admin"], "");
    assert_eq!(users["new-ward-op"], "2025/00097");
    let session = admin.authenticate(&token).await.unwrap();
    assert_eq!(
        session.unit_scope,
        Some(UnitRef::new(Structure::Y2025, "00097"))
    );
    let rows = admin
        .list_audit(
            &actor(),
            &AuditQuery {
                object_kind: Some("user".into()),
                object_id: Some("phuc-xa-op".into()),
                limit: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(rows[0].action, "user.reorganize");
    assert_eq!(rows[0].before.as_ref().unwrap()["unit"]["code"], "00001");
    assert_eq!(rows[0].after.as_ref().unwrap()["unit"]["code"], "00097");
    assert_eq!(rows[0].after.as_ref().unwrap()["decided_by"]["by"], "map");
    assert_eq!(audit_count(&admin, "units.reorganize").await, 1);
    assert_eq!(audit_count(&admin, "dialplan.reorganize").await, 1);

    // History: the 2024 version can be restored.
    let restored = admin.restore_version(&actor(), 1).await.unwrap();
    assert_eq!(restored.version.version, 3);
    let dp = admin.store().load_dialplan().await.unwrap().unwrap();
    assert_eq!(dp.units().len(), 557);
}

#[tokio::test]
async fn only_a_city_admin_of_the_whole_network() {
    let (_dir, url) = sqlite_url("scope");
    let admin = Admin::new(Store::connect(&url).await.unwrap(), AdminConfig::default());
    admin.import_city_units().await.unwrap();
    let mut a = actor();
    a.role = Role::UnitAdmin;
    let e = admin
        .reorganize(&a, &request(vec![], true))
        .await
        .unwrap_err();
    assert!(matches!(e, ReorgError::Forbidden(_)), "{e}");
    let mut a = actor();
    a.unit_scope = Some(UnitRef::new(Structure::Y2024, "001"));
    let e = admin
        .reorganize(&a, &request(vec![], true))
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("city-admin of the whole network"),
        "{e}"
    );
}
