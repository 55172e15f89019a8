//! Leases (RFC-0003): acquire the lease of a scope, list, renew and release.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{patch, post};
use openintent_types::{AcquireLeaseRequest, RenewLeaseRequest};
use serde_json::{Value, json};

use super::extract::{JsonBody, Principal, QueryParams, keyed};
use super::reply::{list, of_intent, wire};
use super::spec::{Op, Reply, op, q_string, request};
use crate::error::ApiResult;
use crate::state::AppState;

/// This area's routes, each method behind the API-key check.
pub(super) fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/api/v1/intents/{id}/leases", keyed(state, post(acquire_lease).get(list_leases)))
        .route("/api/v1/intents/{id}/leases/{lease_id}", keyed(state, patch(renew_lease).delete(release_lease)))
}

async fn acquire_lease(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<AcquireLeaseRequest>,
) -> ApiResult<Json<Value>> {
    let (lease, _event) = state.store().acquire_lease(&id, &body.scope, body.duration_seconds, &principal.0).await?;
    Ok(Json(wire(&lease)))
}

async fn list_leases(
    State(state): State<AppState>,
    _p: Principal,
    Path(id): Path<String>,
    q: QueryParams,
) -> ApiResult<Json<Value>> {
    let mut leases = of_intent(&state, &id, state.store().list_leases(&id).await?).await?;
    if let Some(s) = q.get("status") {
        leases.retain(|l| l.status.as_ref().is_some_and(|st| st.as_str() == s));
    }
    Ok(list(&leases))
}

async fn renew_lease(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, lease_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<RenewLeaseRequest>,
) -> ApiResult<Json<Value>> {
    let (lease, _event) = state.store().renew_lease(&id, &lease_id, body.duration_seconds, &principal.0).await?;
    Ok(Json(wire(&lease)))
}

async fn release_lease(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, lease_id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    state.store().release_lease(&id, &lease_id, &principal.0).await?;
    Ok(Json(json!({"message": "Lease released", "lease_id": lease_id})))
}

// ----- OpenAPI ------------------------------------------------------------------------------

/// The operations of this area, for the OpenAPI document.
pub(super) const OPERATIONS: &[Op] = &[
    op("post", "/api/v1/intents/{id}/leases", "acquireLease", "leases", "Acquire the lease of a scope")
        .body(request!(AcquireLeaseRequest))
        .reply(Reply::Model("Lease"))
        .errors(&[409]),
    op("get", "/api/v1/intents/{id}/leases", "listLeases", "leases", "Leases of an intent")
        .query(&[("status", q_string, "Only leases with this derived status (active, expired, released)")])
        .reply(Reply::List("Lease")),
    op("patch", "/api/v1/intents/{id}/leases/{lease_id}", "renewLease", "leases", "Renew a lease you hold")
        .body(request!(RenewLeaseRequest))
        .reply(Reply::Model("Lease"))
        .errors(&[409]),
    op("delete", "/api/v1/intents/{id}/leases/{lease_id}", "releaseLease", "leases", "Release a lease you hold")
        .reply(Reply::Json(release_schema)),
];

fn release_schema() -> Value {
    json!({"type": "object", "properties": {"message": {"type": "string"}, "lease_id": {"type": "string"}}})
}
