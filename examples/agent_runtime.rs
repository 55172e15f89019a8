//! Two agents on the `openintent-agent` runtime: a researcher that works three intents (two at
//! a time, each under a lease) and a reviewer that asks a human before it approves. The
//! coordinator (this program) assigns the work, plays the human, and drains both agents.
//!
//! ```text
//! cargo run --example agent_runtime
//! OPENINTENT_URL=http://127.0.0.1:8000 cargo run --example agent_runtime
//! ```
//!
//! Keys: `OPENINTENT_API_KEY` (coordinator, default `dev-user-key`), `OPENINTENT_RESEARCH_KEY`
//! (default `agent-research-key`) and `OPENINTENT_SYNTH_KEY` (the reviewer, default
//! `agent-synth-key`).

mod common;

use std::time::Duration;

use common::{BoxError, Server, key};
use openintent::Client;
use openintent::types::{IntentStatus, SuspensionChoice};
use openintent_agent::Agent;
use openintent_client::hitl::InputOutcome;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    common::report::exit(run().await)
}

async fn run() -> Result<(), BoxError> {
    let server = Server::start().await?;
    let coordinator = Client::new(&server.url, &server.api_key, "coordinator")?;

    let researcher =
        Agent::builder(Client::new(&server.url, key("OPENINTENT_RESEARCH_KEY", "agent-research-key"), "researcher")?)
            .capabilities(["research"])
            .concurrency(2)
            .lease_scopes(["research"])
            .on_assignment(|ctx| async move {
                println!("[researcher] working on {:?} (lease {})", ctx.intent().title, ctx.leases()[0].scope);
                tokio::time::sleep(Duration::from_millis(100)).await;
                ctx.set_state("findings", format!("notes on {}", ctx.intent().title)).await?;
                ctx.record_cost("tokens", 900.0, "tokens").await?;
                ctx.complete().await?;
                Ok(())
            })
            .build();

    let reviewer =
        Agent::builder(Client::new(&server.url, key("OPENINTENT_SYNTH_KEY", "agent-synth-key"), "reviewer")?)
            .capabilities(["review"])
            .on_assignment(|ctx| async move {
                println!("[reviewer]   asking a human about {:?}", ctx.intent().title);
                let choices = vec![SuspensionChoice::new("publish", "Publish"), SuspensionChoice::new("hold", "Hold")];
                let decision = match ctx.request_input("Publish the Q4 report?", choices, None).await? {
                    InputOutcome::Responded(answer) => answer,
                    other => return Err(format!("no decision: {other:?}").into()),
                };
                println!("[reviewer]   the human said {decision}");
                ctx.set_state("decision", decision).await?;
                ctx.complete().await?;
                Ok(())
            })
            .build();

    let (stop_researcher, stop_reviewer) = (researcher.drain_handle(), reviewer.drain_handle());
    let running = [tokio::spawn(researcher.run()), tokio::spawn(reviewer.run())];

    let mut ids = Vec::new();
    for topic in ["EU demand", "pricing", "competitors"] {
        let intent = coordinator.create_intent(format!("Research {topic}")).send().await?;
        coordinator.assign_agent(&intent.id).agent_id("researcher").send().await?;
        ids.push(intent.id);
    }
    let review = coordinator.create_intent("Review the Q4 report").send().await?;
    coordinator.assign_agent(&review.id).agent_id("reviewer").send().await?;
    println!("[coordinator] assigned three research intents and one review\n");

    // The human: answer the reviewer's question once it is asked.
    let suspension = loop {
        if let Some(s) = coordinator.get_suspension(&review.id).await? {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    println!("[human]      {} -> publish", suspension.question);
    coordinator.respond_to_suspension(&review.id, suspension.id, "publish").send().await?;

    ids.push(review.id);
    for id in &ids {
        let mut waited = 0;
        while coordinator.get_intent(id).await?.status != IntentStatus::Completed {
            waited += 1;
            if waited > 400 {
                return Err(format!("intent {id} did not complete").into());
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
    println!("\n[coordinator] all {} intents completed; draining the agents", ids.len());
    stop_researcher.drain();
    stop_reviewer.drain();
    for agent in running {
        agent.await??;
    }
    server.stop().await
}
