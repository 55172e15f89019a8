//! `openintent serve`: the embedded server, as `openintent-server` runs it.

use std::net::SocketAddr;
use std::process::ExitCode;

use openintent_server::{ApiKey, ServerConfig};
use tracing_subscriber::EnvFilter;

use crate::args::ServeArgs;
use crate::errors::Exit;

/// Runs the server until Ctrl-C or SIGTERM.
pub fn run(args: ServeArgs) -> ExitCode {
    let filter = EnvFilter::try_new(&args.log_level).unwrap_or_else(|_| EnvFilter::new("info"));
    // Logs go to stderr; stdout carries the one line scripts wait for.
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();

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
            eprintln!("error: {e}");
            return Exit::Usage.code();
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return Exit::Other.code();
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
        Ok(()) => Exit::Ok.code(),
        Err(e) => {
            eprintln!("error: the server stopped: {e}");
            Exit::Other.code()
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
