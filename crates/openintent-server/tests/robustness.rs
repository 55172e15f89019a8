//! Bad input never produces a 5xx; every error is JSON; authentication comes first.

mod common;

use axum::body::Body;
use axum::http::StatusCode;
use common::{KEY, TestApp};
use openintent_server::{ApiKey, ServerConfig};
use serde_json::{Value, json};

const ROUTES: &[(&str, &str)] = &[
    ("POST", "/api/v1/intents"),
    ("GET", "/api/v1/intents"),
    ("GET", "/api/v1/intents/{id}"),
    ("POST", "/api/v1/intents/{id}/state"),
    ("POST", "/api/v1/intents/{id}/status"),
    ("POST", "/api/v1/intents/{id}/events"),
    ("GET", "/api/v1/intents/{id}/events"),
    ("POST", "/api/v1/intents/{id}/agents"),
    ("GET", "/api/v1/intents/{id}/agents"),
    ("DELETE", "/api/v1/intents/{id}/agents/{sub}"),
    ("POST", "/api/v1/intents/{id}/leases"),
    ("GET", "/api/v1/intents/{id}/leases"),
    ("PATCH", "/api/v1/intents/{id}/leases/{sub}"),
    ("DELETE", "/api/v1/intents/{id}/leases/{sub}"),
    ("POST", "/api/v1/intents/{id}/arbitrate"),
    ("GET", "/api/v1/intents/{id}/arbitrations"),
    ("POST", "/api/v1/intents/{id}/decisions"),
    ("GET", "/api/v1/intents/{id}/decisions"),
    ("POST", "/api/v1/intents/{id}/attachments"),
    ("GET", "/api/v1/intents/{id}/attachments"),
    ("DELETE", "/api/v1/intents/{id}/attachments/{sub}"),
    ("POST", "/api/v1/intents/{id}/costs"),
    ("GET", "/api/v1/intents/{id}/costs"),
    ("GET", "/api/v1/intents/{id}/costs/summary"),
    ("PUT", "/api/v1/intents/{id}/retry-policy"),
    ("GET", "/api/v1/intents/{id}/retry-policy"),
    ("POST", "/api/v1/intents/{id}/failures"),
    ("GET", "/api/v1/intents/{id}/failures"),
    ("GET", "/api/v1/intents/{id}/portfolios"),
    ("POST", "/api/v1/portfolios"),
    ("GET", "/api/v1/portfolios"),
    ("GET", "/api/v1/portfolios/{pid}"),
    ("PATCH", "/api/v1/portfolios/{pid}/status"),
    ("POST", "/api/v1/portfolios/{pid}/intents"),
    ("GET", "/api/v1/portfolios/{pid}/intents"),
    ("DELETE", "/api/v1/portfolios/{pid}/intents/{sub}"),
    ("POST", "/api/v1/subscriptions"),
    ("GET", "/api/v1/subscriptions"),
    ("DELETE", "/api/v1/subscriptions/{sub}"),
];

const FIELDS: &[&str] = &[
    "title",
    "description",
    "constraints",
    "state",
    "created_by",
    "status",
    "parent_intent_id",
    "governance_policy",
    "depends_on",
    "patches",
    "reason",
    "event_type",
    "actor",
    "payload",
    "agent_id",
    "role",
    "scope",
    "duration_seconds",
    "requested_by",
    "context",
    "options",
    "decision_type",
    "decided_by",
    "outcome",
    "rationale",
    "evidence",
    "filename",
    "mime_type",
    "size",
    "storage_url",
    "metadata",
    "cost_type",
    "amount",
    "unit",
    "provider",
    "cost_metadata",
    "strategy",
    "max_retries",
    "base_delay_ms",
    "max_delay_ms",
    "jitter",
    "backoff_multiplier",
    "retryable_errors",
    "fallback_agent_id",
    "failure_threshold",
    "error_type",
    "error_message",
    "attempt_number",
    "will_retry",
    "retry_scheduled_at",
    "name",
    "intent_id",
    "priority",
    "portfolio_id",
    "subscriber_id",
    "event_types",
    "webhook_url",
    "expires_at",
];

fn bodies() -> Vec<(Option<&'static str>, Vec<u8>)> {
    let json_ct = Some("application/json");
    let mut out: Vec<(Option<&'static str>, Vec<u8>)> = vec![
        (None, Vec::new()),
        (json_ct, Vec::new()),
        (json_ct, b"{".to_vec()),
        (json_ct, b"{\"title\": }".to_vec()),
        (json_ct, b"[]".to_vec()),
        (json_ct, b"\"text\"".to_vec()),
        (json_ct, b"123".to_vec()),
        (json_ct, b"null".to_vec()),
        (json_ct, b"{\"amount\": 1e400}".to_vec()),
        (json_ct, vec![0xff, 0xfe, 0x00]),
        (Some("text/plain"), b"{\"title\": \"x\"}".to_vec()),
        (Some("application/x-www-form-urlencoded"), b"title=x".to_vec()),
    ];
    for filler in [
        Value::Null,
        json!([[]]),
        json!({}),
        json!(-1),
        json!(99999999999999999999u128 as f64),
        json!("x"),
        json!(true),
        json!(1.5),
        json!(""),
    ] {
        let body: serde_json::Map<String, Value> = FIELDS.iter().map(|f| ((*f).to_owned(), filler.clone())).collect();
        out.push((json_ct, serde_json::to_vec(&body).unwrap()));
    }
    // Right types, absurd values.
    let long = "x".repeat(20_000);
    let body: serde_json::Map<String, Value> = FIELDS.iter().map(|f| ((*f).to_owned(), json!(long))).collect();
    out.push((json_ct, serde_json::to_vec(&body).unwrap()));
    out
}

fn assert_json_error(r: &common::Reply, what: &str) {
    assert!(r.status.as_u16() < 500, "{what} -> {} {:?}", r.status, r.body);
    if r.status.is_client_error() {
        assert!(r.body.get("detail").is_some(), "{what} -> {} without detail: {:?}", r.status, r.body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_never_5xx() {
    let config = ServerConfig::builder().database(common::test_database().await).body_limit(64 * 1024).build().unwrap();
    let app = TestApp::with_config(config).await;
    let id = app.intent("target").await;
    let pid = app.post("/api/v1/portfolios", json!({"name": "p"})).await.body["id"].as_str().unwrap().to_owned();
    let long_id = "y".repeat(5000);
    let ids: Vec<(&str, &str, &str)> = vec![
        (&id, &pid, "sub"),
        ("missing", "missing", "missing"),
        (&long_id, &long_id, &long_id),
        ("%FF%FE", "%00", "%2F..%2F"),
        ("a%20b", "%27%3B%20DROP%20TABLE%20intents%3B%20--", "%F0%9F%98%80"),
    ];
    let bodies = bodies();
    let mut checked = 0;
    for (method, template) in ROUTES {
        for (i, p, s) in &ids {
            let path = template.replace("{id}", i).replace("{pid}", p).replace("{sub}", s);
            for (ct, body) in &bodies {
                let mut headers = vec![("x-api-key", KEY), ("x-agent-id", "fuzzer"), ("if-match", "1")];
                if let Some(ct) = ct {
                    headers.push(("content-type", ct));
                }
                let r = app.send(method, &path, &headers, Some(Body::from(body.clone()))).await;
                assert_json_error(&r, &format!("{method} {path} {:?}", String::from_utf8_lossy(body)));
                checked += 1;
            }
            for q in ["?limit=abc", "?limit=-1&offset=x", "?since=%FF", "?status=&limit=99999999999999999999"] {
                let r = app.send(method, &format!("{path}{q}"), &[("x-api-key", KEY)], None).await;
                assert_json_error(&r, &format!("{method} {path}{q}"));
            }
        }
    }
    assert!(checked > 3000);
    // Too large: 413 with a JSON detail.
    let big = format!("{{\"title\": \"{}\"}}", "z".repeat(70 * 1024));
    let r = app
        .send(
            "POST",
            "/api/v1/intents",
            &[("x-api-key", KEY), ("content-type", "application/json")],
            Some(Body::from(big)),
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(r.detail().contains("65536"));
    // The target intent is untouched by all of that except allowed writes.
    assert_eq!(app.get(&format!("/api/v1/intents/{id}")).await.status, StatusCode::OK);
}

#[tokio::test]
async fn unknown_routes_and_methods() {
    let app = TestApp::memory().await;
    let r = app.get("/api/v1/nothing-here").await;
    assert_eq!((r.status, r.detail()), (StatusCode::NOT_FOUND, "Not Found"));
    let r = app.send("GET", "/v1/intents", &[], None).await;
    assert_eq!((r.status, r.detail()), (StatusCode::NOT_FOUND, "Not Found"));
    let id = app.intent("t").await;
    let r = app.as_agent(Some("a"), "PATCH", &format!("/api/v1/intents/{id}/state"), Some(json!({"state": {}}))).await;
    assert_eq!((r.status, r.detail()), (StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed"));
    assert!(r.headers["allow"].to_str().unwrap().contains("POST"));
    let r = app.as_agent(Some("a"), "GET", &format!("/api/v1/intents/{id}/arbitrate"), None).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    // Route and method are resolved before the key is looked at, as on the reference.
    let r = app.send("PUT", "/api/v1/intents", &[], None).await;
    assert_eq!((r.status, r.detail()), (StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed"));
    let r = app.send("GET", "/api/v1/subscriptions/x/y", &[], None).await;
    assert_eq!((r.status, r.detail()), (StatusCode::NOT_FOUND, "Not Found"));
    // A missing resource never uses the bare route text.
    let r = app.get("/api/v1/intents/unknown").await;
    assert_eq!((r.status, r.detail()), (StatusCode::NOT_FOUND, "Intent not found"));
    let r = app.get("/api/v1/portfolios/unknown").await;
    assert_eq!((r.status, r.detail()), (StatusCode::NOT_FOUND, "Portfolio not found"));
}

/// Every intent-scoped read answers 404 `Intent not found` for an intent that does not exist,
/// the same as `GET /api/v1/intents/{id}`, never an empty list. The routes come from the OpenAPI
/// document (which a test holds equal to the router), so a new route is covered as it is added.
#[tokio::test]
async fn every_intent_scoped_read_is_404_for_an_unknown_intent() {
    use axum::http::{Request, header};
    use tower::ServiceExt;

    let app = TestApp::memory().await;
    let known = app.intent("known").await;
    let doc = openintent_server::openapi_document();
    let mut paths: Vec<&String> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(path, item)| path.contains("/intents/{id}") && item.get("get").is_some())
        .map(|(path, _)| path)
        .collect();
    paths.sort();
    assert!(paths.len() >= 14, "the document lists only {paths:?}");
    for path in paths {
        for (id, exists) in [("00000000-0000-4000-8000-000000000000", false), (known.as_str(), true)] {
            let uri = path.replace("{id}", id).replace('{', "probe-").replace('}', "");
            let req = Request::get(&uri).header("x-api-key", KEY).body(Body::empty()).unwrap();
            let resp = app.router.clone().oneshot(req).await.unwrap();
            let status = resp.status();
            let json = resp.headers()[header::CONTENT_TYPE].as_bytes().starts_with(b"application/json");
            // An event stream of a known intent never ends: its status is enough.
            let body: Value = if json {
                serde_json::from_slice(&axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap()).unwrap()
            } else {
                Value::Null
            };
            if exists {
                assert_ne!(body["detail"], "Intent not found", "GET {uri}: {status} {body}");
            } else {
                assert_eq!(status, StatusCode::NOT_FOUND, "GET {uri}: {body}");
                assert_eq!(body, json!({"detail": "Intent not found"}), "GET {uri}");
            }
        }
    }
}

#[tokio::test]
async fn authentication_first_and_keyless_discovery() {
    let app = TestApp::memory().await;
    for (method, path) in ROUTES {
        let path = path.replace("{id}", "x").replace("{pid}", "x").replace("{sub}", "x");
        for headers in [vec![], vec![("x-api-key", "wrong")], vec![("x-api-key", "")]] {
            let mut h = headers.clone();
            h.push(("content-type", "application/json"));
            let r = app.send(method, &path, &h, Some(Body::from("{not json"))).await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{method} {path}");
            assert_eq!(r.body, json!({"detail": "Invalid or missing API key"}));
            assert!(r.headers.get("www-authenticate").is_none());
        }
    }
    for path in
        ["/.well-known/openintent.json", "/.well-known/openintent-compat.json", "/api/v1/server/config", "/health"]
    {
        let r = app.send("GET", path, &[], None).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
    }
    let d = app.send("GET", "/.well-known/openintent.json", &[], None).await.body;
    assert_eq!(d["protocol"], "OpenIntent Coordination Protocol");
    assert_eq!(d["version"], "0.1");
    let caps: Vec<&str> = d["capabilities"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    assert!(caps.contains(&"leasing") && caps.contains(&"subscriptions"));
    assert!(caps.contains(&"governance") && caps.contains(&"governance-enforcement"));
    assert!(!caps.contains(&"federation") && !caps.contains(&"access-control"), "only served capabilities");
    let c = app.send("GET", "/api/v1/server/config", &[], None).await.body;
    assert_eq!(c, json!({"protocol_version": "0.1", "suspension": {"default_retry_policy": null}}));
}

#[tokio::test]
async fn principal_and_bound_keys() {
    let config = ServerConfig::builder()
        .database(common::test_database().await)
        .api_keys([ApiKey::new("open-key"), ApiKey::bound("bot-key", "bot-7")])
        .build()
        .unwrap();
    let app = TestApp::with_config(config).await;
    let create = |key: &'static str, agent: Option<&'static str>| {
        let app = app.clone();
        async move {
            let mut h = vec![("x-api-key", key), ("content-type", "application/json")];
            if let Some(a) = agent {
                h.push(("x-agent-id", a));
            }
            app.send("POST", "/api/v1/intents", &h, Some(Body::from(r#"{"title":"t"}"#))).await
        }
    };
    assert_eq!(create("dev-user-key", None).await.status, StatusCode::UNAUTHORIZED, "dev keys replaced");
    // Without X-Agent-ID, an unbound key acts as its derived principal, never as the key.
    let derived = openintent_server::key_principal("open-key");
    assert_eq!(create("open-key", None).await.body["created_by"], json!(derived));
    assert_eq!(create("open-key", Some("alice")).await.body["created_by"], "alice");
    assert_eq!(create("open-key", Some("  ")).await.body["created_by"], json!(derived));
    assert_eq!(create("bot-key", None).await.body["created_by"], "bot-7");
    assert_eq!(create("bot-key", Some("bot-7")).await.body["created_by"], "bot-7");
    let r = create("bot-key", Some("alice")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.detail().contains("bot-7"));
    // The principal is also the default actor, lease owner and assignment target.
    let id = create("open-key", Some("carol")).await.body["id"].as_str().unwrap().to_owned();
    let h = [("x-api-key", "open-key"), ("x-agent-id", "carol"), ("content-type", "application/json")];
    let lease =
        app.send("POST", &format!("/api/v1/intents/{id}/leases"), &h, Some(Body::from(r#"{"scope":"s"}"#))).await;
    assert_eq!(lease.body["agent_id"], "carol");
    let a = app.send("POST", &format!("/api/v1/intents/{id}/agents"), &h, Some(Body::from("{}"))).await;
    assert_eq!((a.body["agent_id"].as_str(), a.body["role"].as_str()), (Some("carol"), Some("worker")));
    let debug = format!("{:?}", ApiKey::bound("super-secret", "x"));
    assert!(!debug.contains("super-secret"));
}
