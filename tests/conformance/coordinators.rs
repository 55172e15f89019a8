//! Coordinator leases (RFC-0013): grant, read, list an intent's, heartbeat, and the 404 of an
//! unknown lease, the same on both profiles; under `full`, a heartbeat of another agent's
//! lease is refused (the reference takes it from any key). Decision records: recorded the same
//! on both; listed at the 0.17 SDK's path under `full` (the reference answers it 404: typed
//! unsupported); under `full`, a record by another agent, under a lease of another intent, or
//! under an unknown lease is refused (the reference stores any).

use openintent::types::{CreateCoordinatorLeaseRequest, CreateDecisionRecordRequest};
use serde_json::json;

use crate::common::{Must, expect_served, target, unique};

#[tokio::test]
async fn grant_read_list_and_heartbeat() {
    let t = target();
    let agent_id = unique("coordinator");
    let client = t.client(&agent_id);
    let intent = client.create_intent(unique("conformance coordinated")).send().await.must("create_intent");

    let mut req = CreateCoordinatorLeaseRequest::for_intent(agent_id.clone(), intent.id.clone());
    req.supervisor_id = Some("human-1".into());
    req.guardrails = Some(serde_json::from_value(json!({"max_budget_usd": 50})).unwrap());
    req.heartbeat_interval_seconds = Some(60);
    let lease = client.create_coordinator_lease(&req).await.must("create_coordinator_lease");
    assert_eq!((lease.agent_id.as_str(), lease.intent_id.as_deref()), (agent_id.as_str(), Some(intent.id.as_str())));
    assert_eq!(
        (lease.role.as_str(), lease.coordinator_type.as_str(), lease.scope.as_str()),
        ("coordinator", "llm", "intent")
    );
    assert_eq!((lease.status.as_str(), lease.heartbeat_interval_seconds), ("active", Some(60)));
    assert_eq!(lease.guardrails["max_budget_usd"], 50);
    assert_eq!(lease.last_heartbeat, None);

    let read = client.get_coordinator_lease(&lease.id).await.must("get_coordinator_lease");
    assert_eq!(read.id, lease.id);
    let beat = client.coordinator_heartbeat(&lease.id).await.must("coordinator_heartbeat");
    assert!(beat.is_acknowledged(), "{beat:?}");
    let next = beat.next_heartbeat_at.expect("next_heartbeat_at");
    let listed = client.list_coordinator_leases(&intent.id).await.must("list_coordinator_leases");
    assert_eq!(listed.iter().map(|l| l.id.as_str()).collect::<Vec<_>>(), [lease.id.as_str()]);
    let last = listed[0].last_heartbeat.expect("the heartbeat is recorded");
    let due = (next - last).num_milliseconds();
    assert!((59_000..=61_000).contains(&due), "next heartbeat = last + interval, got {due} ms");

    let err = client.coordinator_heartbeat(&unique("no-such-lease")).await.unwrap_err();
    assert!(err.is_not_found() && !err.is_unsupported(), "{err}");
    let err = client.get_coordinator_lease(&unique("no-such-lease")).await.unwrap_err();
    assert!(err.is_not_found() && !err.is_unsupported(), "{err}");

    // Another caller (another key, an agent's on the default keys) heartbeating this lease.
    let other = t.client_with_key(1, &unique("not-the-coordinator"));
    let result = other.coordinator_heartbeat(&lease.id).await;
    if t.full() {
        let err = result.expect_err("a heartbeat of another agent's lease");
        assert!(err.is_forbidden(), "{err}");
    } else {
        result.must("the reference takes any key's heartbeat");
    }
}

#[tokio::test]
async fn decision_records_are_recorded_and_listed_newest_first() {
    let t = target();
    let agent_id = unique("coordinator");
    let client = t.client(&agent_id);
    let intent = client.create_intent(unique("conformance decisions")).send().await.must("create_intent");
    let req = CreateCoordinatorLeaseRequest::for_intent(agent_id.clone(), intent.id.clone());
    let lease = client.create_coordinator_lease(&req).await.must("create_coordinator_lease");

    let mut req =
        CreateDecisionRecordRequest::new(&lease.id, &intent.id, "task_assigned", "Assign research", "capacity");
    req.alternatives_considered = Some(vec![json!({"option": "beta", "reason": "busy"})]);
    req.confidence = Some(0.85);
    let first = client.create_decision_record(&req).await.must("create_decision_record");
    assert_eq!((first.coordinator_id.as_str(), first.intent_id.as_str()), (lease.id.as_str(), intent.id.as_str()));
    assert_eq!((first.decision_type.as_str(), first.summary.as_str()), ("task_assigned", "Assign research"));
    assert_eq!((first.rationale.as_str(), first.confidence), ("capacity", Some(0.85)));
    assert_eq!(first.alternatives_considered[0]["option"], "beta");
    let minimal = CreateDecisionRecordRequest::new(&lease.id, &intent.id, "plan_created", "Plan", "First step");
    let second = client.create_decision_record(&minimal).await.must("create_decision_record (minimal)");
    assert!(second.alternatives_considered.is_empty() && second.confidence.is_none(), "{second:?}");
    assert!(second.timestamp >= first.timestamp);

    let listed = client.list_decision_records(&intent.id, Some(10)).await;
    if let Some(listed) = expect_served("list_decision_records", listed) {
        let ids: Vec<_> = listed.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, [second.id.as_str(), first.id.as_str()], "newest first");
        let one = client.list_decision_records(&intent.id, Some(1)).await.must("list_decision_records (limit)");
        assert_eq!(one.len(), 1);
    }

    if t.full() {
        let other = t.client_with_key(1, &unique("not-the-coordinator"));
        let err = other.create_decision_record(&minimal).await.expect_err("a record under another agent's lease");
        assert!(err.is_forbidden(), "{err}");
        let elsewhere = client.create_intent(unique("conformance elsewhere")).send().await.must("create_intent");
        let req = CreateDecisionRecordRequest::new(&lease.id, &elsewhere.id, "plan_created", "Plan", "Why");
        let err = client.create_decision_record(&req).await.expect_err("a lease of another intent");
        assert!(err.is_conflict(), "{err}");
        let req = CreateDecisionRecordRequest::new(unique("no-such-lease"), &intent.id, "plan_created", "Plan", "Why");
        let err = client.create_decision_record(&req).await.expect_err("an unknown lease");
        assert!(err.is_not_found() && !err.is_unsupported(), "{err}");
        let err = client.list_decision_records(&unique("no-such-intent"), None).await.unwrap_err();
        assert!(err.is_not_found() && !err.is_unsupported(), "{err}");
    }
}
