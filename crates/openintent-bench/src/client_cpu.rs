//! `openintent-bench client-cpu`: the CPU time our client spends per request, against a raw
//! reqwest loop making the same HTTP calls with the same bodies and headers and decoding the
//! same answers into the same types (`serde_json::from_slice::<Intent>`).
//!
//! The server runs in a child process, so this process's CPU time (`/proc/self/stat`) is the
//! client's alone. Each phase makes `iterations` x (create an intent, read it back), one call at
//! a time; raw and client phases alternate `rounds` times and the least CPU of each is kept.

use std::time::{Duration, Instant};

use openintent_client::Client;
use openintent_types::Intent;

use crate::procfs::self_cpu;
use crate::serve::Spawned;

/// Options.
#[derive(Debug, clap::Args)]
pub struct ClientCpuArgs {
    /// Create + read pairs per phase.
    #[arg(long, default_value_t = 2000)]
    pub iterations: usize,
    /// Raw/client phase pairs (the least CPU of each kind is kept).
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

const KEY: &str = "dev-user-key";
const AGENT: &str = "bench-agent";

async fn raw_phase(http: &reqwest::Client, base: &str, body: &str, n: usize) -> Result<(), String> {
    for _ in 0..n {
        let resp = http
            .post(format!("{base}/api/v1/intents"))
            .header("X-API-Key", KEY)
            .header("X-Agent-ID", AGENT)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !resp.status().is_success() {
            return Err(format!("raw create: {}", resp.status()));
        }
        let bytes = resp.bytes().await.map_err(|e| e.to_string())?;
        let created: Intent = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
        let resp = http
            .get(format!("{base}/api/v1/intents/{}", created.id))
            .header("X-API-Key", KEY)
            .header("X-Agent-ID", AGENT)
            .header("Accept", "application/json")
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !resp.status().is_success() {
            return Err(format!("raw get: {}", resp.status()));
        }
        let bytes = resp.bytes().await.map_err(|e| e.to_string())?;
        let read: Intent = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
        std::hint::black_box(read);
    }
    Ok(())
}

async fn client_phase(client: &Client, n: usize) -> Result<(), String> {
    for _ in 0..n {
        let created = client.create_intent("client cpu").send().await.map_err(|e| e.to_string())?;
        let read = client.get_intent(&created.id).await.map_err(|e| e.to_string())?;
        std::hint::black_box(read);
    }
    Ok(())
}

/// Runs the comparison.
pub async fn run(args: &ClientCpuArgs) -> Result<serde_json::Value, String> {
    let dir = crate::temp_dir("client-cpu");
    let db = format!("sqlite:///{}", dir.join("ours.db").display());
    let server = Spawned::start(&["--kind", "ours", "--database", &db, "--api-key", KEY])?;
    let client = Client::builder()
        .base_url(&server.url)
        .api_key(KEY)
        .agent_id(AGENT)
        .no_retry()
        .build()
        .map_err(|e| e.to_string())?;
    let http = reqwest::Client::new();
    let body = crate::ceilings::create_body("client cpu");
    // Warm both (connections, allocator).
    raw_phase(&http, &server.url, &body, 50).await?;
    client_phase(&client, 50).await?;
    let (mut raw_best, mut client_best) = (Duration::MAX, Duration::MAX);
    let (mut raw_wall, mut client_wall) = (Duration::ZERO, Duration::ZERO);
    for round in 0..args.rounds {
        eprintln!("client-cpu: round {} of {}", round + 1, args.rounds);
        let (c0, t0) = (self_cpu(), Instant::now());
        raw_phase(&http, &server.url, &body, args.iterations).await?;
        let (c1, t1) = (self_cpu(), Instant::now());
        client_phase(&client, args.iterations).await?;
        let (c2, t2) = (self_cpu(), Instant::now());
        if c1 - c0 < raw_best {
            (raw_best, raw_wall) = (c1 - c0, t1 - t0);
        }
        if c2 - c1 < client_best {
            (client_best, client_wall) = (c2 - c1, t2 - t1);
        }
    }
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
    let requests = (2 * args.iterations) as f64;
    let per = |d: Duration| d.as_secs_f64() * 1e6 / requests;
    let ratio = if raw_best.is_zero() { 0.0 } else { client_best.as_secs_f64() / raw_best.as_secs_f64() };
    if !args.json {
        println!(
            "client CPU per request ({} creates + {} reads per phase, least of {} rounds; server in another process)",
            args.iterations, args.iterations, args.rounds
        );
        println!("{:<28}{:>14}{:>14}", "", "CPU us/req", "wall us/req");
        println!("{:<28}{:>14.1}{:>14.1}", "raw reqwest loop", per(raw_best), per(raw_wall));
        println!("{:<28}{:>14.1}{:>14.1}", "openintent-client", per(client_best), per(client_wall));
        println!("{:<28}{:>14.2}   (goal <= 1.25)", "client / raw", ratio);
    }
    Ok(serde_json::json!({
        "iterations": args.iterations, "rounds": args.rounds,
        "raw_cpu_us_per_request": per(raw_best), "client_cpu_us_per_request": per(client_best),
        "raw_wall_us_per_request": per(raw_wall), "client_wall_us_per_request": per(client_wall),
        "client_vs_raw": ratio,
    }))
}
