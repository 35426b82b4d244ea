use std::net::IpAddr;

use super::*;

const BASE: &str = r#"
[gateway]
realm = "test.local"

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
code = "00004"
name = "Phường Trúc Bạch"
kind = "ward"
parent = "001"

[[unit]]
code = "002"
name = "Quận Hoàn Kiếm"
kind = "urban_district"
parent = "01"

[[endpoint]]
id = "1001"
unit = "00004"
password = "pass1001"
numbers = ["1001", "241001"]
aliases = ["Room-Truc-Bach"]
vetted = true

[[endpoint]]
id = "1002"
unit = "002"
ha1_md5 = "0123456789abcdef0123456789ABCDEF"
numbers = ["1002"]
vetted = true

[[endpoint]]
id = "1003"
unit = "001"
password = "x"
vetted = false

[[trunk]]
name = "carrier"
uri = "sip:10.0.0.1:5060;transport=tcp"
acl = ["10.0.0.0/24"]
username = "gw"
password = "secret"
unit = "01"

[[trunk]]
name = "carrier-edge"
uri = "sips:edge.example.net"
acl = ["10.0.0.7/32"]

[[rule]]
name = "block-premium"
match = { prefix = "1900" }
action = "reject"
status = 403
reason = "Premium numbers are barred"

[[rule]]
name = "ba-dinh-out"
match = { regex = '0(\d+)' }
from_unit = "001"
action = "trunk"
trunk = "carrier"
rewrite = "84$1"
caller_id = "842438000000"
record = true
max_duration_secs = 3600

[[rule]]
name = "intl"
match = { prefix = "00" }
action = "trunk"
trunk = "carrier-edge"
strip = 2
prepend = "+"
encryption = "required"

[[rule]]
name = "meeting"
match = { regex = '8(?P<room>\d{4})' }
action = "uri"
uri = "sip:${room}@meet.example.net;transport=tls"

[[rule]]
name = "meeting-by-number"
match = { exact = "7000" }
action = "uri"
uri = "sip:conf-${number}@meet.example.net"
prepend = "99"

[[rule]]
name = "operator"
match = { exact = "0" }
action = "endpoint"
target = "room-truc-bach"

[[rule]]
name = "from-carrier"
match = { prefix = "" }
from_trunk = "carrier"
action = "endpoint"
target = "1002"
"#;

fn plan() -> Dialplan {
    match Dialplan::parse(BASE, "base.toml") {
        Ok(d) => d,
        Err(e) => panic!(
            "{}",
            e.iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

fn req(caller: Caller, target: &str) -> RouteRequest {
    RouteRequest {
        caller,
        from_user: None,
        target: target.into(),
        transport_secure: false,
        at_unix_secs: MONDAY_NOON,
    }
}

/// 2025-07-07T12:00:00+07:00, a Monday noon in Hà Nội.
const MONDAY_NOON: i64 = 1_751_864_400;

fn ep(id: &str) -> Caller {
    Caller::Endpoint(id.into())
}

fn anon(ip: &str) -> Caller {
    Caller::Anonymous {
        source: ip.parse::<IpAddr>().unwrap(),
    }
}

/// Replaces the first occurrence of `from` in BASE and returns the errors
/// rendered as `line:column field: message`.
fn errors_with(from: &str, to: &str) -> Vec<String> {
    assert!(BASE.contains(from), "fixture lacks {from:?}");
    let src = BASE.replacen(from, to, 1);
    Dialplan::check(&src, "t.toml")
        .into_iter()
        .map(|e| format!("{}:{} {}: {}", e.line, e.column, e.field, e.message))
        .collect()
}

fn line_of(needle: &str) -> usize {
    BASE[..BASE.find(needle).expect("needle in fixture")]
        .matches('\n')
        .count()
        + 1
}

fn assert_one_error(from: &str, to: &str, line: usize, field: &str, msg: &str) {
    let errs = errors_with(from, to);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    let want = format!("{line}:");
    assert!(errs[0].starts_with(&want), "want line {line}: {errs:#?}");
    assert!(
        errs[0].contains(&format!(" {field}: ")),
        "want field {field}: {errs:#?}"
    );
    assert!(errs[0].contains(msg), "want {msg:?}: {errs:#?}");
}

#[test]
fn base_fixture_parses_with_everything() {
    let d = plan();
    assert_eq!(d.gateway().realm, "test.local");
    assert_eq!(d.units().len(), 4);
    assert_eq!(d.endpoints().len(), 3);
    assert_eq!(d.trunks().len(), 2);
    assert_eq!(d.rules().len(), 7);
    assert_eq!(
        d.endpoint("1002").unwrap().credentials,
        Credentials::Ha1Md5("0123456789abcdef0123456789abcdef".into())
    );
    // Rule targets are resolved to endpoint ids.
    assert_eq!(
        d.rules()[5].action,
        Action::Endpoint {
            target: "1001".into()
        }
    );
}

#[test]
fn lookups() {
    let d = plan();
    assert_eq!(d.endpoint_by_user("241001").unwrap().id, "1001");
    assert_eq!(d.endpoint_by_user("ROOM-truc-bach").unwrap().id, "1001");
    assert_eq!(d.endpoint_by_user("1003").unwrap().id, "1003");
    assert!(d.endpoint_by_user("9999").is_none());
    assert_eq!(d.trunk("carrier").unwrap().uri.port, Some(5060));
    assert_eq!(d.unit("00004").unwrap().kind, UnitKind::Ward);
    let anc: Vec<&str> = d
        .unit_ancestors("00004")
        .iter()
        .map(|u| u.code.as_str())
        .collect();
    assert_eq!(anc, ["001", "01"]);
    assert!(d.unit_ancestors("01").is_empty());
    assert!(d.unit_within("00004", "01"));
    assert!(!d.unit_within("00004", "002"));
    // Most specific ACL entry wins.
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    assert_eq!(
        d.trunk_for_source(ip("10.0.0.7")).unwrap().name,
        "carrier-edge"
    );
    assert_eq!(d.trunk_for_source(ip("10.0.0.8")).unwrap().name, "carrier");
    assert!(d.trunk_for_source(ip("10.0.1.8")).is_none());
}

#[test]
fn credentials_debug_hides_secrets() {
    let d = plan();
    let s = format!("{:?}", d.endpoint("1001").unwrap());
    assert!(!s.contains("pass1001"), "{s}");
}

#[test]
fn routes_endpoint_numbers_and_aliases_before_rules() {
    let d = plan();
    let r = d.route(&req(ep("1001"), "1002"));
    assert_eq!(r.outcome, RouteOutcome::Endpoint { id: "1002".into() });
    assert_eq!(r.policy.unit.as_deref(), Some("00004"));
    assert_eq!(r.policy.max_duration_secs, 14400);
    // "0" would match the ba-dinh-out regex? no: 0(\d+) needs a digit; but the
    // operator rule is an exact match resolved to endpoint 1001 via its alias.
    let r = d.route(&req(ep("1002"), "0"));
    assert_eq!(r.outcome, RouteOutcome::Endpoint { id: "1001".into() });
    assert!(
        r.trace.iter().any(|t| t.contains("\"operator\" matched")),
        "{:?}",
        r.trace
    );
    let r = d.route(&req(ep("1002"), "room-truc-bach"));
    assert_eq!(r.outcome, RouteOutcome::Endpoint { id: "1001".into() });
}

#[test]
fn unknown_target_is_404() {
    let d = plan();
    let r = d.route(&req(ep("1002"), "5555"));
    assert_eq!(
        r.outcome,
        RouteOutcome::Reject {
            status: 404,
            reason: "No route to 5555".into()
        }
    );
    // The trace explains every rule that was passed over.
    assert!(r
        .trace
        .iter()
        .any(|t| t.contains("\"ba-dinh-out\" skipped: caller unit 002 is not within unit 001")));
    assert!(r
        .trace
        .iter()
        .any(|t| t.contains("\"intl\" skipped: \"5555\" does not match prefix \"00\"")));
    let j = serde_json::to_value(&r).unwrap();
    assert_eq!(j["outcome"]["kind"], "reject");
    assert_eq!(j["outcome"]["status"], 404);
}

#[test]
fn unvetted_and_unknown_callers_are_refused() {
    let d = plan();
    let r = d.route(&req(ep("1003"), "1001"));
    assert_eq!(
        r.outcome,
        RouteOutcome::Reject {
            status: 403,
            reason: "Endpoint 1003 is not security-vetted".into()
        }
    );
    let r = d.route(&req(ep("nobody"), "1001"));
    assert!(matches!(
        r.outcome,
        RouteOutcome::Reject { status: 403, .. }
    ));
    let r = d.route(&req(Caller::Trunk("nope".into()), "1001"));
    assert!(matches!(
        r.outcome,
        RouteOutcome::Reject { status: 403, .. }
    ));
}

#[test]
fn regex_rewrite_with_groups_scoped_by_unit_descendants() {
    let d = plan();
    // 1001 is in ward 00004, inside district 001: the rule applies.
    let r = d.route(&req(ep("1001"), "0912345678"));
    assert_eq!(
        r.outcome,
        RouteOutcome::Trunk {
            name: "carrier".into(),
            uri: "sip:84912345678@10.0.0.1:5060;transport=tcp".into()
        }
    );
    assert!(r.policy.record);
    assert_eq!(r.policy.caller_id.as_deref(), Some("842438000000"));
    assert_eq!(r.policy.max_duration_secs, 3600);
    assert_eq!(r.policy.unit.as_deref(), Some("00004"));
    // 1002 is in district 002: not in scope, and nothing else matches.
    let r = d.route(&req(ep("1002"), "0912345678"));
    assert!(matches!(
        r.outcome,
        RouteOutcome::Reject { status: 404, .. }
    ));
}

#[test]
fn strip_prepend_and_encryption_required() {
    let d = plan();
    let r = d.route(&req(ep("1002"), "0033123"));
    assert_eq!(
        r.outcome,
        RouteOutcome::Reject {
            status: 488,
            reason: "Encryption required: call over TLS with SRTP".into()
        }
    );
    let mut q = req(ep("1002"), "0033123");
    q.transport_secure = true;
    let r = d.route(&q);
    assert_eq!(
        r.outcome,
        RouteOutcome::Trunk {
            name: "carrier-edge".into(),
            uri: "sips:+33123@edge.example.net".into()
        }
    );
    assert!(r.policy.encryption_required);
}

#[test]
fn uri_action_with_named_group_and_number() {
    let d = plan();
    let r = d.route(&req(ep("1002"), "81234"));
    assert_eq!(
        r.outcome,
        RouteOutcome::Uri {
            uri: "sip:1234@meet.example.net;transport=tls".into()
        }
    );
    let r = d.route(&req(ep("1002"), "7000"));
    assert_eq!(
        r.outcome,
        RouteOutcome::Uri {
            uri: "sip:conf-997000@meet.example.net".into()
        }
    );
}

#[test]
fn regex_is_anchored() {
    let d = plan();
    // "x81234y" contains a match of 8\d{4} but is not one.
    let r = d.route(&req(ep("1002"), "x81234y"));
    assert!(matches!(
        r.outcome,
        RouteOutcome::Reject { status: 404, .. }
    ));
}

#[test]
fn reject_rule() {
    let d = plan();
    let r = d.route(&req(ep("1001"), "19001234"));
    assert_eq!(
        r.outcome,
        RouteOutcome::Reject {
            status: 403,
            reason: "Premium numbers are barred".into()
        }
    );
    assert!(r
        .trace
        .iter()
        .any(|t| t.contains("\"block-premium\" matched")));
}

#[test]
fn anonymous_callers_are_identified_by_trunk_acl() {
    let d = plan();
    let r = d.route(&req(anon("10.0.0.9"), "5555"));
    // The carrier trunk may reach anything via its from_trunk rule.
    assert_eq!(r.outcome, RouteOutcome::Endpoint { id: "1002".into() });
    assert_eq!(r.policy.unit.as_deref(), Some("01"));
    assert!(
        r.trace[0].contains("is trunk carrier (acl 10.0.0.0/24)"),
        "{:?}",
        r.trace
    );
    // The same from the edge address (more specific ACL) is another trunk,
    // to which the from_trunk rule does not apply.
    let r = d.route(&req(anon("10.0.0.7"), "5555"));
    assert!(matches!(
        r.outcome,
        RouteOutcome::Reject { status: 404, .. }
    ));
    assert!(r
        .trace
        .iter()
        .any(|t| t.contains("did not come from trunk carrier")));
    // Not in any ACL.
    let r = d.route(&req(anon("192.0.2.1"), "1001"));
    assert_eq!(
        r.outcome,
        RouteOutcome::Reject {
            status: 403,
            reason: "Anonymous caller from 192.0.2.1 is not allowed".into()
        }
    );
    // An authenticated trunk caller behaves like its ACL twin.
    let r = d.route(&req(Caller::Trunk("carrier".into()), "1001"));
    assert_eq!(r.outcome, RouteOutcome::Endpoint { id: "1001".into() });
}

#[test]
fn toml_syntax_and_type_errors_have_positions() {
    let errs = errors_with("realm = \"test.local\"", "realm = ");
    assert_eq!(errs.len(), 1);
    assert!(errs[0].starts_with("3:"), "{errs:?}");
    let errs = errors_with("vetted = false", "vetted = \"no\"");
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0].starts_with(&format!("{}:", line_of("vetted = false"))),
        "{errs:?}"
    );
    assert_one_error(
        "vetted = false",
        "colour = 1",
        line_of("vetted = false"),
        "",
        "unknown field `colour`",
    );
}

#[test]
fn unit_errors() {
    assert_one_error(
        "[[endpoint]]",
        "[[unit]]\ncode = \"001\"\nname = \"x\"\nkind = \"ward\"\n\n[[endpoint]]",
        line_of("[[endpoint]]") + 1,
        "unit[4].code",
        "duplicate unit code \"001\" (first defined on line 11)",
    );
    assert_one_error(
        "parent = \"001\"",
        "parent = \"0099\"",
        line_of("parent = \"001\""),
        "unit[2].parent",
        "unknown unit \"0099\"",
    );
    assert_one_error(
        "kind = \"city\"",
        "kind = \"metropolis\"",
        line_of("kind = \"city\""),
        "unit[0].kind",
        "unknown kind",
    );
    // A cycle: 01 → 002 → 01. Both units on it are reported.
    let errs = errors_with("kind = \"city\"", "kind = \"city\"\nparent = \"002\"");
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert!(
        errs[0].contains("unit[0].parent: parent chain loops: 01 → 002 → 01"),
        "{errs:?}"
    );
    assert!(errs[1].contains("unit[3].parent"), "{errs:?}");
    assert_one_error(
        "name = \"Quận Hoàn Kiếm\"",
        "",
        line_of("code = \"002\"") - 1,
        "unit[3]",
        "missing field `name`",
    );
}

#[test]
fn endpoint_errors() {
    let l = line_of("unit = \"00004\"");
    assert_one_error(
        "unit = \"00004\"",
        "unit = \"0099\"",
        l,
        "endpoint[0].unit",
        "unknown unit \"0099\"",
    );
    let errs = errors_with("unit = \"00004\"", "unit = \"0099\"");
    assert!(errs[0].starts_with(&format!("{l}:8 ")), "column: {errs:?}");
    assert_one_error(
        "password = \"pass1001\"",
        "password = \"\"",
        line_of("password = \"pass1001\""),
        "endpoint[0].password",
        "must not be empty",
    );
    assert_one_error(
        "password = \"pass1001\"",
        "",
        line_of("id = \"1001\"") - 1,
        "endpoint[0]",
        "missing credentials",
    );
    assert_one_error(
        "password = \"x\"",
        "password = \"x\"\nha1_sha256 = \"00\"",
        line_of("password = \"x\"") + 1,
        "endpoint[2].ha1_sha256",
        "set only one",
    );
    assert_one_error(
        "ha1_md5 = \"0123456789abcdef0123456789ABCDEF\"",
        "ha1_md5 = \"0123\"",
        line_of("ha1_md5"),
        "endpoint[1].ha1_md5",
        "32 hexadecimal digits",
    );
    assert_one_error(
        "id = \"1003\"",
        "id = \"1002\"",
        line_of("id = \"1003\""),
        "endpoint[2].id",
        "duplicate endpoint id",
    );
    assert_one_error(
        "numbers = [\"1002\"]",
        "numbers = [\"241001\"]",
        line_of("numbers = [\"1002\"]"),
        "endpoint[1].numbers[0]",
        "number \"241001\" is already used by endpoint \"1001\"",
    );
    assert_one_error(
        "numbers = [\"1002\"]",
        "numbers = [\"1002\"]\naliases = [\"room-truc-bach\"]",
        line_of("numbers = [\"1002\"]") + 1,
        "endpoint[1].aliases[0]",
        "alias \"room-truc-bach\" is already used by endpoint \"1001\"",
    );
    assert_one_error(
        "numbers = [\"1002\"]",
        "numbers = [\"10-02\"]",
        line_of("numbers = [\"1002\"]"),
        "endpoint[1].numbers[0]",
        "is not a number",
    );
    assert_one_error(
        "vetted = false",
        "transport = \"sctp\"",
        line_of("vetted = false"),
        "endpoint[2].transport",
        "not one of any, udp, tcp, tls",
    );
    assert_one_error(
        "vetted = false",
        "max_contacts = 0",
        line_of("vetted = false"),
        "endpoint[2].max_contacts",
        "out of range",
    );
}

#[test]
fn trunk_errors() {
    let l = line_of("uri = \"sip:10.0.0.1");
    assert_one_error(
        "uri = \"sip:10.0.0.1:5060;transport=tcp\"",
        "uri = \"http://x\"",
        l,
        "trunk[0].uri",
        "not a sip",
    );
    assert_one_error(
        "uri = \"sip:10.0.0.1:5060;transport=tcp\"",
        "uri = \"sip:u@h\"",
        l,
        "trunk[0].uri",
        "no user part",
    );
    assert_one_error(
        "acl = [\"10.0.0.0/24\"]",
        "acl = [\"10.0.0.0/24\", \"10.0.0.1/8\"]",
        line_of("acl = [\"10.0.0.0/24\"]"),
        "trunk[0].acl[1]",
        "host bits set",
    );
    assert_one_error(
        "acl = [\"10.0.0.0/24\"]",
        "acl = [\"10.0.0.300\"]",
        line_of("acl = [\"10.0.0.0/24\"]"),
        "trunk[0].acl[0]",
        "not an IP address",
    );
    assert_one_error(
        "[[rule]]",
        "[[trunk]]\nname = \"carrier\"\nuri = \"sip:h\"\n\n[[rule]]",
        line_of("[[rule]]") + 1,
        "trunk[2].name",
        "duplicate trunk name",
    );
    assert_one_error(
        "password = \"secret\"",
        "",
        line_of("username = \"gw\""),
        "trunk[0].username",
        "needs a `password`",
    );
    assert_one_error(
        "password = \"secret\"",
        "password = \"\"",
        line_of("password = \"secret\""),
        "trunk[0].password",
        "must not be empty",
    );
}

#[test]
fn rule_errors() {
    let l = line_of("match = { regex = '0(\\d+)' }");
    assert_one_error(
        "regex = '0(\\d+)'",
        "regex = '0(\\d+'",
        l,
        "rule[1].match.regex",
        "bad regex",
    );
    assert_one_error(
        "rewrite = \"84$1\"",
        "rewrite = \"84$2\"",
        line_of("rewrite"),
        "rule[1].rewrite",
        "group $2",
    );
    assert_one_error(
        "trunk = \"carrier\"",
        "trunk = \"nowhere\"",
        line_of("trunk = \"carrier\""),
        "rule[1].trunk",
        "unknown trunk \"nowhere\"",
    );
    assert_one_error(
        "from_unit = \"001\"",
        "from_unit = \"0099\"",
        line_of("from_unit"),
        "rule[1].from_unit",
        "unknown unit",
    );
    assert_one_error(
        "from_trunk = \"carrier\"",
        "from_trunk = \"x\"",
        line_of("from_trunk"),
        "rule[6].from_trunk",
        "unknown trunk",
    );
    assert_one_error(
        "status = 403",
        "status = 200",
        line_of("status = 403"),
        "rule[0].status",
        "400..=699",
    );
    assert_one_error(
        "status = 403",
        "status = 403\ntrunk = \"carrier\"",
        line_of("status = 403") + 1,
        "rule[0].trunk",
        "does not apply to action = \"reject\"",
    );
    assert_one_error(
        "target = \"room-truc-bach\"",
        "target = \"nobody\"",
        line_of("target = \"room-truc-bach\""),
        "rule[5].target",
        "unknown endpoint",
    );
    assert_one_error(
        "match = { exact = \"0\" }",
        "match = { exact = \"0\", prefix = \"1\" }",
        line_of("match = { exact = \"0\" }"),
        "rule[5].match.prefix",
        "only one",
    );
    assert_one_error(
        "uri = \"sip:${room}@meet.example.net;transport=tls\"",
        "uri = \"sip:${rom}@meet.example.net\"",
        line_of("uri = \"sip:${room}"),
        "rule[3].uri",
        "unknown group",
    );
    assert_one_error(
        "uri = \"sip:${room}@meet.example.net;transport=tls\"",
        "uri = \"mailto:${room}\"",
        line_of("uri = \"sip:${room}"),
        "rule[3].uri",
        "not a sip",
    );
    assert_one_error(
        "action = \"uri\"",
        "action = \"forward\"",
        line_of("action = \"uri\""),
        "rule[3].action",
        "unknown action",
    );
    assert_one_error(
        "strip = 2",
        "strip = -1",
        line_of("strip = 2"),
        "rule[2].strip",
        "out of range",
    );
    assert_one_error(
        "name = \"intl\"",
        "name = \"block-premium\"",
        line_of("name = \"intl\""),
        "rule[2].name",
        "duplicate rule name",
    );
    assert_one_error(
        "encryption = \"required\"",
        "encryption = \"maybe\"",
        line_of("encryption = \"required\""),
        "rule[2].encryption",
        "not \"optional\" or \"required\"",
    );
}

#[test]
fn all_errors_are_reported_in_order() {
    let src = BASE
        .replacen("parent = \"001\"", "parent = \"0099\"", 1)
        .replacen("status = 403", "status = 99", 1)
        .replacen("unit = \"002\"", "unit = \"nowhere\"", 1);
    let errs = Dialplan::check(&src, "dialplans/x.toml");
    assert_eq!(errs.len(), 3, "{errs:#?}");
    assert!(errs.windows(2).all(|w| w[0].line < w[1].line));
    assert_eq!(
        errs[0].to_string(),
        format!(
            "dialplans/x.toml:{}:10: unit[2].parent: unknown unit \"0099\"",
            line_of("parent = \"001\"")
        )
    );
    assert_eq!(errs[1].field, "endpoint[1].unit");
    assert_eq!(errs[2].field, "rule[0].status");
}

#[test]
fn sample_dialplan_routes_the_loopback_fixture() {
    let d = Dialplan::parse(SAMPLE_DIALPLAN, "loopback.toml").expect("sample parses");
    assert!(matches!(
        d.endpoint("1001").unwrap().credentials,
        Credentials::Password(ref p) if p == "pass1001"
    ));
    let r = d.route(&req(ep("1001"), "1002"));
    assert_eq!(r.outcome, RouteOutcome::Endpoint { id: "1002".into() });
    let r = d.route(&req(ep("1002"), "1001"));
    assert_eq!(r.outcome, RouteOutcome::Endpoint { id: "1001".into() });
    let r = d.route(&req(ep("1001"), "5555"));
    assert_eq!(
        r.outcome,
        RouteOutcome::Trunk {
            name: "loopback-trunk".into(),
            uri: "sip:5555@127.0.0.1:5070".into()
        }
    );
    // SIPp on 127.0.0.1 without credentials.
    let r = d.route(&req(anon("127.0.0.1"), "1001"));
    assert_eq!(r.outcome, RouteOutcome::Endpoint { id: "1001".into() });
    let r = d.route(&req(anon("127.0.0.1"), "777"));
    assert_eq!(
        r.outcome,
        RouteOutcome::Trunk {
            name: "loopback-trunk".into(),
            uri: "sip:777@127.0.0.1:5070".into()
        }
    );
    let r = d.route(&req(anon("192.0.2.10"), "1001"));
    assert!(matches!(
        r.outcome,
        RouteOutcome::Reject { status: 403, .. }
    ));
}

// ---------------------------------------------------------------- H.323 endpoints

const H323_BASE: &str = r#"
[[unit]]
code = "01"
name = "Thành phố Hà Nội"
kind = "city"

[[endpoint]]
id = "1001"
unit = "01"
password = "pass1001"
numbers = ["1001"]

[[endpoint]]
id = "2001"
unit = "01"
protocol = "h323"
numbers = ["2001"]
h323_id = ["room-2001"]
vetted = true
"#;

fn h323_errors(src: &str) -> Vec<String> {
    Dialplan::check(src, "h.toml")
        .into_iter()
        .map(|e| e.to_string())
        .collect()
}

#[test]
fn sample_dialplan_has_the_h323_room() {
    let d = Dialplan::parse(SAMPLE_DIALPLAN, "loopback.toml").expect("sample parses");
    let e = d.endpoint_by_h323_id("room-2001").expect("h323-ID known");
    assert_eq!(e.id, "2001");
    assert_eq!(e.protocol, Protocol::H323);
    assert_eq!(e.unit, "01");
    assert!(e.vetted);
    assert_eq!(e.h323_password, None);
    assert_eq!(
        d.h323_endpoint_by_number("2001").map(|e| e.id.as_str()),
        Some("2001")
    );
    // h323-IDs compare exactly, and SIP numbers never name an H.323 device
    assert!(d.endpoint_by_h323_id("ROOM-2001").is_none());
    assert!(d.h323_endpoint_by_number("1001").is_none());
    assert_eq!(d.endpoint("1001").unwrap().protocol, Protocol::Sip);
    // the SIP secret of a password-less H.323 endpoint matches no password
    assert_eq!(e.credentials, Credentials::Ha1Md5("0".repeat(32)));
}

#[test]
fn h323_endpoint_password_is_its_h235_password() {
    let src = H323_BASE.replace(
        "protocol = \"h323\"",
        "protocol = \"h323\"\npassword = \"s3cret\"",
    );
    let d = Dialplan::parse(&src, "h.toml").unwrap();
    assert_eq!(
        d.endpoint("2001").unwrap().h323_password.as_deref(),
        Some("s3cret")
    );
    assert_eq!(d.endpoint("1001").unwrap().h323_password, None);
}

#[test]
fn h323_endpoint_mistakes_name_file_line_and_field() {
    let line_of =
        |src: &str, needle: &str| src[..src.find(needle).unwrap()].matches('\n').count() + 1;

    let src = H323_BASE.replace("protocol = \"h323\"", "protocol = \"h.323\"");
    let errs = h323_errors(&src);
    let l = line_of(&src, "protocol = \"h.323\"");
    assert!(
        errs.iter().any(|e| e.starts_with(&format!("h.toml:{l}:"))
            && e.contains("endpoint[1].protocol: \"h.323\" is not one of sip, h323")),
        "{errs:#?}"
    );

    let src = H323_BASE.replace(
        "numbers = [\"1001\"]",
        "numbers = [\"1001\"]\nh323_id = [\"room-1001\"]",
    );
    let errs = h323_errors(&src);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert!(
        errs[0].contains("endpoint[0].h323_id[0]: h323_id is only for H.323 endpoints"),
        "{errs:#?}"
    );
    assert!(
        errs[0].starts_with(&format!(
            "h.toml:{}:",
            line_of(&src, "h323_id = [\"room-1001\"]")
        )),
        "{errs:#?}"
    );

    let src = H323_BASE.replace(
        "protocol = \"h323\"",
        "protocol = \"h323\"\nha1_md5 = \"0123456789abcdef0123456789abcdef\"",
    );
    let errs = h323_errors(&src);
    assert!(
        errs.iter()
            .any(|e| e.contains("endpoint[1].ha1_md5: an H.323 endpoint takes only `password`")),
        "{errs:#?}"
    );

    let src = H323_BASE.replace("numbers = [\"2001\"]\nh323_id = [\"room-2001\"]\n", "");
    let errs = h323_errors(&src);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert!(
        errs[0].contains("endpoint[1]: an H.323 endpoint needs `h323_id` or `numbers`"),
        "{errs:#?}"
    );

    let src = format!("{H323_BASE}\n[[endpoint]]\nid = \"2002\"\nunit = \"01\"\nprotocol = \"h323\"\nh323_id = [\"room-2001\"]\n");
    let errs = h323_errors(&src);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert!(
        errs[0].contains(
            "endpoint[2].h323_id[0]: h323_id \"room-2001\" is already used by endpoint \"2001\""
        ),
        "{errs:#?}"
    );

    let src = H323_BASE.replace("h323_id = [\"room-2001\"]", "h323_id = [\"\"]");
    let errs = h323_errors(&src);
    assert!(
        errs.iter()
            .any(|e| e.contains("endpoint[1].h323_id[0]: bad h323_id")),
        "{errs:#?}"
    );

    let src = H323_BASE.replace(
        "protocol = \"h323\"",
        "protocol = \"h323\"\ntransport = \"tls\"",
    );
    let errs = h323_errors(&src);
    assert!(
        errs.iter()
            .any(|e| e.contains("endpoint[1].transport: transport is a SIP setting")),
        "{errs:#?}"
    );
}

// ------------------------------------------------------------ time windows

/// Rules on `5…` after BASE's: office hours, Friday night (crossing
/// midnight), and a rule for the rest of the time.
const WINDOWED_RULES: &str = r#"
[[rule]]
name = "office-hours"
match = { prefix = "5" }
action = "reject"
status = 480
reason = "Office hours"
time = ["mon-fri 07:30-17:00", "sat 08:00-12:00"]

[[rule]]
name = "friday-night"
match = { prefix = "5" }
action = "reject"
status = 481
reason = "Friday night"
time = ["fri 22:00-06:00"]

[[rule]]
name = "after-hours"
match = { prefix = "5" }
action = "reject"
status = 482
reason = "After hours"
"#;

const HOUR: i64 = 3600;
const DAY: i64 = 24 * HOUR;

fn windowed(head: &str) -> Dialplan {
    let src = format!("{head}{BASE}{WINDOWED_RULES}");
    Dialplan::parse(&src, "w.toml").unwrap_or_else(|e| panic!("{e:?}"))
}

fn status_at(d: &Dialplan, at: i64) -> (u16, Vec<String>) {
    let mut q = req(ep("1001"), "5555");
    q.at_unix_secs = at;
    let r = d.route(&q);
    match r.outcome {
        RouteOutcome::Reject { status, .. } => (status, r.trace),
        o => panic!("{o:?}"),
    }
}

#[test]
fn rules_apply_only_within_their_time_windows() {
    let d = windowed("");
    assert_eq!(d.timezone().name, "Asia/Ho_Chi_Minh");
    assert_eq!(d.timezone().offset_secs, 7 * HOUR as i32);
    assert_eq!(d.rules()[7].windows.len(), 2);
    // Monday noon: office hours, and the trace names the window.
    let (s, trace) = status_at(&d, MONDAY_NOON);
    assert_eq!(s, 480);
    assert!(
        trace.iter().any(|l| l
            == "rule \"office-hours\": time window \"mon-fri 07:30-17:00\" holds at Mon 12:00 (Asia/Ho_Chi_Minh)"),
        "{trace:?}"
    );
    // Monday 07:29 and 17:00: outside, so the call falls through to the
    // rule without windows.
    assert_eq!(status_at(&d, MONDAY_NOON - 4 * HOUR - 31 * 60).0, 482);
    assert_eq!(status_at(&d, MONDAY_NOON + 5 * HOUR).0, 482);
    // Saturday 10:00: the second window.
    let (s, trace) = status_at(&d, MONDAY_NOON + 5 * DAY - 2 * HOUR);
    assert_eq!(s, 480);
    assert!(
        trace
            .iter()
            .any(|l| l.contains("\"sat 08:00-12:00\" holds")),
        "{trace:?}"
    );
    // Saturday 13:00: both windowed rules are skipped, and say why.
    let (s, trace) = status_at(&d, MONDAY_NOON + 5 * DAY + HOUR);
    assert_eq!(s, 482);
    assert!(
        trace.iter().any(|l| l
            == "rule \"office-hours\" skipped: Sat 13:00 (Asia/Ho_Chi_Minh) is outside its time windows \"mon-fri 07:30-17:00\", \"sat 08:00-12:00\""),
        "{trace:?}"
    );
    assert!(
        trace
            .iter()
            .any(|l| l.contains("\"friday-night\" skipped: Sat 13:00")),
        "{trace:?}"
    );
    // A rule that does not match says so, not its windows.
    let mut q = req(ep("1001"), "6666");
    q.at_unix_secs = MONDAY_NOON;
    let r = d.route(&q);
    assert!(
        r.trace
            .iter()
            .any(|l| l.contains("\"office-hours\" skipped: \"6666\" does not match prefix")),
        "{:?}",
        r.trace
    );
}

#[test]
fn windows_crossing_midnight_hold_into_the_next_morning() {
    let d = windowed("");
    let friday_23 = MONDAY_NOON + 4 * DAY + 11 * HOUR;
    assert_eq!(status_at(&d, friday_23).0, 481);
    // Saturday 03:00 and 05:59 belong to Friday night; 06:00 does not.
    assert_eq!(status_at(&d, friday_23 + 4 * HOUR).0, 481);
    assert_eq!(status_at(&d, friday_23 + 7 * HOUR - 60).0, 481);
    assert_eq!(status_at(&d, friday_23 + 7 * HOUR).0, 482);
    // Friday 05:00 follows a Thursday: not Friday night.
    assert_eq!(status_at(&d, friday_23 - 18 * HOUR).0, 482);
}

#[test]
fn windows_are_read_in_the_dialplans_time_zone() {
    // Monday noon in Hà Nội is 05:00 in UTC: before office hours there.
    let d = windowed("timezone = \"UTC\"\n");
    assert_eq!(status_at(&d, MONDAY_NOON).0, 482);
    assert_eq!(status_at(&d, MONDAY_NOON + 3 * HOUR).0, 480);
    let d = windowed("timezone = \"+07:00\"\n");
    assert_eq!(d.timezone().offset_secs, 25_200);
    assert_eq!(status_at(&d, MONDAY_NOON).0, 480);
}

fn errors_in(src: &str) -> Vec<String> {
    Dialplan::check(src, "t.toml")
        .into_iter()
        .map(|e| format!("{}:{} {}: {}", e.line, e.column, e.field, e.message))
        .collect()
}

fn line_in(src: &str, needle: &str) -> usize {
    src[..src.find(needle).expect("needle")]
        .matches('\n')
        .count()
        + 1
}

#[test]
fn bad_time_windows_and_zones_are_refused_with_their_place() {
    for (window, msg) in [
        ("mon-fry 07:30-17:00", "unknown day \"fry\""),
        ("mon 07:30", "not a span of times"),
        ("mon 07:30-24:30", "not a time HH:MM"),
        ("mon 08:00-08:00", "is empty"),
    ] {
        let src = format!(
            "{BASE}{}",
            WINDOWED_RULES.replace("\"fri 22:00-06:00\"", &format!("\"{window}\""))
        );
        let errs = errors_in(&src);
        assert_eq!(errs.len(), 1, "{errs:#?}");
        let line = line_in(&src, window);
        assert!(
            errs[0].starts_with(&format!("{line}:")),
            "want line {line}: {errs:?}"
        );
        assert!(errs[0].contains(" rule[8].time[0]: "), "{errs:?}");
        assert!(errs[0].contains(msg), "want {msg:?}: {errs:?}");
    }
    // The second window of a list is named by its index.
    let src = format!(
        "{BASE}{}",
        WINDOWED_RULES.replace("\"sat 08:00-12:00\"", "\"sat 8-12\"")
    );
    let errs = errors_in(&src);
    assert!(
        errs.len() == 1 && errs[0].contains(" rule[7].time[1]: "),
        "{errs:?}"
    );
    // An empty list would never apply.
    let src = format!(
        "{BASE}{}",
        WINDOWED_RULES.replace("time = [\"fri 22:00-06:00\"]", "time = []")
    );
    let errs = errors_in(&src);
    assert!(
        errs.len() == 1 && errs[0].contains(" rule[8].time: `time` is empty"),
        "{errs:?}"
    );
    // Zones: only fixed offsets and the few names known without a database.
    let src = format!("timezone = \"Europe/Paris\"\n{BASE}");
    let errs = errors_in(&src);
    assert!(
        errs.len() == 1
            && errs[0].starts_with("1:12 timezone: ")
            && errs[0].contains("fixed offset"),
        "{errs:?}"
    );
}

// ------------------------------------------------------------------ trunks

/// BASE with the carrier trunk limited inbound and outbound, with a caller-ID
/// policy, and the edge trunk's lines appended after its ACL.
fn with_trunks(carrier: &str, edge: &str) -> Result<Dialplan, Vec<String>> {
    let src = BASE
        .replacen("unit = \"01\"\n", &format!("unit = \"01\"\n{carrier}\n"), 1)
        .replacen(
            "acl = [\"10.0.0.7/32\"]\n",
            &format!("acl = [\"10.0.0.7/32\"]\n{edge}\n"),
            1,
        );
    Dialplan::parse(&src, "t.toml").map_err(|e| e.iter().map(|e| e.to_string()).collect())
}

#[test]
fn trunk_kind_defaults_to_carrier() {
    let d = plan();
    assert_eq!(d.trunk("carrier").unwrap().kind, TrunkKind::Carrier);
    assert_eq!(d.trunk("carrier").unwrap().inbound_numbers, None);
    assert_eq!(d.trunk("carrier").unwrap().caller_id, CallerIdPolicy::Pass);
    let d = with_trunks("kind = \"national\"", "kind = \"party\"").unwrap();
    assert_eq!(d.trunk("carrier").unwrap().kind, TrunkKind::National);
    assert_eq!(d.trunk("carrier-edge").unwrap().kind, TrunkKind::Party);
    let r = d.route(&req(Caller::Trunk("carrier".into()), "1001"));
    assert!(
        r.trace[0].contains("caller is trunk carrier, a national trunk of unit 01"),
        "{:?}",
        r.trace
    );
}

#[test]
fn a_trunk_may_call_only_its_inbound_numbers() {
    let d = with_trunks(
        "kind = \"national\"\ninbound_numbers = [\"1001\", \"2410*\", \"1000-1099\"]",
        "",
    )
    .unwrap();
    let carrier = || Caller::Trunk("carrier".into());
    // Exact, prefix and range.
    let r = d.route(&req(carrier(), "1001"));
    assert_eq!(r.outcome, RouteOutcome::Endpoint { id: "1001".into() });
    assert!(
        r.trace
            .iter()
            .any(|l| l == "\"1001\" is within trunk carrier's inbound_numbers (1001)"),
        "{:?}",
        r.trace
    );
    assert_eq!(
        d.route(&req(carrier(), "241001")).outcome,
        RouteOutcome::Endpoint { id: "1001".into() }
    );
    // 1050 is no endpoint: the from-carrier rule sends it to 1002.
    assert_eq!(
        d.route(&req(carrier(), "1050")).outcome,
        RouteOutcome::Endpoint { id: "1002".into() }
    );
    // Anything else is refused before endpoints, meetings and rules.
    let want = RouteOutcome::Reject {
        status: 403,
        reason: "Trunk carrier (national) may not call 5555: not in its inbound_numbers".into(),
    };
    assert_eq!(d.route(&req(carrier(), "5555")).outcome, want);
    assert_eq!(d.route(&req(anon("10.0.0.9"), "5555")).outcome, want);
    // A range is of numbers of its own length.
    assert!(matches!(
        d.route(&req(carrier(), "10500")).outcome,
        RouteOutcome::Reject { status: 403, .. }
    ));
    assert!(matches!(
        d.route(&req(carrier(), "1100")).outcome,
        RouteOutcome::Reject { status: 403, .. }
    ));
    // Other callers are not limited by the trunk's list.
    assert_eq!(
        d.route(&req(ep("1002"), "1001")).outcome,
        RouteOutcome::Endpoint { id: "1001".into() }
    );
}

#[test]
fn a_rule_may_send_out_over_a_trunk_only_its_outbound_numbers() {
    // intl: 00 + number → carrier-edge as +number (encryption required);
    // 1002 is outside Ba Đình, whose own rule takes 0… first.
    let d = with_trunks("", "outbound_numbers = [\"+84*\", \"+1800-+1899\"]").unwrap();
    let mut q = req(ep("1002"), "0084241234");
    q.transport_secure = true;
    let r = d.route(&q);
    assert_eq!(
        r.outcome,
        RouteOutcome::Trunk {
            name: "carrier-edge".into(),
            uri: "sips:+84241234@edge.example.net".into()
        }
    );
    assert!(
        r.trace
            .iter()
            .any(|l| l == "\"+84241234\" is within trunk carrier-edge's outbound_numbers (+84*)"),
        "{:?}",
        r.trace
    );
    q.target = "0033123".into();
    let r = d.route(&q);
    assert_eq!(
        r.outcome,
        RouteOutcome::Reject {
            status: 403,
            reason:
                "+33123 may not be sent over trunk carrier-edge (carrier): not in its outbound_numbers"
                    .into()
        }
    );
    assert!(
        r.trace.last().unwrap().starts_with("reject 403 +33123"),
        "{:?}",
        r.trace
    );
    q.target = "001850".into();
    assert!(matches!(d.route(&q).outcome, RouteOutcome::Trunk { .. }));
}

#[test]
fn trunk_caller_id_policies() {
    let out = |d: &Dialplan| {
        let mut q = req(ep("1002"), "0084241234");
        q.transport_secure = true;
        d.route(&q)
    };
    // pass (the default): nothing presented instead.
    assert_eq!(out(&plan()).policy.caller_id, None);
    let d = with_trunks("", "caller_id = \"replace:+842438000000\"").unwrap();
    let r = out(&d);
    assert_eq!(r.policy.caller_id.as_deref(), Some("+842438000000"));
    assert!(
        r.trace
            .iter()
            .any(|l| l == "caller-ID \"+842438000000\" (trunk carrier-edge: replace)"),
        "{:?}",
        r.trace
    );
    // prefix: before the caller's first number.
    let d = with_trunks("", "caller_id = \"prefix:+8424380\"").unwrap();
    assert_eq!(out(&d).policy.caller_id.as_deref(), Some("+84243801002"));
    // A trunk caller without a numeric From user has no number to prefix.
    let mut q = req(Caller::Trunk("carrier-edge".into()), "0084241234");
    q.transport_secure = true;
    let r = d.route(&q);
    assert_eq!(r.policy.caller_id, None);
    assert!(
        r.trace
            .iter()
            .any(|l| l.contains("the caller has no number")),
        "{:?}",
        r.trace
    );
    q.from_user = Some("0912345678".into());
    assert_eq!(
        d.route(&q).policy.caller_id.as_deref(),
        Some("+84243800912345678")
    );
    // A rule's own caller_id wins over the trunk's policy.
    let d = with_trunks("caller_id = \"replace:111\"", "").unwrap();
    let r = d.route(&req(ep("1001"), "0912345"));
    assert!(matches!(r.outcome, RouteOutcome::Trunk { ref name, .. } if name == "carrier"));
    assert_eq!(r.policy.caller_id.as_deref(), Some("842438000000"));
}

#[test]
fn trunk_kind_number_list_and_caller_id_errors() {
    let carrier_line = line_of("unit = \"01\"\n") + 1;
    for (text, field, msg) in [
        (
            "kind = \"telco\"",
            "trunk[0].kind",
            "unknown trunk kind \"telco\"; expected one of carrier, national, party, authority",
        ),
        (
            "inbound_numbers = [\"1000-199\"]",
            "trunk[0].inbound_numbers[0]",
            "same number of digits",
        ),
        (
            "inbound_numbers = [\"1\", \"1999-1000\"]",
            "trunk[0].inbound_numbers[1]",
            "ends before it starts",
        ),
        (
            "outbound_numbers = [\"12a*\"]",
            "trunk[0].outbound_numbers[0]",
            "not a number prefix",
        ),
        (
            "outbound_numbers = [\"abc\"]",
            "trunk[0].outbound_numbers[0]",
            "is not a number, a prefix",
        ),
        (
            "outbound_numbers = [\"+1-2\"]",
            "trunk[0].outbound_numbers[0]",
            "same number of digits",
        ),
        (
            "caller_id = \"replace:abc\"",
            "trunk[0].caller_id",
            "\"abc\" is not a number",
        ),
        (
            "caller_id = \"spoof\"",
            "trunk[0].caller_id",
            "not a caller-ID policy",
        ),
    ] {
        let errs = with_trunks(text, "").err().unwrap_or_default();
        assert_eq!(errs.len(), 1, "{text}: {errs:#?}");
        assert!(
            errs[0].starts_with(&format!("t.toml:{carrier_line}:")),
            "{text}: want line {carrier_line}: {errs:?}"
        );
        assert!(errs[0].contains(&format!(": {field}: ")), "{errs:?}");
        assert!(errs[0].contains(msg), "{text}: want {msg:?}: {errs:?}");
    }
    // An empty list would refuse every call: reported at the trunk.
    let errs = with_trunks("inbound_numbers = []", "")
        .err()
        .unwrap_or_default();
    assert!(
        errs.len() == 1
            && errs[0].contains(": trunk[0].inbound_numbers: `inbound_numbers` is empty"),
        "{errs:?}"
    );
}

#[test]
fn number_patterns() {
    let p = |s: &str| NumberPattern::parse(s).unwrap();
    assert!(p("84243*").matches("842431234"));
    assert!(!p("84243*").matches("8424"));
    assert!(p("*").matches("anything"));
    assert!(p("1000-1999").matches("1500"));
    assert!(p("1000-1999").matches("1999"));
    assert!(!p("1000-1999").matches("2000"));
    assert!(!p("1000-1999").matches("15000"));
    assert!(!p("1000-1999").matches("1a00"));
    assert!(p("+8400-+8499").matches("+8450"));
    assert!(!p("+8400-+8499").matches("8450"));
    assert!(p("#1").matches("#1") && !p("#1").matches("#12"));
    assert_eq!(p("1000-1999").to_string(), "1000-1999");
    assert_eq!(p("84243*").to_string(), "84243*");
}
