//! Storage.
//!
//! [`Store`] is the one type handlers talk to. Its operations hold all of the server's SQL, one
//! body for SQLite and PostgreSQL, one file per protocol area (`intents.rs`, `leases.rs`, ...,
//! each an `impl Store` block), and run every write as one transaction that also appends the
//! operation's event and publishes its notifications when it commits. `db.rs` holds the pool,
//! the few differences between the databases (its `Dialect`), write transactions and the
//! helpers several areas share; `rows.rs` reads models back from rows. Rules that need no SQL
//! (governance, lease coverage, the lifecycle) live in `crate::rules` and in `openintent-types`.
//!
//! An operation refuses with a [`StoreError`]; the HTTP layer chooses its status and body.

mod agents;
mod arbitration;
mod attachments;
mod costs;
mod db;
mod events;
mod intents;
mod leases;
mod portfolios;
mod retries;
mod rows;
mod streams;
mod subscriptions;

use std::sync::Arc;

use chrono::{DateTime, SubsecRound, Utc};
use openintent_types::{FieldError, IntentEvent, IntentStatus, JsonObject, Lease};
use serde_json::Value;

use crate::config::DatabaseLocation;
use crate::notify::Notification;
use crate::rules::governance::Violation;
use crate::rules::leases::LeaseConflict;

use db::Db;
pub(crate) use subscriptions::{ClaimedDelivery, DeliveryUpdate};

/// The server's storage.
///
/// Cheap to clone (clones share the connection pool).
#[derive(Clone, Debug)]
pub struct Store {
    db: Arc<Db>,
}

/// Why a storage operation failed: the database could not be opened or queried, or the
/// protocol refused the operation (nothing was written then, except a governance refusal's
/// `governance.violation` event).
///
/// [`Store::open`] returns the first four variants; the others come from the operations the
/// HTTP layer calls, which answers each with its status and body (`ApiError` implements
/// `From<StoreError>`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database could not be opened or queried.
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    /// The embedded migrations failed.
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// The SQLite database file could not be opened or created (its directory is missing, it
    /// is not writable, ...).
    #[error("cannot open the SQLite database file {}: {reason}; database URLs: {}", path.display(), crate::config::DATABASE_URL_FORMS)]
    SqliteFile {
        /// The file, made absolute.
        path: std::path::PathBuf,
        /// Why, in words.
        reason: String,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// This build cannot open the location (PostgreSQL without the `postgres` feature).
    #[error(transparent)]
    Unsupported(crate::config::ConfigError),
    /// The database stayed busy (locked, a serialization failure or a deadlock, no free
    /// connection); nothing was written, and retrying may succeed.
    #[error("the database is busy; retry")]
    Busy,
    /// A write transaction could not be begun (the server is shutting down).
    #[error("could not begin a transaction: {0}")]
    Begin(#[source] tokio::task::JoinError),
    /// What the operation names does not exist; the text says what (`Intent not found`,
    /// `Lease not found or not owned by you`, ...).
    #[error("{0}")]
    NotFound(&'static str),
    /// The caller may not do this; the text says why (`Lease not owned by you`).
    #[error("{0}")]
    Forbidden(&'static str),
    /// The intent is no longer at the version the write expected.
    #[error("version conflict: the intent is at version {current}")]
    VersionConflict {
        /// The intent's version now.
        current: i64,
    },
    /// A lease of another principal holds the scope, or covers a path of the patch.
    #[error("{detail}")]
    LeaseConflict {
        /// Human text naming the scope or path and the lease.
        detail: String,
        /// The lease in the way, with its status at the refusal; `None` when it could not be read.
        existing: Option<Box<Lease>>,
    },
    /// The lifecycle does not allow the status change.
    #[error(transparent)]
    InvalidTransition(openintent_types::lifecycle::TransitionError),
    /// The intent's governance policy refused the write.
    #[error("governance policy ({rule}): {message}")]
    Governance {
        /// The rule that refused it (`write_scope`, `allowed_agents`, `max_cost`, ...).
        rule: &'static str,
        /// Human text naming the agent and the rule.
        message: String,
        /// The completion mode, for `completion_mode` refusals.
        mode: Option<&'static str>,
    },
    /// Fields of the input cannot be applied (a state patch whose path does not exist, ...).
    #[error("invalid input: {}", field_list(.0))]
    Invalid(Vec<FieldError>),
    /// The input refers to something missing or holds what the database cannot store
    /// (`Dependency not found: <id>`, text with NUL characters).
    #[error("{0}")]
    BadRequest(String),
    /// Stored data could not be read back (a timestamp or JSON document that does not parse),
    /// or a row that must exist is gone.
    #[error("{0}")]
    Corrupt(String),
}

fn field_list(items: &[FieldError]) -> String {
    let parts: Vec<String> = items.iter().map(|e| format!("{}: {}", e.field(), e.msg)).collect();
    parts.join("; ")
}

impl From<sqlx::Error> for StoreError {
    /// Tells the database's refusals that retrying or other input can cure (a busy database,
    /// text PostgreSQL cannot hold) from other database errors.
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e {
            let msg = db.message();
            if msg.contains("database is locked") || msg.contains("busy") {
                return StoreError::Busy;
            }
            // PostgreSQL text cannot hold NUL characters (SQLSTATE 22021).
            if db.code().as_deref() == Some("22021") {
                return StoreError::BadRequest("Text values may not contain NUL characters".to_owned());
            }
            // A serialization failure or deadlock of PostgreSQL: nothing was written.
            if matches!(db.code().as_deref(), Some("40001" | "40P01")) {
                return StoreError::Busy;
            }
        }
        if matches!(e, sqlx::Error::PoolTimedOut) {
            return StoreError::Busy;
        }
        StoreError::Database(e)
    }
}

/// The result of a storage operation.
pub(crate) type StoreResult<T> = Result<T, StoreError>;

impl Store {
    /// Opens (creating when missing) the database and applies the embedded migrations.
    pub async fn open(location: &DatabaseLocation) -> Result<Store, StoreError> {
        location.check_supported().map_err(StoreError::Unsupported)?;
        Ok(Store { db: Arc::new(Db::open(location).await?) })
    }

    /// Closes the connections (waits for running queries).
    pub async fn close(&self) {
        self.db.close().await;
    }

    /// Signalled when this process committed new webhook deliveries (wakes the workers).
    pub(crate) fn deliveries_signal(&self) -> std::sync::Arc<tokio::sync::Notify> {
        self.db.deliveries_signal()
    }

    /// Names this store in the notifications it announces to other server processes.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn origin(&self) -> &str {
        self.db.origin()
    }

    /// The sender on which committed writes publish their notifications (every event appended
    /// to an intent's log, kept portfolio and agent stream messages); the event streams of
    /// every application state over this store read it.
    pub(crate) fn notifier(&self) -> &tokio::sync::broadcast::Sender<Notification> {
        self.db.notifier()
    }

    /// PostgreSQL: the database URL, on which the relay listens; `None` on SQLite.
    pub(crate) fn listen_url(&self) -> Option<&str> {
        self.db.listen_url()
    }

    /// Whether the database answers.
    pub(crate) async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.db.pool).await?;
        Ok(())
    }
}

impl StoreError {
    /// The refusal of a write by a governance rule.
    pub(crate) fn governance(v: Violation) -> Self {
        StoreError::Governance { rule: v.rule, message: v.message, mode: v.mode }
    }

    /// The refusal of a write a lease stands in the way of.
    pub(crate) fn lease(c: LeaseConflict) -> Self {
        StoreError::LeaseConflict { detail: c.detail, existing: c.existing.map(Box::new) }
    }

    /// The error of a SQLite file `path` that `source` kept from being opened.
    pub(crate) fn sqlite_file(path: &std::path::Path, source: sqlx::Error) -> Self {
        let path = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
        let reason = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() && !dir.is_dir() => {
                format!("the directory {} does not exist", dir.display())
            }
            _ => source.to_string(),
        };
        StoreError::SqliteFile { path, reason, source }
    }
}

/// A kept message of a portfolio or agent event stream.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StreamMessage {
    /// The SSE id.
    pub id: String,
    /// The SSE event name.
    pub event: String,
    /// The JSON data, as sent live.
    pub data: Value,
}

/// The current time at the precision stored (microseconds).
pub(crate) fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

pub(crate) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Fields of a new intent, after defaults were applied.
#[derive(Debug, Clone)]
pub(crate) struct NewIntent {
    pub title: String,
    pub description: String,
    pub created_by: String,
    pub parent_id: Option<String>,
    pub depends_on: Vec<String>,
    pub constraints: JsonObject,
    pub state: JsonObject,
    pub status: IntentStatus,
    pub governance_policy: Option<JsonObject>,
}

/// Filter and page of `GET /api/v1/intents`.
#[derive(Debug, Clone, Default)]
pub(crate) struct IntentFilter {
    pub status: Option<String>,
    pub created_by: Option<String>,
    pub parent_id: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

/// Filter and page of `GET .../events`.
#[derive(Debug, Clone, Default)]
pub(crate) struct EventFilter {
    pub event_type: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub limit: i64,
    pub offset: i64,
}

/// A new arbitration request.
#[derive(Debug, Clone)]
pub(crate) struct NewArbitration {
    pub requested_by: String,
    pub reason: String,
    pub context: JsonObject,
    pub options: Value,
}

/// A new decision.
#[derive(Debug, Clone)]
pub(crate) struct NewDecision {
    pub decision_type: String,
    pub decided_by: String,
    pub outcome: String,
    pub rationale: String,
    pub evidence: Option<Vec<Value>>,
}

/// A new portfolio.
#[derive(Debug, Clone)]
pub(crate) struct NewPortfolio {
    pub name: String,
    pub description: String,
    pub created_by: String,
    pub governance_policy: JsonObject,
    pub metadata: Option<JsonObject>,
}

/// The outcome of a state write, with its event.
pub(crate) type Written<T> = (T, IntentEvent);
