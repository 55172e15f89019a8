//! OpenTelemetry export (the `otel` feature): a real `openintent-server` process sends its
//! request spans over OTLP/HTTP to a collector on 127.0.0.1 (here, a receiver decoding the
//! protobuf). Request spans continue the caller's W3C trace, carry the method, the route
//! template, the status and the RFC-0020 trace id, and are all sent when SIGTERM stops the
//! server.
#![cfg(feature = "otel")]

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use prost::Message;
use serde_json::{Value, json};

use common::KEY;
use common::process::ServerProcess;

/// The caller's W3C trace and span.
const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

/// An RFC-0020 trace id (the protocol's own, in event bodies).
const RFC_TRACE: &str = "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6";

/// One exported span, as the receiver decoded it.
#[derive(Debug, Clone)]
struct Span {
    service: Option<String>,
    name: String,
    trace_id: String,
    parent_span_id: String,
    attributes: HashMap<String, AnyValue>,
}

impl Span {
    fn string(&self, key: &str) -> Option<&str> {
        match self.attributes.get(key) {
            Some(AnyValue::StringValue(s)) => Some(s),
            _ => None,
        }
    }

    fn int(&self, key: &str) -> Option<i64> {
        match self.attributes.get(key) {
            Some(AnyValue::IntValue(n)) => Some(*n),
            _ => None,
        }
    }
}

/// A collector on 127.0.0.1 taking `POST /v1/traces` (OTLP/HTTP, protobuf).
#[derive(Clone, Default)]
struct Collector {
    spans: Arc<Mutex<Vec<Span>>>,
    /// Request bodies that were not OTLP protobuf, with their content type.
    refused: Arc<Mutex<Vec<String>>>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn attributes(list: &[KeyValue]) -> HashMap<String, AnyValue> {
    list.iter().filter_map(|kv| Some((kv.key.clone(), kv.value.clone()?.value?))).collect()
}

async fn traces(State(collector): State<Collector>, headers: HeaderMap, body: Bytes) -> (StatusCode, Vec<u8>) {
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let request = match ExportTraceServiceRequest::decode(body) {
        Ok(r) if content_type == "application/x-protobuf" => r,
        other => {
            collector.refused.lock().unwrap().push(format!("{content_type}: {:?}", other.err()));
            return (StatusCode::BAD_REQUEST, Vec::new());
        }
    };
    let mut spans = collector.spans.lock().unwrap();
    for resource_spans in request.resource_spans {
        let resource = attributes(&resource_spans.resource.map(|r| r.attributes).unwrap_or_default());
        let service = match resource.get("service.name") {
            Some(AnyValue::StringValue(s)) => Some(s.clone()),
            _ => None,
        };
        for span in resource_spans.scope_spans.into_iter().flat_map(|s| s.spans) {
            spans.push(Span {
                service: service.clone(),
                name: span.name,
                trace_id: hex(&span.trace_id),
                parent_span_id: hex(&span.parent_span_id),
                attributes: attributes(&span.attributes),
            });
        }
    }
    (StatusCode::OK, ExportTraceServiceResponse::default().encode_to_vec())
}

impl Collector {
    /// Serves on a free port of 127.0.0.1; returns its base URL.
    async fn start(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new().route("/v1/traces", post(traces)).with_state(self.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}")
    }

    fn spans(&self) -> Vec<Span> {
        self.spans.lock().unwrap().clone()
    }
}

/// `method path` with the test key, and a `traceparent` when given; the status and JSON body.
async fn call(
    server: &ServerProcess,
    method: reqwest::Method,
    path: &str,
    traceparent: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .request(method, format!("{}{path}", server.url()))
        .header("X-API-Key", KEY)
        .timeout(Duration::from_secs(30));
    if let Some(tp) = traceparent {
        request = request.header("traceparent", tp);
    }
    if let Some(body) = body {
        request = request.header("content-type", "application/json").body(body.to_string());
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status().as_u16();
    let text = response.bytes().await.unwrap_or_default();
    (status, serde_json::from_slice(&text).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_spans_are_exported_in_the_callers_trace_and_flushed_on_sigterm() {
    let collector = Collector::default();
    let endpoint = collector.start().await;
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite:///{}", dir.path().join("otel.db").display());
    let mut server = ServerProcess::start_with(&["--database-url", &database], |c| {
        c.env("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint).env("OTEL_SERVICE_NAME", "openintent-otel-test");
    })
    .await;

    let traceparent = format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01");
    let (created, intent) =
        call(&server, reqwest::Method::POST, "/api/v1/intents", Some(&traceparent), Some(json!({"title": "t"}))).await;
    assert!((200..300).contains(&created), "{created} {intent}");
    let id = intent["id"].as_str().unwrap();
    let events = format!("/api/v1/intents/{id}/events");
    let body = json!({"event_type": "tool_call", "trace_id": RFC_TRACE});
    let (logged, event) = call(&server, reqwest::Method::POST, &events, Some(&traceparent), Some(body)).await;
    assert_eq!(logged, 200, "{event}");
    let (read, _) = call(&server, reqwest::Method::GET, &format!("/api/v1/intents/{id}"), None, None).await;
    assert_eq!(read, 200);
    let (missing, _) = call(&server, reqwest::Method::GET, "/api/v1/nowhere", None, None).await;
    assert_eq!(missing, 404);

    // The batches are sent every 5 s; a graceful stop sends what is left at once.
    let stopping = Instant::now();
    let status = server.terminate().await;
    assert!(status.success(), "{status:?}");
    assert!(stopping.elapsed() < Duration::from_secs(20), "stopped in {:?}", stopping.elapsed());
    assert!(collector.refused.lock().unwrap().is_empty(), "{:?}", collector.refused.lock().unwrap());

    let spans = collector.spans();
    let find = |name: &str| {
        spans.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("no span {name:?} among {spans:#?}")).clone()
    };
    let create = find("POST /api/v1/intents");
    assert_eq!(create.trace_id, CALLER_TRACE, "the span continues the caller's trace");
    assert_eq!(create.parent_span_id, CALLER_SPAN, "the caller's span is its parent");
    assert_eq!(create.service.as_deref(), Some("openintent-otel-test"));
    assert_eq!(create.string("http.request.method"), Some("POST"));
    assert_eq!(create.string("http.route"), Some("/api/v1/intents"));
    assert_eq!(create.string("url.path"), Some("/api/v1/intents"));
    assert_eq!(create.int("http.response.status_code"), Some(i64::from(created)), "{create:?}");
    assert_eq!(create.string("openintent.trace_id"), None, "no RFC-0020 trace id was sent");

    let log = find("POST /api/v1/intents/{id}/events");
    assert_eq!((log.trace_id.as_str(), log.parent_span_id.as_str()), (CALLER_TRACE, CALLER_SPAN));
    assert_eq!(log.string("openintent.trace_id"), Some(RFC_TRACE));
    assert_eq!(log.string("url.path"), Some(events.as_str()));
    assert_eq!(log.int("http.response.status_code"), Some(200), "{log:?}");

    // Without a traceparent: a trace of its own, a root span.
    let get = find("GET /api/v1/intents/{id}");
    assert_ne!(get.trace_id, CALLER_TRACE);
    assert_eq!(get.trace_id.len(), 32);
    assert!(get.parent_span_id.is_empty(), "{get:?}");
    assert_eq!(get.int("http.response.status_code"), Some(200));

    // No route matched: the method names the span, the path is kept, no route attribute.
    let unmatched = spans.iter().find(|s| s.string("url.path") == Some("/api/v1/nowhere")).expect("the 404 span");
    assert_eq!(unmatched.name, "GET");
    assert_eq!(unmatched.string("http.route"), None);
    assert_eq!(unmatched.int("http.response.status_code"), Some(404));

    // Keys never leave the server.
    for span in &spans {
        for (key, value) in &span.attributes {
            assert!(!format!("{value:?}").contains(KEY), "{key} of {span:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_collector_neither_fails_requests_nor_holds_up_the_stop() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let mut server =
        ServerProcess::start(&["--database-url", "sqlite::memory:", "--otel-endpoint", &format!("http://{closed}")])
            .await;
    for _ in 0..3 {
        let (status, _) = call(&server, reqwest::Method::GET, "/api/v1/intents", None, None).await;
        assert_eq!(status, 200);
    }
    let stopping = Instant::now();
    assert!(server.terminate().await.success());
    assert!(stopping.elapsed() < Duration::from_secs(20), "stopped in {:?}", stopping.elapsed());
}

#[tokio::test]
async fn a_malformed_endpoint_is_a_usage_error_naming_the_setting() {
    let output = tokio::task::spawn_blocking(|| {
        std::process::Command::new(env!("CARGO_BIN_EXE_openintent-server"))
            .args(["--port", "0", "--database-url", "sqlite::memory:", "--otel-endpoint", "grpc://collector:4317"])
            .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            .stdin(std::process::Stdio::null())
            .output()
    });
    let output = tokio::time::timeout(Duration::from_secs(60), output).await.expect("exits in time").unwrap().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("invalid otel-endpoint"), "{stderr}");
    assert!(output.stdout.is_empty(), "it never listened");
}
