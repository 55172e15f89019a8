//! The coordinator: decompose an intent into child intents with dependencies, assign each to
//! an agent by capability once its dependencies are completed, and complete the parent with
//! the children's results.

use std::collections::BTreeMap;

use futures_util::StreamExt;
use openintent_client::Client;
use openintent_client::types::{AgentStatus, Intent, IntentStatus, StatePatch, StreamEvent};
use serde_json::Value;

/// One child intent of a plan.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Task {
    /// The key naming it in the plan (and in the parent's `results`).
    pub key: String,
    /// The child intent's title.
    pub title: String,
    /// The capability an agent needs to work it.
    pub capability: String,
    /// Keys of the tasks it waits for (listed before it in the plan).
    pub depends_on: Vec<String>,
}

impl Task {
    /// A task worked by an agent with `capability`.
    pub fn new(key: impl Into<String>, title: impl Into<String>, capability: impl Into<String>) -> Task {
        Task { key: key.into(), title: title.into(), capability: capability.into(), depends_on: Vec::new() }
    }

    /// The tasks it waits for.
    pub fn depends_on<S: Into<String>>(mut self, keys: impl IntoIterator<Item = S>) -> Task {
        self.depends_on = keys.into_iter().map(Into::into).collect();
        self
    }
}

/// Why a plan did not complete.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CoordinatorError {
    /// A call failed.
    #[error(transparent)]
    Client(#[from] openintent_client::Error),
    /// A task depends on a key not listed before it (which also rules out cycles).
    #[error("task `{task}`: depends_on names `{dependency}`, which is not an earlier task of the plan")]
    UnknownDependency {
        /// The task.
        task: String,
        /// The unknown key.
        dependency: String,
    },
    /// No active agent has the capability a task needs.
    #[error("task `{task}`: no active agent has the capability `{capability}`")]
    NoAgent {
        /// The task.
        task: String,
        /// The capability.
        capability: String,
    },
    /// A child intent was abandoned (the parent is left open).
    #[error("task `{0}` was abandoned")]
    Abandoned(String),
    /// A child's event stream ended before the child finished.
    #[error("task `{0}`: its event stream ended before it finished")]
    StreamEnded(String),
}

/// What a completed plan left.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PlanOutcome {
    /// The parent, completed, with `results` = each task's final state by key (without its
    /// `_`-prefixed keys).
    pub parent: Intent,
    /// The children by key, as they completed.
    pub children: BTreeMap<String, Intent>,
    /// The portfolio holding the children.
    pub portfolio_id: String,
}

/// Runs plans of child intents over the registry's agents (see [`Coordinator::run`]).
#[derive(Debug, Clone)]
pub struct Coordinator {
    client: Client,
}

impl Coordinator {
    /// A coordinator acting as the client's agent.
    pub fn new(client: Client) -> Coordinator {
        Coordinator { client }
    }

    /// Creates a child intent of `parent_id` per task (with its dependencies) and a portfolio
    /// holding them; assigns each child, once the children it depends on are completed, to
    /// the least loaded active agent with its capability; waits for every child to complete
    /// (following their event streams, no polling); then writes the children's final states
    /// to the parent's `results` and completes the parent.
    pub async fn run(&self, parent_id: &str, tasks: Vec<Task>) -> Result<PlanOutcome, CoordinatorError> {
        // Checked before anything is created.
        let mut known = std::collections::BTreeSet::new();
        for task in &tasks {
            if let Some(dep) = task.depends_on.iter().find(|d| !known.contains(d.as_str())) {
                return Err(CoordinatorError::UnknownDependency { task: task.key.clone(), dependency: dep.clone() });
            }
            known.insert(task.key.as_str());
        }
        let client = &self.client;
        let parent = client.get_intent(parent_id).await?;
        let portfolio = client.create_portfolio(format!("plan: {}", parent.title)).send().await?;
        let mut ids: BTreeMap<String, String> = BTreeMap::new();
        let mut children = Vec::new();
        for task in &tasks {
            let deps: Vec<String> = task.depends_on.iter().filter_map(|d| ids.get(d).cloned()).collect();
            let child = client.create_child_intent(parent_id, task.title.clone()).depends_on(deps).send().await?;
            client.add_intent_to_portfolio(&portfolio.id, child.id.clone()).send().await?;
            ids.insert(task.key.clone(), child.id.clone());
            children.push((task.clone(), child));
        }
        let drives = children.into_iter().map(|(task, child)| self.drive(task, child));
        let mut done = BTreeMap::new();
        for result in futures_util::future::join_all(drives).await {
            let (key, child) = result?;
            done.insert(key, child);
        }
        // Each child's state without the keys the server keeps for itself (`_suspension`...).
        let own = |c: &Intent| -> serde_json::Map<String, Value> {
            c.state.iter().filter(|(k, _)| !k.starts_with('_')).map(|(k, v)| (k.clone(), v.clone())).collect()
        };
        let results: serde_json::Map<String, Value> =
            done.iter().map(|(k, c)| (k.clone(), Value::Object(own(c)))).collect();
        client
            .update_state_with(parent_id, move |_| vec![StatePatch::set_key("results", results.clone())])
            .send()
            .await?;
        let mut conflicts = 0;
        let parent = loop {
            let current = client.get_intent(parent_id).await?;
            match client.set_status(parent_id, current.version, IntentStatus::Completed).send().await {
                Err(e) if e.is_version_conflict() && conflicts < 5 => conflicts += 1,
                other => break other?,
            }
        };
        Ok(PlanOutcome { parent, children: done, portfolio_id: portfolio.id })
    }

    /// Follows one child from its start: assigns it when it is ready, returns it completed.
    async fn drive(&self, task: Task, child: Intent) -> Result<(String, Intent), CoordinatorError> {
        let client = &self.client;
        // From the start of its log: a `task.ready` written before this connects is replayed.
        let mut stream = client.stream_intent_events(&child.id).from_start().connect().await?;
        let mut assigned = false;
        if task.depends_on.is_empty() {
            self.assign(&task, &child.id).await?;
            assigned = true;
        }
        while let Some(item) = stream.next().await {
            match item? {
                StreamEvent::Event(e) if e.event_type.as_str() == "task.ready" && !assigned => {
                    self.assign(&task, &child.id).await?;
                    assigned = true;
                }
                // Either form of a status change (the whole intent, or the thin event).
                event => match (event.new_status(), event) {
                    (Some(IntentStatus::Completed), StreamEvent::IntentChanged { intent, .. }) => {
                        return Ok((task.key, *intent));
                    }
                    (Some(IntentStatus::Completed), _) => return Ok((task.key, client.get_intent(&child.id).await?)),
                    (Some(IntentStatus::Abandoned), _) => return Err(CoordinatorError::Abandoned(task.key)),
                    _ => {}
                },
            }
        }
        Err(CoordinatorError::StreamEnded(task.key))
    }

    /// Assigns the task's child to the least loaded active agent with its capability.
    async fn assign(&self, task: &Task, child_id: &str) -> Result<(), CoordinatorError> {
        let agents = self
            .client
            .list_agents()
            .status(AgentStatus::Active)
            .capabilities(&[task.capability.as_str()])
            .send()
            .await?;
        let load =
            |a: &openintent_client::types::AgentRecord| a.capacity.as_ref().and_then(|c| c.current_load).unwrap_or(0);
        let agent = agents
            .iter()
            .min_by_key(|a| load(a))
            .ok_or_else(|| CoordinatorError::NoAgent { task: task.key.clone(), capability: task.capability.clone() })?;
        tracing::info!(task = %task.key, child_id, agent_id = %agent.agent_id, "assigning");
        self.client.assign_agent(child_id).agent_id(agent.agent_id.clone()).send().await?;
        Ok(())
    }
}
