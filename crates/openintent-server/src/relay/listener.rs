//! The PostgreSQL listener of the relay (the `postgres` feature).

use std::time::Duration;

use openintent_types::wire::to_superset_value;
use serde_json::Value;
use sqlx::postgres::PgListener;
use tokio::sync::{broadcast, watch};

use crate::notify::{ANNOUNCEMENTS, Announced, Channel, Notification, Reread, parse_announcement};
use crate::store::{Store, StoreError};

/// How long the listener waits before connecting again after a failure.
const RECONNECT_DELAY: Duration = Duration::from_secs(1);

/// Listens on `url` and relays the announcements of other processes (see `relay::start`).
pub(super) async fn listen(store: &Store, url: String, mut closing: watch::Receiver<bool>) -> Result<(), StoreError> {
    let mut listener = PgListener::connect(&url).await?;
    listener.listen(ANNOUNCEMENTS).await?;
    let store = store.clone();
    let notifier = store.notifier().clone();
    tokio::spawn(async move {
        let origin = store.origin().to_owned();
        loop {
            tokio::select! {
                _ = closing.changed() => return,
                received = listener.try_recv() => match received {
                    Ok(Some(message)) => relay(&store, &origin, &notifier, message.payload()).await,
                    // The connection dropped; the next call reconnects and listens again.
                    Ok(None) => tracing::warn!("lost the PostgreSQL notification connection; reconnecting"),
                    Err(e) => {
                        tracing::warn!(error = %e, "PostgreSQL notification listener failed; retrying");
                        tokio::select! {
                            _ = closing.changed() => return,
                            () = tokio::time::sleep(RECONNECT_DELAY) => {}
                        }
                    }
                },
            }
        }
    });
    Ok(())
}

async fn relay(store: &Store, origin: &str, notifier: &broadcast::Sender<Notification>, payload: &str) {
    if let Some(n) = decode(store, origin, payload).await {
        // Dropped when nobody listens, like a local publication.
        let _ = notifier.send(n);
    }
}

/// The notification an announcement of another process stands for; `None` for announcements
/// of `own_origin`, unreadable ones, and re-reads of things gone meanwhile.
async fn decode(store: &Store, own_origin: &str, payload: &str) -> Option<Notification> {
    let announced = match parse_announcement(own_origin, payload) {
        Ok(announced) => announced?,
        Err(e) => {
            tracing::warn!(error = %e, "unreadable notification announcement ignored");
            return None;
        }
    };
    let (channel, event, id, after, what) = match announced {
        Announced::Whole(n) => return Some(n),
        Announced::Reread { channel, event, id, after, what } => (channel, event, id, after, what),
    };
    let key = match &channel {
        Channel::Intent(k) | Channel::Portfolio(k) | Channel::Agent(k) | Channel::Messages(k) | Channel::Inbox(k) => {
            k.as_str()
        }
    };
    match reread(store, key, &id, what).await {
        Ok(Some(data)) => Some(Notification::new(channel, event, data, id).after(after)),
        Ok(None) => None,
        Err(e) => {
            tracing::warn!(error = %e, "the data of a notification of another server could not be read");
            None
        }
    }
}

async fn reread(store: &Store, key: &str, id: &str, r: Reread) -> Result<Option<Value>, StoreError> {
    Ok(match r {
        Reread::Intent => store.get_intent(key).await?.map(|i| to_superset_value(&i)),
        Reread::Event => store.get_event(key, id).await?.map(|e| crate::notify::event_data(&e)),
        Reread::Assignment { intent, id } => {
            store.list_agents(&intent).await?.into_iter().find(|a| a.id == id).map(|a| to_superset_value(&a))
        }
        Reread::Message => store.get_message(key, id).await?.map(|m| to_superset_value(&m)),
    })
}
