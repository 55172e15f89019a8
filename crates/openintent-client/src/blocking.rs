//! The blocking client (feature `blocking`), for programs without an async runtime.
//!
//! ```no_run
//! use openintent_client::blocking::Client;
//! use serde_json::json;
//!
//! fn main() -> openintent_client::Result<()> {
//!     let client = Client::from_builder(
//!         openintent_client::Client::builder()
//!             .base_url("http://localhost:8000")
//!             .api_key("dev-user-key")
//!             .agent_id("my-agent"),
//!     )?;
//!     let intent = client.create_intent("Research market trends").description("Q4 data").send_blocking()?;
//!     let intent = client.update_state(&intent.id, intent.version).set("progress", json!(0.5)).send_blocking()?;
//!     {
//!         let lease = client.lease(&intent.id, "analysis")?;
//!         // ... exclusive work on the scope; released when `lease` goes out of scope.
//!     }
//!     client.set_status(&intent.id, intent.version, "completed").send_blocking()?;
//!     Ok(())
//! }
//! ```
//!
//! # Design
//!
//! The blocking client is a thin layer over the async [`crate::Client`], not a second
//! implementation:
//!
//! - It owns a small multi-threaded tokio runtime (two worker threads), stored inside the async
//!   client it wraps. Calls run on that runtime while the calling thread waits on a channel, so
//!   a blocking call works from any thread: plain `fn main`, a thread of another runtime, or a
//!   `spawn_blocking` closure. (Calling `Runtime::block_on` from a runtime thread would panic;
//!   this never does.)
//! - Calls with only required arguments are plain methods returning the result
//!   ([`Client::get_intent`]). Calls with optional arguments return **the same builders as the
//!   async client** ([`CreateIntent`], ...); finish them with
//!   `send_blocking()` instead of `.send().await`. So every option, default and validation
//!   rule exists once, and a new builder setter is available to both clients at once.
//!   (`send_blocking()` on a builder made by an async client returns an [`Error::Config`].)
//! - Dropping the last clone shuts the runtime down in the background: it neither blocks nor
//!   panics, whether or not the drop happens inside another runtime.
//! - Do not make blocking calls from code that itself runs on the client's runtime (for
//!   example inside the closure of `update_state_with(..).send_blocking()`): that closure
//!   occupies one of the runtime's two workers while it waits.
//!
//! The seed's `with client.lease(...)` becomes [`Client::with_lease`] (a closure that gets the
//! lease and the client) or the RAII [`LeaseGuard`] of [`Client::lease`]; both release the lease
//! afterwards, also while unwinding from a panic.

use std::future::Future;
use std::ops::Deref;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures_core::Stream;
use futures_util::{FutureExt, StreamExt};
use openintent_transport::{Request, Response, Transport};
use openintent_types::{
    AgentAssignment, Attachment, AttachmentUpload, CostRecord, CostSummary, CreateAttachmentRequest,
    DEFAULT_LEASE_SECONDS, Decision, Discovery, EventType, FailureRecord, Intent, IntentStatus, Lease, Portfolio,
    PortfolioStatus, RetryPolicy, SetRetryPolicyRequest, StatePatch, StreamEvent, Subscription,
};
use serde::de::DeserializeOwned;

use crate::attachments::AddAttachment;
use crate::costs::RecordCost;
use crate::error::{ConfigError, Error, Result};
use crate::events::{GetEvents, LogEvent};
use crate::governance::{RecordDecision, RequestArbitration};
use crate::intents::{AssignAgent, CreateIntent, ListIntents, SetStatus, UpdateState, UpdateStateWith};
use crate::leases::{AbortOnDrop, AcquireLease, GetLeases, RenewLease, renew_interval, spawn_renewer};
use crate::portfolios::{AddIntentToPortfolio, CreatePortfolio, ListPortfolios};
use crate::retry_policies::{RecordFailure, SetRetryPolicy};
use crate::subscriptions::Subscribe;

/// A tokio runtime owned by blocking clients; shut down in the background when the last
/// clone goes away, so dropping never blocks and never panics, inside a runtime or not.
pub(crate) struct OwnedRuntime {
    rt: Option<tokio::runtime::Runtime>,
}

impl OwnedRuntime {
    pub(crate) fn new() -> Result<OwnedRuntime> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("openintent-blocking")
            .enable_all()
            .build()
            .map_err(|e| ConfigError::new(format!("could not start the blocking client's runtime: {e}")))?;
        Ok(OwnedRuntime { rt: Some(rt) })
    }

    fn handle(&self) -> Result<&tokio::runtime::Runtime> {
        self.rt.as_ref().ok_or_else(|| ConfigError::new("the blocking client's runtime has shut down").into())
    }

    pub(crate) fn enter(&self) -> Option<tokio::runtime::EnterGuard<'_>> {
        self.rt.as_ref().map(tokio::runtime::Runtime::enter)
    }

    /// Runs `fut` on the runtime and waits for it on the calling thread. A panic in the
    /// future resumes on the caller.
    pub(crate) fn run<F>(&self, fut: F) -> Result<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.handle()?.spawn(async move {
            let out = AssertUnwindSafe(fut).catch_unwind().await;
            let _ = tx.send(out);
        });
        match rx.recv() {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(panic)) => std::panic::resume_unwind(panic),
            Err(_) => Err(ConfigError::new("the blocking client's runtime stopped during a call").into()),
        }
    }

    fn spawn<F>(&self, fut: F) -> Result<AbortOnDrop>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        Ok(AbortOnDrop(self.handle()?.spawn(fut)))
    }
}

impl Drop for OwnedRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// The blocking OpenIntent client. Cheap to clone; see the [module docs](self).
#[derive(Clone, Debug)]
pub struct Client {
    inner: crate::Client,
}

impl Client {
    /// A client for `base_url` over reqwest with the retry layer (see [`crate::Client::new`]).
    ///
    /// ```no_run
    /// let client = openintent_client::blocking::Client::new("http://localhost:8000", "dev-user-key", "my-agent")?;
    /// # Ok::<(), openintent_client::Error>(())
    /// ```
    #[cfg(feature = "reqwest")]
    pub fn new(base_url: impl Into<String>, api_key: impl Into<String>, agent_id: impl Into<String>) -> Result<Client> {
        Client::from_builder(crate::Client::builder().base_url(base_url).api_key(api_key).agent_id(agent_id))
    }

    /// A client configured from `OPENINTENT_URL`, `OPENINTENT_API_KEY`, `OPENINTENT_AGENT_ID`.
    ///
    /// ```no_run
    /// let client = openintent_client::blocking::Client::from_env()?;
    /// # Ok::<(), openintent_client::Error>(())
    /// ```
    #[cfg(feature = "reqwest")]
    pub fn from_env() -> Result<Client> {
        Client::from_builder(crate::Client::builder().from_env()?)
    }

    /// A client from a fully configured [`ClientBuilder`](crate::ClientBuilder).
    ///
    /// ```no_run
    /// let client = openintent_client::blocking::Client::from_builder(
    ///     openintent_client::Client::builder()
    ///         .base_url("http://localhost:8000")
    ///         .api_key("dev-user-key")
    ///         .agent_id("my-agent")
    ///         .no_retry(),
    /// )?;
    /// # Ok::<(), openintent_client::Error>(())
    /// ```
    pub fn from_builder(builder: crate::ClientBuilder) -> Result<Client> {
        let rt = Arc::new(OwnedRuntime::new()?);
        Ok(Client { inner: builder.build_with_runtime(rt)? })
    }

    /// A client over any transport, used as given (see [`crate::Client::from_transport`]).
    ///
    /// ```
    /// use openintent_transport::test_util::MockTransport;
    /// let client = openintent_client::blocking::Client::from_transport(MockTransport::new(), "my-agent")?;
    /// assert_eq!(client.agent_id(), "my-agent");
    /// # Ok::<(), openintent_client::Error>(())
    /// ```
    pub fn from_transport(transport: impl Transport, agent_id: impl Into<String>) -> Result<Client> {
        let rt = Arc::new(OwnedRuntime::new()?);
        let mut inner = crate::Client::from_transport(transport, agent_id);
        Arc::get_mut(&mut inner.inner).expect("fresh client").runtime = Some(rt);
        Ok(Client { inner })
    }

    /// The async client underneath (sharing transport and settings), e.g. to hand to async
    /// code. Its builders also accept `send_blocking()`.
    ///
    /// ```no_run
    /// # fn run(client: openintent_client::blocking::Client) -> openintent_client::Result<()> {
    /// let async_client: openintent_client::Client = client.async_client().clone();
    /// // Its builders finish with send_blocking() too, on the blocking client's runtime.
    /// let intent = async_client.create_intent("From a shared handle").send_blocking()?;
    /// // Or hand it to async code.
    /// let read_back = async move { async_client.get_intent(&intent.id).await };
    /// # drop(read_back);
    /// # Ok(()) }
    /// ```
    pub fn async_client(&self) -> &crate::Client {
        &self.inner
    }

    /// The agent id.
    ///
    /// ```
    /// use openintent_transport::test_util::MockTransport;
    /// let client = openintent_client::blocking::Client::from_transport(MockTransport::new(), "my-agent")?;
    /// assert_eq!(client.agent_id(), "my-agent");
    /// # Ok::<(), openintent_client::Error>(())
    /// ```
    pub fn agent_id(&self) -> &str {
        self.inner.agent_id()
    }

    fn rt(&self) -> &OwnedRuntime {
        self.inner.inner.runtime.as_deref().expect("blocking clients always own a runtime")
    }

    fn run<T: Send + 'static>(&self, fut: impl Future<Output = Result<T>> + Send + 'static) -> Result<T> {
        self.rt().run(fut)?
    }

    /// Iterates over any stream of the async API (e.g. [`ListIntents::into_stream`] or an
    /// event stream), driving it on the client's runtime.
    ///
    /// ```no_run
    /// # fn run(client: openintent_client::blocking::Client) -> openintent_client::Result<()> {
    /// for intent in client.iter(client.list_intents().into_stream()) {
    ///     println!("{}", intent?.title);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn iter<S>(&self, stream: S) -> BlockingStream<S::Item>
    where
        S: Stream + Send + 'static,
        S::Item: Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::channel();
        let task = self.rt().spawn(async move {
            let mut stream = std::pin::pin!(stream);
            while let Some(item) = stream.next().await {
                if tx.send(item).is_err() {
                    break;
                }
            }
        });
        BlockingStream { rx, _task: task.ok() }
    }

    // ----- intents -----

    /// See [`crate::Client::create_intent`]; finish with `send_blocking()`.
    ///
    /// ```no_run
    /// # fn run(client: openintent_client::blocking::Client) -> openintent_client::Result<()> {
    /// let intent = client.create_intent("Research").description("Q4").send_blocking()?;
    /// # Ok(()) }
    /// ```
    pub fn create_intent(&self, title: impl Into<String>) -> CreateIntent {
        self.inner.create_intent(title)
    }

    /// See [`crate::Client::get_intent`].
    ///
    /// ```no_run
    /// # fn run(client: openintent_client::blocking::Client) -> openintent_client::Result<()> {
    /// let intent = client.get_intent("7f1c…")?;
    /// # Ok(()) }
    /// ```
    pub fn get_intent(&self, intent_id: &str) -> Result<Intent> {
        let (c, id) = (self.inner.clone(), intent_id.to_owned());
        self.run(async move { c.get_intent(&id).await })
    }

    /// See [`crate::Client::list_intents`]; `send_blocking()` for a page, [`Client::iter`]
    /// over `into_stream()` for everything.
    pub fn list_intents(&self) -> ListIntents {
        self.inner.list_intents()
    }

    /// See [`crate::Client::update_state`]; finish with `send_blocking()`.
    pub fn update_state(&self, intent_id: &str, version: i64) -> UpdateState {
        self.inner.update_state(intent_id, version)
    }

    /// See [`crate::Client::update_state_with`]; finish with `send_blocking()`.
    pub fn update_state_with<F>(&self, intent_id: &str, compute: F) -> UpdateStateWith<F>
    where
        F: FnMut(&Intent) -> Vec<StatePatch> + Send,
    {
        self.inner.update_state_with(intent_id, compute)
    }

    /// See [`crate::Client::set_status`]; finish with `send_blocking()`.
    pub fn set_status(&self, intent_id: &str, version: i64, status: impl Into<IntentStatus>) -> SetStatus {
        self.inner.set_status(intent_id, version, status)
    }

    /// See [`crate::Client::assign_agent`]; finish with `send_blocking()`.
    pub fn assign_agent(&self, intent_id: &str) -> AssignAgent {
        self.inner.assign_agent(intent_id)
    }

    /// See [`crate::Client::unassign_agent`].
    pub fn unassign_agent(&self, intent_id: &str, agent_id: &str) -> Result<()> {
        let (c, id, a) = (self.inner.clone(), intent_id.to_owned(), agent_id.to_owned());
        self.run(async move { c.unassign_agent(&id, &a).await })
    }

    /// See [`crate::Client::get_agents`].
    pub fn get_agents(&self, intent_id: &str) -> Result<Vec<AgentAssignment>> {
        let (c, id) = (self.inner.clone(), intent_id.to_owned());
        self.run(async move { c.get_agents(&id).await })
    }

    // ----- events -----

    /// See [`crate::Client::log_event`]; finish with `send_blocking()`.
    pub fn log_event(&self, intent_id: &str, event_type: impl Into<EventType>) -> LogEvent {
        self.inner.log_event(intent_id, event_type)
    }

    /// See [`crate::Client::get_events`]; finish with `send_blocking()`.
    pub fn get_events(&self, intent_id: &str) -> GetEvents {
        self.inner.get_events(intent_id)
    }

    // ----- leases -----

    /// See [`crate::Client::acquire_lease`]; finish with `send_blocking()`.
    pub fn acquire_lease(&self, intent_id: &str, scope: impl Into<String>) -> AcquireLease {
        self.inner.acquire_lease(intent_id, scope)
    }

    /// See [`crate::Client::release_lease`].
    pub fn release_lease(&self, intent_id: &str, lease_id: &str) -> Result<()> {
        let (c, id, l) = (self.inner.clone(), intent_id.to_owned(), lease_id.to_owned());
        self.run(async move { c.release_lease(&id, &l).await })
    }

    /// See [`crate::Client::renew_lease`]; finish with `send_blocking()`.
    pub fn renew_lease(&self, intent_id: &str, lease_id: &str) -> RenewLease {
        self.inner.renew_lease(intent_id, lease_id)
    }

    /// See [`crate::Client::get_leases`]; finish with `send_blocking()`.
    pub fn get_leases(&self, intent_id: &str) -> GetLeases {
        self.inner.get_leases(intent_id)
    }

    /// Acquires a lease for 300 s and returns a guard that releases it when dropped.
    ///
    /// ```no_run
    /// # fn run(client: openintent_client::blocking::Client) -> openintent_client::Result<()> {
    /// let mut lease = client.lease("7f1c…", "analysis")?;
    /// lease.auto_renew()?;
    /// // ... exclusive work ...
    /// lease.release()?; // or just let it drop
    /// # Ok(()) }
    /// ```
    pub fn lease(&self, intent_id: &str, scope: impl Into<String>) -> Result<LeaseGuard> {
        self.lease_for(intent_id, scope, DEFAULT_LEASE_SECONDS)
    }

    /// Like [`Client::lease`] with a duration in seconds.
    pub fn lease_for(&self, intent_id: &str, scope: impl Into<String>, duration_seconds: i64) -> Result<LeaseGuard> {
        let lease = self.inner.acquire_lease(intent_id, scope).duration_seconds(duration_seconds).send_blocking()?;
        Ok(LeaseGuard { client: self.clone(), lease, duration_seconds, released: false, renewer: None })
    }

    /// Runs `work` while holding a lease (300 s), releasing it afterwards, also on error or
    /// panic. The blocking counterpart of [`crate::Client::with_lease`]: `work` receives the
    /// lease and this client and returns a [`Result<T>`](crate::Result), so `?` works inside
    /// and a bare `Ok(value)` needs no annotation. For an error type of your own, use
    /// [`with_lease_custom_error`](Self::with_lease_custom_error); for a lease held across
    /// more code, the [`lease`](Self::lease) guard.
    ///
    /// ```no_run
    /// # fn run(client: openintent_client::blocking::Client) -> openintent_client::Result<()> {
    /// let version = client.with_lease("7f1c…", "analysis", |lease, client| {
    ///     let intent = client.get_intent(&lease.intent_id)?;
    ///     let intent = client.update_state(&intent.id, intent.version).set("analysed", true).send_blocking()?;
    ///     Ok(intent.version)
    /// })?;
    /// # Ok(()) }
    /// ```
    pub fn with_lease<T>(
        &self,
        intent_id: &str,
        scope: impl Into<String>,
        work: impl FnOnce(&Lease, &Client) -> Result<T>,
    ) -> Result<T> {
        self.with_lease_custom_error(intent_id, scope, work)
    }

    /// [`with_lease`](Self::with_lease) for work that returns an error type of its own, `E`,
    /// which must convert from [`Error`] (a failure to acquire the lease is returned as `E`).
    ///
    /// ```no_run
    /// #[derive(Debug)]
    /// enum JobError {
    ///     Client(openintent_client::Error),
    ///     NothingToDo,
    /// }
    /// impl From<openintent_client::Error> for JobError {
    ///     fn from(e: openintent_client::Error) -> Self {
    ///         JobError::Client(e)
    ///     }
    /// }
    ///
    /// # fn run(client: openintent_client::blocking::Client) -> Result<(), JobError> {
    /// let title = client.with_lease_custom_error("7f1c…", "analysis", |lease, client| {
    ///     let intent = client.get_intent(&lease.intent_id)?;
    ///     if intent.title.is_empty() {
    ///         return Err(JobError::NothingToDo);
    ///     }
    ///     Ok(intent.title)
    /// })?;
    /// # Ok(()) }
    /// ```
    pub fn with_lease_custom_error<T, E>(
        &self,
        intent_id: &str,
        scope: impl Into<String>,
        work: impl FnOnce(&Lease, &Client) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E>
    where
        E: From<Error>,
    {
        let guard = self.lease(intent_id, scope)?;
        let out = work(&guard, self);
        if let Err(e) = guard.release() {
            tracing::warn!(error = %e, "could not release the lease");
        }
        out
    }

    // ----- governance -----

    /// See [`crate::Client::request_arbitration`]; finish with `send_blocking()`.
    pub fn request_arbitration(&self, intent_id: &str, reason: impl Into<String>) -> RequestArbitration {
        self.inner.request_arbitration(intent_id, reason)
    }

    /// See [`crate::Client::record_decision`]; finish with `send_blocking()`.
    pub fn record_decision(&self, intent_id: &str, decision: impl Into<String>) -> RecordDecision {
        self.inner.record_decision(intent_id, decision)
    }

    /// See [`crate::Client::get_decisions`].
    pub fn get_decisions(&self, intent_id: &str) -> Result<Vec<Decision>> {
        let (c, id) = (self.inner.clone(), intent_id.to_owned());
        self.run(async move { c.get_decisions(&id).await })
    }

    // ----- attachments -----

    /// See [`crate::Client::add_attachment`]; finish with `send_blocking()`.
    pub fn add_attachment(
        &self,
        intent_id: &str,
        filename: impl Into<String>,
        content_type: impl Into<String>,
        content_base64: impl Into<String>,
    ) -> AddAttachment {
        self.inner.add_attachment(intent_id, filename, content_type, content_base64)
    }

    /// See [`crate::Client::add_attachment_upload`]; finish with `send_blocking()`.
    pub fn add_attachment_upload(&self, intent_id: &str, upload: AttachmentUpload) -> AddAttachment {
        self.inner.add_attachment_upload(intent_id, upload)
    }

    /// See [`crate::Client::add_attachment_raw`].
    pub fn add_attachment_raw(&self, intent_id: &str, request: CreateAttachmentRequest) -> Result<Attachment> {
        let (c, id) = (self.inner.clone(), intent_id.to_owned());
        self.run(async move { c.add_attachment_raw(&id, request).await })
    }

    /// See [`crate::Client::get_attachments`].
    pub fn get_attachments(&self, intent_id: &str) -> Result<Vec<Attachment>> {
        let (c, id) = (self.inner.clone(), intent_id.to_owned());
        self.run(async move { c.get_attachments(&id).await })
    }

    /// See [`crate::Client::delete_attachment`].
    pub fn delete_attachment(&self, intent_id: &str, attachment_id: &str) -> Result<()> {
        let (c, id, a) = (self.inner.clone(), intent_id.to_owned(), attachment_id.to_owned());
        self.run(async move { c.delete_attachment(&id, &a).await })
    }

    // ----- subscriptions -----

    /// See [`crate::Client::subscribe`]; finish with `send_blocking()`.
    pub fn subscribe(&self, intent_id: &str) -> Subscribe {
        self.inner.subscribe(intent_id)
    }

    /// See [`crate::Client::subscribe_portfolio`]; finish with `send_blocking()`.
    pub fn subscribe_portfolio(&self, portfolio_id: &str) -> Subscribe {
        self.inner.subscribe_portfolio(portfolio_id)
    }

    /// See [`crate::Client::get_subscriptions`].
    pub fn get_subscriptions(&self, intent_id: &str) -> Result<Vec<Subscription>> {
        let (c, id) = (self.inner.clone(), intent_id.to_owned());
        self.run(async move { c.get_subscriptions(&id).await })
    }

    /// See [`crate::Client::unsubscribe`].
    pub fn unsubscribe(&self, intent_id: &str, subscription_id: &str) -> Result<()> {
        let (c, id, s) = (self.inner.clone(), intent_id.to_owned(), subscription_id.to_owned());
        self.run(async move { c.unsubscribe(&id, &s).await })
    }

    /// An iterator over an intent's live events (see [`crate::Client::stream_intent_events`]).
    ///
    /// ```no_run
    /// # fn run(client: openintent_client::blocking::Client) -> openintent_client::Result<()> {
    /// for event in client.stream_intent_events("7f1c…") {
    ///     println!("{}", event?.event_type());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn stream_intent_events(&self, intent_id: &str) -> BlockingStream<Result<StreamEvent>> {
        self.iter(self.inner.stream_intent_events(intent_id).into_stream())
    }

    /// An iterator over a portfolio's live events.
    ///
    /// ```no_run
    /// # fn run(client: openintent_client::blocking::Client) -> openintent_client::Result<()> {
    /// for event in client.stream_portfolio_events("0b86…") {
    ///     println!("{}", event?.event_type());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn stream_portfolio_events(&self, portfolio_id: &str) -> BlockingStream<Result<StreamEvent>> {
        self.iter(self.inner.stream_portfolio_events(portfolio_id).into_stream())
    }

    /// An iterator over an agent's live events.
    ///
    /// ```no_run
    /// # fn run(client: openintent_client::blocking::Client) -> openintent_client::Result<()> {
    /// for event in client.stream_agent_events(client.agent_id()) {
    ///     println!("{}", event?.event_type());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn stream_agent_events(&self, agent_id: &str) -> BlockingStream<Result<StreamEvent>> {
        self.iter(self.inner.stream_agent_events(agent_id).into_stream())
    }

    // ----- costs -----

    /// See [`crate::Client::record_cost`]; finish with `send_blocking()`.
    pub fn record_cost(
        &self,
        intent_id: &str,
        cost_type: impl Into<String>,
        amount: f64,
        unit: impl Into<String>,
    ) -> RecordCost {
        self.inner.record_cost(intent_id, cost_type, amount, unit)
    }

    /// See [`crate::Client::get_costs`].
    pub fn get_costs(&self, intent_id: &str) -> Result<Vec<CostRecord>> {
        let (c, id) = (self.inner.clone(), intent_id.to_owned());
        self.run(async move { c.get_costs(&id).await })
    }

    /// See [`crate::Client::get_cost_summary`].
    pub fn get_cost_summary(&self, intent_id: &str) -> Result<CostSummary> {
        let (c, id) = (self.inner.clone(), intent_id.to_owned());
        self.run(async move { c.get_cost_summary(&id).await })
    }

    // ----- retry policies -----

    /// See [`crate::Client::set_retry_policy`]; finish with `send_blocking()`.
    pub fn set_retry_policy(&self, intent_id: &str) -> SetRetryPolicy {
        self.inner.set_retry_policy(intent_id)
    }

    /// See [`crate::Client::set_retry_policy_wire`].
    pub fn set_retry_policy_wire(&self, intent_id: &str, request: SetRetryPolicyRequest) -> Result<RetryPolicy> {
        let (c, id) = (self.inner.clone(), intent_id.to_owned());
        self.run(async move { c.set_retry_policy_wire(&id, request).await })
    }

    /// See [`crate::Client::get_retry_policy`].
    pub fn get_retry_policy(&self, intent_id: &str) -> Result<Option<RetryPolicy>> {
        let (c, id) = (self.inner.clone(), intent_id.to_owned());
        self.run(async move { c.get_retry_policy(&id).await })
    }

    /// See [`crate::Client::record_failure`]; finish with `send_blocking()`.
    pub fn record_failure(
        &self,
        intent_id: &str,
        error_type: impl Into<String>,
        error_message: impl Into<String>,
    ) -> RecordFailure {
        self.inner.record_failure(intent_id, error_type, error_message)
    }

    /// See [`crate::Client::get_failures`].
    pub fn get_failures(&self, intent_id: &str) -> Result<Vec<FailureRecord>> {
        let (c, id) = (self.inner.clone(), intent_id.to_owned());
        self.run(async move { c.get_failures(&id).await })
    }

    // ----- portfolios -----

    /// See [`crate::Client::create_portfolio`]; finish with `send_blocking()`.
    pub fn create_portfolio(&self, name: impl Into<String>) -> CreatePortfolio {
        self.inner.create_portfolio(name)
    }

    /// See [`crate::Client::get_portfolio`].
    pub fn get_portfolio(&self, portfolio_id: &str) -> Result<Portfolio> {
        let (c, id) = (self.inner.clone(), portfolio_id.to_owned());
        self.run(async move { c.get_portfolio(&id).await })
    }

    /// See [`crate::Client::list_portfolios`]; finish with `send_blocking()`.
    pub fn list_portfolios(&self) -> ListPortfolios {
        self.inner.list_portfolios()
    }

    /// See [`crate::Client::update_portfolio_status`].
    pub fn update_portfolio_status(&self, portfolio_id: &str, status: impl Into<PortfolioStatus>) -> Result<Portfolio> {
        let (c, id, s) = (self.inner.clone(), portfolio_id.to_owned(), status.into());
        self.run(async move { c.update_portfolio_status(&id, s).await })
    }

    /// See [`crate::Client::add_intent_to_portfolio`]; finish with `send_blocking()`.
    pub fn add_intent_to_portfolio(&self, portfolio_id: &str, intent_id: impl Into<String>) -> AddIntentToPortfolio {
        self.inner.add_intent_to_portfolio(portfolio_id, intent_id)
    }

    /// See [`crate::Client::remove_intent_from_portfolio`].
    pub fn remove_intent_from_portfolio(&self, portfolio_id: &str, intent_id: &str) -> Result<()> {
        let (c, p, i) = (self.inner.clone(), portfolio_id.to_owned(), intent_id.to_owned());
        self.run(async move { c.remove_intent_from_portfolio(&p, &i).await })
    }

    /// See [`crate::Client::get_portfolio_intents`].
    pub fn get_portfolio_intents(&self, portfolio_id: &str) -> Result<Vec<Intent>> {
        let (c, id) = (self.inner.clone(), portfolio_id.to_owned());
        self.run(async move { c.get_portfolio_intents(&id).await })
    }

    /// See [`crate::Client::get_intent_portfolios`].
    pub fn get_intent_portfolios(&self, intent_id: &str) -> Result<Vec<Portfolio>> {
        let (c, id) = (self.inner.clone(), intent_id.to_owned());
        self.run(async move { c.get_intent_portfolios(&id).await })
    }

    // ----- discovery and escape hatches -----

    /// See [`crate::Client::discover`].
    pub fn discover(&self) -> Result<Discovery> {
        let c = self.inner.clone();
        self.run(async move { c.discover().await })
    }

    /// See [`crate::Client::send_raw`].
    pub fn send_raw(&self, request: Request) -> Result<Response> {
        let c = self.inner.clone();
        self.run(async move { c.send_raw(request).await })
    }

    /// See [`crate::Client::request_json`].
    pub fn request_json<T: DeserializeOwned + Send + 'static>(&self, request: Request) -> Result<T> {
        let c = self.inner.clone();
        self.run(async move { c.request_json(request).await })
    }
}

/// A held lease that is released when dropped (errors on that release are logged).
///
/// Dereferences to the [`Lease`]. Made by [`Client::lease`].
#[derive(Debug)]
pub struct LeaseGuard {
    client: Client,
    lease: Lease,
    duration_seconds: i64,
    released: bool,
    renewer: Option<AbortOnDrop>,
}

impl std::fmt::Debug for AbortOnDrop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AbortOnDrop")
    }
}

impl LeaseGuard {
    /// The lease as last returned by the server.
    ///
    /// Example: [`Client::lease`].
    pub fn lease(&self) -> &Lease {
        &self.lease
    }

    /// Extends the lease by `duration_seconds` from now.
    ///
    /// Example: [`Client::lease`].
    pub fn renew(&mut self, duration_seconds: i64) -> Result<&Lease> {
        self.lease = self
            .client
            .renew_lease(&self.lease.intent_id, &self.lease.id)
            .duration_seconds(duration_seconds)
            .send_blocking()?;
        self.duration_seconds = duration_seconds;
        Ok(&self.lease)
    }

    /// Renews the lease in the background at half its duration until the guard is released
    /// or dropped.
    ///
    /// Example: [`Client::lease`].
    pub fn auto_renew(&mut self) -> Result<()> {
        if self.renewer.is_none() {
            let rt = self.client.rt();
            let _enter = rt.enter();
            let every = renew_interval(self.duration_seconds);
            let renewer = spawn_renewer(self.client.inner.clone(), &self.lease, every, self.duration_seconds);
            self.renewer = Some(renewer);
        }
        Ok(())
    }

    /// Releases the lease now, reporting errors.
    ///
    /// Example: [`Client::lease`].
    pub fn release(mut self) -> Result<()> {
        self.released = true;
        self.renewer = None;
        self.client.release_lease(&self.lease.intent_id, &self.lease.id)
    }
}

impl Deref for LeaseGuard {
    type Target = Lease;
    fn deref(&self) -> &Lease {
        &self.lease
    }
}

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        self.renewer = None;
        if self.released {
            return;
        }
        if let Err(e) = self.client.release_lease(&self.lease.intent_id, &self.lease.id) {
            tracing::warn!(lease_id = %self.lease.id, error = %e, "could not release the lease");
        }
    }
}

/// An iterator over a stream driven on the blocking client's runtime, from
/// [`Client::stream_intent_events`] and the other streams (example there). Dropping it stops
/// the stream.
pub struct BlockingStream<T> {
    rx: std::sync::mpsc::Receiver<T>,
    _task: Option<AbortOnDrop>,
}

impl<T> std::fmt::Debug for BlockingStream<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockingStream").finish_non_exhaustive()
    }
}

impl<T> BlockingStream<T> {
    /// The next item, waiting at most `timeout`; `None` when nothing arrived in time or the
    /// stream ended.
    ///
    /// Example: [`Client::stream_intent_events`](crate::blocking::Client::stream_intent_events).
    pub fn next_timeout(&mut self, timeout: Duration) -> Option<T> {
        self.rx.recv_timeout(timeout).ok()
    }
}

impl<T> Iterator for BlockingStream<T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}
