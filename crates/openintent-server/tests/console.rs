//! The console (`/console`): its pages and files with their security headers and content types,
//! the index redirect, and the inbox routes it reads (`GET /api/v1/inbox` and its stream).

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{KEY, Reply, TestApp};
use futures_util::StreamExt;
use serde_json::{Value, json};
use tower::ServiceExt;

const WAIT: Duration = Duration::from_secs(10);

/// The directives the console's Content-Security-Policy must hold.
const CSP_DIRECTIVES: &[&str] = &[
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "connect-src 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "object-src 'none'",
];

fn assert_secured(r: &Reply, what: &str) {
    let csp = r.headers.get("content-security-policy").unwrap_or_else(|| panic!("{what}: no CSP")).to_str().unwrap();
    let directives: Vec<&str> = csp.split(';').map(str::trim).collect();
    for d in CSP_DIRECTIVES {
        assert!(directives.contains(d), "{what}: CSP {csp:?} lacks {d:?}");
    }
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{what}: {csp}");
    assert_eq!(r.headers["x-frame-options"], "DENY", "{what}");
    assert_eq!(r.headers["x-content-type-options"], "nosniff", "{what}");
}

fn text(r: &Reply) -> &str {
    r.body.as_str().unwrap_or_else(|| panic!("not text: {:?}", r.body))
}

#[tokio::test]
async fn the_console_page_is_served_with_the_security_headers() {
    let app = TestApp::memory().await;
    for path in ["/console", "/console/"] {
        let r = app.send("GET", path, &[], None).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert_eq!(r.headers["content-type"], "text/html; charset=utf-8");
        assert_eq!(r.headers["cache-control"], "no-cache");
        assert_secured(&r, path);
        let html = text(&r);
        assert!(html.contains("<script type=\"module\" src=\"/console/assets/app.js\"></script>"));
        // Nothing inline for the CSP to refuse: every script has a src, no style element or attribute.
        assert_eq!(html.matches("<script").count(), html.matches("<script type=\"module\" src=").count());
        assert!(!html.contains("<style") && !html.contains("style="), "inline style in the page");
        assert!(!html.contains("http://") && !html.contains("https://"), "the page loads nothing from elsewhere");
    }
}

#[tokio::test]
async fn the_index_redirects_to_the_console() {
    let app = TestApp::memory().await;
    let r = app.send("GET", "/", &[], None).await;
    assert_eq!(r.status, StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(r.headers["location"], "/console");
}

#[tokio::test]
async fn every_file_the_page_and_modules_name_is_served_with_its_content_type() {
    let app = TestApp::memory().await;
    let page = app.send("GET", "/console", &[], None).await;
    let mut todo: Vec<String> =
        text(&page).split('"').filter(|s| s.starts_with("/console/assets/")).map(str::to_owned).collect();
    assert!(todo.len() >= 3, "{todo:?}");
    let mut seen = Vec::new();
    while let Some(path) = todo.pop() {
        if seen.contains(&path) {
            continue;
        }
        let r = app.send("GET", &path, &[], None).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert_secured(&r, &path);
        let ct = r.headers["content-type"].to_str().unwrap().to_owned();
        let expected = match path.rsplit('.').next() {
            Some("js") => "text/javascript; charset=utf-8",
            Some("css") => "text/css; charset=utf-8",
            Some("svg") => "image/svg+xml",
            other => panic!("unexpected file type {other:?}"),
        };
        assert_eq!(ct, expected, "{path}");
        assert!(r.headers.contains_key("etag"), "{path}");
        let body = text(&r);
        if path.ends_with(".js") {
            // Data reaches the page as text only.
            for sink in ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"] {
                assert!(!body.contains(sink), "{path} uses {sink}");
            }
            for module in body.split(['\'', '"']).filter(|s| s.starts_with("./") && s.ends_with(".js")) {
                todo.push(format!("/console/assets/{}", &module[2..]));
            }
        }
        seen.push(path);
    }
    // Every module of the console was reached from the page.
    for name in ["app.js", "api.js", "stream.js", "inbox.js", "intent.js", "graph.js", "chart.js"] {
        assert!(seen.contains(&format!("/console/assets/{name}")), "{name} not reached: {seen:?}");
    }
}

#[tokio::test]
async fn an_unknown_file_is_404_and_an_unchanged_one_304() {
    let app = TestApp::memory().await;
    for path in ["/console/assets/nope.js", "/console/assets/..%2Fsrc%2Flib.rs", "/console/nope"] {
        let r = app.send("GET", path, &[], None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
    }
    let r = app.send("GET", "/console/assets/nope.js", &[], None).await;
    assert_secured(&r, "404");
    let first = app.send("GET", "/console/assets/app.js", &[], None).await;
    let tag = first.headers["etag"].to_str().unwrap().to_owned();
    let again = app.send("GET", "/console/assets/app.js", &[("if-none-match", &tag)], None).await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert_eq!(again.body, Value::Null);
    let other = app.send("GET", "/console/assets/app.js", &[("if-none-match", "\"0\"")], None).await;
    assert_eq!(other.status, StatusCode::OK);
}

// ----- the inbox -----------------------------------------------------------------------------

async fn inbox(app: &TestApp) -> Vec<Value> {
    let r = app.get("/api/v1/inbox").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body["items"].as_array().unwrap().clone()
}

fn kinds(items: &[Value]) -> Vec<&str> {
    items.iter().map(|i| i["kind"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn the_inbox_needs_a_key() {
    let app = TestApp::memory().await;
    assert_eq!(app.send("GET", "/api/v1/inbox", &[], None).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.send("GET", "/api/v1/subscribe/inbox", &[], None).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_inbox_lists_what_waits_for_a_human_oldest_first_until_it_is_settled() {
    let app = TestApp::memory().await;
    assert!(inbox(&app).await.is_empty());
    let a = app.intent("needs approval").await;
    let s = app.intent("needs input").await;
    let b = app.intent("needs arbitration").await;
    let e = app.intent("escalated").await;

    let approval = app
        .as_agent(Some("bot"), "POST", &format!("/api/v1/intents/{a}/approvals"), Some(json!({"action": "complete"})))
        .await;
    assert_eq!(approval.status, StatusCode::OK);
    let body = json!({"question": "Refund?", "response_type": "choice",
        "choices": [{"value": "yes", "label": "Yes"}, {"value": "no", "label": "No"}]});
    let suspended = app
        .as_agent_with(Some("bot"), "POST", &format!("/api/v1/intents/{s}/suspend"), Some(body), &[("if-match", "1")])
        .await;
    assert_eq!(suspended.status, StatusCode::OK, "{:?}", suspended.body);
    let arb = app.post(&format!("/api/v1/intents/{b}/arbitrate"), json!({"reason": "disagree"})).await;
    assert_eq!(arb.status, StatusCode::OK);
    let esc = app.post(&format!("/api/v1/intents/{e}/escalations"), json!({"reason": "help"})).await;
    assert_eq!(esc.status, StatusCode::OK, "{:?}", esc.body);

    let items = inbox(&app).await;
    assert_eq!(kinds(&items), ["approval", "input", "arbitration", "escalation"]);
    assert_eq!(items[0]["intent_id"], a.as_str());
    assert_eq!(items[0]["intent_title"], "needs approval");
    assert_eq!(items[0]["item"]["id"], approval.body["id"]);
    assert_eq!(items[1]["item"]["question"], "Refund?");
    assert_eq!(items[1]["intent_status"], "suspended_awaiting_input");
    assert_eq!(items[2]["item"]["id"], arb.body["id"]);
    assert_eq!(items[3]["item"]["id"], esc.body["id"]);
    let times: Vec<&str> = items.iter().map(|i| i["created_at"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");

    // Each settled item leaves.
    let aid = approval.body["id"].as_str().unwrap();
    let r = app.post(&format!("/api/v1/intents/{a}/approvals/{aid}/approve"), json!({"reason": "ok"})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let sid = suspended.body["state"]["_suspension"]["id"].as_str().unwrap();
    let r =
        app.post(&format!("/api/v1/intents/{s}/suspend/respond"), json!({"suspension_id": sid, "value": "yes"})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(kinds(&inbox(&app).await), ["arbitration", "escalation"]);
    let r = app.post(&format!("/api/v1/intents/{b}/decisions"), json!({"outcome": "A", "rationale": "why"})).await;
    assert_eq!(r.status, StatusCode::OK);
    let eid = esc.body["id"].as_str().unwrap();
    let r = app.post(&format!("/api/v1/escalations/{eid}/resolve"), json!({"resolution": "done"})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(inbox(&app).await.is_empty());

    // A new arbitration after the decision waits again; of two, a decision naming one in its
    // evidence settles that one only.
    let first = app.post(&format!("/api/v1/intents/{b}/arbitrate"), json!({"reason": "again"})).await;
    let second = app.post(&format!("/api/v1/intents/{b}/arbitrate"), json!({"reason": "and again"})).await;
    assert_eq!(kinds(&inbox(&app).await), ["arbitration", "arbitration"]);
    let evidence = json!([{"arbitration_id": first.body["id"]}]);
    let r = app.post(&format!("/api/v1/intents/{b}/decisions"), json!({"outcome": "B", "evidence": evidence})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let left = inbox(&app).await;
    assert_eq!(kinds(&left), ["arbitration"]);
    assert_eq!(left[0]["item"]["id"], second.body["id"]);
}

#[tokio::test]
async fn the_inbox_of_a_closed_intent_is_empty() {
    let app = TestApp::memory().await;
    let id = app.intent("closing").await;
    app.post(&format!("/api/v1/intents/{id}/arbitrate"), json!({"reason": "disagree"})).await;
    assert_eq!(inbox(&app).await.len(), 1);
    let r = app
        .as_agent_with(
            Some("tester"),
            "POST",
            &format!("/api/v1/intents/{id}/status"),
            Some(json!({"status": "abandoned"})),
            &[("if-match", "1")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(inbox(&app).await.is_empty());
}

/// The next message (not a comment) of a stream: `(event, data)`.
async fn next_message(body: &mut axum::body::BodyDataStream, pending: &mut String) -> (String, Value) {
    loop {
        if let Some(p) = pending.find("\n\n") {
            let block: String = pending.drain(..p + 2).collect();
            let mut event = String::new();
            let mut data = String::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event: ") {
                    event = v.to_owned();
                } else if let Some(v) = line.strip_prefix("data: ") {
                    data.push_str(v);
                }
            }
            if event.is_empty() {
                continue;
            }
            return (event, serde_json::from_str(&data).unwrap());
        }
        let chunk = tokio::time::timeout(WAIT, body.next()).await.expect("timed out").expect("the stream ended");
        pending.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
    }
}

#[tokio::test]
async fn the_inbox_stream_announces_what_adds_or_settles_an_item() {
    let app = TestApp::memory().await;
    let id = app.intent("watched").await;
    let req = Request::get("/api/v1/subscribe/inbox").header("x-api-key", KEY).body(Body::empty()).unwrap();
    let resp = app.router.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "text/event-stream; charset=utf-8");
    let mut body = resp.into_body().into_data_stream();
    let mut pending = String::new();
    assert_eq!(next_message(&mut body, &mut pending).await.0, "ready");

    // A comment settles nothing and is not announced; the arbitration request is.
    app.post(&format!("/api/v1/intents/{id}/events"), json!({"event_type": "comment", "payload": {}})).await;
    let arb = app.post(&format!("/api/v1/intents/{id}/arbitrate"), json!({"reason": "disagree"})).await;
    let (event, data) = next_message(&mut body, &mut pending).await;
    assert_eq!(event, "inbox");
    assert_eq!(data["intent_id"], id.as_str());
    assert_eq!(data["event_type"], "arbitration_requested");
    assert_eq!(data["id"], arb.body["id"]);
    app.post(&format!("/api/v1/intents/{id}/decisions"), json!({"outcome": "A"})).await;
    let (_, data) = next_message(&mut body, &mut pending).await;
    assert_eq!(data["event_type"], "decision_recorded");

    // An approval request logs no event, and is announced all the same.
    let approval =
        app.post(&format!("/api/v1/intents/{id}/approvals"), json!({"action": "complete", "reason": "ready"})).await;
    let (event, data) = next_message(&mut body, &mut pending).await;
    assert_eq!(event, "inbox");
    assert_eq!(data["intent_id"], id.as_str());
    assert_eq!(data["event_type"], "governance.approval_requested");
    assert_eq!(data["id"], approval.body["id"]);
}

#[tokio::test]
async fn the_inbox_routes_are_in_the_openapi_document() {
    let doc = openintent_server::openapi_document();
    assert!(doc["paths"]["/api/v1/inbox"]["get"].is_object());
    assert!(doc["paths"]["/api/v1/subscribe/inbox"]["get"].is_object());
}

#[tokio::test]
async fn the_inbox_shows_only_the_intents_the_caller_may_read() {
    let app = TestApp::memory().await;
    let open = app.intent("open").await;
    let guarded = app.intent("guarded").await;
    let acl = json!({"default_policy": "closed", "entries": [{"principal_id": "reader", "permission": "read"}]});
    let r = app.as_agent(Some("tester"), "PUT", &format!("/api/v1/intents/{guarded}/acl"), Some(acl)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);

    // The stranger's stream, opened before the requests.
    let req = Request::get("/api/v1/subscribe/inbox")
        .header("x-api-key", KEY)
        .header("x-agent-id", "stranger")
        .body(Body::empty())
        .unwrap();
    let mut body = app.router.clone().oneshot(req).await.unwrap().into_body().into_data_stream();
    let mut pending = String::new();
    assert_eq!(next_message(&mut body, &mut pending).await.0, "ready");

    for id in [&guarded, &open] {
        let r = app.post(&format!("/api/v1/intents/{id}/arbitrate"), json!({"reason": "disagree"})).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let r = app.post(&format!("/api/v1/intents/{id}/escalations"), json!({"reason": "help"})).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let r = app.post(&format!("/api/v1/intents/{id}/approvals"), json!({"action": "complete"})).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    }
    let app = &app;
    let as_who = |who: &'static str| async move {
        let r = app.as_agent(Some(who), "GET", "/api/v1/inbox", None).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["intent_id"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(as_who("stranger").await, [open.clone(), open.clone(), open.clone()]);
    assert_eq!(as_who("reader").await.len(), 6);
    assert_eq!(as_who("tester").await.len(), 6, "the creator");

    // The stranger hears of the open intent only (its arbitration, escalation and approval
    // request), never of the guarded one's.
    for _ in 0..3 {
        let (_, data) = next_message(&mut body, &mut pending).await;
        assert_eq!(data["intent_id"], open.as_str(), "{data}");
    }
}
