//! Coordinator leases (RFC-0013, PROTOCOL-AGENTS.md §4.8): grant a lease to coordinate an
//! intent or a portfolio, read one, list an intent's, and heartbeat.
//!
//! Beyond the reference: `agent_id` names the caller (or anyone, for an operator or admin
//! key), a lease names an intent (readable by the caller) or a portfolio that exists, a lease
//! is read only by whoever may read its intent, and only the lease's agent (or an admin key)
//! heartbeats it.
//!
//! Decision records (`POST /api/v1/decisions`, `GET /api/v1/intents/{id}/coordinator-decisions`,
//! the path the 0.17 SDK's `list_decision_records` calls; the reference lists them at
//! `…/decisions` instead, which this server keeps for the recorded decisions, D47). Beyond the
//! reference: the intent must exist and be readable (404 naming `intent_id`), the lease must
//! exist and be readable (404 naming `coordinator_id`), cover the intent (its own, or a member
//! of its portfolio) and not be expired (409 naming `coordinator_id`); only the lease's agent,
//! or an operator or admin key acting for it, records its decisions (403), with write access
//! to the intent (its ACL, 403); `confidence` is from 0 to 1 (422); each record writes a
//! `coordinator.decision` event on the intent (actor: the lease's agent) in its transaction.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use openintent_types::{
    CoordinatorLease, CreateCoordinatorLeaseRequest, CreateDecisionRecordRequest, HeartbeatResponse, Permission,
};
use serde_json::Value;

use super::acl::{require, require_readable_refs};
use super::extract::{JsonBody, Principal, QueryParams, keyed};
use super::reply::{list, of_intent, wire};
use super::spec::{LIMIT_50, Op, Reply, op, q_limit_50, request};
use crate::error::{ApiError, ApiResult};
use crate::rules::ownership::{self, Access, Object};
use crate::state::AppState;
use crate::store::coordinators::COORDINATOR_LEASE_NOT_FOUND;

/// This area's routes, each method behind the API-key check.
pub(super) fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/api/v1/coordinators", keyed(state, post(create_lease)))
        .route("/api/v1/coordinators/{id}", keyed(state, get(get_lease)))
        .route("/api/v1/coordinators/{id}/heartbeat", keyed(state, post(heartbeat)))
        .route("/api/v1/intents/{id}/coordinators", keyed(state, get(list_leases)))
        .route("/api/v1/decisions", keyed(state, post(create_decision)))
        .route("/api/v1/intents/{id}/coordinator-decisions", keyed(state, get(list_decisions)))
}

async fn create_lease(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<CreateCoordinatorLeaseRequest>,
) -> ApiResult<Json<Value>> {
    let agent_id = principal.acting_as("agent_id", Some(&body.agent_id))?;
    // `JsonBody` validated the body: it names an intent, a portfolio, or both.
    if let Some(intent_id) = &body.intent_id {
        require_readable_refs(&state, principal.as_str(), "Intent", "intent_id", [intent_id.as_str()]).await?;
    }
    if let Some(portfolio_id) = &body.portfolio_id
        && state.store().get_portfolio(portfolio_id).await?.is_none()
    {
        return Err(ApiError::not_found(format!("Portfolio not found (portfolio_id: {portfolio_id})")));
    }
    Ok(Json(wire(&state.store().create_coordinator_lease(&body, &agent_id).await?)))
}

/// The lease `id`, if the caller may read the intent it coordinates; an unreadable one is
/// answered as an unknown one.
async fn readable_lease(state: &AppState, principal: &Principal, id: &str) -> ApiResult<CoordinatorLease> {
    let lease = state.store().get_coordinator_lease(id).await?;
    let Some(lease) = lease else { return Err(ApiError::not_found(COORDINATOR_LEASE_NOT_FOUND)) };
    if let Some(intent_id) = &lease.intent_id
        && require(state, principal.as_str(), intent_id, &Permission::Read).await.is_err()
    {
        return Err(ApiError::not_found(COORDINATOR_LEASE_NOT_FOUND));
    }
    Ok(lease)
}

async fn get_lease(State(state): State<AppState>, p: Principal, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    Ok(Json(wire(&readable_lease(&state, &p, &id).await?)))
}

async fn list_leases(State(state): State<AppState>, _p: Principal, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    // The intent's ACL (read) is checked by `acl::enforce`.
    Ok(list(&of_intent(&state, &id, state.store().list_coordinator_leases(&id).await?).await?))
}

async fn heartbeat(State(state): State<AppState>, p: Principal, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let lease = readable_lease(&state, &p, &id).await?;
    ownership::check(Object::CoordinatorLease, Access::Change, p.as_str(), p.role(), &[Some(&lease.agent_id)])?;
    let Some((at, interval)) = state.store().coordinator_heartbeat(&id).await? else {
        return Err(ApiError::not_found(COORDINATOR_LEASE_NOT_FOUND));
    };
    let mut reply = HeartbeatResponse::default();
    reply.status = Some("ok".to_owned());
    // Stored intervals are bounded on the way in; a row written otherwise still cannot panic here.
    reply.next_heartbeat_at = chrono::Duration::try_seconds(interval).and_then(|d| at.checked_add_signed(d));
    Ok(Json(wire(&reply)))
}

async fn create_decision(
    State(state): State<AppState>,
    p: Principal,
    JsonBody(body): JsonBody<CreateDecisionRecordRequest>,
) -> ApiResult<Json<Value>> {
    let intent_id = body.intent_id.as_str();
    require_readable_refs(&state, p.as_str(), "Intent", "intent_id", [intent_id]).await?;
    let lease_id = body.coordinator_id.as_str();
    let unknown = || ApiError::not_found(format!("{COORDINATOR_LEASE_NOT_FOUND} (coordinator_id: {lease_id})"));
    let lease = readable_lease(&state, &p, lease_id).await.map_err(|e| match e {
        ApiError::NotFound(_) => unknown(),
        other => other,
    })?;
    if p.as_str() != lease.agent_id && !p.role().may_act_for_others() {
        return Err(ApiError::Forbidden(format!(
            "coordinator_id: only the lease's agent ({:?}) or an operator or admin key acting for it may record \
             its decisions; this key acts as {:?}",
            lease.agent_id,
            p.as_str()
        )));
    }
    // Whether the lease covers the intent and is unexpired is checked in the record's
    // transaction (409 naming `coordinator_id`).
    require(&state, p.as_str(), intent_id, &Permission::Write).await?;
    Ok(Json(wire(&state.store().create_decision_record(&body, &lease.agent_id, p.as_str()).await?)))
}

async fn list_decisions(
    State(state): State<AppState>,
    _p: Principal,
    Path(id): Path<String>,
    q: QueryParams,
) -> ApiResult<Json<Value>> {
    // The intent's ACL (read) is checked by `acl::enforce`.
    let limit = q.int_of(&LIMIT_50)?;
    Ok(list(&of_intent(&state, &id, state.store().list_decision_records(&id, limit).await?).await?))
}

// ----- OpenAPI ------------------------------------------------------------------------------

/// The operations of this area, for the OpenAPI document.
pub(super) const OPERATIONS: &[Op] = &[
    op("post", "/api/v1/coordinators", "createCoordinatorLease", "coordinators", "Grant a coordinator lease")
        .body(request!(CreateCoordinatorLeaseRequest))
        .reply(Reply::Model("CoordinatorLease"))
        .errors(&[404]),
    op("get", "/api/v1/coordinators/{id}", "getCoordinatorLease", "coordinators", "One coordinator lease")
        .reply(Reply::Model("CoordinatorLease")),
    op(
        "post",
        "/api/v1/coordinators/{id}/heartbeat",
        "coordinatorHeartbeat",
        "coordinators",
        "Heartbeat a coordinator lease you hold",
    )
    .reply(Reply::Model("HeartbeatResponse")),
    op(
        "get",
        "/api/v1/intents/{id}/coordinators",
        "listCoordinatorLeases",
        "coordinators",
        "Coordinator leases of an intent",
    )
    .reply(Reply::List("CoordinatorLease")),
    op("post", "/api/v1/decisions", "createDecisionRecord", "coordinators", "Record a coordinator's decision")
        .body(request!(CreateDecisionRecordRequest))
        .reply(Reply::Model("DecisionRecord"))
        .errors(&[403, 404, 409]),
    op(
        "get",
        "/api/v1/intents/{id}/coordinator-decisions",
        "listDecisionRecords",
        "coordinators",
        "Coordinator decision records of an intent, newest first",
    )
    .query(&[("limit", q_limit_50, "Page size")])
    .reply(Reply::List("DecisionRecord")),
];
