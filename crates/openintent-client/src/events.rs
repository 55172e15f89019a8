//! The append-only event log (RFC-0002).
//!
//! | Seed method | Rust | Wire |
//! |---|---|---|
//! | `log_event(id, event_type, payload)` | [`Client::log_event`] | `POST …/events` (`actor` = agent id) |
//! | `get_events(id, event_type?, since?, limit?)` | [`Client::get_events`] | `GET …/events` |
//! | — | [`Client::get_trace_events`]`.limit(..)` | `GET /api/v1/events?trace_id=` (RFC-0020; not on the reference: [`unsupported`](crate::Error::is_unsupported)) |
//!
//! Events come newest first. The reference server ignores the `event_type` and `since` query
//! parameters, so [`GetEvents`] also applies them to what it receives.

use chrono::{DateTime, Utc};
use openintent_transport::Request;
use openintent_types::{EventType, IntentEvent, LogEventRequest};
use serde_json::Value;

use crate::client::{Client, GenericClient, intent_path, object};
use crate::error::Result;
use crate::mode::{Async, Mode, impl_send};

/// The largest page the reference server accepts for events.
pub(crate) const MAX_EVENT_PAGE: u32 = 1000;

impl<M: Mode> GenericClient<M> {
    /// Appends an event (`POST …/events`); `actor` defaults to the agent id.
    ///
    /// ```no_run
    /// use serde_json::json;
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// client
    ///     .log_event("7f1c…", "comment")
    ///     .payload(json!({"message": "Starting analysis phase"}))
    ///     .send()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn log_event(&self, intent_id: &str, event_type: impl Into<EventType>) -> LogEvent<M> {
        LogEvent {
            client: self.clone(),
            intent_id: intent_id.to_owned(),
            req: LogEventRequest::new(event_type),
            payload: None,
            span: None,
        }
    }

    /// Reads the event history (`GET …/events`), newest first.
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// for event in client.get_events("7f1c…").event_type("comment").limit(20).send().await? {
    ///     println!("{} by {} at {}", event.event_type, event.agent_id(), event.created_at);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn get_events(&self, intent_id: &str) -> GetEvents<M> {
        GetEvents {
            client: self.clone(),
            intent_id: intent_id.to_owned(),
            event_type: None,
            since: None,
            limit: None,
            offset: None,
        }
    }

    /// The events of one trace (RFC-0020), across intents, oldest first
    /// (`GET /api/v1/events?trace_id=`); on openintent-rs the events of intents the caller may
    /// not read are left out. The trace id must be 32 lowercase hexadecimal digits (else an
    /// [`Error::Invalid`](crate::Error::Invalid) naming `trace_id`, before anything is sent).
    /// The reference server lacks the route ([`unsupported`](crate::Error::is_unsupported)).
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// for event in client.get_trace_events("a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6").limit(500).send().await? {
    ///     println!("{} on {}: {}", event.created_at, event.intent_id, event.event_type);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn get_trace_events(&self, trace_id: impl Into<String>) -> GetTraceEvents<M> {
        GetTraceEvents { client: self.clone(), trace_id: trace_id.into(), limit: None, offset: None }
    }
}

impl Client {
    /// Every event of an intent, paging until the end (newest first).
    pub(crate) async fn all_events(&self, intent_id: &str) -> Result<Vec<IntentEvent>> {
        let mut all: Vec<IntentEvent> = Vec::new();
        let mut offset = 0u32;
        loop {
            let req = Request::get(intent_path(intent_id, "/events")?)
                .query("limit", MAX_EVENT_PAGE.to_string())
                .query("offset", offset.to_string());
            let page = self.list::<IntentEvent>(req).await?.items;
            let n = page.len() as u32;
            // A server that ignores `offset` sends the same page again: stop there.
            let repeated = offset > 0 && page.first().map(|e| &e.id) == all.first().map(|e| &e.id);
            if repeated {
                break;
            }
            all.extend(page);
            if n < MAX_EVENT_PAGE {
                break;
            }
            offset += n;
        }
        Ok(all)
    }
}

/// Builder of [`Client::log_event`].
#[must_use = "a builder does nothing until .send() is awaited"]
#[derive(Debug)]
pub struct LogEvent<M: Mode = Async> {
    client: GenericClient<M>,
    intent_id: String,
    req: LogEventRequest,
    payload: Option<Value>,
    /// The span whose trace context the event takes ([`LogEvent::trace_current_span`]).
    span: Option<tracing::Span>,
}

impl<M: Mode> LogEvent<M> {
    /// Sets the tracing fields (RFC-0020) explicitly: `trace_id` (32 lowercase hex digits) and
    /// the event that caused this one. They are sent top-level and, for servers that drop them
    /// there (the reference keeps only the payload), also inside the payload (unless it has
    /// those keys already); [`IntentEvent::resolved_trace_id`] reads either.
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let started = client.log_event("7f1c…", "tool_call_started")
    ///     .trace("a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6", None)
    ///     .send()
    ///     .await?;
    /// client.log_event("7f1c…", "tool_call_completed")
    ///     .trace("a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6", Some(started.id.clone()))
    ///     .send()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn trace(mut self, trace_id: impl Into<String>, parent_event_id: Option<String>) -> Self {
        self.req.trace_id = Some(trace_id.into());
        self.req.parent_event_id = parent_event_id;
        self
    }

    /// Opt-in: takes the tracing fields (RFC-0020) from the current [`tracing`] span, the one
    /// entered where this method is called:
    ///
    /// - `trace_id`: one random id per root span (kept on the root span, so every event logged
    ///   under the same root shares it);
    /// - `parent_event_id`: the last event logged with this option from an enclosing span
    ///   (the nearest one that logged any), so events of a child span name the event of the
    ///   step that started them.
    ///
    /// The fields are sent as [`LogEvent::trace`] sends them. Needs a subscriber built on
    /// `tracing_subscriber`'s `Registry` (as `tracing_subscriber::fmt()` and
    /// `tracing_subscriber::registry()` are); outside any span, or under another subscriber,
    /// nothing is set. Fields set with [`LogEvent::trace`] win.
    ///
    /// ```no_run
    /// use tracing::Instrument;
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// async {
    ///     let step = client.log_event("7f1c…", "task_started").trace_current_span().send().await?;
    ///     async {
    ///         // Same trace id; parent_event_id = step.id.
    ///         client.log_event("7f1c…", "tool_call_started").trace_current_span().send().await
    ///     }
    ///     .instrument(tracing::info_span!("tool"))
    ///     .await?;
    ///     Ok::<_, openintent_client::Error>(())
    /// }
    /// .instrument(tracing::info_span!("task"))
    /// .await?;
    /// # Ok(()) }
    /// ```
    pub fn trace_current_span(mut self) -> Self {
        self.span = Some(tracing::Span::current());
        self
    }

    /// The payload (a JSON object; default `{}`).
    ///
    /// Example: [`Client::log_event`].
    pub fn payload(mut self, payload: impl Into<Value>) -> Self {
        self.payload = Some(payload.into());
        self
    }

    /// The author (default: the agent id).
    ///
    /// Example: [`Client::log_event`].
    pub fn actor(mut self, actor: impl Into<String>) -> Self {
        self.req.actor = Some(actor.into());
        self
    }

    async fn run(self) -> Result<IntentEvent> {
        let mut req = self.req;
        if let Some(p) = self.payload {
            req.payload = object("payload", p)?;
        }
        if req.actor.is_none() {
            req.actor = Some(self.client.agent_id().to_owned());
        }
        if let Some((trace_id, parent)) = self.span.as_ref().and_then(span_trace::context)
            && req.trace_id.is_none()
        {
            req.trace_id = Some(trace_id);
            req.parent_event_id = req.parent_event_id.or(parent);
        }
        // Copies in the payload survive servers that drop the top-level fields.
        for (key, value) in [("trace_id", &req.trace_id), ("parent_event_id", &req.parent_event_id)] {
            if let Some(v) = value {
                req.payload.entry(key).or_insert_with(|| Value::String(v.clone()));
            }
        }
        let request = Client::with_body(Request::post(intent_path(&self.intent_id, "/events")?), &req)?;
        let event: IntentEvent = self.client.json(request).await?;
        if let Some(span) = &self.span {
            span_trace::record(span, &event.id);
        }
        Ok(event)
    }
}
impl_send!(LogEvent, IntentEvent, "log_event");

/// The trace context of `tracing` spans (RFC-0020), kept in the spans' extensions of a
/// `tracing_subscriber` registry.
mod span_trace {
    use tracing::Span;
    use tracing_subscriber::registry::{LookupSpan, Registry};

    /// The trace id of a root span.
    struct TraceId(String);
    /// The last event logged from a span.
    struct LastEvent(String);

    /// The trace id (of the root span of `span`, made on first use) and the last event logged
    /// from an enclosing span; `None` outside spans or without a registry.
    pub(super) fn context(span: &Span) -> Option<(String, Option<String>)> {
        span.with_subscriber(|(id, dispatch)| {
            let registry = dispatch.downcast_ref::<Registry>()?;
            let current = registry.span(id)?;
            let root = current.scope().from_root().next()?;
            let trace_id = {
                let mut ext = root.extensions_mut();
                match ext.get_mut::<TraceId>() {
                    Some(t) => t.0.clone(),
                    None => {
                        let t = format!("{:032x}", fastrand::u128(1..));
                        ext.insert(TraceId(t.clone()));
                        t
                    }
                }
            };
            let parent = current.scope().skip(1).find_map(|s| s.extensions().get::<LastEvent>().map(|e| e.0.clone()));
            Some((trace_id, parent))
        })
        .flatten()
    }

    /// Remembers `event_id` as the last event logged from `span`.
    pub(super) fn record(span: &Span, event_id: &str) {
        span.with_subscriber(|(id, dispatch)| {
            if let Some(s) = dispatch.downcast_ref::<Registry>().and_then(|r| r.span(id)) {
                s.extensions_mut().replace(LastEvent(event_id.to_owned()));
            }
        });
    }
}

/// Builder of [`Client::get_events`].
#[must_use = "a builder does nothing until .send() is awaited"]
#[derive(Debug, Clone)]
pub struct GetEvents<M: Mode = Async> {
    client: GenericClient<M>,
    intent_id: String,
    event_type: Option<EventType>,
    since: Option<DateTime<Utc>>,
    limit: Option<u32>,
    offset: Option<u32>,
}

impl<M: Mode> GetEvents<M> {
    /// Only events of this type (also filtered here, since some servers ignore it).
    ///
    /// Example: [`Client::get_events`].
    pub fn event_type(mut self, event_type: impl Into<EventType>) -> Self {
        self.event_type = Some(event_type.into());
        self
    }

    /// Only events created strictly after this instant (also filtered here).
    ///
    /// Example: [`Client::get_events`].
    pub fn since(mut self, since: DateTime<Utc>) -> Self {
        self.since = Some(since);
        self
    }

    /// At most this many events (servers accept 1-1000; default 100).
    ///
    /// Example: [`Client::get_events`].
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Skip this many events.
    ///
    /// Example: [`Client::get_events`].
    pub fn offset(mut self, offset: u32) -> Self {
        self.offset = Some(offset);
        self
    }

    async fn run(self) -> Result<Vec<IntentEvent>> {
        let mut req = Request::get(intent_path(&self.intent_id, "/events")?);
        if let Some(t) = &self.event_type {
            req = req.query("event_type", t.as_str());
        }
        if let Some(s) = &self.since {
            req = req.query("since", openintent_types::time::format_rfc3339(s));
        }
        if let Some(l) = self.limit {
            req = req.query("limit", l.to_string());
        }
        if let Some(o) = self.offset {
            req = req.query("offset", o.to_string());
        }
        let page = self.client.list::<IntentEvent>(req).await?.items;
        let paged = self.limit.is_some() || self.offset.is_some();
        let mut events: Vec<IntentEvent> = if paged && page.iter().any(|e| !self.matches(e)) {
            // The server ignored a filter but applied `limit`/`offset` (the reference does):
            // the page is a slice of the unfiltered log, so filter and page the whole log here.
            let all = self.client.as_async().all_events(&self.intent_id).await?;
            all.into_iter().filter(|e| self.matches(e)).skip(self.offset.unwrap_or(0) as usize).collect()
        } else {
            page.into_iter().filter(|e| self.matches(e)).collect()
        };
        if let Some(l) = self.limit {
            events.truncate(l as usize);
        }
        Ok(events)
    }

    /// Whether an event passes the type and `since` filters.
    fn matches(&self, e: &IntentEvent) -> bool {
        self.event_type.as_ref().is_none_or(|t| &e.event_type == t) && self.since.is_none_or(|s| e.created_at > s)
    }
}
impl_send!(GetEvents, Vec<IntentEvent>, "get_events");

/// Builder of [`Client::get_trace_events`].
#[must_use = "a builder does nothing until .send() is awaited"]
#[derive(Debug, Clone)]
pub struct GetTraceEvents<M: Mode = Async> {
    client: GenericClient<M>,
    trace_id: String,
    limit: Option<u32>,
    offset: Option<u32>,
}

impl<M: Mode> GetTraceEvents<M> {
    /// At most this many events (the server accepts 1-1000; default 100).
    ///
    /// Example: [`Client::get_trace_events`].
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Skips this many of the trace's events (oldest first): with [`limit`](Self::limit), pages
    /// through a trace longer than one page.
    ///
    /// Example: [`Client::get_trace_events`].
    pub fn offset(mut self, offset: u32) -> Self {
        self.offset = Some(offset);
        self
    }

    async fn run(self) -> Result<Vec<IntentEvent>> {
        openintent_types::validation::validate_trace_id(&self.trace_id)?;
        let mut req = Request::get("/api/v1/events").query("trace_id", self.trace_id.as_str());
        if let Some(l) = self.limit {
            req = req.query("limit", l.to_string());
        }
        if let Some(o) = self.offset {
            req = req.query("offset", o.to_string());
        }
        Ok(self.client.list::<IntentEvent>(req).await?.items)
    }
}
impl_send!(GetTraceEvents, Vec<IntentEvent>, "get_trace_events");
