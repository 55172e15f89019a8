//! Every captured exchange in `shared/protocol/examples/` (real traffic of the reference server)
//! is read with the models of this crate: response bodies deserialize into their model, request
//! bodies parse into their request type and serialize back to the captured JSON.
//!
//! The folder is walked, so a new vector is covered automatically; a vector whose route is not
//! classified fails the test. Set `OPENINTENT_EXAMPLES_DIR` to point elsewhere.

use std::path::PathBuf;

use openintent_types::wire::ListBody;
use openintent_types::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

fn examples_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("OPENINTENT_EXAMPLES_DIR") {
        return PathBuf::from(dir);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/protocol/examples")
}

/// Deserializes `body` as `T` and returns it re-serialized, failing with the file name.
fn read<T: DeserializeOwned + Serialize>(file: &str, body: &Value) -> Value {
    let model: T = serde_json::from_value(body.clone())
        .unwrap_or_else(|e| panic!("{file}: response does not read as {}: {e}", std::any::type_name::<T>()));
    serde_json::to_value(&model).unwrap()
}

fn read_list<T: DeserializeOwned + Serialize>(file: &str, body: &Value) -> usize {
    let list: ListBody<T> = serde_json::from_value(body.clone())
        .unwrap_or_else(|e| panic!("{file}: response does not read as a list of {}: {e}", std::any::type_name::<T>()));
    for item in &list.items {
        serde_json::to_value(item).unwrap();
    }
    list.items.len()
}

/// The request body parses into `T`, validates, and serializes (in the superset form clients
/// send) to the captured JSON: every captured key with the same value, and nothing else but the
/// synonyms the model declares.
fn request_roundtrip<T: DeserializeOwned + Serialize + Validate + WireModel>(file: &str, body: &Value) {
    let req: T = serde_json::from_value(body.clone())
        .unwrap_or_else(|e| panic!("{file}: request does not read as {}: {e}", std::any::type_name::<T>()));
    req.validate().unwrap_or_else(|e| panic!("{file}: captured request fails validation: {e}"));
    let back = wire::to_superset_value(&req);
    let (Value::Object(captured), Value::Object(ours)) = (body, &back) else { panic!("{file}: not objects") };
    for (k, v) in captured {
        let mine = ours.get(k).unwrap_or_else(|| panic!("{file}: key {k} is not written back ({back})"));
        assert!(json_eq(v, mine), "{file}: key {k}: captured {v}, written {mine}");
    }
    for k in ours.keys().filter(|k| !captured.contains_key(*k)) {
        let declared = T::ALSO_EMIT.iter().any(|(c, e)| e == k || (c == k && captured.contains_key(*e)));
        assert!(declared, "{file}: writes an extra key {k} ({back})");
    }
}

/// JSON equality with numbers compared by value (`1500` equals `1500.0`).
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// Compares the fields the model keeps with the captured body (numbers as f64, timestamps by
/// instant), so a field read under the wrong name shows up.
fn assert_fields_kept(file: &str, captured: &Value, written: &Value) {
    let (Value::Object(c), Value::Object(w)) = (captured, written) else { return };
    for (k, v) in c {
        let Some(ours) = w.get(k) else { continue };
        let same = match (v, ours) {
            (Value::String(a), Value::String(b)) if k.ends_with("_at") => {
                time::parse_timestamp(a).ok() == time::parse_timestamp(b).ok()
            }
            (a, b) => json_eq(a, b),
        };
        assert!(same, "{file}: field {k}: captured {v}, model wrote {ours}");
    }
}

/// Vectors of the agent-platform areas (PROTOCOL-AGENTS.md), checked by `agent_vectors.rs`.
fn agent_area(file: &str) -> bool {
    const CORE_SSE: &[&str] =
        &["sse_subscribe_intent.json", "sse_subscribe_agent.json", "sse_subscribe_portfolio.json"];
    ["agents_", "graph_", "hitl_", "governance_", "acl_", "messaging_", "tracing_"].iter().any(|p| file.starts_with(p))
        || (file.starts_with("sse_") && !CORE_SSE.contains(&file))
}

fn segments(path: &str) -> Vec<&str> {
    path.trim_matches('/').split('/').collect()
}

#[test]
fn every_captured_vector_reads() {
    let dir = examples_dir();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read the examples folder {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 60, "expected the captured vectors in {}, found {}", dir.display(), files.len());

    let mut responses = 0;
    let mut requests = 0;
    for path in &files {
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        if agent_area(&file) {
            continue;
        }
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let method = doc["request"]["method"].as_str().unwrap().to_owned();
        let req_path = doc["request"]["path"].as_str().unwrap().to_owned();
        let status = doc["response"]["status"].as_u64().unwrap();
        let body = doc["response"].get("body").cloned();
        let req_body = doc["request"].get("body").cloned();
        let seg = segments(&req_path);

        if let Some(text) = doc["response"].get("body_text").and_then(Value::as_str)
            && status == 200
            && req_path.starts_with("/api/v1/subscribe/")
        {
            check_sse(&file, text);
            responses += 1;
            continue;
        }

        if status >= 400 {
            let body = body.unwrap_or_else(|| panic!("{file}: error without a JSON body"));
            let err: ErrorBody = serde_json::from_value(body).unwrap_or_else(|e| panic!("{file}: error body: {e}"));
            assert!(!err.message().is_empty(), "{file}: error body without a message");
            if status == 422 {
                assert!(!err.field_errors().is_empty(), "{file}: 422 without field errors");
                assert!(!err.field_errors()[0].field().is_empty(), "{file}: field error without a field");
            }
            responses += 1;
            continue;
        }
        if status == 204 {
            responses += 1;
            continue;
        }
        let body = body.unwrap_or_else(|| panic!("{file}: success without a JSON body"));
        let m = method.as_str();
        // Each arm checks the exchange; single models come back re-serialized for a field check,
        // lists and acknowledgements are checked in place (`Null`).
        let written = match (m, seg.as_slice()) {
            (_, [".well-known", "openintent.json"]) => read::<Discovery>(&file, &body),
            (_, [".well-known", _]) | ("GET", ["api", "v1", "server", "config"]) => {
                assert!(body.is_object(), "{file}");
                body.clone()
            }
            ("POST", ["api", "v1", "intents"]) => {
                request_roundtrip::<CreateIntentRequest>(&file, req_body.as_ref().unwrap());
                requests += 1;
                read::<Intent>(&file, &body)
            }
            ("GET", ["api", "v1", "intents", _]) => read::<Intent>(&file, &body),
            ("POST", ["api", "v1", "intents", _, "state"]) => {
                request_roundtrip::<UpdateStateRequest>(&file, req_body.as_ref().unwrap());
                requests += 1;
                read::<Intent>(&file, &body)
            }
            ("POST", ["api", "v1", "intents", _, "status"]) => {
                request_roundtrip::<SetStatusRequest>(&file, req_body.as_ref().unwrap());
                requests += 1;
                read::<Intent>(&file, &body)
            }
            ("POST", ["api", "v1", "intents", _, "events"]) => {
                request_roundtrip::<LogEventRequest>(&file, req_body.as_ref().unwrap());
                requests += 1;
                read::<IntentEvent>(&file, &body)
            }
            ("GET", ["api", "v1", "intents", _, "events"]) => {
                assert!(read_list::<IntentEvent>(&file, &body) > 0, "{file}");
                Value::Null
            }
            ("POST", ["api", "v1", "intents", _, "agents"]) => {
                request_roundtrip::<AssignAgentRequest>(&file, req_body.as_ref().unwrap());
                requests += 1;
                read::<AgentAssignment>(&file, &body)
            }
            ("GET", ["api", "v1", "intents", _, "agents"]) => {
                read_list::<AgentAssignment>(&file, &body);
                Value::Null
            }
            ("POST", ["api", "v1", "intents", _, "leases"]) => {
                request_roundtrip::<AcquireLeaseRequest>(&file, req_body.as_ref().unwrap());
                requests += 1;
                let lease: Lease = serde_json::from_value(body.clone()).unwrap();
                assert!(lease.status.is_none() && lease.released_at.is_none(), "{file}");
                read::<Lease>(&file, &body)
            }
            ("PATCH", ["api", "v1", "intents", _, "leases", _]) => {
                request_roundtrip::<RenewLeaseRequest>(&file, req_body.as_ref().unwrap());
                requests += 1;
                read::<Lease>(&file, &body)
            }
            ("DELETE", ["api", "v1", "intents", _, "leases", _])
            | ("DELETE", ["api", "v1", "portfolios", _, "intents", _]) => {
                let ack: Ack = serde_json::from_value(body.clone()).unwrap();
                assert!(!ack.message.is_empty(), "{file}");
                Value::Null
            }
            ("GET", ["api", "v1", "intents", _, "leases"]) => {
                let list: ListBody<Lease> = serde_json::from_value(body.clone()).unwrap();
                assert!(!list.items.is_empty(), "{file}");
                Value::Null
            }
            ("POST", ["api", "v1", "intents", _, "arbitrate"]) => {
                request_roundtrip::<CreateArbitrationRequest>(&file, req_body.as_ref().unwrap());
                requests += 1;
                let a: Arbitration = serde_json::from_value(body.clone()).unwrap();
                assert_eq!(a.status, ArbitrationStatus::Pending, "{file}");
                read::<Arbitration>(&file, &body)
            }
            ("POST", ["api", "v1", "intents", _, "decisions"]) => {
                request_roundtrip::<RecordDecisionRequest>(&file, req_body.as_ref().unwrap());
                requests += 1;
                let d: Decision = serde_json::from_value(body.clone()).unwrap();
                assert_eq!(d.id, body["decision_id"].as_str().unwrap(), "{file}: decision_id is the id");
                Value::Null
            }
            ("GET", ["api", "v1", "intents", _, "decisions"]) => {
                // The reference lists coordinator records here (not recorded decisions).
                assert!(body.is_array(), "{file}");
                Value::Null
            }
            ("POST", ["api", "v1", "intents", _, "attachments"]) => {
                request_roundtrip::<CreateAttachmentRequest>(&file, req_body.as_ref().unwrap());
                requests += 1;
                read::<Attachment>(&file, &body)
            }
            ("GET", ["api", "v1", "intents", _, "attachments"]) => {
                read_list::<Attachment>(&file, &body);
                Value::Null
            }
            ("POST", ["api", "v1", "intents", _, "costs"]) => {
                request_roundtrip::<RecordCostRequest>(&file, req_body.as_ref().unwrap());
                requests += 1;
                read::<CostRecord>(&file, &body)
            }
            ("GET", ["api", "v1", "intents", _, "costs"]) => {
                let list: ListBody<CostRecord> = serde_json::from_value(body.clone()).unwrap();
                let summary = CostSummary::from_records(&list.items);
                let expect: f64 = body.as_array().unwrap().iter().map(|c| c["amount"].as_f64().unwrap()).sum();
                assert!((summary.total - expect).abs() < 1e-9, "{file}");
                Value::Null
            }
            ("PUT", ["api", "v1", "intents", _, "retry-policy"]) => {
                request_roundtrip::<SetRetryPolicyRequest>(&file, req_body.as_ref().unwrap());
                requests += 1;
                read::<RetryPolicy>(&file, &body)
            }
            ("GET", ["api", "v1", "intents", _, "retry-policy"]) => read::<RetryPolicy>(&file, &body),
            ("POST", ["api", "v1", "intents", _, "failures"]) => {
                request_roundtrip::<RecordFailureRequest>(&file, req_body.as_ref().unwrap());
                requests += 1;
                read::<FailureRecord>(&file, &body)
            }
            ("GET", ["api", "v1", "intents", _, "failures"]) => {
                read_list::<FailureRecord>(&file, &body);
                Value::Null
            }
            ("GET", ["api", "v1", "intents", _, "portfolios"]) | ("GET", ["api", "v1", "portfolios"]) => {
                read_list::<Portfolio>(&file, &body);
                Value::Null
            }
            ("POST", ["api", "v1", "portfolios"]) => {
                request_roundtrip::<CreatePortfolioRequest>(&file, req_body.as_ref().unwrap());
                requests += 1;
                read::<Portfolio>(&file, &body)
            }
            ("GET", ["api", "v1", "portfolios", _]) => read::<Portfolio>(&file, &body),
            ("PATCH", ["api", "v1", "portfolios", _, "status"]) => {
                request_roundtrip::<UpdatePortfolioStatusRequest>(&file, req_body.as_ref().unwrap());
                requests += 1;
                read::<Portfolio>(&file, &body)
            }
            ("POST", ["api", "v1", "portfolios", _, "intents"]) => {
                request_roundtrip::<AddIntentToPortfolioRequest>(&file, req_body.as_ref().unwrap());
                requests += 1;
                let m: PortfolioMembership = serde_json::from_value(body.clone()).unwrap();
                assert_eq!(m.id, body["membership_id"].as_str().unwrap(), "{file}");
                Value::Null
            }
            ("GET", ["api", "v1", "portfolios", _, "intents"]) => {
                read_list::<Intent>(&file, &body);
                Value::Null
            }
            _ => panic!("{file}: no model for {method} {req_path} ({status}); classify it in this test"),
        };
        if written.is_object() {
            assert_fields_kept(&file, &body, &written);
        }
        responses += 1;
    }
    assert!(responses >= 60, "only {responses} responses checked");
    assert!(requests >= 20, "only {requests} request bodies checked");
}

/// Splits a captured SSE stream into (event, data) frames and reads each with `StreamEvent`.
fn check_sse(file: &str, text: &str) {
    let mut frames = 0;
    for block in text.split("\n\n") {
        let mut name = "message".to_owned();
        let mut data = Vec::new();
        for line in block.lines() {
            if let Some(v) = line.strip_prefix("event:") {
                name = v.trim().to_owned();
            } else if let Some(v) = line.strip_prefix("data:") {
                data.push(v.trim_start().to_owned());
            }
        }
        if data.is_empty() {
            continue;
        }
        frames += 1;
        let ev = StreamEvent::parse(&name, &data.join("\n"));
        assert_eq!(ev.event_type(), name, "{file}");
        match (&ev, name.as_str()) {
            (StreamEvent::IntentChanged { intent, .. }, "state_patched" | "status_changed") => {
                assert!(intent.version >= 1, "{file}");
            }
            (StreamEvent::AgentAssigned(a), "agent_assigned") => assert!(!a.agent_id.is_empty(), "{file}"),
            (StreamEvent::PortfolioChanged { .. }, "intent_added" | "intent_removed") => {}
            (StreamEvent::Event(e), _) => assert_eq!(e.event_type.as_str(), name, "{file}"),
            (other, _) => panic!("{file}: frame {name} read as {other:?}"),
        }
    }
    assert!(frames > 0, "{file}: no frames");
}

#[test]
fn sse_intent_data_uses_parent_intent_id() {
    // Intent data inside SSE carries `parent_intent_id`; it reads as `parent_id`.
    let ev = StreamEvent::parse(
        "state_patched",
        r#"{"id": "i", "title": "t", "parent_intent_id": "p", "version": 2, "status": "draft", "created_at": "2026-11-24T13:50:35.519942", "updated_at": "2026-11-24T13:50:35"}"#,
    );
    match ev {
        StreamEvent::IntentChanged { intent, event_type } => {
            assert_eq!(intent.parent_id.as_deref(), Some("p"));
            assert_eq!(event_type, EventType::StatePatched);
        }
        other => panic!("{other:?}"),
    }
}
