//! Per-intent access control (RFC-0011): the ACL routes, access requests, and the check that
//! enforces an intent's ACL on every per-intent route ([`enforce`], one layer over all routes;
//! the levels are `crate::rules::acl`).

use std::collections::HashSet;

use axum::Json;
use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, MatchedPath, Path, RawPathParams, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use openintent_types::schema::{RequestSchema, check_schema};
use openintent_types::wire::WireModel;
use openintent_types::{
    CreateAccessRequest, DecideAccessRequest, GrantAccessRequest, Intent, Permission, SetAclRequest,
};
use serde_json::{Value, json};

use super::extract::{JsonBody, Principal, authenticate, keyed};
use super::reply::{of_intent, wire};
use super::spec::{Op, Reply, op, reference, request};
use crate::error::{ApiError, ApiResult};
use crate::rules::acl::{Scope, allows, refusal, required_level};
use crate::state::AppState;
use crate::store::acl::{Decision, IntentAccess};

/// This area's routes, each method behind the API-key check.
pub(super) fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/api/v1/intents/{id}/acl", keyed(state, get(get_acl).put(set_acl)))
        .route("/api/v1/intents/{id}/acl/entries", keyed(state, post(grant_access)))
        .route("/api/v1/intents/{id}/acl/entries/{entry_id}", keyed(state, delete(revoke_access)))
        .route("/api/v1/intents/{id}/access-requests", keyed(state, post(request_access).get(list_access_requests)))
        .route("/api/v1/intents/{id}/access-requests/{request_id}/approve", keyed(state, post(approve)))
        .route("/api/v1/intents/{id}/access-requests/{request_id}/deny", keyed(state, post(deny)))
}

/// Whether `principal` may act at `needed` on the intent `intent_id` under its ACL (the rule of
/// [`allows`]); an unknown intent permits nothing. For routes whose path names something other
/// than an intent (escalations), which [`enforce`] cannot check.
pub(super) async fn permits(
    state: &AppState,
    principal: &str,
    intent_id: &str,
    needed: &Permission,
) -> ApiResult<bool> {
    Ok(match state.store().access_of(intent_id).await? {
        Some((creator, acl)) => allows(acl.as_ref(), &creator, principal, needed, chrono::Utc::now()),
        None => false,
    })
}

/// [`permits`], or the 403 a principal without access gets.
pub(super) async fn require(state: &AppState, principal: &str, intent_id: &str, needed: &Permission) -> ApiResult<()> {
    if permits(state, principal, intent_id, needed).await? {
        Ok(())
    } else {
        Err(ApiError::Forbidden(refusal(principal, needed)))
    }
}

/// Refuses a request whose body names, in `field`, an intent that `principal` may not read,
/// with the same 404 as for an intent that does not exist (`"<what> not found (<field>: <id>)"`),
/// so that the answer never reveals whether an unreadable intent exists.
pub(super) async fn require_readable_refs<'a>(
    state: &AppState,
    principal: &str,
    what: &str,
    field: &str,
    ids: impl IntoIterator<Item = &'a str>,
) -> ApiResult<()> {
    let ids: Vec<&str> = ids.into_iter().collect();
    if ids.is_empty() {
        return Ok(());
    }
    let readable = state.store().readable_ids(principal, &ids).await?;
    match ids.into_iter().find(|id| !readable.contains(*id)) {
        Some(id) => Err(ApiError::not_found(format!("{what} not found ({field}: {id})"))),
        None => Ok(()),
    }
}

/// Middleware enforcing the intent's ACL on every per-intent route (applied once, as a route
/// layer over the whole API, so that each route, present or future, is covered): a caller whose
/// principal lacks the level the route needs (see `crate::rules::acl`) gets 403. Requests
/// without a valid key, for unknown intents, or for routes that are not per-intent pass on
/// unchanged, so the route answers them (401, 404) as it would without an ACL.
///
/// Then, on every route, the answer goes through [`hide_unreadable_refs`]: the ids an intent
/// shown names (its parent, its dependencies) are left out when the caller may not read them.
pub(crate) async fn enforce(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Ok(principal) = authenticate(&state, req.headers()) else { return next.run(req).await };
    let (response, nothing_restricted) = check(&state, principal.as_str(), req, next).await;
    if nothing_restricted || !response.status().is_success() {
        return response;
    }
    hide_unreadable_refs(&state, principal.as_str(), response).await
}

/// [`enforce`]'s check; the answer, and whether its access check found that no ACL restricts
/// anything (then nothing needs hiding: every intent is readable by everyone).
async fn check(state: &AppState, principal: &str, req: Request, next: Next) -> (Response, bool) {
    let Some((needed, scope)) = required_level(req.method().as_str(), req.uri().path()) else {
        return (next.run(req).await, false);
    };
    let (mut parts, body) = req.into_parts();
    let id = match RawPathParams::from_request_parts(&mut parts, state).await {
        Ok(params) => params.iter().find(|(k, _)| matches!(*k, "id" | "channel_id")).map(|(_, v)| v.to_owned()),
        Err(_) => None,
    };
    let req = Request::from_parts(parts, body);
    let Some(id) = id else { return (next.run(req).await, false) };
    let intent = match scope {
        Scope::Intent => Some(id),
        Scope::Channel => match state.store().channel_intent(&id).await {
            Ok(intent) => intent,
            Err(e) => return (ApiError::from(e).into_response(), false),
        },
    };
    // An unknown channel: its route answers the 404.
    let Some(id) = intent else { return (next.run(req).await, false) };
    if answers_the_intent(&req) {
        return enforce_on_intent(state, principal, &needed, &id, req, next).await;
    }
    match state.store().access_check(&id).await {
        Ok(Some((creator, acl, nothing_restricted))) => {
            if allows(acl.as_ref(), &creator, principal, &needed, chrono::Utc::now()) {
                (next.run(req).await, nothing_restricted)
            } else {
                (ApiError::Forbidden(refusal(principal, &needed)).into_response(), false)
            }
        }
        Ok(None) => (next.run(req).await, false),
        Err(e) => (ApiError::from(e).into_response(), false),
    }
}

/// The intent read by [`enforce`] for a route that answers the intent itself, handed to the
/// route in the request's extensions: the route then reads nothing more.
#[derive(Debug, Clone)]
pub(crate) struct CheckedIntent(pub(crate) Intent);

/// Whether the request reads the intent itself (`GET /api/v1/intents/{id}`), whose access
/// check reads the whole row for the route ([`CheckedIntent`]).
fn answers_the_intent(req: &Request) -> bool {
    req.method() == Method::GET
        && req.extensions().get::<MatchedPath>().is_some_and(|p| p.as_str() == "/api/v1/intents/{id}")
}

/// [`enforce`] for a route that answers the intent: the same rule, on the creator and ACL read
/// with the intent in one statement ([`crate::store::Store::intent_with_access`]); an allowed
/// request carries the intent to its route ([`CheckedIntent`]).
async fn enforce_on_intent(
    state: &AppState,
    principal: &str,
    needed: &Permission,
    id: &str,
    mut req: Request,
    next: Next,
) -> (Response, bool) {
    match state.store().intent_with_access(id).await {
        Ok(Some(IntentAccess { intent, creator, acl, nothing_restricted })) => {
            if allows(acl.as_ref(), &creator, principal, needed, chrono::Utc::now()) {
                if let Some(intent) = intent {
                    req.extensions_mut().insert(CheckedIntent(intent));
                }
                (next.run(req).await, nothing_restricted)
            } else {
                (ApiError::Forbidden(refusal(principal, needed)).into_response(), false)
            }
        }
        Ok(None) => (next.run(req).await, false),
        Err(e) => (ApiError::from(e).into_response(), false),
    }
}

/// The JSON answer `response` with the ids of intents `principal` may not read taken out of the
/// intents it shows: an unreadable `parent_intent_id` (and its alias `parent_id`) becomes `null`
/// (as for an intent without a parent) and unreadable ids leave `depends_on`. The intents an
/// answer shows are found by [`visit_intents`] (never inside an intent's state or constraints, nor an
/// event's payload: those are the user's data and pass unchanged). The intents shown are readable
/// (every route filters them), so only the ids they name and do not show are checked, in one
/// statement, and only when the answer names one (no statement otherwise); an id no intent has
/// reveals nothing and stays. Streams and answers other than JSON pass unchanged.
async fn hide_unreadable_refs(state: &AppState, principal: &str, response: Response) -> Response {
    let json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return ApiError::Internal("the answer could not be read".into()).into_response();
    };
    let names_others = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    if !PARENT_KEYS.iter().any(|k| names_others(format!("\"{k}\":\"").as_bytes()))
        && !names_others(br#""depends_on":[""#)
    {
        return Response::from_parts(parts, axum::body::Body::from(bytes));
    }
    let Ok(mut doc) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, axum::body::Body::from(bytes));
    };
    let (mut shown, mut named) = (HashSet::new(), HashSet::new());
    visit_intents(&mut doc, &mut |intent| {
        shown.insert(intent["id"].as_str().unwrap_or_default().to_owned());
        named.extend(intent_refs(intent).map(str::to_owned));
    });
    let unknown: Vec<&str> = named.iter().filter(|id| !shown.contains(*id)).map(String::as_str).collect();
    if unknown.is_empty() {
        return Response::from_parts(parts, axum::body::Body::from(bytes));
    }
    let hidden = match state.store().unreadable_ids(principal, &unknown).await {
        Ok(h) => h,
        Err(e) => return ApiError::from(e).into_response(),
    };
    if hidden.is_empty() {
        return Response::from_parts(parts, axum::body::Body::from(bytes));
    }
    visit_intents(&mut doc, &mut |intent| {
        for key in PARENT_KEYS {
            if intent[key].as_str().is_some_and(|p| hidden.contains(p)) {
                intent[key] = Value::Null;
            }
        }
        if let Some(Value::Array(deps)) = intent.get_mut("depends_on") {
            deps.retain(|d| !d.as_str().is_some_and(|d| hidden.contains(d)));
        }
    });
    let body = serde_json::to_vec(&doc).unwrap_or_default();
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(body))
}

/// The members of an intent naming its parent (its superset wire form writes both).
const PARENT_KEYS: [&str; 2] = ["parent_intent_id", "parent_id"];

/// Calls `f` on every intent an answer shows: the answer itself when it is an intent, the items
/// of an answer that is a list, and the items of a list under one of the answer's members (an
/// envelope such as `{"children": [...]}`, a graph's `nodes`, a portfolio's `intents`). Never
/// deeper, and never inside an intent: what an intent holds (`state`, `constraints`) and an event's
/// `payload` are the user's data, whatever ids they contain.
fn visit_intents(doc: &mut Value, f: &mut impl FnMut(&mut Value)) {
    if is_intent(doc) {
        f(doc);
        return;
    }
    let lists: Vec<&mut Vec<Value>> = match doc {
        Value::Array(items) => vec![items],
        Value::Object(map) => map.values_mut().filter_map(Value::as_array_mut).collect(),
        _ => Vec::new(),
    };
    for item in lists.into_iter().flatten() {
        if is_intent(item) {
            f(item);
        }
    }
}

/// Whether `v` is an intent in its wire form (an object with the members every intent has) that
/// names another intent.
fn is_intent(v: &Value) -> bool {
    let Value::Object(map) = v else { return false };
    ["id", "title", "status"].iter().all(|k| map.contains_key(*k))
        && PARENT_KEYS.iter().chain(["depends_on"].iter()).any(|k| map.contains_key(*k))
}

/// The ids of other intents an intent names: its parent and its dependencies.
fn intent_refs(intent: &Value) -> impl Iterator<Item = &str> {
    let parent = PARENT_KEYS.iter().filter_map(|k| intent[*k].as_str());
    let deps = intent["depends_on"].as_array().into_iter().flatten().filter_map(Value::as_str);
    parent.chain(deps)
}

async fn get_acl(State(state): State<AppState>, _p: Principal, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    Ok(Json(wire(&state.store().get_acl(&id).await?)))
}

/// The body of `PUT .../acl`: [`JsonBody`], after each entry was checked against the grant's
/// fields, so that a malformed entry is a 422 naming it (`entries.N.principal_id`).
struct AclBody(SetAclRequest);

impl FromRequest<AppState> for AclBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let bytes = axum::body::to_bytes(body, state.body_limit())
            .await
            .map_err(|_| ApiError::PayloadTooLarge(state.body_limit()))?;
        if let Ok(Value::Object(doc)) = serde_json::from_slice::<Value>(&bytes)
            && let Some(Value::Array(entries)) = doc.get("entries")
        {
            for (i, entry) in entries.iter().enumerate() {
                let mut entry = entry.clone();
                openintent_types::wire::normalize_aliases(&mut entry, GrantAccessRequest::READ_ALIASES);
                check_schema(&mut entry, GrantAccessRequest::FIELDS).map_err(|errors| {
                    ApiError::Validation(
                        errors
                            .into_iter()
                            .map(|mut e| {
                                let rest = e.loc.split_off(1.min(e.loc.len()));
                                e.loc = [json!("body"), json!("entries"), json!(i)].into_iter().chain(rest).collect();
                                e
                            })
                            .collect(),
                    )
                })?;
            }
        }
        let req = Request::from_parts(parts, axum::body::Body::from(bytes));
        let JsonBody(body) = JsonBody::<SetAclRequest>::from_request(req, state).await?;
        Ok(AclBody(body))
    }
}

async fn set_acl(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    AclBody(mut body): AclBody,
) -> ApiResult<Json<Value>> {
    for (i, e) in body.entries.iter_mut().enumerate() {
        e.granted_by = Some(principal.acting_as(&format!("entries.{i}.granted_by"), e.granted_by.as_deref())?);
    }
    Ok(Json(wire(&state.store().set_acl(&id, &body, principal.as_str()).await?)))
}

async fn grant_access(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<GrantAccessRequest>,
) -> ApiResult<Json<Value>> {
    principal.acting_as("granted_by", body.granted_by.as_deref())?;
    Ok(Json(wire(&state.store().grant_access(&id, &body, principal.as_str()).await?)))
}

async fn revoke_access(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, entry_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    state.store().revoke_access(&id, &entry_id, principal.as_str()).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn request_access(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    JsonBody(mut body): JsonBody<CreateAccessRequest>,
) -> ApiResult<Json<Value>> {
    body.principal_id = principal.acting_as("principal_id", Some(&body.principal_id))?;
    Ok(Json(wire(&state.store().request_access(&id, &body, principal.as_str()).await?)))
}

async fn list_access_requests(
    State(state): State<AppState>,
    _p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let requests = of_intent(&state, &id, state.store().list_access_requests(&id).await?).await?;
    Ok(Json(json!({"access_requests": requests.iter().map(wire).collect::<Vec<_>>()})))
}

async fn approve(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, request_id)): Path<(String, String)>,
    JsonBody(mut body): JsonBody<DecideAccessRequest>,
) -> ApiResult<Json<Value>> {
    body.decided_by = principal.acting_as("decided_by", Some(&body.decided_by))?;
    let r = state.store().decide_access_request(&id, &request_id, Decision::Approve, &body, principal.as_str()).await?;
    Ok(Json(wire(&r)))
}

async fn deny(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, request_id)): Path<(String, String)>,
    JsonBody(mut body): JsonBody<DecideAccessRequest>,
) -> ApiResult<Json<Value>> {
    body.decided_by = principal.acting_as("decided_by", Some(&body.decided_by))?;
    let r = state.store().decide_access_request(&id, &request_id, Decision::Deny, &body, principal.as_str()).await?;
    Ok(Json(wire(&r)))
}

// ----- OpenAPI ------------------------------------------------------------------------------

fn access_request_list() -> Value {
    json!({
        "type": "object",
        "properties": {"access_requests": {"type": "array", "items": reference("AccessRequest")}},
        "required": ["access_requests"],
    })
}

/// The operations of this area, for the OpenAPI document.
pub(super) const OPERATIONS: &[Op] = &[
    op("get", "/api/v1/intents/{id}/acl", "getAcl", "access", "The intent's ACL (open, no entries, when none was set)")
        .reply(Reply::Model("Acl")),
    op("put", "/api/v1/intents/{id}/acl", "setAcl", "access", "Replace the intent's ACL")
        .body(request!(SetAclRequest))
        .reply(Reply::Model("Acl")),
    op("post", "/api/v1/intents/{id}/acl/entries", "grantAccess", "access", "Add an ACL entry")
        .body(request!(GrantAccessRequest))
        .reply(Reply::Model("AclEntry")),
    op("delete", "/api/v1/intents/{id}/acl/entries/{entry_id}", "revokeAccess", "access", "Remove an ACL entry")
        .reply(Reply::NoContent),
    op("post", "/api/v1/intents/{id}/access-requests", "requestAccess", "access", "Ask for access (needs no level)")
        .body(request!(CreateAccessRequest))
        .reply(Reply::Model("AccessRequest")),
    op("get", "/api/v1/intents/{id}/access-requests", "listAccessRequests", "access", "Access requests, every status")
        .reply(Reply::Json(access_request_list)),
    op(
        "post",
        "/api/v1/intents/{id}/access-requests/{request_id}/approve",
        "approveAccessRequest",
        "access",
        "Approve a pending request (adds an entry)",
    )
    .body(request!(DecideAccessRequest))
    .reply(Reply::Model("AccessRequest")),
    op(
        "post",
        "/api/v1/intents/{id}/access-requests/{request_id}/deny",
        "denyAccessRequest",
        "access",
        "Deny a pending request",
    )
    .body(request!(DecideAccessRequest))
    .reply(Reply::Model("AccessRequest")),
];
