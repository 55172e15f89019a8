//! Shared helpers of the client tests: a client over a `MockTransport`, the captured
//! exchanges of the reference server, and request assertions.
#![allow(dead_code)]

use openintent_client::Client;
use openintent_transport::test_util::MockTransport;
use openintent_transport::{Method, Request, Response};
use serde_json::Value;

pub const AGENT: &str = "my-agent";

/// A client over a fresh mock, plus a handle on the mock.
pub fn client() -> (Client, MockTransport) {
    let mock = MockTransport::new();
    (Client::from_transport(mock.clone(), AGENT), mock)
}

/// A captured exchange from `tests/data/examples/<name>.json`.
pub fn example(name: &str) -> Value {
    let path = format!("{}/tests/data/examples/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

/// The captured response of an example as a transport response.
pub fn example_response(name: &str) -> Response {
    let ex = example(name);
    let resp = &ex["response"];
    let status = resp["status"].as_u64().unwrap() as u16;
    let mut r = Response::new(status);
    if let Some(h) = resp["headers"].as_object() {
        for (k, v) in h {
            r = r.with_header(k.clone(), v.as_str().unwrap_or_default().to_owned());
        }
    }
    if let Some(text) = resp["body_text"].as_str() {
        r = r.with_body(text.to_owned());
    } else if !resp["body"].is_null() {
        r = r.with_body(serde_json::to_vec(&resp["body"]).unwrap());
    }
    r
}

/// The captured request body of an example.
pub fn example_request_body(name: &str) -> Value {
    example(name)["request"]["body"].clone()
}

/// A JSON response.
pub fn json(status: u16, body: Value) -> Response {
    Response::new(status).with_json(serde_json::to_vec(&body).unwrap())
}

/// The body of a captured request as JSON.
pub fn body(req: &Request) -> Value {
    serde_json::from_slice(req.body.as_deref().expect("request has a body")).unwrap()
}

/// Asserts every key of `expected` is in `actual` with an equal value (recursively for
/// objects); `actual` may have more keys.
pub fn assert_contains(actual: &Value, expected: &Value) {
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => {
            for (k, ev) in e {
                let av = a.get(k).unwrap_or_else(|| panic!("missing key `{k}` in {actual}"));
                assert_contains(av, ev);
            }
        }
        (Value::Number(a), Value::Number(e)) => {
            assert_eq!(a.as_f64(), e.as_f64(), "number mismatch");
        }
        _ => assert_eq!(actual, expected),
    }
}

/// Asserts method, path, `X-Agent-ID`, and that `If-Match` is present exactly when given.
pub fn assert_request(req: &Request, method: Method, path: &str, if_match: Option<&str>) {
    assert_eq!(req.method, method, "method of {}", req.path);
    assert_eq!(req.path, path);
    assert_eq!(req.headers.get("x-agent-id"), Some(AGENT), "X-Agent-ID on {path}");
    assert_eq!(req.headers.get("if-match"), if_match, "If-Match on {method} {path}");
}

/// The value of a query parameter.
pub fn query<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// The intent id used in the captured examples.
pub const INTENT: &str = "8dd2bdb3-586f-45fc-86d6-833bcad6046a";
