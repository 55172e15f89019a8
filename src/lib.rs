//! **openintent**: the Rust SDK for the OpenIntent Coordination Protocol, in one dependency.
//!
//! This crate re-exports the `openintent-client` crate (the async [`Client`] and, with the
//! default `blocking` feature, [`blocking::Client`]), the protocol models as [`types`]
//! (`openintent-types`) and the transport layer as [`transport`] (`openintent-transport`), so
//! `openintent::` paths reach everything an agent needs.
//!
//! ```no_run
//! use openintent::{Client, Error};
//!
//! # async fn demo() -> Result<(), Error> {
//! let client = Client::new("http://127.0.0.1:8000", "dev-user-key", "my-agent")?;
//! let intent = client.create_intent("Research market trends").send().await?;
//! client.set_status(&intent.id, intent.version, "completed").send().await?;
//! # Ok(())
//! # }
//! ```
//!
//! Read an intent's state with [`Intent::state_at`](types::Intent::state_at) (typed, by JSON
//! pointer, `None` when absent) rather than by indexing `intent.state`, which panics on a
//! missing key. Work under a lease with [`Client::with_lease`]: the closure gets the lease and
//! a client handle and returns `Result<T, Error>`.
//!
//! | You are writing | Depend on |
//! |---|---|
//! | an agent | `openintent` (or `openintent-client`) |
//! | a server, or anything that only needs the models | `openintent-types` |
//! | a custom transport or test double | `openintent-transport` (feature `test-util` for mocks), or `openintent` with `test-util` |
//! | a program that embeds a server | `openintent-server` |
//!
//! # Features
//!
//! | Feature | Default | What it adds |
//! |---|---|---|
//! | `blocking` | yes | `blocking::Client`, for programs without an async runtime |
//! | `test-util` | no | `transport::test_util`: `MockTransport`, `MockReply`, `FnTransport`, `NeverTransport` |
//!
//! # Testing an agent without a server
//!
//! With `openintent = { .., features = ["test-util"] }` in `[dev-dependencies]`, a client over a
//! `MockTransport` answers from a script and records what was sent:
//!
//! ```
//! use openintent::Client;
//! use openintent::transport::Method;
//! use openintent::transport::test_util::{MockReply, MockTransport};
//! use serde_json::json;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), openintent::Error> {
//! let mock = MockTransport::new();
//! mock.push_for(Method::Get, "/api/v1/intents/i-1", MockReply::json(200, json!({
//!     "id": "i-1", "title": "Book hotel", "status": "active", "version": 3,
//!     "state": {"nights": 2}
//! })));
//! let client = Client::from_transport(mock.clone(), "my-agent");
//!
//! let intent = client.get_intent("i-1").await?;
//! assert_eq!(intent.state_at::<u32>("/nights")?, Some(2));
//! assert_eq!(intent.state_at::<u32>("/rooms")?, None);
//! assert_eq!(mock.requests()[0].headers.get("x-agent-id"), Some("my-agent"));
//! mock.assert_all_used();
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

pub use openintent_client::*;

/// The transport layer (re-export of `openintent-transport`): [`Request`], [`Response`], the
/// [`Transport`] trait, retries,
/// Server-Sent Events and, with the `test-util` feature, the test transports of
/// `transport::test_util` (`MockTransport`, `MockReply`, `FnTransport`, `NeverTransport`).
#[doc(inline)]
pub use openintent_transport as transport;

/// The agent runtime (re-export of `openintent-agent`, feature `agent`): an agent built from
/// async handlers, with registration, heartbeats, a resumable agent stream, leases, retries
/// and drain. See `docs/agents.md`.
#[cfg(feature = "agent")]
#[doc(inline)]
pub use openintent_agent as agent;

/// The guides of `docs/` and the README, compiled (and, where no server is needed, run) as
/// doc tests, so that every Rust block in them stays correct.
#[cfg(doctest)]
pub mod guides {
    #[doc = include_str!("../README.md")]
    pub struct Readme;
    #[doc = include_str!("../docs/intents.md")]
    pub struct IntentsGuide;
    #[doc = include_str!("../docs/events.md")]
    pub struct EventsGuide;
    #[doc = include_str!("../docs/leases.md")]
    pub struct LeasesGuide;
    #[doc = include_str!("../docs/agents.md")]
    pub struct AgentsGuide;
    #[doc = include_str!("../docs/arbitration.md")]
    pub struct ArbitrationGuide;
    #[doc = include_str!("../docs/governance.md")]
    pub struct GovernanceGuide;
    #[doc = include_str!("../docs/hitl.md")]
    pub struct HitlGuide;
    #[doc = include_str!("../docs/attachments.md")]
    pub struct AttachmentsGuide;
    #[doc = include_str!("../docs/subscriptions.md")]
    pub struct SubscriptionsGuide;
    #[doc = include_str!("../docs/costs.md")]
    pub struct CostsGuide;
    #[doc = include_str!("../docs/retries.md")]
    pub struct RetriesGuide;
    #[doc = include_str!("../docs/portfolios.md")]
    pub struct PortfoliosGuide;
    #[doc = include_str!("../docs/registry.md")]
    pub struct RegistryGuide;
    #[doc = include_str!("../docs/graphs.md")]
    pub struct GraphsGuide;
    #[doc = include_str!("../docs/access-control.md")]
    pub struct AccessControlGuide;
    #[doc = include_str!("../docs/channels.md")]
    pub struct ChannelsGuide;
    #[doc = include_str!("../docs/tracing.md")]
    pub struct TracingGuide;
    #[doc = include_str!("../docs/testing.md")]
    pub struct TestingGuide;
    #[doc = include_str!("../docs/README.md")]
    pub struct DocsIndex;
}
