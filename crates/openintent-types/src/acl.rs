//! Per-intent access control (RFC-0011): ACLs, grants and access requests.
//!
//! Routes: `GET`/`PUT /api/v1/intents/{id}/acl` ([`Acl`] / [`SetAclRequest`]),
//! `POST …/acl/entries` ([`GrantAccessRequest`] → [`AclEntry`]), `DELETE …/acl/entries/{id}`
//! (204), `POST …/access-requests` ([`CreateAccessRequest`] → [`AccessRequest`]),
//! `GET …/access-requests` (`{"access_requests": [...]}`; read with [`crate::wire::ListBody`]),
//! `POST …/access-requests/{id}/approve` and `…/deny` ([`DecideAccessRequest`]).
//! Levels are cumulative: `read` < `write` < `admin` ([`Permission::includes`]).

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::schema::{Field, Kind, RequestSchema, opt, req};
use crate::validation::{InputValidationError, Validate, fail, require_text_max, validate_id};
use crate::wire::null_as_default;

wire_enum! {
    /// A permission level (RFC-0011). Unknown levels (the reference stores any string, e.g.
    /// `owner`) are kept and grant nothing.
    #[derive(Default)]
    pub enum Permission {
        /// Read the intent, its events and streams (the default of a grant).
        #[default]
        Read = "read",
        /// Also write state, events, leases, attachments, costs.
        Write = "write",
        /// Also change status, the ACL, the retry policy; create children.
        Admin = "admin",
    }
}

impl Permission {
    /// The rank of a known level (`read` 1, `write` 2, `admin` 3).
    pub fn level(&self) -> Option<u8> {
        match self {
            Permission::Read => Some(1),
            Permission::Write => Some(2),
            Permission::Admin => Some(3),
            Permission::Unknown(_) => None,
        }
    }

    /// Whether holding `self` grants `needed` (levels are cumulative; unknown levels grant
    /// nothing and are granted by nothing).
    ///
    /// ```
    /// use openintent_types::Permission;
    /// assert!(Permission::Admin.includes(&Permission::Write));
    /// assert!(!Permission::Read.includes(&Permission::Write));
    /// assert!(!Permission::parse("owner").includes(&Permission::Read));
    /// ```
    pub fn includes(&self, needed: &Permission) -> bool {
        matches!((self.level(), needed.level()), (Some(a), Some(b)) if a >= b)
    }
}

wire_enum! {
    /// What principals without an entry get (`default_policy`).
    #[derive(Default)]
    pub enum AccessPolicy {
        /// Everyone has access (the default; an intent without ACL is open).
        #[default]
        Open = "open",
        /// Only principals with an entry (the 0.17 SDK's name).
        Closed = "closed",
        /// Only declared agents or those on the allow list (RFC-0011).
        Restricted = "restricted",
        /// Only the assigned agent and explicit grants (RFC-0011).
        Private = "private",
    }
}

wire_enum! {
    /// The kind of principal an entry names (free strings on the reference).
    #[derive(Default)]
    pub enum PrincipalType {
        /// An agent (the default).
        #[default]
        Agent = "agent",
        /// A human user.
        User = "user",
        /// A group.
        Group = "group",
    }
}

wire_model! {
    /// One grant of an ACL. Every key is sent, unset ones as `null`.
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct AclEntry {
        /// Entry id.
        pub id: String,
        /// The intent.
        #[serde(default, deserialize_with = "null_as_default")]
        pub intent_id: String,
        /// Who is granted.
        pub principal_id: String,
        /// What kind of principal.
        #[serde(default)]
        pub principal_type: PrincipalType,
        /// The level granted.
        #[serde(default)]
        pub permission: Permission,
        /// Who granted it.
        #[serde(default, deserialize_with = "null_as_default")]
        pub granted_by: String,
        /// When.
        #[serde(with = "crate::time::wire", default)]
        pub granted_at: DateTime<Utc>,
        /// When it stops counting.
        #[serde(default, with = "crate::time::wire_opt")]
        pub expires_at: Option<DateTime<Utc>>,
        /// Why.
        #[serde(default)]
        pub reason: Option<String>,
    }
    aliases { "id" <= ["entry_id"], "principal_id" <= ["principalId"], "principal_type" <= ["principalType"] }
    also_emit {}
}

impl AclEntry {
    /// Whether the entry counts at `now` (not past `expires_at`).
    pub fn is_active_at(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_none_or(|e| e > now)
    }
}

wire_model! {
    /// An intent's access-control list (`GET`/`PUT /api/v1/intents/{id}/acl`).
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct Acl {
        /// The intent.
        #[serde(default, deserialize_with = "null_as_default")]
        pub intent_id: String,
        /// What principals without an entry get.
        #[serde(default)]
        pub default_policy: AccessPolicy,
        /// The grants, in insertion order (a principal may hold several).
        #[serde(default, deserialize_with = "null_as_default")]
        pub entries: Vec<AclEntry>,
    }
    aliases { "default_policy" <= ["defaultPolicy"] }
    also_emit {}
}

impl Acl {
    /// The highest known level `principal_id` holds through unexpired entries at `now`.
    ///
    /// ```
    /// use openintent_types::{Acl, Permission};
    /// let acl: Acl = serde_json::from_str(r#"{"default_policy": "closed", "entries": [
    ///     {"id": "1", "principal_id": "bot", "permission": "admin", "expires_at": "2020-01-01T00:00:00"},
    ///     {"id": "2", "principal_id": "bot", "permission": "write"},
    ///     {"id": "3", "principal_id": "bot", "permission": "read"}]}"#).unwrap();
    /// assert_eq!(acl.permission_of("bot", chrono::Utc::now()), Some(Permission::Write));
    /// assert_eq!(acl.permission_of("other", chrono::Utc::now()), None);
    /// ```
    pub fn permission_of(&self, principal_id: &str, now: DateTime<Utc>) -> Option<Permission> {
        self.entries
            .iter()
            .filter(|e| e.principal_id == principal_id && e.is_active_at(now) && e.permission.level().is_some())
            .map(|e| e.permission.clone())
            .max_by_key(Permission::level)
    }
}

fn check_known_permission(field: &str, p: &Permission) -> Result<(), InputValidationError> {
    match p {
        Permission::Unknown(s) => fail(field, format_args!("must be read, write or admin, got {s:?}")),
        _ => Ok(()),
    }
}

wire_model! {
    /// Body of `POST /api/v1/intents/{id}/acl/entries` (grant), and one entry of
    /// [`SetAclRequest`].
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct GrantAccessRequest {
        /// Who is granted (required).
        pub principal_id: String,
        /// What kind of principal (default `agent`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub principal_type: Option<PrincipalType>,
        /// The level (default `read`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub permission: Option<Permission>,
        /// Why.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub reason: Option<String>,
        /// When the grant stops counting (offsets are converted to UTC).
        #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::time::rfc3339_opt")]
        pub expires_at: Option<DateTime<Utc>>,
        /// In a `PUT` entry only: who granted it (the grant route records the caller).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub granted_by: Option<String>,
    }
    aliases { "principal_id" <= ["principalId"], "principal_type" <= ["principalType"], "expires_at" <= ["expires"] }
    also_emit {}
}

impl GrantAccessRequest {
    /// A grant of `permission` to the agent `principal_id`.
    pub fn new(principal_id: impl Into<String>, permission: Permission) -> Self {
        GrantAccessRequest { principal_id: principal_id.into(), permission: Some(permission), ..Default::default() }
    }

    fn check(&self, prefix: &str) -> Result<(), InputValidationError> {
        validate_id(&format!("{prefix}principal_id"), &self.principal_id)?;
        if let Some(PrincipalType::Unknown(t)) = &self.principal_type {
            require_text_max(&format!("{prefix}principal_type"), t, 64)?;
        }
        if let Some(p) = &self.permission {
            check_known_permission(&format!("{prefix}permission"), p)?;
        }
        if let Some(g) = &self.granted_by {
            require_text_max(&format!("{prefix}granted_by"), g, 255)?;
        }
        Ok(())
    }
}

impl Validate for GrantAccessRequest {
    fn validate(&self) -> Result<(), InputValidationError> {
        self.check("")
    }
}

wire_model! {
    /// Body of `PUT /api/v1/intents/{id}/acl`: replaces the whole ACL (`{}` resets it to open,
    /// no entries).
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct SetAclRequest {
        /// The default policy (default `open`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub default_policy: Option<AccessPolicy>,
        /// The new entries.
        #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_default")]
        pub entries: Vec<GrantAccessRequest>,
    }
    aliases { "default_policy" <= ["defaultPolicy"] }
    also_emit {}
}

impl Validate for SetAclRequest {
    fn validate(&self) -> Result<(), InputValidationError> {
        if let Some(AccessPolicy::Unknown(p)) = &self.default_policy {
            return fail("default_policy", format_args!("must be open, closed, restricted or private, got {p:?}"));
        }
        for (i, e) in self.entries.iter().enumerate() {
            e.check(&format!("entries.{i}."))?;
        }
        Ok(())
    }
}

wire_enum! {
    /// The status of an access request.
    #[derive(Default)]
    pub enum AccessRequestStatus {
        /// Waiting (the default).
        #[default]
        Pending = "pending",
        /// Granted (an entry was added).
        Approved = "approved",
        /// Refused.
        Denied = "denied",
    }
}

wire_model! {
    /// A principal's request for access. Every key is sent, unset ones as `null`.
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct AccessRequest {
        /// Request id.
        pub id: String,
        /// The intent.
        #[serde(default, deserialize_with = "null_as_default")]
        pub intent_id: String,
        /// Who asks.
        pub principal_id: String,
        /// What kind of principal.
        #[serde(default)]
        pub principal_type: PrincipalType,
        /// The level asked for.
        #[serde(default)]
        pub requested_permission: Permission,
        /// Why.
        #[serde(default, deserialize_with = "null_as_default")]
        pub reason: String,
        /// Pending, approved or denied.
        #[serde(default)]
        pub status: AccessRequestStatus,
        /// What the principal can do.
        #[serde(default, deserialize_with = "null_as_default")]
        pub capabilities: Vec<String>,
        /// Who decided.
        #[serde(default)]
        pub decided_by: Option<String>,
        /// When.
        #[serde(default, with = "crate::time::wire_opt")]
        pub decided_at: Option<DateTime<Utc>>,
        /// The decider's reason.
        #[serde(default)]
        pub decision_reason: Option<String>,
        /// When it was filed.
        #[serde(with = "crate::time::wire", default)]
        pub created_at: DateTime<Utc>,
    }
    aliases { "id" <= ["request_id"], "requested_permission" <= ["permission"] }
    also_emit {}
}

wire_model! {
    /// Body of `POST /api/v1/intents/{id}/access-requests`.
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct CreateAccessRequest {
        /// Who asks (required).
        pub principal_id: String,
        /// What kind of principal (default `agent`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub principal_type: Option<PrincipalType>,
        /// The level asked for (default `write`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub requested_permission: Option<Permission>,
        /// Why.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub reason: Option<String>,
        /// What the principal can do.
        #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_default")]
        pub capabilities: Vec<String>,
    }
    aliases { "requested_permission" <= ["permission"], "principal_id" <= ["principalId"] }
    also_emit {}
}

impl CreateAccessRequest {
    /// A request by `principal_id` for `permission`.
    pub fn new(principal_id: impl Into<String>, permission: Permission) -> Self {
        CreateAccessRequest {
            principal_id: principal_id.into(),
            requested_permission: Some(permission),
            ..Default::default()
        }
    }
}

impl Validate for CreateAccessRequest {
    fn validate(&self) -> Result<(), InputValidationError> {
        validate_id("principal_id", &self.principal_id)?;
        if let Some(p) = &self.requested_permission {
            check_known_permission("requested_permission", p)?;
        }
        for (i, c) in self.capabilities.iter().enumerate() {
            require_text_max(&format!("capabilities.{i}"), c, 100)?;
        }
        Ok(())
    }
}

wire_model! {
    /// Body of `POST …/access-requests/{id}/approve` and `…/deny`.
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct DecideAccessRequest {
        /// Who decides (required; clients send their agent id).
        pub decided_by: String,
        /// Approve only: the level granted (default: the one requested).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub permission: Option<Permission>,
        /// Approve only: when the created entry expires.
        #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::time::rfc3339_opt")]
        pub expires_at: Option<DateTime<Utc>>,
        /// Why.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub reason: Option<String>,
    }
    aliases { "decided_by" <= ["decidedBy"] }
    also_emit {}
}

impl DecideAccessRequest {
    /// A decision by `decided_by`.
    pub fn new(decided_by: impl Into<String>) -> Self {
        DecideAccessRequest { decided_by: decided_by.into(), ..Default::default() }
    }
}

impl Validate for DecideAccessRequest {
    fn validate(&self) -> Result<(), InputValidationError> {
        require_text_max("decided_by", &self.decided_by, 255)?;
        if let Some(p) = &self.permission {
            check_known_permission("permission", p)?;
        }
        Ok(())
    }
}

// ----- request field rules (validation and the OpenAPI document read these) -----------------

impl RequestSchema for GrantAccessRequest {
    const FIELDS: &'static [Field] = &[
        req("principal_id", Kind::Str).id(),
        opt("principal_type", Kind::Str).text(64),
        opt("permission", Kind::Str).one_of(Permission::known_names),
        opt("reason", Kind::Str),
        opt("expires_at", Kind::Time),
        opt("granted_by", Kind::Str).text(255),
    ];
}

impl RequestSchema for SetAclRequest {
    const FIELDS: &'static [Field] =
        &[opt("default_policy", Kind::Str).one_of(AccessPolicy::known_names), opt("entries", Kind::List)];
    const EMPTY_OK: bool = true;
}

impl RequestSchema for CreateAccessRequest {
    const FIELDS: &'static [Field] = &[
        req("principal_id", Kind::Str).id(),
        opt("principal_type", Kind::Str).text(64),
        opt("requested_permission", Kind::Str).one_of(Permission::known_names),
        opt("reason", Kind::Str),
        opt("capabilities", Kind::StrList),
    ];
}

impl RequestSchema for DecideAccessRequest {
    const FIELDS: &'static [Field] = &[
        req("decided_by", Kind::Str).text(255),
        opt("permission", Kind::Str).one_of(Permission::known_names),
        opt("expires_at", Kind::Time),
        opt("reason", Kind::Str),
    ];
}
