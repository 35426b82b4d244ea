//! TOML → validated [`Dialplan`]. Every field is read with its span so that
//! each problem is reported at its line and column, and validation goes on
//! after the first problem so an administrator sees all of them at once.

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use crate::error::{DialplanError, LineIndex};
use crate::model::*;
use crate::net::{Cidr, SipUri};
use crate::template::Template;
use crate::window::{TimeWindow, TimeZone};

pub(crate) type S<T> = Spanned<T>;

// Every field is optional at the serde level: a missing field is reported by
// the validator (with the entry's position) instead of stopping the parse.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    timezone: Option<S<String>>,
    gateway: Option<S<RawGateway>>,
    #[serde(default)]
    unit: Vec<S<RawUnit>>,
    #[serde(default)]
    endpoint: Vec<S<RawEndpoint>>,
    #[serde(default)]
    trunk: Vec<S<RawTrunk>>,
    #[serde(default)]
    rule: Vec<S<RawRule>>,
    #[serde(default)]
    meeting: Vec<S<crate::meeting::RawMeeting>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGateway {
    realm: Option<S<String>>,
    domains: Option<Vec<S<String>>>,
    max_duration_secs: Option<S<i64>>,
    encryption: Option<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUnit {
    code: Option<S<String>>,
    name: Option<S<String>>,
    kind: Option<S<String>>,
    parent: Option<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEndpoint {
    id: Option<S<String>>,
    unit: Option<S<String>>,
    password: Option<S<String>>,
    ha1_md5: Option<S<String>>,
    ha1_sha256: Option<S<String>>,
    display: Option<S<String>>,
    aliases: Option<Vec<S<String>>>,
    numbers: Option<Vec<S<String>>>,
    transport: Option<S<String>>,
    max_contacts: Option<S<i64>>,
    vetted: Option<S<bool>>,
    protocol: Option<S<String>>,
    h323_id: Option<Vec<S<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTrunk {
    name: Option<S<String>>,
    uri: Option<S<String>>,
    acl: Option<Vec<S<String>>>,
    username: Option<S<String>>,
    password: Option<S<String>>,
    unit: Option<S<String>>,
    kind: Option<S<String>>,
    inbound_numbers: Option<Vec<S<String>>>,
    outbound_numbers: Option<Vec<S<String>>>,
    caller_id: Option<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMatch {
    exact: Option<S<String>>,
    prefix: Option<S<String>>,
    regex: Option<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: Option<S<String>>,
    #[serde(rename = "match")]
    matcher: Option<S<RawMatch>>,
    from_unit: Option<S<String>>,
    from_trunk: Option<S<String>>,
    action: Option<S<String>>,
    target: Option<S<String>>,
    trunk: Option<S<String>>,
    rewrite: Option<S<String>>,
    strip: Option<S<i64>>,
    prepend: Option<S<String>>,
    uri: Option<S<String>>,
    status: Option<S<i64>>,
    reason: Option<S<String>>,
    caller_id: Option<S<String>>,
    encryption: Option<S<String>>,
    record: Option<S<bool>>,
    max_duration_secs: Option<S<i64>>,
    time: Option<Vec<S<String>>>,
}

pub(crate) struct Ctx<'a> {
    file: &'a str,
    lines: LineIndex<'a>,
    errors: Vec<DialplanError>,
}

impl Ctx<'_> {
    pub(crate) fn err(
        &mut self,
        span: Range<usize>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) {
        let (line, column) = self.lines.position(span.start);
        self.errors.push(DialplanError {
            file: self.file.to_string(),
            line,
            column,
            field: field.into(),
            message: message.into(),
        });
    }

    /// A required field: reports it missing at the entry when absent.
    pub(crate) fn require<'v, T>(
        &mut self,
        v: &'v Option<S<T>>,
        entry: &Range<usize>,
        path: &str,
        name: &str,
    ) -> Option<&'v S<T>> {
        if v.is_none() {
            self.err(entry.clone(), path, format!("missing field `{name}`"));
        }
        v.as_ref()
    }
}

pub(crate) fn is_ident(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
}

pub(crate) fn is_number(s: &str) -> bool {
    let digits = s.strip_prefix('+').unwrap_or(s);
    !digits.is_empty()
        && s.len() <= 32
        && digits
            .chars()
            .all(|c| c.is_ascii_digit() || c == '*' || c == '#')
}

fn is_plain_text(s: &str) -> bool {
    !s.trim().is_empty() && !s.chars().any(|c| c.is_control())
}

const MAX_DURATION_LIMIT: i64 = 7 * 24 * 3600;

fn parse_encryption(s: &str) -> Option<Encryption> {
    match s {
        "optional" => Some(Encryption::Optional),
        "required" => Some(Encryption::Required),
        _ => None,
    }
}

pub(crate) fn parse(src: &str, file: &str) -> Result<Dialplan, Vec<DialplanError>> {
    let mut cx = Ctx {
        file,
        lines: LineIndex::new(src),
        errors: Vec::new(),
    };
    let raw: RawFile = match toml::from_str(src) {
        Ok(r) => r,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            cx.err(span, "", e.message().trim().to_string());
            return Err(cx.errors);
        }
    };

    let gateway = gateway_settings(&mut cx, raw.gateway.as_ref());
    let timezone = match &raw.timezone {
        None => TimeZone::default(),
        Some(tz) => TimeZone::parse(tz.get_ref()).unwrap_or_else(|e| {
            cx.err(tz.span(), "timezone", e);
            TimeZone::default()
        }),
    };
    let (units, unit_index) = units(&mut cx, &raw.unit);
    let (endpoints, endpoint_index, user_index, h323_index) =
        endpoints(&mut cx, &raw.endpoint, &unit_index);
    let (trunks, trunk_index) = trunks(&mut cx, &raw.trunk, &unit_index);
    let rules = rules(
        &mut cx,
        &raw.rule,
        &unit_index,
        &trunk_index,
        &user_index,
        &endpoints,
    );
    let (meetings, meeting_index) =
        crate::meeting::meetings(&mut cx, &raw.meeting, &unit_index, &user_index);

    if !cx.errors.is_empty() {
        let mut errors = cx.errors;
        errors.sort_by_key(|e| (e.line, e.column));
        return Err(errors);
    }
    let rule_index = crate::rule_index::RuleIndex::build(&rules, &units, &unit_index, &trunk_index);
    Ok(Dialplan {
        gateway,
        timezone,
        rule_index,
        units,
        endpoints,
        trunks,
        rules,
        meetings,
        meeting_index,
        unit_index,
        endpoint_index,
        user_index,
        h323_index,
        trunk_index,
    })
}

fn gateway_settings(cx: &mut Ctx, raw: Option<&S<RawGateway>>) -> GatewaySettings {
    let mut g = GatewaySettings::default();
    let Some(raw) = raw else { return g };
    let raw = raw.get_ref();
    if let Some(r) = &raw.realm {
        let v = r.get_ref();
        if v.is_empty()
            || !v
                .chars()
                .all(|c| c.is_ascii_graphic() && c != '"' && c != '\\')
        {
            cx.err(r.span(), "gateway.realm", format!("bad realm {v:?}"));
        } else {
            g.realm = v.clone();
        }
    }
    for (i, d) in raw.domains.iter().flatten().enumerate() {
        match SipUri::parse(&format!("sip:{}", d.get_ref())) {
            Ok(u) if u.user.is_none() && u.params.is_empty() => g.domains.push(d.get_ref().clone()),
            _ => cx.err(
                d.span(),
                format!("gateway.domains[{i}]"),
                format!("{:?} is not a host name or address", d.get_ref()),
            ),
        }
    }
    if let Some(m) = &raw.max_duration_secs {
        match *m.get_ref() {
            v @ 1..=MAX_DURATION_LIMIT => g.max_duration_secs = v as u64,
            v => cx.err(
                m.span(),
                "gateway.max_duration_secs",
                format!("{v} is out of range 1..={MAX_DURATION_LIMIT}"),
            ),
        }
    }
    if let Some(e) = &raw.encryption {
        match parse_encryption(e.get_ref()) {
            Some(v) => g.encryption = v,
            None => cx.err(
                e.span(),
                "gateway.encryption",
                format!("{:?} is not \"optional\" or \"required\"", e.get_ref()),
            ),
        }
    }
    g
}

fn units(cx: &mut Ctx, raw: &[S<RawUnit>]) -> (Vec<Unit>, HashMap<String, usize>) {
    let mut units = Vec::new();
    let mut index = HashMap::new();
    // Positions of each accepted unit's parent field, for later checks.
    let mut parent_spans: Vec<Option<Range<usize>>> = Vec::new();
    let mut code_lines: HashMap<String, usize> = HashMap::new();
    for (i, ru) in raw.iter().enumerate() {
        let entry = ru.span();
        let r = ru.get_ref();
        let p = format!("unit[{i}]");
        let code = cx.require(&r.code, &entry, &p, "code");
        let name = cx.require(&r.name, &entry, &p, "name");
        let kind = cx.require(&r.kind, &entry, &p, "kind");
        let Some(code) = code else { continue };
        if let Some(name) = name {
            if !is_plain_text(name.get_ref()) {
                cx.err(
                    name.span(),
                    format!("{p}.name"),
                    "name must be non-empty text",
                );
            }
        }
        let kind_v = kind.and_then(|kind| {
            let v = UnitKind::parse(kind.get_ref());
            if v.is_none() {
                let all: Vec<&str> = UnitKind::ALL.iter().map(|k| k.as_str()).collect();
                cx.err(
                    kind.span(),
                    format!("{p}.kind"),
                    format!(
                        "unknown kind {:?}; expected one of {}",
                        kind.get_ref(),
                        all.join(", ")
                    ),
                );
            }
            v
        });
        let mut ok = true;
        if !is_ident(code.get_ref()) {
            cx.err(
                code.span(),
                format!("{p}.code"),
                format!("bad unit code {:?}", code.get_ref()),
            );
            ok = false;
        } else if let Some(line) = code_lines.get(code.get_ref()) {
            cx.err(
                code.span(),
                format!("{p}.code"),
                format!(
                    "duplicate unit code {:?} (first defined on line {line})",
                    code.get_ref()
                ),
            );
            ok = false;
        }
        if !ok {
            continue;
        }
        code_lines.insert(
            code.get_ref().clone(),
            cx.lines.position(code.span().start).0,
        );
        index.insert(code.get_ref().clone(), units.len());
        parent_spans.push(r.parent.as_ref().map(|s| s.span()));
        units.push((
            i,
            Unit {
                code: code.get_ref().clone(),
                name: name.map(|n| n.get_ref().clone()).unwrap_or_default(),
                kind: kind_v.unwrap_or(UnitKind::City),
                parent: r.parent.as_ref().map(|p| p.get_ref().clone()),
            },
        ));
    }
    // Parents are checked once all codes are known: a parent may be defined
    // after its children.
    for (n, (i, u)) in units.iter().enumerate() {
        if let (Some(parent), Some(span)) = (&u.parent, &parent_spans[n]) {
            if !index.contains_key(parent) {
                cx.err(
                    span.clone(),
                    format!("unit[{i}].parent"),
                    format!("unknown unit {parent:?}"),
                );
            }
        }
    }
    for (n, (i, u)) in units.iter().enumerate() {
        let mut chain = vec![u.code.as_str()];
        let mut cur = n;
        for _ in 0..=units.len() {
            let Some(parent) = &units[cur].1.parent else {
                break;
            };
            let Some(&next) = index.get(parent) else {
                break;
            };
            chain.push(&units[next].1.code);
            if next == n {
                cx.err(
                    parent_spans[n].clone().unwrap_or(0..0),
                    format!("unit[{i}].parent"),
                    format!("parent chain loops: {}", chain.join(" → ")),
                );
                break;
            }
            cur = next;
        }
    }
    (units.into_iter().map(|(_, u)| u).collect(), index)
}

type EndpointTables = (
    Vec<Endpoint>,
    HashMap<String, usize>,
    HashMap<String, usize>,
    HashMap<String, usize>,
);

fn endpoints(
    cx: &mut Ctx,
    raw: &[S<RawEndpoint>],
    units: &HashMap<String, usize>,
) -> EndpointTables {
    let mut eps: Vec<Endpoint> = Vec::new();
    let mut by_id = HashMap::new();
    // Ids, numbers and aliases share one namespace: each names one endpoint.
    let mut users: HashMap<String, (usize, String, usize)> = HashMap::new();
    let mut h323_ids: HashMap<String, (usize, String, usize)> = HashMap::new();
    for (i, re) in raw.iter().enumerate() {
        let entry = re.span();
        let r = re.get_ref();
        let p = format!("endpoint[{i}]");
        let id = cx.require(&r.id, &entry, &p, "id");
        let unit = cx.require(&r.unit, &entry, &p, "unit");
        // Only a bad id or name drops the endpoint: other mistakes are
        // reported but the endpoint stays known, so rules naming it do not
        // pile up follow-on errors. Any error fails the whole parse anyway.
        let mut ok = id.is_some();
        if let Some(id) = id {
            if !is_ident(id.get_ref()) {
                cx.err(
                    id.span(),
                    format!("{p}.id"),
                    format!(
                        "bad endpoint id {:?} (letters, digits, '.', '-', '_')",
                        id.get_ref()
                    ),
                );
                ok = false;
            } else if by_id.contains_key(id.get_ref()) {
                cx.err(
                    id.span(),
                    format!("{p}.id"),
                    format!("duplicate endpoint id {:?}", id.get_ref()),
                );
                ok = false;
            }
        }
        if let Some(u) = unit {
            if !units.contains_key(u.get_ref()) {
                cx.err(
                    u.span(),
                    format!("{p}.unit"),
                    format!("unknown unit {:?}", u.get_ref()),
                );
            }
        }
        let protocol = match &r.protocol {
            None => Protocol::Sip,
            Some(v) => match v.get_ref().as_str() {
                "sip" => Protocol::Sip,
                "h323" => Protocol::H323,
                other => {
                    cx.err(
                        v.span(),
                        format!("{p}.protocol"),
                        format!("{other:?} is not one of sip, h323"),
                    );
                    Protocol::Sip
                }
            },
        };
        if protocol == Protocol::H323 {
            // H.235 password tokens are computed from the clear password,
            // so a digest HA1 cannot stand in for it.
            for (kind, v) in [("ha1_md5", &r.ha1_md5), ("ha1_sha256", &r.ha1_sha256)] {
                if let Some(v) = v {
                    cx.err(
                        v.span(),
                        format!("{p}.{kind}"),
                        "an H.323 endpoint takes only `password` (its H.235 password), not digest HA1 forms",
                    );
                }
            }
        }
        let creds: Vec<(&str, &S<String>)> = [
            ("password", &r.password),
            ("ha1_md5", &r.ha1_md5),
            ("ha1_sha256", &r.ha1_sha256),
        ]
        .into_iter()
        .filter_map(|(n, v)| v.as_ref().map(|v| (n, v)))
        .collect();
        let credentials = match creds.as_slice() {
            // An H.323 endpoint may register without a password; its SIP
            // credentials stay an empty placeholder that the SIP engine
            // never accepts (it refuses non-SIP endpoints).
            [] if protocol == Protocol::H323 => None,
            [] => {
                cx.err(
                    entry.clone(),
                    &p,
                    "missing credentials: set one of `password`, `ha1_md5`, `ha1_sha256`",
                );
                None
            }
            [(kind, v)] => {
                let s = v.get_ref();
                let hex_len = match *kind {
                    "ha1_md5" => 32,
                    "ha1_sha256" => 64,
                    _ => 0,
                };
                if s.is_empty() {
                    cx.err(v.span(), format!("{p}.{kind}"), "must not be empty");
                    None
                } else if hex_len > 0
                    && (s.len() != hex_len || !s.chars().all(|c| c.is_ascii_hexdigit()))
                {
                    cx.err(
                        v.span(),
                        format!("{p}.{kind}"),
                        format!("must be {hex_len} hexadecimal digits"),
                    );
                    None
                } else if hex_len == 0 && s.chars().any(|c| c.is_control()) {
                    cx.err(
                        v.span(),
                        format!("{p}.{kind}"),
                        "must not contain control characters",
                    );
                    None
                } else {
                    Some(match *kind {
                        "password" => Credentials::Password(s.clone()),
                        "ha1_md5" => Credentials::Ha1Md5(s.to_ascii_lowercase()),
                        _ => Credentials::Ha1Sha256(s.to_ascii_lowercase()),
                    })
                }
            }
            [_, (kind, v), ..] => {
                cx.err(
                    v.span(),
                    format!("{p}.{kind}"),
                    "set only one of `password`, `ha1_md5`, `ha1_sha256`",
                );
                None
            }
        };
        let transport = match &r.transport {
            None => Transport::Any,
            Some(t) => match t.get_ref().as_str() {
                "any" => Transport::Any,
                "udp" => Transport::Udp,
                "tcp" => Transport::Tcp,
                "tls" => Transport::Tls,
                other => {
                    cx.err(
                        t.span(),
                        format!("{p}.transport"),
                        format!("{other:?} is not one of any, udp, tcp, tls"),
                    );
                    Transport::Any
                }
            },
        };
        let max_contacts = match &r.max_contacts {
            None => 1,
            Some(m) => match *m.get_ref() {
                v @ 1..=100 => v as u32,
                v => {
                    cx.err(
                        m.span(),
                        format!("{p}.max_contacts"),
                        format!("{v} is out of range 1..=100"),
                    );
                    1
                }
            },
        };
        if let Some(d) = &r.display {
            if !is_plain_text(d.get_ref()) {
                cx.err(d.span(), format!("{p}.display"), "must be non-empty text");
            }
        }
        let mut numbers = Vec::new();
        for (k, n) in r.numbers.iter().flatten().enumerate() {
            if is_number(n.get_ref()) {
                numbers.push((
                    n.get_ref().clone(),
                    n.span(),
                    format!("{p}.numbers[{k}]"),
                    "number",
                ));
            } else {
                cx.err(
                    n.span(),
                    format!("{p}.numbers[{k}]"),
                    format!(
                        "{:?} is not a number (digits, '*', '#', optional leading '+')",
                        n.get_ref()
                    ),
                );
            }
        }
        let mut aliases = Vec::new();
        for (k, a) in r.aliases.iter().flatten().enumerate() {
            let v = a.get_ref().to_ascii_lowercase();
            if is_ident(&v) {
                aliases.push((v, a.span(), format!("{p}.aliases[{k}]"), "alias"));
            } else {
                cx.err(
                    a.span(),
                    format!("{p}.aliases[{k}]"),
                    format!(
                        "bad alias {:?} (letters, digits, '.', '-', '_')",
                        a.get_ref()
                    ),
                );
            }
        }
        let mut my_h323_ids: Vec<(String, std::ops::Range<usize>, String)> = Vec::new();
        for (k, a) in r.h323_id.iter().flatten().enumerate() {
            let field = format!("{p}.h323_id[{k}]");
            let v = a.get_ref();
            if protocol != Protocol::H323 {
                cx.err(
                    a.span(),
                    field,
                    "h323_id is only for H.323 endpoints (set protocol = \"h323\")",
                );
            } else if v.is_empty() || v.chars().count() > 256 || v.chars().any(|c| c.is_control()) {
                // H.225.0 h323-ID: BMPString (SIZE (1..256))
                cx.err(
                    a.span(),
                    field,
                    format!("bad h323_id {v:?} (1 to 256 characters, no control characters)"),
                );
            } else if v.chars().any(|c| (c as u32) > 0xFFFF) {
                cx.err(
                    a.span(),
                    field,
                    format!(
                        "bad h323_id {v:?}: characters beyond the BMP cannot be sent in an h323-ID"
                    ),
                );
            } else {
                my_h323_ids.push((v.clone(), a.span(), field));
            }
        }
        if protocol == Protocol::H323
            && r.h323_id.as_ref().is_none_or(|v| v.is_empty())
            && r.numbers.as_ref().is_none_or(|v| v.is_empty())
        {
            cx.err(
                entry.clone(),
                &p,
                "an H.323 endpoint needs `h323_id` or `numbers` (dialedDigits) to register with",
            );
        }
        if protocol == Protocol::H323 {
            if let Some(t) = &r.transport {
                cx.err(
                    t.span(),
                    format!("{p}.transport"),
                    "transport is a SIP setting; H.323 uses RAS over UDP and H.225 over TCP",
                );
            }
        }
        if !ok {
            continue;
        }
        let id = id.expect("ok implies id");
        let me = eps.len();
        let line_here = cx.lines.position(id.span().start).0;
        for (name, span, field) in &my_h323_ids {
            match h323_ids.get(name) {
                Some((o, other_id, other_line)) if *o != me => cx.err(
                    span.clone(),
                    field.clone(),
                    format!("h323_id {name:?} is already used by endpoint {other_id:?} (line {other_line})"),
                ),
                Some(_) => cx.err(span.clone(), field.clone(), format!("h323_id {name:?} is listed twice")),
                None => {
                    h323_ids.insert(name.clone(), (me, id.get_ref().clone(), line_here));
                }
            }
        }
        let line = cx.lines.position(id.span().start).0;
        let mut names = vec![(id.get_ref().clone(), id.span(), format!("{p}.id"), "id")];
        names.extend(numbers.iter().cloned());
        names.extend(aliases.iter().cloned());
        // A name taken by another endpoint is reported and left out; the
        // endpoint itself stays known (its id is unique).
        let mut seen_here = HashSet::new();
        for (name, span, field, what) in names {
            if let Some((_, other_id, other_line)) = users.get(&name).filter(|(o, _, _)| *o != me) {
                cx.err(
                    span,
                    field,
                    format!("{what} {name:?} is already used by endpoint {other_id:?} (line {other_line})"),
                );
            } else if !seen_here.insert((name.clone(), what)) {
                cx.err(span, field, format!("{what} {name:?} is listed twice"));
            } else {
                users.insert(name, (me, id.get_ref().clone(), line));
            }
        }
        by_id.insert(id.get_ref().clone(), me);
        eps.push(Endpoint {
            id: id.get_ref().clone(),
            unit: unit.map(|u| u.get_ref().clone()).unwrap_or_default(),
            credentials: match (protocol, credentials) {
                (_, Some(c)) => c,
                // Without a password an H.323 endpoint has no SIP secret: an
                // HA1 of zeros has no known password, so nothing (the admin
                // registry's import included) can treat it as a usable one.
                (Protocol::H323, None) if creds.is_empty() => Credentials::Ha1Md5("0".repeat(32)),
                (_, None) => Credentials::Password(String::new()),
            },
            display: r.display.as_ref().map(|d| d.get_ref().clone()),
            aliases: aliases.into_iter().map(|a| a.0).collect(),
            numbers: numbers.into_iter().map(|n| n.0).collect(),
            transport,
            max_contacts,
            vetted: r.vetted.as_ref().is_some_and(|v| *v.get_ref()),
            protocol,
            h323_ids: my_h323_ids.into_iter().map(|(v, _, _)| v).collect(),
            h323_password: match (protocol, r.password.as_ref()) {
                (Protocol::H323, Some(p)) if !p.get_ref().is_empty() => Some(p.get_ref().clone()),
                _ => None,
            },
        });
    }
    let users = users.into_iter().map(|(k, (i, _, _))| (k, i)).collect();
    let h323 = h323_ids.into_iter().map(|(k, (i, _, _))| (k, i)).collect();
    (eps, by_id, users, h323)
}

fn trunks(
    cx: &mut Ctx,
    raw: &[S<RawTrunk>],
    units: &HashMap<String, usize>,
) -> (Vec<Trunk>, HashMap<String, usize>) {
    let mut trunks = Vec::new();
    let mut index = HashMap::new();
    for (i, rt) in raw.iter().enumerate() {
        let entry = rt.span();
        let r = rt.get_ref();
        let p = format!("trunk[{i}]");
        let name = cx.require(&r.name, &entry, &p, "name");
        let uri = cx.require(&r.uri, &entry, &p, "uri");
        // As for endpoints, only a bad name drops the trunk.
        let mut ok = name.is_some();
        if let Some(n) = name {
            if !is_ident(n.get_ref()) {
                cx.err(
                    n.span(),
                    format!("{p}.name"),
                    format!("bad trunk name {:?}", n.get_ref()),
                );
                ok = false;
            } else if index.contains_key(n.get_ref()) {
                cx.err(
                    n.span(),
                    format!("{p}.name"),
                    format!("duplicate trunk name {:?}", n.get_ref()),
                );
                ok = false;
            }
        }
        let parsed_uri = uri.and_then(|u| match SipUri::parse(u.get_ref()) {
            Ok(parsed) if parsed.user.is_some() => {
                cx.err(
                    u.span(),
                    format!("{p}.uri"),
                    "a trunk URI has no user part: the dialled number becomes the user part",
                );
                None
            }
            Ok(parsed) => Some(parsed),
            Err(e) => {
                cx.err(u.span(), format!("{p}.uri"), e);
                None
            }
        });
        let mut acl = Vec::new();
        for (k, a) in r.acl.iter().flatten().enumerate() {
            match Cidr::parse(a.get_ref()) {
                Ok(c) => acl.push(c),
                Err(e) => {
                    cx.err(a.span(), format!("{p}.acl[{k}]"), e);
                }
            }
        }
        match (&r.username, &r.password) {
            (Some(u), _) if !is_plain_text(u.get_ref()) => {
                cx.err(u.span(), format!("{p}.username"), "must not be empty");
            }
            (_, Some(pw))
                if pw.get_ref().is_empty() || pw.get_ref().chars().any(|c| c.is_control()) =>
            {
                cx.err(pw.span(), format!("{p}.password"), "must not be empty");
            }
            (Some(u), None) => {
                cx.err(
                    u.span(),
                    format!("{p}.username"),
                    "`username` needs a `password`",
                );
            }
            (None, Some(pw)) => {
                cx.err(
                    pw.span(),
                    format!("{p}.password"),
                    "`password` needs a `username`",
                );
            }
            _ => {}
        }
        if let Some(u) = &r.unit {
            if !units.contains_key(u.get_ref()) {
                cx.err(
                    u.span(),
                    format!("{p}.unit"),
                    format!("unknown unit {:?}", u.get_ref()),
                );
            }
        }
        let kind = match &r.kind {
            None => TrunkKind::Carrier,
            Some(k) => TrunkKind::parse(k.get_ref()).unwrap_or_else(|| {
                let all: Vec<&str> = TrunkKind::ALL.iter().map(|k| k.as_str()).collect();
                cx.err(
                    k.span(),
                    format!("{p}.kind"),
                    format!(
                        "unknown trunk kind {:?}; expected one of {}",
                        k.get_ref(),
                        all.join(", ")
                    ),
                );
                TrunkKind::Carrier
            }),
        };
        let inbound_numbers = number_list(cx, &r.inbound_numbers, &entry, &p, "inbound_numbers");
        let outbound_numbers = number_list(cx, &r.outbound_numbers, &entry, &p, "outbound_numbers");
        let caller_id = match &r.caller_id {
            None => CallerIdPolicy::Pass,
            Some(c) => CallerIdPolicy::parse(c.get_ref()).unwrap_or_else(|e| {
                cx.err(c.span(), format!("{p}.caller_id"), e);
                CallerIdPolicy::Pass
            }),
        };
        if !ok {
            continue;
        }
        let name = name.expect("ok").get_ref().clone();
        index.insert(name.clone(), trunks.len());
        trunks.push(Trunk {
            name,
            uri: parsed_uri.unwrap_or_else(|| SipUri::parse("sip:invalid").expect("literal")),
            acl,
            username: r.username.as_ref().map(|v| v.get_ref().clone()),
            password: r.password.as_ref().map(|v| v.get_ref().clone()),
            unit: r.unit.as_ref().map(|v| v.get_ref().clone()),
            kind,
            inbound_numbers,
            outbound_numbers,
            caller_id,
        });
    }
    (trunks, index)
}

/// A trunk's `inbound_numbers` / `outbound_numbers`: absent means no limit;
/// an empty list is refused, since it would refuse every call.
fn number_list(
    cx: &mut Ctx,
    raw: &Option<Vec<S<String>>>,
    entry: &Range<usize>,
    p: &str,
    field: &str,
) -> Option<Vec<NumberPattern>> {
    let list = raw.as_ref()?;
    if list.is_empty() {
        cx.err(
            entry.clone(),
            format!("{p}.{field}"),
            format!("`{field}` is empty, which would refuse every call; leave it out for no limit"),
        );
        return None;
    }
    let mut out = Vec::with_capacity(list.len());
    for (k, n) in list.iter().enumerate() {
        match NumberPattern::parse(n.get_ref()) {
            Ok(pat) => out.push(pat),
            Err(e) => cx.err(n.span(), format!("{p}.{field}[{k}]"), e),
        }
    }
    Some(out)
}

fn rules(
    cx: &mut Ctx,
    raw: &[S<RawRule>],
    units: &HashMap<String, usize>,
    trunks: &HashMap<String, usize>,
    users: &HashMap<String, usize>,
    endpoints: &[Endpoint],
) -> Vec<Rule> {
    let mut out = Vec::new();
    let mut names = HashSet::new();
    for (i, rr) in raw.iter().enumerate() {
        let entry = rr.span();
        let r = rr.get_ref();
        let p = format!("rule[{i}]");
        let name = cx.require(&r.name, &entry, &p, "name");
        let m = cx.require(&r.matcher, &entry, &p, "match");
        let action = cx.require(&r.action, &entry, &p, "action");
        let mut ok = name.is_some() && m.is_some() && action.is_some();
        if let Some(n) = name {
            if !is_plain_text(n.get_ref()) {
                cx.err(n.span(), format!("{p}.name"), "must be non-empty text");
                ok = false;
            } else if !names.insert(n.get_ref().clone()) {
                cx.err(
                    n.span(),
                    format!("{p}.name"),
                    format!("duplicate rule name {:?}", n.get_ref()),
                );
                ok = false;
            }
        }

        // The match, and what capture groups it offers to templates.
        let mut matcher = None;
        let mut groups = 1;
        let mut group_names: Vec<(String, usize)> = Vec::new();
        if let Some(m) = m {
            let mr = m.get_ref();
            let given: Vec<(&str, &S<String>)> = [
                ("exact", &mr.exact),
                ("prefix", &mr.prefix),
                ("regex", &mr.regex),
            ]
            .into_iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| (k, v)))
            .collect();
            match given.as_slice() {
                [] => cx.err(
                    m.span(),
                    format!("{p}.match"),
                    "set one of `exact`, `prefix`, `regex`",
                ),
                [(kind, v)] => {
                    let f = format!("{p}.match.{kind}");
                    let s = v.get_ref();
                    match *kind {
                        "exact" if s.is_empty() => cx.err(v.span(), f, "must not be empty"),
                        "exact" => match users.get(s.as_str()).or_else(|| users.get(&s.to_ascii_lowercase())) {
                            // Endpoint names are matched before any rule.
                            Some(&e) => cx.err(
                                v.span(),
                                f,
                                format!(
                                    "{s:?} already reaches endpoint {:?} (endpoints are matched before rules), so this rule never applies",
                                    endpoints[e].id
                                ),
                            ),
                            None => matcher = Some(Match::Exact(s.clone())),
                        },
                        "prefix" => {
                            matcher = Some(Match::Prefix(s.clone()));
                            groups = 2;
                        }
                        _ => match regex::RegexBuilder::new(s).size_limit(1 << 20).build() {
                            Err(e) => cx.err(
                                v.span(),
                                f,
                                format!("bad regex: {}", one_line(&e.to_string())),
                            ),
                            Ok(_) => {
                                // Anchored so that a pattern cannot match in
                                // the middle of a number by accident.
                                let anchored = regex::RegexBuilder::new(&format!("^(?:{s})$"))
                                    .size_limit(1 << 20)
                                    .build();
                                match anchored {
                                    Ok(re) => {
                                        groups = re.captures_len();
                                        group_names = re
                                            .capture_names()
                                            .enumerate()
                                            .filter_map(|(i, n)| n.map(|n| (n.to_string(), i)))
                                            .collect();
                                        matcher = Some(Match::Regex(re));
                                    }
                                    Err(e) => cx.err(
                                        v.span(),
                                        f,
                                        format!("bad regex: {}", one_line(&e.to_string())),
                                    ),
                                }
                            }
                        },
                    }
                }
                [_, (kind, v), ..] => cx.err(
                    v.span(),
                    format!("{p}.match.{kind}"),
                    "set only one of `exact`, `prefix`, `regex`",
                ),
            }
            ok &= matcher.is_some();
        }

        if let Some(u) = &r.from_unit {
            if !units.contains_key(u.get_ref()) {
                cx.err(
                    u.span(),
                    format!("{p}.from_unit"),
                    format!("unknown unit {:?}", u.get_ref()),
                );
                ok = false;
            }
        }
        if let Some(t) = &r.from_trunk {
            if !trunks.contains_key(t.get_ref()) {
                cx.err(
                    t.span(),
                    format!("{p}.from_trunk"),
                    format!("unknown trunk {:?}", t.get_ref()),
                );
                ok = false;
            }
        }

        let matcher_ok = matcher.is_some();
        let mut rewrite = Rewrite::default();
        let parse_rewrite = |cx: &mut Ctx, rewrite: &mut Rewrite| -> bool {
            let mut ok = true;
            if let Some(t) = &r.rewrite {
                // Group references are only checked against a match that parsed.
                let resolved = Template::parse(t.get_ref(), false).and_then(|mut tp| {
                    if matcher_ok {
                        tp.resolve(groups, &group_names)?;
                    }
                    Ok(tp)
                });
                match resolved {
                    Ok(tp) => rewrite.template = Some(tp),
                    Err(e) => {
                        cx.err(t.span(), format!("{p}.rewrite"), e);
                        ok = false;
                    }
                }
            }
            if let Some(s) = &r.strip {
                match *s.get_ref() {
                    v @ 0..=64 => rewrite.strip = v as usize,
                    v => {
                        cx.err(
                            s.span(),
                            format!("{p}.strip"),
                            format!("{v} is out of range 0..=64"),
                        );
                        ok = false;
                    }
                }
            }
            if let Some(pp) = &r.prepend {
                let v = pp.get_ref();
                let prefix_ok = v.char_indices().all(|(i, c)| {
                    c.is_ascii_digit() || c == '*' || c == '#' || (c == '+' && i == 0)
                });
                if v.len() <= 32 && prefix_ok {
                    rewrite.prepend = pp.get_ref().clone();
                } else {
                    cx.err(
                        pp.span(),
                        format!("{p}.prepend"),
                        format!("{:?} is not a number prefix", pp.get_ref()),
                    );
                    ok = false;
                }
            }
            ok
        };

        let mut parsed_action = None;
        if let Some(a) = action {
            let kind = a.get_ref().as_str();
            // Fields each action may use; any other action field is a mistake
            // worth pointing out (it would be silently ignored).
            let allowed: &[&str] = match kind {
                "endpoint" => &["target"],
                "trunk" => &["trunk", "rewrite", "strip", "prepend"],
                "uri" => &["uri", "rewrite", "strip", "prepend"],
                "reject" => &["status", "reason"],
                other => {
                    cx.err(
                        a.span(),
                        format!("{p}.action"),
                        format!(
                            "unknown action {other:?}; expected endpoint, trunk, uri or reject"
                        ),
                    );
                    &[]
                }
            };
            let present: [(&str, Option<Range<usize>>); 8] = [
                ("target", r.target.as_ref().map(|v| v.span())),
                ("trunk", r.trunk.as_ref().map(|v| v.span())),
                ("rewrite", r.rewrite.as_ref().map(|v| v.span())),
                ("strip", r.strip.as_ref().map(|v| v.span())),
                ("prepend", r.prepend.as_ref().map(|v| v.span())),
                ("uri", r.uri.as_ref().map(|v| v.span())),
                ("status", r.status.as_ref().map(|v| v.span())),
                ("reason", r.reason.as_ref().map(|v| v.span())),
            ];
            let known = matches!(kind, "endpoint" | "trunk" | "uri" | "reject");
            for (field, span) in present {
                if let Some(span) = span {
                    if known && !allowed.contains(&field) {
                        cx.err(
                            span,
                            format!("{p}.{field}"),
                            format!("`{field}` does not apply to action = {kind:?}"),
                        );
                        ok = false;
                    }
                }
            }
            match kind {
                "endpoint" => {
                    if let Some(t) = cx.require(&r.target, &entry, &p, "target") {
                        let key = t.get_ref().to_ascii_lowercase();
                        match users.get(t.get_ref()).or_else(|| users.get(&key)) {
                            Some(&e) => {
                                parsed_action = Some(Action::Endpoint {
                                    target: endpoints[e].id.clone(),
                                })
                            }
                            None => cx.err(
                                t.span(),
                                format!("{p}.target"),
                                format!(
                                    "unknown endpoint {:?} (not an id, number or alias)",
                                    t.get_ref()
                                ),
                            ),
                        }
                    }
                }
                "trunk" => {
                    let rw_ok = parse_rewrite(cx, &mut rewrite);
                    if let Some(t) = cx.require(&r.trunk, &entry, &p, "trunk") {
                        if !trunks.contains_key(t.get_ref()) {
                            cx.err(
                                t.span(),
                                format!("{p}.trunk"),
                                format!("unknown trunk {:?}", t.get_ref()),
                            );
                        } else if rw_ok {
                            parsed_action = Some(Action::Trunk {
                                trunk: t.get_ref().clone(),
                                rewrite: rewrite.clone(),
                            });
                        }
                    }
                }
                "uri" => {
                    let rw_ok = parse_rewrite(cx, &mut rewrite);
                    if let Some(u) = cx.require(&r.uri, &entry, &p, "uri") {
                        let t = Template::parse(u.get_ref(), true)
                            .and_then(|mut t| {
                                if matcher_ok {
                                    t.resolve(groups, &group_names)?;
                                }
                                Ok(t)
                            })
                            .and_then(|t| {
                                // Check the shape with sample values filled in.
                                let sample = vec![Some("0"); groups];
                                SipUri::parse(&t.expand(&sample, "0", |s| s.to_string())).map(|_| t)
                            });
                        match t {
                            Ok(t) if rw_ok => {
                                parsed_action = Some(Action::Uri {
                                    uri: t,
                                    rewrite: rewrite.clone(),
                                })
                            }
                            Ok(_) => {}
                            Err(e) => cx.err(u.span(), format!("{p}.uri"), e),
                        }
                    }
                }
                "reject" => {
                    if let Some(s) = cx.require(&r.status, &entry, &p, "status") {
                        let status = *s.get_ref();
                        let reason = match &r.reason {
                            Some(rs) if !is_plain_text(rs.get_ref()) => {
                                cx.err(
                                    rs.span(),
                                    format!("{p}.reason"),
                                    "must be non-empty text on one line",
                                );
                                None
                            }
                            Some(rs) => Some(rs.get_ref().clone()),
                            None => Some(default_reason(status).to_string()),
                        };
                        if !(400..=699).contains(&status) {
                            cx.err(
                                s.span(),
                                format!("{p}.status"),
                                format!("{status} is not a SIP failure status (400..=699)"),
                            );
                        } else if let Some(reason) = reason {
                            parsed_action = Some(Action::Reject {
                                status: status as u16,
                                reason,
                            });
                        }
                    }
                }
                _ => {}
            }
            ok &= parsed_action.is_some();
        }

        if let Some(c) = &r.caller_id {
            if !is_plain_text(c.get_ref()) {
                cx.err(c.span(), format!("{p}.caller_id"), "must be non-empty text");
                ok = false;
            }
        }
        let encryption = match &r.encryption {
            None => None,
            Some(e) => match parse_encryption(e.get_ref()) {
                Some(v) => Some(v),
                None => {
                    cx.err(
                        e.span(),
                        format!("{p}.encryption"),
                        format!("{:?} is not \"optional\" or \"required\"", e.get_ref()),
                    );
                    ok = false;
                    None
                }
            },
        };
        let max_duration_secs = match &r.max_duration_secs {
            None => None,
            Some(m) => match *m.get_ref() {
                v @ 1..=MAX_DURATION_LIMIT => Some(v as u64),
                v => {
                    cx.err(
                        m.span(),
                        format!("{p}.max_duration_secs"),
                        format!("{v} is out of range 1..={MAX_DURATION_LIMIT}"),
                    );
                    ok = false;
                    None
                }
            },
        };
        let mut windows = Vec::new();
        match &r.time {
            Some(list) if list.is_empty() => {
                cx.err(
                    entry.clone(),
                    format!("{p}.time"),
                    "`time` is empty, so the rule would never apply; leave it out for always",
                );
                ok = false;
            }
            _ => {}
        }
        for (k, w) in r.time.iter().flatten().enumerate() {
            match TimeWindow::parse(w.get_ref()) {
                Ok(tw) => windows.push(tw),
                Err(e) => {
                    cx.err(w.span(), format!("{p}.time[{k}]"), e);
                    ok = false;
                }
            }
        }
        if !ok {
            continue;
        }
        out.push(Rule {
            name: name.expect("ok").get_ref().clone(),
            matcher: matcher.expect("ok"),
            from_unit: r.from_unit.as_ref().map(|v| v.get_ref().clone()),
            from_trunk: r.from_trunk.as_ref().map(|v| v.get_ref().clone()),
            action: parsed_action.expect("ok"),
            caller_id: r.caller_id.as_ref().map(|v| v.get_ref().clone()),
            encryption,
            record: r.record.as_ref().map(|v| *v.get_ref()),
            max_duration_secs,
            windows,
        });
    }
    out
}

fn one_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Reason phrase used when a reject rule gives none (RFC 3261 §21 and friends).
pub fn default_reason(status: i64) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        410 => "Gone",
        480 => "Temporarily Unavailable",
        484 => "Address Incomplete",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        600 => "Busy Everywhere",
        603 => "Decline",
        604 => "Does Not Exist Anywhere",
        606 => "Not Acceptable",
        _ => "Rejected",
    }
}
