//! The HTTP side of the operational metrics ([`crate::metrics`]): the middleware that counts
//! and times every response by route template, and the separate listener that serves
//! `GET /metrics` ([`crate::ServerConfigBuilder::metrics_addr`], off by default).

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::metrics::Snapshot;
use crate::state::AppState;

/// The methods that are labels as they are; any other is counted as `other`.
const STANDARD_METHODS: [&str; 9] = ["CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE"];

/// The label of requests no route matched (so that raw paths never become labels).
const UNMATCHED: &str = "unmatched";

/// Middleware (inside the router, so the matched route template is known): counts and times
/// every response, and counts event streams as open until their body is dropped.
pub(crate) async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    // Any token is a method: only the standard ones become labels (bounded label values).
    let method = match STANDARD_METHODS.iter().find(|m| **m == request.method().as_str()) {
        Some(m) => *m,
        None => "other",
    };
    let route = request.extensions().get::<MatchedPath>().cloned();
    let response = next.run(request).await;
    let metrics = state.store().metrics();
    let route = route.as_ref().map_or(UNMATCHED, MatchedPath::as_str);
    metrics.request(method, route, response.status().as_u16(), started.elapsed());
    let event_stream = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    if !event_stream {
        return response;
    }
    let guard = metrics.stream();
    let (parts, body) = response.into_parts();
    Response::from_parts(parts, crate::connections::holding(body, guard))
}

/// `GET /metrics` of the metrics listener.
async fn scrape(State(state): State<AppState>) -> Response {
    let store = state.store();
    let pending_deliveries = match store.pending_delivery_count().await {
        Ok(n) => Some(n),
        Err(e) => {
            tracing::warn!(error = %e, "metrics: could not count pending webhook deliveries");
            None
        }
    };
    let (pool_size, pool_idle) = store.pool_usage();
    let text = store.metrics().render(Snapshot { pending_deliveries, pool_size, pool_idle });
    let content_type = HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8");
    ([(header::CONTENT_TYPE, content_type)], text).into_response()
}

/// The router of the metrics listener: `GET /metrics` only.
pub(crate) fn router(state: AppState) -> axum::Router {
    axum::Router::new().route("/metrics", axum::routing::get(scrape)).with_state(state)
}

/// Serves [`router`] on `listener` until `stop` is signalled.
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<()> {
    let stopped = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    axum::serve(listener, router(state)).with_graceful_shutdown(stopped).await
}
