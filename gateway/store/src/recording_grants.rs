//! Grants of access to recordings between units, and the question every
//! recordings read asks: which recordings may someone administering a unit
//! subtree see?
//!
//! A recording belongs to the unit of its meeting's main bridge point; a
//! grant lets another unit read that unit's recordings (all of them, or
//! one). Grants are revoked, never deleted, so the table is also the record
//! of who could read what and when.
//!
//! The functions take a connection so that the administration can run them
//! in the same transaction as the audit row of the change; [`insert`] takes
//! its id with `units::next_id` and so belongs inside
//! `Store::begin_admin`'s serialized transaction.

use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::units::{next_id, SUBTREE_CTE};
use crate::{StoreError, Structure, UnitRef};

/// Longest reason, recording id or user name accepted.
const MAX_TEXT: usize = 1024;

/// One grant: `grantee` (and whoever administers a subtree containing it)
/// may read the recordings of `owner`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingGrant {
    pub id: i64,
    pub owner: UnitRef,
    pub grantee: UnitRef,
    /// Only this recording; `None` is every recording of the owner.
    pub recording_id: Option<String>,
    pub reason: Option<String>,
    pub granted_by: String,
    pub created_at_unix: i64,
    /// Exclusive: at this second the grant no longer applies.
    pub expires_at_unix: Option<i64>,
    pub revoked_at_unix: Option<i64>,
    pub revoked_by: Option<String>,
}

impl RecordingGrant {
    /// Neither revoked nor expired at `now_unix`.
    pub fn active_at(&self, now_unix: i64) -> bool {
        self.revoked_at_unix.is_none() && self.expires_at_unix.is_none_or(|e| now_unix < e)
    }
}

/// What a new grant says; who and when are the insert's arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRecordingGrant {
    pub owner: UnitRef,
    pub grantee: UnitRef,
    pub recording_id: Option<String>,
    pub reason: Option<String>,
    pub expires_at_unix: Option<i64>,
}

/// How an actor came to see a recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordingAccess {
    /// The owning unit lies in the actor's subtree (or the actor has the
    /// whole network).
    Owner,
    /// Only through an active grant to a unit in the actor's subtree.
    Granted,
}

/// Narrows [`visible_recordings`]; empty fields do not filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordingFilter<'a> {
    pub id: Option<&'a str>,
    /// The owner's bare code (as recordings store it).
    pub owner_code: Option<&'a str>,
    pub limit: i64,
}

const COLUMNS: &str = "id, owner_structure, owner_code, grantee_structure, grantee_code, \
    recording_id, reason, granted_by, created_at_unix, expires_at_unix, revoked_at_unix, revoked_by";

fn structure_of(field: &'static str, s: String) -> Result<Structure, StoreError> {
    Structure::parse(&s).ok_or(StoreError::Invalid { field, detail: s })
}

fn from_row(r: &AnyRow) -> Result<RecordingGrant, StoreError> {
    Ok(RecordingGrant {
        id: r.try_get("id")?,
        owner: UnitRef::new(
            structure_of(
                "recording_grants.owner_structure",
                r.try_get("owner_structure")?,
            )?,
            r.try_get::<String, _>("owner_code")?,
        ),
        grantee: UnitRef::new(
            structure_of(
                "recording_grants.grantee_structure",
                r.try_get("grantee_structure")?,
            )?,
            r.try_get::<String, _>("grantee_code")?,
        ),
        recording_id: r.try_get("recording_id")?,
        reason: r.try_get("reason")?,
        granted_by: r.try_get("granted_by")?,
        created_at_unix: r.try_get("created_at_unix")?,
        expires_at_unix: r.try_get("expires_at_unix")?,
        revoked_at_unix: r.try_get("revoked_at_unix")?,
        revoked_by: r.try_get("revoked_by")?,
    })
}

fn check_len(field: &'static str, s: &str) -> Result<(), StoreError> {
    if s.is_empty() || s.len() > MAX_TEXT {
        return Err(StoreError::Invalid {
            field,
            detail: format!("must be 1..={MAX_TEXT} bytes, got {}", s.len()),
        });
    }
    Ok(())
}

/// Stores a new grant, active from `now_unix`. The units must exist in
/// `adm_units`; policy (who may grant, to whom) is the administration's.
pub async fn insert(
    conn: &mut AnyConnection,
    g: &NewRecordingGrant,
    by: &str,
    now_unix: i64,
) -> Result<RecordingGrant, StoreError> {
    check_len("recording_grant.granted_by", by)?;
    if let Some(r) = &g.recording_id {
        check_len("recording_grant.recording_id", r)?;
    }
    if let Some(r) = &g.reason {
        check_len("recording_grant.reason", r)?;
    }
    if g.owner == g.grantee {
        return Err(StoreError::Invalid {
            field: "recording_grant.grantee",
            detail: "a unit already reads its own recordings".into(),
        });
    }
    if g.expires_at_unix.is_some_and(|e| e <= now_unix) {
        return Err(StoreError::Invalid {
            field: "recording_grant.expires_at_unix",
            detail: "must lie in the future".into(),
        });
    }
    let id = next_id(conn, "recording_grants").await?;
    sqlx::query(&format!(
        "INSERT INTO recording_grants ({COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, NULL)"
    ))
    .bind(id)
    .bind(g.owner.structure.as_str())
    .bind(g.owner.code.clone())
    .bind(g.grantee.structure.as_str())
    .bind(g.grantee.code.clone())
    .bind(g.recording_id.clone())
    .bind(g.reason.clone())
    .bind(by.to_string())
    .bind(now_unix)
    .bind(g.expires_at_unix)
    .execute(&mut *conn)
    .await?;
    Ok(RecordingGrant {
        id,
        owner: g.owner.clone(),
        grantee: g.grantee.clone(),
        recording_id: g.recording_id.clone(),
        reason: g.reason.clone(),
        granted_by: by.to_string(),
        created_at_unix: now_unix,
        expires_at_unix: g.expires_at_unix,
        revoked_at_unix: None,
        revoked_by: None,
    })
}

pub async fn get(conn: &mut AnyConnection, id: i64) -> Result<Option<RecordingGrant>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM recording_grants WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Every grant `owner` gave, revoked and expired ones included, newest first.
pub async fn list_by_owner(
    conn: &mut AnyConnection,
    owner: &UnitRef,
) -> Result<Vec<RecordingGrant>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM recording_grants WHERE owner_structure = $1 AND owner_code = $2 \
         ORDER BY id DESC"
    ))
    .bind(owner.structure.as_str())
    .bind(owner.code.clone())
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(from_row).collect()
}

/// Every grant `grantee` received, newest first.
pub async fn list_by_grantee(
    conn: &mut AnyConnection,
    grantee: &UnitRef,
) -> Result<Vec<RecordingGrant>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM recording_grants WHERE grantee_structure = $1 AND grantee_code = $2 \
         ORDER BY id DESC"
    ))
    .bind(grantee.structure.as_str())
    .bind(grantee.code.clone())
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(from_row).collect()
}

/// The active grant of exactly this shape (same owner, grantee and
/// recording or all), if there is one: a second would say nothing new.
pub async fn find_active(
    conn: &mut AnyConnection,
    owner: &UnitRef,
    grantee: &UnitRef,
    recording_id: Option<&str>,
    now_unix: i64,
) -> Result<Option<RecordingGrant>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM recording_grants WHERE owner_structure = $1 AND owner_code = $2 \
         AND grantee_structure = $3 AND grantee_code = $4 \
         AND COALESCE(recording_id, '') = $5 AND revoked_at_unix IS NULL \
         AND (expires_at_unix IS NULL OR expires_at_unix > $6) ORDER BY id LIMIT 1"
    ))
    .bind(owner.structure.as_str())
    .bind(owner.code.clone())
    .bind(grantee.structure.as_str())
    .bind(grantee.code.clone())
    .bind(recording_id.unwrap_or("").to_string())
    .bind(now_unix)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Revokes a grant. `Ok(false)`: no such grant, or revoked already (the
/// first revocation's who and when stay).
pub async fn revoke(
    conn: &mut AnyConnection,
    id: i64,
    by: &str,
    now_unix: i64,
) -> Result<bool, StoreError> {
    check_len("recording_grant.revoked_by", by)?;
    let done = sqlx::query(
        "UPDATE recording_grants SET revoked_at_unix = $2, revoked_by = $3 \
         WHERE id = $1 AND revoked_at_unix IS NULL",
    )
    .bind(id)
    .bind(now_unix)
    .bind(by.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// The ids of the recordings visible from `root`'s subtree (`None`: the
/// whole network sees everything) at `now_unix`, newest first: those whose
/// unit (a bare code of `structure`) lies in the subtree, and those of an
/// owner with an active grant to a unit in the subtree (covering all its
/// recordings or that one).
pub async fn visible_recordings(
    conn: &mut AnyConnection,
    root: Option<&UnitRef>,
    structure: Structure,
    now_unix: i64,
    filter: RecordingFilter<'_>,
) -> Result<Vec<(String, RecordingAccess)>, StoreError> {
    let id = filter.id.unwrap_or("").to_string();
    let owner = filter.owner_code.unwrap_or("").to_string();
    let limit = filter.limit.max(0);
    let Some(root) = root else {
        let rows = sqlx::query(
            "SELECT r.id FROM recordings r WHERE ($1 = '' OR r.id = $1) \
             AND ($2 = '' OR r.unit_code = $2) \
             ORDER BY r.started_at_ms DESC, r.id DESC LIMIT $3",
        )
        .bind(id)
        .bind(owner)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
        return rows
            .iter()
            .map(|r| Ok((r.try_get::<String, _>("id")?, RecordingAccess::Owner)))
            .collect();
    };
    let owned = "EXISTS (SELECT 1 FROM scope s WHERE s.structure = $3 AND s.code = r.unit_code)";
    let rows = sqlx::query(&format!(
        "{SUBTREE_CTE}SELECT r.id, CASE WHEN {owned} THEN 'owner' ELSE 'granted' END AS access \
         FROM recordings r \
         WHERE ($5 = '' OR r.id = $5) AND ($6 = '' OR r.unit_code = $6) AND ({owned} OR EXISTS ( \
           SELECT 1 FROM recording_grants g \
           JOIN scope s ON s.structure = g.grantee_structure AND s.code = g.grantee_code \
           WHERE g.owner_structure = $3 AND g.owner_code = r.unit_code \
           AND g.revoked_at_unix IS NULL \
           AND (g.expires_at_unix IS NULL OR g.expires_at_unix > $4) \
           AND (g.recording_id IS NULL OR g.recording_id = r.id))) \
         ORDER BY r.started_at_ms DESC, r.id DESC LIMIT $7"
    ))
    .bind(root.structure.as_str())
    .bind(root.code.clone())
    .bind(structure.as_str())
    .bind(now_unix)
    .bind(id)
    .bind(owner)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            let access: String = r.try_get("access")?;
            Ok((
                r.try_get::<String, _>("id")?,
                if access == "owner" {
                    RecordingAccess::Owner
                } else {
                    RecordingAccess::Granted
                },
            ))
        })
        .collect()
}
