//! The runtime over `MockTransport`: a server whose stream events carry no `id:` still gets
//! its assignments worked, and nothing made up is sent as `Last-Event-ID` or written to the
//! cursor file.

use std::time::Duration;

use openintent_agent::Agent;
use openintent_client::Client;
use openintent_transport::Method;
use openintent_transport::test_util::{MockReply, MockTransport, StreamEnd};
use serde_json::json;

#[tokio::test]
async fn assignments_without_event_ids_are_worked() {
    let mock = MockTransport::new();
    mock.allow_unused();
    let record = json!({"agent_id": "mock-agent", "status": "active", "capabilities": [], "version": 1});
    mock.push_for(Method::Post, "/api/v1/agents/register", MockReply::json(200, record.clone()));
    mock.push_for(Method::Post, "/api/v1/agents/mock-agent/heartbeat", MockReply::json(200, record.clone()));
    let assignment = json!({"id": "as-1", "intent_id": "i-1", "agent_id": "mock-agent", "role": "worker",
        "assigned_at": "2026-12-03T10:00:00Z"});
    mock.push_for(
        Method::Get,
        "/api/v1/subscribe/agents/mock-agent",
        MockReply::sse(format!("event: agent_assigned\ndata: {assignment}\n\n")).then(StreamEnd::Hang),
    );
    let intent = json!({"id": "i-1", "title": "Mocked", "version": 1, "status": "active", "state": {}});
    mock.push_for(Method::Get, "/api/v1/intents/i-1", MockReply::json(200, intent));
    mock.push_for(Method::Patch, "/api/v1/agents/mock-agent/status", MockReply::json(200, record.clone()));
    mock.push_for(Method::Delete, "/api/v1/agents/mock-agent", MockReply::json(200, record));

    let dir = tempfile::tempdir().unwrap();
    let cursor = dir.path().join("cursor");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let agent = Agent::builder(Client::from_transport(mock.clone(), "mock-agent"))
        .heartbeat_interval(Duration::from_secs(3600))
        .cursor_file(&cursor)
        .on_assignment(move |ctx| {
            let tx = tx.clone();
            async move {
                tx.send((ctx.intent().title.clone(), ctx.event_id().to_owned())).unwrap();
                Ok(())
            }
        })
        .build();
    let drain = agent.drain_handle();
    let run = tokio::spawn(agent.run());
    let Some((title, event_id)) = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.unwrap() else {
        panic!("the agent stopped: {:?}; requests {:?}", run.await, mock.requests());
    };
    assert_eq!((title.as_str(), event_id.as_str()), ("Mocked", "assignment:as-1"));
    drain.drain();
    tokio::time::timeout(Duration::from_secs(10), run).await.unwrap().unwrap().unwrap();
    assert!(!cursor.exists(), "no server id, nothing to resume after");
    let stream = mock.requests().into_iter().find(|r| r.path == "/api/v1/subscribe/agents/mock-agent").unwrap();
    assert_eq!(stream.headers.get("last-event-id"), None);
    assert!(mock.requests().iter().any(|r| r.method == Method::Delete), "deregistered");
}
