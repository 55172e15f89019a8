//! Webhook delivery end to end: a real server, a local receiver that fails and times out on
//! purpose, and the database inspected directly. Every event arrives, retries keep their
//! delivery id, signatures verify with the subscription's secret, filters and scopes are
//! honoured, deleted subscriptions stop receiving, failures end dead after the retry cap, two
//! instances share the outbox without double sends, and pending deliveries survive a restart.
//!
//! On SQLite files by default; on fresh PostgreSQL databases with `OPENINTENT_TEST_DATABASE_URL`
//! set (see `common`).

#[macro_use]
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
        200 => StatusCode::OK,
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

fn fast() -> WebhookConfig {
    WebhookConfig::default()
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

// ----- the tests --------------------------------------------------------------------------------

#[tokio::test]
async fn every_event_arrives_signed_despite_failures_and_a_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let path = database(&dir).await;
    let receiver = Receiver::start().await;
    let server = server_on(&path, fast()).await;
    let api = Api::new(&server);
    let flaky = Behaviour { fail_first: 2, hang_once: true, ..Behaviour::default() };
    let (sub, secret) = api.subscribe(json!({"webhook_url": receiver.url("flaky", flaky)})).await;
    assert!(secret.starts_with("whsec_"));

    // The secret is never listed again.
    let (_, listed) = api.call("GET", "/api/v1/subscriptions", None, None).await;
    let listed = listed["subscriptions"].as_array().unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].get("secret").is_none(), "{}", listed[0]);
    assert!(!listed[0].to_string().contains(&secret));

    let a = api.intent("a").await;
    let b = api.intent("b").await;
    for n in 0..5 {
        api.log(&a, "comment", n).await;
        api.log(&b, "checkpoint", n).await;
    }
    let (status, _) =
        api.call("POST", &format!("/api/v1/intents/{a}/status"), Some(json!({"status": "active"})), Some(1)).await;
    assert_eq!(status, 200);
    let mut expected = api.event_ids(&a).await;
    expected.extend(api.event_ids(&b).await);
    assert_eq!(expected.len(), 2 + 10 + 1);

    eventually("every event is acknowledged", || async {
        receiver.delivered("flaky").keys().cloned().collect::<BTreeSet<_>>() == expected
    })
    .await;
    let pool = db(&path).await;
    drained(&pool).await;
    assert_eq!(statuses(&pool).await, BTreeMap::from([("delivered".to_owned(), expected.len() as i64)]));

    let hits = receiver.hits("flaky");
    // Acknowledged exactly once each (nothing is sent after a 2xx).
    assert!(receiver.delivered("flaky").values().all(|&n| n == 1));
    // Every retry of a delivery carries its id, and one delivery id is one event.
    let mut by_delivery: BTreeMap<&str, Vec<&Hit>> = BTreeMap::new();
    for h in &hits {
        by_delivery.entry(h.delivery_id.as_str()).or_default().push(h);
    }
    assert_eq!(by_delivery.len(), expected.len());
    for (id, attempts) in &by_delivery {
        assert!(!id.is_empty());
        let events: BTreeSet<String> = attempts.iter().map(|h| h.delivery().event.id).collect();
        assert_eq!(events.len(), 1, "delivery {id} carried several events");
        let numbers: Vec<u32> = attempts.iter().map(|h| h.attempt).collect();
        assert_eq!(numbers, (1..=attempts.len() as u32).collect::<Vec<_>>(), "attempts of {id}");
        assert!(attempts.len() >= 3, "two failures then a success: {numbers:?}");
    }
    assert_eq!(hits.iter().filter(|h| h.answered == 0).count(), 1, "exactly one attempt hung");
    let hung = hits.iter().find(|h| h.answered == 0).unwrap();
    assert!(by_delivery[hung.delivery_id.as_str()].len() == 4, "the hung attempt was retried");

    // Every attempt is signed with the subscription's secret over "{t}.{body}".
    let now = chrono::Utc::now().timestamp();
    for h in &hits {
        let d = h.delivery();
        assert_eq!(d.subscription_id, sub);
        assert_eq!(h.subscription, sub);
        assert_eq!(h.event_type, d.event.event_type.as_str());
        assert!(expected.contains(&d.event.id));
        let expected_sig = format!("t={},v1={}", h.timestamp, independent_signature(&secret, &h.timestamp, &h.body));
        assert_eq!(h.signature, expected_sig);
        assert_eq!(verify_signature(&secret, &h.signature, &h.body, now, DEFAULT_TOLERANCE), Ok(()));
        assert!(verify_signature("whsec_wrong", &h.signature, &h.body, now, DEFAULT_TOLERANCE).is_err());
        let ts: i64 = h.timestamp.parse().unwrap();
        assert!((ts - h.at.timestamp()).abs() <= 2);
    }
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn filters_and_scopes_are_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let path = database(&dir).await;
    let receiver = Receiver::start().await;
    let server = server_on(&path, fast()).await;
    let api = Api::new(&server);
    let ok = Behaviour::default();

    let a = api.intent("a").await;
    let b = api.intent("b").await;
    let c = api.intent("c").await;
    let portfolio = api.ok("POST", "/api/v1/portfolios", json!({"name": "p"})).await["id"].as_str().unwrap().to_owned();
    api.ok("POST", &format!("/api/v1/portfolios/{portfolio}/intents"), json!({"intent_id": b})).await;

    api.subscribe(json!({"webhook_url": receiver.url("global", ok)})).await;
    api.subscribe(json!({"intent_id": a, "webhook_url": receiver.url("intent", ok)})).await;
    api.subscribe(json!({"intent_id": a, "event_types": ["checkpoint"], "callback_url": receiver.url("typed", ok)}))
        .await;
    api.subscribe(json!({"portfolio_id": portfolio, "webhook_url": receiver.url("portfolio", ok)})).await;
    let past = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    api.subscribe(json!({"webhook_url": receiver.url("expired", ok), "expires_at": past})).await;
    // No URL: stored, never delivered.
    let (status, _) = api.call("POST", "/api/v1/subscriptions", Some(json!({"intent_id": a})), None).await;
    assert_eq!(status, 200);

    let mut checkpoints_a = BTreeSet::new();
    let mut later = BTreeMap::<&str, BTreeSet<String>>::new();
    for n in 0..3 {
        for (name, intent) in [("a", &a), ("b", &b), ("c", &c)] {
            let id = api.log(intent, "comment", n).await;
            later.entry(name).or_default().insert(id);
            let id = api.log(intent, "checkpoint", n).await;
            if name == "a" {
                checkpoints_a.insert(id.clone());
            }
            later.entry(name).or_default().insert(id);
        }
    }
    let pool = db(&path).await;
    drained(&pool).await;

    let keys = |name: &str| receiver.delivered(name).keys().cloned().collect::<BTreeSet<_>>();
    // Global: everything logged after it was created (the intent_created events came before).
    let all: BTreeSet<String> = later.values().flatten().cloned().collect();
    assert_eq!(keys("global"), all);
    // Intent: every later event of a, and only of a.
    assert_eq!(keys("intent"), later["a"]);
    // Event-type filter.
    assert_eq!(keys("typed"), checkpoints_a);
    assert!(receiver.hits("typed").iter().all(|h| h.event_type == "checkpoint"));
    // Portfolio: the member's events only.
    assert_eq!(keys("portfolio"), later["b"]);
    // Expired: nothing.
    assert!(receiver.hits("expired").is_empty());
    // One row per matching (subscription, event); none for the URL-less subscription.
    let rows: i64 =
        on_raw!(pool, |p| sqlx::query_scalar("SELECT COUNT(*) FROM webhook_deliveries").fetch_one(p).await.unwrap());
    assert_eq!(rows as usize, all.len() + later["a"].len() + checkpoints_a.len() + later["b"].len());
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn deleted_subscriptions_stop_receiving_and_failures_end_dead() {
    let dir = tempfile::tempdir().unwrap();
    let path = database(&dir).await;
    let receiver = Receiver::start().await;
    let server = server_on(&path, fast().max_attempts(3)).await;
    let api = Api::new(&server);
    let pool = db(&path).await;
    let a = api.intent("a").await;

    // Delivered while subscribed, nothing after deletion.
    let (kept, _) =
        api.subscribe(json!({"intent_id": a, "webhook_url": receiver.url("kept", Behaviour::default())})).await;
    let first = api.log(&a, "comment", 1).await;
    eventually("the first event arrives", || async { receiver.delivered("kept").contains_key(&first) }).await;
    let (status, _) = api.call("DELETE", &format!("/api/v1/subscriptions/{kept}"), None, None).await;
    assert_eq!(status, 204);
    api.log(&a, "comment", 2).await;
    drained(&pool).await;
    assert_eq!(receiver.delivered("kept").len(), 1);

    // A receiver that always fails: tried max_attempts times with one delivery id, then dead.
    let down = Behaviour { always_fail: true, ..Behaviour::default() };
    let (down_id, _) = api.subscribe(json!({"intent_id": a, "webhook_url": receiver.url("down", down)})).await;
    let dead = api.log(&a, "comment", 3).await;
    drained(&pool).await;
    let hits = receiver.hits("down");
    assert_eq!(hits.len(), 3, "{hits:?}");
    assert!(hits.iter().all(|h| h.delivery_id == hits[0].delivery_id && h.delivery().event.id == dead));
    let (status, attempts, error): (String, i64, Option<String>) = on_raw!(pool, |p| {
        sqlx::query_as("SELECT status, attempts, last_error FROM webhook_deliveries WHERE id = $1")
            .bind(&hits[0].delivery_id)
            .fetch_one(p)
            .await
            .unwrap()
    });
    assert_eq!((status.as_str(), attempts), ("failed", 3));
    assert!(error.unwrap().contains("500"));
    let (status, _) = api.call("DELETE", &format!("/api/v1/subscriptions/{down_id}"), None, None).await;
    assert_eq!(status, 204);

    // A delivery still retrying when its subscription is deleted is cancelled, not sent again.
    let slow = fast().base_backoff(Duration::from_secs(2)).max_backoff(Duration::from_secs(2));
    server.shutdown().await.unwrap();
    let server = server_on(&path, slow).await;
    let api = Api::new(&server);
    let (doomed, _) = api.subscribe(json!({"intent_id": a, "webhook_url": receiver.url("doomed", down)})).await;
    api.log(&a, "comment", 4).await;
    eventually("the first attempt fails", || async { receiver.hits("doomed").len() == 1 }).await;
    let (status, _) = api.call("DELETE", &format!("/api/v1/subscriptions/{doomed}"), None, None).await;
    assert_eq!(status, 204);
    drained(&pool).await;
    assert_eq!(receiver.hits("doomed").len(), 1);
    let (cancelled, why): (String, Option<String>) = on_raw!(pool, |p| {
        sqlx::query_as("SELECT status, last_error FROM webhook_deliveries WHERE subscription_id = $1")
            .bind(&doomed)
            .fetch_one(p)
            .await
            .unwrap()
    });
    assert_eq!((cancelled.as_str(), why.as_deref()), ("cancelled", Some("subscription deleted")));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn pending_deliveries_are_sent_after_a_restart_and_expired_claims_are_taken_over() {
    let dir = tempfile::tempdir().unwrap();
    let path = database(&dir).await;
    let receiver = Receiver::start().await;

    // An instance without workers records deliveries and stops before any is sent.
    let server = server_on(&path, WebhookConfig::disabled()).await;
    let api = Api::new(&server);
    let (sub, secret) = api.subscribe(json!({"webhook_url": receiver.url("later", Behaviour::default())})).await;
    let a = api.intent("a").await;
    for n in 0..4 {
        api.log(&a, "comment", n).await;
    }
    let expected = api.event_ids(&a).await;
    server.shutdown().await.unwrap();
    assert!(receiver.hits("later").is_empty());

    // One delivery is held by an instance that died: its claim runs for another 600 ms.
    let pool = db(&path).await;
    let held: String = on_raw!(pool, |p| {
        sqlx::query_scalar("SELECT id FROM webhook_deliveries ORDER BY seq LIMIT 1").fetch_one(p).await.unwrap()
    });
    let until = chrono::Utc::now() + chrono::Duration::milliseconds(600);
    on_raw!(pool, |p| {
        sqlx::query("UPDATE webhook_deliveries SET claimed_by = 'dead-instance', claimed_until = $1 WHERE id = $2")
            .bind(until.timestamp_millis())
            .bind(&held)
            .execute(p)
            .await
            .unwrap();
    });

    let server = server_on(&path, fast()).await;
    eventually("every pending event arrives after the restart", || async {
        receiver.delivered("later").keys().cloned().collect::<BTreeSet<_>>() == expected
    })
    .await;
    let hits = receiver.hits("later");
    assert_eq!(hits.len(), expected.len(), "each sent once");
    let taken_over = hits.iter().find(|h| h.delivery_id == held).unwrap();
    assert!(taken_over.at >= until, "the live claim was respected until it expired");
    for h in &hits {
        assert_eq!(h.delivery().subscription_id, sub);
        let now = chrono::Utc::now().timestamp();
        assert_eq!(verify_signature(&secret, &h.signature, &h.body, now, DEFAULT_TOLERANCE), Ok(()));
    }
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn two_instances_share_the_outbox_without_double_sends() {
    let dir = tempfile::tempdir().unwrap();
    let path = database(&dir).await;
    let receiver = Receiver::start().await;
    let config = fast().batch_size(3).workers(2);
    let one = server_on(&path, config.clone()).await;
    let two = server_on(&path, config).await;
    let (api1, api2) = (Api::new(&one), Api::new(&two));
    api1.subscribe(json!({"webhook_url": receiver.url("shared", Behaviour::default())})).await;
    let a = api1.intent("a").await;
    for n in 0..15 {
        api1.log(&a, "comment", n).await;
        api2.log(&a, "checkpoint", n).await;
    }
    let expected = api1.event_ids(&a).await;
    eventually("every event arrives", || async {
        receiver.delivered("shared").keys().cloned().collect::<BTreeSet<_>>() == expected
    })
    .await;
    drained(&db(&path).await).await;
    let hits = receiver.hits("shared");
    let ids: BTreeSet<&str> = hits.iter().map(|h| h.delivery_id.as_str()).collect();
    assert_eq!((hits.len(), ids.len()), (expected.len(), expected.len()), "one attempt per delivery");
    one.shutdown().await.unwrap();
    two.shutdown().await.unwrap();
}

#[tokio::test]
async fn finished_deliveries_are_pruned_after_the_retention_and_pending_ones_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = database(&dir).await;
    let receiver = Receiver::start().await;
    let config = fast().max_attempts(1000).retention(Some(Duration::from_millis(200)));
    let server = server_on(&path, config).await;
    let api = Api::new(&server);
    let pool = db(&path).await;
    let a = api.intent("a").await;
    api.subscribe(json!({"intent_id": a, "webhook_url": receiver.url("fine", Behaviour::default())})).await;
    let down = Behaviour { always_fail: true, ..Behaviour::default() };
    api.subscribe(json!({"intent_id": a, "webhook_url": receiver.url("down", down)})).await;
    let event = api.log(&a, "comment", 1).await;
    eventually("the event is delivered", || async { receiver.delivered("fine").contains_key(&event) }).await;
    eventually("the delivered row is pruned", || async {
        let s = statuses(&pool).await;
        !s.contains_key("delivered") && s.get("pending") == Some(&1)
    })
    .await;
    assert!(receiver.hits("down").len() >= 2, "the pending delivery is still being retried");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn new_deliveries_wake_the_workers_without_waiting_for_the_poll() {
    let dir = tempfile::tempdir().unwrap();
    let path = database(&dir).await;
    let receiver = Receiver::start().await;
    // The poll alone would take a minute; the commit of the event wakes the worker instead.
    let server = server_on(&path, fast().poll_interval(Duration::from_secs(60))).await;
    let api = Api::new(&server);
    let a = api.intent("a").await;
    api.subscribe(json!({"intent_id": a, "webhook_url": receiver.url("prompt", Behaviour::default())})).await;
    // Let the worker go back to sleep after its first (empty) poll.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let start = Instant::now();
    for n in 0..3 {
        let event = api.log(&a, "comment", n).await;
        eventually("the event arrives", || async { receiver.delivered("prompt").contains_key(&event) }).await;
    }
    assert!(start.elapsed() < Duration::from_secs(10), "delivered in {:?}", start.elapsed());
    let stopping = Instant::now();
    server.shutdown().await.unwrap();
    assert!(stopping.elapsed() < Duration::from_secs(10), "the sleeping worker stops at once");
}

#[tokio::test]
async fn an_attempt_in_flight_at_shutdown_is_released_and_sent_after_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = database(&dir).await;
    let receiver = Receiver::start().await;
    // Claims that would outlive the test: only their release on shutdown lets the restarted
    // server send the delivery at once.
    let patient = fast().request_timeout(Duration::from_secs(60)).claim_ttl(Duration::from_secs(600));
    let server = server_on(&path, patient.clone()).await;
    let api = Api::new(&server);
    let a = api.intent("a").await;
    let stall = Behaviour { stall_first: true, ..Behaviour::default() };
    api.subscribe(json!({"intent_id": a, "webhook_url": receiver.url("stall", stall)})).await;
    let event = api.log(&a, "comment", 1).await;
    eventually("the first attempt is in flight", || async { receiver.hits("stall").len() == 1 }).await;
    let stopping = Instant::now();
    server.shutdown().await.unwrap();
    assert!(stopping.elapsed() < Duration::from_secs(10), "shutdown does not wait for the receiver");

    let server = server_on(&path, patient).await;
    eventually("the delivery is sent again", || async { receiver.delivered("stall").contains_key(&event) }).await;
    let hits = receiver.hits("stall");
    assert_eq!(hits.len(), 2);
    assert_eq!(hits[0].delivery_id, hits[1].delivery_id, "the retry keeps the delivery id");
    assert_eq!((hits[0].answered, hits[1].answered), (1, 200));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn deny_private_refuses_non_public_destinations_at_send_time_and_on_subscribe() {
    let dir = tempfile::tempdir().unwrap();
    let path = database(&dir).await;
    let receiver = Receiver::start().await;

    // Off (the default): a receiver on 127.0.0.1 gets its deliveries.
    let server = server_on(&path, fast()).await;
    let pool = db(&path).await;
    let api = Api::new(&server);
    let a = api.intent("a").await;
    let literal = receiver.url("literal", Behaviour::default());
    let (sub, _) = api.subscribe(json!({"intent_id": a, "webhook_url": literal})).await;
    let first = api.log(&a, "comment", 1).await;
    eventually("the delivery to 127.0.0.1 arrives", || async { receiver.delivered("literal").contains_key(&first) })
        .await;
    server.shutdown().await.unwrap();

    // On: the same subscription's next delivery is refused without being sent or retried.
    let server = server_on(&path, fast().deny_private(true)).await;
    let api = Api::new(&server);
    let second = api.log(&a, "comment", 2).await;
    drained(&pool).await;
    assert_eq!(receiver.hits("literal").len(), 1, "nothing more was sent to 127.0.0.1");
    let page = api.deliveries(&sub, "").await;
    let refused = &page["deliveries"][0];
    assert_eq!(refused["event_id"], json!(second));
    assert_eq!(refused["status"], json!("failed"));
    assert_eq!(refused["attempts"], json!(0), "{refused}");
    assert_eq!(refused["last_status"], Value::Null);
    let error = refused["last_error"].as_str().unwrap();
    assert!(error.contains("destination refused") && error.contains("127.0.0.1"), "{error}");

    // A new subscription to a literal non-public address is refused with 422 naming the field.
    for url in [
        format!("http://127.0.0.1:{}/hook/x", receiver.addr.port()),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        "http://[::ffff:10.0.0.1]/hook".to_owned(),
    ] {
        let (status, body) =
            api.call("POST", "/api/v1/subscriptions", Some(json!({"intent_id": a, "webhook_url": url})), None).await;
        assert_eq!(status, 422, "{url}: {body}");
        assert_eq!(body["detail"][0]["loc"], json!(["body", "webhook_url"]), "{body}");
    }

    // A host name is accepted, then checked on every address it resolves to when sending.
    let by_name = format!("http://localhost:{}/hook/by-name", receiver.addr.port());
    receiver.url("by-name", Behaviour::default());
    let (named, _) = api.subscribe(json!({"intent_id": a, "webhook_url": by_name})).await;
    let third = api.log(&a, "comment", 3).await;
    drained(&pool).await;
    assert!(receiver.hits("by-name").is_empty());
    let page = api.deliveries(&named, "").await;
    assert_eq!(page["total"], json!(1));
    let d = &page["deliveries"][0];
    assert_eq!((d["event_id"].clone(), d["status"].clone()), (json!(third), json!("failed")));
    let error = d["last_error"].as_str().unwrap();
    assert!(error.contains("destination refused: localhost resolves to"), "{error}");
    server.shutdown().await.unwrap();

    // Off again: the host name's deliveries go through.
    let server = server_on(&path, fast()).await;
    let api = Api::new(&server);
    let fourth = api.log(&a, "comment", 4).await;
    eventually("the delivery by host name arrives", || async { receiver.delivered("by-name").contains_key(&fourth) })
        .await;
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn deliveries_are_listed_newest_first_to_the_subscriber_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = database(&dir).await;
    let receiver = Receiver::start().await;
    let server = server_on(&path, fast().max_attempts(2)).await;
    let api = Api::new(&server);
    let pool = db(&path).await;
    let a = api.intent("a").await;
    let (ok, _) = api.subscribe(json!({"intent_id": a, "webhook_url": receiver.url("ok", Behaviour::default())})).await;
    let down = Behaviour { always_fail: true, ..Behaviour::default() };
    let (bad, _) = api
        .subscribe(json!({"intent_id": a, "event_types": ["comment"], "webhook_url": receiver.url("bad", down)}))
        .await;
    let mut events = Vec::new();
    for n in 0..3 {
        events.push(api.log(&a, "comment", n).await);
    }
    drained(&pool).await;

    // Newest first, with the delivery ids receivers saw.
    let page = api.deliveries(&ok, "").await;
    assert_eq!(page["total"], json!(3));
    let listed: Vec<&Value> = page["deliveries"].as_array().unwrap().iter().collect();
    let newest_first: Vec<String> = events.iter().rev().cloned().collect();
    assert_eq!(listed.iter().map(|d| d["event_id"].as_str().unwrap().to_owned()).collect::<Vec<_>>(), newest_first);
    let hits = receiver.hits("ok");
    for d in &listed {
        assert_eq!(d["status"], json!("delivered"));
        assert_eq!(d["event_type"], json!("comment"));
        assert_eq!((d["attempts"].clone(), d["last_status"].clone()), (json!(1), json!(200)));
        assert_eq!((d["last_error"].clone(), d["next_attempt_at"].clone()), (Value::Null, Value::Null));
        assert!(d["delivered_at"].is_string() && d["created_at"].is_string(), "{d}");
        let hit = hits.iter().find(|h| h.delivery_id == d["id"].as_str().unwrap()).expect("the receiver saw this id");
        assert_eq!(hit.delivery().event.id, d["event_id"].as_str().unwrap());
    }

    // Paging.
    let page = api.deliveries(&ok, "?limit=1&offset=1").await;
    assert_eq!(page["total"], json!(3));
    assert_eq!(page["deliveries"].as_array().unwrap().len(), 1);
    assert_eq!(page["deliveries"][0]["event_id"], json!(events[1]));

    // Failed deliveries keep the receiver's last answer; the status filter.
    let page = api.deliveries(&bad, "?status=failed").await;
    assert_eq!(page["total"], json!(3));
    let d = &page["deliveries"][0];
    assert_eq!((d["attempts"].clone(), d["last_status"].clone()), (json!(2), json!(500)));
    assert!(d["last_error"].as_str().unwrap().contains("500"), "{d}");
    assert_eq!(d["delivered_at"], Value::Null);
    let page = api.deliveries(&bad, "?status=delivered").await;
    assert_eq!((page["total"].clone(), page["deliveries"].clone()), (json!(0), json!([])));
    let (status, body) =
        api.call("GET", &format!("/api/v1/subscriptions/{bad}/deliveries?status=lost"), None, None).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["detail"][0]["loc"], json!(["query", "status"]));
    let (status, _) = api.call("GET", &format!("/api/v1/subscriptions/{ok}/deliveries?limit=0"), None, None).await;
    assert_eq!(status, 422);

    // Only the subscriber may look; unknown and deleted subscriptions are 404.
    let path = format!("/api/v1/subscriptions/{ok}/deliveries");
    let (status, body) = api.call_as("someone-else", "GET", &path, None, None).await;
    assert_eq!((status, body["detail"].is_string()), (403, true), "{body}");
    let (status, body) = api.call("GET", "/api/v1/subscriptions/no-such-id/deliveries", None, None).await;
    assert_eq!((status, body["detail"].clone()), (404, json!("Subscription not found")));
    let (status, _) = api.call("DELETE", &format!("/api/v1/subscriptions/{ok}"), None, None).await;
    assert_eq!(status, 204);
    let (status, _) = api.call("GET", &path, None, None).await;
    assert_eq!(status, 404);
    let (status, _) =
        api.http.get(format!("{}{path}", api.base)).send().await.map(|r| (r.status().as_u16(), ())).unwrap();
    assert_eq!(status, 401, "an API key is required");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_pending_delivery_shows_when_it_is_tried_next() {
    let dir = tempfile::tempdir().unwrap();
    let path = database(&dir).await;
    let receiver = Receiver::start().await;
    let slow = fast().base_backoff(Duration::from_secs(30)).max_backoff(Duration::from_secs(30));
    let server = server_on(&path, slow).await;
    let api = Api::new(&server);
    let a = api.intent("a").await;
    let down = Behaviour { always_fail: true, ..Behaviour::default() };
    let (sub, _) = api.subscribe(json!({"intent_id": a, "webhook_url": receiver.url("later", down)})).await;
    let event = api.log(&a, "comment", 1).await;
    eventually("the first attempt fails", || async { receiver.hits("later").len() == 1 }).await;
    eventually("the failure is recorded", || async {
        api.deliveries(&sub, "").await["deliveries"][0]["attempts"] == json!(1)
    })
    .await;
    let page = api.deliveries(&sub, "?status=pending").await;
    assert_eq!(page["total"], json!(1));
    let d = &page["deliveries"][0];
    assert_eq!((d["event_id"].clone(), d["status"].clone()), (json!(event), json!("pending")));
    assert_eq!(d["last_status"], json!(500));
    let next: chrono::DateTime<chrono::Utc> = d["next_attempt_at"].as_str().unwrap().parse().unwrap();
    assert!(next > chrono::Utc::now() + chrono::Duration::seconds(5), "{d}");
    assert_eq!(d["delivered_at"], Value::Null);
    server.shutdown().await.unwrap();
}
