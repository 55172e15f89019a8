//! Protocol models and validation for the **OpenIntent Coordination Protocol**.
//!
//! This crate has no HTTP client, server or async runtime in its dependency tree: server authors
//! and client authors share it. It holds
//!
//! - the models servers return ([`Intent`], [`IntentEvent`], [`Lease`], [`Portfolio`], ...) and
//!   the request bodies of every write ([`CreateIntentRequest`], [`AcquireLeaseRequest`], ...),
//!   so a client builds the same structs a server parses;
//! - the agent-platform areas, one module each: the agent registry ([`AgentRecord`], RFC-0016),
//!   intent graphs ([`IntentGraph`] and the pure rules of [`graph`], RFC-0002), human-in-the-loop
//!   suspension ([`SuspensionRecord`], RFC-0025/0026), governance policies, approvals and
//!   escalations ([`GovernancePolicy`], [`Approval`], [`Escalation`]), coordinator leases
//!   ([`CoordinatorLease`], RFC-0013), access control ([`Acl`], RFC-0011), channels and messages
//!   ([`Channel`], [`Message`], RFC-0021), the human inbox ([`InboxItem`]), and trace fields on
//!   events (RFC-0020);
//! - protocol enums with an `Unknown(String)` variant that keeps values this version does not
//!   know ([`IntentStatus`], [`EventType`], ...);
//! - [`patch::apply_patches`], the RFC 6901 state-patch function, [`Intent::state_at`] to read
//!   state by JSON pointer, and [`lifecycle`], the status transition table;
//! - derived values: [`Lease::is_active_at`], [`CostSummary::from_records`],
//!   [`AggregateStatus::from_intents`], [`RetryPolicy::delay_for_attempt`];
//! - [`validation`], one check per write, with errors that name the field.
//!
//! # Reading and writing
//!
//! Reading is tolerant: unknown fields are ignored; the synonyms different servers and clients
//! use are accepted (`parent_intent_id` for `parent_id`, `uploaded_by` for `created_by`, ...;
//! see DIVERGENCES.md); `null` reads as absent; lists may be bare arrays or envelopes
//! ([`wire::ListBody`]); timestamps may be naive or zoned ([`time`]). Writing is strict: optional
//! fields are omitted rather than sent as `null`.
//!
//! ```
//! use openintent_types::{Intent, IntentStatus};
//! let intent: Intent = serde_json::from_str(r#"{
//!     "id": "7f1c", "title": "Research", "status": "active", "version": 3,
//!     "parent_intent_id": null, "state": {"progress": 0.5}, "future_field": true,
//!     "created_at": "2026-11-24T13:46:05.778066", "updated_at": "2026-11-24T13:46:05Z"
//! }"#).unwrap();
//! assert_eq!(intent.status, IntentStatus::Active);
//! assert_eq!(intent.state_at::<f64>("/progress").unwrap(), Some(0.5));
//! assert_eq!(intent.state_at::<f64>("/missing").unwrap(), None);
//! ```
//!
//! Read state through [`Intent::state_at`] (typed, by JSON pointer) or [`Intent::state_value`]
//! (raw): `intent.state["key"]` is a map lookup that panics when the key is absent.
#![warn(missing_docs)]

#[macro_use]
mod macros;

pub mod time;
pub mod wire;

mod acl;
mod arbitration;
mod attachments;
mod channels;
mod coordinators;
mod costs;
mod discovery;
mod error;
mod events;
mod governance;
pub mod graph;
mod hitl;
mod inbox;
mod intents;
mod leases;
pub mod lifecycle;
pub mod limits;
pub mod patch;
mod portfolios;
mod registry;
mod retries;
pub mod schema;
mod state;
mod subscriptions;
pub mod validation;

pub use acl::{
    AccessPolicy, AccessRequest, AccessRequestStatus, Acl, AclEntry, CreateAccessRequest, DecideAccessRequest,
    GrantAccessRequest, Permission, PrincipalType, SetAclRequest,
};
pub use arbitration::{
    Arbitration, ArbitrationOption, ArbitrationStatus, CreateArbitrationRequest, Decision, RecordDecisionRequest,
};
pub use attachments::{Attachment, AttachmentUpload, CreateAttachmentRequest};
pub use channels::{
    Channel, ChannelClosed, ChannelStatus, CreateChannelRequest, MemberPolicy, Message, MessageQuery, MessageStatus,
    MessageType, ReplyRequest, SendMessageRequest, UpdateChannelRequest, UpdateMessageRequest,
};
pub use coordinators::{
    CoordinatorLease, CreateCoordinatorLeaseRequest, CreateDecisionRecordRequest, DECISION_TYPES, DecisionRecord,
};
pub use costs::{CostRecord, CostSummary, CostType, RecordCostRequest};
pub use discovery::{Ack, Discovery};
pub use error::{ErrorBody, ErrorDetail};
pub use events::{AgentAssignment, AssignAgentRequest, EventQuery, EventType, IntentEvent, LogEventRequest};
pub use governance::{
    Approval, ApprovalStatus, COMPLETE_ACTION, CompletionMode, CreateApprovalRequest, CreateEscalationRequest,
    DEFAULT_QUORUM_THRESHOLD, DecideApprovalRequest, EffectivePolicy, Escalation, EscalationPriority, EscalationQuery,
    EscalationStatus, GovernancePolicy, IntentGovernance, ResolveEscalationRequest, WriteScope,
};
pub use graph::{
    AddDependencyRequest, CreateChildIntentRequest, EdgeKind, GraphEdge, GraphNode, GraphRelation, IntentGraph,
};
pub use hitl::{
    EscalationStep, FallbackPolicy, HumanRetryPolicy, InputResponse, InvalidChoice, RespondToSuspensionRequest,
    ResponseError, ResponseType, SUSPENSION_STATE_KEY, ServerConfig, SuspendRequest, SuspensionChoice,
    SuspensionConfig, SuspensionRecord, SuspensionResolution,
};
pub use inbox::{InboxItem, InboxKind};
pub use intents::{
    CreateIntentRequest, Intent, IntentPage, IntentStatus, ListIntentsQuery, SetStatusRequest, UpdateStateRequest,
};
pub use leases::{
    AcquireLeaseRequest, DEFAULT_LEASE_SECONDS, Lease, LeaseStatus, MAX_LEASE_SECONDS, MAX_SCOPE_CHARS,
    RenewLeaseRequest, scope_covers_path, scope_overlaps_path, scope_path, scope_pointer,
};
pub use patch::{PatchError, PatchOp, StatePatch};
pub use portfolios::{
    AddIntentToPortfolioRequest, AggregateStatus, CreatePortfolioRequest, MembershipRole, Portfolio,
    PortfolioMembership, PortfolioStatus, UpdatePortfolioStatusRequest,
};
pub use registry::{
    AgentCapacity, AgentHeartbeatRequest, AgentRecord, AgentStatus, DEFAULT_DEAD_AFTER_SECONDS,
    DEFAULT_HEARTBEAT_INTERVAL_SECONDS, DEFAULT_UNHEALTHY_AFTER_SECONDS, HeartbeatConfig, HeartbeatResponse,
    ListAgentsQuery, MAX_HEARTBEAT_SECONDS, PendingCommand, RegisterAgentRequest, UpdateAgentStatusRequest,
};
pub use retries::{
    FailureRecord, RecordFailureRequest, RetryPolicy, RetryStrategy, SetRetryPolicyRequest, validate_retry_policy,
};
pub use schema::FieldError;
pub use state::StateReadError;
pub use subscriptions::{
    CreateSubscriptionRequest, DeliveryStatus, StreamEvent, StreamKind, Subscription, SubscriptionQuery,
    WebhookDelivery, WebhookSecret,
};
pub use validation::{InputValidationError, Validate};
pub use wire::WireModel;

/// A JSON object, the type of state documents, payloads and metadata.
pub type JsonObject = serde_json::Map<String, serde_json::Value>;
