//! The append-only event log (RFC-0002) and agent assignment.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::schema::{Field, Kind, RequestSchema, opt, req, validate_fields};
use crate::validation::{self, Validate};
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
        /// An agent suspended the intent to ask a human (RFC-0025).
        IntentSuspended = "intent.suspended",
        /// A suspension timed out before an answer (RFC-0025).
        SuspensionExpired = "intent.suspension_expired",
        /// A suspension moved up its escalation ladder (RFC-0026).
        SuspensionEscalated = "intent.suspension_escalated",
        /// The operator of a suspension was notified again (RFC-0026).
        SuspensionRenotified = "intent.suspension_renotified",
        /// An agent decided whether to ask a human (RFC-0025).
        EngagementDecision = "engagement.decision",
        /// A registered agent changed status (RFC-0016).
        AgentLifecycle = "agent.lifecycle",
        /// A message of an audited channel (RFC-0021).
        ChannelMessage = "channel_message",
        /// An ACL entry expired (RFC-0011).
        AccessExpired = "access_expired",
        /// A coordinator recorded a decision (RFC-0013).
        CoordinatorDecision = "coordinator.decision",
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
        /// The distributed trace it belongs to (RFC-0020: 32 lowercase hex digits). Servers that
        /// keep it return it top-level; see [`IntentEvent::resolved_trace_id`].
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub trace_id: Option<String>,
        /// The event that caused this one (RFC-0020).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub parent_event_id: Option<String>,
    }
    aliases {
        "actor" <= ["agent_id"],
        "event_type" <= ["eventType", "type"],
        "intent_id" <= ["intentId"],
        "created_at" <= ["createdAt", "timestamp"],
        "trace_id" <= ["traceId"],
        "parent_event_id" <= ["parentEventId"],
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
            trace_id: None,
            parent_event_id: None,
        }
    }

    /// The author, under the seed's name (`event.agent_id`).
    pub fn agent_id(&self) -> &str {
        &self.actor
    }

    /// The trace id: the top-level field, else a `trace_id` string inside the payload (the
    /// reference server drops the top-level field and keeps only payload copies).
    ///
    /// ```
    /// use openintent_types::IntentEvent;
    /// let e: IntentEvent = serde_json::from_str(r#"{"id": "e", "event_type": "comment",
    ///     "payload": {"trace_id": "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6"}}"#).unwrap();
    /// assert_eq!(e.trace_id, None);
    /// assert_eq!(e.resolved_trace_id(), Some("a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6"));
    /// ```
    pub fn resolved_trace_id(&self) -> Option<&str> {
        self.trace_id.as_deref().or_else(|| self.payload.get("trace_id").and_then(Value::as_str))
    }

    /// The parent event id: the top-level field, else a `parent_event_id` string in the payload.
    pub fn resolved_parent_event_id(&self) -> Option<&str> {
        self.parent_event_id.as_deref().or_else(|| self.payload.get("parent_event_id").and_then(Value::as_str))
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
        /// The distributed trace the event belongs to (RFC-0020: 32 lowercase hex digits).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub trace_id: Option<String>,
        /// The id of the event that caused this one (RFC-0020).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub parent_event_id: Option<String>,
    }
    aliases {
        "actor" <= ["agent_id"],
        "trace_id" <= ["traceId"],
        "parent_event_id" <= ["parentEventId"],
    }
    also_emit {}
}

impl LogEventRequest {
    /// A request with an empty payload.
    pub fn new(event_type: impl Into<EventType>) -> Self {
        LogEventRequest {
            event_type: event_type.into(),
            actor: None,
            payload: Map::new(),
            trace_id: None,
            parent_event_id: None,
        }
    }

    /// Sets the trace fields (RFC-0020), top-level as the protocol defines them.
    ///
    /// ```
    /// use openintent_types::{LogEventRequest, Validate};
    /// let req = LogEventRequest::new("tool_call_started")
    ///     .with_trace("a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6", Some("e-parent".to_owned()));
    /// assert!(req.validate().is_ok());
    /// let body = serde_json::to_value(&req).unwrap();
    /// assert_eq!(body["parent_event_id"], "e-parent");
    /// ```
    pub fn with_trace(mut self, trace_id: impl Into<String>, parent_event_id: Option<String>) -> Self {
        self.trace_id = Some(trace_id.into());
        self.parent_event_id = parent_event_id;
        self
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
    /// Only events of this trace (RFC-0020; also the query of `GET /api/v1/events`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
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

// ----- request field rules (validation and the OpenAPI document read these) -----------------

impl RequestSchema for LogEventRequest {
    const FIELDS: &'static [Field] = &[
        req("event_type", Kind::Str).text(100),
        opt("actor", Kind::Str).text(255),
        opt("payload", Kind::Obj),
        opt("trace_id", Kind::Str),
        opt("parent_event_id", Kind::Str).id(),
    ];
}

impl RequestSchema for AssignAgentRequest {
    const FIELDS: &'static [Field] = &[opt("agent_id", Kind::Str).id(), opt("role", Kind::Str).text(64)];
    const EMPTY_OK: bool = true;
}

// ----- Validation ---------------------------------------------------------------------------
//
// The field rules of each request are its `RequestSchema::FIELDS` above; `validate_fields`
// enforces them. What follows them here is what the declaration does not say: rules across
// fields, on list items, on numbers JSON cannot carry.

impl Validate for LogEventRequest {
    fn validate(&self) -> validation::Result {
        validate_fields(self)?;
        if let Some(t) = &self.trace_id {
            validation::validate_trace_id(t)?;
        }
        if let Some(p) = &self.parent_event_id {
            validation::validate_id("parent_event_id", p)?;
        }
        Ok(())
    }
}

impl Validate for AssignAgentRequest {
    fn validate(&self) -> validation::Result {
        validate_fields(self)
    }
}
