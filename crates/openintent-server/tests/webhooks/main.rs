//! Webhook delivery end to end: a real server, a local receiver that fails and times out on
//! purpose, and the database inspected directly. Every event arrives, retries keep their
//! delivery id, signatures verify with the subscription's secret, filters and scopes are
//! honoured, deleted subscriptions stop receiving, failures end dead after the retry cap, two
//! instances share the outbox without double sends, and pending deliveries survive a restart.
//!
//! On SQLite files by default; on fresh PostgreSQL databases with `OPENINTENT_TEST_DATABASE_URL`
//! set (see `common`).

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use hmac::{Hmac, Mac};
use openintent_server::webhook::{
    ATTEMPT_HEADER, DEFAULT_TOLERANCE, DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, SUBSCRIPTION_HEADER,
    TIMESTAMP_HEADER, verify_signature,
};
use openintent_server::{DatabaseLocation, RunningServer, ServerConfig, WebhookConfig, spawn};
use openintent_types::WebhookDelivery;
use serde_json::{Value, json};
use sha2::Sha256;

const KEY: &str = "dev-user-key";
const WAIT: Duration = Duration::from_secs(20);
const RECEIVER_TIMEOUT: Duration = Duration::from_secs(1);

// ----- the receiver -----------------------------------------------------------------------------

/// How one receiver path answers.
#[derive(Debug, Clone, Copy, Default)]
struct Behaviour {
    /// The first `fail_first` attempts of every delivery answer 500.
    fail_first: u32,
    /// The first attempt after those (of the first delivery to get there) hangs past the timeout.
    hang_once: bool,
    /// Every attempt answers 500.
    always_fail: bool,
    /// The first attempt of every delivery does not answer for a long time.
    stall_first: bool,
    /// Answers of 200 come after this many milliseconds (a slow but working receiver).
    slow_ms: u64,
}

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Hit {
    path: String,
    delivery_id: String,
    event_type: String,
    subscription: String,
    attempt: u32,
    timestamp: String,
    signature: String,
    body: Bytes,
    /// What was answered: 200, 500, 0 for "hung until the sender gave up", or 1 for "stalled".
    answered: u16,
    at: chrono::DateTime<chrono::Utc>,
}

impl Hit {
    fn delivery(&self) -> WebhookDelivery {
        serde_json::from_slice(&self.body).expect("the body is a WebhookDelivery")
    }
}

#[derive(Default)]
struct ReceiverState {
    behaviours: HashMap<String, Behaviour>,
    attempts: HashMap<String, u32>,
    hung: bool,
    hits: Vec<Hit>,
}

#[derive(Clone)]
struct Receiver {
    addr: SocketAddr,
    inner: Arc<Mutex<ReceiverState>>,
}

impl Receiver {
    async fn start() -> Receiver {
        let inner = Arc::new(Mutex::new(ReceiverState::default()));
        let app = Router::new().route("/hook/{name}", post(receive)).with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { addr, inner }
    }

    /// The URL of path `name`, answering as `behaviour`.
    fn url(&self, name: &str, behaviour: Behaviour) -> String {
        self.inner.lock().unwrap().behaviours.insert(name.to_owned(), behaviour);
        format!("http://{}/hook/{name}", self.addr)
    }

    fn hits(&self, name: &str) -> Vec<Hit> {
        self.inner.lock().unwrap().hits.iter().filter(|h| h.path == name).cloned().collect()
    }

    /// The event ids acknowledged (answered 200) on `name`, with how many times each.
    fn delivered(&self, name: &str) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for h in self.hits(name).iter().filter(|h| h.answered == 200) {
            *out.entry(h.delivery().event.id).or_default() += 1;
        }
        out
    }
}

async fn receive(
    State(inner): State<Arc<Mutex<ReceiverState>>>,
    UrlPath(name): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let delivery_id = header(DELIVERY_HEADER);
    let answer = {
        let mut s = inner.lock().unwrap();
        let b = s.behaviours.get(&name).copied().unwrap_or_default();
        let n = {
            let n = s.attempts.entry(delivery_id.clone()).or_default();
            *n += 1;
            *n
        };
        let answer = if b.stall_first && n == 1 {
            1
        } else if b.always_fail || n <= b.fail_first {
            500
        } else if b.hang_once && !s.hung {
            s.hung = true;
            0
        } else {
            200
        };
        s.hits.push(Hit {
            path: name.clone(),
            delivery_id,
            event_type: header(EVENT_HEADER),
            subscription: header(SUBSCRIPTION_HEADER),
            attempt: header(ATTEMPT_HEADER).parse().unwrap_or(0),
            timestamp: header(TIMESTAMP_HEADER),
            signature: header(SIGNATURE_HEADER),
            body,
            answered: answer,
            at: chrono::Utc::now(),
        });
        answer
    };
    match answer {
        200 => {
            let slow = inner.lock().unwrap().behaviours.get(&name).map_or(0, |b| b.slow_ms);
            tokio::time::sleep(Duration::from_millis(slow)).await;
            StatusCode::OK
        }
        500 => StatusCode::INTERNAL_SERVER_ERROR,
        1 => {
            // Until the sender goes away.
            tokio::time::sleep(Duration::from_secs(120)).await;
            StatusCode::OK
        }
        _ => {
            // Longer than the sender waits: it gives up and retries.
            tokio::time::sleep(RECEIVER_TIMEOUT * 2).await;
            StatusCode::OK
        }
    }
}

// ----- the server and its API -------------------------------------------------------------------

/// Quick retries, and deliveries to non-public addresses allowed: the receivers of these tests
/// listen on 127.0.0.1 (the development switch `--webhook-allow-private`).
fn fast() -> WebhookConfig {
    WebhookConfig::default()
        .deny_private(false)
        .poll_interval(Duration::from_millis(20))
        .base_backoff(Duration::from_millis(20))
        .max_backoff(Duration::from_millis(120))
        .request_timeout(RECEIVER_TIMEOUT)
        .claim_ttl(Duration::from_secs(3))
        .max_attempts(8)
}

async fn server_on(db: &DatabaseLocation, webhooks: WebhookConfig) -> RunningServer {
    let config = ServerConfig::builder()
        .database(db.clone())
        .bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .webhooks(webhooks)
        .build()
        .unwrap();
    spawn(config).await.expect("server starts")
}

struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    fn new(server: &RunningServer) -> Api {
        Api { base: server.url(), http: reqwest::Client::new() }
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>, if_match: Option<i64>) -> (u16, Value) {
        self.call_as("tester", method, path, body, if_match).await
    }

    async fn call_as(
        &self,
        agent: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
        if_match: Option<i64>,
    ) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.http.request(method, format!("{}{path}", self.base)).header("X-API-Key", KEY);
        req = req.header("X-Agent-ID", agent);
        if let Some(v) = if_match {
            req = req.header("If-Match", format!("\"{v}\""));
        }
        if let Some(b) = body {
            req = req.header("Content-Type", "application/json").body(b.to_string());
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn ok(&self, method: &str, path: &str, body: Value) -> Value {
        let (status, value) = self.call(method, path, Some(body), None).await;
        assert!((200..300).contains(&status), "{method} {path}: {status} {value}");
        value
    }

    async fn intent(&self, title: &str) -> String {
        self.ok("POST", "/api/v1/intents", json!({"title": title})).await["id"].as_str().unwrap().to_owned()
    }

    async fn log(&self, intent: &str, event_type: &str, n: i64) -> String {
        let body = json!({"event_type": event_type, "payload": {"n": n}});
        self.ok("POST", &format!("/api/v1/intents/{intent}/events"), body).await["id"].as_str().unwrap().to_owned()
    }

    /// Creates a subscription; returns its id and secret.
    async fn subscribe(&self, body: Value) -> (String, String) {
        let sub = self.ok("POST", "/api/v1/subscriptions", body).await;
        let secret = sub["secret"].as_str().expect("the secret is returned on creation").to_owned();
        (sub["id"].as_str().unwrap().to_owned(), secret)
    }

    /// `GET /api/v1/subscriptions/{id}/deliveries{query}`, which must answer 200.
    async fn deliveries(&self, subscription: &str, query: &str) -> Value {
        let path = format!("/api/v1/subscriptions/{subscription}/deliveries{query}");
        let (status, page) = self.call("GET", &path, None, None).await;
        assert_eq!(status, 200, "{path}: {page}");
        page
    }

    /// Every event id of the intent.
    async fn event_ids(&self, intent: &str) -> BTreeSet<String> {
        let (status, events) =
            self.call("GET", &format!("/api/v1/intents/{intent}/events?limit=1000"), None, None).await;
        assert_eq!(status, 200);
        events.as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_owned()).collect()
    }
}

/// A fresh database that several servers may open one after another or at once.
async fn database(dir: &tempfile::TempDir) -> DatabaseLocation {
    common::shared_test_database(dir.path()).await
}

/// A direct connection to the server's database, to look at the outbox.
async fn db(location: &DatabaseLocation) -> common::RawDb {
    common::RawDb::connect(location).await
}

/// Delivery rows per status.
async fn statuses(pool: &common::RawDb) -> BTreeMap<String, i64> {
    on_raw!(pool, |p| {
        sqlx::query_as::<_, (String, i64)>("SELECT status, COUNT(*) FROM webhook_deliveries GROUP BY status")
            .fetch_all(p)
            .await
            .unwrap()
    })
    .into_iter()
    .collect()
}

/// Waits until no delivery is pending (every row delivered, failed or cancelled).
async fn drained(pool: &common::RawDb) {
    eventually("the outbox drains", || async {
        let pending: i64 = on_raw!(pool, |p| {
            sqlx::query_scalar("SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'pending'")
                .fetch_one(p)
                .await
                .unwrap()
        });
        pending == 0
    })
    .await;
}

async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < WAIT, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn independent_signature(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

// ----- the tests, by topic ----------------------------------------------------------------------

/// A real server process killed with SIGKILL mid-delivery: recovery time, no double sends.
mod crash;
/// Delivery: signatures, retries, filters and scopes, deletion and dead letters.
mod delivery;
/// What the subscriber reads back: delivery listings and schedules, refused destinations.
mod listing;
/// Restarts, crashes, several instances, pruning: the outbox as a durable queue.
mod recovery;
