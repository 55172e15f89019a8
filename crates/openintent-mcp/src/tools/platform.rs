//! The agent registry, channels (agent-to-agent messages) and discovery.

use openintent_types::schema::{Kind, RequestSchema};
use openintent_types::{
    AgentCapacity, ChannelStatus, CreateChannelRequest, HeartbeatConfig, MemberPolicy, MessageType,
    RegisterAgentRequest, SendMessageRequest, UpdateAgentStatusRequest, UpdateChannelRequest,
};

use super::def::{INTENT_ID, Param, ToolDef, call};
use crate::tier::Tier::{Admin, Operator, Reader};

const AGENT_ID: Param = Param::req("agent_id", Kind::Str, "The agent's id");
const CHANNEL_ID: Param = Param::req("channel_id", Kind::Str, "The channel's id");
const MESSAGE_ID: Param = Param::req("message_id", Kind::Str, "The message's id");

/// The tools of this module.
pub(crate) static TOOLS: &[ToolDef] = &[
    ToolDef {
        name: "discover",
        tier: Reader,
        description: "Read the server's discovery document: protocol version and the capabilities it serves.",
        params: &[],
        fields: &[],
        omit: &[],
        defaulted: &[],
        call: call!(|c, _a| Ok(c.discover().await?)),
    },
    ToolDef {
        name: "register_agent",
        tier: Operator,
        description: "Register an agent in the registry with its capabilities (tags such as research or \
                      summarize), capacity and heartbeat settings, so that work can be routed to it.",
        params: &[],
        fields: RegisterAgentRequest::FIELDS,
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| {
            let mut b = c.register_agent(a.str("agent_id")?);
            if let Some(v) = a.opt_strs("capabilities")? {
                b = b.capabilities(v);
            }
            if let Some(v) = a.opt_str("name")? {
                b = b.name(v);
            }
            if let Some(v) = a.opt_str("role_id")? {
                b = b.role_id(v);
            }
            if let Some(v) = a.opt::<AgentCapacity>("capacity")? {
                b = b.capacity(v);
            }
            if let Some(v) = a.opt_str("endpoint")? {
                b = b.endpoint(v);
            }
            if let Some(v) = a.opt::<HeartbeatConfig>("heartbeat_config")? {
                b = b.heartbeat_config(v);
            }
            if let Some(v) = a.opt_obj("metadata")? {
                b = b.metadata(v);
            }
            if let Some(v) = a.opt_int("drain_timeout_seconds")? {
                b = b.drain_timeout_seconds(v);
            }
            Ok(b.await?)
        }),
    },
    ToolDef {
        name: "get_agent_record",
        tier: Reader,
        description: "Read an agent's registry record: status, capabilities, capacity, last heartbeat.",
        params: &[AGENT_ID],
        fields: &[],
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| Ok(c.get_agent_record(&a.str("agent_id")?).await?)),
    },
    ToolDef {
        name: "list_agents",
        tier: Reader,
        description: "List registered agents, optionally by status, role, capabilities (all of them) or \
                      free capacity: how to find an agent for a piece of work.",
        params: &[
            Param::opt("status", Kind::Str, "Only agents with this status (active, draining, ...)"),
            Param::opt("role_id", Kind::Str, "Only agents with this role"),
            Param::opt("capabilities", Kind::StrList, "Only agents with all of these capabilities"),
            Param::opt("min_available_capacity", Kind::Int, "Only agents with at least this many free slots"),
        ],
        fields: &[],
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| {
            let mut b = c.list_agents();
            if let Some(v) = a.opt_str("status")? {
                b = b.status(v);
            }
            if let Some(v) = a.opt_str("role_id")? {
                b = b.role_id(v);
            }
            if let Some(v) = a.opt_strs("capabilities")? {
                b = b.capabilities(&v);
            }
            if let Some(v) = a.opt_u32("min_available_capacity")? {
                b = b.min_available_capacity(v);
            }
            Ok(b.await?)
        }),
    },
    ToolDef {
        name: "agent_heartbeat",
        tier: Operator,
        description: "Send an agent's heartbeat (it is still alive), with its current load and tasks.",
        params: &[
            AGENT_ID,
            Param::opt("current_load", Kind::Int, "How many tasks it is working on"),
            Param::opt("tasks_in_progress", Kind::StrList, "The ids of the tasks it is working on"),
            Param::opt("draining", Kind::Bool, "Whether it is draining (finishing work, taking none)"),
        ],
        fields: &[],
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| {
            let mut b = c.agent_heartbeat(&a.str("agent_id")?);
            if let Some(v) = a.opt_int("current_load")? {
                b = b.current_load(v);
            }
            if let Some(v) = a.opt_strs("tasks_in_progress")? {
                b = b.tasks_in_progress(v);
            }
            if a.opt_bool("draining")? == Some(true) {
                b = b.draining();
            }
            Ok(b.await?)
        }),
    },
    ToolDef {
        name: "update_agent_status",
        tier: Operator,
        description: "Change an agent's status in the registry (active, draining, offline, ...).",
        params: &[AGENT_ID, Param::opt("if_version", Kind::Int, "Only if the record is still at this version")],
        fields: UpdateAgentStatusRequest::FIELDS,
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| {
            let mut b = c.update_agent_status(&a.str("agent_id")?, a.str("status")?);
            if let Some(v) = a.opt_int("drain_timeout_seconds")? {
                b = b.drain_timeout_seconds(v);
            }
            if let Some(v) = a.opt_int("if_version")? {
                b = b.if_version(v);
            }
            Ok(b.await?)
        }),
    },
    ToolDef {
        name: "drain_agent",
        tier: Operator,
        description: "Put an agent in draining: it finishes its work and takes no more.",
        params: &[AGENT_ID, Param::opt("drain_timeout_seconds", Kind::Int, "How long it may take to drain")],
        fields: &[],
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| {
            let mut b = c.drain_agent(&a.str("agent_id")?);
            if let Some(v) = a.opt_int("drain_timeout_seconds")? {
                b = b.drain_timeout_seconds(v);
            }
            Ok(b.await?)
        }),
    },
    ToolDef {
        name: "deregister_agent",
        tier: Admin,
        description: "Remove an agent from the registry.",
        params: &[AGENT_ID],
        fields: &[],
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| Ok(c.deregister_agent(&a.str("agent_id")?).await?)),
    },
    ToolDef {
        name: "create_channel",
        tier: Operator,
        description: "Open a channel on an intent for agents to message each other, with its members and \
                      member policy.",
        params: &[INTENT_ID],
        fields: CreateChannelRequest::FIELDS,
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| {
            let mut b = c.create_channel(&a.str("intent_id")?, a.str("name")?);
            if let Some(v) = a.opt_strs("members")? {
                b = b.members(v);
            }
            if let Some(v) = a.opt::<MemberPolicy>("member_policy")? {
                b = b.member_policy(v);
            }
            if let Some(v) = a.opt_str("task_id")? {
                b = b.task_id(v);
            }
            if let Some(v) = a.opt_obj("options")? {
                b = b.options(v);
            }
            Ok(b.await?)
        }),
    },
    ToolDef {
        name: "list_channels",
        tier: Reader,
        description: "List an intent's channels.",
        params: &[INTENT_ID],
        fields: &[],
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| Ok(c.list_channels(&a.str("intent_id")?).await?)),
    },
    ToolDef {
        name: "get_channel",
        tier: Reader,
        description: "Read a channel: members, policy, status.",
        params: &[CHANNEL_ID],
        fields: &[],
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| Ok(c.get_channel(&a.str("channel_id")?).await?)),
    },
    ToolDef {
        name: "update_channel",
        tier: Operator,
        description: "Change a channel: replace its members, its member policy (intent, or explicit: only \
                      members may send), its options, or set its status (closed closes it). Only the fields \
                      given change.",
        params: &[CHANNEL_ID],
        fields: UpdateChannelRequest::FIELDS,
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| {
            let mut b = c.update_channel(&a.str("channel_id")?);
            if let Some(v) = a.opt_strs("members")? {
                b = b.members(v);
            }
            if let Some(v) = a.opt::<MemberPolicy>("member_policy")? {
                b = b.member_policy(v);
            }
            if let Some(v) = a.opt::<ChannelStatus>("status")? {
                b = b.status(v);
            }
            if let Some(v) = a.opt_obj("options")? {
                b = b.options(v);
            }
            Ok(b.await?)
        }),
    },
    ToolDef {
        name: "get_trace_events",
        tier: Reader,
        description: "Read the events of one distributed trace (RFC-0020) across every intent you may read, \
                      oldest first: what happened in one piece of work, whichever agents did it.",
        params: &[
            Param::req("trace_id", Kind::Str, "The trace id (32 lowercase hex digits)"),
            Param::opt("limit", Kind::Int, "At most this many events"),
            Param::opt("offset", Kind::Int, "Skip this many of the trace's events (to read the next page)"),
        ],
        fields: &[],
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| {
            let mut b = c.get_trace_events(a.str("trace_id")?);
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
        name: "close_channel",
        tier: Operator,
        description: "Close a channel: no more messages.",
        params: &[CHANNEL_ID],
        fields: &[],
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| Ok(c.close_channel(&a.str("channel_id")?).await?)),
    },
    ToolDef {
        name: "send_message",
        tier: Operator,
        description: "Send a message on a channel, to one member (to) or to all, with a payload object; \
                      message_type request expects a reply (reply_to).",
        params: &[CHANNEL_ID],
        fields: SendMessageRequest::FIELDS,
        omit: &["metadata"],
        defaulted: &["sender"],
        call: call!(|c, a| {
            let mut b = c.send_message(&a.str("channel_id")?);
            if let Some(v) = a.opt_obj("payload")? {
                b = b.payload(v);
            }
            if let Some(v) = a.opt_str("to")? {
                b = b.to(v);
            }
            if let Some(v) = a.opt::<MessageType>("message_type")? {
                b = b.message_type(v);
            }
            if let Some(v) = a.opt_str("correlation_id")? {
                b = b.correlation_id(v);
            }
            if let Some(v) = a.opt_time("expires_at")? {
                b = b.expires_at(v);
            }
            if let Some(v) = a.opt_str("sender")? {
                b = b.sender(v);
            }
            Ok(b.await?)
        }),
    },
    ToolDef {
        name: "list_messages",
        tier: Reader,
        description: "List a channel's messages, optionally only those after a message or to one member.",
        params: &[
            CHANNEL_ID,
            Param::opt("since", Kind::Str, "Only messages after this message id"),
            Param::opt("to", Kind::Str, "Only messages to this member"),
        ],
        fields: &[],
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| {
            let mut b = c.list_messages(&a.str("channel_id")?);
            if let Some(v) = a.opt_str("since")? {
                b = b.since(v);
            }
            if let Some(v) = a.opt_str("to")? {
                b = b.to(v);
            }
            Ok(b.await?)
        }),
    },
    ToolDef {
        name: "get_message",
        tier: Reader,
        description: "Read one message of a channel.",
        params: &[CHANNEL_ID, MESSAGE_ID],
        fields: &[],
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| Ok(c.get_message(&a.str("channel_id")?, &a.str("message_id")?).await?)),
    },
    ToolDef {
        name: "reply_to",
        tier: Operator,
        description: "Reply to a message (the reply goes to its sender, correlated with it).",
        params: &[CHANNEL_ID, MESSAGE_ID, Param::opt("payload", Kind::Obj, "The reply's content")],
        fields: &[],
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| {
            let mut b = c.reply_to(&a.str("channel_id")?, &a.str("message_id")?);
            if let Some(v) = a.opt_obj("payload")? {
                b = b.payload(v);
            }
            Ok(b.await?)
        }),
    },
    ToolDef {
        name: "mark_read",
        tier: Operator,
        description: "Mark a message as read.",
        params: &[CHANNEL_ID, MESSAGE_ID],
        fields: &[],
        omit: &[],
        defaulted: &[],
        call: call!(|c, a| Ok(c.mark_read(&a.str("channel_id")?, &a.str("message_id")?).await?)),
    },
];
