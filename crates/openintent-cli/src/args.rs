//! The command line, declared with clap's derive API.

use clap::{Parser, Subcommand};

/// The default server URL.
pub const DEFAULT_URL: &str = "http://127.0.0.1:8000";
/// The default API key (one of the development keys every fresh server accepts).
pub const DEFAULT_API_KEY: &str = "dev-user-key";
/// The default agent id.
pub const DEFAULT_AGENT_ID: &str = "openintent-cli";

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  any other error (server error, unsupported route, unreadable answer)
  2  usage error or input refused as invalid (by this tool or by the server: 400/422)
  3  not found (404)
  4  conflict (409): stale version, scope leased by someone else, forbidden transition
  5  unauthorized or forbidden (401/403): check --api-key / OPENINTENT_API_KEY
  6  connection failed or no answer: is the server running at --url / OPENINTENT_URL?";

/// Look at and poke an OpenIntent Coordination Protocol server, or run one.
///
/// `Debug` hides the API key.
#[derive(Parser)]
#[command(name = "openintent", version, after_help = EXIT_CODES)]
pub struct Cli {
    /// The server's base URL.
    #[arg(long, global = true, env = "OPENINTENT_URL", default_value = DEFAULT_URL)]
    pub url: String,

    /// The API key, sent as `X-API-Key`.
    #[arg(long, global = true, env = "OPENINTENT_API_KEY", default_value = DEFAULT_API_KEY, hide_env_values = true)]
    pub api_key: String,

    /// The agent id, sent as `X-Agent-ID` and recorded as the author of writes.
    #[arg(long, global = true, env = "OPENINTENT_AGENT_ID", default_value = DEFAULT_AGENT_ID)]
    pub agent_id: String,

    /// Print JSON (one document, or one line per streamed event) instead of tables.
    #[arg(long, global = true)]
    pub json: bool,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the OpenIntent server (axum, on embedded SQLite or PostgreSQL) until Ctrl-C.
    Serve(ServeArgs),
    /// Create, read, list and change intents.
    #[command(subcommand)]
    Intents(IntentsCommand),
    /// Read (and follow live) or append to an intent's event log.
    #[command(subcommand)]
    Events(EventsCommand),
    /// List, acquire, renew and release scope leases.
    #[command(subcommand)]
    Leases(LeasesCommand),
    /// List an intent's costs with their totals, or record one.
    #[command(subcommand)]
    Costs(CostsCommand),
    /// Create, read and list portfolios, and add intents to them.
    #[command(subcommand)]
    Portfolios(PortfoliosCommand),
    /// Show the server's discovery document (protocol, version, capabilities).
    Discover,
    /// Serve the protocol to an MCP host (tools and resources), over stdio or streamable HTTP.
    Mcp(McpArgs),
}

/// `openintent mcp`: the protocol as an MCP server, acting through --url / --api-key / --agent-id.
#[derive(Debug, clap::Args)]
pub struct McpArgs {
    /// Which tools the host gets: reader (only reads), operator (also does the work) or admin
    /// (also governs: policies, approvals, access control).
    #[arg(long, env = "OPENINTENT_MCP_TIER", default_value = "operator")]
    pub tier: openintent_mcp::Tier,
    /// Serve streamable HTTP at http://ADDR/mcp instead of stdio (e.g. 127.0.0.1:8765).
    #[arg(long, value_name = "ADDR")]
    pub http: Option<std::net::SocketAddr>,
    /// With --http: a Host header value to accept besides the loopback names (repeatable).
    #[arg(long = "allowed-host", value_name = "HOST", requires = "http")]
    pub allowed_hosts: Vec<String>,
}

pub use openintent_server::cli::ServeArgs;

impl std::fmt::Debug for Cli {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cli")
            .field("url", &self.url)
            .field("api_key", &"<redacted>")
            .field("agent_id", &self.agent_id)
            .field("json", &self.json)
            .field("command", &self.command)
            .finish()
    }
}

/// `openintent intents ...`
#[derive(Debug, Subcommand)]
pub enum IntentsCommand {
    /// Create an intent.
    Create {
        /// The title.
        title: String,
        /// A longer description.
        #[arg(long, short)]
        description: Option<String>,
        /// Constraints, a JSON object (e.g. '{"deadline": "2024-02-01"}').
        #[arg(long)]
        constraints: Option<String>,
        /// The initial state, a JSON object.
        #[arg(long)]
        state: Option<String>,
        /// The initial status (servers default to `draft`).
        #[arg(long)]
        status: Option<String>,
        /// The parent intent's id.
        #[arg(long)]
        parent_id: Option<String>,
    },
    /// Show one intent with its state.
    Get {
        /// The intent id.
        id: String,
    },
    /// List intents (newest first).
    List {
        /// Only intents with this status.
        #[arg(long)]
        status: Option<String>,
        /// Page size.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Intents to skip.
        #[arg(long, default_value_t = 0)]
        offset: u32,
        /// Fetch every page instead of one.
        #[arg(long)]
        all: bool,
    },
    /// Change an intent's state. Without --version the current version is read and the
    /// write is retried on a version conflict; with --version a stale version fails (exit 4).
    Patch {
        /// The intent id.
        id: String,
        /// Set a top-level key: `key=value`, where value is JSON or else taken as a string.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Set every key of a JSON object.
        #[arg(long, value_name = "JSON")]
        merge: Option<String>,
        /// Remove the member at a JSON pointer (e.g. `/draft`).
        #[arg(long, value_name = "POINTER")]
        remove: Vec<String>,
        /// The version the change applies to (sent as `If-Match`).
        #[arg(long)]
        version: Option<i64>,
    },
    /// Change an intent's status (`active`, `blocked`, `completed`, `abandoned`, ...).
    Status {
        /// The intent id.
        id: String,
        /// The new status.
        status: String,
        /// The version the change applies to (default: the current one).
        #[arg(long)]
        version: Option<i64>,
        /// Why.
        #[arg(long)]
        reason: Option<String>,
    },
}

/// `openintent events ...`
#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Show an intent's event log, oldest first; with --follow, keep printing new events
    /// as they happen (Server-Sent Events) until Ctrl-C.
    List {
        /// The intent id.
        id: String,
        /// Only events of this type.
        #[arg(long = "type", value_name = "EVENT_TYPE")]
        event_type: Option<String>,
        /// At most this many (the most recent ones).
        #[arg(long)]
        limit: Option<u32>,
        /// After the history, stream new events live.
        #[arg(long, short)]
        follow: bool,
    },
    /// Append an event to an intent's log.
    Log {
        /// The intent id.
        id: String,
        /// The event type (`comment`, ...).
        event_type: String,
        /// The payload, a JSON object.
        #[arg(long)]
        payload: Option<String>,
    },
}

/// `openintent leases ...`
#[derive(Debug, Subcommand)]
pub enum LeasesCommand {
    /// List an intent's active leases (--all for released and expired ones too).
    List {
        /// The intent id.
        id: String,
        /// Include released and expired leases.
        #[arg(long)]
        all: bool,
    },
    /// Acquire a lease on a scope (exit 4 when someone else holds it).
    Acquire {
        /// The intent id.
        id: String,
        /// The scope (e.g. `analysis`, `content.draft`).
        scope: String,
        /// Duration in seconds.
        #[arg(long, default_value_t = 300)]
        duration: i64,
    },
    /// Extend a lease (counted from now).
    Renew {
        /// The intent id.
        id: String,
        /// The lease id.
        lease_id: String,
        /// New duration in seconds.
        #[arg(long, default_value_t = 300)]
        duration: i64,
    },
    /// Release a lease.
    Release {
        /// The intent id.
        id: String,
        /// The lease id.
        lease_id: String,
    },
}

/// `openintent costs ...`
#[derive(Debug, Subcommand)]
pub enum CostsCommand {
    /// List an intent's cost records and their totals per unit (amounts in different units are
    /// never added).
    List {
        /// The intent id.
        id: String,
    },
    /// Record a cost.
    Record {
        /// The intent id.
        id: String,
        /// The kind of cost (`api_call`, `tokens`, `compute`, ...).
        cost_type: String,
        /// The amount.
        amount: f64,
        /// The unit (`USD`, `tokens`, ...).
        unit: String,
        /// The provider (`openai`, ...).
        #[arg(long)]
        provider: Option<String>,
        /// Metadata, a JSON object.
        #[arg(long)]
        metadata: Option<String>,
    },
}

/// `openintent portfolios ...`
#[derive(Debug, Subcommand)]
pub enum PortfoliosCommand {
    /// Create a portfolio.
    Create {
        /// The name.
        name: String,
        /// A description.
        #[arg(long, short)]
        description: Option<String>,
        /// The governance policy, a JSON object.
        #[arg(long)]
        governance_policy: Option<String>,
    },
    /// Show a portfolio, its aggregate status and its intents.
    Get {
        /// The portfolio id.
        id: String,
    },
    /// List portfolios.
    List {
        /// Only portfolios created by this principal.
        #[arg(long)]
        created_by: Option<String>,
    },
    /// Add an intent to a portfolio.
    Add {
        /// The portfolio id.
        portfolio_id: String,
        /// The intent id.
        intent_id: String,
        /// The role (`primary`, `member`, `dependency`).
        #[arg(long)]
        role: Option<String>,
        /// The priority (higher first).
        #[arg(long)]
        priority: Option<i64>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_go_anywhere() {
        let cli =
            Cli::try_parse_from(["openintent", "intents", "get", "abc", "--json", "--url", "http://x:1"]).unwrap();
        assert!(cli.json);
        assert_eq!(cli.url, "http://x:1");
        assert!(matches!(cli.command, Command::Intents(IntentsCommand::Get { ref id }) if id == "abc"));
    }

    #[test]
    fn patch_takes_repeated_sets() {
        let cli = Cli::try_parse_from([
            "openintent",
            "intents",
            "patch",
            "i1",
            "--set",
            "a=1",
            "--set",
            "b=x",
            "--remove",
            "/c",
            "--version",
            "3",
        ])
        .unwrap();
        match cli.command {
            Command::Intents(IntentsCommand::Patch { set, remove, version, .. }) => {
                assert_eq!(set, ["a=1", "b=x"]);
                assert_eq!(remove, ["/c"]);
                assert_eq!(version, Some(3));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
