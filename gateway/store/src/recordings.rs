//! Meeting recordings: where each file is, whom it belongs to, and what a
//! reader needs to check it (size, SHA-256, the key that sealed it).
//!
//! The gateway inserts a row when a recording starts and finishes it when
//! the file is closed; the queries a recordings API needs (by unit, by id)
//! are here so that grants between units can be added on top of them.

use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{Store, StoreError};

/// Allowed values of [`Recording::status`]:
///
/// - `recording`: the file is being written;
/// - `complete`: the recorder closed the file;
/// - `failed`: the file could not be written to the end;
/// - `interrupted`: the gateway stopped (a crash, a kill, a power cut)
///   while recording. At its next start the file was repaired to its last
///   whole page (or authenticated chunk, sealed) and ended there; the
///   duration is what the repaired file holds. The recording stops where
///   the gateway did, not where the meeting ended.
pub const RECORDING_STATUSES: [&str; 4] = ["recording", "complete", "failed", "interrupted"];

/// Status of a recording the gateway stopped during (see
/// [`RECORDING_STATUSES`]).
pub const INTERRUPTED: &str = "interrupted";

/// Longest accepted text field; ids, codes and paths are far shorter.
const MAX_TEXT: usize = 1024;

/// One recording of a meeting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recording {
    /// Assigned by the gateway (unique across nodes sharing a database).
    pub id: String,
    pub meeting_number: String,
    /// The owning unit: the unit of the meeting's main bridge point.
    pub unit_code: String,
    /// The meeting's classification when it was recorded
    /// (`normal`, `confidential`, `secret`).
    pub classification: String,
    /// One of [`RECORDING_STATUSES`].
    pub status: String,
    /// Unix milliseconds.
    pub started_at_ms: i64,
    pub ended_at_ms: Option<i64>,
    /// Length of the recorded audio.
    pub duration_ms: Option<i64>,
    /// Relative to the gateway's data directory, `/`-separated.
    pub file_path: String,
    /// Of the file as stored (after encryption).
    pub size_bytes: Option<i64>,
    /// `opus` in an Ogg container (RFC 7845).
    pub codec: String,
    pub encrypted: bool,
    /// Hex id of the recording key that sealed the file.
    pub key_id: Option<String>,
    /// Hex SHA-256 of the file as stored.
    pub sha256: Option<String>,
    /// Legs that joined the meeting while it was recorded.
    pub participants: i64,
    /// Audio frames the recorder could not write in time (a stalled disk).
    pub packets_dropped: i64,
}

/// What is known when the file is closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingFinish {
    /// `complete` or `failed`.
    pub status: String,
    pub ended_at_ms: i64,
    pub duration_ms: i64,
    pub size_bytes: i64,
    pub sha256: String,
    pub participants: i64,
    pub packets_dropped: i64,
}

const COLUMNS: &str = "id, meeting_number, unit_code, classification, status, started_at_ms, \
                       ended_at_ms, duration_ms, file_path, size_bytes, codec, encrypted, key_id, \
                       sha256, participants, packets_dropped";

fn check_status(s: &str) -> Result<(), StoreError> {
    if RECORDING_STATUSES.contains(&s) {
        Ok(())
    } else {
        Err(StoreError::Invalid {
            field: "recording.status",
            detail: format!("{s:?} is not one of {}", RECORDING_STATUSES.join(", ")),
        })
    }
}

fn check_text(field: &'static str, s: &str) -> Result<(), StoreError> {
    if s.is_empty() || s.len() > MAX_TEXT {
        return Err(StoreError::Invalid {
            field,
            detail: format!("must be 1..={MAX_TEXT} bytes, got {}", s.len()),
        });
    }
    Ok(())
}

/// Stored paths are relative and stay inside the data directory: a row
/// must never make a reader open `/etc/shadow` or `../../x`.
fn check_path(p: &str) -> Result<(), StoreError> {
    check_text("recording.file_path", p)?;
    let bad = p.starts_with('/')
        || p.contains('\\')
        || p.contains('\0')
        || p.split('/').any(|c| c.is_empty() || c == "." || c == "..");
    if bad {
        return Err(StoreError::Invalid {
            field: "recording.file_path",
            detail: format!("{p:?} is not a relative path inside the data directory"),
        });
    }
    Ok(())
}

fn from_row(r: &AnyRow) -> Result<Recording, StoreError> {
    let encrypted: i64 = r.try_get("encrypted")?;
    Ok(Recording {
        id: r.try_get("id")?,
        meeting_number: r.try_get("meeting_number")?,
        unit_code: r.try_get("unit_code")?,
        classification: r.try_get("classification")?,
        status: r.try_get("status")?,
        started_at_ms: r.try_get("started_at_ms")?,
        ended_at_ms: r.try_get("ended_at_ms")?,
        duration_ms: r.try_get("duration_ms")?,
        file_path: r.try_get("file_path")?,
        size_bytes: r.try_get("size_bytes")?,
        codec: r.try_get("codec")?,
        encrypted: encrypted != 0,
        key_id: r.try_get("key_id")?,
        sha256: r.try_get("sha256")?,
        participants: r.try_get("participants")?,
        packets_dropped: r.try_get("packets_dropped")?,
    })
}

impl Store {
    /// Records that a recording started. The id must be new.
    pub async fn insert_recording(&self, r: &Recording) -> Result<(), StoreError> {
        check_text("recording.id", &r.id)?;
        check_text("recording.meeting_number", &r.meeting_number)?;
        check_text("recording.unit_code", &r.unit_code)?;
        check_path(&r.file_path)?;
        check_status(&r.status)?;
        if r.encrypted && r.key_id.is_none() {
            return Err(StoreError::Invalid {
                field: "recording.key_id",
                detail: "an encrypted recording names the key that sealed it".into(),
            });
        }
        sqlx::query(&format!(
            "INSERT INTO recordings ({COLUMNS}) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
        ))
        .bind(r.id.clone())
        .bind(r.meeting_number.clone())
        .bind(r.unit_code.clone())
        .bind(r.classification.clone())
        .bind(r.status.clone())
        .bind(r.started_at_ms)
        .bind(r.ended_at_ms)
        .bind(r.duration_ms)
        .bind(r.file_path.clone())
        .bind(r.size_bytes)
        .bind(r.codec.clone())
        .bind(i64::from(r.encrypted))
        .bind(r.key_id.clone())
        .bind(r.sha256.clone())
        .bind(r.participants)
        .bind(r.packets_dropped)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Completes a recording when its file is closed. `Ok(false)`: no
    /// recording has that id (its start was never stored).
    pub async fn finish_recording(
        &self,
        id: &str,
        f: &RecordingFinish,
    ) -> Result<bool, StoreError> {
        check_status(&f.status)?;
        let done = sqlx::query(
            "UPDATE recordings SET status = $1, ended_at_ms = $2, duration_ms = $3, \
             size_bytes = $4, sha256 = $5, participants = $6, packets_dropped = $7 WHERE id = $8",
        )
        .bind(f.status.clone())
        .bind(f.ended_at_ms)
        .bind(f.duration_ms)
        .bind(f.size_bytes)
        .bind(f.sha256.clone())
        .bind(f.participants)
        .bind(f.packets_dropped)
        .bind(id.to_string())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Recordings whose file is still being written, oldest first: at
    /// start, before any meeting is recorded, these are the ones a stop of
    /// the gateway interrupted (on this node or, with a shared database,
    /// on another).
    pub async fn unfinished_recordings(&self) -> Result<Vec<Recording>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM recordings WHERE status = 'recording' \
             ORDER BY started_at_ms, id"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Marks a recording [`INTERRUPTED`] with what its repaired file
    /// holds; a `None` keeps the column as it is (a file that could not be
    /// read). Only a row still `recording` changes, so that a repair
    /// racing the recorder's own finish (another node, a late store write)
    /// never overwrites it: `Ok(false)` then, or for an unknown id.
    pub async fn mark_recording_interrupted(
        &self,
        id: &str,
        ended_at_ms: Option<i64>,
        duration_ms: Option<i64>,
        size_bytes: Option<i64>,
        sha256: Option<&str>,
    ) -> Result<bool, StoreError> {
        if let Some(h) = sha256 {
            if h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(StoreError::Invalid {
                    field: "recording.sha256",
                    detail: format!("{h:?} is not a hex SHA-256"),
                });
            }
        }
        let done = sqlx::query(
            "UPDATE recordings SET status = $1, \
             ended_at_ms = COALESCE($2, ended_at_ms), \
             duration_ms = COALESCE($3, duration_ms), \
             size_bytes = COALESCE($4, size_bytes), \
             sha256 = COALESCE($5, sha256) \
             WHERE id = $6 AND status = 'recording'",
        )
        .bind(INTERRUPTED.to_string())
        .bind(ended_at_ms)
        .bind(duration_ms)
        .bind(size_bytes)
        .bind(sha256.map(str::to_string))
        .bind(id.to_string())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn get_recording(&self, id: &str) -> Result<Option<Recording>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM recordings WHERE id = $1"))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// The recordings a unit owns, newest first, at most `limit`.
    pub async fn list_recordings_by_unit(
        &self,
        unit_code: &str,
        limit: i64,
    ) -> Result<Vec<Recording>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM recordings WHERE unit_code = $1 \
             ORDER BY started_at_ms DESC, id DESC LIMIT $2"
        ))
        .bind(unit_code.to_string())
        .bind(limit.max(0))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Every unit's recordings, newest first, at most `limit` (operators
    /// of the whole network; a unit's view is [`Store::list_recordings_by_unit`]).
    pub async fn list_recordings(&self, limit: i64) -> Result<Vec<Recording>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM recordings ORDER BY started_at_ms DESC, id DESC LIMIT $1"
        ))
        .bind(limit.max(0))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row).collect()
    }
}
