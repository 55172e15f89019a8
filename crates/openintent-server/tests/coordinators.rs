//! Coordinator leases (RFC-0013): the reference's shapes (200 lease with its defaults,
//! `lease_metadata`, a bare list, the heartbeat answer), its 404s, and what this server adds:
//! 422s naming the field, `agent_id` naming the caller, the intent's ACL, and heartbeats only
//! by the lease's agent.

mod common;

use axum::body::Body;
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDateTime};
use common::{Reply, TestApp};
use serde_json::{Value, json};

/// A request with `key` as `agent` (agent-role keys act as their `X-Agent-ID`).
async fn call(app: &TestApp, key: &str, agent: &str, method: &str, path: &str, body: Option<Value>) -> Reply {
    let mut headers = vec![("x-api-key", key), ("x-agent-id", agent)];
    if body.is_some() {
        headers.push(("content-type", "application/json"));
    }
    app.send(method, path, &headers, body.map(|b| Body::from(b.to_string()))).await
}

fn time(v: &Value) -> NaiveDateTime {
    let s = v.as_str().unwrap_or_else(|| panic!("a timestamp: {v}"));
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| DateTime::parse_from_rfc3339(s).map(|d| d.naive_utc()))
        .unwrap()
}

async fn grant(app: &TestApp, agent: &str, body: Value) -> Reply {
    app.as_agent(Some(agent), "POST", "/api/v1/coordinators", Some(body)).await
}

#[tokio::test]
async fn grant_read_list_and_heartbeat() {
    let app = TestApp::memory().await;
    let id = app.intent("coordinated").await;
    let body = json!({"agent_id": "coordinator", "intent_id": id, "supervisor_id": "human-1",
                      "guardrails": {"max_budget_usd": 50}, "heartbeat_interval_seconds": 60,
                      "metadata": {"k": "v"}});
    let r = grant(&app, "coordinator", body).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let lease = r.body.clone();
    for (key, want) in [
        ("intent_id", json!(id)),
        ("portfolio_id", Value::Null),
        ("agent_id", json!("coordinator")),
        ("role", json!("coordinator")),
        ("supervisor_id", json!("human-1")),
        ("coordinator_type", json!("llm")),
        ("scope", json!("intent")),
        ("status", json!("active")),
        ("guardrails", json!({"max_budget_usd": 50})),
        ("heartbeat_interval_seconds", json!(60)),
        ("last_heartbeat", Value::Null),
        ("expires_at", Value::Null),
        ("version", json!(1)),
        ("lease_metadata", json!({"k": "v"})),
    ] {
        assert_eq!(lease[key], want, "{key}: {lease}");
    }
    time(&lease["granted_at"]);
    let lid = lease["id"].as_str().unwrap().to_owned();

    let r = app.get(&format!("/api/v1/coordinators/{lid}")).await;
    assert_eq!((r.status, &r.body), (StatusCode::OK, &lease));

    let r = app.as_agent(Some("coordinator"), "POST", &format!("/api/v1/coordinators/{lid}/heartbeat"), None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["status"], "ok");
    let next = time(&r.body["next_heartbeat_at"]);

    let r = app.get(&format!("/api/v1/intents/{id}/coordinators")).await;
    assert_eq!(r.status, StatusCode::OK);
    let leases = r.body.as_array().expect("a bare array");
    assert_eq!(leases.len(), 1);
    assert_eq!(leases[0]["id"], json!(lid));
    assert_eq!(leases[0]["version"], 1, "a heartbeat leaves the version");
    let beat = time(&leases[0]["last_heartbeat"]);
    assert_eq!(next - beat, chrono::Duration::seconds(60));

    // Defaults of a minimal grant; another intent's list does not show it.
    let other = app.intent("other").await;
    let r = grant(&app, "c2", json!({"agent_id": "c2", "intent_id": other, "heartbeat_interval_seconds": 5})).await;
    assert_eq!((r.body["heartbeat_interval_seconds"].clone(), r.body["lease_metadata"].clone()), (json!(5), json!({})));
    assert_eq!(app.get(&format!("/api/v1/intents/{id}/coordinators")).await.body.as_array().unwrap().len(), 1);
    let r = app.get(&format!("/api/v1/intents/{other}/coordinators")).await;
    assert_eq!(r.body[0]["agent_id"], "c2");
}

#[tokio::test]
async fn not_found_and_validation() {
    let app = TestApp::memory().await;
    let id = app.intent("i").await;
    for (method, path) in
        [("GET", "/api/v1/coordinators/no-such-lease"), ("POST", "/api/v1/coordinators/no-such-lease/heartbeat")]
    {
        let r = app.as_agent(Some("my-agent"), method, path, None).await;
        assert_eq!((r.status, r.detail()), (StatusCode::NOT_FOUND, "Coordinator lease not found"), "{method} {path}");
    }
    let r = app.get("/api/v1/intents/no-such-intent/coordinators").await;
    assert_eq!((r.status, r.detail()), (StatusCode::NOT_FOUND, "Intent not found"));
    let r = grant(&app, "c", json!({"agent_id": "c", "intent_id": "no-such-intent"})).await;
    assert_eq!((r.status, r.detail()), (StatusCode::NOT_FOUND, "Intent not found (intent_id: no-such-intent)"));
    let r = grant(&app, "c", json!({"agent_id": "c", "portfolio_id": "no-such-portfolio"})).await;
    assert_eq!(
        (r.status, r.detail()),
        (StatusCode::NOT_FOUND, "Portfolio not found (portfolio_id: no-such-portfolio)")
    );

    for (body, field) in [
        (json!({"intent_id": id}), "agent_id"),
        (json!({"agent_id": "", "intent_id": id}), "agent_id"),
        (json!({"agent_id": "c"}), "intent_id"),
        (json!({"agent_id": "c", "intent_id": id, "heartbeat_interval_seconds": 0}), "heartbeat_interval_seconds"),
        // Past the bound, the interval would overflow the next heartbeat's timestamp.
        (
            json!({"agent_id": "c", "intent_id": id, "heartbeat_interval_seconds": 9_223_372_036_854_775_807_i64}),
            "heartbeat_interval_seconds",
        ),
        (json!({"agent_id": "c", "intent_id": id, "guardrails": "none"}), "guardrails"),
        (json!({"agent_id": "c", "intent_id": id, "expires_at": "soon"}), "expires_at"),
        (json!({"agent_id": "c", "intent_id": id, "scope": ""}), "scope"),
    ] {
        let r = grant(&app, "c", body.clone()).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {:?}", r.body);
        assert_eq!(r.body["detail"][0]["loc"], json!(["body", field]), "{body}: {:?}", r.body);
    }
    assert_eq!(app.get(&format!("/api/v1/intents/{id}/coordinators")).await.body, json!([]));
    // A portfolio lease.
    let p = app.post("/api/v1/portfolios", json!({"name": "f"})).await.body["id"].as_str().unwrap().to_owned();
    let r = grant(&app, "c", json!({"agent_id": "c", "portfolio_id": p, "scope": "portfolio"})).await;
    assert_eq!(
        (r.status, r.body["portfolio_id"].clone(), r.body["intent_id"].clone()),
        (StatusCode::OK, json!(p), Value::Null)
    );
}

#[tokio::test]
async fn only_the_caller_or_an_operator_names_the_agent_and_only_the_holder_heartbeats() {
    let app = TestApp::memory().await;
    let id = app.intent("i").await;
    let agent_key = "agent-research-key";
    let body = |who: &str| Some(json!({"agent_id": who, "intent_id": id}));
    let r = call(&app, agent_key, "alpha", "POST", "/api/v1/coordinators", body("beta")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    assert!(r.detail().contains("agent_id"), "{:?}", r.body);
    assert_eq!(app.get(&format!("/api/v1/intents/{id}/coordinators")).await.body, json!([]));

    let r = call(&app, agent_key, "alpha", "POST", "/api/v1/coordinators", body("alpha")).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let beat = format!("/api/v1/coordinators/{}/heartbeat", r.body["id"].as_str().unwrap());
    // The admin key grants for another agent.
    let r = app.as_agent(Some("boss"), "POST", "/api/v1/coordinators", body("gamma")).await;
    assert_eq!((r.status, r.body["agent_id"].clone()), (StatusCode::OK, json!("gamma")));

    let r = call(&app, agent_key, "beta", "POST", &beat, None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    let r = app.get(&format!("/api/v1/intents/{id}/coordinators")).await;
    assert_eq!(r.body[0]["last_heartbeat"], Value::Null, "a refused heartbeat records nothing");
    let r = call(&app, agent_key, "alpha", "POST", &beat, None).await;
    assert_eq!((r.status, r.body["status"].clone()), (StatusCode::OK, json!("ok")));
    let r = app.as_agent(Some("boss"), "POST", &beat, None).await;
    assert_eq!(r.status, StatusCode::OK, "an admin key heartbeats any lease");
}

#[tokio::test]
async fn leases_of_a_private_intent_are_hidden_from_who_may_not_read_it() {
    let app = TestApp::memory().await;
    let id = app.as_agent(Some("alice"), "POST", "/api/v1/intents", Some(json!({"title": "p"}))).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app
        .as_agent_with(
            Some("alice"),
            "PUT",
            &format!("/api/v1/intents/{id}/acl"),
            Some(json!({"default_policy": "private"})),
            &[("if-match", "1")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = grant(&app, "alice", json!({"agent_id": "alice", "intent_id": id})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let lid = r.body["id"].as_str().unwrap().to_owned();

    let r = grant(&app, "bob", json!({"agent_id": "bob", "intent_id": id})).await;
    assert_eq!(
        (r.status, r.detail().replace(&id, "X")),
        (StatusCode::NOT_FOUND, "Intent not found (intent_id: X)".into())
    );
    for (method, path) in
        [("GET", format!("/api/v1/coordinators/{lid}")), ("POST", format!("/api/v1/coordinators/{lid}/heartbeat"))]
    {
        let r = app.as_agent(Some("bob"), method, &path, None).await;
        assert_eq!((r.status, r.detail()), (StatusCode::NOT_FOUND, "Coordinator lease not found"), "{method} {path}");
    }
    let r = app.as_agent(Some("bob"), "GET", &format!("/api/v1/intents/{id}/coordinators"), None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    let r = app.as_agent(Some("alice"), "GET", &format!("/api/v1/coordinators/{lid}"), None).await;
    assert_eq!(r.status, StatusCode::OK);
}
