//! `gateway units import|reorganize|list|show`.

use clap::Subcommand;
use gateway_admin::Structure;
use serde_json::Value;
use std::path::PathBuf;

use super::output::{emit, fields, items, s, table};
use super::{
    db_url, open_admin, parse_structure, parse_unit, tokio_runtime, with_conn, Conn, ConnArgs,
    DbArgs, Fail,
};

#[derive(Subcommand)]
pub(crate) enum UnitsCmd {
    /// Import both of the city's unit structures (idempotent).
    Import {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Move endpoints, numbers, meetings and rules from the 2024 units to
    /// the 2025 units, following the official map.
    #[command(long_about = REORGANIZE_ABOUT)]
    Reorganize {
        /// The map: JSON `{"rows": [{old_district, old_ward, new_ward}]}`,
        /// e.g. hanoi-reorganisation-2025.json.
        #[arg(long, value_name = "FILE")]
        map: PathBuf,
        /// Print every change, the decisions still to make and the counts;
        /// change nothing.
        #[arg(long)]
        dry_run: bool,
        /// A decision for a split unit's object, KEY=CODE (repeatable); see
        /// above for the keys.
        #[arg(long = "assign", value_name = "KEY=CODE")]
        assign: Vec<String>,
        /// Decisions, one KEY=CODE a line (`#` comments, blank lines
        /// ignored): the lines --dry-run prints, with the codes filled in.
        #[arg(long, value_name = "FILE")]
        decisions: Option<PathBuf>,
        #[command(flatten)]
        db: DbArgs,
    },
    /// The units, parents first: every unit, one structure's, or one
    /// unit's subtree.
    List {
        /// Only this structure (2024: city, districts, wards; 2025: city,
        /// wards and communes).
        #[arg(long, value_parser = parse_structure)]
        structure: Option<Structure>,
        /// Only this unit and the units under it: CODE (in --structure,
        /// else 2025) or STRUCTURE/CODE.
        #[arg(long, value_name = "CODE")]
        under: Option<String>,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// One unit with its parents and children.
    Show {
        /// CODE (in --structure, else 2025) or STRUCTURE/CODE.
        code: String,
        #[arg(long, value_parser = parse_structure)]
        structure: Option<Structure>,
        #[command(flatten)]
        conn: ConnArgs,
    },
}

const REORGANIZE_ABOUT: &str = "\
Move endpoints, numbers, meetings and rules from the 2024 units to the 2025 units, following the
official map (issue 10).

What moves: the registry's endpoints in 2024 units, and, when the current dialplan is in the 2024
structure, its endpoints, meetings, rules (from_unit) and trunks (unit). A unit that became part of
exactly one new unit moves there (the city stays the city). A unit split between several new
units, and every district (the level was abolished), is never guessed: its objects are listed for
a human decision. Ids, numbers, aliases and meeting numbers do not change.

Decisions: --assign KEY=CODE (repeatable) or --decisions FILE (one KEY=CODE a line). KEY is
endpoint:ID, meeting:NUMBER, rule:NAME, trunk:NAME, unit:OLDCODE (everything in that 2024 unit), or
a bare endpoint id or 2024 unit code. CODE is one of the new units the old one became part of (the
dry run lists them) or the city, 01. An object's own decision wins over its unit's.

--dry-run prints every change, the objects awaiting a decision (as lines of a decisions file) and
the counts of endpoints, numbers, aliases, meetings, rules and trunks per structure, before and
after; nothing changes. Without it, the reorganisation is applied in one transaction, refused as a
whole while any object awaits a decision: the registry's endpoints change unit (an audit row
each), the dialplan is stored as a new version with the 2025 units (the previous version stays and
can be restored), and the counts must be equal before the commit. On any error nothing changes and
the error names what failed.";

fn os_user() -> String {
    std::env::var("USER").unwrap_or_else(|_| "unknown".into())
}

pub(crate) fn units(cmd: UnitsCmd) -> Result<String, Fail> {
    match cmd {
        UnitsCmd::Import { db } => import(db),
        UnitsCmd::Reorganize {
            map,
            dry_run,
            assign,
            decisions,
            db,
        } => units_reorganize(map, dry_run, assign, decisions, db),
        UnitsCmd::List {
            structure,
            under,
            conn,
        } => {
            let under = match &under {
                Some(u) => Some(parse_unit("--under", u, structure)?),
                None => None,
            };
            with_conn(&conn, async |c: &Conn| {
                let v = c.list_units(structure, under.as_ref()).await?;
                Ok(emit(conn.json, &v, units_table))
            })
        }
        UnitsCmd::Show {
            code,
            structure,
            conn,
        } => {
            let unit = parse_unit("unit", &code, structure)?;
            with_conn(&conn, async |c: &Conn| {
                let v = c.get_unit(&unit).await?;
                Ok(emit(conn.json, &v, unit_text))
            })
        }
    }
}

fn import(db: DbArgs) -> Result<String, Fail> {
    tokio_runtime().block_on(async {
        let url = db_url(db.db.clone(), &db.data_dir);
        let admin = open_admin(&db).await.map_err(|e| (1, e))?;
        let mut out = Vec::new();
        for s in [Structure::Y2024, Structure::Y2025] {
            let n = admin
                .list_units(
                    &Conn::actor(&os_user(), gateway_admin::Role::Auditor),
                    Some(s),
                )
                .await
                .map_err(|e| (1, e.to_string()))?
                .len();
            out.push(format!("{n} units of the {} structure", s.as_str()));
        }
        Ok(format!("{url}: {}", out.join(", ")))
    })
}

fn unit_ref(u: &Value) -> String {
    format!("{}/{}", s(&u["structure"]), s(&u["code"]))
}

fn units_table(v: &Value) -> String {
    let rows: Vec<Vec<String>> = items(v)
        .iter()
        .map(|u| {
            let depth = u["depth"].as_u64().unwrap_or(0) as usize;
            vec![
                unit_ref(u),
                s(&u["kind"]),
                s(&u["parent_code"]),
                format!("{}{}", "  ".repeat(depth.min(8)), s(&u["name"])),
            ]
        })
        .collect();
    format!(
        "{}\n{} unit(s)",
        table(&["UNIT", "KIND", "PARENT", "NAME"], &rows),
        rows.len()
    )
}

fn unit_text(u: &Value) -> String {
    let ancestors: Vec<String> = items(&u["ancestors"]).iter().map(s).collect();
    let mut out = fields(&[
        ("unit", unit_ref(u)),
        ("name", s(&u["name"])),
        ("codename", s(&u["codename"])),
        ("kind", s(&u["kind"])),
        ("parent", s(&u["parent_code"])),
        ("ancestors", ancestors.join(" < ")),
        ("valid from", s(&u["valid_from"])),
        ("valid to", s(&u["valid_to"])),
    ]);
    let kids = items(&u["children"]);
    out.push_str(&format!("\nchildren: {}", kids.len()));
    if !kids.is_empty() {
        let rows: Vec<Vec<String>> = kids
            .iter()
            .map(|k| vec![unit_ref(k), s(&k["kind"]), s(&k["name"])])
            .collect();
        out.push('\n');
        out.push_str(&table(&["UNIT", "KIND", "NAME"], &rows));
    }
    out
}

fn units_reorganize(
    map: PathBuf,
    dry_run: bool,
    assign: Vec<String>,
    decisions: Option<PathBuf>,
    db: DbArgs,
) -> Result<String, Fail> {
    use gateway_admin::reorganize::{Assignment, ReorgMap, ReorgRequest};
    let request = (|| -> Result<ReorgRequest, String> {
        let name = map.display().to_string();
        let json =
            std::fs::read_to_string(&map).map_err(|e| format!("--map {name}: cannot read: {e}"))?;
        let map = ReorgMap::parse(&json, &name).map_err(|e| e.to_string())?;
        let mut assignments = Vec::new();
        if let Some(f) = &decisions {
            let name = f.display().to_string();
            let text = std::fs::read_to_string(f)
                .map_err(|e| format!("--decisions {name}: cannot read: {e}"))?;
            assignments.extend(Assignment::parse_file(&text, &name).map_err(|e| e.to_string())?);
        }
        for a in &assign {
            assignments.push(Assignment::parse(a, "--assign").map_err(|e| e.to_string())?);
        }
        Ok(ReorgRequest {
            map,
            assignments,
            dry_run,
        })
    })();
    let request = match request {
        Ok(r) => r,
        Err(e) => return Err((2, e)),
    };
    tokio_runtime().block_on(async {
        let admin = open_admin(&db).await.map_err(|e| (1, e))?;
        let report = admin
            .reorganize(
                &Conn::actor(&os_user(), gateway_admin::Role::CityAdmin),
                &request,
            )
            .await
            .map_err(|e| (1, format!("units reorganize: {e}")))?;
        Ok(report.render())
    })
}
