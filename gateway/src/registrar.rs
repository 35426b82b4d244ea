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

    /// Live bindings of an endpoint, freshest first.
    pub fn lookup(&self, endpoint_id: &str, now: Instant) -> Vec<&Binding> {
        let mut v: Vec<&Binding> = self
            .bindings
            .get(endpoint_id)
            .map(|b| b.iter().filter(|b| b.expires_at > now).collect())
            .unwrap_or_default();
        v.sort_by_key(|b| std::cmp::Reverse(b.registered_at_unix));
        v
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
