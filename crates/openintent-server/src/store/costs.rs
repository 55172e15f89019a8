//! Costs recorded against an intent, under its governance policy's `max_cost` ceiling.

use openintent_types::{CostRecord, RecordCostRequest};

use super::db::{WriteTx, check_writer, load_intent, refuse};
use super::driver::{query, query_scalar};
use super::rows::{to_json, ts};
use super::{Store, StoreResult, new_id, now};
use crate::rules::governance::Policy;

impl Store {
    pub(crate) async fn record_cost(
        &self,
        intent_id: &str,
        req: &RecordCostRequest,
        agent_id: &str,
        principal: &str,
    ) -> StoreResult<CostRecord> {
        let mut tx = self.db.begin().await?;
        let intent = load_intent(&mut tx, intent_id).await?;
        let policy = Policy::from_stored(intent.governance_policy.as_ref());
        let mut verdict = check_writer(&mut tx, &policy, intent_id, principal).await?;
        if verdict.is_ok() && policy.max_cost.is_some() {
            // The intent's row is locked: no other cost of this intent commits before this one.
            verdict = policy.check_cost(cost_total(&mut tx, intent_id).await?, req.amount);
        }
        if let Err(v) = verdict {
            return refuse(tx, intent_id, principal, v).await;
        }
        let t = now();
        let mut c = CostRecord::default();
        c.id = new_id();
        c.intent_id = intent_id.to_owned();
        c.agent_id = agent_id.to_owned();
        c.cost_type = req.cost_type.clone();
        c.amount = req.amount;
        c.unit = req.unit.clone();
        c.provider = req.provider.clone();
        c.cost_metadata = req.cost_metadata.clone().unwrap_or_default();
        c.recorded_at = t;
        query(
            "INSERT INTO costs (id, intent_id, agent_id, cost_type, amount, unit, provider, metadata, recorded_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&c.id)
        .bind(intent_id)
        .bind(&c.agent_id)
        .bind(&c.cost_type)
        .bind(c.amount)
        .bind(&c.unit)
        .bind(&c.provider)
        .bind(to_json(&c.cost_metadata))
        .bind(ts(&t))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(c)
    }

    pub(crate) async fn list_costs(&self, intent_id: &str) -> StoreResult<Vec<CostRecord>> {
        let rows = query(
            "SELECT id, intent_id, agent_id, cost_type, amount, unit, provider, metadata, recorded_at FROM costs \
             WHERE intent_id = $1 ORDER BY seq",
        )
        .bind(intent_id)
        .fetch_all(&self.db.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let mut c = CostRecord::default();
                c.id = r.try_get("id")?;
                c.intent_id = r.try_get("intent_id")?;
                c.agent_id = r.try_get("agent_id")?;
                c.cost_type = r.try_get("cost_type")?;
                c.amount = r.try_get("amount")?;
                c.unit = r.try_get("unit")?;
                c.provider = r.try_get("provider")?;
                c.cost_metadata = r.json("metadata")?;
                c.recorded_at = r.try_get("recorded_at")?;
                Ok(c)
            })
            .collect()
    }
}

/// The sum of the intent's recorded costs.
async fn cost_total(tx: &mut WriteTx, intent_id: &str) -> StoreResult<f64> {
    let total: Option<f64> =
        query_scalar("SELECT SUM(amount) FROM costs WHERE intent_id = $1").bind(intent_id).fetch_one(&mut **tx).await?;
    Ok(total.unwrap_or(0.0))
}
