//! The city's reorganisation of 1 July 2025: endpoints, meetings, rules,
//! trunks and the unit scopes of administration users move from the units
//! of the 2024 structure to those of the 2025 structure, following the
//! official map (`data::REORGANISATION_2025`).
//!
//! [`plan`] is pure: the map, both structures' units, the objects that sit
//! in 2024 units and the human decisions in, a [`Plan`] out. An old unit
//! that became part of exactly one new unit moves there; one that was split
//! (or a district, whose wards went to several new units) is never guessed:
//! its objects wait for an [`Assignment`]. A user's scope is a grant of
//! rights, so a user in a split unit waits for a decision that names it
//! (`user:NAME=CODE`); a decision for a whole unit does not cover users.
//! [`Admin::reorganize`] reads the current state, plans, and applies in one
//! transaction: the registry's endpoints change unit and its users change
//! scope (one audit row each), the current dialplan is
//! rewritten in place (only unit references change; comments and every
//! other field stay) and stored as a new version, so the previous one can
//! be restored, and the counts before and after must agree before the
//! commit. Identities that people dial (endpoint ids, numbers, aliases,
//! meeting numbers) do not change.

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use gateway_dialplan::Dialplan;
use gateway_store::units::{self, next_id};
use gateway_store::{AdminUnit, DialplanAudit, Store, Structure, UnitRef};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Row};

use crate::model::{Actor, Role};
use crate::{Admin, AdminError};

/// What cannot be planned or applied; every variant names what failed.
#[derive(Debug, thiserror::Error)]
pub enum ReorgError {
    #[error("map {file}: {detail}")]
    MapFormat { file: String, detail: String },
    #[error("map {file}: row {row}: {field} {code} is not a unit of the {structure} structure")]
    UnknownCode {
        file: String,
        row: usize,
        field: &'static str,
        code: String,
        structure: Structure,
    },
    #[error(
        "map {file}: row {row}: old_ward {ward} belongs to {actual}, not to old_district {given}"
    )]
    WrongDistrict {
        file: String,
        row: usize,
        ward: String,
        given: String,
        actual: String,
    },
    #[error("decision {text:?} ({origin}): {detail}")]
    Assignment {
        text: String,
        origin: String,
        detail: String,
    },
    #[error("{} object(s) in split or unmapped units await a decision, nothing changed: {}; give each --assign KEY=CODE (or a KEY=CODE line in --decisions FILE); --dry-run lists the candidates", .0.len(), .0.join(", "))]
    Undecided(Vec<String>),
    #[error(
        "the units of the {0} structure are not in the registry: run `gateway units import` first"
    )]
    NoUnits(Structure),
    #[error("the rewritten dialplan {file}: {detail}")]
    Dialplan { file: String, detail: String },
    #[error("check before commit failed, nothing changed: {0}")]
    Check(String),
    #[error("{0}")]
    Forbidden(String),
    #[error(transparent)]
    Admin(#[from] AdminError),
}

impl From<gateway_store::StoreError> for ReorgError {
    fn from(e: gateway_store::StoreError) -> ReorgError {
        ReorgError::Admin(AdminError::Store(e))
    }
}

impl From<sqlx::Error> for ReorgError {
    fn from(e: sqlx::Error) -> ReorgError {
        ReorgError::Admin(AdminError::from(e))
    }
}

// ------------------------------------------------------------------ map

/// One row of the official map, as unit codes of the width the registry
/// uses (district 3 digits, ward 5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MapRow {
    pub old_district: String,
    pub old_ward: String,
    pub new_ward: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReorgMap {
    /// Where it was read from, for error messages.
    pub file: String,
    pub rows: Vec<MapRow>,
    /// Lower-case hex SHA-256 of the file, recorded in the audit.
    pub sha256: String,
}

/// Rows of the map accepted at most (the official one has 667).
const MAX_MAP_ROWS: usize = 100_000;

impl ReorgMap {
    /// The JSON of `hanoi-reorganisation-2025.json`: `{"rows": [{old_district,
    /// old_ward, new_ward}]}`, codes as numbers or digit strings.
    pub fn parse(json: &str, file: &str) -> Result<ReorgMap, ReorgError> {
        let bad = |detail: String| ReorgError::MapFormat {
            file: file.to_string(),
            detail,
        };
        let v: serde_json::Value =
            serde_json::from_str(json).map_err(|e| bad(format!("not JSON: {e}")))?;
        let rows = v
            .get("rows")
            .and_then(|r| r.as_array())
            .ok_or_else(|| bad("no \"rows\" array".into()))?;
        if rows.len() > MAX_MAP_ROWS {
            return Err(bad(format!("more than {MAX_MAP_ROWS} rows")));
        }
        let mut out = Vec::with_capacity(rows.len());
        for (i, r) in rows.iter().enumerate() {
            let code = |field: &str, width: usize| -> Result<String, ReorgError> {
                let digits = match r.get(field) {
                    Some(serde_json::Value::Number(n)) if n.as_u64().is_some() => {
                        n.as_u64().unwrap_or_default().to_string()
                    }
                    Some(serde_json::Value::String(s))
                        if !s.is_empty()
                            && s.len() <= 16
                            && s.bytes().all(|b| b.is_ascii_digit()) =>
                    {
                        s.trim_start_matches('0').to_string()
                    }
                    _ => {
                        return Err(bad(format!(
                            "row {}: {field} is missing or not a unit code",
                            i + 1
                        )))
                    }
                };
                Ok(format!("{digits:0>width$}"))
            };
            out.push(MapRow {
                old_district: code("old_district", 3)?,
                old_ward: code("old_ward", 5)?,
                new_ward: code("new_ward", 5)?,
            });
        }
        Ok(ReorgMap {
            file: file.to_string(),
            rows: out,
            sha256: hex::encode(Sha256::digest(json.as_bytes())),
        })
    }
}

// ----------------------------------------------------------------- plan

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ObjectKind {
    Endpoint,
    Meeting,
    Rule,
    Trunk,
    /// An administration user whose unit scope is a 2024 unit.
    User,
}

impl ObjectKind {
    pub const ALL: [ObjectKind; 5] = [
        ObjectKind::Endpoint,
        ObjectKind::Meeting,
        ObjectKind::Rule,
        ObjectKind::Trunk,
        ObjectKind::User,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Endpoint => "endpoint",
            ObjectKind::Meeting => "meeting",
            ObjectKind::Rule => "rule",
            ObjectKind::Trunk => "trunk",
            ObjectKind::User => "user",
        }
    }
}

/// Something that sits in a 2024 unit: an endpoint (of the registry, of
/// the dialplan, or both when both have it in the same unit), a meeting
/// (its unit), a rule (its `from_unit`), a trunk (its unit) or a user (its
/// scope). Meetings, rules and trunks are the dialplan's only, users the
/// registry's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Movable {
    pub kind: ObjectKind,
    /// Endpoint id, meeting number, rule or trunk name.
    pub id: String,
    /// Its 2024 unit code.
    pub unit: String,
    pub in_registry: bool,
    pub in_dialplan: bool,
}

impl Movable {
    /// `endpoint:bp-001`: the key a decision names it by.
    pub fn key(&self) -> String {
        format!("{}:{}", self.kind.as_str(), self.id)
    }

    fn sources(&self) -> &'static str {
        match (self.in_registry, self.in_dialplan) {
            (true, true) => "registry, dialplan",
            (true, false) => "registry",
            _ => "dialplan",
        }
    }
}

/// A human decision: `KEY=CODE`, where KEY is `endpoint:ID`, `meeting:NUMBER`,
/// `rule:NAME`, `trunk:NAME`, `user:NAME`, `unit:CODE` (every object of that
/// 2024 unit but its users), or bare: an endpoint id or a 2024 unit code.
/// CODE is a 2025 unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Assignment {
    pub key: String,
    pub code: String,
    /// Where it was given (`--assign`, `decisions.txt:3`), for errors.
    pub origin: String,
}

impl Assignment {
    /// One `KEY=CODE`; a `#` starts a comment.
    pub fn parse(text: &str, origin: &str) -> Result<Assignment, ReorgError> {
        let bare = text.split('#').next().unwrap_or("").trim();
        let err = |detail: &str| ReorgError::Assignment {
            text: text.trim().to_string(),
            origin: origin.to_string(),
            detail: detail.to_string(),
        };
        let (key, code) = bare
            .split_once('=')
            .ok_or_else(|| err("expected KEY=CODE"))?;
        let (key, code) = (key.trim(), code.trim());
        if key.is_empty() {
            return Err(err("no key before '='"));
        }
        if code.is_empty() {
            return Err(err("no unit code after '=': choose one of the candidates"));
        }
        if code.len() > 16 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err("the unit code must be digits (a 2025 unit code)"));
        }
        Ok(Assignment {
            key: key.to_string(),
            code: code.to_string(),
            origin: origin.to_string(),
        })
    }

    /// A decisions file: one `KEY=CODE` a line; blank lines and `#`
    /// comments are ignored (so the lines `--dry-run` prints, once a code is
    /// filled in, are a decisions file).
    pub fn parse_file(text: &str, file: &str) -> Result<Vec<Assignment>, ReorgError> {
        text.lines()
            .enumerate()
            .filter(|(_, l)| {
                let t = l.trim();
                !t.is_empty() && !t.starts_with('#')
            })
            .map(|(i, l)| Assignment::parse(l, &format!("{file}:{}", i + 1)))
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "by", content = "key")]
pub enum DecidedBy {
    /// The old unit became part of exactly one new unit.
    Map,
    /// A human decision, by the key it named.
    Assignment(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Move {
    pub object: Movable,
    /// The 2025 unit code.
    pub to: String,
    pub decided_by: DecidedBy,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pending {
    pub object: Movable,
    /// The new units the old one became part of (empty: the map does not
    /// know the old unit, and any 2025 unit may be chosen).
    pub candidates: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub moves: Vec<Move>,
    pub pending: Vec<Pending>,
    /// 2024 units that were split between several new units (from the map).
    pub split_units: usize,
    /// 2024 wards/communes the map covers.
    pub mapped_units: usize,
}

impl Plan {
    pub fn moved(&self, kind: ObjectKind) -> usize {
        self.moves.iter().filter(|m| m.object.kind == kind).count()
    }

    pub fn awaiting(&self, kind: ObjectKind) -> usize {
        self.pending
            .iter()
            .filter(|p| p.object.kind == kind)
            .count()
    }
}

fn is_district(kind: &str) -> bool {
    matches!(kind, "urban_district" | "rural_district" | "town")
}

/// Plans the move of `objects` (in units of `old_units`, the 2024
/// structure) to `new_units` (2025) by `map`, with the human decisions
/// `assignments`. Errors: a map row naming a code that is not a unit, a
/// ward under the wrong district, a decision naming nothing, an unknown
/// unit, or a unit that is not a candidate.
pub fn plan(
    map: &ReorgMap,
    old_units: &[AdminUnit],
    new_units: &[AdminUnit],
    objects: &[Movable],
    assignments: &[Assignment],
) -> Result<Plan, ReorgError> {
    let old: HashMap<&str, &AdminUnit> = old_units.iter().map(|u| (u.code.as_str(), u)).collect();
    let new: HashMap<&str, &AdminUnit> = new_units.iter().map(|u| (u.code.as_str(), u)).collect();
    let new_city = new_units
        .iter()
        .find(|u| u.parent_code.is_none())
        .map(|u| u.code.clone());

    // Old code → the new units it became (part of).
    let mut fate: HashMap<String, BTreeSet<String>> = HashMap::new();
    for (i, r) in map.rows.iter().enumerate() {
        let row = i + 1;
        let unknown = |field, code: &str, structure| ReorgError::UnknownCode {
            file: map.file.clone(),
            row,
            field,
            code: code.to_string(),
            structure,
        };
        let ward = old
            .get(r.old_ward.as_str())
            .filter(|u| !is_district(&u.kind) && u.parent_code.is_some())
            .ok_or_else(|| unknown("old_ward", &r.old_ward, Structure::Y2024))?;
        old.get(r.old_district.as_str())
            .filter(|u| is_district(&u.kind))
            .ok_or_else(|| unknown("old_district", &r.old_district, Structure::Y2024))?;
        if ward.parent_code.as_deref() != Some(r.old_district.as_str()) {
            return Err(ReorgError::WrongDistrict {
                file: map.file.clone(),
                row,
                ward: r.old_ward.clone(),
                given: r.old_district.clone(),
                actual: ward.parent_code.clone().unwrap_or_default(),
            });
        }
        new.get(r.new_ward.as_str())
            .filter(|u| u.parent_code.is_some())
            .ok_or_else(|| unknown("new_ward", &r.new_ward, Structure::Y2025))?;
        fate.entry(r.old_ward.clone())
            .or_default()
            .insert(r.new_ward.clone());
        fate.entry(r.old_district.clone())
            .or_default()
            .insert(r.new_ward.clone());
    }
    let mapped_units = fate
        .keys()
        .filter(|c| old.get(c.as_str()).is_some_and(|u| !is_district(&u.kind)))
        .count();
    let split_units = fate
        .iter()
        .filter(|(c, s)| s.len() > 1 && old.get(c.as_str()).is_some_and(|u| !is_district(&u.kind)))
        .count();
    // The city is the same unit in both structures.
    for u in old_units.iter().filter(|u| u.parent_code.is_none()) {
        if new
            .get(u.code.as_str())
            .is_some_and(|n| n.parent_code.is_none())
        {
            fate.entry(u.code.clone())
                .or_default()
                .insert(u.code.clone());
        }
    }
    let candidates = |unit: &str| -> Vec<String> {
        fate.get(unit)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    };

    // Resolve every decision to the objects it covers.
    let by_key: HashMap<String, usize> = objects
        .iter()
        .enumerate()
        .map(|(i, o)| (o.key(), i))
        .collect();
    let object_units: BTreeSet<&str> = objects.iter().map(|o| o.unit.as_str()).collect();
    let mut for_object: HashMap<usize, &Assignment> = HashMap::new();
    let mut for_unit: HashMap<String, &Assignment> = HashMap::new();
    for a in assignments {
        let err = |detail: String| ReorgError::Assignment {
            text: format!("{}={}", a.key, a.code),
            origin: a.origin.clone(),
            detail,
        };
        let is_unit = |c: &str| old.contains_key(c) || object_units.contains(c);
        let target = if let Some(code) = a.key.strip_prefix("unit:") {
            if !is_unit(code) {
                return Err(err(format!("{code} is not a unit of the 2024 structure")));
            }
            Err(code.to_string())
        } else if a.key.contains(':') {
            match by_key.get(&a.key) {
                Some(&i) => Ok(i),
                None => {
                    return Err(err(format!(
                        "no {} sits in a 2024 unit",
                        a.key.replacen(':', " ", 1)
                    )))
                }
            }
        } else {
            let endpoint = by_key.get(&format!("endpoint:{}", a.key)).copied();
            match (endpoint, is_unit(&a.key)) {
                (Some(_), true) => {
                    return Err(err(format!(
                        "{0} is both an endpoint and a 2024 unit: write endpoint:{0} or unit:{0}",
                        a.key
                    )))
                }
                (Some(i), false) => Ok(i),
                (None, true) => Err(a.key.clone()),
                (None, false) => {
                    return Err(err(format!(
                        "{} is neither an endpoint in a 2024 unit nor a 2024 unit code",
                        a.key
                    )))
                }
            }
        };
        let unit = match &target {
            Ok(i) => objects[*i].unit.clone(),
            Err(code) => code.clone(),
        };
        if !new.contains_key(a.code.as_str()) {
            return Err(err(format!(
                "{} is not a unit of the 2025 structure",
                a.code
            )));
        }
        let cands = candidates(&unit);
        let allowed =
            cands.is_empty() || cands.contains(&a.code) || new_city.as_ref() == Some(&a.code);
        if !allowed {
            return Err(err(format!(
                "2024/{unit} became part of {}; choose one of them{}",
                cands.join(", "),
                new_city
                    .as_ref()
                    .map(|c| format!(" (or the city, {c})"))
                    .unwrap_or_default()
            )));
        }
        let previous = match target {
            Ok(i) => for_object.insert(i, a),
            Err(code) => for_unit.insert(code, a),
        };
        if let Some(p) = previous.filter(|p| p.code != a.code) {
            return Err(err(format!(
                "contradicts {}={} ({})",
                p.key, p.code, p.origin
            )));
        }
    }

    let mut out = Plan {
        split_units,
        mapped_units,
        ..Plan::default()
    };
    for (i, o) in objects.iter().enumerate() {
        let cands = candidates(&o.unit);
        // A user's scope is decided for that user alone.
        let decided = for_object.get(&i).or_else(|| {
            (o.kind != ObjectKind::User)
                .then(|| for_unit.get(&o.unit))
                .flatten()
        });
        match (decided, cands.as_slice()) {
            (Some(a), _) => out.moves.push(Move {
                object: o.clone(),
                to: a.code.clone(),
                decided_by: DecidedBy::Assignment(a.key.clone()),
            }),
            (None, [only]) => out.moves.push(Move {
                object: o.clone(),
                to: only.clone(),
                decided_by: DecidedBy::Map,
            }),
            (None, _) => out.pending.push(Pending {
                object: o.clone(),
                candidates: cands,
            }),
        }
    }
    Ok(out)
}

// ------------------------------------------------------------ dialplan

/// Rewrites a dialplan source for the new structure: the `[[unit]]` list
/// becomes `new_units`, and the unit references (`endpoint.unit`,
/// `meeting.unit`, `rule.from_unit`, `trunk.unit`) take their planned
/// codes. Everything else, comments included, is kept as written. An
/// object with a unit reference that `moves` does not cover is an error.
pub fn rewrite_dialplan(
    source: &str,
    new_units: &[AdminUnit],
    moves: &HashMap<(ObjectKind, String), String>,
    note: &str,
) -> Result<String, String> {
    use toml_edit::{value, ArrayOfTables, DocumentMut, Item, Table};
    let mut doc: DocumentMut = source
        .parse()
        .map_err(|e: toml_edit::TomlError| e.to_string())?;

    let mut first_decor = None;
    let mut position = None;
    if let Some(Item::ArrayOfTables(old)) = doc.get("unit") {
        if let Some(t) = old.iter().next() {
            first_decor = t
                .decor()
                .prefix()
                .and_then(|p| p.as_str())
                .map(str::to_string);
            position = t.position();
        }
    }
    let mut units = ArrayOfTables::new();
    for (i, u) in new_units.iter().enumerate() {
        let mut t = Table::new();
        t.insert("code", value(u.code.as_str()));
        t.insert("name", value(u.name.as_str()));
        t.insert("kind", value(u.kind.as_str()));
        if let Some(p) = &u.parent_code {
            t.insert("parent", value(p.as_str()));
        }
        let prefix = if i == 0 {
            let mut p = first_decor.clone().unwrap_or_else(|| "\n".into());
            p.push_str(&note.lines().map(|l| format!("# {l}\n")).collect::<String>());
            p
        } else {
            "\n".into()
        };
        t.decor_mut().set_prefix(prefix);
        if let Some(pos) = position {
            // All at the old list's place; output order among equals is
            // insertion order.
            t.set_position(pos);
        }
        units.push(t);
    }
    doc.insert("unit", Item::ArrayOfTables(units));

    for (kind, array, id_field, unit_field) in [
        (ObjectKind::Endpoint, "endpoint", "id", "unit"),
        (ObjectKind::Meeting, "meeting", "number", "unit"),
        (ObjectKind::Rule, "rule", "name", "from_unit"),
        (ObjectKind::Trunk, "trunk", "name", "unit"),
    ] {
        let Some(item) = doc.get_mut(array) else {
            continue;
        };
        let mut tables: Vec<&mut dyn toml_edit::TableLike> = Vec::new();
        match item {
            Item::ArrayOfTables(a) => {
                for t in a.iter_mut() {
                    tables.push(t);
                }
            }
            Item::Value(toml_edit::Value::Array(a)) => {
                for v in a.iter_mut() {
                    if let Some(t) = v.as_inline_table_mut() {
                        tables.push(t);
                    }
                }
            }
            _ => {}
        }
        for (i, t) in tables.into_iter().enumerate() {
            let id = t
                .get(id_field)
                .and_then(|v| v.as_str())
                .map(str::to_string)
                .ok_or_else(|| format!("{array}[{i}] has no {id_field}"))?;
            let Some(slot) = t.get_mut(unit_field) else {
                continue;
            };
            let to = moves.get(&(kind, id.clone())).ok_or_else(|| {
                format!(
                    "{array}[{i}] {id}: {unit_field} {} has no destination",
                    slot.as_str().unwrap_or("?")
                )
            })?;
            match slot {
                Item::Value(v) => {
                    let decor = v.decor().clone();
                    *v = toml_edit::Value::from(to.as_str());
                    *v.decor_mut() = decor;
                }
                other => *other = value(to.as_str()),
            }
        }
    }
    Ok(doc.to_string())
}

// --------------------------------------------------------------- counts

/// One line of the before/after table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CountRow {
    pub what: &'static str,
    pub y2024: u64,
    pub y2025: u64,
}

impl CountRow {
    pub fn total(&self) -> u64 {
        self.y2024 + self.y2025
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub rows: Vec<CountRow>,
}

impl Counts {
    pub fn get(&self, what: &str) -> Option<&CountRow> {
        self.rows.iter().find(|r| r.what == what)
    }

    fn add(&mut self, what: &'static str, structure: Structure, n: u64) {
        let row = match self.rows.iter_mut().position(|r| r.what == what) {
            Some(i) => &mut self.rows[i],
            None => {
                self.rows.push(CountRow {
                    what,
                    y2024: 0,
                    y2025: 0,
                });
                self.rows.last_mut().expect("just pushed")
            }
        };
        match structure {
            Structure::Y2024 => row.y2024 += n,
            Structure::Y2025 => row.y2025 += n,
        }
    }

    fn add_dialplan(&mut self, dp: Option<&Dialplan>, structure: Structure) {
        let dp_rows = [
            "dialplan endpoints",
            "dialplan numbers",
            "dialplan aliases",
            "dialplan meetings",
            "dialplan rules",
            "dialplan trunks",
        ];
        let Some(dp) = dp else {
            for w in dp_rows {
                self.add(w, structure, 0);
            }
            return;
        };
        let eps = dp.endpoints();
        let n = [
            eps.len(),
            eps.iter().map(|e| e.numbers.len()).sum(),
            eps.iter().map(|e| e.aliases.len()).sum(),
            dp.meetings().len(),
            dp.rules().len(),
            dp.trunks().len(),
        ];
        for (w, n) in dp_rows.into_iter().zip(n) {
            self.add(w, structure, n as u64);
        }
    }

    /// Rows whose totals differ from `other`'s.
    fn differences(&self, other: &Counts) -> Vec<String> {
        self.rows
            .iter()
            .filter_map(|r| {
                let after = other.get(r.what).map(CountRow::total).unwrap_or(0);
                (after != r.total())
                    .then(|| format!("{}: {} before, {} after", r.what, r.total(), after))
            })
            .collect()
    }
}

async fn registry_counts(conn: &mut AnyConnection, into: &mut Counts) -> Result<(), ReorgError> {
    for (what, sql) in [
        (
            "registry endpoints",
            "SELECT e.unit_structure AS s, COUNT(*) AS n FROM adm_endpoints e GROUP BY e.unit_structure",
        ),
        (
            "registry numbers",
            "SELECT e.unit_structure AS s, COUNT(*) AS n FROM adm_endpoint_numbers x \
             JOIN adm_endpoints e ON e.id = x.endpoint_id GROUP BY e.unit_structure",
        ),
        (
            "registry aliases",
            "SELECT e.unit_structure AS s, COUNT(*) AS n FROM adm_endpoint_aliases x \
             JOIN adm_endpoints e ON e.id = x.endpoint_id GROUP BY e.unit_structure",
        ),
        (
            // Users of the whole network have no scope to count.
            "registry user scopes",
            "SELECT u.scope_structure AS s, COUNT(*) AS n FROM adm_users u \
             WHERE u.scope_structure IS NOT NULL GROUP BY u.scope_structure",
        ),
    ] {
        into.add(what, Structure::Y2024, 0);
        for r in sqlx::query(sql).fetch_all(&mut *conn).await? {
            let s: String = r.try_get("s")?;
            let n: i64 = r.try_get("n")?;
            if let Some(s) = Structure::parse(&s) {
                into.add(what, s, n.max(0) as u64);
            }
        }
    }
    Ok(())
}

// ------------------------------------------------------------- applying

/// What [`Admin::reorganize`] is asked to do.
#[derive(Debug, Clone)]
pub struct ReorgRequest {
    pub map: ReorgMap,
    pub assignments: Vec<Assignment>,
    /// Plan and check, then roll back.
    pub dry_run: bool,
}

/// The current dialplan and what becomes of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DialplanFate {
    pub version: i64,
    pub file_name: String,
    /// The structure its units match (`None`: neither better).
    pub structure: Option<Structure>,
    /// The version it is rewritten as (in a dry run: would be); `None` when
    /// it is left as it is or not built yet (decisions missing).
    pub new_version: Option<i64>,
    pub new_file_name: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReorgReport {
    pub map_file: String,
    pub map_rows: usize,
    pub plan: Plan,
    pub dialplan: Option<DialplanFate>,
    pub before: Counts,
    /// Measured in the transaction when every object could be moved;
    /// otherwise as the plan leaves things (the pending objects stay).
    pub after: Counts,
    pub applied: bool,
    #[serde(skip)]
    names: HashMap<UnitRef, String>,
}

impl ReorgReport {
    fn unit(&self, structure: Structure, code: &str) -> String {
        let r = UnitRef::new(structure, code);
        match self.names.get(&r) {
            Some(n) => format!("{r} {n}"),
            None => r.to_string(),
        }
    }

    /// The text the CLI prints: every change, every decision to make (as
    /// lines of a decisions file), the counts, and what happened.
    pub fn render(&self) -> String {
        use std::fmt::Write;
        let mut o = String::new();
        let p = &self.plan;
        let _ = writeln!(
            o,
            "reorganisation 2024 → 2025 by {} ({} rows: {} old wards/communes mapped, {} of them split)",
            self.map_file, self.map_rows, p.mapped_units, p.split_units
        );
        match &self.dialplan {
            None => o.push_str("dialplan: none imported\n"),
            Some(d) if d.structure != Some(Structure::Y2024) => {
                let _ = writeln!(
                    o,
                    "dialplan: version {} ({}) is not in the 2024 structure: left as it is",
                    d.version, d.file_name
                );
            }
            Some(d) => {
                let _ = write!(
                    o,
                    "dialplan: version {} ({}), 2024 structure: ",
                    d.version, d.file_name
                );
                match (&d.new_version, &d.new_file_name) {
                    (Some(v), Some(f)) => {
                        let _ =
                            writeln!(
                            o,
                            "{} version {v} ({f}) with the 2025 units; version {} stays restorable",
                            if self.applied { "rewritten as" } else { "would be rewritten as" },
                            d.version
                        );
                    }
                    _ => o.push_str("rewritten once every object below is decided\n"),
                }
            }
        }
        let _ = writeln!(o, "\nchanges ({}):", p.moves.len());
        for m in &p.moves {
            let how = match &m.decided_by {
                DecidedBy::Map => "map".to_string(),
                DecidedBy::Assignment(k) => format!("decision {k}"),
            };
            let _ = writeln!(
                o,
                "  {} {} [{}]: {} → {} ({how})",
                m.object.kind.as_str(),
                m.object.id,
                m.object.sources(),
                self.unit(Structure::Y2024, &m.object.unit),
                self.unit(Structure::Y2025, &m.to),
            );
        }
        if !p.pending.is_empty() {
            let _ = writeln!(
                o,
                "\nawaiting a decision ({}): the old unit was split (or is not in the map); \
                 give --assign KEY=CODE, or fill in these lines and pass them as --decisions FILE \
                 (a user's scope is decided only by its own user:NAME line, never by unit:CODE):",
                p.pending.len()
            );
        }
        for q in &p.pending {
            let choices = if q.candidates.is_empty() {
                "any 2025 unit".to_string()
            } else {
                q.candidates
                    .iter()
                    .map(|c| self.unit(Structure::Y2025, c).replacen("2025/", "", 1))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let _ = writeln!(
                o,
                "  {}=    # [{}] in {}: one of {choices}",
                q.object.key(),
                q.object.sources(),
                self.unit(Structure::Y2024, &q.object.unit),
            );
        }
        let _ = writeln!(
            o,
            "\ncounts                 before: 2024   2025  total    after: 2024   2025  total"
        );
        for b in &self.before.rows {
            let a = self.after.get(b.what).cloned().unwrap_or(CountRow {
                what: b.what,
                y2024: 0,
                y2025: 0,
            });
            let _ = writeln!(
                o,
                "  {:<20} {:>12} {:>6} {:>6} {:>12} {:>6} {:>6}{}",
                b.what,
                b.y2024,
                b.y2025,
                b.total(),
                a.y2024,
                a.y2025,
                a.total(),
                if a.total() == b.total() {
                    ""
                } else {
                    "  DIFFERS"
                }
            );
        }
        let kinds: Vec<String> = ObjectKind::ALL
            .iter()
            .map(|k| {
                format!(
                    "{} {} moved, {} awaiting",
                    k.as_str(),
                    p.moved(*k),
                    p.awaiting(*k)
                )
            })
            .collect();
        let _ = writeln!(o, "\n{}", kinds.join("; "));
        o.push_str(if self.applied {
            "applied: committed in one transaction"
        } else {
            "dry run: nothing changed"
        });
        o
    }
}

impl fmt::Display for ReorgReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

/// `dialplans/hanoi-2024.toml` → `dialplans/hanoi-2024.reorganised-2025.toml`.
fn reorganised_name(file: &str) -> String {
    let stem = file.strip_suffix(".toml").unwrap_or(file);
    let stem = stem.strip_suffix(".reorganised-2025").unwrap_or(stem);
    format!("{stem}.reorganised-2025.toml")
}

/// The structure whose `(code, name)` pairs the dialplan's units match
/// more of (codes alone repeat between structures with other meanings).
fn dialplan_structure(dp: &Dialplan, old: &[AdminUnit], new: &[AdminUnit]) -> Option<Structure> {
    use unicode_normalization::UnicodeNormalization;
    let score = |units: &[AdminUnit]| {
        let by: HashMap<&str, String> = units
            .iter()
            .map(|u| (u.code.as_str(), u.name.nfc().collect()))
            .collect();
        dp.units()
            .iter()
            .filter(|u| by.get(u.code.as_str()) == Some(&u.name.nfc().collect::<String>()))
            .count()
    };
    match score(old).cmp(&score(new)) {
        std::cmp::Ordering::Greater => Some(Structure::Y2024),
        std::cmp::Ordering::Less => Some(Structure::Y2025),
        std::cmp::Ordering::Equal => None,
    }
}

/// Everything of `new` equals `old` but the unit references, which are the
/// planned ones: nothing else was lost or changed by the rewrite.
fn check_rewrite(
    old: &Dialplan,
    new: &Dialplan,
    moves: &HashMap<(ObjectKind, String), String>,
) -> Result<(), String> {
    if old.gateway() != new.gateway() {
        return Err("[gateway] differs".into());
    }
    let to = |kind, id: &str, unit: &Option<String>| -> Option<String> {
        unit.as_ref().map(|_| {
            moves
                .get(&(kind, id.to_string()))
                .cloned()
                .unwrap_or_default()
        })
    };
    if old.endpoints().len() != new.endpoints().len() {
        return Err("the number of endpoints differs".into());
    }
    for (a, b) in old.endpoints().iter().zip(new.endpoints()) {
        let mut want = a.clone();
        want.unit = to(ObjectKind::Endpoint, &a.id, &Some(a.unit.clone())).unwrap_or_default();
        if &want != b {
            return Err(format!("endpoint {} differs beyond its unit", a.id));
        }
    }
    if old.meetings().len() != new.meetings().len() {
        return Err("the number of meetings differs".into());
    }
    for (a, b) in old.meetings().iter().zip(new.meetings()) {
        let mut want = a.clone();
        want.unit = to(ObjectKind::Meeting, &a.number, &Some(a.unit.clone())).unwrap_or_default();
        if &want != b {
            return Err(format!("meeting {} differs beyond its unit", a.number));
        }
    }
    if old.rules().len() != new.rules().len() {
        return Err("the number of rules differs".into());
    }
    for (a, b) in old.rules().iter().zip(new.rules()) {
        let mut want = a.clone();
        want.from_unit = to(ObjectKind::Rule, &a.name, &a.from_unit);
        if &want != b {
            return Err(format!("rule {} differs beyond its from_unit", a.name));
        }
    }
    if old.trunks().len() != new.trunks().len() {
        return Err("the number of trunks differs".into());
    }
    for (a, b) in old.trunks().iter().zip(new.trunks()) {
        let mut want = a.clone();
        want.unit = to(ObjectKind::Trunk, &a.name, &a.unit);
        if &want != b {
            return Err(format!("trunk {} differs beyond its unit", a.name));
        }
    }
    Ok(())
}

impl Admin {
    /// Plans the reorganisation on the current registry and dialplan and,
    /// unless `dry_run`, applies it in one transaction (see the module
    /// documentation). Only a city-admin of the whole network may. Applying
    /// with objects still awaiting a decision is refused
    /// ([`ReorgError::Undecided`]); a dry run reports them.
    pub async fn reorganize(
        &self,
        actor: &Actor,
        req: &ReorgRequest,
    ) -> Result<ReorgReport, ReorgError> {
        if actor.unit_scope.is_some() || actor.role != Role::CityAdmin {
            return Err(ReorgError::Forbidden(format!(
                "{} ({}) may not reorganise the units: only a city-admin of the whole network may",
                actor.user, actor.role
            )));
        }
        let store: &Store = self.store();
        let mut tx = store.begin_admin().await?;
        let old_units = units::all_units(&mut tx, Some(Structure::Y2024)).await?;
        let new_units = units::all_units(&mut tx, Some(Structure::Y2025)).await?;
        for (s, u) in [
            (Structure::Y2024, &old_units),
            (Structure::Y2025, &new_units),
        ] {
            if u.is_empty() {
                return Err(ReorgError::NoUnits(s));
            }
        }
        let names: HashMap<UnitRef, String> = old_units
            .iter()
            .chain(&new_units)
            .map(|u| (u.unit_ref(), u.name.clone()))
            .collect();

        // The current dialplan.
        let current = sqlx::query(
            "SELECT version, file_name, source_text FROM dialplan_versions ORDER BY version DESC LIMIT 1",
        )
        .fetch_optional(&mut *tx)
        .await?;
        let mut dialplan = None;
        if let Some(r) = current {
            let version: i64 = r.try_get("version")?;
            let file_name: String = r.try_get("file_name")?;
            let source: String = r.try_get("source_text")?;
            let dp = Dialplan::parse(&source, &file_name).map_err(|errors| {
                gateway_store::StoreError::StoredDialplanInvalid { version, errors }
            })?;
            let structure = dialplan_structure(&dp, &old_units, &new_units);
            dialplan = Some((version, file_name, source, dp, structure));
        }

        // What sits in 2024 units.
        let mut objects: Vec<Movable> = Vec::new();
        let mut index: HashMap<(ObjectKind, String), usize> = HashMap::new();
        let rows = sqlx::query(
            "SELECT id, unit_code FROM adm_endpoints WHERE unit_structure = '2024' ORDER BY id",
        )
        .fetch_all(&mut *tx)
        .await?;
        for r in rows {
            let o = Movable {
                kind: ObjectKind::Endpoint,
                id: r.try_get("id")?,
                unit: r.try_get("unit_code")?,
                in_registry: true,
                in_dialplan: false,
            };
            index.insert((o.kind, o.id.clone()), objects.len());
            objects.push(o);
        }
        let rows = sqlx::query(
            "SELECT name, scope_code FROM adm_users WHERE scope_structure = '2024' ORDER BY name",
        )
        .fetch_all(&mut *tx)
        .await?;
        for r in rows {
            objects.push(Movable {
                kind: ObjectKind::User,
                id: r.try_get("name")?,
                unit: r.try_get("scope_code")?,
                in_registry: true,
                in_dialplan: false,
            });
        }
        let mut dialplan_objects: Vec<Movable> = Vec::new();
        if let Some((_, _, _, dp, Some(Structure::Y2024))) = &dialplan {
            let mut add = |kind, id: &str, unit: &str| {
                dialplan_objects.push(Movable {
                    kind,
                    id: id.to_string(),
                    unit: unit.to_string(),
                    in_registry: false,
                    in_dialplan: true,
                })
            };
            for e in dp.endpoints() {
                add(ObjectKind::Endpoint, &e.id, &e.unit);
            }
            for m in dp.meetings() {
                add(ObjectKind::Meeting, &m.number, &m.unit);
            }
            for r in dp.rules() {
                if let Some(u) = &r.from_unit {
                    add(ObjectKind::Rule, &r.name, u);
                }
            }
            for t in dp.trunks() {
                if let Some(u) = &t.unit {
                    add(ObjectKind::Trunk, &t.name, u);
                }
            }
        }
        for o in dialplan_objects {
            match index.get(&(o.kind, o.id.clone())) {
                Some(&i) if objects[i].unit == o.unit => objects[i].in_dialplan = true,
                Some(&i) => {
                    // One id, two units: the registry and the dialplan
                    // disagree, and one decision cannot serve both.
                    return Err(ReorgError::Check(format!(
                        "endpoint {} is in 2024/{} in the registry but in {} in the dialplan: make them agree first",
                        o.id, objects[i].unit, o.unit
                    )));
                }
                None => {
                    index.insert((o.kind, o.id.clone()), objects.len());
                    objects.push(o);
                }
            }
        }

        let plan = plan(&req.map, &old_units, &new_units, &objects, &req.assignments)?;

        // Counts before, and as the plan leaves them.
        let dp_structure = |s: Option<Structure>| s.unwrap_or(self.config().default_structure);
        let mut before = Counts::default();
        registry_counts(&mut tx, &mut before).await?;
        before.add_dialplan(
            dialplan.as_ref().map(|d| &d.3),
            dp_structure(dialplan.as_ref().and_then(|d| d.4)),
        );
        let mut projected = before.clone();
        for m in &plan.moves {
            if m.object.kind == ObjectKind::User {
                if let Some(r) = projected
                    .rows
                    .iter_mut()
                    .find(|r| r.what == "registry user scopes")
                {
                    r.y2024 -= 1;
                    r.y2025 += 1;
                }
            }
            if m.object.kind == ObjectKind::Endpoint && m.object.in_registry {
                // Numbers and aliases go with their endpoint.
                let n = endpoint_addresses(&mut tx, &m.object.id).await?;
                for (what, k) in [
                    ("registry endpoints", 1),
                    ("registry numbers", n.0),
                    ("registry aliases", n.1),
                ] {
                    if let Some(r) = projected.rows.iter_mut().find(|r| r.what == what) {
                        r.y2024 -= k;
                        r.y2025 += k;
                    }
                }
            }
        }

        let mut report = ReorgReport {
            map_file: req.map.file.clone(),
            map_rows: req.map.rows.len(),
            dialplan: dialplan.as_ref().map(|d| DialplanFate {
                version: d.0,
                file_name: d.1.clone(),
                structure: d.4,
                new_version: None,
                new_file_name: None,
            }),
            before: before.clone(),
            after: projected,
            applied: false,
            names,
            plan,
        };
        if !report.plan.pending.is_empty() {
            if req.dry_run {
                tx.rollback().await?;
                return Ok(report);
            }
            return Err(ReorgError::Undecided(
                report
                    .plan
                    .pending
                    .iter()
                    .map(|p| format!("{} in 2024/{}", p.object.key(), p.object.unit))
                    .collect(),
            ));
        }
        if report.plan.moves.is_empty() {
            tx.rollback().await?;
            return Ok(report);
        }

        // Apply (a dry run too, to measure and check; it then rolls back).
        let at_ms = self.now_ms();
        let now = at_ms.div_euclid(1000);
        let moves: HashMap<(ObjectKind, String), String> = report
            .plan
            .moves
            .iter()
            .map(|m| ((m.object.kind, m.object.id.clone()), m.to.clone()))
            .collect();
        for m in report
            .plan
            .moves
            .iter()
            .filter(|m| m.object.in_registry && m.object.kind == ObjectKind::Endpoint)
        {
            let done = sqlx::query(
                "UPDATE adm_endpoints SET unit_structure = '2025', unit_code = $1, updated_at_unix = $2 \
                 WHERE id = $3 AND unit_structure = '2024' AND unit_code = $4",
            )
            .bind(m.to.as_str())
            .bind(now)
            .bind(m.object.id.as_str())
            .bind(m.object.unit.as_str())
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                ReorgError::Check(format!("moving endpoint {} failed: {e}", m.object.id))
            })?;
            if done.rows_affected() != 1 {
                return Err(ReorgError::Check(format!(
                    "endpoint {} is no longer in 2024/{}",
                    m.object.id, m.object.unit
                )));
            }
            let new_unit = UnitRef::new(Structure::Y2025, m.to.clone());
            audit(
                &mut tx,
                at_ms,
                actor,
                "endpoint.reorganize",
                "endpoint",
                &m.object.id,
                Some(&new_unit),
                Some(serde_json::json!({"unit": UnitRef::new(Structure::Y2024, m.object.unit.clone())})),
                Some(serde_json::json!({"unit": new_unit, "decided_by": m.decided_by})),
            )
            .await?;
        }

        for m in report
            .plan
            .moves
            .iter()
            .filter(|m| m.object.kind == ObjectKind::User)
        {
            rescope_user(&mut tx, at_ms, actor, m).await?;
        }

        let mut after = Counts::default();
        registry_counts(&mut tx, &mut after).await?;
        let mut new_dp = None;
        match &dialplan {
            Some((version, file_name, source, dp, Some(Structure::Y2024))) => {
                let new_name = reorganised_name(file_name);
                let note = format!(
                    "Units: the two-tier structure from 1 July 2025; unit references rewritten by\n\
                     `gateway units reorganize` from dialplan version {version} ({file_name})."
                );
                let text =
                    rewrite_dialplan(source, &new_units, &moves, &note).map_err(|detail| {
                        ReorgError::Dialplan {
                            file: new_name.clone(),
                            detail,
                        }
                    })?;
                let parsed =
                    Dialplan::parse(&text, &new_name).map_err(|errs| ReorgError::Dialplan {
                        file: new_name.clone(),
                        detail: errs
                            .iter()
                            .map(|e| e.to_string())
                            .collect::<Vec<_>>()
                            .join("; "),
                    })?;
                check_rewrite(dp, &parsed, &moves).map_err(|detail| ReorgError::Dialplan {
                    file: new_name.clone(),
                    detail,
                })?;
                let done = Store::import_dialplan_in(
                    &mut tx,
                    &parsed,
                    &text,
                    &new_name,
                    &DialplanAudit {
                        at_ms,
                        actor: actor.user.clone(),
                        actor_role: actor.role.as_str().to_string(),
                        action: "dialplan.reorganize".into(),
                        detail: serde_json::json!({
                            "reorganised_from": version,
                            "map_sha256": req.map.sha256,
                        }),
                        unit: None,
                    },
                )
                .await?;
                // Measure what was stored, not what was meant to be.
                let (stored_name, stored) = sqlx::query(
                    "SELECT file_name, source_text FROM dialplan_versions WHERE version = $1",
                )
                .bind(done.version)
                .fetch_one(&mut *tx)
                .await
                .and_then(|r| Ok((r.try_get::<String, _>(0)?, r.try_get::<String, _>(1)?)))?;
                let stored = Dialplan::parse(&stored, &stored_name).map_err(|errors| {
                    gateway_store::StoreError::StoredDialplanInvalid {
                        version: done.version,
                        errors,
                    }
                })?;
                after.add_dialplan(Some(&stored), Structure::Y2025);
                if let Some(f) = report.dialplan.as_mut() {
                    f.new_version = Some(done.version);
                    f.new_file_name = Some(new_name);
                }
                new_dp = Some(done.version);
            }
            Some((_, _, _, dp, s)) => after.add_dialplan(Some(dp), dp_structure(*s)),
            None => after.add_dialplan(None, dp_structure(None)),
        }

        // Nothing lost: every total as before, nothing left in 2024.
        let mut problems = before.differences(&after);
        for r in &after.rows {
            let stays = r.what.starts_with("dialplan")
                && report
                    .dialplan
                    .as_ref()
                    .is_some_and(|d| d.structure != Some(Structure::Y2024));
            if r.y2024 != 0 && !stays {
                problems.push(format!(
                    "{}: {} left in the 2024 structure",
                    r.what, r.y2024
                ));
            }
        }
        if !problems.is_empty() {
            return Err(ReorgError::Check(problems.join("; ")));
        }
        report.after = after;

        audit(
            &mut tx,
            at_ms,
            actor,
            "units.reorganize",
            "reorganisation",
            "2024-2025",
            None,
            None,
            Some(serde_json::json!({
                "map": req.map.file,
                "map_sha256": req.map.sha256,
                "moved": report.plan.moves.len(),
                "decisions": req.assignments,
                "dialplan_version": new_dp,
                "before": report.before,
                "after": report.after,
            })),
        )
        .await?;

        if req.dry_run {
            tx.rollback().await?;
            return Ok(report);
        }
        tx.commit().await?;
        report.applied = true;
        if let Some(v) = new_dp {
            // No subscriber (the CLI) is not an error.
            let _ = self.dialplan_changes.send(v);
        }
        tracing::info!(moved = report.plan.moves.len(), dialplan = ?new_dp, "units reorganised");
        Ok(report)
    }
}

/// A user's scope from its 2024 unit to the planned 2025 one, audited.
/// Its sessions stay: every request reads the scope afresh.
async fn rescope_user(
    conn: &mut AnyConnection,
    at_ms: i64,
    actor: &Actor,
    m: &Move,
) -> Result<(), ReorgError> {
    let done = sqlx::query(
        "UPDATE adm_users SET scope_structure = '2025', scope_code = $1 \
         WHERE name = $2 AND scope_structure = '2024' AND scope_code = $3",
    )
    .bind(m.to.as_str())
    .bind(m.object.id.as_str())
    .bind(m.object.unit.as_str())
    .execute(&mut *conn)
    .await
    .map_err(|e| ReorgError::Check(format!("re-scoping user {} failed: {e}", m.object.id)))?;
    if done.rows_affected() != 1 {
        return Err(ReorgError::Check(format!(
            "user {} is no longer scoped to 2024/{}",
            m.object.id, m.object.unit
        )));
    }
    let new_unit = UnitRef::new(Structure::Y2025, m.to.clone());
    audit(
        conn,
        at_ms,
        actor,
        "user.reorganize",
        "user",
        &m.object.id,
        Some(&new_unit),
        Some(serde_json::json!({"unit": UnitRef::new(Structure::Y2024, m.object.unit.clone())})),
        Some(serde_json::json!({"unit": new_unit, "decided_by": m.decided_by})),
    )
    .await
}

/// (numbers, aliases) of a registry endpoint.
async fn endpoint_addresses(conn: &mut AnyConnection, id: &str) -> Result<(u64, u64), ReorgError> {
    let mut out = [0u64; 2];
    for (i, table) in ["adm_endpoint_numbers", "adm_endpoint_aliases"]
        .iter()
        .enumerate()
    {
        let r = sqlx::query(&format!(
            "SELECT COUNT(*) AS n FROM {table} WHERE endpoint_id = $1"
        ))
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
        out[i] = r.try_get::<i64, _>("n")?.max(0) as u64;
    }
    Ok((out[0], out[1]))
}

#[allow(clippy::too_many_arguments)]
async fn audit(
    conn: &mut AnyConnection,
    at_ms: i64,
    actor: &Actor,
    action: &str,
    object_kind: &str,
    object_id: &str,
    unit: Option<&UnitRef>,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) -> Result<(), ReorgError> {
    let id = next_id(conn, "adm_audit").await?;
    sqlx::query(
        "INSERT INTO adm_audit (id, at_ms, actor, actor_role, action, object_kind, object_id, \
         unit_structure, unit_code, before_json, after_json) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(id)
    .bind(at_ms)
    .bind(actor.user.as_str())
    .bind(actor.role.as_str())
    .bind(action)
    .bind(object_kind)
    .bind(object_id)
    .bind(unit.map(|u| u.structure.as_str().to_string()))
    .bind(unit.map(|u| u.code.clone()))
    .bind(before.map(|b| b.to_string()))
    .bind(after.map(|a| a.to_string()))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[cfg(test)]
#[path = "reorganize_tests.rs"]
mod tests;
