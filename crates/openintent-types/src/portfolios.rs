//! Intent portfolios: several intents coordinated as one unit.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::intents::{Intent, IntentStatus};
use crate::schema::{Field, Kind, RequestSchema, opt, req, validate_fields};
use crate::validation::{self, Validate};
use crate::wire::null_as_default;

wire_enum! {
    /// The status of a portfolio.
    #[derive(Default)]
    pub enum PortfolioStatus {
        /// In progress (the default).
        #[default]
        Active = "active",
        /// Done.
        Completed = "completed",
        /// Given up.
        Abandoned = "abandoned",
    }
}

wire_enum! {
    /// The role of an intent in a portfolio.
    #[derive(Default)]
    pub enum MembershipRole {
        /// The main intent (one per portfolio).
        Primary = "primary",
        /// An ordinary member (the default).
        #[default]
        Member = "member",
        /// Something the others depend on.
        Dependency = "dependency",
    }
}

/// Aggregate status of a portfolio's member intents.
///
/// ```
/// use openintent_types::{AggregateStatus, Intent, IntentStatus};
/// let mut done = Intent::new("a", "A");
/// done.status = IntentStatus::Completed;
/// let open = Intent::new("b", "B");
/// let agg = AggregateStatus::from_intents(&[done, open]);
/// assert_eq!((agg.total, agg.completion_percentage), (2, 50));
/// assert_eq!(agg.by_status["draft"], 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct AggregateStatus {
    /// Number of member intents.
    #[serde(default)]
    pub total: u64,
    /// Count per status.
    #[serde(default, alias = "byStatus")]
    pub by_status: BTreeMap<String, u64>,
    /// ⌊completed × 100 / total⌋, 0 for an empty portfolio.
    #[serde(default, alias = "completionPercentage")]
    pub completion_percentage: u64,
}

impl AggregateStatus {
    /// Computes the aggregate of `intents` (each counted once, by id).
    pub fn from_intents<'a>(intents: impl IntoIterator<Item = &'a Intent>) -> Self {
        let mut seen = std::collections::HashSet::new();
        let mut agg = AggregateStatus::default();
        let mut completed = 0u64;
        for i in intents {
            if !seen.insert(i.id.as_str()) {
                continue;
            }
            agg.total += 1;
            *agg.by_status.entry(i.status.to_string()).or_default() += 1;
            if i.status == IntentStatus::Completed {
                completed += 1;
            }
        }
        agg.completion_percentage = (completed * 100).checked_div(agg.total).unwrap_or(0);
        agg
    }

    /// Whether every member is completed (and there is at least one).
    pub fn all_completed(&self) -> bool {
        self.total > 0 && self.completion_percentage == 100
    }
}

wire_model! {
    /// A portfolio (PROTOCOL.md §5.9). Servers that compute it add `intents` and
    /// `aggregate_status`.
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct Portfolio {
        /// Portfolio id.
        pub id: String,
        /// Name.
        pub name: String,
        /// Description.
        #[serde(default, deserialize_with = "null_as_default")]
        pub description: String,
        /// Creator.
        #[serde(default, deserialize_with = "null_as_default")]
        pub created_by: String,
        /// Status.
        #[serde(default)]
        pub status: PortfolioStatus,
        /// Governance policy (`require_all_completed`, `shared_constraints`, ...).
        #[serde(default, deserialize_with = "null_as_default")]
        pub governance_policy: Map<String, Value>,
        /// Metadata.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub metadata: Option<Map<String, Value>>,
        /// Member intents, when the server includes them.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub intents: Option<Vec<Intent>>,
        /// Aggregate status, when the server (or the client) computed it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub aggregate_status: Option<AggregateStatus>,
        /// When it was created.
        #[serde(with = "crate::time::wire", default)]
        pub created_at: DateTime<Utc>,
        /// When it last changed.
        #[serde(with = "crate::time::wire", default)]
        pub updated_at: DateTime<Utc>,
    }
    aliases {
        "created_by" <= ["createdBy"],
        "governance_policy" <= ["governancePolicy"],
        "aggregate_status" <= ["aggregateStatus"],
        "created_at" <= ["createdAt"],
        "updated_at" <= ["updatedAt"],
    }
    also_emit {}
}

wire_model! {
    /// Body of `POST /api/v1/portfolios` (`create_portfolio`).
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct CreatePortfolioRequest {
        /// Name.
        pub name: String,
        /// Creator (the reference requires it; clients fill in their agent id).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub created_by: Option<String>,
        /// Description.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub description: Option<String>,
        /// Governance policy.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub governance_policy: Option<Map<String, Value>>,
        /// Metadata.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub metadata: Option<Map<String, Value>>,
    }
    aliases {
        "created_by" <= ["createdBy"],
        "governance_policy" <= ["governancePolicy"],
    }
    also_emit {}
}

impl CreatePortfolioRequest {
    /// A request with a name only.
    pub fn new(name: impl Into<String>) -> Self {
        CreatePortfolioRequest { name: name.into(), ..Default::default() }
    }
}

wire_model! {
    /// Body of `PATCH /api/v1/portfolios/{id}/status` (`update_portfolio_status`).
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct UpdatePortfolioStatusRequest {
        /// New status.
        pub status: PortfolioStatus,
    }
    aliases {}
    also_emit {}
}

impl UpdatePortfolioStatusRequest {
    /// A request for `status`.
    pub fn new(status: impl Into<PortfolioStatus>) -> Self {
        UpdatePortfolioStatusRequest { status: status.into() }
    }
}

wire_model! {
    /// Body of `POST /api/v1/portfolios/{id}/intents` (`add_intent_to_portfolio`).
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct AddIntentToPortfolioRequest {
        /// The intent to add.
        pub intent_id: String,
        /// Its role (default `member`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub role: Option<MembershipRole>,
        /// Its priority (default 0; higher first).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub priority: Option<i64>,
    }
    aliases { "intent_id" <= ["intentId"] }
    also_emit {}
}

impl AddIntentToPortfolioRequest {
    /// Add `intent_id` with default role and priority.
    pub fn new(intent_id: impl Into<String>) -> Self {
        AddIntentToPortfolioRequest { intent_id: intent_id.into(), role: None, priority: None }
    }
}

wire_model! {
    /// A portfolio membership. The reference answers only `{"message", "membership_id"}`.
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct PortfolioMembership {
        /// Membership id (read from `id` or `membership_id`).
        #[serde(default, deserialize_with = "null_as_default")]
        pub id: String,
        /// The portfolio.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub portfolio_id: Option<String>,
        /// The intent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub intent_id: Option<String>,
        /// Role.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub role: Option<MembershipRole>,
        /// Priority.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub priority: Option<i64>,
        /// When it was added.
        #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::time::wire_opt")]
        pub added_at: Option<DateTime<Utc>>,
        /// The server's acknowledgement text.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub message: Option<String>,
    }
    aliases {
        "id" <= ["membership_id"],
        "portfolio_id" <= ["portfolioId"],
        "intent_id" <= ["intentId"],
        "added_at" <= ["addedAt", "created_at"],
    }
    also_emit { "id" => "membership_id" }
}

// ----- request field rules (validation and the OpenAPI document read these) -----------------

impl RequestSchema for CreatePortfolioRequest {
    const FIELDS: &'static [Field] = &[
        req("name", Kind::Str).text(255),
        opt("created_by", Kind::Str).text(255),
        opt("description", Kind::Str),
        opt("governance_policy", Kind::Obj),
        opt("metadata", Kind::Obj),
    ];
}

impl RequestSchema for UpdatePortfolioStatusRequest {
    const FIELDS: &'static [Field] = &[req("status", Kind::Str).one_of(PortfolioStatus::known_names)];
}

impl RequestSchema for AddIntentToPortfolioRequest {
    const FIELDS: &'static [Field] = &[
        req("intent_id", Kind::Str).id(),
        opt("role", Kind::Str).one_of(MembershipRole::known_names),
        opt("priority", Kind::Int),
    ];
}

// ----- Validation ---------------------------------------------------------------------------
//
// The field rules of each request are its `RequestSchema::FIELDS` above; `validate_fields`
// enforces them. What follows them here is what the declaration does not say: rules across
// fields, on list items, on numbers JSON cannot carry.

impl Validate for CreatePortfolioRequest {
    fn validate(&self) -> validation::Result {
        validate_fields(self)
    }
}

impl Validate for UpdatePortfolioStatusRequest {
    fn validate(&self) -> validation::Result {
        validate_fields(self)
    }
}

impl Validate for AddIntentToPortfolioRequest {
    fn validate(&self) -> validation::Result {
        validate_fields(self)
    }
}
