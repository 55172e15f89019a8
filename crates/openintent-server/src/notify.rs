//! Notifications: what the event streams carry, the messages the writes make, and the
//! announcements that carry them to the other server processes sharing a PostgreSQL database.
//!
//! A write transaction makes its notifications while it runs (each event appended to an
//! intent's log, each kept portfolio or agent stream message) and publishes them when, and only
//! if, it commits (see the store's write transaction); on PostgreSQL it also announces each one
//! ([`announce`]) inside the transaction. The relay publishes the announcements of the other
//! processes ([`Announced`]). Nothing else publishes.
//!
//! An announcement is small JSON: the origin process, the channel, the event name, the SSE id
//! and the data. PostgreSQL refuses payloads of 8000 bytes or more, so when the data does not
//! fit the announcement names what to re-read instead ([`Reread`]: the intent, the logged
//! event, or the assignment).

use std::sync::{Arc, OnceLock};

use axum::body::Bytes;
use openintent_types::wire::to_superset_value;
use openintent_types::{AgentAssignment, EventType, IntentEvent};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// How many notifications a slow subscriber may fall behind before it loses some.
pub const NOTIFICATION_BUFFER: usize = 1024;

/// The stream a notification belongs to (the `/api/v1/subscribe/{kind}/{id}` routes).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Channel {
    /// Every event appended to one intent's log, named after its type, with the log's event id;
    /// the data is the event (`state_patched` and `status_changed` also carry
    /// the new `version`, and `status_changed` the new `status`, at the top).
    Intent(String),
    /// Membership changes of one portfolio: `intent_added`, `intent_removed`.
    Portfolio(String),
    /// Assignments of one agent: `agent_assigned` (data = the assignment).
    Agent(String),
    /// The messages of one messaging channel (RFC-0021): `channel_message` (data = the message).
    Messages(String),
    /// What waits for a person on one intent that no log event announces:
    /// `governance.approval_requested` (data = `{"approval_id", "intent_id"}`). Read by the inbox
    /// stream only; the intent's own stream stays its event log.
    Inbox(String),
}

impl Channel {
    /// A string key such as `intent:<id>`.
    pub fn key(&self) -> String {
        match self {
            Channel::Intent(id) => format!("intent:{id}"),
            Channel::Portfolio(id) => format!("portfolio:{id}"),
            Channel::Agent(id) => format!("agent:{id}"),
            Channel::Messages(id) => format!("channel:{id}"),
            Channel::Inbox(id) => format!("inbox:{id}"),
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
    /// Intent streams: the id of the event right before this one in the intent's log, when
    /// known (`None`: unknown, or the log's first event). A stream whose last event is that one
    /// sends this event as it comes; any other stream reads the log to keep log order.
    pub after: Option<String>,
    /// The message's SSE bytes, made once by the first stream that sends it as it is and
    /// shared by the clones the broadcast hands to the other streams.
    pub(crate) frame: SharedFrame,
}

impl Notification {
    /// A notification.
    pub fn new(channel: Channel, event: impl Into<String>, data: Value, id: impl Into<String>) -> Self {
        Notification { channel, event: event.into(), data, id: id.into(), after: None, frame: SharedFrame::default() }
    }

    /// The notification, naming `after` as the event before it in its intent's log.
    pub fn after(mut self, after: Option<String>) -> Self {
        self.after = after;
        self
    }
}

/// The SSE bytes of a notification, made at most once whatever the number of its clones.
#[derive(Clone, Default)]
pub(crate) struct SharedFrame(Arc<OnceLock<Bytes>>);

impl SharedFrame {
    /// The bytes, made by `make` on the first call.
    pub(crate) fn get_or_init(&self, make: impl FnOnce() -> Bytes) -> Bytes {
        self.0.get_or_init(make).clone()
    }
}

impl std::fmt::Debug for SharedFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() { "SharedFrame(made)" } else { "SharedFrame(not made)" })
    }
}

/// A cache of what the other fields say: it never makes two notifications differ.
impl PartialEq for SharedFrame {
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}

// ----- the notifications the writes publish -------------------------------------------------

/// Whether a log event changes the intent's version: `state_patched` and `status_changed`.
pub(crate) fn changes_version(t: &EventType) -> bool {
    matches!(t, EventType::StatePatched | EventType::StatusChanged)
}

/// The data of a log event's message on its intent's stream, live and replayed alike: the
/// event (its `payload` says what changed: the patches, the status), with, for a state or
/// status change, the intent's new `version` (and new `status`) at the top. Never the whole
/// intent: a small change costs each stream a small message, however large the state.
pub(crate) fn event_data(event: &IntentEvent) -> Value {
    let mut data = to_superset_value(event);
    if changes_version(&event.event_type)
        && let Value::Object(map) = &mut data
    {
        for key in ["version", "status"] {
            if let Some(v) = event.payload.get(key) {
                map.entry(key).or_insert_with(|| v.clone());
            }
        }
    }
    data
}

/// An event of an intent's log (logged through `POST .../events`, or written by the server:
/// `intent_created`, `state_patched`, `lease_acquired`, `agent_assigned`, ...), on its
/// intent's stream; the data is [`event_data`]. `after` is the id of the event before it in the
/// log (`None` for the first).
pub(crate) fn event_logged(event: &IntentEvent, after: Option<String>) -> Notification {
    let channel = Channel::Intent(event.intent_id.clone());
    Notification::new(channel, event.event_type.as_str(), event_data(event), event.id.clone()).after(after)
}

/// Whether a log event may change who reads the intent: the ACL set, an entry granted or
/// revoked, an access request approved. An intent stream checks its reader's access again on
/// these (see `api::streams`).
pub(crate) fn changes_access(event_type: &str) -> bool {
    [EventType::AccessGranted, EventType::AccessRevoked, EventType::AccessRequestApproved]
        .iter()
        .any(|t| t.as_str() == event_type)
}

/// `agent_assigned` on the agent's stream; the data is the assignment.
pub(crate) fn agent_assigned(assignment: &AgentAssignment, event_id: &str) -> Notification {
    let channel = Channel::Agent(assignment.agent_id.clone());
    Notification::new(channel, "agent_assigned", to_superset_value(assignment), event_id)
}

/// `channel_message` on the channel's stream; the data is the message.
pub(crate) fn channel_message(message: &openintent_types::Message) -> Notification {
    let channel = Channel::Messages(message.channel_id.clone());
    Notification::new(channel, "channel_message", to_superset_value(message), message.id.clone())
}

/// `intent_added` / `intent_removed` on the portfolio's stream.
pub(crate) fn membership_changed(event: &str, portfolio_id: &str, intent_id: &str, id: &str) -> Notification {
    let data = json!({"portfolio_id": portfolio_id, "intent_id": intent_id});
    Notification::new(Channel::Portfolio(portfolio_id.to_owned()), event, data, id)
}

// ----- announcements to other server processes ---------------------------------------------

/// The PostgreSQL notification channel of the announcements.
pub(crate) const ANNOUNCEMENTS: &str = "openintent_notifications";

/// The largest announcement sent whole (PostgreSQL's limit is 8000 bytes).
const MAX_ANNOUNCEMENT: usize = 7900;

/// The wire form of an announcement.
#[derive(Debug, Serialize, Deserialize)]
struct Announcement {
    /// The origin: the store of the process that made the change.
    o: String,
    /// The channel kind: `intent`, `portfolio` or `agent`.
    c: String,
    /// The channel's id.
    k: String,
    /// The SSE event name.
    n: String,
    /// The SSE id.
    i: String,
    /// Intent channels: the id of the event before it in the log, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    p: Option<String>,
    /// The data, when it fits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    d: Option<Value>,
    /// What to re-read when the data did not fit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    r: Option<Reread>,
}

/// What the listener re-reads from the shared database, for an announcement whose data did not
/// fit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub(crate) enum Reread {
    /// The intent of the channel (announced by servers whose intent streams carried the
    /// intent; read as the intent).
    Intent,
    /// The logged event with the SSE id.
    Event,
    /// An assignment of an intent.
    Assignment {
        /// The intent's id.
        intent: String,
        /// The assignment's id.
        id: String,
    },
    /// The channel message with the SSE id.
    Message,
}

/// The announcement of `n` by `origin`; `None` when even its re-read form does not fit (ids or
/// names of several kilobytes).
pub(crate) fn announce(origin: &str, n: &Notification) -> Option<String> {
    let (c, k) = match &n.channel {
        Channel::Intent(id) => ("intent", id),
        Channel::Portfolio(id) => ("portfolio", id),
        Channel::Agent(id) => ("agent", id),
        Channel::Messages(id) => ("channel", id),
        Channel::Inbox(id) => ("inbox", id),
    };
    let mut a = Announcement {
        o: origin.to_owned(),
        c: c.to_owned(),
        k: k.clone(),
        n: n.event.clone(),
        i: n.id.clone(),
        p: n.after.clone(),
        d: Some(n.data.clone()),
        r: None,
    };
    let whole = serde_json::to_string(&a).ok()?;
    if whole.len() <= MAX_ANNOUNCEMENT {
        return Some(whole);
    }
    a.d = None;
    a.r = Some(match &n.channel {
        Channel::Intent(_) => Reread::Event,
        Channel::Agent(_) => Reread::Assignment {
            intent: n.data["intent_id"].as_str()?.to_owned(),
            id: n.data["id"].as_str()?.to_owned(),
        },
        Channel::Messages(_) => Reread::Message,
        // Membership and inbox data are server-made ids: they always fit.
        Channel::Portfolio(_) | Channel::Inbox(_) => return None,
    });
    let short = serde_json::to_string(&a).ok()?;
    (short.len() <= MAX_ANNOUNCEMENT).then_some(short)
}

/// What an announcement of another process stands for.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(not(feature = "postgres"), allow(dead_code))] // read by the relay's listener
pub(crate) enum Announced {
    /// The notification, whole.
    Whole(Notification),
    /// A notification whose data did not fit: the data is to be re-read (`what`), then the
    /// notification is `Notification::new(channel, event, data, id)`.
    Reread {
        /// Its stream.
        channel: Channel,
        /// The SSE event name.
        event: String,
        /// The SSE id.
        id: String,
        /// The event before it in its intent's log, when known.
        after: Option<String>,
        /// What to re-read.
        what: Reread,
    },
}

/// Reads an announcement; `Ok(None)` for the announcements of `own_origin` (published here
/// already) and for those of a channel kind or shape this process does not know.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))] // read by the relay's listener
pub(crate) fn parse_announcement(own_origin: &str, payload: &str) -> Result<Option<Announced>, serde_json::Error> {
    let a: Announcement = serde_json::from_str(payload)?;
    if a.o == own_origin {
        return Ok(None);
    }
    let channel = match a.c.as_str() {
        "intent" => Channel::Intent(a.k),
        "portfolio" => Channel::Portfolio(a.k),
        "agent" => Channel::Agent(a.k),
        "channel" => Channel::Messages(a.k),
        "inbox" => Channel::Inbox(a.k),
        _ => return Ok(None),
    };
    Ok(match (a.d, a.r) {
        (Some(data), _) => Some(Announced::Whole(Notification::new(channel, a.n, data, a.i).after(a.p))),
        (None, Some(what)) => Some(Announced::Reread { channel, event: a.n, id: a.i, after: a.p, what }),
        (None, None) => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_name_their_streams() {
        let mut patched = IntentEvent::new("e1", "i1", EventType::StatePatched, "me");
        patched.payload.insert("version".into(), json!(3));
        let n = event_logged(&patched, None);
        assert_eq!((n.channel.key(), n.event.as_str(), n.id.as_str()), ("intent:i1".to_owned(), "state_patched", "e1"));
        assert_eq!((n.data["version"].clone(), n.data["id"].clone()), (json!(3), json!("e1")));
        let mut changed = IntentEvent::new("e4", "i1", EventType::StatusChanged, "me");
        changed.payload.insert("version".into(), json!(4));
        changed.payload.insert("status".into(), json!("active"));
        let n = event_logged(&changed, None);
        assert_eq!((n.data["version"].clone(), n.data["status"].clone()), (json!(4), json!("active")));
        assert_eq!(n.data["payload"]["status"], json!("active"));

        let event = IntentEvent::new("e2", "i1", EventType::parse("note"), "me");
        let n = event_logged(&event, None);
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
    fn only_state_and_status_changes_add_the_version() {
        assert!(changes_version(&EventType::StatePatched) && changes_version(&EventType::StatusChanged));
        assert!(!changes_version(&EventType::IntentCreated) && !changes_version(&EventType::parse("note")));
        let mut note = IntentEvent::new("e1", "i1", EventType::parse("note"), "me");
        note.payload.insert("version".into(), json!(9));
        assert!(event_data(&note).get("version").is_none());
    }

    #[test]
    fn small_notifications_travel_whole() {
        let n = membership_changed("intent_added", "p1", "i1", "m1");
        let text = announce("me", &n).unwrap();
        let a: Announcement = serde_json::from_str(&text).unwrap();
        assert_eq!(
            (a.o.as_str(), a.c.as_str(), a.k.as_str(), a.n.as_str(), a.i.as_str()),
            ("me", "portfolio", "p1", "intent_added", "m1")
        );
        assert_eq!(a.d, Some(json!({"portfolio_id": "p1", "intent_id": "i1"})));
        assert!(a.r.is_none());

        // The inbox's own notifications reach the other processes as they are.
        let data = json!({"approval_id": "a1", "intent_id": "i1"});
        let n = Notification::new(Channel::Inbox("i1".into()), "governance.approval_requested", data, "a1");
        let text = announce("other", &n).unwrap();
        assert_eq!(parse_announcement("me", &text).unwrap(), Some(Announced::Whole(n)));
    }

    #[test]
    fn large_notifications_name_what_to_reread() {
        let mut patched = IntentEvent::new("e1", "i1", EventType::StatePatched, "me");
        patched.payload.insert("patches".into(), json!([{"op": "set", "path": "/big", "value": "x".repeat(20_000)}]));
        let text = announce("me", &event_logged(&patched, None)).unwrap();
        assert!(text.len() <= MAX_ANNOUNCEMENT);
        let a: Announcement = serde_json::from_str(&text).unwrap();
        assert!(a.d.is_none());
        assert!(matches!(a.r, Some(Reread::Event)));

        let mut event = IntentEvent::new("e2", "i1", openintent_types::EventType::parse("note"), "me");
        event.payload.insert("big".into(), json!("y".repeat(9_000)));
        let a: Announcement = serde_json::from_str(&announce("me", &event_logged(&event, None)).unwrap()).unwrap();
        assert!(matches!(a.r, Some(Reread::Event)));
        assert_eq!((a.k.as_str(), a.i.as_str()), ("i1", "e2"));

        let mut assignment = AgentAssignment::default();
        assignment.id = "a1".into();
        assignment.intent_id = "i1".into();
        assignment.agent_id = "bot".into();
        assignment.role = "r".repeat(9_000);
        let a: Announcement =
            serde_json::from_str(&announce("me", &agent_assigned(&assignment, "e3")).unwrap()).unwrap();
        assert!(matches!(a.r, Some(Reread::Assignment { ref intent, ref id }) if intent == "i1" && id == "a1"));

        // A channel id too long even for the short form is not announced.
        let huge = Notification::new(Channel::Agent("z".repeat(9_000)), "agent_assigned", json!({}), "e4");
        assert!(announce("me", &huge).is_none());
    }

    #[test]
    fn announcements_read_back() {
        let n = membership_changed("intent_added", "p1", "i1", "m1");
        let text = announce("them", &n).unwrap();
        assert_eq!(parse_announcement("me", &text).unwrap(), Some(Announced::Whole(n)));
        // Its own announcements a process published already.
        assert_eq!(parse_announcement("them", &text).unwrap(), None);

        let mut event = IntentEvent::new("e2", "i1", EventType::parse("note"), "me");
        event.payload.insert("big".into(), json!("y".repeat(9_000)));
        let text = announce("them", &event_logged(&event, Some("e1".into()))).unwrap();
        assert_eq!(
            parse_announcement("me", &text).unwrap(),
            Some(Announced::Reread {
                channel: Channel::Intent("i1".into()),
                event: "note".into(),
                id: "e2".into(),
                after: Some("e1".into()),
                what: Reread::Event
            })
        );
        // The event before a log event travels with it, whole or not.
        let small = event_logged(&IntentEvent::new("e3", "i1", EventType::parse("note"), "me"), Some("e2".into()));
        let Some(Announced::Whole(read)) = parse_announcement("me", &announce("them", &small).unwrap()).unwrap() else {
            panic!("a small event travels whole")
        };
        assert_eq!(read.after.as_deref(), Some("e2"));
        assert_eq!(read, small);

        assert_eq!(parse_announcement("me", r#"{"o":"x","c":"team","k":"t","n":"e","i":"1","d":{}}"#).unwrap(), None);
        assert!(parse_announcement("me", "not json").is_err());
    }
}
