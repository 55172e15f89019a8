//! The coordinator: decompose an intent into child intents with dependencies, assign each to
//! an agent by capability once its dependencies are completed, move a child to another agent
//! when its agent goes offline, and complete the parent with the children's results (through
//! a governance approval when the parent's policy gates completion).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use futures_util::StreamExt;
use openintent_client::Client;
use openintent_client::types::{
    AgentRecord, AgentStatus, COMPLETE_ACTION, CompletionMode, EventType, Intent, IntentStatus, StatePatch, StreamEvent,
};
use serde_json::{Value, json};

/// Default interval of the coordinator's liveness check of the agents working its children.
pub const DEFAULT_LIVENESS_CHECK: Duration = Duration::from_secs(5);

/// How many approval rounds completing a parent may take (a `quorum` needs one per approver).
const MAX_APPROVAL_ROUNDS: usize = 32;

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
    /// The approval to complete the parent was denied (the parent is left open).
    #[error("completing the parent was denied (approval {approval_id}, by {decided_by})")]
    ApprovalDenied {
        /// The approval request.
        approval_id: String,
        /// Who denied it.
        decided_by: String,
    },
    /// The parent's stream ended while its completion approval was still pending.
    #[error("approval {0} is still pending and the parent's event stream ended")]
    ApprovalPending(String),
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
    /// The approvals granted to complete the parent (empty when its policy did not ask).
    pub approvals: Vec<String>,
    /// The children moved to another agent because theirs went offline, as
    /// `(task key, from agent, to agent)`, in the order it happened.
    pub reassignments: Vec<(String, String, String)>,
}

/// Runs plans of child intents over the registry's agents (see [`Coordinator::run`]).
#[derive(Debug, Clone)]
pub struct Coordinator {
    client: Client,
    liveness_check: Duration,
}

/// What the children of one run share: how many children each agent got from it (to spread
/// them while heartbeat loads lag behind), and the reassignments made.
#[derive(Default)]
struct RunBook {
    given: Mutex<BTreeMap<String, usize>>,
    reassignments: Mutex<Vec<(String, String, String)>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether the registry's status means the agent takes no more work: draining, or marked
/// offline (`unhealthy`, `dead`), or gone.
fn offline(status: &AgentStatus) -> bool {
    matches!(status, AgentStatus::Draining | AgentStatus::Unhealthy | AgentStatus::Dead | AgentStatus::Deregistered)
}

impl Coordinator {
    /// A coordinator acting as the client's agent.
    pub fn new(client: Client) -> Coordinator {
        Coordinator { client, liveness_check: DEFAULT_LIVENESS_CHECK }
    }

    /// How often the registry status of the agents working unfinished children is read
    /// (default [`DEFAULT_LIVENESS_CHECK`]; at least 10 ms).
    #[must_use]
    pub fn liveness_check(mut self, every: Duration) -> Coordinator {
        self.liveness_check = every.max(Duration::from_millis(10));
        self
    }

    /// Creates a child intent of `parent_id` per task (with its dependencies) and a portfolio
    /// holding them; assigns each child, once the children it depends on are completed, to
    /// the least loaded active agent with its capability; waits for every child to complete
    /// (following their event streams, no polling), moving a child to another agent with the
    /// capability when the registry no longer sees its agent as active (see
    /// [`liveness_check`](Coordinator::liveness_check)); then writes the children's final
    /// states to the parent's `results` and completes the parent, first asking for an
    /// approval (`complete`) and waiting for the decision on the parent's stream when the
    /// parent's governance policy gates completion (`require_approval`, `quorum`).
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
        let book = RunBook::default();
        let drives = children.into_iter().map(|(task, child)| self.drive(task, child, &book));
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
        let (parent, approvals) = self.complete_parent(parent_id, &portfolio.id).await?;
        let reassignments = std::mem::take(&mut *lock(&book.reassignments));
        Ok(PlanOutcome { parent, children: done, portfolio_id: portfolio.id, approvals, reassignments })
    }

    /// Completes the parent: through approvals when its policy gates completion (read first,
    /// and also when the server refuses the change with the rule `completion_mode`).
    async fn complete_parent(
        &self,
        parent_id: &str,
        portfolio_id: &str,
    ) -> Result<(Intent, Vec<String>), CoordinatorError> {
        let client = &self.client;
        let gated = match client.get_governance_policy(parent_id).await {
            Ok(g) => {
                matches!(g.effective_policy.completion_mode, CompletionMode::RequireApproval | CompletionMode::Quorum)
            }
            // A server without the governance route: the status change tells.
            Err(e) => {
                tracing::debug!(error = %e, "could not read the parent's governance policy");
                false
            }
        };
        let mut approvals = Vec::new();
        if gated {
            approvals.push(self.approval(parent_id, portfolio_id).await?);
        }
        loop {
            let mut conflicts = 0;
            let result = loop {
                let current = client.get_intent(parent_id).await?;
                match client.set_status(parent_id, current.version, IntentStatus::Completed).send().await {
                    Err(e) if e.is_version_conflict() && conflicts < 5 => conflicts += 1,
                    other => break other,
                }
            };
            match result {
                Ok(parent) => return Ok((parent, approvals)),
                // Not enough approvals yet (a quorum needs one per approving agent).
                Err(e)
                    if e.api().and_then(|a| a.rule()) == Some("completion_mode")
                        && approvals.len() < MAX_APPROVAL_ROUNDS =>
                {
                    approvals.push(self.approval(parent_id, portfolio_id).await?);
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Asks for an approval to complete the parent and waits for its decision on the parent's
    /// stream (subscribed before asking, so the decision cannot be missed). The approval's id
    /// when granted.
    async fn approval(&self, parent_id: &str, portfolio_id: &str) -> Result<String, CoordinatorError> {
        let client = &self.client;
        let mut stream = client.stream_intent_events(parent_id).connect().await?;
        let approval = client
            .request_approval(parent_id, COMPLETE_ACTION)
            .reason("every task of the plan is completed")
            .context(json!({"portfolio_id": portfolio_id}))
            .send()
            .await?;
        tracing::info!(parent_id, approval_id = %approval.id, "waiting for the approval to complete the parent");
        let decided = |a: &openintent_client::types::Approval| match a.status {
            openintent_client::types::ApprovalStatus::Approved => Some(Ok(a.id.clone())),
            openintent_client::types::ApprovalStatus::Denied => Some(Err(CoordinatorError::ApprovalDenied {
                approval_id: a.id.clone(),
                decided_by: a.decided_by.clone().unwrap_or_default(),
            })),
            _ => None,
        };
        if let Some(outcome) = decided(&approval) {
            return outcome;
        }
        while let Some(item) = stream.next().await {
            let event = match item {
                Ok(StreamEvent::Event(e)) => e,
                Ok(_) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "the parent's stream failed while waiting for the approval");
                    break;
                }
            };
            if event.payload.get("approval_id").and_then(Value::as_str) != Some(approval.id.as_str()) {
                continue;
            }
            let decided_by = event.payload.get("decided_by").and_then(Value::as_str).unwrap_or_default().to_owned();
            match event.event_type {
                EventType::GovernanceApprovalGranted => return Ok(approval.id),
                EventType::GovernanceApprovalDenied => {
                    return Err(CoordinatorError::ApprovalDenied { approval_id: approval.id, decided_by });
                }
                _ => {}
            }
        }
        // The stream ended (after its own reconnects): one read says where things stand.
        let current = client.get_approval_status(parent_id, &approval.id).await?;
        decided(&current).unwrap_or(Err(CoordinatorError::ApprovalPending(approval.id)))
    }

    /// Follows one child from its start: assigns it when it is ready, moves it to another
    /// agent when its agent goes offline, returns it completed.
    async fn drive(&self, task: Task, child: Intent, book: &RunBook) -> Result<(String, Intent), CoordinatorError> {
        let client = &self.client;
        // From the start of its log: a `task.ready` written before this connects is replayed.
        let mut stream = client.stream_intent_events(&child.id).from_start().connect().await?;
        let mut agent: Option<String> = None;
        if task.depends_on.is_empty() {
            agent = Some(self.assign(&task, &child.id, None, book).await?.ok_or_else(|| no_agent(&task))?);
        }
        let mut check = tokio::time::interval(self.liveness_check);
        check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        check.tick().await;
        loop {
            let item = tokio::select! {
                item = stream.next() => item,
                _ = check.tick(), if agent.is_some() => {
                    let from = agent.clone().unwrap_or_default();
                    // A failed check (the server unreachable for a moment) is tried again at
                    // the next tick; only the child's own stream ends the plan.
                    match self.reassign_if_offline(&task, &child.id, &from, book).await {
                        Ok(Some(to)) => agent = Some(to),
                        Ok(None) => {}
                        Err(e) => tracing::warn!(task = %task.key, error = %e, "liveness check failed"),
                    }
                    continue;
                }
            };
            let Some(item) = item else { return Err(CoordinatorError::StreamEnded(task.key)) };
            match item? {
                StreamEvent::Event(e) if e.event_type.as_str() == "task.ready" && agent.is_none() => {
                    agent = Some(self.assign(&task, &child.id, None, book).await?.ok_or_else(|| no_agent(&task))?);
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
    }

    /// When the registry no longer sees `from` as active, and `from` holds no live lease on
    /// the child (a lease of a crashed agent runs out; a draining agent finishing the work
    /// releases it), moves the child to another active agent with the capability: `from` is
    /// unassigned, the other assigned, and `coordinator.reassigned` logged on the child. The
    /// new agent, if one was assigned.
    async fn reassign_if_offline(
        &self,
        task: &Task,
        child_id: &str,
        from: &str,
        book: &RunBook,
    ) -> Result<Option<String>, CoordinatorError> {
        let client = &self.client;
        match client.get_agent_record(from).await {
            Ok(record) if !offline(&record.status) => return Ok(None),
            Ok(_) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => {
                tracing::warn!(agent_id = from, error = %e, "could not read the agent's registry record");
                return Ok(None);
            }
        }
        if client.get_leases(child_id).send().await?.iter().any(|l| l.agent_id == from) {
            tracing::debug!(task = %task.key, agent_id = from, "offline agent still holds a lease; waiting");
            return Ok(None);
        }
        let child = client.get_intent(child_id).await?;
        if matches!(child.status, IntentStatus::Completed | IntentStatus::Abandoned) {
            return Ok(None);
        }
        let Some(to) = self.assign(task, child_id, Some(from), book).await? else {
            tracing::warn!(task = %task.key, agent_id = from, "its agent is offline and no other active agent has the capability");
            return Ok(None);
        };
        if let Err(e) = client.unassign_agent(child_id, from).await {
            tracing::debug!(agent_id = from, error = %e, "could not unassign the offline agent");
        }
        let payload = json!({"task": task.key, "from": from, "to": to});
        if let Err(e) = client.log_event(child_id, "coordinator.reassigned").payload(payload).send().await {
            tracing::warn!(error = %e, "could not log the reassignment");
        }
        tracing::info!(task = %task.key, child_id, from, to = %to, "reassigned: its agent is offline");
        lock(&book.reassignments).push((task.key.clone(), from.to_owned(), to.clone()));
        Ok(Some(to))
    }

    /// Assigns the task's child to the least loaded active agent with its capability (other
    /// than `except`): by reported load, then by how many children of this run it was given,
    /// then by id. The agent, or `None` when no agent qualifies.
    async fn assign(
        &self,
        task: &Task,
        child_id: &str,
        except: Option<&str>,
        book: &RunBook,
    ) -> Result<Option<String>, CoordinatorError> {
        let agents = self
            .client
            .list_agents()
            .status(AgentStatus::Active)
            .capabilities(&[task.capability.as_str()])
            .send()
            .await?;
        let load = |a: &AgentRecord| a.capacity.as_ref().and_then(|c| c.current_load).unwrap_or(0);
        // Chosen and counted at once, so that children assigned side by side spread out.
        let agent = {
            let mut given = lock(&book.given);
            let agent = agents
                .iter()
                // The filters again: servers that ignore them (the reference) list every agent.
                .filter(|a| a.status == AgentStatus::Active && a.capabilities.contains(&task.capability))
                .filter(|a| Some(a.agent_id.as_str()) != except)
                .min_by_key(|a| (load(a), given.get(&a.agent_id).copied().unwrap_or(0), a.agent_id.clone()))
                .map(|a| a.agent_id.clone());
            if let Some(a) = &agent {
                *given.entry(a.clone()).or_default() += 1;
            }
            agent
        };
        let Some(agent) = agent else { return Ok(None) };
        tracing::info!(task = %task.key, child_id, agent_id = %agent, "assigning");
        if let Err(e) = self.client.assign_agent(child_id).agent_id(agent.clone()).send().await {
            if let Some(n) = lock(&book.given).get_mut(&agent) {
                *n = n.saturating_sub(1);
            }
            return Err(e.into());
        }
        Ok(Some(agent))
    }
}

fn no_agent(task: &Task) -> CoordinatorError {
    CoordinatorError::NoAgent { task: task.key.clone(), capability: task.capability.clone() }
}
