//! Messaging channels of an intent and their messages (RFC-0021), kept in the database so that
//! every server process over it sees them. A sent message is published on its channel's stream
//! (`channel_message`, kept for `Last-Event-ID` resumes) by the transaction that writes it; an
//! audited channel (`options.audit`) also appends a `channel_message` event to the intent's log.

use openintent_types::{
    Channel, ChannelStatus, CreateChannelRequest, EventType, MemberPolicy, Message, MessageQuery, MessageStatus,
    MessageType, SendMessageRequest, UpdateChannelRequest,
};
use serde_json::json;

use super::db::{WriteTx, append_event, require_intent};
use super::driver::{Row, query, query_scalar};
use super::error::StoreError;
use super::rows::{as_obj, to_json, ts};
use super::streams::keep_stream_message;
use super::{Store, StoreResult, new_id, now};
use crate::notify;

/// The 404 detail of an unknown channel.
pub(crate) const CHANNEL_NOT_FOUND: &str = "Channel not found";
/// The 404 detail of an unknown message.
pub(crate) const MESSAGE_NOT_FOUND: &str = "Message not found";

const CHANNEL_COLS: &str = "c.id, c.intent_id, c.name, c.created_by, c.members, c.member_policy, c.task_id, c.options, \
     c.status, c.created_at, c.closed_at, \
     (SELECT COUNT(*) FROM channel_messages m WHERE m.channel_id = c.id) AS message_count, \
     (SELECT MAX(m.created_at) FROM channel_messages m WHERE m.channel_id = c.id) AS last_message_at";
const MESSAGE_COLS: &str = "id, channel_id, sender, to_target, message_type, correlation_id, payload, metadata, status, \
                            created_at, expires_at, read_at";

/// Why a channel may not be created or a message sent, beyond the body's own rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The intent has an open channel of that name.
    NameTaken,
    /// The channel is closed.
    Closed,
    /// The channel admits only its members and the sender is not one.
    NotMember,
}

impl Store {
    /// Creates a channel of the intent (refused when the intent has an open channel of that name).
    pub(crate) async fn create_channel(
        &self,
        intent_id: &str,
        req: &CreateChannelRequest,
        created_by: &str,
    ) -> StoreResult<Result<Channel, Refusal>> {
        let mut tx = self.db.begin().await?;
        require_intent(&mut tx, intent_id).await?;
        let taken: Option<String> =
            query_scalar("SELECT id FROM channels WHERE intent_id = $1 AND name = $2 AND status = 'open'")
                .bind(intent_id)
                .bind(&req.name)
                .fetch_optional(&mut *tx)
                .await?;
        if taken.is_some() {
            return Ok(Err(Refusal::NameTaken));
        }
        let mut c = Channel::default();
        c.id = new_id();
        c.intent_id = intent_id.to_owned();
        c.name = req.name.clone();
        c.created_by = created_by.to_owned();
        c.members = req.members.clone();
        c.member_policy = req.member_policy.clone().unwrap_or_default();
        c.task_id = req.task_id.clone();
        c.options = req.options.clone().unwrap_or_default();
        c.status = ChannelStatus::Open;
        c.created_at = now();
        query(
            "INSERT INTO channels (id, intent_id, name, created_by, members, member_policy, task_id, options, status, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&c.id)
        .bind(intent_id)
        .bind(&c.name)
        .bind(&c.created_by)
        .bind(to_json(&c.members))
        .bind(c.member_policy.as_str())
        .bind(&c.task_id)
        .bind(to_json(&c.options))
        .bind(c.status.as_str())
        .bind(ts(&c.created_at))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Ok(c))
    }

    /// The channels of an intent, in creation order.
    pub(crate) async fn list_channels(&self, intent_id: &str) -> StoreResult<Vec<Channel>> {
        let rows = query(&format!("SELECT {CHANNEL_COLS} FROM channels c WHERE c.intent_id = $1 ORDER BY c.seq"))
            .bind(intent_id)
            .fetch_all(&self.db.pool)
            .await?;
        rows.iter().map(channel_from_row).collect()
    }

    /// One channel.
    pub(crate) async fn get_channel(&self, id: &str) -> StoreResult<Option<Channel>> {
        let row = query(&format!("SELECT {CHANNEL_COLS} FROM channels c WHERE c.id = $1"))
            .bind(id)
            .fetch_optional(&self.db.pool)
            .await?;
        row.as_ref().map(channel_from_row).transpose()
    }

    /// Changes members, status (`closed` sets `closed_at`, `open` clears it), options or
    /// member policy.
    pub(crate) async fn update_channel(&self, id: &str, req: &UpdateChannelRequest) -> StoreResult<Channel> {
        let mut tx = self.db.begin().await?;
        let mut c = channel_in(&mut tx, id).await?;
        if let Some(m) = &req.members {
            c.members = m.clone();
        }
        if let Some(o) = &req.options {
            c.options = o.clone();
        }
        if let Some(p) = &req.member_policy {
            c.member_policy = p.clone();
        }
        if let Some(s) = &req.status
            && *s != c.status
        {
            c.closed_at = (*s == ChannelStatus::Closed).then(now);
            c.status = s.clone();
        }
        query(
            "UPDATE channels SET members = $1, options = $2, member_policy = $3, status = $4, closed_at = $5 \
             WHERE id = $6",
        )
        .bind(to_json(&c.members))
        .bind(to_json(&c.options))
        .bind(c.member_policy.as_str())
        .bind(c.status.as_str())
        .bind(c.closed_at.as_ref().map(ts))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.get_channel(id).await?.ok_or(StoreError::NotFound(CHANNEL_NOT_FOUND))
    }

    /// Sends a message (or, with `reply_to`, a reply to that message of the channel).
    pub(crate) async fn send_message(
        &self,
        channel_id: &str,
        req: &SendMessageRequest,
        reply_to: Option<&str>,
    ) -> StoreResult<Result<Message, Refusal>> {
        let mut tx = self.db.begin().await?;
        // The intent's row first (the lock order of every write), then the channel.
        let intent_id: Option<String> = query_scalar("SELECT intent_id FROM channels WHERE id = $1")
            .bind(channel_id)
            .fetch_optional(&mut *tx)
            .await?;
        let intent_id = intent_id.ok_or(StoreError::NotFound(CHANNEL_NOT_FOUND))?;
        require_intent(&mut tx, &intent_id).await?;
        let channel = channel_in(&mut tx, channel_id).await?;
        let mut m = Message::default();
        if let Some(original) = reply_to {
            let row = query(&format!("SELECT {MESSAGE_COLS} FROM channel_messages WHERE id = $1 AND channel_id = $2"))
                .bind(original)
                .bind(channel_id)
                .fetch_optional(&mut *tx)
                .await?;
            let original = message_from_row(&row.ok_or(StoreError::NotFound(MESSAGE_NOT_FOUND))?)?;
            m.to = Some(original.sender);
            m.message_type = MessageType::Response;
            m.correlation_id = Some(original.id);
        } else {
            m.to = req.to.clone();
            m.message_type = req.message_type.clone().unwrap_or_default();
            m.correlation_id = req.correlation_id.clone();
        }
        if channel.status == ChannelStatus::Closed {
            return Ok(Err(Refusal::Closed));
        }
        if channel.member_policy == MemberPolicy::Explicit && !channel.members.contains(&req.sender) {
            return Ok(Err(Refusal::NotMember));
        }
        m.id = new_id();
        m.channel_id = channel_id.to_owned();
        m.sender = req.sender.clone();
        m.payload = req.payload.clone();
        m.metadata = req.metadata.clone();
        m.status = MessageStatus::Delivered;
        m.created_at = now();
        m.expires_at = req.expires_at;
        query(&format!(
            "INSERT INTO channel_messages ({MESSAGE_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, NULL)"
        ))
        .bind(&m.id)
        .bind(channel_id)
        .bind(&m.sender)
        .bind(&m.to)
        .bind(m.message_type.as_str())
        .bind(&m.correlation_id)
        .bind(to_json(&m.payload))
        .bind(m.metadata.as_ref().map(to_json))
        .bind(m.status.as_str())
        .bind(ts(&m.created_at))
        .bind(m.expires_at.as_ref().map(ts))
        .execute(&mut *tx)
        .await?;
        if channel.is_audited() {
            let payload = as_obj(json!({
                "channel_id": channel_id, "message_id": m.id, "sender": m.sender, "to": m.to,
                "message_type": m.message_type.as_str(), "correlation_id": m.correlation_id,
            }));
            append_event(&mut tx, &intent_id, EventType::ChannelMessage, &m.sender, payload).await?;
        }
        keep_stream_message(&mut tx, &notify::channel_message(&m)).await?;
        tx.commit().await?;
        Ok(Ok(m))
    }

    /// The messages of a channel in sending order: after the message `since` (none when it is
    /// not a message of the channel), only those to `to` when given.
    pub(crate) async fn list_messages(&self, channel_id: &str, q: &MessageQuery) -> StoreResult<Vec<Message>> {
        let after: i64 = match &q.since {
            None => 0,
            Some(since) => {
                let seq: Option<i64> =
                    query_scalar("SELECT seq FROM channel_messages WHERE id = $1 AND channel_id = $2")
                        .bind(since)
                        .bind(channel_id)
                        .fetch_optional(&self.db.pool)
                        .await?;
                match seq {
                    Some(s) => s,
                    None => return Ok(Vec::new()),
                }
            }
        };
        let mut sql = format!("SELECT {MESSAGE_COLS} FROM channel_messages WHERE channel_id = $1 AND seq > $2");
        if q.to.is_some() {
            sql.push_str(" AND to_target = $3");
        }
        sql.push_str(" ORDER BY seq");
        let mut select = query(&sql).bind(channel_id).bind(after);
        if let Some(to) = &q.to {
            select = select.bind(to);
        }
        let rows = select.fetch_all(&self.db.pool).await?;
        rows.iter().map(message_from_row).collect()
    }

    /// One message of a channel.
    pub(crate) async fn get_message(&self, channel_id: &str, id: &str) -> StoreResult<Option<Message>> {
        let row = query(&format!("SELECT {MESSAGE_COLS} FROM channel_messages WHERE id = $1 AND channel_id = $2"))
            .bind(id)
            .bind(channel_id)
            .fetch_optional(&self.db.pool)
            .await?;
        row.as_ref().map(message_from_row).transpose()
    }

    /// Sets a message's status; `read` stamps `read_at` (once).
    pub(crate) async fn update_message(
        &self,
        channel_id: &str,
        id: &str,
        status: &MessageStatus,
    ) -> StoreResult<Message> {
        let mut tx = self.db.begin().await?;
        channel_in(&mut tx, channel_id).await?;
        let row = query(&format!("SELECT {MESSAGE_COLS} FROM channel_messages WHERE id = $1 AND channel_id = $2"))
            .bind(id)
            .bind(channel_id)
            .fetch_optional(&mut *tx)
            .await?;
        let mut m = message_from_row(&row.ok_or(StoreError::NotFound(MESSAGE_NOT_FOUND))?)?;
        m.status = status.clone();
        if *status == MessageStatus::Read && m.read_at.is_none() {
            m.read_at = Some(now());
        }
        query("UPDATE channel_messages SET status = $1, read_at = $2 WHERE id = $3")
            .bind(m.status.as_str())
            .bind(m.read_at.as_ref().map(ts))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(m)
    }

    /// The intent a channel belongs to (for the access check); `None` for an unknown channel.
    pub(crate) async fn channel_intent(&self, channel_id: &str) -> StoreResult<Option<String>> {
        Ok(query_scalar("SELECT intent_id FROM channels WHERE id = $1")
            .bind(channel_id)
            .fetch_optional(&self.db.pool)
            .await?)
    }
}

/// The channel, read in `tx` (404 when unknown).
async fn channel_in(tx: &mut WriteTx, id: &str) -> StoreResult<Channel> {
    let row = query(&format!("SELECT {CHANNEL_COLS} FROM channels c WHERE c.id = $1"))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    channel_from_row(&row.ok_or(StoreError::NotFound(CHANNEL_NOT_FOUND))?)
}

fn channel_from_row(r: &Row) -> StoreResult<Channel> {
    let mut c = Channel::default();
    c.id = r.try_get("id")?;
    c.intent_id = r.try_get("intent_id")?;
    c.name = r.try_get("name")?;
    c.created_by = r.try_get("created_by")?;
    c.members = r.json("members")?;
    c.member_policy = MemberPolicy::parse(&r.try_get::<String, _>("member_policy")?);
    c.task_id = r.try_get("task_id")?;
    c.options = r.json("options")?;
    c.status = ChannelStatus::parse(&r.try_get::<String, _>("status")?);
    c.created_at = r.try_get("created_at")?;
    c.closed_at = r.try_get("closed_at")?;
    c.message_count = u64::try_from(r.try_get::<i64, _>("message_count")?).unwrap_or(0);
    c.last_message_at = r.try_get("last_message_at")?;
    Ok(c)
}

fn message_from_row(r: &Row) -> StoreResult<Message> {
    let mut m = Message::default();
    m.id = r.try_get("id")?;
    m.channel_id = r.try_get("channel_id")?;
    m.sender = r.try_get("sender")?;
    m.to = r.try_get("to_target")?;
    m.message_type = MessageType::parse(&r.try_get::<String, _>("message_type")?);
    m.correlation_id = r.try_get("correlation_id")?;
    m.payload = r.json("payload")?;
    m.metadata = r.json("metadata")?;
    m.status = MessageStatus::parse(&r.try_get::<String, _>("status")?);
    m.created_at = r.try_get("created_at")?;
    m.expires_at = r.try_get("expires_at")?;
    m.read_at = r.try_get("read_at")?;
    Ok(m)
}
