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

    // Creating an intent (and so appending its event) without a webhook subscription in scope:
    // no statement for webhooks. With one: the match and its delivery.
    let create = || app.post("/api/v1/intents", json!({"title": "t"}));
    let quiet = statements(create()).await;
    let r = app.post("/api/v1/subscriptions", json!({"webhook_url": "https://example.com/hook"})).await;
    assert!(r.status.is_success(), "{:?}", r.body);
    let subscribed = statements(create()).await;
    assert_eq!(subscribed, quiet + 2, "the subscriptions read, one delivery written");
}
