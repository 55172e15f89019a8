//! Every captured exchange of the agent-platform areas (`tests/vectors/` files prefixed
//! `agents_`, `graph_`, `hitl_`, `governance_`, `acl_`, `messaging_`, `tracing_`, `sse_`; copies of
//! the reference captures) is read with the models of this crate:
//!
//! - success bodies decode into the model of their route, and every non-null captured key comes
//!   back with the same value when the model is written in its superset form (so a key read under
//!   the wrong name shows up);
//! - request bodies parse, validate and serialize back to the captured JSON, except where the
//!   reference accepts what the protocol refuses (then the refusal names the field);
//! - error bodies read as [`ErrorBody`], and their request bodies are refused naming the field the
//!   reference names (422), or accepted when the refusal depends on server state;
//! - server-sent-event captures parse frame by frame.
//!
//! A vector whose route is not classified fails the test.

use std::path::PathBuf;

use openintent_types::graph::{cycle_if_added, dependency_edges, split_ready};
use openintent_types::wire::{ListBody, to_superset_value};
use openintent_types::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

const PREFIXES: &[&str] = &["agents_", "graph_", "hitl_", "governance_", "acl_", "messaging_", "tracing_", "sse_"];

/// Request bodies the protocol refuses, with the field the refusal must name (`""`: any).
const REFUSED: &[(&str, &str)] = &[
    ("agents_error_register_missing_agent_id.json", "agent_id"),
    ("agents_status_any_string.json", "status"),
    ("acl_error_grant_missing_principal.json", "principal_id"),
    ("acl_error_request_access_missing_principal.json", "principal_id"),
    ("acl_error_approve_missing_decided_by.json", "decided_by"),
    ("acl_error_set_missing_body.json", ""),
    ("acl_error_set_entry_missing_principal.json", "principal_id"),
    ("acl_error_set_entry_bad_expires_at.json", "expires_at"),
    ("hitl_error_respond_empty_body.json", ""),
    // A `choice` suspension (the default type) needs choices (RFC-0025 §4.2).
    ("hitl_suspend_unsupported.json", "choices"),
    ("hitl_error_respond_missing_suspension_id.json", "suspension_id"),
    ("governance_error_set_body_not_object.json", ""),
    ("governance_error_set_invalid_mode.json", "completion_mode"),
    ("governance_error_set_invalid_threshold.json", "quorum_threshold"),
    ("governance_error_escalate_missing_reason.json", "reason"),
];

struct Vector {
    file: String,
    method: String,
    path: String,
    status: u64,
    request: Option<Value>,
    body: Option<Value>,
    text: Option<String>,
}

fn vectors() -> Vec<Vector> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        if !file.ends_with(".json") || !PREFIXES.iter().any(|p| file.starts_with(p)) {
            continue;
        }
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        out.push(Vector {
            method: doc["request"]["method"].as_str().unwrap().to_owned(),
            path: doc["request"]["path"].as_str().unwrap().to_owned(),
            status: doc["response"]["status"].as_u64().unwrap(),
            request: doc["request"].get("body").cloned(),
            body: doc["response"].get("body").cloned(),
            text: doc["response"].get("body_text").and_then(Value::as_str).map(str::to_owned),
            file,
        });
    }
    out.sort_by(|a, b| a.file.cmp(&b.file));
    out
}

fn vector(name: &str) -> Vector {
    vectors().into_iter().find(|v| v.file == name).unwrap_or_else(|| panic!("no vector {name}"))
}

/// Where `ours` differs from `captured`: numbers by value, timestamps by instant, a captured
/// `null` matches an absent key, and keys only `ours` has are ignored.
fn diff(captured: &Value, ours: &Value, at: &str) -> Option<String> {
    let same = match (captured, ours) {
        (Value::Object(c), Value::Object(o)) => {
            for (k, v) in c {
                match o.get(k) {
                    None if v.is_null() => {}
                    None => return Some(format!("{at}.{k}: missing (captured {v})")),
                    Some(w) => {
                        if let Some(d) = diff(v, w, &format!("{at}.{k}")) {
                            return Some(d);
                        }
                    }
                }
            }
            true
        }
        (Value::Array(c), Value::Array(o)) if c.len() == o.len() => {
            return c.iter().zip(o).enumerate().find_map(|(i, (a, b))| diff(a, b, &format!("{at}[{i}]")));
        }
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::String(a), Value::String(b)) => {
            a == b || matches!((time::parse_timestamp(a), time::parse_timestamp(b)), (Ok(x), Ok(y)) if x == y)
        }
        (a, b) => a == b,
    };
    (!same).then(|| format!("{at}: captured {captured}, ours {ours}"))
}

fn decode<T: DeserializeOwned>(file: &str, v: &Value) -> T {
    serde_json::from_value(v.clone())
        .unwrap_or_else(|e| panic!("{file}: does not read as {}: {e}\n{v}", std::any::type_name::<T>()))
}

/// Decodes a model and checks that it keeps every captured value.
fn model<T: DeserializeOwned + Serialize + WireModel>(file: &str, body: &Value) -> T {
    let m: T = decode(file, body);
    if let Some(d) = diff(body, &to_superset_value(&m), "") {
        panic!("{file}: {} loses data: {d}", std::any::type_name::<T>());
    }
    m
}

/// Decodes a list (bare array or envelope) and checks each item.
fn list<T: DeserializeOwned + Serialize + WireModel>(file: &str, body: &Value) -> Vec<T> {
    let l: ListBody<T> = decode(file, body);
    let raw = match body {
        Value::Array(a) => a.clone(),
        Value::Object(o) => o.values().find_map(|v| v.as_array().cloned()).unwrap(),
        _ => unreachable!(),
    };
    assert_eq!(raw.len(), l.items.len(), "{file}");
    for (item, captured) in l.items.iter().zip(&raw) {
        if let Some(d) = diff(captured, &to_superset_value(item), "") {
            panic!("{file}: list item loses data: {d}");
        }
    }
    l.items
}

/// A request body parses, validates and is written back as captured (nothing added but the
/// synonyms the model declares and defaults of captured-null keys).
fn request<T: DeserializeOwned + Serialize + Validate + WireModel>(file: &str, body: &Value) -> T {
    let req: T = decode(file, body);
    req.validate().unwrap_or_else(|e| panic!("{file}: captured request fails validation: {e}"));
    let back = to_superset_value(&req);
    if let Some(d) = diff(body, &back, "") {
        panic!("{file}: request not written back: {d}");
    }
    let (Value::Object(c), Value::Object(o)) = (body, &back) else { panic!("{file}: not objects") };
    for k in o.keys().filter(|k| !c.contains_key(*k)) {
        assert!(T::ALSO_EMIT.iter().any(|(_, e)| e == k), "{file}: writes an extra key {k} ({back})");
    }
    req
}

/// Parses and validates a request body; the error text (with the field) when refused.
fn outcome<T: DeserializeOwned + Validate>(body: &Value) -> Result<(), String> {
    let req: T = serde_json::from_value(body.clone()).map_err(|e| e.to_string())?;
    req.validate().map_err(|e| format!("{}: {}", e.field, e.message))
}

fn segments(path: &str) -> Vec<&str> {
    path.trim_matches('/').split('/').skip(2).collect()
}

/// The request type of a route, applied to a body: `None` when the route takes no body.
fn request_outcome(method: &str, seg: &[&str], body: &Value) -> Option<Result<(), String>> {
    Some(match (method, seg) {
        ("POST", ["agents", "register"] | ["agents"]) => outcome::<RegisterAgentRequest>(body),
        ("POST", ["agents", _, "heartbeat"]) => outcome::<AgentHeartbeatRequest>(body),
        ("PATCH", ["agents", _, "status"]) => outcome::<UpdateAgentStatusRequest>(body),
        ("POST", ["intents", _, "children"]) => outcome::<CreateChildIntentRequest>(body),
        ("POST", ["intents", _, "dependencies"]) => outcome::<AddDependencyRequest>(body),
        ("POST", ["intents"]) => outcome::<CreateIntentRequest>(body),
        ("POST", ["intents", _, "status"]) => outcome::<SetStatusRequest>(body),
        ("POST", ["intents", _, "state"]) => outcome::<UpdateStateRequest>(body),
        ("POST", ["intents", _, "events"]) => outcome::<LogEventRequest>(body),
        ("POST", ["intents", _, "suspend", "respond"]) => outcome::<RespondToSuspensionRequest>(body),
        ("POST", ["intents", _, "suspend"]) => outcome::<SuspendRequest>(body),
        ("PUT", ["intents", _, "governance"]) => outcome::<GovernancePolicy>(body),
        ("POST", ["intents", _, "approvals"]) => outcome::<CreateApprovalRequest>(body),
        ("POST", ["intents", _, "escalations"]) => outcome::<CreateEscalationRequest>(body),
        ("POST", ["escalations", _, "resolve"]) => outcome::<ResolveEscalationRequest>(body),
        ("POST", ["coordinators"]) => outcome::<CreateCoordinatorLeaseRequest>(body),
        ("PUT", ["intents", _, "acl"]) => outcome::<SetAclRequest>(body),
        ("POST", ["intents", _, "acl", "entries"]) => outcome::<GrantAccessRequest>(body),
        ("POST", ["intents", _, "access-requests"]) => outcome::<CreateAccessRequest>(body),
        ("POST", ["intents", _, "access-requests", _, "approve" | "deny"]) => outcome::<DecideAccessRequest>(body),
        ("POST", ["intents", _, "channels"]) => outcome::<CreateChannelRequest>(body),
        ("POST", ["channels", _, "messages"]) => outcome::<SendMessageRequest>(body),
        ("POST", ["channels", _, "messages", _, "reply"]) => outcome::<ReplyRequest>(body),
        ("PATCH", ["channels", _, "messages", _]) => outcome::<UpdateMessageRequest>(body),
        _ => return None,
    })
}

#[test]
fn every_agent_area_vector_reads() {
    let all = vectors();
    assert!(all.len() >= 150, "expected the agent-area vectors in tests/vectors, found {}", all.len());
    let (mut requests, mut responses) = (0, 0);
    for v in &all {
        let seg = segments(&v.path);
        let file = v.file.as_str();
        if let Some((_, field)) = REFUSED.iter().find(|(f, _)| *f == file) {
            let body = v.request.clone().unwrap_or(Value::Null);
            let err = request_outcome(&v.method, &seg, &body)
                .unwrap_or_else(|| panic!("{file}: no request type"))
                .expect_err(&format!("{file}: the protocol refuses this body"));
            assert!(err.contains(field), "{file}: refusal does not name {field}: {err}");
            requests += 1;
        } else if let Some(body) = &v.request
            && v.status >= 400
            && let Some(result) = request_outcome(&v.method, &seg, body)
        {
            // The refusal depends on server state (404, 409, governance): the body itself is valid.
            result.unwrap_or_else(|e| panic!("{file}: valid body refused: {e}"));
            requests += 1;
        }
        if v.status >= 400 {
            if let Some(body) = &v.body {
                let err: ErrorBody = decode(file, body);
                assert!(!err.message().is_empty(), "{file}: error without a message");
            } else {
                assert_eq!(v.text.as_deref(), Some("Internal Server Error"), "{file}");
            }
            responses += 1;
            continue;
        }
        if let Some(text) = &v.text {
            check_sse(file, &seg, text);
            responses += 1;
            continue;
        }
        if v.status == 204 || REFUSED.iter().any(|(f, _)| *f == file) {
            responses += 1;
            continue;
        }
        let body = v.body.as_ref().unwrap_or_else(|| panic!("{file}: success without a body"));
        let req = v.request.as_ref();
        if req.is_some() {
            requests += 1;
        }
        check_success(file, &v.method, &seg, req, body);
        responses += 1;
    }
    assert!(responses >= 150, "only {responses} responses checked");
    assert!(requests >= 60, "only {requests} request bodies checked");
}

fn check_success(file: &str, method: &str, seg: &[&str], req: Option<&Value>, body: &Value) {
    let req = || req.unwrap_or_else(|| panic!("{file}: no request body"));
    match (method, seg) {
        ("POST", ["agents", "register"] | ["agents"]) => {
            let r: RegisterAgentRequest = request(file, req());
            let a: AgentRecord = model(file, body);
            assert_eq!((a.agent_id, a.metadata), (r.agent_id, r.metadata.unwrap_or_default()), "{file}");
        }
        ("GET", ["agents", _, "record"] | ["agents", _]) => drop(model::<AgentRecord>(file, body)),
        ("GET", ["agents"]) => assert!(!list::<AgentRecord>(file, body).is_empty(), "{file}"),
        ("POST", ["agents", _, "heartbeat"]) => {
            request::<AgentHeartbeatRequest>(file, req());
            let h: HeartbeatResponse = model(file, body);
            assert!(h.is_acknowledged() && h.next_heartbeat_at.is_some(), "{file}");
        }
        ("PATCH", ["agents", _, "status"]) => {
            let r: UpdateAgentStatusRequest = request(file, req());
            assert_eq!(model::<AgentRecord>(file, body).status, r.status, "{file}");
        }
        ("POST", ["intents", parent, "children"]) => {
            request::<CreateChildIntentRequest>(file, req());
            assert_eq!(model::<Intent>(file, body).parent_id.as_deref(), Some(*parent), "{file}");
        }
        ("POST", ["intents", _, "dependencies"]) => {
            let r: AddDependencyRequest = request(file, req());
            assert!(model::<Intent>(file, body).depends_on.contains(&r.dependency_id), "{file}");
        }
        ("DELETE", ["intents", _, "dependencies", dep]) => {
            assert!(!model::<Intent>(file, body).depends_on.iter().any(|d| d == dep), "{file}");
        }
        ("GET", ["intents", _, "graph"]) => check_graph(file, body),
        ("GET", ["intents", _, key]) if GraphRelation::from_key(key).is_some() => {
            assert!(body.get(*key).is_some_and(Value::is_array), "{file}: envelope key {key}");
            list::<Intent>(file, body);
        }
        ("POST", ["intents"]) => {
            request::<CreateIntentRequest>(file, req());
            model::<Intent>(file, body);
            if let Some(p) = req().get("governance_policy") {
                // Stored unchecked by the reference; the protocol refuses the mode.
                let err = GovernancePolicy::from_map(p.as_object().unwrap()).unwrap().validate().unwrap_err();
                assert_eq!(err.field, "completion_mode", "{file}");
            }
        }
        ("GET", ["intents", _]) => {
            let i: Intent = model(file, body);
            if let Some(record) = SuspensionRecord::from_state(&i.state) {
                assert!(!record.unwrap_or_else(|e| panic!("{file}: {e}")).question.is_empty(), "{file}");
            }
        }
        ("POST", ["intents", _, "status"]) => {
            let r: SetStatusRequest = request(file, req());
            assert_eq!(model::<Intent>(file, body).status, r.status, "{file}");
        }
        ("POST", ["intents", _, "state"]) => {
            let r: UpdateStateRequest = request(file, req());
            for p in r.effective_patches().iter().filter(|p| p.path.trim_start_matches('/') == SUSPENSION_STATE_KEY) {
                let record: SuspensionRecord = decode(file, &p.value);
                assert_eq!(record.effective_choices().len(), 2, "{file}");
            }
            model::<Intent>(file, body);
        }
        ("POST", ["intents", _, "events"]) => {
            let r: LogEventRequest = request(file, req());
            let e: IntentEvent = model(file, body);
            assert_eq!(e.event_type, r.event_type, "{file}");
        }
        ("GET", ["intents", _, "events"]) => {
            list::<IntentEvent>(file, body).iter().for_each(|e| check_payload(file, e))
        }
        ("POST", ["intents", id, "suspend", "respond"]) => {
            let r: RespondToSuspensionRequest = request(file, req());
            let answer: InputResponse = model(file, body);
            assert_eq!((answer.intent_id.as_str(), answer.value), (*id, r.value), "{file}");
        }
        ("GET", ["server", "config"]) => drop(model::<ServerConfig>(file, body)),
        ("PUT", ["intents", _, "governance"]) => {
            let p: GovernancePolicy = request(file, req());
            let i: Intent = model(file, body);
            assert_eq!(GovernancePolicy::from_map(i.governance_policy.as_ref().unwrap()).unwrap(), p, "{file}");
        }
        ("GET", ["intents", _, "governance"]) => {
            let g: IntentGovernance = model(file, body);
            assert_eq!(g.governance_policy.effective(), g.effective_policy, "{file}");
        }
        ("DELETE", ["intents", _, "governance"]) => {
            assert!(model::<Intent>(file, body).governance_policy.is_none(), "{file}")
        }
        ("POST", ["intents", _, "approvals"]) => {
            request::<CreateApprovalRequest>(file, req());
            assert_eq!(model::<Approval>(file, body).status, ApprovalStatus::Pending, "{file}");
        }
        ("GET", ["intents", _, "approvals", _]) => drop(model::<Approval>(file, body)),
        ("POST", ["intents", _, "approvals", _, decision]) => {
            let a: Approval = model(file, body);
            let expect = if *decision == "approve" { ApprovalStatus::Approved } else { ApprovalStatus::Denied };
            assert!(a.status == expect && a.is_decided() && a.decided_at.is_some(), "{file}");
        }
        ("POST", ["intents", _, "escalations"]) => {
            request::<CreateEscalationRequest>(file, req());
            model::<Escalation>(file, body);
        }
        ("GET", ["escalations"]) => drop(list::<Escalation>(file, body)),
        ("POST", ["escalations", _, "resolve"]) => {
            let r: ResolveEscalationRequest = request(file, req());
            let e: Escalation = model(file, body);
            assert_eq!((e.status, e.resolution), (EscalationStatus::Resolved, Some(r.resolution)), "{file}");
        }
        ("POST", ["coordinators"]) => {
            request::<CreateCoordinatorLeaseRequest>(file, req());
            model::<CoordinatorLease>(file, body);
        }
        ("GET", ["intents", _, "coordinators"]) => drop(list::<CoordinatorLease>(file, body)),
        ("POST", ["coordinators", _, "heartbeat"]) => {
            assert!(model::<HeartbeatResponse>(file, body).is_acknowledged(), "{file}")
        }
        ("GET", ["intents", _, "acl"]) => drop(model::<Acl>(file, body)),
        ("PUT", ["intents", _, "acl"]) => {
            let r: SetAclRequest = request(file, req());
            let acl: Acl = model(file, body);
            assert_eq!(acl.entries.len(), r.entries.len(), "{file}");
        }
        ("POST", ["intents", _, "acl", "entries"]) => {
            let r: GrantAccessRequest = request(file, req());
            let e: AclEntry = model(file, body);
            assert_eq!(e.principal_id, r.principal_id, "{file}");
        }
        ("POST", ["intents", _, "access-requests"]) => {
            request::<CreateAccessRequest>(file, req());
            model::<AccessRequest>(file, body);
        }
        ("GET", ["intents", _, "access-requests"]) => drop(list::<AccessRequest>(file, body)),
        ("POST", ["intents", _, "access-requests", _, decision]) => {
            let r: DecideAccessRequest = request(file, req());
            let a: AccessRequest = model(file, body);
            let expect =
                if *decision == "approve" { AccessRequestStatus::Approved } else { AccessRequestStatus::Denied };
            assert_eq!((a.status, a.decided_by), (expect, Some(r.decided_by)), "{file}");
        }
        ("POST", ["intents", _, "channels"]) => {
            request::<CreateChannelRequest>(file, req());
            assert!(model::<Channel>(file, body).is_audited(), "{file}");
        }
        ("GET", ["intents", _, "channels"]) => drop(list::<Channel>(file, body)),
        ("GET", ["channels", _]) => drop(model::<Channel>(file, body)),
        ("DELETE", ["channels", cid]) => {
            assert_eq!(model::<ChannelClosed>(file, body).channel_id, *cid, "{file}")
        }
        ("POST", ["channels", _, "messages"]) => {
            request::<SendMessageRequest>(file, req());
            model::<Message>(file, body);
        }
        ("GET", ["channels", _, "messages"]) => drop(list::<Message>(file, body)),
        ("GET" | "PATCH", ["channels", _, "messages", _]) => {
            if method == "PATCH" {
                request::<UpdateMessageRequest>(file, req());
            }
            assert!(model::<Message>(file, body).is_read(), "{file}");
        }
        ("POST", ["channels", _, "messages", mid, "reply"]) => {
            request::<ReplyRequest>(file, req());
            assert_eq!(model::<Message>(file, body).reply_to(), Some(*mid), "{file}");
        }
        _ => panic!("{file}: no model for {method} {seg:?}; classify it in this test"),
    }
}

/// Typed payloads of the events these areas write.
fn check_payload(file: &str, e: &IntentEvent) {
    let payload = Value::Object(e.payload.clone());
    match e.event_type {
        EventType::IntentResumed => drop(model::<InputResponse>(file, &payload)),
        EventType::GovernancePolicySet => drop(model::<GovernancePolicy>(file, &payload["governance_policy"])),
        EventType::IntentSuspended => assert!(e.payload.contains_key("suspension_id"), "{file}"),
        _ => {}
    }
}

/// The captured graph, and the same graph rebuilt from its nodes by [`IntentGraph::from_intents`].
fn check_graph(file: &str, body: &Value) {
    let g: IntentGraph = model(file, body);
    assert_eq!(g.aggregate(), g.aggregate_status, "{file}");
    let intents: Vec<Intent> = g
        .nodes
        .iter()
        .map(|n| {
            let mut i = Intent::new(n.id.clone(), n.title.clone());
            i.status = n.status.clone();
            i.parent_id = n.parent_id.clone();
            i.depends_on = n.depends_on.clone();
            i
        })
        .collect();
    let rebuilt = IntentGraph::from_intents(&g.root_id, &intents).unwrap();
    assert_eq!(rebuilt.nodes, g.nodes, "{file}: node walk");
    assert_eq!(rebuilt.edges, g.edges, "{file}: edges");
    assert_eq!(rebuilt.aggregate_status, g.aggregate_status, "{file}");
}

fn check_sse(file: &str, seg: &[&str], text: &str) {
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
        let data = data.join("\n");
        let ev = StreamEvent::parse(&name, &data);
        assert_eq!(ev.event_type(), name, "{file}");
        let raw: Value = serde_json::from_str(&data).unwrap();
        match (&ev, name.as_str()) {
            (StreamEvent::IntentChanged { intent, .. }, "state_patched" | "status_changed") => {
                assert!(intent.version >= 1, "{file}")
            }
            (StreamEvent::ChannelMessage(m), "channel_message") => assert_eq!(m.channel_id, seg[2], "{file}"),
            (StreamEvent::Event(e), _) => assert_eq!(e.event_type.as_str(), name, "{file}"),
            (StreamEvent::AgentAssigned(_), "agent_assigned") | (StreamEvent::PortfolioChanged { .. }, _) => {}
            (StreamEvent::Other { .. }, "intent.resumed") => drop(model::<InputResponse>(file, &raw)),
            (StreamEvent::Other { .. }, "governance.policy_set") => {
                drop(model::<GovernancePolicy>(file, &raw["governance_policy"]))
            }
            (StreamEvent::Other { .. }, n) if n.starts_with("governance.") || n.starts_with("access_") => {
                assert!(raw.is_object(), "{file}")
            }
            (other, _) => panic!("{file}: frame {name} read as {other:?}"),
        }
    }
    // An unknown channel: 200 headers, then a dropped connection (the reference's BUG).
    assert_eq!(frames == 0, text.is_empty(), "{file}: {frames} frames");
}

/// The 422s of the respond route, reproduced from the stored records by
/// [`SuspensionRecord::check_response`].
#[test]
fn respond_refusals_match_the_reference() {
    let state = vector("hitl_request_input_state.json");
    let patch = &state.request.as_ref().unwrap()["patches"][0]["value"];
    let record: SuspensionRecord = decode("hitl_request_input_state.json", patch);

    let v = vector("hitl_error_respond_invalid_choice.json");
    let value = &v.request.as_ref().unwrap()["value"];
    let Err(ResponseError::InvalidChoice(err)) = record.check_response(value) else { panic!("accepted {value}") };
    assert_eq!(serde_json::to_value(&err).unwrap(), v.body.as_ref().unwrap()["detail"]);

    let ok = vector("hitl_respond.json");
    let answer = &ok.request.as_ref().unwrap()["value"];
    let matched = record.check_response(answer).unwrap().unwrap();
    assert_eq!(Some(matched.label.as_str()), ok.body.as_ref().unwrap()["choice_label"].as_str());

    let mut confirm = SuspensionRecord::new("fd5e6fc8-756b-4865-a8e6-61340632b220", "Ship?");
    confirm.response_type = ResponseType::Confirm;
    let v = vector("hitl_error_respond_confirm_invalid.json");
    let Err(ResponseError::InvalidChoice(err)) = confirm.check_response(&v.request.as_ref().unwrap()["value"]) else {
        panic!("confirm accepted a non yes/no value")
    };
    assert_eq!(serde_json::to_value(&err).unwrap(), v.body.as_ref().unwrap()["detail"]);
    assert_eq!(confirm.check_response(&"yes".into()), Ok(None));

    let v = vector("hitl_error_respond_unknown_response_type.json");
    let odd: SuspensionRecord =
        serde_json::from_value(serde_json::json!({"id": "s4", "response_type": "number"})).unwrap();
    let err = odd.check_response(&v.request.as_ref().unwrap()["value"]).unwrap_err();
    assert_eq!(Value::String(err.to_string()), v.body.as_ref().unwrap()["detail"]);
}

/// Ready and blocked children, and the cycle refusals, computed by the pure graph rules.
#[test]
fn graph_rules_match_the_reference() {
    let children: Vec<Intent> = decode("graph_children", &vector("graph_children.json").body.unwrap()["children"]);
    let (ready, blocked) = split_ready(&children, &children);
    let ids = |v: &[&Intent]| v.iter().map(|i| i.id.clone()).collect::<Vec<_>>();
    let listed = |name: &str, key: &str| {
        let list: Vec<Intent> = decode(name, &vector(name).body.unwrap()[key]);
        list.into_iter().map(|i| i.id).collect::<Vec<_>>()
    };
    assert_eq!(ids(&ready), listed("graph_ready.json", "ready"));
    assert_eq!(ids(&blocked), listed("graph_blocked.json", "blocked"));

    // Comms depends on Diagnose (graph_add_dependency); Diagnose → Comms would close a cycle,
    // which the protocol reports as the real path (the reference names the path intent twice).
    let edges = dependency_edges(&children);
    let diagnose = "0b7df152-21af-4374-b1d5-493afb8503a2";
    let comms = "bfef14fe-7831-4d9b-a5c4-0c144726eab8";
    let mut with_comms = edges.clone();
    with_comms.push((comms.to_owned(), diagnose.to_owned()));
    let v = vector("graph_error_add_dependency_cycle.json");
    assert!(v.path.contains(diagnose) && v.request.unwrap()["dependency_id"] == comms);
    assert_eq!(cycle_if_added(&with_comms, diagnose, comms).unwrap(), [diagnose, comms, diagnose]);
    assert_eq!(cycle_if_added(&edges, diagnose, diagnose).unwrap(), [diagnose, diagnose]);
    assert!(cycle_if_added(&edges, comms, diagnose).is_none());
}
