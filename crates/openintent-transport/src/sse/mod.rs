//! Server-Sent Events: a parser, a stream adapter and a reconnecting source.
//!
//! - [`SseParser`] turns bytes into [`SseEvent`]s, chunk by chunk.
//! - [`SseStream`] (from [`StreamResponse::into_sse`] or [`sse_events`])
//!   adapts one response body into a stream of events.
//! - [`EventSource`] keeps a subscription alive: it reconnects when the
//!   stream ends or fails, waits as the server's `retry:` asks (or backs
//!   off), and resumes with `Last-Event-ID`.

mod parser;
mod source;

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;

use crate::{ByteStream, StreamResponse, TransportError};

pub use parser::{DEFAULT_MAX_EVENT_SIZE, SseEvent, SseParser};
pub use source::{EventSource, EventSourceError, ReconnectCause, ReconnectConfig, SseItem};

/// The events of one response body, in order. Ends when the body ends; an
/// event not terminated by an empty line at that point is discarded.
///
/// ```
/// use futures_util::StreamExt;
/// use openintent_transport::{Headers, StreamResponse};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let resp = StreamResponse::from_chunks(200, Headers::new(), ["event: a\nda", "ta: 1\n\n"]);
/// let mut events = resp.into_sse();
/// let first = events.next().await.unwrap().unwrap();
/// assert_eq!((first.event.as_str(), first.data.as_str()), ("a", "1"));
/// assert!(events.next().await.is_none());
/// # }
/// ```
pub struct SseStream {
    body: ByteStream,
    parser: SseParser,
    pending: VecDeque<SseEvent>,
    done: bool,
}

impl std::fmt::Debug for SseStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SseStream")
            .field("parser", &self.parser)
            .field("pending", &self.pending.len())
            .field("done", &self.done)
            .finish()
    }
}

/// Adapts a byte stream into a stream of events.
pub fn sse_events(body: ByteStream) -> SseStream {
    SseStream::with_parser(body, SseParser::new())
}

impl SseStream {
    /// Adapts `body` using a prepared parser (e.g. one from
    /// [`SseParser::with_last_event_id`]).
    pub fn with_parser(body: ByteStream, parser: SseParser) -> Self {
        Self { body, parser, pending: VecDeque::new(), done: false }
    }

    /// The last event id seen so far.
    pub fn last_event_id(&self) -> Option<&str> {
        self.parser.last_event_id()
    }

    /// The most recent `retry:` value seen so far.
    pub fn retry(&self) -> Option<Duration> {
        self.parser.retry()
    }
}

impl Stream for SseStream {
    type Item = Result<SseEvent, TransportError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Some(ev) = this.pending.pop_front() {
                return Poll::Ready(Some(Ok(ev)));
            }
            if this.done {
                return Poll::Ready(None);
            }
            match this.body.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => this.done = true,
                Poll::Ready(Some(Err(e))) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(e)));
                }
                Poll::Ready(Some(Ok(chunk))) => match this.parser.feed(&chunk) {
                    Ok(events) => this.pending.extend(events),
                    Err(e) => {
                        this.done = true;
                        return Poll::Ready(Some(Err(e)));
                    }
                },
            }
        }
    }
}

impl StreamResponse {
    /// Parses the body as Server-Sent Events.
    pub fn into_sse(self) -> SseStream {
        sse_events(self.body)
    }
}
