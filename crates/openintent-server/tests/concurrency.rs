//! Concurrent writers: no lost update, one lease per scope.

mod common;

use axum::http::StatusCode;
use common::TestApp;
use openintent_server::ServerConfig;
use serde_json::json;

/// Two apps over one fresh database (a SQLite file, or PostgreSQL when the tests run on it).
async fn two_apps(dir: &tempfile::TempDir) -> (TestApp, TestApp) {
    let db = common::shared_test_database(dir.path()).await;
    let config = ServerConfig::builder().database(db).build().unwrap();
    (TestApp::with_config(config.clone()).await, TestApp::with_config(config).await)
}

/// Read-modify-write increments with retry on 409; returns the number of successful writes.
async fn increment(app: TestApp, id: String, agent: String, times: usize) -> usize {
    let mut done = 0;
    while done < times {
        let r = app.get(&format!("/api/v1/intents/{id}")).await;
        assert_eq!(r.status, StatusCode::OK);
        let version = r.body["version"].as_i64().unwrap();
        let counter = r.body["state"]["counter"].as_i64().unwrap_or(0);
        let w = app
            .patch_state(
                &agent,
                &id,
                version,
                json!({"patches": [{"op": "set", "path": "/counter", "value": counter + 1}]}),
            )
            .await;
        match w.status {
            StatusCode::OK => done += 1,
            StatusCode::CONFLICT => {
                assert_eq!(w.detail(), "Version conflict");
                assert!(w.body["current_version"].as_i64().unwrap() > version);
            }
            other => panic!("unexpected {other}: {:?}", w.body),
        }
    }
    done
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_writers_lose_no_increment() {
    let dir = tempfile::tempdir().unwrap();
    // Two app instances over one file: atomicity must come from the database, not from one
    // process's lock.
    let (a, b) = two_apps(&dir).await;
    let id = a.intent("counter").await;
    let per_writer = 6;
    let mut tasks = Vec::new();
    for w in 0..16 {
        let app = if w % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(increment(app, id.clone(), format!("writer-{w}"), per_writer)));
    }
    let mut successes = 0;
    for t in tasks {
        successes += t.await.unwrap();
    }
    assert_eq!(successes, 16 * per_writer);
    let r = a.get(&format!("/api/v1/intents/{id}")).await;
    let counter = r.body["state"]["counter"].as_i64().unwrap();
    let version = r.body["version"].as_i64().unwrap();
    assert_eq!(counter as usize, successes);
    assert_eq!(version - 1, counter);
    // One state_patched event per successful write.
    let r = a.get(&format!("/api/v1/intents/{id}/events?event_type=state_patched&limit=1000")).await;
    assert_eq!(r.body.as_array().unwrap().len(), successes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_two_acquirers_one_winner() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = two_apps(&dir).await;
    let id = a.intent("leased").await;
    let mut tasks = Vec::new();
    for n in 0..32 {
        let app = if n % 2 == 0 { a.clone() } else { b.clone() };
        let id = id.clone();
        tasks.push(tokio::spawn(async move {
            let agent = format!("agent-{n}");
            app.as_agent(
                Some(&agent),
                "POST",
                &format!("/api/v1/intents/{id}/leases"),
                Some(json!({"scope": "hotel_search", "duration_seconds": 60})),
            )
            .await
        }));
    }
    let mut winners = Vec::new();
    let mut conflicts = 0;
    for t in tasks {
        let r = t.await.unwrap();
        match r.status {
            StatusCode::OK => winners.push(r.body["id"].as_str().unwrap().to_owned()),
            StatusCode::CONFLICT => {
                assert_eq!(r.detail(), "Lease already held for this scope");
                assert_eq!(r.body["existing_lease"]["scope"], "hotel_search");
                assert_eq!(r.body["existing_lease"]["status"], "active");
                conflicts += 1;
            }
            other => panic!("unexpected {other}: {:?}", r.body),
        }
    }
    assert_eq!(winners.len(), 1);
    assert_eq!(conflicts, 31);
    let leases = a.get(&format!("/api/v1/intents/{id}/leases")).await;
    let live: Vec<_> = leases.body.as_array().unwrap().iter().filter(|l| l["status"] == "active").collect();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0]["id"], winners[0].as_str());
    let acquired = a.get(&format!("/api/v1/intents/{id}/events?event_type=lease_acquired")).await;
    assert_eq!(acquired.body.as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_reach_the_notifications_of_another_instance() {
    if common::postgres_url().is_none() {
        eprintln!("skipped: set {} to a PostgreSQL URL to relay notifications between instances", common::PG_ENV);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = two_apps(&dir).await;
    let mut on_b = b.state.subscribe();
    let id = a.intent("relayed").await;
    let big = "x".repeat(10_000);
    let w = a.patch_state("writer", &id, 1, json!({"patches": [{"op": "set", "path": "/big", "value": big}]})).await;
    assert_eq!(w.status, StatusCode::OK);
    let logged =
        a.post(&format!("/api/v1/intents/{id}/events"), json!({"event_type": "note", "payload": {"k": 1}})).await;
    assert_eq!(logged.status, StatusCode::OK);
    // The intent's stream carries every event of its log, its creation first.
    let n = next(&mut on_b).await;
    assert_eq!((n.event.as_str(), n.channel.key()), ("intent_created", format!("intent:{id}")));
    assert_eq!(n.id, a.events(&id).await[2]["id"].as_str().unwrap());
    // Larger than a NOTIFY payload: announced by reference and re-read on b.
    let n = next(&mut on_b).await;
    assert_eq!((n.event.as_str(), n.channel.key()), ("state_patched", format!("intent:{id}")));
    // The message is the event (the patch that wrote the 10,000 characters), not the intent.
    assert_eq!(n.data["payload"]["patches"][0]["value"].as_str().map(str::len), Some(10_000), "{:?}", n.data);
    assert_eq!(n.id, a.events(&id).await[1]["id"].as_str().unwrap());
    let n = next(&mut on_b).await;
    assert_eq!((n.event.as_str(), &n.data), ("note", &logged.body));
    // b's own changes reach b once, from b itself.
    let pid = b.post("/api/v1/portfolios", json!({"name": "p"})).await.body["id"].as_str().unwrap().to_owned();
    b.post(&format!("/api/v1/portfolios/{pid}/intents"), json!({"intent_id": id})).await;
    let n = next(&mut on_b).await;
    assert_eq!(n.event, "intent_added");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(on_b.try_recv().is_err(), "no echo of b's own change");
}

async fn next(
    rx: &mut tokio::sync::broadcast::Receiver<openintent_server::Notification>,
) -> openintent_server::Notification {
    tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv()).await.expect("relayed in time").unwrap()
}

/// Every kind of write on one intent and one portfolio at once, through two instances: no
/// deadlock, no 5xx, and the log holds exactly one event per acknowledged logged write.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mixed_writers_never_deadlock() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = two_apps(&dir).await;
    let id = a.intent("busy").await;
    let pid = a.post("/api/v1/portfolios", json!({"name": "p"})).await.body["id"].as_str().unwrap().to_owned();
    let mut others = Vec::new();
    for n in 0..4 {
        others.push(a.intent(&format!("member-{n}")).await);
    }
    let mut tasks = Vec::new();
    for w in 0..12usize {
        let app = if w % 2 == 0 { a.clone() } else { b.clone() };
        let (id, pid, member) = (id.clone(), pid.clone(), others[w % others.len()].clone());
        tasks.push(tokio::spawn(async move {
            let agent = format!("mixed-{w}");
            let mut logged = 0;
            for round in 0..6 {
                let scope = format!("scope-{}", (w + round) % 3);
                let replies = [
                    app.as_agent(
                        Some(&agent),
                        "POST",
                        &format!("/api/v1/intents/{id}/leases"),
                        Some(json!({"scope": scope, "duration_seconds": 1})),
                    )
                    .await,
                    app.post(
                        &format!("/api/v1/intents/{id}/events"),
                        json!({"event_type": "note", "payload": {"w": w}}),
                    )
                    .await,
                    app.patch_state(
                        &agent,
                        &id,
                        1 + round as i64,
                        json!({"patches": [{"op": "set", "path": format!("/{agent}"), "value": round}]}),
                    )
                    .await,
                    app.post(
                        &format!("/api/v1/portfolios/{pid}/intents"),
                        json!({"intent_id": member, "priority": round}),
                    )
                    .await,
                    app.as_agent(Some(&agent), "DELETE", &format!("/api/v1/portfolios/{pid}/intents/{member}"), None)
                        .await,
                    app.post(&format!("/api/v1/intents/{id}/agents"), json!({"agent_id": agent, "role": "worker"}))
                        .await,
                    app.post(
                        &format!("/api/v1/intents/{id}/costs"),
                        json!({"cost_type": "tokens", "amount": 1, "unit": "tokens"}),
                    )
                    .await,
                ];
                for (n, r) in replies.iter().enumerate() {
                    assert!(r.status.as_u16() < 500, "writer {w} round {round} request {n}: {} {:?}", r.status, r.body);
                }
                if replies[1].status == StatusCode::OK {
                    logged += 1;
                }
                if replies[0].status == StatusCode::OK {
                    let lease = replies[0].body["id"].as_str().unwrap();
                    let r = app
                        .as_agent(Some(&agent), "DELETE", &format!("/api/v1/intents/{id}/leases/{lease}"), None)
                        .await;
                    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
                }
            }
            logged
        }));
    }
    let mut logged = 0;
    for t in tasks {
        logged += t.await.unwrap();
    }
    assert_eq!(logged, 12 * 6);
    let notes = a.get(&format!("/api/v1/intents/{id}/events?event_type=note&limit=1000")).await;
    assert_eq!(notes.body.as_array().unwrap().len(), logged);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_reconnects_after_losing_its_connection() {
    use sqlx::Connection;
    let Some(admin) = common::postgres_url() else {
        eprintln!("skipped: set {} to a PostgreSQL URL to relay notifications between instances", common::PG_ENV);
        return;
    };
    let url = common::fresh_postgres_database(&admin).await;
    let name = url.rsplit('/').next().unwrap().split('?').next().unwrap().to_owned();
    let config = ServerConfig::builder().database(openintent_server::DatabaseLocation::Postgres(url)).build().unwrap();
    let (a, b) = (TestApp::with_config(config.clone()).await, TestApp::with_config(config).await);
    let id = a.intent("reconnect").await;
    let mut on_b = b.state.subscribe();
    // Cut both instances' listening connections, as a database restart or a proxy would.
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
    let cut: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND query LIKE 'LISTEN %'",
    )
    .bind(&name)
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(cut, [true, true]);
    // Changes made while the relay reconnects may go unrelayed; a later one arrives.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        assert!(std::time::Instant::now() < deadline, "the relay did not come back");
        let logged = a.post(&format!("/api/v1/intents/{id}/events"), json!({"event_type": "note"})).await;
        assert_eq!(logged.status, StatusCode::OK);
        let got = tokio::time::timeout(std::time::Duration::from_millis(500), on_b.recv()).await;
        if let Ok(Ok(n)) = got {
            assert_eq!(n.channel.key(), format!("intent:{id}"));
            break;
        }
    }
}
