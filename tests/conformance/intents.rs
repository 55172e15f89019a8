//! Intents: lifecycle, listing, state writes, version conflicts, the concurrency helper and
//! agent assignment.

use std::collections::HashSet;

use futures_util::TryStreamExt;
use openintent::types::{EventType, IntentStatus, StatePatch};
use serde_json::json;

use crate::common::{Must, expect_served, new_intent, target, unique};

/// The seed's quick start: create, read, patch state, complete; versions move one per write.
#[tokio::test]
async fn intent_lifecycle_draft_to_completed() {
    let t = target();
    let agent = unique("lifecycle-agent");
    let client = t.client(&agent);
    let title = unique("Research market trends");

    let created = client
        .create_intent(title.clone())
        .description("Analyze Q4 market data and identify patterns")
        .constraints(json!({"deadline": "2024-02-01"}))
        .send()
        .await
        .must("create_intent");
    assert!(!created.id.is_empty());
    assert_eq!(created.title, title);
    assert_eq!(created.description, "Analyze Q4 market data and identify patterns");
    assert_eq!(created.constraints.get("deadline"), Some(&json!("2024-02-01")));
    assert_eq!(created.status, IntentStatus::Draft);
    assert!(created.version >= 1, "a new intent has a positive version, got {}", created.version);

    let read = client.get_intent(&created.id).await.must("get_intent");
    assert_eq!(read.id, created.id);
    assert_eq!(read.title, title);
    assert_eq!(read.version, created.version);
    assert_eq!(read.constraints, created.constraints);

    let patched = client
        .update_state(&created.id, created.version)
        .set("progress", json!(0.5))
        .set("current_phase", json!("analysis"))
        .send()
        .await
        .must("update_state");
    assert_eq!(patched.version, created.version + 1, "one write, one version");
    assert_eq!(patched.state.get("progress"), Some(&json!(0.5)));
    assert_eq!(patched.state.get("current_phase"), Some(&json!("analysis")));

    let done = client.set_status(&created.id, patched.version, "completed").send().await.must("set_status");
    assert_eq!(done.status, IntentStatus::Completed);
    assert_eq!(done.version, patched.version + 1);

    let final_read = client.get_intent(&created.id).await.must("get_intent after completion");
    assert_eq!(final_read.status, IntentStatus::Completed);
    assert_eq!(final_read.version, done.version);
    assert_eq!(final_read.state.get("progress"), Some(&json!(0.5)), "status writes keep the state");

    let types: Vec<EventType> =
        client.get_events(&created.id).send().await.must("get_events").into_iter().map(|e| e.event_type).collect();
    for wanted in [EventType::IntentCreated, EventType::StatePatched, EventType::StatusChanged] {
        assert!(types.contains(&wanted), "the log has {wanted}: {types:?}");
    }
}

/// `list_intents`: pages of a bounded size that add up, the status filter and the all-pages
/// stream. The reference has no listing route.
#[tokio::test]
async fn list_intents_pages_and_stream() {
    let t = target();
    let creator = unique("lister");
    let client = t.client(&creator);
    let mut ids = HashSet::new();
    for i in 0..5 {
        let intent = client.create_intent(format!("{creator} item {i}")).send().await.must("create_intent");
        ids.insert(intent.id);
    }

    let first = client.list_intents().created_by(creator.clone()).limit(2).send().await;
    let Some(first) = expect_served("list_intents", first) else {
        let streamed: Result<Vec<_>, _> = client.list_intents().limit(2).into_stream().try_collect().await;
        expect_served("list_intents().into_stream()", streamed);
        return;
    };
    assert_eq!(first.items.len(), 2, "a page holds `limit` items");
    assert_eq!(first.limit, 2);
    assert_eq!(first.offset, 0);
    if let Some(total) = first.total {
        assert_eq!(total, 5, "total counts every match");
    }
    assert!(first.has_more());

    // Walk the pages by hand.
    let mut seen = Vec::new();
    let mut offset = 0;
    loop {
        let page = client.list_intents().created_by(creator.clone()).limit(2).offset(offset).send().await.must("page");
        assert!(page.items.len() <= 2);
        seen.extend(page.items.iter().map(|i| i.id.clone()));
        if !page.has_more() {
            break;
        }
        offset = page.next_offset();
        assert!(offset <= 10, "paging does not end");
    }
    assert_eq!(seen.len(), 5, "every intent once: {seen:?}");
    assert_eq!(seen.iter().cloned().collect::<HashSet<_>>(), ids);

    // The stream fetches every page.
    let streamed: Vec<_> =
        client.list_intents().created_by(creator.clone()).limit(2).into_stream().try_collect().await.must("stream");
    assert_eq!(streamed.iter().map(|i| i.id.clone()).collect::<HashSet<_>>(), ids);
    assert_eq!(streamed.len(), 5);

    // The status filter.
    let one = ids.iter().next().cloned().expect("an id");
    let intent = client.get_intent(&one).await.must("get_intent");
    client.set_status(&one, intent.version, "active").send().await.must("set_status active");
    let active = client.list_intents().created_by(creator.clone()).status("active").send().await.must("filter");
    assert_eq!(active.items.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(), vec![one.as_str()]);
    let drafts = client.list_intents().created_by(creator).status("draft").send().await.must("filter");
    assert_eq!(drafts.items.len(), 4);
    assert!(drafts.items.iter().all(|i| i.status == IntentStatus::Draft));
}

/// `update_state`: `merge` sets several keys, later writes keep earlier keys, `remove` drops one,
/// and nested JSON-pointer writes persist (the reference loses nested writes, D24, so there only
/// top-level results are asserted).
#[tokio::test]
async fn update_state_merge_and_nested_patches() {
    let t = target();
    let client = t.client(&unique("state-agent"));
    let intent = new_intent(&client, "state").await;

    let v1 = client
        .update_state(&intent.id, intent.version)
        .merge(json!({"phase": "research", "sources": ["a"], "config": {"mode": "fast", "depth": 1}}))
        .send()
        .await
        .must("merge");
    assert_eq!(v1.state.get("phase"), Some(&json!("research")));
    assert_eq!(v1.state.get("sources"), Some(&json!(["a"])));
    assert_eq!(v1.state.get("config"), Some(&json!({"mode": "fast", "depth": 1})));

    let v2 = client.update_state(&intent.id, v1.version).set("progress", 0.25).send().await.must("set");
    assert_eq!(v2.state.get("phase"), Some(&json!("research")), "a patch keeps the other keys");
    assert_eq!(v2.state.get("progress"), Some(&json!(0.25)));

    let v3 = client.update_state(&intent.id, v2.version).remove("/progress").send().await.must("remove");
    assert!(!v3.state.contains_key("progress"), "removed: {:?}", v3.state);
    assert_eq!(v3.version, v2.version + 1);

    let v4 = client
        .update_state(&intent.id, v3.version)
        .patch(StatePatch::set_path("/config/depth", json!(3)))
        .set_path("/config/owner", "ana")
        .append("/sources", "b")
        .send()
        .await
        .must("nested patches");
    assert_eq!(v4.version, v3.version + 1);
    if t.full() {
        assert_eq!(v4.state.get("config"), Some(&json!({"mode": "fast", "depth": 3, "owner": "ana"})));
        assert_eq!(v4.state.get("sources"), Some(&json!(["a", "b"])));
        assert_eq!(v4.state_at::<u32>("/config/depth").unwrap(), Some(3));
        assert_eq!(v4.state_at::<Vec<String>>("/sources").unwrap(), Some(vec!["a".into(), "b".into()]));
        let read = client.get_intent(&intent.id).await.must("get_intent");
        assert_eq!(read.state, v4.state, "nested writes are stored");
    }
    assert_eq!(v4.state_at::<u32>("/config/missing").unwrap(), None);

    // Keys needing JSON-pointer escapes round-trip as top-level keys.
    let v5 = client.update_state(&intent.id, v4.version).set("a/b~c", "odd").send().await.must("escaped key");
    if t.full() {
        assert_eq!(v5.state.get("a/b~c"), Some(&json!("odd")));
        assert_eq!(v5.state_at::<&str>("/a~1b~0c").unwrap(), Some("odd"));
    }
}

/// A write with a stale version is a version conflict (409), and changes nothing.
#[tokio::test]
async fn stale_version_is_a_version_conflict() {
    let client = target().client(&unique("conflict-agent"));
    let intent = new_intent(&client, "conflict").await;
    let current = client.update_state(&intent.id, intent.version).set("n", 1).send().await.must("first write");

    let err = client.update_state(&intent.id, intent.version).set("n", 2).send().await.expect_err("stale write");
    assert!(err.is_version_conflict(), "expected a version conflict, got {err} ({err:?})");
    assert!(err.is_conflict() && !err.is_lease_conflict());
    assert_eq!(err.status(), Some(409));

    let err = client.set_status(&intent.id, intent.version, "active").send().await.expect_err("stale status");
    assert!(err.is_version_conflict(), "stale set_status: {err}");

    let read = client.get_intent(&intent.id).await.must("get_intent");
    assert_eq!(read.version, current.version, "refused writes change nothing");
    assert_eq!(read.state.get("n"), Some(&json!(1)));
    assert_eq!(read.status, IntentStatus::Draft);
}

/// `update_state_with`: eight concurrent writers incrementing one counter lose no update.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn optimistic_concurrency_helper_loses_no_update() {
    let t = target();
    let client = t.client(&unique("counter-agent"));
    let intent = client.create_intent(unique("counter")).initial_state(json!({"count": 0})).send().await;
    let intent = intent.must("create_intent");
    const WRITERS: i64 = 8;
    const EACH: i64 = 3;

    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let client = t.client(&format!("counter-writer-{w}"));
        let id = intent.id.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..EACH {
                client
                    .update_state_with(&id, |current| {
                        let n = current.state.get("count").and_then(|v| v.as_i64()).unwrap_or(0);
                        vec![StatePatch::set_key("count", json!(n + 1))]
                    })
                    .max_attempts(200)
                    .send()
                    .await
                    .must("update_state_with");
            }
        }));
    }
    for task in tasks {
        task.await.expect("writer task");
    }
    let read = client.get_intent(&intent.id).await.must("get_intent");
    assert_eq!(read.state.get("count"), Some(&json!(WRITERS * EACH)), "no lost update");
    assert_eq!(read.version, intent.version + WRITERS * EACH, "one version per successful write");
}

/// `assign_agent` (default agent and an explicit one with a role), `get_agents`, and
/// `unassign_agent` (absent on the reference).
#[tokio::test]
async fn assign_and_unassign_agents() {
    let t = target();
    let me = unique("assign-me");
    let client = t.client(&me);
    let intent = new_intent(&client, "agents").await;

    let mine = client.assign_agent(&intent.id).send().await.must("assign_agent (self)");
    assert_eq!(mine.agent_id, me);
    assert_eq!(mine.intent_id, intent.id);
    let other = unique("assign-other");
    let theirs = client.assign_agent(&intent.id).agent_id(other.clone()).role("reviewer").send().await;
    let theirs = theirs.must("assign_agent (other)");
    assert_eq!(theirs.agent_id, other);

    let agents = client.get_agents(&intent.id).await.must("get_agents");
    let names: HashSet<_> = agents.iter().map(|a| a.agent_id.clone()).collect();
    assert!(names.contains(&me) && names.contains(&other), "both assigned: {names:?}");
    let events = client.get_events(&intent.id).event_type(EventType::AgentAssigned).send().await.must("events");
    assert!(events.len() >= 2, "one agent_assigned event per assignment: {events:?}");

    let removed = client.unassign_agent(&intent.id, &other).await;
    if expect_served("unassign_agent", removed).is_some() {
        let agents = client.get_agents(&intent.id).await.must("get_agents after unassign");
        assert!(agents.iter().all(|a| a.agent_id != other), "unassigned: {agents:?}");
        assert!(agents.iter().any(|a| a.agent_id == me), "the other stays: {agents:?}");
        let err = client.unassign_agent(&intent.id, &other).await.expect_err("unassign twice");
        assert!(err.is_not_found(), "unassigning an agent not assigned: {err}");
    }
}
