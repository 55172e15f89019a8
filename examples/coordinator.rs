//! A graph of intents worked by agents, with one human decision: the coordinator splits a
//! report into two research tasks and a writing task that depends on both; a researcher agent
//! works the research (two at a time), a writer agent asks a human which tone to use, and the
//! parent completes with every task's result.
//!
//! ```text
//! cargo run --example coordinator
//! OPENINTENT_URL=http://127.0.0.1:8000 cargo run --example coordinator
//! ```
//!
//! Keys: `OPENINTENT_API_KEY` (coordinator and human, default `dev-user-key`),
//! `OPENINTENT_RESEARCH_KEY` (default `agent-research-key`) and `OPENINTENT_SYNTH_KEY` (the
//! writer, default `agent-synth-key`).

mod common;

use std::time::Duration;

use common::{BoxError, Server, key};
use openintent::Client;
use openintent::types::{AgentStatus, IntentStatus, SuspensionChoice};
use openintent_agent::{Agent, Coordinator, Task};
use openintent_client::hitl::InputOutcome;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    common::report::exit(run().await)
}

async fn run() -> Result<(), BoxError> {
    let server = Server::start().await?;
    let coordinator = Client::new(&server.url, &server.api_key, "coordinator")?;

    let researcher_client =
        Client::new(&server.url, key("OPENINTENT_RESEARCH_KEY", "agent-research-key"), "researcher")?;
    let researcher = Agent::builder(researcher_client)
        .capabilities(["research"])
        .concurrency(2)
        .on_assignment(|ctx| async move {
            println!("[researcher] {}", ctx.intent().title);
            ctx.set_state("notes", format!("findings on {}", ctx.intent().title)).await?;
            ctx.complete().await?;
            Ok(())
        })
        .build();

    let writer_client = Client::new(&server.url, key("OPENINTENT_SYNTH_KEY", "agent-synth-key"), "writer")?;
    let writer = Agent::builder(writer_client)
        .capabilities(["writing"])
        .on_assignment(|ctx| async move {
            println!("[writer]     {}: asking a human for the tone", ctx.intent().title);
            let choices = vec![SuspensionChoice::new("formal", "Formal"), SuspensionChoice::new("casual", "Casual")];
            let tone = match ctx.request_input("Which tone for the Q4 report?", choices, None).await? {
                InputOutcome::Responded(tone) => tone,
                other => return Err(format!("no tone chosen: {other:?}").into()),
            };
            ctx.set_state("draft", format!("a {} report", tone.as_str().unwrap_or("plain"))).await?;
            ctx.complete().await?;
            Ok(())
        })
        .build();

    let drains = [researcher.drain_handle(), writer.drain_handle()];
    let agents = [tokio::spawn(researcher.run()), tokio::spawn(writer.run())];
    for agent in ["researcher", "writer"] {
        let mut tries = 0;
        while !coordinator.get_agent_record(agent).await.is_ok_and(|r| r.status == AgentStatus::Active) {
            tries += 1;
            if tries > 400 {
                return Err(format!("agent {agent} did not register").into());
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    let parent = coordinator.create_intent("Q4 market report").send().await?;
    let plan = vec![
        Task::new("eu", "Research EU demand", "research"),
        Task::new("prices", "Research pricing", "research"),
        Task::new("report", "Write the report", "writing").depends_on(["eu", "prices"]),
    ];
    println!("[coordinator] running a plan of {} tasks under {}\n", plan.len(), parent.id);
    let (plan_client, parent_id) = (coordinator.clone(), parent.id.clone());
    let running = tokio::spawn(async move { Coordinator::new(plan_client).run(&parent_id, plan).await });

    // The human: answer the writer's question when it comes.
    let report = loop {
        let children = coordinator.get_children(&parent.id).await?;
        if let Some(child) = children.into_iter().find(|c| c.status == IntentStatus::SuspendedAwaitingInput) {
            break child;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let suspension = coordinator.get_suspension(&report.id).await?.ok_or("no suspension record")?;
    println!("[human]      {} -> formal", suspension.question);
    coordinator.respond_to_suspension(&report.id, suspension.id, "formal").send().await?;

    let outcome = running.await??;
    println!("\n[coordinator] parent {}; results:", outcome.parent.status);
    if let Some(results) = outcome.parent.state_value("/results") {
        println!("{}", serde_json::to_string_pretty(results)?);
    }
    for drain in drains {
        drain.drain();
    }
    for agent in agents {
        agent.await??;
    }
    server.stop().await
}
