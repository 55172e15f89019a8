//! The agent registry (RFC-0016): register (both the reference's and the RFC's path; a known id
//! is updated), read (with the heartbeat's age), list with filters, heartbeat, status changes
//! (drain) and deregistration.
//!
//! A `draining` agent is kept in that status until it deregisters (or goes silent): the runtime
//! must not assign new work to it. Silent agents are marked `unhealthy` then `dead` by the
//! liveness sweeper (`crate::liveness`).

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use openintent_types::{
    AgentHeartbeatRequest, AgentRecord, AgentStatus, HeartbeatResponse, PendingCommand, RegisterAgentRequest,
    UpdateAgentStatusRequest,
};
use serde_json::{Value, json};

use super::extract::{JsonBody, Principal, QueryParams, enum_schema, if_match, keyed};
use super::reply::{merge, wire};
use super::spec::{MIN_CAPACITY, Op, Query, Reply, op, q_min_capacity, q_string, reference, request};
use crate::error::{ApiError, ApiResult};
use crate::rules::ownership::{self, Access, Object};
use crate::state::AppState;
use crate::store::now;
use crate::store::registry::{AGENT_NOT_FOUND, AgentFilter, StatusChange, heartbeat_age};

/// This area's routes, each method behind the API-key check.
pub(super) fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/api/v1/agents", keyed(state, post(register_agent).get(list_agents)))
        .route("/api/v1/agents/register", keyed(state, post(register_agent)))
        .route("/api/v1/agents/{agent_id}", keyed(state, get(get_agent).delete(deregister_agent)))
        .route("/api/v1/agents/{agent_id}/record", keyed(state, get(get_agent)))
        .route("/api/v1/agents/{agent_id}/heartbeat", keyed(state, post(heartbeat)))
        .route("/api/v1/agents/{agent_id}/status", keyed(state, axum::routing::patch(set_status)))
}

/// An agent record with `heartbeat_age_seconds` and its `ETag: "N"`.
fn agent_response(agent: &AgentRecord) -> Response {
    let body = merge(wire(agent), json!({"heartbeat_age_seconds": heartbeat_age(agent, now())}));
    let mut resp = Json(body).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", agent.version)) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    resp
}

async fn register_agent(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<RegisterAgentRequest>,
) -> ApiResult<Response> {
    principal.acting_as("agent_id", Some(&body.agent_id))?;
    let (agent, _created) = state.store().register_agent(&body, &principal.0).await?;
    Ok(agent_response(&agent))
}

async fn get_agent(State(state): State<AppState>, _p: Principal, Path(id): Path<String>) -> ApiResult<Response> {
    let agent = state.store().get_agent(&id).await?.ok_or_else(|| ApiError::not_found(AGENT_NOT_FOUND))?;
    Ok(agent_response(&agent))
}

async fn list_agents(State(state): State<AppState>, _p: Principal, q: QueryParams) -> ApiResult<Json<Value>> {
    let status = match q.get("status") {
        None => None,
        Some(s) => match AgentStatus::parse(s) {
            AgentStatus::Unknown(_) => {
                return Err(ApiError::invalid_query(
                    "status",
                    "enum",
                    format!("Input should be one of {}", AgentStatus::known_names().join(", ")),
                    Some(json!(s)),
                ));
            }
            known => Some(known),
        },
    };
    let capabilities = q
        .get("capabilities")
        .map(|c| c.split(',').map(str::trim).filter(|c| !c.is_empty()).map(str::to_owned).collect())
        .unwrap_or_default();
    let min = match q.get("min_available_capacity") {
        Some(_) => Some(q.int_of(&MIN_CAPACITY)?),
        None => None,
    };
    let filter =
        AgentFilter { status, role_id: q.get("role_id").map(str::to_owned), capabilities, min_available_capacity: min };
    let agents = state.store().list_registered_agents(&filter).await?;
    let t = now();
    let items: Vec<Value> =
        agents.iter().map(|a| merge(wire(a), json!({"heartbeat_age_seconds": heartbeat_age(a, t)}))).collect();
    Ok(Json(Value::Array(items)))
}

async fn heartbeat(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<AgentHeartbeatRequest>,
) -> ApiResult<Json<Value>> {
    may_change_record(&principal, &id)?;
    let ack = state.store().agent_heartbeat(&id, &body, &principal.0).await?;
    let mut reply = HeartbeatResponse::default();
    reply.acknowledged = Some(true);
    reply.status = Some("ok".to_owned());
    reply.server_timestamp = Some(ack.server_timestamp);
    reply.next_heartbeat_at = Some(ack.next_heartbeat_at);
    reply.agent_status = Some(ack.agent.status.clone());
    if ack.agent.status == AgentStatus::Draining {
        let mut drain = PendingCommand::default();
        drain.command = "drain".to_owned();
        drain.drain_timeout_seconds = ack.agent.drain_timeout_seconds;
        reply.pending_commands.push(drain);
    }
    Ok(Json(wire(&reply)))
}

/// Whether the caller may change agent `id`'s record ([`ownership`]: the agent itself, an
/// operator or admin key); a 403 otherwise.
fn may_change_record(principal: &Principal, id: &str) -> ApiResult<()> {
    ownership::check(Object::AgentRecord, Access::Change, principal.as_str(), principal.role(), &[Some(id)])?;
    Ok(())
}

/// `If-Match` when sent (it is optional on agent routes, as the 0.17 client sends none).
fn optional_if_match(headers: &HeaderMap) -> ApiResult<Option<i64>> {
    if headers.contains_key(header::IF_MATCH) { if_match(headers).map(Some) } else { Ok(None) }
}

async fn set_status(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<UpdateAgentStatusRequest>,
) -> ApiResult<Response> {
    may_change_record(&principal, &id)?;
    let change = StatusChange {
        status: body.status,
        drain_timeout_seconds: body.drain_timeout_seconds,
        expected_version: optional_if_match(&headers)?,
    };
    let agent = state.store().set_agent_status(&id, &change, &principal.0).await?;
    Ok(agent_response(&agent))
}

async fn deregister_agent(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    may_change_record(&principal, &id)?;
    let change = StatusChange {
        status: AgentStatus::Deregistered,
        drain_timeout_seconds: None,
        expected_version: optional_if_match(&headers)?,
    };
    let agent = state.store().set_agent_status(&id, &change, &principal.0).await?;
    Ok(agent_response(&agent))
}

// ----- OpenAPI ------------------------------------------------------------------------------

fn q_agent_status() -> Value {
    enum_schema(&AgentStatus::known_names())
}

const AGENT_QUERY: &[Query] = &[
    ("status", q_agent_status, "Only agents with this status"),
    ("role_id", q_string, "Only agents of this pool role"),
    ("capabilities", q_string, "Comma-separated capability tags: agents with any of them"),
    ("min_available_capacity", q_min_capacity, "Only agents with at least this many free slots"),
];

fn agent_list_schema() -> Value {
    json!({"type": "array", "items": reference("AgentRecord")})
}

/// The operations of this area, for the OpenAPI document.
pub(super) const OPERATIONS: &[Op] = &[
    op("post", "/api/v1/agents", "registerAgentRfc", "agents", "Register an agent, or update its registration")
        .body(request!(RegisterAgentRequest))
        .reply(Reply::Model("AgentRecord")),
    op("post", "/api/v1/agents/register", "registerAgent", "agents", "Register an agent (the reference's path)")
        .body(request!(RegisterAgentRequest))
        .reply(Reply::Model("AgentRecord")),
    op("get", "/api/v1/agents", "listRegisteredAgents", "agents", "Registered agents, in registration order")
        .query(AGENT_QUERY)
        .reply(Reply::Json(agent_list_schema)),
    op("get", "/api/v1/agents/{agent_id}", "getAgent", "agents", "Read an agent (with its heartbeat's age)")
        .reply(Reply::Model("AgentRecord")),
    op("get", "/api/v1/agents/{agent_id}/record", "getAgentRecord", "agents", "Read an agent (the reference's path)")
        .reply(Reply::Model("AgentRecord")),
    op("delete", "/api/v1/agents/{agent_id}", "deregisterAgent", "agents", "Deregister an agent")
        .reply(Reply::Model("AgentRecord"))
        .errors(&[400, 409]),
    op("post", "/api/v1/agents/{agent_id}/heartbeat", "agentHeartbeat", "agents", "Record a heartbeat")
        .body(request!(AgentHeartbeatRequest))
        .reply(Reply::Model("HeartbeatResponse"))
        .errors(&[409]),
    op("patch", "/api/v1/agents/{agent_id}/status", "setAgentStatus", "agents", "Change an agent's status (drain)")
        .body(request!(UpdateAgentStatusRequest))
        .reply(Reply::Model("AgentRecord"))
        .errors(&[400, 409]),
];
