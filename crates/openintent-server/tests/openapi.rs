//! The OpenAPI document: its shape, and that it matches the router in both directions (every
//! documented operation is served, and every route registered in the source is documented).

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use common::{KEY, TestApp};
use openintent_server::openapi_document;
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
            } else if p.extension().is_some_and(|e| e == "rs") {
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

// ----- the document's value rules are the server's --------------------------------------------

/// A body the server accepts for each request schema, with the operation it goes to.
fn valid_body(schema: &str) -> Option<Value> {
    use serde_json::json;
    Some(match schema {
        "CreateIntentRequest" => json!({"title": "t"}),
        "SetStatusRequest" => json!({"status": "active"}),
        "LogEventRequest" => json!({"event_type": "note"}),
        "AssignAgentRequest" => json!({"agent_id": "a"}),
        "AcquireLeaseRequest" => json!({"scope": "s"}),
        "RenewLeaseRequest" => json!({"duration_seconds": 60}),
        "CreateArbitrationRequest" => json!({"reason": "r"}),
        "RecordDecisionRequest" => json!({"outcome": "o"}),
        "CreateAttachmentRequest" => {
            json!({"filename": "f", "mime_type": "text/plain", "size": 1, "storage_url": "s3://b/k"})
        }
        "RecordCostRequest" => json!({"cost_type": "tokens", "amount": 1, "unit": "t"}),
        "SetRetryPolicyRequest" => json!({"strategy": "fixed", "base_delay_ms": 0, "max_delay_ms": 0}),
        "RecordFailureRequest" => json!({"error_type": "e", "error_message": "m", "attempt_number": 1}),
        "CreatePortfolioRequest" => json!({"name": "p"}),
        "UpdatePortfolioStatusRequest" => json!({"status": "active"}),
        "AddIntentToPortfolioRequest" => json!({"intent_id": "will-be-replaced"}),
        "CreateSubscriptionRequest" => json!({}),
        _ => return None,
    })
}

/// Values that break one rule of a property schema, and values at its edges that keep it.
/// Strings are grown from `valid` (the field's value in a valid body, if any), so that they
/// keep its other rules (a media type keeps its `/`).
fn cases(property: &Value, valid: Option<&str>) -> (Vec<Value>, Vec<Value>) {
    use serde_json::json;
    let (mut bad, mut good) = (Vec::new(), Vec::new());
    let integer = property["type"] == "integer" || property["type"][0] == "integer";
    if let Some(max) = property["maxLength"].as_u64() {
        let seed = valid.unwrap_or("x");
        let grown = |n: u64| json!(format!("{seed}{}", "x".repeat(n as usize - seed.chars().count())));
        bad.push(grown(max + 1));
        good.push(grown(max));
    }
    if property["minLength"] == 1 {
        bad.extend([json!(""), json!(" \t\u{a0}\u{3000}")]);
        good.push(json!("x"));
    }
    let step = if integer { 1.0 } else { 0.5 };
    let number = |v: f64| if integer { json!(v as i64) } else { json!(v) };
    if let Some(min) = property["minimum"].as_f64() {
        bad.push(number(min - step));
        good.push(number(min));
    }
    if let Some(max) = property["maximum"].as_f64() {
        bad.push(number(max + step.max(max.abs() * 1e-9)));
        good.push(number(max));
    }
    if let Some(names) = property["enum"].as_array() {
        bad.push(json!("not-a-known-value"));
        good.extend(names.iter().filter(|n| !n.is_null()).cloned());
    }
    (bad, good)
}

/// For every request field the document gives a length, range or enum: a value that breaks
/// it is a 422 naming the field (or a name the document lists as its alias), and the values at
/// its edges are not refused as invalid. The document and the server's validation are written
/// separately; this holds them together.
#[tokio::test]
async fn documented_field_rules_are_the_rules_the_server_enforces() {
    let app = TestApp::memory().await;
    let doc = openapi_document();
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let Some(reference) = op["requestBody"]["content"]["application/json"]["schema"]["$ref"].as_str() else {
                continue;
            };
            let name = reference.rsplit('/').next().unwrap();
            let schema = &doc["components"]["schemas"][name];
            let Some(base) = valid_body(name) else { continue };
            for (field, property) in schema["properties"].as_object().unwrap() {
                let mut names = vec![field.clone()];
                if let Some(also) = property["description"].as_str().and_then(|d| d.strip_prefix("Also read as: ")) {
                    names.extend(also.split(", ").map(str::to_owned));
                }
                let (bad, good) = cases(property, base[field].as_str());
                for (value, must_refuse) in
                    bad.into_iter().map(|v| (v, true)).chain(good.into_iter().map(|v| (v, false)))
                {
                    let mut body = base.clone();
                    body[field] = value.clone();
                    let r = send_to(&app, method, path, body).await;
                    let what = format!("{method} {path} {field}={value}: {} {:?}", r.status, r.body);
                    if must_refuse {
                        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{what}");
                        let loc = r.body["detail"][0]["loc"][1].as_str().unwrap_or_default().to_owned();
                        assert!(names.contains(&loc), "{what}: the error names {loc:?}");
                    } else {
                        assert_ne!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{what}");
                        assert!(!r.status.is_server_error(), "{what}");
                    }
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 100, "only {checked} values checked");
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
