//! How a client runs its calls: [`Async`] (futures, awaited by the caller) or, with the
//! `blocking` feature, [`Blocking`] (on a runtime the client owns, the caller waits).
//!
//! Every client is a [`GenericClient<M>`](crate::GenericClient) of one mode:
//! [`Client`](crate::Client) is `GenericClient<Async>`, [`blocking::Client`](crate::blocking::Client)
//! is `GenericClient<Blocking>`. The area modules write each operation once, for every mode,
//! and the mode decides only how the finished call is driven:
//!
//! | Call | [`Async`] | [`Blocking`] |
//! |---|---|---|
//! | required values only, e.g. `get_intent(id)` | a future of `Result<T>` ([`Mode::Call`]) | `Result<T>` |
//! | with a builder, e.g. `create_intent(title)` | `.send().await` (or `.await`) | `.send_blocking()` |
//!
//! A builder made by the async client has no `send_blocking()`, and one made by the blocking
//! client has no `send()`: using the wrong one is a compile error, not a run-time one.

use std::fmt;
use std::future::Future;

use futures_util::future::BoxFuture;

use crate::error::Result;

mod sealed {
    pub trait Sealed {}
}

/// How a client runs its calls; implemented by [`Async`] and [`Blocking`] only.
///
/// ```
/// use openintent_client::{Async, Client, GenericClient, Mode};
/// use openintent_transport::test_util::MockTransport;
///
/// // Code that works with either client takes a `GenericClient<M>`.
/// fn agent_of<M: Mode>(client: &GenericClient<M>) -> &str {
///     client.agent_id()
/// }
/// let client: GenericClient<Async> = Client::from_transport(MockTransport::new(), "my-agent");
/// assert_eq!(agent_of(&client), "my-agent");
/// ```
pub trait Mode: sealed::Sealed + Clone + fmt::Debug + Send + Sync + 'static {
    /// What a call with only required values returns: with [`Async`] a future of
    /// `Result<T>` (await it), with [`Blocking`] the `Result<T>` itself.
    type Call<T: Send + 'static>;

    /// Drives `fut` as this mode does.
    #[doc(hidden)]
    fn call<T: Send + 'static>(&self, fut: impl Future<Output = Result<T>> + Send + 'static) -> Self::Call<T>;
}

/// The async mode of [`Client`](crate::Client): calls are futures, run on the caller's runtime.
///
/// Example: [`Mode`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Async;

impl sealed::Sealed for Async {}

impl Mode for Async {
    type Call<T: Send + 'static> = BoxFuture<'static, Result<T>>;

    fn call<T: Send + 'static>(&self, fut: impl Future<Output = Result<T>> + Send + 'static) -> Self::Call<T> {
        Box::pin(fut)
    }
}

/// Aborts a background task when dropped.
pub(crate) struct AbortOnDrop(pub(crate) tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl fmt::Debug for AbortOnDrop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AbortOnDrop")
    }
}

/// Writes the finishers of a builder whose `async fn run(self) -> Result<T>` is generic over
/// the mode and which holds its client in a `client` field: `send()` and `IntoFuture` on the
/// async builder, `send_blocking()` on the blocking one (feature `blocking`).
macro_rules! impl_send {
    ($builder:ident, $out:ty, $example:literal) => {
        $crate::mode::impl_send!($builder, $out, $example, "Sends the call.");
    };
    ($builder:ident, $out:ty, $example:literal, $doc:literal) => {
        impl $builder<$crate::mode::Async> {
            #[doc = $doc]
            ///
            #[doc = concat!("Example: [`Client::", $example, "`](crate::Client::", $example, ").")]
            pub async fn send(self) -> $crate::Result<$out> {
                self.run().await
            }
        }

        impl ::std::future::IntoFuture for $builder<$crate::mode::Async> {
            type Output = $crate::Result<$out>;
            type IntoFuture = ::futures_util::future::BoxFuture<'static, $crate::Result<$out>>;
            fn into_future(self) -> Self::IntoFuture {
                Box::pin(self.run())
            }
        }

        #[cfg(feature = "blocking")]
        impl $builder<$crate::mode::Blocking> {
            #[doc = $doc]
            /// Waits for the answer on the blocking client's runtime.
            ///
            #[doc = concat!("Example: [`blocking::Client::", $example, "`](crate::blocking::Client::", $example, ").")]
            pub fn send_blocking(self) -> $crate::Result<$out> {
                let mode = self.client.mode.clone();
                $crate::mode::Mode::call(&mode, self.run())
            }
        }
    };
}
pub(crate) use impl_send;

#[cfg(feature = "blocking")]
pub use self::blocking::{Blocking, BlockingStream};

#[cfg(feature = "blocking")]
mod blocking {
    use std::future::Future;
    use std::panic::AssertUnwindSafe;
    use std::sync::Arc;
    use std::time::Duration;

    use futures_core::Stream;
    use futures_util::{FutureExt, StreamExt};

    use super::{AbortOnDrop, Mode, sealed};
    use crate::error::{ConfigError, Result};

    /// The blocking mode of [`blocking::Client`](crate::blocking::Client): calls run on a
    /// small tokio runtime the client owns while the calling thread waits.
    ///
    /// Example: [`blocking::Client`](crate::blocking::Client).
    #[derive(Debug, Clone)]
    pub struct Blocking {
        rt: Arc<OwnedRuntime>,
    }

    impl sealed::Sealed for Blocking {}

    impl Mode for Blocking {
        type Call<T: Send + 'static> = Result<T>;

        fn call<T: Send + 'static>(&self, fut: impl Future<Output = Result<T>> + Send + 'static) -> Result<T> {
            self.rt.run(fut)?
        }
    }

    impl Blocking {
        /// Starts the runtime (two worker threads).
        pub(crate) fn new() -> Result<Blocking> {
            Ok(Blocking { rt: Arc::new(OwnedRuntime::new()?) })
        }

        /// Enters the runtime, so that code which needs one (starting reqwest, `tokio::spawn`)
        /// finds it.
        pub(crate) fn enter(&self) -> Option<tokio::runtime::EnterGuard<'_>> {
            self.rt.rt.as_ref().map(tokio::runtime::Runtime::enter)
        }

        /// Runs `fut` on the runtime in the background until the handle is dropped.
        pub(crate) fn spawn<F>(&self, fut: F) -> Result<AbortOnDrop>
        where
            F: Future<Output = ()> + Send + 'static,
        {
            Ok(AbortOnDrop(self.rt.handle()?.spawn(fut)))
        }

        /// Drives `stream` on the runtime; its items arrive through the returned iterator.
        pub(crate) fn iter<S>(&self, stream: S) -> BlockingStream<S::Item>
        where
            S: Stream + Send + 'static,
            S::Item: Send + 'static,
        {
            let (tx, rx) = std::sync::mpsc::channel();
            let task = self.spawn(async move {
                let mut stream = std::pin::pin!(stream);
                while let Some(item) = stream.next().await {
                    if tx.send(item).is_err() {
                        break;
                    }
                }
            });
            BlockingStream { rx, _task: task.ok() }
        }
    }

    /// A tokio runtime owned by blocking clients; shut down in the background when the last
    /// clone goes away, so dropping never blocks and never panics, inside a runtime or not.
    struct OwnedRuntime {
        rt: Option<tokio::runtime::Runtime>,
    }

    impl std::fmt::Debug for OwnedRuntime {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("OwnedRuntime").field("running", &self.rt.is_some()).finish()
        }
    }

    impl OwnedRuntime {
        fn new() -> Result<OwnedRuntime> {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("openintent-blocking")
                .enable_all()
                .build()
                .map_err(|e| ConfigError::new(format!("could not start the blocking client's runtime: {e}")))?;
            Ok(OwnedRuntime { rt: Some(rt) })
        }

        fn handle(&self) -> Result<&tokio::runtime::Runtime> {
            self.rt.as_ref().ok_or_else(|| ConfigError::new("the blocking client's runtime has shut down").into())
        }

        /// Runs `fut` on the runtime and waits for it on the calling thread. A panic in the
        /// future resumes on the caller.
        fn run<F>(&self, fut: F) -> Result<F::Output>
        where
            F: Future + Send + 'static,
            F::Output: Send + 'static,
        {
            let (tx, rx) = std::sync::mpsc::sync_channel(1);
            self.handle()?.spawn(async move {
                let out = AssertUnwindSafe(fut).catch_unwind().await;
                let _ = tx.send(out);
            });
            match rx.recv() {
                Ok(Ok(v)) => Ok(v),
                Ok(Err(panic)) => std::panic::resume_unwind(panic),
                Err(_) => Err(ConfigError::new("the blocking client's runtime stopped during a call").into()),
            }
        }
    }

    impl Drop for OwnedRuntime {
        fn drop(&mut self) {
            if let Some(rt) = self.rt.take() {
                rt.shutdown_background();
            }
        }
    }

    /// An iterator over a stream driven on the blocking client's runtime, from
    /// [`blocking::Client::stream_intent_events`](crate::blocking::Client::stream_intent_events)
    /// and the other streams (example there) or [`blocking::Client::iter`](crate::blocking::Client::iter).
    /// Dropping it stops the stream.
    pub struct BlockingStream<T> {
        rx: std::sync::mpsc::Receiver<T>,
        _task: Option<AbortOnDrop>,
    }

    impl<T> std::fmt::Debug for BlockingStream<T> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("BlockingStream").finish_non_exhaustive()
        }
    }

    impl<T> BlockingStream<T> {
        /// The next item, waiting at most `timeout`; `None` when nothing arrived in time or the
        /// stream ended.
        ///
        /// Example: [`blocking::Client::stream_intent_events`](crate::blocking::Client::stream_intent_events).
        pub fn next_timeout(&mut self, timeout: Duration) -> Option<T> {
            self.rx.recv_timeout(timeout).ok()
        }
    }

    impl<T> Iterator for BlockingStream<T> {
        type Item = T;
        fn next(&mut self) -> Option<T> {
            self.rx.recv().ok()
        }
    }
}
