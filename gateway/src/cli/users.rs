//! `gateway users add`.

use clap::Subcommand;
use serde_json::Value;

use super::output::{emit, s};
use super::{parse_unit, read_line, with_conn, Conn, ConnArgs, Fail};

#[derive(Subcommand)]
pub(crate) enum UsersCmd {
    /// Add a user; the password is read from stdin (one line; with --api
    /// and no GATEWAY_PASSWORD, the line after the --user password).
    Add {
        name: String,
        /// city-admin, unit-admin, operator, security-reviewer or auditor.
        #[arg(long)]
        role: String,
        /// The unit subtree the user administers: CODE (2025 structure) or
        /// STRUCTURE/CODE; none: the whole network.
        #[arg(long)]
        unit: Option<String>,
        #[command(flatten)]
        conn: ConnArgs,
    },
}

pub(crate) fn users(cmd: UsersCmd) -> Result<String, Fail> {
    let UsersCmd::Add {
        name,
        role,
        unit,
        conn,
    } = cmd;
    let Some(role) = gateway_admin::Role::parse(&role) else {
        let known: Vec<&str> = gateway_admin::Role::ALL
            .iter()
            .map(|r| r.as_str())
            .collect();
        return Err((
            2,
            format!(
                "--role {role:?} is not a role; use one of {}",
                known.join(", ")
            ),
        ));
    };
    let unit = match &unit {
        Some(u) => Some(
            parse_unit("--unit", u, None)
                .map_err(|(c, e)| (c, e.replace("--unit: ", "--unit: invalid unit: ")))?,
        ),
        None => None,
    };
    // On the database the password is read before opening it (as always);
    // through the API after the login, which may read its own line first.
    let early = if conn.api.is_none() {
        Some(read_line("password").map_err(|e| (2, e))?)
    } else {
        None
    };
    with_conn(&conn, async |c: &Conn| {
        let password = match early {
            Some(p) => p,
            None => read_line("password of the new user").map_err(|e| (2, e))?,
        };
        let new = gateway_admin::NewUser {
            name: name.clone(),
            password,
            role,
            unit,
        };
        let v = c
            .add_user(new)
            .await
            .map_err(|(code, e)| (code, format!("user {name:?} not added: {e}")))?;
        Ok(emit(conn.json, &v, |v: &Value| {
            format!(
                "user {} added: role {}, {}",
                s(&v["name"]),
                s(&v["role"]),
                match &v["unit"] {
                    Value::Null => "the whole network".into(),
                    u => format!("unit {} and below", s(u)),
                }
            )
        }))
    })
}
