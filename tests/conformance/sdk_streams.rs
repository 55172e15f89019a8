//! The event streams at the paths the 0.17 Python SDK and its agent runtime subscribe to
//! (PROTOCOL-AGENTS.md §6): `/api/v1/{intents|agents|portfolios}/{id}/subscribe`.
//!
//! openintent-rs serves them in the SDK's form (upper-case `STATUS_CHANGED`,
//! `AGENT_ASSIGNED`, ... with the fields the runtime reads); the reference serves its streams at
//! `/api/v1/subscribe/...` only and answers these paths with its 404 `Not Found` (§6.1).

use std::time::Duration;

use futures_util::StreamExt;
use openintent::transport::sse::{SseStream, sse_events};
use openintent::transport::{Request, ReqwestTransport, StreamResponse, Transport};
use serde_json::{Value, json};

use crate::common::{Must, new_intent, target, unique};

/// Opens a stream at `path` on the target's first instance, with the user's key.
async fn open(path: &str, agent: &str) -> StreamResponse {
    let t = target();
    let http =
        ReqwestTransport::builder(t.url.clone()).api_key(t.keys[0].clone()).agent_id(agent).build().expect("transport");
    http.send_stream(Request::get(path)).await.expect("stream request")
}

/// The next frame named `event` (skipping others), as its JSON data; at most 15 s.
async fn next_named(stream: &mut SseStream, event: &str) -> Value {
    let wait = async {
        while let Some(frame) = stream.next().await {
            let frame = frame.expect("stream frame");
            if frame.event == event {
                return serde_json::from_str(&frame.data).expect("JSON data");
            }
        }
        panic!("the stream ended before a {event} frame");
    };
    tokio::time::timeout(Duration::from_secs(15), wait).await.unwrap_or_else(|_| panic!("no {event} frame in 15 s"))
}

/// On the reference these paths are absent; returns whether the target serves them.
fn served(what: &str, resp: &StreamResponse) -> bool {
    if target().full() {
        assert_eq!(resp.status, 200, "{what}: the full profile serves the SDK's stream path");
        true
    } else {
        assert_eq!(resp.status, 404, "{what}: the reference lacks the SDK's stream path");
        false
    }
}

#[tokio::test]
async fn intent_agent_and_portfolio_streams_at_the_sdk_paths() {
    let agent_id = unique("sdk-runtime");
    let client = target().client(&agent_id);
    let intent = new_intent(&client, "sdk streams").await;
    let portfolio = client.create_portfolio(unique("sdk streams")).send().await.must("create_portfolio");

    let intent_stream = open(&format!("/api/v1/intents/{}/subscribe", intent.id), &agent_id).await;
    let agent_stream = open(&format!("/api/v1/agents/{agent_id}/subscribe"), &agent_id).await;
    let portfolio_stream = open(&format!("/api/v1/portfolios/{}/subscribe", portfolio.id), &agent_id).await;
    let served = [
        served("intent stream", &intent_stream),
        served("agent stream", &agent_stream),
        served("portfolio stream", &portfolio_stream),
    ];
    if !served.iter().all(|s| *s) {
        return;
    }
    let (mut on_intent, mut on_agent, mut on_portfolio) =
        (sse_events(intent_stream.body), sse_events(agent_stream.body), sse_events(portfolio_stream.body));

    let active = client.set_status(&intent.id, intent.version, "active").send().await.must("set_status");
    let data = next_named(&mut on_intent, "STATUS_CHANGED").await;
    assert_eq!((&data["intent_id"], &data["new_status"]), (&json!(intent.id), &json!("active")));
    assert_eq!(data["version"], json!(active.version));

    client.assign_agent(&intent.id).agent_id(agent_id.as_str()).send().await.must("assign_agent");
    let data = next_named(&mut on_agent, "AGENT_ASSIGNED").await;
    assert_eq!((&data["intent_id"], &data["agent_id"]), (&json!(intent.id), &json!(agent_id)));
    // The runtime listens only on its agent's stream: its intents' state changes come there.
    let patched =
        client.update_state(&intent.id, active.version).set("step", json!("draft")).send().await.must("update_state");
    let data = next_named(&mut on_agent, "STATE_CHANGED").await;
    assert_eq!((&data["intent_id"], &data["new_state"]["step"]), (&json!(intent.id), &json!("draft")));
    assert_eq!(data["version"], json!(patched.version));

    client.add_intent_to_portfolio(&portfolio.id, intent.id.clone()).send().await.must("add_intent_to_portfolio");
    next_named(&mut on_portfolio, "intent_added").await;

    // An unknown intent is a 404 before any stream starts.
    let missing = open("/api/v1/intents/no-such-intent/subscribe", &agent_id).await;
    assert_eq!(missing.status, 404);
}
