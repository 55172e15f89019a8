//! The retry policy of an intent, and the failures recorded against it.

use openintent_types::{FailureRecord, RecordFailureRequest, RetryPolicy, RetryStrategy, SetRetryPolicyRequest};
use serde_json::{Map, Value, json};

use super::db::require_intent;
use super::driver::{Executor, query};
use super::rows::{to_json, ts};
use super::{Store, StoreError, StoreResult, new_id, now};

impl Store {
    pub(crate) async fn set_retry_policy(
        &self,
        intent_id: &str,
        req: &SetRetryPolicyRequest,
    ) -> StoreResult<RetryPolicy> {
        let mut tx = self.db.begin().await?;
        require_intent(&mut tx, intent_id).await?;
        let t = now();
        let mut extras = Map::new();
        if let Some(m) = req.backoff_multiplier {
            extras.insert("backoff_multiplier".into(), json!(m));
        }
        if let Some(e) = &req.retryable_errors {
            extras.insert("retryable_errors".into(), json!(e));
        }
        if let Some(a) = &req.fallback_agent_id {
            extras.insert("fallback_agent_id".into(), json!(a));
        }
        if let Some(n) = req.failure_threshold {
            extras.insert("failure_threshold".into(), json!(n));
        }
        // Full replacement that keeps the id and the original created_at.
        query(
            "INSERT INTO retry_policies (id, intent_id, strategy, max_retries, base_delay_ms, max_delay_ms, jitter, \
             extras, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (intent_id) DO UPDATE SET strategy = excluded.strategy, max_retries = excluded.max_retries, \
             base_delay_ms = excluded.base_delay_ms, max_delay_ms = excluded.max_delay_ms, jitter = excluded.jitter, \
             extras = excluded.extras, updated_at = excluded.updated_at",
        )
        .bind(new_id())
        .bind(intent_id)
        .bind(req.strategy.as_str())
        .bind(req.max_retries)
        .bind(req.base_delay_ms)
        .bind(req.max_delay_ms)
        .bind(req.jitter.unwrap_or(true))
        .bind(to_json(&extras))
        .bind(ts(&t))
        .bind(ts(&t))
        .execute(&mut *tx)
        .await?;
        let policy = load_policy(&mut tx, intent_id).await?;
        tx.commit().await?;
        policy.ok_or_else(|| StoreError::Corrupt("retry policy vanished after write".into()))
    }

    pub(crate) async fn get_retry_policy(&self, intent_id: &str) -> StoreResult<Option<RetryPolicy>> {
        load_policy(&self.db.pool, intent_id).await
    }

    pub(crate) async fn record_failure(
        &self,
        intent_id: &str,
        req: &RecordFailureRequest,
        agent_id: Option<String>,
    ) -> StoreResult<FailureRecord> {
        let mut tx = self.db.begin().await?;
        require_intent(&mut tx, intent_id).await?;
        let t = now();
        let mut f = FailureRecord::default();
        f.id = new_id();
        f.intent_id = intent_id.to_owned();
        f.agent_id = agent_id;
        f.error_type = req.error_type.clone();
        f.error_message = req.error_message.clone();
        f.attempt_number = req.attempt_number;
        f.will_retry = req.will_retry;
        f.retry_scheduled_at = req.retry_scheduled_at;
        f.metadata = req.metadata.clone();
        f.occurred_at = t;
        query(
            "INSERT INTO failures (id, intent_id, agent_id, error_type, error_message, attempt_number, will_retry, \
             retry_scheduled_at, metadata, occurred_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&f.id)
        .bind(intent_id)
        .bind(&f.agent_id)
        .bind(&f.error_type)
        .bind(&f.error_message)
        .bind(f.attempt_number)
        .bind(f.will_retry)
        .bind(f.retry_scheduled_at.as_ref().map(ts))
        .bind(f.metadata.as_ref().map(to_json))
        .bind(ts(&t))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(f)
    }

    pub(crate) async fn list_failures(&self, intent_id: &str) -> StoreResult<Vec<FailureRecord>> {
        let rows = query(
            "SELECT id, intent_id, agent_id, error_type, error_message, attempt_number, will_retry, \
             retry_scheduled_at, metadata, occurred_at FROM failures WHERE intent_id = $1 ORDER BY seq",
        )
        .bind(intent_id)
        .fetch_all(&self.db.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let mut f = FailureRecord::default();
                f.id = r.try_get("id")?;
                f.intent_id = r.try_get("intent_id")?;
                f.agent_id = r.try_get("agent_id")?;
                f.error_type = r.try_get("error_type")?;
                f.error_message = r.try_get("error_message")?;
                f.attempt_number = r.try_get("attempt_number")?;
                f.will_retry = r.try_get("will_retry")?;
                f.retry_scheduled_at = r.try_get("retry_scheduled_at")?;
                f.metadata = r.json("metadata")?;
                f.occurred_at = r.try_get("occurred_at")?;
                Ok(f)
            })
            .collect()
    }
}

async fn load_policy<'c>(on: impl Executor<'c>, intent_id: &str) -> StoreResult<Option<RetryPolicy>> {
    let row = query(
        "SELECT id, intent_id, strategy, max_retries, base_delay_ms, max_delay_ms, jitter, extras, created_at, \
         updated_at FROM retry_policies WHERE intent_id = $1",
    )
    .bind(intent_id)
    .fetch_optional(on)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let extras: Map<String, Value> = r.json("extras")?;
    let mut p = RetryPolicy::default();
    p.id = r.try_get("id")?;
    p.intent_id = r.try_get("intent_id")?;
    p.strategy = RetryStrategy::parse(&r.try_get::<String, _>("strategy")?);
    p.max_retries = r.try_get("max_retries")?;
    p.base_delay_ms = r.try_get("base_delay_ms")?;
    p.max_delay_ms = r.try_get("max_delay_ms")?;
    p.jitter = r.try_get("jitter")?;
    p.backoff_multiplier = extras.get("backoff_multiplier").and_then(Value::as_f64);
    p.retryable_errors = extras.get("retryable_errors").and_then(|v| serde_json::from_value(v.clone()).ok());
    p.fallback_agent_id = extras.get("fallback_agent_id").and_then(Value::as_str).map(str::to_owned);
    p.failure_threshold = extras.get("failure_threshold").and_then(Value::as_i64);
    p.created_at = r.try_get("created_at")?;
    p.updated_at = Some(r.try_get("updated_at")?);
    Ok(Some(p))
}
