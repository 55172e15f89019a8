//! The agent registry (RFC-0016): register, read, list, heartbeat, drain; re-registration,
//! lifecycle checks and deregistration where the target serves them.

use openintent::types::{AgentCapacity, AgentStatus};
use serde_json::json;

use crate::common::{Must, expect_served, target, unique};

#[tokio::test]
async fn register_read_list_heartbeat_and_drain() {
    let agent_id = unique("registry-agent");
    let role = unique("registry-role");
    let client = target().client(&agent_id);

    let agent = client
        .register_agent(agent_id.clone())
        .name("Conformance agent")
        .role_id(role.clone())
        .capabilities(["summarize"])
        .capacity(AgentCapacity::new(4))
        .metadata(json!({"build": "conformance"}))
        .send()
        .await
        .must("register_agent");
    assert_eq!((agent.agent_id.as_str(), &agent.status), (agent_id.as_str(), &AgentStatus::Active));
    assert_eq!(agent.capabilities, ["summarize"]);
    assert_eq!(agent.metadata["build"], "conformance");
    assert_eq!(agent.last_heartbeat_at, None);

    let read = client.get_agent_record(&agent_id).await.must("get_agent_record");
    assert_eq!((read.role_id.as_deref(), read.name.as_deref()), (Some(role.as_str()), Some("Conformance agent")));
    let err = client.get_agent_record(&unique("no-such-agent")).await.unwrap_err();
    assert!(err.is_not_found() && !err.is_unsupported(), "{err}");

    let listed = client.list_agents().role_id(role.clone()).send().await.must("list_agents");
    assert_eq!(listed.iter().map(|a| a.agent_id.as_str()).collect::<Vec<_>>(), [agent_id.as_str()]);
    let active = client.list_agents().status(AgentStatus::Active).role_id(role.clone()).send().await.must("list");
    assert_eq!(active.len(), 1);

    let ack = client.agent_heartbeat(&agent_id).current_load(2).tasks_in_progress(["t1"]).send().await.must("hb");
    assert!(ack.is_acknowledged(), "{ack:?}");
    let read = client.get_agent_record(&agent_id).await.must("get after heartbeat");
    assert!(read.last_heartbeat_at.is_some());
    assert_eq!(read.capacity.and_then(|c| c.current_load), Some(2));

    let drained = client.drain_agent(&agent_id).send().await.must("drain_agent");
    assert_eq!(drained.status, AgentStatus::Draining);
    // A heartbeat does not end a drain.
    client.agent_heartbeat(&agent_id).send().await.must("heartbeat while draining");
    assert_eq!(client.get_agent_record(&agent_id).await.must("get").status, AgentStatus::Draining);
    let draining = client.list_agents().status("draining").role_id(role).send().await.must("list draining");
    assert_eq!(draining.len(), 1);

    // Unknown statuses never leave the client (the reference would store any string).
    assert!(client.update_agent_status(&agent_id, "bogus").send().await.unwrap_err().is_validation());

    if target().full() {
        // RFC-0016's lifecycle: a draining agent does not go back to active.
        let err = client.update_agent_status(&agent_id, AgentStatus::Active).send().await.unwrap_err();
        assert_eq!(err.status(), Some(409), "{err}");
    }
    let gone = expect_served("deregister_agent", client.deregister_agent(&agent_id).await);
    if let Some(gone) = gone {
        assert_eq!(gone.status, AgentStatus::Deregistered);
    }
}

#[tokio::test]
async fn registering_a_known_id_again() {
    let agent_id = unique("registry-again");
    let client = target().client(&agent_id);
    client.register_agent(agent_id.clone()).name("first").send().await.must("register");
    let again = client.register_agent(agent_id.clone()).name("second").send().await;
    if target().full() {
        let again = again.must("register again");
        assert_eq!((again.name.as_deref(), again.version), (Some("second"), 2));
    } else {
        // BUG (reference): registering an existing agent_id answers 500 (unique-key violation).
        let err = again.unwrap_err();
        assert_eq!(err.status(), Some(500), "{err}");
    }
}
