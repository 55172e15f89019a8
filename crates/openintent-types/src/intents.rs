//! Intents (RFC-0001): goals with versioned state and a lifecycle.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::patch::StatePatch;
use crate::schema::{Field, Kind, RequestSchema, opt, req, validate_fields};
use crate::validation::{self, Validate};
use crate::wire::{null_as_default, object_or_rules, opt_object_or_rules};

wire_enum! {
    /// The status of an intent (PROTOCOL.md §4.1). See [`crate::lifecycle`] for the transitions.
    #[derive(Default)]
    pub enum IntentStatus {
        /// Created, not started. The default on create.
        #[default]
        Draft = "draft",
        /// Being worked on.
        Active = "active",
        /// Waiting on something (for example unmet dependencies).
        Blocked = "blocked",
        /// Paused until a human answers (RFC-0025/0026).
        SuspendedAwaitingInput = "suspended_awaiting_input",
        /// Done. Terminal.
        Completed = "completed",
        /// Given up. Terminal.
        Abandoned = "abandoned",
    }
}

wire_model! {
    /// An intent as servers return it (PROTOCOL.md §5.1).
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct Intent {
        /// Server-generated id (a UUID string).
        pub id: String,
        /// Short title.
        #[serde(default, deserialize_with = "null_as_default")]
        pub title: String,
        /// Longer description (`""` when none).
        #[serde(default, deserialize_with = "null_as_default")]
        pub description: String,
        /// Who created it: the body's `created_by`, else the caller.
        #[serde(default, deserialize_with = "null_as_default")]
        pub created_by: String,
        /// Parent intent, if any (read from `parent_id` or `parent_intent_id`).
        #[serde(default)]
        pub parent_id: Option<String>,
        /// Intents this one depends on.
        #[serde(default, deserialize_with = "null_as_default")]
        pub depends_on: Vec<String>,
        /// Constraints (a legacy JSON array is read as `{"rules": [...]}`).
        #[serde(default, deserialize_with = "object_or_rules")]
        pub constraints: Map<String, Value>,
        /// The structured state document.
        #[serde(default, deserialize_with = "null_as_default")]
        pub state: Map<String, Value>,
        /// Lifecycle status.
        #[serde(default)]
        pub status: IntentStatus,
        /// Confidence (the reference always returns `0.0`).
        #[serde(default, deserialize_with = "null_as_default")]
        pub confidence: f64,
        /// Optimistic-concurrency version, starting at 1; every state or status write adds one.
        #[serde(default)]
        pub version: i64,
        /// Governance policy, if set.
        #[serde(default)]
        pub governance_policy: Option<Map<String, Value>>,
        /// When it was created.
        #[serde(with = "crate::time::wire", default)]
        pub created_at: DateTime<Utc>,
        /// When it last changed.
        #[serde(with = "crate::time::wire", default)]
        pub updated_at: DateTime<Utc>,
    }
    aliases {
        "parent_id" <= ["parent_intent_id", "parentIntentId", "parentId"],
        "depends_on" <= ["dependsOn"],
        "created_by" <= ["createdBy"],
        "governance_policy" <= ["governancePolicy"],
        "created_at" <= ["createdAt"],
        "updated_at" <= ["updatedAt"],
    }
    also_emit { "parent_id" => "parent_intent_id" }
}

impl Intent {
    /// An intent with the given id and title, version 1, status draft, timestamps now.
    pub fn new(id: impl Into<String>, title: impl Into<String>) -> Self {
        let now = crate::time::now();
        Intent {
            id: id.into(),
            title: title.into(),
            version: 1,
            created_at: now,
            updated_at: now,
            ..Default::default()
        }
    }
}

wire_model! {
    /// Body of `POST /api/v1/intents` (`create_intent`).
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct CreateIntentRequest {
        /// Title (required, 1-500 characters after trimming).
        pub title: String,
        /// Description (omitted when `None`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub description: Option<String>,
        /// Constraints object.
        #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "opt_object_or_rules")]
        pub constraints: Option<Map<String, Value>>,
        /// Initial state (the seed's `initial_state`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub state: Option<Map<String, Value>>,
        /// Creator; servers default it to the caller.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub created_by: Option<String>,
        /// Initial status (default `draft`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub status: Option<IntentStatus>,
        /// Parent intent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub parent_intent_id: Option<String>,
        /// Governance policy.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub governance_policy: Option<Map<String, Value>>,
        /// Dependencies (RFC-0002).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub depends_on: Option<Vec<String>>,
    }
    aliases {
        "parent_intent_id" <= ["parent_id", "parentIntentId"],
        "created_by" <= ["createdBy"],
        "governance_policy" <= ["governancePolicy"],
        "depends_on" <= ["dependsOn"],
        "state" <= ["initial_state"],
    }
    also_emit {}
}

impl CreateIntentRequest {
    /// A request with only a title.
    pub fn new(title: impl Into<String>) -> Self {
        CreateIntentRequest { title: title.into(), ..Default::default() }
    }
}

wire_model! {
    /// Body of `POST /api/v1/intents/{id}/state` (`update_state`). Sent with `If-Match: <version>`.
    ///
    /// Two forms exist: `patches` (RFC 6901 operations) and `state` (a merge: every top-level key
    /// becomes a `set`). A non-empty `patches` wins; see [`UpdateStateRequest::effective_patches`].
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct UpdateStateRequest {
        /// Patch operations, applied in order.
        #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_default")]
        pub patches: Vec<StatePatch>,
        /// Merge form: top-level keys to set.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub state: Option<Map<String, Value>>,
    }
    aliases {}
    also_emit {}
}

impl UpdateStateRequest {
    /// A request carrying patch operations.
    pub fn patches(patches: Vec<StatePatch>) -> Self {
        UpdateStateRequest { patches, state: None }
    }

    /// A request that sets each top-level key of `values` (sent as `set` patches with escaped
    /// JSON-pointer paths, the form every server understands).
    pub fn merge(values: Map<String, Value>) -> Self {
        UpdateStateRequest::patches(values.into_iter().map(|(k, v)| StatePatch::set_key(&k, v)).collect())
    }

    /// The operations this body asks for: `patches` if non-empty, else one `set` per key of
    /// `state` (keys are taken literally, as top-level members).
    pub fn effective_patches(&self) -> Vec<StatePatch> {
        if !self.patches.is_empty() {
            return self.patches.clone();
        }
        self.state.iter().flatten().map(|(k, v)| StatePatch::set_key(k, v.clone())).collect()
    }
}

wire_model! {
    /// Body of `POST /api/v1/intents/{id}/status` (`set_status`). Sent with `If-Match: <version>`.
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct SetStatusRequest {
        /// The new status.
        pub status: IntentStatus,
        /// Why (required by some governance policies).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub reason: Option<String>,
    }
    aliases {}
    also_emit {}
}

impl SetStatusRequest {
    /// A request for `status` without a reason.
    pub fn new(status: impl Into<IntentStatus>) -> Self {
        SetStatusRequest { status: status.into(), reason: None }
    }
}

/// Query of `GET /api/v1/intents` (`list_intents`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct ListIntentsQuery {
    /// Only intents with this status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<IntentStatus>,
    /// Page size (servers default to 50; 1-1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Items to skip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u32>,
    /// Only intents created by this principal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// Only children of this intent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    /// Our extension (servers of this project only): the page after the one whose
    /// [`IntentPage::next_cursor`] this is, an opaque string. Not combined with a non-zero
    /// `offset`. A server without the extension ignores it (and answers the first page); the
    /// reference server has no list route at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// One page of `GET /api/v1/intents`: `{"intents", "total", "limit", "offset"}`, and from
/// servers of this project `next_cursor` when more intents follow.
#[derive(Debug, Clone, PartialEq, Default, Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct IntentPage {
    /// The intents of this page.
    pub intents: Vec<Intent>,
    /// How many intents match the filter in all.
    pub total: u64,
    /// The page size used.
    pub limit: u32,
    /// The offset used.
    pub offset: u32,
    /// Our extension: when more intents follow, the [`ListIntentsQuery::cursor`] of the next
    /// page (absent from the reference server's pages and from a last page).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

impl IntentPage {
    /// A page (without a `next_cursor`).
    pub fn new(intents: Vec<Intent>, total: u64, limit: u32, offset: u32) -> Self {
        IntentPage { intents, total, limit, offset, next_cursor: None }
    }

    /// This page with `next_cursor` set.
    pub fn with_next_cursor(mut self, cursor: impl Into<String>) -> Self {
        self.next_cursor = Some(cursor.into());
        self
    }
}

// ----- request field rules (validation and the OpenAPI document read these) -----------------

impl RequestSchema for CreateIntentRequest {
    const FIELDS: &'static [Field] = &[
        req("title", Kind::Str).text(500),
        opt("description", Kind::Str),
        opt("constraints", Kind::ObjOrList),
        opt("state", Kind::Obj),
        opt("created_by", Kind::Str).text(255),
        opt("status", Kind::Str).one_of(IntentStatus::known_names).open(),
        opt("parent_intent_id", Kind::Str).id(),
        opt("governance_policy", Kind::Obj),
        opt("depends_on", Kind::StrList),
    ];
}

impl RequestSchema for UpdateStateRequest {
    const FIELDS: &'static [Field] = &[opt("patches", Kind::Patches), opt("state", Kind::Obj)];

    /// Patches, or (the reference's form) a non-empty object of top-level keys to set.
    fn schema_extra() -> Option<Value> {
        Some(serde_json::json!({"anyOf": [
            {"required": ["patches"], "properties": {"patches": {"type": "array", "minItems": 1}}},
            {"required": ["state"], "properties": {"state": {"type": "object", "minProperties": 1}}},
        ]}))
    }
}

impl RequestSchema for SetStatusRequest {
    const FIELDS: &'static [Field] =
        &[req("status", Kind::Str).one_of(IntentStatus::known_names).open(), opt("reason", Kind::Str)];
}

// ----- Validation ---------------------------------------------------------------------------
//
// The field rules of each request are its `RequestSchema::FIELDS` above; `validate_fields`
// enforces them. What follows them here is what the declaration does not say: rules across
// fields, on list items, on numbers JSON cannot carry.

impl Validate for CreateIntentRequest {
    fn validate(&self) -> validation::Result {
        validate_fields(self)?;
        // Not in the declaration: the document lists no length for it.
        if let Some(d) = &self.description {
            validation::max_chars("description", d, 10_000)?;
        }
        // The declaration lists the known statuses without refusing others (the server does).
        if let Some(s) = &self.status {
            validation::validate_status(s.as_str())?;
        }
        Ok(())
    }
}

impl Validate for UpdateStateRequest {
    fn validate(&self) -> validation::Result {
        validate_fields(self)?;
        if !self.patches.is_empty() {
            return validation::validate_state_update(&self.patches);
        }
        match &self.state {
            Some(s) if !s.is_empty() => Ok(()),
            _ => validation::fail("patches", "cannot be empty"),
        }
    }
}

impl Validate for SetStatusRequest {
    fn validate(&self) -> validation::Result {
        validate_fields(self)?;
        validation::validate_status(self.status.as_str())
    }
}
