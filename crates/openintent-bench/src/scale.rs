//! `openintent-bench scale`: how reads behave as the data grows, and how an event reaches many
//! subscribers.
//!
//! - **Event pages.** Two intents, one with `--small-events` events and one with `--events`,
//!   in one database; the first page (`limit=50`) of each log is fetched `--reads` times.
//! - **Intent list pages.** `--intents` intents; the first page and the last page
//!   (`limit=50`, `offset` at the end) of `GET /api/v1/intents` are fetched `--reads` times,
//!   and the last page by cursor (our extension: the `next_cursor` of the page before it,
//!   fetched once by offset, untimed).
//! - **Fan-out.** `--subscribers` SSE streams of one intent; an event is logged and each
//!   stream's delay until the event arrives is recorded (`--fanout-rounds` events).
//!
//! Seeding writes the rows straight into the server's SQLite file before the server starts
//! (one `INSERT ... SELECT` over a generated series per table, in one transaction), after the
//! server's own migrations created the schema: millions of rows take seconds, where the API
//! would take hours on this machine. The rows are what the server writes (same columns, wire
//! timestamps one millisecond apart, `{}` payloads).

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use openintent_client::Client;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

use crate::serve::Spawned;

/// Options.
#[derive(Debug, clap::Args)]
pub struct ScaleArgs {
    /// Events in the large intent's log.
    #[arg(long, default_value_t = 1_000_000)]
    pub events: u64,
    /// Events in the small intent's log.
    #[arg(long, default_value_t = 1_000)]
    pub small_events: u64,
    /// Intents for the list paging (at least 99: with the two of the event logs, the last page
    /// by cursor needs two full pages before it).
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(99..))]
    pub intents: u64,
    /// Sequential reads per measured page.
    #[arg(long, default_value_t = 200)]
    pub reads: usize,
    /// SSE subscribers of one intent (0: skip the fan-out).
    #[arg(long, default_value_t = 1000)]
    pub subscribers: usize,
    /// Events logged to the subscribers.
    #[arg(long, default_value_t = 5)]
    pub fanout_rounds: usize,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

const KEY: &str = "dev-user-key";
const AGENT: &str = "bench-agent";

/// Inserts `n` events of `intent` (created first), one millisecond apart.
async fn seed_intent_with_events(pool: &sqlx::SqlitePool, intent: &str, n: u64) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO intents (id, title, created_by, status, created_at, updated_at) \
         VALUES ($1, $1, 'seed', 'active', '2025-01-01T00:00:00.000000', '2025-01-01T00:00:00.000000')",
    )
    .bind(intent)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < $2) \
         INSERT INTO events (id, intent_id, event_type, actor, payload, created_at) \
         SELECT $1 || '-' || n, $1, 'comment', 'seed', '{}', \
         printf('2025-01-01T%02d:%02d:%02d.%06d', n / 3600000, (n / 60000) % 60, (n / 1000) % 60, (n % 1000) * 1000) \
         FROM c",
    )
    .bind(intent)
    .bind(i64::try_from(n).unwrap_or(i64::MAX))
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// Inserts `n` intents, one millisecond apart.
async fn seed_intents(pool: &sqlx::SqlitePool, n: u64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < $1) \
         INSERT INTO intents (id, title, created_by, status, created_at, updated_at) \
         SELECT 'seeded-' || n, 'seeded ' || n, 'seed', 'active', t, t FROM \
         (SELECT n, printf('2024-01-01T%02d:%02d:%02d.%06d', n / 3600000, (n / 60000) % 60, (n / 1000) % 60, \
          (n % 1000) * 1000) AS t FROM c)",
    )
    .bind(i64::try_from(n).unwrap_or(i64::MAX))
    .execute(pool)
    .await?;
    Ok(())
}

/// `reads` sequential GETs of `url`; (p50, p99) in ms.
async fn time_reads(http: &reqwest::Client, url: &str, reads: usize) -> Result<(f64, f64), String> {
    let mut samples = Vec::with_capacity(reads);
    for i in 0..reads + 5 {
        let t = Instant::now();
        let resp = http.get(url).header("X-API-Key", KEY).header("X-Agent-ID", AGENT).send().await;
        let resp = resp.map_err(|e| e.to_string())?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!("GET {url}: {status} {}", String::from_utf8_lossy(&body)));
        }
        if i >= 5 {
            samples.push(t.elapsed());
        }
    }
    samples.sort();
    let at = |p: f64| samples[((samples.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1000.0;
    Ok((at(0.5), at(0.99)))
}

/// The `next_cursor` of one page (untimed).
async fn next_cursor_of(http: &reqwest::Client, url: &str) -> Result<String, String> {
    let resp = http.get(url).header("X-API-Key", KEY).header("X-Agent-ID", AGENT).send().await;
    let body = resp.map_err(|e| e.to_string())?.bytes().await.map_err(|e| e.to_string())?;
    let page: serde_json::Value = serde_json::from_slice(&body).map_err(|e| format!("GET {url}: {e}"))?;
    page.get("next_cursor")
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| format!("GET {url}: no next_cursor in the answer"))
}

/// Runs the measurements.
pub async fn run(args: &ScaleArgs) -> Result<serde_json::Value, String> {
    let dir = crate::temp_dir("scale");
    let path = dir.join("scale.db");
    let url = format!("sqlite:///{}", path.display());
    // The server's migrations create the schema.
    let store = openintent_server::Store::open(&openintent_server::DatabaseLocation::SqliteFile(path.clone()))
        .await
        .map_err(|e| e.to_string())?;
    store.close().await;
    let seed_start = Instant::now();
    let options = SqliteConnectOptions::new().filename(&path);
    let pool = SqlitePoolOptions::new().max_connections(1).connect_with(options).await.map_err(|e| e.to_string())?;
    seed_intent_with_events(&pool, "small-log", args.small_events).await.map_err(|e| e.to_string())?;
    seed_intent_with_events(&pool, "large-log", args.events).await.map_err(|e| e.to_string())?;
    seed_intents(&pool, args.intents).await.map_err(|e| e.to_string())?;
    sqlx::query("ANALYZE").execute(&pool).await.map_err(|e| e.to_string())?;
    pool.close().await;
    let seed_seconds = seed_start.elapsed().as_secs_f64();
    eprintln!(
        "scale: seeded {} + {} events and {} intents in {seed_seconds:.1} s",
        args.small_events, args.events, args.intents
    );

    let server = Spawned::start(&["--kind", "ours", "--database", &url, "--api-key", KEY])?;
    let http = reqwest::Client::new();
    let base = &server.url;
    let small = time_reads(&http, &format!("{base}/api/v1/intents/small-log/events?limit=50"), args.reads).await?;
    let large = time_reads(&http, &format!("{base}/api/v1/intents/large-log/events?limit=50"), args.reads).await?;
    let total = args.intents + 2;
    let first = time_reads(&http, &format!("{base}/api/v1/intents?limit=50&offset=0"), args.reads).await?;
    let last_offset = total.saturating_sub(50);
    let last = time_reads(&http, &format!("{base}/api/v1/intents?limit=50&offset={last_offset}"), args.reads).await?;
    let before_last = last_offset.saturating_sub(50);
    let cursor = next_cursor_of(&http, &format!("{base}/api/v1/intents?limit=50&offset={before_last}")).await?;
    let by_cursor = time_reads(&http, &format!("{base}/api/v1/intents?limit=50&cursor={cursor}"), args.reads).await?;
    let fanout =
        if args.subscribers > 0 { Some(fan_out(base, args.subscribers, args.fanout_rounds).await?) } else { None };
    let rss = server.rss();
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);

    let events_ratio = large.0 / small.0;
    let list_ratio = last.0 / first.0;
    let cursor_ratio = by_cursor.0 / first.0;
    if !args.json {
        println!(
            "scale (seeded straight into SQLite in {seed_seconds:.1} s; {} sequential reads per page)",
            args.reads
        );
        println!("{:<52}{:>10}{:>10}", "page", "p50 ms", "p99 ms");
        let row = |label: String, v: (f64, f64)| println!("{label:<52}{:>10.2}{:>10.2}", v.0, v.1);
        row(format!("events, first page of 50, log of {}", args.small_events), small);
        row(format!("events, first page of 50, log of {}", args.events), large);
        row(format!("intents, first page of 50 of {total}"), first);
        row(format!("intents, last page of 50 (offset {last_offset})"), last);
        row("intents, last page of 50 by cursor".to_owned(), by_cursor);
        println!("event page, large / small log (p50)        {events_ratio:>10.2}   (goal <= 2)");
        println!("intent list, last / first page (p50)      {list_ratio:>10.2}   (goal <= 2)");
        println!("intent list, last by cursor / first (p50) {cursor_ratio:>10.2}   (goal <= 2)");
        if let Some(f) = &fanout {
            println!(
                "SSE fan-out: {} subscribers x {} events: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms, {} missed (goal p99 <= 100 ms)",
                args.subscribers, args.fanout_rounds, f.p50_ms, f.p99_ms, f.max_ms, f.missed
            );
        }
        if let Some((now, peak)) = rss {
            println!(
                "server RSS after the scale run: {} MiB (peak {} MiB)",
                crate::procfs::mib(now),
                crate::procfs::mib(peak)
            );
        }
    }
    Ok(serde_json::json!({
        "seed_seconds": seed_seconds,
        "events_page_ms": {"small": {"events": args.small_events, "p50": small.0, "p99": small.1},
                           "large": {"events": args.events, "p50": large.0, "p99": large.1},
                           "large_vs_small_p50": events_ratio},
        "intent_list_ms": {"intents": total, "first": {"p50": first.0, "p99": first.1},
                           "last": {"offset": last_offset, "p50": last.0, "p99": last.1},
                           "last_vs_first_p50": list_ratio,
                           "last_by_cursor": {"p50": by_cursor.0, "p99": by_cursor.1},
                           "last_by_cursor_vs_first_p50": cursor_ratio},
        "fanout": fanout.map(|f| serde_json::json!({"subscribers": args.subscribers, "events": args.fanout_rounds,
            "p50_ms": f.p50_ms, "p99_ms": f.p99_ms, "max_ms": f.max_ms, "missed": f.missed})),
        "rss_kib": rss.map(|(now, peak)| serde_json::json!({"now": now, "peak": peak})),
    }))
}

/// Delays of one fan-out measurement.
#[derive(Debug, Clone)]
pub struct FanOut {
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Deliveries that did not arrive within 10 s.
    pub missed: usize,
}

/// Opens `subscribers` streams of a new intent, logs `rounds` events (one at a time, each after
/// every stream received the previous one), and records each stream's delay per event.
async fn fan_out(base: &str, subscribers: usize, rounds: usize) -> Result<FanOut, String> {
    let client =
        Client::builder().base_url(base).api_key(KEY).agent_id(AGENT).no_retry().build().map_err(|e| e.to_string())?;
    let intent = client.create_intent("fan-out").send().await.map_err(|e| e.to_string())?;
    let http = reqwest::Client::builder().pool_max_idle_per_host(0).build().map_err(|e| e.to_string())?;
    let stream_url = format!("{base}/api/v1/subscribe/intents/{}", intent.id);
    // Each subscriber reports (round, arrival) for every marker it sees.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(usize, Instant)>();
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let mut tasks = Vec::with_capacity(subscribers);
    for _ in 0..subscribers {
        let (http, url, tx, ready) = (http.clone(), stream_url.clone(), tx.clone(), ready_tx.clone());
        tasks.push(tokio::spawn(async move {
            let resp = http.get(&url).header("X-API-Key", KEY).header("X-Agent-ID", AGENT).send().await;
            let Ok(resp) = resp else { return };
            if !resp.status().is_success() {
                return;
            }
            let _ = ready.send(());
            let mut body = resp.bytes_stream();
            let mut seen = String::new();
            let mut next = 0;
            while let Some(Ok(chunk)) = body.next().await {
                let at = Instant::now();
                seen.push_str(&String::from_utf8_lossy(&chunk));
                while seen.contains(&format!("fan-out-marker-{next}\"")) {
                    let _ = tx.send((next, at));
                    next += 1;
                }
                if let Some(cut) = seen.rfind('\n') {
                    seen.drain(..cut);
                }
            }
        }));
    }
    drop((tx, ready_tx));
    let mut connected = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while connected < subscribers {
        match tokio::time::timeout_at(deadline, ready_rx.recv()).await {
            Ok(Some(())) => connected += 1,
            _ => break,
        }
    }
    if connected < subscribers {
        return Err(format!("only {connected} of {subscribers} subscribers connected"));
    }
    let mut delays = Vec::with_capacity(subscribers * rounds);
    let mut missed = 0;
    for round in 0..rounds {
        let sent = Instant::now();
        client
            .log_event(&intent.id, "comment")
            .payload(serde_json::json!({"marker": format!("fan-out-marker-{round}")}))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let mut got = 0;
        let until = tokio::time::Instant::now() + Duration::from_secs(10);
        while got < subscribers {
            match tokio::time::timeout_at(until, rx.recv()).await {
                Ok(Some((r, at))) if r == round => {
                    delays.push(at.saturating_duration_since(sent));
                    got += 1;
                }
                Ok(Some(_)) => {}
                _ => break,
            }
        }
        missed += subscribers - got;
    }
    for t in &tasks {
        t.abort();
    }
    delays.sort();
    if delays.is_empty() {
        return Err("no subscriber received an event".into());
    }
    let at = |p: f64| delays[((delays.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1000.0;
    Ok(FanOut { p50_ms: at(0.5), p99_ms: at(0.99), max_ms: at(1.0), missed })
}
