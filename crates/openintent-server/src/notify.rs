//! Notifications: what the event streams carry, and the messages the writes make.
//!
//! A write transaction makes its notifications while it runs (each event appended to an
//! intent's log, each kept portfolio or agent stream message) and publishes them when, and only
//! if, it commits (see the store's write transaction); the relay publishes those of the other
//! server processes sharing a PostgreSQL database. Nothing else publishes.

use openintent_types::wire::to_superset_value;
use openintent_types::{AgentAssignment, EventType, Intent, IntentEvent};
use serde_json::{Value, json};

/// How many notifications a slow subscriber may fall behind before it loses some.
pub const NOTIFICATION_BUFFER: usize = 1024;

/// The stream a notification belongs to (the `/api/v1/subscribe/{kind}/{id}` routes).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Channel {
    /// Every event appended to one intent's log, named after its type, with the log's event id:
    /// `state_patched` and `status_changed` carry the intent (after the change), every other
    /// event (`intent_created`, logged events, `lease_acquired`, `agent_assigned`, ...) itself.
    Intent(String),
    /// Membership changes of one portfolio: `intent_added`, `intent_removed`.
    Portfolio(String),
    /// Assignments of one agent: `agent_assigned` (data = the assignment).
    Agent(String),
}

impl Channel {
    /// A string key such as `intent:<id>`.
    pub fn key(&self) -> String {
        match self {
            Channel::Intent(id) => format!("intent:{id}"),
            Channel::Portfolio(id) => format!("portfolio:{id}"),
            Channel::Agent(id) => format!("agent:{id}"),
        }
    }
}

/// One notification, published after the change it describes was committed (by the write
/// transaction itself; see the store).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Notification {
    /// The stream it belongs to.
    pub channel: Channel,
    /// The SSE event name (`state_patched`, `agent_assigned`, the logged event type, ...).
    pub event: String,
    /// The JSON data (superset wire form).
    pub data: Value,
    /// An id usable as the SSE `id:` (the log event's id, or the membership id).
    pub id: String,
}

impl Notification {
    /// A notification.
    pub fn new(channel: Channel, event: impl Into<String>, data: Value, id: impl Into<String>) -> Self {
        Notification { channel, event: event.into(), data, id: id.into() }
    }
}

// ----- the notifications the writes publish -------------------------------------------------

/// Whether the intent-stream message of a log event carries the intent (after the change), not
/// the event: `state_patched` and `status_changed`, as on the reference server.
pub(crate) fn carries_intent(t: &EventType) -> bool {
    matches!(t, EventType::StatePatched | EventType::StatusChanged)
}

/// `state_patched` / `status_changed` on the intent's stream; the data is the intent.
pub(crate) fn intent_changed(event: &str, intent: &Intent, event_id: &str) -> Notification {
    Notification::new(Channel::Intent(intent.id.clone()), event, to_superset_value(intent), event_id)
}

/// Any other event of an intent's log (logged through `POST .../events`, or written by the
/// server: `intent_created`, `lease_acquired`, `agent_assigned`, ...), on its intent's stream;
/// the data is the event.
pub(crate) fn event_logged(event: &IntentEvent) -> Notification {
    let channel = Channel::Intent(event.intent_id.clone());
    Notification::new(channel, event.event_type.as_str(), to_superset_value(event), event.id.clone())
}

/// `agent_assigned` on the agent's stream; the data is the assignment.
pub(crate) fn agent_assigned(assignment: &AgentAssignment, event_id: &str) -> Notification {
    let channel = Channel::Agent(assignment.agent_id.clone());
    Notification::new(channel, "agent_assigned", to_superset_value(assignment), event_id)
}

/// `intent_added` / `intent_removed` on the portfolio's stream.
pub(crate) fn membership_changed(event: &str, portfolio_id: &str, intent_id: &str, id: &str) -> Notification {
    let data = json!({"portfolio_id": portfolio_id, "intent_id": intent_id});
    Notification::new(Channel::Portfolio(portfolio_id.to_owned()), event, data, id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_name_their_streams() {
        let mut intent = Intent::new("i1", "t");
        intent.version = 3;
        let n = intent_changed("state_patched", &intent, "e1");
        assert_eq!((n.channel.key(), n.event.as_str(), n.id.as_str()), ("intent:i1".to_owned(), "state_patched", "e1"));
        assert_eq!(n.data["version"], json!(3));

        let event = IntentEvent::new("e2", "i1", EventType::parse("note"), "me");
        let n = event_logged(&event);
        assert_eq!(
            (n.channel, n.event.as_str(), n.data["actor"].clone()),
            (Channel::Intent("i1".into()), "note", json!("me"))
        );

        let mut a = AgentAssignment::default();
        a.intent_id = "i1".into();
        a.agent_id = "bot".into();
        assert_eq!(agent_assigned(&a, "e3").channel.key(), "agent:bot");

        let n = membership_changed("intent_removed", "p1", "i1", "m1");
        assert_eq!(n.channel.key(), "portfolio:p1");
        assert_eq!(n.data, json!({"portfolio_id": "p1", "intent_id": "i1"}));
    }

    #[test]
    fn only_state_and_status_changes_carry_the_intent() {
        assert!(carries_intent(&EventType::StatePatched) && carries_intent(&EventType::StatusChanged));
        assert!(!carries_intent(&EventType::IntentCreated) && !carries_intent(&EventType::parse("note")));
    }
}
