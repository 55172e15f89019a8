//! The agent registry (RFC-0016): registration (idempotent: registering a known id updates it),
//! reads, heartbeats, status changes, and the liveness sweep that marks silent agents
//! `unhealthy` then `dead`.
//!
//! Every status change is a compare-and-set update on `(agent_id, status)` that keeps an
//! `agent.lifecycle` message on the agent's event stream in the same transaction, so several
//! server processes sweeping one PostgreSQL database write each transition once.

use chrono::{DateTime, Utc};
use openintent_types::time::format_wire;
use openintent_types::{AgentCapacity, AgentHeartbeatRequest, AgentRecord, AgentStatus, RegisterAgentRequest};
use serde_json::json;

use super::db::WriteTx;
use super::driver::{Row, query};
use super::rows::{to_json, ts};
use super::streams::keep_stream_message;
use super::{Store, StoreError, StoreResult, new_id, now};
use crate::notify::{Channel, Notification};

/// The 404 detail of every registry route whose agent does not exist.
pub(crate) const AGENT_NOT_FOUND: &str = "Agent not found";

/// The stream event of every agent status change.
pub(crate) const LIFECYCLE_EVENT: &str = "agent.lifecycle";

/// How many agents one read of the liveness sweep takes.
const SWEEP_BATCH: i64 = 200;

const AGENT_COLS: &str = "agent_id, status, role_id, name, capabilities, capacity, endpoint, heartbeat_config, \
     metadata, drain_timeout_seconds, version, registered_at, last_heartbeat_at";

/// Filter of `GET /api/v1/agents`.
#[derive(Debug, Clone, Default)]
pub(crate) struct AgentFilter {
    pub status: Option<AgentStatus>,
    pub role_id: Option<String>,
    /// Agents with any of these capabilities (none: no filter).
    pub capabilities: Vec<String>,
    pub min_available_capacity: Option<i64>,
}

impl AgentFilter {
    fn matches(&self, a: &AgentRecord) -> bool {
        let caps = self.capabilities.is_empty() || self.capabilities.iter().any(|c| a.capabilities.contains(c));
        let room = match self.min_available_capacity {
            None => true,
            Some(min) => a.capacity.as_ref().and_then(AgentCapacity::available).is_some_and(|free| free >= min),
        };
        caps && room
    }
}

/// A status change asked for through `PATCH /api/v1/agents/{id}/status` or `DELETE`.
#[derive(Debug, Clone)]
pub(crate) struct StatusChange {
    pub status: AgentStatus,
    pub drain_timeout_seconds: Option<i64>,
    /// `If-Match`, when sent.
    pub expected_version: Option<i64>,
}

/// The answer to a heartbeat: the agent after it, and when the next one is due.
#[derive(Debug, Clone)]
pub(crate) struct HeartbeatAck {
    pub agent: AgentRecord,
    pub server_timestamp: DateTime<Utc>,
    pub next_heartbeat_at: DateTime<Utc>,
}

fn agent_from_row(r: &Row) -> StoreResult<AgentRecord> {
    let mut a = AgentRecord::default();
    a.agent_id = r.try_get("agent_id")?;
    a.status = AgentStatus::parse(&r.try_get::<String, _>("status")?);
    a.role_id = r.try_get("role_id")?;
    a.name = r.try_get("name")?;
    a.capabilities = r.json("capabilities")?;
    a.capacity = r.json("capacity")?;
    a.endpoint = r.try_get("endpoint")?;
    a.heartbeat_config = r.json("heartbeat_config")?;
    a.metadata = r.json("metadata")?;
    a.drain_timeout_seconds = r.try_get("drain_timeout_seconds")?;
    a.version = r.try_get("version")?;
    a.registered_at = r.try_get("registered_at")?;
    a.last_heartbeat_at = r.try_get("last_heartbeat_at")?;
    Ok(a)
}

async fn load_agent(tx: &mut WriteTx, agent_id: &str) -> StoreResult<AgentRecord> {
    let row = query(&format!("SELECT {AGENT_COLS} FROM agents WHERE agent_id = $1"))
        .bind(agent_id)
        .fetch_optional(&mut **tx)
        .await?;
    match row {
        Some(r) => agent_from_row(&r),
        None => Err(StoreError::NotFound(AGENT_NOT_FOUND)),
    }
}

/// Keeps an `agent.lifecycle` message on the agent's stream (published when `tx` commits).
async fn lifecycle(
    tx: &mut WriteTx,
    agent_id: &str,
    previous: Option<&AgentStatus>,
    status: &AgentStatus,
    reason: &str,
    actor: &str,
) -> StoreResult<()> {
    let data = json!({
        "agent_id": agent_id,
        "previous_status": previous.map(AgentStatus::as_str),
        "status": status.as_str(),
        "reason": reason,
        "actor": actor,
        "at": format_wire(&now()),
    });
    let n = Notification::new(Channel::Agent(agent_id.to_owned()), LIFECYCLE_EVENT, data, new_id());
    keep_stream_message(tx, &n).await
}

/// Moves the agent from `from` to `to` if it is still in `from` (and at `version` when given);
/// `false` when another writer changed it first.
async fn swap_status(
    tx: &mut WriteTx,
    agent_id: &str,
    from: &AgentStatus,
    to: &AgentStatus,
    version: Option<i64>,
    drain_timeout_seconds: Option<i64>,
) -> StoreResult<bool> {
    let done = query(
        "UPDATE agents SET status = $1, version = version + 1, status_changed_at = $2, \
         drain_timeout_seconds = COALESCE($3, drain_timeout_seconds) \
         WHERE agent_id = $4 AND status = $5 AND ($6 < 0 OR version = $6)",
    )
    .bind(to.as_str())
    .bind(ts(&now()))
    .bind(drain_timeout_seconds)
    .bind(agent_id)
    .bind(from.as_str())
    .bind(version.unwrap_or(-1))
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

impl Store {
    /// Registers the agent, or (a known id) updates its registration and makes it `active`
    /// again; `true` when it was new. A re-registration replaces the capabilities and keeps
    /// the optional values it leaves out (name, role, capacity, endpoint, heartbeat settings,
    /// metadata, drain timeout). A registration counts as a heartbeat.
    pub(crate) async fn register_agent(
        &self,
        req: &RegisterAgentRequest,
        actor: &str,
    ) -> StoreResult<(AgentRecord, bool)> {
        let mut tx = self.db.begin().await?;
        let t = now();
        let capabilities = to_json(&req.capabilities);
        let capacity = req.capacity.as_ref().map(to_json);
        let heartbeat = req.heartbeat_config.as_ref().map(to_json);
        let metadata = to_json(&req.metadata.clone().unwrap_or_default());
        let inserted = query(
            "INSERT INTO agents (agent_id, status, role_id, name, capabilities, capacity, endpoint, heartbeat_config, \
             metadata, drain_timeout_seconds, version, registered_at, last_heartbeat_at, status_changed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1, $11, NULL, $11) ON CONFLICT (agent_id) DO NOTHING",
        )
        .bind(&req.agent_id)
        .bind(AgentStatus::Active.as_str())
        .bind(&req.role_id)
        .bind(&req.name)
        .bind(capabilities.clone())
        .bind(capacity.clone())
        .bind(&req.endpoint)
        .bind(heartbeat.clone())
        .bind(metadata)
        .bind(req.drain_timeout_seconds)
        .bind(t)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        let previous = if inserted {
            None
        } else {
            let before = load_agent(&mut tx, &req.agent_id).await?;
            query(
                "UPDATE agents SET status = $1, role_id = COALESCE($2, role_id), name = COALESCE($3, name), \
                 capabilities = $4, capacity = COALESCE($5, capacity), endpoint = COALESCE($6, endpoint), \
                 heartbeat_config = COALESCE($7, heartbeat_config), metadata = COALESCE($8, metadata), \
                 drain_timeout_seconds = COALESCE($9, drain_timeout_seconds), \
                 version = version + 1, last_heartbeat_at = $10, status_changed_at = $10 WHERE agent_id = $11",
            )
            .bind(AgentStatus::Active.as_str())
            .bind(&req.role_id)
            .bind(&req.name)
            .bind(capabilities)
            .bind(capacity)
            .bind(&req.endpoint)
            .bind(heartbeat)
            .bind(req.metadata.as_ref().map(to_json))
            .bind(req.drain_timeout_seconds)
            .bind(t)
            .bind(&req.agent_id)
            .execute(&mut *tx)
            .await?;
            Some(before.status)
        };
        let reason = if inserted { "registered" } else { "re-registered" };
        lifecycle(&mut tx, &req.agent_id, previous.as_ref(), &AgentStatus::Active, reason, actor).await?;
        let agent = load_agent(&mut tx, &req.agent_id).await?;
        tx.commit().await?;
        Ok((agent, inserted))
    }

    pub(crate) async fn get_agent(&self, agent_id: &str) -> StoreResult<Option<AgentRecord>> {
        let row = query(&format!("SELECT {AGENT_COLS} FROM agents WHERE agent_id = $1"))
            .bind(agent_id)
            .fetch_optional(&self.db.pool)
            .await?;
        row.as_ref().map(agent_from_row).transpose()
    }

    /// The registered agents matching `f`, in registration order.
    pub(crate) async fn list_registered_agents(&self, f: &AgentFilter) -> StoreResult<Vec<AgentRecord>> {
        let mut clauses = Vec::new();
        let mut binds: Vec<&str> = Vec::new();
        let status = f.status.as_ref().map(AgentStatus::as_str);
        for (col, value) in [("status", status), ("role_id", f.role_id.as_deref())] {
            if let Some(v) = value {
                binds.push(v);
                clauses.push(format!("{col} = ${}", binds.len()));
            }
        }
        let filter = if clauses.is_empty() { String::new() } else { format!(" WHERE {}", clauses.join(" AND ")) };
        let sql = format!("SELECT {AGENT_COLS} FROM agents{filter} ORDER BY seq");
        let mut q = query(&sql);
        for b in &binds {
            q = q.bind(*b);
        }
        let rows = q.fetch_all(&self.db.pool).await?;
        let agents = rows.iter().map(agent_from_row).collect::<StoreResult<Vec<_>>>()?;
        Ok(agents.into_iter().filter(|a| f.matches(a)).collect())
    }

    /// Records a heartbeat: its time, and the load it reports. A heartbeat from an agent the
    /// sweeper found silent (`unhealthy`, `dead`) makes it `active` again; a `draining`
    /// heartbeat from an active agent starts its drain. A deregistered agent must register again.
    pub(crate) async fn agent_heartbeat(
        &self,
        agent_id: &str,
        req: &AgentHeartbeatRequest,
        actor: &str,
    ) -> StoreResult<HeartbeatAck> {
        let mut tx = self.db.begin().await?;
        let agent = load_agent(&mut tx, agent_id).await?;
        if agent.status == AgentStatus::Deregistered {
            return Err(StoreError::Conflict(format!(
                "Agent {agent_id} is deregistered; register it again before sending heartbeats"
            )));
        }
        let t = now();
        let mut capacity = agent.capacity.clone();
        if req.current_load.is_some() || req.tasks_in_progress.is_some() {
            let c = capacity.get_or_insert_with(AgentCapacity::default);
            if let Some(load) = req.current_load {
                c.current_load = Some(load);
            }
            if let Some(tasks) = &req.tasks_in_progress {
                c.tasks_in_progress = Some(tasks.clone());
            }
        }
        query("UPDATE agents SET last_heartbeat_at = $1, capacity = $2 WHERE agent_id = $3")
            .bind(ts(&t))
            .bind(capacity.as_ref().map(to_json))
            .bind(agent_id)
            .execute(&mut *tx)
            .await?;
        let next = match (&agent.status, &req.status) {
            (AgentStatus::Unhealthy | AgentStatus::Dead, _) => Some((AgentStatus::Active, "heartbeat_resumed")),
            (AgentStatus::Active, AgentStatus::Draining) => Some((AgentStatus::Draining, "drain_requested_by_agent")),
            _ => None,
        };
        if let Some((to, reason)) = next
            && swap_status(&mut tx, agent_id, &agent.status, &to, None, None).await?
        {
            lifecycle(&mut tx, agent_id, Some(&agent.status), &to, reason, actor).await?;
        }
        let agent = load_agent(&mut tx, agent_id).await?;
        tx.commit().await?;
        let interval = agent.heartbeat_config.clone().unwrap_or_default().interval();
        // Intervals are bounded on the way in; one stored otherwise (an older row) still cannot
        // overflow the time: the next heartbeat is then due now.
        let next_heartbeat_at =
            chrono::Duration::try_seconds(interval).and_then(|d| t.checked_add_signed(d)).unwrap_or(t);
        Ok(HeartbeatAck { agent, server_timestamp: t, next_heartbeat_at })
    }

    /// Changes the agent's status along RFC-0016's lifecycle (409 otherwise; asking for the
    /// status it has is a no-op).
    pub(crate) async fn set_agent_status(
        &self,
        agent_id: &str,
        change: &StatusChange,
        actor: &str,
    ) -> StoreResult<AgentRecord> {
        let mut tx = self.db.begin().await?;
        let agent = load_agent(&mut tx, agent_id).await?;
        if let Some(v) = change.expected_version
            && v != agent.version
        {
            return Err(StoreError::Conflict(format!(
                "Version conflict: agent {agent_id} is at version {}, not {v}",
                agent.version
            )));
        }
        if agent.status == change.status {
            return Ok(agent);
        }
        if !agent.status.can_transition_to(&change.status) {
            let allowed: Vec<&str> = agent.status.allowed_transitions().iter().map(AgentStatus::as_str).collect();
            return Err(StoreError::Conflict(format!(
                "Agent {agent_id} cannot go from {} to {} (allowed: {})",
                agent.status.as_str(),
                change.status.as_str(),
                if allowed.is_empty() { "none".to_owned() } else { allowed.join(", ") }
            )));
        }
        if !swap_status(&mut tx, agent_id, &agent.status, &change.status, None, change.drain_timeout_seconds).await? {
            return Err(StoreError::Busy);
        }
        lifecycle(&mut tx, agent_id, Some(&agent.status), &change.status, "status_set", actor).await?;
        let agent = load_agent(&mut tx, agent_id).await?;
        tx.commit().await?;
        Ok(agent)
    }

    /// Marks the `active` and `unhealthy` agents whose heartbeats stopped ([`AgentRecord::health_at`]
    /// at `at`): `unhealthy`, then `dead`. Returns the transitions it wrote, as
    /// `(agent_id, new status)`. Each is a compare-and-set: an agent another process (or a
    /// heartbeat) changed meanwhile is left alone.
    pub(crate) async fn sweep_agents(&self, at: DateTime<Utc>) -> StoreResult<Vec<(String, AgentStatus)>> {
        self.sweep_agents_by(at, SWEEP_BATCH).await
    }

    /// [`Store::sweep_agents`], reading the agents `batch` rows at a time (in `seq` order), so
    /// that a sweep never holds every agent in memory; a row that cannot be read, or an agent
    /// whose transition cannot be written, is skipped (the others are still swept). The first
    /// failed write of a sweep is logged with its error and the others counted in one line at the
    /// end, so that a database outage logs two lines per sweep, not one per agent.
    async fn sweep_agents_by(&self, at: DateTime<Utc>, batch: i64) -> StoreResult<Vec<(String, AgentStatus)>> {
        let mut changed = Vec::new();
        let mut failed = 0usize;
        let mut after: i64 = i64::MIN;
        let summary = |failed: usize| {
            if failed > 1 {
                tracing::warn!(failed, "liveness sweep: transitions of {failed} agents could not be written");
            }
        };
        loop {
            let rows = query(&format!(
                "SELECT {AGENT_COLS}, seq, COALESCE(last_heartbeat_at, registered_at) AS seen FROM agents \
                 WHERE status IN ($1, $2) AND seq > $3 ORDER BY seq LIMIT $4"
            ))
            .bind(AgentStatus::Active.as_str())
            .bind(AgentStatus::Unhealthy.as_str())
            .bind(after)
            .bind(batch)
            .fetch_all(&self.db.pool)
            .await
            .inspect_err(|_| summary(failed))?;
            for row in &rows {
                after = row.try_get("seq")?;
                let read = agent_from_row(row).and_then(|a| Ok((a, row.try_get::<DateTime<Utc>, _>("seen")?)));
                let (agent, seen) = match read {
                    Ok(read) => read,
                    Err(e) => {
                        tracing::warn!(seq = after, error = %e, "agent liveness sweep skipped an unreadable agent row");
                        continue;
                    }
                };
                match self.sweep_agent(&agent, seen, at).await {
                    Ok(Some(health)) => changed.push((agent.agent_id.clone(), health)),
                    Ok(None) => {}
                    // One agent's failed write (a conflict, a lost connection) leaves it for the
                    // next sweep; the other agents are still swept.
                    Err(e) => {
                        failed += 1;
                        if failed == 1 {
                            tracing::warn!(agent_id = %agent.agent_id, error = %e, "liveness sweep failed for an agent");
                        }
                    }
                }
            }
            if i64::try_from(rows.len()).unwrap_or(i64::MAX) < batch {
                summary(failed);
                return Ok(changed);
            }
        }
    }

    /// The sweep of one agent as read (last seen at `seen`): its new status, when it changed.
    async fn sweep_agent(
        &self,
        agent: &AgentRecord,
        seen: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<AgentStatus>> {
        let health = agent.health_at(at);
        if health == agent.status {
            return Ok(None);
        }
        let mut tx = self.db.begin().await?;
        // Still as read: same status and version, and no heartbeat since (heartbeats leave
        // the version alone).
        let done = query(
            "UPDATE agents SET status = $1, version = version + 1, status_changed_at = $2 \
             WHERE agent_id = $3 AND status = $4 AND version = $5 AND \
             COALESCE(last_heartbeat_at, registered_at) = $6",
        )
        .bind(health.as_str())
        .bind(ts(&now()))
        .bind(&agent.agent_id)
        .bind(agent.status.as_str())
        .bind(agent.version)
        .bind(seen)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(None);
        }
        lifecycle(&mut tx, &agent.agent_id, Some(&agent.status), &health, "heartbeat_timeout", "server").await?;
        tx.commit().await?;
        Ok(Some(health))
    }
}

/// The seconds since the agent's last heartbeat at `at` (`None` before the first).
pub(crate) fn heartbeat_age(agent: &AgentRecord, at: DateTime<Utc>) -> Option<f64> {
    agent.last_heartbeat_at.map(|h| (at - h).num_milliseconds() as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use openintent_types::{AgentCapacity, AgentRecord, AgentStatus, HeartbeatConfig, RegisterAgentRequest};

    use super::{AgentFilter, query};
    use crate::config::DatabaseLocation;
    use crate::store::Store;

    fn quick(agent_id: &str) -> RegisterAgentRequest {
        let mut req = RegisterAgentRequest::new(agent_id);
        let mut hb = HeartbeatConfig::default();
        hb.unhealthy_after_seconds = Some(2);
        hb.dead_after_seconds = Some(4);
        req.heartbeat_config = Some(hb);
        req
    }

    /// The sweep reads the agents in batches (here of 2) and skips a row it cannot read, so
    /// that one bad row does not stop every other agent's sweep.
    #[tokio::test]
    async fn the_sweep_pages_and_skips_an_unreadable_row() {
        let store = Store::open(&DatabaseLocation::Memory).await.unwrap();
        let (first, _) = store.register_agent(&quick("bad"), "k").await.unwrap();
        for id in ["a1", "a2", "a3", "a4"] {
            store.register_agent(&quick(id), "k").await.unwrap();
        }
        query("UPDATE agents SET capabilities = 'not json' WHERE agent_id = 'bad'")
            .execute(&store.db.pool)
            .await
            .unwrap();
        let later = first.registered_at + chrono::Duration::seconds(3);
        let mut changed = store.sweep_agents_by(later, 2).await.unwrap();
        changed.retain(|(id, _)| id != "bad");
        let unhealthy = |id: &str| (id.to_owned(), AgentStatus::Unhealthy);
        assert_eq!(changed, [unhealthy("a1"), unhealthy("a2"), unhealthy("a3"), unhealthy("a4")]);
    }

    /// An agent whose transition cannot be written (here a trigger refuses it) is skipped: the
    /// agents after it are still swept.
    #[tokio::test]
    async fn the_sweep_goes_on_after_an_agent_it_cannot_write() {
        let store = Store::open(&DatabaseLocation::Memory).await.unwrap();
        let (first, _) = store.register_agent(&quick("a1"), "k").await.unwrap();
        for id in ["stuck", "a2"] {
            store.register_agent(&quick(id), "k").await.unwrap();
        }
        query(
            "CREATE TRIGGER refuse_stuck BEFORE UPDATE ON agents WHEN OLD.agent_id = 'stuck' \
             BEGIN SELECT RAISE(ABORT, 'refused'); END",
        )
        .execute(&store.db.pool)
        .await
        .unwrap();
        let later = first.registered_at + chrono::Duration::seconds(3);
        let changed = store.sweep_agents_by(later, 10).await.unwrap();
        let unhealthy = |id: &str| (id.to_owned(), AgentStatus::Unhealthy);
        assert_eq!(changed, [unhealthy("a1"), unhealthy("a2")]);
    }

    #[test]
    fn filters_match_any_capability_and_free_slots() {
        let mut a = AgentRecord::new("a");
        a.capabilities = vec!["x".into(), "y".into()];
        let mut cap = AgentCapacity::new(4);
        cap.current_load = Some(3);
        a.capacity = Some(cap);
        let f = |caps: &[&str], min: Option<i64>| AgentFilter {
            capabilities: caps.iter().map(|c| (*c).to_owned()).collect(),
            min_available_capacity: min,
            ..Default::default()
        };
        assert!(f(&[], None).matches(&a));
        assert!(f(&["z", "y"], None).matches(&a));
        assert!(!f(&["z"], None).matches(&a));
        assert!(f(&[], Some(1)).matches(&a));
        assert!(!f(&[], Some(2)).matches(&a));
        // Without a declared maximum there is no known free slot.
        a.capacity = None;
        assert!(!f(&[], Some(0)).matches(&a));
    }
}
