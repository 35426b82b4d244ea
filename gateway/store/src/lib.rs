//! Persistent state of the gateway: the imported dialplan (versioned source
//! and a normalized projection for admin queries), registrations and call
//! detail records.
//!
//! One schema and one set of queries serve SQLite (the embedded default) and
//! PostgreSQL (several gateway nodes sharing a control plane): the store goes
//! through sqlx's `Any` driver, the schema uses only `TEXT` and `BIGINT`
//! (and `DOUBLE PRECISION` for the call-quality measurements of a CDR), and
//! every query uses `$N` placeholders, which both databases accept.
//!
//! Besides the dialplan's read model, the store holds the administration
//! registry (`adm_*` tables: units of both city structures, endpoints with
//! vetting, contacts and devices, users, sessions, audit); see [`units`] and
//! the `gateway-admin` crate, which owns the operations on it.
//!
//! Tests run on a temporary SQLite file; `gateway/store/tests/pg.sh` runs the
//! same tests on a throwaway PostgreSQL cluster as well.

pub mod batch;
mod bindings;
mod cdrs;
mod dialplan;
mod read_model;
pub mod recording_grants;
mod recordings;
pub mod units;

use std::path::{Path, PathBuf};

use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;

pub use bindings::Binding;
pub use cdrs::{Cdr, CDR_OUTCOMES};
pub use dialplan::{DialplanAudit, DialplanImport, DialplanVersion};
pub use recording_grants::{NewRecordingGrant, RecordingAccess, RecordingFilter, RecordingGrant};
pub use recordings::{Recording, RecordingFinish, RECORDING_STATUSES};
pub use units::{AdminUnit, Structure, UnitImport, UnitRef};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://...")]
    UnsupportedUrl(String),
    #[error("cannot create directory {}: {source}", path.display())]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The source text given to `import_dialplan` does not parse, or does not
    /// describe the dialplan given with it.
    #[error("dialplan source {file} does not match the dialplan to import: {detail}")]
    DialplanMismatch { file: String, detail: String },
    /// A stored dialplan no longer parses (for example after a change of the
    /// format); the errors name the stored file.
    #[error("stored dialplan version {version} is invalid: {}", errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    StoredDialplanInvalid {
        version: i64,
        errors: Vec<gateway_dialplan::DialplanError>,
    },
    #[error("invalid {field}: {detail}")]
    Invalid { field: &'static str, detail: String },
    #[cfg(test)]
    #[error("injected failure after {0}")]
    Injected(&'static str),
}

/// A handle on the database; cheap to clone (a connection pool).
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Store {
    /// Opens `sqlite://path/to/file.db` (creating the file and its directory,
    /// in WAL mode), `sqlite::memory:`, or `postgres://…`, and brings the
    /// schema up to date.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let (url, backend, memory) = if let Some(rest) = url.strip_prefix("sqlite:") {
            let (path, query) = match rest.split_once('?') {
                Some((p, q)) => (p, Some(q)),
                None => (rest, None),
            };
            let path = path.strip_prefix("//").unwrap_or(path);
            let memory = path.is_empty()
                || path == ":memory:"
                || query.is_some_and(|q| q.contains("mode=memory"));
            if !memory {
                if let Some(dir) = Path::new(path)
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty())
                {
                    std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                        path: dir.to_path_buf(),
                        source,
                    })?;
                }
            }
            let url = match query {
                Some(q) if q.contains("mode=") => url.to_string(),
                Some(_) => format!("{url}&mode=rwc"),
                None if memory => url.to_string(),
                None => format!("{url}?mode=rwc"),
            };
            (url, Backend::Sqlite, memory)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (url.to_string(), Backend::Postgres, false)
        } else {
            return Err(StoreError::UnsupportedUrl(url.to_string()));
        };
        // Each connection to an in-memory SQLite database is a database of
        // its own: keep exactly one.
        let max = if memory { 1 } else { 8 };
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            .connect(&url)
            .await?;
        if backend == Backend::Sqlite && !memory {
            // Persistent in the file: readers no longer block the writer.
            sqlx::query("PRAGMA journal_mode=WAL")
                .execute(&pool)
                .await?;
        }
        MIGRATOR.run(&pool).await?;
        Ok(Store { pool, backend })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool, for queries this crate does not offer yet (admin reports).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

pub(crate) fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests;
