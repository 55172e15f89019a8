//! Validation rules and helpers of the governance, escalation, coordinator, access-control,
//! messaging and tracing models: one case per rule, each naming the field it must name.

use chrono::{Duration, TimeZone, Utc};
use openintent_types::schema::RequestSchema;
use openintent_types::*;
use serde_json::{Value, json};

fn refused<T: Validate>(req: &T) -> String {
    req.validate().expect_err("expected a refusal").field
}

fn from<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).unwrap()
}

#[test]
fn governance_policy_rules() {
    let ok: GovernancePolicy =
        from(json!({"completion_mode": "quorum", "quorum_threshold": 1, "max_cost": 0, "custom": {"x": 1}}));
    assert!(ok.validate().is_ok());
    // Unknown keys are kept and written back.
    assert_eq!(serde_json::to_value(&ok).unwrap()["custom"], json!({"x": 1}));
    for (body, field) in [
        (json!({"completion_mode": "manual"}), "completion_mode"),
        (json!({"write_scope": "sometimes"}), "write_scope"),
        (json!({"quorum_threshold": 0}), "quorum_threshold"),
        (json!({"quorum_threshold": 1.5}), "quorum_threshold"),
        (json!({"max_cost": -1}), "max_cost"),
        (json!({"allowed_agents": ["alice", ""]}), "allowed_agents.1"),
    ] {
        assert_eq!(refused(&from::<GovernancePolicy>(body.clone())), field, "{body}");
    }
    // The declared rules of `GovernancePolicy::FIELDS` are the ones `Validate` enforces.
    for body in [json!({"completion_mode": "manual"}), json!({"write_scope": "sometimes"}), json!({"max_cost": -1})] {
        let declared = schema::check_rules(&body, GovernancePolicy::FIELDS).unwrap_err();
        assert_eq!(from::<GovernancePolicy>(body.clone()).validate().unwrap_err(), declared, "{body}");
    }
    let e = GovernancePolicy::default().effective();
    assert_eq!(
        (e.completion_mode, e.write_scope, e.quorum_threshold, e.max_cost, e.require_status_reason),
        (CompletionMode::Auto, WriteScope::Any, DEFAULT_QUORUM_THRESHOLD, None, false)
    );
    let quorum = from::<GovernancePolicy>(json!({"quorum_threshold": 0.6})).effective();
    assert_eq!([0, 1, 4, 10].map(|n| quorum.required_approvals(n)), [1, 1, 2, 6]);
    assert_eq!(from::<GovernancePolicy>(json!({"quorum_threshold": 1})).effective().required_approvals(5), 5);
}

#[test]
fn approval_rules() {
    assert!(CreateApprovalRequest::new(COMPLETE_ACTION).validate().is_ok());
    assert_eq!(refused(&CreateApprovalRequest::new(" ")), "action");
    assert_eq!(refused(&from::<CreateApprovalRequest>(json!({"action": "a", "requested_by": ""}))), "requested_by");
    assert!(DecideApprovalRequest::with_reason("ok").validate().is_ok());
    assert_eq!(refused(&from::<DecideApprovalRequest>(json!({"decided_by": ""}))), "decided_by");
    assert_eq!(from::<DecideApprovalRequest>(json!({"notes": "n"})).reason.as_deref(), Some("n"));

    let approval =
        |action: &str, status: &str| from::<Approval>(json!({"id": "a", "action": action, "status": status}));
    assert!(approval("complete", "approved").counts_for_completion());
    assert!(!approval("Complete", "approved").counts_for_completion());
    assert!(!approval("complete", "pending").counts_for_completion());
    assert!(!approval("complete", "pending").is_decided());
    // Unset decision keys are omitted, as the reference does.
    let body = serde_json::to_value(approval("deploy", "pending")).unwrap();
    assert!(body.get("decided_at").is_none() && body.get("decided_by").is_none());
}

#[test]
fn escalation_and_coordinator_rules() {
    assert!(CreateEscalationRequest::new("Budget overrun").validate().is_ok());
    assert_eq!(refused(&CreateEscalationRequest::new("")), "reason");
    assert_eq!(refused(&from::<CreateEscalationRequest>(json!({"reason": "r", "escalated_by": " "}))), "escalated_by");
    assert_eq!(refused(&ResolveEscalationRequest::new(" ")), "resolution");
    let e: Escalation = from(json!({"id": "e", "priority": "urgent", "notes": "n", "status": "resolved"}));
    assert_eq!((e.priority.as_str(), e.resolution_notes.as_deref()), ("urgent", Some("n")));
    let mut q = EscalationQuery::default();
    q.status = Some(EscalationStatus::Pending);
    assert_eq!(serde_json::to_value(q).unwrap(), json!({"status": "pending"}));

    assert!(CreateCoordinatorLeaseRequest::for_intent("coord", "i1").validate().is_ok());
    assert_eq!(refused(&CreateCoordinatorLeaseRequest::for_intent("", "i1")), "agent_id");
    assert_eq!(refused(&CreateCoordinatorLeaseRequest::for_intent("c", "a/b")), "intent_id");
    assert_eq!(
        refused(&from::<CreateCoordinatorLeaseRequest>(json!({"agent_id": "c", "heartbeat_interval_seconds": 0}))),
        "heartbeat_interval_seconds"
    );
    assert_eq!(refused(&from::<CreateCoordinatorLeaseRequest>(json!({"agent_id": "c", "scope": ""}))), "scope");
}

#[test]
fn permissions_and_acl_lookup() {
    use Permission::*;
    for (held, needed, ok) in [(Admin, Read, true), (Write, Write, true), (Write, Admin, false), (Read, Write, false)] {
        assert_eq!(held.includes(&needed), ok, "{held} {needed}");
    }
    let now = Utc::now();
    let acl: Acl = from(json!({"intent_id": "i", "default_policy": "private", "entries": [
        {"id": "1", "principal_id": "bot", "permission": "admin", "expires_at": "2000-01-01T00:00:00"},
        {"id": "2", "principal_id": "bot", "permission": "owner"},
        {"id": "3", "principal_id": "bot", "permission": "read"},
        {"id": "4", "principal_id": "peer", "permission": "write"}]}));
    assert_eq!(acl.default_policy, AccessPolicy::Private);
    assert_eq!(acl.permission_of("bot", now), Some(Read));
    assert_eq!(acl.permission_of("peer", now), Some(Write));
    assert!(!acl.entries[0].is_active_at(now) && acl.entries[1].is_active_at(now));
    // Every entry key is sent, unset ones as null.
    assert_eq!(serde_json::to_value(&acl.entries[3]).unwrap()["expires_at"], Value::Null);
}

#[test]
fn acl_request_rules() {
    assert!(GrantAccessRequest::new("helper", Permission::Write).validate().is_ok());
    for (body, field) in [
        (json!({"principal_id": ""}), "principal_id"),
        (json!({"principal_id": "p", "permission": "owner"}), "permission"),
        (json!({"principal_id": "p", "principal_type": ""}), "principal_type"),
        (json!({"principal_id": "p", "granted_by": " "}), "granted_by"),
    ] {
        assert_eq!(refused(&from::<GrantAccessRequest>(body.clone())), field, "{body}");
    }
    // An offset is converted to UTC (the reference cuts it off).
    let grant: GrantAccessRequest = from(json!({"principal_id": "p", "expires_at": "2031-01-01T12:00:00+02:00"}));
    assert_eq!(grant.expires_at, Some(Utc.with_ymd_and_hms(2031, 1, 1, 10, 0, 0).unwrap()));
    let err = serde_json::from_value::<GrantAccessRequest>(json!({"principal_id": "p", "expires_at": "next week"}));
    assert!(err.unwrap_err().to_string().contains("expires_at"));

    let set = |v: Value| from::<SetAclRequest>(v);
    assert!(set(json!({})).validate().is_ok());
    assert_eq!(refused(&set(json!({"default_policy": "secret"}))), "default_policy");
    assert_eq!(
        refused(&set(json!({"entries": [{"principal_id": "a"}, {"principal_id": " "}]}))),
        "entries.1.principal_id"
    );
    assert_eq!(
        refused(&set(json!({"entries": [{"principal_id": "a", "permission": "owner"}]}))),
        "entries.0.permission"
    );
    let err = serde_json::from_value::<SetAclRequest>(json!({"entries": [{"permission": "read"}]})).unwrap_err();
    assert!(err.to_string().contains("principal_id"), "{err}");

    assert!(CreateAccessRequest::new("me", Permission::Write).validate().is_ok());
    assert_eq!(refused(&CreateAccessRequest::new("", Permission::Read)), "principal_id");
    assert_eq!(
        refused(&from::<CreateAccessRequest>(json!({"principal_id": "p", "permission": "root"}))),
        "requested_permission"
    );
    assert_eq!(
        refused(&from::<CreateAccessRequest>(json!({"principal_id": "p", "capabilities": [""]}))),
        "capabilities.0"
    );
    assert!(DecideAccessRequest::new("owner").validate().is_ok());
    assert_eq!(refused(&DecideAccessRequest::new(" ")), "decided_by");
    assert_eq!(refused(&from::<DecideAccessRequest>(json!({"decided_by": "o", "permission": "x"}))), "permission");
}

#[test]
fn channel_and_message_rules() {
    assert!(CreateChannelRequest::new("clarify").validate().is_ok());
    for (body, field) in [
        (json!({"name": ""}), "name"),
        (json!({"name": "n", "members": ["a", "b/c"]}), "members.1"),
        (json!({"name": "n", "member_policy": "anyone"}), "member_policy"),
        (json!({"name": "n", "task_id": "?"}), "task_id"),
        (json!({"name": "n", "options": {"audit": "yes"}}), "options.audit"),
        (json!({"name": "n", "options": {"ttl_seconds": 0}}), "options.ttl_seconds"),
        (json!({"name": "n", "options": {"max_messages": -1}}), "options.max_messages"),
    ] {
        assert_eq!(refused(&from::<CreateChannelRequest>(body.clone())), field, "{body}");
    }
    assert_eq!(refused(&from::<UpdateChannelRequest>(json!({"status": "archived"}))), "status");
    assert!(from::<UpdateChannelRequest>(json!({"status": "closed"})).validate().is_ok());

    let send = |v: Value| from::<SendMessageRequest>(v);
    assert!(SendMessageRequest::new("a", Default::default()).validate().is_ok());
    assert!(send(json!({"sender": "a", "to": "b", "message_type": "request"})).validate().is_ok());
    for (body, field) in [
        (json!({"sender": ""}), "sender"),
        (json!({"sender": "a", "message_type": "request"}), "to"),
        (json!({"sender": "a", "message_type": "response"}), "correlation_id"),
        (json!({"sender": "a", "message_type": "gossip"}), "message_type"),
        (json!({"sender": "a", "reply_to": "m/1"}), "correlation_id"),
    ] {
        assert_eq!(refused(&send(body.clone())), field, "{body}");
    }
    assert_eq!(refused(&ReplyRequest::new(" ", Default::default())), "sender");
    assert_eq!(refused(&from::<UpdateMessageRequest>(json!({"status": "seen"}))), "status");
    assert!(UpdateMessageRequest::read().validate().is_ok());

    let now = Utc::now();
    let m: Message = from(json!({"id": "m", "reply_to": "q", "status": "delivered",
        "expires_at": openintent_types::time::format_wire(&(now - Duration::seconds(1)))}));
    assert_eq!(m.reply_to(), Some("q"));
    assert!(!m.is_read() && m.is_expired_at(now));
    let ev = StreamEvent::parse("channel_message", r#"{"id": "m", "channel_id": "c", "sender": "a", "payload": {}}"#);
    assert!(matches!(ev, StreamEvent::ChannelMessage(m) if m.channel_id == "c"));
    assert_eq!(StreamKind::Channel.path("c1"), "/api/v1/subscribe/channels/c1");
}

#[test]
fn trace_fields() {
    let trace = "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6";
    let ok = LogEventRequest::new("comment").with_trace(trace, Some("e1".into()));
    assert!(ok.validate().is_ok());
    for (t, p, field) in [
        (trace.to_uppercase(), None, "trace_id"),
        (trace[..31].to_owned(), None, "trace_id"),
        (format!("{}g", &trace[..31]), None, "trace_id"),
        (trace.to_owned(), Some("e/1".to_owned()), "parent_event_id"),
    ] {
        assert_eq!(refused(&LogEventRequest::new("comment").with_trace(t, p)), field);
    }
    let req: LogEventRequest = from(json!({"event_type": "comment", "traceId": trace, "parentEventId": "p"}));
    assert_eq!((req.trace_id.as_deref(), req.parent_event_id.as_deref()), (Some(trace), Some("p")));
    // Stored and returned top-level; absent ones are not written.
    let event: IntentEvent =
        from(json!({"id": "e", "event_type": "comment", "trace_id": trace, "parent_event_id": "p"}));
    let body = serde_json::to_value(&event).unwrap();
    assert_eq!((body["trace_id"].as_str(), body["parent_event_id"].as_str()), (Some(trace), Some("p")));
    let plain = serde_json::to_value(IntentEvent::new("e", "i", "comment", "a")).unwrap();
    assert!(plain.get("trace_id").is_none());
    // A payload copy is found when the top-level field is missing.
    let legacy: IntentEvent = from(json!({"id": "e", "event_type": "comment", "payload": {"parent_event_id": "p0"}}));
    assert_eq!((legacy.resolved_trace_id(), legacy.resolved_parent_event_id()), (None, Some("p0")));
    let mut q = EventQuery::default();
    q.trace_id = Some(trace.to_owned());
    assert_eq!(serde_json::to_value(q).unwrap(), json!({"trace_id": trace}));
    for name in ["intent.suspended", "agent.lifecycle", "channel_message", "access_expired"] {
        assert!(EventType::parse(name).is_known(), "{name}");
    }
}
