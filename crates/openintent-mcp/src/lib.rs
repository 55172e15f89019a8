//! The OpenIntent Coordination Protocol as an MCP (Model Context Protocol) server.
//!
//! [`OpenIntentMcp`] answers an MCP host (a model's chat application, an IDE, an agent
//! framework) over stdio ([`serve_stdio`]) or streamable HTTP ([`serve_http`]), and does what
//! it asks through an [`openintent_client::Client`] connected to any OpenIntent server:
//!
//! - **tools**, one per client operation (intents, events, leases, costs, attachments, retry
//!   policies, webhooks, portfolios, the intent graph, human-in-the-loop suspensions,
//!   governance and approvals, escalations, arbitration, access control, the agent registry,
//!   channels), each with a JSON Schema of its arguments built from the request field
//!   declarations of the types crate, and structured results; failures are tool errors that
//!   say what to do (`version_conflict`: re-read; `lease_conflict`: who holds the scope until
//!   when);
//! - **resources**: `openintent://intents/{id}`, `openintent://intents/{id}/events`,
//!   `openintent://portfolios/{id}` and `openintent://agents/{id}`, with `resources/updated`
//!   notifications to hosts that subscribe, fed by the server's live event streams;
//! - **tiers** ([`Tier`]): a reader sees and may call only the tools that read, an operator
//!   also those that do the work, an admin also those that govern (policies, approvals,
//!   access control, deregistration).
//!
//! ```no_run
//! # async fn run() -> Result<(), openintent_mcp::ServeError> {
//! use openintent_mcp::{OpenIntentMcp, Tier};
//!
//! let client = openintent_client::Client::new("http://127.0.0.1:8000", "dev-user-key", "claude")?;
//! openintent_mcp::serve_stdio(OpenIntentMcp::new(client, Tier::Reader)).await?;
//! # Ok(()) }
//! ```

mod args;
mod elicit;
mod errors;
mod resources;
mod schema;
mod tier;
mod tools;

use std::future::Future;
use std::sync::Arc;

use openintent_client::Client;
use rmcp::model::{
    CallToolRequestParams, CallToolResult, Implementation, ListResourceTemplatesResult, ListResourcesResult,
    ListToolsResult, PaginatedRequestParams, ReadResourceRequestParams, ReadResourceResult, ResourceContents,
    ServerCapabilities, ServerInfo, SubscribeRequestParams, Tool, ToolAnnotations, UnsubscribeRequestParams,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData as McpError, ServerHandler, ServiceExt};

pub use resources::SCHEME;
pub use tier::{Tier, UnknownTier};

use crate::args::Args;
use crate::errors::ToolError;
use crate::resources::{ResourceRef, Subscriptions};
use crate::tools::ToolDef;

/// The MCP server: an OpenIntent client, a tier, and the session's resource subscriptions.
///
/// Each MCP session needs its own value ([`serve_http`] makes one per session); clones share
/// the subscriptions.
#[derive(Debug, Clone)]
pub struct OpenIntentMcp {
    client: Client,
    tier: Tier,
    subscriptions: Subscriptions,
}

impl OpenIntentMcp {
    /// A server acting through `client` (its URL, API key and agent id) with the tools of `tier`.
    pub fn new(client: Client, tier: Tier) -> OpenIntentMcp {
        OpenIntentMcp { client, tier, subscriptions: Subscriptions::default() }
    }

    /// The tier.
    pub fn tier(&self) -> Tier {
        self.tier
    }

    /// The names of the tools this server offers, in order.
    pub fn tool_names(&self) -> Vec<&'static str> {
        self.offered().map(|t| t.name).collect()
    }

    /// The names of every tool of every tier, with the least tier that offers each.
    pub fn all_tools() -> Vec<(&'static str, Tier)> {
        tools::all().map(|t| (t.name, t.tier)).collect()
    }

    /// The same server for a new session (no subscriptions).
    fn for_session(&self) -> OpenIntentMcp {
        OpenIntentMcp::new(self.client.clone(), self.tier)
    }

    fn offered(&self) -> impl Iterator<Item = &'static ToolDef> + '_ {
        tools::all().filter(|t| t.tier <= self.tier)
    }

    async fn run_tool(
        &self,
        def: &ToolDef,
        arguments: serde_json::Map<String, serde_json::Value>,
        peer: Option<rmcp::Peer<RoleServer>>,
    ) -> CallToolResult {
        if def.tier > self.tier {
            let err = ToolError::arg(
                "name",
                format!(
                    "{} needs the {} tier; this MCP server runs with the {} tier and does not allow it",
                    def.name, def.tier, self.tier
                ),
            );
            let mut value = err.to_json();
            value["error"] = "tier_refused".into();
            value["hint"] = "Do without this tool, or ask the operator to run the server with a higher --tier.".into();
            return CallToolResult::structured_error(value);
        }
        let args = Args::new(arguments);
        let known = schema::argument_names(def);
        if let Some(unknown) = args.names().find(|n| !known.contains(n)) {
            let msg = format!("{} does not take an argument {unknown:?}; it takes: {}", def.name, known.join(", "));
            return ToolError::arg(unknown, msg).into_result();
        }
        match (def.call)(tools::Ctx { client: self.client.clone(), peer }, args).await {
            Ok(value) => CallToolResult::structured(value),
            Err(e) => e.into_result(),
        }
    }
}

fn to_tool(def: &ToolDef) -> Tool {
    let annotations = ToolAnnotations::new().read_only(def.read_only()).destructive(
        def.name.starts_with("delete_")
            || def.name.starts_with("remove_")
            || def.name.starts_with("revoke_")
            || def.name == "deregister_agent",
    );
    Tool::new(def.name, def.description, Arc::new(schema::input_schema(def))).with_annotations(annotations)
}

const INSTRUCTIONS: &str = "Tools and resources of an OpenIntent Coordination Protocol server: intents (units \
     of work with a shared JSON state), their event logs, leases on scopes, costs, portfolios, agents and \
     channels. Writes that change an intent take its current version (from get_intent); on version_conflict \
     re-read and retry. Take a lease (acquire_lease) before working on a scope another agent may work on.";

impl ServerHandler for OpenIntentMcp {
    fn get_info(&self) -> ServerInfo {
        let capabilities =
            ServerCapabilities::builder().enable_tools().enable_resources().enable_resources_subscribe().build();
        let mut implementation = Implementation::from_build_env();
        implementation.name = "openintent-mcp".to_owned();
        implementation.version = env!("CARGO_PKG_VERSION").to_owned();
        ServerInfo::new(capabilities).with_server_info(implementation).with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(self.offered().map(to_tool).collect()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.offered().find(|t| t.name == name).map(to_tool)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, McpError> {
        let Some(def) = tools::find(&request.name) else {
            return Err(McpError::invalid_params(format!("there is no tool {:?}", request.name), None));
        };
        Ok(self.run_tool(def, request.arguments.unwrap_or_default(), Some(context.peer)).await)
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        // The newest intents and the portfolios; any other is read through the templates. A
        // server without a listing route (the reference has no `GET /api/v1/intents`) lists none.
        let intents = match self.client.list_intents().limit(50).await {
            Ok(page) => page.items,
            Err(e) if e.is_unsupported() => Vec::new(),
            Err(e) => return Err(resources::read_error("intents", &e)),
        };
        let mut listed = Vec::new();
        for intent in intents {
            let title = intent.title.clone();
            listed.push(resources::listed(&ResourceRef::Intent(intent.id.clone()), title.clone()));
            listed.push(resources::listed(&ResourceRef::IntentEvents(intent.id), format!("{title} (events)")));
        }
        if let Ok(portfolios) = self.client.list_portfolios().await {
            for p in portfolios {
                listed.push(resources::listed(&ResourceRef::Portfolio(p.id.clone()), p.name.clone()));
            }
        }
        Ok(ListResourcesResult::with_all_items(listed))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        Ok(ListResourceTemplatesResult::with_all_items(resources::templates()))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResult, McpError> {
        let r = parse_uri(&request.uri)?;
        let value = r.read(&self.client).await.map_err(|e| resources::read_error(&request.uri, &e))?;
        let text = serde_json::to_string_pretty(&value).unwrap_or_default();
        Ok(ReadResourceResult::new(vec![ResourceContents::text(text, request.uri).with_mime_type("application/json")]))
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let r = parse_uri(&request.uri)?;
        self.subscriptions
            .subscribe(&self.client, r, context.peer)
            .await
            .map_err(|e| resources::read_error(&request.uri, &e))
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        self.subscriptions.unsubscribe(&request.uri);
        Ok(())
    }
}

fn parse_uri(uri: &str) -> Result<ResourceRef, McpError> {
    ResourceRef::parse(uri).ok_or_else(|| {
        McpError::resource_not_found(
            format!(
                "{uri:?} is not an OpenIntent resource: use {SCHEME}intents/{{id}}, {SCHEME}intents/{{id}}/events, \
                 {SCHEME}portfolios/{{id}} or {SCHEME}agents/{{id}}"
            ),
            None,
        )
    })
}

/// A failure to run the MCP server.
pub type ServeError = Box<dyn std::error::Error + Send + Sync>;

/// Serves one MCP session over any transport rmcp accepts (such as a pair of async reader and
/// writer), until the host closes it.
pub async fn serve<T, E, A>(server: OpenIntentMcp, transport: T) -> Result<(), ServeError>
where
    T: rmcp::transport::IntoTransport<RoleServer, E, A>,
    E: std::error::Error + Send + Sync + 'static,
{
    let running = server.serve(transport).await?;
    running.waiting().await?;
    Ok(())
}

/// Serves one MCP session over standard input and output, until the host closes it.
pub async fn serve_stdio(server: OpenIntentMcp) -> Result<(), ServeError> {
    serve(server, rmcp::transport::stdio()).await
}

/// Serves MCP over streamable HTTP at `/mcp` on `listener`, one session per host connection,
/// until `shutdown` completes. `Host` headers naming the loopback interface are accepted, and
/// those `allowed_hosts` lists (by default none: that protects a local server from DNS
/// rebinding). The endpoint has no authentication of its own: whoever reaches it acts with the
/// client's API key.
pub async fn serve_http(
    server: OpenIntentMcp,
    listener: tokio::net::TcpListener,
    allowed_hosts: Vec<String>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut config = StreamableHttpServerConfig::default();
    if !allowed_hosts.is_empty() {
        let hosts: Vec<String> = config.allowed_hosts.iter().cloned().chain(allowed_hosts).collect();
        config = config.with_allowed_hosts(hosts);
    }
    let cancel = config.cancellation_token.clone();
    let service =
        StreamableHttpService::new(move || Ok(server.for_session()), Arc::new(LocalSessionManager::default()), config);
    let app = axum::Router::new().nest_service("/mcp", service);
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            cancel.cancel();
        })
        .await
}
