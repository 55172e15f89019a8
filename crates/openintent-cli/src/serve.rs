//! `openintent serve`: the embedded server, run exactly as `openintent-server` runs it.

use std::process::ExitCode;

use openintent_server::cli::{RunError, ServeArgs};

use crate::errors::Exit;

/// Runs the server until Ctrl-C or SIGTERM.
pub fn run(args: &ServeArgs) -> ExitCode {
    match openintent_server::cli::run(args) {
        Ok(()) => Exit::Ok.code(),
        Err(e @ RunError::Config(_)) => {
            eprintln!("error: {e}");
            Exit::Usage.code()
        }
        Err(e) => {
            eprintln!("error: {e}");
            Exit::Other.code()
        }
    }
}
