//! A city-scale dialplan, generated at run time from the official 2025 unit
//! structure (city + 126 wards/communes, `gateway/admin/data`), and a mix of
//! routing requests against it. Deterministic: the same seed gives the same
//! text and the same requests.
//!
//! Numbering (extends `dialplans/README.md`): room 0 of each unit is its
//! bridge point (`bp-<code>`, number tier digit + 5-digit code, alias the
//! unit's codename); further rooms are `bp-<code>-<room>` with number
//! `<bridge-point number><room, 3 digits>` and alias `<alias>-<room>`.
//!
//! Rules, in a shuffled file order (file order is the priority):
//! - `5xxxxxxx` exact service numbers → trunk (rewrite), uri, reject, endpoint;
//! - `6…` prefixes of 2–7 digits (overlapping) → trunk / uri / reject;
//! - `4…` prefixes scoped to a caller's unit (`from_unit`) with caller-ID;
//! - `24…` carrier DIDs scoped to a carrier trunk (`from_trunk`) → endpoint;
//! - `19…` rejects;
//! - a few regexes: `55kkk` + 4 digits, and the sample plan's shared rules.
//!
//! The dialplan format has no time-of-day windows, so there are none here.

// Shared with the store's import benchmark, which uses only part of it.
#![allow(dead_code)]

use std::fmt::Write as _;

/// splitmix64: enough randomness for a benchmark, no dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + self.below(10) as u8))
            .collect()
    }
}

#[derive(Debug, Clone)]
pub struct UnitInfo {
    pub code: String,
    pub name: String,
    pub kind: String,
    pub parent: Option<String>,
    pub alias: String,
    pub tier: u8,
}

/// The 2025 structure from the JSON committed beside the admin crate.
pub fn units_2025() -> Vec<UnitInfo> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../admin/data/hanoi-admin-units-2tier-2025.json"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let doc: serde_json::Value = serde_json::from_str(&text).expect("unit JSON");
    let mut out = Vec::new();
    flatten(&doc["city"], None, &mut out);
    let mut seen = std::collections::HashMap::new();
    for u in &out {
        *seen.entry(u.alias.clone()).or_insert(0) += 1;
    }
    for u in &mut out {
        if seen[&u.alias] > 1 {
            u.alias = format!("{}-{}", u.alias, u.code);
        }
    }
    out
}

fn flatten(node: &serde_json::Value, parent: Option<&str>, out: &mut Vec<UnitInfo>) {
    let kind = node["kind"].as_str().expect("kind").to_string();
    let n = node["code"].as_u64().expect("code");
    let (code, tier) = match kind.as_str() {
        "city" | "province" => (format!("{n:02}"), 1),
        "urban_district" | "rural_district" | "town" | "district" => (format!("{n:03}"), 2),
        _ => (format!("{n:05}"), 3),
    };
    out.push(UnitInfo {
        code: code.clone(),
        name: node["name"].as_str().expect("name").to_string(),
        kind,
        parent: parent.map(str::to_string),
        alias: node["codename"]
            .as_str()
            .expect("codename")
            .replace('_', "-"),
        tier,
    });
    if let Some(children) = node["children"].as_array() {
        for c in children {
            flatten(c, Some(&code), out);
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProbeKind {
    EndpointNumber,
    EndpointAlias,
    ExactRule,
    PrefixRule,
    UnitScoped,
    TrunkScoped,
    Regex,
    Miss,
}

impl ProbeKind {
    pub fn name(self) -> &'static str {
        match self {
            ProbeKind::EndpointNumber => "endpoint number",
            ProbeKind::EndpointAlias => "endpoint alias",
            ProbeKind::ExactRule => "exact rule",
            ProbeKind::PrefixRule => "prefix rule",
            ProbeKind::UnitScoped => "from_unit rule",
            ProbeKind::TrunkScoped => "from_trunk rule",
            ProbeKind::Regex => "regex rule",
            ProbeKind::Miss => "miss (404)",
        }
    }
}

/// One routing request of the mix. `caller` is an endpoint id or, with
/// `from_trunk`, a trunk name.
#[derive(Debug, Clone)]
pub struct Probe {
    pub kind: ProbeKind,
    pub caller: String,
    pub from_trunk: bool,
    pub target: String,
}

pub struct CityPlan {
    pub toml: String,
    pub endpoints: usize,
    pub rules: usize,
    pub probes: Vec<Probe>,
}

/// Carrier trunks that deliver DIDs (`from_trunk` rules).
const CARRIERS: usize = 16;

struct Ep {
    id: String,
    unit: usize,
    number: String,
    alias: String,
}

enum Kind {
    Exact(String),
    Prefix(String),
    Regex(String),
}

struct GenRule {
    matcher: Kind,
    from_unit: Option<usize>,
    from_trunk: Option<usize>,
    /// TOML lines of the action and policy.
    body: String,
}

/// Generates the dialplan text and `n_probes` requests. `variant` changes a
/// few caller-IDs only, so that successive variants are different snapshots
/// that route the same way (the swap-under-load test relies on that).
pub fn generate(
    seed: u64,
    n_endpoints: usize,
    n_rules: usize,
    n_probes: usize,
    variant: u32,
) -> CityPlan {
    let units = units_2025();
    let mut rng = Rng::new(seed);

    let eps: Vec<Ep> = (0..n_endpoints)
        .map(|k| {
            let ui = k % units.len();
            let room = k / units.len();
            let u = &units[ui];
            let base = format!("{}{:05}", u.tier, u.code.parse::<u32>().unwrap_or(0));
            if room == 0 {
                Ep {
                    id: format!("bp-{}", u.code),
                    unit: ui,
                    number: base,
                    alias: u.alias.clone(),
                }
            } else {
                Ep {
                    id: format!("bp-{}-{room:03}", u.code),
                    unit: ui,
                    number: format!("{base}{room:03}"),
                    alias: format!("{}-{room:03}", u.alias),
                }
            }
        })
        .collect();

    let mut rules: Vec<GenRule> = Vec::with_capacity(n_rules);
    let mut exact_seen = std::collections::HashSet::new();
    let trunk_action = |rng: &mut Rng, trunk: &str| -> String {
        match rng.below(3) {
            0 => format!("action = \"trunk\"\ntrunk = \"{trunk}\"\n"),
            1 => format!("action = \"trunk\"\ntrunk = \"{trunk}\"\nstrip = 1\nprepend = \"8424\"\n"),
            _ => format!("action = \"trunk\"\ntrunk = \"{trunk}\"\nrewrite = \"84$0\"\nmax_duration_secs = 3600\n"),
        }
    };
    let any_action = |rng: &mut Rng, eps: &[Ep]| -> String {
        match rng.below(8) {
            0..=3 => {
                let t = format!("carrier-{:02}", rng.below(CARRIERS));
                trunk_action(rng, &t)
            }
            4 | 5 => "action = \"uri\"\nuri = \"sip:${number}@core.hanoi.gateway.local\"\n".into(),
            6 => format!(
                "action = \"endpoint\"\ntarget = \"{}\"\n",
                eps[rng.below(eps.len())].id
            ),
            _ => "action = \"reject\"\nstatus = 480\nreason = \"Service closed\"\n".into(),
        }
    };
    while rules.len() < n_rules {
        let roll = rng.below(1000);
        let rule = match roll {
            // Exact service numbers.
            0..=349 => {
                let s = format!("5{}", rng.digits(7));
                if !exact_seen.insert(s.clone()) {
                    continue;
                }
                GenRule {
                    matcher: Kind::Exact(s),
                    from_unit: None,
                    from_trunk: None,
                    body: any_action(&mut rng, &eps),
                }
            }
            // Prefix rules; short ones shadow longer ones written later.
            350..=599 => {
                let len = 1 + rng.below(6);
                GenRule {
                    matcher: Kind::Prefix(format!("6{}", rng.digits(len))),
                    from_unit: None,
                    from_trunk: None,
                    body: any_action(&mut rng, &eps),
                }
            }
            // A unit's own short codes.
            600..=799 => {
                let len = 1 + rng.below(4);
                let unit = rng.below(units.len());
                let t = format!("carrier-{:02}", rng.below(CARRIERS));
                let mut body = trunk_action(&mut rng, &t);
                let _ = writeln!(body, "caller_id = \"8424{}\"", rng.digits(7));
                GenRule {
                    matcher: Kind::Prefix(format!("4{}", rng.digits(len))),
                    from_unit: Some(unit),
                    from_trunk: None,
                    body,
                }
            }
            // Carrier DIDs to rooms.
            800..=899 => {
                let s = format!("24{}", rng.digits(8));
                if !exact_seen.insert(s.clone()) {
                    continue;
                }
                GenRule {
                    matcher: Kind::Exact(s),
                    from_unit: None,
                    from_trunk: Some(rng.below(CARRIERS)),
                    body: format!(
                        "action = \"endpoint\"\ntarget = \"{}\"\n",
                        eps[rng.below(eps.len())].number
                    ),
                }
            }
            // Barred ranges.
            900..=997 => {
                let len = 1 + rng.below(4);
                GenRule {
                    matcher: Kind::Prefix(format!("19{}", rng.digits(len))),
                    from_unit: None,
                    from_trunk: None,
                    body: "action = \"reject\"\nstatus = 403\nreason = \"Barred\"\n".into(),
                }
            }
            // Regexes with a literal start.
            _ => GenRule {
                matcher: Kind::Regex(format!("55{}(\\d{{4}})", rng.digits(3))),
                from_unit: None,
                from_trunk: None,
                body: format!(
                    "action = \"uri\"\nuri = \"sip:conf-$1@mcu{}.hanoi.gateway.local\"\n",
                    rng.below(10)
                ),
            },
        };
        rules.push(rule);
    }
    // Fisher-Yates: file order (priority) unrelated to kind.
    for i in (1..rules.len()).rev() {
        let j = rng.below(i + 1);
        rules.swap(i, j);
    }

    let mut t = String::with_capacity(n_endpoints * 200 + n_rules * 160);
    t.push_str(
        "# GENERATED by gateway/dialplan/benches/citygen: a city-scale benchmark dialplan.\n",
    );
    let _ = writeln!(t, "# seed {seed}, variant {variant}, {n_endpoints} endpoints, {n_rules} rules (+ shared ones)\n");
    t.push_str("[gateway]\nrealm = \"hanoi.gateway.local\"\ndomains = [\"127.0.0.1\", \"localhost\"]\nmax_duration_secs = 14400\nencryption = \"optional\"\n");
    for u in &units {
        let _ = write!(
            t,
            "\n[[unit]]\ncode = \"{}\"\nname = \"{}\"\nkind = \"{}\"\n",
            u.code, u.name, u.kind
        );
        if let Some(p) = &u.parent {
            let _ = writeln!(t, "parent = \"{p}\"");
        }
    }
    for e in &eps {
        let _ = write!(
            t,
            "\n[[endpoint]]\nid = \"{}\"\nunit = \"{}\"\npassword = \"changeme-{}\"\nnumbers = [\"{}\"]\naliases = [\"{}\"]\nvetted = true\n",
            e.id, units[e.unit].code, e.id, e.number, e.alias
        );
    }
    t.push_str(
        "\n[[trunk]]\nname = \"sipp-uas\"\nuri = \"sip:127.0.0.1:5070\"\nacl = [\"127.0.0.1/32\"]\nunit = \"01\"\n\
         \n[[trunk]]\nname = \"chinh-phu\"\nuri = \"sips:bridge.chinhphu.example:5061\"\nacl = [\"192.0.2.0/28\"]\nunit = \"01\"\n",
    );
    for c in 0..CARRIERS {
        let _ = write!(
            t,
            "\n[[trunk]]\nname = \"carrier-{c:02}\"\nuri = \"sip:sbc{c}.carrier.example:5060;transport=tcp\"\nacl = [\"203.0.113.{c}/32\"]\nunit = \"01\"\n"
        );
    }
    // The load test's calls: SIPp's uac dials 5000 and the gateway hands
    // the call to SIPp's uas behind the trunk. Written first, like a
    // hand-kept rule at the top of a generated file.
    let _ = write!(
        t,
        "\n[[rule]]\nname = \"sipp-load\"\nmatch = {{ exact = \"5000\" }}\naction = \"trunk\"\ntrunk = \"sipp-uas\"\ncaller_id = \"5000{variant}\"\n"
    );
    t.push_str(
        "\n[[rule]]\nname = \"government-bridge\"\nmatch = { regex = '70(\\d{2,6})' }\naction = \"trunk\"\ntrunk = \"chinh-phu\"\nrewrite = \"$1\"\nencryption = \"required\"\nrecord = true\n\
         \n[[rule]]\nname = \"meeting\"\nmatch = { regex = '8(?P<meeting>\\d{6})' }\naction = \"uri\"\nuri = \"sip:meeting-${meeting}@core.hanoi.gateway.local\"\n\
         \n[[rule]]\nname = \"pstn\"\nmatch = { regex = '0(\\d{9,10})' }\nfrom_unit = \"01\"\naction = \"trunk\"\ntrunk = \"carrier-00\"\nrewrite = \"84$1\"\ncaller_id = \"842400000000\"\n",
    );
    for (i, r) in rules.iter().enumerate() {
        let m = match &r.matcher {
            Kind::Exact(s) => format!("{{ exact = \"{s}\" }}"),
            Kind::Prefix(s) => format!("{{ prefix = \"{s}\" }}"),
            Kind::Regex(s) => format!("{{ regex = '{s}' }}"),
        };
        let _ = write!(t, "\n[[rule]]\nname = \"r{i}\"\nmatch = {m}\n");
        if let Some(u) = r.from_unit {
            let _ = writeln!(t, "from_unit = \"{}\"", units[u].code);
        }
        if let Some(c) = r.from_trunk {
            let _ = writeln!(t, "from_trunk = \"carrier-{c:02}\"");
        }
        t.push_str(&r.body);
        // The variant marks a few rules so each swap is a new snapshot.
        if i % 10_000 == 0 && !r.body.contains("caller_id") && !r.body.contains("reject") {
            let _ = writeln!(t, "caller_id = \"84240{variant:07}\"");
        }
    }

    // The request mix.
    let mut probes = Vec::with_capacity(n_probes);
    let ep_caller = |rng: &mut Rng| eps[rng.below(eps.len())].id.clone();
    while probes.len() < n_probes {
        let roll = rng.below(100);
        let p = match roll {
            0..=24 => {
                let e = &eps[rng.below(eps.len())];
                Probe {
                    kind: ProbeKind::EndpointNumber,
                    caller: ep_caller(&mut rng),
                    from_trunk: false,
                    target: e.number.clone(),
                }
            }
            25..=34 => {
                let e = &eps[rng.below(eps.len())];
                // Dialled as people type it: sometimes in capitals.
                let target = if rng.below(2) == 0 {
                    e.alias.clone()
                } else {
                    e.alias.to_ascii_uppercase()
                };
                Probe {
                    kind: ProbeKind::EndpointAlias,
                    caller: ep_caller(&mut rng),
                    from_trunk: false,
                    target,
                }
            }
            35..=89 => {
                let (want, kind): (fn(&GenRule) -> bool, ProbeKind) = match roll {
                    35..=54 => (
                        |r| matches!(r.matcher, Kind::Exact(_)) && r.from_trunk.is_none(),
                        ProbeKind::ExactRule,
                    ),
                    55..=69 => (
                        |r| matches!(r.matcher, Kind::Prefix(_)) && r.from_unit.is_none(),
                        ProbeKind::PrefixRule,
                    ),
                    70..=79 => (|r| r.from_unit.is_some(), ProbeKind::UnitScoped),
                    80..=84 => (|r| r.from_trunk.is_some(), ProbeKind::TrunkScoped),
                    _ => (|r| matches!(r.matcher, Kind::Regex(_)), ProbeKind::Regex),
                };
                let r = loop {
                    let r = &rules[rng.below(rules.len())];
                    if want(r) {
                        break r;
                    }
                };
                let target = match &r.matcher {
                    Kind::Exact(s) => s.clone(),
                    Kind::Prefix(s) => {
                        let more = 10usize.saturating_sub(s.len()).max(1);
                        format!("{s}{}", rng.digits(more))
                    }
                    Kind::Regex(s) => format!("{}{}", &s[..5], rng.digits(4)),
                };
                let (caller, from_trunk) = match (r.from_unit, r.from_trunk) {
                    // A caller in that unit (room 0..=N of it).
                    (Some(u), _) => {
                        let rooms = n_endpoints / units.len();
                        let k = u + units.len() * rng.below(rooms.max(1));
                        (eps[k.min(eps.len() - 1)].id.clone(), false)
                    }
                    (_, Some(c)) => (format!("carrier-{c:02}"), true),
                    _ => (ep_caller(&mut rng), false),
                };
                Probe {
                    kind,
                    caller,
                    from_trunk,
                    target,
                }
            }
            _ => {
                // Nothing routes 3xxxxxxxxxxxx (13 digits) or 77…: 404.
                let target = if rng.below(2) == 0 {
                    format!("3{}", rng.digits(12))
                } else {
                    format!("77{}", rng.digits(8))
                };
                Probe {
                    kind: ProbeKind::Miss,
                    caller: ep_caller(&mut rng),
                    from_trunk: false,
                    target,
                }
            }
        };
        probes.push(p);
    }

    CityPlan {
        toml: t,
        endpoints: n_endpoints,
        rules: n_rules + 4,
        probes,
    }
}
