//! Coordinator leases (RFC-0013): granted, read, listed per intent, and kept alive by
//! heartbeats. As on the reference, a grant writes no event and nothing acts on a missed
//! heartbeat. The decisions recorded under a lease are stored with a `coordinator.decision`
//! event on the intent, in one transaction (the reference writes no event).

use chrono::{DateTime, Utc};
use openintent_types::{
    CoordinatorLease, CreateCoordinatorLeaseRequest, CreateDecisionRecordRequest, DecisionRecord, EventType,
};
use serde_json::{Map, Value, json};

use super::db::{WriteTx, append_event, require_intent};
use super::driver::{Row, query};
use super::error::StoreError;
use super::rows::{as_obj, to_json, ts};
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

const DECISION_COLS: &str =
    "id, coordinator_id, intent_id, decision_type, summary, rationale, alternatives_considered, confidence, timestamp";

impl Store {
    /// Records a decision of the lease `req.coordinator_id`, whose agent is `agent_id`, on
    /// the intent `req.intent_id` (404 when it does not exist), with its `coordinator.decision`
    /// event (actor: the lease's agent), in one transaction. `recorded_by` is the caller (the
    /// agent itself, or an operator or admin key acting for it; the API layer checked who may
    /// record under the lease). The lease must cover the intent and be unexpired, checked in the
    /// transaction under locks ([`lease_covers`]): otherwise nothing is recorded (409 naming
    /// `coordinator_id`, with the reason).
    pub(crate) async fn create_decision_record(
        &self,
        req: &CreateDecisionRecordRequest,
        agent_id: &str,
        recorded_by: &str,
    ) -> StoreResult<DecisionRecord> {
        let mut tx = self.db.begin().await?;
        require_intent(&mut tx, &req.intent_id).await?;
        if !lease_covers(&mut tx, &req.coordinator_id, &req.intent_id).await? {
            return Err(StoreError::Conflict(why_not_covered(&mut tx, &req.coordinator_id, &req.intent_id).await?));
        }
        let mut d = DecisionRecord::default();
        d.id = new_id();
        d.coordinator_id = req.coordinator_id.clone();
        d.intent_id = req.intent_id.clone();
        d.decision_type = req.decision_type.clone();
        d.summary = req.summary.clone();
        d.rationale = req.rationale.clone();
        // Validation refused alternatives that are not objects.
        d.alternatives_considered = req
            .alternatives_considered
            .iter()
            .flatten()
            .filter_map(|v| v.as_object().cloned())
            .collect::<Vec<Map<String, Value>>>();
        d.confidence = req.confidence;
        d.timestamp = now();
        query(&format!(
            "INSERT INTO decision_records ({DECISION_COLS}, recorded_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ))
        .bind(&d.id)
        .bind(&d.coordinator_id)
        .bind(&d.intent_id)
        .bind(&d.decision_type)
        .bind(&d.summary)
        .bind(&d.rationale)
        .bind(to_json(&d.alternatives_considered))
        .bind(d.confidence)
        .bind(ts(&d.timestamp))
        .bind(recorded_by)
        .execute(&mut *tx)
        .await?;
        let payload = json!({
            "decision_id": d.id, "coordinator_id": d.coordinator_id, "decision_type": d.decision_type,
            "summary": d.summary, "confidence": d.confidence, "recorded_by": recorded_by,
        });
        append_event(&mut tx, &d.intent_id, EventType::CoordinatorDecision, agent_id, as_obj(payload)).await?;
        tx.commit().await?;
        Ok(d)
    }

    /// The decision records of an intent, newest first (as the reference orders them), at
    /// most `limit`.
    pub(crate) async fn list_decision_records(&self, intent_id: &str, limit: i64) -> StoreResult<Vec<DecisionRecord>> {
        let rows = query(&format!(
            "SELECT {DECISION_COLS} FROM decision_records WHERE intent_id = $1 ORDER BY seq DESC LIMIT $2"
        ))
        .bind(intent_id)
        .bind(limit)
        .fetch_all(&self.db.pool)
        .await?;
        rows.iter().map(decision_from_row).collect()
    }
}

/// Whether the coordinator lease `lease_id` is unexpired and coordinates `intent_id` (its own
/// intent, or a portfolio the intent is a member of), in `tx`: on PostgreSQL the rows that say
/// so stay locked until the transaction ends, so that neither the membership nor the lease
/// changes under the record being written (SQLite's write transaction holds the database).
async fn lease_covers(tx: &mut WriteTx, lease_id: &str, intent_id: &str) -> StoreResult<bool> {
    let lock = tx.dialect.row_lock();
    let unexpired = "(l.expires_at IS NULL OR l.expires_at > $3)";
    let own = query(&format!(
        "SELECT l.id FROM coordinator_leases l WHERE l.id = $1 AND l.intent_id = $2 AND {unexpired}{lock}"
    ))
    .bind(lease_id)
    .bind(intent_id)
    .bind(now())
    .fetch_optional(&mut **tx)
    .await?;
    if own.is_some() {
        return Ok(true);
    }
    let member = query(&format!(
        "SELECT l.id FROM coordinator_leases l JOIN portfolio_memberships m ON m.portfolio_id = l.portfolio_id \
         WHERE l.id = $1 AND m.intent_id = $2 AND {unexpired}{lock}"
    ))
    .bind(lease_id)
    .bind(intent_id)
    .bind(now())
    .fetch_optional(&mut **tx)
    .await?;
    Ok(member.is_some())
}

/// Why the lease `lease_id` does not let a decision on `intent_id` be recorded (after
/// [`lease_covers`] said so): it expired, or it coordinates something else.
async fn why_not_covered(tx: &mut WriteTx, lease_id: &str, intent_id: &str) -> StoreResult<String> {
    let row = query("SELECT intent_id, portfolio_id, expires_at FROM coordinator_leases WHERE id = $1")
        .bind(lease_id)
        .fetch_optional(&mut **tx)
        .await?;
    let Some(row) = row else { return Ok(format!("coordinator_id: the coordinator lease {lease_id} is gone")) };
    let (own, portfolio): (Option<String>, Option<String>) = (row.try_get(0)?, row.try_get(1)?);
    if row.try_get::<Option<DateTime<Utc>>, _>(2)?.is_some_and(|end| end <= now()) {
        return Ok(format!(
            "coordinator_id: the coordinator lease {lease_id} expired; grant a new lease to record decisions"
        ));
    }
    let coordinates = match (own, portfolio) {
        (Some(i), _) => format!("intent {i}"),
        (None, Some(f)) => format!("portfolio {f}"),
        (None, None) => "nothing".to_owned(),
    };
    Ok(format!(
        "coordinator_id: the coordinator lease {lease_id} does not coordinate intent {intent_id} (it coordinates \
         {coordinates}); record the decision under a lease of this intent or of a portfolio it belongs to"
    ))
}

fn decision_from_row(r: &Row) -> StoreResult<DecisionRecord> {
    let mut d = DecisionRecord::default();
    d.id = r.try_get("id")?;
    d.coordinator_id = r.try_get("coordinator_id")?;
    d.intent_id = r.try_get("intent_id")?;
    d.decision_type = r.try_get("decision_type")?;
    d.summary = r.try_get("summary")?;
    d.rationale = r.try_get("rationale")?;
    d.alternatives_considered = r.json("alternatives_considered")?;
    d.confidence = r.try_get("confidence")?;
    d.timestamp = r.try_get("timestamp")?;
    Ok(d)
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

#[cfg(test)]
mod tests {
    use openintent_types::{CreateCoordinatorLeaseRequest, JsonObject, MembershipRole};
    use serde_json::json;

    use super::*;
    use crate::config::DatabaseLocation;
    use crate::store::{NewIntent, NewPortfolio};

    /// A record is refused inside its transaction when the lease no longer covers the intent,
    /// whatever the API layer saw before it began: here the intent has left the lease's
    /// portfolio, and an expired lease of the intent itself; nothing is written.
    #[tokio::test]
    async fn a_lease_that_stopped_covering_the_intent_records_nothing() {
        let store = Store::open(&DatabaseLocation::Memory).await.unwrap();
        let (intent, _) = store.create_intent(NewIntent::draft("t")).await.unwrap();
        let portfolio = store
            .create_portfolio(NewPortfolio {
                name: "f".into(),
                description: String::new(),
                created_by: "alice".into(),
                governance_policy: JsonObject::new(),
                metadata: None,
            })
            .await
            .unwrap();
        store.add_membership(&portfolio.id, &intent.id, &MembershipRole::Member, 0).await.unwrap();
        let lease = |body: Value| {
            let req: CreateCoordinatorLeaseRequest = serde_json::from_value(body).unwrap();
            let store = store.clone();
            async move { store.create_coordinator_lease(&req, "coord").await.unwrap() }
        };
        let of_portfolio = lease(json!({"agent_id": "coord", "portfolio_id": portfolio.id})).await;
        let expired =
            lease(json!({"agent_id": "coord", "intent_id": intent.id, "expires_at": "2020-01-01T00:00:00Z"})).await;
        let record = |lease: &str| -> CreateDecisionRecordRequest {
            serde_json::from_value(json!({
                "coordinator_id": lease, "intent_id": intent.id, "decision_type": "delegation",
                "summary": "s", "rationale": "r",
            }))
            .unwrap()
        };
        store.create_decision_record(&record(&of_portfolio.id), "coord", "coord").await.unwrap();
        store.remove_membership(&portfolio.id, &intent.id).await.unwrap();
        for lease in [&of_portfolio.id, &expired.id] {
            let err = store.create_decision_record(&record(lease), "coord", "coord").await.unwrap_err();
            assert!(matches!(&err, StoreError::Conflict(m) if m.starts_with("coordinator_id:")), "{err:?}");
        }
        assert_eq!(store.list_decision_records(&intent.id, 50).await.unwrap().len(), 1, "only the first");
    }
}
