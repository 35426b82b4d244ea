//! The REST API under `/api/v1/`: JSON in and out, bearer tokens from
//! `POST /api/v1/session`, and every error as RFC 9457 problem details
//! (`application/problem+json`), including malformed bodies, unknown paths
//! and wrong methods.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::model::*;
use crate::ops::Admin;
use crate::{objects, AdminError, AdminUnit, Structure, UnitRef};

mod strict;

/// The OpenAPI 3.1 description of this API, served at
/// `/api/v1/openapi.json`.
pub const OPENAPI_JSON: &str = include_str!("openapi.json");

/// An RFC 9457 problem: `type` stays `about:blank`, so `title` is the
/// status's phrase and `detail` says what went wrong with this request.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub problem_type: &'static str,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The request field at fault, when there is one (an extension member).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Every problem of an invalid dialplan, with file, line, column and
    /// field (an extension member).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<crate::DialplanIssue>>,
}

impl Problem {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Problem {
        Problem {
            problem_type: "about:blank",
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            detail: detail.into(),
            field: None,
            errors: None,
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut resp = (status, body).into_response();
        resp.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"gateway-admin\""),
            );
        }
        resp
    }
}

impl From<AdminError> for Problem {
    fn from(e: AdminError) -> Problem {
        match e {
            AdminError::Unauthorized(d) => Problem::new(StatusCode::UNAUTHORIZED, d),
            AdminError::NotFound(d) => Problem::new(StatusCode::NOT_FOUND, d),
            AdminError::Forbidden(d) => Problem::new(StatusCode::FORBIDDEN, d),
            AdminError::Conflict(d) => Problem::new(StatusCode::CONFLICT, d),
            AdminError::Invalid { field, detail } => Problem {
                field: Some(field.clone()),
                ..Problem::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("invalid {field}: {detail}"),
                )
            },
            AdminError::DialplanInvalid(issues) => {
                let mut detail = format!("the dialplan is invalid ({} problem(s)):", issues.len());
                for i in issues.iter().take(20) {
                    detail.push('\n');
                    detail.push_str(&i.text);
                }
                Problem {
                    errors: Some(issues),
                    ..Problem::new(StatusCode::UNPROCESSABLE_ENTITY, detail)
                }
            }
            AdminError::Store(e) => {
                tracing::error!(error = %e, "admin API: store failure");
                Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the gateway's database failed to answer; the gateway log has the cause",
                )
            }
        }
    }
}

type ApiResult<T> = Result<T, Problem>;

/// A JSON body, refused as problem details when it is not JSON, does not
/// parse or does not fit the expected shape (objects only where an object
/// is expected, no unknown fields: see `strict`). An empty body is `{}`.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        let json_type = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                let mime = v
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                mime == "application/json" || mime.ends_with("+json")
            });
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| Problem::new(e.status(), e.body_text()))?;
        let bytes = if bytes.iter().all(u8::is_ascii_whitespace) {
            Bytes::from_static(b"{}")
        } else {
            if json_type != Some(true) {
                return Err(Problem::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "the request body must be JSON (Content-Type: application/json)",
                ));
            }
            bytes
        };
        // Every body is an object; serde would also read a derived struct
        // from an array, field by field in declaration order, so that
        // `[null, null]` would clear the second field of a PATCH.
        let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
        if first != Some(&b'{') {
            return Err(
                match serde_json::from_slice::<serde::de::IgnoredAny>(&bytes) {
                    Err(e) => {
                        Problem::new(StatusCode::BAD_REQUEST, format!("invalid JSON body: {e}"))
                    }
                    Ok(_) => Problem::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "invalid JSON body: the body must be a JSON object",
                    ),
                },
            );
        }
        strict::from_slice(&bytes)
            .map(ApiJson)
            .map_err(body_problem)
    }
}

/// A body that parsed as JSON but does not fit is 422, naming the field at
/// fault; one that is not JSON is 400.
fn body_problem(e: strict::BodyError) -> Problem {
    let strict::BodyError {
        error,
        field,
        shape,
    } = e;
    if !shape {
        return Problem::new(
            StatusCode::BAD_REQUEST,
            format!("invalid JSON body: {error}"),
        );
    }
    let what = if matches!(error.classify(), serde_json::error::Category::Data) {
        error.to_string()
    } else {
        format!("not a value of the expected kind ({error})")
    };
    let detail = match &field {
        Some(f) => format!("invalid JSON body at {f}: {what}"),
        None => format!("invalid JSON body: {what}"),
    };
    Problem {
        field,
        ..Problem::new(StatusCode::UNPROCESSABLE_ENTITY, detail)
    }
}

/// Query parameters, refused as problem details.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        Query::<T>::try_from_uri(&parts.uri)
            .map(|Query(q)| ApiQuery(q))
            .map_err(|e| Problem::new(StatusCode::BAD_REQUEST, e.body_text()))
    }
}

struct ApiPath<T>(T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(p)| ApiPath(p))
            .map_err(|e| Problem::new(e.status(), e.body_text()))
    }
}

fn bearer(headers: &HeaderMap) -> Result<&str, Problem> {
    let value = headers
        .get(AUTHORIZATION)
        .ok_or_else(|| {
            Problem::new(
                StatusCode::UNAUTHORIZED,
                "missing Authorization: Bearer token (POST /api/v1/session to get one)",
            )
        })?
        .to_str()
        .map_err(|_| Problem::new(StatusCode::UNAUTHORIZED, "malformed Authorization header"))?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => Ok(token.trim()),
        _ => Err(Problem::new(
            StatusCode::UNAUTHORIZED,
            "the Authorization header must be \"Bearer TOKEN\"",
        )),
    }
}

/// The authenticated actor of a request.
pub struct Authed(pub Actor);

impl FromRequestParts<Admin> for Authed {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, admin: &Admin) -> Result<Self, Problem> {
        let token = bearer(&parts.headers)?;
        Ok(Authed(admin.authenticate(token).await?))
    }
}

/// The API under `/api/v1/`, with `admin` as its state. Mount it on the
/// admin listener (`Router::merge`); it answers problem details for any
/// path under `/api/v1/` it does not know.
pub fn router(admin: Admin) -> Router {
    let api = Router::new()
        .route("/openapi.json", get(openapi))
        .route("/session", post(login).delete(logout))
        .route("/units", get(list_units))
        .route("/units/{structure}/{code}", get(get_unit))
        .route("/units/{structure}/{code}/subtree", get(unit_subtree))
        .route("/endpoints", get(list_endpoints).post(create_endpoint))
        .route(
            "/endpoints/{id}",
            get(get_endpoint)
                .patch(update_endpoint)
                .delete(delete_endpoint),
        )
        .route("/vetting", get(vetting_queue))
        .route("/vetting/{id}/approve", post(approve))
        .route("/vetting/{id}/suspend", post(suspend))
        .route("/users", get(list_users).post(create_user))
        .route("/users/{name}", axum::routing::patch(update_user))
        .route("/audit", get(list_audit))
        .route(
            "/versions",
            get(list_versions).post(upload_version).layer(
                // A whole city's dialplan is larger than the default limit.
                axum::extract::DefaultBodyLimit::max(crate::MAX_DIALPLAN_BYTES),
            ),
        )
        .route("/versions/{n}", get(get_version))
        .route("/versions/{n}/diff/{m}", get(diff_versions))
        .route("/versions/{n}/restore", post(restore_version))
        .route(
            "/meetings",
            get(list_meetings).post(objects::create_meeting),
        )
        .route(
            "/meetings/{number}",
            get(get_meeting)
                .patch(objects::update_meeting)
                .delete(objects::delete_meeting),
        )
        .route("/trunks", get(list_trunks).post(objects::create_trunk))
        .route(
            "/trunks/{name}",
            axum::routing::patch(objects::update_trunk).delete(objects::delete_trunk),
        )
        .route("/rules", get(list_rules).post(objects::create_rule))
        .route(
            "/rules/{name}",
            axum::routing::patch(objects::update_rule).delete(objects::delete_rule),
        )
        .route("/route", post(try_route))
        // Before the fallbacks, which apply to the routes present when set.
        .merge(crate::recordings::routes())
        .fallback(unknown_path)
        .method_not_allowed_fallback(wrong_method)
        .with_state(admin);
    Router::new()
        .nest("/api/v1", api)
        .merge(crate::ui::router())
}

async fn unknown_path() -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "no such resource; /api/v1/openapi.json lists what exists",
    )
}

async fn wrong_method() -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "this resource does not support the method; /api/v1/openapi.json lists what it does",
    )
}

async fn openapi() -> Response {
    (
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        OPENAPI_JSON,
    )
        .into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Login {
    user: String,
    password: String,
}

async fn login(State(admin): State<Admin>, ApiJson(l): ApiJson<Login>) -> ApiResult<Response> {
    let token = admin.login(&l.user, &l.password).await?;
    Ok((StatusCode::CREATED, Json(token)).into_response())
}

async fn logout(State(admin): State<Admin>, headers: HeaderMap) -> ApiResult<StatusCode> {
    let token = bearer(&headers)?;
    admin.authenticate(token).await?;
    admin.logout(token).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Clone, Serialize)]
struct UnitNode {
    #[serde(flatten)]
    unit: AdminUnit,
    children: Vec<UnitNode>,
}

/// Nests a parents-first list; units whose parent is not in the list are
/// roots (the actor's scope, or each structure's city).
fn tree(units: Vec<AdminUnit>) -> Vec<UnitNode> {
    let present: std::collections::HashSet<(Structure, String)> = units
        .iter()
        .map(|u| (u.structure, u.code.clone()))
        .collect();
    let mut roots = Vec::new();
    let mut by_parent: HashMap<(Structure, String), Vec<AdminUnit>> = HashMap::new();
    for u in units {
        match &u.parent_code {
            Some(p) if present.contains(&(u.structure, p.clone())) => by_parent
                .entry((u.structure, p.clone()))
                .or_default()
                .push(u),
            _ => roots.push(u),
        }
    }
    fn build(
        u: AdminUnit,
        by_parent: &mut HashMap<(Structure, String), Vec<AdminUnit>>,
    ) -> UnitNode {
        let kids = by_parent
            .remove(&(u.structure, u.code.clone()))
            .unwrap_or_default();
        UnitNode {
            children: kids.into_iter().map(|k| build(k, by_parent)).collect(),
            unit: u,
        }
    }
    roots
        .into_iter()
        .map(|r| build(r, &mut by_parent))
        .collect()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UnitsQuery {
    #[serde(default)]
    structure: Option<Structure>,
    /// `true`: a flat list (parents first) instead of a tree.
    #[serde(default)]
    flat: Option<bool>,
}

async fn list_units(
    State(admin): State<Admin>,
    Authed(actor): Authed,
    ApiQuery(q): ApiQuery<UnitsQuery>,
) -> ApiResult<Response> {
    let units = admin.list_units(&actor, q.structure).await?;
    Ok(if q.flat == Some(true) {
        Json(units).into_response()
    } else {
        Json(tree(units)).into_response()
    })
}

fn unit_ref(structure: &str, code: &str) -> Result<UnitRef, Problem> {
    let structure = Structure::parse(structure).ok_or_else(|| {
        Problem::new(
            StatusCode::NOT_FOUND,
            format!("no unit structure {structure:?} (there are 2024 and 2025)"),
        )
    })?;
    Ok(UnitRef::new(structure, code))
}

async fn get_unit(
    State(admin): State<Admin>,
    Authed(actor): Authed,
    ApiPath((structure, code)): ApiPath<(String, String)>,
) -> ApiResult<Response> {
    let r = unit_ref(&structure, &code)?;
    Ok(Json(admin.get_unit(&actor, &r).await?).into_response())
}

async fn unit_subtree(
    State(admin): State<Admin>,
    Authed(actor): Authed,
    ApiPath((structure, code)): ApiPath<(String, String)>,
) -> ApiResult<Response> {
    let r = unit_ref(&structure, &code)?;
    let units = admin.unit_subtree(&actor, &r).await?;
    Ok(Json(tree(units)).into_response())
}

async fn list_endpoints(
    State(admin): State<Admin>,
    Authed(actor): Authed,
    ApiQuery(q): ApiQuery<EndpointQuery>,
) -> ApiResult<Response> {
    Ok(Json(admin.list_endpoints(&actor, &q).await?).into_response())
}

async fn get_endpoint(
    State(admin): State<Admin>,
    Authed(actor): Authed,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Response> {
    Ok(Json(admin.get_endpoint(&actor, &id).await?).into_response())
}

async fn create_endpoint(
    State(admin): State<Admin>,
    Authed(actor): Authed,
    ApiJson(new): ApiJson<NewEndpoint>,
) -> ApiResult<Response> {
    let view = admin.create_endpoint(&actor, new).await?;
    let location = format!("/api/v1/endpoints/{}", view.id);
    let mut resp = (StatusCode::CREATED, Json(view)).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(LOCATION, v);
    }
    Ok(resp)
}

async fn update_endpoint(
    State(admin): State<Admin>,
    Authed(actor): Authed,
    ApiPath(id): ApiPath<String>,
    ApiJson(patch): ApiJson<EndpointPatch>,
) -> ApiResult<Response> {
    Ok(Json(admin.update_endpoint(&actor, &id, patch).await?).into_response())
}

async fn delete_endpoint(
    State(admin): State<Admin>,
    Authed(actor): Authed,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    admin.delete_endpoint(&actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn vetting_queue(State(admin): State<Admin>, Authed(actor): Authed) -> ApiResult<Response> {
    Ok(Json(admin.vetting_queue(&actor).await?).into_response())
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Decision {
    #[serde(default)]
    reason: Option<String>,
}

async fn approve(
    State(admin): State<Admin>,
    Authed(actor): Authed,
    ApiPath(id): ApiPath<String>,
    ApiJson(d): ApiJson<Decision>,
) -> ApiResult<Response> {
    Ok(Json(admin.approve(&actor, &id, d.reason.as_deref()).await?).into_response())
}

async fn suspend(
    State(admin): State<Admin>,
    Authed(actor): Authed,
    ApiPath(id): ApiPath<String>,
    ApiJson(d): ApiJson<Decision>,
) -> ApiResult<Response> {
    // A missing reason is refused after the visibility and role checks,
    // so the answer does not depend on the body.
    let view = admin
        .set_vetting(&actor, &id, VettingState::Suspended, d.reason.as_deref())
        .await?;
    Ok(Json(view).into_response())
}

async fn list_users(State(admin): State<Admin>, Authed(actor): Authed) -> ApiResult<Response> {
    Ok(Json(admin.list_users(&actor).await?).into_response())
}

async fn create_user(
    State(admin): State<Admin>,
    Authed(actor): Authed,
    ApiJson(new): ApiJson<NewUser>,
) -> ApiResult<Response> {
    let view = admin.create_user(&actor, new).await?;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

async fn update_user(
    State(admin): State<Admin>,
    Authed(actor): Authed,
    ApiPath(name): ApiPath<String>,
    ApiJson(patch): ApiJson<UserPatch>,
) -> ApiResult<Response> {
    Ok(Json(admin.update_user(&actor, &name, patch).await?).into_response())
}

async fn list_audit(
    State(admin): State<Admin>,
    Authed(actor): Authed,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<Response> {
    Ok(Json(admin.list_audit(&actor, &q).await?).into_response())
}

// ------------------------------------------------------------- dialplan

/// The client asked for `mime` (or something under it) in Accept.
fn accepts(headers: &HeaderMap, mime: &str) -> bool {
    headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',').any(|m| {
                m.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .eq_ignore_ascii_case(mime)
            })
        })
}

fn text_response(content_type: &'static str, body: String) -> Response {
    (
        [(CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body,
    )
        .into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VersionsQuery {
    #[serde(default)]
    limit: Option<i64>,
}

async fn list_versions(
    State(admin): State<Admin>,
    Authed(actor): Authed,
    ApiQuery(q): ApiQuery<VersionsQuery>,
) -> ApiResult<Response> {
    Ok(Json(admin.list_versions(&actor, q.limit).await?).into_response())
}

async fn get_version(
    State(admin): State<Admin>,
    Authed(actor): Authed,
    ApiPath(n): ApiPath<i64>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let v = admin.get_version(&actor, n).await?;
    Ok(if accepts(&headers, "application/toml") {
        text_response("application/toml; charset=utf-8", v.source)
    } else {
        Json(v).into_response()
    })
}

#[derive(Serialize)]
struct DiffView {
    from: i64,
    to: i64,
    diff: String,
}

async fn diff_versions(
    State(admin): State<Admin>,
    Authed(actor): Authed,
    ApiPath((n, m)): ApiPath<(i64, i64)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let diff = admin.diff_versions(&actor, n, m).await?;
    Ok(
        if accepts(&headers, "text/x-diff") || accepts(&headers, "text/plain") {
            text_response("text/x-diff; charset=utf-8", diff)
        } else {
            Json(DiffView {
                from: n,
                to: m,
                diff,
            })
            .into_response()
        },
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UploadQuery {
    #[serde(default)]
    file_name: Option<String>,
    /// Validate and show the diff without storing anything.
    #[serde(default)]
    dry_run: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Upload {
    source: String,
    #[serde(default)]
    file_name: Option<String>,
    #[serde(default)]
    dry_run: Option<bool>,
}

const DEFAULT_UPLOAD_NAME: &str = "dialplan.toml";

/// A dialplan as TOML (`Content-Type: application/toml` or `text/plain`,
/// options in the query) or as JSON `{"source": ..., "file_name": ...}`.
async fn upload_version(
    State(admin): State<Admin>,
    Authed(actor): Authed,
    ApiQuery(q): ApiQuery<UploadQuery>,
    req: Request,
) -> ApiResult<Response> {
    let mime = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    let upload = if matches!(
        mime.as_str(),
        "application/toml" | "text/toml" | "text/x-toml" | "text/plain"
    ) {
        let bytes = Bytes::from_request(req, &())
            .await
            .map_err(|e| Problem::new(e.status(), e.body_text()))?;
        let source = String::from_utf8(bytes.to_vec()).map_err(|_| {
            Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "the dialplan is not UTF-8 text",
            )
        })?;
        Upload {
            source,
            file_name: q.file_name,
            dry_run: q.dry_run,
        }
    } else {
        let ApiJson(u) = ApiJson::<Upload>::from_request(req, &()).await?;
        Upload {
            source: u.source,
            file_name: u.file_name.or(q.file_name),
            dry_run: u.dry_run.or(q.dry_run),
        }
    };
    let file_name = upload.file_name.as_deref().unwrap_or(DEFAULT_UPLOAD_NAME);
    if upload.dry_run == Some(true) {
        let check = admin
            .check_version(&actor, &upload.source, file_name)
            .await?;
        return Ok(Json(check).into_response());
    }
    let change = admin
        .apply_version(&actor, &upload.source, file_name)
        .await?;
    Ok(version_change_response(change))
}

fn version_change_response(change: crate::VersionChange) -> Response {
    if !change.created {
        return Json(change).into_response();
    }
    let location = format!("/api/v1/versions/{}", change.version.version);
    let mut resp = (StatusCode::CREATED, Json(change)).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(LOCATION, v);
    }
    resp
}

async fn restore_version(
    State(admin): State<Admin>,
    Authed(actor): Authed,
    ApiPath(n): ApiPath<i64>,
) -> ApiResult<Response> {
    Ok(version_change_response(
        admin.restore_version(&actor, n).await?,
    ))
}

async fn list_meetings(State(admin): State<Admin>, Authed(actor): Authed) -> ApiResult<Response> {
    Ok(Json(admin.list_meetings(&actor).await?).into_response())
}

async fn get_meeting(
    State(admin): State<Admin>,
    Authed(actor): Authed,
    ApiPath(number): ApiPath<String>,
) -> ApiResult<Response> {
    Ok(Json(admin.get_meeting(&actor, &number).await?).into_response())
}

async fn list_trunks(State(admin): State<Admin>, Authed(actor): Authed) -> ApiResult<Response> {
    Ok(Json(admin.list_trunks(&actor).await?).into_response())
}

async fn list_rules(State(admin): State<Admin>, Authed(actor): Authed) -> ApiResult<Response> {
    Ok(Json(admin.list_rules(&actor).await?).into_response())
}

async fn try_route(
    State(admin): State<Admin>,
    Authed(actor): Authed,
    ApiJson(q): ApiJson<crate::RouteQuery>,
) -> ApiResult<Response> {
    Ok(Json(admin.try_route(&actor, &q).await?).into_response())
}
