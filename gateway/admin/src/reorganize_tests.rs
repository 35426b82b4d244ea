//! The reorganisation planner's unit tests.

use super::*;

fn unit(structure: Structure, code: &str, kind: &str, parent: Option<&str>) -> AdminUnit {
    AdminUnit {
        structure,
        code: code.into(),
        name: format!("Unit {code}"),
        codename: format!("unit-{code}"),
        kind: kind.into(),
        parent_code: parent.map(str::to_string),
        valid_from: None,
        valid_to: None,
        depth: 0,
    }
}

/// City 01; district 001 with wards 00001 and 00004; district 002 with
/// ward 00037.
fn old_units() -> Vec<AdminUnit> {
    let s = Structure::Y2024;
    vec![
        unit(s, "01", "city", None),
        unit(s, "001", "urban_district", Some("01")),
        unit(s, "00001", "ward", Some("001")),
        unit(s, "00004", "ward", Some("001")),
        unit(s, "002", "rural_district", Some("01")),
        unit(s, "00037", "commune", Some("002")),
    ]
}

fn new_units() -> Vec<AdminUnit> {
    let s = Structure::Y2025;
    vec![
        unit(s, "01", "city", None),
        unit(s, "00004", "ward", Some("01")),
        unit(s, "00008", "ward", Some("01")),
        unit(s, "00097", "commune", Some("01")),
    ]
}

/// 00001 and 00037 merge into 00097; 00004 is split between 00004 and
/// 00008.
fn map_json() -> &'static str {
    r#"{"rows": [
        {"old_district": 1, "old_ward": 1, "new_ward": 97},
        {"old_district": 1, "old_ward": 4, "new_ward": 4},
        {"old_district": 1, "old_ward": 4, "new_ward": 8},
        {"old_district": 2, "old_ward": 37, "new_ward": 97}
    ]}"#
}

fn map() -> ReorgMap {
    ReorgMap::parse(map_json(), "map.json").unwrap()
}

fn ep(id: &str, unit: &str) -> Movable {
    Movable {
        kind: ObjectKind::Endpoint,
        id: id.into(),
        unit: unit.into(),
        in_registry: true,
        in_dialplan: false,
    }
}

fn assign(text: &str) -> Assignment {
    Assignment::parse(text, "--assign").unwrap()
}

fn moved_to<'a>(p: &'a Plan, id: &str) -> Option<&'a Move> {
    p.moves.iter().find(|m| m.object.id == id)
}

#[test]
fn merged_units_move_by_the_map() {
    let objects = [
        ep("a", "00001"),
        ep("b", "00037"),
        ep("city", "01"),
        ep("d2", "002"),
    ];
    let p = plan(&map(), &old_units(), &new_units(), &objects, &[]).unwrap();
    assert!(p.pending.is_empty(), "{:?}", p.pending);
    for id in ["a", "b", "d2"] {
        let m = moved_to(&p, id).unwrap();
        assert_eq!(m.to, "00097", "{id}");
        assert_eq!(m.decided_by, DecidedBy::Map);
    }
    assert_eq!(moved_to(&p, "city").unwrap().to, "01");
    assert_eq!((p.mapped_units, p.split_units), (3, 1));
}

#[test]
fn split_units_and_districts_wait_for_a_decision() {
    let objects = [
        ep("split", "00004"),
        ep("district", "001"),
        ep("a", "00001"),
    ];
    let p = plan(&map(), &old_units(), &new_units(), &objects, &[]).unwrap();
    assert_eq!(p.moves.len(), 1);
    let pending: Vec<(&str, Vec<&str>)> = p
        .pending
        .iter()
        .map(|q| {
            (
                q.object.id.as_str(),
                q.candidates.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        pending,
        vec![
            ("split", vec!["00004", "00008"]),
            ("district", vec!["00004", "00008", "00097"]),
        ]
    );
}

#[test]
fn decisions_settle_split_units() {
    let objects = [
        ep("split", "00004"),
        ep("other", "00004"),
        ep("district", "001"),
        ep("123", "002"),
    ];
    let decisions = [
        assign("unit:00004=00008"),
        assign("endpoint:other=00004"),
        assign("district = 01  # the city took the district's room"),
    ];
    let p = plan(&map(), &old_units(), &new_units(), &objects, &decisions).unwrap();
    assert!(p.pending.is_empty());
    assert_eq!(moved_to(&p, "split").unwrap().to, "00008");
    // The object's own decision wins over its unit's.
    let other = moved_to(&p, "other").unwrap();
    assert_eq!(other.to, "00004");
    assert_eq!(
        other.decided_by,
        DecidedBy::Assignment("endpoint:other".into())
    );
    assert_eq!(moved_to(&p, "district").unwrap().to, "01");
    assert_eq!(moved_to(&p, "123").unwrap().decided_by, DecidedBy::Map);
}

fn user(name: &str, unit: &str) -> Movable {
    Movable {
        kind: ObjectKind::User,
        ..ep(name, unit)
    }
}

/// A user's scope follows the map where the map decides; in a split unit
/// only a decision naming the user settles it, never one for the unit.
#[test]
fn user_scopes_move_by_the_map_or_by_their_own_decision() {
    let objects = [
        user("ward-op", "00001"),
        user("city-op", "01"),
        user("split-op", "00004"),
        user("district-admin", "001"),
        ep("split-room", "00004"),
    ];
    let p = plan(
        &map(),
        &old_units(),
        &new_units(),
        &objects,
        &[assign("unit:00004=00008"), assign("unit:001=00097")],
    )
    .unwrap();
    assert_eq!(moved_to(&p, "ward-op").unwrap().to, "00097");
    assert_eq!(moved_to(&p, "ward-op").unwrap().decided_by, DecidedBy::Map);
    assert_eq!(moved_to(&p, "city-op").unwrap().to, "01");
    assert_eq!(moved_to(&p, "split-room").unwrap().to, "00008");
    let waiting: Vec<(String, &[String])> = p
        .pending
        .iter()
        .map(|q| (q.object.key(), q.candidates.as_slice()))
        .collect();
    assert_eq!(
        waiting,
        vec![
            (
                "user:split-op".to_string(),
                &["00004".to_string(), "00008".to_string()][..]
            ),
            (
                "user:district-admin".to_string(),
                &[
                    "00004".to_string(),
                    "00008".to_string(),
                    "00097".to_string()
                ][..]
            ),
        ]
    );
    assert_eq!(
        (p.moved(ObjectKind::User), p.awaiting(ObjectKind::User)),
        (2, 2)
    );

    let p = plan(
        &map(),
        &old_units(),
        &new_units(),
        &objects,
        &[
            assign("user:split-op=00004"),
            assign("user:district-admin=01 # the district's admin goes to the city"),
            assign("unit:00004=00008"),
        ],
    )
    .unwrap();
    assert!(p.pending.is_empty(), "{:?}", p.pending);
    let op = moved_to(&p, "split-op").unwrap();
    assert_eq!(op.to, "00004");
    assert_eq!(op.decided_by, DecidedBy::Assignment("user:split-op".into()));
    assert_eq!(moved_to(&p, "district-admin").unwrap().to, "01");
    // A user is never named bare (that is an endpoint id or a unit code),
    // and a user decision must still pick a candidate.
    let e = plan(
        &map(),
        &old_units(),
        &new_units(),
        &objects,
        &[assign("split-op=00004")],
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("neither an endpoint"), "{e}");
    let e = plan(
        &map(),
        &old_units(),
        &new_units(),
        &objects,
        &[assign("user:split-op=00097")],
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("became part of 00004, 00008"), "{e}");
    let e = plan(
        &map(),
        &old_units(),
        &new_units(),
        &objects,
        &[assign("user:nobody=00004")],
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("no user nobody sits in a 2024 unit"), "{e}");
}

#[test]
fn bad_decisions_are_refused_with_the_reason() {
    let objects = [ep("split", "00004"), ep("002", "00001")];
    let err = |text: &str| {
        plan(
            &map(),
            &old_units(),
            &new_units(),
            &objects,
            &[assign(text)],
        )
        .unwrap_err()
        .to_string()
    };
    let e = err("split=00097");
    assert!(
        e.contains("became part of 00004, 00008") && e.contains("--assign"),
        "{e}"
    );
    assert!(err("nobody=00004").contains("neither an endpoint"));
    assert!(err("unit:00099=00004").contains("not a unit of the 2024 structure"));
    assert!(err("split=00005").contains("00005 is not a unit of the 2025 structure"));
    // "002" is an endpoint id and a district code.
    assert!(err("002=00097").contains("write endpoint:002 or unit:002"));
    assert!(err("meeting:8000=00004").contains("no meeting 8000"));
    let both = plan(
        &map(),
        &old_units(),
        &new_units(),
        &objects,
        &[assign("split=00004"), assign("endpoint:split=00008")],
    )
    .unwrap_err()
    .to_string();
    assert!(both.contains("contradicts"), "{both}");
    for (text, why) in [
        ("split", "expected KEY=CODE"),
        ("split=", "no unit code"),
        ("=00004", "no key"),
        ("split=ab", "must be digits"),
    ] {
        let e = Assignment::parse(text, "x").unwrap_err().to_string();
        assert!(e.contains(why), "{text}: {e}");
    }
}

#[test]
fn a_decisions_file_skips_comments_and_names_bad_lines() {
    let text = "# decisions\n\nendpoint:a=00004   # [registry] in 2024/00004\nunit:001=01\nb=\n";
    let e = Assignment::parse_file(text, "d.txt")
        .unwrap_err()
        .to_string();
    assert!(e.contains("d.txt:5"), "{e}");
    let ok = Assignment::parse_file(&text.replace("b=\n", ""), "d.txt").unwrap();
    assert_eq!(
        ok.iter()
            .map(|a| (a.key.as_str(), a.code.as_str(), a.origin.as_str()))
            .collect::<Vec<_>>(),
        vec![
            ("endpoint:a", "00004", "d.txt:3"),
            ("unit:001", "01", "d.txt:4")
        ]
    );
}

#[test]
fn unknown_codes_in_the_map_are_named() {
    let cases = [
        (
            r#"{"rows":[{"old_district":1,"old_ward":1,"new_ward":99999}]}"#,
            "row 1: new_ward 99999 is not a unit of the 2025 structure",
        ),
        (
            r#"{"rows":[{"old_district":1,"old_ward":1,"new_ward":97},{"old_district":1,"old_ward":55,"new_ward":97}]}"#,
            "row 2: old_ward 00055 is not a unit of the 2024 structure",
        ),
        (
            r#"{"rows":[{"old_district":9,"old_ward":1,"new_ward":97}]}"#,
            "row 1: old_district 009 is not a unit",
        ),
        (
            r#"{"rows":[{"old_district":2,"old_ward":1,"new_ward":97}]}"#,
            "old_ward 00001 belongs to 001, not to old_district 002",
        ),
        (
            r#"{"rows":[{"old_district":1,"old_ward":"1","new_ward":"00097"}]}"#,
            "",
        ),
    ];
    for (json, want) in cases {
        let m = ReorgMap::parse(json, "m.json").unwrap();
        let r = plan(&m, &old_units(), &new_units(), &[], &[]);
        match want {
            "" => assert!(r.is_ok(), "{json}"),
            want => {
                let e = r.unwrap_err().to_string();
                assert!(e.contains(want) && e.starts_with("map m.json"), "{e}");
            }
        }
    }
    for (json, want) in [
        ("[", "not JSON"),
        ("{}", "no \"rows\""),
        (
            r#"{"rows":[{"old_district":1,"old_ward":-4,"new_ward":97}]}"#,
            "row 1: old_ward is missing",
        ),
    ] {
        let e = ReorgMap::parse(json, "m.json").unwrap_err().to_string();
        assert!(e.contains(want), "{e}");
    }
}

#[test]
fn the_shipped_map_parses() {
    let m = ReorgMap::parse(crate::data::REORGANISATION_2025, "shipped").unwrap();
    assert_eq!(m.rows.len(), 667);
    assert_eq!(
        m.rows[0],
        MapRow {
            old_district: "001".into(),
            old_ward: "00001".into(),
            new_ward: "00097".into()
        }
    );
}

const OLD_DIALPLAN: &str = r#"# Header comment: kept.
meeting = [{ number = "8000", unit = "00004" }]

[gateway]
realm = "test.local"

[[unit]]
code = "01"
name = "Unit 01"
kind = "city"

[[unit]]
code = "001"
name = "Unit 001"
kind = "urban_district"
parent = "01"

[[unit]]
code = "00004"
name = "Unit 00004"
kind = "ward"
parent = "001"

# The ward's room.
[[endpoint]]
id = "room"
unit = "00004"   # trailing comment kept
password = "secret"
numbers = ["300004"]

[[endpoint]]
id = "hq"
unit = "001"
password = "secret"

[[trunk]]
name = "carrier"
uri = "sip:192.0.2.1:5060"
unit = "01"

[[rule]]
name = "district-out"
match = { prefix = "0" }
from_unit = "001"
action = "trunk"
trunk = "carrier"

[[rule]]
name = "barred"
match = { prefix = "1900" }
action = "reject"
status = 403
"#;

fn moves(list: &[(ObjectKind, &str, &str)]) -> HashMap<(ObjectKind, String), String> {
    list.iter()
        .map(|(k, id, to)| ((*k, id.to_string()), to.to_string()))
        .collect()
}

#[test]
fn the_dialplan_is_rewritten_in_place() {
    let old = Dialplan::parse(OLD_DIALPLAN, "old.toml").unwrap();
    let m = moves(&[
        (ObjectKind::Endpoint, "room", "00008"),
        (ObjectKind::Endpoint, "hq", "00004"),
        (ObjectKind::Trunk, "carrier", "01"),
        (ObjectKind::Rule, "district-out", "00004"),
        (ObjectKind::Meeting, "8000", "00097"),
    ]);
    let text = rewrite_dialplan(OLD_DIALPLAN, &new_units(), &m, "rewritten\nby a test").unwrap();
    let new = Dialplan::parse(&text, "new.toml").unwrap_or_else(|e| panic!("{e:?}\n{text}"));
    check_rewrite(&old, &new, &m).unwrap();
    let codes: Vec<&str> = new.units().iter().map(|u| u.code.as_str()).collect();
    assert_eq!(codes, ["01", "00004", "00008", "00097"]);
    assert_eq!(new.endpoint("room").unwrap().unit, "00008");
    assert_eq!(new.endpoint("hq").unwrap().unit, "00004");
    assert_eq!(new.meetings()[0].unit, "00097");
    assert_eq!(new.rules()[0].from_unit.as_deref(), Some("00004"));
    assert_eq!(new.rules()[1].from_unit, None);
    for kept in [
        "# Header comment: kept.",
        "# The ward's room.",
        "# trailing comment kept",
        "# rewritten\n# by a test\n[[unit]]",
    ] {
        assert!(text.contains(kept), "{kept:?} lost:\n{text}");
    }
    // The units stay where they were: before the endpoints.
    assert!(text.find("[[unit]]").unwrap() < text.find("[[endpoint]]").unwrap());
    assert!(text.find("[gateway]").unwrap() < text.find("[[unit]]").unwrap());

    // A moved unit the check catches.
    let mut wrong = m.clone();
    wrong.insert((ObjectKind::Endpoint, "room".into()), "00004".into());
    assert!(check_rewrite(&old, &new, &wrong)
        .unwrap_err()
        .contains("endpoint room"));

    let mut missing = m.clone();
    missing.remove(&(ObjectKind::Rule, "district-out".into()));
    let e = rewrite_dialplan(OLD_DIALPLAN, &new_units(), &missing, "").unwrap_err();
    assert!(
        e.contains("rule[0] district-out: from_unit 001 has no destination"),
        "{e}"
    );
}

#[test]
fn file_names_and_structure_detection() {
    assert_eq!(
        reorganised_name("dialplans/hanoi-2024.toml"),
        "dialplans/hanoi-2024.reorganised-2025.toml"
    );
    assert_eq!(
        reorganised_name("x.reorganised-2025.toml"),
        "x.reorganised-2025.toml"
    );
    let dp = Dialplan::parse(OLD_DIALPLAN, "old.toml").unwrap();
    assert_eq!(
        dialplan_structure(&dp, &old_units(), &new_units()),
        Some(Structure::Y2024)
    );
    let text = rewrite_dialplan(
        OLD_DIALPLAN,
        &new_units(),
        &moves(&[
            (ObjectKind::Endpoint, "room", "00008"),
            (ObjectKind::Endpoint, "hq", "00004"),
            (ObjectKind::Trunk, "carrier", "01"),
            (ObjectKind::Rule, "district-out", "00004"),
            (ObjectKind::Meeting, "8000", "00097"),
        ]),
        "",
    )
    .unwrap();
    let dp = Dialplan::parse(&text, "new.toml").unwrap();
    assert_eq!(
        dialplan_structure(&dp, &old_units(), &new_units()),
        Some(Structure::Y2025)
    );
}
