//! The agent registry (RFC-0016).
//!
//! | 0.17 SDK method | Rust | Wire |
//! |---|---|---|
//! | `register_agent(agent_id, capabilities, **kw)` | [`Client::register_agent`] | `POST /api/v1/agents/register`, then `POST /api/v1/agents` on servers without it |
//! | `get_agent_record(agent_id)` | [`Client::get_agent_record`] | `GET /api/v1/agents/{id}/record`, then `GET /api/v1/agents/{id}` |
//! | `list_agents(status, role_id)` | [`Client::list_agents`] | `GET /api/v1/agents` (bare array or `{"agents": […]}`) |
//! | `agent_heartbeat(agent_id, current_load, tasks_in_progress)` | [`Client::agent_heartbeat`] | `POST /api/v1/agents/{id}/heartbeat` |
//! | `update_agent_status(agent_id, status)` | [`Client::update_agent_status`], [`Client::drain_agent`] | `PATCH /api/v1/agents/{id}/status` |
//! | — | [`Client::deregister_agent`] | `DELETE /api/v1/agents/{id}` (RFC-0016; the reference lacks it) |
//!
//! A `draining` agent finishes its work and takes no new work: a runtime must not assign new
//! intents to it. The Rust server marks agents whose heartbeats stop `unhealthy`, then `dead`.

use openintent_transport::Request;
use openintent_types::{
    AgentCapacity, AgentHeartbeatRequest, AgentRecord, AgentStatus, HeartbeatConfig, HeartbeatResponse,
    ListAgentsQuery, RegisterAgentRequest, UpdateAgentStatusRequest,
};
use serde_json::Value;

use crate::client::{Client, GenericClient, object, seg};
use crate::error::Result;
use crate::mode::{Async, Mode, impl_send};

fn agent_path(agent_id: &str, suffix: &str) -> Result<String> {
    Ok(format!("/api/v1/agents/{}{suffix}", seg("agent_id", agent_id)?))
}

impl<M: Mode> GenericClient<M> {
    /// Registers an agent, or updates the registration of a known id (`POST
    /// /api/v1/agents/register`; servers without that path get `POST /api/v1/agents`).
    ///
    /// ```no_run
    /// use openintent_client::types::AgentCapacity;
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let agent = client
    ///     .register_agent("summarizer-1")
    ///     .capabilities(["summarize", "translate"])
    ///     .role_id("summarizers")
    ///     .capacity(AgentCapacity::new(4))
    ///     .send()
    ///     .await?;
    /// assert_eq!(agent.agent_id, "summarizer-1");
    /// # Ok(()) }
    /// ```
    pub fn register_agent(&self, agent_id: impl Into<String>) -> RegisterAgent<M> {
        RegisterAgent { client: self.clone(), req: RegisterAgentRequest::new(agent_id), metadata: None }
    }

    /// Reads an agent's record (`GET /api/v1/agents/{id}/record`, then the RFC's
    /// `GET /api/v1/agents/{id}` on servers without it).
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let agent = client.get_agent_record("summarizer-1").await?;
    /// println!("{} last seen {:?}", agent.status, agent.last_heartbeat_at);
    /// # Ok(()) }
    /// ```
    pub fn get_agent_record(&self, agent_id: &str) -> M::Call<AgentRecord> {
        let paths = agent_path(agent_id, "/record").and_then(|r| Ok((r, agent_path(agent_id, "")?)));
        self.call(|c| async move {
            let (record, rfc) = paths?;
            match c.json(Request::get(record)).await {
                Err(e) if e.is_unsupported() => c.json(Request::get(rfc)).await,
                other => other,
            }
        })
    }

    /// Lists registered agents (`GET /api/v1/agents`), optionally filtered.
    ///
    /// ```no_run
    /// use openintent_client::types::AgentStatus;
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let idle = client.list_agents().status(AgentStatus::Active).role_id("summarizers").send().await?;
    /// # Ok(()) }
    /// ```
    pub fn list_agents(&self) -> ListAgents<M> {
        ListAgents { client: self.clone(), query: ListAgentsQuery::default() }
    }

    /// Sends a heartbeat (`POST /api/v1/agents/{id}/heartbeat`) reporting the current load.
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let ack = client.agent_heartbeat("summarizer-1").current_load(2).tasks_in_progress(["t1", "t2"]).send().await?;
    /// for command in &ack.pending_commands {
    ///     println!("server asks: {}", command.command);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn agent_heartbeat(&self, agent_id: &str) -> AgentHeartbeat<M> {
        AgentHeartbeat {
            client: self.clone(),
            agent_id: agent_id.to_owned(),
            req: AgentHeartbeatRequest::new(0),
            tasks: Vec::new(),
        }
    }

    /// Changes an agent's status (`PATCH /api/v1/agents/{id}/status`). The Rust server
    /// enforces RFC-0016's lifecycle (a 409 otherwise); unknown statuses are refused before
    /// sending.
    ///
    /// ```no_run
    /// use openintent_client::types::AgentStatus;
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let agent = client.update_agent_status("summarizer-1", AgentStatus::Draining).send().await?;
    /// # Ok(()) }
    /// ```
    pub fn update_agent_status(&self, agent_id: &str, status: impl Into<AgentStatus>) -> UpdateAgentStatus<M> {
        let mut req = UpdateAgentStatusRequest::default();
        req.status = status.into();
        UpdateAgentStatus { client: self.clone(), agent_id: agent_id.to_owned(), req, version: None }
    }

    /// Starts draining an agent: it finishes its work and takes no new work
    /// ([`update_agent_status`](Self::update_agent_status) to `draining`).
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// client.drain_agent("summarizer-1").drain_timeout_seconds(120).send().await?;
    /// # Ok(()) }
    /// ```
    pub fn drain_agent(&self, agent_id: &str) -> UpdateAgentStatus<M> {
        self.update_agent_status(agent_id, AgentStatus::Draining)
    }

    /// Deregisters an agent (`DELETE /api/v1/agents/{id}`; RFC-0016). The reference server
    /// lacks this route ([`unsupported`](crate::Error::is_unsupported)).
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let gone = client.deregister_agent("summarizer-1").await?;
    /// # Ok(()) }
    /// ```
    pub fn deregister_agent(&self, agent_id: &str) -> M::Call<AgentRecord> {
        let path = agent_path(agent_id, "");
        self.call(|c| async move { c.json(Request::delete(path?)).await })
    }
}

/// Builder of [`Client::register_agent`].
#[must_use = "a builder does nothing until .send() is awaited"]
#[derive(Debug)]
pub struct RegisterAgent<M: Mode = Async> {
    client: GenericClient<M>,
    req: RegisterAgentRequest,
    metadata: Option<Value>,
}

impl<M: Mode> RegisterAgent<M> {
    /// Capability tags.
    ///
    /// Example: [`Client::register_agent`].
    pub fn capabilities<S: Into<String>>(mut self, tags: impl IntoIterator<Item = S>) -> Self {
        self.req.capabilities = tags.into_iter().map(Into::into).collect();
        self
    }

    /// Display name.
    ///
    /// Example: [`Client::register_agent`].
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.req.name = Some(name.into());
        self
    }

    /// The pool role.
    ///
    /// Example: [`Client::register_agent`].
    pub fn role_id(mut self, role_id: impl Into<String>) -> Self {
        self.req.role_id = Some(role_id.into());
        self
    }

    /// Declared capacity.
    ///
    /// Example: [`Client::register_agent`].
    pub fn capacity(mut self, capacity: AgentCapacity) -> Self {
        self.req.capacity = Some(capacity);
        self
    }

    /// URL for push notifications.
    ///
    /// Example: [`Client::register_agent`].
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.req.endpoint = Some(endpoint.into());
        self
    }

    /// Heartbeat thresholds (checked before sending: `unhealthy_after >= 2 × interval`, ...).
    ///
    /// Example: [`Client::register_agent`].
    pub fn heartbeat_config(mut self, config: HeartbeatConfig) -> Self {
        self.req.heartbeat_config = Some(config);
        self
    }

    /// Implementation data (a JSON object).
    ///
    /// Example: [`Client::register_agent`].
    pub fn metadata(mut self, metadata: impl Into<Value>) -> Self {
        self.metadata = Some(metadata.into());
        self
    }

    /// How long a drain may take, in seconds.
    ///
    /// Example: [`Client::register_agent`].
    pub fn drain_timeout_seconds(mut self, seconds: i64) -> Self {
        self.req.drain_timeout_seconds = Some(seconds);
        self
    }

    async fn run(self) -> Result<AgentRecord> {
        let mut req = self.req;
        if let Some(m) = self.metadata {
            req.metadata = Some(object("metadata", m)?);
        }
        let reference = Client::with_body(Request::post("/api/v1/agents/register"), &req)?;
        match self.client.json(reference).await {
            Err(e) if e.is_unsupported() => {
                self.client.json(Client::with_body(Request::post("/api/v1/agents"), &req)?).await
            }
            other => other,
        }
    }
}
impl_send!(RegisterAgent, AgentRecord, "register_agent");

/// Builder of [`Client::list_agents`].
#[must_use = "a builder does nothing until .send() is awaited"]
#[derive(Debug)]
pub struct ListAgents<M: Mode = Async> {
    client: GenericClient<M>,
    query: ListAgentsQuery,
}

impl<M: Mode> ListAgents<M> {
    /// Only agents with this status.
    ///
    /// Example: [`Client::list_agents`].
    pub fn status(mut self, status: impl Into<AgentStatus>) -> Self {
        self.query.status = Some(status.into());
        self
    }

    /// Only agents of this pool role.
    ///
    /// Example: [`Client::list_agents`].
    pub fn role_id(mut self, role_id: impl Into<String>) -> Self {
        self.query.role_id = Some(role_id.into());
        self
    }

    /// Only agents with any of these capabilities (the reference ignores this filter).
    ///
    /// Example: [`Client::list_agents`].
    pub fn capabilities<S: AsRef<str>>(mut self, tags: &[S]) -> Self {
        self.query = self.query.with_capabilities(tags);
        self
    }

    /// Only agents with at least this many free slots (the reference ignores this filter).
    ///
    /// Example: [`Client::list_agents`].
    pub fn min_available_capacity(mut self, slots: u32) -> Self {
        self.query.min_available_capacity = Some(slots);
        self
    }

    async fn run(self) -> Result<Vec<AgentRecord>> {
        let mut request = Request::get("/api/v1/agents");
        let q = &self.query;
        if let Some(s) = &q.status {
            request = request.query("status", s.as_str());
        }
        if let Some(r) = &q.role_id {
            request = request.query("role_id", r.as_str());
        }
        if let Some(c) = &q.capabilities {
            request = request.query("capabilities", c.as_str());
        }
        if let Some(m) = q.min_available_capacity {
            request = request.query("min_available_capacity", m.to_string());
        }
        Ok(self.client.list(request).await?.items)
    }
}
impl_send!(ListAgents, Vec<AgentRecord>, "list_agents");

/// Builder of [`Client::agent_heartbeat`].
#[must_use = "a builder does nothing until .send() is awaited"]
#[derive(Debug)]
pub struct AgentHeartbeat<M: Mode = Async> {
    client: GenericClient<M>,
    agent_id: String,
    req: AgentHeartbeatRequest,
    tasks: Vec<String>,
}

impl<M: Mode> AgentHeartbeat<M> {
    /// Tasks in progress now (default 0).
    ///
    /// Example: [`Client::agent_heartbeat`].
    pub fn current_load(mut self, load: i64) -> Self {
        self.req.current_load = Some(load);
        self
    }

    /// Ids of the tasks in progress.
    ///
    /// Example: [`Client::agent_heartbeat`].
    pub fn tasks_in_progress<S: Into<String>>(mut self, tasks: impl IntoIterator<Item = S>) -> Self {
        self.tasks = tasks.into_iter().map(Into::into).collect();
        self
    }

    /// Reports the agent as draining (an agent-initiated drain); default `active`.
    ///
    /// Example: [`Client::agent_heartbeat`].
    pub fn draining(mut self) -> Self {
        self.req.status = AgentStatus::Draining;
        self
    }

    async fn run(self) -> Result<HeartbeatResponse> {
        let mut req = self.req;
        req.tasks_in_progress = Some(self.tasks);
        let request = Client::with_body(Request::post(agent_path(&self.agent_id, "/heartbeat")?), &req)?;
        self.client.json(request).await
    }
}
impl_send!(AgentHeartbeat, HeartbeatResponse, "agent_heartbeat");

/// Builder of [`Client::update_agent_status`] and [`Client::drain_agent`].
#[must_use = "a builder does nothing until .send() is awaited"]
#[derive(Debug)]
pub struct UpdateAgentStatus<M: Mode = Async> {
    client: GenericClient<M>,
    agent_id: String,
    req: UpdateAgentStatusRequest,
    version: Option<i64>,
}

impl<M: Mode> UpdateAgentStatus<M> {
    /// For `draining`: how long the drain may take, in seconds.
    ///
    /// Example: [`Client::drain_agent`].
    pub fn drain_timeout_seconds(mut self, seconds: i64) -> Self {
        self.req.drain_timeout_seconds = Some(seconds);
        self
    }

    /// Sends `If-Match: <version>`: the change fails with a conflict when the agent's record
    /// changed since it was read (the reference ignores it).
    ///
    /// Example: [`Client::update_agent_status`].
    pub fn if_version(mut self, version: i64) -> Self {
        self.version = Some(version);
        self
    }

    async fn run(self) -> Result<AgentRecord> {
        let mut request = Request::patch(agent_path(&self.agent_id, "/status")?);
        if let Some(v) = self.version {
            request = request.header("If-Match", v.to_string());
        }
        let request = Client::with_body(request, &self.req)?;
        self.client.json(request).await
    }
}
impl_send!(UpdateAgentStatus, AgentRecord, "update_agent_status");
