//! The gatekeeper's view of the dialplan: who may register (an H.323
//! endpoint owning the alias, vetted in the dialplan and not refused by the
//! vetting gate) and who may call (the routing decision).
//!
//! [`RasGatekeeper`] wants a directory and an admission policy it owns, but
//! the dialplan snapshot and the vetting gate belong to the engine and
//! change under it; so both are small values the engine refreshes before
//! every datagram (cheap: an `Arc` and the set of refused H.323 endpoints).

use crate::vetting::VettingGate;
use gateway_dialplan::{Caller, Dialplan, Protocol, RouteOutcome, RouteRequest};
use gateway_h323::gatekeeper::{
    Admission, AdmissionDecision, AdmissionQuery, DirectoryEntry, EndpointDirectory, LocationQuery,
    RasGatekeeper,
};
use gateway_h323::h225::{AdmissionRejectReason, AliasAddress, VendorIdentifier};
use std::collections::HashSet;
use std::sync::Arc;

pub(crate) type Gatekeeper = RasGatekeeper<DialplanDirectory, DialplanAdmission>;

/// Dialplan H.323 endpoints by h323-ID or dialedDigits.
pub(crate) struct DialplanDirectory {
    dialplan: Arc<Dialplan>,
    /// H.323 endpoints the vetting gate refuses right now.
    refused: HashSet<String>,
    /// The vetting generation `refused` was built from (`None`: never).
    built_from: Option<u64>,
}

impl DialplanDirectory {
    pub(crate) fn new(dialplan: Arc<Dialplan>) -> Self {
        DialplanDirectory {
            dialplan,
            refused: HashSet::new(),
            built_from: None,
        }
    }

    /// Called before each RAS message: cheap unless the dialplan or the
    /// vetting gate changed since the last call (rebuilding walks every
    /// dialplan endpoint).
    pub(crate) fn refresh(&mut self, dialplan: &Arc<Dialplan>, vetting: &VettingGate) {
        let same_plan = Arc::ptr_eq(&self.dialplan, dialplan);
        if same_plan && self.built_from == Some(vetting.generation()) {
            return;
        }
        if !same_plan {
            self.dialplan = dialplan.clone();
        }
        self.built_from = Some(vetting.generation());
        self.refused = dialplan
            .endpoints()
            .iter()
            .filter(|e| e.protocol == Protocol::H323 && vetting.check(&e.id).is_err())
            .map(|e| e.id.clone())
            .collect();
    }
}

/// The dialplan endpoint an alias names, if it is an H.323 one.
pub(crate) fn endpoint_for_alias<'d>(
    dialplan: &'d Dialplan,
    alias: &AliasAddress,
) -> Option<&'d gateway_dialplan::Endpoint> {
    match alias {
        AliasAddress::H323Id(id) => dialplan.endpoint_by_h323_id(id),
        AliasAddress::DialedDigits(d) => dialplan.h323_endpoint_by_number(d),
        _ => None,
    }
    .filter(|e| e.protocol == Protocol::H323)
}

impl EndpointDirectory for DialplanDirectory {
    fn lookup(&self, alias: &AliasAddress) -> Option<DirectoryEntry> {
        let e = endpoint_for_alias(&self.dialplan, alias)?;
        Some(DirectoryEntry {
            endpoint_id: e.id.clone(),
            vetted: e.vetted && !self.refused.contains(&e.id),
            password: e.h323_password.clone(),
        })
    }
}

/// ARQs are decided by the same routing function as calls.
pub(crate) struct DialplanAdmission {
    dialplan: Arc<Dialplan>,
}

impl DialplanAdmission {
    pub(crate) fn new(dialplan: Arc<Dialplan>) -> Self {
        DialplanAdmission { dialplan }
    }

    pub(crate) fn refresh(&mut self, dialplan: &Arc<Dialplan>) {
        if !Arc::ptr_eq(&self.dialplan, dialplan) {
            self.dialplan = dialplan.clone();
        }
    }
}

/// The dialled target of an alias list: digits first, then a name.
pub(crate) fn target_of(aliases: &[AliasAddress]) -> Option<String> {
    aliases
        .iter()
        .find_map(|a| match a {
            AliasAddress::DialedDigits(d) => Some(d.clone()),
            _ => None,
        })
        .or_else(|| {
            aliases.iter().find_map(|a| match a {
                AliasAddress::H323Id(s) | AliasAddress::UrlId(s) | AliasAddress::EmailId(s) => {
                    Some(s.clone())
                }
                _ => None,
            })
        })
}

impl Admission for DialplanAdmission {
    fn admit(&mut self, q: &AdmissionQuery<'_>) -> AdmissionDecision {
        let allow = AdmissionDecision::Allow { band_width: None };
        if q.answer_call {
            // A call we offer it: the gateway decided when it placed it.
            return allow;
        }
        let Some(target) = target_of(q.destination) else {
            // Only an address: the Setup names the target, and is routed then.
            return allow;
        };
        let decision = self.dialplan.route(&RouteRequest {
            caller: Caller::Endpoint(q.registration.directory_id.clone()),
            from_user: None,
            target,
            transport_secure: false,
            at_unix_secs: crate::engine::unix_now(),
        });
        match decision.outcome {
            // no route at all: neighbour gatekeepers may know the number
            RouteOutcome::Reject {
                status: 404 | 484 | 604,
                ..
            } => AdmissionDecision::Unknown,
            RouteOutcome::Reject { status, .. } => AdmissionDecision::Reject(match status {
                410 => AdmissionRejectReason::CalledPartyNotRegistered,
                403 => AdmissionRejectReason::SecurityDenial,
                480 => AdmissionRejectReason::CalledPartyNotRegistered,
                486 | 503 => AdmissionRejectReason::ResourceUnavailable,
                _ => AdmissionRejectReason::RequestDenied,
            }),
            _ => allow,
        }
    }

    /// A neighbour zone's call is placed here when the dialplan routes it,
    /// as a caller known only by address, to one of ours (an endpoint or a
    /// meeting); trunk routes are not offered, so the gateway is no
    /// transit between neighbours and carriers.
    fn locate(&mut self, q: &LocationQuery<'_>) -> bool {
        let Some(target) = target_of(q.destination) else {
            return false;
        };
        let decision = self.dialplan.route(&RouteRequest {
            caller: Caller::Anonymous {
                source: q.from.ip(),
            },
            from_user: None,
            target,
            transport_secure: false,
            at_unix_secs: crate::engine::unix_now(),
        });
        matches!(
            decision.outcome,
            RouteOutcome::Endpoint { .. } | RouteOutcome::Meeting { .. }
        )
    }
}

/// The endpointVendor of an RRQ as a User-Agent-like string for the device
/// inventory: `product/version (t35 country/extension/manufacturer)`.
pub(crate) fn vendor_string(v: &VendorIdentifier) -> String {
    let text = |b: &Option<Vec<u8>>| -> String {
        b.as_deref()
            .map(|b| {
                String::from_utf8_lossy(b)
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(64)
                    .collect::<String>()
                    .trim()
                    .to_string()
            })
            .unwrap_or_default()
    };
    let product = text(&v.product_id);
    let version = text(&v.version_id);
    let vendor = format!(
        "t35 {}/{}/{}",
        v.vendor.t35_country_code, v.vendor.t35_extension, v.vendor.manufacturer_code
    );
    match (product.is_empty(), version.is_empty()) {
        (true, _) => format!("H.323 device ({vendor})"),
        (false, true) => format!("{} ({vendor})", product.replace(' ', "-")),
        (false, false) => format!(
            "{}/{} ({vendor})",
            product.replace(' ', "-"),
            version.replace(' ', "-")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gateway_h323::h225::H221NonStandard;

    fn plan() -> Arc<Dialplan> {
        Arc::new(Dialplan::parse(gateway_dialplan::SAMPLE_DIALPLAN, "loopback.toml").unwrap())
    }

    #[test]
    fn directory_knows_h323_aliases_only() {
        let dp = plan();
        let mut d = DialplanDirectory::new(dp.clone());
        d.refresh(&dp, &VettingGate::default());
        let e = d
            .lookup(&AliasAddress::H323Id("room-2001".into()))
            .expect("known");
        assert_eq!((e.endpoint_id.as_str(), e.vetted), ("2001", true));
        assert!(d
            .lookup(&AliasAddress::DialedDigits("2001".into()))
            .is_some());
        // a SIP endpoint's number is not an H.323 alias
        assert!(d
            .lookup(&AliasAddress::DialedDigits("1001".into()))
            .is_none());
        assert!(d.lookup(&AliasAddress::H323Id("nobody".into())).is_none());
    }

    #[test]
    fn vetting_gate_refusal_unvets_the_entry() {
        let dp = plan();
        let mut gate = VettingGate::default();
        gate.apply(gateway_admin::VettingChange {
            endpoint_id: "2001".into(),
            state: gateway_admin::VettingState::Suspended,
            reason: Some("test".into()),
        });
        let mut d = DialplanDirectory::new(dp.clone());
        d.refresh(&dp, &gate);
        let e = d.lookup(&AliasAddress::H323Id("room-2001".into())).unwrap();
        assert!(!e.vetted);
    }

    #[test]
    fn a_vetting_change_after_a_refresh_is_seen_at_the_next() {
        let dp = plan();
        let mut gate = VettingGate::default();
        let mut d = DialplanDirectory::new(dp.clone());
        d.refresh(&dp, &gate);
        d.refresh(&dp, &gate);
        let room = AliasAddress::H323Id("room-2001".into());
        assert!(d.lookup(&room).unwrap().vetted);
        gate.apply(gateway_admin::VettingChange {
            endpoint_id: "2001".into(),
            state: gateway_admin::VettingState::Suspended,
            reason: None,
        });
        d.refresh(&dp, &gate);
        assert!(!d.lookup(&room).unwrap().vetted);
        gate.apply(gateway_admin::VettingChange {
            endpoint_id: "2001".into(),
            state: gateway_admin::VettingState::Approved,
            reason: None,
        });
        d.refresh(&dp, &gate);
        assert!(d.lookup(&room).unwrap().vetted);
    }

    #[test]
    fn vendor_string_reads_like_a_user_agent() {
        let v = VendorIdentifier {
            vendor: H221NonStandard {
                t35_country_code: 181,
                t35_extension: 0,
                manufacturer_code: 21324,
            },
            product_id: Some(b"Room Sim\0".to_vec()),
            version_id: Some(b"1.2".to_vec()),
            enterprise_number: None,
        };
        assert_eq!(vendor_string(&v), "Room-Sim/1.2 (t35 181/0/21324)");
    }
}
