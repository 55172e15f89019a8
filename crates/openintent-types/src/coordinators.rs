//! Coordinator leases (RFC-0013): an agent's grant to coordinate an intent or a portfolio under
//! guardrails. Routes: `POST /api/v1/coordinators` ([`CreateCoordinatorLeaseRequest`]),
//! `GET /api/v1/coordinators/{id}`, `GET /api/v1/intents/{id}/coordinators` (a bare array),
//! `POST /api/v1/coordinators/{id}/heartbeat` (no body; answers a
//! [`crate::HeartbeatResponse`]).

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
