//! The administrative operations. Each takes the acting user and checks it
//! against the object's unit before anything else: an object outside the
//! actor's subtree does not exist for it (404), one inside that the role may
//! not change is refused (403). Every change runs in one transaction with
//! the audit row that records it.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine;
use gateway_store::units::{self, next_id, SUBTREE_CTE};
use gateway_store::{AdminUnit, Store, Structure, UnitRef};
use md5::Md5;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Row};

use crate::model::*;
use crate::ua::{bounded, parse_user_agent, DeviceInfo};
use crate::AdminError;

/// Unix time in milliseconds.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

#[derive(Debug, Clone)]
pub struct AdminConfig {
    /// Digest realm of credentials set from a password.
    pub realm: String,
    pub token_ttl_secs: i64,
    /// The structure a bare unit code (`--unit 00070`) refers to.
    pub default_structure: Structure,
}

impl Default for AdminConfig {
    fn default() -> AdminConfig {
        AdminConfig {
            realm: "gateway.local".into(),
            token_ttl_secs: 8 * 3600,
            default_structure: Structure::Y2025,
        }
    }
}

/// The administration service: the store, the clock and the settings every
/// operation needs. Cheap to clone; it is the REST router's state.
#[derive(Clone)]
pub struct Admin {
    store: Store,
    clock: Clock,
    config: AdminConfig,
    /// Committed vetting changes, for the engine's in-memory snapshot.
    changes: tokio::sync::broadcast::Sender<VettingChange>,
    /// Committed dialplan versions, for the running gateway's reload.
    pub(crate) dialplan_changes: tokio::sync::broadcast::Sender<i64>,
    /// Ids of endpoints created, changed or deleted, for the running
    /// gateway's routing dialplan (rebuilt from the registry).
    endpoint_changes: tokio::sync::broadcast::Sender<String>,
    pub(crate) current: Arc<crate::dialplan::CurrentDialplan>,
}

/// A vetting state that changed in the database (after the commit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VettingChange {
    pub endpoint_id: String,
    pub state: VettingState,
    pub reason: Option<String>,
}

/// The actor name and role recorded for changes the gateway makes itself.
pub const SYSTEM_ACTOR: &str = "gateway";
pub(crate) const SYSTEM_ROLE: &str = "system";

const MAX_NUMBERS: usize = 64;
const MAX_PASSWORD: usize = 1024;

fn system_clock() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn root_binds(root: Option<&UnitRef>) -> (&'static str, String) {
    match root {
        Some(r) => (r.structure.as_str(), r.code.clone()),
        None => ("", String::new()),
    }
}

fn json<T: Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn write_audit(
    conn: &mut AnyConnection,
    at_ms: i64,
    actor: &str,
    role: &str,
    action: &str,
    object_kind: &str,
    object_id: &str,
    unit: Option<&UnitRef>,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) -> Result<(), AdminError> {
    let id = next_id(conn, "adm_audit").await?;
    sqlx::query(
        "INSERT INTO adm_audit (id, at_ms, actor, actor_role, action, object_kind, object_id, \
         unit_structure, unit_code, before_json, after_json) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(id)
    .bind(at_ms)
    .bind(actor)
    .bind(role)
    .bind(action)
    .bind(object_kind)
    .bind(object_id)
    .bind(unit.map(|u| u.structure.as_str().to_string()))
    .bind(unit.map(|u| u.code.clone()))
    .bind(before.map(|b| b.to_string()))
    .bind(after.map(|a| a.to_string()))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn visible(
    conn: &mut AnyConnection,
    actor: &Actor,
    unit: &UnitRef,
) -> Result<bool, AdminError> {
    match &actor.unit_scope {
        None => Ok(units::unit(conn, unit).await?.is_some()),
        Some(root) => Ok(units::in_subtree(conn, root, unit).await?),
    }
}

async fn visible_unit(
    conn: &mut AnyConnection,
    actor: &Actor,
    unit: &UnitRef,
) -> Result<(), AdminError> {
    if visible(conn, actor, unit).await? {
        Ok(())
    } else {
        Err(AdminError::NotFound(format!("unit {unit} not found")))
    }
}

// ------------------------------------------------------------ validation

fn check_id(id: &str) -> Result<(), AdminError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(AdminError::invalid(
            "id",
            "1 to 64 characters: letters, digits, '.', '_' or '-'",
        ))
    }
}

fn check_numbers(numbers: &[String]) -> Result<Vec<String>, AdminError> {
    if numbers.len() > MAX_NUMBERS {
        return Err(AdminError::invalid(
            "numbers",
            format!("at most {MAX_NUMBERS}"),
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for n in numbers {
        let digits = n.strip_prefix('+').unwrap_or(n);
        if digits.is_empty() || digits.len() > 32 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AdminError::invalid(
                "numbers",
                format!("{n:?} is not a number (digits, optionally after '+', at most 32)"),
            ));
        }
        if out.contains(n) {
            return Err(AdminError::invalid(
                "numbers",
                format!("{n} is listed twice"),
            ));
        }
        out.push(n.clone());
    }
    Ok(out)
}

fn check_aliases(aliases: &[String]) -> Result<Vec<String>, AdminError> {
    if aliases.len() > MAX_NUMBERS {
        return Err(AdminError::invalid(
            "aliases",
            format!("at most {MAX_NUMBERS}"),
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for a in aliases {
        let v = check_text("aliases", a, 128)?;
        if v.chars().any(char::is_whitespace) {
            return Err(AdminError::invalid(
                "aliases",
                format!("{a:?} contains white space"),
            ));
        }
        if out.contains(&v) {
            return Err(AdminError::invalid(
                "aliases",
                format!("{v} is listed twice"),
            ));
        }
        out.push(v);
    }
    Ok(out)
}

fn check_date(field: &str, d: &str) -> Result<String, AdminError> {
    let b = d.as_bytes();
    let ok = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
        && (1..=12).contains(&d[5..7].parse::<u32>().unwrap_or(0))
        && (1..=31).contains(&d[8..10].parse::<u32>().unwrap_or(0));
    if ok {
        Ok(d.to_string())
    } else {
        Err(AdminError::invalid(
            field,
            format!("{d:?} is not a date YYYY-MM-DD"),
        ))
    }
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// (realm, ha1_md5, ha1_sha256) from the input; the password goes no further.
pub(crate) fn credentials(
    id: &str,
    input: &CredentialInput,
    default_realm: &str,
) -> Result<(String, Option<String>, Option<String>), AdminError> {
    let realm = check_text(
        "credentials.realm",
        input.realm.as_deref().unwrap_or(default_realm),
        128,
    )?;
    match (&input.password, &input.ha1_md5, &input.ha1_sha256) {
        (Some(pw), None, None) => {
            if pw.is_empty() || pw.len() > MAX_PASSWORD {
                return Err(AdminError::invalid(
                    "credentials.password",
                    format!("1 to {MAX_PASSWORD} bytes"),
                ));
            }
            let a1 = format!("{id}:{realm}:{pw}");
            Ok((
                realm,
                Some(hex::encode(Md5::digest(a1.as_bytes()))),
                Some(hex::encode(Sha256::digest(a1.as_bytes()))),
            ))
        }
        (None, md5, sha) if md5.is_some() || sha.is_some() => {
            if md5.as_deref().is_some_and(|h| !is_hex(h, 32)) {
                return Err(AdminError::invalid("credentials.ha1_md5", "32 hex digits"));
            }
            if sha.as_deref().is_some_and(|h| !is_hex(h, 64)) {
                return Err(AdminError::invalid(
                    "credentials.ha1_sha256",
                    "64 hex digits",
                ));
            }
            Ok((
                realm,
                md5.as_ref().map(|h| h.to_ascii_lowercase()),
                sha.as_ref().map(|h| h.to_ascii_lowercase()),
            ))
        }
        _ => Err(AdminError::invalid(
            "credentials",
            "give either a password or HA1 forms (ha1_md5, ha1_sha256), not both",
        )),
    }
}

fn check_contact(field: &str, c: &ContactInput) -> Result<ContactInput, AdminError> {
    Ok(ContactInput {
        name: check_text(&format!("{field}.name"), &c.name, 200)?,
        phone: c
            .phone
            .as_deref()
            .map(|p| check_text(&format!("{field}.phone"), p, 40))
            .transpose()?,
        email: c
            .email
            .as_deref()
            .map(|e| check_text(&format!("{field}.email"), e, 200))
            .transpose()?,
    })
}

// ------------------------------------------------------------ endpoint rows

const EP_COLUMNS: &str = "e.id, e.unit_structure, e.unit_code, e.display, e.protocol, e.realm, \
    e.ha1_md5, e.ha1_sha256, e.fixed_address, e.vetting_state, e.vetting_reason, e.vetting_by, \
    e.vetting_at_unix, e.created_at_unix, e.updated_at_unix";

/// Endpoints in `root`'s subtree (everything for `None`), optionally only
/// one id or one vetting state, with their numbers, aliases, current
/// contacts and current device: five queries whatever their number.
async fn query_endpoints(
    conn: &mut AnyConnection,
    root: Option<&UnitRef>,
    id: Option<&str>,
    vetting: Option<VettingState>,
) -> Result<Vec<EndpointView>, AdminError> {
    let (st, code) = root_binds(root);
    let id = id.unwrap_or("");
    let vet = vetting.map(|v| v.as_str()).unwrap_or("");
    macro_rules! fetch {
        ($select:expr, $join:expr, $order:expr) => {
            sqlx::query(&format!(
                "{SUBTREE_CTE}SELECT {} FROM adm_endpoints e \
                 JOIN scope s ON s.structure = e.unit_structure AND s.code = e.unit_code {} \
                 WHERE ($3 = '' OR e.id = $3) AND ($4 = '' OR e.vetting_state = $4) ORDER BY {}",
                $select, $join, $order
            ))
            .bind(st)
            .bind(code.as_str())
            .bind(id)
            .bind(vet)
            .fetch_all(&mut *conn)
            .await?
        };
    }
    let rows = fetch!(EP_COLUMNS, "", "e.unit_structure, e.unit_code, e.id");
    let mut out = Vec::with_capacity(rows.len());
    let mut index = HashMap::new();
    for r in &rows {
        let view = endpoint_from_row(r)?;
        index.insert(view.id.clone(), out.len());
        out.push(view);
    }
    if out.is_empty() {
        return Ok(out);
    }
    for r in fetch!(
        "n.endpoint_id, n.number",
        "JOIN adm_endpoint_numbers n ON n.endpoint_id = e.id",
        "n.endpoint_id, n.position"
    ) {
        if let Some(&i) = index.get(&r.try_get::<String, _>(0)?) {
            out[i].numbers.push(r.try_get(1)?);
        }
    }
    for r in fetch!(
        "a.endpoint_id, a.alias",
        "JOIN adm_endpoint_aliases a ON a.endpoint_id = e.id",
        "a.endpoint_id, a.position"
    ) {
        if let Some(&i) = index.get(&r.try_get::<String, _>(0)?) {
            out[i].aliases.push(r.try_get(1)?);
        }
    }
    for r in fetch!(
        format!("c.endpoint_id, {CONTACT_COLUMNS}"),
        "JOIN adm_contacts c ON c.endpoint_id = e.id AND c.until_unix IS NULL",
        "c.endpoint_id, c.id"
    ) {
        if let Some(&i) = index.get(&r.try_get::<String, _>(0)?) {
            let c = contact_from_row(&r)?;
            match c.role {
                ContactRole::OfficeLead => out[i].contacts.office_lead = Some(c),
                ContactRole::TechnicalOfficer => out[i].contacts.technical_officer = Some(c),
            }
        }
    }
    for r in fetch!(
        format!("d.endpoint_id, {DEVICE_COLUMNS}"),
        "JOIN adm_devices d ON d.endpoint_id = e.id AND d.retired_unix IS NULL",
        "d.endpoint_id, d.id"
    ) {
        if let Some(&i) = index.get(&r.try_get::<String, _>(0)?) {
            out[i].device = Some(device_from_row(&r)?);
        }
    }
    Ok(out)
}

const CONTACT_COLUMNS: &str =
    "c.role, c.name, c.phone, c.email, c.since_unix, c.until_unix, c.changed_by";

fn contact_from_row(r: &sqlx::any::AnyRow) -> Result<ContactView, AdminError> {
    let role: String = r.try_get("role")?;
    Ok(ContactView {
        role: if role == "office_lead" {
            ContactRole::OfficeLead
        } else {
            ContactRole::TechnicalOfficer
        },
        name: r.try_get("name")?,
        phone: r.try_get("phone")?,
        email: r.try_get("email")?,
        since_unix: r.try_get("since_unix")?,
        until_unix: r.try_get("until_unix")?,
        changed_by: r.try_get("changed_by")?,
    })
}

const DEVICE_COLUMNS: &str = "d.vendor, d.model, d.firmware, d.serial, d.user_agent, \
    d.first_seen_unix, d.last_seen_unix, d.maintenance_due, d.retired_unix";

fn device_from_row(r: &sqlx::any::AnyRow) -> Result<DeviceView, AdminError> {
    Ok(DeviceView {
        vendor: r.try_get("vendor")?,
        model: r.try_get("model")?,
        firmware: r.try_get("firmware")?,
        serial: r.try_get("serial")?,
        user_agent: r.try_get("user_agent")?,
        first_seen_unix: r.try_get("first_seen_unix")?,
        last_seen_unix: r.try_get("last_seen_unix")?,
        maintenance_due: r.try_get("maintenance_due")?,
        retired_unix: r.try_get("retired_unix")?,
    })
}

/// One endpoint in `root`'s subtree, with its full history when asked.
async fn load_endpoint(
    conn: &mut AnyConnection,
    root: Option<&UnitRef>,
    id: &str,
    history: bool,
) -> Result<Option<EndpointView>, AdminError> {
    let Some(mut ep) = query_endpoints(conn, root, Some(id), None).await?.pop() else {
        return Ok(None);
    };
    if history {
        let rows = sqlx::query(&format!(
            "SELECT {CONTACT_COLUMNS} FROM adm_contacts c WHERE c.endpoint_id = $1 ORDER BY c.id"
        ))
        .bind(id)
        .fetch_all(&mut *conn)
        .await?;
        ep.contact_history = Some(
            rows.iter()
                .map(contact_from_row)
                .collect::<Result<_, _>>()?,
        );
        let rows = sqlx::query(&format!(
            "SELECT {DEVICE_COLUMNS} FROM adm_devices d WHERE d.endpoint_id = $1 ORDER BY d.id"
        ))
        .bind(id)
        .fetch_all(&mut *conn)
        .await?;
        ep.device_history = Some(rows.iter().map(device_from_row).collect::<Result<_, _>>()?);
        ep.device_events = Some(device_events(conn, id).await?);
    }
    Ok(Some(ep))
}

async fn device_events(
    conn: &mut AnyConnection,
    id: &str,
) -> Result<Vec<DeviceEventView>, AdminError> {
    let rows = sqlx::query(
        "SELECT at_unix, kind, before_json, after_json, detail FROM adm_device_events \
         WHERE endpoint_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            let before: Option<String> = r.try_get("before_json")?;
            let after: String = r.try_get("after_json")?;
            Ok(DeviceEventView {
                at_unix: r.try_get("at_unix")?,
                kind: r.try_get("kind")?,
                before: before.and_then(|b| serde_json::from_str(&b).ok()),
                after: serde_json::from_str(&after).unwrap_or(serde_json::Value::Null),
                detail: r.try_get("detail")?,
            })
        })
        .collect()
}

/// Which HA1 forms an endpoint has and their fingerprint.
pub(crate) fn credential_view(
    realm: String,
    md5: Option<&str>,
    sha: Option<&str>,
) -> CredentialView {
    let mut forms = Vec::new();
    if md5.is_some() {
        forms.push("md5");
    }
    if sha.is_some() {
        forms.push("sha-256");
    }
    let material = format!("{}:{}", md5.unwrap_or(""), sha.unwrap_or(""));
    CredentialView {
        realm,
        forms,
        fingerprint: hex::encode(&Sha256::digest(material.as_bytes())[..4]),
    }
}

fn endpoint_from_row(r: &sqlx::any::AnyRow) -> Result<EndpointView, AdminError> {
    let st: String = r.try_get("unit_structure")?;
    let protocol: String = r.try_get("protocol")?;
    let vetting: String = r.try_get("vetting_state")?;
    let realm: Option<String> = r.try_get("realm")?;
    let md5: Option<String> = r.try_get("ha1_md5")?;
    let sha: Option<String> = r.try_get("ha1_sha256")?;
    let credentials = realm.map(|realm| credential_view(realm, md5.as_deref(), sha.as_deref()));
    let bad = |what: &str, v: &str| {
        AdminError::Store(gateway_store::StoreError::Invalid {
            field: "adm_endpoints",
            detail: format!("stored {what} {v:?}"),
        })
    };
    Ok(EndpointView {
        id: r.try_get("id")?,
        unit: UnitRef::new(
            Structure::parse(&st).ok_or_else(|| bad("structure", &st))?,
            r.try_get::<String, _>("unit_code")?,
        ),
        display: r.try_get("display")?,
        protocol: Protocol::parse(&protocol).ok_or_else(|| bad("protocol", &protocol))?,
        numbers: Vec::new(),
        aliases: Vec::new(),
        credentials,
        fixed_address: r.try_get("fixed_address")?,
        vetting: VettingView {
            state: VettingState::parse(&vetting).ok_or_else(|| bad("vetting state", &vetting))?,
            reason: r.try_get("vetting_reason")?,
            by: r.try_get("vetting_by")?,
            at_unix: r.try_get("vetting_at_unix")?,
        },
        contacts: ContactsView::default(),
        device: None,
        created_at_unix: r.try_get("created_at_unix")?,
        updated_at_unix: r.try_get("updated_at_unix")?,
        contact_history: None,
        device_history: None,
        device_events: None,
    })
}

/// Replaces numbers and aliases of `id`, refusing ones another endpoint has.
async fn write_addresses(
    conn: &mut AnyConnection,
    id: &str,
    numbers: &[String],
    aliases: &[String],
) -> Result<(), AdminError> {
    for (table, column, values) in [
        ("adm_endpoint_numbers", "number", numbers),
        ("adm_endpoint_aliases", "alias", aliases),
    ] {
        sqlx::query(&format!("DELETE FROM {table} WHERE endpoint_id = $1"))
            .bind(id)
            .execute(&mut *conn)
            .await?;
        for (pos, v) in values.iter().enumerate() {
            let taken = sqlx::query(&format!(
                "SELECT endpoint_id FROM {table} WHERE {column} = $1"
            ))
            .bind(v.as_str())
            .fetch_optional(&mut *conn)
            .await?;
            if taken.is_some() {
                // Not naming the holder: it may be outside the actor's subtree.
                return Err(AdminError::Conflict(format!(
                    "{column} {v} is already in use by another endpoint"
                )));
            }
            sqlx::query(&format!(
                "INSERT INTO {table} ({column}, endpoint_id, position) VALUES ($1, $2, $3)"
            ))
            .bind(v.as_str())
            .bind(id)
            .bind(pos as i64)
            .execute(&mut *conn)
            .await?;
        }
    }
    Ok(())
}

/// Records `input` as the current `role` contact of `id` if it differs from
/// the current one, closing the current one (its replacement is history).
async fn write_contact(
    conn: &mut AnyConnection,
    id: &str,
    role: ContactRole,
    current: Option<&ContactView>,
    input: &ContactInput,
    by: &str,
    now: i64,
) -> Result<(), AdminError> {
    let input = check_contact(role.as_str(), input)?;
    if let Some(c) = current {
        if c.name == input.name && c.phone == input.phone && c.email == input.email {
            return Ok(());
        }
        sqlx::query(
            "UPDATE adm_contacts SET until_unix = $1 WHERE endpoint_id = $2 AND role = $3 AND until_unix IS NULL",
        )
        .bind(now)
        .bind(id)
        .bind(role.as_str())
        .execute(&mut *conn)
        .await?;
    }
    let cid = next_id(conn, "adm_contacts").await?;
    sqlx::query(
        "INSERT INTO adm_contacts (id, endpoint_id, role, name, phone, email, since_unix, until_unix, changed_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8)",
    )
    .bind(cid)
    .bind(id)
    .bind(role.as_str())
    .bind(input.name)
    .bind(input.phone)
    .bind(input.email)
    .bind(now)
    .bind(by)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn write_contacts(
    conn: &mut AnyConnection,
    id: &str,
    current: &ContactsView,
    input: &ContactsInput,
    by: &str,
    now: i64,
) -> Result<(), AdminError> {
    if let Some(c) = &input.office_lead {
        write_contact(
            conn,
            id,
            ContactRole::OfficeLead,
            current.office_lead.as_ref(),
            c,
            by,
            now,
        )
        .await?;
    }
    if let Some(c) = &input.technical_officer {
        write_contact(
            conn,
            id,
            ContactRole::TechnicalOfficer,
            current.technical_officer.as_ref(),
            c,
            by,
            now,
        )
        .await?;
    }
    Ok(())
}

/// What the gateway concluded from a device it saw on an endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum DeviceObservation {
    /// The endpoint's first device; `adopted` when the endpoint was already
    /// approved (it stays approved with this device).
    FirstSeen { adopted: bool },
    /// The same device again (last-seen time refreshed).
    Unchanged,
    /// Another product, firmware or serial. `back_to_review` when the
    /// endpoint was approved and is now pending.
    Changed {
        what: Vec<&'static str>,
        back_to_review: bool,
    },
}

fn describe(d: &DeviceInfo) -> String {
    let mut s = format!("{} {}", d.vendor, d.model);
    if let Some(f) = &d.firmware {
        s.push_str(&format!(" firmware {f}"));
    }
    if let Some(n) = &d.serial {
        s.push_str(&format!(" serial {n}"));
    }
    s
}

#[derive(Debug, Clone, Serialize)]
pub struct UnitDetail {
    #[serde(flatten)]
    pub unit: AdminUnit,
    /// From the unit's parent up to the root; only the part the actor sees.
    pub ancestors: Vec<UnitRef>,
    pub children: Vec<AdminUnit>,
}

impl Admin {
    pub fn new(store: Store, config: AdminConfig) -> Admin {
        Admin::with_clock(store, config, Arc::new(system_clock))
    }

    /// With a clock of one's own (Unix milliseconds), for tests of expiry.
    pub fn with_clock(store: Store, config: AdminConfig, clock: Clock) -> Admin {
        // A lagging subscriber reloads the whole snapshot, so a small
        // buffer is enough.
        let (changes, _) = tokio::sync::broadcast::channel(256);
        let (dialplan_changes, _) = tokio::sync::broadcast::channel(16);
        // A lagging subscriber rebuilds from the whole registry anyway.
        let (endpoint_changes, _) = tokio::sync::broadcast::channel(64);
        Admin {
            store,
            clock,
            config,
            changes,
            dialplan_changes,
            endpoint_changes,
            current: Arc::default(),
        }
    }

    /// Every vetting change committed through this `Admin` (or its clones)
    /// from now on. On `RecvError::Lagged` reload with
    /// [`Admin::vetting_snapshot`].
    pub fn subscribe_vetting(&self) -> tokio::sync::broadcast::Receiver<VettingChange> {
        self.changes.subscribe()
    }

    /// Ids of endpoints created, changed or deleted through this `Admin`
    /// (or its clones) from now on, after their commit. On
    /// `RecvError::Lagged` rebuild from the whole registry.
    pub fn subscribe_endpoints(&self) -> tokio::sync::broadcast::Receiver<String> {
        self.endpoint_changes.subscribe()
    }

    fn announce_endpoint(&self, endpoint_id: &str) {
        // No subscriber (the CLI, tests) is not an error.
        let _ = self.endpoint_changes.send(endpoint_id.to_string());
    }

    pub(crate) fn announce(&self, endpoint_id: &str, state: VettingState, reason: Option<String>) {
        // No subscriber (the CLI, tests) is not an error.
        let _ = self.changes.send(VettingChange {
            endpoint_id: endpoint_id.to_string(),
            state,
            reason,
        });
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn config(&self) -> &AdminConfig {
        &self.config
    }

    pub(crate) fn now_ms(&self) -> i64 {
        (self.clock)()
    }

    fn now(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }

    async fn conn(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Any>, AdminError> {
        Ok(self.store.pool().acquire().await?)
    }

    // -------------------------------------------------------------- units

    /// The units the actor sees (its subtree, or everything), of one
    /// structure or all, parents before children.
    pub async fn list_units(
        &self,
        actor: &Actor,
        structure: Option<Structure>,
    ) -> Result<Vec<AdminUnit>, AdminError> {
        let mut conn = self.conn().await?;
        let all = match &actor.unit_scope {
            Some(root) => units::subtree(&mut conn, root).await?,
            None => units::all_units(&mut conn, structure).await?,
        };
        Ok(all
            .into_iter()
            .filter(|u| structure.is_none_or(|s| u.structure == s))
            .collect())
    }

    pub async fn get_unit(&self, actor: &Actor, unit: &UnitRef) -> Result<UnitDetail, AdminError> {
        let mut conn = self.conn().await?;
        visible_unit(&mut conn, actor, unit).await?;
        let u = units::unit(&mut conn, unit)
            .await?
            .ok_or_else(|| AdminError::NotFound(format!("unit {unit} not found")))?;
        let mut ancestors = Vec::new();
        for a in units::ancestry(&mut conn, unit).await?.into_iter().skip(1) {
            if !visible(&mut conn, actor, &a).await? {
                break;
            }
            ancestors.push(a);
        }
        let children = units::subtree(&mut conn, unit)
            .await?
            .into_iter()
            .filter(|c| c.depth == 1)
            .collect();
        Ok(UnitDetail {
            unit: u,
            ancestors,
            children,
        })
    }

    pub async fn unit_subtree(
        &self,
        actor: &Actor,
        unit: &UnitRef,
    ) -> Result<Vec<AdminUnit>, AdminError> {
        let mut conn = self.conn().await?;
        visible_unit(&mut conn, actor, unit).await?;
        Ok(units::subtree(&mut conn, unit).await?)
    }

    /// Parses a unit given as `STRUCTURE/CODE` or a bare code (in the
    /// configured default structure).
    pub fn parse_unit(&self, s: &str) -> Result<UnitRef, AdminError> {
        UnitRef::parse(s, self.config.default_structure).ok_or_else(|| {
            AdminError::invalid("unit", format!("{s:?} is not STRUCTURE/CODE or CODE"))
        })
    }

    // ---------------------------------------------------------- endpoints

    pub async fn list_endpoints(
        &self,
        actor: &Actor,
        query: &EndpointQuery,
    ) -> Result<Vec<EndpointView>, AdminError> {
        let mut conn = self.conn().await?;
        let root = match &query.unit {
            Some(u) => {
                let u = self.parse_unit(u)?;
                visible_unit(&mut conn, actor, &u).await?;
                Some(u)
            }
            None => actor.unit_scope.clone(),
        };
        query_endpoints(&mut conn, root.as_ref(), None, query.vetting).await
    }

    pub async fn get_endpoint(&self, actor: &Actor, id: &str) -> Result<EndpointView, AdminError> {
        let mut conn = self.conn().await?;
        load_endpoint(&mut conn, actor.unit_scope.as_ref(), id, true)
            .await?
            .ok_or_else(|| not_found_endpoint(id))
    }

    pub async fn create_endpoint(
        &self,
        actor: &Actor,
        new: NewEndpoint,
    ) -> Result<EndpointView, AdminError> {
        let now = self.now();
        let mut tx = self.store.begin_admin().await?;
        visible_unit(&mut tx, actor, &new.unit).await?;
        if !actor.role.edits_endpoints() {
            return Err(forbidden(actor, "create endpoints"));
        }
        check_id(&new.id)?;
        let numbers = check_numbers(&new.numbers)?;
        let aliases = check_aliases(&new.aliases)?;
        let display = new
            .display
            .as_deref()
            .map(|d| check_text("display", d, 200))
            .transpose()?;
        let fixed = new
            .fixed_address
            .as_deref()
            .map(|a| check_text("fixed_address", a, 255))
            .transpose()?;
        let (realm, md5, sha) = match &new.credentials {
            Some(c) => {
                let (r, m, s) = credentials(&new.id, c, &self.config.realm)?;
                (Some(r), m, s)
            }
            None => (None, None, None),
        };
        let exists = sqlx::query("SELECT id FROM adm_endpoints WHERE id = $1")
            .bind(new.id.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_some() {
            return Err(AdminError::Conflict(format!(
                "endpoint {} already exists",
                new.id
            )));
        }
        sqlx::query(
            "INSERT INTO adm_endpoints (id, unit_structure, unit_code, display, protocol, realm, ha1_md5, \
             ha1_sha256, fixed_address, vetting_state, vetting_reason, vetting_by, vetting_at_unix, \
             created_at_unix, updated_at_unix) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', $10, $11, $12, $12, $12)",
        )
        .bind(new.id.as_str())
        .bind(new.unit.structure.as_str())
        .bind(new.unit.code.as_str())
        .bind(display)
        .bind(new.protocol.as_str())
        .bind(realm)
        .bind(md5)
        .bind(sha)
        .bind(fixed)
        .bind("new endpoint: not yet vetted")
        .bind(actor.user.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        write_addresses(&mut tx, &new.id, &numbers, &aliases).await?;
        write_contacts(
            &mut tx,
            &new.id,
            &ContactsView::default(),
            &new.contacts,
            &actor.user,
            now,
        )
        .await?;
        let after = load_endpoint(&mut tx, None, &new.id, false)
            .await?
            .ok_or_else(|| not_found_endpoint(&new.id))?;
        write_audit(
            &mut tx,
            self.now_ms(),
            &actor.user,
            actor.role.as_str(),
            "endpoint.create",
            "endpoint",
            &new.id,
            Some(&after.unit),
            None,
            Some(json(&after)),
        )
        .await?;
        tx.commit().await?;
        self.announce(&new.id, after.vetting.state, after.vetting.reason.clone());
        self.announce_endpoint(&new.id);
        Ok(after)
    }

    pub async fn update_endpoint(
        &self,
        actor: &Actor,
        id: &str,
        patch: EndpointPatch,
    ) -> Result<EndpointView, AdminError> {
        let now = self.now();
        let mut tx = self.store.begin_admin().await?;
        let before = load_endpoint(&mut tx, actor.unit_scope.as_ref(), id, false)
            .await?
            .ok_or_else(|| not_found_endpoint(id))?;
        if !actor.role.edits_endpoints() {
            return Err(forbidden(actor, "change endpoints"));
        }
        let unit = match &patch.unit {
            Some(u) => {
                visible_unit(&mut tx, actor, u).await?;
                u.clone()
            }
            None => before.unit.clone(),
        };
        let display = match &patch.display {
            Some(Some(d)) => Some(check_text("display", d, 200)?),
            Some(None) => None,
            None => before.display.clone(),
        };
        let fixed = match &patch.fixed_address {
            Some(Some(a)) => Some(check_text("fixed_address", a, 255)?),
            Some(None) => None,
            None => before.fixed_address.clone(),
        };
        let protocol = patch.protocol.unwrap_or(before.protocol);
        sqlx::query(
            "UPDATE adm_endpoints SET unit_structure = $2, unit_code = $3, display = $4, protocol = $5, \
             fixed_address = $6, updated_at_unix = $7 WHERE id = $1",
        )
        .bind(id)
        .bind(unit.structure.as_str())
        .bind(unit.code.as_str())
        .bind(display)
        .bind(protocol.as_str())
        .bind(fixed)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if let Some(c) = &patch.credentials {
            let (realm, md5, sha) = credentials(id, c, &self.config.realm)?;
            sqlx::query(
                "UPDATE adm_endpoints SET realm = $2, ha1_md5 = $3, ha1_sha256 = $4 WHERE id = $1",
            )
            .bind(id)
            .bind(realm)
            .bind(md5)
            .bind(sha)
            .execute(&mut *tx)
            .await?;
        }
        if patch.numbers.is_some() || patch.aliases.is_some() {
            let numbers = check_numbers(patch.numbers.as_deref().unwrap_or(&before.numbers))?;
            let aliases = check_aliases(patch.aliases.as_deref().unwrap_or(&before.aliases))?;
            write_addresses(&mut tx, id, &numbers, &aliases).await?;
        }
        if let Some(c) = &patch.contacts {
            write_contacts(&mut tx, id, &before.contacts, c, &actor.user, now).await?;
        }
        if let Some(due) = &patch.maintenance_due {
            let due = due
                .as_deref()
                .map(|d| check_date("maintenance_due", d))
                .transpose()?;
            if before.device.is_none() {
                return Err(AdminError::Conflict(format!(
                    "endpoint {id} has no device yet: maintenance is planned per device"
                )));
            }
            sqlx::query("UPDATE adm_devices SET maintenance_due = $2 WHERE endpoint_id = $1 AND retired_unix IS NULL")
                .bind(id)
                .bind(due)
                .execute(&mut *tx)
                .await?;
        }
        let after = load_endpoint(&mut tx, None, id, false)
            .await?
            .ok_or_else(|| not_found_endpoint(id))?;
        let mut same = after.clone();
        same.updated_at_unix = before.updated_at_unix;
        if same == before {
            // Nothing changed: nothing to write or audit.
            tx.rollback().await?;
            return Ok(before);
        }
        write_audit(
            &mut tx,
            self.now_ms(),
            &actor.user,
            actor.role.as_str(),
            "endpoint.update",
            "endpoint",
            id,
            Some(&after.unit),
            Some(json(&before)),
            Some(json(&after)),
        )
        .await?;
        tx.commit().await?;
        self.announce_endpoint(id);
        Ok(after)
    }

    /// Deletes the endpoint with its numbers, aliases, contacts and devices;
    /// the audit row keeps all of it (history included) as `before`.
    pub async fn delete_endpoint(&self, actor: &Actor, id: &str) -> Result<(), AdminError> {
        let mut tx = self.store.begin_admin().await?;
        let before = load_endpoint(&mut tx, actor.unit_scope.as_ref(), id, true)
            .await?
            .ok_or_else(|| not_found_endpoint(id))?;
        if !actor.role.edits_endpoints() {
            return Err(forbidden(actor, "delete endpoints"));
        }
        for table in [
            "adm_endpoint_numbers",
            "adm_endpoint_aliases",
            "adm_contacts",
            "adm_device_events",
            "adm_devices",
        ] {
            sqlx::query(&format!("DELETE FROM {table} WHERE endpoint_id = $1"))
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("DELETE FROM adm_endpoints WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        write_audit(
            &mut tx,
            self.now_ms(),
            &actor.user,
            actor.role.as_str(),
            "endpoint.delete",
            "endpoint",
            id,
            Some(&before.unit),
            Some(json(&before)),
            None,
        )
        .await?;
        tx.commit().await?;
        self.announce_endpoint(id);
        Ok(())
    }

    // ------------------------------------------------------------ vetting

    /// Pending endpoints in the actor's subtree, each with its device
    /// history of events (what changed).
    pub async fn vetting_queue(&self, actor: &Actor) -> Result<Vec<EndpointView>, AdminError> {
        let mut conn = self.conn().await?;
        let mut q = query_endpoints(
            &mut conn,
            actor.unit_scope.as_ref(),
            None,
            Some(VettingState::Pending),
        )
        .await?;
        for e in &mut q {
            e.device_events = Some(device_events(&mut conn, &e.id).await?);
        }
        Ok(q)
    }

    pub async fn approve(
        &self,
        actor: &Actor,
        id: &str,
        reason: Option<&str>,
    ) -> Result<EndpointView, AdminError> {
        self.set_vetting(actor, id, VettingState::Approved, reason)
            .await
    }

    pub async fn suspend(
        &self,
        actor: &Actor,
        id: &str,
        reason: &str,
    ) -> Result<EndpointView, AdminError> {
        self.set_vetting(actor, id, VettingState::Suspended, Some(reason))
            .await
    }

    pub(crate) async fn set_vetting(
        &self,
        actor: &Actor,
        id: &str,
        state: VettingState,
        reason: Option<&str>,
    ) -> Result<EndpointView, AdminError> {
        let mut tx = self.store.begin_admin().await?;
        let before = load_endpoint(&mut tx, actor.unit_scope.as_ref(), id, false)
            .await?
            .ok_or_else(|| not_found_endpoint(id))?;
        if actor.role != Role::SecurityReviewer {
            return Err(AdminError::Forbidden(format!(
                "only a security-reviewer may change the vetting of an endpoint; {} is {}",
                actor.user, actor.role
            )));
        }
        let reason = match (state, reason) {
            (VettingState::Suspended, None) => {
                return Err(AdminError::invalid("reason", "a suspension needs a reason"))
            }
            (_, Some(r)) => Some(check_text("reason", r, 500)?),
            (_, None) => None,
        };
        if before.vetting.state == state {
            return Err(AdminError::Conflict(format!(
                "endpoint {id} is already {}",
                state.as_str()
            )));
        }
        let now = self.now();
        sqlx::query(
            "UPDATE adm_endpoints SET vetting_state = $2, vetting_reason = $3, vetting_by = $4, \
             vetting_at_unix = $5, updated_at_unix = $5 WHERE id = $1",
        )
        .bind(id)
        .bind(state.as_str())
        .bind(reason)
        .bind(actor.user.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let after = load_endpoint(&mut tx, None, id, false)
            .await?
            .ok_or_else(|| not_found_endpoint(id))?;
        let action = match state {
            VettingState::Approved => "vetting.approve",
            VettingState::Suspended => "vetting.suspend",
            VettingState::Pending => "vetting.reopen",
        };
        write_audit(
            &mut tx,
            self.now_ms(),
            &actor.user,
            actor.role.as_str(),
            action,
            "endpoint",
            id,
            Some(&after.unit),
            Some(json(&before)),
            Some(json(&after)),
        )
        .await?;
        tx.commit().await?;
        self.announce(id, after.vetting.state, after.vetting.reason.clone());
        Ok(after)
    }

    /// The gateway saw `user_agent` on a REGISTER (or call) of `endpoint_id`.
    /// A first device is recorded (and adopted by an approved endpoint);
    /// the same device refreshes its last-seen time; another product,
    /// firmware or serial is recorded as a change and sends an approved
    /// endpoint back to `pending`. Changes are audited as the gateway's.
    pub async fn observe_device(
        &self,
        endpoint_id: &str,
        user_agent: &str,
    ) -> Result<DeviceObservation, AdminError> {
        let now = self.now();
        let ua = bounded(user_agent);
        let seen = parse_user_agent(&ua);
        let mut tx = self.store.begin_admin().await?;
        let before = load_endpoint(&mut tx, None, endpoint_id, false)
            .await?
            .ok_or_else(|| not_found_endpoint(endpoint_id))?;
        let previous = before.device.as_ref().map(|d| DeviceInfo {
            vendor: d.vendor.clone(),
            model: d.model.clone(),
            firmware: d.firmware.clone(),
            serial: d.serial.clone(),
        });
        if let Some(prev) = &previous {
            if prev.differences(&seen).is_empty() {
                sqlx::query(
                    "UPDATE adm_devices SET last_seen_unix = $2, user_agent = $3 \
                     WHERE endpoint_id = $1 AND retired_unix IS NULL",
                )
                .bind(endpoint_id)
                .bind(now)
                .bind(ua.as_str())
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                return Ok(DeviceObservation::Unchanged);
            }
        }
        let what = previous.as_ref().map(|p| p.differences(&seen));
        // A firmware update of the same unit keeps its maintenance plan.
        let keep_due = match (&what, &before.device) {
            (Some(w), Some(d)) if !w.contains(&"product") && !w.contains(&"serial") => {
                d.maintenance_due.clone()
            }
            _ => None,
        };
        sqlx::query("UPDATE adm_devices SET retired_unix = $2 WHERE endpoint_id = $1 AND retired_unix IS NULL")
            .bind(endpoint_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let did = next_id(&mut tx, "adm_devices").await?;
        sqlx::query(
            "INSERT INTO adm_devices (id, endpoint_id, vendor, model, firmware, serial, user_agent, \
             first_seen_unix, last_seen_unix, maintenance_due, retired_unix) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, NULL)",
        )
        .bind(did)
        .bind(endpoint_id)
        .bind(seen.vendor.as_str())
        .bind(seen.model.as_str())
        .bind(seen.firmware.clone())
        .bind(seen.serial.clone())
        .bind(ua.as_str())
        .bind(now)
        .bind(keep_due)
        .execute(&mut *tx)
        .await?;
        let approved = before.vetting.state == VettingState::Approved;
        let (kind, detail, outcome) = match (&previous, what) {
            (None, _) => (
                if approved { "adopted" } else { "first_seen" },
                format!("first device: {}", describe(&seen)),
                DeviceObservation::FirstSeen { adopted: approved },
            ),
            (Some(prev), what) => {
                let what = what.unwrap_or_default();
                (
                    "changed",
                    format!(
                        "{} changed: {} -> {}",
                        what.join(", "),
                        describe(prev),
                        describe(&seen)
                    ),
                    DeviceObservation::Changed {
                        what,
                        back_to_review: approved,
                    },
                )
            }
        };
        let eid = next_id(&mut tx, "adm_device_events").await?;
        sqlx::query(
            "INSERT INTO adm_device_events (id, endpoint_id, at_unix, kind, before_json, after_json, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(eid)
        .bind(endpoint_id)
        .bind(now)
        .bind(kind)
        .bind(previous.as_ref().map(|p| json(p).to_string()))
        .bind(json(&seen).to_string())
        .bind(detail.as_str())
        .execute(&mut *tx)
        .await?;
        if matches!(
            outcome,
            DeviceObservation::Changed {
                back_to_review: true,
                ..
            }
        ) {
            sqlx::query(
                "UPDATE adm_endpoints SET vetting_state = 'pending', vetting_reason = $2, vetting_by = $3, \
                 vetting_at_unix = $4, updated_at_unix = $4 WHERE id = $1",
            )
            .bind(endpoint_id)
            .bind(format!("device changed, review again: {detail}"))
            .bind(SYSTEM_ACTOR)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        let after = load_endpoint(&mut tx, None, endpoint_id, false)
            .await?
            .ok_or_else(|| not_found_endpoint(endpoint_id))?;
        write_audit(
            &mut tx,
            self.now_ms(),
            SYSTEM_ACTOR,
            SYSTEM_ROLE,
            &format!("device.{kind}"),
            "endpoint",
            endpoint_id,
            Some(&after.unit),
            Some(json(&before)),
            Some(json(&after)),
        )
        .await?;
        tx.commit().await?;
        if matches!(
            outcome,
            DeviceObservation::Changed {
                back_to_review: true,
                ..
            }
        ) {
            tracing::warn!(endpoint = endpoint_id, %detail, "device changed: endpoint back to vetting");
            self.announce(
                endpoint_id,
                after.vetting.state,
                after.vetting.reason.clone(),
            );
        }
        Ok(outcome)
    }

    /// The vetting state of an endpoint, for the registrar's decision (no
    /// actor: the gateway itself asks). `None` when the registry does not
    /// know the endpoint.
    pub async fn vetting_state(
        &self,
        endpoint_id: &str,
    ) -> Result<Option<(VettingState, Option<String>)>, AdminError> {
        let row =
            sqlx::query("SELECT vetting_state, vetting_reason FROM adm_endpoints WHERE id = $1")
                .bind(endpoint_id)
                .fetch_optional(self.store.pool())
                .await?;
        match row {
            None => Ok(None),
            Some(r) => {
                let s: String = r.try_get("vetting_state")?;
                Ok(
                    VettingState::parse(&s)
                        .map(|v| (v, r.try_get("vetting_reason").ok().flatten())),
                )
            }
        }
    }

    // -------------------------------------------------------------- users

    /// Creates a user: a city-admin any role, a unit-admin unit-admins,
    /// operators and auditors, always within the creator's subtree.
    pub async fn create_user(&self, actor: &Actor, new: NewUser) -> Result<UserView, AdminError> {
        let mut tx = self.store.begin_admin().await?;
        if let Some(u) = &new.unit {
            visible_unit(&mut tx, actor, u).await?;
        }
        if !actor.role.may_create(new.role) {
            return Err(forbidden(actor, &format!("create {} users", new.role)));
        }
        if new.unit.is_none() && actor.unit_scope.is_some() {
            return Err(AdminError::Forbidden(format!(
                "{} administers {} only: a new user needs a unit in it",
                actor.user,
                actor
                    .unit_scope
                    .as_ref()
                    .map(|u| u.to_string())
                    .unwrap_or_default()
            )));
        }
        let view = self
            .insert_user(&mut tx, &new, &actor.user, actor.role.as_str())
            .await?;
        tx.commit().await?;
        Ok(view)
    }

    /// Creates a user without an acting user (the CLI's `gateway users add`
    /// on the database, and the first city-admin); audited as `by`.
    pub async fn add_user(&self, new: NewUser, by: &str) -> Result<UserView, AdminError> {
        let mut tx = self.store.begin_admin().await?;
        if let Some(u) = &new.unit {
            if units::unit(&mut tx, u).await?.is_none() {
                return Err(AdminError::NotFound(format!("unit {u} not found")));
            }
        }
        let view = self.insert_user(&mut tx, &new, by, SYSTEM_ROLE).await?;
        tx.commit().await?;
        Ok(view)
    }

    async fn insert_user(
        &self,
        conn: &mut AnyConnection,
        new: &NewUser,
        by: &str,
        by_role: &str,
    ) -> Result<UserView, AdminError> {
        let ok = !new.name.is_empty()
            && new.name.len() <= 64
            && new
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._@-".contains(&b));
        if !ok {
            return Err(AdminError::invalid(
                "name",
                "1 to 64 characters: letters, digits, '.', '_', '@' or '-'",
            ));
        }
        if new.password.chars().count() < 8 || new.password.len() > MAX_PASSWORD {
            return Err(AdminError::invalid(
                "password",
                format!("at least 8 characters, at most {MAX_PASSWORD} bytes"),
            ));
        }
        let taken = sqlx::query("SELECT name FROM adm_users WHERE name = $1")
            .bind(new.name.as_str())
            .fetch_optional(&mut *conn)
            .await?;
        if taken.is_some() {
            return Err(AdminError::Conflict(format!(
                "user {} already exists",
                new.name
            )));
        }
        let hash = hash_password(new.password.clone()).await?;
        let now = self.now();
        sqlx::query(
            "INSERT INTO adm_users (name, password_hash, role, scope_structure, scope_code, disabled, \
             created_at_unix, created_by) VALUES ($1, $2, $3, $4, $5, 0, $6, $7)",
        )
        .bind(new.name.as_str())
        .bind(hash)
        .bind(new.role.as_str())
        .bind(new.unit.as_ref().map(|u| u.structure.as_str()))
        .bind(new.unit.as_ref().map(|u| u.code.clone()))
        .bind(now)
        .bind(by)
        .execute(&mut *conn)
        .await?;
        let view = UserView {
            name: new.name.clone(),
            role: new.role,
            unit: new.unit.clone(),
            disabled: false,
            created_at_unix: now,
            created_by: by.to_string(),
        };
        write_audit(
            conn,
            self.now_ms(),
            by,
            by_role,
            "user.create",
            "user",
            &new.name,
            new.unit.as_ref(),
            None,
            Some(json(&view)),
        )
        .await?;
        Ok(view)
    }

    /// Users whose scope lies in the actor's subtree (admins and auditors).
    pub async fn list_users(&self, actor: &Actor) -> Result<Vec<UserView>, AdminError> {
        if !matches!(
            actor.role,
            Role::CityAdmin | Role::UnitAdmin | Role::Auditor
        ) {
            return Err(forbidden(actor, "list users"));
        }
        let (st, code) = root_binds(actor.unit_scope.as_ref());
        let rows = sqlx::query(&format!(
            "{SUBTREE_CTE}SELECT u.name, u.role, u.scope_structure, u.scope_code, u.disabled, \
             u.created_at_unix, u.created_by FROM adm_users u \
             WHERE $1 = '' OR EXISTS (SELECT 1 FROM scope s WHERE s.structure = u.scope_structure \
             AND s.code = u.scope_code) ORDER BY u.name"
        ))
        .bind(st)
        .bind(code)
        .fetch_all(self.store.pool())
        .await?;
        rows.iter().map(user_from_row).collect()
    }

    /// Changes a user's role, scope or state. The actor must see the user
    /// (its scope in the actor's subtree, else 404), administer users
    /// (city-admin, unit-admin, else 403), be allowed to create users of
    /// both the old and the new role, and see the new scope. Nobody changes their
    /// own account (an administrator cannot lock itself out or widen its
    /// own rights). Disabling ends the user's sessions.
    pub async fn update_user(
        &self,
        actor: &Actor,
        name: &str,
        patch: UserPatch,
    ) -> Result<UserView, AdminError> {
        let mut tx = self.store.begin_admin().await?;
        let not_found = || AdminError::NotFound(format!("user {name} not found"));
        let row = sqlx::query(
            "SELECT name, role, scope_structure, scope_code, disabled, created_at_unix, created_by \
             FROM adm_users WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(not_found)?;
        let before = user_from_row(&row)?;
        let seen = match (&actor.unit_scope, &before.unit) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(_), Some(u)) => visible(&mut tx, actor, u).await?,
        };
        if !seen {
            return Err(not_found());
        }
        if !matches!(actor.role, Role::CityAdmin | Role::UnitAdmin) {
            return Err(forbidden(actor, "change users"));
        }
        if !actor.role.may_create(before.role) {
            return Err(forbidden(actor, &format!("change {} users", before.role)));
        }
        if before.name == actor.user {
            return Err(forbidden(actor, "change its own role, scope or state"));
        }
        let mut after = before.clone();
        if let Some(role) = patch.role {
            if !actor.role.may_create(role) {
                return Err(forbidden(actor, &format!("make users {role}")));
            }
            after.role = role;
        }
        match &patch.unit {
            Some(Some(u)) => {
                visible_unit(&mut tx, actor, u).await?;
                after.unit = Some(u.clone());
            }
            Some(None) if actor.unit_scope.is_some() => {
                return Err(forbidden(actor, "give a user the whole network"));
            }
            Some(None) => after.unit = None,
            None => {}
        }
        if let Some(d) = patch.disabled {
            after.disabled = d;
        }
        if after == before {
            tx.rollback().await?;
            return Ok(before);
        }
        sqlx::query(
            "UPDATE adm_users SET role = $2, scope_structure = $3, scope_code = $4, disabled = $5 \
             WHERE name = $1",
        )
        .bind(name)
        .bind(after.role.as_str())
        .bind(after.unit.as_ref().map(|u| u.structure.as_str()))
        .bind(after.unit.as_ref().map(|u| u.code.clone()))
        .bind(i64::from(after.disabled))
        .execute(&mut *tx)
        .await?;
        if after.disabled {
            sqlx::query("DELETE FROM adm_sessions WHERE user_name = $1")
                .bind(name)
                .execute(&mut *tx)
                .await?;
        }
        write_audit(
            &mut tx,
            self.now_ms(),
            &actor.user,
            actor.role.as_str(),
            "user.update",
            "user",
            name,
            after.unit.as_ref(),
            Some(json(&before)),
            Some(json(&after)),
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    // ----------------------------------------------------------- sessions

    /// Checks the password and issues a bearer token valid for the
    /// configured time. Unknown user and wrong password are one answer.
    pub async fn login(&self, name: &str, password: &str) -> Result<SessionToken, AdminError> {
        let refused = || AdminError::Unauthorized("invalid user name or password".into());
        if password.len() > MAX_PASSWORD || name.len() > 64 {
            return Err(refused());
        }
        let row = sqlx::query(
            "SELECT name, password_hash, role, scope_structure, scope_code, disabled, created_at_unix, \
             created_by FROM adm_users WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(self.store.pool())
        .await?;
        let (hash, user) = match &row {
            Some(r) => (
                Some(r.try_get::<String, _>("password_hash")?),
                Some(user_from_row(r)?),
            ),
            None => (None, None),
        };
        // Unknown users cost as much as known ones.
        let ok = verify_password(password.to_string(), hash).await?;
        let user = match user {
            Some(u) if ok && !u.disabled => u,
            _ => return Err(refused()),
        };
        let token =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
        let now = self.now();
        let expires = now + self.config.token_ttl_secs;
        sqlx::query("DELETE FROM adm_sessions WHERE expires_at_unix <= $1")
            .bind(now)
            .execute(self.store.pool())
            .await?;
        sqlx::query(
            "INSERT INTO adm_sessions (token_sha256, user_name, created_at_unix, expires_at_unix) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash(&token))
        .bind(user.name.as_str())
        .bind(now)
        .bind(expires)
        .execute(self.store.pool())
        .await?;
        Ok(SessionToken {
            token,
            token_type: "Bearer",
            expires_at_unix: expires,
            user: user.name,
            role: user.role,
            unit: user.unit,
        })
    }

    /// The actor a bearer token stands for.
    pub async fn authenticate(&self, token: &str) -> Result<Actor, AdminError> {
        if token.is_empty() || token.len() > 256 {
            return Err(AdminError::Unauthorized("invalid bearer token".into()));
        }
        let row = sqlx::query(
            "SELECT s.expires_at_unix, u.name, u.role, u.scope_structure, u.scope_code, u.disabled, \
             u.created_at_unix, u.created_by FROM adm_sessions s JOIN adm_users u ON u.name = s.user_name \
             WHERE s.token_sha256 = $1",
        )
        .bind(token_hash(token))
        .fetch_optional(self.store.pool())
        .await?
        .ok_or_else(|| AdminError::Unauthorized("unknown bearer token: log in again".into()))?;
        let expires: i64 = row.try_get("expires_at_unix")?;
        if expires <= self.now() {
            return Err(AdminError::Unauthorized(
                "the bearer token has expired: log in again".into(),
            ));
        }
        let user = user_from_row(&row)?;
        if user.disabled {
            return Err(AdminError::Unauthorized(format!(
                "user {} is disabled",
                user.name
            )));
        }
        Ok(Actor {
            user: user.name,
            role: user.role,
            unit_scope: user.unit,
        })
    }

    pub async fn logout(&self, token: &str) -> Result<(), AdminError> {
        sqlx::query("DELETE FROM adm_sessions WHERE token_sha256 = $1")
            .bind(token_hash(token))
            .execute(self.store.pool())
            .await?;
        Ok(())
    }

    // -------------------------------------------------------------- audit

    /// Audit rows about objects in the actor's subtree, newest first; rows
    /// about the whole network (no unit) only for actors who have it.
    pub async fn list_audit(
        &self,
        actor: &Actor,
        q: &AuditQuery,
    ) -> Result<Vec<AuditEntry>, AdminError> {
        if !actor.role.reads_audit() {
            return Err(forbidden(actor, "read the audit log"));
        }
        let limit = q.limit.unwrap_or(100).clamp(1, 1000);
        let (st, code) = root_binds(actor.unit_scope.as_ref());
        let rows = sqlx::query(&format!(
            "{SUBTREE_CTE}SELECT a.id, a.at_ms, a.actor, a.actor_role, a.action, a.object_kind, a.object_id, \
             a.unit_structure, a.unit_code, a.before_json, a.after_json FROM adm_audit a \
             WHERE ($1 = '' OR EXISTS (SELECT 1 FROM scope s WHERE s.structure = a.unit_structure \
             AND s.code = a.unit_code)) AND ($3 = '' OR a.object_kind = $3) AND ($4 = '' OR a.object_id = $4) \
             ORDER BY a.id DESC LIMIT $5"
        ))
        .bind(st)
        .bind(code)
        .bind(q.object_kind.as_deref().unwrap_or(""))
        .bind(q.object_id.as_deref().unwrap_or(""))
        .bind(limit)
        .fetch_all(self.store.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let st: Option<String> = r.try_get("unit_structure")?;
                let code: Option<String> = r.try_get("unit_code")?;
                let before: Option<String> = r.try_get("before_json")?;
                let after: Option<String> = r.try_get("after_json")?;
                Ok(AuditEntry {
                    id: r.try_get("id")?,
                    at_ms: r.try_get("at_ms")?,
                    actor: r.try_get("actor")?,
                    actor_role: r.try_get("actor_role")?,
                    action: r.try_get("action")?,
                    object_kind: r.try_get("object_kind")?,
                    object_id: r.try_get("object_id")?,
                    unit: match (st.as_deref().and_then(Structure::parse), code) {
                        (Some(s), Some(c)) => Some(UnitRef::new(s, c)),
                        _ => None,
                    },
                    before: before.and_then(|b| serde_json::from_str(&b).ok()),
                    after: after.and_then(|a| serde_json::from_str(&a).ok()),
                })
            })
            .collect()
    }
}

fn not_found_endpoint(id: &str) -> AdminError {
    AdminError::NotFound(format!("endpoint {id} not found"))
}

fn forbidden(actor: &Actor, what: &str) -> AdminError {
    AdminError::Forbidden(format!("{} ({}) may not {what}", actor.user, actor.role))
}

fn user_from_row(r: &sqlx::any::AnyRow) -> Result<UserView, AdminError> {
    let role: String = r.try_get("role")?;
    let st: Option<String> = r.try_get("scope_structure")?;
    let code: Option<String> = r.try_get("scope_code")?;
    Ok(UserView {
        name: r.try_get("name")?,
        role: Role::parse(&role).ok_or_else(|| {
            AdminError::Store(gateway_store::StoreError::Invalid {
                field: "adm_users.role",
                detail: role.clone(),
            })
        })?,
        unit: match (st.as_deref().and_then(Structure::parse), code) {
            (Some(s), Some(c)) => Some(UnitRef::new(s, c)),
            _ => None,
        },
        disabled: r.try_get::<i64, _>("disabled")? != 0,
        created_at_unix: r.try_get("created_at_unix")?,
        created_by: r.try_get("created_by")?,
    })
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// argon2id with the crate's default (OWASP) parameters, off the async
/// threads: it is deliberately slow.
async fn hash_password(password: String) -> Result<String, AdminError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
            .map_err(|e| AdminError::invalid("password", e.to_string()))?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| AdminError::invalid("password", e.to_string()))
    })
    .await
    .map_err(|e| AdminError::invalid("password", format!("hashing failed: {e}")))?
}

/// Verifies against `hash`, or against a fixed dummy hash when the user
/// does not exist (and then answers false), so both take the same time.
async fn verify_password(password: String, hash: Option<String>) -> Result<bool, AdminError> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    tokio::task::spawn_blocking(move || {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| {
            DUMMY
                .get_or_init(|| {
                    let salt = SaltString::encode_b64(&[7u8; 16]).expect("fixed salt encodes");
                    Argon2::default()
                        .hash_password(b"no such user", &salt)
                        .map(|h| h.to_string())
                        .unwrap_or_default()
                })
                .clone()
        });
        let ok = PasswordHash::new(&hash)
            .map(|h| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false);
        ok && known
    })
    .await
    .map_err(|e| AdminError::Unauthorized(format!("password check failed: {e}")))
}
