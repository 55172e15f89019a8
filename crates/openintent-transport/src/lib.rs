//! The byte-moving layer of the OpenIntent SDK.
//!
//! This crate sends HTTP requests and returns responses; it knows nothing of
//! intents, leases or any other OpenIntent model. The client crate builds
//! [`Request`]s, hands them to a [`Transport`] and decodes the [`Response`]s.
//!
//! - [`Request`], [`Response`], [`StreamResponse`], [`Headers`], [`Method`]:
//!   plain owned types, independent of any HTTP library.
//! - [`Transport`]: the object-safe async trait every transport implements.
//! - [`TransportError`]: what can go wrong below the HTTP status level, with
//!   [`may_have_been_sent`](TransportError::may_have_been_sent) to tell a
//!   refused connection from a lost answer.
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
