//! Tracing fields of events (RFC-0020).

use openintent::types::IntentEvent;

use crate::common::{Must, new_intent, target, unique};

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
