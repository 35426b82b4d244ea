//! `gateway meetings list|show`: the current dialplan's meetings (the API
//! has no meeting writes: meetings change with a dialplan version).

use clap::Subcommand;
use serde_json::Value;
use std::collections::HashSet;

use super::output::{emit, fields, items, s, table};
use super::{parse_unit, with_conn, Conn, ConnArgs, Fail};

#[derive(Subcommand)]
pub(crate) enum MeetingsCmd {
    /// The meetings, optionally only those of one unit's subtree.
    List {
        /// CODE (2025) or STRUCTURE/CODE: meetings whose unit is in its
        /// subtree.
        #[arg(long, value_name = "CODE")]
        unit: Option<String>,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// One meeting, by number or alias.
    Show {
        number: String,
        #[command(flatten)]
        conn: ConnArgs,
    },
}

pub(crate) fn meetings(cmd: MeetingsCmd) -> Result<String, Fail> {
    match cmd {
        MeetingsCmd::List { unit, conn } => {
            let unit = match &unit {
                Some(u) => Some(parse_unit("--unit", u, None)?),
                None => None,
            };
            with_conn(&conn, async |c: &Conn| {
                let mut v = c.list_meetings().await?;
                if let Some(u) = &unit {
                    // The API lists by the actor's scope only; the subtree
                    // (refused when not visible) narrows it here.
                    let sub = c.list_units(Some(u.structure), Some(u)).await?;
                    let codes: HashSet<String> =
                        items(&sub).iter().map(|x| s(&x["code"])).collect();
                    let structure = u.structure.as_str();
                    if let Value::Array(a) = &mut v {
                        a.retain(|m| {
                            s(&m["unit"]["structure"]) == structure
                                && codes.contains(&s(&m["unit"]["code"]))
                        });
                    }
                }
                Ok(emit(conn.json, &v, meetings_table))
            })
        }
        MeetingsCmd::Show { number, conn } => with_conn(&conn, async |c: &Conn| {
            let v = c.get_meeting(&number).await?;
            Ok(emit(conn.json, &v, meeting_text))
        }),
    }
}

fn yes(v: &Value) -> String {
    match v.as_bool() {
        Some(true) => "yes".into(),
        Some(false) => "no".into(),
        None => s(v),
    }
}

fn meetings_table(v: &Value) -> String {
    let rows: Vec<Vec<String>> = items(v)
        .iter()
        .map(|m| {
            vec![
                s(&m["number"]),
                s(&m["unit"]),
                s(&m["classification"]),
                yes(&m["encryption_required"]),
                yes(&m["record"]),
                s(&m["max_participants"]),
                s(&m["name"]),
            ]
        })
        .collect();
    format!(
        "{}\n{} meeting(s)",
        table(
            &[
                "NUMBER",
                "UNIT",
                "CLASSIFICATION",
                "ENCRYPTED",
                "RECORD",
                "MAX",
                "NAME"
            ],
            &rows
        ),
        rows.len()
    )
}

fn meeting_text(m: &Value) -> String {
    fields(&[
        ("number", s(&m["number"])),
        ("name", s(&m["name"])),
        ("aliases", s(&m["aliases"])),
        ("unit", s(&m["unit"])),
        ("classification", s(&m["classification"])),
        ("encryption required", yes(&m["encryption_required"])),
        ("record", yes(&m["record"])),
        ("max participants", s(&m["max_participants"])),
    ])
}
