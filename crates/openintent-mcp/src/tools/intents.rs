//! Intents, their event logs, the intent graph and human-in-the-loop suspensions.

use openintent_types::schema::{Kind, RequestSchema};
use openintent_types::{
    AddDependencyRequest, AssignAgentRequest, CreateChildIntentRequest, CreateIntentRequest, LogEventRequest,
    RespondToSuspensionRequest, SetStatusRequest, StatePatch, SuspendRequest, SuspensionChoice, UpdateStateRequest,
};

use super::def::{INTENT_ID, Param, ToolDef, VERSION, call};
use crate::tier::Tier::{Operator, Reader};

const LIST_PARAMS: &[Param] = &[
    Param::opt("status", Kind::Str, "Only intents with this status (draft, active, blocked, completed, ...)"),
    Param::opt("created_by", Kind::Str, "Only intents created by this agent"),
    Param::opt("parent_id", Kind::Str, "Only the children of this intent"),
    Param::opt("limit", Kind::Int, "Page size (the server's default when absent)"),
    Param::opt("offset", Kind::Int, "How many to skip, for the next page"),
];

const GRAPH_PARAMS: &[Param] = &[INTENT_ID];

macro_rules! graph_read {
    ($name:literal, $method:ident, $description:literal) => {
        ToolDef {
            name: $name,
            tier: Reader,
            description: $description,
            params: GRAPH_PARAMS,
            fields: &[],
            omit: &[],
            defaulted: &[],
            call: call!(|c, a| Ok(c.$method(&a.str("intent_id")?).await?)),
        }
    };
}

/// The tools of this module.
pub(crate) static TOOLS: &[ToolDef] = &[
    ToolDef {
        name: "create_intent",
        tier: Operator,
        description: "Create an intent: a unit of work with a title, optional description, constraints and \
                      initial state (a JSON object agents read and patch). Returns the intent with its id and \
                      version (keep the version: writes that change the intent need it).",
        params: &[],
        fields: CreateIntentRequest::FIELDS,
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| {
            let mut b = c.create_intent(a.str("title")?);
            if let Some(v) = a.opt_str("description")? {
                b = b.description(v);
            }
            if let Some(v) = a.opt_value("constraints") {
                b = b.constraints(v);
            }
            if let Some(v) = a.opt_obj("state")? {
                b = b.initial_state(v);
            }
            if let Some(v) = a.opt_str("created_by")? {
                b = b.created_by(v);
            }
            if let Some(v) = a.opt_str("status")? {
                b = b.status(v);
            }
            if let Some(v) = a.opt_str("parent_intent_id")? {
                b = b.parent_id(v);
            }
            if let Some(v) = a.opt_obj("governance_policy")? {
                b = b.governance_policy(v);
            }
            if let Some(v) = a.opt_strs("depends_on")? {
                b = b.depends_on(v);
            }
            Ok(b.await?)
        }),
    },
    ToolDef {
        name: "get_intent",
        tier: Reader,
        description: "Read one intent: title, status, state, version and timestamps. Re-read it before a write \
                      that failed with version_conflict.",
        params: &[INTENT_ID],
        fields: &[],
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| Ok(c.get_intent(&a.str("intent_id")?).await?)),
    },
    ToolDef {
        name: "list_intents",
        tier: Reader,
        description: "List intents, newest first, optionally filtered by status, creator or parent. Returns one \
                      page: pass offset = offset + count for the next one.",
        params: LIST_PARAMS,
        fields: &[],
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| {
            let mut b = c.list_intents();
            if let Some(v) = a.opt_str("status")? {
                b = b.status(v);
            }
            if let Some(v) = a.opt_str("created_by")? {
                b = b.created_by(v);
            }
            if let Some(v) = a.opt_str("parent_id")? {
                b = b.parent_id(v);
            }
            if let Some(v) = a.opt_u32("limit")? {
                b = b.limit(v);
            }
            if let Some(v) = a.opt_u32("offset")? {
                b = b.offset(v);
            }
            Ok(b.await?.items)
        }),
    },
    ToolDef {
        name: "update_state",
        tier: Operator,
        description: "Change an intent's state, checked against its version: give `state` (an object merged \
                      into the state) and/or `patches` (set/append/remove at JSON pointers). Returns the intent \
                      with its new version. On version_conflict, re-read the intent and retry.",
        params: &[INTENT_ID, VERSION],
        fields: UpdateStateRequest::FIELDS,
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| {
            let mut b = c.update_state(&a.str("intent_id")?, a.int("version")?);
            let state = a.opt_obj("state")?;
            let patches: Option<Vec<StatePatch>> = a.opt("patches")?;
            if state.is_none() && patches.as_ref().is_none_or(Vec::is_empty) {
                return Err(crate::errors::ToolError::arg("state", "give state (an object) or patches (a list)"));
            }
            if let Some(v) = state {
                b = b.merge(v);
            }
            if let Some(p) = patches {
                b = b.patches(p);
            }
            Ok(b.await?)
        }),
    },
    ToolDef {
        name: "set_status",
        tier: Operator,
        description: "Change an intent's status (draft, active, blocked, completed, abandoned, ...), checked \
                      against its version; a reason may be required by its governance policy. A lifecycle \
                      refusal (invalid_transition) lists the allowed statuses.",
        params: &[INTENT_ID, VERSION],
        fields: SetStatusRequest::FIELDS,
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| {
            let mut b = c.set_status(&a.str("intent_id")?, a.int("version")?, a.str("status")?);
            if let Some(v) = a.opt_str("reason")? {
                b = b.reason(v);
            }
            Ok(b.await?)
        }),
    },
    ToolDef {
        name: "assign_agent",
        tier: Operator,
        description: "Assign an agent (by default the one this server acts as) to an intent, with an optional role.",
        params: &[INTENT_ID],
        fields: AssignAgentRequest::FIELDS,
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| {
            let mut b = c.assign_agent(&a.str("intent_id")?);
            if let Some(v) = a.opt_str("agent_id")? {
                b = b.agent_id(v);
            }
            if let Some(v) = a.opt_str("role")? {
                b = b.role(v);
            }
            Ok(b.await?)
        }),
    },
    ToolDef {
        name: "unassign_agent",
        tier: Operator,
        description: "Remove an agent's assignment from an intent.",
        params: &[INTENT_ID, Param::req("agent_id", Kind::Str, "The assigned agent's id")],
        fields: &[],
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| Ok(c.unassign_agent(&a.str("intent_id")?, &a.str("agent_id")?).await?)),
    },
    ToolDef {
        name: "get_agents",
        tier: Reader,
        description: "List the agents assigned to an intent, with their roles.",
        params: &[INTENT_ID],
        fields: &[],
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| Ok(c.get_agents(&a.str("intent_id")?).await?)),
    },
    ToolDef {
        name: "log_event",
        tier: Operator,
        description: "Append an event to an intent's event log (its audit trail): an event type such as \
                      comment or progress, and a payload object.",
        params: &[INTENT_ID],
        fields: LogEventRequest::FIELDS,
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| {
            let mut b = c.log_event(&a.str("intent_id")?, a.str("event_type")?);
            if let Some(v) = a.opt_obj("payload")? {
                b = b.payload(v);
            }
            if let Some(v) = a.opt_str("actor")? {
                b = b.actor(v);
            }
            if let Some(t) = a.opt_str("trace_id")? {
                b = b.trace(t, a.opt_str("parent_event_id")?);
            }
            Ok(b.await?)
        }),
    },
    ToolDef {
        name: "get_events",
        tier: Reader,
        description: "Read an intent's event log (oldest first), optionally only one event type or events \
                      since a time, one page at a time.",
        params: &[
            INTENT_ID,
            Param::opt("event_type", Kind::Str, "Only events of this type"),
            Param::opt("since", Kind::Time, "Only events after this time"),
            Param::opt("limit", Kind::Int, "Page size"),
            Param::opt("offset", Kind::Int, "How many to skip"),
        ],
        fields: &[],
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| {
            let mut b = c.get_events(&a.str("intent_id")?);
            if let Some(v) = a.opt_str("event_type")? {
                b = b.event_type(v);
            }
            if let Some(v) = a.opt_time("since")? {
                b = b.since(v);
            }
            if let Some(v) = a.opt_u32("limit")? {
                b = b.limit(v);
            }
            if let Some(v) = a.opt_u32("offset")? {
                b = b.offset(v);
            }
            Ok(b.await?)
        }),
    },
    ToolDef {
        name: "create_child_intent",
        tier: Operator,
        description: "Create a sub-intent under a parent intent (decomposing work), optionally depending on \
                      other intents that must complete first.",
        params: &[Param::req("parent_id", Kind::Str, "The parent intent's id")],
        fields: CreateChildIntentRequest::FIELDS,
        omit: &["parent_intent_id"],
        defaulted: &[],
        call: call!(|c, a| {
            let mut b = c.create_child_intent(&a.str("parent_id")?, a.str("title")?);
            if let Some(v) = a.opt_str("description")? {
                b = b.description(v);
            }
            if let Some(v) = a.opt_value("constraints") {
                b = b.constraints(v);
            }
            if let Some(v) = a.opt_obj("state")? {
                b = b.initial_state(v);
            }
            if let Some(v) = a.opt_strs("depends_on")? {
                b = b.depends_on(v);
            }
            Ok(b.await?)
        }),
    },
    graph_read!("get_children", get_children, "List an intent's direct children."),
    graph_read!(
        "get_descendants",
        get_descendants,
        "List all of an intent's descendants (children, their children, ...)."
    ),
    graph_read!("get_ancestors", get_ancestors, "List an intent's ancestors, from its parent up to the root."),
    graph_read!(
        "get_dependencies",
        get_dependencies,
        "List the intents this intent depends on (that must complete first)."
    ),
    graph_read!("get_dependents", get_dependents, "List the intents that depend on this intent."),
    graph_read!(
        "get_ready_intents",
        get_ready_intents,
        "List the descendants of an intent whose dependencies are all completed: the work that can start now."
    ),
    graph_read!(
        "get_blocked_intents",
        get_blocked_intents,
        "List the descendants of an intent still waiting for a dependency to complete."
    ),
    graph_read!(
        "get_intent_graph",
        get_intent_graph,
        "Read the graph (nodes and dependency edges) rooted at an intent."
    ),
    ToolDef {
        name: "add_dependency",
        tier: Operator,
        description: "Make an intent depend on another (it cannot complete before the other), checked against \
                      its version; cycles are refused.",
        params: &[INTENT_ID, VERSION],
        fields: AddDependencyRequest::FIELDS,
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| Ok(c
            .add_dependency(&a.str("intent_id")?, &a.str("dependency_id")?, a.int("version")?)
            .await?)),
    },
    ToolDef {
        name: "remove_dependency",
        tier: Operator,
        description: "Remove a dependency of an intent, checked against its version.",
        params: &[INTENT_ID, VERSION, Param::req("dependency_id", Kind::Str, "The id of the intent depended on")],
        fields: &[],
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| Ok(c
            .remove_dependency(&a.str("intent_id")?, &a.str("dependency_id")?, a.int("version")?)
            .await?)),
    },
    ToolDef {
        name: "suspend",
        tier: Operator,
        description: "Suspend an intent to ask a human a question (free text, yes/no or a choice), checked \
                      against its version. The intent waits until respond_to_suspension answers it or the \
                      timeout's fallback applies. Choices are {value, label, description?} objects.",
        params: &[INTENT_ID, VERSION],
        fields: SuspendRequest::FIELDS,
        omit: &["suspension_id"],
        defaulted: &[],
        call: call!(|c, a| {
            let mut b = c.suspend(&a.str("intent_id")?, a.int("version")?, a.str("question")?);
            if let Some(v) = a.opt_str("response_type")? {
                b = b.response_type(v);
            }
            for choice in a.opt::<Vec<SuspensionChoice>>("choices")?.unwrap_or_default() {
                b = b.choice(choice);
            }
            if let Some(v) = a.opt_obj("context")? {
                b = b.context(v);
            }
            if let Some(v) = a.opt_str("channel_hint")? {
                b = b.channel_hint(v);
            }
            if let Some(v) = a.opt_int("timeout_seconds")? {
                b = b.timeout_seconds(v);
            }
            if let Some(v) = a.opt_str("fallback_policy")? {
                b = b.fallback_policy(v);
            }
            if let Some(v) = a.opt("retry_policy")? {
                b = b.retry_policy(v);
            }
            if let Some(v) = a.opt_num("confidence")? {
                b = b.confidence(v);
            }
            Ok(b.await?)
        }),
    },
    ToolDef {
        name: "respond_to_suspension",
        tier: Operator,
        description: "Answer a suspended intent's question (see get_suspension for the pending question and \
                      its choices): the value is the answer (text, true/false, or a choice's value).",
        params: &[INTENT_ID, Param::any("value", "The answer: text, true/false, or a choice's value")],
        fields: RespondToSuspensionRequest::FIELDS,
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| {
            let value: serde_json::Value = a.req("value")?;
            let mut b = c.respond_to_suspension(&a.str("intent_id")?, a.str("suspension_id")?, value);
            if let Some(v) = a.opt_str("responded_by")? {
                b = b.responded_by(v);
            }
            if let Some(v) = a.opt_obj("metadata")? {
                b = b.metadata(v);
            }
            Ok(b.await?)
        }),
    },
    ToolDef {
        name: "answer_pending_input",
        tier: Operator,
        description: "Get a human's answer to an intent's pending question (see suspend): when the MCP host \
                      can ask its user (elicitation), the question is put to the user and the answer is sent \
                      with respond_to_suspension; otherwise, or when the user declines, returns what is \
                      pending (answered: false) so that you can ask and then call respond_to_suspension.",
        params: &[INTENT_ID],
        fields: &[],
        omit: &[],
        defaulted: &[],
        call: call!(|c, a, peer| crate::elicit::answer_pending_input(&c, peer, &a.str("intent_id")?).await),
    },
    ToolDef {
        name: "get_suspension",
        tier: Reader,
        description: "Read an intent's latest human question as {suspension, pending}: its id (the \
                      suspension_id for respond_to_suspension), question, response type, choices and, once \
                      answered, the response; pending is true while it waits for an answer.",
        params: &[INTENT_ID],
        fields: &[],
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| {
            let suspension = c.get_suspension(&a.str("intent_id")?).await?;
            let pending = suspension.as_ref().is_some_and(|s| s.resolution.is_none());
            Ok(serde_json::json!({"suspension": suspension, "pending": pending}))
        }),
    },
];
