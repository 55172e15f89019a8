//! Intent governance policies: every rule refuses and allows, the 403 body, the
//! `governance.violation` event, atomicity of `max_cost`, and validation on create.

mod common;

use axum::http::StatusCode;
use common::{Reply, TestApp};
use openintent_server::ServerConfig;
use serde_json::{Value, json};

/// Creates an intent with `policy` as `owner`; returns its id.
async fn governed(app: &TestApp, policy: Value) -> String {
    let r = app
        .as_agent(Some("owner"), "POST", "/api/v1/intents", Some(json!({"title": "g", "governance_policy": policy})))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["governance_policy"], policy);
    r.body["id"].as_str().unwrap().to_owned()
}

async fn version(app: &TestApp, id: &str) -> i64 {
    app.get(&format!("/api/v1/intents/{id}")).await.body["version"].as_i64().unwrap()
}

async fn set_status(app: &TestApp, agent: &str, id: &str, v: i64, body: Value) -> Reply {
    let v = v.to_string();
    app.as_agent_with(Some(agent), "POST", &format!("/api/v1/intents/{id}/status"), Some(body), &[("if-match", &v)])
        .await
}

async fn cost(app: &TestApp, agent: &str, id: &str, amount: f64) -> Reply {
    let body = json!({"cost_type": "tokens", "amount": amount, "unit": "usd"});
    app.as_agent(Some(agent), "POST", &format!("/api/v1/intents/{id}/costs"), Some(body)).await
}

async fn assign(app: &TestApp, agent: &str, id: &str, who: &str) -> Reply {
    app.as_agent(Some(agent), "POST", &format!("/api/v1/intents/{id}/agents"), Some(json!({"agent_id": who}))).await
}

/// Asserts a shape-C 403 of `rule` whose message names `agent` (when given).
#[track_caller]
fn assert_refused(r: &Reply, rule: &str, agent: Option<&str>) {
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    let detail = r.body["detail"].as_object().expect("shape C: detail is an object");
    assert_eq!(detail["error"], "governance_violation");
    assert_eq!(detail["rule"], rule);
    let message = detail["message"].as_str().unwrap();
    if let Some(a) = agent {
        assert!(message.contains(&format!("'{a}'")), "{message}");
    }
    let mut keys: Vec<&str> = detail.keys().map(String::as_str).collect();
    keys.sort_unstable();
    let expected: &[&str] =
        if rule == "completion_mode" { &["error", "message", "mode", "rule"] } else { &["error", "message", "rule"] };
    assert_eq!(keys, expected);
    assert_eq!(r.body.as_object().unwrap().len(), 1, "only `detail`: {:?}", r.body);
}

async fn violations(app: &TestApp, id: &str) -> Vec<Value> {
    let r = app.get(&format!("/api/v1/intents/{id}/events?event_type=governance.violation")).await;
    assert_eq!(r.status, StatusCode::OK);
    r.body.as_array().unwrap().clone()
}

#[tokio::test]
async fn write_scope_assigned_only() {
    let app = TestApp::memory().await;
    let id = governed(&app, json!({"write_scope": "assigned_only"})).await;

    let r = app.patch_state("stranger", &id, 1, json!({"state": {"x": 1}})).await;
    assert_refused(&r, "write_scope", Some("stranger"));
    assert_eq!(
        r.body["detail"]["message"],
        "Governance policy requires write_scope='assigned_only'. Agent 'stranger' is not assigned to this intent."
    );
    // The event is logged, actor = the caller; nothing else was written.
    let events = violations(&app, &id).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["actor"], "stranger");
    assert_eq!(
        events[0]["payload"],
        json!({"rule": "write_scope", "detail": "Agent 'stranger' is not assigned to this intent"})
    );
    let intent = app.get(&format!("/api/v1/intents/{id}")).await.body;
    assert_eq!(intent["version"], 1);
    assert_eq!(intent["state"], json!({}));
    assert!(app.events(&id).await.iter().all(|e| e["event_type"] != "state_patched"));

    // Status and costs are guarded the same way.
    let r = set_status(&app, "stranger", &id, 1, json!({"status": "active"})).await;
    assert_refused(&r, "write_scope", Some("stranger"));
    let r = cost(&app, "stranger", &id, 1.0).await;
    assert_refused(&r, "write_scope", Some("stranger"));
    assert!(app.get(&format!("/api/v1/intents/{id}/costs")).await.body.as_array().unwrap().is_empty());
    assert_eq!(violations(&app, &id).await.len(), 3);

    // Once assigned, the same writes pass.
    assert_eq!(assign(&app, "owner", &id, "stranger").await.status, StatusCode::OK);
    let r = app.patch_state("stranger", &id, 1, json!({"state": {"x": 1}})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(set_status(&app, "stranger", &id, 2, json!({"status": "active"})).await.status, StatusCode::OK);
    assert_eq!(cost(&app, "stranger", &id, 1.0).await.status, StatusCode::OK);
    // The unassigned owner is refused too: the policy names no exception for the creator.
    assert_refused(&app.patch_state("owner", &id, 3, json!({"state": {"y": 1}})).await, "write_scope", Some("owner"));
}

#[tokio::test]
async fn write_scope_any_and_unknown_keys_allow() {
    let app = TestApp::memory().await;
    let id = governed(&app, json!({"write_scope": "any", "team_note": {"free": "form"}})).await;
    assert_eq!(app.patch_state("anyone", &id, 1, json!({"state": {"x": 1}})).await.status, StatusCode::OK);
    assert_eq!(cost(&app, "anyone", &id, 100.0).await.status, StatusCode::OK);
    assert!(violations(&app, &id).await.is_empty());
}

#[tokio::test]
async fn allowed_agents_for_writes_and_assignment() {
    let app = TestApp::memory().await;
    let id = governed(&app, json!({"allowed_agents": ["alice", "bob"]})).await;

    let r = app.patch_state("mallory", &id, 1, json!({"state": {"x": 1}})).await;
    assert_refused(&r, "allowed_agents", Some("mallory"));
    assert_refused(&set_status(&app, "mallory", &id, 1, json!({"status": "active"})).await, "allowed_agents", None);
    assert_refused(&cost(&app, "mallory", &id, 1.0).await, "allowed_agents", Some("mallory"));

    // Assignment checks the agent being assigned; the event's actor is the caller.
    let r = assign(&app, "alice", &id, "mallory").await;
    assert_refused(&r, "allowed_agents", Some("mallory"));
    assert_eq!(
        r.body["detail"]["message"],
        "Governance policy restricts assignment to allowed agents. Agent 'mallory' is not permitted."
    );
    assert!(app.get(&format!("/api/v1/intents/{id}/agents")).await.body.as_array().unwrap().is_empty());

    let events = violations(&app, &id).await;
    assert_eq!(events.len(), 4);
    let newest = &events[0];
    assert_eq!(newest["actor"], "alice");
    assert_eq!(
        newest["payload"],
        json!({"rule": "allowed_agents", "detail": "Agent 'mallory' is not in the allowed agents list for assignment"})
    );
    assert_eq!(events[3]["payload"]["detail"], "Agent 'mallory' is not in the allowed_agents list");
    assert!(events.iter().skip(1).all(|e| e["actor"] == "mallory"));

    // Listed agents pass everywhere.
    assert_eq!(app.patch_state("alice", &id, 1, json!({"state": {"x": 1}})).await.status, StatusCode::OK);
    assert_eq!(set_status(&app, "bob", &id, 2, json!({"status": "active"})).await.status, StatusCode::OK);
    assert_eq!(cost(&app, "bob", &id, 1.0).await.status, StatusCode::OK);
    assert_eq!(assign(&app, "mallory", &id, "bob").await.status, StatusCode::OK);
    assert_eq!(violations(&app, &id).await.len(), 4);

    // An empty list restricts nothing.
    let open = governed(&app, json!({"allowed_agents": []})).await;
    assert_eq!(app.patch_state("mallory", &open, 1, json!({"state": {"x": 1}})).await.status, StatusCode::OK);
    assert_eq!(assign(&app, "mallory", &open, "anyone").await.status, StatusCode::OK);
}

#[tokio::test]
async fn require_status_reason_logs_no_event() {
    let app = TestApp::memory().await;
    let id = governed(&app, json!({"require_status_reason": true})).await;
    for body in [
        json!({"status": "active"}),
        json!({"status": "active", "reason": ""}),
        json!({"status": "active", "reason": "  "}),
    ] {
        let r = set_status(&app, "worker", &id, 1, body).await;
        assert_refused(&r, "require_status_reason", None);
        assert_eq!(
            r.body["detail"]["message"],
            "Governance policy requires a 'reason' field for all status transitions."
        );
    }
    assert!(violations(&app, &id).await.is_empty());
    assert_eq!(version(&app, &id).await, 1);
    let r = set_status(&app, "worker", &id, 1, json!({"status": "active", "reason": "kick-off"})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    // State writes need no reason.
    assert_eq!(app.patch_state("worker", &id, 2, json!({"state": {"x": 1}})).await.status, StatusCode::OK);

    let relaxed = governed(&app, json!({"require_status_reason": false})).await;
    assert_eq!(set_status(&app, "worker", &relaxed, 1, json!({"status": "active"})).await.status, StatusCode::OK);
}

#[tokio::test]
async fn completion_modes() {
    let app = TestApp::memory().await;

    // auto (explicit or default) completes.
    let auto = governed(&app, json!({"completion_mode": "auto"})).await;
    assert_eq!(set_status(&app, "w", &auto, 1, json!({"status": "completed"})).await.status, StatusCode::OK);

    // require_approval without an approved `complete` approval: completion is refused (with an event);
    // other transitions pass.
    let gated = governed(&app, json!({"completion_mode": "require_approval"})).await;
    let r = set_status(&app, "w", &gated, 1, json!({"status": "completed"})).await;
    assert_refused(&r, "completion_mode", None);
    assert_eq!(r.body["detail"]["mode"], "require_approval");
    let events = violations(&app, &gated).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["actor"], "w");
    assert_eq!(
        events[0]["payload"],
        json!({"rule": "completion_mode", "detail": "No approved approval request for action='complete'"})
    );
    assert_eq!(set_status(&app, "w", &gated, 1, json!({"status": "active"})).await.status, StatusCode::OK);
    assert_eq!(set_status(&app, "w", &gated, 2, json!({"status": "abandoned"})).await.status, StatusCode::OK);

    // quorum with nobody assigned: refused without an event (as the reference).
    let quorum = governed(&app, json!({"completion_mode": "quorum", "quorum_threshold": 0.5})).await;
    let r = set_status(&app, "w", &quorum, 1, json!({"status": "completed"})).await;
    assert_refused(&r, "completion_mode", None);
    assert_eq!(r.body["detail"]["mode"], "quorum");
    assert!(violations(&app, &quorum).await.is_empty());
    // With agents assigned: refused with an event naming the missing approvals.
    for a in ["a", "b", "c", "d"] {
        assert_eq!(assign(&app, "owner", &quorum, a).await.status, StatusCode::OK);
    }
    let r = set_status(&app, "w", &quorum, 1, json!({"status": "completed"})).await;
    assert_refused(&r, "completion_mode", None);
    assert_eq!(
        r.body["detail"]["message"],
        "Governance policy requires quorum approval. 0 of 2 required approvals received (threshold=0.5, 4 assigned agents)."
    );
    let events = violations(&app, &quorum).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["payload"]["detail"], "Quorum not met: 0/2 approvals (threshold=0.5)");
    assert_eq!(version(&app, &quorum).await, 1);
}

#[tokio::test]
async fn max_cost_running_total() {
    let app = TestApp::memory().await;
    let id = governed(&app, json!({"max_cost": 10})).await;
    assert_eq!(cost(&app, "a", &id, 4.0).await.status, StatusCode::OK);
    assert_eq!(cost(&app, "b", &id, 6.0).await.status, StatusCode::OK, "reaching the ceiling is allowed");
    let r = cost(&app, "a", &id, 0.5).await;
    assert_refused(&r, "max_cost", None);
    assert_eq!(
        r.body["detail"]["message"],
        "Governance policy sets max_cost=10.0. Current total is 10.0; adding 0.5 would exceed the ceiling."
    );
    let events = violations(&app, &id).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["actor"], "a");
    assert_eq!(
        events[0]["payload"],
        json!({"rule": "max_cost", "detail": "Cost ceiling exceeded: current=10.0, new=0.5, max=10.0"})
    );
    assert_eq!(app.get(&format!("/api/v1/intents/{id}/costs")).await.body.as_array().unwrap().len(), 2);

    let zero = governed(&app, json!({"max_cost": 0})).await;
    assert_refused(&cost(&app, "a", &zero, 0.01).await, "max_cost", None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn max_cost_is_atomic_under_concurrency() {
    let dir = tempfile::tempdir().unwrap();
    // Two app instances over one database: the check and the insert must be one transaction
    // of the database, not of one process.
    let db = common::shared_test_database(dir.path()).await;
    let config = ServerConfig::builder().database(db).build().unwrap();
    let (a, b) = (TestApp::with_config(config.clone()).await, TestApp::with_config(config).await);
    let id = governed(&a, json!({"max_cost": 5})).await;
    let mut tasks = Vec::new();
    for n in 0..10 {
        let app = if n % 2 == 0 { a.clone() } else { b.clone() };
        let id = id.clone();
        tasks.push(tokio::spawn(async move { cost(&app, &format!("agent-{n}"), &id, 1.0).await }));
    }
    let (mut ok, mut refused) = (0, 0);
    for t in tasks {
        let r = t.await.unwrap();
        match r.status {
            StatusCode::OK => ok += 1,
            StatusCode::FORBIDDEN => {
                assert_eq!(r.body["detail"]["rule"], "max_cost");
                refused += 1;
            }
            other => panic!("unexpected {other}: {:?}", r.body),
        }
    }
    assert_eq!((ok, refused), (5, 5));
    let costs = a.get(&format!("/api/v1/intents/{id}/costs")).await.body;
    let total: f64 = costs.as_array().unwrap().iter().map(|c| c["amount"].as_f64().unwrap()).sum();
    assert_eq!(total, 5.0);
    assert_eq!(violations(&a, &id).await.len(), 5);
}

#[tokio::test]
async fn order_of_checks() {
    let app = TestApp::memory().await;
    let id = governed(&app, json!({"write_scope": "assigned_only"})).await;
    // 422 (body) and 400 (If-Match) come before governance: no event.
    let r = app
        .as_agent_with(
            Some("x"),
            "POST",
            &format!("/api/v1/intents/{id}/state"),
            Some(json!({"patches": 5})),
            &[("if-match", "1")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r =
        app.as_agent(Some("x"), "POST", &format!("/api/v1/intents/{id}/state"), Some(json!({"state": {"a": 1}}))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    assert!(violations(&app, &id).await.is_empty());
    // 404 before governance.
    let r = app.patch_state("x", "no-such-intent", 1, json!({"state": {"a": 1}})).await;
    assert_eq!((r.status, r.detail()), (StatusCode::NOT_FOUND, "Intent not found"));
    // 403 before the version check: a stale If-Match is still refused by the rule.
    let r = app.patch_state("x", &id, 7, json!({"state": {"a": 1}})).await;
    assert_refused(&r, "write_scope", Some("x"));
    let r = set_status(&app, "x", &id, 7, json!({"status": "active"})).await;
    assert_refused(&r, "write_scope", Some("x"));
    // And once allowed, the version check answers.
    assign(&app, "owner", &id, "x").await;
    let r = app.patch_state("x", &id, 7, json!({"state": {"a": 1}})).await;
    assert_eq!((r.status, r.detail()), (StatusCode::CONFLICT, "Version conflict"));
    // The reason rule comes before the lifecycle check too.
    let strict = governed(&app, json!({"require_status_reason": true})).await;
    let r = set_status(&app, "x", &strict, 1, json!({"status": "suspended_awaiting_input"})).await;
    assert_refused(&r, "require_status_reason", None);
}

#[tokio::test]
async fn invalid_policies_are_422_naming_the_field() {
    let app = TestApp::memory().await;
    let cases = [
        (json!({"write_scope": "sometimes"}), json!(["body", "governance_policy", "write_scope"])),
        (json!({"completion_mode": "vote"}), json!(["body", "governance_policy", "completion_mode"])),
        (json!({"max_cost": -1}), json!(["body", "governance_policy", "max_cost"])),
        (json!({"max_cost": "100"}), json!(["body", "governance_policy", "max_cost"])),
        (json!({"allowed_agents": "alice"}), json!(["body", "governance_policy", "allowed_agents"])),
        (json!({"allowed_agents": ["alice", 7]}), json!(["body", "governance_policy", "allowed_agents", 1])),
        (json!({"require_status_reason": "yes"}), json!(["body", "governance_policy", "require_status_reason"])),
        (json!({"quorum_threshold": 2}), json!(["body", "governance_policy", "quorum_threshold"])),
    ];
    for (policy, loc) in cases {
        let r = app.post("/api/v1/intents", json!({"title": "bad", "governance_policy": policy})).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{policy}: {:?}", r.body);
        assert_eq!(r.body["detail"][0]["loc"], loc, "{policy}");
    }
    let total = app.get("/api/v1/intents").await.body["total"].as_u64().unwrap();
    assert_eq!(total, 0, "nothing was created");
    // Valid values, nulls and unknown keys are accepted and kept as given.
    let policy = json!({
        "completion_mode": "quorum", "quorum_threshold": 1, "write_scope": "any", "allowed_agents": [],
        "max_cost": 0.5, "require_status_reason": false, "max_cost_currency": "EUR", "reviewers": null,
    });
    governed(&app, policy).await;
    governed(&app, json!({"max_cost": null, "write_scope": null})).await;
}

#[tokio::test]
async fn discovery_advertises_enforcement() {
    let app = TestApp::memory().await;
    let d = app.send("GET", "/.well-known/openintent.json", &[], None).await.body;
    let caps: Vec<&str> = d["capabilities"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(caps.contains(&"governance") && caps.contains(&"governance-enforcement"), "{caps:?}");
    let c = app.send("GET", "/.well-known/openintent-compat.json", &[], None).await.body;
    assert_eq!(c["features"]["governance"], true);
    assert_eq!(c["features"]["governanceEnforcement"], true);
}
