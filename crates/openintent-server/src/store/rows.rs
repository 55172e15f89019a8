//! Reading and writing rows: new ids and the time at the stored precision, the column lists, the
//! values bound for timestamps and JSON documents, and the models read back from rows.

use chrono::{DateTime, SubsecRound, Utc};
use openintent_types::{EventType, Intent, IntentEvent, IntentStatus, JsonObject, Lease, Portfolio, PortfolioStatus};
use serde_json::{Map, Value};

use super::driver::{JsonDoc, Row};
use super::error::StoreResult;

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

pub(super) fn intent_from_row(r: &Row) -> StoreResult<Intent> {
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
