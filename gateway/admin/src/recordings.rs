//! Meeting recordings through the administration: who may list them, fetch
//! their files, and give other units access.
//!
//! A recording belongs to the unit of its meeting's main bridge point (the
//! row's bare unit code, read in the configured default structure, as the
//! dialplan's units are). The regulation has that unit keep the record and
//! provide it to other units on request; here that request is answered with
//! a grant.
//!
//! Access rules:
//! - An actor sees (lists, reads) a recording when its owning unit lies in
//!   the actor's subtree, or when the owner has an active grant (not
//!   revoked, not expired) to a unit in the actor's subtree, for all its
//!   recordings or that one. A grant to a district therefore reaches the
//!   district's administrators, not the wards below it. Anything else is
//!   404, as for every other object.
//! - Every role may list and read what it sees (auditors included).
//! - The file of a `normal` recording: city-admin, unit-admin, operator and
//!   auditor; a security-reviewer vets devices and has no need for meeting
//!   content (403).
//! - The file of a classified one (`confidential`, `secret`, or any sealed
//!   file): only city-admin and unit-admin. Sealed files are decrypted on
//!   the fly with the gateway's recording key; the plaintext never touches
//!   the disk and is streamed only in chunks that passed their GCM check.
//! - Every file fetch is audited (`recording.fetch`: who, role, when, which
//!   recording, classification, whether it was decrypted, own or granted),
//!   under the owning unit, so the owner's auditors see who read its records.
//! - Grants: listed by anyone who sees the owning unit; created and revoked
//!   only by a city-admin or unit-admin who sees the owning unit (403 for
//!   other roles, 404 for a unit outside the subtree), audited with before
//!   and after (`recording_grant.create`, `recording_grant.revoke`).
//!
//! REST shape: recordings under `/api/v1/recordings`, grants under the
//! owning unit (`/api/v1/units/{structure}/{code}/recording-grants`), since
//! a grant is the unit's decision about all (or one) of its recordings.

use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use gateway_media::meeting::seal::{self, RecordingKey};
use gateway_store::recording_grants::{self, NewRecordingGrant, RecordingFilter};
use gateway_store::units;
use gateway_store::{Recording, RecordingAccess, RecordingGrant, UnitRef};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::AnyConnection;

use crate::api::{ApiJson, ApiQuery, Authed, Problem};
use crate::model::{check_text, Actor, Role};
use crate::{Admin, AdminError, Structure};

/// Where recording files are and the key that opens sealed ones. The
/// router reads it from the request extensions: mount the API with
/// `router(admin).layer(Extension(files))`; without it file fetches answer
/// 503 (listing works without files).
#[derive(Clone)]
pub struct RecordingFiles {
    data_dir: PathBuf,
    key: Option<Arc<RecordingKey>>,
}

impl std::fmt::Debug for RecordingFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingFiles")
            .field("data_dir", &self.data_dir)
            .field("key", &self.key.as_ref().map(|k| k.id_hex()))
            .finish()
    }
}

impl RecordingFiles {
    /// `data_dir`: what recording rows' paths are relative to; `key`: the
    /// gateway's recording key (`None`: sealed files cannot be served).
    pub fn new(data_dir: impl Into<PathBuf>, key: Option<Arc<RecordingKey>>) -> RecordingFiles {
        RecordingFiles {
            data_dir: data_dir.into(),
            key,
        }
    }

    /// With the key read from `key_file` (32 bytes); a missing file is no
    /// key. Never creates one: that is the recorder's job.
    pub fn with_key_file(
        data_dir: impl Into<PathBuf>,
        key_file: &Path,
    ) -> io::Result<RecordingFiles> {
        let key = match std::fs::File::open(key_file) {
            Ok(mut f) => Some(Arc::new(RecordingKey::read_from(&mut f)?)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        Ok(RecordingFiles::new(data_dir, key))
    }

    /// The row's path under the data directory; stored paths are checked
    /// when written, and again here before anything is opened.
    fn path_of(&self, r: &Recording) -> Result<PathBuf, RecordingError> {
        let rel = Path::new(&r.file_path);
        let inside =
            !r.file_path.is_empty() && rel.components().all(|c| matches!(c, Component::Normal(_)));
        if !inside {
            return Err(RecordingError::Corrupt(format!(
                "recording {} has a file path outside the data directory",
                r.id
            )));
        }
        Ok(self.data_dir.join(rel))
    }
}

/// What a file fetch refuses beyond the administration's usual answers.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    #[error(transparent)]
    Admin(#[from] AdminError),
    /// This gateway cannot serve the file now (no files configured, the
    /// file is not on this node, no key or another key): 503.
    #[error("{0}")]
    Unavailable(String),
    /// The stored file is not what was recorded: 500, nothing is served.
    #[error("{0}")]
    Corrupt(String),
}

impl From<RecordingError> for Problem {
    fn from(e: RecordingError) -> Problem {
        match e {
            RecordingError::Admin(e) => e.into(),
            RecordingError::Unavailable(d) => Problem::new(StatusCode::SERVICE_UNAVAILABLE, d),
            RecordingError::Corrupt(d) => {
                tracing::error!(detail = %d, "recording file refused");
                Problem::new(StatusCode::INTERNAL_SERVER_ERROR, d)
            }
        }
    }
}

// ---------------------------------------------------------------- views

/// A recording as the API shows it: no server path, and how the actor came
/// to see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordingView {
    pub id: String,
    pub meeting_number: String,
    /// The owning unit (the meeting's main bridge point).
    pub unit: UnitRef,
    pub classification: String,
    pub status: String,
    pub started_at_ms: i64,
    pub ended_at_ms: Option<i64>,
    pub duration_ms: Option<i64>,
    /// Of the file as stored (ciphertext for sealed ones).
    pub size_bytes: Option<i64>,
    pub codec: String,
    pub encrypted: bool,
    pub key_id: Option<String>,
    pub sha256: Option<String>,
    pub participants: i64,
    pub packets_dropped: i64,
    pub access: RecordingAccess,
    /// Whether this actor's role may fetch the file (see the module doc).
    pub may_fetch: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordingGrantView {
    #[serde(flatten)]
    pub grant: RecordingGrant,
    /// Neither revoked nor expired now.
    pub active: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordingQuery {
    /// Only recordings of this owning unit (`CODE` or `STRUCTURE/CODE`).
    #[serde(default)]
    pub unit: Option<String>,
    /// At most this many, newest first (default 100, at most 1000).
    #[serde(default)]
    pub limit: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewGrant {
    pub grantee: UnitRef,
    /// Only this recording of the owner; absent: all of them.
    #[serde(default)]
    pub recording_id: Option<String>,
    /// Why, e.g. the written request it answers.
    #[serde(default)]
    pub reason: Option<String>,
    /// Unix seconds, exclusive; absent: until revoked.
    #[serde(default)]
    pub expires_at_unix: Option<i64>,
}

fn classified(r: &Recording) -> bool {
    r.encrypted || r.classification != "normal"
}

fn may_fetch(role: Role, r: &Recording) -> bool {
    if classified(r) {
        matches!(role, Role::CityAdmin | Role::UnitAdmin)
    } else {
        !matches!(role, Role::SecurityReviewer)
    }
}

fn grants_recordings(role: Role) -> bool {
    matches!(role, Role::CityAdmin | Role::UnitAdmin)
}

fn not_found(id: &str) -> AdminError {
    AdminError::NotFound(format!("recording {id} not found"))
}

fn grant_not_found(id: &str) -> AdminError {
    AdminError::NotFound(format!("recording grant {id} not found"))
}

async fn unit_visible(
    conn: &mut AnyConnection,
    actor: &Actor,
    unit: &UnitRef,
) -> Result<(), AdminError> {
    let seen = match &actor.unit_scope {
        None => units::unit(conn, unit).await?.is_some(),
        Some(root) => units::in_subtree(conn, root, unit).await?,
    };
    if seen {
        Ok(())
    } else {
        Err(AdminError::NotFound(format!("unit {unit} not found")))
    }
}

/// The audit row of a recordings action, in the caller's transaction.
#[allow(clippy::too_many_arguments)]
async fn audit(
    conn: &mut AnyConnection,
    at_ms: i64,
    actor: &Actor,
    action: &str,
    object_kind: &str,
    object_id: &str,
    unit: &UnitRef,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) -> Result<(), AdminError> {
    crate::ops::write_audit(
        conn,
        at_ms,
        actor.user.as_str(),
        actor.role.as_str(),
        action,
        object_kind,
        object_id,
        Some(unit),
        before,
        after,
    )
    .await
}

fn to_json<T: Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

/// A file ready to stream: checked, audited, not yet read.
pub struct RecordingFile {
    pub recording: RecordingView,
    path: PathBuf,
    key: Option<Arc<RecordingKey>>,
    /// Plaintext length, when known before decrypting.
    pub content_length: Option<u64>,
}

impl RecordingFile {
    /// Whether the stream is decrypted from a sealed file.
    pub fn decrypted(&self) -> bool {
        self.key.is_some()
    }

    /// The plain Ogg bytes, in chunks as they are read (and, for a sealed
    /// file, verified). A failure part-way ends the stream with an error,
    /// so a client sees a cut transfer, never unverified bytes.
    pub fn stream(self) -> RecordingStream {
        let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(4);
        tokio::task::spawn_blocking(move || {
            let result = (|| -> io::Result<()> {
                let mut file = io::BufReader::new(std::fs::File::open(&self.path)?);
                let mut out = ChannelWriter { tx: tx.clone() };
                match &self.key {
                    Some(key) => seal::open_stream(&mut file, &mut out, key)
                        .map(|_| ())
                        .map_err(|e| io::Error::other(e.to_string())),
                    None => io::copy(&mut file, &mut out).map(|_| ()),
                }
            })();
            if let Err(e) = result {
                tracing::warn!(path = %self.path.display(), error = %e, "recording stream failed");
                let _ = tx.blocking_send(Err(e));
            }
        });
        RecordingStream { rx }
    }
}

/// Bytes of a recording file as an async stream (for a response body).
pub struct RecordingStream {
    rx: tokio::sync::mpsc::Receiver<io::Result<Bytes>>,
}

impl futures_core::Stream for RecordingStream {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}

/// Hands each write to the response; a gone client stops the reader.
struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<io::Result<Bytes>>,
}

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.tx
            .blocking_send(Ok(Bytes::copy_from_slice(buf)))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Hex SHA-256 of a file, off the async threads.
async fn file_sha256(path: PathBuf) -> io::Result<String> {
    tokio::task::spawn_blocking(move || {
        let mut f = std::fs::File::open(path)?;
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        Ok(hex::encode(h.finalize()))
    })
    .await
    .map_err(|e| io::Error::other(e.to_string()))?
}

impl Admin {
    fn recording_unit(&self, r: &Recording) -> UnitRef {
        UnitRef::new(self.config().default_structure, r.unit_code.clone())
    }

    fn recording_view(
        &self,
        actor: &Actor,
        r: Recording,
        access: RecordingAccess,
    ) -> RecordingView {
        RecordingView {
            unit: self.recording_unit(&r),
            may_fetch: may_fetch(actor.role, &r),
            id: r.id,
            meeting_number: r.meeting_number,
            classification: r.classification,
            status: r.status,
            started_at_ms: r.started_at_ms,
            ended_at_ms: r.ended_at_ms,
            duration_ms: r.duration_ms,
            size_bytes: r.size_bytes,
            codec: r.codec,
            encrypted: r.encrypted,
            key_id: r.key_id,
            sha256: r.sha256,
            participants: r.participants,
            packets_dropped: r.packets_dropped,
            access,
        }
    }

    /// The recording and how the actor sees it; 404 when it does not.
    async fn visible_recording(
        &self,
        actor: &Actor,
        id: &str,
    ) -> Result<(Recording, RecordingAccess), AdminError> {
        if id.is_empty() || id.len() > 1024 {
            return Err(not_found(id));
        }
        let mut conn = self.store().pool().acquire().await?;
        let found = recording_grants::visible_recordings(
            &mut conn,
            actor.unit_scope.as_ref(),
            self.config().default_structure,
            self.now_ms().div_euclid(1000),
            RecordingFilter {
                id: Some(id),
                owner_code: None,
                limit: 1,
            },
        )
        .await?;
        drop(conn);
        let Some((_, access)) = found.into_iter().next() else {
            return Err(not_found(id));
        };
        let r = self
            .store()
            .get_recording(id)
            .await?
            .ok_or_else(|| not_found(id))?;
        Ok((r, access))
    }

    /// Recordings the actor sees (own subtree's, and granted ones), newest
    /// first.
    pub async fn list_recordings(
        &self,
        actor: &Actor,
        q: &RecordingQuery,
    ) -> Result<Vec<RecordingView>, AdminError> {
        let limit = q.limit.unwrap_or(100).clamp(1, 1000);
        let owner = match &q.unit {
            Some(u) => {
                let u = self.parse_unit(u)?;
                if u.structure != self.config().default_structure {
                    // Recordings name units of the default structure only.
                    return Ok(Vec::new());
                }
                Some(u.code)
            }
            None => None,
        };
        let mut conn = self.store().pool().acquire().await?;
        let ids = recording_grants::visible_recordings(
            &mut conn,
            actor.unit_scope.as_ref(),
            self.config().default_structure,
            self.now_ms().div_euclid(1000),
            RecordingFilter {
                id: None,
                owner_code: owner.as_deref(),
                limit,
            },
        )
        .await?;
        drop(conn);
        let mut out = Vec::with_capacity(ids.len());
        for (id, access) in ids {
            // Gone between the two reads (retention): not listed.
            if let Some(r) = self.store().get_recording(&id).await? {
                out.push(self.recording_view(actor, r, access));
            }
        }
        Ok(out)
    }

    pub async fn get_recording(
        &self,
        actor: &Actor,
        id: &str,
    ) -> Result<RecordingView, AdminError> {
        let (r, access) = self.visible_recording(actor, id).await?;
        Ok(self.recording_view(actor, r, access))
    }

    /// Checks that the actor may fetch the file and that this gateway can
    /// serve it (the file is here, unchanged since it was recorded, and
    /// sealed with the key this gateway holds), then audits the fetch.
    pub async fn open_recording(
        &self,
        actor: &Actor,
        id: &str,
        files: Option<&RecordingFiles>,
    ) -> Result<RecordingFile, RecordingError> {
        let (r, access) = self.visible_recording(actor, id).await?;
        if !may_fetch(actor.role, &r) {
            let what = if classified(&r) {
                format!("the file of a {} recording", r.classification)
            } else {
                "recording files".to_string()
            };
            return Err(AdminError::Forbidden(format!(
                "{} ({}) may not fetch {what}",
                actor.user, actor.role
            ))
            .into());
        }
        if r.status == "recording" {
            return Err(AdminError::Conflict(format!(
                "recording {id} is still being recorded; its file is served once it is closed"
            ))
            .into());
        }
        let files = files.ok_or_else(|| {
            RecordingError::Unavailable(
                "this gateway does not serve recording files (no data directory configured)".into(),
            )
        })?;
        let path = files.path_of(&r)?;
        let key = if r.encrypted {
            let key = files.key.clone().ok_or_else(|| {
                RecordingError::Unavailable(format!(
                    "recording {id} is sealed and this gateway holds no recording key"
                ))
            })?;
            if r.key_id.as_deref() != Some(key.id_hex().as_str()) {
                return Err(RecordingError::Unavailable(format!(
                    "recording {id} is sealed with key {}; this gateway holds key {}",
                    r.key_id.as_deref().unwrap_or("?"),
                    key.id_hex()
                )));
            }
            Some(key)
        } else {
            None
        };
        let meta = tokio::fs::metadata(&path).await.map_err(|_| {
            RecordingError::Unavailable(format!(
                "the file of recording {id} is not on this gateway node \
                 (recorded on another node, or removed)"
            ))
        })?;
        if let Some(want) = &r.sha256 {
            let got = file_sha256(path.clone()).await.map_err(|e| {
                RecordingError::Unavailable(format!(
                    "the file of recording {id} cannot be read: {e}"
                ))
            })?;
            if !got.eq_ignore_ascii_case(want) {
                return Err(RecordingError::Corrupt(format!(
                    "the file of recording {id} does not match its recorded SHA-256; it is not served"
                )));
            }
        }
        let unit = self.recording_unit(&r);
        let decrypted = key.is_some();
        let view = self.recording_view(actor, r, access);
        let mut tx = self.store().begin_admin().await.map_err(AdminError::from)?;
        audit(
            &mut tx,
            self.now_ms(),
            actor,
            "recording.fetch",
            "recording",
            id,
            &unit,
            None,
            Some(serde_json::json!({
                "classification": view.classification,
                "encrypted": view.encrypted,
                "decrypted": decrypted,
                "access": view.access,
                "sha256": view.sha256,
            })),
        )
        .await?;
        tx.commit().await.map_err(AdminError::from)?;
        Ok(RecordingFile {
            recording: view,
            path,
            key,
            content_length: (!decrypted).then_some(meta.len()),
        })
    }

    /// Grants `owner` gave (revoked and expired included), newest first.
    pub async fn list_recording_grants(
        &self,
        actor: &Actor,
        owner: &UnitRef,
    ) -> Result<Vec<RecordingGrantView>, AdminError> {
        let mut conn = self.store().pool().acquire().await?;
        unit_visible(&mut conn, actor, owner).await?;
        let now = self.now_ms().div_euclid(1000);
        Ok(recording_grants::list_by_owner(&mut conn, owner)
            .await?
            .into_iter()
            .map(|g| RecordingGrantView {
                active: g.active_at(now),
                grant: g,
            })
            .collect())
    }

    /// Lets `new.grantee` read `owner`'s recordings (all, or one).
    pub async fn grant_recordings(
        &self,
        actor: &Actor,
        owner: &UnitRef,
        new: NewGrant,
    ) -> Result<RecordingGrantView, AdminError> {
        let now = self.now_ms().div_euclid(1000);
        let mut tx = self.store().begin_admin().await?;
        unit_visible(&mut tx, actor, owner).await?;
        if !grants_recordings(actor.role) {
            return Err(AdminError::Forbidden(format!(
                "{} ({}) may not grant access to recordings; a city-admin or unit-admin of the \
                 owning unit may",
                actor.user, actor.role
            )));
        }
        let structure: Structure = self.config().default_structure;
        if owner.structure != structure {
            return Err(AdminError::invalid(
                "unit",
                format!("recordings belong to units of structure {structure}"),
            ));
        }
        if units::unit(&mut tx, &new.grantee).await?.is_none() {
            return Err(AdminError::invalid(
                "grantee",
                format!("no unit {}", new.grantee),
            ));
        }
        if new.grantee == *owner || units::in_subtree(&mut tx, &new.grantee, owner).await? {
            return Err(AdminError::invalid(
                "grantee",
                format!(
                    "unit {} already sees the recordings of {owner} (it is the unit or above it)",
                    new.grantee
                ),
            ));
        }
        let recording_id = match &new.recording_id {
            Some(id) => {
                let r = self.store().get_recording(id).await?;
                if r.is_none_or(|r| r.unit_code != owner.code) {
                    return Err(AdminError::invalid(
                        "recording_id",
                        format!("{id:?} is not a recording of unit {owner}"),
                    ));
                }
                Some(id.clone())
            }
            None => None,
        };
        if new.expires_at_unix.is_some_and(|e| e <= now) {
            return Err(AdminError::invalid(
                "expires_at_unix",
                "must lie in the future",
            ));
        }
        let reason = new
            .reason
            .as_deref()
            .map(|r| check_text("reason", r, 500))
            .transpose()?;
        if let Some(g) = recording_grants::find_active(
            &mut tx,
            owner,
            &new.grantee,
            recording_id.as_deref(),
            now,
        )
        .await?
        {
            return Err(AdminError::Conflict(format!(
                "unit {} already has that access through grant {}",
                new.grantee, g.id
            )));
        }
        let g = recording_grants::insert(
            &mut tx,
            &NewRecordingGrant {
                owner: owner.clone(),
                grantee: new.grantee.clone(),
                recording_id,
                reason,
                expires_at_unix: new.expires_at_unix,
            },
            &actor.user,
            now,
        )
        .await?;
        let view = RecordingGrantView {
            active: g.active_at(now),
            grant: g,
        };
        audit(
            &mut tx,
            self.now_ms(),
            actor,
            "recording_grant.create",
            "recording_grant",
            &view.grant.id.to_string(),
            owner,
            None,
            Some(to_json(&view)),
        )
        .await?;
        tx.commit().await?;
        Ok(view)
    }

    /// Ends a grant; it stays listed, revoked, as the record of the access.
    pub async fn revoke_recording_grant(
        &self,
        actor: &Actor,
        owner: &UnitRef,
        grant_id: &str,
    ) -> Result<RecordingGrantView, AdminError> {
        let now = self.now_ms().div_euclid(1000);
        let mut tx = self.store().begin_admin().await?;
        unit_visible(&mut tx, actor, owner).await?;
        let id: i64 = grant_id.parse().map_err(|_| grant_not_found(grant_id))?;
        let before = recording_grants::get(&mut tx, id)
            .await?
            .filter(|g| g.owner == *owner)
            .ok_or_else(|| grant_not_found(grant_id))?;
        if !grants_recordings(actor.role) {
            return Err(AdminError::Forbidden(format!(
                "{} ({}) may not revoke access to recordings",
                actor.user, actor.role
            )));
        }
        if !recording_grants::revoke(&mut tx, id, &actor.user, now).await? {
            return Err(AdminError::Conflict(format!(
                "recording grant {id} is already revoked"
            )));
        }
        let after = recording_grants::get(&mut tx, id)
            .await?
            .ok_or_else(|| grant_not_found(grant_id))?;
        let before = RecordingGrantView {
            active: before.active_at(now),
            grant: before,
        };
        let after = RecordingGrantView {
            active: after.active_at(now),
            grant: after,
        };
        audit(
            &mut tx,
            self.now_ms(),
            actor,
            "recording_grant.revoke",
            "recording_grant",
            &id.to_string(),
            owner,
            Some(to_json(&before)),
            Some(to_json(&after)),
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }
}

// ------------------------------------------------------------------ REST

/// The recordings routes, merged into the API router (state: [`Admin`]).
pub(crate) fn routes() -> Router<Admin> {
    Router::new()
        .route("/recordings", get(list))
        .route("/recordings/{id}", get(get_one))
        .route("/recordings/{id}/file", get(file))
        .route(
            "/units/{structure}/{code}/recording-grants",
            get(list_grants).post(create_grant),
        )
        .route(
            "/units/{structure}/{code}/recording-grants/{id}",
            delete(revoke_grant),
        )
}

/// Path parameters, refused as problem details.
struct RecPath<T>(T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned + Send> FromRequestParts<S> for RecPath<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(p)| RecPath(p))
            .map_err(|e| Problem::new(e.status(), e.body_text()))
    }
}

/// The [`RecordingFiles`] the server was mounted with, if any.
struct Files(Option<RecordingFiles>);

impl<S: Send + Sync> FromRequestParts<S> for Files {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        Ok(Files(parts.extensions.get::<RecordingFiles>().cloned()))
    }
}

fn owner_ref(structure: &str, code: &str) -> Result<UnitRef, Problem> {
    let structure = Structure::parse(structure).ok_or_else(|| {
        Problem::new(
            StatusCode::NOT_FOUND,
            format!("no unit structure {structure:?} (there are 2024 and 2025)"),
        )
    })?;
    Ok(UnitRef::new(structure, code))
}

async fn list(
    State(admin): State<Admin>,
    Authed(actor): Authed,
    ApiQuery(q): ApiQuery<RecordingQuery>,
) -> Result<Response, Problem> {
    Ok(Json(admin.list_recordings(&actor, &q).await?).into_response())
}

async fn get_one(
    State(admin): State<Admin>,
    Authed(actor): Authed,
    RecPath(id): RecPath<String>,
) -> Result<Response, Problem> {
    Ok(Json(admin.get_recording(&actor, &id).await?).into_response())
}

/// `meeting-start.ogg`, from characters that need no quoting.
fn download_name(v: &RecordingView) -> String {
    let safe: String = v
        .meeting_number
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(64)
        .collect();
    format!("{safe}-{}.ogg", v.started_at_ms.div_euclid(1000))
}

async fn file(
    State(admin): State<Admin>,
    Authed(actor): Authed,
    RecPath(id): RecPath<String>,
    Files(files): Files,
) -> Result<Response, Problem> {
    let f = admin.open_recording(&actor, &id, files.as_ref()).await?;
    let name = download_name(&f.recording);
    let length = f.content_length;
    let mut resp = Body::from_stream(f.stream()).into_response();
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("audio/ogg"));
    // Meeting content, possibly classified: no cache keeps a copy.
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(CONTENT_DISPOSITION, v);
    }
    if let Some(n) = length {
        h.insert(CONTENT_LENGTH, HeaderValue::from(n));
    }
    Ok(resp)
}

async fn list_grants(
    State(admin): State<Admin>,
    Authed(actor): Authed,
    RecPath((structure, code)): RecPath<(String, String)>,
) -> Result<Response, Problem> {
    let owner = owner_ref(&structure, &code)?;
    Ok(Json(admin.list_recording_grants(&actor, &owner).await?).into_response())
}

async fn create_grant(
    State(admin): State<Admin>,
    Authed(actor): Authed,
    RecPath((structure, code)): RecPath<(String, String)>,
    ApiJson(new): ApiJson<NewGrant>,
) -> Result<Response, Problem> {
    let owner = owner_ref(&structure, &code)?;
    let view = admin.grant_recordings(&actor, &owner, new).await?;
    let location = format!(
        "/api/v1/units/{}/{}/recording-grants/{}",
        owner.structure, owner.code, view.grant.id
    );
    let mut resp = (StatusCode::CREATED, Json(view)).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(axum::http::header::LOCATION, v);
    }
    Ok(resp)
}

async fn revoke_grant(
    State(admin): State<Admin>,
    Authed(actor): Authed,
    RecPath((structure, code, id)): RecPath<(String, String, String)>,
) -> Result<Response, Problem> {
    let owner = owner_ref(&structure, &code)?;
    Ok(Json(admin.revoke_recording_grant(&actor, &owner, &id).await?).into_response())
}
