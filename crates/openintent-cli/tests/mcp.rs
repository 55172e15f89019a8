//! `openintent mcp` end to end: an MCP client drives the built binary over its stdio, and over
//! streamable HTTP, against an in-process OpenIntent server.

use std::process::Stdio;
use std::time::Duration;

use openintent_server::{RunningServer, ServerConfig};
use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, ReadResourceRequestParams};
use serde_json::{Value, json};
use tokio::process::{Child, Command};

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
