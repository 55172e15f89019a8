//! Two agents, each with its own API key and agent id, working on one intent. They coordinate
//! only through the protocol: a lease on the shared "draft" scope decides who writes, and the
//! event log tells the synthesizer when the research has started and finished. No LLM needed.
//!
//! ```text
//! cargo run --example multi_agent
//! OPENINTENT_URL=http://127.0.0.1:8000 cargo run --example multi_agent
//! ```
//!
//! Keys: `OPENINTENT_API_KEY` (coordinator, default `dev-user-key`), `OPENINTENT_RESEARCH_KEY`
//! (default `agent-research-key`) and `OPENINTENT_SYNTH_KEY` (default `agent-synth-key`).

mod common;

use std::time::Duration;

use common::{BoxError, Server};
use openintent::types::{EventType, IntentEvent};
use openintent::{Client, Error};
use serde_json::json;

const SCOPE: &str = "draft";

fn key(var: &str, default: &str) -> String {
    std::env::var(var).ok().filter(|k| !k.is_empty()).unwrap_or_else(|| default.to_owned())
}

/// The message of a `comment` event, if it has one.
fn message(event: &IntentEvent) -> &str {
    event.payload.get("message").and_then(|m| m.as_str()).unwrap_or_default()
}

/// Gathers facts while holding the "draft" scope, reporting progress in the state and the log.
async fn researcher(client: Client, intent_id: String) -> Result<(), Error> {
    let lease = client.acquire_lease(&intent_id, SCOPE).duration_seconds(60).send().await?;
    println!("[research]   acquired the \"{SCOPE}\" lease ({})", lease.id);
    client.log_event(&intent_id, "comment").payload(json!({"message": "research started"})).send().await?;

    let facts = ["EU demand grew 12% in Q4", "prices stayed flat", "two new competitors entered"];
    for (i, fact) in facts.iter().enumerate() {
        tokio::time::sleep(Duration::from_millis(250)).await;
        // Read-modify-write that survives concurrent writers: retried on a version conflict.
        client
            .update_state_with(&intent_id, |intent| {
                let mut notes: Vec<String> = intent.state_at("/research_notes").ok().flatten().unwrap_or_default();
                notes.push(fact.to_string());
                vec![
                    openintent::types::StatePatch::set_key("research_notes", notes),
                    openintent::types::StatePatch::set_key("research_progress", (i + 1) as f64 / 3.0),
                ]
            })
            .send()
            .await?;
        println!("[research]   noted: {fact}");
    }

    client.log_event(&intent_id, "comment").payload(json!({"message": "research notes ready"})).send().await?;
    client.release_lease(&intent_id, &lease.id).await?;
    println!("[research]   released the lease");
    Ok(())
}

/// Waits for the research in the event log, then for the lease, and writes the summary.
async fn synthesizer(client: Client, intent_id: String) -> Result<(), Error> {
    // Follow the event log until the researcher announces it started.
    loop {
        let comments = client.get_events(&intent_id).event_type(EventType::Comment).send().await?;
        if comments.iter().any(|e| message(e) == "research started") {
            println!("[synthesis]  saw \"research started\" in the event log");
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The researcher holds the scope: wait for it by retrying the lease.
    let lease = loop {
        match client.acquire_lease(&intent_id, SCOPE).duration_seconds(60).send().await {
            Ok(lease) => break lease,
            Err(e) if e.is_lease_conflict() => {
                println!("[synthesis]  \"{SCOPE}\" is leased by someone else ({e}); waiting");
                tokio::time::sleep(Duration::from_millis(400)).await;
            }
            Err(e) => return Err(e),
        }
    };
    println!("[synthesis]  acquired the \"{SCOPE}\" lease ({})", lease.id);

    let comments = client.get_events(&intent_id).event_type(EventType::Comment).send().await?;
    let ready = comments.iter().any(|e| message(e) == "research notes ready");
    let intent = client.get_intent(&intent_id).await?;
    let notes: Vec<String> = intent.state_at("/research_notes")?.unwrap_or_default();
    let summary = format!("Q4 in brief: {}.", notes.join("; "));
    client
        .update_state(&intent.id, intent.version)
        .set("summary", summary.clone())
        .set("summary_complete", ready)
        .send()
        .await?;
    client.log_event(&intent_id, "comment").payload(json!({"message": "summary written"})).send().await?;
    client.release_lease(&intent_id, &lease.id).await?;
    println!("[synthesis]  wrote the summary and released the lease");
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    common::report::exit(run().await)
}

async fn run() -> Result<(), BoxError> {
    let server = Server::start().await?;
    let coordinator = Client::new(&server.url, &server.api_key, "coordinator")?;
    let research = Client::new(&server.url, key("OPENINTENT_RESEARCH_KEY", "agent-research-key"), "agent-research")?;
    let synth = Client::new(&server.url, key("OPENINTENT_SYNTH_KEY", "agent-synth-key"), "agent-synth")?;

    let intent = coordinator
        .create_intent("Write the Q4 market report")
        .description("Research, then synthesize a summary")
        .send()
        .await?;
    coordinator.assign_agent(&intent.id).agent_id("agent-research").role("researcher").send().await?;
    coordinator.assign_agent(&intent.id).agent_id("agent-synth").role("synthesizer").send().await?;
    println!("\n[coordinator] created {} and assigned agent-research and agent-synth\n", intent.id);

    // Both agents run at the same time.
    let s = tokio::spawn(synthesizer(synth, intent.id.clone()));
    let r = tokio::spawn(researcher(research, intent.id.clone()));
    r.await??;
    s.await??;

    let intent = coordinator.get_intent(&intent.id).await?;
    let done = coordinator.set_status(&intent.id, intent.version, "completed").send().await?;
    println!("\n[coordinator] {} (version {})", done.status, done.version);
    println!("[coordinator] summary: {}", done.state_at::<&str>("/summary")?.unwrap_or("(none)"));

    println!("\nEvent log, oldest first:");
    let mut events = coordinator.get_events(&intent.id).send().await?;
    events.reverse();
    for event in events {
        let detail =
            if event.event_type == EventType::Comment { format!(": {}", message(&event)) } else { String::new() };
        println!("  {:<20} {:<16}{detail}", event.agent_id(), event.event_type.to_string());
    }

    server.stop().await
}
