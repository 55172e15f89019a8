//! Many streams of one intent, fed by writers at once: each stream carries every event of the
//! log exactly once, in log order, however its notifications arrive (most are sent as they come,
//! without a read of the log: each notification names the event before it), and a reader whose
//! access is taken away gets nothing after that and its stream ends.

mod common;

use std::time::Duration;

use axum::body::{Body, BodyDataStream};
use axum::http::{Request, StatusCode};
use common::{KEY, TestApp};
use futures_util::StreamExt;
use openintent_server::{Channel, Notification, ServerConfig};
use serde_json::{Value, json};
use tower::ServiceExt;

const WAIT: Duration = Duration::from_secs(10);

/// A stream read in process: the `(id, event)` of each message, and whether it ended.
struct Stream {
    body: BodyDataStream,
    text: String,
}

impl Stream {
    async fn open(app: &TestApp, who: &str, path: &str, last_event_id: Option<&str>) -> Stream {
        let mut req = Request::get(path).header("x-api-key", KEY).header("x-agent-id", who);
        if let Some(last) = last_event_id {
            req = req.header("last-event-id", last);
        }
        let resp = app.router.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{who} {path}");
        Stream { body: resp.into_body().into_data_stream(), text: String::new() }
    }

    /// The next message's `(id, event)`, skipping pings; `None` when the stream ended.
    async fn next(&mut self) -> Option<(String, String)> {
        loop {
            if let Some(end) = self.text.find("\n\n") {
                let block: String = self.text.drain(..end + 2).collect();
                let (mut event, mut id) = (None, None);
                for line in block.trim_end().split('\n') {
                    if let Some(v) = line.strip_prefix("event: ") {
                        event = Some(v.to_owned());
                    } else if let Some(v) = line.strip_prefix("id: ") {
                        id = Some(v.to_owned());
                    }
                }
                match (id, event) {
                    (Some(id), Some(event)) => return Some((id, event)),
                    _ => continue,
                }
            }
            let chunk = tokio::time::timeout(WAIT, self.body.next()).await.expect("nothing in time")?;
            self.text.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
        }
    }

    /// The ids of the messages up to and including `last`.
    async fn ids_until(&mut self, last: &str) -> Vec<String> {
        let mut ids = Vec::new();
        while ids.last().map(String::as_str) != Some(last) {
            let (id, _) = self.next().await.unwrap_or_else(|| panic!("the stream ended before {last}: {ids:?}"));
            ids.push(id);
        }
        ids
    }

    /// The ids of the messages up to the stream's end.
    async fn ids_until_end(&mut self) -> Vec<String> {
        let mut ids = Vec::new();
        while let Some((id, _)) = self.next().await {
            ids.push(id);
        }
        ids
    }
}

async fn ok(r: common::Reply) -> Value {
    assert!(r.status.is_success(), "{} {:?}", r.status, r.body);
    r.body
}

/// An intent of alice's, closed, that bob may read (by the entry whose id is returned).
async fn alices_closed_intent(app: &TestApp, bobs_entry: Value) -> (String, String) {
    let intent = ok(app.as_agent(Some("alice"), "POST", "/api/v1/intents", Some(json!({"title": "fan"}))).await).await;
    let id = intent["id"].as_str().unwrap().to_owned();
    let acl = json!({"default_policy": "closed", "entries": [bobs_entry]});
    let acl = ok(app.as_agent(Some("alice"), "PUT", &format!("/api/v1/intents/{id}/acl"), Some(acl)).await).await;
    let entry = acl["entries"][0]["id"].as_str().unwrap().to_owned();
    (id, entry)
}

/// The log's `(id, event_type)`, oldest first.
async fn log(app: &TestApp, id: &str) -> Vec<(String, String)> {
    let events = app.as_agent(Some("alice"), "GET", &format!("/api/v1/intents/{id}/events?limit=1000"), None).await;
    let mut out: Vec<(String, String)> = events
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["id"].as_str().unwrap().to_owned(), e["event_type"].as_str().unwrap().to_owned()))
        .collect();
    out.reverse();
    out
}

/// `writers` agents logging `each` events at once.
async fn write_at_once(app: &TestApp, id: &str, writers: usize, each: usize, round: &str) {
    let mut tasks = Vec::new();
    for w in 0..writers {
        let (app, path) = (app.clone(), format!("/api/v1/intents/{id}/events"));
        let round = round.to_owned();
        tasks.push(tokio::spawn(async move {
            for n in 0..each {
                let body = json!({"event_type": "note", "payload": {"round": round, "writer": w, "n": n}});
                ok(app.as_agent(Some("alice"), "POST", &path, Some(body)).await).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

#[tokio::test]
async fn many_streams_get_the_log_once_in_order_and_a_revoked_reader_stops() {
    let app = TestApp::memory().await;
    let (id, bobs_entry) = alices_closed_intent(&app, json!({"principal_id": "bob", "permission": "read"})).await;
    let path = format!("/api/v1/subscribe/intents/{id}");
    let sdk_path = format!("/api/v1/intents/{id}/subscribe");
    let mut alices = Vec::new();
    for n in 0..24 {
        alices.push(Stream::open(&app, "alice", if n % 4 == 0 { &sdk_path } else { &path }, None).await);
    }
    let mut bobs = [Stream::open(&app, "bob", &path, None).await, Stream::open(&app, "bob", &sdk_path, None).await];
    let opened_after = log(&app, &id).await.len();

    write_at_once(&app, &id, 4, 8, "before").await;
    let revoke = format!("/api/v1/intents/{id}/acl/entries/{bobs_entry}");
    assert_eq!(app.as_agent(Some("alice"), "DELETE", &revoke, None).await.status, StatusCode::NO_CONTENT);
    write_at_once(&app, &id, 4, 8, "after").await;

    let log = log(&app, &id).await;
    let expected: Vec<String> = log[opened_after..].iter().map(|(id, _)| id.clone()).collect();
    let last = expected.last().unwrap().clone();
    for (n, stream) in alices.iter_mut().enumerate() {
        assert_eq!(stream.ids_until(&last).await, expected, "alice's stream {n}: the log once, in order");
    }
    let revoked_at = log.iter().position(|(_, t)| t == "access_revoked").unwrap();
    let bob_sees: Vec<String> = log[opened_after..revoked_at].iter().map(|(id, _)| id.clone()).collect();
    for stream in &mut bobs {
        assert_eq!(stream.ids_until_end().await, bob_sees, "bob: everything before the revocation, then the end");
    }
    // Reconnecting is refused; resuming as alice from before the revocation gets the rest once.
    let req = Request::get(&path).header("x-api-key", KEY).header("x-agent-id", "bob").body(Body::empty()).unwrap();
    assert_eq!(app.router.clone().oneshot(req).await.unwrap().status(), StatusCode::FORBIDDEN);
    let mut resumed = Stream::open(&app, "alice", &path, Some(&log[revoked_at - 1].0)).await;
    let rest: Vec<String> = log[revoked_at..].iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(resumed.ids_until(&last).await, rest);
}

#[tokio::test]
async fn an_expired_entry_ends_the_stream() {
    let app = TestApp::memory().await;
    let expires = (chrono::Utc::now() + chrono::Duration::milliseconds(1500)).to_rfc3339();
    let entry = json!({"principal_id": "bob", "permission": "read", "expires_at": expires});
    let (id, _) = alices_closed_intent(&app, entry).await;
    let path = format!("/api/v1/subscribe/intents/{id}");
    let mut bob = Stream::open(&app, "bob", &path, None).await;
    let mut alice = Stream::open(&app, "alice", &path, None).await;
    write_at_once(&app, &id, 1, 1, "before").await;
    let before = log(&app, &id).await.last().unwrap().0.clone();
    // Sent while the entry holds (the stream is read only when the test asks).
    assert_eq!(bob.ids_until(&before).await, vec![before.clone()]);
    tokio::time::sleep(Duration::from_millis(1600)).await;
    write_at_once(&app, &id, 1, 1, "after").await;
    let after = log(&app, &id).await.last().unwrap().0.clone();
    assert_eq!(alice.ids_until(&after).await, vec![before, after]);
    assert_eq!(bob.ids_until_end().await, Vec::<String>::new(), "nothing after the entry expired");
}

/// Each notification of a log event names the event before it in the log; a stream whose
/// notifications come out of order, or again, still carries the log once, in log order.
#[tokio::test]
async fn notifications_out_of_order_or_again_change_nothing() {
    // Two servers on one database: what one writes, the test hands to the other's streams in
    // its own order (on PostgreSQL the relay hands them over too).
    let dir = tempfile::tempdir().unwrap();
    let config = ServerConfig::builder().database(common::shared_test_database(dir.path()).await).build().unwrap();
    let (writer, reader) = (TestApp::with_config(config.clone()).await, TestApp::with_config(config).await);
    let mut rx = writer.state.subscribe();
    let (id, _) = alices_closed_intent(&writer, json!({"principal_id": "bob", "permission": "read"})).await;
    let path = format!("/api/v1/subscribe/intents/{id}");
    let mut stream = Stream::open(&reader, "alice", &path, None).await;
    write_at_once(&writer, &id, 3, 4, "one").await;
    let log = log(&writer, &id).await;
    let mut notified = Vec::new();
    while let Ok(n) = rx.try_recv() {
        if n.channel == Channel::Intent(id.clone()) {
            notified.push(n);
        }
    }
    // In log order (on PostgreSQL, commits of one process may publish out of order).
    let place = |n: &Notification| log.iter().position(|(id, _)| *id == n.id).unwrap();
    notified.sort_by_key(place);
    let chain: Vec<(Option<String>, String)> = notified.iter().map(|n| (n.after.clone(), n.id.clone())).collect();
    let mut expected = vec![(None, log[0].0.clone())];
    expected.extend(log.windows(2).map(|w| (Some(w[0].0.clone()), w[1].0.clone())));
    assert_eq!(chain, expected, "each notification names the event before it");

    // The new events' notifications two by two swapped, then all of them again, newest first.
    let new = &notified[2..];
    let mut order: Vec<&Notification> = new.chunks(2).flat_map(|pair| pair.iter().rev()).collect();
    order.extend(new.iter().rev());
    for n in order {
        let again = Notification::new(n.channel.clone(), n.event.clone(), n.data.clone(), n.id.clone());
        reader.state.notifier().send(again.after(n.after.clone())).unwrap();
    }
    let expected: Vec<String> = log[2..].iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(stream.ids_until(&expected[expected.len() - 1]).await, expected);
    // What comes next in order is sent too.
    write_at_once(&writer, &id, 1, 1, "two").await;
    let n = loop {
        let n = rx.recv().await.unwrap();
        if n.channel == Channel::Intent(id.clone()) {
            break n;
        }
    };
    let last = n.id.clone();
    reader.state.notifier().send(n).unwrap();
    assert_eq!(stream.ids_until(&last).await, vec![last.clone()]);
}
