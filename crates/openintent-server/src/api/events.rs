//! The event log (RFC-0002): append an event, read the log.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::post;
use openintent_types::LogEventRequest;
use serde_json::{Value, json};

use super::extract::{JsonBody, Principal, QueryParams, keyed, non_empty};
use super::reply::{list, of_intent, wire};
use super::spec::{Op, Query, Reply, op, q_limit, q_offset, q_string, request, timestamp_input_schema};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::EventFilter;

/// This area's routes, each method behind the API-key check.
pub(super) fn routes(state: &AppState) -> Router<AppState> {
    Router::new().route("/api/v1/intents/{id}/events", keyed(state, post(log_event).get(list_events)))
}

async fn log_event(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<LogEventRequest>,
) -> ApiResult<Json<Value>> {
    let actor = non_empty(body.actor).unwrap_or_else(|| principal.0.clone());
    let event = state.store().log_event(&id, body.event_type, &actor, body.payload).await?;
    Ok(Json(wire(&event)))
}

async fn list_events(
    State(state): State<AppState>,
    _p: Principal,
    Path(id): Path<String>,
    q: QueryParams,
) -> ApiResult<Json<Value>> {
    let since = match q.get("since") {
        // An unencoded `+` of a zone offset arrives as a space.
        Some(s) => Some(
            openintent_types::time::parse_timestamp(s)
                .or_else(|e| openintent_types::time::parse_timestamp(&s.replace(' ', "+")).map_err(|_| e))
                .map_err(|e| ApiError::invalid_query("since", "datetime_parsing", e.to_string(), Some(json!(s))))?,
        ),
        None => None,
    };
    let filter = EventFilter {
        event_type: q.get("event_type").map(str::to_owned),
        since,
        limit: q.int("limit", 100, 1, 1000)?,
        offset: q.int("offset", 0, 0, i64::from(i32::MAX))?,
    };
    let events = of_intent(&state, &id, state.store().list_events(&id, &filter).await?).await?;
    Ok(list(&events))
}

// ----- OpenAPI ------------------------------------------------------------------------------

const EVENT_QUERY: &[Query] = &[
    ("event_type", q_string, "Only events of this type"),
    ("since", timestamp_input_schema, "Only events created after this timestamp"),
    ("limit", q_limit, "Page size, 1 to 1000 (default 100)"),
    ("offset", q_offset, "Events to skip (default 0)"),
];

/// The operations of this area, for the OpenAPI document.
pub(super) const OPERATIONS: &[Op] = &[
    op("post", "/api/v1/intents/{id}/events", "logEvent", "events", "Append an event to the log")
        .body(request!(LogEventRequest))
        .reply(Reply::Model("IntentEvent")),
    op("get", "/api/v1/intents/{id}/events", "listEvents", "events", "Read the event log, newest first")
        .query(EVENT_QUERY)
        .reply(Reply::List("IntentEvent")),
];
