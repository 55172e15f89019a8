//! The agent registry (RFC-0016): registration, heartbeats, status and drain.
//!
//! Routes: register `POST /api/v1/agents` (the reference: `POST /api/v1/agents/register`), read
//! `GET /api/v1/agents/{id}` (the reference: `…/{id}/record`), list `GET /api/v1/agents` (an
//! `{"agents", "total"}` envelope or a bare array: read it with [`crate::wire::ListBody`]),
//! heartbeat `POST /api/v1/agents/{id}/heartbeat`, status `PATCH /api/v1/agents/{id}/status`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::validation::{InputValidationError, Validate, fail, require_text_max, validate_http_url, validate_id};
use crate::wire::{kind_of, null_as_default};

wire_enum! {
    /// The lifecycle status of a registered agent (RFC-0016 §2). See
    /// [`AgentStatus::allowed_transitions`].
    #[derive(Default)]
    pub enum AgentStatus {
        /// Registration in progress (transient).
        Registering = "registering",
        /// Healthy and accepting work. The status after registration.
        #[default]
        Active = "active",
        /// Finishing its work before leaving; takes no new work.
        Draining = "draining",
        /// Heartbeats missing for longer than `unhealthy_after_seconds`.
        Unhealthy = "unhealthy",
        /// Heartbeats missing for longer than `dead_after_seconds`; its leases expire.
        Dead = "dead",
        /// Gone after a drain or an explicit deregistration.
        Deregistered = "deregistered",
    }
}

use AgentStatus::{Active, Dead, Deregistered, Draining, Registering, Unhealthy};

impl AgentStatus {
    /// The statuses an agent in this status may move to (RFC-0016 §2.2), plus immediate
    /// deregistration (`DELETE /api/v1/agents/{id}`) from any live status and re-registration of a
    /// dead or deregistered agent (§3.3). Unknown statuses have none.
    ///
    /// ```
    /// use openintent_types::AgentStatus;
    /// assert!(AgentStatus::Active.can_transition_to(&AgentStatus::Draining));
    /// assert!(!AgentStatus::Dead.can_transition_to(&AgentStatus::Draining));
    /// ```
    pub fn allowed_transitions(&self) -> &'static [AgentStatus] {
        match self {
            Registering => &[Active, Deregistered],
            Active => &[Draining, Unhealthy, Deregistered],
            Unhealthy => &[Active, Draining, Dead, Deregistered],
            Draining => &[Deregistered, Dead],
            Dead | Deregistered => &[Active],
            AgentStatus::Unknown(_) => &[],
        }
    }

    /// Whether `self → to` is a lifecycle transition.
    pub fn can_transition_to(&self, to: &AgentStatus) -> bool {
        self.allowed_transitions().contains(to)
    }

    /// Whether the agent takes part in coordination (registering, active, draining, unhealthy).
    pub fn is_live(&self) -> bool {
        matches!(self, Registering | Active | Draining | Unhealthy)
    }
}

/// The default heartbeat interval, in seconds (RFC-0016 §1.1).
pub const DEFAULT_HEARTBEAT_INTERVAL_SECONDS: i64 = 30;
/// The default silence before an agent is unhealthy, in seconds.
pub const DEFAULT_UNHEALTHY_AFTER_SECONDS: i64 = 90;
/// The default silence before an agent is dead, in seconds.
pub const DEFAULT_DEAD_AFTER_SECONDS: i64 = 300;

wire_model! {
    /// What an agent can take on (`capacity`). Advisory: servers report it and do not enforce it.
    ///
    /// Read tolerantly: a bare integer (the project guide's `capacity=5`) reads as
    /// `{"max_concurrent_tasks": 5}`; unknown keys are kept in `extra`.
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct AgentCapacity {
        /// How many tasks it runs at once.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub max_concurrent_tasks: Option<i64>,
        /// How many it runs now (updated by heartbeats).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub current_load: Option<i64>,
        /// Ids of the tasks in progress (written by the reference's heartbeat).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub tasks_in_progress: Option<Vec<String>>,
        /// Other keys, kept verbatim.
        #[serde(flatten)]
        pub extra: Map<String, Value>,
    }
    aliases {
        "max_concurrent_tasks" <= ["maxConcurrentTasks"],
        "current_load" <= ["currentLoad"],
    }
    also_emit {}
}

impl AgentCapacity {
    /// A capacity of `max_concurrent_tasks`.
    pub fn new(max_concurrent_tasks: i64) -> Self {
        AgentCapacity { max_concurrent_tasks: Some(max_concurrent_tasks), ..Default::default() }
    }

    /// Free slots: `max_concurrent_tasks - current_load` (load 0 when unknown), `None` without a
    /// maximum.
    pub fn available(&self) -> Option<i64> {
        self.max_concurrent_tasks.map(|m| m - self.current_load.unwrap_or(0))
    }

    fn check(&self, field: &str) -> Result<(), InputValidationError> {
        for (name, v) in [("max_concurrent_tasks", self.max_concurrent_tasks), ("current_load", self.current_load)] {
            if let Some(n) = v
                && n < 0
            {
                return fail(&format!("{field}.{name}"), format_args!("must be an integer >= 0, got {n}"));
            }
        }
        Ok(())
    }
}

/// Reads `capacity`: `null`, an object, or a bare integer (= `max_concurrent_tasks`).
fn opt_capacity<'de, D: Deserializer<'de>>(d: D) -> Result<Option<AgentCapacity>, D::Error> {
    use serde::de::Error;
    match Option::<Value>::deserialize(d)? {
        None => Ok(None),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(i) => Ok(Some(AgentCapacity::new(i))),
            None => Err(D::Error::custom(format!("expected an integer or an object, found {n}"))),
        },
        Some(v @ Value::Object(_)) => serde_json::from_value(v).map(Some).map_err(D::Error::custom),
        Some(other) => Err(D::Error::custom(format!("expected an integer or an object, found {}", kind_of(&other)))),
    }
}

wire_model! {
    /// Heartbeat thresholds (`heartbeat_config`, RFC-0016 §1.1); absent values take the defaults.
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct HeartbeatConfig {
        /// How often the agent sends heartbeats (default 30 s).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub interval_seconds: Option<i64>,
        /// Silence before the agent is unhealthy (default 90 s; at least twice the interval).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub unhealthy_after_seconds: Option<i64>,
        /// Silence before the agent is dead (default 300 s; at least twice `unhealthy_after`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub dead_after_seconds: Option<i64>,
        /// Other keys, kept verbatim.
        #[serde(flatten)]
        pub extra: Map<String, Value>,
    }
    aliases {}
    also_emit {}
}

/// The longest heartbeat interval or threshold an agent may declare, in seconds (one year):
/// times computed from it stay representable.
pub const MAX_HEARTBEAT_SECONDS: i64 = 365 * 86_400;

impl HeartbeatConfig {
    /// The interval, defaulted.
    pub fn interval(&self) -> i64 {
        self.interval_seconds.unwrap_or(DEFAULT_HEARTBEAT_INTERVAL_SECONDS)
    }

    /// The unhealthy threshold, defaulted.
    pub fn unhealthy_after(&self) -> i64 {
        self.unhealthy_after_seconds.unwrap_or(DEFAULT_UNHEALTHY_AFTER_SECONDS)
    }

    /// The dead threshold, defaulted.
    pub fn dead_after(&self) -> i64 {
        self.dead_after_seconds.unwrap_or(DEFAULT_DEAD_AFTER_SECONDS)
    }

    /// RFC-0016 §3.3: values from 1 to [`MAX_HEARTBEAT_SECONDS`], `unhealthy_after >= 2 ×
    /// interval`, `dead_after >= 2 × unhealthy_after` (defaults stand in for absent values).
    pub fn check(&self) -> Result<(), InputValidationError> {
        let values = [
            ("interval_seconds", self.interval_seconds),
            ("unhealthy_after_seconds", self.unhealthy_after_seconds),
            ("dead_after_seconds", self.dead_after_seconds),
        ];
        for (name, v) in values {
            if let Some(n) = v
                && !(1..=MAX_HEARTBEAT_SECONDS).contains(&n)
            {
                return fail(
                    &format!("heartbeat_config.{name}"),
                    format_args!("must be between 1 and {MAX_HEARTBEAT_SECONDS} seconds, got {n}"),
                );
            }
        }
        let (interval, unhealthy, dead) = (self.interval(), self.unhealthy_after(), self.dead_after());
        if unhealthy < interval.saturating_mul(2) {
            return fail(
                "heartbeat_config.unhealthy_after_seconds",
                format_args!("must be at least twice interval_seconds ({interval}), got {unhealthy}"),
            );
        }
        if dead < unhealthy.saturating_mul(2) {
            return fail(
                "heartbeat_config.dead_after_seconds",
                format_args!("must be at least twice unhealthy_after_seconds ({unhealthy}), got {dead}"),
            );
        }
        Ok(())
    }
}

wire_model! {
    /// A registered agent (RFC-0016 §1).
    ///
    /// `metadata` is read from `metadata` or the reference's `agent_metadata`; unknown statuses
    /// are kept ([`AgentStatus::Unknown`]).
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct AgentRecord {
        /// The instance id.
        pub agent_id: String,
        /// Lifecycle status.
        #[serde(default)]
        pub status: AgentStatus,
        /// The role shared by the instances of a pool.
        #[serde(default)]
        pub role_id: Option<String>,
        /// Display name.
        #[serde(default)]
        pub name: Option<String>,
        /// Capability tags.
        #[serde(default, deserialize_with = "null_as_default")]
        pub capabilities: Vec<String>,
        /// Declared capacity and current load.
        #[serde(default, deserialize_with = "opt_capacity")]
        pub capacity: Option<AgentCapacity>,
        /// URL for push notifications.
        #[serde(default)]
        pub endpoint: Option<String>,
        /// Heartbeat thresholds.
        #[serde(default)]
        pub heartbeat_config: Option<HeartbeatConfig>,
        /// Implementation data the protocol does not inspect.
        #[serde(default, deserialize_with = "null_as_default")]
        pub metadata: Map<String, Value>,
        /// When it registered.
        #[serde(with = "crate::time::wire", default)]
        pub registered_at: DateTime<Utc>,
        /// The last heartbeat received (`null` before the first).
        #[serde(with = "crate::time::wire_opt", default)]
        pub last_heartbeat_at: Option<DateTime<Utc>>,
        /// How long a drain may take, in seconds.
        #[serde(default)]
        pub drain_timeout_seconds: Option<i64>,
        /// Optimistic-concurrency version.
        #[serde(default)]
        pub version: i64,
    }
    aliases {
        "agent_id" <= ["agentId", "id"],
        "role_id" <= ["roleId"],
        "metadata" <= ["agent_metadata"],
        "heartbeat_config" <= ["heartbeatConfig"],
        "registered_at" <= ["registeredAt", "created_at"],
        "last_heartbeat_at" <= ["lastHeartbeatAt", "last_heartbeat"],
        "drain_timeout_seconds" <= ["drainTimeoutSeconds"],
    }
    also_emit { "metadata" => "agent_metadata" }
}

impl AgentRecord {
    /// An active agent registered now, version 1.
    pub fn new(agent_id: impl Into<String>) -> Self {
        AgentRecord { agent_id: agent_id.into(), registered_at: crate::time::now(), version: 1, ..Default::default() }
    }

    /// The status heartbeat silence gives an `active` or `unhealthy` agent at `now` (RFC-0016
    /// §4.5): `dead` past `dead_after_seconds` since the last heartbeat (or the registration),
    /// `unhealthy` past `unhealthy_after_seconds`, else `active`. Other statuses are returned as
    /// they are.
    ///
    /// ```
    /// use openintent_types::{AgentRecord, AgentStatus};
    /// let agent = AgentRecord::new("a1");
    /// let later = agent.registered_at + chrono::Duration::seconds(91);
    /// assert_eq!(agent.health_at(later), AgentStatus::Unhealthy);
    /// ```
    pub fn health_at(&self, now: DateTime<Utc>) -> AgentStatus {
        if !matches!(self.status, Active | Unhealthy) {
            return self.status.clone();
        }
        let config = self.heartbeat_config.clone().unwrap_or_default();
        let silence = (now - self.last_heartbeat_at.unwrap_or(self.registered_at)).num_milliseconds();
        if silence > config.dead_after().saturating_mul(1000) {
            Dead
        } else if silence > config.unhealthy_after().saturating_mul(1000) {
            Unhealthy
        } else {
            Active
        }
    }
}

wire_model! {
    /// Body of agent registration (`POST /api/v1/agents`; the reference: `…/agents/register`).
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct RegisterAgentRequest {
        /// The instance id (required: the reference has no server-generated ids).
        pub agent_id: String,
        /// Display name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub name: Option<String>,
        /// Pool role.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub role_id: Option<String>,
        /// Capability tags (always sent, possibly empty, as the 0.17 client does).
        #[serde(default, deserialize_with = "null_as_default")]
        pub capabilities: Vec<String>,
        /// Capacity (an integer reads as `max_concurrent_tasks`; it is always sent as an object).
        #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "opt_capacity")]
        pub capacity: Option<AgentCapacity>,
        /// URL for push notifications.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub endpoint: Option<String>,
        /// Heartbeat thresholds.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub heartbeat_config: Option<HeartbeatConfig>,
        /// Implementation data (returned as `metadata`, by the reference as `agent_metadata`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub metadata: Option<Map<String, Value>>,
        /// How long a drain may take, in seconds.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub drain_timeout_seconds: Option<i64>,
    }
    aliases {
        "agent_id" <= ["agentId"],
        "role_id" <= ["roleId"],
        "metadata" <= ["agent_metadata"],
        "heartbeat_config" <= ["heartbeatConfig"],
        "drain_timeout_seconds" <= ["drainTimeoutSeconds"],
    }
    also_emit {}
}

impl RegisterAgentRequest {
    /// A registration of `agent_id` with no capabilities.
    pub fn new(agent_id: impl Into<String>) -> Self {
        RegisterAgentRequest { agent_id: agent_id.into(), ..Default::default() }
    }
}

impl Validate for RegisterAgentRequest {
    fn validate(&self) -> Result<(), InputValidationError> {
        validate_id("agent_id", &self.agent_id)?;
        if let Some(n) = &self.name {
            require_text_max("name", n, 255)?;
        }
        if let Some(r) = &self.role_id {
            validate_id("role_id", r)?;
        }
        for (i, c) in self.capabilities.iter().enumerate() {
            require_text_max(&format!("capabilities.{i}"), c, 100)?;
        }
        if let Some(c) = &self.capacity {
            c.check("capacity")?;
        }
        if let Some(e) = &self.endpoint {
            validate_http_url("endpoint", e)?;
        }
        if let Some(h) = &self.heartbeat_config {
            h.check()?;
        }
        check_drain_timeout(self.drain_timeout_seconds)
    }
}

fn check_drain_timeout(value: Option<i64>) -> Result<(), InputValidationError> {
    match value {
        Some(n) if n < 0 => fail("drain_timeout_seconds", format_args!("cannot be negative, got {n}")),
        _ => Ok(()),
    }
}

wire_model! {
    /// Body of `POST /api/v1/agents/{id}/heartbeat` (RFC-0016 §4.1).
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct AgentHeartbeatRequest {
        /// The agent's own status: `active` or `draining` (default `active`).
        #[serde(default)]
        pub status: AgentStatus,
        /// Tasks in progress now.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub current_load: Option<i64>,
        /// Ids of the tasks in progress.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub tasks_in_progress: Option<Vec<String>>,
        /// The agent's clock when it sent the heartbeat (drift detection only).
        #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::time::rfc3339_opt")]
        pub client_timestamp: Option<DateTime<Utc>>,
    }
    aliases {
        "current_load" <= ["currentLoad"],
        "tasks_in_progress" <= ["tasksInProgress"],
        "client_timestamp" <= ["clientTimestamp"],
    }
    also_emit {}
}

impl AgentHeartbeatRequest {
    /// An `active` heartbeat with `current_load` tasks, stamped now.
    pub fn new(current_load: i64) -> Self {
        AgentHeartbeatRequest {
            status: Active,
            current_load: Some(current_load),
            tasks_in_progress: None,
            client_timestamp: Some(crate::time::now()),
        }
    }
}

impl Validate for AgentHeartbeatRequest {
    fn validate(&self) -> Result<(), InputValidationError> {
        if !matches!(self.status, Active | Draining) {
            return fail("status", format_args!("must be active or draining, got {:?}", self.status.as_str()));
        }
        if let Some(n) = self.current_load
            && n < 0
        {
            return fail("current_load", format_args!("must be an integer >= 0, got {n}"));
        }
        for (i, t) in self.tasks_in_progress.iter().flatten().enumerate() {
            require_text_max(&format!("tasks_in_progress.{i}"), t, 255)?;
        }
        Ok(())
    }
}

wire_model! {
    /// A command a server hands an agent in a heartbeat answer (RFC-0016 §5.3), e.g. `drain`.
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct PendingCommand {
        /// The command (`drain`).
        pub command: String,
        /// Why.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub reason: Option<String>,
        /// For `drain`: how long the agent has.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub drain_timeout_seconds: Option<i64>,
    }
    aliases {}
    also_emit {}
}

wire_model! {
    /// The answer to an agent heartbeat (RFC-0016 §4.2) or a coordinator-lease heartbeat.
    ///
    /// The RFC answers `{acknowledged, server_timestamp, agent_status, pending_commands}`; the
    /// reference answers `{status: "ok", server_timestamp, next_heartbeat_at}`. Every field is
    /// optional; see [`HeartbeatResponse::is_acknowledged`].
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct HeartbeatResponse {
        /// The RFC's acknowledgement flag.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub acknowledged: Option<bool>,
        /// The reference's acknowledgement (`ok`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub status: Option<String>,
        /// The server's clock.
        #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::time::wire_opt")]
        pub server_timestamp: Option<DateTime<Utc>>,
        /// When the next heartbeat is due.
        #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::time::wire_opt")]
        pub next_heartbeat_at: Option<DateTime<Utc>>,
        /// The agent's status as the server sees it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub agent_status: Option<AgentStatus>,
        /// Commands for the agent.
        #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_default")]
        pub pending_commands: Vec<PendingCommand>,
    }
    aliases {
        "server_timestamp" <= ["serverTimestamp"],
        "next_heartbeat_at" <= ["nextHeartbeatAt"],
        "agent_status" <= ["agentStatus"],
        "pending_commands" <= ["pendingCommands"],
    }
    also_emit {}
}

impl HeartbeatResponse {
    /// Whether the server took the heartbeat: `acknowledged`, else `status == "ok"`.
    pub fn is_acknowledged(&self) -> bool {
        self.acknowledged.unwrap_or_else(|| self.status.as_deref() == Some("ok"))
    }
}

wire_model! {
    /// Body of `PATCH /api/v1/agents/{id}/status` (RFC-0016 §5.1; drain or deregister). The RFC
    /// sends it with `If-Match: <version>`.
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct UpdateAgentStatusRequest {
        /// The new status (a known one; the server checks the transition).
        pub status: AgentStatus,
        /// For `draining`: how long the drain may take, in seconds.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub drain_timeout_seconds: Option<i64>,
    }
    aliases { "drain_timeout_seconds" <= ["drainTimeoutSeconds"] }
    also_emit {}
}

impl UpdateAgentStatusRequest {
    /// A drain request with an optional timeout.
    pub fn drain(drain_timeout_seconds: Option<i64>) -> Self {
        UpdateAgentStatusRequest { status: Draining, drain_timeout_seconds }
    }
}

impl Validate for UpdateAgentStatusRequest {
    fn validate(&self) -> Result<(), InputValidationError> {
        if let AgentStatus::Unknown(s) = &self.status {
            let names: Vec<&str> = AgentStatus::KNOWN.iter().map(AgentStatus::as_str).collect();
            return fail("status", format_args!("must be one of {}, got {s:?}", names.join(", ")));
        }
        check_drain_timeout(self.drain_timeout_seconds)
    }
}

/// Query of `GET /api/v1/agents` (RFC-0016 §6.2).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct ListAgentsQuery {
    /// Only agents with this status (the RFC's default is `active`; the reference has none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<AgentStatus>,
    /// Only agents of this pool role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_id: Option<String>,
    /// Comma-separated capability tags: agents with any of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<String>,
    /// Only agents with at least this many free slots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_available_capacity: Option<u32>,
}

impl ListAgentsQuery {
    /// Sets `capabilities` from a list of tags.
    pub fn with_capabilities<S: AsRef<str>>(mut self, tags: &[S]) -> Self {
        let tags: Vec<&str> = tags.iter().map(AsRef::as_ref).collect();
        self.capabilities = Some(tags.join(","));
        self
    }
}

// ----- request field rules (validation and the OpenAPI document read these) -----------------

fn heartbeat_statuses() -> Vec<&'static str> {
    vec![Active.as_str(), Draining.as_str()]
}

impl crate::schema::RequestSchema for RegisterAgentRequest {
    const FIELDS: &'static [crate::schema::Field] = {
        use crate::schema::{Kind, opt, req};
        &[
            req("agent_id", Kind::Str).id(),
            opt("name", Kind::Str).text(255),
            opt("role_id", Kind::Str).id(),
            opt("capabilities", Kind::StrList),
            opt("capacity", Kind::Obj),
            opt("endpoint", Kind::Str).http_url(),
            opt("heartbeat_config", Kind::Obj),
            opt("metadata", Kind::Obj),
            opt("drain_timeout_seconds", Kind::Int).min(0.0),
        ]
    };
}

impl crate::schema::RequestSchema for AgentHeartbeatRequest {
    const FIELDS: &'static [crate::schema::Field] = {
        use crate::schema::{Kind, opt};
        &[
            opt("status", Kind::Str).one_of(heartbeat_statuses),
            opt("current_load", Kind::Int).min(0.0),
            opt("tasks_in_progress", Kind::StrList),
            opt("client_timestamp", Kind::Time),
        ]
    };
    /// An empty body is a plain `active` heartbeat.
    const EMPTY_OK: bool = true;
}

impl crate::schema::RequestSchema for UpdateAgentStatusRequest {
    const FIELDS: &'static [crate::schema::Field] = {
        use crate::schema::{Kind, opt, req};
        &[req("status", Kind::Str).one_of(AgentStatus::known_names), opt("drain_timeout_seconds", Kind::Int).min(0.0)]
    };
}
