//! Arbitration and decisions (RFC-0003/0004): an agent asks for a decision when agents
//! disagree, and a principal records it. Routes: `POST /api/v1/intents/{id}/arbitrate`
//! ([`CreateArbitrationRequest`], answers an [`Arbitration`]), `POST /api/v1/intents/{id}/decisions`
//! ([`RecordDecisionRequest`], answers a [`Decision`]), and their lists.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::schema::{Field, Kind, RequestSchema, opt, req, validate_fields};
use crate::validation::{self, Validate};
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
    pub fn from_event(event: &crate::events::IntentEvent) -> Option<Decision> {
        if event.event_type != crate::events::EventType::DecisionRecorded {
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
// ----- Validation ---------------------------------------------------------------------------

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
