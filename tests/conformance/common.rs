//! The target server, its profile, and helpers shared by the conformance tests.

use std::fmt::Debug;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use openintent::transport::{
    Request, ReqwestTransport, Response, RetryConfig, RetryingTransport, StreamResponse, Transport, TransportError,
};
use openintent::types::Intent;
use openintent::{Client, Error};

/// Which operations the target serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// The Python reference server: no intent listing, no webhook subscriptions, no
    /// unassignment.
    Reference,
    /// Every operation of the seed.
    Full,
}

/// The server under test.
#[derive(Debug)]
pub struct Target {
    /// Its base URL (the first instance's, when several are given).
    pub url: String,
    /// Every instance's base URL: several instances of one server on one database, which the
    /// clients of [`Target::client`] use in turn, request by request.
    pub urls: Vec<String>,
    /// Accepted API keys; the first is the user's, the others belong to other agents.
    pub keys: Vec<String>,
    /// Which operations it serves.
    pub profile: Profile,
}

const DEFAULT_KEYS: &str = "dev-user-key,agent-research-key,agent-synth-key";

static TARGET: OnceLock<Target> = OnceLock::new();
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// The target, chosen once per test binary from the environment (see the crate docs).
pub fn target() -> &'static Target {
    TARGET.get_or_init(|| {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let keys: Vec<String> = env("OPENINTENT_CONFORMANCE_KEYS")
            .unwrap_or_else(|| DEFAULT_KEYS.to_owned())
            .split(',')
            .map(|k| k.trim().to_owned())
            .filter(|k| !k.is_empty())
            .collect();
        assert!(keys.len() >= 2, "OPENINTENT_CONFORMANCE_KEYS needs at least two keys");
        let reference = env("OPENINTENT_REFERENCE_URL");
        let (url, default_profile) = if let Some(url) = env("OPENINTENT_CONFORMANCE_URL") {
            // The reference server's URL given explicitly still means the reference profile.
            let is_reference = reference.as_deref().map(|r| r.trim_end_matches('/')) == Some(url.trim_end_matches('/'));
            (url, if is_reference { Profile::Reference } else { Profile::Full })
        } else if let Some(url) = reference {
            (url, Profile::Reference)
        } else {
            (start_in_process(), Profile::Full)
        };
        let profile = match env("OPENINTENT_CONFORMANCE_PROFILE").as_deref() {
            None => default_profile,
            Some("reference") => Profile::Reference,
            Some("full") => Profile::Full,
            Some(other) => panic!("OPENINTENT_CONFORMANCE_PROFILE must be `reference` or `full`, not {other:?}"),
        };
        eprintln!("conformance target: {url} (profile {profile:?})");
        let urls: Vec<String> =
            url.split(',').map(|u| u.trim().trim_end_matches('/').to_owned()).filter(|u| !u.is_empty()).collect();
        Target { url: urls[0].clone(), urls, keys, profile }
    })
}

/// Starts our server on a temporary SQLite file (real concurrent connections, unlike the
/// single-connection in-memory database), on a runtime of its own that outlives every
/// test (each `#[tokio::test]` has its own runtime, which ends with the test).
fn start_in_process() -> String {
    remove_stale_databases(Duration::from_secs(3600));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("conformance-server".to_owned())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("server runtime");
            runtime.block_on(async move {
                // Under target/tmp: the process ends without running destructors, so the
                // directory stays until `cargo clean` rather than piling up in /tmp.
                let dir = tempfile::Builder::new()
                    .prefix("conformance-")
                    .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
                    .expect("temporary directory");
                let config = openintent_server::ServerConfig::builder()
                    .database(openintent_server::DatabaseLocation::SqliteFile(dir.path().join("conformance.db")))
                    .bind(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
                    // The webhook receivers of the tests listen on 127.0.0.1.
                    .webhooks(openintent_server::WebhookConfig::default().deny_private(false))
                    .build()
                    .expect("server config");
                let server = openintent_server::spawn(config).await.expect("in-process server starts");
                tx.send(server.url()).expect("test binary waits for the URL");
                // Serve until the test binary exits; the directory lives as long.
                std::future::pending::<()>().await;
                drop(dir);
            });
        })
        .expect("server thread");
    rx.recv_timeout(Duration::from_secs(30)).expect("in-process server did not start")
}

impl Target {
    /// Whether the target serves every operation.
    pub fn full(&self) -> bool {
        self.profile == Profile::Full
    }

    /// A client with the user's key (the first) and `agent_id`.
    pub fn client(&self, agent_id: &str) -> Client {
        self.client_with_key(0, agent_id)
    }

    /// A client with key number `index` and `agent_id`. With several instances, its requests
    /// go to each instance in turn.
    pub fn client_with_key(&self, index: usize, agent_id: &str) -> Client {
        let key = self.keys[index % self.keys.len()].clone();
        if self.urls.len() > 1 {
            let instances = self
                .urls
                .iter()
                .map(|url| {
                    let http = ReqwestTransport::builder(url.clone())
                        .api_key(key.clone())
                        .agent_id(agent_id)
                        .request_timeout(Duration::from_secs(20))
                        .build()
                        .expect("transport");
                    Arc::new(RetryingTransport::new(http, RetryConfig::default())) as Arc<dyn Transport>
                })
                .collect();
            return Client::from_transport(InTurn { instances, next: AtomicUsize::new(0) }, agent_id);
        }
        Client::builder()
            .base_url(self.url.clone())
            .api_key(key)
            .agent_id(agent_id)
            .request_timeout(Duration::from_secs(20))
            .build()
            .expect("client")
    }
}

/// A transport that sends each request to the next of several server instances.
#[derive(Debug)]
struct InTurn {
    instances: Vec<Arc<dyn Transport>>,
    next: AtomicUsize,
}

impl InTurn {
    fn pick(&self) -> &Arc<dyn Transport> {
        &self.instances[self.next.fetch_add(1, Ordering::Relaxed) % self.instances.len()]
    }
}

#[async_trait::async_trait]
impl Transport for InTurn {
    async fn send(&self, request: Request) -> Result<Response, TransportError> {
        self.pick().send(request).await
    }

    async fn send_stream(&self, request: Request) -> Result<StreamResponse, TransportError> {
        self.pick().send_stream(request).await
    }
}

/// A name unique to this run and call: `<prefix>-<run>-<n>`.
pub fn unique(prefix: &str) -> String {
    static RUN: OnceLock<u64> = OnceLock::new();
    let run = *RUN.get_or_init(|| {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default();
        (nanos as u64 ^ u64::from(std::process::id())) % 1_000_000_000
    });
    format!("{prefix}-{run}-{}", COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// A fresh intent titled after the test.
pub async fn new_intent(client: &Client, test: &str) -> Intent {
    client.create_intent(unique(&format!("conformance {test}"))).send().await.expect("create_intent")
}

/// Asserts an operation the reference lacks: unsupported under the `reference` profile, a
/// result under `full` (returned for further checks).
#[track_caller]
pub fn expect_served<T: Debug>(what: &str, result: Result<T, Error>) -> Option<T> {
    match (target().profile, result) {
        (Profile::Full, Ok(value)) => Some(value),
        (Profile::Full, Err(e)) => panic!("{what}: the full profile serves it, got {e}"),
        (Profile::Reference, Err(e)) if e.is_unsupported() => None,
        (Profile::Reference, Err(e)) => panic!("{what}: expected the unsupported error, got {e} ({e:?})"),
        (Profile::Reference, Ok(v)) => {
            panic!("{what}: served under the reference profile ({v:?}); run with OPENINTENT_CONFORMANCE_PROFILE=full")
        }
    }
}

/// Unwraps with the error's display (status, kind, message, request) on failure.
pub trait Must<T> {
    /// The value, or a panic naming `what` and the error.
    fn must(self, what: &str) -> T;
}

impl<T> Must<T> for Result<T, Error> {
    #[track_caller]
    fn must(self, what: &str) -> T {
        match self {
            Ok(value) => value,
            Err(e) => panic!("{what}: {e}"),
        }
    }
}

/// Removes the database directories of earlier runs (older than `age`, so that a run going on
/// beside this one keeps its own).
fn remove_stale_databases(age: Duration) {
    let Ok(entries) = std::fs::read_dir(env!("CARGO_TARGET_TMPDIR")) else { return };
    for entry in entries.flatten() {
        let stale = entry.file_name().to_string_lossy().starts_with("conformance-")
            && entry.metadata().and_then(|m| m.modified()).is_ok_and(|t| t.elapsed().is_ok_and(|e| e > age));
        if stale {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}
