//! Adoption of the imported dialplan's endpoints into the registry at
//! start-up and on every reload. A city has 100 000 of them, so the work is
//! set-based: one query finds the endpoints the registry does not know yet,
//! two more their numbers and aliases with whichever registry endpoint
//! already holds each (each read as one aggregated value, not row by row),
//! and everything adopted is written with multi-row inserts, its audit rows
//! included, in one transaction. A second run finds nothing new and writes
//! nothing.

use std::collections::{HashMap, HashSet};

use gateway_store::batch::{delete_keys, insert_rows, select_text_rows, update_rows, Val};
use gateway_store::units::next_id;
use gateway_store::{Structure, UnitRef};
use serde::Serialize;
use sqlx::{AnyConnection, Row};

use crate::model::*;
use crate::ops::{credential_view, credentials, SYSTEM_ACTOR, SYSTEM_ROLE};
use crate::{Admin, AdminError};

/// What [`Admin::adopt_dialplan_endpoints`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DialplanAdoption {
    pub added: Vec<String>,
    /// Already in the registry (left as they are).
    pub already: usize,
    /// Not brought in, with the reason (unknown unit, taken number).
    pub skipped: Vec<(String, String)>,
    /// Registry endpoints the dialplan file changed since they were last
    /// brought in: the file's unit, display, credentials, numbers and
    /// aliases replaced the registry's.
    pub updated: Vec<String>,
    /// Dialplan endpoints the registry deleted, left out (until the file
    /// changes them).
    pub deleted_in_registry: usize,
}

/// A dialplan endpoint, as the read model holds it, with what the registry
/// knows of it.
struct Candidate {
    id: String,
    unit_code: String,
    display: Option<String>,
    vetted: bool,
    credential_kind: String,
    credential: String,
    in_registry: bool,
    /// What the file said when the endpoint was last brought in.
    synced: Option<String>,
}

/// The dialplan's endpoints, in file order.
async fn candidates(conn: &mut AnyConnection) -> Result<Vec<Candidate>, AdminError> {
    let rows = select_text_rows(
        conn,
        &[
            "e.id",
            "e.unit_code",
            "e.display",
            "e.vetted",
            "e.credential_kind",
            "e.credential",
            "(SELECT a.id FROM adm_endpoints a WHERE a.id = e.id)",
            "s.fingerprint",
        ],
        "endpoints e LEFT JOIN adm_endpoint_sources s ON s.endpoint_id = e.id",
        "e.position",
    )
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let mut r = r.into_iter();
            let mut next = || r.next().flatten();
            Candidate {
                id: next().unwrap_or_default(),
                unit_code: next().unwrap_or_default(),
                display: next(),
                vetted: next().is_some_and(|v| v != "0"),
                credential_kind: next().unwrap_or_default(),
                credential: next().unwrap_or_default(),
                in_registry: next().is_some(),
                synced: next(),
            }
        })
        .collect())
}

/// Every dialplan endpoint's numbers (or aliases), in order, each with the
/// registry endpoint that holds it, if any.
async fn addresses(
    conn: &mut AnyConnection,
    table: &str,
    column: &str,
    mine: &str,
) -> Result<HashMap<String, Vec<(String, Option<String>)>>, AdminError> {
    let rows = select_text_rows(
        conn,
        &["n.endpoint_id", &format!("n.{column}"), "m.endpoint_id"],
        &format!("{table} n LEFT JOIN {mine} m ON m.{column} = n.{column}"),
        "n.endpoint_id, n.position",
    )
    .await?;
    let mut out: HashMap<String, Vec<(String, Option<String>)>> = HashMap::new();
    for mut r in rows {
        let holder = r.pop().flatten();
        let value = r.pop().flatten().unwrap_or_default();
        let id = r.pop().flatten().unwrap_or_default();
        out.entry(id).or_default().push((value, holder));
    }
    Ok(out)
}

/// What the file says of an endpoint, as one value: when it changes, the
/// file changed the endpoint.
fn fingerprint(
    c: &Candidate,
    realm: &str,
    numbers: &[(String, Option<String>)],
    aliases: &[(String, Option<String>)],
) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for part in [
        c.unit_code.as_str(),
        c.display.as_deref().unwrap_or("\u{0}none"),
        c.credential_kind.as_str(),
        c.credential.as_str(),
        realm,
    ] {
        h.update(part.len().to_le_bytes());
        h.update(part.as_bytes());
    }
    for list in [numbers, aliases] {
        h.update(list.len().to_le_bytes());
        for (v, _) in list {
            h.update(v.len().to_le_bytes());
            h.update(v.as_bytes());
        }
    }
    hex::encode(h.finalize())
}

/// The first of `values` already taken, by another registry endpoint or by
/// an endpoint brought in earlier in this run.
fn first_taken<'a>(
    id: &str,
    values: &'a [(String, Option<String>)],
    taken: &HashSet<String>,
) -> Option<&'a str> {
    values
        .iter()
        .find(|(v, holder)| holder.as_deref().is_some_and(|h| h != id) || taken.contains(v))
        .map(|(v, _)| v.as_str())
}

/// Dialplan endpoints the registry adopted and then deleted.
pub(crate) async fn removed_from_dialplan(
    conn: &mut AnyConnection,
) -> Result<HashSet<String>, AdminError> {
    let rows = select_text_rows(
        conn,
        &["s.endpoint_id"],
        "adm_endpoint_sources s WHERE NOT EXISTS \
         (SELECT 1 FROM adm_endpoints a WHERE a.id = s.endpoint_id)",
        "s.endpoint_id",
    )
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .collect())
}

impl Admin {
    /// Brings the endpoints of the imported dialplan (the store's read
    /// model) into the registry, their units taken from `structure`:
    ///
    /// - new ones come with their numbers, aliases and credentials (as HA1
    ///   forms), `approved` when the dialplan marks them vetted (they adopt
    ///   the first device they register with) and `pending` otherwise;
    /// - ones already there keep the registry's data (an edit made through
    ///   the administration wins) unless the file changed them since they
    ///   were last brought in: then the file's unit, display, credentials,
    ///   numbers and aliases replace the registry's (vetting stays);
    /// - ones the registry deleted stay deleted until the file changes them.
    ///
    /// Audited as the gateway's, one audit row per endpoint written. An
    /// endpoint whose unit the registry lacks, or whose number or alias
    /// another endpoint holds, is skipped with the reason (and tried again
    /// next time).
    pub async fn adopt_dialplan_endpoints(
        &self,
        structure: Structure,
    ) -> Result<DialplanAdoption, AdminError> {
        let at_ms = self.now_ms();
        let now = at_ms.div_euclid(1000);
        let mut tx = self.store().begin_admin().await?;
        let realm: Option<String> =
            sqlx::query("SELECT realm FROM dialplan_versions ORDER BY version DESC LIMIT 1")
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| r.try_get("realm"))
                .transpose()?;
        let Some(realm) = realm else {
            return Ok(DialplanAdoption::default());
        };
        let candidates = candidates(&mut tx).await?;
        let mut report = DialplanAdoption::default();
        if candidates.is_empty() {
            return Ok(report);
        }

        let units: HashSet<String> = sqlx::query("SELECT code FROM adm_units WHERE structure = $1")
            .bind(structure.as_str())
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        let numbers = addresses(
            &mut tx,
            "endpoint_numbers",
            "number",
            "adm_endpoint_numbers",
        )
        .await?;
        let aliases =
            addresses(&mut tx, "endpoint_aliases", "alias", "adm_endpoint_aliases").await?;
        let none: Vec<(String, Option<String>)> = Vec::new();
        let mut taken_numbers = HashSet::new();
        let mut taken_aliases = HashSet::new();

        let mut endpoint_rows = Vec::new();
        let mut update_rows_ = Vec::new();
        let mut number_rows = Vec::new();
        let mut alias_rows = Vec::new();
        let mut audit_rows = Vec::new();
        // Endpoints whose numbers, aliases and file fingerprint are rewritten.
        let mut rewritten: HashSet<String> = HashSet::new();
        let mut source_rows = Vec::new();
        let mut audit_id = next_id(&mut tx, "adm_audit").await?;
        for c in candidates {
            let its_numbers = numbers.get(&c.id).unwrap_or(&none);
            let its_aliases = aliases.get(&c.id).unwrap_or(&none);
            let print = fingerprint(&c, &realm, its_numbers, its_aliases);
            let unchanged = c.synced.as_deref() == Some(print.as_str());
            match (c.in_registry, &c.synced) {
                (true, _) if unchanged => {
                    report.already += 1;
                    continue;
                }
                (true, None) => {
                    // Adopted before the file's state was remembered: the
                    // registry's data stands, the file's is the baseline.
                    report.already += 1;
                    source_rows.push(vec![Val::from(c.id), Val::from(print), Val::from(now)]);
                    continue;
                }
                (false, Some(_)) if unchanged => {
                    report.deleted_in_registry += 1;
                    continue;
                }
                _ => {}
            }
            let id = c.id;
            let unit = UnitRef::new(structure, c.unit_code);
            if !units.contains(&unit.code) {
                report
                    .skipped
                    .push((id, format!("unit {unit} is not in the registry")));
                continue;
            }
            if let Some(v) = first_taken(&id, its_numbers, &taken_numbers) {
                report
                    .skipped
                    .push((id, format!("number {v} is already in use")));
                continue;
            }
            if let Some(v) = first_taken(&id, its_aliases, &taken_aliases) {
                report
                    .skipped
                    .push((id, format!("alias {v} is already in use")));
                continue;
            }
            let (kind, secret) = (c.credential_kind, c.credential);
            let mut input = CredentialInput {
                realm: Some(realm.clone()),
                ..Default::default()
            };
            match kind.as_str() {
                "password" => input.password = Some(secret),
                "ha1_md5" => input.ha1_md5 = Some(secret),
                _ => input.ha1_sha256 = Some(secret),
            }
            let (realm, md5, sha) = match credentials(&id, &input, &realm) {
                Ok(c) => c,
                Err(e) => {
                    report.skipped.push((id, e.to_string()));
                    continue;
                }
            };
            let (state, reason) = if c.vetted {
                (VettingState::Approved, "vetted in the dialplan")
            } else {
                (
                    VettingState::Pending,
                    "imported from the dialplan: not yet vetted",
                )
            };
            let display = c.display;
            let update = c.in_registry;
            if c.synced.is_some() || c.in_registry {
                rewritten.insert(id.clone());
            }
            source_rows.push(vec![
                Val::from(id.as_str()),
                Val::from(print),
                Val::from(now),
            ]);

            if update {
                // The audit row's `after` for an update is what the file
                // changed; vetting, contacts and devices are the registry's.
                let after = serde_json::json!({
                    "unit": unit,
                    "display": display,
                    "numbers": its_numbers.iter().map(|(v, _)| v).collect::<Vec<_>>(),
                    "aliases": its_aliases.iter().map(|(v, _)| v).collect::<Vec<_>>(),
                    "credentials": credential_view(realm.clone(), md5.as_deref(), sha.as_deref()),
                });
                audit_rows.push(vec![
                    Val::from(audit_id),
                    Val::from(at_ms),
                    Val::from(SYSTEM_ACTOR),
                    Val::from(SYSTEM_ROLE),
                    Val::from("endpoint.import_update"),
                    Val::from("endpoint"),
                    Val::from(id.as_str()),
                    Val::from(structure.as_str()),
                    Val::from(unit.code.as_str()),
                    Val::Text(None),
                    Val::from(after.to_string()),
                ]);
                audit_id += 1;
                update_rows_.push(vec![
                    Val::from(id.as_str()),
                    Val::from(structure.as_str()),
                    Val::from(unit.code.as_str()),
                    Val::from(display),
                    Val::from(realm),
                    Val::from(md5),
                    Val::from(sha),
                    Val::from(now),
                ]);
            } else {
                // What `get_endpoint` answers for it from now on: the audit
                // row's `after`.
                let view = EndpointView {
                    id: id.clone(),
                    unit: unit.clone(),
                    display: display.clone(),
                    protocol: Protocol::Sip,
                    numbers: its_numbers.iter().map(|(v, _)| v.clone()).collect(),
                    aliases: its_aliases.iter().map(|(v, _)| v.clone()).collect(),
                    credentials: Some(credential_view(
                        realm.clone(),
                        md5.as_deref(),
                        sha.as_deref(),
                    )),
                    fixed_address: None,
                    vetting: VettingView {
                        state,
                        reason: Some(reason.to_string()),
                        by: Some(SYSTEM_ACTOR.to_string()),
                        at_unix: now,
                    },
                    contacts: ContactsView::default(),
                    device: None,
                    created_at_unix: now,
                    updated_at_unix: now,
                    contact_history: None,
                    device_history: None,
                    device_events: None,
                };
                audit_rows.push(vec![
                    Val::from(audit_id),
                    Val::from(at_ms),
                    Val::from(SYSTEM_ACTOR),
                    Val::from(SYSTEM_ROLE),
                    Val::from("endpoint.import"),
                    Val::from("endpoint"),
                    Val::from(id.as_str()),
                    Val::from(structure.as_str()),
                    Val::from(unit.code.as_str()),
                    Val::Text(None),
                    Val::from(serde_json::to_string(&view).unwrap_or_else(|_| "null".into())),
                ]);
                audit_id += 1;
                endpoint_rows.push(vec![
                    Val::from(id.as_str()),
                    Val::from(structure.as_str()),
                    Val::from(unit.code),
                    Val::from(display),
                    Val::from("sip"),
                    Val::from(realm),
                    Val::from(md5),
                    Val::from(sha),
                    Val::Text(None),
                    Val::from(state.as_str()),
                    Val::from(reason),
                    Val::from(SYSTEM_ACTOR),
                    Val::from(now),
                    Val::from(now),
                    Val::from(now),
                ]);
            }
            for (rows, values, taken) in [
                (&mut number_rows, its_numbers, &mut taken_numbers),
                (&mut alias_rows, its_aliases, &mut taken_aliases),
            ] {
                for (pos, (v, _)) in values.iter().enumerate() {
                    rows.push(vec![
                        Val::from(v.as_str()),
                        Val::from(id.as_str()),
                        Val::from(pos as i64),
                    ]);
                    taken.insert(v.clone());
                }
            }
            if update {
                report.updated.push(id);
            } else {
                report.added.push(id);
            }
        }

        let rewritten: Vec<Vec<Val>> = rewritten
            .into_iter()
            .map(|id| vec![Val::from(id)])
            .collect();
        for table in ["adm_endpoint_numbers", "adm_endpoint_aliases"] {
            // Only the updated endpoints hold rows there; a deleted one
            // took its own with it.
            delete_keys(&mut tx, table, &["endpoint_id"], &rewritten).await?;
        }
        delete_keys(
            &mut tx,
            "adm_endpoint_sources",
            &["endpoint_id"],
            &rewritten,
        )
        .await?;
        update_rows(
            &mut tx,
            "adm_endpoints",
            &[
                "id",
                "unit_structure",
                "unit_code",
                "display",
                "realm",
                "ha1_md5",
                "ha1_sha256",
                "updated_at_unix",
            ],
            1,
            &update_rows_,
        )
        .await?;
        insert_rows(
            &mut tx,
            "adm_endpoints",
            &[
                "id",
                "unit_structure",
                "unit_code",
                "display",
                "protocol",
                "realm",
                "ha1_md5",
                "ha1_sha256",
                "fixed_address",
                "vetting_state",
                "vetting_reason",
                "vetting_by",
                "vetting_at_unix",
                "created_at_unix",
                "updated_at_unix",
            ],
            &endpoint_rows,
        )
        .await?;
        insert_rows(
            &mut tx,
            "adm_endpoint_numbers",
            &["number", "endpoint_id", "position"],
            &number_rows,
        )
        .await?;
        insert_rows(
            &mut tx,
            "adm_endpoint_aliases",
            &["alias", "endpoint_id", "position"],
            &alias_rows,
        )
        .await?;
        insert_rows(
            &mut tx,
            "adm_endpoint_sources",
            &["endpoint_id", "fingerprint", "synced_at_unix"],
            &source_rows,
        )
        .await?;
        insert_rows(
            &mut tx,
            "adm_audit",
            &[
                "id",
                "at_ms",
                "actor",
                "actor_role",
                "action",
                "object_kind",
                "object_id",
                "unit_structure",
                "unit_code",
                "before_json",
                "after_json",
            ],
            &audit_rows,
        )
        .await?;
        tx.commit().await?;
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    //! Adoption of a few thousand endpoints on a fresh SQLite file and, when
    //! `GATEWAY_TEST_POSTGRES_URL` names a server (`gateway/store/tests/pg.sh`),
    //! on a fresh PostgreSQL database.

    use std::fmt::Write;
    use std::sync::atomic::{AtomicU32, Ordering};

    use gateway_dialplan::Dialplan;
    use gateway_store::Store;
    use sqlx::Connection;

    use super::*;
    use crate::AdminConfig;

    static NEXT: AtomicU32 = AtomicU32::new(0);

    fn unique() -> String {
        format!(
            "{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// Wards of the 2025 structure (in the shipped unit file), and one that
    /// is not.
    const WARDS: [&str; 4] = ["00070", "00073", "00004", "00008"];
    const UNKNOWN: &str = "99999";
    const N: usize = 3000;

    /// `N` endpoints over `WARDS` (every 100th in `UNKNOWN`), each with a
    /// number and an alias, every third vetted, in varied credential forms;
    /// `extra` endpoints appended as they are.
    fn plan(extra: &str) -> String {
        let mut t = String::from(
            "[gateway]\nrealm = \"adopt.test\"\n\n[[unit]]\ncode = \"01\"\nname = \"Hà Nội\"\nkind = \"city\"\n",
        );
        for w in WARDS.iter().chain([&UNKNOWN]) {
            let _ = write!(
                t,
                "\n[[unit]]\ncode = \"{w}\"\nname = \"Phường {w}\"\nkind = \"ward\"\nparent = \"01\"\n"
            );
        }
        for i in 0..N {
            let unit = if i % 100 == 99 {
                UNKNOWN
            } else {
                WARDS[i % WARDS.len()]
            };
            let credential = match i % 3 {
                0 => format!("password = \"pw-{i}\""),
                1 => format!("ha1_md5 = \"{:032x}\"", i),
                _ => format!("ha1_sha256 = \"{:064x}\"", i),
            };
            let _ = write!(
                t,
                "\n[[endpoint]]\nid = \"e-{i}\"\nunit = \"{unit}\"\n{credential}\ndisplay = \"Phòng {i}\"\n\
                 numbers = [\"{}\"]\naliases = [\"room-{i}\"]\nvetted = {}\n",
                700_000 + i,
                i % 3 == 0
            );
        }
        t.push_str(extra);
        t
    }

    async fn count(store: &Store, sql: &str) -> i64 {
        sqlx::query(sql)
            .fetch_one(store.pool())
            .await
            .unwrap()
            .try_get(0)
            .unwrap()
    }

    async fn import(store: &Store, text: &str) {
        let dp = Dialplan::parse(text, "adopt.toml").expect("test dialplan parses");
        store
            .import_dialplan(&dp, text, "adopt.toml")
            .await
            .unwrap();
    }

    async fn many_endpoints_are_adopted_once(url: &str) {
        let store = Store::connect(url).await.unwrap();
        let admin = Admin::new(store.clone(), AdminConfig::default());
        admin.import_city_units().await.unwrap();
        import(&store, &plan("")).await;

        let report = admin
            .adopt_dialplan_endpoints(Structure::Y2025)
            .await
            .unwrap();
        let unknown: Vec<String> = (0..N)
            .filter(|i| i % 100 == 99)
            .map(|i| format!("e-{i}"))
            .collect();
        let adopted: Vec<String> = (0..N)
            .filter(|i| i % 100 != 99)
            .map(|i| format!("e-{i}"))
            .collect();
        assert_eq!(report.added, adopted, "in dialplan order");
        assert_eq!(report.already, 0);
        assert_eq!(
            report.skipped.iter().map(|s| &s.0).collect::<Vec<_>>(),
            unknown.iter().collect::<Vec<_>>()
        );
        assert!(
            report.skipped[0].1.contains("2025/99999"),
            "{:?}",
            report.skipped[0]
        );
        let n = adopted.len() as i64;
        assert_eq!(count(&store, "SELECT COUNT(*) FROM adm_endpoints").await, n);
        assert_eq!(
            count(&store, "SELECT COUNT(*) FROM adm_endpoint_numbers").await,
            n
        );
        assert_eq!(
            count(&store, "SELECT COUNT(*) FROM adm_endpoint_aliases").await,
            n
        );
        assert_eq!(
            count(
                &store,
                "SELECT COUNT(*) FROM adm_audit WHERE action = 'endpoint.import'"
            )
            .await,
            n
        );
        assert_eq!(
            count(&store, "SELECT COUNT(DISTINCT id) FROM adm_audit").await,
            n,
            "audit ids are distinct"
        );
        let vetted = (0..N).filter(|i| i % 100 != 99 && i % 3 == 0).count() as i64;
        assert_eq!(
            count(
                &store,
                "SELECT COUNT(*) FROM adm_endpoints WHERE vetting_state = 'approved'"
            )
            .await,
            vetted
        );
        // Units in the structure asked for, spread as the dialplan has them.
        for (k, w) in WARDS.iter().enumerate() {
            let want = (0..N)
                .filter(|i| i % 100 != 99 && i % WARDS.len() == k)
                .count() as i64;
            let sql = format!(
                "SELECT COUNT(*) FROM adm_endpoints WHERE unit_structure = '2025' AND unit_code = '{w}'"
            );
            assert_eq!(count(&store, &sql).await, want, "{w}");
        }

        // Each audit row's `after` is what the registry answers for the
        // endpoint; the password became HA1 forms in the dialplan's realm.
        let city = Actor {
            user: "city".into(),
            role: Role::CityAdmin,
            unit_scope: None,
        };
        for id in ["e-0", "e-1", "e-2", "e-2998"] {
            let mut view = admin.get_endpoint(&city, id).await.unwrap();
            view.contact_history = None;
            view.device_history = None;
            view.device_events = None;
            let after: String = sqlx::query(
                "SELECT after_json FROM adm_audit WHERE object_kind = 'endpoint' AND object_id = $1",
            )
            .bind(id)
            .fetch_one(store.pool())
            .await
            .unwrap()
            .try_get(0)
            .unwrap();
            let after: serde_json::Value = serde_json::from_str(&after).unwrap();
            assert_eq!(after, serde_json::to_value(&view).unwrap(), "{id}");
            assert_eq!(
                view.numbers,
                [format!("{}", 700_000 + id[2..].parse::<usize>().unwrap())]
            );
        }
        let md5: String = sqlx::query("SELECT ha1_md5 FROM adm_endpoints WHERE id = 'e-0'")
            .fetch_one(store.pool())
            .await
            .unwrap()
            .try_get(0)
            .unwrap();
        use sha2::Digest as _;
        assert_eq!(md5, hex::encode(md5::Md5::digest(b"e-0:adopt.test:pw-0")));

        // Again: nothing new, nothing written.
        let again = admin
            .adopt_dialplan_endpoints(Structure::Y2025)
            .await
            .unwrap();
        assert!(again.added.is_empty());
        assert_eq!(again.already, adopted.len());
        assert_eq!(again.skipped.len(), unknown.len());
        assert_eq!(count(&store, "SELECT COUNT(*) FROM adm_endpoints").await, n);
        assert_eq!(count(&store, "SELECT COUNT(*) FROM adm_audit").await, n);

        // Edits through the administration win over the unchanged file: a
        // new number stays, a deleted endpoint is not brought back.
        let patch: EndpointPatch =
            serde_json::from_value(serde_json::json!({"numbers": ["555007"]})).unwrap();
        admin.update_endpoint(&city, "e-7", patch).await.unwrap();
        admin.delete_endpoint(&city, "e-8").await.unwrap();
        let edited = admin
            .adopt_dialplan_endpoints(Structure::Y2025)
            .await
            .unwrap();
        assert!(
            edited.added.is_empty() && edited.updated.is_empty(),
            "{edited:?}"
        );
        assert_eq!(edited.deleted_in_registry, 1);
        assert_eq!(
            admin.get_endpoint(&city, "e-7").await.unwrap().numbers,
            ["555007"]
        );
        assert!(admin.get_endpoint(&city, "e-8").await.is_err());

        // A new version: e-5, e-6 and e-7 changed in the file (their file
        // state replaces the registry's), e-8 did not (it stays deleted);
        // one new endpoint wants the number e-5 gives up, one the alias e-6
        // gives up (both still held when this run reads them), one is free.
        let extra = "\n[[endpoint]]\nid = \"x-0\"\nunit = \"00070\"\npassword = \"p\"\nnumbers = [\"700005\"]\n\
                     \n[[endpoint]]\nid = \"x-1\"\nunit = \"00070\"\npassword = \"p\"\naliases = [\"room-6\"]\n\
                     \n[[endpoint]]\nid = \"x-2\"\nunit = \"00073\"\npassword = \"p\"\nnumbers = [\"800000\"]\n";
        let text = plan(extra)
            .replace(
                "numbers = [\"700005\"]\naliases = [\"room-5\"]",
                "numbers = [\"799999\"]\naliases = [\"room-5\"]",
            )
            .replace(
                "aliases = [\"room-6\"]\nvetted",
                "aliases = [\"room-6b\"]\nvetted",
            )
            .replace(
                "numbers = [\"700007\"]\naliases = [\"room-7\"]",
                "numbers = [\"777007\"]\naliases = [\"room-7\"]",
            );
        import(&store, &text).await;
        let third = admin
            .adopt_dialplan_endpoints(Structure::Y2025)
            .await
            .unwrap();
        assert_eq!(third.added, ["x-2"]);
        assert_eq!(third.updated, ["e-5", "e-6", "e-7"]);
        assert_eq!(third.already, adopted.len() - 4);
        assert_eq!(third.deleted_in_registry, 1);
        let why: HashMap<&str, &str> = third
            .skipped
            .iter()
            .map(|(id, why)| (id.as_str(), why.as_str()))
            .collect();
        assert_eq!(why.get("x-0"), Some(&"number 700005 is already in use"));
        assert_eq!(why.get("x-1"), Some(&"alias room-6 is already in use"));
        assert_eq!(
            admin.get_endpoint(&city, "e-7").await.unwrap().numbers,
            ["777007"]
        );
        assert_eq!(
            admin.get_endpoint(&city, "e-5").await.unwrap().numbers,
            ["799999"]
        );
        assert_eq!(
            admin.get_endpoint(&city, "e-6").await.unwrap().aliases,
            ["room-6b"]
        );
        assert!(admin.get_endpoint(&city, "e-8").await.is_err());
        assert_eq!(count(&store, "SELECT COUNT(*) FROM adm_endpoints").await, n);
        assert_eq!(
            count(
                &store,
                "SELECT COUNT(*) FROM adm_audit WHERE action = 'endpoint.import_update'"
            )
            .await,
            3
        );
        // The next run finds the number and alias free.
        let fourth = admin
            .adopt_dialplan_endpoints(Structure::Y2025)
            .await
            .unwrap();
        assert_eq!(fourth.added, ["x-0", "x-1"]);
        assert!(fourth.updated.is_empty(), "{fourth:?}");
        assert_eq!(
            count(&store, "SELECT COUNT(*) FROM adm_endpoints").await,
            n + 2
        );
        store.close().await;
    }

    #[tokio::test]
    async fn many_endpoints_are_adopted_once_sqlite() {
        let dir = std::env::temp_dir().join(format!("gateway-adopt-test-{}", unique()));
        many_endpoints_are_adopted_once(&format!("sqlite://{}", dir.join("a.db").display())).await;
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn many_endpoints_are_adopted_once_postgres() {
        let Ok(base) = std::env::var("GATEWAY_TEST_POSTGRES_URL") else {
            eprintln!("skipped: GATEWAY_TEST_POSTGRES_URL is not set");
            return;
        };
        sqlx::any::install_default_drivers();
        let name = format!("gw_adopt_{}", unique());
        let mut conn = sqlx::AnyConnection::connect(&base).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.ok();
        // The database's name replaces the path of the server's URL.
        let (head, query) = base.split_once('?').unwrap_or((base.as_str(), ""));
        let host_end = head
            .find("://")
            .and_then(|i| head[i + 3..].find('/').map(|j| i + 3 + j))
            .unwrap_or(head.len());
        let query = if query.is_empty() {
            String::new()
        } else {
            format!("?{query}")
        };
        many_endpoints_are_adopted_once(&format!("{}/{name}{query}", &head[..host_end])).await;
    }
}
