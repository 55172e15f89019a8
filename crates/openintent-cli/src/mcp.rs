//! `openintent mcp`: the protocol as an MCP server, over stdio (the default) or streamable HTTP.

use openintent_client::Client;
use openintent_mcp::OpenIntentMcp;

use crate::args::McpArgs;
use crate::errors::CliError;

/// Serves MCP until the host closes stdin (stdio) or until Ctrl-C (HTTP).
pub async fn run(client: Client, args: McpArgs) -> Result<(), CliError> {
    let server = OpenIntentMcp::new(client, args.tier);
    match args.http {
        None => openintent_mcp::serve_stdio(server).await.map_err(|e| CliError::Other(format!("MCP over stdio: {e}"))),
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| CliError::Other(format!("cannot listen on {addr}: {e}")))?;
            // Standard output is free with HTTP: say where the host connects.
            eprintln!("openintent mcp: streamable HTTP at http://{}/mcp ({} tier)", addr, args.tier);
            let shutdown = async {
                let _ = tokio::signal::ctrl_c().await;
            };
            openintent_mcp::serve_http(server, listener, args.allowed_hosts, shutdown)
                .await
                .map_err(|e| CliError::Other(format!("MCP over HTTP: {e}")))
        }
    }
}
