//! Coordinator leases (RFC-0013): granted, read, listed per intent, and kept alive by
//! heartbeats. As on the reference, a grant writes no event and nothing acts on a missed
//! heartbeat.

use chrono::{DateTime, Utc};
use openintent_types::{CoordinatorLease, CreateCoordinatorLeaseRequest};

use super::driver::{Row, query};
use super::rows::{to_json, ts};
use super::{Store, StoreResult, new_id, now};

/// The 404 detail of a coordinator lease that does not exist.
pub(crate) const COORDINATOR_LEASE_NOT_FOUND: &str = "Coordinator lease not found";

/// The heartbeat interval of a lease whose request gives none (seconds).
const DEFAULT_HEARTBEAT_INTERVAL: i64 = 60;

const COLS: &str = "id, intent_id, portfolio_id, agent_id, role, supervisor_id, coordinator_type, scope, status, \
                    guardrails, heartbeat_interval_seconds, last_heartbeat, granted_at, expires_at, version, metadata";

impl Store {
    /// Grants a lease to `agent_id` (the identity the API layer allowed), with the reference's
    /// defaults: role `coordinator`, type `llm`, scope `intent`, a 60-second interval.
    pub(crate) async fn create_coordinator_lease(
        &self,
        req: &CreateCoordinatorLeaseRequest,
        agent_id: &str,
    ) -> StoreResult<CoordinatorLease> {
        let t = now();
        let mut l = CoordinatorLease::default();
        l.id = new_id();
        l.intent_id = req.intent_id.clone();
        l.portfolio_id = req.portfolio_id.clone();
        l.agent_id = agent_id.to_owned();
        l.role = req.role.clone().unwrap_or_else(|| "coordinator".to_owned());
        l.supervisor_id = req.supervisor_id.clone();
        l.coordinator_type = req.coordinator_type.clone().unwrap_or_else(|| "llm".to_owned());
        l.scope = req.scope.clone().unwrap_or_else(|| "intent".to_owned());
        l.status = "active".to_owned();
        l.guardrails = req.guardrails.clone().unwrap_or_default();
        l.heartbeat_interval_seconds = Some(req.heartbeat_interval_seconds.unwrap_or(DEFAULT_HEARTBEAT_INTERVAL));
        l.granted_at = t;
        l.expires_at = req.expires_at;
        l.version = 1;
        l.metadata = req.metadata.clone().unwrap_or_default();
        query(&format!("INSERT INTO coordinator_leases ({COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"))
            .bind(&l.id)
            .bind(l.intent_id.as_deref())
            .bind(l.portfolio_id.as_deref())
            .bind(&l.agent_id)
            .bind(&l.role)
            .bind(l.supervisor_id.as_deref())
            .bind(&l.coordinator_type)
            .bind(&l.scope)
            .bind(&l.status)
            .bind(to_json(&l.guardrails))
            .bind(l.heartbeat_interval_seconds)
            .bind(None::<DateTime<Utc>>)
            .bind(ts(&t))
            .bind(l.expires_at)
            .bind(l.version)
            .bind(to_json(&l.metadata))
            .execute(&self.db.pool)
            .await?;
        Ok(l)
    }

    /// One lease.
    pub(crate) async fn get_coordinator_lease(&self, id: &str) -> StoreResult<Option<CoordinatorLease>> {
        let row = query(&format!("SELECT {COLS} FROM coordinator_leases WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.db.pool)
            .await?;
        row.as_ref().map(lease_from_row).transpose()
    }

    /// The leases of an intent, oldest first.
    pub(crate) async fn list_coordinator_leases(&self, intent_id: &str) -> StoreResult<Vec<CoordinatorLease>> {
        let rows = query(&format!("SELECT {COLS} FROM coordinator_leases WHERE intent_id = $1 ORDER BY seq"))
            .bind(intent_id)
            .fetch_all(&self.db.pool)
            .await?;
        rows.iter().map(lease_from_row).collect()
    }

    /// Records a heartbeat of the lease `id` (its `last_heartbeat` becomes now); returns the
    /// time of the heartbeat and the lease's interval, or `None` when there is no such lease.
    pub(crate) async fn coordinator_heartbeat(&self, id: &str) -> StoreResult<Option<(DateTime<Utc>, i64)>> {
        let t = now();
        let row = query(
            "UPDATE coordinator_leases SET last_heartbeat = $1 WHERE id = $2 RETURNING heartbeat_interval_seconds",
        )
        .bind(ts(&t))
        .bind(id)
        .fetch_optional(&self.db.pool)
        .await?;
        row.map(|r| Ok((t, r.try_get::<i64, _>("heartbeat_interval_seconds")?))).transpose()
    }
}

fn lease_from_row(r: &Row) -> StoreResult<CoordinatorLease> {
    let mut l = CoordinatorLease::default();
    l.id = r.try_get("id")?;
    l.intent_id = r.try_get("intent_id")?;
    l.portfolio_id = r.try_get("portfolio_id")?;
    l.agent_id = r.try_get("agent_id")?;
    l.role = r.try_get("role")?;
    l.supervisor_id = r.try_get("supervisor_id")?;
    l.coordinator_type = r.try_get("coordinator_type")?;
    l.scope = r.try_get("scope")?;
    l.status = r.try_get("status")?;
    l.guardrails = r.json("guardrails")?;
    l.heartbeat_interval_seconds = Some(r.try_get("heartbeat_interval_seconds")?);
    l.last_heartbeat = r.try_get("last_heartbeat")?;
    l.granted_at = r.try_get("granted_at")?;
    l.expires_at = r.try_get("expires_at")?;
    l.version = r.try_get("version")?;
    l.metadata = r.json("metadata")?;
    Ok(l)
}
