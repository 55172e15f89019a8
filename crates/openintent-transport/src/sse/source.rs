//! A reconnecting Server-Sent Events source.

use std::fmt;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use futures_core::Stream;
use futures_util::StreamExt;

use super::{SseEvent, SseParser, SseStream};
use crate::{Request, Response, Transport, TransportError, TransportErrorKind, parse_retry_after};

/// How an [`EventSource`] waits between connections.
///
/// After a stream that was open ends or fails, the source waits the
/// server's last `retry:` value, or `initial_delay` when the server sent
/// none. Each further consecutive failure to (re)connect doubles that wait
/// (with jitter, up to `max_delay`). A `Retry-After` header on a 429 or 5xx
/// answer replaces the computed wait, capped at `max_delay`.
///
/// ```
/// use std::time::Duration;
/// use openintent_transport::sse::ReconnectConfig;
///
/// let config = ReconnectConfig::default()
///     .initial_delay(Duration::from_millis(500))
///     .max_retries(Some(10));
/// assert_eq!(config.max_retries, Some(10));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReconnectConfig {
    /// The wait before reconnecting when the server gave no `retry:` value.
    pub initial_delay: Duration,
    /// The longest wait between two attempts (also caps `retry:` and
    /// `Retry-After`).
    pub max_delay: Duration,
    /// How many consecutive failed connection attempts are tolerated before
    /// the source yields the last error and ends; `None` retries forever.
    pub max_retries: Option<u32>,
}

impl Default for ReconnectConfig {
    fn default() -> Self {
        Self { initial_delay: Duration::from_secs(1), max_delay: Duration::from_secs(30), max_retries: None }
    }
}

impl ReconnectConfig {
    /// Sets [`initial_delay`](Self::initial_delay).
    pub fn initial_delay(mut self, delay: Duration) -> Self {
        self.initial_delay = delay;
        self
    }

    /// Sets [`max_delay`](Self::max_delay).
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// Sets [`max_retries`](Self::max_retries).
    pub fn max_retries(mut self, retries: Option<u32>) -> Self {
        self.max_retries = retries;
        self
    }
}

/// Why an [`EventSource`] is reconnecting.
#[derive(Debug)]
#[non_exhaustive]
pub enum ReconnectCause {
    /// The server closed the stream.
    Ended,
    /// The connection failed or broke.
    Error(TransportError),
    /// The server answered with a transient status (429, 500, 502, 503, 504).
    Status(Response),
}

/// An item of an [`EventSource`].
#[derive(Debug)]
#[non_exhaustive]
pub enum SseItem {
    /// A stream was opened (status 2xx). The first item of every connection.
    Connected {
        /// The HTTP status of the stream response.
        status: u16,
        /// How many reconnections happened before this connection.
        reconnects: u64,
    },
    /// An event arrived.
    Event(SseEvent),
    /// The source will reconnect after `delay`.
    Reconnecting {
        /// Counts reconnections since the last stream that opened (or since
        /// the start): 1 for the first, 2 if that one fails too, and so on.
        attempt: u32,
        /// How long the source waits before connecting.
        delay: Duration,
        /// What ended the previous connection or attempt.
        cause: ReconnectCause,
    },
}

/// Why an [`EventSource`] stopped. It yields this as its last item.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EventSourceError {
    /// The server refused the subscription with a status that retrying does
    /// not fix (e.g. 401 or 404), or a transient status persisted beyond
    /// [`ReconnectConfig::max_retries`]. The response carries the body.
    #[error("the event stream was refused with status {}", .0.status)]
    Status(Response),
    /// The connection could not be established (beyond
    /// [`ReconnectConfig::max_retries`]) or the request was invalid.
    #[error("the event stream could not be opened")]
    Transport(#[source] TransportError),
    /// The server answered 2xx with a `Content-Type` other than
    /// `text/event-stream`. The response carries the body.
    #[error("the server answered `{}` instead of an event stream", .0.headers.get("content-type").unwrap_or_default())]
    NotAnEventStream(Response),
}

impl EventSourceError {
    /// The HTTP status, for [`Status`](Self::Status).
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Status(r) | Self::NotAnEventStream(r) => Some(r.status),
            Self::Transport(_) => None,
        }
    }
}

/// A missing `Content-Type` is accepted (test transports often omit it).
fn is_event_stream(headers: &crate::Headers) -> bool {
    headers
        .get("content-type")
        .is_none_or(|ct| ct.split(';').next().unwrap_or_default().trim().eq_ignore_ascii_case("text/event-stream"))
}

fn is_transient_status(status: u16) -> bool {
    matches!(status, 429 | 500 | 502 | 503 | 504)
}

/// Longest time spent reading the body of a refused subscription.
const ERROR_BODY_TIMEOUT: Duration = Duration::from_secs(5);

/// A Server-Sent Events subscription that survives disconnections.
///
/// It sends the request with [`Transport::send_stream`] and yields
/// [`SseItem::Connected`], then each [`SseItem::Event`]. When the stream ends
/// or breaks it yields [`SseItem::Reconnecting`], waits (see
/// [`ReconnectConfig`]) and sends the request again with `Last-Event-ID` set
/// to the last id seen. It ends:
///
/// - with `Err(`[`EventSourceError::Status`]`)` when the server answers a
///   status other than 2xx, 429, 500, 502, 503 or 504;
/// - with `Err(`[`EventSourceError::NotAnEventStream`]`)` when a 2xx answer
///   has a `Content-Type` other than `text/event-stream`;
/// - with `Err(`[`EventSourceError::Transport`]`)` for an invalid request,
///   or when [`ReconnectConfig::max_retries`] consecutive attempts failed;
/// - quietly when the server answers 204 No Content (the specification's
///   way to say "stop reconnecting").
///
/// Otherwise it runs until dropped. `Accept: text/event-stream` and
/// `Cache-Control: no-cache` are added unless the request sets them.
///
/// ```no_run
/// use std::sync::Arc;
/// use futures_util::StreamExt;
/// use openintent_transport::sse::{EventSource, SseItem};
/// use openintent_transport::{Request, Transport};
///
/// async fn watch(transport: Arc<dyn Transport>) -> Result<(), Box<dyn std::error::Error>> {
///     let mut source = EventSource::new(transport, Request::get("/api/v1/subscribe/intents/some-id"));
///     while let Some(item) = source.next().await {
///         match item? {
///             SseItem::Event(ev) => println!("{}: {}", ev.event, ev.data),
///             SseItem::Reconnecting { delay, .. } => println!("reconnecting in {delay:?}"),
///             _ => {}
///         }
///     }
///     Ok(())
/// }
/// ```
pub struct EventSource {
    inner: Pin<Box<dyn Stream<Item = Result<SseItem, EventSourceError>> + Send>>,
    reconnects: Arc<AtomicU64>,
    last_event_id: Arc<Mutex<Option<String>>>,
}

impl fmt::Debug for EventSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventSource")
            .field("reconnects", &self.reconnects())
            .field("last_event_id", &self.last_event_id())
            .finish_non_exhaustive()
    }
}

impl EventSource {
    /// A source with the default [`ReconnectConfig`].
    pub fn new(transport: Arc<dyn Transport>, request: Request) -> Self {
        Self::with_config(transport, request, ReconnectConfig::default())
    }

    /// A source with the given reconnection policy. Nothing is sent until
    /// the stream is first polled. A `Last-Event-ID` header on `request`
    /// seeds the id used for the first resumption.
    pub fn with_config(transport: Arc<dyn Transport>, request: Request, config: ReconnectConfig) -> Self {
        let reconnects = Arc::new(AtomicU64::new(0));
        let last_event_id =
            Arc::new(Mutex::new(request.headers.get("last-event-id").filter(|v| !v.is_empty()).map(str::to_owned)));
        let state = State {
            transport,
            request,
            config,
            conn: None,
            server_retry: None,
            failures: 0,
            retry_seq: 0,
            wait: None,
            done: false,
            reconnects: reconnects.clone(),
            last_event_id: last_event_id.clone(),
        };
        let inner = futures_util::stream::unfold(state, |mut state| async move {
            let item = state.next_item().await?;
            Some((item, state))
        });
        Self { inner: Box::pin(inner), reconnects, last_event_id }
    }

    /// How many times the source has reconnected (or scheduled a reconnect).
    pub fn reconnects(&self) -> u64 {
        self.reconnects.load(Ordering::Relaxed)
    }

    /// The last event id seen, sent as `Last-Event-ID` on the next reconnect.
    pub fn last_event_id(&self) -> Option<String> {
        self.last_event_id.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Only the events and the final error; connection items are dropped.
    pub fn into_events(self) -> impl Stream<Item = Result<SseEvent, EventSourceError>> + Send {
        self.filter_map(|item| async move {
            match item {
                Ok(SseItem::Event(ev)) => Some(Ok(ev)),
                Ok(_) => None,
                Err(e) => Some(Err(e)),
            }
        })
    }
}

impl Stream for EventSource {
    type Item = Result<SseItem, EventSourceError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

struct State {
    transport: Arc<dyn Transport>,
    request: Request,
    config: ReconnectConfig,
    conn: Option<SseStream>,
    server_retry: Option<Duration>,
    /// Consecutive failed connection attempts since the last open stream.
    failures: u32,
    /// Reconnections scheduled since the last open stream.
    retry_seq: u32,
    /// The wait before the next connection attempt.
    wait: Option<Duration>,
    done: bool,
    reconnects: Arc<AtomicU64>,
    last_event_id: Arc<Mutex<Option<String>>>,
}

impl State {
    fn current_last_id(&self) -> Option<String> {
        self.last_event_id.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn remember(&mut self, conn: &SseStream) {
        if let Some(r) = conn.retry() {
            self.server_retry = Some(r);
        }
        *self.last_event_id.lock().unwrap_or_else(|e| e.into_inner()) = conn.last_event_id().map(str::to_owned);
    }

    async fn next_item(&mut self) -> Option<Result<SseItem, EventSourceError>> {
        if self.done {
            return None;
        }
        if let Some(conn) = self.conn.as_mut() {
            let next = conn.next().await;
            let conn = self.conn.take()?;
            self.remember(&conn);
            match next {
                Some(Ok(ev)) => {
                    self.conn = Some(conn);
                    return Some(Ok(SseItem::Event(ev)));
                }
                Some(Err(e)) => return self.schedule(ReconnectCause::Error(e), None),
                None => return self.schedule(ReconnectCause::Ended, None),
            }
        }

        if let Some(wait) = self.wait.take() {
            tokio::time::sleep(wait).await;
        }
        let mut req = self.request.clone();
        if let Some(id) = self.current_last_id() {
            req.headers.insert("last-event-id", id);
        }
        if !req.headers.contains("accept") {
            req.headers.insert("accept", "text/event-stream");
        }
        if !req.headers.contains("cache-control") {
            req.headers.insert("cache-control", "no-cache");
        }
        match self.transport.send_stream(req).await {
            Ok(resp) if resp.status == 204 => {
                self.done = true;
                None
            }
            Ok(resp) if resp.is_success() && !is_event_stream(&resp.headers) => {
                self.done = true;
                Some(Err(EventSourceError::NotAnEventStream(read_error_body(resp).await)))
            }
            Ok(resp) if resp.is_success() => {
                self.failures = 0;
                self.retry_seq = 0;
                let parser = SseParser::with_last_event_id(self.current_last_id().unwrap_or_default());
                let status = resp.status;
                self.conn = Some(SseStream::with_parser(resp.body, parser));
                Some(Ok(SseItem::Connected { status, reconnects: self.reconnects.load(Ordering::Relaxed) }))
            }
            Ok(resp) => {
                let transient = is_transient_status(resp.status);
                let resp = read_error_body(resp).await;
                if !transient {
                    self.done = true;
                    return Some(Err(EventSourceError::Status(resp)));
                }
                self.failures = self.failures.saturating_add(1);
                let retry_after = parse_retry_after(&resp.headers, SystemTime::now());
                self.schedule(ReconnectCause::Status(resp), retry_after)
            }
            Err(e) if e.kind() == TransportErrorKind::InvalidRequest => {
                self.done = true;
                Some(Err(EventSourceError::Transport(e)))
            }
            Err(e) => {
                self.failures = self.failures.saturating_add(1);
                self.schedule(ReconnectCause::Error(e), None)
            }
        }
    }

    fn schedule(
        &mut self,
        cause: ReconnectCause,
        retry_after: Option<Duration>,
    ) -> Option<Result<SseItem, EventSourceError>> {
        if let Some(max) = self.config.max_retries
            && self.failures > max
        {
            self.done = true;
            return Some(Err(match cause {
                ReconnectCause::Status(resp) => EventSourceError::Status(resp),
                ReconnectCause::Error(e) => EventSourceError::Transport(e),
                ReconnectCause::Ended => EventSourceError::Transport(TransportError::other(
                    "the event stream ended and reconnection attempts are exhausted",
                )),
            }));
        }
        let base = self.server_retry.unwrap_or(self.config.initial_delay).min(self.config.max_delay);
        let delay = match retry_after {
            Some(d) => d.min(self.config.max_delay),
            None if self.failures <= 1 => base,
            None => {
                let exp = (self.failures - 1).min(31);
                let ceiling = base.checked_mul(1u32 << exp).unwrap_or(self.config.max_delay).min(self.config.max_delay);
                let half = ceiling / 2;
                let spread = u64::try_from((ceiling - half).as_nanos()).unwrap_or(u64::MAX);
                half + Duration::from_nanos(fastrand::u64(0..=spread))
            }
        };
        self.wait = Some(delay);
        self.reconnects.fetch_add(1, Ordering::Relaxed);
        self.retry_seq = self.retry_seq.saturating_add(1);
        tracing::debug!(
            attempt = self.retry_seq,
            delay_ms = delay.as_millis() as u64,
            cause = ?cause,
            "event stream reconnecting"
        );
        Some(Ok(SseItem::Reconnecting { attempt: self.retry_seq, delay, cause }))
    }
}

async fn read_error_body(resp: crate::StreamResponse) -> Response {
    let status = resp.status;
    let headers = resp.headers.clone();
    match tokio::time::timeout(ERROR_BODY_TIMEOUT, resp.into_response()).await {
        Ok(Ok(full)) => full,
        _ => Response::from_parts(status, headers, bytes::Bytes::new()),
    }
}
