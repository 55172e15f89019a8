//! Client-side input validation, one function per write, mirroring the seed's
//! `openintent.validation` (`validate_intent_create`, `validate_lease_acquire`, ...).
//!
//! Every request type implements [`Validate`], which calls the matching function; clients run it
//! before anything is sent and servers before anything is stored. Errors name the field and say
//! what is wrong:
//!
//! ```
//! use openintent_types::validation::validate_intent_create;
//! let err = validate_intent_create("", None, None).unwrap_err();
//! assert_eq!(err.field, "title");
//! assert_eq!(err.to_string(), "title cannot be empty");
//! ```
//!
//! Length, range and URL checks use the `validator` crate's primitives; the rest (control characters,
//! JSON-pointer paths, base64, ordering of limits, finiteness) is written here.

use base64::Engine as _;
use validator::{ValidateLength, ValidateRange, ValidateUrl};

use crate::patch::{PatchOp, StatePatch};

/// The longest lease clients may ask for, in seconds (one day).
pub const MAX_LEASE_SECONDS: i64 = 86_400;

/// The longest lease scope, in characters.
pub const MAX_SCOPE_CHARS: u64 = 255;

/// A request that failed validation: which field and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
#[non_exhaustive]
pub struct InputValidationError {
    /// The field (dotted path for nested ones, e.g. `patches.0.path`).
    pub field: String,
    /// What is wrong, starting with the field name.
    pub message: String,
}

impl InputValidationError {
    /// An error for `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        InputValidationError { field: field.into(), message: message.into() }
    }
}

/// What a validation returns: nothing, or the first field that is wrong.
pub(crate) type Result<T = ()> = std::result::Result<T, InputValidationError>;

/// A request that can check itself.
pub trait Validate {
    /// Checks every rule; the first failure is returned.
    fn validate(&self) -> Result;
}

pub(crate) fn fail<T>(field: &str, what: impl std::fmt::Display) -> Result<T> {
    Err(InputValidationError::new(field, format!("{field} {what}")))
}

/// `field` must not be empty or only whitespace.
pub fn require_text(field: &str, value: &str) -> Result {
    if value.trim().is_empty() { fail(field, "cannot be empty") } else { Ok(()) }
}

/// `field` must be non-blank and at most `max` characters.
pub fn require_text_max(field: &str, value: &str, max: u64) -> Result {
    require_text(field, value)?;
    max_chars(field, value, max)
}

pub(crate) fn max_chars(field: &str, value: &str, max: u64) -> Result {
    if value.validate_length(None, Some(max), None) {
        Ok(())
    } else {
        fail(field, format_args!("must be at most {max} characters"))
    }
}

/// An id used in a URL path: non-blank, at most 255 characters, no `/`, `?`, `#` or control
/// characters.
pub fn validate_id(field: &str, value: &str) -> Result {
    require_text_max(field, value, 255)?;
    if value.chars().any(|c| c.is_control() || matches!(c, '/' | '?' | '#')) {
        return fail(field, "must not contain '/', '?', '#' or control characters");
    }
    Ok(())
}

/// `validate_intent_create(title, creator?, description?)`: title 1-500 characters, not blank;
/// description at most 10000; creator non-blank, at most 255.
pub fn validate_intent_create(title: &str, creator: Option<&str>, description: Option<&str>) -> Result {
    require_text_max("title", title, 500)?;
    if let Some(d) = description {
        max_chars("description", d, 10_000)?;
    }
    if let Some(c) = creator {
        require_text_max("created_by", c, 255)?;
    }
    Ok(())
}

/// Whether `scope` is a usable lease scope: not blank, at most [`MAX_SCOPE_CHARS`]
/// characters, no control characters. Scopes are free strings on the wire (`analysis`,
/// `content.draft`, `data-processing`, `shared scope`); [`scope_path`](crate::scope_path) says
/// which state each one guards.
pub fn is_valid_scope(scope: &str) -> bool {
    validate_scope(scope).is_ok()
}

/// A lease scope: not blank, at most [`MAX_SCOPE_CHARS`] characters, no control characters.
pub fn validate_scope(scope: &str) -> Result {
    require_text_max("scope", scope, MAX_SCOPE_CHARS)?;
    if scope.chars().any(char::is_control) {
        return fail("scope", "must not contain control characters");
    }
    Ok(())
}

/// `validate_lease_acquire(intent_id, scope, duration_seconds)`: scope per [`validate_scope`],
/// duration 1-86400 seconds.
pub fn validate_lease_acquire(intent_id: &str, scope: &str, duration_seconds: i64) -> Result {
    validate_id("intent_id", intent_id)?;
    validate_scope(scope)?;
    validate_lease_duration(duration_seconds)
}

/// A lease duration: 1-86400 seconds.
pub fn validate_lease_duration(duration_seconds: i64) -> Result {
    if duration_seconds.validate_range(Some(1), Some(MAX_LEASE_SECONDS), None, None) {
        Ok(())
    } else {
        fail(
            "duration_seconds",
            format_args!("must be between 1 and {MAX_LEASE_SECONDS} seconds, got {duration_seconds}"),
        )
    }
}

/// A state update: at least one patch (or merge key), known ops, parseable paths.
pub fn validate_state_update(patches: &[StatePatch]) -> Result {
    if patches.is_empty() {
        return fail("patches", "cannot be empty");
    }
    for (i, p) in patches.iter().enumerate() {
        if let PatchOp::Unknown(op) = &p.op {
            return Err(InputValidationError::new(
                format!("patches.{i}.op"),
                format!("patches.{i}.op must be set, append or remove, got {op:?}"),
            ));
        }
        let segments = match crate::patch::parse_pointer(&p.path) {
            Ok(segments) => segments.len(),
            Err(reason) => {
                return Err(InputValidationError::new(
                    format!("patches.{i}.path"),
                    format!("patches.{i}.path is not a JSON pointer: {reason}"),
                ));
            }
        };
        // The state nests one level per path segment (one more for the array appended to),
        // then as deep as the value.
        let container = usize::from(p.op == PatchOp::Append);
        let depth = segments + container + crate::limits::json_depth(&p.value);
        if depth > crate::limits::MAX_JSON_DEPTH {
            let max = crate::limits::MAX_JSON_DEPTH;
            let field = if segments + container >= max { "path" } else { "value" };
            return Err(InputValidationError::new(
                format!("patches.{i}.{field}"),
                format!(
                    "patches.{i}.{field} would nest the state {depth} levels deep (path segments plus value depth); \
                     the limit is {max}"
                ),
            ));
        }
        if p.path.is_empty() && p.op != PatchOp::Set {
            return Err(InputValidationError::new(
                format!("patches.{i}.path"),
                format!("patches.{i}.path cannot be empty for {}", p.op),
            ));
        }
    }
    Ok(())
}

/// A status: non-empty.
pub fn validate_status(status: &str) -> Result {
    require_text_max("status", status, 64)
}

/// An event: type non-blank, at most 100 characters.
pub fn validate_event(event_type: &str) -> Result {
    require_text_max("event_type", event_type, 100)
}

/// The largest amount one cost record may carry, so that sums over records stay finite.
pub const MAX_COST_AMOUNT: f64 = 1e15;

/// `validate_cost_record(cost_type, amount, unit)`: type and unit non-blank, amount finite, not
/// negative and at most [`MAX_COST_AMOUNT`].
pub fn validate_cost_record(cost_type: &str, amount: f64, unit: &str) -> Result {
    require_text_max("cost_type", cost_type, 100)?;
    if !amount.is_finite() {
        return fail("amount", "must be a finite number");
    }
    if amount < 0.0 {
        return fail("amount", format_args!("cannot be negative, got {amount}"));
    }
    if amount > MAX_COST_AMOUNT {
        return fail("amount", format_args!("must be at most {MAX_COST_AMOUNT:e}, got {amount:e}"));
    }
    require_text_max("unit", unit, 32)
}

/// An http(s) URL.
pub fn validate_http_url(field: &str, url: &str) -> Result {
    require_text(field, url)?;
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return fail(field, format_args!("must be an http or https URL, got {url:?}"));
    }
    if !url.validate_url() {
        return fail(field, format_args!("is not a valid URL: {url:?}"));
    }
    Ok(())
}

/// `validate_subscription(subscriber_id, callback_url?, event_types)`.
pub fn validate_subscription(
    subscriber_id: Option<&str>,
    callback_url: Option<&str>,
    event_types: &[String],
) -> Result {
    if let Some(s) = subscriber_id {
        require_text_max("subscriber_id", s, 255)?;
    }
    if let Some(u) = callback_url {
        validate_http_url("callback_url", u)?;
    }
    for (i, t) in event_types.iter().enumerate() {
        require_text(&format!("event_types.{i}"), t)?;
    }
    Ok(())
}

/// A failure: type and message non-blank, attempt at least 1.
pub fn validate_failure(error_type: &str, error_message: &str, attempt_number: i64) -> Result {
    require_text_max("error_type", error_type, 100)?;
    require_text("error_message", error_message)?;
    if attempt_number < 1 {
        return fail("attempt_number", format_args!("must be at least 1, got {attempt_number}"));
    }
    Ok(())
}

/// The seed's attachment form: file name and content type non-blank, content valid base64.
/// Returns the decoded bytes.
pub fn validate_attachment(filename: &str, content_type: &str, content_base64: &str) -> Result<Vec<u8>> {
    require_text_max("filename", filename, 255)?;
    validate_mime_type(content_type)?;
    base64::engine::general_purpose::STANDARD
        .decode(content_base64.trim())
        .or_else(|_| fail("content_base64", "is not valid base64"))
}

fn validate_mime_type(mime: &str) -> Result {
    require_text_max("content_type", mime, 255)?;
    match mime.split_once('/') {
        Some((a, b)) if !a.trim().is_empty() && !b.trim().is_empty() => Ok(()),
        _ => fail("content_type", format_args!("must look like type/subtype, got {mime:?}")),
    }
}

/// A portfolio: name non-blank, at most 255 characters.
pub fn validate_portfolio_create(name: &str) -> Result {
    require_text_max("name", name, 255)
}

/// A trace id (RFC-0020): exactly 32 lowercase hexadecimal digits.
///
/// ```
/// use openintent_types::validation::validate_trace_id;
/// assert!(validate_trace_id("a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6").is_ok());
/// assert_eq!(validate_trace_id("A1B2").unwrap_err().field, "trace_id");
/// ```
pub fn validate_trace_id(trace_id: &str) -> Result {
    if trace_id.len() == 32 && trace_id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        Ok(())
    } else {
        fail("trace_id", format_args!("must be 32 lowercase hexadecimal digits, got {trace_id:?}"))
    }
}
