//! The coordinator against the in-process server: a plan of three child intents, two worked
//! in parallel by a researcher and one, depending on both, by a writer; the parent completes
//! with the children's results.

use std::time::Duration;

use openintent_agent::{Agent, Coordinator, CoordinatorError, Task};
use openintent_client::Client;
use openintent_client::types::{AgentStatus, IntentStatus};
use openintent_server::ServerConfig;
use serde_json::json;

/// The in-process server on a database file in `dir`, its liveness sweeper every 100 ms. A
/// file, not `in_memory()`: agents that stop or drain here drop their streams and requests
/// halfway, and the server must keep its data whatever its pool does with the connection.
async fn server(dir: &tempfile::TempDir) -> openintent_server::RunningServer {
    let config = ServerConfig::builder()
        .bind(([127, 0, 0, 1], 0).into())
        .database(openintent_server::DatabaseLocation::SqliteFile(dir.path().join("plan.db")))
        .liveness_interval(Some(Duration::from_millis(100)))
        .build()
        .unwrap();
    openintent_server::spawn(config).await.unwrap()
}

/// Waits (bounded: 10 s) until the agent is registered and active.
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
    let db = tempfile::tempdir().unwrap();
    let srv = server(&db).await;
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

/// Waits (bounded: 20 s) until `check` holds.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..800 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for {what}");
}

/// An agent that completes its intents, writing who did it.
fn finisher(url: &str, agent: &'static str) -> Agent {
    Agent::builder(Client::new(url, "agent-research-key", agent).unwrap())
        .capabilities(["research"])
        .lease_scopes(["work"])
        .on_assignment(move |ctx| async move {
            ctx.set_state("done_by", agent).await?;
            ctx.complete().await?;
            Ok(())
        })
        .build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gated_parent_completes_once_its_approval_is_granted() {
    let db = tempfile::tempdir().unwrap();
    let srv = server(&db).await;
    let url = srv.url();
    let coordinator = Client::new(&url, "dev-user-key", "coordinator").unwrap();
    let approver = Client::new(&url, "dev-user-key", "approver").unwrap();
    let worker = finisher(&url, "worker");
    let drain = worker.drain_handle();
    let run = tokio::spawn(worker.run());
    active(&coordinator, "worker").await;

    for (title, approve) in [("Approved plan", true), ("Denied plan", false)] {
        let parent = coordinator
            .create_intent(title)
            .governance_policy(json!({"completion_mode": "require_approval"}))
            .send()
            .await
            .unwrap();
        let (c, parent_id) = (coordinator.clone(), parent.id.clone());
        let plan = tokio::spawn(async move {
            Coordinator::new(c).run(&parent_id, vec![Task::new("only", "The only task", "research")]).await
        });
        // The request comes once the task is done; the parent waits for its decision.
        let mut pending = Vec::new();
        for _ in 0..800 {
            pending = approver.list_approvals(&parent.id).await.unwrap();
            if !pending.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert_eq!(pending.len(), 1, "one approval asked for");
        assert_eq!((pending[0].action.as_str(), pending[0].requested_by.as_str()), ("complete", "coordinator"));
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_ne!(approver.get_intent(&parent.id).await.unwrap().status, IntentStatus::Completed, "not before");
        if approve {
            approver.approve_approval(&parent.id, &pending[0].id).await.unwrap();
            let outcome = tokio::time::timeout(Duration::from_secs(20), plan).await.unwrap().unwrap().unwrap();
            assert_eq!(outcome.parent.status, IntentStatus::Completed);
            assert_eq!(outcome.approvals, vec![pending[0].id.clone()]);
        } else {
            approver.deny_approval(&parent.id, &pending[0].id).await.unwrap();
            let err = tokio::time::timeout(Duration::from_secs(20), plan).await.unwrap().unwrap().unwrap_err();
            assert!(
                matches!(&err, CoordinatorError::ApprovalDenied { approval_id, decided_by }
                    if *approval_id == pending[0].id && decided_by == "approver"),
                "{err}"
            );
            assert_ne!(approver.get_intent(&parent.id).await.unwrap().status, IntentStatus::Completed, "left open");
        }
    }
    drain.drain();
    run.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_of_an_agent_gone_silent_moves_to_another_agent() {
    let db = tempfile::tempdir().unwrap();
    let srv = server(&db).await;
    let url = srv.url();
    let user = Client::new(&url, "dev-user-key", "coordinator").unwrap();
    // Takes the task under a short lease, then stops answering (its process is gone).
    let sleepy = Agent::builder(Client::new(&url, "agent-research-key", "sleepy").unwrap())
        .capabilities(["research"])
        .heartbeat_interval(Duration::from_millis(200))
        .heartbeat_timeouts(Duration::from_secs(2), Duration::from_secs(4))
        .lease_scopes(["work"])
        .lease_seconds(1)
        .on_assignment(|ctx| async move {
            ctx.log("claimed", json!({})).await?;
            std::future::pending::<()>().await;
            Ok(())
        })
        .build();
    let crashed = tokio::spawn(sleepy.run());
    active(&user, "sleepy").await;
    let parent = user.create_intent("Plan").send().await.unwrap();
    let (c, parent_id) = (user.clone(), parent.id.clone());
    let plan = tokio::spawn(async move {
        Coordinator::new(c)
            .liveness_check(Duration::from_millis(100))
            .run(&parent_id, vec![Task::new("only", "The only task", "research")])
            .await
    });
    let child = {
        let mut child = None;
        for _ in 0..800 {
            if let Some(c) = user.get_children(&parent.id).await.unwrap().pop()
                && !user.get_events(&c.id).event_type("claimed").send().await.unwrap().is_empty()
            {
                child = Some(c);
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        child.expect("sleepy took the task")
    };
    let steady = finisher(&url, "steady");
    let drain = steady.drain_handle();
    let run = tokio::spawn(steady.run());
    active(&user, "steady").await;
    crashed.abort();

    let outcome = tokio::time::timeout(Duration::from_secs(20), plan).await.unwrap().unwrap().unwrap();
    assert_eq!(outcome.reassignments, vec![("only".to_owned(), "sleepy".to_owned(), "steady".to_owned())]);
    let done = &outcome.children["only"];
    assert_eq!(done.state_at::<String>("/done_by").unwrap().as_deref(), Some("steady"));
    let record = user.get_agent_record("sleepy").await.unwrap();
    assert!(matches!(record.status, AgentStatus::Unhealthy | AgentStatus::Dead), "{:?}", record.status);
    let moved = user.get_events(&child.id).event_type("coordinator.reassigned").send().await.unwrap();
    assert_eq!(moved.len(), 1);
    assert_eq!(
        serde_json::Value::Object(moved[0].payload.clone()),
        json!({"task": "only", "from": "sleepy", "to": "steady"})
    );
    let assigned: Vec<String> = user.get_agents(&child.id).await.unwrap().into_iter().map(|a| a.agent_id).collect();
    assert_eq!(assigned, ["steady"], "sleepy unassigned");
    // sleepy's lease ran out before steady took the scope.
    let leases = user.get_leases(&child.id).all().send().await.unwrap();
    let sleepy_lease = leases.iter().find(|l| l.agent_id == "sleepy").expect("sleepy's lease");
    let steady_lease = leases.iter().find(|l| l.agent_id == "steady").expect("steady's lease");
    assert!(steady_lease.acquired_at >= sleepy_lease.expires_at, "{leases:?}");
    drain.drain();
    run.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_a_draining_agent_has_not_started_moves_to_another_agent() {
    let db = tempfile::tempdir().unwrap();
    let srv = server(&db).await;
    let url = srv.url();
    let user = Client::new(&url, "dev-user-key", "coordinator").unwrap();
    let release = std::sync::Arc::new(tokio::sync::Notify::new());
    let r = release.clone();
    // One slot: the first task holds it until released; the second waits for it.
    let busy = Agent::builder(Client::new(&url, "agent-research-key", "busy").unwrap())
        .capabilities(["research"])
        .concurrency(1)
        .lease_scopes(["work"])
        .drain_deadline(Duration::from_secs(15))
        .on_assignment(move |ctx| {
            let r = r.clone();
            async move {
                ctx.log("claimed", json!({})).await?;
                r.notified().await;
                ctx.set_state("done_by", "busy").await?;
                ctx.complete().await?;
                Ok(())
            }
        })
        .build();
    let busy_drain = busy.drain_handle();
    let busy_run = tokio::spawn(busy.run());
    active(&user, "busy").await;
    let parent = user.create_intent("Plan").send().await.unwrap();
    let (c, parent_id) = (user.clone(), parent.id.clone());
    let plan = tokio::spawn(async move {
        Coordinator::new(c)
            .liveness_check(Duration::from_millis(100))
            .run(&parent_id, vec![Task::new("first", "First", "research"), Task::new("second", "Second", "research")])
            .await
    });
    eventually("busy working one task", || async {
        let children = user.get_children(&parent.id).await.unwrap();
        let mut claimed = 0;
        for c in &children {
            claimed += user.get_events(&c.id).event_type("claimed").send().await.unwrap().len();
        }
        children.len() == 2 && claimed == 1
    })
    .await;
    let spare = finisher(&url, "spare");
    let spare_drain = spare.drain_handle();
    let spare_run = tokio::spawn(spare.run());
    active(&user, "spare").await;

    // busy drains: the task it works keeps its lease (not moved); the waiting one moves.
    busy_drain.drain();
    eventually("busy draining", || async {
        user.get_agent_record("busy").await.unwrap().status == AgentStatus::Draining
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    release.notify_one();
    let outcome = tokio::time::timeout(Duration::from_secs(20), plan).await.unwrap().unwrap().unwrap();
    let done_by = |key: &str| outcome.children[key].state_at::<String>("/done_by").unwrap().unwrap_or_default();
    let (started, waiting) = if done_by("first") == "busy" { ("first", "second") } else { ("second", "first") };
    assert_eq!((done_by(started).as_str(), done_by(waiting).as_str()), ("busy", "spare"));
    assert_eq!(outcome.reassignments, vec![(waiting.to_owned(), "busy".to_owned(), "spare".to_owned())]);
    tokio::time::timeout(Duration::from_secs(20), busy_run).await.unwrap().unwrap().unwrap();
    spare_drain.drain();
    spare_run.await.unwrap().unwrap();
}
