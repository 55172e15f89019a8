//! A portfolio groups several intents into one piece of work: members get a role and a
//! priority, and the portfolio reports how far the whole is along.
//!
//! ```text
//! cargo run --example portfolio_multi_intent
//! OPENINTENT_URL=http://127.0.0.1:8000 cargo run --example portfolio_multi_intent
//! ```

mod common;

use common::{BoxError, Server};
use openintent::Client;
use openintent::types::{MembershipRole, Portfolio};
use serde_json::json;

fn progress(p: &Portfolio) -> String {
    let agg = p.aggregate_status.clone().unwrap_or_default();
    let by_status: Vec<String> = agg.by_status.iter().map(|(s, n)| format!("{n} {s}")).collect();
    format!("{}% complete ({} intents: {})", agg.completion_percentage, agg.total, by_status.join(", "))
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    common::report::exit(run().await)
}

async fn run() -> Result<(), BoxError> {
    let server = Server::start().await?;
    let client = Client::new(&server.url, &server.api_key, "launch-planner")?;

    let portfolio = client
        .create_portfolio("Q4 product launch")
        .description("Everything that has to happen before the launch")
        .governance_policy(json!({"require_approval": false}))
        .send()
        .await?;
    println!("\nCreated portfolio \"{}\" ({})", portfolio.name, portfolio.id);

    // Members: the main intent, two ordinary members and a dependency, by priority.
    let plan = [
        ("Ship the launch", MembershipRole::Primary, 100),
        ("Write the announcement", MembershipRole::Member, 50),
        ("Update the pricing page", MembershipRole::Member, 40),
        ("Finish the security review", MembershipRole::Dependency, 90),
    ];
    let mut intents = Vec::new();
    for (title, role, priority) in plan {
        let intent = client.create_intent(title).send().await?;
        client
            .add_intent_to_portfolio(&portfolio.id, intent.id.clone())
            .role(role.clone())
            .priority(priority)
            .send()
            .await?;
        println!("  added \"{title}\" as {role} with priority {priority}");
        intents.push(intent);
    }
    println!("Status: {}", progress(&client.get_portfolio(&portfolio.id).await?));

    // Work gets done; the portfolio follows.
    for intent in &intents[1..] {
        let done = client.set_status(&intent.id, intent.version, "completed").send().await?;
        let p = client.get_portfolio(&portfolio.id).await?;
        println!("Completed \"{}\" -> {}", done.title, progress(&p));
    }

    // The pricing page turns out to be out of scope.
    client.remove_intent_from_portfolio(&portfolio.id, &intents[2].id).await?;
    println!("Removed \"{}\" -> {}", intents[2].title, progress(&client.get_portfolio(&portfolio.id).await?));

    println!("\nMembers now:");
    for intent in client.get_portfolio_intents(&portfolio.id).await? {
        println!("  {:<28} {}", intent.title, intent.status);
    }
    let homes = client.get_intent_portfolios(&intents[0].id).await?;
    let names: Vec<&str> = homes.iter().map(|p| p.name.as_str()).collect();
    println!("\"{}\" belongs to: {}", intents[0].title, names.join(", "));

    // Finish the primary intent and close the portfolio.
    let primary = client.set_status(&intents[0].id, intents[0].version, "completed").send().await?;
    println!("Completed \"{}\" -> {}", primary.title, progress(&client.get_portfolio(&portfolio.id).await?));
    let closed = client.update_portfolio_status(&portfolio.id, "completed").await?;
    println!("Portfolio \"{}\" is {}", closed.name, closed.status);

    let mine = client.list_portfolios().created_by(client.agent_id()).send().await?;
    println!("\nPortfolios created by {}: {}", client.agent_id(), mine.len());
    for p in mine {
        println!("  {:<20} {:<10} {}", p.name, p.status.to_string(), p.id);
    }

    server.stop().await
}
