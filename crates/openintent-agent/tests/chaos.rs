//! Chaos: a coordinator (this test) and three worker processes over real TCP against the
//! in-process server. One worker is SIGKILLed while it holds the lease of a task and before it
//! writes anything; the registry marks it offline, its lease runs out, and the coordinator moves
//! its tasks to the other workers. One task asks a human, who answers through the API. Every
//! task's work is applied exactly once to the parent's state, and no lease is left held.
//!
//! The workers are this test binary started again (`std::env::current_exe()`) with
//! `CHAOS_ROLE` set, running the ignored test [`worker_process`] only. Every wait is bounded,
//! and the worker processes are killed when the test ends, whatever its outcome.
#![cfg(unix)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use openintent_agent::{Agent, Coordinator, Task};
use openintent_client::hitl::InputOutcome;
use openintent_client::types::{AgentStatus, Intent, IntentStatus, StatePatch, SuspensionChoice};
use openintent_client::{Client, ReconnectConfig};
use openintent_server::{DatabaseLocation, ServerConfig};
use serde_json::{Value, json};

/// Set in a worker process: its agent id.
const ROLE: &str = "CHAOS_ROLE";
/// Set in a worker process: the server's URL.
const URL: &str = "CHAOS_URL";
/// Set in the worker that hangs on every task (until it is killed).
const HANG: &str = "CHAOS_HANG";

const VICTIM: &str = "chaos-a";
const WORKERS: [&str; 3] = [VICTIM, "chaos-b", "chaos-c"];
const CAPABILITY: &str = "chaos";
/// Lease duration of the workers (renewed every half of it while a task runs).
const LEASE_SECONDS: i64 = 2;

fn client(url: &str, key: &str, agent: &str) -> Client {
    Client::builder()
        .base_url(url)
        .api_key(key)
        .agent_id(agent)
        .stream_reconnect(
            ReconnectConfig::default().initial_delay(Duration::from_millis(50)).max_delay(Duration::from_millis(250)),
        )
        .build()
        .unwrap()
}

/// The task key a child intent works: its title is `chaos <key>`.
fn task_key(intent: &Intent) -> String {
    intent.title.trim_start_matches("chaos ").to_owned()
}

/// A worker process's body (started by [`coordinator_and_three_worker_processes_survive_a_kill`]).
#[test]
#[ignore = "a worker process of the chaos test, started by it with CHAOS_ROLE set"]
fn worker_process() {
    let (Ok(agent_id), Ok(url)) = (std::env::var(ROLE), std::env::var(URL)) else {
        eprintln!("worker_process runs only as a worker of the chaos test ({ROLE} and {URL} unset)");
        return;
    };
    let hang = std::env::var_os(HANG).is_some();
    let _ = tracing_subscriber::fmt().with_env_filter("openintent_agent=debug,openintent_client=debug").try_init();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async move {
        let me = agent_id.clone();
        let agent = Agent::builder(client(&url, "agent-research-key", &agent_id))
            .capabilities([CAPABILITY])
            .concurrency(2)
            .heartbeat_interval(Duration::from_millis(500))
            .heartbeat_timeouts(Duration::from_secs(3), Duration::from_secs(6))
            .lease_scopes(["work"])
            .lease_seconds(LEASE_SECONDS)
            .drain_deadline(Duration::from_secs(5))
            .drain_on_sigterm()
            .on_assignment(move |ctx| {
                let me = me.clone();
                async move {
                    let key = task_key(ctx.intent());
                    ctx.log("chaos.claimed", json!({"task": key, "agent": me})).await?;
                    if hang {
                        // Holds the lease (renewed) and writes nothing, until SIGKILL.
                        std::future::pending::<()>().await;
                    }
                    if key == "review" {
                        let choices =
                            vec![SuspensionChoice::new("approve", "Approve"), SuspensionChoice::new("deny", "Deny")];
                        match ctx.request_input("Approve the chaos review?", choices, None).await? {
                            InputOutcome::Responded(answer) => ctx.set_state("answer", answer).await?,
                            other => return Err(format!("no answer: {other:?}").into()),
                        };
                    }
                    // The task's effect on the parent, applied once: a marker keyed by task,
                    // added only when absent (read-modify-write with the version).
                    let parent = ctx.intent().parent_id.clone().ok_or("a chaos task has a parent")?;
                    let marker = json!({"task": key, "agent": me, "event_id": ctx.event_id()});
                    let added = std::sync::atomic::AtomicBool::new(false);
                    ctx.client()
                        .update_state_with(&parent, |p| {
                            let mut applied: Vec<Value> = p.state_at("/applied").ok().flatten().unwrap_or_default();
                            let fresh = !applied.iter().any(|m| m["task"] == json!(key));
                            added.store(fresh, std::sync::atomic::Ordering::SeqCst);
                            if !fresh {
                                return Vec::new();
                            }
                            applied.push(marker.clone());
                            vec![StatePatch::set_key("applied", applied)]
                        })
                        .max_attempts(50)
                        .send()
                        .await?;
                    // Each run of the work says whether it found the task's effect applied
                    // already: the test counts these runs, so a task worked twice fails it even
                    // though the marker keeps the state right.
                    let fresh = added.load(std::sync::atomic::Ordering::SeqCst);
                    ctx.log("chaos.applied", json!({"task": key, "agent": me, "fresh": fresh})).await?;
                    ctx.set_state("done_by", me.as_str()).await?;
                    ctx.complete().await?;
                    Ok(())
                }
            })
            .build();
        agent.run().await.expect("the worker runs until it is drained");
    });
}

/// The worker processes: each killed (SIGKILL) and reaped when this is dropped; their output
/// is printed when the test fails.
struct Workers {
    dir: tempfile::TempDir,
    children: Vec<(String, Child)>,
}

impl Workers {
    fn log(&self, agent: &str) -> PathBuf {
        self.dir.path().join(format!("{agent}.log"))
    }

    fn spawn(&mut self, agent: &str, url: &str, hang: bool) {
        let log = std::fs::File::create(self.log(agent)).unwrap();
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.args(["--exact", "worker_process", "--ignored", "--nocapture", "--test-threads=1"])
            .env(ROLE, agent)
            .env(URL, url)
            .env_remove(HANG)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        if hang {
            cmd.env(HANG, "1");
        }
        self.children.push((agent.to_owned(), cmd.spawn().expect("a worker process starts")));
    }

    fn child(&mut self, agent: &str) -> &mut Child {
        &mut self.children.iter_mut().find(|(a, _)| a == agent).expect("a worker of that name").1
    }

    /// Sends SIGTERM, then waits (bounded) for the process to exit; its exit status.
    async fn terminate(&mut self, agent: &str, within: Duration) -> std::process::ExitStatus {
        let child = self.child(agent);
        let pid = child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "worker {agent} did not exit within {within:?} of SIGTERM");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        for (agent, child) in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
            if std::thread::panicking() {
                let text = std::fs::read_to_string(self.dir.path().join(format!("{agent}.log"))).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(60).collect();
                eprintln!("---- worker {agent} (last lines) ----");
                for line in tail.iter().rev() {
                    eprintln!("{line}");
                }
            }
        }
    }
}

/// Waits (bounded) until `check` gives a value.
async fn until<T, F, Fut>(what: &str, within: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out after {within:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Each child's status, agents, live leases and events, and each worker's registry status: what
/// a failure message needs.
async fn where_things_stand(user: &Client, parent_id: &str) -> String {
    let mut out = String::new();
    for child in user.get_children(parent_id).await.unwrap_or_default() {
        let agents: Vec<String> =
            user.get_agents(&child.id).await.unwrap_or_default().into_iter().map(|a| a.agent_id).collect();
        let leases: Vec<String> = user
            .get_leases(&child.id)
            .all()
            .send()
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|l| format!("{}@{}..{}/{:?}", l.agent_id, l.acquired_at, l.expires_at, l.released_at))
            .collect();
        let mut events = user.get_events(&child.id).send().await.unwrap_or_default();
        events.reverse();
        let events: Vec<String> = events.iter().map(|e| format!("{}:{}", e.event_type, e.agent_id())).collect();
        out +=
            &format!("{} [{}] agents {agents:?} leases {leases:?}\n  events {events:?}\n", child.title, child.status);
    }
    for agent in WORKERS {
        let record = user.get_agent_record(agent).await.map(|r| r.status.to_string());
        out += &format!("{agent}: {record:?}\n");
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coordinator_and_three_worker_processes_survive_a_kill() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("openintent_agent=info,openintent_server=warn,sqlx=warn")
        .with_test_writer()
        .try_init();
    let started = Instant::now();
    // A database file: the killed worker's half-sent requests must not cost the server its data.
    let db = tempfile::tempdir().unwrap();
    let config = ServerConfig::builder()
        .bind(([127, 0, 0, 1], 0).into())
        .database(DatabaseLocation::SqliteFile(db.path().join("chaos.db")))
        .liveness_interval(Some(Duration::from_millis(200)))
        .build()
        .unwrap();
    let srv = openintent_server::spawn(config).await.unwrap();
    let mut workers = Workers { dir: tempfile::tempdir().unwrap(), children: Vec::new() };
    // One deadline for everything; the guard kills the workers whatever happens.
    let summary = tokio::time::timeout(Duration::from_secs(60), scenario(&srv.url(), &mut workers))
        .await
        .expect("the chaos test finishes within 60 s");
    drop(workers);
    srv.shutdown().await.unwrap();
    eprintln!("chaos: {summary}, {:.1} s in all", started.elapsed().as_secs_f64());
}

/// The workers start, the plan runs, one worker dies, a human answers, everything is checked,
/// and the survivors drain. A summary line.
async fn scenario(url: &str, workers: &mut Workers) -> String {
    let user = client(url, "dev-user-key", "chaos-human");
    for agent in WORKERS {
        workers.spawn(agent, url, agent == VICTIM);
    }
    for agent in WORKERS {
        until(&format!("{agent} registered and heartbeating"), Duration::from_secs(20), || async {
            let r = user.get_agent_record(agent).await.ok()?;
            (r.status == AgentStatus::Active && r.last_heartbeat_at.is_some()).then_some(())
        })
        .await;
    }

    // The plan: five independent tasks (one asks a human) and a summary after all of them.
    let parent = user.create_intent("chaos plan").send().await.unwrap();
    let keys = ["t1", "t2", "t3", "t4", "review"];
    let mut plan: Vec<Task> = keys.iter().map(|k| Task::new(*k, format!("chaos {k}"), CAPABILITY)).collect();
    plan.push(Task::new("summary", "chaos summary", CAPABILITY).depends_on(keys));
    let all_keys: Vec<&str> = keys.iter().copied().chain(["summary"]).collect();
    let coordinator =
        Coordinator::new(client(url, "dev-user-key", "chaos-coordinator")).liveness_check(Duration::from_millis(250));
    let parent_id = parent.id.clone();
    let run = tokio::spawn(async move { coordinator.run(&parent_id, plan).await });

    // The victim claims a task (it holds the task's lease and has written nothing), then dies.
    let children = until("the children created", Duration::from_secs(10), || async {
        let c = user.get_children(&parent.id).await.ok()?;
        (c.len() == all_keys.len()).then_some(c)
    })
    .await;
    let claimed = until("the victim working a task under its lease", Duration::from_secs(15), || async {
        for child in &children {
            let claims = user.get_events(&child.id).event_type("chaos.claimed").send().await.ok()?;
            if !claims.iter().any(|e| e.payload["agent"] == VICTIM) {
                continue;
            }
            let held = user.get_leases(&child.id).send().await.ok()?;
            if held.iter().any(|l| l.agent_id == VICTIM) {
                return Some(child.clone());
            }
        }
        None
    })
    .await;
    workers.child(VICTIM).kill().unwrap();
    workers.child(VICTIM).wait().unwrap();
    let killed_at = Instant::now();

    // The human answers the review when it is asked (by whichever worker has it).
    let review = children.iter().find(|c| task_key(c) == "review").unwrap().clone();
    let suspension = until("the review's question", Duration::from_secs(30), || async {
        user.get_suspension(&review.id).await.ok().flatten()
    })
    .await;
    assert_eq!(suspension.question, "Approve the chaos review?");
    user.respond_to_suspension(&review.id, suspension.id, "approve").send().await.unwrap();

    let outcome = match tokio::time::timeout(Duration::from_secs(40), run).await {
        Ok(joined) => joined.unwrap().expect("the plan completes"),
        Err(_) => panic!("the plan did not finish within 40 s:\n{}", where_things_stand(&user, &parent.id).await),
    };
    let took_over = killed_at.elapsed();

    // Everything completed; each task's marker is in the parent exactly once.
    assert_eq!(outcome.parent.status, IntentStatus::Completed);
    let parent = user.get_intent(&parent.id).await.unwrap();
    let applied: Vec<Value> = parent.state_at("/applied").unwrap().expect("markers on the parent");
    for key in &all_keys {
        let n = applied.iter().filter(|m| m["task"] == json!(key)).count();
        assert_eq!(n, 1, "task {key} applied {n} times: {applied:?}");
    }
    assert_eq!(applied.len(), all_keys.len(), "{applied:?}");
    for child in user.get_children(&parent.id).await.unwrap() {
        assert_eq!(child.status, IntentStatus::Completed, "{}", child.title);
        let done_by: String = child.state_at("/done_by").unwrap().expect("a worker finished it");
        assert_ne!(done_by, VICTIM);
        assert!(user.get_leases(&child.id).send().await.unwrap().is_empty(), "no lease held on {}", child.title);
        // The work ran to its effect once: no second run, even one the marker made harmless.
        let runs = user.get_events(&child.id).event_type("chaos.applied").send().await.unwrap();
        assert_eq!(runs.len(), 1, "{} worked {} times", child.title, runs.len());
        assert_eq!(runs[0].payload["fresh"], json!(true), "{}", child.title);
    }
    assert!(user.get_leases(&parent.id).send().await.unwrap().is_empty(), "no lease held on the parent");
    let claimed_key = task_key(&claimed);
    let marker = applied.iter().find(|m| m["task"] == json!(claimed_key)).unwrap();
    assert_ne!(marker["agent"], json!(VICTIM), "the killed task was finished by another worker");
    assert!(
        outcome.reassignments.iter().any(|(task, from, _)| *task == claimed_key && from == VICTIM),
        "the coordinator moved the killed task: {:?}",
        outcome.reassignments
    );
    // The victim's lease on it ran out (never released); the finisher's was released.
    let history = user.get_leases(&claimed.id).all().send().await.unwrap();
    assert!(history.iter().any(|l| l.agent_id == VICTIM && l.released_at.is_none()), "{history:?}");
    assert!(history.iter().any(|l| l.agent_id != VICTIM && l.released_at.is_some()), "{history:?}");
    assert_eq!(
        user.get_intent(&review.id).await.unwrap().state_at::<String>("/answer").unwrap().as_deref(),
        Some("approve")
    );
    let victim = user.get_agent_record(VICTIM).await.unwrap();
    assert!(matches!(victim.status, AgentStatus::Unhealthy | AgentStatus::Dead), "{:?}", victim.status);

    // The survivors drain on SIGTERM and deregister.
    for agent in &WORKERS[1..] {
        let status = workers.terminate(agent, Duration::from_secs(15)).await;
        assert!(status.success(), "worker {agent} exited with {status}");
        assert_eq!(user.get_agent_record(agent).await.unwrap().status, AgentStatus::Deregistered);
    }
    format!(
        "{} tasks, {} reassigned, finished {:.1} s after the kill",
        all_keys.len(),
        outcome.reassignments.len(),
        took_over.as_secs_f64()
    )
}
