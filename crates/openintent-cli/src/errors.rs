//! Failures of a command: what happened, what to do about it, and the exit code.

use std::process::ExitCode;

use openintent_client::{ApiErrorKind, Error, TransitionRefused};
use serde_json::json;

/// The documented exit codes (see `openintent --help`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// Success.
    Ok = 0,
    /// Any other error.
    Other = 1,
    /// Usage error or invalid input.
    Usage = 2,
    /// 404.
    NotFound = 3,
    /// 409.
    Conflict = 4,
    /// 401 or 403.
    Unauthorized = 5,
    /// No connection, or no answer.
    Connection = 6,
}

impl Exit {
    /// The process exit code.
    pub fn code(self) -> ExitCode {
        ExitCode::from(self as u8)
    }

    fn label(self) -> &'static str {
        match self {
            Exit::Ok => "ok",
            Exit::Other => "error",
            Exit::Usage => "invalid_input",
            Exit::NotFound => "not_found",
            Exit::Conflict => "conflict",
            Exit::Unauthorized => "unauthorized",
            Exit::Connection => "connection_failed",
        }
    }
}

/// A failed command.
#[derive(Debug)]
pub enum CliError {
    /// A call to the server failed.
    Client(Box<Error>),
    /// The arguments cannot be used (bad JSON, bad `key=value`...).
    Usage(String),
    /// Anything else (the server could not start, ...).
    Other(String),
    /// Standard output was closed by its reader (`| head`): the command stops quietly.
    StdoutClosed,
}

impl From<Error> for CliError {
    fn from(e: Error) -> Self {
        CliError::Client(Box::new(e))
    }
}

/// What the user sees: a one-line message, an optional hint, the exit code.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// What happened.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
    /// The exit code.
    pub exit: Exit,
    /// The HTTP status, when the server answered.
    pub status: Option<u16>,
}

impl CliError {
    /// Explains the failure; `url` is the server the command talked to.
    pub fn report(&self, url: &str) -> Report {
        match self {
            CliError::Usage(m) => Report { message: m.clone(), hint: None, exit: Exit::Usage, status: None },
            CliError::Other(m) => Report { message: m.clone(), hint: None, exit: Exit::Other, status: None },
            // Not printed (see `main`): nobody reads the output any more.
            CliError::StdoutClosed => {
                Report { message: "standard output was closed".to_owned(), hint: None, exit: Exit::Ok, status: None }
            }
            CliError::Client(e) => client_report(e, url),
        }
    }
}

fn client_report(e: &Error, url: &str) -> Report {
    let status = e.status();
    let r = |message: String, hint: Option<String>, exit: Exit| Report { message, hint, exit, status };
    match e {
        Error::Transport(t) if t.is_connect() => r(
            format!("cannot connect to the server at {url}: {}", t.message()),
            Some(
                "start one with `openintent serve` (or `cargo run -p openintent-server`), \
                 or point --url / OPENINTENT_URL at a running server"
                    .to_owned(),
            ),
            Exit::Connection,
        ),
        Error::Transport(t) => r(
            format!("no usable answer from the server at {url}: {t}"),
            Some("check that the server is up and reachable, then try again".to_owned()),
            Exit::Connection,
        ),
        Error::Invalid(v) => r(format!("invalid input: {v}"), None, Exit::Usage),
        Error::Config(c) => r(c.to_string(), None, Exit::Usage),
        Error::Decode(d) => r(
            format!("the server's answer could not be read: {d}"),
            Some("is --url pointing at an OpenIntent server?".to_owned()),
            Exit::Other,
        ),
        Error::Api(api) => {
            let detail = api.message();
            match api.kind() {
                ApiErrorKind::Unauthorized => r(
                    format!("the server refused the API key (401 Unauthorized): {detail}"),
                    Some(
                        "pass a key the server accepts with --api-key or OPENINTENT_API_KEY \
                         (a development server accepts dev-user-key)"
                            .to_owned(),
                    ),
                    Exit::Unauthorized,
                ),
                ApiErrorKind::Forbidden { rule } => r(
                    match rule {
                        Some(rule) => format!("not allowed (403 Forbidden, rule {rule}): {detail}"),
                        None => format!("not allowed (403 Forbidden): {detail}"),
                    },
                    Some("this key or agent may not do that; check --api-key and --agent-id".to_owned()),
                    Exit::Unauthorized,
                ),
                ApiErrorKind::NotFound => r(
                    format!("not found (404): {detail}"),
                    Some("check the id; `openintent intents list` shows the intents".to_owned()),
                    Exit::NotFound,
                ),
                ApiErrorKind::VersionConflict { current_version } => r(
                    match current_version {
                        Some(v) => format!("version conflict (409): the intent is now at version {v}: {detail}"),
                        None => format!("conflict (409): {detail}"),
                    },
                    Some(
                        "someone changed it first; read it again with `openintent intents get <id>` and retry \
                         (omit --version to use the current version)"
                            .to_owned(),
                    ),
                    Exit::Conflict,
                ),
                ApiErrorKind::InvalidTransition(refused) => {
                    r(format!("status change refused (409): {detail}"), Some(transition_hint(refused)), Exit::Conflict)
                }
                ApiErrorKind::LeaseConflict { existing_lease } => r(
                    match existing_lease {
                        Some(l) => format!(
                            "lease conflict (409): scope {:?} is held by {} until {} (lease {})",
                            l.scope,
                            l.agent_id,
                            crate::output::time(&l.expires_at),
                            l.id
                        ),
                        None => format!("lease conflict (409): {detail}"),
                    },
                    Some("wait for the lease to be released or to expire, or use another scope".to_owned()),
                    Exit::Conflict,
                ),
                ApiErrorKind::Validation { .. } => {
                    r(format!("the server refused the input ({}): {detail}", api.status()), None, Exit::Usage)
                }
                ApiErrorKind::Unsupported => r(
                    format!("this server does not support {} {} ({})", api.method(), api.path(), api.status()),
                    Some("the server lacks this route; run a server that has it (e.g. `openintent serve`)".to_owned()),
                    Exit::Other,
                ),
                ApiErrorKind::RateLimited => r(
                    format!("rate limited (429): {detail}"),
                    Some("wait a moment and try again".to_owned()),
                    Exit::Other,
                ),
                _ => r(format!("the server answered {}: {detail}", api.status()), None, Exit::Other),
            }
        }
        other => r(other.to_string(), None, Exit::Other),
    }
}

/// What moves are allowed instead of a refused one (the server's list, else the protocol's
/// lifecycle table), and that retrying does not help.
fn transition_hint(refused: &TransitionRefused) -> String {
    let allowed = refused.allowed.clone().or_else(|| {
        refused.from.as_ref().map(|from| openintent_client::types::lifecycle::allowed_transitions(from).to_vec())
    });
    let from = refused.from.as_ref().map_or_else(|| "its current status".to_owned(), |f| f.to_string());
    let moves = match allowed {
        Some(list) if list.is_empty() => format!("{from} is final: no status change is allowed"),
        Some(list) => {
            let names: Vec<&str> = list.iter().map(|s| s.as_str()).collect();
            format!("from {from} the intent may move to: {}", names.join(", "))
        }
        None => "see `openintent intents get <id>` for the current status".to_owned(),
    };
    format!("{moves} (retrying the same change will not succeed)")
}

impl Report {
    /// Writes the report to stderr: plain text, or a JSON object `{"error": {...}}` with `json`.
    pub fn print(&self, json: bool) {
        if json {
            let body = json!({
                "error": {
                    "kind": self.exit.label(),
                    "exit_code": self.exit as u8,
                    "status": self.status,
                    "message": self.message,
                    "hint": self.hint,
                }
            });
            eprintln!("{body}");
        } else {
            eprintln!("error: {}", self.message);
            if let Some(hint) = &self.hint {
                eprintln!("  hint: {hint}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openintent_client::{ApiError, Method, Response};

    fn api(status: u16, body: &str, method: Method, path: &str) -> CliError {
        let resp = Response::new(status).with_json(body.to_owned());
        Error::Api(ApiError::from_response(method, path, &resp)).into()
    }

    #[test]
    fn statuses_map_to_exit_codes() {
        let cases = [
            (401, r#"{"detail":"Invalid API key"}"#, Exit::Unauthorized),
            (403, r#"{"detail":"no"}"#, Exit::Unauthorized),
            (404, r#"{"detail":"Intent not found"}"#, Exit::NotFound),
            (404, r#"{"detail":"Not Found"}"#, Exit::Other),
            (409, r#"{"detail":"Version conflict","current_version":4}"#, Exit::Conflict),
            (422, r#"{"detail":"bad"}"#, Exit::Usage),
            (500, r#"{"detail":"boom"}"#, Exit::Other),
        ];
        for (status, body, exit) in cases {
            let rep = api(status, body, Method::Get, "/api/v1/intents/x").report("http://h");
            assert_eq!(rep.exit, exit, "{status} {body}");
            assert_eq!(rep.status, Some(status));
        }
    }

    #[test]
    fn a_version_conflict_names_the_current_version() {
        let rep =
            api(409, r#"{"detail":"Version conflict","current_version":4}"#, Method::Post, "/api/v1/intents/x/state")
                .report("http://h");
        assert!(rep.message.contains("version 4"), "{}", rep.message);
        assert!(rep.hint.unwrap().contains("intents get"));
    }

    #[test]
    fn a_refused_transition_says_which_moves_are_allowed() {
        let path = "/api/v1/intents/x/status";
        let ours = r#"{"detail":"Invalid status transition: draft -> draft (allowed: active, completed, abandoned)",
            "error":"invalid_transition","from":"draft","to":"draft","allowed":["active","completed","abandoned"]}"#;
        let rep = api(409, ours, Method::Post, path).report("http://h");
        assert_eq!(rep.exit, Exit::Conflict);
        assert!(rep.message.starts_with("status change refused (409): Invalid status transition"), "{}", rep.message);
        let hint = rep.hint.unwrap();
        assert!(hint.contains("from draft the intent may move to: active, completed, abandoned"), "{hint}");
        assert!(!hint.contains("intents get <id>` and retry"), "{hint}");
        // A text-only body: the protocol's table fills in.
        let text = r#"{"detail":"Invalid status transition: blocked -> completed"}"#;
        let hint = api(409, text, Method::Post, path).report("http://h").hint.unwrap();
        assert!(hint.contains("from blocked the intent may move to: active, abandoned"), "{hint}");
        let terminal = r#"{"detail":"Invalid status transition: completed -> active (completed is terminal)"}"#;
        let hint = api(409, terminal, Method::Post, path).report("http://h").hint.unwrap();
        assert!(hint.contains("completed is final"), "{hint}");
    }

    #[test]
    fn a_refused_connection_names_the_url_and_what_to_do() {
        let e: CliError = Error::Transport(openintent_client::TransportError::connect("connection refused")).into();
        let rep = e.report("http://127.0.0.1:9");
        assert_eq!(rep.exit, Exit::Connection);
        assert!(rep.message.contains("http://127.0.0.1:9"));
        assert!(rep.hint.unwrap().contains("openintent serve"));
    }
}
