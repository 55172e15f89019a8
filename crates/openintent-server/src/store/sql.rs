//! The SQL backend: every SQL statement of the server lives here, one body of SQL for SQLite
//! and PostgreSQL.
//!
//! Statements go through sqlx's `Any` driver with `$1`-style placeholders (SQLite reads `$N`
//! as the N-th argument too), store timestamps and JSON documents as text and booleans as
//! integers, so they mean the same on both databases. What differs is kept in [`Dialect`]: how a
//! write transaction starts and what it locks, the migrations folder, and the notifications
//! other server processes receive.
//!
//! - **SQLite.** Writes run in `BEGIN IMMEDIATE` transactions (the write lock is taken up front,
//!   so a transaction never fails to upgrade from reader to writer) behind an in-process mutex
//!   (so writers of one process queue instead of spinning on SQLite's busy handler).
//! - **PostgreSQL** (READ COMMITTED). A write transaction that touches an intent first locks the
//!   intent's row (`SELECT ... FOR NO KEY UPDATE`), so the writes of one intent, and the appends
//!   to its event log, happen one after another whichever server process runs them, and always
//!   lock rows in the same order (the intent first), which rules out deadlocks between them.
//!
//! On both, version-checked writes are conditional `UPDATE ... WHERE id = $n AND version = $m`
//! statements checked by rows affected; lease acquisition is a conditional upsert on the
//! one-row-per-scope `lease_slots` table (atomic on PostgreSQL too: a concurrent upsert waits
//! for the row and re-evaluates the condition on its newest version). Each operation appends
//! its event in the same transaction.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use openintent_types::time::{format_wire, parse_timestamp};
use openintent_types::{
    AgentAssignment, Arbitration, ArbitrationStatus, Attachment, CostRecord, CreateAttachmentRequest,
    CreateSubscriptionRequest, Decision, EventType, FailureRecord, Intent, IntentEvent, IntentStatus, JsonObject,
    Lease, MembershipRole, Portfolio, PortfolioMembership, PortfolioStatus, RecordCostRequest, RecordFailureRequest,
    RetryPolicy, RetryStrategy, SetRetryPolicyRequest, StatePatch, Subscription,
};
use serde_json::{Map, Value, json};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Any, AnyConnection, AnyPool, ConnectOptions, Executor, Row, Transaction};
use tokio::sync::{Mutex, Notify, OwnedMutexGuard, broadcast};

use super::{
    EventFilter, IntentFilter, NewArbitration, NewDecision, NewIntent, NewPortfolio, StoreError, StoreResult,
    StreamMessage, Written, new_id, now,
};
use crate::config::DatabaseLocation;
use crate::notify::{self, Notification};
use crate::relay;
use crate::rules::governance::{CompletionMode, Policy, Violation};
use crate::rules::leases::{self, with_status};
use crate::rules::lifecycle::check_transition;
use crate::webhook::{self, ClaimedDelivery, DeliveryRecord, DeliveryTarget, DeliveryUpdate};

const INTENT_NOT_FOUND: &str = "Intent not found";
const LEASE_NOT_FOUND: &str = "Lease not found or not owned by you";
const PORTFOLIO_NOT_FOUND: &str = "Portfolio not found";

const INTENT_COLS: &str = "id, title, description, created_by, parent_id, depends_on, constraints_doc, state, status, \
                           confidence, version, governance_policy, created_at, updated_at";
const LEASE_COLS: &str = "id, intent_id, agent_id, scope, acquired_at, expires_at, released_at";
const PORTFOLIO_COLS: &str =
    "id, name, description, created_by, status, governance_policy, metadata, created_at, updated_at";

/// The database behind a [`SqlStore`], and what its SQL does differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// An embedded SQLite file or in-memory database, used by one process.
    Sqlite,
    /// A PostgreSQL database, possibly shared by several server processes.
    Postgres,
}

impl Dialect {
    /// The clause that locks the rows a write transaction reads before changing them.
    fn row_lock(self) -> &'static str {
        match self {
            // `BEGIN IMMEDIATE` already holds the database's write lock.
            Dialect::Sqlite => "",
            // Does not block inserts that only reference the row (foreign keys).
            Dialect::Postgres => " FOR NO KEY UPDATE",
        }
    }

    /// The clause that makes a queue read skip the rows another transaction is claiming.
    fn skip_locked(self) -> &'static str {
        match self {
            // `BEGIN IMMEDIATE`: no other transaction is writing.
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
        }
    }
}

/// The SQL store.
#[derive(Debug)]
pub(crate) struct SqlStore {
    pool: AnyPool,
    dialect: Dialect,
    /// Names this store in the announcements it makes (see `crate::relay`).
    origin: Arc<str>,
    /// PostgreSQL: the database URL, on which the relay listens.
    listen_url: Option<String>,
    /// SQLite only: serializes the writers of this process.
    write_lock: Arc<Mutex<()>>,
    /// Signalled when a committed transaction wrote webhook deliveries (wakes this process's
    /// delivery workers; other processes find them when they poll).
    deliveries: Arc<Notify>,
    /// Where committed transactions publish their notifications (the event streams read it).
    notifier: broadcast::Sender<Notification>,
}

/// A write transaction (rolled back when dropped uncommitted). Dereferences to its connection.
///
/// Every notification the transaction makes ([`WriteTx::publish`]: each event appended to an
/// intent's log, each kept portfolio or agent stream message) is announced to the other server
/// processes inside the transaction (PostgreSQL), and published to this process's event streams
/// once it committed, in the order made. On SQLite the publication happens before the write
/// lock is released, so streams receive the notifications of one process in commit order.
pub(crate) struct WriteTx {
    tx: Transaction<'static, Any>,
    dialect: Dialect,
    /// Names the store in announcements.
    origin: Arc<str>,
    /// Signalled on commit when `enqueued`.
    deliveries: Arc<Notify>,
    /// Whether the transaction wrote webhook deliveries.
    enqueued: bool,
    /// Published on commit, in this order.
    published: Vec<Notification>,
    notifier: broadcast::Sender<Notification>,
    /// Released after the transaction ended and its notifications were published (fields drop
    /// in order, after the body of `commit`).
    _guard: Option<OwnedMutexGuard<()>>,
}

impl WriteTx {
    async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await?;
        if self.enqueued {
            self.deliveries.notify_one();
        }
        for n in self.published {
            // Dropped when nobody listens.
            let _ = self.notifier.send(n);
        }
        Ok(())
    }

    /// Publishes `n` when the transaction commits; on PostgreSQL also announces it to the other
    /// server processes, which receive it when, and only if, the transaction commits (see
    /// `crate::relay`).
    async fn publish(&mut self, n: Notification) -> StoreResult<()> {
        if self.dialect == Dialect::Postgres {
            match relay::encode(&self.origin, &n) {
                // `pg_notify` returns `void`, which the Any driver cannot read: select a constant.
                Some(payload) => {
                    sqlx::query("SELECT 1 FROM pg_notify($1, $2)")
                        .bind(relay::CHANNEL)
                        .bind(payload)
                        .execute(&mut *self.tx)
                        .await?;
                }
                None => tracing::warn!(event = %n.event, "notification too large to announce to other servers"),
            }
        }
        self.published.push(n);
        Ok(())
    }
}

impl Deref for WriteTx {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        &self.tx
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }
}

type Tx = WriteTx;

fn ts(dt: &DateTime<Utc>) -> String {
    format_wire(dt)
}

fn parse_ts(s: &str) -> StoreResult<DateTime<Utc>> {
    parse_timestamp(s).map_err(|e| StoreError::Corrupt(format!("stored timestamp unreadable: {e}")))
}

fn opt_ts(s: Option<String>) -> StoreResult<Option<DateTime<Utc>>> {
    s.as_deref().map(parse_ts).transpose()
}

/// A JSON document read back from storage.
fn json<T: serde::de::DeserializeOwned>(s: &str) -> StoreResult<T> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("stored JSON could not be read: {e}")))
}

fn obj(s: &str) -> StoreResult<JsonObject> {
    json(s)
}

fn opt_obj(s: Option<String>) -> StoreResult<Option<JsonObject>> {
    s.as_deref().map(obj).transpose()
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".to_owned())
}

impl SqlStore {
    /// Connects (creating a missing SQLite file) and applies the dialect's embedded migrations.
    pub(crate) async fn open(location: &DatabaseLocation) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let (dialect, url, pool_options) = match location {
            DatabaseLocation::Memory => (
                Dialect::Sqlite,
                "sqlite::memory:".to_owned(),
                // One connection that never closes: the in-memory database lives as long as it.
                AnyPoolOptions::new().max_connections(1).min_connections(1).idle_timeout(None).max_lifetime(None),
            ),
            DatabaseLocation::SqliteFile(path) => (
                Dialect::Sqlite,
                SqliteConnectOptions::new().filename(path).create_if_missing(true).to_url_lossy().to_string(),
                AnyPoolOptions::new().max_connections(4),
            ),
            DatabaseLocation::Postgres(url) => {
                (Dialect::Postgres, url.clone(), AnyPoolOptions::new().max_connections(16))
            }
        };
        let file = matches!(location, DatabaseLocation::SqliteFile(_));
        let pool = pool_options
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if dialect == Dialect::Sqlite {
                        conn.execute("PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;").await?;
                        if file {
                            conn.execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;").await?;
                        }
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await
            .map_err(|e| match location {
                DatabaseLocation::SqliteFile(path) => StoreError::sqlite_file(path, e),
                _ => StoreError::Database(e),
            })?;
        match dialect {
            Dialect::Sqlite => sqlx::migrate!("./migrations").run(&pool).await?,
            Dialect::Postgres => sqlx::migrate!("./migrations/postgres").run(&pool).await?,
        }
        let listen_url = match location {
            DatabaseLocation::Postgres(url) => Some(url.clone()),
            _ => None,
        };
        Ok(SqlStore {
            pool,
            dialect,
            origin: Arc::from(new_id()),
            listen_url,
            write_lock: Arc::new(Mutex::new(())),
            deliveries: Arc::new(Notify::new()),
            notifier: broadcast::channel(notify::NOTIFICATION_BUFFER).0,
        })
    }

    /// Names this store in its announcements.
    pub(crate) fn origin(&self) -> &str {
        &self.origin
    }

    /// PostgreSQL: the URL the relay listens on; `None` on SQLite.
    pub(crate) fn listen_url(&self) -> Option<&str> {
        self.listen_url.as_deref()
    }

    /// The sender committed transactions publish their notifications on.
    pub(crate) fn notifier(&self) -> &broadcast::Sender<Notification> {
        &self.notifier
    }

    /// Keeps a portfolio or agent stream message in `tx`, so that a subscriber can resume past
    /// it with `Last-Event-ID`, and publishes it ([`WriteTx::publish`]).
    ///
    /// On PostgreSQL a transaction-scoped advisory lock on the channel is taken first: writers
    /// of one channel then allocate `seq` and commit one after the other, so `seq` order is
    /// commit order and a resume (`seq` greater than the last one seen) skips nothing. The
    /// lock is taken last in the transaction, after any intent row lock, so it adds no
    /// deadlock. SQLite runs one write transaction at a time.
    async fn keep_stream_message(&self, tx: &mut Tx, n: &Notification) -> StoreResult<()> {
        let channel = n.channel.key();
        if self.dialect == Dialect::Postgres {
            // The function returns `void`, which the Any driver cannot read: select a constant.
            sqlx::query("SELECT 1 FROM pg_advisory_xact_lock(hashtext($1))").bind(&channel).execute(&mut **tx).await?;
        }
        sqlx::query("INSERT INTO stream_messages (id, channel, event, data, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&n.id)
            .bind(&channel)
            .bind(&n.event)
            .bind(n.data.to_string())
            .bind(ts(&now()))
            .execute(&mut **tx)
            .await?;
        tx.publish(n.clone()).await
    }

    /// The newest message id of a portfolio or agent stream channel (`Channel::key`).
    pub(crate) async fn newest_stream_message(&self, channel: &str) -> StoreResult<Option<String>> {
        Ok(sqlx::query_scalar("SELECT id FROM stream_messages WHERE channel = $1 ORDER BY seq DESC LIMIT 1")
            .bind(channel)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Up to `limit` messages of a channel after the one with id `after` (from the first when
    /// `None`), oldest first; `None` when `after` is not a message of that channel.
    pub(crate) async fn stream_messages_after(
        &self,
        channel: &str,
        after: Option<&str>,
        limit: i64,
    ) -> StoreResult<Option<Vec<StreamMessage>>> {
        let seq: i64 = match after {
            None => 0,
            Some(after) => {
                let seq = sqlx::query_scalar("SELECT seq FROM stream_messages WHERE id = $1 AND channel = $2")
                    .bind(after)
                    .bind(channel)
                    .fetch_optional(&self.pool)
                    .await?;
                let Some(seq) = seq else { return Ok(None) };
                seq
            }
        };
        let rows = sqlx::query(
            "SELECT id, event, data FROM stream_messages WHERE channel = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        )
        .bind(channel)
        .bind(seq)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let data: String = r.try_get("data")?;
                Ok(StreamMessage {
                    id: r.try_get("id")?,
                    event: r.try_get("event")?,
                    data: serde_json::from_str(&data)
                        .map_err(|e| StoreError::Corrupt(format!("stored stream message data: {e}")))?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()
            .map(Some)
    }

    pub(crate) async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub(crate) async fn close(&self) {
        self.pool.close().await;
    }

    /// Signalled when this process committed new webhook deliveries.
    pub(crate) fn deliveries_signal(&self) -> Arc<Notify> {
        self.deliveries.clone()
    }

    /// Starts a write transaction.
    ///
    /// The transaction is begun on a task of its own. sqlx's `begin` is not cancellation-safe:
    /// a caller dropped after the database began the transaction but before sqlx recorded it
    /// would return the connection to the pool inside a transaction (on SQLite, one holding the
    /// write lock, which wedges every later writer). A task always runs to its end; when its
    /// caller is gone, the transaction it produced is dropped with its output and rolled back.
    /// Dropping a begun [`WriteTx`] is safe at any point: sqlx rolls it back before the
    /// connection is used again.
    async fn begin(&self) -> StoreResult<Tx> {
        let guard = match self.dialect {
            Dialect::Sqlite => Some(self.write_lock.clone().lock_owned().await),
            Dialect::Postgres => None,
        };
        let (pool, dialect) = (self.pool.clone(), self.dialect);
        let begun = tokio::spawn(async move {
            match dialect {
                Dialect::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await,
                Dialect::Postgres => pool.begin().await,
            }
        })
        .await
        .map_err(StoreError::Begin)?;
        Ok(self.write_tx(begun?, guard))
    }

    fn write_tx(&self, tx: Transaction<'static, Any>, guard: Option<OwnedMutexGuard<()>>) -> Tx {
        WriteTx {
            tx,
            dialect: self.dialect,
            origin: self.origin.clone(),
            deliveries: self.deliveries.clone(),
            enqueued: false,
            published: Vec::new(),
            notifier: self.notifier.clone(),
            _guard: guard,
        }
    }

    // ----- intents -------------------------------------------------------------------------

    pub(crate) async fn create_intent(&self, new: NewIntent) -> StoreResult<Written<Intent>> {
        let mut tx = self.begin().await?;
        for dep in &new.depends_on {
            if !intent_exists(&mut tx, dep).await? {
                return Err(StoreError::BadRequest(format!("Dependency not found: {dep}")));
            }
        }
        let t = now();
        let mut intent = Intent::new(new_id(), new.title);
        intent.description = new.description;
        intent.created_by = new.created_by;
        intent.parent_id = new.parent_id;
        intent.depends_on = new.depends_on;
        intent.constraints = new.constraints;
        intent.state = new.state;
        intent.status = new.status;
        intent.governance_policy = new.governance_policy;
        intent.created_at = t;
        intent.updated_at = t;
        sqlx::query(
            "INSERT INTO intents (id, title, description, created_by, parent_id, depends_on, constraints_doc, state, \
             status, confidence, version, governance_policy, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, 1, $10, $11, $12)",
        )
        .bind(&intent.id)
        .bind(&intent.title)
        .bind(&intent.description)
        .bind(&intent.created_by)
        .bind(&intent.parent_id)
        .bind(to_json(&intent.depends_on))
        .bind(to_json(&intent.constraints))
        .bind(to_json(&intent.state))
        .bind(intent.status.as_str())
        .bind(intent.governance_policy.as_ref().map(to_json))
        .bind(ts(&t))
        .bind(ts(&t))
        .execute(&mut *tx)
        .await?;
        let mut payload = Map::new();
        payload.insert("title".into(), json!(intent.title));
        if let Some(g) = &intent.governance_policy {
            payload.insert("governance_policy".into(), Value::Object(g.clone()));
        }
        let actor = intent.created_by.clone();
        let event = append_event(&mut tx, &intent.id, EventType::IntentCreated, &actor, payload).await?;
        tx.commit().await?;
        Ok((intent, event))
    }

    pub(crate) async fn get_intent(&self, id: &str) -> StoreResult<Option<Intent>> {
        let row = sqlx::query(&format!("SELECT {INTENT_COLS} FROM intents WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(intent_from_row).transpose()
    }

    pub(crate) async fn list_intents(&self, f: &IntentFilter) -> StoreResult<(Vec<Intent>, u64)> {
        let mut clauses = Vec::new();
        let mut binds: Vec<&str> = Vec::new();
        for (col, value) in [("status", &f.status), ("created_by", &f.created_by), ("parent_id", &f.parent_id)] {
            if let Some(v) = value {
                binds.push(v);
                clauses.push(format!("{col} = ${}", binds.len()));
            }
        }
        let filter = if clauses.is_empty() { String::new() } else { format!(" WHERE {}", clauses.join(" AND ")) };
        let count_sql = format!("SELECT COUNT(*) FROM intents{filter}");
        let mut count = sqlx::query_scalar::<_, i64>(&count_sql);
        for b in &binds {
            count = count.bind(*b);
        }
        let total = count.fetch_one(&self.pool).await?;
        let n = binds.len();
        let sql = format!(
            "SELECT {INTENT_COLS} FROM intents{filter} ORDER BY created_at DESC, seq DESC LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        );
        let mut q = sqlx::query(&sql);
        for b in &binds {
            q = q.bind(*b);
        }
        let rows = q.bind(f.limit).bind(f.offset).fetch_all(&self.pool).await?;
        let intents = rows.iter().map(intent_from_row).collect::<StoreResult<Vec<_>>>()?;
        Ok((intents, u64::try_from(total).unwrap_or(0)))
    }

    /// Applies patches as one compare-and-set write; refuses paths leased by another principal.
    pub(crate) async fn update_state(
        &self,
        id: &str,
        expected_version: i64,
        principal: &str,
        patches: &[StatePatch],
    ) -> StoreResult<Written<Intent>> {
        let mut tx = self.begin().await?;
        let mut intent = load_intent(&mut tx, id).await?;
        let policy = Policy::from_stored(intent.governance_policy.as_ref());
        if let Err(v) = check_writer(&mut tx, &policy, id, principal).await? {
            return refuse(tx, id, principal, v).await;
        }
        check_version(&intent, expected_version)?;
        let t = now();
        let live = active_leases(&mut tx, id, &t).await?;
        leases::guard(&live, patches, principal, t).map_err(StoreError::lease)?;
        let new_state = openintent_types::patch::apply_patches(&intent.state, patches).map_err(patch_refused)?;
        let new_version = expected_version + 1;
        let done = sqlx::query(
            "UPDATE intents SET state = $1, version = version + 1, updated_at = $2 WHERE id = $3 AND version = $4",
        )
        .bind(to_json(&new_state))
        .bind(ts(&t))
        .bind(id)
        .bind(expected_version)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Err(version_conflict(current_version(&mut tx, id).await?));
        }
        let payload = json!({"patches": patches, "version": new_version});
        let event = append_event(&mut tx, id, EventType::StatePatched, principal, as_obj(payload)).await?;
        intent.state = new_state;
        intent.version = new_version;
        intent.updated_at = t;
        tx.commit().await?;
        Ok((intent, event))
    }

    /// Changes the status as one compare-and-set write, enforcing the lifecycle.
    pub(crate) async fn set_status(
        &self,
        id: &str,
        expected_version: i64,
        principal: &str,
        status: &IntentStatus,
        reason: Option<&str>,
    ) -> StoreResult<Written<Intent>> {
        let mut tx = self.begin().await?;
        let mut intent = load_intent(&mut tx, id).await?;
        let policy = Policy::from_stored(intent.governance_policy.as_ref());
        let mut verdict = check_writer(&mut tx, &policy, id, principal).await?;
        if verdict.is_ok() {
            verdict = policy.check_status_reason(reason);
        }
        if verdict.is_ok() && *status == IntentStatus::Completed {
            let assigned = if policy.completion_mode == CompletionMode::Quorum {
                assigned_agent_count(&mut tx, id).await?
            } else {
                0
            };
            verdict = policy.check_completion(assigned);
        }
        if let Err(v) = verdict {
            return refuse(tx, id, principal, v).await;
        }
        check_version(&intent, expected_version)?;
        check_transition(&intent.status, status).map_err(StoreError::InvalidTransition)?;
        let t = now();
        let new_version = expected_version + 1;
        let done = sqlx::query(
            "UPDATE intents SET status = $1, version = version + 1, updated_at = $2 WHERE id = $3 AND version = $4",
        )
        .bind(status.as_str())
        .bind(ts(&t))
        .bind(id)
        .bind(expected_version)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Err(version_conflict(current_version(&mut tx, id).await?));
        }
        let mut payload = Map::new();
        payload.insert("status".into(), json!(status.as_str()));
        payload.insert("version".into(), json!(new_version));
        payload.insert("previous_status".into(), json!(intent.status.as_str()));
        if let Some(r) = reason.filter(|r| !r.is_empty()) {
            payload.insert("reason".into(), json!(r));
        }
        let event = append_event(&mut tx, id, EventType::StatusChanged, principal, payload).await?;
        intent.status = status.clone();
        intent.version = new_version;
        intent.updated_at = t;
        tx.commit().await?;
        Ok((intent, event))
    }

    // ----- events --------------------------------------------------------------------------

    pub(crate) async fn log_event(
        &self,
        intent_id: &str,
        event_type: EventType,
        actor: &str,
        payload: JsonObject,
    ) -> StoreResult<IntentEvent> {
        let mut tx = self.begin().await?;
        require_intent(&mut tx, intent_id).await?;
        let event = append_event(&mut tx, intent_id, event_type, actor, payload).await?;
        tx.commit().await?;
        Ok(event)
    }

    /// One event of an intent's log.
    pub(crate) async fn get_event(&self, intent_id: &str, id: &str) -> StoreResult<Option<IntentEvent>> {
        let row = sqlx::query(
            "SELECT id, intent_id, event_type, actor, payload, created_at FROM events WHERE id = $1 AND intent_id = $2",
        )
        .bind(id)
        .bind(intent_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(event_from_row).transpose()
    }

    pub(crate) async fn list_events(&self, intent_id: &str, f: &EventFilter) -> StoreResult<Vec<IntentEvent>> {
        let mut sql = String::from(
            "SELECT id, intent_id, event_type, actor, payload, created_at FROM events WHERE intent_id = $1",
        );
        let mut n = 1;
        if f.event_type.is_some() {
            n += 1;
            sql.push_str(&format!(" AND event_type = ${n}"));
        }
        if f.since.is_some() {
            n += 1;
            sql.push_str(&format!(" AND created_at > ${n}"));
        }
        sql.push_str(&format!(" ORDER BY created_at DESC, seq DESC LIMIT ${} OFFSET ${}", n + 1, n + 2));
        let mut q = sqlx::query(&sql).bind(intent_id);
        if let Some(t) = &f.event_type {
            q = q.bind(t);
        }
        if let Some(s) = &f.since {
            q = q.bind(ts(s));
        }
        let rows = q.bind(f.limit).bind(f.offset).fetch_all(&self.pool).await?;
        rows.iter().map(event_from_row).collect()
    }

    /// Up to `limit` events of an intent after the one with id `after` (from the first when
    /// `None`), in log order, oldest first; `None` when `after` is not in this intent's log.
    pub(crate) async fn events_after(
        &self,
        intent_id: &str,
        after: Option<&str>,
        limit: i64,
    ) -> StoreResult<Option<Vec<IntentEvent>>> {
        // Log order is (created_at, seq), as in `list_events`; start after `after`'s place in it.
        let (created_at, seq) = match after {
            None => (String::new(), 0),
            Some(after) => {
                let row = sqlx::query("SELECT created_at, seq FROM events WHERE id = $1 AND intent_id = $2")
                    .bind(after)
                    .bind(intent_id)
                    .fetch_optional(&self.pool)
                    .await?;
                let Some(row) = row else { return Ok(None) };
                (row.try_get::<String, _>("created_at")?, row.try_get::<i64, _>("seq")?)
            }
        };
        let rows = sqlx::query(
            "SELECT id, intent_id, event_type, actor, payload, created_at FROM events \
             WHERE intent_id = $1 AND (created_at > $2 OR (created_at = $2 AND seq > $3)) \
             ORDER BY created_at, seq LIMIT $4",
        )
        .bind(intent_id)
        .bind(created_at)
        .bind(seq)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(event_from_row).collect::<StoreResult<Vec<_>>>().map(Some)
    }

    // ----- agents --------------------------------------------------------------------------

    pub(crate) async fn assign_agent(
        &self,
        intent_id: &str,
        agent_id: &str,
        role: &str,
        actor: &str,
    ) -> StoreResult<Written<AgentAssignment>> {
        let mut tx = self.begin().await?;
        let intent = load_intent(&mut tx, intent_id).await?;
        let policy = Policy::from_stored(intent.governance_policy.as_ref());
        if let Err(v) = policy.check_assignment(agent_id) {
            return refuse(tx, intent_id, actor, v).await;
        }
        let t = now();
        let mut a = AgentAssignment::default();
        a.id = new_id();
        a.intent_id = intent_id.to_owned();
        a.agent_id = agent_id.to_owned();
        a.role = role.to_owned();
        a.assigned_at = t;
        sqlx::query(
            "INSERT INTO agent_assignments (id, intent_id, agent_id, role, assigned_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&a.id)
        .bind(intent_id)
        .bind(agent_id)
        .bind(role)
        .bind(ts(&t))
        .execute(&mut *tx)
        .await?;
        let payload = as_obj(json!({"agent_id": agent_id, "role": role, "assignment_id": a.id}));
        let event = append_event(&mut tx, intent_id, EventType::AgentAssigned, actor, payload).await?;
        self.keep_stream_message(&mut tx, &notify::agent_assigned(&a, &event.id)).await?;
        tx.commit().await?;
        Ok((a, event))
    }

    pub(crate) async fn list_agents(&self, intent_id: &str) -> StoreResult<Vec<AgentAssignment>> {
        let rows = sqlx::query(
            "SELECT id, intent_id, agent_id, role, assigned_at FROM agent_assignments WHERE intent_id = $1 ORDER BY seq",
        )
        .bind(intent_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let mut a = AgentAssignment::default();
                a.id = r.try_get("id")?;
                a.intent_id = r.try_get("intent_id")?;
                a.agent_id = r.try_get("agent_id")?;
                a.role = r.try_get("role")?;
                a.assigned_at = parse_ts(&r.try_get::<String, _>("assigned_at")?)?;
                Ok(a)
            })
            .collect()
    }

    pub(crate) async fn unassign_agent(
        &self,
        intent_id: &str,
        agent_id: &str,
        actor: &str,
    ) -> StoreResult<IntentEvent> {
        let mut tx = self.begin().await?;
        require_intent(&mut tx, intent_id).await?;
        let done = sqlx::query("DELETE FROM agent_assignments WHERE intent_id = $1 AND agent_id = $2")
            .bind(intent_id)
            .bind(agent_id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("Agent not assigned to this intent"));
        }
        let payload = as_obj(json!({"agent_id": agent_id}));
        let event = append_event(&mut tx, intent_id, EventType::AgentUnassigned, actor, payload).await?;
        tx.commit().await?;
        Ok(event)
    }

    // ----- leases --------------------------------------------------------------------------

    pub(crate) async fn acquire_lease(
        &self,
        intent_id: &str,
        scope: &str,
        duration_seconds: i64,
        principal: &str,
    ) -> StoreResult<Written<Lease>> {
        let mut tx = self.begin().await?;
        require_intent(&mut tx, intent_id).await?;
        let t = now();
        let expires = t + chrono::Duration::seconds(duration_seconds);
        let lease_id = new_id();
        // Take the slot only when it is free or its lease has expired.
        let taken = sqlx::query(
            "INSERT INTO lease_slots (intent_id, scope, lease_id, holder, expires_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (intent_id, scope) DO UPDATE SET lease_id = excluded.lease_id, holder = excluded.holder, \
             expires_at = excluded.expires_at \
             WHERE lease_slots.lease_id IS NULL OR lease_slots.expires_at <= $6",
        )
        .bind(intent_id)
        .bind(scope)
        .bind(&lease_id)
        .bind(principal)
        .bind(ts(&expires))
        .bind(ts(&t))
        .execute(&mut *tx)
        .await?;
        if taken.rows_affected() == 0 {
            let existing = slot_lease(&mut tx, intent_id, scope).await?;
            return Err(StoreError::lease(leases::held(existing, now())));
        }
        sqlx::query(
            "INSERT INTO leases (id, intent_id, agent_id, scope, acquired_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&lease_id)
        .bind(intent_id)
        .bind(principal)
        .bind(scope)
        .bind(ts(&t))
        .bind(ts(&expires))
        .execute(&mut *tx)
        .await?;
        let payload = as_obj(json!({"scope": scope, "lease_id": lease_id, "duration_seconds": duration_seconds}));
        let event = append_event(&mut tx, intent_id, EventType::LeaseAcquired, principal, payload).await?;
        tx.commit().await?;
        let mut lease = Lease::new(lease_id, intent_id, principal, scope, duration_seconds);
        lease.acquired_at = t;
        lease.expires_at = expires;
        Ok((with_status(lease, t), event))
    }

    pub(crate) async fn list_leases(&self, intent_id: &str) -> StoreResult<Vec<Lease>> {
        let rows = sqlx::query(&format!("SELECT {LEASE_COLS} FROM leases WHERE intent_id = $1 ORDER BY seq"))
            .bind(intent_id)
            .fetch_all(&self.pool)
            .await?;
        let t = now();
        rows.iter().map(|r| lease_from_row(r).map(|l| with_status(l, t))).collect()
    }

    pub(crate) async fn renew_lease(
        &self,
        intent_id: &str,
        lease_id: &str,
        duration_seconds: i64,
        principal: &str,
    ) -> StoreResult<Written<Lease>> {
        let mut tx = self.begin().await?;
        lock_intent(&mut tx, intent_id).await?;
        let mut lease = owned_lease(&mut tx, intent_id, lease_id, principal).await?;
        if lease.released_at.is_some() {
            return Err(StoreError::NotFound(LEASE_NOT_FOUND));
        }
        let t = now();
        let expires = t + chrono::Duration::seconds(duration_seconds);
        // Keep (or take back) the slot only if no other live lease holds it.
        let kept = sqlx::query(
            "UPDATE lease_slots SET lease_id = $1, holder = $2, expires_at = $3 \
             WHERE intent_id = $4 AND scope = $5 AND (lease_id = $6 OR lease_id IS NULL OR expires_at <= $7)",
        )
        .bind(lease_id)
        .bind(principal)
        .bind(ts(&expires))
        .bind(intent_id)
        .bind(&lease.scope)
        .bind(lease_id)
        .bind(ts(&t))
        .execute(&mut *tx)
        .await?;
        if kept.rows_affected() == 0 {
            let existing = slot_lease(&mut tx, intent_id, &lease.scope).await?;
            return Err(StoreError::lease(leases::held(existing, now())));
        }
        sqlx::query("UPDATE leases SET expires_at = $1 WHERE id = $2")
            .bind(ts(&expires))
            .bind(lease_id)
            .execute(&mut *tx)
            .await?;
        let payload = as_obj(json!({"lease_id": lease_id, "duration_seconds": duration_seconds}));
        let event = append_event(&mut tx, intent_id, EventType::LeaseRenewed, principal, payload).await?;
        tx.commit().await?;
        lease.expires_at = expires;
        Ok((with_status(lease, t), event))
    }

    /// Releases a lease; `None` when it was already released (no second event).
    pub(crate) async fn release_lease(
        &self,
        intent_id: &str,
        lease_id: &str,
        principal: &str,
    ) -> StoreResult<Option<IntentEvent>> {
        let mut tx = self.begin().await?;
        lock_intent(&mut tx, intent_id).await?;
        let lease = owned_lease(&mut tx, intent_id, lease_id, principal).await?;
        if lease.released_at.is_some() {
            return Ok(None);
        }
        let t = now();
        sqlx::query("UPDATE leases SET released_at = $1 WHERE id = $2 AND released_at IS NULL")
            .bind(ts(&t))
            .bind(lease_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE lease_slots SET lease_id = NULL, holder = NULL, expires_at = NULL \
             WHERE intent_id = $1 AND scope = $2 AND lease_id = $3",
        )
        .bind(intent_id)
        .bind(&lease.scope)
        .bind(lease_id)
        .execute(&mut *tx)
        .await?;
        let payload = as_obj(json!({"lease_id": lease_id, "scope": lease.scope}));
        let event = append_event(&mut tx, intent_id, EventType::LeaseReleased, principal, payload).await?;
        tx.commit().await?;
        Ok(Some(event))
    }

    // ----- arbitration and decisions -------------------------------------------------------

    pub(crate) async fn request_arbitration(&self, intent_id: &str, new: NewArbitration) -> StoreResult<Arbitration> {
        let mut tx = self.begin().await?;
        require_intent(&mut tx, intent_id).await?;
        let payload = as_obj(json!({"reason": new.reason, "context": new.context}));
        let event =
            append_event(&mut tx, intent_id, EventType::ArbitrationRequested, &new.requested_by, payload).await?;
        sqlx::query(
            "INSERT INTO arbitrations (id, intent_id, requested_by, reason, context, options, status, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7)",
        )
        .bind(&event.id)
        .bind(intent_id)
        .bind(&new.requested_by)
        .bind(&new.reason)
        .bind(to_json(&new.context))
        .bind(to_json(&new.options))
        .bind(ts(&event.created_at))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        let mut a = Arbitration::default();
        a.id = Some(event.id);
        a.intent_id = Some(intent_id.to_owned());
        a.requested_by = Some(new.requested_by);
        a.reason = Some(new.reason);
        a.context = new.context;
        a.options = serde_json::from_value(new.options).unwrap_or_default();
        a.status = ArbitrationStatus::Pending;
        a.created_at = Some(event.created_at);
        Ok(a)
    }

    pub(crate) async fn list_arbitrations(&self, intent_id: &str) -> StoreResult<Vec<Arbitration>> {
        let rows = sqlx::query(
            "SELECT id, intent_id, requested_by, reason, context, options, status, created_at FROM arbitrations \
             WHERE intent_id = $1 ORDER BY seq",
        )
        .bind(intent_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let mut a = Arbitration::default();
                a.id = Some(r.try_get("id")?);
                a.intent_id = Some(r.try_get("intent_id")?);
                a.requested_by = Some(r.try_get("requested_by")?);
                a.reason = Some(r.try_get("reason")?);
                a.context = obj(&r.try_get::<String, _>("context")?)?;
                a.options = serde_json::from_str(&r.try_get::<String, _>("options")?).unwrap_or_default();
                a.status = ArbitrationStatus::parse(&r.try_get::<String, _>("status")?);
                a.created_at = Some(parse_ts(&r.try_get::<String, _>("created_at")?)?);
                Ok(a)
            })
            .collect()
    }

    pub(crate) async fn record_decision(&self, intent_id: &str, new: NewDecision) -> StoreResult<Decision> {
        let mut tx = self.begin().await?;
        require_intent(&mut tx, intent_id).await?;
        let mut payload = as_obj(json!({
            "decision_type": new.decision_type, "outcome": new.outcome, "rationale": new.rationale,
        }));
        if let Some(e) = &new.evidence {
            payload.insert("evidence".into(), Value::Array(e.clone()));
        }
        let event = append_event(&mut tx, intent_id, EventType::DecisionRecorded, &new.decided_by, payload).await?;
        sqlx::query(
            "INSERT INTO decisions (id, intent_id, decision_type, decided_by, outcome, rationale, evidence, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&event.id)
        .bind(intent_id)
        .bind(&new.decision_type)
        .bind(&new.decided_by)
        .bind(&new.outcome)
        .bind(&new.rationale)
        .bind(new.evidence.as_ref().map(to_json))
        .bind(ts(&event.created_at))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        let mut d = Decision::default();
        d.id = event.id;
        d.intent_id = Some(intent_id.to_owned());
        d.decision_type = Some(new.decision_type);
        d.decided_by = Some(new.decided_by);
        d.outcome = new.outcome;
        d.rationale = Some(new.rationale);
        d.evidence = new.evidence;
        d.created_at = Some(event.created_at);
        Ok(d)
    }

    pub(crate) async fn list_decisions(&self, intent_id: &str) -> StoreResult<Vec<Decision>> {
        let rows = sqlx::query(
            "SELECT id, intent_id, decision_type, decided_by, outcome, rationale, evidence, created_at FROM decisions \
             WHERE intent_id = $1 ORDER BY seq",
        )
        .bind(intent_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let mut d = Decision::default();
                d.id = r.try_get("id")?;
                d.intent_id = Some(r.try_get("intent_id")?);
                d.decision_type = Some(r.try_get("decision_type")?);
                d.decided_by = Some(r.try_get("decided_by")?);
                d.outcome = r.try_get("outcome")?;
                d.rationale = Some(r.try_get("rationale")?);
                d.evidence = match r.try_get::<Option<String>, _>("evidence")? {
                    Some(s) => json(&s)?,
                    None => None,
                };
                d.created_at = Some(parse_ts(&r.try_get::<String, _>("created_at")?)?);
                Ok(d)
            })
            .collect()
    }

    // ----- attachments ---------------------------------------------------------------------

    pub(crate) async fn add_attachment(
        &self,
        intent_id: &str,
        req: &CreateAttachmentRequest,
        created_by: &str,
    ) -> StoreResult<Attachment> {
        let mut tx = self.begin().await?;
        require_intent(&mut tx, intent_id).await?;
        let t = now();
        let mut a = Attachment::default();
        a.id = new_id();
        a.intent_id = intent_id.to_owned();
        a.filename = req.filename.clone();
        a.mime_type = req.mime_type.clone();
        a.size = req.size;
        a.storage_url = req.storage_url.clone();
        a.created_by = created_by.to_owned();
        a.metadata = req.metadata.clone().unwrap_or_default();
        a.created_at = t;
        sqlx::query(
            "INSERT INTO attachments (id, intent_id, filename, mime_type, size, storage_url, created_by, metadata, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&a.id)
        .bind(intent_id)
        .bind(&a.filename)
        .bind(&a.mime_type)
        .bind(a.size)
        .bind(&a.storage_url)
        .bind(&a.created_by)
        .bind(to_json(&a.metadata))
        .bind(ts(&t))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(a)
    }

    pub(crate) async fn list_attachments(&self, intent_id: &str) -> StoreResult<Vec<Attachment>> {
        let rows = sqlx::query(
            "SELECT id, intent_id, filename, mime_type, size, storage_url, created_by, metadata, created_at \
             FROM attachments WHERE intent_id = $1 ORDER BY seq",
        )
        .bind(intent_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let mut a = Attachment::default();
                a.id = r.try_get("id")?;
                a.intent_id = r.try_get("intent_id")?;
                a.filename = r.try_get("filename")?;
                a.mime_type = r.try_get("mime_type")?;
                a.size = r.try_get("size")?;
                a.storage_url = r.try_get("storage_url")?;
                a.created_by = r.try_get("created_by")?;
                a.metadata = obj(&r.try_get::<String, _>("metadata")?)?;
                a.created_at = parse_ts(&r.try_get::<String, _>("created_at")?)?;
                Ok(a)
            })
            .collect()
    }

    /// Deletes an attachment of the intent; `false` when there is none.
    pub(crate) async fn delete_attachment(&self, intent_id: &str, attachment_id: &str) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let done = sqlx::query("DELETE FROM attachments WHERE id = $1 AND intent_id = $2")
            .bind(attachment_id)
            .bind(intent_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    // ----- costs ---------------------------------------------------------------------------

    pub(crate) async fn record_cost(
        &self,
        intent_id: &str,
        req: &RecordCostRequest,
        agent_id: &str,
        principal: &str,
    ) -> StoreResult<CostRecord> {
        let mut tx = self.begin().await?;
        let intent = load_intent(&mut tx, intent_id).await?;
        let policy = Policy::from_stored(intent.governance_policy.as_ref());
        let mut verdict = check_writer(&mut tx, &policy, intent_id, principal).await?;
        if verdict.is_ok() && policy.max_cost.is_some() {
            // The intent's row is locked: no other cost of this intent commits before this one.
            verdict = policy.check_cost(cost_total(&mut tx, intent_id).await?, req.amount);
        }
        if let Err(v) = verdict {
            return refuse(tx, intent_id, principal, v).await;
        }
        let t = now();
        let mut c = CostRecord::default();
        c.id = new_id();
        c.intent_id = intent_id.to_owned();
        c.agent_id = agent_id.to_owned();
        c.cost_type = req.cost_type.clone();
        c.amount = req.amount;
        c.unit = req.unit.clone();
        c.provider = req.provider.clone();
        c.cost_metadata = req.cost_metadata.clone().unwrap_or_default();
        c.recorded_at = t;
        sqlx::query(
            "INSERT INTO costs (id, intent_id, agent_id, cost_type, amount, unit, provider, metadata, recorded_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&c.id)
        .bind(intent_id)
        .bind(&c.agent_id)
        .bind(&c.cost_type)
        .bind(c.amount)
        .bind(&c.unit)
        .bind(&c.provider)
        .bind(to_json(&c.cost_metadata))
        .bind(ts(&t))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(c)
    }

    pub(crate) async fn list_costs(&self, intent_id: &str) -> StoreResult<Vec<CostRecord>> {
        let rows = sqlx::query(
            "SELECT id, intent_id, agent_id, cost_type, amount, unit, provider, metadata, recorded_at FROM costs \
             WHERE intent_id = $1 ORDER BY seq",
        )
        .bind(intent_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let mut c = CostRecord::default();
                c.id = r.try_get("id")?;
                c.intent_id = r.try_get("intent_id")?;
                c.agent_id = r.try_get("agent_id")?;
                c.cost_type = r.try_get("cost_type")?;
                c.amount = r.try_get("amount")?;
                c.unit = r.try_get("unit")?;
                c.provider = r.try_get("provider")?;
                c.cost_metadata = obj(&r.try_get::<String, _>("metadata")?)?;
                c.recorded_at = parse_ts(&r.try_get::<String, _>("recorded_at")?)?;
                Ok(c)
            })
            .collect()
    }

    // ----- retry policies and failures -----------------------------------------------------

    pub(crate) async fn set_retry_policy(
        &self,
        intent_id: &str,
        req: &SetRetryPolicyRequest,
    ) -> StoreResult<RetryPolicy> {
        let mut tx = self.begin().await?;
        require_intent(&mut tx, intent_id).await?;
        let t = now();
        let mut extras = Map::new();
        if let Some(m) = req.backoff_multiplier {
            extras.insert("backoff_multiplier".into(), json!(m));
        }
        if let Some(e) = &req.retryable_errors {
            extras.insert("retryable_errors".into(), json!(e));
        }
        if let Some(a) = &req.fallback_agent_id {
            extras.insert("fallback_agent_id".into(), json!(a));
        }
        if let Some(n) = req.failure_threshold {
            extras.insert("failure_threshold".into(), json!(n));
        }
        // Full replacement that keeps the id and the original created_at.
        sqlx::query(
            "INSERT INTO retry_policies (id, intent_id, strategy, max_retries, base_delay_ms, max_delay_ms, jitter, \
             extras, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (intent_id) DO UPDATE SET strategy = excluded.strategy, max_retries = excluded.max_retries, \
             base_delay_ms = excluded.base_delay_ms, max_delay_ms = excluded.max_delay_ms, jitter = excluded.jitter, \
             extras = excluded.extras, updated_at = excluded.updated_at",
        )
        .bind(new_id())
        .bind(intent_id)
        .bind(req.strategy.as_str())
        .bind(req.max_retries)
        .bind(req.base_delay_ms)
        .bind(req.max_delay_ms)
        .bind(i64::from(req.jitter.unwrap_or(true)))
        .bind(to_json(&extras))
        .bind(ts(&t))
        .bind(ts(&t))
        .execute(&mut *tx)
        .await?;
        let policy = load_policy(&mut tx, intent_id).await?;
        tx.commit().await?;
        policy.ok_or_else(|| StoreError::Corrupt("retry policy vanished after write".into()))
    }

    pub(crate) async fn get_retry_policy(&self, intent_id: &str) -> StoreResult<Option<RetryPolicy>> {
        let mut conn = self.pool.acquire().await?;
        load_policy(&mut conn, intent_id).await
    }

    pub(crate) async fn record_failure(
        &self,
        intent_id: &str,
        req: &RecordFailureRequest,
        agent_id: Option<String>,
    ) -> StoreResult<FailureRecord> {
        let mut tx = self.begin().await?;
        require_intent(&mut tx, intent_id).await?;
        let t = now();
        let mut f = FailureRecord::default();
        f.id = new_id();
        f.intent_id = intent_id.to_owned();
        f.agent_id = agent_id;
        f.error_type = req.error_type.clone();
        f.error_message = req.error_message.clone();
        f.attempt_number = req.attempt_number;
        f.will_retry = req.will_retry;
        f.retry_scheduled_at = req.retry_scheduled_at;
        f.metadata = req.metadata.clone();
        f.occurred_at = t;
        sqlx::query(
            "INSERT INTO failures (id, intent_id, agent_id, error_type, error_message, attempt_number, will_retry, \
             retry_scheduled_at, metadata, occurred_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&f.id)
        .bind(intent_id)
        .bind(&f.agent_id)
        .bind(&f.error_type)
        .bind(&f.error_message)
        .bind(f.attempt_number)
        .bind(f.will_retry.map(i64::from))
        .bind(f.retry_scheduled_at.as_ref().map(ts))
        .bind(f.metadata.as_ref().map(to_json))
        .bind(ts(&t))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(f)
    }

    pub(crate) async fn list_failures(&self, intent_id: &str) -> StoreResult<Vec<FailureRecord>> {
        let rows = sqlx::query(
            "SELECT id, intent_id, agent_id, error_type, error_message, attempt_number, will_retry, \
             retry_scheduled_at, metadata, occurred_at FROM failures WHERE intent_id = $1 ORDER BY seq",
        )
        .bind(intent_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let mut f = FailureRecord::default();
                f.id = r.try_get("id")?;
                f.intent_id = r.try_get("intent_id")?;
                f.agent_id = r.try_get("agent_id")?;
                f.error_type = r.try_get("error_type")?;
                f.error_message = r.try_get("error_message")?;
                f.attempt_number = r.try_get("attempt_number")?;
                f.will_retry = r.try_get::<Option<i64>, _>("will_retry")?.map(|v| v != 0);
                f.retry_scheduled_at = opt_ts(r.try_get("retry_scheduled_at")?)?;
                f.metadata = opt_obj(r.try_get("metadata")?)?;
                f.occurred_at = parse_ts(&r.try_get::<String, _>("occurred_at")?)?;
                Ok(f)
            })
            .collect()
    }

    // ----- portfolios ----------------------------------------------------------------------

    pub(crate) async fn create_portfolio(&self, new: NewPortfolio) -> StoreResult<Portfolio> {
        let mut tx = self.begin().await?;
        let t = now();
        let mut p = Portfolio::default();
        p.id = new_id();
        p.name = new.name;
        p.description = new.description;
        p.created_by = new.created_by;
        p.status = PortfolioStatus::Active;
        p.governance_policy = new.governance_policy;
        p.metadata = new.metadata;
        p.created_at = t;
        p.updated_at = t;
        sqlx::query(
            "INSERT INTO portfolios (id, name, description, created_by, status, governance_policy, metadata, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&p.id)
        .bind(&p.name)
        .bind(&p.description)
        .bind(&p.created_by)
        .bind(p.status.as_str())
        .bind(to_json(&p.governance_policy))
        .bind(p.metadata.as_ref().map(to_json))
        .bind(ts(&t))
        .bind(ts(&t))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(p)
    }

    pub(crate) async fn list_portfolios(&self, created_by: Option<&str>) -> StoreResult<Vec<Portfolio>> {
        let rows = match created_by {
            Some(c) => {
                sqlx::query(&format!("SELECT {PORTFOLIO_COLS} FROM portfolios WHERE created_by = $1 ORDER BY seq"))
                    .bind(c)
                    .fetch_all(&self.pool)
                    .await?
            }
            None => {
                sqlx::query(&format!("SELECT {PORTFOLIO_COLS} FROM portfolios ORDER BY seq"))
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        rows.iter().map(portfolio_from_row).collect()
    }

    pub(crate) async fn get_portfolio(&self, id: &str) -> StoreResult<Option<Portfolio>> {
        let row = sqlx::query(&format!("SELECT {PORTFOLIO_COLS} FROM portfolios WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(portfolio_from_row).transpose()
    }

    pub(crate) async fn update_portfolio_status(&self, id: &str, status: &PortfolioStatus) -> StoreResult<Portfolio> {
        let mut tx = self.begin().await?;
        let t = now();
        let done = sqlx::query("UPDATE portfolios SET status = $1, updated_at = $2 WHERE id = $3")
            .bind(status.as_str())
            .bind(ts(&t))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(PORTFOLIO_NOT_FOUND));
        }
        let row = sqlx::query(&format!("SELECT {PORTFOLIO_COLS} FROM portfolios WHERE id = $1"))
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        portfolio_from_row(&row)
    }

    /// Adds an intent to a portfolio; adding it again updates its role and priority.
    pub(crate) async fn add_membership(
        &self,
        portfolio_id: &str,
        intent_id: &str,
        role: &MembershipRole,
        priority: i64,
    ) -> StoreResult<(PortfolioMembership, Notification)> {
        let mut tx = self.begin().await?;
        let exists: Option<i64> = sqlx::query_scalar("SELECT 1 FROM portfolios WHERE id = $1")
            .bind(portfolio_id)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Err(StoreError::NotFound(PORTFOLIO_NOT_FOUND));
        }
        require_intent(&mut tx, intent_id).await?;
        let t = now();
        sqlx::query(
            "INSERT INTO portfolio_memberships (id, portfolio_id, intent_id, role, priority, added_at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (portfolio_id, intent_id) DO UPDATE SET role = excluded.role, priority = excluded.priority",
        )
        .bind(new_id())
        .bind(portfolio_id)
        .bind(intent_id)
        .bind(role.as_str())
        .bind(priority)
        .bind(ts(&t))
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query(
            "SELECT id, portfolio_id, intent_id, role, priority, added_at FROM portfolio_memberships \
             WHERE portfolio_id = $1 AND intent_id = $2",
        )
        .bind(portfolio_id)
        .bind(intent_id)
        .fetch_one(&mut *tx)
        .await?;
        let message = notify::membership_changed("intent_added", portfolio_id, intent_id, &new_id());
        self.keep_stream_message(&mut tx, &message).await?;
        tx.commit().await?;
        let mut m = PortfolioMembership::default();
        m.id = row.try_get("id")?;
        m.portfolio_id = Some(row.try_get("portfolio_id")?);
        m.intent_id = Some(row.try_get("intent_id")?);
        m.role = Some(MembershipRole::parse(&row.try_get::<String, _>("role")?));
        m.priority = Some(row.try_get("priority")?);
        m.added_at = Some(parse_ts(&row.try_get::<String, _>("added_at")?)?);
        Ok((m, message))
    }

    /// Removes an intent from a portfolio; `false` when it was not a member.
    /// Removes a membership; the stream message announcing it, or `None` when there was none.
    pub(crate) async fn remove_membership(
        &self,
        portfolio_id: &str,
        intent_id: &str,
    ) -> StoreResult<Option<Notification>> {
        let mut tx = self.begin().await?;
        let done = sqlx::query("DELETE FROM portfolio_memberships WHERE portfolio_id = $1 AND intent_id = $2")
            .bind(portfolio_id)
            .bind(intent_id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        let message = notify::membership_changed("intent_removed", portfolio_id, intent_id, &new_id());
        self.keep_stream_message(&mut tx, &message).await?;
        tx.commit().await?;
        Ok(Some(message))
    }

    /// The member intents, highest priority first.
    pub(crate) async fn portfolio_intents(&self, portfolio_id: &str) -> StoreResult<Vec<Intent>> {
        let cols: Vec<String> = INTENT_COLS.split(", ").map(|c| format!("i.{}", c.trim())).collect();
        let rows = sqlx::query(&format!(
            "SELECT {} FROM portfolio_memberships m JOIN intents i ON i.id = m.intent_id \
             WHERE m.portfolio_id = $1 ORDER BY m.priority DESC, m.seq",
            cols.join(", ")
        ))
        .bind(portfolio_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(intent_from_row).collect()
    }

    pub(crate) async fn intent_portfolios(&self, intent_id: &str) -> StoreResult<Vec<Portfolio>> {
        let cols: Vec<String> = PORTFOLIO_COLS.split(", ").map(|c| format!("p.{}", c.trim())).collect();
        let rows = sqlx::query(&format!(
            "SELECT {} FROM portfolio_memberships m JOIN portfolios p ON p.id = m.portfolio_id \
             WHERE m.intent_id = $1 ORDER BY m.seq",
            cols.join(", ")
        ))
        .bind(intent_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(portfolio_from_row).collect()
    }

    // ----- subscriptions -------------------------------------------------------------------

    pub(crate) async fn create_subscription(
        &self,
        req: &CreateSubscriptionRequest,
        subscriber_id: &str,
        secret: &str,
    ) -> StoreResult<Subscription> {
        let mut tx = self.begin().await?;
        if let Some(i) = &req.intent_id {
            require_intent(&mut tx, i).await?;
        }
        if let Some(p) = &req.portfolio_id {
            let exists: Option<i64> =
                sqlx::query_scalar("SELECT 1 FROM portfolios WHERE id = $1").bind(p).fetch_optional(&mut *tx).await?;
            if exists.is_none() {
                return Err(StoreError::NotFound(PORTFOLIO_NOT_FOUND));
            }
        }
        let t = now();
        let mut s = Subscription::default();
        s.id = new_id();
        s.intent_id = req.intent_id.clone();
        s.portfolio_id = req.portfolio_id.clone();
        s.subscriber_id = subscriber_id.to_owned();
        s.event_types = req.event_types.clone();
        s.webhook_url = req.webhook_url.clone();
        s.active = true;
        s.expires_at = req.expires_at.map(|e| e.trunc_subsecs(6));
        s.created_at = t;
        sqlx::query(
            "INSERT INTO subscriptions (id, intent_id, portfolio_id, subscriber_id, event_types, webhook_url, active, \
             expires_at, created_at, secret) VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $8, $9)",
        )
        .bind(&s.id)
        .bind(&s.intent_id)
        .bind(&s.portfolio_id)
        .bind(&s.subscriber_id)
        .bind(to_json(&s.event_types))
        .bind(&s.webhook_url)
        .bind(s.expires_at.as_ref().map(ts))
        .bind(ts(&t))
        .bind(secret)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(s)
    }

    pub(crate) async fn list_subscriptions(
        &self,
        intent_id: Option<&str>,
        portfolio_id: Option<&str>,
        subscriber_id: Option<&str>,
    ) -> StoreResult<Vec<Subscription>> {
        let mut sql = String::from(
            "SELECT id, intent_id, portfolio_id, subscriber_id, event_types, webhook_url, active, expires_at, \
             created_at FROM subscriptions WHERE 1 = 1",
        );
        let mut binds = Vec::new();
        for (col, v) in [("intent_id", intent_id), ("portfolio_id", portfolio_id), ("subscriber_id", subscriber_id)] {
            if let Some(v) = v {
                binds.push(v);
                sql.push_str(&format!(" AND {col} = ${}", binds.len()));
            }
        }
        sql.push_str(" ORDER BY seq");
        let mut q = sqlx::query(&sql);
        for b in binds {
            q = q.bind(b);
        }
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                let mut s = Subscription::default();
                s.id = r.try_get("id")?;
                s.intent_id = r.try_get("intent_id")?;
                s.portfolio_id = r.try_get("portfolio_id")?;
                s.subscriber_id = r.try_get("subscriber_id")?;
                s.event_types = json(&r.try_get::<String, _>("event_types")?)?;
                s.webhook_url = r.try_get("webhook_url")?;
                s.active = r.try_get::<i64, _>("active")? != 0;
                s.expires_at = opt_ts(r.try_get("expires_at")?)?;
                s.created_at = parse_ts(&r.try_get::<String, _>("created_at")?)?;
                Ok(s)
            })
            .collect()
    }

    pub(crate) async fn delete_subscription(&self, id: &str) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let done = sqlx::query("DELETE FROM subscriptions WHERE id = $1").bind(id).execute(&mut *tx).await?;
        // Its webhook deliveries still waiting (for a first attempt or a retry) are not sent.
        sqlx::query(
            "UPDATE webhook_deliveries SET status = 'cancelled', last_error = 'subscription deleted', \
             finished_at = $1, claimed_by = NULL, claimed_until = NULL \
             WHERE subscription_id = $2 AND status = 'pending'",
        )
        .bind(ts(&now()))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    // ----- webhook deliveries --------------------------------------------------------------

    /// The subscriber of subscription `id`; `None` when there is no such subscription.
    pub(crate) async fn subscription_subscriber(&self, id: &str) -> StoreResult<Option<String>> {
        Ok(sqlx::query_scalar("SELECT subscriber_id FROM subscriptions WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// A page of the deliveries of subscription `id` (with `status` only, when given), newest
    /// first, and how many there are in all.
    pub(crate) async fn list_deliveries(
        &self,
        subscription_id: &str,
        status: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> StoreResult<(Vec<DeliveryRecord>, u64)> {
        let filter = if status.is_some() { " AND status = $2" } else { "" };
        let count_sql = format!("SELECT COUNT(*) FROM webhook_deliveries WHERE subscription_id = $1{filter}");
        let mut count = sqlx::query_scalar::<_, i64>(&count_sql).bind(subscription_id);
        let page_sql = format!(
            "SELECT id, event_id, event_type, status, attempts, last_error, last_status, next_attempt_at, created_at, \
             finished_at FROM webhook_deliveries WHERE subscription_id = $1{filter} ORDER BY seq DESC LIMIT {} OFFSET {}",
            if status.is_some() { "$3" } else { "$2" },
            if status.is_some() { "$4" } else { "$3" },
        );
        let mut page = sqlx::query(&page_sql).bind(subscription_id);
        if let Some(s) = status {
            count = count.bind(s);
            page = page.bind(s);
        }
        let total = count.fetch_one(&self.pool).await?;
        let rows = page.bind(limit).bind(offset).fetch_all(&self.pool).await?;
        let records = rows
            .iter()
            .map(|r| {
                let status: String = r.try_get("status")?;
                let next_ms: i64 = r.try_get("next_attempt_at")?;
                let finished = opt_ts(r.try_get("finished_at")?)?;
                Ok(DeliveryRecord {
                    id: r.try_get("id")?,
                    event_id: r.try_get("event_id")?,
                    event_type: r.try_get("event_type")?,
                    attempts: u32::try_from(r.try_get::<i64, _>("attempts")?).unwrap_or(0),
                    last_error: r.try_get("last_error")?,
                    last_status: r.try_get::<Option<i64>, _>("last_status")?.and_then(|c| u16::try_from(c).ok()),
                    next_attempt_at: if status == "pending" {
                        DateTime::<Utc>::from_timestamp_millis(next_ms)
                    } else {
                        None
                    },
                    created_at: parse_ts(&r.try_get::<String, _>("created_at")?)?,
                    delivered_at: if status == "delivered" { finished } else { None },
                    status,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok((records, u64::try_from(total).unwrap_or(0)))
    }

    /// Claims up to `limit` due deliveries (pending, due at `now_ms`, unclaimed or with an
    /// expired claim) for `claim` until `until_ms`, and returns them with their subscriptions.
    pub(crate) async fn claim_deliveries(
        &self,
        claim: &str,
        now_ms: i64,
        until_ms: i64,
        limit: i64,
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        let mut tx = self.begin().await?;
        // The outer condition repeats the claimability test, so that a row claimed by a
        // concurrent transaction since the subquery read it is left alone (PostgreSQL re-checks
        // the outer condition on the row's new version); PostgreSQL also skips rows being claimed.
        let sql = format!(
            "UPDATE webhook_deliveries SET claimed_by = $1, claimed_until = $2 \
             WHERE status = 'pending' AND (claimed_until IS NULL OR claimed_until < $3) AND id IN \
             (SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= $4 \
              AND (claimed_until IS NULL OR claimed_until < $5) ORDER BY next_attempt_at, seq LIMIT $6{})",
            self.dialect.skip_locked()
        );
        sqlx::query(&sql)
            .bind(claim)
            .bind(until_ms)
            .bind(now_ms)
            .bind(now_ms)
            .bind(now_ms)
            .bind(limit)
            .execute(&mut *tx)
            .await?;
        let rows = sqlx::query(
            "SELECT d.id, d.subscription_id, d.event_type, d.payload, d.attempts, s.id AS sub_id, s.webhook_url, \
             s.secret, s.active, s.expires_at FROM webhook_deliveries d \
             LEFT JOIN subscriptions s ON s.id = d.subscription_id \
             WHERE d.claimed_by = $1 AND d.status = 'pending' ORDER BY d.next_attempt_at, d.seq",
        )
        .bind(claim)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.iter()
            .map(|r| {
                let target = match r.try_get::<Option<String>, _>("sub_id")? {
                    None => None,
                    Some(_) => Some(DeliveryTarget {
                        url: r.try_get("webhook_url")?,
                        secret: r.try_get("secret")?,
                        active: r.try_get::<Option<i64>, _>("active")?.is_some_and(|v| v != 0),
                        expires_at: opt_ts(r.try_get("expires_at")?)?,
                    }),
                };
                Ok(ClaimedDelivery {
                    id: r.try_get("id")?,
                    subscription_id: r.try_get("subscription_id")?,
                    event_type: r.try_get("event_type")?,
                    payload: r.try_get("payload")?,
                    attempts: u32::try_from(r.try_get::<i64, _>("attempts")?).unwrap_or(0),
                    target,
                })
            })
            .collect()
    }

    /// Records the outcome of an attempt on a delivery still held by `claim`; `false` when the
    /// claim was lost (expired and taken over) and nothing was written.
    pub(crate) async fn settle_delivery(&self, id: &str, claim: &str, update: &DeliveryUpdate) -> StoreResult<bool> {
        let (attempts, next, error, code) = match update {
            DeliveryUpdate::Delivered { attempts, status_code } => (Some(*attempts), None, None, Some(*status_code)),
            DeliveryUpdate::Retry { attempts, next_attempt_ms, error, status_code } => {
                (Some(*attempts), Some(*next_attempt_ms), Some(error.as_str()), *status_code)
            }
            DeliveryUpdate::Failed { attempts, error, status_code } => {
                (Some(*attempts), None, Some(error.as_str()), *status_code)
            }
            DeliveryUpdate::Cancelled { reason } => (None, None, Some(reason.as_str()), None),
        };
        let finished = (update.status() != "pending").then(|| ts(&now()));
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE webhook_deliveries SET status = $1, attempts = COALESCE($2, attempts), \
             next_attempt_at = COALESCE($3, next_attempt_at), last_error = $4, last_status = $5, finished_at = $6, \
             claimed_by = NULL, claimed_until = NULL WHERE id = $7 AND claimed_by = $8 AND status = 'pending'",
        )
        .bind(update.status())
        .bind(attempts.map(i64::from))
        .bind(next)
        .bind(error)
        .bind(code.map(i64::from))
        .bind(finished)
        .bind(id)
        .bind(claim)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Releases the pending deliveries held by `claim` (a worker stopping), so they are due again.
    pub(crate) async fn release_claims(&self, claim: &str) -> StoreResult<u64> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE webhook_deliveries SET claimed_by = NULL, claimed_until = NULL \
             WHERE claimed_by = $1 AND status = 'pending'",
        )
        .bind(claim)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    /// Deletes the finished (delivered, failed or cancelled) deliveries that finished before
    /// `before`; returns how many.
    pub(crate) async fn prune_deliveries(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "DELETE FROM webhook_deliveries WHERE status <> 'pending' AND finished_at IS NOT NULL \
             AND finished_at < $1",
        )
        .bind(ts(&before))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }
}

// ----- helpers shared by the operations -----------------------------------------------------

fn as_obj(v: Value) -> JsonObject {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// The refusal of a patch that cannot be applied (its path does not exist, ...); nothing was
/// written. The error names the patch and its member, as the body's fields.
fn patch_refused(e: openintent_types::PatchError) -> StoreError {
    let index = e.index();
    let field = match e {
        openintent_types::PatchError::UnknownOp { .. } => "op",
        _ => "path",
    };
    let mut fe = openintent_types::FieldError::default();
    fe.kind = "value_error".into();
    fe.loc = vec![json!("body"), json!("patches"), json!(index), json!(field)];
    fe.msg = e.to_string();
    StoreError::Invalid(vec![fe])
}

fn version_conflict(current: Option<i64>) -> StoreError {
    match current {
        Some(current) => StoreError::VersionConflict { current },
        None => StoreError::NotFound(INTENT_NOT_FOUND),
    }
}

fn check_version(intent: &Intent, expected: i64) -> StoreResult<()> {
    if intent.version == expected { Ok(()) } else { Err(version_conflict(Some(intent.version))) }
}

async fn current_version(tx: &mut Tx, id: &str) -> StoreResult<Option<i64>> {
    Ok(sqlx::query_scalar("SELECT version FROM intents WHERE id = $1").bind(id).fetch_optional(&mut **tx).await?)
}

async fn intent_exists(tx: &mut Tx, id: &str) -> StoreResult<bool> {
    let found: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM intents WHERE id = $1").bind(id).fetch_optional(&mut **tx).await?;
    Ok(found.is_some())
}

/// Locks the intent's row for the rest of the transaction (see [`Dialect::row_lock`]); `false`
/// when there is no such intent. Every write transaction that appends to an intent's log takes
/// this lock before any other, so appends to one log are serialized across processes.
async fn lock_intent(tx: &mut Tx, id: &str) -> StoreResult<bool> {
    let sql = format!("SELECT id FROM intents WHERE id = $1{}", tx.dialect.row_lock());
    let found: Option<String> = sqlx::query_scalar(&sql).bind(id).fetch_optional(&mut **tx).await?;
    Ok(found.is_some())
}

/// Locks the intent (404 when it does not exist).
async fn require_intent(tx: &mut Tx, id: &str) -> StoreResult<()> {
    if lock_intent(tx, id).await? { Ok(()) } else { Err(StoreError::NotFound(INTENT_NOT_FOUND)) }
}

/// Refuses a request by a governance rule: appends the rule's `governance.violation` event (if
/// it logs one) and commits it, alone (the caller wrote nothing yet), then answers the 403.
async fn refuse<T>(mut tx: Tx, intent_id: &str, actor: &str, v: Violation) -> StoreResult<T> {
    if let Some(payload) = v.event_payload() {
        append_event(&mut tx, intent_id, EventType::GovernanceViolation, actor, payload).await?;
        tx.commit().await?;
    }
    Err(StoreError::governance(v))
}

/// The `write_scope` and `allowed_agents` rules for a write by `principal`, read in the write's
/// transaction (the intent is locked, so an assignment cannot change meanwhile).
async fn check_writer(
    tx: &mut Tx,
    policy: &Policy,
    intent_id: &str,
    principal: &str,
) -> StoreResult<Result<(), Violation>> {
    let assigned = if policy.assigned_only {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM agent_assignments WHERE intent_id = $1 AND agent_id = $2 LIMIT 1")
                .bind(intent_id)
                .bind(principal)
                .fetch_optional(&mut **tx)
                .await?;
        found.is_some()
    } else {
        true
    };
    Ok(policy.check_writer(principal, assigned))
}

/// How many distinct agents are assigned to the intent.
async fn assigned_agent_count(tx: &mut Tx, intent_id: &str) -> StoreResult<u64> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(DISTINCT agent_id) FROM agent_assignments WHERE intent_id = $1")
        .bind(intent_id)
        .fetch_one(&mut **tx)
        .await?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// The sum of the intent's recorded costs.
async fn cost_total(tx: &mut Tx, intent_id: &str) -> StoreResult<f64> {
    let total: Option<f64> = sqlx::query_scalar("SELECT SUM(amount) FROM costs WHERE intent_id = $1")
        .bind(intent_id)
        .fetch_one(&mut **tx)
        .await?;
    Ok(total.unwrap_or(0.0))
}

/// Locks and reads the intent (404 when it does not exist).
async fn load_intent(tx: &mut Tx, id: &str) -> StoreResult<Intent> {
    let row = sqlx::query(&format!("SELECT {INTENT_COLS} FROM intents WHERE id = $1{}", tx.dialect.row_lock()))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    match row {
        Some(r) => intent_from_row(&r),
        None => Err(StoreError::NotFound(INTENT_NOT_FOUND)),
    }
}

/// The leases currently holding a scope of the intent.
async fn active_leases(tx: &mut Tx, intent_id: &str, at: &DateTime<Utc>) -> StoreResult<Vec<Lease>> {
    let cols: Vec<String> = LEASE_COLS.split(", ").map(|c| format!("l.{}", c.trim())).collect();
    let rows = sqlx::query(&format!(
        "SELECT {} FROM lease_slots s JOIN leases l ON l.id = s.lease_id \
         WHERE s.intent_id = $1 AND s.lease_id IS NOT NULL AND s.expires_at > $2",
        cols.join(", ")
    ))
    .bind(intent_id)
    .bind(ts(at))
    .fetch_all(&mut **tx)
    .await?;
    rows.iter().map(lease_from_row).collect()
}

/// The lease the slot of `(intent, scope)` points to.
async fn slot_lease(tx: &mut Tx, intent_id: &str, scope: &str) -> StoreResult<Option<Lease>> {
    let cols: Vec<String> = LEASE_COLS.split(", ").map(|c| format!("l.{}", c.trim())).collect();
    let row = sqlx::query(&format!(
        "SELECT {} FROM lease_slots s JOIN leases l ON l.id = s.lease_id WHERE s.intent_id = $1 AND s.scope = $2",
        cols.join(", ")
    ))
    .bind(intent_id)
    .bind(scope)
    .fetch_optional(&mut **tx)
    .await?;
    row.as_ref().map(lease_from_row).transpose()
}

/// A lease of `intent_id` held by `principal`: 404 when unknown or of another intent, 403 when
/// another principal holds it.
async fn owned_lease(tx: &mut Tx, intent_id: &str, lease_id: &str, principal: &str) -> StoreResult<Lease> {
    let row = sqlx::query(&format!("SELECT {LEASE_COLS} FROM leases WHERE id = $1"))
        .bind(lease_id)
        .fetch_optional(&mut **tx)
        .await?;
    let lease = match row {
        Some(r) => lease_from_row(&r)?,
        None => return Err(StoreError::NotFound(LEASE_NOT_FOUND)),
    };
    if lease.intent_id != intent_id {
        return Err(StoreError::NotFound(LEASE_NOT_FOUND));
    }
    if lease.agent_id != principal {
        return Err(StoreError::Forbidden("Lease not owned by you"));
    }
    Ok(lease)
}

/// Appends an event to an intent's log (the caller holds the intent's lock), writes its webhook
/// deliveries, and publishes it on the intent's event stream when the transaction commits:
/// every event of the log, and only those, goes out on the stream, in log order.
async fn append_event(
    tx: &mut Tx,
    intent_id: &str,
    event_type: EventType,
    actor: &str,
    payload: JsonObject,
) -> StoreResult<IntentEvent> {
    let mut event = IntentEvent::new(new_id(), intent_id, event_type, actor);
    event.payload = payload;
    // Never before the log's newest event, even when the clocks of several server processes
    // disagree, so that the log's order by time is its order of appends (the caller holds the
    // intent's lock, see `lock_intent`).
    let newest: Option<String> = sqlx::query_scalar("SELECT MAX(created_at) FROM events WHERE intent_id = $1")
        .bind(intent_id)
        .fetch_one(&mut **tx)
        .await?;
    event.created_at = match opt_ts(newest)? {
        Some(newest) => now().max(newest),
        None => now(),
    };
    sqlx::query(
        "INSERT INTO events (id, intent_id, event_type, actor, payload, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&event.id)
    .bind(intent_id)
    .bind(event.event_type.as_str())
    .bind(actor)
    .bind(to_json(&event.payload))
    .bind(ts(&event.created_at))
    .execute(&mut **tx)
    .await?;
    enqueue_deliveries(tx, &event).await?;
    // The intent's stream carries every event of its log; a state or status change carries
    // the intent as this transaction leaves it.
    let notification = if notify::carries_intent(&event.event_type) {
        notify::intent_changed(event.event_type.as_str(), &load_intent(tx, intent_id).await?, &event.id)
    } else {
        notify::event_logged(&event)
    };
    tx.publish(notification).await?;
    Ok(event)
}

/// Writes the webhook outbox rows of `event`, in the event's transaction: one per active,
/// unexpired subscription with a URL whose scope (intent, portfolio membership of the event's
/// intent, or global) and event-type filter match.
async fn enqueue_deliveries(tx: &mut Tx, event: &IntentEvent) -> StoreResult<()> {
    let rows = sqlx::query(
        "SELECT id, event_types, expires_at FROM subscriptions \
         WHERE active = 1 AND webhook_url IS NOT NULL \
         AND (intent_id IS NULL OR intent_id = $1) \
         AND (portfolio_id IS NULL OR portfolio_id IN \
              (SELECT portfolio_id FROM portfolio_memberships WHERE intent_id = $2)) \
         ORDER BY seq",
    )
    .bind(&event.intent_id)
    .bind(&event.intent_id)
    .fetch_all(&mut **tx)
    .await?;
    let mut targets = Vec::new();
    for r in &rows {
        let expires_at = opt_ts(r.try_get("expires_at")?)?;
        let event_types: Vec<String> = json(&r.try_get::<String, _>("event_types")?)?;
        if webhook::subscription_matches(&event_types, expires_at, event) {
            targets.push(r.try_get::<String, _>("id")?);
        }
    }
    if targets.is_empty() {
        return Ok(());
    }
    let event_wire = openintent_types::wire::to_superset_value(event);
    let due = Utc::now().timestamp_millis();
    for subscription_id in targets {
        let payload = json!({"subscription_id": subscription_id, "event": event_wire});
        sqlx::query(
            "INSERT INTO webhook_deliveries (id, subscription_id, event_id, event_type, payload, status, attempts, \
             next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $7)",
        )
        .bind(new_id())
        .bind(&subscription_id)
        .bind(&event.id)
        .bind(event.event_type.as_str())
        .bind(payload.to_string())
        .bind(due)
        .bind(ts(&event.created_at))
        .execute(&mut **tx)
        .await?;
    }
    tx.enqueued = true;
    Ok(())
}

async fn load_policy(conn: &mut AnyConnection, intent_id: &str) -> StoreResult<Option<RetryPolicy>> {
    let row = sqlx::query(
        "SELECT id, intent_id, strategy, max_retries, base_delay_ms, max_delay_ms, jitter, extras, created_at, \
         updated_at FROM retry_policies WHERE intent_id = $1",
    )
    .bind(intent_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let extras = obj(&r.try_get::<String, _>("extras")?)?;
    let mut p = RetryPolicy::default();
    p.id = r.try_get("id")?;
    p.intent_id = r.try_get("intent_id")?;
    p.strategy = RetryStrategy::parse(&r.try_get::<String, _>("strategy")?);
    p.max_retries = r.try_get("max_retries")?;
    p.base_delay_ms = r.try_get("base_delay_ms")?;
    p.max_delay_ms = r.try_get("max_delay_ms")?;
    p.jitter = r.try_get::<i64, _>("jitter")? != 0;
    p.backoff_multiplier = extras.get("backoff_multiplier").and_then(Value::as_f64);
    p.retryable_errors = extras.get("retryable_errors").and_then(|v| serde_json::from_value(v.clone()).ok());
    p.fallback_agent_id = extras.get("fallback_agent_id").and_then(Value::as_str).map(str::to_owned);
    p.failure_threshold = extras.get("failure_threshold").and_then(Value::as_i64);
    p.created_at = parse_ts(&r.try_get::<String, _>("created_at")?)?;
    p.updated_at = Some(parse_ts(&r.try_get::<String, _>("updated_at")?)?);
    Ok(Some(p))
}

fn intent_from_row(r: &AnyRow) -> StoreResult<Intent> {
    let mut i = Intent::default();
    i.id = r.try_get("id")?;
    i.title = r.try_get("title")?;
    i.description = r.try_get("description")?;
    i.created_by = r.try_get("created_by")?;
    i.parent_id = r.try_get("parent_id")?;
    i.depends_on = json(&r.try_get::<String, _>("depends_on")?)?;
    i.constraints = obj(&r.try_get::<String, _>("constraints_doc")?)?;
    i.state = obj(&r.try_get::<String, _>("state")?)?;
    i.status = IntentStatus::parse(&r.try_get::<String, _>("status")?);
    i.confidence = r.try_get("confidence")?;
    i.version = r.try_get("version")?;
    i.governance_policy = opt_obj(r.try_get("governance_policy")?)?;
    i.created_at = parse_ts(&r.try_get::<String, _>("created_at")?)?;
    i.updated_at = parse_ts(&r.try_get::<String, _>("updated_at")?)?;
    Ok(i)
}

fn event_from_row(r: &AnyRow) -> StoreResult<IntentEvent> {
    let mut e = IntentEvent::new(
        r.try_get::<String, _>("id")?,
        r.try_get::<String, _>("intent_id")?,
        EventType::parse(&r.try_get::<String, _>("event_type")?),
        r.try_get::<String, _>("actor")?,
    );
    e.payload = obj(&r.try_get::<String, _>("payload")?)?;
    e.created_at = parse_ts(&r.try_get::<String, _>("created_at")?)?;
    Ok(e)
}

fn lease_from_row(r: &AnyRow) -> StoreResult<Lease> {
    let mut l = Lease::new(
        r.try_get::<String, _>("id")?,
        r.try_get::<String, _>("intent_id")?,
        r.try_get::<String, _>("agent_id")?,
        r.try_get::<String, _>("scope")?,
        0,
    );
    l.acquired_at = parse_ts(&r.try_get::<String, _>("acquired_at")?)?;
    l.expires_at = parse_ts(&r.try_get::<String, _>("expires_at")?)?;
    l.released_at = opt_ts(r.try_get("released_at")?)?;
    Ok(l)
}

fn portfolio_from_row(r: &AnyRow) -> StoreResult<Portfolio> {
    let mut p = Portfolio::default();
    p.id = r.try_get("id")?;
    p.name = r.try_get("name")?;
    p.description = r.try_get("description")?;
    p.created_by = r.try_get("created_by")?;
    p.status = PortfolioStatus::parse(&r.try_get::<String, _>("status")?);
    p.governance_policy = obj(&r.try_get::<String, _>("governance_policy")?)?;
    p.metadata = opt_obj(r.try_get("metadata")?)?;
    p.created_at = parse_ts(&r.try_get::<String, _>("created_at")?)?;
    p.updated_at = parse_ts(&r.try_get::<String, _>("updated_at")?)?;
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_event_log_is_append_only() {
        let store = SqlStore::open(&DatabaseLocation::Memory).await.unwrap();
        let new = NewIntent {
            title: "t".into(),
            description: String::new(),
            created_by: "me".into(),
            parent_id: None,
            depends_on: Vec::new(),
            constraints: Map::new(),
            state: Map::new(),
            status: IntentStatus::Draft,
            governance_policy: None,
        };
        let (intent, event) = store.create_intent(new).await.unwrap();
        let update =
            sqlx::query("UPDATE events SET actor = 'forged' WHERE id = $1").bind(&event.id).execute(&store.pool).await;
        assert!(update.unwrap_err().to_string().contains("append-only"));
        let delete = sqlx::query("DELETE FROM events WHERE id = $1").bind(&event.id).execute(&store.pool).await;
        assert!(delete.is_err());
        let events = store.list_events(&intent.id, &EventFilter { limit: 10, ..Default::default() }).await.unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].actor, "me");
    }

    #[tokio::test]
    async fn a_version_mismatch_writes_nothing() {
        let store = SqlStore::open(&DatabaseLocation::Memory).await.unwrap();
        let new = NewIntent {
            title: "t".into(),
            description: String::new(),
            created_by: "me".into(),
            parent_id: None,
            depends_on: Vec::new(),
            constraints: Map::new(),
            state: Map::new(),
            status: IntentStatus::Draft,
            governance_policy: None,
        };
        let (intent, _) = store.create_intent(new).await.unwrap();
        let patch = [StatePatch::set_path("/a", json!(1))];
        let err = store.update_state(&intent.id, 7, "me", &patch).await.unwrap_err();
        assert!(matches!(err, StoreError::VersionConflict { current: 1 }), "{err:?}");
        let err = store.set_status(&intent.id, 0, "me", &IntentStatus::Active, None).await.unwrap_err();
        assert!(matches!(err, StoreError::VersionConflict { current: 1 }), "{err:?}");
        let again = store.get_intent(&intent.id).await.unwrap().unwrap();
        assert_eq!((again.version, again.state.len()), (1, 0));
        let events = store.list_events(&intent.id, &EventFilter { limit: 10, ..Default::default() }).await.unwrap();
        assert_eq!(events.len(), 1);
    }
}
