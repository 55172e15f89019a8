//! `openintent-bench`: measures OpenIntent servers, side by side in one run.
//!
//! - With no subcommand: the mixed agent workload (`workload.rs`) against each target in turn,
//!   one table with a column per target and each target's throughput as a multiple of the
//!   first's.
//! - `ceilings`: our GET and POST against bare axum ceilings (`ceilings.rs`), with `wrk`.
//! - `client-cpu`: our client's CPU per request against a raw reqwest loop (`client_cpu.rs`).
//! - `scale`: event and intent pages as the data grows, and SSE fan-out (`scale.rs`).
//! - `serve`: a server process the others start (`serve.rs`).
//!
//! ```text
//! openintent-bench --target python=http://127.0.0.1:8001 --sqlite --postgres postgres://127.0.0.1/db
//! openintent-bench --embedded            # our server in-process on a temporary SQLite file
//! openintent-bench ceilings
//! openintent-bench client-cpu
//! openintent-bench scale
//! ```
//!
//! `scripts/bench.sh` runs all of them, with the Python reference server as the first target.

mod ceilings;
mod client_cpu;
mod procfs;
mod scale;
mod serve;
mod workload;
mod wrk;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::serve::Spawned;

/// Command-line options.
#[derive(Debug, Parser)]
#[command(name = "openintent-bench", version, about = "Measure OpenIntent servers side by side")]
struct Args {
    /// A measurement other than the mixed workload.
    #[command(subcommand)]
    command: Option<Cmd>,
    /// A server to drive, as NAME=URL or NAME=URL,URL,... (instances of one server on one
    /// database; the workers are spread over them). Repeatable; driven in the order given.
    #[arg(long = "target", value_name = "NAME=URL")]
    targets: Vec<String>,
    /// Also drive our server started in-process on a temporary SQLite file.
    #[arg(long)]
    embedded: bool,
    /// Also drive our server in a process of its own on a temporary SQLite file.
    #[arg(long)]
    sqlite: bool,
    /// Also drive our server on this PostgreSQL database: one process, then two processes.
    #[arg(long, value_name = "URL")]
    postgres: Option<String>,
    /// API key sent to every target.
    #[arg(long, default_value = "dev-user-key")]
    api_key: String,
    /// Concurrent workers.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Units of work per worker.
    #[arg(long, default_value_t = 10)]
    units: usize,
    /// Version-checked state writes per unit.
    #[arg(long, default_value_t = 5)]
    patches: usize,
    /// Print the results as JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// GET and POST of our server as fractions of bare axum ceilings (needs `wrk`).
    Ceilings(ceilings::CeilingArgs),
    /// CPU per request of our client against a raw reqwest loop.
    ClientCpu(client_cpu::ClientCpuArgs),
    /// Event and intent pages as the data grows; SSE fan-out.
    Scale(scale::ScaleArgs),
    /// Run one server (started by the other measurements).
    #[command(hide = true)]
    Serve(serve::ServeArgs),
}

/// A fresh directory for one measurement's databases.
pub(crate) fn temp_dir(what: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("openintent-bench-{}-{what}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    dir
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(Cmd::Serve(serve)) = args.command {
        return serve::main(serve);
    }
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(run(args))
}

fn report(result: Result<serde_json::Value, String>, json: bool) -> ExitCode {
    match result {
        Ok(v) => {
            if json {
                println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> ExitCode {
    match &args.command {
        Some(Cmd::Ceilings(a)) => return report(ceilings::run(a).await, a.json),
        Some(Cmd::ClientCpu(a)) => return report(client_cpu::run(a).await, a.json),
        Some(Cmd::Scale(a)) => return report(scale::run(a).await, a.json),
        Some(Cmd::Serve(_)) | None => {}
    }
    let mut targets: Vec<(String, Vec<String>)> = Vec::new();
    for t in &args.targets {
        match t.split_once('=') {
            Some((n, u)) if !n.is_empty() && !u.is_empty() => {
                targets.push((n.to_owned(), u.split(',').map(str::to_owned).collect()))
            }
            _ => {
                eprintln!("error: --target takes NAME=URL, got {t:?}");
                return ExitCode::from(2);
            }
        }
    }
    let dir = temp_dir("workload");
    let mut embedded = None;
    // Servers started as processes of their own, by target name.
    let mut spawned: Vec<(String, Vec<Spawned>)> = Vec::new();
    let wants_embedded = args.embedded || (targets.is_empty() && !args.sqlite && args.postgres.is_none());
    if wants_embedded {
        let config = match openintent_server::ServerConfig::builder()
            .database(openintent_server::DatabaseLocation::SqliteFile(dir.join("embedded.db")))
            .bind(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
            .api_keys_from_list(&args.api_key)
            .build()
        {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        match openintent_server::spawn(config).await {
            Ok(server) => {
                targets.push(("embedded".into(), vec![server.url()]));
                embedded = Some(server);
            }
            Err(e) => {
                eprintln!("error: cannot start the embedded server: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let mut start = |name: &str, db: &str, count: usize| -> Result<(), String> {
        let mut servers = Vec::new();
        for _ in 0..count {
            servers.push(Spawned::start(&["--kind", "ours", "--database", db, "--api-key", &args.api_key])?);
        }
        targets.push((name.to_owned(), servers.iter().map(|s| s.url.clone()).collect()));
        spawned.push((name.to_owned(), servers));
        Ok(())
    };
    let mut started = Ok(());
    if args.sqlite {
        started =
            started.and_then(|()| start("rust-sqlite", &format!("sqlite:///{}", dir.join("ours.db").display()), 1));
    }
    if let Some(pg) = &args.postgres {
        started = started.and_then(|()| start("rust-pg", pg, 1)).and_then(|()| start("rust-pg-x2", pg, 2));
    }
    if let Err(e) = started {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    let mut runs = Vec::new();
    for (name, urls) in &targets {
        eprintln!("driving {name} at {} ...", urls.join(", "));
        match workload::drive(name, urls, &args).await {
            Ok(mut run) => {
                if let Some((_, servers)) = spawned.iter().find(|(n, _)| n == name) {
                    run.rss_peak_kib = servers.iter().map(|s| s.rss().map(|(_, peak)| peak)).sum();
                }
                runs.push(run);
            }
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    drop(spawned);
    if let Some(server) = embedded {
        let _ = server.shutdown().await;
    }
    let _ = std::fs::remove_dir_all(&dir);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&workload::to_json(&runs)).unwrap_or_default());
    } else {
        workload::print_table(&runs, &args);
    }
    if runs.iter().any(|r| r.lost_writes > 0) {
        eprintln!("error: lost writes detected");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
