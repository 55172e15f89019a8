//! Governance policies and approvals, escalations to humans, arbitration, access control.

use openintent_types::schema::{Kind, RequestSchema};
use openintent_types::{
    AccessPolicy, ArbitrationOption, CreateAccessRequest, CreateApprovalRequest, CreateArbitrationRequest,
    CreateCoordinatorLeaseRequest, CreateDecisionRecordRequest, CreateEscalationRequest, DecideAccessRequest,
    EscalationStatus, GovernancePolicy, GrantAccessRequest, Permission, PrincipalType, RecordDecisionRequest,
    ResolveEscalationRequest, SetAclRequest,
};

use super::def::{INTENT_ID, Param, ToolDef, VERSION, call};
use crate::tier::Tier::{Admin, Operator, Reader};

const APPROVAL_ID: Param = Param::req("approval_id", Kind::Str, "The approval request's id");
const ACCESS_REQUEST_ID: Param = Param::req("request_id", Kind::Str, "The access request's id");

/// The tools of this module.
pub(crate) static TOOLS: &[ToolDef] = &[
    ToolDef {
        name: "get_governance_policy",
        tier: Reader,
        description: "Read an intent's governance policy (who may write, completion mode, quorum, cost cap) \
                      and the policy it inherits from its portfolios.",
        params: &[INTENT_ID],
        fields: &[],
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| Ok(c.get_governance_policy(&a.str("intent_id")?).await?)),
    },
    ToolDef {
        name: "set_governance_policy",
        tier: Admin,
        description: "Set an intent's governance policy, checked against its version: completion_mode \
                      (auto, require_approval, quorum), quorum_threshold, write_scope, \
                      allowed_agents, max_cost.",
        params: &[INTENT_ID, VERSION],
        fields: GovernancePolicy::FIELDS,
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| {
            let policy: GovernancePolicy = a.body(&["intent_id", "version"])?;
            Ok(c.set_governance_policy(&a.str("intent_id")?, a.int("version")?, &policy).await?)
        }),
    },
    ToolDef {
        name: "remove_governance_policy",
        tier: Admin,
        description: "Remove an intent's governance policy, checked against its version.",
        params: &[INTENT_ID, VERSION],
        fields: &[],
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| Ok(c.remove_governance_policy(&a.str("intent_id")?, a.int("version")?).await?)),
    },
    ToolDef {
        name: "request_approval",
        tier: Operator,
        description: "Ask for approval of an action on an intent (such as complete or spend); poll \
                      get_approval_status until it is approved or denied.",
        params: &[INTENT_ID],
        fields: CreateApprovalRequest::FIELDS,
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| {
            let mut b = c.request_approval(&a.str("intent_id")?, a.str("action")?);
            if let Some(v) = a.opt_str("reason")? {
                b = b.reason(v);
            }
            if let Some(v) = a.opt_obj("context")? {
                b = b.context(v);
            }
            if let Some(v) = a.opt_str("requested_by")? {
                b = b.requested_by(v);
            }
            Ok(b.await?)
        }),
    },
    ToolDef {
        name: "get_approval_status",
        tier: Reader,
        description: "Read an approval request: pending, approved or denied, and by whom.",
        params: &[INTENT_ID, APPROVAL_ID],
        fields: &[],
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| Ok(c.get_approval_status(&a.str("intent_id")?, &a.str("approval_id")?).await?)),
    },
    ToolDef {
        name: "list_approvals",
        tier: Reader,
        description: "List an intent's approval requests.",
        params: &[INTENT_ID],
        fields: &[],
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| Ok(c.list_approvals(&a.str("intent_id")?).await?)),
    },
    ToolDef {
        name: "approve_approval",
        tier: Admin,
        description: "Approve a pending approval request (as the agent this server acts as).",
        params: &[INTENT_ID, APPROVAL_ID],
        fields: &[],
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| Ok(c.approve_approval(&a.str("intent_id")?, &a.str("approval_id")?).await?)),
    },
    ToolDef {
        name: "deny_approval",
        tier: Admin,
        description: "Deny a pending approval request.",
        params: &[INTENT_ID, APPROVAL_ID],
        fields: &[],
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| Ok(c.deny_approval(&a.str("intent_id")?, &a.str("approval_id")?).await?)),
    },
    ToolDef {
        name: "escalate_to_human",
        tier: Operator,
        description: "Escalate an intent to a human with a reason and a priority (low, normal, high, urgent); \
                      a human resolves it with resolve_escalation.",
        params: &[INTENT_ID],
        fields: CreateEscalationRequest::FIELDS,
        omit: &["escalated_by"],
        defaulted: &[],
        call: call!(|c, a| {
            let mut b = c.escalate_to_human(&a.str("intent_id")?, a.str("reason")?);
            if let Some(v) = a.opt_str("priority")? {
                b = b.priority(v);
            }
            if let Some(v) = a.opt_str("urgency")? {
                b = b.urgency(v);
            }
            if let Some(v) = a.opt_obj("context")? {
                b = b.context(v);
            }
            Ok(b.await?)
        }),
    },
    ToolDef {
        name: "get_inbox",
        tier: Reader,
        description: "Everything waiting for a human, oldest first, across the intents you may read: pending \
                      approval requests (answer with approve_approval or deny_approval), arbitration requests \
                      with no decision yet (record_decision), intents suspended awaiting input \
                      (respond_to_suspension; the item holds the question and choices) and pending escalations \
                      (resolve_escalation). Each item gives kind (approval, arbitration, input, escalation), \
                      intent_id, intent_title, intent_status, created_at and the request itself under item.",
        params: &[],
        fields: &[],
        omit: &[],
        defaulted: &[],
        call: call!(|c, _a| Ok(c.inbox().await?)),
    },
    ToolDef {
        name: "list_escalations",
        tier: Reader,
        description: "List escalations, optionally of one intent and/or with one status (pending, resolved).",
        params: &[
            Param::opt("intent_id", Kind::Str, "Only the escalations of this intent"),
            Param::opt("status", Kind::Str, "Only escalations with this status (pending, resolved, ...)"),
        ],
        fields: &[],
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| {
            let status: Option<EscalationStatus> = a.opt("status")?;
            Ok(c.list_escalations(a.opt_str("intent_id")?.as_deref(), status).await?)
        }),
    },
    ToolDef {
        name: "get_escalation",
        tier: Reader,
        description: "Read one escalation by id: its intent, reason, priority, status and resolution.",
        params: &[Param::req("escalation_id", Kind::Str, "The escalation's id")],
        fields: &[],
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| Ok(c.get_escalation(&a.str("escalation_id")?).await?)),
    },
    ToolDef {
        name: "resolve_escalation",
        tier: Admin,
        description: "Resolve an escalation with a resolution (such as approved or rejected) and notes.",
        params: &[Param::req("escalation_id", Kind::Str, "The escalation's id")],
        fields: ResolveEscalationRequest::FIELDS,
        omit: &["resolved_by"],
        defaulted: &[],
        call: call!(|c, a| {
            let mut b = c.resolve_escalation(&a.str("escalation_id")?, a.str("resolution")?);
            if let Some(v) = a.opt_str("notes")? {
                b = b.notes(v);
            }
            Ok(b.await?)
        }),
    },
    ToolDef {
        name: "create_coordinator_lease",
        tier: Operator,
        description: "Grant a coordinator lease (RFC-0013): agent_id (default: the agent this server acts as) \
                      coordinates intent_id or portfolio_id under guardrails, a supervisor and a heartbeat \
                      interval; keep it alive with coordinator_heartbeat.",
        params: &[],
        fields: CreateCoordinatorLeaseRequest::FIELDS,
        omit: &[],
        defaulted: &["agent_id"],
        call: call!(|c, a| {
            let mut req = CreateCoordinatorLeaseRequest::default();
            req.agent_id = a.opt_str("agent_id")?.unwrap_or_else(|| c.agent_id().to_owned());
            req.intent_id = a.opt_str("intent_id")?;
            req.portfolio_id = a.opt_str("portfolio_id")?;
            req.role = a.opt_str("role")?;
            req.supervisor_id = a.opt_str("supervisor_id")?;
            req.coordinator_type = a.opt_str("coordinator_type")?;
            req.scope = a.opt_str("scope")?;
            req.guardrails = a.opt("guardrails")?;
            req.heartbeat_interval_seconds = a.opt_int("heartbeat_interval_seconds")?;
            req.expires_at = a.opt_time("expires_at")?;
            req.metadata = a.opt("metadata")?;
            Ok(c.create_coordinator_lease(&req).await?)
        }),
    },
    ToolDef {
        name: "get_coordinator_lease",
        tier: Reader,
        description: "Read one coordinator lease by id: its agent, intent or portfolio, guardrails, status and \
                      last heartbeat.",
        params: &[Param::req("lease_id", Kind::Str, "The coordinator lease's id")],
        fields: &[],
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| Ok(c.get_coordinator_lease(&a.str("lease_id")?).await?)),
    },
    ToolDef {
        name: "list_coordinator_leases",
        tier: Reader,
        description: "List the coordinator leases of an intent, oldest first: who coordinates it and when each \
                      last sent a heartbeat.",
        params: &[INTENT_ID],
        fields: &[],
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| Ok(c.list_coordinator_leases(&a.str("intent_id")?).await?)),
    },
    ToolDef {
        name: "coordinator_heartbeat",
        tier: Operator,
        description: "Send a heartbeat for a coordinator lease the agent holds; the answer says when the next \
                      one is due (next_heartbeat_at).",
        params: &[Param::req("lease_id", Kind::Str, "The coordinator lease's id")],
        fields: &[],
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| Ok(c.coordinator_heartbeat(&a.str("lease_id")?).await?)),
    },
    ToolDef {
        name: "create_decision_record",
        tier: Operator,
        description: "Record a coordinator's decision (RFC-0013) on an intent under a coordinator lease the agent \
                      holds (coordinator_id; the lease's intent or a member of its portfolio): decision_type \
                      (plan_created, task_assigned, failure_handled, ...), summary, rationale, the \
                      alternatives_considered (objects) and a confidence from 0 to 1.",
        params: &[],
        fields: CreateDecisionRecordRequest::FIELDS,
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| {
            let mut req = CreateDecisionRecordRequest::new(
                a.str("coordinator_id")?,
                a.str("intent_id")?,
                a.str("decision_type")?,
                a.str("summary")?,
                a.str("rationale")?,
            );
            req.alternatives_considered = a.opt("alternatives_considered")?;
            req.confidence = a.opt_num("confidence")?;
            Ok(c.create_decision_record(&req).await?)
        }),
    },
    ToolDef {
        name: "list_decision_records",
        tier: Reader,
        description: "List the decisions coordinators recorded on an intent, newest first: type, summary, \
                      rationale, the alternatives weighed and the confidence.",
        params: &[INTENT_ID, Param::opt("limit", Kind::Int, "At most this many records (the server's default: 50)")],
        fields: &[],
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| Ok(c.list_decision_records(&a.str("intent_id")?, a.opt_u32("limit")?).await?)),
    },
    ToolDef {
        name: "request_arbitration",
        tier: Operator,
        description: "Ask for arbitration of a disagreement on an intent, with a reason and the options \
                      ({label, rationale?}) to choose from.",
        params: &[INTENT_ID],
        fields: CreateArbitrationRequest::FIELDS,
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| {
            let mut b = c.request_arbitration(&a.str("intent_id")?, a.str("reason")?);
            if let Some(v) = a.opt_obj("context")? {
                b = b.context(v);
            }
            if let Some(v) = a.opt::<Vec<ArbitrationOption>>("options")? {
                b = b.options(v);
            }
            if let Some(v) = a.opt_str("requested_by")? {
                b = b.requested_by(v);
            }
            Ok(b.await?)
        }),
    },
    ToolDef {
        name: "record_decision",
        tier: Operator,
        description: "Record a decision on an intent (its outcome, rationale and evidence): the audit trail \
                      of why something was chosen.",
        params: &[INTENT_ID],
        fields: RecordDecisionRequest::FIELDS,
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| {
            let mut b = c.record_decision(&a.str("intent_id")?, a.str("outcome")?);
            if let Some(v) = a.opt_str("rationale")? {
                b = b.rationale(v);
            }
            if let Some(v) = a.opt_str("decision_type")? {
                b = b.decision_type(v);
            }
            if let Some(v) = a.opt_str("decided_by")? {
                b = b.decided_by(v);
            }
            if let Some(v) = a.opt::<Vec<serde_json::Value>>("evidence")? {
                b = b.evidence(v);
            }
            Ok(b.await?)
        }),
    },
    ToolDef {
        name: "get_decisions",
        tier: Reader,
        description: "List the decisions recorded on an intent.",
        params: &[INTENT_ID],
        fields: &[],
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| Ok(c.get_decisions(&a.str("intent_id")?).await?)),
    },
    ToolDef {
        name: "get_acl",
        tier: Reader,
        description: "Read an intent's access control list: its default policy (open or closed) and who has \
                      which permission (read, write, admin).",
        params: &[INTENT_ID],
        fields: &[],
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| Ok(c.get_acl(&a.str("intent_id")?).await?)),
    },
    ToolDef {
        name: "set_acl",
        tier: Admin,
        description: "Replace an intent's access control list: default_policy and entries \
                      ({principal_id, permission, ...}).",
        params: &[INTENT_ID],
        fields: SetAclRequest::FIELDS,
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| {
            let mut b = c.set_acl(&a.str("intent_id")?);
            if let Some(v) = a.opt::<AccessPolicy>("default_policy")? {
                b = b.default_policy(v);
            }
            if let Some(v) = a.opt::<Vec<GrantAccessRequest>>("entries")? {
                b = b.entries(v);
            }
            Ok(b.await?)
        }),
    },
    ToolDef {
        name: "grant_access",
        tier: Admin,
        description: "Grant a principal (an agent or a user) a permission (read, write, admin) on an intent.",
        params: &[INTENT_ID],
        fields: GrantAccessRequest::FIELDS,
        omit: &["granted_by"],
        defaulted: &[],
        call: call!(|c, a| {
            let mut b = c.grant_access(&a.str("intent_id")?, a.str("principal_id")?);
            if let Some(v) = a.opt::<Permission>("permission")? {
                b = b.permission(v);
            }
            if let Some(v) = a.opt::<PrincipalType>("principal_type")? {
                b = b.principal_type(v);
            }
            if let Some(v) = a.opt_str("reason")? {
                b = b.reason(v);
            }
            if let Some(v) = a.opt_time("expires_at")? {
                b = b.expires_at(v);
            }
            Ok(b.await?)
        }),
    },
    ToolDef {
        name: "revoke_access",
        tier: Admin,
        description: "Revoke an entry of an intent's access control list.",
        params: &[INTENT_ID, Param::req("entry_id", Kind::Str, "The ACL entry's id (from get_acl)")],
        fields: &[],
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| Ok(c.revoke_access(&a.str("intent_id")?, &a.str("entry_id")?).await?)),
    },
    ToolDef {
        name: "request_access",
        tier: Operator,
        description: "Ask for a permission on an intent (for this agent or another principal); an admin \
                      approves or denies it.",
        params: &[INTENT_ID],
        fields: CreateAccessRequest::FIELDS,
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| {
            let mut b = c.request_access(&a.str("intent_id")?, a.str("principal_id")?);
            if let Some(v) = a.opt::<Permission>("requested_permission")? {
                b = b.permission(v);
            }
            if let Some(v) = a.opt::<PrincipalType>("principal_type")? {
                b = b.principal_type(v);
            }
            if let Some(v) = a.opt_str("reason")? {
                b = b.reason(v);
            }
            if let Some(v) = a.opt_strs("capabilities")? {
                b = b.capabilities(v);
            }
            Ok(b.await?)
        }),
    },
    ToolDef {
        name: "list_access_requests",
        tier: Reader,
        description: "List the access requests of an intent.",
        params: &[INTENT_ID],
        fields: &[],
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| Ok(c.list_access_requests(&a.str("intent_id")?).await?)),
    },
    ToolDef {
        name: "approve_access_request",
        tier: Admin,
        description: "Approve an access request, optionally with another permission or an expiry.",
        params: &[INTENT_ID, ACCESS_REQUEST_ID],
        fields: DecideAccessRequest::FIELDS,
        omit: &["decided_by"],
        defaulted: &[],
        call: call!(|c, a| {
            let mut b = c.approve_access_request(&a.str("intent_id")?, &a.str("request_id")?);
            if let Some(v) = a.opt::<Permission>("permission")? {
                b = b.permission(v);
            }
            if let Some(v) = a.opt_time("expires_at")? {
                b = b.expires_at(v);
            }
            if let Some(v) = a.opt_str("reason")? {
                b = b.reason(v);
            }
            Ok(b.await?)
        }),
    },
    ToolDef {
        name: "deny_access_request",
        tier: Admin,
        description: "Deny an access request, with an optional reason.",
        params: &[INTENT_ID, ACCESS_REQUEST_ID, Param::opt("reason", Kind::Str, "Why")],
        fields: &[],
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| {
            let mut b = c.deny_access_request(&a.str("intent_id")?, &a.str("request_id")?);
            if let Some(v) = a.opt_str("reason")? {
                b = b.reason(v);
            }
            Ok(b.await?)
        }),
    },
];
