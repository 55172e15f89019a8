//! Async and blocking client for the **OpenIntent Coordination Protocol**: intents with
//! versioned state, the event log, scope leases, arbitration and decisions, attachments,
//! subscriptions and live event streams, costs, retry policies and portfolios.
//!
//! Everything the Python SDK's README shows can be done here, with the same method names.
//!
//! # Quick start
//!
//! ```no_run
//! use openintent_client::{Client, Error};
//! use serde_json::json;
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Error> {
//!     // Or Client::new(url, key, agent) / Client::from_env() with the default `reqwest` feature.
//!     let client = Client::builder()
//!         .base_url("http://localhost:8000")
//!         .api_key("dev-user-key")
//!         .agent_id("my-agent")
//!         .build()?;
//!
//!     // Create an intent (optional values through the builder).
//!     let intent = client
//!         .create_intent("Research market trends")
//!         .description("Analyze Q4 market data and identify patterns")
//!         .constraints(json!({"deadline": "2024-02-01"}))
//!         .send()
//!         .await?;
//!
//!     // Update state with optimistic concurrency: the version is sent as `If-Match`.
//!     let intent = client
//!         .update_state(&intent.id, intent.version)
//!         .set("progress", 0.5)
//!         .set("current_phase", "analysis")
//!         .send()
//!         .await?;
//!     // Read state by JSON pointer: absent is `None`, never a panic.
//!     let progress: Option<f64> = intent.state_at("/progress")?;
//!
//!     // Hold a lease on a scope while working; released afterwards, even on error or panic.
//!     client
//!         .with_lease(&intent.id, "analysis", |lease, client| async move {
//!             client.log_event(&lease.intent_id, "comment").payload(json!({"message": "analysing"})).send().await?;
//!             Ok(())
//!         })
//!         .duration_seconds(300)
//!         .send()
//!         .await?;
//!
//!     // Mark complete.
//!     client.set_status(&intent.id, intent.version, "completed").send().await?;
//!     Ok(())
//! }
//! ```
//!
//! Without an async runtime, use [`blocking::Client`] (feature `blocking`): the same calls,
//! finished with `send_blocking()` instead of `.send().await`, and a lease guard that releases
//! on drop. Both are a [`GenericClient`], in the [`Async`] or the `Blocking` [`Mode`]: every
//! operation is written once for both, and which finisher a builder has is part of its type,
//! so `send_blocking()` on a builder of the async client does not compile.
//!
//! # Calls
//!
//! - Required values are method arguments; optional values are builder setters taking
//!   `impl Into<T>`; `.send().await` ends the call. Builders also implement `IntoFuture`, so
//!   a call with only required values can be awaited directly:
//!   `client.create_intent("Book hotel").await?`.
//! - Calls with nothing optional return a future ([`Mode::Call`]): `client.get_intent(&id).await?`
//!   (on the blocking client, the result itself).
//! - Input is validated before anything is sent ([`Error::Invalid`] names the field).
//! - Every request carries `X-Agent-ID: <agent id>` and, when a key is set, `X-API-Key`.
//!   Identity fields the wire needs (`actor`, `created_by`, `requested_by`, `decided_by`,
//!   cost/failure `agent_id`, `subscriber_id`) default to the agent id.
//! - `If-Match` (a bare integer) is sent by `update_state` and `set_status` only.
//! - Lists accept bare arrays and envelopes; absent optional fields are omitted, never
//!   sent as `null`.
//! - Escape hatches: [`Client::send_raw`] and [`Client::request_json`].
//!
//! # RFC → module
//!
//! | Area | Module |
//! |---|---|
//! | RFC-0001 intents, state, status, agents | [`intents`] |
//! | RFC-0002 event log | [`events`] |
//! | RFC-0003 leases | [`leases`] |
//! | RFC-0003/0004 arbitration and decisions | [`arbitration`] |
//! | RFC-0013 governance policies, approvals, escalations | [`governance`] |
//! | RFC-0025/0026 human-in-the-loop suspension | [`hitl`] |
//! | The human inbox: everything waiting for a person | [`inbox`] |
//! | RFC-0005 attachments | [`attachments`] |
//! | RFC-0006 subscriptions and event streams | [`subscriptions`] |
//! | RFC-0009 costs | [`costs`] |
//! | RFC-0011 access control | [`acl`] |
//! | RFC-0021 channels and messages | [`channels`] |
//! | RFC-0010 retry policies and failures | [`retry_policies`] |
//! | Intent graphs (agent platform RFC-0002): children, dependencies, readiness | [`graph`] |
//! | Agent registry (agent platform RFC-0016): register, heartbeat, drain | [`registry`] |
//! | Portfolios | [`portfolios`] |
//! | Discovery | [`discovery`] |
//! | Errors | [`error`] |
//! | Async or blocking: [`GenericClient`], [`Mode`] | [`Client`], [`blocking`] |
//!
//! # Seed method → Rust method
//!
//! | Python (`OpenIntentClient`) | Rust ([`Client`]) |
//! |---|---|
//! | `create_intent(title, description=, constraints=)` | [`create_intent(title)`](Client::create_intent)`.description(..).constraints(..)` |
//! | `get_intent(id)` | [`get_intent(id)`](Client::get_intent) |
//! | `list_intents(status=, limit=, offset=)` | [`list_intents()`](Client::list_intents)`.status(..).limit(..)`, `.into_stream()` for all pages |
//! | `update_state(id, version, {...})` | [`update_state(id, version)`](Client::update_state)`.set(key, v)` / `.set_path("/a/b", v)` / `.merge(json!({...}))` |
//! | `set_status(id, version, status)` | [`set_status(id, version, status)`](Client::set_status) |
//! | `assign_agent(id, agent_id=)` | [`assign_agent(id)`](Client::assign_agent)`.agent_id(..)` |
//! | `unassign_agent(id, agent_id)` | [`unassign_agent(id, agent_id)`](Client::unassign_agent) |
//! | `log_event(id, event_type, payload)` | [`log_event(id, event_type)`](Client::log_event)`.payload(..)` |
//! | `get_events(id)` | [`get_events(id)`](Client::get_events)`.event_type(..).since(..).limit(..)` |
//! | `acquire_lease(id, scope, duration_seconds=)` | [`acquire_lease(id, scope)`](Client::acquire_lease)`.duration_seconds(..)` |
//! | `release_lease(id, lease_id)` | [`release_lease(id, lease_id)`](Client::release_lease) |
//! | `renew_lease(id, lease_id, duration_seconds=)` | [`renew_lease(id, lease_id)`](Client::renew_lease)`.duration_seconds(..)` |
//! | `get_leases(id)` | [`get_leases(id)`](Client::get_leases) (`.all()` for released/expired too) |
//! | `with client.lease(id, scope):` | [`with_lease(id, scope, \|lease, client\| async move { .. })`](Client::with_lease); blocking: [`with_lease`](blocking::Client::with_lease) or the [`lease(id, scope)`](blocking::Client::lease) guard |
//! | `request_arbitration(id, reason)` | [`request_arbitration(id, reason)`](Client::request_arbitration) |
//! | `record_decision(id, decision, rationale)` | [`record_decision(id, decision)`](Client::record_decision)`.rationale(..)` |
//! | `get_decisions(id)` | [`get_decisions(id)`](Client::get_decisions) |
//! | `add_attachment(id, filename, content_type, content_base64, description)` | [`add_attachment(id, filename, content_type, content_base64)`](Client::add_attachment)`.description(..)` |
//! | `get_attachments(id)` / `delete_attachment(id, aid)` | [`get_attachments`](Client::get_attachments) / [`delete_attachment`](Client::delete_attachment) |
//! | `subscribe(id, subscriber_id, callback_url, event_types)` | [`subscribe(id)`](Client::subscribe)`.subscriber_id(..).callback_url(..).event_types(..)` |
//! | `get_subscriptions(id)` / `unsubscribe(id, sid)` | [`get_subscriptions`](Client::get_subscriptions) / [`unsubscribe`](Client::unsubscribe) |
//! | (SSE helpers) | [`stream_intent_events`](Client::stream_intent_events), [`stream_portfolio_events`](Client::stream_portfolio_events), [`stream_agent_events`](Client::stream_agent_events) |
//! | `record_cost(id, cost_type, amount, unit, provider=, metadata=)` | [`record_cost(id, cost_type, amount, unit)`](Client::record_cost)`.provider(..).metadata(..)` |
//! | `get_costs(id)` / `get_cost_summary(id)` | [`get_costs`](Client::get_costs) / [`get_cost_summary`](Client::get_cost_summary) |
//! | `set_retry_policy(id, max_attempts=, base_delay_seconds=, ...)` | [`set_retry_policy(id)`](Client::set_retry_policy)`.max_attempts(..)...`; wire form: [`set_retry_policy_wire`](Client::set_retry_policy_wire) |
//! | `get_retry_policy(id)` | [`get_retry_policy(id)`](Client::get_retry_policy) → `Option` |
//! | `record_failure(id, error_type, error_message, attempt=, will_retry=)` | [`record_failure(id, error_type, error_message)`](Client::record_failure)`.attempt(..).will_retry(..)` |
//! | `get_failures(id)` | [`get_failures(id)`](Client::get_failures) |
//! | `create_portfolio(name, description=, governance_policy=)` | [`create_portfolio(name)`](Client::create_portfolio)`.description(..).governance_policy(..)` |
//! | `get_portfolio(id)` | [`get_portfolio(id)`](Client::get_portfolio) (with aggregate status) |
//! | `list_portfolios()` / `update_portfolio_status(id, status)` | [`list_portfolios`](Client::list_portfolios) / [`update_portfolio_status`](Client::update_portfolio_status) |
//! | `add_intent_to_portfolio(pid, iid, role=, priority=)` | [`add_intent_to_portfolio(pid, iid)`](Client::add_intent_to_portfolio)`.role(..).priority(..)` |
//! | `remove_intent_from_portfolio`, `get_portfolio_intents`, `get_intent_portfolios` | same names on [`Client`] |
//! | `discover()` | [`discover()`](Client::discover) |
//! | — | [`update_state_with(id, closure)`](Client::update_state_with): read, patch, retry on 409 |
//!
//! Python exceptions map to [`Error`] helpers: `NotFoundError` → [`Error::is_not_found`],
//! `ConflictError` → [`Error::is_version_conflict`], `LeaseConflictError` →
//! [`Error::is_lease_conflict`], `AuthenticationError` → [`Error::is_unauthorized`],
//! `RateLimitError` → [`Error::is_rate_limited`], `ValidationError` / `InputValidationError` →
//! [`Error::is_validation`], and a route the server lacks → [`Error::is_unsupported`].
//!
//! # Features
//!
//! | Feature | Default | What it adds |
//! |---|---|---|
//! | `reqwest` | yes | [`Client::new`], [`Client::from_env`] and the builder's reqwest transport (rustls) |
//! | `native-tls` | no | the reqwest transport with the platform TLS library |
//! | `blocking` | no | [`blocking::Client`], which owns its own runtime |
//!
//! Without `reqwest`, bring a transport: [`Client::from_transport`] or
//! [`ClientBuilder::transport`]. Tests can use `openintent_transport::test_util::MockTransport`.
//!
//! # Where retries happen
//!
//! - **HTTP retries** live in the transport's retry layer ([`RetryConfig`], wrapped around the
//!   transport by [`Client::new`], [`Client::from_env`] and [`ClientBuilder::build`];
//!   [`Client::from_transport`] adds none). It retries connection failures always (nothing was
//!   sent), and 429/502/503/504 and timeouts only for requests that are safe to repeat: `GET`,
//!   `PUT`, `DELETE` and requests with `If-Match` (a repeated state write cannot apply twice).
//!   `Retry-After` wins over the jittered exponential backoff (capped).
//! - **Version conflicts** are not retried blindly: [`Client::update_state_with`] re-reads the
//!   intent and recomputes the patches, a bounded number of times. A refused status transition
//!   ([`Error::is_invalid_transition`]) is a 409 too, but never a version conflict: nothing
//!   retries it.
//! - **Event streams** reconnect on their own ([`ReconnectConfig`]) and resume with
//!   `Last-Event-ID`.
//! - **Lease renewal** in the background is opt-in ([`leases::WithLease::auto_renew`],
//!   [`blocking::LeaseGuard::auto_renew`]).
//! - Retry *policies* of intents ([`retry_policies`]) are protocol data for agents; the client
//!   does not act on them.
#![warn(missing_docs)]
// The docs link to the blocking client, which exists only with its feature.
#![cfg_attr(not(feature = "blocking"), allow(rustdoc::broken_intra_doc_links))]

mod client;
pub mod error;
mod mode;

pub mod acl;
pub mod arbitration;
pub mod attachments;
pub mod channels;
pub mod coordinators;
pub mod costs;
pub mod discovery;
pub mod events;
pub mod governance;
pub mod graph;
pub mod hitl;
pub mod inbox;
pub mod intents;
pub mod leases;
pub mod portfolios;
pub mod registry;
pub mod retry_policies;
pub mod subscriptions;

#[cfg(feature = "blocking")]
pub mod blocking;

pub use client::{
    CallOptions, Client, ClientBuilder, DEFAULT_CONFLICT_ATTEMPTS, ENV_AGENT_ID, ENV_API_KEY, ENV_URL, GenericClient,
};
pub use error::{ApiError, ApiErrorKind, ConfigError, DecodeError, Error, Result, TransitionRefused};
pub use intents::{Page, PageStream};
pub use mode::{Async, Mode};
pub use openintent_transport::sse::ReconnectConfig;
pub use openintent_transport::{Method, Request, Response, RetryConfig, RetryMode, Transport, TransportError};
pub use subscriptions::{EventStream, EventStreamBuilder};

/// The protocol models and request bodies (re-export of `openintent-types`).
#[doc(inline)]
pub use openintent_types as types;
