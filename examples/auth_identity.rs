//! Who is calling: the API key (`X-API-Key`) proves the caller may use the server, the agent id
//! (`X-Agent-ID`) names the agent acting. This example shows both, what a refused key looks
//! like, and a key bound to one agent.
//!
//! ```text
//! cargo run --example auth_identity
//! OPENINTENT_URL=http://127.0.0.1:8000 cargo run --example auth_identity
//! ```
//!
//! Against a remote server, the bound-key part needs `OPENINTENT_BOUND_KEY=<key>=<agent>` (a
//! key the server binds to that agent); the embedded server is started with one.

mod common;

use common::{BoxError, Server};
use openintent::{Client, Error};
use serde_json::json;

/// The bound key the embedded server accepts, and its agent.
const EMBEDDED_BOUND: &str = "research-only-key=agent-research";

/// The error as the client reports it: status, kind, the server's message and the request.
fn describe(e: &Error) -> String {
    e.to_string()
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    common::report::exit(run().await)
}

async fn run() -> Result<(), BoxError> {
    let server = Server::start_with_keys(&[EMBEDDED_BOUND]).await?;

    // 1. One key, several agents: the agent id travels with every request and becomes the
    //    intent's creator and the events' actor.
    println!("\n1. One API key, two agent ids");
    let alice = Client::new(&server.url, &server.api_key, "alice-agent")?;
    let bob = Client::new(&server.url, &server.api_key, "bob-agent")?;
    let intent = alice.create_intent("Shared notes").send().await?;
    println!("   alice-agent created {} (created_by = {})", intent.id, intent.created_by);
    bob.log_event(&intent.id, "comment").payload(json!({"message": "bob was here"})).send().await?;
    for event in alice.get_events(&intent.id).send().await? {
        println!("   event {:<16} actor = {}", event.event_type.to_string(), event.agent_id());
    }
    // Debug output never shows the key.
    println!("   {alice:?}");

    // 2. A key the server does not know: 401, before anything happens.
    println!("\n2. A wrong API key");
    let stranger = Client::new(&server.url, "not-a-real-key", "alice-agent")?;
    match stranger.get_intent(&intent.id).await {
        Err(e) if e.is_unauthorized() => println!("   {}", describe(&e)),
        Err(e) => return Err(format!("expected 401, got {e}").into()),
        Ok(_) => return Err("a wrong key was accepted".into()),
    }
    // No key at all is refused the same way; discovery needs none.
    let keyless = Client::builder().base_url(server.url.clone()).agent_id("alice-agent").build()?;
    match keyless.create_intent("no key").send().await {
        Err(e) if e.is_unauthorized() => println!("   without a key: {}", describe(&e)),
        Err(e) => return Err(format!("expected 401 without a key, got {e}").into()),
        Ok(_) => return Err("a request without a key was accepted".into()),
    }
    let doc = keyless.discover().await?;
    println!("   discovery needs no key: {} {}", doc.protocol, doc.version);

    // 3. A key bound to one agent may act only as that agent.
    println!("\n3. A key bound to one agent");
    let bound = std::env::var("OPENINTENT_BOUND_KEY")
        .ok()
        .filter(|b| !b.is_empty())
        .or_else(|| server.embedded.then(|| EMBEDDED_BOUND.to_owned()));
    match bound.as_deref().and_then(|b| b.split_once('=')) {
        None => println!("   skipped: set OPENINTENT_BOUND_KEY=<key>=<agent> for a key this server binds"),
        Some((key, agent)) => {
            let as_itself = Client::new(&server.url, key, agent)?;
            let own = as_itself.create_intent("Bound-key work").send().await?;
            println!("   as {agent}: created {} (created_by = {})", own.id, own.created_by);
            let impostor = Client::new(&server.url, key, "someone-else")?;
            match impostor.create_intent("Not allowed").send().await {
                Err(e) if e.is_forbidden() => println!("   as someone-else: {}", describe(&e)),
                Err(e) => return Err(format!("expected 403 for another agent id, got {e}").into()),
                Ok(_) => return Err("a bound key acted as another agent".into()),
            }
        }
    }

    server.stop().await
}
