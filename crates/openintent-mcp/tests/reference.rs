//! The MCP tools against a live server, when `OPENINTENT_REFERENCE_URL` names one (e.g.
//! `scripts/reference-server.sh run -- cargo test -p openintent-mcp --test reference`): the
//! tools for the routes the Python reference server serves, the agent-platform areas included
//! (registry, graphs, human in the loop, governance, access control, channels). A route the
//! reference lacks must be the tool error `unsupported`; a case where the reference has a
//! marked BUG (PROTOCOL-AGENTS.md, docs/interop.md) is skipped, naming it. Without the variable
//! the tests return at once.

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

/// Calls a tool expecting the tool error `code`.
async fn fails(h: &RunningService<rmcp::RoleClient, ()>, name: &'static str, args: Value, code: &str) -> Value {
    let r = call(h, name, args.clone()).await;
    let err = r.structured_content.unwrap_or_default();
    assert_eq!((r.is_error, err["error"].as_str()), (Some(true), Some(code)), "{name}({args}): {err}");
    err
}

/// A case the reference gets wrong (a marked BUG): not checked against it.
fn skip(case: &str, bug: &str) {
    eprintln!("not checked on the reference: {case} ({bug})");
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap_or_else(|| panic!("no id in {v}")).to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_platform_tools_against_a_live_server() {
    let Some(url) = url() else { return };
    let h = host(&url, "dev-user-key", "mcp-agent").await;
    let root = ok(&h, "create_intent", json!({"title": "MCP agent platform"})).await;
    let id = id_of(&root);
    // Agent ids are unique per run: the reference keeps its database between tests.
    let agent = format!("mcp-ref-{}", &id[..8]);

    // Registry.
    let record = ok(&h, "register_agent", json!({"agent_id": agent, "capabilities": ["research"]})).await;
    assert_eq!(record["agent_id"], agent.as_str(), "{record}");
    skip("registering a known agent_id again", "BUG: 500 unique-key violation, PROTOCOL-AGENTS.md §1.3");
    ok(&h, "agent_heartbeat", json!({"agent_id": agent, "current_load": 1, "tasks_in_progress": [id]})).await;
    let record = ok(&h, "get_agent_record", json!({"agent_id": agent})).await;
    assert_eq!((record["status"].as_str(), record["capacity"]["current_load"].as_i64()), (Some("active"), Some(1)));
    let listed = ok(&h, "list_agents", json!({"status": "active"})).await;
    assert!(listed["items"].as_array().unwrap().iter().any(|a| a["agent_id"] == agent.as_str()), "{listed}");
    assert_eq!(ok(&h, "drain_agent", json!({"agent_id": agent})).await["status"], "draining");
    let read = h.read_resource(ReadResourceRequestParams::new(format!("openintent://agents/{agent}"))).await.unwrap();
    assert!(format!("{:?}", read.contents).contains("draining"), "{read:?}");
    fails(&h, "deregister_agent", json!({"agent_id": agent}), "unsupported").await;

    // Graphs: two children of the root, the second depending on the first.
    let a = ok(&h, "create_child_intent", json!({"parent_id": id, "title": "A"})).await;
    let b = ok(&h, "create_child_intent", json!({"parent_id": id, "title": "B", "depends_on": [id_of(&a)]})).await;
    let ids = |v: &Value| -> Vec<String> { v["items"].as_array().unwrap().iter().map(id_of).collect() };
    assert_eq!(ids(&ok(&h, "get_children", json!({"intent_id": id})).await), [id_of(&a), id_of(&b)]);
    assert_eq!(ok(&h, "get_descendants", json!({"intent_id": id})).await["count"], 2);
    assert_eq!(ids(&ok(&h, "get_ancestors", json!({"intent_id": id_of(&a)})).await), std::slice::from_ref(&id));
    assert_eq!(ids(&ok(&h, "get_dependencies", json!({"intent_id": id_of(&b)})).await), [id_of(&a)]);
    assert_eq!(ids(&ok(&h, "get_dependents", json!({"intent_id": id_of(&a)})).await), [id_of(&b)]);
    assert_eq!(ids(&ok(&h, "get_ready_intents", json!({"intent_id": id})).await), [id_of(&a)]);
    assert_eq!(ids(&ok(&h, "get_blocked_intents", json!({"intent_id": id})).await), [id_of(&b)]);
    let graph = ok(&h, "get_intent_graph", json!({"intent_id": id})).await;
    assert_eq!(graph["nodes"].as_array().map(Vec::len), Some(3), "{graph}");
    let other = ok(&h, "create_intent", json!({"title": "Elsewhere"})).await;
    let dep = json!({"intent_id": id_of(&a), "version": a["version"], "dependency_id": id_of(&other)});
    let a2 = ok(&h, "add_dependency", dep).await;
    assert_eq!(a2["depends_on"], json!([id_of(&other)]), "{a2}");
    let undo = json!({"intent_id": id_of(&a), "version": a2["version"], "dependency_id": id_of(&other)});
    assert_eq!(ok(&h, "remove_dependency", undo).await["depends_on"], json!([]));

    // Human in the loop. The reference has no suspend route: the tool says so, and a
    // suspension is written as the 0.17 SDK writes it (the status, then the `_suspension` record).
    let current = ok(&h, "get_intent", json!({"intent_id": id_of(&b)})).await;
    let ask =
        json!({"intent_id": id_of(&b), "version": current["version"], "question": "Ship it?", "response_type": "text"});
    fails(&h, "suspend", ask, "unsupported").await;
    let status = json!({"intent_id": id_of(&b), "version": current["version"], "status": "suspended_awaiting_input"});
    let suspended = ok(&h, "set_status", status).await;
    let record = json!({"id": "s-mcp-1", "question": "Ship it?", "response_type": "text", "suspended_at": "2026-11-24T13:46:05"});
    let write = json!({"intent_id": id_of(&b), "version": suspended["version"],
        "patches": [{"op": "set", "path": "/_suspension", "value": record}]});
    ok(&h, "update_state", write).await;
    let pending = ok(&h, "get_suspension", json!({"intent_id": id_of(&b)})).await;
    assert_eq!(
        (pending["pending"].as_bool(), &pending["suspension"]["id"]),
        (Some(true), &json!("s-mcp-1")),
        "{pending}"
    );
    let answer = json!({"intent_id": id_of(&b), "suspension_id": "s-mcp-1", "value": "yes"});
    ok(&h, "respond_to_suspension", answer).await;
    assert_eq!(ok(&h, "get_intent", json!({"intent_id": id_of(&b)})).await["status"], "active");
    skip(
        "the answer stored in _suspension (get_suspension: pending false)",
        "BUG [REF]: the respond route loses its _suspension write, PROTOCOL-AGENTS.md §3.3",
    );

    // Governance: a policy, an approval, an escalation.
    let current = ok(&h, "get_intent", json!({"intent_id": id})).await;
    let policy = json!({"intent_id": id, "version": current["version"], "completion_mode": "require_approval", "max_cost": 50.0});
    let governed = ok(&h, "set_governance_policy", policy).await;
    let got = ok(&h, "get_governance_policy", json!({"intent_id": id})).await;
    assert!(got.to_string().contains("require_approval"), "{got}");
    let approval = ok(&h, "request_approval", json!({"intent_id": id, "action": "complete", "reason": "done"})).await;
    let aid = id_of(&approval);
    assert_eq!(ok(&h, "get_approval_status", json!({"intent_id": id, "approval_id": aid})).await["status"], "pending");
    assert_eq!(ok(&h, "approve_approval", json!({"intent_id": id, "approval_id": aid})).await["status"], "approved");
    fails(&h, "list_approvals", json!({"intent_id": id}), "unsupported").await;
    let escalation =
        ok(&h, "escalate_to_human", json!({"intent_id": id, "reason": "budget", "priority": "high"})).await;
    let eid = id_of(&escalation);
    let pending = ok(&h, "list_escalations", json!({"intent_id": id, "status": "pending"})).await;
    assert_eq!(ids(&pending), std::slice::from_ref(&eid));
    fails(&h, "get_escalation", json!({"escalation_id": eid}), "unsupported").await;
    let resolved = ok(&h, "resolve_escalation", json!({"escalation_id": eid, "resolution": "approved"})).await;
    assert_eq!(resolved["status"], "resolved");
    let removed = ok(&h, "remove_governance_policy", json!({"intent_id": id, "version": governed["version"]})).await;
    assert_eq!(removed["governance_policy"], Value::Null, "{removed}");

    // Access control (stored, not enforced, on the reference).
    ok(&h, "grant_access", json!({"intent_id": id, "principal_id": "reviewer", "permission": "read"})).await;
    let acl = ok(&h, "get_acl", json!({"intent_id": id})).await;
    let entry = acl["entries"].as_array().unwrap().iter().find(|e| e["principal_id"] == "reviewer").cloned();
    let entry = entry.unwrap_or_else(|| panic!("no entry of reviewer in {acl}"));
    let request =
        json!({"intent_id": id, "principal_id": "auditor", "requested_permission": "write", "reason": "audit"});
    let filed = ok(&h, "request_access", request).await;
    assert_eq!(ok(&h, "list_access_requests", json!({"intent_id": id})).await["count"], 1);
    let decided = ok(&h, "approve_access_request", json!({"intent_id": id, "request_id": id_of(&filed)})).await;
    assert_eq!(decided["status"], "approved", "{decided}");
    ok(&h, "revoke_access", json!({"intent_id": id, "entry_id": entry["id"]})).await;
    let replaced = json!({"intent_id": id, "default_policy": "open",
        "entries": [{"principal_id": "mcp-agent", "permission": "admin"}]});
    let acl = ok(&h, "set_acl", replaced).await;
    assert_eq!(acl["entries"].as_array().map(Vec::len), Some(1), "{acl}");
    skip("an ACL entry without principal_id", "BUG: 500 on the reference, PROTOCOL-AGENTS.md §9 (set ACL)");

    // Channels.
    let channel =
        ok(&h, "create_channel", json!({"intent_id": id, "name": "coord", "members": ["mcp-agent", "peer"]})).await;
    let cid = id_of(&channel);
    assert_eq!(ok(&h, "list_channels", json!({"intent_id": id})).await["count"], 1);
    assert_eq!(ok(&h, "get_channel", json!({"channel_id": cid})).await["name"], "coord");
    let sent = ok(&h, "send_message", json!({"channel_id": cid, "to": "peer", "payload": {"q": "ready?"}})).await;
    let mid = id_of(&sent);
    let reply = ok(&h, "reply_to", json!({"channel_id": cid, "message_id": mid, "payload": {"a": "yes"}})).await;
    assert_eq!(reply["correlation_id"], mid.as_str(), "{reply}");
    assert_eq!(ok(&h, "list_messages", json!({"channel_id": cid})).await["count"], 2);
    assert_eq!(ok(&h, "get_message", json!({"channel_id": cid, "message_id": mid})).await["payload"]["q"], "ready?");
    let read = ok(&h, "mark_read", json!({"channel_id": cid, "message_id": mid})).await;
    assert!(read["read_at"].is_string(), "{read}");
    let changed = ok(&h, "update_channel", json!({"channel_id": cid, "members": ["mcp-agent", "peer", "third"]})).await;
    assert_eq!(changed["members"].as_array().map(Vec::len), Some(3), "{changed}");
    ok(&h, "close_channel", json!({"channel_id": cid})).await;
}
