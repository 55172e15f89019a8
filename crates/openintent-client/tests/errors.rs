//! Mapping of every error status to `Error`/`ApiErrorKind`, transport failures, and the
//! client's configuration errors.

mod common;

use std::time::Duration;

use common::*;
use openintent_client::{ApiErrorKind, Client, Error, RetryConfig};
use openintent_transport::test_util::MockTransport;
use openintent_transport::{Method, Response, TransportError};
use serde_json::json;

async fn status_of(resp: Response) -> Error {
    let (client, mock) = client();
    mock.push(resp);
    client.get_intent(INTENT).await.unwrap_err()
}

#[tokio::test]
async fn every_status_maps_to_its_kind() {
    let e = status_of(example_response("error_patch_state_missing_if_match")).await;
    assert_eq!(e.api_kind(), Some(&ApiErrorKind::Validation { errors: vec![] }));
    assert!(e.is_validation());

    let e = status_of(example_response("error_missing_api_key")).await;
    assert!(e.is_unauthorized());
    assert_eq!(e.api().unwrap().message(), "Invalid or missing API key");

    let e = status_of(example_response("error_governance_violation_403")).await;
    assert_eq!(e.api_kind(), Some(&ApiErrorKind::Forbidden { rule: Some("write_scope".into()) }));

    let e = status_of(example_response("error_get_intent_not_found")).await;
    assert!(e.is_not_found() && !e.is_unsupported());

    let e = status_of(example_response("unassign_agent_unsupported")).await;
    assert!(e.is_unsupported() && !e.is_not_found());

    let e = status_of(example_response("error_patch_state_wrong_method")).await;
    assert!(e.is_unsupported());
    assert_eq!(e.status(), Some(405));

    let e = status_of(example_response("error_patch_state_version_conflict")).await;
    assert!(e.is_version_conflict());
    let e = status_of(json(409, json!({"detail": "Version conflict", "current_version": 4}))).await;
    assert_eq!(e.api_kind(), Some(&ApiErrorKind::VersionConflict { current_version: Some(4) }));
    let e = status_of(example_response("error_acquire_lease_conflict")).await;
    assert!(e.is_lease_conflict(), "the detail mentions a lease");

    let e = status_of(example_response("error_invalid_body_422")).await;
    let errors = e.api().unwrap().field_errors();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].field(), "constraints");
    assert_eq!(e.api().unwrap().message(), "constraints: Input should be a valid dictionary");

    let e = status_of(json(429, json!({"detail": "slow down"})).with_header("Retry-After", "7")).await;
    assert!(e.is_rate_limited());
    assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));

    let e = status_of(Response::new(500).with_body("Internal Server Error")).await;
    assert!(e.is_server_error());
    let api = e.api().unwrap();
    assert_eq!((api.body(), api.message()), ("Internal Server Error", "Internal Server Error"));
    assert!(api.error_body().is_none());

    let e = status_of(Response::new(418).with_body("<html>teapot</html>")).await;
    assert_eq!(e.api_kind(), Some(&ApiErrorKind::Other));
    assert_eq!(e.api().unwrap().body(), "<html>teapot</html>");
    let e = status_of(Response::new(502)).await;
    assert!(e.is_server_error());
    assert_eq!(e.api().unwrap().message(), "HTTP 502");
}

#[tokio::test]
async fn errors_carry_the_request() {
    let e = status_of(example_response("error_get_intent_not_found")).await;
    let api = e.api().unwrap();
    assert_eq!((api.method(), api.path()), (Method::Get, format!("/api/v1/intents/{INTENT}").as_str()));
    assert!(e.to_string().starts_with("404 not found: Intent not found"), "{e}");
}

#[tokio::test]
async fn transport_errors_say_whether_anything_was_sent() {
    let (client, mock) = client();
    mock.push(TransportError::connect("refused"));
    mock.push(TransportError::timeout("slow"));
    let e = client.get_intent(INTENT).await.unwrap_err();
    assert!(e.is_transport() && !e.may_have_been_sent());
    let e = client.create_intent("t").send().await.unwrap_err();
    assert!(e.is_transport() && e.may_have_been_sent());
    assert_eq!(e.to_string(), "timed out: slow");
}

#[tokio::test(start_paused = true)]
async fn the_builder_adds_the_retry_layer() {
    let mock = MockTransport::new();
    mock.push(Response::new(503));
    mock.push(json(429, json!({})).with_header("Retry-After", "2"));
    mock.push(example_response("get_intent"));
    let client = Client::builder()
        .transport(mock.clone())
        .agent_id(AGENT)
        .api_key("secret-key")
        .retry(RetryConfig::default().max_attempts(3))
        .build()
        .unwrap();
    let intent = client.get_intent(INTENT).await.unwrap();
    assert_eq!(intent.id, INTENT);
    let reqs = mock.requests();
    assert_eq!(reqs.len(), 3);
    assert!(reqs.iter().all(|r| r.headers.get("x-api-key") == Some("secret-key")));
    // A POST without If-Match is not repeated after a 503.
    mock.push(Response::new(503));
    assert!(client.create_intent("t").send().await.unwrap_err().is_server_error());
    assert_eq!(mock.request_count(), 4);
}

#[test]
fn configuration_errors_name_the_setting() {
    let err = Client::builder().transport(MockTransport::new()).build().unwrap_err();
    assert!(matches!(&err, Error::Config(c) if c.message.contains("agent_id")), "{err}");
    #[cfg(feature = "reqwest")]
    {
        let err = Client::builder().agent_id("a").build().unwrap_err();
        assert!(err.to_string().contains("base_url"), "{err}");
        let err = Client::new("not a url", "k", "a").unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{err}");
    }
}

#[cfg(feature = "reqwest")]
#[test]
fn from_env_names_the_missing_variable() {
    when_env_unset(|| {
        let err = Client::from_env().unwrap_err();
        assert!(err.to_string().contains("OPENINTENT_URL"), "{err}");
    });
}

#[cfg(feature = "reqwest")]
fn when_env_unset(check: impl FnOnce()) {
    // Edition 2024 makes set_var/remove_var unsafe; the crate forbids unsafe code, so the test
    // runs only when the variables are absent from the environment.
    if std::env::var_os("OPENINTENT_URL").is_none() {
        check();
    }
}

#[test]
fn debug_redacts_the_api_key() {
    let client =
        Client::builder().transport(MockTransport::new()).agent_id(AGENT).api_key("sk-very-secret").build().unwrap();
    let dbg = format!("{client:?}");
    assert!(!dbg.contains("sk-very-secret") && dbg.contains("<redacted>"), "{dbg}");
    let dbg = format!("{:?}", Client::builder().api_key("sk-very-secret"));
    assert!(!dbg.contains("sk-very-secret"), "{dbg}");
}
