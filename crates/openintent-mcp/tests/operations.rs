//! Every operation of the OpenIntent server's OpenAPI document is a tool, or is named below
//! with the reason it is not: a route added without a tool fails here. By default an
//! operation's tool is its `operationId` in snake case (`createIntent`: `create_intent`).

use std::collections::BTreeSet;

use openintent_mcp::OpenIntentMcp;
use serde_json::Value;

/// Operations whose tool has another name (the client operation's): `(operationId, tool)`.
const RENAMED: &[(&str, &str)] = &[
    ("discovery", "discover"),
    // Intents, events, the graph, human in the loop.
    ("listAgents", "get_agents"),
    ("listEvents", "get_events"),
    ("eventsOfTrace", "get_trace_events"),
    ("listChildren", "get_children"),
    ("listDescendants", "get_descendants"),
    ("listAncestors", "get_ancestors"),
    ("listDependencies", "get_dependencies"),
    ("listDependents", "get_dependents"),
    ("listReadyChildren", "get_ready_intents"),
    ("listBlockedChildren", "get_blocked_intents"),
    ("suspendIntent", "suspend"),
    // Leases, costs, attachments, retries, webhooks, portfolios.
    ("listLeases", "get_leases"),
    ("listCosts", "get_costs"),
    ("costSummary", "get_cost_summary"),
    ("listAttachments", "get_attachments"),
    ("listFailures", "get_failures"),
    ("createSubscription", "subscribe"),
    ("listSubscriptions", "get_subscriptions"),
    ("deleteSubscription", "unsubscribe"),
    ("portfolioIntents", "get_portfolio_intents"),
    ("intentPortfolios", "get_intent_portfolios"),
    // Governance and arbitration.
    ("getApproval", "get_approval_status"),
    ("listDecisions", "get_decisions"),
    // The registry: the client tries the reference's paths first, then the RFC's.
    ("listRegisteredAgents", "list_agents"),
    ("registerAgentRfc", "register_agent"),
    ("getAgent", "get_agent_record"),
    ("setAgentStatus", "update_agent_status"),
    // Channels.
    ("replyToMessage", "reply_to"),
    ("updateMessage", "mark_read"),
];

/// Operations that are no tool, and why.
const NOT_TOOLS: &[(&str, &str)] = &[
    ("health", "a liveness probe for load balancers and orchestrators, nothing a model acts on"),
    ("openapi", "the API description itself; the tools are that description for a model"),
    ("compatibility", "which clients and SDK versions the server is compatible with, for SDKs"),
    ("serverConfig", "server settings for SDK agents (the default human retry policy), not work"),
    ("listArbitrations", "openintent-client has no operation for it (get_decisions reads the outcomes)"),
    ("listSubscriptionDeliveries", "webhook delivery attempts, an operator's diagnostics; no client operation"),
    ("streamIntent", "an event stream: a host subscribes to the intent's resource instead"),
    ("streamIntentSdk", "the 0.17 SDK's form of streamIntent"),
    ("streamPortfolio", "an event stream: a host subscribes to the portfolio's resource instead"),
    ("streamPortfolioSdk", "the 0.17 SDK's form of streamPortfolio"),
    ("streamAgent", "an event stream: a host subscribes to the agent's resource instead"),
    ("streamAgentSdk", "the 0.17 SDK's form of streamAgent"),
    ("streamChannel", "an event stream; list_messages reads a channel's messages"),
    ("streamInbox", "an event stream saying when the inbox changes; get_inbox reads the list"),
];

/// Tools that no single operation maps to, and what they call.
const COMPOSED: &[(&str, &str)] = &[
    ("get_suspension", "getIntent: the `_suspension` record of the intent's state"),
    ("answer_pending_input", "getIntent, then the host's user (elicitation), then respondToSuspension"),
    ("drain_agent", "setAgentStatus with the status draining"),
];

fn snake_case(id: &str) -> String {
    let mut out = String::new();
    for c in id.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The `operationId` of every operation of the document.
fn operation_ids() -> BTreeSet<String> {
    let doc = openintent_server::openapi_document();
    let mut ids = BTreeSet::new();
    for item in doc["paths"].as_object().expect("paths").values() {
        for op in item.as_object().expect("a path item").values() {
            if let Some(Value::String(id)) = op.get("operationId") {
                assert!(ids.insert(id.clone()), "operationId {id} twice");
            }
        }
    }
    ids
}

/// The tool an operation maps to (`None`: none, by [`NOT_TOOLS`]).
fn tool_of(id: &str) -> Option<String> {
    if NOT_TOOLS.iter().any(|(op, _)| *op == id) {
        return None;
    }
    Some(RENAMED.iter().find(|(op, _)| *op == id).map_or_else(|| snake_case(id), |(_, tool)| (*tool).to_owned()))
}

#[test]
fn every_operation_of_the_server_is_a_tool_or_excluded_with_a_reason() {
    let ids = operation_ids();
    assert!(ids.len() > 90, "the document lists {} operations", ids.len());
    let tools: BTreeSet<&str> = OpenIntentMcp::all_tools().into_iter().map(|(name, _)| name).collect();
    let mut missing = Vec::new();
    let mut reached = BTreeSet::new();
    for id in &ids {
        if let Some(tool) = tool_of(id) {
            if tools.contains(tool.as_str()) {
                reached.insert(tool);
            } else {
                missing.push(format!("{id} (tool {tool})"));
            }
        }
    }
    assert!(missing.is_empty(), "operations without a tool (add one, or name them in NOT_TOOLS): {missing:?}");
    // Every tool calls an operation of the document, or is composed of them.
    for tool in &tools {
        let composed = COMPOSED.iter().any(|(t, _)| t == tool);
        assert!(
            reached.contains(*tool) != composed,
            "tool {tool}: no operation maps to it and it is not in COMPOSED, or it is in both"
        );
    }
    // The lists name only operations and tools that exist, each once.
    for (op, _) in RENAMED.iter().chain(NOT_TOOLS) {
        assert!(ids.contains(*op), "{op} is no operation of the document any more");
    }
    for (op, tool) in RENAMED {
        assert_ne!(snake_case(op), *tool, "{op} needs no renaming");
    }
    let listed: Vec<&str> = RENAMED.iter().chain(NOT_TOOLS).map(|(op, _)| *op).collect();
    assert_eq!(listed.len(), listed.iter().collect::<BTreeSet<_>>().len(), "an operation is listed twice");
    for (_, reason) in NOT_TOOLS.iter().chain(COMPOSED) {
        assert!(reason.len() > 10, "say why");
    }
}

#[test]
fn operation_ids_become_tool_names() {
    assert_eq!(snake_case("createIntent"), "create_intent");
    assert_eq!(snake_case("getAgentRecord"), "get_agent_record");
    assert_eq!(tool_of("health"), None);
    assert_eq!(tool_of("listAgents").as_deref(), Some("get_agents"));
    assert_eq!(tool_of("listRegisteredAgents").as_deref(), Some("list_agents"));
    assert_eq!(tool_of("someNewRoute").as_deref(), Some("some_new_route"));
}
