//! The append-only event log (RFC-0002) and agent assignment.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::wire::null_as_default;

wire_enum! {
    /// The type of a log event (PROTOCOL.md §4.3). Servers write some; `log_event` accepts any
    /// string, kept as `Unknown`. Reading maps the legacy `created` and `state_updated`.
    #[derive(Default)]
    pub enum EventType {
        /// An intent was created.
        IntentCreated = "intent_created" | "created",
        /// The state was patched.
        StatePatched = "state_patched" | "state_updated",
        /// The status changed.
        StatusChanged = "status_changed",
        /// An agent was assigned.
        AgentAssigned = "agent_assigned",
        /// An agent was unassigned.
        AgentUnassigned = "agent_unassigned",
        /// A lease was acquired.
        LeaseAcquired = "lease_acquired",
        /// A lease was renewed.
        LeaseRenewed = "lease_renewed",
        /// A lease was released.
        LeaseReleased = "lease_released",
        /// Arbitration was requested.
        ArbitrationRequested = "arbitration_requested",
        /// A decision was recorded.
        DecisionRecorded = "decision_recorded",
        /// A governance rule refused a request.
        GovernanceViolation = "governance.violation",
        /// A governance policy was set.
        GovernancePolicySet = "governance.policy_set",
        /// A governance policy was removed.
        GovernancePolicyRemoved = "governance.policy_removed",
        /// An approval was granted.
        GovernanceApprovalGranted = "governance.approval_granted",
        /// An approval was denied.
        GovernanceApprovalDenied = "governance.approval_denied",
        /// An escalation started.
        EscalationInitiated = "escalation_initiated",
        /// An escalation ended.
        EscalationResolved = "escalation_resolved",
        /// A dependency was added.
        DependencyAdded = "dependency_added",
        /// A dependency was removed.
        DependencyRemoved = "dependency_removed",
        /// A suspended intent resumed.
        IntentResumed = "intent.resumed",
        /// Access was granted.
        AccessGranted = "access_granted",
        /// Access was revoked.
        AccessRevoked = "access_revoked",
        /// Access was requested.
        AccessRequested = "access_requested",
        /// An access request was approved.
        AccessRequestApproved = "access_request_approved",
        /// An access request was denied.
        AccessRequestDenied = "access_request_denied",
        /// A free-form comment.
        #[default]
        Comment = "comment",
        /// A constraint was added.
        ConstraintAdded = "constraint_added",
        /// A constraint was removed.
        ConstraintRemoved = "constraint_removed",
        /// An attachment was added.
        AttachmentAdded = "attachment_added",
        /// A portfolio was created.
        PortfolioCreated = "portfolio_created",
        /// The intent joined a portfolio.
        AddedToPortfolio = "added_to_portfolio",
        /// The intent left a portfolio.
        RemovedFromPortfolio = "removed_from_portfolio",
        /// A failure was recorded.
        FailureRecorded = "failure_recorded",
        /// A tool call started.
        ToolCallStarted = "tool_call_started",
        /// A tool call completed.
        ToolCallCompleted = "tool_call_completed",
        /// A tool call failed.
        ToolCallFailed = "tool_call_failed",
        /// An LLM request started.
        LlmRequestStarted = "llm_request_started",
        /// An LLM request completed.
        LlmRequestCompleted = "llm_request_completed",
        /// An LLM request failed.
        LlmRequestFailed = "llm_request_failed",
        /// A stream started.
        StreamStarted = "stream_started",
        /// A stream chunk arrived.
        StreamChunk = "stream_chunk",
        /// A stream completed.
        StreamCompleted = "stream_completed",
        /// A stream was cancelled.
        StreamCancelled = "stream_cancelled",
        /// A budget threshold was crossed (RFC-0009).
        BudgetAlert = "budget_alert",
        /// A fallback agent took over (RFC-0010).
        FallbackTriggered = "fallback_triggered",
        /// A portfolio member was suspended.
        PortfolioMemberSuspended = "portfolio.member_suspended",
        /// A portfolio member resumed.
        PortfolioMemberResumed = "portfolio.member_resumed",
    }
}

wire_model! {
    /// One entry of an intent's event log (PROTOCOL.md §5.2).
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct IntentEvent {
        /// Event id.
        pub id: String,
        /// The intent it belongs to.
        #[serde(default, deserialize_with = "null_as_default")]
        pub intent_id: String,
        /// Its type.
        pub event_type: EventType,
        /// Who caused it (read from `actor`, or the legacy `agent_id`).
        #[serde(default, deserialize_with = "null_as_default")]
        pub actor: String,
        /// Type-specific data.
        #[serde(default, deserialize_with = "null_as_default")]
        pub payload: Map<String, Value>,
        /// When it was appended.
        #[serde(with = "crate::time::wire", default)]
        pub created_at: DateTime<Utc>,
    }
    aliases {
        "actor" <= ["agent_id"],
        "event_type" <= ["eventType", "type"],
        "intent_id" <= ["intentId"],
        "created_at" <= ["createdAt", "timestamp"],
    }
    also_emit {}
}

impl IntentEvent {
    /// An event stamped now.
    pub fn new(
        id: impl Into<String>,
        intent_id: impl Into<String>,
        event_type: impl Into<EventType>,
        actor: impl Into<String>,
    ) -> Self {
        IntentEvent {
            id: id.into(),
            intent_id: intent_id.into(),
            event_type: event_type.into(),
            actor: actor.into(),
            payload: Map::new(),
            created_at: crate::time::now(),
        }
    }

    /// The author, under the seed's name (`event.agent_id`).
    pub fn agent_id(&self) -> &str {
        &self.actor
    }
}

wire_model! {
    /// Body of `POST /api/v1/intents/{id}/events` (`log_event`).
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct LogEventRequest {
        /// The event type (any string).
        pub event_type: EventType,
        /// Author; the reference requires it, so clients fill in their agent id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub actor: Option<String>,
        /// Event data.
        #[serde(default, deserialize_with = "null_as_default")]
        pub payload: Map<String, Value>,
    }
    aliases { "actor" <= ["agent_id"] }
    also_emit {}
}

impl LogEventRequest {
    /// A request with an empty payload.
    pub fn new(event_type: impl Into<EventType>) -> Self {
        LogEventRequest { event_type: event_type.into(), actor: None, payload: Map::new() }
    }
}

/// Query of `GET /api/v1/intents/{id}/events` (`get_events`). Results are newest first.
#[derive(Debug, Clone, PartialEq, Default, Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct EventQuery {
    /// Only events of this type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_type: Option<EventType>,
    /// Only events created strictly after this instant.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::time::rfc3339_opt")]
    pub since: Option<DateTime<Utc>>,
    /// Page size (servers default to 100; 1-1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Items to skip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u32>,
}

wire_model! {
    /// An agent's assignment to an intent (PROTOCOL.md §5.3).
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct AgentAssignment {
        /// Assignment id.
        pub id: String,
        /// The intent.
        #[serde(default, deserialize_with = "null_as_default")]
        pub intent_id: String,
        /// The agent.
        pub agent_id: String,
        /// Role (default `worker`).
        #[serde(default, deserialize_with = "null_as_default")]
        pub role: String,
        /// When it was made.
        #[serde(with = "crate::time::wire", default)]
        pub assigned_at: DateTime<Utc>,
    }
    aliases {
        "agent_id" <= ["agentId"],
        "intent_id" <= ["intentId"],
        "assigned_at" <= ["assignedAt", "created_at"],
    }
    also_emit {}
}

wire_model! {
    /// Body of `POST /api/v1/intents/{id}/agents` (`assign_agent`).
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct AssignAgentRequest {
        /// The agent; clients default it to their own agent id, servers to the caller.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub agent_id: Option<String>,
        /// Role (servers default it to `worker`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub role: Option<String>,
    }
    aliases { "agent_id" <= ["agentId"] }
    also_emit {}
}

impl AssignAgentRequest {
    /// Assign `agent_id` with the default role.
    pub fn new(agent_id: impl Into<String>) -> Self {
        AssignAgentRequest { agent_id: Some(agent_id.into()), role: None }
    }
}
