//! A real listener, restarts on the same SQLite file, and the notification hook.

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::TestApp;
use openintent_server::{Channel, DatabaseLocation, ServeError, ServerConfig, spawn};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A minimal HTTP/1.1 exchange over a fresh connection.
async fn http(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, Value) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut req =
        format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap();
    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    let body = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        // Good enough for one small chunk.
        rest.split_once("\r\n").map(|(_, r)| r.rsplit_once("\r\n0").map_or(r, |(b, _)| b)).unwrap_or("").to_owned()
    } else {
        rest.to_owned()
    };
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

#[tokio::test]
async fn serves_over_tcp_and_shuts_down() {
    let server = spawn(common::test_config().await).await.unwrap();
    let addr = server.addr();
    assert_ne!(addr.port(), 0);
    assert!(server.url().starts_with("http://127.0.0.1:"));
    let (status, body) = http(addr, "GET", "/.well-known/openintent.json", &[], "").await;
    assert_eq!(status, 200);
    assert_eq!(body["version"], "0.1");
    let auth = [("X-API-Key", "dev-user-key"), ("Content-Type", "application/json")];
    let (status, body) = http(addr, "POST", "/api/v1/intents", &auth, r#"{"title":"over tcp"}"#).await;
    assert_eq!(status, 200);
    let id = body["id"].as_str().unwrap().to_owned();
    let (status, body) = http(addr, "GET", &format!("/api/v1/intents/{id}"), &auth, "").await;
    assert_eq!((status, body["title"].as_str()), (200, Some("over tcp")));
    let (status, body) = http(addr, "POST", "/api/v1/intents", &[], "{}").await;
    assert_eq!((status, body["detail"].as_str()), (401, Some("Invalid or missing API key")));
    server.shutdown().await.unwrap();
    assert!(TcpStream::connect(addr).await.is_err(), "listener closed");
}

#[tokio::test]
async fn data_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::shared_test_database(dir.path()).await;
    let config = || ServerConfig::builder().database(db.clone()).build().unwrap();
    let (id, pid, lease_id) = {
        let app = TestApp::with_config(config()).await;
        let id = app.intent("durable").await;
        let r = app
            .patch_state("a", &id, 1, json!({"patches": [{"op": "set", "path": "/nested/k", "value": [1, 2]}]}))
            .await;
        assert_eq!(r.status, StatusCode::OK);
        let lease = app
            .post(&format!("/api/v1/intents/{id}/leases"), json!({"scope": "nested", "duration_seconds": 600}))
            .await;
        let pid = app.post("/api/v1/portfolios", json!({"name": "p"})).await.body["id"].as_str().unwrap().to_owned();
        app.post(&format!("/api/v1/portfolios/{pid}/intents"), json!({"intent_id": id})).await;
        app.state.store().close().await;
        (id, pid, lease.body["id"].as_str().unwrap().to_owned())
    };
    let app = TestApp::with_config(config()).await;
    let intent = app.get(&format!("/api/v1/intents/{id}")).await;
    assert_eq!(intent.status, StatusCode::OK);
    assert_eq!(intent.body["version"], 2);
    assert_eq!(intent.body["state"], json!({"nested": {"k": [1, 2]}}));
    let events = app.events(&id).await;
    let kinds: Vec<&str> = events.iter().map(|e| e["event_type"].as_str().unwrap()).collect();
    assert_eq!(kinds, vec!["lease_acquired", "state_patched", "intent_created"]);
    // The lease still holds its scope after the restart.
    let r = app
        .as_agent(Some("other"), "POST", &format!("/api/v1/intents/{id}/leases"), Some(json!({"scope": "nested"})))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.body["existing_lease"]["id"], lease_id.as_str());
    let p = app.get(&format!("/api/v1/portfolios/{pid}")).await.body;
    assert_eq!(p["aggregate_status"]["total"], 1);
}

#[tokio::test]
async fn mutations_publish_after_commit() {
    let app = TestApp::memory().await;
    let mut rx = app.state.subscribe();
    let id = app.intent("watched").await;
    app.patch_state("a", &id, 1, json!({"state": {"x": 1}})).await;
    app.as_agent_with(
        Some("a"),
        "POST",
        &format!("/api/v1/intents/{id}/status"),
        Some(json!({"status": "active"})),
        &[("if-match", "2")],
    )
    .await;
    let logged = app
        .post(&format!("/api/v1/intents/{id}/events"), json!({"event_type": "comment", "payload": {"m": "hi"}}))
        .await;
    app.post(&format!("/api/v1/intents/{id}/agents"), json!({"agent_id": "worker"})).await;
    let pid = app.post("/api/v1/portfolios", json!({"name": "p"})).await.body["id"].as_str().unwrap().to_owned();
    app.post(&format!("/api/v1/portfolios/{pid}/intents"), json!({"intent_id": id})).await;
    app.as_agent(Some("a"), "DELETE", &format!("/api/v1/portfolios/{pid}/intents/{id}"), None).await;
    // A refused write publishes nothing.
    app.patch_state("a", &id, 1, json!({"state": {"x": 2}})).await;

    let mut got = Vec::new();
    while let Ok(Ok(n)) = tokio::time::timeout(Duration::from_millis(50), rx.recv()).await {
        got.push(n);
    }
    let summary: Vec<(Channel, String)> = got.iter().map(|n| (n.channel.clone(), n.event.clone())).collect();
    // Every event of the intent's log on its channel (the assignment on the agent's too).
    assert_eq!(
        summary,
        vec![
            (Channel::Intent(id.clone()), "intent_created".into()),
            (Channel::Intent(id.clone()), "state_patched".into()),
            (Channel::Intent(id.clone()), "status_changed".into()),
            (Channel::Intent(id.clone()), "comment".into()),
            (Channel::Intent(id.clone()), "agent_assigned".into()),
            (Channel::Agent("worker".into()), "agent_assigned".into()),
            (Channel::Portfolio(pid.clone()), "intent_added".into()),
            (Channel::Portfolio(pid.clone()), "intent_removed".into()),
        ]
    );
    // A state or status change: the event (what changed) and the new version, not the intent.
    assert_eq!(got[1].data["payload"]["patches"][0], json!({"op": "set", "path": "/x", "value": 1}));
    assert_eq!((got[1].data["intent_id"].clone(), got[1].data["version"].clone()), (json!(id), json!(2)));
    assert!(got[1].data.get("state").is_none(), "{}", got[1].data);
    assert_eq!(got[2].data["status"], "active");
    assert_eq!(got[3].data, logged.body);
    assert_eq!(got[3].id, logged.body["id"].as_str().unwrap());
    assert_eq!(got[4].data["payload"]["agent_id"], "worker");
    assert_eq!(got[4].id, got[5].id, "both streams name the assignment by its log event's id");
    assert_eq!(got[5].data["agent_id"], "worker");
    assert_eq!(got[6].data["intent_id"], id.as_str());
    assert_eq!(Channel::Intent(id.clone()).key(), format!("intent:{id}"));
}

/// Runs the `openintent-server` binary with `args` in `dir` and waits (at most 60 s) for it to
/// exit on its own; its status and stderr.
fn run_server_binary(dir: &std::path::Path, args: &[&str]) -> (std::process::ExitStatus, String) {
    use std::io::Read;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_openintent-server"))
        .args(args)
        .args(["--log-level", "warn"])
        .current_dir(dir)
        .env_remove("OPENINTENT_DATABASE_URL")
        .env_remove("OPENINTENT_PORT")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start openintent-server");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            child.kill().ok();
            child.wait().ok();
            panic!("openintent-server did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    (status, stderr)
}

#[test]
fn a_taken_port_is_named_and_nothing_is_created() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let dir = tempfile::tempdir().unwrap();
    let (status, stderr) = run_server_binary(
        dir.path(),
        &["--host", "127.0.0.1", "--port", &port, "--database-url", "sqlite:///fresh.db"],
    );
    assert!(!status.success(), "{stderr}");
    assert!(stderr.contains(&format!("127.0.0.1:{port}")), "{stderr}");
    assert!(stderr.contains("already in use") && stderr.contains("--port"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "created before the port was bound: {left:?}");
}

#[tokio::test]
async fn spawn_on_a_taken_port_names_the_address() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("never.db");
    let config = ServerConfig::builder().bind(addr).database(DatabaseLocation::SqliteFile(db.clone())).build().unwrap();
    match spawn(config).await {
        Err(ServeError::Bind { addr: refused, source }) => {
            assert_eq!(refused, addr);
            assert_eq!(source.kind(), std::io::ErrorKind::AddrInUse);
        }
        other => panic!("expected a bind error, got {:?}", other.map(|s| s.addr())),
    }
    assert!(!db.exists());
}

#[test]
fn a_missing_directory_names_the_path_and_the_url_forms() {
    let dir = tempfile::tempdir().unwrap();
    let (status, stderr) = run_server_binary(
        dir.path(),
        &["--host", "127.0.0.1", "--port", "0", "--database-url", "sqlite:///missing/oi.db"],
    );
    assert!(!status.success(), "{stderr}");
    // The relative path is named as the absolute one it resolved to.
    let tried = std::path::absolute(dir.path().join("missing/oi.db")).unwrap();
    assert!(stderr.contains(&tried.display().to_string()), "{stderr}");
    assert!(stderr.contains("does not exist"), "{stderr}");
    for form in ["sqlite:///relative.db", "sqlite:////abs/path.db", "postgres://"] {
        assert!(stderr.contains(form), "{form} missing from: {stderr}");
    }
    assert!(!dir.path().join("missing").exists());
}
