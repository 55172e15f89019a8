//! The event log and the live event stream.

use std::time::Duration;

use futures_util::StreamExt;
use openintent::types::{EventType, StreamEvent};
use serde_json::json;

use crate::common::{Must, new_intent, target, unique};

/// `log_event` and `get_events` with the type, `since` and `limit` filters: correct results
/// whether the server filters or the client does.
#[tokio::test]
async fn log_and_filter_events() {
    let agent = unique("events-agent");
    let client = target().client(&agent);
    let intent = new_intent(&client, "events").await;

    let mut logged = Vec::new();
    for n in 0..3 {
        let event = client
            .log_event(&intent.id, "comment")
            .payload(json!({"message": format!("note {n}"), "n": n}))
            .send()
            .await
            .must("log_event");
        assert_eq!(event.event_type, EventType::Comment);
        assert_eq!(event.intent_id, intent.id);
        assert_eq!(event.actor, agent, "the actor defaults to the agent id");
        assert_eq!(event.payload.get("n"), Some(&json!(n)));
        logged.push(event);
        // Distinct timestamps, so that `since` has something to cut.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    client.update_state(&intent.id, intent.version).set("k", "v").send().await.must("update_state");

    let all = client.get_events(&intent.id).send().await.must("get_events");
    assert!(all.len() >= 5, "created + 3 comments + state patch: {all:?}");
    for e in &logged {
        assert!(all.iter().any(|a| a.id == e.id), "logged event {} is listed", e.id);
    }
    assert!(all.iter().any(|e| e.event_type == EventType::StatePatched));

    let comments = client.get_events(&intent.id).event_type("comment").send().await.must("type filter");
    assert_eq!(comments.len(), 3, "only the comments: {comments:?}");
    assert!(comments.iter().all(|e| e.event_type == EventType::Comment));

    let since = logged[0].created_at;
    let later = client.get_events(&intent.id).event_type("comment").since(since).send().await.must("since filter");
    let mut later_n: Vec<i64> = later.iter().filter_map(|e| e.payload.get("n").and_then(|v| v.as_i64())).collect();
    later_n.sort_unstable();
    assert_eq!(later_n, vec![1, 2], "comments strictly after the first");
    assert!(later.iter().all(|e| e.created_at > since));

    let limited = client.get_events(&intent.id).limit(2).send().await.must("limit");
    assert_eq!(limited.len(), 2, "at most `limit` events");
    assert!(limited.iter().all(|e| all.iter().any(|a| a.id == e.id)));

    let one_comment = client.get_events(&intent.id).event_type("comment").limit(1).send().await.must("type + limit");
    assert_eq!(one_comment.len(), 1);
    assert_eq!(one_comment[0].event_type, EventType::Comment);

    let none = client.get_events(&intent.id).event_type("decision_recorded").send().await.must("no match");
    assert!(none.is_empty(), "no decisions were recorded: {none:?}");
}

/// `stream_intent_events` yields a state patch (the intent after it on the reference server, the
/// event and the new version on ours), then a logged event. Both
/// profiles serve event streams.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_intent_events_after_a_state_patch() {
    let client = target().client(&unique("stream-agent"));
    let intent = new_intent(&client, "stream").await;

    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut stream = client.stream_intent_events(&intent.id).into_stream();
    let reader = tokio::spawn(async move {
        while let Some(item) = stream.next().await {
            let stop = item.is_err();
            if tx.send(item).is_err() || stop {
                break;
            }
        }
    });

    // The stream connects in the background: patch until the change shows up, so that a patch
    // made before the subscription was in place does not make the test flaky.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let mut version = intent.version;
    let mut step = 0;
    let changed = loop {
        assert!(tokio::time::Instant::now() < deadline, "no state_patched item within 15 s");
        step += 1;
        let written = client.update_state(&intent.id, version).set("step", step).send().await.must("update_state");
        version = written.version;
        let wait = tokio::time::sleep(Duration::from_millis(500));
        tokio::pin!(wait);
        let mut found = None;
        loop {
            tokio::select! {
                item = rx.recv() => match item {
                    // The reference server sends the intent after the change.
                    Some(Ok(StreamEvent::IntentChanged { event_type: EventType::StatePatched, intent: changed })) => {
                        let wrote = changed.state.get("step").and_then(|v| v.as_i64()).is_some();
                        found = Some((changed.id, wrote, changed.version));
                        break;
                    }
                    // Ours sends what changed: the event, its patches, and the new version.
                    Some(Ok(StreamEvent::Event(e))) if e.event_type == EventType::StatePatched => {
                        let patches = e.payload.get("patches").and_then(|p| p.as_array()).cloned().unwrap_or_default();
                        let wrote = patches.iter().any(|p| p["path"].as_str().map(|s| s.trim_start_matches('/')) == Some("step"));
                        let version = e.payload.get("version").and_then(|v| v.as_i64()).unwrap_or(0);
                        found = Some((e.intent_id, wrote, version));
                        break;
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => panic!("the event stream failed: {e}"),
                    None => panic!("the event stream ended"),
                },
                () = &mut wait => break,
            }
        }
        if let Some(changed) = found {
            break changed;
        }
    };
    let (changed_id, wrote_step, changed_version) = changed;
    assert_eq!(changed_id, intent.id);
    assert!(wrote_step, "the item carries the change");
    assert!(changed_version > intent.version);

    client.log_event(&intent.id, "comment").payload(json!({"message": "live"})).send().await.must("log_event");
    let logged = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match rx.recv().await {
                Some(Ok(StreamEvent::Event(e))) if e.event_type == EventType::Comment => break e,
                Some(Ok(_)) => {}
                Some(Err(e)) => panic!("the event stream failed: {e}"),
                None => panic!("the event stream ended"),
            }
        }
    })
    .await
    .expect("the logged comment arrives on the stream");
    assert_eq!(logged.payload.get("message"), Some(&json!("live")));
    reader.abort();
}

/// The items of a live stream, read on a task of their own.
type Items = tokio::sync::mpsc::UnboundedReceiver<openintent::Result<StreamEvent>>;

fn follow(mut stream: openintent::EventStream) -> (Items, tokio::task::JoinHandle<()>) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let reader = tokio::spawn(async move {
        while let Some(item) = stream.next().await {
            let stop = item.is_err();
            if tx.send(item).is_err() || stop {
                break;
            }
        }
    });
    (rx, reader)
}

/// The first item within `wait` that `pick` accepts (others are skipped); `None` when none
/// came in time. A failed or ended stream fails the test.
async fn next_matching<T>(rx: &mut Items, wait: Duration, mut pick: impl FnMut(StreamEvent) -> Option<T>) -> Option<T> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Err(_) => return None,
            Ok(None) => panic!("the event stream ended"),
            Ok(Some(Err(e))) => panic!("the event stream failed: {e}"),
            Ok(Some(Ok(item))) => {
                if let Some(found) = pick(item) {
                    return Some(found);
                }
            }
        }
    }
}

/// `stream_agent_events` yields the assignment when the followed agent is assigned. Each try
/// uses a fresh intent, so that an assignment made before the stream was connected does not
/// matter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_agent_events_on_assignment() {
    let client = target().client(&unique("agent-stream-owner"));
    let followed = unique("followed-agent");
    let (mut rx, reader) = follow(client.stream_agent_events(&followed).into_stream());

    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let (intent_id, assignment) = loop {
        assert!(tokio::time::Instant::now() < deadline, "no assignment item within 15 s");
        let intent = new_intent(&client, "agent stream").await;
        client.assign_agent(&intent.id).agent_id(followed.clone()).send().await.must("assign_agent");
        let item = next_matching(&mut rx, Duration::from_millis(500), |item| match item {
            StreamEvent::AgentAssigned(a) => Some(a),
            _ => None,
        });
        if let Some(a) = item.await {
            break (intent.id, a);
        }
    };
    assert_eq!(assignment.agent_id, followed);
    assert!(!intent_id.is_empty() && !assignment.intent_id.is_empty());
    reader.abort();
}

/// `stream_portfolio_events` reports a member added to the portfolio.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_portfolio_events_on_membership() {
    let client = target().client(&unique("portfolio-stream-owner"));
    let portfolio = client.create_portfolio(unique("streamed portfolio")).send().await.must("create_portfolio");
    let (mut rx, reader) = follow(client.stream_portfolio_events(&portfolio.id).into_stream());

    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let event_type = loop {
        assert!(tokio::time::Instant::now() < deadline, "no membership item within 15 s");
        let intent = new_intent(&client, "portfolio stream").await;
        client.add_intent_to_portfolio(&portfolio.id, intent.id.clone()).send().await.must("add_intent_to_portfolio");
        let item = next_matching(&mut rx, Duration::from_millis(500), |item| match item {
            StreamEvent::PortfolioChanged { event_type, .. } => Some(event_type),
            _ => None,
        });
        if let Some(t) = item.await {
            break t;
        }
    };
    assert_eq!(event_type, "intent_added");
    reader.abort();
}

/// The next `n` items of a stream as `(id, event type)`, the id being the stream's last event id
/// after each item.
async fn take_ids(stream: &mut openintent::EventStream, n: usize) -> Vec<(String, String)> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let item = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .unwrap_or_else(|_| panic!("item {i} of {n} did not come; got {out:?}"))
            .expect("the stream ended")
            .must("stream item");
        out.push((stream.last_event_id().unwrap_or_default(), item.event_type()));
    }
    out
}

/// Connected (`connect`) before the program writes, an intent's stream from the start is
/// exactly its event log, and a live one the log after the connection: every kind of write, in
/// log order, with the log's event ids. The reference server replays nothing, sends no ids and
/// streams only some events, so there only the connection is checked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_intent_stream_is_the_event_log() {
    let t = target();
    let client = t.client(&unique("log-stream"));
    let intent = new_intent(&client, "stream = log").await;
    let id = intent.id.as_str();
    let mut whole = client.stream_intent_events(id).from_start().connect().await.must("connect from the start");
    let mut live = client.stream_intent_events(id).connect().await.must("connect live");
    if !t.full() {
        return;
    }

    let v = client.update_state(id, intent.version).set("step", 1).send().await.must("update_state").version;
    let v = client.set_status(id, v, "active").send().await.must("set_status").version;
    let refused = client.set_status(id, v, "draft").send().await.expect_err("active -> draft");
    assert!(refused.is_invalid_transition() && !refused.is_version_conflict(), "{refused}");
    let stale = client.set_status(id, v - 1, "blocked").send().await.expect_err("stale version");
    assert!(stale.is_version_conflict(), "{stale}");
    client.log_event(id, "comment").payload(json!({"n": 1})).send().await.must("log_event");
    let lease = client.acquire_lease(id, "data-processing").duration_seconds(60).send().await.must("acquire");
    client.renew_lease(id, &lease.id).duration_seconds(120).send().await.must("renew");
    client.release_lease(id, &lease.id).await.must("release");
    client.assign_agent(id).agent_id("helper").role("analyst").send().await.must("assign_agent");
    client.unassign_agent(id, "helper").await.must("unassign_agent");
    client.add_attachment(id, "a.txt", "text/plain", "aGk=").send().await.must("add_attachment");
    client.record_cost(id, "tokens", 3.0, "tokens").send().await.must("record_cost");
    client.record_failure(id, "timeout", "slow").send().await.must("record_failure");
    client.set_retry_policy(id).max_attempts(2).send().await.must("set_retry_policy");
    client.request_arbitration(id, "disagreement").send().await.must("request_arbitration");
    client.record_decision(id, "go").send().await.must("record_decision");
    let v = client.update_state(id, v).set("step", 2).send().await.must("update_state").version;
    client.set_status(id, v, "completed").send().await.must("complete");

    let mut log = client.get_events(id).limit(1000).send().await.must("get_events");
    log.reverse();
    let expected: Vec<(String, String)> = log.iter().map(|e| (e.id.clone(), e.event_type.to_string())).collect();
    let kinds: Vec<&str> = expected.iter().map(|(_, k)| k.as_str()).collect();
    for kind in ["intent_created", "lease_acquired", "lease_released", "agent_assigned", "decision_recorded"] {
        assert!(kinds.contains(&kind), "the writes log {kind}: {kinds:?}");
    }
    assert_eq!(take_ids(&mut whole, expected.len()).await, expected, "from the start: the whole log");
    assert_eq!(take_ids(&mut live, expected.len() - 1).await, expected[1..], "live: the log after connecting");
}
