//! Reading and writing rows: new ids and the time at the stored precision, the column lists, the
//! values bound for timestamps and JSON documents, and the models read back from rows.

use chrono::{DateTime, SubsecRound, Utc};
use openintent_types::{EventType, Intent, IntentEvent, IntentStatus, JsonObject, Lease, Portfolio, PortfolioStatus};
use serde_json::{Map, Value};

use super::driver::{JsonDoc, Row};
use super::error::{StoreError, StoreResult};

/// The current time at the precision stored (microseconds).
pub(crate) fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// A new random id (a UUID v4).
pub(crate) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub(super) const INTENT_COLS: &str = "id, title, description, created_by, parent_id, depends_on, constraints_doc, state, status, \
                           confidence, version, governance_policy, created_at, updated_at";
pub(super) const LEASE_COLS: &str = "id, intent_id, agent_id, scope, acquired_at, expires_at, released_at";
pub(super) const PORTFOLIO_COLS: &str =
    "id, name, description, created_by, status, governance_policy, metadata, created_at, updated_at";

/// The value bound for a timestamp (`TIMESTAMPTZ` on PostgreSQL, wire-format text on SQLite).
pub(super) fn ts(dt: &DateTime<Utc>) -> DateTime<Utc> {
    *dt
}

/// The value bound for a JSON document (`JSONB` on PostgreSQL, text on SQLite).
pub(super) fn to_json<T: serde::Serialize>(v: &T) -> JsonDoc {
    JsonDoc::of(v)
}

pub(super) fn as_obj(v: Value) -> JsonObject {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// `read` of row `r`, a `kind` (`intent`, `event`, ...): a stored value that cannot be read
/// back (a JSON document or timestamp that does not parse) is [`StoreError::Unreadable`],
/// naming the row's id.
fn named<T>(kind: &'static str, r: &Row, read: impl FnOnce() -> StoreResult<T>) -> StoreResult<T> {
    let unreadable = |reason: String| StoreError::Unreadable {
        kind,
        id: r.try_get::<String, _>("id").unwrap_or_else(|_| "<unknown>".to_owned()),
        reason,
    };
    read().map_err(|e| match e {
        StoreError::Corrupt(reason) => unreadable(reason),
        StoreError::Database(e @ (sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_))) => {
            unreadable(e.to_string())
        }
        other => other,
    })
}

/// The rows of a list read with `read`, leaving out (and logging, with its id) each row that
/// cannot be read back, so that one damaged row never breaks a list for everyone.
/// `openintent-server repair` lists and resets such rows.
pub(super) fn readable<T>(rows: &[Row], read: impl Fn(&Row) -> StoreResult<T>) -> StoreResult<Vec<T>> {
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        match read(r) {
            Ok(v) => out.push(v),
            Err(StoreError::Unreadable { kind, id, reason }) => {
                tracing::error!(kind, id = %id, %reason, "left an unreadable row out of a list; see `openintent-server repair`");
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

pub(super) fn intent_from_row(r: &Row) -> StoreResult<Intent> {
    named("intent", r, || intent_fields(r))
}

fn intent_fields(r: &Row) -> StoreResult<Intent> {
    let mut i = Intent::default();
    i.id = r.try_get("id")?;
    i.title = r.try_get("title")?;
    i.description = r.try_get("description")?;
    i.created_by = r.try_get("created_by")?;
    i.parent_id = r.try_get("parent_id")?;
    i.depends_on = r.json("depends_on")?;
    i.constraints = r.json("constraints_doc")?;
    i.state = r.json("state")?;
    i.status = IntentStatus::parse(&r.try_get::<String, _>("status")?);
    i.confidence = r.try_get("confidence")?;
    i.version = r.try_get("version")?;
    i.governance_policy = r.json("governance_policy")?;
    i.created_at = r.try_get("created_at")?;
    i.updated_at = r.try_get("updated_at")?;
    Ok(i)
}

pub(super) fn event_from_row(r: &Row) -> StoreResult<IntentEvent> {
    named("event", r, || event_fields(r))
}

fn event_fields(r: &Row) -> StoreResult<IntentEvent> {
    let mut e = IntentEvent::new(
        r.try_get::<String, _>("id")?,
        r.try_get::<String, _>("intent_id")?,
        EventType::parse(&r.try_get::<String, _>("event_type")?),
        r.try_get::<String, _>("actor")?,
    );
    e.payload = r.json("payload")?;
    e.created_at = r.try_get("created_at")?;
    // The tracing fields (RFC-0020), where the query selected them.
    e.trace_id = r.try_get::<Option<String>, _>("trace_id").ok().flatten();
    e.parent_event_id = r.try_get::<Option<String>, _>("parent_event_id").ok().flatten();
    Ok(e)
}

pub(super) fn lease_from_row(r: &Row) -> StoreResult<Lease> {
    let mut l = Lease::new(
        r.try_get::<String, _>("id")?,
        r.try_get::<String, _>("intent_id")?,
        r.try_get::<String, _>("agent_id")?,
        r.try_get::<String, _>("scope")?,
        0,
    );
    l.acquired_at = r.try_get("acquired_at")?;
    l.expires_at = r.try_get("expires_at")?;
    l.released_at = r.try_get("released_at")?;
    Ok(l)
}

pub(super) fn portfolio_from_row(r: &Row) -> StoreResult<Portfolio> {
    named("portfolio", r, || portfolio_fields(r))
}

fn portfolio_fields(r: &Row) -> StoreResult<Portfolio> {
    let mut p = Portfolio::default();
    p.id = r.try_get("id")?;
    p.name = r.try_get("name")?;
    p.description = r.try_get("description")?;
    p.created_by = r.try_get("created_by")?;
    p.status = PortfolioStatus::parse(&r.try_get::<String, _>("status")?);
    p.governance_policy = r.json("governance_policy")?;
    p.metadata = r.json("metadata")?;
    p.created_at = r.try_get("created_at")?;
    p.updated_at = r.try_get("updated_at")?;
    Ok(p)
}
