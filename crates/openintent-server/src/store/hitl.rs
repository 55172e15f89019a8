//! Human-in-the-loop suspensions (RFC-0025/0026): suspend an intent with a question, answer it,
//! and the timers of unanswered suspensions (re-notification, escalation, expiry).
//!
//! Each change of an intent is one transaction under the intent's lock: the status, the
//! `_suspension` state record and the version move together, with their events
//! (`status_changed` and `intent.suspended` / `intent.resumed` / `intent.suspension_expired`).
//! A suspension with a timeout or a retry policy has a row in `suspension_timers` saying when
//! its next step is due, whether it was made through `POST …/suspend` or written the 0.17 SDK's
//! way (a status change and a state write of the record, [`arm_written_suspension`]); the sweeper
//! ([`Store::run_due_suspension_timers`]) takes each due row under the intent's lock and checks
//! it again there, so several server processes on one database never act on a timer twice.

use chrono::{DateTime, Utc};
use openintent_types::time::format_wire;
use openintent_types::{
    EventType, InputResponse, Intent, IntentStatus, RespondToSuspensionRequest, ResponseError, SUSPENSION_STATE_KEY,
    SuspendRequest, SuspensionRecord, SuspensionResolution,
};
use serde_json::{Map, Value, json};

use super::db::{WriteTx, append_event, check_writer, load_intent, refuse};
use super::driver::{query, query_scalar};
use super::rows::{as_obj, to_json, ts};
use super::{Store, StoreError, StoreResult, new_id, now};
use crate::rules::governance::Policy;
use crate::rules::hitl::{Due, expiry, next_due};
use crate::rules::lifecycle::check_transition;

/// The actor of the events the server writes on its own (expiry, re-notification).
pub(crate) const SYSTEM_ACTOR: &str = "openintent-server";

/// Timers handled per sweep.
const SWEEP_BATCH: i64 = 100;

impl Store {
    /// Suspends an intent (`draft` or `active`) with a question: status
    /// `suspended_awaiting_input`, the [`SuspensionRecord`] under `_suspension`, version + 1, and
    /// the events `status_changed` and `intent.suspended`, in one write. `expected_version`,
    /// when given, must be the current version.
    pub(crate) async fn suspend_intent(
        &self,
        id: &str,
        expected_version: Option<i64>,
        principal: &str,
        request: SuspendRequest,
    ) -> StoreResult<(Intent, SuspensionRecord)> {
        let mut tx = self.db.begin().await?;
        let mut intent = load_intent(&mut tx, id).await?;
        let policy = Policy::from_stored(intent.governance_policy.as_ref());
        if let Err(v) = check_writer(&mut tx, &policy, id, principal).await? {
            return refuse(tx, id, principal, v).await;
        }
        if intent.status == IntentStatus::SuspendedAwaitingInput {
            let current = match SuspensionRecord::from_state(&intent.state) {
                Some(Ok(r)) => format!(" (suspension_id={})", r.id),
                _ => String::new(),
            };
            return Err(StoreError::Conflict(format!("Intent is already suspended{current}")));
        }
        if let Some(v) = expected_version
            && v != intent.version
        {
            return Err(StoreError::VersionConflict { current: intent.version });
        }
        let target = IntentStatus::SuspendedAwaitingInput;
        check_transition(&intent.status, &target).map_err(StoreError::InvalidTransition)?;
        let t = now();
        let record = request.into_record(new_id(), t);
        let mut state = intent.state.clone();
        state.insert(SUSPENSION_STATE_KEY.to_owned(), serde_json::to_value(&record).unwrap_or(Value::Null));
        let previous = intent.status.clone();
        intent = write_suspension_change(&mut tx, intent, state, target, t).await?;
        status_event(&mut tx, &intent, &previous, principal, None).await?;
        let payload = json!({
            "suspension_id": record.id,
            "question": record.question,
            "response_type": record.response_type,
            "choices": record.choices,
            "channel_hint": record.channel_hint,
            "timeout_seconds": record.timeout_seconds,
            "expires_at": record.expires_at.as_ref().map(format_wire),
            "fallback_policy": record.fallback_policy,
            "confidence_at_suspension": record.confidence_at_suspension,
            "retry_policy": record.retry_policy,
        });
        append_event(&mut tx, id, EventType::IntentSuspended, principal, as_obj(payload)).await?;
        query("DELETE FROM suspension_timers WHERE intent_id = $1").bind(id).execute(&mut *tx).await?;
        if let Some((due, _)) = next_due(&record, 1) {
            query(
                "INSERT INTO suspension_timers (intent_id, suspension_id, attempt, due_at, created_at) \
                 VALUES ($1, $2, 1, $3, $4)",
            )
            .bind(id)
            .bind(&record.id)
            .bind(ts(&due))
            .bind(ts(&t))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok((intent, record))
    }

    /// Answers the intent's suspension: checks the answer against the stored record (type and
    /// choices), stores it in `_suspension` (`response`, `responded_by`, `responded_at`,
    /// `resolution: responded`), resumes the intent (`active`, version + 1) and writes
    /// `status_changed` and `intent.resumed`, in one write.
    pub(crate) async fn respond_to_suspension(
        &self,
        id: &str,
        responded_by: &str,
        request: &RespondToSuspensionRequest,
    ) -> StoreResult<(Intent, InputResponse)> {
        let mut tx = self.db.begin().await?;
        let intent = load_intent(&mut tx, id).await?;
        if intent.status != IntentStatus::SuspendedAwaitingInput {
            return Err(StoreError::Conflict(format!("Intent is not suspended (status={})", intent.status.as_str())));
        }
        let stored = match SuspensionRecord::from_state(&intent.state) {
            Some(Ok(r)) => Some(r),
            Some(Err(e)) => {
                return Err(StoreError::Unprocessable(format!(
                    "The intent's {SUSPENSION_STATE_KEY} state is not a suspension record: {e}"
                )));
            }
            // Suspended through the status route alone: any suspension id is accepted, as by
            // the reference, and the record is written now.
            None => None,
        };
        if let Some(r) = &stored
            && r.id != request.suspension_id
        {
            return Err(StoreError::Conflict(format!(
                "suspension_id mismatch: expected {}, got {}",
                r.id, request.suspension_id
            )));
        }
        let mut record = stored.unwrap_or_else(|| SuspensionRecord::new(request.suspension_id.clone(), ""));
        let matched = record.check_response(&request.value).map_err(|e| response_refused(e, &request.value))?;
        let t = now();
        let answer = InputResponse::accept(id, request, responded_by, matched.as_ref(), t);
        record.record_response(&answer);
        let mut state = intent.state.clone();
        state.insert(SUSPENSION_STATE_KEY.to_owned(), serde_json::to_value(&record).unwrap_or(Value::Null));
        let previous = intent.status.clone();
        let intent = write_suspension_change(&mut tx, intent, state, IntentStatus::Active, t).await?;
        status_event(&mut tx, &intent, &previous, responded_by, None).await?;
        let payload = serde_json::to_value(&answer).unwrap_or(Value::Null);
        append_event(&mut tx, id, EventType::IntentResumed, responded_by, as_obj(payload)).await?;
        query("DELETE FROM suspension_timers WHERE intent_id = $1").bind(id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok((intent, answer))
    }

    /// Runs the suspension timers due at `at` (at most a batch); returns how many acted.
    pub(crate) async fn run_due_suspension_timers(&self, at: DateTime<Utc>) -> StoreResult<usize> {
        let rows = query(
            "SELECT intent_id, suspension_id FROM suspension_timers WHERE due_at <= $1 ORDER BY due_at, seq LIMIT $2",
        )
        .bind(ts(&at))
        .bind(SWEEP_BATCH)
        .fetch_all(&self.db.pool)
        .await?;
        let mut acted = 0;
        for r in &rows {
            let intent_id: String = r.try_get("intent_id")?;
            let suspension_id: String = r.try_get("suspension_id")?;
            // One timer that cannot run (an unreadable record, ...) does not hold up the others.
            match self.run_timer(&intent_id, &suspension_id, at).await {
                Ok(true) => acted += 1,
                Ok(false) => {}
                Err(e @ (StoreError::Busy | StoreError::Database(_) | StoreError::Begin(_))) => return Err(e),
                Err(e) => tracing::warn!(intent = %intent_id, error = %e, "suspension timer failed"),
            }
        }
        Ok(acted)
    }

    /// One timer, under the intent's lock: re-read (another process may have run it, or the
    /// suspension may have ended), then re-notify or expire. `false` when nothing was due.
    async fn run_timer(&self, intent_id: &str, suspension_id: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        let mut tx = self.db.begin().await?;
        let intent = match load_intent(&mut tx, intent_id).await {
            Ok(i) => i,
            Err(StoreError::NotFound(_)) => return Ok(false),
            Err(e) => return Err(e),
        };
        let row = query("SELECT attempt, due_at FROM suspension_timers WHERE intent_id = $1 AND suspension_id = $2")
            .bind(intent_id)
            .bind(suspension_id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else { return Ok(false) };
        let attempt: i64 = row.try_get("attempt")?;
        if row.try_get::<DateTime<Utc>, _>("due_at")? > at {
            return Ok(false);
        }
        let record = match SuspensionRecord::from_state(&intent.state) {
            Some(Ok(r)) if r.id == suspension_id && r.resolution.is_none() => Some(r),
            _ => None,
        };
        let (Some(record), true) = (record, intent.status == IntentStatus::SuspendedAwaitingInput) else {
            // The suspension ended another way (a status change, a new suspension).
            delete_timer(&mut tx, intent_id).await?;
            tx.commit().await?;
            return Ok(false);
        };
        match next_due(&record, attempt) {
            Some((_, Due::Renotify { attempt: next, escalate_to })) => {
                renotify(&mut tx, intent_id, &record, next, &escalate_to).await?;
                match next_due(&record, next) {
                    Some((due, _)) => {
                        query("UPDATE suspension_timers SET attempt = $1, due_at = $2 WHERE intent_id = $3")
                            .bind(next)
                            .bind(ts(&due))
                            .bind(intent_id)
                            .execute(&mut *tx)
                            .await?;
                    }
                    None => delete_timer(&mut tx, intent_id).await?,
                }
            }
            Some((_, Due::Expire)) => {
                expire(&mut tx, intent, record, at).await?;
                delete_timer(&mut tx, intent_id).await?;
            }
            None => delete_timer(&mut tx, intent_id).await?,
        }
        tx.commit().await?;
        Ok(true)
    }
}

/// Arms the timer of a suspension written through the generic routes, as the 0.17 SDK writes
/// one (`POST …/status` to `suspended_awaiting_input`, then a state write of the `_suspension`
/// record), so that it is re-notified, escalated and expired as one made by `POST …/suspend`.
/// Called in the write transaction of a status change or a state write, with the status and
/// the `_suspension` value from before that write and the intent after it.
///
/// A timer is armed when the intent is `suspended_awaiting_input` after the write, holds an
/// unanswered record, and either entered the status with this write or had its record written
/// by it; a timer already running for the same suspension is kept (its attempts go on). A
/// record that cannot be read arms nothing and is logged; so is a record already past its first
/// step when the status is entered (a leftover of an earlier suspension: its timer would act
/// at once, before the writer's own record arrives).
pub(super) async fn arm_written_suspension(
    tx: &mut WriteTx,
    previous_status: &IntentStatus,
    previous_record: Option<&Value>,
    intent: &Intent,
) -> StoreResult<()> {
    if intent.status != IntentStatus::SuspendedAwaitingInput {
        return Ok(());
    }
    let entered = *previous_status != IntentStatus::SuspendedAwaitingInput;
    let rewritten = previous_record != intent.state.get(SUSPENSION_STATE_KEY);
    if !(entered || rewritten) {
        return Ok(());
    }
    let record = match SuspensionRecord::from_state(&intent.state) {
        Some(Ok(r)) if r.resolution.is_none() => r,
        Some(Ok(_)) | None => return Ok(()),
        Some(Err(e)) => {
            tracing::warn!(intent = %intent.id, error = %e, "unreadable {SUSPENSION_STATE_KEY} record: no suspension timer");
            return Ok(());
        }
    };
    let running: Option<String> = query_scalar("SELECT suspension_id FROM suspension_timers WHERE intent_id = $1")
        .bind(&intent.id)
        .fetch_optional(&mut **tx)
        .await?;
    if running.as_deref() == Some(record.id.as_str()) {
        return Ok(());
    }
    delete_timer(tx, &intent.id).await?;
    let Some((due, _)) = next_due(&record, 1) else { return Ok(()) };
    let t = now();
    if !rewritten && due <= t {
        tracing::info!(intent = %intent.id, suspension = %record.id, "stale {SUSPENSION_STATE_KEY} record: no suspension timer");
        return Ok(());
    }
    query(
        "INSERT INTO suspension_timers (intent_id, suspension_id, attempt, due_at, created_at) \
         VALUES ($1, $2, 1, $3, $4)",
    )
    .bind(&intent.id)
    .bind(&record.id)
    .bind(ts(&due))
    .bind(ts(&t))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Writes the intent's new state and status, version + 1 (the caller holds the intent's lock).
async fn write_suspension_change(
    tx: &mut WriteTx,
    mut intent: Intent,
    state: Map<String, Value>,
    status: IntentStatus,
    t: DateTime<Utc>,
) -> StoreResult<Intent> {
    query("UPDATE intents SET state = $1, status = $2, version = version + 1, updated_at = $3 WHERE id = $4")
        .bind(to_json(&state))
        .bind(status.as_str())
        .bind(ts(&t))
        .bind(&intent.id)
        .execute(&mut **tx)
        .await?;
    intent.state = state;
    intent.status = status;
    intent.version += 1;
    intent.updated_at = t;
    Ok(intent)
}

/// The `status_changed` event of a change from `previous` to the intent's status.
async fn status_event(
    tx: &mut WriteTx,
    intent: &Intent,
    previous: &IntentStatus,
    actor: &str,
    reason: Option<&str>,
) -> StoreResult<()> {
    let mut payload = Map::new();
    payload.insert("status".into(), json!(intent.status.as_str()));
    payload.insert("version".into(), json!(intent.version));
    payload.insert("previous_status".into(), json!(previous.as_str()));
    if let Some(r) = reason {
        payload.insert("reason".into(), json!(r));
    }
    append_event(tx, &intent.id, EventType::StatusChanged, actor, payload).await?;
    Ok(())
}

async fn delete_timer(tx: &mut WriteTx, intent_id: &str) -> StoreResult<()> {
    query("DELETE FROM suspension_timers WHERE intent_id = $1").bind(intent_id).execute(&mut **tx).await?;
    Ok(())
}

/// Attempt `attempt` of an unanswered suspension: `intent.suspension_escalated` and an
/// escalation (§4.7) for each ladder step of that attempt, then `intent.suspension_renotified`.
async fn renotify(
    tx: &mut WriteTx,
    intent_id: &str,
    record: &SuspensionRecord,
    attempt: i64,
    escalate_to: &[openintent_types::EscalationStep],
) -> StoreResult<()> {
    let policy = record.retry_policy.clone().unwrap_or_default();
    for step in escalate_to {
        let channel =
            if step.channel_hint.is_empty() { record.channel_hint.clone() } else { Some(step.channel_hint.clone()) };
        let payload = json!({
            "suspension_id": record.id, "attempt": attempt, "escalated_to": step.notify_to, "channel_hint": channel,
        });
        append_event(tx, intent_id, EventType::SuspensionEscalated, SYSTEM_ACTOR, as_obj(payload)).await?;
        let mut new = openintent_types::CreateEscalationRequest::new(format!(
            "Suspension {} unanswered after attempt {}: {}",
            record.id,
            attempt - 1,
            record.question
        ));
        new.priority = Some(openintent_types::EscalationPriority::High);
        new.urgency = Some(openintent_types::EscalationPriority::High);
        new.context = Some(as_obj(json!({
            "suspension_id": record.id, "attempt": attempt, "notify_to": step.notify_to, "channel_hint": channel,
        })));
        super::governance::insert_escalation(tx, intent_id, &new, SYSTEM_ACTOR).await?;
    }
    let start = record.suspended_at.unwrap_or_else(now);
    let next_attempt_at = (attempt < policy.max_attempts)
        .then(|| crate::rules::hitl::attempt_time(start, policy.interval_seconds, attempt))
        .flatten()
        .map(|t| format_wire(&t));
    let notify_to: Vec<&str> = escalate_to.iter().map(|s| s.notify_to.as_str()).collect();
    let payload = json!({
        "suspension_id": record.id, "attempt": attempt, "max_attempts": policy.max_attempts,
        "channel_hint": record.channel_hint, "notify_to": notify_to, "next_attempt_at": next_attempt_at,
    });
    append_event(tx, intent_id, EventType::SuspensionRenotified, SYSTEM_ACTOR, as_obj(payload)).await?;
    Ok(())
}

/// The expiry of an unanswered suspension: its policy decides the status (`fail` abandons, the
/// others resume with the fallback value); the record says `resolution: expired`.
async fn expire(tx: &mut WriteTx, intent: Intent, mut record: SuspensionRecord, at: DateTime<Utc>) -> StoreResult<()> {
    let outcome = expiry(&record);
    record.resolution = Some(SuspensionResolution::Expired);
    record.response = outcome.value.clone();
    let mut state = intent.state.clone();
    state.insert(SUSPENSION_STATE_KEY.to_owned(), serde_json::to_value(&record).unwrap_or(Value::Null));
    let previous = intent.status.clone();
    let t = now().max(at);
    let intent = write_suspension_change(tx, intent, state, outcome.status.clone(), t).await?;
    let payload = json!({
        "suspension_id": record.id, "fallback_policy": outcome.policy, "fallback_value": outcome.value,
        "status": outcome.status.as_str(), "expired_at": format_wire(&t),
    });
    append_event(tx, &intent.id, EventType::SuspensionExpired, SYSTEM_ACTOR, as_obj(payload)).await?;
    status_event(tx, &intent, &previous, SYSTEM_ACTOR, Some("suspension expired")).await
}

/// The refusal of an answer `value` the suspension does not accept: the value and the choices
/// for a value that is not a choice, the text for an unknown stored type, a field error for
/// `value` otherwise.
fn response_refused(e: ResponseError, value: &Value) -> StoreError {
    match e {
        ResponseError::InvalidChoice(c) => {
            StoreError::InvalidChoice { choice: value.clone(), allowed: c.valid_choices }
        }
        ResponseError::UnknownResponseType(_) => StoreError::Unprocessable(e.to_string()),
        other => {
            StoreError::Invalid(vec![openintent_types::FieldError::body("value", "value_error", other.to_string())])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DatabaseLocation;
    use crate::store::driver::query_scalar;
    use crate::store::{EventFilter, NewIntent};

    async fn suspended(store: &Store, body: serde_json::Value) -> Intent {
        let (intent, _) = store.create_intent(NewIntent::draft("t")).await.unwrap();
        let request: SuspendRequest = serde_json::from_value(body).unwrap();
        store.suspend_intent(&intent.id, Some(1), "agent", request).await.unwrap().0
    }

    #[tokio::test]
    async fn a_timer_acts_once_when_due() {
        let store = Store::open(&DatabaseLocation::Memory).await.unwrap();
        let intent = suspended(&store, json!({"question": "q", "response_type": "text", "timeout_seconds": 60})).await;
        let t = now();
        assert_eq!(store.run_due_suspension_timers(t).await.unwrap(), 0, "not due yet");
        let later = t + chrono::Duration::seconds(61);
        assert_eq!(store.run_due_suspension_timers(later).await.unwrap(), 1);
        // Taken: a second sweep (another process) finds nothing.
        assert_eq!(store.run_due_suspension_timers(later).await.unwrap(), 0);
        let now_intent = store.get_intent(&intent.id).await.unwrap().unwrap();
        assert_eq!((now_intent.status, now_intent.version), (IntentStatus::Abandoned, 3));
        let events = store.list_events(&intent.id, &EventFilter { limit: 10, ..Default::default() }).await.unwrap();
        let expired: Vec<_> = events.iter().filter(|e| e.event_type == EventType::SuspensionExpired).collect();
        assert_eq!(expired.len(), 1);
        assert_eq!(expired[0].actor, SYSTEM_ACTOR);
    }

    #[tokio::test]
    async fn a_timer_of_a_suspension_that_ended_otherwise_is_dropped() {
        let store = Store::open(&DatabaseLocation::Memory).await.unwrap();
        let intent = suspended(&store, json!({"question": "q", "response_type": "text", "timeout_seconds": 60})).await;
        // Abandoned through the status route: the timer finds nothing to do and goes away.
        store.set_status(&intent.id, 2, "agent", &IntentStatus::Abandoned, None).await.unwrap();
        let later = now() + chrono::Duration::seconds(61);
        assert_eq!(store.run_due_suspension_timers(later).await.unwrap(), 0);
        let left: i64 = query_scalar("SELECT COUNT(*) FROM suspension_timers").fetch_one(&store.db.pool).await.unwrap();
        assert_eq!(left, 0);
        assert_eq!(store.get_intent(&intent.id).await.unwrap().unwrap().version, 3);
    }
}
