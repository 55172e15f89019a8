//! Retry policies and failures (RFC-0010): an intent's retry policy, and the failures recorded
//! against it.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use openintent_types::{RecordFailureRequest, SetRetryPolicyRequest};
use serde_json::Value;

use super::extract::{JsonBody, Principal, keyed};
use super::reply::{INTENT_NOT_FOUND, list, of_intent, wire};
use super::spec::{Op, Reply, op, request};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// This area's routes, each method behind the API-key check.
pub(super) fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/api/v1/intents/{id}/retry-policy", keyed(state, get(get_retry_policy).put(set_retry_policy)))
        .route("/api/v1/intents/{id}/failures", keyed(state, post(record_failure).get(list_failures)))
}

async fn set_retry_policy(
    State(state): State<AppState>,
    _p: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<SetRetryPolicyRequest>,
) -> ApiResult<Json<Value>> {
    let policy = state.store().set_retry_policy(&id, &body).await?;
    Ok(Json(wire(&policy)))
}

async fn get_retry_policy(
    State(state): State<AppState>,
    _p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    match state.store().get_retry_policy(&id).await? {
        Some(p) => Ok(Json(wire(&p))),
        None if state.store().get_intent(&id).await?.is_none() => Err(ApiError::not_found(INTENT_NOT_FOUND)),
        None => Err(ApiError::not_found("No retry policy set")),
    }
}

async fn record_failure(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<RecordFailureRequest>,
) -> ApiResult<Json<Value>> {
    let agent = Some(principal.acting_as("agent_id", body.agent_id.as_deref())?);
    let failure = state.store().record_failure(&id, &body, agent).await?;
    Ok(Json(wire(&failure)))
}

async fn list_failures(State(state): State<AppState>, _p: Principal, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    Ok(list(&of_intent(&state, &id, state.store().list_failures(&id).await?).await?))
}

// ----- OpenAPI ------------------------------------------------------------------------------

/// The operations of this area, for the OpenAPI document.
pub(super) const OPERATIONS: &[Op] = &[
    op("put", "/api/v1/intents/{id}/retry-policy", "setRetryPolicy", "retries", "Set the retry policy")
        .body(request!(SetRetryPolicyRequest))
        .reply(Reply::Model("RetryPolicy")),
    op("get", "/api/v1/intents/{id}/retry-policy", "getRetryPolicy", "retries", "Read the retry policy")
        .reply(Reply::Model("RetryPolicy")),
    op("post", "/api/v1/intents/{id}/failures", "recordFailure", "retries", "Record a failure")
        .body(request!(RecordFailureRequest))
        .reply(Reply::Model("FailureRecord")),
    op("get", "/api/v1/intents/{id}/failures", "listFailures", "retries", "Failures of an intent")
        .reply(Reply::List("FailureRecord")),
];
