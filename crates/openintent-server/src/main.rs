//! `openintent-server`: runs the OpenIntent server on an embedded SQLite database or on PostgreSQL.

use std::process::ExitCode;

use clap::Parser;
use openintent_server::cli::{RepairArgs, RunError, ServeArgs, repair, run};

/// OpenIntent Coordination Protocol server.
#[derive(Debug, Parser)]
#[command(name = "openintent-server", version, about, args_conflicts_with_subcommands = true)]
struct Args {
    #[command(flatten)]
    serve: ServeArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

/// What to do instead of serving.
#[derive(Debug, clap::Subcommand)]
enum Command {
    /// List stored rows that cannot be read back, and reset intents' state (see docs/security.md).
    Repair(RepairArgs),
}

fn main() -> ExitCode {
    let args = Args::parse();
    let done = match &args.command {
        Some(Command::Repair(r)) => repair(r, &mut std::io::stdout()),
        None => run(&args.serve),
    };
    match done {
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
