//! `gateway recordings list|decrypt`.

use clap::Subcommand;
use std::path::PathBuf;

use super::{db_url, tokio_runtime, DbArgs, Fail};
use crate::config::Config;

#[derive(Subcommand)]
pub(crate) enum RecordingsCmd {
    /// Recordings in the database, newest first, one JSON object a line.
    List {
        /// Only the recordings this unit owns.
        #[arg(long)]
        unit: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: i64,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Decrypt a recording of a classified meeting (`.ogg.enc`) to Ogg/Opus,
    /// verifying every chunk. The output is the meeting in clear: for
    /// authorised operators only.
    Decrypt {
        file: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// The recording key (default: `recordings.key_file` of the
        /// configuration, or DATA_DIR/recordings.key).
        #[arg(long)]
        key_file: Option<PathBuf>,
        #[arg(long, env = "GATEWAY_CONFIG")]
        config: Option<PathBuf>,
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

pub(crate) fn recordings(cmd: RecordingsCmd) -> Result<String, Fail> {
    match cmd {
        RecordingsCmd::List { unit, limit, db } => tokio_runtime().block_on(async {
            let url = db_url(db.db.clone(), &db.data_dir);
            let store = gateway_store::Store::connect(&url)
                .await
                .map_err(|e| (1, format!("database {url}: {e}")))?;
            let rows = match &unit {
                Some(u) => store.list_recordings_by_unit(u, limit).await,
                None => store.list_recordings(limit).await,
            }
            .map_err(|e| (1, e.to_string()))?;
            let lines: Vec<String> = rows
                .iter()
                .map(|r| serde_json::to_string(r).expect("plain data serializes"))
                .collect();
            Ok(lines.join("\n"))
        }),
        RecordingsCmd::Decrypt {
            file,
            out,
            key_file,
            config,
            data_dir,
        } => decrypt_recording(&file, &out, key_file, config, data_dir),
    }
}

/// The key file of `recordings decrypt`: the flag, else the configuration's
/// (`recordings.key_file`, or `<data_dir>/recordings.key`).
fn recording_key_path(
    key_file: Option<PathBuf>,
    config: Option<PathBuf>,
    data_dir: Option<PathBuf>,
) -> Result<PathBuf, (u8, String)> {
    if let Some(k) = key_file {
        return Ok(k);
    }
    let mut cfg = match &config {
        Some(p) => Config::load(p).map_err(|e| (2, e.to_string()))?,
        None => Config::default(),
    };
    if let Some(d) = data_dir {
        cfg.data_dir = d;
    }
    Ok(cfg.recording_key_file())
}

/// Decrypts to `OUT.partial` (mode 0600: it is the meeting in clear) and
/// renames it to `out` only when every chunk verified; on any error nothing
/// is left behind.
fn decrypt_recording(
    file: &std::path::Path,
    out: &std::path::Path,
    key_file: Option<PathBuf>,
    config: Option<PathBuf>,
    data_dir: Option<PathBuf>,
) -> Result<String, (u8, String)> {
    use gateway_media::meeting::seal;
    let key_path = recording_key_path(key_file, config, data_dir)?;
    let key = crate::meeting::recording::load_key(&key_path).map_err(|e| (1, e.to_string()))?;
    let mut input = std::io::BufReader::new(
        std::fs::File::open(file).map_err(|e| (1, format!("{}: {e}", file.display())))?,
    );
    let mut partial = out.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let result = opts
        .open(&partial)
        .map_err(|e| format!("{}: {e}", partial.display()))
        .and_then(|f| {
            let mut w = std::io::BufWriter::new(f);
            let n = seal::open_stream(&mut input, &mut w, &key)
                .map_err(|e| format!("{}: {e}", file.display()))?;
            let f = w
                .into_inner()
                .map_err(|e| format!("{}: {}", partial.display(), e.error()))?;
            f.sync_all()
                .map_err(|e| format!("{}: {e}", partial.display()))?;
            std::fs::rename(&partial, out).map_err(|e| format!("{}: {e}", out.display()))?;
            Ok(n)
        });
    match result {
        Ok(n) => Ok(format!(
            "{} decrypted with key {} to {} ({n} bytes, every chunk verified)",
            file.display(),
            key.id_hex(),
            out.display()
        )),
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err((1, e))
        }
    }
}
