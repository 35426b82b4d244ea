//! Recordings a stop of the gateway interrupted, repaired at its next start.
//!
//! A crash, a kill or a power cut while a meeting is recorded leaves its row
//! `recording` and its file without an end: a plain Ogg/Opus file stops in
//! the middle of a page (what the buffered writer had written) and has no
//! end-of-stream page; a sealed one (`.ogg.enc`) lacks its final chunk and
//! may end in part of a chunk. Before the gateway takes calls,
//! [`repair_interrupted`] finds the rows still `recording` whose file is on
//! this node and ends each file where its good data ends:
//!
//! - plain: cut after the last whole page on which a packet ends, that page
//!   marked end-of-stream with its CRC computed again (in place);
//! - sealed: the chunks that authenticate are decrypted, the Ogg stream in
//!   them ended the same way, and the result sealed again under a fresh
//!   nonce prefix into a new file that replaces the old one (re-sealing a
//!   changed chunk under its old nonce would reuse a GCM nonce). A chunk
//!   that fails with more data after it is not a crash but an altered file:
//!   it is left as it is.
//!
//! The row then becomes `interrupted`, with the duration the repaired file
//! holds (its last granule position less the pre-skip), its end (start plus
//! that duration), size and SHA-256, and one warning is logged per file.
//!
//! A row whose file is not on this node is left `recording`: with a database
//! shared by several nodes it may be another node's live recording. So is a
//! sealed file this node has no key for (it is repaired at a start that has
//! the key). Nodes that share a database must not share a recordings
//! directory: a row names no node, so a live recording of another node
//! would look interrupted here.

use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use gateway_media::meeting::seal::{RecordingKey, SealError, SealWriter, SealedEnd, SealedReader};
use gateway_media::ogg::{scan_for_repair, OggRepair, OggRepairError};
use gateway_store::{Recording, Store};
use sha2::{Digest, Sha256};
use tracing::{debug, warn};

/// What a repair did to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repaired {
    /// The file was already whole (the gateway stopped between closing it
    /// and storing its row): nothing was changed.
    pub intact: bool,
    /// Audio the file holds now, in milliseconds.
    pub duration_ms: Option<u64>,
    /// Bytes of the file before and after.
    pub size_before: u64,
    pub size: u64,
    pub sha256: [u8; 32],
}

#[derive(Debug, thiserror::Error)]
pub enum RepairError {
    #[error("the file is not on this node")]
    NotHere,
    #[error("sealed, and this node has no recording key to open it")]
    NoKey,
    #[error("sealed: {0}")]
    Seal(#[from] SealError),
    #[error(
        "chunk {0} fails authentication and more data follows it: altered, not cut; left as it is"
    )]
    Damaged(u64),
    #[error("{0}")]
    Ogg(OggRepairError),
    #[error("{0}")]
    Io(#[from] io::Error),
}

impl From<OggRepairError> for RepairError {
    fn from(e: OggRepairError) -> Self {
        match e {
            OggRepairError::Io(e) => RepairError::Io(e),
            e => RepairError::Ogg(e),
        }
    }
}

impl RepairError {
    /// The row is better left `recording` than marked: the file may still
    /// be written, or can be repaired at a later start.
    fn leave_row(&self) -> bool {
        matches!(
            self,
            RepairError::NotHere
                | RepairError::NoKey
                | RepairError::Seal(SealError::WrongKey { .. })
        )
    }
}

fn open_file(path: &Path, write: bool) -> Result<File, RepairError> {
    match OpenOptions::new().read(true).write(write).open(path) {
        Ok(f) => Ok(f),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(RepairError::NotHere),
        Err(e) => Err(e.into()),
    }
}

fn hash_file(file: &mut File) -> io::Result<(u64, [u8; 32])> {
    file.seek(SeekFrom::Start(0))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut len = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        len += n as u64;
    }
    Ok((len, h.finalize().into()))
}

/// Ends a plain Ogg/Opus recording where its good data ends, in place.
pub fn repair_plain(path: &Path) -> Result<Repaired, RepairError> {
    let mut file = open_file(path, true)?;
    let size_before = file.metadata()?.len();
    let plan = scan_for_repair(&mut BufReader::new(&mut file))?;
    if !plan.intact {
        // The last page is rewritten before the rest is cut: a stop in
        // between leaves a whole stream followed by stale bytes, which the
        // next start cuts off.
        file.seek(SeekFrom::Start(plan.keep))?;
        file.write_all(&plan.last_page)?;
        file.set_len(plan.repaired_len())?;
        file.sync_all()?;
    }
    let (size, sha256) = hash_file(&mut file)?;
    Ok(repaired(&plan, plan.intact, size_before, size, sha256))
}

fn repaired(plan: &OggRepair, intact: bool, before: u64, size: u64, sha256: [u8; 32]) -> Repaired {
    Repaired {
        intact,
        duration_ms: plan.duration_ms(),
        size_before: before,
        size,
        sha256,
    }
}

/// Ends a sealed recording after its last authenticated chunk and its last
/// whole Ogg page, sealed again into a new file that replaces it.
pub fn repair_sealed(path: &Path, key: &RecordingKey) -> Result<Repaired, RepairError> {
    let mut file = open_file(path, false)?;
    let size_before = file.metadata()?.len();
    let (plan, end, chunk) = {
        let mut plain = SealedReader::new(BufReader::new(&mut file), key)?;
        let plan = scan_for_repair(&mut plain)?;
        (plan, plain.end(), plain.chunk_size())
    };
    match end {
        SealedEnd::Damaged { chunk } => return Err(RepairError::Damaged(chunk)),
        SealedEnd::Final if plan.intact => {
            let (size, sha256) = hash_file(&mut file)?;
            return Ok(repaired(&plan, true, size_before, size, sha256));
        }
        _ => {}
    }
    let tmp = temp_path(path);
    // Read back for its hash once written.
    let out = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)?;
    let written = (|| -> Result<File, RepairError> {
        file.seek(SeekFrom::Start(0))?;
        let mut plain = SealedReader::new(BufReader::new(&mut file), key)?;
        let mut sealed = SealWriter::with_chunk_size(BufWriter::new(out), key, chunk)?;
        let copied = io::copy(&mut (&mut plain).take(plan.keep), &mut sealed)?;
        if copied != plan.keep {
            // The same bytes read twice came out shorter: the file changed.
            return Err(io::Error::other("the file changed during the repair").into());
        }
        sealed.write_all(&plan.last_page)?;
        let out = sealed.finish()?.into_inner().map_err(|e| e.into_error())?;
        out.sync_all()?;
        Ok(out)
    })();
    let mut out = match written {
        Ok(out) => out,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        // The rename itself must survive the next power cut.
        File::open(dir).and_then(|d| d.sync_all()).ok();
    }
    let (size, sha256) = hash_file(&mut out)?;
    Ok(repaired(&plan, false, size_before, size, sha256))
}

fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".repair");
    path.with_file_name(name)
}

/// Repairs the file of one row (its path relative to `data_dir`).
pub fn repair_file(
    data_dir: &Path,
    row: &Recording,
    key: Option<&RecordingKey>,
) -> Result<Repaired, RepairError> {
    let path = data_dir.join(&row.file_path);
    if !path.exists() {
        return Err(RepairError::NotHere);
    }
    if row.encrypted {
        repair_sealed(&path, key.ok_or(RepairError::NoKey)?)
    } else {
        repair_plain(&path)
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// At start, before calls are taken: repairs every recording a stop of the
/// gateway interrupted and marks its row `interrupted` (see the module
/// docs). Returns the rows marked. Problems are logged, never fatal: a
/// damaged recording must not keep the gateway from starting.
pub async fn repair_interrupted(store: &Store, data_dir: &Path, key_file: &Path) -> usize {
    let rows = match store.unfinished_recordings().await {
        Ok(r) => r,
        Err(e) => {
            warn!(error = %e, "unfinished recordings could not be listed: none repaired");
            return 0;
        }
    };
    if rows.is_empty() {
        return 0;
    }
    let key = if rows.iter().any(|r| r.encrypted) {
        match super::recording::load_key(key_file) {
            Ok(k) => Some(k),
            Err(e) => {
                warn!(error = %e, "no recording key: interrupted sealed recordings stay unrepaired");
                None
            }
        }
    } else {
        None
    };
    let data_dir = data_dir.to_path_buf();
    let outcomes = tokio::task::spawn_blocking(move || {
        rows.into_iter()
            .map(|row| {
                let outcome = repair_file(&data_dir, &row, key.as_ref());
                (row, outcome)
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    let mut marked = 0;
    for (row, outcome) in outcomes {
        let (ended, duration, size, sha) = match &outcome {
            Ok(r) => {
                let d = r.duration_ms.map(|d| d as i64);
                (
                    d.map(|d| row.started_at_ms + d),
                    d,
                    Some(r.size as i64),
                    Some(hex(&r.sha256)),
                )
            }
            Err(e) if e.leave_row() => {
                warn!(
                    recording = %row.id,
                    meeting = %row.meeting_number,
                    path = %row.file_path,
                    reason = %e,
                    "unfinished recording left as it is"
                );
                continue;
            }
            Err(_) => (None, None, None, None),
        };
        match store
            .mark_recording_interrupted(&row.id, ended, duration, size, sha.as_deref())
            .await
        {
            Ok(true) => marked += 1,
            Ok(false) => {
                debug!(recording = %row.id, "recording finished meanwhile: not marked");
                continue;
            }
            Err(e) => {
                warn!(recording = %row.id, error = %e, "interrupted recording not marked");
                continue;
            }
        }
        match outcome {
            Ok(r) => warn!(
                recording = %row.id,
                meeting = %row.meeting_number,
                path = %row.file_path,
                encrypted = row.encrypted,
                duration_ms = r.duration_ms.unwrap_or(0),
                kept_bytes = r.size,
                cut_bytes = r.size_before.saturating_sub(r.size),
                already_whole = r.intact,
                "recording interrupted by a stop of the gateway: file repaired, row marked interrupted"
            ),
            Err(e) => warn!(
                recording = %row.id,
                meeting = %row.meeting_number,
                path = %row.file_path,
                reason = %e,
                "recording interrupted by a stop of the gateway: file not repaired, row marked interrupted"
            ),
        }
    }
    marked
}

#[cfg(test)]
mod tests {
    use super::*;
    use gateway_media::meeting::seal::open_stream;
    use gateway_media::ogg::{packets, read_pages, OggOpusWriter, OpusHead, OpusTags, FLAG_EOS};

    const PRE_SKIP: u16 = 312;

    /// `frames` 20 ms packets in 1 s pages, finished (an intact file).
    fn ogg(frames: usize) -> Vec<u8> {
        let head = OpusHead {
            pre_skip: PRE_SKIP,
            ..OpusHead::default()
        };
        let mut w = OggOpusWriter::new(Vec::new(), 7, &head, &OpusTags::new("test")).unwrap();
        for i in 0..frames {
            // CELT fullband 20 ms TOC, then a recognisable body.
            let mut p = vec![0xfc];
            p.extend((0..60).map(|k| (i * 7 + k) as u8));
            w.write_packet(&p).unwrap();
        }
        w.finish().unwrap()
    }

    fn seal(plain: &[u8], key: &RecordingKey, chunk: usize) -> Vec<u8> {
        let mut w = SealWriter::with_chunk_size(Vec::new(), key, chunk).unwrap();
        w.write_all(plain).unwrap();
        w.finish().unwrap()
    }

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("gw-repair-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("recordings/01")).unwrap();
        d
    }

    /// The stream is whole: pages check out, the last is EOS, and `frames`
    /// audio packets are in it.
    fn assert_whole(data: &[u8], frames: u64) {
        let pages = read_pages(data).expect("whole pages");
        let last = pages.last().unwrap();
        assert_eq!(last.flags & FLAG_EOS, FLAG_EOS);
        assert_eq!(last.granule, frames * 960);
        assert_eq!(packets(&pages, 7).len() as u64, 2 + frames);
    }

    fn ms(frames: u64) -> Option<u64> {
        Some((frames * 960 - u64::from(PRE_SKIP)) / 48)
    }

    #[test]
    fn a_plain_recording_cut_mid_page_is_ended_in_place() {
        let d = dir("plain");
        let path = d.join("recordings/01/a.ogg");
        let whole = ogg(150); // 3 s: three 1 s pages of audio
        let cut = &whole[..whole.len() - 700];
        std::fs::write(&path, cut).unwrap();
        let r = repair_plain(&path).unwrap();
        let data = std::fs::read(&path).unwrap();
        // The first two audio pages hold 1 s + one packet each (pages
        // close once they reach 1 s).
        let pages = read_pages(&data).unwrap();
        let frames = pages.last().unwrap().granule / 960;
        assert!((100..150).contains(&frames), "{frames}");
        assert_whole(&data, frames);
        assert!(!r.intact);
        assert_eq!(r.duration_ms, ms(frames));
        assert_eq!(
            (r.size_before, r.size),
            (cut.len() as u64, data.len() as u64)
        );
        assert_eq!(r.sha256, <[u8; 32]>::from(Sha256::digest(&data)));
        // Repairing again changes nothing.
        let again = repair_plain(&path).unwrap();
        assert!(again.intact);
        assert_eq!(std::fs::read(&path).unwrap(), data);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_sealed_recording_keeps_its_authenticated_chunks_and_is_sealed_anew() {
        let d = dir("sealed");
        let key = RecordingKey::from_bytes([9; 32]);
        let path = d.join("recordings/01/a.ogg.enc");
        let plain = ogg(150);
        let chunk = 1000;
        let whole = seal(&plain, &key, chunk);
        // Cut in the middle of chunk 7: chunks 0..7 (7000 plaintext bytes)
        // authenticate, and the Ogg stream in them ends inside a page.
        let cut = &whole[..32 + 7 * (chunk + 16) + 300];
        std::fs::write(&path, cut).unwrap();
        let r = repair_sealed(&path, &key).unwrap();
        assert!(!r.intact);
        let stored = std::fs::read(&path).unwrap();
        assert_eq!(r.sha256, <[u8; 32]>::from(Sha256::digest(&stored)));
        assert_eq!(
            &stored[..22],
            &whole[..22],
            "same format, chunk size and key"
        );
        assert_ne!(&stored[22..30], &whole[22..30], "a fresh nonce prefix");
        let mut out = Vec::new();
        open_stream(&mut &stored[..], &mut out, &key).expect("whole, final chunk included");
        assert!(out.len() <= 7000);
        let frames = read_pages(&out).unwrap().last().unwrap().granule / 960;
        assert_whole(&out, frames);
        let last = read_pages(&out).unwrap().pop().unwrap();
        let before_last = out.len() - (27 + last.segments.len() + last.body.len());
        assert_eq!(
            &out[..before_last],
            &plain[..before_last],
            "the same stream up to its last page"
        );
        assert_eq!(r.duration_ms, ms(frames));
        assert!(!temp_path(&path).exists());
        // Whole now: a second repair leaves it alone.
        let again = repair_sealed(&path, &key).unwrap();
        assert!(again.intact);
        assert_eq!(std::fs::read(&path).unwrap(), stored);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn an_intact_sealed_recording_is_not_rewritten() {
        let d = dir("intact");
        let key = RecordingKey::from_bytes([9; 32]);
        let path = d.join("recordings/01/a.ogg.enc");
        let whole = seal(&ogg(60), &key, 1000);
        std::fs::write(&path, &whole).unwrap();
        let r = repair_sealed(&path, &key).unwrap();
        assert!(r.intact);
        assert_eq!(r.duration_ms, ms(60));
        assert_eq!(std::fs::read(&path).unwrap(), whole);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn an_altered_or_foreign_sealed_recording_is_left_as_it_is() {
        let d = dir("altered");
        let key = RecordingKey::from_bytes([9; 32]);
        let path = d.join("recordings/01/a.ogg.enc");
        let mut bad = seal(&ogg(150), &key, 1000);
        bad[32 + 2 * 1016 + 5] ^= 1;
        std::fs::write(&path, &bad).unwrap();
        assert!(matches!(
            repair_sealed(&path, &key),
            Err(RepairError::Damaged(2))
        ));
        let other = RecordingKey::from_bytes([8; 32]);
        let e = repair_sealed(&path, &other).unwrap_err();
        assert!(e.leave_row(), "{e}");
        assert_eq!(std::fs::read(&path).unwrap(), bad);
        let _ = std::fs::remove_dir_all(&d);
    }

    fn row(id: &str, file: &str, encrypted: bool) -> Recording {
        Recording {
            id: id.into(),
            meeting_number: "8003".into(),
            unit_code: "01".into(),
            classification: if encrypted { "secret" } else { "normal" }.into(),
            status: "recording".into(),
            started_at_ms: 1_800_000_000_000,
            ended_at_ms: None,
            duration_ms: None,
            file_path: format!("recordings/01/{file}"),
            size_bytes: None,
            codec: "opus".into(),
            encrypted,
            key_id: encrypted.then(|| RecordingKey::from_bytes([9; 32]).id_hex()),
            sha256: None,
            participants: 2,
            packets_dropped: 0,
        }
    }

    #[tokio::test]
    async fn at_start_interrupted_recordings_are_repaired_and_marked() {
        let d = dir("start");
        let key = RecordingKey::from_bytes([9; 32]);
        let key_file = d.join("recordings.key");
        key.write_to(&mut File::create(&key_file).unwrap()).unwrap();
        let store = Store::connect(&format!("sqlite://{}", d.join("gw.db").display()))
            .await
            .unwrap();
        let whole = ogg(150);
        std::fs::write(d.join("recordings/01/cut.ogg"), &whole[..whole.len() - 700]).unwrap();
        let sealed = seal(&whole, &key, 1000);
        std::fs::write(
            d.join("recordings/01/cut.ogg.enc"),
            &sealed[..sealed.len() - 1500],
        )
        .unwrap();
        std::fs::write(d.join("recordings/01/empty.ogg"), b"OggS\0").unwrap();
        for r in [
            row("plain", "cut.ogg", false),
            row("sealed", "cut.ogg.enc", true),
            row("elsewhere", "not-here.ogg", false),
            row("empty", "empty.ogg", false),
        ] {
            store.insert_recording(&r).await.unwrap();
        }
        let marked = repair_interrupted(&store, &d, &key_file).await;
        assert_eq!(marked, 3);
        for id in ["plain", "sealed"] {
            let r = store.get_recording(id).await.unwrap().unwrap();
            assert_eq!(r.status, "interrupted", "{id}");
            // Two whole pages of 50 packets of 20 ms are left.
            let dur = r.duration_ms.unwrap();
            assert_eq!(Some(dur as u64), ms(100), "{id}");
            assert_eq!(r.ended_at_ms, Some(r.started_at_ms + dur));
            let file = std::fs::read(d.join(&r.file_path)).unwrap();
            assert_eq!(r.size_bytes, Some(file.len() as i64));
            assert_eq!(r.sha256, Some(hex(&Sha256::digest(&file))));
        }
        // No file on this node: perhaps another node's live recording.
        let r = store.get_recording("elsewhere").await.unwrap().unwrap();
        assert_eq!(r.status, "recording");
        // Nothing to keep: marked, its duration unknown.
        let r = store.get_recording("empty").await.unwrap().unwrap();
        assert_eq!((r.status.as_str(), r.duration_ms), ("interrupted", None));
        // A second start finds nothing more to do.
        assert_eq!(repair_interrupted(&store, &d, &key_file).await, 0);
        store.close().await;
        let _ = std::fs::remove_dir_all(&d);
    }
}
