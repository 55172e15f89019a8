//! The HTTP layer (PROTOCOL.md §6): one module per protocol area, each holding that area's
//! routes, handlers, request-body schemas and OpenAPI operations; what handlers read from a
//! request ([`extract`]) and answer ([`reply`]); the OpenAPI document ([`openapi`], from the
//! areas' operations described in the vocabulary of [`spec`]); and the middleware that wraps
//! every route.
//!
//! Handlers check the request, call the store (`state.store().<operation>(...).await?`) and
//! shape the answer; errors become JSON bodies through [`ApiError`].

mod acl;
mod arbitration;
mod assignments;
mod attachments;
mod channels;
pub(crate) mod console;
mod coordinators;
mod costs;
mod discovery;
mod events;
pub(crate) mod extract;
mod governance;
mod graph;
mod hitl;
mod inbox;
mod intents;
mod leases;
pub(crate) mod metrics;
pub(crate) mod openapi;
mod portfolios;
mod registry;
mod reply;
mod retries;
mod spec;
mod streams;
mod subscriptions;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::ApiError;
use crate::state::AppState;

/// The `/api/v1` routes of every area and the event streams. Each method of each route
/// requires a valid API key; a wrong method answers 405 and an unknown path 404 without looking
/// at the key (as the reference does), except on the stream routes (see [`streams::routes`]).
pub(crate) fn api_routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .merge(intents::routes(state))
        .merge(events::routes(state))
        .merge(assignments::routes(state))
        .merge(registry::routes(state))
        .merge(graph::routes(state))
        .merge(leases::routes(state))
        .merge(arbitration::routes(state))
        .merge(attachments::routes(state))
        .merge(costs::routes(state))
        .merge(retries::routes(state))
        .merge(portfolios::routes(state))
        .merge(subscriptions::routes(state))
        .merge(streams::routes(state))
        .merge(streams::sdk::routes(state))
        .merge(governance::routes(state))
        .merge(coordinators::routes(state))
        .merge(hitl::routes(state))
        .merge(acl::routes(state))
        .merge(channels::routes(state))
        .merge(inbox::routes(state))
        // Keep last: covers every per-intent route merged above.
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), acl::enforce))
}

/// The keyless routes: discovery, server configuration, health, the OpenAPI document, and the
/// console's pages (`/` redirects to `/console`).
pub(crate) fn public_routes() -> Router<AppState> {
    Router::new().merge(discovery::routes()).merge(openapi::routes()).merge(console::routes())
}

/// The answer to a path no route serves: 404 `{"detail":"Not Found"}`.
pub(crate) async fn not_found() -> ApiError {
    ApiError::NotFound("Not Found".to_owned())
}

/// Middleware that runs every request other than `GET`, `HEAD` and `OPTIONS` on a task of its
/// own, so that a write, once started, runs to its commit or its rollback whatever happens to
/// the connection that asked for it.
///
/// hyper drops a request's future when its client disconnects (a timeout, Ctrl-C). A write
/// dropped at the wrong `.await` would stop halfway through its transaction, and a transaction
/// dropped while it begins can leave a pooled connection inside a transaction that holds
/// SQLite's write lock, wedging every later write. On its own task the request's work always
/// finishes; only the answer is lost when nobody waits for it. Reads are left on the connection's
/// task: dropping them is harmless, and event streams must end with their client.
pub async fn run_writes_to_completion(req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    // The handling stays inside the request's span (see `crate::telemetry`).
    match tokio::spawn(tracing::Instrument::instrument(next.run(req), tracing::Span::current())).await {
        Ok(resp) => resp,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        // Only a runtime that is shutting down cancels a task.
        Err(_) => ApiError::Unavailable("The server is shutting down".to_owned()).into_response(),
    }
}

/// Middleware turning every non-JSON error response (unknown route, wrong method, rejected path
/// parameter, ...) into `{"detail": ...}` with the same status.
pub async fn json_errors(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    if is_json {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text).trim().to_owned();
    let detail = match status {
        StatusCode::NOT_FOUND => "Not Found".to_owned(),
        StatusCode::METHOD_NOT_ALLOWED => "Method Not Allowed".to_owned(),
        StatusCode::INTERNAL_SERVER_ERROR => "Internal Server Error".to_owned(),
        _ if !text.is_empty() => text,
        _ => status.canonical_reason().unwrap_or("Error").to_owned(),
    };
    let body = serde_json::to_vec(&json!({ "detail": detail })).unwrap_or_default();
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}
