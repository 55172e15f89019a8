//! Governance routes (RFC-0013, the governance guide): the policy set, read and removed (itself
//! governed), approvals and the completion gates they open, and escalations.

mod common;

use axum::http::StatusCode;
use common::{Reply, TestApp};
use serde_json::{Value, json};

async fn version(app: &TestApp, id: &str) -> i64 {
    app.get(&format!("/api/v1/intents/{id}")).await.body["version"].as_i64().unwrap()
}

async fn put_policy(app: &TestApp, who: &str, id: &str, v: i64, policy: Value) -> Reply {
    let v = v.to_string();
    app.as_agent_with(Some(who), "PUT", &format!("/api/v1/intents/{id}/governance"), Some(policy), &[("if-match", &v)])
        .await
}

async fn remove_policy(app: &TestApp, who: &str, id: &str, v: i64) -> Reply {
    let v = v.to_string();
    app.as_agent_with(Some(who), "DELETE", &format!("/api/v1/intents/{id}/governance"), None, &[("if-match", &v)]).await
}

async fn request(app: &TestApp, who: &str, id: &str, body: Value) -> Reply {
    app.as_agent(Some(who), "POST", &format!("/api/v1/intents/{id}/approvals"), Some(body)).await
}

/// Requests an approval of `action` as `who`; returns its id.
async fn requested(app: &TestApp, who: &str, id: &str, action: &str) -> String {
    let r = request(app, who, id, json!({"action": action})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body["id"].as_str().unwrap().to_owned()
}

async fn decide(app: &TestApp, who: &str, id: &str, aid: &str, verb: &str) -> Reply {
    app.as_agent(Some(who), "POST", &format!("/api/v1/intents/{id}/approvals/{aid}/{verb}"), None).await
}

async fn complete(app: &TestApp, who: &str, id: &str) -> Reply {
    let v = version(app, id).await.to_string();
    let body = json!({"status": "completed"});
    app.as_agent_with(Some(who), "POST", &format!("/api/v1/intents/{id}/status"), Some(body), &[("if-match", &v)]).await
}

async fn events_of(app: &TestApp, id: &str, event_type: &str) -> Vec<Value> {
    let r = app.get(&format!("/api/v1/intents/{id}/events?event_type={event_type}")).await;
    r.body.as_array().unwrap().clone()
}

#[tokio::test]
async fn policy_set_read_and_removed() {
    let app = TestApp::memory().await;
    let id = app.intent("g").await;
    let r = app.get(&format!("/api/v1/intents/{id}/governance")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["governance_policy"], json!({}));
    assert_eq!(r.body["effective_policy"]["completion_mode"], "auto");
    assert_eq!(r.body["effective_policy"]["quorum_threshold"], 0.6);

    let policy = json!({"write_scope": "any", "max_cost": 10, "custom": {"kept": true}});
    let r = put_policy(&app, "owner", &id, 1, policy.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!((&r.body["version"], &r.body["governance_policy"]), (&json!(2), &policy));
    let r = app.get(&format!("/api/v1/intents/{id}/governance")).await;
    assert_eq!(r.body["governance_policy"], policy);
    assert_eq!(r.body["effective_policy"]["max_cost"], 10.0);
    let set = events_of(&app, &id, "governance.policy_set").await;
    assert_eq!(set[0]["payload"], json!({"governance_policy": policy, "version": 2}));

    let r = remove_policy(&app, "owner", &id, 2).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!((&r.body["version"], &r.body["governance_policy"]), (&json!(3), &Value::Null));
    let removed = events_of(&app, &id, "governance.policy_removed").await;
    assert_eq!(removed[0]["payload"], json!({"version": 3}));
}

#[tokio::test]
async fn policy_refusals_write_nothing() {
    let app = TestApp::memory().await;
    let id = app.intent("g").await;
    let cases = [
        (json!({"completion_mode": "sometimes"}), json!(["body", "completion_mode"])),
        (json!({"quorum_threshold": 1.5}), json!(["body", "quorum_threshold"])),
        (json!({"quorum_threshold": 0}), json!(["body", "quorum_threshold"])),
        (json!({"max_cost": -1}), json!(["body", "max_cost"])),
        (json!({"allowed_agents": "a"}), json!(["body", "allowed_agents"])),
        (json!({"allow_self_approval": "yes"}), json!(["body", "allow_self_approval"])),
        (json!([1]), json!(["body"])),
    ];
    for (body, loc) in cases {
        let r = put_policy(&app, "owner", &id, 1, body.clone()).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {:?}", r.body);
        assert_eq!(r.body["detail"][0]["loc"], loc, "{body}");
    }
    let path = format!("/api/v1/intents/{id}/governance");
    let r = app.as_agent(Some("owner"), "PUT", &path, Some(json!({}))).await;
    assert_eq!((r.status, r.detail()), (StatusCode::BAD_REQUEST, "If-Match header required"));
    let r = app.as_agent(Some("owner"), "DELETE", &path, None).await;
    assert_eq!((r.status, r.detail()), (StatusCode::BAD_REQUEST, "If-Match header required"));
    let r = put_policy(&app, "owner", "missing", 1, json!({})).await;
    assert_eq!((r.status, r.detail()), (StatusCode::NOT_FOUND, "Intent not found"));
    assert_eq!(app.get("/api/v1/intents/missing/governance").await.status, StatusCode::NOT_FOUND);
    assert_eq!(remove_policy(&app, "owner", "missing", 1).await.status, StatusCode::NOT_FOUND);
    let r = put_policy(&app, "owner", &id, 5, json!({})).await;
    assert_eq!((r.status, &r.body["current_version"]), (StatusCode::CONFLICT, &json!(1)));
    assert_eq!(version(&app, &id).await, 1);
    assert_eq!(app.events(&id).await.len(), 1);
}

#[tokio::test]
async fn lifting_a_completion_gate_is_governed() {
    let app = TestApp::memory().await;
    let id = app.intent("g").await;
    let gate = json!({"completion_mode": "require_approval", "allowed_agents": ["owner", "boss"]});
    assert_eq!(put_policy(&app, "owner", &id, 1, gate).await.status, StatusCode::OK);
    // A writer the policy does not allow cannot touch it.
    let r = put_policy(&app, "intruder", &id, 2, json!({})).await;
    assert_eq!((r.status, &r.body["detail"]["rule"]), (StatusCode::FORBIDDEN, &json!("allowed_agents")));
    // Removing or weakening the gate needs an approved `change_governance_policy` request.
    for r in [remove_policy(&app, "owner", &id, 2).await, put_policy(&app, "owner", &id, 2, json!({})).await] {
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
        assert_eq!(r.body["detail"]["error"], "governance_violation");
        assert_eq!(r.body["detail"]["rule"], "policy_change");
        assert_eq!(r.body["detail"]["mode"], "require_approval");
    }
    assert_eq!(events_of(&app, &id, "governance.violation").await.len(), 3);
    // Tightening passes.
    let tighter = json!({"completion_mode": "require_approval", "allowed_agents": ["owner", "boss"], "max_cost": 5});
    assert_eq!(put_policy(&app, "owner", &id, 2, tighter).await.status, StatusCode::OK);
    let aid = requested(&app, "owner", &id, "change_governance_policy").await;
    assert_eq!(decide(&app, "boss", &id, &aid, "approve").await.status, StatusCode::OK);
    let r = remove_policy(&app, "owner", &id, 3).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["version"], 4);
}

/// An approved `change_governance_policy` approval allows one change: the change that uses it
/// consumes it, and the next weakening change needs a new approval.
#[tokio::test]
async fn a_policy_change_approval_is_used_once() {
    let app = TestApp::memory().await;
    let id = app.intent("g").await;
    let quorum = |t: f64| json!({"completion_mode": "quorum", "quorum_threshold": t});
    assert_eq!(put_policy(&app, "owner", &id, 1, quorum(0.9)).await.status, StatusCode::OK);
    let aid = requested(&app, "owner", &id, "change_governance_policy").await;
    assert_eq!(decide(&app, "boss", &id, &aid, "approve").await.status, StatusCode::OK);
    // The approval lets one weakening change through...
    let r = put_policy(&app, "owner", &id, 2, quorum(0.7)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    // ...and no second one.
    for r in [put_policy(&app, "owner", &id, 3, quorum(0.5)).await, remove_policy(&app, "owner", &id, 3).await] {
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
        assert_eq!(r.body["detail"]["rule"], "policy_change");
    }
    // A change that needs no approval (tightening) leaves a new approval unused.
    let again = requested(&app, "owner", &id, "change_governance_policy").await;
    assert_eq!(decide(&app, "boss", &id, &again, "approve").await.status, StatusCode::OK);
    assert_eq!(put_policy(&app, "owner", &id, 3, quorum(0.8)).await.status, StatusCode::OK);
    let r = remove_policy(&app, "owner", &id, 4).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = put_policy(&app, "owner", &id, 5, json!({"completion_mode": "require_approval"})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = remove_policy(&app, "owner", &id, 6).await;
    assert_eq!((r.status, &r.body["detail"]["rule"]), (StatusCode::FORBIDDEN, &json!("policy_change")));
    // The approvals read as before: consumption is not on the wire.
    let r = app.get(&format!("/api/v1/intents/{id}/approvals/{aid}")).await;
    assert_eq!((r.status, &r.body["status"]), (StatusCode::OK, &json!("approved")));
}

#[tokio::test]
async fn approvals_are_requested_read_listed_and_decided_once() {
    let app = TestApp::memory().await;
    let id = app.intent("g").await;
    let body = json!({"action": "deploy", "reason": "verified", "context": {"build": "1234"}});
    let r = request(&app, "deploy-bot", &id, body).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let aid = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["requested_by"], "deploy-bot");
    assert_eq!((&r.body["status"], &r.body["context"]), (&json!("pending"), &json!({"build": "1234"})));
    assert!(r.body.get("decided_at").is_none() && r.body.get("decided_by").is_none(), "{:?}", r.body);
    let r = app.get(&format!("/api/v1/intents/{id}/approvals/{aid}")).await;
    assert_eq!((r.status, &r.body["action"]), (StatusCode::OK, &json!("deploy")));
    let other = requested(&app, "deploy-bot", &id, "spend").await;

    // Nobody decides their own request.
    let r = decide(&app, "deploy-bot", &id, &aid, "approve").await;
    assert_eq!((r.status, &r.body["detail"]["rule"]), (StatusCode::FORBIDDEN, &json!("self_approval")));
    assert_eq!(events_of(&app, &id, "governance.violation").await.len(), 1);
    let r = decide(&app, "alice", &id, &aid, "approve").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!((&r.body["status"], &r.body["decided_by"]), (&json!("approved"), &json!("alice")));
    assert!(r.body["decided_at"].is_string());
    let granted = events_of(&app, &id, "governance.approval_granted").await;
    assert_eq!(granted[0]["actor"], "alice");
    assert_eq!(
        granted[0]["payload"],
        json!({"approval_id": aid, "action": "deploy", "decision": "approved", "requested_by": "deploy-bot", "decided_by": "alice"})
    );
    let r = decide(&app, "bob", &id, &aid, "approve").await;
    assert_eq!((r.status, r.detail()), (StatusCode::CONFLICT, "Approval is already 'approved', cannot approve"));
    let r = decide(&app, "bob", &id, &aid, "deny").await;
    assert_eq!((r.status, r.detail()), (StatusCode::CONFLICT, "Approval is already 'approved', cannot deny"));
    let r = app
        .as_agent(
            Some("bob"),
            "POST",
            &format!("/api/v1/intents/{id}/approvals/{other}/deny"),
            Some(json!({"reason": "no"})),
        )
        .await;
    assert_eq!(
        (r.status, &r.body["status"], &r.body["decision_notes"]),
        (StatusCode::OK, &json!("denied"), &json!("no"))
    );
    assert_eq!(events_of(&app, &id, "governance.approval_denied").await.len(), 1);

    let r = app.get(&format!("/api/v1/intents/{id}/approvals")).await;
    let ids: Vec<&str> = r.body.as_array().unwrap().iter().map(|a| a["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [aid.as_str(), other.as_str()]);
    let r = app.get(&format!("/api/v1/intents/{id}/approvals?status=denied")).await;
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    let r = app.get(&format!("/api/v1/intents/{id}/approvals?status=maybe")).await;
    assert_eq!(
        (r.status, &r.body["detail"][0]["loc"]),
        (StatusCode::UNPROCESSABLE_ENTITY, &json!(["query", "status"]))
    );

    // Unknown ids, another intent's approval, bad bodies.
    let elsewhere = app.intent("h").await;
    for path in [format!("/api/v1/intents/{elsewhere}/approvals/{aid}"), format!("/api/v1/intents/{id}/approvals/nope")]
    {
        let r = app.get(&path).await;
        assert_eq!((r.status, r.detail()), (StatusCode::NOT_FOUND, "Approval request not found"));
    }
    assert_eq!(decide(&app, "bob", &elsewhere, &aid, "approve").await.status, StatusCode::NOT_FOUND);
    let r = decide(&app, "bob", "missing", &aid, "approve").await;
    assert_eq!((r.status, r.detail()), (StatusCode::NOT_FOUND, "Intent not found"));
    let r = app.get(&format!("/api/v1/intents/missing/approvals/{aid}")).await;
    assert_eq!((r.status, r.detail()), (StatusCode::NOT_FOUND, "Intent not found"));
    assert_eq!(request(&app, "a", "missing", json!({"action": "x"})).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/api/v1/intents/missing/approvals").await.status, StatusCode::NOT_FOUND);
    let r = request(&app, "a", &id, json!({"reason": "x"})).await;
    assert_eq!((r.status, &r.body["detail"][0]["loc"]), (StatusCode::UNPROCESSABLE_ENTITY, &json!(["body", "action"])));
}

#[tokio::test]
async fn require_approval_completes_after_an_approved_complete_request() {
    let app = TestApp::memory().await;
    let id = app.intent("g").await;
    assert_eq!(
        put_policy(&app, "owner", &id, 1, json!({"completion_mode": "require_approval"})).await.status,
        StatusCode::OK
    );
    let r = complete(&app, "bot", &id).await;
    assert_eq!((r.status, &r.body["detail"]["mode"]), (StatusCode::FORBIDDEN, &json!("require_approval")));
    // The action is matched exactly, and a pending or denied request does not count.
    let wrong_case = requested(&app, "bot", &id, "Complete").await;
    assert_eq!(decide(&app, "alice", &id, &wrong_case, "approve").await.status, StatusCode::OK);
    let denied = requested(&app, "bot", &id, "complete").await;
    assert_eq!(decide(&app, "alice", &id, &denied, "deny").await.status, StatusCode::OK);
    let _pending = requested(&app, "bot", &id, "complete").await;
    assert_eq!(complete(&app, "bot", &id).await.status, StatusCode::FORBIDDEN);
    let aid = requested(&app, "bot", &id, "complete").await;
    assert_eq!(decide(&app, "alice", &id, &aid, "approve").await.status, StatusCode::OK);
    let r = complete(&app, "bot", &id).await;
    assert_eq!((r.status, &r.body["status"]), (StatusCode::OK, &json!("completed")), "{:?}", r.body);
}

#[tokio::test]
async fn self_approval_when_the_policy_allows_it() {
    let app = TestApp::memory().await;
    let id = app.intent("g").await;
    let policy = json!({"completion_mode": "require_approval", "allow_self_approval": true});
    assert_eq!(put_policy(&app, "owner", &id, 1, policy).await.status, StatusCode::OK);
    let aid = requested(&app, "bot", &id, "complete").await;
    assert_eq!(decide(&app, "bot", &id, &aid, "approve").await.status, StatusCode::OK);
    assert_eq!(complete(&app, "bot", &id).await.status, StatusCode::OK);
}

#[tokio::test]
async fn quorum_counts_distinct_assigned_approvers() {
    let app = TestApp::memory().await;
    let id = app.intent("g").await;
    for agent in ["a", "b", "a"] {
        let r = app
            .as_agent(Some("owner"), "POST", &format!("/api/v1/intents/{id}/agents"), Some(json!({"agent_id": agent})))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    }
    let policy = json!({"completion_mode": "quorum", "quorum_threshold": 1.0});
    assert_eq!(put_policy(&app, "owner", &id, 1, policy).await.status, StatusCode::OK);
    // b approves twice, an outsider once: one approver of the two needed.
    for approver in ["b", "b", "outsider"] {
        let aid = requested(&app, "a", &id, "complete").await;
        assert_eq!(decide(&app, approver, &id, &aid, "approve").await.status, StatusCode::OK);
    }
    let r = complete(&app, "a", &id).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        r.body["detail"]["message"],
        "Governance policy requires quorum approval. 1 of 2 required approvals received (threshold=1.0, 2 assigned agents)."
    );
    let aid = requested(&app, "b", &id, "complete").await;
    assert_eq!(decide(&app, "a", &id, &aid, "approve").await.status, StatusCode::OK);
    let r = complete(&app, "a", &id).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

#[tokio::test]
async fn escalations_are_opened_listed_and_resolved_once() {
    let app = TestApp::memory().await;
    let id = app.intent("g").await;
    let body = json!({"reason": "Budget overrun", "priority": "high", "context": {"spent": 520}});
    let r = app.as_agent(Some("deploy-bot"), "POST", &format!("/api/v1/intents/{id}/escalations"), Some(body)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let eid = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!((&r.body["escalated_by"], &r.body["urgency"]), (&json!("deploy-bot"), &json!("medium")));
    assert!(r.body.get("resolved_at").is_none() && r.body.get("resolution").is_none());
    let initiated = events_of(&app, &id, "escalation_initiated").await;
    assert_eq!(initiated[0]["actor"], "deploy-bot");
    assert_eq!(initiated[0]["payload"], json!({"escalation_id": eid, "reason": "Budget overrun", "priority": "high"}));

    let other = app.intent("h").await;
    let r = app.post(&format!("/api/v1/intents/{other}/escalations"), json!({"reason": "other"})).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app.get("/api/v1/escalations").await;
    assert_eq!(r.body["escalations"].as_array().unwrap().len(), 2);
    assert_eq!(r.body["escalations"][0]["reason"], "other", "newest first");
    let r = app.get(&format!("/api/v1/escalations?intent_id={id}&status=pending")).await;
    assert_eq!(r.body["escalations"].as_array().unwrap().len(), 1);
    let r = app.get("/api/v1/escalations?status=open").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.get(&format!("/api/v1/escalations/{eid}")).await.body["id"], json!(eid));

    let path = format!("/api/v1/escalations/{eid}/resolve");
    let r = app.as_agent(Some("alice"), "POST", &path, Some(json!({"resolution": "approved", "notes": "ok"}))).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!((&r.body["status"], &r.body["resolved_by"]), (&json!("resolved"), &json!("alice")));
    assert_eq!(r.body["resolution_notes"], "ok");
    let resolved = events_of(&app, &id, "escalation_resolved").await;
    assert_eq!(resolved[0]["payload"], json!({"escalation_id": eid, "resolution": "approved"}));
    let r = app.as_agent(Some("bob"), "POST", &path, Some(json!({"resolution": "rejected"}))).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(
        app.get(&format!("/api/v1/escalations?intent_id={id}&status=resolved")).await.body["escalations"][0]["resolution"],
        "approved"
    );

    let r = app.post("/api/v1/escalations/nope/resolve", json!({"resolution": "x"})).await;
    assert_eq!((r.status, r.detail()), (StatusCode::NOT_FOUND, "Escalation not found"));
    assert_eq!(app.get("/api/v1/escalations/nope").await.status, StatusCode::NOT_FOUND);
    let r = app.post("/api/v1/intents/missing/escalations", json!({"reason": "x"})).await;
    assert_eq!((r.status, r.detail()), (StatusCode::NOT_FOUND, "Intent not found"));
    let r = app.post(&format!("/api/v1/intents/{id}/escalations"), json!({"priority": "high"})).await;
    assert_eq!((r.status, &r.body["detail"][0]["loc"]), (StatusCode::UNPROCESSABLE_ENTITY, &json!(["body", "reason"])));
    let r = app.post(&path, json!({})).await;
    assert_eq!(
        (r.status, &r.body["detail"][0]["loc"]),
        (StatusCode::UNPROCESSABLE_ENTITY, &json!(["body", "resolution"]))
    );
}
