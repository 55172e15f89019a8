//! The liveness sweeper: a background task that marks registered agents whose heartbeats
//! stopped (RFC-0016 §4.5). An `active` agent silent for longer than its
//! `heartbeat_config.unhealthy_after_seconds` (default 90 s) becomes `unhealthy`, and one silent
//! for longer than `dead_after_seconds` (default 300 s) becomes `dead`; each change keeps an
//! `agent.lifecycle` message on the agent's event stream. A heartbeat brings the agent back to
//! `active`.
//!
//! Every change is a compare-and-set on the agent's row (status, version and last heartbeat as
//! read), so several server processes sweeping one PostgreSQL database write each transition
//! once, and a heartbeat that lands during a sweep wins.

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::store::{Store, now};

pub use crate::config::DEFAULT_LIVENESS_INTERVAL;

/// The running sweeper; [`Sweeper::stop`] ends it between two sweeps.
#[derive(Debug)]
pub(crate) struct Sweeper {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Sweeper {
    /// Starts sweeping `store` every `interval`; `None` when no interval is configured.
    pub(crate) fn start(store: &Store, interval: Option<Duration>) -> Option<Sweeper> {
        let interval = interval?;
        let (stop, mut stopped) = watch::channel(false);
        let store = store.clone();
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(interval) => {}
                    _ = stopped.changed() => break,
                }
                // A sweep is never cancelled halfway: its transactions run to their end.
                match store.sweep_agents(now()).await {
                    Ok(changed) => {
                        for (agent, status) in changed {
                            tracing::info!(agent = %agent, status = status.as_str(), "agent heartbeat timeout");
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "agent liveness sweep failed"),
                }
            }
        });
        Some(Sweeper { stop, task })
    }

    /// Stops the sweeper and waits for a running sweep to finish.
    pub(crate) async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

#[cfg(test)]
mod tests {
    use openintent_types::time::{format_wire, parse_timestamp};
    use openintent_types::{AgentStatus, HeartbeatConfig, RegisterAgentRequest};

    use crate::config::DatabaseLocation;
    use crate::store::Store;

    fn quick(agent_id: &str) -> RegisterAgentRequest {
        let mut req = RegisterAgentRequest::new(agent_id);
        let mut hb = HeartbeatConfig::default();
        hb.interval_seconds = Some(1);
        hb.unhealthy_after_seconds = Some(2);
        hb.dead_after_seconds = Some(4);
        req.heartbeat_config = Some(hb);
        req
    }

    #[tokio::test]
    async fn silence_makes_an_agent_unhealthy_then_dead_once_each() {
        let store = Store::open(&DatabaseLocation::Memory).await.unwrap();
        let (agent, _) = store.register_agent(&quick("a1"), "k").await.unwrap();
        let t0 = agent.registered_at;
        let at = |s: i64| t0 + chrono::Duration::seconds(s);
        assert!(store.sweep_agents(at(1)).await.unwrap().is_empty());
        assert_eq!(store.sweep_agents(at(3)).await.unwrap(), [("a1".to_owned(), AgentStatus::Unhealthy)]);
        // A second sweeper (another process) finds nothing left to do.
        assert!(store.sweep_agents(at(3)).await.unwrap().is_empty());
        assert_eq!(store.sweep_agents(at(5)).await.unwrap(), [("a1".to_owned(), AgentStatus::Dead)]);
        assert!(store.sweep_agents(at(60)).await.unwrap().is_empty());
        let messages = store.stream_messages_after("agent:a1", None, 10).await.unwrap().unwrap();
        let statuses: Vec<&str> = messages.iter().map(|m| m.data["status"].as_str().unwrap()).collect();
        assert_eq!(statuses, ["active", "unhealthy", "dead"]);
        assert!(messages.iter().all(|m| m.event == "agent.lifecycle"));
        // Their times are in the wire format.
        for m in &messages {
            let at = m.data["at"].as_str().unwrap();
            assert_eq!(format_wire(&parse_timestamp(at).unwrap()), at);
        }
    }

    #[tokio::test]
    async fn draining_agents_are_left_alone() {
        let store = Store::open(&DatabaseLocation::Memory).await.unwrap();
        let (agent, _) = store.register_agent(&quick("d1"), "k").await.unwrap();
        let change = crate::store::registry::StatusChange {
            status: AgentStatus::Draining,
            drain_timeout_seconds: Some(30),
            expected_version: None,
        };
        store.set_agent_status("d1", &change, "k").await.unwrap();
        let later = agent.registered_at + chrono::Duration::seconds(3600);
        assert!(store.sweep_agents(later).await.unwrap().is_empty());
        assert_eq!(store.get_agent("d1").await.unwrap().unwrap().status, AgentStatus::Draining);
    }
}
