//! Tracing fields of events (RFC-0020): stored and returned top-level, queryable by trace.

mod common;

use axum::http::StatusCode;
use common::TestApp;
use serde_json::json;

const TRACE: &str = "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6";

#[tokio::test]
async fn trace_fields_are_stored_and_returned() {
    let app = TestApp::memory().await;
    let id = app.intent("t").await;
    let path = format!("/api/v1/intents/{id}/events");
    let first = app.post(&path, json!({"event_type": "tool_call_started", "trace_id": TRACE})).await;
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
    assert_eq!(first.body["trace_id"], TRACE);
    assert!(first.body.get("parent_event_id").is_none_or(|v| v.is_null()));
    let parent = first.body["id"].as_str().unwrap();
    let second = app
        .post(&path, json!({"event_type": "tool_call_completed", "traceId": TRACE, "parent_event_id": parent}))
        .await;
    assert_eq!((&second.body["trace_id"], &second.body["parent_event_id"]), (&json!(TRACE), &json!(parent)));
    // Copies inside the payload only (what the reference keeps) are lifted to the top level.
    let third = app
        .post(&path, json!({"event_type": "comment", "payload": {"trace_id": TRACE, "parent_event_id": parent}}))
        .await;
    assert_eq!((&third.body["trace_id"], &third.body["parent_event_id"]), (&json!(TRACE), &json!(parent)));
    // Read back from the log.
    let events = app.events(&id).await;
    assert_eq!(events[1]["trace_id"], TRACE);
    assert_eq!(events[1]["parent_event_id"], parent);
    assert!(events.last().unwrap().get("trace_id").is_none(), "intent_created carries no trace");

    // Across intents, oldest first; other traces left out.
    let other = app.intent("o").await;
    app.post(&format!("/api/v1/intents/{other}/events"), json!({"event_type": "x", "trace_id": TRACE})).await;
    app.post(&path, json!({"event_type": "y", "trace_id": "f".repeat(32)})).await;
    let r = app.get(&format!("/api/v1/events?trace_id={TRACE}")).await;
    assert_eq!(r.status, StatusCode::OK);
    let types: Vec<&str> = r.body.as_array().unwrap().iter().map(|e| e["event_type"].as_str().unwrap()).collect();
    assert_eq!(types, ["tool_call_started", "tool_call_completed", "comment", "x"]);
}

#[tokio::test]
async fn bad_trace_fields_are_422_naming_the_field() {
    let app = TestApp::memory().await;
    let id = app.intent("t").await;
    let path = format!("/api/v1/intents/{id}/events");
    for (body, field) in [
        (json!({"event_type": "e", "trace_id": "ABC"}), "trace_id"),
        (json!({"event_type": "e", "trace_id": 5}), "trace_id"),
        (json!({"event_type": "e", "parent_event_id": "a/b"}), "parent_event_id"),
    ] {
        let r = app.post(&path, body.clone()).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(r.body["detail"][0]["loc"].to_string().contains(field), "{body}: {:?}", r.body);
    }
    assert_eq!(app.events(&id).await.len(), 1, "nothing was written");
    for q in ["", "?trace_id=xyz"] {
        let r = app.get(&format!("/api/v1/events{q}")).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{q}");
        assert_eq!(r.body["detail"][0]["loc"], json!(["query", "trace_id"]));
    }
}

#[tokio::test]
async fn the_trace_query_leaves_out_intents_the_caller_cannot_read() {
    let app = TestApp::memory().await;
    let open = app.intent("open").await;
    let closed = app.intent("closed").await;
    for id in [&open, &closed] {
        app.post(&format!("/api/v1/intents/{id}/events"), json!({"event_type": "e", "trace_id": TRACE})).await;
    }
    let put = app
        .as_agent(
            Some("tester"),
            "PUT",
            &format!("/api/v1/intents/{closed}/acl"),
            Some(json!({"default_policy": "closed"})),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK);
    let r = app.as_agent(Some("stranger"), "GET", &format!("/api/v1/events?trace_id={TRACE}"), None).await;
    let intents: Vec<&str> = r.body.as_array().unwrap().iter().map(|e| e["intent_id"].as_str().unwrap()).collect();
    assert_eq!(intents, [open.as_str()]);
    let mine = app.get(&format!("/api/v1/events?trace_id={TRACE}")).await;
    assert_eq!(mine.body.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_long_trace_is_read_page_by_page() {
    let app = TestApp::memory().await;
    let id = app.intent("t").await;
    for n in 0..5 {
        let r = app
            .post(&format!("/api/v1/intents/{id}/events"), json!({"event_type": format!("step{n}"), "trace_id": TRACE}))
            .await;
        assert_eq!(r.status, StatusCode::OK);
    }
    let mut seen = Vec::new();
    for offset in [0, 2, 4, 6] {
        let r = app.get(&format!("/api/v1/events?trace_id={TRACE}&limit=2&offset={offset}")).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let page: Vec<String> =
            r.body.as_array().unwrap().iter().map(|e| e["event_type"].as_str().unwrap().to_owned()).collect();
        assert_eq!(page.len(), [2, 2, 1, 0][offset / 2], "offset {offset}: {page:?}");
        seen.extend(page);
    }
    assert_eq!(seen, ["step0", "step1", "step2", "step3", "step4"]);
    let bad = app.get(&format!("/api/v1/events?trace_id={TRACE}&offset=-1")).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.body["detail"][0]["loc"], json!(["query", "offset"]));
}
