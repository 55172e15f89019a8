//! Server-sent event streams over a real listener: frames for every published change, the
//! wire format and headers, `Last-Event-ID` resume, keep-alive pings, authentication, unknown
//! ids, slow subscribers and shutdown.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{KEY, TestApp};
use futures_util::StreamExt;
use openintent_server::{Channel, Notification, RunningServer, app, spawn};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tower::ServiceExt;

const WAIT: Duration = Duration::from_secs(5);

/// One block of the stream.
#[derive(Debug, Clone, PartialEq)]
struct Msg {
    event: Option<String>,
    id: Option<String>,
    /// The raw `data:` text.
    raw: String,
    comment: Option<String>,
}

impl Msg {
    fn data(&self) -> Value {
        serde_json::from_str(&self.raw).unwrap_or_else(|e| panic!("data is not JSON ({e}): {}", self.raw))
    }
    fn event(&self) -> &str {
        self.event.as_deref().unwrap_or("")
    }
    fn id(&self) -> &str {
        self.id.as_deref().unwrap_or("")
    }
}

fn parse_block(block: &str) -> Msg {
    let mut msg = Msg { event: None, id: None, raw: String::new(), comment: None };
    let mut data = Vec::new();
    for line in block.split('\n') {
        if let Some(c) = line.strip_prefix(':') {
            msg.comment = Some(c.trim_start().to_owned());
        } else if let Some(v) = line.strip_prefix("event: ") {
            msg.event = Some(v.to_owned());
        } else if let Some(v) = line.strip_prefix("id: ") {
            msg.id = Some(v.to_owned());
        } else if let Some(v) = line.strip_prefix("data: ") {
            data.push(v);
        } else {
            panic!("unexpected line {line:?} in block {block:?}");
        }
    }
    msg.raw = data.join("\n");
    msg
}

/// A minimal HTTP/1.1 client reading a chunked event stream incrementally.
struct Client {
    stream: TcpStream,
    raw: Vec<u8>,
    text: String,
    status: u16,
    headers: Vec<(String, String)>,
    chunked: bool,
    eof: bool,
}

impl Client {
    async fn open(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Client {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let mut req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n");
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        stream.write_all(req.as_bytes()).await.unwrap();
        let mut c = Client {
            stream,
            raw: Vec::new(),
            text: String::new(),
            status: 0,
            headers: Vec::new(),
            chunked: false,
            eof: false,
        };
        let end = loop {
            if let Some(p) = c.raw.windows(4).position(|w| w == b"\r\n\r\n") {
                break p;
            }
            assert!(c.read_more().await, "connection closed before the response head");
        };
        let head = String::from_utf8(c.raw[..end].to_vec()).unwrap();
        c.raw.drain(..end + 4);
        let mut lines = head.split("\r\n");
        c.status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
        for line in lines {
            let (k, v) = line.split_once(':').unwrap();
            c.headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
        c.chunked = c.header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
        c
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    async fn read_more(&mut self) -> bool {
        let mut buf = [0u8; 8192];
        let n = tokio::time::timeout(WAIT, self.stream.read(&mut buf))
            .await
            .expect("timed out reading the stream")
            .unwrap();
        self.raw.extend_from_slice(&buf[..n]);
        n > 0
    }

    /// Moves complete chunks from `raw` to `text`.
    fn decode(&mut self) {
        if !self.chunked {
            self.text.push_str(&String::from_utf8(std::mem::take(&mut self.raw)).unwrap());
            return;
        }
        while let Some(line_end) = self.raw.windows(2).position(|w| w == b"\r\n") {
            let size_text = String::from_utf8(self.raw[..line_end].to_vec()).unwrap();
            let size = usize::from_str_radix(size_text.trim(), 16).unwrap();
            if self.raw.len() < line_end + 2 + size + 2 {
                return;
            }
            let data = self.raw[line_end + 2..line_end + 2 + size].to_vec();
            self.raw.drain(..line_end + 2 + size + 2);
            if size == 0 {
                self.eof = true;
                return;
            }
            self.text.push_str(&String::from_utf8(data).unwrap());
        }
    }

    /// The next block (message or comment); `None` at the end of the stream.
    async fn next_block(&mut self) -> Option<Msg> {
        loop {
            self.decode();
            if let Some(p) = self.text.find("\n\n") {
                let block = self.text[..p].to_owned();
                self.text.drain(..p + 2);
                return Some(parse_block(&block));
            }
            if self.eof || !self.read_more().await {
                return None;
            }
        }
    }

    /// The next message, skipping keep-alive comments.
    async fn next(&mut self) -> Msg {
        loop {
            let msg = self.next_block().await.expect("the stream ended");
            if msg.comment.is_none() {
                return msg;
            }
        }
    }

    /// The whole body of a non-stream answer, as JSON.
    async fn body_json(&mut self) -> Value {
        let len: usize = self.header("content-length").map_or(0, |v| v.parse().unwrap());
        while !self.chunked && self.raw.len() < len {
            assert!(self.read_more().await);
        }
        self.decode();
        while self.chunked && !self.eof {
            assert!(self.read_more().await);
            self.decode();
        }
        serde_json::from_str(&self.text).unwrap()
    }
}

async fn server() -> (RunningServer, TestApp) {
    let server = spawn(common::test_config().await).await.unwrap();
    let state = server.state().clone();
    let api = TestApp { router: app(state.clone()), state };
    (server, api)
}

async fn subscribe(server: &RunningServer, path: &str, extra: &[(&str, &str)]) -> Client {
    let mut headers = vec![("X-API-Key", KEY)];
    headers.extend_from_slice(extra);
    let c = Client::open(server.addr(), path, &headers).await;
    assert_eq!(c.status, 200, "{path}");
    c
}

async fn log_event(api: &TestApp, id: &str, event_type: &str, n: i64) -> Value {
    let r =
        api.post(&format!("/api/v1/intents/{id}/events"), json!({"event_type": event_type, "payload": {"n": n}})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body
}

async fn patch(api: &TestApp, id: &str, version: i64, value: i64) -> Value {
    let r =
        api.patch_state("tester", id, version, json!({"patches": [{"op": "set", "path": "/n", "value": value}]})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body
}

/// The id of the newest log event of `event_type`.
async fn newest_id(api: &TestApp, id: &str, event_type: &str) -> String {
    let events = api.events(id).await;
    let e = events
        .iter()
        .find(|e| e["event_type"] == event_type)
        .unwrap_or_else(|| panic!("no {event_type} in {events:?}"));
    e["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn intent_stream_carries_patches_status_changes_and_logged_events() {
    let (server, api) = server().await;
    let id = api.intent("streamed").await;
    let mut s = subscribe(&server, &format!("/api/v1/subscribe/intents/{id}"), &[]).await;
    assert_eq!(s.header("content-type"), Some("text/event-stream; charset=utf-8"));
    assert_eq!(s.header("cache-control"), Some("no-cache"));
    assert_eq!(s.header("x-accel-buffering"), Some("no"));
    assert!(s.chunked);

    patch(&api, &id, 1, 7).await;
    let m = s.next().await;
    assert_eq!(m.event(), "state_patched");
    assert_eq!(m.id(), newest_id(&api, &id, "state_patched").await);
    // What changed (the event, its patches) and the new version; not the whole intent.
    let data = m.data();
    assert_eq!((data["intent_id"].clone(), data["event_type"].clone()), (json!(id), json!("state_patched")));
    assert_eq!(data["payload"]["patches"][0]["value"], 7);
    assert_eq!(data["version"], 2);
    assert!(data.get("state").is_none() && data.get("title").is_none(), "{data}");
    // One line, with the reference server's separators.
    assert!(!m.raw.contains('\n'));
    assert!(m.raw.contains(&format!("\"intent_id\": \"{id}\", ")), "{}", m.raw);
    assert!(m.raw.contains("\"path\": \"/n\", \"value\": 7"), "{}", m.raw);

    let r = api
        .as_agent_with(
            Some("tester"),
            "POST",
            &format!("/api/v1/intents/{id}/status"),
            Some(json!({"status": "active"})),
            &[("if-match", "2")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let m = s.next().await;
    assert_eq!(m.event(), "status_changed");
    assert_eq!(m.data()["status"], "active");
    assert_eq!(m.id(), newest_id(&api, &id, "status_changed").await);

    // An assignment goes to the agent's stream, and, as an event of the log, to this one.
    let r = api.post(&format!("/api/v1/intents/{id}/agents"), json!({"agent_id": "agent-x"})).await;
    assert_eq!(r.status, StatusCode::OK);
    let m = s.next().await;
    assert_eq!((m.event(), m.id()), ("agent_assigned", newest_id(&api, &id, "agent_assigned").await.as_str()));
    assert_eq!(m.data()["payload"]["agent_id"], "agent-x");
    let logged = log_event(&api, &id, "comment", 1).await;
    let m = s.next().await;
    assert_eq!(m.event(), "comment");
    assert_eq!(m.id(), logged["id"].as_str().unwrap());
    assert_eq!(m.data()["payload"], json!({"n": 1}));
    assert_eq!(m.data()["event_type"], "comment");

    // Another intent's changes do not appear.
    let other = api.intent("other").await;
    log_event(&api, &other, "comment", 2).await;
    log_event(&api, &id, "progress", 3).await;
    assert_eq!(s.next().await.event(), "progress");
}

/// The 0.17 SDK's paths stream the same messages under the SDK's names and payloads
/// (PROTOCOL-AGENTS.md §6.3), with the same ids.
#[tokio::test]
async fn sdk_paths_stream_in_the_sdks_form() {
    let (server, api) = server().await;
    let id = api.intent("sdk").await;
    let mut s = subscribe(&server, &format!("/api/v1/intents/{id}/subscribe"), &[]).await;
    let mut plain = subscribe(&server, &format!("/api/v1/subscribe/intents/{id}"), &[]).await;
    log_event(&api, &id, "comment", 1).await;
    let m = s.next().await;
    assert_eq!((m.event(), &m.data()["n"], &m.data()["intent_id"]), ("comment", &json!(1), &json!(id)));
    assert_eq!(plain.next().await.event(), "comment", "the /subscribe/ stream is unchanged");
    patch(&api, &id, 1, 7).await;
    let m = s.next().await;
    assert_eq!(m.event(), "STATE_CHANGED");
    assert_eq!((&m.data()["intent_id"], &m.data()["new_state"]["n"]), (&json!(id), &json!(7)));
    let r = api
        .as_agent_with(
            Some("tester"),
            "POST",
            &format!("/api/v1/intents/{id}/status"),
            Some(json!({"status": "active"})),
            &[("if-match", "2")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let m = s.next().await;
    assert_eq!((m.event(), &m.data()["new_status"]), ("STATUS_CHANGED", &json!("active")));
    assert_eq!(plain.next().await.event(), "state_patched");

    let mut agent = subscribe(&server, "/api/v1/agents/agent-sdk/subscribe", &[]).await;
    api.post(&format!("/api/v1/intents/{id}/agents"), json!({"agent_id": "agent-sdk"})).await;
    let m = agent.next().await;
    assert_eq!(
        (m.event(), &m.data()["intent_id"], &m.data()["agent_id"]),
        ("AGENT_ASSIGNED", &json!(id), &json!("agent-sdk"))
    );
    // The runtime listens only on its agent's stream: the changes of its intents come there too,
    // those of other intents do not.
    let other = api.intent("not assigned").await;
    patch(&api, &other, 1, 1).await;
    patch(&api, &id, 3, 8).await;
    let m = agent.next().await;
    assert_eq!(
        (m.event(), &m.data()["intent_id"], &m.data()["new_state"]["n"]),
        ("STATE_CHANGED", &json!(id), &json!(8))
    );
    // Assignments made before the stream opened count too.
    let mut late = subscribe(&server, "/api/v1/agents/agent-sdk/subscribe", &[]).await;
    patch(&api, &id, 4, 9).await;
    assert_eq!(late.next().await.data()["new_state"]["n"], json!(9));

    let r = api.post("/api/v1/portfolios", json!({"name": "p"})).await;
    let pid = r.body["id"].as_str().unwrap().to_owned();
    let mut portfolio = subscribe(&server, &format!("/api/v1/portfolios/{pid}/subscribe"), &[]).await;
    api.post(&format!("/api/v1/portfolios/{pid}/intents"), json!({"intent_id": id})).await;
    assert_eq!(portfolio.next().await.event(), "intent_added");
    // A member's changes come on the portfolio's stream too (a `@Coordinator` listens there).
    patch(&api, &id, 5, 10).await;
    let m = portfolio.next().await;
    assert_eq!(
        (m.event(), &m.data()["intent_id"], &m.data()["new_state"]["n"]),
        ("STATE_CHANGED", &json!(id), &json!(10))
    );
}

#[tokio::test]
async fn agent_stream_carries_assignments() {
    let (server, api) = server().await;
    let id = api.intent("assigned").await;
    let mut s = subscribe(&server, "/api/v1/subscribe/agents/agent-research", &[]).await;
    // Someone else's assignment is not on this stream.
    api.post(&format!("/api/v1/intents/{id}/agents"), json!({"agent_id": "agent-other"})).await;
    let r = api.post(&format!("/api/v1/intents/{id}/agents"), json!({"agent_id": "agent-research"})).await;
    assert_eq!(r.status, StatusCode::OK);
    let m = s.next().await;
    assert_eq!(m.event(), "agent_assigned");
    let data = m.data();
    assert_eq!(data["agent_id"], "agent-research");
    assert_eq!(data["intent_id"], json!(id));
    assert_eq!(data["id"], r.body["id"]);
    let events = api.events(&id).await;
    let logged: Vec<&str> =
        events.iter().filter(|e| e["event_type"] == "agent_assigned").map(|e| e["id"].as_str().unwrap()).collect();
    assert!(logged.contains(&m.id()), "id {} not among {logged:?}", m.id());
}

#[tokio::test]
async fn portfolio_stream_carries_membership_changes() {
    let (server, api) = server().await;
    let id = api.intent("member").await;
    let r = api.post("/api/v1/portfolios", json!({"name": "trip"})).await;
    let pid = r.body["id"].as_str().unwrap().to_owned();
    let mut s = subscribe(&server, &format!("/api/v1/subscribe/portfolios/{pid}"), &[]).await;
    let r = api.post(&format!("/api/v1/portfolios/{pid}/intents"), json!({"intent_id": id, "role": "member"})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let added = s.next().await;
    assert_eq!(added.event(), "intent_added");
    assert_eq!(added.data(), json!({"portfolio_id": pid, "intent_id": id}));
    let r = api.as_agent(Some("tester"), "DELETE", &format!("/api/v1/portfolios/{pid}/intents/{id}"), None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let removed = s.next().await;
    assert_eq!(removed.event(), "intent_removed");
    assert_ne!(added.id(), removed.id());
    drop(s);

    // While disconnected: the intent is added again, a second one is added and removed.
    let other = api.intent("second").await;
    let members = format!("/api/v1/portfolios/{pid}/intents");
    api.post(&members, json!({"intent_id": id})).await;
    api.post(&members, json!({"intent_id": other, "priority": 5})).await;
    let r = api.as_agent(Some("tester"), "DELETE", &format!("{members}/{other}"), None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    // Resuming replays exactly those, in order, then goes on live.
    let mut again =
        subscribe(&server, &format!("/api/v1/subscribe/portfolios/{pid}"), &[("Last-Event-ID", removed.id())]).await;
    let replayed: Vec<(String, Value)> = {
        let mut v = Vec::new();
        for _ in 0..3 {
            let m = again.next().await;
            v.push((m.event().to_owned(), m.data()));
        }
        v
    };
    assert_eq!(
        replayed,
        vec![
            ("intent_added".to_owned(), json!({"portfolio_id": pid, "intent_id": id})),
            ("intent_added".to_owned(), json!({"portfolio_id": pid, "intent_id": other})),
            ("intent_removed".to_owned(), json!({"portfolio_id": pid, "intent_id": other})),
        ]
    );
    let r = api.as_agent(Some("tester"), "DELETE", &format!("{members}/{id}"), None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let live = again.next().await;
    assert_eq!((live.event(), live.data()["intent_id"].clone()), ("intent_removed", json!(id)));
    // An id of another stream is not a position in this one: the stream starts live.
    let mut foreign = subscribe(
        &server,
        &format!("/api/v1/subscribe/portfolios/{pid}"),
        &[("Last-Event-ID", added.id().replace('-', "0").as_str())],
    )
    .await;
    api.post(&members, json!({"intent_id": other})).await;
    assert_eq!(foreign.next().await.data()["intent_id"], json!(other));
}

#[tokio::test]
async fn agent_stream_resumes_after_the_last_event_id() {
    let (server, api) = server().await;
    let path = "/api/v1/subscribe/agents/agent-resume";
    let (one, two, three) = (api.intent("one").await, api.intent("two").await, api.intent("three").await);
    let mut s = subscribe(&server, path, &[]).await;
    api.post(&format!("/api/v1/intents/{one}/agents"), json!({"agent_id": "agent-resume"})).await;
    let first = s.next().await;
    drop(s);
    // While disconnected: two assignments of this agent, one of another.
    api.post(&format!("/api/v1/intents/{two}/agents"), json!({"agent_id": "agent-resume", "role": "lead"})).await;
    api.post(&format!("/api/v1/intents/{two}/agents"), json!({"agent_id": "someone-else"})).await;
    api.post(&format!("/api/v1/intents/{three}/agents"), json!({"agent_id": "agent-resume"})).await;
    let mut again = subscribe(&server, path, &[("Last-Event-ID", first.id())]).await;
    let (a, b) = (again.next().await, again.next().await);
    assert_eq!((a.data()["intent_id"].clone(), a.data()["role"].clone()), (json!(two), json!("lead")));
    assert_eq!(b.data()["intent_id"], json!(three));
    // Each id is the assignment's event in its intent's log, as on the live stream.
    let logged: Vec<String> = api
        .events(&two)
        .await
        .iter()
        .filter(|e| e["event_type"] == "agent_assigned" && e["payload"]["agent_id"] == "agent-resume")
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(logged, vec![a.id().to_owned()]);
}

#[tokio::test]
async fn last_event_id_replays_exactly_the_missed_messages() {
    let (server, api) = server().await;
    let id = api.intent("resume").await;
    let path = format!("/api/v1/subscribe/intents/{id}");
    let mut first = subscribe(&server, &path, &[]).await;
    patch(&api, &id, 1, 1).await;
    let seen = first.next().await;
    assert_eq!(seen.event(), "state_patched");
    drop(first);

    // While disconnected: two logged events, a patch, and a lease the server logs.
    let b = log_event(&api, &id, "comment", 2).await;
    patch(&api, &id, 2, 3).await;
    let c = newest_id(&api, &id, "state_patched").await;
    let r = api.post(&format!("/api/v1/intents/{id}/leases"), json!({"scope": "plan", "duration_seconds": 60})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let lease = newest_id(&api, &id, "lease_acquired").await;
    let d = log_event(&api, &id, "progress", 4).await;

    let mut again = subscribe(&server, &path, &[("Last-Event-ID", seen.id())]).await;
    let m1 = again.next().await;
    let m2 = again.next().await;
    let ml = again.next().await;
    let m3 = again.next().await;
    assert_eq!((m1.event(), m1.id()), ("comment", b["id"].as_str().unwrap()));
    assert_eq!(m1.data(), b);
    assert_eq!((m2.event(), m2.id()), ("state_patched", c.as_str()));
    assert_eq!(
        (m2.data()["payload"]["patches"][0]["value"].clone(), m2.data()["version"].clone()),
        (json!(3), json!(3))
    );
    assert_eq!((ml.event(), ml.id()), ("lease_acquired", lease.as_str()));
    assert_eq!(ml.data()["payload"]["scope"], "plan");
    assert_eq!((m3.event(), m3.id()), ("progress", d["id"].as_str().unwrap()));
    // Then live, with nothing repeated.
    let e = log_event(&api, &id, "comment", 5).await;
    let m4 = again.next().await;
    assert_eq!(m4.id(), e["id"].as_str().unwrap());

    // Resuming from the newest id replays nothing.
    let mut latest = subscribe(&server, &path, &[("Last-Event-ID", m4.id())]).await;
    let f = log_event(&api, &id, "comment", 6).await;
    assert_eq!(latest.next().await.id(), f["id"].as_str().unwrap());

    // An id that is not in the log is ignored: the stream starts live.
    let mut unknown = subscribe(&server, &path, &[("Last-Event-ID", "no-such-event")]).await;
    let g = log_event(&api, &id, "comment", 7).await;
    assert_eq!(unknown.next().await.id(), g["id"].as_str().unwrap());
}

#[tokio::test]
async fn governance_violations_are_streamed_and_replayed() {
    let (server, api) = server().await;
    let r = api
        .post("/api/v1/intents", json!({"title": "governed", "governance_policy": {"allowed_agents": ["tester"]}}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/subscribe/intents/{id}");
    let mut live = subscribe(&server, &path, &[]).await;
    let seen = patch(&api, &id, 1, 1).await;
    let first = live.next().await;
    assert_eq!((first.event(), first.data()["version"].clone()), ("state_patched", seen["version"].clone()));

    // A refused write logs a violation (committed although the write was refused), which the
    // stream carries like every other event of the log.
    let refused = api.patch_state("intruder", &id, 2, json!({"state": {"n": 9}})).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{:?}", refused.body);
    let violation = newest_id(&api, &id, "governance.violation").await;
    let next = live.next().await;
    assert_eq!((next.event(), next.id()), ("governance.violation", violation.as_str()));
    assert_eq!(next.data()["payload"]["rule"], "allowed_agents");
    let c = log_event(&api, &id, "comment", 2).await;
    let next = live.next().await;
    assert_eq!((next.event(), next.id()), ("comment", c["id"].as_str().unwrap()));

    // A resumed stream replays it too.
    let mut again = subscribe(&server, &path, &[("Last-Event-ID", first.id())]).await;
    let replayed = again.next().await;
    assert_eq!((replayed.event(), replayed.id()), ("governance.violation", violation.as_str()));
    assert_eq!(again.next().await.id(), c["id"].as_str().unwrap());
}

#[tokio::test]
async fn idle_streams_send_pings() {
    let (server, api) = server().await;
    server.state().set_sse_keep_alive(Duration::from_millis(100));
    let mut s = subscribe(&server, "/api/v1/subscribe/agents/idle-agent", &[]).await;
    let first = s.next_block().await.unwrap();
    assert_eq!(first.comment.as_deref(), Some("ping"));
    // A message still gets through between pings.
    let id = api.intent("pinged").await;
    api.post(&format!("/api/v1/intents/{id}/agents"), json!({"agent_id": "idle-agent"})).await;
    assert_eq!(s.next().await.event(), "agent_assigned");
    let later = s.next_block().await.unwrap();
    assert_eq!(later.comment.as_deref(), Some("ping"));
}

#[tokio::test]
async fn pings_continue_while_other_channels_are_busy() {
    let (server, _api) = server().await;
    server.state().set_sse_keep_alive(Duration::from_millis(150));
    let mut s = subscribe(&server, "/api/v1/subscribe/agents/quiet-agent", &[]).await;
    let state = server.state().clone();
    let noise = tokio::spawn(async move {
        for i in 0..200 {
            state.publish(Notification::new(
                Channel::Agent("busy-agent".into()),
                "agent_assigned",
                json!({}),
                i.to_string(),
            ));
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    let started = std::time::Instant::now();
    let first = s.next_block().await.unwrap();
    assert_eq!(first.comment.as_deref(), Some("ping"));
    assert!(started.elapsed() < Duration::from_millis(1500), "the ping took {:?}", started.elapsed());
    noise.abort();
}

#[tokio::test]
async fn streams_need_a_valid_key() {
    let (server, api) = server().await;
    let id = api.intent("secret").await;
    for path in [
        format!("/api/v1/subscribe/intents/{id}"),
        "/api/v1/subscribe/agents/a".to_owned(),
        format!("/api/v1/intents/{id}/subscribe"),
    ] {
        for headers in [vec![], vec![("X-API-Key", "wrong-key")]] {
            let mut c = Client::open(server.addr(), &path, &headers).await;
            assert_eq!(c.status, 401, "{path} {headers:?}");
            assert!(c.header("content-type").unwrap().starts_with("application/json"));
            assert_eq!(c.body_json().await, json!({"detail": "Invalid or missing API key"}));
        }
    }
}

#[tokio::test]
async fn unknown_intents_and_portfolios_are_404() {
    let (server, _api) = server().await;
    let mut c = Client::open(server.addr(), "/api/v1/subscribe/intents/nope", &[("X-API-Key", KEY)]).await;
    assert_eq!(c.status, 404);
    assert_eq!(c.body_json().await["detail"], "Intent not found");
    let mut c = Client::open(server.addr(), "/api/v1/subscribe/portfolios/nope", &[("X-API-Key", KEY)]).await;
    assert_eq!(c.status, 404);
    assert_eq!(c.body_json().await["detail"], "Portfolio not found");
    // Agents are not registered anywhere: any id opens a stream.
    subscribe(&server, "/api/v1/subscribe/agents/anyone", &[]).await;
}

#[tokio::test]
async fn shutdown_ends_open_streams() {
    let (server, api) = server().await;
    let id = api.intent("closing").await;
    let mut s = subscribe(&server, &format!("/api/v1/subscribe/intents/{id}"), &[]).await;
    tokio::time::timeout(WAIT, server.shutdown()).await.expect("shutdown waited for the stream").unwrap();
    assert!(s.next_block().await.is_none(), "the stream should end");
}

// ----- slow subscribers (in process: the body is only polled when the test asks) -------------

async fn open_in_process(api: &TestApp, path: &str, last_event_id: Option<&str>) -> axum::body::BodyDataStream {
    let mut req = Request::get(path).header("x-api-key", KEY);
    if let Some(l) = last_event_id {
        req = req.header("last-event-id", l);
    }
    let resp = api.router.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    resp.into_body().into_data_stream()
}

/// The next message of an in-process stream (`None` when it ended).
async fn next_in_process(body: &mut axum::body::BodyDataStream, pending: &mut String) -> Option<Msg> {
    loop {
        if let Some(p) = pending.find("\n\n") {
            let msg = parse_block(&pending[..p]);
            pending.drain(..p + 2);
            if msg.comment.is_none() {
                return Some(msg);
            }
            continue;
        }
        let chunk = tokio::time::timeout(WAIT, body.next()).await.expect("timed out")?;
        pending.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
    }
}

fn flood(api: &TestApp) {
    for i in 0..(openintent_server::NOTIFICATION_BUFFER + 100) {
        api.state.publish(Notification::new(Channel::Agent("nobody".into()), "noise", json!({}), i.to_string()));
    }
}

#[tokio::test]
async fn a_lagging_intent_stream_recovers_from_the_log() {
    let api = TestApp::memory().await;
    let id = api.intent("lagging").await;
    let mut body = open_in_process(&api, &format!("/api/v1/subscribe/intents/{id}"), None).await;
    let mut pending = String::new();
    // Nothing reads the stream while these are published and then pushed out of the buffer.
    let a = log_event(&api, &id, "comment", 1).await;
    patch(&api, &id, 1, 2).await;
    let b = newest_id(&api, &id, "state_patched").await;
    let c = log_event(&api, &id, "comment", 3).await;
    flood(&api);
    let got: Vec<(String, String)> = {
        let mut v = Vec::new();
        for _ in 0..3 {
            let m = next_in_process(&mut body, &mut pending).await.expect("stream ended");
            v.push((m.event().to_owned(), m.id().to_owned()));
        }
        v
    };
    assert_eq!(
        got,
        vec![
            ("comment".to_owned(), a["id"].as_str().unwrap().to_owned()),
            ("state_patched".to_owned(), b),
            ("comment".to_owned(), c["id"].as_str().unwrap().to_owned()),
        ]
    );
    let d = log_event(&api, &id, "comment", 4).await;
    let m = next_in_process(&mut body, &mut pending).await.unwrap();
    assert_eq!(m.id(), d["id"].as_str().unwrap());
}

#[tokio::test]
async fn lagging_agent_and_portfolio_streams_recover_their_messages() {
    let api = TestApp::memory().await;
    let (one, two) = (api.intent("one").await, api.intent("two").await);
    let pid = api.post("/api/v1/portfolios", json!({"name": "slow"})).await.body["id"].as_str().unwrap().to_owned();
    let mut agent = open_in_process(&api, "/api/v1/subscribe/agents/slow", None).await;
    let mut portfolio = open_in_process(&api, &format!("/api/v1/subscribe/portfolios/{pid}"), None).await;
    let (mut agent_pending, mut portfolio_pending) = (String::new(), String::new());
    // Nothing reads the streams while these are published and then pushed out of the buffer.
    for id in [&one, &two] {
        api.post(&format!("/api/v1/intents/{id}/agents"), json!({"agent_id": "slow"})).await;
        api.post(&format!("/api/v1/portfolios/{pid}/intents"), json!({"intent_id": id})).await;
    }
    flood(&api);
    for id in [&one, &two] {
        let m = next_in_process(&mut agent, &mut agent_pending).await.expect("the agent stream ended");
        assert_eq!((m.event(), m.data()["intent_id"].clone()), ("agent_assigned", json!(id)));
        let m = next_in_process(&mut portfolio, &mut portfolio_pending).await.expect("the portfolio stream ended");
        assert_eq!((m.event(), m.data()["intent_id"].clone()), ("intent_added", json!(id)));
    }
    // And both go on live.
    let three = api.intent("three").await;
    api.post(&format!("/api/v1/intents/{three}/agents"), json!({"agent_id": "slow"})).await;
    let m = next_in_process(&mut agent, &mut agent_pending).await.unwrap();
    assert_eq!(m.data()["intent_id"], json!(three));
}

#[tokio::test]
async fn a_live_notification_of_a_replayed_event_is_not_sent_twice() {
    let api = TestApp::memory().await;
    let id = api.intent("overlap").await;
    let a = log_event(&api, &id, "comment", 1).await;
    let b = log_event(&api, &id, "comment", 2).await;
    let c = log_event(&api, &id, "comment", 3).await;
    let mut body = open_in_process(&api, &format!("/api/v1/subscribe/intents/{id}"), a["id"].as_str()).await;
    let mut pending = String::new();
    // The notification of an event committed while the backlog was read arrives after the replay.
    api.state.publish(Notification::new(Channel::Intent(id.clone()), "comment", c.clone(), c["id"].as_str().unwrap()));
    let d = log_event(&api, &id, "comment", 4).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(next_in_process(&mut body, &mut pending).await.unwrap().id().to_owned());
    }
    let expected: Vec<String> = [&b, &c, &d].iter().map(|e| e["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(ids, expected);
}

#[tokio::test]
async fn a_long_backlog_is_replayed_page_by_page_in_order_then_live() {
    let api = TestApp::memory().await;
    let id = api.intent("backlog").await;
    let first = log_event(&api, &id, "comment", 0).await;
    // More than two replay pages (500 events each), with server-written events in between.
    let total = 1_150;
    for n in 1..=total {
        log_event(&api, &id, "comment", n).await;
        if n % 400 == 0 {
            let scope = format!("s{n}");
            let r = api.post(&format!("/api/v1/intents/{id}/leases"), json!({"scope": scope})).await;
            assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        }
    }
    let mut body = open_in_process(&api, &format!("/api/v1/subscribe/intents/{id}"), first["id"].as_str()).await;
    let mut pending = String::new();
    for n in 1..=total {
        let m = next_in_process(&mut body, &mut pending).await.expect("the stream ended");
        assert_eq!((m.event(), m.data()["payload"]["n"].as_i64()), ("comment", Some(n)), "message {n}");
        if n % 400 == 0 {
            let m = next_in_process(&mut body, &mut pending).await.expect("the stream ended");
            assert_eq!((m.event(), m.data()["payload"]["scope"].as_str()), ("lease_acquired", Some(&*format!("s{n}"))));
        }
    }
    let live = log_event(&api, &id, "comment", total + 1).await;
    let m = next_in_process(&mut body, &mut pending).await.unwrap();
    assert_eq!(m.id(), live["id"].as_str().unwrap());
}
