//! `openintent-server`: runs the OpenIntent server on an embedded SQLite database or on PostgreSQL.

use std::process::ExitCode;

use clap::Parser;
use openintent_server::cli::{RunError, ServeArgs, run};

/// OpenIntent Coordination Protocol server.
#[derive(Debug, Parser)]
#[command(name = "openintent-server", version, about)]
struct Args {
    #[command(flatten)]
    serve: ServeArgs,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args.serve) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e @ RunError::Config(_)) => {
            eprintln!("openintent-server: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("openintent-server: {e}");
            ExitCode::FAILURE
        }
    }
}
