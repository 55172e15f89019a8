//! Per-intent access control (RFC-0011): the ACL routes, access requests, their events, and
//! the enforcement of an intent's ACL on every per-intent route.

mod common;

use axum::http::StatusCode;
use common::TestApp;
use openintent_server::openapi_document;
use serde_json::{Value, json};

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["event_type"].as_str().unwrap()).collect()
}

async fn put_acl(app: &TestApp, id: &str, body: Value) -> common::Reply {
    app.as_agent(Some("tester"), "PUT", &format!("/api/v1/intents/{id}/acl"), Some(body)).await
}

#[tokio::test]
async fn an_intent_without_acl_is_open_and_reading_stores_nothing() {
    let app = TestApp::memory().await;
    let id = app.intent("t").await;
    let r = app.get(&format!("/api/v1/intents/{id}/acl")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, json!({"intent_id": id, "default_policy": "open", "entries": []}));
    assert_eq!(types(&app.events(&id).await), ["intent_created"]);
    // Anyone with a key may act.
    let other = app.as_agent(Some("someone"), "GET", &format!("/api/v1/intents/{id}"), None).await;
    assert_eq!(other.status, StatusCode::OK);
    let missing = app.get("/api/v1/intents/no-such/acl").await;
    assert_eq!((missing.status, missing.detail()), (StatusCode::NOT_FOUND, "Intent not found"));
}

#[tokio::test]
async fn put_replaces_the_whole_acl() {
    let app = TestApp::memory().await;
    let id = app.intent("t").await;
    let r = put_acl(
        &app,
        &id,
        json!({"default_policy": "closed", "entries": [
            {"principal_id": "bot", "permission": "write", "expires_at": "2031-01-01T12:00:00+02:00"},
            {"principal_id": "ops", "principal_type": "group", "granted_by": "admin-console"},
        ]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["default_policy"], "closed");
    let entries = r.body["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    // Offsets are converted to UTC (the reference cuts them off).
    assert_eq!(entries[0]["expires_at"], "2031-01-01T10:00:00.000000");
    assert_eq!((&entries[0]["granted_by"], &entries[0]["principal_type"]), (&json!("tester"), &json!("agent")));
    assert_eq!((&entries[1]["permission"], &entries[1]["granted_by"]), (&json!("read"), &json!("admin-console")));
    assert!(entries[1]["reason"].is_null() && entries[1]["expires_at"].is_null());
    let first_ids: Vec<Value> = entries.iter().map(|e| e["id"].clone()).collect();
    assert_eq!(app.get(&format!("/api/v1/intents/{id}/acl")).await.body, r.body);
    // `{}` resets it to open with no entries.
    let reset = put_acl(&app, &id, json!({})).await;
    assert_eq!((reset.status, &reset.body["default_policy"]), (StatusCode::OK, &json!("open")));
    assert_eq!(reset.body["entries"], json!([]));
    let again = put_acl(&app, &id, json!({"entries": [{"principal_id": "bot"}]})).await;
    assert!(!first_ids.contains(&again.body["entries"][0]["id"]));
    let events = app.events(&id).await;
    let set: Vec<&Value> = events.iter().filter(|e| e["payload"]["action"] == "acl_set").collect();
    assert_eq!(set.len(), 3);
    assert_eq!(set.last().unwrap()["payload"]["default_policy"], "closed");
    assert_eq!(set.last().unwrap()["actor"], "tester");
}

#[tokio::test]
async fn bad_acl_bodies_are_422_naming_the_field_and_change_nothing() {
    let app = TestApp::memory().await;
    let id = app.intent("t").await;
    let cases = [
        (json!({"default_policy": "bogus"}), "default_policy"),
        (json!({"default_policy": 3}), "default_policy"),
        (json!({"entries": [{"permission": "read"}]}), "entries"),
        (json!({"entries": [{"principal_id": "a", "permission": "owner"}]}), "entries"),
        (json!({"entries": [{"principal_id": "a", "expires_at": "not a time"}]}), "entries"),
        (json!({"entries": "x"}), "entries"),
    ];
    for (body, field) in cases {
        let r = put_acl(&app, &id, body.clone()).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {:?}", r.body);
        let loc = r.body["detail"][0]["loc"].to_string();
        assert!(loc.contains(field), "{body}: {loc}");
    }
    let grant = format!("/api/v1/intents/{id}/acl/entries");
    for (body, field) in [
        (json!({}), "principal_id"),
        (json!({"principal_id": "a", "permission": "owner"}), "permission"),
        (json!({"principal_id": "a", "expires_at": "soon"}), "expires_at"),
    ] {
        let r = app.post(&grant, body.clone()).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(r.body["detail"][0]["loc"].to_string().contains(field), "{body}: {:?}", r.body);
    }
    assert_eq!(app.get(&format!("/api/v1/intents/{id}/acl")).await.body["entries"], json!([]));
    assert_eq!(types(&app.events(&id).await), ["intent_created"]);
}

#[tokio::test]
async fn grant_and_revoke() {
    let app = TestApp::memory().await;
    let id = app.intent("t").await;
    let r = app.post(&format!("/api/v1/intents/{id}/acl/entries"), json!({"principal_id": "bot"})).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!((&r.body["permission"], &r.body["granted_by"]), (&json!("read"), &json!("tester")));
    let twice = app
        .post(&format!("/api/v1/intents/{id}/acl/entries"), json!({"principal_id": "bot", "permission": "admin"}))
        .await;
    let acl = app.get(&format!("/api/v1/intents/{id}/acl")).await.body;
    assert_eq!(acl["entries"].as_array().unwrap().len(), 2, "grants append");
    assert_eq!(acl["default_policy"], "open");
    let entry = r.body["id"].as_str().unwrap();
    let path = format!("/api/v1/intents/{id}/acl/entries/{entry}");
    let del = app.as_agent(Some("tester"), "DELETE", &path, None).await;
    assert_eq!((del.status, &del.body), (StatusCode::NO_CONTENT, &Value::Null));
    let gone = app.as_agent(Some("tester"), "DELETE", &path, None).await;
    assert_eq!((gone.status, gone.detail()), (StatusCode::NOT_FOUND, "ACL entry not found"));
    // An entry of another intent, and an unknown intent.
    let other = app.intent("o").await;
    let twice_id = twice.body["id"].as_str().unwrap();
    let wrong = format!("/api/v1/intents/{other}/acl/entries/{twice_id}");
    assert_eq!(app.as_agent(Some("tester"), "DELETE", &wrong, None).await.status, StatusCode::NOT_FOUND);
    let none = format!("/api/v1/intents/nope/acl/entries/{twice_id}");
    assert_eq!(app.as_agent(Some("tester"), "DELETE", &none, None).await.detail(), "ACL entry not found");
    let events = app.events(&id).await;
    assert_eq!(types(&events)[..3], ["access_revoked", "access_granted", "access_granted"]);
    assert_eq!(events[0]["payload"], json!({"entry_id": entry, "principal_id": "bot"}));
    assert_eq!(events[2]["payload"], json!({"principal_id": "bot", "permission": "read"}));
    let missing = app.post("/api/v1/intents/nope/acl/entries", json!({"principal_id": "bot"})).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn access_requests_are_filed_listed_and_decided() {
    let app = TestApp::memory().await;
    let id = app.intent("t").await;
    let base = format!("/api/v1/intents/{id}/access-requests");
    let r = app
        .as_agent(Some("newcomer"), "POST", &base, Some(json!({"principal_id": "newcomer", "capabilities": ["nlp"]})))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!((&r.body["status"], &r.body["requested_permission"]), (&json!("pending"), &json!("write")));
    assert_eq!((&r.body["reason"], &r.body["decided_by"]), (&json!(""), &Value::Null));
    let rid = r.body["id"].as_str().unwrap().to_owned();
    let second = app.post(&base, json!({"principal_id": "other", "requested_permission": "read"})).await;
    let list = app.get(&base).await;
    assert_eq!(list.body["access_requests"].as_array().unwrap().len(), 2);

    // Approve through another intent's path: 404, nothing decided.
    let other = app.intent("o").await;
    let wrong = app
        .post(&format!("/api/v1/intents/{other}/access-requests/{rid}/approve"), json!({"decided_by": "boss"}))
        .await;
    assert_eq!((wrong.status, wrong.detail()), (StatusCode::NOT_FOUND, "Access request not found or already decided"));

    let ok = app
        .post(&format!("{base}/{rid}/approve"), json!({"decided_by": "boss", "permission": "read", "reason": "ok"}))
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.body);
    assert_eq!((&ok.body["status"], &ok.body["decided_by"]), (&json!("approved"), &json!("boss")));
    assert_eq!(ok.body["decision_reason"], "ok");
    assert!(ok.body["decided_at"].is_string());
    let entries = app.get(&format!("/api/v1/intents/{id}/acl")).await.body["entries"].clone();
    assert_eq!(entries[0]["principal_id"], "newcomer");
    assert_eq!((&entries[0]["permission"], &entries[0]["granted_by"]), (&json!("read"), &json!("boss")));
    assert_eq!(entries[0]["reason"], "Approved access request: ok");
    let twice = app.post(&format!("{base}/{rid}/deny"), json!({"decided_by": "boss"})).await;
    assert_eq!(twice.status, StatusCode::NOT_FOUND);

    let sid = second.body["id"].as_str().unwrap();
    let no_decider = app.post(&format!("{base}/{sid}/deny"), json!({})).await;
    assert_eq!(no_decider.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(no_decider.body["detail"][0]["loc"].to_string().contains("decided_by"));
    let denied = app.post(&format!("{base}/{sid}/deny"), json!({"decided_by": "boss", "reason": "no"})).await;
    assert_eq!((&denied.body["status"], &denied.body["decision_reason"]), (&json!("denied"), &json!("no")));

    let bad = app.post(&base, json!({"principal_type": "agent"})).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body["detail"][0]["loc"].to_string().contains("principal_id"));
    assert_eq!(app.post("/api/v1/intents/nope/access-requests", json!({"principal_id": "x"})).await.status, 404);
    assert_eq!(app.get("/api/v1/intents/nope/access-requests").await.status, 404);

    let events = app.events(&id).await;
    assert_eq!(
        types(&events)[..4],
        ["access_request_denied", "access_request_approved", "access_requested", "access_requested"]
    );
    // The actor is the authenticated caller, not a body field.
    assert_eq!(events[3]["actor"], "newcomer");
    assert_eq!(events[1]["actor"], "tester");
    assert_eq!(events[1]["payload"], json!({"request_id": rid, "principal_id": "newcomer", "permission": "read"}));
    assert_eq!(events[3]["payload"]["capabilities"], json!(["nlp"]));
}

async fn closed_intent(app: &TestApp) -> String {
    let id = app.intent("guarded").await;
    let r = put_acl(
        app,
        &id,
        json!({"default_policy": "closed", "entries": [
            {"principal_id": "reader", "permission": "read"},
            {"principal_id": "writer", "permission": "write"},
            {"principal_id": "late", "permission": "admin", "expires_at": "2020-01-01T00:00:00Z"},
        ]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    id
}

#[tokio::test]
async fn a_closed_acl_is_enforced_by_level() {
    let app = TestApp::memory().await;
    let id = closed_intent(&app).await;
    let path = format!("/api/v1/intents/{id}");
    let get = |who: &'static str| app.as_agent(Some(who), "GET", &path, None);
    assert_eq!(get("reader").await.status, StatusCode::OK);
    let refused = get("stranger").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.detail().contains("read"), "{:?}", refused.body);
    assert_eq!(get("late").await.status, StatusCode::FORBIDDEN, "an expired entry grants nothing");

    let log = format!("/api/v1/intents/{id}/events");
    let event = json!({"event_type": "comment"});
    assert_eq!(app.as_agent(Some("reader"), "POST", &log, Some(event.clone())).await.status, 403);
    assert_eq!(app.as_agent(Some("writer"), "POST", &log, Some(event.clone())).await.status, 200);
    let status = format!("/api/v1/intents/{id}/status");
    let body = json!({"status": "active"});
    let w = app.as_agent_with(Some("writer"), "POST", &status, Some(body.clone()), &[("if-match", "1")]).await;
    assert_eq!(w.status, StatusCode::FORBIDDEN);
    // The creator is never locked out; a self-grant by a non-admin is refused.
    let c = app.as_agent_with(Some("tester"), "POST", &status, Some(body), &[("if-match", "1")]).await;
    assert_eq!(c.status, StatusCode::OK, "{:?}", c.body);
    let grant = json!({"principal_id": "writer", "permission": "admin"});
    let entries = format!("/api/v1/intents/{id}/acl/entries");
    assert_eq!(app.as_agent(Some("writer"), "POST", &entries, Some(grant)).await.status, StatusCode::FORBIDDEN);
    // Anyone may ask for access.
    let ask = app
        .as_agent(
            Some("stranger"),
            "POST",
            &format!("/api/v1/intents/{id}/access-requests"),
            Some(json!({"principal_id": "stranger"})),
        )
        .await;
    assert_eq!(ask.status, StatusCode::OK);
    // Unknown intents still answer 404, keyless calls 401.
    assert_eq!(app.as_agent(Some("stranger"), "GET", "/api/v1/intents/nope", None).await.status, 404);
    assert_eq!(app.send("GET", &format!("/api/v1/intents/{id}"), &[], None).await.status, 401);
}

#[tokio::test]
async fn the_intent_list_shows_a_closed_intent_only_to_who_may_read_it() {
    let app = TestApp::memory().await;
    let id = closed_intent(&app).await;
    let open = app.intent("open to all").await;
    let listed = |who: &'static str| {
        let app = &app;
        async move {
            let r = app.as_agent(Some(who), "GET", "/api/v1/intents?limit=1000", None).await;
            assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
            let ids: Vec<String> =
                r.body["intents"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_owned()).collect();
            (ids, r.body["total"].as_u64().unwrap())
        }
    };
    for who in ["tester", "reader", "writer"] {
        let (ids, total) = listed(who).await;
        assert!(ids.contains(&id) && ids.contains(&open), "{who}: {ids:?}");
        assert_eq!(total, 2, "{who}");
    }
    for who in ["stranger", "late"] {
        let (ids, total) = listed(who).await;
        assert_eq!(
            (ids, total),
            (vec![open.clone()], 1),
            "{who} (no entry, or an expired one) sees only the open intent"
        );
    }
}

#[tokio::test]
async fn escalations_of_a_closed_intent_are_kept_from_those_who_may_not_see_it() {
    let app = TestApp::memory().await;
    let id = closed_intent(&app).await;
    let r = app
        .as_agent(Some("tester"), "POST", &format!("/api/v1/intents/{id}/escalations"), Some(json!({"reason": "help"})))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let eid = r.body["id"].as_str().unwrap().to_owned();
    let listed = |who: &'static str| {
        let app = &app;
        async move {
            let r = app.as_agent(Some(who), "GET", "/api/v1/escalations", None).await;
            assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
            r.body["escalations"].as_array().unwrap().len()
        }
    };
    assert_eq!((listed("reader").await, listed("stranger").await), (1, 0));
    let one = format!("/api/v1/escalations/{eid}");
    assert_eq!(app.as_agent(Some("reader"), "GET", &one, None).await.status, StatusCode::OK);
    assert_eq!(app.as_agent(Some("stranger"), "GET", &one, None).await.status, StatusCode::FORBIDDEN);
    // Resolving writes to the intent's log: `write` is needed.
    let resolve = format!("/api/v1/escalations/{eid}/resolve");
    let body = json!({"resolution": "approved"});
    for who in ["stranger", "reader"] {
        let r = app.as_agent(Some(who), "POST", &resolve, Some(body.clone())).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{who}: {:?}", r.body);
    }
    assert_eq!(app.get(&one).await.body["status"], "pending", "nothing was resolved");
    let r = app.as_agent(Some("writer"), "POST", &resolve, Some(body)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

fn concrete(path: &str) -> String {
    path.split('/')
        .map(|seg| if seg.starts_with('{') && seg.ends_with('}') { "probe" } else { seg })
        .collect::<Vec<_>>()
        .join("/")
}

/// Every documented per-intent route (the document is held against the router by the
/// `openapi` tests) refuses a principal without access to a closed intent, except filing an
/// access request.
#[tokio::test]
async fn every_intent_route_refuses_a_principal_without_access() {
    let app = TestApp::memory().await;
    let id = closed_intent(&app).await;
    let doc = openapi_document();
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let per_intent = path.starts_with("/api/v1/intents/{id}") || path == "/api/v1/subscribe/intents/{id}";
        if !per_intent {
            continue;
        }
        for method in item.as_object().unwrap().keys() {
            let uri = concrete(&path.replacen("{id}", &id, 1));
            let m = method.to_uppercase();
            let body = (m != "GET" && m != "DELETE").then(|| json!({}));
            let r = app.as_agent_with(Some("stranger"), &m, &uri, body, &[("if-match", "1")]).await;
            if m == "POST" && path == "/api/v1/intents/{id}/access-requests" {
                assert_ne!(r.status, StatusCode::FORBIDDEN, "{m} {path}");
                continue;
            }
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{m} {path}: {:?}", r.body);
            checked += 1;
        }
    }
    assert!(checked >= 30, "only {checked} per-intent operations");
}
