//! How much a small change costs the open event streams: a 1-byte patch of an intent holding
//! 100 KB of state, with 20 streams of it open, pushes each stream the event and the new
//! version (a few hundred bytes), not the intent. Prints the bytes pushed.

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{KEY, TestApp};
use futures_util::StreamExt;
use serde_json::json;
use tower::ServiceExt;

const STREAMS: usize = 20;
const WAIT: Duration = Duration::from_secs(10);

/// The bytes of the next message of `body` named `event` (comments and other messages skipped).
async fn next_message_bytes(body: &mut axum::body::BodyDataStream, pending: &mut String, event: &str) -> usize {
    loop {
        if let Some(p) = pending.find("\n\n") {
            let block: String = pending.drain(..p + 2).collect();
            if block.contains(&format!("event: {event}\n")) {
                return block.len();
            }
            continue;
        }
        let chunk = tokio::time::timeout(WAIT, body.next()).await.expect("timed out").expect("the stream ended");
        pending.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
    }
}

async fn open(app: &TestApp, path: &str) -> axum::body::BodyDataStream {
    let req = Request::get(path).header("x-api-key", KEY).body(Body::empty()).unwrap();
    let resp = app.router.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    resp.into_body().into_data_stream()
}

#[tokio::test]
async fn a_small_patch_pushes_small_messages_to_every_stream() {
    let app = TestApp::memory().await;
    let id = app.intent("big state").await;
    let big = json!({"patches": [{"op": "set", "path": "/blob", "value": "x".repeat(100_000)}]});
    assert_eq!(app.patch_state("a", &id, 1, big).await.status, StatusCode::OK);
    for (path, event) in [
        (format!("/api/v1/subscribe/intents/{id}"), "state_patched"),
        (format!("/api/v1/intents/{id}/subscribe"), "STATE_CHANGED"),
    ] {
        let mut streams = Vec::new();
        for _ in 0..STREAMS {
            streams.push((open(&app, &path).await, String::new()));
        }
        let version = app.get(&format!("/api/v1/intents/{id}")).await.body["version"].as_i64().unwrap();
        let small = json!({"patches": [{"op": "set", "path": "/n", "value": 1}]});
        assert_eq!(app.patch_state("a", &id, version, small).await.status, StatusCode::OK);
        let mut sizes = Vec::new();
        for (body, pending) in &mut streams {
            sizes.push(next_message_bytes(body, pending, event).await);
        }
        let pushed: usize = sizes.iter().sum();
        println!("{path}: {STREAMS} streams, one 1-byte patch of a 100 KB state: {pushed} bytes pushed");
        assert!(sizes.iter().all(|b| *b < 1_000), "{path}: a 1-byte patch pushed messages of {sizes:?} bytes");
    }
}
