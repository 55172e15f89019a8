//! The human inbox: everything waiting for a person, in one list, and a stream saying when it
//! changes (the console's first screen reads both; any client may).
//!
//! - `GET /api/v1/inbox`: oldest first, among the intents the caller may read: the open
//!   intents' pending approval requests, their arbitration requests with no decision recorded
//!   on the intent since (one naming another request in its evidence's `arbitration_id`
//!   leaves this one waiting), the intents suspended awaiting input (with their `_suspension`
//!   question), and the pending escalations. Each item is `{"kind", "intent_id",
//!   "intent_title", "intent_status", "created_at", "item"}`, `kind` one of `approval`,
//!   `arbitration`, `input`, `escalation`, and `item` the approval, arbitration, suspension
//!   record or escalation as the per-intent routes answer it.
//! - `GET /api/v1/subscribe/inbox`: server-sent events: `ready` once subscribed (read the list
//!   after it and nothing committed later is missed), then `inbox` (data = `{"intent_id",
//!   "event_type", "id"}`) for every event of an intent the caller may read that adds or settles
//!   an item (`arbitration_requested`, `decision_recorded`, `governance.approval_granted` /
//!   `_denied`, `escalation_initiated` / `_resolved`, `intent.suspended`, `intent.resumed`,
//!   `status_changed`, ...) and for each new approval request
//!   (`governance.approval_requested`: approval requests log no event, as in the reference, but
//!   the inbox hears of them), and `: ping` comments while idle. It replays nothing: a client
//!   that reconnects reads the list again.
//!
//! The list reads each open intent's approvals, arbitrations and decisions: its cost grows with
//! the number of open intents the caller can see.

use std::convert::Infallible;

use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use openintent_types::{ApprovalStatus, ArbitrationStatus, Decision, InboxKind, Intent, IntentStatus, Permission};
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use super::acl::permits;
use super::extract::{Principal, keyed};
use super::reply::wire;
use super::spec::{Op, Reply, op};
use crate::error::ApiResult;
use crate::state::{AppState, Channel};
use crate::store::IntentFilter;

/// The log events that add an item to the inbox or settle one.
const INBOX_EVENTS: &[&str] = &[
    "arbitration_requested",
    "decision_recorded",
    "governance.approval_granted",
    "governance.approval_denied",
    "governance.policy_set",
    "governance.policy_removed",
    "escalation_initiated",
    "escalation_resolved",
    "intent.suspended",
    "intent.resumed",
    "intent.suspension_expired",
    "intent.suspension_escalated",
    "status_changed",
];

/// How many intents one page of the list reads.
const PAGE: i64 = 500;

/// This area's routes, each behind the API-key check.
pub(super) fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/api/v1/inbox", keyed(state, get(inbox)))
        .route("/api/v1/subscribe/inbox", keyed(state, get(subscribe)))
}

fn item(kind: &str, intent: &Intent, created_at: DateTime<Utc>, body: Value) -> (DateTime<Utc>, Value) {
    let value = json!({
        "kind": kind,
        "intent_id": intent.id,
        "intent_title": intent.title,
        "intent_status": intent.status.as_str(),
        "created_at": created_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "item": body,
    });
    (created_at, value)
}

/// The items of one open intent.
async fn items_of(state: &AppState, intent: &Intent, out: &mut Vec<(DateTime<Utc>, Value)>) -> ApiResult<()> {
    let store = state.store();
    if intent.status == IntentStatus::SuspendedAwaitingInput
        && let Some(Value::Object(record)) = intent.state.get("_suspension")
    {
        let at = record
            .get("suspended_at")
            .and_then(Value::as_str)
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map_or(intent.updated_at, |t| t.with_timezone(&Utc));
        out.push(item("input", intent, at, Value::Object(record.clone())));
    }
    for a in store.list_approvals(&intent.id, Some(ApprovalStatus::Pending.as_str())).await? {
        out.push(item("approval", intent, a.created_at, wire(&a)));
    }
    let arbitrations = store.list_arbitrations(&intent.id).await?;
    if !arbitrations.is_empty() {
        let decisions = store.list_decisions(&intent.id).await?;
        for a in arbitrations {
            let at = a.created_at.unwrap_or(intent.created_at);
            let answered = a.status != ArbitrationStatus::Pending
                || decisions.iter().any(|d| settles(d, a.id.as_deref().unwrap_or_default(), at));
            if !answered {
                out.push(item("arbitration", intent, at, wire(&a)));
            }
        }
    }
    Ok(())
}

/// Whether decision `d` answers the arbitration `arbitration_id` requested at `requested_at`: a
/// decision recorded since, naming that arbitration in its evidence (`{"arbitration_id": ..}`,
/// as the console records them) or naming none (then it answers every request before it).
fn settles(d: &Decision, arbitration_id: &str, requested_at: DateTime<Utc>) -> bool {
    if d.created_at.is_none_or(|t| t < requested_at) {
        return false;
    }
    let named: Vec<&str> =
        d.evidence.iter().flatten().filter_map(|e| e.get("arbitration_id").and_then(Value::as_str)).collect();
    named.is_empty() || named.contains(&arbitration_id)
}

async fn inbox(State(state): State<AppState>, p: Principal) -> ApiResult<Json<Value>> {
    let store = state.store();
    let mut items = Vec::new();
    // Page by key: each page starts where the last ended, in the index.
    let mut after = None;
    loop {
        let filter = IntentFilter { visible_to: Some(p.0.clone()), limit: PAGE, after, ..IntentFilter::default() };
        let (page, _total, next) = store.list_intents(&filter).await?;
        for intent in &page {
            if !matches!(intent.status, IntentStatus::Completed | IntentStatus::Abandoned) {
                items_of(&state, intent, &mut items).await?;
            }
        }
        match next {
            Some(key) => after = Some(key),
            None => break,
        }
    }
    for e in store.list_escalations(None, Some("pending")).await? {
        if !permits(&state, p.as_str(), &e.intent_id, &Permission::Read).await? {
            continue;
        }
        let Some(intent) = store.get_intent(&e.intent_id).await? else { continue };
        items.push(item("escalation", &intent, e.created_at, wire(&e)));
    }
    items.sort_by_key(|(at, _)| *at);
    Ok(Json(json!({ "items": items.into_iter().map(|(_, v)| v).collect::<Vec<_>>() })))
}

/// One SSE message.
fn message(event: &str, data: &Value) -> Bytes {
    Bytes::from(format!("event: {event}\ndata: {data}\n\n"))
}

/// What the stream does next.
enum Step {
    Send(Bytes),
    Skip,
    End,
}

async fn subscribe(State(state): State<AppState>, p: Principal) -> Response {
    // Subscribed before answering: every change committed after `ready` is announced.
    let rx = state.subscribe();
    let closing = state.streams_closing();
    let keep_alive = state.sse_keep_alive();
    let start = (state, p.0, rx, closing, true);
    let stream = futures_util::stream::unfold(start, move |(state, reader, mut rx, mut closing, first)| async move {
        if first {
            let chunk = message("ready", &json!({}));
            return Some((Ok::<_, Infallible>(chunk), (state, reader, rx, closing, false)));
        }
        loop {
            if *closing.borrow() {
                return None;
            }
            let idle = async {
                match keep_alive {
                    Some(d) => tokio::time::sleep(d).await,
                    None => std::future::pending().await,
                }
            };
            let step = tokio::select! {
                _ = closing.changed() => Step::End,
                () = idle => Step::Send(Bytes::from_static(b": ping\n\n")),
                received = rx.recv() => match received {
                    Ok(n) => match &n.channel {
                        Channel::Intent(id) | Channel::Inbox(id)
                            if matches!(n.channel, Channel::Inbox(_)) || INBOX_EVENTS.contains(&n.event.as_str()) =>
                        {
                            match permits(&state, &reader, id, &Permission::Read).await {
                                Ok(true) => Step::Send(message(
                                    "inbox",
                                    &json!({"intent_id": id, "event_type": n.event, "id": n.id}),
                                )),
                                Ok(false) => Step::Skip,
                                // Unreadable now: the client re-reads the list.
                                Err(_) => Step::Send(message("inbox", &json!({"reload": true}))),
                            }
                        }
                        _ => Step::Skip,
                    },
                    // Missed messages: the client re-reads the whole list.
                    Err(RecvError::Lagged(_)) => Step::Send(message("inbox", &json!({"reload": true}))),
                    Err(RecvError::Closed) => Step::End,
                },
            };
            match step {
                Step::Send(chunk) => return Some((Ok(chunk), (state, reader, rx, closing, false))),
                Step::Skip => {}
                Step::End => return None,
            }
        }
    });
    let mut resp = Body::from_stream(stream).into_response();
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    resp
}

// ----- OpenAPI ------------------------------------------------------------------------------

fn inbox_schema() -> Value {
    json!({
        "type": "object",
        "properties": {"items": {"type": "array", "items": {
            "type": "object",
            "properties": {
                "kind": {"type": "string", "enum": InboxKind::known_names()},
                "intent_id": {"type": "string"},
                "intent_title": {"type": "string"},
                "intent_status": {"type": "string"},
                "created_at": {"type": "string", "format": "date-time"},
                "item": {"type": "object"},
            },
            "required": ["kind", "intent_id", "intent_title", "intent_status", "created_at", "item"],
        }}},
        "required": ["items"],
    })
}

const INBOX_STREAM: &str = "Server-sent events announcing changes of the inbox: `ready` once subscribed, then \
    `inbox` (data = `{\"intent_id\", \"event_type\", \"id\"}`, or `{\"reload\": true}` after missed messages) for \
    each event of a readable intent that adds or settles an item. A new approval request is announced \
    as `governance.approval_requested` (it logs no event). Nothing is replayed: read `GET /api/v1/inbox` after `ready`.";

/// The operations of this area, for the OpenAPI document.
pub(super) const OPERATIONS: &[Op] = &[
    op("get", "/api/v1/inbox", "getInbox", "inbox", "Everything waiting for a human, oldest first")
        .reply(Reply::Json(inbox_schema)),
    op("get", "/api/v1/subscribe/inbox", "streamInbox", "inbox", "Stream changes of the inbox")
        .reply(Reply::Stream(INBOX_STREAM)),
];
