//! Governance (RFC-0013 and the governance guide, PROTOCOL-AGENTS.md §4): an intent's policy
//! ([`GovernancePolicy`], `PUT /api/v1/intents/{id}/governance`), approval requests and their
//! decisions ([`Approval`]), and escalations to a human ([`Escalation`]).
//!
//! Escalation routes: `POST /api/v1/intents/{id}/escalations` ([`CreateEscalationRequest`]),
//! `GET /api/v1/escalations` ([`EscalationQuery`]; answer `{"escalations": [...]}`, read with
//! [`crate::wire::ListBody`]), `GET /api/v1/escalations/{id}`,
//! `POST /api/v1/escalations/{id}/resolve` ([`ResolveEscalationRequest`]); each answers an
//! [`Escalation`].

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::schema::{Field, Kind, RequestSchema, opt, req, validate_fields};
use crate::validation::{InputValidationError, Validate, fail, require_text_max};
use crate::wire::null_as_default;

wire_enum! {
    /// How an intent may reach `completed` (governance policy `completion_mode`).
    #[derive(Default)]
    pub enum CompletionMode {
        /// No gate (the default; unknown modes behave like it on the reference).
        #[default]
        Auto = "auto",
        /// An approved approval request for the action `complete` is needed.
        RequireApproval = "require_approval",
        /// A quorum of the assigned agents must approve.
        Quorum = "quorum",
    }
}

wire_enum! {
    /// Who may write an intent (governance policy `write_scope`).
    #[derive(Default)]
    pub enum WriteScope {
        /// Anyone (the default).
        #[default]
        Any = "any",
        /// Only the agents assigned to the intent.
        AssignedOnly = "assigned_only",
    }
}

/// The quorum threshold when a policy sets none.
pub const DEFAULT_QUORUM_THRESHOLD: f64 = 0.6;

/// The approval action that gates completion.
pub const COMPLETE_ACTION: &str = "complete";

wire_model! {
    /// An intent's governance policy (`governance_policy`; the body of
    /// `PUT /api/v1/intents/{id}/governance`, sent with `If-Match`). Absent keys take their
    /// defaults ([`GovernancePolicy::effective`]); unknown keys are kept in `extra`.
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct GovernancePolicy {
        /// How the intent may complete.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub completion_mode: Option<CompletionMode>,
        /// For `quorum`: the share of assigned agents that must approve, in (0, 1].
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub quorum_threshold: Option<f64>,
        /// Who may write.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub write_scope: Option<WriteScope>,
        /// The only agents allowed to write (empty: everyone).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub allowed_agents: Option<Vec<String>>,
        /// The most the intent may cost (sum of its cost records).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub max_cost: Option<f64>,
        /// Whether status changes need a `reason`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub require_status_reason: Option<bool>,
        /// Other keys, stored and returned as they are.
        #[serde(flatten)]
        pub extra: Map<String, Value>,
    }
    aliases {
        "completion_mode" <= ["completionMode"],
        "quorum_threshold" <= ["quorumThreshold"],
        "write_scope" <= ["writeScope"],
        "allowed_agents" <= ["allowedAgents"],
        "max_cost" <= ["maxCost"],
        "require_status_reason" <= ["requireStatusReason"],
    }
    also_emit {}
}

impl GovernancePolicy {
    /// Reads the policy an [`crate::Intent`] carries as a JSON object.
    pub fn from_map(map: &Map<String, Value>) -> Result<GovernancePolicy, serde_json::Error> {
        serde_json::from_value(Value::Object(map.clone()))
    }

    /// The policy with every default filled in.
    ///
    /// ```
    /// use openintent_types::{CompletionMode, GovernancePolicy};
    /// let p: GovernancePolicy = serde_json::from_str(r#"{"completion_mode": "quorum"}"#).unwrap();
    /// let e = p.effective();
    /// assert_eq!((&e.completion_mode, e.quorum_threshold), (&CompletionMode::Quorum, 0.6));
    /// assert_eq!(e.required_approvals(4), 2);
    /// ```
    pub fn effective(&self) -> EffectivePolicy {
        EffectivePolicy {
            completion_mode: self.completion_mode.clone().unwrap_or_default(),
            write_scope: self.write_scope.clone().unwrap_or_default(),
            quorum_threshold: self.quorum_threshold.unwrap_or(DEFAULT_QUORUM_THRESHOLD),
            allowed_agents: self.allowed_agents.clone().unwrap_or_default(),
            max_cost: self.max_cost,
            require_status_reason: self.require_status_reason.unwrap_or(false),
        }
    }
}

impl Validate for GovernancePolicy {
    /// The checks of the PUT route, which the protocol applies wherever a policy is stored
    /// (also on intent creation): the field rules of [`RequestSchema::FIELDS`] (known mode and
    /// scope, `max_cost` not negative), and what that declaration cannot say: threshold in
    /// (0, 1], numbers finite, agent ids not blank.
    fn validate(&self) -> Result<(), InputValidationError> {
        validate_fields(self)?;
        if let Some(t) = self.quorum_threshold
            && !(t.is_finite() && t > 0.0 && t <= 1.0)
        {
            return fail("quorum_threshold", format_args!("must be a number in (0, 1], got {t}"));
        }
        // JSON has no non-finite numbers, so the declaration cannot see them.
        if let Some(c) = self.max_cost
            && !c.is_finite()
        {
            return fail("max_cost", format_args!("must be a non-negative number, got {c}"));
        }
        for (i, a) in self.allowed_agents.iter().flatten().enumerate() {
            require_text_max(&format!("allowed_agents.{i}"), a, 255)?;
        }
        Ok(())
    }
}

/// A governance policy with its defaults filled in (`effective_policy`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct EffectivePolicy {
    /// How the intent may complete.
    #[serde(default)]
    pub completion_mode: CompletionMode,
    /// Who may write.
    #[serde(default)]
    pub write_scope: WriteScope,
    /// The quorum share.
    #[serde(default = "default_threshold")]
    pub quorum_threshold: f64,
    /// The only agents allowed to write (empty: everyone).
    #[serde(default, deserialize_with = "null_as_default")]
    pub allowed_agents: Vec<String>,
    /// The cost ceiling, if any.
    #[serde(default)]
    pub max_cost: Option<f64>,
    /// Whether status changes need a reason.
    #[serde(default, deserialize_with = "null_as_default")]
    pub require_status_reason: bool,
}

fn default_threshold() -> f64 {
    DEFAULT_QUORUM_THRESHOLD
}

impl EffectivePolicy {
    /// Approvals a `quorum` completion needs with `assigned` agent assignments:
    /// `max(1, ⌊assigned × quorum_threshold⌋)`.
    pub fn required_approvals(&self, assigned: usize) -> usize {
        ((assigned as f64 * self.quorum_threshold).floor() as usize).max(1)
    }
}

wire_model! {
    /// Answer of `GET /api/v1/intents/{id}/governance`.
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct IntentGovernance {
        /// The intent.
        #[serde(default, deserialize_with = "null_as_default")]
        pub intent_id: String,
        /// The stored policy (`{}` when none).
        #[serde(default, deserialize_with = "null_as_default")]
        pub governance_policy: GovernancePolicy,
        /// The policy with defaults.
        #[serde(default, deserialize_with = "null_as_default")]
        pub effective_policy: EffectivePolicy,
    }
    aliases { "governance_policy" <= ["governancePolicy"], "effective_policy" <= ["effectivePolicy"] }
    also_emit {}
}

wire_enum! {
    /// The status of an approval request.
    #[derive(Default)]
    pub enum ApprovalStatus {
        /// Waiting (the default).
        #[default]
        Pending = "pending",
        /// Granted.
        Approved = "approved",
        /// Refused.
        Denied = "denied",
    }
}

wire_model! {
    /// Body of `POST /api/v1/intents/{id}/approvals`.
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct CreateApprovalRequest {
        /// The action to approve ([`COMPLETE_ACTION`] gates completion; case-sensitive).
        pub action: String,
        /// Why.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub reason: Option<String>,
        /// Context for the approver.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub context: Option<Map<String, Value>>,
        /// Who asks (clients fill in their agent id).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub requested_by: Option<String>,
    }
    aliases { "requested_by" <= ["requestedBy"] }
    also_emit {}
}

impl CreateApprovalRequest {
    /// A request to approve `action`.
    pub fn new(action: impl Into<String>) -> Self {
        CreateApprovalRequest { action: action.into(), ..Default::default() }
    }
}

impl Validate for CreateApprovalRequest {
    fn validate(&self) -> Result<(), InputValidationError> {
        require_text_max("action", &self.action, 100)?;
        if let Some(r) = &self.requested_by {
            require_text_max("requested_by", r, 255)?;
        }
        Ok(())
    }
}

wire_model! {
    /// An approval request. Unset optional keys are omitted on the wire, as the reference does.
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct Approval {
        /// Approval id.
        pub id: String,
        /// The intent.
        #[serde(default, deserialize_with = "null_as_default")]
        pub intent_id: String,
        /// Who asked (`""` when unknown).
        #[serde(default, deserialize_with = "null_as_default")]
        pub requested_by: String,
        /// The action.
        #[serde(default, deserialize_with = "null_as_default")]
        pub action: String,
        /// Why.
        #[serde(default, deserialize_with = "null_as_default")]
        pub reason: String,
        /// Context.
        #[serde(default, deserialize_with = "null_as_default")]
        pub context: Map<String, Value>,
        /// Pending, approved or denied.
        #[serde(default)]
        pub status: ApprovalStatus,
        /// When it was asked for.
        #[serde(with = "crate::time::wire", default)]
        pub created_at: DateTime<Utc>,
        /// When it was decided.
        #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::time::wire_opt")]
        pub decided_at: Option<DateTime<Utc>>,
        /// Who decided.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub decided_by: Option<String>,
        /// The decider's reason.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub decision_notes: Option<String>,
    }
    aliases { "id" <= ["approval_id"], "decision_notes" <= ["decision_reason"] }
    also_emit {}
}

impl Approval {
    /// Whether it was approved or denied.
    pub fn is_decided(&self) -> bool {
        self.status != ApprovalStatus::Pending
    }

    /// Whether it counts toward completion: action exactly [`COMPLETE_ACTION`] and approved.
    pub fn counts_for_completion(&self) -> bool {
        self.action == COMPLETE_ACTION && self.status == ApprovalStatus::Approved
    }
}

wire_model! {
    /// Optional body of `POST …/approvals/{id}/approve` and `…/deny` (the reference reads no
    /// body and records the caller).
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct DecideApprovalRequest {
        /// Why (stored as `decision_notes`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub reason: Option<String>,
        /// Who decides (servers default it to the caller).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub decided_by: Option<String>,
    }
    aliases { "reason" <= ["notes", "decision_notes"], "decided_by" <= ["decidedBy"] }
    also_emit {}
}

impl DecideApprovalRequest {
    /// A decision with a reason.
    pub fn with_reason(reason: impl Into<String>) -> Self {
        DecideApprovalRequest { reason: Some(reason.into()), decided_by: None }
    }
}

impl Validate for DecideApprovalRequest {
    fn validate(&self) -> Result<(), InputValidationError> {
        if let Some(r) = &self.reason {
            require_text_max("reason", r, 10_000)?;
        }
        if let Some(d) = &self.decided_by {
            require_text_max("decided_by", d, 255)?;
        }
        Ok(())
    }
}

impl RequestSchema for GovernancePolicy {
    const FIELDS: &'static [Field] = &[
        opt("completion_mode", Kind::Str).one_of(CompletionMode::known_names),
        opt("quorum_threshold", Kind::Num),
        opt("write_scope", Kind::Str).one_of(WriteScope::known_names),
        opt("allowed_agents", Kind::StrList),
        opt("max_cost", Kind::Num).min(0.0),
        opt("require_status_reason", Kind::Bool),
        opt("allow_self_approval", Kind::Bool),
    ];
}

impl RequestSchema for CreateApprovalRequest {
    const FIELDS: &'static [Field] = &[
        req("action", Kind::Str).text(100),
        opt("reason", Kind::Str),
        opt("context", Kind::Obj),
        opt("requested_by", Kind::Str).text(255),
    ];
}

impl RequestSchema for DecideApprovalRequest {
    const FIELDS: &'static [Field] = &[opt("reason", Kind::Str).text(10_000), opt("decided_by", Kind::Str).text(255)];
    const EMPTY_OK: bool = true;
}

// ----- Validation ---------------------------------------------------------------------------
//
// The field rules of each request are its `RequestSchema::FIELDS` above; `validate_fields`
// enforces them. What follows them here is what the declaration does not say: rules across
// fields, on list items, on numbers JSON cannot carry.

// ----- Escalations -----------------------------------------------------------------------

wire_enum! {
    /// Priority or urgency of an escalation (free strings on the reference).
    #[derive(Default)]
    pub enum EscalationPriority {
        /// Low.
        Low = "low",
        /// Medium (the default).
        #[default]
        Medium = "medium",
        /// High.
        High = "high",
        /// Critical.
        Critical = "critical",
    }
}

wire_enum! {
    /// The status of an escalation.
    #[derive(Default)]
    pub enum EscalationStatus {
        /// Waiting for a human (the default).
        #[default]
        Pending = "pending",
        /// Resolved.
        Resolved = "resolved",
    }
}

wire_model! {
    /// Body of `POST /api/v1/intents/{id}/escalations`: hand a problem to a human.
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct CreateEscalationRequest {
        /// What the human must look at (required).
        pub reason: String,
        /// Priority (default `medium`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub priority: Option<EscalationPriority>,
        /// Urgency (default `medium`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub urgency: Option<EscalationPriority>,
        /// Context.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub context: Option<Map<String, Value>>,
        /// Who escalates (clients fill in their agent id).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub escalated_by: Option<String>,
    }
    aliases { "escalated_by" <= ["escalatedBy"] }
    also_emit {}
}

impl CreateEscalationRequest {
    /// An escalation with a reason.
    pub fn new(reason: impl Into<String>) -> Self {
        CreateEscalationRequest { reason: reason.into(), ..Default::default() }
    }
}

impl Validate for CreateEscalationRequest {
    fn validate(&self) -> Result<(), InputValidationError> {
        require_text_max("reason", &self.reason, 10_000)?;
        if let Some(e) = &self.escalated_by {
            require_text_max("escalated_by", e, 255)?;
        }
        Ok(())
    }
}

wire_model! {
    /// An escalation. Unset resolution keys are omitted on the wire, as the reference does.
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct Escalation {
        /// Escalation id.
        pub id: String,
        /// The intent.
        #[serde(default, deserialize_with = "null_as_default")]
        pub intent_id: String,
        /// Who escalated (`""` when unknown).
        #[serde(default, deserialize_with = "null_as_default")]
        pub escalated_by: String,
        /// Why.
        #[serde(default, deserialize_with = "null_as_default")]
        pub reason: String,
        /// Priority.
        #[serde(default)]
        pub priority: EscalationPriority,
        /// Urgency.
        #[serde(default)]
        pub urgency: EscalationPriority,
        /// Context.
        #[serde(default, deserialize_with = "null_as_default")]
        pub context: Map<String, Value>,
        /// Pending or resolved.
        #[serde(default)]
        pub status: EscalationStatus,
        /// When it was raised.
        #[serde(with = "crate::time::wire", default)]
        pub created_at: DateTime<Utc>,
        /// When it was resolved.
        #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::time::wire_opt")]
        pub resolved_at: Option<DateTime<Utc>>,
        /// Who resolved it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub resolved_by: Option<String>,
        /// The resolution.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub resolution: Option<String>,
        /// Notes on the resolution.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub resolution_notes: Option<String>,
    }
    aliases { "id" <= ["escalation_id"], "resolution_notes" <= ["notes"] }
    also_emit {}
}

wire_model! {
    /// Body of `POST /api/v1/escalations/{id}/resolve`.
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct ResolveEscalationRequest {
        /// The resolution (required).
        pub resolution: String,
        /// Notes (stored as `resolution_notes`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub notes: Option<String>,
        /// Who resolves (clients fill in their agent id).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub resolved_by: Option<String>,
    }
    aliases { "notes" <= ["resolution_notes"], "resolved_by" <= ["resolvedBy"] }
    also_emit {}
}

impl ResolveEscalationRequest {
    /// A resolution.
    pub fn new(resolution: impl Into<String>) -> Self {
        ResolveEscalationRequest { resolution: resolution.into(), ..Default::default() }
    }
}

impl Validate for ResolveEscalationRequest {
    fn validate(&self) -> Result<(), InputValidationError> {
        require_text_max("resolution", &self.resolution, 10_000)?;
        if let Some(r) = &self.resolved_by {
            require_text_max("resolved_by", r, 255)?;
        }
        Ok(())
    }
}

/// Query of `GET /api/v1/escalations` (answer: `{"escalations": [...]}`, newest first).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct EscalationQuery {
    /// Only escalations of this intent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent_id: Option<String>,
    /// Only escalations with this status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<EscalationStatus>,
}

// ----- request field rules (validation and the OpenAPI document read these) -----------------

impl crate::schema::RequestSchema for CreateEscalationRequest {
    const FIELDS: &'static [crate::schema::Field] = {
        use crate::schema::{Kind, opt, req};
        &[
            req("reason", Kind::Str).text(10_000),
            opt("priority", Kind::Str),
            opt("urgency", Kind::Str),
            opt("context", Kind::Obj),
            opt("escalated_by", Kind::Str).text(255),
        ]
    };
}

impl crate::schema::RequestSchema for ResolveEscalationRequest {
    const FIELDS: &'static [crate::schema::Field] = {
        use crate::schema::{Kind, opt, req};
        &[req("resolution", Kind::Str).text(10_000), opt("notes", Kind::Str), opt("resolved_by", Kind::Str).text(255)]
    };
}
