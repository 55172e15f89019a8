//! Server configuration: database, API keys, limits, webhook delivery.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub use crate::keys::{ApiKey, Role, key_principal};

/// The development keys used when no key is configured: `dev-user-key` has the
/// [`Role::Admin`] role (the developer), `agent-research-key` and `agent-synth-key` the
/// [`Role::Agent`] role. None is bound to an agent.
pub const DEV_API_KEYS: &[&str] = &["dev-user-key", "agent-research-key", "agent-synth-key"];

/// The default request-body limit (1 MiB).
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// The default limit of one intent's state, serialized as compact JSON (1 MiB).
pub const DEFAULT_MAX_STATE_BYTES: usize = 1024 * 1024;

/// The forms of a database URL, as error messages list them.
pub(crate) const DATABASE_URL_FORMS: &str = "sqlite:///relative.db (relative to the working directory), \
     sqlite:////abs/path.db, sqlite::memory:, or postgres://user:password@host:5432/db";

/// Where the data lives.
///
/// The `Debug` form of a PostgreSQL URL hides its password.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DatabaseLocation {
    /// A private in-memory SQLite database (gone when the server stops).
    Memory,
    /// A SQLite file (created when missing).
    SqliteFile(PathBuf),
    /// A PostgreSQL database, as a `postgres://` or `postgresql://` URL (query parameters such as
    /// `sslmode` are passed to the driver). Several server processes may share one.
    ///
    /// Needs the crate's `postgres` feature (on by default): without it, building a
    /// [`ServerConfig`] or opening a store on this location is refused with an error naming the
    /// feature.
    Postgres(String),
}

impl fmt::Debug for DatabaseLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseLocation::Memory => f.write_str("Memory"),
            DatabaseLocation::SqliteFile(p) => f.debug_tuple("SqliteFile").field(p).finish(),
            DatabaseLocation::Postgres(url) => f.debug_tuple("Postgres").field(&redact_password(url)).finish(),
        }
    }
}

/// `url` with the password of its `user:password@` part replaced by `<redacted>`.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:<redacted>@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

impl DatabaseLocation {
    /// Parses a database URL: `postgres://...` or `postgresql://...` (kept whole), or for
    /// SQLite `sqlite::memory:`, `sqlite:///relative.db`, `sqlite:////abs/path.db` (SQLAlchemy
    /// style), `sqlite://path`, `sqlite:path`, or a bare file path (a `?query` suffix of a SQLite
    /// URL is ignored).
    ///
    /// ```
    /// use openintent_server::DatabaseLocation;
    /// use std::path::PathBuf;
    /// assert_eq!(DatabaseLocation::parse("sqlite::memory:").unwrap(), DatabaseLocation::Memory);
    /// assert_eq!(DatabaseLocation::parse("sqlite:///data/x.db").unwrap(),
    ///            DatabaseLocation::SqliteFile(PathBuf::from("data/x.db")));
    /// assert_eq!(DatabaseLocation::parse("sqlite:////tmp/x.db").unwrap(),
    ///            DatabaseLocation::SqliteFile(PathBuf::from("/tmp/x.db")));
    /// assert_eq!(DatabaseLocation::parse("postgres://oi:pw@db:5432/oi").unwrap(),
    ///            DatabaseLocation::Postgres("postgres://oi:pw@db:5432/oi".into()));
    /// assert!(DatabaseLocation::parse("mysql://db/x").is_err());
    /// ```
    pub fn parse(url: &str) -> Result<Self, ConfigError> {
        let url = url.trim();
        let lower = url.to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            if url.split_once("://").is_some_and(|(_, rest)| rest.is_empty()) {
                return Err(ConfigError::new("database-url", "no server in the PostgreSQL URL"));
            }
            return Ok(DatabaseLocation::Postgres(url.to_owned()));
        }
        let url = url.split_once('?').map_or(url, |(u, _)| u);
        if url.is_empty() {
            return Err(ConfigError::new("database-url", "cannot be empty"));
        }
        let rest = if let Some(r) = url.strip_prefix("sqlite3:") {
            r
        } else if let Some(r) = url.strip_prefix("sqlite:") {
            r
        } else if url.contains("://") {
            return Err(ConfigError::new(
                "database-url",
                format!("unsupported database {:?}: use {DATABASE_URL_FORMS}", redact_password(url)),
            ));
        } else {
            return Ok(DatabaseLocation::SqliteFile(PathBuf::from(url)));
        };
        if rest == ":memory:" || rest == "//:memory:" || rest == "///:memory:" {
            return Ok(DatabaseLocation::Memory);
        }
        // sqlite:////abs -> /abs ; sqlite:///rel -> rel ; sqlite://path -> path ; sqlite:path -> path
        let path = if let Some(abs) = rest.strip_prefix("////") {
            format!("/{abs}")
        } else if let Some(r) = rest.strip_prefix("///") {
            r.to_owned()
        } else if let Some(r) = rest.strip_prefix("//") {
            r.to_owned()
        } else {
            rest.to_owned()
        };
        if path.is_empty() {
            return Err(ConfigError::new("database-url", format!("no file name in {url:?}")));
        }
        Ok(DatabaseLocation::SqliteFile(PathBuf::from(path)))
    }
}

impl DatabaseLocation {
    /// Whether this build of the server can open the location: PostgreSQL needs the `postgres`
    /// feature.
    pub(crate) fn check_supported(&self) -> Result<(), ConfigError> {
        self.check_supported_by(cfg!(feature = "postgres"))
    }

    fn check_supported_by(&self, postgres_compiled: bool) -> Result<(), ConfigError> {
        match self {
            DatabaseLocation::Postgres(_) if !postgres_compiled => Err(ConfigError::new(
                "database-url",
                "this openintent-server was built without PostgreSQL support: enable its `postgres` feature \
                 (on by default), or use a sqlite URL",
            )),
            _ => Ok(()),
        }
    }
}

/// A configuration value that could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {setting}: {message}")]
#[non_exhaustive]
pub struct ConfigError {
    /// The setting (`database-url`, `api-keys`, ...).
    pub setting: String,
    /// What is wrong.
    pub message: String,
}

impl ConfigError {
    /// An error about `setting`.
    pub fn new(setting: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError { setting: setting.into(), message: message.into() }
    }
}

/// How to run a server. Build with [`ServerConfig::builder`].
///
/// ```
/// use openintent_server::ServerConfig;
/// let config = ServerConfig::builder()
///     .database_url("sqlite::memory:")
///     .api_keys_from_list("k1,k2=agent-b")
///     .body_limit(64 * 1024)
///     .build()
///     .unwrap();
/// assert_eq!(config.api_keys().len(), 2);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerConfig {
    database: DatabaseLocation,
    api_keys: Vec<ApiKey>,
    body_limit: usize,
    max_state_bytes: usize,
    bind: SocketAddr,
    webhooks: WebhookConfig,
    connections: ConnectionLimits,
    liveness_interval: Option<Duration>,
    metrics_addr: Option<SocketAddr>,
}

impl ServerConfig {
    /// A builder with the defaults: file `openintent.db`, the development keys, 1 MiB bodies,
    /// `127.0.0.1:8000`.
    pub fn builder() -> ServerConfigBuilder {
        ServerConfigBuilder::default()
    }

    /// An in-memory server with the development keys, listening on `127.0.0.1:0`; handy in tests.
    pub fn in_memory() -> Self {
        ServerConfig {
            database: DatabaseLocation::Memory,
            api_keys: dev_keys(),
            body_limit: DEFAULT_BODY_LIMIT,
            max_state_bytes: DEFAULT_MAX_STATE_BYTES,
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            webhooks: WebhookConfig::default(),
            connections: ConnectionLimits::default(),
            liveness_interval: Some(DEFAULT_LIVENESS_INTERVAL),
            metrics_addr: None,
        }
    }

    /// Where the data lives.
    pub fn database(&self) -> &DatabaseLocation {
        &self.database
    }

    /// The accepted keys.
    pub fn api_keys(&self) -> &[ApiKey] {
        &self.api_keys
    }

    /// The largest accepted request body, in bytes.
    pub fn body_limit(&self) -> usize {
        self.body_limit
    }

    /// The largest state an intent may hold, in bytes of compact JSON; a write that would
    /// make it larger is refused with 413 naming `state`.
    pub fn max_state_bytes(&self) -> usize {
        self.max_state_bytes
    }

    /// The address to listen on.
    pub fn bind_addr(&self) -> SocketAddr {
        self.bind
    }

    /// The address of the metrics listener (`GET /metrics`); `None`: no metrics listener.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// How webhooks are delivered.
    pub fn webhooks(&self) -> &WebhookConfig {
        &self.webhooks
    }

    /// How many connections are served at once and how long one may idle.
    pub fn connections(&self) -> &ConnectionLimits {
        &self.connections
    }

    /// Replaces the webhook settings (checked when the server starts).
    #[must_use]
    pub fn with_webhooks(mut self, webhooks: WebhookConfig) -> Self {
        self.webhooks = webhooks;
        self
    }

    /// How often the liveness sweeper looks for agents whose heartbeats stopped (`None`: it
    /// does not run). See [`crate::liveness`].
    pub fn liveness_interval(&self) -> Option<Duration> {
        self.liveness_interval
    }

    /// Replaces the liveness sweeper's interval (`None` turns it off; zero counts as off).
    #[must_use]
    pub fn with_liveness_interval(mut self, interval: Option<Duration>) -> Self {
        self.liveness_interval = interval.filter(|d| !d.is_zero());
        self
    }
}

fn dev_keys() -> Vec<ApiKey> {
    DEV_API_KEYS
        .iter()
        .map(|k| ApiKey::new(*k).with_role(if *k == "dev-user-key" { Role::Admin } else { Role::Agent }))
        .collect()
}

/// Builder of [`ServerConfig`].
#[derive(Debug, Clone)]
pub struct ServerConfigBuilder {
    database: Result<DatabaseLocation, ConfigError>,
    api_keys: Option<Vec<ApiKey>>,
    body_limit: usize,
    max_state_bytes: usize,
    bind: SocketAddr,
    webhooks: WebhookConfig,
    connections: ConnectionLimits,
    liveness_interval: Option<Duration>,
    metrics_addr: Option<SocketAddr>,
}

impl Default for ServerConfigBuilder {
    fn default() -> Self {
        ServerConfigBuilder {
            database: Ok(DatabaseLocation::SqliteFile(PathBuf::from("openintent.db"))),
            api_keys: None,
            body_limit: DEFAULT_BODY_LIMIT,
            max_state_bytes: DEFAULT_MAX_STATE_BYTES,
            bind: SocketAddr::from(([127, 0, 0, 1], 8000)),
            webhooks: WebhookConfig::default(),
            connections: ConnectionLimits::default(),
            liveness_interval: Some(DEFAULT_LIVENESS_INTERVAL),
            metrics_addr: None,
        }
    }
}

impl ServerConfigBuilder {
    /// The database as a URL (see [`DatabaseLocation::parse`]).
    #[must_use]
    pub fn database_url(mut self, url: &str) -> Self {
        self.database = DatabaseLocation::parse(url);
        self
    }

    /// The database location.
    #[must_use]
    pub fn database(mut self, location: DatabaseLocation) -> Self {
        self.database = Ok(location);
        self
    }

    /// The accepted keys (replacing the development keys).
    #[must_use]
    pub fn api_keys(mut self, keys: impl IntoIterator<Item = ApiKey>) -> Self {
        self.api_keys = Some(keys.into_iter().collect());
        self
    }

    /// One more accepted key.
    #[must_use]
    pub fn api_key(mut self, key: ApiKey) -> Self {
        self.api_keys.get_or_insert_with(Vec::new).push(key);
        self
    }

    /// The accepted keys as a comma-separated `key` / `key=agent` list.
    #[must_use]
    pub fn api_keys_from_list(self, list: &str) -> Self {
        self.api_keys(ApiKey::parse_list(list))
    }

    /// The largest accepted request body in bytes (default 1 MiB).
    #[must_use]
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// The largest state an intent may hold, in bytes of compact JSON (default
    /// [`DEFAULT_MAX_STATE_BYTES`]).
    #[must_use]
    pub fn max_state_bytes(mut self, bytes: usize) -> Self {
        self.max_state_bytes = bytes;
        self
    }

    /// The address to listen on (`127.0.0.1:0` picks a free port).
    #[must_use]
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.bind = addr;
        self
    }

    /// Serves `GET /metrics` (Prometheus text format) on a listener of its own at `addr`
    /// (default: none). Metrics are for operators: keep the address off the public network
    /// (a loopback or private address; `127.0.0.1:0` picks a free port).
    #[must_use]
    pub fn metrics_addr(mut self, addr: Option<SocketAddr>) -> Self {
        self.metrics_addr = addr;
        self
    }

    /// How webhooks are delivered (default: [`WebhookConfig::default`]).
    #[must_use]
    pub fn webhooks(mut self, webhooks: WebhookConfig) -> Self {
        self.webhooks = webhooks;
        self
    }

    /// Sets the connection limits (default [`ConnectionLimits::default`]).
    pub fn connections(mut self, limits: ConnectionLimits) -> Self {
        self.connections = limits;
        self
    }

    /// Whether no key was configured (the development keys will be used).
    pub fn uses_dev_keys(&self) -> bool {
        self.api_keys.is_none()
    }

    /// Checks and builds the configuration.
    pub fn build(self) -> Result<ServerConfig, ConfigError> {
        let database = self.database?;
        database.check_supported()?;
        let api_keys = match self.api_keys {
            Some(keys) if keys.is_empty() => {
                return Err(ConfigError::new("api-keys", "at least one key is required"));
            }
            Some(keys) => keys,
            None => dev_keys(),
        };
        if self.body_limit == 0 {
            return Err(ConfigError::new("body-limit", "must be positive"));
        }
        if self.max_state_bytes < 2 {
            return Err(ConfigError::new("max-state-bytes", "must be at least 2 (the empty state, {})"));
        }
        self.webhooks.check()?;
        self.connections.check()?;
        Ok(ServerConfig {
            database,
            api_keys,
            body_limit: self.body_limit,
            max_state_bytes: self.max_state_bytes,
            bind: self.bind,
            webhooks: self.webhooks,
            connections: self.connections,
            liveness_interval: self.liveness_interval,
            metrics_addr: self.metrics_addr,
        })
    }

    /// How often the liveness sweeper marks silent agents (default
    /// [`DEFAULT_LIVENESS_INTERVAL`]; `None` or zero:
    /// it does not run).
    #[must_use]
    pub fn liveness_interval(mut self, interval: Option<Duration>) -> Self {
        self.liveness_interval = interval.filter(|d| !d.is_zero());
        self
    }
}

/// How webhooks are delivered (by the workers of [`crate::webhook`]). Part of [`ServerConfig`].
///
/// ```
/// use std::time::Duration;
/// use openintent_server::{ServerConfig, WebhookConfig};
/// let config = ServerConfig::builder()
///     .webhooks(WebhookConfig::default().max_attempts(5).base_backoff(Duration::from_millis(500)))
///     .build()
///     .unwrap();
/// assert_eq!(config.webhooks().max_attempts, 5);
/// assert!(ServerConfig::builder().webhooks(WebhookConfig::disabled()).build().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WebhookConfig {
    /// Whether this instance runs delivery workers (deliveries are recorded either way, so
    /// another instance, or this one after a restart, can send them).
    pub enabled: bool,
    /// How many workers run (each claims and sends its own batches).
    pub workers: usize,
    /// How often an idle worker looks for due deliveries.
    pub poll_interval: Duration,
    /// How many deliveries a worker claims at once (and sends concurrently).
    pub batch_size: usize,
    /// Attempts before a delivery is marked failed (at least 1).
    pub max_attempts: u32,
    /// The delay before the first retry; doubled on every further retry.
    pub base_backoff: Duration,
    /// The longest delay between two attempts.
    pub max_backoff: Duration,
    /// How long a receiver may take to answer.
    pub request_timeout: Duration,
    /// How long a claim lasts without renewal (at least 300 ms). A worker renews the claims of
    /// its attempts in flight every third of this, so a slow receiver never loses its claim;
    /// the deliveries held by an instance that died are taken over at most this long after its
    /// last renewal (plus one `poll_interval`).
    pub claim_ttl: Duration,
    /// How long finished deliveries (delivered, failed, cancelled) are kept before they are
    /// deleted; `None` keeps them forever. Pending deliveries are never deleted.
    pub retention: Option<Duration>,
    /// Refuse to deliver to non-public addresses ([`is_non_public_address`](crate::webhook::is_non_public_address)): loopback,
    /// private, link-local (cloud metadata), unspecified, multicast and broadcast. The host
    /// name is resolved at send time, every address it resolves to is checked, and the
    /// request connects only to the checked addresses (so a DNS answer that changes between
    /// the check and the connection cannot redirect it). A refused delivery is marked failed
    /// at once, without retries; a subscription whose `webhook_url` host is such a literal IP
    /// is refused with 422. On by default; turn it off (`--webhook-allow-private`,
    /// `OPENINTENT_WEBHOOK_ALLOW_PRIVATE`) only for development receivers on `127.0.0.1`.
    pub deny_private: bool,
}

impl Default for WebhookConfig {
    /// Enabled: 1 worker polling every second, batches of 16, 10 attempts, backoff from 2 s to
    /// 10 min, 10 s receiver timeout, 5 s claims (renewed while attempts run), finished deliveries kept 7 days, non-public
    /// destinations refused.
    fn default() -> Self {
        WebhookConfig {
            enabled: true,
            workers: 1,
            poll_interval: Duration::from_secs(1),
            batch_size: 16,
            max_attempts: 10,
            base_backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(600),
            request_timeout: Duration::from_secs(10),
            claim_ttl: Duration::from_secs(5),
            retention: Some(Duration::from_secs(7 * 24 * 3600)),
            deny_private: true,
        }
    }
}

impl WebhookConfig {
    /// The defaults with the workers off (deliveries are still recorded).
    pub fn disabled() -> Self {
        WebhookConfig { enabled: false, ..WebhookConfig::default() }
    }

    /// Turns the workers on or off.
    #[must_use]
    pub fn enabled(mut self, on: bool) -> Self {
        self.enabled = on;
        self
    }

    /// Sets [`WebhookConfig::workers`].
    #[must_use]
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = n;
        self
    }

    /// Sets [`WebhookConfig::poll_interval`].
    #[must_use]
    pub fn poll_interval(mut self, d: Duration) -> Self {
        self.poll_interval = d;
        self
    }

    /// Sets [`WebhookConfig::batch_size`].
    #[must_use]
    pub fn batch_size(mut self, n: usize) -> Self {
        self.batch_size = n;
        self
    }

    /// Sets [`WebhookConfig::max_attempts`].
    #[must_use]
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n;
        self
    }

    /// Sets [`WebhookConfig::base_backoff`].
    #[must_use]
    pub fn base_backoff(mut self, d: Duration) -> Self {
        self.base_backoff = d;
        self
    }

    /// Sets [`WebhookConfig::max_backoff`].
    #[must_use]
    pub fn max_backoff(mut self, d: Duration) -> Self {
        self.max_backoff = d;
        self
    }

    /// Sets [`WebhookConfig::request_timeout`].
    #[must_use]
    pub fn request_timeout(mut self, d: Duration) -> Self {
        self.request_timeout = d;
        self
    }

    /// Sets [`WebhookConfig::claim_ttl`].
    #[must_use]
    pub fn claim_ttl(mut self, d: Duration) -> Self {
        self.claim_ttl = d;
        self
    }

    /// Sets [`WebhookConfig::retention`].
    #[must_use]
    pub fn retention(mut self, keep: Option<Duration>) -> Self {
        self.retention = keep;
        self
    }

    /// Sets [`WebhookConfig::deny_private`].
    #[must_use]
    pub fn deny_private(mut self, on: bool) -> Self {
        self.deny_private = on;
        self
    }

    /// Checks the values, naming the first bad one.
    pub fn check(&self) -> Result<(), ConfigError> {
        let bad = |field: &str, msg: &str| Err(ConfigError::new(format!("webhooks.{field}"), msg));
        if self.workers == 0 {
            return bad("workers", "must be at least 1");
        }
        if self.batch_size == 0 {
            return bad("batch_size", "must be at least 1");
        }
        if self.max_attempts == 0 {
            return bad("max_attempts", "must be at least 1");
        }
        if self.poll_interval.is_zero() {
            return bad("poll_interval", "must be positive");
        }
        if self.request_timeout.is_zero() {
            return bad("request_timeout", "must be positive");
        }
        if self.max_backoff < self.base_backoff {
            return bad("max_backoff", "cannot be shorter than base_backoff");
        }
        if self.claim_ttl < MIN_CLAIM_TTL {
            return bad("claim_ttl", "must be at least 300 ms");
        }
        Ok(())
    }
}

/// The shortest [`WebhookConfig::claim_ttl`]: renewals (every third of it) must have time to commit.
const MIN_CLAIM_TTL: Duration = Duration::from_millis(300);

/// How often the agent liveness sweeper runs unless configured otherwise
/// ([`ServerConfigBuilder::liveness_interval`]).
pub const DEFAULT_LIVENESS_INTERVAL: Duration = Duration::from_secs(5);

/// The default [`ConnectionLimits::idle_timeout`]: 30 seconds.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// The most connections served at once unless configured, whatever the open-file limit allows.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;

/// Limits on the connections a server holds. Part of [`ServerConfig`].
///
/// ```
/// use std::time::Duration;
/// use openintent_server::{ConnectionLimits, ServerConfig};
/// let config = ServerConfig::builder()
///     .connections(ConnectionLimits::default().max_connections(500).idle_timeout(Duration::from_secs(10)))
///     .build()
///     .unwrap();
/// assert_eq!(config.connections().max_connections, Some(500));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionLimits {
    /// The most connections served at once. `None` (the default): the smaller of
    /// [`DEFAULT_MAX_CONNECTIONS`] and the process's open-file limit less a reserve for the
    /// database, webhooks and logs (a tenth of the limit, at least 64).
    pub max_connections: Option<usize>,
    /// How long a connection may take to send a request's headers, counted from when it opened
    /// or from its previous response. Default [`DEFAULT_IDLE_TIMEOUT`].
    pub idle_timeout: Duration,
    /// When every place is taken: how long a connection must have been idle to be closed to
    /// make room. Default 2 seconds (capped at the idle timeout).
    pub shed_after: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            max_connections: None,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            shed_after: Duration::from_secs(2),
        }
    }
}

impl ConnectionLimits {
    /// Sets [`ConnectionLimits::max_connections`].
    #[must_use]
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = Some(max);
        self
    }

    /// Sets [`ConnectionLimits::idle_timeout`].
    #[must_use]
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Sets [`ConnectionLimits::shed_after`].
    #[must_use]
    pub fn shed_after(mut self, idle: Duration) -> Self {
        self.shed_after = idle;
        self
    }

    /// Refuses limits a server cannot run with.
    pub(crate) fn check(&self) -> Result<(), ConfigError> {
        if self.max_connections == Some(0) {
            return Err(ConfigError::new("max-connections", "must be positive"));
        }
        if self.idle_timeout.is_zero() {
            return Err(ConfigError::new("idle-timeout", "must be positive"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls() {
        let f = |s: &str| DatabaseLocation::SqliteFile(PathBuf::from(s));
        assert_eq!(DatabaseLocation::parse("sqlite:///rel.db").unwrap(), f("rel.db"));
        assert_eq!(DatabaseLocation::parse("sqlite:////abs/p.db").unwrap(), f("/abs/p.db"));
        assert_eq!(DatabaseLocation::parse("sqlite://p.db").unwrap(), f("p.db"));
        assert_eq!(DatabaseLocation::parse("sqlite:p.db").unwrap(), f("p.db"));
        assert_eq!(DatabaseLocation::parse("sqlite:p.db?mode=rwc").unwrap(), f("p.db"));
        assert_eq!(DatabaseLocation::parse("sqlite::memory:").unwrap(), DatabaseLocation::Memory);
        assert_eq!(DatabaseLocation::parse("plain.db").unwrap(), f("plain.db"));
        assert!(DatabaseLocation::parse("mysql://x").is_err());
        assert!(DatabaseLocation::parse("").is_err());
        let pg = |s: &str| DatabaseLocation::Postgres(s.to_owned());
        assert_eq!(DatabaseLocation::parse(" postgres://h/db ").unwrap(), pg("postgres://h/db"));
        assert_eq!(
            DatabaseLocation::parse("postgresql://u@h/db?sslmode=disable").unwrap(),
            pg("postgresql://u@h/db?sslmode=disable")
        );
        assert!(DatabaseLocation::parse("postgres://").is_err());
    }

    #[test]
    fn postgres_passwords_are_redacted() {
        let loc = DatabaseLocation::parse("postgres://oi:s3cret@db:5432/oi?sslmode=require").unwrap();
        let shown = format!("{loc:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("oi:<redacted>@db:5432/oi?sslmode=require"), "{shown}");
        assert_eq!(redact_password("postgres://u@h/d"), "postgres://u@h/d");
        assert_eq!(redact_password("postgres://u:p@w@h/d"), "postgres://u:<redacted>@h/d");
        let err = DatabaseLocation::parse("mysql://u:pw@h/d").unwrap_err();
        assert!(!err.to_string().contains("pw@"), "{err}");
    }

    #[test]
    fn postgres_without_the_feature_names_it() {
        let pg = DatabaseLocation::Postgres("postgres://u:secret@h/d".into());
        assert!(pg.check_supported_by(true).is_ok());
        let err = pg.check_supported_by(false).unwrap_err();
        assert_eq!(err.setting, "database-url");
        assert!(err.message.contains("`postgres` feature"), "{err}");
        assert!(!err.to_string().contains("secret"), "{err}");
        assert!(DatabaseLocation::Memory.check_supported_by(false).is_ok());
        assert!(DatabaseLocation::SqliteFile("x.db".into()).check_supported_by(false).is_ok());
        // This build's answer follows its features.
        let built = ServerConfig::builder().database(pg).build();
        assert_eq!(built.is_ok(), cfg!(feature = "postgres"), "{built:?}");
    }

    #[test]
    fn keys_parse_and_redact() {
        let keys = ApiKey::parse_list("a, b=agent-b,,=x");
        assert_eq!(keys, vec![ApiKey::new("a"), ApiKey::bound("b", "agent-b")]);
        assert!(!format!("{:?}", keys[1]).contains("\"b\""));
    }

    #[test]
    fn webhook_settings_are_checked() {
        assert!(WebhookConfig::default().check().is_ok());
        let e = WebhookConfig::default().claim_ttl(Duration::from_millis(299)).check().unwrap_err();
        assert_eq!(e.setting, "webhooks.claim_ttl");
        assert!(WebhookConfig::default().max_attempts(0).check().is_err());
        assert!(WebhookConfig::default().max_backoff(Duration::from_millis(1)).check().is_err());
    }
}
