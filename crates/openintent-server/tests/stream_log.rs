//! An intent's event stream is its event log: replayed from the start and then followed, it
//! yields exactly the events `GET …/events` lists, in log order, with the log's ids, whatever
//! kind of write appended them.

mod common;

use std::time::Duration;

use axum::body::{Body, BodyDataStream};
use axum::http::{Request, StatusCode};
use common::{KEY, TestApp};
use futures_util::StreamExt;
use serde_json::{Value, json};
use tower::ServiceExt;

const WAIT: Duration = Duration::from_secs(10);

/// One message of a stream: name, id, data.
#[derive(Debug, Clone, PartialEq)]
struct Msg {
    event: String,
    id: String,
    data: Value,
}

/// A stream read in process (the body is polled only when the test asks).
struct Stream {
    body: BodyDataStream,
    text: String,
}

impl Stream {
    async fn open(app: &TestApp, path: &str) -> Stream {
        let req = Request::get(path).header("x-api-key", KEY).body(Body::empty()).unwrap();
        let resp = app.router.clone().oneshot(req).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        Stream { body: resp.into_body().into_data_stream(), text: String::new() }
    }

    /// The next message, skipping keep-alive comments.
    async fn next(&mut self) -> Msg {
        loop {
            if let Some(end) = self.text.find("\n\n") {
                let block: String = self.text.drain(..end + 2).collect();
                let (mut event, mut id, mut data) = (String::new(), String::new(), None);
                for line in block.trim_end().split('\n') {
                    if let Some(v) = line.strip_prefix("event: ") {
                        event = v.to_owned();
                    } else if let Some(v) = line.strip_prefix("id: ") {
                        id = v.to_owned();
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        data = Some(serde_json::from_str(v).unwrap());
                    }
                }
                if let Some(data) = data {
                    return Msg { event, id, data };
                }
                continue;
            }
            let chunk = tokio::time::timeout(WAIT, self.body.next()).await.expect("no message in time");
            let chunk = chunk.expect("the stream ended").unwrap();
            self.text.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    async fn take(&mut self, n: usize) -> Vec<Msg> {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(self.next().await);
        }
        out
    }
}

/// The log, oldest first.
async fn log(app: &TestApp, id: &str) -> Vec<Value> {
    let mut events = app.get(&format!("/api/v1/intents/{id}/events?limit=1000")).await.body.as_array().unwrap().clone();
    events.reverse();
    events
}

fn ids_and_types(events: &[Value]) -> Vec<(String, String)> {
    events
        .iter()
        .map(|e| (e["id"].as_str().unwrap().to_owned(), e["event_type"].as_str().unwrap().to_owned()))
        .collect()
}

fn of_stream(msgs: &[Msg]) -> Vec<(String, String)> {
    msgs.iter().map(|m| (m.id.clone(), m.event.clone())).collect()
}

async fn ok(r: common::Reply) -> Value {
    assert!(r.status.is_success(), "{} {:?}", r.status, r.body);
    r.body
}

async fn status(app: &TestApp, agent: &str, id: &str, version: i64, to: &str) -> common::Reply {
    let v = version.to_string();
    let path = format!("/api/v1/intents/{id}/status");
    app.as_agent_with(Some(agent), "POST", &path, Some(json!({"status": to})), &[("if-match", &v)]).await
}

/// Every kind of write, by the principal `tester` (and a refused one by `intruder`).
async fn every_kind_of_write(app: &TestApp, id: &str) {
    let at = |s: &str| format!("/api/v1/intents/{id}{s}");
    let tester = |m: &'static str, p: String, b: Option<Value>| {
        let app = app.clone();
        async move { app.as_agent(Some("tester"), m, &p, b).await }
    };
    ok(app.patch_state("tester", id, 1, json!({"patches": [{"op": "set", "path": "/step", "value": 1}]})).await).await;
    ok(status(app, "tester", id, 2, "active").await).await;
    // Refused: a stale version and a move the lifecycle forbids append nothing.
    assert_eq!(status(app, "tester", id, 1, "blocked").await.status, StatusCode::CONFLICT);
    assert_eq!(status(app, "tester", id, 3, "draft").await.status, StatusCode::CONFLICT);
    ok(tester("POST", at("/events"), Some(json!({"event_type": "comment", "payload": {"n": 1}}))).await).await;
    let lease = ok(tester("POST", at("/leases"), Some(json!({"scope": "data-processing"}))).await).await;
    let lease_path = at(&format!("/leases/{}", lease["id"].as_str().unwrap()));
    ok(tester("PATCH", lease_path.clone(), Some(json!({"duration_seconds": 120}))).await).await;
    ok(tester("DELETE", lease_path, None).await).await;
    ok(tester("POST", at("/agents"), Some(json!({"agent_id": "helper", "role": "analyst"}))).await).await;
    ok(tester("DELETE", at("/agents/helper"), None).await).await;
    let file = json!({"filename": "a.txt", "mime_type": "text/plain", "size": 1, "storage_url": "s3://b/a"});
    let attachment = ok(tester("POST", at("/attachments"), Some(file)).await).await;
    let attachment_path = at(&format!("/attachments/{}", attachment["id"].as_str().unwrap()));
    assert_eq!(tester("DELETE", attachment_path, None).await.status, StatusCode::NO_CONTENT);
    ok(tester("POST", at("/costs"), Some(json!({"cost_type": "tokens", "amount": 3, "unit": "tokens"}))).await).await;
    let failure = json!({"error_type": "timeout", "error_message": "slow", "attempt_number": 1});
    ok(tester("POST", at("/failures"), Some(failure)).await).await;
    ok(tester("PUT", at("/retry-policy"), Some(json!({"strategy": "fixed"}))).await).await;
    ok(tester("POST", at("/arbitrate"), Some(json!({"reason": "disagreement"}))).await).await;
    ok(tester("POST", at("/decisions"), Some(json!({"outcome": "go", "rationale": "r"}))).await).await;
    let portfolio = ok(tester("POST", "/api/v1/portfolios".into(), Some(json!({"name": "p"}))).await).await;
    let members = format!("/api/v1/portfolios/{}/intents", portfolio["id"].as_str().unwrap());
    ok(tester("POST", members.clone(), Some(json!({"intent_id": id}))).await).await;
    ok(tester("DELETE", format!("{members}/{id}"), None).await).await;
    // A write the governance policy refuses logs a violation.
    let refused = app.patch_state("intruder", id, 3, json!({"state": {"x": 1}})).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{:?}", refused.body);
    ok(app.patch_state("tester", id, 3, json!({"state": {"step": 2}})).await).await;
    ok(status(app, "tester", id, 4, "completed").await).await;
}

#[tokio::test]
async fn the_intent_stream_is_the_event_log() {
    let app = TestApp::memory().await;
    let policy = json!({"allowed_agents": ["tester", "helper"]});
    let id =
        ok(app.post("/api/v1/intents", json!({"title": "streamed", "governance_policy": policy})).await).await["id"]
            .as_str()
            .unwrap()
            .to_owned();
    let path = format!("/api/v1/subscribe/intents/{id}");
    // Opened before the writes: one from the start of the log, one live.
    let mut from_start = Stream::open(&app, &format!("{path}?from=start")).await;
    let mut live = Stream::open(&app, &path).await;

    every_kind_of_write(&app, &id).await;
    let events = log(&app, &id).await;
    let expected = ids_and_types(&events);
    let kinds: Vec<&str> = expected.iter().map(|(_, t)| t.as_str()).collect();
    for kind in [
        "intent_created",
        "state_patched",
        "status_changed",
        "comment",
        "lease_acquired",
        "lease_renewed",
        "lease_released",
        "agent_assigned",
        "agent_unassigned",
        "arbitration_requested",
        "decision_recorded",
        "governance.violation",
    ] {
        assert!(kinds.contains(&kind), "the writes log {kind}: {kinds:?}");
    }

    let streamed = from_start.take(expected.len()).await;
    assert_eq!(of_stream(&streamed), expected, "from the start: the whole log, in order");
    let streamed_live = live.take(expected.len() - 1).await;
    assert_eq!(of_stream(&streamed_live), expected[1..], "live: everything after the stream opened");

    // Opened afterwards from the start: the same sequence, replayed.
    let mut replayed = Stream::open(&app, &format!("{path}?from=start")).await;
    assert_eq!(of_stream(&replayed.take(expected.len()).await), expected);

    // The data: every message is the event exactly as the log lists it; a state or status
    // change adds the new version (and status) at the top, not the intent.
    let mut version = 1;
    for (m, e) in streamed_live.iter().zip(&events[1..]) {
        let mut data = m.data.clone();
        if matches!(m.event.as_str(), "state_patched" | "status_changed") {
            version += 1;
            assert_eq!((m.data["intent_id"].as_str(), m.data["version"].as_i64()), (Some(id.as_str()), Some(version)));
            assert_eq!(e["payload"]["version"], version);
            let extra = data.as_object_mut().unwrap();
            extra.remove("version");
            extra.remove("status");
        }
        assert_eq!(&data, e, "{}", m.event);
    }

    // And all three go on live with the next event.
    let next = ok(app.post(&format!("/api/v1/intents/{id}/events"), json!({"event_type": "after"})).await).await;
    for s in [&mut from_start, &mut live, &mut replayed] {
        let m = s.next().await;
        assert_eq!((m.id.as_str(), m.event.as_str()), (next["id"].as_str().unwrap(), "after"));
    }
}

/// Writers racing on one intent: the live stream still follows log order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_stream_in_log_order() {
    let app = TestApp::memory().await;
    let id = app.intent("racing").await;
    let mut live = Stream::open(&app, &format!("/api/v1/subscribe/intents/{id}")).await;
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (app, id) = (app.clone(), id.clone());
            tokio::spawn(async move {
                for n in 0..15 {
                    let body = json!({"event_type": "tick", "payload": {"writer": w, "n": n}});
                    let r = app.post(&format!("/api/v1/intents/{id}/events"), body).await;
                    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
                    if n % 5 == 0 {
                        let lease = json!({"scope": format!("w{w}.n{n}")});
                        assert_eq!(
                            app.post(&format!("/api/v1/intents/{id}/leases"), lease).await.status,
                            StatusCode::OK
                        );
                    }
                }
            })
        })
        .collect();
    for w in writers {
        w.await.unwrap();
    }
    let expected = ids_and_types(&log(&app, &id).await)[1..].to_vec();
    assert_eq!(expected.len(), 4 * 18);
    assert_eq!(of_stream(&live.take(expected.len()).await), expected);
}

#[tokio::test]
async fn streams_refuse_an_unknown_starting_point() {
    let app = TestApp::memory().await;
    let id = app.intent("t").await;
    for path in
        [format!("/api/v1/subscribe/intents/{id}?from=beginning"), "/api/v1/subscribe/agents/a?from=1".to_owned()]
    {
        let r = app.get(&path).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {:?}", r.body);
        assert_eq!(r.body["detail"][0]["loc"], json!(["query", "from"]));
    }
    // Portfolio and agent streams replay their kept messages from the start too.
    ok(app.post(&format!("/api/v1/intents/{id}/agents"), json!({"agent_id": "early"})).await).await;
    let mut agent = Stream::open(&app, "/api/v1/subscribe/agents/early?from=start").await;
    let m = agent.next().await;
    assert_eq!((m.event.as_str(), m.data["intent_id"].as_str()), ("agent_assigned", Some(id.as_str())));
}
