//! The reqwest transport against a local axum server.
#![cfg(feature = "reqwest")]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Query};
use axum::http::{HeaderMap, Method as HttpMethod, Uri};
use axum::routing::{any, get};
use futures_util::StreamExt;
use openintent_transport::{Request, ReqwestTransport, Transport, TransportErrorKind, USER_AGENT};

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await.unwrap();
    });
    addr
}

/// Answers with a plain-text dump of what it received:
/// method, URI, peer, headers (one per line) and the body.
async fn echo(
    method: HttpMethod,
    uri: Uri,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> String {
    let mut out = format!("{method} {uri}\npeer {peer}\n");
    for (n, v) in &headers {
        out.push_str(&format!("{n}: {}\n", v.to_str().unwrap_or("<bin>")));
    }
    out.push('\n');
    out.push_str(&String::from_utf8_lossy(&body));
    out
}

fn header_line<'a>(dump: &'a str, name: &str) -> Vec<&'a str> {
    let prefix = format!("{name}: ");
    dump.lines().take_while(|l| !l.is_empty()).filter_map(|l| l.strip_prefix(prefix.as_str())).collect()
}

fn app() -> Router {
    Router::new()
        .route("/echo", any(echo))
        .route("/base/echo", any(echo))
        .route(
            "/slow",
            get(|Query(q): Query<Vec<(String, String)>>| async move {
                let ms = q.iter().find(|(k, _)| k == "ms").and_then(|(_, v)| v.parse().ok()).unwrap_or(2_000);
                tokio::time::sleep(Duration::from_millis(ms)).await;
                "late"
            }),
        )
        .route(
            "/drip",
            get(|| async {
                // Five chunks 150 ms apart: longer than the request timeout in total.
                let chunks = futures_util::stream::unfold(0u8, |i| async move {
                    if i == 5 {
                        return None;
                    }
                    tokio::time::sleep(Duration::from_millis(150)).await;
                    Some((Ok::<_, std::io::Error>(format!("data: {i}\n\n")), i + 1))
                });
                axum::response::Response::builder()
                    .header("content-type", "text/event-stream")
                    .body(Body::from_stream(chunks))
                    .unwrap()
            }),
        )
        .route("/missing", get(|| async { (axum::http::StatusCode::NOT_FOUND, "{\"detail\":\"Not Found\"}") }))
}

#[tokio::test]
async fn sends_identity_and_content_headers() {
    let addr = serve(app()).await;
    let t = ReqwestTransport::builder(format!("http://{addr}"))
        .api_key("dev-user-key")
        .agent_id("agent-research")
        .build()
        .unwrap();

    let resp =
        t.send(Request::post("/echo").query("a", "1 2").query("b", "x&y").body(r#"{"title":"t"}"#)).await.unwrap();
    assert_eq!(resp.status, 200);
    let dump = resp.text().into_owned();
    assert!(dump.starts_with("POST /echo?a=1+2&b=x%26y\n"), "{dump}");
    assert_eq!(header_line(&dump, "x-api-key"), ["dev-user-key"]);
    assert_eq!(header_line(&dump, "x-agent-id"), ["agent-research"]);
    assert_eq!(header_line(&dump, "user-agent"), [USER_AGENT]);
    assert!(USER_AGENT.starts_with("openintent-rs/0."));
    assert_eq!(header_line(&dump, "accept"), ["application/json"]);
    assert_eq!(header_line(&dump, "content-type"), ["application/json"]);
    assert!(dump.ends_with("\n\n{\"title\":\"t\"}"), "{dump}");

    // No body: no Content-Type.
    let dump = t.send(Request::get("/echo")).await.unwrap().text().into_owned();
    assert!(header_line(&dump, "content-type").is_empty(), "{dump}");

    // Headers on the request replace the defaults.
    let dump = t
        .send(
            Request::get("/echo")
                .header("X-Agent-ID", "other-agent")
                .header("Accept", "text/plain")
                .header("If-Match", "3"),
        )
        .await
        .unwrap()
        .text()
        .into_owned();
    assert_eq!(header_line(&dump, "x-agent-id"), ["other-agent"]);
    assert_eq!(header_line(&dump, "accept"), ["text/plain"]);
    assert_eq!(header_line(&dump, "if-match"), ["3"]);
    assert_eq!(header_line(&dump, "x-api-key"), ["dev-user-key"]);
}

#[tokio::test]
async fn no_key_means_no_key_header_and_base_path_is_kept() {
    let addr = serve(app()).await;
    let t = ReqwestTransport::builder(format!("http://{addr}/base/")).build().unwrap();
    let dump = t.send(Request::get("/echo")).await.unwrap().text().into_owned();
    assert!(dump.starts_with("GET /base/echo\n"), "{dump}");
    assert!(header_line(&dump, "x-api-key").is_empty());
    assert!(header_line(&dump, "x-agent-id").is_empty());
}

#[tokio::test]
async fn error_statuses_are_responses() {
    let addr = serve(app()).await;
    let t = ReqwestTransport::builder(format!("http://{addr}")).build().unwrap();
    let resp = t.send(Request::get("/missing")).await.unwrap();
    assert_eq!(resp.status, 404);
    assert!(!resp.is_success());
    assert_eq!(resp.text(), "{\"detail\":\"Not Found\"}");
}

#[tokio::test]
async fn connections_are_pooled_and_reused() {
    let addr = serve(app()).await;
    let t = ReqwestTransport::builder(format!("http://{addr}")).build().unwrap();
    let mut peers = Vec::new();
    for _ in 0..3 {
        let dump = t.send(Request::get("/echo")).await.unwrap().text().into_owned();
        let peer = dump.lines().nth(1).unwrap().to_owned();
        peers.push(peer);
    }
    assert_eq!(peers[0], peers[1], "second request used a new connection");
    assert_eq!(peers[1], peers[2], "third request used a new connection");
}

#[tokio::test]
async fn request_timeout_fires() {
    let addr = serve(app()).await;
    let t = ReqwestTransport::builder(format!("http://{addr}"))
        .request_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = t.send(Request::get("/slow")).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_millis(1_500), "{:?}", started.elapsed());
    assert_eq!(err.kind(), TransportErrorKind::Timeout, "{err:?}");
    assert!(err.is_timeout());
    assert!(err.may_have_been_sent());
    assert!(std::error::Error::source(&err).is_some());
}

#[tokio::test]
async fn per_request_timeout_overrides_the_default() {
    let addr = serve(app()).await;
    let t = ReqwestTransport::builder(format!("http://{addr}"))
        .request_timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    // Longer than the default, shorter than the override.
    let resp = t.send(Request::get("/slow").query("ms", "300").timeout(Duration::from_secs(5))).await.unwrap();
    assert_eq!(resp.text(), "late");

    let t = ReqwestTransport::builder(format!("http://{addr}")).build().unwrap();
    let err = t.send(Request::get("/slow").timeout(Duration::from_millis(100))).await.unwrap_err();
    assert!(err.is_timeout());
}

#[tokio::test]
async fn connection_refused_is_a_connect_error() {
    // Take a free port, then close it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);

    let t = ReqwestTransport::builder(format!("http://{addr}")).api_key("secret-key-1").build().unwrap();
    for req in [Request::get("/x"), Request::post("/x").body("{}")] {
        let err = t.send(req).await.unwrap_err();
        assert_eq!(err.kind(), TransportErrorKind::Connect, "{err:?}");
        assert!(err.is_connect());
        assert!(!err.is_timeout());
        assert!(!err.may_have_been_sent());
        assert!(err.to_string().contains(&addr.to_string()), "{err}");
        assert!(!format!("{err:?}").contains("secret-key-1"));
    }
    let err = t.send_stream(Request::get("/x")).await.unwrap_err();
    assert!(err.is_connect() && !err.may_have_been_sent());
}

#[tokio::test]
async fn connect_timeout_is_a_connect_error() {
    // A listener that never accepts, with its accept queue filled: further
    // connection attempts get no SYN-ACK and hang until the connect timeout.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(1).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..8 {
        match tokio::time::timeout(Duration::from_millis(100), tokio::net::TcpStream::connect(addr)).await {
            Ok(Ok(s)) => fillers.push(s),
            _ => break,
        }
    }

    let t = ReqwestTransport::builder(format!("http://{addr}"))
        .connect_timeout(Duration::from_millis(200))
        .request_timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = t.send(Request::post("/x").body("{}")).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert_eq!(err.kind(), TransportErrorKind::Connect, "{err:?}");
    assert!(err.is_timeout(), "{err:?}");
    assert!(!err.may_have_been_sent());
    drop(fillers);
    drop(listener);
}

#[tokio::test]
async fn streams_have_no_total_timeout() {
    let addr = serve(app()).await;
    let t = ReqwestTransport::builder(format!("http://{addr}"))
        .request_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let resp = t.send_stream(Request::get("/drip")).await.unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.headers.get("content-type"), Some("text/event-stream"));
    let started = Instant::now();
    let events: Vec<_> = resp.into_sse().collect().await;
    assert!(started.elapsed() >= Duration::from_millis(600));
    let data: Vec<_> = events.into_iter().map(|e| e.unwrap().data).collect();
    assert_eq!(data, ["0", "1", "2", "3", "4"]);

    // The stream request asks for an event stream.
    let dump = t.send_stream(Request::get("/echo")).await.unwrap();
    let text = dump.into_response().await.unwrap().text().into_owned();
    assert_eq!(header_line(&text, "accept"), ["text/event-stream"]);
}

#[tokio::test]
async fn works_as_a_trait_object() {
    let addr = serve(app()).await;
    let counter = Arc::new(AtomicUsize::new(0));
    let t: Arc<dyn Transport> = Arc::new(ReqwestTransport::builder(format!("http://{addr}")).build().unwrap());
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let t = t.clone();
        let counter = counter.clone();
        tasks.push(tokio::spawn(async move {
            let r = t.send(Request::get("/echo")).await.unwrap();
            assert_eq!(r.status, 200);
            counter.fetch_add(1, Ordering::SeqCst);
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(counter.load(Ordering::SeqCst), 4);
}

/// Spans recorded by [`SpanLog`]: name, parent's name, and every field as text, including
/// fields recorded after the span was created (status, latency). Events are kept as their
/// field dumps, so a test can look for a secret anywhere in the output.
mod span_log {
    use std::collections::{BTreeMap, HashMap};
    use std::sync::{Arc, Mutex};

    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Subscriber};
    use tracing_subscriber::layer::{Context, Layer};
    use tracing_subscriber::registry::LookupSpan;

    #[derive(Debug, Clone)]
    pub struct SpanRecord {
        pub name: &'static str,
        pub parent: Option<&'static str>,
        pub fields: BTreeMap<&'static str, String>,
    }

    #[derive(Default)]
    struct Inner {
        open: HashMap<Id, SpanRecord>,
        closed: Vec<SpanRecord>,
        events: Vec<String>,
    }

    #[derive(Clone, Default)]
    pub struct SpanLog(Arc<Mutex<Inner>>);

    struct Fields<'a>(&'a mut BTreeMap<&'static str, String>);

    impl Visit for Fields<'_> {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            self.0.insert(field.name(), format!("{value:?}"));
        }
        fn record_str(&mut self, field: &Field, value: &str) {
            self.0.insert(field.name(), value.to_owned());
        }
    }

    impl SpanLog {
        /// Closed spans, in the order they closed.
        pub fn closed(&self) -> Vec<SpanRecord> {
            self.0.lock().unwrap().closed.clone()
        }

        /// Everything recorded, spans and events, as one text.
        pub fn dump(&self) -> String {
            let inner = self.0.lock().unwrap();
            format!("{:?}\n{:?}\n{:?}", inner.open, inner.closed, inner.events)
        }
    }

    impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for SpanLog {
        fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
            let mut fields = BTreeMap::new();
            attrs.record(&mut Fields(&mut fields));
            let parent = ctx.span(id).and_then(|s| s.parent()).map(|p| p.name());
            let record = SpanRecord { name: attrs.metadata().name(), parent, fields };
            self.0.lock().unwrap().open.insert(id.clone(), record);
        }

        fn on_record(&self, id: &Id, values: &Record<'_>, _ctx: Context<'_, S>) {
            if let Some(span) = self.0.lock().unwrap().open.get_mut(id) {
                values.record(&mut Fields(&mut span.fields));
            }
        }

        fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
            let mut fields = BTreeMap::new();
            event.record(&mut Fields(&mut fields));
            self.0.lock().unwrap().events.push(format!("{fields:?}"));
        }

        fn on_close(&self, id: Id, _ctx: Context<'_, S>) {
            let mut inner = self.0.lock().unwrap();
            if let Some(span) = inner.open.remove(&id) {
                inner.closed.push(span);
            }
        }
    }
}

#[tokio::test]
async fn each_attempt_and_request_has_a_span_with_method_path_status_latency_and_no_key() {
    use openintent_transport::{RetryConfig, RetryingTransport};
    use tracing_subscriber::layer::SubscriberExt;

    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let flaky = Router::new().route(
        "/flaky",
        get(move || {
            let n = seen.fetch_add(1, Ordering::SeqCst);
            async move { if n == 0 { axum::http::StatusCode::SERVICE_UNAVAILABLE } else { axum::http::StatusCode::OK } }
        }),
    );
    let addr = serve(flaky).await;
    let secret = "sk-span-test-5f1e";
    let raw = ReqwestTransport::builder(format!("http://{addr}")).api_key(secret).build().unwrap();
    let config = RetryConfig::default().base_delay(Duration::from_millis(1)).max_delay(Duration::from_millis(5));
    let t = RetryingTransport::new(raw, config);

    let log = span_log::SpanLog::default();
    let subscriber = tracing_subscriber::registry().with(log.clone());
    let resp = {
        // A current-thread runtime: the default subscriber covers every poll of this request.
        let _guard = tracing::subscriber::set_default(subscriber);
        t.send(Request::get("/flaky").query("k", "v")).await.unwrap()
    };
    assert_eq!(resp.status, 200);
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    let spans = log.closed();
    let attempts: Vec<_> = spans.iter().filter(|s| s.name == "openintent.attempt").collect();
    let requests: Vec<_> = spans.iter().filter(|s| s.name == "openintent.http").collect();
    assert_eq!(attempts.len(), 2, "{spans:#?}");
    assert_eq!(requests.len(), 2, "{spans:#?}");
    for (n, (attempt, request)) in attempts.iter().zip(&requests).enumerate() {
        assert_eq!(attempt.fields["attempt"], (n + 1).to_string(), "{attempt:?}");
        assert_eq!(attempt.fields["method"], "GET");
        assert_eq!(request.parent, Some("openintent.attempt"), "{request:?}");
        assert_eq!(request.fields["method"], "GET");
        assert_eq!(request.fields["path"], "/flaky");
        let latency: u64 = request.fields["latency_ms"].parse().unwrap();
        assert!(latency < 10_000, "{request:?}");
    }
    assert_eq!(requests[0].fields["status"], "503");
    assert_eq!(requests[1].fields["status"], "200");
    assert!(!log.dump().contains(secret), "the API key reached the trace: {}", log.dump());
}
