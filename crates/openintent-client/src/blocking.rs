//! The blocking client (feature `blocking`), for programs without an async runtime.
//!
//! ```no_run
//! use openintent_client::blocking::Client;
//! use serde_json::json;
//!
//! fn main() -> openintent_client::Result<()> {
//!     let client = Client::from_builder(
//!         openintent_client::Client::builder()
//!             .base_url("http://localhost:8000")
//!             .api_key("dev-user-key")
//!             .agent_id("my-agent"),
//!     )?;
//!     let intent = client.create_intent("Research market trends").description("Q4 data").send_blocking()?;
//!     let intent = client.update_state(&intent.id, intent.version).set("progress", json!(0.5)).send_blocking()?;
//!     {
//!         let lease = client.lease(&intent.id, "analysis")?;
//!         // ... exclusive work on the scope; released when `lease` goes out of scope.
//!     }
//!     client.set_status(&intent.id, intent.version, "completed").send_blocking()?;
//!     Ok(())
//! }
//! ```
//!
//! # Design
//!
//! The blocking client is the same [`GenericClient`] as the async [`crate::Client`], in the
//! [`Blocking`] mode; it is not a second implementation and forwards nothing:
//!
//! - Every operation is written once, for both modes, in its area module. Calls with only
//!   required arguments return the result ([`get_intent`](GenericClient::get_intent)); calls
//!   with optional arguments return the same builders as the async client, typed by the
//!   mode, and finish with `send_blocking()` instead of `.send().await`. So every option,
//!   default and validation rule exists once, and a new operation or setter reaches both
//!   clients at once.
//! - Which finisher a builder has is part of its type: a builder of the async client has no
//!   `send_blocking()`, and a builder of the blocking client has no `send()`.
//! - The [`Blocking`] mode owns a small multi-threaded tokio runtime (two worker threads); the
//!   async client has none. Calls run on that runtime while the calling thread waits on a
//!   channel, so a blocking call works from any thread: plain `fn main`, a thread of another
//!   runtime, or a `spawn_blocking` closure. (Calling `Runtime::block_on` from a runtime
//!   thread would panic; this never does.)
//! - Dropping the last clone shuts the runtime down in the background: it neither blocks nor
//!   panics, whether or not the drop happens inside another runtime.
//! - Do not make blocking calls from code that itself runs on the client's runtime (for
//!   example inside the closure of `update_state_with(..).send_blocking()`): that closure
//!   occupies one of the runtime's two workers while it waits.
//!
//! The blocking client has its own shapes where blocking code needs them: streams are
//! iterators ([`BlockingStream`], from [`Client::stream_intent_events`] and [`Client::iter`]),
//! and the seed's `with client.lease(...)` becomes [`Client::with_lease`] (a closure that gets
//! the lease and the client) or the RAII [`LeaseGuard`] of [`Client::lease`]; both release the
//! lease afterwards, also while unwinding from a panic.
//!
//! # Async or blocking, by type
//!
//! `send_blocking()` exists on the builders of the blocking client:
//!
//! ```no_run
//! fn create(client: openintent_client::blocking::Client) -> openintent_client::Result<()> {
//!     let intent = client.create_intent("Research").send_blocking()?;
//!     Ok(())
//! }
//! ```
//!
//! and not on those of the async client, where the same code does not compile:
//!
//! ```compile_fail,E0599
//! fn create(client: openintent_client::Client) -> openintent_client::Result<()> {
//!     let intent = client.create_intent("Research").send_blocking()?;
//!     Ok(())
//! }
//! ```
//!
//! Nor can a builder of the blocking client be awaited:
//!
//! ```compile_fail,E0599
//! async fn create(client: openintent_client::blocking::Client) -> openintent_client::Result<()> {
//!     let intent = client.create_intent("Research").send().await?;
//!     Ok(())
//! }
//! ```

use futures_core::Stream;
use openintent_transport::Transport;

use crate::client::{self, ClientBuilder, GenericClient};
use crate::error::Result;
pub use crate::leases::LeaseGuard;
pub use crate::mode::{Blocking, BlockingStream};

/// The blocking OpenIntent client: a [`GenericClient`] in the [`Blocking`] mode. Cheap to
/// clone; see the [module docs](self).
pub type Client = GenericClient<Blocking>;

impl GenericClient<Blocking> {
    /// A client for `base_url` over reqwest with the retry layer (see [`crate::Client::new`]).
    ///
    /// ```no_run
    /// let client = openintent_client::blocking::Client::new("http://localhost:8000", "dev-user-key", "my-agent")?;
    /// # Ok::<(), openintent_client::Error>(())
    /// ```
    #[cfg(feature = "reqwest")]
    pub fn new(base_url: impl Into<String>, api_key: impl Into<String>, agent_id: impl Into<String>) -> Result<Client> {
        Client::from_builder(ClientBuilder::default().base_url(base_url).api_key(api_key).agent_id(agent_id))
    }

    /// A client configured from `OPENINTENT_URL`, `OPENINTENT_API_KEY`, `OPENINTENT_AGENT_ID`.
    ///
    /// ```no_run
    /// let client = openintent_client::blocking::Client::from_env()?;
    /// # Ok::<(), openintent_client::Error>(())
    /// ```
    #[cfg(feature = "reqwest")]
    pub fn from_env() -> Result<Client> {
        Client::from_builder(ClientBuilder::default().from_env()?)
    }

    /// A client from a fully configured [`ClientBuilder`].
    ///
    /// ```no_run
    /// let client = openintent_client::blocking::Client::from_builder(
    ///     openintent_client::Client::builder()
    ///         .base_url("http://localhost:8000")
    ///         .api_key("dev-user-key")
    ///         .agent_id("my-agent")
    ///         .no_retry(),
    /// )?;
    /// # Ok::<(), openintent_client::Error>(())
    /// ```
    pub fn from_builder(builder: ClientBuilder) -> Result<Client> {
        let mode = Blocking::new()?;
        // The transport is made inside the runtime it will run on.
        let client = {
            let _guard = mode.enter();
            builder.build()?
        };
        Ok(client.into_mode(mode))
    }

    /// A client over any transport, used as given (see [`crate::Client::from_transport`]).
    ///
    /// ```
    /// use openintent_transport::test_util::MockTransport;
    /// let client = openintent_client::blocking::Client::from_transport(MockTransport::new(), "my-agent")?;
    /// assert_eq!(client.agent_id(), "my-agent");
    /// # Ok::<(), openintent_client::Error>(())
    /// ```
    pub fn from_transport(transport: impl Transport, agent_id: impl Into<String>) -> Result<Client> {
        Ok(client::Client::from_transport(transport, agent_id).into_mode(Blocking::new()?))
    }

    /// The async client underneath (sharing transport and settings), e.g. to hand to async
    /// code; the same as [`as_async`](GenericClient::as_async).
    ///
    /// ```no_run
    /// # fn run(client: openintent_client::blocking::Client) -> openintent_client::Result<()> {
    /// let async_client: openintent_client::Client = client.async_client();
    /// let read_back = async move { async_client.get_intent("7f1c…").await };
    /// # drop(read_back);
    /// # Ok(()) }
    /// ```
    pub fn async_client(&self) -> client::Client {
        self.as_async()
    }

    /// Iterates over any stream of the async API (e.g. [`ListIntents::into_stream`] or an
    /// event stream), driving it on the client's runtime.
    ///
    /// [`ListIntents::into_stream`]: crate::intents::ListIntents::into_stream
    ///
    /// ```no_run
    /// # fn run(client: openintent_client::blocking::Client) -> openintent_client::Result<()> {
    /// for intent in client.iter(client.list_intents().into_stream()) {
    ///     println!("{}", intent?.title);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn iter<S>(&self, stream: S) -> BlockingStream<S::Item>
    where
        S: Stream + Send + 'static,
        S::Item: Send + 'static,
    {
        self.mode.iter(stream)
    }
}
