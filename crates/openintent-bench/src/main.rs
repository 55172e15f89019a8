//! `openintent-bench`: drives one or more OpenIntent servers with the same workload, one after
//! the other in one run, and prints their numbers side by side.
//!
//! Each of `--concurrency` workers (its own agent id) repeats a unit of work `--units` times:
//! create an intent, chain `--patches` version-checked state writes, read the intent, log an
//! event, read the event log, acquire and release a lease. Every call's latency is recorded per
//! operation; the run also checks that no write was lost (the final version of each intent must
//! be `1 + patches`).
//!
//! ```text
//! openintent-bench --target rust=http://127.0.0.1:8000 --target python=http://127.0.0.1:8001
//! openintent-bench --embedded            # our server in-process on a temporary SQLite file
//! ```
//!
//! `scripts/bench.sh` starts both servers and runs this harness against them.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use openintent_client::Client;
use serde_json::json;

/// Command-line options.
#[derive(Debug, Parser)]
#[command(name = "openintent-bench", version, about = "Drive OpenIntent servers side by side with one workload")]
struct Args {
    /// A server to drive, as NAME=URL (repeatable; driven in the order given).
    #[arg(long = "target", value_name = "NAME=URL")]
    targets: Vec<String>,
    /// Also drive our server started in-process on a temporary SQLite file.
    #[arg(long)]
    embedded: bool,
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

const OPS: &[&str] =
    &["create_intent", "update_state", "get_intent", "log_event", "get_events", "acquire_lease", "release_lease"];

/// The latencies of one target's run.
#[derive(Debug, Default)]
struct Run {
    name: String,
    wall: Duration,
    samples: BTreeMap<&'static str, Vec<Duration>>,
    errors: usize,
    lost_writes: usize,
}

impl Run {
    fn total_ops(&self) -> usize {
        self.samples.values().map(Vec::len).sum()
    }

    fn percentile(&self, op: &str, p: f64) -> Option<Duration> {
        let v = self.samples.get(op)?;
        if v.is_empty() {
            return None;
        }
        let idx = ((v.len() as f64 - 1.0) * p).round() as usize;
        Some(v[idx.min(v.len() - 1)])
    }
}

async fn timed<T, E>(
    samples: &mut BTreeMap<&'static str, Vec<Duration>>,
    op: &'static str,
    fut: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, E> {
    let start = Instant::now();
    let out = fut.await;
    if out.is_ok() {
        samples.entry(op).or_default().push(start.elapsed());
    }
    out
}

/// One worker's share of the workload.
async fn worker(client: Client, units: usize, patches: usize, worker: usize) -> Run {
    let mut run = Run::default();
    for unit in 0..units {
        let result: Result<(), openintent_client::Error> = async {
            let s = &mut run.samples;
            let intent =
                timed(s, "create_intent", client.create_intent(format!("bench {worker}.{unit}")).send()).await?;
            let mut version = intent.version;
            for n in 0..patches {
                let updated = timed(
                    s,
                    "update_state",
                    client.update_state(&intent.id, version).set("counter", json!(n + 1)).send(),
                )
                .await?;
                version = updated.version;
            }
            let read = timed(s, "get_intent", client.get_intent(&intent.id)).await?;
            if read.version != 1 + patches as i64 || read.state.get("counter") != Some(&json!(patches)) {
                run.lost_writes += 1;
            }
            let s = &mut run.samples;
            timed(s, "log_event", client.log_event(&intent.id, "comment").payload(json!({"unit": unit})).send())
                .await?;
            timed(s, "get_events", client.get_events(&intent.id).limit(20).send()).await?;
            let lease =
                timed(s, "acquire_lease", client.acquire_lease(&intent.id, "work").duration_seconds(30).send()).await?;
            timed(s, "release_lease", client.release_lease(&intent.id, &lease.id)).await?;
            Ok(())
        }
        .await;
        if let Err(e) = result {
            run.errors += 1;
            if run.errors <= 3 {
                eprintln!("worker {worker}: {e}");
            }
        }
    }
    run
}

async fn drive(name: &str, url: &str, args: &Args) -> Result<Run, String> {
    let mut handles = Vec::new();
    for w in 0..args.concurrency {
        let client = Client::builder()
            .base_url(url)
            .api_key(args.api_key.clone())
            .agent_id(format!("bench-{w}"))
            .no_retry()
            .build()
            .map_err(|e| format!("{name}: {e}"))?;
        handles.push(tokio::spawn(worker(client, args.units, args.patches, w)));
    }
    let start = Instant::now();
    let mut run = Run { name: name.to_owned(), ..Run::default() };
    for h in handles {
        let part = h.await.map_err(|e| format!("{name}: worker panicked: {e}"))?;
        for (op, mut v) in part.samples {
            run.samples.entry(op).or_default().append(&mut v);
        }
        run.errors += part.errors;
        run.lost_writes += part.lost_writes;
    }
    run.wall = start.elapsed();
    for v in run.samples.values_mut() {
        v.sort();
    }
    Ok(run)
}

fn ms(d: Option<Duration>) -> String {
    d.map(|d| format!("{:.2}", d.as_secs_f64() * 1000.0)).unwrap_or_else(|| "-".into())
}

fn print_table(runs: &[Run], args: &Args) {
    println!(
        "workload: {} workers x {} units (create, {} state writes, get, log, events, lease acquire+release)\n",
        args.concurrency, args.units, args.patches
    );
    let mut header = format!("{:<26}", "metric");
    for r in runs {
        header.push_str(&format!("{:>16}", r.name));
    }
    println!("{header}");
    println!("{}", "-".repeat(header.len()));
    let row = |label: &str, f: &dyn Fn(&Run) -> String| {
        let mut line = format!("{label:<26}");
        for r in runs {
            line.push_str(&format!("{:>16}", f(r)));
        }
        println!("{line}");
    };
    row("operations", &|r| r.total_ops().to_string());
    row("wall time (s)", &|r| format!("{:.2}", r.wall.as_secs_f64()));
    row("throughput (ops/s)", &|r| format!("{:.0}", r.total_ops() as f64 / r.wall.as_secs_f64().max(1e-9)));
    row("errors", &|r| r.errors.to_string());
    row("lost writes", &|r| r.lost_writes.to_string());
    for op in OPS {
        row(&format!("{op} p50 (ms)"), &|r| ms(r.percentile(op, 0.50)));
        row(&format!("{op} p99 (ms)"), &|r| ms(r.percentile(op, 0.99)));
    }
}

fn to_json(runs: &[Run]) -> serde_json::Value {
    let targets: Vec<_> = runs
        .iter()
        .map(|r| {
            let ops: serde_json::Map<String, serde_json::Value> = OPS
                .iter()
                .map(|op| {
                    let p = |q| r.percentile(op, q).map(|d| d.as_secs_f64() * 1000.0);
                    (op.to_string(), json!({"count": r.samples.get(op).map_or(0, Vec::len), "p50_ms": p(0.5), "p95_ms": p(0.95), "p99_ms": p(0.99)}))
                })
                .collect();
            json!({
                "name": r.name, "operations": r.total_ops(), "wall_seconds": r.wall.as_secs_f64(),
                "throughput": r.total_ops() as f64 / r.wall.as_secs_f64().max(1e-9),
                "errors": r.errors, "lost_writes": r.lost_writes, "ops": ops,
            })
        })
        .collect();
    json!({ "targets": targets })
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let mut targets: Vec<(String, String)> = Vec::new();
    for t in &args.targets {
        match t.split_once('=') {
            Some((n, u)) if !n.is_empty() && !u.is_empty() => targets.push((n.to_owned(), u.to_owned())),
            _ => {
                eprintln!("error: --target takes NAME=URL, got {t:?}");
                return ExitCode::from(2);
            }
        }
    }
    let mut embedded = None;
    let dir = tempfile_dir();
    if args.embedded || targets.is_empty() {
        let db = dir.join("bench.db");
        let config = match openintent_server::ServerConfig::builder()
            .database(openintent_server::DatabaseLocation::SqliteFile(db))
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
                targets.push(("embedded".into(), server.url()));
                embedded = Some(server);
            }
            Err(e) => {
                eprintln!("error: cannot start the embedded server: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let mut runs = Vec::new();
    for (name, url) in &targets {
        eprintln!("driving {name} at {url} ...");
        match drive(name, url, &args).await {
            Ok(run) => runs.push(run),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    if let Some(server) = embedded {
        let _ = server.shutdown().await;
    }
    let _ = std::fs::remove_dir_all(&dir);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&to_json(&runs)).unwrap_or_default());
    } else {
        print_table(&runs, &args);
    }
    if runs.iter().any(|r| r.lost_writes > 0) {
        eprintln!("error: lost writes detected");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("openintent-bench-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    dir
}
