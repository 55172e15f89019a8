//! Messaging channels (RFC-0021): channels, messages, replies, read state, the channel stream,
//! persistence across stores, audit events and membership.

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{KEY, TestApp};
use futures_util::StreamExt;
use serde_json::{Value, json};
use tower::ServiceExt;

async fn channel(app: &TestApp, intent: &str, body: Value) -> Value {
    let r = app.post(&format!("/api/v1/intents/{intent}/channels"), body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    r.body
}

async fn send(app: &TestApp, cid: &str, body: Value) -> common::Reply {
    app.post(&format!("/api/v1/channels/{cid}/messages"), body).await
}

#[tokio::test]
async fn channels_messages_replies_and_read_state() {
    let app = TestApp::memory().await;
    let id = app.intent("t").await;
    let c = channel(&app, &id, json!({"name": "coord", "members": ["a", "b"], "options": {"ttl_seconds": 60}})).await;
    assert_eq!((&c["intent_id"], &c["name"], &c["created_by"]), (&json!(id), &json!("coord"), &json!("tester")));
    assert_eq!((&c["status"], &c["member_policy"], &c["message_count"]), (&json!("open"), &json!("intent"), &json!(0)));
    let cid = c["id"].as_str().unwrap();

    let q = send(&app, cid, json!({"sender": "a", "to": "b", "message_type": "request", "payload": {"q": 1}})).await;
    assert_eq!(q.status, StatusCode::CREATED, "{:?}", q.body);
    assert_eq!((&q.body["status"], &q.body["message_type"]), (&json!("delivered"), &json!("request")));
    let qid = q.body["id"].as_str().unwrap();
    let n = send(&app, cid, json!({"sender": "b", "payload": {"note": true}})).await;
    assert_eq!(n.body["message_type"], "notify");

    let r = app
        .post(&format!("/api/v1/channels/{cid}/messages/{qid}/reply"), json!({"sender": "b", "payload": {"a": 2}}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(
        (&r.body["message_type"], &r.body["to"], &r.body["correlation_id"]),
        (&json!("response"), &json!("a"), &json!(qid))
    );

    let all = app.get(&format!("/api/v1/channels/{cid}/messages")).await.body;
    assert_eq!(all.as_array().unwrap().len(), 3);
    let after = app.get(&format!("/api/v1/channels/{cid}/messages?since={qid}")).await.body;
    assert_eq!(after.as_array().unwrap().len(), 2);
    assert_eq!(app.get(&format!("/api/v1/channels/{cid}/messages?since=unknown")).await.body, json!([]));
    let to_a = app.get(&format!("/api/v1/channels/{cid}/messages?to=a")).await.body;
    assert_eq!(to_a.as_array().unwrap().len(), 1);

    let one = app.get(&format!("/api/v1/channels/{cid}/messages/{qid}")).await;
    assert_eq!(one.body["payload"], json!({"q": 1}));
    assert!(one.body["read_at"].is_null());
    let read = app
        .as_agent(
            Some("b"),
            "PATCH",
            &format!("/api/v1/channels/{cid}/messages/{qid}"),
            Some(json!({"status": "read"})),
        )
        .await;
    assert_eq!((read.status, &read.body["status"]), (StatusCode::OK, &json!("read")));
    assert!(read.body["read_at"].is_string());

    let c = app.get(&format!("/api/v1/channels/{cid}")).await.body;
    assert_eq!(c["message_count"], 3);
    assert!(c["last_message_at"].is_string());
    let listed = app.get(&format!("/api/v1/intents/{id}/channels")).await.body;
    assert_eq!(listed.as_array().unwrap().len(), 1);

    let patched = app
        .as_agent(Some("a"), "PATCH", &format!("/api/v1/channels/{cid}"), Some(json!({"members": ["a", "b", "c"]})))
        .await;
    assert_eq!(patched.body["members"], json!(["a", "b", "c"]));
    let closed = app.as_agent(Some("a"), "DELETE", &format!("/api/v1/channels/{cid}"), None).await;
    assert_eq!(closed.body, json!({"status": "closed", "channel_id": cid}));
    let c = app.get(&format!("/api/v1/channels/{cid}")).await.body;
    assert_eq!(c["status"], "closed");
    assert!(c["closed_at"].is_string());
    // A closed channel takes no messages; its messages stay readable.
    let refused = send(&app, cid, json!({"sender": "a"})).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert_eq!(app.get(&format!("/api/v1/channels/{cid}/messages")).await.body.as_array().unwrap().len(), 3);
    // Not audited: the intent's log holds only its creation.
    assert_eq!(app.events(&id).await.len(), 1);
}

#[tokio::test]
async fn unknown_ids_are_404_and_bad_bodies_422_naming_the_field() {
    let app = TestApp::memory().await;
    let id = app.intent("t").await;
    let r = app.post("/api/v1/intents/nope/channels", json!({"name": "x"})).await;
    assert_eq!((r.status, r.detail()), (StatusCode::NOT_FOUND, "Intent not found"));
    assert_eq!(app.get("/api/v1/intents/nope/channels").await.status, StatusCode::NOT_FOUND);
    for path in ["/api/v1/channels/nope", "/api/v1/channels/nope/messages", "/api/v1/channels/nope/messages/m"] {
        let r = app.get(path).await;
        assert_eq!((r.status, r.detail()), (StatusCode::NOT_FOUND, "Channel not found"), "{path}");
    }
    assert_eq!(send(&app, "nope", json!({"sender": "a"})).await.status, StatusCode::NOT_FOUND);
    let cid = channel(&app, &id, json!({"name": "c"})).await["id"].as_str().unwrap().to_owned();
    let r = app.get(&format!("/api/v1/channels/{cid}/messages/nope")).await;
    assert_eq!((r.status, r.detail()), (StatusCode::NOT_FOUND, "Message not found"));
    let r = app.post(&format!("/api/v1/channels/{cid}/messages/nope/reply"), json!({"sender": "a"})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let dup = app.post(&format!("/api/v1/intents/{id}/channels"), json!({"name": "c"})).await;
    assert_eq!(dup.status, StatusCode::CONFLICT);

    for (path, method, body, field) in [
        (format!("/api/v1/intents/{id}/channels"), "POST", json!({}), "name"),
        (format!("/api/v1/intents/{id}/channels"), "POST", json!({"name": "d", "member_policy": "x"}), "member_policy"),
        (
            format!("/api/v1/intents/{id}/channels"),
            "POST",
            json!({"name": "d", "options": {"audit": "yes"}}),
            "options",
        ),
        (format!("/api/v1/channels/{cid}"), "PATCH", json!({"status": "archived"}), "status"),
        (format!("/api/v1/channels/{cid}/messages"), "POST", json!({"payload": {}}), "sender"),
        (format!("/api/v1/channels/{cid}/messages"), "POST", json!({"sender": "a", "message_type": "request"}), "to"),
        (
            format!("/api/v1/channels/{cid}/messages"),
            "POST",
            json!({"sender": "a", "expires_at": "soon"}),
            "expires_at",
        ),
        (format!("/api/v1/channels/{cid}/messages/m/reply"), "POST", json!({}), "sender"),
        (format!("/api/v1/channels/{cid}/messages/m"), "PATCH", json!({"status": "seen"}), "status"),
    ] {
        let r = app.as_agent(Some("tester"), method, &path, Some(body.clone())).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{method} {path} {body}: {:?}", r.body);
        assert!(r.body["detail"][0]["loc"].to_string().contains(field), "{body}: {:?}", r.body);
    }
    assert_eq!(app.get(&format!("/api/v1/channels/{cid}/messages")).await.body, json!([]));
}

#[tokio::test]
async fn explicit_channels_admit_members_and_audited_ones_log_events() {
    let app = TestApp::memory().await;
    let id = app.intent("t").await;
    let c = channel(
        &app,
        &id,
        json!({"name": "c", "members": ["a"], "member_policy": "explicit", "options": {"audit": true}}),
    )
    .await;
    let cid = c["id"].as_str().unwrap();
    assert_eq!(send(&app, cid, json!({"sender": "intruder"})).await.status, StatusCode::FORBIDDEN);
    let m = send(&app, cid, json!({"sender": "a", "to": "b"})).await;
    assert_eq!(m.status, StatusCode::CREATED);
    let events = app.events(&id).await;
    assert_eq!(events[0]["event_type"], "channel_message");
    assert_eq!(events[0]["actor"], "a");
    assert_eq!(events[0]["payload"]["message_id"], m.body["id"]);
}

#[tokio::test]
async fn channels_follow_their_intents_acl() {
    let app = TestApp::memory().await;
    let id = app.intent("t").await;
    let cid = channel(&app, &id, json!({"name": "c"})).await["id"].as_str().unwrap().to_owned();
    let acl = json!({"default_policy": "closed", "entries": [{"principal_id": "reader", "permission": "read"}]});
    assert_eq!(app.as_agent(Some("tester"), "PUT", &format!("/api/v1/intents/{id}/acl"), Some(acl)).await.status, 200);
    let path = format!("/api/v1/channels/{cid}/messages");
    assert_eq!(app.as_agent(Some("reader"), "GET", &path, None).await.status, StatusCode::OK);
    assert_eq!(app.as_agent(Some("stranger"), "GET", &path, None).await.status, StatusCode::FORBIDDEN);
    let body = json!({"sender": "reader"});
    assert_eq!(app.as_agent(Some("reader"), "POST", &path, Some(body)).await.status, StatusCode::FORBIDDEN);
    let stream = app.as_agent(Some("stranger"), "GET", &format!("/api/v1/subscribe/channels/{cid}"), None).await;
    assert_eq!(stream.status, StatusCode::FORBIDDEN);
}

/// The `event:` lines and `data:` of the first `n` messages of an in-process stream.
async fn read_stream(app: &TestApp, path: &str, n: usize) -> Vec<(String, Value)> {
    let req = Request::get(path).header("x-api-key", KEY).body(Body::empty()).unwrap();
    let resp = app.router.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let mut body = resp.into_body().into_data_stream();
    let mut text = String::new();
    let mut out = Vec::new();
    while out.len() < n {
        let chunk = tokio::time::timeout(Duration::from_secs(10), body.next()).await.expect("timed out").unwrap();
        text.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
        while let Some(end) = text.find("\n\n") {
            let block: String = text.drain(..end + 2).collect();
            let event = block.lines().find_map(|l| l.strip_prefix("event: ")).map(str::to_owned);
            let data = block.lines().find_map(|l| l.strip_prefix("data: ")).map(|d| serde_json::from_str(d).unwrap());
            if let (Some(e), Some(d)) = (event, data) {
                out.push((e, d));
            }
        }
    }
    out
}

#[tokio::test]
async fn messages_and_replies_are_streamed_and_kept_across_stores() {
    let dir = tempfile::tempdir().unwrap();
    let location = common::shared_test_database(dir.path()).await;
    let config = || {
        openintent_server::ServerConfig::builder()
            .database(location.clone())
            .bind(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
            .build()
            .unwrap()
    };
    let app = TestApp::with_config(config()).await;
    let id = app.intent("t").await;
    let cid = channel(&app, &id, json!({"name": "c"})).await["id"].as_str().unwrap().to_owned();
    let m = send(&app, &cid, json!({"sender": "a", "payload": {"n": 1}})).await.body;
    let mid = m["id"].as_str().unwrap();
    app.post(&format!("/api/v1/channels/{cid}/messages/{mid}/reply"), json!({"sender": "b"})).await;
    let frames = read_stream(&app, &format!("/api/v1/subscribe/channels/{cid}?from=start"), 2).await;
    assert_eq!(frames[0].0, "channel_message");
    assert_eq!(frames[0].1["id"], m["id"]);
    assert_eq!(frames[1].1["correlation_id"], json!(mid));
    let missing = app.get("/api/v1/subscribe/channels/nope").await;
    assert_eq!((missing.status, missing.detail()), (StatusCode::NOT_FOUND, "Channel not found"));

    // Another server over the same database sees the channel and its messages.
    let other = TestApp::with_config(config()).await;
    let listed = other.get(&format!("/api/v1/channels/{cid}/messages")).await.body;
    assert_eq!(listed.as_array().unwrap().len(), 2);
}
