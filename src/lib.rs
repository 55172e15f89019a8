//! **openintent**: the Rust SDK for the OpenIntent Coordination Protocol, in one dependency.
//!
//! This crate re-exports [`openintent_client`] (the async [`Client`] and, with the default
//! `blocking` feature, [`blocking::Client`]), the protocol models as [`types`]
//! ([`openintent_types`]) and the transport layer as [`transport`] ([`openintent_transport`]).
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
//! | You are writing | Depend on |
//! |---|---|
//! | an agent | `openintent` (or `openintent-client`) |
//! | a server, or anything that only needs the models | `openintent-types` |
//! | a custom transport or test double | `openintent-transport` (feature `test-util` for mocks) |
//! | a program that embeds a server | `openintent-server` |
#![warn(missing_docs)]

pub use openintent_client::*;

/// The transport layer (re-export of `openintent-transport`).
pub use openintent_transport as transport;

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
    #[doc = include_str!("../docs/governance.md")]
    pub struct GovernanceGuide;
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
    #[doc = include_str!("../docs/testing.md")]
    pub struct TestingGuide;
    #[doc = include_str!("../docs/README.md")]
    pub struct DocsIndex;
}
