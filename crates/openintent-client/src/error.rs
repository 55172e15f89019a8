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
use std::time::{Duration, SystemTime};

use openintent_transport::{Method, Response, TransportError, parse_retry_after};
use openintent_types::{ErrorBody, ErrorDetail, FieldError, InputValidationError, IntentStatus, Lease, StateReadError};

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

/// What kind of error status the server answered (PROTOCOL.md §2.4).
///
/// ```no_run
/// # async fn run(client: openintent_client::Client, id: &str) -> openintent_client::Result<()> {
/// use openintent_client::ApiErrorKind;
/// if let Err(e) = client.acquire_lease(id, "research").send().await {
///     match e.api_kind() {
///         Some(ApiErrorKind::LeaseConflict { existing_lease: Some(lease) }) => {
///             println!("{} holds the scope until {}", lease.agent_id, lease.expires_at)
///         }
///         Some(ApiErrorKind::Validation { errors }) => println!("bad input: {errors:?}"),
///         _ => return Err(e),
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ApiErrorKind {
    /// 401: the API key is missing or unknown.
    Unauthorized,
    /// 403: the request is not allowed, e.g. by the intent's governance policy.
    Forbidden {
        /// The governance rule that refused it (`write_scope`, `max_cost`, ...), when given.
        rule: Option<String>,
    },
    /// 404: the resource does not exist.
    NotFound,
    /// 409: the `If-Match` version is not the current one.
    VersionConflict {
        /// The current version, when the server says.
        current_version: Option<i64>,
    },
    /// 409: another lease holds the scope.
    LeaseConflict {
        /// The lease holding the scope, when the server says.
        existing_lease: Option<Box<Lease>>,
    },
    /// 409: the lifecycle refuses the status change from the current status. Not a version
    /// conflict: re-reading and retrying cannot make it succeed.
    InvalidTransition(TransitionRefused),
    /// 429: too many requests; see [`ApiError::retry_after`].
    RateLimited,
    /// 400 or 422: the server refused the input.
    Validation {
        /// The field errors (from a 422 body), possibly empty.
        errors: Vec<FieldError>,
    },
    /// 5xx.
    Server,
    /// The server lacks the route: 405, 501, or a 404 whose detail is exactly `Not Found`.
    Unsupported,
    /// Any other status.
    Other,
}

impl ApiErrorKind {
    fn label(&self) -> &'static str {
        match self {
            ApiErrorKind::Unauthorized => "unauthorized",
            ApiErrorKind::Forbidden { .. } => "forbidden",
            ApiErrorKind::NotFound => "not found",
            ApiErrorKind::VersionConflict { .. } => "version conflict",
            ApiErrorKind::LeaseConflict { .. } => "lease conflict",
            ApiErrorKind::InvalidTransition(_) => "invalid status transition",
            ApiErrorKind::RateLimited => "rate limited",
            ApiErrorKind::Validation { .. } => "invalid request",
            ApiErrorKind::Server => "server error",
            ApiErrorKind::Unsupported => "unsupported by this server",
            ApiErrorKind::Other => "error",
        }
    }
}

/// A non-2xx answer of the server.
///
/// The raw body is kept ([`ApiError::body`]) even when it is not JSON; the parsed
/// `{"detail": ...}` body is [`ApiError::error_body`].
#[derive(Debug, Clone)]
pub struct ApiError(Box<ApiErrorInner>);

#[derive(Debug, Clone)]
struct ApiErrorInner {
    status: u16,
    kind: ApiErrorKind,
    message: String,
    body: String,
    parsed: Option<ErrorBody>,
    retry_after: Option<Duration>,
    method: Method,
    path: String,
}

impl ApiError {
    /// Classifies an error response to `method path` (see the [module docs](self)).
    ///
    /// ```
    /// use openintent_client::{ApiError, ApiErrorKind, Method, Response};
    /// let resp = Response::new(404).with_json(r#"{"detail": "Not Found"}"#);
    /// let err = ApiError::from_response(Method::Get, "/api/v1/intents", &resp);
    /// assert_eq!(err.kind(), &ApiErrorKind::Unsupported, "a bare `Not Found` is a missing route");
    /// ```
    pub fn from_response(method: Method, path: &str, resp: &Response) -> ApiError {
        let body = resp.text().into_owned();
        let parsed = serde_json::from_slice::<ErrorBody>(&resp.body).ok();
        let detail_text = match parsed.as_ref().map(|b| &b.detail) {
            Some(ErrorDetail::Text(t)) => Some(t.as_str()),
            _ => None,
        };
        let message = match &parsed {
            Some(b) if !b.message().is_empty() => b.message(),
            _ if !body.trim().is_empty() => truncate(body.trim(), 300),
            _ => format!("HTTP {}", resp.status),
        };
        let status = resp.status;
        let refused = if status == 409 { TransitionRefused::from_body(parsed.as_ref(), detail_text) } else { None };
        let kind = match refused {
            // A refused status transition: no retry resolves it, unlike the other 409s.
            Some(refused) => ApiErrorKind::InvalidTransition(refused),
            None => match status {
                401 => ApiErrorKind::Unauthorized,
                403 => ApiErrorKind::Forbidden { rule: parsed.as_ref().and_then(|b| b.rule()).map(str::to_owned) },
                404 if detail_text == Some("Not Found") => ApiErrorKind::Unsupported,
                404 => ApiErrorKind::NotFound,
                405 | 501 => ApiErrorKind::Unsupported,
                409 => {
                    let existing_lease = parsed.as_ref().and_then(|b| b.existing_lease.clone());
                    let lease_route = matches!(method, Method::Post | Method::Patch) && is_lease_path(path);
                    if lease_route || existing_lease.is_some() || message.to_ascii_lowercase().contains("lease") {
                        ApiErrorKind::LeaseConflict { existing_lease: existing_lease.map(Box::new) }
                    } else {
                        ApiErrorKind::VersionConflict {
                            current_version: parsed.as_ref().and_then(|b| b.current_version),
                        }
                    }
                }
                429 => ApiErrorKind::RateLimited,
                400 | 422 => ApiErrorKind::Validation {
                    errors: parsed.as_ref().map(|b| b.field_errors().to_vec()).unwrap_or_default(),
                },
                500..=599 => ApiErrorKind::Server,
                _ => ApiErrorKind::Other,
            },
        };
        ApiError(Box::new(ApiErrorInner {
            status,
            kind,
            message,
            body,
            parsed,
            retry_after: parse_retry_after(&resp.headers, SystemTime::now()),
            method,
            path: path.to_owned(),
        }))
    }

    /// The HTTP status.
    ///
    /// ```
    /// # use openintent_client::{ApiError, Method, Response};
    /// let resp = Response::new(409).with_json(r#"{"detail": "Version conflict", "current_version": 4}"#);
    /// let err = ApiError::from_response(Method::Post, "/api/v1/intents/i-1/state", &resp);
    /// assert_eq!(err.status(), 409);
    /// ```
    pub fn status(&self) -> u16 {
        self.0.status
    }

    /// The classification of the status and body.
    ///
    /// ```
    /// # use openintent_client::ApiErrorKind;
    /// # use openintent_client::{ApiError, Method, Response};
    /// let resp = Response::new(409).with_json(r#"{"detail": "Version conflict", "current_version": 4}"#);
    /// let err = ApiError::from_response(Method::Post, "/api/v1/intents/i-1/state", &resp);
    /// match err.kind() {
    ///     ApiErrorKind::VersionConflict { current_version } => assert_eq!(*current_version, Some(4)),
    ///     other => panic!("{other:?}"),
    /// }
    /// ```
    pub fn kind(&self) -> &ApiErrorKind {
        &self.0.kind
    }

    /// A human-readable message: the server's `detail` (or the first field error), else the
    /// start of the body.
    ///
    /// ```
    /// # use openintent_client::{ApiError, Method, Response};
    /// let resp = Response::new(422).with_json(r#"{"detail": [{"loc": ["body", "title"], "msg": "field required"}]}"#);
    /// let err = ApiError::from_response(Method::Post, "/api/v1/intents", &resp);
    /// assert!(err.message().contains("field required"), "{}", err.message());
    /// ```
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The response body as received (lossily decoded as UTF-8), JSON or not.
    ///
    /// ```
    /// # use openintent_client::{ApiError, Method, Response};
    /// // Kept even when it is not JSON.
    /// let resp = Response::new(502).with_body("<html>Bad gateway</html>");
    /// let err = ApiError::from_response(Method::Get, "/api/v1/intents/i-1", &resp);
    /// assert_eq!(err.body(), "<html>Bad gateway</html>");
    /// assert!(err.error_body().is_none());
    /// ```
    pub fn body(&self) -> &str {
        &self.0.body
    }

    /// The parsed error body, when the body was a JSON object.
    ///
    /// ```
    /// # use openintent_client::{ApiError, Method, Response};
    /// let resp = Response::new(409).with_json(r#"{"detail": "Version conflict", "current_version": 4}"#);
    /// let err = ApiError::from_response(Method::Post, "/api/v1/intents/i-1/state", &resp);
    /// let body = err.error_body().expect("a JSON object");
    /// assert_eq!(body.current_version, Some(4));
    /// ```
    pub fn error_body(&self) -> Option<&ErrorBody> {
        self.0.parsed.as_ref()
    }

    /// The field errors of a 422, if any.
    ///
    /// ```
    /// # use openintent_client::{ApiError, Method, Response};
    /// let body = r#"{"detail": [{"loc": ["body", "title"], "msg": "field required", "type": "missing"}]}"#;
    /// let resp = Response::new(422).with_json(body);
    /// let err = ApiError::from_response(Method::Post, "/api/v1/intents", &resp);
    /// let fields = err.field_errors();
    /// assert_eq!(fields.len(), 1);
    /// println!("{fields:?}");
    /// ```
    pub fn field_errors(&self) -> &[FieldError] {
        match &self.0.kind {
            ApiErrorKind::Validation { errors } => errors,
            _ => &[],
        }
    }

    /// The governance rule of a 403, if any.
    ///
    /// ```
    /// # use openintent_client::{ApiError, Method, Response};
    /// let body = r#"{"detail": {"message": "Blocked by governance", "rule": "max_cost"}}"#;
    /// let resp = Response::new(403).with_json(body);
    /// let err = ApiError::from_response(Method::Post, "/api/v1/intents/i-1/costs", &resp);
    /// assert_eq!(err.rule(), Some("max_cost"));
    /// ```
    pub fn rule(&self) -> Option<&str> {
        match &self.0.kind {
            ApiErrorKind::Forbidden { rule } => rule.as_deref(),
            _ => None,
        }
    }

    /// The `Retry-After` the server sent (seconds or an HTTP date), if any.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use openintent_client::{ApiError, Method, Response};
    /// let resp = Response::new(503).with_header("Retry-After", "5").with_json(r#"{"detail": "Overloaded"}"#);
    /// let err = ApiError::from_response(Method::Get, "/api/v1/intents/i-1", &resp);
    /// assert_eq!(err.retry_after(), Some(Duration::from_secs(5)));
    /// ```
    pub fn retry_after(&self) -> Option<Duration> {
        self.0.retry_after
    }

    /// The method of the failed request.
    ///
    /// ```
    /// # use openintent_client::{ApiError, Method, Response};
    /// let resp = Response::new(404).with_json(r#"{"detail": "Lease not found"}"#);
    /// let err = ApiError::from_response(Method::Delete, "/api/v1/intents/i-1/leases/l-1", &resp);
    /// assert_eq!(err.method(), Method::Delete);
    /// ```
    pub fn method(&self) -> Method {
        self.0.method
    }

    /// The path of the failed request.
    ///
    /// ```
    /// # use openintent_client::{ApiError, Method, Response};
    /// let resp = Response::new(404).with_json(r#"{"detail": "Lease not found"}"#);
    /// let err = ApiError::from_response(Method::Delete, "/api/v1/intents/i-1/leases/l-1", &resp);
    /// assert_eq!(err.path(), "/api/v1/intents/i-1/leases/l-1");
    /// assert!(err.to_string().ends_with("(DELETE /api/v1/intents/i-1/leases/l-1)"), "{err}");
    /// ```
    pub fn path(&self) -> &str {
        &self.0.path
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {} ({} {})", self.0.status, self.0.kind.label(), self.0.message, self.0.method, self.0.path)
    }
}

impl std::error::Error for ApiError {}

/// A status change the server refused because its lifecycle does not allow it
/// ([`ApiErrorKind::InvalidTransition`]).
///
/// Read from the openintent-rs server's machine-readable 409 body
/// (`{"detail", "error": "invalid_transition", "from", "to", "allowed"}`), or, from servers that
/// send only the text, from a `detail` such as
/// `Invalid status transition: completed -> active (completed is terminal)`.
///
/// Example: [`Error::invalid_transition`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TransitionRefused {
    /// The intent's current status, when the server says.
    pub from: Option<IntentStatus>,
    /// The status asked for, when the server says.
    pub to: Option<IntentStatus>,
    /// The statuses the current one may move to (empty for a terminal status), when the
    /// server says; [`openintent_types::lifecycle::allowed_transitions`] gives the protocol's
    /// table.
    pub allowed: Option<Vec<IntentStatus>>,
}

/// The start of the `detail` of a refused transition.
const TRANSITION_PREFIX: &str = "Invalid status transition";

impl TransitionRefused {
    /// The refused transition a 409 body describes, if it describes one.
    fn from_body(body: Option<&ErrorBody>, detail: Option<&str>) -> Option<TransitionRefused> {
        let marked = body.and_then(|b| b.error.as_deref()) == Some("invalid_transition");
        let text = detail.filter(|d| d.starts_with(TRANSITION_PREFIX));
        if !marked && text.is_none() {
            return None;
        }
        // `Invalid status transition: <from> -> <to>` then ` (allowed: a, b)` or ` (x is terminal)`.
        let rest = text.and_then(|t| t.strip_prefix(TRANSITION_PREFIX)).map(|r| r.trim_start_matches(':').trim());
        let (moves, note) = match rest {
            Some(r) => match r.split_once(" (") {
                Some((m, n)) => (Some(m), Some(n.trim_end_matches(')'))),
                None => (Some(r), None),
            },
            None => (None, None),
        };
        let parsed = moves.and_then(|m| m.split_once("->")).map(|(a, b)| (a.trim(), b.trim()));
        let status = |s: &str| (!s.is_empty()).then(|| IntentStatus::parse(s));
        let field = |f: fn(&ErrorBody) -> Option<&String>| body.and_then(f).map(|s| IntentStatus::parse(s));
        let from = field(|b| b.from.as_ref()).or_else(|| parsed.and_then(|(a, _)| status(a)));
        let to = field(|b| b.to.as_ref()).or_else(|| parsed.and_then(|(_, b)| status(b)));
        let allowed = match body.and_then(|b| b.allowed.as_ref()) {
            Some(list) => Some(list.iter().map(|s| IntentStatus::parse(s)).collect()),
            None => match note {
                Some(n) if n.ends_with(" is terminal") => Some(Vec::new()),
                Some(n) => n
                    .strip_prefix("allowed:")
                    .map(|l| l.split(',').map(str::trim).filter(|s| !s.is_empty()).map(IntentStatus::parse).collect()),
                None => None,
            },
        };
        Some(TransitionRefused { from, to, allowed })
    }
}

fn is_lease_path(path: &str) -> bool {
    path.split('/').any(|s| s == "leases")
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max { s.to_owned() } else { format!("{}...", s.chars().take(max).collect::<String>()) }
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
    use super::*;

    fn err(method: Method, path: &str, status: u16, body: &str) -> ApiError {
        ApiError::from_response(method, path, &Response::new(status).with_body(body.to_owned()))
    }

    #[test]
    fn bare_not_found_is_unsupported() {
        assert_eq!(err(Method::Get, "/x", 404, r#"{"detail":"Not Found"}"#).0.kind, ApiErrorKind::Unsupported);
        assert_eq!(err(Method::Get, "/x", 404, r#"{"detail":"Intent not found"}"#).0.kind, ApiErrorKind::NotFound);
        assert_eq!(err(Method::Get, "/x", 404, "").0.kind, ApiErrorKind::NotFound);
    }

    #[test]
    fn conflicts_split_by_route_and_text() {
        let lease = err(Method::Post, "/api/v1/intents/i/leases", 409, r#"{"detail":"Conflict"}"#);
        assert!(matches!(lease.0.kind, ApiErrorKind::LeaseConflict { .. }));
        let text = err(Method::Post, "/api/v1/intents/i/state", 409, r#"{"detail":"Lease already held"}"#);
        assert!(matches!(text.0.kind, ApiErrorKind::LeaseConflict { .. }));
        let version =
            err(Method::Post, "/api/v1/intents/i/state", 409, r#"{"detail":"Version conflict","current_version":7}"#);
        assert_eq!(version.0.kind, ApiErrorKind::VersionConflict { current_version: Some(7) });
        // A release (DELETE) of a lease is not an acquire: only the text decides.
        let del = err(Method::Delete, "/api/v1/intents/i/leases/l", 409, r#"{"detail":"Version conflict"}"#);
        assert!(matches!(del.0.kind, ApiErrorKind::VersionConflict { .. }));
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

    #[test]
    fn display_names_status_kind_and_request() {
        let e = err(Method::Get, "/api/v1/intents/x", 404, r#"{"detail":"Intent not found"}"#);
        assert_eq!(e.to_string(), "404 not found: Intent not found (GET /api/v1/intents/x)");
        let long = "x".repeat(1000);
        assert!(err(Method::Get, "/", 500, &long).message().len() < 400);
    }
}
