//! The routing dialplan of a running gateway: a parsed dialplan (its units,
//! trunks, rules and meetings) with the endpoints the administration
//! registry holds laid over its own.
//!
//! The registry is where endpoints are created and edited (API, CLI, UI);
//! the TOML's endpoints are adopted into it. So the runtime hands the parsed
//! version plus the registry's endpoints to [`Dialplan::overlay_endpoints`]:
//! a registry endpoint replaces the file's endpoint of the same id (keeping
//! what the registry does not model: transport, contact limit, H.323
//! identities), registry-only endpoints are added, and endpoints the
//! registry deleted are dropped. Rules and meetings are untouched: their
//! index does not depend on endpoints, so nothing but the endpoint tables is
//! rebuilt.

use std::collections::{HashMap, HashSet};

use crate::model::{Credentials, Dialplan, Endpoint, Protocol, Transport};

/// An endpoint as the administration registry holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryEndpoint {
    pub id: String,
    pub unit: String,
    pub display: Option<String>,
    pub numbers: Vec<String>,
    pub aliases: Vec<String>,
    /// `None`: no usable digest secret (none set, or set for another realm);
    /// the endpoint cannot authenticate.
    pub credentials: Option<Credentials>,
    /// Used for endpoints the dialplan file does not have; an adopted
    /// endpoint keeps the file's protocol.
    pub protocol: Protocol,
    /// Whether routing may accept it as a caller. The registry's vetting
    /// gate decides at REGISTER and INVITE, so the runtime passes `true`.
    pub vetted: bool,
}

/// Something of the registry left out of the routing dialplan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverlayIssue {
    pub endpoint: String,
    pub message: String,
}

impl std::fmt::Display for OverlayIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "endpoint {}: {}", self.endpoint, self.message)
    }
}

/// Which HA1 form a digest response needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ha1Algorithm {
    Md5,
    Sha256,
}

// The registry keeps an MD5 and a SHA-256 HA1 side by side, while
// `Credentials` holds one form. Both are carried in `Ha1Md5` as
// "md5:sha256" (either part may be empty); a file's `ha1_md5` is exactly 32
// hex digits, so the two can never be confused.
const PAIR_SEPARATOR: char = ':';

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

impl Credentials {
    /// The registry's HA1 forms as one value. Malformed forms are ignored;
    /// with neither form the value answers no algorithm at all (unlike an
    /// empty password, which would accept an empty password).
    pub fn from_ha1_forms(md5: Option<&str>, sha256: Option<&str>) -> Credentials {
        let md5 = md5.filter(|h| is_hex(h, 32)).map(str::to_ascii_lowercase);
        let sha = sha256
            .filter(|h| is_hex(h, 64))
            .map(str::to_ascii_lowercase);
        match (md5, sha) {
            (Some(m), None) => Credentials::Ha1Md5(m),
            (None, Some(s)) => Credentials::Ha1Sha256(s),
            (m, s) => Credentials::Ha1Md5(format!(
                "{}{PAIR_SEPARATOR}{}",
                m.unwrap_or_default(),
                s.unwrap_or_default()
            )),
        }
    }

    /// The HA1 this credential holds for `algorithm`, if any (`None` for a
    /// clear password, which answers every algorithm by itself).
    pub fn ha1(&self, algorithm: Ha1Algorithm) -> Option<&str> {
        let h = match (self, algorithm) {
            (Credentials::Ha1Md5(h), Ha1Algorithm::Md5) => match h.split_once(PAIR_SEPARATOR) {
                Some((m, _)) => m,
                None => h.as_str(),
            },
            (Credentials::Ha1Md5(h), Ha1Algorithm::Sha256) => h.split_once(PAIR_SEPARATOR)?.1,
            (Credentials::Ha1Sha256(h), Ha1Algorithm::Sha256) => h.as_str(),
            _ => return None,
        };
        (!h.is_empty()).then_some(h)
    }
}

impl Dialplan {
    /// This dialplan with `registry`'s endpoints laid over its own (see the
    /// module documentation); `removed` names file endpoints the registry
    /// deleted. Ids are claimed first, so an id always names its endpoint;
    /// then numbers and aliases, registry endpoints before the file's. A
    /// name already taken (or a meeting's) is left out of the later
    /// endpoint and reported, as is a duplicate registry id.
    pub fn overlay_endpoints(
        mut self,
        registry: Vec<RegistryEndpoint>,
        removed: &HashSet<String>,
    ) -> (Dialplan, Vec<OverlayIssue>) {
        let mut issues = Vec::new();
        let mut base: HashMap<String, Endpoint> = std::mem::take(&mut self.endpoints)
            .into_iter()
            .map(|e| (e.id.clone(), e))
            .collect();
        let mut endpoints: Vec<Endpoint> = Vec::with_capacity(registry.len() + base.len());
        let mut seen: HashSet<String> = HashSet::with_capacity(registry.len());
        for r in registry {
            if !seen.insert(r.id.clone()) {
                issues.push(issue(&r.id, "listed twice by the registry"));
                continue;
            }
            let ep = match base.remove(&r.id) {
                Some(file) => Endpoint {
                    unit: r.unit,
                    display: r.display,
                    numbers: r.numbers,
                    aliases: r.aliases,
                    credentials: r.credentials.unwrap_or_else(no_secret),
                    vetted: r.vetted,
                    ..file
                },
                None => Endpoint {
                    id: r.id,
                    unit: r.unit,
                    credentials: r.credentials.unwrap_or_else(no_secret),
                    display: r.display,
                    aliases: r.aliases,
                    numbers: r.numbers,
                    transport: Transport::Any,
                    max_contacts: NEW_ENDPOINT_MAX_CONTACTS,
                    vetted: r.vetted,
                    protocol: r.protocol,
                    h323_ids: Vec::new(),
                    h323_password: None,
                },
            };
            endpoints.push(ep);
        }
        // The file's remaining endpoints, in file order.
        let mut file_order: Vec<(usize, Endpoint)> = Vec::with_capacity(base.len());
        for (id, e) in base {
            if removed.contains(&id) {
                continue;
            }
            let pos = self.endpoint_index.get(&id).copied().unwrap_or(usize::MAX);
            file_order.push((pos, e));
        }
        file_order.sort_by_key(|(p, _)| *p);
        endpoints.extend(file_order.into_iter().map(|(_, e)| e));

        let mut endpoint_index = HashMap::with_capacity(endpoints.len());
        let mut user_index: HashMap<String, usize> = HashMap::with_capacity(endpoints.len() * 3);
        for (i, e) in endpoints.iter().enumerate() {
            endpoint_index.insert(e.id.clone(), i);
            user_index.insert(e.id.clone(), i);
        }
        let mut h323_index = HashMap::new();
        for (i, e) in endpoints.iter_mut().enumerate() {
            let mut dropped: Vec<String> = Vec::new();
            let mut claim = |name: &str| -> bool {
                let free = !self.meeting_index.contains_key(name)
                    && user_index.get(name).is_none_or(|&o| o == i);
                if free {
                    user_index.insert(name.to_string(), i);
                } else {
                    dropped.push(name.to_string());
                }
                free
            };
            e.numbers.retain(|n| claim(n));
            for a in &mut e.aliases {
                a.make_ascii_lowercase();
            }
            e.aliases.retain(|a| claim(a));
            for d in dropped {
                issues.push(issue(
                    &e.id,
                    &format!("{d} is already used by another endpoint or a meeting: left out"),
                ));
            }
            if e.protocol == Protocol::H323 {
                e.h323_ids.retain(|h| {
                    if h323_index.contains_key(h) {
                        issues.push(issue(
                            &e.id,
                            &format!("h323_id {h} is already in use: left out"),
                        ));
                        false
                    } else {
                        h323_index.insert(h.clone(), i);
                        true
                    }
                });
            }
        }
        self.endpoints = endpoints;
        self.endpoint_index = endpoint_index;
        self.user_index = user_index;
        self.h323_index = h323_index;
        (self, issues)
    }
}

/// Endpoints the file does not have register from one device unless the
/// file says otherwise, as a file endpoint without `max_contacts` does.
const NEW_ENDPOINT_MAX_CONTACTS: u32 = 1;

fn no_secret() -> Credentials {
    Credentials::from_ha1_forms(None, None)
}

fn issue(endpoint: &str, message: &str) -> OverlayIssue {
    OverlayIssue {
        endpoint: endpoint.to_string(),
        message: message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{RouteOutcome, RouteRequest};

    fn sample() -> Dialplan {
        Dialplan::parse(crate::SAMPLE_DIALPLAN, "loopback.toml").expect("sample parses")
    }

    fn registry(id: &str, numbers: &[&str], aliases: &[&str]) -> RegistryEndpoint {
        RegistryEndpoint {
            id: id.into(),
            unit: "01".into(),
            display: Some(format!("Room {id}")),
            numbers: numbers.iter().map(|s| s.to_string()).collect(),
            aliases: aliases.iter().map(|s| s.to_string()).collect(),
            credentials: Some(Credentials::from_ha1_forms(
                Some("ab".repeat(16).as_str()),
                Some("cd".repeat(32).as_str()),
            )),
            protocol: Protocol::Sip,
            vetted: true,
        }
    }

    fn routes_to(dp: &Dialplan, from: &str, target: &str) -> RouteOutcome {
        // Built from JSON so that fields this test does not care about
        // (the time of the call) may come and go.
        let req: RouteRequest = serde_json::from_value(serde_json::json!({
            "caller": { "endpoint": from },
            "from_user": null,
            "target": target,
            "transport_secure": false,
            "at_unix_secs": 0,
        }))
        .expect("a route request");
        dp.route(&req).outcome
    }

    fn endpoint(id: &str) -> RouteOutcome {
        RouteOutcome::Endpoint { id: id.into() }
    }

    #[test]
    fn registry_endpoints_are_added_changed_and_removed() {
        let before = sample();
        assert!(matches!(
            routes_to(&before, "1001", "1010"),
            RouteOutcome::Trunk { .. }
        ));
        let mut changed_1002 = registry("1002", &["1012"], &["Room-Twelve"]);
        changed_1002.unit = "01".into();
        let (dp, issues) = sample().overlay_endpoints(
            vec![registry("room-a", &["1010"], &["hall-a"]), changed_1002],
            &HashSet::from(["1003".to_string()]),
        );
        assert!(issues.is_empty(), "{issues:?}");
        // Added: by id, number and alias (case-insensitively), and as a caller.
        assert_eq!(routes_to(&dp, "1001", "1010"), endpoint("room-a"));
        assert_eq!(routes_to(&dp, "1001", "HALL-A"), endpoint("room-a"));
        assert_eq!(routes_to(&dp, "room-a", "1001"), endpoint("1001"));
        assert_eq!(dp.endpoint("room-a").unwrap().max_contacts, 1);
        // Changed: the new number and alias reach it, the old number goes
        // to the rules; what the registry does not hold stays the file's.
        assert_eq!(routes_to(&dp, "1001", "1012"), endpoint("1002"));
        assert_eq!(routes_to(&dp, "1001", "room-twelve"), endpoint("1002"));
        assert_eq!(routes_to(&dp, "1001", "1002"), endpoint("1002"), "by id");
        assert!(matches!(
            routes_to(&dp, "1001", "room-1002"),
            RouteOutcome::Trunk { .. } | RouteOutcome::Reject { .. }
        ));
        let e = dp.endpoint("1002").unwrap();
        assert_eq!(e.max_contacts, 4);
        assert_eq!(e.display.as_deref(), Some("Room 1002"));
        assert_eq!(
            e.credentials.ha1(Ha1Algorithm::Md5),
            Some(&*"ab".repeat(16))
        );
        // Removed.
        assert!(dp.endpoint("1003").is_none());
        assert!(dp.endpoint_by_user("room-1003").is_none());
        // Untouched endpoints, the H.323 room and meetings stay as they were.
        assert_eq!(routes_to(&dp, "1001", "room-1001"), endpoint("1001"));
        assert_eq!(dp.endpoint_by_h323_id("room-2001").unwrap().id, "2001");
        assert_eq!(
            routes_to(&dp, "1001", "8000"),
            RouteOutcome::Meeting {
                number: "8000".into()
            }
        );
        assert_eq!(dp.rules().len(), before.rules().len());
    }

    #[test]
    fn names_in_use_are_left_out_and_reported() {
        let (dp, issues) = sample().overlay_endpoints(
            vec![
                // A meeting's number, a file endpoint's id, another's alias.
                registry("x", &["8000", "1001", "1099"], &["room-1002"]),
                registry("x", &["1098"], &[]),
            ],
            &HashSet::new(),
        );
        let text: Vec<String> = issues.iter().map(|i| i.to_string()).collect();
        assert_eq!(text.len(), 4, "{text:?}");
        assert!(text.iter().any(|t| t.contains("listed twice")), "{text:?}");
        assert_eq!(dp.endpoint("x").unwrap().numbers, ["1099"]);
        assert_eq!(
            routes_to(&dp, "1003", "8000"),
            RouteOutcome::Meeting {
                number: "8000".into()
            }
        );
        assert_eq!(routes_to(&dp, "1003", "1001"), endpoint("1001"));
        // The registry's endpoints claim names before the file's (a file
        // endpoint there is one the registry could not adopt): the alias
        // goes to the registry endpoint, and the file endpoint's loss is
        // reported.
        assert_eq!(routes_to(&dp, "1003", "room-1002"), endpoint("x"));
        assert!(issues.iter().any(|i| i.endpoint == "1002"), "{text:?}");
    }

    #[test]
    fn ha1_forms_answer_their_own_algorithm_only() {
        let md5 = "0123456789abcdef0123456789ABCDEF";
        let sha = "f".repeat(64);
        let both = Credentials::from_ha1_forms(Some(md5), Some(sha.as_str()));
        assert_eq!(
            both.ha1(Ha1Algorithm::Md5),
            Some(&*md5.to_ascii_lowercase())
        );
        assert_eq!(both.ha1(Ha1Algorithm::Sha256), Some(sha.as_str()));
        let only = Credentials::from_ha1_forms(Some(md5), Some("not hex"));
        assert_eq!(only.ha1(Ha1Algorithm::Sha256), None);
        assert!(only.ha1(Ha1Algorithm::Md5).is_some());
        let sha_only = Credentials::from_ha1_forms(None, Some(sha.as_str()));
        assert_eq!(sha_only.ha1(Ha1Algorithm::Md5), None);
        let none = Credentials::from_ha1_forms(None, None);
        assert_eq!(none.ha1(Ha1Algorithm::Md5), None);
        assert_eq!(none.ha1(Ha1Algorithm::Sha256), None);
        assert_eq!(
            Credentials::Password("p".into()).ha1(Ha1Algorithm::Md5),
            None
        );
        // Secrets stay out of Debug output.
        assert!(!format!("{both:?}").contains("0123"));
    }
}
