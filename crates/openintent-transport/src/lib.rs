//! The byte-moving layer of the OpenIntent SDK.
//!
//! This crate sends HTTP requests and returns responses; it knows nothing of
//! intents, leases or any other OpenIntent model. The client crate builds
//! [`Request`]s, hands them to a [`Transport`] and decodes the [`Response`]s.
//!
//! - [`Request`], [`Response`], [`StreamResponse`], [`Headers`], [`Method`]:
//!   plain owned types, independent of any HTTP library. Bodies are
//!   [`Bytes`](bytes::Bytes), so a request clones cheaply for a retry.
//! - [`Transport`]: the object-safe async trait every transport implements,
//!   used as `Arc<dyn Transport>`.
//! - [`TransportError`]: what can go wrong below the HTTP status level, with
//!   [`may_have_been_sent`](TransportError::may_have_been_sent) to tell a
//!   refused connection from a lost answer.
//! - `ReqwestTransport` (feature `reqwest`): the production transport.
//! - [`RetryingTransport`]: retries with jittered exponential backoff and
//!   `Retry-After`, around any transport.
//! - [`sse`]: the Server-Sent Events parser and the reconnecting
//!   [`EventSource`](sse::EventSource).
//! - `test_util` (feature `test-util`): `MockTransport`, `FnTransport` and
//!   `NeverTransport` for tests.
//!
//! ```no_run
//! # #[cfg(feature = "reqwest")]
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use openintent_transport::{
//!     Request, ReqwestTransport, RetryConfig, RetryingTransport, Transport,
//! };
//!
//! let http = ReqwestTransport::builder("http://localhost:8000")
//!     .api_key("dev-user-key")
//!     .agent_id("agent-research")
//!     .build()?;
//! let transport: Arc<dyn Transport> =
//!     Arc::new(RetryingTransport::new(http, RetryConfig::default()));
//! let resp = transport
//!     .send(Request::post("/api/v1/intents").json_body(r#"{"title":"t"}"#))
//!     .await?;
//! assert!(resp.is_success());
//! # Ok(())
//! # }
//! ```
//!
//! # Features
//!
//! | Feature | Default | What it adds |
//! |---|---|---|
//! | `reqwest` | yes | `ReqwestTransport`, over a pooled keep-alive `reqwest` client |
//! | `rustls` | yes | TLS through rustls (pure Rust, bundled web PKI roots) |
//! | `native-tls` | no | TLS through the platform library (OpenSSL, Schannel, Security.framework) |
//! | `test-util` | no | `test_util::{MockTransport, FnTransport, NeverTransport}`; adds `serde`, `serde_json` for JSON replies from any `Serialize` value |
//!
//! Without `reqwest` the crate still provides the types, the trait, the
//! retry layer and the SSE machinery, for use with a custom transport.
//!
//! # Retries are a transport layer
//!
//! A transport makes exactly one attempt per call. Retrying lives in a
//! separate wrapper, [`RetryingTransport`], for three reasons:
//!
//! - every transport gets the same policy, including one written by a user,
//!   who then only has to move bytes once;
//! - the OpenIntent client installs the wrapper by default around whatever
//!   transport it is given, and can leave it out when asked;
//! - the decision needs only what a [`Request`] already carries: its method,
//!   its `If-Match` header and the caller's [`RetryMode`]. Idempotent methods
//!   and `If-Match` requests (a repeat fails with a version conflict instead of
//!   applying twice) are retried after transient statuses (429, 502, 503,
//!   504), timeouts and broken connections; a plain `POST` never is, unless
//!   the caller opts in with [`RetryMode::Always`] (for example because it
//!   sends an idempotency key). A connection that could not be established
//!   at all is retried for every method, since the request never left.
//!
//! Streams ([`Transport::send_stream`]) are not retried by the wrapper; the
//! [`EventSource`](sse::EventSource) reconnects on its own, resuming with
//! `Last-Event-ID`.
//!
//! # Writing a custom transport
//!
//! Implement [`Transport`] for any `Send + Sync + Debug` type. This one
//! answers every request from memory:
//!
//! ```
//! use async_trait::async_trait;
//! use openintent_transport::{Request, Response, StreamResponse, Transport, TransportError};
//!
//! #[derive(Debug)]
//! struct Echo;
//!
//! #[async_trait]
//! impl Transport for Echo {
//!     async fn send(&self, req: Request) -> Result<Response, TransportError> {
//!         let body = format!("{} {}", req.method, req.path);
//!         Ok(Response::new(200).with_body(body))
//!     }
//!
//!     async fn send_stream(&self, req: Request) -> Result<StreamResponse, TransportError> {
//!         let resp = self.send(req).await?;
//!         Ok(StreamResponse::from_chunks(resp.status, resp.headers, [resp.body]))
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), TransportError> {
//! let transport: std::sync::Arc<dyn Transport> = std::sync::Arc::new(Echo);
//! let resp = transport.send(Request::get("/api/v1/intents/x")).await?;
//! assert_eq!(resp.status, 200);
//! assert_eq!(resp.text(), "GET /api/v1/intents/x");
//! # Ok(())
//! # }
//! ```

mod error;
mod headers;
mod request;
mod response;
mod retry;
mod transport;

pub mod sse;

#[cfg(feature = "test-util")]
pub mod test_util;

#[cfg(feature = "reqwest")]
mod reqwest_transport;

pub use error::{TransportError, TransportErrorKind};
pub use headers::{Headers, is_sensitive_header};
pub use request::{Method, ParseMethodError, Request, RetryMode};
pub use response::{ByteStream, Response, StreamResponse};
pub use retry::{RetryConfig, RetryingTransport, is_retryable_status, parse_retry_after};
pub use transport::Transport;

#[cfg(feature = "reqwest")]
pub use reqwest_transport::{
    BuildError, DEFAULT_CONNECT_TIMEOUT, DEFAULT_REQUEST_TIMEOUT, ReqwestTransport, ReqwestTransportBuilder,
};

/// The value this crate sends in `User-Agent`: `openintent-rs/<version>`.
pub const USER_AGENT: &str = concat!("openintent-rs/", env!("CARGO_PKG_VERSION"));
