//! Two agents on the `openintent-agent` runtime, each with its own API key and agent id, working
//! on one intent. They coordinate only through the protocol: both declare the lease scope
//! "draft", so only one of them works at a time; the synthesizer reads the event log to know
//! whether the research is done; and the intent's retry policy brings back whichever one found
//! the scope taken or the research not ready. No LLM needed.
//!
//! ```text
//! cargo run --example multi_agent
//! OPENINTENT_URL=http://127.0.0.1:8000 cargo run --example multi_agent
//! ```
//!
//! Keys: `OPENINTENT_API_KEY` (coordinator, default `dev-user-key`), `OPENINTENT_RESEARCH_KEY`
//! (default `agent-research-key`) and `OPENINTENT_SYNTH_KEY` (default `agent-synth-key`).
//!
//! Against a server that does not replay its streams (the Python reference), an assignment
//! reaches only an agent whose stream is open: the coordinator assigns once both agents said
//! they are ready (`on_ready`). Agent ids get a per-run suffix on a remote server, which keeps
//! no two registrations of one id apart (the reference answers 500 to the second).

mod common;

use std::time::Duration;

use common::{BoxError, Server, key};
use openintent::Client;
use openintent::types::{EventType, IntentEvent, IntentStatus, StatePatch};
use openintent_agent::{Agent, Ctx, Failure, HandlerResult};
use serde_json::json;

const SCOPE: &str = "draft";

/// The message of a `comment` event, if it has one.
fn message(event: &IntentEvent) -> &str {
    event.payload.get("message").and_then(|m| m.as_str()).unwrap_or_default()
}

async fn comment(ctx: &Ctx, text: &str) -> Result<(), openintent::Error> {
    ctx.log("comment", json!({"message": text})).await.map(|_| ())
}

/// Gathers facts under the "draft" lease, reporting progress in the state and the log.
async fn research(ctx: Ctx) -> HandlerResult {
    println!("[research]   attempt {}: holding the \"{SCOPE}\" lease", ctx.attempt());
    comment(&ctx, "research started").await?;
    let facts = ["EU demand grew 12% in Q4", "prices stayed flat", "two new competitors entered"];
    for (i, fact) in facts.iter().enumerate() {
        tokio::time::sleep(Duration::from_millis(150)).await;
        // Read-modify-write with the current version; a fact already noted is not noted twice
        // (a retry after a crash runs the handler again).
        ctx.patch_state(|intent| {
            let mut notes: Vec<String> = intent.state_at("/research_notes").ok().flatten().unwrap_or_default();
            if notes.iter().any(|n| n == fact) {
                return Vec::new();
            }
            notes.push(fact.to_string());
            vec![
                StatePatch::set_key("research_notes", notes),
                StatePatch::set_key("research_progress", (i + 1) as f64 / 3.0),
            ]
        })
        .await?;
        println!("[research]   noted: {fact}");
    }
    comment(&ctx, "research notes ready").await?;
    println!("[research]   done; the runtime releases the lease");
    Ok(())
}

/// Writes the summary once the event log says the research is ready (under the same lease).
async fn synthesize(ctx: Ctx) -> HandlerResult {
    let comments = ctx.client().get_events(ctx.intent_id()).event_type(EventType::Comment).send().await?;
    if !comments.iter().any(|e| message(e) == "research notes ready") {
        println!("[synthesis]  attempt {}: the research is not ready; the retry policy brings me back", ctx.attempt());
        return Err(Failure::new("research_pending", "no \"research notes ready\" in the event log yet").into());
    }
    println!("[synthesis]  attempt {}: research ready, holding the \"{SCOPE}\" lease", ctx.attempt());
    let intent = ctx.refresh().await?;
    let notes: Vec<String> = intent.state_at("/research_notes")?.unwrap_or_default();
    ctx.set_state("summary", format!("Q4 in brief: {}.", notes.join("; "))).await?;
    comment(&ctx, "summary written").await?;
    ctx.complete().await?;
    println!("[synthesis]  wrote the summary and completed the intent");
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    common::report::exit(run().await)
}

async fn run() -> Result<(), BoxError> {
    let server = Server::start().await?;
    let coordinator = Client::new(&server.url, &server.api_key, "coordinator")?;
    let suffix = if server.embedded { String::new() } else { format!("-{:04x}", fastrand_suffix()) };
    let (research_id, synth_id) = (format!("agent-research{suffix}"), format!("agent-synth{suffix}"));

    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::unbounded_channel();
    let ready = |name: &'static str| {
        let tx = ready_tx.clone();
        move || {
            let _ = tx.send(name);
            async {}
        }
    };
    let researcher =
        Agent::builder(Client::new(&server.url, key("OPENINTENT_RESEARCH_KEY", "agent-research-key"), &research_id)?)
            .capabilities(["research"])
            .lease_scopes([SCOPE])
            .lease_seconds(30)
            .on_ready(ready("research"))
            .on_assignment(research)
            .build();
    let synthesizer =
        Agent::builder(Client::new(&server.url, key("OPENINTENT_SYNTH_KEY", "agent-synth-key"), &synth_id)?)
            .capabilities(["synthesis"])
            .lease_scopes([SCOPE])
            .lease_seconds(30)
            .on_ready(ready("synthesis"))
            .on_assignment(synthesize)
            .build();
    let drains = [researcher.drain_handle(), synthesizer.drain_handle()];
    let agents = [tokio::spawn(researcher.run()), tokio::spawn(synthesizer.run())];
    for _ in 0..2 {
        let name = tokio::time::timeout(Duration::from_secs(20), ready_rx.recv())
            .await
            .map_err(|_| "an agent did not start within 20 s")?
            .ok_or("an agent stopped before it was ready")?;
        println!("[coordinator] {name} agent ready");
    }

    let intent = coordinator
        .create_intent("Write the Q4 market report")
        .description("Research, then synthesize a summary")
        .send()
        .await?;
    // Whoever finds the scope taken (or the research not ready) tries again shortly.
    coordinator
        .set_retry_policy(&intent.id)
        .max_attempts(40)
        .base_delay_seconds(0.25)
        .max_delay_seconds(0.25)
        .backoff_multiplier(1.0)
        .send()
        .await?;
    coordinator.assign_agent(&intent.id).agent_id(synth_id.clone()).role("synthesizer").send().await?;
    coordinator.assign_agent(&intent.id).agent_id(research_id.clone()).role("researcher").send().await?;
    println!("\n[coordinator] created {} and assigned {synth_id} and {research_id}\n", intent.id);

    let mut done = coordinator.get_intent(&intent.id).await?;
    for _ in 0..300 {
        if done.status == IntentStatus::Completed {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        done = coordinator.get_intent(&intent.id).await?;
    }
    if done.status != IntentStatus::Completed {
        return Err(format!("the intent is still {} after 30 s", done.status).into());
    }
    println!("\n[coordinator] {} (version {})", done.status, done.version);
    println!("[coordinator] summary: {}", done.state_at::<&str>("/summary")?.unwrap_or("(none)"));
    let failures = coordinator.get_failures(&intent.id).await?;
    println!("[coordinator] {} attempt(s) found the scope taken or the research pending", failures.len());

    println!("\nEvent log, oldest first:");
    let mut events = coordinator.get_events(&intent.id).send().await?;
    events.reverse();
    for event in events {
        let detail =
            if event.event_type == EventType::Comment { format!(": {}", message(&event)) } else { String::new() };
        println!("  {:<20} {:<16}{detail}", event.agent_id(), event.event_type.to_string());
    }

    for drain in drains {
        drain.drain();
    }
    for agent in agents {
        agent.await??;
    }
    server.stop().await
}

/// A per-run number (the process id and the clock), so that agent ids differ between runs.
fn fastrand_suffix() -> u32 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    (std::process::id() ^ nanos) & 0xffff
}
