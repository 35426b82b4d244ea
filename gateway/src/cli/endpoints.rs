//! `gateway endpoints list|show|create|update|delete`: the registry's
//! endpoints, with the API's fields (contacts, credentials, maintenance).

use clap::{Args, Subcommand};
use gateway_admin::{Role, VettingState};
use serde_json::{json, Map, Value};

use super::output::{emit, fields, items, s, table, time};
use super::{parse_state, parse_unit, read_line, with_conn, Conn, ConnArgs, Fail};

#[derive(Subcommand)]
pub(crate) enum EndpointsCmd {
    /// The endpoints, optionally of one unit's subtree or one vetting state.
    List {
        /// Only endpoints in this unit's subtree: CODE (2025) or
        /// STRUCTURE/CODE.
        #[arg(long, value_name = "CODE")]
        unit: Option<String>,
        #[arg(long, value_parser = parse_state, value_name = "pending|approved|suspended")]
        state: Option<VettingState>,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// One endpoint with its contacts, device and their history.
    Show {
        id: String,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Register an endpoint; it waits for security vetting (pending).
    Create {
        id: String,
        #[command(flatten)]
        fields: EndpointFields,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Change an endpoint; what is not given stays as it is (audited with
    /// the endpoint before and after).
    Update {
        id: String,
        #[command(flatten)]
        fields: EndpointFields,
        #[arg(long, conflicts_with = "display")]
        clear_display: bool,
        #[arg(long, conflicts_with = "numbers")]
        clear_numbers: bool,
        #[arg(long, conflicts_with = "aliases")]
        clear_aliases: bool,
        #[arg(long, conflicts_with = "fixed_address")]
        clear_fixed_address: bool,
        /// The current device's next maintenance, YYYY-MM-DD.
        #[arg(long, value_name = "DATE")]
        maintenance_due: Option<String>,
        #[arg(long, conflicts_with = "maintenance_due")]
        clear_maintenance_due: bool,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Remove an endpoint with its numbers, aliases, contacts and devices
    /// (the audit row keeps all of it).
    Delete {
        id: String,
        #[command(flatten)]
        conn: ConnArgs,
    },
}

/// The fields `create` and `update` share (the API's NewEndpoint and
/// EndpointPatch).
#[derive(Args)]
pub(crate) struct EndpointFields {
    /// CODE (2025) or STRUCTURE/CODE; required for create.
    #[arg(long, value_name = "CODE")]
    unit: Option<String>,
    #[arg(long)]
    display: Option<String>,
    /// sip, h323 or webrtc (create: default sip).
    #[arg(long)]
    protocol: Option<String>,
    /// A number (repeatable; on update the list replaces the old one).
    #[arg(long = "number", value_name = "NUMBER", id = "numbers")]
    numbers: Vec<String>,
    /// An alias (repeatable; on update the list replaces the old one).
    #[arg(long = "alias", value_name = "ALIAS", id = "aliases")]
    aliases: Vec<String>,
    /// The only address the endpoint may call from, e.g. 10.1.2.3.
    #[arg(long)]
    fixed_address: Option<String>,
    /// Digest credentials from a password read from stdin (one line, after
    /// the --user password with --api); only the HA1 forms are stored.
    #[arg(long)]
    sip_password_stdin: bool,
    /// Digest realm of the credentials (default: the gateway's).
    #[arg(long)]
    realm: Option<String>,
    #[arg(long, value_name = "HEX")]
    ha1_md5: Option<String>,
    #[arg(long, value_name = "HEX")]
    ha1_sha256: Option<String>,
    /// The office lead (contact): name.
    #[arg(long, value_name = "NAME")]
    office_lead: Option<String>,
    #[arg(long, value_name = "PHONE", requires = "office_lead")]
    office_lead_phone: Option<String>,
    #[arg(long, value_name = "EMAIL", requires = "office_lead")]
    office_lead_email: Option<String>,
    /// The technical officer (contact): name.
    #[arg(long, value_name = "NAME")]
    technical_officer: Option<String>,
    #[arg(long, value_name = "PHONE", requires = "technical_officer")]
    technical_officer_phone: Option<String>,
    #[arg(long, value_name = "EMAIL", requires = "technical_officer")]
    technical_officer_email: Option<String>,
}

impl EndpointFields {
    /// The API's JSON for the given fields (absent ones left out).
    fn body(&self) -> Result<Map<String, Value>, Fail> {
        let mut b = Map::new();
        if let Some(u) = &self.unit {
            let u = parse_unit("--unit", u, None)?;
            b.insert("unit".into(), json!(u));
        }
        if let Some(d) = &self.display {
            b.insert("display".into(), json!(d));
        }
        if let Some(p) = &self.protocol {
            b.insert("protocol".into(), json!(p));
        }
        if !self.numbers.is_empty() {
            b.insert("numbers".into(), json!(self.numbers));
        }
        if !self.aliases.is_empty() {
            b.insert("aliases".into(), json!(self.aliases));
        }
        if let Some(a) = &self.fixed_address {
            b.insert("fixed_address".into(), json!(a));
        }
        let mut cred = Map::new();
        if let Some(r) = &self.realm {
            cred.insert("realm".into(), json!(r));
        }
        if let Some(h) = &self.ha1_md5 {
            cred.insert("ha1_md5".into(), json!(h));
        }
        if let Some(h) = &self.ha1_sha256 {
            cred.insert("ha1_sha256".into(), json!(h));
        }
        if !cred.is_empty() || self.sip_password_stdin {
            b.insert("credentials".into(), Value::Object(cred));
        }
        let mut contacts = Map::new();
        for (key, name, phone, email) in [
            (
                "office_lead",
                &self.office_lead,
                &self.office_lead_phone,
                &self.office_lead_email,
            ),
            (
                "technical_officer",
                &self.technical_officer,
                &self.technical_officer_phone,
                &self.technical_officer_email,
            ),
        ] {
            if let Some(n) = name {
                contacts.insert(
                    key.into(),
                    json!({ "name": n, "phone": phone, "email": email }),
                );
            }
        }
        if !contacts.is_empty() {
            b.insert("contacts".into(), Value::Object(contacts));
        }
        Ok(b)
    }

    /// The SIP password goes in after the login (which may read stdin
    /// first), so it is read inside the session.
    fn add_password(&self, b: &mut Map<String, Value>) -> Result<(), Fail> {
        if self.sip_password_stdin {
            let pw = read_line("SIP password (--sip-password-stdin)").map_err(|e| (2, e))?;
            if let Some(Value::Object(c)) = b.get_mut("credentials") {
                c.insert("password".into(), json!(pw));
            }
        }
        Ok(())
    }
}

pub(crate) fn endpoints(cmd: EndpointsCmd) -> Result<String, Fail> {
    match cmd {
        EndpointsCmd::List { unit, state, conn } => with_conn(&conn, async |c: &Conn| {
            let v = c.list_endpoints(unit.as_deref(), state).await?;
            Ok(emit(conn.json, &v, endpoints_table))
        }),
        EndpointsCmd::Show { id, conn } => with_conn(&conn, async |c: &Conn| {
            let v = c.get_endpoint(&id).await?;
            Ok(emit(conn.json, &v, endpoint_text))
        }),
        EndpointsCmd::Create { id, fields, conn } => {
            if fields.unit.is_none() {
                return Err((2, "endpoints create needs --unit CODE".into()));
            }
            let mut body = fields.body()?;
            body.insert("id".into(), json!(id));
            body.entry("protocol").or_insert(json!("sip"));
            with_conn(&conn, async |c: &Conn| {
                fields.add_password(&mut body)?;
                let v = c
                    .create_endpoint(Value::Object(body))
                    .await
                    .map_err(|(code, e)| (code, format!("endpoint {id} not created: {e}")))?;
                Ok(emit(conn.json, &v, |v: &Value| {
                    format!(
                        "endpoint {id} created by {} in unit {}: vetting {}",
                        c.who(Role::CityAdmin),
                        s(&v["unit"]),
                        s(&v["vetting"]["state"])
                    )
                }))
            })
        }
        EndpointsCmd::Update {
            id,
            fields,
            clear_display,
            clear_numbers,
            clear_aliases,
            clear_fixed_address,
            maintenance_due,
            clear_maintenance_due,
            conn,
        } => {
            let mut body = fields.body()?;
            for (clear, key, empty) in [
                (clear_display, "display", Value::Null),
                (clear_numbers, "numbers", json!([])),
                (clear_aliases, "aliases", json!([])),
                (clear_fixed_address, "fixed_address", Value::Null),
                (clear_maintenance_due, "maintenance_due", Value::Null),
            ] {
                if clear {
                    body.insert(key.into(), empty);
                }
            }
            if let Some(d) = &maintenance_due {
                body.insert("maintenance_due".into(), json!(d));
            }
            if body.is_empty() && !fields.sip_password_stdin {
                return Err((2, format!("endpoints update {id}: nothing to change")));
            }
            with_conn(&conn, async |c: &Conn| {
                fields.add_password(&mut body)?;
                let v = c
                    .update_endpoint(&id, Value::Object(body))
                    .await
                    .map_err(|(code, e)| (code, format!("endpoint {id} not updated: {e}")))?;
                Ok(emit(conn.json, &v, |v: &Value| {
                    format!(
                        "endpoint {id} updated by {}: vetting {} ({})",
                        c.who(Role::CityAdmin),
                        s(&v["vetting"]["state"]),
                        c.applied_hint()
                    )
                }))
            })
        }
        EndpointsCmd::Delete { id, conn } => with_conn(&conn, async |c: &Conn| {
            c.delete_endpoint(&id)
                .await
                .map_err(|(code, e)| (code, format!("endpoint {id} not deleted: {e}")))?;
            let v = json!({ "deleted": id });
            Ok(emit(conn.json, &v, |_| {
                format!("endpoint {id} deleted by {}", c.who(Role::CityAdmin))
            }))
        }),
    }
}

fn endpoints_table(v: &Value) -> String {
    let rows: Vec<Vec<String>> = items(v)
        .iter()
        .map(|e| {
            vec![
                s(&e["id"]),
                s(&e["unit"]),
                s(&e["protocol"]),
                s(&e["numbers"]),
                s(&e["vetting"]["state"]),
                s(&e["display"]),
            ]
        })
        .collect();
    format!(
        "{}\n{} endpoint(s)",
        table(
            &["ID", "UNIT", "PROTOCOL", "NUMBERS", "VETTING", "DISPLAY"],
            &rows
        ),
        rows.len()
    )
}

fn contact(c: &Value) -> String {
    if c.is_null() {
        return String::new();
    }
    let mut parts = vec![s(&c["name"])];
    for k in ["phone", "email"] {
        if !c[k].is_null() {
            parts.push(s(&c[k]));
        }
    }
    format!("{} (since {})", parts.join(", "), time(&c["since_unix"]))
}

fn endpoint_text(e: &Value) -> String {
    let v = &e["vetting"];
    let cred = &e["credentials"];
    let d = &e["device"];
    fields(&[
        ("id", s(&e["id"])),
        ("unit", s(&e["unit"])),
        ("display", s(&e["display"])),
        ("protocol", s(&e["protocol"])),
        ("numbers", s(&e["numbers"])),
        ("aliases", s(&e["aliases"])),
        ("fixed address", s(&e["fixed_address"])),
        (
            "credentials",
            if cred.is_null() {
                "none".into()
            } else {
                format!(
                    "realm {}, {} (fingerprint {})",
                    s(&cred["realm"]),
                    s(&cred["forms"]),
                    s(&cred["fingerprint"])
                )
            },
        ),
        (
            "vetting",
            format!(
                "{}{}{}",
                s(&v["state"]),
                match s(&v["by"]) {
                    b if b.is_empty() => String::new(),
                    b => format!(" by {b} at {}", time(&v["at_unix"])),
                },
                match s(&v["reason"]) {
                    r if r.is_empty() => String::new(),
                    r => format!(": {r}"),
                }
            ),
        ),
        ("office lead", contact(&e["contacts"]["office_lead"])),
        (
            "technical officer",
            contact(&e["contacts"]["technical_officer"]),
        ),
        (
            "device",
            if d.is_null() {
                "none seen yet".into()
            } else {
                format!(
                    "{} {} ({})",
                    s(&d["vendor"]),
                    s(&d["model"]),
                    s(&d["user_agent"])
                )
            },
        ),
        ("maintenance due", s(&d["maintenance_due"])),
        ("created", time(&e["created_at_unix"])),
        ("updated", time(&e["updated_at_unix"])),
    ])
}
