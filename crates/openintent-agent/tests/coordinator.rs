//! The coordinator against the in-process server: a plan of three child intents, two worked
//! in parallel by a researcher and one, depending on both, by a writer; the parent completes
//! with the children's results.

use std::time::Duration;

use openintent_agent::{Agent, Coordinator, CoordinatorError, Task};
use openintent_client::Client;
use openintent_client::types::{AgentStatus, IntentStatus};
use openintent_server::ServerConfig;
use serde_json::json;

async fn active(user: &Client, agent: &str) {
    for _ in 0..400 {
        if user.get_agent_record(agent).await.is_ok_and(|r| r.status == AgentStatus::Active) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{agent} never became active");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_runs_in_dependency_order_and_completes_the_parent() {
    let srv = openintent_server::spawn(ServerConfig::in_memory()).await.unwrap();
    let url = srv.url();
    let coordinator_client = Client::new(&url, "dev-user-key", "coordinator").unwrap();

    let researcher = Agent::builder(Client::new(&url, "agent-research-key", "researcher").unwrap())
        .capabilities(["research"])
        .concurrency(2)
        .on_assignment(|ctx| async move {
            ctx.set_state("output", format!("notes: {}", ctx.intent().title)).await?;
            ctx.complete().await?;
            Ok(())
        })
        .build();
    let writer = Agent::builder(Client::new(&url, "agent-synth-key", "writer").unwrap())
        .capabilities(["writing"])
        .on_assignment(|ctx| async move {
            let deps = ctx.client().get_dependencies(ctx.intent_id()).await?;
            let all_done = deps.len() == 2 && deps.iter().all(|d| d.status == IntentStatus::Completed);
            ctx.set_state("dependencies_completed_first", all_done).await?;
            ctx.complete().await?;
            Ok(())
        })
        .build();
    let drains = [researcher.drain_handle(), writer.drain_handle()];
    let runs = [tokio::spawn(researcher.run()), tokio::spawn(writer.run())];
    active(&coordinator_client, "researcher").await;
    active(&coordinator_client, "writer").await;

    let parent = coordinator_client.create_intent("Q4 report").send().await.unwrap();
    let plan = vec![
        Task::new("eu", "Research EU demand", "research"),
        Task::new("prices", "Research pricing", "research"),
        Task::new("report", "Write the report", "writing").depends_on(["eu", "prices"]),
    ];
    let outcome = tokio::time::timeout(
        Duration::from_secs(20),
        Coordinator::new(coordinator_client.clone()).run(&parent.id, plan),
    )
    .await
    .expect("the plan finishes")
    .unwrap();

    assert_eq!(outcome.parent.status, IntentStatus::Completed);
    let results = outcome.parent.state_value("/results").expect("results on the parent").clone();
    assert_eq!(results["eu"]["output"], json!("notes: Research EU demand"));
    assert_eq!(results["prices"]["output"], json!("notes: Research pricing"));
    assert_eq!(results["report"]["dependencies_completed_first"], json!(true));
    assert_eq!(outcome.children.len(), 3);
    for child in outcome.children.values() {
        assert_eq!(child.parent_id.as_deref(), Some(parent.id.as_str()));
    }
    let portfolio = coordinator_client.get_portfolio(&outcome.portfolio_id).await.unwrap();
    assert_eq!(portfolio.intents.map(|i| i.len()), Some(3));

    // A dependency on a key not listed before is refused before anything is created.
    let other = coordinator_client.create_intent("Bad plan").send().await.unwrap();
    let bad = vec![Task::new("a", "A", "research").depends_on(["b"]), Task::new("b", "B", "research")];
    let err = Coordinator::new(coordinator_client.clone()).run(&other.id, bad).await.unwrap_err();
    assert!(
        matches!(&err, CoordinatorError::UnknownDependency { task, dependency } if task == "a" && dependency == "b"),
        "{err}"
    );
    let portfolios = coordinator_client.list_portfolios().send().await.unwrap();
    assert_eq!(portfolios.len(), 1, "no portfolio for the refused plan");
    assert!(coordinator_client.get_children(&other.id).await.unwrap().is_empty(), "no child for the refused plan");

    for d in drains {
        d.drain();
    }
    for r in runs {
        r.await.unwrap().unwrap();
    }
}
