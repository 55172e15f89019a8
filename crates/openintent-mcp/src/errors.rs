//! Failed tool calls, told so that a model can act on them.

use openintent_client::{ApiErrorKind, Error};
use rmcp::model::CallToolResult;
use serde_json::{Value, json};

/// Why a tool call failed.
#[derive(Debug)]
pub(crate) enum ToolError {
    /// An argument is missing or of the wrong kind.
    Arg {
        /// The argument's name.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// The OpenIntent client (or the server behind it) refused or failed.
    Client(Box<Error>),
}

impl From<Error> for ToolError {
    fn from(e: Error) -> Self {
        ToolError::Client(Box::new(e))
    }
}

impl From<serde_json::Error> for ToolError {
    fn from(e: serde_json::Error) -> Self {
        ToolError::Arg { field: "result".into(), message: format!("the answer cannot be written as JSON: {e}") }
    }
}

impl ToolError {
    /// An argument error naming `field`.
    pub(crate) fn arg(field: &str, message: impl Into<String>) -> ToolError {
        ToolError::Arg { field: field.to_owned(), message: message.into() }
    }

    /// The structured description: `error` (a stable code), `message`, `hint` (what to do) and
    /// the details of the case (`field`, `current_version`, `holder`, `expires_at`, ...).
    pub(crate) fn to_json(&self) -> Value {
        match self {
            ToolError::Arg { field, message } => json!({
                "error": "invalid_argument",
                "field": field,
                "message": message,
                "hint": "Fix this argument (see the tool's input schema) and call the tool again.",
            }),
            ToolError::Client(e) => client_error(e),
        }
    }

    /// The tool result of a failed call (`isError: true`, with the structured description).
    pub(crate) fn into_result(self) -> CallToolResult {
        let value = self.to_json();
        let mut result = CallToolResult::structured_error(value.clone());
        // The text block leads with the message and the hint, for hosts that only show text.
        let text = format!(
            "{}{}\n{}",
            value["message"].as_str().unwrap_or("error"),
            value["hint"].as_str().map(|h| format!("\nHint: {h}")).unwrap_or_default(),
            value
        );
        result.content = vec![rmcp::model::Content::text(text)];
        result
    }
}

fn client_error(e: &Error) -> Value {
    let message = e.to_string();
    let status = e.status();
    let (code, hint, extra): (&str, String, Value) = match e {
        Error::Invalid(v) => {
            ("invalid_argument", "Fix this argument and call the tool again.".into(), json!({"field": v.field}))
        }
        Error::Transport(_) => (
            "connection_failed",
            "The OpenIntent server did not answer: it may be down or unreachable; try again later.".into(),
            json!({}),
        ),
        Error::Api(api) => match api.kind() {
            ApiErrorKind::VersionConflict { current_version } => (
                "version_conflict",
                format!(
                    "Someone changed this since you read it. Re-read it (get_intent) and retry with its current \
                     version{}.",
                    current_version.map(|v| format!(" ({v})")).unwrap_or_default()
                ),
                json!({"current_version": current_version}),
            ),
            ApiErrorKind::LeaseConflict { existing_lease } => match existing_lease {
                Some(l) => (
                    "lease_conflict",
                    format!(
                        "Scope {:?} is leased by agent {:?} until {}. Wait until then (or until it is released), \
                         or work on another scope.",
                        l.scope,
                        l.agent_id,
                        l.expires_at.to_rfc3339()
                    ),
                    json!({"holder": l.agent_id, "expires_at": l.expires_at, "lease_id": l.id, "scope": l.scope}),
                ),
                None => (
                    "lease_conflict",
                    "Another agent holds a lease on this scope: list the leases (get_leases) to see who and \
                     until when."
                        .into(),
                    json!({}),
                ),
            },
            ApiErrorKind::InvalidTransition(t) => (
                "invalid_transition",
                "The intent's lifecycle does not allow this status change from its current status; re-reading \
                 and retrying will not help. Pick one of the allowed statuses."
                    .into(),
                json!({"from": t.from, "to": t.to, "allowed": t.allowed}),
            ),
            ApiErrorKind::NotFound => (
                "not_found",
                "Nothing has this id, or you may not see it: check the id (the list tools give ids).".into(),
                json!({}),
            ),
            ApiErrorKind::Validation { errors } => (
                "invalid_argument",
                "The server refused the input: fix the fields named and call the tool again.".into(),
                json!({"fields": errors.iter().map(|f| json!({"field": f.field(), "message": f.msg})).collect::<Vec<_>>()}),
            ),
            ApiErrorKind::Forbidden { rule } => (
                "forbidden",
                "The server does not allow this for this agent (access control or governance policy).".into(),
                json!({"rule": rule}),
            ),
            ApiErrorKind::Unauthorized => (
                "unauthorized",
                "The server refused the API key this MCP server was started with; the operator must fix it.".into(),
                json!({}),
            ),
            ApiErrorKind::RateLimited => (
                "rate_limited",
                format!(
                    "Too many requests: wait{} and try again.",
                    api.retry_after().map(|d| format!(" {} seconds", d.as_secs().max(1))).unwrap_or_default()
                ),
                json!({"retry_after_seconds": api.retry_after().map(|d| d.as_secs())}),
            ),
            ApiErrorKind::Unsupported => (
                "unsupported",
                "This OpenIntent server does not offer this operation; do without it.".into(),
                json!({}),
            ),
            ApiErrorKind::Server => {
                ("server_error", "The OpenIntent server failed; it may work if tried again later.".into(), json!({}))
            }
            _ => ("error", "See the message.".into(), json!({})),
        },
        _ => ("error", "See the message.".into(), json!({})),
    };
    let mut out = json!({"error": code, "message": message, "hint": hint, "status": status});
    if let (Value::Object(out), Value::Object(extra)) = (&mut out, extra) {
        out.extend(extra);
    }
    out
}
