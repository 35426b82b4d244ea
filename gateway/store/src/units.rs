//! Administrative units of the city as a tree of any depth, in both of the
//! city's structures ('2024' three-tier, '2025' two-tier), imported from the
//! official unit files. This is the administration registry (`adm_units`),
//! not the dialplan's read model (`units`), which dialplan imports rewrite.
//!
//! Subtree and ancestry questions are recursive CTEs, which SQLite and
//! PostgreSQL both evaluate; [`SUBTREE_CTE`] is the fragment other queries
//! join against to stay inside an administrator's subtree.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, Row};
use unicode_normalization::UnicodeNormalization;

use crate::{Backend, Store, StoreError};

/// One of the city's two structures of administrative units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Structure {
    /// City, 30 districts, 526 wards/communes (before 1 July 2025).
    #[serde(rename = "2024")]
    Y2024,
    /// City and 126 wards/communes (from 1 July 2025).
    #[serde(rename = "2025")]
    Y2025,
}

/// The day the two-tier structure took over.
pub const REORGANISATION_DATE: &str = "2025-07-01";

impl Structure {
    pub const ALL: [Structure; 2] = [Structure::Y2024, Structure::Y2025];

    pub fn as_str(self) -> &'static str {
        match self {
            Structure::Y2024 => "2024",
            Structure::Y2025 => "2025",
        }
    }

    pub fn parse(s: &str) -> Option<Structure> {
        match s {
            "2024" => Some(Structure::Y2024),
            "2025" => Some(Structure::Y2025),
            _ => None,
        }
    }

    /// (valid_from, valid_to) of every unit of this structure; valid_to is
    /// exclusive. The files do not date the units of 2024 individually.
    fn validity(self) -> (Option<&'static str>, Option<&'static str>) {
        match self {
            Structure::Y2024 => (None, Some(REORGANISATION_DATE)),
            Structure::Y2025 => (Some(REORGANISATION_DATE), None),
        }
    }
}

impl fmt::Display for Structure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A unit's identity: official codes are reused between structures with
/// other meanings, so the structure is part of it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitRef {
    pub structure: Structure,
    pub code: String,
}

impl UnitRef {
    pub fn new(structure: Structure, code: impl Into<String>) -> UnitRef {
        UnitRef {
            structure,
            code: code.into(),
        }
    }

    /// `STRUCTURE/CODE` (as printed by `Display`), or a bare `CODE` in
    /// `default` structure.
    pub fn parse(s: &str, default: Structure) -> Option<UnitRef> {
        let (structure, code) = match s.split_once('/') {
            Some((st, code)) => (Structure::parse(st)?, code),
            None => (default, s),
        };
        let ok = !code.is_empty() && code.len() <= 16 && code.bytes().all(|b| b.is_ascii_digit());
        ok.then(|| UnitRef::new(structure, code))
    }
}

impl fmt::Display for UnitRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.structure, self.code)
    }
}

pub const UNIT_KINDS: [&str; 7] = [
    "city",
    "urban_district",
    "rural_district",
    "town",
    "ward",
    "commune",
    "township",
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdminUnit {
    pub structure: Structure,
    pub code: String,
    /// Vietnamese, Unicode NFC.
    pub name: String,
    pub codename: String,
    pub kind: String,
    pub parent_code: Option<String>,
    pub valid_from: Option<String>,
    pub valid_to: Option<String>,
    /// Distance from the root of the query that returned it (0 for the
    /// root itself); 0 where the query is not about a subtree.
    pub depth: i64,
}

impl AdminUnit {
    pub fn unit_ref(&self) -> UnitRef {
        UnitRef::new(self.structure, self.code.clone())
    }
}

/// What an import of a unit file changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct UnitImport {
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
}

impl UnitImport {
    pub fn total(&self) -> u64 {
        self.inserted + self.updated + self.unchanged
    }
}

#[derive(Deserialize)]
struct UnitFile {
    city: UnitNode,
}

#[derive(Deserialize)]
struct UnitNode {
    code: u32,
    name: String,
    codename: String,
    kind: String,
    #[serde(default)]
    children: Vec<UnitNode>,
}

/// The official codes are numbers; written out they have a width per level
/// (city 2 digits, district-level 3, ward-level 5), as the dialplans use them.
fn official_code(kind: &str, code: u32) -> String {
    match kind {
        "city" => format!("{code:02}"),
        "urban_district" | "rural_district" | "town" => format!("{code:03}"),
        _ => format!("{code:05}"),
    }
}

/// Units of one structure, parents before children.
fn flatten(structure: Structure, json: &str) -> Result<Vec<AdminUnit>, StoreError> {
    let file: UnitFile = serde_json::from_str(json).map_err(|e| StoreError::Invalid {
        field: "unit file",
        detail: e.to_string(),
    })?;
    let (from, to) = structure.validity();
    let mut out = Vec::new();
    let mut stack: Vec<(&UnitNode, Option<String>)> = vec![(&file.city, None)];
    let mut seen = std::collections::HashSet::new();
    while let Some((node, parent)) = stack.pop() {
        if !UNIT_KINDS.contains(&node.kind.as_str()) {
            return Err(StoreError::Invalid {
                field: "unit.kind",
                detail: format!("unit {} has unknown kind {:?}", node.code, node.kind),
            });
        }
        let code = official_code(&node.kind, node.code);
        if !seen.insert(code.clone()) {
            return Err(StoreError::Invalid {
                field: "unit.code",
                detail: format!("code {code} appears twice in structure {structure}"),
            });
        }
        let name: String = node.name.trim().nfc().collect();
        if name.is_empty() {
            return Err(StoreError::Invalid {
                field: "unit.name",
                detail: format!("unit {code} has no name"),
            });
        }
        for child in node.children.iter().rev() {
            stack.push((child, Some(code.clone())));
        }
        out.push(AdminUnit {
            structure,
            code,
            name,
            codename: node.codename.clone(),
            kind: node.kind.clone(),
            parent_code: parent,
            valid_from: from.map(str::to_string),
            valid_to: to.map(str::to_string),
            depth: 0,
        });
    }
    Ok(out)
}

/// Joined as `JOIN scope s ON s.structure = x.unit_structure AND s.code =
/// x.unit_code`, with the root bound to `$1` (structure) and `$2` (code):
/// the root and every unit below it, at any depth, with its depth. With
/// `$1` bound to `''` it is every unit of every structure (each tree from
/// its root), so one query text serves scoped and unscoped callers.
pub const SUBTREE_CTE: &str = "WITH RECURSIVE scope (structure, code, depth) AS ( \
    SELECT structure, code, CAST(0 AS BIGINT) FROM adm_units \
    WHERE ($1 = '' AND parent_code IS NULL) OR (structure = $1 AND code = $2) \
    UNION ALL \
    SELECT u.structure, u.code, s.depth + 1 FROM adm_units u \
    JOIN scope s ON u.structure = s.structure AND u.parent_code = s.code \
    WHERE s.depth < 64) ";

const UNIT_COLUMNS: &str =
    "u.structure, u.code, u.name, u.codename, u.kind, u.parent_code, u.valid_from, u.valid_to";

fn unit_from_row(row: &sqlx::any::AnyRow, with_depth: bool) -> Result<AdminUnit, StoreError> {
    let st: String = row.try_get("structure")?;
    Ok(AdminUnit {
        structure: Structure::parse(&st).ok_or_else(|| StoreError::Invalid {
            field: "adm_units.structure",
            detail: st.clone(),
        })?,
        code: row.try_get("code")?,
        name: row.try_get("name")?,
        codename: row.try_get("codename")?,
        kind: row.try_get("kind")?,
        parent_code: row.try_get("parent_code")?,
        valid_from: row.try_get("valid_from")?,
        valid_to: row.try_get("valid_to")?,
        depth: if with_depth {
            row.try_get::<i64, _>("depth")?
        } else {
            0
        },
    })
}

/// One unit, or `None`.
pub async fn unit(conn: &mut AnyConnection, r: &UnitRef) -> Result<Option<AdminUnit>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {UNIT_COLUMNS} FROM adm_units u WHERE u.structure = $1 AND u.code = $2"
    ))
    .bind(r.structure.as_str())
    .bind(r.code.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| unit_from_row(&r, false)).transpose()
}

/// `root` and every unit below it, parents before children (ordered by
/// depth, then file order). Empty when `root` does not exist.
pub async fn subtree(
    conn: &mut AnyConnection,
    root: &UnitRef,
) -> Result<Vec<AdminUnit>, StoreError> {
    let rows = sqlx::query(&format!(
        "{SUBTREE_CTE}SELECT {UNIT_COLUMNS}, s.depth FROM scope s \
         JOIN adm_units u ON u.structure = s.structure AND u.code = s.code \
         ORDER BY s.depth, u.position"
    ))
    .bind(root.structure.as_str())
    .bind(root.code.as_str())
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(|r| unit_from_row(r, true)).collect()
}

/// Every unit of one structure, or of all, parents before children.
pub async fn all_units(
    conn: &mut AnyConnection,
    structure: Option<Structure>,
) -> Result<Vec<AdminUnit>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {UNIT_COLUMNS} FROM adm_units u WHERE ($1 = '' OR u.structure = $1) \
         ORDER BY u.structure, u.position"
    ))
    .bind(structure.map(|s| s.as_str()).unwrap_or(""))
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(|r| unit_from_row(r, false)).collect()
}

/// The chain from `unit` up to its root, `unit` first; empty when it does
/// not exist.
pub async fn ancestry(
    conn: &mut AnyConnection,
    unit: &UnitRef,
) -> Result<Vec<UnitRef>, StoreError> {
    let rows = sqlx::query(
        "WITH RECURSIVE up (structure, code, parent_code, depth) AS ( \
         SELECT structure, code, parent_code, CAST(0 AS BIGINT) FROM adm_units WHERE structure = $1 AND code = $2 \
         UNION ALL \
         SELECT u.structure, u.code, u.parent_code, up.depth + 1 FROM adm_units u \
         JOIN up ON u.structure = up.structure AND u.code = up.parent_code \
         WHERE up.depth < 64) \
         SELECT code FROM up ORDER BY depth",
    )
    .bind(unit.structure.as_str())
    .bind(unit.code.as_str())
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(UnitRef::new(
                unit.structure,
                r.try_get::<String, _>("code")?,
            ))
        })
        .collect()
}

/// Whether `unit` is `root` or lies below it.
pub async fn in_subtree(
    conn: &mut AnyConnection,
    root: &UnitRef,
    unit: &UnitRef,
) -> Result<bool, StoreError> {
    if root.structure != unit.structure {
        return Ok(false);
    }
    Ok(ancestry(conn, unit).await?.contains(root))
}

async fn import_inner(
    conn: &mut AnyConnection,
    units: &[AdminUnit],
) -> Result<UnitImport, StoreError> {
    let Some(first) = units.first() else {
        return Ok(UnitImport::default());
    };
    let existing: HashMap<String, AdminUnit> = all_units(conn, Some(first.structure))
        .await?
        .into_iter()
        .map(|u| (u.code.clone(), u))
        .collect();
    let mut stats = UnitImport::default();
    for (position, u) in units.iter().enumerate() {
        match existing.get(&u.code) {
            Some(old) if old == u => stats.unchanged += 1,
            Some(_) => {
                sqlx::query(
                    "UPDATE adm_units SET name = $3, codename = $4, kind = $5, parent_code = $6, \
                     valid_from = $7, valid_to = $8, position = $9 WHERE structure = $1 AND code = $2",
                )
                .bind(u.structure.as_str())
                .bind(u.code.as_str())
                .bind(u.name.as_str())
                .bind(u.codename.as_str())
                .bind(u.kind.as_str())
                .bind(u.parent_code.clone())
                .bind(u.valid_from.clone())
                .bind(u.valid_to.clone())
                .bind(position as i64)
                .execute(&mut *conn)
                .await?;
                stats.updated += 1;
            }
            None => {
                sqlx::query(
                    "INSERT INTO adm_units (structure, code, name, codename, kind, parent_code, \
                     valid_from, valid_to, position) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(u.structure.as_str())
                .bind(u.code.as_str())
                .bind(u.name.as_str())
                .bind(u.codename.as_str())
                .bind(u.kind.as_str())
                .bind(u.parent_code.clone())
                .bind(u.valid_from.clone())
                .bind(u.valid_to.clone())
                .bind(position as i64)
                .execute(&mut *conn)
                .await?;
                stats.inserted += 1;
            }
        }
    }
    // Units the file no longer lists stay: endpoints, users and history may
    // refer to them, and a reorganisation moves those explicitly.
    Ok(stats)
}

impl Store {
    /// Imports one structure's official unit file (the JSON of
    /// `shared/data/hanoi-admin-units-*.json`) in one transaction: new units
    /// are inserted, changed ones updated, the same file again writes
    /// nothing. Names are stored in NFC.
    pub async fn import_units(
        &self,
        structure: Structure,
        json: &str,
    ) -> Result<UnitImport, StoreError> {
        let units = flatten(structure, json)?;
        let mut tx = self.begin_admin().await?;
        let stats = import_inner(&mut tx, &units).await?;
        tx.commit().await?;
        tracing::info!(%structure, ?stats, "administrative units imported");
        Ok(stats)
    }

    pub async fn admin_unit(&self, r: &UnitRef) -> Result<Option<AdminUnit>, StoreError> {
        unit(&mut *self.pool.acquire().await?, r).await
    }

    /// `root` and everything below it; empty when `root` does not exist.
    pub async fn unit_subtree(&self, root: &UnitRef) -> Result<Vec<AdminUnit>, StoreError> {
        subtree(&mut *self.pool.acquire().await?, root).await
    }

    pub async fn unit_in_subtree(
        &self,
        root: &UnitRef,
        unit: &UnitRef,
    ) -> Result<bool, StoreError> {
        in_subtree(&mut *self.pool.acquire().await?, root, unit).await
    }

    /// A write transaction for administration: administrative writes are
    /// few, so they are serialized, which keeps the store-assigned keys
    /// (`MAX(id) + 1`) of audit, contact and device rows free of races.
    /// SQLite takes its write lock up front; PostgreSQL locks the audit
    /// table against other writers (readers are not blocked).
    pub async fn begin_admin(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        match self.backend {
            Backend::Sqlite => Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?),
            Backend::Postgres => {
                let mut tx = self.pool.begin().await?;
                sqlx::query("LOCK TABLE adm_audit IN SHARE ROW EXCLUSIVE MODE")
                    .execute(&mut *tx)
                    .await?;
                Ok(tx)
            }
        }
    }
}

/// The next store-assigned key of `table` (`MAX(id) + 1`); call inside
/// [`Store::begin_admin`]'s transaction.
pub async fn next_id(conn: &mut AnyConnection, table: &'static str) -> Result<i64, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT COALESCE(MAX(id), 0) + 1 AS next FROM {table}"
    ))
    .fetch_one(&mut *conn)
    .await?;
    Ok(row.try_get::<i64, _>("next")?)
}
