//! The agent and its builder.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use openintent_client::Client;
use tokio::sync::watch;

use crate::ctx::{Ctx, DEFAULT_LEASE_SECONDS};
use crate::handler::AgentHandlers;
use crate::handler::{Handler, HandlerResult, boxed};
use crate::watch::IntentHandlers;

/// Default number of pieces of work run at once.
pub const DEFAULT_CONCURRENCY: usize = 4;
/// Default heartbeat interval.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(30);
/// Default time running work gets to finish once the agent drains.
pub const DEFAULT_DRAIN_DEADLINE: Duration = Duration::from_secs(30);

/// An async hook (drain, ready).
pub(crate) type DrainHook = Arc<dyn Fn() -> futures_util::future::BoxFuture<'static, ()> + Send + Sync>;

/// An agent: handlers plus the settings of its run loop. Build one with [`Agent::builder`],
/// then [`run`](Agent::run) it; see the [crate docs](crate).
pub struct Agent {
    pub(crate) client: Client,
    pub(crate) capabilities: Vec<String>,
    pub(crate) name: Option<String>,
    pub(crate) concurrency: usize,
    pub(crate) heartbeat: Duration,
    /// The registry's silence thresholds (unhealthy, dead), when set.
    pub(crate) heartbeat_timeouts: Option<(Duration, Duration)>,
    pub(crate) drain_deadline: Duration,
    pub(crate) lease_seconds: i64,
    pub(crate) scopes: Vec<String>,
    pub(crate) cursor_file: Option<PathBuf>,
    pub(crate) on_assignment: Option<Handler>,
    pub(crate) on_drain: Option<DrainHook>,
    pub(crate) on_ready: Option<DrainHook>,
    pub(crate) intent_handlers: IntentHandlers,
    pub(crate) drain_tx: watch::Sender<bool>,
    pub(crate) stop_on_sigterm: bool,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("agent_id", &self.client.agent_id())
            .field("capabilities", &self.capabilities)
            .field("concurrency", &self.concurrency)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

impl Agent {
    /// A builder of an agent acting as the client's agent id (`X-Agent-ID`).
    pub fn builder(client: Client) -> AgentBuilder {
        AgentBuilder {
            agent: Agent {
                client,
                capabilities: Vec::new(),
                name: None,
                concurrency: DEFAULT_CONCURRENCY,
                heartbeat: DEFAULT_HEARTBEAT,
                heartbeat_timeouts: None,
                drain_deadline: DEFAULT_DRAIN_DEADLINE,
                lease_seconds: DEFAULT_LEASE_SECONDS,
                scopes: Vec::new(),
                cursor_file: None,
                on_assignment: None,
                on_drain: None,
                on_ready: None,
                intent_handlers: IntentHandlers::default(),
                drain_tx: watch::channel(false).0,
                stop_on_sigterm: false,
            },
        }
    }

    /// The agent's id.
    pub fn agent_id(&self) -> &str {
        self.client.agent_id()
    }

    /// A handle that drains the agent from elsewhere (another task, a signal handler).
    pub fn drain_handle(&self) -> DrainHandle {
        DrainHandle { tx: self.drain_tx.clone() }
    }
}

/// Drains a running agent: it stops taking work, gives running work until the drain deadline
/// to finish (then cancels it, releasing its leases), and deregisters. Cloneable.
#[derive(Debug, Clone)]
pub struct DrainHandle {
    tx: watch::Sender<bool>,
}

impl DrainHandle {
    /// Starts draining (idempotent); [`Agent::run`] returns once the drain is done.
    pub fn drain(&self) {
        self.tx.send_replace(true);
    }
}

/// Builder of an [`Agent`].
#[must_use = "a builder does nothing until .build() is called"]
#[derive(Debug)]
pub struct AgentBuilder {
    agent: Agent,
}

impl AgentBuilder {
    /// Capability tags registered with the agent (RFC-0016).
    pub fn capabilities<S: Into<String>>(mut self, tags: impl IntoIterator<Item = S>) -> Self {
        self.agent.capabilities = tags.into_iter().map(Into::into).collect();
        self
    }

    /// A display name registered with the agent.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.agent.name = Some(name.into());
        self
    }

    /// How many pieces of work run at once (default [`DEFAULT_CONCURRENCY`], at least 1);
    /// registered as the agent's `max_concurrent_tasks`.
    pub fn concurrency(mut self, n: usize) -> Self {
        self.agent.concurrency = n.max(1);
        self
    }

    /// How often the agent heartbeats (default [`DEFAULT_HEARTBEAT`]).
    pub fn heartbeat_interval(mut self, every: Duration) -> Self {
        self.agent.heartbeat = every.max(Duration::from_millis(10));
        self
    }

    /// How long the registry waits without a heartbeat before it marks the agent `unhealthy`,
    /// then `dead`. Registered in whole seconds and raised where RFC-0016 asks: `unhealthy_after`
    /// to at least two heartbeat intervals, `dead_after` to at least twice `unhealthy_after`.
    /// By default: three missed beats, at least 90 s, and twice that, at least 300 s. A [`Coordinator`](crate::Coordinator) reassigns the work of agents the
    /// registry no longer sees as active, so short thresholds mean quicker takeovers (and more
    /// of them on a slow network).
    pub fn heartbeat_timeouts(mut self, unhealthy_after: Duration, dead_after: Duration) -> Self {
        self.agent.heartbeat_timeouts = Some((unhealthy_after, dead_after));
        self
    }

    /// How long running work may go on once draining starts (default [`DEFAULT_DRAIN_DEADLINE`]).
    pub fn drain_deadline(mut self, deadline: Duration) -> Self {
        self.agent.drain_deadline = deadline;
        self
    }

    /// Lease scopes every piece of work holds: acquired before the handler runs, renewed while
    /// it runs, released after it, even when it fails or panics. Work whose lease is held by
    /// someone else fails with a lease conflict and follows the retry policy.
    pub fn lease_scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.agent.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// How long leases last (default [`DEFAULT_LEASE_SECONDS`]; renewed at half of it).
    pub fn lease_seconds(mut self, seconds: i64) -> Self {
        self.agent.lease_seconds = seconds.max(1);
        self
    }

    /// A file keeping the id of the last agent-stream event whose work is finished, so that a
    /// restarted agent resumes after it (`Last-Event-ID`) instead of replaying its whole
    /// stream. Without one, a restart replays the stream and skips finished intents.
    pub fn cursor_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.agent.cursor_file = Some(path.into());
        self
    }

    /// Drain when the process gets SIGTERM (or Ctrl-C).
    pub fn drain_on_sigterm(mut self) -> Self {
        self.agent.stop_on_sigterm = true;
        self
    }

    /// The assignment handler: runs once per assignment of this agent to an intent that is
    /// not finished, under the declared leases.
    pub fn on_assignment<F, Fut>(mut self, handler: F) -> Self
    where
        F: Fn(Ctx) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = HandlerResult> + Send + 'static,
    {
        self.agent.on_assignment = Some(boxed(handler));
        self
    }

    /// The state-change handler: runs for each `state_patched` of an intent the agent is
    /// assigned to (from the assignment on, until the intent is finished), its own writes
    /// included. [`Ctx::intent`] is the intent after the change.
    pub fn on_state_change<F, Fut>(mut self, handler: F) -> Self
    where
        F: Fn(Ctx) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = HandlerResult> + Send + 'static,
    {
        self.agent.intent_handlers.state = Some(boxed(handler));
        self
    }

    /// The status-change handler: runs for each `status_changed` of an intent the agent is
    /// assigned to. [`Ctx::intent`] is the intent after the change.
    pub fn on_status_change<F, Fut>(mut self, handler: F) -> Self
    where
        F: Fn(Ctx) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = HandlerResult> + Send + 'static,
    {
        self.agent.intent_handlers.status = Some(boxed(handler));
        self
    }

    /// A handler of the events of this type (`"comment"`, `"intent.resumed"`, ...) on the
    /// intents the agent is assigned to; [`Ctx::event`] is the event.
    pub fn on_event<F, Fut>(mut self, event_type: impl Into<String>, handler: F) -> Self
    where
        F: Fn(Ctx) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = HandlerResult> + Send + 'static,
    {
        self.agent.intent_handlers.by_name.insert(event_type.into(), boxed(handler));
        self
    }

    /// The input-response handler: runs when a suspension of an intent the agent is assigned
    /// to is answered (`intent.resumed`), also when the answer was asked for outside
    /// [`Ctx::request_input`].
    pub fn on_input_response<F, Fut>(self, handler: F) -> Self
    where
        F: Fn(Ctx) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = HandlerResult> + Send + 'static,
    {
        self.on_event("intent.resumed", handler)
    }

    /// The drain hook: runs once when draining starts, before running work is waited for.
    pub fn on_drain<F, Fut>(mut self, hook: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.agent.on_drain = Some(Arc::new(move || Box::pin(hook())));
        self
    }

    /// The ready hook: runs once the agent is registered and its stream is open, so that an
    /// assignment made from then on reaches it, also from servers that do not replay their
    /// streams (the Python reference). The stream is read once the hook returns.
    pub fn on_ready<F, Fut>(mut self, hook: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.agent.on_ready = Some(Arc::new(move || Box::pin(hook())));
        self
    }

    /// Every handler from a trait impl (replacing those set before).
    pub fn handlers<H: AgentHandlers>(self, handlers: H) -> Self {
        let handlers = Arc::new(handlers);
        let h = handlers.clone();
        self.on_assignment(move |ctx| {
            let h = h.clone();
            async move { h.on_assignment(ctx).await }
        })
        .on_drain(move || {
            let h = handlers.clone();
            async move { h.on_drain().await }
        })
    }

    /// The agent.
    pub fn build(self) -> Agent {
        self.agent
    }
}
