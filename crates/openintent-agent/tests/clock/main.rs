//! The runtime on tokio's paused clock (`start_paused = true`) over an in-memory server: retry
//! backoff and a human-input timeout of an hour take no wall-clock time, and the delays are
//! checked to the millisecond on tokio's clock.

mod fake;

use std::time::Duration;

use fake::Fake;
use openintent_agent::{Agent, AgentHandlers, Ctx, Failure, HandlerResult};
use openintent_client::Client;
use openintent_client::hitl::InputOutcome;
use openintent_client::types::{IntentStatus, SuspensionChoice};
use serde_json::json;
use tokio::time::Instant;

/// Waits on tokio's clock (bounded: six virtual minutes) until the agent's stream is open (the
/// fake does not replay: an assignment made before would be lost).
async fn stream_open(fake: &Fake) {
    for _ in 0..3600 {
        if fake.agent_streams() > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the agent never opened its stream");
}

#[tokio::test(start_paused = true)]
async fn retry_backoff_runs_on_the_paused_clock() {
    let wall = std::time::Instant::now();
    let fake = Fake::default();
    fake.intent("i-1", "Flaky");
    fake.state().retry_policies.insert(
        "i-1".to_owned(),
        json!({"id": "p-1", "intent_id": "i-1", "strategy": "exponential", "max_retries": 3, "base_delay_ms": 10000,
            "max_delay_ms": 600000, "jitter": false, "backoff_multiplier": 3.0}),
    );
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let agent = Agent::builder(Client::from_transport(fake.clone(), "clock-agent"))
        .on_assignment(move |ctx| {
            let tx = tx.clone();
            async move {
                tx.send((ctx.attempt(), Instant::now())).unwrap();
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
    stream_open(&fake).await;
    fake.assign("i-1", "clock-agent");

    let mut attempts = Vec::new();
    for _ in 0..3 {
        attempts.push(tokio::time::timeout(Duration::from_secs(3600), rx.recv()).await.unwrap().unwrap());
    }
    let numbers: Vec<u32> = attempts.iter().map(|(n, _)| *n).collect();
    assert_eq!(numbers, [1, 2, 3]);
    // Exponential: 10 s, then 10 s × 3. Exactly, on tokio's clock.
    let gaps: Vec<Duration> = attempts.windows(2).map(|w| w[1].1 - w[0].1).collect();
    assert_eq!(gaps, [Duration::from_secs(10), Duration::from_secs(30)]);

    let failures: Vec<_> = fake.state().failures.iter().map(|(_, f)| f.clone()).collect();
    assert_eq!(failures.len(), 2);
    for (i, f) in failures.iter().enumerate() {
        assert_eq!(f["error_type"], json!("flaky"));
        assert_eq!(f["attempt_number"], json!(i + 1));
        assert_eq!(f["will_retry"], json!(true));
    }
    for _ in 0..100 {
        if fake.state().intents["i-1"]["state"]["attempts"] == json!(3) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(fake.state().intents["i-1"]["state"]["attempts"], json!(3));
    drain.drain();
    tokio::time::timeout(Duration::from_secs(60), run).await.unwrap().unwrap().unwrap();
    assert!(wall.elapsed() < Duration::from_secs(10), "40 s of backoff took {:?} of wall time", wall.elapsed());
}

#[tokio::test(start_paused = true)]
async fn request_input_timeout_runs_on_the_paused_clock() {
    let wall = std::time::Instant::now();
    let fake = Fake::default();
    fake.intent("i-2", "Ship");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let agent = Agent::builder(Client::from_transport(fake.clone(), "clock-agent"))
        .on_assignment(move |ctx| {
            let tx = tx.clone();
            async move {
                let choices = vec![SuspensionChoice::new("ship", "Ship"), SuspensionChoice::new("deny", "Deny")];
                let outcome = ctx.request_input("Ship it?", choices, Some(Duration::from_secs(3600))).await?;
                tx.send((outcome, Instant::now())).unwrap();
                Ok(())
            }
        })
        .build();
    let drain = agent.drain_handle();
    let run = tokio::spawn(agent.run());
    stream_open(&fake).await;
    fake.assign("i-2", "clock-agent");

    let (outcome, at) = tokio::time::timeout(Duration::from_secs(7200), rx.recv()).await.unwrap().unwrap();
    match outcome {
        InputOutcome::Expired { value, status } => {
            assert_eq!(value, Some(json!("deny")), "the fallback value");
            assert_eq!(status, IntentStatus::Completed);
        }
        other => panic!("expected the timeout, got {other:?}"),
    }
    let suspended_at = fake.state().suspended_at[0];
    let expired_at = fake.state().expired_at[0];
    assert_eq!(expired_at - suspended_at, Duration::from_secs(3600), "the timeout asked for");
    assert!(at >= expired_at && at - expired_at < Duration::from_secs(1), "answered when it expired");
    drain.drain();
    tokio::time::timeout(Duration::from_secs(60), run).await.unwrap().unwrap().unwrap();
    assert!(wall.elapsed() < Duration::from_secs(10), "an hour's timeout took {:?} of wall time", wall.elapsed());
}

/// Handlers as a trait impl: the work and the drain hook report what they see.
struct Reporter {
    seen: tokio::sync::mpsc::UnboundedSender<String>,
}

impl AgentHandlers for Reporter {
    async fn on_assignment(&self, ctx: Ctx) -> HandlerResult {
        self.seen.send(format!("work {}", ctx.intent().title)).unwrap();
        Ok(())
    }

    async fn on_drain(&self) {
        self.seen.send("drain".to_owned()).unwrap();
    }
}

#[tokio::test(start_paused = true)]
async fn trait_handlers_ready_and_drain_hooks_run_in_order() {
    let fake = Fake::default();
    fake.intent("i-3", "Traits");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let ready = tx.clone();
    let agent = Agent::builder(Client::from_transport(fake.clone(), "clock-agent"))
        .handlers(Reporter { seen: tx })
        .on_ready(move || {
            ready.send("ready".to_owned()).unwrap();
            async {}
        })
        .build();
    let drain = agent.drain_handle();
    let run = tokio::spawn(agent.run());
    let next = |rx: &mut tokio::sync::mpsc::UnboundedReceiver<String>| {
        let got = rx.try_recv();
        got.ok()
    };
    let mut seen = Vec::new();
    for _ in 0..100 {
        if let Some(s) = next(&mut rx) {
            seen.push(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Ready means the stream is open: an assignment made now reaches the agent.
    assert_eq!(seen, ["ready"]);
    assert_eq!(fake.agent_streams(), 1);
    fake.assign("i-3", "clock-agent");
    seen.push(tokio::time::timeout(Duration::from_secs(60), rx.recv()).await.unwrap().unwrap());
    drain.drain();
    tokio::time::timeout(Duration::from_secs(60), run).await.unwrap().unwrap().unwrap();
    while let Ok(s) = rx.try_recv() {
        seen.push(s);
    }
    assert_eq!(seen, ["ready", "work Traits", "drain"], "the drain hook runs once");
    let requests = fake.state().requests.clone();
    let drained = requests.iter().position(|r| r == "PATCH /api/v1/agents/clock-agent/status");
    let deregistered = requests.iter().position(|r| r == "DELETE /api/v1/agents/clock-agent");
    assert!(drained.is_some() && deregistered > drained, "marked draining, then deregistered: {requests:?}");
}
