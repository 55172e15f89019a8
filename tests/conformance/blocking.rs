//! The blocking client from plain `#[test]`s: a small lifecycle and the lease guard.

use openintent::blocking::Client;
use openintent::types::{IntentStatus, LeaseStatus};
use serde_json::json;

use crate::common::{Must, target, unique};

fn blocking_client(key: usize, agent: &str) -> Client {
    let t = target();
    Client::new(t.url.clone(), t.keys[key].clone(), agent).expect("blocking client")
}

#[test]
fn blocking_lifecycle() {
    let agent = unique("blocking-agent");
    let client = blocking_client(0, &agent);

    let intent = client.create_intent(unique("blocking lifecycle")).description("sync").send_blocking();
    let intent = intent.must("create_intent");
    assert_eq!(intent.status, IntentStatus::Draft);
    let read = client.get_intent(&intent.id).must("get_intent");
    assert_eq!(read.version, intent.version);

    let patched = client.update_state(&intent.id, intent.version).set("done", true).send_blocking();
    let patched = patched.must("update_state");
    assert_eq!(patched.version, intent.version + 1);
    assert_eq!(patched.state.get("done"), Some(&json!(true)));

    let err = client.update_state(&intent.id, intent.version).set("done", false).send_blocking();
    assert!(err.expect_err("stale").is_version_conflict());

    let event = client.log_event(&intent.id, "comment").payload(json!({"message": "hi"})).send_blocking();
    assert_eq!(event.must("log_event").actor, agent);
    let comments = client.get_events(&intent.id).event_type("comment").send_blocking().must("get_events");
    assert_eq!(comments.len(), 1);

    let done = client.set_status(&intent.id, patched.version, "completed").send_blocking().must("set_status");
    assert_eq!(done.status, IntentStatus::Completed);
    assert_eq!(client.get_intent(&intent.id).must("get_intent").status, IntentStatus::Completed);
}

#[test]
fn blocking_lease_guard_releases_on_drop() {
    let owner = blocking_client(0, &unique("blocking-owner"));
    let rival = blocking_client(1, &unique("blocking-rival"));
    let intent = owner.create_intent(unique("blocking lease")).send_blocking().must("create_intent");

    let lease_id = {
        let guard = owner.lease_for(&intent.id, "draft", 30).must("lease");
        assert_eq!(guard.scope, "draft");
        let err = rival.acquire_lease(&intent.id, "draft").send_blocking().expect_err("held");
        assert!(err.is_lease_conflict(), "{err}");
        guard.id.clone()
    };
    let all = owner.get_leases(&intent.id).all().send_blocking().must("get_leases");
    let lease = all.iter().find(|l| l.id == lease_id).expect("in the history");
    assert_eq!(lease.status, Some(LeaseStatus::Released), "dropping the guard releases the lease");

    let scope = rival.with_lease(&intent.id, "draft", |lease, _client| Ok(lease.scope.clone())).must("with_lease");
    assert_eq!(scope, "draft");
    assert!(rival.get_leases(&intent.id).send_blocking().must("get_leases").is_empty());
}
