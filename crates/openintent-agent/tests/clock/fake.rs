//! A server in memory, as a `Transport`: just the routes an agent uses, with its streams fed
//! from channels, and the suspension timeout run on tokio's clock. Under
//! `#[tokio::test(start_paused = true)]` nothing in it waits on the wall clock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openintent_transport::{Headers, Method, Request, Response, StreamResponse, Transport, TransportError};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// What the fake saw and holds.
#[derive(Default)]
pub struct State {
    pub intents: HashMap<String, Value>,
    pub retry_policies: HashMap<String, Value>,
    /// Failures recorded, with when (tokio's clock).
    pub failures: Vec<(Instant, Value)>,
    /// Suspensions asked for, with when (tokio's clock).
    pub suspended_at: Vec<Instant>,
    /// Suspensions expired by the fake, with when (tokio's clock).
    pub expired_at: Vec<Instant>,
    /// Every request, as `METHOD path`.
    pub requests: Vec<String>,
    agent_streams: Vec<mpsc::UnboundedSender<Result<bytes::Bytes, TransportError>>>,
    intent_streams: HashMap<String, Vec<mpsc::UnboundedSender<Result<bytes::Bytes, TransportError>>>>,
    next_id: u64,
}

/// The fake server; clones share it.
#[derive(Clone, Default)]
pub struct Fake(pub Arc<Mutex<State>>);

impl std::fmt::Debug for Fake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fake")
    }
}

fn frame(event: &str, id: u64, data: &Value) -> bytes::Bytes {
    bytes::Bytes::from(format!("id: {id}\nevent: {event}\ndata: {data}\n\n"))
}

fn ok(body: Value) -> Result<Response, TransportError> {
    Ok(Response::new(200).with_json(body.to_string()))
}

impl Fake {
    pub fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many agent streams are open.
    pub fn agent_streams(&self) -> usize {
        self.state().agent_streams.iter().filter(|tx| !tx.is_closed()).count()
    }

    /// Adds an active intent.
    pub fn intent(&self, id: &str, title: &str) {
        let intent = json!({"id": id, "title": title, "version": 1, "status": "active", "state": {}});
        self.state().intents.insert(id.to_owned(), intent);
    }

    /// Assigns `agent` to the intent: an `agent_assigned` on the agent's stream.
    pub fn assign(&self, intent_id: &str, agent: &str) {
        let mut s = self.state();
        s.next_id += 1;
        let id = s.next_id;
        let data = json!({"id": format!("as-{id}"), "intent_id": intent_id, "agent_id": agent, "role": "worker",
            "assigned_at": "2026-12-03T10:00:00Z"});
        s.agent_streams.retain(|tx| tx.send(Ok(frame("agent_assigned", id, &data))).is_ok());
    }

    /// Publishes an event on the intent's stream.
    fn publish(s: &mut State, intent_id: &str, event: &str, data: &Value) {
        s.next_id += 1;
        let id = s.next_id;
        if let Some(txs) = s.intent_streams.get_mut(intent_id) {
            txs.retain(|tx| tx.send(Ok(frame(event, id, data))).is_ok());
        }
    }

    fn bump(intent: &mut Value) {
        let v = intent["version"].as_i64().unwrap_or(1);
        intent["version"] = json!(v + 1);
    }

    /// Answers one request.
    fn answer(&self, req: &Request) -> Result<Response, TransportError> {
        let path = req.path.split('?').next().unwrap_or_default().to_owned();
        let parts: Vec<&str> = path.trim_start_matches("/api/v1/").split('/').collect();
        let body: Value = req.body.as_ref().and_then(|b| serde_json::from_slice(b).ok()).unwrap_or(Value::Null);
        let agent_record = |id: &str| json!({"agent_id": id, "status": "active", "capabilities": [], "version": 1});
        let mut s = self.state();
        s.requests.push(format!("{} {path}", req.method));
        match (&req.method, parts.as_slice()) {
            (Method::Post, ["agents", "register"]) => ok(agent_record(body["agent_id"].as_str().unwrap_or("agent"))),
            (Method::Post, ["agents", id, "heartbeat"]) | (Method::Patch, ["agents", id, "status"]) => {
                ok(agent_record(id))
            }
            (Method::Delete, ["agents", id]) => ok(agent_record(id)),
            (Method::Get, ["intents", id]) => match s.intents.get(*id) {
                Some(intent) => ok(intent.clone()),
                None => Ok(Response::new(404).with_json(r#"{"detail": "Intent not found"}"#)),
            },
            (Method::Get, ["intents", id, "retry-policy"]) => match s.retry_policies.get(*id) {
                Some(p) => ok(p.clone()),
                None => Ok(Response::new(404).with_json(r#"{"detail": "No retry policy"}"#)),
            },
            (Method::Post, ["intents", id, "failures"]) => {
                let mut failure = body.clone();
                failure["id"] = json!(format!("f-{}", s.failures.len() + 1));
                failure["intent_id"] = json!(id);
                s.failures.push((Instant::now(), failure.clone()));
                ok(failure)
            }
            (Method::Post, ["intents", id, "state"]) => {
                let Some(intent) = s.intents.get_mut(*id) else { return Ok(Response::new(404)) };
                for patch in body["patches"].as_array().into_iter().flatten() {
                    let key = patch["path"].as_str().unwrap_or_default().trim_start_matches('/').to_owned();
                    intent["state"][key] = patch["value"].clone();
                }
                Self::bump(intent);
                ok(intent.clone())
            }
            (Method::Post, ["intents", id, "suspend"]) => {
                let timeout = body["timeout_seconds"].as_u64();
                let Some(intent) = s.intents.get_mut(*id) else { return Ok(Response::new(404)) };
                let record = json!({"id": "susp-1", "question": body["question"], "response_type": "choice",
                    "choices": body["choices"], "timeout_seconds": timeout, "fallback_policy": "complete_with_fallback",
                    "fallback_value": "deny"});
                intent["state"]["_suspension"] = record;
                intent["status"] = json!("suspended_awaiting_input");
                Self::bump(intent);
                let answer = intent.clone();
                s.suspended_at.push(Instant::now());
                if let Some(secs) = timeout {
                    let (fake, id) = (self.clone(), (*id).to_owned());
                    tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_secs(secs)).await;
                        fake.expire(&id);
                    });
                }
                ok(answer)
            }
            _ => Ok(Response::new(404).with_json(r#"{"detail": "Not Found"}"#)),
        }
    }

    /// The suspension timed out: the fallback applies and `intent.suspension_expired` is sent.
    fn expire(&self, intent_id: &str) {
        let mut s = self.state();
        s.expired_at.push(Instant::now());
        let Some(intent) = s.intents.get_mut(intent_id) else { return };
        intent["state"]["_suspension"]["resolution"] = json!("expired");
        intent["state"]["_suspension"]["response"] = json!("deny");
        intent["status"] = json!("completed");
        Self::bump(intent);
        let data = json!({"id": "ev-expired", "intent_id": intent_id, "event_type": "intent.suspension_expired",
            "actor": "server", "payload": {"suspension_id": "susp-1"}, "created_at": "2026-12-03T10:00:00Z"});
        Self::publish(&mut s, intent_id, "intent.suspension_expired", &data);
    }
}

#[async_trait::async_trait]
impl Transport for Fake {
    async fn send(&self, req: Request) -> Result<Response, TransportError> {
        self.answer(&req)
    }

    async fn send_stream(&self, req: Request) -> Result<StreamResponse, TransportError> {
        let path = req.path.split('?').next().unwrap_or_default().to_owned();
        let (tx, rx) = mpsc::unbounded_channel();
        {
            let mut s = self.state();
            if path.starts_with("/api/v1/subscribe/agents/") {
                s.agent_streams.push(tx);
            } else if let Some(id) = path.strip_prefix("/api/v1/subscribe/intents/") {
                s.intent_streams.entry(id.to_owned()).or_default().push(tx);
            } else {
                return Ok(StreamResponse::from_chunks(404, Headers::default(), [bytes::Bytes::new()]));
            }
        }
        let headers: Headers = [("content-type", "text/event-stream")].into_iter().collect();
        let body = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
        Ok(StreamResponse::new(200, headers, body))
    }
}
