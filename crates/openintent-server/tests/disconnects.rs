//! Clients that hang up in the middle of a write never wedge the server.
//!
//! Over real TCP, many clients send creates, state patches, events and lease requests and close
//! their sockets a few milliseconds later, at random points, round after round (as any client
//! does on a timeout or Ctrl-C). A write that has started must still run to its commit or its
//! rollback, and no pooled connection may be left inside a transaction: afterwards an ordinary
//! write succeeds at once, and no answer that was read was a 5xx.
//!
//! Runs on a SQLite file, or on PostgreSQL when the tests do (`common::PG_ENV`).

mod common;

use std::time::{Duration, Instant};

use openintent_server::{ServerConfig, WebhookConfig, spawn};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const ROUNDS: usize = 20;
const CLIENTS: usize = 48;

/// One HTTP/1.1 request as bytes.
fn request(method: &str, path: &str, agent: &str, extra: &[(&str, String)], body: &Value) -> Vec<u8> {
    let body = body.to_string();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nx-api-key: {}\r\nx-agent-id: {agent}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n",
        common::KEY,
        body.len()
    );
    for (name, value) in extra {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("connection: close\r\n\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body.as_bytes());
    bytes
}

/// Sends a request and reads the whole answer (the server closes the connection); returns the
/// status code and the body.
async fn exchange(addr: std::net::SocketAddr, bytes: &[u8]) -> (u16, Value) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(bytes).await.expect("send");
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut answer))
        .await
        .expect("the server answers within 30 s")
        .expect("read the answer");
    let text = String::from_utf8_lossy(&answer);
    let status: u16 = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// The request client `n` of a round sends: a create, a state patch (its version may be stale:
/// a 409 is a fine answer), an event, or a lease.
fn write_for(n: usize, round: usize, intent: &str, version: i64) -> Vec<u8> {
    let agent = format!("client-{n}");
    match n % 4 {
        0 => request("POST", "/api/v1/intents", &agent, &[], &json!({"title": format!("r{round} c{n}")})),
        1 => request(
            "POST",
            &format!("/api/v1/intents/{intent}/state"),
            &agent,
            &[("if-match", version.to_string())],
            &json!({"patches": [{"op": "set", "path": format!("/c{n}"), "value": round}]}),
        ),
        2 => request(
            "POST",
            &format!("/api/v1/intents/{intent}/events"),
            &agent,
            &[],
            &json!({"event_type": "comment", "actor": agent, "payload": {"round": round}}),
        ),
        _ => request(
            "POST",
            &format!("/api/v1/intents/{intent}/leases"),
            &agent,
            &[],
            &json!({"scope": format!("s{n}"), "duration_seconds": 1}),
        ),
    }
}

/// Sends a write and hangs up after a random pause (or, for every fourth client, reads the
/// answer); returns the status when one was read.
async fn client(addr: std::net::SocketAddr, bytes: Vec<u8>, n: usize) -> Option<u16> {
    if n % 4 == 3 {
        return Some(exchange(addr, &bytes).await.0);
    }
    let mut s = TcpStream::connect(addr).await.ok()?;
    // Part of the request, or all of it, then a pause of 0 to 8 ms, then the socket is closed.
    let cut = if fastrand::bool() { bytes.len() } else { fastrand::usize(1..=bytes.len()) };
    s.write_all(&bytes[..cut]).await.ok()?;
    let pause = fastrand::u64(0..8_000);
    if pause > 0 {
        tokio::time::sleep(Duration::from_micros(pause)).await;
    }
    drop(s);
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn clients_hanging_up_mid_write_do_not_wedge_writes() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::shared_test_database(dir.path()).await;
    let config = ServerConfig::builder()
        .database(db)
        .bind(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
        .webhooks(WebhookConfig::default().enabled(false))
        .build()
        .unwrap();
    let server = spawn(config).await.unwrap();
    let addr = server.addr();

    let (status, created) =
        exchange(addr, &request("POST", "/api/v1/intents", "setup", &[], &json!({"title": "target"}))).await;
    assert_eq!(status, 200, "{created}");
    let intent = created["id"].as_str().unwrap().to_owned();

    let mut answered = 0;
    for round in 0..ROUNDS {
        let (status, current) =
            exchange(addr, &request("GET", &format!("/api/v1/intents/{intent}"), "r", &[], &json!({}))).await;
        assert_eq!(status, 200, "round {round}: {current}");
        let version = current["version"].as_i64().unwrap();
        let clients: Vec<_> =
            (0..CLIENTS).map(|n| tokio::spawn(client(addr, write_for(n, round, &intent, version), n))).collect();
        for c in clients {
            if let Some(status) = c.await.unwrap() {
                answered += 1;
                assert!(status < 500, "round {round}: a write answered {status}");
            }
        }
    }
    assert!(answered > 0);

    // An ordinary write succeeds at once: nothing holds the write lock, no pooled connection is
    // inside a transaction.
    for attempt in 0..8 {
        let started = Instant::now();
        let (status, body) = exchange(
            addr,
            &request("POST", "/api/v1/intents", "after", &[], &json!({"title": format!("after {attempt}")})),
        )
        .await;
        assert_eq!(status, 200, "a create after the disconnects: {body}");
        assert!(started.elapsed() < Duration::from_secs(2), "a create took {:?}", started.elapsed());
        let (_, current) =
            exchange(addr, &request("GET", &format!("/api/v1/intents/{intent}"), "r", &[], &json!({}))).await;
        let version = current["version"].as_i64().unwrap();
        let (status, body) = exchange(
            addr,
            &request(
                "POST",
                &format!("/api/v1/intents/{intent}/state"),
                "after",
                &[("if-match", version.to_string())],
                &json!({"patches": [{"op": "set", "path": "/after", "value": attempt}]}),
            ),
        )
        .await;
        assert_eq!(status, 200, "a state patch after the disconnects: {body}");
        assert!(started.elapsed() < Duration::from_secs(2), "a create and a patch took {:?}", started.elapsed());
    }
    server.shutdown().await.unwrap();
}

/// A write whose caller goes away after it started (the future is polled once, then dropped)
/// still commits: the request's work runs on a task of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_whose_caller_is_dropped_still_commits() {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    let app = common::TestApp::memory().await;
    const WRITES: usize = 20;
    for i in 0..WRITES {
        let req = Request::post("/api/v1/intents")
            .header("x-api-key", common::KEY)
            .header("x-agent-id", "dropper")
            .header("content-type", "application/json")
            .body(Body::from(json!({"title": format!("dropped {i}")}).to_string()))
            .unwrap();
        let mut call = Box::pin(app.router.clone().oneshot(req));
        // One poll (or a few, for a microsecond), then the caller is gone.
        let _ = tokio::time::timeout(Duration::from_micros(1), &mut call).await;
        drop(call);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = app.get("/api/v1/intents?limit=100").await;
        let titles: Vec<String> = r.body["intents"]
            .as_array()
            .or_else(|| r.body.as_array())
            .map(|a| a.iter().filter_map(|i| i["title"].as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        let dropped = titles.iter().filter(|t| t.starts_with("dropped ")).count();
        if dropped == WRITES {
            break;
        }
        assert!(Instant::now() < deadline, "only {dropped} of {WRITES} writes committed: {titles:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
