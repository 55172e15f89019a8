//! Intent graphs (RFC-0002): child creation, dependencies (version-checked, cycles refused),
//! the relation queries (`children`, `descendants`, `ancestors`, `dependencies`, `dependents`,
//! `ready`, `blocked`) and the graph.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use openintent_types::{AddDependencyRequest, CreateChildIntentRequest, GraphRelation, Intent};
use serde_json::{Value, json};

use super::acl::require_readable_refs;
use super::extract::{JsonBody, Principal, if_match, keyed};
use super::reply::{INTENT_NOT_FOUND, wire};
use super::spec::{Header, Op, Reply, op, reference, request};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::NewIntent;

/// This area's routes, each method behind the API-key check.
pub(super) fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/api/v1/intents/{id}/children", keyed(state, post(create_child).get(children)))
        .route("/api/v1/intents/{id}/dependencies", keyed(state, post(add_dependency).get(dependencies)))
        .route("/api/v1/intents/{id}/dependencies/{dependency_id}", keyed(state, delete(remove_dependency)))
        .route("/api/v1/intents/{id}/descendants", keyed(state, get(descendants)))
        .route("/api/v1/intents/{id}/ancestors", keyed(state, get(ancestors)))
        .route("/api/v1/intents/{id}/dependents", keyed(state, get(dependents)))
        .route("/api/v1/intents/{id}/ready", keyed(state, get(ready)))
        .route("/api/v1/intents/{id}/blocked", keyed(state, get(blocked)))
        .route("/api/v1/intents/{id}/graph", keyed(state, get(graph)))
}

/// An intent with its `ETag: "N"`.
fn intent_response(intent: &Intent) -> Response {
    let mut resp = Json(wire(intent)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", intent.version)) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    resp
}

async fn the_intent(state: &AppState, id: &str) -> ApiResult<Intent> {
    state.store().get_intent(id).await?.ok_or_else(|| ApiError::not_found(INTENT_NOT_FOUND))
}

async fn create_child(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<CreateChildIntentRequest>,
) -> ApiResult<Response> {
    if state.store().get_intent(&id).await?.is_none() {
        return Err(ApiError::not_found("Parent intent not found"));
    }
    let depends_on = body.depends_on.as_deref().unwrap_or_default().iter().map(String::as_str);
    require_readable_refs(&state, principal.as_str(), "Dependency intent", "depends_on", depends_on).await?;
    let new = NewIntent {
        title: body.title,
        description: body.description.unwrap_or_default(),
        created_by: principal.0.clone(),
        parent_id: Some(id),
        depends_on: body.depends_on.unwrap_or_default(),
        constraints: body.constraints.unwrap_or_default(),
        state: body.state.unwrap_or_default(),
        status: Default::default(),
        governance_policy: None,
    };
    let (intent, _event) = state.store().create_intent(new).await?;
    Ok(intent_response(&intent))
}

async fn add_dependency(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<AddDependencyRequest>,
) -> ApiResult<Response> {
    let version = if_match(&headers)?;
    let dependency = [body.dependency_id.as_str()];
    require_readable_refs(&state, principal.as_str(), "Dependency intent", "dependency_id", dependency).await?;
    let (intent, _event) = state.store().add_dependency(&id, &body.dependency_id, version, &principal.0).await?;
    Ok(intent_response(&intent))
}

async fn remove_dependency(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, dependency_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let version = if_match(&headers)?;
    let (intent, _event) = state.store().remove_dependency(&id, &dependency_id, version, &principal.0).await?;
    Ok(intent_response(&intent))
}

/// The relation's answer, leaving out the intents the caller may not read.
async fn envelope(
    state: &AppState,
    reader: &Principal,
    relation: GraphRelation,
    intents: Vec<Intent>,
) -> ApiResult<Json<Value>> {
    let intents = state.store().readable(reader.as_str(), intents).await?;
    Ok(Json(relation.envelope(&intents)))
}

async fn children(State(state): State<AppState>, p: Principal, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    the_intent(&state, &id).await?;
    envelope(&state, &p, GraphRelation::Children, state.store().children(&id).await?).await
}

async fn descendants(State(state): State<AppState>, p: Principal, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    the_intent(&state, &id).await?;
    envelope(&state, &p, GraphRelation::Descendants, state.store().descendants(&id).await?).await
}

async fn ancestors(State(state): State<AppState>, p: Principal, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let intent = the_intent(&state, &id).await?;
    envelope(&state, &p, GraphRelation::Ancestors, state.store().ancestors(&intent).await?).await
}

async fn dependencies(State(state): State<AppState>, p: Principal, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let intent = the_intent(&state, &id).await?;
    envelope(&state, &p, GraphRelation::Dependencies, state.store().dependencies(&intent).await?).await
}

async fn dependents(State(state): State<AppState>, p: Principal, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    the_intent(&state, &id).await?;
    envelope(&state, &p, GraphRelation::Dependents, state.store().dependents(&id).await?).await
}

async fn ready(State(state): State<AppState>, p: Principal, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    the_intent(&state, &id).await?;
    let (ready, _blocked) = state.store().ready_and_blocked(&id).await?;
    envelope(&state, &p, GraphRelation::Ready, ready).await
}

async fn blocked(State(state): State<AppState>, p: Principal, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    the_intent(&state, &id).await?;
    let (_ready, blocked) = state.store().ready_and_blocked(&id).await?;
    envelope(&state, &p, GraphRelation::Blocked, blocked).await
}

async fn graph(State(state): State<AppState>, p: Principal, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let graph =
        state.store().intent_graph(&id, p.as_str()).await?.ok_or_else(|| ApiError::not_found(INTENT_NOT_FOUND))?;
    Ok(Json(wire(&graph)))
}

// ----- OpenAPI ------------------------------------------------------------------------------

fn children_list() -> Value {
    relation_schema("children")
}
fn descendants_list() -> Value {
    relation_schema("descendants")
}
fn ancestors_list() -> Value {
    relation_schema("ancestors")
}
fn dependencies_list() -> Value {
    relation_schema("dependencies")
}
fn dependents_list() -> Value {
    relation_schema("dependents")
}
fn ready_list() -> Value {
    relation_schema("ready")
}
fn blocked_list() -> Value {
    relation_schema("blocked")
}

fn relation_schema(key: &str) -> Value {
    json!({
        "type": "object",
        "properties": {key: {"type": "array", "items": reference("Intent")}},
        "required": [key],
    })
}

/// The operations of this area, for the OpenAPI document.
pub(super) const OPERATIONS: &[Op] = &[
    op("post", "/api/v1/intents/{id}/children", "createChildIntent", "graphs", "Create a child intent")
        .body(request!(CreateChildIntentRequest))
        .reply(Reply::Model("Intent")),
    op("get", "/api/v1/intents/{id}/children", "listChildren", "graphs", "Direct children, in creation order")
        .reply(Reply::Json(children_list)),
    op("post", "/api/v1/intents/{id}/dependencies", "addDependency", "graphs", "Add a dependency (cycles refused)")
        .body(request!(AddDependencyRequest))
        .headers(&[Header::IfMatch])
        .reply(Reply::Model("Intent"))
        .errors(&[400, 409]),
    op("get", "/api/v1/intents/{id}/dependencies", "listDependencies", "graphs", "The intents it depends on")
        .reply(Reply::Json(dependencies_list)),
    op(
        "delete",
        "/api/v1/intents/{id}/dependencies/{dependency_id}",
        "removeDependency",
        "graphs",
        "Remove a dependency",
    )
    .headers(&[Header::IfMatch])
    .reply(Reply::Model("Intent"))
    .errors(&[400, 409]),
    op("get", "/api/v1/intents/{id}/descendants", "listDescendants", "graphs", "Every descendant, depth-first")
        .reply(Reply::Json(descendants_list)),
    op("get", "/api/v1/intents/{id}/ancestors", "listAncestors", "graphs", "The parent first, up to the root")
        .reply(Reply::Json(ancestors_list)),
    op("get", "/api/v1/intents/{id}/dependents", "listDependents", "graphs", "The intents that depend on it")
        .reply(Reply::Json(dependents_list)),
    op(
        "get",
        "/api/v1/intents/{id}/ready",
        "listReadyChildren",
        "graphs",
        "Open children whose dependencies are completed",
    )
    .reply(Reply::Json(ready_list)),
    op("get", "/api/v1/intents/{id}/blocked", "listBlockedChildren", "graphs", "Open children with unmet dependencies")
        .reply(Reply::Json(blocked_list)),
    op("get", "/api/v1/intents/{id}/graph", "getIntentGraph", "graphs", "The graph around an intent")
        .reply(Reply::Model("IntentGraph")),
];
