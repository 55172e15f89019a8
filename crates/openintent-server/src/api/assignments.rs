//! Agent assignments of an intent: assign (default: the caller), list, unassign.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, post};
use openintent_types::AssignAgentRequest;
use serde_json::Value;

use super::extract::{JsonBody, Principal, keyed, non_empty};
use super::reply::{list, of_intent, wire};
use super::spec::{Op, Reply, op, request};
use crate::error::ApiResult;
use crate::state::AppState;

/// This area's routes, each method behind the API-key check.
pub(super) fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/api/v1/intents/{id}/agents", keyed(state, post(assign_agent).get(list_agents)))
        .route("/api/v1/intents/{id}/agents/{agent_id}", keyed(state, delete(unassign_agent)))
}

async fn assign_agent(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<AssignAgentRequest>,
) -> ApiResult<Json<Value>> {
    let agent_id = non_empty(body.agent_id).unwrap_or_else(|| principal.0.clone());
    let role = non_empty(body.role).unwrap_or_else(|| "worker".to_owned());
    let (assignment, _event) = state.store().assign_agent(&id, &agent_id, &role, &principal.0).await?;
    Ok(Json(wire(&assignment)))
}

async fn list_agents(State(state): State<AppState>, _p: Principal, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    Ok(list(&of_intent(&state, &id, state.store().list_agents(&id).await?).await?))
}

async fn unassign_agent(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, agent_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    state.store().unassign_agent(&id, &agent_id, principal.as_str(), principal.role()).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ----- OpenAPI ------------------------------------------------------------------------------

/// The operations of this area, for the OpenAPI document.
pub(super) const OPERATIONS: &[Op] = &[
    op("post", "/api/v1/intents/{id}/agents", "assignAgent", "agents", "Assign an agent (default: the caller)")
        .body(request!(AssignAgentRequest))
        .reply(Reply::Model("AgentAssignment"))
        .errors(&[409]),
    op("get", "/api/v1/intents/{id}/agents", "listAgents", "agents", "Agents assigned to an intent")
        .reply(Reply::List("AgentAssignment")),
    op(
        "delete",
        "/api/v1/intents/{id}/agents/{agent_id}",
        "unassignAgent",
        "agents",
        "Unassign an agent (the agent, whoever assigned it, the intent's creator or an admin key)",
    )
    .reply(Reply::NoContent),
];
