//! Object-level authorization ("broken object level authorization", OWASP API1), route by
//! route: every operation of the OpenAPI document has a decision here (a new route without one
//! fails [`every_documented_route_has_an_ownership_decision`]); for the routes on objects that
//! have owners, alice (agent role) creates the object, and bob (agent role) is refused while
//! alice and an admin key may.
//!
//! On SQLite by default; on fresh PostgreSQL databases with `OPENINTENT_TEST_DATABASE_URL` set
//! (see `common`).

mod common;

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::StatusCode;
use common::{Reply, TestApp};
use openintent_server::{ApiKey, ServerConfig, WebhookConfig};
use serde_json::{Value, json};

/// An unbound key with the agent role: alice and bob are its `X-Agent-ID`s.
const AGENT_KEY: &str = "agent-secret-0123456789abcdef";
/// An unbound key with the operator role.
const OPERATOR_KEY: &str = "operator-secret-0123456789";
/// An unbound key with the admin role.
const ADMIN_KEY: &str = "admin-secret-0123456789abc";

/// Who may use a route, as decided in `docs/security.md` ("Who may do what, route by route").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    /// No API key needed (health, discovery, the OpenAPI document).
    Public,
    /// An intent's route (or one that names an intent's object: a channel, an escalation, an
    /// event trace), under the intent's ACL; walked by `tests/acl.rs`.
    Acl,
    /// Any key: creating one's own object (identity fields must name the caller,
    /// `tests/identity.rs`), or a shared directory (agent records, portfolios, whose member
    /// intents are filtered by their ACLs).
    AnyKey,
    /// An object with owners (`rules/ownership.rs`): walked by [`bob_is_refused_alice_and_admin_may`].
    Owned,
}

use Rule::{Acl, AnyKey, Owned, Public};

/// Every documented operation and its decision.
const ROUTES: &[(&str, &str, Rule)] = &[
    ("GET", "/health", Public),
    ("GET", "/.well-known/openintent.json", Public),
    ("GET", "/.well-known/openintent-compat.json", Public),
    ("GET", "/api/v1/server/config", Public),
    ("GET", "/openapi.json", Public),
    // Intents and everything under them: the ACL.
    ("POST", "/api/v1/intents", AnyKey),
    ("GET", "/api/v1/intents", Acl),
    ("GET", "/api/v1/intents/{id}", Acl),
    ("POST", "/api/v1/intents/{id}/state", Acl),
    ("POST", "/api/v1/intents/{id}/status", Acl),
    ("POST", "/api/v1/intents/{id}/events", Acl),
    ("GET", "/api/v1/intents/{id}/events", Acl),
    ("GET", "/api/v1/events", Acl),
    ("POST", "/api/v1/intents/{id}/agents", Acl),
    ("GET", "/api/v1/intents/{id}/agents", Acl),
    ("DELETE", "/api/v1/intents/{id}/agents/{agent_id}", Owned),
    ("POST", "/api/v1/intents/{id}/attachments", Acl),
    ("GET", "/api/v1/intents/{id}/attachments", Acl),
    ("DELETE", "/api/v1/intents/{id}/attachments/{attachment_id}", Owned),
    ("POST", "/api/v1/intents/{id}/costs", Acl),
    ("GET", "/api/v1/intents/{id}/costs", Acl),
    ("GET", "/api/v1/intents/{id}/costs/summary", Acl),
    ("POST", "/api/v1/intents/{id}/leases", Acl),
    ("GET", "/api/v1/intents/{id}/leases", Acl),
    // Leases: the ACL, then the holder only (`tests/leases.rs`).
    ("PATCH", "/api/v1/intents/{id}/leases/{lease_id}", Acl),
    ("DELETE", "/api/v1/intents/{id}/leases/{lease_id}", Acl),
    ("POST", "/api/v1/intents/{id}/arbitrate", Acl),
    ("GET", "/api/v1/intents/{id}/arbitrations", Acl),
    ("POST", "/api/v1/intents/{id}/decisions", Acl),
    ("GET", "/api/v1/intents/{id}/decisions", Acl),
    ("GET", "/api/v1/intents/{id}/portfolios", Acl),
    ("POST", "/api/v1/intents/{id}/children", Acl),
    ("GET", "/api/v1/intents/{id}/children", Acl),
    ("POST", "/api/v1/intents/{id}/dependencies", Acl),
    ("GET", "/api/v1/intents/{id}/dependencies", Acl),
    ("DELETE", "/api/v1/intents/{id}/dependencies/{dependency_id}", Acl),
    ("GET", "/api/v1/intents/{id}/descendants", Acl),
    ("GET", "/api/v1/intents/{id}/ancestors", Acl),
    ("GET", "/api/v1/intents/{id}/dependents", Acl),
    ("GET", "/api/v1/intents/{id}/ready", Acl),
    ("GET", "/api/v1/intents/{id}/blocked", Acl),
    ("GET", "/api/v1/intents/{id}/graph", Acl),
    ("POST", "/api/v1/intents/{id}/suspend", Acl),
    ("POST", "/api/v1/intents/{id}/suspend/respond", Acl),
    ("GET", "/api/v1/intents/{id}/acl", Acl),
    ("PUT", "/api/v1/intents/{id}/acl", Acl),
    ("POST", "/api/v1/intents/{id}/acl/entries", Acl),
    ("DELETE", "/api/v1/intents/{id}/acl/entries/{entry_id}", Acl),
    ("POST", "/api/v1/intents/{id}/access-requests", Acl),
    ("GET", "/api/v1/intents/{id}/access-requests", Acl),
    ("POST", "/api/v1/intents/{id}/access-requests/{request_id}/approve", Acl),
    ("POST", "/api/v1/intents/{id}/access-requests/{request_id}/deny", Acl),
    ("PUT", "/api/v1/intents/{id}/governance", Acl),
    ("GET", "/api/v1/intents/{id}/governance", Acl),
    ("DELETE", "/api/v1/intents/{id}/governance", Acl),
    ("POST", "/api/v1/intents/{id}/approvals", Acl),
    ("GET", "/api/v1/intents/{id}/approvals", Acl),
    ("GET", "/api/v1/intents/{id}/approvals/{aid}", Acl),
    ("POST", "/api/v1/intents/{id}/approvals/{aid}/approve", Acl),
    ("POST", "/api/v1/intents/{id}/approvals/{aid}/deny", Acl),
    ("POST", "/api/v1/intents/{id}/escalations", Acl),
    ("GET", "/api/v1/escalations", Acl),
    ("GET", "/api/v1/escalations/{eid}", Acl),
    ("POST", "/api/v1/escalations/{eid}/resolve", Acl),
    // Coordinator leases: granted by any key to itself (operators: anyone) on an intent it may
    // read, read under the intent's ACL, heartbeated by the lease's agent.
    ("POST", "/api/v1/coordinators", AnyKey),
    ("GET", "/api/v1/coordinators/{id}", Acl),
    ("GET", "/api/v1/intents/{id}/coordinators", Acl),
    ("POST", "/api/v1/coordinators/{id}/heartbeat", Owned),
    // Decision records: recorded by the lease's agent (an operator or admin key acting for it),
    // with write access to the intent; listed under the intent's ACL.
    ("POST", "/api/v1/decisions", Owned),
    ("GET", "/api/v1/intents/{id}/coordinator-decisions", Acl),
    ("GET", "/api/v1/inbox", Acl),
    ("GET", "/api/v1/subscribe/inbox", Acl),
    ("GET", "/api/v1/intents/{id}/retry-policy", Acl),
    ("PUT", "/api/v1/intents/{id}/retry-policy", Acl),
    ("POST", "/api/v1/intents/{id}/failures", Acl),
    ("GET", "/api/v1/intents/{id}/failures", Acl),
    ("POST", "/api/v1/intents/{id}/channels", Acl),
    ("GET", "/api/v1/intents/{id}/channels", Acl),
    // Channels: the intent's ACL and the member policy (`tests/channels.rs`); changing or
    // closing one is its creator's.
    ("GET", "/api/v1/channels/{channel_id}", Acl),
    ("PATCH", "/api/v1/channels/{channel_id}", Owned),
    ("DELETE", "/api/v1/channels/{channel_id}", Owned),
    ("POST", "/api/v1/channels/{channel_id}/messages", Acl),
    ("GET", "/api/v1/channels/{channel_id}/messages", Acl),
    ("GET", "/api/v1/channels/{channel_id}/messages/{message_id}", Acl),
    // A message's delivery status (a receipt, not its content).
    ("PATCH", "/api/v1/channels/{channel_id}/messages/{message_id}", Acl),
    ("POST", "/api/v1/channels/{channel_id}/messages/{message_id}/reply", Acl),
    ("GET", "/api/v1/intents/{id}/subscribe", Acl),
    ("GET", "/api/v1/subscribe/intents/{id}", Acl),
    ("GET", "/api/v1/subscribe/channels/{id}", Acl),
    // Portfolios: a shared directory; changes by the creator.
    ("POST", "/api/v1/portfolios", AnyKey),
    ("GET", "/api/v1/portfolios", AnyKey),
    ("GET", "/api/v1/portfolios/{id}", AnyKey),
    ("PATCH", "/api/v1/portfolios/{id}/status", Owned),
    ("POST", "/api/v1/portfolios/{id}/intents", Owned),
    ("GET", "/api/v1/portfolios/{id}/intents", AnyKey),
    ("DELETE", "/api/v1/portfolios/{id}/intents/{intent_id}", Owned),
    ("GET", "/api/v1/portfolios/{id}/subscribe", AnyKey),
    ("GET", "/api/v1/subscribe/portfolios/{id}", AnyKey),
    // The agent registry: a shared directory; changes by the agent (or an operator).
    ("POST", "/api/v1/agents", AnyKey),
    ("GET", "/api/v1/agents", AnyKey),
    ("POST", "/api/v1/agents/register", AnyKey),
    ("GET", "/api/v1/agents/{agent_id}", AnyKey),
    ("DELETE", "/api/v1/agents/{agent_id}", Owned),
    ("GET", "/api/v1/agents/{agent_id}/record", AnyKey),
    ("POST", "/api/v1/agents/{agent_id}/heartbeat", Owned),
    ("PATCH", "/api/v1/agents/{agent_id}/status", Owned),
    ("GET", "/api/v1/agents/{id}/subscribe", AnyKey),
    ("GET", "/api/v1/subscribe/agents/{id}", AnyKey),
    // Webhook subscriptions: the subscriber's own.
    ("POST", "/api/v1/subscriptions", AnyKey),
    ("GET", "/api/v1/subscriptions", Owned),
    ("DELETE", "/api/v1/subscriptions/{id}", Owned),
    ("GET", "/api/v1/subscriptions/{id}/deliveries", Owned),
];

async fn test_app() -> TestApp {
    let keys = ApiKey::parse_list(&format!("{AGENT_KEY},{OPERATOR_KEY}=:operator,{ADMIN_KEY}=:admin"));
    let config = ServerConfig::builder()
        .database(common::test_database().await)
        .api_keys(keys)
        .webhooks(WebhookConfig::disabled())
        .build()
        .unwrap();
    TestApp::with_config(config).await
}

async fn call(api: &TestApp, key: &str, agent: &str, method: &str, path: &str, body: Option<Value>) -> Reply {
    let mut headers = vec![("x-api-key", key), ("x-agent-id", agent)];
    if body.is_some() {
        headers.push(("content-type", "application/json"));
    }
    api.send(method, path, &headers, body.map(|b| Body::from(b.to_string()))).await
}

fn ok(r: &Reply, what: &str) -> Value {
    assert!(r.status.is_success(), "{what}: {} {}", r.status, r.body);
    r.body.clone()
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap_or_else(|| panic!("an id in {v}")).to_owned()
}

#[tokio::test]
async fn every_documented_route_has_an_ownership_decision() {
    let api = test_app().await;
    let doc = api.send("GET", "/openapi.json", &[], None).await.body;
    let mut documented = BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    let decided: BTreeSet<(String, String)> = ROUTES.iter().map(|(m, p, _)| (m.to_string(), p.to_string())).collect();
    let undecided: Vec<_> = documented.difference(&decided).collect();
    assert!(
        undecided.is_empty(),
        "routes without an ownership decision (add them to ROUTES and docs/security.md): {undecided:?}"
    );
    let gone: Vec<_> = decided.difference(&documented).collect();
    assert!(gone.is_empty(), "decisions for routes the OpenAPI document does not have: {gone:?}");
    // Public routes answer without a key; every other route needs one.
    for (method, path, rule) in ROUTES {
        if *rule == Public {
            let r = api.send(method, path, &[], None).await;
            assert!(r.status.is_success(), "{method} {path}: {}", r.status);
        } else {
            let concrete = path.replace(['{', '}'], "");
            let r = api.send(method, &concrete, &[], None).await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{method} {path} without a key");
        }
    }
}

/// One of each owned object, created by `alice` (an agent-role key).
struct Objects {
    alice: String,
    intent: String,
    spare_intent: String,
    subscription: String,
    attachment: String,
    worker: String,
    portfolio: String,
    channel: String,
    coordinator_lease: String,
}

async fn objects(api: &TestApp, round: usize) -> Objects {
    let alice = format!("alice-{round}");
    let a = |m: &'static str, p: String, b: Value| {
        let alice = alice.clone();
        async move { ok(&call(api, AGENT_KEY, &alice, m, &p, Some(b)).await, &p) }
    };
    let intent = id_of(&a("POST", "/api/v1/intents".into(), json!({"title": "owned"})).await);
    let spare_intent = id_of(&a("POST", "/api/v1/intents".into(), json!({"title": "spare"})).await);
    let hook = json!({"intent_id": intent, "webhook_url": "https://hooks.example.com/alice"});
    let subscription = id_of(&a("POST", "/api/v1/subscriptions".into(), hook).await);
    let file = json!({"filename": "a.txt", "mime_type": "text/plain", "size": 1, "storage_url": "https://files.example.com/a"});
    let attachment = id_of(&a("POST", format!("/api/v1/intents/{intent}/attachments"), file).await);
    let worker = format!("worker-{round}");
    a("POST", format!("/api/v1/intents/{intent}/agents"), json!({"agent_id": worker})).await;
    a("POST", "/api/v1/agents/register".into(), json!({"agent_id": alice, "capabilities": ["x"]})).await;
    let portfolio = id_of(&a("POST", "/api/v1/portfolios".into(), json!({"name": "alice's"})).await);
    a("POST", format!("/api/v1/portfolios/{portfolio}/intents"), json!({"intent_id": intent})).await;
    let channel = id_of(&a("POST", format!("/api/v1/intents/{intent}/channels"), json!({"name": "ops"})).await);
    let lease = json!({"agent_id": alice, "intent_id": intent});
    let coordinator_lease = id_of(&a("POST", "/api/v1/coordinators".into(), lease).await);
    Objects { alice, intent, spare_intent, subscription, attachment, worker, portfolio, channel, coordinator_lease }
}

/// The concrete request of an owned route on `o`: path, body, and the status that refuses
/// bob (404 where the object is hidden from him, 403 where he may read it).
fn request(method: &str, route: &str, o: &Objects) -> (String, Option<Value>, StatusCode) {
    let forbidden = StatusCode::FORBIDDEN;
    let hidden = StatusCode::NOT_FOUND;
    let (i, p) = (&o.intent, &o.portfolio);
    match (method, route) {
        ("DELETE", "/api/v1/intents/{id}/agents/{agent_id}") => {
            (format!("/api/v1/intents/{i}/agents/{}", o.worker), None, forbidden)
        }
        ("DELETE", "/api/v1/intents/{id}/attachments/{attachment_id}") => {
            (format!("/api/v1/intents/{i}/attachments/{}", o.attachment), None, forbidden)
        }
        ("PATCH", "/api/v1/portfolios/{id}/status") => {
            (format!("/api/v1/portfolios/{p}/status"), Some(json!({"status": "completed"})), forbidden)
        }
        ("POST", "/api/v1/portfolios/{id}/intents") => {
            (format!("/api/v1/portfolios/{p}/intents"), Some(json!({"intent_id": o.spare_intent})), forbidden)
        }
        ("DELETE", "/api/v1/portfolios/{id}/intents/{intent_id}") => {
            (format!("/api/v1/portfolios/{p}/intents/{i}"), None, forbidden)
        }
        ("PATCH", "/api/v1/channels/{channel_id}") => {
            (format!("/api/v1/channels/{}", o.channel), Some(json!({"members": ["bob"]})), forbidden)
        }
        ("DELETE", "/api/v1/channels/{channel_id}") => (format!("/api/v1/channels/{}", o.channel), None, forbidden),
        ("DELETE", "/api/v1/agents/{agent_id}") => (format!("/api/v1/agents/{}", o.alice), None, forbidden),
        ("POST", "/api/v1/coordinators/{id}/heartbeat") => {
            (format!("/api/v1/coordinators/{}/heartbeat", o.coordinator_lease), None, forbidden)
        }
        ("POST", "/api/v1/decisions") => {
            let body = json!({"coordinator_id": o.coordinator_lease, "intent_id": i, "decision_type": "plan_created",
                              "summary": "s", "rationale": "r"});
            ("/api/v1/decisions".to_owned(), Some(body), forbidden)
        }
        ("POST", "/api/v1/agents/{agent_id}/heartbeat") => {
            (format!("/api/v1/agents/{}/heartbeat", o.alice), Some(json!({"status": "active"})), forbidden)
        }
        ("PATCH", "/api/v1/agents/{agent_id}/status") => {
            (format!("/api/v1/agents/{}/status", o.alice), Some(json!({"status": "draining"})), forbidden)
        }
        ("DELETE", "/api/v1/subscriptions/{id}") => (format!("/api/v1/subscriptions/{}", o.subscription), None, hidden),
        ("GET", "/api/v1/subscriptions/{id}/deliveries") => {
            (format!("/api/v1/subscriptions/{}/deliveries", o.subscription), None, hidden)
        }
        other => panic!("no request for the owned route {other:?}: add one"),
    }
}

/// The ids of the subscriptions `GET /api/v1/subscriptions` shows.
fn listed(body: &Value) -> Vec<String> {
    body["subscriptions"].as_array().unwrap().iter().map(id_of).collect()
}

#[tokio::test]
async fn bob_is_refused_alice_and_admin_may() {
    let api = test_app().await;
    let mut round = 0;
    for (method, route, _) in ROUTES.iter().filter(|(_, _, rule)| *rule == Owned) {
        let what = format!("{method} {route}");
        if (*method, *route) == ("GET", "/api/v1/subscriptions") {
            round += 1;
            let o = objects(&api, round).await;
            let bob = call(&api, AGENT_KEY, "bob", "GET", route, None).await;
            assert!(!listed(&ok(&bob, &what)).contains(&o.subscription), "bob sees alice's subscription");
            let asked = format!("{route}?subscriber_id={}", o.alice);
            let bob = call(&api, AGENT_KEY, "bob", "GET", &asked, None).await;
            assert!(listed(&ok(&bob, &what)).is_empty(), "bob asking for alice's: {}", bob.body);
            let operator = call(&api, OPERATOR_KEY, "ops", "GET", route, None).await;
            assert!(!listed(&ok(&operator, &what)).contains(&o.subscription), "an operator sees only its own");
            for (key, agent) in [(AGENT_KEY, o.alice.as_str()), (ADMIN_KEY, "root")] {
                let r = call(&api, key, agent, "GET", route, None).await;
                assert!(listed(&ok(&r, &what)).contains(&o.subscription), "{agent}: {}", r.body);
            }
            continue;
        }
        // Bob (agent role) and an operator that is not the agent are refused, and nothing changed.
        round += 1;
        let o = objects(&api, round).await;
        let (path, body, refused) = request(method, route, &o);
        let bob = call(&api, AGENT_KEY, "bob", method, &path, body.clone()).await;
        assert_eq!(bob.status, refused, "bob: {what}: {}", bob.body);
        let operator = call(&api, OPERATOR_KEY, "ops", method, &path, body.clone()).await;
        // An operator runs the fleet and records decisions for a lease's agent.
        if route.starts_with("/api/v1/agents/") || *route == "/api/v1/decisions" {
            ok(&operator, &format!("an operator may: {what}"));
            round += 1;
            let o = objects(&api, round).await;
            let (path, body, _) = request(method, route, &o);
            ok(&call(&api, AGENT_KEY, &o.alice, method, &path, body).await, &format!("alice: {what}"));
        } else {
            assert_eq!(operator.status, refused, "operator: {what}: {}", operator.body);
            ok(&call(&api, AGENT_KEY, &o.alice, method, &path, body).await, &format!("alice: {what}"));
        }
        // An admin key may, on a fresh set of alice's objects.
        round += 1;
        let o = objects(&api, round).await;
        let (path, body, _) = request(method, route, &o);
        ok(&call(&api, ADMIN_KEY, "root", method, &path, body).await, &format!("admin: {what}"));
    }
}

#[tokio::test]
async fn the_agent_assigned_may_unassign_itself_and_a_refusal_changes_nothing() {
    let api = test_app().await;
    let o = objects(&api, 1).await;
    let path = format!("/api/v1/intents/{}/agents/{}", o.intent, o.worker);
    assert_eq!(call(&api, AGENT_KEY, "bob", "DELETE", &path, None).await.status, StatusCode::FORBIDDEN);
    let agents = call(&api, AGENT_KEY, "bob", "GET", &format!("/api/v1/intents/{}/agents", o.intent), None).await;
    assert_eq!(ok(&agents, "list").as_array().unwrap().len(), 1, "still assigned");
    let attachments =
        call(&api, AGENT_KEY, "bob", "GET", &format!("/api/v1/intents/{}/attachments", o.intent), None).await;
    assert_eq!(ok(&attachments, "list").as_array().unwrap().len(), 1, "bob may read attachments under the ACL");
    assert_eq!(call(&api, AGENT_KEY, &o.worker, "DELETE", &path, None).await.status, StatusCode::NO_CONTENT);
    // An unknown subscription and another's look the same to bob.
    let other =
        call(&api, AGENT_KEY, "bob", "DELETE", &format!("/api/v1/subscriptions/{}", o.subscription), None).await;
    let unknown = call(&api, AGENT_KEY, "bob", "DELETE", "/api/v1/subscriptions/no-such-id", None).await;
    assert_eq!((other.status, other.body), (unknown.status, unknown.body));
    // The intent's creator may delete an attachment another principal uploaded.
    let file = json!({"filename": "b.txt", "mime_type": "text/plain", "size": 1, "storage_url": "https://files.example.com/b"});
    let theirs =
        call(&api, AGENT_KEY, "bob", "POST", &format!("/api/v1/intents/{}/attachments", o.intent), Some(file)).await;
    let path = format!("/api/v1/intents/{}/attachments/{}", o.intent, id_of(&ok(&theirs, "bob uploads")));
    assert_eq!(call(&api, AGENT_KEY, &o.alice, "DELETE", &path, None).await.status, StatusCode::NO_CONTENT);
}
