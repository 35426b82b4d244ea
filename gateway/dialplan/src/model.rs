//! The validated, immutable dialplan snapshot and its lookups.

use std::collections::HashMap;
use std::net::IpAddr;

use serde::Serialize;

use crate::net::{Cidr, SipUri};
use crate::template::Template;
use crate::window::{LocalTime, TimeWindow, TimeZone};

/// Settings of the `[gateway]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewaySettings {
    /// Digest realm, and the SIP domain the gateway is authoritative for.
    pub realm: String,
    /// Further host names (or addresses) that mean "this gateway" in a
    /// Request-URI or To header.
    pub domains: Vec<String>,
    /// Default call length limit when no rule sets one.
    pub max_duration_secs: u64,
    /// Default encryption policy when no rule sets one.
    pub encryption: Encryption,
}

impl Default for GatewaySettings {
    fn default() -> Self {
        GatewaySettings {
            realm: "gateway.local".into(),
            domains: Vec::new(),
            max_duration_secs: 14_400,
            encryption: Encryption::Optional,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitKind {
    City,
    Province,
    UrbanDistrict,
    RuralDistrict,
    Town,
    District,
    Ward,
    Commune,
    Township,
}

impl UnitKind {
    pub const ALL: [UnitKind; 9] = [
        UnitKind::City,
        UnitKind::Province,
        UnitKind::UrbanDistrict,
        UnitKind::RuralDistrict,
        UnitKind::Town,
        UnitKind::District,
        UnitKind::Ward,
        UnitKind::Commune,
        UnitKind::Township,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            UnitKind::City => "city",
            UnitKind::Province => "province",
            UnitKind::UrbanDistrict => "urban_district",
            UnitKind::RuralDistrict => "rural_district",
            UnitKind::Town => "town",
            UnitKind::District => "district",
            UnitKind::Ward => "ward",
            UnitKind::Commune => "commune",
            UnitKind::Township => "township",
        }
    }

    pub fn parse(s: &str) -> Option<UnitKind> {
        UnitKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// An administrative unit (city, district, ward, commune …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    /// Official statistics-office code, as text with its leading zeros.
    pub code: String,
    pub name: String,
    pub kind: UnitKind,
    pub parent: Option<String>,
}

/// How an endpoint proves who it is. HA1 forms let a dialplan avoid clear
/// passwords; they are bound to the realm they were computed with.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    Password(String),
    /// Lower-case hex MD5(id ":" realm ":" password).
    Ha1Md5(String),
    /// Lower-case hex SHA-256(id ":" realm ":" password).
    Ha1Sha256(String),
}

impl std::fmt::Debug for Credentials {
    // Secrets never reach logs through Debug.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Password(_) => f.write_str("Password(***)"),
            Credentials::Ha1Md5(_) => f.write_str("Ha1Md5(***)"),
            Credentials::Ha1Sha256(_) => f.write_str("Ha1Sha256(***)"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    Any,
    Udp,
    Tcp,
    Tls,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Any => "any",
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
        }
    }
}

/// The signalling protocol an endpoint speaks: SIP (REGISTER with digest)
/// or H.323 (RAS registration with the gatekeeper).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    Sip,
    H323,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Sip => "sip",
            Protocol::H323 => "h323",
        }
    }
}

/// A registering device (a bridge point's room system, a softphone …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Also the digest username.
    pub id: String,
    pub unit: String,
    pub credentials: Credentials,
    pub display: Option<String>,
    /// Lower-cased; matched case-insensitively.
    pub aliases: Vec<String>,
    pub numbers: Vec<String>,
    /// The only transport it may register and call over (`Any`: no limit).
    pub transport: Transport,
    pub max_contacts: u32,
    /// Passed the security check required before a device may call.
    pub vetted: bool,
    /// SIP endpoints register and call over SIP only, H.323 endpoints over
    /// RAS and H.225 only: an identity never crosses protocols.
    pub protocol: Protocol,
    /// h323-ID aliases (H.323 only), compared exactly as H.225.0 does.
    /// The endpoint's `numbers` are its dialedDigits aliases.
    pub h323_ids: Vec<String>,
    /// H.235 password of an H.323 endpoint; `None`: registers without one.
    pub h323_password: Option<String>,
}

/// Who is at the other end of a trunk. It names the peer in traces and
/// views; what the trunk may carry is set by its number lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TrunkKind {
    /// A telecom carrier (the default).
    Carrier,
    /// The national government's conferencing system.
    National,
    /// The party committee's system.
    Party,
    /// Another outside authority's bridge.
    Authority,
}

impl TrunkKind {
    pub const ALL: [TrunkKind; 4] = [
        TrunkKind::Carrier,
        TrunkKind::National,
        TrunkKind::Party,
        TrunkKind::Authority,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TrunkKind::Carrier => "carrier",
            TrunkKind::National => "national",
            TrunkKind::Party => "party",
            TrunkKind::Authority => "authority",
        }
    }

    pub fn parse(s: &str) -> Option<TrunkKind> {
        TrunkKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One entry of a trunk's number list: `84243*` (a prefix), `1000-1999`
/// (a range of numbers of the same length) or an exact number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NumberPattern {
    Exact(String),
    Prefix(String),
    /// Bounds of equal length, `lo <= hi`, both inclusive.
    Range {
        lo: String,
        hi: String,
    },
}

impl NumberPattern {
    /// Reads one entry; the message says what is wrong with it.
    pub fn parse(s: &str) -> Result<NumberPattern, String> {
        let digits_ok = |v: &str| crate::parse::is_number(v);
        if let Some(p) = s.strip_suffix('*') {
            // `*` alone: every number.
            if p.is_empty() || digits_ok(p) {
                return Ok(NumberPattern::Prefix(p.to_string()));
            }
            return Err(format!(
                "{s:?} is not a number prefix (digits, '*', '#', optional leading '+', then '*')"
            ));
        }
        if let Some((lo, hi)) = s.split_once('-') {
            let plain = |v: &str| {
                let d = v.strip_prefix('+').unwrap_or(v);
                !d.is_empty() && v.len() <= 32 && d.bytes().all(|b| b.is_ascii_digit())
            };
            if !plain(lo) || !plain(hi) {
                return Err(format!(
                    "{s:?} is not a range of numbers (digits, optional leading '+', as in 1000-1999)"
                ));
            }
            if lo.len() != hi.len() || lo.starts_with('+') != hi.starts_with('+') {
                return Err(format!(
                    "{s:?}: the bounds of a range must have the same number of digits"
                ));
            }
            if lo > hi {
                return Err(format!("{s:?}: the range ends before it starts"));
            }
            return Ok(NumberPattern::Range {
                lo: lo.to_string(),
                hi: hi.to_string(),
            });
        }
        if digits_ok(s) {
            Ok(NumberPattern::Exact(s.to_string()))
        } else {
            Err(format!(
                "{s:?} is not a number, a prefix (84243*) or a range (1000-1999)"
            ))
        }
    }

    pub fn matches(&self, number: &str) -> bool {
        match self {
            NumberPattern::Exact(n) => n == number,
            NumberPattern::Prefix(p) => number.starts_with(p.as_str()),
            // Equal-length digit strings compare as their numbers do.
            NumberPattern::Range { lo, hi } => {
                number.len() == lo.len()
                    && number.starts_with('+') == lo.starts_with('+')
                    && number
                        .trim_start_matches('+')
                        .bytes()
                        .all(|b| b.is_ascii_digit())
                    && lo.as_str() <= number
                    && number <= hi.as_str()
            }
        }
    }
}

impl std::fmt::Display for NumberPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NumberPattern::Exact(n) => f.write_str(n),
            NumberPattern::Prefix(p) => write!(f, "{p}*"),
            NumberPattern::Range { lo, hi } => write!(f, "{lo}-{hi}"),
        }
    }
}

/// The first pattern of `list` that `number` fits.
pub fn number_in<'a>(list: &'a [NumberPattern], number: &str) -> Option<&'a NumberPattern> {
    list.iter().find(|p| p.matches(number))
}

/// The caller-ID presented on calls that go out over a trunk (when the
/// rule that routed the call sets none of its own).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum CallerIdPolicy {
    /// The caller's own identity goes out unchanged.
    #[default]
    Pass,
    /// Always this number (the city's main number, a carrier's pilot).
    Replace(String),
    /// These digits before the caller's number (its first number when it
    /// is an endpoint, else the From user when that is a number): the
    /// extension 1001 goes out as 842410001001 with `prefix:84241000`.
    Prefix(String),
}

impl CallerIdPolicy {
    /// `pass`, `replace:NUMBER` or `prefix:DIGITS`.
    pub fn parse(s: &str) -> Result<CallerIdPolicy, String> {
        if s == "pass" {
            return Ok(CallerIdPolicy::Pass);
        }
        let number_ok = |v: &str| crate::parse::is_number(v);
        if let Some(n) = s.strip_prefix("replace:") {
            return if number_ok(n) {
                Ok(CallerIdPolicy::Replace(n.to_string()))
            } else {
                Err(format!(
                    "{n:?} is not a number (digits, '*', '#', optional leading '+')"
                ))
            };
        }
        if let Some(p) = s.strip_prefix("prefix:") {
            return if number_ok(p) {
                Ok(CallerIdPolicy::Prefix(p.to_string()))
            } else {
                Err(format!(
                    "{p:?} is not a number prefix (digits, '*', '#', optional leading '+')"
                ))
            };
        }
        Err(format!(
            "{s:?} is not a caller-ID policy: \"pass\", \"replace:NUMBER\" or \"prefix:DIGITS\""
        ))
    }
}

impl std::fmt::Display for CallerIdPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallerIdPolicy::Pass => f.write_str("pass"),
            CallerIdPolicy::Replace(n) => write!(f, "replace:{n}"),
            CallerIdPolicy::Prefix(p) => write!(f, "prefix:{p}"),
        }
    }
}

/// A SIP peer (carrier, another authority's bridge, a test tool).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trunk {
    pub name: String,
    /// Where calls routed to the trunk go; has no user part.
    pub uri: SipUri,
    /// Source addresses recognised as this trunk without authentication.
    pub acl: Vec<Cidr>,
    /// Digest credentials: presented when the peer challenges our requests,
    /// and accepted from the peer when it calls from outside `acl`.
    pub username: Option<String>,
    pub password: Option<String>,
    /// Unit that calls from this trunk are accounted to and scoped by.
    pub unit: Option<String>,
    pub kind: TrunkKind,
    /// What callers on this trunk may dial (`None`: anything); any other
    /// target is refused with 403.
    pub inbound_numbers: Option<Vec<NumberPattern>>,
    /// What may be sent out over it, after rewriting (`None`: anything);
    /// a rule routing another number here is refused with 403.
    pub outbound_numbers: Option<Vec<NumberPattern>>,
    /// Caller-ID of calls going out over it.
    pub caller_id: CallerIdPolicy,
}

#[derive(Debug, Clone)]
pub enum Match {
    Exact(String),
    Prefix(String),
    /// Implicitly anchored: the whole target must match.
    Regex(regex::Regex),
}

impl PartialEq for Match {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Match::Exact(a), Match::Exact(b)) | (Match::Prefix(a), Match::Prefix(b)) => a == b,
            (Match::Regex(a), Match::Regex(b)) => a.as_str() == b.as_str(),
            _ => false,
        }
    }
}

impl Match {
    pub fn kind(&self) -> &'static str {
        match self {
            Match::Exact(_) => "exact",
            Match::Prefix(_) => "prefix",
            Match::Regex(_) => "regex",
        }
    }

    /// The pattern as written in the dialplan (without the implicit anchors).
    pub fn pattern(&self) -> &str {
        match self {
            Match::Exact(s) | Match::Prefix(s) => s,
            Match::Regex(r) => {
                let s = r.as_str();
                s.strip_prefix("^(?:")
                    .and_then(|s| s.strip_suffix(")$"))
                    .unwrap_or(s)
            }
        }
    }

    /// The capture groups of a match (`[0]` is the whole target), or `None`.
    pub(crate) fn captures<'t>(&self, target: &'t str) -> Option<Vec<Option<&'t str>>> {
        match self {
            Match::Exact(s) => (target == s).then(|| vec![Some(target)]),
            Match::Prefix(p) => target
                .strip_prefix(p.as_str())
                .map(|rest| vec![Some(target), Some(rest)]),
            Match::Regex(r) => r
                .captures(target)
                .map(|c| c.iter().map(|m| m.map(|m| m.as_str())).collect()),
        }
    }
}

/// How a number is changed before it is sent on: `rewrite` (a template over
/// the match's groups) first, then `strip` leading characters, then `prepend`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rewrite {
    pub template: Option<Template>,
    pub strip: usize,
    pub prepend: String,
}

impl Rewrite {
    pub(crate) fn apply(&self, groups: &[Option<&str>]) -> String {
        let base = match &self.template {
            Some(t) => t.expand(groups, "", |s| s.to_string()),
            None => groups.first().copied().flatten().unwrap_or("").to_string(),
        };
        let stripped: String = base.chars().skip(self.strip).collect();
        format!("{}{}", self.prepend, stripped)
    }

    pub fn is_identity(&self) -> bool {
        self.template.is_none() && self.strip == 0 && self.prepend.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `target` is resolved to the endpoint's id when the dialplan is parsed.
    Endpoint {
        target: String,
    },
    Trunk {
        trunk: String,
        rewrite: Rewrite,
    },
    Uri {
        uri: Template,
        rewrite: Rewrite,
    },
    Reject {
        status: u16,
        reason: String,
    },
}

impl Action {
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Endpoint { .. } => "endpoint",
            Action::Trunk { .. } => "trunk",
            Action::Uri { .. } => "uri",
            Action::Reject { .. } => "reject",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Encryption {
    Optional,
    Required,
}

impl Encryption {
    pub fn as_str(self) -> &'static str {
        match self {
            Encryption::Optional => "optional",
            Encryption::Required => "required",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub name: String,
    pub matcher: Match,
    /// Applies only to callers whose unit is this unit or below it.
    pub from_unit: Option<String>,
    /// Applies only to calls arriving from this trunk.
    pub from_trunk: Option<String>,
    pub action: Action,
    pub caller_id: Option<String>,
    pub encryption: Option<Encryption>,
    pub record: Option<bool>,
    pub max_duration_secs: Option<u64>,
    /// Weekly windows, in the dialplan's time zone, outside which the rule
    /// does not apply (empty: always applies).
    pub windows: Vec<TimeWindow>,
}

impl Rule {
    /// The first of the rule's windows that holds at `t`; `None` also when
    /// it has no windows.
    pub fn window_at(&self, t: LocalTime) -> Option<&TimeWindow> {
        self.windows.iter().find(|w| w.holds(t))
    }

    /// Whether the rule's windows allow a call at `t`.
    pub fn in_time(&self, t: LocalTime) -> bool {
        self.windows.is_empty() || self.window_at(t).is_some()
    }
}

/// A validated dialplan. Immutable: the runtime shares it behind an `Arc` and
/// swaps in a new one on reload, so calls in flight keep the snapshot they
/// were routed with.
#[derive(Debug, Clone)]
pub struct Dialplan {
    pub(crate) gateway: GatewaySettings,
    /// The zone rules' time windows are read in.
    pub(crate) timezone: TimeZone,
    pub(crate) units: Vec<Unit>,
    pub(crate) endpoints: Vec<Endpoint>,
    pub(crate) trunks: Vec<Trunk>,
    pub(crate) rules: Vec<Rule>,
    pub(crate) meetings: Vec<crate::meeting::Meeting>,
    /// Meeting number or lower-cased alias → meeting.
    pub(crate) meeting_index: HashMap<String, usize>,
    pub(crate) unit_index: HashMap<String, usize>,
    pub(crate) endpoint_index: HashMap<String, usize>,
    /// id, number or lower-cased alias → endpoint.
    pub(crate) user_index: HashMap<String, usize>,
    /// h323-ID (exact) → endpoint.
    pub(crate) h323_index: HashMap<String, usize>,
    pub(crate) trunk_index: HashMap<String, usize>,
    /// Candidate rules by exact string, prefix and regex literal start.
    pub(crate) rule_index: crate::rule_index::RuleIndex,
}

impl Dialplan {
    pub fn gateway(&self) -> &GatewaySettings {
        &self.gateway
    }

    /// The zone rules' time windows are read in (top-level `timezone`).
    pub fn timezone(&self) -> &TimeZone {
        &self.timezone
    }

    pub fn units(&self) -> &[Unit] {
        &self.units
    }

    pub fn endpoints(&self) -> &[Endpoint] {
        &self.endpoints
    }

    pub fn trunks(&self) -> &[Trunk] {
        &self.trunks
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn unit(&self, code: &str) -> Option<&Unit> {
        self.unit_index.get(code).map(|&i| &self.units[i])
    }

    pub fn endpoint(&self, id: &str) -> Option<&Endpoint> {
        self.endpoint_index.get(id).map(|&i| &self.endpoints[i])
    }

    /// The endpoint a SIP user part designates: its id, one of its numbers,
    /// or one of its aliases (aliases case-insensitively).
    pub fn endpoint_by_user(&self, user: &str) -> Option<&Endpoint> {
        let i = match self.user_index.get(user) {
            Some(i) => Some(i),
            None if user.bytes().any(|b| b.is_ascii_uppercase()) => {
                self.user_index.get(&user.to_ascii_lowercase())
            }
            None => None,
        };
        i.map(|&i| &self.endpoints[i])
    }

    /// The H.323 endpoint that owns this h323-ID (compared exactly).
    pub fn endpoint_by_h323_id(&self, h323_id: &str) -> Option<&Endpoint> {
        self.h323_index.get(h323_id).map(|&i| &self.endpoints[i])
    }

    /// The H.323 endpoint whose number (dialedDigits alias) this is; a SIP
    /// endpoint's number never names an H.323 device.
    pub fn h323_endpoint_by_number(&self, digits: &str) -> Option<&Endpoint> {
        self.user_index
            .get(digits)
            .map(|&i| &self.endpoints[i])
            .filter(|e| e.protocol == Protocol::H323 && e.numbers.iter().any(|n| n == digits))
    }

    pub fn meetings(&self) -> &[crate::meeting::Meeting] {
        &self.meetings
    }

    /// The meeting a dialled user part designates: its number or one of its
    /// aliases (case-insensitively).
    pub fn meeting_by_user(&self, user: &str) -> Option<&crate::meeting::Meeting> {
        let i = match self.meeting_index.get(user) {
            Some(i) => Some(i),
            None if user.bytes().any(|b| b.is_ascii_uppercase()) => {
                self.meeting_index.get(&user.to_ascii_lowercase())
            }
            None => None,
        };
        i.map(|&i| &self.meetings[i])
    }

    pub fn trunk(&self, name: &str) -> Option<&Trunk> {
        self.trunk_index.get(name).map(|&i| &self.trunks[i])
    }

    /// The trunk whose ACL holds `source`; when several do, the most specific
    /// block wins, then the trunk written first.
    pub fn trunk_for_source(&self, source: IpAddr) -> Option<&Trunk> {
        self.trunk_acl_match(source).map(|(t, _)| t)
    }

    pub(crate) fn trunk_acl_match(&self, source: IpAddr) -> Option<(&Trunk, Cidr)> {
        let mut best: Option<(&Trunk, Cidr)> = None;
        for t in &self.trunks {
            for c in &t.acl {
                if c.contains(source) && best.is_none_or(|(_, b)| c.prefix_len > b.prefix_len) {
                    best = Some((t, *c));
                }
            }
        }
        best
    }

    /// The units above `code`, nearest first (empty for a root or an
    /// unknown code).
    pub fn unit_ancestors(&self, code: &str) -> Vec<&Unit> {
        let mut out = Vec::new();
        let mut cur = self.unit(code);
        // Parent cycles are rejected at parse time; the bound is belt and braces.
        while let Some(u) = cur {
            if out.len() > self.units.len() {
                break;
            }
            cur = u.parent.as_deref().and_then(|p| self.unit(p));
            if let Some(p) = cur {
                out.push(p);
            }
        }
        out
    }

    /// Whether `code` is `ancestor` or lies below it.
    pub fn unit_within(&self, code: &str, ancestor: &str) -> bool {
        if code == ancestor {
            return true;
        }
        // Routing asks this per scoped rule: no list of ancestors is built.
        match (self.unit_index.get(code), self.unit_index.get(ancestor)) {
            (Some(&c), Some(&a)) => self.rule_index.unit_within(c, a),
            _ => false,
        }
    }
}
