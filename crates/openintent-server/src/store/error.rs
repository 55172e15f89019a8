//! Why a storage operation failed, in the store's own terms; the HTTP layer chooses the status
//! and body of each (`From<StoreError> for ApiError`, in the crate's `error.rs`).

use openintent_types::FieldError;
use openintent_types::lifecycle::TransitionError;

use crate::rules::governance::Violation;
use crate::rules::leases::LeaseConflict;
use crate::rules::ownership::Refused;

/// Why a storage operation failed: the database could not be opened or queried, or the
/// protocol refused the operation (nothing was written then, except a governance refusal's
/// `governance.violation` event).
///
/// [`Store::open`](super::Store::open) returns the first four variants; the others come from
/// the operations the HTTP layer calls, which answers each with its status and body
/// (`ApiError` implements `From<StoreError>`).
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
        existing: Option<Box<openintent_types::Lease>>,
    },
    /// The lifecycle does not allow the status change.
    #[error(transparent)]
    InvalidTransition(TransitionError),
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
    /// (`Dependency not found: <id>`, text with NUL characters, a timestamp out of PostgreSQL's
    /// range).
    #[error("{0}")]
    BadRequest(String),
    /// The resource is not in a state that allows the operation (an intent that is not
    /// suspended, an approval already decided, ...); the text says why.
    #[error("{0}")]
    Conflict(String),
    /// The input cannot be processed; the text says why (a suspension whose stored record or
    /// response type cannot take an answer).
    #[error("unprocessable input: {0}")]
    Unprocessable(String),
    /// The answer to a suspension is not one of its choices.
    #[error("unprocessable input: value {choice} is not one of the {} choices", allowed.len())]
    InvalidChoice {
        /// The value given.
        choice: serde_json::Value,
        /// The choices the suspension accepts.
        allowed: Vec<openintent_types::SuspensionChoice>,
    },
    /// Stored data could not be read back (a timestamp or JSON document that does not parse),
    /// or a row that must exist is gone.
    #[error("{0}")]
    Corrupt(String),
    /// The write would make an intent's state larger than the configured limit.
    #[error("state would be {size} bytes; the limit is {limit}")]
    StateTooLarge {
        /// The size of the state after the write, in bytes of compact JSON.
        size: usize,
        /// The limit ([`crate::ServerConfig::max_state_bytes`]).
        limit: usize,
    },
    /// A stored row cannot be read back (a JSON document or timestamp in it does not parse);
    /// lists leave it out, and `openintent-server repair` lists and resets it.
    #[error(
        "the stored {kind} {id} cannot be read ({reason}); an operator can repair it with `openintent-server repair`"
    )]
    Unreadable {
        /// What the row is: `intent`, `event`, `portfolio`.
        kind: &'static str,
        /// The row's id.
        id: String,
        /// Why it cannot be read.
        reason: String,
    },
}

fn field_list(items: &[FieldError]) -> String {
    let parts: Vec<String> = items.iter().map(|e| format!("{}: {}", e.field(), e.msg)).collect();
    parts.join("; ")
}

/// Why a statement was not run: one of its JSON documents nests deeper than
/// [`MAX_JSON_DEPTH`](openintent_types::limits::MAX_JSON_DEPTH), so it could be stored but never
/// read back. Carried as `sqlx::Error::Encode`; the store answers it as a field error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} nests {depth} levels deep; the limit is {}", openintent_types::limits::MAX_JSON_DEPTH)]
pub(crate) struct TooDeep {
    /// The column the document was bound to (`state`, `metadata`, `payload`, ...), `constraints`
    /// for `constraints_doc`; `body` when the statement does not say.
    pub(crate) field: String,
    /// How deep it nests.
    pub(crate) depth: usize,
}

impl From<Refused> for StoreError {
    fn from(r: Refused) -> Self {
        match r {
            Refused::NotFound(what) => StoreError::NotFound(what),
            Refused::Forbidden(why) => StoreError::Forbidden(why),
        }
    }
}

impl From<sqlx::Error> for StoreError {
    /// Tells the database's refusals that retrying or other input can cure (a busy database,
    /// text PostgreSQL cannot hold) from other database errors.
    fn from(e: sqlx::Error) -> Self {
        // A JSON document too deep to read back (refused before it reached the database).
        if let sqlx::Error::Encode(source) = &e
            && let Some(deep) = source.downcast_ref::<TooDeep>()
        {
            return StoreError::Invalid(vec![FieldError::body(&deep.field, "json_too_deep", deep.to_string())]);
        }
        if let sqlx::Error::Database(db) = &e {
            let msg = db.message();
            if msg.contains("database is locked") || msg.contains("busy") {
                return StoreError::Busy;
            }
            // PostgreSQL text cannot hold NUL characters (SQLSTATE 22021), nor can JSONB strings
            // (`\u0000`: 22P05).
            if matches!(db.code().as_deref(), Some("22021" | "22P05")) {
                return StoreError::BadRequest("Text values may not contain NUL characters".to_owned());
            }
            // A timestamp PostgreSQL cannot hold (before 4713 BC: 22008).
            if db.code().as_deref() == Some("22008") {
                return StoreError::BadRequest("Timestamps must lie between 4713 BC and 294276 AD".to_owned());
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

impl StoreError {
    /// The refusal of a write by a governance rule.
    pub(crate) fn governance(v: Violation) -> Self {
        StoreError::Governance { rule: v.rule, message: v.message, mode: v.mode }
    }

    /// The refusal of a write a lease stands in the way of.
    pub(crate) fn lease(c: LeaseConflict) -> Self {
        StoreError::LeaseConflict { detail: c.detail, existing: c.existing }
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
