//! The server's non-2xx answers: [`ApiError`], its [`ApiErrorKind`] (PROTOCOL.md §2.4) and a
//! refused status transition ([`TransitionRefused`]).

use std::fmt;
use std::time::{Duration, SystemTime};

use openintent_transport::{Method, Response, parse_retry_after};
use openintent_types::{ErrorBody, ErrorDetail, FieldError, IntentStatus, Lease};

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
    /// Classifies an error response to `method path` (see the [module docs](crate::error)).
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
/// Example: [`Error::invalid_transition`](crate::Error::invalid_transition).
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
    fn display_names_status_kind_and_request() {
        let e = err(Method::Get, "/api/v1/intents/x", 404, r#"{"detail":"Intent not found"}"#);
        assert_eq!(e.to_string(), "404 not found: Intent not found (GET /api/v1/intents/x)");
        let long = "x".repeat(1000);
        assert!(err(Method::Get, "/", 500, &long).message().len() < 400);
    }
}
