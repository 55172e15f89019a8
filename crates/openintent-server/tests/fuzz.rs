//! Bounded fuzzing of the decoders that read untrusted input, through the whole router: JSON
//! bodies (valid JSON of any shape, and arbitrary bytes) on every kind of write, state patch
//! paths and operations, `If-Match` values, query strings and path segments.
//!
//! The property everywhere: the server never panics and never answers 5xx, and every 4xx is a
//! typed JSON error (an object with a non-empty `detail`). Generation is deterministic (a fixed
//! seed) with a fixed case budget, so a run takes seconds; `OPENINTENT_FUZZ_CASES` raises the
//! budget for a longer local run. On in-memory SQLite, or PostgreSQL with
//! `OPENINTENT_TEST_DATABASE_URL` set (see `common`).

mod common;

use axum::body::Body;
use axum::http::{HeaderValue, Method, Request, Uri};
use common::{KEY, TestApp};
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use serde_json::{Map, Value, json};
use tower::ServiceExt;

/// The cases of each property (raised with `OPENINTENT_FUZZ_CASES`).
fn runner(default_cases: u32) -> TestRunner {
    let cases = std::env::var("OPENINTENT_FUZZ_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(default_cases);
    let config =
        Config { cases, failure_persistence: Some(Box::new(FileFailurePersistence::Off)), ..Config::default() };
    TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// Sends one request; `None` when `uri` or a header is not even valid HTTP (nothing to test).
async fn send(
    app: &TestApp,
    method: &str,
    uri: &str,
    headers: &[(&str, &[u8])],
    body: Option<Vec<u8>>,
) -> Option<(u16, Value)> {
    let uri = Uri::try_from(uri).ok()?;
    let mut req = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).unwrap())
        .uri(uri)
        .header("x-api-key", KEY)
        .header("x-agent-id", "fuzzer");
    if body.is_some() {
        req = req.header("content-type", "application/json");
    }
    for (k, v) in headers {
        req = req.header(*k, HeaderValue::from_bytes(v).ok()?);
    }
    let req = req.body(body.map_or_else(Body::empty, Body::from)).unwrap();
    let resp = app.router.clone().oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    Some((status, body))
}

/// Never 5xx; a 4xx says what was wrong in a JSON `detail`: a message, or (validation errors,
/// the reference's shape) a list of `{loc, msg, type}` naming the field.
fn well_handled(what: &str, status: u16, body: &Value) -> Result<(), TestCaseError> {
    prop_assert!(status < 500, "{what}: {status} {body}");
    if status >= 400 {
        let typed = match body.get("detail") {
            Some(Value::String(message)) => !message.is_empty(),
            Some(Value::Array(errors)) => {
                !errors.is_empty()
                    && errors.iter().all(|e| {
                        e["loc"].as_array().is_some_and(|l| !l.is_empty())
                            && e["msg"].as_str().is_some_and(|m| !m.is_empty())
                            && e["type"].is_string()
                    })
            }
            _ => false,
        };
        prop_assert!(typed, "{what}: {status} without a typed error body: {body}");
    }
    Ok(())
}

/// Keys that the request types read, mixed with arbitrary ones, so that generated objects
/// reach the typed fields as well as the unknown-field paths.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "title", "description", "state", "status", "patches", "op", "path", "value", "event_type",
            "payload", "scope", "duration_seconds", "intent_id", "webhook_url", "agent_id", "name",
            "content", "amount", "cost_type", "reason", "governance_policy", "constraints", "parent_id",
            "depends_on", "entries", "permission", "principal_id", "filename", "url", "question", "choices",
            "max_retries", "capabilities", "decision", "metadata", "event_types", "expires_at", "ttl",
        ])
        .prop_map(str::to_owned),
        1 => ".{0,8}",
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        prop::sample::select(vec![
            "",
            "open",
            "active",
            "completed",
            "set",
            "append",
            "remove",
            "/",
            "/a/b",
            "~",
            "/~2",
            "2020-01-01T00:00:00Z",
            "http://127.0.0.1:1/x",
            "-1",
            "1e400",
            "\u{0}",
        ])
        .prop_map(|s| Value::String(s.to_owned())),
        ".{0,16}".prop_map(Value::String),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(5, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A body: mostly JSON objects, sometimes any JSON, sometimes bytes that are not JSON at all.
fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => prop::collection::vec((key(), json_value()), 0..8)
            .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>()).to_string().into_bytes()),
        2 => json_value().prop_map(|v| v.to_string().into_bytes()),
        1 => prop::collection::vec(any::<u8>(), 0..64),
        1 => (1usize..400).prop_map(|n| "[".repeat(n).into_bytes()),
        // Objects nested up to 300 deep: past the stored-document limit, past serde_json's own
        // (128), and in between, where a 422 must leave the too-deep echo of its `input` out to
        // stay readable.
        1 => (1usize..300).prop_map(|n| format!("{}1{}", "{\"a\":".repeat(n), "}".repeat(n)).into_bytes()),
    ]
}

/// The writes that take a body, `{id}` standing for an existing intent.
const WRITES: &[(&str, &str)] = &[
    ("POST", "/api/v1/intents"),
    ("POST", "/api/v1/intents/{id}/state"),
    ("POST", "/api/v1/intents/{id}/status"),
    ("POST", "/api/v1/intents/{id}/events"),
    ("POST", "/api/v1/intents/{id}/leases"),
    ("POST", "/api/v1/intents/{id}/agents"),
    ("POST", "/api/v1/intents/{id}/attachments"),
    ("POST", "/api/v1/intents/{id}/costs"),
    ("POST", "/api/v1/intents/{id}/failures"),
    ("PUT", "/api/v1/intents/{id}/retry-policy"),
    ("PUT", "/api/v1/intents/{id}/governance"),
    ("PUT", "/api/v1/intents/{id}/acl"),
    ("POST", "/api/v1/intents/{id}/acl/entries"),
    ("POST", "/api/v1/intents/{id}/access-requests"),
    ("POST", "/api/v1/intents/{id}/approvals"),
    ("POST", "/api/v1/intents/{id}/escalations"),
    ("POST", "/api/v1/intents/{id}/arbitrate"),
    ("POST", "/api/v1/intents/{id}/decisions"),
    ("POST", "/api/v1/intents/{id}/channels"),
    ("POST", "/api/v1/intents/{id}/children"),
    ("POST", "/api/v1/intents/{id}/dependencies"),
    ("POST", "/api/v1/intents/{id}/suspend"),
    ("POST", "/api/v1/intents/{id}/suspend/respond"),
    ("POST", "/api/v1/portfolios"),
    ("POST", "/api/v1/agents/register"),
    ("POST", "/api/v1/agents/fuzzer/heartbeat"),
    ("POST", "/api/v1/subscriptions"),
];

/// Each case uses a fresh intent when it asks for one, so earlier cases (a completion, a
/// governance policy) do not hide the decoders of later ones.
#[test]
fn json_bodies_on_every_write_are_handled() {
    let rt = runtime();
    let app = rt.block_on(TestApp::memory());
    let fixed = rt.block_on(app.intent("fuzzed"));
    let cases = (prop::sample::select(WRITES), body(), any::<bool>());
    runner(1500)
        .run(&cases, |((method, path), body, fresh)| {
            rt.block_on(async {
                let id = if fresh { app.intent("fresh").await } else { fixed.clone() };
                let uri = path.replace("{id}", &id);
                let (status, reply) = send(&app, method, &uri, &[], Some(body.clone())).await.unwrap();
                well_handled(&format!("{method} {uri} {}", String::from_utf8_lossy(&body)), status, &reply)
            })
        })
        .unwrap();
}

/// A pointer: mostly well-formed with odd tokens (escapes, indexes, huge numbers), sometimes
/// any string at all.
fn pointer() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        prop::sample::select(vec!["a", "b", "0", "-", "~0", "~1", "~", "~2", "", "99999999999999999999", "é", " "])
            .prop_map(str::to_owned),
        ".{0,6}",
    ];
    prop_oneof![
        4 => prop::collection::vec(token, 0..6).prop_map(|t| t.iter().map(|t| format!("/{t}")).collect::<String>()),
        1 => ".{0,24}",
    ]
}

#[test]
fn state_patch_paths_and_if_match_values_are_handled() {
    let rt = runtime();
    let app = rt.block_on(TestApp::memory());
    let id = rt.block_on(app.intent("patched"));
    let op = prop::sample::select(vec!["set", "append", "remove", "increment", "merge", "", "SET"]);
    let patch = (op, pointer(), prop::option::of(json_value())).prop_map(|(op, path, value)| {
        let mut p = json!({"op": op, "path": path});
        if let Some(v) = value {
            p["value"] = v;
        }
        p
    });
    let if_match = prop_oneof![
        Just(None),
        (0i64..5).prop_map(|v| Some(v.to_string().into_bytes())),
        (0i64..5).prop_map(|v| Some(format!("\"{v}\"").into_bytes())),
        prop::sample::select(vec!["*", "W/\"1\"", "\"\"", "-1", "1e3", "18446744073709551616", "\"1\", \"2\"", " 1 "])
            .prop_map(|s| Some(s.as_bytes().to_vec())),
        prop::collection::vec(any::<u8>(), 0..12).prop_map(Some),
    ];
    let cases = (prop::collection::vec(patch, 0..4), if_match);
    runner(1500)
        .run(&cases, |(patches, if_match)| {
            rt.block_on(async {
                let uri = format!("/api/v1/intents/{id}/state");
                let body = json!({"patches": patches}).to_string().into_bytes();
                let headers: Vec<(&str, &[u8])> = if_match.iter().map(|v| ("if-match", v.as_slice())).collect();
                // Header bytes HTTP itself refuses never reach the server.
                let Some((status, reply)) = send(&app, "POST", &uri, &headers, Some(body)).await else { return Ok(()) };
                let what =
                    format!("patches {patches:?} if-match {:?}", if_match.as_deref().map(String::from_utf8_lossy));
                well_handled(&what, status, &reply)
            })
        })
        .unwrap();
}

/// Query strings: the parameters the listings read, with odd values, plus arbitrary text
/// (percent-encoded where a URI needs it, and raw where it allows).
fn query() -> impl Strategy<Value = String> {
    let name = prop_oneof![
        3 => prop::sample::select(vec![
            "limit", "offset", "status", "since", "until", "event_type", "cursor", "created_by", "page", "agent_id",
            "trace_id", "before", "after", "include", "fields", "order",
        ])
        .prop_map(str::to_owned),
        1 => "[a-z_]{0,6}",
    ];
    let value = prop_oneof![
        prop::sample::select(vec![
            "",
            "0",
            "-1",
            "1000000",
            "99999999999999999999",
            "1.5",
            "abc",
            "2020-01-01T00:00:00Z",
            "open",
            "%",
            "%zz",
            "%00",
            "%FF%FE",
            "+",
            "null",
            "true",
            "[]",
        ])
        .prop_map(str::to_owned),
        ".{0,10}".prop_map(|s| percent_encode(&s)),
    ];
    prop::collection::vec((name, value), 0..5)
        .prop_map(|kv| kv.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&"))
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

const LISTINGS: &[&str] = &[
    "/api/v1/intents",
    "/api/v1/intents/{id}/events",
    "/api/v1/intents/{id}/leases",
    "/api/v1/intents/{id}/costs",
    "/api/v1/intents/{id}/channels",
    "/api/v1/intents/{id}/approvals",
    "/api/v1/intents/{id}/children",
    "/api/v1/portfolios",
    "/api/v1/agents",
    "/api/v1/subscriptions",
];

#[test]
fn query_strings_and_path_segments_are_handled() {
    let rt = runtime();
    let app = rt.block_on(TestApp::memory());
    let id = rt.block_on(app.intent("listed"));
    let segment = prop_oneof![Just(None), ".{0,12}".prop_map(|s| Some(percent_encode(&s)))];
    let cases = (prop::sample::select(LISTINGS), query(), segment);
    runner(1500)
        .run(&cases, |(path, query, segment)| {
            rt.block_on(async {
                let target = segment.clone().unwrap_or_else(|| id.clone());
                let uri = format!("{}?{query}", path.replace("{id}", &target));
                let Some((status, reply)) = send(&app, "GET", &uri, &[], None).await else { return Ok(()) };
                well_handled(&uri, status, &reply)
            })
        })
        .unwrap();
}
