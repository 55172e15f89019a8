//! The kept messages of the portfolio and agent event streams, from which a subscriber resumes
//! with `Last-Event-ID` (the intent streams resume from the event log).

use super::db::{Dialect, WriteTx};
use super::driver::{query, query_scalar};
use super::rows::ts;
use super::{Store, StoreResult, StreamMessage, now};
use crate::notify::{Channel, Notification};

/// Keeps a portfolio or agent stream message in `tx`, so that a subscriber can resume past
/// it with `Last-Event-ID`, and publishes it ([`WriteTx::publish`]).
///
/// On PostgreSQL a transaction-scoped advisory lock on the channel is taken first: writers
/// of one channel then allocate `seq` and commit one after the other, so `seq` order is
/// commit order and a resume (`seq` greater than the last one seen) skips nothing. The
/// lock is taken last in the transaction, after any intent row lock, so it adds no
/// deadlock. SQLite runs one write transaction at a time.
pub(super) async fn keep_stream_message(tx: &mut WriteTx, n: &Notification) -> StoreResult<()> {
    let channel = n.channel.key();
    if tx.dialect == Dialect::Postgres {
        query("SELECT pg_advisory_xact_lock(hashtext($1))").bind(&channel).execute(&mut **tx).await?;
    }
    query("INSERT INTO stream_messages (id, channel, event, data, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(&n.id)
        .bind(&channel)
        .bind(&n.event)
        .bind(&n.data)
        .bind(ts(&now()))
        .execute(&mut **tx)
        .await?;
    tx.publish(n.clone()).await
}

impl Store {
    /// Whether the SDK-style stream of `channel` (an agent's or a portfolio's) carries the
    /// changes of `intent_id` to `reader` now: the intent is assigned to the agent (a member of
    /// the portfolio) and `reader` may read it (the rule of `crate::rules::acl`). Other
    /// channels follow no intent.
    pub(crate) async fn stream_follows(&self, channel: &Channel, intent_id: &str, reader: &str) -> StoreResult<bool> {
        let (table, column, owner) = match channel {
            Channel::Agent(agent) => ("agent_assignments", "agent_id", agent),
            Channel::Portfolio(portfolio) => ("portfolio_memberships", "portfolio_id", portfolio),
            Channel::Intent(_) | Channel::Messages(_) | Channel::Inbox(_) => return Ok(false),
        };
        let visible = super::acl::readable_by("intents", 1, 2);
        let sql = format!(
            "SELECT 1 FROM intents WHERE intents.id = $3 AND EXISTS (SELECT 1 FROM {table} f \
             WHERE f.intent_id = intents.id AND f.{column} = $4) AND {visible}"
        );
        let found: Option<i64> = query_scalar(&sql)
            .bind(reader)
            .bind(now())
            .bind(intent_id)
            .bind(owner.as_str())
            .fetch_optional(&self.db.pool)
            .await?;
        Ok(found.is_some())
    }

    /// The intents `agent_id` is assigned to (for the SDK-style agent stream).
    pub(crate) async fn assigned_intents(&self, agent_id: &str) -> StoreResult<std::collections::HashSet<String>> {
        let rows = query("SELECT DISTINCT intent_id FROM agent_assignments WHERE agent_id = $1")
            .bind(agent_id)
            .fetch_all(&self.db.pool)
            .await?;
        Ok(rows.iter().map(|r| r.try_get::<String, _>("intent_id")).collect::<Result<_, _>>()?)
    }

    /// The newest message id of a portfolio or agent stream channel (`Channel::key`).
    pub(crate) async fn newest_stream_message(&self, channel: &str) -> StoreResult<Option<String>> {
        Ok(query_scalar("SELECT id FROM stream_messages WHERE channel = $1 ORDER BY seq DESC LIMIT 1")
            .bind(channel)
            .fetch_optional(&self.db.pool)
            .await?)
    }

    /// Up to `limit` messages of a channel after the one with id `after` (from the first when
    /// `None`), oldest first; `None` when `after` is not a message of that channel.
    pub(crate) async fn stream_messages_after(
        &self,
        channel: &str,
        after: Option<&str>,
        limit: i64,
    ) -> StoreResult<Option<Vec<StreamMessage>>> {
        let seq: i64 = match after {
            None => 0,
            Some(after) => {
                let seq = query_scalar("SELECT seq FROM stream_messages WHERE id = $1 AND channel = $2")
                    .bind(after)
                    .bind(channel)
                    .fetch_optional(&self.db.pool)
                    .await?;
                let Some(seq) = seq else { return Ok(None) };
                seq
            }
        };
        let rows =
            query("SELECT id, event, data FROM stream_messages WHERE channel = $1 AND seq > $2 ORDER BY seq LIMIT $3")
                .bind(channel)
                .bind(seq)
                .bind(limit)
                .fetch_all(&self.db.pool)
                .await?;
        rows.iter()
            .map(|r| Ok(StreamMessage { id: r.try_get("id")?, event: r.try_get("event")?, data: r.json("data")? }))
            .collect::<StoreResult<Vec<_>>>()
            .map(Some)
    }
}
