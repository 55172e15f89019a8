//! The whole life of one intent, as in the Python SDK's quick start: create it, record
//! progress in its state, work under a lease, log events, track cost, and complete it.
//!
//! ```text
//! cargo run --example basic_usage                                   # embedded server
//! OPENINTENT_URL=http://127.0.0.1:8000 cargo run --example basic_usage
//! ```

mod common;

use common::{BoxError, Server};
use openintent::Client;
use serde_json::json;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    common::report::exit(run().await)
}

async fn run() -> Result<(), BoxError> {
    let server = Server::start().await?;
    let client = Client::new(&server.url, &server.api_key, "my-agent")?;

    // Create an intent: the title is required, the rest is optional.
    let intent = client
        .create_intent("Research market trends")
        .description("Analyze Q4 market data and identify patterns")
        .constraints(json!({"deadline": "2024-02-01"}))
        .send()
        .await?;
    println!(
        "\nCreated intent {} \"{}\" (status {}, version {})",
        intent.id, intent.title, intent.status, intent.version
    );

    // Update state with optimistic concurrency: the version we read is sent as If-Match.
    let intent = client
        .update_state(&intent.id, intent.version)
        .merge(json!({"progress": 0.5, "current_phase": "analysis"}))
        .send()
        .await?;
    println!("State is now {} (version {})", serde_json::Value::Object(intent.state.clone()), intent.version);
    // Read one member by JSON pointer: `None` when absent, never a panic.
    let progress: Option<f64> = intent.state_at("/progress")?;
    println!("Progress read back: {progress:?}");

    // Writing with a stale version is refused; nothing is lost silently.
    match client.update_state(&intent.id, intent.version - 1).set("progress", 0.9).send().await {
        Err(e) if e.is_version_conflict() => {
            println!("A write with the old version {} was refused: {e}", intent.version - 1)
        }
        Err(e) => return Err(e.into()),
        Ok(_) => return Err("a stale write was accepted".into()),
    }

    // Work under an exclusive lease on the "analysis" scope; it is released afterwards,
    // whether the work succeeds or fails.
    let intent = client
        .with_lease(&intent.id, "analysis", |lease, worker| async move {
            println!("Holding lease {} on scope \"{}\" until {}", lease.id, lease.scope, lease.expires_at);
            worker
                .log_event(&lease.intent_id, "comment")
                .payload(json!({"message": "Starting analysis phase"}))
                .send()
                .await?;
            let current = worker.get_intent(&lease.intent_id).await?;
            let updated = worker
                .update_state(&current.id, current.version)
                .set("findings", json!(["demand up 12%", "prices flat"]))
                .set("progress", 0.9)
                .send()
                .await?;
            Ok(updated)
        })
        .duration_seconds(300)
        .send()
        .await?;
    let active = client.get_leases(&intent.id).send().await?;
    println!("Lease released: {} active lease(s) left", active.len());

    // Record what the work cost.
    client
        .record_cost(&intent.id, "api_call", 0.05, "USD")
        .provider("openai")
        .metadata(json!({"model": "gpt-4", "tokens": 1500}))
        .send()
        .await?;
    let summary = client.get_cost_summary(&intent.id).await?;
    println!("Cost so far: {:.2} ({} record(s))", summary.total, summary.count);

    // Mark it complete (the version moves with every write).
    let done = client.set_status(&intent.id, intent.version, "completed").send().await?;
    println!("Intent is {} at version {}", done.status, done.version);

    // Every change is in the append-only event log, newest first.
    println!("\nEvent log:");
    for event in client.get_events(&intent.id).send().await? {
        println!("  {:<22} by {:<12} at {}", event.event_type.to_string(), event.agent_id(), event.created_at);
    }

    server.stop().await
}
