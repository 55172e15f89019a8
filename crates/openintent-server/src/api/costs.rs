//! Costs (RFC-0009): record a cost, list them, and their totals.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use openintent_types::{CostSummary, RecordCostRequest};
use serde_json::{Value, json};

use super::extract::{JsonBody, Principal, keyed};
use super::reply::{INTENT_NOT_FOUND, list, merge, of_intent, wire};
use super::spec::{Op, Reply, op, request};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// This area's routes, each method behind the API-key check.
pub(super) fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/api/v1/intents/{id}/costs", keyed(state, post(record_cost).get(list_costs)))
        .route("/api/v1/intents/{id}/costs/summary", keyed(state, get(cost_summary)))
}

async fn record_cost(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<RecordCostRequest>,
) -> ApiResult<Json<Value>> {
    let agent = principal.acting_as("agent_id", body.agent_id.as_deref())?;
    let cost = state.store().record_cost(&id, &body, &agent, &principal.0).await?;
    Ok(Json(wire(&cost)))
}

async fn list_costs(State(state): State<AppState>, _p: Principal, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    Ok(list(&of_intent(&state, &id, state.store().list_costs(&id).await?).await?))
}

async fn cost_summary(State(state): State<AppState>, _p: Principal, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let backend = state.store();
    if backend.get_intent(&id).await?.is_none() {
        return Err(ApiError::not_found(INTENT_NOT_FOUND));
    }
    let costs = backend.list_costs(&id).await?;
    let summary = CostSummary::from_records(&costs);
    Ok(Json(merge(serde_json::to_value(&summary).unwrap_or_default(), json!({"intent_id": id}))))
}

// ----- OpenAPI ------------------------------------------------------------------------------

/// The operations of this area, for the OpenAPI document.
pub(super) const OPERATIONS: &[Op] = &[
    op("post", "/api/v1/intents/{id}/costs", "recordCost", "costs", "Record a cost")
        .body(request!(RecordCostRequest))
        .reply(Reply::Model("CostRecord")),
    op("get", "/api/v1/intents/{id}/costs", "listCosts", "costs", "Costs of an intent")
        .reply(Reply::List("CostRecord")),
    op("get", "/api/v1/intents/{id}/costs/summary", "costSummary", "costs", "Totals per type, agent and unit")
        .reply(Reply::Model("CostSummary")),
];
