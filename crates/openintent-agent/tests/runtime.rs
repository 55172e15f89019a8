//! The runtime against the in-process server (127.0.0.1, a database file): assignments
//! handled under leases, drain, restart with resume, panics, version conflicts, retries.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use openintent_agent::{Agent, AgentBuilder, Failure};
use openintent_client::Client;
use openintent_client::types::{AgentStatus, Intent, IntentStatus, StatePatch};
use openintent_server::{RunningServer, ServerConfig};
use openintent_transport::{Method, Request, ReqwestTransport, Response, StreamResponse, Transport, TransportError};

/// The in-process server on a database file in a directory of its own (removed with it). A
/// file, not `in_memory()`: these tests drop agents halfway through their requests, and the
/// server must keep its data whatever its pool does with a connection.
struct Server {
    running: RunningServer,
    _dir: tempfile::TempDir,
}

impl std::ops::Deref for Server {
    type Target = RunningServer;

    fn deref(&self) -> &RunningServer {
        &self.running
    }
}

async fn server() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let config = ServerConfig::builder()
        .bind(([127, 0, 0, 1], 0).into())
        .database(openintent_server::DatabaseLocation::SqliteFile(dir.path().join("agent.db")))
        .build()
        .unwrap();
    let running = openintent_server::spawn(config).await.expect("server starts");
    Server { running, _dir: dir }
}

fn agent_client(url: &str, agent: &str) -> Client {
    Client::new(url, "agent-research-key", agent).unwrap()
}

fn user(url: &str) -> Client {
    Client::new(url, "dev-user-key", "user").unwrap()
}

/// Waits (bounded: 10 s) until `check` holds.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    for _ in 0..400 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for {what}");
}

fn runs(intent: &Intent) -> u64 {
    intent.state_at::<u64>("/runs").unwrap().unwrap_or(0)
}

/// A handler that counts its runs in the intent's state (read-modify-write with the version).
fn counting(builder: AgentBuilder) -> AgentBuilder {
    builder.on_assignment(|ctx| async move {
        ctx.patch_state(|i| vec![StatePatch::set_key("runs", runs(i) + 1)]).await?;
        Ok(())
    })
}

async fn assigned(user: &Client, title: &str, agent: &str) -> Intent {
    let intent = user.create_intent(title).send().await.unwrap();
    user.assign_agent(&intent.id).agent_id(agent).send().await.unwrap();
    intent
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assignment_runs_under_a_lease_patches_state_and_completes() {
    let srv = server().await;
    let url = srv.url();
    let user = user(&url);
    let agent = Agent::builder(agent_client(&url, "worker-1"))
        .capabilities(["research"])
        .concurrency(2)
        .heartbeat_interval(Duration::from_millis(50))
        .lease_scopes(["research"])
        .on_assignment(|ctx| async move {
            assert_eq!(ctx.attempt(), 1);
            let held = ctx.leases();
            assert_eq!(held.len(), 1, "the declared lease is held while the handler runs");
            assert_eq!(held[0].scope, "research");
            ctx.set_state("findings", "three trends").await?;
            ctx.log("progress", serde_json::json!({"step": "started"})).await?;
            ctx.log("progress", serde_json::json!({"step": "done"})).await?;
            ctx.record_cost("tokens", 120.0, "tokens").await?;
            ctx.complete().await?;
            Ok(())
        })
        .build();
    let drain = agent.drain_handle();
    let run = tokio::spawn(agent.run());

    let intent = assigned(&user, "Research", "worker-1").await;
    eventually("the intent completed", || async {
        user.get_intent(&intent.id).await.unwrap().status == IntentStatus::Completed
    })
    .await;
    let done = user.get_intent(&intent.id).await.unwrap();
    assert_eq!(done.state_at::<String>("/findings").unwrap().as_deref(), Some("three trends"));
    assert_eq!(user.get_costs(&intent.id).await.unwrap().len(), 1);
    // Both events are in one trace, the second a child of the first.
    let mut progress = user.get_events(&intent.id).event_type("progress").send().await.unwrap();
    progress.sort_by_key(|e| e.payload["step"] != "started");
    assert_eq!(progress.len(), 2);
    let trace = progress[0].resolved_trace_id().expect("a trace id");
    assert_eq!(trace.len(), 32);
    assert_eq!(progress[1].resolved_trace_id(), Some(trace));
    assert_eq!(progress[1].parent_event_id.as_deref(), Some(progress[0].id.as_str()));
    let leases = user.get_leases(&intent.id).all().send().await.unwrap();
    assert_eq!(leases.len(), 1);
    assert!(leases[0].released_at.is_some(), "the lease was released: {:?}", leases[0]);

    // Registered with its capabilities and capacity, and heartbeating.
    let record = user.get_agent_record("worker-1").await.unwrap();
    assert_eq!(record.capabilities, vec!["research".to_owned()]);
    assert_eq!(record.capacity.as_ref().and_then(|c| c.max_concurrent_tasks), Some(2));
    assert_eq!(record.heartbeat_config.as_ref().and_then(|h| h.interval_seconds), Some(1), "50 ms, rounded up");
    eventually("a heartbeat", || async {
        user.get_agent_record("worker-1").await.unwrap().last_heartbeat_at.is_some()
    })
    .await;

    drain.drain();
    tokio::time::timeout(Duration::from_secs(10), run).await.expect("run returns").unwrap().unwrap();
    let record = user.get_agent_record("worker-1").await.unwrap();
    assert_eq!(record.status, AgentStatus::Deregistered);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_finishes_running_work_and_takes_no_more() {
    let srv = server().await;
    let url = srv.url();
    let user = user(&url);
    let started = Arc::new(tokio::sync::Notify::new());
    let s = started.clone();
    let agent = Agent::builder(agent_client(&url, "worker-2"))
        .concurrency(1)
        .drain_deadline(Duration::from_secs(5))
        .on_assignment(move |ctx| {
            let s = s.clone();
            async move {
                s.notify_one();
                tokio::time::sleep(Duration::from_millis(300)).await;
                ctx.set_state("finished", true).await?;
                Ok(())
            }
        })
        .build();
    let drain = agent.drain_handle();
    let run = tokio::spawn(agent.run());

    let first = assigned(&user, "First", "worker-2").await;
    tokio::time::timeout(Duration::from_secs(10), started.notified()).await.expect("the handler started");
    // Received while the only slot is busy: waiting for it when the drain starts, so not taken.
    let second = assigned(&user, "Second", "worker-2").await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    drain.drain();
    tokio::time::timeout(Duration::from_secs(10), run).await.expect("run returns").unwrap().unwrap();
    // The running work finished before run returned.
    let first = user.get_intent(&first.id).await.unwrap();
    assert_eq!(first.state_at::<bool>("/finished").unwrap(), Some(true));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(user.get_intent(&second.id).await.unwrap().state_at::<bool>("/finished").unwrap(), None);

    // The server refuses new assignments of the drained agent.
    let third = user.create_intent("Third").send().await.unwrap();
    let refused = user.assign_agent(&third.id).agent_id("worker-2").send().await.unwrap_err();
    assert!(refused.to_string().contains("takes no new work"), "{refused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_deadline_cancels_work_and_releases_its_lease() {
    let srv = server().await;
    let url = srv.url();
    let user = user(&url);
    let agent = Agent::builder(agent_client(&url, "worker-slow"))
        .drain_deadline(Duration::from_millis(200))
        .lease_scopes(["slow"])
        .on_assignment(|_ctx| async move {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok(())
        })
        .build();
    let drain = agent.drain_handle();
    let run = tokio::spawn(agent.run());
    let intent = assigned(&user, "Slow", "worker-slow").await;
    eventually("the lease is taken", || async { !user.get_leases(&intent.id).await.unwrap().is_empty() }).await;
    drain.drain();
    tokio::time::timeout(Duration::from_secs(15), run)
        .await
        .expect("run returns within the deadline")
        .unwrap()
        .unwrap();
    assert!(user.get_leases(&intent.id).await.unwrap().is_empty(), "no active lease is left");
}

/// Waits until `agent` is registered and active (a restarted agent re-registers).
async fn active(user: &Client, agent: &str) {
    eventually("the agent active", || async {
        user.get_agent_record(agent).await.is_ok_and(|r| r.status == AgentStatus::Active)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_resumes_after_the_cursor_without_reprocessing() {
    let srv = server().await;
    let url = srv.url();
    let user = user(&url);
    let dir = tempfile::tempdir().unwrap();
    let cursor = dir.path().join("worker-3.cursor");
    let start = || {
        let agent = counting(Agent::builder(agent_client(&url, "worker-3")).cursor_file(&cursor)).build();
        let drain = agent.drain_handle();
        (drain, tokio::spawn(agent.run()))
    };

    let (drain, run) = start();
    let a = assigned(&user, "A", "worker-3").await;
    eventually("A handled", || async { runs(&user.get_intent(&a.id).await.unwrap()) == 1 }).await;
    eventually("the cursor written", || async { cursor.exists() }).await;
    drain.drain();
    run.await.unwrap().unwrap();

    // A is still active, so only the cursor keeps the restarted agent from running it again
    // (without it, the agent replays its stream from the start).
    let (drain, run) = start();
    active(&user, "worker-3").await;
    let b = assigned(&user, "B", "worker-3").await;
    eventually("B handled", || async { runs(&user.get_intent(&b.id).await.unwrap()) == 1 }).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(runs(&user.get_intent(&a.id).await.unwrap()), 1, "A ran once");
    drain.drain();
    run.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_unfinished_at_a_crash_is_delivered_again_after_restart() {
    let srv = server().await;
    let url = srv.url();
    let user = user(&url);
    let dir = tempfile::tempdir().unwrap();
    let cursor = dir.path().join("worker-6.cursor");

    // The first process handles A, then hangs on B and dies (its future is dropped, no drain).
    let hanging = Agent::builder(agent_client(&url, "worker-6"))
        .cursor_file(&cursor)
        .on_assignment(|ctx| async move {
            if ctx.intent().title == "B" {
                ctx.set_state("seen_by_first", true).await?;
                std::future::pending::<()>().await;
            }
            ctx.patch_state(|i| vec![StatePatch::set_key("runs", runs(i) + 1)]).await?;
            Ok(())
        })
        .build();
    let crashed = tokio::spawn(hanging.run());
    let a = assigned(&user, "A", "worker-6").await;
    eventually("A handled", || async { runs(&user.get_intent(&a.id).await.unwrap()) == 1 }).await;
    let b = assigned(&user, "B", "worker-6").await;
    eventually("B started", || async {
        user.get_intent(&b.id).await.unwrap().state_at::<bool>("/seen_by_first").unwrap() == Some(true)
    })
    .await;
    crashed.abort();
    let _ = crashed.await;

    // The restarted agent gets B again (at-least-once), not A.
    let agent = counting(Agent::builder(agent_client(&url, "worker-6")).cursor_file(&cursor)).build();
    let drain = agent.drain_handle();
    let run = tokio::spawn(agent.run());
    eventually("B handled after the restart", || async { runs(&user.get_intent(&b.id).await.unwrap()) == 1 }).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(runs(&user.get_intent(&a.id).await.unwrap()), 1, "A ran once");
    drain.drain();
    run.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_releases_its_lease_and_records_the_failure() {
    let srv = server().await;
    let url = srv.url();
    let user = user(&url);
    let agent = Agent::builder(agent_client(&url, "worker-4"))
        .lease_scopes(["fragile"])
        .on_assignment(|ctx| async move {
            if ctx.intent().title == "Boom" {
                panic!("boom");
            }
            Ok(())
        })
        .build();
    let drain = agent.drain_handle();
    let run = tokio::spawn(agent.run());
    let intent = assigned(&user, "Boom", "worker-4").await;
    eventually("the failure recorded", || async { !user.get_failures(&intent.id).await.unwrap().is_empty() }).await;
    let failures = user.get_failures(&intent.id).await.unwrap();
    assert_eq!((failures[0].error_type.as_str(), failures[0].error_message.as_str()), ("panic", "panic: boom"));
    assert_eq!(failures[0].will_retry, Some(false), "no retry policy: no retry");
    eventually("the lease released", || async { user.get_leases(&intent.id).await.unwrap().is_empty() }).await;
    let all = user.get_leases(&intent.id).all().send().await.unwrap();
    assert_eq!(all.len(), 1, "the lease was taken once");

    // The agent goes on working after the panic.
    let next = assigned(&user, "Fine", "worker-4").await;
    eventually("the next lease taken and released", || async {
        let all = user.get_leases(&next.id).all().send().await.unwrap();
        all.len() == 1 && all[0].released_at.is_some()
    })
    .await;
    drain.drain();
    run.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_retried_per_the_intent_retry_policy() {
    let srv = server().await;
    let url = srv.url();
    let user = user(&url);
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let agent = Agent::builder(agent_client(&url, "worker-5"))
        .on_assignment(move |ctx| {
            let c = c.clone();
            async move {
                c.fetch_add(1, Ordering::SeqCst);
                if ctx.attempt() < 3 {
                    return Err(Failure::new("flaky", format!("attempt {}", ctx.attempt())).into());
                }
                ctx.set_state("attempts", ctx.attempt()).await?;
                Ok(())
            }
        })
        .build();
    let drain = agent.drain_handle();
    let run = tokio::spawn(agent.run());

    let intent = user.create_intent("Flaky").send().await.unwrap();
    user.set_retry_policy(&intent.id)
        .max_attempts(3)
        .base_delay_seconds(0.01)
        .max_delay_seconds(0.05)
        .retryable_errors(["flaky"])
        .send()
        .await
        .unwrap();
    user.assign_agent(&intent.id).agent_id("worker-5").send().await.unwrap();
    eventually("the third attempt succeeded", || async {
        user.get_intent(&intent.id).await.unwrap().state_at::<u32>("/attempts").unwrap() == Some(3)
    })
    .await;
    let failures = user.get_failures(&intent.id).await.unwrap();
    let seen: Vec<_> = failures.iter().map(|f| (f.error_type.as_str(), f.attempt_number, f.will_retry)).collect();
    assert_eq!(seen, [("flaky", 1, Some(true)), ("flaky", 2, Some(true))]);

    // An error type the policy does not list is not retried.
    let other = user.create_intent("Other").send().await.unwrap();
    user.set_retry_policy(&other.id)
        .max_attempts(3)
        .base_delay_seconds(0.01)
        .retryable_errors(["else"])
        .send()
        .await
        .unwrap();
    let before = calls.load(Ordering::SeqCst);
    user.assign_agent(&other.id).agent_id("worker-5").send().await.unwrap();
    eventually("the failure recorded", || async { !user.get_failures(&other.id).await.unwrap().is_empty() }).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(calls.load(Ordering::SeqCst) - before, 1, "one attempt only");
    assert_eq!(user.get_failures(&other.id).await.unwrap()[0].will_retry, Some(false));
    drain.drain();
    run.await.unwrap().unwrap();
}

/// Lets a competitor write the intent's state just before the first state write and the first
/// status change of the agent, so that both meet a real version conflict on the server.
#[derive(Debug)]
struct Competing {
    inner: ReqwestTransport,
    state_once: AtomicBool,
    status_once: AtomicBool,
}

#[async_trait::async_trait]
impl Transport for Competing {
    async fn send(&self, req: Request) -> Result<Response, TransportError> {
        if req.method == Method::Post && req.path.ends_with("/state") && self.state_once.swap(false, Ordering::SeqCst) {
            // The same write, first: the agent's own then carries a stale version.
            self.inner.send(req.clone()).await?;
        }
        if req.method == Method::Post && req.path.ends_with("/status") && self.status_once.swap(false, Ordering::SeqCst)
        {
            let version = req.headers.get("if-match").unwrap_or_default().to_owned();
            let write = Request::post(req.path.replace("/status", "/state"))
                .header("If-Match", version)
                .json_body(r#"{"patches": [{"op": "set", "path": "/competitor", "value": true}]}"#);
            let resp = self.inner.send(write).await?;
            assert_eq!(resp.status, 200, "the competing write applies");
        }
        self.inner.send(req).await
    }

    async fn send_stream(&self, req: Request) -> Result<StreamResponse, TransportError> {
        self.inner.send_stream(req).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_and_status_writes_reread_on_version_conflicts() {
    let srv = server().await;
    let url = srv.url();
    let user = user(&url);
    let inner = ReqwestTransport::builder(url.clone()).api_key("agent-research-key").build().unwrap();
    let transport = Competing { inner, state_once: AtomicBool::new(true), status_once: AtomicBool::new(true) };
    let agent = Agent::builder(Client::from_transport(transport, "worker-7"))
        .on_assignment(|ctx| async move {
            ctx.patch_state(|i| vec![StatePatch::set_key("runs", runs(i) + 1)]).await?;
            ctx.complete().await?;
            Ok(())
        })
        .build();
    let drain = agent.drain_handle();
    let run = tokio::spawn(agent.run());
    let intent = assigned(&user, "Contended", "worker-7").await;
    eventually("the intent completed", || async {
        user.get_intent(&intent.id).await.unwrap().status == IntentStatus::Completed
    })
    .await;
    let done = user.get_intent(&intent.id).await.unwrap();
    // The competitor's write of runs = 1 came first; the agent read again and wrote 2.
    assert_eq!(runs(&done), 2);
    assert_eq!(done.state_at::<bool>("/competitor").unwrap(), Some(true));
    assert!(user.get_failures(&intent.id).await.unwrap().is_empty(), "no attempt failed");
    drain.drain();
    run.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_stream_reconnects_and_resumes_without_reprocessing() {
    use openintent_client::ReconnectConfig;
    use openintent_server::DatabaseLocation;

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("agent.db");
    let config =
        |addr| ServerConfig::builder().bind(addr).database(DatabaseLocation::SqliteFile(db.clone())).build().unwrap();
    let srv = openintent_server::spawn(config("127.0.0.1:0".parse().unwrap())).await.unwrap();
    let addr = srv.addr();
    let url = srv.url();
    let user = user(&url);
    let client = Client::builder()
        .base_url(url.clone())
        .api_key("agent-research-key")
        .agent_id("worker-8")
        .stream_reconnect(
            ReconnectConfig::default().initial_delay(Duration::from_millis(50)).max_delay(Duration::from_millis(200)),
        )
        .build()
        .unwrap();
    let agent = counting(Agent::builder(client).heartbeat_interval(Duration::from_millis(100))).build();
    let drain = agent.drain_handle();
    let run = tokio::spawn(agent.run());
    let a = assigned(&user, "A", "worker-8").await;
    eventually("A handled", || async { runs(&user.get_intent(&a.id).await.unwrap()) == 1 }).await;

    // The server goes away (the stream breaks) and comes back on the same address and data.
    srv.shutdown().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let srv = openintent_server::spawn(config(addr)).await.unwrap();
    let b = assigned(&user, "B", "worker-8").await;
    eventually("B handled after the reconnect", || async { runs(&user.get_intent(&b.id).await.unwrap()) == 1 }).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(runs(&user.get_intent(&a.id).await.unwrap()), 1, "A was not replayed");
    drain.drain();
    tokio::time::timeout(Duration::from_secs(10), run).await.unwrap().unwrap().unwrap();
    srv.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drain_ends_the_wait_before_a_retry() {
    let srv = server().await;
    let url = srv.url();
    let user = user(&url);
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let agent = Agent::builder(agent_client(&url, "worker-9"))
        .drain_deadline(Duration::from_secs(30))
        .on_assignment(move |_ctx| {
            let c = c.clone();
            async move {
                c.fetch_add(1, Ordering::SeqCst);
                Err(Failure::new("flaky", "always").into())
            }
        })
        .build();
    let drain = agent.drain_handle();
    let run = tokio::spawn(agent.run());
    let intent = user.create_intent("Slow retry").send().await.unwrap();
    user.set_retry_policy(&intent.id)
        .max_attempts(3)
        .base_delay_seconds(60.0)
        .max_delay_seconds(60.0)
        .send()
        .await
        .unwrap();
    user.assign_agent(&intent.id).agent_id("worker-9").send().await.unwrap();
    eventually("the first failure", || async { !user.get_failures(&intent.id).await.unwrap().is_empty() }).await;
    drain.drain();
    // Well before the 60 s delay and the 30 s drain deadline.
    tokio::time::timeout(Duration::from_secs(5), run).await.expect("run returns").unwrap().unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1, "no attempt after the drain");
}

/// Fails the first reads of intents with a connection error.
#[derive(Debug)]
struct FlakyReads {
    inner: ReqwestTransport,
    failures_left: AtomicUsize,
}

#[async_trait::async_trait]
impl Transport for FlakyReads {
    async fn send(&self, req: Request) -> Result<Response, TransportError> {
        let intent_read =
            req.method == Method::Get && req.path.starts_with("/api/v1/intents/") && req.path.matches('/').count() == 4;
        if intent_read
            && self.failures_left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok()
        {
            return Err(TransportError::other("connection reset (injected)"));
        }
        self.inner.send(req).await
    }

    async fn send_stream(&self, req: Request) -> Result<StreamResponse, TransportError> {
        self.inner.send_stream(req).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transient_failure_to_read_the_intent_does_not_lose_the_assignment() {
    let srv = server().await;
    let url = srv.url();
    let user = user(&url);
    let inner = ReqwestTransport::builder(url.clone()).api_key("agent-research-key").build().unwrap();
    let transport = FlakyReads { inner, failures_left: AtomicUsize::new(2) };
    let agent = counting(Agent::builder(Client::from_transport(transport, "worker-10"))).build();
    let drain = agent.drain_handle();
    let run = tokio::spawn(agent.run());
    let intent = assigned(&user, "Read twice", "worker-10").await;
    eventually("the work done", || async { runs(&user.get_intent(&intent.id).await.unwrap()) == 1 }).await;
    drain.drain();
    run.await.unwrap().unwrap();
}
