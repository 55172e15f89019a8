//! Governance policies enforced by the server: a refused write is a typed 403 naming the rule,
//! logged as a `governance.violation` event, and the same write passes once the policy is met.

use openintent::types::EventType;
use serde_json::json;

use crate::common::{Must, target, unique};

/// `write_scope: assigned_only`: an unassigned agent's state write is refused (403, rule
/// `write_scope`), changes nothing, and is logged; after assigning the agent it succeeds.
///
/// Servers identify the caller differently (the reference by its API key, ours by `X-Agent-ID`),
/// so the identity to assign is read from the violation event's `actor`, which both set to the
/// caller.
#[tokio::test]
async fn write_scope_assigned_only_refuses_then_allows() {
    let t = target();
    let owner = t.client(&unique("governor"));
    let worker_id = unique("outsider");
    // Another key than the owner's, so that the two are distinct callers on every server.
    let worker = t.client_with_key(1, &worker_id);

    let intent = owner
        .create_intent(unique("conformance governance"))
        .governance_policy(json!({"write_scope": "assigned_only"}))
        .send()
        .await
        .must("create_intent with a governance policy");
    assert_eq!(
        intent.governance_policy,
        Some(serde_json::from_value(json!({"write_scope": "assigned_only"})).unwrap())
    );

    let err = worker.update_state(&intent.id, intent.version).set("x", 1).send().await.expect_err("unassigned write");
    assert!(err.is_forbidden(), "expected a 403, got {err} ({err:?})");
    assert_eq!(err.status(), Some(403));
    assert_eq!(err.api().and_then(|e| e.rule()), Some("write_scope"), "{err:?}");

    let unchanged = owner.get_intent(&intent.id).await.must("get_intent");
    assert_eq!(unchanged.version, intent.version, "a refused write changes nothing");
    assert!(unchanged.state.get("x").is_none());

    let violations = owner
        .get_events(&intent.id)
        .event_type(EventType::GovernanceViolation)
        .send()
        .await
        .must("get_events(governance.violation)");
    assert_eq!(violations.len(), 1, "one violation event: {violations:?}");
    let event = &violations[0];
    assert_eq!(event.payload.get("rule"), Some(&json!("write_scope")), "{event:?}");
    let caller = event.actor.clone();
    let worker_key = &t.keys[1 % t.keys.len()];
    assert!(caller == worker_id || &caller == worker_key, "the violation's actor is the caller, got {caller:?}");

    owner.assign_agent(&intent.id).agent_id(caller.as_str()).send().await.must("assign_agent");
    let written = worker.update_state(&intent.id, intent.version).set("x", 1).send().await.must("assigned write");
    assert_eq!(written.version, intent.version + 1);
    assert_eq!(written.state.get("x"), Some(&json!(1)));
}
