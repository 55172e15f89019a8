//! The agent registry and intent graphs: wire shape of every call (paths, bodies, `If-Match`),
//! parsing of the reference server's captured answers, the fallbacks to the RFC paths, and
//! validation before sending.

mod common;

use common::*;
use openintent_transport::Method;
use openintent_types::{AgentCapacity, AgentStatus, EdgeKind, HeartbeatConfig, IntentStatus};
use serde_json::json;

const AGENT_ID: &str = "agent-billing-3ccda9";
const PARENT: &str = "54c7bf15-eb92-4b51-bde4-6357b9782c71";

#[tokio::test]
async fn register_agent_sends_the_reference_body() {
    let (client, mock) = client();
    mock.push(example_response("agents_register"));
    let mut hb = HeartbeatConfig::default();
    hb.interval_seconds = Some(30);
    hb.unhealthy_after_seconds = Some(90);
    hb.dead_after_seconds = Some(300);
    let agent = client
        .register_agent(AGENT_ID)
        .name("Billing Processor")
        .role_id("billing-processor")
        .capabilities(["billing", "invoicing"])
        .capacity(AgentCapacity::new(5))
        .endpoint("https://billing.example.com/hook")
        .heartbeat_config(hb)
        .metadata(json!({"version": "1.2.0"}))
        .drain_timeout_seconds(120)
        .send()
        .await
        .unwrap();
    assert_eq!((agent.agent_id.as_str(), &agent.status), (AGENT_ID, &AgentStatus::Active));
    assert_eq!(agent.metadata["version"], "1.2.0", "read from agent_metadata");
    let req = mock.last_request().unwrap();
    assert_request(&req, Method::Post, "/api/v1/agents/register", None);
    assert_contains(&body(&req), &example_request_body("agents_register"));
}

#[tokio::test]
async fn register_falls_back_to_the_rfc_path_and_validates_first() {
    let (client, mock) = client();
    mock.push(json(404, json!({"detail": "Not Found"})));
    mock.push(example_response("agents_register"));
    client.register_agent(AGENT_ID).send().await.unwrap();
    assert_eq!(mock.last_request().unwrap().path, "/api/v1/agents");
    mock.assert_all_used();
    let mut bad = HeartbeatConfig::default();
    bad.interval_seconds = Some(30);
    bad.unhealthy_after_seconds = Some(31);
    let err = client.register_agent(AGENT_ID).heartbeat_config(bad).send().await.unwrap_err();
    assert!(err.is_validation(), "{err}");
    assert!(client.register_agent("").send().await.unwrap_err().is_validation());
    assert!(client.register_agent("a").metadata(json!([1])).send().await.unwrap_err().is_validation());
}

#[tokio::test]
async fn get_agent_record_falls_back_to_the_rfc_path() {
    let (client, mock) = client();
    mock.push(example_response("agents_get"));
    let agent = client.get_agent_record(AGENT_ID).await.unwrap();
    assert_eq!(agent.agent_id, AGENT_ID);
    assert_request(&mock.last_request().unwrap(), Method::Get, &format!("/api/v1/agents/{AGENT_ID}/record"), None);
    mock.push(json(404, json!({"detail": "Not Found"})));
    mock.push(json(200, example("agents_get")["response"]["body"].clone()));
    client.get_agent_record(AGENT_ID).await.unwrap();
    assert_eq!(mock.last_request().unwrap().path, format!("/api/v1/agents/{AGENT_ID}"));
    // A missing agent is not a missing route: no fallback.
    mock.push(json(404, json!({"detail": "Agent not found"})));
    assert!(client.get_agent_record("nope").await.unwrap_err().is_not_found());
    mock.assert_all_used();
}

#[tokio::test]
async fn list_agents_sends_filters_and_reads_arrays_or_envelopes() {
    let (client, mock) = client();
    mock.push(example_response("agents_list"));
    let n = example("agents_list")["response"]["body"].as_array().unwrap().len();
    let all = client.list_agents().status("active").role_id("billing-processor").send().await.unwrap();
    assert_eq!(all.len(), n);
    let req = mock.last_request().unwrap();
    assert_eq!((query(&req, "status"), query(&req, "role_id")), (Some("active"), Some("billing-processor")));
    mock.push(json(200, json!({"agents": [{"agent_id": "x", "status": "draining"}], "total": 1})));
    let some = client.list_agents().capabilities(&["a", "b"]).min_available_capacity(2).send().await.unwrap();
    assert_eq!(some[0].status, AgentStatus::Draining);
    let req = mock.last_request().unwrap();
    assert_eq!((query(&req, "capabilities"), query(&req, "min_available_capacity")), (Some("a,b"), Some("2")));
}

#[tokio::test]
async fn heartbeat_and_status_changes() {
    let (client, mock) = client();
    mock.push(example_response("agents_heartbeat"));
    let ack =
        client.agent_heartbeat(AGENT_ID).current_load(3).tasks_in_progress(["t1", "t2", "t3"]).send().await.unwrap();
    assert!(ack.is_acknowledged());
    let req = mock.last_request().unwrap();
    assert_request(&req, Method::Post, &format!("/api/v1/agents/{AGENT_ID}/heartbeat"), None);
    assert_contains(&body(&req), &example_request_body("agents_heartbeat"));
    assert!(client.agent_heartbeat(AGENT_ID).current_load(-1).send().await.unwrap_err().is_validation());

    mock.push(example_response("agents_status_drain"));
    let agent = client.drain_agent(AGENT_ID).drain_timeout_seconds(60).if_version(1).send().await.unwrap();
    assert_eq!(agent.status, AgentStatus::Draining);
    let req = mock.last_request().unwrap();
    assert_request(&req, Method::Patch, &format!("/api/v1/agents/{AGENT_ID}/status"), Some("1"));
    assert_eq!(body(&req), example_request_body("agents_status_drain"));
    // Unknown statuses are refused before sending.
    assert!(client.update_agent_status(AGENT_ID, "bogus").send().await.unwrap_err().is_validation());
    mock.push(json(200, json!({"agent_id": AGENT_ID, "status": "deregistered"})));
    assert_eq!(client.deregister_agent(AGENT_ID).await.unwrap().status, AgentStatus::Deregistered);
    assert_eq!(mock.last_request().unwrap().method, Method::Delete);
    mock.assert_all_used();
}

#[tokio::test]
async fn child_creation_and_dependencies() {
    let (client, mock) = client();
    mock.push(example_response("graph_create_child_with_deps"));
    let deps = example_request_body("graph_create_child_with_deps")["depends_on"].clone();
    let ids: Vec<String> = serde_json::from_value(deps.clone()).unwrap();
    let child = client.create_child_intent(PARENT, "Deploy").depends_on(ids).send().await.unwrap();
    assert_eq!(child.parent_id.as_deref(), Some(PARENT));
    let req = mock.last_request().unwrap();
    assert_request(&req, Method::Post, &format!("/api/v1/intents/{PARENT}/children"), None);
    assert_eq!((body(&req)["depends_on"].clone(), body(&req)["parent_intent_id"].clone()), (deps, json!(PARENT)));
    assert!(client.create_child_intent(PARENT, "").send().await.unwrap_err().is_validation());
    assert!(client.create_child_intent(PARENT, "x").depends_on(["a", "a"]).send().await.unwrap_err().is_validation());

    let ex = example("graph_add_dependency");
    mock.push(example_response("graph_add_dependency"));
    let id = ex["response"]["body"]["id"].as_str().unwrap();
    let dep = ex["request"]["body"]["dependency_id"].as_str().unwrap();
    let intent = client.add_dependency(id, dep, 1).await.unwrap();
    assert_eq!(intent.depends_on, [dep]);
    let req = mock.last_request().unwrap();
    assert_request(&req, Method::Post, &format!("/api/v1/intents/{id}/dependencies"), Some("1"));
    assert_eq!(body(&req), ex["request"]["body"]);

    mock.push(example_response("graph_remove_dependency"));
    let v = example("graph_remove_dependency")["request"]["headers"]["If-Match"].as_str().unwrap().parse().unwrap();
    client.remove_dependency(id, dep, v).await.unwrap();
    let req = mock.last_request().unwrap();
    assert_request(&req, Method::Delete, &format!("/api/v1/intents/{id}/dependencies/{dep}"), Some(&v.to_string()));

    mock.push(example_response("graph_error_add_dependency_cycle"));
    let err = client.add_dependency(id, dep, 2).await.unwrap_err();
    assert_eq!(err.status(), Some(400));
    mock.assert_all_used();
}

#[tokio::test]
async fn relation_queries_read_envelopes_and_the_graph() {
    let (client, mock) = client();
    mock.push(example_response("graph_children"));
    let children = client.get_children(PARENT).await.unwrap();
    assert!(!children.is_empty());
    assert!(children.iter().all(|c| c.parent_id.as_deref() == Some(PARENT)), "read from parent_intent_id");
    mock.push(example_response("graph_ready"));
    client.get_ready_intents(PARENT).await.unwrap();
    assert_eq!(mock.last_request().unwrap().path, format!("/api/v1/intents/{PARENT}/ready"));
    for (call, segment) in [
        ("descendants", "descendants"),
        ("ancestors", "ancestors"),
        ("dependencies", "dependencies"),
        ("dependents", "dependents"),
        ("blocked", "blocked"),
    ] {
        mock.push(json(200, json!({segment: [{"id": "i", "title": "t", "status": "completed"}]})));
        let got = match call {
            "descendants" => client.get_descendants(PARENT).await,
            "ancestors" => client.get_ancestors(PARENT).await,
            "dependencies" => client.get_dependencies(PARENT).await,
            "dependents" => client.get_dependents(PARENT).await,
            _ => client.get_blocked_intents(PARENT).await,
        }
        .unwrap();
        assert_eq!(got[0].status, IntentStatus::Completed);
        assert_eq!(mock.last_request().unwrap().path, format!("/api/v1/intents/{PARENT}/{segment}"));
    }
    mock.push(example_response("graph_graph"));
    let graph = client.get_intent_graph(PARENT).await.unwrap();
    assert_eq!(graph.root_id, PARENT);
    assert!(graph.edges.iter().any(|e| e.kind == EdgeKind::Parent));
    assert_eq!(graph.aggregate_status.total as usize, graph.nodes.len());
    mock.assert_all_used();
}

#[cfg(feature = "blocking")]
#[test]
fn the_blocking_client_has_the_same_calls() {
    let mock = openintent_transport::test_util::MockTransport::new();
    let client = openintent_client::blocking::Client::from_transport(mock.clone(), AGENT).unwrap();
    mock.push(example_response("agents_register"));
    mock.push(example_response("agents_heartbeat"));
    mock.push(example_response("graph_children"));
    mock.push(example_response("graph_graph"));
    assert_eq!(client.register_agent(AGENT_ID).send_blocking().unwrap().agent_id, AGENT_ID);
    assert!(client.agent_heartbeat(AGENT_ID).current_load(1).send_blocking().unwrap().is_acknowledged());
    assert!(!client.get_children(PARENT).unwrap().is_empty());
    assert_eq!(client.get_intent_graph(PARENT).unwrap().root_id, PARENT);
    mock.assert_all_used();
}
