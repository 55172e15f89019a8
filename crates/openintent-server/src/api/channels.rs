//! Messaging channels and messages (RFC-0021): channels scoped to an intent, messages,
//! replies and read state, kept in the database (shared by every server process over it).
//! Sent messages and replies go out on the channel's stream (`/api/v1/subscribe/channels/{cid}`,
//! `channel_message`). Channel routes are checked under their intent's ACL.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use openintent_types::{
    ChannelClosed, ChannelStatus, CreateChannelRequest, MessageQuery, ReplyRequest, SendMessageRequest,
    UpdateChannelRequest, UpdateMessageRequest,
};
use serde_json::Value;

use super::extract::{JsonBody, Principal, QueryParams, keyed};
use super::reply::{list, of_intent, wire};
use super::spec::{Op, Query, Reply, op, q_string, request};
use crate::error::{ApiError, ApiResult};
use crate::rules::ownership::{self, Access, Object};
use crate::state::AppState;
use crate::store::channels::{CHANNEL_NOT_FOUND, MESSAGE_NOT_FOUND, Refusal};

/// This area's routes, each method behind the API-key check.
pub(super) fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/api/v1/intents/{id}/channels", keyed(state, post(create_channel).get(list_channels)))
        .route(
            "/api/v1/channels/{channel_id}",
            keyed(state, get(get_channel).patch(update_channel).delete(close_channel)),
        )
        .route("/api/v1/channels/{channel_id}/messages", keyed(state, post(send_message).get(list_messages)))
        .route(
            "/api/v1/channels/{channel_id}/messages/{message_id}",
            keyed(state, get(get_message).patch(update_message)),
        )
        .route("/api/v1/channels/{channel_id}/messages/{message_id}/reply", keyed(state, post(reply)))
}

fn refused(r: Refusal) -> ApiError {
    match r {
        Refusal::NameTaken => ApiError::conflict("An open channel of that name exists on this intent"),
        Refusal::Closed => ApiError::conflict("Channel is closed"),
        Refusal::NotMember => ApiError::Forbidden("The sender is not a member of this channel".to_owned()),
    }
}

fn created(v: Value) -> Response {
    (StatusCode::CREATED, Json(v)).into_response()
}

async fn create_channel(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<CreateChannelRequest>,
) -> ApiResult<Response> {
    let channel = state.store().create_channel(&id, &body, principal.as_str()).await?.map_err(refused)?;
    Ok(created(wire(&channel)))
}

async fn list_channels(State(state): State<AppState>, _p: Principal, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    Ok(list(&of_intent(&state, &id, state.store().list_channels(&id).await?).await?))
}

async fn get_channel(State(state): State<AppState>, _p: Principal, Path(cid): Path<String>) -> ApiResult<Json<Value>> {
    let channel = state.store().get_channel(&cid).await?.ok_or_else(|| ApiError::not_found(CHANNEL_NOT_FOUND))?;
    Ok(Json(wire(&channel)))
}

/// Whether the caller may change or close channel `cid` ([`ownership`]: its creator, the
/// intent's creator, an admin key); 404 when there is no such channel, 403 otherwise.
async fn may_change(state: &AppState, p: &Principal, cid: &str) -> ApiResult<()> {
    let channel = state.store().get_channel(cid).await?.ok_or_else(|| ApiError::not_found(CHANNEL_NOT_FOUND))?;
    let intent_creator = state.store().get_intent(&channel.intent_id).await?.map(|i| i.created_by);
    let owners = [Some(channel.created_by.as_str()), intent_creator.as_deref()];
    ownership::check(Object::Channel, Access::Change, p.as_str(), p.role(), &owners)?;
    Ok(())
}

async fn update_channel(
    State(state): State<AppState>,
    p: Principal,
    Path(cid): Path<String>,
    JsonBody(body): JsonBody<UpdateChannelRequest>,
) -> ApiResult<Json<Value>> {
    may_change(&state, &p, &cid).await?;
    Ok(Json(wire(&state.store().update_channel(&cid, &body).await?)))
}

/// Closes the channel (its messages stay readable; the reference deletes both).
async fn close_channel(State(state): State<AppState>, p: Principal, Path(cid): Path<String>) -> ApiResult<Json<Value>> {
    may_change(&state, &p, &cid).await?;
    let mut close = UpdateChannelRequest::default();
    close.status = Some(ChannelStatus::Closed);
    let channel = state.store().update_channel(&cid, &close).await?;
    let mut answer = ChannelClosed::default();
    answer.status = ChannelStatus::Closed;
    answer.channel_id = channel.id;
    Ok(Json(wire(&answer)))
}

async fn send_message(
    State(state): State<AppState>,
    principal: Principal,
    Path(cid): Path<String>,
    JsonBody(mut body): JsonBody<SendMessageRequest>,
) -> ApiResult<Response> {
    body.sender = principal.acting_as("sender", Some(&body.sender))?;
    let message = state.store().send_message(&cid, &body, None).await?.map_err(refused)?;
    Ok(created(wire(&message)))
}

async fn list_messages(
    State(state): State<AppState>,
    _p: Principal,
    Path(cid): Path<String>,
    q: QueryParams,
) -> ApiResult<Json<Value>> {
    if state.store().get_channel(&cid).await?.is_none() {
        return Err(ApiError::not_found(CHANNEL_NOT_FOUND));
    }
    let mut query = MessageQuery::default();
    query.since = q.get("since").map(str::to_owned);
    query.to = q.get("to").map(str::to_owned);
    Ok(list(&state.store().list_messages(&cid, &query).await?))
}

async fn get_message(
    State(state): State<AppState>,
    _p: Principal,
    Path((cid, mid)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    if state.store().get_channel(&cid).await?.is_none() {
        return Err(ApiError::not_found(CHANNEL_NOT_FOUND));
    }
    let message = state.store().get_message(&cid, &mid).await?.ok_or_else(|| ApiError::not_found(MESSAGE_NOT_FOUND))?;
    Ok(Json(wire(&message)))
}

async fn update_message(
    State(state): State<AppState>,
    _p: Principal,
    Path((cid, mid)): Path<(String, String)>,
    JsonBody(body): JsonBody<UpdateMessageRequest>,
) -> ApiResult<Json<Value>> {
    Ok(Json(wire(&state.store().update_message(&cid, &mid, &body.status).await?)))
}

async fn reply(
    State(state): State<AppState>,
    principal: Principal,
    Path((cid, mid)): Path<(String, String)>,
    JsonBody(body): JsonBody<ReplyRequest>,
) -> ApiResult<Response> {
    let sender = principal.acting_as("sender", Some(&body.sender))?;
    let mut send = SendMessageRequest::new(sender, body.payload);
    send.metadata = body.metadata;
    let message = state.store().send_message(&cid, &send, Some(&mid)).await?.map_err(refused)?;
    Ok(created(wire(&message)))
}

// ----- OpenAPI ------------------------------------------------------------------------------

const MESSAGE_QUERY: &[Query] = &[
    ("since", q_string, "Only messages after the message with this id (none when it is not a message of the channel)"),
    ("to", q_string, "Only messages to this target"),
];

/// The operations of this area, for the OpenAPI document.
pub(super) const OPERATIONS: &[Op] = &[
    op("post", "/api/v1/intents/{id}/channels", "createChannel", "channels", "Create a channel of the intent")
        .body(request!(CreateChannelRequest))
        .reply(Reply::Created("Channel"))
        .errors(&[409]),
    op("get", "/api/v1/intents/{id}/channels", "listChannels", "channels", "The intent's channels")
        .reply(Reply::List("Channel")),
    op("get", "/api/v1/channels/{channel_id}", "getChannel", "channels", "One channel").reply(Reply::Model("Channel")),
    op("patch", "/api/v1/channels/{channel_id}", "updateChannel", "channels", "Change members, status, options")
        .body(request!(UpdateChannelRequest))
        .reply(Reply::Model("Channel")),
    op("delete", "/api/v1/channels/{channel_id}", "closeChannel", "channels", "Close the channel (messages stay)")
        .reply(Reply::Model("ChannelClosed")),
    op("post", "/api/v1/channels/{channel_id}/messages", "sendMessage", "channels", "Send a message")
        .body(request!(SendMessageRequest))
        .reply(Reply::Created("Message"))
        .errors(&[409]),
    op("get", "/api/v1/channels/{channel_id}/messages", "listMessages", "channels", "Messages in sending order")
        .query(MESSAGE_QUERY)
        .reply(Reply::List("Message")),
    op("get", "/api/v1/channels/{channel_id}/messages/{message_id}", "getMessage", "channels", "One message")
        .reply(Reply::Model("Message")),
    op(
        "patch",
        "/api/v1/channels/{channel_id}/messages/{message_id}",
        "updateMessage",
        "channels",
        "Set a message's status (read)",
    )
    .body(request!(UpdateMessageRequest))
    .reply(Reply::Model("Message")),
    op(
        "post",
        "/api/v1/channels/{channel_id}/messages/{message_id}/reply",
        "replyToMessage",
        "channels",
        "Reply to a message",
    )
    .body(request!(ReplyRequest))
    .reply(Reply::Created("Message"))
    .errors(&[409]),
];
