//! Tracing fields of events (RFC-0020).

use openintent::types::IntentEvent;

use crate::common::{Must, expect_served, new_intent, target, unique};

#[tokio::test]
async fn trace_fields_round_trip() {
    let client = target().client(&unique("tracer"));
    let intent = new_intent(&client, "tracing").await;
    let trace = "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6";
    let first = client.log_event(&intent.id, "tool_call_started").trace(trace, None).send().await.must("log_event");
    let second = client
        .log_event(&intent.id, "tool_call_completed")
        .trace(trace, Some(first.id.clone()))
        .send()
        .await
        .must("log_event");
    let events = client.get_events(&intent.id).event_type("tool_call_completed").send().await.must("get_events");
    for e in [&second, &events[0]] {
        // Both servers keep the payload copies the client sends.
        assert_eq!(e.resolved_trace_id(), Some(trace));
        assert_eq!(e.resolved_parent_event_id(), Some(first.id.as_str()));
        if target().full() {
            // openintent-rs keeps them top-level too; the reference drops them.
            let IntentEvent { trace_id, parent_event_id, .. } = e.clone();
            assert_eq!((trace_id.as_deref(), parent_event_id.as_deref()), (Some(trace), Some(first.id.as_str())));
        }
    }
}

/// `GET /api/v1/events?trace_id=`: the events of one trace across intents, oldest first (not on
/// the reference: its 404 `Not Found`).
#[tokio::test]
async fn events_of_a_trace_across_intents() {
    let client = target().client(&unique("tracer"));
    let first_intent = new_intent(&client, "trace a").await;
    let second_intent = new_intent(&client, "trace b").await;
    let trace = new_trace_id();
    let started = client.log_event(&first_intent.id, "task_started").trace(&trace, None).send().await.must("log_event");
    let tool = client
        .log_event(&second_intent.id, "tool_call_started")
        .trace(&trace, Some(started.id.clone()))
        .send()
        .await
        .must("log_event");
    client.log_event(&second_intent.id, "comment").send().await.must("untraced event");
    if let Some(events) = expect_served("get_trace_events", client.get_trace_events(&trace).send().await) {
        let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, [started.id.as_str(), tool.id.as_str()]);
        assert_eq!(events[1].intent_id, second_intent.id);
        assert_eq!(events[1].parent_event_id.as_deref(), Some(started.id.as_str()));
        let one = client.get_trace_events(&trace).limit(1).send().await.must("limit");
        assert_eq!(one.len(), 1);
        let next = client.get_trace_events(&trace).limit(1).offset(1).send().await.must("offset");
        assert_eq!(next.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), [tool.id.as_str()]);
    }
    let err = client.get_trace_events("NOT-A-TRACE").send().await.expect_err("malformed trace id");
    assert!(err.is_validation(), "{err}");
}

/// A random trace id (32 lowercase hexadecimal digits), so that runs never share a trace.
fn new_trace_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let half = || std::collections::hash_map::RandomState::new().build_hasher().finish();
    format!("{:016x}{:016x}", half(), half())
}
