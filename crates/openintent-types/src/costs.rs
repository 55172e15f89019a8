//! Cost tracking (RFC-0009).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::schema::{Field, Kind, RequestSchema, opt, req, validate_fields};
use crate::validation::{self, Validate};
use crate::wire::null_as_default;

wire_enum! {
    /// Kinds of cost (RFC-0009); any other string is kept.
    pub enum CostType {
        /// Model tokens.
        Tokens = "tokens",
        /// A paid API call.
        ApiCall = "api_call",
        /// Compute time.
        Compute = "compute",
        /// Anything else.
        Custom = "custom",
    }
}

wire_model! {
    /// A cost record (PROTOCOL.md §5.6).
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct CostRecord {
        /// Record id.
        pub id: String,
        /// The intent.
        #[serde(default, deserialize_with = "null_as_default")]
        pub intent_id: String,
        /// Who incurred it.
        #[serde(default, deserialize_with = "null_as_default")]
        pub agent_id: String,
        /// Kind of cost.
        pub cost_type: String,
        /// Amount.
        pub amount: f64,
        /// Unit (`USD`, `tokens`, ...).
        #[serde(default, deserialize_with = "null_as_default")]
        pub unit: String,
        /// Provider (`openai`, ...).
        #[serde(default)]
        pub provider: Option<String>,
        /// Metadata (read from `cost_metadata` or `metadata`).
        #[serde(default, deserialize_with = "null_as_default")]
        pub cost_metadata: Map<String, Value>,
        /// When it was recorded.
        #[serde(with = "crate::time::wire", default)]
        pub recorded_at: DateTime<Utc>,
    }
    aliases {
        "cost_metadata" <= ["metadata", "costMetadata"],
        "cost_type" <= ["costType"],
        "agent_id" <= ["agentId"],
        "intent_id" <= ["intentId"],
        "recorded_at" <= ["recordedAt", "created_at", "createdAt"],
    }
    also_emit { "cost_metadata" => "metadata" }
}

impl CostRecord {
    /// The metadata under the seed's name.
    pub fn metadata(&self) -> &Map<String, Value> {
        &self.cost_metadata
    }
}

wire_model! {
    /// Body of `POST /api/v1/intents/{id}/costs` (`record_cost`).
    ///
    /// The metadata goes out under both `cost_metadata` (what the reference stores) and `metadata`
    /// (what RFC-0009 names), see [`crate::wire::to_superset_value`].
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct RecordCostRequest {
        /// Who incurred it (the reference requires it; clients fill in their agent id).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub agent_id: Option<String>,
        /// Kind of cost.
        pub cost_type: String,
        /// Amount (finite, not negative).
        pub amount: f64,
        /// Unit.
        pub unit: String,
        /// Provider.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub provider: Option<String>,
        /// Metadata.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub cost_metadata: Option<Map<String, Value>>,
    }
    aliases {
        "cost_metadata" <= ["metadata", "costMetadata"],
        "cost_type" <= ["costType"],
        "agent_id" <= ["agentId"],
    }
    also_emit { "cost_metadata" => "metadata" }
}

impl RecordCostRequest {
    /// A cost of `amount` `unit` of kind `cost_type`.
    pub fn new(cost_type: impl Into<String>, amount: f64, unit: impl Into<String>) -> Self {
        RecordCostRequest { cost_type: cost_type.into(), amount, unit: unit.into(), ..Default::default() }
    }
}

/// Totals over cost records (RFC-0009): overall, per cost type, per agent, per unit.
///
/// Servers without a summary route leave it to clients: [`CostSummary::from_records`].
///
/// ```
/// use openintent_types::{CostRecord, CostSummary};
/// let mut a = CostRecord::default();
/// a.cost_type = "api_call".into(); a.amount = 0.05; a.agent_id = "x".into(); a.unit = "USD".into();
/// let mut b = a.clone();
/// b.cost_type = "tokens".into(); b.amount = 0.15;
/// let s = CostSummary::from_records(&[a, b]);
/// assert!((s.total - 0.2).abs() < 1e-9);
/// assert_eq!(s.by_type.len(), 2);
/// assert!((s.by_agent["x"] - 0.2).abs() < 1e-9);
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct CostSummary {
    /// Sum of all amounts.
    #[serde(default)]
    pub total: f64,
    /// Sum per cost type.
    #[serde(default, alias = "byType")]
    pub by_type: BTreeMap<String, f64>,
    /// Sum per agent.
    #[serde(default, alias = "byAgent")]
    pub by_agent: BTreeMap<String, f64>,
    /// Sum per unit.
    #[serde(default, alias = "byUnit")]
    pub by_unit: BTreeMap<String, f64>,
    /// Number of records.
    #[serde(default)]
    pub count: u64,
}

impl CostSummary {
    /// Computes the summary of `records`.
    pub fn from_records<'a>(records: impl IntoIterator<Item = &'a CostRecord>) -> Self {
        let mut s = CostSummary::default();
        for r in records {
            s.total += r.amount;
            *s.by_type.entry(r.cost_type.clone()).or_default() += r.amount;
            *s.by_agent.entry(r.agent_id.clone()).or_default() += r.amount;
            *s.by_unit.entry(r.unit.clone()).or_default() += r.amount;
            s.count += 1;
        }
        s
    }
}

// ----- request field rules (validation and the OpenAPI document read these) -----------------

impl RequestSchema for RecordCostRequest {
    const FIELDS: &'static [Field] = &[
        opt("agent_id", Kind::Str).text(255),
        req("cost_type", Kind::Str).text(100),
        req("amount", Kind::Num).range(0.0, crate::validation::MAX_COST_AMOUNT),
        req("unit", Kind::Str).text(32),
        opt("provider", Kind::Str),
        opt("cost_metadata", Kind::Obj),
    ];
}

// ----- Validation ---------------------------------------------------------------------------
//
// The field rules of each request are its `RequestSchema::FIELDS` above; `validate_fields`
// enforces them. What follows them here is what the declaration does not say: rules across
// fields, on list items, on numbers JSON cannot carry.

impl Validate for RecordCostRequest {
    fn validate(&self) -> validation::Result {
        // JSON has no non-finite numbers, so the declaration cannot see them.
        if !self.amount.is_finite() {
            return validation::fail("amount", "must be a finite number");
        }
        validate_fields(self)
    }
}
