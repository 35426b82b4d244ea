//! `gateway vetting list|show|approve|suspend`.

use clap::Subcommand;
use gateway_admin::{Role, VettingState};
use serde_json::Value;

use super::output::{emit, fields, items, s, table, time};
use super::{with_conn, Conn, ConnArgs, Fail};

#[derive(Subcommand)]
pub(crate) enum VettingCmd {
    /// The review queue: endpoints pending vetting, with what changed.
    List {
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// One endpoint's vetting: state, decision, device and what changed.
    Show {
        id: String,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Approve an endpoint (as a security reviewer).
    Approve {
        id: String,
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Suspend an endpoint; a reason is required.
    Suspend {
        id: String,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        conn: ConnArgs,
    },
}

pub(crate) fn vetting(cmd: VettingCmd) -> Result<String, Fail> {
    match cmd {
        VettingCmd::List { conn } => with_conn(&conn, async |c: &Conn| {
            let q = c.vetting_queue().await?;
            Ok(emit(conn.json, &q, |q: &Value| {
                let q = items(q);
                let mut lines = vec![format!("{} endpoint(s) pending vetting", q.len())];
                for e in q {
                    lines.push(format!(
                        "{}\tunit {}\t{}",
                        s(&e["id"]),
                        s(&e["unit"]),
                        s(&e["vetting"]["reason"])
                    ));
                }
                lines.join("\n")
            }))
        }),
        VettingCmd::Show { id, conn } => with_conn(&conn, async |c: &Conn| {
            let e = c.get_endpoint(&id).await?;
            Ok(emit(conn.json, &e, vetting_text))
        }),
        VettingCmd::Approve { id, reason, conn } => {
            decide(&conn, &id, VettingState::Approved, reason.as_deref())
        }
        VettingCmd::Suspend { id, reason, conn } => {
            decide(&conn, &id, VettingState::Suspended, Some(&reason))
        }
    }
}

fn decide(
    conn: &ConnArgs,
    id: &str,
    state: VettingState,
    reason: Option<&str>,
) -> Result<String, Fail> {
    let (done, not_done) = match state {
        VettingState::Suspended => ("suspended", "not suspended"),
        _ => ("approved", "not approved"),
    };
    with_conn(conn, async |c: &Conn| {
        let v = c
            .decide(id, state, reason)
            .await
            .map_err(|(code, e)| (code, format!("endpoint {id} {not_done}: {e}")))?;
        Ok(if conn.json {
            emit(true, &v, |_| String::new())
        } else {
            format!(
                "endpoint {id} {done} by {} ({})",
                c.who(Role::SecurityReviewer),
                c.applied_hint()
            )
        })
    })
}

fn vetting_text(e: &Value) -> String {
    let v = &e["vetting"];
    let d = &e["device"];
    let mut out = fields(&[
        ("endpoint", s(&e["id"])),
        ("unit", s(&e["unit"])),
        ("state", s(&v["state"])),
        ("reason", s(&v["reason"])),
        ("by", s(&v["by"])),
        ("at", time(&v["at_unix"])),
        (
            "device",
            if d.is_null() {
                "none seen yet".into()
            } else {
                format!(
                    "{} {} firmware {} serial {} ({})",
                    s(&d["vendor"]),
                    s(&d["model"]),
                    s(&d["firmware"]),
                    s(&d["serial"]),
                    s(&d["user_agent"])
                )
            },
        ),
    ]);
    let events = items(&e["device_events"]);
    if !events.is_empty() {
        let rows: Vec<Vec<String>> = events
            .iter()
            .map(|ev| vec![time(&ev["at_unix"]), s(&ev["kind"]), s(&ev["detail"])])
            .collect();
        out.push_str("\ndevice events:\n");
        out.push_str(&table(&["AT", "KIND", "DETAIL"], &rows));
    }
    out
}
