//! Webhook subscriptions under per-intent access control (RFC-0011 with RFC-0006): a
//! subscription naming an intent its subscriber may not read is refused as one naming an unknown
//! intent, and the events of an intent are queued only for the subscriptions whose subscriber
//! may read it when the event is written (global, portfolio and intent scopes alike).

mod common;

use std::collections::{BTreeMap, BTreeSet};

use axum::http::StatusCode;
use common::TestApp;
use serde_json::{Value, json};

async fn as_who(app: &TestApp, who: &str, method: &str, path: &str, body: Value) -> Value {
    let r = app.as_agent_with(Some(who), method, path, Some(body), &[("if-match", "1")]).await;
    assert_eq!(r.status, StatusCode::OK, "{who} {method} {path}: {:?}", r.body);
    r.body
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

/// `who`'s subscription with `scope` (plus a webhook URL); its id.
async fn subscribe(app: &TestApp, who: &str, scope: Value) -> String {
    let mut body = scope;
    body["webhook_url"] = json!(format!("https://hooks.example.com/{who}"));
    id(&as_who(app, who, "POST", "/api/v1/subscriptions", body).await)
}

/// The ids of the events queued for subscription `sub` (read by its subscriber `who`).
async fn queued(app: &TestApp, who: &str, sub: &str) -> BTreeSet<String> {
    let path = format!("/api/v1/subscriptions/{sub}/deliveries?limit=100");
    let page = app.as_agent(Some(who), "GET", &path, None).await;
    assert_eq!(page.status, StatusCode::OK, "{:?}", page.body);
    page.body["deliveries"].as_array().unwrap().iter().map(|d| d["event_id"].as_str().unwrap().to_owned()).collect()
}

/// Logs a comment on `intent` as `alice`; the event's id.
async fn comment(app: &TestApp, intent: &str) -> String {
    let path = format!("/api/v1/intents/{intent}/events");
    id(&as_who(app, "alice", "POST", &path, json!({"event_type": "comment", "payload": {}})).await)
}

#[tokio::test]
async fn webhooks_deliver_an_intents_events_only_to_subscribers_who_may_read_it() {
    let app = TestApp::memory().await;
    // alice's open intent o and private intent p, both in her portfolio f.
    let o = id(&as_who(&app, "alice", "POST", "/api/v1/intents", json!({"title": "o"})).await);
    let p = id(&as_who(&app, "alice", "POST", "/api/v1/intents", json!({"title": "p"})).await);
    as_who(&app, "alice", "PUT", &format!("/api/v1/intents/{p}/acl"), json!({"default_policy": "private"})).await;
    let f = id(&as_who(&app, "alice", "POST", "/api/v1/portfolios", json!({"name": "f"})).await);
    for i in [&o, &p] {
        as_who(&app, "alice", "POST", &format!("/api/v1/portfolios/{f}/intents"), json!({"intent_id": i})).await;
    }

    // bob may not subscribe to p: answered as for an unknown intent, nothing written.
    let refused = |intent: &str| {
        let body = json!({"intent_id": intent, "webhook_url": "https://hooks.example.com/bob"});
        app.as_agent(Some("bob"), "POST", "/api/v1/subscriptions", Some(body))
    };
    let (hidden, unknown) = (refused(&p).await, refused("no-such-intent").await);
    assert_eq!((hidden.status, unknown.status), (StatusCode::NOT_FOUND, StatusCode::NOT_FOUND), "{:?}", hidden.body);
    assert_eq!(hidden.detail(), format!("Intent not found (intent_id: {p})"));
    assert_eq!(hidden.detail().replace(&p, "X"), unknown.detail().replace("no-such-intent", "X"));
    let bobs = app.as_agent(Some("bob"), "GET", "/api/v1/subscriptions", None).await;
    assert_eq!(bobs.body["subscriptions"], json!([]), "nothing was written");

    let mut subs = BTreeMap::new();
    for who in ["alice", "bob"] {
        subs.insert((who, "global"), subscribe(&app, who, json!({})).await);
        subs.insert((who, "portfolio"), subscribe(&app, who, json!({"portfolio_id": f})).await);
        subs.insert((who, "o"), subscribe(&app, who, json!({"intent_id": o})).await);
    }
    subs.insert(("alice", "p"), subscribe(&app, "alice", json!({"intent_id": p})).await);

    let (on_o, on_p) = (comment(&app, &o).await, comment(&app, &p).await);
    for ((who, scope), sub) in &subs {
        let got = queued(&app, who, sub).await;
        let expected: BTreeSet<String> = match (*who, *scope) {
            ("alice", "global" | "portfolio") => [&on_o, &on_p].into_iter().cloned().collect(),
            ("alice", "p") => [on_p.clone()].into(),
            _ => [on_o.clone()].into(),
        };
        assert_eq!(got, expected, "{who}'s {scope} subscription (o: {on_o}, p: {on_p})");
    }

    // The ACL when the event is written decides: once bob may read p, its next events reach his
    // global and portfolio subscriptions (not the ones written before the grant).
    let grant = json!({"principal_id": "bob", "permission": "read"});
    as_who(&app, "alice", "POST", &format!("/api/v1/intents/{p}/acl/entries"), grant).await;
    let later = comment(&app, &p).await;
    for scope in ["global", "portfolio"] {
        let got = queued(&app, "bob", &subs[&("bob", scope)]).await;
        assert!(got.contains(&later) && !got.contains(&on_p), "bob's {scope} subscription: {got:?}");
    }
    // And he may now subscribe to p itself.
    subscribe(&app, "bob", json!({"intent_id": p})).await;
}
