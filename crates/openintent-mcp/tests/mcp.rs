//! End to end: an MCP client (rmcp's) talks to the MCP server over an in-memory duplex; the
//! MCP server acts through the OpenIntent client on an in-process OpenIntent server.

use std::collections::HashMap;
use std::time::Duration;

use openintent_client::Client;
use openintent_mcp::{OpenIntentMcp, Tier};
use openintent_server::{RunningServer, ServerConfig};
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientInfo, CreateElicitationRequestParams, CreateElicitationResult,
    ElicitationAction, ElicitationCapability, ReadResourceRequestParams, ResourceContents,
    ResourceUpdatedNotificationParam, SubscribeRequestParams, UnsubscribeRequestParams,
};
use rmcp::service::{NotificationContext, RequestContext, RunningService};
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

/// A host that forwards resource-updated notifications to a channel and, when given an
/// answer, can ask its user (elicitation): the user answers with it.
struct Host {
    updates: mpsc::UnboundedSender<String>,
    answer: Option<Value>,
    asked: std::sync::Mutex<Vec<String>>,
}

impl ClientHandler for Host {
    async fn on_resource_updated(&self, params: ResourceUpdatedNotificationParam, _: NotificationContext<RoleClient>) {
        let _ = self.updates.send(params.uri);
    }

    fn get_info(&self) -> ClientInfo {
        let mut info = ClientInfo::default();
        if self.answer.is_some() {
            info.capabilities.elicitation = Some(ElicitationCapability::default());
        }
        info
    }

    async fn create_elicitation(
        &self,
        request: CreateElicitationRequestParams,
        _: RequestContext<RoleClient>,
    ) -> Result<CreateElicitationResult, rmcp::ErrorData> {
        let CreateElicitationRequestParams::FormElicitationParams { message, requested_schema, .. } = request else {
            panic!("a form was expected")
        };
        self.asked.lock().unwrap().push(format!("{message}\n{}", serde_json::to_string(&requested_schema).unwrap()));
        let answer = self.answer.clone().expect("only a host that says it elicits is asked");
        Ok(CreateElicitationResult::new(ElicitationAction::Accept).with_content(json!({"answer": answer})))
    }
}

struct Session {
    mcp: RunningService<RoleClient, Host>,
    updates: mpsc::UnboundedReceiver<String>,
    /// The compiled input schema of each listed tool.
    schemas: HashMap<String, (boon::Schemas, boon::SchemaIndex)>,
    _server: RunningServer,
}

async fn session(tier: Tier) -> Session {
    session_with(tier, None).await
}

async fn session_with(tier: Tier, answer: Option<Value>) -> Session {
    let server = openintent_server::spawn(ServerConfig::in_memory()).await.unwrap();
    let client = Client::new(server.url(), "dev-user-key", "mcp-agent").unwrap();
    let (host_io, server_io) = tokio::io::duplex(1 << 16);
    let mcp_server = OpenIntentMcp::new(client, tier);
    tokio::spawn(async move {
        let (r, w) = tokio::io::split(server_io);
        let _ = openintent_mcp::serve(mcp_server, (r, w)).await;
    });
    let (tx, updates) = mpsc::unbounded_channel();
    let (r, w) = tokio::io::split(host_io);
    let mcp = Host { updates: tx, answer, asked: Default::default() }.serve((r, w)).await.expect("initialize");
    let mut schemas = HashMap::new();
    for t in mcp.list_all_tools().await.unwrap() {
        let compiled = compile(&t.name, &Value::Object((*t.input_schema).clone())).unwrap();
        schemas.insert(t.name.to_string(), compiled);
    }
    Session { mcp, updates, schemas, _server: server }
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => panic!("not an object"),
    }
}

impl Session {
    async fn call(&self, name: &'static str, args: Value) -> CallToolResult {
        self.mcp.call_tool(CallToolRequestParams::new(name).with_arguments(obj(args))).await.unwrap()
    }

    /// Whether `args` meet the listed input schema of tool `name` (the error says where not).
    fn check_args(&self, name: &str, args: &Value) -> Result<(), String> {
        let (schemas, index) = self.schemas.get(name).unwrap_or_else(|| panic!("{name} is not listed"));
        schemas.validate(args, *index).map_err(|e| format!("{e:#}"))
    }

    /// Calls a tool with arguments its schema admits, expecting success; returns its structured
    /// content.
    async fn ok(&self, name: &'static str, args: Value) -> Value {
        if let Err(e) = self.check_args(name, &args) {
            panic!("{name}({args}): the arguments do not meet the tool's schema: {e}");
        }
        let r = self.call(name, args.clone()).await;
        assert_ne!(r.is_error, Some(true), "{name}({args}) failed: {:?}", r.structured_content);
        r.structured_content.unwrap_or_else(|| panic!("{name}: no structured content"))
    }

    /// Calls a tool with arguments its schema refuses, expecting the tool to refuse them too,
    /// naming the argument; returns the error's structured content.
    async fn bad_args(&self, name: &'static str, args: Value) -> Value {
        assert!(self.check_args(name, &args).is_err(), "{name}({args}): the schema admits these arguments");
        let err = self.err(name, args).await;
        assert_eq!(err["error"], "invalid_argument", "{err}");
        err
    }

    /// Calls a tool expecting a tool error; returns its structured content.
    async fn err(&self, name: &'static str, args: Value) -> Value {
        let r = self.call(name, args.clone()).await;
        assert_eq!(r.is_error, Some(true), "{name}({args}) should fail: {:?}", r.structured_content);
        r.structured_content.unwrap()
    }
}

/// Compiles a tool's input schema as JSON Schema 2020-12: checked against the meta-schema, its
/// patterns compiled. The error says why it is not a schema.
fn compile(tool: &str, schema: &Value) -> Result<(boon::Schemas, boon::SchemaIndex), String> {
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    compiler.set_default_draft(boon::Draft::V2020_12);
    let loc = format!("http://openintent-mcp.test/tools/{tool}.json");
    compiler.add_resource(&loc, schema.clone()).map_err(|e| format!("{e:#}"))?;
    let index = compiler.compile(&loc, &mut schemas).map_err(|e| format!("{tool}: {e:#}"))?;
    Ok((schemas, index))
}

#[test]
fn the_schema_check_refuses_what_is_no_schema() {
    assert!(compile("ok", &json!({"type": "object", "properties": {"a": {"type": ["string", "null"]}}})).is_ok());
    for bad in [
        json!({"type": "strin"}),
        json!({"type": "string", "minLength": -1}),
        json!({"type": "string", "pattern": "(unclosed"}),
        json!({"properties": {"a": 5}}),
        json!({"required": "a"}),
    ] {
        assert!(compile("bad", &bad).is_err(), "{bad} passed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_is_a_tool_with_a_schema_and_tiers_filter_them() {
    let s = session(Tier::Admin).await;
    let info = s.mcp.peer_info().expect("server info");
    assert_eq!(info.server_info.name, "openintent-mcp");
    assert!(info.capabilities.resources.as_ref().and_then(|r| r.subscribe).unwrap_or(false));

    let tools = s.mcp.list_all_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    // The admin tier lists every tool of the table (tests/operations.rs: one per operation).
    let all: Vec<&str> = OpenIntentMcp::all_tools().into_iter().map(|(name, _)| name).collect();
    assert_eq!(names, all);
    for t in &tools {
        let schema = Value::Object((*t.input_schema).clone());
        assert_eq!(schema["type"], "object", "{}", t.name);
        assert_eq!(schema["additionalProperties"], false, "{}", t.name);
        if let Err(e) = compile(&t.name, &schema) {
            panic!("the input schema of {} is not a JSON Schema: {e}\n{schema:#}", t.name);
        }
        assert!(t.description.as_ref().is_some_and(|d| d.len() > 20), "{}: describe it", t.name);
    }
    // The request fields of the types crate are the arguments, with their rules.
    let create = tools.iter().find(|t| t.name == "create_intent").unwrap();
    let schema = Value::Object((*create.input_schema).clone());
    assert_eq!(schema["required"], json!(["title"]));
    assert_eq!(schema["properties"]["title"]["maxLength"], 500);
    let lease = tools.iter().find(|t| t.name == "acquire_lease").unwrap();
    let schema = Value::Object((*lease.input_schema).clone());
    assert_eq!(schema["required"], json!(["intent_id", "scope"]));
    assert_eq!(schema["properties"]["duration_seconds"]["minimum"], 1.0);

    // A reader sees only tools that read; an operator sees no admin tool.
    let reader = session(Tier::Reader).await;
    let reader_tools = reader.mcp.list_all_tools().await.unwrap();
    assert!(reader_tools.iter().any(|t| t.name == "get_intent"));
    for t in &reader_tools {
        assert_eq!(t.annotations.as_ref().and_then(|a| a.read_only_hint), Some(true), "{} is a write", t.name);
    }
    for write in ["create_intent", "update_state", "acquire_lease", "set_acl", "log_event"] {
        assert!(!reader_tools.iter().any(|t| t.name == write), "a reader sees {write}");
    }
    let operator = session(Tier::Operator).await;
    let operator_tools: Vec<String> =
        operator.mcp.list_all_tools().await.unwrap().iter().map(|t| t.name.to_string()).collect();
    assert!(operator_tools.contains(&"create_intent".to_owned()));
    assert!(!operator_tools.contains(&"set_acl".to_owned()));
    assert!(reader_tools.len() < operator_tools.len() && operator_tools.len() < tools.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_cannot_call_a_write_tool() {
    let s = session(Tier::Reader).await;
    let err = s.err("create_intent", json!({"title": "nope"})).await;
    assert_eq!(err["error"], "tier_refused");
    assert!(err["message"].as_str().unwrap().contains("operator"), "{err}");
    // Nothing was created.
    let listed = s.ok("list_intents", json!({})).await;
    assert_eq!(listed["count"], 0);
    // An unknown tool is a protocol error.
    assert!(s.mcp.call_tool(CallToolRequestParams::new("no_such_tool")).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_of_each_area_works() {
    let s = session(Tier::Admin).await;
    // Intents and state.
    let intent = s.ok("create_intent", json!({"title": "Research", "state": {"progress": 0}})).await;
    let id = intent["id"].as_str().unwrap().to_owned();
    let v = intent["version"].as_i64().unwrap();
    let updated = s.ok("update_state", json!({"intent_id": id, "version": v, "state": {"progress": 0.5}})).await;
    assert_eq!(updated["state"]["progress"], 0.5);
    let v2 = updated["version"].as_i64().unwrap();
    // Events.
    s.ok("log_event", json!({"intent_id": id, "event_type": "comment", "payload": {"text": "hi"}})).await;
    let events = s.ok("get_events", json!({"intent_id": id})).await;
    assert!(events["count"].as_u64().unwrap() >= 1);
    // Leases.
    let lease = s.ok("acquire_lease", json!({"intent_id": id, "scope": "research", "duration_seconds": 60})).await;
    assert_eq!(lease["scope"], "research");
    assert_eq!(s.ok("get_leases", json!({"intent_id": id})).await["count"], 1);
    // Costs.
    s.ok("record_cost", json!({"intent_id": id, "cost_type": "tokens", "amount": 12.0, "unit": "tokens"})).await;
    assert_eq!(s.ok("get_costs", json!({"intent_id": id})).await["count"], 1);
    // Coordinator leases and their decision records.
    let coordinator = s.ok("create_coordinator_lease", json!({"intent_id": id})).await;
    let decision = json!({"coordinator_id": coordinator["id"], "intent_id": id, "decision_type": "plan_created",
                          "summary": "Plan", "rationale": "First step", "confidence": 0.9});
    let record = s.ok("create_decision_record", decision).await;
    let records = s.ok("list_decision_records", json!({"intent_id": id, "limit": 5})).await;
    assert_eq!((records["count"].as_u64(), &records["items"][0]["id"]), (Some(1), &record["id"]));
    // Portfolios.
    let p = s.ok("create_portfolio", json!({"name": "Q1"})).await;
    let pid = p["id"].as_str().unwrap().to_owned();
    s.ok("add_intent_to_portfolio", json!({"portfolio_id": pid, "intent_id": id})).await;
    assert_eq!(s.ok("get_portfolio_intents", json!({"portfolio_id": pid})).await["count"], 1);
    // Graph.
    let child = s.ok("create_child_intent", json!({"parent_id": id, "title": "Sub-task"})).await;
    let children = s.ok("get_children", json!({"intent_id": id})).await;
    assert_eq!(children["items"][0]["id"], child["id"]);
    // Registry.
    s.ok("register_agent", json!({"agent_id": "mcp-agent", "capabilities": ["research"]})).await;
    let agents = s.ok("list_agents", json!({"capabilities": ["research"]})).await;
    assert_eq!(agents["count"], 1);
    // Human in the loop.
    let current = s.ok("get_intent", json!({"intent_id": id})).await;
    let v3 = current["version"].as_i64().unwrap();
    s.ok("suspend", json!({"intent_id": id, "version": v3, "question": "Proceed?", "response_type": "text"})).await;
    let pending = s.ok("get_suspension", json!({"intent_id": id})).await;
    assert_eq!(
        (pending["pending"].as_bool(), pending["suspension"]["question"].as_str()),
        (Some(true), Some("Proceed?"))
    );
    // Governance approvals.
    // (one's own request is decided by someone else: this agent decides another agent's.)
    let other = Client::new(s._server.url(), "dev-user-key", "other-agent").unwrap();
    s.ok("request_approval", json!({"intent_id": id, "action": "complete", "reason": "done"})).await;
    let theirs = other.request_approval(&id, "spend").reason("budget").await.unwrap();
    assert_eq!(s.ok("list_approvals", json!({"intent_id": id})).await["count"], 2);
    let decided = s.ok("approve_approval", json!({"intent_id": id, "approval_id": theirs.id})).await;
    assert_eq!(decided["status"], "approved");
    // The inbox: the question, then the request still pending, oldest first.
    let inbox = s.ok("get_inbox", json!({})).await;
    let items = inbox["items"].as_array().unwrap();
    let kinds: Vec<_> = items.iter().map(|i| (i["kind"].as_str(), i["intent_id"].as_str())).collect();
    assert_eq!(kinds, [(Some("input"), Some(id.as_str())), (Some("approval"), Some(id.as_str()))], "{inbox}");
    assert_eq!((inbox["count"].as_u64(), items[0]["item"]["question"].as_str()), (Some(2), Some("Proceed?")));
    // Access control.
    s.ok("grant_access", json!({"intent_id": id, "principal_id": "reviewer", "permission": "read"})).await;
    let acl = s.ok("get_acl", json!({"intent_id": id})).await;
    assert!(acl.to_string().contains("reviewer"), "{acl}");
    // Channels.
    let ch = s.ok("create_channel", json!({"intent_id": id, "name": "coord", "members": ["mcp-agent", "b"]})).await;
    let cid = ch["id"].as_str().unwrap().to_owned();
    s.ok("send_message", json!({"channel_id": cid, "payload": {"q": "ready?"}, "to": "b"})).await;
    assert_eq!(s.ok("list_messages", json!({"channel_id": cid})).await["count"], 1);
    // Discovery.
    assert!(s.ok("discover", json!({})).await.is_object());

    // A stale version is a version conflict that says to re-read.
    let err = s.err("update_state", json!({"intent_id": id, "version": v2 - 1, "state": {"x": 1}})).await;
    assert_eq!(err["error"], "version_conflict", "{err}");
    assert!(err["hint"].as_str().unwrap().contains("Re-read"), "{err}");
    // Another agent's lease names its holder and its expiry.
    other.acquire_lease(&id, "writing").duration_seconds(300).await.unwrap();
    let err = s.err("acquire_lease", json!({"intent_id": id, "scope": "writing"})).await;
    assert_eq!(err["error"], "lease_conflict", "{err}");
    assert_eq!(err["holder"], "other-agent");
    assert!(err["expires_at"].is_string(), "{err}");
    assert!(err["hint"].as_str().unwrap().contains("other-agent"), "{err}");
    // Bad arguments name the argument.
    let err = s.bad_args("get_intent", json!({})).await;
    assert_eq!((err["error"].as_str(), err["field"].as_str()), (Some("invalid_argument"), Some("intent_id")));
    let err = s.bad_args("create_intent", json!({"title": " \u{3000} "})).await;
    assert_eq!(err["field"], "title", "{err}");
    let err = s.bad_args("get_intent", json!({"intent_id": id, "intnet": 1})).await;
    assert_eq!(err["field"], "intnet");
    let err = s.bad_args("update_state", json!({"intent_id": id, "version": "three", "state": {}})).await;
    assert_eq!(err["field"], "version");
    let err =
        s.bad_args("set_retry_policy", json!({"intent_id": id, "strategy": "exponential", "max_retries": "x"})).await;
    assert_eq!(err["field"], "max_retries", "{err}");
    let err = s.err("get_intent", json!({"intent_id": "does-not-exist"})).await;
    assert_eq!(err["error"], "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resources_are_read_and_subscribers_hear_of_changes() {
    let mut s = session(Tier::Operator).await;
    let intent = s.ok("create_intent", json!({"title": "Watched", "state": {"n": 1}})).await;
    let id = intent["id"].as_str().unwrap().to_owned();
    let uri = format!("openintent://intents/{id}");

    let templates = s.mcp.list_all_resource_templates().await.unwrap();
    assert!(templates.iter().any(|t| t.uri_template == "openintent://intents/{intent_id}/events"));
    let listed = s.mcp.list_all_resources().await.unwrap();
    assert!(listed.iter().any(|r| r.uri == uri), "{listed:?}");

    let read = s.mcp.read_resource(ReadResourceRequestParams::new(uri.clone())).await.unwrap();
    let ResourceContents::TextResourceContents { text, mime_type, .. } = &read.contents[0] else { panic!("not text") };
    assert_eq!(mime_type.as_deref(), Some("application/json"));
    let value: Value = serde_json::from_str(text).unwrap();
    assert_eq!(value["title"], "Watched");
    assert_eq!(value["state"]["n"], 1);
    let events_uri = format!("{uri}/events");
    s.mcp.read_resource(ReadResourceRequestParams::new(events_uri.clone())).await.unwrap();
    assert!(s.mcp.read_resource(ReadResourceRequestParams::new("openintent://intents/missing")).await.is_err());
    assert!(s.mcp.read_resource(ReadResourceRequestParams::new("file:///etc/passwd")).await.is_err());

    s.mcp.subscribe(SubscribeRequestParams::new(uri.clone())).await.unwrap();
    let v = value["version"].as_i64().unwrap();
    s.ok("update_state", json!({"intent_id": id, "version": v, "state": {"n": 2}})).await;
    let got = tokio::time::timeout(Duration::from_secs(10), s.updates.recv()).await.expect("no notification");
    assert_eq!(got.as_deref(), Some(uri.as_str()));

    // The event log's subscribers hear of new events.
    s.mcp.subscribe(SubscribeRequestParams::new(events_uri.clone())).await.unwrap();
    s.ok("log_event", json!({"intent_id": id, "event_type": "comment", "payload": {"m": "x"}})).await;
    let mut heard = Vec::new();
    while !heard.contains(&events_uri) {
        let got = tokio::time::timeout(Duration::from_secs(10), s.updates.recv()).await.expect("no notification");
        heard.push(got.unwrap());
    }

    // After unsubscribing, changes are not told any more.
    s.mcp.unsubscribe(UnsubscribeRequestParams::new(uri.clone())).await.unwrap();
    s.mcp.unsubscribe(UnsubscribeRequestParams::new(events_uri.clone())).await.unwrap();
    while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(300), s.updates.recv()).await {}
    let current = s.ok("get_intent", json!({"intent_id": id})).await;
    s.ok("update_state", json!({"intent_id": id, "version": current["version"], "state": {"n": 3}})).await;
    let late = tokio::time::timeout(Duration::from_millis(700), s.updates.recv()).await;
    assert!(late.is_err(), "told after unsubscribing: {late:?}");

    // Subscribing to something that does not exist fails.
    assert!(s.mcp.subscribe(SubscribeRequestParams::new("openintent://nothing/x")).await.is_err());
}

/// Suspends a new intent with a choice question; returns its id.
async fn suspended(s: &Session) -> String {
    let intent = s.ok("create_intent", json!({"title": "Needs a human"})).await;
    let id = intent["id"].as_str().unwrap().to_owned();
    let choices = json!([{"value": "approve", "label": "Approve it"}, {"value": "reject", "label": "Reject it"}]);
    let args = json!({"intent_id": id, "version": intent["version"], "question": "Ship it?", "choices": choices});
    s.ok("suspend", args).await;
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_question_is_put_to_the_hosts_user_where_it_can_ask() {
    let s = session_with(Tier::Operator, Some(json!("approve"))).await;
    let id = suspended(&s).await;
    let got = s.ok("answer_pending_input", json!({"intent_id": id})).await;
    assert_eq!((got["answered"].as_bool(), got["answer"].as_str()), (Some(true), Some("approve")), "{got}");
    // The user saw the question and the choices, as an enum of their values.
    let asked = s.mcp.service().asked.lock().unwrap().clone();
    assert_eq!(asked.len(), 1);
    assert!(asked[0].starts_with("Ship it?") && asked[0].contains("Approve it"), "{}", asked[0]);
    assert!(asked[0].contains("\"approve\"") && asked[0].contains("\"reject\""), "{}", asked[0]);
    // The answer reached the server: nothing is pending any more.
    let after = s.ok("get_suspension", json!({"intent_id": id})).await;
    assert_eq!((after["pending"].as_bool(), after["suspension"]["response"].as_str()), (Some(false), Some("approve")));
    let again = s.ok("answer_pending_input", json!({"intent_id": id})).await;
    assert_eq!((again["answered"].as_bool(), &again["pending"]), (Some(false), &Value::Null), "{again}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_elicitation_the_pending_question_is_returned() {
    let s = session(Tier::Operator).await;
    let id = suspended(&s).await;
    let got = s.ok("answer_pending_input", json!({"intent_id": id})).await;
    assert_eq!(got["answered"], false, "{got}");
    assert_eq!(got["pending"]["question"], "Ship it?");
    assert_eq!(got["pending"]["choices"][1]["value"], "reject");
    // Still pending.
    assert_eq!(s.ok("get_suspension", json!({"intent_id": id})).await["pending"], true);
}
