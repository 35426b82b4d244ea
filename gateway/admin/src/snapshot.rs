//! What the running gateway keeps in memory from the registry: each
//! endpoint's vetting state and current device, loaded in one query so the
//! SIP engine can decide without touching the database.

use std::collections::{HashMap, HashSet};

use gateway_store::{Structure, UnitRef};

use crate::ua::DeviceInfo;
use crate::{Admin, AdminError, VettingState};

/// One endpoint as the engine's vetting gate needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VettingEntry {
    pub state: VettingState,
    pub reason: Option<String>,
    /// The device last seen on the endpoint (`None`: none yet, the next one
    /// is adopted when the endpoint is approved).
    pub device: Option<DeviceInfo>,
}

impl Admin {
    /// Every registry endpoint's vetting state and current device, in one
    /// aggregated read (the runtime reads it at every reload and registry
    /// change; row by row, a city's 100 000 cost seconds).
    pub async fn vetting_snapshot(&self) -> Result<HashMap<String, VettingEntry>, AdminError> {
        let mut conn = self.store().pool().acquire().await?;
        let rows = gateway_store::batch::select_text_rows(
            &mut conn,
            &[
                "e.id",
                "e.vetting_state",
                "e.vetting_reason",
                "d.vendor",
                "d.model",
                "d.firmware",
                "d.serial",
            ],
            "adm_endpoints e LEFT JOIN adm_devices d \
             ON d.endpoint_id = e.id AND d.retired_unix IS NULL",
            "e.id",
        )
        .await?;
        let mut out = HashMap::with_capacity(rows.len());
        for r in rows {
            let mut r = r.into_iter();
            let mut next = || r.next().flatten();
            let id = next().unwrap_or_default();
            // The schema's CHECK allows only the three states; anything else
            // is treated as not approved rather than trusted.
            let state = next()
                .as_deref()
                .and_then(VettingState::parse)
                .unwrap_or(VettingState::Pending);
            let reason = next();
            let device = match (next(), next()) {
                (Some(vendor), Some(model)) => Some(DeviceInfo {
                    vendor,
                    model,
                    firmware: next(),
                    serial: next(),
                }),
                _ => None,
            };
            out.insert(
                id,
                VettingEntry {
                    state,
                    reason,
                    device,
                },
            );
        }
        Ok(out)
    }

    /// The unit structure a dialplan's units belong to: the one in which
    /// more of its `(code, name)` pairs exist (codes alone repeat between
    /// structures with other meanings). `None` when neither is better, e.g.
    /// a dialplan holding only the city, which both structures share.
    pub async fn matching_structure<'a>(
        &self,
        units: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Option<Structure>, AdminError> {
        use unicode_normalization::UnicodeNormalization;
        let mut score = [0usize; 2];
        for (code, name) in units {
            let name: String = name.nfc().collect();
            for (i, s) in [Structure::Y2024, Structure::Y2025].into_iter().enumerate() {
                if let Some(u) = self.store().admin_unit(&UnitRef::new(s, code)).await? {
                    if u.name.nfc().collect::<String>() == name {
                        score[i] += 1;
                    }
                }
            }
        }
        Ok(match score[0].cmp(&score[1]) {
            std::cmp::Ordering::Greater => Some(Structure::Y2024),
            std::cmp::Ordering::Less => Some(Structure::Y2025),
            std::cmp::Ordering::Equal => None,
        })
    }
}

/// The registry's endpoints as the running gateway routes and
/// authenticates them (see `gateway_dialplan::Dialplan::overlay_endpoints`).
#[derive(Debug, Clone, Default)]
pub struct RoutingRegistry {
    pub endpoints: Vec<gateway_dialplan::RegistryEndpoint>,
    /// Rooms that do not register: endpoint id and its fixed address, as
    /// the registry holds it (the engine parses it).
    pub fixed: Vec<(String, String)>,
    /// Dialplan endpoints the registry deleted after adopting them: they
    /// stay out of routing until the dialplan file changes them again.
    pub removed: HashSet<String>,
    /// Why something of the registry cannot be used as it is (credentials
    /// for another realm), one line each.
    pub notes: Vec<String>,
}

impl Admin {
    /// Every registry endpoint with its numbers, aliases, HA1 forms and
    /// fixed address: three aggregated reads whatever their number (a city
    /// has 100 000). Credentials computed for another realm than `realm`
    /// (the one the gateway challenges with) cannot answer its challenges
    /// and are left out, with a note.
    pub async fn routing_registry(&self, realm: &str) -> Result<RoutingRegistry, AdminError> {
        use gateway_dialplan::{Credentials, Protocol, RegistryEndpoint};
        use gateway_store::batch::select_text_rows;
        let mut conn = self.store().pool().acquire().await?;
        let rows = select_text_rows(
            &mut conn,
            &[
                "e.id",
                "e.unit_code",
                "e.display",
                "e.protocol",
                "e.realm",
                "e.ha1_md5",
                "e.ha1_sha256",
                "e.fixed_address",
            ],
            "adm_endpoints e",
            "e.id",
        )
        .await?;
        let mut names: [HashMap<String, Vec<String>>; 2] = Default::default();
        for (k, (table, column)) in [
            ("adm_endpoint_numbers", "number"),
            ("adm_endpoint_aliases", "alias"),
        ]
        .into_iter()
        .enumerate()
        {
            let found = select_text_rows(
                &mut conn,
                &["n.endpoint_id", &format!("n.{column}")],
                &format!("{table} n"),
                "n.endpoint_id, n.position",
            )
            .await?;
            for mut r in found {
                let value = r.pop().flatten().unwrap_or_default();
                let id = r.pop().flatten().unwrap_or_default();
                names[k].entry(id).or_default().push(value);
            }
        }
        let removed = crate::adopt::removed_from_dialplan(&mut conn).await?;
        let mut out = RoutingRegistry {
            endpoints: Vec::with_capacity(rows.len()),
            removed,
            ..RoutingRegistry::default()
        };
        let mut other_realm = 0usize;
        for r in rows {
            let mut r = r.into_iter();
            let mut next = || r.next().flatten();
            let id = next().unwrap_or_default();
            let unit = next().unwrap_or_default();
            let display = next();
            let protocol = match next().as_deref() {
                Some("h323") => Protocol::H323,
                // WebRTC clients sign in over SIP (WebSocket).
                _ => Protocol::Sip,
            };
            let ep_realm = next();
            let (md5, sha) = (next(), next());
            let fixed = next();
            let credentials = match ep_realm {
                Some(r) if r == realm => {
                    Some(Credentials::from_ha1_forms(md5.as_deref(), sha.as_deref()))
                }
                Some(r) if md5.is_some() || sha.is_some() => {
                    other_realm += 1;
                    if other_realm <= 20 {
                        out.notes.push(format!(
                            "endpoint {id}: credentials are for realm {r:?}, the gateway's is {realm:?}: set them again"
                        ));
                    }
                    None
                }
                _ => None,
            };
            if let Some(a) = fixed.filter(|a| !a.trim().is_empty()) {
                out.fixed.push((id.clone(), a));
            }
            out.endpoints.push(RegistryEndpoint {
                numbers: names[0].remove(&id).unwrap_or_default(),
                aliases: names[1].remove(&id).unwrap_or_default(),
                id,
                unit,
                display,
                credentials,
                protocol,
                // The vetting gate decides for registry endpoints, at
                // REGISTER and at every call, from live state.
                vetted: true,
            });
        }
        if other_realm > 20 {
            out.notes.push(format!(
                "{} more endpoints have credentials for another realm",
                other_realm - 20
            ));
        }
        Ok(out)
    }
}
