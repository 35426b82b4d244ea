//! The registrar (RFC 3261 §10.3): bindings of endpoints to contacts.
//!
//! This module is free of I/O: the engine passes in the authenticated
//! endpoint, the REGISTER and where it came from, and gets back the response
//! to send plus the persistence operations to hand to the store writer.
//! Bindings remember the address the REGISTER arrived from so that an
//! endpoint behind NAT is reached there, not at the private address in its
//! Contact.

use gateway_sip::headers::NameAddr;
use gateway_sip::message::{HeaderName, Request};
use gateway_sip::transaction::PeerAddr;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    pub endpoint_id: String,
    /// The Contact URI as the endpoint sent it.
    pub contact: String,
    /// Where the REGISTER came from: requests for this binding go there.
    pub source: PeerAddr,
    pub expires_at: Instant,
    pub expires_at_unix: i64,
    pub call_id: String,
    pub cseq: u32,
    pub user_agent: Option<String>,
    /// Time of registration (unix seconds), to prefer the freshest contact.
    pub registered_at_unix: i64,
}

/// What the store writer must do after a REGISTER was accepted.
#[derive(Debug, Clone, PartialEq)]
pub enum BindingChange {
    Upsert(Binding),
    Remove {
        endpoint_id: String,
        contact: String,
    },
}

#[derive(Debug, Clone, Copy)]
pub struct RegistrarLimits {
    pub min_expires: u32,
    pub max_expires: u32,
    pub default_expires: u32,
}

/// Why a REGISTER was refused: the status and reason phrase to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub reason: String,
    /// For 423: the Min-Expires value to send.
    pub min_expires: Option<u32>,
}

impl Refusal {
    fn new(status: u16, reason: impl Into<String>) -> Refusal {
        Refusal {
            status,
            reason: reason.into(),
            min_expires: None,
        }
    }
}

#[derive(Debug, Default)]
pub struct Registrar {
    bindings: HashMap<String, Vec<Binding>>,
    /// Rooms that do not register, reached at the fixed address the
    /// administration registry gives them: one standing binding each, used
    /// when the endpoint has no live registration. Never persisted,
    /// expired or qualified; replaced whole when the registry changes.
    fixed: HashMap<String, Binding>,
    /// Source IP → (port when the address names one, endpoint id), so a
    /// call from a fixed address is taken as that endpoint.
    fixed_sources: HashMap<IpAddr, Vec<(Option<u16>, String)>>,
}

/// Why a fixed address cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixedAddressError {
    pub endpoint_id: String,
    pub address: String,
    pub reason: String,
}

impl std::fmt::Display for FixedAddressError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "endpoint {}: fixed address {:?} {}",
            self.endpoint_id, self.address, self.reason
        )
    }
}

/// Where a fixed address sends requests: a SIP URI (`sip:room@10.0.0.5:5060`,
/// `sips:…`, `;transport=tcp`) or a bare `host[:port]`, the host an IP
/// literal (the engine does no DNS). Also whether a port was given.
fn parse_fixed_address(
    endpoint_id: &str,
    address: &str,
) -> Result<(String, PeerAddr, bool), String> {
    use gateway_sip::transaction::Transport;
    use gateway_sip::uri::{Scheme, Uri};
    let a = address.trim();
    let lower = a.to_ascii_lowercase();
    let text = if lower.starts_with("sip:") || lower.starts_with("sips:") {
        a.to_string()
    } else {
        format!("sip:{a}")
    };
    let mut uri = Uri::parse(&text).map_err(|e| format!("is not a SIP address: {e}"))?;
    let host = uri.host.trim_start_matches('[').trim_end_matches(']');
    let ip: IpAddr = host
        .parse()
        .map_err(|_| format!("has host {host}, not an IP address (no DNS in the engine)"))?;
    let transport = match (&uri.scheme, uri.transport().as_deref()) {
        (Scheme::Sips, _) | (_, Some("tls")) => Transport::Tls,
        (_, Some("tcp")) => Transport::Tcp,
        _ => Transport::Udp,
    };
    let given_port = uri.port.is_some();
    let port = uri.port.unwrap_or(if transport == Transport::Tls {
        5061
    } else {
        5060
    });
    if uri.user.is_none() {
        uri.user = Some(endpoint_id.to_string());
    }
    let peer = PeerAddr {
        transport,
        addr: SocketAddr::new(ip, port),
        conn: None,
    };
    Ok((uri.to_string(), peer, given_port))
}

/// The accepted REGISTER: current bindings to list in the 200 and what changed.
#[derive(Debug)]
pub struct Accepted {
    pub contacts: Vec<(String, u32)>,
    pub changes: Vec<BindingChange>,
}

impl Registrar {
    pub fn new() -> Registrar {
        Registrar::default()
    }

    /// Restore bindings loaded from the store at start.
    pub fn restore(&mut self, binding: Binding) {
        self.bindings
            .entry(binding.endpoint_id.clone())
            .or_default()
            .push(binding);
    }

    pub fn active_count(&self) -> usize {
        self.bindings.values().map(Vec::len).sum()
    }

    /// Live bindings of an endpoint, freshest first; a room with a fixed
    /// address and no live registration, its fixed binding.
    pub fn lookup(&self, endpoint_id: &str, now: Instant) -> Vec<&Binding> {
        let mut v: Vec<&Binding> = self
            .bindings
            .get(endpoint_id)
            .map(|b| b.iter().filter(|b| b.expires_at > now).collect())
            .unwrap_or_default();
        v.sort_by_key(|b| std::cmp::Reverse(b.registered_at_unix));
        if v.is_empty() {
            v.extend(self.fixed.get(endpoint_id));
        }
        v
    }

    /// Replaces the fixed addresses (endpoint id, address as the registry
    /// holds it). Addresses that cannot be used are left out and returned.
    pub fn set_fixed(
        &mut self,
        fixed: &[(String, String)],
        now: Instant,
    ) -> Vec<FixedAddressError> {
        // Standing bindings: far enough ahead never to lapse while the
        // gateway runs (the registry replaces them on every change).
        let far = now
            .checked_add(Duration::from_secs(100 * 365 * 86_400))
            .or_else(|| now.checked_add(Duration::from_secs(86_400 * 365)))
            .unwrap_or(now);
        let mut errors = Vec::new();
        self.fixed.clear();
        self.fixed_sources.clear();
        for (id, address) in fixed {
            match parse_fixed_address(id, address) {
                Ok((contact, source, given_port)) => {
                    self.fixed_sources
                        .entry(source.addr.ip())
                        .or_default()
                        .push((given_port.then_some(source.addr.port()), id.clone()));
                    self.fixed.insert(
                        id.clone(),
                        Binding {
                            endpoint_id: id.clone(),
                            contact,
                            source,
                            expires_at: far,
                            expires_at_unix: i64::MAX,
                            call_id: String::new(),
                            cseq: 0,
                            user_agent: None,
                            registered_at_unix: 0,
                        },
                    );
                }
                Err(reason) => errors.push(FixedAddressError {
                    endpoint_id: id.clone(),
                    address: address.clone(),
                    reason,
                }),
            }
        }
        errors
    }

    #[cfg(test)]
    pub fn fixed_count(&self) -> usize {
        self.fixed.len()
    }

    /// The room whose fixed address `source` is: the one naming this exact
    /// port, else the only one at this IP that names no port. Several rooms
    /// at one IP without ports are ambiguous: none is chosen.
    pub fn fixed_endpoint_at(&self, source: SocketAddr) -> Option<&str> {
        let at = self.fixed_sources.get(&source.ip())?;
        if let Some((_, id)) = at.iter().find(|(p, _)| *p == Some(source.port())) {
            return Some(id);
        }
        let mut any = at.iter().filter(|(p, _)| p.is_none());
        match (any.next(), any.next()) {
            (Some((_, id)), None) => Some(id),
            _ => None,
        }
    }

    pub fn all(&self) -> impl Iterator<Item = &Binding> {
        self.bindings.values().flatten()
    }

    /// Drop expired bindings; returns what was removed.
    pub fn expire(&mut self, now: Instant) -> Vec<BindingChange> {
        let mut removed = Vec::new();
        for list in self.bindings.values_mut() {
            list.retain(|b| {
                let keep = b.expires_at > now;
                if !keep {
                    removed.push(BindingChange::Remove {
                        endpoint_id: b.endpoint_id.clone(),
                        contact: b.contact.clone(),
                    });
                }
                keep
            });
        }
        self.bindings.retain(|_, l| !l.is_empty());
        removed
    }

    /// Remove one binding (for example after qualify found it dead).
    pub fn remove(&mut self, endpoint_id: &str, contact: &str) -> bool {
        let Some(list) = self.bindings.get_mut(endpoint_id) else {
            return false;
        };
        let before = list.len();
        list.retain(|b| b.contact != contact);
        before != list.len()
    }

    /// Apply an authenticated REGISTER for `endpoint_id`.
    #[allow(clippy::too_many_arguments)]
    pub fn register(
        &mut self,
        endpoint_id: &str,
        max_contacts: usize,
        req: &Request,
        source: PeerAddr,
        now: Instant,
        now_unix: i64,
        limits: RegistrarLimits,
    ) -> Result<Accepted, Refusal> {
        let h = &req.headers;
        let call_id = h
            .get(&HeaderName::CallId)
            .ok_or_else(|| Refusal::new(400, "Missing Call-ID header"))?
            .to_string();
        let cseq = gateway_sip::headers::CSeq::parse(h.get(&HeaderName::CSeq).unwrap_or(""))
            .map_err(|_| Refusal::new(400, "Malformed CSeq header"))?
            .seq;
        let header_expires = match h.get(&HeaderName::Expires) {
            Some(v) => Some(
                v.trim()
                    .parse::<u64>()
                    .map_err(|_| Refusal::new(400, "Malformed Expires header"))?,
            ),
            None => None,
        };
        let user_agent = h.get(&HeaderName::UserAgent).map(str::to_string);

        let contact_values: Vec<&str> = h.get_all(&HeaderName::Contact).collect();
        let existing = self.bindings.entry(endpoint_id.to_string()).or_default();
        let mut changes = Vec::new();

        // `Contact: *` with Expires: 0 removes every binding (§10.2.2).
        if contact_values.iter().any(|c| c.trim() == "*") {
            if contact_values.len() != 1 || header_expires != Some(0) {
                return Err(Refusal::new(
                    400,
                    "Contact: * needs Expires: 0 and no other Contact",
                ));
            }
            for b in existing.drain(..) {
                changes.push(BindingChange::Remove {
                    endpoint_id: b.endpoint_id,
                    contact: b.contact,
                });
            }
            return Ok(Accepted {
                contacts: Vec::new(),
                changes,
            });
        }

        let mut parsed = Vec::with_capacity(contact_values.len());
        for v in &contact_values {
            let na = NameAddr::parse(v)
                .map_err(|_| Refusal::new(400, format!("Malformed Contact header: {v}")))?;
            let expires = match na.params.get("expires").flatten() {
                Some(e) => e
                    .parse::<u64>()
                    .map_err(|_| Refusal::new(400, "Malformed expires parameter in Contact"))?,
                None => header_expires.unwrap_or(limits.default_expires as u64),
            };
            if expires != 0 && expires < limits.min_expires as u64 {
                return Err(Refusal {
                    status: 423,
                    reason: "Interval Too Brief".into(),
                    min_expires: Some(limits.min_expires),
                });
            }
            let expires = expires.min(limits.max_expires as u64) as u32;
            parsed.push((na.uri.to_string(), expires));
        }

        for (contact, expires) in parsed {
            if let Some(pos) = existing.iter().position(|b| b.contact == contact) {
                let old = &existing[pos];
                // §10.3 step 7: an older CSeq in the same Call-ID is a reordered request.
                if old.call_id == call_id && cseq <= old.cseq {
                    return Err(Refusal::new(
                        500,
                        "Out-of-order REGISTER (CSeq not greater than the binding's)",
                    ));
                }
                if expires == 0 {
                    let b = existing.remove(pos);
                    changes.push(BindingChange::Remove {
                        endpoint_id: b.endpoint_id,
                        contact: b.contact,
                    });
                    continue;
                }
            } else if expires == 0 {
                continue;
            }
            let binding = Binding {
                endpoint_id: endpoint_id.to_string(),
                contact: contact.clone(),
                source,
                expires_at: now + Duration::from_secs(expires as u64),
                expires_at_unix: now_unix + expires as i64,
                call_id: call_id.clone(),
                cseq,
                user_agent: user_agent.clone(),
                registered_at_unix: now_unix,
            };
            match existing.iter().position(|b| b.contact == contact) {
                Some(pos) => existing[pos] = binding.clone(),
                None => {
                    if existing.len() >= max_contacts {
                        // Replace the oldest binding rather than refuse: a
                        // room system that rebooted registers a new contact
                        // before its old one expires.
                        if let Some((oldest, _)) = existing
                            .iter()
                            .enumerate()
                            .min_by_key(|(_, b)| b.registered_at_unix)
                        {
                            let b = existing.remove(oldest);
                            changes.push(BindingChange::Remove {
                                endpoint_id: b.endpoint_id,
                                contact: b.contact,
                            });
                        }
                    }
                    existing.push(binding.clone());
                }
            }
            changes.push(BindingChange::Upsert(binding));
        }

        let contacts = existing
            .iter()
            .filter(|b| b.expires_at > now)
            .map(|b| {
                let left = b.expires_at.saturating_duration_since(now).as_secs() as u32;
                (b.contact.clone(), left)
            })
            .collect();
        Ok(Accepted { contacts, changes })
    }
}

#[cfg(test)]
mod fixed_tests {
    use super::*;
    use gateway_sip::transaction::Transport;

    fn sock(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn fixed_rooms_are_reached_and_recognised_at_their_address() {
        let now = Instant::now();
        let mut r = Registrar::new();
        let bad = r.set_fixed(
            &[
                (
                    "hall".into(),
                    "sip:hall@192.0.2.10:5070;transport=tcp".into(),
                ),
                ("annex".into(), "192.0.2.11".into()),
                ("twin-a".into(), "192.0.2.12:5060".into()),
                ("twin-b".into(), "192.0.2.12:5062".into()),
                ("named".into(), "room.example.org".into()),
            ],
            now,
        );
        assert_eq!(bad.len(), 1, "{bad:?}");
        assert_eq!(bad[0].endpoint_id, "named");
        assert_eq!(r.fixed_count(), 4);
        let hall = r.lookup("hall", now);
        assert_eq!(hall.len(), 1);
        assert_eq!(hall[0].source.transport, Transport::Tcp);
        assert_eq!(hall[0].source.addr, sock("192.0.2.10:5070"));
        assert!(hall[0].contact.starts_with("sip:hall@192.0.2.10:5070"));
        let annex = r.lookup("annex", now);
        assert_eq!(annex[0].contact, "sip:annex@192.0.2.11");
        assert_eq!(annex[0].source.addr, sock("192.0.2.11:5060"));
        // Fixed rooms are not registrations: nothing to persist or qualify.
        assert_eq!(r.all().count(), 0);
        assert!(r.expire(now + Duration::from_secs(86_400)).is_empty());

        assert_eq!(r.fixed_endpoint_at(sock("192.0.2.11:40000")), Some("annex"));
        assert_eq!(r.fixed_endpoint_at(sock("192.0.2.12:5062")), Some("twin-b"));
        assert_eq!(r.fixed_endpoint_at(sock("192.0.2.12:5099")), None);
        assert_eq!(r.fixed_endpoint_at(sock("192.0.2.10:5070")), Some("hall"));
        assert_eq!(r.fixed_endpoint_at(sock("192.0.2.10:5071")), None);
        assert_eq!(r.fixed_endpoint_at(sock("198.51.100.1:5060")), None);

        // Replaced whole.
        r.set_fixed(&[], now);
        assert!(r.lookup("hall", now).is_empty());
        assert_eq!(r.fixed_endpoint_at(sock("192.0.2.11:5060")), None);
    }
}
