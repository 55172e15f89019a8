//! Async and blocking client for the OpenIntent Coordination Protocol.
#![warn(missing_docs)]

mod client;
mod error;

pub mod attachments;
pub mod costs;
pub mod discovery;
pub mod events;
pub mod governance;
pub mod intents;
pub mod leases;
pub mod portfolios;
pub mod retry_policies;
pub mod subscriptions;

#[cfg(feature = "blocking")]
pub mod blocking;

pub use client::{Client, ClientBuilder, DEFAULT_CONFLICT_ATTEMPTS, ENV_AGENT_ID, ENV_API_KEY, ENV_URL};
pub use error::{ApiError, ApiErrorKind, ConfigError, DecodeError, Error, Result};
pub use intents::{Page, PageStream};
pub use openintent_transport::sse::ReconnectConfig;
pub use openintent_transport::{RetryConfig, RetryMode};
pub use subscriptions::EventStream;
