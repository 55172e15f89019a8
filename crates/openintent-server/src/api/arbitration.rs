//! Arbitration and decisions (RFC-0004): request arbitration, record decisions, list both.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use openintent_types::{CreateArbitrationRequest, RecordDecisionRequest};
use serde_json::{Value, json};

use super::extract::{JsonBody, Principal, keyed, non_empty};
use super::reply::{list, merge, of_intent, wire};
use super::spec::{Op, Reply, op, request};
use crate::error::ApiResult;
use crate::state::AppState;
use crate::store::{NewArbitration, NewDecision};

/// This area's routes, each method behind the API-key check.
pub(super) fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/api/v1/intents/{id}/arbitrate", keyed(state, post(request_arbitration)))
        .route("/api/v1/intents/{id}/arbitrations", keyed(state, get(list_arbitrations)))
        .route("/api/v1/intents/{id}/decisions", keyed(state, post(record_decision).get(list_decisions)))
}

async fn request_arbitration(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<CreateArbitrationRequest>,
) -> ApiResult<Json<Value>> {
    let new = NewArbitration {
        requested_by: principal.acting_as("requested_by", body.requested_by.as_deref())?,
        reason: body.reason,
        context: body.context.unwrap_or_default(),
        options: serde_json::to_value(body.options.unwrap_or_default()).unwrap_or(Value::Array(Vec::new())),
    };
    let arbitration = state.store().request_arbitration(&id, new).await?;
    Ok(Json(merge(wire(&arbitration), json!({"message": "Arbitration requested", "status": "pending"}))))
}

async fn list_arbitrations(
    State(state): State<AppState>,
    _p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(list(&of_intent(&state, &id, state.store().list_arbitrations(&id).await?).await?))
}

async fn record_decision(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<RecordDecisionRequest>,
) -> ApiResult<Json<Value>> {
    let new = NewDecision {
        decision_type: non_empty(body.decision_type).unwrap_or_else(|| "decision".to_owned()),
        decided_by: principal.acting_as("decided_by", body.decided_by.as_deref())?,
        outcome: body.outcome,
        rationale: body.rationale.unwrap_or_default(),
        evidence: body.evidence,
    };
    let decision = state.store().record_decision(&id, new).await?;
    let ack = json!({"message": "Decision recorded", "decision_id": decision.id, "outcome": decision.outcome});
    Ok(Json(merge(wire(&decision), ack)))
}

async fn list_decisions(
    State(state): State<AppState>,
    _p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(list(&of_intent(&state, &id, state.store().list_decisions(&id).await?).await?))
}

// ----- OpenAPI ------------------------------------------------------------------------------

/// The operations of this area, for the OpenAPI document.
pub(super) const OPERATIONS: &[Op] = &[
    op("post", "/api/v1/intents/{id}/arbitrate", "requestArbitration", "governance", "Request arbitration")
        .body(request!(CreateArbitrationRequest))
        .reply(Reply::Model("Arbitration")),
    op("get", "/api/v1/intents/{id}/arbitrations", "listArbitrations", "governance", "Arbitration requests")
        .reply(Reply::List("Arbitration")),
    op("post", "/api/v1/intents/{id}/decisions", "recordDecision", "governance", "Record a decision")
        .body(request!(RecordDecisionRequest))
        .reply(Reply::Model("Decision")),
    op("get", "/api/v1/intents/{id}/decisions", "listDecisions", "governance", "Decisions of an intent")
        .reply(Reply::List("Decision")),
];
