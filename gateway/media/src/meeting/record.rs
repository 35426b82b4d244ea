//! Recording a meeting's mix to an Ogg/Opus file (RFC 7845).
//!
//! The mixing task must never wait on a disk: it encodes each 20 ms frame
//! of the full mix (everyone, no minus) and hands the packet to a writer
//! thread through a bounded queue. A full queue (a stalled disk) drops
//! packets and counts them; it never delays the meeting.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;

use codecs::{Application, OpusEncoder};

use super::codec::{FRAME, MIX_RATE};
use crate::ogg::{OggOpusWriter, OpusHead, OpusTags};

/// Packets queued for the writer before the mix starts dropping (10 s).
const QUEUE: usize = 500;
const BITRATE: u32 = 32_000;

/// What to record and where.
#[derive(Debug, Clone)]
pub struct RecordingSpec {
    pub path: PathBuf,
    /// Vorbis comments written into the file (meeting number, unit ...).
    pub tags: Vec<(String, String)>,
}

/// Counters of one recording, readable while it runs.
#[derive(Debug, Default)]
pub struct RecordingStats {
    pub packets_written: AtomicU64,
    pub packets_dropped: AtomicU64,
    pub bytes_written: AtomicU64,
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
        let writer = OggOpusWriter::new(BufWriter::new(file), rand::random(), &head, &tags)
            .map_err(|e| format!("cannot write {}: {e}", spec.path.display()))?;
        let (queue, rx) = sync_channel(QUEUE);
        let path = spec.path.clone();
        let thread_stats = stats.clone();
        std::thread::Builder::new()
            .name("recording".into())
            .spawn(move || write_loop(writer, rx, &path, &thread_stats))
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
    mut writer: OggOpusWriter<BufWriter<File>>,
    rx: Receiver<Vec<u8>>,
    path: &Path,
    stats: &RecordingStats,
) {
    // Ends when the Recorder (and so the sender) drops with the meeting.
    while let Ok(packet) = rx.recv() {
        if let Err(e) = writer.write_packet(&packet) {
            tracing::error!(path = %path.display(), error = %e, "recording write failed; recording stopped");
            return;
        }
        stats.packets_written.fetch_add(1, Relaxed);
        stats.bytes_written.fetch_add(packet.len() as u64, Relaxed);
    }
    match writer.finish() {
        Ok(_) => tracing::info!(
            path = %path.display(),
            packets = stats.packets_written.load(Relaxed),
            dropped = stats.packets_dropped.load(Relaxed),
            "recording closed"
        ),
        Err(e) => tracing::error!(path = %path.display(), error = %e, "recording not finalised"),
    }
}
