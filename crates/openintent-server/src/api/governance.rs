//! Governance (RFC-0013 and the governance guide, PROTOCOL-AGENTS.md §4): an intent's policy
//! (set, read with its effective values, remove), approval requests and their decisions, and
//! escalations to a human.
//!
//! Beyond the reference: approvals can be listed (`GET …/approvals`), nobody decides their own
//! request unless the policy sets `allow_self_approval`, quorum counts distinct approving
//! agents among the assigned ones, lifting a completion gate needs an approved
//! `change_governance_policy` request, and a resolved escalation stays resolved.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use openintent_types::schema::{Field, RequestSchema};
use openintent_types::wire::WireModel;
use openintent_types::{ApprovalStatus, EscalationStatus};
use openintent_types::{
    CreateApprovalRequest, CreateEscalationRequest, DecideApprovalRequest, GovernancePolicy, Intent, JsonObject,
    Permission, ResolveEscalationRequest,
};
use openintent_types::{InputValidationError, Validate};
use serde_json::{Value, json};

use super::acl::{permits, require};
use super::extract::{JsonBody, Principal, QueryParams, enum_schema, if_match, keyed, one_of_query};
use super::reply::{INTENT_NOT_FOUND, list, wire};
use super::spec::{Header, Op, Reply, op, q_string, reference, request};
use crate::error::{ApiError, ApiResult};
use crate::rules::governance::{CompletionMode, Policy};
use crate::state::AppState;
use crate::store::governance::NewApproval;

/// This area's routes, each method behind the API-key check.
pub(super) fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/api/v1/intents/{id}/governance", keyed(state, put(set_policy).get(get_policy).delete(remove_policy)))
        .route("/api/v1/intents/{id}/approvals", keyed(state, post(request_approval).get(list_approvals)))
        .route("/api/v1/intents/{id}/approvals/{aid}", keyed(state, get(get_approval)))
        .route("/api/v1/intents/{id}/approvals/{aid}/approve", keyed(state, post(approve)))
        .route("/api/v1/intents/{id}/approvals/{aid}/deny", keyed(state, post(deny)))
        .route("/api/v1/intents/{id}/escalations", keyed(state, post(escalate)))
        .route("/api/v1/escalations", keyed(state, get(list_escalations)))
        .route("/api/v1/escalations/{eid}", keyed(state, get(get_escalation)))
        .route("/api/v1/escalations/{eid}/resolve", keyed(state, post(resolve_escalation)))
}

/// The body of `PUT …/governance`: a [`GovernancePolicy`] kept as sent (unknown keys and number
/// forms included), checked by the policy's field rules and `Validate`.
#[derive(Debug, Clone, serde::Deserialize)]
struct GovernancePolicyBody(JsonObject);

impl RequestSchema for GovernancePolicyBody {
    const FIELDS: &'static [Field] = GovernancePolicy::FIELDS;
}

impl WireModel for GovernancePolicyBody {
    const READ_ALIASES: &'static [(&'static str, &'static [&'static str])] = GovernancePolicy::READ_ALIASES;
    const ALSO_EMIT: &'static [(&'static str, &'static str)] = &[];
}

impl Validate for GovernancePolicyBody {
    fn validate(&self) -> Result<(), InputValidationError> {
        GovernancePolicy::from_map(&self.0).map_err(|e| InputValidationError::new("body", e.to_string()))?.validate()
    }
}

fn intent_response(intent: &Intent) -> Response {
    let mut resp = Json(wire(intent)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", intent.version)) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    resp
}

async fn set_policy(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(GovernancePolicyBody(policy)): JsonBody<GovernancePolicyBody>,
) -> ApiResult<Response> {
    let version = if_match(&headers)?;
    let (intent, _) = state.store().change_governance_policy(&id, version, &principal.0, Some(policy)).await?;
    Ok(intent_response(&intent))
}

async fn remove_policy(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let version = if_match(&headers)?;
    let (intent, _) = state.store().change_governance_policy(&id, version, &principal.0, None).await?;
    Ok(intent_response(&intent))
}

/// The policy as stored (`{}` when none) and as the rules read it, defaults filled in.
async fn get_policy(State(state): State<AppState>, _p: Principal, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let intent = state.store().get_intent(&id).await?.ok_or_else(|| ApiError::not_found(INTENT_NOT_FOUND))?;
    let p = Policy::from_stored(intent.governance_policy.as_ref());
    let mode = match p.completion_mode {
        CompletionMode::Auto => "auto",
        CompletionMode::RequireApproval => "require_approval",
        CompletionMode::Quorum => "quorum",
    };
    let effective = json!({
        "completion_mode": mode,
        "write_scope": if p.assigned_only { "assigned_only" } else { "any" },
        "quorum_threshold": p.quorum_threshold,
        "allowed_agents": p.allowed_agents,
        "max_cost": p.max_cost,
        "require_status_reason": p.require_status_reason,
        "allow_self_approval": p.allow_self_approval,
    });
    Ok(Json(json!({
        "intent_id": intent.id,
        "governance_policy": intent.governance_policy.unwrap_or_default(),
        "effective_policy": effective,
    })))
}

async fn request_approval(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<CreateApprovalRequest>,
) -> ApiResult<Json<Value>> {
    let new = NewApproval {
        action: body.action,
        reason: body.reason.unwrap_or_default(),
        context: body.context.unwrap_or_default(),
        requested_by: principal.acting_as("requested_by", body.requested_by.as_deref())?,
    };
    Ok(Json(wire(&state.store().request_approval(&id, new).await?)))
}

async fn list_approvals(
    State(state): State<AppState>,
    _p: Principal,
    Path(id): Path<String>,
    query: QueryParams,
) -> ApiResult<Json<Value>> {
    let status = query.get("status");
    one_of_query("status", status, &ApprovalStatus::known_names())?;
    if state.store().get_intent(&id).await?.is_none() {
        return Err(ApiError::not_found(INTENT_NOT_FOUND));
    }
    Ok(list(&state.store().list_approvals(&id, status).await?))
}

async fn get_approval(
    State(state): State<AppState>,
    _p: Principal,
    Path((id, aid)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    match state.store().get_approval(&id, &aid).await? {
        Some(a) => Ok(Json(wire(&a))),
        // As every read of an unknown intent.
        None if state.store().get_intent(&id).await?.is_none() => Err(ApiError::not_found(INTENT_NOT_FOUND)),
        None => Err(ApiError::not_found("Approval request not found")),
    }
}

async fn decide(
    state: &AppState,
    principal: &Principal,
    id: &str,
    aid: &str,
    body: DecideApprovalRequest,
    approve: bool,
) -> ApiResult<Json<Value>> {
    // The decider is the caller unless its role may act for others.
    let by = principal.acting_as("decided_by", body.decided_by.as_deref())?;
    let approval = state.store().decide_approval(id, aid, &by, approve, body.reason).await?;
    Ok(Json(wire(&approval)))
}

async fn approve(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, aid)): Path<(String, String)>,
    JsonBody(body): JsonBody<DecideApprovalRequest>,
) -> ApiResult<Json<Value>> {
    decide(&state, &principal, &id, &aid, body, true).await
}

async fn deny(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, aid)): Path<(String, String)>,
    JsonBody(body): JsonBody<DecideApprovalRequest>,
) -> ApiResult<Json<Value>> {
    decide(&state, &principal, &id, &aid, body, false).await
}

async fn escalate(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<CreateEscalationRequest>,
) -> ApiResult<Json<Value>> {
    let by = principal.acting_as("escalated_by", body.escalated_by.as_deref())?;
    Ok(Json(wire(&state.store().create_escalation(&id, &body, &by).await?)))
}

async fn list_escalations(State(state): State<AppState>, p: Principal, query: QueryParams) -> ApiResult<Json<Value>> {
    let status = query.get("status");
    one_of_query("status", status, &EscalationStatus::known_names())?;
    // Only the escalations of intents the caller may read (their ACLs).
    let mut items = Vec::new();
    for e in state.store().list_escalations(query.get("intent_id"), status).await? {
        if permits(&state, p.as_str(), &e.intent_id, &Permission::Read).await? {
            items.push(wire(&e));
        }
    }
    Ok(Json(json!({ "escalations": items })))
}

async fn get_escalation(
    State(state): State<AppState>,
    p: Principal,
    Path(eid): Path<String>,
) -> ApiResult<Json<Value>> {
    match state.store().get_escalation(&eid).await? {
        Some(e) => {
            require(&state, p.as_str(), &e.intent_id, &Permission::Read).await?;
            Ok(Json(wire(&e)))
        }
        None => Err(ApiError::not_found("Escalation not found")),
    }
}

async fn resolve_escalation(
    State(state): State<AppState>,
    principal: Principal,
    Path(eid): Path<String>,
    JsonBody(body): JsonBody<ResolveEscalationRequest>,
) -> ApiResult<Json<Value>> {
    // Resolving writes to the escalated intent's log: the caller needs `write` there.
    if let Some(e) = state.store().get_escalation(&eid).await? {
        require(&state, principal.as_str(), &e.intent_id, &Permission::Write).await?;
    }
    let by = principal.acting_as("resolved_by", body.resolved_by.as_deref())?;
    Ok(Json(wire(&state.store().resolve_escalation(&eid, &body, &by).await?)))
}

// ----- OpenAPI ------------------------------------------------------------------------------

fn governance_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "intent_id": {"type": "string"},
            "governance_policy": {"type": "object"},
            "effective_policy": {"type": "object"},
        },
        "required": ["intent_id", "governance_policy", "effective_policy"],
    })
}

fn escalation_list_schema() -> Value {
    json!({
        "type": "object",
        "properties": {"escalations": {"type": "array", "items": reference("Escalation")}},
        "required": ["escalations"],
    })
}

/// The operations of this area, for the OpenAPI document.
pub(super) const OPERATIONS: &[Op] = &[
    op(
        "put",
        "/api/v1/intents/{id}/governance",
        "setGovernancePolicy",
        "governance",
        "Replace the policy (version-checked, governed)",
    )
    .body(request!(GovernancePolicy))
    .headers(&[Header::IfMatch])
    .reply(Reply::Model("Intent"))
    .errors(&[400, 409]),
    op(
        "get",
        "/api/v1/intents/{id}/governance",
        "getGovernancePolicy",
        "governance",
        "The policy and its effective values",
    )
    .reply(Reply::Json(governance_schema)),
    op(
        "delete",
        "/api/v1/intents/{id}/governance",
        "removeGovernancePolicy",
        "governance",
        "Remove the policy (version-checked, governed)",
    )
    .headers(&[Header::IfMatch])
    .reply(Reply::Model("Intent"))
    .errors(&[400, 409]),
    op("post", "/api/v1/intents/{id}/approvals", "requestApproval", "governance", "Request an approval")
        .body(request!(CreateApprovalRequest))
        .reply(Reply::Model("Approval")),
    op("get", "/api/v1/intents/{id}/approvals", "listApprovals", "governance", "Approvals of an intent, oldest first")
        .query(&[("status", q_approval_status, "Only approvals with this status")])
        .reply(Reply::List("Approval")),
    op("get", "/api/v1/intents/{id}/approvals/{aid}", "getApproval", "governance", "One approval")
        .reply(Reply::Model("Approval")),
    op(
        "post",
        "/api/v1/intents/{id}/approvals/{aid}/approve",
        "approveApproval",
        "governance",
        "Approve a pending request",
    )
    .body(request!(DecideApprovalRequest))
    .reply(Reply::Model("Approval"))
    .errors(&[409]),
    op("post", "/api/v1/intents/{id}/approvals/{aid}/deny", "denyApproval", "governance", "Deny a pending request")
        .body(request!(DecideApprovalRequest))
        .reply(Reply::Model("Approval"))
        .errors(&[409]),
    op("post", "/api/v1/intents/{id}/escalations", "escalateToHuman", "governance", "Escalate to a human")
        .body(request!(CreateEscalationRequest))
        .reply(Reply::Model("Escalation")),
    op("get", "/api/v1/escalations", "listEscalations", "governance", "Escalations, newest first")
        .query(&[
            ("intent_id", q_string, "Only escalations of this intent"),
            ("status", q_escalation_status, "Only escalations with this status"),
        ])
        .reply(Reply::Json(escalation_list_schema)),
    op("get", "/api/v1/escalations/{eid}", "getEscalation", "governance", "One escalation")
        .reply(Reply::Model("Escalation")),
    op("post", "/api/v1/escalations/{eid}/resolve", "resolveEscalation", "governance", "Resolve a pending escalation")
        .body(request!(ResolveEscalationRequest))
        .reply(Reply::Model("Escalation"))
        .errors(&[409]),
];

fn q_approval_status() -> Value {
    enum_schema(&ApprovalStatus::known_names())
}

fn q_escalation_status() -> Value {
    enum_schema(&EscalationStatus::known_names())
}
