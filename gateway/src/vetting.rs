//! The engine's vetting gate: only an `approved` endpoint may register or
//! call.
//!
//! The engine never waits on the database, so it keeps a snapshot of the
//! registry (endpoint id → state, reason, current device). The runtime loads
//! it at start and after every dialplan reload (SIGHUP), and applies the
//! changes `gateway_admin::Admin` announces after each commit (approve,
//! suspend, a device change sent back to review). Changes made by another
//! process on the database (`gateway vetting approve` on the CLI) reach a
//! running gateway with its next SIGHUP.
//!
//! A REGISTER's User-Agent is compared with the snapshot's device right
//! away, so the REGISTER that presents a changed device is itself refused;
//! the device is also handed to the runtime, which records it through
//! `Admin::observe_device` (that writes the change, the audit and the
//! review-queue entry). Endpoints the registry does not know keep the
//! dialplan's behaviour: they may register, and calls follow its `vetted`.
//! Registry endpoints are routed with `vetted` set (see runtime.rs): for
//! them this gate alone decides, from live state. When the registry's
//! endpoints change, the entries of new ones are added without undoing
//! changes announced meanwhile (`add_missing`).

use gateway_admin::ua::{bounded, parse_user_agent};
use gateway_admin::{VettingChange, VettingEntry, VettingState};
use std::collections::HashMap;
use tokio::sync::mpsc;
use tracing::{debug, warn};

/// A User-Agent seen on an authenticated REGISTER, for the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceSeen {
    pub endpoint_id: String,
    pub user_agent: String,
}

/// Why an endpoint may not register or call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VettingRefusal {
    pub state: VettingState,
    /// For the reason phrase and the Warning text, e.g. `Endpoint 1001 is
    /// pending security vetting`.
    pub text: String,
}

#[derive(Debug, Default)]
pub struct VettingGate {
    entries: HashMap<String, VettingEntry>,
    observer: Option<mpsc::Sender<DeviceSeen>>,
    /// Bumped by every change of the entries: views derived from the gate
    /// (the gatekeeper's refused set) are rebuilt only when it moves.
    generation: u64,
}

/// Text from the database goes into a quoted SIP header value: keep it
/// printable, without quotes or backslashes, and short.
fn header_safe(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control() && *c != '"' && *c != '\\')
        .take(200)
        .collect()
}

impl VettingGate {
    pub fn replace(&mut self, entries: HashMap<String, VettingEntry>) {
        self.entries = entries;
        self.generation += 1;
    }

    /// Adds the entries of endpoints the gate does not know yet (created
    /// since its snapshot), leaving known ones as the announced changes
    /// made them: `entries` may be older than those changes.
    pub fn add_missing(&mut self, entries: HashMap<String, VettingEntry>) {
        let before = self.entries.len();
        for (id, e) in entries {
            self.entries.entry(id).or_insert(e);
        }
        if self.entries.len() != before {
            self.generation += 1;
        }
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub fn set_observer(&mut self, tx: mpsc::Sender<DeviceSeen>) {
        self.observer = Some(tx);
    }

    pub fn apply(&mut self, change: VettingChange) {
        self.generation += 1;
        match self.entries.get_mut(&change.endpoint_id) {
            Some(e) => {
                e.state = change.state;
                e.reason = change.reason;
            }
            None => {
                self.entries.insert(
                    change.endpoint_id,
                    VettingEntry {
                        state: change.state,
                        reason: change.reason,
                        device: None,
                    },
                );
            }
        }
    }

    #[cfg(test)]
    pub fn state(&self, endpoint_id: &str) -> Option<VettingState> {
        self.entries.get(endpoint_id).map(|e| e.state)
    }

    /// `Err` when the registry knows the endpoint and has not approved it.
    pub fn check(&self, endpoint_id: &str) -> Result<(), VettingRefusal> {
        let Some(e) = self.entries.get(endpoint_id) else {
            return Ok(());
        };
        let what = match e.state {
            VettingState::Approved => return Ok(()),
            VettingState::Pending => "is pending security vetting",
            VettingState::Suspended => "is suspended",
        };
        let mut text = format!("Endpoint {} {what}", header_safe(endpoint_id));
        if let Some(r) = e
            .reason
            .as_deref()
            .map(header_safe)
            .filter(|r| !r.is_empty())
        {
            if e.state == VettingState::Suspended {
                text.push_str(&format!(": {r}"));
            }
        }
        Err(VettingRefusal {
            state: e.state,
            text,
        })
    }

    /// An authenticated REGISTER of a registry endpoint carried
    /// `user_agent`. A first device is taken as the endpoint's; another
    /// product, firmware or serial on an approved endpoint sends it back to
    /// `pending` here at once (returned: what changed). Either way the
    /// device goes to the observer to be recorded.
    pub fn device_seen(&mut self, endpoint_id: &str, user_agent: &str) -> Vec<&'static str> {
        self.generation += 1;
        let Some(entry) = self.entries.get_mut(endpoint_id) else {
            return Vec::new();
        };
        let seen = parse_user_agent(&bounded(user_agent));
        let mut changed = Vec::new();
        match &entry.device {
            None => entry.device = Some(seen),
            Some(d) => {
                let what = d.differences(&seen);
                if !what.is_empty() {
                    if entry.state == VettingState::Approved {
                        warn!(
                            endpoint = endpoint_id,
                            changed = %what.join(", "),
                            before = ?d,
                            after = ?seen,
                            "device changed: endpoint refused until it is vetted again"
                        );
                        entry.state = VettingState::Pending;
                        entry.reason = Some(format!("device changed ({})", what.join(", ")));
                        changed = what;
                    }
                    entry.device = Some(seen);
                }
            }
        }
        if let Some(tx) = &self.observer {
            let seen = DeviceSeen {
                endpoint_id: endpoint_id.to_string(),
                user_agent: user_agent.to_string(),
            };
            // The registry only misses a last-seen refresh when the queue
            // is full; the gate above already decided.
            if tx.try_send(seen).is_err() {
                debug!(
                    endpoint = endpoint_id,
                    "device observation dropped (queue full)"
                );
            }
        }
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(state: VettingState, ua: Option<&str>) -> VettingGate {
        let mut g = VettingGate::default();
        g.replace(HashMap::from([(
            "1001".to_string(),
            VettingEntry {
                state,
                reason: Some("police \"check\"\r\npending".into()),
                device: ua.map(parse_user_agent),
            },
        )]));
        g
    }

    #[test]
    fn added_entries_never_undo_announced_changes() {
        let mut g = gate(VettingState::Approved, None);
        let older = |state| VettingEntry {
            state,
            reason: None,
            device: None,
        };
        g.add_missing(HashMap::from([
            ("1001".to_string(), older(VettingState::Pending)),
            ("new".to_string(), older(VettingState::Pending)),
        ]));
        assert_eq!(g.check("1001"), Ok(()));
        assert_eq!(g.state("new"), Some(VettingState::Pending));
        assert!(g.check("new").is_err());
    }

    #[test]
    fn unknown_endpoints_pass_and_approved_ones_too() {
        let g = gate(VettingState::Approved, None);
        assert_eq!(g.check("1001"), Ok(()));
        assert_eq!(g.check("1002"), Ok(()));
    }

    #[test]
    fn refusal_text_names_the_state_and_is_header_safe() {
        let e = gate(VettingState::Pending, None).check("1001").unwrap_err();
        assert_eq!(e.text, "Endpoint 1001 is pending security vetting");
        let e = gate(VettingState::Suspended, None)
            .check("1001")
            .unwrap_err();
        assert!(
            e.text.starts_with("Endpoint 1001 is suspended: "),
            "{}",
            e.text
        );
        assert!(!e.text.contains(['"', '\r', '\n']), "{}", e.text);
    }

    #[test]
    fn first_device_is_adopted_and_a_new_firmware_goes_back_to_review() {
        let mut g = gate(VettingState::Approved, None);
        let (tx, mut rx) = mpsc::channel(8);
        g.set_observer(tx);
        let a = "Polycom/6.4.2.1234 PolycomRealPresenceGroup-500/6.4.2";
        assert!(g.device_seen("1001", a).is_empty());
        assert!(g.device_seen("1001", a).is_empty());
        assert_eq!(g.check("1001"), Ok(()));
        let b = "Polycom/6.4.3.9999 PolycomRealPresenceGroup-500/6.4.3";
        assert_eq!(g.device_seen("1001", b), vec!["firmware"]);
        assert_eq!(g.state("1001"), Some(VettingState::Pending));
        // The same new device again is no further change.
        assert!(g.device_seen("1001", b).is_empty());
        assert_eq!(rx.try_recv().unwrap().user_agent, a);
        let mut n = 1;
        while rx.try_recv().is_ok() {
            n += 1;
        }
        assert_eq!(n, 4, "every sighting is recorded");
        g.apply(VettingChange {
            endpoint_id: "1001".into(),
            state: VettingState::Approved,
            reason: None,
        });
        assert!(g.device_seen("1001", b).is_empty());
        assert_eq!(g.check("1001"), Ok(()));
    }
}
