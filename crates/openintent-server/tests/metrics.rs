//! `GET /metrics` on the metrics listener: off by default, absent from the API listener, and
//! every family present with values that follow the requests made.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use openintent_server::{ServerConfig, WebhookConfig, spawn};
use serde_json::{Value, json};

const KEY: &str = "dev-user-key";

async fn scrape(http: &reqwest::Client, addr: SocketAddr) -> String {
    let resp = http.get(format!("http://{addr}/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let kind = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
    resp.text().await.unwrap()
}

/// The value of the sample `series` (name with labels, exactly as written), if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

fn value(text: &str, series: &str) -> f64 {
    sample(text, series).unwrap_or_else(|| panic!("no {series} in:\n{text}"))
}

#[tokio::test]
async fn metrics_follow_the_requests_on_a_listener_of_their_own() {
    // Failed attempts are retried only much later: the delivery stays pending.
    let webhooks = WebhookConfig::default()
        .deny_private(false)
        .base_backoff(Duration::from_secs(600))
        .poll_interval(Duration::from_millis(20));
    let config = ServerConfig::builder()
        .database(common::test_database().await)
        .bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .metrics_addr(Some(SocketAddr::from(([127, 0, 0, 1], 0))))
        .webhooks(webhooks)
        .build()
        .unwrap();
    let server = spawn(config).await.unwrap();
    let metrics = server.metrics_addr().expect("a metrics listener");
    assert_ne!(metrics, server.addr());
    let http = reqwest::Client::new();
    let api = |method: reqwest::Method, path: &str| {
        http.request(method, format!("{}{path}", server.url())).header("X-API-Key", KEY).header("X-Agent-ID", "tester")
    };

    // Not on the API listener, even with a key.
    let resp = api(reqwest::Method::GET, "/metrics").send().await.unwrap();
    assert_eq!(resp.status(), 404);

    // Made-up methods are not labels.
    let odd = reqwest::Method::from_bytes(b"FROB").unwrap();
    assert_eq!(api(odd, "/api/v1/intents").send().await.unwrap().status(), 405);

    let before = scrape(&http, metrics).await;
    let route = "method=\"GET\",route=\"/api/v1/intents/{id}\"";
    let ok = format!("openintent_http_requests_total{{{route},status=\"200\"}}");
    let missing = format!("openintent_http_requests_total{{{route},status=\"404\"}}");
    assert_eq!(sample(&before, &ok), None);

    let post = |path: &str, body: Value| {
        api(reqwest::Method::POST, path).header("Content-Type", "application/json").body(body.to_string())
    };
    let created = post("/api/v1/intents", json!({"title": "measured"})).send().await.unwrap().text().await.unwrap();
    let created: Value = serde_json::from_str(&created).unwrap();
    let id = created["id"].as_str().unwrap();
    for _ in 0..7 {
        assert_eq!(api(reqwest::Method::GET, &format!("/api/v1/intents/{id}")).send().await.unwrap().status(), 200);
    }
    for n in 0..2 {
        let path = format!("/api/v1/intents/no-such-{n}");
        assert_eq!(api(reqwest::Method::GET, &path).send().await.unwrap().status(), 404);
    }
    // A webhook to a closed port: one failed attempt, then a long wait.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = format!("http://{}/hook", closed.local_addr().unwrap());
    drop(closed);
    let sub = json!({"intent_id": id, "webhook_url": dead});
    assert!(post("/api/v1/subscriptions", sub).send().await.unwrap().status().is_success());
    let event = json!({"event_type": "comment", "payload": {}});
    let path = format!("/api/v1/intents/{id}/events");
    assert!(post(&path, event).send().await.unwrap().status().is_success());
    // An open event stream.
    let stream = api(reqwest::Method::GET, &format!("/api/v1/subscribe/intents/{id}")).send().await.unwrap();
    assert_eq!(stream.status(), 200);

    let deadline = Instant::now() + Duration::from_secs(20);
    let text = loop {
        let text = scrape(&http, metrics).await;
        if sample(&text, "openintent_webhook_delivery_failures_total").unwrap_or(0.0) >= 1.0 {
            break text;
        }
        assert!(Instant::now() < deadline, "no failed webhook attempt counted:\n{text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    println!("{text}");
    // Route templates, never raw paths; exact counts.
    assert_eq!(value(&text, &ok), 7.0);
    assert_eq!(value(&text, &missing), 2.0);
    assert!(!text.contains("no-such-"), "raw paths are not labels");
    assert!(!text.contains("FROB") && text.contains("method=\"other\""), "unknown methods are \"other\"");
    assert_eq!(value(&text, &format!("openintent_http_request_duration_seconds_count{{{route}}}")), 9.0);
    assert_eq!(value(&text, &format!("openintent_http_request_duration_seconds_bucket{{{route},le=\"+Inf\"}}")), 9.0);
    assert!(value(&text, "openintent_db_write_transaction_seconds_count") >= 3.0, "create, subscribe, event");
    assert!(value(&text, "openintent_db_write_transaction_seconds_sum") > 0.0);
    assert_eq!(value(&text, "openintent_open_streams"), 1.0);
    assert!(value(&text, "openintent_open_connections") >= 1.0);
    assert_eq!(value(&text, "openintent_webhook_pending_deliveries"), 1.0);
    assert_eq!(value(&text, "openintent_webhook_delivery_failures_total"), 1.0);
    assert!(value(&text, "openintent_db_pool_connections") >= 1.0);
    assert!(sample(&text, "openintent_db_pool_idle_connections").is_some());

    // The stream closed: the gauge goes back down.
    drop(stream);
    let deadline = Instant::now() + Duration::from_secs(10);
    while value(&scrape(&http, metrics).await, "openintent_open_streams") != 0.0 {
        assert!(Instant::now() < deadline, "the closed stream is still counted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn there_is_no_metrics_listener_by_default() {
    let server = spawn(common::test_config().await).await.unwrap();
    assert_eq!(server.metrics_addr(), None);
    server.shutdown().await.unwrap();
}
