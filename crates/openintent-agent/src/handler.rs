//! Handlers: async closures or an [`AgentHandlers`] impl.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::ctx::Ctx;

/// The error a handler returns: anything that converts into a boxed error (so `?` works on
/// client calls, I/O, parsing...). Return a [`Failure`] to name the error type that the
/// intent's retry policy matches (`retryable_errors`).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What a handler returns.
pub type HandlerResult = Result<(), BoxError>;

/// A boxed handler future.
pub(crate) type BoxFuture = Pin<Box<dyn Future<Output = HandlerResult> + Send + 'static>>;

/// A type-erased handler.
pub(crate) type Handler = Arc<dyn Fn(Ctx) -> BoxFuture + Send + Sync + 'static>;

/// Boxes a closure returning a future.
pub(crate) fn boxed<F, Fut>(f: F) -> Handler
where
    F: Fn(Ctx) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = HandlerResult> + Send + 'static,
{
    Arc::new(move |ctx| Box::pin(f(ctx)))
}

/// A handler failure with an error type, recorded as the RFC-0010 failure's `error_type` and
/// matched against the retry policy's `retryable_errors`.
///
/// ```
/// use openintent_agent::Failure;
/// let err = Failure::new("upstream_timeout", "the model did not answer in 30 s");
/// assert_eq!(err.error_type(), "upstream_timeout");
/// assert_eq!(err.to_string(), "upstream_timeout: the model did not answer in 30 s");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    error_type: String,
    message: String,
}

impl Failure {
    /// A failure of this type with this message.
    pub fn new(error_type: impl Into<String>, message: impl Into<String>) -> Self {
        Failure { error_type: error_type.into(), message: message.into() }
    }

    /// The error type.
    pub fn error_type(&self) -> &str {
        &self.error_type
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error_type, self.message)
    }
}

impl std::error::Error for Failure {}

/// The error type recorded for a handler error: a [`Failure`]'s own, `client_error` for a
/// client error, else `handler_error`.
pub(crate) fn error_type_of(err: &BoxError) -> String {
    if let Some(f) = err.downcast_ref::<Failure>() {
        f.error_type.clone()
    } else if err.downcast_ref::<openintent_client::Error>().is_some() {
        "client_error".to_owned()
    } else {
        "handler_error".to_owned()
    }
}

/// An agent's handlers as a trait impl, the alternative to closures
/// ([`AgentBuilder::handlers`](crate::AgentBuilder::handlers)). Every method has a default that
/// does nothing.
///
/// ```
/// use openintent_agent::{AgentHandlers, Ctx, HandlerResult};
///
/// struct Summarizer;
///
/// impl AgentHandlers for Summarizer {
///     async fn on_assignment(&self, ctx: Ctx) -> HandlerResult {
///         ctx.set_state("summary", "done").await?;
///         ctx.complete().await?;
///         Ok(())
///     }
/// }
/// ```
pub trait AgentHandlers: Send + Sync + 'static {
    /// The agent was assigned to an intent: do its work.
    fn on_assignment(&self, ctx: Ctx) -> impl Future<Output = HandlerResult> + Send {
        let _ = ctx;
        async { Ok(()) }
    }

    /// The agent is draining: called once, before it waits for running work.
    fn on_drain(&self) -> impl Future<Output = ()> + Send {
        async {}
    }
}
