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
