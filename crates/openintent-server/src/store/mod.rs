//! Storage seam.
//!
//! [`Store`] is the one type handlers talk to. It dispatches every operation to the SQL store
//! (`sql.rs`), which holds all of the server's SQL, one body for SQLite and PostgreSQL, and
//! implements every operation as one transaction that also appends the operation's event. The
//! few differences between the databases are its `Dialect`. Rules that need no SQL (patch
//! application, the lifecycle table, lease coverage) live in this module and in
//! `openintent-types`.
//!
//! A new operation is a method of `SqlStore` plus a line in the `operations!` list below.

mod sql;

use chrono::{DateTime, SubsecRound, Utc};
use openintent_types::{
    AgentAssignment, Arbitration, Attachment, CostRecord, CreateAttachmentRequest, CreateSubscriptionRequest, Decision,
    EventType, FailureRecord, Intent, IntentEvent, IntentStatus, JsonObject, Lease, MembershipRole, Portfolio,
    PortfolioMembership, PortfolioStatus, RecordCostRequest, RecordFailureRequest, RetryPolicy, SetRetryPolicyRequest,
    StatePatch, Subscription,
};
use serde_json::Value;

use crate::config::DatabaseLocation;
use crate::error::{ApiError, ApiResult};
use crate::notify::Notification;

pub(crate) use sql::SqlStore;

/// The server's storage.
///
/// Cheap to clone (clones share the connection pool).
#[derive(Clone, Debug)]
pub struct Store {
    sql: std::sync::Arc<SqlStore>,
}

/// Why storage could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database could not be opened or queried.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
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
}

impl Store {
    /// Opens (creating when missing) the database and applies the embedded migrations.
    pub async fn open(location: &DatabaseLocation) -> Result<Store, StoreError> {
        location.check_supported().map_err(StoreError::Unsupported)?;
        Ok(Store { sql: std::sync::Arc::new(SqlStore::open(location).await?) })
    }

    /// Closes the connections (waits for running queries).
    pub async fn close(&self) {
        self.sql.close().await;
    }

    /// Signalled when this process committed new webhook deliveries (wakes the workers).
    pub(crate) fn deliveries_signal(&self) -> std::sync::Arc<tokio::sync::Notify> {
        self.sql.deliveries_signal()
    }

    /// Names this store in the notifications it announces to other server processes.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn origin(&self) -> &str {
        self.sql.origin()
    }

    /// The sender on which committed writes publish their notifications (every event appended
    /// to an intent's log, kept portfolio and agent stream messages); the event streams of
    /// every [`AppState`](crate::AppState) over this store read it.
    pub(crate) fn notifier(&self) -> &tokio::sync::broadcast::Sender<Notification> {
        self.sql.notifier()
    }

    /// PostgreSQL: the database URL, on which the relay listens; `None` on SQLite.
    pub(crate) fn listen_url(&self) -> Option<&str> {
        self.sql.listen_url()
    }
}

impl StoreError {
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

/// Generates the `Store` operations, each dispatching to the `SqlStore` method of the same name
/// and signature.
macro_rules! operations {
    ($( fn $name:ident(&self $(, $arg:ident : $ty:ty)* $(,)?) -> $ret:ty; )*) => {
        impl Store {
            $(
                pub(crate) async fn $name(&self $(, $arg: $ty)*) -> $ret {
                    self.sql.$name($($arg),*).await
                }
            )*
        }
    };
}

operations! {
    fn ping(&self) -> ApiResult<()>;
    fn create_intent(&self, new: NewIntent) -> ApiResult<Written<Intent>>;
    fn get_intent(&self, id: &str) -> ApiResult<Option<Intent>>;
    fn list_intents(&self, f: &IntentFilter) -> ApiResult<(Vec<Intent>, u64)>;
    fn update_state(&self, id: &str, expected_version: i64, principal: &str, patches: &[StatePatch]) -> ApiResult<Written<Intent>>;
    fn set_status(&self, id: &str, expected_version: i64, principal: &str, status: &IntentStatus, reason: Option<&str>) -> ApiResult<Written<Intent>>;
    fn log_event(&self, intent_id: &str, event_type: EventType, actor: &str, payload: JsonObject) -> ApiResult<IntentEvent>;
    fn list_events(&self, intent_id: &str, f: &EventFilter) -> ApiResult<Vec<IntentEvent>>;
    fn get_event(&self, intent_id: &str, id: &str) -> ApiResult<Option<IntentEvent>>;
    fn events_after(&self, intent_id: &str, after: Option<&str>, limit: i64) -> ApiResult<Option<Vec<IntentEvent>>>;
    fn assign_agent(&self, intent_id: &str, agent_id: &str, role: &str, actor: &str) -> ApiResult<Written<AgentAssignment>>;
    fn list_agents(&self, intent_id: &str) -> ApiResult<Vec<AgentAssignment>>;
    fn unassign_agent(&self, intent_id: &str, agent_id: &str, actor: &str) -> ApiResult<IntentEvent>;
    fn acquire_lease(&self, intent_id: &str, scope: &str, duration_seconds: i64, principal: &str) -> ApiResult<Written<Lease>>;
    fn list_leases(&self, intent_id: &str) -> ApiResult<Vec<Lease>>;
    fn renew_lease(&self, intent_id: &str, lease_id: &str, duration_seconds: i64, principal: &str) -> ApiResult<Written<Lease>>;
    fn release_lease(&self, intent_id: &str, lease_id: &str, principal: &str) -> ApiResult<Option<IntentEvent>>;
    fn request_arbitration(&self, intent_id: &str, new: NewArbitration) -> ApiResult<Arbitration>;
    fn list_arbitrations(&self, intent_id: &str) -> ApiResult<Vec<Arbitration>>;
    fn record_decision(&self, intent_id: &str, new: NewDecision) -> ApiResult<Decision>;
    fn list_decisions(&self, intent_id: &str) -> ApiResult<Vec<Decision>>;
    fn add_attachment(&self, intent_id: &str, req: &CreateAttachmentRequest, created_by: &str) -> ApiResult<Attachment>;
    fn list_attachments(&self, intent_id: &str) -> ApiResult<Vec<Attachment>>;
    fn delete_attachment(&self, intent_id: &str, attachment_id: &str) -> ApiResult<bool>;
    fn record_cost(&self, intent_id: &str, req: &RecordCostRequest, agent_id: &str, principal: &str) -> ApiResult<CostRecord>;
    fn list_costs(&self, intent_id: &str) -> ApiResult<Vec<CostRecord>>;
    fn set_retry_policy(&self, intent_id: &str, req: &SetRetryPolicyRequest) -> ApiResult<RetryPolicy>;
    fn get_retry_policy(&self, intent_id: &str) -> ApiResult<Option<RetryPolicy>>;
    fn record_failure(&self, intent_id: &str, req: &RecordFailureRequest, agent_id: Option<String>) -> ApiResult<FailureRecord>;
    fn list_failures(&self, intent_id: &str) -> ApiResult<Vec<FailureRecord>>;
    fn create_portfolio(&self, new: NewPortfolio) -> ApiResult<Portfolio>;
    fn list_portfolios(&self, created_by: Option<&str>) -> ApiResult<Vec<Portfolio>>;
    fn get_portfolio(&self, id: &str) -> ApiResult<Option<Portfolio>>;
    fn update_portfolio_status(&self, id: &str, status: &PortfolioStatus) -> ApiResult<Portfolio>;
    fn add_membership(&self, portfolio_id: &str, intent_id: &str, role: &MembershipRole, priority: i64) -> ApiResult<(PortfolioMembership, Notification)>;
    fn remove_membership(&self, portfolio_id: &str, intent_id: &str) -> ApiResult<Option<Notification>>;
    fn newest_stream_message(&self, channel: &str) -> ApiResult<Option<String>>;
    fn stream_messages_after(&self, channel: &str, after: Option<&str>, limit: i64) -> ApiResult<Option<Vec<StreamMessage>>>;
    fn portfolio_intents(&self, portfolio_id: &str) -> ApiResult<Vec<Intent>>;
    fn intent_portfolios(&self, intent_id: &str) -> ApiResult<Vec<Portfolio>>;
    fn create_subscription(&self, req: &CreateSubscriptionRequest, subscriber_id: &str, secret: &str) -> ApiResult<Subscription>;
    fn list_subscriptions(&self, intent_id: Option<&str>, portfolio_id: Option<&str>, subscriber_id: Option<&str>) -> ApiResult<Vec<Subscription>>;
    fn delete_subscription(&self, id: &str) -> ApiResult<bool>;
    fn subscription_subscriber(&self, id: &str) -> ApiResult<Option<String>>;
    fn list_deliveries(&self, subscription_id: &str, status: Option<&str>, limit: i64, offset: i64) -> ApiResult<(Vec<crate::webhook::DeliveryRecord>, u64)>;
    fn claim_deliveries(&self, claim: &str, now_ms: i64, until_ms: i64, limit: i64) -> ApiResult<Vec<crate::webhook::ClaimedDelivery>>;
    fn settle_delivery(&self, id: &str, claim: &str, update: &crate::webhook::DeliveryUpdate) -> ApiResult<bool>;
    fn release_claims(&self, claim: &str) -> ApiResult<u64>;
    fn prune_deliveries(&self, before: DateTime<Utc>) -> ApiResult<u64>;
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

/// The 409 of a write a lease stands in the way of, naming the lease.
pub(crate) fn lease_refused(c: crate::rules::leases::LeaseConflict) -> ApiError {
    match c.existing {
        Some(l) => {
            let value = openintent_types::wire::to_superset_value(&l);
            ApiError::conflict_with(c.detail, "existing_lease", value)
        }
        None => ApiError::conflict(c.detail),
    }
}

/// The 409 of a refused status transition. `detail` keeps the reference-style text
/// (`Invalid status transition: draft -> draft (allowed: ...)`); `error` tells it apart from a
/// version conflict, which re-reading and retrying can resolve and this cannot; `from`, `to`
/// and `allowed` say what was refused and which moves the current status allows
/// (`current_status` repeats `from`, for older clients).
pub(crate) fn transition_refused(e: openintent_types::lifecycle::TransitionError) -> ApiError {
    let allowed: Vec<&str> = e.allowed.iter().map(IntentStatus::as_str).collect();
    let mut extra = serde_json::Map::new();
    extra.insert("error".into(), Value::from("invalid_transition"));
    extra.insert("from".into(), Value::from(e.from.as_str()));
    extra.insert("to".into(), Value::from(e.to.as_str()));
    extra.insert("allowed".into(), Value::from(allowed));
    extra.insert("current_status".into(), Value::from(e.from.as_str()));
    ApiError::Conflict { detail: e.to_string(), extra }
}
