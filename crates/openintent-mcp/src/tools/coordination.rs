//! Leases, costs, attachments, retry policies and failures, webhook subscriptions, portfolios.

use openintent_types::schema::{Kind, RequestSchema};
use openintent_types::{
    AcquireLeaseRequest, AddIntentToPortfolioRequest, CreatePortfolioRequest, CreateSubscriptionRequest,
    RecordCostRequest, RecordFailureRequest, RenewLeaseRequest, SetRetryPolicyRequest, UpdatePortfolioStatusRequest,
};

use super::def::{INTENT_ID, Param, ToolDef, call};
use crate::tier::Tier::{Operator, Reader};

const LEASE_ID: Param = Param::req("lease_id", Kind::Str, "The lease's id (from acquire_lease or get_leases)");
const PORTFOLIO_ID: Param = Param::req("portfolio_id", Kind::Str, "The portfolio's id");

/// The tools of this module.
pub(crate) static TOOLS: &[ToolDef] = &[
    ToolDef {
        name: "acquire_lease",
        tier: Operator,
        description: "Take an exclusive lease on a scope of an intent (a name such as research or \
                      data-processing) before working on it, for duration_seconds (renew it to keep it). \
                      Another agent's lease on the scope is reported as lease_conflict with its holder and \
                      expiry.",
        params: &[INTENT_ID],
        fields: AcquireLeaseRequest::FIELDS,
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| {
            let mut b = c.acquire_lease(&a.str("intent_id")?, a.str("scope")?);
            if let Some(v) = a.opt_int("duration_seconds")? {
                b = b.duration_seconds(v);
            }
            Ok(b.await?)
        }),
    },
    ToolDef {
        name: "renew_lease",
        tier: Operator,
        description: "Extend a lease you hold by duration_seconds from now.",
        params: &[INTENT_ID, LEASE_ID],
        fields: RenewLeaseRequest::FIELDS,
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| {
            let mut b = c.renew_lease(&a.str("intent_id")?, &a.str("lease_id")?);
            if let Some(v) = a.opt_int("duration_seconds")? {
                b = b.duration_seconds(v);
            }
            Ok(b.await?)
        }),
    },
    ToolDef {
        name: "release_lease",
        tier: Operator,
        description: "Release a lease you hold, so that others may take the scope.",
        params: &[INTENT_ID, LEASE_ID],
        fields: &[],
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| Ok(c.release_lease(&a.str("intent_id")?, &a.str("lease_id")?).await?)),
    },
    ToolDef {
        name: "get_leases",
        tier: Reader,
        description: "List the active leases of an intent (who holds which scope until when); all = true \
                      also lists expired and released ones.",
        params: &[INTENT_ID, Param::opt("all", Kind::Bool, "Also list expired and released leases")],
        fields: &[],
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| {
            let mut b = c.get_leases(&a.str("intent_id")?);
            if a.opt_bool("all")? == Some(true) {
                b = b.all();
            }
            Ok(b.await?)
        }),
    },
    ToolDef {
        name: "record_cost",
        tier: Operator,
        description: "Record a cost spent on an intent (cost_type such as tokens or api_call, an amount and \
                      its unit); a governance max_cost may refuse it.",
        params: &[INTENT_ID],
        fields: RecordCostRequest::FIELDS,
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| {
            let mut b = c.record_cost(&a.str("intent_id")?, a.str("cost_type")?, a.num("amount")?, a.str("unit")?);
            if let Some(v) = a.opt_str("provider")? {
                b = b.provider(v);
            }
            if let Some(v) = a.opt_obj("cost_metadata")? {
                b = b.metadata(v);
            }
            if let Some(v) = a.opt_str("agent_id")? {
                b = b.agent_id(v);
            }
            Ok(b.await?)
        }),
    },
    ToolDef {
        name: "get_costs",
        tier: Reader,
        description: "List the costs recorded on an intent, with their totals.",
        params: &[INTENT_ID],
        fields: &[],
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| Ok(c.get_costs(&a.str("intent_id")?).await?)),
    },
    ToolDef {
        name: "get_cost_summary",
        tier: Reader,
        description: "Read the totals of an intent's costs, by type and by unit.",
        params: &[INTENT_ID],
        fields: &[],
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| Ok(c.get_cost_summary(&a.str("intent_id")?).await?)),
    },
    ToolDef {
        name: "add_attachment",
        tier: Operator,
        description: "Attach a file to an intent: its name, media type and content in base64.",
        params: &[
            INTENT_ID,
            Param::req("filename", Kind::Str, "The file name"),
            Param::req("content_type", Kind::Str, "The media type, such as text/plain"),
            Param::req("content_base64", Kind::Str, "The content, base64-encoded"),
            Param::opt("description", Kind::Str, "What the file is"),
        ],
        fields: &[],
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| {
            let mut b = c.add_attachment(
                &a.str("intent_id")?,
                a.str("filename")?,
                a.str("content_type")?,
                a.str("content_base64")?,
            );
            if let Some(v) = a.opt_str("description")? {
                b = b.description(v);
            }
            Ok(b.await?)
        }),
    },
    ToolDef {
        name: "get_attachments",
        tier: Reader,
        description: "List an intent's attachments.",
        params: &[INTENT_ID],
        fields: &[],
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| Ok(c.get_attachments(&a.str("intent_id")?).await?)),
    },
    ToolDef {
        name: "delete_attachment",
        tier: Operator,
        description: "Delete one of an intent's attachments.",
        params: &[INTENT_ID, Param::req("attachment_id", Kind::Str, "The attachment's id")],
        fields: &[],
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| Ok(c.delete_attachment(&a.str("intent_id")?, &a.str("attachment_id")?).await?)),
    },
    ToolDef {
        name: "set_retry_policy",
        tier: Operator,
        description: "Set how failed work on an intent is retried: a strategy (none, fixed, linear, \
                      exponential), retries, delays in milliseconds, and an optional fallback agent.",
        params: &[INTENT_ID],
        fields: SetRetryPolicyRequest::FIELDS,
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| {
            let request: SetRetryPolicyRequest = a.body(&["intent_id"])?;
            Ok(c.set_retry_policy_wire(&a.str("intent_id")?, request).await?)
        }),
    },
    ToolDef {
        name: "get_retry_policy",
        tier: Reader,
        description: "Read an intent's retry policy as {retry_policy: ...} (null when none is set).",
        params: &[INTENT_ID],
        fields: &[],
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| Ok(serde_json::json!({"retry_policy": c.get_retry_policy(&a.str("intent_id")?).await?}))),
    },
    ToolDef {
        name: "record_failure",
        tier: Operator,
        description: "Record a failed attempt at an intent's work (error type and message, attempt number), \
                      and whether it will be retried.",
        params: &[INTENT_ID],
        fields: RecordFailureRequest::FIELDS,
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| {
            let mut b = c.record_failure(&a.str("intent_id")?, a.str("error_type")?, a.str("error_message")?);
            b = b.attempt(a.int("attempt_number")?);
            if let Some(v) = a.opt_bool("will_retry")? {
                b = b.will_retry(v);
            }
            if let Some(v) = a.opt_time("retry_scheduled_at")? {
                b = b.retry_scheduled_at(v);
            }
            if let Some(v) = a.opt_str("agent_id")? {
                b = b.agent_id(v);
            }
            if let Some(v) = a.opt_obj("metadata")? {
                b = b.metadata(v);
            }
            Ok(b.await?)
        }),
    },
    ToolDef {
        name: "get_failures",
        tier: Reader,
        description: "List the failures recorded on an intent.",
        params: &[INTENT_ID],
        fields: &[],
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| Ok(c.get_failures(&a.str("intent_id")?).await?)),
    },
    ToolDef {
        name: "subscribe",
        tier: Operator,
        description: "Register a webhook: the server POSTs an intent's (or, with portfolio_id instead, a \
                      portfolio's) events of the listed types to webhook_url. To follow changes inside this \
                      MCP session, subscribe to the intent's resource instead.",
        params: &[],
        fields: CreateSubscriptionRequest::FIELDS,
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| {
            let mut b = match (a.opt_str("intent_id")?, a.opt_str("portfolio_id")?) {
                (Some(id), None) => c.subscribe(&id),
                (None, Some(id)) => c.subscribe_portfolio(&id),
                _ => {
                    return Err(crate::errors::ToolError::arg("intent_id", "give intent_id or portfolio_id, not both"));
                }
            };
            if let Some(v) = a.opt_str("subscriber_id")? {
                b = b.subscriber_id(v);
            }
            if let Some(v) = a.opt_str("webhook_url")? {
                b = b.webhook_url(v);
            }
            if let Some(v) = a.opt_strs("event_types")? {
                b = b.event_types(v);
            }
            if let Some(v) = a.opt_time("expires_at")? {
                b = b.expires_at(v);
            }
            Ok(b.await?)
        }),
    },
    ToolDef {
        name: "get_subscriptions",
        tier: Reader,
        description: "List the webhook subscriptions of an intent.",
        params: &[INTENT_ID],
        fields: &[],
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| Ok(c.get_subscriptions(&a.str("intent_id")?).await?)),
    },
    ToolDef {
        name: "unsubscribe",
        tier: Operator,
        description: "Delete a webhook subscription.",
        params: &[INTENT_ID, Param::req("subscription_id", Kind::Str, "The subscription's id")],
        fields: &[],
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| Ok(c.unsubscribe(&a.str("intent_id")?, &a.str("subscription_id")?).await?)),
    },
    ToolDef {
        name: "create_portfolio",
        tier: Operator,
        description: "Create a portfolio: a named group of related intents, tracked together.",
        params: &[],
        fields: CreatePortfolioRequest::FIELDS,
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| {
            let mut b = c.create_portfolio(a.str("name")?);
            if let Some(v) = a.opt_str("description")? {
                b = b.description(v);
            }
            if let Some(v) = a.opt_obj("governance_policy")? {
                b = b.governance_policy(v);
            }
            if let Some(v) = a.opt_obj("metadata")? {
                b = b.metadata(v);
            }
            if let Some(v) = a.opt_str("created_by")? {
                b = b.created_by(v);
            }
            Ok(b.await?)
        }),
    },
    ToolDef {
        name: "get_portfolio",
        tier: Reader,
        description: "Read a portfolio, with its intents and their aggregate status.",
        params: &[PORTFOLIO_ID],
        fields: &[],
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| Ok(c.get_portfolio(&a.str("portfolio_id")?).await?)),
    },
    ToolDef {
        name: "list_portfolios",
        tier: Reader,
        description: "List portfolios, optionally only those created by one agent.",
        params: &[Param::opt("created_by", Kind::Str, "Only portfolios created by this agent")],
        fields: &[],
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| {
            let mut b = c.list_portfolios();
            if let Some(v) = a.opt_str("created_by")? {
                b = b.created_by(v);
            }
            Ok(b.await?)
        }),
    },
    ToolDef {
        name: "update_portfolio_status",
        tier: Operator,
        description: "Change a portfolio's status (active, completed, ...).",
        params: &[PORTFOLIO_ID],
        fields: UpdatePortfolioStatusRequest::FIELDS,
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| Ok(c.update_portfolio_status(&a.str("portfolio_id")?, a.str("status")?).await?)),
    },
    ToolDef {
        name: "add_intent_to_portfolio",
        tier: Operator,
        description: "Add an intent to a portfolio, with an optional role and priority.",
        params: &[PORTFOLIO_ID],
        fields: AddIntentToPortfolioRequest::FIELDS,
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| {
            let mut b = c.add_intent_to_portfolio(&a.str("portfolio_id")?, a.str("intent_id")?);
            if let Some(v) = a.opt_str("role")? {
                b = b.role(v);
            }
            if let Some(v) = a.opt_int("priority")? {
                b = b.priority(v);
            }
            Ok(b.await?)
        }),
    },
    ToolDef {
        name: "remove_intent_from_portfolio",
        tier: Operator,
        description: "Remove an intent from a portfolio.",
        params: &[PORTFOLIO_ID, INTENT_ID],
        fields: &[],
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| Ok(c.remove_intent_from_portfolio(&a.str("portfolio_id")?, &a.str("intent_id")?).await?)),
    },
    ToolDef {
        name: "get_portfolio_intents",
        tier: Reader,
        description: "List the intents of a portfolio.",
        params: &[PORTFOLIO_ID],
        fields: &[],
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| Ok(c.get_portfolio_intents(&a.str("portfolio_id")?).await?)),
    },
    ToolDef {
        name: "get_intent_portfolios",
        tier: Reader,
        description: "List the portfolios an intent belongs to.",
        params: &[INTENT_ID],
        fields: &[],
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| Ok(c.get_intent_portfolios(&a.str("intent_id")?).await?)),
    },
];
