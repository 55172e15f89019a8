//! SQLite through rusqlite: statements run inline, on the thread of the task that runs them.
//!
//! sqlx's SQLite driver runs each connection on a worker thread of its own, and every statement
//! is a round trip to it (a channel send, a futex wake and a context switch each way); the
//! profile in `docs/benchmarks.md` found most of the server's time there, and SQLite's own
//! work under 1 %. Here a statement runs where it is called: SQLite statements of this
//! server take microseconds. How each concern of a database on a tokio runtime is met:
//!
//! - **One writer.** The writer connection sits behind a `tokio::sync::Mutex`: a write
//!   transaction ([`LiteTx`]) owns its guard from `BEGIN IMMEDIATE` to `COMMIT`/`ROLLBACK`, so
//!   writers of this process queue on the mutex without spinning in SQLite's busy handler. A
//!   statement run on the [`LitePool`] outside a transaction that writes (it is not read-only,
//!   as SQLite says once it is prepared) also runs on the writer, under its mutex.
//! - **Readers.** Reads outside a transaction run on read connections (WAL readers never block
//!   the writer, nor it them), taken from a free list and opened when none is free, so a read
//!   never waits for another read. An in-memory database has no readers: its one connection
//!   (the writer) serves reads too, behind the mutex, and keeps the database alive (a named,
//!   shared-cache database lives while a connection to it is open).
//! - **Long statements.** A read outside a transaction runs inline under a budget of
//!   [`INLINE_BUDGET`]: SQLite's progress handler interrupts it when the budget is spent, and it
//!   runs again inside `tokio::task::block_in_place` (the worker hands its other tasks to
//!   another thread meanwhile), so a large scan never stalls the runtime for long. The
//!   common, short statements pay neither a hand-off nor `block_in_place` (only a clock read
//!   every [`PROGRESS_OPS`] virtual machine instructions). On a current-thread runtime (unit
//!   tests), where `block_in_place` is not available, reads run inline without a budget.
//!   Statements of a write transaction run inline without a budget (they hold the write lock
//!   whichever thread runs them, and an interrupted write statement would roll its transaction
//!   back).
//! - **Busy database** (another process on the same file holds the write lock): the busy
//!   timeout inside SQLite is short ([`BUSY_TIMEOUT`]), so a worker is never blocked for
//!   long; `BEGIN IMMEDIATE` is retried with an asynchronous backoff for up to
//!   [`BEGIN_PATIENCE`] (what the busy timeout of 10 s gave before), and a statement that stays
//!   busy fails as busy (`StoreError::Busy`, answered 503 with `Retry-After`).
//! - **Checkpoints.** The writer does not checkpoint the WAL on commit unless the WAL grew past
//!   [`WRITER_AUTOCHECKPOINT`] pages (a safety net); a background task checkpoints it
//!   (`PASSIVE`, on a connection of its own, on a blocking thread) every [`CHECKPOINT_EVERY`]
//!   after writes, so commits do not pay for multi-millisecond checkpoints.
//! - **Cancellation.** No statement awaits anything: a future dropped at an await point holds
//!   either no transaction (waiting for the mutex, or between two `BEGIN IMMEDIATE` attempts)
//!   or a whole [`LiteTx`], which rolls back synchronously when dropped uncommitted.
//! - **Errors** are carried as `sqlx::Error::Database` ([`LiteError`]: SQLite's message and
//!   extended result code, the kinds sqlx gives them), so the store classifies them as it
//!   classifies sqlx's: "database is locked" is busy, `RowNotFound`, `ColumnDecode`, ... as before.
//! - **Prepared statements** are cached per connection ([`STATEMENT_CACHE`] of them).

use std::cell::Cell;
use std::error::Error as StdError;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex as SyncMutex};
use std::time::{Duration, Instant};

use rusqlite::types::{ToSqlOutput, Value as SqlValue, ValueRef};
use rusqlite::{Connection, ErrorCode, OpenFlags, ToSql, ffi};
use tokio::sync::{Mutex, OwnedMutexGuard};

use super::arg::Arg;

/// Statements each connection keeps prepared.
const STATEMENT_CACHE: usize = 256;
/// How long SQLite's busy handler waits inside a statement (blocking its thread).
const BUSY_TIMEOUT: Duration = Duration::from_millis(5);
/// How long `BEGIN IMMEDIATE` is retried, asynchronously, while another process writes.
const BEGIN_PATIENCE: Duration = Duration::from_secs(10);
/// How long a read outside a transaction may run inline on a worker of a multi-threaded runtime
/// before it is interrupted and run again in `block_in_place`.
const INLINE_BUDGET: Duration = Duration::from_millis(2);
/// Virtual machine instructions between two calls of the progress handler.
const PROGRESS_OPS: i32 = 1000;
/// Idle read connections kept open, at most.
const IDLE_READERS: usize = 8;
/// How often the background task checkpoints the WAL after writes.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);
/// WAL pages past which the writer checkpoints on commit itself (when the background task
/// falls behind): 64 MiB of 4 KiB pages.
const WRITER_AUTOCHECKPOINT: u32 = 16_384;

thread_local! {
    /// When the statement running on this thread must be interrupted (see [`INLINE_BUDGET`]).
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// SQLite's progress handler: interrupts the statement once this thread's deadline passed.
fn over_budget() -> bool {
    DEADLINE.with(|d| d.get().is_some_and(|t| Instant::now() > t))
}

/// Sets this thread's deadline for the life of the guard.
struct Budget;

impl Budget {
    fn start() -> Budget {
        DEADLINE.with(|d| d.set(Some(Instant::now() + INLINE_BUDGET)));
        Budget
    }
}

impl Drop for Budget {
    fn drop(&mut self) {
        DEADLINE.with(|d| d.set(None));
    }
}

/// Whether this thread runs a worker of a multi-threaded tokio runtime.
fn on_multi_thread_runtime() -> bool {
    tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
}

/// An SQLite database: the writer connection and the read connections.
#[derive(Clone)]
pub(crate) struct LitePool {
    inner: Arc<Inner>,
}

struct Inner {
    writer: Arc<Mutex<Connection>>,
    /// The file read connections open; `None` in memory (reads use the writer).
    file: Option<PathBuf>,
    /// Idle read connections.
    readers: SyncMutex<Vec<Connection>>,
    /// Set by writes; the checkpoint task checkpoints when it finds it set.
    dirty: Arc<AtomicBool>,
    /// The background checkpoint task (aborted with the pool).
    checkpoints: SyncMutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(task) = self.checkpoints.get_mut().ok().and_then(Option::take) {
            task.abort();
        }
    }
}

impl std::fmt::Debug for LitePool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LitePool").field("file", &self.inner.file).finish_non_exhaustive()
    }
}

/// Sets what every connection of the server needs.
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "foreign_keys", true)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.progress_handler(PROGRESS_OPS, Some(over_budget));
    Ok(())
}

fn open_file_connection(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    configure(&conn)?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(conn)
}

impl LitePool {
    /// Opens an existing SQLite file in WAL mode (the migrations created it and set the mode),
    /// and starts the background checkpoints (on the current tokio runtime).
    pub(crate) fn open_file(path: &Path) -> Result<LitePool, sqlx::Error> {
        let writer = open_file_connection(path).map_err(wrap)?;
        writer.pragma_update(None, "wal_autocheckpoint", WRITER_AUTOCHECKPOINT).map_err(wrap)?;
        let checkpointer = open_file_connection(path).map_err(wrap)?;
        let dirty = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn(checkpoints(Arc::new(SyncMutex::new(checkpointer)), dirty.clone()));
        Ok(LitePool {
            inner: Arc::new(Inner {
                writer: Arc::new(Mutex::new(writer)),
                file: Some(path.to_owned()),
                readers: SyncMutex::new(Vec::new()),
                dirty,
                checkpoints: SyncMutex::new(Some(task)),
            }),
        })
    }

    /// Opens (creating it) the in-memory database of `uri` (`file:NAME?mode=memory&cache=shared`:
    /// a named, shared-cache one, which other connections to the URI open too); it lives as
    /// long as the pool.
    pub(crate) fn open_memory(uri: &str) -> Result<LitePool, sqlx::Error> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let writer = Connection::open_with_flags(uri, flags).map_err(wrap)?;
        configure(&writer).map_err(wrap)?;
        Ok(LitePool {
            inner: Arc::new(Inner {
                writer: Arc::new(Mutex::new(writer)),
                file: None,
                readers: SyncMutex::new(Vec::new()),
                dirty: Arc::new(AtomicBool::new(false)),
                checkpoints: SyncMutex::new(None),
            }),
        })
    }

    /// Stops the background checkpoints and closes the idle read connections; waits for the
    /// running write transaction.
    pub(crate) async fn close(&self) {
        if let Some(task) = self.inner.checkpoints.lock().ok().and_then(|mut t| t.take()) {
            task.abort();
        }
        if let Ok(mut readers) = self.inner.readers.lock() {
            readers.clear();
        }
        drop(self.inner.writer.lock().await);
    }

    /// The open connections (the writer and the idle readers), and the idle ones among them.
    pub(crate) fn usage(&self) -> (u32, usize) {
        let idle_readers = self.inner.readers.lock().map_or(0, |r| r.len());
        let writer_idle = usize::from(self.inner.writer.try_lock().is_ok());
        (u32::try_from(1 + idle_readers).unwrap_or(u32::MAX), idle_readers + writer_idle)
    }

    /// Begins a write transaction: waits for the writer, then `BEGIN IMMEDIATE`, retried with a
    /// backoff while another process holds the write lock.
    pub(crate) async fn begin(&self) -> Result<LiteTx, sqlx::Error> {
        let conn = self.inner.writer.clone().lock_owned().await;
        if !conn.is_autocommit() {
            // Not reachable (a `LiteTx` ends its transaction when dropped); never begin inside one.
            conn.execute_batch("ROLLBACK").map_err(wrap)?;
        }
        let started = Instant::now();
        let mut pause = Duration::from_millis(1);
        loop {
            match run(&conn, "BEGIN IMMEDIATE", &[], Collect::None, false) {
                Ok(_) => return Ok(LiteTx { conn, open: true, dirty: self.inner.dirty.clone() }),
                Err(e) if is_busy(&e) && started.elapsed() < BEGIN_PATIENCE => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(50));
                }
                Err(e) => return Err(wrap(e)),
            }
        }
    }

    /// Runs a statement outside a transaction: a read on a read connection (see the module
    /// documentation for its budget), a write on the writer.
    pub(crate) async fn run(&self, sql: &str, args: &[Arg<'_>], collect: Collect) -> Result<Ran, sqlx::Error> {
        if let Some(ran) = self.read(sql, args, collect)? {
            return Ok(ran);
        }
        let conn = self.inner.writer.lock().await;
        let ran = run(&conn, sql, args, collect, false).map_err(wrap)?.unwrap_or_default();
        if ran.changes > 0 {
            self.inner.dirty.store(true, Ordering::Relaxed);
        }
        Ok(ran)
    }

    /// Runs `sql` on a read connection if it is read-only; `None` when it is not (or the
    /// database is in memory).
    fn read(&self, sql: &str, args: &[Arg<'_>], collect: Collect) -> Result<Option<Ran>, sqlx::Error> {
        let Some(file) = &self.inner.file else { return Ok(None) };
        let popped = self.inner.readers.lock().ok().and_then(|mut r| r.pop());
        let conn = match popped {
            Some(c) => c,
            None => open_file_connection(file).map_err(wrap)?,
        };
        let result = if on_multi_thread_runtime() {
            let inline = {
                let _budget = Budget::start();
                run(&conn, sql, args, collect, true)
            };
            match inline {
                Err(e) if is_interrupt(&e) => tokio::task::block_in_place(|| run(&conn, sql, args, collect, true)),
                other => other,
            }
        } else {
            run(&conn, sql, args, collect, true)
        };
        if let Ok(mut readers) = self.inner.readers.lock()
            && readers.len() < IDLE_READERS
        {
            readers.push(conn);
        }
        result.map_err(wrap)
    }
}

/// Checkpoints the WAL (`PASSIVE`: never waits for readers or the writer) after writes.
async fn checkpoints(conn: Arc<SyncMutex<Connection>>, dirty: Arc<AtomicBool>) {
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if !dirty.swap(false, Ordering::Relaxed) {
            continue;
        }
        let conn = conn.clone();
        let done = tokio::task::spawn_blocking(move || {
            let conn = conn.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
        })
        .await;
        if let Ok(Err(e)) = done {
            tracing::debug!(error = %e, "WAL checkpoint failed; the next one retries");
        }
    }
}

/// An open write transaction on the writer connection; rolled back when dropped uncommitted.
pub(crate) struct LiteTx {
    conn: OwnedMutexGuard<Connection>,
    open: bool,
    dirty: Arc<AtomicBool>,
}

impl std::fmt::Debug for LiteTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiteTx").field("open", &self.open).finish_non_exhaustive()
    }
}

impl LiteTx {
    /// Runs a statement of the transaction, inline.
    pub(crate) fn run(&mut self, sql: &str, args: &[Arg<'_>], collect: Collect) -> Result<Ran, sqlx::Error> {
        Ok(run(&self.conn, sql, args, collect, false).map_err(wrap)?.unwrap_or_default())
    }

    /// Commits; a failed commit is rolled back when the transaction is dropped.
    pub(crate) fn commit(mut self) -> Result<(), sqlx::Error> {
        run(&self.conn, "COMMIT", &[], Collect::None, false).map_err(wrap)?;
        self.open = false;
        self.dirty.store(true, Ordering::Relaxed);
        Ok(())
    }
}

impl Drop for LiteTx {
    fn drop(&mut self) {
        if self.open
            && !self.conn.is_autocommit()
            && let Err(e) = self.conn.execute_batch("ROLLBACK")
        {
            tracing::error!(error = %e, "could not roll back a dropped SQLite transaction");
        }
    }
}

/// Which rows a statement's caller wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Collect {
    /// None (the statement runs to its end).
    None,
    /// The first.
    First,
    /// Every row.
    All,
}

/// What a statement returned: its rows (as collected) and the rows it changed.
#[derive(Debug, Default)]
pub(crate) struct Ran {
    pub(crate) rows: Vec<LiteRow>,
    pub(crate) changes: u64,
}

/// Binds an [`Arg`] as SQLite stores it (see the driver's module documentation).
struct Bound<'a, 'q>(&'a Arg<'q>);

impl ToSql for Bound<'_, '_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self.0 {
            Arg::Text(Some(s)) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Arg::Int(Some(n)) => ToSqlOutput::Owned(SqlValue::Integer(*n)),
            Arg::Float(Some(x)) => ToSqlOutput::Owned(SqlValue::Real(*x)),
            Arg::Bool(Some(b)) => ToSqlOutput::Owned(SqlValue::Integer(i64::from(*b))),
            Arg::Bytes(Some(b)) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
            Arg::Timestamp(Some(t)) => ToSqlOutput::Owned(SqlValue::Text(openintent_types::time::format_wire(t))),
            Arg::Json(Some(s)) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Arg::Text(None)
            | Arg::Int(None)
            | Arg::Float(None)
            | Arg::Bool(None)
            | Arg::Bytes(None)
            | Arg::Timestamp(None)
            | Arg::Json(None) => ToSqlOutput::Owned(SqlValue::Null),
        })
    }
}

/// Prepares (cached) and runs `sql` with `args` (`$n` placeholders bind the `n`-th argument,
/// `?` ones the next); `None` when `read_only` and the statement writes.
fn run(
    conn: &Connection,
    sql: &str,
    args: &[Arg<'_>],
    collect: Collect,
    read_only: bool,
) -> rusqlite::Result<Option<Ran>> {
    let mut stmt = conn.prepare_cached(sql)?;
    // Each statement run, at TRACE under `openintent_server::statement`, as sqlx reports its
    // own under `sqlx::query` (tests/statements.rs counts them).
    tracing::trace!(target: "openintent_server::statement", statement = sql);
    let writes = !stmt.readonly();
    if read_only && writes {
        return Ok(None);
    }
    for i in 1..=stmt.parameter_count() {
        let at = stmt
            .parameter_name(i)
            .and_then(|name| name.get(1..)?.parse::<usize>().ok())
            .filter(|n| *n >= 1)
            .map_or(i - 1, |n| n - 1);
        let arg = args.get(at).ok_or(rusqlite::Error::InvalidParameterCount(at + 1, args.len()))?;
        stmt.raw_bind_parameter(i, Bound(arg))?;
    }
    let names: Option<Arc<[String]>> =
        (collect != Collect::None).then(|| stmt.column_names().into_iter().map(str::to_owned).collect());
    let width = stmt.column_count();
    let mut out = Vec::new();
    let mut rows = stmt.raw_query();
    while let Some(row) = rows.next()? {
        let Some(names) = &names else { continue };
        let values = (0..width).map(|i| row.get_ref(i).map(SqlValue::from)).collect::<rusqlite::Result<_>>()?;
        out.push(LiteRow { names: names.clone(), values });
        if collect == Collect::First {
            break;
        }
    }
    drop(rows);
    let changes = if writes { conn.changes() } else { 0 };
    Ok(Some(Ran { rows: out, changes }))
}

fn code(e: &rusqlite::Error) -> Option<ErrorCode> {
    match e {
        rusqlite::Error::SqliteFailure(f, _) => Some(f.code),
        _ => None,
    }
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(code(e), Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked))
}

fn is_interrupt(e: &rusqlite::Error) -> bool {
    code(e) == Some(ErrorCode::OperationInterrupted)
}

/// A row read from SQLite: its column names and values.
#[derive(Debug, Clone)]
pub(crate) struct LiteRow {
    names: Arc<[String]>,
    values: Vec<SqlValue>,
}

impl LiteRow {
    /// The value of column `index` (a name or a position).
    pub(crate) fn value<I: LiteIndex>(&self, index: &I) -> Result<&SqlValue, sqlx::Error> {
        let at = index.position(&self.names)?;
        self.values.get(at).ok_or(sqlx::Error::ColumnIndexOutOfBounds { index: at, len: self.values.len() })
    }
}

/// A column of a [`LiteRow`]: its name or its position (from 0).
pub(crate) trait LiteIndex: std::fmt::Debug {
    /// The position of the column in `names`.
    fn position(&self, names: &[String]) -> Result<usize, sqlx::Error>;
}

impl LiteIndex for usize {
    fn position(&self, names: &[String]) -> Result<usize, sqlx::Error> {
        if *self < names.len() {
            Ok(*self)
        } else {
            Err(sqlx::Error::ColumnIndexOutOfBounds { index: *self, len: names.len() })
        }
    }
}

impl LiteIndex for &str {
    fn position(&self, names: &[String]) -> Result<usize, sqlx::Error> {
        names.iter().position(|n| n == self).ok_or_else(|| sqlx::Error::ColumnNotFound((*self).to_owned()))
    }
}

/// An error of SQLite (or of rusqlite), carried as `sqlx::Error::Database` like sqlx's own.
#[derive(Debug)]
pub(crate) struct LiteError {
    message: String,
    /// SQLite's extended result code; `None` for rusqlite's own errors.
    code: Option<i32>,
    source: rusqlite::Error,
}

impl std::fmt::Display for LiteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl StdError for LiteError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&self.source)
    }
}

impl sqlx::error::DatabaseError for LiteError {
    fn message(&self) -> &str {
        &self.message
    }

    fn code(&self) -> Option<std::borrow::Cow<'_, str>> {
        self.code.map(|c| c.to_string().into())
    }

    fn as_error(&self) -> &(dyn StdError + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn StdError + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn StdError + Send + Sync + 'static> {
        self
    }

    fn kind(&self) -> sqlx::error::ErrorKind {
        use sqlx::error::ErrorKind;
        match self.code {
            Some(ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY) => ErrorKind::UniqueViolation,
            Some(ffi::SQLITE_CONSTRAINT_FOREIGNKEY) => ErrorKind::ForeignKeyViolation,
            Some(ffi::SQLITE_CONSTRAINT_NOTNULL) => ErrorKind::NotNullViolation,
            Some(ffi::SQLITE_CONSTRAINT_CHECK) => ErrorKind::CheckViolation,
            _ => ErrorKind::Other,
        }
    }
}

/// Carries a rusqlite error as `sqlx::Error::Database`, with SQLite's message ("database is
/// locked", "UNIQUE constraint failed: ...") and extended result code.
pub(crate) fn wrap(e: rusqlite::Error) -> sqlx::Error {
    let (message, code) = match &e {
        rusqlite::Error::SqliteFailure(f, msg) => (msg.clone().unwrap_or_else(|| f.to_string()), Some(f.extended_code)),
        other => (other.to_string(), None),
    };
    sqlx::Error::Database(Box::new(LiteError { message, code, source: e }))
}
