//! Identity and roles: an unbound key is never disclosed (responses, stream frames, webhook
//! bodies), bound agent names and key principals are reserved to their keys, identity fields in
//! request bodies must name the caller unless the key's role acts for others, a reader key only
//! reads, and an unreadable `X-Agent-ID` is a 400 naming the header.
//!
//! On SQLite by default; on fresh PostgreSQL databases with `OPENINTENT_TEST_DATABASE_URL` set
//! (see `common`).

mod common;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{HeaderValue, Request, StatusCode};
use common::{Reply, TestApp};
use openintent_server::{ApiKey, Role, ServerConfig, WebhookConfig, app, key_principal, spawn};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceExt;

/// An unbound key with the agent role.
const AGENT_KEY: &str = "agent-secret-0123456789abcdef";
/// An unbound key with the operator role.
const OPERATOR_KEY: &str = "operator-secret-0123456789";
/// An unbound key with the reader role.
const READER_KEY: &str = "reader-secret-0123456789";
/// A key bound to `alice`.
const ALICE_KEY: &str = "alice-secret-0123456789";

fn keys() -> Vec<ApiKey> {
    ApiKey::parse_list(&format!("{AGENT_KEY},{OPERATOR_KEY}=:operator,{READER_KEY}=:reader,{ALICE_KEY}=alice"))
}

async fn config(webhooks: WebhookConfig) -> ServerConfig {
    ServerConfig::builder()
        .database(common::test_database().await)
        .bind(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
        .api_keys(keys())
        .webhooks(webhooks)
        .build()
        .unwrap()
}

async fn test_app() -> TestApp {
    TestApp::with_config(config(WebhookConfig::disabled()).await).await
}

/// A JSON request with `key`, as `agent` when given.
async fn call(api: &TestApp, key: &str, agent: Option<&str>, method: &str, path: &str, body: Option<Value>) -> Reply {
    call_with(api, key, agent, method, path, body, &[]).await
}

/// [`call`] with more headers.
async fn call_with(
    api: &TestApp,
    key: &str,
    agent: Option<&str>,
    method: &str,
    path: &str,
    body: Option<Value>,
    extra: &[(&str, &str)],
) -> Reply {
    let mut headers = vec![("x-api-key", key)];
    headers.extend_from_slice(extra);
    if let Some(a) = agent {
        headers.push(("x-agent-id", a));
    }
    if body.is_some() {
        headers.push(("content-type", "application/json"));
    }
    api.send(method, path, &headers, body.map(|b| Body::from(b.to_string()))).await
}

/// A request as `agent` with the agent-role key.
async fn as_agent(api: &TestApp, agent: &str, method: &str, path: &str, body: Value) -> Reply {
    call(api, AGENT_KEY, Some(agent), method, path, Some(body)).await
}

fn ok(r: &Reply, what: &str) {
    assert!(r.status.is_success(), "{what}: {} {}", r.status, r.body);
}

// ----- keys are never disclosed ------------------------------------------------------------------

/// A webhook receiver on 127.0.0.1 that answers 200 and keeps every request's bytes.
async fn receiver() -> (String, Arc<Mutex<Vec<u8>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let sink = sink.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                loop {
                    let n = match tokio::time::timeout(Duration::from_millis(200), socket.read(&mut buf)).await {
                        Ok(Ok(n)) if n > 0 => n,
                        Ok(_) => break,
                        // A pause: the request is complete; answer it and wait for the next.
                        Err(_) => {
                            let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                            if socket.write_all(answer).await.is_err() {
                                break;
                            }
                            continue;
                        }
                    };
                    sink.lock().unwrap().extend_from_slice(&buf[..n]);
                }
            });
        }
    });
    (url, seen)
}

/// The bytes an event stream sends within `window` (headers included).
async fn stream_bytes(addr: std::net::SocketAddr, path: &str, window: Duration) -> Vec<u8> {
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nx-api-key: {AGENT_KEY}\r\naccept: text/event-stream\r\n\r\n"
    );
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let deadline = Instant::now() + window;
    let mut buf = vec![0u8; 65536];
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match tokio::time::timeout(left, socket.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => out.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// A request with the agent-role key and no `X-Agent-ID`; its answer is kept in `bodies`.
async fn keyless(api: &TestApp, bodies: &mut Vec<Value>, method: &str, path: &str, body: Option<Value>) -> Value {
    let r = call(api, AGENT_KEY, None, method, path, body).await;
    ok(&r, path);
    bodies.push(r.body.clone());
    r.body
}

#[tokio::test]
async fn an_unbound_key_is_never_disclosed() {
    let webhooks = WebhookConfig::default().deny_private(false).poll_interval(Duration::from_millis(50));
    let server = spawn(config(webhooks).await).await.unwrap();
    let api = TestApp { router: app(server.state().clone()), state: server.state().clone() };
    let me = key_principal(AGENT_KEY);
    let (hook, delivered) = receiver().await;
    let mut bodies: Vec<Value> = Vec::new();
    // Every write with no X-Agent-ID, so that the key's principal is recorded everywhere.
    keyless(&api, &mut bodies, "POST", "/api/v1/subscriptions", Some(json!({"webhook_url": hook}))).await;
    let intent = keyless(&api, &mut bodies, "POST", "/api/v1/intents", Some(json!({"title": "secret keeping"}))).await;
    let id = intent["id"].as_str().unwrap().to_owned();
    assert_eq!(intent["created_by"], json!(me), "the creator is the key's principal");
    keyless(
        &api,
        &mut bodies,
        "POST",
        &format!("/api/v1/intents/{id}/events"),
        Some(json!({"event_type": "comment", "payload": {}})),
    )
    .await;
    let lease =
        keyless(&api, &mut bodies, "POST", &format!("/api/v1/intents/{id}/leases"), Some(json!({"scope": "s"}))).await;
    assert_eq!(lease["agent_id"], json!(me));
    keyless(
        &api,
        &mut bodies,
        "POST",
        &format!("/api/v1/intents/{id}/costs"),
        Some(json!({"cost_type": "t", "amount": 1.0, "unit": "u"})),
    )
    .await;
    keyless(&api, &mut bodies, "POST", "/api/v1/portfolios", Some(json!({"name": "p"}))).await;
    keyless(&api, &mut bodies, "POST", "/api/v1/agents/register", Some(json!({"agent_id": me}))).await;
    for path in [
        format!("/api/v1/intents/{id}"),
        format!("/api/v1/intents/{id}/events"),
        format!("/api/v1/intents/{id}/leases"),
        format!("/api/v1/intents/{id}/costs"),
        "/api/v1/intents".to_owned(),
        "/api/v1/portfolios".to_owned(),
        "/api/v1/subscriptions".to_owned(),
        "/api/v1/agents".to_owned(),
    ] {
        keyless(&api, &mut bodies, "GET", &path, None).await;
    }
    let responses = serde_json::to_vec(&bodies).unwrap();
    assert!(contains(&responses, &me), "the principal is recorded");
    assert!(!contains(&responses, AGENT_KEY), "a response body holds the key");

    let frames =
        stream_bytes(server.addr(), &format!("/api/v1/subscribe/intents/{id}?from=start"), Duration::from_millis(800))
            .await;
    assert!(contains(&frames, &me), "the stream replays the events: {}", String::from_utf8_lossy(&frames));
    assert!(!contains(&frames, AGENT_KEY), "a stream frame holds the key");

    let deadline = Instant::now() + Duration::from_secs(20);
    while !contains(&delivered.lock().unwrap(), &id) {
        assert!(Instant::now() < deadline, "no webhook delivery arrived");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let delivered = delivered.lock().unwrap().clone();
    assert!(contains(&delivered, &me), "the webhook body names the principal");
    assert!(!contains(&delivered, AGENT_KEY), "a webhook body holds the key");
    server.shutdown().await.unwrap();
}

// ----- reserved names ----------------------------------------------------------------------------

#[tokio::test]
async fn bound_agent_names_and_key_principals_are_reserved() {
    let api = test_app().await;
    let create = json!({"title": "t"});
    let r = call(&api, AGENT_KEY, Some("alice"), "POST", "/api/v1/intents", Some(create.clone())).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert!(r.detail().contains("X-Agent-ID"), "{}", r.body);
    let operator = key_principal(OPERATOR_KEY);
    let r = call(&api, AGENT_KEY, Some(&operator), "POST", "/api/v1/intents", Some(create.clone())).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "another key's principal: {}", r.body);
    // Its own principal, the bound key itself, and any free name are fine.
    let mine = key_principal(AGENT_KEY);
    let r = call(&api, AGENT_KEY, Some(&mine), "POST", "/api/v1/intents", Some(create.clone())).await;
    assert_eq!(r.body["created_by"], json!(mine), "{}", r.body);
    let r = call(&api, ALICE_KEY, None, "POST", "/api/v1/intents", Some(create.clone())).await;
    assert_eq!(r.body["created_by"], json!("alice"), "{}", r.body);
    let r = call(&api, ALICE_KEY, Some("bob"), "POST", "/api/v1/intents", Some(create.clone())).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = call(&api, AGENT_KEY, Some("bob"), "POST", "/api/v1/intents", Some(create)).await;
    assert_eq!(r.body["created_by"], json!("bob"), "{}", r.body);
}

// ----- unreadable X-Agent-ID ---------------------------------------------------------------------

async fn with_agent_header(api: &TestApp, value: HeaderValue) -> Reply {
    let request = Request::builder()
        .method("POST")
        .uri("/api/v1/intents")
        .header("x-api-key", AGENT_KEY)
        .header("x-agent-id", value)
        .header("content-type", "application/json")
        .body(Body::from(r#"{"title":"t"}"#))
        .unwrap();
    let response = api.router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    Reply { status, headers: Default::default(), body: serde_json::from_slice(&bytes).unwrap_or(Value::Null) }
}

#[tokio::test]
async fn an_unreadable_agent_id_is_a_400_naming_the_header() {
    let api = test_app().await;
    let bad: Vec<(&str, HeaderValue)> = vec![
        ("invalid UTF-8", HeaderValue::from_bytes(b"al\xffice").unwrap()),
        ("a zero-width space", HeaderValue::from_bytes("al\u{200B}ice".as_bytes()).unwrap()),
        ("a byte-order mark", HeaderValue::from_bytes("\u{FEFF}alice".as_bytes()).unwrap()),
        ("a right-to-left override", HeaderValue::from_bytes("al\u{202E}ice".as_bytes()).unwrap()),
        ("a tab inside", HeaderValue::from_bytes(b"al\tice").unwrap()),
        ("a C1 control", HeaderValue::from_bytes("al\u{85}ice".as_bytes()).unwrap()),
        ("too long", HeaderValue::from_str(&"a".repeat(256)).unwrap()),
    ];
    for (what, value) in bad {
        let r = with_agent_header(&api, value).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{what}: {}", r.body);
        assert!(r.body["detail"].as_str().unwrap_or("").contains("X-Agent-ID"), "{what}: {}", r.body);
    }
    // Surrounding whitespace is trimmed; readable non-ASCII names are names.
    let r = with_agent_header(&api, HeaderValue::from_static("  carol  ")).await;
    assert_eq!(r.body["created_by"], json!("carol"), "{}", r.body);
    let r = with_agent_header(&api, HeaderValue::from_bytes("agënt-ü".as_bytes()).unwrap()).await;
    assert_eq!(r.body["created_by"], json!("agënt-ü"), "{}", r.body);
}

// ----- identity fields in bodies -----------------------------------------------------------------

/// One route with an identity field in its body: how to call it with `field` set to a value.
struct Case {
    method: &'static str,
    /// The path, with `{id}` and the ids set up by [`Fixture`] substituted.
    path: String,
    field: &'static str,
    /// The rest of the body.
    body: Value,
}

/// Resources the cases act on, created by `carol` so that `amy` may decide what carol asked.
struct Fixture {
    intent: String,
    approval: String,
    /// Another, to deny.
    approval2: String,
    escalation: String,
    channel: String,
    message: String,
    access_request: String,
    /// Another, to deny.
    access_request2: String,
    suspension: String,
}

async fn fixture(api: &TestApp) -> Fixture {
    let carol = |method: &'static str, path: String, body: Value| async move {
        let r = as_agent(api, "carol", method, &path, body).await;
        ok(&r, &path);
        r.body
    };
    let intent =
        carol("POST", "/api/v1/intents".into(), json!({"title": "fixture"})).await["id"].as_str().unwrap().to_owned();
    let i = &intent;
    let approval = carol("POST", format!("/api/v1/intents/{i}/approvals"), json!({"action": "deploy"})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let approval2 = carol("POST", format!("/api/v1/intents/{i}/approvals"), json!({"action": "deploy"})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let escalation = carol("POST", format!("/api/v1/intents/{i}/escalations"), json!({"reason": "help"})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let channel =
        carol("POST", format!("/api/v1/intents/{i}/channels"), json!({"name": "c", "members": ["amy", "carol"]})).await
            ["id"]
            .as_str()
            .unwrap()
            .to_owned();
    let message =
        carol("POST", format!("/api/v1/channels/{channel}/messages"), json!({"sender": "carol", "payload": {}})).await
            ["id"]
            .as_str()
            .unwrap()
            .to_owned();
    let access_request =
        carol("POST", format!("/api/v1/intents/{i}/access-requests"), json!({"principal_id": "carol"})).await["id"]
            .as_str()
            .unwrap()
            .to_owned();
    let access_request2 =
        carol("POST", format!("/api/v1/intents/{i}/access-requests"), json!({"principal_id": "carol"})).await["id"]
            .as_str()
            .unwrap()
            .to_owned();
    let r = call(api, AGENT_KEY, Some("carol"), "GET", &format!("/api/v1/intents/{i}"), None).await;
    let version = r.body["version"].as_i64().unwrap().to_string();
    let path = format!("/api/v1/intents/{i}/suspend");
    let body = Some(json!({"question": "go?", "response_type": "text", "suspension_id": "fixture-suspension"}));
    let r = call_with(api, AGENT_KEY, Some("carol"), "POST", &path, body, &[("if-match", &version)]).await;
    ok(&r, "suspend");
    let suspension = "fixture-suspension".to_owned();
    Fixture { intent, approval, approval2, escalation, channel, message, access_request, access_request2, suspension }
}

fn cases(f: &Fixture) -> Vec<Case> {
    let i = &f.intent;
    let case = |method, path: String, field, body| Case { method, path, field, body };
    vec![
        case("POST", "/api/v1/intents".into(), "created_by", json!({"title": "t"})),
        case("POST", "/api/v1/portfolios".into(), "created_by", json!({"name": "p"})),
        case("POST", "/api/v1/subscriptions".into(), "subscriber_id", json!({"intent_id": i})),
        case("POST", "/api/v1/agents".into(), "agent_id", json!({})),
        case("POST", "/api/v1/agents/register".into(), "agent_id", json!({})),
        case("POST", format!("/api/v1/intents/{i}/events"), "actor", json!({"event_type": "comment", "payload": {}})),
        case(
            "POST",
            format!("/api/v1/intents/{i}/costs"),
            "agent_id",
            json!({"cost_type": "t", "amount": 1.0, "unit": "u"}),
        ),
        case(
            "POST",
            format!("/api/v1/intents/{i}/failures"),
            "agent_id",
            json!({"error_type": "e", "error_message": "m", "attempt_number": 1}),
        ),
        case("POST", format!("/api/v1/intents/{i}/arbitrate"), "requested_by", json!({"reason": "r"})),
        case("POST", format!("/api/v1/intents/{i}/decisions"), "decided_by", json!({"outcome": "o"})),
        case("POST", format!("/api/v1/intents/{i}/approvals"), "requested_by", json!({"action": "a"})),
        case("POST", format!("/api/v1/intents/{i}/approvals/{}/approve", f.approval), "decided_by", json!({})),
        case("POST", format!("/api/v1/intents/{i}/approvals/{}/deny", f.approval2), "decided_by", json!({})),
        case("POST", format!("/api/v1/intents/{i}/escalations"), "escalated_by", json!({"reason": "r"})),
        case("POST", "/api/v1/coordinators".into(), "agent_id", json!({"intent_id": i})),
        case(
            "POST",
            format!("/api/v1/escalations/{}/resolve", f.escalation),
            "resolved_by",
            json!({"resolution": "r"}),
        ),
        case(
            "POST",
            format!("/api/v1/intents/{i}/suspend/respond"),
            "responded_by",
            json!({"suspension_id": f.suspension, "response": "yes"}),
        ),
        case("POST", format!("/api/v1/channels/{}/messages", f.channel), "sender", json!({"payload": {}})),
        case(
            "POST",
            format!("/api/v1/channels/{}/messages/{}/reply", f.channel, f.message),
            "sender",
            json!({"payload": {}}),
        ),
        case("POST", format!("/api/v1/intents/{i}/acl/entries"), "granted_by", json!({"principal_id": "dave"})),
        case("POST", format!("/api/v1/intents/{i}/access-requests"), "principal_id", json!({})),
        case(
            "POST",
            format!("/api/v1/intents/{i}/access-requests/{}/approve", f.access_request),
            "decided_by",
            json!({}),
        ),
        case(
            "POST",
            format!("/api/v1/intents/{i}/access-requests/{}/deny", f.access_request2),
            "decided_by",
            json!({}),
        ),
    ]
}

/// The request bodies' fields that name who acts, and the routes whose same-named field names
/// someone else on purpose (the agent assigned, the principal granted access).
const IDENTITY_FIELDS: &[&str] = &[
    "actor",
    "agent_id",
    "created_by",
    "decided_by",
    "escalated_by",
    "granted_by",
    "principal_id",
    "requested_by",
    "resolved_by",
    "responded_by",
    "sender",
    "subscriber_id",
];
const NOT_IDENTITY: &[(&str, &str, &str)] = &[
    ("POST", "/api/v1/intents/{id}/agents", "agent_id"),
    ("POST", "/api/v1/intents/{id}/acl/entries", "principal_id"),
];

/// Every (method, path, field) of the OpenAPI document whose request body has an identity field.
async fn documented_identity_fields(api: &TestApp) -> BTreeSet<(String, String, String)> {
    let doc = api.get("/openapi.json").await.body;
    let resolve = |schema: &Value| -> Value {
        match schema["$ref"].as_str() {
            Some(r) => doc.pointer(&r.trim_start_matches('#').replace("~1", "/")).cloned().unwrap_or(Value::Null),
            None => schema.clone(),
        }
    };
    let mut out = BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let schema = resolve(&op["requestBody"]["content"]["application/json"]["schema"]);
            let Some(props) = schema["properties"].as_object() else { continue };
            for field in props.keys().filter(|k| IDENTITY_FIELDS.contains(&k.as_str())) {
                let method = method.to_uppercase();
                if !NOT_IDENTITY.contains(&(method.as_str(), path.as_str(), field.as_str())) {
                    out.insert((method, path.clone(), field.clone()));
                }
            }
        }
    }
    out
}

/// `path` with its ids replaced by the template names of the OpenAPI document.
fn template(path: &str, f: &Fixture) -> String {
    path.replace(&f.intent, "{id}")
        .replace(&f.approval2, "{aid}")
        .replace(&f.approval, "{aid}")
        .replace(&f.escalation, "{eid}")
        .replace(&f.channel, "{channel_id}")
        .replace(&f.message, "{message_id}")
        .replace(&f.access_request2, "{request_id}")
        .replace(&f.access_request, "{request_id}")
}

#[tokio::test]
async fn identity_fields_must_name_the_caller_unless_the_role_acts_for_others() {
    let api = test_app().await;
    let f = fixture(&api).await;
    let cases = cases(&f);
    let walked: BTreeSet<_> =
        cases.iter().map(|c| (c.method.to_owned(), template(&c.path, &f), c.field.to_owned())).collect();
    let documented = documented_identity_fields(&api).await;
    assert_eq!(walked, documented, "every documented identity field is walked");

    for c in &cases {
        let with = |who: &str| {
            let mut body = c.body.clone();
            body[c.field] = json!(who);
            body
        };
        // Someone else, with the agent-role key: refused, naming the field, nothing done.
        let r = as_agent(&api, "amy", c.method, &c.path, with("mallory")).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{} {} {}: {}", c.method, c.path, c.field, r.body);
        assert!(r.detail().contains(c.field), "{} {}: {}", c.path, c.field, r.body);
        // The caller itself: accepted.
        let r = as_agent(&api, "amy", c.method, &c.path, with("amy")).await;
        ok(&r, &format!("{} {} {} as the caller", c.method, c.path, c.field));
    }
    let events = call(&api, READER_KEY, None, "GET", &format!("/api/v1/intents/{}/events", f.intent), None).await;
    assert!(events.body.as_array().is_some_and(|e| !e.is_empty()), "{}", events.body);
    assert!(!events.body.to_string().contains("mallory"), "something was done as mallory: {}", events.body);
}

#[tokio::test]
async fn operators_act_for_others_agents_and_readers_do_not() {
    let api = test_app().await;
    let body = json!({"title": "t", "created_by": "ops-target"});
    let r = call(&api, OPERATOR_KEY, Some("op"), "POST", "/api/v1/intents", Some(body.clone())).await;
    assert_eq!(r.body["created_by"], json!("ops-target"), "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let approval = json!({"action": "deploy", "requested_by": "someone-else"});
    let r =
        call(&api, OPERATOR_KEY, Some("op"), "POST", &format!("/api/v1/intents/{id}/approvals"), Some(approval)).await;
    assert_eq!(r.body["requested_by"], json!("someone-else"), "{}", r.body);
    // The self-approval ban cannot be sidestepped by an agent naming another requester.
    let approval = json!({"action": "deploy", "requested_by": "someone-else"});
    let r = as_agent(&api, "amy", "POST", &format!("/api/v1/intents/{id}/approvals"), approval).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = call(&api, AGENT_KEY, None, "POST", "/api/v1/intents", Some(body)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
}

#[tokio::test]
async fn a_reader_key_is_refused_on_every_route_that_is_not_a_read() {
    let api = test_app().await;
    let id = as_agent(&api, "amy", "POST", "/api/v1/intents", json!({"title": "t"})).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let doc = api.get("/openapi.json").await.body;
    let mut writes = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        let concrete =
            path.split('/').map(|s| if s.starts_with('{') { id.as_str() } else { s }).collect::<Vec<_>>().join("/");
        for method in ops.as_object().unwrap().keys() {
            let method = method.to_uppercase();
            if !["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&method.as_str()) {
                continue;
            }
            // (Not the reads: some are endless event streams.)
            if method == "GET" {
                continue;
            }
            let r = call(&api, READER_KEY, Some("reader-1"), &method, &concrete, Some(json!({}))).await;
            writes += 1;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{method} {path}: {}", r.body);
            assert!(r.detail().contains("reader"), "{method} {path}: {}", r.body);
        }
    }
    assert!(writes > 40, "the document lists the write routes ({writes})");
    let r = call(&api, READER_KEY, None, "GET", &format!("/api/v1/intents/{id}"), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["created_by"], json!("amy"));
    for path in ["/api/v1/intents", "/api/v1/portfolios", "/api/v1/agents", "/api/v1/subscriptions"] {
        let r = call(&api, READER_KEY, Some("reader-1"), "GET", path, None).await;
        assert_eq!(r.status, StatusCode::OK, "GET {path}: {}", r.body);
    }
}

#[tokio::test]
async fn the_roles_of_the_development_keys() {
    let dev = ServerConfig::builder().build().unwrap();
    let roles: Vec<_> = dev.api_keys().iter().map(|k| (k.secret().to_owned(), k.role())).collect();
    assert_eq!(
        roles,
        vec![
            ("dev-user-key".to_owned(), Role::Admin),
            ("agent-research-key".to_owned(), Role::Agent),
            ("agent-synth-key".to_owned(), Role::Agent),
        ]
    );
}
