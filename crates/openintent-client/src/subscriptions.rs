//! Subscriptions (RFC-0006): webhook subscriptions and live event streams.
//!
//! | Seed method | Rust | Wire |
//! |---|---|---|
//! | `subscribe(id, subscriber_id, callback_url, event_types)` | [`Client::subscribe`] | `POST /api/v1/subscriptions` (`callback_url` sent as `webhook_url`) |
//! | `get_subscriptions(id)` | [`Client::get_subscriptions`] | `GET /api/v1/subscriptions?intent_id=` |
//! | `unsubscribe(id, subscription_id)` | [`Client::unsubscribe`] | `DELETE /api/v1/subscriptions/{subscription_id}` |
//! | — | [`Client::stream_intent_events`], [`Client::stream_portfolio_events`], [`Client::stream_agent_events`] | `GET /api/v1/subscribe/{intents,portfolios,agents}/{id}` (Server-Sent Events) |
//!
//! The reference server has no webhook routes (they answer 404 `Not Found`, an
//! [`unsupported`](crate::Error::is_unsupported) error); it does serve the event streams.
//!
//! # Event streams
//!
//! An [`EventStream`] yields typed [`StreamEvent`]s. It connects when first polled, skips
//! keep-alive comments, and when the connection ends or breaks it reconnects (waiting as the
//! server's `retry:` asks, or backing off) and resumes with `Last-Event-ID` set to the last
//! event id received (servers that send `id:` lines can then replay what was missed). A
//! refused stream (401, 404...) ends it with an [`Error::Api`]. If the
//! `/api/v1/subscribe/…` route does not exist on the server, the stream tries the older
//! `/api/v1/{intents,portfolios,agents}/{id}/subscribe` path once.
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

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use chrono::{DateTime, Utc};
use futures_core::Stream;
use futures_util::StreamExt;
use openintent_transport::sse::{EventSource, EventSourceError, ReconnectConfig, SseItem};
use openintent_transport::{Method, Request, TransportError};
use openintent_types::{CreateSubscriptionRequest, StreamEvent, StreamKind, Subscription};

use crate::client::{Client, impl_send, seg};
use crate::error::{ApiError, ApiErrorKind, Error, Result};

impl Client {
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
    pub fn subscribe(&self, intent_id: &str) -> Subscribe {
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
    pub fn subscribe_portfolio(&self, portfolio_id: &str) -> Subscribe {
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
    pub async fn get_subscriptions(&self, intent_id: &str) -> Result<Vec<Subscription>> {
        openintent_types::validation::require_text("intent_id", intent_id)?;
        let req = Request::get("/api/v1/subscriptions").query("intent_id", intent_id);
        Ok(self.list(req).await?.items)
    }

    /// Removes a webhook subscription (`DELETE /api/v1/subscriptions/{subscription_id}`).
    /// The intent id is the seed's signature; it is not part of the wire call.
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// client.unsubscribe("7f1c…", "sub-1").await?;
    /// # Ok(()) }
    /// ```
    pub async fn unsubscribe(&self, _intent_id: &str, subscription_id: &str) -> Result<()> {
        let path = format!("/api/v1/subscriptions/{}", seg("subscription_id", subscription_id)?);
        self.empty(Request::delete(path)).await
    }

    /// A live stream of an intent's events: state and status changes (with the full intent)
    /// and every logged event. See the [module docs](self).
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

    fn event_stream(&self, kind: StreamKind, id: &str) -> EventStreamBuilder {
        EventStreamBuilder {
            client: self.clone(),
            kind,
            id: id.to_owned(),
            last_event_id: None,
            reconnect: self.inner.reconnect.clone(),
        }
    }
}

/// Builder of [`Client::subscribe`].
#[must_use = "a builder does nothing until .send() is awaited"]
#[derive(Debug)]
pub struct Subscribe {
    client: Client,
    req: CreateSubscriptionRequest,
}

impl Subscribe {
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

    /// Sends the call.
    ///
    /// Example: [`Client::subscribe`].
    pub async fn send(self) -> Result<Subscription> {
        let mut req = self.req;
        req.subscriber_id.get_or_insert_with(|| self.client.agent_id().to_owned());
        let request = Client::with_body(Request::post("/api/v1/subscriptions"), &req)?;
        self.client.json(request).await
    }
}
impl_send!(Subscribe, Subscription);

/// Builder of the event streams ([`Client::stream_intent_events`], ...).
#[must_use = "a stream does nothing until polled"]
#[derive(Debug, Clone)]
pub struct EventStreamBuilder {
    client: Client,
    kind: StreamKind,
    id: String,
    last_event_id: Option<String>,
    reconnect: ReconnectConfig,
}

impl EventStreamBuilder {
    /// Resume after this event id (sent as `Last-Event-ID` on the first connection).
    ///
    /// Example: [`Client::stream_intent_events`].
    pub fn last_event_id(mut self, id: impl Into<String>) -> Self {
        self.last_event_id = Some(id.into());
        self
    }

    /// How to reconnect (default: the client's setting, [`ReconnectConfig::default`]).
    pub fn reconnect(mut self, config: ReconnectConfig) -> Self {
        self.reconnect = config;
        self
    }

    /// The stream. Nothing is sent until it is first polled.
    ///
    /// Example: [`Client::stream_intent_events`].
    pub fn into_stream(self) -> EventStream {
        let last = Arc::new(Mutex::new(self.last_event_id.clone()));
        let primary = match seg("id", &self.id) {
            Ok(id) => self.kind.path(&id),
            Err(e) => {
                return EventStream {
                    inner: Box::pin(futures_util::stream::once(async { Err(e) })),
                    last_event_id: last,
                };
            }
        };
        let kind_plural = match self.kind {
            StreamKind::Intent => "intents",
            StreamKind::Portfolio => "portfolios",
            _ => "agents",
        };
        let fallback = format!("/api/v1/{kind_plural}/{}/subscribe", seg("id", &self.id).unwrap_or_default());
        let state = StreamState {
            client: self.client,
            path: primary.clone(),
            fallback: Some(fallback),
            reconnect: self.reconnect,
            source: None,
            connected: false,
            done: false,
            last: last.clone(),
        };
        let inner = futures_util::stream::unfold(state, |mut st| async move {
            let item = st.next_item().await?;
            Some((item, st))
        });
        EventStream { inner: Box::pin(inner), last_event_id: last }
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
    reconnect: ReconnectConfig,
    source: Option<EventSource>,
    connected: bool,
    done: bool,
    last: Arc<Mutex<Option<String>>>,
}

impl StreamState {
    fn open(&self) -> EventSource {
        let mut req = self.client.decorate(Request::get(self.path.clone())).header("Accept", "text/event-stream");
        if let Some(id) = self.last.lock().unwrap_or_else(|e| e.into_inner()).clone() {
            req = req.header("Last-Event-ID", id);
        }
        EventSource::with_config(self.client.transport().clone(), req, self.reconnect.clone())
    }

    async fn next_item(&mut self) -> Option<Result<StreamEvent>> {
        loop {
            if self.done {
                return None;
            }
            if self.source.is_none() {
                self.source = Some(self.open());
            }
            let item = self.source.as_mut()?.next().await;
            match item {
                None => {
                    self.done = true;
                    return None;
                }
                Some(Ok(SseItem::Connected { .. })) => self.connected = true,
                Some(Ok(SseItem::Event(ev))) => {
                    if let Some(id) = ev.id.clone().filter(|i| !i.is_empty()) {
                        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(id);
                    }
                    let name = if ev.event.is_empty() { "message" } else { ev.event.as_str() };
                    return Some(Ok(StreamEvent::parse(name, &ev.data)));
                }
                Some(Ok(SseItem::Reconnecting { attempt, delay, .. })) => {
                    tracing::debug!(attempt, ?delay, path = %self.path, "event stream reconnecting");
                }
                Some(Ok(_)) => {}
                Some(Err(EventSourceError::Status(resp))) => {
                    let err = ApiError::from_response(Method::Get, &self.path, &resp);
                    if !self.connected
                        && *err.kind() == ApiErrorKind::Unsupported
                        && let Some(alt) = self.fallback.take()
                    {
                        tracing::debug!(from = %self.path, to = %alt, "stream route missing; trying the older path");
                        self.path = alt;
                        self.source = None;
                        continue;
                    }
                    self.done = true;
                    return Some(Err(Error::Api(err)));
                }
                Some(Err(EventSourceError::Transport(e))) => {
                    self.done = true;
                    return Some(Err(Error::Transport(e)));
                }
                Some(Err(other)) => {
                    self.done = true;
                    return Some(Err(Error::Transport(TransportError::other(other.to_string()))));
                }
            }
        }
    }
}
