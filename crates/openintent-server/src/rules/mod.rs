//! The protocol's rules that need neither SQL nor HTTP: pure functions of the values the store
//! reads inside a write's transaction, unit-tested here.
//!
//! - [`acl`]: which level each intent route needs, and who holds it (RFC-0011).
//! - [`governance`]: an intent's `governance_policy` (validation on create, the rules writes
//!   must pass).
//! - [`hitl`]: when a suspension's next re-notification or expiry is due, and what expiry does.
//! - [`leases`]: which lease guards a state path, and the refusal naming it.
//! - [`lifecycle`]: the status transitions an intent may make.
//! - [`ownership`]: who may read and change the objects that are not intents (subscriptions,
//!   attachments, assignments, agent records).
//! - [`subscriptions`]: which webhook subscriptions take an event.
//!
//! A refusal is a value of this module ([`governance::Violation`], [`leases::LeaseConflict`],
//! [`lifecycle::TransitionError`]); the store turns it into its error, and the HTTP layer into a
//! status and a body.

pub(crate) mod acl;
pub(crate) mod governance;
pub(crate) mod hitl;
pub(crate) mod leases;
pub(crate) mod lifecycle;
pub(crate) mod ownership;
pub(crate) mod subscriptions;
