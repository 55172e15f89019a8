//! `openintent mcp` end to end: an MCP client drives the built binary over its stdio, and over
//! streamable HTTP, against an in-process OpenIntent server.

use std::collections::HashMap;
use std::process::Stdio;
use std::time::Duration;

use openintent_mcp::OpenIntentMcp;
use openintent_server::{RunningServer, ServerConfig, WebhookConfig};
use rmcp::model::{
    CallToolRequestParams, ReadResourceRequestParams, ResourceContents, ResourceUpdatedNotificationParam,
    SubscribeRequestParams,
};
use rmcp::service::{NotificationContext, RunningService};
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::{Value, json};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

const BIN: &str = env!("CARGO_BIN_EXE_openintent");

fn command(server: &RunningServer, args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(["--url", &server.url(), "--agent-id", "mcp-cli"])
        .args(args)
        .env_remove("OPENINTENT_URL")
        .env_remove("OPENINTENT_API_KEY")
        .env_remove("OPENINTENT_AGENT_ID")
        .env_remove("OPENINTENT_MCP_TIER")
        .kill_on_drop(true);
    cmd
}

fn args(v: Value) -> serde_json::Map<String, Value> {
    v.as_object().cloned().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_over_stdio_with_tiers() {
    let server = openintent_server::spawn(ServerConfig::in_memory()).await.unwrap();

    // Operator (the default): create an intent, then read it as a tool and as a resource.
    let mut child: Child = command(&server, &["mcp"]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    let (stdout, stdin) = (child.stdout.take().unwrap(), child.stdin.take().unwrap());
    let host = ().serve((stdout, stdin)).await.expect("initialize over stdio");
    let tools = host.list_all_tools().await.unwrap();
    assert!(tools.iter().any(|t| t.name == "create_intent"));
    assert!(!tools.iter().any(|t| t.name == "set_acl"), "admin tools need --tier admin");
    let created = host
        .call_tool(CallToolRequestParams::new("create_intent").with_arguments(args(json!({"title": "Via MCP"}))))
        .await
        .unwrap();
    let intent = created.structured_content.expect("structured content");
    let id = intent["id"].as_str().unwrap().to_owned();
    assert_eq!(intent["created_by"], "mcp-cli", "acts as --agent-id: {intent}");
    let read = host.read_resource(ReadResourceRequestParams::new(format!("openintent://intents/{id}"))).await.unwrap();
    assert!(format!("{:?}", read.contents).contains("Via MCP"));
    host.cancel().await.unwrap();
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait()).await.expect("exits").unwrap();
    assert!(status.success(), "{status}");

    // Reader: no write tool, and a write is refused.
    let mut child =
        command(&server, &["mcp", "--tier", "reader"]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    let (stdout, stdin) = (child.stdout.take().unwrap(), child.stdin.take().unwrap());
    let host = ().serve((stdout, stdin)).await.expect("initialize over stdio");
    let tools = host.list_all_tools().await.unwrap();
    assert!(tools.iter().any(|t| t.name == "get_intent"));
    assert!(!tools.iter().any(|t| t.name == "create_intent" || t.name == "update_state"));
    let refused = host
        .call_tool(CallToolRequestParams::new("create_intent").with_arguments(args(json!({"title": "No"}))))
        .await
        .unwrap();
    assert_eq!(refused.is_error, Some(true));
    assert_eq!(refused.structured_content.unwrap()["error"], "tier_refused");
    let got = host
        .call_tool(CallToolRequestParams::new("get_intent").with_arguments(args(json!({"intent_id": id}))))
        .await
        .unwrap();
    assert_eq!(got.structured_content.unwrap()["title"], "Via MCP");
    host.cancel().await.unwrap();
    let _ = child.wait().await;

    // A bad tier is a usage error.
    let out = command(&server, &["mcp", "--tier", "root"]).output().await.unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("reader, operator or admin"));
    let _ = server.shutdown().await;
}

/// The JSON-RPC answer in a streamable HTTP response (plain JSON or server-sent events).
fn rpc_answer(body: &str) -> Value {
    if let Ok(v) = serde_json::from_str::<Value>(body) {
        return v;
    }
    body.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
        .find(|v| v.get("id").is_some())
        .unwrap_or_else(|| panic!("no JSON-RPC answer in {body:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_over_streamable_http() {
    let server = openintent_server::spawn(ServerConfig::in_memory()).await.unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = command(&server, &["mcp", "--http", &addr, "--tier", "reader"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://{addr}/mcp");
    let http = reqwest::Client::new();
    let post = |body: Value, session: Option<String>| {
        let mut req = http
            .post(&url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(body.to_string());
        if let Some(s) = session {
            req = req.header("mcp-session-id", s);
        }
        req.send()
    };
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "0"}}});
    // Wait (bounded) for the binary to listen.
    let mut answer = None;
    for _ in 0..100 {
        if let Ok(r) = post(init.clone(), None).await {
            answer = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let answer = answer.expect("openintent mcp --http listens");
    assert!(answer.status().is_success(), "{}", answer.status());
    let session = answer.headers().get("mcp-session-id").map(|v| v.to_str().unwrap().to_owned());
    let init_answer = rpc_answer(&answer.text().await.unwrap());
    assert_eq!(init_answer["result"]["serverInfo"]["name"], "openintent-mcp", "{init_answer}");

    let note = post(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}), session.clone()).await.unwrap();
    assert!(note.status().is_success(), "{}", note.status());
    let list = post(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}), session.clone()).await.unwrap();
    let list = rpc_answer(&list.text().await.unwrap());
    let names: Vec<&str> =
        list["result"]["tools"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"list_intents") && !names.contains(&"create_intent"), "{names:?}");
    let call = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
        "params": {"name": "list_intents", "arguments": {}}});
    let called = rpc_answer(&post(call, session).await.unwrap().text().await.unwrap());
    assert_eq!(called["result"]["structuredContent"]["count"], 0, "{called}");

    let _ = child.kill().await;
    let _ = server.shutdown().await;
}

/// A host that forwards `resources/updated` notifications to a channel.
struct Host(mpsc::UnboundedSender<String>);

impl ClientHandler for Host {
    async fn on_resource_updated(&self, params: ResourceUpdatedNotificationParam, _: NotificationContext<RoleClient>) {
        let _ = self.0.send(params.uri);
    }
}

/// A host session with the binary, and the compiled input schema of each tool it lists.
struct Admin {
    host: RunningService<RoleClient, Host>,
    schemas: HashMap<String, (boon::Schemas, boon::SchemaIndex)>,
}

/// Compiles a tool's input schema as JSON Schema 2020-12 (checked against the meta-schema,
/// patterns compiled).
fn compile(tool: &str, schema: &Value) -> Result<(boon::Schemas, boon::SchemaIndex), String> {
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    compiler.set_default_draft(boon::Draft::V2020_12);
    let loc = format!("http://openintent-mcp.test/tools/{tool}.json");
    compiler.add_resource(&loc, schema.clone()).map_err(|e| format!("{e:#}"))?;
    let index = compiler.compile(&loc, &mut schemas).map_err(|e| format!("{e:#}"))?;
    Ok((schemas, index))
}

impl Admin {
    /// Calls a tool with arguments its listed schema admits, expecting success; returns the
    /// structured content.
    async fn ok(&self, name: &str, arguments: Value) -> Value {
        let (schemas, index) = self.schemas.get(name).unwrap_or_else(|| panic!("{name} is not listed"));
        if let Err(e) = schemas.validate(&arguments, *index) {
            panic!("{name}({arguments}): the arguments do not meet the tool's schema: {e:#}");
        }
        let params = CallToolRequestParams::new(name.to_owned()).with_arguments(args(arguments.clone()));
        let r = self.host.call_tool(params).await.unwrap();
        assert_ne!(r.is_error, Some(true), "{name}({arguments}) failed: {:?}", r.structured_content);
        r.structured_content.unwrap_or_else(|| panic!("{name}: no structured content"))
    }

    /// The JSON text of a resource.
    async fn read(&self, uri: &str) -> Value {
        let read = self.host.read_resource(ReadResourceRequestParams::new(uri.to_owned())).await.unwrap();
        let ResourceContents::TextResourceContents { text, .. } = &read.contents[0] else { panic!("{uri}: not text") };
        serde_json::from_str(text).unwrap()
    }
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap_or_else(|| panic!("no id in {v}")).to_owned()
}

/// `openintent mcp --tier admin` over stdio: every tool of the table is listed with an input
/// schema that is a JSON Schema, a tool of each area works (with arguments its schema admits),
/// the four kinds of resource are read, and a subscriber hears of a change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_area_over_stdio_at_the_admin_tier() {
    // Webhook deliveries are recorded, not sent: the test reaches no other host.
    let config = ServerConfig::in_memory().with_webhooks(WebhookConfig::disabled());
    let server = openintent_server::spawn(config).await.unwrap();
    let mut child =
        command(&server, &["mcp", "--tier", "admin"]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    let (stdout, stdin) = (child.stdout.take().unwrap(), child.stdin.take().unwrap());
    let (tx, mut updates) = mpsc::unbounded_channel();
    let host = Host(tx).serve((stdout, stdin)).await.expect("initialize over stdio");
    let info = host.peer_info().expect("server info");
    assert_eq!(info.server_info.name, "openintent-mcp");
    assert!(info.capabilities.resources.as_ref().and_then(|r| r.subscribe).unwrap_or(false));

    let tools = host.list_all_tools().await.unwrap();
    let listed: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    let table: Vec<&str> = OpenIntentMcp::all_tools().into_iter().map(|(name, _)| name).collect();
    assert_eq!(listed, table, "the admin tier lists every tool");
    let mut schemas = HashMap::new();
    for t in &tools {
        let schema = Value::Object((*t.input_schema).clone());
        let compiled = compile(&t.name, &schema)
            .unwrap_or_else(|e| panic!("the input schema of {} is not a JSON Schema: {e}\n{schema:#}", t.name));
        schemas.insert(t.name.to_string(), compiled);
    }
    let s = Admin { host, schemas };

    // Intents and state.
    let intent = s.ok("create_intent", json!({"title": "Across the areas", "state": {"step": 0}})).await;
    let id = id_of(&intent);
    assert_eq!(intent["created_by"], "mcp-cli");
    let updated =
        s.ok("update_state", json!({"intent_id": id, "version": intent["version"], "state": {"step": 1}})).await;
    assert_eq!(updated["state"]["step"], 1);
    let patched = json!({"intent_id": id, "version": updated["version"],
        "patches": [{"op": "set", "path": "/notes", "value": ["a"]}, {"op": "append", "path": "/notes", "value": "b"}]});
    assert_eq!(s.ok("update_state", patched).await["state"]["notes"], json!(["a", "b"]));
    // Events.
    s.ok("log_event", json!({"intent_id": id, "event_type": "comment", "payload": {"text": "hello"}})).await;
    let comments = s.ok("get_events", json!({"intent_id": id, "event_type": "comment"})).await;
    assert_eq!(comments["count"], 1);
    // Leases.
    let lease = s.ok("acquire_lease", json!({"intent_id": id, "scope": "analysis", "duration_seconds": 60})).await;
    assert_eq!(s.ok("get_leases", json!({"intent_id": id})).await["count"], 1);
    s.ok("release_lease", json!({"intent_id": id, "lease_id": lease["id"]})).await;
    // Arbitration.
    let options = json!([{"label": "A", "rationale": "cheaper"}, {"label": "B"}]);
    s.ok("request_arbitration", json!({"intent_id": id, "reason": "two plans", "options": options})).await;
    s.ok("record_decision", json!({"intent_id": id, "outcome": "A", "rationale": "cost"})).await;
    assert_eq!(s.ok("get_decisions", json!({"intent_id": id})).await["count"], 1);
    // Attachments.
    let file = json!({"intent_id": id, "filename": "n.txt", "content_type": "text/plain", "content_base64": "aGk="});
    s.ok("add_attachment", file).await;
    assert_eq!(s.ok("get_attachments", json!({"intent_id": id})).await["count"], 1);
    // Webhook subscriptions.
    let hook = json!({"intent_id": id, "webhook_url": "https://hooks.example.com/openintent", "event_types": ["state_patched"]});
    let sub = s.ok("subscribe", hook).await;
    assert_eq!(s.ok("get_subscriptions", json!({"intent_id": id})).await["count"], 1);
    s.ok("unsubscribe", json!({"intent_id": id, "subscription_id": sub["id"]})).await;
    // Costs.
    s.ok("record_cost", json!({"intent_id": id, "cost_type": "tokens", "amount": 120.0, "unit": "tokens"})).await;
    let summary = s.ok("get_cost_summary", json!({"intent_id": id})).await;
    assert!(summary.to_string().contains("120"), "{summary}");
    // Retries.
    s.ok("set_retry_policy", json!({"intent_id": id, "strategy": "exponential", "max_retries": 3})).await;
    assert_eq!(s.ok("get_retry_policy", json!({"intent_id": id})).await["retry_policy"]["max_retries"], 3);
    let failure = json!({"intent_id": id, "error_type": "timeout", "error_message": "slow", "attempt_number": 1});
    s.ok("record_failure", failure).await;
    // Portfolios.
    let portfolio = s.ok("create_portfolio", json!({"name": "Quarter"})).await;
    let pid = id_of(&portfolio);
    s.ok("add_intent_to_portfolio", json!({"portfolio_id": pid, "intent_id": id})).await;
    assert_eq!(s.ok("get_portfolio_intents", json!({"portfolio_id": pid})).await["count"], 1);
    // Registry.
    s.ok("register_agent", json!({"agent_id": "mcp-cli", "capabilities": ["research"]})).await;
    s.ok("agent_heartbeat", json!({"agent_id": "mcp-cli", "current_load": 1})).await;
    assert_eq!(s.ok("get_agent_record", json!({"agent_id": "mcp-cli"})).await["status"], "active");
    // Graphs.
    let child_intent = s.ok("create_child_intent", json!({"parent_id": id, "title": "Sub-task"})).await;
    let cid = id_of(&child_intent);
    assert_eq!(s.ok("get_children", json!({"intent_id": id})).await["items"][0]["id"], cid.as_str());
    let graph = s.ok("get_intent_graph", json!({"intent_id": id})).await;
    assert!(graph.to_string().contains(&cid), "{graph}");
    // Human in the loop, on the child.
    let question =
        json!({"intent_id": cid, "version": child_intent["version"], "question": "Go on?", "response_type": "text"});
    s.ok("suspend", question).await;
    let pending = s.ok("get_suspension", json!({"intent_id": cid})).await;
    assert_eq!(pending["pending"], true, "{pending}");
    let answer = json!({"intent_id": cid, "suspension_id": pending["suspension"]["id"], "value": "yes, go on"});
    s.ok("respond_to_suspension", answer).await;
    assert_eq!(s.ok("get_suspension", json!({"intent_id": cid})).await["pending"], false);
    // Governance: a policy, and an escalation resolved by this admin.
    let current = s.ok("get_intent", json!({"intent_id": id})).await;
    let policy = json!({"intent_id": id, "version": current["version"], "completion_mode": "require_approval", "max_cost": 1000.0});
    s.ok("set_governance_policy", policy).await;
    assert!(s.ok("get_governance_policy", json!({"intent_id": id})).await.to_string().contains("1000"));
    let escalation = s.ok("escalate_to_human", json!({"intent_id": id, "reason": "budget", "priority": "high"})).await;
    let resolved =
        s.ok("resolve_escalation", json!({"escalation_id": escalation["id"], "resolution": "approved"})).await;
    assert_eq!(resolved["status"], "resolved", "{resolved}");
    // Access control.
    s.ok("grant_access", json!({"intent_id": id, "principal_id": "reviewer", "permission": "read"})).await;
    assert!(s.ok("get_acl", json!({"intent_id": id})).await.to_string().contains("reviewer"));
    // Channels.
    let channel =
        s.ok("create_channel", json!({"intent_id": id, "name": "coord", "members": ["mcp-cli", "peer"]})).await;
    let chid = id_of(&channel);
    s.ok("send_message", json!({"channel_id": chid, "to": "peer", "payload": {"q": "ready?"}})).await;
    assert_eq!(s.ok("list_messages", json!({"channel_id": chid})).await["count"], 1);

    // Resources: an intent, its event log, a portfolio, an agent.
    let uri = format!("openintent://intents/{id}");
    let read = s.read(&uri).await;
    assert_eq!((read["title"].as_str(), &read["state"]["step"]), (Some("Across the areas"), &json!(1)));
    let events = s.read(&format!("{uri}/events")).await;
    assert!(events.to_string().contains("hello"), "{events}");
    assert_eq!(s.read(&format!("openintent://portfolios/{pid}")).await["name"], "Quarter");
    assert_eq!(s.read("openintent://agents/mcp-cli").await["agent_id"], "mcp-cli");

    // A subscriber hears of a change made through a tool.
    s.host.subscribe(SubscribeRequestParams::new(uri.clone())).await.unwrap();
    let current = s.ok("get_intent", json!({"intent_id": id})).await;
    s.ok("update_state", json!({"intent_id": id, "version": current["version"], "state": {"step": 2}})).await;
    let heard = tokio::time::timeout(Duration::from_secs(10), updates.recv()).await.expect("no resources/updated");
    assert_eq!(heard.as_deref(), Some(uri.as_str()));

    s.host.cancel().await.unwrap();
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait()).await.expect("exits").unwrap();
    assert!(status.success(), "{status}");
    let _ = server.shutdown().await;
}
