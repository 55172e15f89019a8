//! Coordinator leases against the captured exchanges of the reference server: the request
//! body, the lease read back (`lease_metadata`, naive timestamps), the bare list, the
//! heartbeat answer and its 404; the same calls from the blocking client.

mod common;

use chrono::Duration;
use common::*;
use openintent_transport::Method;
use openintent_types::CreateCoordinatorLeaseRequest;
use serde_json::{Map, json};

const INTENT_ID: &str = "b1dcb2b4-3105-4115-90b5-31b46c7cf6c0";
const LEASE: &str = "cc20b89d-5767-4ddc-ba9a-86da38665a34";

fn request() -> CreateCoordinatorLeaseRequest {
    let mut req = CreateCoordinatorLeaseRequest::for_intent("coordinator", INTENT_ID);
    req.supervisor_id = Some("human-1".into());
    req.guardrails = Some(Map::from_iter([("max_budget_usd".to_owned(), json!(50))]));
    req.heartbeat_interval_seconds = Some(60);
    req
}

#[tokio::test]
async fn create_list_heartbeat_and_not_found() {
    let (client, mock) = client();
    mock.push(example_response("governance_coordinator_lease_create"));
    mock.push(example_response("governance_coordinator_lease_create"));
    mock.push(example_response("governance_coordinator_list_for_intent"));
    mock.push(example_response("governance_coordinator_heartbeat"));
    mock.push(example_response("governance_coordinator_error_heartbeat_not_found"));

    let lease = client.create_coordinator_lease(&request()).await.unwrap();
    let req = mock.last_request().unwrap();
    assert_request(&req, Method::Post, "/api/v1/coordinators", None);
    assert_eq!(body(&req), example_request_body("governance_coordinator_lease_create"));
    assert_eq!((lease.id.as_str(), lease.intent_id.as_deref()), (LEASE, Some(INTENT_ID)));
    assert_eq!(
        (lease.role.as_str(), lease.coordinator_type.as_str(), lease.scope.as_str()),
        ("coordinator", "llm", "intent")
    );
    assert_eq!((lease.status.as_str(), lease.version, lease.heartbeat_interval_seconds), ("active", 1, Some(60)));
    assert_eq!(lease.guardrails["max_budget_usd"], 50);
    assert!(lease.last_heartbeat.is_none() && lease.metadata.is_empty());

    let again = client.get_coordinator_lease(LEASE).await.unwrap();
    assert_request(&mock.last_request().unwrap(), Method::Get, &format!("/api/v1/coordinators/{LEASE}"), None);
    assert_eq!(again, lease);

    let leases = client.list_coordinator_leases(INTENT_ID).await.unwrap();
    assert_request(
        &mock.last_request().unwrap(),
        Method::Get,
        &format!("/api/v1/intents/{INTENT_ID}/coordinators"),
        None,
    );
    assert_eq!(leases.len(), 1);
    assert_eq!(leases[0].last_heartbeat.unwrap() - leases[0].granted_at, Duration::microseconds(18_707));

    let beat = client.coordinator_heartbeat(LEASE).await.unwrap();
    let req = mock.last_request().unwrap();
    assert_request(&req, Method::Post, &format!("/api/v1/coordinators/{LEASE}/heartbeat"), None);
    assert!(req.body.is_none(), "no body");
    assert!(beat.is_acknowledged());
    assert_eq!(beat.next_heartbeat_at.unwrap().to_rfc3339(), "2026-12-03T09:14:04.636039+00:00");

    let e = client.coordinator_heartbeat("no-such-lease").await.unwrap_err();
    assert!(e.is_not_found(), "{e}");
    assert!(e.to_string().contains("Coordinator lease not found"), "{e}");

    // Validation before sending.
    let e = client.create_coordinator_lease(&CreateCoordinatorLeaseRequest::for_intent("", INTENT_ID)).await;
    assert!(e.unwrap_err().is_validation());
    mock.assert_all_used();
}

#[cfg(feature = "blocking")]
#[test]
fn the_blocking_client_has_the_same_calls() {
    let mock = openintent_transport::test_util::MockTransport::new();
    let client = openintent_client::blocking::Client::from_transport(mock.clone(), AGENT).unwrap();
    mock.push(example_response("governance_coordinator_lease_create"));
    mock.push(example_response("governance_coordinator_list_for_intent"));
    mock.push(example_response("governance_coordinator_heartbeat"));
    assert_eq!(client.create_coordinator_lease(&request()).unwrap().id, LEASE);
    assert_eq!(client.list_coordinator_leases(INTENT_ID).unwrap()[0].agent_id, "coordinator");
    assert_eq!(client.coordinator_heartbeat(LEASE).unwrap().status.as_deref(), Some("ok"));
    mock.assert_all_used();
}
