//! Serving HTTP/1.1 connections within limits: how many at once, and how long one may idle.
//!
//! [`axum::serve`] keeps a connection open for as long as its client does: a client that never
//! sends its headers, sends half of them, or keeps a connection alive without using it holds a
//! socket, a file descriptor and its buffers forever, and enough of them exhaust the process's
//! open-file limit, after which nobody can connect. Here, instead:
//!
//! - **Idle timeout.** A connection must send a request's headers within
//!   [`ConnectionLimits::idle_timeout`] of opening, and again within that time of its previous
//!   response (keep-alive), else it is closed. Requests in progress and open event streams are
//!   not idle: their time is unlimited.
//! - **Connection limit.** At most [`ConnectionLimits::max_connections`] connections are served
//!   at once (by default a share of the open-file limit, so that the limit is reached before the
//!   file descriptors run out). When all are in use, the connections that have been idle for
//!   [`ConnectionLimits::shed_after`] (no request in progress) are closed to make room, and new
//!   connections wait in the listen backlog until a place is free: a flood of idle connections
//!   delays new clients by about `shed_after`, and never refuses them.
//!
//! Shutdown stops accepting, lets every request in progress finish, closes idle connections,
//! and returns once every connection has ended.

use std::convert::Infallible;
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tower::ServiceExt;

use crate::config::{ConnectionLimits, DEFAULT_MAX_CONNECTIONS};

/// The connection limit in effect: the configured one, else derived from the open-file limit.
pub(crate) fn effective_max_connections(limits: &ConnectionLimits) -> usize {
    limits.max_connections.unwrap_or_else(|| match open_file_limit() {
        Some(files) => {
            let reserve = (files / 10).max(64);
            files.saturating_sub(reserve).clamp(1, DEFAULT_MAX_CONNECTIONS)
        }
        None => DEFAULT_MAX_CONNECTIONS,
    })
}

/// The process's soft limit on open files, where the platform has one.
fn open_file_limit() -> Option<usize> {
    #[cfg(unix)]
    if let Some(files) = rustix::process::getrlimit(rustix::process::Resource::Nofile).current {
        return Some(usize::try_from(files).unwrap_or(usize::MAX));
    }
    None
}

/// What the server knows about one connection: whether a request is in progress on it, and
/// since when it has been idle.
struct Activity {
    /// Requests whose response (body included) has not been sent yet.
    in_flight: AtomicUsize,
    /// Milliseconds since `epoch` at which the connection last became idle.
    idle_since_ms: AtomicU64,
    epoch: Instant,
}

impl Activity {
    fn new() -> Arc<Self> {
        Arc::new(Activity { in_flight: AtomicUsize::new(0), idle_since_ms: AtomicU64::new(0), epoch: Instant::now() })
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Whether no request is in progress and none has been for `at_least`.
    fn idle_for(&self, at_least: Duration) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0
            && self.now_ms().saturating_sub(self.idle_since_ms.load(Ordering::Acquire))
                >= u64::try_from(at_least.as_millis()).unwrap_or(u64::MAX)
    }
}

/// Marks a request in progress from its arrival until its response body is dropped (sent or
/// abandoned).
struct InFlight(Arc<Activity>);

impl InFlight {
    fn enter(activity: &Arc<Activity>) -> Self {
        activity.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(activity.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.idle_since_ms.store(self.0.now_ms(), Ordering::Release);
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// `body`, holding `guard` until it is dropped (sent or abandoned): a request marked in
/// progress, an open stream counted in a gauge, ...
pub(crate) fn holding<G: Send + 'static>(body: Body, guard: G) -> Body {
    Body::new(Holding { body, _guard: guard })
}

/// A response body with a guard dropped with it (see [`holding`]).
struct Holding<G> {
    body: Body,
    _guard: G,
}

// The guard is never pinned: only the body is polled, and it is `Unpin`.
impl<G> Unpin for Holding<G> {}

impl<G> hyper::body::Body for Holding<G> {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// Serves `router` on `listener` within `limits` until `shutdown` completes, then finishes
/// the requests in progress and returns when every connection has ended. Open connections are
/// counted in `metrics`.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    metrics: Arc<crate::metrics::Metrics>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let places = Arc::new(Semaphore::new(effective_max_connections(&limits)));
    let shed_after = limits.shed_after.min(limits.idle_timeout);
    // Wakes the idle connections when every place is taken.
    let shed = Arc::new(Notify::new());
    // Dropped when shutdown starts; each connection task holds a receiver of `done`, so
    // `done_tx.closed()` completes when the last one has ended.
    let (stopping_tx, stopping) = watch::channel(());
    let (done_tx, done) = watch::channel(());
    let mut shutdown = pin!(shutdown);

    loop {
        let place = tokio::select! {
            () = &mut shutdown => break,
            place = take_place(&places, &shed, shed_after) => place,
        };
        let stream = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let connection = Connection {
            router: router.clone(),
            idle_timeout: limits.idle_timeout,
            shed_after,
            shed: shed.clone(),
            stopping: stopping.clone(),
            _done: done.clone(),
            _place: place,
            _counted: metrics.connection(),
        };
        tokio::spawn(connection.run(stream));
    }

    drop(listener);
    drop(stopping_tx);
    drop(done);
    done_tx.closed().await;
    Ok(())
}

/// A free place for one more connection; when none is free, closes idle connections until one
/// is.
async fn take_place(places: &Arc<Semaphore>, shed: &Notify, shed_after: Duration) -> OwnedSemaphorePermit {
    if let Ok(place) = places.clone().try_acquire_owned() {
        return place;
    }
    loop {
        shed.notify_waiters();
        let wait = (shed_after / 4).max(Duration::from_millis(20));
        if let Ok(Ok(place)) = tokio::time::timeout(wait, places.clone().acquire_owned()).await {
            return place;
        }
    }
}

/// After a failed `accept`: connection errors concern only that client; anything else (out of
/// file descriptors, for one) is given a moment to pass.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(e.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset) {
        return;
    }
    tracing::warn!(error = %e, "accepting a connection failed; retrying shortly");
    tokio::time::sleep(Duration::from_millis(50)).await;
}

/// One accepted connection and what it needs to serve itself.
struct Connection {
    router: Router,
    idle_timeout: Duration,
    shed_after: Duration,
    shed: Arc<Notify>,
    stopping: watch::Receiver<()>,
    /// Held until the connection ends (see `serve`).
    _done: watch::Receiver<()>,
    /// Its place under the connection limit, freed when it ends.
    _place: OwnedSemaphorePermit,
    /// Counts it in the open connections gauge until it ends.
    _counted: crate::metrics::Gauge,
}

impl Connection {
    async fn run(mut self, stream: tokio::net::TcpStream) {
        let activity = Activity::new();
        let service = {
            let activity = activity.clone();
            let router = self.router.clone();
            hyper::service::service_fn(move |req: Request<Incoming>| {
                let in_flight = InFlight::enter(&activity);
                let router = router.clone();
                async move {
                    let response: Response = router.oneshot(req.map(Body::new)).await?;
                    Ok::<_, Infallible>(response.map(|body| holding(body, in_flight)))
                }
            })
        };
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder.timer(TokioTimer::new()).header_read_timeout(self.idle_timeout);
        let mut conn = pin!(builder.serve_connection(TokioIo::new(stream), service));
        let mut closing = false;
        loop {
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "connection ended");
                    }
                    return;
                }
                _ = self.stopping.changed(), if !closing => {
                    closing = true;
                    conn.as_mut().graceful_shutdown();
                }
                () = self.shed.notified(), if !closing => {
                    if activity.idle_for(self.shed_after) {
                        closing = true;
                        conn.as_mut().graceful_shutdown();
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_checked() {
        assert!(ConnectionLimits::default().check().is_ok());
        assert_eq!(ConnectionLimits::default().max_connections(0).check().unwrap_err().setting, "max-connections");
        assert_eq!(
            ConnectionLimits::default().idle_timeout(Duration::ZERO).check().unwrap_err().setting,
            "idle-timeout"
        );
    }

    #[test]
    fn the_derived_limit_leaves_room_below_the_open_file_limit() {
        let max = effective_max_connections(&ConnectionLimits::default());
        assert!((1..=DEFAULT_MAX_CONNECTIONS).contains(&max));
        if let Some(files) = open_file_limit() {
            assert!(max < files, "{max} connections would use every one of {files} files");
        }
        assert_eq!(effective_max_connections(&ConnectionLimits::default().max_connections(7)), 7);
    }

    #[test]
    fn a_connection_is_idle_only_without_a_request_in_progress() {
        let activity = Activity::new();
        assert!(activity.idle_for(Duration::ZERO));
        let request = InFlight::enter(&activity);
        assert!(!activity.idle_for(Duration::ZERO));
        drop(request);
        assert!(activity.idle_for(Duration::ZERO));
        assert!(!activity.idle_for(Duration::from_secs(60)));
    }
}
