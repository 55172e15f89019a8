//! The error type every transport returns.

use std::error::Error as StdError;
use std::fmt;

/// What went wrong while moving bytes.
///
/// The kind decides how callers react: a [`Connect`](Self::Connect) failure
/// means the request never left this process, while every other kind means
/// the server may already have acted on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// No connection could be established (DNS failure, refused connection,
    /// TLS handshake failure, connect timeout). The request was not sent.
    Connect,
    /// The request was sent (or partly sent) but no complete answer arrived
    /// in time.
    Timeout,
    /// An I/O error after the connection was established (reset, broken pipe).
    Io,
    /// The response body could not be read to its end.
    Body,
    /// The peer spoke something that is not valid HTTP, or a stream carried
    /// malformed data.
    Protocol,
    /// The request could not be built (bad URL, invalid header name or value).
    /// Nothing was sent.
    InvalidRequest,
    /// Anything else.
    Other,
}

impl TransportErrorKind {
    /// A short lowercase name, as used in [`TransportError`]'s `Display`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connect => "connection failed",
            Self::Timeout => "timed out",
            Self::Io => "i/o error",
            Self::Body => "body error",
            Self::Protocol => "protocol error",
            Self::InvalidRequest => "invalid request",
            Self::Other => "transport error",
        }
    }
}

impl fmt::Display for TransportErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// A failure to exchange a request and a response.
///
/// An HTTP status, even 500, is not a `TransportError`: transports hand every
/// status back as a [`Response`](crate::Response). This type covers the cases
/// where no status could be obtained, or a body could not be read.
///
/// `Display` shows the kind and a short message; the underlying error (for
/// example the `reqwest::Error`) is reachable only through
/// [`source()`](std::error::Error::source).
///
/// ```
/// use openintent_transport::{TransportError, TransportErrorKind};
///
/// let err = TransportError::connect("could not connect to http://127.0.0.1:9/");
/// assert_eq!(err.kind(), TransportErrorKind::Connect);
/// assert!(!err.may_have_been_sent());
/// assert_eq!(err.to_string(), "connection failed: could not connect to http://127.0.0.1:9/");
/// ```
#[derive(thiserror::Error)]
#[error("{kind}: {message}")]
#[non_exhaustive]
pub struct TransportError {
    kind: TransportErrorKind,
    message: String,
    timed_out: bool,
    #[source]
    source: Option<BoxError>,
}

impl fmt::Debug for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransportError")
            .field("kind", &self.kind)
            .field("message", &self.message)
            .field("timed_out", &self.timed_out)
            .field("source", &self.source)
            .finish()
    }
}

impl TransportError {
    /// An error of the given kind with a human-readable message.
    pub fn new(kind: TransportErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into(), timed_out: kind == TransportErrorKind::Timeout, source: None }
    }

    /// A connection could not be established; the request was not sent.
    pub fn connect(message: impl Into<String>) -> Self {
        Self::new(TransportErrorKind::Connect, message)
    }

    /// Establishing the connection took longer than the connect timeout.
    /// The kind is [`Connect`](TransportErrorKind::Connect) (nothing was sent)
    /// and [`is_timeout`](Self::is_timeout) is true.
    pub fn connect_timeout(message: impl Into<String>) -> Self {
        let mut err = Self::new(TransportErrorKind::Connect, message);
        err.timed_out = true;
        err
    }

    /// The exchange did not finish in time after the request left.
    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(TransportErrorKind::Timeout, message)
    }

    /// An I/O failure on an established connection.
    pub fn io(message: impl Into<String>) -> Self {
        Self::new(TransportErrorKind::Io, message)
    }

    /// The response body could not be read.
    pub fn body(message: impl Into<String>) -> Self {
        Self::new(TransportErrorKind::Body, message)
    }

    /// The peer violated HTTP or the stream format.
    pub fn protocol(message: impl Into<String>) -> Self {
        Self::new(TransportErrorKind::Protocol, message)
    }

    /// The request could not be built; nothing was sent.
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(TransportErrorKind::InvalidRequest, message)
    }

    /// Any other failure.
    pub fn other(message: impl Into<String>) -> Self {
        Self::new(TransportErrorKind::Other, message)
    }

    /// Attaches the underlying error, returned later by `source()`.
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// The kind of failure.
    pub fn kind(&self) -> TransportErrorKind {
        self.kind
    }

    /// The message given when the error was created (without the kind).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether the server may have received (and acted on) the request.
    ///
    /// False only when the request provably never left: connection failures
    /// and requests that could not be built. A caller may therefore repeat
    /// even a non-idempotent request after an error for which this is false.
    pub fn may_have_been_sent(&self) -> bool {
        !matches!(self.kind, TransportErrorKind::Connect | TransportErrorKind::InvalidRequest)
    }

    /// Whether a timeout (connect or request) caused the failure.
    pub fn is_timeout(&self) -> bool {
        self.timed_out || self.kind == TransportErrorKind::Timeout
    }

    /// Whether the connection could not be established.
    pub fn is_connect(&self) -> bool {
        self.kind == TransportErrorKind::Connect
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_decide_whether_the_request_left() {
        assert!(!TransportError::connect("x").may_have_been_sent());
        assert!(!TransportError::connect_timeout("x").may_have_been_sent());
        assert!(!TransportError::invalid_request("x").may_have_been_sent());
        assert!(TransportError::timeout("x").may_have_been_sent());
        assert!(TransportError::io("x").may_have_been_sent());
        assert!(TransportError::body("x").may_have_been_sent());
        assert!(TransportError::other("x").may_have_been_sent());
    }

    #[test]
    fn timeouts_are_flagged() {
        assert!(TransportError::timeout("x").is_timeout());
        let ct = TransportError::connect_timeout("x");
        assert!(ct.is_timeout() && ct.is_connect());
        assert!(!TransportError::connect("x").is_timeout());
        assert!(!TransportError::io("x").is_timeout());
    }

    #[test]
    fn source_is_kept_out_of_display() {
        let inner = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let err = TransportError::connect("could not connect").with_source(inner);
        assert_eq!(err.to_string(), "connection failed: could not connect");
        assert_eq!(err.source().unwrap().to_string(), "refused");
    }
}
