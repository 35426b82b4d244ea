//! Recording a meeting: where its file goes, whether it is sealed, and its
//! row in the database.
//!
//! A meeting marked `record` is recorded from its first participant to its
//! last (the mix, Ogg/Opus). The recording belongs to the unit of the
//! meeting's main bridge point (the meeting's `unit`): its file is under
//! `<data_dir>/recordings/<unit>/` and its row names that unit. Files of
//! confidential and secret meetings are sealed with the recording key
//! (`recordings.key_file`, see [`gateway_media::meeting::seal`]) and end in
//! `.ogg.enc`; nothing of them is written in clear.
//!
//! The row is inserted when the recording starts and finished when the
//! writer thread closes the file, both through the store writer, so the
//! engine never waits on the database.
//!
//! A stop of the gateway while recording (a crash, a kill, a power cut)
//! leaves the row `recording` and the file without its end; the next start
//! ends the file where its good data ends and marks the row `interrupted`
//! before any call is taken (see [`super::repair`]).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock};

use gateway_callmodel::Cause;
use gateway_dialplan::Classification;
use gateway_media::meeting::seal::RecordingKey;
use gateway_media::meeting::{RecordingClosed, RecordingSpec};
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::engine::Engine;
use crate::store_writer::StoreOp;

/// Name of the key file in the data directory when the configuration does
/// not name one.
pub const DEFAULT_KEY_FILE: &str = "recordings.key";
const KEY_LEN: usize = 32;
const CODEC: &str = "opus";

/// The key file set at start ([`configure`]); the engine otherwise uses
/// `<data_dir>/recordings.key`.
static KEY_FILE: OnceLock<PathBuf> = OnceLock::new();

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("recording key file {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "recording key file {path} holds {len} bytes; a recording key is exactly 32 random bytes"
    )]
    Length { path: String, len: u64 },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
    move |source| KeyError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Reads the 32-byte key file. Never creates one: an operator decrypting a
/// file must not get a fresh, useless key by mistyping a path.
pub fn load_key(path: &Path) -> Result<RecordingKey, KeyError> {
    let mut f = std::fs::File::open(path).map_err(io_err(path))?;
    let len = f.metadata().map_err(io_err(path))?.len();
    if len != KEY_LEN as u64 {
        return Err(KeyError::Length {
            path: path.display().to_string(),
            len,
        });
    }
    RecordingKey::read_from(&mut f).map_err(io_err(path))
}

/// Reads the key file, or creates it (32 bytes from the operating system's
/// random source, mode 0600, its directory created) when it does not exist.
/// Returns whether it was created.
pub fn load_or_create_key(path: &Path) -> Result<(RecordingKey, bool), KeyError> {
    match load_key(path) {
        Ok(k) => return Ok((k, false)),
        Err(KeyError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    }
    let key = RecordingKey::generate().map_err(io_err(path))?;
    let mut opts = std::fs::OpenOptions::new();
    // create_new: two nodes starting at once on a shared disk do not
    // overwrite each other's key; the loser reads the winner's.
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let written = opts.open(path).and_then(|mut f| {
        key.write_to(&mut f)?;
        f.sync_all()
    });
    match written {
        Ok(()) => Ok((key, true)),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok((load_key(path)?, false)),
        Err(e) => Err(io_err(path)(e)),
    }
}

/// At start: the key file named by the configuration becomes the one the
/// engine seals with, and is created now if absent, so that a bad path or
/// permission shows at start rather than when a classified meeting begins.
#[allow(dead_code)] // called by the runtime at start (see the report of issue 5)
pub fn configure(cfg: &crate::config::Config) -> Result<(), KeyError> {
    let path = cfg.recording_key_file();
    let (key, created) = load_or_create_key(&path)?;
    if created {
        info!(path = %path.display(), key_id = %key.id_hex(), "recording key created");
    } else {
        info!(path = %path.display(), key_id = %key.id_hex(), "recording key loaded");
    }
    let _ = KEY_FILE.set(path);
    Ok(())
}

/// A recording in progress, kept with its meeting.
#[derive(Debug)]
pub(crate) struct ActiveRecording {
    participants: Arc<AtomicI64>,
}

impl ActiveRecording {
    /// A leg joined the recorded meeting.
    pub(crate) fn joined(&self) {
        self.participants.fetch_add(1, Relaxed);
    }
}

/// Everything about a recording that is decided when it starts.
pub(crate) struct RecordingPlan {
    pub(crate) spec: RecordingSpec,
    pub(crate) row: gateway_store::Recording,
    pub(crate) active: ActiveRecording,
}

fn safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub(crate) fn must_seal(c: Classification) -> bool {
    matches!(c, Classification::Confidential | Classification::Secret)
}

/// `<recordings_dir>/<unit>/<number>-<unix start>.ogg[.enc]`. The stored
/// path is relative to the data directory (the recordings directory's
/// parent).
pub(crate) fn plan(
    recordings_dir: &Path,
    m: &gateway_dialplan::Meeting,
    started_ms: i64,
    id: String,
    key: Option<Arc<RecordingKey>>,
    store: mpsc::UnboundedSender<StoreOp>,
) -> RecordingPlan {
    let started = started_ms / 1000;
    let ext = if key.is_some() { "ogg.enc" } else { "ogg" };
    let file = format!("{}-{started}.{ext}", safe(&m.number));
    let path = recordings_dir.join(safe(&m.unit)).join(&file);
    let top = recordings_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "recordings".into());
    let rel = format!("{top}/{}/{file}", safe(&m.unit));
    let mut tags = vec![
        ("MEETING".to_string(), m.number.clone()),
        ("UNIT".to_string(), m.unit.clone()),
        (
            "CLASSIFICATION".to_string(),
            m.classification.as_str().to_string(),
        ),
        ("STARTED_UNIX".to_string(), started.to_string()),
        ("RECORDING_ID".to_string(), id.clone()),
    ];
    if let Some(n) = &m.name {
        tags.push(("TITLE".to_string(), n.clone()));
    }
    let participants = Arc::new(AtomicI64::new(0));
    let row = gateway_store::Recording {
        id: id.clone(),
        meeting_number: m.number.clone(),
        unit_code: m.unit.clone(),
        classification: m.classification.as_str().to_string(),
        status: "recording".into(),
        started_at_ms: started_ms,
        ended_at_ms: None,
        duration_ms: None,
        file_path: rel,
        size_bytes: None,
        codec: CODEC.into(),
        encrypted: key.is_some(),
        key_id: key.as_ref().map(|k| k.id_hex()),
        sha256: None,
        participants: 0,
        packets_dropped: 0,
    };
    let on_closed = {
        let id = id.clone();
        let participants = participants.clone();
        // The writer thread calls this once; the sender is only borrowed
        // through the lock, never held across anything slow.
        let store = Mutex::new(store);
        move |c: RecordingClosed| {
            let finish = finish_of(&c, participants.load(Relaxed));
            if let Ok(s) = store.lock() {
                let _ = s.send(StoreOp::RecordingFinished {
                    id: id.clone(),
                    finish,
                });
            }
        }
    };
    RecordingPlan {
        spec: RecordingSpec {
            path,
            tags,
            seal: key,
            on_closed: Some(Arc::new(on_closed)),
        },
        row,
        active: ActiveRecording { participants },
    }
}

fn finish_of(c: &RecordingClosed, participants: i64) -> gateway_store::RecordingFinish {
    gateway_store::RecordingFinish {
        status: if c.error.is_none() {
            "complete"
        } else {
            "failed"
        }
        .into(),
        ended_at_ms: super::unix_ms(),
        duration_ms: c.duration_ms as i64,
        size_bytes: c.size_bytes as i64,
        sha256: hex(&c.sha256),
        participants,
        packets_dropped: c.packets_dropped as i64,
    }
}

impl Engine {
    /// Where the recording key is: the configured file, else
    /// `<data_dir>/recordings.key` beside the recordings directory.
    fn recording_key_file(&self) -> PathBuf {
        KEY_FILE.get().cloned().unwrap_or_else(|| {
            self.recordings_dir
                .parent()
                .unwrap_or(Path::new("."))
                .join(DEFAULT_KEY_FILE)
        })
    }

    /// Decides the recording of meeting `m`. A classified meeting whose key
    /// cannot be had is refused: it must not run unrecorded, nor be
    /// recorded in clear.
    pub(crate) fn plan_recording(
        &self,
        m: &gateway_dialplan::Meeting,
    ) -> Result<RecordingPlan, Cause> {
        let key = if must_seal(m.classification) {
            let path = self.recording_key_file();
            match load_or_create_key(&path) {
                Ok((k, created)) => {
                    if created {
                        info!(path = %path.display(), key_id = %k.id_hex(), "recording key created");
                    }
                    Some(Arc::new(k))
                }
                Err(e) => {
                    warn!(meeting = %m.number, error = %e, "no recording key: classified meeting refused");
                    return Err(Cause::from_sip_status(
                        503,
                        &format!("Meeting {} cannot be recorded encrypted", m.number),
                    ));
                }
            }
        } else {
            None
        };
        let id = hex(&rand::random::<[u8; 16]>());
        Ok(plan(
            &self.recordings_dir,
            m,
            super::unix_ms(),
            id,
            key,
            self.store.clone(),
        ))
    }

    /// The recording's file exists and the mix goes to it: store its row.
    pub(crate) fn recording_started(&self, row: gateway_store::Recording) {
        info!(
            meeting = %row.meeting_number,
            unit = %row.unit_code,
            recording = %row.id,
            path = %row.file_path,
            encrypted = row.encrypted,
            key_id = row.key_id.as_deref().unwrap_or("-"),
            "recording the meeting"
        );
        let _ = self.store.send(StoreOp::RecordingStarted(row));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meeting(c: Classification) -> gateway_dialplan::Meeting {
        gateway_dialplan::Meeting {
            number: "8003".into(),
            name: Some("Loopback confidential".into()),
            aliases: vec![],
            unit: "01".into(),
            classification: c,
            record: true,
            max_participants: 10,
        }
    }

    fn tmp(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("gw-recording-{}-{name}", std::process::id()))
    }

    #[test]
    fn classified_meetings_are_sealed_and_named_enc() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let key = Arc::new(RecordingKey::from_bytes([1; 32]));
        let dir = Path::new("/var/lib/gw/recordings");
        let p = plan(
            dir,
            &meeting(Classification::Confidential),
            1_800_000_000_123,
            "abc".into(),
            Some(key.clone()),
            tx,
        );
        assert_eq!(
            p.spec.path,
            Path::new("/var/lib/gw/recordings/01/8003-1800000000.ogg.enc")
        );
        assert_eq!(p.row.file_path, "recordings/01/8003-1800000000.ogg.enc");
        assert!(p.row.encrypted && p.spec.seal.is_some());
        assert_eq!(p.row.key_id, Some(key.id_hex()));
        assert_eq!(
            (p.row.unit_code.as_str(), p.row.status.as_str()),
            ("01", "recording")
        );
        p.active.joined();
        p.active.joined();
        // The writer thread's report finishes the row with what it measured.
        (p.spec.on_closed.unwrap())(RecordingClosed {
            path: p.spec.path.clone(),
            error: None,
            size_bytes: 99,
            sha256: [0xab; 32],
            duration_ms: 5_000,
            packets_written: 250,
            packets_dropped: 0,
        });
        match rx.try_recv() {
            Ok(StoreOp::RecordingFinished { id, finish }) => {
                assert_eq!(id, "abc");
                assert_eq!(finish.status, "complete");
                assert_eq!(finish.participants, 2);
                assert_eq!(finish.size_bytes, 99);
                assert_eq!(finish.duration_ms, 5_000);
                assert_eq!(finish.sha256, "ab".repeat(32));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn normal_meetings_are_plain_ogg() {
        let (tx, _rx) = mpsc::unbounded_channel();
        let p = plan(
            Path::new("data/recordings"),
            &meeting(Classification::Normal),
            5_000,
            "x".into(),
            None,
            tx,
        );
        assert_eq!(p.row.file_path, "recordings/01/8003-5.ogg");
        assert!(!p.row.encrypted && p.row.key_id.is_none() && p.spec.seal.is_none());
        assert!(must_seal(Classification::Secret) && must_seal(Classification::Confidential));
        assert!(!must_seal(Classification::Normal));
    }

    #[test]
    fn key_file_is_created_once_with_mode_0600() {
        let path = tmp("keys").join("sub/recordings.key");
        let _ = std::fs::remove_dir_all(tmp("keys"));
        let (k1, created) = load_or_create_key(&path).unwrap();
        assert!(created);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 32);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (k2, created) = load_or_create_key(&path).unwrap();
        assert!(!created);
        assert_eq!(k1.id(), k2.id(), "the same key on the next start");
        assert_eq!(load_key(&path).unwrap().id(), k1.id());
        let _ = std::fs::remove_dir_all(tmp("keys"));
    }

    #[test]
    fn a_key_file_of_the_wrong_size_is_refused_not_replaced() {
        let path = tmp("short.key");
        std::fs::write(&path, b"too short").unwrap();
        let err = load_or_create_key(&path).unwrap_err().to_string();
        assert!(
            err.contains("9 bytes") && err.contains("short.key"),
            "{err}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), b"too short");
        assert!(matches!(
            load_key(&tmp("missing.key")),
            Err(KeyError::Io { .. })
        ));
        std::fs::remove_file(&path).ok();
    }
}
