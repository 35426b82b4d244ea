//! The dialplan through the administration: its versions (list, source,
//! diff, apply, restore), the current version's meetings, trunks and rules
//! scoped to the actor's subtree, and "try a call" on it.
//!
//! The dialplan stays authoritative for routing: a change is a whole new
//! TOML version, validated by `gateway_dialplan` exactly as a file is, and
//! stored with its audit row in one transaction. The dialplan names units
//! by bare code; they are read in the configured default structure (the
//! daemon sets it to the structure the dialplan's units match).

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use gateway_dialplan::{
    Action, Caller, Classification, Dialplan, DialplanError, RouteDecision, RouteOutcome,
    RouteRequest,
};
use gateway_store::{units, DialplanAudit, DialplanVersion, UnitRef};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::model::{Actor, Role, VettingState};
use crate::{Admin, AdminError};

/// Largest dialplan source accepted (the city's 2024 dialplan is 160 kB).
pub const MAX_DIALPLAN_BYTES: usize = 16 * 1024 * 1024;

/// One problem in an uploaded dialplan, where it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DialplanIssue {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub field: String,
    pub message: String,
    /// `file:line:column: field: message`.
    pub text: String,
}

impl From<&DialplanError> for DialplanIssue {
    fn from(e: &DialplanError) -> DialplanIssue {
        DialplanIssue {
            file: e.file.clone(),
            line: e.line,
            column: e.column,
            field: e.field.clone(),
            message: e.message.clone(),
            text: e.to_string(),
        }
    }
}

/// What applying (or restoring) a version did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionChange {
    pub version: DialplanVersion,
    /// `false`: the text was the current version already; nothing stored.
    pub created: bool,
    pub previous: Option<i64>,
    /// The unified diff from the previous current version.
    pub diff: String,
}

/// What a dry run of an upload would change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionCheck {
    pub valid: bool,
    pub current: Option<i64>,
    pub diff: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionSource {
    #[serde(flatten)]
    pub version: DialplanVersion,
    pub current: bool,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionList {
    pub current: Option<i64>,
    pub versions: Vec<DialplanVersion>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MeetingView {
    pub number: String,
    pub name: Option<String>,
    pub aliases: Vec<String>,
    /// The unit of the main bridge point (it owns the recordings).
    pub unit: UnitRef,
    pub classification: Classification,
    /// Only encrypted legs are admitted.
    pub encryption_required: bool,
    pub record: bool,
    pub max_participants: u32,
}

/// A trunk without its password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrunkView {
    pub name: String,
    pub uri: String,
    pub acl: Vec<String>,
    pub username: Option<String>,
    /// The trunk authenticates with digest credentials.
    pub authenticates: bool,
    pub unit: Option<UnitRef>,
    /// `carrier`, `national`, `party` or `authority`.
    pub kind: &'static str,
    /// What callers on the trunk may dial (`null`: anything).
    pub inbound_numbers: Option<Vec<String>>,
    /// What may be sent out over it (`null`: anything).
    pub outbound_numbers: Option<Vec<String>>,
    /// `pass`, `replace:NUMBER` or `prefix:DIGITS`.
    pub caller_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleMatchView {
    pub kind: &'static str,
    pub pattern: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RewriteView {
    pub template: Option<String>,
    pub strip: usize,
    pub prepend: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleView {
    /// Rules are tried in this order (from 0).
    pub position: usize,
    pub name: String,
    #[serde(rename = "match")]
    pub matcher: RuleMatchView,
    pub from_unit: Option<UnitRef>,
    pub from_trunk: Option<String>,
    pub action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trunk: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rewrite: Option<RewriteView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub caller_id: Option<String>,
    pub encryption: Option<&'static str>,
    pub record: Option<bool>,
    pub max_duration_secs: Option<u64>,
    /// The rule's time windows as written (empty: always).
    pub time: Vec<String>,
}

/// "Try a call".
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteQuery {
    /// An endpoint id, `trunk:NAME`, or `anonymous`.
    pub caller: String,
    /// The dialled number, alias or endpoint id.
    pub target: String,
    #[serde(default)]
    pub transport_secure: bool,
    /// The source address of an anonymous caller (trunk ACLs match it);
    /// 0.0.0.0 when absent.
    #[serde(default)]
    pub source: Option<IpAddr>,
    #[serde(default)]
    pub from_user: Option<String>,
    /// When to try the call (RFC 3339, e.g. `2025-07-07T18:30:00+07:00`),
    /// for rules with time windows; now when absent.
    #[serde(default)]
    pub at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouteAnswer {
    /// The dialplan version that decided.
    pub version: i64,
    pub caller: Caller,
    #[serde(flatten)]
    pub decision: RouteDecision,
}

/// The current dialplan, parsed once per version.
#[derive(Default)]
pub(crate) struct CurrentDialplan {
    cached: std::sync::Mutex<Option<(i64, Arc<Dialplan>)>>,
}

fn issues_error(errors: &[DialplanError]) -> AdminError {
    AdminError::DialplanInvalid(errors.iter().map(DialplanIssue::from).collect())
}

fn whole_network(actor: &Actor) -> bool {
    actor.unit_scope.is_none()
}

impl Admin {
    /// Every committed dialplan version (apply, restore) from now on, by
    /// number. The running gateway reloads the stored dialplan on each,
    /// as on SIGHUP. On `RecvError::Lagged` only the newest matters.
    pub fn subscribe_dialplan(&self) -> tokio::sync::broadcast::Receiver<i64> {
        self.dialplan_changes.subscribe()
    }

    fn readable_versions(&self, actor: &Actor) -> Result<(), AdminError> {
        // The source holds every unit's endpoints and trunk credentials:
        // the whole network's administrators and auditors only.
        if whole_network(actor) && matches!(actor.role, Role::CityAdmin | Role::Auditor) {
            Ok(())
        } else {
            Err(AdminError::Forbidden(format!(
                "{} ({}) may not read dialplan versions: they cover the whole network",
                actor.user, actor.role
            )))
        }
    }

    fn applies_versions(&self, actor: &Actor) -> Result<(), AdminError> {
        if whole_network(actor) && actor.role == Role::CityAdmin {
            Ok(())
        } else {
            Err(AdminError::Forbidden(format!(
                "{} ({}) may not apply or restore dialplan versions: only a city-admin of the whole network may",
                actor.user, actor.role
            )))
        }
    }

    async fn current_version(&self) -> Result<Option<i64>, AdminError> {
        Ok(self.store().dialplan_version().await?.map(|v| v.version))
    }

    /// The current dialplan and its version.
    pub async fn current_dialplan(&self) -> Result<(i64, Arc<Dialplan>), AdminError> {
        let Some(version) = self.current_version().await? else {
            return Err(AdminError::NotFound(
                "no dialplan has been imported yet".into(),
            ));
        };
        if let Some((v, dp)) = self.current.cached.lock().ok().and_then(|c| c.clone()) {
            if v == version {
                return Ok((v, dp));
            }
        }
        let (file, src) = self
            .store()
            .dialplan_source(version)
            .await?
            .ok_or_else(|| AdminError::NotFound(format!("dialplan version {version} not found")))?;
        let dp = Arc::new(Dialplan::parse(&src, &file).map_err(|errors| {
            AdminError::Store(gateway_store::StoreError::StoredDialplanInvalid { version, errors })
        })?);
        if let Ok(mut c) = self.current.cached.lock() {
            *c = Some((version, dp.clone()));
        }
        Ok((version, dp))
    }

    pub async fn list_versions(
        &self,
        actor: &Actor,
        limit: Option<i64>,
    ) -> Result<VersionList, AdminError> {
        self.readable_versions(actor)?;
        let versions = self
            .store()
            .dialplan_versions(limit.unwrap_or(100).clamp(1, 1000))
            .await?;
        Ok(VersionList {
            current: self.current_version().await?,
            versions,
        })
    }

    pub(crate) async fn version_source(&self, version: i64) -> Result<VersionSource, AdminError> {
        let not_found = || AdminError::NotFound(format!("dialplan version {version} not found"));
        let (file_name, source) = self
            .store()
            .dialplan_source(version)
            .await?
            .ok_or_else(not_found)?;
        let row = sqlx::query(
            "SELECT sha256, imported_at_unix FROM dialplan_versions WHERE version = $1",
        )
        .bind(version)
        .fetch_optional(self.store().pool())
        .await?
        .ok_or_else(not_found)?;
        Ok(VersionSource {
            version: DialplanVersion {
                version,
                file_name,
                sha256: row.try_get("sha256")?,
                imported_at_unix: row.try_get("imported_at_unix")?,
            },
            current: self.current_version().await? == Some(version),
            source,
        })
    }

    pub async fn get_version(
        &self,
        actor: &Actor,
        version: i64,
    ) -> Result<VersionSource, AdminError> {
        self.readable_versions(actor)?;
        self.version_source(version).await
    }

    /// The unified diff from version `a` to version `b`.
    pub async fn diff_versions(&self, actor: &Actor, a: i64, b: i64) -> Result<String, AdminError> {
        self.readable_versions(actor)?;
        let va = self.version_source(a).await?;
        let vb = self.version_source(b).await?;
        Ok(crate::diff::unified(
            &format!("v{a} {}", va.version.file_name),
            &va.source,
            &format!("v{b} {}", vb.version.file_name),
            &vb.source,
        ))
    }

    /// Validates `source`; on success the diff from the current version,
    /// nothing stored.
    pub async fn check_version(
        &self,
        actor: &Actor,
        source: &str,
        file_name: &str,
    ) -> Result<VersionCheck, AdminError> {
        self.applies_versions(actor)?;
        let file_name = check_file_name(file_name)?;
        Dialplan::parse(source, &file_name).map_err(|e| issues_error(&e))?;
        let current = self.current_version().await?;
        let diff = match current {
            Some(v) => {
                let cur = self.version_source(v).await?;
                crate::diff::unified(
                    &format!("v{v} {}", cur.version.file_name),
                    &cur.source,
                    &format!("new {file_name}"),
                    source,
                )
            }
            None => crate::diff::unified("(none)", "", &format!("new {file_name}"), source),
        };
        Ok(VersionCheck {
            valid: true,
            current,
            diff,
        })
    }

    /// Validates `source` as a dialplan and makes it the current version
    /// (audited `dialplan.apply`); subscribers are told the new number.
    pub async fn apply_version(
        &self,
        actor: &Actor,
        source: &str,
        file_name: &str,
    ) -> Result<VersionChange, AdminError> {
        self.applies_versions(actor)?;
        let file_name = check_file_name(file_name)?;
        if source.len() > MAX_DIALPLAN_BYTES {
            return Err(AdminError::invalid(
                "source",
                format!("larger than {MAX_DIALPLAN_BYTES} bytes"),
            ));
        }
        let dp = Dialplan::parse(source, &file_name).map_err(|e| issues_error(&e))?;
        let audit = self.version_audit(actor, "dialplan.apply", serde_json::json!({}), None);
        self.store_version(&dp, source, &file_name, audit).await
    }

    /// Makes an earlier version current again, as a new version with its
    /// text (audited `dialplan.restore`).
    pub async fn restore_version(
        &self,
        actor: &Actor,
        version: i64,
    ) -> Result<VersionChange, AdminError> {
        self.applies_versions(actor)?;
        let old = self.version_source(version).await?;
        let file_name = old.version.file_name.clone();
        // Stored versions parsed when they were stored; a format change
        // since may have made one invalid, and that is the answer then.
        let dp = Dialplan::parse(&old.source, &file_name).map_err(|e| issues_error(&e))?;
        let detail = serde_json::json!({"restored_from": version});
        let audit = self.version_audit(actor, "dialplan.restore", detail, None);
        self.store_version(&dp, &old.source, &file_name, audit)
            .await
    }

    /// The audit row of a version `actor` stores; `unit` is the owning unit
    /// of a one-object change (`None`: a whole-network one).
    pub(crate) fn version_audit(
        &self,
        actor: &Actor,
        action: &str,
        detail: serde_json::Value,
        unit: Option<&str>,
    ) -> DialplanAudit {
        DialplanAudit {
            at_ms: self.now_ms(),
            actor: actor.user.clone(),
            actor_role: actor.role.as_str().to_string(),
            action: action.to_string(),
            detail,
            unit: unit.map(|code| {
                (
                    self.config().default_structure.to_string(),
                    code.to_string(),
                )
            }),
        }
    }

    pub(crate) async fn store_version(
        &self,
        dp: &Dialplan,
        source: &str,
        file_name: &str,
        audit: DialplanAudit,
    ) -> Result<VersionChange, AdminError> {
        let done = self
            .store()
            .import_dialplan_audited(dp, source, file_name, &audit)
            .await?;
        let diff = match &done.previous {
            Some(p) => {
                let prev = self.version_source(p.version).await?;
                crate::diff::unified(
                    &format!("v{} {}", p.version, p.file_name),
                    &prev.source,
                    &format!("v{} {file_name}", done.version),
                    source,
                )
            }
            None if done.created => crate::diff::unified(
                "(none)",
                "",
                &format!("v{} {file_name}", done.version),
                source,
            ),
            None => String::new(),
        };
        let version = self.version_source(done.version).await?.version;
        if done.created {
            if let Ok(mut c) = self.current.cached.lock() {
                *c = None;
            }
            // No subscriber (the CLI, tests) is not an error.
            let _ = self.dialplan_changes.send(done.version);
        }
        Ok(VersionChange {
            version,
            created: done.created,
            previous: done.previous.map(|p| p.version),
            diff,
        })
    }

    /// The codes of the units the actor sees in the dialplan's structure;
    /// `None` is everything.
    pub(crate) async fn visible_codes(
        &self,
        actor: &Actor,
    ) -> Result<Option<HashSet<String>>, AdminError> {
        let Some(root) = &actor.unit_scope else {
            return Ok(None);
        };
        if root.structure != self.config().default_structure {
            return Ok(Some(HashSet::new()));
        }
        let mut conn = self.store().pool().acquire().await?;
        Ok(Some(
            units::subtree(&mut conn, root)
                .await?
                .into_iter()
                .map(|u| u.code)
                .collect(),
        ))
    }

    fn unit_ref(&self, code: &str) -> UnitRef {
        UnitRef::new(self.config().default_structure, code)
    }

    pub(crate) fn meeting_view(&self, m: &gateway_dialplan::Meeting) -> MeetingView {
        MeetingView {
            number: m.number.clone(),
            name: m.name.clone(),
            aliases: m.aliases.clone(),
            unit: self.unit_ref(&m.unit),
            classification: m.classification,
            encryption_required: m.classification.requires_encryption(),
            record: m.record,
            max_participants: m.max_participants,
        }
    }

    /// The current dialplan's meetings whose unit is in the actor's subtree.
    pub async fn list_meetings(&self, actor: &Actor) -> Result<Vec<MeetingView>, AdminError> {
        let (_, dp) = self.current_dialplan().await?;
        let seen = self.visible_codes(actor).await?;
        Ok(dp
            .meetings()
            .iter()
            .filter(|m| seen.as_ref().is_none_or(|s| s.contains(&m.unit)))
            .map(|m| self.meeting_view(m))
            .collect())
    }

    /// One meeting by number (or alias); 404 outside the actor's subtree.
    pub async fn get_meeting(
        &self,
        actor: &Actor,
        number: &str,
    ) -> Result<MeetingView, AdminError> {
        let (_, dp) = self.current_dialplan().await?;
        let seen = self.visible_codes(actor).await?;
        dp.meeting_by_user(number)
            .filter(|m| seen.as_ref().is_none_or(|s| s.contains(&m.unit)))
            .map(|m| self.meeting_view(m))
            .ok_or_else(|| AdminError::NotFound(format!("meeting {number} not found")))
    }

    /// Trunks of units in the actor's subtree; trunks of no unit belong to
    /// the whole network.
    pub async fn list_trunks(&self, actor: &Actor) -> Result<Vec<TrunkView>, AdminError> {
        let (_, dp) = self.current_dialplan().await?;
        let seen = self.visible_codes(actor).await?;
        Ok(dp
            .trunks()
            .iter()
            .filter(|t| visible_opt(&seen, t.unit.as_deref()))
            .map(|t| TrunkView {
                name: t.name.clone(),
                uri: t.uri.to_string(),
                acl: t.acl.iter().map(|c| c.to_string()).collect(),
                username: t.username.clone(),
                authenticates: t.password.is_some(),
                unit: t.unit.as_deref().map(|u| self.unit_ref(u)),
                kind: t.kind.as_str(),
                inbound_numbers: t
                    .inbound_numbers
                    .as_ref()
                    .map(|l| l.iter().map(|n| n.to_string()).collect()),
                outbound_numbers: t
                    .outbound_numbers
                    .as_ref()
                    .map(|l| l.iter().map(|n| n.to_string()).collect()),
                caller_id: t.caller_id.to_string(),
            })
            .collect())
    }

    /// Rules whose `from_unit` is in the actor's subtree; rules for every
    /// caller (no `from_unit`) belong to the whole network.
    pub async fn list_rules(&self, actor: &Actor) -> Result<Vec<RuleView>, AdminError> {
        let (_, dp) = self.current_dialplan().await?;
        let seen = self.visible_codes(actor).await?;
        Ok(dp
            .rules()
            .iter()
            .enumerate()
            .filter(|(_, r)| visible_opt(&seen, r.from_unit.as_deref()))
            .map(|(i, r)| {
                let mut v = RuleView {
                    position: i,
                    name: r.name.clone(),
                    matcher: RuleMatchView {
                        kind: r.matcher.kind(),
                        pattern: r.matcher.pattern().to_string(),
                    },
                    from_unit: r.from_unit.as_deref().map(|u| self.unit_ref(u)),
                    from_trunk: r.from_trunk.clone(),
                    action: r.action.kind(),
                    endpoint: None,
                    trunk: None,
                    uri: None,
                    rewrite: None,
                    status: None,
                    reason: None,
                    caller_id: r.caller_id.clone(),
                    encryption: r.encryption.map(|e| e.as_str()),
                    record: r.record,
                    max_duration_secs: r.max_duration_secs,
                    time: r.windows.iter().map(|w| w.text.clone()).collect(),
                };
                let rewrite = |w: &gateway_dialplan::Rewrite| RewriteView {
                    template: w.template.as_ref().map(|t| t.as_str().to_string()),
                    strip: w.strip,
                    prepend: w.prepend.clone(),
                };
                match &r.action {
                    Action::Endpoint { target } => v.endpoint = Some(target.clone()),
                    Action::Trunk { trunk, rewrite: w } => {
                        v.trunk = Some(trunk.clone());
                        v.rewrite = Some(rewrite(w));
                    }
                    Action::Uri { uri, rewrite: w } => {
                        v.uri = Some(uri.as_str().to_string());
                        v.rewrite = Some(rewrite(w));
                    }
                    Action::Reject { status, reason } => {
                        v.status = Some(*status);
                        v.reason = Some(reason.clone());
                    }
                }
                v
            })
            .collect())
    }

    /// Routes a call on the current dialplan as the gateway would, from a
    /// caller in the actor's subtree: the decision, its policy and trace.
    /// A caller the registry holds as not approved is refused as the
    /// gateway's vetting gate refuses it.
    pub async fn try_route(
        &self,
        actor: &Actor,
        q: &RouteQuery,
    ) -> Result<RouteAnswer, AdminError> {
        let (version, dp) = self.current_dialplan().await?;
        let seen = self.visible_codes(actor).await?;
        if q.target.len() > 256 {
            return Err(AdminError::invalid("target", "longer than 256 bytes"));
        }
        let at_unix_secs = match &q.at {
            Some(at) => {
                gateway_dialplan::parse_rfc3339(at).map_err(|e| AdminError::invalid("at", e))?
            }
            None => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64),
        };
        let caller = if q.caller == "anonymous" {
            if seen.is_some() {
                return Err(AdminError::Forbidden(format!(
                    "{} ({}) may try anonymous calls only with the whole network in scope",
                    actor.user, actor.role
                )));
            }
            Caller::Anonymous {
                source: q.source.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            }
        } else if let Some(name) = q.caller.strip_prefix("trunk:") {
            let visible = match dp.trunk(name) {
                Some(t) => visible_opt(&seen, t.unit.as_deref()),
                None => seen.is_none(),
            };
            if !visible {
                return Err(AdminError::NotFound(format!("trunk {name} not found")));
            }
            Caller::Trunk(name.to_string())
        } else {
            let visible = match dp.endpoint(&q.caller) {
                Some(e) => visible_opt(&seen, Some(&e.unit)),
                None => seen.is_none(),
            };
            if !visible {
                return Err(AdminError::NotFound(format!(
                    "endpoint {} not found",
                    q.caller
                )));
            }
            Caller::Endpoint(q.caller.clone())
        };
        let req = RouteRequest {
            caller: caller.clone(),
            from_user: q.from_user.clone(),
            target: q.target.clone(),
            transport_secure: q.transport_secure,
            at_unix_secs,
        };
        let mut decision = dp.route(&req);
        if let Caller::Endpoint(id) = &caller {
            if let Some((state, reason)) = self.registry_vetting(id).await? {
                if state != VettingState::Approved {
                    let why = format!(
                        "Endpoint {id} is {} security vetting",
                        if state == VettingState::Pending {
                            "pending"
                        } else {
                            "suspended from"
                        }
                    );
                    decision.trace.insert(
                        0,
                        format!(
                            "registry: endpoint {id} is {}{}",
                            state.as_str(),
                            reason.map(|r| format!(" ({r})")).unwrap_or_default()
                        ),
                    );
                    decision.trace.push(format!("reject 403 {why}"));
                    decision.outcome = RouteOutcome::Reject {
                        status: 403,
                        reason: why,
                    };
                }
            }
        }
        Ok(RouteAnswer {
            version,
            caller,
            decision,
        })
    }

    async fn registry_vetting(
        &self,
        id: &str,
    ) -> Result<Option<(VettingState, Option<String>)>, AdminError> {
        let row =
            sqlx::query("SELECT vetting_state, vetting_reason FROM adm_endpoints WHERE id = $1")
                .bind(id)
                .fetch_optional(self.store().pool())
                .await?;
        match row {
            Some(r) => {
                let s: String = r.try_get("vetting_state")?;
                Ok(Some((
                    VettingState::parse(&s).unwrap_or(VettingState::Pending),
                    r.try_get("vetting_reason")?,
                )))
            }
            None => Ok(None),
        }
    }
}

/// An object of `unit` (or of the whole network, `None`) is visible to an
/// actor who sees `seen` (everything: `None`).
pub(crate) fn visible_opt(seen: &Option<HashSet<String>>, unit: Option<&str>) -> bool {
    match (seen, unit) {
        (None, _) => true,
        (Some(s), Some(u)) => s.contains(u),
        (Some(_), None) => false,
    }
}

fn check_file_name(name: &str) -> Result<String, AdminError> {
    let name = name.trim();
    if name.is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
        return Err(AdminError::invalid(
            "file_name",
            "1 to 200 characters, no control characters",
        ));
    }
    Ok(name.to_string())
}
