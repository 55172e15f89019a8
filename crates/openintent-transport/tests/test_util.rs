//! The mock, closure and never-answering transports.
#![cfg(feature = "test-util")]

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use openintent_transport::test_util::{FnTransport, MockReply, MockTransport, NeverTransport, StreamEnd};
use openintent_transport::{Headers, Method, Request, Response, Transport, TransportError, TransportErrorKind};

#[tokio::test]
async fn mock_answers_in_order_and_records_requests() {
    let mock = MockTransport::new();
    mock.push(Response::new(200).with_body("first"));
    mock.push_json(201, "{\"n\":2}");
    let r1 = mock.send(Request::get("/a").query("limit", "5").header("X-API-Key", "k")).await.unwrap();
    let r2 = mock.send(Request::put("/b").json_body("{}")).await.unwrap();
    assert_eq!((r1.status, r1.text().into_owned()), (200, "first".to_owned()));
    assert_eq!((r2.status, r2.text().into_owned()), (201, "{\"n\":2}".to_owned()));
    assert_eq!(r2.headers.get("content-type"), Some("application/json"));

    let sent = mock.requests();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].method, Method::Get);
    assert_eq!(sent[0].path, "/a");
    assert_eq!(sent[0].query, [("limit".to_owned(), "5".to_owned())]);
    assert_eq!(sent[0].headers.get("x-api-key"), Some("k"));
    assert_eq!(sent[1].body.as_deref(), Some(&b"{}"[..]));
    assert_eq!(mock.last_request().unwrap().path, "/b");
    assert_eq!(mock.remaining(), 0);
    mock.assert_all_used();
}

#[tokio::test]
async fn json_replies_take_anything_serialize() {
    #[derive(serde::Serialize)]
    struct Created<'a> {
        id: &'a str,
        version: i64,
    }
    let mock = MockTransport::new();
    let owned = String::from(r#"{"id":"i-1","version":1}"#);
    let borrowed: &str = &owned; // not 'static
    let value = serde_json::json!({"id": "i-1", "version": 1});
    mock.push_json(201, &value);
    mock.push_json(201, Created { id: "i-1", version: 1 });
    mock.push_json(201, borrowed);
    mock.push_json(201, owned.clone());
    mock.push_json(201, value);
    for _ in 0..5 {
        let r = mock.send(Request::post("/api/v1/intents")).await.unwrap();
        assert_eq!((r.status, r.text().into_owned()), (201, owned.clone()));
        assert_eq!(r.headers.get("content-type"), Some("application/json"));
    }
    // Strings are JSON text: a malformed body stays malformed, a JSON string is its own text.
    mock.push_json(200, "{not json");
    mock.push_json(200, r#""done""#);
    mock.push_json(200, 42);
    mock.push_for(Method::Get, "/n", MockReply::json(404, serde_json::json!({"detail": "gone"})));
    assert_eq!(mock.send(Request::get("/a")).await.unwrap().text(), "{not json");
    assert_eq!(mock.send(Request::get("/b")).await.unwrap().text(), r#""done""#);
    assert_eq!(mock.send(Request::get("/c")).await.unwrap().text(), "42");
    let gone = mock.send(Request::get("/n")).await.unwrap();
    assert_eq!((gone.status, gone.text().into_owned()), (404, r#"{"detail":"gone"}"#.to_owned()));
    mock.assert_all_used();
}

#[test]
fn json_replies_that_cannot_serialize_panic_with_a_reason() {
    let mut bad = std::collections::BTreeMap::new();
    bad.insert((1, 2), "tuple keys are not JSON");
    let caught = std::panic::catch_unwind(|| MockReply::json(200, &bad));
    let msg = *caught.unwrap_err().downcast::<String>().unwrap();
    assert!(msg.contains("MockReply::json") && msg.contains("key must be a string"), "{msg}");
}

#[tokio::test]
async fn matched_replies_wait_for_their_request() {
    let mock = MockTransport::new();
    mock.push_for(Method::Get, "/b", Response::new(202));
    mock.push_for(Method::Get, "/a", Response::new(201));
    mock.push(Response::new(200));
    // "/a" skips the earlier reply for "/b".
    assert_eq!(mock.send(Request::get("/a")).await.unwrap().status, 201);
    // The method matters too: a POST to "/b" takes the catch-all.
    assert_eq!(mock.send(Request::post("/b")).await.unwrap().status, 200);
    assert_eq!(mock.send(Request::get("/b")).await.unwrap().status, 202);
    mock.assert_all_used();
}

#[tokio::test]
async fn unscripted_requests_fail_and_are_reported() {
    let mock = MockTransport::new();
    let err = mock.send(Request::delete("/x")).await.unwrap_err();
    assert_eq!(err.kind(), TransportErrorKind::Other);
    assert!(err.to_string().contains("DELETE /x"), "{err}");
    let caught = std::panic::catch_unwind(AssertUnwindSafe(|| mock.assert_all_used()));
    let msg = *caught.unwrap_err().downcast::<String>().unwrap();
    assert!(msg.contains("no reply scripted for DELETE /x"), "{msg}");
    mock.allow_unused();
}

#[test]
#[should_panic(expected = "unused reply for GET /never-called")]
fn assert_all_used_names_unused_replies() {
    let mock = MockTransport::new();
    mock.push_for(Method::Get, "/never-called", Response::new(200));
    mock.allow_unused();
    mock.assert_all_used();
}

#[test]
fn dropping_a_mock_with_unused_replies_panics() {
    let caught = std::panic::catch_unwind(|| {
        let mock = MockTransport::new();
        mock.push(Response::new(200));
        drop(mock);
    });
    assert!(caught.is_err());

    // Only the last clone checks, and allow_unused turns the check off.
    let mock = MockTransport::new();
    mock.push(Response::new(200));
    let clone = mock.clone();
    drop(clone);
    mock.allow_unused();
    drop(mock);
}

#[tokio::test]
async fn scripted_errors_and_streams() {
    let mock = MockTransport::new();
    mock.push(TransportError::connect("refused"));
    mock.push(MockReply::stream(200, Headers::new(), ["data: 1\n", "\ndata: 2\n\n"]));
    mock.push(MockReply::sse("data: 3\n\n").then(StreamEnd::Error(TransportError::io("reset"))));
    mock.push(Response::new(200).with_body("data: 4\n\n"));
    mock.push(MockReply::sse("data: 5\n\n"));

    let err = mock.send_stream(Request::get("/s")).await.unwrap_err();
    assert!(err.is_connect());

    let events: Vec<_> =
        mock.send_stream(Request::get("/s")).await.unwrap().into_sse().map(|e| e.unwrap().data).collect().await;
    assert_eq!(events, ["1", "2"]);

    let mut s = mock.send_stream(Request::get("/s")).await.unwrap().into_sse();
    assert_eq!(s.next().await.unwrap().unwrap().data, "3");
    assert_eq!(s.next().await.unwrap().unwrap_err().kind(), TransportErrorKind::Io);

    // A buffered reply to a stream request becomes a one-chunk stream...
    let r = mock.send_stream(Request::get("/s")).await.unwrap();
    assert_eq!(r.into_response().await.unwrap().text(), "data: 4\n\n");
    // ...and a stream reply to a buffered request is collected.
    let r = mock.send(Request::get("/s")).await.unwrap();
    assert_eq!(r.headers.get("content-type"), Some("text/event-stream"));
    assert_eq!(r.text(), "data: 5\n\n");
    mock.assert_all_used();
}

#[tokio::test]
async fn hanging_streams_stay_open() {
    let mock = MockTransport::new();
    mock.push(MockReply::sse("data: x\n\n").then(StreamEnd::Hang));
    let mut s = mock.send_stream(Request::get("/s")).await.unwrap().into_sse();
    assert_eq!(s.next().await.unwrap().unwrap().data, "x");
    let more = tokio::time::timeout(Duration::from_millis(30), s.next()).await;
    assert!(more.is_err(), "the stream should still be open");
}

#[tokio::test]
async fn mock_is_shared_through_clones_and_trait_objects() {
    let mock = MockTransport::new();
    mock.push(Response::new(204));
    let t: Arc<dyn Transport> = Arc::new(mock.clone());
    assert_eq!(t.send(Request::delete("/x")).await.unwrap().status, 204);
    assert_eq!(mock.request_count(), 1);
    assert!(format!("{mock:?}").contains("requests: 1"));
}

#[tokio::test]
async fn fn_transport_answers_with_the_closure() {
    let t = FnTransport::new(|req: Request| {
        Response::new(200).with_body(format!("{} {} {:?}", req.method, req.path, req.query))
    });
    let r = t.send(Request::get("/p").query("a", "b")).await.unwrap();
    assert_eq!(r.text(), "GET /p [(\"a\", \"b\")]");
    let s = t.send_stream(Request::head("/q")).await.unwrap();
    assert_eq!(s.into_response().await.unwrap().text(), "HEAD /q []");
    assert_eq!(t.calls(), 2);

    let t = FnTransport::fallible(|req: Request| {
        if req.path == "/down" { Err(TransportError::connect("down")) } else { Ok(Response::new(200)) }
    });
    assert!(t.send(Request::get("/down")).await.unwrap_err().is_connect());
    assert!(t.send(Request::get("/up")).await.is_ok());
}

#[tokio::test]
async fn never_transport_never_answers() {
    let t = NeverTransport::new();
    let r = tokio::time::timeout(Duration::from_millis(20), t.send(Request::get("/"))).await;
    assert!(r.is_err());
    let r = tokio::time::timeout(Duration::from_millis(20), t.send_stream(Request::get("/"))).await;
    assert!(r.is_err());
    assert_eq!(t.calls(), 2);
}
