//! The agent registry (RFC-0016): registration (idempotent), reads with the heartbeat's age,
//! filters, heartbeats, validated status changes and drain, deregistration, the lifecycle
//! messages on the agent stream, and the liveness sweeper marking silent agents.

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::{Reply, TestApp};
use openintent_server::{Channel, ServerConfig};
use serde_json::{Value, json};

async fn register(app: &TestApp, body: Value) -> Reply {
    app.post("/api/v1/agents/register", body).await
}

async fn set_status(app: &TestApp, id: &str, body: Value, extra: &[(&str, &str)]) -> Reply {
    app.as_agent_with(Some("tester"), "PATCH", &format!("/api/v1/agents/{id}/status"), Some(body), extra).await
}

/// The `agent.lifecycle` statuses published on `agent`'s stream so far.
fn lifecycle(rx: &mut tokio::sync::broadcast::Receiver<openintent_server::Notification>, agent: &str) -> Vec<String> {
    let mut out = Vec::new();
    while let Ok(n) = rx.try_recv() {
        if n.channel == Channel::Agent(agent.to_owned()) && n.event == "agent.lifecycle" {
            out.push(n.data["status"].as_str().unwrap().to_owned());
        }
    }
    out
}

#[tokio::test]
async fn register_read_and_reregister() {
    let app = TestApp::memory().await;
    let mut rx = app.state.subscribe();
    let body = json!({"agent_id": "a1", "name": "One", "role_id": "pool", "capabilities": ["nlp"],
        "capacity": {"max_concurrent_tasks": 3}, "metadata": {"k": 1}});
    let r = register(&app, body).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!((r.body["status"].clone(), r.body["version"].clone()), (json!("active"), json!(1)));
    assert_eq!((r.body["metadata"].clone(), r.body["agent_metadata"].clone()), (json!({"k": 1}), json!({"k": 1})));
    assert_eq!(r.body["last_heartbeat_at"], Value::Null);
    assert_eq!(r.headers["etag"], "\"1\"");
    for path in ["/api/v1/agents/a1", "/api/v1/agents/a1/record"] {
        let g = app.get(path).await;
        assert_eq!(g.status, StatusCode::OK);
        assert_eq!((g.body["name"].clone(), g.body["heartbeat_age_seconds"].clone()), (json!("One"), Value::Null));
    }
    // Registering the same id again updates it (the reference answers 500).
    let r = app.post("/api/v1/agents", json!({"agent_id": "a1", "name": "Uno", "capabilities": []})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!((r.body["name"].clone(), r.body["version"].clone()), (json!("Uno"), json!(2)));
    assert_eq!(r.body["capabilities"], json!([]));
    // What a re-registration leaves out is kept (the 0.17 SDK re-registers with its capabilities only).
    assert_eq!(r.body["metadata"], json!({"k": 1}), "{:?}", r.body);
    let r = app.post("/api/v1/agents/register", json!({"agent_id": "a1", "capabilities": ["x"]})).await;
    assert_eq!((r.body["name"].clone(), r.body["capabilities"].clone()), (json!("Uno"), json!(["x"])), "{:?}", r.body);
    assert_eq!(app.get("/api/v1/agents").await.body.as_array().unwrap().len(), 1);
    assert_eq!(lifecycle(&mut rx, "a1"), ["active", "active", "active"]);
}

#[tokio::test]
async fn bad_registrations_name_the_field_and_write_nothing() {
    let app = TestApp::memory().await;
    for (body, field) in [
        (json!({"name": "x"}), "agent_id"),
        (json!({"agent_id": "a/b"}), "agent_id"),
        (json!({"agent_id": "a", "capacity": 5}), "capacity"),
        (json!({"agent_id": "a", "endpoint": "ftp://x"}), "endpoint"),
        (
            json!({"agent_id": "a", "heartbeat_config": {"interval_seconds": 30, "unhealthy_after_seconds": 40}}),
            "heartbeat_config",
        ),
        (json!({"agent_id": "a", "drain_timeout_seconds": -1}), "drain_timeout_seconds"),
        // Times computed from it would overflow (the heartbeat used to panic).
        (
            json!({"agent_id": "a", "heartbeat_config": {"interval_seconds": 10_000_000_000_000_i64,
                "unhealthy_after_seconds": 20_000_000_000_000_i64, "dead_after_seconds": 40_000_000_000_000_i64}}),
            "heartbeat_config",
        ),
    ] {
        let r = register(&app, body.clone()).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {:?}", r.body);
        assert_eq!(r.body["detail"][0]["loc"][1], field, "{body}: {:?}", r.body);
    }
    assert_eq!(app.get("/api/v1/agents").await.body, json!([]));
}

#[tokio::test]
async fn unknown_agents_are_404() {
    let app = TestApp::memory().await;
    assert_eq!(app.get("/api/v1/agents/nope").await.detail(), "Agent not found");
    assert_eq!(app.get("/api/v1/agents/nope/record").await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.post("/api/v1/agents/nope/heartbeat", json!({})).await.status, StatusCode::NOT_FOUND);
    assert_eq!(set_status(&app, "nope", json!({"status": "draining"}), &[]).await.status, StatusCode::NOT_FOUND);
    let r = app.as_agent(Some("tester"), "DELETE", "/api/v1/agents/nope", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn list_filters() {
    let app = TestApp::memory().await;
    register(
        &app,
        json!({"agent_id": "a", "role_id": "p", "capabilities": ["x"], "capacity": {"max_concurrent_tasks": 4}}),
    )
    .await;
    register(
        &app,
        json!({"agent_id": "b", "role_id": "q", "capabilities": ["y"], "capacity": {"max_concurrent_tasks": 1}}),
    )
    .await;
    register(&app, json!({"agent_id": "c", "role_id": "p"})).await;
    set_status(&app, "c", json!({"status": "draining"}), &[]).await;
    let ids = |r: Reply| -> Vec<String> {
        r.body.as_array().unwrap().iter().map(|a| a["agent_id"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(ids(app.get("/api/v1/agents").await), ["a", "b", "c"]);
    assert_eq!(ids(app.get("/api/v1/agents?role_id=p").await), ["a", "c"]);
    assert_eq!(ids(app.get("/api/v1/agents?status=draining").await), ["c"]);
    assert_eq!(ids(app.get("/api/v1/agents?capabilities=y,z").await), ["b"]);
    assert_eq!(ids(app.get("/api/v1/agents?min_available_capacity=2").await), ["a"]);
    let r = app.get("/api/v1/agents?status=bogus").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["detail"][0]["loc"], json!(["query", "status"]));
    let r = app.get("/api/v1/agents?min_available_capacity=-1").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn heartbeats_record_load_and_age() {
    let app = TestApp::memory().await;
    register(&app, json!({"agent_id": "h", "heartbeat_config": {"interval_seconds": 10, "unhealthy_after_seconds": 20, "dead_after_seconds": 40}})).await;
    let r = app.post("/api/v1/agents/h/heartbeat", json!({"current_load": 2, "tasks_in_progress": ["t1"]})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!((r.body["status"].clone(), r.body["acknowledged"].clone()), (json!("ok"), json!(true)));
    assert_eq!(r.body["agent_status"], "active");
    let sent = chrono::DateTime::parse_from_rfc3339(&format!("{}Z", r.body["server_timestamp"].as_str().unwrap()));
    let next = chrono::DateTime::parse_from_rfc3339(&format!("{}Z", r.body["next_heartbeat_at"].as_str().unwrap()));
    assert_eq!((next.unwrap() - sent.unwrap()).num_seconds(), 10);
    let g = app.get("/api/v1/agents/h").await;
    assert_eq!(g.body["capacity"]["current_load"], 2);
    assert_eq!(g.body["capacity"]["tasks_in_progress"], json!(["t1"]));
    let age = g.body["heartbeat_age_seconds"].as_f64().unwrap();
    assert!((0.0..5.0).contains(&age), "{age}");
    assert_eq!(g.body["version"], 1, "heartbeats leave the version alone");
    // An empty body is a plain heartbeat; bad fields are named.
    let r = app.as_agent(Some("tester"), "POST", "/api/v1/agents/h/heartbeat", None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    for (body, field) in [(json!({"status": "dead"}), "status"), (json!({"current_load": -1}), "current_load")] {
        let r = app.post("/api/v1/agents/h/heartbeat", body).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(r.body["detail"][0]["loc"][1], field);
    }
}

#[tokio::test]
async fn status_changes_are_validated_and_draining_is_kept() {
    let app = TestApp::memory().await;
    let mut rx = app.state.subscribe();
    register(&app, json!({"agent_id": "d"})).await;
    // Unknown statuses are refused naming the field (the reference stores any string).
    let r = set_status(&app, "d", json!({"status": "bogus"}), &[]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["detail"][0]["loc"], json!(["body", "status"]));
    // A stale If-Match is a conflict.
    let r = set_status(&app, "d", json!({"status": "draining"}), &[("if-match", "7")]).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    let r =
        set_status(&app, "d", json!({"status": "draining", "drain_timeout_seconds": 60}), &[("if-match", "1")]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!((r.body["status"].clone(), r.body["version"].clone()), (json!("draining"), json!(2)));
    assert_eq!(r.body["drain_timeout_seconds"], 60);
    // A heartbeat keeps it draining and hands it the drain command.
    let h = app.post("/api/v1/agents/d/heartbeat", json!({"status": "active"})).await;
    assert_eq!(h.body["agent_status"], "draining");
    assert_eq!(h.body["pending_commands"][0]["command"], "drain");
    assert_eq!(app.get("/api/v1/agents/d").await.body["status"], "draining");
    // The lifecycle refuses going back to active from draining.
    let r = set_status(&app, "d", json!({"status": "active"}), &[]).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    assert!(r.detail().contains("draining"), "{}", r.detail());
    // A draining agent takes no new work; nothing is written.
    let intent = app.intent("work").await;
    let assign = format!("/api/v1/intents/{intent}/agents");
    let r = app.post(&assign, json!({"agent_id": "d"})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    assert!(r.detail().contains("draining"), "{}", r.detail());
    assert_eq!(app.get(&assign).await.body, json!([]));
    // Deregistration; heartbeats of a deregistered agent are refused until it registers again.
    let r = app.as_agent(Some("tester"), "DELETE", "/api/v1/agents/d", None).await;
    assert_eq!(r.body["status"], "deregistered");
    assert_eq!(app.post("/api/v1/agents/d/heartbeat", json!({})).await.status, StatusCode::CONFLICT);
    assert_eq!(app.post(&assign, json!({"agent_id": "d"})).await.status, StatusCode::CONFLICT);
    assert_eq!(register(&app, json!({"agent_id": "d"})).await.body["status"], "active");
    assert_eq!(app.post(&assign, json!({"agent_id": "d"})).await.status, StatusCode::OK);
    assert_eq!(lifecycle(&mut rx, "d"), ["active", "draining", "deregistered", "active"]);
}

#[tokio::test]
async fn the_sweeper_marks_silent_agents_and_a_heartbeat_revives_them() {
    let config = common::test_config().await.with_liveness_interval(Some(Duration::from_millis(100)));
    let server = openintent_server::spawn(config).await.unwrap();
    let mut rx = server.state().subscribe();
    let client = reqwest::Client::new();
    let url = |p: &str| format!("{}{p}", server.url());
    let hb = json!({"interval_seconds": 1, "unhealthy_after_seconds": 2, "dead_after_seconds": 4});
    let r = client
        .post(url("/api/v1/agents/register"))
        .header("x-api-key", common::KEY)
        .header("content-type", "application/json")
        .body(json!({"agent_id": "quiet", "heartbeat_config": hb}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let status = || async {
        let r = client.get(url("/api/v1/agents/quiet")).header("x-api-key", common::KEY).send().await.unwrap();
        serde_json::from_slice::<Value>(&r.bytes().await.unwrap()).unwrap()["status"].as_str().unwrap().to_owned()
    };
    let mut seen = Vec::new();
    for _ in 0..100 {
        let s = status().await;
        if seen.last() != Some(&s) {
            seen.push(s.clone());
        }
        if s == "dead" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen, ["active", "unhealthy", "dead"]);
    let r = client
        .post(url("/api/v1/agents/quiet/heartbeat"))
        .header("x-api-key", common::KEY)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    let body: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert_eq!(body["agent_status"], "active");
    assert_eq!(lifecycle(&mut rx, "quiet"), ["active", "unhealthy", "dead", "active"]);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_sweeper_can_be_turned_off() {
    let config = ServerConfig::builder().liveness_interval(None).build().unwrap();
    assert_eq!(config.liveness_interval(), None);
    assert!(ServerConfig::in_memory().liveness_interval().is_some());
}

/// Two server processes sweeping one database write each transition once.
#[tokio::test]
async fn two_sweepers_on_one_database_write_each_transition_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::shared_test_database(dir.path()).await;
    let config = ServerConfig::builder()
        .database(db)
        .bind(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
        .liveness_interval(Some(Duration::from_millis(30)))
        .build()
        .unwrap();
    let one = openintent_server::spawn(config.clone()).await.unwrap();
    let two = openintent_server::spawn(config).await.unwrap();
    let (mut rx1, mut rx2) = (one.state().subscribe(), two.state().subscribe());
    let app = TestApp { router: openintent_server::app(one.state().clone()), state: one.state().clone() };
    let hb = json!({"interval_seconds": 1, "unhealthy_after_seconds": 2, "dead_after_seconds": 4});
    assert_eq!(register(&app, json!({"agent_id": "shared", "heartbeat_config": hb})).await.status, StatusCode::OK);
    for _ in 0..100 {
        if app.get("/api/v1/agents/shared").await.body["status"] == "dead" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Let both sweepers run a few more times after the last transition.
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Each process publishes what it committed (and, on PostgreSQL, relays the other's): one
    // message per transition, whichever process wrote it.
    let mut seen = std::collections::BTreeMap::new();
    for rx in [&mut rx1, &mut rx2] {
        while let Ok(n) = rx.try_recv() {
            if n.channel == Channel::Agent("shared".into()) {
                seen.insert(n.id.clone(), n.data["status"].as_str().unwrap().to_owned());
            }
        }
    }
    let mut statuses: Vec<String> = seen.into_values().collect();
    statuses.sort();
    assert_eq!(statuses, ["active", "dead", "unhealthy"]);
    one.shutdown().await.unwrap();
    two.shutdown().await.unwrap();
}

/// A heartbeat interval stored past the bound (by an older server, or another program) never
/// panics the heartbeat: the next heartbeat is then due at once.
#[tokio::test]
async fn a_stored_interval_past_the_bound_does_not_break_the_heartbeat() {
    let dir = tempfile::tempdir().unwrap();
    let (app, location) = common::app_on_shared_database(dir.path()).await;
    let r = app.as_agent(Some("old"), "POST", "/api/v1/agents", Some(json!({"agent_id": "old"}))).await;
    assert!(r.status.is_success(), "{:?}", r.body);
    let config = r#"{"interval_seconds": 9000000000000000000}"#;
    match common::RawDb::connect(&location).await {
        common::RawDb::Sqlite(p) => sqlx::query("UPDATE agents SET heartbeat_config = $1 WHERE agent_id = 'old'")
            .bind(config)
            .execute(&p)
            .await
            .map(|_| ()),
        common::RawDb::Postgres(p) => {
            sqlx::query("UPDATE agents SET heartbeat_config = CAST($1 AS JSONB) WHERE agent_id = 'old'")
                .bind(config)
                .execute(&p)
                .await
                .map(|_| ())
        }
    }
    .unwrap();
    let r = app.as_agent(Some("old"), "POST", "/api/v1/agents/old/heartbeat", Some(json!({}))).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["next_heartbeat_at"], r.body["server_timestamp"], "{:?}", r.body);
}
