//! Agent-to-agent messaging (RFC-0021): channels scoped to an intent, and their messages.
//!
//! Routes: `POST`/`GET /api/v1/intents/{id}/channels` ([`CreateChannelRequest`] → [`Channel`],
//! 201; the list is a bare array), `GET`/`PATCH`/`DELETE /api/v1/channels/{cid}`
//! ([`UpdateChannelRequest`]; delete answers [`ChannelClosed`]), `POST …/messages`
//! ([`SendMessageRequest`] → [`Message`], 201), `GET …/messages` ([`MessageQuery`]),
//! `GET …/messages/{mid}`, `POST …/messages/{mid}/reply` ([`ReplyRequest`], 201),
//! `PATCH …/messages/{mid}` ([`UpdateMessageRequest`], e.g. mark read). A channel's SSE stream
//! (`/api/v1/subscribe/channels/{cid}`) carries `channel_message` frames holding a [`Message`].

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::schema::{Field, Kind, RequestSchema, opt, req};
use crate::validation::{InputValidationError, Validate, fail, require_text_max, validate_id};
use crate::wire::null_as_default;

wire_enum! {
    /// Whether a channel takes messages.
    #[derive(Default)]
    pub enum ChannelStatus {
        /// Open (the default).
        #[default]
        Open = "open",
        /// Closed.
        Closed = "closed",
    }
}

wire_enum! {
    /// Who may use a channel.
    #[derive(Default)]
    pub enum MemberPolicy {
        /// Any agent with access to the intent (the default).
        #[default]
        Intent = "intent",
        /// Only the listed members.
        Explicit = "explicit",
    }
}

wire_enum! {
    /// The kind of a message (RFC-0021 §2.3).
    #[derive(Default)]
    pub enum MessageType {
        /// Expects a response; `to` is required.
        Request = "request",
        /// Answers a request named by `correlation_id`.
        Response = "response",
        /// Fire and forget (the default).
        #[default]
        Notify = "notify",
        /// To every member.
        Broadcast = "broadcast",
    }
}

wire_enum! {
    /// The delivery status of a message (RFC-0021 §2.5).
    #[derive(Default)]
    pub enum MessageStatus {
        /// Accepted, not yet delivered.
        Pending = "pending",
        /// Delivered (the status after sending).
        #[default]
        Delivered = "delivered",
        /// Acknowledged by its target.
        Read = "read",
        /// Past `expires_at`.
        Expired = "expired",
    }
}

wire_model! {
    /// A channel (RFC-0021 §2.1).
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct Channel {
        /// Channel id.
        pub id: String,
        /// The intent it belongs to.
        #[serde(default, deserialize_with = "null_as_default")]
        pub intent_id: String,
        /// Name (unique within the intent).
        #[serde(default, deserialize_with = "null_as_default")]
        pub name: String,
        /// Who created it.
        #[serde(default, deserialize_with = "null_as_default")]
        pub created_by: String,
        /// Members (agent ids).
        #[serde(default, deserialize_with = "null_as_default")]
        pub members: Vec<String>,
        /// Who may use it.
        #[serde(default)]
        pub member_policy: MemberPolicy,
        /// The task it is scoped to, if any.
        #[serde(default)]
        pub task_id: Option<String>,
        /// Options (`audit`, `ttl_seconds`, `max_messages`).
        #[serde(default, deserialize_with = "null_as_default")]
        pub options: Map<String, Value>,
        /// Open or closed.
        #[serde(default)]
        pub status: ChannelStatus,
        /// When it was created.
        #[serde(with = "crate::time::wire", default)]
        pub created_at: DateTime<Utc>,
        /// When it was closed.
        #[serde(default, with = "crate::time::wire_opt")]
        pub closed_at: Option<DateTime<Utc>>,
        /// Messages sent on it.
        #[serde(default)]
        pub message_count: u64,
        /// When the last message was sent.
        #[serde(default, with = "crate::time::wire_opt")]
        pub last_message_at: Option<DateTime<Utc>>,
    }
    aliases { "id" <= ["channel_id"], "member_policy" <= ["memberPolicy"] }
    also_emit {}
}

impl Channel {
    /// Whether `options.audit` asks for `channel_message` events in the intent's log.
    pub fn is_audited(&self) -> bool {
        self.options.get("audit").and_then(Value::as_bool).unwrap_or(false)
    }
}

wire_model! {
    /// A message (RFC-0021 §2.2). A reply names the request it answers in `correlation_id`.
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct Message {
        /// Message id.
        pub id: String,
        /// The channel.
        #[serde(default, deserialize_with = "null_as_default")]
        pub channel_id: String,
        /// Who sent it.
        #[serde(default, deserialize_with = "null_as_default")]
        pub sender: String,
        /// Target: an agent id, `role:<role_id>`, `*`, or none (every member).
        #[serde(default)]
        pub to: Option<String>,
        /// Kind.
        #[serde(default)]
        pub message_type: MessageType,
        /// The request this message answers (read also from `reply_to`).
        #[serde(default)]
        pub correlation_id: Option<String>,
        /// Content.
        #[serde(default, deserialize_with = "null_as_default")]
        pub payload: Map<String, Value>,
        /// Implementation data.
        #[serde(default)]
        pub metadata: Option<Map<String, Value>>,
        /// Delivery status.
        #[serde(default)]
        pub status: MessageStatus,
        /// When it was sent.
        #[serde(with = "crate::time::wire", default)]
        pub created_at: DateTime<Utc>,
        /// When it expires.
        #[serde(default, with = "crate::time::wire_opt")]
        pub expires_at: Option<DateTime<Utc>>,
        /// When its target read it.
        #[serde(default, with = "crate::time::wire_opt")]
        pub read_at: Option<DateTime<Utc>>,
    }
    aliases { "correlation_id" <= ["reply_to", "in_reply_to", "correlationId"], "message_type" <= ["messageType"] }
    also_emit {}
}

impl Message {
    /// Whether its target acknowledged it.
    pub fn is_read(&self) -> bool {
        self.status == MessageStatus::Read || self.read_at.is_some()
    }

    /// The request this message replies to.
    pub fn reply_to(&self) -> Option<&str> {
        self.correlation_id.as_deref()
    }

    /// Whether it is past `expires_at` at `now`.
    pub fn is_expired_at(&self, now: DateTime<Utc>) -> bool {
        self.status == MessageStatus::Expired || self.expires_at.is_some_and(|e| e <= now)
    }

    /// The thread of `root_id` among `messages`: the root, then its replies, in order.
    ///
    /// ```
    /// use openintent_types::Message;
    /// let msgs: Vec<Message> = serde_json::from_str(r#"[
    ///     {"id": "q", "sender": "a", "message_type": "request"},
    ///     {"id": "x", "sender": "c"},
    ///     {"id": "r", "sender": "b", "message_type": "response", "correlation_id": "q"}]"#).unwrap();
    /// let ids: Vec<&str> = Message::thread(&msgs, "q").iter().map(|m| m.id.as_str()).collect();
    /// assert_eq!(ids, ["q", "r"]);
    /// ```
    pub fn thread<'a>(messages: &'a [Message], root_id: &str) -> Vec<&'a Message> {
        messages.iter().filter(|m| m.id == root_id || m.reply_to() == Some(root_id)).collect()
    }
}

fn check_members(members: &[String]) -> Result<(), InputValidationError> {
    for (i, m) in members.iter().enumerate() {
        validate_id(&format!("members.{i}"), m)?;
    }
    Ok(())
}

fn check_options(options: Option<&Map<String, Value>>) -> Result<(), InputValidationError> {
    let Some(o) = options else { return Ok(()) };
    if let Some(v) = o.get("audit").filter(|v| !v.is_null() && !v.is_boolean()) {
        return fail("options.audit", format_args!("must be a boolean, got {v}"));
    }
    for key in ["ttl_seconds", "max_messages"] {
        if let Some(v) = o.get(key).filter(|v| !v.is_null() && v.as_u64().is_none_or(|n| n == 0)) {
            return fail(&format!("options.{key}"), format_args!("must be a positive integer, got {v}"));
        }
    }
    Ok(())
}

fn check_policy(policy: Option<&MemberPolicy>) -> Result<(), InputValidationError> {
    match policy {
        Some(MemberPolicy::Unknown(p)) => fail("member_policy", format_args!("must be intent or explicit, got {p:?}")),
        _ => Ok(()),
    }
}

wire_model! {
    /// Body of `POST /api/v1/intents/{id}/channels`.
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct CreateChannelRequest {
        /// Name (required).
        pub name: String,
        /// Members (agent ids).
        #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_default")]
        pub members: Vec<String>,
        /// Who may use it (default `intent`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub member_policy: Option<MemberPolicy>,
        /// Scope to a task.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub task_id: Option<String>,
        /// Options (`audit`: bool, `ttl_seconds`, `max_messages`: positive integers).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub options: Option<Map<String, Value>>,
    }
    aliases { "member_policy" <= ["memberPolicy"] }
    also_emit {}
}

impl CreateChannelRequest {
    /// A channel named `name`.
    pub fn new(name: impl Into<String>) -> Self {
        CreateChannelRequest { name: name.into(), ..Default::default() }
    }
}

impl Validate for CreateChannelRequest {
    fn validate(&self) -> Result<(), InputValidationError> {
        require_text_max("name", &self.name, 255)?;
        check_members(&self.members)?;
        check_policy(self.member_policy.as_ref())?;
        if let Some(t) = &self.task_id {
            validate_id("task_id", t)?;
        }
        check_options(self.options.as_ref())
    }
}

wire_model! {
    /// Body of `PATCH /api/v1/channels/{cid}`: any of the keys.
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct UpdateChannelRequest {
        /// New members.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub members: Option<Vec<String>>,
        /// New status (`closed` closes it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub status: Option<ChannelStatus>,
        /// New options.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub options: Option<Map<String, Value>>,
        /// New member policy.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub member_policy: Option<MemberPolicy>,
    }
    aliases { "member_policy" <= ["memberPolicy"] }
    also_emit {}
}

impl Validate for UpdateChannelRequest {
    fn validate(&self) -> Result<(), InputValidationError> {
        check_members(self.members.as_deref().unwrap_or_default())?;
        if let Some(ChannelStatus::Unknown(s)) = &self.status {
            return fail("status", format_args!("must be open or closed, got {s:?}"));
        }
        check_policy(self.member_policy.as_ref())?;
        check_options(self.options.as_ref())
    }
}

wire_model! {
    /// Answer of `DELETE /api/v1/channels/{cid}`.
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct ChannelClosed {
        /// `closed`.
        #[serde(default)]
        pub status: ChannelStatus,
        /// The channel.
        pub channel_id: String,
    }
    aliases { "channel_id" <= ["id"] }
    also_emit {}
}

wire_model! {
    /// Body of `POST /api/v1/channels/{cid}/messages`.
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct SendMessageRequest {
        /// The sending agent (required).
        pub sender: String,
        /// Target (required for a request).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub to: Option<String>,
        /// Kind (default `notify`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub message_type: Option<MessageType>,
        /// For a response: the request answered.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub correlation_id: Option<String>,
        /// Content.
        #[serde(default, deserialize_with = "null_as_default")]
        pub payload: Map<String, Value>,
        /// Implementation data.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub metadata: Option<Map<String, Value>>,
        /// When it expires.
        #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::time::rfc3339_opt")]
        pub expires_at: Option<DateTime<Utc>>,
    }
    aliases { "correlation_id" <= ["reply_to", "in_reply_to"], "message_type" <= ["messageType"] }
    also_emit {}
}

impl SendMessageRequest {
    /// A `notify` message from `sender` with `payload`.
    pub fn new(sender: impl Into<String>, payload: Map<String, Value>) -> Self {
        SendMessageRequest { sender: sender.into(), payload, ..Default::default() }
    }
}

impl Validate for SendMessageRequest {
    fn validate(&self) -> Result<(), InputValidationError> {
        validate_id("sender", &self.sender)?;
        if let Some(t) = &self.to {
            require_text_max("to", t, 255)?;
        }
        match self.message_type.clone().unwrap_or_default() {
            MessageType::Unknown(t) => {
                fail("message_type", format_args!("must be request, response, notify or broadcast, got {t:?}"))
            }
            MessageType::Request if self.to.is_none() => fail("to", "is required for a request message"),
            MessageType::Response if self.correlation_id.is_none() => {
                fail("correlation_id", "is required for a response message")
            }
            _ => match &self.correlation_id {
                Some(c) => validate_id("correlation_id", c),
                None => Ok(()),
            },
        }
    }
}

wire_model! {
    /// Body of `POST /api/v1/channels/{cid}/messages/{mid}/reply` (the server sets
    /// `message_type: response`, `to` and `correlation_id`).
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct ReplyRequest {
        /// The replying agent (required).
        pub sender: String,
        /// Content.
        #[serde(default, deserialize_with = "null_as_default")]
        pub payload: Map<String, Value>,
        /// Implementation data.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub metadata: Option<Map<String, Value>>,
    }
    aliases {}
    also_emit {}
}

impl ReplyRequest {
    /// A reply from `sender` with `payload`.
    pub fn new(sender: impl Into<String>, payload: Map<String, Value>) -> Self {
        ReplyRequest { sender: sender.into(), payload, metadata: None }
    }
}

impl Validate for ReplyRequest {
    fn validate(&self) -> Result<(), InputValidationError> {
        validate_id("sender", &self.sender)
    }
}

wire_model! {
    /// Body of `PATCH /api/v1/channels/{cid}/messages/{mid}` (`{"status": "read"}` marks it read).
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct UpdateMessageRequest {
        /// The new status.
        pub status: MessageStatus,
    }
    aliases {}
    also_emit {}
}

impl UpdateMessageRequest {
    /// Mark the message read.
    pub fn read() -> Self {
        UpdateMessageRequest { status: MessageStatus::Read }
    }
}

impl Validate for UpdateMessageRequest {
    fn validate(&self) -> Result<(), InputValidationError> {
        match &self.status {
            MessageStatus::Unknown(s) => {
                fail("status", format_args!("must be pending, delivered, read or expired, got {s:?}"))
            }
            _ => Ok(()),
        }
    }
}

/// Query of `GET /api/v1/channels/{cid}/messages`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct MessageQuery {
    /// Only messages after the message with this id (a cursor).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// Only messages to this target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

// ----- request field rules (validation and the OpenAPI document read these) -----------------

impl RequestSchema for CreateChannelRequest {
    const FIELDS: &'static [Field] = &[
        req("name", Kind::Str).text(255),
        opt("members", Kind::StrList),
        opt("member_policy", Kind::Str).one_of(MemberPolicy::known_names),
        opt("task_id", Kind::Str).id(),
        opt("options", Kind::Obj),
    ];
}

impl RequestSchema for UpdateChannelRequest {
    const FIELDS: &'static [Field] = &[
        opt("members", Kind::StrList),
        opt("status", Kind::Str).one_of(ChannelStatus::known_names),
        opt("options", Kind::Obj),
        opt("member_policy", Kind::Str).one_of(MemberPolicy::known_names),
    ];
}

impl RequestSchema for SendMessageRequest {
    const FIELDS: &'static [Field] = &[
        req("sender", Kind::Str).id(),
        opt("to", Kind::Str).text(255),
        opt("message_type", Kind::Str).one_of(MessageType::known_names),
        opt("correlation_id", Kind::Str).id(),
        opt("payload", Kind::Obj),
        opt("metadata", Kind::Obj),
        opt("expires_at", Kind::Time),
    ];
}

impl RequestSchema for ReplyRequest {
    const FIELDS: &'static [Field] =
        &[req("sender", Kind::Str).id(), opt("payload", Kind::Obj), opt("metadata", Kind::Obj)];
}

impl RequestSchema for UpdateMessageRequest {
    const FIELDS: &'static [Field] = &[req("status", Kind::Str).one_of(MessageStatus::known_names)];
}
