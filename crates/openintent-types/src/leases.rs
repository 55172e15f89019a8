//! Scope leases (RFC-0003): exclusive, expiring ownership of a scope of an intent.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::schema::{Field, Kind, RequestSchema, opt, req, validate_fields};
use crate::validation::{self, Validate};
pub use crate::validation::{MAX_LEASE_SECONDS, MAX_SCOPE_CHARS};
use crate::wire::null_as_default;

wire_enum! {
    /// The status of a lease (PROTOCOL.md §4.4).
    pub enum LeaseStatus {
        /// Held and not expired.
        Active = "active",
        /// Given back by its holder.
        Released = "released",
        /// Past its expiry without release.
        Expired = "expired",
        /// Taken away.
        Revoked = "revoked",
    }
}

/// The default lease duration, in seconds.
pub const DEFAULT_LEASE_SECONDS: i64 = 300;

fn default_duration() -> i64 {
    DEFAULT_LEASE_SECONDS
}

wire_model! {
    /// A lease (PROTOCOL.md §5.4).
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct Lease {
        /// Lease id.
        pub id: String,
        /// The intent.
        #[serde(default, deserialize_with = "null_as_default")]
        pub intent_id: String,
        /// The holder (on the reference server: the API key of the caller).
        #[serde(default, deserialize_with = "null_as_default")]
        pub agent_id: String,
        /// The scope held.
        pub scope: String,
        /// When it was acquired (read from `acquired_at` or `created_at`).
        #[serde(with = "crate::time::wire", default)]
        pub acquired_at: DateTime<Utc>,
        /// When it expires unless renewed.
        #[serde(with = "crate::time::wire")]
        pub expires_at: DateTime<Utc>,
        /// When it was released, if it was.
        #[serde(with = "crate::time::wire_opt", default)]
        pub released_at: Option<DateTime<Utc>>,
        /// The status the server reported, if any; see [`Lease::status_at`].
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub status: Option<LeaseStatus>,
    }
    aliases {
        "acquired_at" <= ["created_at", "acquiredAt", "createdAt"],
        "expires_at" <= ["expiresAt"],
        "released_at" <= ["releasedAt"],
        "agent_id" <= ["agentId", "holder"],
        "intent_id" <= ["intentId"],
    }
    also_emit { "acquired_at" => "created_at" }
}

impl Lease {
    /// A new active lease of `duration_seconds` from now.
    pub fn new(
        id: impl Into<String>,
        intent_id: impl Into<String>,
        agent_id: impl Into<String>,
        scope: impl Into<String>,
        duration_seconds: i64,
    ) -> Self {
        let now = crate::time::now();
        Lease {
            id: id.into(),
            intent_id: intent_id.into(),
            agent_id: agent_id.into(),
            scope: scope.into(),
            acquired_at: now,
            expires_at: now + chrono::Duration::seconds(duration_seconds),
            released_at: None,
            status: None,
        }
    }

    /// The status at `now`: the server's `status` if it sent one (and it is not a stale
    /// `active`), else `released` when released, `expired` when past `expires_at`, else `active`.
    pub fn status_at(&self, now: DateTime<Utc>) -> LeaseStatus {
        match &self.status {
            Some(LeaseStatus::Active) | None => {
                if self.released_at.is_some() {
                    LeaseStatus::Released
                } else if self.expires_at <= now {
                    LeaseStatus::Expired
                } else {
                    LeaseStatus::Active
                }
            }
            Some(other) => other.clone(),
        }
    }

    /// Whether the lease holds its scope at `now`.
    ///
    /// ```
    /// use openintent_types::Lease;
    /// let lease = Lease::new("l1", "i1", "agent", "analysis", 60);
    /// let now = chrono::Utc::now();
    /// assert!(lease.is_active_at(now));
    /// assert!(!lease.is_active_at(now + chrono::Duration::seconds(61)));
    /// ```
    pub fn is_active_at(&self, now: DateTime<Utc>) -> bool {
        self.status_at(now) == LeaseStatus::Active
    }

    /// Whether the lease holds its scope now.
    pub fn is_active(&self) -> bool {
        self.is_active_at(Utc::now())
    }

    /// Whether this lease's scope covers a state path: the path is the scope's path
    /// ([`scope_path`]) or lies below it.
    ///
    /// ```
    /// use openintent_types::Lease;
    /// let lease = Lease::new("l", "i", "a", "hotel_search", 60);
    /// assert!(lease.covers_path("/hotel_search/results"));
    /// assert!(!lease.covers_path("/hotel_searches"));
    /// ```
    pub fn covers_path(&self, path: &str) -> bool {
        scope_covers_path(&self.scope, path)
    }
}

/// The state path a lease scope guards, as unescaped keys from the top level down.
///
/// A scope is a dot-separated path into the intent's state: each part between dots is one key,
/// taken literally (`-`, spaces, `/`, `~` and every other character but `.` belong to the key).
/// So `analysis` guards the top-level key `analysis`, `content.draft` the key `draft` inside
/// `content`, and `data-processing` the top-level key `data-processing`. An empty part (a
/// leading, trailing or doubled dot) is the empty key.
///
/// ```
/// use openintent_types::scope_path;
/// assert_eq!(scope_path("content.draft"), ["content", "draft"]);
/// assert_eq!(scope_path("data-processing"), ["data-processing"]);
/// assert_eq!(scope_path("a/b c"), ["a/b c"]);
/// ```
pub fn scope_path(scope: &str) -> Vec<String> {
    scope.split('.').map(str::to_owned).collect()
}

/// The JSON pointer ([RFC 6901](https://www.rfc-editor.org/rfc/rfc6901)) of the state a scope
/// guards: [`scope_path`] with each key escaped (`~` → `~0`, `/` → `~1`).
///
/// ```
/// use openintent_types::scope_pointer;
/// assert_eq!(scope_pointer("content.draft"), "/content/draft");
/// assert_eq!(scope_pointer("shared-scope"), "/shared-scope");
/// assert_eq!(scope_pointer("a/b~c"), "/a~1b~0c");
/// ```
pub fn scope_pointer(scope: &str) -> String {
    scope_path(scope).iter().map(|k| format!("/{}", crate::patch::escape_token(k))).collect()
}

/// Whether `scope` covers the JSON-pointer `path`: the path's first keys are the scope's
/// [`scope_path`] (`content.draft` covers `/content/draft/title`; `a/b` covers `/a~1b`).
/// An unparseable path is covered by nothing.
pub fn scope_covers_path(scope: &str, path: &str) -> bool {
    let Ok(tokens) = crate::patch::parse_pointer(path) else { return false };
    tokens.starts_with(&scope_path(scope))
}

/// Whether writing `path` may change the state `scope` guards: the path is covered by the
/// scope ([`scope_covers_path`]), or it is an ancestor of the scope's path (writing it would
/// overwrite the guarded subtree; the empty path is the whole document).
///
/// ```
/// use openintent_types::scope_overlaps_path;
/// assert!(scope_overlaps_path("trip.hotel", "/trip"));
/// assert!(scope_overlaps_path("trip.hotel", "/trip/hotel/name"));
/// assert!(!scope_overlaps_path("trip.hotel", "/trip/flight"));
/// ```
pub fn scope_overlaps_path(scope: &str, path: &str) -> bool {
    let Ok(tokens) = crate::patch::parse_pointer(path) else { return false };
    let guarded = scope_path(scope);
    tokens.starts_with(&guarded) || guarded.starts_with(&tokens)
}

wire_model! {
    /// Body of `POST /api/v1/intents/{id}/leases` (`acquire_lease`).
    #[derive(Debug, Clone, PartialEq, Serialize)]
    #[non_exhaustive]
    pub struct AcquireLeaseRequest {
        /// The scope: any non-blank string of at most [`MAX_SCOPE_CHARS`] characters without
        /// control characters; it guards the state at [`scope_path`].
        pub scope: String,
        /// Duration in seconds (default 300, 1-86400).
        #[serde(default = "default_duration")]
        pub duration_seconds: i64,
    }
    aliases { "duration_seconds" <= ["durationSeconds"] }
    also_emit {}
}

impl AcquireLeaseRequest {
    /// A request for `scope` for `duration_seconds`.
    pub fn new(scope: impl Into<String>, duration_seconds: i64) -> Self {
        AcquireLeaseRequest { scope: scope.into(), duration_seconds }
    }
}

wire_model! {
    /// Body of `PATCH /api/v1/intents/{id}/leases/{lease_id}` (`renew_lease`).
    #[derive(Debug, Clone, PartialEq, Serialize)]
    #[non_exhaustive]
    pub struct RenewLeaseRequest {
        /// New duration in seconds, counted from the renewal (default 300).
        #[serde(default = "default_duration")]
        pub duration_seconds: i64,
    }
    aliases { "duration_seconds" <= ["durationSeconds"] }
    also_emit {}
}

impl RenewLeaseRequest {
    /// A request to extend by `duration_seconds` from now.
    pub fn new(duration_seconds: i64) -> Self {
        RenewLeaseRequest { duration_seconds }
    }
}

impl Default for RenewLeaseRequest {
    fn default() -> Self {
        Self::new(DEFAULT_LEASE_SECONDS)
    }
}

// ----- request field rules (validation and the OpenAPI document read these) -----------------

/// The largest lease duration, as the schema's bound.
const MAX_LEASE: f64 = MAX_LEASE_SECONDS as f64;

impl RequestSchema for AcquireLeaseRequest {
    const FIELDS: &'static [Field] =
        &[req("scope", Kind::Str).scope(), opt("duration_seconds", Kind::Int).range(1.0, MAX_LEASE).unit("seconds")];
}

impl RequestSchema for RenewLeaseRequest {
    const FIELDS: &'static [Field] = &[opt("duration_seconds", Kind::Int).range(1.0, MAX_LEASE).unit("seconds")];
    const EMPTY_OK: bool = true;
}

// ----- Validation ---------------------------------------------------------------------------
//
// The field rules of each request are its `RequestSchema::FIELDS` above; `validate_fields`
// enforces them. What follows them here is what the declaration does not say: rules across
// fields, on list items, on numbers JSON cannot carry.

impl Validate for AcquireLeaseRequest {
    fn validate(&self) -> validation::Result {
        validate_fields(self)
    }
}

impl Validate for RenewLeaseRequest {
    fn validate(&self) -> validation::Result {
        validate_fields(self)
    }
}
