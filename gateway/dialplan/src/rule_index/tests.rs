use super::*;
use crate::{Caller, Dialplan, RouteOutcome, RouteRequest};
use proptest::prelude::*;

/// The regex engine's answer for a whole-target match of `pattern`.
fn engine<'t>(pattern: &str, target: &'t str) -> Option<Groups<'t>> {
    let re = regex::Regex::new(&format!("^(?:{pattern})$")).unwrap();
    re.captures(target)
        .map(|c| c.iter().map(|m| m.map(|m| m.as_str())).collect())
}

#[test]
fn plain_regexes_run_as_programs() {
    let plain = [
        r"70(\d{2,6})",
        r"71\d{2,6}",
        r"8(?P<meeting>\d{6})",
        r"0(\d{9,10})",
        r"\+84\d+",
        r"(?:12)(3)",
        r"(a(\d)b)\d*",
        r"\*\d{2}#",
        "1{0}2",
        "(?<x>)9",
    ];
    for p in plain {
        let prog = compile_simple(p).unwrap_or_else(|| panic!("{p}"));
        let re = regex::Regex::new(&format!("^(?:{p})$")).unwrap();
        assert!(simple_agrees(&prog, &re), "{p}");
    }
    let prog = compile_simple(r"70(\d{2,6})").unwrap();
    assert_eq!(
        run_simple(&prog, "701234"),
        Some(vec![Some("701234"), Some("1234")])
    );
    assert_eq!(run_simple(&prog, "7012345678"), None);
    assert_eq!(run_simple(&prog, "70123a"), None);
    let prog = compile_simple(r"(a(\d)b)\d*").unwrap();
    assert_eq!(
        run_simple(&prog, "a5b77"),
        Some(vec![Some("a5b77"), Some("a5b"), Some("5")])
    );
    // Everything else stays with the regex engine.
    let other = [
        r"\d+\d+", r"(\d)?", "a|b", "[0-9]", "a??", r"\d{2,}?", r"\w", r"\D", "(?i)a", ".", r"\<1",
        "^1", "1$", "a{,3}", "a{3,2}", "a{ 2}", "(1", "1)", "é",
    ];
    for p in other {
        assert_eq!(compile_simple(p), None, "{p}");
    }
}

/// A pattern of the plain shape, or near it, as pieces: atoms with
/// quantifiers and groups that open and close.
fn pattern_strategy() -> impl Strategy<Value = String> {
    let atom = prop::sample::select(vec!["0", "1", "7", "a", "#", r"\d", r"\d", r"\*", r"\+"]);
    let quant = prop::sample::select(vec![
        "", "", "", "?", "*", "+", "{2}", "{1,3}", "{0,2}", "{2,}", "{0}", "??",
    ]);
    let piece = (0u8..8, atom, quant);
    proptest::collection::vec(piece, 0..8).prop_map(|pieces| {
        let mut s = String::new();
        let mut open = 0;
        for (kind, atom, quant) in pieces {
            match kind {
                0 => {
                    s.push('(');
                    open += 1;
                }
                1 => {
                    s.push_str("(?:");
                    open += 1;
                }
                2 => {
                    s.push_str(&format!("(?P<n{}>", s.len()));
                    open += 1;
                }
                3 if open > 0 => {
                    s.push(')');
                    open -= 1;
                    // Now and then a repeated group.
                    if quant == "?" {
                        s.push('?');
                    }
                }
                _ => {
                    s.push_str(atom);
                    s.push_str(quant);
                }
            }
        }
        s.push_str(&")".repeat(open));
        s
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// A program matches what the regex engine matches, with the same
    /// groups, on targets near its matches and on any others.
    #[test]
    fn programs_agree_with_the_regex_engine(
        pattern in pattern_strategy(),
        noise in proptest::collection::vec("[017a#*+]{0,7}", 4),
        extra in 0usize..4,
        digit in prop::sample::select(vec![b'0', b'7', b'9']),
    ) {
        let Some(prog) = compile_simple(&pattern) else { return Ok(()) };
        let re = regex::Regex::new(&format!("^(?:{pattern})$")).unwrap();
        let Some(&Op::Head { groups, .. }) = prog.first() else { panic!() };
        prop_assert_eq!(re.captures_len(), groups as usize + 1, "{}", pattern);
        let sample = simple_sample(&prog, extra, digit);
        let mut targets = noise;
        targets.push(sample.clone());
        targets.push(format!("{sample}1"));
        targets.push(sample.replacen(char::from(digit), "a", 1));
        for t in &targets {
            prop_assert_eq!(run_simple(&prog, t), engine(&pattern, t), "{} on {:?}", pattern, t);
        }
    }
}

#[test]
fn a_target_with_other_digits_goes_to_the_regex_engine() {
    let src = format!(
        "{HEAD}[[rule]]\nname = \"r0\"\nmatch = {{ regex = '7(\\d)' }}\naction = \"reject\"\nstatus = 451\n"
    );
    let d = Dialplan::parse(&src, "d.toml").unwrap();
    let status = |target: &str| match d
        .route(&RouteRequest {
            caller: Caller::Endpoint("e1".into()),
            from_user: None,
            target: target.into(),
            transport_secure: false,
            at_unix_secs: 0,
        })
        .outcome
    {
        RouteOutcome::Reject { status, .. } => status,
        o => panic!("{o:?}"),
    };
    // U+0663, ARABIC-INDIC DIGIT THREE: a `\d` for the regex engine.
    assert_eq!(status("7\u{663}"), 451);
    assert_eq!(status("73"), 451);
    assert_eq!(status("7x"), 404);
}

#[test]
fn start_filter_knows_the_first_two_bytes() {
    let mut f = StartFilter::new();
    f.insert(b"61");
    f.insert(b"7");
    assert!(f.may_hold(b"61"));
    assert!(!f.may_hold(b"62"));
    assert!(!f.may_hold(b"16"));
    assert!(f.may_hold(b"7"));
    assert!(!f.may_hold(b"8"));
}

#[test]
fn literal_prefix_of_regexes() {
    let p = |s: &str| regex_literal_prefix(s);
    assert_eq!(p(r"70(\d{2,6})").as_deref(), Some("70"));
    assert_eq!(p(r"71\d{2,6}").as_deref(), Some("71"));
    assert_eq!(p(r"8(?P<m>\d{6})").as_deref(), Some("8"));
    assert_eq!(p(r"\d+").as_deref(), Some(""));
    // A quantifier takes the last literal with it.
    assert_eq!(p("70?1").as_deref(), Some("7"));
    assert_eq!(p("ab*").as_deref(), Some("a"));
    assert_eq!(p("a{2}").as_deref(), Some(""));
    // Flags, classes and dots end the literal.
    assert_eq!(p("(?i)abc").as_deref(), Some(""));
    assert_eq!(p("ab.c").as_deref(), Some("ab"));
    assert_eq!(p("ab[0-9]").as_deref(), Some("ab"));
    // An alternation can start anywhere: no bound.
    assert_eq!(p("70|80"), None);
    assert_eq!(p("7(0|8)"), None);
}

/// Units 01 > 001 > 00004, 01 > 002; trunks t0, t1; endpoints e1 (00004),
/// e2 (002), e3 (01) with numbers that rules never name.
const HEAD: &str = r##"
[[unit]]
code = "01"
name = "City"
kind = "city"
[[unit]]
code = "001"
name = "D1"
kind = "urban_district"
parent = "01"
[[unit]]
code = "00004"
name = "W4"
kind = "ward"
parent = "001"
[[unit]]
code = "002"
name = "D2"
kind = "urban_district"
parent = "01"
[[endpoint]]
id = "e1"
unit = "00004"
password = "x"
numbers = ["#1"]
vetted = true
[[endpoint]]
id = "e2"
unit = "002"
password = "x"
numbers = ["#2"]
vetted = true
[[endpoint]]
id = "e3"
unit = "01"
password = "x"
numbers = ["#3"]
vetted = true
[[trunk]]
name = "t0"
uri = "sip:192.0.2.1"
[[trunk]]
name = "t1"
uri = "sip:192.0.2.2"
unit = "001"
"##;

const UNITS: [&str; 4] = ["01", "001", "00004", "002"];

#[derive(Debug, Clone)]
struct R {
    kind: u8,
    pattern: String,
    unit: Option<usize>,
    trunk: Option<usize>,
    /// One of `WINDOWS`.
    window: Option<usize>,
}

/// Windows of the generated rules: working days, a night across
/// midnight, the weekend, and a half hour every day.
const WINDOWS: [&str; 4] = [
    "mon-fri 07:30-17:00",
    "fri 22:00-06:00",
    "sat,sun 00:00-24:00",
    "daily 12:00-12:30",
];

/// 2025-07-07T00:00:00+07:00, a Monday in Hà Nội: calls are placed in
/// the week after it.
const WEEK_START: i64 = 1_751_821_200;

fn rule_strategy() -> impl Strategy<Value = R> {
    (
        0u8..6,
        "[0-3]{0,4}",
        proptest::option::weighted(0.3, 0usize..4),
        proptest::option::weighted(0.2, 0usize..2),
        proptest::option::weighted(0.3, 0usize..WINDOWS.len()),
    )
        .prop_map(|(kind, pattern, unit, trunk, window)| R {
            kind,
            pattern,
            unit,
            trunk,
            window,
        })
}

fn render(rules: &[R]) -> String {
    let mut s = HEAD.to_string();
    for (i, r) in rules.iter().enumerate() {
        let m = match r.kind {
            // Exact rules must not be empty.
            0 => format!("{{ exact = \"{}9\" }}", r.pattern),
            1 => format!("{{ prefix = \"{}\" }}", r.pattern),
            2 => format!("{{ regex = '{}\\d*' }}", r.pattern),
            // A regex the index cannot key by a literal start.
            3 => format!("{{ regex = '[0-3]?{}\\d?' }}", r.pattern),
            // Regexes the index runs as programs: keyed by their
            // literal start, and unkeyed.
            4 => format!("{{ regex = '{}(\\d{{1,2}})' }}", r.pattern),
            _ => format!("{{ regex = '(?P<g>{})\\d?' }}", r.pattern),
        };
        s.push_str(&format!(
            "[[rule]]\nname = \"r{i}\"\nmatch = {m}\naction = \"reject\"\nstatus = {}\n",
            400 + i % 200
        ));
        if let Some(u) = r.unit {
            s.push_str(&format!("from_unit = \"{}\"\n", UNITS[u]));
        }
        if let Some(t) = r.trunk {
            s.push_str(&format!("from_trunk = \"t{t}\"\n"));
        }
        if let Some(w) = r.window {
            s.push_str(&format!("time = [\"{}\"]\n", WINDOWS[w]));
        }
    }
    s
}

/// The rule that decides, by trying every rule in file order.
fn linear(
    d: &Dialplan,
    unit: Option<&str>,
    trunk: Option<&str>,
    target: &str,
    at: i64,
) -> Option<usize> {
    let when = d.timezone().local(at);
    d.rules().iter().position(|r| {
        let unit_ok = match (&r.from_unit, unit) {
            (None, _) => true,
            (Some(s), Some(u)) => d.unit_within(u, s),
            (Some(_), None) => false,
        };
        let trunk_ok = r.from_trunk.is_none() || r.from_trunk.as_deref() == trunk;
        unit_ok && trunk_ok && r.matcher.captures(target).is_some() && r.in_time(when)
    })
}

fn callers() -> Vec<(Caller, Option<&'static str>, Option<&'static str>)> {
    vec![
        (Caller::Endpoint("e1".into()), Some("00004"), None),
        (Caller::Endpoint("e2".into()), Some("002"), None),
        (Caller::Endpoint("e3".into()), Some("01"), None),
        (Caller::Trunk("t0".into()), None, Some("t0")),
        (Caller::Trunk("t1".into()), Some("001"), Some("t1")),
    ]
}

/// Whether the index offers rule `r` for `target` (to a caller in its
/// unit): its key fits the target, whatever the rest of the match.
fn keyed_for(r: &Rule, target: &str) -> bool {
    match &r.matcher {
        Match::Exact(s) => s == target,
        Match::Prefix(p) => target.starts_with(p.as_str()),
        Match::Regex(_) => match regex_literal_prefix(r.matcher.pattern()) {
            Some(p) => target.starts_with(&p),
            None => true,
        },
    }
}

/// Routes every target for every caller and compares the decision, and
/// the trace's account of the rules passed over, with a linear scan.
fn agrees_with_linear(rules: &[R], targets: &[String], times: &[i64]) -> Result<(), TestCaseError> {
    let src = render(rules);
    let d = Dialplan::parse(&src, "p.toml").map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
    let calls = targets
        .iter()
        .flat_map(|t| times.iter().map(move |&at| (t, at)));
    for (t, at) in calls {
        for (caller, unit, trunk) in callers() {
            let want = linear(&d, unit, trunk, t, at);
            let r = d.route(&RouteRequest {
                caller,
                from_user: None,
                target: t.clone(),
                transport_secure: false,
                at_unix_secs: at,
            });
            match want {
                Some(i) => {
                    let status = 400 + (i % 200) as u16;
                    prop_assert!(
                        matches!(&r.outcome, RouteOutcome::Reject { status: s, .. } if *s == status),
                        "target {t}: want rule r{i}, got {:?}",
                        r.outcome
                    );
                    let matched = format!("rule \"r{i}\" matched");
                    prop_assert!(
                        r.trace.iter().any(|l| l.contains(&matched)),
                        "{:?}",
                        r.trace
                    );
                }
                None => prop_assert!(
                    matches!(r.outcome, RouteOutcome::Reject { status: 404, .. }),
                    "target {t}: want 404, got {:?}",
                    r.outcome
                ),
            }
            // Past the size where the trace explains every rule: the
            // candidates passed over are counted and the first named.
            let before = want.unwrap_or(d.rules().len());
            if d.rules().len() <= 64 || before == 0 {
                continue;
            }
            let offered: Vec<usize> = (0..before)
                .filter(|&i| {
                    let r = &d.rules()[i];
                    let unit_ok = match (&r.from_unit, unit) {
                        (None, _) => true,
                        (Some(s), Some(u)) => d.unit_within(u, s),
                        (Some(_), None) => false,
                    };
                    unit_ok && keyed_for(r, t)
                })
                .collect();
            let mut line = format!("{before} rules skipped: ");
            if !offered.is_empty() {
                let names: Vec<String> = offered
                    .iter()
                    .take(8)
                    .map(|i| format!("\"r{i}\""))
                    .collect();
                let more = if offered.len() > 8 { ", ..." } else { "" };
                line.push_str(&format!(
                    "{} whose scope, match or time window did not hold ({}{more}), ",
                    offered.len(),
                    names.join(", ")
                ));
            }
            line.push_str(&format!(
                "{} scoped to other units or whose exact string, prefix or regex start cannot match {t:?}",
                before - offered.len()
            ));
            prop_assert!(r.trace.contains(&line), "want {line:?} in {:?}", r.trace);
        }
    }
    Ok(())
}

/// Rules whose keys are longer than a slot holds, and targets with more
/// prefixes than a batch of probes.
fn long_rule_strategy() -> impl Strategy<Value = R> {
    (
        0u8..6,
        "[01]{0,19}",
        proptest::option::weighted(0.3, 0usize..4),
        proptest::option::weighted(0.2, 0usize..2),
        proptest::option::weighted(0.3, 0usize..WINDOWS.len()),
    )
        .prop_map(|(kind, pattern, unit, trunk, window)| R {
            kind,
            pattern,
            unit,
            trunk,
            window,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Below and above the size where the trace lists every rule, the
    /// indexed decision is the first applicable rule in file order.
    #[test]
    fn index_agrees_with_a_linear_scan(
        rules in proptest::collection::vec(rule_strategy(), 1..160),
        targets in proptest::collection::vec("[0-3]{1,6}", 1..24),
        times in proptest::collection::vec(WEEK_START..WEEK_START + 7 * 86_400, 1..4),
    ) {
        agrees_with_linear(&rules, &targets, &times)?;
    }

    #[test]
    fn index_agrees_with_a_linear_scan_on_long_keys(
        rules in proptest::collection::vec(long_rule_strategy(), 1..160),
        targets in proptest::collection::vec("[01]{1,22}", 1..16),
        times in proptest::collection::vec(WEEK_START..WEEK_START + 7 * 86_400, 1..3),
    ) {
        agrees_with_linear(&rules, &targets, &times)?;
    }
}

#[test]
fn large_dialplan_trace_names_candidates_and_counts_the_rest() {
    // 100 prefix rules on other digits, then a candidate scoped to a
    // trunk the caller is not, then the one that applies.
    let mut rules: Vec<R> = (0..100)
        .map(|i| R {
            kind: 1,
            pattern: format!("1{i}"),
            unit: None,
            trunk: None,
            window: None,
        })
        .collect();
    rules.push(R {
        kind: 1,
        pattern: "2".into(),
        unit: None,
        trunk: Some(0),
        window: None,
    });
    rules.push(R {
        kind: 1,
        pattern: "23".into(),
        unit: None,
        trunk: None,
        window: None,
    });
    let d = Dialplan::parse(&render(&rules), "big.toml").unwrap();
    let r = d.route(&RouteRequest {
        caller: Caller::Endpoint("e1".into()),
        from_user: None,
        target: "2345".into(),
        transport_secure: false,
        at_unix_secs: 0,
    });
    assert!(
        r.trace.iter().any(|l| l.contains("\"r101\" matched")),
        "{:?}",
        r.trace
    );
    // One line: the candidate that did not apply by name, the rest counted.
    assert!(
        r.trace.iter().any(|l| l
            == "101 rules skipped: 1 whose scope, match or time window did not hold (\"r100\"), 100 scoped to other units or whose exact string, prefix or regex start cannot match \"2345\""),
        "{:?}",
        r.trace
    );
    // No line per non-candidate rule.
    assert!(r.trace.len() < 10, "{:?}", r.trace);
}

#[test]
fn unit_within_follows_parents() {
    let d = Dialplan::parse(HEAD, "h.toml").unwrap();
    assert!(d.unit_within("00004", "01"));
    assert!(d.unit_within("00004", "001"));
    assert!(d.unit_within("002", "002"));
    assert!(!d.unit_within("00004", "002"));
    assert!(!d.unit_within("01", "001"));
    assert!(!d.unit_within("nope", "01"));
}
