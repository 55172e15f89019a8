//! The quick start, end to end: create an intent, update its state with optimistic
//! concurrency, hold a lease on a scope while working, log an event, complete the intent and
//! read its event log.
//!
//! ```sh
//! cargo run --example quickstart
//! ```
//!
//! With no `OPENINTENT_URL` set, it starts the openintent-rs server in this process, on a
//! SQLite file in a temporary directory. With `OPENINTENT_URL` set (and optionally
//! `OPENINTENT_API_KEY`, default `dev-user-key`, and `OPENINTENT_AGENT_ID`, default
//! `quickstart-agent`), it talks to that server instead.

mod common;

use std::error::Error;
use std::net::SocketAddr;

use openintent::types::{Intent, IntentEvent};
use openintent::{Client, ENV_AGENT_ID, ENV_API_KEY, ENV_URL};
use openintent_server::{DatabaseLocation, RunningServer, ServerConfig};
use serde_json::json;

/// Where the example's server lives; the embedded one is stopped at the end.
enum Target {
    Embedded { server: RunningServer, _dir: tempfile::TempDir },
    Remote,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    common::report::exit(run().await)
}

async fn run() -> Result<(), Box<dyn Error>> {
    let (url, target) = match std::env::var(ENV_URL).ok().filter(|u| !u.trim().is_empty()) {
        Some(url) => (url, Target::Remote),
        None => {
            let dir = tempfile::tempdir()?;
            let db = dir.path().join("quickstart.db");
            let config = ServerConfig::builder()
                .database(DatabaseLocation::SqliteFile(db.clone()))
                .bind(SocketAddr::from(([127, 0, 0, 1], 0)))
                .build()?;
            let server = openintent_server::spawn(config).await?;
            println!("Started an embedded OpenIntent server at {} (SQLite file {})", server.url(), db.display());
            (server.url(), Target::Embedded { server, _dir: dir })
        }
    };
    let api_key = std::env::var(ENV_API_KEY).unwrap_or_else(|_| "dev-user-key".to_owned());
    let agent_id = std::env::var(ENV_AGENT_ID).unwrap_or_else(|_| "quickstart-agent".to_owned());
    if matches!(target, Target::Remote) {
        println!("Using the OpenIntent server at {url}");
    }
    println!("Acting as agent {agent_id:?}\n");

    let client = Client::new(url.as_str(), api_key, agent_id)?;
    let outcome = quick_start(&client).await;

    if let Target::Embedded { server, .. } = target {
        server.shutdown().await?;
    }
    outcome
}

async fn quick_start(client: &Client) -> Result<(), Box<dyn Error>> {
    // 1. Create an intent.
    let intent = client
        .create_intent("Research market trends")
        .description("Analyze Q4 market data and identify patterns")
        .constraints(json!({"deadline": "2024-02-01"}))
        .send()
        .await?;
    step(1, "Created an intent");
    show_intent(&intent);

    // 2. Update state with optimistic concurrency: the version goes out as If-Match.
    let v1 = intent.version;
    let intent = client
        .update_state(&intent.id, v1)
        .set("progress", json!(0.5))
        .set("current_phase", json!("analysis"))
        .send()
        .await?;
    step(2, &format!("Updated the state at version {v1}: now version {}", intent.version));
    println!("   state: {}", json!(intent.state));

    // A writer still holding the old version is refused instead of overwriting.
    match client.update_state(&intent.id, v1).set("progress", json!(0.1)).send().await {
        Err(e) if e.is_version_conflict() => {
            println!("   a second write at the stale version {v1} was refused: 409 version conflict")
        }
        Err(e) => return Err(e.into()),
        Ok(_) => println!("   note: this server accepted a write at a stale version"),
    }

    // 3. Hold a lease on the "analysis" scope while doing the work; it is released
    //    afterwards, even if the work fails.
    step(3, "Working under a lease on scope \"analysis\"");
    let intent = client
        .with_lease(&intent.id, "analysis", |lease, c| async move {
            println!(
                "   lease {} held by {} until {}",
                short(&lease.id),
                lease.agent_id,
                lease.expires_at.format("%H:%M:%S UTC")
            );
            // Another agent cannot take the scope meanwhile.
            let rival = Client::builder()
                .base_url(c.base_url().unwrap_or_default())
                .api_key(std::env::var(ENV_API_KEY).unwrap_or_else(|_| "dev-user-key".to_owned()))
                .agent_id("rival-agent")
                .build()?;
            match rival.acquire_lease(&lease.intent_id, "analysis").send().await {
                Err(e) if e.is_lease_conflict() => {
                    println!("   rival-agent asked for the same scope: 409 lease conflict")
                }
                Err(e) => return Err(e),
                Ok(l) => {
                    println!("   note: this server granted rival-agent the same scope");
                    rival.release_lease(&l.intent_id, &l.id).await?;
                }
            }
            // 4. Log an event while working.
            c.log_event(&lease.intent_id, "comment")
                .payload(json!({"message": "Starting analysis phase"}))
                .send()
                .await?;
            step(4, "Logged a comment event while holding the lease, and saved the findings");
            let current = c.get_intent(&lease.intent_id).await?;
            let done = c
                .update_state(&current.id, current.version)
                .set("progress", 1.0)
                .set("findings", json!(["demand up 12%", "churn down 3%"]))
                .send()
                .await?;
            Ok(done)
        })
        .duration_seconds(60)
        .send()
        .await?;
    println!("   lease released; the state is now at version {}", intent.version);

    // 5. Mark the intent complete.
    let intent = client.set_status(&intent.id, intent.version, "completed").send().await?;
    step(5, &format!("Marked the intent {} (version {})", intent.status, intent.version));
    show_intent(&intent);

    // 6. The event log: every change above left an entry (the server sends newest first).
    let mut events = client.get_events(&intent.id).send().await?;
    events.reverse();
    step(6, &format!("The event log ({} events, oldest first)", events.len()));
    print_events(&events);
    println!("\nDone: intent {} is {}.", intent.id, intent.status);
    Ok(())
}

fn step(n: u32, text: &str) {
    println!("\n{n}. {text}");
}

fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

fn show_intent(i: &Intent) {
    println!("   id:          {}", i.id);
    println!("   title:       {}", i.title);
    if !i.description.is_empty() {
        println!("   description: {}", i.description);
    }
    println!("   status:      {}   version: {}", i.status, i.version);
    if !i.constraints.is_empty() {
        println!("   constraints: {}", json!(i.constraints));
    }
    if !i.state.is_empty() {
        println!("   state:       {}", json!(i.state));
    }
}

fn print_events(events: &[IntentEvent]) {
    let rows: Vec<[String; 4]> = events
        .iter()
        .map(|e| {
            let mut payload = json!(e.payload).to_string();
            if payload.chars().count() > 60 {
                payload = payload.chars().take(59).collect::<String>() + "…";
            }
            [e.created_at.format("%H:%M:%S%.3f").to_string(), e.event_type.to_string(), e.actor.clone(), payload]
        })
        .collect();
    let headers = ["TIME", "EVENT", "ACTOR", "PAYLOAD"];
    let mut widths = headers.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 4]| {
        let text: Vec<String> = cells.iter().zip(widths).map(|(c, w)| format!("{c:<w$}")).collect();
        println!("   {}", text.join("  ").trim_end());
    };
    line(headers);
    line(widths.map(|w| "-".repeat(w)).each_ref().map(String::as_str));
    for row in &rows {
        line(row.each_ref().map(String::as_str));
    }
}
