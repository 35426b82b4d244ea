//! What the running gateway keeps in memory from the registry: each
//! endpoint's vetting state and current device, loaded in one query so the
//! SIP engine can decide without touching the database.

use std::collections::HashMap;

use gateway_store::{Structure, UnitRef};
use sqlx::Row;

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
    /// Every registry endpoint's vetting state and current device.
    pub async fn vetting_snapshot(&self) -> Result<HashMap<String, VettingEntry>, AdminError> {
        let rows = sqlx::query(
            "SELECT e.id, e.vetting_state, e.vetting_reason, d.vendor, d.model, d.firmware, d.serial \
             FROM adm_endpoints e LEFT JOIN adm_devices d \
             ON d.endpoint_id = e.id AND d.retired_unix IS NULL",
        )
        .fetch_all(self.store().pool())
        .await?;
        let mut out = HashMap::with_capacity(rows.len());
        for r in rows {
            let id: String = r.try_get("id")?;
            let state: String = r.try_get("vetting_state")?;
            // The schema's CHECK allows only the three states; anything else
            // is treated as not approved rather than trusted.
            let state = VettingState::parse(&state).unwrap_or(VettingState::Pending);
            let vendor: Option<String> = r.try_get("vendor")?;
            let device = match (vendor, r.try_get::<Option<String>, _>("model")?) {
                (Some(vendor), Some(model)) => Some(DeviceInfo {
                    vendor,
                    model,
                    firmware: r.try_get("firmware")?,
                    serial: r.try_get("serial")?,
                }),
                _ => None,
            };
            out.insert(
                id,
                VettingEntry {
                    state,
                    reason: r.try_get("vetting_reason")?,
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
