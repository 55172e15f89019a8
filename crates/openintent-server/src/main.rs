//! `openintent-server`: runs the OpenIntent server on an embedded SQLite database or on PostgreSQL.

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;

use clap::Parser;
use openintent_server::{ApiKey, ServerConfig};
use tracing_subscriber::EnvFilter;

/// OpenIntent Coordination Protocol server.
#[derive(Debug, Parser)]
#[command(name = "openintent-server", version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "OPENINTENT_HOST", default_value = "127.0.0.1")]
    host: IpAddr,

    /// Port to listen on (0 picks a free port).
    #[arg(long, env = "OPENINTENT_PORT", default_value_t = 8000)]
    port: u16,

    /// Database URL: `sqlite:///relative.db`, `sqlite:////abs/path.db`, `sqlite://path`,
    /// `sqlite:path`, `sqlite::memory:`, or `postgres://user:password@host:5432/db` (several
    /// server processes may share one PostgreSQL database).
    #[arg(long, env = "OPENINTENT_DATABASE_URL", default_value = "sqlite:///openintent.db")]
    database_url: String,

    /// Comma-separated API keys; an entry `key=agent` binds the key to one agent id.
    /// Defaults to the development keys.
    #[arg(long, env = "OPENINTENT_API_KEYS", hide_env_values = true)]
    api_keys: Option<String>,

    /// Log level or filter (`info`, `debug`, `openintent_server=debug,tower_http=info`, ...).
    #[arg(long, env = "OPENINTENT_LOG_LEVEL", default_value = "info")]
    log_level: String,

    /// Largest accepted request body, in bytes.
    #[arg(long, env = "OPENINTENT_BODY_LIMIT", default_value_t = openintent_server::DEFAULT_BODY_LIMIT)]
    body_limit: usize,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let filter = EnvFilter::try_new(&args.log_level).unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();

    let mut builder = ServerConfig::builder()
        .database_url(&args.database_url)
        .bind(SocketAddr::new(args.host, args.port))
        .body_limit(args.body_limit);
    match &args.api_keys {
        Some(list) => builder = builder.api_keys(ApiKey::parse_list(list)),
        None => tracing::warn!(
            "no API keys configured: accepting the development keys {:?}; set --api-keys or OPENINTENT_API_KEYS",
            openintent_server::DEV_API_KEYS
        ),
    }
    let config = match builder.build() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("openintent-server: {e}");
            return ExitCode::from(2);
        }
    };

    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("openintent-server: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(openintent_server::serve(
        config,
        |addr| {
            println!("OpenIntent server listening on http://{addr}");
            tracing::info!(%addr, "listening");
        },
        shutdown_signal(),
    ));
    match result {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("openintent-server: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
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
