//! Portfolios, agents, arbitration and decisions, attachments, costs, retry policies, failures,
//! subscriptions.

mod common;

use axum::http::StatusCode;
use common::TestApp;
use serde_json::json;

#[tokio::test]
async fn portfolios_with_members_and_aggregate() {
    let app = TestApp::memory().await;
    let r = app
        .post("/api/v1/portfolios", json!({"name": "Trip", "governancePolicy": {"require_all_completed": true}}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["created_by"], "tester", "created_by defaults to the principal");
    assert_eq!(r.body["status"], "active");
    assert_eq!(r.body["description"], "");
    assert_eq!(r.body["governance_policy"]["require_all_completed"], true);
    let pid = r.body["id"].as_str().unwrap().to_owned();
    let r = app.post("/api/v1/portfolios", json!({"name": "Other", "createdBy": "camel", "description": null})).await;
    assert_eq!(r.body["created_by"], "camel");

    let a = app.intent("a").await;
    let b = app.intent("b").await;
    let add = |intent: &str, role: &str, priority: i64| {
        let app = app.clone();
        let body = json!({"intent_id": intent, "role": role, "priority": priority});
        let pid = pid.clone();
        async move { app.post(&format!("/api/v1/portfolios/{pid}/intents"), body).await }
    };
    let first = add(&a, "primary", 10).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.body["message"], "Intent added to portfolio");
    assert_eq!(first.body["membership_id"], first.body["id"]);
    assert_eq!(add(&b, "member", 5).await.status, StatusCode::OK);
    // Adding again updates role and priority of the same membership.
    let again = add(&a, "dependency", 1).await;
    assert_eq!(again.body["membership_id"], first.body["membership_id"]);
    assert_eq!(again.body["role"], "dependency");
    assert_eq!(again.body["priority"], 1);
    assert_eq!(add(&a, "boss", 1).await.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(add("missing", "member", 1).await.detail(), "Intent not found");
    let r = app.post("/api/v1/portfolios/missing/intents", json!({"intent_id": a})).await;
    assert_eq!((r.status, r.detail()), (StatusCode::NOT_FOUND, "Portfolio not found"));

    app.as_agent_with(
        Some("x"),
        "POST",
        &format!("/api/v1/intents/{b}/status"),
        Some(json!({"status": "completed"})),
        &[("if-match", "1")],
    )
    .await;
    let p = app.get(&format!("/api/v1/portfolios/{pid}")).await.body;
    assert_eq!(
        p["aggregate_status"],
        json!({"total": 2, "by_status": {"draft": 1, "completed": 1}, "completion_percentage": 50})
    );
    let ids: Vec<&str> = p["intents"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![b.as_str(), a.as_str()], "highest priority first");
    let members = app.get(&format!("/api/v1/portfolios/{pid}/intents")).await.body;
    assert_eq!(members.as_array().unwrap().len(), 2);
    let of_a = app.get(&format!("/api/v1/intents/{a}/portfolios")).await.body;
    assert_eq!(of_a[0]["id"], pid.as_str());
    let listed = app.get("/api/v1/portfolios?created_by=camel").await.body;
    assert_eq!(listed.as_array().unwrap().len(), 1);

    let r = app
        .as_agent(Some("x"), "PATCH", &format!("/api/v1/portfolios/{pid}/status"), Some(json!({"status": "completed"})))
        .await;
    assert_eq!(r.body["status"], "completed");
    let r = app
        .as_agent(Some("x"), "PATCH", &format!("/api/v1/portfolios/{pid}/status"), Some(json!({"status": "paused"})))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r =
        app.as_agent(Some("x"), "PATCH", "/api/v1/portfolios/missing/status", Some(json!({"status": "active"}))).await;
    assert_eq!(r.detail(), "Portfolio not found");

    let path = format!("/api/v1/portfolios/{pid}/intents/{a}");
    let r = app.as_agent(Some("x"), "DELETE", &path, None).await;
    assert_eq!(r.body, json!({"message": "Intent removed from portfolio"}));
    let r = app.as_agent(Some("x"), "DELETE", &path, None).await;
    assert_eq!((r.status, r.detail()), (StatusCode::NOT_FOUND, "Membership not found"));
    // Membership changes are not intent events and do not bump versions.
    assert_eq!(app.get(&format!("/api/v1/intents/{a}")).await.body["version"], 1);
}

#[tokio::test]
async fn agents_assign_and_unassign() {
    let app = TestApp::memory().await;
    let id = app.intent("t").await;
    let path = format!("/api/v1/intents/{id}/agents");
    let r = app.post(&path, json!({"agent_id": "worker-1", "role": "reviewer"})).await;
    assert_eq!((r.body["agent_id"].as_str(), r.body["role"].as_str()), (Some("worker-1"), Some("reviewer")));
    app.post(&path, json!({"agent_id": "worker-1"})).await;
    assert_eq!(app.get(&path).await.body.as_array().unwrap().len(), 2, "duplicates are separate rows");
    let r = app.as_agent(Some("boss"), "DELETE", &format!("{path}/worker-1"), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(r.body.is_null());
    assert!(app.get(&path).await.body.as_array().unwrap().is_empty());
    let r = app.as_agent(Some("boss"), "DELETE", &format!("{path}/worker-1"), None).await;
    assert_eq!((r.status, r.detail()), (StatusCode::NOT_FOUND, "Agent not assigned to this intent"));
    let r = app.as_agent(Some("boss"), "DELETE", "/api/v1/intents/missing/agents/x", None).await;
    assert_eq!(r.detail(), "Intent not found");
    let events = app.events(&id).await;
    assert_eq!(events[0]["event_type"], "agent_unassigned");
    assert_eq!(events[0]["actor"], "boss");
    assert_eq!(events[0]["payload"]["agent_id"], "worker-1");
    assert_eq!(events.iter().filter(|e| e["event_type"] == "agent_assigned").count(), 2);
}

#[tokio::test]
async fn arbitration_and_decisions_are_records() {
    let app = TestApp::memory().await;
    let id = app.intent("t").await;
    // The Python clients' body: no requested_by.
    let r = app
        .post(&format!("/api/v1/intents/{id}/arbitrate"), json!({"reason": "conflict", "context": {"o": [1]}}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        (r.body["message"].as_str(), r.body["status"].as_str()),
        (Some("Arbitration requested"), Some("pending"))
    );
    assert_eq!(r.body["requested_by"], "tester");
    // Options are `{label, rationale?}` objects; a bad one is a 422 naming its place.
    let arbitrate = format!("/api/v1/intents/{id}/arbitrate");
    for (options, loc) in [
        (json!([null]), json!(["body", "options", 0])),
        (json!([{"label": "a"}, {}]), json!(["body", "options", 1, "label"])),
        (json!([{"label": 1}]), json!(["body", "options", 0, "label"])),
        (json!([{"label": "a", "rationale": 2}]), json!(["body", "options", 0, "rationale"])),
    ] {
        let r = app.post(&arbitrate, json!({"reason": "r", "options": options})).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{options}: {:?}", r.body);
        assert_eq!(r.body["detail"][0]["loc"], loc, "{options}");
    }
    assert_eq!(r.body["requester_id"], "tester");
    assert_eq!(r.body["intent_id"], id.as_str());
    assert_eq!(r.body["context"], json!({"o": [1]}));
    let arb_id = r.body["id"].as_str().unwrap().to_owned();
    let listed = app.get(&format!("/api/v1/intents/{id}/arbitrations")).await.body;
    assert_eq!(listed[0]["id"], arb_id.as_str());
    assert_eq!(listed[0]["reason"], "conflict");

    // The clients' decision body: decision_type, outcome, reasoning; no decided_by.
    let r = app
        .post(
            &format!("/api/v1/intents/{id}/decisions"),
            json!({"decision_type": "arbitration", "outcome": "a", "reasoning": "why"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["message"], "Decision recorded");
    assert_eq!(r.body["decision_id"], r.body["id"]);
    assert_eq!(r.body["outcome"], "a");
    assert_eq!(r.body["rationale"], "why");
    assert_eq!(r.body["decided_by"], "tester");
    let r2 =
        app.post(&format!("/api/v1/intents/{id}/decisions"), json!({"decision": "b", "decided_by": "human:al"})).await;
    assert_eq!(r2.body["decision_type"], "decision");
    let listed = app.get(&format!("/api/v1/intents/{id}/decisions")).await.body;
    let outcomes: Vec<&str> = listed.as_array().unwrap().iter().map(|d| d["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, vec!["a", "b"]);
    let events = app.events(&id).await;
    let decided = events.iter().find(|e| e["id"] == r.body["id"]).unwrap();
    assert_eq!(decided["event_type"], "decision_recorded");
    assert!(events.iter().any(|e| e["id"] == arb_id.as_str() && e["event_type"] == "arbitration_requested"));
    assert_eq!(
        app.post("/api/v1/intents/missing/decisions", json!({"outcome": "x"})).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.post(&format!("/api/v1/intents/{id}/arbitrate"), json!({"reason": ""})).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

#[tokio::test]
async fn attachments_costs_policies_failures() {
    let app = TestApp::memory().await;
    let id = app.intent("t").await;
    let other = app.intent("o").await;
    let r = app
        .post(&format!("/api/v1/intents/{id}/attachments"), json!({"filename": "a.txt", "mime_type": "text/plain", "size": 5, "storage_url": "data:text/plain;base64,aGVsbG8=", "metadata": {"description": "greeting"}}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["created_by"], "tester");
    assert_eq!(r.body["uploaded_by"], "tester");
    assert_eq!(r.body["metadata"]["description"], "greeting");
    let aid = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(app.get(&format!("/api/v1/intents/{id}/attachments")).await.body.as_array().unwrap().len(), 1);
    let r = app.as_agent(Some("x"), "DELETE", &format!("/api/v1/intents/{other}/attachments/{aid}"), None).await;
    assert_eq!((r.status, r.detail()), (StatusCode::NOT_FOUND, "Attachment not found"));
    let r = app.as_agent(Some("x"), "DELETE", &format!("/api/v1/intents/{id}/attachments/{aid}"), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);

    let costs = format!("/api/v1/intents/{id}/costs");
    let r = app
        .post(&costs, json!({"cost_type": "api_call", "amount": 1500, "unit": "tokens", "metadata": {"model": "m"}}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["agent_id"], "tester");
    assert_eq!(r.body["amount"], 1500.0);
    assert_eq!(r.body["cost_metadata"], json!({"model": "m"}));
    assert_eq!(r.body["metadata"], json!({"model": "m"}));
    app.post(&costs, json!({"agent_id": "b", "cost_type": "tokens", "amount": 0.5, "unit": "USD", "provider": "p"}))
        .await;
    let s = app.get(&format!("{costs}/summary")).await.body;
    assert_eq!(s["total"], 1500.5);
    assert_eq!(s["by_type"], json!({"api_call": 1500.0, "tokens": 0.5}));
    assert_eq!(s["by_agent"], json!({"tester": 1500.0, "b": 0.5}));
    assert_eq!(app.get("/api/v1/intents/missing/costs/summary").await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get(&costs).await.body.as_array().unwrap().len(), 2);

    let policy = format!("/api/v1/intents/{id}/retry-policy");
    let r = app.get(&policy).await;
    assert_eq!((r.status, r.detail()), (StatusCode::NOT_FOUND, "No retry policy set"));
    let put = |body: serde_json::Value| {
        let app = app.clone();
        let policy = policy.clone();
        async move { app.as_agent(Some("x"), "PUT", &policy, Some(body)).await }
    };
    let first = put(
        json!({"strategy": "exponential", "max_retries": 5, "fallback_agent_id": "backup", "backoff_multiplier": 3.0}),
    )
    .await;
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
    assert_eq!((first.body["max_retries"].as_i64(), first.body["jitter"].as_bool()), (Some(5), Some(true)));
    assert_eq!(first.body["fallback_agent_id"], "backup");
    let second = put(json!({"strategy": "fixed"})).await;
    assert_eq!(second.body["id"], first.body["id"]);
    assert_eq!(second.body["created_at"], first.body["created_at"]);
    assert_eq!(second.body["max_retries"], 3, "full replacement falls back to defaults");
    assert!(second.body.get("fallback_agent_id").is_none());
    assert_eq!(app.get(&policy).await.body["strategy"], "fixed");
    assert_eq!(put(json!({"strategy": "sometimes"})).await.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(put(json!({"strategy": "fixed", "max_delay_ms": -1})).await.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = app.as_agent(Some("x"), "POST", &policy, Some(json!({"strategy": "fixed"}))).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);

    let failures = format!("/api/v1/intents/{id}/failures");
    let r = app.post(&failures, json!({"error_code": "timeout", "error_message": "slow", "attempt_number": 2})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["error_type"], "timeout");
    assert_eq!(r.body["error_code"], "timeout");
    assert_eq!(r.body["agent_id"], "tester");
    assert_eq!(r.body["created_at"], r.body["occurred_at"]);
    assert_eq!(
        app.post(&failures, json!({"error_type": "x", "error_message": "y", "attempt_number": 0})).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(app.get(&failures).await.body.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn subscriptions_crud() {
    let app = TestApp::memory().await;
    let id = app.intent("t").await;
    let r = app
        .post(
            "/api/v1/subscriptions",
            json!({"intent_id": id, "callback_url": "https://example.com/hook", "event_types": ["state_patched"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["subscriber_id"], "tester");
    assert_eq!(r.body["webhook_url"], "https://example.com/hook");
    assert_eq!(r.body["active"], true);
    let sid = r.body["id"].as_str().unwrap().to_owned();
    app.post("/api/v1/subscriptions", json!({"subscriber_id": "other"})).await;
    let all = app.get("/api/v1/subscriptions").await.body;
    assert_eq!(all["subscriptions"].as_array().unwrap().len(), 2);
    let mine = app.get(&format!("/api/v1/subscriptions?intent_id={id}")).await.body;
    assert_eq!(mine["subscriptions"].as_array().unwrap().len(), 1);
    let theirs = app.get("/api/v1/subscriptions?subscriber_id=other").await.body;
    assert_eq!(theirs["subscriptions"][0]["intent_id"], serde_json::Value::Null);
    assert_eq!(
        app.post("/api/v1/subscriptions", json!({"intent_id": "missing"})).await.detail(),
        "Intent not found (intent_id: missing)"
    );
    assert_eq!(
        app.post("/api/v1/subscriptions", json!({"portfolio_id": "missing"})).await.detail(),
        "Portfolio not found"
    );
    assert_eq!(
        app.post("/api/v1/subscriptions", json!({"webhook_url": "ftp://x"})).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    // Timestamps are checked before anything is stored; the error names the field.
    let before = app.get("/api/v1/subscriptions").await.body["subscriptions"].as_array().unwrap().len();
    for (bad, kind) in [(json!("next tuesday"), "datetime_from_date_parsing"), (json!(1700000000), "datetime_type")] {
        let r =
            app.post("/api/v1/subscriptions", json!({"webhook_url": "https://example.com/h", "expires_at": bad})).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
        assert_eq!(r.body["detail"][0]["loc"], json!(["body", "expires_at"]), "{:?}", r.body);
        assert_eq!(r.body["detail"][0]["type"], kind);
    }
    let after = app.get("/api/v1/subscriptions").await.body["subscriptions"].as_array().unwrap().len();
    assert_eq!(after, before);
    let failure = json!({"error_type": "x", "error_message": "y", "attempt_number": 1, "retry_scheduled_at": "soon"});
    let r = app.post(&format!("/api/v1/intents/{id}/failures"), failure).await;
    assert_eq!(r.body["detail"][0]["loc"], json!(["body", "retry_scheduled_at"]), "{:?}", r.body);
    for ok in ["2030-01-02T03:04:05", "2030-01-02T03:04:05.123456+02:00", "2030-01-02T03:04:05Z"] {
        let r =
            app.post("/api/v1/subscriptions", json!({"webhook_url": "https://example.com/h", "expires_at": ok})).await;
        assert_eq!(r.status, StatusCode::OK, "{ok}: {:?}", r.body);
    }

    let r = app.as_agent(Some("x"), "DELETE", &format!("/api/v1/subscriptions/{sid}"), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = app.as_agent(Some("x"), "DELETE", &format!("/api/v1/subscriptions/{sid}"), None).await;
    assert_eq!((r.status, r.detail()), (StatusCode::NOT_FOUND, "Subscription not found"));
}
