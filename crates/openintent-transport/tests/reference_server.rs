//! Interop with the Python reference server. Runs only when
//! `OPENINTENT_REFERENCE_URL` is set, e.g.:
//!
//! ```text
//! scripts/reference-server.sh run -- cargo test -p openintent-transport --test reference_server
//! ```
#![cfg(feature = "reqwest")]

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use openintent_transport::sse::{EventSource, ReconnectConfig, SseItem};
use openintent_transport::{Request, ReqwestTransport, RetryConfig, RetryingTransport, Transport};

fn reference_url() -> Option<String> {
    match std::env::var("OPENINTENT_REFERENCE_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            println!("skipped: OPENINTENT_REFERENCE_URL is not set");
            None
        }
    }
}

fn json(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body).expect("a JSON body")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_patch_arrives_on_the_intent_stream() {
    let Some(url) = reference_url() else { return };
    let raw = ReqwestTransport::builder(&url).api_key("dev-user-key").agent_id("rust-transport-test").build().unwrap();
    let transport: Arc<dyn Transport> = Arc::new(RetryingTransport::new(raw, RetryConfig::default()));

    let created = transport.send(Request::post("/api/v1/intents").json_body(r#"{"title":"t"}"#)).await.unwrap();
    assert!(created.is_success(), "{} {}", created.status, created.text());
    let intent = json(&created.body);
    let id = intent["id"].as_str().expect("intent id").to_owned();
    let mut version = intent["version"].as_i64().expect("intent version");

    let mut source = EventSource::with_config(
        transport.clone(),
        Request::get(format!("/api/v1/subscribe/intents/{id}")),
        ReconnectConfig::default().max_retries(Some(3)),
    );
    // Wait for the stream to open before changing the intent: the reference
    // does not replay past events.
    match tokio::time::timeout(Duration::from_secs(10), source.next()).await {
        Ok(Some(Ok(SseItem::Connected { status: 200, .. }))) => {}
        other => panic!("the subscription did not open: {other:?}"),
    }

    let deadline = Instant::now() + Duration::from_secs(10);
    let mut patches = 0;
    'patching: while Instant::now() < deadline {
        // The server may register the subscriber just after sending the
        // headers; patch again (with the new version) if nothing arrives.
        let resp = transport
            .send(
                Request::post(format!("/api/v1/intents/{id}/state"))
                    .header("If-Match", version.to_string())
                    .json_body(r#"{"patches":[{"op":"set","path":"/k","value":1}]}"#),
            )
            .await
            .unwrap();
        assert!(resp.is_success(), "{} {}", resp.status, resp.text());
        version = json(&resp.body)["version"].as_i64().expect("new version");
        patches += 1;

        let wait_until = (Instant::now() + Duration::from_secs(3)).min(deadline);
        while let Ok(item) = tokio::time::timeout_at(wait_until.into(), source.next()).await {
            match item {
                Some(Ok(SseItem::Event(ev))) if ev.event == "state_patched" => {
                    let data = json(ev.data.as_bytes());
                    assert_eq!(data["id"], id.as_str());
                    assert_eq!(data["state"]["k"], 1);
                    break 'patching;
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => panic!("the subscription failed: {e}"),
                None => panic!("the subscription ended"),
            }
        }
        assert!(Instant::now() < deadline, "no state_patched event within 10 s ({patches} patches)");
    }
    assert!(patches >= 1);
}

#[tokio::test]
async fn missing_key_is_refused_before_the_stream() {
    let Some(url) = reference_url() else { return };
    let transport: Arc<dyn Transport> = Arc::new(ReqwestTransport::builder(&url).build().unwrap());
    let mut source = EventSource::new(transport, Request::get("/api/v1/subscribe/intents/nope"));
    let item = tokio::time::timeout(Duration::from_secs(10), source.next())
        .await
        .expect("an answer within 10 s")
        .expect("an item");
    let err = item.expect_err("a refusal");
    assert_eq!(err.status(), Some(401));
}
