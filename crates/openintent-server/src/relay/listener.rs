//! The PostgreSQL listener of the relay (the `postgres` feature).

use std::time::Duration;

use sqlx::postgres::PgListener;
use tokio::sync::{broadcast, watch};

use super::decode;
use crate::notify::{ANNOUNCEMENTS, Notification};
use crate::store::{Store, StoreError};

/// How long the listener waits before connecting again after a failure.
const RECONNECT_DELAY: Duration = Duration::from_secs(1);

/// Listens on `url` and relays the announcements of other processes (see [`super::start`]).
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
