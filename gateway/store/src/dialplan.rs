//! Dialplan versions and their normalized projection.
//!
//! **Authoritative:** the `source_text` of the latest row of
//! `dialplan_versions`. [`Store::load_dialplan`] re-parses it, so the loaded
//! snapshot goes through exactly the validation a file does. The tables
//! `units`, `endpoints`, `endpoint_numbers`, `endpoint_aliases`, `trunks`,
//! `trunk_acl` and `rules` are a read model of that same version, brought
//! up to date in the import's transaction, for admin queries ("all
//! endpoints under district 001"). They are never edited on their own: a
//! change is a new source version; its import writes only the rows that
//! differ from the stored ones (`read_model`), and importing the latest
//! version's text again is recognised by its SHA-256 before anything is
//! parsed.

use gateway_dialplan::Dialplan;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::{now_unix, Backend, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DialplanVersion {
    pub version: i64,
    pub file_name: String,
    /// Lower-case hex SHA-256 of the source text.
    pub sha256: String,
    pub imported_at_unix: i64,
}

/// Who changes the dialplan through the administration, for the audit row
/// written with the new version (object kind `dialplan`, object id the
/// version number, no unit: the dialplan is the whole network's).
#[derive(Debug, Clone, PartialEq)]
pub struct DialplanAudit {
    pub at_ms: i64,
    pub actor: String,
    pub actor_role: String,
    /// For example `dialplan.apply` or `dialplan.restore`.
    pub action: String,
    /// Members added to the audit row's `after` object (which always holds
    /// `version`, `file_name` and `sha256`), e.g. `{"restored_from": 3}`.
    pub detail: serde_json::Value,
    /// The unit (structure, code) the change belongs to, when it is one
    /// unit's object (a meeting, trunk or rule it owns): the audit row is
    /// then visible to that unit's subtree, as endpoint changes are.
    /// `None`: a whole-network change (an upload, a restore, an import).
    pub unit: Option<(String, String)>,
}

/// What [`Store::import_dialplan_audited`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialplanImport {
    pub version: i64,
    /// `false`: the text was already the latest version; nothing written.
    pub created: bool,
    /// The version that was current before (when one was created).
    pub previous: Option<DialplanVersion>,
    /// Rows of the read model inserted, updated or deleted: only those that
    /// differ between the two versions.
    pub rows_written: u64,
}

/// A concurrent writer got there first: the version number was taken
/// (PostgreSQL), or SQLite could not upgrade a stale read snapshot to a write.
fn is_write_race(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => {
            db.is_unique_violation()
                || matches!(db.code().as_deref(), Some("5" | "517" | "6" | "262"))
                || db.message().contains("database is locked")
        }
        _ => false,
    }
}

fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

fn check_same(file: &str, parsed: &Dialplan, given: &Dialplan) -> Result<(), StoreError> {
    let differs = if parsed.gateway() != given.gateway() {
        Some("[gateway]")
    } else if parsed.units() != given.units() {
        Some("units")
    } else if parsed.endpoints() != given.endpoints() {
        Some("endpoints")
    } else if parsed.trunks() != given.trunks() {
        Some("trunks")
    } else if parsed.rules() != given.rules() {
        Some("rules")
    } else {
        None
    };
    match differs {
        Some(what) => Err(StoreError::DialplanMismatch {
            file: file.to_string(),
            detail: format!("{what} differ"),
        }),
        None => Ok(()),
    }
}

impl Store {
    /// Stores `source_text` (from which `dialplan` was parsed) as a new
    /// version and rewrites the normalized tables from it, in one
    /// transaction: after an error nothing has changed. Importing the same
    /// text under the same file name as the latest version writes nothing and
    /// returns that version.
    ///
    /// Several nodes may import at once (all starting with the same file):
    /// the loser of the race for the next version number retries, finds the
    /// winner's identical version, and returns it.
    pub async fn import_dialplan(
        &self,
        dialplan: &Dialplan,
        source_text: &str,
        file_name: &str,
    ) -> Result<i64, StoreError> {
        self.import_dialplan_report(dialplan, source_text, file_name)
            .await
            .map(|i| i.version)
    }

    /// [`Store::import_dialplan`], saying what it wrote.
    pub async fn import_dialplan_report(
        &self,
        dialplan: &Dialplan,
        source_text: &str,
        file_name: &str,
    ) -> Result<DialplanImport, StoreError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self
                .import_tx(dialplan, source_text, file_name, None, None)
                .await
            {
                Err(StoreError::Database(e)) if attempt < 4 && is_write_race(&e) => {
                    tracing::debug!(attempt, error = %e, "dialplan import raced another writer; retrying");
                }
                other => return other,
            }
        }
    }

    /// Like [`Store::import_dialplan`], and records who made the change in
    /// `adm_audit` within the import's transaction: the version and its
    /// audit row exist together or not at all. Nothing is written (and no
    /// audit row either) when the text is the latest version's.
    pub async fn import_dialplan_audited(
        &self,
        dialplan: &Dialplan,
        source_text: &str,
        file_name: &str,
        audit: &DialplanAudit,
    ) -> Result<DialplanImport, StoreError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self
                .import_tx(dialplan, source_text, file_name, None, Some(audit))
                .await
            {
                Err(StoreError::Database(e)) if attempt < 4 && is_write_race(&e) => {
                    tracing::debug!(attempt, error = %e, "dialplan import raced another writer; retrying");
                }
                other => return other,
            }
        }
    }

    #[cfg(test)]
    pub(crate) async fn import_inner(
        &self,
        dp: &Dialplan,
        source_text: &str,
        file_name: &str,
        fail_after: Option<&'static str>,
    ) -> Result<i64, StoreError> {
        self.import_tx(dp, source_text, file_name, fail_after, None)
            .await
            .map(|i| i.version)
    }

    async fn import_tx(
        &self,
        dp: &Dialplan,
        source_text: &str,
        file_name: &str,
        fail_after: Option<&'static str>,
        audit: Option<&DialplanAudit>,
    ) -> Result<DialplanImport, StoreError> {
        // The common case at start-up and on reload: the text is already the
        // latest version. Recognised by its hash, before the (city-scale:
        // several seconds) verification parse; `write_version` checks again
        // under the write lock.
        if let Some(done) =
            Self::unchanged(&mut *self.pool.acquire().await?, source_text, file_name).await?
        {
            return Ok(done);
        }
        // The stored source must rebuild this very snapshot, or the
        // authoritative text and the read model would disagree.
        let parsed = Dialplan::parse(source_text, file_name).map_err(|errs| {
            StoreError::DialplanMismatch {
                file: file_name.to_string(),
                detail: errs.first().map(|e| e.to_string()).unwrap_or_default(),
            }
        })?;
        check_same(file_name, &parsed, dp)?;

        // SQLite: take the write lock up front, so a concurrent importer waits
        // (busy timeout) instead of failing to upgrade a read lock.
        let mut tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        let done =
            Self::write_version(&mut tx, dp, source_text, file_name, fail_after, audit).await?;
        if done.created {
            tx.commit().await?;
            tracing::info!(
                version = done.version,
                file = file_name,
                "dialplan imported"
            );
        } else {
            tx.rollback().await?;
        }
        Ok(done)
    }

    /// Like [`Store::import_dialplan_audited`], inside the caller's
    /// transaction (from [`Store::begin_admin`]), so that the new version
    /// commits or rolls back together with the caller's other writes (the
    /// reorganisation of the city's units moves the registry's endpoints and
    /// stores the rewritten dialplan at once). Nothing is written when the
    /// text is the latest version's. The caller commits.
    pub async fn import_dialplan_in(
        conn: &mut sqlx::AnyConnection,
        dialplan: &Dialplan,
        source_text: &str,
        file_name: &str,
        audit: &DialplanAudit,
    ) -> Result<DialplanImport, StoreError> {
        if let Some(done) = Self::unchanged(&mut *conn, source_text, file_name).await? {
            return Ok(done);
        }
        let parsed = Dialplan::parse(source_text, file_name).map_err(|errs| {
            StoreError::DialplanMismatch {
                file: file_name.to_string(),
                detail: errs.first().map(|e| e.to_string()).unwrap_or_default(),
            }
        })?;
        check_same(file_name, &parsed, dialplan)?;
        Self::write_version(conn, dialplan, source_text, file_name, None, Some(audit)).await
    }

    /// The latest version, as the result of an import that wrote nothing,
    /// when `source_text` under `file_name` is that version's.
    async fn unchanged(
        conn: &mut sqlx::AnyConnection,
        source_text: &str,
        file_name: &str,
    ) -> Result<Option<DialplanImport>, StoreError> {
        let latest = sqlx::query(
            "SELECT version, sha256, file_name FROM dialplan_versions ORDER BY version DESC LIMIT 1",
        )
        .fetch_optional(&mut *conn)
        .await?;
        let Some(row) = latest else { return Ok(None) };
        let (sha, name): (String, String) = (row.try_get("sha256")?, row.try_get("file_name")?);
        if name != file_name || sha != sha256_hex(source_text) {
            return Ok(None);
        }
        Ok(Some(DialplanImport {
            version: row.try_get("version")?,
            created: false,
            previous: None,
            rows_written: 0,
        }))
    }

    /// Writes a new version and brings the read model to it (by difference:
    /// see `read_model`) in an open transaction; nothing when `source_text`
    /// is the latest version's (`created: false`).
    async fn write_version(
        tx: &mut sqlx::AnyConnection,
        dp: &Dialplan,
        source_text: &str,
        file_name: &str,
        fail_after: Option<&'static str>,
        audit: Option<&DialplanAudit>,
    ) -> Result<DialplanImport, StoreError> {
        let sha = sha256_hex(source_text);
        let latest = sqlx::query("SELECT version, sha256, file_name, imported_at_unix FROM dialplan_versions ORDER BY version DESC LIMIT 1")
            .fetch_optional(&mut *tx)
            .await?;
        let previous = match &latest {
            Some(row) => Some(DialplanVersion {
                version: row.try_get("version")?,
                file_name: row.try_get("file_name")?,
                sha256: row.try_get("sha256")?,
                imported_at_unix: row.try_get("imported_at_unix")?,
            }),
            None => None,
        };
        let next = match &previous {
            Some(p) if p.sha256 == sha && p.file_name == file_name => {
                return Ok(DialplanImport {
                    version: p.version,
                    created: false,
                    previous: None,
                    rows_written: 0,
                });
            }
            Some(p) => p.version + 1,
            None => 1,
        };
        let fail = |stage: &'static str| -> Result<(), StoreError> {
            #[cfg(test)]
            if fail_after == Some(stage) {
                return Err(StoreError::Injected(stage));
            }
            let _ = (stage, fail_after);
            Ok(())
        };

        let g = dp.gateway();
        sqlx::query(
            "INSERT INTO dialplan_versions (version, file_name, source_text, sha256, imported_at_unix, \
             realm, domains_json, max_duration_secs, encryption) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(next)
        .bind(file_name)
        .bind(source_text)
        .bind(sha.as_str())
        .bind(now_unix())
        .bind(g.realm.clone())
        .bind(serde_json::to_string(&g.domains).unwrap_or_else(|_| "[]".into()))
        .bind(g.max_duration_secs as i64)
        .bind(g.encryption.as_str())
        .execute(&mut *tx)
        .await?;
        fail("dialplan_versions")?;

        let stats = crate::read_model::sync(&mut *tx, dp, fail).await?;
        tracing::debug!(version = next, rows = ?stats.rows, "dialplan read model brought up to date");
        if let Some(a) = audit {
            let mut after = serde_json::json!({
                "version": next,
                "file_name": file_name,
                "sha256": sha,
            });
            if let (Some(obj), serde_json::Value::Object(extra)) =
                (after.as_object_mut(), &a.detail)
            {
                for (k, v) in extra {
                    obj.insert(k.clone(), v.clone());
                }
            }
            let before = previous.as_ref().map(|p| {
                serde_json::json!({
                    "version": p.version,
                    "file_name": p.file_name,
                    "sha256": p.sha256,
                })
            });
            let id = crate::units::next_id(&mut *tx, "adm_audit").await?;
            sqlx::query(
                "INSERT INTO adm_audit (id, at_ms, actor, actor_role, action, object_kind, object_id, \
                 unit_structure, unit_code, before_json, after_json) \
                 VALUES ($1, $2, $3, $4, $5, 'dialplan', $6, $7, $8, $9, $10)",
            )
            .bind(id)
            .bind(a.at_ms)
            .bind(a.actor.as_str())
            .bind(a.actor_role.as_str())
            .bind(a.action.as_str())
            .bind(next.to_string())
            .bind(a.unit.as_ref().map(|u| u.0.as_str()))
            .bind(a.unit.as_ref().map(|u| u.1.as_str()))
            .bind(before.map(|b| b.to_string()))
            .bind(after.to_string())
            .execute(&mut *tx)
            .await?;
        }
        Ok(DialplanImport {
            version: next,
            created: true,
            previous,
            rows_written: stats.written(),
        })
    }

    /// The latest imported dialplan, re-parsed from its stored source, or
    /// `None` when none was ever imported.
    pub async fn load_dialplan(&self) -> Result<Option<Dialplan>, StoreError> {
        let row = sqlx::query("SELECT version, file_name, source_text FROM dialplan_versions ORDER BY version DESC LIMIT 1")
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let version: i64 = row.try_get("version")?;
        let file: String = row.try_get("file_name")?;
        let src: String = row.try_get("source_text")?;
        Dialplan::parse(&src, &file)
            .map(Some)
            .map_err(|errors| StoreError::StoredDialplanInvalid { version, errors })
    }

    /// The latest version, or `None` when no dialplan was imported.
    pub async fn dialplan_version(&self) -> Result<Option<DialplanVersion>, StoreError> {
        Ok(self.dialplan_versions(1).await?.into_iter().next())
    }

    /// The newest `limit` versions, newest first.
    pub async fn dialplan_versions(&self, limit: i64) -> Result<Vec<DialplanVersion>, StoreError> {
        let rows = sqlx::query(
            "SELECT version, file_name, sha256, imported_at_unix FROM dialplan_versions ORDER BY version DESC LIMIT $1",
        )
        .bind(limit.max(0))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DialplanVersion {
                    version: r.try_get("version")?,
                    file_name: r.try_get("file_name")?,
                    sha256: r.try_get("sha256")?,
                    imported_at_unix: r.try_get("imported_at_unix")?,
                })
            })
            .collect()
    }

    /// The stored source text and file name of one version.
    pub async fn dialplan_source(
        &self,
        version: i64,
    ) -> Result<Option<(String, String)>, StoreError> {
        let row =
            sqlx::query("SELECT file_name, source_text FROM dialplan_versions WHERE version = $1")
                .bind(version)
                .fetch_optional(&self.pool)
                .await?;
        match row {
            Some(r) => Ok(Some((r.try_get("file_name")?, r.try_get("source_text")?))),
            None => Ok(None),
        }
    }
}
