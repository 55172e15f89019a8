//! Transports for tests (feature `test-util`).
//!
//! - [`MockTransport`] answers from a script and records every request.
//! - [`FnTransport`] answers with a closure.
//! - [`NeverTransport`] never answers, for timeout tests.
//!
//! JSON replies ([`MockTransport::push_json`], [`MockReply::json`]) take anything
//! `serde::Serialize`: a `serde_json::Value` built with `json!`, a struct of your own, or JSON
//! text as a `&str` or `String`, sent as is. No dependency on `bytes` is needed.
//!
//! Copy this into a test of your own:
//!
//! ```
//! use openintent_transport::test_util::{MockReply, MockTransport};
//! use openintent_transport::{Method, Request, Transport, TransportError};
//! use serde_json::json;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let mock = MockTransport::new();
//! mock.push_for(Method::Post, "/api/v1/intents", MockReply::json(201, json!({"id": "i-1"})));
//! mock.push_json(409, r#"{"detail": "Version conflict"}"#);
//! mock.push(TransportError::connect("refused"));
//! mock.push(MockReply::sse("event: comment\ndata: {}\n\n"));
//!
//! let resp = mock.send(Request::post("/api/v1/intents").json_body(r#"{"title":"t"}"#)).await.unwrap();
//! assert_eq!((resp.status, resp.text().as_ref()), (201, r#"{"id":"i-1"}"#));
//! assert_eq!(mock.send(Request::get("/api/v1/intents/i-1")).await.unwrap().status, 409);
//! assert!(mock.send(Request::get("/x")).await.unwrap_err().is_connect());
//! let stream = mock.send_stream(Request::get("/api/v1/subscribe/intents/i-1")).await.unwrap();
//! assert_eq!(stream.status, 200);
//!
//! let sent = mock.requests();
//! assert_eq!(sent[0].method, Method::Post);
//! assert_eq!(sent[0].body.as_deref(), Some(&br#"{"title":"t"}"#[..]));
//! assert_eq!(sent[3].path, "/api/v1/subscribe/intents/i-1");
//! mock.assert_all_used();
//! # }
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use serde::Serialize;

use crate::{Headers, Method, Request, Response, StreamResponse, Transport, TransportError};

/// How a scripted stream ends after its chunks.
#[derive(Debug)]
#[non_exhaustive]
pub enum StreamEnd {
    /// The body ends normally.
    Close,
    /// The body fails with this error.
    Error(TransportError),
    /// The body stays open forever without more data.
    Hang,
}

/// One scripted answer of a [`MockTransport`].
#[derive(Debug)]
#[non_exhaustive]
pub enum MockReply {
    /// A buffered response.
    Response(Response),
    /// A transport error.
    Error(TransportError),
    /// A streaming response.
    Stream {
        /// The status.
        status: u16,
        /// The headers.
        headers: Headers,
        /// The body chunks, delivered one by one.
        chunks: Vec<Bytes>,
        /// What happens after the last chunk.
        end: StreamEnd,
    },
}

impl MockReply {
    /// A streaming response with the given status, headers and chunks that
    /// closes after the last chunk.
    pub fn stream<I, B>(status: u16, headers: Headers, chunks: I) -> Self
    where
        I: IntoIterator<Item = B>,
        B: Into<Bytes>,
    {
        Self::Stream { status, headers, chunks: chunks.into_iter().map(Into::into).collect(), end: StreamEnd::Close }
    }

    /// A buffered response with `Content-Type: application/json` and `body` as its JSON body.
    ///
    /// `body` is anything `Serialize`: a `serde_json::Value`, a struct, a number... A string
    /// (`&str`, `String`) is taken as JSON text and sent as is, so `r#"{"id": "i-1"}"#` is an
    /// object and a malformed text stays malformed (to test decode errors); for a JSON string
    /// value, pass its JSON text, `r#""done""#`. Raw bytes go through
    /// `Response::new(status).with_json(bytes)`.
    ///
    /// ```
    /// use openintent_transport::test_util::MockReply;
    /// use serde_json::json;
    ///
    /// #[derive(serde::Serialize)]
    /// struct Page { total: u32 }
    ///
    /// for reply in [
    ///     MockReply::json(200, json!({"total": 2})),
    ///     MockReply::json(200, Page { total: 2 }),
    ///     MockReply::json(200, r#"{"total":2}"#),
    ///     MockReply::json(200, String::from(r#"{"total":2}"#)),
    /// ] {
    ///     let MockReply::Response(resp) = reply else { unreachable!() };
    ///     assert_eq!(resp.text(), r#"{"total":2}"#);
    ///     assert_eq!(resp.headers.get("content-type"), Some("application/json"));
    /// }
    /// ```
    ///
    /// # Panics
    ///
    /// When `body` cannot be serialized as JSON (a map with non-string keys, a failing
    /// `Serialize` impl).
    pub fn json(status: u16, body: impl Serialize) -> Self {
        Self::Response(Response::new(status).with_json(json_bytes(&body)))
    }

    /// A 200 `text/event-stream` response whose body is `text` in one chunk.
    pub fn sse(text: impl Into<String>) -> Self {
        let headers: Headers = [("content-type", "text/event-stream")].into_iter().collect();
        Self::stream(200, headers, [text.into()])
    }

    /// For a stream reply: what happens after the last chunk.
    pub fn then(mut self, how: StreamEnd) -> Self {
        if let Self::Stream { end, .. } = &mut self {
            *end = how;
        }
        self
    }
}

impl From<Response> for MockReply {
    fn from(r: Response) -> Self {
        Self::Response(r)
    }
}

impl From<TransportError> for MockReply {
    fn from(e: TransportError) -> Self {
        Self::Error(e)
    }
}

impl From<Result<Response, TransportError>> for MockReply {
    fn from(r: Result<Response, TransportError>) -> Self {
        match r {
            Ok(r) => Self::Response(r),
            Err(e) => Self::Error(e),
        }
    }
}

/// The JSON text of `body`; a string is JSON text already and is taken as is.
fn json_bytes(body: &impl Serialize) -> Bytes {
    let text = serde_json::to_vec(body)
        .unwrap_or_else(|e| panic!("MockReply::json: the body does not serialize as JSON: {e}"));
    if text.first() == Some(&b'"') {
        let raw: String = serde_json::from_slice(&text).expect("serde_json reads back a string it wrote");
        return Bytes::from(raw);
    }
    Bytes::from(text)
}

#[derive(Debug)]
struct Scripted {
    matcher: Option<(Method, String)>,
    reply: MockReply,
}

impl Scripted {
    fn matches(&self, req: &Request) -> bool {
        match &self.matcher {
            None => true,
            Some((m, p)) => *m == req.method && *p == req.path,
        }
    }
}

#[derive(Debug, Default)]
struct MockState {
    script: VecDeque<Scripted>,
    requests: Vec<Request>,
    unmatched: Vec<String>,
}

/// A transport that answers from a script and records every request.
///
/// Each request takes the first scripted reply that accepts it: replies
/// added with [`push`](Self::push) accept any request, replies added with
/// [`push_for`](Self::push_for) only their method and path. A request no
/// reply accepts gets a [`TransportError`] of kind `Other` and is reported
/// by [`assert_all_used`](Self::assert_all_used).
///
/// Dropping a mock with unused replies panics (unless the thread is already
/// panicking or [`allow_unused`](Self::allow_unused) was called), so a test
/// cannot silently skip an expected call. Clones share the script and the
/// record, so a test can keep one clone and give another to a client.
/// See the [module documentation](self) for an example.
#[derive(Clone)]
pub struct MockTransport {
    state: Arc<Mutex<MockState>>,
    check_on_drop: Arc<std::sync::atomic::AtomicBool>,
}

impl fmt::Debug for MockTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("MockTransport")
            .field("remaining", &state.script.len())
            .field("requests", &state.requests.len())
            .finish()
    }
}

impl Default for MockTransport {
    fn default() -> Self {
        Self::new()
    }
}

impl MockTransport {
    /// A mock with an empty script.
    pub fn new() -> Self {
        Self { state: Arc::default(), check_on_drop: Arc::new(std::sync::atomic::AtomicBool::new(true)) }
    }

    fn lock(&self) -> MutexGuard<'_, MockState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a reply for the next request, whatever it is.
    pub fn push(&self, reply: impl Into<MockReply>) -> &Self {
        self.lock().script.push_back(Scripted { matcher: None, reply: reply.into() });
        self
    }

    /// Adds a reply for the next request with this method and path.
    pub fn push_for(&self, method: Method, path: impl Into<String>, reply: impl Into<MockReply>) -> &Self {
        self.lock().script.push_back(Scripted { matcher: Some((method, path.into())), reply: reply.into() });
        self
    }

    /// Adds a JSON reply with the given status for the next request, whatever it is.
    ///
    /// `body` is anything `Serialize`, as for [`MockReply::json`]: `json!({...})`, a struct,
    /// or JSON text as a `&str` or `String` (sent as is). For a reply to one method and path,
    /// use `push_for(method, path, MockReply::json(status, body))`.
    ///
    /// ```
    /// use openintent_transport::test_util::MockTransport;
    /// use openintent_transport::{Request, Transport};
    /// use serde_json::json;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let mock = MockTransport::new();
    /// let id = String::from("i-1");
    /// mock.push_json(201, json!({"id": id, "version": 1}));
    /// mock.push_json(404, format!(r#"{{"detail": "Intent {id} not found"}}"#));
    /// let created = mock.send(Request::post("/api/v1/intents")).await.unwrap();
    /// assert_eq!(created.text(), r#"{"id":"i-1","version":1}"#);
    /// assert_eq!(mock.send(Request::get("/api/v1/intents/i-1")).await.unwrap().status, 404);
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// When `body` cannot be serialized as JSON.
    pub fn push_json(&self, status: u16, body: impl Serialize) -> &Self {
        self.push(MockReply::json(status, body))
    }

    /// Disables the check on drop.
    pub fn allow_unused(&self) -> &Self {
        self.check_on_drop.store(false, Ordering::Relaxed);
        self
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.lock().requests.clone()
    }

    /// The most recent request.
    pub fn last_request(&self) -> Option<Request> {
        self.lock().requests.last().cloned()
    }

    /// How many requests were received.
    pub fn request_count(&self) -> usize {
        self.lock().requests.len()
    }

    /// How many scripted replies are still unused.
    pub fn remaining(&self) -> usize {
        self.lock().script.len()
    }

    /// Panics if a scripted reply was not used or a request found no reply.
    pub fn assert_all_used(&self) {
        let state = self.lock();
        let mut problems = Vec::new();
        for s in &state.script {
            problems.push(match &s.matcher {
                Some((m, p)) => format!("unused reply for {m} {p}"),
                None => "unused reply for any request".to_owned(),
            });
        }
        problems.extend(state.unmatched.iter().map(|r| format!("no reply scripted for {r}")));
        assert!(problems.is_empty(), "MockTransport: {}", problems.join("; "));
    }

    fn take(&self, req: Request) -> Result<MockReply, TransportError> {
        let mut state = self.lock();
        let label = format!("{} {}", req.method, req.path);
        state.requests.push(req);
        let req = state.requests.last().expect("just pushed");
        match state.script.iter().position(|s| s.matches(req)) {
            Some(i) => Ok(state.script.remove(i).expect("index from position").reply),
            None => {
                state.unmatched.push(label.clone());
                Err(TransportError::other(format!("MockTransport: no reply scripted for {label}")))
            }
        }
    }
}

impl Drop for MockTransport {
    fn drop(&mut self) {
        // Only the last clone checks.
        if Arc::strong_count(&self.state) != 1
            || !self.check_on_drop.load(Ordering::Relaxed)
            || std::thread::panicking()
        {
            return;
        }
        self.assert_all_used();
    }
}

fn chunks_stream(chunks: Vec<Bytes>, end: StreamEnd) -> crate::ByteStream {
    use futures_util::StreamExt;
    let head = futures_util::stream::iter(chunks.into_iter().map(Ok));
    match end {
        StreamEnd::Close => Box::pin(head),
        StreamEnd::Error(e) => Box::pin(head.chain(futures_util::stream::once(async { Err(e) }))),
        StreamEnd::Hang => Box::pin(head.chain(futures_util::stream::pending())),
    }
}

#[async_trait]
impl Transport for MockTransport {
    async fn send(&self, req: Request) -> Result<Response, TransportError> {
        match self.take(req)? {
            MockReply::Response(r) => Ok(r),
            MockReply::Error(e) => Err(e),
            MockReply::Stream { status, headers, chunks, end } => {
                let mut body = BytesMut::new();
                for c in chunks {
                    body.extend_from_slice(&c);
                }
                match end {
                    StreamEnd::Error(e) => Err(e),
                    StreamEnd::Close | StreamEnd::Hang => Ok(Response::from_parts(status, headers, body.freeze())),
                }
            }
        }
    }

    async fn send_stream(&self, req: Request) -> Result<StreamResponse, TransportError> {
        match self.take(req)? {
            MockReply::Response(r) => Ok(StreamResponse::from_chunks(r.status, r.headers, [r.body])),
            MockReply::Error(e) => Err(e),
            MockReply::Stream { status, headers, chunks, end } => {
                Ok(StreamResponse { status, headers, body: chunks_stream(chunks, end) })
            }
        }
    }
}

type Handler = dyn Fn(Request) -> Result<Response, TransportError> + Send + Sync;

/// A transport that answers every request with a closure. Streams get the
/// closure's body as a single chunk.
///
/// ```
/// use openintent_transport::test_util::FnTransport;
/// use openintent_transport::{Request, Response, Transport};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let t = FnTransport::new(|req: Request| {
///     if req.headers.get("if-match") == Some("1") {
///         Response::new(200)
///     } else {
///         Response::new(409)
///     }
/// });
/// assert_eq!(t.send(Request::post("/s").header("If-Match", "1")).await.unwrap().status, 200);
/// assert_eq!(t.send(Request::post("/s")).await.unwrap().status, 409);
/// # }
/// ```
#[derive(Clone)]
pub struct FnTransport {
    handler: Arc<Handler>,
    calls: Arc<AtomicUsize>,
}

impl fmt::Debug for FnTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FnTransport").field("calls", &self.calls()).finish_non_exhaustive()
    }
}

impl FnTransport {
    /// Answers with `f`'s response.
    pub fn new<F>(f: F) -> Self
    where
        F: Fn(Request) -> Response + Send + Sync + 'static,
    {
        Self::fallible(move |req| Ok(f(req)))
    }

    /// Answers with `f`'s response or error.
    pub fn fallible<F>(f: F) -> Self
    where
        F: Fn(Request) -> Result<Response, TransportError> + Send + Sync + 'static,
    {
        Self { handler: Arc::new(f), calls: Arc::new(AtomicUsize::new(0)) }
    }

    /// How many requests were received.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::Relaxed)
    }
}

#[async_trait]
impl Transport for FnTransport {
    async fn send(&self, req: Request) -> Result<Response, TransportError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        (self.handler)(req)
    }

    async fn send_stream(&self, req: Request) -> Result<StreamResponse, TransportError> {
        let r = self.send(req).await?;
        Ok(StreamResponse::from_chunks(r.status, r.headers, [r.body]))
    }
}

/// A transport that never answers: every call stays pending until dropped.
/// Use it to test timeouts and cancellation.
///
/// ```
/// use std::time::Duration;
/// use openintent_transport::test_util::NeverTransport;
/// use openintent_transport::{Request, Transport};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let t = NeverTransport::new();
/// let r = tokio::time::timeout(Duration::from_millis(20), t.send(Request::get("/"))).await;
/// assert!(r.is_err());
/// assert_eq!(t.calls(), 1);
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct NeverTransport {
    calls: Arc<AtomicUsize>,
}

impl NeverTransport {
    /// A transport that never answers.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many requests were received.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::Relaxed)
    }
}

#[async_trait]
impl Transport for NeverTransport {
    async fn send(&self, _req: Request) -> Result<Response, TransportError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        std::future::pending().await
    }

    async fn send_stream(&self, _req: Request) -> Result<StreamResponse, TransportError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        std::future::pending().await
    }
}
