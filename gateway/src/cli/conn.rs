//! The administration operations the CLI runs, either on the database
//! (through `gateway_admin::Admin`, as a built-in `cli:$USER` actor) or
//! through the REST API of a running gateway (as a logged-in user).
//!
//! Both paths answer the API's JSON, so the rendering, `--json` and the
//! error texts are the same whichever path ran.

use gateway_admin::{Actor, Admin, AdminError, Role, Structure, UnitRef, VettingState};
use serde::Serialize;
use serde_json::Value;

use super::http::{enc, Api};
use super::{open_admin, read_line, ConnArgs, Fail};

pub(crate) enum Conn {
    Db { admin: Admin, os_user: String },
    Api(Api),
}

fn json<T: Serialize>(v: T) -> Value {
    serde_json::to_value(v).expect("admin views serialize")
}

fn refused(e: AdminError) -> Fail {
    (1, e.to_string())
}

impl Conn {
    /// The database of `--db`/`--data-dir`, or with `--api` a session on
    /// the running gateway (password from GATEWAY_PASSWORD, else the first
    /// line of stdin).
    pub(crate) async fn open(args: &ConnArgs) -> Result<Conn, Fail> {
        match &args.api {
            None => Ok(Conn::Db {
                admin: open_admin(&args.db).await.map_err(|e| (1, e))?,
                os_user: std::env::var("USER").unwrap_or_else(|_| "unknown".into()),
            }),
            Some(url) => {
                let user = args.user.as_deref().ok_or_else(|| {
                    (
                        2,
                        "--api needs --user NAME (the administration user to log in as)"
                            .to_string(),
                    )
                })?;
                let mut api = Api::new(url, user)?;
                let password = match std::env::var("GATEWAY_PASSWORD") {
                    Ok(p) if !p.is_empty() => p,
                    _ => read_line("the password of --user").map_err(|e| (2, e))?,
                };
                api.login(&password).await?;
                Ok(Conn::Api(api))
            }
        }
    }

    pub(crate) async fn close(self) {
        if let Conn::Api(mut api) = self {
            api.logout().await;
        }
    }

    /// The actor of the database path: the operating-system user, with
    /// the whole network as scope (whoever may open the database may do
    /// anything) and the role the operation needs.
    pub(crate) fn actor(os_user: &str, role: Role) -> Actor {
        Actor {
            user: format!("cli:{os_user}"),
            role,
            unit_scope: None,
        }
    }

    /// Who the operation is recorded as.
    pub(crate) fn who(&self, role: Role) -> String {
        match self {
            Conn::Db { os_user, .. } => Conn::actor(os_user, role).user,
            Conn::Api(api) => api.user.clone(),
        }
    }

    /// Where the change lands, for the confirmation line.
    pub(crate) fn applied_hint(&self) -> &'static str {
        match self {
            Conn::Db { .. } => "a running gateway applies it after SIGHUP",
            Conn::Api(_) => "applied by the running gateway",
        }
    }

    // -------------------------------------------------------------- units

    /// Units flat, parents first (each with its depth below `under`).
    pub(crate) async fn list_units(
        &self,
        structure: Option<Structure>,
        under: Option<&UnitRef>,
    ) -> Result<Value, Fail> {
        match (self, under) {
            (Conn::Db { admin, os_user }, None) => Ok(json(
                admin
                    .list_units(&Conn::actor(os_user, Role::Auditor), structure)
                    .await
                    .map_err(refused)?,
            )),
            (Conn::Db { admin, os_user }, Some(u)) => Ok(json(
                admin
                    .unit_subtree(&Conn::actor(os_user, Role::Auditor), u)
                    .await
                    .map_err(refused)?,
            )),
            (Conn::Api(api), None) => {
                let q = match structure {
                    Some(s) => format!("?flat=true&structure={}", s.as_str()),
                    None => "?flat=true".to_string(),
                };
                api.get(&format!("/units{q}")).await
            }
            (Conn::Api(api), Some(u)) => {
                let tree = api
                    .get(&format!(
                        "/units/{}/{}/subtree",
                        u.structure.as_str(),
                        enc(&u.code)
                    ))
                    .await?;
                Ok(flatten_tree(tree))
            }
        }
    }

    pub(crate) async fn get_unit(&self, unit: &UnitRef) -> Result<Value, Fail> {
        match self {
            Conn::Db { admin, os_user } => Ok(json(
                admin
                    .get_unit(&Conn::actor(os_user, Role::Auditor), unit)
                    .await
                    .map_err(refused)?,
            )),
            Conn::Api(api) => {
                api.get(&format!(
                    "/units/{}/{}",
                    unit.structure.as_str(),
                    enc(&unit.code)
                ))
                .await
            }
        }
    }

    // ---------------------------------------------------------- endpoints

    pub(crate) async fn list_endpoints(
        &self,
        unit: Option<&str>,
        state: Option<VettingState>,
    ) -> Result<Value, Fail> {
        match self {
            Conn::Db { admin, os_user } => {
                let q = gateway_admin::EndpointQuery {
                    unit: unit.map(str::to_string),
                    vetting: state,
                };
                Ok(json(
                    admin
                        .list_endpoints(&Conn::actor(os_user, Role::Auditor), &q)
                        .await
                        .map_err(refused)?,
                ))
            }
            Conn::Api(api) => {
                let mut q = Vec::new();
                if let Some(u) = unit {
                    q.push(format!("unit={}", enc(u)));
                }
                if let Some(s) = state {
                    q.push(format!("vetting={}", s.as_str()));
                }
                let q = if q.is_empty() {
                    String::new()
                } else {
                    format!("?{}", q.join("&"))
                };
                api.get(&format!("/endpoints{q}")).await
            }
        }
    }

    pub(crate) async fn get_endpoint(&self, id: &str) -> Result<Value, Fail> {
        match self {
            Conn::Db { admin, os_user } => Ok(json(
                admin
                    .get_endpoint(&Conn::actor(os_user, Role::Auditor), id)
                    .await
                    .map_err(refused)?,
            )),
            Conn::Api(api) => api.get(&format!("/endpoints/{}", enc(id))).await,
        }
    }

    /// `body` is the API's request body; the database path reads it with
    /// the same type (and the same refusal of unknown fields).
    pub(crate) async fn create_endpoint(&self, body: Value) -> Result<Value, Fail> {
        match self {
            Conn::Db { admin, os_user } => {
                let new: gateway_admin::NewEndpoint =
                    serde_json::from_value(body).map_err(|e| (2, e.to_string()))?;
                Ok(json(
                    admin
                        .create_endpoint(&Conn::actor(os_user, Role::CityAdmin), new)
                        .await
                        .map_err(refused)?,
                ))
            }
            Conn::Api(api) => api.post("/endpoints", &body).await,
        }
    }

    pub(crate) async fn update_endpoint(&self, id: &str, body: Value) -> Result<Value, Fail> {
        match self {
            Conn::Db { admin, os_user } => {
                let patch: gateway_admin::EndpointPatch =
                    serde_json::from_value(body).map_err(|e| (2, e.to_string()))?;
                Ok(json(
                    admin
                        .update_endpoint(&Conn::actor(os_user, Role::CityAdmin), id, patch)
                        .await
                        .map_err(refused)?,
                ))
            }
            Conn::Api(api) => api.patch(&format!("/endpoints/{}", enc(id)), &body).await,
        }
    }

    pub(crate) async fn delete_endpoint(&self, id: &str) -> Result<(), Fail> {
        match self {
            Conn::Db { admin, os_user } => admin
                .delete_endpoint(&Conn::actor(os_user, Role::CityAdmin), id)
                .await
                .map_err(refused),
            Conn::Api(api) => api
                .delete(&format!("/endpoints/{}", enc(id)))
                .await
                .map(|_| ()),
        }
    }

    // ------------------------------------------------------------ vetting

    pub(crate) async fn vetting_queue(&self) -> Result<Value, Fail> {
        match self {
            Conn::Db { admin, os_user } => Ok(json(
                admin
                    .vetting_queue(&Conn::actor(os_user, Role::SecurityReviewer))
                    .await
                    .map_err(refused)?,
            )),
            Conn::Api(api) => api.get("/vetting").await,
        }
    }

    pub(crate) async fn decide(
        &self,
        id: &str,
        state: VettingState,
        reason: Option<&str>,
    ) -> Result<Value, Fail> {
        match self {
            Conn::Db { admin, os_user } => {
                let reviewer = Conn::actor(os_user, Role::SecurityReviewer);
                let view = match state {
                    // The operation itself refuses a missing reason, naming the field.
                    VettingState::Suspended => {
                        admin.suspend(&reviewer, id, reason.unwrap_or("")).await
                    }
                    _ => admin.approve(&reviewer, id, reason).await,
                };
                Ok(json(view.map_err(refused)?))
            }
            Conn::Api(api) => {
                let verb = match state {
                    VettingState::Suspended => "suspend",
                    _ => "approve",
                };
                let body = match reason {
                    Some(r) => serde_json::json!({ "reason": r }),
                    None => serde_json::json!({}),
                };
                api.post(&format!("/vetting/{}/{verb}", enc(id)), &body)
                    .await
            }
        }
    }

    // ----------------------------------------------------------- meetings

    pub(crate) async fn list_meetings(&self) -> Result<Value, Fail> {
        match self {
            Conn::Db { admin, os_user } => Ok(json(
                admin
                    .list_meetings(&Conn::actor(os_user, Role::Auditor))
                    .await
                    .map_err(refused)?,
            )),
            Conn::Api(api) => api.get("/meetings").await,
        }
    }

    pub(crate) async fn get_meeting(&self, number: &str) -> Result<Value, Fail> {
        match self {
            Conn::Db { admin, os_user } => Ok(json(
                admin
                    .get_meeting(&Conn::actor(os_user, Role::Auditor), number)
                    .await
                    .map_err(refused)?,
            )),
            Conn::Api(api) => api.get(&format!("/meetings/{}", enc(number))).await,
        }
    }

    // -------------------------------------------------------------- users

    /// On the database a user is added by the system (the first city-admin
    /// needs no one to create it); through the API the logged-in user
    /// creates it, within what its role allows.
    pub(crate) async fn add_user(&self, new: gateway_admin::NewUser) -> Result<Value, Fail> {
        match self {
            Conn::Db { admin, os_user } => {
                let by = Conn::actor(os_user, new.role).user;
                Ok(json(admin.add_user(new, &by).await.map_err(refused)?))
            }
            Conn::Api(api) => {
                let body = serde_json::json!({
                    "name": new.name,
                    "password": new.password,
                    "role": new.role,
                    "unit": new.unit,
                });
                api.post("/users", &body).await
            }
        }
    }
}

/// The API's unit tree as the database path's flat list: breadth first,
/// which is the store's order (depth, then position in the city's file).
fn flatten_tree(tree: Value) -> Value {
    let mut level: Vec<Value> = match tree {
        Value::Array(a) => a,
        other => vec![other],
    };
    let mut out = Vec::new();
    while !level.is_empty() {
        let mut next = Vec::new();
        for mut node in level {
            if let Some(Value::Array(kids)) =
                node.as_object_mut().and_then(|o| o.remove("children"))
            {
                next.extend(kids);
            }
            out.push(node);
        }
        level = next;
    }
    Value::Array(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattens_breadth_first_without_children() {
        let tree = serde_json::json!([{ "code": "1", "children": [
            { "code": "2", "children": [{ "code": "4", "children": [] }] },
            { "code": "3", "children": [{ "code": "5", "children": [] }] },
        ]}]);
        let flat = flatten_tree(tree);
        let codes: Vec<&str> = flat
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["code"].as_str().unwrap())
            .collect();
        assert_eq!(codes, ["1", "2", "3", "4", "5"]);
        assert!(flat
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u.get("children").is_none()));
    }
}
