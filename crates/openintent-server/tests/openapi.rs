//! The OpenAPI document: its shape, that it matches the router in both directions (every
//! documented operation is served, and every route registered in the source is documented),
//! and that its request field rules are the declaration the server enforces.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use common::{KEY, TestApp};
use openintent_server::openapi_document;
use openintent_types::schema::{Field, RequestSchema, check_rules};
use serde_json::Value;
use tower::ServiceExt;

const METHODS: &[&str] = &["get", "post", "put", "patch", "delete"];

/// `(method, path)` of every documented operation.
fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            out.insert((method.clone(), path.clone()));
        }
    }
    out
}

/// Status and (for JSON answers) body, without reading event streams.
async fn call(app: &TestApp, method: &str, path: &str, key: bool) -> (StatusCode, Value) {
    let mut req = Request::builder().method(Method::from_bytes(method.to_uppercase().as_bytes()).unwrap()).uri(path);
    if key {
        req = req.header("x-api-key", KEY);
    }
    let resp = app.router.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
    let status = resp.status();
    let json = resp.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !json {
        // An event stream never ends; its status is enough.
        return (status, Value::Null);
    }
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn concrete(path: &str) -> String {
    path.split('/')
        .map(|seg| if seg.starts_with('{') && seg.ends_with('}') { "probe-id" } else { seg })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test]
async fn the_document_is_served_keyless_and_is_openapi_3_1() {
    let app = TestApp::memory().await;
    let r = app.send("GET", "/openapi.json", &[], None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("application/json"));
    let doc = r.body;
    assert_eq!(doc, openapi_document());
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    assert_eq!(
        doc["components"]["securitySchemes"]["ApiKey"],
        serde_json::json!({"type": "apiKey", "in": "header", "name": "X-API-Key"})
    );
    assert_eq!(doc["security"], serde_json::json!([{"ApiKey": []}]));

    // Discovery points at it.
    let d = app.send("GET", "/.well-known/openintent.json", &[], None).await;
    assert_eq!(d.body["openApiUrl"], "/openapi.json");
}

#[tokio::test]
async fn operations_are_well_formed() {
    let doc = openapi_document();
    let mut ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let params: BTreeSet<&str> =
            path.split('/').filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}'))).collect();
        for (method, op) in item.as_object().unwrap() {
            assert!(METHODS.contains(&method.as_str()), "{method} {path}");
            assert!(ids.insert(op["operationId"].as_str().unwrap().to_owned()), "duplicate operationId at {path}");
            assert!(op["summary"].is_string());
            assert!(!op["responses"].as_object().unwrap().is_empty());
            let declared: BTreeSet<&str> = op["parameters"]
                .as_array()
                .map(|ps| ps.iter().filter(|p| p["in"] == "path").map(|p| p["name"].as_str().unwrap()).collect())
                .unwrap_or_default();
            assert_eq!(declared, params, "path parameters of {method} {path}");
            if op["security"] != serde_json::json!([]) {
                assert!(op["responses"]["401"].is_object(), "{method} {path} needs a key but documents no 401");
            }
        }
    }
    // Request bodies come from the validation rules.
    let create = &doc["components"]["schemas"]["CreateIntentRequest"];
    assert_eq!(create["required"], serde_json::json!(["title"]));
    assert_eq!(create["properties"]["depends_on"]["items"]["type"], "string");
    let post = &doc["paths"]["/api/v1/intents"]["post"];
    assert_eq!(
        post["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/CreateIntentRequest"
    );
    // Responses come from the models.
    let intent = &doc["components"]["schemas"]["Intent"]["properties"];
    for field in ["id", "title", "state", "status", "version", "parent_intent_id", "created_at"] {
        assert!(intent.get(field).is_some(), "Intent schema lacks {field}");
    }
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref") {
                out.push(r.clone());
            }
            m.values().for_each(|x| collect_refs(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| collect_refs(x, out)),
        _ => {}
    }
}

#[test]
fn every_reference_resolves() {
    let doc = openapi_document();
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(refs.len() > 50);
    for r in refs {
        let pointer = r.strip_prefix('#').unwrap_or_else(|| panic!("external reference {r}"));
        assert!(doc.pointer(pointer).is_some(), "{r} does not resolve");
    }
}

#[tokio::test]
async fn every_documented_operation_is_served_with_the_documented_security() {
    let app = TestApp::memory().await;
    let doc = openapi_document();
    let ops = documented(&doc);
    assert!(ops.len() >= 50, "only {} operations", ops.len());
    for (method, path) in &ops {
        let uri = concrete(path);
        let (status, body) = call(&app, method, &uri, true).await;
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert!(!(status == StatusCode::NOT_FOUND && body["detail"] == "Not Found"), "{method} {path} is not routed");
        let keyless = doc["paths"][path][method]["security"] == serde_json::json!([]);
        let (status, _) = call(&app, method, &uri, false).await;
        if keyless {
            assert_ne!(status, StatusCode::UNAUTHORIZED, "{method} {path} is documented keyless");
        } else {
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path} is documented as needing a key");
        }
    }
}

#[tokio::test]
async fn documented_paths_answer_405_to_undocumented_methods() {
    let app = TestApp::memory().await;
    let doc = openapi_document();
    let ops = documented(&doc);
    let paths: BTreeSet<&String> = ops.iter().map(|(_, p)| p).collect();
    for path in paths {
        for method in METHODS {
            if ops.contains(&((*method).to_owned(), path.clone())) {
                continue;
            }
            let (status, _) = call(&app, method, &concrete(path), true).await;
            assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path} is served but not documented");
        }
    }
}

/// `(method, path)` of every `.route(...)` registered in the crate's source.
fn routes_in_source() -> BTreeSet<(String, String)> {
    let mut files = Vec::new();
    let mut dirs = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|e| e == "rs")
                && !p.ends_with("src/api/metrics.rs")
                && !p.ends_with("src/api/console.rs")
            {
                // `api/metrics.rs` routes the operators' metrics listener, not the API (docs/metrics.md);
                // `api/console.rs` the console's pages and files (docs/console.md).
                files.push(p);
            }
        }
    }
    let mut out = BTreeSet::new();
    for file in files {
        let text: String = std::fs::read_to_string(&file)
            .unwrap()
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        for needle in [".nest(", ".route_service(", ".nest_service("] {
            assert!(
                !text.contains(needle),
                "{}: `{needle}` routes cannot be checked against the document",
                file.display()
            );
        }
        let mut rest = text.as_str();
        while let Some(at) = rest.find(".route(") {
            rest = &rest[at + ".route(".len()..];
            let after_quote = rest.trim_start().strip_prefix('"').unwrap_or_else(|| {
                panic!("{}: a route whose path is not a literal: {}", file.display(), &rest[..rest.len().min(60)])
            });
            let end = after_quote.find('"').unwrap();
            let path = &after_quote[..end];
            // The method routers: up to the parenthesis closing `.route(`.
            let args = &after_quote[end + 1..];
            let mut depth = 1;
            let close = args
                .char_indices()
                .find(|(_, c)| {
                    match c {
                        '(' => depth += 1,
                        ')' => depth -= 1,
                        _ => {}
                    }
                    depth == 0
                })
                .map(|(i, _)| i)
                .unwrap();
            let args = &args[..close];
            let mut methods = 0;
            for word in ["get", "post", "put", "patch", "delete", "head", "options", "trace", "any", "on"] {
                let pattern = format!("{word}(");
                let mut from = 0;
                while let Some(i) = args[from..].find(&pattern) {
                    let start = from + i;
                    let before = args[..start].chars().next_back();
                    if !before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                        assert!(METHODS.contains(&word), "{}: `{word}` on {path} cannot be documented", file.display());
                        out.insert((word.to_owned(), path.to_owned()));
                        methods += 1;
                    }
                    from = start + pattern.len();
                }
            }
            assert!(methods > 0, "{}: no method found for {path}", file.display());
        }
    }
    out
}

#[test]
fn every_route_in_the_source_is_documented_and_nothing_else() {
    let doc = openapi_document();
    let documented = documented(&doc);
    let registered = routes_in_source();
    assert!(registered.len() >= 50, "the source scan found only {} routes", registered.len());
    let undocumented: Vec<_> = registered.difference(&documented).collect();
    assert!(undocumented.is_empty(), "served but not documented: {undocumented:?}");
    let unregistered: Vec<_> = documented.difference(&registered).collect();
    assert!(unregistered.is_empty(), "documented but not registered: {unregistered:?}");
}

// ----- one declaration: the document's field rules are what the server enforces --------------

/// A value that breaks one declared rule and one at its edge that keeps it, per request.
struct Boundary {
    method: &'static str,
    path: &'static str,
    body: Value,
    field: &'static str,
    bad: Value,
    good: Value,
    fields: &'static [Field],
}

fn boundaries() -> Vec<Boundary> {
    use openintent_types::{
        AcquireLeaseRequest, CreateIntentRequest, RecordCostRequest, SetRetryPolicyRequest,
        UpdatePortfolioStatusRequest,
    };
    use serde_json::json;
    let b = |method, path, body: Value, field, bad: Value, good: Value, fields| Boundary {
        method,
        path,
        body,
        field,
        bad,
        good,
        fields,
    };
    vec![
        b(
            "post",
            "/api/v1/intents",
            json!({"title": "t"}),
            "title",
            json!("x".repeat(501)),
            json!("x".repeat(500)),
            CreateIntentRequest::FIELDS,
        ),
        b(
            "post",
            "/api/v1/intents/{id}/leases",
            json!({"scope": "s"}),
            "duration_seconds",
            json!(86_401),
            json!(86_400),
            AcquireLeaseRequest::FIELDS,
        ),
        b(
            "post",
            "/api/v1/intents/{id}/costs",
            json!({"cost_type": "tokens", "amount": 1, "unit": "t"}),
            "amount",
            json!(-0.5),
            json!(0),
            RecordCostRequest::FIELDS,
        ),
        b(
            "put",
            "/api/v1/intents/{id}/retry-policy",
            json!({"strategy": "fixed", "base_delay_ms": 0, "max_delay_ms": 0}),
            "strategy",
            json!("not-a-known-value"),
            json!("exponential"),
            SetRetryPolicyRequest::FIELDS,
        ),
        b(
            "patch",
            "/api/v1/portfolios/{id}/status",
            json!({"status": "active"}),
            "status",
            json!("not-a-known-value"),
            json!("completed"),
            UpdatePortfolioStatusRequest::FIELDS,
        ),
    ]
}

/// The types crate declares each request's fields once; the OpenAPI document renders that
/// declaration and the server refuses a body breaking it with the declaration's own message
/// ([`check_rules`]), while a value at the rule's edge is accepted.
#[tokio::test]
async fn the_declared_field_rules_are_documented_and_enforced() {
    let app = TestApp::memory().await;
    let doc = openapi_document();
    for case in boundaries() {
        let op = &doc["paths"][case.path][case.method];
        let reference = op["requestBody"]["content"]["application/json"]["schema"]["$ref"].as_str().unwrap();
        let schema = &doc["components"]["schemas"][reference.rsplit('/').next().unwrap()];
        let documented: BTreeSet<&str> = schema["properties"].as_object().unwrap().keys().map(String::as_str).collect();
        let declared: BTreeSet<&str> = case.fields.iter().map(Field::name).collect();
        assert_eq!(documented, declared, "{} {}", case.method, case.path);

        let mut body = case.body.clone();
        body[case.field] = case.bad.clone();
        let expected = check_rules(&body, case.fields).unwrap_err();
        let r = send_to(&app, case.method, case.path, body).await;
        let what = format!("{} {} {}={}: {} {:?}", case.method, case.path, case.field, case.bad, r.status, r.body);
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{what}");
        assert_eq!(r.body["detail"][0]["loc"], serde_json::json!(["body", case.field]), "{what}");
        assert_eq!(r.body["detail"][0]["msg"], expected.message, "{what}");

        let mut body = case.body.clone();
        body[case.field] = case.good.clone();
        check_rules(&body, case.fields).unwrap();
        let r = send_to(&app, case.method, case.path, body).await;
        assert!(
            r.status.is_success(),
            "{} {} {}={}: {} {:?}",
            case.method,
            case.path,
            case.field,
            case.good,
            r.status,
            r.body
        );
    }
}

/// Sends `body` to the operation, with fresh resources for its path parameters.
async fn send_to(app: &TestApp, method: &str, path: &str, mut body: Value) -> common::Reply {
    let intent = app.intent("rules").await;
    let mut concrete = path.replace("{id}", &intent);
    if path.starts_with("/api/v1/portfolios/") {
        let r = app.post("/api/v1/portfolios", serde_json::json!({"name": "p"})).await;
        concrete = path.replace("{id}", r.body["id"].as_str().unwrap());
        if body["intent_id"] == "will-be-replaced" {
            body["intent_id"] = Value::from(intent.clone());
        }
    }
    if path.contains("{lease_id}") {
        let r = app.post(&format!("/api/v1/intents/{intent}/leases"), serde_json::json!({"scope": "s"})).await;
        concrete = concrete.replace("{lease_id}", r.body["id"].as_str().unwrap());
    }
    let body = Body::from(body.to_string());
    let headers = [("x-api-key", KEY), ("content-type", "application/json"), ("if-match", "1")];
    app.send(&method.to_uppercase(), &concrete, &headers, Some(body)).await
}
