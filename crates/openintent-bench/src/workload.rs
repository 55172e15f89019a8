//! The mixed agent workload: each of `--concurrency` workers (its own agent id) repeats a unit
//! of work `--units` times: create an intent, chain `--patches` version-checked state writes,
//! read the intent, log an event, read the event log, acquire and release a lease. Every call's
//! latency is recorded per operation; the run also checks that no write was lost (the final
//! version of each intent must be `1 + patches`). A target with several URLs (instances of one
//! server on one database) gets the workers in turn.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use openintent_client::Client;
use serde_json::json;

use crate::Args;

const OPS: &[&str] =
    &["create_intent", "update_state", "get_intent", "log_event", "get_events", "acquire_lease", "release_lease"];

/// The latencies of one target's run.
#[derive(Debug, Default)]
pub struct Run {
    pub name: String,
    /// Peak resident memory of the target's server processes (KiB), when the harness started them.
    pub rss_peak_kib: Option<u64>,
    pub wall: Duration,
    samples: BTreeMap<&'static str, Vec<Duration>>,
    pub errors: usize,
    pub lost_writes: usize,
}

impl Run {
    pub fn total_ops(&self) -> usize {
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

pub async fn drive(name: &str, urls: &[String], args: &Args) -> Result<Run, String> {
    let mut handles = Vec::new();
    for w in 0..args.concurrency {
        let client = Client::builder()
            .base_url(&urls[w % urls.len()])
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

pub fn print_table(runs: &[Run], args: &Args) {
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
    let base = runs.first().map_or(0.0, throughput);
    row(&format!("x {} throughput", runs.first().map_or("", |r| r.name.as_str())), &|r| {
        if base > 0.0 { format!("{:.1}", throughput(r) / base) } else { "-".into() }
    });
    row("server RSS peak (MiB)", &|r| r.rss_peak_kib.map(crate::procfs::mib).unwrap_or_else(|| "-".into()));
    row("errors", &|r| r.errors.to_string());
    row("lost writes", &|r| r.lost_writes.to_string());
    for op in OPS {
        row(&format!("{op} p50 (ms)"), &|r| ms(r.percentile(op, 0.50)));
        row(&format!("{op} p99 (ms)"), &|r| ms(r.percentile(op, 0.99)));
    }
}

/// Operations per second of a run.
pub fn throughput(r: &Run) -> f64 {
    r.total_ops() as f64 / r.wall.as_secs_f64().max(1e-9)
}

pub fn to_json(runs: &[Run]) -> serde_json::Value {
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
                "vs_first": runs.first().map(|b| throughput(r) / throughput(b).max(1e-9)),
                "rss_peak_kib": r.rss_peak_kib,
            })
        })
        .collect();
    json!({ "targets": targets })
}
