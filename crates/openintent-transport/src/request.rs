//! Requests: method, path, query, headers, body and per-request options.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use bytes::Bytes;

use crate::Headers;

/// An HTTP method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`
    Get,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `PATCH`
    Patch,
    /// `DELETE`
    Delete,
    /// `HEAD`
    Head,
    /// `OPTIONS`
    Options,
}

impl Method {
    /// The method as it appears on the wire, e.g. `"GET"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
            Self::Head => "HEAD",
            Self::Options => "OPTIONS",
        }
    }

    /// Whether repeating the request has the same effect as sending it once
    /// (RFC 9110 §9.2.2): `GET`, `HEAD`, `OPTIONS`, `PUT` and `DELETE`.
    pub fn is_idempotent(self) -> bool {
        matches!(self, Self::Get | Self::Head | Self::Options | Self::Put | Self::Delete)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error returned when parsing an unknown method name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown HTTP method `{0}`")]
pub struct ParseMethodError(String);

impl FromStr for Method {
    type Err = ParseMethodError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.to_ascii_uppercase().as_str() {
            "GET" => Self::Get,
            "POST" => Self::Post,
            "PUT" => Self::Put,
            "PATCH" => Self::Patch,
            "DELETE" => Self::Delete,
            "HEAD" => Self::Head,
            "OPTIONS" => Self::Options,
            _ => return Err(ParseMethodError(s.to_owned())),
        })
    }
}

/// Whether a retry layer (see [`RetryingTransport`](crate::RetryingTransport))
/// may send a request more than once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum RetryMode {
    /// Retry when it is safe: idempotent methods (`GET`, `HEAD`, `OPTIONS`,
    /// `PUT`, `DELETE`) and requests carrying `If-Match`. Any request may be
    /// retried after a connection failure, since it was never sent.
    #[default]
    Auto,
    /// Always retryable, whatever the method. Use when the caller made the
    /// request safe to repeat, e.g. with an idempotency key.
    Always,
    /// Never retry this request.
    Never,
}

/// A request to send through a [`Transport`](crate::Transport).
///
/// `path` is joined to the transport's base URL (`"/api/v1/intents"` against
/// `http://host:8000` gives `http://host:8000/api/v1/intents`). The body is
/// [`Bytes`], so cloning a request for a retry is cheap.
///
/// ```
/// use std::time::Duration;
/// use openintent_transport::{Method, Request};
///
/// let req = Request::post("/api/v1/intents")
///     .json_body(r#"{"title":"t"}"#)
///     .header("If-Match", "3")
///     .query("limit", "10")
///     .timeout(Duration::from_secs(5));
/// assert_eq!(req.method, Method::Post);
/// assert_eq!(req.headers.get("content-type"), Some("application/json"));
/// assert_eq!(req.query, [("limit".to_owned(), "10".to_owned())]);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Request {
    /// The HTTP method.
    pub method: Method,
    /// The path (starting with `/`) relative to the transport's base URL,
    /// without a query string.
    pub path: String,
    /// Query parameters, in order; encoded by the transport.
    pub query: Vec<(String, String)>,
    /// Request headers. Transports add their own defaults (API key,
    /// user agent, ...) only for names not set here.
    pub headers: Headers,
    /// The request body, if any.
    pub body: Option<Bytes>,
    /// Overrides the transport's request timeout for this request.
    pub timeout: Option<Duration>,
    /// Whether a retry layer may repeat this request.
    pub retry: RetryMode,
}

impl Request {
    /// A request with the given method and path and nothing else.
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        Self {
            method,
            path: path.into(),
            query: Vec::new(),
            headers: Headers::new(),
            body: None,
            timeout: None,
            retry: RetryMode::Auto,
        }
    }

    /// A `GET` request.
    pub fn get(path: impl Into<String>) -> Self {
        Self::new(Method::Get, path)
    }

    /// A `POST` request.
    pub fn post(path: impl Into<String>) -> Self {
        Self::new(Method::Post, path)
    }

    /// A `PUT` request.
    pub fn put(path: impl Into<String>) -> Self {
        Self::new(Method::Put, path)
    }

    /// A `PATCH` request.
    pub fn patch(path: impl Into<String>) -> Self {
        Self::new(Method::Patch, path)
    }

    /// A `DELETE` request.
    pub fn delete(path: impl Into<String>) -> Self {
        Self::new(Method::Delete, path)
    }

    /// A `HEAD` request.
    pub fn head(path: impl Into<String>) -> Self {
        Self::new(Method::Head, path)
    }

    /// An `OPTIONS` request.
    pub fn options(path: impl Into<String>) -> Self {
        Self::new(Method::Options, path)
    }

    /// Sets a header, replacing earlier values of the same name.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.insert(name, value);
        self
    }

    /// Appends a query parameter.
    pub fn query(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((name.into(), value.into()));
        self
    }

    /// Sets the body without touching `Content-Type`.
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// Sets an already serialized JSON body and `Content-Type: application/json`.
    pub fn json_body(mut self, body: impl Into<Bytes>) -> Self {
        self.headers.insert("content-type", "application/json");
        self.body = Some(body.into());
        self
    }

    /// Overrides the transport's request timeout for this request.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sets whether a retry layer may repeat this request.
    pub fn retry(mut self, mode: RetryMode) -> Self {
        self.retry = mode;
        self
    }

    /// Whether a retry layer may repeat this request after the server may
    /// have seen it: [`RetryMode::Always`], or [`RetryMode::Auto`] with an
    /// idempotent method or an `If-Match` header.
    pub fn is_safe_to_repeat(&self) -> bool {
        match self.retry {
            RetryMode::Always => true,
            RetryMode::Never => false,
            RetryMode::Auto => self.method.is_idempotent() || self.headers.contains("if-match"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_round_trip() {
        for m in [Method::Get, Method::Post, Method::Put, Method::Patch, Method::Delete, Method::Head, Method::Options]
        {
            assert_eq!(m.as_str().parse::<Method>().unwrap(), m);
            assert_eq!(m.as_str().to_lowercase().parse::<Method>().unwrap(), m);
        }
        assert!("BREW".parse::<Method>().is_err());
    }

    #[test]
    fn safety_to_repeat() {
        assert!(Request::get("/").is_safe_to_repeat());
        assert!(Request::put("/").is_safe_to_repeat());
        assert!(Request::delete("/").is_safe_to_repeat());
        assert!(!Request::post("/").is_safe_to_repeat());
        assert!(!Request::patch("/").is_safe_to_repeat());
        assert!(Request::post("/").header("If-Match", "1").is_safe_to_repeat());
        assert!(Request::post("/").retry(RetryMode::Always).is_safe_to_repeat());
        assert!(!Request::get("/").retry(RetryMode::Never).is_safe_to_repeat());
        assert!(!Request::post("/").header("If-Match", "1").retry(RetryMode::Never).is_safe_to_repeat());
    }

    #[test]
    fn debug_redacts_key() {
        let r = Request::get("/x").header("X-API-Key", "sk-live-1");
        assert!(!format!("{r:?}").contains("sk-live-1"));
    }
}
