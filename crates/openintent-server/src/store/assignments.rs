//! Agent assignments of an intent (`POST/GET/DELETE .../agents`); an assignment is also kept on
//! the agent's event stream.

use openintent_types::{AgentAssignment, EventType, IntentEvent};
use serde_json::json;

use super::db::{WriteTx, append_event, load_intent, refuse};
use super::driver::{query, query_scalar};
use super::rows::{as_obj, ts};
use super::streams::keep_stream_message;
use super::{Store, StoreError, StoreResult, Written, new_id, now};
use crate::config::Role;
use crate::notify;
use crate::rules::governance::Policy;
use crate::rules::ownership::{self, Access, Object};

impl Store {
    pub(crate) async fn assign_agent(
        &self,
        intent_id: &str,
        agent_id: &str,
        role: &str,
        actor: &str,
    ) -> StoreResult<Written<AgentAssignment>> {
        let mut tx = self.db.begin().await?;
        let intent = load_intent(&mut tx, intent_id).await?;
        let policy = Policy::from_stored(intent.governance_policy.as_ref());
        if let Err(v) = policy.check_assignment(agent_id) {
            return refuse(tx, intent_id, actor, v).await;
        }
        // A registered agent that drains or has deregistered takes no new work (RFC-0016 §5).
        // Its row is held until commit, so a drain committing meanwhile waits for this
        // assignment (PostgreSQL; SQLite's writers take turns).
        let status = query_scalar::<String>(&format!(
            "SELECT status FROM agents WHERE agent_id = $1{}",
            tx.dialect.share_lock()
        ))
        .bind(agent_id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(status) = status.filter(|s| matches!(s.as_str(), "draining" | "deregistered")) {
            return Err(StoreError::Conflict(format!("Agent {agent_id} is {status} and takes no new work")));
        }
        let t = now();
        let mut a = AgentAssignment::default();
        a.id = new_id();
        a.intent_id = intent_id.to_owned();
        a.agent_id = agent_id.to_owned();
        a.role = role.to_owned();
        a.assigned_at = t;
        query(
            "INSERT INTO agent_assignments (id, intent_id, agent_id, role, assigned_at, assigned_by) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&a.id)
        .bind(intent_id)
        .bind(agent_id)
        .bind(role)
        .bind(ts(&t))
        .bind(actor)
        .execute(&mut *tx)
        .await?;
        let payload = as_obj(json!({"agent_id": agent_id, "role": role, "assignment_id": a.id}));
        let event = append_event(&mut tx, intent_id, EventType::AgentAssigned, actor, payload).await?;
        keep_stream_message(&mut tx, &notify::agent_assigned(&a, &event.id)).await?;
        tx.commit().await?;
        Ok((a, event))
    }

    pub(crate) async fn list_agents(&self, intent_id: &str) -> StoreResult<Vec<AgentAssignment>> {
        let rows = query(
            "SELECT id, intent_id, agent_id, role, assigned_at FROM agent_assignments WHERE intent_id = $1 ORDER BY seq",
        )
        .bind(intent_id)
        .fetch_all(&self.db.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let mut a = AgentAssignment::default();
                a.id = r.try_get("id")?;
                a.intent_id = r.try_get("intent_id")?;
                a.agent_id = r.try_get("agent_id")?;
                a.role = r.try_get("role")?;
                a.assigned_at = r.try_get("assigned_at")?;
                Ok(a)
            })
            .collect()
    }

    /// Unassigns `agent_id` when `actor` (with `role`) may ([`ownership`]: the agent itself,
    /// whoever assigned it, the intent's creator, an admin key).
    pub(crate) async fn unassign_agent(
        &self,
        intent_id: &str,
        agent_id: &str,
        actor: &str,
        role: Role,
    ) -> StoreResult<IntentEvent> {
        let mut tx = self.db.begin().await?;
        let intent = load_intent(&mut tx, intent_id).await?;
        let rows = query("SELECT assigned_by FROM agent_assignments WHERE intent_id = $1 AND agent_id = $2")
            .bind(intent_id)
            .bind(agent_id)
            .fetch_all(&mut *tx)
            .await?;
        if rows.is_empty() {
            return Err(StoreError::NotFound("Agent not assigned to this intent"));
        }
        let assigners =
            rows.iter().map(|r| r.try_get::<Option<String>, _>("assigned_by")).collect::<Result<Vec<_>, _>>()?;
        let mut owners = vec![Some(agent_id), Some(intent.created_by.as_str())];
        owners.extend(assigners.iter().map(Option::as_deref));
        ownership::check(Object::Assignment, Access::Change, actor, role, &owners)?;
        let done = query("DELETE FROM agent_assignments WHERE intent_id = $1 AND agent_id = $2")
            .bind(intent_id)
            .bind(agent_id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("Agent not assigned to this intent"));
        }
        let payload = as_obj(json!({"agent_id": agent_id}));
        let event = append_event(&mut tx, intent_id, EventType::AgentUnassigned, actor, payload).await?;
        tx.commit().await?;
        Ok(event)
    }
}

/// How many distinct agents are assigned to the intent.
pub(super) async fn assigned_agent_count(tx: &mut WriteTx, intent_id: &str) -> StoreResult<u64> {
    let n: i64 = query_scalar("SELECT COUNT(DISTINCT agent_id) FROM agent_assignments WHERE intent_id = $1")
        .bind(intent_id)
        .fetch_one(&mut **tx)
        .await?;
    Ok(u64::try_from(n).unwrap_or(0))
}
