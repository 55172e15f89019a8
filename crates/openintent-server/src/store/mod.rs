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
//! An operation refuses with a [`StoreError`] (`error.rs`); the HTTP layer chooses its status
//! and body. This module holds the data the operations take and return.

pub(crate) mod acl;
mod arbitration;
mod assignments;
mod attachments;
pub(crate) mod channels;
pub(crate) mod coordinators;
mod costs;
mod cursor;
mod db;
mod driver;
mod error;
mod events;
pub(crate) mod governance;
mod graph;
mod hitl;
mod intents;
mod leases;
mod portfolios;
pub(crate) mod registry;
pub(crate) mod repair;
mod retries;
mod rows;
mod streams;
mod subscriptions;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use openintent_types::{DeliveryStatus, IntentEvent, IntentStatus, JsonObject};
use serde_json::Value;

use crate::config::DatabaseLocation;
use crate::notify::Notification;

pub(crate) use cursor::ListKey;
use db::Db;
pub(crate) use db::Trace;
pub use error::StoreError;
pub(crate) use error::StoreResult;
pub(crate) use rows::{new_id, now};

/// The server's storage.
///
/// Cheap to clone (clones share the connection pool).
#[derive(Clone, Debug)]
pub struct Store {
    db: Arc<Db>,
    /// The largest state an intent may hold, in bytes of compact JSON.
    max_state_bytes: usize,
}

impl Store {
    /// Opens (creating when missing) the database and applies the embedded migrations.
    pub async fn open(location: &DatabaseLocation) -> Result<Store, StoreError> {
        location.check_supported().map_err(StoreError::Unsupported)?;
        Ok(Store { db: Arc::new(Db::open(location).await?), max_state_bytes: crate::config::DEFAULT_MAX_STATE_BYTES })
    }

    /// This store, refusing writes that would make an intent's state larger than `bytes` of
    /// compact JSON ([`crate::ServerConfig::max_state_bytes`]).
    #[must_use]
    pub fn with_max_state_bytes(mut self, bytes: usize) -> Store {
        self.max_state_bytes = bytes;
        self
    }

    /// Refuses a state larger than the limit: [`StoreError::StateTooLarge`].
    pub(crate) fn check_state_size(&self, state: &openintent_types::JsonObject) -> StoreResult<()> {
        let size = serde_json::to_string(state).map_or(0, |s| s.len());
        if size > self.max_state_bytes {
            return Err(StoreError::StateTooLarge { size, limit: self.max_state_bytes });
        }
        Ok(())
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

    /// The operational metrics of the server over this store.
    pub(crate) fn metrics(&self) -> &std::sync::Arc<crate::metrics::Metrics> {
        &self.db.metrics
    }

    /// The open connections of the pool, and how many of them are idle.
    pub(crate) fn pool_usage(&self) -> (u32, usize) {
        self.db.pool.usage()
    }

    /// Whether the database answers.
    pub(crate) async fn ping(&self) -> StoreResult<()> {
        driver::query("SELECT 1").execute(&self.db.pool).await?;
        Ok(())
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

#[cfg(test)]
impl NewIntent {
    /// A draft with only a title, created by `me` (for the store's unit tests).
    pub(crate) fn draft(title: &str) -> NewIntent {
        NewIntent {
            title: title.to_owned(),
            description: String::new(),
            created_by: "me".to_owned(),
            parent_id: None,
            depends_on: Vec::new(),
            constraints: JsonObject::new(),
            state: JsonObject::new(),
            status: IntentStatus::Draft,
            governance_policy: None,
        }
    }
}

/// Filter and page of `GET /api/v1/intents`.
#[derive(Debug, Clone, Default)]
pub(crate) struct IntentFilter {
    pub status: Option<String>,
    pub created_by: Option<String>,
    pub parent_id: Option<String>,
    /// Only the intents this principal may read under their ACLs (RFC-0011; the rule of
    /// `rules::acl::allows` at the `read` level).
    pub visible_to: Option<String>,
    pub limit: i64,
    pub offset: i64,
    /// Only the intents after this key in the list order (a page read by cursor; `offset` is
    /// then 0).
    pub after: Option<ListKey>,
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

/// A delivery claimed by a worker, with its subscription as it is now.
#[derive(Debug, Clone)]
pub(crate) struct ClaimedDelivery {
    pub id: String,
    pub subscription_id: String,
    pub event_type: String,
    /// The JSON body, exactly as it is sent.
    pub payload: String,
    /// Attempts made before this claim.
    pub attempts: u32,
    /// The subscription; `None` when it was deleted.
    pub target: Option<DeliveryTarget>,
}

/// Where and how a claimed delivery is sent.
#[derive(Clone)]
pub(crate) struct DeliveryTarget {
    pub url: Option<String>,
    /// `None` for subscriptions stored before secrets existed (sent unsigned).
    pub secret: Option<String>,
    pub active: bool,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl std::fmt::Debug for DeliveryTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeliveryTarget")
            .field("url", &self.url)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("active", &self.active)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// The outcome of one attempt, recorded on the delivery row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DeliveryUpdate {
    /// A 2xx answer: done.
    Delivered { attempts: u32, status_code: u16 },
    /// Failed; try again at `next_attempt_ms` (Unix milliseconds). `status_code` is the
    /// receiver's answer, when it answered.
    Retry { attempts: u32, next_attempt_ms: i64, error: String, status_code: Option<u16> },
    /// Failed for the last time, or cannot be sent at all: dead.
    Failed { attempts: u32, error: String, status_code: Option<u16> },
    /// The subscription was deleted, deactivated or expired, or has no URL: not sent.
    Cancelled { reason: String },
}

impl DeliveryUpdate {
    /// The stored `status` of the row after the update.
    pub(crate) fn status(&self) -> DeliveryStatus {
        match self {
            DeliveryUpdate::Delivered { .. } => DeliveryStatus::Delivered,
            DeliveryUpdate::Retry { .. } => DeliveryStatus::Pending,
            DeliveryUpdate::Failed { .. } => DeliveryStatus::Failed,
            DeliveryUpdate::Cancelled { .. } => DeliveryStatus::Cancelled,
        }
    }
}

/// One delivery as `GET /api/v1/subscriptions/{id}/deliveries` lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct DeliveryRecord {
    /// The delivery id (the `x-openintent-delivery` header receivers get).
    pub id: String,
    pub event_id: String,
    pub event_type: String,
    /// `pending`, `delivered`, `failed` or `cancelled`.
    pub status: String,
    /// Attempts made so far.
    pub attempts: u32,
    /// Why the last attempt failed (or why the delivery was cancelled).
    pub last_error: Option<String>,
    /// The HTTP status the receiver answered to the last attempt, when it answered.
    pub last_status: Option<u16>,
    /// When the next attempt is due (pending deliveries only).
    pub next_attempt_at: Option<chrono::DateTime<chrono::Utc>>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// When a receiver accepted it (delivered deliveries only).
    pub delivered_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The outcome of a state write, with its event.
pub(crate) type Written<T> = (T, IntentEvent);
