//! Validation rules and pure functions of the agent registry, intent graphs and
//! human-in-the-loop modules: one case per rule, each naming the field it must name.

use chrono::{Duration, Utc};
use openintent_types::graph::{cycle_if_added, find_cycle, is_ready, unmet_dependencies};
use openintent_types::*;
use serde_json::{Value, json};

/// The field a refused request names.
fn refused<T: Validate>(req: &T) -> String {
    req.validate().expect_err("expected a refusal").field
}

fn from<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).unwrap()
}

fn edges(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect()
}

#[test]
fn register_agent_rules() {
    assert!(RegisterAgentRequest::new("agent-1").validate().is_ok());
    let cases = [
        (json!({"agent_id": " "}), "agent_id"),
        (json!({"agent_id": "a/b"}), "agent_id"),
        (json!({"agent_id": "a", "name": ""}), "name"),
        (json!({"agent_id": "a", "role_id": "r?x"}), "role_id"),
        (json!({"agent_id": "a", "capabilities": ["nlp", " "]}), "capabilities.1"),
        (json!({"agent_id": "a", "capacity": -1}), "capacity.max_concurrent_tasks"),
        (
            json!({"agent_id": "a", "capacity": {"max_concurrent_tasks": 2, "current_load": -3}}),
            "capacity.current_load",
        ),
        (json!({"agent_id": "a", "endpoint": "ftp://x"}), "endpoint"),
        (json!({"agent_id": "a", "heartbeat_config": {"interval_seconds": 0}}), "heartbeat_config.interval_seconds"),
        (
            json!({"agent_id": "a", "heartbeat_config": {"interval_seconds": 30, "unhealthy_after_seconds": 59}}),
            "heartbeat_config.unhealthy_after_seconds",
        ),
        (
            json!({"agent_id": "a", "heartbeat_config": {"unhealthy_after_seconds": 90, "dead_after_seconds": 179}}),
            "heartbeat_config.dead_after_seconds",
        ),
        (json!({"agent_id": "a", "drain_timeout_seconds": -1}), "drain_timeout_seconds"),
    ];
    for (body, field) in cases {
        assert_eq!(refused(&from::<RegisterAgentRequest>(body.clone())), field, "{body}");
    }
    // The guide's integer capacity reads as a maximum and is written as an object.
    let req: RegisterAgentRequest = from(json!({"agent_id": "a", "capacity": 5}));
    assert_eq!(serde_json::to_value(&req).unwrap()["capacity"], json!({"max_concurrent_tasks": 5}));
    let err = serde_json::from_value::<RegisterAgentRequest>(json!({"agent_id": "a", "capacity": "5"})).unwrap_err();
    assert!(err.to_string().starts_with("capacity"), "{err}");
    let err = serde_json::from_value::<RegisterAgentRequest>(json!({"name": "x"})).unwrap_err();
    assert_eq!(err.to_string(), "missing field `agent_id`");
}

#[test]
fn heartbeat_and_status_rules() {
    assert!(AgentHeartbeatRequest::new(2).validate().is_ok());
    for (body, field) in [
        (json!({"status": "dead"}), "status"),
        (json!({"status": "active", "current_load": -1}), "current_load"),
        (json!({"tasks_in_progress": ["t1", ""]}), "tasks_in_progress.1"),
    ] {
        assert_eq!(refused(&from::<AgentHeartbeatRequest>(body.clone())), field, "{body}");
    }
    assert!(from::<AgentHeartbeatRequest>(json!({"status": "draining"})).validate().is_ok());
    assert!(UpdateAgentStatusRequest::drain(Some(60)).validate().is_ok());
    assert_eq!(refused(&from::<UpdateAgentStatusRequest>(json!({"status": "bogus"}))), "status");
    assert_eq!(
        refused(&from::<UpdateAgentStatusRequest>(json!({"status": "draining", "drain_timeout_seconds": -5}))),
        "drain_timeout_seconds"
    );

    // The RFC's heartbeat answer, with a server-initiated drain.
    let rfc: HeartbeatResponse = from(json!({"acknowledged": true, "server_timestamp": "2026-02-08T10:30:00.123Z",
        "agent_status": "active", "pending_commands": [{"command": "drain", "reason": "maintenance", "drain_timeout_seconds": 120}]}));
    assert!(rfc.is_acknowledged());
    assert_eq!(rfc.pending_commands[0].drain_timeout_seconds, Some(120));
    assert!(!from::<HeartbeatResponse>(json!({"status": "error"})).is_acknowledged());
}

#[test]
fn agent_lifecycle_table() {
    use AgentStatus::*;
    let allowed = [
        (Registering, Active),
        (Registering, Deregistered),
        (Active, Draining),
        (Active, Unhealthy),
        (Active, Deregistered),
        (Unhealthy, Active),
        (Unhealthy, Draining),
        (Unhealthy, Dead),
        (Unhealthy, Deregistered),
        (Draining, Deregistered),
        (Draining, Dead),
        (Dead, Active),
        (Deregistered, Active),
    ];
    for from in AgentStatus::KNOWN {
        for to in AgentStatus::KNOWN {
            let expect = allowed.iter().any(|(a, b)| a == from && b == to);
            assert_eq!(from.can_transition_to(to), expect, "{from} -> {to}");
        }
    }
    assert!(AgentStatus::parse("offline").allowed_transitions().is_empty());
    assert!(Draining.is_live() && !Dead.is_live());
    let record: AgentRecord = from(json!({"agent_id": "a", "status": "offline", "agent_metadata": {"v": 1}}));
    assert_eq!((record.status.as_str(), record.metadata["v"].as_i64()), ("offline", Some(1)));
}

#[test]
fn heartbeat_silence_gives_health() {
    let mut agent = AgentRecord::new("a");
    agent.heartbeat_config =
        Some(from(json!({"interval_seconds": 10, "unhealthy_after_seconds": 20, "dead_after_seconds": 40})));
    let last = agent.registered_at + Duration::seconds(100);
    agent.last_heartbeat_at = Some(last);
    assert_eq!(agent.health_at(last + Duration::seconds(20)), AgentStatus::Active);
    assert_eq!(agent.health_at(last + Duration::seconds(21)), AgentStatus::Unhealthy);
    assert_eq!(agent.health_at(last + Duration::seconds(41)), AgentStatus::Dead);
    agent.status = AgentStatus::Unhealthy;
    assert_eq!(agent.health_at(last + Duration::seconds(1)), AgentStatus::Active);
    agent.status = AgentStatus::Draining;
    assert_eq!(agent.health_at(last + Duration::seconds(1000)), AgentStatus::Draining);
    let q = ListAgentsQuery::default().with_capabilities(&["billing", "nlp"]);
    assert_eq!(q.capabilities.as_deref(), Some("billing,nlp"));
    assert_eq!(AgentCapacity::new(5).available(), Some(5));
}

#[test]
fn child_and_dependency_rules() {
    assert!(CreateChildIntentRequest::new("Child").validate().is_ok());
    for (body, field) in [
        (json!({"title": " "}), "title"),
        (json!({"title": "t", "parent_intent_id": "a/b"}), "parent_intent_id"),
        (json!({"title": "t", "depends_on": ["a", "a"]}), "depends_on.1"),
        (json!({"title": "t", "depends_on": ["a#b"]}), "depends_on.0"),
    ] {
        assert_eq!(refused(&from::<CreateChildIntentRequest>(body.clone())), field, "{body}");
    }
    let req: CreateChildIntentRequest = from(json!({"title": "t", "dependsOn": ["d"], "initial_state": {"k": 1}}));
    let create = req.into_create_request("parent");
    assert_eq!(create.parent_intent_id.as_deref(), Some("parent"));
    assert_eq!((create.depends_on.unwrap(), create.state.unwrap()["k"].clone()), (vec!["d".to_owned()], json!(1)));
    assert_eq!(refused(&AddDependencyRequest::new("")), "dependency_id");
    assert!(AddDependencyRequest::new("d").validate().is_ok());
}

#[test]
fn readiness() {
    let deps = vec!["done".to_owned(), "open".to_owned(), "missing".to_owned()];
    let status = |id: &str| match id {
        "done" => Some(IntentStatus::Completed),
        "open" => Some(IntentStatus::Active),
        _ => None,
    };
    assert_eq!(unmet_dependencies(&deps, status), ["open", "missing"]);
    assert!(!is_ready(&deps, status));
    assert!(is_ready(&deps[..1], status));
    assert!(is_ready(&[], status));
}

#[test]
fn cycles() {
    assert_eq!(find_cycle(&[]), None);
    // A diamond has no cycle.
    assert_eq!(find_cycle(&edges(&[("d", "b"), ("d", "c"), ("b", "a"), ("c", "a")])), None);
    assert_eq!(find_cycle(&edges(&[("x", "x")])).unwrap(), ["x", "x"]);
    let cycle = find_cycle(&edges(&[("q", "r"), ("a", "b"), ("b", "c"), ("c", "a")])).unwrap();
    assert_eq!(cycle, ["a", "b", "c", "a"]);
    // The longest way back is still found.
    let e = edges(&[("a", "b"), ("b", "c"), ("c", "d")]);
    assert_eq!(cycle_if_added(&e, "d", "a").unwrap(), ["d", "a", "b", "c", "d"]);
    assert_eq!(cycle_if_added(&e, "a", "d"), None);
}

#[test]
fn graph_walk_and_relations() {
    let intent = |id: &str, parent: Option<&str>, deps: &[&str], status: IntentStatus| {
        let mut i = Intent::new(id, id.to_uppercase());
        i.parent_id = parent.map(str::to_owned);
        i.depends_on = deps.iter().map(|d| (*d).to_owned()).collect();
        i.status = status;
        i
    };
    let all = vec![
        intent("root", Some("outside"), &["lib"], IntentStatus::Active),
        intent("lib", None, &[], IntentStatus::Completed),
        intent("kid", Some("root"), &["lib", "ghost"], IntentStatus::Draft),
        intent("unrelated", None, &[], IntentStatus::Draft),
    ];
    assert!(IntentGraph::from_intents("nope", &all).is_none());
    let g = IntentGraph::from_intents("root", &all).unwrap();
    let ids: Vec<&str> = g.nodes.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(ids, ["root", "lib", "kid"]);
    let e: Vec<(&str, &str, &str)> =
        g.edges.iter().map(|e| (e.from.as_str(), e.to.as_str(), e.kind.as_str())).collect();
    assert_eq!(
        e,
        [
            ("lib", "root", "dependency"),
            ("root", "kid", "parent"),
            ("lib", "kid", "dependency"),
            ("ghost", "kid", "dependency")
        ]
    );
    assert_eq!(g.ready_intents.as_deref().unwrap(), ["root", "lib"]);
    assert_eq!(g.blocking_intents.as_deref().unwrap(), ["kid"]);
    assert_eq!((g.aggregate_status.total, g.aggregate_status.completion_percentage), (3, 33));

    assert_eq!(GraphRelation::from_key("blocked"), Some(GraphRelation::Blocked));
    assert_eq!(GraphRelation::Ancestors.path("i1"), "/api/v1/intents/i1/ancestors");
    let body = GraphRelation::Children.envelope(&all[2..3]);
    assert_eq!(
        (body["children"][0]["parent_id"].clone(), body["children"][0]["parent_intent_id"].clone()),
        (json!("root"), json!("root"))
    );
    let edge: GraphEdge = from(json!({"from": "a", "to": "b", "type": "sibling"}));
    assert_eq!(serde_json::to_value(&edge).unwrap()["type"], "sibling");
}

#[test]
fn suspend_request_rules() {
    let choice = |v: &str| json!({"value": v, "label": v.to_uppercase()});
    let ok: SuspendRequest =
        from(json!({"question": "Refund?", "choices": [choice("yes"), choice("no")], "fallback_value": "no"}));
    assert!(ok.validate().is_ok());
    assert!(
        from::<SuspendRequest>(json!({"question": "Deploy?", "response_type": "confirm", "fallback_value": "no"}))
            .validate()
            .is_ok()
    );
    let cases = [
        (json!({"question": ""}), "question"),
        (json!({"question": "q", "response_type": "number"}), "response_type"),
        (json!({"question": "q"}), "choices"),
        (json!({"question": "q", "choices": [choice("a"), choice("a")]}), "choices.1.value"),
        (json!({"question": "q", "choices": [{"value": "a", "label": ""}]}), "choices.0.label"),
        (json!({"question": "q", "response_type": "text", "timeout_seconds": 0}), "timeout_seconds"),
        (json!({"question": "q", "response_type": "text", "fallback_policy": "escalate"}), "fallback_policy"),
        (json!({"question": "q", "choices": [choice("a")], "fallback_value": "b"}), "fallback_value"),
        (json!({"question": "q", "response_type": "confirm", "fallback_value": "maybe"}), "fallback_value"),
        (json!({"question": "q", "response_type": "text", "confidence": 1.5}), "confidence"),
        (
            json!({"question": "q", "response_type": "text", "retry_policy": {"max_attempts": 0}}),
            "retry_policy.max_attempts",
        ),
        (
            json!({"question": "q", "response_type": "text", "retry_policy": {"strategy": "random"}}),
            "retry_policy.strategy",
        ),
        (
            json!({"question": "q", "response_type": "text", "retry_policy": {"max_attempts": 2, "escalation_ladder": [{"attempt": 3}]}}),
            "retry_policy.escalation_ladder.0.attempt",
        ),
        (json!({"question": "q", "response_type": "text", "id": "a/b"}), "suspension_id"),
    ];
    for (body, field) in cases {
        assert_eq!(refused(&from::<SuspendRequest>(body.clone())), field, "{body}");
    }
    let now = Utc::now();
    let record = from::<SuspendRequest>(json!({"question": "q", "response_type": "text", "timeout_seconds": 60}))
        .into_record("s1", now);
    assert_eq!((record.id.as_str(), record.expires_at), ("s1", Some(now + Duration::seconds(60))));
    assert!(!record.is_expired_at(now) && record.is_expired_at(now + Duration::seconds(60)));
    let ladder: HumanRetryPolicy = from(json!({"max_attempts": 3, "interval_seconds": 600,
        "escalation_ladder": [{"after_attempt": 2, "channel": "pagerduty", "notify": "boss"}]}));
    assert_eq!(ladder.escalation_ladder[0].notify_to, "boss");
    let mut r = SuspensionRecord::new("s", "q");
    r.retry_policy = Some(ladder);
    assert_eq!(r.deadline(), r.suspended_at.map(|t| t + Duration::seconds(1800)));
}

#[test]
fn respond_rules_and_answers() {
    assert!(RespondToSuspensionRequest::new("s1", "approve").validate().is_ok());
    assert_eq!(refused(&RespondToSuspensionRequest::new(" ", "x")), "suspension_id");
    assert_eq!(refused(&RespondToSuspensionRequest::new("s1", Value::Null)), "value");
    assert_eq!(
        refused(&from::<RespondToSuspensionRequest>(json!({"suspension_id": "s", "value": 1, "responded_by": ""}))),
        "responded_by"
    );
    let err = serde_json::from_value::<RespondToSuspensionRequest>(json!({"value": "x"})).unwrap_err();
    assert_eq!(err.to_string(), "missing field `suspension_id`");

    let mut text = SuspensionRecord::new("t", "Why?");
    text.response_type = ResponseType::Text;
    assert_eq!(text.check_response(&json!("because")), Ok(None));
    assert_eq!(text.check_response(&json!("  ")), Err(ResponseError::EmptyText));
    assert_eq!(text.check_response(&json!(3)), Err(ResponseError::EmptyText));
    let mut form = SuspensionRecord::new("f", "Fill");
    form.response_type = ResponseType::Form;
    assert_eq!(form.check_response(&json!({"a": 1})), Ok(None));
    let mut pick = SuspensionRecord::new("c", "Pick");
    pick.choices = vec![SuspensionChoice::new("it's", "It is")];
    let Err(ResponseError::InvalidChoice(e)) = pick.check_response(&json!({"k": [1, true, null]})) else { panic!() };
    assert_eq!(e.message, "Value {'k': [1, True, None]} is not a valid choice. Expected one of: [\"it's\"]");
    assert_eq!(pick.check_response(&json!("it's")).unwrap().unwrap().label, "It is");
    // A choice suspension without choices accepts anything, as the reference does.
    assert_eq!(SuspensionRecord::new("n", "?").check_response(&json!(42)), Ok(None));

    let req = RespondToSuspensionRequest::new("c", "it's");
    let now = openintent_types::time::now();
    let answer = InputResponse::accept("i1", &req, "alice", pick.choices.first(), now);
    assert_eq!((answer.choice_label.as_deref(), answer.choice_description.as_deref()), (Some("It is"), Some("")));
    pick.record_response(&answer);
    assert_eq!(
        (pick.resolution.clone(), pick.response.clone()),
        (Some(SuspensionResolution::Responded), Some(json!("it's")))
    );
    assert!(!pick.is_expired_at(now + Duration::days(365)));
    let mut state = serde_json::Map::new();
    state.insert(SUSPENSION_STATE_KEY.to_owned(), serde_json::to_value(&pick).unwrap());
    assert_eq!(SuspensionRecord::from_state(&state).unwrap().unwrap(), pick);
}
