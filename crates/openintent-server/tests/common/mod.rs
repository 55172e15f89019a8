//! Helpers shared by the integration tests: an in-process app driven with `oneshot`, over a
//! fresh database of the backend under test.
//!
//! With `OPENINTENT_TEST_DATABASE_URL` set to a PostgreSQL URL (a role allowed to create
//! databases, e.g. `postgres://postgres@127.0.0.1:5432/postgres`), every test database is a new
//! PostgreSQL database created through it, so tests stay parallel and independent; unset, tests
//! use SQLite (in memory, or a file where a test needs one).
#![allow(dead_code)]

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use openintent_server::{AppState, DatabaseLocation, ServerConfig, app};
use serde_json::{Value, json};
use tower::ServiceExt;

pub mod process;

pub const KEY: &str = "dev-user-key";

/// The environment variable naming the PostgreSQL server the tests run against.
pub const PG_ENV: &str = "OPENINTENT_TEST_DATABASE_URL";

/// The PostgreSQL URL the tests run against, if any.
pub fn postgres_url() -> Option<String> {
    std::env::var(PG_ENV).ok().map(|u| u.trim().to_owned()).filter(|u| !u.is_empty())
}

/// A new, empty PostgreSQL database on the server of `admin_url`; returns its URL.
pub async fn fresh_postgres_database(admin_url: &str) -> String {
    use sqlx::Connection;
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    let name = format!("oi_test_{}_{n}_{nanos}", std::process::id());
    let mut conn = sqlx::PgConnection::connect(admin_url).await.expect("connect to the test PostgreSQL server");
    sqlx::raw_sql(&format!("CREATE DATABASE \"{name}\"")).execute(&mut conn).await.expect("create a test database");
    conn.close().await.ok();
    let (base, query) = match admin_url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (admin_url, String::new()),
    };
    let (scheme, rest) = base.split_once("://").expect("a URL");
    let server = rest.split_once('/').map_or(rest, |(s, _)| s);
    format!("{scheme}://{server}/{name}{query}")
}

/// A direct connection pool to a test database, as another program with access to it would
/// open: the SQLite file or the PostgreSQL database of a [`DatabaseLocation`].
pub enum RawDb {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl RawDb {
    /// Connects to `location` (a SQLite file or a PostgreSQL database).
    pub async fn connect(location: &DatabaseLocation) -> RawDb {
        match location {
            DatabaseLocation::SqliteFile(path) => {
                RawDb::Sqlite(sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display())).await.unwrap())
            }
            DatabaseLocation::Postgres(url) => RawDb::Postgres(sqlx::PgPool::connect(url).await.unwrap()),
            other => panic!("no raw connection to {other:?}"),
        }
    }
}

/// Runs `$body` with `$p` bound to the native pool of a [`RawDb`] (the body is compiled once
/// per driver, so ordinary `sqlx::query(...)` calls work on both).
#[allow(unused_macros)]
macro_rules! on_raw {
    ($db:expr, |$p:ident| $body:expr) => {
        match &$db {
            $crate::common::RawDb::Sqlite($p) => $body,
            $crate::common::RawDb::Postgres($p) => $body,
        }
    };
}

/// A fresh database for one test: a new PostgreSQL database when [`PG_ENV`] is set, else a
/// private in-memory SQLite database.
pub async fn test_database() -> DatabaseLocation {
    match postgres_url() {
        Some(admin) => DatabaseLocation::Postgres(fresh_postgres_database(&admin).await),
        None => DatabaseLocation::Memory,
    }
}

/// A fresh database that several stores may open one after another or at once: a new
/// PostgreSQL database when [`PG_ENV`] is set, else a SQLite file in `dir`.
pub async fn shared_test_database(dir: &std::path::Path) -> DatabaseLocation {
    match postgres_url() {
        Some(admin) => DatabaseLocation::Postgres(fresh_postgres_database(&admin).await),
        None => DatabaseLocation::SqliteFile(dir.join("oi.db")),
    }
}

/// An app over a fresh [`shared_test_database`] in `dir`, with where that database is (for
/// reads and writes beside the server, or a second store on it).
pub async fn app_on_shared_database(dir: &std::path::Path) -> (TestApp, DatabaseLocation) {
    let location = shared_test_database(dir).await;
    let config = ServerConfig::builder().database(location.clone()).build().expect("config");
    (TestApp::with_config(config).await, location)
}

/// [`ServerConfig::in_memory`] (development keys, `127.0.0.1:0`) over [`test_database`].
pub async fn test_config() -> ServerConfig {
    ServerConfig::builder()
        .database(test_database().await)
        .bind(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
        .build()
        .unwrap()
}

/// An app over its own database.
#[derive(Clone)]
pub struct TestApp {
    pub router: Router,
    pub state: AppState,
}

/// A response: status, headers, and the body as JSON (`Value::Null` when empty, a string when
/// not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn detail(&self) -> &str {
        self.body["detail"].as_str().unwrap_or("")
    }
}

impl TestApp {
    /// An app over a fresh database ([`test_database`]: in-memory SQLite unless the tests run
    /// against PostgreSQL).
    pub async fn memory() -> TestApp {
        TestApp::with_config(test_config().await).await
    }

    pub async fn with_config(config: ServerConfig) -> TestApp {
        let state = AppState::open(&config).await.expect("open store");
        TestApp { router: app(state.clone()), state }
    }

    /// Sends a request; `headers` are extra `(name, value)` pairs.
    pub async fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: Option<Body>) -> Reply {
        let mut req = Request::builder().method(Method::from_bytes(method.as_bytes()).unwrap()).uri(path);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(body.unwrap_or_else(Body::empty)).unwrap();
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        Reply { status, headers, body }
    }

    /// An authenticated JSON request as `agent` (no `X-Agent-ID` when `None`).
    pub async fn as_agent(&self, agent: Option<&str>, method: &str, path: &str, body: Option<Value>) -> Reply {
        self.as_agent_with(agent, method, path, body, &[]).await
    }

    pub async fn as_agent_with(
        &self,
        agent: Option<&str>,
        method: &str,
        path: &str,
        body: Option<Value>,
        extra: &[(&str, &str)],
    ) -> Reply {
        let mut headers = vec![("x-api-key", KEY)];
        if let Some(a) = agent {
            headers.push(("x-agent-id", a));
        }
        if body.is_some() {
            headers.push(("content-type", "application/json"));
        }
        headers.extend_from_slice(extra);
        self.send(method, path, &headers, body.map(|b| Body::from(b.to_string()))).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.as_agent(Some("tester"), "GET", path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.as_agent(Some("tester"), "POST", path, Some(body)).await
    }

    /// Creates an intent and returns its id.
    pub async fn intent(&self, title: &str) -> String {
        let r = self.post("/api/v1/intents", json!({"title": title})).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        r.body["id"].as_str().unwrap().to_owned()
    }

    /// A state write with `If-Match: version` as `agent`.
    pub async fn patch_state(&self, agent: &str, id: &str, version: i64, body: Value) -> Reply {
        let v = version.to_string();
        self.as_agent_with(Some(agent), "POST", &format!("/api/v1/intents/{id}/state"), Some(body), &[("if-match", &v)])
            .await
    }

    pub async fn events(&self, id: &str) -> Vec<Value> {
        let r = self.get(&format!("/api/v1/intents/{id}/events")).await;
        assert_eq!(r.status, StatusCode::OK);
        r.body.as_array().unwrap().clone()
    }
}
