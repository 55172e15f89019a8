//! Notifications across server processes that share one PostgreSQL database.
//!
//! Every write transaction that publishes a [`Notification`](crate::notify::Notification) (each event appended to an
//! intent's log, agent assignments, portfolio membership changes) also announces it with
//! `pg_notify` inside the transaction, so PostgreSQL delivers the announcement to every
//! listening process when, and only if, the transaction commits, in commit order. Each process
//! runs one listener task ([`start`]) that publishes the announcements of *other* processes on
//! its local broadcast, from which its event streams read; the process that made the change
//! publishes it itself, at once, as on SQLite.
//!
//! An announcement (its wire form is in `notify.rs`) is small JSON: the origin process, the
//! channel, the event name, the SSE id, the data, and for a log event the id of the event
//! before it (so that the streams of every process send it without reading the log). PostgreSQL refuses payloads of 8000 bytes
//! or more, so when the data does not fit the announcement names what to re-read instead (the
//! intent, the logged event, or the assignment), which the listener reads from the shared
//! database; a re-read intent is the intent as it is when the listener reads it, like a
//! replayed message of an event stream.
//!
//! When the listener's connection drops it reconnects; announcements made meanwhile are not
//! delivered live, and a client that resumes its stream with `Last-Event-ID` gets them from the
//! shared database (the event log, or the kept portfolio and agent stream messages).

use tokio::sync::watch;

use crate::store::{Store, StoreError};

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
