//! Real `openintent-server` processes, killed with SIGKILL.
//!
//! - One process on a SQLite file, killed while writes are in flight and started again on the
//!   same file: every acknowledged write, lease and membership is there. Always runs.
//! - Two processes on one PostgreSQL database: version-checked writes and lease acquisitions
//!   raced across both, an event stream on one seeing changes made on the other (live and
//!   resumed), and acknowledged writes surviving the SIGKILL of one process. Runs when
//!   `OPENINTENT_TEST_DATABASE_URL` names a PostgreSQL server (see `common`); skipped with a
//!   notice otherwise.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use common::KEY;
use common::process::ServerProcess;

/// A server process on `database_url`, killed when dropped.
async fn start(database_url: &str) -> ServerProcess {
    ServerProcess::start(&["--database-url", database_url]).await
}

/// A response: status and JSON body (`Null` when empty or not JSON).
#[derive(Debug)]
struct Reply {
    status: u16,
    body: Value,
}

/// One HTTP/1.1 request on a fresh connection (`Connection: close`), as `agent`.
async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    agent: &str,
    extra: &[(&str, &str)],
    body: Option<Value>,
) -> std::io::Result<Reply> {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nX-API-Key: {KEY}\r\nX-Agent-ID: {agent}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut raw))
        .await
        .map_err(|_| std::io::Error::other("response timed out"))??;
    let text = String::from_utf8_lossy(&raw);
    let (headers, rest) = text.split_once("\r\n\r\n").ok_or_else(|| std::io::Error::other("no complete response"))?;
    let status = headers
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status line"))?;
    let body = if headers.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        dechunk(rest)
    } else {
        rest.to_owned()
    };
    Ok(Reply { status, body: serde_json::from_str(&body).unwrap_or(Value::Null) })
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else { break };
        if n == 0 || tail.len() < n {
            break;
        }
        out.push_str(&tail[..n]);
        rest = tail[n..].trim_start_matches("\r\n");
    }
    out
}

async fn ok(addr: SocketAddr, method: &str, path: &str, body: Option<Value>) -> Value {
    let r = request(addr, method, path, "tester", &[], body).await.unwrap();
    assert_eq!(r.status, 200, "{method} {path}: {:?}", r.body);
    r.body
}

/// Read-modify-write increments of `/counter` with `If-Match`, retrying on 409.
async fn increment(addr: SocketAddr, id: String, agent: String, times: usize) -> usize {
    let mut done = 0;
    while done < times {
        let intent = ok(addr, "GET", &format!("/api/v1/intents/{id}"), None).await;
        let version = intent["version"].as_i64().unwrap();
        let counter = intent["state"]["counter"].as_i64().unwrap_or(0);
        let patch = json!({"patches": [{"op": "set", "path": "/counter", "value": counter + 1}]});
        let v = version.to_string();
        let path = format!("/api/v1/intents/{id}/state");
        let w = request(addr, "POST", &path, &agent, &[("If-Match", &v)], Some(patch)).await.unwrap();
        match w.status {
            200 => done += 1,
            409 => assert!(w.body["current_version"].as_i64().unwrap() > version, "{:?}", w.body),
            other => panic!("unexpected {other}: {:?}", w.body),
        }
    }
    done
}

/// An event stream read over raw TCP.
struct Stream {
    tcp: TcpStream,
    text: String,
}

impl Stream {
    async fn open(addr: SocketAddr, path: &str, last_event_id: Option<&str>) -> Stream {
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        let mut head =
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nX-API-Key: {KEY}\r\nAccept: text/event-stream\r\n");
        if let Some(id) = last_event_id {
            head.push_str(&format!("Last-Event-ID: {id}\r\n"));
        }
        head.push_str("\r\n");
        tcp.write_all(head.as_bytes()).await.unwrap();
        let mut stream = Stream { tcp, text: String::new() };
        stream.wait_for("\r\n\r\n").await;
        assert!(stream.text.starts_with("HTTP/1.1 200"), "{}", stream.text);
        stream
    }

    /// Reads until the stream's text contains `needle` (10 s at most).
    async fn wait_for(&mut self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut buf = [0u8; 4096];
        while !self.text.contains(needle) {
            let left = deadline.saturating_duration_since(Instant::now());
            let n = tokio::time::timeout(left, self.tcp.read(&mut buf))
                .await
                .unwrap_or_else(|_| panic!("{needle:?} not seen in time; got {:?}", self.text))
                .unwrap();
            assert!(n > 0, "stream ended before {needle:?}: {:?}", self.text);
            self.text.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    }
}

/// Writers 0..`writers` make version-checked writes of `/w{writer}_{n}` to `target`, writer
/// `w` through `addrs[w % addrs.len()]`, retrying on 409, until each has `per_writer`
/// acknowledged. A writer whose server is gone carries on through `fallback`, or stops when
/// there is none. Returns every acknowledged key with the version the server answered, and
/// counts acknowledgements in `acked` as they arrive.
fn spawn_writers(
    addrs: &[SocketAddr],
    fallback: Option<SocketAddr>,
    target: &str,
    writers: usize,
    per_writer: usize,
    acked: &Arc<AtomicUsize>,
) -> Vec<tokio::task::JoinHandle<Vec<(String, i64)>>> {
    (0..writers)
        .map(|w| {
            let (target, acked) = (target.to_owned(), acked.clone());
            let mut addr = addrs[w % addrs.len()];
            tokio::spawn(async move {
                let mut mine = Vec::new();
                let mut n = 0;
                while mine.len() < per_writer {
                    let Ok(r) = request(addr, "GET", &format!("/api/v1/intents/{target}"), "reader", &[], None).await
                    else {
                        // The server is gone.
                        match fallback {
                            Some(other) => {
                                addr = other;
                                continue;
                            }
                            None => break,
                        }
                    };
                    assert_eq!(r.status, 200, "{:?}", r.body);
                    let v = r.body["version"].as_i64().unwrap().to_string();
                    let patch = json!({"patches": [{"op": "set", "path": format!("/w{w}_{n}"), "value": n}]});
                    let path = format!("/api/v1/intents/{target}/state");
                    match request(addr, "POST", &path, &format!("w{w}"), &[("If-Match", &v)], Some(patch)).await {
                        Ok(r) if r.status == 200 => {
                            mine.push((format!("w{w}_{n}"), r.body["version"].as_i64().unwrap()));
                            acked.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(r) => assert_eq!(r.status, 409, "{:?}", r.body),
                        // Killed mid-request: not acknowledged, so nothing is claimed.
                        Err(_) => match fallback {
                            Some(other) => addr = other,
                            None => break,
                        },
                    }
                    n += 1;
                }
                mine
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_sqlite_server_keeps_every_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:///{}", dir.path().join("oi.db").display());
    let mut first = start(&url).await;
    let addr = first.addr;
    let target = ok(addr, "POST", "/api/v1/intents", Some(json!({"title": "survivor"}))).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let lease =
        ok(addr, "POST", &format!("/api/v1/intents/{target}/leases"), Some(json!({"scope": "held"}))).await["id"]
            .as_str()
            .unwrap()
            .to_owned();
    let portfolio =
        ok(addr, "POST", "/api/v1/portfolios", Some(json!({"name": "kept"}))).await["id"].as_str().unwrap().to_owned();
    ok(addr, "POST", &format!("/api/v1/portfolios/{portfolio}/intents"), Some(json!({"intent_id": target}))).await;

    // Writers run until the process is SIGKILLed under them, well before they could finish.
    let acked = Arc::new(AtomicUsize::new(0));
    let writers = spawn_writers(&[addr], None, &target, 4, 1_000, &acked);
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked.load(Ordering::SeqCst) < 40 {
        assert!(Instant::now() < deadline, "writes are not progressing");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    first.kill();
    let mut acknowledged = BTreeMap::new();
    for w in writers {
        acknowledged.extend(w.await.unwrap());
    }
    // Well under the event listing's page limit (1000), so that one page holds the whole log.
    assert!(acknowledged.len() >= 40 && acknowledged.len() < 900, "{}", acknowledged.len());

    // A new process on the same file: everything acknowledged is there, nothing half-written.
    let second = start(&url).await;
    let addr = second.addr;
    let survivor = ok(addr, "GET", &format!("/api/v1/intents/{target}"), None).await;
    let state = survivor["state"].as_object().unwrap();
    for key in acknowledged.keys() {
        assert!(state.contains_key(key), "acknowledged write {key} lost; state: {state:?}");
    }
    let version = survivor["version"].as_i64().unwrap();
    assert_eq!(state.len() as i64, version - 1, "one key per committed version");
    assert!(acknowledged.values().all(|v| *v <= version));
    let events =
        ok(addr, "GET", &format!("/api/v1/intents/{target}/events?event_type=state_patched&limit=1000"), None).await;
    assert_eq!(events.as_array().unwrap().len() as i64, version - 1, "one event per committed write");
    // The lease still holds its scope, the membership is kept, and writing goes on.
    let r = request(
        addr,
        "POST",
        &format!("/api/v1/intents/{target}/leases"),
        "other",
        &[],
        Some(json!({"scope": "held"})),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 409, "{:?}", r.body);
    assert_eq!(r.body["existing_lease"]["id"], lease.as_str());
    let members = ok(addr, "GET", &format!("/api/v1/portfolios/{portfolio}/intents"), None).await;
    assert_eq!(members.as_array().unwrap().len(), 1, "{members:?}");
    let v = version.to_string();
    let after = json!({"patches": [{"op": "set", "path": "/after_restart", "value": true}]});
    let r = request(addr, "POST", &format!("/api/v1/intents/{target}/state"), "w0", &[("If-Match", &v)], Some(after))
        .await
        .unwrap();
    assert_eq!((r.status, r.body["version"].as_i64()), (200, Some(version + 1)), "{:?}", r.body);
}

/// The newest event of an intent's log.
async fn newest_event(addr: SocketAddr, id: &str) -> Value {
    ok(addr, "GET", &format!("/api/v1/intents/{id}/events?limit=1"), None).await[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_share_one_postgres_database() {
    let Some(admin) = common::postgres_url() else {
        eprintln!("skipped: set {} to a PostgreSQL URL to run two server processes on it", common::PG_ENV);
        return;
    };
    let database = common::fresh_postgres_database(&admin).await;
    // Started together on an empty database: the migrations run once (under a lock).
    let (mut a, mut b) = tokio::join!(start(&database), start(&database));
    let (a_addr, b_addr) = (a.addr, b.addr);

    // 16 writers, alternating between the instances: no increment is lost.
    let id = ok(a_addr, "POST", "/api/v1/intents", Some(json!({"title": "counter"}))).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let per_writer = 5;
    let writers: Vec<_> = (0..16)
        .map(|w| {
            let addr = if w % 2 == 0 { a_addr } else { b_addr };
            tokio::spawn(increment(addr, id.clone(), format!("writer-{w}"), per_writer))
        })
        .collect();
    let mut successes = 0;
    for w in writers {
        successes += w.await.unwrap();
    }
    assert_eq!(successes, 16 * per_writer);
    for addr in [a_addr, b_addr] {
        let intent = ok(addr, "GET", &format!("/api/v1/intents/{id}"), None).await;
        assert_eq!(intent["state"]["counter"].as_u64(), Some(successes as u64));
        assert_eq!(intent["version"].as_u64(), Some(successes as u64 + 1));
    }
    let patched =
        ok(b_addr, "GET", &format!("/api/v1/intents/{id}/events?event_type=state_patched&limit=1000"), None).await;
    let patched = patched.as_array().unwrap();
    assert_eq!(patched.len(), successes);
    // The log, newest first, lists the versions in order: appends of one intent are serialized.
    let versions: Vec<u64> = patched.iter().map(|e| e["payload"]["version"].as_u64().unwrap()).collect();
    let expected: Vec<u64> = (2..=successes as u64 + 1).rev().collect();
    assert_eq!(versions, expected);

    // 32 acquirers of one scope across both instances: exactly one winner.
    let acquirers: Vec<_> = (0..32)
        .map(|n| {
            let addr = if n % 2 == 0 { a_addr } else { b_addr };
            let path = format!("/api/v1/intents/{id}/leases");
            tokio::spawn(async move {
                let body = json!({"scope": "hotel_search", "duration_seconds": 60});
                request(addr, "POST", &path, &format!("agent-{n}"), &[], Some(body)).await.unwrap()
            })
        })
        .collect();
    let mut winners = Vec::new();
    for t in acquirers {
        let r = t.await.unwrap();
        match r.status {
            200 => winners.push(r.body["id"].as_str().unwrap().to_owned()),
            409 => assert_eq!(r.body["existing_lease"]["scope"], "hotel_search"),
            other => panic!("unexpected {other}: {:?}", r.body),
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    let leases = ok(a_addr, "GET", &format!("/api/v1/intents/{id}/leases"), None).await;
    let live: Vec<&Value> = leases.as_array().unwrap().iter().filter(|l| l["status"] == "active").collect();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0]["id"], winners[0].as_str());

    // A subscriber on A sees a change made on B, with B's log id.
    let stream_path = format!("/api/v1/subscribe/intents/{id}");
    let mut on_a = Stream::open(a_addr, &stream_path, None).await;
    let v = (successes + 1).to_string();
    let w = request(
        b_addr,
        "POST",
        &format!("/api/v1/intents/{id}/state"),
        "from-b",
        &[("If-Match", &v)],
        Some(json!({"patches": [{"op": "set", "path": "/seen_on_a", "value": true}]})),
    )
    .await
    .unwrap();
    assert_eq!(w.status, 200, "{:?}", w.body);
    let from_b = newest_event(b_addr, &id).await;
    let from_b_id = from_b["id"].as_str().unwrap().to_owned();
    on_a.wait_for(&format!("id: {from_b_id}")).await;
    assert!(on_a.text.contains("event: state_patched"));
    assert!(on_a.text.contains("\"path\": \"/seen_on_a\", \"value\": true"), "{}", on_a.text);
    // A logged event made on A reaches a subscriber on B.
    let mut on_b = Stream::open(b_addr, &stream_path, None).await;
    let logged = ok(
        a_addr,
        "POST",
        &format!("/api/v1/intents/{id}/events"),
        Some(json!({"event_type": "note", "payload": {"from": "a"}})),
    )
    .await;
    on_b.wait_for(&format!("id: {}", logged["id"].as_str().unwrap())).await;
    assert!(on_b.text.contains("event: note"));
    // Resuming on A with an id B wrote replays what came after it, whichever process wrote it.
    let mut resumed = Stream::open(a_addr, &stream_path, Some(&from_b_id)).await;
    resumed.wait_for(&format!("id: {}", logged["id"].as_str().unwrap())).await;
    assert!(!resumed.text.contains(&format!("id: {from_b_id}")), "the resume point itself is not replayed");
    drop((on_a, on_b, resumed));

    // Portfolio streams too: a membership change made on B reaches a subscriber on A, and
    // resuming on A from the id B gave it replays what B did next.
    let pid = ok(a_addr, "POST", "/api/v1/portfolios", Some(json!({"name": "across"}))).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let portfolio_path = format!("/api/v1/subscribe/portfolios/{pid}");
    let mut members_on_a = Stream::open(a_addr, &portfolio_path, None).await;
    ok(b_addr, "POST", &format!("/api/v1/portfolios/{pid}/intents"), Some(json!({"intent_id": id}))).await;
    members_on_a.wait_for("event: intent_added\n").await;
    members_on_a.wait_for("\"intent_id\"").await; // the data line, which follows the id line
    let added = members_on_a.text.split("event: intent_added\nid: ").nth(1).unwrap();
    let added_id = added.split('\n').next().unwrap().to_owned();
    ok(b_addr, "DELETE", &format!("/api/v1/portfolios/{pid}/intents/{id}"), None).await;
    let mut members_resumed = Stream::open(a_addr, &portfolio_path, Some(&added_id)).await;
    members_resumed.wait_for("event: intent_removed").await;
    assert!(!members_resumed.text.contains("event: intent_added"), "{}", members_resumed.text);
    drop((members_on_a, members_resumed));

    // Writers on both instances; B is SIGKILLed while writes are in flight. Every write
    // acknowledged with 200 must be there afterwards, read through A.
    let target = ok(a_addr, "POST", "/api/v1/intents", Some(json!({"title": "survivor"}))).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let acked = Arc::new(AtomicUsize::new(0));
    // B is gone after the kill: its writers carry on through A.
    let writers = spawn_writers(&[a_addr, b_addr], Some(a_addr), &target, 8, 12, &acked);
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked.load(Ordering::SeqCst) < 24 {
        assert!(Instant::now() < deadline, "writes are not progressing");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    b.kill();
    let killed_at = acked.load(Ordering::SeqCst);
    let mut acknowledged = BTreeMap::new();
    for w in writers {
        for (key, version) in w.await.unwrap() {
            acknowledged.insert(key, version);
        }
    }
    assert_eq!(acknowledged.len(), 8 * 12);
    assert!(killed_at < acknowledged.len(), "B was killed while writes were still going on");
    let survivor = ok(a_addr, "GET", &format!("/api/v1/intents/{target}"), None).await;
    let state = survivor["state"].as_object().unwrap();
    for key in acknowledged.keys() {
        assert!(state.contains_key(key), "acknowledged write {key} lost; state: {state:?}");
    }
    // Each acknowledged version is unique, and each successful write logged exactly one event.
    let versions: HashSet<i64> = acknowledged.values().copied().collect();
    assert_eq!(versions.len(), acknowledged.len());
    let events =
        ok(a_addr, "GET", &format!("/api/v1/intents/{target}/events?event_type=state_patched&limit=1000"), None).await;
    assert_eq!(events.as_array().unwrap().len() as i64, survivor["version"].as_i64().unwrap() - 1);
    assert_eq!(state.len() as i64, survivor["version"].as_i64().unwrap() - 1);
    a.kill();
}
