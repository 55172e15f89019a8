//! Coordinator leases (RFC-0013): an agent's grant to coordinate an intent or a portfolio under
//! guardrails. Routes: `POST /api/v1/coordinators` ([`CreateCoordinatorLeaseRequest`]),
//! `GET /api/v1/coordinators/{id}`, `GET /api/v1/intents/{id}/coordinators` (a bare array),
//! `POST /api/v1/coordinators/{id}/heartbeat` (no body; answers a
//! [`crate::HeartbeatResponse`]). Decision records: `POST /api/v1/decisions`
//! ([`CreateDecisionRecordRequest`]), `GET /api/v1/intents/{id}/coordinator-decisions`
//! (a bare array of [`DecisionRecord`], newest first).

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::validation::{InputValidationError, Validate, fail};
use crate::wire::null_as_default;

wire_model! {
    /// A coordinator lease.
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct CoordinatorLease {
        /// Lease id.
        pub id: String,
        /// The intent coordinated, if any.
        #[serde(default)]
        pub intent_id: Option<String>,
        /// The portfolio coordinated, if any.
        #[serde(default)]
        pub portfolio_id: Option<String>,
        /// The coordinating agent.
        #[serde(default, deserialize_with = "null_as_default")]
        pub agent_id: String,
        /// Role (default `coordinator`).
        #[serde(default, deserialize_with = "null_as_default")]
        pub role: String,
        /// The supervising principal.
        #[serde(default)]
        pub supervisor_id: Option<String>,
        /// Kind of coordinator (default `llm`).
        #[serde(default, deserialize_with = "null_as_default")]
        pub coordinator_type: String,
        /// What it coordinates (default `intent`).
        #[serde(default, deserialize_with = "null_as_default")]
        pub scope: String,
        /// Lease status (`active`, ...).
        #[serde(default, deserialize_with = "null_as_default")]
        pub status: String,
        /// Limits the coordinator works within.
        #[serde(default, deserialize_with = "null_as_default")]
        pub guardrails: Map<String, Value>,
        /// Expected heartbeat interval, in seconds (default 60).
        #[serde(default)]
        pub heartbeat_interval_seconds: Option<i64>,
        /// The last heartbeat.
        #[serde(default, with = "crate::time::wire_opt")]
        pub last_heartbeat: Option<DateTime<Utc>>,
        /// When it was granted.
        #[serde(with = "crate::time::wire", default)]
        pub granted_at: DateTime<Utc>,
        /// When it ends, if ever.
        #[serde(default, with = "crate::time::wire_opt")]
        pub expires_at: Option<DateTime<Utc>>,
        /// Optimistic-concurrency version.
        #[serde(default)]
        pub version: i64,
        /// Implementation data (the reference names it `lease_metadata`).
        #[serde(default, deserialize_with = "null_as_default")]
        pub metadata: Map<String, Value>,
    }
    aliases {
        "metadata" <= ["lease_metadata"],
        "last_heartbeat" <= ["last_heartbeat_at"],
        "granted_at" <= ["created_at"],
    }
    also_emit { "metadata" => "lease_metadata" }
}

wire_model! {
    /// Body of `POST /api/v1/coordinators`.
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct CreateCoordinatorLeaseRequest {
        /// The coordinating agent (required).
        pub agent_id: String,
        /// The intent to coordinate.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub intent_id: Option<String>,
        /// The portfolio to coordinate.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub portfolio_id: Option<String>,
        /// Role (default `coordinator`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub role: Option<String>,
        /// The supervising principal.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub supervisor_id: Option<String>,
        /// Kind of coordinator (default `llm`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub coordinator_type: Option<String>,
        /// What it coordinates (default `intent`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub scope: Option<String>,
        /// Limits.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub guardrails: Option<Map<String, Value>>,
        /// Heartbeat interval, in seconds (default 60).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub heartbeat_interval_seconds: Option<i64>,
        /// When the lease ends.
        #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::time::rfc3339_opt")]
        pub expires_at: Option<DateTime<Utc>>,
        /// Implementation data.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub metadata: Option<Map<String, Value>>,
    }
    aliases { "metadata" <= ["lease_metadata"] }
    also_emit {}
}

impl CreateCoordinatorLeaseRequest {
    /// A lease for `agent_id` on `intent_id`.
    pub fn for_intent(agent_id: impl Into<String>, intent_id: impl Into<String>) -> Self {
        CreateCoordinatorLeaseRequest {
            agent_id: agent_id.into(),
            intent_id: Some(intent_id.into()),
            ..Default::default()
        }
    }
}

// The field rules are `RequestSchema::FIELDS` below; `validate_fields` enforces them. What
// follows is what the declaration does not say: a lease coordinates an intent or a portfolio.
impl Validate for CreateCoordinatorLeaseRequest {
    fn validate(&self) -> Result<(), InputValidationError> {
        crate::schema::validate_fields(self)?;
        if self.intent_id.is_none() && self.portfolio_id.is_none() {
            return fail("intent_id", "a coordinator lease names an intent_id or a portfolio_id");
        }
        Ok(())
    }
}

// ----- request field rules (validation and the OpenAPI document read these) -----------------

impl crate::schema::RequestSchema for CreateCoordinatorLeaseRequest {
    const FIELDS: &'static [crate::schema::Field] = {
        use crate::schema::{Kind, opt, req};
        &[
            req("agent_id", Kind::Str).id(),
            opt("intent_id", Kind::Str).id(),
            opt("portfolio_id", Kind::Str).id(),
            opt("role", Kind::Str).text(64),
            opt("supervisor_id", Kind::Str).id(),
            opt("coordinator_type", Kind::Str).text(64),
            opt("scope", Kind::Str).text(64),
            opt("guardrails", Kind::Obj),
            opt("heartbeat_interval_seconds", Kind::Int)
                .range(1.0, crate::registry::MAX_HEARTBEAT_SECONDS as f64)
                .unit("seconds"),
            opt("expires_at", Kind::Time),
            opt("metadata", Kind::Obj),
        ]
    };
}

// ----- decision records ----------------------------------------------------------------------

/// The decision types the 0.17 SDK names (`DecisionType`); a record may carry any other name.
pub const DECISION_TYPES: &[&str] = &[
    "plan_created",
    "plan_modified",
    "task_assigned",
    "task_delegated",
    "escalation_initiated",
    "escalation_resolved",
    "checkpoint_evaluated",
    "failure_handled",
    "guardrail_approached",
    "coordinator_handoff",
];

wire_model! {
    /// An auditable record of a coordinator's decision (RFC-0013): written through
    /// `POST /api/v1/decisions`, listed at `GET /api/v1/intents/{id}/coordinator-decisions`.
    /// Not the decisions recorded through `POST /api/v1/intents/{id}/decisions`
    /// ([`crate::Decision`]).
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct DecisionRecord {
        /// Record id.
        pub id: String,
        /// The coordinator lease under which it was decided.
        #[serde(default, deserialize_with = "null_as_default")]
        pub coordinator_id: String,
        /// The intent it concerns.
        #[serde(default, deserialize_with = "null_as_default")]
        pub intent_id: String,
        /// Kind of decision ([`DECISION_TYPES`] lists the SDK's; others are kept as given).
        #[serde(default, deserialize_with = "null_as_default")]
        pub decision_type: String,
        /// What was decided.
        #[serde(default, deserialize_with = "null_as_default")]
        pub summary: String,
        /// Why.
        #[serde(default, deserialize_with = "null_as_default")]
        pub rationale: String,
        /// The options weighed (objects of the coordinator's choosing).
        #[serde(default, deserialize_with = "null_as_default")]
        pub alternatives_considered: Vec<Map<String, Value>>,
        /// How sure the coordinator was, from 0 to 1.
        #[serde(default)]
        pub confidence: Option<f64>,
        /// When it was recorded.
        #[serde(with = "crate::time::wire", default)]
        pub timestamp: DateTime<Utc>,
    }
    aliases { "timestamp" <= ["created_at"] }
    also_emit {}
}

wire_model! {
    /// Body of `POST /api/v1/decisions`.
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct CreateDecisionRecordRequest {
        /// The coordinator lease deciding (required).
        pub coordinator_id: String,
        /// The intent concerned (required): the lease's, or a member of the lease's portfolio.
        pub intent_id: String,
        /// Kind of decision (required; see [`DECISION_TYPES`]).
        pub decision_type: String,
        /// What was decided (required).
        pub summary: String,
        /// Why (required).
        pub rationale: String,
        /// The options weighed, each an object (checked by validation, so that a wrong one
        /// is a 422 naming `alternatives_considered.N`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub alternatives_considered: Option<Vec<Value>>,
        /// How sure the coordinator is, from 0 to 1.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub confidence: Option<f64>,
    }
    aliases {}
    also_emit {}
}

impl CreateDecisionRecordRequest {
    /// A record of `decision_type` under the lease `coordinator_id` on `intent_id`.
    pub fn new(
        coordinator_id: impl Into<String>,
        intent_id: impl Into<String>,
        decision_type: impl Into<String>,
        summary: impl Into<String>,
        rationale: impl Into<String>,
    ) -> Self {
        CreateDecisionRecordRequest {
            coordinator_id: coordinator_id.into(),
            intent_id: intent_id.into(),
            decision_type: decision_type.into(),
            summary: summary.into(),
            rationale: rationale.into(),
            ..Default::default()
        }
    }
}

// What the declaration does not say: each alternative is an object.
impl Validate for CreateDecisionRecordRequest {
    fn validate(&self) -> Result<(), InputValidationError> {
        crate::schema::validate_fields(self)?;
        for (i, alternative) in self.alternatives_considered.iter().flatten().enumerate() {
            if !alternative.is_object() {
                return fail(&format!("alternatives_considered.{i}"), "must be an object");
            }
        }
        Ok(())
    }
}

impl crate::schema::RequestSchema for CreateDecisionRecordRequest {
    const FIELDS: &'static [crate::schema::Field] = {
        use crate::schema::{Kind, opt, req};
        &[
            req("coordinator_id", Kind::Str).id(),
            req("intent_id", Kind::Str).id(),
            req("decision_type", Kind::Str).text(100),
            req("summary", Kind::Str).text(0),
            req("rationale", Kind::Str).text(0),
            opt("alternatives_considered", Kind::List),
            opt("confidence", Kind::Num).range(0.0, 1.0),
        ]
    };
}
