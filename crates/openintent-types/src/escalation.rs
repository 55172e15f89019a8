//! Escalations (the governance guide, PROTOCOL-AGENTS.md §4.7): an agent hands a problem to a
//! human. Routes: `POST /api/v1/intents/{id}/escalations` ([`CreateEscalationRequest`]),
//! `GET /api/v1/escalations` ([`EscalationQuery`]; answer `{"escalations": [...]}`, read with
//! [`crate::wire::ListBody`]), `POST /api/v1/escalations/{id}/resolve`
//! ([`ResolveEscalationRequest`]); each answers an [`Escalation`].

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::validation::{InputValidationError, Validate, require_text_max};
use crate::wire::null_as_default;

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
