//! Webhook subscriptions, and their delivery outbox: the deliveries are written with each event
//! (`db::append_event`), then claimed, settled, released and pruned by the webhook workers.

use chrono::{DateTime, SubsecRound, Utc};
use openintent_types::{CreateSubscriptionRequest, DeliveryStatus, Subscription};

use super::db::{PORTFOLIO_NOT_FOUND, require_intent};
use super::driver::{query, query_scalar};
use super::rows::{to_json, ts};
use super::{
    ClaimedDelivery, DeliveryRecord, DeliveryTarget, DeliveryUpdate, Store, StoreError, StoreResult, new_id, now,
};

impl Store {
    pub(crate) async fn create_subscription(
        &self,
        req: &CreateSubscriptionRequest,
        subscriber_id: &str,
        secret: &str,
    ) -> StoreResult<Subscription> {
        let mut tx = self.db.begin().await?;
        if let Some(i) = &req.intent_id {
            require_intent(&mut tx, i).await?;
        }
        if let Some(p) = &req.portfolio_id {
            let exists: Option<i64> =
                query_scalar("SELECT 1 FROM portfolios WHERE id = $1").bind(p).fetch_optional(&mut *tx).await?;
            if exists.is_none() {
                return Err(StoreError::NotFound(PORTFOLIO_NOT_FOUND));
            }
        }
        let t = now();
        let mut s = Subscription::default();
        s.id = new_id();
        s.intent_id = req.intent_id.clone();
        s.portfolio_id = req.portfolio_id.clone();
        s.subscriber_id = subscriber_id.to_owned();
        s.event_types = req.event_types.clone();
        s.webhook_url = req.webhook_url.clone();
        s.active = true;
        s.expires_at = req.expires_at.map(|e| e.trunc_subsecs(6));
        s.created_at = t;
        query(
            "INSERT INTO subscriptions (id, intent_id, portfolio_id, subscriber_id, event_types, webhook_url, active, \
             expires_at, created_at, secret) VALUES ($1, $2, $3, $4, $5, $6, TRUE, $7, $8, $9)",
        )
        .bind(&s.id)
        .bind(&s.intent_id)
        .bind(&s.portfolio_id)
        .bind(&s.subscriber_id)
        .bind(to_json(&s.event_types))
        .bind(&s.webhook_url)
        .bind(s.expires_at.as_ref().map(ts))
        .bind(ts(&t))
        .bind(secret)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(s)
    }

    pub(crate) async fn list_subscriptions(
        &self,
        intent_id: Option<&str>,
        portfolio_id: Option<&str>,
        subscriber_id: Option<&str>,
    ) -> StoreResult<Vec<Subscription>> {
        let mut sql = String::from(
            "SELECT id, intent_id, portfolio_id, subscriber_id, event_types, webhook_url, active, expires_at, \
             created_at FROM subscriptions WHERE 1 = 1",
        );
        let mut binds = Vec::new();
        for (col, v) in [("intent_id", intent_id), ("portfolio_id", portfolio_id), ("subscriber_id", subscriber_id)] {
            if let Some(v) = v {
                binds.push(v);
                sql.push_str(&format!(" AND {col} = ${}", binds.len()));
            }
        }
        sql.push_str(" ORDER BY seq");
        let mut q = query(&sql);
        for b in binds {
            q = q.bind(b);
        }
        let rows = q.fetch_all(&self.db.pool).await?;
        rows.iter()
            .map(|r| {
                let mut s = Subscription::default();
                s.id = r.try_get("id")?;
                s.intent_id = r.try_get("intent_id")?;
                s.portfolio_id = r.try_get("portfolio_id")?;
                s.subscriber_id = r.try_get("subscriber_id")?;
                s.event_types = r.json("event_types")?;
                s.webhook_url = r.try_get("webhook_url")?;
                s.active = r.try_get("active")?;
                s.expires_at = r.try_get("expires_at")?;
                s.created_at = r.try_get("created_at")?;
                Ok(s)
            })
            .collect()
    }

    pub(crate) async fn delete_subscription(&self, id: &str) -> StoreResult<bool> {
        let mut tx = self.db.begin().await?;
        let done = query("DELETE FROM subscriptions WHERE id = $1").bind(id).execute(&mut *tx).await?;
        // Its webhook deliveries still waiting (for a first attempt or a retry) are not sent.
        query(
            "UPDATE webhook_deliveries SET status = 'cancelled', last_error = 'subscription deleted', \
             finished_at = $1, claimed_by = NULL, claimed_until = NULL \
             WHERE subscription_id = $2 AND status = 'pending'",
        )
        .bind(ts(&now()))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    /// The subscriber of subscription `id`; `None` when there is no such subscription.
    pub(crate) async fn subscription_subscriber(&self, id: &str) -> StoreResult<Option<String>> {
        Ok(query_scalar("SELECT subscriber_id FROM subscriptions WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.db.pool)
            .await?)
    }

    /// A page of the deliveries of subscription `id` (with `status` only, when given), newest
    /// first, and how many there are in all.
    pub(crate) async fn list_deliveries(
        &self,
        subscription_id: &str,
        status: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> StoreResult<(Vec<DeliveryRecord>, u64)> {
        let filter = if status.is_some() { " AND status = $2" } else { "" };
        let count_sql = format!("SELECT COUNT(*) FROM webhook_deliveries WHERE subscription_id = $1{filter}");
        let mut count = query_scalar::<i64>(&count_sql).bind(subscription_id);
        let page_sql = format!(
            "SELECT id, event_id, event_type, status, attempts, last_error, last_status, next_attempt_at, created_at, \
             finished_at FROM webhook_deliveries WHERE subscription_id = $1{filter} ORDER BY seq DESC LIMIT {} OFFSET {}",
            if status.is_some() { "$3" } else { "$2" },
            if status.is_some() { "$4" } else { "$3" },
        );
        let mut page = query(&page_sql).bind(subscription_id);
        if let Some(s) = status {
            count = count.bind(s);
            page = page.bind(s);
        }
        let total = count.fetch_one(&self.db.pool).await?;
        let rows = page.bind(limit).bind(offset).fetch_all(&self.db.pool).await?;
        let records = rows
            .iter()
            .map(|r| {
                let status: String = r.try_get("status")?;
                let next_ms: i64 = r.try_get("next_attempt_at")?;
                let finished = r.try_get("finished_at")?;
                Ok(DeliveryRecord {
                    id: r.try_get("id")?,
                    event_id: r.try_get("event_id")?,
                    event_type: r.try_get("event_type")?,
                    attempts: u32::try_from(r.try_get::<i64, _>("attempts")?).unwrap_or(0),
                    last_error: r.try_get("last_error")?,
                    last_status: r.try_get::<Option<i64>, _>("last_status")?.and_then(|c| u16::try_from(c).ok()),
                    next_attempt_at: if status == DeliveryStatus::Pending.as_str() {
                        DateTime::<Utc>::from_timestamp_millis(next_ms)
                    } else {
                        None
                    },
                    created_at: r.try_get("created_at")?,
                    delivered_at: if status == DeliveryStatus::Delivered.as_str() { finished } else { None },
                    status,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok((records, u64::try_from(total).unwrap_or(0)))
    }

    /// Claims up to `limit` due deliveries (pending, due at `now_ms`, unclaimed or with an
    /// expired claim) for `claim` until `until_ms`, and returns them with their subscriptions.
    pub(crate) async fn claim_deliveries(
        &self,
        claim: &str,
        now_ms: i64,
        until_ms: i64,
        limit: i64,
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        let mut tx = self.db.begin().await?;
        // The outer condition repeats the claimability test, so that a row claimed by a
        // concurrent transaction since the subquery read it is left alone (PostgreSQL re-checks
        // the outer condition on the row's new version); PostgreSQL also skips rows being claimed.
        let sql = format!(
            "UPDATE webhook_deliveries SET claimed_by = $1, claimed_until = $2 \
             WHERE status = 'pending' AND (claimed_until IS NULL OR claimed_until < $3) AND id IN \
             (SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= $4 \
              AND (claimed_until IS NULL OR claimed_until < $5) ORDER BY next_attempt_at, seq LIMIT $6{})",
            self.db.dialect.skip_locked()
        );
        query(&sql)
            .bind(claim)
            .bind(until_ms)
            .bind(now_ms)
            .bind(now_ms)
            .bind(now_ms)
            .bind(limit)
            .execute(&mut *tx)
            .await?;
        let rows = query(
            "SELECT d.id, d.subscription_id, d.event_type, d.payload, d.attempts, s.id AS sub_id, s.webhook_url, \
             s.secret, s.active, s.expires_at FROM webhook_deliveries d \
             LEFT JOIN subscriptions s ON s.id = d.subscription_id \
             WHERE d.claimed_by = $1 AND d.status = 'pending' ORDER BY d.next_attempt_at, d.seq",
        )
        .bind(claim)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.iter()
            .map(|r| {
                let target = match r.try_get::<Option<String>, _>("sub_id")? {
                    None => None,
                    Some(_) => Some(DeliveryTarget {
                        url: r.try_get("webhook_url")?,
                        secret: r.try_get("secret")?,
                        active: r.try_get::<Option<bool>, _>("active")?.unwrap_or(false),
                        expires_at: r.try_get("expires_at")?,
                    }),
                };
                Ok(ClaimedDelivery {
                    id: r.try_get("id")?,
                    subscription_id: r.try_get("subscription_id")?,
                    event_type: r.try_get("event_type")?,
                    // Written compact from a `serde_json::Value` (keys in order): the same text again.
                    payload: r.json::<serde_json::Value, _>("payload")?.to_string(),
                    attempts: u32::try_from(r.try_get::<i64, _>("attempts")?).unwrap_or(0),
                    target,
                })
            })
            .collect()
    }

    /// Records the outcome of an attempt on a delivery still held by `claim`; `false` when the
    /// claim was lost (expired and taken over) and nothing was written.
    pub(crate) async fn settle_delivery(&self, id: &str, claim: &str, update: &DeliveryUpdate) -> StoreResult<bool> {
        let (attempts, next, error, code) = match update {
            DeliveryUpdate::Delivered { attempts, status_code } => (Some(*attempts), None, None, Some(*status_code)),
            DeliveryUpdate::Retry { attempts, next_attempt_ms, error, status_code } => {
                (Some(*attempts), Some(*next_attempt_ms), Some(error.as_str()), *status_code)
            }
            DeliveryUpdate::Failed { attempts, error, status_code } => {
                (Some(*attempts), None, Some(error.as_str()), *status_code)
            }
            DeliveryUpdate::Cancelled { reason } => (None, None, Some(reason.as_str()), None),
        };
        let status = update.status();
        let finished = (status != DeliveryStatus::Pending).then(|| ts(&now()));
        let mut tx = self.db.begin().await?;
        let done = query(
            "UPDATE webhook_deliveries SET status = $1, attempts = COALESCE($2, attempts), \
             next_attempt_at = COALESCE($3, next_attempt_at), last_error = $4, last_status = $5, finished_at = $6, \
             claimed_by = NULL, claimed_until = NULL WHERE id = $7 AND claimed_by = $8 AND status = 'pending'",
        )
        .bind(status.as_str())
        .bind(attempts.map(i64::from))
        .bind(next)
        .bind(error)
        .bind(code.map(i64::from))
        .bind(finished)
        .bind(id)
        .bind(claim)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// How many webhook deliveries are pending (due or waiting for a retry).
    pub(crate) async fn pending_delivery_count(&self) -> StoreResult<i64> {
        Ok(query_scalar("SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'pending'")
            .fetch_one(&self.db.pool)
            .await?)
    }

    /// Extends the claim `claim` on the pending deliveries it still holds to `until_ms` (the
    /// heartbeat of a worker whose attempts are in flight); returns how many it holds.
    pub(crate) async fn renew_claims(&self, claim: &str, until_ms: i64) -> StoreResult<u64> {
        let mut tx = self.db.begin().await?;
        let done =
            query("UPDATE webhook_deliveries SET claimed_until = $1 WHERE claimed_by = $2 AND status = 'pending'")
                .bind(until_ms)
                .bind(claim)
                .execute(&mut *tx)
                .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    /// Releases the pending deliveries held by `claim` (a worker stopping), so they are due again.
    pub(crate) async fn release_claims(&self, claim: &str) -> StoreResult<u64> {
        let mut tx = self.db.begin().await?;
        let done = query(
            "UPDATE webhook_deliveries SET claimed_by = NULL, claimed_until = NULL \
             WHERE claimed_by = $1 AND status = 'pending'",
        )
        .bind(claim)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    /// Deletes the finished (delivered, failed or cancelled) deliveries that finished before
    /// `before`; returns how many.
    pub(crate) async fn prune_deliveries(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        let mut tx = self.db.begin().await?;
        let done = query(
            "DELETE FROM webhook_deliveries WHERE status <> 'pending' AND finished_at IS NOT NULL \
             AND finished_at < $1",
        )
        .bind(ts(&before))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }
}
