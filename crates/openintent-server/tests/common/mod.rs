//! Helpers shared by the integration tests: an in-process app driven with `oneshot`.
#![allow(dead_code)]

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use openintent_server::{AppState, ServerConfig, app};
use serde_json::{Value, json};
use tower::ServiceExt;

pub const KEY: &str = "dev-user-key";

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
    pub async fn memory() -> TestApp {
        TestApp::with_config(ServerConfig::in_memory()).await
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
