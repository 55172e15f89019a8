//! `openintent-bench ceilings`: our server's GET of an intent and POST of a new intent, each
//! as a fraction of a bare axum server doing the least the same HTTP exchange needs (see
//! `serve.rs`), measured one after the other in the same run with the same `wrk` load, in
//! alternating rounds (best round of each kept). Also our server's resident memory at idle and
//! at its peak under that load.

use std::time::Duration;

use openintent_client::Client;

use crate::serve::Spawned;
use crate::wrk::{self, Load, WrkRun};

/// Options.
#[derive(Debug, clap::Args)]
pub struct CeilingArgs {
    /// Seconds per wrk run.
    #[arg(long, default_value_t = 5)]
    pub seconds: u64,
    /// Keep-alive connections wrk holds open.
    #[arg(long, default_value_t = 32)]
    pub connections: usize,
    /// Rounds (each runs the four measurements once; the best of each is kept).
    #[arg(long, default_value_t = 2)]
    pub rounds: usize,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

const KEY: &str = "dev-user-key";
const AGENT: &str = "bench-agent";

/// The body our client sends to create an intent titled `title`.
pub fn create_body(title: &str) -> String {
    let client = Client::builder().base_url("http://127.0.0.1:1").agent_id(AGENT).build().ok();
    let req = client.map(|c| c.create_intent(title).created_by(AGENT).request().clone());
    req.map(|r| openintent_types::wire::to_superset_value(&r).to_string()).unwrap_or_default()
}

fn keep_best(best: &mut Option<WrkRun>, run: WrkRun) {
    if best.as_ref().is_none_or(|b| run.rps > b.rps) {
        *best = Some(run);
    }
}

/// Runs the comparison.
pub async fn run(args: &CeilingArgs) -> Result<serde_json::Value, String> {
    if !wrk::available() {
        return Err("wrk is not installed (Debian/Ubuntu: apt-get install wrk); scripts/bench.sh installs it".into());
    }
    let dir = crate::temp_dir("ceilings");
    let ours_db = format!("sqlite:///{}", dir.join("ours.db").display());
    let ours = Spawned::start(&["--kind", "ours", "--database", &ours_db, "--api-key", KEY])?;
    let rss_start = ours.rss();
    let client = Client::builder()
        .base_url(&ours.url)
        .api_key(KEY)
        .agent_id(AGENT)
        .no_retry()
        .build()
        .map_err(|e| e.to_string())?;
    let intent = client.create_intent("ceiling").send().await.map_err(|e| e.to_string())?;
    let get_url = format!("{}/api/v1/intents/{}", ours.url, intent.id);
    let raw = reqwest::Client::new()
        .get(&get_url)
        .header("X-API-Key", KEY)
        .header("X-Agent-ID", AGENT)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let intent_json = raw.text().await.map_err(|e| e.to_string())?;
    let bare_get = Spawned::start(&["--kind", "bare-get", "--body", &intent_json])?;
    let bare_db = dir.join("bare.db").display().to_string();
    let bare_insert = Spawned::start(&["--kind", "bare-insert", "--database", &bare_db])?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss_idle = ours.rss();

    let headers = vec![("X-API-Key".to_owned(), KEY.to_owned()), ("X-Agent-ID".to_owned(), AGENT.to_owned())];
    let body = create_body("ceiling load");
    let loads = [
        Load { url: format!("{}/intent", bare_get.url), post_body: None, headers: headers.clone() },
        Load { url: get_url.clone(), post_body: None, headers: headers.clone() },
        Load { url: format!("{}/insert", bare_insert.url), post_body: Some(body.clone()), headers: headers.clone() },
        Load { url: format!("{}/api/v1/intents", ours.url), post_body: Some(body.clone()), headers: headers.clone() },
    ];
    let mut best: [Option<WrkRun>; 4] = Default::default();
    for round in 0..args.rounds {
        for (i, load) in loads.iter().enumerate() {
            eprintln!("ceilings: round {} of {}, {}", round + 1, args.rounds, NAMES[i]);
            let load = load.clone();
            let (c, s) = (args.connections, args.seconds);
            let r = tokio::task::spawn_blocking(move || wrk::run(&load, c, s)).await.map_err(|e| e.to_string())??;
            if r.non_2xx > 0 || r.socket_errors > 0 {
                eprintln!("ceilings: {}: {} non-2xx answers, {} socket errors", NAMES[i], r.non_2xx, r.socket_errors);
            }
            keep_best(&mut best[i], r);
        }
    }
    let rss_after = ours.rss();
    drop((ours, bare_get, bare_insert));
    let _ = std::fs::remove_dir_all(&dir);
    let runs: Vec<WrkRun> = best.into_iter().map(Option::unwrap_or_default).collect();
    let ratio = |a: usize, b: usize| if runs[b].rps > 0.0 { runs[a].rps / runs[b].rps } else { 0.0 };
    let (get_ratio, post_ratio) = (ratio(1, 0), ratio(3, 2));
    let kib = |r: Option<(u64, u64)>, peak: bool| r.map(|(now, hwm)| if peak { hwm } else { now });
    let report = serde_json::json!({
        "wrk": {"threads": 1, "connections": args.connections, "seconds": args.seconds, "rounds": args.rounds},
        "intent_json_bytes": intent_json.len(),
        "create_body_bytes": body.len(),
        "runs": NAMES.iter().zip(&runs).map(|(n, r)| serde_json::json!({
            "name": n, "rps": r.rps, "p50_ms": r.p50_ms, "p99_ms": r.p99_ms,
            "non_2xx": r.non_2xx, "socket_errors": r.socket_errors, "requests": r.requests,
        })).collect::<Vec<_>>(),
        "get_vs_bare_get": get_ratio,
        "post_vs_bare_insert": post_ratio,
        "rss_kib": {
            "started": kib(rss_start, false), "idle": kib(rss_idle, false),
            "after_load": kib(rss_after, false), "peak": kib(rss_after, true),
        },
    });
    if !args.json {
        println!(
            "ceilings: wrk -t1 -c{} -d{}s, best of {} rounds; intent JSON {} bytes, create body {} bytes",
            args.connections,
            args.seconds,
            args.rounds,
            intent_json.len(),
            body.len()
        );
        println!("{:<34}{:>12}{:>10}{:>10}", "target", "req/s", "p50 ms", "p99 ms");
        for (n, r) in NAMES.iter().zip(&runs) {
            println!("{n:<34}{:>12.0}{:>10.2}{:>10.2}", r.rps, r.p50_ms, r.p99_ms);
        }
        println!("GET intent / bare GET ceiling      {get_ratio:>12.2}   (goal >= 0.5)");
        println!("POST create / bare insert ceiling  {post_ratio:>12.2}   (goal >= 0.5)");
        let show = |label: &str, v: Option<u64>| {
            println!("{label:<34}{:>12}", v.map(crate::procfs::mib).unwrap_or_else(|| "-".into()))
        };
        show("server RSS at start (MiB)", kib(rss_start, false));
        show("server RSS idle (MiB)", kib(rss_idle, false));
        show("server RSS after load (MiB)", kib(rss_after, false));
        show("server RSS peak (MiB)", kib(rss_after, true));
    }
    Ok(report)
}

const NAMES: [&str; 4] =
    ["bare GET (static JSON)", "ours GET /intents/{id}", "bare insert (2 rows, 1 tx)", "ours POST /intents"];
