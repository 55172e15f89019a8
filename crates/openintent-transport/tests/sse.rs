//! Server-Sent Events over the reqwest transport and over the mock.
#![cfg(all(feature = "reqwest", feature = "test-util"))]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response as AxumResponse;
use axum::routing::get;
use futures_util::StreamExt;
use openintent_transport::sse::{
    EventSource, EventSourceError, ReconnectCause, ReconnectConfig, SseEvent, SseItem, SseParser,
};
use openintent_transport::test_util::{MockReply, MockTransport, StreamEnd};
use openintent_transport::{Headers, Request, ReqwestTransport, Response, Transport, TransportError};

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn event_stream(chunks: Vec<String>, hang: bool) -> AxumResponse {
    let body = futures_util::stream::iter(chunks.into_iter().map(Ok::<_, std::io::Error>));
    let body =
        if hang { Body::from_stream(body.chain(futures_util::stream::pending())) } else { Body::from_stream(body) };
    AxumResponse::builder().header("content-type", "text/event-stream; charset=utf-8").body(body).unwrap()
}

fn transport(addr: SocketAddr) -> Arc<dyn Transport> {
    Arc::new(ReqwestTransport::builder(format!("http://{addr}")).api_key("dev-user-key").build().unwrap())
}

fn quick() -> ReconnectConfig {
    ReconnectConfig::default().initial_delay(Duration::from_millis(20)).max_delay(Duration::from_millis(200))
}

/// Five events with ids 1..=5. Without `Last-Event-ID` the server sends the
/// first two (and `retry: 30`) and closes the stream; with it, the events
/// after that id, then stays open.
#[derive(Clone, Default)]
struct Resumable {
    seen: Arc<Mutex<Vec<Option<String>>>>,
}

async fn resumable(State(s): State<Resumable>, headers: HeaderMap) -> AxumResponse {
    let last = headers.get("last-event-id").map(|v| v.to_str().unwrap().to_owned());
    s.seen.lock().unwrap().push(last.clone());
    let frame = |i: u32| format!("id: {i}\nevent: tick\ndata: {{\"n\": {i}}}\n\n");
    match last {
        None => event_stream(vec![format!("retry: 30\n{}", frame(1)), frame(2)], false),
        Some(id) => {
            let from: u32 = id.parse().unwrap();
            event_stream(((from + 1)..=5).map(frame).collect(), true)
        }
    }
}

#[tokio::test]
async fn a_closed_stream_is_resumed_with_last_event_id() {
    let state = Resumable::default();
    let app = Router::new().route("/api/v1/subscribe/intents/i1", get(resumable)).with_state(state.clone());
    let addr = serve(app).await;

    let mut source = EventSource::with_config(transport(addr), Request::get("/api/v1/subscribe/intents/i1"), quick());
    let mut events = Vec::new();
    let mut reconnecting = Vec::new();
    while events.len() < 5 {
        let item = tokio::time::timeout(Duration::from_secs(5), source.next())
            .await
            .expect("no item within 5 s")
            .expect("the source ended")
            .expect("the source failed");
        match item {
            SseItem::Event(ev) => events.push(ev),
            SseItem::Reconnecting { attempt, delay, cause } => reconnecting.push((attempt, delay, cause)),
            SseItem::Connected { status, .. } => assert_eq!(status, 200),
            other => panic!("unexpected item {other:?}"),
        }
    }
    let ids: Vec<_> = events.iter().map(|e| e.id.clone().unwrap()).collect();
    assert_eq!(ids, ["1", "2", "3", "4", "5"]);
    assert!(events.iter().all(|e| e.event == "tick"));
    assert_eq!(events[4].data, "{\"n\": 5}");
    assert_eq!(reconnecting.len(), 1);
    let (attempt, delay, cause) = &reconnecting[0];
    assert_eq!(*attempt, 1);
    // The server's retry: 30 replaced the 20 ms default.
    assert_eq!(*delay, Duration::from_millis(30));
    assert!(matches!(cause, ReconnectCause::Ended), "{cause:?}");
    assert_eq!(*state.seen.lock().unwrap(), [None, Some("2".to_owned())], "Last-Event-ID headers seen by the server");
    assert_eq!(source.reconnects(), 1);
    assert_eq!(source.last_event_id().as_deref(), Some("5"));
}

#[tokio::test]
async fn frames_split_in_odd_places_over_http() {
    let doc = "\u{feff}event: a\r\ndata: {\"x\": \"\u{e9}\"}\r\n\r\n: ping\n\ndata: 1\ndata: 2\n\n";
    let bytes = doc.as_bytes();
    // Cut inside the BOM, inside a CRLF, inside the two-byte 'é' and elsewhere.
    let cuts = [1, 2, 10, 21, 22, 23, 24, 30, bytes.len() - 1];
    let mut chunks = Vec::new();
    let mut prev = 0;
    for c in cuts {
        chunks.push(bytes[prev..c].to_vec());
        prev = c;
    }
    chunks.push(bytes[prev..].to_vec());
    let app = Router::new().route(
        "/s",
        get(move || {
            let chunks = chunks.clone();
            async move {
                // Separate writes with pauses, so that they arrive as separate chunks.
                let body = futures_util::stream::unfold(chunks.into_iter(), |mut it| async move {
                    let c = it.next()?;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    Some((Ok::<_, std::io::Error>(c), it))
                });
                AxumResponse::builder()
                    .header("content-type", "text/event-stream")
                    .body(Body::from_stream(body))
                    .unwrap()
            }
        }),
    );
    let addr = serve(app).await;
    let resp = transport(addr).send_stream(Request::get("/s")).await.unwrap();
    let events: Vec<SseEvent> = resp.into_sse().map(|r| r.unwrap()).collect().await;
    assert_eq!(events, [SseEvent::new("a", "{\"x\": \"\u{e9}\"}"), SseEvent::new("message", "1\n2"),]);
    // Same as parsing the document in one go.
    assert_eq!(SseParser::new().feed(bytes).unwrap(), events);
}

#[tokio::test]
async fn a_refused_subscription_ends_with_the_status() {
    let app = Router::new().route(
        "/s",
        get(|| async {
            (
                StatusCode::UNAUTHORIZED,
                [("content-type", "application/json")],
                "{\"detail\":\"Invalid or missing API key\"}",
            )
        }),
    );
    let addr = serve(app).await;
    let mut source = EventSource::with_config(transport(addr), Request::get("/s"), quick());
    let err = source.next().await.unwrap().unwrap_err();
    assert_eq!(err.status(), Some(401));
    match &err {
        EventSourceError::Status(resp) => {
            assert_eq!(resp.text(), "{\"detail\":\"Invalid or missing API key\"}")
        }
        other => panic!("{other:?}"),
    }
    assert!(source.next().await.is_none());
    assert_eq!(source.reconnects(), 0);
}

#[tokio::test]
async fn a_json_answer_is_not_an_event_stream() {
    let mock = MockTransport::new();
    mock.push(Response::new(200).with_json("{\"detail\":\"nope\"}"));
    mock.push(MockReply::sse("data: fine\n\n").then(StreamEnd::Hang));
    let mut source = EventSource::with_config(Arc::new(mock.clone()), Request::get("/s"), quick());
    let err = source.next().await.unwrap().unwrap_err();
    assert!(matches!(&err, EventSourceError::NotAnEventStream(r) if r.text().contains("nope")), "{err:?}");
    assert!(err.to_string().contains("application/json"), "{err}");
    assert!(source.next().await.is_none());
    mock.allow_unused();

    // Parameters and case do not matter.
    let mock = MockTransport::new();
    let headers: Headers = [("Content-Type", "Text/Event-Stream; charset=utf-8")].into_iter().collect();
    mock.push(MockReply::stream(200, headers, ["data: ok\n\n"]).then(StreamEnd::Hang));
    let mut source = EventSource::with_config(Arc::new(mock.clone()), Request::get("/s"), quick());
    assert!(matches!(source.next().await, Some(Ok(SseItem::Connected { .. }))));
    assert!(matches!(source.next().await, Some(Ok(SseItem::Event(ev))) if ev.data == "ok"));
}

#[tokio::test]
async fn transient_statuses_and_errors_are_retried() {
    let mock = MockTransport::new();
    mock.push(Response::new(503).with_header("Retry-After", "0"));
    mock.push(TransportError::connect("refused"));
    mock.push(MockReply::sse("id: 9\ndata: a\n\n").then(StreamEnd::Error(TransportError::io("reset"))));
    mock.push(MockReply::sse("data: b\n\n").then(StreamEnd::Hang));
    let mut source = EventSource::with_config(Arc::new(mock.clone()), Request::get("/s"), quick());

    let mut log = Vec::new();
    let mut data = Vec::new();
    while data.len() < 2 {
        match source.next().await.unwrap().unwrap() {
            SseItem::Connected { reconnects, .. } => log.push(format!("connected after {reconnects}")),
            SseItem::Event(ev) => data.push(ev.data),
            SseItem::Reconnecting { attempt, cause, .. } => log.push(format!(
                "reconnect {attempt} {}",
                match cause {
                    ReconnectCause::Ended => "ended".to_owned(),
                    ReconnectCause::Error(e) => format!("{:?}", e.kind()),
                    ReconnectCause::Status(r) => r.status.to_string(),
                    other => format!("{other:?}"),
                }
            )),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(data, ["a", "b"]);
    assert_eq!(
        log,
        ["reconnect 1 503", "reconnect 2 Connect", "connected after 2", "reconnect 1 Io", "connected after 3",]
    );
    let sent = mock.requests();
    assert_eq!(sent.len(), 4);
    assert_eq!(sent[0].headers.get("accept"), Some("text/event-stream"));
    assert_eq!(sent[0].headers.get("last-event-id"), None);
    assert_eq!(sent[2].headers.get("last-event-id"), None);
    assert_eq!(sent[3].headers.get("last-event-id"), Some("9"));
    mock.assert_all_used();
}

#[tokio::test]
async fn max_retries_bounds_consecutive_failures() {
    let mock = MockTransport::new();
    for _ in 0..3 {
        mock.push(TransportError::connect("refused"));
    }
    let config = quick().max_retries(Some(2));
    let mut source = EventSource::with_config(Arc::new(mock.clone()), Request::get("/s"), config);
    let mut reconnects = 0;
    let err = loop {
        match source.next().await.unwrap() {
            Ok(SseItem::Reconnecting { .. }) => reconnects += 1,
            Ok(other) => panic!("{other:?}"),
            Err(e) => break e,
        }
    };
    assert_eq!(reconnects, 2);
    assert!(matches!(&err, EventSourceError::Transport(e) if e.is_connect()), "{err:?}");
    assert!(source.next().await.is_none());
    assert_eq!(mock.request_count(), 3);
}

#[tokio::test]
async fn no_content_stops_quietly_and_events_only_view() {
    let mock = MockTransport::new();
    mock.push(MockReply::sse("data: only\n\n"));
    mock.push(Response::new(204));
    let source =
        EventSource::with_config(Arc::new(mock.clone()), Request::get("/s").header("Last-Event-ID", "40"), quick());
    let events: Vec<_> = source.into_events().collect().await;
    assert_eq!(events.len(), 1);
    let ev = events[0].as_ref().unwrap();
    assert_eq!(ev.data, "only");
    assert_eq!(ev.id.as_deref(), Some("40"), "the seeded id carries over");
    let sent = mock.requests();
    assert_eq!(sent[0].headers.get("last-event-id"), Some("40"));
    assert_eq!(sent[1].headers.get("last-event-id"), Some("40"));
}

#[tokio::test]
async fn stream_response_into_sse_reports_body_errors() {
    let mock = MockTransport::new();
    mock.push(
        MockReply::stream(200, Headers::new(), ["data: x\n\n", "data: y"])
            .then(StreamEnd::Error(TransportError::io("reset"))),
    );
    let resp = mock.send_stream(Request::get("/")).await.unwrap();
    let items: Vec<_> = resp.into_sse().collect().await;
    assert_eq!(items.len(), 2);
    assert_eq!(items[0].as_ref().unwrap().data, "x");
    assert!(items[1].is_err());
}
