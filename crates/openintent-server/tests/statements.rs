//! How many statements the hot routes run: each statement is a round trip to the database
//! (on SQLite, a hand-off to the connection's worker thread), so the count is their cost.
//! Every statement run is reported as a `tracing` event, counted here: SQLite's
//! (`openintent_server::statement`, the server's own driver) and PostgreSQL's (`sqlx::query`).

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};

use common::TestApp;
use serde_json::json;
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

static STATEMENTS: AtomicUsize = AtomicUsize::new(0);

/// Counts the statements reported.
struct CountStatements;

impl<S: Subscriber> Layer<S> for CountStatements {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if matches!(event.metadata().target(), "sqlx::query" | "openintent_server::statement") {
            STATEMENTS.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// The statements run by `call`.
async fn statements<F: std::future::Future<Output = common::Reply>>(call: F) -> usize {
    let before = STATEMENTS.load(Ordering::SeqCst);
    let reply = call.await;
    assert!(reply.status.is_success(), "{:?}", reply.body);
    STATEMENTS.load(Ordering::SeqCst) - before
}

/// One test in this binary: the counter is global.
#[tokio::test]
async fn hot_routes_run_as_few_statements_as_they_need() {
    tracing_subscriber::registry().with(CountStatements).init();
    let app = TestApp::memory().await;
    let id = app.intent("counted").await;
    assert!(statements(app.get(&format!("/api/v1/intents/{id}"))).await > 0, "statements are counted");

    // Reading an intent: the intent with what its access check needs, one statement.
    assert_eq!(statements(app.get(&format!("/api/v1/intents/{id}"))).await, 1);

    // An intent naming others (a parent, a dependency) too: no ACL restricts, so nothing is
    // checked to hide the ids of intents the caller may not read (the access check's statement
    // tells).
    let named = json!({"title": "child", "parent_intent_id": id, "depends_on": [id]});
    let child = app.post("/api/v1/intents", named).await.body["id"].as_str().unwrap().to_owned();
    assert_eq!(statements(app.get(&format!("/api/v1/intents/{child}"))).await, 1);

    // Creating an intent (and so appending its event) without a webhook subscription in scope:
    // no statement for webhooks. With one: the match and its delivery.
    let create = || app.post("/api/v1/intents", json!({"title": "t"}));
    let quiet = statements(create()).await;
    let r = app.post("/api/v1/subscriptions", json!({"webhook_url": "https://example.com/hook"})).await;
    assert!(r.status.is_success(), "{:?}", r.body);
    let subscribed = statements(create()).await;
    assert_eq!(subscribed, quiet + 2, "the subscriptions read, one delivery written");

    // The calls of the bench's workload, on a fresh SQLite database (no webhook subscription;
    // PostgreSQL adds its cross-process notifications to writes, not counted here). Writes
    // are `BEGIN IMMEDIATE` … `COMMIT` around their statements; reads of an intent's sub-resources
    // start with the access check (creator and ACL policy, one statement).
    let app = TestApp::memory().await;
    let expected = [
        ("create_intent", 4), // BEGIN, intent, event (with the log's newest time), COMMIT
        ("update_state", 7),  // access; BEGIN, intent, lease guard, versioned update, event, COMMIT
        ("get_intent", 1),    // the intent with its access
        ("log_event", 5),     // access; BEGIN, the intent exists, event, COMMIT
        ("get_events", 2),    // access; the page
        ("acquire_lease", 7), // access; BEGIN, the intent exists, slot upsert, lease, event, COMMIT
        ("release_lease", 8), // access; BEGIN, intent, lease, release, slot, event, COMMIT
    ];
    let counts = workload_statements(&app).await;
    if common::postgres_url().is_none() {
        assert_eq!(counts, expected);
    }
}

/// The statements of each call of the bench's mixed agent workload (`openintent-bench`), in order.
async fn workload_statements(app: &TestApp) -> Vec<(&'static str, usize)> {
    let mut counts = Vec::new();
    let create = app.post("/api/v1/intents", json!({"title": "unit"}));
    let before = STATEMENTS.load(Ordering::SeqCst);
    let r = create.await;
    counts.push(("create_intent", STATEMENTS.load(Ordering::SeqCst) - before));
    let id = r.body["id"].as_str().unwrap().to_owned();
    let before = STATEMENTS.load(Ordering::SeqCst);
    let r =
        app.patch_state("tester", &id, 1, json!({"patches": [{"op": "set", "path": "/counter", "value": 1}]})).await;
    assert!(r.status.is_success(), "{:?}", r.body);
    counts.push(("update_state", STATEMENTS.load(Ordering::SeqCst) - before));
    counts.push(("get_intent", statements(app.get(&format!("/api/v1/intents/{id}"))).await));
    let events = format!("/api/v1/intents/{id}/events");
    let log = app.post(&events, json!({"event_type": "comment", "payload": {}}));
    counts.push(("log_event", statements(log).await));
    counts.push(("get_events", statements(app.get(&format!("/api/v1/intents/{id}/events?limit=20"))).await));
    let before = STATEMENTS.load(Ordering::SeqCst);
    let lease =
        app.post(&format!("/api/v1/intents/{id}/leases"), json!({"scope": "work", "duration_seconds": 30})).await;
    assert!(lease.status.is_success(), "{:?}", lease.body);
    counts.push(("acquire_lease", STATEMENTS.load(Ordering::SeqCst) - before));
    let lease_id = lease.body["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/intents/{id}/leases/{lease_id}");
    let release = app.as_agent(Some("tester"), "DELETE", &path, None);
    counts.push(("release_lease", statements(release).await));
    counts
}
