//! The event log of an intent: logging an event, reading it back (filtered pages, one event, the
//! events after one, for the event streams). Events are appended by `db::append_event`, in the
//! transaction of the write they record.

use chrono::{DateTime, Utc};
use openintent_types::{EventType, IntentEvent, JsonObject};

use super::db::{Trace, append_traced_event, require_intent};
use super::driver::query;
use super::rows::{event_from_row, readable, ts};
use super::{EventFilter, Store, StoreResult, now};

impl Store {
    pub(crate) async fn log_event(
        &self,
        intent_id: &str,
        event_type: EventType,
        actor: &str,
        payload: JsonObject,
        trace: Trace,
    ) -> StoreResult<IntentEvent> {
        let mut tx = self.db.begin().await?;
        require_intent(&mut tx, intent_id).await?;
        let event = append_traced_event(&mut tx, intent_id, event_type, actor, payload, trace).await?;
        tx.commit().await?;
        Ok(event)
    }

    /// One event of an intent's log.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))] // read by the relay's listener
    pub(crate) async fn get_event(&self, intent_id: &str, id: &str) -> StoreResult<Option<IntentEvent>> {
        let row = query(
            "SELECT id, intent_id, event_type, actor, payload, created_at, trace_id, parent_event_id FROM events WHERE id = $1 AND intent_id = $2",
        )
        .bind(id)
        .bind(intent_id)
        .fetch_optional(&self.db.pool)
        .await?;
        row.as_ref().map(event_from_row).transpose()
    }

    pub(crate) async fn list_events(&self, intent_id: &str, f: &EventFilter) -> StoreResult<Vec<IntentEvent>> {
        let mut sql = String::from(
            "SELECT id, intent_id, event_type, actor, payload, created_at, trace_id, parent_event_id FROM events WHERE intent_id = $1",
        );
        let mut n = 1;
        if f.event_type.is_some() {
            n += 1;
            sql.push_str(&format!(" AND event_type = ${n}"));
        }
        if f.since.is_some() {
            n += 1;
            sql.push_str(&format!(" AND created_at > ${n}"));
        }
        sql.push_str(&format!(" ORDER BY created_at DESC, seq DESC LIMIT ${} OFFSET ${}", n + 1, n + 2));
        let mut q = query(&sql).bind(intent_id);
        if let Some(t) = &f.event_type {
            q = q.bind(t);
        }
        if let Some(s) = &f.since {
            q = q.bind(ts(s));
        }
        let rows = q.bind(f.limit).bind(f.offset).fetch_all(&self.db.pool).await?;
        readable(&rows, event_from_row)
    }

    /// The events of one distributed trace (RFC-0020) across intents, oldest first, at most
    /// `limit` after skipping `offset`, of the intents `reader` may read (filtered before the
    /// page is cut, so a page is full whenever enough readable events exist).
    pub(crate) async fn events_of_trace(
        &self,
        trace_id: &str,
        (limit, offset): (i64, i64),
        reader: &str,
    ) -> StoreResult<Vec<IntentEvent>> {
        let visible = super::acl::readable_by("intents", 2, 3);
        let rows = query(&format!(
            "SELECT events.id, events.intent_id, events.event_type, events.actor, events.payload, \
             events.created_at, events.trace_id, events.parent_event_id FROM events \
             JOIN intents ON intents.id = events.intent_id \
             WHERE events.trace_id = $1 AND {visible} ORDER BY events.created_at, events.seq LIMIT $4 OFFSET $5"
        ))
        .bind(trace_id)
        .bind(reader)
        .bind(now())
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.db.pool)
        .await?;
        readable(&rows, event_from_row)
    }

    /// Up to `limit` events of an intent after the one with id `after` (from the first when
    /// `None`), in log order, oldest first; `None` when `after` is not in this intent's log.
    pub(crate) async fn events_after(
        &self,
        intent_id: &str,
        after: Option<&str>,
        limit: i64,
    ) -> StoreResult<Option<Vec<IntentEvent>>> {
        // Log order is (created_at, seq), as in `list_events`; start after `after`'s place in it.
        let rows = match after {
            None => query(
                "SELECT id, intent_id, event_type, actor, payload, created_at, trace_id, parent_event_id FROM events \
                     WHERE intent_id = $1 ORDER BY created_at, seq LIMIT $2",
            )
            .bind(intent_id)
            .bind(limit)
            .fetch_all(&self.db.pool)
            .await?,
            Some(after) => {
                let row = query("SELECT created_at, seq FROM events WHERE id = $1 AND intent_id = $2")
                    .bind(after)
                    .bind(intent_id)
                    .fetch_optional(&self.db.pool)
                    .await?;
                let Some(row) = row else { return Ok(None) };
                let (created_at, seq) = (row.try_get::<DateTime<Utc>, _>("created_at")?, row.try_get::<i64, _>("seq")?);
                query(
                    "SELECT id, intent_id, event_type, actor, payload, created_at, trace_id, parent_event_id FROM events \
                     WHERE intent_id = $1 AND (created_at > $2 OR (created_at = $2 AND seq > $3)) \
                     ORDER BY created_at, seq LIMIT $4",
                )
                .bind(intent_id)
                .bind(created_at)
                .bind(seq)
                .bind(limit)
                .fetch_all(&self.db.pool)
                .await?
            }
        };
        rows.iter().map(event_from_row).collect::<StoreResult<Vec<_>>>().map(Some)
    }
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::config::DatabaseLocation;
    use crate::store::NewIntent;

    #[tokio::test]
    async fn the_event_log_is_append_only() {
        let store = Store::open(&DatabaseLocation::Memory).await.unwrap();
        let new = NewIntent::draft("t");
        let (intent, event) = store.create_intent(new).await.unwrap();
        let update =
            query("UPDATE events SET actor = 'forged' WHERE id = $1").bind(&event.id).execute(&store.db.pool).await;
        assert!(update.unwrap_err().to_string().contains("append-only"));
        let delete = query("DELETE FROM events WHERE id = $1").bind(&event.id).execute(&store.db.pool).await;
        assert!(delete.is_err());
        let events = store.list_events(&intent.id, &EventFilter { limit: 10, ..Default::default() }).await.unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].actor, "me");
    }
}
