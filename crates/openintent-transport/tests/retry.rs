//! The retry layer, over the reqwest transport and over test transports.
#![cfg(all(feature = "reqwest", feature = "test-util"))]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::any;
use openintent_transport::test_util::{MockTransport, NeverTransport};
use openintent_transport::{
    Method, Request, ReqwestTransport, Response, RetryConfig, RetryMode, RetryingTransport, Transport, TransportError,
    TransportErrorKind,
};

/// Counts requests; answers 503 (with the configured `Retry-After`) to the
/// first `fail_first` of them and 200 with the attempt number afterwards.
#[derive(Clone)]
struct Flaky {
    hits: Arc<AtomicUsize>,
    fail_first: usize,
    retry_after: Option<&'static str>,
}

async fn flaky(State(s): State<Flaky>, _headers: HeaderMap) -> (StatusCode, HeaderMap, String) {
    let n = s.hits.fetch_add(1, Ordering::SeqCst) + 1;
    let mut headers = HeaderMap::new();
    if n <= s.fail_first {
        if let Some(ra) = s.retry_after {
            headers.insert("retry-after", ra.parse().unwrap());
        }
        (StatusCode::SERVICE_UNAVAILABLE, headers, "busy".into())
    } else {
        (StatusCode::OK, headers, format!("attempt {n}"))
    }
}

async fn serve(state: Flaky) -> SocketAddr {
    let app = Router::new()
        .route("/r", any(flaky))
        .route(
            "/slow",
            any(|State(s): State<Flaky>| async move {
                s.hits.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_secs(2)).await;
                "late"
            }),
        )
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn fast() -> RetryConfig {
    RetryConfig::default().max_attempts(3).base_delay(Duration::from_millis(5)).max_delay(Duration::from_millis(20))
}

async fn setup(
    fail_first: usize,
    retry_after: Option<&'static str>,
    config: RetryConfig,
) -> (RetryingTransport<ReqwestTransport>, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let addr = serve(Flaky { hits: hits.clone(), fail_first, retry_after }).await;
    let inner = ReqwestTransport::builder(format!("http://{addr}")).build().unwrap();
    (RetryingTransport::new(inner, config), hits)
}

#[tokio::test]
async fn get_is_retried_on_503_and_honours_retry_after() {
    let (t, hits) = setup(1, Some("1"), fast()).await;
    let started = Instant::now();
    let resp = t.send(Request::get("/r")).await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.text(), "attempt 2");
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    // Retry-After: 1 beats the 5 ms backoff.
    assert!(elapsed >= Duration::from_millis(950), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}

#[tokio::test]
async fn retry_after_is_capped() {
    let config = fast().max_retry_after(Duration::from_millis(50));
    let (t, hits) = setup(1, Some("3600"), config).await;
    let started = Instant::now();
    let resp = t.send(Request::get("/r")).await.unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
}

#[tokio::test]
async fn retry_after_as_http_date() {
    // Measured from before the date is made, so that a slow setup cannot shorten the wait: the
    // date has one-second resolution, so the retry comes at least 2 s after `started`.
    let started = Instant::now();
    let when = std::time::SystemTime::now() + Duration::from_secs(3);
    let date: &'static str = Box::leak(httpdate::fmt_http_date(when).into_boxed_str());
    let (t, hits) = setup(1, Some(date), fast()).await;
    assert_eq!(t.send(Request::get("/r")).await.unwrap().status, 200);
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    assert!(started.elapsed() >= Duration::from_millis(1900), "{:?}", started.elapsed());
}

#[tokio::test]
async fn gives_up_after_max_attempts_with_the_last_response() {
    let (t, hits) = setup(usize::MAX, None, fast()).await;
    let resp = t.send(Request::get("/r")).await.unwrap();
    assert_eq!(resp.status, 503);
    assert_eq!(hits.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn plain_post_is_sent_exactly_once() {
    let (t, hits) = setup(usize::MAX, Some("0"), fast()).await;
    let resp = t.send(Request::post("/r").json_body("{}")).await.unwrap();
    assert_eq!(resp.status, 503);
    assert_eq!(hits.load(Ordering::SeqCst), 1);

    let (t, hits) = setup(usize::MAX, Some("0"), fast()).await;
    let resp = t.send(Request::patch("/r").json_body("{}")).await.unwrap();
    assert_eq!(resp.status, 503);
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn put_and_if_match_post_and_opt_in_post_are_retried() {
    for req in [
        Request::put("/r").json_body("{}"),
        Request::delete("/r"),
        Request::post("/r").header("If-Match", "1").json_body("{}"),
        Request::post("/r").retry(RetryMode::Always).json_body("{}"),
    ] {
        let label = format!("{} {:?}", req.method, req.headers);
        let (t, hits) = setup(2, Some("0"), fast()).await;
        let resp = t.send(req).await.unwrap();
        assert_eq!(resp.status, 200, "{label}");
        assert_eq!(hits.load(Ordering::SeqCst), 3, "{label}");
    }
}

#[tokio::test]
async fn never_and_disabled_send_once() {
    let (t, hits) = setup(usize::MAX, Some("0"), fast()).await;
    let resp = t.send(Request::get("/r").retry(RetryMode::Never)).await.unwrap();
    assert_eq!(resp.status, 503);
    assert_eq!(hits.load(Ordering::SeqCst), 1);

    let (t, hits) = setup(usize::MAX, Some("0"), RetryConfig::disabled()).await;
    assert_eq!(t.send(Request::get("/r")).await.unwrap().status, 503);
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn backoff_delays_add_up_within_bounds() {
    let config =
        RetryConfig::default().max_attempts(3).base_delay(Duration::from_millis(100)).max_delay(Duration::from_secs(1));
    let (t, hits) = setup(usize::MAX, None, config).await;
    let started = Instant::now();
    let resp = t.send(Request::get("/r")).await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(resp.status, 503);
    assert_eq!(hits.load(Ordering::SeqCst), 3);
    // Retry 1 waits 50..=100 ms, retry 2 waits 100..=200 ms.
    assert!(elapsed >= Duration::from_millis(150), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(1_500), "{elapsed:?}");
}

#[tokio::test]
async fn connect_errors_are_retried_for_any_method() {
    let mock = MockTransport::new();
    mock.push(TransportError::connect("refused"));
    mock.push(Response::new(200));
    let t = RetryingTransport::new(mock.clone(), fast());
    let resp = t.send(Request::post("/intents").json_body("{}")).await.unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(mock.request_count(), 2);
    let sent = mock.requests();
    assert_eq!(sent[0], sent[1], "the retried request differs from the first");
    mock.assert_all_used();

    // ...but not when the caller forbids retries.
    let mock = MockTransport::new();
    mock.push(TransportError::connect("refused"));
    let t = RetryingTransport::new(mock.clone(), fast());
    let err = t.send(Request::post("/intents").retry(RetryMode::Never)).await.unwrap_err();
    assert!(err.is_connect());
    assert_eq!(mock.request_count(), 1);
}

#[tokio::test]
async fn errors_after_sending_are_retried_only_when_safe() {
    for (method, expected) in [(Method::Get, 3), (Method::Post, 1)] {
        let mock = MockTransport::new().allow_unused().clone();
        for _ in 0..3 {
            mock.push(TransportError::timeout("slow"));
        }
        let t = RetryingTransport::new(mock.clone(), fast());
        let err = t.send(Request::new(method, "/x")).await.unwrap_err();
        assert_eq!(err.kind(), TransportErrorKind::Timeout);
        assert_eq!(mock.request_count(), expected, "{method}");
    }
    // Invalid requests and protocol errors are not retried at all.
    for err in [TransportError::invalid_request("bad header"), TransportError::protocol("garbage")] {
        let mock = MockTransport::new().allow_unused().clone();
        mock.push(err);
        mock.push(Response::new(200));
        let t = RetryingTransport::new(mock.clone(), fast());
        assert!(t.send(Request::get("/x")).await.is_err());
        assert_eq!(mock.request_count(), 1);
    }
}

#[tokio::test]
async fn non_retryable_statuses_return_at_once() {
    for status in [400, 401, 404, 409, 500] {
        let mock = MockTransport::new().allow_unused().clone();
        mock.push(Response::new(status));
        mock.push(Response::new(200));
        let t = RetryingTransport::new(mock.clone(), fast());
        assert_eq!(t.send(Request::get("/x")).await.unwrap().status, status);
        assert_eq!(mock.request_count(), 1, "{status}");
    }
    for status in [429, 502, 504] {
        let mock = MockTransport::new();
        mock.push(Response::new(status));
        mock.push(Response::new(200));
        let t = RetryingTransport::new(mock.clone(), fast());
        assert_eq!(t.send(Request::get("/x")).await.unwrap().status, 200);
        assert_eq!(mock.request_count(), 2, "{status}");
    }
}

#[tokio::test]
async fn request_timeouts_are_retried_for_get_but_not_for_post() {
    for (req, expected) in [(Request::get("/slow"), 3), (Request::post("/slow").body("{}"), 1)] {
        let (t, hits) = setup(0, None, fast()).await;
        let started = Instant::now();
        let err = t.send(req.timeout(Duration::from_millis(100))).await.unwrap_err();
        assert_eq!(err.kind(), TransportErrorKind::Timeout, "{err:?}");
        assert_eq!(hits.load(Ordering::SeqCst), expected);
        assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    }
}

#[tokio::test]
async fn a_hanging_transport_is_bounded_by_the_callers_timeout() {
    let never = NeverTransport::new();
    let t = RetryingTransport::new(never.clone(), fast());
    let r = tokio::time::timeout(Duration::from_millis(50), t.send(Request::get("/x"))).await;
    assert!(r.is_err());
    assert_eq!(never.calls(), 1);
}

#[tokio::test]
async fn streams_are_not_retried() {
    let mock = MockTransport::new().allow_unused().clone();
    mock.push(TransportError::connect("refused"));
    mock.push(Response::new(200));
    let t = RetryingTransport::new(mock.clone(), fast());
    assert!(t.send_stream(Request::get("/s")).await.unwrap_err().is_connect());
    assert_eq!(mock.request_count(), 1);
}

#[tokio::test]
async fn usable_as_a_trait_object_around_a_trait_object() {
    let mock = MockTransport::new();
    mock.push(Response::new(503));
    mock.push(Response::new(200));
    let inner: Arc<dyn Transport> = Arc::new(mock.clone());
    let t: Arc<dyn Transport> = Arc::new(RetryingTransport::new(inner, fast()));
    assert_eq!(t.send(Request::get("/x")).await.unwrap().status, 200);
    mock.assert_all_used();
}
