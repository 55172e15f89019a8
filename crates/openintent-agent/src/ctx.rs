//! The context a handler gets: the intent, the event, and the operations on them.

use std::sync::{Arc, Mutex};

use openintent_client::Client;
use openintent_client::types::{AgentAssignment, Intent, IntentEvent, IntentStatus, Lease, StatePatch, StreamEvent};
use serde_json::Value;

/// Default lease duration (renewed at half of it while the work runs).
pub const DEFAULT_LEASE_SECONDS: i64 = 60;

/// What a handler works on and with: the intent, the event that started the work, and the
/// operations a handler needs. Cheap to clone; clones share the leases taken through
/// [`acquire`](Ctx::acquire), which the runtime releases when the work ends (even on panic).
#[derive(Debug, Clone)]
pub struct Ctx {
    pub(crate) client: Client,
    pub(crate) intent: Intent,
    pub(crate) assignment: AgentAssignment,
    pub(crate) event: Option<StreamEvent>,
    pub(crate) event_id: String,
    pub(crate) attempt: u32,
    pub(crate) lease_seconds: i64,
    pub(crate) leases: Arc<Mutex<Vec<Lease>>>,
    pub(crate) trace: Trace,
}

/// The RFC-0020 trace of one handler run: its id, and the last event logged in it.
#[derive(Debug, Clone)]
pub(crate) struct Trace {
    pub(crate) id: String,
    pub(crate) last_event: Arc<Mutex<Option<String>>>,
}

impl Trace {
    /// A new trace (a random 128-bit id in hex).
    pub(crate) fn new() -> Trace {
        Trace { id: format!("{:032x}", fastrand::u128(1..)), last_event: Arc::new(Mutex::new(None)) }
    }
}

impl Ctx {
    /// The intent as it was read when the work started (see [`refresh`](Ctx::refresh)).
    pub fn intent(&self) -> &Intent {
        &self.intent
    }

    /// The intent's id.
    pub fn intent_id(&self) -> &str {
        &self.intent.id
    }

    /// The assignment that started the work.
    pub fn assignment(&self) -> &AgentAssignment {
        &self.assignment
    }

    /// The stream event that started this handler: the assignment for assignment handlers,
    /// the intent's event for the state, status and by-name handlers.
    pub fn event(&self) -> Option<&StreamEvent> {
        self.event.as_ref()
    }

    /// The id of the stream event that started the work. Delivery is at-least-once: the same
    /// event can be handled again after a crash or a retry, so use this id as an idempotency
    /// key for effects outside the intent's state.
    pub fn event_id(&self) -> &str {
        &self.event_id
    }

    /// Which attempt this is (1 for the first; retries per the intent's retry policy count up).
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The RFC-0020 trace id of this handler run (also the span's `trace_id` field): every
    /// event logged with [`log`](Ctx::log) carries it, each one's parent being the previous.
    pub fn trace_id(&self) -> &str {
        &self.trace.id
    }

    /// The agent's id.
    pub fn agent_id(&self) -> &str {
        self.client.agent_id()
    }

    /// The client, for anything the context has no shortcut for.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The leases held for this work (declared ones and those taken with [`acquire`](Ctx::acquire)).
    pub fn leases(&self) -> Vec<Lease> {
        lock(&self.leases).clone()
    }

    /// Reads the intent again.
    pub async fn refresh(&self) -> openintent_client::Result<Intent> {
        self.client.get_intent(&self.intent.id).await
    }

    /// Patches the state with the current version: reads the intent, computes the patches
    /// from it, writes them with `If-Match`, and on a version conflict reads again and
    /// recomputes (a bounded number of times). Returns the intent after the write.
    pub async fn patch_state<F>(&self, compute: F) -> openintent_client::Result<Intent>
    where
        F: FnMut(&Intent) -> Vec<StatePatch> + Send,
    {
        self.client.update_state_with(&self.intent.id, compute).send().await
    }

    /// Sets one top-level state key (with the current version, retried on conflicts).
    pub async fn set_state(&self, key: &str, value: impl Into<Value>) -> openintent_client::Result<Intent> {
        let value = value.into();
        self.patch_state(move |_| vec![StatePatch::set_key(key, value.clone())]).await
    }

    /// Logs an event of this type on the intent, in the handler's trace: its `trace_id` is
    /// [`trace_id`](Ctx::trace_id), its `parent_event_id` the event logged before it here.
    pub async fn log(&self, event_type: &str, payload: impl Into<Value>) -> openintent_client::Result<IntentEvent> {
        let parent = lock(&self.trace.last_event).clone();
        let event = self
            .client
            .log_event(&self.intent.id, event_type)
            .payload(payload)
            .trace(self.trace.id.clone(), parent)
            .send()
            .await?;
        *lock(&self.trace.last_event) = Some(event.id.clone());
        Ok(event)
    }

    /// Records a cost (RFC-0009) on the intent, by this agent.
    pub async fn record_cost(&self, cost_type: &str, amount: f64, unit: &str) -> openintent_client::Result<()> {
        self.client.record_cost(&self.intent.id, cost_type, amount, unit).send().await.map(|_| ())
    }

    /// Acquires a lease on a scope for the rest of this work: renewed while the work runs and
    /// released when it ends, however it ends.
    pub async fn acquire(&self, scope: &str) -> openintent_client::Result<Lease> {
        let lease =
            self.client.acquire_lease(&self.intent.id, scope).duration_seconds(self.lease_seconds).send().await?;
        lock(&self.leases).push(lease.clone());
        Ok(lease)
    }

    /// Marks the intent completed (with the current version).
    pub async fn complete(&self) -> openintent_client::Result<Intent> {
        self.set_status(IntentStatus::Completed, None).await
    }

    /// Gives the intent up: marks it abandoned with this reason (no retry follows; return an
    /// error from the handler instead to have the retry policy apply).
    pub async fn fail(&self, reason: &str) -> openintent_client::Result<Intent> {
        self.set_status(IntentStatus::Abandoned, Some(reason)).await
    }

    /// Sets the status with the current version, reading again on a version conflict.
    async fn set_status(&self, status: IntentStatus, reason: Option<&str>) -> openintent_client::Result<Intent> {
        let mut attempts = 0;
        loop {
            let intent = self.refresh().await?;
            let mut call = self.client.set_status(&intent.id, intent.version, status.clone());
            if let Some(reason) = reason {
                call = call.reason(reason);
            }
            match call.send().await {
                Err(e) if e.is_version_conflict() && attempts < 5 => attempts += 1,
                other => return other,
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Releases every lease in `leases` (emptying it), logging the ones the server refuses: what
/// the runtime does when a piece of work ends, whatever its outcome.
pub(crate) async fn release_all(client: &Client, intent_id: &str, leases: &Mutex<Vec<Lease>>) {
    let held = std::mem::take(&mut *lock(leases));
    for lease in held {
        if let Err(e) = client.release_lease(intent_id, &lease.id).await {
            tracing::warn!(lease_id = %lease.id, error = %e, "could not release a lease");
        }
    }
}
