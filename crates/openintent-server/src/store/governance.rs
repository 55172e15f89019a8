//! Governance (RFC-0013, the governance guide): an intent's policy set and removed, approval
//! requests and their decisions, escalations, and what the completion gate counts.
//!
//! Every write locks the intent first (as every write of the intent does), so a decision, a
//! policy change and the completion they gate are serialized, whichever server process runs
//! them; refusals by the policy write their `governance.violation` event as the other writes do.

use openintent_types::{
    Approval, ApprovalStatus, CreateEscalationRequest, Escalation, EscalationPriority, EscalationStatus, EventType,
    Intent, JsonObject, ResolveEscalationRequest,
};
use serde_json::json;

use super::db::{WriteTx, check_writer, load_intent, lock_intent, refuse, require_intent};
use super::driver::{Row, query, query_scalar};
use super::rows::{as_obj, to_json, ts};
use super::{Store, StoreError, StoreResult, Written, new_id, now};
use crate::notify::{Channel, Notification};
use crate::rules::governance::{CompletionFacts, CompletionMode, POLICY_CHANGE_ACTION, Policy};

/// The inbox notification of a new approval request (the name the inbox stream announces).
pub(crate) const APPROVAL_REQUESTED: &str = "governance.approval_requested";

const APPROVAL_NOT_FOUND: &str = "Approval request not found";
const ESCALATION_NOT_FOUND: &str = "Escalation not found";
const APPROVAL_COLS: &str = "id, intent_id, requested_by, action, reason, context, status, created_at, decided_at, \
                             decided_by, decision_notes";
const ESCALATION_COLS: &str = "id, intent_id, escalated_by, reason, priority, urgency, context, status, created_at, \
                               resolved_at, resolved_by, resolution, resolution_notes";

/// An approval request to create: the request with its defaults resolved.
#[derive(Debug, Clone)]
pub(crate) struct NewApproval {
    pub action: String,
    pub reason: String,
    pub context: JsonObject,
    pub requested_by: String,
}

impl Store {
    /// Replaces (`Some`) or removes (`None`) the intent's policy as one version-checked write.
    /// The current policy governs its own change: the caller must pass its `write_scope` and
    /// `allowed_agents`, and a completion gate is lifted or lowered only after an approval for
    /// action `change_governance_policy` (see [`Policy::check_policy_change`]), which that change
    /// consumes in the same transaction: each approval allows one change.
    pub(crate) async fn change_governance_policy(
        &self,
        id: &str,
        expected_version: i64,
        principal: &str,
        new_policy: Option<JsonObject>,
    ) -> StoreResult<Written<Intent>> {
        let mut tx = self.db.begin().await?;
        let mut intent = load_intent(&mut tx, id).await?;
        let current = Policy::from_stored(intent.governance_policy.as_ref());
        let mut verdict = check_writer(&mut tx, &current, id, principal).await?;
        // The approval this change uses up, when it needs one.
        let mut consumed = None;
        if verdict.is_ok() {
            let next = new_policy.as_ref().map(|p| Policy::from_stored(Some(p)));
            if current.check_policy_change(next.as_ref(), false).is_err() {
                consumed = unconsumed_policy_change(&mut tx, id).await?;
                verdict = current.check_policy_change(next.as_ref(), consumed.is_some());
            }
        }
        if let Err(v) = verdict {
            return refuse(tx, id, principal, v).await;
        }
        if intent.version != expected_version {
            return Err(StoreError::VersionConflict { current: intent.version });
        }
        let t = now();
        let new_version = expected_version + 1;
        let done = query(
            "UPDATE intents SET governance_policy = $1, version = version + 1, updated_at = $2 \
             WHERE id = $3 AND version = $4",
        )
        .bind(new_policy.as_ref().map(to_json))
        .bind(ts(&t))
        .bind(id)
        .bind(expected_version)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::VersionConflict { current: intent.version });
        }
        let (event_type, payload) = match &new_policy {
            Some(p) => (EventType::GovernancePolicySet, json!({"governance_policy": p, "version": new_version})),
            None => (EventType::GovernancePolicyRemoved, json!({"version": new_version})),
        };
        let event = super::db::append_event(&mut tx, id, event_type, principal, as_obj(payload)).await?;
        if let Some(approval_id) = consumed {
            query("UPDATE approvals SET consumed_at = $1 WHERE id = $2")
                .bind(ts(&t))
                .bind(&approval_id)
                .execute(&mut *tx)
                .await?;
        }
        intent.governance_policy = new_policy;
        intent.version = new_version;
        intent.updated_at = t;
        tx.commit().await?;
        Ok((intent, event))
    }

    /// Creates a pending approval request (no event, as the reference).
    pub(crate) async fn request_approval(&self, intent_id: &str, new: NewApproval) -> StoreResult<Approval> {
        let mut tx = self.db.begin().await?;
        require_intent(&mut tx, intent_id).await?;
        let mut a = Approval::default();
        a.id = new_id();
        a.intent_id = intent_id.to_owned();
        a.requested_by = new.requested_by;
        a.action = new.action;
        a.reason = new.reason;
        a.context = new.context;
        a.status = ApprovalStatus::Pending;
        a.created_at = now();
        query(
            "INSERT INTO approvals (id, intent_id, requested_by, action, reason, context, status, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&a.id)
        .bind(intent_id)
        .bind(&a.requested_by)
        .bind(&a.action)
        .bind(&a.reason)
        .bind(to_json(&a.context))
        .bind(a.status.as_str())
        .bind(ts(&a.created_at))
        .execute(&mut *tx)
        .await?;
        // No log event (the protocol writes none), but the inbox shows the request at once.
        let data = json!({"approval_id": a.id, "intent_id": intent_id});
        tx.publish(Notification::new(Channel::Inbox(intent_id.to_owned()), APPROVAL_REQUESTED, data, a.id.clone()))
            .await?;
        tx.commit().await?;
        Ok(a)
    }

    /// One approval of the intent (`None` also when it belongs to another intent).
    pub(crate) async fn get_approval(&self, intent_id: &str, approval_id: &str) -> StoreResult<Option<Approval>> {
        let row = query(&format!("SELECT {APPROVAL_COLS} FROM approvals WHERE id = $1 AND intent_id = $2"))
            .bind(approval_id)
            .bind(intent_id)
            .fetch_optional(&self.db.pool)
            .await?;
        row.as_ref().map(approval_from_row).transpose()
    }

    /// The intent's approvals, oldest first, optionally of one status.
    pub(crate) async fn list_approvals(&self, intent_id: &str, status: Option<&str>) -> StoreResult<Vec<Approval>> {
        let rows = query(&format!(
            "SELECT {APPROVAL_COLS} FROM approvals WHERE intent_id = $1 AND ($2 = '' OR status = $3) ORDER BY seq"
        ))
        .bind(intent_id)
        .bind(status.unwrap_or(""))
        .bind(status.unwrap_or(""))
        .fetch_all(&self.db.pool)
        .await?;
        rows.iter().map(approval_from_row).collect()
    }

    /// Approves or denies a pending request as `decided_by`, with its event. The requester may
    /// not decide their own request unless the policy sets `allow_self_approval` (403).
    pub(crate) async fn decide_approval(
        &self,
        intent_id: &str,
        approval_id: &str,
        decided_by: &str,
        approve: bool,
        notes: Option<String>,
    ) -> StoreResult<Approval> {
        let mut tx = self.db.begin().await?;
        let intent = load_intent(&mut tx, intent_id).await?;
        let row = query(&format!("SELECT {APPROVAL_COLS} FROM approvals WHERE id = $1 AND intent_id = $2"))
            .bind(approval_id)
            .bind(intent_id)
            .fetch_optional(&mut *tx)
            .await?;
        let mut a = match row {
            Some(r) => approval_from_row(&r)?,
            None => return Err(StoreError::NotFound(APPROVAL_NOT_FOUND)),
        };
        let verb = if approve { "approve" } else { "deny" };
        if a.is_decided() {
            return Err(StoreError::Conflict(format!("Approval is already '{}', cannot {verb}", a.status.as_str())));
        }
        let policy = Policy::from_stored(intent.governance_policy.as_ref());
        if let Err(v) = policy.check_approver(&a.requested_by, decided_by) {
            return refuse(tx, intent_id, decided_by, v).await;
        }
        let t = now();
        a.status = if approve { ApprovalStatus::Approved } else { ApprovalStatus::Denied };
        a.decided_at = Some(t);
        a.decided_by = Some(decided_by.to_owned());
        a.decision_notes = notes.filter(|n| !n.trim().is_empty());
        query(
            "UPDATE approvals SET status = $1, decided_at = $2, decided_by = $3, decision_notes = $4 \
             WHERE id = $5 AND status = 'pending'",
        )
        .bind(a.status.as_str())
        .bind(ts(&t))
        .bind(decided_by)
        .bind(&a.decision_notes)
        .bind(&a.id)
        .execute(&mut *tx)
        .await?;
        let (event_type, decision) = if approve {
            (EventType::GovernanceApprovalGranted, "approved")
        } else {
            (EventType::GovernanceApprovalDenied, "denied")
        };
        let payload = json!({
            "approval_id": a.id, "action": a.action, "decision": decision, "requested_by": a.requested_by,
            "decided_by": decided_by,
        });
        super::db::append_event(&mut tx, intent_id, event_type, decided_by, as_obj(payload)).await?;
        tx.commit().await?;
        Ok(a)
    }

    /// Opens an escalation, with its `escalation_initiated` event.
    pub(crate) async fn create_escalation(
        &self,
        intent_id: &str,
        request: &CreateEscalationRequest,
        escalated_by: &str,
    ) -> StoreResult<Escalation> {
        let mut tx = self.db.begin().await?;
        require_intent(&mut tx, intent_id).await?;
        let e = insert_escalation(&mut tx, intent_id, request, escalated_by).await?;
        tx.commit().await?;
        Ok(e)
    }

    /// Escalations, newest first, optionally of one intent and of one status.
    pub(crate) async fn list_escalations(
        &self,
        intent_id: Option<&str>,
        status: Option<&str>,
    ) -> StoreResult<Vec<Escalation>> {
        let rows = query(&format!(
            "SELECT {ESCALATION_COLS} FROM escalations WHERE ($1 = '' OR intent_id = $2) AND ($3 = '' OR status = $4) \
             ORDER BY created_at DESC, seq DESC"
        ))
        .bind(intent_id.unwrap_or(""))
        .bind(intent_id.unwrap_or(""))
        .bind(status.unwrap_or(""))
        .bind(status.unwrap_or(""))
        .fetch_all(&self.db.pool)
        .await?;
        rows.iter().map(escalation_from_row).collect()
    }

    /// One escalation.
    pub(crate) async fn get_escalation(&self, id: &str) -> StoreResult<Option<Escalation>> {
        let row = query(&format!("SELECT {ESCALATION_COLS} FROM escalations WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.db.pool)
            .await?;
        row.as_ref().map(escalation_from_row).transpose()
    }

    /// Resolves a pending escalation, with its `escalation_resolved` event; a resolved one is
    /// not resolved again (409).
    pub(crate) async fn resolve_escalation(
        &self,
        id: &str,
        request: &ResolveEscalationRequest,
        resolved_by: &str,
    ) -> StoreResult<Escalation> {
        let Some(found) = self.get_escalation(id).await? else {
            return Err(StoreError::NotFound(ESCALATION_NOT_FOUND));
        };
        let mut tx = self.db.begin().await?;
        if !lock_intent(&mut tx, &found.intent_id).await? {
            return Err(StoreError::NotFound(ESCALATION_NOT_FOUND));
        }
        let row = query(&format!("SELECT {ESCALATION_COLS} FROM escalations WHERE id = $1"))
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        let mut e = match row {
            Some(r) => escalation_from_row(&r)?,
            None => return Err(StoreError::NotFound(ESCALATION_NOT_FOUND)),
        };
        if e.status == EscalationStatus::Resolved {
            return Err(StoreError::Conflict(format!(
                "Escalation is already resolved ({:?} by {:?}); open a new escalation instead",
                e.resolution.unwrap_or_default(),
                e.resolved_by.unwrap_or_default()
            )));
        }
        let t = now();
        e.status = EscalationStatus::Resolved;
        e.resolved_at = Some(t);
        e.resolved_by = Some(resolved_by.to_owned()).filter(|s| !s.is_empty());
        e.resolution = Some(request.resolution.clone());
        e.resolution_notes = request.notes.clone().filter(|n| !n.is_empty());
        query(
            "UPDATE escalations SET status = 'resolved', resolved_at = $1, resolved_by = $2, resolution = $3, \
             resolution_notes = $4 WHERE id = $5",
        )
        .bind(ts(&t))
        .bind(resolved_by)
        .bind(&request.resolution)
        .bind(&e.resolution_notes)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let payload = json!({"escalation_id": e.id, "resolution": request.resolution});
        super::db::append_event(&mut tx, &e.intent_id, EventType::EscalationResolved, resolved_by, as_obj(payload))
            .await?;
        tx.commit().await?;
        Ok(e)
    }
}

/// Inserts an escalation and its `escalation_initiated` event (the caller holds the intent's
/// lock). Also used by the suspension timers to escalate an unanswered question.
pub(super) async fn insert_escalation(
    tx: &mut WriteTx,
    intent_id: &str,
    request: &CreateEscalationRequest,
    escalated_by: &str,
) -> StoreResult<Escalation> {
    let mut e = Escalation::default();
    e.id = new_id();
    e.intent_id = intent_id.to_owned();
    e.escalated_by = escalated_by.to_owned();
    e.reason = request.reason.clone();
    e.priority = request.priority.clone().unwrap_or(EscalationPriority::Medium);
    e.urgency = request.urgency.clone().unwrap_or(EscalationPriority::Medium);
    e.context = request.context.clone().unwrap_or_default();
    e.status = EscalationStatus::Pending;
    e.created_at = now();
    query(
        "INSERT INTO escalations (id, intent_id, escalated_by, reason, priority, urgency, context, status, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&e.id)
    .bind(intent_id)
    .bind(&e.escalated_by)
    .bind(&e.reason)
    .bind(e.priority.as_str())
    .bind(e.urgency.as_str())
    .bind(to_json(&e.context))
    .bind(e.status.as_str())
    .bind(ts(&e.created_at))
    .execute(&mut **tx)
    .await?;
    let payload = json!({"escalation_id": e.id, "reason": e.reason, "priority": e.priority.as_str()});
    super::db::append_event(tx, intent_id, EventType::EscalationInitiated, escalated_by, as_obj(payload)).await?;
    Ok(e)
}

/// What the completion gate of `policy` counts, read in the status write's transaction (the
/// intent is locked, so no decision or assignment commits meanwhile).
pub(super) async fn completion_facts(
    tx: &mut WriteTx,
    intent_id: &str,
    policy: &Policy,
) -> StoreResult<CompletionFacts> {
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    match policy.completion_mode {
        CompletionMode::Auto => Ok(CompletionFacts::default()),
        CompletionMode::RequireApproval => Ok(CompletionFacts {
            assigned_agents: 0,
            approvals: count(approved_count(tx, intent_id, openintent_types::COMPLETE_ACTION).await?),
        }),
        CompletionMode::Quorum => {
            let assigned = super::assignments::assigned_agent_count(tx, intent_id).await?;
            // Distinct approving principals among the assigned agents.
            let approvers: i64 = query_scalar(
                "SELECT COUNT(DISTINCT decided_by) FROM approvals WHERE intent_id = $1 AND action = $2 \
                 AND status = 'approved' AND decided_by IN (SELECT agent_id FROM agent_assignments WHERE intent_id = $3)",
            )
            .bind(intent_id)
            .bind(openintent_types::COMPLETE_ACTION)
            .bind(intent_id)
            .fetch_one(&mut **tx)
            .await?;
            Ok(CompletionFacts { assigned_agents: assigned, approvals: count(approvers) })
        }
    }
}

async fn approved_count(tx: &mut WriteTx, intent_id: &str, action: &str) -> StoreResult<i64> {
    Ok(query_scalar("SELECT COUNT(*) FROM approvals WHERE intent_id = $1 AND action = $2 AND status = 'approved'")
        .bind(intent_id)
        .bind(action)
        .fetch_one(&mut **tx)
        .await?)
}

/// The oldest approved `change_governance_policy` approval of the intent that no policy change
/// has used yet.
async fn unconsumed_policy_change(tx: &mut WriteTx, intent_id: &str) -> StoreResult<Option<String>> {
    Ok(query_scalar(
        "SELECT id FROM approvals WHERE intent_id = $1 AND action = $2 AND status = 'approved' \
         AND consumed_at IS NULL ORDER BY seq LIMIT 1",
    )
    .bind(intent_id)
    .bind(POLICY_CHANGE_ACTION)
    .fetch_optional(&mut **tx)
    .await?)
}

fn approval_from_row(r: &Row) -> StoreResult<Approval> {
    let mut a = Approval::default();
    a.id = r.try_get("id")?;
    a.intent_id = r.try_get("intent_id")?;
    a.requested_by = r.try_get("requested_by")?;
    a.action = r.try_get("action")?;
    a.reason = r.try_get("reason")?;
    a.context = r.json("context")?;
    a.status = ApprovalStatus::from(r.try_get::<String, _>("status")?.as_str());
    a.created_at = r.try_get("created_at")?;
    a.decided_at = r.try_get("decided_at")?;
    a.decided_by = r.try_get("decided_by")?;
    a.decision_notes = r.try_get("decision_notes")?;
    Ok(a)
}

fn escalation_from_row(r: &Row) -> StoreResult<Escalation> {
    let mut e = Escalation::default();
    e.id = r.try_get("id")?;
    e.intent_id = r.try_get("intent_id")?;
    e.escalated_by = r.try_get("escalated_by")?;
    e.reason = r.try_get("reason")?;
    e.priority = EscalationPriority::from(r.try_get::<String, _>("priority")?.as_str());
    e.urgency = EscalationPriority::from(r.try_get::<String, _>("urgency")?.as_str());
    e.context = r.json("context")?;
    e.status = EscalationStatus::from(r.try_get::<String, _>("status")?.as_str());
    e.created_at = r.try_get("created_at")?;
    e.resolved_at = r.try_get("resolved_at")?;
    let non_empty = |v: Option<String>| v.filter(|s| !s.is_empty());
    e.resolved_by = non_empty(r.try_get("resolved_by")?);
    e.resolution = non_empty(r.try_get("resolution")?);
    e.resolution_notes = non_empty(r.try_get("resolution_notes")?);
    Ok(e)
}
