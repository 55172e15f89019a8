//! A correct server for the **OpenIntent Coordination Protocol**, on axum with embedded SQLite
//! or on PostgreSQL.
//!
//! It speaks the wire protocol of the Python reference server (same paths, verbs, status codes,
//! top-level shapes and field names, with superset fields older clients read) and is correct
//! where the reference is not: version-checked writes are atomic compare-and-set operations
//! committed together with their event, at most one live lease holds a scope, leases guard the
//! state paths they cover, values outside the protocol's sets are refused with 422, the
//! lifecycle is enforced, and bad input never produces a 500. An intent's `governance_policy`
//! (`write_scope`, `allowed_agents`, `max_cost`, `require_status_reason`, `completion_mode`) is
//! validated on create and enforced inside each write's transaction, with the reference's 403
//! body and `governance.violation` event.
//!
//! On PostgreSQL ([`DatabaseLocation::Postgres`]) several server processes may share one
//! database behind a load balancer: these guarantees are database transactions, so they hold
//! across processes, and each process relays the notifications of the others to its event
//! streams (`docs/deployment.md` in the repository).
//!
//! Webhook subscriptions are delivered at least once by background workers from a durable
//! outbox written with each event, signed with a per-subscription secret and retried with
//! backoff (see [`webhook`] and [`WebhookConfig`]).
//!
//! # Running in-process
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use openintent_server::{ServerConfig, spawn};
//! let server = spawn(ServerConfig::in_memory()).await?;
//! println!("listening on {}", server.url());
//! server.shutdown().await?;
//! # Ok(()) }
//! ```
//!
//! Or build the router yourself with [`AppState::open`] and [`app`] (on PostgreSQL the state
//! relays the changes made by other server processes; webhook deliveries are recorded, and sent
//! by whichever [`spawn`]ed or [`serve`]d instance shares the database).
//!
//! # Features
//!
//! - `postgres` (default): PostgreSQL storage ([`DatabaseLocation::Postgres`]) and the relay
//!   between server processes.
//! - `tls` (default): TLS through rustls, for webhooks to `https://` receivers and, with
//!   `postgres`, for connections to PostgreSQL.
//! - `otel` (off by default): the binary exports its `tracing` spans (one per request) to an
//!   OpenTelemetry collector over OTLP/HTTP when an endpoint is configured
//!   ([`cli::ServeArgs::otel_endpoint`]; `docs/tracing.md` in the repository).
//!
//! The defaults give the `openintent-server` binary every capability. A program or test that
//! embeds the server on SQLite leaves them out (`default-features = false`), and with them the
//! PostgreSQL driver and the TLS stack. A PostgreSQL location is then refused with an error
//! naming the feature ([`ConfigError`] from [`ServerConfigBuilder::build`],
//! [`StoreError::Unsupported`] from [`Store::open`]), and a delivery to an `https://` webhook
//! fails with such an error.

mod api;
pub mod cli;
mod config;
mod connections;
mod error;
mod keys;
pub mod liveness;
mod metrics;
mod notify;
mod relay;
mod rules;
mod state;
mod store;
mod suspensions;
mod telemetry;
pub mod webhook;

use std::future::Future;
use std::net::SocketAddr;

use axum::Router;
use axum::middleware::{from_fn, from_fn_with_state};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tower_http::cors::CorsLayer;

pub use api::extract::{Principal, authenticate};
pub use api::openapi::document as openapi_document;
pub use config::{
    ApiKey, ConfigError, ConnectionLimits, DEFAULT_BODY_LIMIT, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_STATE_BYTES, DEV_API_KEYS, DatabaseLocation, ServerConfig, ServerConfigBuilder, WebhookConfig,
};
pub use config::{Role, key_principal};
pub use error::{ApiError, ApiResult};
pub use state::{AppState, Channel, DEFAULT_SSE_KEEP_ALIVE, NOTIFICATION_BUFFER, Notification};
pub use store::repair::UnreadableRow;
pub use store::{Store, StoreError};

/// The complete router: the keyless routes, and the `/api/v1` routes behind the API-key check.
///
/// Unknown routes answer 404 `{"detail":"Not Found"}` and known paths with a wrong method 405
/// `{"detail":"Method Not Allowed"}`, which clients use to detect unsupported operations.
pub fn app(state: AppState) -> Router {
    Router::new()
        .merge(api::public_routes())
        .merge(api::api_routes(&state))
        .fallback(api::not_found)
        .layer(from_fn(api::json_errors))
        // Outside the error mapping (the final status) and inside the router's layers applied
        // per route (the matched route template is known).
        .layer(from_fn_with_state(state.clone(), api::metrics::track))
        // Outside the error mapping and inside tracing: the whole handling of a write, error
        // bodies included, runs on its own task (see `api::run_writes_to_completion`).
        .layer(from_fn(api::run_writes_to_completion))
        .layer(CorsLayer::permissive())
        .layer(telemetry::layer())
        .with_state(state)
}

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The database could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The address could not be listened on (in use, not an address of this machine, a
    /// privileged port, ...).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why the system refused it (`ErrorKind::AddrInUse` when another process holds it).
        source: std::io::Error,
    },
    /// Serving failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The configuration was refused (webhook settings, ...).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The HTTP client of the webhook workers could not be built.
    #[error("webhook client: {0}")]
    Webhooks(#[from] reqwest::Error),
}

/// A server running on a background task. Dropping it does not stop the server; call
/// [`RunningServer::shutdown`].
#[derive(Debug)]
pub struct RunningServer {
    addr: SocketAddr,
    state: AppState,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
    webhooks: Option<webhook::worker::WorkerPool>,
    liveness: Option<liveness::Sweeper>,
    sweeper: Option<suspensions::Sweeper>,
    metrics: Option<MetricsListener>,
}

impl RunningServer {
    /// The bound address (the real port when `0` was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bound address of the metrics listener, when one was configured
    /// ([`ServerConfigBuilder::metrics_addr`]).
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(|m| m.addr)
    }

    /// `http://<addr>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The shared state (storage, notifications).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Stops accepting connections, lets running requests finish, stops the webhook workers
    /// (releasing their claims), and closes the database.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let result = (&mut self.task).await.unwrap_or_else(|e| Err(std::io::Error::other(e)));
        if let Some(webhooks) = self.webhooks.take() {
            webhooks.stop().await;
        }
        if let Some(liveness) = self.liveness.take() {
            liveness.stop().await;
        }
        if let Some(sweeper) = self.sweeper.take() {
            sweeper.stop().await;
        }
        if let Some(metrics) = self.metrics.take() {
            metrics.stop().await;
        }
        self.state.store().close().await;
        result
    }
}

impl AppState {
    /// Opens the configured database (applying migrations) and builds the state, for a program
    /// that serves [`app`] itself.
    ///
    /// On PostgreSQL it also starts the one background task such a router needs: listening for
    /// the notifications of the other server processes sharing the database (until
    /// [`AppState::close_streams`]) and publishing them here, so that event streams carry changes
    /// made through any process. The other background work (webhook deliveries, the agent
    /// liveness and suspension timeout sweepers, the metrics listener) is started only by
    /// [`spawn`] and [`serve`], which open their state here too.
    pub async fn open(config: &ServerConfig) -> Result<Self, StoreError> {
        let state = AppState::new(Store::open(config.database()).await?, config);
        relay::start(state.store(), state.streams_closing()).await?;
        Ok(state)
    }
}

/// Listens on `addr`, naming it when that fails.
async fn bind(addr: SocketAddr) -> Result<TcpListener, ServeError> {
    TcpListener::bind(addr).await.map_err(|source| ServeError::Bind { addr, source })
}

/// The metrics listener of a server (`GET /metrics` on an address of its own).
#[derive(Debug)]
struct MetricsListener {
    addr: SocketAddr,
    stop: tokio::sync::watch::Sender<bool>,
    task: JoinHandle<std::io::Result<()>>,
}

impl MetricsListener {
    /// Binds `addr` and serves the metrics of `state` there.
    async fn start(addr: SocketAddr, state: &AppState) -> Result<MetricsListener, ServeError> {
        let listener = bind(addr).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(api::metrics::serve(listener, state.clone(), stopped));
        Ok(MetricsListener { addr, stop, task })
    }

    async fn stop(self) {
        self.stop.send_replace(true);
        if let Ok(Err(e)) = self.task.await {
            tracing::warn!(error = %e, "metrics listener failed");
        }
    }
}

/// What serving needs, started in order: the checked configuration, the bound address, the
/// opened database and its state, the relay of other processes' notifications (PostgreSQL
/// only), the webhook delivery workers (none when disabled), the agent liveness sweeper (none
/// when disabled), the suspension timeout sweeper and the metrics listener (none unless
/// configured).
///
/// The address is bound before the database is opened: a taken port leaves no new database
/// file behind.
async fn start(config: &ServerConfig) -> Result<Started, ServeError> {
    config.webhooks().check()?;
    let listener = bind(config.bind_addr()).await?;
    let state = AppState::open(config).await?;
    let webhooks = webhook::worker::WorkerPool::start(state.store(), config.webhooks())?;
    let liveness = liveness::Sweeper::start(state.store(), config.liveness_interval());
    let sweeper = suspensions::Sweeper::start(state.store(), suspensions::SWEEP_INTERVAL);
    let metrics = match config.metrics_addr() {
        Some(addr) => Some(MetricsListener::start(addr, &state).await?),
        None => None,
    };
    Ok(Started { listener, state, webhooks, liveness, sweeper, metrics })
}

/// What [`start`] started.
struct Started {
    listener: TcpListener,
    state: AppState,
    webhooks: Option<webhook::worker::WorkerPool>,
    liveness: Option<liveness::Sweeper>,
    sweeper: suspensions::Sweeper,
    metrics: Option<MetricsListener>,
}

/// Binds the configured address, opens the database and serves on a background task, with the
/// webhook delivery workers unless [`WebhookConfig::enabled`] is off.
///
/// Nothing is written to disk when the address cannot be bound ([`ServeError::Bind`]).
pub async fn spawn(config: ServerConfig) -> Result<RunningServer, ServeError> {
    let Started { listener, state, webhooks, liveness, sweeper, metrics } = start(&config).await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let router = app(state.clone());
    let streams = state.clone();
    let stopped = async move {
        let _ = stopped.await;
        // Open event streams never end by themselves; end them so shutdown can finish.
        streams.close_streams();
    };
    let counted = state.store().metrics().clone();
    let task = tokio::spawn(connections::serve(listener, router, *config.connections(), counted, stopped));
    Ok(RunningServer { addr, state, stop: Some(stop), task, webhooks, liveness, sweeper: Some(sweeper), metrics })
}

/// Binds the configured address, opens the database, starts the webhook delivery workers (unless
/// disabled), calls `on_bound` with the bound address, and serves until `shutdown` completes
/// (then finishes running requests and stops the workers).
///
/// Nothing is written to disk when the address cannot be bound ([`ServeError::Bind`]).
pub async fn serve(
    config: ServerConfig,
    on_bound: impl FnOnce(SocketAddr),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let Started { listener, state, webhooks, liveness, sweeper, metrics } = start(&config).await?;
    on_bound(listener.local_addr()?);
    let streams = state.clone();
    let shutdown = async move {
        shutdown.await;
        // Open event streams never end by themselves; end them so shutdown can finish.
        streams.close_streams();
    };
    let counted = state.store().metrics().clone();
    let served = connections::serve(listener, app(state.clone()), *config.connections(), counted, shutdown).await;
    if let Some(webhooks) = webhooks {
        webhooks.stop().await;
    }
    if let Some(liveness) = liveness {
        liveness.stop().await;
    }
    sweeper.stop().await;
    if let Some(metrics) = metrics {
        metrics.stop().await;
    }
    state.store().close().await;
    served?;
    Ok(())
}
