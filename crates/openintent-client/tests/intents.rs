//! Intents: wire shape of every call, response parsing, paging and the concurrency helper.

mod common;

use common::*;
use futures_util::TryStreamExt;
use openintent_client::{ApiErrorKind, Error};
use openintent_transport::Method;
use openintent_types::{IntentStatus, StatePatch};
use serde_json::json;

#[tokio::test]
async fn create_intent_matches_the_captured_body() {
    let (client, mock) = client();
    mock.push(example_response("create_intent"));
    let intent = client
        .create_intent("Research market trends")
        .description("Analyze Q4 market data and identify patterns")
        .constraints(json!({"deadline": "2024-02-01"}))
        .initial_state(json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(intent.id, INTENT);
    assert_eq!(intent.version, 1);
    assert_eq!(intent.status, IntentStatus::Draft);
    let req = mock.last_request().unwrap();
    assert_request(&req, Method::Post, "/api/v1/intents", None);
    assert_eq!(req.headers.get("content-type"), Some("application/json"));
    assert_eq!(body(&req), example_request_body("create_intent"));
}

#[tokio::test]
async fn create_intent_minimal_omits_absent_fields_and_fills_created_by() {
    let (client, mock) = client();
    mock.push(example_response("create_intent_minimal"));
    let intent = client.create_intent("Book hotel in Paris").await.unwrap();
    assert_eq!(intent.title, "Book hotel in Paris");
    let sent = body(&mock.last_request().unwrap());
    assert_eq!(sent, json!({"title": "Book hotel in Paris", "created_by": AGENT}));
}

#[tokio::test]
async fn create_intent_validation_sends_nothing() {
    let (client, mock) = client();
    let err = client.create_intent("   ").send().await.unwrap_err();
    match &err {
        Error::Invalid(e) => assert_eq!(e.field, "title"),
        other => panic!("{other:?}"),
    }
    assert!(err.is_validation() && !err.may_have_been_sent());
    let err = client.create_intent("t").constraints(json!(["must-be-object"])).send().await.unwrap_err();
    assert!(matches!(&err, Error::Invalid(e) if e.field == "constraints"), "{err:?}");
    assert_eq!(mock.request_count(), 0);
}

#[tokio::test]
async fn get_intent_and_not_found() {
    let (client, mock) = client();
    mock.push(example_response("get_intent"));
    mock.push(example_response("error_get_intent_not_found"));
    let intent = client.get_intent(INTENT).await.unwrap();
    assert_eq!(intent.constraints["deadline"], "2024-02-01");
    let req = &mock.requests()[0];
    assert_request(req, Method::Get, &format!("/api/v1/intents/{INTENT}"), None);
    assert!(req.body.is_none());
    let err = client.get_intent("00000000-0000-0000-0000-000000000000").await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert_eq!(err.status(), Some(404));
    assert_eq!(err.api().unwrap().message(), "Intent not found");
}

#[tokio::test]
async fn ids_are_checked_and_encoded() {
    let (client, mock) = client();
    assert!(matches!(client.get_intent("").await, Err(Error::Invalid(e)) if e.field == "intent_id"));
    mock.push(json(200, json!({"id": "a/b?c", "title": "t", "version": 1})));
    client.get_intent("a/b?c").await.unwrap();
    assert_eq!(mock.last_request().unwrap().path, "/api/v1/intents/a%2Fb%3Fc");
}

#[tokio::test]
async fn update_state_sends_patches_with_if_match() {
    let (client, mock) = client();
    mock.push(example_response("patch_state_patches"));
    let intent = client
        .update_state(INTENT, 2)
        .set("draft_content", "...")
        .append("/log", "phase 1 done")
        .remove("/current_phase")
        .send()
        .await
        .unwrap();
    assert_eq!(intent.version, 3);
    let req = mock.last_request().unwrap();
    assert_request(&req, Method::Post, &format!("/api/v1/intents/{INTENT}/state"), Some("2"));
    assert_contains(&body(&req), &example_request_body("patch_state_patches"));
}

#[tokio::test]
async fn update_state_merge_is_the_seed_dict_form() {
    let (client, mock) = client();
    mock.push(example_response("patch_state_merge"));
    client.update_state(INTENT, 1).merge(json!({"progress": 0.5, "a/b": 1})).send().await.unwrap();
    let sent = body(&mock.last_request().unwrap());
    let patches = sent["patches"].as_array().unwrap();
    assert_eq!(patches.len(), 2);
    assert!(patches.contains(&json!({"op": "set", "path": "/progress", "value": 0.5})));
    assert!(patches.contains(&json!({"op": "set", "path": "/a~1b", "value": 1})));
    // No patches at all, or a non-object merge: refused before sending.
    assert!(client.update_state(INTENT, 1).send().await.unwrap_err().is_validation());
    assert!(client.update_state(INTENT, 1).merge(json!(3)).send().await.unwrap_err().is_validation());
    assert_eq!(mock.request_count(), 1);
}

#[tokio::test]
async fn version_conflicts_and_governance() {
    let (client, mock) = client();
    mock.push(example_response("error_patch_state_version_conflict"));
    mock.push(example_response("error_set_status_version_conflict"));
    mock.push(example_response("error_governance_violation_403"));
    let err = client.update_state(INTENT, 1).set("progress", 0.9).send().await.unwrap_err();
    assert!(err.is_version_conflict() && err.is_conflict() && !err.is_lease_conflict());
    let err = client.set_status(INTENT, 1, "completed").send().await.unwrap_err();
    assert_eq!(err.api_kind(), Some(&ApiErrorKind::VersionConflict { current_version: None }));
    let err = client.update_state(INTENT, 1).set("x", 1).send().await.unwrap_err();
    assert!(err.is_forbidden());
    assert_eq!(err.api().unwrap().rule(), Some("write_scope"));
}

/// A refused status change is its own kind, in the openintent-rs server's body and in a
/// text-only body, and never a version conflict.
#[tokio::test]
async fn refused_transitions_are_not_version_conflicts() {
    let (client, mock) = client();
    mock.push(json(
        409,
        json!({
            "detail": "Invalid status transition: draft -> draft (allowed: active, completed, abandoned)",
            "error": "invalid_transition", "from": "draft", "to": "draft",
            "allowed": ["active", "completed", "abandoned"], "current_status": "draft",
        }),
    ));
    mock.push(json(409, json!({"detail": "Invalid status transition: completed -> active (completed is terminal)"})));
    let err = client.set_status(INTENT, 1, "draft").send().await.unwrap_err();
    assert!(err.is_invalid_transition(), "{err}");
    assert!(!err.is_version_conflict() && !err.is_conflict(), "{err}");
    assert_eq!(err.status(), Some(409));
    let refused = err.invalid_transition().unwrap();
    assert_eq!(refused.from, Some(IntentStatus::Draft));
    assert_eq!(refused.to, Some(IntentStatus::Draft));
    let allowed = vec![IntentStatus::Active, IntentStatus::Completed, IntentStatus::Abandoned];
    assert_eq!(refused.allowed.as_ref(), Some(&allowed));
    assert!(!err.to_string().contains("version conflict"), "{err}");

    let err = client.set_status(INTENT, 4, "active").send().await.unwrap_err();
    let refused = err.invalid_transition().expect("recognised by the detail text alone");
    assert_eq!((refused.from.clone(), refused.to.clone()), (Some(IntentStatus::Completed), Some(IntentStatus::Active)));
    assert_eq!(refused.allowed, Some(Vec::new()));
    assert!(!err.is_version_conflict());
    mock.assert_all_used();
}

#[tokio::test]
async fn set_status_with_reason() {
    let (client, mock) = client();
    mock.push(example_response("set_status"));
    let intent = client.set_status(INTENT, 3, IntentStatus::Active).reason("work started").send().await.unwrap();
    assert_eq!(intent.status, IntentStatus::Active);
    let req = mock.last_request().unwrap();
    assert_request(&req, Method::Post, &format!("/api/v1/intents/{INTENT}/status"), Some("3"));
    assert_eq!(body(&req), example_request_body("set_status"));
}

#[tokio::test]
async fn agents() {
    let (client, mock) = client();
    mock.push(example_response("assign_agent"));
    mock.push(json(200, json!({"id": "x", "intent_id": INTENT, "agent_id": AGENT, "role": "worker", "assigned_at": "2026-11-24T13:50:27"})));
    mock.push(example_response("list_agents"));
    mock.push(example_response("unassign_agent_unsupported"));
    let a = client.assign_agent(INTENT).agent_id("agent-research").send().await.unwrap();
    assert_eq!(a.agent_id, "agent-research");
    let req = &mock.requests()[0];
    assert_request(req, Method::Post, &format!("/api/v1/intents/{INTENT}/agents"), None);
    assert_eq!(body(req), example_request_body("assign_agent"));
    client.assign_agent(INTENT).role("reviewer").await.unwrap();
    assert_eq!(body(&mock.requests()[1]), json!({"agent_id": AGENT, "role": "reviewer"}));
    let list = client.get_agents(INTENT).await.unwrap();
    assert!(!list.is_empty());
    assert_request(&mock.requests()[2], Method::Get, &format!("/api/v1/intents/{INTENT}/agents"), None);
    let err = client.unassign_agent(INTENT, "agent-research").await.unwrap_err();
    assert!(err.is_unsupported(), "{err:?}");
    assert_request(
        &mock.requests()[3],
        Method::Delete,
        &format!("/api/v1/intents/{INTENT}/agents/agent-research"),
        None,
    );
}

fn intent(id: usize) -> serde_json::Value {
    json!({"id": format!("i{id}"), "title": format!("t{id}"), "version": 1, "status": "active"})
}

#[tokio::test]
async fn list_intents_pages_through_everything() {
    let (client, mock) = client();
    mock.push(json(200, json!({"intents": [intent(0), intent(1)], "total": 5, "limit": 2, "offset": 0})));
    mock.push(json(200, json!({"intents": [intent(2), intent(3)], "total": 5, "limit": 2, "offset": 2})));
    mock.push(json(200, json!({"intents": [intent(4)], "total": 5, "limit": 2, "offset": 4})));
    let all: Vec<_> = client.list_intents().status("active").limit(2).into_stream().try_collect().await.unwrap();
    assert_eq!(all.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(), ["i0", "i1", "i2", "i3", "i4"]);
    let reqs = mock.requests();
    assert_eq!(reqs.len(), 3);
    for (n, r) in reqs.iter().enumerate() {
        assert_request(r, Method::Get, "/api/v1/intents", None);
        assert_eq!(query(r, "offset"), Some((n * 2).to_string().as_str()));
        assert_eq!(query(r, "limit"), Some("2"));
        assert_eq!(query(r, "status"), Some("active"));
    }
}

#[tokio::test]
async fn list_intents_follows_next_cursor_when_the_server_gives_one() {
    let (client, mock) = client();
    let page = |items: Vec<serde_json::Value>, next: Option<&str>| {
        let mut p = json!({"intents": items, "total": 5, "limit": 2, "offset": 0});
        if let Some(c) = next {
            p["next_cursor"] = json!(c);
        }
        json(200, p)
    };
    mock.push(page(vec![intent(0), intent(1)], Some("c1")));
    mock.push(page(vec![intent(2), intent(3)], Some("c2")));
    mock.push(page(vec![intent(4)], None));
    let all: Vec<_> = client.list_intents().status("active").limit(2).into_stream().try_collect().await.unwrap();
    assert_eq!(all.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(), ["i0", "i1", "i2", "i3", "i4"]);
    let reqs = mock.requests();
    assert_eq!(reqs.len(), 3);
    assert_eq!((query(&reqs[0], "offset"), query(&reqs[0], "cursor")), (Some("0"), None));
    for (r, c) in reqs[1..].iter().zip(["c1", "c2"]) {
        assert_eq!((query(r, "cursor"), query(r, "offset")), (Some(c), None), "a cursor page sends no offset");
        assert_eq!((query(r, "limit"), query(r, "status")), (Some("2"), Some("active")));
    }
    // A full last page by cursor without a next cursor ends the walk (no empty page fetched).
    mock.push(page(vec![intent(0), intent(1)], Some("c1")));
    mock.push(page(vec![intent(2), intent(3)], None));
    let all: Vec<_> = client.list_intents().limit(2).into_stream().try_collect().await.unwrap();
    assert_eq!(all.len(), 4);
    mock.assert_all_used();
    // A server going round in circles (c1, c2, c1 again, with new items each time) cannot make
    // the walk endless: a cursor given twice ends it after that page.
    mock.push(page(vec![intent(0), intent(1)], Some("c1")));
    mock.push(page(vec![intent(2), intent(3)], Some("c2")));
    mock.push(page(vec![intent(4), intent(5)], Some("c1")));
    let all: Vec<_> = client.list_intents().limit(2).into_stream().try_collect().await.unwrap();
    assert_eq!(all.len(), 6);
    mock.assert_all_used();
    // One page by cursor; the page says what follows.
    mock.push(page(vec![intent(2), intent(3)], Some("c2")));
    let one = client.list_intents().limit(2).offset(4).cursor("c1").send().await.unwrap();
    assert_eq!((one.next_cursor.as_deref(), one.offset, one.has_more()), (Some("c2"), 0, true));
    let r = mock.last_request().unwrap();
    assert_eq!((query(&r, "cursor"), query(&r, "offset")), (Some("c1"), None));
}

#[tokio::test]
async fn list_intents_stops_on_a_short_bare_page_and_on_a_repeated_page() {
    let (client, mock) = client();
    mock.push(json(200, json!([intent(0), intent(1)])));
    mock.push(json(200, json!([intent(0), intent(1)])));
    let all: Vec<_> = client.list_intents().limit(2).into_stream().try_collect().await.unwrap();
    assert_eq!(all.len(), 2, "a server ignoring offset must not loop forever");
    let page = {
        mock.push(json(200, json!([intent(7)])));
        client.list_intents().send().await.unwrap()
    };
    assert_eq!((page.items.len(), page.limit, page.has_more()), (1, 50, false));
}

#[tokio::test]
async fn list_intents_unsupported_on_the_reference() {
    let (client, mock) = client();
    mock.push(example_response("list_intents_unsupported"));
    let mut stream = client.list_intents().status("active").into_stream();
    let err = stream.try_next().await.unwrap_err();
    assert!(err.is_unsupported(), "{err:?}");
    assert!(stream.try_next().await.unwrap().is_none());
    let req = mock.last_request().unwrap();
    assert_eq!((query(&req, "limit"), query(&req, "offset")), (Some("50"), Some("0")));
}

fn versioned(v: i64, count: i64) -> serde_json::Value {
    json!({"id": INTENT, "title": "t", "version": v, "state": {"count": count}})
}

#[tokio::test]
async fn update_state_with_retries_on_conflict() {
    let (client, mock) = client();
    let conflict = example_response("error_patch_state_version_conflict");
    mock.push(json(200, versioned(1, 0)));
    mock.push(conflict.clone());
    mock.push(json(200, versioned(2, 5)));
    mock.push(json(200, versioned(3, 6)));
    let intent = client
        .update_state_with(INTENT, |i| {
            let n = i.state["count"].as_i64().unwrap();
            vec![StatePatch::set_key("count", json!(n + 1))]
        })
        .send()
        .await
        .unwrap();
    assert_eq!(intent.version, 3);
    let reqs = mock.requests();
    assert_eq!(reqs.len(), 4);
    assert_request(&reqs[0], Method::Get, &format!("/api/v1/intents/{INTENT}"), None);
    assert_request(&reqs[1], Method::Post, &format!("/api/v1/intents/{INTENT}/state"), Some("1"));
    assert_request(&reqs[3], Method::Post, &format!("/api/v1/intents/{INTENT}/state"), Some("2"));
    assert_eq!(body(&reqs[3])["patches"][0]["value"], 6);
}

#[tokio::test]
async fn update_state_with_gives_up_after_the_bound() {
    let (client, mock) = client();
    for v in 1..=3 {
        mock.push(json(200, versioned(v, 0)));
        mock.push(example_response("error_patch_state_version_conflict"));
    }
    let mut calls = 0;
    let err = client
        .update_state_with(INTENT, |_| {
            calls += 1;
            vec![StatePatch::set_key("x", json!(1))]
        })
        .max_attempts(3)
        .send()
        .await
        .unwrap_err();
    assert!(err.is_version_conflict());
    assert_eq!(mock.request_count(), 6);
    // Nothing to write: no write at all.
    mock.push(json(200, versioned(9, 0)));
    let same = client.update_state_with(INTENT, |_| Vec::new()).await.unwrap();
    assert_eq!(same.version, 9);
    assert_eq!(mock.request_count(), 7);
}

/// `update_state_with` retries version conflicts only: a 409 that is a refused transition (which
/// no retry resolves) is returned at once.
#[tokio::test]
async fn update_state_with_never_retries_a_refused_transition() {
    let (client, mock) = client();
    mock.push(json(200, versioned(1, 0)));
    mock.push(json(409, json!({"detail": "Invalid status transition: completed -> active"})));
    let err = client.update_state_with(INTENT, |_| vec![StatePatch::set_key("x", json!(1))]).await.unwrap_err();
    assert!(err.is_invalid_transition(), "{err}");
    assert_eq!(mock.request_count(), 2, "one read, one write, no retry");
    mock.assert_all_used();
}

#[tokio::test]
async fn depends_on_ignored_on_create_is_added_afterwards() {
    let (client, mock) = client();
    mock.push(json(200, json!({"id": "c", "title": "child", "version": 1, "depends_on": []})));
    mock.push(json(200, json!({"id": "c", "title": "child", "version": 2, "depends_on": ["a"]})));
    mock.push(json(200, json!({"id": "c", "title": "child", "version": 3, "depends_on": ["a", "b"]})));
    mock.push(json(200, json!({"id": "c", "title": "child", "version": 3, "depends_on": ["a", "b"]})));
    let intent = client.create_intent("child").depends_on(["a", "b"]).send().await.unwrap();
    assert_eq!(intent.depends_on, ["a", "b"]);
    let reqs = mock.requests();
    assert_eq!(body(&reqs[0])["depends_on"], json!(["a", "b"]));
    assert_request(&reqs[1], Method::Post, "/api/v1/intents/c/dependencies", Some("1"));
    assert_eq!(body(&reqs[1]), json!({"dependency_id": "a"}));
    assert_request(&reqs[2], Method::Post, "/api/v1/intents/c/dependencies", Some("2"));
    assert_request(&reqs[3], Method::Get, "/api/v1/intents/c", None);
    // A server that honours depends_on on create: one call.
    mock.push(json(200, json!({"id": "d", "title": "t", "version": 1, "depends_on": ["a"]})));
    client.create_intent("t").depends_on(["a"]).send().await.unwrap();
    assert_eq!(mock.request_count(), 5);
}
