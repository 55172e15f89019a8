//! Governance (RFC-0013, the governance guide): policies, approvals and escalations.
//!
//! | 0.17 SDK | Rust | Wire |
//! |---|---|---|
//! | `set_governance_policy(id, version, policy)` | [`Client::set_governance_policy`] | `PUT …/governance` (`If-Match`) |
//! | `get_governance_policy(id)` | [`Client::get_governance_policy`] | `GET …/governance` |
//! | `remove_governance_policy(id, version)` | [`Client::remove_governance_policy`] | `DELETE …/governance` (`If-Match`) |
//! | `request_approval(id, action, reason, context)` | [`Client::request_approval`] | `POST …/approvals` (`requested_by` = agent id) |
//! | `get_approval_status(id, approval_id)` | [`Client::get_approval_status`] | `GET …/approvals/{aid}` |
//! | — | [`Client::list_approvals`] | `GET …/approvals` (not on the reference: [`unsupported`](crate::Error::is_unsupported)) |
//! | `approve_approval(id, approval_id)` / `deny_approval` | [`Client::approve_approval`] / [`Client::deny_approval`] | `POST …/approvals/{aid}/approve` / `deny` |
//! | `escalate_to_human(id, reason, priority, context)` | [`Client::escalate_to_human`] | `POST …/escalations` (`escalated_by` = agent id) |
//! | `list_escalations(intent_id=, status=)` | [`Client::list_escalations`] | `GET /api/v1/escalations` |
//! | — | [`Client::get_escalation`] | `GET /api/v1/escalations/{eid}` (not on the reference: [`unsupported`](crate::Error::is_unsupported)) |
//! | `resolve_escalation(id, resolution, notes)` | [`Client::resolve_escalation`] | `POST /api/v1/escalations/{eid}/resolve` (`resolved_by` = agent id) |
//!
//! A refusal by the intent's policy is a 403 whose [`rule`](crate::ApiError::rule) names the
//! rule (`completion_mode`, `self_approval`, `policy_change`, ...).

use openintent_transport::Request;
use openintent_types::{
    Approval, CreateApprovalRequest, CreateEscalationRequest, Escalation, EscalationPriority, EscalationStatus,
    GovernancePolicy, Intent, IntentGovernance, ResolveEscalationRequest,
};
use serde_json::Value;

use crate::client::{Client, GenericClient, intent_path, object, seg};
use crate::error::Result;
use crate::mode::{Async, Mode, impl_send};

impl<M: Mode> GenericClient<M> {
    /// Replaces the intent's governance policy (`PUT …/governance`, `If-Match: version`).
    ///
    /// ```no_run
    /// use openintent_client::types::{CompletionMode, GovernancePolicy};
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let mut policy = GovernancePolicy::default();
    /// policy.completion_mode = Some(CompletionMode::RequireApproval);
    /// let intent = client.set_governance_policy("7f1c…", 3, &policy).await?;
    /// # Ok(()) }
    /// ```
    pub fn set_governance_policy(&self, intent_id: &str, version: i64, policy: &GovernancePolicy) -> M::Call<Intent> {
        let path = intent_path(intent_id, "/governance");
        let policy = policy.clone();
        self.call(move |c| async move {
            let request = Request::put(path?).header("If-Match", version.to_string());
            c.json(Client::with_body(request, &policy)?).await
        })
    }

    /// The intent's policy as stored and with its defaults filled in (`GET …/governance`).
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let g = client.get_governance_policy("7f1c…").await?;
    /// println!("{:?}", g.effective_policy.completion_mode);
    /// # Ok(()) }
    /// ```
    pub fn get_governance_policy(&self, intent_id: &str) -> M::Call<IntentGovernance> {
        let path = intent_path(intent_id, "/governance");
        self.call(|c| async move { c.json(Request::get(path?)).await })
    }

    /// Removes the intent's policy (`DELETE …/governance`, `If-Match: version`). A policy that
    /// gates completion is only removed after an approval for `change_governance_policy`
    /// (this server; the reference does not guard it).
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let intent = client.remove_governance_policy("7f1c…", 4).await?;
    /// # Ok(()) }
    /// ```
    pub fn remove_governance_policy(&self, intent_id: &str, version: i64) -> M::Call<Intent> {
        let path = intent_path(intent_id, "/governance");
        self.call(move |c| async move { c.json(Request::delete(path?).header("If-Match", version.to_string())).await })
    }

    /// Requests an approval for `action` (`POST …/approvals`); `complete` approvals open the
    /// `require_approval` and `quorum` completion gates.
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let approval = client
    ///     .request_approval("7f1c…", "complete")
    ///     .reason("Deployment verified")
    ///     .context(serde_json::json!({"build": "1234"}))
    ///     .send()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn request_approval(&self, intent_id: &str, action: impl Into<String>) -> RequestApproval<M> {
        RequestApproval {
            client: self.clone(),
            intent_id: intent_id.to_owned(),
            req: CreateApprovalRequest::new(action),
            context: None,
        }
    }

    /// One approval (`GET …/approvals/{aid}`).
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let a = client.get_approval_status("7f1c…", "16288d1d…").await?;
    /// println!("{}", a.status);
    /// # Ok(()) }
    /// ```
    pub fn get_approval_status(&self, intent_id: &str, approval_id: &str) -> M::Call<Approval> {
        let path = approval_path(intent_id, approval_id, "");
        self.call(|c| async move { c.json(Request::get(path?)).await })
    }

    /// The intent's approvals, oldest first (`GET …/approvals`).
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let pending = client.list_approvals("7f1c…").await?.into_iter().filter(|a| !a.is_decided()).count();
    /// # Ok(()) }
    /// ```
    pub fn list_approvals(&self, intent_id: &str) -> M::Call<Vec<Approval>> {
        let path = intent_path(intent_id, "/approvals");
        self.call(|c| async move { Ok(c.list(Request::get(path?)).await?.items) })
    }

    /// Approves a pending request as this client (`POST …/approvals/{aid}/approve`).
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let a = client.approve_approval("7f1c…", "16288d1d…").await?;
    /// # Ok(()) }
    /// ```
    pub fn approve_approval(&self, intent_id: &str, approval_id: &str) -> M::Call<Approval> {
        let path = approval_path(intent_id, approval_id, "/approve");
        self.call(|c| async move { c.json(Request::post(path?)).await })
    }

    /// Denies a pending request as this client (`POST …/approvals/{aid}/deny`).
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let a = client.deny_approval("7f1c…", "16288d1d…").await?;
    /// # Ok(()) }
    /// ```
    pub fn deny_approval(&self, intent_id: &str, approval_id: &str) -> M::Call<Approval> {
        let path = approval_path(intent_id, approval_id, "/deny");
        self.call(|c| async move { c.json(Request::post(path?)).await })
    }

    /// Escalates the intent to a human (`POST …/escalations`).
    ///
    /// ```no_run
    /// use openintent_client::types::EscalationPriority;
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let e = client.escalate_to_human("7f1c…", "Budget overrun").priority(EscalationPriority::High).send().await?;
    /// # Ok(()) }
    /// ```
    pub fn escalate_to_human(&self, intent_id: &str, reason: impl Into<String>) -> EscalateToHuman<M> {
        EscalateToHuman {
            client: self.clone(),
            intent_id: intent_id.to_owned(),
            req: CreateEscalationRequest::new(reason),
            context: None,
        }
    }

    /// Escalations, newest first (`GET /api/v1/escalations`), optionally of one intent and of
    /// one status.
    ///
    /// ```no_run
    /// use openintent_client::types::EscalationStatus;
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let open = client.list_escalations(Some("7f1c…"), Some(EscalationStatus::Pending)).await?;
    /// # Ok(()) }
    /// ```
    pub fn list_escalations(
        &self,
        intent_id: Option<&str>,
        status: Option<EscalationStatus>,
    ) -> M::Call<Vec<Escalation>> {
        let mut request = Request::get("/api/v1/escalations");
        if let Some(id) = intent_id {
            request = request.query("intent_id", id);
        }
        if let Some(s) = status {
            request = request.query("status", s.as_str());
        }
        self.call(|c| async move { Ok(c.list(request).await?.items) })
    }

    /// One escalation (`GET /api/v1/escalations/{eid}`); an unknown id is a 404
    /// ([`is_not_found`](crate::Error::is_not_found)). The reference server lacks this route
    /// ([`unsupported`](crate::Error::is_unsupported)); [`Client::list_escalations`] works there.
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let e = client.get_escalation("ddbfe8a3…").await?;
    /// println!("{}: {}", e.status, e.reason);
    /// # Ok(()) }
    /// ```
    pub fn get_escalation(&self, escalation_id: &str) -> M::Call<Escalation> {
        let path = seg("escalation_id", escalation_id).map(|eid| format!("/api/v1/escalations/{eid}"));
        self.call(|c| async move { c.json(Request::get(path?)).await })
    }

    /// Resolves an escalation (`POST /api/v1/escalations/{eid}/resolve`).
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let e = client.resolve_escalation("ddbfe8a3…", "approved").notes("Budget raised").send().await?;
    /// # Ok(()) }
    /// ```
    pub fn resolve_escalation(&self, escalation_id: &str, resolution: impl Into<String>) -> ResolveEscalation<M> {
        ResolveEscalation {
            client: self.clone(),
            escalation_id: escalation_id.to_owned(),
            req: ResolveEscalationRequest::new(resolution),
        }
    }
}

fn approval_path(intent_id: &str, approval_id: &str, suffix: &str) -> Result<String> {
    intent_path(intent_id, &format!("/approvals/{}{suffix}", seg("approval_id", approval_id)?))
}

/// Builder of [`Client::request_approval`].
#[must_use = "a builder does nothing until .send() is awaited"]
#[derive(Debug)]
pub struct RequestApproval<M: Mode = Async> {
    client: GenericClient<M>,
    intent_id: String,
    req: CreateApprovalRequest,
    context: Option<Value>,
}

impl<M: Mode> RequestApproval<M> {
    /// Why.
    ///
    /// Example: [`Client::request_approval`].
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.req.reason = Some(reason.into());
        self
    }

    /// Context for the approver (a JSON object).
    ///
    /// Example: [`Client::request_approval`].
    pub fn context(mut self, context: impl Into<Value>) -> Self {
        self.context = Some(context.into());
        self
    }

    /// Who asks (default: the agent id).
    ///
    /// Example: [`Client::request_approval`].
    pub fn requested_by(mut self, who: impl Into<String>) -> Self {
        self.req.requested_by = Some(who.into());
        self
    }

    async fn run(self) -> Result<Approval> {
        let mut req = self.req;
        if let Some(c) = self.context {
            req.context = Some(object("context", c)?);
        }
        if req.requested_by.is_none() {
            req.requested_by = Some(self.client.agent_id().to_owned());
        }
        let request = Client::with_body(Request::post(intent_path(&self.intent_id, "/approvals")?), &req)?;
        self.client.json(request).await
    }
}
impl_send!(RequestApproval, Approval, "request_approval");

/// Builder of [`Client::escalate_to_human`].
#[must_use = "a builder does nothing until .send() is awaited"]
#[derive(Debug)]
pub struct EscalateToHuman<M: Mode = Async> {
    client: GenericClient<M>,
    intent_id: String,
    req: CreateEscalationRequest,
    context: Option<Value>,
}

impl<M: Mode> EscalateToHuman<M> {
    /// Priority (servers default to `medium`).
    ///
    /// Example: [`Client::escalate_to_human`].
    pub fn priority(mut self, priority: impl Into<EscalationPriority>) -> Self {
        self.req.priority = Some(priority.into());
        self
    }

    /// Urgency (servers default to `medium`).
    ///
    /// Example: [`Client::escalate_to_human`].
    pub fn urgency(mut self, urgency: impl Into<EscalationPriority>) -> Self {
        self.req.urgency = Some(urgency.into());
        self
    }

    /// Context for the human (a JSON object).
    ///
    /// Example: [`Client::escalate_to_human`].
    pub fn context(mut self, context: impl Into<Value>) -> Self {
        self.context = Some(context.into());
        self
    }

    async fn run(self) -> Result<Escalation> {
        let mut req = self.req;
        if let Some(c) = self.context {
            req.context = Some(object("context", c)?);
        }
        if req.escalated_by.is_none() {
            req.escalated_by = Some(self.client.agent_id().to_owned());
        }
        let request = Client::with_body(Request::post(intent_path(&self.intent_id, "/escalations")?), &req)?;
        self.client.json(request).await
    }
}
impl_send!(EscalateToHuman, Escalation, "escalate_to_human");

/// Builder of [`Client::resolve_escalation`].
#[must_use = "a builder does nothing until .send() is awaited"]
#[derive(Debug)]
pub struct ResolveEscalation<M: Mode = Async> {
    client: GenericClient<M>,
    escalation_id: String,
    req: ResolveEscalationRequest,
}

impl<M: Mode> ResolveEscalation<M> {
    /// Notes on the resolution.
    ///
    /// Example: [`Client::resolve_escalation`].
    pub fn notes(mut self, notes: impl Into<String>) -> Self {
        self.req.notes = Some(notes.into());
        self
    }

    async fn run(self) -> Result<Escalation> {
        let mut req = self.req;
        if req.resolved_by.is_none() {
            req.resolved_by = Some(self.client.agent_id().to_owned());
        }
        let path = format!("/api/v1/escalations/{}/resolve", seg("escalation_id", &self.escalation_id)?);
        self.client.json(Client::with_body(Request::post(path), &req)?).await
    }
}
impl_send!(ResolveEscalation, Escalation, "resolve_escalation");
