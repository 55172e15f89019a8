//! SIGTERM drains an agent built with `drain_on_sigterm` (its own test binary: the signal goes
//! to this process).
#![cfg(unix)]

use std::time::Duration;

use openintent_agent::Agent;
use openintent_client::Client;
use openintent_client::types::AgentStatus;
use openintent_server::ServerConfig;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_and_deregisters_the_agent() {
    let srv = openintent_server::spawn(ServerConfig::in_memory()).await.unwrap();
    let url = srv.url();
    let user = Client::new(&url, "dev-user-key", "user").unwrap();
    let agent = Agent::builder(Client::new(&url, "agent-research-key", "terminated").unwrap())
        .heartbeat_interval(Duration::from_millis(50))
        .drain_on_sigterm()
        .on_assignment(|_ctx| async { Ok(()) })
        .build();
    let run = tokio::spawn(agent.run());
    // The first heartbeat is sent once the run loop's tasks (the signal listener too) are up.
    let mut up = false;
    for _ in 0..200 {
        if user.get_agent_record("terminated").await.is_ok_and(|r| r.last_heartbeat_at.is_some()) {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(up, "the agent heartbeats");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let status = std::process::Command::new("kill").args(["-TERM", &std::process::id().to_string()]).status().unwrap();
    assert!(status.success());
    tokio::time::timeout(Duration::from_secs(10), run).await.expect("run returns on SIGTERM").unwrap().unwrap();
    assert_eq!(user.get_agent_record("terminated").await.unwrap().status, AgentStatus::Deregistered);
}
