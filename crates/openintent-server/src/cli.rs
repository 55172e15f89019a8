//! The command line shared by the `openintent-server` binary and `openintent serve`: the flags
//! (with their environment variables), logging, and running until Ctrl-C or SIGTERM.

use std::net::{IpAddr, SocketAddr};

use tracing_subscriber::EnvFilter;

use crate::{ApiKey, ConfigError, DEFAULT_BODY_LIMIT, DEV_API_KEYS, ServeError, ServerConfig, WebhookConfig};

/// The server's settings, as flags and environment variables (the reference server's names).
///
/// `Debug` hides the API keys and a database password.
#[derive(Clone, clap::Args)]
#[non_exhaustive]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "OPENINTENT_HOST", default_value = "127.0.0.1")]
    pub host: IpAddr,

    /// Port to listen on (0 picks a free port).
    #[arg(long, env = "OPENINTENT_PORT", default_value_t = 8000)]
    pub port: u16,

    /// Database URL: `sqlite:///relative.db`, `sqlite:////abs/path.db`, `sqlite://path`,
    /// `sqlite:path`, `sqlite::memory:`, or `postgres://user:password@host:5432/db` (several
    /// server processes may share one PostgreSQL database).
    #[arg(long, env = "OPENINTENT_DATABASE_URL", default_value = "sqlite:///openintent.db")]
    pub database_url: String,

    /// Comma-separated API keys; an entry `key=agent` binds the key to one agent id, and
    /// `key=agent:role` or `key=:role` gives it a role (`reader`, `agent` (default), `operator`,
    /// `admin`). Defaults to the development keys.
    #[arg(long, env = "OPENINTENT_API_KEYS", hide_env_values = true)]
    pub api_keys: Option<String>,

    /// Log level or filter (`info`, `debug`, `openintent_server=debug,tower_http=info`, ...).
    #[arg(long, env = "OPENINTENT_LOG_LEVEL", default_value = "info")]
    pub log_level: String,

    /// Largest accepted request body, in bytes.
    #[arg(long, env = "OPENINTENT_BODY_LIMIT", default_value_t = DEFAULT_BODY_LIMIT)]
    pub body_limit: usize,

    /// Largest state one intent may hold, in bytes of compact JSON; a write that would make it
    /// larger is refused with 413 naming `state`.
    #[arg(long, env = "OPENINTENT_MAX_STATE_BYTES", default_value_t = crate::DEFAULT_MAX_STATE_BYTES)]
    pub max_state_bytes: usize,

    /// Most connections served at once (default: a share of the open-file limit, at most 4096).
    /// When all are taken, connections idle for 2 s are closed to make room.
    #[arg(long, env = "OPENINTENT_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,

    /// Seconds a connection may take to send a request's headers, and may stay idle between
    /// requests, before it is closed.
    #[arg(long, env = "OPENINTENT_IDLE_TIMEOUT", default_value_t = crate::DEFAULT_IDLE_TIMEOUT.as_secs())]
    pub idle_timeout: u64,

    /// Do not send webhooks from this process (deliveries are still recorded, and sent by the
    /// processes that do, or by this one once restarted without the flag).
    #[arg(long, env = "OPENINTENT_NO_WEBHOOKS")]
    pub no_webhooks: bool,

    /// Concurrent webhook delivery workers.
    #[arg(long, env = "OPENINTENT_WEBHOOK_WORKERS", default_value_t = 1)]
    pub webhook_workers: usize,

    /// Attempts of one webhook delivery before it is marked failed.
    #[arg(long, env = "OPENINTENT_WEBHOOK_MAX_ATTEMPTS", default_value_t = 10)]
    pub webhook_max_attempts: u32,

    /// Seconds a webhook receiver may take to answer.
    #[arg(long, env = "OPENINTENT_WEBHOOK_TIMEOUT", default_value_t = 10)]
    pub webhook_timeout: u64,

    /// Development switch: deliver webhooks to loopback, private, link-local (cloud metadata),
    /// unspecified, multicast and broadcast addresses too (for receivers on 127.0.0.1). By
    /// default they are refused, checked on every address the host name resolves to; never
    /// set this where callers may not reach the server's internal network.
    #[arg(long, env = "OPENINTENT_WEBHOOK_ALLOW_PRIVATE")]
    pub webhook_allow_private: bool,

    /// Serve `GET /metrics` (Prometheus text format) on this address, a listener of its own
    /// for operators (e.g. 127.0.0.1:9100); off by default.
    #[arg(long, env = "OPENINTENT_METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,

    /// OpenTelemetry collector to export request spans to, over OTLP/HTTP (protobuf): its base
    /// URL (e.g. http://127.0.0.1:4318; spans go to `/v1/traces` under it). Needs a server built
    /// with the `otel` feature; off when unset.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    pub otel_endpoint: Option<String>,

    /// The full URL spans are sent to, used as it is; wins over --otel-endpoint.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")]
    pub otel_traces_endpoint: Option<String>,

    /// The service name exported spans carry.
    #[arg(long, env = "OTEL_SERVICE_NAME", default_value = "openintent-server")]
    pub otel_service_name: String,
}

impl std::fmt::Debug for ServeArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let database = match crate::DatabaseLocation::parse(&self.database_url) {
            Ok(location) => format!("{location:?}"),
            Err(_) => "<unparsed>".to_owned(),
        };
        f.debug_struct("ServeArgs")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("max_connections", &self.max_connections)
            .field("idle_timeout", &self.idle_timeout)
            .field("database", &database)
            .field("api_keys", &self.api_keys.as_ref().map(|_| "<redacted>"))
            .field("log_level", &self.log_level)
            .field("body_limit", &self.body_limit)
            .field("max_state_bytes", &self.max_state_bytes)
            .field("otel_traces_url", &self.otel_traces_url())
            .finish_non_exhaustive()
    }
}

impl ServeArgs {
    /// The server configuration these settings describe.
    pub fn config(&self) -> Result<ServerConfig, ConfigError> {
        let mut builder = ServerConfig::builder()
            .database_url(&self.database_url)
            .bind(SocketAddr::new(self.host, self.port))
            .body_limit(self.body_limit)
            .max_state_bytes(self.max_state_bytes)
            .connections(self.connection_limits())
            .metrics_addr(self.metrics_addr)
            .webhooks(self.webhook_config());
        if let Some(list) = &self.api_keys {
            builder = builder.api_keys(ApiKey::parse_list(list));
        }
        builder.build()
    }

    /// Where spans are exported: `--otel-traces-endpoint` as it is, else `/v1/traces` under
    /// `--otel-endpoint` (the OpenTelemetry rules of their environment variables); `None`:
    /// nowhere.
    pub fn otel_traces_url(&self) -> Option<String> {
        let set = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
        match (set(&self.otel_traces_endpoint), set(&self.otel_endpoint)) {
            (Some(full), _) => Some(full),
            (None, Some(base)) => Some(format!("{}/v1/traces", base.trim_end_matches('/'))),
            (None, None) => None,
        }
    }

    /// The connection limits of these flags.
    fn connection_limits(&self) -> crate::ConnectionLimits {
        let limits = crate::ConnectionLimits::default().idle_timeout(std::time::Duration::from_secs(self.idle_timeout));
        match self.max_connections {
            Some(max) => limits.max_connections(max),
            None => limits,
        }
    }

    /// The webhook settings of these flags: the library defaults, with the workers, attempts
    /// and receiver timeout given (claims are renewed while attempts run, so their length does
    /// not depend on the timeout).
    fn webhook_config(&self) -> WebhookConfig {
        let timeout = std::time::Duration::from_secs(self.webhook_timeout);
        WebhookConfig::default()
            .enabled(!self.no_webhooks)
            .workers(self.webhook_workers)
            .max_attempts(self.webhook_max_attempts)
            .deny_private(!self.webhook_allow_private)
            .request_timeout(timeout)
    }
}

/// Why [`run`] stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// A setting was refused (a usage error).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The async runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    /// Another process listens on the address.
    #[error(
        "cannot listen on {addr}: the address is already in use (is another server running?); \
         choose another port with --port (or OPENINTENT_PORT), or --port 0 for any free one"
    )]
    AddressInUse {
        /// The address asked for.
        addr: SocketAddr,
    },
    /// The server could not start or stopped on an error.
    #[error(transparent)]
    Serve(#[from] ServeError),
    /// `repair` could not open the database or change it.
    #[error(transparent)]
    Store(#[from] crate::StoreError),
}

impl RunError {
    /// The error of a server that stopped on `e`, with a hint when its address was taken.
    fn from_serve(e: ServeError) -> Self {
        match e {
            ServeError::Bind { addr, source } if source.kind() == std::io::ErrorKind::AddrInUse => {
                RunError::AddressInUse { addr }
            }
            e => RunError::Serve(e),
        }
    }
}

/// Sets up logging to stderr (stdout carries the one line scripts wait for) and, with the
/// `otel` feature and an endpoint, the export of spans; builds the configuration, and serves
/// until Ctrl-C or SIGTERM, printing `OpenIntent server listening on http://ADDR` once bound.
/// The spans still batched are exported before it returns.
pub fn run(args: &ServeArgs) -> Result<(), RunError> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(RunError::Runtime)?;
    let exporter = init_tracing(args, runtime.handle())?;
    let config = args.config()?;
    if args.api_keys.is_none() {
        tracing::warn!(
            "no API keys configured: accepting the development keys {DEV_API_KEYS:?}; set --api-keys or OPENINTENT_API_KEYS"
        );
    }
    if args.webhook_allow_private {
        tracing::warn!(
            "--webhook-allow-private: webhooks may be delivered to loopback, private and link-local (metadata) \
             addresses; a development switch, not for servers whose callers must not reach this network"
        );
    }
    let served = runtime
        .block_on(crate::serve(
            config,
            |addr| {
                println!("OpenIntent server listening on http://{addr}");
                tracing::info!(%addr, "listening");
            },
            shutdown_signal(),
        ))
        .map_err(RunError::from_serve);
    tracing::info!("stopped");
    // On this thread, while the runtime (which sends the export requests) still runs.
    if let Some(exporter) = exporter {
        exporter.shutdown();
    }
    served
}

/// Installs the global subscriber: the log on stderr, filtered by `--log-level`, and with the
/// `otel` feature and an endpoint the span exporter (its [`Exporter`](crate::telemetry::otel::Exporter)
/// is returned, to be shut down when serving stops).
#[cfg(feature = "otel")]
fn init_tracing(
    args: &ServeArgs,
    runtime: &tokio::runtime::Handle,
) -> Result<Option<crate::telemetry::otel::Exporter>, ConfigError> {
    let (otel, exporter) = match args.otel_traces_url() {
        Some(url) => {
            let (layer, exporter) = crate::telemetry::otel::layer(&url, &args.otel_service_name, runtime.clone())?;
            (Some(layer), Some(exporter))
        }
        None => (None, None),
    };
    install(args, otel);
    if let Some(url) = args.otel_traces_url() {
        tracing::info!(%url, service = %args.otel_service_name, "exporting spans over OTLP/HTTP");
    }
    Ok(exporter)
}

/// Installs the global subscriber: the log on stderr, filtered by `--log-level` (this build
/// has no span exporter: it warns when an endpoint is configured).
#[cfg(not(feature = "otel"))]
fn init_tracing(
    args: &ServeArgs,
    _runtime: &tokio::runtime::Handle,
) -> Result<Option<crate::telemetry::otel::Exporter>, ConfigError> {
    install(args, None::<tracing_subscriber::layer::Identity>);
    if args.otel_traces_url().is_some() {
        tracing::warn!(
            "an OpenTelemetry endpoint is configured, but this openintent-server was built without the `otel` \
             feature: no spans are exported"
        );
    }
    Ok(None)
}

/// Installs the log layer and `extra` as the global subscriber (unless one is set already).
fn install<L>(args: &ServeArgs, extra: Option<L>)
where
    L: tracing_subscriber::Layer<tracing_subscriber::layer::Layered<FilteredLog, tracing_subscriber::Registry>>
        + Send
        + Sync,
{
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = EnvFilter::try_new(&args.log_level).unwrap_or_else(|_| EnvFilter::new("info"));
    let log: FilteredLog = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr as fn() -> std::io::Stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_filter(filter);
    let _ = tracing_subscriber::registry().with(log).with(extra).try_init();
}

/// The log layer: formatted lines on stderr, filtered by `--log-level`.
type FilteredLog = tracing_subscriber::filter::Filtered<
    tracing_subscriber::fmt::Layer<
        tracing_subscriber::Registry,
        tracing_subscriber::fmt::format::DefaultFields,
        tracing_subscriber::fmt::format::Format,
        fn() -> std::io::Stderr,
    >,
    EnvFilter,
    tracing_subscriber::Registry,
>;

/// `openintent-server repair`: lists the stored rows that cannot be read back (which lists
/// leave out, and single reads answer with 409 `unreadable`), and resets the state of the
/// intents named. Run it against the server's database; the server may keep running.
#[derive(Debug, Clone, clap::Args)]
#[non_exhaustive]
pub struct RepairArgs {
    /// Database URL, as for serving.
    #[arg(long, env = "OPENINTENT_DATABASE_URL", default_value = "sqlite:///openintent.db")]
    pub database_url: String,

    /// Replace this intent's state by `{}` (version + 1, and a `state_patched` event with
    /// `"repair": true`); repeat for several intents.
    #[arg(long, value_name = "INTENT_ID")]
    pub reset_state: Vec<String>,

    /// The actor recorded on the repair events.
    #[arg(long, default_value = "operator")]
    pub actor: String,
}

/// Runs `repair`: resets the state of the intents named by `--reset-state`, then writes one
/// line per row that still cannot be read back (`<kind> <id>: <reason>`) to `out`, or
/// `no unreadable rows`.
pub fn repair(args: &RepairArgs, out: &mut dyn std::io::Write) -> Result<(), RunError> {
    let location = crate::DatabaseLocation::parse(&args.database_url)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(RunError::Runtime)?;
    runtime.block_on(async {
        let store = crate::Store::open(&location).await?;
        for id in &args.reset_state {
            let event = store.reset_state(id, &args.actor).await?;
            let _ = writeln!(out, "reset the state of intent {id} (event {})", event.id);
        }
        let rows = store.unreadable_rows().await?;
        if rows.is_empty() {
            let _ = writeln!(out, "no unreadable rows");
        }
        for row in rows {
            let _ = writeln!(out, "{} {}: {}", row.kind, row.id, row.reason);
        }
        store.close().await;
        Ok(())
    })
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod webhook_flag_tests {
    use std::time::Duration;

    use clap::Parser;

    use super::ServeArgs;

    #[derive(Parser)]
    struct Cmd {
        #[command(flatten)]
        args: ServeArgs,
    }

    fn config(flags: &[&str]) -> Result<crate::ServerConfig, crate::ConfigError> {
        let argv = std::iter::once("test").chain(flags.iter().copied()).chain(["--database-url", "sqlite::memory:"]);
        Cmd::try_parse_from(argv).expect("flags parse").args.config()
    }

    #[test]
    fn webhook_flags() {
        let on = config(&[]).unwrap();
        assert!(on.webhooks().enabled);
        assert_eq!(on.webhooks().max_attempts, 10);
        assert!(!config(&["--no-webhooks"]).unwrap().webhooks().enabled);
        assert!(on.webhooks().deny_private, "non-public destinations are refused by default");
        assert!(!config(&["--webhook-allow-private"]).unwrap().webhooks().deny_private);
        let tuned =
            config(&["--webhook-workers", "3", "--webhook-max-attempts", "4", "--webhook-timeout", "90"]).unwrap();
        let w = tuned.webhooks();
        assert_eq!((w.workers, w.max_attempts, w.request_timeout), (3, 4, Duration::from_secs(90)));
        assert_eq!(w.claim_ttl, crate::WebhookConfig::default().claim_ttl);
        assert_eq!(config(&["--webhook-timeout", "0"]).unwrap_err().setting, "webhooks.request_timeout");
        assert_eq!(config(&["--webhook-workers", "0"]).unwrap_err().setting, "webhooks.workers");
    }

    #[test]
    fn otel_endpoints_follow_the_otlp_rules() {
        let url = |flags: &[&str]| {
            let argv = std::iter::once("test").chain(flags.iter().copied());
            Cmd::try_parse_from(argv).expect("flags parse").args.otel_traces_url()
        };
        assert_eq!(url(&["--otel-endpoint", " "]), None);
        assert_eq!(url(&["--otel-endpoint", "http://c:4318"]).as_deref(), Some("http://c:4318/v1/traces"));
        assert_eq!(url(&["--otel-endpoint", "http://c:4318/"]).as_deref(), Some("http://c:4318/v1/traces"));
        assert_eq!(url(&["--otel-endpoint", "http://c/base"]).as_deref(), Some("http://c/base/v1/traces"));
        // The traces endpoint is used as it is, and wins over the base endpoint.
        let both = url(&["--otel-endpoint", "http://c:4318", "--otel-traces-endpoint", "http://t/x"]);
        assert_eq!(both.as_deref(), Some("http://t/x"));
    }

    #[test]
    fn state_size_flag() {
        assert_eq!(config(&[]).unwrap().max_state_bytes(), crate::DEFAULT_MAX_STATE_BYTES);
        assert_eq!(config(&["--max-state-bytes", "4096"]).unwrap().max_state_bytes(), 4096);
        assert_eq!(config(&["--max-state-bytes", "1"]).unwrap_err().setting, "max-state-bytes");
    }
}
