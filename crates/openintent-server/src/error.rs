//! Errors and their wire form: `{"detail": ...}` (PROTOCOL.md §2).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use openintent_types::FieldError;
use serde_json::{Map, Value, json};

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
    /// 413: the body is larger than the configured limit (in bytes).
    PayloadTooLarge(usize),
    /// 422 with a FastAPI-style list of field errors.
    Validation(Vec<FieldError>),
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
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
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
            ApiError::Validation(items) => serde_json::to_value(items).unwrap_or(Value::Null),
            ApiError::Unavailable(t) => json!(t),
            ApiError::Internal(_) => json!("Internal Server Error"),
        };
        body.insert("detail".to_owned(), detail);
        Value::Object(body)
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

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e {
            let msg = db.message();
            if msg.contains("database is locked") || msg.contains("busy") {
                return ApiError::Unavailable("The database is busy; retry the request".to_owned());
            }
            // PostgreSQL text cannot hold NUL characters (SQLSTATE 22021).
            if db.code().as_deref() == Some("22021") {
                return ApiError::BadRequest("Text values may not contain NUL characters".to_owned());
            }
            // A serialization failure or deadlock of PostgreSQL: nothing was written.
            if matches!(db.code().as_deref(), Some("40001" | "40P01")) {
                return ApiError::Unavailable("The database is busy; retry the request".to_owned());
            }
        }
        if matches!(e, sqlx::Error::PoolTimedOut) {
            return ApiError::Unavailable("The database is busy; retry the request".to_owned());
        }
        ApiError::Internal(format!("database error: {e}"))
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

/// Result of handlers and storage operations.
pub type ApiResult<T> = Result<T, ApiError>;
