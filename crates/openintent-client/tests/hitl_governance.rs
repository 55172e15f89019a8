//! Human-in-the-loop and governance calls: wire shape against the captured exchanges of the
//! reference server, and the answers of routes it lacks.

mod common;

use std::time::Duration;

use common::*;
use openintent_client::hitl::InputOutcome;
use openintent_transport::Method;
use openintent_types::{
    ApprovalStatus, CompletionMode, EscalationPriority, EscalationStatus, GovernancePolicy, InboxKind, SuspensionChoice,
};
use serde_json::json;

const GOV: &str = "b1dcb2b4-3105-4115-90b5-31b46c7cf6c0";
const APPROVAL: &str = "16288d1d-d9dc-437b-86e7-6f5b66fe3732";
const ESCALATION: &str = "ddbfe8a3-f832-42f1-96f2-fd64e6bbd334";
const HITL: &str = "22a8a7d8-6826-4515-a6a8-8ca10633c0cb";

fn gpath(suffix: &str) -> String {
    format!("/api/v1/intents/{GOV}{suffix}")
}

#[tokio::test]
async fn governance_policy_set_get_remove() {
    let (client, mock) = client();
    mock.push(example_response("governance_set"));
    mock.push(example_response("governance_get"));
    mock.push(example_response("governance_remove"));
    let mut policy = GovernancePolicy::default();
    policy.completion_mode = Some(CompletionMode::RequireApproval);
    policy.write_scope = Some(openintent_types::WriteScope::Any);
    policy.max_cost = Some(500.0);
    policy.require_status_reason = Some(false);
    let intent = client.set_governance_policy(GOV, 1, &policy).await.unwrap();
    assert_eq!(intent.id, GOV);
    let req = mock.last_request().unwrap();
    assert_request(&req, Method::Put, &gpath("/governance"), Some("1"));
    assert_eq!(body(&req), example_request_body("governance_set"));

    let g = client.get_governance_policy(GOV).await.unwrap();
    assert_eq!(g.effective_policy.completion_mode, CompletionMode::RequireApproval);
    assert_eq!(g.governance_policy.max_cost, Some(500.0));

    let v = example("governance_remove")["request"]["headers"]["If-Match"].as_str().unwrap().to_owned();
    client.remove_governance_policy(GOV, v.parse().unwrap()).await.unwrap();
    assert_request(&mock.last_request().unwrap(), Method::Delete, &gpath("/governance"), Some(&v));
    mock.assert_all_used();
}

#[tokio::test]
async fn approvals_request_read_and_decide() {
    let (client, mock) = client();
    mock.push(example_response("governance_request_approval"));
    mock.push(example_response("governance_get_approval"));
    mock.push(example_response("governance_approve"));
    mock.push(example_response("governance_error_approve_twice"));
    let a = client
        .request_approval(GOV, "complete")
        .reason("Deployment verified")
        .context(json!({"build": "1234"}))
        .requested_by("deploy-bot")
        .send()
        .await
        .unwrap();
    assert_eq!((a.status, a.action.as_str()), (ApprovalStatus::Pending, "complete"));
    let req = mock.last_request().unwrap();
    assert_request(&req, Method::Post, &gpath("/approvals"), None);
    assert_eq!(body(&req), example_request_body("governance_request_approval"));

    let got = client.get_approval_status(GOV, APPROVAL).await.unwrap();
    assert_eq!(got.id, APPROVAL);
    let approved = client.approve_approval(GOV, APPROVAL).await.unwrap();
    assert!(approved.counts_for_completion() && approved.decided_by.is_some());
    let req = mock.last_request().unwrap();
    assert_request(&req, Method::Post, &gpath(&format!("/approvals/{APPROVAL}/approve")), None);
    assert!(req.body.is_none(), "approve sends no body");
    let err = client.approve_approval(GOV, APPROVAL).await.unwrap_err();
    assert!(err.is_conflict(), "{err}");
    mock.assert_all_used();

    // Without requested_by, the agent asks; bad input never leaves the client.
    mock.push(example_response("governance_request_approval"));
    client.request_approval(GOV, "complete").send().await.unwrap();
    assert_eq!(body(&mock.last_request().unwrap())["requested_by"], AGENT);
    assert!(client.request_approval(GOV, " ").send().await.unwrap_err().is_validation());
    assert!(client.request_approval(GOV, "x").context(json!([1])).send().await.unwrap_err().is_validation());
    mock.assert_all_used();
}

#[tokio::test]
async fn list_approvals_on_the_reference_is_unsupported() {
    let (client, mock) = client();
    mock.push(example_response("governance_list_approvals_unsupported"));
    let err = client.list_approvals(GOV).await.unwrap_err();
    assert!(err.is_unsupported(), "{err}");
    mock.push(json(200, json!([example("governance_approve")["response"]["body"]])));
    assert_eq!(client.list_approvals(GOV).await.unwrap()[0].status, ApprovalStatus::Approved);
}

#[tokio::test]
async fn a_completion_gate_refusal_names_its_rule() {
    let (client, mock) = client();
    mock.push(example_response("governance_error_complete_requires_approval"));
    let err = client.set_status(GOV, 2, "completed").send().await.unwrap_err();
    assert!(err.is_forbidden());
    assert_eq!(err.api().and_then(|a| a.rule()), Some("completion_mode"));
}

#[tokio::test]
async fn escalations_open_list_resolve() {
    let (client, mock) = client();
    mock.push(example_response("governance_escalate"));
    mock.push(example_response("governance_list_escalations"));
    mock.push(example_response("governance_resolve_escalation"));
    let e = client
        .escalate_to_human(GOV, "Budget overrun")
        .priority(EscalationPriority::High)
        .urgency("medium")
        .context(json!({"spent": 520}))
        .send()
        .await
        .unwrap();
    assert_eq!(e.id, ESCALATION);
    let req = mock.last_request().unwrap();
    assert_request(&req, Method::Post, &gpath("/escalations"), None);
    let mut expected = example_request_body("governance_escalate");
    expected["escalated_by"] = json!(AGENT);
    assert_eq!(body(&req), expected);

    let open = client.list_escalations(Some(GOV), Some(EscalationStatus::Pending)).await.unwrap();
    assert_eq!(open.len(), 1);
    let req = mock.last_request().unwrap();
    assert_eq!((query(&req, "intent_id"), query(&req, "status")), (Some(GOV), Some("pending")));

    let resolved = client.resolve_escalation(ESCALATION, "approved_overrun").notes("one-off").send().await.unwrap();
    assert_eq!(resolved.status, EscalationStatus::Resolved);
    let req = mock.last_request().unwrap();
    assert_request(&req, Method::Post, &format!("/api/v1/escalations/{ESCALATION}/resolve"), None);
    assert_eq!(body(&req), json!({"resolution": "approved_overrun", "notes": "one-off", "resolved_by": AGENT}));
    mock.assert_all_used();
}

#[tokio::test]
async fn inbox_reads_the_list_typed() {
    let (client, mock) = client();
    let at = "2026-12-03T10:00:00.000001Z";
    mock.push(json(
        200,
        json!({"items": [
            {"kind": "input", "intent_id": HITL, "intent_title": "Refund", "intent_status": "suspended_awaiting_input",
             "created_at": at, "item": {"id": "s-1", "question": "Refund order 12345?", "response_type": "text"}},
            {"kind": "approval", "intent_id": GOV, "intent_title": "Deploy", "intent_status": "active",
             "created_at": at, "item": {"id": APPROVAL, "intent_id": GOV, "action": "complete", "status": "pending"}},
            {"kind": "review", "intent_id": GOV, "intent_title": "Deploy", "intent_status": "active",
             "created_at": at, "item": {}}
        ]}),
    ));
    let items = client.inbox().await.unwrap();
    assert_request(&mock.last_request().unwrap(), Method::Get, "/api/v1/inbox", None);
    assert_eq!(items.len(), 3);
    assert_eq!(items[0].suspension().unwrap().question, "Refund order 12345?");
    assert_eq!(items[1].approval().unwrap().status, ApprovalStatus::Pending);
    assert_eq!(items[2].kind, InboxKind::Unknown("review".into()), "a kind this version does not know is kept");
    // A server without the route (the reference's bare 404); a malformed item names its place.
    mock.push(json(404, json!({"detail": "Not Found"})));
    assert!(client.inbox().await.unwrap_err().is_unsupported());
    mock.push(json(200, json!({"items": [{"kind": "input", "intent_id": HITL}]})));
    let err = client.inbox().await.unwrap_err();
    assert!(err.to_string().contains("[0]") && err.to_string().contains("created_at"), "{err}");
    mock.assert_all_used();
}

#[tokio::test]
async fn get_escalation_reads_one() {
    let (client, mock) = client();
    mock.push(example_response("governance_escalate"));
    let e = client.get_escalation(ESCALATION).await.unwrap();
    assert_eq!((e.id.as_str(), e.intent_id.as_str(), &e.status), (ESCALATION, GOV, &EscalationStatus::Pending));
    assert_eq!(e.context["spent"], 520);
    let req = mock.last_request().unwrap();
    assert_request(&req, Method::Get, &format!("/api/v1/escalations/{ESCALATION}"), None);
    assert!(req.body.is_none());
    // An unknown id is a missing resource; the reference has no such route (its 404 `Not Found`).
    mock.push(json(404, json!({"detail": "Escalation not found"})));
    let err = client.get_escalation("no-such-escalation").await.unwrap_err();
    assert!(err.is_not_found() && !err.is_unsupported(), "{err}");
    mock.push(json(404, json!({"detail": "Not Found"})));
    assert!(client.get_escalation(ESCALATION).await.unwrap_err().is_unsupported());
    let err = client.get_escalation("").await.unwrap_err();
    assert!(err.is_validation() && err.to_string().contains("escalation_id"), "{err}");
    assert_eq!(mock.request_count(), 3);
}

#[tokio::test]
async fn respond_and_the_reference_lacking_suspend() {
    let (client, mock) = client();
    mock.push(example_response("hitl_respond"));
    let req_body = example_request_body("hitl_respond");
    let answer = client
        .respond_to_suspension(HITL, req_body["suspension_id"].as_str().unwrap(), "approve")
        .responded_by("alice@example.com")
        .metadata(json!({"channel": "slack"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.choice_label.as_deref(), Some("Approve refund"));
    let req = mock.last_request().unwrap();
    assert_request(&req, Method::Post, &format!("/api/v1/intents/{HITL}/suspend/respond"), None);
    assert_eq!(body(&req), req_body);

    mock.push(example_response("hitl_error_respond_invalid_choice"));
    let err = client.respond_to_suspension(HITL, "s", "maybe").send().await.unwrap_err();
    assert!(err.is_validation(), "{err}");

    mock.push(example_response("hitl_suspend_unsupported"));
    let err = client.suspend(HITL, 1, "Refund?").response_type("text").send().await.unwrap_err();
    assert!(err.is_unsupported(), "{err}");
    let req = mock.last_request().unwrap();
    assert_request(&req, Method::Post, &format!("/api/v1/intents/{HITL}/suspend"), Some("1"));
    // A choice question without choices is refused before sending.
    assert!(client.suspend(HITL, 1, "Refund?").send().await.unwrap_err().is_validation());
    let choice = client
        .suspend(HITL, 1, "Refund?")
        .choice(SuspensionChoice::new("a", "A"))
        .fallback_value("b")
        .send()
        .await
        .unwrap_err();
    assert!(choice.is_validation());
    mock.assert_all_used();
}

fn intent_with(status: &str, suspension: serde_json::Value) -> serde_json::Value {
    json!({"id": HITL, "title": "t", "status": status, "version": 3, "state": {"_suspension": suspension},
           "created_at": "2026-12-03T09:13:03.600000", "updated_at": "2026-12-03T09:13:03.600000"})
}

#[tokio::test]
async fn wait_for_input_reads_the_record_or_the_resumed_event() {
    let (client, mock) = client();
    let pending = json!({"id": "s1", "question": "q"});
    // A server that stores the answer.
    mock.push(json(200, intent_with("suspended_awaiting_input", pending.clone())));
    mock.push(json(
        200,
        intent_with("active", json!({"id": "s1", "question": "q", "resolution": "responded", "response": "yes"})),
    ));
    let got = client.wait_for_input(HITL, "s1", Duration::from_millis(1), Duration::from_secs(5)).await.unwrap();
    assert_eq!(got, InputOutcome::Responded(json!("yes")));
    mock.assert_all_used();

    // The reference: resumed, the record unchanged; the answer is in `intent.resumed`.
    mock.push(json(200, intent_with("active", pending.clone())));
    mock.push(json(
        200,
        json!([
            {"id": "e2", "intent_id": HITL, "event_type": "intent.resumed", "actor": "alice",
             "payload": {"suspension_id": "s1", "value": "approve"}, "created_at": "2026-12-03T09:13:03.658126"},
        ]),
    ));
    let got = client.wait_for_input(HITL, "s1", Duration::from_millis(1), Duration::from_secs(5)).await.unwrap();
    assert_eq!(got, InputOutcome::Responded(json!("approve")));

    // Expired by the server's fallback policy.
    mock.push(json(200, intent_with("abandoned", json!({"id": "s1", "question": "q", "resolution": "expired"}))));
    let got = client.wait_for_input(HITL, "s1", Duration::from_millis(1), Duration::from_secs(5)).await.unwrap();
    assert!(matches!(got, InputOutcome::Expired { value: None, .. }), "{got:?}");

    // Still unanswered when the wait ends.
    mock.push(json(200, intent_with("suspended_awaiting_input", pending)));
    let got = client.wait_for_input(HITL, "s1", Duration::from_secs(10), Duration::from_millis(5)).await.unwrap();
    assert_eq!(got, InputOutcome::StillWaiting);
}

#[cfg(feature = "blocking")]
#[test]
fn the_blocking_client_answers_a_suspension() {
    let mock = openintent_transport::test_util::MockTransport::new();
    let client = openintent_client::blocking::Client::from_transport(mock.clone(), AGENT).unwrap();
    mock.push(example_response("hitl_respond"));
    let answer = client.respond_to_suspension(HITL, "s", "approve").send_blocking().unwrap();
    assert_eq!(answer.value, json!("approve"));
    mock.push(example_response("governance_get"));
    assert_eq!(client.get_governance_policy(GOV).unwrap().intent_id, GOV);
    mock.push(example_response("governance_escalate"));
    assert_eq!(client.get_escalation(ESCALATION).unwrap().id, ESCALATION);
}
