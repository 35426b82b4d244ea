//! The routing decision: a pure function of the request and the snapshot.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::model::*;
use crate::net::{escape_user, SipUri};
use crate::rule_index::Scope;

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
    trunk: Option<&'a str>,
}

impl Dialplan {
    /// Decides where a call goes. Order: the caller is identified and checked
    /// (vetting, transport); then the target is looked up among endpoint ids,
    /// numbers and aliases; then the rules are tried in file order; the first
    /// that applies decides. Nothing matching: 404.
    pub fn route(&self, req: &RouteRequest) -> RouteDecision {
        let mut trace = Vec::new();
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
                }
            }
            Caller::Trunk(name) => {
                let Some(t) = self.trunk(name) else {
                    return reject(403, format!("Unknown trunk {name}"), policy, trace);
                };
                trace.push(format!("caller is trunk {name}{}", unit_note(t)));
                CallerFacts {
                    unit: t.unit.as_deref(),
                    trunk: Some(&t.name),
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
                        trunk: Some(&t.name),
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
            match self.route_by_rules(target, &facts, &mut policy, &mut trace) {
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
        policy: &mut Policy,
        trace: &mut Vec<String>,
    ) -> Option<RouteOutcome> {
        let scope = self.rule_index.scope(
            facts.unit.and_then(|u| self.unit_index.get(u).copied()),
            facts.trunk.and_then(|t| self.trunk_index.get(t).copied()),
        );
        let winner = self
            .rule_index
            .first_applicable(&self.rules, target, &scope);
        self.trace_skipped(
            target,
            facts,
            &scope,
            winner.as_ref().map_or(self.rules.len(), |(i, _)| *i),
            trace,
        );
        let (i, groups) = winner?;
        let rule = &self.rules[i];
        let name = &rule.name;
        // The index checked the match; an exact or prefix match's groups
        // are only collected here.
        let groups = match groups {
            Some(g) => g,
            None => rule.matcher.captures(target)?,
        };
        trace.push(format!(
            "rule {name:?} matched: {target:?} matches {} {:?}",
            rule.matcher.kind(),
            rule.matcher.pattern()
        ));
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
                let number = rewrite.apply(&groups);
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
                let t = self.trunk(trunk)?;
                RouteOutcome::Trunk {
                    name: t.name.clone(),
                    uri: t.uri.with_user(&number).to_string(),
                }
            }
            Action::Uri { uri, rewrite } => {
                let number = rewrite.apply(&groups);
                let u = uri.expand(&groups, &number, escape_user);
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

    /// Explains the rules passed over before rule `before` (all of them when
    /// none applied). A small dialplan gets a line per rule, with the reason;
    /// a large one a single line: how many candidates the index offered that
    /// did not apply (the first few by name), and how many rules it left out
    /// (scoped to units the caller is not in, or unable to match the target). Formatting a reason per rule would cost more
    /// than the decision itself.
    fn trace_skipped(
        &self,
        target: &str,
        facts: &CallerFacts,
        scope: &Scope,
        before: usize,
        trace: &mut Vec<String>,
    ) {
        use std::fmt::Write as _;
        if self.rules.len() <= TRACE_EVERY_RULE_UP_TO {
            for rule in &self.rules[..before] {
                trace.push(self.why_skipped(rule, target, facts));
            }
            return;
        }
        if before == 0 {
            return;
        }
        let (shown, candidates) =
            self.rule_index
                .candidates_before(target, scope, before, TRACE_CANDIDATES_NAMED);
        let mut line = format!("{before} rules skipped: ");
        if candidates > 0 {
            let _ = write!(line, "{candidates} whose scope or match did not hold (");
            for (n, &i) in shown.iter().enumerate() {
                let sep = if n == 0 { "" } else { ", " };
                let _ = write!(line, "{sep}{:?}", self.rules[i].name);
            }
            if candidates > shown.len() {
                line.push_str(", ...");
            }
            line.push_str("), ");
        }
        let _ = write!(
            line,
            "{} scoped to other units or whose exact string, prefix or regex start cannot match {target:?}",
            before - candidates
        );
        trace.push(line);
    }

    /// Why `rule` does not decide this call, in the order the checks apply.
    fn why_skipped(&self, rule: &Rule, target: &str, facts: &CallerFacts) -> String {
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
            if facts.trunk != Some(scope.as_str()) {
                return format!("rule {name:?} skipped: call did not come from trunk {scope}");
            }
        }
        format!(
            "rule {name:?} skipped: {target:?} does not match {} {:?}",
            rule.matcher.kind(),
            rule.matcher.pattern()
        )
    }
}

/// Up to this many rules, the trace explains every rule passed over.
const TRACE_EVERY_RULE_UP_TO: usize = 64;
/// In a larger dialplan, at most this many skipped candidates are named.
const TRACE_CANDIDATES_NAMED: usize = 8;

fn unit_note(t: &Trunk) -> String {
    match &t.unit {
        Some(u) => format!(" of unit {u}"),
        None => String::new(),
    }
}
