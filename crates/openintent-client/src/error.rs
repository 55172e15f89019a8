//! The client's error type.
//!
//! Every fallible call returns [`Result<T>`](crate::Result), whose error is one [`Error`]:
//!
//! | Variant | Meaning | Was anything sent? |
//! |---|---|---|
//! | [`Error::Api`] | the server answered with a non-2xx status; see [`ApiError::kind`] | yes |
//! | [`Error::Transport`] | no answer arrived | see [`Error::may_have_been_sent`] |
//! | [`Error::Decode`] | a 2xx answer could not be read | yes |
//! | [`Error::Invalid`] | client-side validation refused the input | no |
//! | [`Error::Config`] | the client is set up wrongly | no |
//! | [`Error::State`] | [`Intent::state_at`](openintent_types::Intent::state_at) found a value of the wrong type | (no call) |
//!
//! The mapping of statuses to [`ApiErrorKind`] follows PROTOCOL.md §2.4:
//!
//! | Response | Kind |
//! |---|---|
//! | 400, 422 | [`ApiErrorKind::Validation`] (with the field errors of a 422) |
//! | 401 | [`ApiErrorKind::Unauthorized`] |
//! | 403 | [`ApiErrorKind::Forbidden`] (with the governance `rule`) |
//! | 404 whose `detail` is exactly `Not Found`, 405, 501 | [`ApiErrorKind::Unsupported`] (the server lacks the route) |
//! | other 404 | [`ApiErrorKind::NotFound`] |
//! | 409 whose body has `"error": "invalid_transition"` or whose `detail` starts with `Invalid status transition` | [`ApiErrorKind::InvalidTransition`] |
//! | 409 from a lease acquire or renew, or whose body has `existing_lease` or mentions a lease | [`ApiErrorKind::LeaseConflict`] |
//! | other 409 | [`ApiErrorKind::VersionConflict`] |
//! | 429 | [`ApiErrorKind::RateLimited`] (see [`ApiError::retry_after`]) |
//! | 5xx | [`ApiErrorKind::Server`] |
//! | anything else | [`ApiErrorKind::Other`] |
//!
//! ```no_run
//! # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
//! match client.get_intent("nonexistent-id").await {
//!     Ok(intent) => println!("{}", intent.title),
//!     Err(e) if e.is_not_found() => println!("no such intent"),
//!     Err(e) if e.is_unsupported() => println!("this server lacks the route"),
//!     Err(e) => return Err(e),
//! }
//! # Ok(()) }
//! ```

use std::fmt;
use std::time::Duration;

use openintent_transport::{Method, TransportError};
use openintent_types::{InputValidationError, StateReadError};

mod api;

pub use api::{ApiError, ApiErrorKind, TransitionRefused};

/// The result type of every client call; the error is [`Error`] (example there).
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in a client call.
///
/// ```no_run
/// # async fn run(client: openintent_client::Client, id: &str) -> openintent_client::Result<()> {
/// use openintent_client::{ApiErrorKind, Error};
/// match client.set_status(id, 3, "completed").send().await {
///     Ok(intent) => println!("now version {}", intent.version),
///     Err(e) if e.is_version_conflict() => println!("someone else wrote first; read again"),
///     Err(e) if e.is_invalid_transition() => println!("not from this status: {e}"),
///     Err(Error::Transport(t)) => println!("no answer (maybe sent: {})", t.may_have_been_sent()),
///     Err(e) if matches!(e.api_kind(), Some(ApiErrorKind::Forbidden { .. })) => println!("refused: {e}"),
///     Err(e) => return Err(e),
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server answered with a non-2xx status.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// No answer arrived (connection refused, timeout, reset...). See
    /// [`Error::may_have_been_sent`].
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// A 2xx answer could not be decoded into the expected type.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The input failed client-side validation; nothing was sent.
    #[error(transparent)]
    Invalid(#[from] InputValidationError),
    /// The client is misconfigured (missing environment variable, bad URL, blocking call
    /// without a blocking client...); nothing was sent.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Reading an intent's state with [`Intent::state_at`](openintent_types::Intent::state_at)
    /// found a value of the wrong type (or a malformed pointer); the error names the pointer.
    #[error(transparent)]
    State(#[from] StateReadError),
}

impl Error {
    /// The API error, when the server answered with an error status.
    ///
    /// ```
    /// # use openintent_client::{ApiError, Error, Method, Response};
    /// let resp = Response::new(404).with_json(r#"{"detail": "Intent not found"}"#);
    /// let err = Error::from(ApiError::from_response(Method::Get, "/api/v1/intents/i-1", &resp));
    /// let api = err.api().expect("the server answered");
    /// assert_eq!((api.status(), api.message()), (404, "Intent not found"));
    /// assert!(Error::from(openintent_client::TransportError::connect("refused")).api().is_none());
    /// ```
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Error::Api(e) => Some(e),
            _ => None,
        }
    }

    /// The kind of API error, when the server answered with an error status.
    ///
    /// ```
    /// # use openintent_client::ApiErrorKind;
    /// # use openintent_client::{ApiError, Error, Method, Response};
    /// let resp = Response::new(409).with_json(r#"{"detail": "Version conflict", "current_version": 4}"#);
    /// let err = Error::from(ApiError::from_response(Method::Post, "/api/v1/intents/i-1/state", &resp));
    /// assert_eq!(err.api_kind(), Some(&ApiErrorKind::VersionConflict { current_version: Some(4) }));
    /// ```
    pub fn api_kind(&self) -> Option<&ApiErrorKind> {
        self.api().map(ApiError::kind)
    }

    /// The HTTP status, when the server answered.
    ///
    /// ```
    /// # use openintent_client::{ApiError, Error, Method, Response};
    /// let resp = Response::new(422).with_json(r#"{"detail": [{"loc": ["body", "title"], "msg": "field required"}]}"#);
    /// let err = Error::from(ApiError::from_response(Method::Post, "/api/v1/intents", &resp));
    /// assert_eq!(err.status(), Some(422));
    /// assert_eq!(Error::from(openintent_client::TransportError::timeout("no answer")).status(), None);
    /// ```
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api(e) => Some(e.status()),
            Error::Decode(e) => Some(e.status()),
            _ => None,
        }
    }

    /// The server's `Retry-After`, when it sent one.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use openintent_client::{ApiError, Error, Method, Response};
    /// let resp = Response::new(429).with_header("Retry-After", "30").with_json(r#"{"detail": "Too many requests"}"#);
    /// let err = Error::from(ApiError::from_response(Method::Get, "/api/v1/intents/i-1", &resp));
    /// assert!(err.is_rate_limited());
    /// assert_eq!(err.retry_after(), Some(Duration::from_secs(30)));
    /// ```
    pub fn retry_after(&self) -> Option<Duration> {
        self.api().and_then(ApiError::retry_after)
    }

    /// Whether the request may have reached the server. False for [`Error::Invalid`],
    /// [`Error::Config`] and transport errors that happened before anything was sent.
    pub fn may_have_been_sent(&self) -> bool {
        match self {
            Error::Api(_) | Error::Decode(_) => true,
            Error::Transport(e) => e.may_have_been_sent(),
            Error::Invalid(_) | Error::Config(_) | Error::State(_) => false,
        }
    }

    /// A 404 for a missing resource (not a missing route; see [`Error::is_unsupported`]).
    pub fn is_not_found(&self) -> bool {
        matches!(self.api_kind(), Some(ApiErrorKind::NotFound))
    }

    /// A 409 that waiting, or re-reading and retrying, may resolve: a version conflict or a
    /// lease conflict. A refused status transition is a 409 too, but not one of these: no retry
    /// makes it succeed ([`Error::is_invalid_transition`]).
    ///
    /// ```
    /// # use openintent_client::{ApiError, Error, Method, Response};
    /// let resp = Response::new(409).with_json(r#"{"detail": "Version conflict", "current_version": 4}"#);
    /// let err = Error::from(ApiError::from_response(Method::Post, "/api/v1/intents/i-1/state", &resp));
    /// assert!(err.is_conflict());
    /// let resp = Response::new(409).with_json(r#"{"detail": "Scope held by another agent"}"#);
    /// let lease_err = Error::from(ApiError::from_response(Method::Post, "/api/v1/intents/i-1/leases", &resp));
    /// assert!(lease_err.is_conflict());
    /// ```
    pub fn is_conflict(&self) -> bool {
        self.is_version_conflict() || self.is_lease_conflict()
    }

    /// A 409 because the `If-Match` version is stale: read the intent again and retry.
    ///
    /// ```
    /// # use openintent_client::{ApiError, Error, Method, Response};
    /// let resp = Response::new(409).with_json(r#"{"detail": "Version conflict", "current_version": 4}"#);
    /// let err = Error::from(ApiError::from_response(Method::Post, "/api/v1/intents/i-1/state", &resp));
    /// assert!(err.is_version_conflict() && !err.is_lease_conflict());
    /// ```
    pub fn is_version_conflict(&self) -> bool {
        matches!(self.api_kind(), Some(ApiErrorKind::VersionConflict { .. }))
    }

    /// A 409 because the lifecycle does not allow the requested status change from the current
    /// status (`draft` → `draft`, `completed` → `active`, ...). Retrying does not help; see
    /// [`Error::invalid_transition`] for what is allowed.
    ///
    /// Example: [`Error`].
    pub fn is_invalid_transition(&self) -> bool {
        self.invalid_transition().is_some()
    }

    /// What a refused status transition was, and which moves are allowed, when this is one.
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client, id: &str) -> openintent_client::Result<()> {
    /// let intent = client.get_intent(id).await?;
    /// match client.set_status(id, intent.version, "active").send().await {
    ///     Err(e) if e.is_invalid_transition() => {
    ///         let refused = e.invalid_transition().expect("a refused transition");
    ///         println!("cannot go from {:?} to {:?}; allowed: {:?}", refused.from, refused.to, refused.allowed);
    ///     }
    ///     other => drop(other?),
    /// }
    /// # Ok(()) }
    /// ```
    pub fn invalid_transition(&self) -> Option<&TransitionRefused> {
        match self.api_kind() {
            Some(ApiErrorKind::InvalidTransition(t)) => Some(t),
            _ => None,
        }
    }

    /// A 409 because another lease holds the scope.
    ///
    /// ```
    /// # use openintent_client::{ApiError, Error, Method, Response};
    /// let resp = Response::new(409).with_json(r#"{"detail": "Scope held by another agent"}"#);
    /// let err = Error::from(ApiError::from_response(Method::Post, "/api/v1/intents/i-1/leases", &resp));
    /// assert!(err.is_lease_conflict() && !err.is_version_conflict());
    /// ```
    pub fn is_lease_conflict(&self) -> bool {
        matches!(self.api_kind(), Some(ApiErrorKind::LeaseConflict { .. }))
    }

    /// The server does not have this route (405, 501, or a 404 whose detail is `Not Found`).
    ///
    /// ```
    /// # use openintent_client::{ApiError, Error, Method, Response};
    /// let resp = Response::new(405).with_json(r#"{"detail": "Method Not Allowed"}"#);
    /// let err = Error::from(ApiError::from_response(Method::Get, "/api/v1/intents", &resp));
    /// assert!(err.is_unsupported());
    /// // A 404 for a missing intent is not a missing route.
    /// let resp2 = Response::new(404).with_json(r#"{"detail": "Intent not found"}"#);
    /// let missing = Error::from(ApiError::from_response(Method::Get, "/api/v1/intents/i-1", &resp2));
    /// assert!(!missing.is_unsupported() && missing.is_not_found());
    /// ```
    pub fn is_unsupported(&self) -> bool {
        matches!(self.api_kind(), Some(ApiErrorKind::Unsupported))
    }

    /// A 401: the API key is missing or unknown.
    ///
    /// ```
    /// # use openintent_client::{ApiError, Error, Method, Response};
    /// let resp = Response::new(401).with_json(r#"{"detail": "Invalid API key"}"#);
    /// let err = Error::from(ApiError::from_response(Method::Get, "/api/v1/intents/i-1", &resp));
    /// assert!(err.is_unauthorized());
    /// ```
    pub fn is_unauthorized(&self) -> bool {
        matches!(self.api_kind(), Some(ApiErrorKind::Unauthorized))
    }

    /// A 403, e.g. a governance rule refused the write.
    ///
    /// ```
    /// # use openintent_client::{ApiError, Error, Method, Response};
    /// let body = r#"{"detail": {"message": "Blocked by governance", "rule": "write_scope"}}"#;
    /// let resp = Response::new(403).with_json(body);
    /// let err = Error::from(ApiError::from_response(Method::Post, "/api/v1/intents/i-1/state", &resp));
    /// assert!(err.is_forbidden());
    /// assert_eq!(err.api().and_then(|a| a.rule()), Some("write_scope"));
    /// ```
    pub fn is_forbidden(&self) -> bool {
        matches!(self.api_kind(), Some(ApiErrorKind::Forbidden { .. }))
    }

    /// A 429.
    ///
    /// ```
    /// # use openintent_client::{ApiError, Error, Method, Response};
    /// let resp = Response::new(429).with_json(r#"{"detail": "Too many requests"}"#);
    /// let err = Error::from(ApiError::from_response(Method::Get, "/api/v1/intents/i-1", &resp));
    /// assert!(err.is_rate_limited());
    /// ```
    pub fn is_rate_limited(&self) -> bool {
        matches!(self.api_kind(), Some(ApiErrorKind::RateLimited))
    }

    /// Invalid input: refused client-side ([`Error::Invalid`]) or by the server (400/422).
    pub fn is_validation(&self) -> bool {
        matches!(self, Error::Invalid(_)) || matches!(self.api_kind(), Some(ApiErrorKind::Validation { .. }))
    }

    /// A 5xx.
    ///
    /// ```
    /// # use openintent_client::{ApiError, Error, Method, Response};
    /// let resp = Response::new(503).with_json(r#"{"detail": "Database unavailable"}"#);
    /// let err = Error::from(ApiError::from_response(Method::Get, "/api/v1/intents/i-1", &resp));
    /// assert!(err.is_server_error());
    /// ```
    pub fn is_server_error(&self) -> bool {
        matches!(self.api_kind(), Some(ApiErrorKind::Server))
    }

    /// No answer arrived.
    ///
    /// ```
    /// use openintent_client::{Error, TransportError};
    /// let err = Error::from(TransportError::connect("connection refused"));
    /// assert!(err.is_transport());
    /// assert!(!err.may_have_been_sent(), "nothing left the machine");
    /// ```
    pub fn is_transport(&self) -> bool {
        matches!(self, Error::Transport(_))
    }
}

/// A 2xx answer whose body is not what the call expects: [`Error::Decode`].
///
/// Keeps the body and the JSON path where decoding failed (`.` for the top level, `[2]` for
/// the third item of a list, `[2].lease.expires_at` for a nested field).
#[derive(Debug)]
pub struct DecodeError {
    status: u16,
    method: Method,
    path: String,
    json_path: String,
    body: String,
    source: serde_json::Error,
}

impl DecodeError {
    pub(crate) fn new(
        method: Method,
        path: &str,
        status: u16,
        json_path: String,
        body: &[u8],
        source: serde_json::Error,
    ) -> Self {
        DecodeError {
            status,
            method,
            path: path.to_owned(),
            json_path,
            body: String::from_utf8_lossy(body).into_owned(),
            source,
        }
    }

    /// The HTTP status of the answer.
    ///
    /// ```
    /// # use openintent_transport::test_util::MockTransport;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let mock = MockTransport::new();
    /// mock.push_json(200, r#"[{"id": "c1", "cost_type": "api_call", "amount": 1.5},
    ///                         {"id": "c2", "cost_type": "api_call", "amount": "lots"}]"#);
    /// let client = openintent_client::Client::from_transport(mock, "my-agent");
    /// let Err(openintent_client::Error::Decode(err)) = client.get_costs("i-1").await else { panic!() };
    /// assert_eq!(err.status(), 200);
    /// # }
    /// ```
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Where in the JSON document decoding failed.
    ///
    /// ```
    /// # use openintent_transport::test_util::MockTransport;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let mock = MockTransport::new();
    /// mock.push_json(200, r#"[{"id": "c1", "cost_type": "api_call", "amount": 1.5},
    ///                         {"id": "c2", "cost_type": "api_call", "amount": "lots"}]"#);
    /// let client = openintent_client::Client::from_transport(mock, "my-agent");
    /// let Err(openintent_client::Error::Decode(err)) = client.get_costs("i-1").await else { panic!() };
    /// assert!(err.json_path().starts_with("[1]"), "the second record: {}", err.json_path());
    /// # }
    /// ```
    pub fn json_path(&self) -> &str {
        &self.json_path
    }

    /// The body as received.
    ///
    /// ```
    /// # use openintent_transport::test_util::MockTransport;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let mock = MockTransport::new();
    /// mock.push_json(200, r#"[{"id": "c1", "cost_type": "api_call", "amount": 1.5},
    ///                         {"id": "c2", "cost_type": "api_call", "amount": "lots"}]"#);
    /// let client = openintent_client::Client::from_transport(mock, "my-agent");
    /// let Err(openintent_client::Error::Decode(err)) = client.get_costs("i-1").await else { panic!() };
    /// assert!(err.body().contains(r#""amount": "lots""#));
    /// # }
    /// ```
    pub fn body(&self) -> &str {
        &self.body
    }

    /// The path of the request.
    ///
    /// ```
    /// # use openintent_transport::test_util::MockTransport;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let mock = MockTransport::new();
    /// mock.push_json(200, r#"[{"id": "c1", "cost_type": "api_call", "amount": 1.5},
    ///                         {"id": "c2", "cost_type": "api_call", "amount": "lots"}]"#);
    /// let client = openintent_client::Client::from_transport(mock, "my-agent");
    /// let Err(openintent_client::Error::Decode(err)) = client.get_costs("i-1").await else { panic!() };
    /// assert_eq!(err.path(), "/api/v1/intents/i-1/costs");
    /// # }
    /// ```
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The method of the request.
    ///
    /// ```
    /// # use openintent_transport::test_util::MockTransport;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let mock = MockTransport::new();
    /// mock.push_json(200, r#"[{"id": "c1", "cost_type": "api_call", "amount": 1.5},
    ///                         {"id": "c2", "cost_type": "api_call", "amount": "lots"}]"#);
    /// let client = openintent_client::Client::from_transport(mock, "my-agent");
    /// let Err(openintent_client::Error::Decode(err)) = client.get_costs("i-1").await else { panic!() };
    /// assert_eq!(err.method(), openintent_client::Method::Get);
    /// # }
    /// ```
    pub fn method(&self) -> Method {
        self.method
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "could not decode the answer to {} {} at `{}`: {}",
            self.method, self.path, self.json_path, self.source
        )
    }
}

impl std::error::Error for DecodeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// The client is set up wrongly: [`Error::Config`], from
/// [`ClientBuilder::build`](crate::ClientBuilder::build) or
/// [`Client::from_env`](crate::Client::from_env).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration error: {message}")]
#[non_exhaustive]
pub struct ConfigError {
    /// What is wrong, naming the setting.
    pub message: String,
}

impl ConfigError {
    /// A configuration error with a message.
    ///
    /// Example: [`Client::from_env`](crate::Client::from_env).
    pub fn new(message: impl Into<String>) -> Self {
        ConfigError { message: message.into() }
    }
}

#[cfg(test)]
mod tests {
    use openintent_transport::Response;
    use openintent_types::IntentStatus;

    use super::*;

    fn err(method: Method, path: &str, status: u16, body: &str) -> ApiError {
        ApiError::from_response(method, path, &Response::new(status).with_body(body.to_owned()))
    }

    #[test]
    fn refused_transitions_are_not_version_conflicts() {
        let path = "/api/v1/intents/i/status";
        let ours = r#"{"detail":"Invalid status transition: draft -> draft (allowed: active, completed, abandoned)",
            "error":"invalid_transition","from":"draft","to":"draft","allowed":["active","completed","abandoned"],
            "current_status":"draft"}"#;
        let e = Error::Api(err(Method::Post, path, 409, ours));
        assert!(e.is_invalid_transition() && !e.is_version_conflict() && !e.is_conflict(), "{e}");
        let t = e.invalid_transition().unwrap();
        assert_eq!((t.from.clone(), t.to.clone()), (Some(IntentStatus::Draft), Some(IntentStatus::Draft)));
        use IntentStatus::{Abandoned, Active, Completed};
        assert_eq!(t.allowed, Some(vec![Active, Completed, Abandoned]));
        assert!(e.to_string().starts_with("409 invalid status transition: Invalid status transition: draft -> draft"));

        // A server that sends only the text.
        let text = r#"{"detail":"Invalid status transition: completed -> active (completed is terminal)"}"#;
        let e = Error::Api(err(Method::Post, path, 409, text));
        let t = e.invalid_transition().expect("recognised by its text");
        assert_eq!((t.from.clone(), t.to.clone()), (Some(Completed), Some(Active)));
        assert_eq!(t.allowed, Some(vec![]));
        let bare = r#"{"detail":"Invalid status transition: blocked -> completed"}"#;
        let t = err(Method::Post, path, 409, bare);
        match t.kind() {
            ApiErrorKind::InvalidTransition(t) => {
                assert_eq!((t.from.clone(), t.allowed.clone()), (Some(IntentStatus::Blocked), None))
            }
            other => panic!("{other:?}"),
        }
        // The marker alone is enough.
        let marked = err(Method::Post, path, 409, r#"{"detail":"no","error":"invalid_transition"}"#);
        assert!(matches!(marked.kind(), ApiErrorKind::InvalidTransition(t) if t.from.is_none()));
        // A version conflict stays one.
        let v = Error::Api(err(Method::Post, path, 409, r#"{"detail":"Version conflict","current_version":3}"#));
        assert!(v.is_version_conflict() && !v.is_invalid_transition());
    }
}
