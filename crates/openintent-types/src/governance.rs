//! Governance: arbitration and decisions (RFC-0003/0004), and the per-intent policy, approvals
//! and escalations of RFC-0013 and the governance guide (PROTOCOL-AGENTS.md §4).

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::schema::{Field, Kind, RequestSchema, opt, req, validate_fields};
use crate::validation::{self, InputValidationError, Validate, fail, require_text_max};
use crate::wire::null_as_default;

wire_enum! {
    /// The status of an arbitration request.
    #[derive(Default)]
    pub enum ArbitrationStatus {
        /// Waiting for a decision.
        #[default]
        Pending = "pending",
        /// Decided.
        Resolved = "resolved",
    }
}

wire_model! {
    /// One option put to the arbiter (RFC-0003).
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct ArbitrationOption {
        /// Short label.
        pub label: String,
        /// Why one might pick it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub rationale: Option<String>,
    }
    aliases {}
    also_emit {}
}

wire_model! {
    /// Body of `POST /api/v1/intents/{id}/arbitrate` (`request_arbitration`).
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct CreateArbitrationRequest {
        /// Why arbitration is needed.
        pub reason: String,
        /// Who asks; the reference requires it, so clients fill in their agent id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub requested_by: Option<String>,
        /// Context for the arbiter.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub context: Option<Map<String, Value>>,
        /// The options on the table (RFC-0003).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub options: Option<Vec<ArbitrationOption>>,
    }
    aliases { "requested_by" <= ["requestor", "requester_id", "requestedBy"] }
    also_emit {}
}

impl CreateArbitrationRequest {
    /// A request with a reason only.
    pub fn new(reason: impl Into<String>) -> Self {
        CreateArbitrationRequest { reason: reason.into(), ..Default::default() }
    }
}

wire_model! {
    /// An arbitration request as servers answer it.
    ///
    /// The reference server answers only `{"message", "status"}`, so every other field is optional.
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct Arbitration {
        /// Id (on our server: the id of its `arbitration_requested` event).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub id: Option<String>,
        /// The intent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub intent_id: Option<String>,
        /// Who asked.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub requested_by: Option<String>,
        /// Why.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub reason: Option<String>,
        /// Context given.
        #[serde(default, deserialize_with = "null_as_default")]
        pub context: Map<String, Value>,
        /// Options given.
        #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_default")]
        pub options: Vec<ArbitrationOption>,
        /// Pending or resolved.
        #[serde(default)]
        pub status: ArbitrationStatus,
        /// The resolution, once decided.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub resolution: Option<Value>,
        /// When it was requested.
        #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::time::wire_opt")]
        pub created_at: Option<DateTime<Utc>>,
        /// The server's acknowledgement text.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub message: Option<String>,
    }
    aliases {
        "requested_by" <= ["requester_id", "requestor", "requestedBy"],
        "intent_id" <= ["intentId"],
        "created_at" <= ["createdAt"],
    }
    also_emit { "requested_by" => "requester_id" }
}

wire_model! {
    /// Body of `POST /api/v1/intents/{id}/decisions` (`record_decision`).
    ///
    /// The seed's `decision` is the wire's `outcome`; `reasoning` (older clients) reads as
    /// `rationale`.
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct RecordDecisionRequest {
        /// Kind of decision (the reference requires it; clients default it to `decision`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub decision_type: Option<String>,
        /// Who decided (the reference requires it; clients fill in their agent id).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub decided_by: Option<String>,
        /// What was decided.
        pub outcome: String,
        /// Why.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub rationale: Option<String>,
        /// Supporting evidence (RFC-0003).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub evidence: Option<Vec<Value>>,
    }
    aliases {
        "outcome" <= ["decision"],
        "rationale" <= ["reasoning"],
        "decided_by" <= ["decision_maker_id", "decidedBy"],
        "decision_type" <= ["decisionType"],
    }
    also_emit {}
}

impl RecordDecisionRequest {
    /// A request recording `outcome`.
    pub fn new(outcome: impl Into<String>) -> Self {
        RecordDecisionRequest { outcome: outcome.into(), ..Default::default() }
    }
}

wire_model! {
    /// A recorded decision.
    ///
    /// The reference answers `{"message", "decision_id", "outcome"}`; its id is the id of the
    /// `decision_recorded` event, so a decision can also be rebuilt from the log
    /// ([`Decision::from_event`]).
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct Decision {
        /// Decision id (read from `id` or `decision_id`).
        #[serde(default, deserialize_with = "null_as_default")]
        pub id: String,
        /// The intent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub intent_id: Option<String>,
        /// Kind of decision.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub decision_type: Option<String>,
        /// Who decided.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub decided_by: Option<String>,
        /// What was decided.
        #[serde(default, deserialize_with = "null_as_default")]
        pub outcome: String,
        /// Why.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub rationale: Option<String>,
        /// Evidence given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub evidence: Option<Vec<Value>>,
        /// When it was recorded.
        #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::time::wire_opt")]
        pub created_at: Option<DateTime<Utc>>,
        /// The server's acknowledgement text.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub message: Option<String>,
    }
    aliases {
        "id" <= ["decision_id"],
        "outcome" <= ["decision"],
        "rationale" <= ["reasoning"],
        "decided_by" <= ["decision_maker_id", "decidedBy"],
        "created_at" <= ["createdAt", "timestamp"],
    }
    also_emit {
        "id" => "decision_id",
        "outcome" => "decision",
        "rationale" => "reasoning",
        "decided_by" => "decision_maker_id",
    }
}

impl Decision {
    /// Rebuilds a decision from its `decision_recorded` event (`None` for other events).
    pub fn from_event(event: &crate::event::IntentEvent) -> Option<Decision> {
        if event.event_type != crate::event::EventType::DecisionRecorded {
            return None;
        }
        let text = |k: &str| event.payload.get(k).and_then(Value::as_str).map(str::to_owned);
        Some(Decision {
            id: event.id.clone(),
            intent_id: Some(event.intent_id.clone()),
            decision_type: text("decision_type"),
            decided_by: Some(event.actor.clone()),
            outcome: text("outcome").unwrap_or_default(),
            rationale: text("rationale"),
            evidence: event.payload.get("evidence").and_then(Value::as_array).cloned(),
            created_at: Some(event.created_at),
            message: None,
        })
    }
}

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

// ----- request field rules (validation and the OpenAPI document read these) -----------------

impl RequestSchema for CreateArbitrationRequest {
    const FIELDS: &'static [Field] = &[
        req("reason", Kind::Str).text(0),
        opt("requested_by", Kind::Str).text(255),
        opt("context", Kind::Obj),
        opt("options", Kind::Options),
    ];
}

impl RequestSchema for RecordDecisionRequest {
    const FIELDS: &'static [Field] = &[
        opt("decision_type", Kind::Str).text(100),
        opt("decided_by", Kind::Str).text(255),
        // Errors name it as the seed does.
        req("outcome", Kind::Str).text(0).reported_as("decision"),
        opt("rationale", Kind::Str),
        opt("evidence", Kind::List),
    ];
}

fn completion_modes() -> Vec<&'static str> {
    vec!["auto", "require_approval", "quorum"]
}

fn write_scopes() -> Vec<&'static str> {
    vec!["any", "assigned_only"]
}

impl RequestSchema for GovernancePolicy {
    const FIELDS: &'static [Field] = &[
        opt("completion_mode", Kind::Str).one_of(completion_modes),
        opt("quorum_threshold", Kind::Num),
        opt("write_scope", Kind::Str).one_of(write_scopes),
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

impl Validate for CreateArbitrationRequest {
    fn validate(&self) -> validation::Result {
        validate_fields(self)
    }
}

impl Validate for RecordDecisionRequest {
    fn validate(&self) -> validation::Result {
        validate_fields(self)
    }
}
