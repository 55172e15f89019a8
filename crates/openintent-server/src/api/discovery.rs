//! Discovery (keyless): the well-known documents, the server configuration and health. The
//! OpenAPI document, also keyless, is served by [`super::openapi`].

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::spec::{Op, Reply, op};
use crate::state::AppState;

/// This area's routes; none needs a key.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/.well-known/openintent.json", get(discovery))
        .route("/.well-known/openintent-compat.json", get(compat))
        .route("/api/v1/server/config", get(server_config))
        .route("/health", get(health))
}

const RFC_URLS: &[&str] =
    &["/rfc/0001", "/rfc/0002", "/rfc/0003", "/rfc/0004", "/rfc/0005", "/rfc/0006", "/rfc/0009", "/rfc/0010"];

async fn discovery() -> Json<Value> {
    Json(json!({
        "protocol": "OpenIntent Coordination Protocol",
        "version": "0.1",
        "rfcUrls": RFC_URLS,
        "capabilities": [
            "intents", "events", "agents", "state-patches", "optimistic-concurrency", "portfolios",
            "attachments", "subscriptions", "cost-tracking", "retry-policies", "leasing", "governance",
            "governance-enforcement",
        ],
        // Served by the OpenAPI module.
        "openApiUrl": "/openapi.json",
        "implementation": "openintent-rs",
        "implementationVersion": env!("CARGO_PKG_VERSION"),
    }))
}

async fn compat() -> Json<Value> {
    Json(json!({
        "implementation": "openintent-rs",
        "version": env!("CARGO_PKG_VERSION"),
        "rfcCompliance": {
            "RFC-0001": "full", "RFC-0002": "partial", "RFC-0003": "full", "RFC-0004": "partial",
            "RFC-0005": "partial", "RFC-0006": "partial", "RFC-0009": "full", "RFC-0010": "partial",
        },
        "features": {
            "intents": true, "events": true, "agents": true, "statePatches": true,
            "optimisticConcurrency": true, "leasing": true, "leaseGuardedState": true,
            "governance": true, "governanceEnforcement": true, "portfolios": true,
            "attachments": true, "subscriptions": true, "costTracking": true, "retryPolicies": true,
            "accessControl": false, "intentListing": true, "arbitrationRecords": true,
        },
    }))
}

async fn server_config() -> Json<Value> {
    Json(json!({"protocol_version": "0.1", "suspension": {"default_retry_policy": null}}))
}

async fn health(State(state): State<AppState>) -> Response {
    match state.store().ping().await {
        Ok(_) => Json(json!({"status": "ok"})).into_response(),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"status": "unavailable"}))).into_response(),
    }
}

// ----- OpenAPI ------------------------------------------------------------------------------

/// The operations of this area, for the OpenAPI document.
pub(super) const OPERATIONS: &[Op] = &[
    op("get", "/.well-known/openintent.json", "discovery", "discovery", "Protocol discovery document")
        .keyless()
        .reply(Reply::Json(discovery_schema)),
    op("get", "/.well-known/openintent-compat.json", "compatibility", "discovery", "RFC compliance and features")
        .keyless(),
    op("get", "/api/v1/server/config", "serverConfig", "discovery", "Server configuration").keyless(),
    op("get", "/health", "health", "discovery", "Liveness and database reachability")
        .keyless()
        .reply(Reply::Json(health_schema))
        .errors(&[503]),
];

fn discovery_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "protocol": {"type": "string"},
            "version": {"type": "string"},
            "rfcUrls": {"type": "array", "items": {"type": "string"}},
            "capabilities": {"type": "array", "items": {"type": "string"}},
            "openApiUrl": {"type": "string"},
        },
    })
}

fn health_schema() -> Value {
    json!({"type": "object", "properties": {"status": {"type": "string"}}, "required": ["status"]})
}
