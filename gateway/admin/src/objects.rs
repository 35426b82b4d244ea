//! Per-object writes to the current dialplan's meetings, trunks and rules,
//! delegated down the unit tree.
//!
//! Each write edits the current version's TOML in place (toml_edit: every
//! comment and every other entry stays byte for byte), validates the result
//! as an upload is validated, and stores it as a new version through the
//! same audited path as an upload, so the running gateway swaps it in.
//!
//! Bodies carry the dialplan file's own field names and value shapes (a
//! unit is its bare code, as in the file); in a PATCH, `null` removes a
//! field. Objects are owned by a unit: a meeting by `unit`, a trunk by
//! `unit`, a rule by `from_unit` (the callers it applies to, so a district
//! can only change how its own callers are routed). An object without an
//! owner belongs to the whole network. Rules are identified by `name`
//! (unique in a dialplan), meetings by `number` (or an alias, as GET),
//! trunks by `name`.

use axum::extract::{FromRequestParts, Path, State};
use axum::http::header::LOCATION;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use gateway_dialplan::{Dialplan, DialplanError};
use serde::{Deserialize, Deserializer, Serialize};
use toml_edit::{Array, ArrayOfTables, DocumentMut, InlineTable, Item, Table, Value};

use crate::api::{ApiJson, Authed, Problem};
use crate::dialplan::visible_opt;
use crate::model::{Actor, Role};
use crate::{Admin, AdminError, DialplanIssue, MeetingView, RuleView, TrunkView};

/// A field of a body: absent (`None`: unchanged), `null` (`Some(None)`:
/// removed) or a value.
pub type Field<T> = Option<Option<T>>;

fn field<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Field<T>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A value as the dialplan file writes it.
trait ToToml {
    fn to_toml(&self) -> Value;
}

impl ToToml for String {
    fn to_toml(&self) -> Value {
        Value::from(self.as_str())
    }
}

impl ToToml for bool {
    fn to_toml(&self) -> Value {
        Value::from(*self)
    }
}

impl ToToml for i64 {
    fn to_toml(&self) -> Value {
        Value::from(*self)
    }
}

impl ToToml for Vec<String> {
    fn to_toml(&self) -> Value {
        Value::Array(self.iter().map(|s| s.as_str()).collect::<Array>())
    }
}

/// A rule's `match`: set exactly one (the dialplan says which is missing
/// or doubled).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RuleMatch {
    #[serde(default)]
    pub exact: Option<String>,
    #[serde(default)]
    pub prefix: Option<String>,
    #[serde(default)]
    pub regex: Option<String>,
}

impl ToToml for RuleMatch {
    fn to_toml(&self) -> Value {
        let mut t = InlineTable::new();
        for (k, v) in [
            ("exact", &self.exact),
            ("prefix", &self.prefix),
            ("regex", &self.regex),
        ] {
            if let Some(v) = v {
                t.insert(k, Value::from(v.as_str()));
            }
        }
        Value::InlineTable(t)
    }
}

/// A body struct whose fields are dialplan fields, in file order.
macro_rules! fields {
    ($(#[$m:meta])* $name:ident { $($f:ident: $ty:ty),* $(,)? } $(extra { $($x:ident: $xty:ty),* })?) => {
        $(#[$m])*
        #[derive(Debug, Clone, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $(
                #[serde(default, deserialize_with = "field")]
                pub $f: Field<$ty>,
            )*
            $($(
                #[serde(default)]
                pub $x: Option<$xty>,
            )*)?
        }

        impl $name {
            fn entries(&self) -> Vec<(&'static str, Field<Value>)> {
                vec![$((
                    // `r#match` is the file's `match`.
                    stringify!($f).trim_start_matches("r#"),
                    self.$f.as_ref().map(|o| o.as_ref().map(ToToml::to_toml)),
                )),*]
            }
        }
    };
}

fields!(
    /// A meeting's fields (`[[meeting]]` in the dialplan).
    MeetingFields {
        number: String,
        name: String,
        aliases: Vec<String>,
        unit: String,
        classification: String,
        record: bool,
        max_participants: i64,
    }
);

fields!(
    /// A trunk's fields (`[[trunk]]` in the dialplan).
    TrunkFields {
        name: String,
        uri: String,
        acl: Vec<String>,
        username: String,
        password: String,
        unit: String,
        kind: String,
        inbound_numbers: Vec<String>,
        outbound_numbers: Vec<String>,
        caller_id: String,
    }
);

fields!(
    /// A rule's fields (`[[rule]]` in the dialplan), and where it goes in
    /// the ordered list: `position` counts from 0 over every rule, as GET
    /// /rules shows it (absent: the end on create, unchanged on update).
    RuleFields {
        name: String,
        r#match: RuleMatch,
        from_unit: String,
        from_trunk: String,
        action: String,
        target: String,
        trunk: String,
        rewrite: String,
        strip: i64,
        prepend: String,
        uri: String,
        status: i64,
        reason: String,
        caller_id: String,
        encryption: String,
        record: bool,
        max_duration_secs: i64,
        time: Vec<String>,
    }
    extra { position: usize }
);

/// What a per-object write did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ObjectChange<T> {
    /// The dialplan version now current.
    pub version: i64,
    /// The version the change was made on.
    pub previous: Option<i64>,
    /// `false`: the change left the text as it was; nothing stored.
    pub created: bool,
    /// The object as GET shows it now (`null` after a delete).
    pub object: Option<T>,
}

/// The kinds of dialplan objects, as the file names them.
#[derive(Clone, Copy)]
struct Kind {
    /// The array of tables (`meeting`).
    table: &'static str,
    /// The identifying field (`number`).
    key: &'static str,
    /// The owning unit's field.
    owner: &'static str,
}

const MEETING: Kind = Kind {
    table: "meeting",
    key: "number",
    owner: "unit",
};
const TRUNK: Kind = Kind {
    table: "trunk",
    key: "name",
    owner: "unit",
};
const RULE: Kind = Kind {
    table: "rule",
    key: "name",
    owner: "from_unit",
};

/// One write: on an existing object (`id`, its owner) or a new one.
struct Edit<'a> {
    kind: Kind,
    existing: Option<(String, Option<String>)>,
    entries: Vec<(&'static str, Field<Value>)>,
    delete: bool,
    position: Option<usize>,
    actor: &'a Actor,
}

impl<'a> Edit<'a> {
    /// A create (`existing` none) or an update of the body's fields.
    fn put(
        kind: Kind,
        existing: Option<(String, Option<String>)>,
        entries: Vec<(&'static str, Field<Value>)>,
        position: Option<usize>,
        actor: &'a Actor,
    ) -> Edit<'a> {
        Edit {
            kind,
            existing,
            entries,
            delete: false,
            position,
            actor,
        }
    }
}

// Object writes are serialised with each other, so two of them cannot both
// edit the same base version and the second silently undo the first.
static EDITS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn writes_objects(actor: &Actor) -> Result<(), AdminError> {
    if matches!(actor.role, Role::CityAdmin | Role::UnitAdmin) {
        Ok(())
    } else {
        Err(AdminError::Forbidden(format!(
            "{} ({}) may not change meetings, trunks or rules: city-admins and unit-admins may",
            actor.user, actor.role
        )))
    }
}

fn as_str(item: Option<&Item>) -> Option<&str> {
    item.and_then(|i| i.as_str())
}

/// A table as JSON for the audit row; a trunk's password is not kept.
fn table_json(t: &Table) -> serde_json::Value {
    fn value(v: &Value) -> serde_json::Value {
        match v {
            Value::String(s) => serde_json::Value::from(s.value().as_str()),
            Value::Integer(i) => serde_json::Value::from(*i.value()),
            Value::Float(f) => serde_json::Value::from(*f.value()),
            Value::Boolean(b) => serde_json::Value::from(*b.value()),
            Value::Datetime(d) => serde_json::Value::from(d.value().to_string()),
            Value::Array(a) => a.iter().map(value).collect(),
            Value::InlineTable(t) => t.iter().map(|(k, v)| (k.to_string(), value(v))).collect(),
        }
    }
    t.iter()
        .filter_map(|(k, i)| {
            let v = i.as_value()?;
            Some((
                k.to_string(),
                if k == "password" {
                    serde_json::Value::from("***")
                } else {
                    value(v)
                },
            ))
        })
        .collect()
}

/// Moves `table` to `index` of `arr` (the end when `None` or past it).
/// The file order is the rules' order: a table's place in the text follows
/// its document position, so the new one takes the position of the table
/// it goes before (ties keep array order).
fn insert_at(arr: &mut ArrayOfTables, index: Option<usize>, mut table: Table) {
    let mut all: Vec<Table> = arr.iter().cloned().collect();
    let at = index.unwrap_or(all.len()).min(all.len());
    match all.get(at).and_then(|t| t.position()) {
        Some(p) => table.set_position(p),
        None => {
            if let Some(p) = all.last().and_then(|t| t.position()) {
                table.set_position(p);
            }
        }
    }
    all.insert(at, table);
    arr.clear();
    for t in all {
        arr.push(t);
    }
}

/// The problems of the edited dialplan; those of the edited entry name
/// the body's field.
fn invalid(errors: &[DialplanError], table: &str, index: usize) -> AdminError {
    let own = format!("{table}[{index}]");
    let mine: Vec<&DialplanError> = errors
        .iter()
        .filter(|e| e.field == own || e.field.starts_with(&format!("{own}.")))
        .collect();
    match mine.first() {
        Some(first) => {
            let field = match first.field.strip_prefix(&format!("{own}.")) {
                Some(f) => f.to_string(),
                None => first
                    .message
                    .strip_prefix("missing field `")
                    .and_then(|m| m.split('`').next())
                    .unwrap_or(table)
                    .to_string(),
            };
            AdminError::invalid(
                field,
                mine.iter()
                    .map(|e| e.message.as_str())
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        }
        None => AdminError::DialplanInvalid(errors.iter().map(DialplanIssue::from).collect()),
    }
}

/// A trunk's ACL names the sources recognised as that trunk without
/// authentication: an administrator of part of the network may not claim
/// sources that a trunk outside its subtree already answers for.
fn acl_stays_within(
    dp: &Dialplan,
    seen: &Option<std::collections::HashSet<String>>,
    name: &str,
) -> Result<(), AdminError> {
    let Some(mine) = dp.trunk(name) else {
        return Ok(());
    };
    for c in &mine.acl {
        let overlaps = dp
            .trunks()
            .iter()
            .filter(|t| t.name != name && !visible_opt(seen, t.unit.as_deref()))
            .flat_map(|t| t.acl.iter())
            .any(|o| {
                // Two blocks overlap when the wider one holds the other's address.
                let (wide, narrow) = if o.prefix_len <= c.prefix_len {
                    (o, c)
                } else {
                    (c, o)
                };
                wide.contains(narrow.addr)
            });
        if overlaps {
            return Err(AdminError::invalid(
                "acl",
                format!("{c} overlaps the ACL of a trunk outside your subtree"),
            ));
        }
    }
    Ok(())
}

impl Admin {
    /// Applies one edit to the current version and stores the result;
    /// the object's id after the change (`None`: deleted).
    async fn edit_object(&self, e: Edit<'_>) -> Result<(i64, Option<i64>, bool), AdminError> {
        let _serial = EDITS.lock().await;
        let (version, _) = self.current_dialplan().await?;
        let seen = self.visible_codes(e.actor).await?;
        let what = e.kind.table;
        if let Some((id, owner)) = &e.existing {
            if !visible_opt(&seen, owner.as_deref()) {
                return Err(AdminError::NotFound(format!("{what} {id} not found")));
            }
        }
        // The owner after the change must be in the subtree too.
        let new_owner = e
            .entries
            .iter()
            .find(|(k, _)| *k == e.kind.owner)
            .and_then(|(_, v)| v.clone());
        let owner_after: Option<String> = match &new_owner {
            Some(v) => v.as_ref().and_then(|v| v.as_str().map(str::to_string)),
            None => e.existing.as_ref().and_then(|(_, o)| o.clone()),
        };
        if e.existing.is_none() || new_owner.is_some() {
            let visible = match &owner_after {
                Some(code) => visible_opt(&seen, Some(code)),
                None => seen.is_none(),
            };
            if !visible {
                return Err(match owner_after {
                    Some(code) => AdminError::NotFound(format!("unit {code} not found")),
                    None => AdminError::invalid(
                        e.kind.owner,
                        format!(
                            "required: a {what} without one belongs to the whole network, outside {}'s subtree",
                            e.actor.user
                        ),
                    ),
                });
            }
        }
        writes_objects(e.actor)?;

        let old = self.version_source(version).await?;
        let mut doc: DocumentMut = old.source.parse().map_err(|err: toml_edit::TomlError| {
            AdminError::Conflict(format!("the current dialplan does not parse: {err}"))
        })?;
        let root = doc.as_table_mut();
        if root.get(what).is_none() {
            root.insert(what, Item::ArrayOfTables(ArrayOfTables::new()));
        }
        let arr = root
            .get_mut(what)
            .and_then(Item::as_array_of_tables_mut)
            .ok_or_else(|| {
                AdminError::Conflict(format!(
                    "the dialplan writes its {what}s as an inline array; change it as a whole version"
                ))
            })?;
        let index = match &e.existing {
            Some((id, _)) => Some(
                arr.iter()
                    .position(|t| as_str(t.get(e.kind.key)) == Some(id.as_str()))
                    .ok_or_else(|| AdminError::NotFound(format!("{what} {id} not found")))?,
            ),
            None => None,
        };
        let before = index.and_then(|i| arr.get(i)).map(table_json);
        let mut table = match index {
            Some(i) => {
                let t = arr.get(i).cloned().unwrap_or_default();
                arr.remove(i);
                t
            }
            None => {
                let mut t = Table::new();
                t.decor_mut().set_prefix("\n");
                t
            }
        };
        let after = if e.delete {
            None
        } else {
            for (k, v) in &e.entries {
                match v {
                    None => {}
                    Some(None) => {
                        table.remove(k);
                    }
                    Some(Some(new)) => match table.get_mut(k).and_then(Item::as_value_mut) {
                        // The key's comments stay where they were.
                        Some(cur) => {
                            let decor = cur.decor().clone();
                            *cur = new.clone();
                            *cur.decor_mut() = decor;
                        }
                        None => {
                            table.insert(k, Item::Value(new.clone()));
                        }
                    },
                }
            }
            let at = e.position.or(index);
            let after = table_json(&table);
            insert_at(arr, at, table);
            Some((after, at.unwrap_or(arr.len() - 1).min(arr.len() - 1)))
        };
        let source = doc.to_string();
        let dp = match Dialplan::parse(&source, &old.version.file_name) {
            Ok(dp) => dp,
            Err(errors) => {
                return Err(match &after {
                    Some((_, at)) => invalid(&errors, what, *at),
                    None => AdminError::DialplanInvalid(
                        errors.iter().map(DialplanIssue::from).collect(),
                    ),
                })
            }
        };
        let id_after = after.as_ref().and_then(|(a, _)| a.get(e.kind.key).cloned());
        if e.kind.table == TRUNK.table && seen.is_some() {
            if let Some(name) = id_after.as_ref().and_then(|v| v.as_str()) {
                acl_stays_within(&dp, &seen, name)?;
            }
        }
        let action = format!(
            "{what}.{}",
            match (&e.existing, e.delete) {
                (None, _) => "create",
                (Some(_), false) => "update",
                (Some(_), true) => "delete",
            }
        );
        let detail = serde_json::json!({
            "object": what,
            "id": id_after.or_else(|| e.existing.as_ref().map(|(id, _)| id.clone().into())),
            "object_before": before,
            "object_after": after.map(|(a, _)| a),
        });
        // The owner's subtree sees the row (as for endpoints); the old
        // owner's when the object left it or was deleted.
        let unit = owner_after
            .as_deref()
            .or(e.existing.as_ref().and_then(|(_, o)| o.as_deref()));
        let audit = self.version_audit(e.actor, &action, detail, unit);
        let change = self
            .store_version(&dp, &source, &old.version.file_name, audit)
            .await?;
        if change.created && change.previous != Some(version) {
            tracing::warn!(
                base = version,
                previous = ?change.previous,
                "a dialplan object write was stored over a version applied meanwhile"
            );
        }
        Ok((
            change.version.version,
            if change.created {
                change.previous
            } else {
                Some(version)
            },
            change.created,
        ))
    }

    fn change<T>(&self, done: (i64, Option<i64>, bool), object: Option<T>) -> ObjectChange<T> {
        ObjectChange {
            version: done.0,
            previous: done.1,
            created: done.2,
            object,
        }
    }

    /// The meeting `number` (or alias) names, with its unit.
    async fn meeting_owner(&self, number: &str) -> Result<(String, Option<String>), AdminError> {
        let (_, dp) = self.current_dialplan().await?;
        dp.meeting_by_user(number)
            .map(|m| (m.number.clone(), Some(m.unit.clone())))
            .ok_or_else(|| AdminError::NotFound(format!("meeting {number} not found")))
    }

    async fn trunk_owner(&self, name: &str) -> Result<(String, Option<String>), AdminError> {
        let (_, dp) = self.current_dialplan().await?;
        dp.trunk(name)
            .map(|t| (t.name.clone(), t.unit.clone()))
            .ok_or_else(|| AdminError::NotFound(format!("trunk {name} not found")))
    }

    async fn rule_owner(&self, name: &str) -> Result<(String, Option<String>), AdminError> {
        let (_, dp) = self.current_dialplan().await?;
        dp.rules()
            .iter()
            .find(|r| r.name == name)
            .map(|r| (r.name.clone(), r.from_unit.clone()))
            .ok_or_else(|| AdminError::NotFound(format!("rule {name} not found")))
    }

    async fn trunk_view(&self, actor: &Actor, name: &str) -> Result<TrunkView, AdminError> {
        self.list_trunks(actor)
            .await?
            .into_iter()
            .find(|t| t.name == name)
            .ok_or_else(|| AdminError::NotFound(format!("trunk {name} not found")))
    }

    async fn rule_view(&self, actor: &Actor, name: &str) -> Result<RuleView, AdminError> {
        self.list_rules(actor)
            .await?
            .into_iter()
            .find(|r| r.name == name)
            .ok_or_else(|| AdminError::NotFound(format!("rule {name} not found")))
    }

    /// Adds a meeting to the current dialplan (audited `meeting.create`).
    pub async fn create_meeting(
        &self,
        actor: &Actor,
        body: MeetingFields,
    ) -> Result<ObjectChange<MeetingView>, AdminError> {
        let number = body.number.clone().flatten();
        let done = self
            .edit_object(Edit::put(MEETING, None, body.entries(), None, actor))
            .await?;
        let view = self
            .get_meeting(actor, number.as_deref().unwrap_or(""))
            .await?;
        Ok(self.change(done, Some(view)))
    }

    /// Changes the fields of a meeting in the body (`meeting.update`).
    pub async fn update_meeting(
        &self,
        actor: &Actor,
        number: &str,
        body: MeetingFields,
    ) -> Result<ObjectChange<MeetingView>, AdminError> {
        let existing = self.meeting_owner(number).await?;
        let now = body.number.clone().flatten().unwrap_or(existing.0.clone());
        let done = self
            .edit_object(Edit::put(
                MEETING,
                Some(existing),
                body.entries(),
                None,
                actor,
            ))
            .await?;
        let view = self.get_meeting(actor, &now).await?;
        Ok(self.change(done, Some(view)))
    }

    /// Removes a meeting (`meeting.delete`).
    pub async fn delete_meeting(
        &self,
        actor: &Actor,
        number: &str,
    ) -> Result<ObjectChange<MeetingView>, AdminError> {
        let existing = self.meeting_owner(number).await?;
        let done = self.delete_object(MEETING, existing, actor).await?;
        Ok(self.change(done, None))
    }

    async fn delete_object(
        &self,
        kind: Kind,
        existing: (String, Option<String>),
        actor: &Actor,
    ) -> Result<(i64, Option<i64>, bool), AdminError> {
        self.edit_object(Edit {
            kind,
            existing: Some(existing),
            entries: Vec::new(),
            delete: true,
            position: None,
            actor,
        })
        .await
    }

    /// Adds a trunk (`trunk.create`).
    pub async fn create_trunk(
        &self,
        actor: &Actor,
        body: TrunkFields,
    ) -> Result<ObjectChange<TrunkView>, AdminError> {
        let name = body.name.clone().flatten().unwrap_or_default();
        let done = self
            .edit_object(Edit::put(TRUNK, None, body.entries(), None, actor))
            .await?;
        let view = self.trunk_view(actor, &name).await?;
        Ok(self.change(done, Some(view)))
    }

    /// Changes a trunk (`trunk.update`).
    pub async fn update_trunk(
        &self,
        actor: &Actor,
        name: &str,
        body: TrunkFields,
    ) -> Result<ObjectChange<TrunkView>, AdminError> {
        let existing = self.trunk_owner(name).await?;
        let now = body.name.clone().flatten().unwrap_or(existing.0.clone());
        let done = self
            .edit_object(Edit::put(
                TRUNK,
                Some(existing),
                body.entries(),
                None,
                actor,
            ))
            .await?;
        let view = self.trunk_view(actor, &now).await?;
        Ok(self.change(done, Some(view)))
    }

    /// Removes a trunk (`trunk.delete`); 422 while rules still use it.
    pub async fn delete_trunk(
        &self,
        actor: &Actor,
        name: &str,
    ) -> Result<ObjectChange<TrunkView>, AdminError> {
        let existing = self.trunk_owner(name).await?;
        let done = self.delete_object(TRUNK, existing, actor).await?;
        Ok(self.change(done, None))
    }

    /// Adds a rule at `position` (default: the end) (`rule.create`).
    pub async fn create_rule(
        &self,
        actor: &Actor,
        body: RuleFields,
    ) -> Result<ObjectChange<RuleView>, AdminError> {
        let name = body.name.clone().flatten().unwrap_or_default();
        let done = self
            .edit_object(Edit::put(RULE, None, body.entries(), body.position, actor))
            .await?;
        let view = self.rule_view(actor, &name).await?;
        Ok(self.change(done, Some(view)))
    }

    /// Changes a rule, and moves it when `position` is given (`rule.update`).
    pub async fn update_rule(
        &self,
        actor: &Actor,
        name: &str,
        body: RuleFields,
    ) -> Result<ObjectChange<RuleView>, AdminError> {
        let existing = self.rule_owner(name).await?;
        let now = body.name.clone().flatten().unwrap_or(existing.0.clone());
        let done = self
            .edit_object(Edit::put(
                RULE,
                Some(existing),
                body.entries(),
                body.position,
                actor,
            ))
            .await?;
        let view = self.rule_view(actor, &now).await?;
        Ok(self.change(done, Some(view)))
    }

    /// Removes a rule (`rule.delete`).
    pub async fn delete_rule(
        &self,
        actor: &Actor,
        name: &str,
    ) -> Result<ObjectChange<RuleView>, AdminError> {
        let existing = self.rule_owner(name).await?;
        let done = self.delete_object(RULE, existing, actor).await?;
        Ok(self.change(done, None))
    }
}

// ------------------------------------------------------------- handlers

/// A path segment, refused as problem details.
pub(crate) struct Key(String);

impl<S: Send + Sync> FromRequestParts<S> for Key {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        Path::<String>::from_request_parts(parts, state)
            .await
            .map(|Path(p)| Key(p))
            .map_err(|e| Problem::new(e.status(), e.body_text()))
    }
}

type ApiResult<T> = Result<T, Problem>;

fn created<T: Serialize>(collection: &str, id: &str, change: ObjectChange<T>) -> Response {
    let status = if change.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut resp = (status, Json(change)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/{collection}/{id}")) {
        resp.headers_mut().insert(LOCATION, v);
    }
    resp
}

pub(crate) async fn create_meeting(
    State(admin): State<Admin>,
    Authed(actor): Authed,
    ApiJson(body): ApiJson<MeetingFields>,
) -> ApiResult<Response> {
    let change = admin.create_meeting(&actor, body).await?;
    let id = change
        .object
        .as_ref()
        .map(|m| m.number.clone())
        .unwrap_or_default();
    Ok(created("meetings", &id, change))
}

pub(crate) async fn update_meeting(
    State(admin): State<Admin>,
    Authed(actor): Authed,
    Key(number): Key,
    ApiJson(body): ApiJson<MeetingFields>,
) -> ApiResult<Response> {
    Ok(Json(admin.update_meeting(&actor, &number, body).await?).into_response())
}

pub(crate) async fn delete_meeting(
    State(admin): State<Admin>,
    Authed(actor): Authed,
    Key(number): Key,
) -> ApiResult<Response> {
    Ok(Json(admin.delete_meeting(&actor, &number).await?).into_response())
}

pub(crate) async fn create_trunk(
    State(admin): State<Admin>,
    Authed(actor): Authed,
    ApiJson(body): ApiJson<TrunkFields>,
) -> ApiResult<Response> {
    let change = admin.create_trunk(&actor, body).await?;
    let id = change
        .object
        .as_ref()
        .map(|t| t.name.clone())
        .unwrap_or_default();
    Ok(created("trunks", &id, change))
}

pub(crate) async fn update_trunk(
    State(admin): State<Admin>,
    Authed(actor): Authed,
    Key(name): Key,
    ApiJson(body): ApiJson<TrunkFields>,
) -> ApiResult<Response> {
    Ok(Json(admin.update_trunk(&actor, &name, body).await?).into_response())
}

pub(crate) async fn delete_trunk(
    State(admin): State<Admin>,
    Authed(actor): Authed,
    Key(name): Key,
) -> ApiResult<Response> {
    Ok(Json(admin.delete_trunk(&actor, &name).await?).into_response())
}

pub(crate) async fn create_rule(
    State(admin): State<Admin>,
    Authed(actor): Authed,
    ApiJson(body): ApiJson<RuleFields>,
) -> ApiResult<Response> {
    let change = admin.create_rule(&actor, body).await?;
    let id = change
        .object
        .as_ref()
        .map(|r| r.name.clone())
        .unwrap_or_default();
    Ok(created("rules", &id, change))
}

pub(crate) async fn update_rule(
    State(admin): State<Admin>,
    Authed(actor): Authed,
    Key(name): Key,
    ApiJson(body): ApiJson<RuleFields>,
) -> ApiResult<Response> {
    Ok(Json(admin.update_rule(&actor, &name, body).await?).into_response())
}

pub(crate) async fn delete_rule(
    State(admin): State<Admin>,
    Authed(actor): Authed,
    Key(name): Key,
) -> ApiResult<Response> {
    Ok(Json(admin.delete_rule(&actor, &name).await?).into_response())
}
