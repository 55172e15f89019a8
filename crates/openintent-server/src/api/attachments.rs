//! Attachments (RFC-0005): file references of an intent.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, post};
use openintent_types::CreateAttachmentRequest;
use serde_json::Value;

use super::extract::{JsonBody, Principal, keyed};
use super::reply::{list, of_intent, wire};
use super::spec::{Op, Reply, op, request};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// This area's routes, each method behind the API-key check.
pub(super) fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/api/v1/intents/{id}/attachments", keyed(state, post(add_attachment).get(list_attachments)))
        .route("/api/v1/intents/{id}/attachments/{attachment_id}", keyed(state, delete(delete_attachment)))
}

async fn add_attachment(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<CreateAttachmentRequest>,
) -> ApiResult<Json<Value>> {
    let attachment = state.store().add_attachment(&id, &body, &principal.0).await?;
    Ok(Json(wire(&attachment)))
}

async fn list_attachments(
    State(state): State<AppState>,
    _p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(list(&of_intent(&state, &id, state.store().list_attachments(&id).await?).await?))
}

async fn delete_attachment(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, attachment_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    if state.store().delete_attachment(&id, &attachment_id, principal.as_str(), principal.role()).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("Attachment not found"))
    }
}

// ----- OpenAPI ------------------------------------------------------------------------------

/// The operations of this area, for the OpenAPI document.
pub(super) const OPERATIONS: &[Op] = &[
    op("post", "/api/v1/intents/{id}/attachments", "addAttachment", "attachments", "Attach a file reference")
        .body(request!(CreateAttachmentRequest))
        .reply(Reply::Model("Attachment")),
    op("get", "/api/v1/intents/{id}/attachments", "listAttachments", "attachments", "Attachments of an intent")
        .reply(Reply::List("Attachment")),
    op(
        "delete",
        "/api/v1/intents/{id}/attachments/{attachment_id}",
        "deleteAttachment",
        "attachments",
        "Delete an attachment (its uploader, the intent's creator or an admin key)",
    )
    .reply(Reply::NoContent),
];
