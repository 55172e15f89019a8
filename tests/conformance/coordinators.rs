//! Coordinator leases (RFC-0013): grant, read, list an intent's, heartbeat, and the 404 of an
//! unknown lease, the same on both profiles; under `full`, a heartbeat of another agent's
//! lease is refused (the reference takes it from any key).

use openintent::types::CreateCoordinatorLeaseRequest;
use serde_json::json;

use crate::common::{Must, target, unique};

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
