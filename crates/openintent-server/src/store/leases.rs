//! Leases on scopes of an intent's state. At most one live lease holds a scope: acquisition is a
//! conditional upsert on the one-row-per-scope `lease_slots` table.

use chrono::{DateTime, Utc};
use openintent_types::{EventType, IntentEvent, Lease};
use serde_json::json;

use super::db::{WriteTx, append_event, lock_intent, require_intent};
use super::driver::query;
use super::rows::{LEASE_COLS, as_obj, lease_from_row, ts};
use super::{Store, StoreError, StoreResult, Written, new_id, now};
use crate::rules::leases::{self, with_status};

const LEASE_NOT_FOUND: &str = "Lease not found or not owned by you";

impl Store {
    pub(crate) async fn acquire_lease(
        &self,
        intent_id: &str,
        scope: &str,
        duration_seconds: i64,
        principal: &str,
    ) -> StoreResult<Written<Lease>> {
        let mut tx = self.db.begin().await?;
        require_intent(&mut tx, intent_id).await?;
        let t = now();
        let expires = t + chrono::Duration::seconds(duration_seconds);
        let lease_id = new_id();
        // Take the slot only when it is free or its lease has expired.
        let taken = query(
            "INSERT INTO lease_slots (intent_id, scope, lease_id, holder, expires_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (intent_id, scope) DO UPDATE SET lease_id = excluded.lease_id, holder = excluded.holder, \
             expires_at = excluded.expires_at \
             WHERE lease_slots.lease_id IS NULL OR lease_slots.expires_at <= $6",
        )
        .bind(intent_id)
        .bind(scope)
        .bind(&lease_id)
        .bind(principal)
        .bind(ts(&expires))
        .bind(ts(&t))
        .execute(&mut *tx)
        .await?;
        if taken.rows_affected() == 0 {
            let existing = slot_lease(&mut tx, intent_id, scope).await?;
            return Err(StoreError::lease(leases::held(existing, now())));
        }
        query(
            "INSERT INTO leases (id, intent_id, agent_id, scope, acquired_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&lease_id)
        .bind(intent_id)
        .bind(principal)
        .bind(scope)
        .bind(ts(&t))
        .bind(ts(&expires))
        .execute(&mut *tx)
        .await?;
        let payload = as_obj(json!({"scope": scope, "lease_id": lease_id, "duration_seconds": duration_seconds}));
        let event = append_event(&mut tx, intent_id, EventType::LeaseAcquired, principal, payload).await?;
        tx.commit().await?;
        let mut lease = Lease::new(lease_id, intent_id, principal, scope, duration_seconds);
        lease.acquired_at = t;
        lease.expires_at = expires;
        Ok((with_status(lease, t), event))
    }

    pub(crate) async fn list_leases(&self, intent_id: &str) -> StoreResult<Vec<Lease>> {
        let rows = query(&format!("SELECT {LEASE_COLS} FROM leases WHERE intent_id = $1 ORDER BY seq"))
            .bind(intent_id)
            .fetch_all(&self.db.pool)
            .await?;
        let t = now();
        rows.iter().map(|r| lease_from_row(r).map(|l| with_status(l, t))).collect()
    }

    pub(crate) async fn renew_lease(
        &self,
        intent_id: &str,
        lease_id: &str,
        duration_seconds: i64,
        principal: &str,
    ) -> StoreResult<Written<Lease>> {
        let mut tx = self.db.begin().await?;
        lock_intent(&mut tx, intent_id).await?;
        let mut lease = owned_lease(&mut tx, intent_id, lease_id, principal).await?;
        if lease.released_at.is_some() {
            return Err(StoreError::NotFound(LEASE_NOT_FOUND));
        }
        let t = now();
        let expires = t + chrono::Duration::seconds(duration_seconds);
        // Keep (or take back) the slot only if no other live lease holds it.
        let kept = query(
            "UPDATE lease_slots SET lease_id = $1, holder = $2, expires_at = $3 \
             WHERE intent_id = $4 AND scope = $5 AND (lease_id = $6 OR lease_id IS NULL OR expires_at <= $7)",
        )
        .bind(lease_id)
        .bind(principal)
        .bind(ts(&expires))
        .bind(intent_id)
        .bind(&lease.scope)
        .bind(lease_id)
        .bind(ts(&t))
        .execute(&mut *tx)
        .await?;
        if kept.rows_affected() == 0 {
            let existing = slot_lease(&mut tx, intent_id, &lease.scope).await?;
            return Err(StoreError::lease(leases::held(existing, now())));
        }
        query("UPDATE leases SET expires_at = $1 WHERE id = $2")
            .bind(ts(&expires))
            .bind(lease_id)
            .execute(&mut *tx)
            .await?;
        let payload = as_obj(json!({"lease_id": lease_id, "duration_seconds": duration_seconds}));
        let event = append_event(&mut tx, intent_id, EventType::LeaseRenewed, principal, payload).await?;
        tx.commit().await?;
        lease.expires_at = expires;
        Ok((with_status(lease, t), event))
    }

    /// Releases a lease; `None` when it was already released (no second event).
    pub(crate) async fn release_lease(
        &self,
        intent_id: &str,
        lease_id: &str,
        principal: &str,
    ) -> StoreResult<Option<IntentEvent>> {
        let mut tx = self.db.begin().await?;
        lock_intent(&mut tx, intent_id).await?;
        let lease = owned_lease(&mut tx, intent_id, lease_id, principal).await?;
        if lease.released_at.is_some() {
            return Ok(None);
        }
        let t = now();
        query("UPDATE leases SET released_at = $1 WHERE id = $2 AND released_at IS NULL")
            .bind(ts(&t))
            .bind(lease_id)
            .execute(&mut *tx)
            .await?;
        query(
            "UPDATE lease_slots SET lease_id = NULL, holder = NULL, expires_at = NULL \
             WHERE intent_id = $1 AND scope = $2 AND lease_id = $3",
        )
        .bind(intent_id)
        .bind(&lease.scope)
        .bind(lease_id)
        .execute(&mut *tx)
        .await?;
        let payload = as_obj(json!({"lease_id": lease_id, "scope": lease.scope}));
        let event = append_event(&mut tx, intent_id, EventType::LeaseReleased, principal, payload).await?;
        tx.commit().await?;
        Ok(Some(event))
    }
}

/// The leases currently holding a scope of the intent.
pub(super) async fn active_leases(tx: &mut WriteTx, intent_id: &str, at: &DateTime<Utc>) -> StoreResult<Vec<Lease>> {
    let cols: Vec<String> = LEASE_COLS.split(", ").map(|c| format!("l.{}", c.trim())).collect();
    let rows = query(&format!(
        "SELECT {} FROM lease_slots s JOIN leases l ON l.id = s.lease_id \
         WHERE s.intent_id = $1 AND s.lease_id IS NOT NULL AND s.expires_at > $2",
        cols.join(", ")
    ))
    .bind(intent_id)
    .bind(ts(at))
    .fetch_all(&mut **tx)
    .await?;
    rows.iter().map(lease_from_row).collect()
}

/// The lease the slot of `(intent, scope)` points to.
async fn slot_lease(tx: &mut WriteTx, intent_id: &str, scope: &str) -> StoreResult<Option<Lease>> {
    let cols: Vec<String> = LEASE_COLS.split(", ").map(|c| format!("l.{}", c.trim())).collect();
    let row = query(&format!(
        "SELECT {} FROM lease_slots s JOIN leases l ON l.id = s.lease_id WHERE s.intent_id = $1 AND s.scope = $2",
        cols.join(", ")
    ))
    .bind(intent_id)
    .bind(scope)
    .fetch_optional(&mut **tx)
    .await?;
    row.as_ref().map(lease_from_row).transpose()
}

/// A lease of `intent_id` held by `principal`: 404 when unknown or of another intent, 403 when
/// another principal holds it.
async fn owned_lease(tx: &mut WriteTx, intent_id: &str, lease_id: &str, principal: &str) -> StoreResult<Lease> {
    let row = query(&format!("SELECT {LEASE_COLS} FROM leases WHERE id = $1"))
        .bind(lease_id)
        .fetch_optional(&mut **tx)
        .await?;
    let lease = match row {
        Some(r) => lease_from_row(&r)?,
        None => return Err(StoreError::NotFound(LEASE_NOT_FOUND)),
    };
    if lease.intent_id != intent_id {
        return Err(StoreError::NotFound(LEASE_NOT_FOUND));
    }
    if lease.agent_id != principal {
        return Err(StoreError::Forbidden("Lease not owned by you"));
    }
    Ok(lease)
}
