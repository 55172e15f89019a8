//! Properties of the public API: thread safety, per-call options, cheap handles.

mod common;

use std::time::Duration;

use common::*;
use openintent_client::{CallOptions, Client, Error, RetryMode};

fn assert_send_sync<T: Send + Sync + 'static>() {}
fn assert_send<T: Send>(_: &T) {}

#[test]
fn clients_errors_and_call_futures_are_thread_safe() {
    assert_send_sync::<Client>();
    assert_send_sync::<Error>();
    #[cfg(feature = "blocking")]
    assert_send_sync::<openintent_client::blocking::Client>();
    let (client, _mock) = client();
    assert_send(&client.create_intent("t").send());
    assert_send(&client.get_intent("i"));
    assert_send(&client.list_intents().into_stream());
    assert_send(&client.stream_intent_events("i").into_stream());
    assert_send(&client.with_lease("i", "s", |_, _| async { Ok(()) }).send());
    assert_send(&client.with_lease_custom_error("i", "s", |_, _| async { Ok::<(), Error>(()) }).send());
    assert!(std::mem::size_of::<Error>() <= 128, "Error stays small: {}", std::mem::size_of::<Error>());
}

#[tokio::test]
async fn call_options_apply_to_every_call_of_a_handle() {
    let (client, mock) = client();
    mock.push(example_response("get_intent"));
    mock.push(example_response("create_intent_minimal"));
    mock.push(example_response("get_intent"));
    let opts =
        CallOptions::new().timeout(Duration::from_secs(90)).retry(RetryMode::Always).header("Idempotency-Key", "k-1");
    let handle = client.with_options(opts.clone());
    assert_eq!(handle.options(), &opts);
    assert_eq!(handle.agent_id(), AGENT);
    handle.get_intent(INTENT).await.unwrap();
    handle.create_intent("Book hotel in Paris").await.unwrap();
    client.get_intent(INTENT).await.unwrap();
    let reqs = mock.requests();
    for r in &reqs[..2] {
        assert_eq!(r.timeout, Some(Duration::from_secs(90)));
        assert_eq!(r.retry, RetryMode::Always);
        assert_eq!(r.headers.get("idempotency-key"), Some("k-1"));
    }
    assert_eq!((reqs[2].timeout, reqs[2].retry), (None, RetryMode::Auto), "the original client is unchanged");
    assert!(!reqs[2].headers.contains("idempotency-key"));
}
