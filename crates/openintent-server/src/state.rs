//! Shared application state and the in-process notification hook.
//!
//! Building a state starts nothing. Startup wiring lives with `spawn` and `serve` in the crate
//! root: their `start` opens the store, builds the state and starts the relay of other server
//! processes' notifications beside the other background work; [`AppState::open`] (also there)
//! does the first three for a program that serves the router itself.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{broadcast, watch};

use crate::config::{ApiKey, ServerConfig};
pub use crate::notify::{Channel, NOTIFICATION_BUFFER, Notification};
use crate::store::Store;

/// How long an event stream may stay idle before it sends a `: ping` comment.
pub const DEFAULT_SSE_KEEP_ALIVE: Duration = Duration::from_secs(15);

/// State shared by every handler: storage, accepted keys, limits and the notification sender.
///
/// Cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    api_keys: Vec<ApiKey>,
    body_limit: usize,
    /// [`crate::WebhookConfig::deny_private`]: subscriptions to literal non-public IPs are refused.
    webhook_deny_private: bool,
    notifier: broadcast::Sender<Notification>,
    /// Keep-alive interval of event streams, in milliseconds (0: no pings).
    sse_keep_alive_ms: AtomicU64,
    /// Becomes `true` when the server shuts down: open event streams end.
    closing: watch::Sender<bool>,
}

impl AppState {
    /// State over an opened store.
    ///
    /// Its event streams carry the changes committed through this store (by any state over
    /// it); [`AppState::open`] also relays, on PostgreSQL, the changes made by other server
    /// processes.
    pub fn new(store: Store, config: &ServerConfig) -> Self {
        let store = store.with_max_state_bytes(config.max_state_bytes());
        let notifier = store.notifier().clone();
        AppState {
            inner: Arc::new(Inner {
                store,
                api_keys: config.api_keys().to_vec(),
                body_limit: config.body_limit(),
                webhook_deny_private: config.webhooks().deny_private,
                notifier,
                sse_keep_alive_ms: AtomicU64::new(duration_ms(DEFAULT_SSE_KEEP_ALIVE)),
                closing: watch::Sender::new(false),
            }),
        }
    }

    /// The storage.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The accepted keys.
    pub fn api_keys(&self) -> &[ApiKey] {
        &self.inner.api_keys
    }

    /// The largest accepted request body, in bytes.
    pub fn body_limit(&self) -> usize {
        self.inner.body_limit
    }

    /// Whether webhook subscriptions to non-public destinations are refused
    /// ([`crate::WebhookConfig::deny_private`]).
    pub fn webhook_deny_private(&self) -> bool {
        self.inner.webhook_deny_private
    }

    /// A receiver of every notification published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Notification> {
        self.inner.notifier.subscribe()
    }

    /// The sender notifications are published on.
    pub fn notifier(&self) -> &broadcast::Sender<Notification> {
        &self.inner.notifier
    }

    /// Publishes a notification on this process's streams (dropped when nobody listens). The
    /// server's own writes publish theirs when they commit, and the relay publishes those of
    /// other processes through the store; this is for an embedding program's own notifications.
    pub fn publish(&self, notification: Notification) {
        let _ = self.inner.notifier.send(notification);
    }

    /// How long an event stream may stay idle before it sends a `: ping` comment
    /// ([`DEFAULT_SSE_KEEP_ALIVE`] unless changed); `None` when pings are off.
    pub fn sse_keep_alive(&self) -> Option<Duration> {
        match self.inner.sse_keep_alive_ms.load(Ordering::Relaxed) {
            0 => None,
            ms => Some(Duration::from_millis(ms)),
        }
    }

    /// Sets the keep-alive interval of event streams opened from now on (in whole milliseconds,
    /// at least one; zero turns pings off).
    pub fn set_sse_keep_alive(&self, interval: Duration) {
        self.inner.sse_keep_alive_ms.store(duration_ms(interval), Ordering::Relaxed);
    }

    /// Ends every open event stream, and makes streams opened later end at once, so that a
    /// graceful shutdown does not wait for subscribers that never disconnect.
    pub fn close_streams(&self) {
        self.inner.closing.send_replace(true);
    }

    /// Whether [`AppState::close_streams`] was called, as a receiver that is notified when it is.
    pub fn streams_closing(&self) -> watch::Receiver<bool> {
        self.inner.closing.subscribe()
    }
}

fn duration_ms(d: Duration) -> u64 {
    if d.is_zero() {
        return 0;
    }
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}
