//! Server-sent event streams (PROTOCOL.md §6.8.2): the routes, and their OpenAPI operations; an
//! open stream is a [`Feed`].
//!
//! Routes, behind the API-key check (a missing or wrong key is a 401 JSON answer before any
//! stream starts):
//!
//! | Route | 0.17 SDK path (its own names and payloads: [`sdk`]) | Delivers |
//! |---|---|---|
//! | `GET /api/v1/subscribe/intents/{id}` | `GET /api/v1/intents/{id}/subscribe` | every event of the intent's log, in log order (name = its type, `id:` = its id, data = the event): events logged through `POST …/events` or written by the server (`intent_created`, `state_patched`, `status_changed`, `agent_assigned`, `lease_acquired`, `decision_recorded`, `governance.violation`, ...); `state_patched` and `status_changed` also carry the new `version` (and `status`) at the top |
//! | `GET /api/v1/subscribe/portfolios/{id}` | `GET /api/v1/portfolios/{id}/subscribe` | `intent_added`, `intent_removed` (data = `{"portfolio_id", "intent_id"}`) |
//! | `GET /api/v1/subscribe/agents/{id}` | `GET /api/v1/agents/{id}/subscribe` | `agent_assigned` (data = the assignment) |
//! | `GET /api/v1/subscribe/channels/{id}` | — | `channel_message` (data = the message; RFC-0021) |
//!
//! Each message is `event: <name>`, `id: <id>` and `data: <JSON on one line>` followed by an empty
//! line; the JSON uses the reference server's `", "` / `": "` separators and ASCII escapes.
//! While a stream is idle it sends a `: ping` comment every [`AppState::sse_keep_alive`].
//!
//! Beyond the reference server:
//!
//! - **Ids.** On intent and agent streams the `id:` is the event-log id of the change; on
//!   portfolio streams (membership changes are not in any intent's log) it is the id of the
//!   kept stream message. Portfolio and agent messages are kept in the database, written in the
//!   transaction of the change (`stream_messages`), in commit order per stream.
//! - **The log is the stream.** An intent's stream, replayed from the start and then followed,
//!   yields exactly the intent's event log, in log order, with the log's event ids as `id:`.
//!   Every write that appends to the log publishes the event when its transaction commits (in
//!   the store, not in the handlers), and the stream sends the events of the log in order: a
//!   live notification makes it read the log after the last event it sent, up to the newest
//!   event notified, so events committed by several writers (or server processes) at once come
//!   out in log order too. A notification names the event before it in the log: when that is
//!   the last event a stream sent (the common case), the stream sends the notified event as it
//!   is, with no read of storage, in bytes made once for all the streams; otherwise (a gap,
//!   notifications out of order, a stream that fell behind) it reads the log.
//! - **Access.** An intent stream (and a channel stream) opens only for a caller who may read
//!   the intent (`acl::enforce`). An intent stream checks that again only when its log says
//!   the intent's access changed (`access_granted`, `access_revoked`,
//!   `access_request_approved`) or an ACL entry's expiry passed: once the caller may no longer
//!   read the intent, the stream sends nothing more (not the event that took access away) and
//!   ends; reconnecting is then refused with 403.
//! - **Thin messages.** A state or status change carries what changed (the event: its patches
//!   or status) and the new version, not the intent: a 1-byte patch of an intent holding 100 KB
//!   of state pushes about 400 bytes to each open stream instead of 100 KB (`tests/sse.rs`
//!   measures it). Clients that need the whole intent read it (`GET /api/v1/intents/{id}`).
//! - **Resume.** A stream opened with `Last-Event-ID: <id>` first replays, oldest first, every
//!   message the stream would have carried after that one, then continues live, with no
//!   duplicate and no gap: the stream subscribes to notifications before it reads the stored
//!   messages, and skips live messages it already replayed. An intent stream replays from the
//!   event log, each message exactly as it was sent live. Portfolio and agent streams replay the kept messages byte for
//!   byte. An id unknown to the stream is ignored (the stream starts live, or from the start
//!   with `?from=start`). A replay is read one page (500 messages) at a time, as the client
//!   takes them, so resuming from far back never holds the whole backlog in memory.
//! - **From the start.** `?from=start` (without a `Last-Event-ID` of the stream) replays the
//!   whole stream first: the intent's whole log, or every kept portfolio or agent message.
//!   Reconnecting with `Last-Event-ID` resumes after that id as usual.
//! - **Connected means live.** A stream subscribes to notifications before it answers, so
//!   every change committed after a client received the 200 is on the stream.
//! - **Slow subscribers.** A subscriber that falls more than
//!   [`NOTIFICATION_BUFFER`](crate::NOTIFICATION_BUFFER) notifications behind does not lose
//!   data silently: the stream recovers the missed messages from the log or the kept messages,
//!   and ends (so that the client reconnects and resumes) only when that read fails.
//! - **Unknown ids.** Intent and portfolio streams answer 404 (`Intent not found`,
//!   `Portfolio not found`) for ids that do not exist, instead of an idle stream; agents are
//!   not registered anywhere, so an agent stream always opens.
//! - **Shutdown.** [`AppState::close_streams`] (called when the server stops) ends every open
//!   stream, so a graceful shutdown does not wait for subscribers.

mod feed;
pub(super) mod sdk;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::middleware::from_fn_with_state;
use axum::response::Response;
use axum::routing::get;
use futures_util::future::BoxFuture;
use serde_json::Value;

use self::feed::Feed;
use super::extract::{Principal, QueryParams, enum_schema, not_one_of, require_api_key};
use super::spec::{Header, Op, Query, Reply, op};
use crate::error::{ApiError, ApiResult};
use crate::state::{AppState, Channel};

/// The event-stream routes (the SDK-style ones are [`sdk::routes`]). The whole router is behind the API-key check, so that here a method
/// a path does not serve is a 401 without a key too (and a 405 with one).
pub(super) fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/api/v1/subscribe/intents/{id}", get(stream_of(Channel::Intent)))
        .route("/api/v1/subscribe/portfolios/{id}", get(stream_of(Channel::Portfolio)))
        .route("/api/v1/subscribe/agents/{id}", get(stream_of(Channel::Agent)))
        .route("/api/v1/subscribe/channels/{id}", get(stream_of(Channel::Messages)))
        .route_layer(from_fn_with_state(state.clone(), require_api_key))
}

/// The handler of one kind of stream: `kind` names the channel of the path's `{id}`.
fn stream_of(
    kind: fn(String) -> Channel,
) -> impl Fn(State<AppState>, Principal, Path<String>, QueryParams, HeaderMap) -> BoxFuture<'static, ApiResult<Response>>
+ Clone
+ Send
+ Sync
+ 'static {
    move |State(state), p: Principal, Path(id), q, headers| {
        Box::pin(async move {
            let from_start = from_start(&q)?;
            let channel = kind(id);
            // Portfolio and agent messages name intents: only those the caller may read go out
            // (intent and channel streams are checked as a whole, by `acl::enforce`).
            let reader = matches!(channel, Channel::Portfolio(_) | Channel::Agent(_))
                .then(|| feed::Follow { intents: None, reader: p.0.clone() });
            open(&state, channel, &p.0, &headers, from_start, None, reader).await
        })
    }
}

/// The one value of the `from` query parameter: replay the stream from its first message.
const FROM_START: &str = "start";

/// The `from` query parameter: [`FROM_START`] replays the stream from its first message;
/// absent, the stream starts live (or after `Last-Event-ID`); any other value is a 422.
pub(super) fn from_start(q: &QueryParams) -> ApiResult<bool> {
    match q.get("from") {
        None => Ok(false),
        Some(FROM_START) => Ok(true),
        Some(other) => Err(not_one_of("from", other, &[FROM_START])),
    }
}

/// Opens a stream of `channel`: 404 for an intent or portfolio that does not exist (agents are
/// not registered anywhere), else the replay after `Last-Event-ID` (or from the start with
/// `from_start`), then live messages.
/// `translate`, when given, rewrites each message's name and data, and `follow` adds the live
/// changes of those intents (the SDK-style streams). An intent stream carries the log while
/// `principal` may read the intent.
async fn open(
    state: &AppState,
    channel: Channel,
    principal: &str,
    headers: &HeaderMap,
    from_start: bool,
    translate: Option<feed::Translate>,
    follow: Option<feed::Follow>,
) -> ApiResult<Response> {
    // Subscribe before reading anything, so nothing committed from now on can be missed.
    let feed = Feed::new(state, channel).translated(translate).following(follow).read_by(principal.to_owned());
    let store = state.store();
    match feed.channel() {
        Channel::Intent(id) if store.get_intent(id).await?.is_none() => {
            return Err(ApiError::not_found("Intent not found"));
        }
        Channel::Portfolio(id) if store.get_portfolio(id).await?.is_none() => {
            return Err(ApiError::not_found("Portfolio not found"));
        }
        Channel::Messages(id) if store.get_channel(id).await?.is_none() => {
            return Err(ApiError::not_found("Channel not found"));
        }
        _ => {}
    }
    Ok(feed.start(headers, from_start).await?.into_response())
}

// ----- OpenAPI ------------------------------------------------------------------------------

fn q_stream_from() -> Value {
    enum_schema(&[FROM_START])
}

/// The query of the event streams.
pub(super) const STREAM_QUERY: &[Query] = &[(
    "from",
    q_stream_from,
    "`start`: first replay the whole stream (an intent's whole event log), then go on live; a \
     `Last-Event-ID` of the stream takes precedence",
)];

const INTENT_STREAM: &str = "Server-sent events of one intent: every event appended to its log, in log order, \
    named after its type, with the log's event id as `id:` (replayed from the start and then followed, the \
    stream is exactly the event log). Every message carries the event (`intent_created`, `state_patched`, \
    `status_changed`, events logged through `POST /api/v1/intents/{id}/events`, `agent_assigned`, \
    `lease_acquired`, `decision_recorded`, ...); `state_patched` and `status_changed` also carry the new \
    `version` (and `status`) at the top, never the whole intent. Reconnecting with \
    `Last-Event-ID` first replays the messages missed since that id. The stream subscribes before it \
    answers: every change committed after the 200 is on it. `: ping` comments keep an idle stream open.";
const PORTFOLIO_STREAM: &str = "Server-sent events of one portfolio: `intent_added` and `intent_removed` \
    (data = `{\"portfolio_id\", \"intent_id\"}`). Each message has an `id:`; reconnecting with \
    `Last-Event-ID` first replays the messages missed since that id.";
const AGENT_STREAM: &str = "Server-sent events of one agent: `agent_assigned` (data = the assignment). Each \
    message has an `id:` (the assignment's event-log id); reconnecting with `Last-Event-ID` first replays the \
    messages missed since that id.";

const CHANNEL_STREAM: &str = "Server-sent events of one messaging channel (RFC-0021): `channel_message` \
    (data = the message) for every message and reply sent on it. Each message has an `id:` (the message id); \
    reconnecting with `Last-Event-ID` first replays the messages missed since that id.";

/// The operations of this area, for the OpenAPI document.
pub(super) const OPERATIONS: &[Op] = &[
    op("get", "/api/v1/subscribe/channels/{id}", "streamChannel", "streams", "Stream a channel's messages")
        .headers(&[Header::LastEventId])
        .query(STREAM_QUERY)
        .reply(Reply::Stream(CHANNEL_STREAM)),
    op("get", "/api/v1/subscribe/intents/{id}", "streamIntent", "streams", "Stream an intent's changes")
        .headers(&[Header::LastEventId])
        .query(STREAM_QUERY)
        .reply(Reply::Stream(INTENT_STREAM)),
    op("get", "/api/v1/subscribe/portfolios/{id}", "streamPortfolio", "streams", "Stream a portfolio's membership")
        .headers(&[Header::LastEventId])
        .query(STREAM_QUERY)
        .reply(Reply::Stream(PORTFOLIO_STREAM)),
    op("get", "/api/v1/subscribe/agents/{id}", "streamAgent", "streams", "Stream an agent's assignments")
        .headers(&[Header::LastEventId])
        .query(STREAM_QUERY)
        .reply(Reply::Stream(AGENT_STREAM)),
];
