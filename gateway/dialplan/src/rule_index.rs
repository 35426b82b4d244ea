//! An index of the routing rules by what a target must look like for each
//! rule to match, so that a decision over a city-scale dialplan (100 000
//! rules) looks at a handful of candidates instead of every rule.
//!
//! The semantics stay "the first rule in file order whose scopes and match
//! hold": the index only leaves out rules that cannot apply, and the
//! candidates are compared by their position in the file.
//! - `exact` rules are keyed by their string;
//! - `prefix` rules by their prefix, and `regex` rules by the literal text
//!   every match must start with (see [`regex_literal_prefix`]); a target
//!   looks up each of its own prefixes whose length some key has;
//! - an empty prefix, and a regex without a literal start, are candidates
//!   for every target.
//!
//! Under each key the rules are grouped by their `from_unit`, so a caller
//! looks only at the groups of its own unit and the units above it: a city
//! plan gives every ward its own rules for the same short codes, and a
//! caller must not walk the other wards' rules. A candidate carries its
//! scopes inline, so the rules themselves are read only for a regex match.

use std::collections::HashMap;

use crate::model::{Match, Rule, Unit};

/// "No scope" in a candidate's unit or trunk field.
const NONE: u32 = u32::MAX;

/// A rule as the index holds it: its position and what it is scoped to.
#[derive(Clone, Copy, Debug)]
struct Cand {
    rule: usize,
    /// Position of the `from_unit` unit (`NONE`: unscoped).
    unit: u32,
    /// Position of the `from_trunk` trunk (`NONE`: unscoped).
    trunk: u32,
    /// The match must still be checked (a regex keyed by its literal start).
    check: bool,
}

/// The candidates under one key, in file order within each group.
#[derive(Clone, Default)]
struct Group {
    unscoped: Vec<Cand>,
    /// By `from_unit` position, sorted by it.
    by_unit: Vec<(u32, Vec<Cand>)>,
}

impl Group {
    fn push(&mut self, c: Cand) {
        if c.unit == NONE {
            self.unscoped.push(c);
            return;
        }
        match self.by_unit.binary_search_by_key(&c.unit, |(u, _)| *u) {
            Ok(k) => self.by_unit[k].1.push(c),
            Err(k) => self.by_unit.insert(k, (c.unit, vec![c])),
        }
    }

    fn scoped(&self, unit: u32) -> &[Cand] {
        match self.by_unit.binary_search_by_key(&unit, |(u, _)| *u) {
            Ok(k) => &self.by_unit[k].1,
            Err(_) => &[],
        }
    }
}

#[derive(Clone, Default)]
pub(crate) struct RuleIndex {
    exact: HashMap<String, Group>,
    prefix: HashMap<String, Group>,
    /// The distinct lengths (bytes) of the keys of `prefix`, ascending, each
    /// with the first two bytes its keys start with.
    prefix_lens: Vec<(usize, StartFilter)>,
    /// Candidates for every target.
    always: Group,
    /// Per unit: its parent's position.
    unit_parent: Vec<Option<usize>>,
}

impl std::fmt::Debug for RuleIndex {
    // The lists can hold 100 000 entries: a summary says enough.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleIndex")
            .field("exact_keys", &self.exact.len())
            .field("prefix_keys", &self.prefix.len())
            .field(
                "prefix_lens",
                &self.prefix_lens.iter().map(|(l, _)| *l).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// Which first two bytes the prefix keys of one length start with: 8 KiB
/// that stay in cache, where a look-up of a key that is not there would read
/// the large map (a cache miss) for nothing. Most lengths hold no key for a
/// given target: a dialled service number shares no start with the rooms'
/// short codes.
#[derive(Clone)]
struct StartFilter(Box<[u64; 1024]>);

impl StartFilter {
    fn new() -> StartFilter {
        StartFilter(Box::new([0; 1024]))
    }

    fn slot(key: &[u8]) -> usize {
        let a = key.first().copied().unwrap_or(0) as usize;
        let b = key.get(1).copied().unwrap_or(0) as usize;
        (a << 8) | b
    }

    fn insert(&mut self, key: &[u8]) {
        let n = Self::slot(key);
        self.0[n / 64] |= 1 << (n % 64);
    }

    fn may_hold(&self, key: &[u8]) -> bool {
        let n = Self::slot(key);
        self.0[n / 64] & (1 << (n % 64)) != 0
    }
}

/// The caller as the scope checks see it, resolved once per decision.
#[derive(Clone, Copy)]
pub(crate) struct Scope {
    /// The caller's unit and the units above it, nearest first.
    chain: [u32; MAX_CHAIN],
    chain_len: usize,
    /// The caller's unit lies deeper than `MAX_CHAIN`: every unit group is
    /// checked with a walk up the tree instead.
    deep: Option<usize>,
    trunk: u32,
}

/// Units nest three deep in the city's structures; this leaves room.
const MAX_CHAIN: usize = 16;

impl RuleIndex {
    /// Builds the index of a validated rule list. `unit_index` maps unit
    /// codes to positions in `units`, `trunk_index` trunk names to positions
    /// in the trunk list; a scope naming neither (not in a validated
    /// dialplan) makes its rule never apply.
    pub(crate) fn build(
        rules: &[Rule],
        units: &[Unit],
        unit_index: &HashMap<String, usize>,
        trunk_index: &HashMap<String, usize>,
    ) -> RuleIndex {
        let mut ix = RuleIndex::default();
        // A unit or trunk that does not exist: a position no caller has.
        let unknown = NONE - 1;
        for (i, rule) in rules.iter().enumerate() {
            let unit = rule
                .from_unit
                .as_deref()
                .map_or(NONE, |u| unit_index.get(u).map_or(unknown, |&n| n as u32));
            let trunk = rule
                .from_trunk
                .as_deref()
                .map_or(NONE, |t| trunk_index.get(t).map_or(unknown, |&n| n as u32));
            let cand = |check| Cand {
                rule: i,
                unit,
                trunk,
                check,
            };
            match &rule.matcher {
                Match::Exact(s) => ix.exact.entry(s.clone()).or_default().push(cand(false)),
                Match::Prefix(p) if p.is_empty() => ix.always.push(cand(false)),
                Match::Prefix(p) => ix.prefix.entry(p.clone()).or_default().push(cand(false)),
                Match::Regex(_) => match regex_literal_prefix(rule.matcher.pattern()) {
                    Some(p) if !p.is_empty() => ix.prefix.entry(p).or_default().push(cand(true)),
                    _ => ix.always.push(cand(true)),
                },
            }
        }
        let mut lens: Vec<(usize, StartFilter)> = Vec::new();
        for key in ix.prefix.keys() {
            let k = key.as_bytes();
            match lens.iter_mut().find(|(l, _)| *l == k.len()) {
                Some((_, f)) => f.insert(k),
                None => {
                    let mut f = StartFilter::new();
                    f.insert(k);
                    lens.push((k.len(), f));
                }
            }
        }
        lens.sort_unstable_by_key(|(l, _)| *l);
        ix.prefix_lens = lens;
        ix.unit_parent = units
            .iter()
            .map(|u| u.parent.as_deref().and_then(|p| unit_index.get(p)).copied())
            .collect();
        ix
    }

    /// Whether unit `code` is `ancestor` or lies below it (positions).
    pub(crate) fn unit_within(&self, mut code: usize, ancestor: usize) -> bool {
        // Parent cycles are rejected at parse time; the bound is belt and braces.
        for _ in 0..=self.unit_parent.len() {
            if code == ancestor {
                return true;
            }
            match self.unit_parent.get(code).copied().flatten() {
                Some(p) => code = p,
                None => return false,
            }
        }
        false
    }

    /// The scope of a caller of unit position `unit` arriving from trunk
    /// position `trunk`.
    pub(crate) fn scope(&self, unit: Option<usize>, trunk: Option<usize>) -> Scope {
        let trunk = trunk.map_or(NONE, |n| n as u32);
        let mut s = Scope {
            chain: [NONE; MAX_CHAIN],
            chain_len: 0,
            deep: None,
            trunk,
        };
        let mut cur = unit;
        while let Some(u) = cur {
            if s.chain_len == MAX_CHAIN {
                s.deep = unit;
                break;
            }
            s.chain[s.chain_len] = u as u32;
            s.chain_len += 1;
            cur = self.unit_parent.get(u).copied().flatten();
        }
        s
    }

    /// Calls `f` with each candidate list for `target` and this caller:
    /// the rules that may apply, each list in file order.
    fn for_each_list<'s>(&'s self, target: &str, scope: &Scope, mut f: impl FnMut(&'s [Cand])) {
        let mut group = |g: &'s Group| {
            if !g.unscoped.is_empty() {
                f(&g.unscoped);
            }
            if g.by_unit.is_empty() {
                return;
            }
            match scope.deep {
                Some(u) => {
                    for (unit, list) in &g.by_unit {
                        if self.unit_within(u, *unit as usize) {
                            f(list);
                        }
                    }
                }
                None => {
                    for &u in &scope.chain[..scope.chain_len] {
                        let list = g.scoped(u);
                        if !list.is_empty() {
                            f(list);
                        }
                    }
                }
            }
        };
        if let Some(g) = self.exact.get(target) {
            group(g);
        }
        for (len, filter) in &self.prefix_lens {
            let len = *len;
            if len > target.len() {
                break;
            }
            // A key is whole characters, so a key equal to the target's
            // first `len` bytes ends on a character boundary of the target.
            if !target.is_char_boundary(len) || !filter.may_hold(&target.as_bytes()[..len]) {
                continue;
            }
            if let Some(g) = self.prefix.get(&target[..len]) {
                group(g);
            }
        }
        group(&self.always);
    }

    /// The position of the first rule in file order whose scopes hold for
    /// the caller and whose match holds for `target`, with the groups of its
    /// match when it is a regex (found while checking it: a regex is not run
    /// twice).
    pub(crate) fn first_applicable<'t>(
        &self,
        rules: &[Rule],
        target: &'t str,
        scope: &Scope,
    ) -> Option<(usize, Option<Groups<'t>>)> {
        let mut best = usize::MAX;
        let mut best_groups = None;
        self.for_each_list(target, scope, |list| {
            for c in list {
                if c.rule >= best {
                    break;
                }
                if c.trunk != NONE && c.trunk != scope.trunk {
                    continue;
                }
                if !c.check {
                    best = c.rule;
                    best_groups = None;
                    break;
                }
                if let Some(g) = rules[c.rule].matcher.captures(target) {
                    best = c.rule;
                    best_groups = Some(g);
                    break;
                }
            }
        });
        (best != usize::MAX).then_some((best, best_groups))
    }

    /// The candidates below `before` that this caller's lists offered for
    /// `target` (whether or not they applied), ascending, and how many there
    /// were (the list holds at most `limit`). Rules scoped to units the
    /// caller is not in are not among them.
    pub(crate) fn candidates_before(
        &self,
        target: &str,
        scope: &Scope,
        before: usize,
        limit: usize,
    ) -> (Vec<usize>, usize) {
        let mut all = Vec::new();
        self.for_each_list(target, scope, |list| {
            for c in list {
                if c.rule >= before {
                    break;
                }
                all.push(c.rule);
            }
        });
        all.sort_unstable();
        all.dedup();
        let n = all.len();
        all.truncate(limit);
        (all, n)
    }
}

/// The groups of a match: `[0]` the whole target.
pub(crate) type Groups<'t> = Vec<Option<&'t str>>;

/// The literal text every whole-target match of `pattern` starts with, or
/// `None` when the pattern may match in ways the simple reading below cannot
/// bound (an alternation anywhere). Conservative: it stops at the first
/// character that is not a plain ASCII letter or digit (groups, classes,
/// escapes, flags, `.` …), and drops the last literal when a quantifier
/// follows it (`70?` may match "7"). An empty result is a valid answer
/// ("no literal start").
pub(crate) fn regex_literal_prefix(pattern: &str) -> Option<String> {
    if pattern.contains('|') {
        return None;
    }
    let bytes = pattern.as_bytes();
    let mut end = 0;
    while end < bytes.len() && bytes[end].is_ascii_alphanumeric() {
        end += 1;
    }
    if end < bytes.len() && matches!(bytes[end], b'?' | b'*' | b'+' | b'{') {
        end = end.saturating_sub(1);
    }
    Some(pattern[..end].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Caller, Dialplan, RouteOutcome, RouteRequest};
    use proptest::prelude::*;

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
    }

    fn rule_strategy() -> impl Strategy<Value = R> {
        (
            0u8..4,
            "[0-3]{0,4}",
            proptest::option::weighted(0.3, 0usize..4),
            proptest::option::weighted(0.2, 0usize..2),
        )
            .prop_map(|(kind, pattern, unit, trunk)| R {
                kind,
                pattern,
                unit,
                trunk,
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
                _ => format!("{{ regex = '[0-3]?{}\\d?' }}", r.pattern),
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
        }
        s
    }

    /// The rule that decides, by trying every rule in file order.
    fn linear(
        d: &Dialplan,
        unit: Option<&str>,
        trunk: Option<&str>,
        target: &str,
    ) -> Option<usize> {
        d.rules().iter().position(|r| {
            let unit_ok = match (&r.from_unit, unit) {
                (None, _) => true,
                (Some(s), Some(u)) => d.unit_within(u, s),
                (Some(_), None) => false,
            };
            let trunk_ok = r.from_trunk.is_none() || r.from_trunk.as_deref() == trunk;
            unit_ok && trunk_ok && r.matcher.captures(target).is_some()
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

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// Below and above the size where the trace lists every rule, the
        /// indexed decision is the first applicable rule in file order.
        #[test]
        fn index_agrees_with_a_linear_scan(
            rules in proptest::collection::vec(rule_strategy(), 1..160),
            targets in proptest::collection::vec("[0-3]{1,6}", 1..24),
        ) {
            let src = render(&rules);
            let d = Dialplan::parse(&src, "p.toml").map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
            for t in &targets {
                for (caller, unit, trunk) in callers() {
                    let want = linear(&d, unit, trunk, t);
                    let r = d.route(&RouteRequest {
                        caller,
                        from_user: None,
                        target: t.clone(),
                        transport_secure: false,
                    });
                    match want {
                        Some(i) => {
                            let status = 400 + (i % 200) as u16;
                            prop_assert!(matches!(&r.outcome, RouteOutcome::Reject { status: s, .. } if *s == status),
                                "target {t}: want rule r{i}, got {:?}", r.outcome);
                            let matched = format!("rule \"r{i}\" matched");
                            prop_assert!(r.trace.iter().any(|l| l.contains(&matched)), "{:?}", r.trace);
                        }
                        None => prop_assert!(matches!(r.outcome, RouteOutcome::Reject { status: 404, .. }),
                            "target {t}: want 404, got {:?}", r.outcome),
                    }
                }
            }
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
            })
            .collect();
        rules.push(R {
            kind: 1,
            pattern: "2".into(),
            unit: None,
            trunk: Some(0),
        });
        rules.push(R {
            kind: 1,
            pattern: "23".into(),
            unit: None,
            trunk: None,
        });
        let d = Dialplan::parse(&render(&rules), "big.toml").unwrap();
        let r = d.route(&RouteRequest {
            caller: Caller::Endpoint("e1".into()),
            from_user: None,
            target: "2345".into(),
            transport_secure: false,
        });
        assert!(
            r.trace.iter().any(|l| l.contains("\"r101\" matched")),
            "{:?}",
            r.trace
        );
        // One line: the candidate that did not apply by name, the rest counted.
        assert!(
            r.trace.iter().any(|l| l
                == "101 rules skipped: 1 whose scope or match did not hold (\"r100\"), 100 scoped to other units or whose exact string, prefix or regex start cannot match \"2345\""),
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
}

#[cfg(test)]
mod deep_tests {
    use crate::{Caller, Dialplan, RouteOutcome, RouteRequest};

    /// A caller deeper than the scope chain holds still meets the rules of
    /// every unit above it, in file order.
    #[test]
    fn scopes_of_a_deeply_nested_caller() {
        let mut s = String::from("[[unit]]\ncode = \"u0\"\nname = \"U0\"\nkind = \"city\"\n");
        for i in 1..24 {
            s.push_str(&format!(
                "[[unit]]\ncode = \"u{i}\"\nname = \"U{i}\"\nkind = \"ward\"\nparent = \"u{}\"\n",
                i - 1
            ));
        }
        s.push_str(
            "[[endpoint]]\nid = \"deep\"\nunit = \"u23\"\npassword = \"x\"\nvetted = true\n",
        );
        s.push_str("[[endpoint]]\nid = \"mid\"\nunit = \"u5\"\npassword = \"x\"\nvetted = true\n");
        for (name, unit, status) in [("a", "u20", 451), ("b", "u3", 452), ("c", "u0", 453)] {
            s.push_str(&format!(
                "[[rule]]\nname = \"{name}\"\nmatch = {{ prefix = \"7\" }}\nfrom_unit = \"{unit}\"\naction = \"reject\"\nstatus = {status}\n"
            ));
        }
        let d = Dialplan::parse(&s, "deep.toml").unwrap();
        let status = |caller: &str| match d
            .route(&RouteRequest {
                caller: Caller::Endpoint(caller.into()),
                from_user: None,
                target: "77".into(),
                transport_secure: false,
            })
            .outcome
        {
            RouteOutcome::Reject { status, .. } => status,
            o => panic!("{o:?}"),
        };
        assert_eq!(status("deep"), 451);
        assert_eq!(status("mid"), 452);
    }
}
