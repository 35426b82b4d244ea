//! Per-object writes to the dialplan's meetings, trunks and rules through
//! the API: delegated down the unit tree, each a new audited version made
//! by editing the current TOML in place.

mod common;
use common::*;

on_both!(
    with World::new;
    district_admin_changes_its_meetings_and_rules,
    trunks_are_written_without_leaking_passwords,
    refusals_write_nothing,
);

/// Two districts of the 2024 structure, with comments that must survive
/// every edit.
const DISTRICTS: &str = r#"# The city's test dialplan.
# Comments stay through per-object edits.

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

# Ba Đình's weekly briefing.
[[meeting]]
number = "8100"
name = "Giao ban Ba Đình" # the district's own name for it
unit = "001"
classification = "confidential"

[[meeting]]
number = "8200"
name = "Giao ban Hoàn Kiếm"
unit = "002"

[[meeting]]
number = "8000"
name = "Thành phố"
unit = "01"

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

# The carrier: whole network.
[[trunk]]
name = "carrier"
uri = "sip:10.0.9.1:5060"
username = "gw"
password = "carrier-secret"

# Ba Đình dials out over its own trunk.
[[rule]]
name = "bd-out"
match = { prefix = "0" }
from_unit = "001"
action = "trunk"
trunk = "bd-trunk"
strip = 1 # the trunk wants national numbers

[[rule]]
name = "hk-out"
match = { prefix = "0" }
from_unit = "002"
action = "trunk"
trunk = "hk-trunk"

# Nobody dials abroad.
[[rule]]
name = "no-international"
match = { prefix = "00" }
action = "reject"
status = 403
"#;

async fn setup(w: &World) -> i64 {
    let (st, _, body) = w
        .raw(
            Method::POST,
            "/api/v1/versions?file_name=districts.toml",
            Some(w.tokens["city"].as_str()),
            Some(DISTRICTS.to_string()),
            "application/toml",
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    body["version"]["version"].as_i64().unwrap()
}

async fn current_source(w: &World) -> (i64, String) {
    let v = w.admin.store().dialplan_version().await.unwrap().unwrap();
    let (_, src) = w
        .admin
        .store()
        .dialplan_source(v.version)
        .await
        .unwrap()
        .unwrap();
    (v.version, src)
}

/// Every comment line of the fixture is still in `src`.
fn keeps_comments(src: &str) {
    for line in DISTRICTS.lines().filter(|l| l.contains('#')) {
        assert!(src.contains(line), "{line:?} lost from:\n{src}");
    }
}

/// (action, actor, after_json) of the newest audit row.
async fn last_audit(w: &World) -> (String, String, Value) {
    let row =
        sqlx::query("SELECT action, actor, after_json FROM adm_audit ORDER BY id DESC LIMIT 1")
            .fetch_one(w.admin.store().pool())
            .await
            .unwrap();
    let after: String = row.try_get("after_json").unwrap();
    (
        row.try_get("action").unwrap(),
        row.try_get("actor").unwrap(),
        serde_json::from_str(&after).unwrap(),
    )
}

async fn district_admin_changes_its_meetings_and_rules(w: World) {
    let v0 = setup(&w).await;
    let mut changes = w.admin.subscribe_dialplan();

    // A meeting of a ward of Ba Đình, created by Ba Đình's administrator.
    let (st, h, body) = w
        .call(
            Method::POST,
            "/api/v1/meetings",
            Some("bd-admin"),
            Some(json!({
                "number": "8102",
                "name": "Phúc Xá",
                "aliases": ["phuc-xa"],
                "unit": "00001",
                "max_participants": 20
            })),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    assert_eq!(h["location"], "/api/v1/meetings/8102");
    assert_eq!(body["version"], v0 + 1);
    assert_eq!(body["previous"], v0);
    assert_eq!(
        body["object"]["unit"],
        json!({"structure": "2024", "code": "00001"})
    );
    assert_eq!(body["object"]["max_participants"], 20);
    assert_eq!(changes.try_recv().unwrap(), v0 + 1, "the gateway is told");
    let (v1, src) = current_source(&w).await;
    assert_eq!(v1, v0 + 1);
    keeps_comments(&src);
    // Everything before the new entry is the old text, byte for byte.
    let head = DISTRICTS
        .split("\n[[meeting]]\nnumber = \"8200\"")
        .next()
        .unwrap();
    assert!(src.starts_with(head), "{src}");
    let (action, actor, after) = last_audit(&w).await;
    assert_eq!(
        (action.as_str(), actor.as_str()),
        ("meeting.create", "bd-admin")
    );
    assert_eq!(after["version"], v1);
    assert_eq!(after["object_after"]["number"], "8102");
    assert_eq!(after["object_before"], Value::Null);
    // The row belongs to the meeting's unit: Ba Đình's administrator reads
    // its own write in the audit log, as it does its endpoints' changes.
    let (st, _, log) = w
        .call(Method::GET, "/api/v1/audit", Some("bd-admin"), None)
        .await;
    assert_eq!(st, StatusCode::OK, "{log}");
    let row = log
        .as_array()
        .or_else(|| log["entries"].as_array())
        .and_then(|rows| rows.iter().find(|r| r["action"] == "meeting.create"))
        .unwrap_or_else(|| panic!("meeting.create visible to bd-admin: {log}"));
    assert_eq!(row["unit"]["code"], "00001", "{row}");
    let (st, _, m) = w
        .call(
            Method::GET,
            "/api/v1/meetings/phuc-xa",
            Some("bd-operator"),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{m}");
    assert_eq!(m["number"], "8102");

    // A change keeps the key's comment; null removes a field.
    let (st, _, body) = w
        .call(
            Method::PATCH,
            "/api/v1/meetings/8100",
            Some("bd-admin"),
            Some(json!({"name": "Giao ban quận", "classification": null, "record": true})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["version"], v1 + 1);
    assert_eq!(body["object"]["name"], "Giao ban quận");
    assert_eq!(body["object"]["classification"], "normal");
    assert_eq!(body["object"]["record"], true);
    let (_, src) = current_source(&w).await;
    assert!(
        src.contains("name = \"Giao ban quận\" # the district's own name for it"),
        "{src}"
    );
    assert!(!src.contains("confidential"), "{src}");
    keeps_comments(&src.replace("Giao ban quận", "Giao ban Ba Đình"));
    let (action, _, after) = last_audit(&w).await;
    assert_eq!(action, "meeting.update");
    assert_eq!(after["object_before"]["classification"], "confidential");
    assert_eq!(after["object_after"]["record"], true);

    // The same values again store nothing.
    let (st, _, body) = w
        .call(
            Method::PATCH,
            "/api/v1/meetings/8100",
            Some("bd-admin"),
            Some(json!({"record": true})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(
        (body["version"].as_i64(), &body["created"]),
        (Some(v1 + 1), &json!(false))
    );

    let (st, _, body) = w
        .call(
            Method::DELETE,
            "/api/v1/meetings/8102",
            Some("bd-admin"),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["object"], Value::Null);
    let (st, _, _) = w
        .call(Method::GET, "/api/v1/meetings/8102", Some("city"), None)
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert_eq!(last_audit(&w).await.0, "meeting.delete");

    // A rule for Ba Đình's callers, first in the list.
    let (st, _, body) = w
        .call(
            Method::POST,
            "/api/v1/rules",
            Some("bd-admin"),
            Some(json!({
                "name": "bd-emergency",
                "match": {"exact": "113"},
                "from_unit": "001",
                "action": "reject",
                "status": 403,
                "reason": "Call the police from a phone",
                "position": 0,
                "time": ["daily 00:00-24:00"]
            })),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    assert_eq!(body["object"]["position"], 0);
    assert_eq!(body["object"]["status"], 403);
    assert_eq!(body["object"]["time"], json!(["daily 00:00-24:00"]));
    let (_, _, rules) = w
        .call(Method::GET, "/api/v1/rules", Some("city"), None)
        .await;
    let names: Vec<&str> = rules
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["bd-emergency", "bd-out", "hk-out", "no-international"]
    );
    let (_, src) = current_source(&w).await;
    keeps_comments(&src.replace("Giao ban quận", "Giao ban Ba Đình"));
    assert!(
        src.find("bd-emergency").unwrap() < src.find("# Ba Đình dials out").unwrap(),
        "{src}"
    );
    let (action, actor, _) = last_audit(&w).await;
    assert_eq!(
        (action.as_str(), actor.as_str()),
        ("rule.create", "bd-admin")
    );

    // Routing sees it.
    let (st, _, route) = w
        .call(
            Method::POST,
            "/api/v1/route",
            Some("bd-admin"),
            Some(json!({"caller": "bd-room", "target": "113"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{route}");
    assert_eq!(route["outcome"]["kind"], "reject", "{route}");
    assert_eq!(route["outcome"]["status"], 403, "{route}");
    assert!(
        route["trace"].to_string().contains("bd-emergency"),
        "{route}"
    );

    // Changed, moved to the end, then a field removed from another rule.
    let (st, _, body) = w
        .call(
            Method::PATCH,
            "/api/v1/rules/bd-emergency",
            Some("bd-admin"),
            Some(json!({"status": 404, "position": 3})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["object"]["status"], 404);
    assert_eq!(body["object"]["position"], 3);
    let (st, _, body) = w
        .call(
            Method::PATCH,
            "/api/v1/rules/bd-out",
            Some("bd-admin"),
            Some(json!({"strip": null})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["object"]["rewrite"]["strip"], 0);
    let (st, _, body) = w
        .call(
            Method::DELETE,
            "/api/v1/rules/bd-emergency",
            Some("bd-admin"),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let (_, src) = current_source(&w).await;
    assert!(!src.contains("bd-emergency"), "{src}");
    assert!(
        src.contains("# Ba Đình dials out over its own trunk."),
        "{src}"
    );
    assert_eq!(last_audit(&w).await.0, "rule.delete");
}

async fn trunks_are_written_without_leaking_passwords(w: World) {
    setup(&w).await;
    let (st, h, body) = w
        .call(
            Method::POST,
            "/api/v1/trunks",
            Some("bd-admin"),
            Some(json!({
                "name": "bd-backup",
                "uri": "sip:10.0.1.2:5060",
                "acl": ["10.0.1.2/32"],
                "username": "bd",
                "password": "backup-secret",
                "unit": "001",
                "kind": "carrier",
                "outbound_numbers": ["0*"]
            })),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    assert_eq!(h["location"], "/api/v1/trunks/bd-backup");
    assert_eq!(body["object"]["authenticates"], true);
    assert_eq!(body["object"]["kind"], "carrier");
    assert_eq!(body["object"]["outbound_numbers"], json!(["0*"]));
    assert_eq!(body["object"]["inbound_numbers"], Value::Null);
    assert_eq!(body["object"]["caller_id"], "pass");
    assert!(!body.to_string().contains("backup-secret"), "{body}");
    let (action, _, after) = last_audit(&w).await;
    assert_eq!(action, "trunk.create");
    assert_eq!(after["object_after"]["password"], "***");
    assert!(!after.to_string().contains("backup-secret"));

    let (st, _, body) = w
        .call(
            Method::PATCH,
            "/api/v1/trunks/bd-backup",
            Some("bd-admin"),
            Some(json!({"uri": "sip:10.0.1.3:5060", "password": null, "username": null})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["object"]["uri"], "sip:10.0.1.3:5060");
    assert_eq!(body["object"]["authenticates"], false);

    // A trunk still used by a rule cannot go; one that is not can.
    let (st, h, body) = w
        .call(
            Method::DELETE,
            "/api/v1/trunks/bd-trunk",
            Some("bd-admin"),
            None,
        )
        .await;
    assert_problem(st, &h, &body, StatusCode::UNPROCESSABLE_ENTITY, "bd-trunk");
    assert!(
        body["errors"][0]["field"]
            .as_str()
            .unwrap()
            .starts_with("rule["),
        "{body}"
    );
    let (st, _, body) = w
        .call(
            Method::DELETE,
            "/api/v1/trunks/bd-backup",
            Some("bd-admin"),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    // The whole network's carrier is the city's to change.
    let (st, _, body) = w
        .call(
            Method::PATCH,
            "/api/v1/trunks/carrier",
            Some("city"),
            Some(json!({"caller_id": "replace:842400000"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let (_, src) = current_source(&w).await;
    assert!(src.contains("password = \"carrier-secret\""), "{src}");
    assert!(src.contains("caller_id = \"replace:842400000\""), "{src}");
    keeps_comments(&src);
}

/// The registry, the dialplan versions and the audit log, as text.
async fn everything(w: &World) -> (Vec<String>, Vec<String>) {
    let versions = sqlx::query("SELECT version, sha256 FROM dialplan_versions ORDER BY version")
        .fetch_all(w.admin.store().pool())
        .await
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{}|{}",
                r.try_get::<i64, _>(0).unwrap(),
                r.try_get::<String, _>(1).unwrap()
            )
        })
        .collect();
    (w.snapshot().await, versions)
}

/// (user, method, path, body, expected status, what the detail and field name).
type Case = (
    &'static str,
    Method,
    &'static str,
    Option<Value>,
    StatusCode,
    &'static str,
);

async fn refusals_write_nothing(w: World) {
    setup(&w).await;
    let before = everything(&w).await;
    let unit = |code: &str| json!({"number": "8109", "name": "x", "unit": code});
    let cases: Vec<Case> = vec![
        // Outside Ba Đình: as if it did not exist.
        (
            "bd-admin",
            Method::PATCH,
            "/api/v1/meetings/8200",
            Some(json!({"name": "x"})),
            StatusCode::NOT_FOUND,
            "meeting 8200",
        ),
        (
            "bd-admin",
            Method::DELETE,
            "/api/v1/meetings/8000",
            None,
            StatusCode::NOT_FOUND,
            "meeting 8000",
        ),
        (
            "bd-admin",
            Method::POST,
            "/api/v1/meetings",
            Some(unit("002")),
            StatusCode::NOT_FOUND,
            "unit 002",
        ),
        (
            "bd-admin",
            Method::POST,
            "/api/v1/meetings",
            Some(unit("01")),
            StatusCode::NOT_FOUND,
            "unit 01",
        ),
        (
            "bd-admin",
            Method::PATCH,
            "/api/v1/meetings/8100",
            Some(json!({"unit": "002"})),
            StatusCode::NOT_FOUND,
            "unit 002",
        ),
        (
            "hk-admin",
            Method::PATCH,
            "/api/v1/meetings/8100",
            Some(json!({"name": "x"})),
            StatusCode::NOT_FOUND,
            "meeting 8100",
        ),
        (
            "bd-admin",
            Method::PATCH,
            "/api/v1/rules/hk-out",
            Some(json!({"strip": 1})),
            StatusCode::NOT_FOUND,
            "rule hk-out",
        ),
        (
            "bd-admin",
            Method::DELETE,
            "/api/v1/rules/no-international",
            None,
            StatusCode::NOT_FOUND,
            "rule no-international",
        ),
        (
            "bd-admin",
            Method::POST,
            "/api/v1/rules",
            Some(
                json!({"name": "r", "match": {"exact": "1"}, "from_unit": "002", "action": "reject", "status": 403}),
            ),
            StatusCode::NOT_FOUND,
            "unit 002",
        ),
        (
            "bd-admin",
            Method::PATCH,
            "/api/v1/rules/bd-out",
            Some(json!({"from_unit": null})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "from_unit",
        ),
        (
            "bd-admin",
            Method::PATCH,
            "/api/v1/trunks/carrier",
            Some(json!({"uri": "sip:10.9.9.9"})),
            StatusCode::NOT_FOUND,
            "trunk carrier",
        ),
        (
            "bd-admin",
            Method::DELETE,
            "/api/v1/trunks/hk-trunk",
            None,
            StatusCode::NOT_FOUND,
            "trunk hk-trunk",
        ),
        (
            "bd-admin",
            Method::PATCH,
            "/api/v1/meetings/8999",
            Some(json!({"name": "x"})),
            StatusCode::NOT_FOUND,
            "meeting 8999",
        ),
        // Inside, without the right.
        (
            "bd-operator",
            Method::PATCH,
            "/api/v1/meetings/8100",
            Some(json!({"name": "x"})),
            StatusCode::FORBIDDEN,
            "may not change",
        ),
        (
            "bd-operator",
            Method::POST,
            "/api/v1/meetings",
            Some(unit("00001")),
            StatusCode::FORBIDDEN,
            "may not change",
        ),
        (
            "bd-auditor",
            Method::DELETE,
            "/api/v1/rules/bd-out",
            None,
            StatusCode::FORBIDDEN,
            "may not change",
        ),
        (
            "reviewer",
            Method::PATCH,
            "/api/v1/trunks/carrier",
            Some(json!({"uri": "sip:10.9.9.9"})),
            StatusCode::FORBIDDEN,
            "may not change",
        ),
        (
            "bd-reviewer",
            Method::DELETE,
            "/api/v1/meetings/8100",
            None,
            StatusCode::FORBIDDEN,
            "may not change",
        ),
        // Changes that would make the dialplan invalid, naming the field.
        (
            "bd-admin",
            Method::PATCH,
            "/api/v1/meetings/8100",
            Some(json!({"classification": "top"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "classification",
        ),
        (
            "bd-admin",
            Method::POST,
            "/api/v1/meetings",
            Some(json!({"number": "abc", "unit": "001"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "number",
        ),
        (
            "bd-admin",
            Method::POST,
            "/api/v1/meetings",
            Some(json!({"number": "8200", "unit": "001"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "number",
        ),
        (
            "bd-admin",
            Method::POST,
            "/api/v1/meetings",
            Some(json!({"name": "no number", "unit": "001"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "number",
        ),
        (
            "bd-admin",
            Method::POST,
            "/api/v1/rules",
            Some(
                json!({"name": "bd-x", "match": {"prefix": "9"}, "from_unit": "001", "action": "trunk", "trunk": "nowhere"}),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "trunk",
        ),
        (
            "bd-admin",
            Method::PATCH,
            "/api/v1/rules/bd-out",
            Some(json!({"match": {"regex": "("}})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "match.regex",
        ),
        (
            "bd-admin",
            Method::PATCH,
            "/api/v1/rules/bd-out",
            Some(json!({"name": "hk-out"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "name",
        ),
        (
            "bd-admin",
            Method::DELETE,
            "/api/v1/trunks/bd-trunk",
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
            "bd-trunk",
        ),
        // A district may not claim sources another district's trunk answers for.
        (
            "bd-admin",
            Method::POST,
            "/api/v1/trunks",
            Some(
                json!({"name": "bd-wide", "uri": "sip:10.0.1.9", "acl": ["10.0.0.0/16"], "unit": "001"}),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "acl",
        ),
        (
            "bd-admin",
            Method::PATCH,
            "/api/v1/trunks/bd-trunk",
            Some(json!({"acl": ["10.0.1.0/24", "10.0.2.7/32"]})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "acl",
        ),
        // Strict bodies.
        (
            "bd-admin",
            Method::POST,
            "/api/v1/meetings",
            Some(json!({"number": "8103", "unit": "001", "colour": "red"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "colour",
        ),
        (
            "bd-admin",
            Method::PATCH,
            "/api/v1/rules/bd-out",
            Some(json!({"match": {"prefix": "0", "glob": "*"}})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "glob",
        ),
        (
            "bd-admin",
            Method::PATCH,
            "/api/v1/meetings/8100",
            Some(json!({"record": "yes"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "record",
        ),
    ];
    for (user, method, path, body, want, detail) in cases {
        let (st, h, got) = w.call(method.clone(), path, Some(user), body.clone()).await;
        assert_problem(st, &h, &got, want, detail);
        if want == StatusCode::UNPROCESSABLE_ENTITY && got.get("errors").is_none() {
            let field = got["field"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path}: {got}"));
            assert!(
                field.contains(detail),
                "{method} {path}: field {field:?}, want {detail:?}"
            );
        }
        assert_eq!(
            everything(&w).await,
            before,
            "{user} {method} {path} wrote something"
        );
    }
}
