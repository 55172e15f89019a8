//! Intents (RFC-0001): create, read, list, and the version-checked state and status writes.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use openintent_types::{CreateIntentRequest, Intent, IntentStatus, SetStatusRequest, UpdateStateRequest};
use serde_json::{Value, json};

use super::acl::{CheckedIntent, require_readable_refs};
use super::extract::{JsonBody, Principal, QueryParams, enum_schema, if_match, keyed, non_empty, not_one_of};
use super::reply::{INTENT_NOT_FOUND, wire};
use super::spec::{Header, LIMIT_50, OFFSET, Op, Query, Reply, op, q_limit_50, q_offset, q_string, reference, request};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::{IntentFilter, ListKey, NewIntent};

// ----- body schemas -------------------------------------------------------------------------

// ----- routes and handlers ------------------------------------------------------------------

/// This area's routes, each method behind the API-key check.
pub(super) fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/api/v1/intents", keyed(state, post(create_intent).get(list_intents)))
        .route("/api/v1/intents/{id}", keyed(state, get(get_intent)))
        .route("/api/v1/intents/{id}/state", keyed(state, post(update_state)))
        .route("/api/v1/intents/{id}/status", keyed(state, post(set_status)))
}

/// An intent with its `ETag: "N"`.
fn intent_response(intent: &Intent) -> Response {
    let mut resp = Json(wire(intent)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", intent.version)) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    resp
}

fn known_status(status: &IntentStatus) -> ApiResult<()> {
    if let IntentStatus::Unknown(s) = status {
        return Err(ApiError::invalid_field(
            "status",
            "enum",
            format!("Input should be one of {}", IntentStatus::known_names().join(", ")),
            Some(json!(s)),
        ));
    }
    Ok(())
}

async fn create_intent(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<CreateIntentRequest>,
) -> ApiResult<Response> {
    let status = body.status.clone().unwrap_or_default();
    known_status(&status)?;
    if let Some(policy) = &body.governance_policy {
        crate::rules::governance::validate(policy).map_err(ApiError::Validation)?;
    }
    let parent = body.parent_intent_id.as_deref().filter(|p| !p.trim().is_empty());
    require_readable_refs(&state, principal.as_str(), "Parent intent", "parent_intent_id", parent).await?;
    let depends_on = body.depends_on.as_deref().unwrap_or_default().iter().map(String::as_str);
    require_readable_refs(&state, principal.as_str(), "Dependency intent", "depends_on", depends_on).await?;
    let new = NewIntent {
        title: body.title,
        description: body.description.unwrap_or_default(),
        created_by: principal.acting_as("created_by", body.created_by.as_deref())?,
        parent_id: non_empty(body.parent_intent_id),
        depends_on: body.depends_on.unwrap_or_default(),
        constraints: body.constraints.unwrap_or_default(),
        state: body.state.unwrap_or_default(),
        status,
        governance_policy: body.governance_policy,
    };
    let (intent, _event) = state.store().create_intent(new).await?;
    Ok(intent_response(&intent))
}

/// The intent the access check read (one statement for the check and the answer), else read
/// here (the check passes on requests it does not read for, e.g. an unknown intent's).
async fn get_intent(
    State(state): State<AppState>,
    _p: Principal,
    Path(id): Path<String>,
    checked: Option<Extension<CheckedIntent>>,
) -> ApiResult<Response> {
    if let Some(Extension(CheckedIntent(intent))) = checked {
        return Ok(intent_response(&intent));
    }
    let intent = state.store().get_intent(&id).await?.ok_or_else(|| ApiError::not_found(INTENT_NOT_FOUND))?;
    Ok(intent_response(&intent))
}

async fn list_intents(State(state): State<AppState>, principal: Principal, q: QueryParams) -> ApiResult<Json<Value>> {
    if let Some(s) = q.get("status")
        && !IntentStatus::parse(s).is_known()
    {
        return Err(not_one_of("status", s, &IntentStatus::known_names()));
    }
    let offset = q.int_of(&OFFSET)?;
    let after = match q.get("cursor") {
        None => None,
        Some(_) if offset != 0 => {
            return Err(ApiError::invalid_query(
                "offset",
                "value_error",
                "Value error, offset cannot be combined with cursor (a cursor page starts after its key)",
                q.get("offset").map(|o| json!(o)),
            ));
        }
        Some(c) => Some(ListKey::decode(c).ok_or_else(|| {
            ApiError::invalid_query(
                "cursor",
                "value_error",
                "Value error, not a cursor of this server (pass a page's `next_cursor` unchanged)",
                Some(json!(c)),
            )
        })?),
    };
    let filter = IntentFilter {
        status: q.get("status").map(str::to_owned),
        created_by: q.get("created_by").map(str::to_owned),
        parent_id: q.get("parent_id").or_else(|| q.get("parent_intent_id")).map(str::to_owned),
        visible_to: Some(principal.0),
        limit: q.int_of(&LIMIT_50)?,
        offset,
        after,
    };
    let (intents, total, next) = state.store().list_intents(&filter).await?;
    let items: Vec<Value> = intents.iter().map(wire).collect();
    let mut page = json!({"intents": items, "total": total, "limit": filter.limit, "offset": filter.offset});
    if let Some(key) = next {
        page["next_cursor"] = json!(key.encode());
    }
    Ok(Json(page))
}

async fn update_state(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<UpdateStateRequest>,
) -> ApiResult<Response> {
    let version = if_match(&headers)?;
    let patches = body.effective_patches();
    let (intent, _event) = state.store().update_state(&id, version, &principal.0, &patches).await?;
    Ok(intent_response(&intent))
}

async fn set_status(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<SetStatusRequest>,
) -> ApiResult<Response> {
    known_status(&body.status)?;
    let version = if_match(&headers)?;
    let (intent, _event) =
        state.store().set_status(&id, version, &principal.0, &body.status, body.reason.as_deref()).await?;
    Ok(intent_response(&intent))
}

// ----- OpenAPI ------------------------------------------------------------------------------

fn q_intent_status() -> Value {
    enum_schema(&IntentStatus::known_names())
}

const INTENT_QUERY: &[Query] = &[
    ("status", q_intent_status, "Only intents with this status"),
    ("created_by", q_string, "Only intents created by this principal"),
    ("parent_id", q_string, "Only children of this intent (also read as `parent_intent_id`)"),
    ("limit", q_limit_50, "Page size"),
    ("offset", q_offset, "Intents to skip (0 with `cursor`)"),
    (
        "cursor",
        q_string,
        "Our extension: the page after the one whose `next_cursor` this is (an opaque string; \
         not combined with a non-zero `offset`)",
    ),
];

/// The operations of this area, for the OpenAPI document.
pub(super) const OPERATIONS: &[Op] = &[
    op("post", "/api/v1/intents", "createIntent", "intents", "Create an intent")
        .body(request!(CreateIntentRequest))
        .reply(Reply::Model("Intent"))
        .errors(&[404]),
    op("get", "/api/v1/intents", "listIntents", "intents", "List intents, newest first")
        .query(INTENT_QUERY)
        .reply(Reply::Json(intent_page_schema)),
    op("get", "/api/v1/intents/{id}", "getIntent", "intents", "Read an intent (with its `ETag`)")
        .reply(Reply::Model("Intent")),
    op("post", "/api/v1/intents/{id}/state", "updateState", "intents", "Patch the state (version-checked)")
        .body(request!(UpdateStateRequest))
        .headers(&[Header::IfMatch])
        .reply(Reply::Model("Intent"))
        .errors(&[400, 409]),
    op("post", "/api/v1/intents/{id}/status", "setStatus", "intents", "Change the status (version-checked)")
        .body(request!(SetStatusRequest))
        .headers(&[Header::IfMatch])
        .reply(Reply::Model("Intent"))
        .errors(&[400, 409]),
];

fn intent_page_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "intents": {"type": "array", "items": reference("Intent")},
            "total": {"type": "integer"},
            "limit": {"type": "integer"},
            "offset": {"type": "integer"},
            "next_cursor": {
                "type": "string",
                "description": "Our extension: when more intents follow, the `cursor` of the next page",
            },
        },
        "required": ["intents", "total"],
    })
}
