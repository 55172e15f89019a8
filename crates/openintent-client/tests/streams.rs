//! Server-sent event streams: typed items, keep-alives, resumption with `Last-Event-ID`,
//! refusals, and the fallback to the older stream paths.

mod common;

use std::time::Duration;

use common::*;
use futures_util::StreamExt;
use openintent_client::ReconnectConfig;
use openintent_transport::Method;
use openintent_transport::test_util::{MockReply, StreamEnd};
use openintent_types::{EventType, IntentStatus, StreamEvent};

fn sse_body(name: &str) -> String {
    example(name)["response"]["body_text"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn intent_stream_items_are_typed() {
    let (client, mock) = client();
    let id = "030a440c-328a-4549-89b0-0c6d50abe84e";
    mock.push(MockReply::sse(sse_body("sse_subscribe_intent")).then(StreamEnd::Hang));
    let mut s = client.stream_intent_events(id).into_stream();
    match s.next().await.unwrap().unwrap() {
        StreamEvent::IntentChanged { event_type, intent } => {
            assert_eq!(event_type, EventType::StatePatched);
            assert_eq!((intent.version, intent.state["progress"].as_f64()), (2, Some(0.5)));
        }
        other => panic!("{other:?}"),
    }
    match s.next().await.unwrap().unwrap() {
        StreamEvent::IntentChanged { event_type, intent } => {
            assert_eq!((event_type, intent.status), (EventType::StatusChanged, IntentStatus::Active));
        }
        other => panic!("{other:?}"),
    }
    match s.next().await.unwrap().unwrap() {
        StreamEvent::Event(e) => assert_eq!((e.event_type, e.actor.as_str()), (EventType::Comment, "my-agent")),
        other => panic!("{other:?}"),
    }
    // The `: ping` keep-alive yields nothing; the stream stays open.
    assert!(tokio::time::timeout(Duration::from_millis(50), s.next()).await.is_err());
    let req = &mock.requests()[0];
    assert_request(req, Method::Get, &format!("/api/v1/subscribe/intents/{id}"), None);
    assert_eq!(req.headers.get("accept"), Some("text/event-stream"));
}

#[tokio::test]
async fn portfolio_and_agent_streams() {
    let (client, mock) = client();
    mock.push(MockReply::sse(sse_body("sse_subscribe_portfolio")).then(StreamEnd::Hang));
    mock.push(MockReply::sse(sse_body("sse_subscribe_agent")).then(StreamEnd::Hang));
    let mut p = client.stream_portfolio_events("p1").into_stream();
    let first = p.next().await.unwrap().unwrap();
    assert!(matches!(&first, StreamEvent::PortfolioChanged { event_type, .. } if event_type == "intent_added"));
    assert_eq!(p.next().await.unwrap().unwrap().event_type(), "intent_removed");
    let mut a = client.stream_agent_events("agent-research").into_stream();
    match a.next().await.unwrap().unwrap() {
        StreamEvent::AgentAssigned(x) => assert_eq!(x.agent_id, "agent-research"),
        other => panic!("{other:?}"),
    }
    let paths: Vec<_> = mock.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/api/v1/subscribe/portfolios/p1", "/api/v1/subscribe/agents/agent-research"]);
}

#[tokio::test(start_paused = true)]
async fn reconnects_and_resumes_with_last_event_id() {
    let (client, mock) = client();
    let comment = |id: &str| {
        format!(
            "id: {id}\nevent: comment\ndata: {{\"id\": \"{id}\", \"intent_id\": \"i1\", \"event_type\": \"comment\", \"actor\": \"a\", \"payload\": {{}}, \"created_at\": \"2026-11-24T13:50:36\"}}\n\n"
        )
    };
    mock.push(MockReply::sse(comment("e1") + &comment("e2")));
    mock.push(MockReply::sse(comment("e3")).then(StreamEnd::Hang));
    let mut s = client
        .stream_intent_events("i1")
        .reconnect(ReconnectConfig::default().initial_delay(Duration::from_millis(100)))
        .into_stream();
    let mut ids = Vec::new();
    for _ in 0..3 {
        match s.next().await.unwrap().unwrap() {
            StreamEvent::Event(e) => ids.push(e.id),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(ids, ["e1", "e2", "e3"]);
    assert_eq!(s.last_event_id().as_deref(), Some("e3"));
    let reqs = mock.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].headers.get("last-event-id"), None);
    assert_eq!(reqs[1].headers.get("last-event-id"), Some("e2"));
    assert_eq!(reqs[1].headers.get("x-agent-id"), Some(AGENT));
}

#[tokio::test]
async fn a_given_last_event_id_is_sent_on_the_first_connection() {
    let (client, mock) = client();
    mock.push(MockReply::sse(": ping\n\n").then(StreamEnd::Hang));
    let mut s = client.stream_intent_events("i1").last_event_id("e41").into_stream();
    assert!(tokio::time::timeout(Duration::from_millis(20), s.next()).await.is_err());
    assert_eq!(mock.requests()[0].headers.get("last-event-id"), Some("e41"));
}

fn comment_frame(id: &str) -> String {
    format!(
        "id: {id}\nevent: comment\ndata: {{\"id\": \"{id}\", \"intent_id\": \"i1\", \"event_type\": \"comment\", \"actor\": \"a\", \"payload\": {{}}, \"created_at\": \"2026-11-24T13:50:36\"}}\n\n"
    )
}

/// `from_start` asks for the whole stream (`?from=start`); a reconnection keeps asking, and
/// names the last id received, which the server resumes after.
#[tokio::test(start_paused = true)]
async fn from_start_asks_for_the_whole_stream() {
    let (client, mock) = client();
    mock.push(MockReply::sse(comment_frame("e1")));
    mock.push(MockReply::sse(comment_frame("e2")).then(StreamEnd::Hang));
    let mut s = client
        .stream_intent_events("i1")
        .from_start()
        .reconnect(ReconnectConfig::default().initial_delay(Duration::from_millis(10)))
        .into_stream();
    for want in ["e1", "e2"] {
        s.next().await.unwrap().unwrap();
        assert_eq!(s.last_event_id().as_deref(), Some(want));
    }
    let reqs = mock.requests();
    assert_eq!(reqs.len(), 2);
    for r in &reqs {
        assert_eq!(r.query, vec![("from".to_owned(), "start".to_owned())]);
    }
    assert_eq!((reqs[0].headers.get("last-event-id"), reqs[1].headers.get("last-event-id")), (None, Some("e1")));
    // Without it, no query.
    mock.push(MockReply::sse(": ping\n\n").then(StreamEnd::Hang));
    let _live = client.stream_intent_events("i1").connect().await.unwrap();
    assert!(mock.last_request().unwrap().query.is_empty());
}

/// `connect` returns once the server answered, before any event, with the stream open; the
/// events then follow in order. A refused stream is the error of `connect` itself.
#[tokio::test]
async fn connect_returns_once_the_server_answered() {
    let (client, mock) = client();
    mock.push(MockReply::sse(comment_frame("e1") + &comment_frame("e2")).then(StreamEnd::Hang));
    let mut s = client.stream_intent_events("i1").connect().await.unwrap();
    assert_eq!(mock.request_count(), 1, "connected: the request was sent and answered");
    assert_eq!(s.last_event_id(), None, "no event taken yet");
    let mut ids = Vec::new();
    for _ in 0..2 {
        match s.next().await.unwrap().unwrap() {
            StreamEvent::Event(e) => ids.push(e.id),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(ids, ["e1", "e2"]);

    mock.push(json(404, serde_json::json!({"detail": "Intent not found"})));
    let err = client.stream_intent_events("nope").connect().await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
    mock.push(example_response("error_sse_missing_api_key"));
    assert!(client.stream_intent_events("i1").connect().await.unwrap_err().is_unauthorized());
    // A missing route still falls back to the older path before connecting.
    mock.push(json(404, serde_json::json!({"detail": "Not Found"})));
    mock.push(MockReply::sse(comment_frame("e9")).then(StreamEnd::Hang));
    let mut s = client.stream_intent_events("i1").connect().await.unwrap();
    assert_eq!(mock.last_request().unwrap().path, "/api/v1/intents/i1/subscribe");
    assert!(matches!(s.next().await.unwrap().unwrap(), StreamEvent::Event(e) if e.id == "e9"));
    mock.assert_all_used();
}

/// `connect` waits for the answer: with a server that never answers it does not return.
#[tokio::test(start_paused = true)]
async fn connect_waits_for_the_answer() {
    let never = openintent_transport::test_util::NeverTransport::new();
    let client = openintent_client::Client::from_transport(never.clone(), AGENT);
    let waited = tokio::time::timeout(Duration::from_secs(30), client.stream_intent_events("i1").connect()).await;
    assert!(waited.is_err(), "connect returned before the server answered");
    assert_eq!(never.calls(), 1);
}

#[tokio::test]
async fn refused_streams_end_with_an_api_error() {
    let (client, mock) = client();
    mock.push(example_response("error_sse_missing_api_key"));
    let mut s = client.stream_intent_events("i1").into_stream();
    let err = s.next().await.unwrap().unwrap_err();
    assert!(err.is_unauthorized(), "{err:?}");
    assert!(s.next().await.is_none());
}

#[tokio::test]
async fn a_missing_route_falls_back_to_the_older_path_once() {
    let (client, mock) = client();
    mock.push(json(404, serde_json::json!({"detail": "Not Found"})));
    mock.push(
        MockReply::sse("event: status_changed\ndata: {\"id\": \"i1\", \"title\": \"t\", \"version\": 3}\n\n")
            .then(StreamEnd::Hang),
    );
    let mut s = client.stream_intent_events("i1").into_stream();
    assert!(matches!(s.next().await.unwrap().unwrap(), StreamEvent::IntentChanged { .. }));
    let paths: Vec<_> = mock.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/api/v1/subscribe/intents/i1", "/api/v1/intents/i1/subscribe"]);

    mock.push(json(404, serde_json::json!({"detail": "Not Found"})));
    mock.push(json(404, serde_json::json!({"detail": "Not Found"})));
    let mut s = client.stream_agent_events("a1").into_stream();
    assert!(s.next().await.unwrap().unwrap_err().is_unsupported());
    assert!(s.next().await.is_none());
    assert_eq!(mock.requests().last().unwrap().path, "/api/v1/agents/a1/subscribe");
}

#[tokio::test]
async fn invalid_ids_fail_without_a_request() {
    let (client, mock) = client();
    let mut s = client.stream_intent_events("").into_stream();
    assert!(s.next().await.unwrap().unwrap_err().is_validation());
    assert!(s.next().await.is_none());
    assert_eq!(mock.request_count(), 0);
}
