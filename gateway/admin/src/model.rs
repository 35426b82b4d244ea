//! The values operations take and return; their JSON is the REST API's.

use std::fmt;

use gateway_store::UnitRef;
use serde::{Deserialize, Deserializer, Serialize};

use crate::AdminError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Everything in its subtree, including users of every role.
    CityAdmin,
    /// Endpoints and users (not reviewers) in its subtree.
    UnitAdmin,
    /// Reads its subtree (and, later, controls sessions in it).
    Operator,
    /// Reads its subtree and is the only role that approves or suspends.
    SecurityReviewer,
    /// Reads its subtree and its audit log.
    Auditor,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::CityAdmin,
        Role::UnitAdmin,
        Role::Operator,
        Role::SecurityReviewer,
        Role::Auditor,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::CityAdmin => "city-admin",
            Role::UnitAdmin => "unit-admin",
            Role::Operator => "operator",
            Role::SecurityReviewer => "security-reviewer",
            Role::Auditor => "auditor",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    pub(crate) fn edits_endpoints(self) -> bool {
        matches!(self, Role::CityAdmin | Role::UnitAdmin)
    }

    pub(crate) fn reads_audit(self) -> bool {
        !matches!(self, Role::Operator)
    }

    /// Which roles this role may give to users it creates.
    pub(crate) fn may_create(self, role: Role) -> bool {
        match self {
            Role::CityAdmin => true,
            Role::UnitAdmin => matches!(role, Role::UnitAdmin | Role::Operator | Role::Auditor),
            _ => false,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who performs an operation: every operation checks it against the
/// object's unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user: String,
    pub role: Role,
    /// The subtree the actor administers; `None` is the whole network.
    pub unit_scope: Option<UnitRef>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Sip,
    H323,
    Webrtc,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Sip => "sip",
            Protocol::H323 => "h323",
            Protocol::Webrtc => "webrtc",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Protocol> {
        [Protocol::Sip, Protocol::H323, Protocol::Webrtc]
            .into_iter()
            .find(|p| p.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VettingState {
    Pending,
    Approved,
    Suspended,
}

impl VettingState {
    pub fn as_str(self) -> &'static str {
        match self {
            VettingState::Pending => "pending",
            VettingState::Approved => "approved",
            VettingState::Suspended => "suspended",
        }
    }

    pub fn parse(s: &str) -> Option<VettingState> {
        [
            VettingState::Pending,
            VettingState::Approved,
            VettingState::Suspended,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContactRole {
    OfficeLead,
    TechnicalOfficer,
}

impl ContactRole {
    pub fn as_str(self) -> &'static str {
        match self {
            ContactRole::OfficeLead => "office_lead",
            ContactRole::TechnicalOfficer => "technical_officer",
        }
    }
}

// ---------------------------------------------------------------- views

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VettingView {
    pub state: VettingState,
    pub reason: Option<String>,
    /// The reviewer, or `gateway` when a device change reopened the review.
    pub by: Option<String>,
    pub at_unix: i64,
}

/// Credentials are shown only as which HA1 forms exist and a short
/// fingerprint (enough to see that they changed, useless for logging in).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CredentialView {
    pub realm: String,
    pub forms: Vec<&'static str>,
    pub fingerprint: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContactView {
    pub role: ContactRole,
    pub name: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub since_unix: i64,
    pub until_unix: Option<i64>,
    pub changed_by: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ContactsView {
    pub office_lead: Option<ContactView>,
    pub technical_officer: Option<ContactView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceView {
    pub vendor: String,
    pub model: String,
    pub firmware: Option<String>,
    pub serial: Option<String>,
    pub user_agent: String,
    pub first_seen_unix: i64,
    pub last_seen_unix: i64,
    pub maintenance_due: Option<String>,
    pub retired_unix: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceEventView {
    pub at_unix: i64,
    pub kind: String,
    pub before: Option<serde_json::Value>,
    pub after: serde_json::Value,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EndpointView {
    pub id: String,
    pub unit: UnitRef,
    pub display: Option<String>,
    pub protocol: Protocol,
    pub numbers: Vec<String>,
    pub aliases: Vec<String>,
    pub credentials: Option<CredentialView>,
    pub fixed_address: Option<String>,
    pub vetting: VettingView,
    pub contacts: ContactsView,
    pub device: Option<DeviceView>,
    pub created_at_unix: i64,
    pub updated_at_unix: i64,
    /// Every contact, current and replaced (single-endpoint reads only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_history: Option<Vec<ContactView>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_history: Option<Vec<DeviceView>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_events: Option<Vec<DeviceEventView>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserView {
    pub name: String,
    pub role: Role,
    pub unit: Option<UnitRef>,
    pub disabled: bool,
    pub created_at_unix: i64,
    pub created_by: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at_ms: i64,
    pub actor: String,
    pub actor_role: String,
    pub action: String,
    pub object_kind: String,
    pub object_id: String,
    pub unit: Option<UnitRef>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

/// A bearer token, shown once: only its hash is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionToken {
    pub token: String,
    pub token_type: &'static str,
    pub expires_at_unix: i64,
    pub user: String,
    pub role: Role,
    pub unit: Option<UnitRef>,
}

// ---------------------------------------------------------------- inputs

/// Distinguishes an absent field (leave as is) from `null` (clear it).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Digest credentials: a password (turned into both HA1 forms at once and
/// never stored), or the HA1 forms themselves.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialInput {
    /// Defaults to the gateway's realm.
    pub realm: Option<String>,
    pub password: Option<String>,
    pub ha1_md5: Option<String>,
    pub ha1_sha256: Option<String>,
}

impl fmt::Debug for CredentialInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialInput")
            .field("realm", &self.realm)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("ha1_md5", &self.ha1_md5.as_ref().map(|_| "<redacted>"))
            .field(
                "ha1_sha256",
                &self.ha1_sha256.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactInput {
    pub name: String,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactsInput {
    #[serde(default)]
    pub office_lead: Option<ContactInput>,
    #[serde(default)]
    pub technical_officer: Option<ContactInput>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewEndpoint {
    pub id: String,
    pub unit: UnitRef,
    #[serde(default)]
    pub display: Option<String>,
    pub protocol: Protocol,
    #[serde(default)]
    pub numbers: Vec<String>,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub credentials: Option<CredentialInput>,
    #[serde(default)]
    pub fixed_address: Option<String>,
    #[serde(default)]
    pub contacts: ContactsInput,
}

/// A partial update: absent fields stay as they are; `null` clears the
/// nullable ones.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointPatch {
    #[serde(default)]
    pub unit: Option<UnitRef>,
    #[serde(default, deserialize_with = "present")]
    pub display: Option<Option<String>>,
    #[serde(default)]
    pub protocol: Option<Protocol>,
    #[serde(default)]
    pub numbers: Option<Vec<String>>,
    #[serde(default)]
    pub aliases: Option<Vec<String>>,
    #[serde(default)]
    pub credentials: Option<CredentialInput>,
    #[serde(default, deserialize_with = "present")]
    pub fixed_address: Option<Option<String>>,
    #[serde(default)]
    pub contacts: Option<ContactsInput>,
    /// ISO date (YYYY-MM-DD) of the current device's next maintenance.
    #[serde(default, deserialize_with = "present")]
    pub maintenance_due: Option<Option<String>>,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub name: String,
    pub password: String,
    pub role: Role,
    /// `None`: the whole network (only for a creator who has it).
    #[serde(default)]
    pub unit: Option<UnitRef>,
}

impl fmt::Debug for NewUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewUser")
            .field("name", &self.name)
            .field("password", &"<redacted>")
            .field("role", &self.role)
            .field("unit", &self.unit)
            .finish()
    }
}

/// A change to a user: absent fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    #[serde(default)]
    pub role: Option<Role>,
    /// `null`: the whole network (only for an actor who has it).
    #[serde(default, deserialize_with = "present")]
    pub unit: Option<Option<UnitRef>>,
    /// A disabled user cannot log in and its tokens stop working at once.
    #[serde(default)]
    pub disabled: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointQuery {
    /// Only endpoints in this unit's subtree (which must be visible).
    #[serde(default)]
    pub unit: Option<String>,
    #[serde(default)]
    pub vetting: Option<VettingState>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    #[serde(default)]
    pub object_kind: Option<String>,
    #[serde(default)]
    pub object_id: Option<String>,
    /// At most this many rows, newest first (default 100, at most 1000).
    #[serde(default)]
    pub limit: Option<i64>,
}

pub(crate) fn check_text(field: &str, value: &str, max: usize) -> Result<String, AdminError> {
    use unicode_normalization::UnicodeNormalization;
    let v: String = value.trim().nfc().collect();
    if v.is_empty() {
        return Err(AdminError::invalid(field, "must not be empty"));
    }
    if v.chars().count() > max {
        return Err(AdminError::invalid(
            field,
            format!("longer than {max} characters"),
        ));
    }
    if v.chars().any(|c| c.is_control()) {
        return Err(AdminError::invalid(field, "contains control characters"));
    }
    Ok(v)
}
