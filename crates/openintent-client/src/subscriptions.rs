//! Subscriptions (RFC-0006): webhook subscriptions and live event streams.
//!
//! | Seed method | Rust | Wire |
//! |---|---|---|
//! | `subscribe(id, subscriber_id, callback_url, event_types)` | [`Client::subscribe`] | `POST /api/v1/subscriptions` (`callback_url` sent as `webhook_url`) |
//! | `get_subscriptions(id)` | [`Client::get_subscriptions`] | `GET /api/v1/subscriptions?intent_id=` |
//! | `unsubscribe(id, subscription_id)` | [`Client::unsubscribe`] | `DELETE /api/v1/subscriptions/{subscription_id}` |
//! | — | [`Client::stream_intent_events`], [`Client::stream_portfolio_events`], [`Client::stream_agent_events`], [`Client::stream_channel_messages`] | `GET /api/v1/subscribe/{intents,portfolios,agents,channels}/{id}` (Server-Sent Events) |
//!
//! The reference server has no webhook routes (they answer 404 `Not Found`, an
//! [`unsupported`](crate::Error::is_unsupported) error); it does serve the event streams.
//!
//! # Event streams
//!
//! An [`EventStream`] yields typed [`StreamEvent`]s. It connects when first polled (or at
//! once with [`EventStreamBuilder::connect`], which returns when the server answered, so that a
//! program can subscribe first and then act without missing its own first events), skips
//! keep-alive comments, and when the connection ends or breaks it reconnects (waiting as the
//! server's `retry:` asks, or backing off) and resumes with `Last-Event-ID` set to the last
//! event id received (servers that send `id:` lines can then replay what was missed). A
//! refused stream (401, 404...) ends it with an [`Error::Api`]. If the
//! `/api/v1/subscribe/…` route does not exist on the server, the stream tries the older
//! `/api/v1/{intents,portfolios,agents}/{id}/subscribe` path once.
//!
//! Where a stream starts: live (the default), after a given event id
//! ([`EventStreamBuilder::last_event_id`]), or from the start
//! ([`EventStreamBuilder::from_start`]). On the openintent-rs server an intent's stream is its
//! event log: every event appended to it, in log order, with the log's ids
//! ([`EventStream::last_event_id`] after each item), so a stream from the start, followed
//! live, yields exactly what [`Client::get_events`] lists (oldest first). The Python reference
//! server sends no ids, replays nothing, and carries only state and status changes and logged
//! events.
//!
//! ```no_run
//! use futures_util::StreamExt;
//! use openintent_types::StreamEvent;
//! # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
//! let mut events = client.stream_intent_events("7f1c…").into_stream();
//! while let Some(event) = events.next().await {
//!     match event? {
//!         StreamEvent::IntentChanged { event_type, intent } => println!("{event_type}: v{}", intent.version),
//!         StreamEvent::Event(e) => println!("{} by {}", e.event_type, e.actor),
//!         other => println!("{}", other.event_type()),
//!     }
//! }
//! # Ok(()) }
//! ```

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use chrono::{DateTime, Utc};
use futures_core::Stream;
use futures_util::StreamExt;
use openintent_transport::sse::{EventSource, EventSourceError, ReconnectConfig, SseItem};
use openintent_transport::{Method, Request, TransportError};
use openintent_types::{CreateSubscriptionRequest, StreamEvent, StreamKind, Subscription};

use crate::client::{Client, GenericClient, seg};
use crate::error::{ApiError, ApiErrorKind, Error, Result};
use crate::mode::{Async, Mode, impl_send};
#[cfg(feature = "blocking")]
use crate::mode::{Blocking, BlockingStream};

impl<M: Mode> GenericClient<M> {
    /// Subscribes a webhook to an intent's events (`POST /api/v1/subscriptions`);
    /// `subscriber_id` defaults to the agent id.
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let subscription = client
    ///     .subscribe("7f1c…")
    ///     .subscriber_id("service:dashboard")
    ///     .callback_url("https://dashboard.example.com/webhooks/intent")
    ///     .event_types(["state_patched", "status_changed"])
    ///     .send()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn subscribe(&self, intent_id: &str) -> Subscribe<M> {
        let mut req = CreateSubscriptionRequest::default();
        req.intent_id = Some(intent_id.to_owned());
        Subscribe { client: self.clone(), req }
    }

    /// Subscribes a webhook to the events of a portfolio's intents.
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// client.subscribe_portfolio("0b86…").callback_url("https://example.com/hook").send().await?;
    /// # Ok(()) }
    /// ```
    pub fn subscribe_portfolio(&self, portfolio_id: &str) -> Subscribe<M> {
        let mut req = CreateSubscriptionRequest::default();
        req.portfolio_id = Some(portfolio_id.to_owned());
        Subscribe { client: self.clone(), req }
    }

    /// The webhook subscriptions of an intent (`GET /api/v1/subscriptions?intent_id=`).
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let subs = client.get_subscriptions("7f1c…").await?;
    /// # Ok(()) }
    /// ```
    pub fn get_subscriptions(&self, intent_id: &str) -> M::Call<Vec<Subscription>> {
        let req = openintent_types::validation::require_text("intent_id", intent_id)
            .map(|()| Request::get("/api/v1/subscriptions").query("intent_id", intent_id));
        self.call(|c| async move { Ok(c.list(req?).await?.items) })
    }

    /// Removes a webhook subscription (`DELETE /api/v1/subscriptions/{subscription_id}`).
    /// The intent id is the seed's signature; it is not part of the wire call.
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// client.unsubscribe("7f1c…", "sub-1").await?;
    /// # Ok(()) }
    /// ```
    pub fn unsubscribe(&self, _intent_id: &str, subscription_id: &str) -> M::Call<()> {
        let path = seg("subscription_id", subscription_id).map(|id| format!("/api/v1/subscriptions/{id}"));
        self.call(|c| async move { c.empty(Request::delete(path?)).await })
    }
}

impl Client {
    /// A live stream of an intent's events: state and status changes (with the full intent)
    /// and the other events of its log (on the openintent-rs server: every event of the log,
    /// in log order). See the [module docs](self).
    ///
    /// ```no_run
    /// use futures_util::StreamExt;
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let mut events = client.stream_intent_events("7f1c…").into_stream();
    /// if let Some(first) = events.next().await {
    ///     println!("{}", first?.event_type());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn stream_intent_events(&self, intent_id: &str) -> EventStreamBuilder {
        self.event_stream(StreamKind::Intent, intent_id)
    }

    /// A live stream of a portfolio's membership changes.
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let events = client.stream_portfolio_events("0b86…").into_stream();
    /// # Ok(()) }
    /// ```
    pub fn stream_portfolio_events(&self, portfolio_id: &str) -> EventStreamBuilder {
        self.event_stream(StreamKind::Portfolio, portfolio_id)
    }

    /// A live stream of an agent's assignments.
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let events = client.stream_agent_events(client.agent_id()).into_stream();
    /// # Ok(()) }
    /// ```
    pub fn stream_agent_events(&self, agent_id: &str) -> EventStreamBuilder {
        self.event_stream(StreamKind::Agent, agent_id)
    }

    /// A live stream of a channel's messages (RFC-0021): each message sent to the channel, as a
    /// [`StreamEvent::ChannelMessage`]. The reference server does not publish replies on it.
    ///
    /// ```no_run
    /// use futures_util::StreamExt;
    /// use openintent_types::StreamEvent;
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let mut messages = client.stream_channel_messages("c41d…").into_stream();
    /// while let Some(item) = messages.next().await {
    ///     if let StreamEvent::ChannelMessage(m) = item? {
    ///         println!("{}: {:?}", m.sender, m.payload);
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn stream_channel_messages(&self, channel_id: &str) -> EventStreamBuilder {
        self.event_stream(StreamKind::Channel, channel_id)
    }

    fn event_stream(&self, kind: StreamKind, id: &str) -> EventStreamBuilder {
        EventStreamBuilder {
            client: self.clone(),
            kind,
            id: id.to_owned(),
            last_event_id: None,
            from_start: false,
            reconnect: self.inner.reconnect.clone(),
        }
    }
}

/// The event streams of the blocking client are iterators, driven on its runtime.
#[cfg(feature = "blocking")]
impl GenericClient<Blocking> {
    /// An iterator over an intent's live events (see [`Client::stream_intent_events`]).
    ///
    /// ```no_run
    /// # fn run(client: openintent_client::blocking::Client) -> openintent_client::Result<()> {
    /// for event in client.stream_intent_events("7f1c…") {
    ///     println!("{}", event?.event_type());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn stream_intent_events(&self, intent_id: &str) -> BlockingStream<Result<StreamEvent>> {
        self.mode.iter(self.as_async().stream_intent_events(intent_id).into_stream())
    }

    /// An iterator over a portfolio's live events (see [`Client::stream_portfolio_events`]).
    ///
    /// ```no_run
    /// # fn run(client: openintent_client::blocking::Client) -> openintent_client::Result<()> {
    /// for event in client.stream_portfolio_events("0b86…") {
    ///     println!("{}", event?.event_type());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn stream_portfolio_events(&self, portfolio_id: &str) -> BlockingStream<Result<StreamEvent>> {
        self.mode.iter(self.as_async().stream_portfolio_events(portfolio_id).into_stream())
    }

    /// An iterator over an agent's live events (see [`Client::stream_agent_events`]).
    ///
    /// ```no_run
    /// # fn run(client: openintent_client::blocking::Client) -> openintent_client::Result<()> {
    /// for event in client.stream_agent_events(client.agent_id()) {
    ///     println!("{}", event?.event_type());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn stream_agent_events(&self, agent_id: &str) -> BlockingStream<Result<StreamEvent>> {
        self.mode.iter(self.as_async().stream_agent_events(agent_id).into_stream())
    }

    /// An iterator over a channel's live messages (see [`Client::stream_channel_messages`]).
    ///
    /// ```no_run
    /// # fn run(client: openintent_client::blocking::Client) -> openintent_client::Result<()> {
    /// for item in client.stream_channel_messages("c41d…") {
    ///     println!("{}", item?.event_type());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn stream_channel_messages(&self, channel_id: &str) -> BlockingStream<Result<StreamEvent>> {
        self.mode.iter(self.as_async().stream_channel_messages(channel_id).into_stream())
    }
}

/// Builder of [`Client::subscribe`].
#[must_use = "a builder does nothing until .send() is awaited"]
#[derive(Debug)]
pub struct Subscribe<M: Mode = Async> {
    client: GenericClient<M>,
    req: CreateSubscriptionRequest,
}

impl<M: Mode> Subscribe<M> {
    /// Who subscribes (default: the agent id).
    ///
    /// Example: [`Client::subscribe`].
    pub fn subscriber_id(mut self, subscriber_id: impl Into<String>) -> Self {
        self.req.subscriber_id = Some(subscriber_id.into());
        self
    }

    /// The http(s) URL events are POSTed to (sent as `webhook_url`).
    ///
    /// Example: [`Client::subscribe`].
    pub fn callback_url(mut self, url: impl Into<String>) -> Self {
        self.req.webhook_url = Some(url.into());
        self
    }

    /// Same as [`callback_url`](Self::callback_url), under the wire name.
    pub fn webhook_url(self, url: impl Into<String>) -> Self {
        self.callback_url(url)
    }

    /// Only these event types (default: all).
    ///
    /// Example: [`Client::subscribe`].
    pub fn event_types<I, S>(mut self, types: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.req.event_types = types.into_iter().map(Into::into).collect();
        self
    }

    /// When the subscription ends.
    ///
    /// Example: [`Client::subscribe`].
    pub fn expires_at(mut self, at: DateTime<Utc>) -> Self {
        self.req.expires_at = Some(at);
        self
    }

    async fn run(self) -> Result<Subscription> {
        let mut req = self.req;
        req.subscriber_id.get_or_insert_with(|| self.client.agent_id().to_owned());
        let request = Client::with_body(Request::post("/api/v1/subscriptions"), &req)?;
        self.client.json(request).await
    }
}
impl_send!(Subscribe, Subscription, "subscribe");

/// Builder of the event streams ([`Client::stream_intent_events`], ...).
#[must_use = "a stream does nothing until polled"]
#[derive(Debug, Clone)]
pub struct EventStreamBuilder {
    client: Client,
    kind: StreamKind,
    id: String,
    last_event_id: Option<String>,
    from_start: bool,
    reconnect: ReconnectConfig,
}

impl EventStreamBuilder {
    /// Start after this event id: the stream first replays what came after it (sent as
    /// `Last-Event-ID` on the first connection; servers that do not know the id start live, or
    /// from the start with [`from_start`](Self::from_start)).
    ///
    /// Example: [`Client::stream_intent_events`].
    pub fn last_event_id(mut self, id: impl Into<String>) -> Self {
        self.last_event_id = Some(id.into());
        self
    }

    /// Start from the beginning: the stream first replays everything it carried so far (an
    /// intent's whole event log, from `intent_created` on), then goes on live (sent as
    /// `?from=start`; a [`last_event_id`](Self::last_event_id) the server knows, and every
    /// reconnection, resume after that id instead). The Python reference server ignores it and
    /// starts live.
    ///
    /// ```no_run
    /// use futures_util::StreamExt;
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let mut events = client.stream_intent_events("7f1c…").from_start().connect().await?;
    /// while let Some(event) = events.next().await {
    ///     println!("{} ({:?})", event?.event_type(), events.last_event_id());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn from_start(mut self) -> Self {
        self.from_start = true;
        self
    }

    /// How to reconnect (default: the client's setting, [`ReconnectConfig::default`]).
    pub fn reconnect(mut self, config: ReconnectConfig) -> Self {
        self.reconnect = config;
        self
    }

    /// Connects now and returns the stream once the server answered it with 200. The
    /// openintent-rs server subscribes before it answers, so from then on every change made
    /// (by this program too) is on the stream. A refused stream (401, 404...) is the error;
    /// transient failures are retried as [`reconnect`](Self::reconnect) says.
    ///
    /// ```no_run
    /// use futures_util::StreamExt;
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let intent = client.create_intent("Watched").send().await?;
    /// let mut events = client.stream_intent_events(&intent.id).connect().await?;
    /// client.log_event(&intent.id, "comment").send().await?;
    /// let first = events.next().await.expect("the stream is open")?;
    /// assert_eq!(first.event_type(), "comment");
    /// # Ok(()) }
    /// ```
    pub async fn connect(self) -> Result<EventStream> {
        let (mut state, last) = self.state()?;
        state.wait_connected().await?;
        Ok(EventStream::over(state, last))
    }

    /// The stream. Nothing is sent until it is first polled; see [`connect`](Self::connect)
    /// to know when it is live.
    ///
    /// Example: [`Client::stream_intent_events`].
    pub fn into_stream(self) -> EventStream {
        match self.state() {
            Ok((state, last)) => EventStream::over(state, last),
            Err(e) => EventStream {
                inner: Box::pin(futures_util::stream::once(async { Err(e) })),
                last_event_id: Arc::new(Mutex::new(None)),
            },
        }
    }

    /// The unconnected stream state, and the shared last event id.
    fn state(self) -> Result<(StreamState, Arc<Mutex<Option<String>>>)> {
        let last = Arc::new(Mutex::new(self.last_event_id.clone()));
        let primary = self.kind.path(&seg("id", &self.id)?);
        // The 0.17 SDK's paths (`/api/v1/{kind}/{id}/subscribe`), tried when the primary path
        // is missing; channel streams have no such path.
        let fallback = match self.kind {
            StreamKind::Intent => Some("intents"),
            StreamKind::Portfolio => Some("portfolios"),
            StreamKind::Agent => Some("agents"),
            _ => None,
        }
        .map(|kind| format!("/api/v1/{kind}/{}/subscribe", seg("id", &self.id).unwrap_or_default()));
        let state = StreamState {
            client: self.client,
            path: primary.clone(),
            fallback,
            from_start: self.from_start,
            reconnect: self.reconnect,
            source: None,
            connected: false,
            done: false,
            early: VecDeque::new(),
            last: last.clone(),
        };
        Ok((state, last))
    }
}

/// A live stream of typed events; see the [module docs](self).
pub struct EventStream {
    inner: Pin<Box<dyn Stream<Item = Result<StreamEvent>> + Send>>,
    last_event_id: Arc<Mutex<Option<String>>>,
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream").field("last_event_id", &self.last_event_id()).finish_non_exhaustive()
    }
}

impl EventStream {
    fn over(state: StreamState, last: Arc<Mutex<Option<String>>>) -> EventStream {
        let inner = futures_util::stream::unfold(state, |mut st| async move {
            let item = st.next_item().await?;
            Some((item, st))
        });
        EventStream { inner: Box::pin(inner), last_event_id: last }
    }

    /// The id of the last event received (or the one given to start from), sent as
    /// `Last-Event-ID` when reconnecting.
    ///
    /// Example: [`Client::stream_intent_events`].
    pub fn last_event_id(&self) -> Option<String> {
        self.last_event_id.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Stream for EventStream {
    type Item = Result<StreamEvent>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

struct StreamState {
    client: Client,
    path: String,
    fallback: Option<String>,
    /// Ask the server to replay the stream from its start (`?from=start`).
    from_start: bool,
    reconnect: ReconnectConfig,
    source: Option<EventSource>,
    connected: bool,
    done: bool,
    /// Items that arrived while [`StreamState::wait_connected`] waited, yielded first.
    early: VecDeque<Result<StreamEvent>>,
    last: Arc<Mutex<Option<String>>>,
}

/// What one item of the source means for the stream.
enum Step {
    /// Yield this.
    Item(Result<StreamEvent>),
    /// A connection opened.
    Connected,
    /// Nothing to yield; read on.
    Continue,
    /// The stream ended.
    End,
}

impl StreamState {
    fn open(&self) -> EventSource {
        let mut req = Request::get(self.path.clone());
        if self.from_start {
            req = req.query("from", "start");
        }
        let mut req = self.client.decorate(req).header("Accept", "text/event-stream");
        if let Some(id) = self.last.lock().unwrap_or_else(|e| e.into_inner()).clone() {
            req = req.header("Last-Event-ID", id);
        }
        EventSource::with_config(self.client.transport().clone(), req, self.reconnect.clone())
    }

    /// The next item of the source (connecting first when needed); `None` once done.
    async fn next_step(&mut self) -> Option<Step> {
        if self.done {
            return None;
        }
        if self.source.is_none() {
            self.source = Some(self.open());
        }
        let item = self.source.as_mut()?.next().await;
        Some(self.step(item))
    }

    async fn next_item(&mut self) -> Option<Result<StreamEvent>> {
        if let Some(item) = self.early.pop_front() {
            return Some(item);
        }
        loop {
            match self.next_step().await? {
                Step::Item(item) => return Some(item),
                Step::Connected | Step::Continue => {}
                Step::End => return None,
            }
        }
    }

    /// Connects, and returns once the server answered 2xx (or the error that refused it).
    async fn wait_connected(&mut self) -> Result<()> {
        loop {
            let Some(step) = self.next_step().await else { break };
            match step {
                Step::Connected => return Ok(()),
                Step::Item(Err(e)) => return Err(e),
                Step::Item(Ok(event)) => {
                    // Only an open stream carries events.
                    self.early.push_back(Ok(event));
                    return Ok(());
                }
                Step::Continue => {}
                Step::End => break,
            }
        }
        Err(Error::Transport(TransportError::other("the event stream ended before it was connected")))
    }

    fn step(&mut self, item: Option<std::result::Result<SseItem, EventSourceError>>) -> Step {
        match item {
            None => {
                self.done = true;
                Step::End
            }
            Some(Ok(SseItem::Connected { .. })) => {
                self.connected = true;
                Step::Connected
            }
            Some(Ok(SseItem::Event(ev))) => {
                if let Some(id) = ev.id.clone().filter(|i| !i.is_empty()) {
                    *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(id);
                }
                let name = if ev.event.is_empty() { "message" } else { ev.event.as_str() };
                Step::Item(Ok(StreamEvent::parse(name, &ev.data)))
            }
            Some(Ok(SseItem::Reconnecting { attempt, delay, .. })) => {
                tracing::debug!(attempt, ?delay, path = %self.path, "event stream reconnecting");
                Step::Continue
            }
            Some(Ok(_)) => Step::Continue,
            Some(Err(EventSourceError::Status(resp))) => {
                let err = ApiError::from_response(Method::Get, &self.path, &resp);
                if !self.connected
                    && *err.kind() == ApiErrorKind::Unsupported
                    && let Some(alt) = self.fallback.take()
                {
                    tracing::debug!(from = %self.path, to = %alt, "stream route missing; trying the older path");
                    self.path = alt;
                    self.source = None;
                    return Step::Continue;
                }
                self.done = true;
                Step::Item(Err(Error::Api(err)))
            }
            Some(Err(EventSourceError::Transport(e))) => {
                self.done = true;
                Step::Item(Err(Error::Transport(e)))
            }
            Some(Err(other)) => {
                self.done = true;
                Step::Item(Err(Error::Transport(TransportError::other(other.to_string()))))
            }
        }
    }
}
