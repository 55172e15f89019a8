//! Errors and their wire form: `{"detail": ...}` (PROTOCOL.md §2).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use openintent_types::limits::{MAX_JSON_DEPTH, json_depth};
use openintent_types::wire::to_superset_value;
use openintent_types::{FieldError, IntentStatus};
use serde_json::{Map, Value, json};

use crate::store::StoreError;

/// The `detail` of a 503 for a busy database.
const BUSY: &str = "The database is busy; retry the request";

/// An error answered to a client. Every variant becomes a JSON body with a `detail` key, plus
/// machine-readable extras where the protocol defines them (`current_version`,
/// `existing_lease`, `allowed`).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ApiError {
    /// 400 with a text detail (`If-Match header required`).
    BadRequest(String),
    /// 401 `Invalid or missing API key`.
    Unauthorized,
    /// 403 with a text detail.
    Forbidden(String),
    /// 403: the intent's governance policy refused the request. The body is shape C:
    /// `{"detail": {"error": "governance_violation", "rule", "message"}}` (plus `mode` for
    /// `completion_mode` refusals).
    Governance {
        /// The rule that refused it (`write_scope`, `allowed_agents`, `max_cost`, ...).
        rule: String,
        /// Human text naming the agent and the rule.
        message: String,
        /// The completion mode, for `completion_mode` refusals.
        mode: Option<String>,
    },
    /// 404 with the resource's text (`Intent not found`, ...).
    NotFound(String),
    /// 409 with a text detail and extra top-level keys.
    Conflict {
        /// The `detail` text.
        detail: String,
        /// Extra keys merged into the body.
        extra: Map<String, Value>,
    },
    /// 422 with the given `detail` (a text or an object, as the protocol defines it for the
    /// route).
    Unprocessable(Value),
    /// 413: the body is larger than the configured limit (in bytes).
    PayloadTooLarge(usize),
    /// 422 with a FastAPI-style list of field errors.
    Validation(Vec<FieldError>),
    /// 413 with a list of field errors: a stored value would grow past its limit (an intent's
    /// state over [`crate::ServerConfig::max_state_bytes`]).
    TooLarge(Vec<FieldError>),
    /// 503: the database stayed busy.
    Unavailable(String),
    /// 500; the text is logged, never sent.
    Internal(String),
}

impl ApiError {
    /// 404 with `detail`.
    pub fn not_found(detail: impl Into<String>) -> Self {
        ApiError::NotFound(detail.into())
    }

    /// 409 with `detail` and no extras.
    pub fn conflict(detail: impl Into<String>) -> Self {
        ApiError::Conflict { detail: detail.into(), extra: Map::new() }
    }

    /// 409 with `detail` and one extra key.
    pub fn conflict_with(detail: impl Into<String>, key: &str, value: Value) -> Self {
        let mut extra = Map::new();
        extra.insert(key.to_owned(), value);
        ApiError::Conflict { detail: detail.into(), extra }
    }

    /// 422 for one field of the body.
    pub fn invalid_field(field: &str, kind: &str, msg: impl Into<String>, input: Option<Value>) -> Self {
        let mut e = FieldError::body(field, kind, msg);
        e.input = input;
        ApiError::Validation(vec![e])
    }

    /// 422 for one query parameter.
    pub fn invalid_query(param: &str, kind: &str, msg: impl Into<String>, input: Option<Value>) -> Self {
        let mut e = FieldError::default();
        e.kind = kind.to_owned();
        e.loc = vec![json!("query"), json!(param)];
        e.msg = msg.into();
        e.input = input;
        ApiError::Validation(vec![e])
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) | ApiError::Governance { .. } => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) | ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Validation(_) | ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The JSON body of this error.
    pub fn body(&self) -> Value {
        let mut body = Map::new();
        let detail = match self {
            ApiError::BadRequest(t) | ApiError::Forbidden(t) | ApiError::NotFound(t) => json!(t),
            ApiError::Unauthorized => json!("Invalid or missing API key"),
            ApiError::Governance { rule, message, mode } => {
                let mut d = Map::new();
                d.insert("error".to_owned(), json!("governance_violation"));
                d.insert("rule".to_owned(), json!(rule));
                if let Some(m) = mode {
                    d.insert("mode".to_owned(), json!(m));
                }
                d.insert("message".to_owned(), json!(message));
                Value::Object(d)
            }
            ApiError::Conflict { detail, extra } => {
                for (k, v) in extra {
                    body.insert(k.clone(), v.clone());
                }
                json!(detail)
            }
            ApiError::PayloadTooLarge(limit) => json!(format!("Request body exceeds the limit of {limit} bytes")),
            ApiError::Validation(items) | ApiError::TooLarge(items) => {
                serde_json::to_value(items.iter().map(readable_echo).collect::<Vec<_>>()).unwrap_or(Value::Null)
            }
            ApiError::Unprocessable(detail) => detail.clone(),
            ApiError::Unavailable(t) => json!(t),
            ApiError::Internal(_) => json!("Internal Server Error"),
        };
        body.insert("detail".to_owned(), detail);
        Value::Object(body)
    }
}

/// A field error as the body shows it: the `input` it echoes is left out when it nests deeper
/// than [`MAX_JSON_DEPTH`], so that the error of a too-deep body is itself readable by a client
/// (the echo inside `detail` would otherwise pass `serde_json`'s recursion limit).
fn readable_echo(item: &FieldError) -> std::borrow::Cow<'_, FieldError> {
    match &item.input {
        Some(input) if json_depth(input) > MAX_JSON_DEPTH => {
            let mut item = item.clone();
            item.input = None;
            std::borrow::Cow::Owned(item)
        }
        _ => std::borrow::Cow::Borrowed(item),
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::Internal(t) => write!(f, "500 {t}"),
            other => write!(f, "{} {}", other.status().as_u16(), other.body()["detail"]),
        }
    }
}

impl std::error::Error for ApiError {}

impl From<crate::rules::ownership::Refused> for ApiError {
    /// An ownership refusal, answered as the store answers it.
    fn from(r: crate::rules::ownership::Refused) -> Self {
        StoreError::from(r).into()
    }
}

impl From<StoreError> for ApiError {
    /// The status and body of each storage error: the one place where they are chosen.
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => ApiError::NotFound(what.to_owned()),
            StoreError::Forbidden(why) => ApiError::Forbidden(why.to_owned()),
            StoreError::VersionConflict { current } => {
                ApiError::conflict_with("Version conflict", "current_version", json!(current))
            }
            StoreError::LeaseConflict { detail, existing: Some(lease) } => {
                ApiError::conflict_with(detail, "existing_lease", to_superset_value(&*lease))
            }
            StoreError::LeaseConflict { detail, existing: None } => ApiError::conflict(detail),
            // `detail` keeps the reference-style text (`Invalid status transition: draft -> draft
            // (allowed: ...)`); `error` tells it apart from a version conflict, which re-reading
            // and retrying can resolve and this cannot; `from`, `to` and `allowed` say what was
            // refused and which moves the current status allows (`current_status` repeats
            // `from`, for older clients).
            StoreError::InvalidTransition(e) => {
                let allowed: Vec<&str> = e.allowed.iter().map(IntentStatus::as_str).collect();
                let mut extra = Map::new();
                extra.insert("error".into(), Value::from("invalid_transition"));
                extra.insert("from".into(), Value::from(e.from.as_str()));
                extra.insert("to".into(), Value::from(e.to.as_str()));
                extra.insert("allowed".into(), Value::from(allowed));
                extra.insert("current_status".into(), Value::from(e.from.as_str()));
                ApiError::Conflict { detail: e.to_string(), extra }
            }
            StoreError::Governance { rule, message, mode } => {
                ApiError::Governance { rule: rule.to_owned(), message, mode: mode.map(str::to_owned) }
            }
            StoreError::Invalid(items) => ApiError::Validation(items),
            StoreError::BadRequest(text) => ApiError::BadRequest(text),
            StoreError::Conflict(text) => ApiError::conflict(text),
            StoreError::Unprocessable(text) => ApiError::Unprocessable(json!(text)),
            // The reference's object `detail`: `{"error": "invalid_choice", "message", "valid_choices"}`.
            StoreError::InvalidChoice { choice, allowed } => ApiError::Unprocessable(
                serde_json::to_value(openintent_types::InvalidChoice::new(&choice, allowed)).unwrap_or(Value::Null),
            ),
            // The row exists but cannot be read back until an operator repairs it: retrying
            // does not help, and the rest of the server keeps working (lists leave it out).
            StoreError::Unreadable { kind, id, reason } => {
                tracing::error!(kind, id = %id, %reason, "a stored row cannot be read");
                let mut extra = Map::new();
                extra.insert("error".into(), Value::from("unreadable"));
                extra.insert("kind".into(), Value::from(kind));
                extra.insert("id".into(), Value::from(id.clone()));
                ApiError::Conflict {
                    detail: format!(
                        "The stored {kind} {id} cannot be read back; an operator can repair it (openintent-server repair)"
                    ),
                    extra,
                }
            }
            // 413 as for a body over the limit, but a field error naming `state`.
            e @ StoreError::StateTooLarge { .. } => {
                ApiError::TooLarge(vec![FieldError::body("state", "state_too_large", e.to_string())])
            }
            StoreError::Busy => ApiError::Unavailable(BUSY.to_owned()),
            StoreError::Begin(e) => ApiError::Unavailable(format!("could not begin a transaction: {e}")),
            other @ (StoreError::Database(_)
            | StoreError::Migration(_)
            | StoreError::SqliteFile { .. }
            | StoreError::Unsupported(_)
            | StoreError::Corrupt(_)) => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    /// As the store answers it (see `From<StoreError>`).
    fn from(e: sqlx::Error) -> Self {
        StoreError::from(e).into()
    }
}

impl From<serde_json::Error> for ApiError {
    fn from(e: serde_json::Error) -> Self {
        ApiError::Internal(format!("stored JSON could not be read: {e}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(text) = &self {
            tracing::error!(error = %text, "request failed");
        }
        let mut resp = (self.status(), axum::Json(self.body())).into_response();
        if matches!(self, ApiError::Unavailable(_)) {
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        resp
    }
}

/// Result of handlers.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use openintent_types::{Lease, SuspensionChoice};

    use super::*;
    use crate::rules::governance::Violation;
    use crate::rules::leases;

    fn answer(e: StoreError) -> (u16, Value) {
        let e = ApiError::from(e);
        (e.status().as_u16(), e.body())
    }

    #[test]
    fn refusals_of_the_protocol_keep_their_bodies() {
        assert_eq!(answer(StoreError::NotFound("Intent not found")), (404, json!({"detail": "Intent not found"})));
        assert_eq!(
            answer(StoreError::Forbidden("Lease not owned by you")),
            (403, json!({"detail": "Lease not owned by you"}))
        );
        assert_eq!(
            answer(StoreError::VersionConflict { current: 4 }),
            (409, json!({"detail": "Version conflict", "current_version": 4}))
        );
        assert_eq!(
            answer(StoreError::BadRequest("Dependency not found: x".into())),
            (400, json!({"detail": "Dependency not found: x"}))
        );
        let field = FieldError::body("patches.0.path", "value_error", "no such path");
        assert_eq!(
            answer(StoreError::Invalid(vec![field])),
            (
                422,
                json!({"detail": [{"type": "value_error", "loc": ["body", "patches", "0", "path"], "msg": "no such path"}]})
            )
        );
    }

    #[test]
    fn an_invalid_choice_is_shaped_here() {
        let allowed = vec![SuspensionChoice::new("approve", "Approve"), SuspensionChoice::new("deny", "Deny")];
        let (status, body) = answer(StoreError::InvalidChoice { choice: json!("maybe"), allowed });
        assert_eq!(status, 422);
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"detail":{"error":"invalid_choice","message":"Value 'maybe' is not a valid choice. Expected one of: ['approve', 'deny']","valid_choices":[{"label":"Approve","value":"approve"},{"label":"Deny","value":"deny"}]}}"#
        );
        assert_eq!(
            answer(StoreError::Unprocessable("Unknown response_type 'x'".into())),
            (422, json!({"detail": "Unknown response_type 'x'"}))
        );
    }

    #[test]
    fn a_lease_conflict_names_the_lease() {
        let now = chrono::Utc::now();
        let mut lease = Lease::new("l1", "i1", "alice", "trip", 60);
        lease.acquired_at = now;
        lease.expires_at = now + chrono::Duration::seconds(60);
        let (status, body) = answer(StoreError::lease(leases::held(Some(lease), now)));
        assert_eq!((status, &body["detail"]), (409, &json!("Lease already held for this scope")));
        assert_eq!(
            (&body["existing_lease"]["id"], &body["existing_lease"]["status"]),
            (&json!("l1"), &json!("active"))
        );
        assert_eq!(
            answer(StoreError::lease(leases::held(None, now))),
            (409, json!({"detail": "Lease already held for this scope"}))
        );
    }

    #[test]
    fn a_refused_transition_carries_its_marker() {
        let e = crate::rules::lifecycle::check_transition(&IntentStatus::Blocked, &IntentStatus::Blocked).unwrap_err();
        let (status, body) = answer(StoreError::InvalidTransition(e));
        assert_eq!(status, 409);
        assert_eq!(
            body,
            json!({
                "detail": "Invalid status transition: blocked -> blocked (allowed: active, abandoned)",
                "error": "invalid_transition", "from": "blocked", "to": "blocked",
                "allowed": ["active", "abandoned"], "current_status": "blocked",
            })
        );
    }

    #[test]
    fn a_governance_refusal_has_shape_c() {
        let v = Violation { rule: "completion_mode", message: "no".into(), mode: Some("quorum"), event_detail: None };
        assert_eq!(
            answer(StoreError::governance(v)),
            (
                403,
                json!({"detail": {"error": "governance_violation", "rule": "completion_mode", "mode": "quorum", "message": "no"}})
            )
        );
    }

    #[test]
    fn failures_of_the_database_are_503_or_500() {
        assert_eq!(answer(StoreError::Busy), (503, json!({"detail": BUSY})));
        assert_eq!(answer(StoreError::from(sqlx::Error::PoolTimedOut)), (503, json!({"detail": BUSY})));
        let e = ApiError::from(StoreError::Corrupt("stored JSON could not be read: eof".into()));
        assert_eq!((e.status().as_u16(), e.body()), (500, json!({"detail": "Internal Server Error"})));
        assert_eq!(e, ApiError::Internal("stored JSON could not be read: eof".into()));
        let e = ApiError::from(sqlx::Error::RowNotFound);
        assert!(matches!(&e, ApiError::Internal(t) if t.starts_with("database error: ")), "{e:?}");
    }
}
