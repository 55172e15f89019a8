//! Intent graphs (RFC-0002): children, dependencies (version-checked, cycles refused with the
//! cycle named), the relation queries, the graph, `depends_on` on create, and readiness: the
//! completion of an intent's last open dependency writes `task.ready` on it.

mod common;

use axum::http::StatusCode;
use common::{Reply, TestApp};
use serde_json::{Value, json};

async fn child(app: &TestApp, parent: &str, body: Value) -> Reply {
    app.post(&format!("/api/v1/intents/{parent}/children"), body).await
}

async fn version(app: &TestApp, id: &str) -> i64 {
    app.get(&format!("/api/v1/intents/{id}")).await.body["version"].as_i64().unwrap()
}

async fn add_dep(app: &TestApp, id: &str, dep: &str) -> Reply {
    let v = version(app, id).await.to_string();
    let path = format!("/api/v1/intents/{id}/dependencies");
    app.as_agent_with(Some("tester"), "POST", &path, Some(json!({"dependency_id": dep})), &[("if-match", &v)]).await
}

async fn remove_dep(app: &TestApp, id: &str, dep: &str) -> Reply {
    let v = version(app, id).await.to_string();
    let path = format!("/api/v1/intents/{id}/dependencies/{dep}");
    app.as_agent_with(Some("tester"), "DELETE", &path, None, &[("if-match", &v)]).await
}

async fn set_status(app: &TestApp, id: &str, status: &str) -> Reply {
    let v = version(app, id).await.to_string();
    let path = format!("/api/v1/intents/{id}/status");
    app.as_agent_with(Some("tester"), "POST", &path, Some(json!({"status": status})), &[("if-match", &v)]).await
}

async fn ids(app: &TestApp, id: &str, relation: &str) -> Vec<String> {
    let r = app.get(&format!("/api/v1/intents/{id}/{relation}")).await;
    assert_eq!(r.status, StatusCode::OK, "{relation}: {:?}", r.body);
    r.body[relation].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_owned()).collect()
}

fn id_of(r: &Reply) -> String {
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn children_descendants_ancestors() {
    let app = TestApp::memory().await;
    let root = app.intent("root").await;
    let r = child(&app, &root, json!({"title": "a", "parent_intent_id": "ignored"})).await;
    let a = id_of(&r);
    assert_eq!((r.body["parent_id"].clone(), r.body["parent_intent_id"].clone()), (json!(root), json!(root)));
    assert_eq!(r.body["status"], "draft");
    let created = app.events(&a).await;
    assert_eq!(created[0]["payload"]["parent_id"], json!(root), "as the reference's child event");
    let b = id_of(&child(&app, &root, json!({"title": "b"})).await);
    let a1 = id_of(&child(&app, &a, json!({"title": "a1"})).await);
    assert_eq!(ids(&app, &root, "children").await, [a.clone(), b.clone()]);
    assert_eq!(ids(&app, &root, "descendants").await, [a.clone(), a1.clone(), b.clone()]);
    assert_eq!(ids(&app, &a1, "ancestors").await, [a.clone(), root.clone()]);
    // Inside the envelopes both parent keys are sent.
    let r = app.get(&format!("/api/v1/intents/{root}/children")).await;
    assert_eq!(r.body["children"][0]["parent_intent_id"], json!(root));
    // A child of an unknown parent; bad bodies name the field and write nothing.
    let r = child(&app, "nope", json!({"title": "x"})).await;
    assert_eq!((r.status, r.detail()), (StatusCode::NOT_FOUND, "Parent intent not found"));
    let r = child(&app, &root, json!({"title": ""})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["detail"][0]["loc"][1], "title");
    let r = child(&app, &root, json!({"title": "x", "depends_on": "a"})).await;
    assert_eq!(r.body["detail"][0]["loc"][1], "depends_on");
    let r = child(&app, &root, json!({"title": "x", "depends_on": ["missing"]})).await;
    let detail = "Dependency intent not found (depends_on: missing)";
    assert_eq!((r.status, r.detail()), (StatusCode::NOT_FOUND, detail), "{:?}", r.body);
    assert_eq!(ids(&app, &root, "children").await.len(), 2);
    // A plain create naming an unknown parent is refused too.
    let r = app.post("/api/v1/intents", json!({"title": "orphan", "parent_intent_id": "missing"})).await;
    let detail = "Parent intent not found (parent_intent_id: missing)";
    assert_eq!((r.status, r.detail()), (StatusCode::NOT_FOUND, detail), "{:?}", r.body);
}

#[tokio::test]
async fn dependencies_add_remove_and_events() {
    let app = TestApp::memory().await;
    let (a, b) = (app.intent("a").await, app.intent("b").await);
    let r = add_dep(&app, &a, &b).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!((r.body["depends_on"].clone(), r.body["version"].clone()), (json!([b]), json!(2)));
    assert_eq!(r.headers["etag"], "\"2\"");
    assert_eq!(ids(&app, &a, "dependencies").await, [b.as_str()]);
    assert_eq!(ids(&app, &b, "dependents").await, [a.as_str()]);
    // Duplicates, unknown ids, stale versions, missing If-Match.
    assert_eq!(add_dep(&app, &a, &b).await.status, StatusCode::BAD_REQUEST);
    let r = add_dep(&app, &a, "missing").await;
    let detail = "Dependency intent not found (dependency_id: missing)";
    assert_eq!((r.status, r.detail()), (StatusCode::NOT_FOUND, detail));
    let path = format!("/api/v1/intents/{a}/dependencies");
    let body = Some(json!({"dependency_id": b}));
    let missing = "/api/v1/intents/missing/dependencies";
    let r = app.as_agent_with(Some("t"), "POST", missing, body.clone(), &[("if-match", "1")]).await;
    assert_eq!((r.status, r.detail()), (StatusCode::NOT_FOUND, "Intent not found"));
    let r = app.as_agent_with(Some("t"), "POST", &path, body.clone(), &[("if-match", "1")]).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = app.as_agent(Some("t"), "POST", &path, body).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = app.as_agent_with(Some("t"), "POST", &path, Some(json!({})), &[("if-match", "2")]).await;
    assert_eq!(r.body["detail"][0]["loc"], json!(["body", "dependency_id"]));
    // Removal; removing an absent dependency is a 404 (the reference answers 200).
    let r = remove_dep(&app, &a, &b).await;
    assert_eq!((r.status, r.body["depends_on"].clone()), (StatusCode::OK, json!([])));
    assert_eq!(remove_dep(&app, &a, &b).await.status, StatusCode::NOT_FOUND);
    let types: Vec<Value> = app.events(&a).await.iter().map(|e| e["event_type"].clone()).collect();
    assert_eq!(types, [json!("dependency_removed"), json!("dependency_added"), json!("intent_created")]);
    assert_eq!(version(&app, &a).await, 3);
}

#[tokio::test]
async fn cycles_are_refused_naming_the_cycle() {
    let app = TestApp::memory().await;
    let (a, b, c) = (app.intent("a").await, app.intent("b").await, app.intent("c").await);
    assert_eq!(add_dep(&app, &a, &b).await.status, StatusCode::OK);
    assert_eq!(add_dep(&app, &b, &c).await.status, StatusCode::OK);
    let r = add_dep(&app, &c, &a).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.detail(), format!("Dependency would create cycle: {c} -> {a} -> {b} -> {c}"));
    let r = add_dep(&app, &a, &a).await;
    assert_eq!(r.detail(), format!("Dependency would create cycle: {a} -> {a}"));
    assert_eq!(version(&app, &c).await, 1, "nothing written");
}

#[tokio::test]
async fn depends_on_at_creation_is_kept_and_checked() {
    let app = TestApp::memory().await;
    let dep = app.intent("dep").await;
    let r = app.post("/api/v1/intents", json!({"title": "x", "depends_on": [dep]})).await;
    assert_eq!(r.body["depends_on"], json!([dep]));
    let r = app.post("/api/v1/intents", json!({"title": "x", "depends_on": ["missing"]})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn readiness_follows_completion_and_writes_an_event() {
    let app = TestApp::memory().await;
    let root = app.intent("root").await;
    let fetch = id_of(&child(&app, &root, json!({"title": "fetch"})).await);
    let build = id_of(&child(&app, &root, json!({"title": "build"})).await);
    let deploy = id_of(&child(&app, &root, json!({"title": "deploy", "depends_on": [fetch, build]})).await);
    assert_eq!(ids(&app, &root, "ready").await, [fetch.clone(), build.clone()]);
    assert_eq!(ids(&app, &root, "blocked").await, [deploy.as_str()]);
    let ready_events = |events: Vec<Value>| events.iter().filter(|e| e["event_type"] == "task.ready").count();
    for id in [&fetch, &build] {
        assert_eq!(set_status(&app, id, "active").await.status, StatusCode::OK);
    }
    assert_eq!(set_status(&app, &fetch, "completed").await.status, StatusCode::OK);
    assert_eq!(ready_events(app.events(&deploy).await), 0, "build is still open");
    assert_eq!(ids(&app, &root, "blocked").await, [deploy.as_str()]);
    assert_eq!(set_status(&app, &build, "completed").await.status, StatusCode::OK);
    let events = app.events(&deploy).await;
    assert_eq!(ready_events(events.clone()), 1);
    let ready = events.iter().find(|e| e["event_type"] == "task.ready").unwrap();
    assert_eq!(ready["payload"]["dependency_id"], json!(build));
    // Completed children are neither ready nor blocked; deploy is now ready.
    assert_eq!(ids(&app, &root, "ready").await, [deploy.as_str()]);
    assert_eq!(ids(&app, &root, "blocked").await, Vec::<String>::new());
}

#[tokio::test]
async fn the_graph() {
    let app = TestApp::memory().await;
    let root = app.intent("root").await;
    let x = id_of(&child(&app, &root, json!({"title": "x"})).await);
    let y = id_of(&child(&app, &root, json!({"title": "y", "depends_on": [x]})).await);
    let r = app.get(&format!("/api/v1/intents/{root}/graph")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["root_id"], json!(root));
    let nodes: Vec<&str> = r.body["nodes"].as_array().unwrap().iter().map(|n| n["id"].as_str().unwrap()).collect();
    assert_eq!(nodes, [root.as_str(), x.as_str(), y.as_str()]);
    let edges = r.body["edges"].as_array().unwrap();
    assert!(edges.contains(&json!({"from": x, "to": y, "type": "dependency"})), "{edges:?}");
    assert!(edges.contains(&json!({"from": root, "to": x, "type": "parent"})), "{edges:?}");
    assert_eq!(r.body["aggregate_status"]["total"], 3);
    assert_eq!(r.body["blocking_intents"], json!([y]));
    for relation in ["graph", "children", "descendants", "ancestors", "dependencies", "dependents", "ready", "blocked"]
    {
        let r = app.get(&format!("/api/v1/intents/missing/{relation}")).await;
        assert_eq!((r.status, r.detail()), (StatusCode::NOT_FOUND, "Intent not found"), "{relation}");
    }
}
