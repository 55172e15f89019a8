//! Events, governance, attachments, subscriptions (webhooks), costs, retry policies,
//! portfolios and discovery: wire shape and response parsing of every call.

mod common;

use common::*;
use openintent_client::Error;
use openintent_transport::Method;
use openintent_types::{
    AttachmentUpload, CreateAttachmentRequest, EventType, MembershipRole, PortfolioStatus, RetryStrategy,
    SetRetryPolicyRequest,
};
use serde_json::json;

const PORTFOLIO: &str = "0b862959-8825-47bf-b34f-eb7cad9b237d";

fn ipath(suffix: &str) -> String {
    format!("/api/v1/intents/{INTENT}{suffix}")
}

// ----- events -----

#[tokio::test]
async fn log_event_sends_actor() {
    let (client, mock) = client();
    mock.push(example_response("log_event"));
    let ev = client
        .log_event(INTENT, "comment")
        .payload(json!({"message": "Starting analysis phase"}))
        .send()
        .await
        .unwrap();
    assert_eq!((&ev.event_type, ev.agent_id()), (&EventType::Comment, AGENT));
    let req = mock.last_request().unwrap();
    assert_request(&req, Method::Post, &ipath("/events"), None);
    assert_eq!(body(&req), example_request_body("log_event"));
    assert!(client.log_event(INTENT, "").send().await.unwrap_err().is_validation());
    assert!(client.log_event(INTENT, "x").payload(json!("no")).send().await.unwrap_err().is_validation());
    assert_eq!(mock.request_count(), 1);
}

/// An unknown intent's log: the reference server answers 200 `[]`, openintent-rs 404
/// `Intent not found`; the client passes both on as the server said.
#[tokio::test]
async fn get_events_of_an_unknown_intent_on_either_server() {
    let (client, mock) = client();
    mock.push(json(200, json!([])));
    mock.push(json(404, json!({"detail": "Intent not found"})));
    assert!(client.get_events(INTENT).send().await.unwrap().is_empty());
    let err = client.get_events(INTENT).send().await.unwrap_err();
    assert!(err.is_not_found() && !err.is_unsupported(), "{err}");
    mock.assert_all_used();
}

#[tokio::test]
async fn get_events_filters_client_side() {
    let (client, mock) = client();
    mock.push(example_response("get_events"));
    let all = example("get_events")["response"]["body"].as_array().unwrap().len();
    let decisions = client.get_events(INTENT).event_type("decision_recorded").send().await.unwrap();
    assert!(!decisions.is_empty() && decisions.len() < all);
    assert!(decisions.iter().all(|e| e.event_type == EventType::DecisionRecorded));
    let req = mock.last_request().unwrap();
    assert_request(&req, Method::Get, &ipath("/events"), None);
    assert_eq!(query(&req, "event_type"), Some("decision_recorded"));

    // The page ignores `since` but applies `limit`: the whole log is read and filtered here.
    mock.push(example_response("get_events"));
    mock.push(example_response("get_events"));
    let before = mock.request_count();
    let since = chrono::DateTime::parse_from_rfc3339("2026-11-24T13:50:27.500000Z").unwrap().to_utc();
    let recent = client.get_events(INTENT).since(since).limit(10).send().await.unwrap();
    assert_eq!(recent.len(), 1, "only the status change is after the cut-off");
    let requests = mock.requests();
    assert_eq!(requests.len(), before + 2);
    let (paged, whole) = (&requests[before], &requests[before + 1]);
    assert_eq!(query(paged, "since"), Some("2026-11-24T13:50:27.500000Z"));
    assert_eq!(query(paged, "limit"), Some("10"));
    assert_eq!(query(whole, "limit"), Some("1000"));
    assert_eq!(query(whole, "offset"), Some("0"));

    mock.push(example_response("get_events"));
    assert_eq!(client.get_events(INTENT).limit(2).send().await.unwrap().len(), 2);
}

// ----- governance -----

#[tokio::test]
async fn request_arbitration_fills_requested_by() {
    let (client, mock) = client();
    mock.push(example_response("request_arbitration"));
    let a = client
        .request_arbitration(INTENT, "Conflicting interpretations of requirements")
        .context(json!({"options": ["a", "b"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(a.message.as_deref(), Some("Arbitration requested"));
    assert_eq!(a.intent_id.as_deref(), Some(INTENT));
    assert_eq!(a.requested_by.as_deref(), Some(AGENT));
    let req = mock.last_request().unwrap();
    assert_request(&req, Method::Post, &ipath("/arbitrate"), None);
    assert_eq!(body(&req), example_request_body("request_arbitration"));
}

#[tokio::test]
async fn record_decision_maps_the_seed_form() {
    let (client, mock) = client();
    mock.push(example_response("record_decision"));
    let d = client
        .record_decision(INTENT, "proceed_with_option_a")
        .rationale("Option A better aligns with business objectives")
        .decision_type("arbitration")
        .decided_by("human:alice")
        .send()
        .await
        .unwrap();
    assert_eq!(d.id, "42149d81-fc88-4007-a162-ab3636896a45");
    assert_eq!(d.outcome, "proceed_with_option_a");
    assert_eq!(d.decided_by.as_deref(), Some("human:alice"));
    let req = mock.last_request().unwrap();
    assert_request(&req, Method::Post, &ipath("/decisions"), None);
    assert_contains(&body(&req), &example_request_body("record_decision"));

    mock.push(example_response("record_decision"));
    client.record_decision(INTENT, "go").send().await.unwrap();
    assert_eq!(
        body(&mock.last_request().unwrap()),
        json!({"decision_type": "decision", "decided_by": AGENT, "outcome": "go"})
    );
}

#[tokio::test]
async fn get_decisions_reads_the_event_log() {
    let (client, mock) = client();
    mock.push(example_response("get_events"));
    let decisions = client.get_decisions(INTENT).await.unwrap();
    assert_eq!(decisions.len(), 1);
    assert_eq!(decisions[0].id, "42149d81-fc88-4007-a162-ab3636896a45");
    assert_eq!(decisions[0].decided_by.as_deref(), Some("human:alice"));
    let req = mock.last_request().unwrap();
    assert_request(&req, Method::Get, &ipath("/events"), None);
    assert_eq!(query(&req, "limit"), Some("1000"));
}

// ----- attachments -----

#[tokio::test]
async fn add_attachment_seed_form_matches_the_capture() {
    let (client, mock) = client();
    mock.push(example_response("add_attachment"));
    let a = client
        .add_attachment(INTENT, "quarterly_analysis.pdf", "application/pdf", "aGVsbG8=")
        .description("Q4 financial analysis report")
        .send()
        .await
        .unwrap();
    assert_eq!(a.inline_content().as_deref(), Some(&b"hello"[..]));
    assert_eq!(a.description(), Some("Q4 financial analysis report"), "kept from the request");
    let req = mock.last_request().unwrap();
    assert_request(&req, Method::Post, &ipath("/attachments"), None);
    assert_eq!(body(&req), example_request_body("add_attachment"));

    assert!(
        client.add_attachment(INTENT, "a", "application/pdf", "not base64!").send().await.unwrap_err().is_validation()
    );
    assert_eq!(mock.request_count(), 1);
}

#[tokio::test]
async fn attachment_upload_raw_list_delete() {
    let (client, mock) = client();
    mock.push(example_response("add_attachment"));
    mock.push(example_response("add_attachment"));
    mock.push(example_response("list_attachments"));
    mock.push(example_response("delete_attachment"));
    mock.push(example_response("error_delete_attachment_not_found"));
    client.add_attachment_upload(INTENT, AttachmentUpload::from_bytes("h.txt", "text/plain", b"hello")).await.unwrap();
    assert_eq!(body(&mock.requests()[0])["storage_url"], "data:text/plain;base64,aGVsbG8=");
    let raw = CreateAttachmentRequest::new("r.pdf", "application/pdf", 10, "s3://b/r.pdf");
    client.add_attachment_raw(INTENT, raw).await.unwrap();
    assert_eq!(
        body(&mock.requests()[1]),
        json!({"filename": "r.pdf", "mime_type": "application/pdf", "size": 10, "storage_url": "s3://b/r.pdf"})
    );
    let list = client.get_attachments(INTENT).await.unwrap();
    assert_eq!(list[0].created_by, "dev-user-key");
    assert_request(&mock.requests()[2], Method::Get, &ipath("/attachments"), None);
    let att = "2cdfaf36-2471-4f50-9c01-8f35fc7621cb";
    client.delete_attachment(INTENT, att).await.unwrap();
    assert_request(&mock.requests()[3], Method::Delete, &ipath(&format!("/attachments/{att}")), None);
    assert!(client.delete_attachment(INTENT, att).await.unwrap_err().is_not_found());
}

// ----- subscriptions (webhooks) -----

#[tokio::test]
async fn subscribe_maps_callback_url_and_defaults_subscriber() {
    let (client, mock) = client();
    mock.push(json(200, json!({"id": "s1", "intent_id": INTENT, "subscriber_id": "service:dashboard", "event_types": ["state_patched"], "webhook_url": "https://d.example.com/h", "active": 1})));
    let s = client
        .subscribe(INTENT)
        .subscriber_id("service:dashboard")
        .callback_url("https://d.example.com/h")
        .event_types(["state_patched", "status_changed"])
        .send()
        .await
        .unwrap();
    assert!(s.active);
    let req = mock.last_request().unwrap();
    assert_request(&req, Method::Post, "/api/v1/subscriptions", None);
    assert_eq!(
        body(&req),
        json!({"intent_id": INTENT, "subscriber_id": "service:dashboard", "event_types": ["state_patched", "status_changed"], "webhook_url": "https://d.example.com/h"})
    );
    mock.push(example_response("create_subscription_unsupported"));
    let err = client.subscribe_portfolio(PORTFOLIO).send().await.unwrap_err();
    assert!(err.is_unsupported());
    assert_eq!(body(&mock.last_request().unwrap()), json!({"portfolio_id": PORTFOLIO, "subscriber_id": AGENT}));
    assert!(client.subscribe(INTENT).callback_url("ftp://x").send().await.unwrap_err().is_validation());
    assert_eq!(mock.request_count(), 2);
}

#[tokio::test]
async fn subscriptions_list_and_unsubscribe() {
    let (client, mock) = client();
    mock.push(json(200, json!({"subscriptions": [{"id": "s1", "intent_id": INTENT}]})));
    mock.push(openintent_transport::Response::new(204));
    mock.push(example_response("list_subscriptions_unsupported"));
    let subs = client.get_subscriptions(INTENT).await.unwrap();
    assert_eq!(subs[0].id, "s1");
    let req = &mock.requests()[0];
    assert_request(req, Method::Get, "/api/v1/subscriptions", None);
    assert_eq!(query(req, "intent_id"), Some(INTENT));
    client.unsubscribe(INTENT, "s1").await.unwrap();
    assert_request(&mock.requests()[1], Method::Delete, "/api/v1/subscriptions/s1", None);
    assert!(client.get_subscriptions(INTENT).await.unwrap_err().is_unsupported());
}

// ----- costs -----

#[tokio::test]
async fn record_cost_sends_agent_and_both_metadata_keys() {
    let (client, mock) = client();
    mock.push(example_response("record_cost"));
    let cost = client
        .record_cost(INTENT, "api_call", 0.05, "USD")
        .provider("openai")
        .metadata(json!({"model": "gpt-4", "tokens": 1500}))
        .send()
        .await
        .unwrap();
    assert_eq!(cost.metadata()["tokens"], 1500);
    let req = mock.last_request().unwrap();
    assert_request(&req, Method::Post, &ipath("/costs"), None);
    let sent = body(&req);
    assert_contains(&sent, &example_request_body("record_cost"));
    assert_eq!(sent["metadata"], sent["cost_metadata"]);
    assert!(client.record_cost(INTENT, "api_call", -1.0, "USD").send().await.unwrap_err().is_validation());
    assert!(client.record_cost(INTENT, "api_call", f64::NAN, "USD").send().await.unwrap_err().is_validation());
    assert_eq!(mock.request_count(), 1);
}

#[tokio::test]
async fn costs_and_summary() {
    let (client, mock) = client();
    mock.push(example_response("list_costs"));
    mock.push(example_response("list_costs"));
    mock.push(json(200, json!({"costs": [], "summary": {"total": 9.5, "by_type": {"x": 9.5}}})));
    let costs = client.get_costs(INTENT).await.unwrap();
    assert_eq!(costs.len(), 2);
    assert_request(&mock.requests()[0], Method::Get, &ipath("/costs"), None);
    let s = client.get_cost_summary(INTENT).await.unwrap();
    assert!((s.total - 1500.05).abs() < 1e-9);
    assert!((s.by_type["api_call"] - 0.05).abs() < 1e-9);
    assert!((s.by_agent[AGENT] - 1500.05).abs() < 1e-9);
    let server = client.get_cost_summary(INTENT).await.unwrap();
    assert_eq!(server.total, 9.5);
}

// ----- retry policies -----

#[tokio::test]
async fn set_retry_policy_seed_form() {
    let (client, mock) = client();
    mock.push(example_response("set_retry_policy"));
    let p = client
        .set_retry_policy(INTENT)
        .max_attempts(5)
        .base_delay_seconds(1.0)
        .max_delay_seconds(60.0)
        .backoff_multiplier(2.0)
        .retryable_errors(["timeout", "rate_limit"])
        .jitter(true)
        .fallback_agent_id("agent-backup")
        .failure_threshold(3)
        .send()
        .await
        .unwrap();
    assert_eq!((p.max_retries, p.strategy), (5, RetryStrategy::Exponential));
    assert_eq!(p.retryable_errors.as_deref(), Some(&["timeout".to_owned(), "rate_limit".to_owned()][..]));
    let req = mock.last_request().unwrap();
    assert_request(&req, Method::Put, &ipath("/retry-policy"), None);
    let sent = body(&req);
    assert_contains(&sent, &example_request_body("set_retry_policy"));
    assert_eq!(sent["backoff_multiplier"], 2.0);

    mock.push(example_response("set_retry_policy"));
    client.set_retry_policy(INTENT).backoff_multiplier(1.0).base_delay_seconds(0.25).send().await.unwrap();
    let sent = body(&mock.last_request().unwrap());
    assert_eq!((sent["strategy"].as_str(), sent["base_delay_ms"].as_i64()), (Some("fixed"), Some(250)));
    assert!(sent.get("retryable_errors").is_none(), "unset list is omitted: {sent}");

    assert!(client.set_retry_policy(INTENT).max_delay_seconds(0.5).send().await.unwrap_err().is_validation());
    mock.push(example_response("set_retry_policy"));
    let mut wire = SetRetryPolicyRequest::new("linear");
    wire.max_retries = 2;
    client.set_retry_policy_wire(INTENT, wire).await.unwrap();
    assert_eq!(body(&mock.last_request().unwrap())["strategy"], "linear");
}

#[tokio::test]
async fn get_retry_policy_none_on_not_set() {
    let (client, mock) = client();
    mock.push(example_response("get_retry_policy"));
    mock.push(example_response("get_retry_policy_not_set"));
    mock.push(json(404, json!({"detail": "Intent not found"})));
    let p = client.get_retry_policy(INTENT).await.unwrap().unwrap();
    assert_eq!(p.base_delay_ms, 1000);
    assert_request(&mock.requests()[0], Method::Get, &ipath("/retry-policy"), None);
    assert!(client.get_retry_policy(INTENT).await.unwrap().is_none());
    assert!(client.get_retry_policy(INTENT).await.unwrap_err().is_not_found());
}

#[tokio::test]
async fn failures() {
    let (client, mock) = client();
    mock.push(example_response("record_failure"));
    mock.push(example_response("list_failures"));
    let f = client
        .record_failure(INTENT, "rate_limit", "API rate limit exceeded")
        .attempt(1)
        .will_retry(true)
        .send()
        .await
        .unwrap();
    assert_eq!((f.attempt_number, f.will_retry), (1, Some(true)));
    let req = &mock.requests()[0];
    assert_request(req, Method::Post, &ipath("/failures"), None);
    let sent = body(req);
    assert_contains(&sent, &example_request_body("record_failure"));
    assert_eq!(sent["error_code"], "rate_limit");
    assert_eq!(sent["will_retry"], true);
    let list = client.get_failures(INTENT).await.unwrap();
    assert_eq!(list[0].error_type, "rate_limit");
    assert_request(&mock.requests()[1], Method::Get, &ipath("/failures"), None);
    assert!(client.record_failure(INTENT, "x", "y").attempt(0).send().await.unwrap_err().is_validation());
}

// ----- portfolios -----

#[tokio::test]
async fn create_and_list_portfolios() {
    let (client, mock) = client();
    mock.push(example_response("create_portfolio"));
    mock.push(example_response("list_portfolios"));
    let p = client
        .create_portfolio("Paris Trip 2024")
        .description("Complete vacation planning")
        .governance_policy(json!({"require_all_completed": true, "shared_constraints": {"budget": 5000}}))
        .created_by("example-capture-agent")
        .send()
        .await
        .unwrap();
    assert_eq!(p.id, PORTFOLIO);
    let req = &mock.requests()[0];
    assert_request(req, Method::Post, "/api/v1/portfolios", None);
    assert_eq!(body(req), example_request_body("create_portfolio"));
    let list = client.list_portfolios().created_by("example-capture-agent").send().await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(query(&mock.requests()[1], "created_by"), Some("example-capture-agent"));
    // Without created_by: the agent id, and no null description.
    mock.push(example_response("create_portfolio"));
    client.create_portfolio("P").await.unwrap();
    assert_eq!(body(&mock.last_request().unwrap()), json!({"name": "P", "created_by": AGENT}));
}

#[tokio::test]
async fn get_portfolio_computes_the_aggregate() {
    let (client, mock) = client();
    mock.push(example_response("get_portfolio"));
    mock.push(example_response("get_portfolio_intents"));
    let p = client.get_portfolio(PORTFOLIO).await.unwrap();
    let agg = p.aggregate_status.unwrap();
    assert_eq!((agg.total, agg.completion_percentage), (1, 0));
    assert_eq!(agg.by_status["active"], 1);
    assert_eq!(p.intents.unwrap().len(), 1);
    assert_request(&mock.requests()[0], Method::Get, &format!("/api/v1/portfolios/{PORTFOLIO}"), None);
    assert_request(&mock.requests()[1], Method::Get, &format!("/api/v1/portfolios/{PORTFOLIO}/intents"), None);
    // A server that sends the aggregate: one call.
    mock.push(json(200, json!({"id": PORTFOLIO, "name": "n", "aggregate_status": {"total": 3, "by_status": {"completed": 3}, "completion_percentage": 100}})));
    let p = client.get_portfolio(PORTFOLIO).await.unwrap();
    assert!(p.aggregate_status.unwrap().all_completed());
    assert_eq!(mock.request_count(), 3);
    mock.push(example_response("error_get_portfolio_not_found"));
    assert!(client.get_portfolio("00000000-0000-0000-0000-000000000000").await.unwrap_err().is_not_found());
}

#[tokio::test]
async fn portfolio_membership_and_status() {
    let (client, mock) = client();
    mock.push(example_response("add_intent_to_portfolio"));
    mock.push(example_response("update_portfolio_status"));
    mock.push(example_response("remove_intent_from_portfolio"));
    mock.push(example_response("error_remove_intent_from_portfolio_not_member"));
    mock.push(example_response("get_portfolio_intents"));
    mock.push(example_response("get_intent_portfolios"));
    let m = client
        .add_intent_to_portfolio(PORTFOLIO, INTENT)
        .role(MembershipRole::Primary)
        .priority(100)
        .send()
        .await
        .unwrap();
    assert_eq!(m.id, "34407719-3197-4f70-99ff-1a61e2c12865");
    assert_eq!((m.role, m.priority, m.intent_id.as_deref()), (Some(MembershipRole::Primary), Some(100), Some(INTENT)));
    let r = mock.requests();
    assert_request(&r[0], Method::Post, &format!("/api/v1/portfolios/{PORTFOLIO}/intents"), None);
    assert_eq!(body(&r[0]), example_request_body("add_intent_to_portfolio"));
    let p = client.update_portfolio_status(PORTFOLIO, "completed").await.unwrap();
    assert_eq!(p.status, PortfolioStatus::Completed);
    let r = mock.requests();
    assert_request(&r[1], Method::Patch, &format!("/api/v1/portfolios/{PORTFOLIO}/status"), None);
    assert_eq!(body(&r[1]), example_request_body("update_portfolio_status"));
    client.remove_intent_from_portfolio(PORTFOLIO, INTENT).await.unwrap();
    assert_request(
        &mock.requests()[2],
        Method::Delete,
        &format!("/api/v1/portfolios/{PORTFOLIO}/intents/{INTENT}"),
        None,
    );
    assert!(client.remove_intent_from_portfolio(PORTFOLIO, INTENT).await.unwrap_err().is_not_found());
    assert_eq!(client.get_portfolio_intents(PORTFOLIO).await.unwrap().len(), 1);
    let ps = client.get_intent_portfolios(INTENT).await.unwrap();
    assert_request(&mock.requests()[5], Method::Get, &ipath("/portfolios"), None);
    assert!(ps.iter().all(|p| !p.id.is_empty()));
    assert!(client.update_portfolio_status(PORTFOLIO, "bogus").await.unwrap_err().is_validation());
}

// ----- discovery and the escape hatch -----

#[tokio::test]
async fn discover_and_raw_requests() {
    let (client, mock) = client();
    mock.push(example_response("discover"));
    mock.push(example_response("server_config"));
    mock.push(example_response("error_get_intent_not_found"));
    let d = client.discover().await.unwrap();
    assert_eq!(d.version, "0.1");
    assert!(d.has_capability("leasing"));
    assert_request(&mock.requests()[0], Method::Get, "/.well-known/openintent.json", None);
    let cfg: serde_json::Value =
        client.request_json(openintent_transport::Request::get("/api/v1/server/config")).await.unwrap();
    assert_eq!(cfg["protocol_version"], "0.1");
    let resp = client.send_raw(openintent_transport::Request::get("/api/v1/intents/nope")).await.unwrap();
    assert_eq!(resp.status, 404);
    assert_eq!(mock.last_request().unwrap().headers.get("x-agent-id"), Some(AGENT));
}

#[tokio::test]
async fn decode_errors_keep_the_path_and_body() {
    let (client, mock) = client();
    mock.push(json(
        200,
        json!([{"id": "c1", "cost_type": "x", "amount": 1.0}, {"id": "c2", "cost_type": "x", "amount": "lots"}]),
    ));
    let err = client.get_costs(INTENT).await.unwrap_err();
    let Error::Decode(d) = &err else { panic!("{err:?}") };
    assert!(d.json_path().starts_with("[1]"), "{}", d.json_path());
    assert!(d.body().contains("lots"));
    assert!(err.to_string().contains(&ipath("/costs")), "{err}");
    mock.push(openintent_transport::Response::new(200).with_body("<html>"));
    assert!(matches!(client.get_intent(INTENT).await, Err(Error::Decode(_))));
}
