//! `openintent`: a command-line tool over the OpenIntent client, and the embedded server.
//!
//! ```text
//! openintent serve --port 8000
//! openintent intents create "Research market trends" --constraints '{"deadline": "2024-02-01"}'
//! openintent intents patch <id> --set progress=0.5 --set current_phase=analysis
//! openintent events list <id> --follow
//! openintent --json intents list | jq '.[].id'
//! openintent mcp --tier reader
//! ```
//!
//! The server URL, API key and agent id come from `--url`, `--api-key` and `--agent-id`, or
//! `OPENINTENT_URL`, `OPENINTENT_API_KEY` and `OPENINTENT_AGENT_ID` (defaults
//! `http://127.0.0.1:8000`, `dev-user-key`, `openintent-cli`). Exit codes: 0 ok, 1 other error,
//! 2 usage or invalid input, 3 not found, 4 conflict, 5 unauthorized or forbidden,
//! 6 connection failed.

mod args;
mod commands;
mod errors;
mod mcp;
mod output;
mod serve;
mod stdout;

use std::process::ExitCode;

use clap::Parser;
use openintent_client::Client;

use crate::args::{Cli, Command};
use crate::commands::Out;
use crate::errors::{CliError, Exit};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with status 0; usage errors exit with 2.
            let _ = e.print();
            return if e.use_stderr() { Exit::Usage.code() } else { Exit::Ok.code() };
        }
    };
    let json = cli.json;
    let url = cli.url.clone();

    if let Command::Serve(args) = cli.command {
        return serve::run(&args);
    }

    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return Exit::Other.code();
        }
    };
    match runtime.block_on(run(cli)) {
        // The reader of the output went away (`openintent ... | head`): nothing left to say.
        Ok(()) | Err(CliError::StdoutClosed) => Exit::Ok.code(),
        Err(err) => {
            let report = err.report(&url);
            report.print(json);
            report.exit.code()
        }
    }
}

async fn run(cli: Cli) -> Result<(), CliError> {
    let client = Client::builder()
        .base_url(cli.url.trim_end_matches('/'))
        .api_key(cli.api_key)
        .agent_id(cli.agent_id)
        .user_agent(concat!("openintent-cli/", env!("CARGO_PKG_VERSION")))
        .build()?;
    let out = Out { json: cli.json };
    match cli.command {
        Command::Intents(cmd) => commands::intents(&client, out, cmd).await,
        Command::Events(cmd) => commands::events(&client, out, cmd).await,
        Command::Leases(cmd) => commands::leases(&client, out, cmd).await,
        Command::Costs(cmd) => commands::costs(&client, out, cmd).await,
        Command::Portfolios(cmd) => commands::portfolios(&client, out, cmd).await,
        Command::Discover => commands::discover(&client, out).await,
        Command::Mcp(args) => mcp::run(client, args).await,
        Command::Serve(_) => unreachable!("handled before the client is built"),
    }
}
