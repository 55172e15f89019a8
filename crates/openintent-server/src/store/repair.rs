//! Operator repair of stored rows that cannot be read back (`openintent-server repair`): list
//! them, and reset an intent's state.

use openintent_types::{EventType, IntentEvent};
use serde_json::json;

use super::Store;
use super::db::{INTENT_NOT_FOUND, append_event, lock_intent};
use super::driver::query;
use super::error::{StoreError, StoreResult};
use super::rows::{INTENT_COLS, PORTFOLIO_COLS, as_obj, event_from_row, intent_from_row, now, portfolio_from_row, ts};

/// A stored row that cannot be read back, as [`Store::unreadable_rows`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UnreadableRow {
    /// What the row is: `intent`, `event` or `portfolio`.
    pub kind: &'static str,
    /// The row's id.
    pub id: String,
    /// Why it cannot be read.
    pub reason: String,
}

/// Reads a row of a table, to see whether it can be read.
type ReadRow = fn(&super::driver::Row) -> StoreResult<()>;

/// Rows read per query while scanning a table.
const PAGE: i64 = 500;

impl Store {
    /// Every intent, event and portfolio row that cannot be read back (a JSON document nested
    /// deeper than the JSON reader takes, text that does not parse, ...), scanning the tables
    /// a page at a time.
    pub async fn unreadable_rows(&self) -> Result<Vec<UnreadableRow>, StoreError> {
        let mut found = Vec::new();
        let tables: [(&str, String, ReadRow); 3] = [
            ("intent", format!("SELECT {INTENT_COLS} FROM intents"), |r| intent_from_row(r).map(drop)),
            (
                "event",
                "SELECT id, intent_id, event_type, actor, payload, created_at, trace_id, parent_event_id FROM events"
                    .to_owned(),
                |r| event_from_row(r).map(drop),
            ),
            ("portfolio", format!("SELECT {PORTFOLIO_COLS} FROM portfolios"), |r| portfolio_from_row(r).map(drop)),
        ];
        for (_, select, read) in &tables {
            let sql = format!("{select} ORDER BY id LIMIT $1 OFFSET $2");
            let mut offset = 0_i64;
            loop {
                let rows = query(&sql).bind(PAGE).bind(offset).fetch_all(&self.db.pool).await?;
                for r in &rows {
                    match read(r) {
                        Ok(()) => {}
                        Err(StoreError::Unreadable { kind, id, reason }) => {
                            found.push(UnreadableRow { kind, id, reason })
                        }
                        Err(e) => return Err(e),
                    }
                }
                if i64::try_from(rows.len()).unwrap_or(0) < PAGE {
                    break;
                }
                offset += PAGE;
            }
        }
        Ok(found)
    }

    /// Replaces an intent's state by `{}` (whatever it held, readable or not), as `actor`:
    /// the version goes up by one and a `state_patched` event records the reset as a patch
    /// setting the whole state (`{"op": "set", "path": "", "value": {}}`, with `"repair": true`),
    /// so that streams, webhooks and replays of the log see it like any other write.
    pub async fn reset_state(&self, intent_id: &str, actor: &str) -> Result<IntentEvent, StoreError> {
        let mut tx = self.db.begin().await?;
        if !lock_intent(&mut tx, intent_id).await? {
            return Err(StoreError::NotFound(INTENT_NOT_FOUND));
        }
        let t = now();
        query("UPDATE intents SET state = $1, version = version + 1, updated_at = $2 WHERE id = $3")
            .bind(json!({}))
            .bind(ts(&t))
            .bind(intent_id)
            .execute(&mut *tx)
            .await?;
        let version: i64 = super::driver::query_scalar("SELECT version FROM intents WHERE id = $1")
            .bind(intent_id)
            .fetch_one(&mut *tx)
            .await?;
        let payload = json!({
            "patches": [{"op": "set", "path": "", "value": {}}],
            "version": version,
            "repair": true,
        });
        let event = append_event(&mut tx, intent_id, EventType::StatePatched, actor, as_obj(payload)).await?;
        tx.commit().await?;
        Ok(event)
    }
}
