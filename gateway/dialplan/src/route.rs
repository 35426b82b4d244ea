//! The routing decision: a pure function of the request and the snapshot.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::model::*;
use crate::net::{escape_user, SipUri};
use crate::rule_index::{Decided, Scope};
use crate::template::Template;
use crate::window::LocalTime;

/// Who is calling, as far as the signalling layer has established it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Caller {
    /// An endpoint that authenticated (digest) as this id.
    Endpoint(String),
    /// A trunk identified by ACL or by its digest credentials.
    Trunk(String),
    /// Not authenticated; only its source address is known.
    Anonymous { source: IpAddr },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteRequest {
    pub caller: Caller,
    /// User part of the From header, as received (informational).
    pub from_user: Option<String>,
    /// The dialled user part (number, alias or endpoint id).
    pub target: String,
    /// The call arrived over TLS (and will negotiate SRTP).
    pub transport_secure: bool,
    /// When the call is placed, in seconds since the Unix epoch (UTC): rules
    /// with time windows are read against it in the dialplan's time zone.
    /// The caller reads the clock; routing never does.
    pub at_unix_secs: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RouteOutcome {
    Endpoint {
        id: String,
    },
    Trunk {
        name: String,
        uri: String,
    },
    Uri {
        uri: String,
    },
    /// A meeting the gateway hosts: the caller joins it.
    Meeting {
        number: String,
    },
    Reject {
        status: u16,
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Policy {
    pub encryption_required: bool,
    pub record: bool,
    /// Caller-ID to present to the callee instead of the original.
    pub caller_id: Option<String>,
    pub max_duration_secs: u64,
    /// Unit the call is accounted to: the caller's unit, else the unit of
    /// the endpoint called.
    pub unit: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouteDecision {
    pub outcome: RouteOutcome,
    pub policy: Policy,
    /// Why: which identity the caller got, which rule matched and why the
    /// rules before it did not.
    pub trace: Vec<String>,
}

struct CallerFacts<'a> {
    unit: Option<&'a str>,
    trunk: Option<&'a Trunk>,
    /// The caller's number, for a trunk's `prefix:` caller-ID policy.
    number: Option<&'a str>,
}

/// The From user when it is a number.
fn number_of(from_user: &Option<String>) -> Option<&str> {
    from_user.as_deref().filter(|u| crate::parse::is_number(u))
}

impl Dialplan {
    /// Decides where a call goes. Order: the caller is identified and checked
    /// (vetting, transport); then the target is looked up among endpoint ids,
    /// numbers and aliases; then the rules are tried in file order; the first
    /// that applies decides. Nothing matching: 404.
    pub fn route(&self, req: &RouteRequest) -> RouteDecision {
        // Caller, skipped rules, the match, a rewrite: room for the usual lines.
        let mut trace = Vec::with_capacity(4);
        let mut policy = Policy {
            encryption_required: self.gateway.encryption == Encryption::Required,
            record: false,
            caller_id: None,
            max_duration_secs: self.gateway.max_duration_secs,
            unit: None,
        };
        let reject = |status: u16, reason: String, policy: Policy, mut trace: Vec<String>| {
            trace.push(format!("reject {status} {reason}"));
            RouteDecision {
                outcome: RouteOutcome::Reject { status, reason },
                policy,
                trace,
            }
        };

        let facts = match &req.caller {
            Caller::Endpoint(id) => {
                let Some(ep) = self.endpoint(id) else {
                    return reject(403, format!("Unknown endpoint {id}"), policy, trace);
                };
                if !ep.vetted {
                    return reject(
                        403,
                        format!("Endpoint {id} is not security-vetted"),
                        policy,
                        trace,
                    );
                }
                if ep.transport == Transport::Tls && !req.transport_secure {
                    return reject(
                        403,
                        format!("Endpoint {id} must call over TLS"),
                        policy,
                        trace,
                    );
                }
                trace.push(format!("caller is endpoint {id} of unit {}", ep.unit));
                CallerFacts {
                    unit: Some(&ep.unit),
                    trunk: None,
                    number: ep
                        .numbers
                        .first()
                        .map(String::as_str)
                        .or_else(|| number_of(&req.from_user)),
                }
            }
            Caller::Trunk(name) => {
                let Some(t) = self.fast_trunk(name) else {
                    return reject(403, format!("Unknown trunk {name}"), policy, trace);
                };
                trace.push(format!("caller is trunk {name}{}", unit_note(t)));
                CallerFacts {
                    unit: t.unit.as_deref(),
                    trunk: Some(t),
                    number: number_of(&req.from_user),
                }
            }
            Caller::Anonymous { source } => match self.trunk_acl_match(*source) {
                Some((t, cidr)) => {
                    trace.push(format!(
                        "anonymous caller from {source} is trunk {} (acl {cidr}){}",
                        t.name,
                        unit_note(t)
                    ));
                    CallerFacts {
                        unit: t.unit.as_deref(),
                        trunk: Some(t),
                        number: number_of(&req.from_user),
                    }
                }
                None => {
                    trace.push(format!("no trunk acl contains {source}"));
                    return reject(
                        403,
                        format!("Anonymous caller from {source} is not allowed"),
                        policy,
                        trace,
                    );
                }
            },
        };
        policy.unit = facts.unit.map(str::to_string);
        if let Some(f) = &req.from_user {
            trace.push(format!("From user {f:?} (not used for routing)"));
        }
        let target = req.target.as_str();
        if target.is_empty() {
            return reject(484, "Address Incomplete".into(), policy, trace);
        }
        if let Some(t) = facts.trunk {
            if let Some(list) = &t.inbound_numbers {
                match number_in(list, target) {
                    Some(p) => trace.push(format!(
                        "{target:?} is within trunk {}'s inbound_numbers ({p})",
                        t.name
                    )),
                    None => {
                        return reject(
                            403,
                            format!(
                                "Trunk {} ({}) may not call {target}: not in its inbound_numbers",
                                t.name,
                                t.kind.as_str()
                            ),
                            policy,
                            trace,
                        );
                    }
                }
            }
        }

        let outcome = if let Some(ep) = self.endpoint_by_user(target) {
            trace.push(format!(
                "{target:?} is endpoint {} (id, number or alias)",
                ep.id
            ));
            if policy.unit.is_none() {
                policy.unit = Some(ep.unit.clone());
            }
            RouteOutcome::Endpoint { id: ep.id.clone() }
        } else if let Some(m) = self.meeting_by_user(target) {
            trace.push(format!(
                "{target:?} is meeting {} of unit {} ({}{})",
                m.number,
                m.unit,
                m.classification.as_str(),
                if m.record { ", recorded" } else { "" }
            ));
            if m.classification.requires_encryption() {
                policy.encryption_required = true;
            }
            policy.record |= m.record;
            if policy.unit.is_none() {
                policy.unit = Some(m.unit.clone());
            }
            RouteOutcome::Meeting {
                number: m.number.clone(),
            }
        } else {
            let when = self.timezone.local(req.at_unix_secs);
            match self.route_by_rules(target, &facts, when, &mut policy, &mut trace) {
                Some(o) => o,
                None => {
                    return reject(404, format!("No route to {target}"), policy, trace);
                }
            }
        };

        if let RouteOutcome::Endpoint { id } = &outcome {
            if policy.unit.is_none() {
                policy.unit = self.endpoint(id).map(|e| e.unit.clone());
            }
        }
        if policy.encryption_required
            && !req.transport_secure
            && !matches!(outcome, RouteOutcome::Reject { .. })
        {
            let reason = match &outcome {
                RouteOutcome::Meeting { number } => {
                    let class = self
                        .meeting_by_user(number)
                        .map_or("classified", |m| m.classification.as_str());
                    format!(
                        "Meeting {number} is {class}: only encrypted legs are admitted (SIP over TLS with SRTP)"
                    )
                }
                _ => "Encryption required: call over TLS with SRTP".into(),
            };
            return reject(488, reason, policy, trace);
        }
        if let RouteOutcome::Reject { status, reason } = &outcome {
            trace.push(format!("reject {status} {reason}"));
        }
        RouteDecision {
            outcome,
            policy,
            trace,
        }
    }

    fn route_by_rules(
        &self,
        target: &str,
        facts: &CallerFacts,
        when: LocalTime,
        policy: &mut Policy,
        trace: &mut Vec<String>,
    ) -> Option<RouteOutcome> {
        let scope = self.rule_index.scope(
            facts.unit.and_then(|u| self.rule_index.unit_position(u)),
            facts
                .trunk
                .and_then(|t| self.rule_index.trunk_position(&t.name)),
            when,
        );
        let decided = self.rule_index.decide(&self.rules, target, &scope);
        let before = decided
            .winner
            .as_ref()
            .map_or(self.rules.len(), |(i, _)| *i);
        if let Some(rule) = self.rules.get(before) {
            prefetch_rule(rule);
        }
        self.trace_skipped(target, facts, when, &scope, &decided, before, trace);
        let (i, groups) = decided.winner?;
        let rule = self.rules.get(i)?;
        let name = &rule.name;
        // The index checked the match; an exact or prefix match's groups
        // are only collected here, without a list of their own.
        let owned;
        let mut fixed = [Some(target), None];
        let groups: &[Option<&str>] = match groups {
            Some(g) => {
                owned = g;
                &owned
            }
            None => match &rule.matcher {
                Match::Exact(_) => &fixed[..1],
                Match::Prefix(p) => {
                    fixed[1] = Some(target.strip_prefix(p.as_str())?);
                    &fixed
                }
                Match::Regex(_) => {
                    owned = rule.matcher.captures(target)?;
                    &owned
                }
            },
        };
        let pattern = rule.matcher.pattern();
        let mut line = String::with_capacity(name.len() + target.len() + pattern.len() + 40);
        line.push_str("rule ");
        push_quoted(&mut line, name);
        line.push_str(" matched: ");
        push_quoted(&mut line, target);
        line.push_str(" matches ");
        line.push_str(rule.matcher.kind());
        line.push(' ');
        push_quoted(&mut line, pattern);
        trace.push(line);
        if let Some(w) = rule.window_at(when) {
            trace.push(format!(
                "rule {name:?}: time window {:?} holds at {when} ({})",
                w.text, self.timezone
            ));
        }
        if let Some(e) = rule.encryption {
            policy.encryption_required = e == Encryption::Required;
        }
        if let Some(r) = rule.record {
            policy.record = r;
        }
        if let Some(m) = rule.max_duration_secs {
            policy.max_duration_secs = m;
        }
        if let Some(c) = &rule.caller_id {
            policy.caller_id = Some(c.clone());
        }
        let outcome = match &rule.action {
            Action::Endpoint { target } => RouteOutcome::Endpoint { id: target.clone() },
            Action::Trunk { trunk, rewrite } => {
                let number = rewrite.apply(groups);
                if number.is_empty() {
                    trace.push("rewrite left an empty number".into());
                    return Some(RouteOutcome::Reject {
                        status: 484,
                        reason: "Address Incomplete".into(),
                    });
                }
                if !rewrite.is_identity() {
                    trace.push(format!("number rewritten {target:?} → {number:?}"));
                }
                // Validated at parse time: a rule's trunk exists.
                let t = self.fast_trunk(trunk)?;
                if let Some(list) = &t.outbound_numbers {
                    match number_in(list, &number) {
                        Some(p) => trace.push(format!(
                            "{number:?} is within trunk {}'s outbound_numbers ({p})",
                            t.name
                        )),
                        None => {
                            return Some(RouteOutcome::Reject {
                                status: 403,
                                reason: format!(
                                    "{number} may not be sent over trunk {} ({}): not in its outbound_numbers",
                                    t.name,
                                    t.kind.as_str()
                                ),
                            });
                        }
                    }
                }
                self.apply_trunk_caller_id(t, facts, policy, trace);
                RouteOutcome::Trunk {
                    name: t.name.clone(),
                    uri: t.uri.with_user(&number).to_string(),
                }
            }
            Action::Uri { uri, rewrite } => {
                let number = rewrite.apply(groups);
                let u = uri.expand(groups, &number, escape_user);
                match SipUri::parse(&u) {
                    Ok(_) => RouteOutcome::Uri { uri: u },
                    Err(e) => {
                        trace.push(format!("uri template gave a bad URI: {e}"));
                        RouteOutcome::Reject {
                            status: 484,
                            reason: "Address Incomplete".into(),
                        }
                    }
                }
            }
            Action::Reject { status, reason } => RouteOutcome::Reject {
                status: *status,
                reason: reason.clone(),
            },
        };
        Some(outcome)
    }

    /// The trunk's caller-ID policy, when the rule that routed the call set
    /// no caller-ID of its own (a rule names its one route; the trunk's
    /// policy is the default for every route over it).
    fn apply_trunk_caller_id(
        &self,
        t: &Trunk,
        facts: &CallerFacts,
        policy: &mut Policy,
        trace: &mut Vec<String>,
    ) {
        if policy.caller_id.is_some() {
            return;
        }
        match &t.caller_id {
            CallerIdPolicy::Pass => {}
            CallerIdPolicy::Replace(n) => {
                trace.push(format!("caller-ID {n:?} (trunk {}: replace)", t.name));
                policy.caller_id = Some(n.clone());
            }
            CallerIdPolicy::Prefix(p) => match facts.number {
                Some(n) => {
                    let id = format!("{p}{n}");
                    trace.push(format!(
                        "caller-ID {id:?} (trunk {}: prefix {p:?} before {n:?})",
                        t.name
                    ));
                    policy.caller_id = Some(id);
                }
                None => trace.push(format!(
                    "caller-ID passed unchanged (trunk {}: prefix {p:?}, but the caller has no number)",
                    t.name
                )),
            },
        }
    }

    /// Explains the rules passed over before rule `before` (all of them when
    /// none applied). A small dialplan gets a line per rule, with the reason;
    /// a large one a single line: how many candidates the index offered that
    /// did not apply (the first few by name), and how many rules it left out
    /// (scoped to units the caller is not in, or unable to match the target). Formatting a reason per rule would cost more
    /// than the decision itself.
    #[allow(clippy::too_many_arguments)]
    fn trace_skipped(
        &self,
        target: &str,
        facts: &CallerFacts,
        when: LocalTime,
        scope: &Scope,
        decided: &Decided<'_, '_>,
        before: usize,
        trace: &mut Vec<String>,
    ) {
        use std::fmt::Write as _;
        if self.rules.len() <= TRACE_EVERY_RULE_UP_TO {
            for rule in &self.rules[..before] {
                trace.push(self.why_skipped(rule, target, facts, when));
            }
            return;
        }
        if before == 0 {
            return;
        }
        let (shown, candidates) = self.rule_index.candidates_before(
            decided,
            target,
            scope,
            before,
            TRACE_CANDIDATES_NAMED,
        );
        let mut line = String::with_capacity(160 + target.len());
        let _ = write!(line, "{before} rules skipped: ");
        if candidates > 0 {
            let _ = write!(
                line,
                "{candidates} whose scope, match or time window did not hold ("
            );
            for (n, &i) in shown.iter().enumerate() {
                if n > 0 {
                    line.push_str(", ");
                }
                push_quoted(&mut line, &self.rules[i].name);
            }
            if candidates > shown.len() {
                line.push_str(", ...");
            }
            line.push_str("), ");
        }
        let _ = write!(
            line,
            "{} scoped to other units or whose exact string, prefix or regex start cannot match ",
            before - candidates
        );
        push_quoted(&mut line, target);
        trace.push(line);
    }

    /// Why `rule` does not decide this call, in the order the checks apply.
    fn why_skipped(
        &self,
        rule: &Rule,
        target: &str,
        facts: &CallerFacts,
        when: LocalTime,
    ) -> String {
        let name = &rule.name;
        if let Some(scope) = &rule.from_unit {
            match facts.unit {
                Some(u) if self.unit_within(u, scope) => {}
                Some(u) => {
                    return format!(
                        "rule {name:?} skipped: caller unit {u} is not within unit {scope}"
                    )
                }
                None => {
                    return format!(
                        "rule {name:?} skipped: caller has no unit (rule needs unit {scope})"
                    )
                }
            }
        }
        if let Some(scope) = &rule.from_trunk {
            if facts.trunk.map(|t| t.name.as_str()) != Some(scope.as_str()) {
                return format!("rule {name:?} skipped: call did not come from trunk {scope}");
            }
        }
        if !rule.in_time(when) && rule.matcher.captures(target).is_some() {
            let windows: Vec<String> = rule
                .windows
                .iter()
                .map(|w| format!("{:?}", w.text))
                .collect();
            return format!(
                "rule {name:?} skipped: {when} ({}) is outside its time windows {}",
                self.timezone,
                windows.join(", ")
            );
        }
        format!(
            "rule {name:?} skipped: {target:?} does not match {} {:?}",
            rule.matcher.kind(),
            rule.matcher.pattern()
        )
    }
}

impl Dialplan {
    /// [`Dialplan::trunk`] through the rule index's map.
    fn fast_trunk(&self, name: &str) -> Option<&Trunk> {
        self.trunks.get(self.rule_index.trunk_position(name)?)
    }
}

/// Reads a byte of each string the winning rule's trace and outcome read.
/// At city scale the rule and its strings are not in cache; their addresses
/// are known as soon as the rule is, so these reads go to memory together
/// instead of one after another as the formatting reaches each string.
fn prefetch_rule(rule: &Rule) {
    fn first(s: &str) -> u8 {
        s.as_bytes().first().copied().unwrap_or(0)
    }
    let rewrite =
        |r: &Rewrite| r.template.as_ref().map_or(0, Template::prefetch) ^ first(&r.prepend);
    let mut x = first(&rule.name) ^ first(rule.matcher.pattern());
    if let Some(c) = &rule.caller_id {
        x ^= first(c);
    }
    x ^= match &rule.action {
        Action::Endpoint { target } => first(target),
        Action::Trunk { trunk, rewrite: r } => first(trunk) ^ rewrite(r),
        Action::Uri { uri, rewrite: r } => uri.prefetch() ^ rewrite(r),
        Action::Reject { reason, .. } => first(reason),
    };
    std::hint::black_box(x);
}

/// Up to this many rules, the trace explains every rule passed over.
const TRACE_EVERY_RULE_UP_TO: usize = 64;
/// In a larger dialplan, at most this many skipped candidates are named.
const TRACE_CANDIDATES_NAMED: usize = 8;

/// Appends `s` as `{s:?}` would write it. Names, numbers and patterns are
/// almost always printable ASCII without quotes or backslashes, which Debug
/// writes unchanged: they skip its per-character escape checks.
fn push_quoted(out: &mut String, s: &str) {
    use std::fmt::Write as _;
    if s.bytes()
        .all(|b| matches!(b, b' '..=b'~') && b != b'"' && b != b'\\')
    {
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        let _ = write!(out, "{s:?}");
    }
}

fn unit_note(t: &Trunk) -> String {
    let kind = t.kind.as_str();
    match &t.unit {
        Some(u) => format!(", a {kind} trunk of unit {u}"),
        None => format!(", a {kind} trunk"),
    }
}
