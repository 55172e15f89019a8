//! A durable agent runtime for the **OpenIntent Coordination Protocol**, on top of
//! [`openintent_client`]: what kube-runtime's controller is to kube-client.
//!
//! An agent is a set of async handlers plus a run loop that does what every agent needs:
//!
//! - **registers** the agent (RFC-0016) with its capabilities and capacity, and **heartbeats**
//!   on an interval (with its load and the intents in progress);
//! - **follows its agent stream** (`agent_assigned`), resuming with `Last-Event-ID` across
//!   reconnects (the client's stream does that) and across restarts (a
//!   [cursor file](AgentBuilder::cursor_file) keeps the last event whose work is finished);
//! - runs each assignment under a **concurrency limit** and under the **leases** it declares
//!   (acquired before, renewed during, released after, even when the handler panics);
//! - records **failures** (RFC-0010) and **retries** per the intent's retry policy with its
//!   backoff;
//! - runs every handler inside a `tracing` span `openintent.work` carrying the agent, intent and
//!   event ids, the attempt and the RFC-0020 trace id that events logged with [`Ctx::log`]
//!   carry;
//! - **drains** on [`DrainHandle::drain`] or SIGTERM: stops taking work, gives running work a
//!   deadline (then cancels it, releasing its leases), and deregisters.
//!
//! A [`Coordinator`] runs plans of child intents with dependencies over the registry's agents,
//! assigning each by capability when it is ready, moving it to another agent when the registry
//! marks its agent offline, and completing the parent with the results (through a governance
//! approval when the parent's policy asks for one).
//!
//! ```no_run
//! use openintent_agent::Agent;
//! use openintent_client::Client;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::new("http://localhost:8000", "agent-research-key", "researcher")?;
//! Agent::builder(client)
//!     .capabilities(["research"])
//!     .concurrency(2)
//!     .lease_scopes(["research"])
//!     .cursor_file("researcher.cursor")
//!     .drain_on_sigterm()
//!     .on_assignment(|ctx| async move {
//!         ctx.log("progress", serde_json::json!({"step": "started"})).await?;
//!         ctx.set_state("findings", "three trends").await?;
//!         ctx.record_cost("tokens", 1200.0, "tokens").await?;
//!         ctx.complete().await?;
//!         Ok(())
//!     })
//!     .build()
//!     .run()
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! # Delivery is at-least-once
//!
//! An assignment's event is committed to the cursor only once its work has finished (done,
//! skipped, or given up after the retry policy), and only in stream order. After a crash, a
//! restart sees again every assignment whose work had not finished, and a retry runs the
//! handler again. So handlers must be idempotent:
//!
//! - state writes through [`Ctx::patch_state`] read the current state and can check what is
//!   already done (a step marker in the state is the simplest guard);
//! - effects outside the intent (e-mails, payments...) should use [`Ctx::event_id`] as their
//!   idempotency key;
//! - assignments of intents that are already `completed` or `abandoned` are skipped.
//!
//! Without a cursor file, a (re)started agent replays its whole stream and relies on that
//! last rule alone.
#![warn(missing_docs)]

mod agent;
mod coordinator;
mod ctx;
mod cursor;
mod handler;
mod input;
mod runtime;
mod watch;

pub use agent::{Agent, AgentBuilder, DEFAULT_CONCURRENCY, DEFAULT_DRAIN_DEADLINE, DEFAULT_HEARTBEAT, DrainHandle};
pub use coordinator::{Coordinator, CoordinatorError, DEFAULT_LIVENESS_CHECK, PlanOutcome, Task};
pub use ctx::{Ctx, DEFAULT_LEASE_SECONDS};
pub use handler::{AgentHandlers, BoxError, Failure, HandlerResult};
pub use runtime::AgentError;
