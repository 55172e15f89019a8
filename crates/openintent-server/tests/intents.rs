//! Intents: creation, listing, If-Match writes, patches, lifecycle, the event log.

#[macro_use]
mod common;

use axum::http::StatusCode;
use common::TestApp;
use serde_json::{Value, json};

#[tokio::test]
async fn create_defaults_and_superset_shape() {
    let app = TestApp::memory().await;
    let r = app.as_agent(None, "POST", "/api/v1/intents", Some(json!({"title": "Research"}))).await;
    assert_eq!(r.status, StatusCode::OK);
    let b = &r.body;
    // No X-Agent-ID: the key's derived principal, never the key itself.
    assert_eq!(b["created_by"], openintent_server::key_principal(common::KEY));
    assert_eq!(b["status"], "draft");
    assert_eq!(b["version"], 1);
    assert_eq!(b["description"], "");
    assert_eq!(b["confidence"], 0.0);
    assert!(b["parent_id"].is_null() && b["parent_intent_id"].is_null());
    assert_eq!(r.headers["etag"], "\"1\"");
    let ts = b["created_at"].as_str().unwrap();
    assert_eq!(ts.len(), 26, "naive UTC with six fractional digits: {ts}");

    let r = app
        .post(
            "/api/v1/intents",
            json!({"title": "Child", "parent_id": b["id"], "constraints": ["legacy"], "description": null,
                   "state": {"k": 1}, "createdBy": "someone"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["parent_id"], b["id"]);
    assert_eq!(r.body["parent_intent_id"], b["id"]);
    assert_eq!(r.body["constraints"], json!({"rules": ["legacy"]}));
    assert_eq!(r.body["created_by"], "someone");
    assert_eq!(r.body["state"], json!({"k": 1}));
    let events = app.events(r.body["id"].as_str().unwrap()).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["event_type"], "intent_created");
    assert_eq!(events[0]["actor"], "someone");
}

#[tokio::test]
async fn create_rejects_values_outside_the_protocol() {
    let app = TestApp::memory().await;
    for (body, field) in [
        (json!({"title": ""}), "title"),
        (json!({"title": "   "}), "title"),
        (json!({"title": "x", "status": "bogus-status"}), "status"),
        (json!({"title": "x", "constraints": "text"}), "constraints"),
        (json!({"title": "x", "state": [1]}), "state"),
        (json!({"title": null}), "title"),
        (json!({}), "title"),
        (json!({"title": "x", "depends_on": [1]}), "depends_on"),
    ] {
        let r = app.post("/api/v1/intents", body.clone()).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(r.body["detail"][0]["loc"][1], field, "{body}: {:?}", r.body);
    }
    let r = app.post("/api/v1/intents", json!({"title": "x", "depends_on": ["missing"]})).await;
    assert_eq!((r.status, r.detail()), (StatusCode::NOT_FOUND, "Dependency intent not found (depends_on: missing)"));
    let page = app.get("/api/v1/intents").await;
    assert_eq!(page.body["total"], 0, "nothing was stored");
}

#[tokio::test]
async fn list_intents_filters_and_pages() {
    let app = TestApp::memory().await;
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(app.intent(&format!("i{n}")).await);
    }
    app.as_agent_with(
        Some("tester"),
        "POST",
        &format!("/api/v1/intents/{}/status", ids[0]),
        Some(json!({"status": "active"})),
        &[("if-match", "1")],
    )
    .await;
    let r = app.get("/api/v1/intents?limit=2&offset=1").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["total"], 5);
    assert_eq!(r.body["limit"], 2);
    assert_eq!(r.body["offset"], 1);
    let got: Vec<&str> = r.body["intents"].as_array().unwrap().iter().map(|i| i["title"].as_str().unwrap()).collect();
    assert_eq!(got, vec!["i3", "i2"], "newest first");
    let r = app.get("/api/v1/intents?status=active").await;
    assert_eq!(r.body["total"], 1);
    assert_eq!(r.body["intents"][0]["id"], ids[0].as_str());
    let r = app.get("/api/v1/intents?created_by=nobody").await;
    assert_eq!(r.body["total"], 0);
    for q in ["limit=0", "limit=1001", "limit=x", "offset=-1", "status=bogus"] {
        let r = app.get(&format!("/api/v1/intents?{q}")).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{q}");
        assert_eq!(r.body["detail"][0]["loc"][0], "query");
    }
}

#[tokio::test]
async fn if_match_forms_and_conflicts() {
    let app = TestApp::memory().await;
    let id = app.intent("t").await;
    let path = format!("/api/v1/intents/{id}/state");
    let body = json!({"state": {"a": 1}});
    for (header, expect) in [("1", 2), ("\"2\"", 3), ("W/\"3\"", 4)] {
        let r = app.as_agent_with(Some("x"), "POST", &path, Some(body.clone()), &[("if-match", header)]).await;
        assert_eq!(r.status, StatusCode::OK, "{header}");
        assert_eq!(r.body["version"], expect);
        assert_eq!(r.headers["etag"], format!("\"{expect}\"").as_str());
    }
    for header in [None, Some("")] {
        let extra: Vec<(&str, &str)> = header.map(|h| vec![("if-match", h)]).unwrap_or_default();
        let r = app.as_agent_with(Some("x"), "POST", &path, Some(body.clone()), &extra).await;
        assert_eq!((r.status, r.detail()), (StatusCode::BAD_REQUEST, "If-Match header required"));
    }
    for header in ["abc", "\"x\"", "99999999999999999999"] {
        let r = app.as_agent_with(Some("x"), "POST", &path, Some(body.clone()), &[("if-match", header)]).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{header}");
        assert!(r.detail().starts_with("If-Match header must be the intent's version"), "{}", r.detail());
    }
    let r = app.as_agent_with(Some("x"), "POST", &path, Some(body.clone()), &[("if-match", "2")]).await;
    assert_eq!((r.status, r.detail()), (StatusCode::CONFLICT, "Version conflict"));
    assert_eq!(r.body["current_version"], 4);
    // Order of checks: 422 before 400, 400 before 404.
    let r = app.as_agent_with(Some("x"), "POST", &path, Some(json!({"patches": 3})), &[]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = app.as_agent_with(Some("x"), "POST", "/api/v1/intents/nope/state", Some(body.clone()), &[]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = app.as_agent_with(Some("x"), "POST", "/api/v1/intents/nope/state", Some(body), &[("if-match", "1")]).await;
    assert_eq!((r.status, r.detail()), (StatusCode::NOT_FOUND, "Intent not found"));
}

#[tokio::test]
async fn patches_nested_atomic_and_logged() {
    let app = TestApp::memory().await;
    let id = app.intent("t").await;
    let r = app
        .patch_state(
            "agent-a",
            &id,
            1,
            json!({"patches": [
                {"op": "set", "path": "/trip/hotel/name", "value": "A"},
                {"op": "append", "path": "/log", "value": "one"},
                {"op": "set", "path": "/a~1b", "value": 1},
            ]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    // Nested write into an existing object persists (the reference loses it).
    let r = app.patch_state("agent-a", &id, 2, json!({"patches": [{"op": "set", "path": "/trip/hotel/stars", "value": 4}, {"op": "append", "path": "log", "value": "two"}]})).await;
    assert_eq!(r.status, StatusCode::OK);
    let got = app.get(&format!("/api/v1/intents/{id}")).await.body;
    assert_eq!(got["state"], json!({"trip": {"hotel": {"name": "A", "stars": 4}}, "log": ["one", "two"], "a/b": 1}));
    assert_eq!(got["version"], 3);

    // Bad patches: 422 naming the patch, nothing applied (even the valid first one).
    for (patches, field) in [
        (json!([{"op": "set", "path": "/ok", "value": 1}, {"op": "frobnicate", "path": "/x"}]), "op"),
        (json!([{"op": "set", "path": "/ok", "value": 1}, {"op": "set", "path": "/log/7", "value": 1}]), "path"),
        (
            json!([{"op": "set", "path": "/ok", "value": 1}, {"op": "set", "path": "/trip/hotel/name/x", "value": 1}]),
            "path",
        ),
        (json!([{"op": "set", "path": "/ok", "value": 1}, {"op": "append", "path": "/trip", "value": 1}]), "path"),
        (json!([{"op": "set", "path": "/bad~2", "value": 1}]), "path"),
        (json!([{"op": "set"}]), "path"),
    ] {
        let r = app.patch_state("agent-a", &id, 3, json!({"patches": patches})).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{patches}: {:?}", r.body);
        let loc = r.body["detail"][0]["loc"].as_array().unwrap().clone();
        assert_eq!(loc[1], "patches");
        assert_eq!(loc.last().unwrap(), field, "{patches}: {loc:?}");
    }
    let after = app.get(&format!("/api/v1/intents/{id}")).await.body;
    assert_eq!(after["version"], 3);
    assert_eq!(after["state"], got["state"]);
    let events = app.events(&id).await;
    let patched: Vec<&Value> = events.iter().filter(|e| e["event_type"] == "state_patched").collect();
    assert_eq!(patched.len(), 2);
    assert_eq!(patched[0]["payload"]["version"], 3);
    assert_eq!(patched[0]["actor"], "agent-a");
    assert_eq!(patched[0]["payload"]["patches"][0]["path"], "/trip/hotel/stars");
}

#[tokio::test]
async fn lifecycle_is_enforced() {
    let app = TestApp::memory().await;
    let id = app.intent("t").await;
    let path = format!("/api/v1/intents/{id}/status");
    let set = |status: &'static str, v: &'static str| {
        let app = app.clone();
        let path = path.clone();
        async move {
            app.as_agent_with(
                Some("x"),
                "POST",
                &path,
                Some(json!({"status": status, "reason": "r"})),
                &[("if-match", v)],
            )
            .await
        }
    };
    let r = set("bogus", "1").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = set("blocked", "1").await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.detail().starts_with("Invalid status transition: draft -> blocked"), "{}", r.detail());
    assert_eq!(r.body["allowed"], json!(["active", "suspended_awaiting_input", "completed", "abandoned"]));
    // Staying put is no transition either; the body tells it apart from a version conflict.
    let r = set("draft", "1").await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(
        r.body,
        json!({
            "detail": "Invalid status transition: draft -> draft (allowed: active, suspended_awaiting_input, completed, abandoned)",
            "error": "invalid_transition",
            "from": "draft",
            "to": "draft",
            "allowed": ["active", "suspended_awaiting_input", "completed", "abandoned"],
            "current_status": "draft",
        })
    );
    assert!(r.body.get("current_version").is_none(), "not a version conflict: {}", r.body);
    let r = set("active", "1").await;
    assert_eq!((r.status, r.body["version"].clone()), (StatusCode::OK, json!(2)));
    let r = set("completed", "2").await;
    assert_eq!(r.status, StatusCode::OK);
    let r = set("active", "3").await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.body["allowed"], json!([]));
    let events = app.events(&id).await;
    let changed: Vec<&Value> = events.iter().filter(|e| e["event_type"] == "status_changed").collect();
    assert_eq!(changed.len(), 2);
    assert_eq!(changed[0]["payload"]["status"], "completed");
    assert_eq!(changed[0]["payload"]["version"], 3);
    assert_eq!(changed[0]["payload"]["reason"], "r");
}

#[tokio::test]
async fn event_log_filters_in_order() {
    let app = TestApp::memory().await;
    let id = app.intent("t").await;
    let path = format!("/api/v1/intents/{id}/events");
    for n in 0..5 {
        let kind = if n % 2 == 0 { "comment" } else { "progress" };
        let r = app.post(&path, json!({"event_type": kind, "payload": {"n": n}})).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.body["actor"], "tester", "actor defaults to the principal");
    }
    let r = app.post(&path, json!({"event_type": "comment", "actor": "human:bob"})).await;
    assert_eq!(r.body["actor"], "human:bob");
    assert_eq!(r.body["payload"], json!({}));
    let all = app.events(&id).await;
    assert_eq!(all.len(), 7);
    assert_eq!(all.last().unwrap()["event_type"], "intent_created", "newest first");
    let comments = app.get(&format!("{path}?event_type=comment")).await.body;
    let ns: Vec<Value> = comments.as_array().unwrap().iter().map(|e| e["payload"]["n"].clone()).collect();
    assert_eq!(ns, vec![Value::Null, json!(4), json!(2), json!(0)]);
    let page = app.get(&format!("{path}?limit=2&offset=1")).await.body;
    assert_eq!(page.as_array().unwrap().len(), 2);
    assert_eq!(page[0]["id"], all[1]["id"]);
    let since = all[2]["created_at"].as_str().unwrap();
    let newer = app.get(&format!("{path}?since={since}")).await.body;
    assert!(newer.as_array().unwrap().iter().all(|e| e["created_at"].as_str().unwrap() > since));
    assert!(newer.as_array().unwrap().len() >= 2);
    let zoned = app.get(&format!("{path}?since=2000-01-01T00:00:00Z")).await.body;
    assert_eq!(zoned.as_array().unwrap().len(), 7);
    let plus = app.get(&format!("{path}?since=2999-01-01T00:00:00+01:00")).await;
    assert_eq!(plus.status, StatusCode::OK, "an unencoded + reads as a zone offset");
    assert!(plus.body.as_array().unwrap().is_empty());
    for q in ["since=yesterday", "limit=0", "limit=5000"] {
        assert_eq!(app.get(&format!("{path}?{q}")).await.status, StatusCode::UNPROCESSABLE_ENTITY, "{q}");
    }
    let r = app.post("/api/v1/intents/missing/events", json!({"event_type": "comment"})).await;
    assert_eq!((r.status, r.detail()), (StatusCode::NOT_FOUND, "Intent not found"));
    let r = app.get("/api/v1/intents/missing/events").await;
    assert_eq!((r.status, r.body), (StatusCode::NOT_FOUND, json!({"detail": "Intent not found"})));
}

/// The titles of every page of `GET /api/v1/intents` of `limit` as `agent`, from offset 0 to one
/// past the end, checking each page's total.
async fn all_pages(app: &TestApp, agent: &str, limit: usize, total: usize) -> Vec<String> {
    let mut titles = Vec::new();
    for offset in (0..=total + limit).step_by(limit) {
        let r = app.as_agent(Some(agent), "GET", &format!("/api/v1/intents?limit={limit}&offset={offset}"), None).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        assert_eq!(r.body["total"], total, "{agent} limit {limit} offset {offset}");
        let page = r.body["intents"].as_array().unwrap();
        assert_eq!(page.len(), limit.min(total.saturating_sub(offset)), "{agent} limit {limit} offset {offset}");
        titles.extend(page.iter().map(|i| i["title"].as_str().unwrap().to_owned()));
    }
    titles
}

/// The list's pages across their boundaries (the page's keys are skipped in an index, then its
/// rows read): newest first, intents of the same microsecond newest created first (`seq`), each
/// once, the total exact past the end; and the same for callers whose view an ACL narrows.
#[tokio::test]
async fn list_pages_follow_time_then_creation_across_offsets_and_acls() {
    let dir = tempfile::tempdir().unwrap();
    let (app, location) = common::app_on_shared_database(dir.path()).await;
    let mut ids = Vec::new();
    for n in 0..7 {
        let r = app.as_agent(Some("owner"), "POST", "/api/v1/intents", Some(json!({"title": format!("i{n}")}))).await;
        assert_eq!(r.status, StatusCode::OK);
        ids.push(r.body["id"].as_str().unwrap().to_owned());
    }
    // Ties: i2 and i3 get i1's time, i5 gets i0's.
    let raw = common::RawDb::connect(&location).await;
    for (to, from) in [(2, 1), (3, 1), (5, 0)] {
        on_raw!(raw, |p| {
            sqlx::query("UPDATE intents SET created_at = (SELECT created_at FROM intents WHERE id = $1) WHERE id = $2")
                .bind(&ids[from])
                .bind(&ids[to])
                .execute(p)
                .await
                .unwrap();
        });
    }
    let expected = ["i6", "i4", "i3", "i2", "i1", "i5", "i0"];
    for limit in [1, 2, 3, 7] {
        assert_eq!(all_pages(&app, "anyone", limit, 7).await, expected, "limit {limit}");
    }
    // i2 restricted: a stranger no longer sees it; its creator and a reader with an entry do.
    let r = app
        .as_agent(
            Some("owner"),
            "PUT",
            &format!("/api/v1/intents/{}/acl", ids[2]),
            Some(json!({"default_policy": "closed", "entries": [{"principal_id": "reader", "permission": "read"}]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let narrowed = ["i6", "i4", "i3", "i1", "i5", "i0"];
    for limit in [1, 2, 4] {
        assert_eq!(all_pages(&app, "stranger", limit, 6).await, narrowed, "limit {limit}");
        assert_eq!(all_pages(&app, "owner", limit, 7).await, expected, "limit {limit}");
        assert_eq!(all_pages(&app, "reader", limit, 7).await, expected, "limit {limit}");
    }
}
