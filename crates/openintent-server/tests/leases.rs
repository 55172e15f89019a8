//! Lease ownership, expiry, renewal, release, and leases guarding state.

mod common;

use axum::http::StatusCode;
use common::TestApp;
use serde_json::{Value, json};

async fn acquire(app: &TestApp, agent: &str, id: &str, scope: &str, secs: i64) -> common::Reply {
    app.as_agent(
        Some(agent),
        "POST",
        &format!("/api/v1/intents/{id}/leases"),
        Some(json!({"scope": scope, "duration_seconds": secs})),
    )
    .await
}

fn count(events: &[Value], kind: &str) -> usize {
    events.iter().filter(|e| e["event_type"] == kind).count()
}

#[tokio::test]
async fn acquire_shape_owner_and_not_reentrant() {
    let app = TestApp::memory().await;
    let id = app.intent("t").await;
    let r = acquire(&app, "alice", &id, "analysis", 300).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["agent_id"], "alice");
    assert_eq!(r.body["intent_id"], id.as_str());
    assert_eq!(r.body["status"], "active");
    assert_eq!(r.body["created_at"], r.body["acquired_at"]);
    assert!(r.body["released_at"].is_null());
    // Not re-entrant, even for the holder.
    let again = acquire(&app, "alice", &id, "analysis", 300).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.body["existing_lease"]["id"], r.body["id"]);
    // Other scopes are independent.
    assert_eq!(acquire(&app, "bob", &id, "writing", 300).await.status, StatusCode::OK);
    // Unknown intent.
    let missing = acquire(&app, "alice", "no-such-intent", "analysis", 300).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.detail(), "Intent not found");
}

#[tokio::test]
async fn bad_durations_and_scopes_are_422() {
    let app = TestApp::memory().await;
    let id = app.intent("t").await;
    for body in [
        json!({"scope": "a", "duration_seconds": 0}),
        json!({"scope": "a", "duration_seconds": -5}),
        json!({"scope": "a", "duration_seconds": 1.5}),
        json!({"scope": ""}),
        json!({"scope": "  "}),
        json!({"scope": "line\nbreak"}),
        json!({"scope": "x".repeat(256)}),
        json!({"duration_seconds": 10}),
    ] {
        let r = app.post(&format!("/api/v1/intents/{id}/leases"), body.clone()).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(r.body["detail"].is_array());
    }
    assert!(app.get(&format!("/api/v1/intents/{id}/leases")).await.body.as_array().unwrap().is_empty());
    // An integer written with a zero fraction is that integer, as JSON Schema reads it.
    let r = app.post(&format!("/api/v1/intents/{id}/leases"), json!({"scope": "a", "duration_seconds": 30.0})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let at = |k: &str| openintent_types::time::parse_timestamp(r.body[k].as_str().unwrap()).unwrap();
    assert_eq!((at("expires_at") - at("acquired_at")).num_seconds(), 30);
}

#[tokio::test]
async fn expired_lease_no_longer_blocks() {
    let app = TestApp::memory().await;
    let id = app.intent("t").await;
    let first = acquire(&app, "alice", &id, "s", 1).await;
    assert_eq!(first.status, StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let second = acquire(&app, "bob", &id, "s", 60).await;
    assert_eq!(second.status, StatusCode::OK, "{:?}", second.body);
    let leases = app.get(&format!("/api/v1/intents/{id}/leases")).await.body;
    let statuses: Vec<&str> = leases.as_array().unwrap().iter().map(|l| l["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, vec!["expired", "active"]);
    let active = app.get(&format!("/api/v1/intents/{id}/leases?status=active")).await.body;
    assert_eq!(active.as_array().unwrap().len(), 1);

    // Alice's expired lease cannot be renewed now that Bob holds the scope.
    let lid = first.body["id"].as_str().unwrap();
    let renew = app
        .as_agent(
            Some("alice"),
            "PATCH",
            &format!("/api/v1/intents/{id}/leases/{lid}"),
            Some(json!({"duration_seconds": 60})),
        )
        .await;
    assert_eq!(renew.status, StatusCode::CONFLICT);
    assert_eq!(renew.body["existing_lease"]["agent_id"], "bob");
}

#[tokio::test]
async fn renew_and_release_are_owner_only() {
    let app = TestApp::memory().await;
    let id = app.intent("t").await;
    let other = app.intent("other").await;
    let lease = acquire(&app, "alice", &id, "s", 60).await;
    let lid = lease.body["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/intents/{id}/leases/{lid}");

    let r = app.as_agent(Some("bob"), "PATCH", &path, Some(json!({"duration_seconds": 60}))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.detail(), "Lease not owned by you");
    let r = app.as_agent(Some("bob"), "DELETE", &path, None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // Unknown lease, or a lease of another intent: 404.
    let r = app.as_agent(Some("alice"), "DELETE", &format!("/api/v1/intents/{id}/leases/nope"), None).await;
    assert_eq!((r.status, r.detail()), (StatusCode::NOT_FOUND, "Lease not found or not owned by you"));
    let r = app.as_agent(Some("alice"), "DELETE", &format!("/api/v1/intents/{other}/leases/{lid}"), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // The owner renews (expiry counted from now) and releases.
    let r = app.as_agent(Some("alice"), "PATCH", &path, Some(json!({"duration_seconds": 600}))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body["expires_at"].as_str().unwrap() > lease.body["expires_at"].as_str().unwrap());
    let r = app.as_agent(Some("alice"), "PATCH", &path, None).await;
    assert_eq!(r.status, StatusCode::OK, "renew with an empty body uses the default duration");

    let r = app.as_agent(Some("alice"), "DELETE", &path, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["message"], "Lease released");
    // Releasing again: 200, no second event.
    let r = app.as_agent(Some("alice"), "DELETE", &path, None).await;
    assert_eq!(r.status, StatusCode::OK);
    let events = app.events(&id).await;
    assert_eq!(count(&events, "lease_released"), 1);
    assert_eq!(count(&events, "lease_renewed"), 2);
    assert_eq!(count(&events, "lease_acquired"), 1);
    let released = events.iter().find(|e| e["event_type"] == "lease_released").unwrap();
    assert_eq!(released["actor"], "alice");
    // The scope is free again.
    assert_eq!(acquire(&app, "bob", &id, "s", 60).await.status, StatusCode::OK);
    // A released lease cannot be renewed.
    let r = app.as_agent(Some("alice"), "PATCH", &path, Some(json!({"duration_seconds": 60}))).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn leases_guard_state_paths() {
    let app = TestApp::memory().await;
    let id = app.intent("trip").await;
    let lease = acquire(&app, "alice", &id, "hotel_search", 60).await;
    let lid = lease.body["id"].as_str().unwrap().to_owned();

    // Another principal may not write under the scope, nor overwrite its parent.
    for body in [
        json!({"patches": [{"op": "set", "path": "/hotel_search/results", "value": [1]}]}),
        json!({"patches": [{"op": "remove", "path": "/hotel_search"}]}),
        json!({"state": {"hotel_search": {}}}),
        json!({"patches": [{"op": "set", "path": "", "value": {}}]}),
    ] {
        let r = app.patch_state("bob", &id, 1, body.clone()).await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{body}");
        assert!(r.detail().contains(&lid), "detail names the lease: {}", r.detail());
        assert_eq!(r.body["existing_lease"]["id"], lid.as_str());
    }
    // Nothing was written.
    let intent = app.get(&format!("/api/v1/intents/{id}")).await.body;
    assert_eq!(intent["version"], 1);
    assert_eq!(count(&app.events(&id).await, "state_patched"), 0);

    // Other paths are free; the holder writes under the scope.
    let r = app.patch_state("bob", &id, 1, json!({"patches": [{"op": "set", "path": "/flights", "value": 2}]})).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app
        .patch_state(
            "alice",
            &id,
            2,
            json!({"patches": [{"op": "set", "path": "/hotel_search/results", "value": [1]}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);

    // After release, anyone may write.
    app.as_agent(Some("alice"), "DELETE", &format!("/api/v1/intents/{id}/leases/{lid}"), None).await;
    let r = app
        .patch_state("bob", &id, 3, json!({"patches": [{"op": "set", "path": "/hotel_search/results", "value": []}]}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

/// Scopes are free strings on the wire (PROTOCOL.md §1.3): the forms real clients use are
/// accepted, and each guards the state its dot-separated keys name, whatever other characters
/// it holds (JSON-pointer escaping included).
#[tokio::test]
async fn free_form_scopes_are_accepted_and_guard_their_keys() {
    let app = TestApp::memory().await;
    let id = app.intent("free scopes").await;
    let long = "s".repeat(255);
    let long_path = format!("/{long}");
    // (scope, a guarded path, a path that stays free)
    let cases = [
        ("data-processing", "/data-processing/rows", "/data"),
        ("shared-scope", "/shared-scope", "/shared"),
        ("ev-scope", "/ev-scope/x", "/ev_scope"),
        ("with space", "/with space", "/with"),
        ("a/b", "/a~1b/c", "/a/b"),
        ("t~x", "/t~0x", "/t~1x"),
        ("v1.2", "/v1/2", "/v1.2"),
        ("名前", "/名前", "/名"),
        (long.as_str(), long_path.as_str(), "/s"),
    ];
    for (scope, _, _) in &cases {
        let r = acquire(&app, "alice", &id, scope, 300).await;
        assert_eq!(r.status, StatusCode::OK, "{scope}: {:?}", r.body);
        assert_eq!(r.body["scope"], *scope);
    }
    let mut version = 1;
    for (scope, guarded, free) in &cases {
        let r = app
            .patch_state("bob", &id, version, json!({"patches": [{"op": "set", "path": guarded, "value": 1}]}))
            .await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{scope} guards {guarded}: {:?}", r.body);
        assert_eq!(r.body["existing_lease"]["scope"], *scope);
        let r =
            app.patch_state("bob", &id, version, json!({"patches": [{"op": "set", "path": free, "value": 1}]})).await;
        assert_eq!(r.status, StatusCode::OK, "{scope} does not guard {free}: {:?}", r.body);
        version += 1;
        // The holder writes under its scope.
        let r = app
            .patch_state("alice", &id, version, json!({"patches": [{"op": "set", "path": guarded, "value": 2}]}))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{scope}: {:?}", r.body);
        version += 1;
    }
    // The merge form names top-level keys: `a/b` is the key the scope `a/b` guards.
    let r = app.patch_state("bob", &id, version, json!({"state": {"a/b": 0}})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    assert_eq!(r.body["existing_lease"]["scope"], "a/b");
}
