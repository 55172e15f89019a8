//! The MCP tools against a live server, when `OPENINTENT_REFERENCE_URL` names one (e.g.
//! `scripts/reference-server.sh run -- cargo test -p openintent-mcp --test reference`): the
//! tools for the routes the Python reference server serves. Without the variable the test
//! returns at once.

use openintent_client::Client;
use openintent_mcp::{OpenIntentMcp, Tier};
use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, CallToolResult, ReadResourceRequestParams};
use rmcp::service::RunningService;
use serde_json::{Value, json};

fn url() -> Option<String> {
    let url = std::env::var("OPENINTENT_REFERENCE_URL").ok().filter(|u| !u.is_empty());
    if url.is_none() {
        eprintln!("OPENINTENT_REFERENCE_URL is not set; skipping the live-server checks");
    }
    url
}

async fn host(url: &str, key: &str, agent: &str) -> RunningService<rmcp::RoleClient, ()> {
    let client = Client::new(url, key, agent).unwrap();
    let (host_io, server_io) = tokio::io::duplex(1 << 16);
    tokio::spawn(async move {
        let (r, w) = tokio::io::split(server_io);
        let _ = openintent_mcp::serve(OpenIntentMcp::new(client, Tier::Admin), (r, w)).await;
    });
    let (r, w) = tokio::io::split(host_io);
    ().serve((r, w)).await.expect("initialize")
}

async fn call(h: &RunningService<rmcp::RoleClient, ()>, name: &'static str, args: Value) -> CallToolResult {
    let args = args.as_object().cloned().unwrap();
    h.call_tool(CallToolRequestParams::new(name).with_arguments(args)).await.unwrap()
}

async fn ok(h: &RunningService<rmcp::RoleClient, ()>, name: &'static str, args: Value) -> Value {
    let r = call(h, name, args.clone()).await;
    assert_ne!(r.is_error, Some(true), "{name}({args}): {:?}", r.structured_content);
    r.structured_content.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_tools_against_a_live_server() {
    let Some(url) = url() else { return };
    let h = host(&url, "dev-user-key", "mcp-agent").await;
    let other = host(&url, "agent-research-key", "agent-research").await;

    assert!(ok(&h, "discover", json!({})).await.is_object());
    let intent = ok(&h, "create_intent", json!({"title": "MCP on the reference", "state": {"n": 1}})).await;
    let id = intent["id"].as_str().unwrap().to_owned();
    let v = intent["version"].as_i64().unwrap();
    let updated = ok(&h, "update_state", json!({"intent_id": id, "version": v, "state": {"n": 2}})).await;
    assert_eq!(updated["state"]["n"], 2);
    let stale = call(&h, "update_state", json!({"intent_id": id, "version": v, "state": {"n": 3}})).await;
    assert_eq!(stale.structured_content.unwrap()["error"], "version_conflict");
    assert_eq!(ok(&h, "get_intent", json!({"intent_id": id})).await["state"]["n"], 2);

    ok(&h, "log_event", json!({"intent_id": id, "event_type": "comment", "payload": {"m": "hi"}})).await;
    let comments = ok(&h, "get_events", json!({"intent_id": id, "event_type": "comment"})).await;
    assert_eq!(comments["count"], 1);

    let lease = ok(&h, "acquire_lease", json!({"intent_id": id, "scope": "analysis", "duration_seconds": 60})).await;
    let conflict = call(&other, "acquire_lease", json!({"intent_id": id, "scope": "analysis"})).await;
    let conflict = conflict.structured_content.unwrap();
    assert_eq!(conflict["error"], "lease_conflict", "{conflict}");
    assert_eq!(ok(&h, "get_leases", json!({"intent_id": id})).await["count"], 1);
    ok(&h, "release_lease", json!({"intent_id": id, "lease_id": lease["id"]})).await;

    ok(&h, "record_cost", json!({"intent_id": id, "cost_type": "tokens", "amount": 5.0, "unit": "tokens"})).await;
    assert_eq!(ok(&h, "get_costs", json!({"intent_id": id})).await["count"], 1);

    let p = ok(&h, "create_portfolio", json!({"name": "MCP portfolio"})).await;
    ok(&h, "add_intent_to_portfolio", json!({"portfolio_id": p["id"], "intent_id": id})).await;
    assert_eq!(ok(&h, "get_portfolio_intents", json!({"portfolio_id": p["id"]})).await["count"], 1);

    // The reference (0.17.0) has no intent listing route: the tool says so, and the resource
    // listing still answers (with the portfolios).
    let listed = call(&h, "list_intents", json!({"limit": 100})).await;
    assert_eq!(listed.structured_content.unwrap()["error"], "unsupported");
    let resources = h.list_all_resources().await.unwrap();
    assert!(resources.iter().any(|r| r.uri == format!("openintent://portfolios/{}", p["id"].as_str().unwrap())));
    // Further areas the reference serves.
    let assigned = ok(&h, "assign_agent", json!({"intent_id": id, "role": "worker"})).await;
    assert_eq!(assigned["agent_id"], "mcp-agent", "{assigned}");
    assert_eq!(ok(&h, "get_agents", json!({"intent_id": id})).await["count"], 1);
    let doc = json!({"intent_id": id, "filename": "n.txt", "content_type": "text/plain", "content_base64": "aGk="});
    ok(&h, "add_attachment", doc).await;
    assert_eq!(ok(&h, "get_attachments", json!({"intent_id": id})).await["count"], 1);
    ok(&h, "set_retry_policy", json!({"intent_id": id, "strategy": "exponential", "max_retries": 3})).await;
    assert_eq!(ok(&h, "get_retry_policy", json!({"intent_id": id})).await["retry_policy"]["max_retries"], 3);
    let failure = json!({"intent_id": id, "error_type": "timeout", "error_message": "slow", "attempt_number": 1});
    ok(&h, "record_failure", failure).await;
    assert_eq!(ok(&h, "get_failures", json!({"intent_id": id})).await["count"], 1);
    ok(&h, "request_arbitration", json!({"intent_id": id, "reason": "disagree"})).await;
    ok(&h, "record_decision", json!({"intent_id": id, "outcome": "go", "rationale": "data"})).await;
    assert_eq!(ok(&h, "get_decisions", json!({"intent_id": id})).await["count"], 1);
    let current = ok(&h, "get_intent", json!({"intent_id": id})).await;
    let done = json!({"intent_id": id, "version": current["version"], "status": "completed"});
    assert_eq!(ok(&h, "set_status", done).await["status"], "completed");

    let read = h.read_resource(ReadResourceRequestParams::new(format!("openintent://intents/{id}"))).await.unwrap();
    assert!(format!("{:?}", read.contents).contains("MCP on the reference"));
}
