//! Subscriptions (RFC-0006): webhook subscriptions and the payloads of server-sent-event streams.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::channels::Message;
use crate::events::{AgentAssignment, IntentEvent};
use crate::intents::{Intent, IntentStatus};
use crate::schema::{Field, Kind, RequestSchema, opt, validate_fields};
use crate::validation::{self, Validate};
use crate::wire::{bool_or_int, null_as_default};

wire_model! {
    /// A webhook subscription (PROTOCOL.md §5.11).
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct Subscription {
        /// Subscription id.
        pub id: String,
        /// Intent-level subscription.
        #[serde(default)]
        pub intent_id: Option<String>,
        /// Portfolio-level subscription (both ids absent: global).
        #[serde(default)]
        pub portfolio_id: Option<String>,
        /// Who subscribed.
        #[serde(default, deserialize_with = "null_as_default")]
        pub subscriber_id: String,
        /// Event types delivered (empty: all).
        #[serde(default, deserialize_with = "null_as_default")]
        pub event_types: Vec<String>,
        /// Where events are POSTed (none: nothing is delivered).
        #[serde(default)]
        pub webhook_url: Option<String>,
        /// Whether it is active (older servers send 0/1).
        #[serde(default = "yes", deserialize_with = "bool_or_int")]
        pub active: bool,
        /// When it stops.
        #[serde(default, with = "crate::time::wire_opt")]
        pub expires_at: Option<DateTime<Utc>>,
        /// When it was made.
        #[serde(with = "crate::time::wire", default)]
        pub created_at: DateTime<Utc>,
        /// The key that signs webhook deliveries. Servers that sign return it once, in the answer
        /// to the subscription's creation, and never in listings; keep it then.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub secret: Option<WebhookSecret>,
    }
    aliases {
        "webhook_url" <= ["callback_url", "webhookUrl", "callbackUrl"],
        "subscriber_id" <= ["subscriberId"],
        "event_types" <= ["eventTypes"],
        "intent_id" <= ["intentId"],
        "portfolio_id" <= ["portfolioId"],
        "expires_at" <= ["expiresAt"],
        "created_at" <= ["createdAt"],
    }
    also_emit { "webhook_url" => "callback_url" }
}

/// A webhook signing secret. Its `Debug` output is redacted; read it with
/// [`WebhookSecret::expose`].
///
/// ```
/// use openintent_types::WebhookSecret;
/// let s = WebhookSecret::new("whsec_abc");
/// assert_eq!(format!("{s:?}"), "WebhookSecret(<redacted>)");
/// assert_eq!(s.expose(), "whsec_abc");
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct WebhookSecret(String);

impl WebhookSecret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        WebhookSecret(secret.into())
    }

    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

fn yes() -> bool {
    true
}

wire_model! {
    /// Body of `POST /api/v1/subscriptions` (`subscribe`).
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct CreateSubscriptionRequest {
        /// Subscribe to one intent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub intent_id: Option<String>,
        /// Subscribe to a portfolio's intents.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub portfolio_id: Option<String>,
        /// Who subscribes (servers default it to the caller).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub subscriber_id: Option<String>,
        /// Event types to deliver (empty: all).
        #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_default")]
        pub event_types: Vec<String>,
        /// The http(s) URL events are POSTed to (the seed's `callback_url`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub webhook_url: Option<String>,
        /// When the subscription ends.
        #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::time::rfc3339_opt")]
        pub expires_at: Option<DateTime<Utc>>,
    }
    aliases {
        "webhook_url" <= ["callback_url", "webhookUrl", "callbackUrl"],
        "subscriber_id" <= ["subscriberId"],
        "event_types" <= ["eventTypes"],
        "intent_id" <= ["intentId"],
        "portfolio_id" <= ["portfolioId"],
        "expires_at" <= ["expiresAt"],
    }
    also_emit {}
}

/// Query of `GET /api/v1/subscriptions`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct SubscriptionQuery {
    /// Only subscriptions of this intent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent_id: Option<String>,
    /// Only subscriptions of this portfolio.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub portfolio_id: Option<String>,
    /// Only subscriptions of this subscriber.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscriber_id: Option<String>,
}

/// The payload of a webhook delivery: `{"subscription_id", "event"}` (RFC-0006).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct WebhookDelivery {
    /// The subscription it is for.
    pub subscription_id: String,
    /// The event.
    pub event: IntentEvent,
}

wire_enum! {
    /// The state of one webhook delivery of a subscription (a server's delivery log, as
    /// `GET /api/v1/subscriptions/{id}/deliveries` lists and filters it; our extension).
    pub enum DeliveryStatus {
        /// Not sent yet, or to be tried again.
        Pending = "pending",
        /// The receiver answered 2xx.
        Delivered = "delivered",
        /// Given up after the last attempt, or not deliverable at all.
        Failed = "failed",
        /// Not sent: the subscription was deleted, deactivated or expired, or has no URL.
        Cancelled = "cancelled",
    }
}

/// Which server-sent-event channel a stream follows (`/api/v1/subscribe/{kind}/{id}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StreamKind {
    /// `/api/v1/subscribe/intents/{id}`: state and status changes and logged events.
    Intent,
    /// `/api/v1/subscribe/portfolios/{id}`: membership changes.
    Portfolio,
    /// `/api/v1/subscribe/agents/{id}`: assignments of the agent.
    Agent,
    /// `/api/v1/subscribe/channels/{id}`: messages of an RFC-0021 channel.
    Channel,
}

impl StreamKind {
    /// The path of the stream of `id`.
    pub fn path(self, id: &str) -> String {
        let kind = match self {
            StreamKind::Intent => "intents",
            StreamKind::Portfolio => "portfolios",
            StreamKind::Agent => "agents",
            StreamKind::Channel => "channels",
        };
        format!("/api/v1/subscribe/{kind}/{id}")
    }
}

/// A typed server-sent event of an OpenIntent stream.
///
/// The SSE `event:` name is the log event type; the `data:` JSON is the event for every event of
/// an intent's log on our server (logged through `log_event` or written by the server, such as
/// `intent_created`, `state_patched` or `lease_acquired`; read as [`StreamEvent::Event`]), the
/// full intent for `state_patched`/`status_changed` on the reference server (read as
/// [`StreamEvent::IntentChanged`]), the assignment for `agent_assigned` on agent streams, a
/// small object for portfolio membership changes, and the message for `channel_message` on
/// channel streams. Other small
/// objects (`intent.resumed`, `governance.*`, `access_*`) come as [`StreamEvent::Other`]; read
/// their data with the matching model (e.g. [`crate::InputResponse`]). See [`StreamEvent::parse`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum StreamEvent {
    /// The intent after a state or status change.
    IntentChanged {
        /// The SSE event name (`state_patched`, `status_changed`, ...).
        event_type: EventType,
        /// The intent as it is now.
        intent: Box<Intent>,
    },
    /// A logged event.
    Event(Box<IntentEvent>),
    /// An assignment of the followed agent.
    AgentAssigned(Box<AgentAssignment>),
    /// A message of the followed channel (`channel_message`).
    ChannelMessage(Box<Message>),
    /// A portfolio membership change (`intent_added`, `intent_removed`); the reference sends `{}`.
    PortfolioChanged {
        /// The SSE event name.
        event_type: String,
        /// The data object (may be empty).
        data: serde_json::Map<String, Value>,
    },
    /// Anything else, kept raw.
    Other {
        /// The SSE event name.
        event_type: String,
        /// The parsed data (`null` when it was not JSON).
        data: Value,
    },
}

use crate::events::EventType;

impl StreamEvent {
    /// Interprets an SSE frame of an OpenIntent stream by its event name and data.
    ///
    /// ```
    /// use openintent_types::StreamEvent;
    /// let ev = StreamEvent::parse("comment",
    ///     r#"{"id": "e1", "intent_id": "i1", "event_type": "comment", "actor": "a", "payload": {}, "created_at": "2026-11-24T13:50:36.836068"}"#);
    /// assert!(matches!(ev, StreamEvent::Event(e) if e.actor == "a"));
    /// ```
    pub fn parse(event_name: &str, data: &str) -> StreamEvent {
        let value: Value = match serde_json::from_str(data) {
            Ok(v) => v,
            Err(_) => return StreamEvent::Other { event_type: event_name.to_owned(), data: Value::Null },
        };
        let name = event_name.to_owned();
        let is_intent = value.get("version").is_some() && value.get("title").is_some();
        let is_event = value.get("event_type").is_some() && value.get("payload").is_some();
        let is_assignment = value.get("agent_id").is_some() && value.get("assigned_at").is_some();
        let is_message = value.get("channel_id").is_some() && value.get("sender").is_some();
        if is_event {
            if let Ok(e) = serde_json::from_value::<IntentEvent>(value.clone()) {
                return StreamEvent::Event(Box::new(e));
            }
        } else if is_intent {
            if let Ok(i) = serde_json::from_value::<Intent>(value.clone()) {
                return StreamEvent::IntentChanged { event_type: EventType::parse(event_name), intent: Box::new(i) };
            }
        } else if is_message {
            if let Ok(m) = serde_json::from_value::<Message>(value.clone()) {
                return StreamEvent::ChannelMessage(Box::new(m));
            }
        } else if is_assignment {
            if let Ok(a) = serde_json::from_value::<AgentAssignment>(value.clone()) {
                return StreamEvent::AgentAssigned(Box::new(a));
            }
        } else if matches!(event_name, "intent_added" | "intent_removed" | "portfolio_created")
            && let Value::Object(data) = value
        {
            return StreamEvent::PortfolioChanged { event_type: name, data };
        }
        StreamEvent::Other { event_type: name, data: value }
    }

    /// Which change of the intent this item reports, in either form: an
    /// [`StreamEvent::IntentChanged`] (the whole intent, as the reference server sends it), or the
    /// [`StreamEvent::Event`] of a `state_patched` or `status_changed` event (what openintent-rs
    /// servers send: the event and the new version, not the whole intent). `None` for anything
    /// else.
    ///
    /// ```
    /// use openintent_types::{EventType, IntentStatus, StreamEvent};
    /// let thin = StreamEvent::parse("status_changed",
    ///     r#"{"id": "e2", "intent_id": "i1", "event_type": "status_changed", "actor": "a",
    ///        "payload": {"status": "completed", "previous_status": "active", "version": 3},
    ///        "created_at": "2026-11-24T13:50:36.836068", "version": 3, "status": "completed"}"#);
    /// assert_eq!(thin.intent_change(), Some(EventType::StatusChanged));
    /// assert_eq!(thin.new_status(), Some(IntentStatus::Completed));
    /// ```
    pub fn intent_change(&self) -> Option<EventType> {
        let kind = match self {
            StreamEvent::IntentChanged { event_type, .. } => event_type,
            StreamEvent::Event(e) => &e.event_type,
            _ => return None,
        };
        matches!(kind, EventType::StatePatched | EventType::StatusChanged).then(|| kind.clone())
    }

    /// The intent's status after this item, when it says: the status of the whole intent of an
    /// [`StreamEvent::IntentChanged`], or the new `status` of a `status_changed` event.
    pub fn new_status(&self) -> Option<IntentStatus> {
        match self {
            StreamEvent::IntentChanged { intent, .. } => Some(intent.status.clone()),
            StreamEvent::Event(e) if e.event_type == EventType::StatusChanged => {
                e.payload.get("status").and_then(Value::as_str).map(IntentStatus::parse)
            }
            _ => None,
        }
    }

    /// The SSE event name this item came with.
    pub fn event_type(&self) -> String {
        match self {
            StreamEvent::IntentChanged { event_type, .. } => event_type.to_string(),
            StreamEvent::Event(e) => e.event_type.to_string(),
            StreamEvent::AgentAssigned(_) => EventType::AgentAssigned.to_string(),
            StreamEvent::ChannelMessage(_) => EventType::ChannelMessage.to_string(),
            StreamEvent::PortfolioChanged { event_type, .. } | StreamEvent::Other { event_type, .. } => {
                event_type.clone()
            }
        }
    }
}

// ----- request field rules (validation and the OpenAPI document read these) -----------------

impl RequestSchema for CreateSubscriptionRequest {
    const FIELDS: &'static [Field] = &[
        opt("intent_id", Kind::Str).id(),
        opt("portfolio_id", Kind::Str).id(),
        opt("subscriber_id", Kind::Str).text(255),
        opt("event_types", Kind::StrList),
        opt("webhook_url", Kind::Str).http_url(),
        opt("expires_at", Kind::Time),
    ];
    const EMPTY_OK: bool = true;
}

// ----- Validation ---------------------------------------------------------------------------
//
// The field rules of each request are its `RequestSchema::FIELDS` above; `validate_fields`
// enforces them. What follows them here is what the declaration does not say: rules across
// fields, on list items, on numbers JSON cannot carry.

impl Validate for CreateSubscriptionRequest {
    fn validate(&self) -> validation::Result {
        validate_fields(self)?;
        for (i, t) in self.event_types.iter().enumerate() {
            validation::require_text(&format!("event_types.{i}"), t)?;
        }
        Ok(())
    }
}
