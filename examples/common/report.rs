//! How an example ends: a failure is one readable line on stderr and a non-zero exit code,
//! instead of the `Debug` dump `main() -> Result` prints.

use std::error::Error as StdError;
use std::process::ExitCode;

use openintent::transport::TransportError;

/// The exit code of an example whose body ended with `result`, after printing a failure as
/// `error: ...` (naming the server of `OPENINTENT_URL` when it could not be reached).
pub fn exit(result: Result<(), impl Failure>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let url = std::env::var(openintent::ENV_URL).ok().filter(|u| !u.trim().is_empty());
            eprintln!("error: {}", describe(e.as_error(), url.as_deref()));
            ExitCode::FAILURE
        }
    }
}

/// The boxed errors an example's body ends with.
pub trait Failure {
    /// The error itself.
    fn as_error(&self) -> &(dyn StdError + 'static);
}

impl Failure for Box<dyn StdError> {
    fn as_error(&self) -> &(dyn StdError + 'static) {
        &**self
    }
}

impl Failure for Box<dyn StdError + Send + Sync> {
    fn as_error(&self) -> &(dyn StdError + 'static) {
        &**self
    }
}

/// One line about `error`: for a connection that failed, `cannot reach the server at URL:
/// CAUSE` (`url`, else the URL the client tried); otherwise the error and the causes its text
/// does not already give.
pub fn describe(error: &(dyn StdError + 'static), url: Option<&str>) -> String {
    if let Some(t) = transport_error(error).filter(|t| t.is_connect()) {
        let cause = root_cause(t).unwrap_or_else(|| t.message().to_owned());
        return match url {
            Some(url) => format!("cannot reach the server at {url}: {cause}"),
            None => format!("cannot reach the server: {}: {cause}", t.message()),
        };
    }
    let mut line = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !line.contains(&text) {
            line = format!("{line}: {text}");
        }
        source = s.source();
    }
    line
}

/// The transport error behind `error`, if any.
fn transport_error<'a>(error: &'a (dyn StdError + 'static)) -> Option<&'a TransportError> {
    match error.downcast_ref::<openintent::Error>() {
        Some(openintent::Error::Transport(t)) => Some(t),
        _ => error.downcast_ref::<TransportError>(),
    }
}

/// Why the connection failed, in a few words: the operating system's reason (`connection
/// refused`), else the innermost cause.
fn root_cause(t: &TransportError) -> Option<String> {
    let mut innermost = None;
    let mut source = t.source();
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            // An OS error by its kind ("connection refused", without "(os error 111)").
            return Some(if io.raw_os_error().is_some() { io.kind().to_string() } else { io.to_string() });
        }
        innermost = Some(s.to_string());
        source = s.source();
    }
    innermost
}
