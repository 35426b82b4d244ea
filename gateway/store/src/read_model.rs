//! The dialplan's read model (`units`, `endpoints`, `endpoint_numbers`,
//! `endpoint_aliases`, `trunks`, `trunk_acl`, `rules`) brought to a new
//! version by difference: the stored rows are read back, compared with the
//! new version's by primary key, and only rows that appeared, changed or
//! went away are written. A city-scale dialplan whose new version changes a
//! few rules costs a read of the tables and a few statements, not a rewrite
//! of several hundred thousand rows.
//!
//! Foreign keys are honoured at every statement (SQLite checks them per
//! statement, PostgreSQL's are not deferrable), hence the order in
//! [`sync`]: rows nothing refers to ("leaves": numbers, aliases, ACL
//! entries, rules) that changed or went away are deleted first; then
//! parents (units, endpoints, trunks) are inserted and updated in place,
//! never deleted and re-inserted, because unchanged children still refer to
//! them; then the leaves are inserted; parents that went away go last,
//! units leaf-first.

use std::collections::HashMap;

use gateway_dialplan::{Action, Credentials, Dialplan};
use sqlx::AnyConnection;

use crate::batch::{delete_keys, insert_rows, select_rows, update_rows, Kind, Val};
use crate::StoreError;

use Kind::{Int as I, Text as T};

/// One table of the read model: its columns, the first `key` of which are
/// its primary key, and their types.
pub(crate) struct Table {
    pub name: &'static str,
    pub columns: &'static [&'static str],
    kinds: &'static [Kind],
    key: usize,
}

const UNITS: Table = Table {
    name: "units",
    columns: &["code", "name", "kind", "parent_code", "position"],
    kinds: &[T, T, T, T, I],
    key: 1,
};
const UNIT_PARENT: usize = 3;

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
};

const NUMBERS: Table = Table {
    name: "endpoint_numbers",
    columns: &["number", "endpoint_id", "position"],
    kinds: &[T, T, I],
    key: 1,
};

const ALIASES: Table = Table {
    name: "endpoint_aliases",
    columns: &["alias", "endpoint_id", "position"],
    kinds: &[T, T, I],
    key: 1,
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
};

const TRUNK_ACL: Table = Table {
    name: "trunk_acl",
    columns: &["trunk_name", "position", "cidr"],
    kinds: &[T, I, T],
    key: 2,
};

const RULES: Table = Table {
    name: "rules",
    columns: &[
        "position",
        "name",
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
    kinds: &[I, T, T, T, T, T, T, T, T, T, T, I, T, I, T, T, T, I, I],
    key: 1,
};

/// The rows of every table for `dp`, units parents first.
struct Rows {
    units: Vec<Vec<Val>>,
    endpoints: Vec<Vec<Val>>,
    numbers: Vec<Vec<Val>>,
    aliases: Vec<Vec<Val>>,
    trunks: Vec<Vec<Val>>,
    acl: Vec<Vec<Val>>,
    rules: Vec<Vec<Val>>,
}

fn rows_of(dp: &Dialplan) -> Rows {
    // Parents before children, so that inserting in this order satisfies
    // the units' reference to their parent.
    let mut by_depth: Vec<(usize, usize)> = dp
        .units()
        .iter()
        .enumerate()
        .map(|(i, u)| (dp.unit_ancestors(&u.code).len(), i))
        .collect();
    by_depth.sort();
    let units = by_depth
        .iter()
        .map(|&(_, i)| {
            let u = &dp.units()[i];
            vec![
                u.code.clone().into(),
                u.name.clone().into(),
                u.kind.as_str().into(),
                u.parent.clone().into(),
                (i as i64).into(),
            ]
        })
        .collect();

    let mut endpoints = Vec::with_capacity(dp.endpoints().len());
    let mut numbers = Vec::new();
    let mut aliases = Vec::new();
    for (i, e) in dp.endpoints().iter().enumerate() {
        let (kind, secret) = match &e.credentials {
            Credentials::Password(p) => ("password", p),
            Credentials::Ha1Md5(h) => ("ha1_md5", h),
            Credentials::Ha1Sha256(h) => ("ha1_sha256", h),
        };
        endpoints.push(vec![
            e.id.clone().into(),
            e.unit.clone().into(),
            e.display.clone().into(),
            e.transport.as_str().into(),
            i64::from(e.max_contacts).into(),
            i64::from(e.vetted).into(),
            kind.into(),
            secret.clone().into(),
            (i as i64).into(),
        ]);
        for (k, n) in e.numbers.iter().enumerate() {
            numbers.push(vec![
                n.clone().into(),
                e.id.clone().into(),
                (k as i64).into(),
            ]);
        }
        for (k, a) in e.aliases.iter().enumerate() {
            aliases.push(vec![
                a.clone().into(),
                e.id.clone().into(),
                (k as i64).into(),
            ]);
        }
    }

    let mut trunks = Vec::new();
    let mut acl = Vec::new();
    for (i, t) in dp.trunks().iter().enumerate() {
        trunks.push(vec![
            t.name.clone().into(),
            t.uri.to_string().into(),
            t.username.clone().into(),
            t.password.clone().into(),
            t.unit.clone().into(),
            (i as i64).into(),
        ]);
        for (k, c) in t.acl.iter().enumerate() {
            acl.push(vec![
                t.name.clone().into(),
                (k as i64).into(),
                c.to_string().into(),
            ]);
        }
    }

    let rules = dp
        .rules()
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let (
                mut target_endpoint,
                mut target_trunk,
                mut uri,
                mut reject_status,
                mut reject_reason,
            ) = (None, None, None, None, None);
            let mut rw = None;
            match &r.action {
                Action::Endpoint { target } => target_endpoint = Some(target.clone()),
                Action::Trunk { trunk, rewrite } => {
                    target_trunk = Some(trunk.clone());
                    rw = Some(rewrite);
                }
                Action::Uri { uri: u, rewrite } => {
                    uri = Some(u.as_str().to_string());
                    rw = Some(rewrite);
                }
                Action::Reject { status, reason } => {
                    reject_status = Some(i64::from(*status));
                    reject_reason = Some(reason.clone());
                }
            }
            vec![
                (i as i64).into(),
                r.name.clone().into(),
                r.matcher.kind().into(),
                r.matcher.pattern().into(),
                r.from_unit.clone().into(),
                r.from_trunk.clone().into(),
                r.action.kind().into(),
                target_endpoint.into(),
                target_trunk.into(),
                uri.into(),
                rw.and_then(|w| w.template.as_ref().map(|t| t.as_str().to_string()))
                    .into(),
                rw.map(|w| w.strip as i64).into(),
                rw.map(|w| w.prepend.clone()).into(),
                reject_status.into(),
                reject_reason.into(),
                r.caller_id.clone().into(),
                r.encryption.map(|e| e.as_str().to_string()).into(),
                r.record.map(i64::from).into(),
                r.max_duration_secs.map(|m| m as i64).into(),
            ]
        })
        .collect();
    Rows {
        units,
        endpoints,
        numbers,
        aliases,
        trunks,
        acl,
        rules,
    }
}

/// A primary key as one hashable string (text and integers cannot collide:
/// each part is tagged).
fn key_of(row: &[Val], key: usize) -> String {
    let mut k = String::new();
    for v in &row[..key] {
        match v {
            Val::Text(Some(s)) => {
                k.push('t');
                k.push_str(s);
            }
            Val::Int(Some(i)) => {
                k.push('i');
                k.push_str(&i.to_string());
            }
            Val::Float(Some(f)) => {
                k.push('f');
                k.push_str(&f.to_string());
            }
            _ => k.push('n'),
        }
        k.push('\0');
    }
    k
}

/// How one table's stored rows differ from the new version's.
#[derive(Default)]
struct Changes {
    /// New keys, in the new version's order.
    added: Vec<Vec<Val>>,
    /// Same key, other values (the new row).
    changed: Vec<Vec<Val>>,
    /// Keys the new version no longer has (the stored row).
    removed: Vec<Vec<Val>>,
}

impl Changes {
    fn is_empty(&self) -> bool {
        self.added.is_empty() && self.changed.is_empty() && self.removed.is_empty()
    }
}

async fn compare(
    conn: &mut AnyConnection,
    t: &Table,
    new: Vec<Vec<Val>>,
) -> Result<Changes, sqlx::Error> {
    let sql = format!("SELECT {} FROM {}", t.columns.join(", "), t.name);
    let mut stored: HashMap<String, Vec<Val>> = select_rows(conn, &sql, t.kinds)
        .await?
        .into_iter()
        .map(|r| (key_of(&r, t.key), r))
        .collect();
    let mut c = Changes::default();
    for row in new {
        match stored.remove(&key_of(&row, t.key)) {
            None => c.added.push(row),
            Some(old) if old == row => {}
            Some(_) => c.changed.push(row),
        }
    }
    c.removed = stored.into_values().collect();
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
    let mut gone = keys(&c.removed, t.key);
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
}

/// Brings the read model to `dp` inside the caller's transaction. `fail`
/// is called after each stage (the tests inject failures there).
pub(crate) async fn sync(
    conn: &mut AnyConnection,
    dp: &Dialplan,
    fail: impl Fn(&'static str) -> Result<(), StoreError>,
) -> Result<SyncStats, StoreError> {
    let rows = rows_of(dp);
    let units = compare(conn, &UNITS, rows.units).await?;
    let endpoints = compare(conn, &ENDPOINTS, rows.endpoints).await?;
    let numbers = compare(conn, &NUMBERS, rows.numbers).await?;
    let aliases = compare(conn, &ALIASES, rows.aliases).await?;
    let trunks = compare(conn, &TRUNKS, rows.trunks).await?;
    let acl = compare(conn, &TRUNK_ACL, rows.acl).await?;
    let rules = compare(conn, &RULES, rows.rules).await?;
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
        delete_keys(conn, t.name, &t.columns[..t.key], &keys(&c.removed, t.key)).await?;
    }
    delete_units(conn, &units.removed).await?;
    fail("rules")?;
    Ok(stats)
}

/// Deletes units the new version no longer has, children before parents:
/// by their depth among the removed units (their other children were moved
/// by the updates before).
async fn delete_units(conn: &mut AnyConnection, removed: &[Vec<Val>]) -> Result<(), sqlx::Error> {
    let parent: HashMap<&str, Option<&str>> = removed
        .iter()
        .filter_map(|r| match (&r[0], &r[UNIT_PARENT]) {
            (Val::Text(Some(code)), Val::Text(p)) => Some((code.as_str(), p.as_deref())),
            _ => None,
        })
        .collect();
    let mut by_depth: Vec<(usize, &str)> = parent
        .keys()
        .map(|&code| {
            let mut depth = 0;
            let mut cur = code;
            // Bounded: the stored tree has no cycles, but a bound costs nothing.
            while let Some(Some(p)) = parent.get(cur) {
                if depth > parent.len() || !parent.contains_key(p) {
                    break;
                }
                depth += 1;
                cur = p;
            }
            (depth, code)
        })
        .collect();
    by_depth.sort_by(|a, b| b.cmp(a));
    let mut i = 0;
    while i < by_depth.len() {
        let depth = by_depth[i].0;
        let level: Vec<Vec<Val>> = by_depth[i..]
            .iter()
            .take_while(|(d, _)| *d == depth)
            .map(|(_, code)| vec![Val::from(*code)])
            .collect();
        i += level.len();
        delete_keys(conn, UNITS.name, &UNITS.columns[..1], &level).await?;
    }
    Ok(())
}
