//! Error mapping: missing resources, authentication, and client-side validation.

use openintent::{Client, Error};
use serde_json::json;

use crate::common::{Must, new_intent, target, unique};

const UNKNOWN_ID: &str = "00000000-0000-4000-8000-000000000000";

#[tokio::test]
async fn unknown_resources_are_not_found() {
    let client = target().client(&unique("seeker"));

    let err = client.get_intent(UNKNOWN_ID).await.expect_err("unknown intent");
    assert!(err.is_not_found(), "expected not found, got {err} ({err:?})");
    assert!(!err.is_unsupported(), "a missing intent is not a missing route");
    assert_eq!(err.status(), Some(404));

    let err = client.update_state(UNKNOWN_ID, 1).set("k", "v").send().await.expect_err("unknown intent");
    assert!(err.is_not_found(), "update_state on an unknown intent: {err}");

    let err = client.get_portfolio(UNKNOWN_ID).await.expect_err("unknown portfolio");
    assert!(err.is_not_found(), "unknown portfolio: {err}");

    // The reference server lists an unknown intent's sub-resources as empty; openintent-rs
    // answers 404 `Intent not found`, as for the intent itself.
    let events = client.get_events(UNKNOWN_ID).send().await;
    let leases = client.get_leases(UNKNOWN_ID).all().send().await.map(|l| l.len());
    if target().full() {
        for (what, r) in [("events", events.map(|e| e.len())), ("leases", leases)] {
            let err = r.expect_err(what);
            assert!(err.is_not_found(), "{what} of an unknown intent: {err}");
        }
    } else {
        assert!(events.must("events of an unknown intent").is_empty());
    }

    let intent = new_intent(&client, "unknown lease").await;
    let err = client.release_lease(&intent.id, UNKNOWN_ID).await.expect_err("unknown lease");
    assert!(err.is_not_found(), "unknown lease: {err}");
}

#[tokio::test]
async fn bad_or_missing_key_is_unauthorized() {
    let t = target();
    let bad = Client::builder()
        .base_url(t.url.clone())
        .api_key("definitely-not-a-key")
        .agent_id(unique("intruder"))
        .build()
        .expect("client");
    let err = bad.create_intent("should not exist").send().await.expect_err("bad key");
    assert!(err.is_unauthorized(), "expected 401, got {err} ({err:?})");
    assert_eq!(err.status(), Some(401));
    let err = bad.get_intent(UNKNOWN_ID).await.expect_err("bad key");
    assert!(err.is_unauthorized(), "{err}");

    let keyless = Client::builder().base_url(t.url.clone()).agent_id(unique("anonymous")).build().expect("client");
    let err = keyless.create_intent("should not exist").send().await.expect_err("no key");
    assert!(err.is_unauthorized(), "expected 401 without a key, got {err}");

    // A good key still works, and discovery needs none.
    t.client(&unique("insider")).create_intent(unique("allowed")).send().await.must("good key");
    keyless.discover().await.must("discovery is public");
}

/// Invalid input is refused before anything is sent: the client points at a port where
/// nothing listens, so any request would have been a transport error.
#[tokio::test]
async fn client_side_validation_sends_nothing() {
    let nowhere = Client::builder()
        .base_url("http://127.0.0.1:1")
        .api_key("dev-user-key")
        .agent_id("validator")
        .no_retry()
        .build()
        .expect("client");

    let cases: Vec<(&str, Result<(), Error>)> = vec![
        ("empty title", nowhere.create_intent("").send().await.map(drop)),
        ("empty intent id", nowhere.get_intent("").await.map(drop)),
        ("constraints not an object", nowhere.create_intent("t").constraints(json!([1])).send().await.map(drop)),
        ("state not an object", nowhere.update_state("i", 1).merge(json!("x")).send().await.map(drop)),
        ("lease duration 0", nowhere.acquire_lease("i", "scope").duration_seconds(0).send().await.map(drop)),
        ("empty scope", nowhere.acquire_lease("i", "").send().await.map(drop)),
        ("bad base64", nowhere.add_attachment("i", "f", "text/plain", "@@").send().await.map(drop)),
        ("empty event type", nowhere.log_event("i", "").send().await.map(drop)),
    ];
    for (what, result) in cases {
        match result {
            Err(Error::Invalid(e)) => {
                assert!(!e.to_string().is_empty(), "{what}: the error names the problem");
            }
            Err(other) => panic!("{what}: expected Error::Invalid, got {other} ({other:?})"),
            Ok(()) => panic!("{what}: accepted"),
        }
    }
    // The same client does send valid input (and fails to connect), so the cases above were
    // refused by validation, not by the network.
    let err = nowhere.get_intent("some-id").await.expect_err("nothing listens");
    assert!(err.is_transport(), "{err:?}");
}
