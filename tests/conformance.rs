//! End-to-end conformance suite: every seed operation through the Rust client against a live
//! server.
//!
//! # Target
//!
//! | Variable | Meaning |
//! |---|---|
//! | `OPENINTENT_CONFORMANCE_URL` | the server to test (comma-separated URLs of several instances on one database: each client sends its requests to them in turn); else `OPENINTENT_REFERENCE_URL` (set by `scripts/reference-server.sh run`, profile `reference`); else an in-process `openintent-server` |
//! | `OPENINTENT_CONFORMANCE_KEYS` | comma-separated API keys, at least two (default `dev-user-key,agent-research-key,agent-synth-key`) |
//! | `OPENINTENT_CONFORMANCE_PROFILE` | `reference` or `full`: which operations the target serves (default `reference` for the reference server's URL, else `full`) |
//!
//! Under the `reference` profile the operations the Python reference server lacks
//! (`list_intents`, webhook subscriptions, `unassign_agent`, `list_decision_records`, ...) must fail with the typed
//! unsupported error; under `full` they must work. Everything else is asserted the same way on
//! both. Every test works on intents of its own, so the tests run in parallel against one
//! server.
//!
//! ```text
//! cargo test -p openintent --test conformance
//! scripts/reference-server.sh run -- cargo test -p openintent --test conformance
//! ```

#[path = "conformance/common.rs"]
mod common;

#[path = "conformance/intents.rs"]
mod intents;

#[path = "conformance/events.rs"]
mod events;

#[path = "conformance/leases.rs"]
mod leases;

#[path = "conformance/resources.rs"]
mod resources;

#[path = "conformance/portfolios.rs"]
mod portfolios;

#[path = "conformance/errors.rs"]
mod errors;

#[path = "conformance/blocking.rs"]
mod blocking;

#[path = "conformance/governance.rs"]
mod governance;

#[path = "conformance/coordinators.rs"]
mod coordinators;

#[path = "conformance/registry.rs"]
mod registry;

#[path = "conformance/access_control.rs"]
mod access_control;
#[path = "conformance/graph.rs"]
mod graph;
#[path = "conformance/hitl_approvals.rs"]
mod hitl_approvals;
#[path = "conformance/inbox.rs"]
mod inbox;

#[path = "conformance/channels.rs"]
mod channels;

#[path = "conformance/sdk_streams.rs"]
mod sdk_streams;

#[path = "conformance/tracing.rs"]
mod tracing;
