//! Access control (RFC-0011), channels and messages (RFC-0021) and event tracing (RFC-0020):
//! the wire shape of every call, and decoding the reference server's captured answers.

mod common;

use common::*;
use openintent_transport::Method;
use openintent_transport::test_util::MockTransport;
use openintent_types::{
    AccessPolicy, ChannelStatus, GrantAccessRequest, MemberPolicy, MessageType, Permission, PrincipalType,
};
use serde_json::json;

const CHANNEL: &str = "a9fb8203-576c-41da-a1a5-452b6999285b";
const MESSAGE: &str = "47f3f996-ae31-496b-a031-f1e0b7e214db";
/// The intent of the captured traced event.
const INTENT_OF_TRACE: &str = "e00b6ab7-a560-46a3-b5f8-9475f182c5e6";

fn ipath(suffix: &str) -> String {
    format!("/api/v1/intents/{INTENT}{suffix}")
}

// ----- access control -----

#[tokio::test]
async fn get_and_set_acl() {
    let (client, mock) = client();
    mock.push(example_response("acl_get_default"));
    let acl = client.get_acl(INTENT).await.unwrap();
    assert_eq!((acl.default_policy, acl.entries.len()), (AccessPolicy::Open, 0));
    assert_request(&mock.last_request().unwrap(), Method::Get, &ipath("/acl"), None);

    // The reference stores RFC policies the 0.17 SDK cannot read (`private`): kept here.
    mock.push(example_response("acl_set_rfc_policy"));
    let acl = client
        .set_acl(INTENT)
        .default_policy(AccessPolicy::Private)
        .entry(GrantAccessRequest::new("ocr-agent", Permission::Write))
        .send()
        .await
        .unwrap();
    assert_eq!(acl.default_policy, AccessPolicy::Private);
    assert_eq!(acl.permission_of("ocr-agent", chrono::Utc::now()), Some(Permission::Write));
    let req = mock.last_request().unwrap();
    assert_request(&req, Method::Put, &ipath("/acl"), None);
    assert_eq!(body(&req), example_request_body("acl_set_rfc_policy"));

    mock.push(example_response("acl_set"));
    client.set_acl(INTENT).send().await.unwrap();
    assert_eq!(body(&mock.last_request().unwrap()), json!({}));
    // Bad input is refused before sending.
    let bad = client.set_acl(INTENT).entry(GrantAccessRequest::new("", Permission::Read)).send().await;
    assert!(bad.unwrap_err().is_validation());
    assert_eq!(mock.request_count(), 3);
}

#[tokio::test]
async fn grant_and_revoke_access() {
    let (client, mock) = client();
    mock.push(example_response("acl_grant"));
    let sent = example_request_body("acl_grant");
    let entry = client
        .grant_access(INTENT, sent["principal_id"].as_str().unwrap())
        .permission(Permission::parse(sent["permission"].as_str().unwrap()))
        .principal_type(PrincipalType::Agent)
        .reason("temporary")
        .expires_at(chrono::Utc::now() + chrono::Duration::hours(1))
        .send()
        .await
        .unwrap();
    assert!(!entry.id.is_empty());
    let req = mock.last_request().unwrap();
    assert_request(&req, Method::Post, &ipath("/acl/entries"), None);
    let b = body(&req);
    assert_eq!((&b["principal_type"], &b["reason"]), (&json!("agent"), &json!("temporary")));
    assert!(b["expires_at"].is_string());

    mock.push(example_response("acl_revoke"));
    client.revoke_access(INTENT, "b500f3d6-51fc-40f5-9a90-069adbd35e20").await.unwrap();
    let req = mock.last_request().unwrap();
    assert_request(&req, Method::Delete, &ipath("/acl/entries/b500f3d6-51fc-40f5-9a90-069adbd35e20"), None);
    mock.push(json(404, json!({"detail": "ACL entry not found"})));
    assert!(client.revoke_access(INTENT, "x").await.unwrap_err().is_not_found());
}

#[tokio::test]
async fn access_requests_and_decisions() {
    let (client, mock) = client();
    mock.push(example_response("acl_request_access"));
    let r = client
        .request_access(INTENT, "intruder")
        .permission(Permission::Write)
        .principal_type(PrincipalType::Agent)
        .reason("need to add findings")
        .capabilities(["summarize", "audit"])
        .send()
        .await
        .unwrap();
    assert_eq!(r.capabilities, ["summarize", "audit"]);
    let req = mock.last_request().unwrap();
    assert_request(&req, Method::Post, &ipath("/access-requests"), None);
    assert_eq!(body(&req), example_request_body("acl_request_access"));

    mock.push(example_response("acl_list_access_requests"));
    let all = client.list_access_requests(INTENT).await.unwrap();
    assert!(!all.is_empty());
    mock.push(json(200, json!([])));
    assert!(client.list_access_requests(INTENT).await.unwrap().is_empty(), "a bare array is read too");

    let rid = "de0f9e25-91a4-4c3a-ab38-2079c41977bf";
    mock.push(example_response("acl_approve_access_request"));
    let decided = client
        .approve_access_request(INTENT, rid)
        .permission(Permission::Read)
        .expires_at("2030-06-30T00:00:00Z".parse().unwrap())
        .reason("read is enough")
        .send()
        .await
        .unwrap();
    assert_eq!(decided.decision_reason.as_deref(), Some("read is enough"));
    let req = mock.last_request().unwrap();
    assert_request(&req, Method::Post, &ipath(&format!("/access-requests/{rid}/approve")), None);
    let b = body(&req);
    assert_eq!(
        (&b["decided_by"], &b["permission"], &b["reason"]),
        (&json!(AGENT), &json!("read"), &json!("read is enough"))
    );

    mock.push(example_response("acl_deny_access_request"));
    client.deny_access_request(INTENT, rid).reason("no").send().await.unwrap();
    let req = mock.last_request().unwrap();
    assert_request(&req, Method::Post, &ipath(&format!("/access-requests/{rid}/deny")), None);
    assert_eq!(body(&req), json!({"decided_by": AGENT, "reason": "no"}));
}

// ----- channels and messages -----

#[tokio::test]
async fn channels() {
    let (client, mock) = client();
    mock.push(example_response("messaging_create_channel"));
    let c = client
        .create_channel(INTENT, "coordination")
        .members(["agent-a", "agent-b"])
        .options(json!({"audit": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(c.id, CHANNEL);
    let req = mock.last_request().unwrap();
    assert_request(&req, Method::Post, &ipath("/channels"), None);
    assert_eq!(
        body(&req),
        json!({"name": "coordination", "members": ["agent-a", "agent-b"], "options": {"audit": true}})
    );
    assert!(client.create_channel(INTENT, "x").options(json!(3)).send().await.unwrap_err().is_validation());

    mock.push(example_response("messaging_list_channels"));
    assert!(!client.list_channels(INTENT).await.unwrap().is_empty());
    mock.push(example_response("messaging_create_channel"));
    client.get_channel(CHANNEL).await.unwrap();
    assert_request(&mock.last_request().unwrap(), Method::Get, &format!("/api/v1/channels/{CHANNEL}"), None);
    mock.push(example_response("messaging_close_channel"));
    let closed = client.close_channel(CHANNEL).await.unwrap();
    assert_eq!(closed.channel_id, CHANNEL);
    assert_request(&mock.last_request().unwrap(), Method::Delete, &format!("/api/v1/channels/{CHANNEL}"), None);
}

#[tokio::test]
async fn update_channel_sends_only_what_is_set() {
    let (client, mock) = client();
    let mut updated = example("messaging_create_channel")["response"]["body"].clone();
    updated["members"] = json!(["agent-a", "agent-b", "agent-c"]);
    updated["member_policy"] = json!("intent");
    mock.push(json(200, updated));
    let c = client
        .update_channel(CHANNEL)
        .members(["agent-a", "agent-b", "agent-c"])
        .member_policy(MemberPolicy::Intent)
        .options(json!({"audit": false}))
        .send()
        .await
        .unwrap();
    assert_eq!((c.id.as_str(), c.members.len(), &c.member_policy), (CHANNEL, 3, &MemberPolicy::Intent));
    let req = mock.last_request().unwrap();
    assert_request(&req, Method::Patch, &format!("/api/v1/channels/{CHANNEL}"), None);
    assert_eq!(
        body(&req),
        json!({"members": ["agent-a", "agent-b", "agent-c"], "member_policy": "intent", "options": {"audit": false}})
    );

    let mut closed = example("messaging_create_channel")["response"]["body"].clone();
    closed["status"] = json!("closed");
    closed["closed_at"] = json!("2026-12-03T09:14:00.000000");
    mock.push(json(200, closed));
    let c = client.update_channel(CHANNEL).status(ChannelStatus::Closed).send().await.unwrap();
    assert_eq!(c.status, ChannelStatus::Closed);
    assert_eq!(body(&mock.last_request().unwrap()), json!({"status": "closed"}));

    // Bad input is refused before sending, naming the field.
    let err = client.update_channel(CHANNEL).options(json!([1])).send().await.unwrap_err();
    assert!(err.is_validation(), "{err}");
    assert!(err.to_string().contains("options"), "{err}");
    let err = client.update_channel(CHANNEL).members([""]).send().await.unwrap_err();
    assert!(err.is_validation(), "{err}");
    let err = client.update_channel("").send().await.unwrap_err();
    assert!(err.is_validation() && err.to_string().contains("channel_id"), "{err}");
    assert_eq!(mock.request_count(), 2);
    // An unknown channel is a missing resource, not a missing route.
    mock.push(example_response("messaging_error_channel_not_found"));
    let err = client.update_channel("no-such-channel").status(ChannelStatus::Closed).send().await.unwrap_err();
    assert!(err.is_not_found() && !err.is_unsupported(), "{err}");
}

#[tokio::test]
async fn messages_replies_and_read_state() {
    let (client, mock) = client();
    mock.push(example_response("messaging_send_message"));
    let m = client
        .send_message(CHANNEL)
        .sender("agent-a")
        .to("agent-b")
        .message_type(MessageType::Request)
        .payload(json!({"question": "schema version?"}))
        .expires_at("2030-01-01T00:00:00Z".parse().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(m.id, MESSAGE);
    let req = mock.last_request().unwrap();
    assert_request(&req, Method::Post, &format!("/api/v1/channels/{CHANNEL}/messages"), None);
    let b = body(&req);
    assert_eq!((&b["sender"], &b["to"], &b["message_type"]), (&json!("agent-a"), &json!("agent-b"), &json!("request")));
    // A request without a target is refused before sending; the default sender is the agent id.
    assert!(client.send_message(CHANNEL).message_type(MessageType::Request).send().await.unwrap_err().is_validation());
    mock.push(example_response("messaging_send_message"));
    client.send_message(CHANNEL).send().await.unwrap();
    assert_eq!(body(&mock.last_request().unwrap())["sender"], AGENT);

    mock.push(example_response("messaging_list_messages"));
    let listed = client.list_messages(CHANNEL).since(MESSAGE).to("agent-b").send().await.unwrap();
    let req = mock.last_request().unwrap();
    assert_eq!((query(&req, "since"), query(&req, "to")), (Some(MESSAGE), Some("agent-b")));
    drop(listed);

    mock.push(example_response("messaging_reply"));
    let reply = client.reply_to(CHANNEL, MESSAGE).payload(json!({"answer": "v2.3"})).send().await.unwrap();
    assert_eq!(reply.reply_to(), Some(MESSAGE));
    let req = mock.last_request().unwrap();
    assert_request(&req, Method::Post, &format!("/api/v1/channels/{CHANNEL}/messages/{MESSAGE}/reply"), None);
    assert_eq!(body(&req), json!({"sender": AGENT, "payload": {"answer": "v2.3"}}));

    mock.push(example_response("messaging_mark_read"));
    assert!(client.mark_read(CHANNEL, MESSAGE).await.unwrap().is_read());
    let req = mock.last_request().unwrap();
    assert_request(&req, Method::Patch, &format!("/api/v1/channels/{CHANNEL}/messages/{MESSAGE}"), None);
    assert_eq!(body(&req), json!({"status": "read"}));
}

#[cfg(feature = "blocking")]
#[test]
fn the_blocking_client_has_them_too() {
    let mock = MockTransport::new();
    let client = openintent_client::blocking::Client::from_transport(mock.clone(), AGENT).unwrap();
    mock.push(example_response("acl_get_default"));
    assert_eq!(client.get_acl(INTENT).unwrap().default_policy, AccessPolicy::Open);
    mock.push(example_response("messaging_send_message"));
    assert_eq!(client.send_message(CHANNEL).to("agent-b").send_blocking().unwrap().id, MESSAGE);
    mock.push(example_response("acl_request_access"));
    client.request_access(INTENT, "intruder").send_blocking().unwrap();
    mock.push(example_response("messaging_create_channel"));
    let c = client.update_channel(CHANNEL).members(["agent-a"]).send_blocking().unwrap();
    assert_eq!(c.id, CHANNEL);
    assert_eq!(mock.last_request().unwrap().method, Method::Patch);
    mock.push(json(200, json!([])));
    assert!(client.get_trace_events("a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6").send_blocking().unwrap().is_empty());
}

// ----- tracing -----

#[tokio::test]
async fn explicit_trace_fields_are_sent_top_level() {
    let (client, mock) = client();
    mock.push(example_response("tracing_log_event"));
    client
        .log_event(INTENT, "tool_call_started")
        .actor("agent-a")
        .payload(json!({"tool_name": "search"}))
        .trace("a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6", Some("a0ee28de-93d8-4550-ac74-3c91de76f087".to_owned()))
        .send()
        .await
        .unwrap();
    let sent = body(&mock.last_request().unwrap());
    assert_contains(&sent, &example_request_body("tracing_log_event"));
    // Copies in the payload, for servers that drop the top-level fields.
    assert_eq!(sent["payload"]["trace_id"], "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6");
    assert_eq!(sent["payload"]["parent_event_id"], "a0ee28de-93d8-4550-ac74-3c91de76f087");
    assert!(client.log_event(INTENT, "x").trace("NOT-HEX", None).send().await.unwrap_err().is_validation());
}

#[tokio::test]
async fn events_of_a_trace() {
    let trace = "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6";
    let (client, mock) = client();
    let logged = example("tracing_log_event")["response"]["body"].clone();
    let mut second = logged.clone();
    second["id"] = json!("e-2");
    second["intent_id"] = json!("other-intent");
    mock.push(json(200, json!([logged, second])));
    let events = client.get_trace_events(trace).limit(500).send().await.unwrap();
    assert_eq!(events.iter().map(|e| e.intent_id.as_str()).collect::<Vec<_>>(), [INTENT_OF_TRACE, "other-intent"]);
    let req = mock.last_request().unwrap();
    assert_request(&req, Method::Get, "/api/v1/events", None);
    assert_eq!((query(&req, "trace_id"), query(&req, "limit")), (Some(trace), Some("500")));
    mock.push(json(200, json!([])));
    assert!(client.get_trace_events(trace).send().await.unwrap().is_empty());
    assert_eq!(query(&mock.last_request().unwrap(), "limit"), None);
    assert_eq!(query(&mock.last_request().unwrap(), "offset"), None);
    mock.push(json(200, json!([])));
    client.get_trace_events(trace).limit(2).offset(4).send().await.unwrap();
    let req = mock.last_request().unwrap();
    assert_eq!((query(&req, "limit"), query(&req, "offset")), (Some("2"), Some("4")));

    // A malformed trace id is refused before sending, naming the field.
    let err = client.get_trace_events("A1B2").send().await.unwrap_err();
    assert!(err.is_validation() && err.to_string().contains("trace_id"), "{err}");
    assert_eq!(mock.request_count(), 3);

    // The reference lacks the route (captured): the typed unsupported error.
    mock.push(example_response("tracing_events_by_trace_unsupported"));
    assert!(client.get_trace_events(trace).send().await.unwrap_err().is_unsupported());
    let sent = example("tracing_events_by_trace_unsupported")["request"].clone();
    let req = mock.last_request().unwrap();
    assert_eq!(
        (req.path.as_str(), query(&req, "trace_id")),
        (sent["path"].as_str().unwrap(), sent["query"]["trace_id"].as_str())
    );
}

fn event_reply(id: &str) -> openintent_transport::Response {
    json(
        200,
        json!({"id": id, "intent_id": INTENT, "event_type": "e", "actor": AGENT, "payload": {},
                     "created_at": "2026-12-03T10:00:00"}),
    )
}

#[tokio::test(flavor = "current_thread")]
async fn trace_current_span_takes_the_spans_trace_context() {
    use tracing::Instrument;
    use tracing_subscriber::layer::SubscriberExt;

    let (client, mock) = client();
    // Outside any span (and without a registry) nothing is set.
    mock.push(event_reply("e0"));
    client.log_event(INTENT, "e").trace_current_span().send().await.unwrap();
    assert!(body(&mock.last_request().unwrap()).get("trace_id").is_none());

    let subscriber = tracing_subscriber::registry().with(tracing_subscriber::fmt::layer().with_test_writer());
    let _guard = tracing::subscriber::set_default(subscriber);
    mock.push(event_reply("e1"));
    mock.push(event_reply("e2"));
    mock.push(event_reply("e3"));
    mock.push(event_reply("e4"));
    async {
        client.log_event(INTENT, "task_started").trace_current_span().send().await.unwrap();
        async {
            client.log_event(INTENT, "tool_call_started").trace_current_span().send().await.unwrap();
            // Without the opt-in nothing is sent.
            client.log_event(INTENT, "plain").send().await.unwrap();
        }
        .instrument(tracing::info_span!("tool"))
        .await;
    }
    .instrument(tracing::info_span!("task"))
    .await;
    async { client.log_event(INTENT, "other_task").trace_current_span().send().await.unwrap() }
        .instrument(tracing::info_span!("another"))
        .await;

    let reqs: Vec<serde_json::Value> = mock.requests().iter().skip(1).map(body).collect();
    let trace = reqs[0]["trace_id"].as_str().unwrap().to_owned();
    assert_eq!(trace.len(), 32);
    assert!(reqs[0].get("parent_event_id").is_none(), "the root step has no parent");
    assert_eq!(reqs[0]["payload"]["trace_id"], trace.as_str(), "a payload copy for servers that drop the field");
    assert_eq!((&reqs[1]["trace_id"], &reqs[1]["parent_event_id"]), (&json!(trace), &json!("e1")));
    assert!(reqs[2].get("trace_id").is_none());
    assert_ne!(reqs[3]["trace_id"], json!(trace), "another root span is another trace");
}
