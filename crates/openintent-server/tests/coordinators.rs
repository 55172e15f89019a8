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

// ----- decision records ----------------------------------------------------------------------

/// A lease for `agent` on the intent `id`; its id.
async fn lease_on(app: &TestApp, agent: &str, id: &str) -> String {
    let r = grant(app, agent, json!({"agent_id": agent, "intent_id": id})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body["id"].as_str().unwrap().to_owned()
}

fn decision(lease: &str, intent: &str) -> Value {
    json!({"coordinator_id": lease, "intent_id": intent, "decision_type": "task_assigned",
           "summary": "Assign research to alpha", "rationale": "alpha has the capacity"})
}

async fn record(app: &TestApp, agent: &str, body: Value) -> Reply {
    app.as_agent(Some(agent), "POST", "/api/v1/decisions", Some(body)).await
}

/// The `coordinator.decision` events of an intent.
async fn decision_events(app: &TestApp, id: &str) -> Vec<Value> {
    app.events(id).await.into_iter().filter(|e| e["event_type"] == "coordinator.decision").collect()
}

#[tokio::test]
async fn decision_records_are_recorded_listed_newest_first_and_logged() {
    let app = TestApp::memory().await;
    let id = app.intent("coordinated").await;
    let lid = lease_on(&app, "coordinator", &id).await;
    let mut body = decision(&lid, &id);
    body["alternatives_considered"] = json!([{"option": "beta", "reason": "busy"}]);
    body["confidence"] = json!(0.85);
    let r = record(&app, "coordinator", body).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let first = r.body.clone();
    for (key, want) in [
        ("coordinator_id", json!(lid)),
        ("intent_id", json!(id)),
        ("decision_type", json!("task_assigned")),
        ("summary", json!("Assign research to alpha")),
        ("rationale", json!("alpha has the capacity")),
        ("alternatives_considered", json!([{"option": "beta", "reason": "busy"}])),
        ("confidence", json!(0.85)),
    ] {
        assert_eq!(first[key], want, "{key}: {first}");
    }
    time(&first["timestamp"]);
    // The optional fields default as on the reference; any decision type is kept as given.
    let mut body = decision(&lid, &id);
    body["decision_type"] = json!("custom_choice");
    let r = record(&app, "coordinator", body).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let second = r.body.clone();
    assert_eq!(
        (&second["alternatives_considered"], &second["confidence"], &second["decision_type"]),
        (&json!([]), &Value::Null, &json!("custom_choice"))
    );

    let path = format!("/api/v1/intents/{id}/coordinator-decisions");
    let r = app.get(&path).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body, json!([second, first]), "a bare array, newest first");
    let r = app.get(&format!("{path}?limit=1")).await;
    assert_eq!(r.body, json!([second]));
    // The recorded (arbitration) decisions stay apart (D47).
    assert_eq!(app.get(&format!("/api/v1/intents/{id}/decisions")).await.body, json!([]));

    let events = decision_events(&app, &id).await;
    assert_eq!(events.len(), 2, "{events:?}");
    let logged = events.iter().find(|e| e["payload"]["decision_id"] == first["id"]).expect("the first's event");
    assert_eq!(logged["actor"], "coordinator");
    assert_eq!(logged["payload"]["coordinator_id"], json!(lid));
    assert_eq!(logged["payload"]["decision_type"], "task_assigned");

    // A portfolio lease covers the portfolio's members, and only them.
    let f = app.post("/api/v1/portfolios", json!({"name": "f"})).await.body["id"].as_str().unwrap().to_owned();
    let r = app.post(&format!("/api/v1/portfolios/{f}/intents"), json!({"intent_id": id})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = grant(&app, "conductor", json!({"agent_id": "conductor", "portfolio_id": f, "scope": "portfolio"})).await;
    let pl = r.body["id"].as_str().unwrap().to_owned();
    let r = record(&app, "conductor", decision(&pl, &id)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let outside = app.intent("outside").await;
    let r = record(&app, "conductor", decision(&pl, &outside)).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    assert!(r.detail().starts_with("coordinator_id"), "{:?}", r.body);
}

#[tokio::test]
async fn decision_record_refusals_name_the_field_and_write_nothing() {
    let app = TestApp::memory().await;
    let id = app.intent("i").await;
    let other = app.intent("other").await;
    let lid = lease_on(&app, "c", &id).await;
    let elsewhere = lease_on(&app, "c", &other).await;

    let r = record(&app, "c", decision(&lid, "no-such-intent")).await;
    assert_eq!((r.status, r.detail()), (StatusCode::NOT_FOUND, "Intent not found (intent_id: no-such-intent)"));
    let r = record(&app, "c", decision("no-such-lease", &id)).await;
    assert_eq!(
        (r.status, r.detail()),
        (StatusCode::NOT_FOUND, "Coordinator lease not found (coordinator_id: no-such-lease)")
    );
    let r = record(&app, "c", decision(&elsewhere, &id)).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    assert!(r.detail().starts_with("coordinator_id") && r.detail().contains(&other), "{:?}", r.body);
    let r = grant(&app, "c", json!({"agent_id": "c", "intent_id": id, "expires_at": "2020-01-01T00:00:00Z"})).await;
    let expired = r.body["id"].as_str().unwrap().to_owned();
    let r = record(&app, "c", decision(&expired, &id)).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    assert!(r.detail().contains("expired"), "{:?}", r.body);

    let with = |key: &str, v: Value| {
        let mut b = decision(&lid, &id);
        b[key] = v;
        b
    };
    let without = |key: &str| {
        let mut b = decision(&lid, &id);
        b.as_object_mut().unwrap().remove(key);
        b
    };
    let mut cases = Vec::new();
    for key in ["coordinator_id", "intent_id", "decision_type", "summary", "rationale"] {
        cases.push((without(key), json!(["body", key])));
    }
    cases.extend([
        (with("summary", json!("  ")), json!(["body", "summary"])),
        (with("decision_type", json!("x".repeat(101))), json!(["body", "decision_type"])),
        (with("confidence", json!(1.5)), json!(["body", "confidence"])),
        (with("confidence", json!(-0.1)), json!(["body", "confidence"])),
        (with("confidence", json!("high")), json!(["body", "confidence"])),
        (with("alternatives_considered", json!({"a": 1})), json!(["body", "alternatives_considered"])),
        (with("alternatives_considered", json!([{"a": 1}, "b"])), json!(["body", "alternatives_considered", 1])),
    ]);
    for (body, loc) in cases {
        let r = record(&app, "c", body.clone()).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {:?}", r.body);
        assert_eq!(r.body["detail"][0]["loc"], loc, "{body}: {:?}", r.body);
    }
    for bound in [0.0, 1.0] {
        let r = record(&app, "c", with("confidence", json!(bound))).await;
        assert_eq!(r.status, StatusCode::OK, "confidence {bound}: {:?}", r.body);
    }
    let r = app.get(&format!("/api/v1/intents/{id}/coordinator-decisions")).await;
    assert_eq!(r.body.as_array().unwrap().len(), 2, "only the two accepted: {:?}", r.body);
    assert_eq!(decision_events(&app, &id).await.len(), 2);
    assert_eq!(app.get(&format!("/api/v1/intents/{other}/coordinator-decisions")).await.body, json!([]));
    assert!(decision_events(&app, &other).await.is_empty());

    let r = app.get("/api/v1/intents/no-such-intent/coordinator-decisions").await;
    assert_eq!((r.status, r.detail()), (StatusCode::NOT_FOUND, "Intent not found"));
    for bad in ["0", "1001", "many"] {
        let r = app.get(&format!("/api/v1/intents/{id}/coordinator-decisions?limit={bad}")).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "limit={bad}: {:?}", r.body);
    }
}

#[tokio::test]
async fn only_the_leases_agent_or_an_operator_or_admin_records_with_write_access() {
    let app = TestApp::memory().await;
    let id = app.intent("i").await;
    let agent_key = "agent-research-key";
    let r = call(
        &app,
        agent_key,
        "alpha",
        "POST",
        "/api/v1/coordinators",
        Some(json!({"agent_id": "alpha", "intent_id": id})),
    )
    .await;
    let lid = r.body["id"].as_str().unwrap().to_owned();
    let r = call(&app, agent_key, "beta", "POST", "/api/v1/decisions", Some(decision(&lid, &id))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    assert!(r.detail().starts_with("coordinator_id") && r.detail().contains("alpha"), "{:?}", r.body);
    assert!(decision_events(&app, &id).await.is_empty(), "a refusal writes nothing");
    let r = call(&app, agent_key, "alpha", "POST", "/api/v1/decisions", Some(decision(&lid, &id))).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    // An admin key records for the lease's agent: the event's actor is the agent.
    let r = app.as_agent(Some("boss"), "POST", "/api/v1/decisions", Some(decision(&lid, &id))).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let events = decision_events(&app, &id).await;
    let logged = events.iter().find(|e| e["payload"]["decision_id"] == r.body["id"]).expect("the admin's record");
    assert_eq!((logged["actor"].clone(), logged["payload"]["recorded_by"].clone()), (json!("alpha"), json!("boss")));

    // alice's private intent: bob, who may not read it, is answered as for an unknown intent;
    // given read access only, he may hold a lease but not record on it.
    let pid = app.as_agent(Some("alice"), "POST", "/api/v1/intents", Some(json!({"title": "p"}))).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let acl = format!("/api/v1/intents/{pid}/acl");
    let r = app
        .as_agent_with(Some("alice"), "PUT", &acl, Some(json!({"default_policy": "private"})), &[("if-match", "1")])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let alices = lease_on(&app, "alice", &pid).await;
    let r = record(&app, "bob", decision(&alices, &pid)).await;
    assert_eq!(
        (r.status, r.detail().replace(&pid, "X")),
        (StatusCode::NOT_FOUND, "Intent not found (intent_id: X)".into())
    );
    let entry = json!({"principal_id": "bob", "permission": "read"});
    let r = app.as_agent(Some("alice"), "POST", &format!("{acl}/entries"), Some(entry)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let bobs = lease_on(&app, "bob", &pid).await;
    let r = record(&app, "bob", decision(&bobs, &pid)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    let r = app.as_agent(Some("bob"), "GET", &format!("/api/v1/intents/{pid}/coordinator-decisions"), None).await;
    assert_eq!((r.status, r.body.clone()), (StatusCode::OK, json!([])));
    let r = record(&app, "alice", decision(&alices, &pid)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = app.as_agent(Some("carol"), "GET", &format!("/api/v1/intents/{pid}/coordinator-decisions"), None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
}
