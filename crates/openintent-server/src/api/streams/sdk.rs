//! The event streams in the form the 0.17 Python SDK and its agent runtime read
//! (PROTOCOL-AGENTS.md §6.3): served at the paths it subscribes to,
//! `/api/v1/{intents|agents|portfolios}/{id}/subscribe`, with its event names and payloads.
//! The `/api/v1/subscribe/...` streams stay as they are.
//!
//! The runtime dispatches on upper-case names and reads fields the reference never sends:
//!
//! | Stream message | SDK frame `event:` | SDK frame `data:` |
//! |---|---|---|
//! | `agent_assigned` | `AGENT_ASSIGNED` | the assignment (`intent_id`, `agent_id`, `role`, ...) |
//! | `status_changed` | `STATUS_CHANGED` | `{intent_id, new_status, version}` |
//! | `state_patched` | `STATE_CHANGED` | `{intent_id, old_state: {}, new_state: <what the patches wrote>, version}` |
//! | `lease_acquired` / `lease_released` | `LEASE_ACQUIRED` / `LEASE_RELEASED` | the event's payload (`scope`, `lease_id`) plus `intent_id`, `event_id`, `event_type`, `actor`, `created_at` |
//! | any other logged event | its own type | the same flattening |
//! | portfolio messages (`intent_added`, `intent_removed`) | unchanged | unchanged |
//!
//! The agent runtime subscribes only to its agent's stream, so that stream also carries, live,
//! the `STATE_CHANGED` and `STATUS_CHANGED` frames of every intent the agent is assigned to
//! (assigned before the stream opened, or while it is open; checked on each change, so an
//! unassigned intent stops there); a portfolio's stream likewise carries those of its members
//! (a `@Coordinator` listens there). These frames are not replayed on resume. Like every agent
//! and portfolio stream, these carry nothing of an intent the caller may not read.
//!
//! Ids, `Last-Event-ID` resume, `?from=start`, pings and the 404 of unknown intents and
//! portfolios are those of the other streams. `old_state` is empty: the log keeps patches, not
//! snapshots, and `new_state` is what the patches wrote (the patches applied to an empty state),
//! not the whole state: the runtime only matches its handlers' keys against it, and re-reads the
//! intent it hands them.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::middleware::from_fn_with_state;
use axum::response::Response;
use axum::routing::get;
use serde_json::{Map, Value, json};

use super::feed::Follow;
use super::{STREAM_QUERY, from_start, open};
use crate::api::extract::{Principal, QueryParams, require_api_key};
use crate::api::spec::{Header, Op, Reply, op};
use crate::error::ApiResult;
use crate::state::{AppState, Channel};

/// The SDK-style stream routes, behind the API-key check.
pub(in crate::api) fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/api/v1/intents/{id}/subscribe", get(intent_stream))
        .route("/api/v1/portfolios/{id}/subscribe", get(portfolio_stream))
        .route("/api/v1/agents/{id}/subscribe", get(agent_stream))
        .route_layer(from_fn_with_state(state.clone(), require_api_key))
}

async fn intent_stream(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    q: QueryParams,
    headers: HeaderMap,
) -> ApiResult<Response> {
    open(&state, Channel::Intent(id), &p.0, &headers, from_start(&q)?, Some(sdk_frame), None).await
}

async fn portfolio_stream(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    q: QueryParams,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let from_start = from_start(&q)?;
    // A coordinator listens here: it gets the state and status changes of the members too
    // (those it may read).
    let intents = state.store().portfolio_intents(&id).await?.into_iter().map(|i| i.id).collect();
    let follow = Follow { intents: Some(intents), reader: p.0.clone() };
    open(&state, Channel::Portfolio(id), &p.0, &headers, from_start, Some(sdk_frame), Some(follow)).await
}

async fn agent_stream(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    q: QueryParams,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let from_start = from_start(&q)?;
    // The runtime listens only here: it gets the state and status changes of its intents too
    // (those it may read).
    let intents = state.store().assigned_intents(&id).await?;
    let follow = Follow { intents: Some(intents), reader: p.0.clone() };
    open(&state, Channel::Agent(id), &p.0, &headers, from_start, Some(sdk_frame), Some(follow)).await
}

/// A stream message (`event`, `data`) as the 0.17 SDK reads it (see the module's table).
pub(super) fn sdk_frame(event: &str, data: &Value) -> (String, Value) {
    match event {
        "agent_assigned" if data.get("payload").is_none() => ("AGENT_ASSIGNED".to_owned(), data.clone()),
        "status_changed" => (
            "STATUS_CHANGED".to_owned(),
            json!({"intent_id": data["intent_id"], "new_status": data["status"], "version": data["version"]}),
        ),
        "state_patched" => (
            "STATE_CHANGED".to_owned(),
            json!({
                "intent_id": data["intent_id"], "old_state": {}, "new_state": changed_state(&data["payload"]["patches"]),
                "version": data["version"],
            }),
        ),
        _ => {
            let name = match event {
                "lease_acquired" => "LEASE_ACQUIRED",
                "lease_released" => "LEASE_RELEASED",
                "agent_assigned" => "AGENT_ASSIGNED",
                other => other,
            };
            (name.to_owned(), flatten_event(data))
        }
    }
}

/// What the patches of a `state_patched` event wrote, as a state: the patches applied to an
/// empty state (a `set` of `/a/b` gives `{"a": {"b": value}}`; a removed key is absent). The
/// runtime matches its handlers' keys against the top-level keys of `new_state`, and hands
/// them the intent it re-reads, so this is enough, and never the whole state.
fn changed_state(patches: &Value) -> Value {
    let Ok(patches) = serde_json::from_value::<Vec<openintent_types::StatePatch>>(patches.clone()) else {
        return json!({});
    };
    match openintent_types::patch::apply_patches(&Map::new(), &patches) {
        Ok(state) => Value::Object(state),
        // Patches that step through a value they wrote themselves: the top-level keys written.
        Err(_) => Value::Object(
            patches
                .iter()
                .filter_map(|p| openintent_types::patch::parse_pointer(&p.path).ok()?.into_iter().next())
                .map(|key| (key, Value::Null))
                .collect(),
        ),
    }
}

/// A logged event as the SDK's handlers read it: the payload's fields at the top, with the
/// event's `intent_id`, `event_id`, `event_type`, `actor` and `created_at` (data that is not an
/// event is left as it is).
fn flatten_event(data: &Value) -> Value {
    let (Some(Value::Object(payload)), Some(event_type)) = (data.get("payload"), data.get("event_type")) else {
        return data.clone();
    };
    let mut out: Map<String, Value> = payload.clone();
    for (key, value) in [
        ("intent_id", &data["intent_id"]),
        ("event_id", &data["id"]),
        ("event_type", event_type),
        ("actor", &data["actor"]),
        ("created_at", &data["created_at"]),
    ] {
        out.entry(key).or_insert_with(|| value.clone());
    }
    Value::Object(out)
}

// ----- OpenAPI ------------------------------------------------------------------------------

const SDK_STREAM: &str = "The stream of the `/api/v1/subscribe/...` route, in the form the 0.17 Python SDK and \
    its agent runtime read: `AGENT_ASSIGNED` (data = the assignment), `STATUS_CHANGED` (`{intent_id, \
    new_status, version}`), `STATE_CHANGED` (`{intent_id, old_state, new_state, version}`; `new_state` = what the \
    patches wrote), \
    `LEASE_ACQUIRED` / `LEASE_RELEASED` and other logged events (the payload's fields plus `intent_id`, \
    `event_id`, `event_type`, `actor`, `created_at`); portfolio messages unchanged. Ids, `Last-Event-ID` and \
    `?from=start` work as on the other streams.";

/// The operations of this module, for the OpenAPI document.
pub(in crate::api) const OPERATIONS: &[Op] = &[
    op(
        "get",
        "/api/v1/intents/{id}/subscribe",
        "streamIntentSdk",
        "streams",
        "Stream an intent's changes (0.17 SDK form)",
    )
    .headers(&[Header::LastEventId])
    .query(STREAM_QUERY)
    .reply(Reply::Stream(SDK_STREAM)),
    op(
        "get",
        "/api/v1/portfolios/{id}/subscribe",
        "streamPortfolioSdk",
        "streams",
        "Stream a portfolio's membership (0.17 SDK path)",
    )
    .headers(&[Header::LastEventId])
    .query(STREAM_QUERY)
    .reply(Reply::Stream(SDK_STREAM)),
    op(
        "get",
        "/api/v1/agents/{id}/subscribe",
        "streamAgentSdk",
        "streams",
        "Stream an agent's assignments (0.17 SDK form)",
    )
    .headers(&[Header::LastEventId])
    .query(STREAM_QUERY)
    .reply(Reply::Stream(SDK_STREAM)),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_take_the_sdks_names_and_fields() {
        let assignment = json!({"id": "a1", "intent_id": "i1", "agent_id": "bot", "role": "worker"});
        assert_eq!(sdk_frame("agent_assigned", &assignment), ("AGENT_ASSIGNED".to_owned(), assignment.clone()));

        let changed = json!({"id": "e1", "intent_id": "i1", "event_type": "status_changed", "status": "completed",
                             "version": 4, "payload": {"status": "completed", "version": 4}});
        let (name, data) = sdk_frame("status_changed", &changed);
        assert_eq!(
            (name.as_str(), &data["intent_id"], &data["new_status"], &data["version"]),
            ("STATUS_CHANGED", &json!("i1"), &json!("completed"), &json!(4))
        );
        let patched = json!({"id": "e2", "intent_id": "i1", "event_type": "state_patched", "version": 5,
                             "payload": {"version": 5, "patches": [{"op": "set", "path": "/k/n", "value": 1},
                                                                    {"op": "remove", "path": "/gone"}]}});
        let (name, data) = sdk_frame("state_patched", &patched);
        assert_eq!(
            (name.as_str(), &data["new_state"], &data["old_state"], &data["intent_id"], &data["version"]),
            ("STATE_CHANGED", &json!({"k": {"n": 1}}), &json!({}), &json!("i1"), &json!(5))
        );
        assert!(data.get("intent").is_none());
        // Patches that do not apply to an empty state name the top-level keys they write.
        let into_scalar = json!({"payload": {"patches": [{"op": "set", "path": "/a", "value": 1},
                                                          {"op": "set", "path": "/a/b", "value": 2}]}});
        assert_eq!(sdk_frame("state_patched", &into_scalar).1["new_state"], json!({"a": null}));

        let released = json!({"id": "e9", "intent_id": "i1", "event_type": "lease_released", "actor": "bot",
                              "created_at": "t", "payload": {"scope": "s", "lease_id": "l1"}});
        let (name, data) = sdk_frame("lease_released", &released);
        assert_eq!(name, "LEASE_RELEASED");
        assert_eq!(
            data,
            json!({"scope": "s", "lease_id": "l1", "intent_id": "i1", "event_id": "e9",
                   "event_type": "lease_released", "actor": "bot", "created_at": "t"})
        );
        // An assignment logged on an intent's stream is an event: flattened, with its payload.
        let logged = json!({"id": "e1", "intent_id": "i1", "event_type": "agent_assigned", "actor": "k",
                            "created_at": "t", "payload": {"agent_id": "bot", "role": "worker"}});
        let (name, data) = sdk_frame("agent_assigned", &logged);
        assert_eq!(
            (name.as_str(), &data["agent_id"], &data["intent_id"]),
            ("AGENT_ASSIGNED", &json!("bot"), &json!("i1"))
        );

        let suspended = json!({"id": "e2", "intent_id": "i1", "event_type": "intent.suspended", "actor": "bot",
                               "created_at": "t", "payload": {"suspension_id": "s1", "intent_id": "kept"}});
        let (name, data) = sdk_frame("intent.suspended", &suspended);
        assert_eq!(
            (name.as_str(), &data["suspension_id"], &data["intent_id"]),
            ("intent.suspended", &json!("s1"), &json!("kept"))
        );

        let membership = json!({"portfolio_id": "p1", "intent_id": "i1"});
        assert_eq!(sdk_frame("intent_added", &membership), ("intent_added".to_owned(), membership));
    }
}
