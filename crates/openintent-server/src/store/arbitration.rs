//! Arbitration requests and decisions of an intent; each shares its id with the event that
//! records it.

use openintent_types::{Arbitration, ArbitrationStatus, Decision, EventType};
use serde_json::{Value, json};

use super::db::{append_event, require_intent};
use super::driver::query;
use super::rows::{as_obj, to_json, ts};
use super::{NewArbitration, NewDecision, Store, StoreResult};

impl Store {
    pub(crate) async fn request_arbitration(&self, intent_id: &str, new: NewArbitration) -> StoreResult<Arbitration> {
        let mut tx = self.db.begin().await?;
        require_intent(&mut tx, intent_id).await?;
        let payload = as_obj(json!({"reason": new.reason, "context": new.context}));
        let event =
            append_event(&mut tx, intent_id, EventType::ArbitrationRequested, &new.requested_by, payload).await?;
        query(
            "INSERT INTO arbitrations (id, intent_id, requested_by, reason, context, options, status, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7)",
        )
        .bind(&event.id)
        .bind(intent_id)
        .bind(&new.requested_by)
        .bind(&new.reason)
        .bind(to_json(&new.context))
        .bind(to_json(&new.options))
        .bind(ts(&event.created_at))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        let mut a = Arbitration::default();
        a.id = Some(event.id);
        a.intent_id = Some(intent_id.to_owned());
        a.requested_by = Some(new.requested_by);
        a.reason = Some(new.reason);
        a.context = new.context;
        a.options = serde_json::from_value(new.options).unwrap_or_default();
        a.status = ArbitrationStatus::Pending;
        a.created_at = Some(event.created_at);
        Ok(a)
    }

    pub(crate) async fn list_arbitrations(&self, intent_id: &str) -> StoreResult<Vec<Arbitration>> {
        let rows = query(
            "SELECT id, intent_id, requested_by, reason, context, options, status, created_at FROM arbitrations \
             WHERE intent_id = $1 ORDER BY seq",
        )
        .bind(intent_id)
        .fetch_all(&self.db.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let mut a = Arbitration::default();
                a.id = Some(r.try_get("id")?);
                a.intent_id = Some(r.try_get("intent_id")?);
                a.requested_by = Some(r.try_get("requested_by")?);
                a.reason = Some(r.try_get("reason")?);
                a.context = r.json("context")?;
                a.options = r.json::<Option<_>, _>("options").ok().flatten().unwrap_or_default();
                a.status = ArbitrationStatus::parse(&r.try_get::<String, _>("status")?);
                a.created_at = Some(r.try_get("created_at")?);
                Ok(a)
            })
            .collect()
    }

    pub(crate) async fn record_decision(&self, intent_id: &str, new: NewDecision) -> StoreResult<Decision> {
        let mut tx = self.db.begin().await?;
        require_intent(&mut tx, intent_id).await?;
        let mut payload = as_obj(json!({
            "decision_type": new.decision_type, "outcome": new.outcome, "rationale": new.rationale,
        }));
        if let Some(e) = &new.evidence {
            payload.insert("evidence".into(), Value::Array(e.clone()));
        }
        let event = append_event(&mut tx, intent_id, EventType::DecisionRecorded, &new.decided_by, payload).await?;
        query(
            "INSERT INTO decisions (id, intent_id, decision_type, decided_by, outcome, rationale, evidence, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&event.id)
        .bind(intent_id)
        .bind(&new.decision_type)
        .bind(&new.decided_by)
        .bind(&new.outcome)
        .bind(&new.rationale)
        .bind(new.evidence.as_ref().map(to_json))
        .bind(ts(&event.created_at))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        let mut d = Decision::default();
        d.id = event.id;
        d.intent_id = Some(intent_id.to_owned());
        d.decision_type = Some(new.decision_type);
        d.decided_by = Some(new.decided_by);
        d.outcome = new.outcome;
        d.rationale = Some(new.rationale);
        d.evidence = new.evidence;
        d.created_at = Some(event.created_at);
        Ok(d)
    }

    pub(crate) async fn list_decisions(&self, intent_id: &str) -> StoreResult<Vec<Decision>> {
        let rows = query(
            "SELECT id, intent_id, decision_type, decided_by, outcome, rationale, evidence, created_at FROM decisions \
             WHERE intent_id = $1 ORDER BY seq",
        )
        .bind(intent_id)
        .fetch_all(&self.db.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let mut d = Decision::default();
                d.id = r.try_get("id")?;
                d.intent_id = Some(r.try_get("intent_id")?);
                d.decision_type = Some(r.try_get("decision_type")?);
                d.decided_by = Some(r.try_get("decided_by")?);
                d.outcome = r.try_get("outcome")?;
                d.rationale = Some(r.try_get("rationale")?);
                d.evidence = r.json("evidence")?;
                d.created_at = Some(r.try_get("created_at")?);
                Ok(d)
            })
            .collect()
    }
}
