//! Agent-to-agent messaging (RFC-0021): channels scoped to an intent, messages, replies and
//! read state.
//!
//! | 0.17 SDK method | Rust | Wire |
//! |---|---|---|
//! | `create_channel(intent_id, name, members=, member_policy=, options=)` | [`Client::create_channel`]`.members(..)...` | `POST /api/v1/intents/{id}/channels` (201) |
//! | `list_channels(intent_id)` | [`Client::list_channels`] | `GET /api/v1/intents/{id}/channels` |
//! | `get_channel(cid)` | [`Client::get_channel`] | `GET /api/v1/channels/{cid}` |
//! | — | [`Client::update_channel`]`.members(..).status(..)...` | `PATCH /api/v1/channels/{cid}` (any of `members`, `status`, `options`, `member_policy`) |
//! | `close_channel(cid)` | [`Client::close_channel`] | `DELETE /api/v1/channels/{cid}` |
//! | `send_message(cid, payload, to=, message_type=, ...)` | [`Client::send_message`]`.to(..).payload(..)` | `POST …/messages` (201; `sender` = agent id) |
//! | `list_messages(cid, since=, to=)` | [`Client::list_messages`]`.since(..).to(..)` | `GET …/messages` |
//! | `get_message(cid, mid)` | [`Client::get_message`] | `GET …/messages/{mid}` |
//! | `reply_to(cid, mid, payload)` | [`Client::reply_to`]`.payload(..)` | `POST …/messages/{mid}/reply` (201) |
//! | `mark_read(cid, mid)` | [`Client::mark_read`] | `PATCH …/messages/{mid}` `{"status": "read"}` |
//!
//! On openintent-rs, channels and messages are kept in the database and a channel's messages
//! are streamed on `/api/v1/subscribe/channels/{cid}`; the reference keeps them in memory.

use chrono::{DateTime, Utc};
use openintent_transport::Request;
use openintent_types::{
    Channel, ChannelClosed, ChannelStatus, CreateChannelRequest, MemberPolicy, Message, MessageType, ReplyRequest,
    SendMessageRequest, UpdateChannelRequest, UpdateMessageRequest,
};
use serde_json::Value;

use crate::client::{Client, GenericClient, intent_path, object, seg};
use crate::error::Result;
use crate::mode::{Async, Mode, impl_send};

fn channel_path(channel_id: &str, suffix: &str) -> Result<String> {
    Ok(format!("/api/v1/channels/{}{suffix}", seg("channel_id", channel_id)?))
}

fn message_path(channel_id: &str, message_id: &str, suffix: &str) -> Result<String> {
    channel_path(channel_id, &format!("/messages/{}{suffix}", seg("message_id", message_id)?))
}

impl<M: Mode> GenericClient<M> {
    /// Creates a channel of an intent.
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let channel = client.create_channel("7f1c…", "coordination").members(["planner", "writer"]).send().await?;
    /// # Ok(()) }
    /// ```
    pub fn create_channel(&self, intent_id: &str, name: impl Into<String>) -> CreateChannel<M> {
        CreateChannel {
            client: self.clone(),
            intent_id: intent_id.to_owned(),
            req: CreateChannelRequest::new(name),
            options: None,
        }
    }

    /// The channels of an intent.
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let names: Vec<String> = client.list_channels("7f1c…").await?.into_iter().map(|c| c.name).collect();
    /// # Ok(()) }
    /// ```
    pub fn list_channels(&self, intent_id: &str) -> M::Call<Vec<Channel>> {
        let path = intent_path(intent_id, "/channels");
        self.call(|c| async move { Ok(c.list(Request::get(path?)).await?.items) })
    }

    /// One channel.
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let channel = client.get_channel("channel-id").await?;
    /// println!("{} messages", channel.message_count);
    /// # Ok(()) }
    /// ```
    pub fn get_channel(&self, channel_id: &str) -> M::Call<Channel> {
        let path = channel_path(channel_id, "");
        self.call(|c| async move { c.json(Request::get(path?)).await })
    }

    /// Updates a channel (`PATCH /api/v1/channels/{cid}`): only the fields set are sent and
    /// changed; the answer is the whole channel. Setting the status to `closed` closes it (as
    /// [`Client::close_channel`] does, but answering the channel).
    ///
    /// ```no_run
    /// use openintent_types::MemberPolicy;
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let channel = client
    ///     .update_channel("channel-id")
    ///     .members(["planner", "writer", "reviewer"])
    ///     .member_policy(MemberPolicy::Explicit)
    ///     .send()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn update_channel(&self, channel_id: &str) -> UpdateChannel<M> {
        UpdateChannel {
            client: self.clone(),
            channel_id: channel_id.to_owned(),
            req: UpdateChannelRequest::default(),
            options: None,
        }
    }

    /// Closes a channel (on openintent-rs its messages stay readable; the reference deletes them).
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// client.close_channel("channel-id").await?;
    /// # Ok(()) }
    /// ```
    pub fn close_channel(&self, channel_id: &str) -> M::Call<ChannelClosed> {
        let path = channel_path(channel_id, "");
        self.call(|c| async move { c.json(Request::delete(path?)).await })
    }

    /// Sends a message on a channel, from the agent id (default kind `notify`).
    ///
    /// ```no_run
    /// use openintent_types::MessageType;
    /// use serde_json::json;
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let question = client
    ///     .send_message("channel-id")
    ///     .to("writer")
    ///     .message_type(MessageType::Request)
    ///     .payload(json!({"question": "Is the draft ready?"}))
    ///     .send()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn send_message(&self, channel_id: &str) -> SendMessage<M> {
        SendMessage {
            client: self.clone(),
            channel_id: channel_id.to_owned(),
            req: SendMessageRequest::new(self.agent_id(), Default::default()),
            payload: None,
        }
    }

    /// The messages of a channel, in sending order.
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let first = client.list_messages("channel-id").send().await?;
    /// if let Some(last) = first.last() {
    ///     let newer = client.list_messages("channel-id").since(&last.id).send().await?;
    /// }
    /// # Ok(()) }
    /// ```
    pub fn list_messages(&self, channel_id: &str) -> ListMessages<M> {
        ListMessages { client: self.clone(), channel_id: channel_id.to_owned(), since: None, to: None }
    }

    /// One message of a channel.
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let m = client.get_message("channel-id", "message-id").await?;
    /// # Ok(()) }
    /// ```
    pub fn get_message(&self, channel_id: &str, message_id: &str) -> M::Call<Message> {
        let path = message_path(channel_id, message_id, "");
        self.call(|c| async move { c.json(Request::get(path?)).await })
    }

    /// Replies to a message, from the agent id (the server addresses it to the original
    /// sender, with `correlation_id` = the message).
    ///
    /// ```no_run
    /// use serde_json::json;
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// client.reply_to("channel-id", "message-id").payload(json!({"answer": "yes"})).send().await?;
    /// # Ok(()) }
    /// ```
    pub fn reply_to(&self, channel_id: &str, message_id: &str) -> ReplyTo<M> {
        ReplyTo {
            client: self.clone(),
            channel_id: channel_id.to_owned(),
            message_id: message_id.to_owned(),
            req: ReplyRequest::new(self.agent_id(), Default::default()),
            payload: None,
        }
    }

    /// Marks a message read.
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let m = client.mark_read("channel-id", "message-id").await?;
    /// assert!(m.is_read());
    /// # Ok(()) }
    /// ```
    pub fn mark_read(&self, channel_id: &str, message_id: &str) -> M::Call<Message> {
        let path = message_path(channel_id, message_id, "");
        self.call(
            |c| async move { c.json(Client::with_body(Request::patch(path?), &UpdateMessageRequest::read())?).await },
        )
    }
}

/// Builder of [`Client::create_channel`].
#[must_use = "a builder does nothing until .send() is awaited"]
#[derive(Debug)]
pub struct CreateChannel<M: Mode = Async> {
    client: GenericClient<M>,
    intent_id: String,
    req: CreateChannelRequest,
    options: Option<Value>,
}

impl<M: Mode> CreateChannel<M> {
    /// The members (agent ids).
    ///
    /// Example: [`Client::create_channel`].
    pub fn members<I: IntoIterator<Item = S>, S: Into<String>>(mut self, members: I) -> Self {
        self.req.members = members.into_iter().map(Into::into).collect();
        self
    }

    /// Who may use it (default `intent`; `explicit`: only the members may send).
    ///
    /// Example: [`Client::create_channel`].
    pub fn member_policy(mut self, policy: MemberPolicy) -> Self {
        self.req.member_policy = Some(policy);
        self
    }

    /// Scope it to a task.
    ///
    /// Example: [`Client::create_channel`].
    pub fn task_id(mut self, task_id: impl Into<String>) -> Self {
        self.req.task_id = Some(task_id.into());
        self
    }

    /// Options (a JSON object: `audit`, `ttl_seconds`, `max_messages`).
    ///
    /// Example: [`Client::create_channel`].
    pub fn options(mut self, options: impl Into<Value>) -> Self {
        self.options = Some(options.into());
        self
    }

    async fn run(self) -> Result<Channel> {
        let mut req = self.req;
        if let Some(o) = self.options {
            req.options = Some(object("options", o)?);
        }
        let request = Client::with_body(Request::post(intent_path(&self.intent_id, "/channels")?), &req)?;
        self.client.json(request).await
    }
}
impl_send!(CreateChannel, Channel, "create_channel");

/// Builder of [`Client::update_channel`].
#[must_use = "a builder does nothing until .send() is awaited"]
#[derive(Debug)]
pub struct UpdateChannel<M: Mode = Async> {
    client: GenericClient<M>,
    channel_id: String,
    req: UpdateChannelRequest,
    options: Option<Value>,
}

impl<M: Mode> UpdateChannel<M> {
    /// Replaces the members (agent ids).
    ///
    /// Example: [`Client::update_channel`].
    pub fn members<I: IntoIterator<Item = S>, S: Into<String>>(mut self, members: I) -> Self {
        self.req.members = Some(members.into_iter().map(Into::into).collect());
        self
    }

    /// Sets the status (`closed` closes the channel).
    ///
    /// Example: [`Client::update_channel`].
    pub fn status(mut self, status: ChannelStatus) -> Self {
        self.req.status = Some(status);
        self
    }

    /// Replaces the options (a JSON object: `audit`, `ttl_seconds`, `max_messages`).
    ///
    /// Example: [`Client::update_channel`].
    pub fn options(mut self, options: impl Into<Value>) -> Self {
        self.options = Some(options.into());
        self
    }

    /// Sets who may use it (`intent`, or `explicit`: only the members may send).
    ///
    /// Example: [`Client::update_channel`].
    pub fn member_policy(mut self, policy: MemberPolicy) -> Self {
        self.req.member_policy = Some(policy);
        self
    }

    async fn run(self) -> Result<Channel> {
        let mut req = self.req;
        if let Some(o) = self.options {
            req.options = Some(object("options", o)?);
        }
        let request = Client::with_body(Request::patch(channel_path(&self.channel_id, "")?), &req)?;
        self.client.json(request).await
    }
}
impl_send!(UpdateChannel, Channel, "update_channel");

/// Builder of [`Client::send_message`].
#[must_use = "a builder does nothing until .send() is awaited"]
#[derive(Debug)]
pub struct SendMessage<M: Mode = Async> {
    client: GenericClient<M>,
    channel_id: String,
    req: SendMessageRequest,
    payload: Option<Value>,
}

impl<M: Mode> SendMessage<M> {
    /// The content (a JSON object).
    ///
    /// Example: [`Client::send_message`].
    pub fn payload(mut self, payload: impl Into<Value>) -> Self {
        self.payload = Some(payload.into());
        self
    }

    /// The target: an agent id (required for a request).
    ///
    /// Example: [`Client::send_message`].
    pub fn to(mut self, to: impl Into<String>) -> Self {
        self.req.to = Some(to.into());
        self
    }

    /// The kind (default `notify`).
    ///
    /// Example: [`Client::send_message`].
    pub fn message_type(mut self, message_type: MessageType) -> Self {
        self.req.message_type = Some(message_type);
        self
    }

    /// The request this message answers.
    ///
    /// Example: [`Client::send_message`].
    pub fn correlation_id(mut self, id: impl Into<String>) -> Self {
        self.req.correlation_id = Some(id.into());
        self
    }

    /// When it expires.
    ///
    /// Example: [`Client::send_message`].
    pub fn expires_at(mut self, at: DateTime<Utc>) -> Self {
        self.req.expires_at = Some(at);
        self
    }

    /// The sender (default: the agent id).
    ///
    /// Example: [`Client::send_message`].
    pub fn sender(mut self, sender: impl Into<String>) -> Self {
        self.req.sender = sender.into();
        self
    }

    async fn run(self) -> Result<Message> {
        let mut req = self.req;
        if let Some(p) = self.payload {
            req.payload = object("payload", p)?;
        }
        let request = Client::with_body(Request::post(channel_path(&self.channel_id, "/messages")?), &req)?;
        self.client.json(request).await
    }
}
impl_send!(SendMessage, Message, "send_message");

/// Builder of [`Client::list_messages`].
#[must_use = "a builder does nothing until .send() is awaited"]
#[derive(Debug)]
pub struct ListMessages<M: Mode = Async> {
    client: GenericClient<M>,
    channel_id: String,
    since: Option<String>,
    to: Option<String>,
}

impl<M: Mode> ListMessages<M> {
    /// Only the messages after the message with this id.
    ///
    /// Example: [`Client::list_messages`].
    pub fn since(mut self, message_id: impl Into<String>) -> Self {
        self.since = Some(message_id.into());
        self
    }

    /// Only the messages to this target.
    ///
    /// Example: [`Client::list_messages`].
    pub fn to(mut self, to: impl Into<String>) -> Self {
        self.to = Some(to.into());
        self
    }

    async fn run(self) -> Result<Vec<Message>> {
        let mut req = Request::get(channel_path(&self.channel_id, "/messages")?);
        if let Some(s) = &self.since {
            req = req.query("since", s.as_str());
        }
        if let Some(t) = &self.to {
            req = req.query("to", t.as_str());
        }
        Ok(self.client.list(req).await?.items)
    }
}
impl_send!(ListMessages, Vec<Message>, "list_messages");

/// Builder of [`Client::reply_to`].
#[must_use = "a builder does nothing until .send() is awaited"]
#[derive(Debug)]
pub struct ReplyTo<M: Mode = Async> {
    client: GenericClient<M>,
    channel_id: String,
    message_id: String,
    req: ReplyRequest,
    payload: Option<Value>,
}

impl<M: Mode> ReplyTo<M> {
    /// The content (a JSON object).
    ///
    /// Example: [`Client::reply_to`].
    pub fn payload(mut self, payload: impl Into<Value>) -> Self {
        self.payload = Some(payload.into());
        self
    }

    async fn run(self) -> Result<Message> {
        let mut req = self.req;
        if let Some(p) = self.payload {
            req.payload = object("payload", p)?;
        }
        let path = message_path(&self.channel_id, &self.message_id, "/reply")?;
        self.client.json(Client::with_body(Request::post(path), &req)?).await
    }
}
impl_send!(ReplyTo, Message, "reply_to");
