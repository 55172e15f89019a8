//! Notifications across server processes that share one PostgreSQL database.
//!
//! Every write transaction that publishes a [`Notification`] (each event appended to an
//! intent's log, agent assignments, portfolio membership changes) also announces it with
//! `pg_notify` inside the transaction, so PostgreSQL delivers the announcement to every
//! listening process when, and only if, the transaction commits, in commit order. Each process runs one listener
//! task ([`start`]) that publishes the announcements of *other* processes on its local
//! broadcast, from which its event streams read; the process that made the change publishes it
//! itself, at once, as on SQLite.
//!
//! An announcement is small JSON: the origin process, the channel, the event name, the SSE id
//! and the data. PostgreSQL refuses payloads of 8000 bytes or more, so when the data does not
//! fit the announcement names what to re-read instead (the intent, the logged event, or the
//! assignment); a re-read intent is the intent as it is when the listener reads it, like a
//! replayed message (see `sse.rs`).
//!
//! When the listener's connection drops it reconnects; announcements made meanwhile are not
//! delivered live, and a client that resumes its stream with `Last-Event-ID` gets them from the
//! shared database (the event log, or the kept portfolio and agent stream messages).

use openintent_types::wire::to_superset_value;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::watch;

use crate::notify::{Channel, Notification};
use crate::store::{Store, StoreError};

/// The PostgreSQL notification channel of the announcements.
pub(crate) const CHANNEL: &str = "openintent_notifications";

/// The largest announcement sent whole (PostgreSQL's limit is 8000 bytes).
const MAX_PAYLOAD: usize = 7900;

// ----- announcements ------------------------------------------------------------------------

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
    /// The data, when it fits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    d: Option<Value>,
    /// What to re-read when the data did not fit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    r: Option<Reread>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
enum Reread {
    /// The intent of the channel.
    Intent,
    /// The logged event with the SSE id.
    Event,
    /// An assignment of an intent.
    Assignment { intent: String, id: String },
}

/// The announcement of `n` by `origin`; `None` when even its re-read form does not fit (ids or
/// names of several kilobytes).
pub(crate) fn encode(origin: &str, n: &Notification) -> Option<String> {
    let (c, k) = match &n.channel {
        Channel::Intent(id) => ("intent", id),
        Channel::Portfolio(id) => ("portfolio", id),
        Channel::Agent(id) => ("agent", id),
    };
    let mut a = Announcement {
        o: origin.to_owned(),
        c: c.to_owned(),
        k: k.clone(),
        n: n.event.clone(),
        i: n.id.clone(),
        d: Some(n.data.clone()),
        r: None,
    };
    let whole = serde_json::to_string(&a).ok()?;
    if whole.len() <= MAX_PAYLOAD {
        return Some(whole);
    }
    a.d = None;
    a.r = Some(match &n.channel {
        Channel::Intent(_) if matches!(n.event.as_str(), "state_patched" | "status_changed") => Reread::Intent,
        Channel::Intent(_) => Reread::Event,
        Channel::Agent(_) => Reread::Assignment {
            intent: n.data["intent_id"].as_str()?.to_owned(),
            id: n.data["id"].as_str()?.to_owned(),
        },
        // Membership data is two server-made ids: it always fits.
        Channel::Portfolio(_) => return None,
    });
    let short = serde_json::to_string(&a).ok()?;
    (short.len() <= MAX_PAYLOAD).then_some(short)
}

/// The notification an announcement of another process stands for; `None` for announcements
/// of `own_origin`, unreadable ones, and re-reads of things gone meanwhile.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
async fn decode(store: &Store, own_origin: &str, payload: &str) -> Option<Notification> {
    let a: Announcement = match serde_json::from_str(payload) {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(error = %e, "unreadable notification announcement ignored");
            return None;
        }
    };
    if a.o == own_origin {
        return None;
    }
    let channel = match a.c.as_str() {
        "intent" => Channel::Intent(a.k.clone()),
        "portfolio" => Channel::Portfolio(a.k.clone()),
        "agent" => Channel::Agent(a.k.clone()),
        _ => return None,
    };
    let data = match (a.d, a.r) {
        (Some(d), _) => d,
        (None, Some(r)) => match reread(store, &a.k, &a.i, r).await {
            Ok(Some(d)) => d,
            Ok(None) => return None,
            Err(e) => {
                tracing::warn!(error = %e, "the data of a notification of another server could not be read");
                return None;
            }
        },
        (None, None) => return None,
    };
    Some(Notification::new(channel, a.n, data, a.i))
}

async fn reread(store: &Store, key: &str, id: &str, r: Reread) -> Result<Option<Value>, StoreError> {
    Ok(match r {
        Reread::Intent => store.get_intent(key).await?.map(|i| to_superset_value(&i)),
        Reread::Event => store.get_event(key, id).await?.map(|e| to_superset_value(&e)),
        Reread::Assignment { intent, id } => {
            store.list_agents(&intent).await?.into_iter().find(|a| a.id == id).map(|a| to_superset_value(&a))
        }
    })
}

// ----- the listener -------------------------------------------------------------------------

/// On PostgreSQL, starts listening for the announcements of other server processes and
/// publishes them on `store`'s notifier (from which the event streams read) until `closing`
/// turns `true` (on SQLite: nothing).
///
/// Returns once the first `LISTEN` is in place, so nothing committed after it is missed.
pub(crate) async fn start(store: &Store, closing: watch::Receiver<bool>) -> Result<(), StoreError> {
    let Some(url) = store.listen_url().map(str::to_owned) else { return Ok(()) };
    listen(store, url, closing).await
}

#[cfg(feature = "postgres")]
mod listener;
#[cfg(feature = "postgres")]
use listener::listen;

/// Without the `postgres` feature no store has a PostgreSQL URL (`Store::open` refuses one).
#[cfg(not(feature = "postgres"))]
async fn listen(_store: &Store, _url: String, _closing: watch::Receiver<bool>) -> Result<(), StoreError> {
    crate::config::DatabaseLocation::Postgres(String::new()).check_supported().map_err(StoreError::Unsupported)
}

#[cfg(test)]
mod tests {
    use openintent_types::{AgentAssignment, Intent, IntentEvent};
    use serde_json::json;

    use super::*;
    use crate::notify::{agent_assigned, event_logged, intent_changed, membership_changed};

    #[test]
    fn small_notifications_travel_whole() {
        let n = membership_changed("intent_added", "p1", "i1", "m1");
        let text = encode("me", &n).unwrap();
        let a: Announcement = serde_json::from_str(&text).unwrap();
        assert_eq!(
            (a.o.as_str(), a.c.as_str(), a.k.as_str(), a.n.as_str(), a.i.as_str()),
            ("me", "portfolio", "p1", "intent_added", "m1")
        );
        assert_eq!(a.d, Some(json!({"portfolio_id": "p1", "intent_id": "i1"})));
        assert!(a.r.is_none());
    }

    #[test]
    fn large_notifications_name_what_to_reread() {
        let mut intent = Intent::new("i1", "t");
        intent.state.insert("big".into(), json!("x".repeat(20_000)));
        let text = encode("me", &intent_changed("state_patched", &intent, "e1")).unwrap();
        assert!(text.len() <= MAX_PAYLOAD);
        let a: Announcement = serde_json::from_str(&text).unwrap();
        assert!(a.d.is_none());
        assert!(matches!(a.r, Some(Reread::Intent)));

        let mut event = IntentEvent::new("e2", "i1", openintent_types::EventType::parse("note"), "me");
        event.payload.insert("big".into(), json!("y".repeat(9_000)));
        let a: Announcement = serde_json::from_str(&encode("me", &event_logged(&event)).unwrap()).unwrap();
        assert!(matches!(a.r, Some(Reread::Event)));
        assert_eq!((a.k.as_str(), a.i.as_str()), ("i1", "e2"));

        let mut assignment = AgentAssignment::default();
        assignment.id = "a1".into();
        assignment.intent_id = "i1".into();
        assignment.agent_id = "bot".into();
        assignment.role = "r".repeat(9_000);
        let a: Announcement = serde_json::from_str(&encode("me", &agent_assigned(&assignment, "e3")).unwrap()).unwrap();
        assert!(matches!(a.r, Some(Reread::Assignment { ref intent, ref id }) if intent == "i1" && id == "a1"));

        // A channel id too long even for the short form is not announced.
        let huge = Notification::new(Channel::Agent("z".repeat(9_000)), "agent_assigned", json!({}), "e4");
        assert!(encode("me", &huge).is_none());
    }
}
