//! The blocking client from plain `#[test]` functions (no runtime of the caller's), from
//! inside a runtime, its lease guard, and dropping it anywhere.
#![cfg(feature = "blocking")]

mod common;

use std::time::Duration;

use common::*;
use openintent_client::blocking::Client;
use openintent_client::{CallOptions, Error};
use openintent_transport::Method;
use openintent_transport::test_util::{MockReply, MockTransport, StreamEnd};
use openintent_types::StreamEvent;
use serde_json::json;

const LEASE: &str = "8c30cf68-5adc-46d5-b33b-101bd86913ff";

fn blocking() -> (Client, MockTransport) {
    let mock = MockTransport::new();
    (Client::from_transport(mock.clone(), AGENT).unwrap(), mock)
}

fn live_lease(seconds: i64) -> serde_json::Value {
    let now = chrono::Utc::now();
    json!({"id": LEASE, "intent_id": INTENT, "agent_id": "k", "scope": "analysis",
           "acquired_at": now.to_rfc3339(), "expires_at": (now + chrono::Duration::seconds(seconds)).to_rfc3339()})
}

#[test]
fn calls_work_from_a_plain_test_fn() {
    let (client, mock) = blocking();
    mock.push(example_response("create_intent"));
    mock.push(example_response("get_intent"));
    mock.push(example_response("patch_state_merge"));
    mock.push(example_response("error_get_intent_not_found"));
    let intent = client
        .create_intent("Research market trends")
        .description("Analyze Q4 market data and identify patterns")
        .constraints(json!({"deadline": "2024-02-01"}))
        .initial_state(json!({}))
        .send_blocking()
        .unwrap();
    assert_eq!(body(&mock.requests()[0]), example_request_body("create_intent"));
    let again = client.get_intent(&intent.id).unwrap();
    assert_eq!(again.id, intent.id);
    let updated = client.update_state(&intent.id, intent.version).set("progress", 0.5).send_blocking().unwrap();
    assert_eq!(updated.version, 2);
    assert_request(&mock.requests()[2], Method::Post, &format!("/api/v1/intents/{INTENT}/state"), Some("1"));
    assert!(client.get_intent("00000000-0000-0000-0000-000000000000").unwrap_err().is_not_found());
    // Validation still happens before anything is sent.
    assert!(client.create_intent("").send_blocking().unwrap_err().is_validation());
    assert_eq!(mock.request_count(), 4);
}

#[test]
fn lease_guard_releases_on_drop_and_on_panic() {
    let (client, mock) = blocking();
    mock.push(json(200, live_lease(300)));
    mock.push(example_response("release_lease"));
    {
        let guard = client.lease(INTENT, "analysis").unwrap();
        assert_eq!(guard.scope, "analysis");
        assert_eq!(mock.request_count(), 1);
    }
    assert_request(&mock.requests()[1], Method::Delete, &format!("/api/v1/intents/{INTENT}/leases/{LEASE}"), None);

    mock.push(json(200, live_lease(300)));
    mock.push(example_response("release_lease"));
    let c = client.clone();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _guard = c.lease(INTENT, "analysis").unwrap();
        panic!("work failed");
    }));
    assert!(result.is_err());
    assert_eq!(mock.request_count(), 4);
    assert_eq!(mock.requests()[3].method, Method::Delete);

    // Explicit release reports errors, and the guard does not release twice.
    mock.push(json(200, live_lease(300)));
    mock.push(example_response("error_release_lease_not_owner"));
    let guard = client.lease_for(INTENT, "analysis", 60).unwrap();
    assert_eq!(body(&mock.requests()[4]), json!({"scope": "analysis", "duration_seconds": 60}));
    assert!(guard.release().unwrap_err().is_not_found());
    assert_eq!(mock.request_count(), 6);
}

#[test]
fn with_lease_and_conflicts() {
    let (client, mock) = blocking();
    mock.push(json(200, live_lease(300)));
    mock.push(example_response("release_lease"));
    mock.push(example_response("error_acquire_lease_conflict"));
    let scope = client.with_lease(INTENT, "analysis", |l, c| Ok(format!("{} for {}", l.scope, c.agent_id()))).unwrap();
    assert_eq!(scope, format!("analysis for {AGENT}"));
    let err = client.lease(INTENT, "analysis").unwrap_err();
    assert!(err.is_lease_conflict());
    assert_eq!(mock.request_count(), 3);
}

#[test]
fn with_lease_custom_error_releases_and_returns_the_work_error() {
    #[derive(Debug, PartialEq)]
    enum JobError {
        Client(String),
        NothingToDo,
    }
    impl From<Error> for JobError {
        fn from(e: Error) -> Self {
            JobError::Client(e.to_string())
        }
    }
    let (client, mock) = blocking();
    mock.push(json(200, live_lease(300)));
    mock.push_for(
        Method::Delete,
        format!("/api/v1/intents/{INTENT}/leases/{LEASE}"),
        example_response("release_lease"),
    );
    let err =
        client.with_lease_custom_error(INTENT, "analysis", |_, _| Err::<(), _>(JobError::NothingToDo)).unwrap_err();
    assert_eq!(err, JobError::NothingToDo);
    // A refused acquire comes back as the work's error type, and the work never runs.
    mock.push(example_response("error_acquire_lease_conflict"));
    let err = client
        .with_lease_custom_error(INTENT, "analysis", |_, _| -> Result<(), JobError> { panic!("must not run") })
        .unwrap_err();
    assert!(matches!(err, JobError::Client(_)), "{err:?}");
    assert_eq!(mock.request_count(), 3);
    mock.assert_all_used();
}

#[test]
fn lease_guard_auto_renews() {
    let (client, mock) = blocking();
    mock.push(json(200, live_lease(1)));
    // Enough renewal replies for a slow machine; how many get used depends on timing.
    for _ in 0..20 {
        mock.push_for(Method::Patch, format!("/api/v1/intents/{INTENT}/leases/{LEASE}"), json(200, live_lease(1)));
    }
    mock.allow_unused();
    mock.push_for(
        Method::Delete,
        format!("/api/v1/intents/{INTENT}/leases/{LEASE}"),
        example_response("release_lease"),
    );
    let mut guard = client.lease_for(INTENT, "analysis", 1).unwrap();
    guard.auto_renew().unwrap();
    // Renewal every 0.5 s; wait for the first one.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while mock.request_count() < 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    guard.release().unwrap();
    let methods: Vec<_> = mock.requests().iter().map(|r| r.method).collect();
    assert_eq!(&methods[..2], [Method::Post, Method::Patch]);
    assert_eq!(*methods.last().unwrap(), Method::Delete);
    let n = mock.request_count();
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(mock.request_count(), n, "renewal stopped with the release");
}

#[test]
fn every_area_is_reachable() {
    let (client, mock) = blocking();
    mock.push(example_response("get_events"));
    mock.push(example_response("list_costs"));
    mock.push(example_response("get_retry_policy_not_set"));
    mock.push(example_response("get_portfolio"));
    mock.push(example_response("get_portfolio_intents"));
    mock.push(example_response("discover"));
    mock.push(json(200, json!({"intents": [{"id": "a", "title": "A"}], "total": 1})));
    assert_eq!(client.get_decisions(INTENT).unwrap().len(), 1);
    assert!(client.get_cost_summary(INTENT).unwrap().total > 1500.0);
    assert!(client.get_retry_policy(INTENT).unwrap().is_none());
    assert_eq!(
        client.get_portfolio("0b862959-8825-47bf-b34f-eb7cad9b237d").unwrap().aggregate_status.unwrap().total,
        1
    );
    assert_eq!(client.discover().unwrap().version, "0.1");
    let ids: Vec<String> = client.iter(client.list_intents().into_stream()).map(|i| i.unwrap().id).collect();
    assert_eq!(ids, ["a"]);
    // By cursor, one page (send_blocking) and the walk following `next_cursor`.
    mock.push(json(200, json!({"intents": [{"id": "b", "title": "B"}], "total": 2, "next_cursor": "cb"})));
    let page = client.list_intents().limit(1).cursor("ca").send_blocking().unwrap();
    assert_eq!(page.next_cursor.as_deref(), Some("cb"));
    assert_eq!(query(&mock.last_request().unwrap(), "cursor"), Some("ca"));
    mock.push(json(200, json!({"intents": [{"id": "a", "title": "A"}], "total": 2, "next_cursor": "ca"})));
    mock.push(json(200, json!({"intents": [{"id": "b", "title": "B"}], "total": 2})));
    let ids: Vec<String> = client.iter(client.list_intents().limit(1).into_stream()).map(|i| i.unwrap().id).collect();
    assert_eq!(ids, ["a", "b"]);
    assert_eq!(query(&mock.last_request().unwrap(), "cursor"), Some("ca"));
}

#[test]
fn event_streams_iterate() {
    let (client, mock) = blocking();
    let text = example("sse_subscribe_intent")["response"]["body_text"].as_str().unwrap().to_owned();
    mock.push(MockReply::sse(text).then(StreamEnd::Hang));
    let mut events = client.stream_intent_events("030a440c-328a-4549-89b0-0c6d50abe84e");
    let first = events.next().unwrap().unwrap();
    assert!(matches!(first, StreamEvent::IntentChanged { .. }));
    assert_eq!(events.by_ref().take(2).count(), 2);
    assert!(events.next_timeout(Duration::from_millis(50)).is_none());
}

#[test]
fn every_operation_and_handle_setting_of_the_async_client_exists_here() {
    // Written once for both modes: the blocking client has call options, and its handle
    // stays blocking.
    let (client, mock) = blocking();
    mock.push(example_response("create_intent_minimal"));
    mock.push(example_response("get_intent"));
    mock.push(example_response("list_agents"));
    mock.push(example_response("unassign_agent_unsupported"));
    let once = client.with_options(CallOptions::new().header("Idempotency-Key", "create-42"));
    assert_eq!(once.options().headers, [("Idempotency-Key".to_owned(), "create-42".to_owned())]);
    assert_eq!(once.create_intent("Book hotel in Paris").send_blocking().unwrap().title, "Book hotel in Paris");
    assert_eq!(mock.requests()[0].headers.get("idempotency-key"), Some("create-42"));
    assert_eq!(client.get_intent(INTENT).unwrap().id, INTENT);
    assert!(!mock.requests()[1].headers.contains("idempotency-key"), "the original handle is unchanged");
    assert!(!client.get_agents(INTENT).unwrap().is_empty());
    assert!(client.unassign_agent(INTENT, "agent-research").unwrap_err().is_unsupported());
    mock.assert_all_used();
}

#[tokio::test(flavor = "current_thread")]
async fn usable_and_droppable_inside_a_runtime() {
    let (client, mock) = blocking();
    mock.push(example_response("get_intent"));
    // A blocking call from a runtime thread does not panic (it waits for the client's own
    // runtime), and neither does dropping the client here.
    assert_eq!(client.get_intent(INTENT).unwrap().id, INTENT);
    drop(client);
}

#[test]
fn the_async_client_underneath_shares_the_transport() {
    let (client, mock) = blocking();
    mock.push(example_response("get_intent"));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let a = client.async_client().clone();
    let intent = rt.block_on(async move { a.get_intent(INTENT).await }).unwrap();
    assert_eq!(intent.id, INTENT);
    drop(rt);
    drop(client);
}
