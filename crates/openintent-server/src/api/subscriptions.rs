//! Webhook subscriptions (RFC-0006): create (answering the signing secret once), list, delete,
//! and a subscription's deliveries.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use openintent_types::{CreateSubscriptionRequest, DeliveryStatus};
use serde_json::{Value, json};

use super::acl::require_readable_refs;
use super::extract::{JsonBody, Principal, QueryParams, enum_schema, keyed, one_of_query};
use super::reply::wire;
use super::spec::{
    LIMIT_50, OFFSET, Op, Query, Reply, op, q_limit_50, q_offset, q_string, reference, request, timestamp_schema,
};
use crate::error::{ApiError, ApiResult};
use crate::rules::ownership::{self, Access, Object};
use crate::state::AppState;

/// This area's routes, each method behind the API-key check.
pub(super) fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/api/v1/subscriptions", keyed(state, post(create_subscription).get(list_subscriptions)))
        .route("/api/v1/subscriptions/{id}", keyed(state, delete(delete_subscription)))
        .route("/api/v1/subscriptions/{id}/deliveries", keyed(state, get(list_deliveries)))
}

async fn create_subscription(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<CreateSubscriptionRequest>,
) -> ApiResult<Json<Value>> {
    if let Some(url) = &body.webhook_url
        && crate::webhook::has_credentials(url)
    {
        // The value is not echoed: it holds the credentials.
        return Err(ApiError::invalid_field(
            "webhook_url",
            "value_error",
            "Value error, webhook_url must not carry credentials (user:password@); authenticate the \
             deliveries by their X-OpenIntent-Signature instead",
            None,
        ));
    }
    if state.webhook_deny_private()
        && let Some(url) = &body.webhook_url
        && let Some(ip) = crate::webhook::literal_non_public_host(url)
    {
        return Err(ApiError::invalid_field(
            "webhook_url",
            "value_error",
            format!(
                "Value error, webhook_url host {ip} is a loopback, private, link-local or otherwise non-public \
                 address, which this server does not deliver to"
            ),
            Some(json!(url)),
        ));
    }
    let subscriber = principal.acting_as("subscriber_id", body.subscriber_id.as_deref())?;
    // An intent the subscriber may not read is refused as an unknown one would be (its events
    // would never be delivered to this subscription either: `enqueue_deliveries`).
    require_readable_refs(&state, &subscriber, "Intent", "intent_id", body.intent_id.as_deref()).await?;
    // The signing secret of webhook deliveries: returned here once, never listed again.
    let secret = crate::webhook::new_secret();
    let sub = state.store().create_subscription(&body, &subscriber, &secret).await?;
    let mut out = wire(&sub);
    if let Value::Object(map) = &mut out {
        map.insert("secret".into(), Value::String(secret));
    }
    Ok(Json(out))
}

/// The caller's subscriptions (everyone's for an admin key: [`ownership`]).
async fn list_subscriptions(State(state): State<AppState>, p: Principal, q: QueryParams) -> ApiResult<Json<Value>> {
    let subscriber = match q.get("subscriber_id") {
        _ if p.role().manages_others_resources() => q.get("subscriber_id"),
        Some(other) if other != p.as_str() => return Ok(Json(json!({"subscriptions": []}))),
        _ => Some(p.as_str()),
    };
    let subs = state.store().list_subscriptions(q.get("intent_id"), q.get("portfolio_id"), subscriber).await?;
    let items: Vec<Value> = subs.iter().map(wire).collect();
    Ok(Json(json!({"subscriptions": items})))
}

async fn delete_subscription(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    owned_subscription(&state, &principal, &id, Access::Change).await?;
    if state.store().delete_subscription(&id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("Subscription not found"))
    }
}

/// Whether the caller may `access` subscription `id` ([`ownership`]); a 404 when it does not
/// exist or the caller may not (which does not disclose that it exists).
async fn owned_subscription(state: &AppState, principal: &Principal, id: &str, access: Access) -> ApiResult<()> {
    let subscriber = state.store().subscription_subscriber(id).await?;
    let Some(subscriber) = subscriber else { return Err(ApiError::not_found("Subscription not found")) };
    ownership::check(Object::Subscription, access, principal.as_str(), principal.role(), &[Some(&subscriber)])?;
    Ok(())
}

/// The webhook deliveries of one subscription, newest first; only its subscriber (or an admin
/// key) may look.
async fn list_deliveries(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    q: QueryParams,
) -> ApiResult<Json<Value>> {
    let status = q.get("status");
    one_of_query("status", status, &DeliveryStatus::known_names())?;
    let limit = q.int_of(&LIMIT_50)?;
    let offset = q.int_of(&OFFSET)?;
    owned_subscription(&state, &principal, &id, Access::Read).await?;
    let (deliveries, total) = state.store().list_deliveries(&id, status, limit, offset).await?;
    Ok(Json(json!({"deliveries": deliveries, "total": total, "limit": limit, "offset": offset})))
}

// ----- OpenAPI ------------------------------------------------------------------------------

fn q_delivery_status() -> Value {
    enum_schema(&DeliveryStatus::known_names())
}

const SUBSCRIPTION_QUERY: &[Query] = &[
    ("intent_id", q_string, "Only subscriptions of this intent"),
    ("portfolio_id", q_string, "Only subscriptions of this portfolio"),
    ("subscriber_id", q_string, "Only subscriptions of this subscriber"),
];

const DELIVERY_QUERY: &[Query] = &[
    ("status", q_delivery_status, "Only deliveries with this status"),
    ("limit", q_limit_50, "Page size"),
    ("offset", q_offset, "Deliveries to skip"),
];

/// The operations of this area, for the OpenAPI document.
pub(super) const OPERATIONS: &[Op] = &[
    op("post", "/api/v1/subscriptions", "createSubscription", "subscriptions", "Create a webhook subscription")
        .body(request!(CreateSubscriptionRequest))
        .errors(&[404])
        .reply(Reply::Json(created_subscription_schema)),
    op(
        "get",
        "/api/v1/subscriptions",
        "listSubscriptions",
        "subscriptions",
        "List the caller's webhook subscriptions (everyone's for an admin key)",
    )
    .query(SUBSCRIPTION_QUERY)
    .reply(Reply::Json(subscription_page_schema)),
    op(
        "delete",
        "/api/v1/subscriptions/{id}",
        "deleteSubscription",
        "subscriptions",
        "Delete a subscription (its subscriber or an admin key)",
    )
    .reply(Reply::NoContent),
    op(
        "get",
        "/api/v1/subscriptions/{id}/deliveries",
        "listSubscriptionDeliveries",
        "subscriptions",
        "A subscription's webhook deliveries, newest first (its subscriber or an admin key)",
    )
    .query(DELIVERY_QUERY)
    .reply(Reply::Json(delivery_page_schema)),
];

/// The created subscription, with the webhook signing secret (returned only here).
fn created_subscription_schema() -> Value {
    json!({
        "allOf": [
            reference("Subscription"),
            {
                "type": "object",
                "properties": {"secret": {
                    "type": "string",
                    "description": "The HMAC-SHA256 key of the X-OpenIntent-Signature header of webhook deliveries. \
                                    Returned once, on creation; never listed again.",
                }},
                "required": ["secret"],
            },
        ],
    })
}

fn subscription_page_schema() -> Value {
    json!({
        "type": "object",
        "properties": {"subscriptions": {"type": "array", "items": reference("Subscription")}},
        "required": ["subscriptions"],
    })
}

/// A page of a subscription's webhook deliveries.
fn delivery_page_schema() -> Value {
    let time = timestamp_schema();
    let nullable = |t: &str| json!({"type": [t, "null"]});
    let mut nullable_time = timestamp_schema();
    nullable_time["type"] = json!(["string", "null"]);
    let delivery = json!({
        "type": "object",
        "properties": {
            "id": {"type": "string", "description": "The delivery id (the X-OpenIntent-Delivery header)"},
            "event_id": {"type": "string"},
            "event_type": {"type": "string"},
            "status": enum_schema(&DeliveryStatus::known_names()),
            "attempts": {"type": "integer"},
            "last_error": nullable("string"),
            "last_status": {"type": ["integer", "null"], "description": "HTTP status of the last attempt"},
            "next_attempt_at": nullable_time,
            "created_at": time,
            "delivered_at": nullable_time,
        },
        "required": ["id", "event_id", "event_type", "status", "attempts", "created_at"],
    });
    json!({
        "type": "object",
        "properties": {
            "deliveries": {"type": "array", "items": delivery},
            "total": {"type": "integer"},
            "limit": {"type": "integer"},
            "offset": {"type": "integer"},
        },
        "required": ["deliveries", "total"],
    })
}
