//! Coordinator leases against the captured exchanges of the reference server: the request
//! body, the lease read back (`lease_metadata`, naive timestamps), the bare list, the
//! heartbeat answer and its 404; decision records (the body sent, the record read back, the
//! list's path and `limit`, the reference's 404 for that path as unsupported); the same calls
//! from the blocking client.

mod common;

use chrono::Duration;
use common::*;
use openintent_transport::Method;
use openintent_types::{CreateCoordinatorLeaseRequest, CreateDecisionRecordRequest};
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

const DECISION_LEASE: &str = "b57191fe-dbe2-4aec-bd76-0b00270b599a";
const DECISION_INTENT: &str = "3c4e5d0a-ae8d-4d46-8a7d-b833597a3f2b";

fn decision() -> CreateDecisionRecordRequest {
    let mut req = CreateDecisionRecordRequest::new(
        DECISION_LEASE,
        DECISION_INTENT,
        "task_assigned",
        "Assign research to alpha",
        "alpha has the capacity",
    );
    req.alternatives_considered = Some(vec![json!({"option": "beta", "reason": "busy"})]);
    req.confidence = Some(0.85);
    req
}

#[tokio::test]
async fn decision_records_create_list_and_the_references_missing_route() {
    let (client, mock) = client();
    mock.push(example_response("governance_decision_record_create"));
    mock.push(example_response("governance_decision_record_create_minimal"));
    // The reference's list (at `…/decisions`) answered for the SDK's path: the same records.
    mock.push(example_response("governance_decision_record_list"));
    mock.push(example_response("governance_decision_record_list_unsupported"));

    let record = client.create_decision_record(&decision()).await.unwrap();
    let req = mock.last_request().unwrap();
    assert_request(&req, Method::Post, "/api/v1/decisions", None);
    assert_eq!(body(&req), example_request_body("governance_decision_record_create"));
    assert_eq!((record.coordinator_id.as_str(), record.intent_id.as_str()), (DECISION_LEASE, DECISION_INTENT));
    assert_eq!((record.decision_type.as_str(), record.confidence), ("task_assigned", Some(0.85)));
    assert_eq!(record.alternatives_considered[0]["option"], "beta");
    assert_eq!(record.timestamp.to_rfc3339(), "2026-12-04T10:49:16.996343+00:00");

    let minimal =
        CreateDecisionRecordRequest::new(DECISION_LEASE, DECISION_INTENT, "plan_created", "Plan", "First step");
    let second = client.create_decision_record(&minimal).await.unwrap();
    assert_eq!(body(&mock.last_request().unwrap()), example_request_body("governance_decision_record_create_minimal"));
    assert!(second.alternatives_considered.is_empty() && second.confidence.is_none());

    let records = client.list_decision_records(DECISION_INTENT, Some(50)).await.unwrap();
    let req = mock.last_request().unwrap();
    assert_request(&req, Method::Get, &format!("/api/v1/intents/{DECISION_INTENT}/coordinator-decisions"), None);
    assert_eq!(query(&req, "limit"), Some("50"));
    assert_eq!(records.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), [second.id.as_str(), record.id.as_str()]);

    let e = client.list_decision_records(DECISION_INTENT, None).await.unwrap_err();
    assert_eq!(query(&mock.last_request().unwrap(), "limit"), None);
    assert!(e.is_unsupported(), "{e}");

    // Validation before sending.
    let mut bad = decision();
    bad.confidence = Some(1.5);
    assert!(client.create_decision_record(&bad).await.unwrap_err().is_validation());
    let mut bad = decision();
    bad.alternatives_considered = Some(vec![json!("b")]);
    assert!(client.create_decision_record(&bad).await.unwrap_err().is_validation());
    let blank = CreateDecisionRecordRequest::new(DECISION_LEASE, DECISION_INTENT, "plan_created", " ", "r");
    assert!(client.create_decision_record(&blank).await.unwrap_err().is_validation());
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
    mock.push(example_response("governance_decision_record_create"));
    mock.push(example_response("governance_decision_record_list"));
    assert_eq!(client.create_decision_record(&decision()).unwrap().coordinator_id, DECISION_LEASE);
    assert_eq!(client.list_decision_records(DECISION_INTENT, None).unwrap().len(), 2);
    mock.assert_all_used();
}
