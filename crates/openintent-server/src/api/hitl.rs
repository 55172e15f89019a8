//! Human-in-the-loop (RFC-0025/0026, PROTOCOL-AGENTS.md §3): suspend an intent with a question,
//! and answer it.
//!
//! `POST /api/v1/intents/{id}/suspend` (not served by the reference, where the agent writes the
//! status, the `_suspension` state record and the `intent.suspended` event itself) does the
//! three in one version-checked write and starts the suspension's timer (timeout, retry policy;
//! see `crate::suspensions`). `POST /api/v1/intents/{id}/suspend/respond` checks the answer,
//! stores it in the record (which the reference loses), and resumes the intent.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use openintent_types::{RespondToSuspensionRequest, SuspendRequest};
use serde_json::Value;

use super::extract::{JsonBody, Principal, if_match, keyed};
use super::reply::wire;
use super::spec::{Header, Op, Reply, op, request};
use crate::error::ApiResult;
use crate::state::AppState;

/// This area's routes, each method behind the API-key check.
pub(super) fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/api/v1/intents/{id}/suspend", keyed(state, post(suspend)))
        .route("/api/v1/intents/{id}/suspend/respond", keyed(state, post(respond)))
}

async fn suspend(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<SuspendRequest>,
) -> ApiResult<Response> {
    let version = if_match(&headers)?;
    let (intent, _record) = state.store().suspend_intent(&id, Some(version), &principal.0, body).await?;
    let mut resp = Json(wire(&intent)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", intent.version)) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    Ok(resp)
}

async fn respond(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<RespondToSuspensionRequest>,
) -> ApiResult<Json<Value>> {
    let responded_by = principal.acting_as("responded_by", body.responded_by.as_deref())?;
    let (_intent, answer) = state.store().respond_to_suspension(&id, &responded_by, &body).await?;
    Ok(Json(wire(&answer)))
}

// ----- OpenAPI ------------------------------------------------------------------------------

/// The operations of this area, for the OpenAPI document.
pub(super) const OPERATIONS: &[Op] = &[
    op(
        "post",
        "/api/v1/intents/{id}/suspend",
        "suspendIntent",
        "hitl",
        "Suspend an intent with a question (version-checked)",
    )
    .body(request!(SuspendRequest))
    .headers(&[Header::IfMatch])
    .reply(Reply::Model("Intent"))
    .errors(&[400, 409]),
    op("post", "/api/v1/intents/{id}/suspend/respond", "respondToSuspension", "hitl", "Answer the intent's suspension")
        .body(request!(RespondToSuspensionRequest))
        .reply(Reply::Model("InputResponse"))
        .errors(&[409]),
];
