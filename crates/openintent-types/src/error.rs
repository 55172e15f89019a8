//! The error body servers send: `{"detail": ...}` (PROTOCOL.md §2).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::leases::Lease;
use crate::schema::FieldError;

/// The `detail` of an error body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum ErrorDetail {
    /// Shape A: a message.
    Text(String),
    /// Shape B: validation errors.
    Fields(Vec<FieldError>),
    /// Shape C: an object such as `{"error": "governance_violation", "rule", "message"}`.
    Object(Map<String, Value>),
}

impl Default for ErrorDetail {
    fn default() -> Self {
        ErrorDetail::Text(String::new())
    }
}

/// An error response body.
///
/// Reads the reference shape `{"detail": ...}` and the keys older clients look for
/// (`message`, `errors`, `current_version`, `existing_lease`).
///
/// ```
/// use openintent_types::ErrorBody;
/// let e: ErrorBody = serde_json::from_str(r#"{"detail": "Version conflict", "current_version": 4}"#).unwrap();
/// assert_eq!(e.message(), "Version conflict");
/// assert_eq!(e.current_version, Some(4));
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ErrorBody {
    /// The detail.
    #[serde(default)]
    pub detail: ErrorDetail,
    /// The intent's current version, on a version conflict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_version: Option<i64>,
    /// The lease holding the scope, on a lease conflict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub existing_lease: Option<Lease>,
    /// A machine-readable error code beside the text `detail`, such as `invalid_transition`
    /// (a refused status transition, which is not a version conflict).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The current status, on a refused status transition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The requested status, on a refused status transition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Allowed targets, on a refused status transition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed: Option<Vec<String>>,
    /// A message under the legacy key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Field errors under the legacy key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<Value>,
}

impl ErrorBody {
    /// A body with a text detail.
    pub fn new(detail: impl Into<String>) -> Self {
        ErrorBody { detail: ErrorDetail::Text(detail.into()), ..Default::default() }
    }

    /// A 422-style body listing field errors.
    pub fn fields(errors: Vec<FieldError>) -> Self {
        ErrorBody { detail: ErrorDetail::Fields(errors), ..Default::default() }
    }

    /// A human-readable message: the text detail, the object's `message`, the first field
    /// error, or the legacy `message`.
    pub fn message(&self) -> String {
        match &self.detail {
            ErrorDetail::Text(t) if !t.is_empty() => t.clone(),
            ErrorDetail::Fields(items) if !items.is_empty() => {
                let f = &items[0];
                let field = f.field();
                if field.is_empty() { f.msg.clone() } else { format!("{field}: {}", f.msg) }
            }
            ErrorDetail::Object(m) => m
                .get("message")
                .or_else(|| m.get("detail"))
                .and_then(Value::as_str)
                .map(str::to_owned)
                .unwrap_or_else(|| Value::Object(m.clone()).to_string()),
            _ => self.message.clone().unwrap_or_default(),
        }
    }

    /// The field errors (shape B), if any.
    pub fn field_errors(&self) -> &[FieldError] {
        match &self.detail {
            ErrorDetail::Fields(items) => items,
            _ => &[],
        }
    }

    /// The governance rule of a shape-C detail, if any.
    pub fn rule(&self) -> Option<&str> {
        match &self.detail {
            ErrorDetail::Object(m) => m.get("rule").and_then(Value::as_str),
            _ => None,
        }
    }
}
