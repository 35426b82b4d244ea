//! The dialplan's read model (`units`, `endpoints`, `endpoint_numbers`,
//! `endpoint_aliases`, `trunks`, `trunk_acl`, `rules`) brought to a new
//! version by difference: each stored row's key and a digest of its values
//! (computed by the database) are read back, compared with the new
//! version's rows, and only rows that appeared, changed or went away are
//! written. A city-scale dialplan whose new version changes a few rules
//! costs a read of the keys and a few statements, not a rewrite of several
//! hundred thousand rows.
//!
//! The `position` columns keep the file order. They only have to sort
//! right, so a new version keeps the stored values of rows that did not
//! move and gives new rows values in between (a fresh import spaces them
//! [`GAP`] apart): removing an endpoint near the top of the file does not
//! rewrite the 100 000 after it.
//!
//! Foreign keys are honoured at every statement (SQLite checks them per
//! statement, PostgreSQL's are not deferrable), hence the order in
//! [`sync`]: rows nothing refers to ("leaves": numbers, aliases, ACL
//! entries, rules) that changed or went away are deleted first; then
//! parents (units, endpoints, trunks) are inserted and updated in place,
//! never deleted and re-inserted, because unchanged children still refer to
//! them; then the leaves are inserted; parents that went away go last,
//! units leaf-first.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write;

use gateway_dialplan::{Action, Credentials, Dialplan};
use sqlx::AnyConnection;

use crate::batch::{
    delete_keys, encoded_sql as field_sql, insert_rows, next_encoded as field, select_rows,
    update_rows, Kind, Val,
};
use crate::StoreError;

use Kind::{Int as I, Text as T};

/// One table of the read model: its columns, the first `key` of which
/// identify a row (the primary key, or for rules their unique name), their
/// types, and which column is the file order (see [`assign_positions`]).
pub(crate) struct Table {
    pub name: &'static str,
    pub columns: &'static [&'static str],
    kinds: &'static [Kind],
    key: usize,
    order: Option<usize>,
}

const UNITS: Table = Table {
    name: "units",
    columns: &["code", "name", "kind", "parent_code", "position"],
    kinds: &[T, T, T, T, I],
    key: 1,
    order: Some(4),
};

const ENDPOINTS: Table = Table {
    name: "endpoints",
    columns: &[
        "id",
        "unit_code",
        "display",
        "transport",
        "max_contacts",
        "vetted",
        "credential_kind",
        "credential",
        "position",
    ],
    kinds: &[T, T, T, T, I, I, T, T, I],
    key: 1,
    order: Some(8),
};

const NUMBERS: Table = Table {
    name: "endpoint_numbers",
    columns: &["number", "endpoint_id", "position"],
    kinds: &[T, T, I],
    key: 1,
    order: None,
};

const ALIASES: Table = Table {
    name: "endpoint_aliases",
    columns: &["alias", "endpoint_id", "position"],
    kinds: &[T, T, I],
    key: 1,
    order: None,
};

const TRUNKS: Table = Table {
    name: "trunks",
    columns: &[
        "name",
        "uri",
        "username",
        "password",
        "unit_code",
        "position",
    ],
    kinds: &[T, T, T, T, T, I],
    key: 1,
    order: Some(5),
};

const TRUNK_ACL: Table = Table {
    name: "trunk_acl",
    columns: &["trunk_name", "position", "cidr"],
    kinds: &[T, I, T],
    key: 2,
    order: None,
};

const RULES: Table = Table {
    name: "rules",
    columns: &[
        "name",
        "position",
        "match_kind",
        "match_pattern",
        "from_unit",
        "from_trunk",
        "action",
        "target_endpoint",
        "target_trunk",
        "uri_template",
        "rewrite",
        "strip",
        "prepend",
        "reject_status",
        "reject_reason",
        "caller_id",
        "encryption",
        "record",
        "max_duration_secs",
    ],
    kinds: &[T, I, T, T, T, T, T, T, T, T, T, I, T, I, T, T, T, I, I],
    key: 1,
    order: Some(1),
};

/// A value of a new row, borrowed from the dialplan where it can be: rows
/// that compare equal to the stored ones (nearly all of them) are never
/// copied.
#[derive(Debug, Clone)]
enum Cell<'a> {
    Text(Option<Cow<'a, str>>),
    Int(Option<i64>),
}

impl<'a> Cell<'a> {
    fn text(s: &'a str) -> Cell<'a> {
        Cell::Text(Some(Cow::Borrowed(s)))
    }

    fn opt(s: Option<&'a String>) -> Cell<'a> {
        Cell::Text(s.map(|s| Cow::Borrowed(s.as_str())))
    }

    fn int(i: i64) -> Cell<'a> {
        Cell::Int(Some(i))
    }

    fn val(&self) -> Val {
        match self {
            Cell::Text(t) => Val::Text(t.as_ref().map(|t| t.to_string())),
            Cell::Int(i) => Val::Int(*i),
        }
    }
}

type Row<'a> = Vec<Cell<'a>>;

fn unit_rows(dp: &Dialplan) -> Vec<Row<'_>> {
    dp.units()
        .iter()
        .enumerate()
        .map(|(i, u)| {
            vec![
                Cell::text(&u.code),
                Cell::text(&u.name),
                Cell::text(u.kind.as_str()),
                Cell::opt(u.parent.as_ref()),
                Cell::int(i as i64),
            ]
        })
        .collect()
}

fn endpoint_rows(dp: &Dialplan) -> Vec<Row<'_>> {
    dp.endpoints()
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let (kind, secret) = match &e.credentials {
                Credentials::Password(p) => ("password", p),
                Credentials::Ha1Md5(h) => ("ha1_md5", h),
                Credentials::Ha1Sha256(h) => ("ha1_sha256", h),
            };
            vec![
                Cell::text(&e.id),
                Cell::text(&e.unit),
                Cell::opt(e.display.as_ref()),
                Cell::text(e.transport.as_str()),
                Cell::int(i64::from(e.max_contacts)),
                Cell::int(i64::from(e.vetted)),
                Cell::text(kind),
                Cell::text(secret),
                Cell::int(i as i64),
            ]
        })
        .collect()
}

/// Numbers (`aliases` false) or aliases of every endpoint.
fn address_rows(dp: &Dialplan, aliases: bool) -> Vec<Row<'_>> {
    let mut out = Vec::new();
    for e in dp.endpoints() {
        let values = if aliases { &e.aliases } else { &e.numbers };
        for (k, v) in values.iter().enumerate() {
            out.push(vec![Cell::text(v), Cell::text(&e.id), Cell::int(k as i64)]);
        }
    }
    out
}

fn trunk_rows(dp: &Dialplan) -> Vec<Row<'_>> {
    dp.trunks()
        .iter()
        .enumerate()
        .map(|(i, t)| {
            vec![
                Cell::text(&t.name),
                Cell::Text(Some(Cow::Owned(t.uri.to_string()))),
                Cell::opt(t.username.as_ref()),
                Cell::opt(t.password.as_ref()),
                Cell::opt(t.unit.as_ref()),
                Cell::int(i as i64),
            ]
        })
        .collect()
}

fn acl_rows(dp: &Dialplan) -> Vec<Row<'_>> {
    let mut out = Vec::new();
    for t in dp.trunks() {
        for (k, c) in t.acl.iter().enumerate() {
            out.push(vec![
                Cell::text(&t.name),
                Cell::int(k as i64),
                Cell::Text(Some(Cow::Owned(c.to_string()))),
            ]);
        }
    }
    out
}

fn rule_rows(dp: &Dialplan) -> Vec<Row<'_>> {
    dp.rules()
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let none = || Cell::Text(None);
            let (mut target_endpoint, mut target_trunk, mut uri) = (none(), none(), none());
            let (mut reject_status, mut reject_reason) = (Cell::Int(None), none());
            let mut rw = None;
            match &r.action {
                Action::Endpoint { target } => target_endpoint = Cell::text(target),
                Action::Trunk { trunk, rewrite } => {
                    target_trunk = Cell::text(trunk);
                    rw = Some(rewrite);
                }
                Action::Uri { uri: u, rewrite } => {
                    uri = Cell::text(u.as_str());
                    rw = Some(rewrite);
                }
                Action::Reject { status, reason } => {
                    reject_status = Cell::int(i64::from(*status));
                    reject_reason = Cell::text(reason);
                }
            }
            vec![
                Cell::text(&r.name),
                Cell::int(i as i64),
                Cell::text(r.matcher.kind()),
                Cell::text(r.matcher.pattern()),
                Cell::opt(r.from_unit.as_ref()),
                Cell::opt(r.from_trunk.as_ref()),
                Cell::text(r.action.kind()),
                target_endpoint,
                target_trunk,
                uri,
                Cell::Text(
                    rw.and_then(|w| w.template.as_ref())
                        .map(|t| Cow::Borrowed(t.as_str())),
                ),
                Cell::Int(rw.map(|w| w.strip as i64)),
                Cell::Text(rw.map(|w| Cow::Borrowed(w.prepend.as_str()))),
                reject_status,
                reject_reason,
                Cell::opt(r.caller_id.as_ref()),
                Cell::Text(r.encryption.map(|e| Cow::Borrowed(e.as_str()))),
                Cell::Int(r.record.map(i64::from)),
                Cell::Int(r.max_duration_secs.map(|m| m as i64)),
            ]
        })
        .collect()
}

/// How one table's stored rows differ from the new version's.
#[derive(Default)]
struct Changes {
    /// New keys, in the new version's order.
    added: Vec<Vec<Val>>,
    /// Same key, other values (the new row).
    changed: Vec<Vec<Val>>,
    /// Keys the new version no longer has.
    removed: Vec<Vec<Val>>,
}

impl Changes {
    fn is_empty(&self) -> bool {
        self.added.is_empty() && self.changed.is_empty() && self.removed.is_empty()
    }
}

/// Appends one value in an unambiguous, self-delimiting text form: `n`
/// (NULL) or `v<bytes>:<text>`, which `batch::encoded_sql` makes the database
/// write for a stored value. Keys and row digests are such values one
/// after the other, so a stored row is compared without reading its
/// values.
fn encode(cell: &Cell<'_>, out: &mut String) {
    match cell {
        Cell::Text(None) | Cell::Int(None) => out.push('n'),
        Cell::Text(Some(s)) => {
            let _ = write!(out, "v{}:{s}", s.len());
        }
        Cell::Int(Some(i)) => {
            let digits = i.unsigned_abs().checked_ilog10().unwrap_or(0) + 1;
            let _ = write!(out, "v{}:{i}", digits + u32::from(*i < 0));
        }
    }
}

/// The key columns of `row`, encoded.
fn encode_key(t: &Table, row: &[Cell<'_>], out: &mut String) {
    out.clear();
    for c in &row[..t.key] {
        encode(c, out);
    }
}

/// Every column of `row` but its order column, encoded.
fn encode_digest(t: &Table, row: &[Cell<'_>], out: &mut String) {
    out.clear();
    for (i, c) in row.iter().enumerate() {
        if Some(i) != t.order {
            encode(c, out);
        }
    }
}

/// One text for the whole table: each row's key columns, its order column
/// and then its other columns (its digest), in [`encode`]'s form, rows one
/// after the other. sqlx hands rows over one by one (from SQLite's worker
/// thread, and through the `Any` driver's conversions), which at 100 000
/// rows a table costs seconds; one value costs nothing. The aggregate is
/// spelled differently on each database.
fn aggregate_sql(t: &Table, sqlite: bool) -> String {
    let mut fields: Vec<String> = t.columns[..t.key]
        .iter()
        .map(|c| field_sql(c, sqlite))
        .collect();
    if let Some(o) = t.order {
        fields.push(field_sql(t.columns[o], sqlite));
    }
    fields.extend(
        t.columns
            .iter()
            .enumerate()
            .filter(|&(i, _)| Some(i) != t.order)
            .map(|(_, c)| field_sql(c, sqlite)),
    );
    let row = fields.join(" || ");
    if sqlite {
        format!("SELECT group_concat({row}, '') FROM {}", t.name)
    } else {
        format!("SELECT string_agg({row}, '') FROM {}", t.name)
    }
}

/// A stored row, borrowed from [`aggregate_sql`]'s text: its encoded key,
/// its order value, its encoded digest.
struct Stored<'t> {
    key: &'t str,
    order: Option<i64>,
    digest: &'t str,
}

/// Splits [`aggregate_sql`]'s text into rows; `None` when it does not have
/// the expected form.
fn parse_stored<'t>(text: &'t str, t: &Table) -> Option<Vec<Stored<'t>>> {
    let values = t.columns.len() - usize::from(t.order.is_some());
    let mut out = Vec::new();
    let mut at = 0;
    while at < text.len() {
        let start = at;
        for _ in 0..t.key {
            field(text, &mut at)?;
        }
        let key = &text[start..at];
        let order = match t.order {
            Some(_) => field(text, &mut at)?.map(str::parse).transpose().ok()?,
            None => None,
        };
        let start = at;
        for _ in 0..values {
            field(text, &mut at)?;
        }
        out.push(Stored {
            key,
            order,
            digest: &text[start..at],
        });
    }
    Some(out)
}

/// An encoded key back as values (for the rows to delete).
fn decode_key(t: &Table, key: &str) -> Option<Vec<Val>> {
    let mut at = 0;
    t.kinds[..t.key]
        .iter()
        .map(|kind| {
            let f = field(key, &mut at)?;
            Some(match kind {
                Kind::Int => Val::Int(f.map(str::parse).transpose().ok()?),
                _ => Val::Text(f.map(str::to_string)),
            })
        })
        .collect()
}

/// [`aggregate_sql`]'s text of `t`. Should it not parse (it always has), the
/// rows are read one by one and encoded here instead.
async fn stored_text(conn: &mut AnyConnection, t: &Table) -> Result<String, sqlx::Error> {
    let sqlite = conn.backend_name().eq_ignore_ascii_case("sqlite");
    let text: Option<String> = sqlx::query_scalar(&aggregate_sql(t, sqlite))
        .fetch_one(&mut *conn)
        .await?;
    let text = text.unwrap_or_default();
    if parse_stored(&text, t).is_some() {
        return Ok(text);
    }
    tracing::warn!(
        table = t.name,
        "the stored rows' digests do not parse; reading their values"
    );
    let sql = format!("SELECT {} FROM {}", t.columns.join(", "), t.name);
    let mut text = String::new();
    for r in select_rows(conn, &sql, t.kinds).await? {
        let cells: Vec<Cell<'_>> = r
            .iter()
            .map(|v| match v {
                Val::Text(s) => Cell::Text(s.as_deref().map(Cow::Borrowed)),
                Val::Int(i) => Cell::Int(*i),
                // The read model has no floats; a digest that can never
                // match marks such a row as changed.
                Val::Float(_) => Cell::Text(Some(Cow::Borrowed("\u{1}float"))),
            })
            .collect();
        for c in &cells[..t.key] {
            encode(c, &mut text);
        }
        if let Some(o) = t.order {
            encode(&cells[o], &mut text);
        }
        for (i, c) in cells.iter().enumerate() {
            if Some(i) != t.order {
                encode(c, &mut text);
            }
        }
    }
    Ok(text)
}

/// Spacing of the file order of a fresh import: room for rows inserted
/// between two others later without renumbering the rest.
const GAP: i64 = 1024;

/// File-order values for rows in file order, increasing along the file,
/// as many as possible the value stored for them (`stored[i]`): those along
/// a longest increasing run of stored values keep theirs, the others get
/// values spread between their kept neighbours. Removing a row, or
/// inserting one where there is room, then moves no other row; when a gap
/// has no room left, everything is renumbered (`i * GAP`), once.
fn assign_positions(stored: &[Option<i64>]) -> Vec<i64> {
    let n = stored.len();
    // Longest strictly increasing subsequence of the stored values
    // (patience sorting: `tails[k]` ends the best run of length k + 1).
    let mut tails: Vec<usize> = Vec::new();
    let mut prev: Vec<Option<usize>> = vec![None; n];
    for (i, s) in stored.iter().enumerate() {
        let Some(s) = *s else { continue };
        let k = tails.partition_point(|&j| stored[j].is_some_and(|t| t < s));
        prev[i] = k.checked_sub(1).map(|k| tails[k]);
        if k == tails.len() {
            tails.push(i);
        } else {
            tails[k] = i;
        }
    }
    let mut kept = vec![false; n];
    let mut cur = tails.last().copied();
    while let Some(i) = cur {
        kept[i] = true;
        cur = prev[i];
    }

    let mut pos: Vec<i64> = vec![0; n];
    let mut i = 0;
    let mut last: Option<i64> = None;
    while i < n {
        if kept[i] {
            let p = stored[i].unwrap_or_default();
            pos[i] = p;
            last = Some(p);
            i += 1;
            continue;
        }
        // A run of rows without a kept value, between `last` and the next
        // kept row's value (either may be open).
        let end = (i..n).find(|&j| kept[j]).unwrap_or(n);
        let next = (end < n).then(|| stored[end].unwrap_or_default());
        let k = (end - i) as i64;
        let (lo, step) = match (last, next) {
            (Some(a), Some(b)) if b - a > k => (a, (b - a) / (k + 1)),
            (Some(_), Some(_)) => {
                return (0..n as i64).map(|j| j * GAP).collect();
            }
            (Some(a), None) => (a, GAP),
            (None, Some(b)) => (b - (k + 1) * GAP, GAP),
            (None, None) => (-GAP, GAP),
        };
        for (m, j) in (i..end).enumerate() {
            pos[j] = lo + step * (m as i64 + 1);
        }
        last = Some(pos[end - 1]);
        i = end;
    }
    pos
}

async fn compare(
    conn: &mut AnyConnection,
    t: &Table,
    mut new: Vec<Row<'_>>,
) -> Result<Changes, sqlx::Error> {
    let text = stored_text(conn, t).await?;
    let mut stored: HashMap<&str, (Option<i64>, &str)> = parse_stored(&text, t)
        .unwrap_or_default()
        .into_iter()
        .map(|s| (s.key, (s.order, s.digest)))
        .collect();
    let mut key = String::new();
    let mut digest = String::new();
    if let Some(col) = t.order {
        let was: Vec<Option<i64>> = new
            .iter()
            .map(|r| {
                encode_key(t, r, &mut key);
                stored.get(key.as_str()).and_then(|s| s.0)
            })
            .collect();
        for (r, p) in new.iter_mut().zip(assign_positions(&was)) {
            r[col] = Cell::int(p);
        }
    }
    let mut c = Changes::default();
    for row in new {
        encode_key(t, &row, &mut key);
        let Some((order, was)) = stored.remove(key.as_str()) else {
            c.added.push(row.iter().map(Cell::val).collect());
            continue;
        };
        let same_order = match t.order {
            Some(col) => matches!(row[col], Cell::Int(p) if p == order),
            None => true,
        };
        encode_digest(t, &row, &mut digest);
        if !same_order || digest != was {
            c.changed.push(row.iter().map(Cell::val).collect());
        }
    }
    c.removed = stored
        .into_keys()
        .filter_map(|k| decode_key(t, k))
        .collect();
    Ok(c)
}

fn keys(rows: &[Vec<Val>], key: usize) -> Vec<Vec<Val>> {
    rows.iter()
        .map(|r| r.get(..key).unwrap_or(r).to_vec())
        .collect()
}

/// A leaf table: changed rows are deleted and inserted again (a changed rule
/// may take the name of another changed one, which an in-place update
/// would refuse as a duplicate).
async fn delete_leaves(
    conn: &mut AnyConnection,
    t: &Table,
    c: &Changes,
) -> Result<(), sqlx::Error> {
    let mut gone = c.removed.clone();
    gone.extend(keys(&c.changed, t.key));
    delete_keys(conn, t.name, &t.columns[..t.key], &gone).await
}

async fn insert_leaves(
    conn: &mut AnyConnection,
    t: &Table,
    c: &Changes,
) -> Result<(), sqlx::Error> {
    insert_rows(conn, t.name, t.columns, &c.added).await?;
    insert_rows(conn, t.name, t.columns, &c.changed).await
}

async fn upsert_parents(
    conn: &mut AnyConnection,
    t: &Table,
    c: &Changes,
) -> Result<(), sqlx::Error> {
    insert_rows(conn, t.name, t.columns, &c.added).await?;
    update_rows(conn, t.name, t.columns, t.key, &c.changed).await
}

/// What [`sync`] wrote, per table: (added, changed, removed).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct SyncStats {
    pub rows: Vec<(&'static str, usize, usize, usize)>,
}

impl SyncStats {
    fn note(&mut self, t: &Table, c: &Changes) {
        self.rows
            .push((t.name, c.added.len(), c.changed.len(), c.removed.len()));
    }

    pub fn written(&self) -> u64 {
        self.rows
            .iter()
            .map(|&(_, a, c, r)| (a + c + r) as u64)
            .sum()
    }
}

/// Brings the read model to `dp` inside the caller's transaction. `fail`
/// is called after each stage (the tests inject failures there).
pub(crate) async fn sync(
    conn: &mut AnyConnection,
    dp: &Dialplan,
    fail: impl Fn(&'static str) -> Result<(), StoreError>,
) -> Result<SyncStats, StoreError> {
    // One table at a time: its new rows borrow from `dp` and are dropped
    // once compared.
    let mut units = compare(conn, &UNITS, unit_rows(dp)).await?;
    // New units reference their parents: insert those first.
    let depth: HashMap<&str, usize> = dp
        .units()
        .iter()
        .map(|u| (u.code.as_str(), dp.unit_ancestors(&u.code).len()))
        .collect();
    units.added.sort_by_key(|r| match &r[0] {
        Val::Text(Some(code)) => depth.get(code.as_str()).copied().unwrap_or(0),
        _ => 0,
    });
    let endpoints = compare(conn, &ENDPOINTS, endpoint_rows(dp)).await?;
    let numbers = compare(conn, &NUMBERS, address_rows(dp, false)).await?;
    let aliases = compare(conn, &ALIASES, address_rows(dp, true)).await?;
    let trunks = compare(conn, &TRUNKS, trunk_rows(dp)).await?;
    let acl = compare(conn, &TRUNK_ACL, acl_rows(dp)).await?;
    let rules = compare(conn, &RULES, rule_rows(dp)).await?;
    let mut stats = SyncStats::default();
    for (t, c) in [
        (&UNITS, &units),
        (&ENDPOINTS, &endpoints),
        (&NUMBERS, &numbers),
        (&ALIASES, &aliases),
        (&TRUNKS, &trunks),
        (&TRUNK_ACL, &acl),
        (&RULES, &rules),
    ] {
        stats.note(t, c);
    }

    for (t, c) in [
        (&RULES, &rules),
        (&TRUNK_ACL, &acl),
        (&ALIASES, &aliases),
        (&NUMBERS, &numbers),
    ] {
        if !c.is_empty() {
            delete_leaves(conn, t, c).await?;
        }
    }
    upsert_parents(conn, &UNITS, &units).await?;
    fail("units")?;
    upsert_parents(conn, &ENDPOINTS, &endpoints).await?;
    upsert_parents(conn, &TRUNKS, &trunks).await?;
    fail("endpoints")?;
    for (t, c) in [
        (&NUMBERS, &numbers),
        (&ALIASES, &aliases),
        (&TRUNK_ACL, &acl),
        (&RULES, &rules),
    ] {
        insert_leaves(conn, t, c).await?;
    }
    for (t, c) in [(&ENDPOINTS, &endpoints), (&TRUNKS, &trunks)] {
        delete_keys(conn, t.name, &t.columns[..t.key], &c.removed).await?;
    }
    delete_units(conn, &units.removed).await?;
    fail("rules")?;
    Ok(stats)
}

/// Deletes units the new version no longer has, children before parents:
/// by their depth among the removed units (their other children were moved
/// by the updates before).
async fn delete_units(conn: &mut AnyConnection, removed: &[Vec<Val>]) -> Result<(), sqlx::Error> {
    if removed.is_empty() {
        return Ok(());
    }
    let removed: std::collections::HashSet<&str> = removed
        .iter()
        .filter_map(|k| match k.first() {
            Some(Val::Text(Some(code))) => Some(code.as_str()),
            _ => None,
        })
        .collect();
    let stored = select_rows(conn, "SELECT code, parent_code FROM units", &[T, T]).await?;
    let parent: HashMap<&str, &str> = stored
        .iter()
        .filter_map(|r| match (&r[0], &r[1]) {
            (Val::Text(Some(c)), Val::Text(Some(p))) if removed.contains(c.as_str()) => {
                Some((c.as_str(), p.as_str()))
            }
            _ => None,
        })
        .collect();
    let mut by_depth: Vec<(usize, &str)> = removed
        .iter()
        .map(|&code| {
            let mut depth = 0;
            let mut cur = code;
            // Bounded: the stored tree has no cycles, but a bound costs nothing.
            while let Some(&p) = parent.get(cur) {
                if depth > removed.len() || !removed.contains(p) {
                    break;
                }
                depth += 1;
                cur = p;
            }
            (depth, code)
        })
        .collect();
    by_depth.sort_by(|a, b| b.cmp(a));
    for level in by_depth.chunk_by(|a, b| a.0 == b.0) {
        let codes: Vec<Vec<Val>> = level.iter().map(|(_, c)| vec![Val::from(*c)]).collect();
        delete_keys(conn, UNITS.name, &UNITS.columns[..1], &codes).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assign(stored: &[Option<i64>]) -> Vec<i64> {
        let out = assign_positions(stored);
        assert_eq!(out.len(), stored.len());
        assert!(out.windows(2).all(|w| w[0] < w[1]), "{out:?}");
        out
    }

    #[test]
    fn positions_move_only_rows_that_must() {
        // A fresh import.
        assert_eq!(assign(&[None, None, None]), [0, GAP, 2 * GAP]);
        // A row removed: the others keep theirs.
        assert_eq!(assign(&[Some(0), Some(2048), Some(3072)]), [0, 2048, 3072]);
        // Rows inserted between two, at the top and at the end.
        assert_eq!(
            assign(&[None, Some(0), None, None, Some(1023), None]),
            [-GAP, 0, 341, 682, 1023, 1023 + GAP]
        );
        // Two rows swapped: one of them moves, the rest stays.
        let p = assign(&[Some(0), Some(2048), Some(1024), Some(3072)]);
        let kept = p
            .iter()
            .zip([0, 2048, 1024, 3072])
            .filter(|(a, b)| **a == *b)
            .count();
        assert_eq!(kept, 3, "{p:?}");
        // No room left between two neighbours: everything renumbered.
        assert_eq!(assign(&[Some(5), None, Some(6)]), [0, GAP, 2 * GAP]);
    }

    fn enc(cells: &[Cell<'_>]) -> String {
        let mut s = String::new();
        for c in cells {
            encode(c, &mut s);
        }
        s
    }

    #[test]
    fn encodings_tell_values_apart() {
        assert_ne!(
            enc(&[Cell::text("ab"), Cell::text("c")]),
            enc(&[Cell::text("a"), Cell::text("bc")])
        );
        assert_ne!(enc(&[Cell::Text(None)]), enc(&[Cell::text("")]));
        assert_ne!(enc(&[Cell::Text(None)]), enc(&[Cell::text("n")]));
        assert_eq!(enc(&[Cell::text("Phường")]), "v9:Phường");
        assert_eq!(enc(&[Cell::text("a\0b")]), "v3:a\0b");
        for (i, want) in [
            (0, "v1:0"),
            (9, "v1:9"),
            (10, "v2:10"),
            (-12, "v3:-12"),
            (i64::MIN, "v20:-9223372036854775808"),
        ] {
            assert_eq!(enc(&[Cell::int(i)]), want);
        }
    }

    #[test]
    fn stored_rows_parse_back() {
        let row = [Cell::text("123"), Cell::text("e-01"), Cell::int(0)];
        let text = format!("v3:123{}", enc(&row));
        let both = format!("{text}{text}");
        let parsed = parse_stored(&both, &NUMBERS).unwrap();
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[1].key, "v3:123");
        assert_eq!(parsed[1].digest, enc(&row));
        assert_eq!(
            decode_key(&NUMBERS, parsed[0].key),
            Some(vec![Val::from("123")])
        );
        // Rules: key (name), order (position), then the other values.
        let mut rule: Vec<Cell<'_>> = vec![Cell::Text(None); RULES.columns.len()];
        rule[0] = Cell::text("r");
        let mut digest = String::new();
        encode_digest(&RULES, &rule, &mut digest);
        let text = format!("v1:rv5:-2048{digest}");
        let parsed = parse_stored(&text, &RULES).unwrap();
        assert_eq!(parsed[0].order, Some(-2048));
        assert_eq!(parsed[0].digest, digest);
        for bad in ["v9:12", "x", "v3:123v", "v3:12"] {
            assert!(parse_stored(bad, &NUMBERS).is_none(), "{bad}");
        }
        assert_eq!(parse_stored("", &NUMBERS).map(|v| v.len()), Some(0));
    }
}
