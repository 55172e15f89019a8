//! The run loop: registration, heartbeats, the agent stream with resume, the concurrency
//! limit, work under leases with retries, and the drain.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use openintent_client::Client;
use openintent_client::types::{
    AgentAssignment, AgentCapacity, HeartbeatConfig, Intent, IntentStatus, Lease, RetryPolicy, RetryStrategy,
    StreamEvent,
};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::agent::{Agent, DrainHandle};
use crate::ctx::Ctx;
use crate::ctx::{Trace, release_all};
use crate::cursor::Cursor;
use crate::handler::Failure;
use crate::handler::{BoxError, Handler, error_type_of};
use crate::watch::{IntentHandlers, WatchBook, Watched, follow_intent};

/// Why [`Agent::run`] stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgentError {
    /// The agent could not be registered.
    #[error("registering the agent failed: {0}")]
    Register(#[source] openintent_client::Error),
    /// The agent stream was refused or ended for good (after the client's reconnects).
    #[error("the agent stream failed: {0}")]
    Stream(#[source] openintent_client::Error),
    /// The cursor file could not be read.
    #[error("reading the cursor file failed: {0}")]
    Cursor(#[source] std::io::Error),
}

/// What every piece of work shares.
struct Shared {
    client: Client,
    handler: Option<Handler>,
    intent_handlers: IntentHandlers,
    /// Intents whose streams are followed for the intent handlers.
    watched: Arc<Mutex<WatchBook>>,
    scopes: Vec<String>,
    lease_seconds: i64,
    /// Draining: no new attempt starts.
    draining: watch::Receiver<bool>,
    /// The drain deadline passed: running handlers are cancelled.
    cancel: watch::Receiver<bool>,
    /// Intents being worked on (sent with heartbeats).
    in_flight: Mutex<Vec<String>>,
    cursor: Mutex<Cursor>,
}

impl Agent {
    /// Runs the agent until it is drained ([`DrainHandle::drain`](crate::DrainHandle::drain),
    /// or SIGTERM with [`drain_on_sigterm`](crate::AgentBuilder::drain_on_sigterm)) or its
    /// stream fails for good: registers it, heartbeats, follows its stream (resuming after the
    /// cursor), runs the work, and on drain finishes or cancels running work within the
    /// deadline and deregisters.
    pub async fn run(self) -> Result<(), AgentError> {
        let client = self.client.clone();
        let agent_id = client.agent_id().to_owned();
        let mut capacity = AgentCapacity::default();
        capacity.max_concurrent_tasks = Some(self.concurrency as i64);
        // The registry's liveness expects heartbeats at the interval they come at.
        let mut heartbeat_config = HeartbeatConfig::default();
        // Unhealthy after three missed beats, dead after twice that (or the registry's defaults,
        // 90 s and 300 s, when longer).
        let interval = self.heartbeat.as_secs_f64().ceil().max(1.0) as i64;
        let (unhealthy, dead) = match self.heartbeat_timeouts {
            // RFC-0016 §3.3: unhealthy after at least two intervals, dead after at least twice that.
            Some((u, d)) => {
                let unhealthy = (u.as_secs_f64().ceil() as i64).max(2 * interval);
                (unhealthy, (d.as_secs_f64().ceil() as i64).max(2 * unhealthy))
            }
            None => {
                let unhealthy = (3 * interval).max(90);
                (unhealthy, (2 * unhealthy).max(300))
            }
        };
        heartbeat_config.interval_seconds = Some(interval);
        heartbeat_config.unhealthy_after_seconds = Some(unhealthy);
        heartbeat_config.dead_after_seconds = Some(dead);
        let mut register = client
            .register_agent(agent_id.clone())
            .capabilities(self.capabilities.clone())
            .capacity(capacity)
            .heartbeat_config(heartbeat_config);
        if let Some(name) = &self.name {
            register = register.name(name.clone());
        }
        register.send().await.map_err(AgentError::Register)?;

        let cursor = Cursor::open(self.cursor_file.clone()).map_err(AgentError::Cursor)?;
        let watch_file =
            self.cursor_file.as_ref().filter(|_| !self.intent_handlers.is_empty()).map(|c| c.with_extension("intents"));
        let watch_book = WatchBook::open(watch_file).map_err(AgentError::Cursor)?;
        let mut drain_rx = self.drain_tx.subscribe();
        let (cancel_tx, cancel_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            client: client.clone(),
            handler: self.on_assignment.clone(),
            intent_handlers: self.intent_handlers.clone(),
            watched: Arc::new(Mutex::new(watch_book)),
            scopes: self.scopes.clone(),
            lease_seconds: self.lease_seconds,
            draining: drain_rx.clone(),
            cancel: cancel_rx,
            in_flight: Mutex::new(Vec::new()),
            cursor: Mutex::new(cursor),
        });
        let heartbeat = AbortOnDrop(tokio::spawn(heartbeats(shared.clone(), self.heartbeat)));
        let signals = self.stop_on_sigterm.then(|| AbortOnDrop(tokio::spawn(drain_on_signal(self.drain_handle()))));

        let result = self.follow(&shared, &mut drain_rx).await;

        // The drain: stop taking work, tell the registry, let running work finish or cancel it.
        self.drain_tx.send_replace(true);
        let drain_secs = self.drain_deadline.as_secs().max(1) as i64;
        if let Err(e) = client.drain_agent(&agent_id).drain_timeout_seconds(drain_secs).send().await {
            tracing::warn!(agent_id, error = %e, "could not mark the agent draining");
        }
        if let Some(hook) = &self.on_drain {
            hook().await;
        }
        let mut tasks = result.tasks;
        let mut watchers = result.watchers;
        let finished =
            tokio::time::timeout(self.drain_deadline, async { while tasks.join_next().await.is_some() {} }).await;
        if finished.is_err() {
            tracing::warn!(agent_id, running = tasks.len(), "drain deadline passed; cancelling running work");
            cancel_tx.send_replace(true);
            // Cancelled work releases its leases; give that a bounded time.
            let _ = tokio::time::timeout(Duration::from_secs(10), async { while tasks.join_next().await.is_some() {} })
                .await;
            tasks.abort_all();
        }
        watchers.abort_all();
        while watchers.join_next().await.is_some() {}
        drop(heartbeat);
        drop(signals);
        if let Err(e) = client.deregister_agent(&agent_id).await {
            tracing::warn!(agent_id, error = %e, "could not deregister the agent");
        }
        result.error.map_or(Ok(()), Err)
    }

    /// Follows the agent stream until draining starts or the stream fails.
    async fn follow(&self, shared: &Arc<Shared>, drain_rx: &mut watch::Receiver<bool>) -> Followed {
        let mut tasks = JoinSet::new();
        let mut watchers = JoinSet::new();
        let agent_id = self.client.agent_id().to_owned();
        let limit = Arc::new(Semaphore::new(self.concurrency));
        let position = lock(&shared.cursor).position().map(str::to_owned);
        let builder = self.client.stream_agent_events(&agent_id);
        let builder = match position {
            Some(p) => builder.last_event_id(p),
            None => builder.from_start(),
        };
        let mut stream = match builder.connect().await {
            Ok(s) => s,
            Err(e) => return Followed { tasks, watchers, error: Some(AgentError::Stream(e)) },
        };
        tracing::info!(agent_id, "agent running");
        if let Some(hook) = &self.on_ready {
            hook().await;
        }
        // The intents followed before a restart, from where they were.
        for watched in lock(&shared.watched).entries() {
            watchers.spawn(watch_intent(shared.clone(), watched));
        }
        let mut last_seen = None;
        loop {
            while tasks.try_join_next().is_some() {}
            while watchers.try_join_next().is_some() {}
            if *drain_rx.borrow_and_update() {
                return Followed { tasks, watchers, error: None };
            }
            let item = tokio::select! {
                _ = drain_rx.changed() => continue,
                item = stream.next() => item,
            };
            let event = match item {
                Some(Ok(event)) => event,
                Some(Err(e)) => return Followed { tasks, watchers, error: Some(AgentError::Stream(e)) },
                None => {
                    let e = openintent_client::Error::Transport(openintent_client::TransportError::other(
                        "the agent stream ended",
                    ));
                    return Followed { tasks, watchers, error: Some(AgentError::Stream(e)) };
                }
            };
            // An event without an `id:` leaves the last id as it was. Such an assignment is
            // still worked, under a key of its own that is never written to the cursor file.
            let last = stream.last_event_id();
            let durable = last.is_some() && last != last_seen;
            let id = match (&event, durable) {
                (_, true) => {
                    last_seen.clone_from(&last);
                    last.unwrap_or_default()
                }
                (StreamEvent::AgentAssigned(a), false) => format!("assignment:{}", a.id),
                _ => continue,
            };
            lock(&shared.cursor).received(id.clone(), durable);
            match event {
                StreamEvent::AgentAssigned(assignment) if assignment.agent_id == agent_id => {
                    if !shared.intent_handlers.is_empty() {
                        let watched =
                            Watched { assignment: (*assignment).clone(), position: durable.then(|| id.clone()) };
                        if lock(&shared.watched).start(watched.clone()) {
                            watchers.spawn(watch_intent(shared.clone(), watched));
                        }
                    }
                    let permit = tokio::select! {
                        p = limit.clone().acquire_owned() => p,
                        // Not committed: a restart sees this assignment again.
                        _ = drain_rx.changed() => return Followed { tasks, watchers, error: None },
                    };
                    let Ok(permit) = permit else { return Followed { tasks, watchers, error: None } };
                    let shared = shared.clone();
                    tasks.spawn(async move {
                        let _permit = permit;
                        work(shared, *assignment, id).await;
                    });
                }
                _ => commit(shared, &id),
            }
        }
    }
}

/// Follows one intent for the intent handlers.
async fn watch_intent(shared: Arc<Shared>, watched: Watched) {
    let intent_id = watched.assignment.intent_id.clone();
    let finished = follow_intent(
        shared.client.clone(),
        shared.intent_handlers.clone(),
        watched.assignment,
        watched.position,
        shared.draining.clone(),
        shared.watched.clone(),
    )
    .await;
    lock(&shared.watched).stop(&intent_id, finished);
}

/// What following the stream left: the running work, and the error that ended it.
struct Followed {
    tasks: JoinSet<()>,
    /// The intent streams followed for the intent handlers (they end with the drain).
    watchers: JoinSet<()>,
    error: Option<AgentError>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn commit(shared: &Shared, event_id: &str) {
    if let Err(e) = lock(&shared.cursor).done(event_id) {
        tracing::warn!(event_id, error = %e, "could not write the stream cursor");
    }
}

async fn heartbeats(shared: Arc<Shared>, every: Duration) {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let tasks = lock(&shared.in_flight).clone();
        let agent_id = shared.client.agent_id().to_owned();
        let mut call =
            shared.client.agent_heartbeat(&agent_id).current_load(tasks.len() as i64).tasks_in_progress(tasks);
        if *shared.draining.borrow() {
            call = call.draining();
        }
        if let Err(e) = call.send().await {
            tracing::warn!(agent_id, error = %e, "heartbeat failed");
        }
    }
}

async fn drain_on_signal(handle: DrainHandle) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    tracing::info!("signal received; draining");
    handle.drain();
}

/// Works one assignment: attempts per the retry policy, then commits its event (unless the
/// work was cancelled by the drain deadline: then a restart sees it again).
async fn work(shared: Arc<Shared>, assignment: AgentAssignment, event_id: String) {
    let span = tracing::info_span!(
        "openintent.work",
        agent_id = %shared.client.agent_id(),
        intent_id = %assignment.intent_id,
        event_id = %event_id,
        trace_id = tracing::field::Empty,
        attempt = tracing::field::Empty,
    );
    lock(&shared.in_flight).push(assignment.intent_id.clone());
    let finished = attempts(&shared, &assignment, &event_id).instrument(span).await;
    lock(&shared.in_flight).retain(|i| i != &assignment.intent_id);
    if finished {
        commit(&shared, &event_id);
    }
}

/// Runs attempts until one succeeds or the policy gives up; false when cancelled.
async fn attempts(shared: &Arc<Shared>, assignment: &AgentAssignment, event_id: &str) -> bool {
    let client = &shared.client;
    let intent_id = &assignment.intent_id;
    let mut attempt = 1u32;
    loop {
        let Some(intent) = read_assigned(shared, intent_id).await else { return false };
        let Some(intent) = intent else { return true };
        if matches!(intent.status, IntentStatus::Completed | IntentStatus::Abandoned) {
            tracing::debug!(status = %intent.status, "intent already finished; skipping");
            return true;
        }
        let Some(handler) = shared.handler.clone() else { return true };
        let span = tracing::Span::current();
        span.record("attempt", attempt);
        let trace = Trace::new();
        span.record("trace_id", trace.id.as_str());
        let ctx = Ctx {
            client: client.clone(),
            intent,
            assignment: assignment.clone(),
            event: Some(StreamEvent::AgentAssigned(Box::new(assignment.clone()))),
            event_id: event_id.to_owned(),
            attempt,
            lease_seconds: shared.lease_seconds,
            leases: Arc::new(Mutex::new(Vec::new())),
            trace,
        };
        let err = match attempt_once(shared, handler, ctx).await {
            Ok(()) => return true,
            Err(Outcome::Cancelled) => return false,
            Err(Outcome::Failed(err)) => err,
        };
        let error_type = error_type_of(&err);
        let policy = client.get_retry_policy(intent_id).await.ok().flatten();
        let delay = retry_delay(policy.as_ref(), attempt, &error_type).filter(|_| !*shared.draining.borrow());
        tracing::warn!(error = %err, error_type, attempt, will_retry = delay.is_some(), "handler failed");
        let mut record = client.record_failure(intent_id, error_type, err.to_string()).attempt(attempt as i64);
        record = record.will_retry(delay.is_some());
        if let Some(d) = delay
            && let Ok(d) = chrono::Duration::from_std(d)
        {
            record = record.retry_scheduled_at(chrono::Utc::now() + d);
        }
        if let Err(e) = record.send().await {
            tracing::warn!(error = %e, "could not record the failure");
        }
        let Some(delay) = delay else { return true };
        // A drain ends the wait: no attempt starts once draining, and the assignment stays
        // uncommitted, so a restarted agent sees it again.
        let mut draining = shared.draining.clone();
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = draining.wait_for(|d| *d) => return false,
        }
        attempt += 1;
    }
}

/// Reads the assigned intent: `Some(None)` when it is gone or not readable (the assignment is
/// skipped), `None` when it could not be read for now (transient failures are retried a few
/// times; then the assignment stays uncommitted, so a restarted agent sees it again).
async fn read_assigned(shared: &Shared, intent_id: &str) -> Option<Option<Intent>> {
    let mut draining = shared.draining.clone();
    let mut delay = Duration::from_millis(100);
    for round in 1..=READ_ATTEMPTS {
        match shared.client.get_intent(intent_id).await {
            Ok(intent) => return Some(Some(intent)),
            Err(e) if e.is_not_found() || e.is_forbidden() || e.is_unauthorized() => {
                tracing::warn!(error = %e, "the assigned intent cannot be read; skipping it");
                return Some(None);
            }
            Err(e) if round == READ_ATTEMPTS => {
                tracing::error!(error = %e, "could not read the assigned intent; leaving it for a restart");
            }
            Err(e) => {
                tracing::warn!(error = %e, round, "could not read the assigned intent; trying again");
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = draining.wait_for(|d| *d) => return None,
                }
                delay *= 2;
            }
        }
    }
    None
}

/// How many times an assigned intent is read before its work is left for a restart.
const READ_ATTEMPTS: u32 = 5;

enum Outcome {
    Failed(BoxError),
    Cancelled,
}

/// One attempt: declared leases acquired, the handler run on its own task (so a panic is
/// caught), leases renewed meanwhile and released afterwards, however it ended.
async fn attempt_once(shared: &Arc<Shared>, handler: Handler, ctx: Ctx) -> Result<(), Outcome> {
    let leases = ctx.leases.clone();
    let client = shared.client.clone();
    let intent_id = ctx.intent.id.clone();
    for scope in &shared.scopes {
        if let Err(e) = ctx.acquire(scope).await {
            release_all(&client, &intent_id, &leases).await;
            return Err(Outcome::Failed(Box::new(e)));
        }
    }
    // Both tasks end with this attempt, also when the agent's future is dropped.
    let renew = AbortOnDrop(tokio::spawn(renew_leases(
        client.clone(),
        intent_id.clone(),
        leases.clone(),
        shared.lease_seconds,
    )));
    let mut task = AbortOnDrop(tokio::spawn(handler(ctx).instrument(tracing::Span::current())));
    let mut cancel = shared.cancel.clone();
    let result = tokio::select! {
        joined = &mut task.0 => match joined {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Outcome::Failed(e)),
            Err(e) if e.is_panic() => Err(Outcome::Failed(Box::new(Failure::new("panic", panic_message(e.into_panic()))))),
            Err(_) => Err(Outcome::Cancelled),
        },
        _ = cancel.wait_for(|c| *c) => {
            task.0.abort();
            Err(Outcome::Cancelled)
        }
    };
    drop(renew);
    release_all(&client, &intent_id, &leases).await;
    result
}

/// A task aborted when this is dropped.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(p) => p.downcast_ref::<&str>().map_or_else(|| "the handler panicked".to_owned(), |s| (*s).to_owned()),
    }
}

async fn renew_leases(client: Client, intent_id: String, leases: Arc<Mutex<Vec<Lease>>>, seconds: i64) {
    let every = Duration::from_millis((seconds.max(1) as u64) * 500);
    loop {
        tokio::time::sleep(every).await;
        let held = lock(&leases).clone();
        for lease in held {
            if let Err(e) = client.renew_lease(&intent_id, &lease.id).duration_seconds(seconds).send().await {
                tracing::warn!(lease_id = %lease.id, error = %e, "could not renew a lease");
            }
        }
    }
}

/// The delay before the next attempt after attempt `attempt` failed with `error_type`, or
/// `None` when the policy does not retry it (no policy: no retry).
pub(crate) fn retry_delay(policy: Option<&RetryPolicy>, attempt: u32, error_type: &str) -> Option<Duration> {
    let p = policy?;
    if matches!(p.strategy, RetryStrategy::None) || i64::from(attempt) > p.max_retries {
        return None;
    }
    if let Some(list) = &p.retryable_errors
        && !list.is_empty()
        && !list.iter().any(|e| e == error_type)
    {
        return None;
    }
    let base = p.base_delay_ms.max(0) as f64;
    let ms = match p.strategy {
        RetryStrategy::Fixed => base,
        RetryStrategy::Linear => base * f64::from(attempt),
        _ => base * p.backoff_multiplier.unwrap_or(2.0).powi(attempt as i32 - 1),
    };
    let ms = ms.min(p.max_delay_ms.max(0) as f64);
    let ms = if p.jitter { ms * (0.5 + fastrand::f64() * 0.5) } else { ms };
    Some(Duration::from_millis(ms as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(v: serde_json::Value) -> RetryPolicy {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn retry_delays_follow_the_policy() {
        let ms = |d: Option<Duration>| d.map(|d| d.as_millis() as u64);
        assert_eq!(retry_delay(None, 1, "x"), None, "no policy: no retry");
        let exp = policy(serde_json::json!({"id": "p", "intent_id": "i", "strategy": "exponential", "max_retries": 3,
            "base_delay_ms": 100, "max_delay_ms": 350, "jitter": false, "backoff_multiplier": 2.0}));
        let delays: Vec<_> = (1..=4).map(|a| ms(retry_delay(Some(&exp), a, "x"))).collect();
        assert_eq!(delays, [Some(100), Some(200), Some(350), None], "capped, then out of retries");
        let linear = policy(serde_json::json!({"id": "p", "intent_id": "i", "strategy": "linear", "max_retries": 5,
            "base_delay_ms": 100, "max_delay_ms": 10000, "jitter": false}));
        assert_eq!(ms(retry_delay(Some(&linear), 3, "x")), Some(300));
        let fixed = policy(serde_json::json!({"id": "p", "intent_id": "i", "strategy": "fixed", "max_retries": 5,
            "base_delay_ms": 70, "max_delay_ms": 10000, "jitter": false, "retryable_errors": ["timeout"]}));
        assert_eq!(ms(retry_delay(Some(&fixed), 4, "timeout")), Some(70));
        assert_eq!(retry_delay(Some(&fixed), 1, "other"), None, "not a retryable error type");
        let none = policy(serde_json::json!({"id": "p", "intent_id": "i", "strategy": "none", "max_retries": 5,
            "base_delay_ms": 70, "max_delay_ms": 10000, "jitter": false}));
        assert_eq!(retry_delay(Some(&none), 1, "x"), None);
        let jittered = policy(serde_json::json!({"id": "p", "intent_id": "i", "strategy": "fixed", "max_retries": 5,
            "base_delay_ms": 1000, "max_delay_ms": 10000, "jitter": true}));
        for _ in 0..50 {
            let d = ms(retry_delay(Some(&jittered), 1, "x")).unwrap();
            assert!((500..=1000).contains(&d), "{d}");
        }
    }
}
