//! The HTTP routes (PROTOCOL.md §6) and their handlers.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, patch, post};
use openintent_types::wire::to_superset_value;
use openintent_types::{
    AcquireLeaseRequest, AddIntentToPortfolioRequest, AggregateStatus, AssignAgentRequest, CostSummary,
    CreateArbitrationRequest, CreateAttachmentRequest, CreateIntentRequest, CreatePortfolioRequest,
    CreateSubscriptionRequest, Intent, IntentStatus, LogEventRequest, MembershipRole, PortfolioStatus,
    RecordCostRequest, RecordDecisionRequest, RecordFailureRequest, RenewLeaseRequest, RetryStrategy,
    SetRetryPolicyRequest, SetStatusRequest, UpdatePortfolioStatusRequest, UpdateStateRequest, WireModel,
};
use serde::Serialize;
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::http::{BodySchema, JsonBody, Kind, Principal, QueryParams, if_match, opt, req, require_api_key};
use crate::state::AppState;
use crate::store::{EventFilter, IntentFilter, NewArbitration, NewDecision, NewIntent, NewPortfolio};

const INTENT_NOT_FOUND: &str = "Intent not found";
const PORTFOLIO_NOT_FOUND: &str = "Portfolio not found";

// ----- body schemas -------------------------------------------------------------------------

// The rules repeat, for the OpenAPI document, what each request's `Validate` enforces.

fn intent_statuses() -> Vec<&'static str> {
    IntentStatus::KNOWN.iter().map(IntentStatus::as_str).collect()
}

fn portfolio_statuses() -> Vec<&'static str> {
    PortfolioStatus::KNOWN.iter().map(PortfolioStatus::as_str).collect()
}

fn membership_roles() -> Vec<&'static str> {
    MembershipRole::KNOWN.iter().map(MembershipRole::as_str).collect()
}

fn retry_strategies() -> Vec<&'static str> {
    RetryStrategy::KNOWN.iter().map(RetryStrategy::as_str).collect()
}

/// The largest lease duration, as the schema's bound.
const MAX_LEASE: f64 = openintent_types::MAX_LEASE_SECONDS as f64;

impl BodySchema for CreateIntentRequest {
    const FIELDS: &'static [crate::http::Field] = &[
        req("title", Kind::Str).text(500),
        opt("description", Kind::Str),
        opt("constraints", Kind::ObjOrList),
        opt("state", Kind::Obj),
        opt("created_by", Kind::Str).text(255),
        opt("status", Kind::Str).one_of(intent_statuses),
        opt("parent_intent_id", Kind::Str).id(),
        opt("governance_policy", Kind::Obj),
        opt("depends_on", Kind::StrList),
    ];
}

impl BodySchema for UpdateStateRequest {
    const FIELDS: &'static [crate::http::Field] = &[opt("patches", Kind::Patches), opt("state", Kind::Obj)];

    /// Patches, or (the reference's form) a non-empty object of top-level keys to set.
    fn schema_extra() -> Option<Value> {
        Some(json!({"anyOf": [
            {"required": ["patches"], "properties": {"patches": {"type": "array", "minItems": 1}}},
            {"required": ["state"], "properties": {"state": {"type": "object", "minProperties": 1}}},
        ]}))
    }
}

impl BodySchema for SetStatusRequest {
    const FIELDS: &'static [crate::http::Field] =
        &[req("status", Kind::Str).one_of(intent_statuses), opt("reason", Kind::Str)];
}

impl BodySchema for LogEventRequest {
    const FIELDS: &'static [crate::http::Field] =
        &[req("event_type", Kind::Str).text(100), opt("actor", Kind::Str).text(255), opt("payload", Kind::Obj)];
}

impl BodySchema for AssignAgentRequest {
    const FIELDS: &'static [crate::http::Field] = &[opt("agent_id", Kind::Str).id(), opt("role", Kind::Str).text(64)];
    const EMPTY_OK: bool = true;
}

impl BodySchema for AcquireLeaseRequest {
    const FIELDS: &'static [crate::http::Field] =
        &[req("scope", Kind::Str).scope(), opt("duration_seconds", Kind::Int).range(1.0, MAX_LEASE)];
}

impl BodySchema for RenewLeaseRequest {
    const FIELDS: &'static [crate::http::Field] = &[opt("duration_seconds", Kind::Int).range(1.0, MAX_LEASE)];
    const EMPTY_OK: bool = true;
}

impl BodySchema for CreateArbitrationRequest {
    const FIELDS: &'static [crate::http::Field] = &[
        req("reason", Kind::Str).text(0),
        opt("requested_by", Kind::Str).text(255),
        opt("context", Kind::Obj),
        opt("options", Kind::Options),
    ];
}

impl BodySchema for RecordDecisionRequest {
    const FIELDS: &'static [crate::http::Field] = &[
        opt("decision_type", Kind::Str).text(100),
        opt("decided_by", Kind::Str).text(255),
        req("outcome", Kind::Str).text(0),
        opt("rationale", Kind::Str),
        opt("evidence", Kind::List),
    ];
}

impl BodySchema for CreateAttachmentRequest {
    const FIELDS: &'static [crate::http::Field] = &[
        req("filename", Kind::Str).text(255),
        req("mime_type", Kind::Str).mime(255),
        req("size", Kind::Int).min(0.0),
        req("storage_url", Kind::Str).text(0),
        opt("metadata", Kind::Obj),
    ];
}

impl BodySchema for RecordCostRequest {
    const FIELDS: &'static [crate::http::Field] = &[
        opt("agent_id", Kind::Str).text(255),
        req("cost_type", Kind::Str).text(100),
        req("amount", Kind::Num).range(0.0, openintent_types::validation::MAX_COST_AMOUNT),
        req("unit", Kind::Str).text(32),
        opt("provider", Kind::Str),
        opt("cost_metadata", Kind::Obj),
    ];
}

impl BodySchema for SetRetryPolicyRequest {
    const FIELDS: &'static [crate::http::Field] = &[
        req("strategy", Kind::Str).one_of(retry_strategies),
        opt("max_retries", Kind::Int).range(0.0, 1000.0),
        opt("base_delay_ms", Kind::Int).min(0.0),
        opt("max_delay_ms", Kind::Int).min(0.0),
        opt("jitter", Kind::Bool),
        opt("backoff_multiplier", Kind::Num).min(1.0),
        opt("retryable_errors", Kind::StrList),
        opt("fallback_agent_id", Kind::Str),
        opt("failure_threshold", Kind::Int).min(1.0),
    ];
}

impl BodySchema for RecordFailureRequest {
    const FIELDS: &'static [crate::http::Field] = &[
        req("error_type", Kind::Str).text(100),
        req("error_message", Kind::Str).text(0),
        req("attempt_number", Kind::Int).min(1.0),
        opt("agent_id", Kind::Str),
        opt("will_retry", Kind::Bool),
        opt("retry_scheduled_at", Kind::Time),
        opt("metadata", Kind::Obj),
    ];
}

impl BodySchema for CreatePortfolioRequest {
    const FIELDS: &'static [crate::http::Field] = &[
        req("name", Kind::Str).text(255),
        opt("created_by", Kind::Str).text(255),
        opt("description", Kind::Str),
        opt("governance_policy", Kind::Obj),
        opt("metadata", Kind::Obj),
    ];
}

impl BodySchema for UpdatePortfolioStatusRequest {
    const FIELDS: &'static [crate::http::Field] = &[req("status", Kind::Str).one_of(portfolio_statuses)];
}

impl BodySchema for AddIntentToPortfolioRequest {
    const FIELDS: &'static [crate::http::Field] = &[
        req("intent_id", Kind::Str).id(),
        opt("role", Kind::Str).one_of(membership_roles),
        opt("priority", Kind::Int),
    ];
}

impl BodySchema for CreateSubscriptionRequest {
    const FIELDS: &'static [crate::http::Field] = &[
        opt("intent_id", Kind::Str).id(),
        opt("portfolio_id", Kind::Str).id(),
        opt("subscriber_id", Kind::Str).text(255),
        opt("event_types", Kind::StrList),
        opt("webhook_url", Kind::Str).http_url(),
        opt("expires_at", Kind::Time),
    ];
    const EMPTY_OK: bool = true;
}

// ----- router -------------------------------------------------------------------------------

/// The `/api/v1` routes. Each method of each route requires a valid API key; a wrong method
/// answers 405 and an unknown path 404 without looking at the key (as the reference does).
pub fn api_routes(state: &AppState) -> Router<AppState> {
    let s = |m: MethodRouter<AppState>| m.route_layer(from_fn_with_state(state.clone(), require_api_key));
    Router::new()
        .route("/api/v1/intents", s(post(create_intent).get(list_intents)))
        .route("/api/v1/intents/{id}", s(get(get_intent)))
        .route("/api/v1/intents/{id}/state", s(post(update_state)))
        .route("/api/v1/intents/{id}/status", s(post(set_status)))
        .route("/api/v1/intents/{id}/events", s(post(log_event).get(list_events)))
        .route("/api/v1/intents/{id}/agents", s(post(assign_agent).get(list_agents)))
        .route("/api/v1/intents/{id}/agents/{agent_id}", s(delete(unassign_agent)))
        .route("/api/v1/intents/{id}/leases", s(post(acquire_lease).get(list_leases)))
        .route("/api/v1/intents/{id}/leases/{lease_id}", s(patch(renew_lease).delete(release_lease)))
        .route("/api/v1/intents/{id}/arbitrate", s(post(request_arbitration)))
        .route("/api/v1/intents/{id}/arbitrations", s(get(list_arbitrations)))
        .route("/api/v1/intents/{id}/decisions", s(post(record_decision).get(list_decisions)))
        .route("/api/v1/intents/{id}/attachments", s(post(add_attachment).get(list_attachments)))
        .route("/api/v1/intents/{id}/attachments/{attachment_id}", s(delete(delete_attachment)))
        .route("/api/v1/intents/{id}/costs", s(post(record_cost).get(list_costs)))
        .route("/api/v1/intents/{id}/costs/summary", s(get(cost_summary)))
        .route("/api/v1/intents/{id}/retry-policy", s(get(get_retry_policy).put(set_retry_policy)))
        .route("/api/v1/intents/{id}/failures", s(post(record_failure).get(list_failures)))
        .route("/api/v1/intents/{id}/portfolios", s(get(intent_portfolios)))
        .route("/api/v1/portfolios", s(post(create_portfolio).get(list_portfolios)))
        .route("/api/v1/portfolios/{id}", s(get(get_portfolio)))
        .route("/api/v1/portfolios/{id}/status", s(patch(update_portfolio_status)))
        .route("/api/v1/portfolios/{id}/intents", s(post(add_intent_to_portfolio).get(portfolio_intents)))
        .route("/api/v1/portfolios/{id}/intents/{intent_id}", s(delete(remove_intent_from_portfolio)))
        .route("/api/v1/subscriptions", s(post(create_subscription).get(list_subscriptions)))
        .route("/api/v1/subscriptions/{id}", s(delete(delete_subscription)))
        .route("/api/v1/subscriptions/{id}/deliveries", s(get(list_deliveries)))
}

/// The keyless routes: discovery, server configuration, health.
pub fn public_routes() -> Router<AppState> {
    Router::new()
        .route("/.well-known/openintent.json", get(discovery))
        .route("/.well-known/openintent-compat.json", get(compat))
        .route("/api/v1/server/config", get(server_config))
        .route("/health", get(health))
}

// ----- response helpers ---------------------------------------------------------------------

fn wire<T: Serialize + WireModel>(model: &T) -> Value {
    to_superset_value(model)
}

fn list<T: Serialize + WireModel>(items: &[T]) -> Json<Value> {
    Json(Value::Array(items.iter().map(wire).collect()))
}

/// An intent with its `ETag: "N"`.
fn intent_response(intent: &Intent) -> Response {
    let mut resp = Json(wire(intent)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", intent.version)) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    resp
}

fn merge(mut base: Value, extra: Value) -> Value {
    if let (Value::Object(b), Value::Object(e)) = (&mut base, extra) {
        for (k, v) in e {
            b.insert(k, v);
        }
    }
    base
}

/// The items of one of an intent's sub-resources; 404 `Intent not found` when the list is
/// empty because the intent does not exist (as every other intent route answers), rather than
/// an empty list.
async fn of_intent<T>(state: &AppState, intent_id: &str, items: Vec<T>) -> ApiResult<Vec<T>> {
    // Intents are never deleted and every item references its intent: a non-empty list
    // proves the intent exists.
    if items.is_empty() && state.store().get_intent(intent_id).await?.is_none() {
        return Err(ApiError::not_found(INTENT_NOT_FOUND));
    }
    Ok(items)
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|v| !v.trim().is_empty())
}

// ----- keyless ------------------------------------------------------------------------------

const RFC_URLS: &[&str] =
    &["/rfc/0001", "/rfc/0002", "/rfc/0003", "/rfc/0004", "/rfc/0005", "/rfc/0006", "/rfc/0009", "/rfc/0010"];

async fn discovery() -> Json<Value> {
    Json(json!({
        "protocol": "OpenIntent Coordination Protocol",
        "version": "0.1",
        "rfcUrls": RFC_URLS,
        "capabilities": [
            "intents", "events", "agents", "state-patches", "optimistic-concurrency", "portfolios",
            "attachments", "subscriptions", "cost-tracking", "retry-policies", "leasing", "governance",
            "governance-enforcement",
        ],
        // Served by the OpenAPI module.
        "openApiUrl": "/openapi.json",
        "implementation": "openintent-rs",
        "implementationVersion": env!("CARGO_PKG_VERSION"),
    }))
}

async fn compat() -> Json<Value> {
    Json(json!({
        "implementation": "openintent-rs",
        "version": env!("CARGO_PKG_VERSION"),
        "rfcCompliance": {
            "RFC-0001": "full", "RFC-0002": "partial", "RFC-0003": "full", "RFC-0004": "partial",
            "RFC-0005": "partial", "RFC-0006": "partial", "RFC-0009": "full", "RFC-0010": "partial",
        },
        "features": {
            "intents": true, "events": true, "agents": true, "statePatches": true,
            "optimisticConcurrency": true, "leasing": true, "leaseGuardedState": true,
            "governance": true, "governanceEnforcement": true, "portfolios": true,
            "attachments": true, "subscriptions": true, "costTracking": true, "retryPolicies": true,
            "accessControl": false, "intentListing": true, "arbitrationRecords": true,
        },
    }))
}

async fn server_config() -> Json<Value> {
    Json(json!({"protocol_version": "0.1", "suspension": {"default_retry_policy": null}}))
}

async fn health(State(state): State<AppState>) -> Response {
    match state.store().ping().await {
        Ok(_) => Json(json!({"status": "ok"})).into_response(),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"status": "unavailable"}))).into_response(),
    }
}

// ----- intents ------------------------------------------------------------------------------

fn known_status(status: &IntentStatus) -> ApiResult<()> {
    if let IntentStatus::Unknown(s) = status {
        let names: Vec<&str> = IntentStatus::KNOWN.iter().map(IntentStatus::as_str).collect();
        return Err(ApiError::invalid_field(
            "status",
            "enum",
            format!("Input should be one of {}", names.join(", ")),
            Some(json!(s)),
        ));
    }
    Ok(())
}

async fn create_intent(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<CreateIntentRequest>,
) -> ApiResult<Response> {
    let status = body.status.clone().unwrap_or_default();
    known_status(&status)?;
    if let Some(policy) = &body.governance_policy {
        crate::rules::governance::validate(policy).map_err(ApiError::Validation)?;
    }
    let new = NewIntent {
        title: body.title,
        description: body.description.unwrap_or_default(),
        created_by: non_empty(body.created_by).unwrap_or_else(|| principal.0.clone()),
        parent_id: non_empty(body.parent_intent_id),
        depends_on: body.depends_on.unwrap_or_default(),
        constraints: body.constraints.unwrap_or_default(),
        state: body.state.unwrap_or_default(),
        status,
        governance_policy: body.governance_policy,
    };
    let (intent, _event) = state.store().create_intent(new).await?;
    Ok(intent_response(&intent))
}

async fn get_intent(State(state): State<AppState>, _p: Principal, Path(id): Path<String>) -> ApiResult<Response> {
    let intent = state.store().get_intent(&id).await?.ok_or_else(|| ApiError::not_found(INTENT_NOT_FOUND))?;
    Ok(intent_response(&intent))
}

async fn list_intents(State(state): State<AppState>, _p: Principal, q: QueryParams) -> ApiResult<Json<Value>> {
    if let Some(s) = q.get("status")
        && !IntentStatus::parse(s).is_known()
    {
        return Err(ApiError::invalid_query(
            "status",
            "enum",
            "Input should be 'draft', 'active', 'blocked', 'suspended_awaiting_input', 'completed' or 'abandoned'",
            Some(json!(s)),
        ));
    }
    let filter = IntentFilter {
        status: q.get("status").map(str::to_owned),
        created_by: q.get("created_by").map(str::to_owned),
        parent_id: q.get("parent_id").or_else(|| q.get("parent_intent_id")).map(str::to_owned),
        limit: q.int("limit", 50, 1, 1000)?,
        offset: q.int("offset", 0, 0, i64::from(i32::MAX))?,
    };
    let (intents, total) = state.store().list_intents(&filter).await?;
    let items: Vec<Value> = intents.iter().map(wire).collect();
    Ok(Json(json!({"intents": items, "total": total, "limit": filter.limit, "offset": filter.offset})))
}

async fn update_state(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<UpdateStateRequest>,
) -> ApiResult<Response> {
    let version = if_match(&headers)?;
    let patches = body.effective_patches();
    let (intent, _event) = state.store().update_state(&id, version, &principal.0, &patches).await?;
    Ok(intent_response(&intent))
}

async fn set_status(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<SetStatusRequest>,
) -> ApiResult<Response> {
    known_status(&body.status)?;
    let version = if_match(&headers)?;
    let (intent, _event) =
        state.store().set_status(&id, version, &principal.0, &body.status, body.reason.as_deref()).await?;
    Ok(intent_response(&intent))
}

// ----- events -------------------------------------------------------------------------------

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

// ----- agents -------------------------------------------------------------------------------

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
    state.store().unassign_agent(&id, &agent_id, &principal.0).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ----- leases -------------------------------------------------------------------------------

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

// ----- arbitration and decisions ------------------------------------------------------------

async fn request_arbitration(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<CreateArbitrationRequest>,
) -> ApiResult<Json<Value>> {
    let new = NewArbitration {
        requested_by: non_empty(body.requested_by).unwrap_or_else(|| principal.0.clone()),
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
        decided_by: non_empty(body.decided_by).unwrap_or_else(|| principal.0.clone()),
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

// ----- attachments --------------------------------------------------------------------------

async fn add_attachment(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<CreateAttachmentRequest>,
) -> ApiResult<Json<Value>> {
    let attachment = state.store().add_attachment(&id, &body, &principal.0).await?;
    Ok(Json(wire(&attachment)))
}

async fn list_attachments(
    State(state): State<AppState>,
    _p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(list(&of_intent(&state, &id, state.store().list_attachments(&id).await?).await?))
}

async fn delete_attachment(
    State(state): State<AppState>,
    _p: Principal,
    Path((id, attachment_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    if state.store().delete_attachment(&id, &attachment_id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("Attachment not found"))
    }
}

// ----- costs --------------------------------------------------------------------------------

async fn record_cost(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<RecordCostRequest>,
) -> ApiResult<Json<Value>> {
    let agent = non_empty(body.agent_id.clone()).unwrap_or_else(|| principal.0.clone());
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

// ----- retry policies and failures ----------------------------------------------------------

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
    let agent = non_empty(body.agent_id.clone()).or_else(|| Some(principal.0.clone()));
    let failure = state.store().record_failure(&id, &body, agent).await?;
    Ok(Json(wire(&failure)))
}

async fn list_failures(State(state): State<AppState>, _p: Principal, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    Ok(list(&of_intent(&state, &id, state.store().list_failures(&id).await?).await?))
}

// ----- portfolios ---------------------------------------------------------------------------

async fn create_portfolio(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<CreatePortfolioRequest>,
) -> ApiResult<Json<Value>> {
    let new = NewPortfolio {
        name: body.name,
        description: body.description.unwrap_or_default(),
        created_by: non_empty(body.created_by).unwrap_or_else(|| principal.0.clone()),
        governance_policy: body.governance_policy.unwrap_or_default(),
        metadata: body.metadata,
    };
    let portfolio = state.store().create_portfolio(new).await?;
    Ok(Json(wire(&portfolio)))
}

async fn list_portfolios(State(state): State<AppState>, _p: Principal, q: QueryParams) -> ApiResult<Json<Value>> {
    Ok(list(&state.store().list_portfolios(q.get("created_by")).await?))
}

async fn get_portfolio(State(state): State<AppState>, _p: Principal, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let backend = state.store();
    let mut portfolio = backend.get_portfolio(&id).await?.ok_or_else(|| ApiError::not_found(PORTFOLIO_NOT_FOUND))?;
    let intents = backend.portfolio_intents(&id).await?;
    portfolio.aggregate_status = Some(AggregateStatus::from_intents(&intents));
    portfolio.intents = Some(intents);
    let mut value = wire(&portfolio);
    if let Some(Value::Array(items)) = value.get_mut("intents")
        && let Some(list) = portfolio.intents.as_ref()
    {
        *items = list.iter().map(wire).collect();
    }
    Ok(Json(value))
}

async fn update_portfolio_status(
    State(state): State<AppState>,
    _p: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<UpdatePortfolioStatusRequest>,
) -> ApiResult<Json<Value>> {
    let portfolio = state.store().update_portfolio_status(&id, &body.status).await?;
    Ok(Json(wire(&portfolio)))
}

async fn add_intent_to_portfolio(
    State(state): State<AppState>,
    _p: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<AddIntentToPortfolioRequest>,
) -> ApiResult<Json<Value>> {
    let role = body.role.clone().unwrap_or(MembershipRole::Member);
    let (membership, _message) =
        state.store().add_membership(&id, &body.intent_id, &role, body.priority.unwrap_or(0)).await?;
    let ack = json!({"message": "Intent added to portfolio", "membership_id": membership.id});
    Ok(Json(merge(wire(&membership), ack)))
}

async fn portfolio_intents(
    State(state): State<AppState>,
    _p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(list(&state.store().portfolio_intents(&id).await?))
}

async fn remove_intent_from_portfolio(
    State(state): State<AppState>,
    _p: Principal,
    Path((id, intent_id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    if state.store().remove_membership(&id, &intent_id).await?.is_none() {
        return Err(ApiError::not_found("Membership not found"));
    }
    Ok(Json(json!({"message": "Intent removed from portfolio"})))
}

async fn intent_portfolios(
    State(state): State<AppState>,
    _p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(list(&of_intent(&state, &id, state.store().intent_portfolios(&id).await?).await?))
}

// ----- subscriptions ------------------------------------------------------------------------

async fn create_subscription(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<CreateSubscriptionRequest>,
) -> ApiResult<Json<Value>> {
    if state.webhook_deny_private()
        && let Some(url) = &body.webhook_url
        && let Some(ip) = crate::webhook::literal_non_public_host(url)
    {
        return Err(ApiError::invalid_field(
            "webhook_url",
            "value_error",
            format!(
                "Value error, webhook_url host {ip} is a loopback, private, link-local or otherwise non-public \
                 address, which this server does not deliver to"
            ),
            Some(json!(url)),
        ));
    }
    let subscriber = non_empty(body.subscriber_id.clone()).unwrap_or_else(|| principal.0.clone());
    // The signing secret of webhook deliveries: returned here once, never listed again.
    let secret = crate::webhook::new_secret();
    let sub = state.store().create_subscription(&body, &subscriber, &secret).await?;
    let mut out = wire(&sub);
    if let Value::Object(map) = &mut out {
        map.insert("secret".into(), Value::String(secret));
    }
    Ok(Json(out))
}

async fn list_subscriptions(State(state): State<AppState>, _p: Principal, q: QueryParams) -> ApiResult<Json<Value>> {
    let subs =
        state.store().list_subscriptions(q.get("intent_id"), q.get("portfolio_id"), q.get("subscriber_id")).await?;
    let items: Vec<Value> = subs.iter().map(wire).collect();
    Ok(Json(json!({"subscriptions": items})))
}

async fn delete_subscription(
    State(state): State<AppState>,
    _p: Principal,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    if state.store().delete_subscription(&id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("Subscription not found"))
    }
}

/// The delivery statuses `GET /api/v1/subscriptions/{id}/deliveries` filters on.
const DELIVERY_STATUSES: [&str; 4] = ["pending", "delivered", "failed", "cancelled"];

/// The webhook deliveries of one subscription, newest first; only its subscriber may look.
async fn list_deliveries(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    q: QueryParams,
) -> ApiResult<Json<Value>> {
    let status = q.get("status");
    if let Some(s) = status
        && !DELIVERY_STATUSES.contains(&s)
    {
        return Err(ApiError::invalid_query(
            "status",
            "enum",
            "Input should be 'pending', 'delivered', 'failed' or 'cancelled'",
            Some(json!(s)),
        ));
    }
    let limit = q.int("limit", 50, 1, 1000)?;
    let offset = q.int("offset", 0, 0, i64::from(i32::MAX))?;
    let subscriber = state
        .store()
        .subscription_subscriber(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("Subscription not found"))?;
    if subscriber != principal.0 {
        return Err(ApiError::Forbidden("Only the subscription's subscriber may list its deliveries".into()));
    }
    let (deliveries, total) = state.store().list_deliveries(&id, status, limit, offset).await?;
    Ok(Json(json!({"deliveries": deliveries, "total": total, "limit": limit, "offset": offset})))
}
