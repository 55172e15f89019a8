//! Responses: buffered and streaming.

use std::borrow::Cow;
use std::fmt;
use std::pin::Pin;

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use futures_util::StreamExt;

use crate::{Headers, TransportError};

/// A boxed stream of body chunks, as carried by [`StreamResponse`].
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, TransportError>> + Send + 'static>>;

/// A complete, buffered response. Any status, including 4xx and 5xx, is a
/// response and not an error at this layer.
///
/// ```
/// use openintent_transport::Response;
///
/// let resp = Response::new(200).with_json(r#"{"ok":true}"#);
/// assert!(resp.is_success());
/// assert_eq!(resp.headers.get("Content-Type"), Some("application/json"));
/// assert_eq!(resp.text(), r#"{"ok":true}"#);
/// ```
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct Response {
    /// The HTTP status code.
    pub status: u16,
    /// Response headers.
    pub headers: Headers,
    /// The full body (empty when there was none).
    pub body: Bytes,
}

/// Bodies longer than this are cut short in `Debug` output.
const DEBUG_BODY_LIMIT: usize = 1024;

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let body = if self.body.len() > DEBUG_BODY_LIMIT {
            format!("{}... ({} bytes)", String::from_utf8_lossy(&self.body[..DEBUG_BODY_LIMIT]), self.body.len())
        } else {
            String::from_utf8_lossy(&self.body).into_owned()
        };
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body", &body)
            .finish()
    }
}

impl Response {
    /// A response with the given status, no headers and an empty body.
    pub fn new(status: u16) -> Self {
        Self { status, headers: Headers::new(), body: Bytes::new() }
    }

    /// A response from all of its parts.
    pub fn from_parts(status: u16, headers: Headers, body: impl Into<Bytes>) -> Self {
        Self { status, headers, body: body.into() }
    }

    /// Sets a header, replacing earlier values of the same name.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.insert(name, value);
        self
    }

    /// Sets the body.
    pub fn with_body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets a JSON body and `Content-Type: application/json`.
    pub fn with_json(self, body: impl Into<Bytes>) -> Self {
        self.with_header("content-type", "application/json").with_body(body)
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as text, with invalid UTF-8 replaced by U+FFFD.
    pub fn text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }
}

/// A response whose body arrives as a stream of chunks (used for
/// Server-Sent Events). No total timeout applies to the body.
#[non_exhaustive]
pub struct StreamResponse {
    /// The HTTP status code.
    pub status: u16,
    /// Response headers.
    pub headers: Headers,
    /// The body chunks; ends when the server closes the stream.
    pub body: ByteStream,
}

impl fmt::Debug for StreamResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamResponse")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body", &"<stream>")
            .finish()
    }
}

impl StreamResponse {
    /// A streaming response from its parts.
    pub fn new(
        status: u16,
        headers: Headers,
        body: impl Stream<Item = Result<Bytes, TransportError>> + Send + 'static,
    ) -> Self {
        Self { status, headers, body: Box::pin(body) }
    }

    /// A streaming response whose body yields the given chunks, then ends.
    pub fn from_chunks<I, B>(status: u16, headers: Headers, chunks: I) -> Self
    where
        I: IntoIterator<Item = B>,
        B: Into<Bytes>,
    {
        let chunks: Vec<Result<Bytes, TransportError>> = chunks.into_iter().map(|c| Ok(c.into())).collect();
        Self::new(status, headers, futures_util::stream::iter(chunks))
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// Reads the whole body into a buffered [`Response`]. Useful for error
    /// statuses, whose body is a short JSON document. Waits for the stream
    /// to end, so call it only when the body is finite.
    pub async fn into_response(self) -> Result<Response, TransportError> {
        let mut body = self.body;
        let mut buf = BytesMut::new();
        while let Some(chunk) = body.next().await {
            buf.extend_from_slice(&chunk?);
        }
        Ok(Response::from_parts(self.status, self.headers, buf.freeze()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn into_response_collects_chunks() {
        let s = StreamResponse::from_chunks(401, Headers::new(), ["{\"detail\":", "\"no\"}"]);
        assert!(!s.is_success());
        let r = s.into_response().await.unwrap();
        assert_eq!(r.status, 401);
        assert_eq!(r.text(), "{\"detail\":\"no\"}");
    }

    #[tokio::test]
    async fn into_response_propagates_body_errors() {
        let body = futures_util::stream::iter(vec![Ok(Bytes::from_static(b"x")), Err(TransportError::body("reset"))]);
        let s = StreamResponse::new(200, Headers::new(), body);
        let err = s.into_response().await.unwrap_err();
        assert_eq!(err.kind(), crate::TransportErrorKind::Body);
    }

    #[test]
    fn debug_cuts_long_bodies() {
        let r = Response::new(200).with_body(vec![b'a'; 5000]);
        let dbg = format!("{r:?}");
        assert!(dbg.len() < 1200, "{}", dbg.len());
        assert!(dbg.contains("(5000 bytes)"));
        assert!(format!("{:?}", Response::new(200).with_body("hi")).contains("\"hi\""));
    }

    #[test]
    fn success_range() {
        assert!(Response::new(204).is_success());
        assert!(!Response::new(199).is_success());
        assert!(!Response::new(300).is_success());
    }
}
