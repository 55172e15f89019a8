//! The database under the store: the connection pool, the dialect, write transactions, and the
//! helpers the operations of several areas share.
//!
//! Statements go through the native driver of each database, SQLite or PostgreSQL, by way of
//! `driver.rs` (`query(sql).bind(..)`, one SQL text for both, `$1`-style placeholders): it binds
//! timestamps, JSON documents and booleans as each database stores them (PostgreSQL:
//! `TIMESTAMPTZ`, `JSONB`, `BOOLEAN`; SQLite: wire-format text, text, 0/1) and reads either back
//! (its module documentation says how to write a query). What differs is kept in [`Dialect`]:
//! how a write transaction starts and what it locks, the migrations folder, and the
//! notifications other server processes receive.
//!
//! - **SQLite.** Writes run in `BEGIN IMMEDIATE` transactions (the write lock is taken up front,
//!   so a transaction never fails to upgrade from reader to writer) behind an in-process mutex
//!   (so writers of one process queue instead of spinning on SQLite's busy handler). Statements
//!   run inline on rusqlite connections, without a hand-off to another thread (`driver/lite.rs`
//!   says how writers, readers, long reads, busy files and checkpoints are handled).
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

use chrono::Utc;
use openintent_types::{EventType, Intent, IntentEvent, JsonObject, Permission};
use serde_json::json;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection};
use tokio::sync::{Mutex, Notify, OwnedMutexGuard, broadcast};

use super::driver::{DbTx, Executor, LitePool, Pool, Target, query, query_scalar};
use super::error::{StoreError, StoreResult};
use super::rows::{INTENT_COLS, intent_from_row, new_id, now, to_json, ts};
use crate::config::DatabaseLocation;
use crate::metrics::Metrics;
use crate::notify::{self, Notification};
use crate::rules::acl::{SqlInputs, sql_predicate};
use crate::rules::governance::{Policy, Violation};
use crate::rules::subscriptions::subscription_matches;

/// The SQLite schema's migrations (`migrations/`, embedded).
static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

pub(super) const INTENT_NOT_FOUND: &str = "Intent not found";
pub(super) const PORTFOLIO_NOT_FOUND: &str = "Portfolio not found";

/// The database behind a [`Db`], and what its SQL does differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// An embedded SQLite file or in-memory database, used by one process.
    Sqlite,
    /// A PostgreSQL database, possibly shared by several server processes.
    Postgres,
}

impl Dialect {
    /// The clause that locks the rows a write transaction reads before changing them.
    pub(super) fn row_lock(self) -> &'static str {
        match self {
            // `BEGIN IMMEDIATE` already holds the database's write lock.
            Dialect::Sqlite => "",
            // Does not block inserts that only reference the row (foreign keys).
            Dialect::Postgres => " FOR NO KEY UPDATE",
        }
    }

    /// The function returning the larger of two values (SQLite's two-argument `MAX`).
    fn greatest(self) -> &'static str {
        match self {
            Dialect::Sqlite => "MAX",
            Dialect::Postgres => "GREATEST",
        }
    }

    /// The clause that holds a row read by a write transaction against concurrent changes,
    /// without blocking other readers that hold it the same way.
    pub(super) fn share_lock(self) -> &'static str {
        match self {
            // `BEGIN IMMEDIATE`: no other transaction is writing.
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR SHARE",
        }
    }

    /// The clause that makes a queue read skip the rows another transaction is claiming.
    pub(super) fn skip_locked(self) -> &'static str {
        match self {
            // `BEGIN IMMEDIATE`: no other transaction is writing.
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
        }
    }
}

/// The database: its pool and dialect, and where committed transactions signal and publish.
#[derive(Debug)]
pub(crate) struct Db {
    pub(super) pool: Pool,
    pub(super) dialect: Dialect,
    /// Names this store in the announcements it makes (read by the relay of the other processes).
    origin: Arc<str>,
    /// PostgreSQL: the database URL, on which the relay listens.
    listen_url: Option<String>,
    /// SQLite only: serializes the writers of this process from their begin until their
    /// notifications are published, so that streams hear of commits in commit order (the
    /// driver's writer mutex alone is released at `COMMIT`, before the publication).
    write_lock: Arc<Mutex<()>>,
    /// Signalled when a committed transaction wrote webhook deliveries (wakes this process's
    /// delivery workers; other processes find them when they poll).
    deliveries: Arc<Notify>,
    /// Where committed transactions publish their notifications (the event streams read it).
    notifier: broadcast::Sender<Notification>,
    /// The operational metrics of this store's server.
    pub(super) metrics: Arc<Metrics>,
}

/// A write transaction (rolled back when dropped uncommitted). Dereferences to its [`DbTx`], the
/// executor its statements run on (`.execute(&mut *tx)`, or `&mut **tx` from a `&mut WriteTx`).
///
/// Every notification the transaction makes ([`WriteTx::publish`]: each event appended to an
/// intent's log, each kept portfolio or agent stream message) is announced to the other server
/// processes inside the transaction (PostgreSQL), and published to this process's event streams
/// once it committed, in the order made. On SQLite the publication happens before the write
/// lock is released, so streams receive the notifications of one process in commit order.
pub(crate) struct WriteTx {
    tx: DbTx,
    pub(super) dialect: Dialect,
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
    /// When the transaction began, and where its duration is recorded when it commits.
    began: std::time::Instant,
    metrics: Arc<Metrics>,
}

impl WriteTx {
    pub(super) async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await?;
        self.metrics.write_transaction(self.began.elapsed());
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
    /// server processes, whose relays receive it when, and only if, the transaction commits.
    pub(super) async fn publish(&mut self, n: Notification) -> StoreResult<()> {
        if self.dialect == Dialect::Postgres {
            match notify::announce(&self.origin, &n) {
                Some(payload) => {
                    query("SELECT pg_notify($1, $2)")
                        .bind(notify::ANNOUNCEMENTS)
                        .bind(payload)
                        .execute(&mut self.tx)
                        .await?;
                }
                None => tracing::warn!(event = %n.event, "notification too large to announce to other servers"),
            }
        }
        self.published.push(n);
        Ok(())
    }
}

impl<'c> Executor<'c> for &'c mut WriteTx {
    fn target(self) -> Target<'c> {
        (&mut self.tx).target()
    }
}

impl Deref for WriteTx {
    type Target = DbTx;

    fn deref(&self) -> &DbTx {
        &self.tx
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut DbTx {
        &mut self.tx
    }
}

impl Db {
    /// Connects (creating a missing SQLite file) and applies the dialect's embedded migrations.
    ///
    /// SQLite: the migrations run on a connection of sqlx's driver (its migrator keeps the
    /// `_sqlx_migrations` table), closed before the store's own connections open (`driver/lite.rs`).
    pub(crate) async fn open(location: &DatabaseLocation) -> Result<Self, StoreError> {
        let (pool, dialect) = match location {
            DatabaseLocation::Memory => {
                // A uniquely named shared-cache database: it lives as long as the store's
                // connection to it (the pool's writer), and the migrating connection opens it too.
                let uri = format!("file:openintent-memory-{}?mode=memory&cache=shared", new_id());
                let pool = LitePool::open_memory(&uri)?;
                // sqlx opens its file names as URIs.
                let mut conn = SqliteConnectOptions::new().filename(&uri).foreign_keys(true).connect().await?;
                SQLITE_MIGRATIONS.run(&mut conn).await?;
                conn.close().await?;
                (Pool::Sqlite(pool), Dialect::Sqlite)
            }
            DatabaseLocation::SqliteFile(path) => {
                let options = SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(true)
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(10))
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal);
                let mut conn = options.connect().await.map_err(|e| StoreError::sqlite_file(path, e))?;
                SQLITE_MIGRATIONS.run(&mut conn).await?;
                conn.close().await?;
                (Pool::Sqlite(LitePool::open_file(path)?), Dialect::Sqlite)
            }
            #[cfg(feature = "postgres")]
            DatabaseLocation::Postgres(url) => {
                let pool = sqlx::postgres::PgPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(30))
                    .connect(url)
                    .await?;
                sqlx::migrate!("./migrations/postgres").run(&pool).await?;
                (Pool::Postgres(pool), Dialect::Postgres)
            }
            #[cfg(not(feature = "postgres"))]
            DatabaseLocation::Postgres(_) => {
                return Err(StoreError::Unsupported(location.check_supported().unwrap_err()));
            }
        };
        let listen_url = match location {
            DatabaseLocation::Postgres(url) => Some(url.clone()),
            _ => None,
        };
        Ok(Db {
            pool,
            dialect,
            origin: Arc::from(new_id()),
            listen_url,
            write_lock: Arc::new(Mutex::new(())),
            deliveries: Arc::new(Notify::new()),
            notifier: broadcast::channel(notify::NOTIFICATION_BUFFER).0,
            metrics: Arc::default(),
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

    pub(crate) async fn close(&self) {
        self.pool.close().await;
    }

    /// Signalled when this process committed new webhook deliveries.
    pub(crate) fn deliveries_signal(&self) -> Arc<Notify> {
        self.deliveries.clone()
    }

    /// Starts a write transaction.
    ///
    /// Cancellation-safe: a caller dropped at any point leaves no transaction open.
    /// - SQLite: `BEGIN IMMEDIATE` runs inline, and the transaction is owned the moment it
    ///   began (nothing is awaited in between); a dropped [`WriteTx`] rolls back synchronously.
    /// - PostgreSQL: the transaction is begun on a task of its own. sqlx's `begin` is not
    ///   cancellation-safe: a caller dropped after the database began the transaction but before
    ///   sqlx recorded it would return the connection to the pool inside a transaction. A task
    ///   always runs to its end; when its caller is gone, the transaction it produced is dropped
    ///   with its output and rolled back (sqlx rolls a dropped transaction back before the
    ///   connection is used again).
    pub(super) async fn begin(&self) -> StoreResult<WriteTx> {
        let (begun, guard) = match self.dialect {
            Dialect::Sqlite => {
                let guard = self.write_lock.clone().lock_owned().await;
                (self.pool.begin_write().await, Some(guard))
            }
            Dialect::Postgres => {
                let pool = self.pool.clone();
                (tokio::spawn(async move { pool.begin_write().await }).await.map_err(StoreError::Begin)?, None)
            }
        };
        Ok(self.write_tx(begun?, guard))
    }

    fn write_tx(&self, tx: DbTx, guard: Option<OwnedMutexGuard<()>>) -> WriteTx {
        WriteTx {
            tx,
            dialect: self.dialect,
            origin: self.origin.clone(),
            deliveries: self.deliveries.clone(),
            enqueued: false,
            published: Vec::new(),
            notifier: self.notifier.clone(),
            _guard: guard,
            began: std::time::Instant::now(),
            metrics: self.metrics.clone(),
        }
    }
}

// ----- helpers shared by the operations -----------------------------------------------------

/// Locks the intent's row for the rest of the transaction (see [`Dialect::row_lock`]); `false`
/// when there is no such intent. Every write transaction that appends to an intent's log takes
/// this lock before any other, so appends to one log are serialized across processes.
pub(super) async fn lock_intent(tx: &mut WriteTx, id: &str) -> StoreResult<bool> {
    let sql = format!("SELECT id FROM intents WHERE id = $1{}", tx.dialect.row_lock());
    let found: Option<String> = query_scalar(&sql).bind(id).fetch_optional(&mut **tx).await?;
    Ok(found.is_some())
}

/// Locks the intent (404 when it does not exist).
pub(super) async fn require_intent(tx: &mut WriteTx, id: &str) -> StoreResult<()> {
    if lock_intent(tx, id).await? { Ok(()) } else { Err(StoreError::NotFound(INTENT_NOT_FOUND)) }
}

/// Locks and reads the intent (404 when it does not exist).
pub(super) async fn load_intent(tx: &mut WriteTx, id: &str) -> StoreResult<Intent> {
    let row = query(&format!("SELECT {INTENT_COLS} FROM intents WHERE id = $1{}", tx.dialect.row_lock()))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    match row {
        Some(r) => intent_from_row(&r),
        None => Err(StoreError::NotFound(INTENT_NOT_FOUND)),
    }
}

/// Refuses a request by a governance rule: appends the rule's `governance.violation` event (if
/// it logs one) and commits it, alone (the caller wrote nothing yet), then answers the 403.
pub(super) async fn refuse<T>(mut tx: WriteTx, intent_id: &str, actor: &str, v: Violation) -> StoreResult<T> {
    if let Some(payload) = v.event_payload() {
        append_event(&mut tx, intent_id, EventType::GovernanceViolation, actor, payload).await?;
        tx.commit().await?;
    }
    Err(StoreError::governance(v))
}

/// The `write_scope` and `allowed_agents` rules for a write by `principal`, read in the write's
/// transaction (the intent is locked, so an assignment cannot change meanwhile).
pub(super) async fn check_writer(
    tx: &mut WriteTx,
    policy: &Policy,
    intent_id: &str,
    principal: &str,
) -> StoreResult<Result<(), Violation>> {
    let assigned = if policy.assigned_only {
        let found: Option<i64> =
            query_scalar("SELECT 1 FROM agent_assignments WHERE intent_id = $1 AND agent_id = $2 LIMIT 1")
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

/// Appends an event to an intent's log (the caller holds the intent's lock), writes its webhook
/// deliveries, and publishes it on the intent's event stream when the transaction commits:
/// every event of the log, and only those, goes out on the stream, in log order.
pub(super) async fn append_event(
    tx: &mut WriteTx,
    intent_id: &str,
    event_type: EventType,
    actor: &str,
    payload: JsonObject,
) -> StoreResult<IntentEvent> {
    append_traced_event(tx, intent_id, event_type, actor, payload, Trace::default()).await
}

/// The tracing fields of an event (RFC-0020), stored and returned top-level.
#[derive(Debug, Clone, Default)]
pub(crate) struct Trace {
    /// The distributed trace (32 lowercase hex digits).
    pub trace_id: Option<String>,
    /// The event that caused this one.
    pub parent_event_id: Option<String>,
}

/// [`append_event`] with the event's tracing fields.
pub(super) async fn append_traced_event(
    tx: &mut WriteTx,
    intent_id: &str,
    event_type: EventType,
    actor: &str,
    payload: JsonObject,
    trace: Trace,
) -> StoreResult<IntentEvent> {
    let mut event = IntentEvent::new(new_id(), intent_id, event_type, actor);
    event.payload = payload;
    event.trace_id = trace.trace_id;
    event.parent_event_id = trace.parent_event_id;
    // Never before the log's newest event, even when the clocks of several server processes
    // disagree, so that the log's order by time is its order of appends (the caller holds the
    // intent's lock, see `lock_intent`). One statement: the newest time is read by the insert,
    // whether a webhook subscription's scope takes the intent's events (see
    // `enqueue_deliveries`), and the id of the event before this one in the log (its
    // notification names it, so that a stream whose last event is that one sends this one
    // without reading the log).
    let sql = format!(
        "INSERT INTO events (id, intent_id, event_type, actor, payload, created_at, trace_id, parent_event_id) \
         VALUES ($1, $2, $3, $4, $5, {}($6, COALESCE((SELECT MAX(created_at) FROM events WHERE intent_id = $2), $6)), \
         $7, $8) RETURNING created_at, (SELECT p.id FROM events p WHERE p.intent_id = $2 AND p.id <> $1 \
         ORDER BY p.created_at DESC, p.seq DESC LIMIT 1) AS prev_id, \
         EXISTS (SELECT 1 FROM subscriptions WHERE {}) AS webhooks_in_scope",
        tx.dialect.greatest(),
        webhook_scope(2)
    );
    let row = query(&sql)
        .bind(&event.id)
        .bind(intent_id)
        .bind(event.event_type.as_str())
        .bind(actor)
        .bind(to_json(&event.payload))
        .bind(ts(&now()))
        .bind(&event.trace_id)
        .bind(&event.parent_event_id)
        .fetch_one(&mut **tx)
        .await?;
    event.created_at = row.try_get("created_at")?;
    let after: Option<String> = row.try_get("prev_id")?;
    if row.try_get::<bool, _>("webhooks_in_scope")? {
        enqueue_deliveries(tx, &event).await?;
    }
    // The intent's stream carries every event of its log (a state or status change with the
    // new version, not the whole intent).
    tx.publish(notify::event_logged(&event, after)).await?;
    Ok(event)
}

/// The condition on a `subscriptions` row of an active webhook subscription whose scope (intent,
/// portfolio membership of the intent, or global) takes the events of the intent bound at
/// `$intent`. The event's insert reads whether one exists, and [`enqueue_deliveries`], which
/// runs only then, reads them: so an event runs no statement for webhooks when no subscription
/// could take it. Each event is matched against the subscriptions committed before its insert
/// began (on SQLite, before its transaction began), read in that one statement, as it was by
/// the separate query before, on both databases and whichever process wrote the subscription.
fn webhook_scope(intent: usize) -> String {
    format!(
        "active = TRUE AND webhook_url IS NOT NULL AND (intent_id IS NULL OR intent_id = ${intent}) \
         AND (portfolio_id IS NULL OR portfolio_id IN \
              (SELECT portfolio_id FROM portfolio_memberships WHERE intent_id = ${intent}))"
    )
}

/// The SQL condition on a `subscriptions` row whose subscriber (`subscriber_id`) may read the
/// intent bound at `$intent` at the time bound at `$now` (the rule of `crate::rules::acl`, as
/// [`super::acl::readable_by`]): a webhook delivers an intent's events only to the subscriptions
/// it holds for.
fn subscriber_reads(intent: usize, now: usize) -> String {
    let intent_id = format!("${intent}");
    let created_by = format!("(SELECT c.created_by FROM intents c WHERE c.id = ${intent})");
    let at =
        SqlInputs { intent_id: &intent_id, created_by: &created_by, principal: "subscriptions.subscriber_id", now };
    sql_predicate(&Permission::Read, at)
}

/// Writes the webhook outbox rows of `event`, in the event's transaction: one per active,
/// unexpired subscription with a URL whose scope ([`webhook_scope`]) and event-type filter match,
/// and whose subscriber may read the event's intent under its ACL as it stands in this
/// transaction ([`subscriber_reads`], in the same statement: when no ACL restricts,
/// its first clause holds once for the whole statement).
async fn enqueue_deliveries(tx: &mut WriteTx, event: &IntentEvent) -> StoreResult<()> {
    let rows = query(&format!(
        "SELECT id, event_types, expires_at FROM subscriptions WHERE {} AND {} ORDER BY seq",
        webhook_scope(1),
        subscriber_reads(1, 2)
    ))
    .bind(&event.intent_id)
    .bind(now())
    .fetch_all(&mut **tx)
    .await?;
    let mut targets = Vec::new();
    for r in &rows {
        let expires_at = r.try_get("expires_at")?;
        let event_types: Vec<String> = r.json("event_types")?;
        if subscription_matches(&event_types, expires_at, event) {
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
        query(
            "INSERT INTO webhook_deliveries (id, subscription_id, event_id, event_type, payload, status, attempts, \
             next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $7)",
        )
        .bind(new_id())
        .bind(&subscription_id)
        .bind(&event.id)
        .bind(event.event_type.as_str())
        .bind(payload)
        .bind(due)
        .bind(ts(&event.created_at))
        .execute(&mut **tx)
        .await?;
    }
    tx.enqueued = true;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{NewIntent, Store};

    /// The in-memory database is one database for the migrations' connection, the writes and
    /// the reads, and lives as long as the store (not as long as a connection of the migrations).
    #[tokio::test]
    async fn the_in_memory_database_outlives_the_migrations_connection() {
        let store = Store::open(&DatabaseLocation::Memory).await.unwrap();
        let (intent, _) = store.create_intent(NewIntent::draft("kept")).await.unwrap();
        let read = store.get_intent(&intent.id).await.unwrap().expect("the intent survives");
        assert_eq!(read.title, "kept");
        let other = Store::open(&DatabaseLocation::Memory).await.unwrap();
        assert!(other.get_intent(&intent.id).await.unwrap().is_none(), "each store has a database of its own");
    }
}
