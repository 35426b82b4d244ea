//! Recording a meeting's mix to an Ogg/Opus file (RFC 7845).
//!
//! The mixing task must never wait on a disk: it encodes each 20 ms frame
//! of the full mix (everyone, no minus) and hands the packet to a writer
//! thread through a bounded queue. A full queue (a stalled disk) drops
//! packets and counts them; it never delays the meeting.
//!
//! With a [`RecordingKey`] the Ogg stream goes through a [`SealWriter`]
//! (see [`super::seal`]) before it reaches the disk: nothing of a
//! classified meeting is ever written in clear. The writer hashes the bytes
//! as they reach the file, so the SHA-256 of the stored file is known when
//! it closes without reading it back.

use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;

use codecs::{Application, OpusEncoder};
use sha2::{Digest, Sha256};

use super::codec::{FRAME, MIX_RATE};
use super::seal::{RecordingKey, SealWriter};
use crate::ogg::{OggOpusWriter, OpusHead, OpusTags};

/// Packets queued for the writer before the mix starts dropping (10 s).
const QUEUE: usize = 500;
const BITRATE: u32 = 32_000;

/// Called once, on the writer thread, when the file is closed (or the
/// recording failed). Must not block for long.
pub type OnClosed = Arc<dyn Fn(RecordingClosed) + Send + Sync>;

/// What to record and where.
#[derive(Clone, Default)]
pub struct RecordingSpec {
    pub path: PathBuf,
    /// Vorbis comments written into the file (meeting number, unit ...).
    /// Inside the encryption when the file is sealed.
    pub tags: Vec<(String, String)>,
    /// Encrypt the file at rest with this key (see [`super::seal`]).
    pub seal: Option<Arc<RecordingKey>>,
    pub on_closed: Option<OnClosed>,
}

impl fmt::Debug for RecordingSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordingSpec")
            .field("path", &self.path)
            .field("tags", &self.tags)
            .field("seal", &self.seal)
            .field("on_closed", &self.on_closed.is_some())
            .finish()
    }
}

/// The facts of a closed recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingClosed {
    pub path: PathBuf,
    /// `None`: finished cleanly; otherwise why the file ends early.
    pub error: Option<String>,
    /// Size and SHA-256 of the file as stored.
    pub size_bytes: u64,
    pub sha256: [u8; 32],
    /// Length of the recorded audio.
    pub duration_ms: u64,
    pub packets_written: u64,
    pub packets_dropped: u64,
}

/// Counters of one recording, readable while it runs.
#[derive(Debug, Default)]
pub struct RecordingStats {
    pub packets_written: AtomicU64,
    pub packets_dropped: AtomicU64,
    pub bytes_written: AtomicU64,
}

/// The file, hashed and counted as bytes reach it.
struct HashingFile {
    file: File,
    hash: Sha256,
    len: u64,
}

impl Write for HashingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hash.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

type FileOut = BufWriter<HashingFile>;

/// Where the Ogg pages go: the file, or the sealer in front of it.
enum Sink {
    Plain(FileOut),
    // Boxed: the cipher's expanded key makes it far larger than a BufWriter.
    Sealed(Box<SealWriter<FileOut>>),
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sink::Plain(w) => w.write(buf),
            Sink::Sealed(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Plain(w) => w.flush(),
            Sink::Sealed(w) => w.flush(),
        }
    }
}

impl Sink {
    fn finish(self) -> io::Result<HashingFile> {
        let out = match self {
            Sink::Plain(w) => w,
            Sink::Sealed(w) => w.finish()?,
        };
        let f = out.into_inner().map_err(|e| e.into_error())?;
        // A recording is evidence: it is on the disk before it is reported.
        f.file.sync_all()?;
        Ok(f)
    }
}

pub(crate) struct Recorder {
    encoder: OpusEncoder,
    pcm: Vec<i16>,
    packet: Vec<u8>,
    queue: SyncSender<Vec<u8>>,
    stats: Arc<RecordingStats>,
}

impl Recorder {
    /// Create the file and start its writer thread.
    pub(crate) fn start(
        spec: &RecordingSpec,
        stats: Arc<RecordingStats>,
    ) -> Result<Recorder, String> {
        let mut encoder = OpusEncoder::new(MIX_RATE, 1, Application::Voip, BITRATE)
            .map_err(|e| format!("Opus encoder: {e}"))?;
        let pre_skip = encoder.lookahead().unwrap_or(0) * (48_000 / MIX_RATE as usize);
        if let Some(dir) = spec.path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let file = File::create(&spec.path)
            .map_err(|e| format!("cannot create {}: {e}", spec.path.display()))?;
        let out = BufWriter::new(HashingFile {
            file,
            hash: Sha256::new(),
            len: 0,
        });
        let sink = match &spec.seal {
            Some(key) => Sink::Sealed(Box::new(
                SealWriter::new(out, key)
                    .map_err(|e| format!("cannot write {}: {e}", spec.path.display()))?,
            )),
            None => Sink::Plain(out),
        };
        let head = OpusHead {
            channels: 1,
            pre_skip: pre_skip.min(u16::MAX as usize) as u16,
            input_sample_rate: MIX_RATE,
            output_gain: 0,
        };
        let mut tags = OpusTags::new(concat!("gateway ", env!("CARGO_PKG_VERSION")));
        for (k, v) in &spec.tags {
            tags = tags.with(k, v);
        }
        let writer = OggOpusWriter::new(sink, rand::random(), &head, &tags)
            .map_err(|e| format!("cannot write {}: {e}", spec.path.display()))?;
        let (queue, rx) = sync_channel(QUEUE);
        let path = spec.path.clone();
        let thread_stats = stats.clone();
        let on_closed = spec.on_closed.clone();
        let pre_skip = u64::from(head.pre_skip);
        std::thread::Builder::new()
            .name("recording".into())
            .spawn(move || {
                let closed = write_loop(writer, rx, &path, &thread_stats, pre_skip);
                if let Some(f) = on_closed {
                    f(closed);
                }
            })
            .map_err(|e| format!("cannot start the recording thread: {e}"))?;
        Ok(Recorder {
            encoder,
            pcm: Vec::with_capacity(FRAME),
            packet: Vec::with_capacity(1500),
            queue,
            stats,
        })
    }

    /// One 20 ms frame of the full mix.
    pub(crate) fn push(&mut self, total: &[i32]) {
        self.pcm.clear();
        self.pcm.extend(
            total
                .iter()
                .map(|&s| s.clamp(i16::MIN as i32, i16::MAX as i32) as i16),
        );
        self.packet.clear();
        if self.encoder.encode(&self.pcm, &mut self.packet).is_err() {
            self.stats.packets_dropped.fetch_add(1, Relaxed);
            return;
        }
        match self.queue.try_send(self.packet.clone()) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.stats.packets_dropped.fetch_add(1, Relaxed);
            }
        }
    }
}

fn write_loop(
    mut writer: OggOpusWriter<Sink>,
    rx: Receiver<Vec<u8>>,
    path: &Path,
    stats: &RecordingStats,
    pre_skip: u64,
) -> RecordingClosed {
    let mut failed = None;
    // Ends when the Recorder (and so the sender) drops with the meeting.
    while let Ok(packet) = rx.recv() {
        if let Err(e) = writer.write_packet(&packet) {
            tracing::error!(path = %path.display(), error = %e, "recording write failed; recording stopped");
            failed = Some(e.to_string());
            break;
        }
        stats.packets_written.fetch_add(1, Relaxed);
        stats.bytes_written.fetch_add(packet.len() as u64, Relaxed);
    }
    // Packets still queued after a failure are lost too.
    let lost = rx.try_iter().count() as u64;
    stats.packets_dropped.fetch_add(lost, Relaxed);
    let duration_ms = writer.granule_position().saturating_sub(pre_skip) / 48;
    let mut closed = RecordingClosed {
        path: path.to_path_buf(),
        error: failed,
        size_bytes: 0,
        sha256: [0; 32],
        duration_ms,
        packets_written: stats.packets_written.load(Relaxed),
        packets_dropped: stats.packets_dropped.load(Relaxed),
    };
    let finished = match closed.error {
        Some(_) => Err(io::Error::other("not finished")),
        None => writer.finish().and_then(Sink::finish),
    };
    match finished {
        Ok(f) => {
            closed.size_bytes = f.len;
            closed.sha256 = f.hash.finalize().into();
            tracing::info!(
                path = %path.display(),
                packets = closed.packets_written,
                dropped = closed.packets_dropped,
                bytes = closed.size_bytes,
                "recording closed"
            );
        }
        Err(e) => {
            if closed.error.is_none() {
                tracing::error!(path = %path.display(), error = %e, "recording not finalised");
                closed.error = Some(e.to_string());
            }
            // What is on the disk, for the record of a failed recording.
            if let Ok((len, sha)) = hash_file(path) {
                closed.size_bytes = len;
                closed.sha256 = sha;
            }
        }
    }
    closed
}

fn hash_file(path: &Path) -> io::Result<(u64, [u8; 32])> {
    let mut f = File::open(path)?;
    let mut h = Sha256::new();
    let len = io::copy(&mut f, &mut h)?;
    Ok((len, h.finalize().into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meeting::seal::open_stream;
    use crate::ogg::{packets, read_pages};
    use std::sync::mpsc::channel;
    use std::time::Duration;

    /// Records `frames` frames of a tone; returns what the writer reported.
    fn record(path: &Path, seal: Option<Arc<RecordingKey>>, frames: usize) -> RecordingClosed {
        let (tx, rx) = channel();
        let tx = std::sync::Mutex::new(tx);
        let spec = RecordingSpec {
            path: path.to_path_buf(),
            tags: vec![("MEETING".into(), "8003".into())],
            seal,
            on_closed: Some(Arc::new(move |c| {
                let _ = tx.lock().unwrap().send(c);
            })),
        };
        let mut r = Recorder::start(&spec, Arc::default()).unwrap();
        let tone: Vec<i32> = (0..FRAME)
            .map(|i| ((i as f32 * 0.2).sin() * 8000.0) as i32)
            .collect();
        for _ in 0..frames {
            r.push(&tone);
        }
        drop(r);
        rx.recv_timeout(Duration::from_secs(30))
            .expect("the writer reports the close")
    }

    fn tmp(name: &str) -> PathBuf {
        std::env::temp_dir()
            .join(format!("gateway-record-test-{}", std::process::id()))
            .join(name)
    }

    #[test]
    fn a_sealed_recording_decrypts_to_the_ogg_stream() {
        let path = tmp("8003.ogg.enc");
        let key = Arc::new(RecordingKey::from_bytes([3; 32]));
        let closed = record(&path, Some(key.clone()), 100);
        assert_eq!(closed.error, None);
        assert_eq!(closed.packets_written, 100);
        // 2 s of mix less the encoder's pre-skip (a few ms, RFC 7845 4.2).
        assert!((1980..=2000).contains(&closed.duration_ms), "{closed:?}");
        let stored = std::fs::read(&path).unwrap();
        assert_eq!(closed.size_bytes, stored.len() as u64);
        assert_eq!(closed.sha256, <[u8; 32]>::from(Sha256::digest(&stored)));
        assert!(read_pages(&stored).is_err(), "stored bytes are not Ogg");
        assert!(
            !stored.windows(4).any(|w| w == b"8003"),
            "tags are sealed too"
        );

        let mut ogg = Vec::new();
        open_stream(&mut &stored[..], &mut ogg, &key).unwrap();
        let pages = read_pages(&ogg).unwrap();
        let serial = pages[0].serial;
        // OpusHead, OpusTags, then one packet per frame.
        assert_eq!(packets(&pages, serial).len(), 102);
        std::fs::remove_file(&path).ok();
    }

    #[test]
    fn a_plain_recording_reports_its_hash() {
        let path = tmp("8002.ogg");
        let closed = record(&path, None, 10);
        let stored = std::fs::read(&path).unwrap();
        assert_eq!(closed.error, None);
        assert_eq!(closed.size_bytes, stored.len() as u64);
        assert_eq!(closed.sha256, <[u8; 32]>::from(Sha256::digest(&stored)));
        assert!(read_pages(&stored).is_ok());
        assert!((180..=200).contains(&closed.duration_ms), "{closed:?}");
        std::fs::remove_file(&path).ok();
    }

    #[test]
    fn the_spec_never_shows_the_key() {
        let spec = RecordingSpec {
            seal: Some(Arc::new(RecordingKey::from_bytes([0x5a; 32]))),
            ..Default::default()
        };
        let shown = format!("{spec:?}");
        assert!(shown.contains("RecordingKey(id "), "{shown}");
        assert!(
            !shown.contains("5a5a5a5a") && !shown.contains("90, 90"),
            "{shown}"
        );
    }
}
