//! Human-in-the-loop (RFC-0025/0026): the suspend and respond routes, their refusals, the
//! events, the answer stored where the agent reads it, and the server-side timeouts.

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::{Reply, TestApp};
use openintent_server::{RunningServer, app, spawn};
use serde_json::{Value, json};

fn choices() -> Value {
    json!([
        {"value": "approve", "label": "Approve refund", "description": "Issue full refund", "style": "primary"},
        {"value": "deny", "label": "Deny refund"},
    ])
}

async fn suspend(app: &TestApp, id: &str, version: i64, body: Value) -> Reply {
    let v = version.to_string();
    app.as_agent_with(Some("agent"), "POST", &format!("/api/v1/intents/{id}/suspend"), Some(body), &[("if-match", &v)])
        .await
}

async fn respond(app: &TestApp, id: &str, body: Value) -> Reply {
    app.as_agent(Some("operator"), "POST", &format!("/api/v1/intents/{id}/suspend/respond"), Some(body)).await
}

async fn intent(app: &TestApp, id: &str) -> Value {
    app.get(&format!("/api/v1/intents/{id}")).await.body
}

/// The intent's events, oldest first.
async fn log(app: &TestApp, id: &str) -> Vec<Value> {
    let mut events = app.events(id).await;
    events.reverse();
    events
}

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["event_type"].as_str().unwrap()).collect()
}

/// Creates a draft intent and suspends it with a choice question; returns (id, suspension id).
async fn suspended(app: &TestApp) -> (String, String) {
    let id = app.intent("refund").await;
    let r = suspend(app, &id, 1, json!({"question": "Refund order 12345?", "choices": choices()})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    (id, r.body["state"]["_suspension"]["id"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn suspend_writes_status_record_and_events_at_once() {
    let app = TestApp::memory().await;
    let id = app.intent("refund").await;
    assert_eq!(intent(&app, &id).await["status"], "draft");
    let body = json!({
        "question": "Refund order 12345?", "choices": choices(), "context": {"order": "12345"},
        "channel_hint": "slack", "timeout_seconds": 3600, "fallback_policy": "complete_with_fallback",
        "fallback_value": "deny", "confidence": 0.55,
    });
    let r = suspend(&app, &id, 1, body).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.headers["etag"], "\"2\"");
    // draft -> suspended_awaiting_input is a move of the lifecycle (as the 0.17 agents make it).
    assert_eq!((&r.body["status"], &r.body["version"]), (&json!("suspended_awaiting_input"), &json!(2)));
    let record = &r.body["state"]["_suspension"];
    assert_eq!(record["question"], "Refund order 12345?");
    assert_eq!(record["response_type"], "choice");
    assert_eq!(record["fallback_value"], "deny");
    assert_eq!(record["confidence_at_suspension"], 0.55);
    assert!(record["expires_at"].is_string() && record["suspended_at"].is_string(), "{record}");
    let events = log(&app, &id).await;
    assert_eq!(types(&events), ["intent_created", "status_changed", "intent.suspended"]);
    assert_eq!(events[1]["payload"]["previous_status"], "draft");
    let suspended = &events[2];
    assert_eq!(suspended["actor"], "agent");
    assert_eq!(suspended["payload"]["suspension_id"], record["id"]);
    assert_eq!(suspended["payload"]["timeout_seconds"], 3600);
    // Event payloads carry times in the wire format, as the record does.
    assert_eq!(suspended["payload"]["expires_at"], record["expires_at"]);
}

#[tokio::test]
async fn suspend_refusals_write_nothing() {
    let app = TestApp::memory().await;
    let id = app.intent("t").await;
    let cases = [
        (json!({}), "question"),
        (json!({"question": " "}), "question"),
        (json!({"question": "q"}), "choices"),
        (json!({"question": "q", "response_type": "vote", "choices": choices()}), "response_type"),
        (json!({"question": "q", "response_type": "text", "timeout_seconds": 0}), "timeout_seconds"),
        (
            json!({"question": "q", "response_type": "text", "timeout_seconds": 9_000_000_000_000_000_i64}),
            "timeout_seconds",
        ),
        (
            json!({"question": "q", "response_type": "text", "retry_policy": {"interval_seconds": 9_000_000_000_000_000_i64}}),
            "retry_policy.interval_seconds",
        ),
        (
            json!({"question": "q", "response_type": "text", "retry_policy": {"max_attempts": 1_000_000}}),
            "retry_policy.max_attempts",
        ),
        (json!({"question": "q", "choices": choices(), "fallback_value": "maybe"}), "fallback_value"),
        (
            json!({"question": "q", "choices": [{"value": "a", "label": "A"}, {"value": "a", "label": "B"}]}),
            "choices.1.value",
        ),
        (json!({"question": "q", "response_type": "text", "confidence": 2}), "confidence"),
        (
            json!({"question": "q", "response_type": "text", "retry_policy": {"max_attempts": 0}}),
            "retry_policy.max_attempts",
        ),
    ];
    for (body, field) in cases {
        let r = suspend(&app, &id, 1, body.clone()).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {:?}", r.body);
        let loc: Vec<String> = r.body["detail"][0]["loc"]
            .as_array()
            .unwrap()
            .iter()
            .skip(1)
            .map(|p| p.to_string().replace('"', ""))
            .collect();
        assert_eq!(loc.join("."), field, "{body}: {:?}", r.body);
    }
    let ok = json!({"question": "q", "response_type": "confirm"});
    let r = app.as_agent(Some("a"), "POST", &format!("/api/v1/intents/{id}/suspend"), Some(ok.clone())).await;
    assert_eq!((r.status, r.detail()), (StatusCode::BAD_REQUEST, "If-Match header required"));
    let r = suspend(&app, "missing", 1, ok.clone()).await;
    assert_eq!((r.status, r.detail()), (StatusCode::NOT_FOUND, "Intent not found"));
    let r = suspend(&app, &id, 7, ok.clone()).await;
    assert_eq!((r.status, &r.body["current_version"]), (StatusCode::CONFLICT, &json!(1)));
    assert_eq!(intent(&app, &id).await["version"], 1);
    assert_eq!(log(&app, &id).await.len(), 1);

    // Already suspended: 409 naming the suspension; terminal intents cannot be suspended.
    let r = suspend(&app, &id, 1, ok.clone()).await;
    let sid = r.body["state"]["_suspension"]["id"].as_str().unwrap().to_owned();
    let r = suspend(&app, &id, 2, ok.clone()).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.detail(), format!("Intent is already suspended (suspension_id={sid})"));
    let done = app.intent("done").await;
    let status = |v: &str| ("if-match".to_owned(), v.to_owned());
    let (k, v) = status("1");
    let r = app
        .as_agent_with(
            Some("a"),
            "POST",
            &format!("/api/v1/intents/{done}/status"),
            Some(json!({"status": "completed"})),
            &[(&k, &v)],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = suspend(&app, &done, 2, ok).await;
    assert_eq!((r.status, &r.body["error"]), (StatusCode::CONFLICT, &json!("invalid_transition")));
}

#[tokio::test]
async fn respond_stores_the_answer_and_resumes() {
    let app = TestApp::memory().await;
    let (id, sid) = suspended(&app).await;
    let body = json!({"suspension_id": sid, "value": "approve", "responded_by": "alice@example.com",
                      "metadata": {"channel": "slack"}});
    let r = respond(&app, &id, body).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["resolution"], "responded");
    assert_eq!(r.body["value"], "approve");
    assert_eq!(r.body["responded_by"], "alice@example.com");
    assert_eq!(r.body["choice_label"], "Approve refund");
    assert_eq!(r.body["choice_description"], "Issue full refund");
    // The answer is where the agent reads it (the reference loses this write).
    let now = intent(&app, &id).await;
    assert_eq!((&now["status"], &now["version"]), (&json!("active"), &json!(3)));
    let record = &now["state"]["_suspension"];
    assert_eq!(record["resolution"], "responded");
    assert_eq!(record["response"], "approve");
    assert_eq!(record["responded_by"], "alice@example.com");
    assert_eq!(record["metadata"], json!({"channel": "slack"}));
    let events = log(&app, &id).await;
    assert_eq!(&types(&events)[3..], ["status_changed", "intent.resumed"]);
    assert_eq!(events[3]["payload"]["status"], "active");
    assert_eq!(events[4]["actor"], "alice@example.com");
    assert_eq!(events[4]["payload"]["suspension_id"], sid);
    // Answered once: a second answer is refused by the status.
    let r = respond(&app, &id, json!({"suspension_id": sid, "value": "deny"})).await;
    assert_eq!((r.status, r.detail()), (StatusCode::CONFLICT, "Intent is not suspended (status=active)"));
    // Without `responded_by` the caller answers.
    let (id2, sid2) = suspended(&app).await;
    let r = respond(&app, &id2, json!({"suspension_id": sid2, "value": "deny"})).await;
    assert_eq!((&r.body["responded_by"], &r.body["choice_description"]), (&json!("operator"), &json!("")));
}

#[tokio::test]
async fn respond_refusals_name_the_problem_and_write_nothing() {
    let app = TestApp::memory().await;
    let (id, sid) = suspended(&app).await;
    let r = respond(&app, &id, json!({"suspension_id": sid, "value": "maybe"})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["detail"]["error"], "invalid_choice");
    assert_eq!(
        r.body["detail"]["message"],
        "Value 'maybe' is not a valid choice. Expected one of: ['approve', 'deny']"
    );
    assert_eq!(r.body["detail"]["valid_choices"].as_array().unwrap().len(), 2);
    let r = respond(&app, &id, json!({"suspension_id": "other", "value": "approve"})).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.detail(), format!("suspension_id mismatch: expected {sid}, got other"));
    let r = respond(&app, &id, json!({"value": "approve"})).await;
    assert_eq!(
        (r.status, &r.body["detail"][0]["loc"]),
        (StatusCode::UNPROCESSABLE_ENTITY, &json!(["body", "suspension_id"]))
    );
    let r = respond(&app, &id, json!({"suspension_id": sid})).await;
    assert_eq!((r.status, &r.body["detail"][0]["loc"]), (StatusCode::UNPROCESSABLE_ENTITY, &json!(["body", "value"])));
    let r =
        app.send("POST", &format!("/api/v1/intents/{id}/suspend/respond"), &[("x-api-key", common::KEY)], None).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "an empty body is a 422, not a 500");
    let r = respond(&app, "missing", json!({"suspension_id": sid, "value": "approve"})).await;
    assert_eq!((r.status, r.detail()), (StatusCode::NOT_FOUND, "Intent not found"));
    let now = intent(&app, &id).await;
    assert_eq!((&now["status"], &now["version"]), (&json!("suspended_awaiting_input"), &json!(2)));
    assert_eq!(log(&app, &id).await.len(), 3);

    // An intent that was never suspended.
    let fresh = app.intent("t").await;
    let r = respond(&app, &fresh, json!({"suspension_id": "s", "value": "x"})).await;
    assert_eq!((r.status, r.detail()), (StatusCode::CONFLICT, "Intent is not suspended (status=draft)"));

    // text answers must be non-empty; confirm answers yes or no.
    let t = app.intent("text").await;
    let r = suspend(&app, &t, 1, json!({"question": "why?", "response_type": "text"})).await;
    let tsid = r.body["state"]["_suspension"]["id"].as_str().unwrap().to_owned();
    let r = respond(&app, &t, json!({"suspension_id": tsid, "value": "  "})).await;
    assert_eq!((r.status, &r.body["detail"][0]["loc"]), (StatusCode::UNPROCESSABLE_ENTITY, &json!(["body", "value"])));
    let c = app.intent("confirm").await;
    let r = suspend(&app, &c, 1, json!({"question": "ok?", "response_type": "confirm"})).await;
    let csid = r.body["state"]["_suspension"]["id"].as_str().unwrap().to_owned();
    let r = respond(&app, &c, json!({"suspension_id": csid, "value": "ok"})).await;
    assert_eq!(
        r.body["detail"]["valid_choices"],
        json!([{"value": "yes", "label": "Yes"}, {"value": "no", "label": "No"}])
    );
    assert_eq!(respond(&app, &c, json!({"suspension_id": csid, "value": "yes"})).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_suspension_made_through_the_status_route_can_be_answered() {
    let app = TestApp::memory().await;
    let id = app.intent("t").await;
    let r = app
        .as_agent_with(
            Some("agent"),
            "POST",
            &format!("/api/v1/intents/{id}/status"),
            Some(json!({"status": "suspended_awaiting_input"})),
            &[("if-match", "1")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = respond(&app, &id, json!({"suspension_id": "any", "value": {"free": "form"}})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let now = intent(&app, &id).await;
    assert_eq!(now["status"], "active");
    assert_eq!(now["state"]["_suspension"]["response"], json!({"free": "form"}));
}

// ----- timeouts, on a running server (its sweeper runs every second) -------------------------

async fn running() -> (RunningServer, TestApp) {
    let server = spawn(common::test_config().await).await.unwrap();
    let state = server.state().clone();
    let app = TestApp { router: app(state.clone()), state };
    (server, app)
}

/// Polls the intent until `done` holds (at most 15 s).
async fn wait_for(app: &TestApp, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..150 {
        let now = intent(app, id).await;
        if done(&now) {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("intent {id} never reached the expected state: {}", intent(app, id).await);
}

#[tokio::test]
async fn an_expired_suspension_follows_its_policy() {
    let (server, app) = running().await;
    // fail: the intent is abandoned.
    let failing = app.intent("fail").await;
    let r = suspend(&app, &failing, 1, json!({"question": "q", "response_type": "text", "timeout_seconds": 1})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    // use_default_and_continue: resumed with the fallback value.
    let continuing = app.intent("continue").await;
    let body = json!({"question": "q", "choices": choices(), "timeout_seconds": 1,
                      "fallback_policy": "use_default_and_continue", "fallback_value": "deny"});
    assert_eq!(suspend(&app, &continuing, 1, body).await.status, StatusCode::OK);
    // Answered in time: no expiry.
    let (answered, sid) = suspended(&app).await;
    assert_eq!(
        respond(&app, &answered, json!({"suspension_id": sid, "value": "approve"})).await.status,
        StatusCode::OK
    );

    let now = wait_for(&app, &failing, |i| i["status"] == "abandoned").await;
    assert_eq!(now["state"]["_suspension"]["resolution"], "expired");
    let events = log(&app, &failing).await;
    assert_eq!(&types(&events)[3..], ["intent.suspension_expired", "status_changed"]);
    assert_eq!(events[3]["payload"]["fallback_policy"], "fail");
    assert_eq!(events[4]["payload"]["reason"], "suspension expired");

    let now = wait_for(&app, &continuing, |i| i["status"] == "active").await;
    assert_eq!(now["state"]["_suspension"]["resolution"], "expired");
    assert_eq!(now["state"]["_suspension"]["response"], "deny");
    // An answer after the expiry is refused by the status.
    let csid = now["state"]["_suspension"]["id"].as_str().unwrap();
    let r = respond(&app, &continuing, json!({"suspension_id": csid, "value": "approve"})).await;
    assert_eq!(r.status, StatusCode::CONFLICT);

    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(intent(&app, &answered).await["status"], "active");
    assert_eq!(log(&app, &answered).await.len(), 5);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_retry_policy_renotifies_escalates_then_expires() {
    let (server, app) = running().await;
    let id = app.intent("ladder").await;
    let body = json!({
        "question": "Deploy?", "response_type": "confirm", "channel_hint": "slack",
        "retry_policy": {"max_attempts": 2, "interval_seconds": 1, "final_fallback_policy": "fail",
                         "escalation_ladder": [{"attempt": 2, "channel_hint": "pager", "notify_to": "oncall"}]},
    });
    assert_eq!(suspend(&app, &id, 1, body).await.status, StatusCode::OK);
    wait_for(&app, &id, |i| i["status"] == "abandoned").await;
    let events = log(&app, &id).await;
    assert_eq!(
        &types(&events)[3..],
        [
            "intent.suspension_escalated",
            "escalation_initiated",
            "intent.suspension_renotified",
            "intent.suspension_expired",
            "status_changed"
        ]
    );
    assert_eq!(events[3]["payload"]["escalated_to"], "oncall");
    assert_eq!(events[3]["payload"]["channel_hint"], "pager");
    assert_eq!(events[5]["payload"]["attempt"], 2);
    assert_eq!(events[5]["payload"]["max_attempts"], 2);
    assert_eq!(events[5]["payload"]["next_attempt_at"], Value::Null);
    // The escalation waits for a human.
    let r = app.get(&format!("/api/v1/escalations?intent_id={id}")).await;
    let escalations = r.body["escalations"].as_array().unwrap();
    assert_eq!(escalations.len(), 1);
    assert_eq!(escalations[0]["context"]["notify_to"], "oncall");
    assert_eq!(escalations[0]["status"], "pending");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn two_servers_on_one_database_expire_a_suspension_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::shared_test_database(dir.path()).await;
    let config = || {
        openintent_server::ServerConfig::builder()
            .database(db.clone())
            .bind(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
            .build()
            .unwrap()
    };
    let (one, two) = (spawn(config()).await.unwrap(), spawn(config()).await.unwrap());
    let state = one.state().clone();
    let app = TestApp { router: app(state.clone()), state };
    let mut ids = Vec::new();
    for n in 0..5 {
        let id = app.intent(&format!("t{n}")).await;
        let r = suspend(&app, &id, 1, json!({"question": "q", "response_type": "text", "timeout_seconds": 1})).await;
        assert_eq!(r.status, StatusCode::OK);
        ids.push(id);
    }
    for id in &ids {
        wait_for(&app, id, |i| i["status"] == "abandoned").await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for id in &ids {
        let events = log(&app, id).await;
        let expired = events.iter().filter(|e| e["event_type"] == "intent.suspension_expired").count();
        assert_eq!(expired, 1, "{id}");
        assert_eq!(intent(&app, id).await["version"], 3);
    }
    one.shutdown().await.unwrap();
    two.shutdown().await.unwrap();
}

/// Suspends an intent the 0.17 SDK's way (PROTOCOL-AGENTS.md §3.2): the status, then the
/// `_suspension` record as a state write (naive timestamps, as the SDK writes them), then its
/// `intent.suspended` event. Returns the suspension id.
async fn suspend_as_the_sdk(app: &TestApp, id: &str, record: Value) -> String {
    let status = json!({"status": "suspended_awaiting_input"});
    let r = app
        .as_agent_with(
            Some("agent"),
            "POST",
            &format!("/api/v1/intents/{id}/status"),
            Some(status),
            &[("if-match", "1")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let patch = json!({"patches": [{"op": "set", "path": "_suspension", "value": record}]});
    let r = app.patch_state("agent", id, 2, patch).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let sid = record["id"].as_str().unwrap_or_default().to_owned();
    let event = json!({"event_type": "intent.suspended", "actor": "agent", "payload": {"suspension_id": sid}});
    assert_eq!(app.post(&format!("/api/v1/intents/{id}/events"), event).await.status, StatusCode::OK);
    sid
}

/// A `_suspension` record as the 0.17 SDK writes it, timing out after `timeout` seconds.
fn sdk_record(sid: &str, timeout: i64, extra: Value) -> Value {
    let naive = |t: chrono::DateTime<chrono::Utc>| t.naive_utc().format("%Y-%m-%dT%H:%M:%S%.6f").to_string();
    let at = chrono::Utc::now();
    let mut record = json!({
        "id": sid, "question": "Refund order 12345?", "response_type": "choice", "choices": choices(),
        "context": {"order_id": "12345"}, "fallback_policy": "fail", "channel_hint": "slack",
        "suspended_at": naive(at), "timeout_seconds": timeout,
        "expires_at": naive(at + chrono::Duration::seconds(timeout)),
    });
    record.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    record
}

/// The events from the expiry on: types and payload keys (values that differ per intent left out).
fn expiry_tail(events: &[Value]) -> Vec<(String, Vec<String>)> {
    let from = events.iter().position(|e| e["event_type"] == "intent.suspension_expired").expect("expired");
    events[from..]
        .iter()
        .map(|e| {
            let keys = e["payload"].as_object().unwrap().keys().cloned().collect();
            (e["event_type"].as_str().unwrap().to_owned(), keys)
        })
        .collect()
}

/// A suspension written the 0.17 SDK's way gets the server's timer: it expires with the same
/// events as one made by `POST …/suspend`, and its answer-free record says `expired`.
#[tokio::test]
async fn a_suspension_written_by_the_sdk_expires_like_one_made_by_the_suspend_route() {
    let (server, app) = running().await;
    let by_route = app.intent("route").await;
    let body = json!({"question": "q", "choices": choices(), "timeout_seconds": 1});
    assert_eq!(suspend(&app, &by_route, 1, body).await.status, StatusCode::OK);
    let by_sdk = app.intent("sdk").await;
    let sid = suspend_as_the_sdk(&app, &by_sdk, sdk_record("5e1f0c2a-sdk", 1, json!({}))).await;
    // A continuing policy resumes it with the fallback value.
    let continuing = app.intent("sdk continue").await;
    let extra = json!({"fallback_policy": "use_default_and_continue", "fallback_value": "deny"});
    suspend_as_the_sdk(&app, &continuing, sdk_record("5e1f0c2a-sdk2", 1, extra)).await;

    let route_now = wait_for(&app, &by_route, |i| i["status"] == "abandoned").await;
    let sdk_now = wait_for(&app, &by_sdk, |i| i["status"] == "abandoned").await;
    assert_eq!(sdk_now["state"]["_suspension"]["resolution"], "expired");
    assert_eq!(sdk_now["state"]["_suspension"]["id"], sid.as_str());
    assert_eq!(route_now["state"]["_suspension"]["resolution"], "expired");
    let (route_log, sdk_log) = (log(&app, &by_route).await, log(&app, &by_sdk).await);
    assert_eq!(expiry_tail(&sdk_log), expiry_tail(&route_log));
    let expired = sdk_log.iter().find(|e| e["event_type"] == "intent.suspension_expired").unwrap();
    assert_eq!(
        (&expired["payload"]["suspension_id"], &expired["payload"]["fallback_policy"]),
        (&json!(sid), &json!("fail"))
    );
    assert_eq!(sdk_log.last().unwrap()["payload"]["reason"], "suspension expired");

    let now = wait_for(&app, &continuing, |i| i["status"] == "active").await;
    assert_eq!(now["state"]["_suspension"]["resolution"], "expired");
    assert_eq!(now["state"]["_suspension"]["response"], "deny");
    server.shutdown().await.unwrap();
}

/// What arms no timer: an unreadable record (answered 200, logged; never a 500), a record
/// without a deadline, and a leftover record of an earlier suspension already past its
/// deadline when the status is entered again.
#[tokio::test]
async fn sdk_suspensions_without_a_usable_record_get_no_timer() {
    let (server, app) = running().await;
    let unreadable = app.intent("unreadable").await;
    suspend_as_the_sdk(&app, &unreadable, json!({"id": 5, "timeout_seconds": "soon", "expires_at": "yesterday"})).await;
    let endless = app.intent("endless").await;
    let mut record = sdk_record("no-deadline", 1, json!({}));
    for key in ["timeout_seconds", "expires_at"] {
        record.as_object_mut().unwrap().remove(key);
    }
    suspend_as_the_sdk(&app, &endless, record).await;
    // A record left unanswered by an earlier suspension (ended through the status route), past
    // its deadline: entering the status again does not expire the new suspension at once.
    let stale = app.intent("stale").await;
    let mut old = sdk_record("old", 1, json!({}));
    old["expires_at"] = json!("2020-01-01T00:00:00.000000");
    let r = app
        .patch_state("agent", &stale, 1, json!({"patches": [{"op": "set", "path": "_suspension", "value": old}]}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let status = json!({"status": "suspended_awaiting_input"});
    let r = app
        .as_agent_with(
            Some("agent"),
            "POST",
            &format!("/api/v1/intents/{stale}/status"),
            Some(status),
            &[("if-match", "2")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);

    tokio::time::sleep(Duration::from_millis(2500)).await;
    for id in [&unreadable, &endless, &stale] {
        let now = intent(&app, id).await;
        assert_eq!(now["status"], "suspended_awaiting_input", "{id}: {now}");
        assert!(!types(&log(&app, id).await).contains(&"intent.suspension_expired"));
    }
    server.shutdown().await.unwrap();
}
