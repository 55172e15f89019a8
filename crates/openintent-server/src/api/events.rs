//! The event log (RFC-0002): append an event, read the log.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use openintent_types::LogEventRequest;
use serde_json::{Value, json};

use super::extract::{JsonBody, Principal, QueryParams, keyed};
use super::reply::{list, of_intent, wire};
use super::spec::{
    LIMIT_100, OFFSET, Op, Query, Reply, op, q_limit_100, q_offset, q_string, request, timestamp_input_schema,
};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::{EventFilter, Trace};

/// This area's routes, each method behind the API-key check.
pub(super) fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/api/v1/intents/{id}/events", keyed(state, post(log_event).get(list_events)))
        .route("/api/v1/events", keyed(state, get(events_of_trace)))
}

async fn log_event(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<LogEventRequest>,
) -> ApiResult<Json<Value>> {
    let actor = principal.acting_as("actor", body.actor.as_deref())?;
    // Clients that only put the tracing fields in the payload (as the reference keeps them)
    // get them stored top-level too.
    let from_payload = |key: &str| body.payload.get(key).and_then(Value::as_str).map(str::to_owned);
    let trace_id = body
        .trace_id
        .or_else(|| from_payload("trace_id").filter(|t| openintent_types::validation::validate_trace_id(t).is_ok()));
    let parent_event_id = body.parent_event_id.or_else(|| {
        from_payload("parent_event_id")
            .filter(|p| openintent_types::validation::validate_id("parent_event_id", p).is_ok())
    });
    if let Some(trace_id) = &trace_id {
        crate::telemetry::record_trace_id(trace_id);
    }
    let trace = Trace { trace_id, parent_event_id };
    let event = state.store().log_event(&id, body.event_type, &actor, body.payload, trace).await?;
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
        limit: q.int_of(&LIMIT_100)?,
        offset: q.int_of(&OFFSET)?,
    };
    let events = of_intent(&state, &id, state.store().list_events(&id, &filter).await?).await?;
    Ok(list(&events))
}

/// `GET /api/v1/events?trace_id=` (RFC-0020): the events of one trace across intents, oldest
/// first, leaving out those of intents whose ACL does not let the caller read them.
async fn events_of_trace(State(state): State<AppState>, p: Principal, q: QueryParams) -> ApiResult<Json<Value>> {
    let trace_id =
        q.get("trace_id").ok_or_else(|| ApiError::invalid_query("trace_id", "missing", "Field required", None))?;
    openintent_types::validation::validate_trace_id(trace_id)
        .map_err(|e| ApiError::invalid_query("trace_id", "value_error", e.to_string(), Some(json!(trace_id))))?;
    crate::telemetry::record_trace_id(trace_id);
    let page = (q.int_of(&LIMIT_100)?, q.int_of(&OFFSET)?);
    Ok(list(&state.store().events_of_trace(trace_id, page, p.as_str()).await?))
}

// ----- OpenAPI ------------------------------------------------------------------------------

const EVENT_QUERY: &[Query] = &[
    ("event_type", q_string, "Only events of this type"),
    ("since", timestamp_input_schema, "Only events created after this timestamp"),
    ("limit", q_limit_100, "Page size"),
    ("offset", q_offset, "Events to skip"),
];

const TRACE_QUERY: &[Query] = &[
    ("trace_id", q_string, "The trace: 32 lowercase hexadecimal digits (required)"),
    ("limit", q_limit_100, "Page size"),
    ("offset", q_offset, "Events of the trace to skip"),
];

/// The operations of this area, for the OpenAPI document.
pub(super) const OPERATIONS: &[Op] = &[
    op("post", "/api/v1/intents/{id}/events", "logEvent", "events", "Append an event to the log")
        .body(request!(LogEventRequest))
        .reply(Reply::Model("IntentEvent")),
    op("get", "/api/v1/intents/{id}/events", "listEvents", "events", "Read the event log, newest first")
        .query(EVENT_QUERY)
        .reply(Reply::List("IntentEvent")),
    op("get", "/api/v1/events", "eventsOfTrace", "events", "The events of one trace (RFC-0020), oldest first")
        .query(TRACE_QUERY)
        .reply(Reply::List("IntentEvent")),
];
