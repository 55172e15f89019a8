//! Reading and writing rows: new ids and the time at the stored precision, the column lists, the
//! text forms of timestamps and JSON documents, and the models read back from rows.

use chrono::{DateTime, SubsecRound, Utc};
use openintent_types::time::{format_wire, parse_timestamp};
use openintent_types::{EventType, Intent, IntentEvent, IntentStatus, JsonObject, Lease, Portfolio, PortfolioStatus};
use serde_json::{Map, Value};
use sqlx::Row;
use sqlx::any::AnyRow;

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

pub(super) fn ts(dt: &DateTime<Utc>) -> String {
    format_wire(dt)
}

pub(super) fn parse_ts(s: &str) -> StoreResult<DateTime<Utc>> {
    parse_timestamp(s).map_err(|e| StoreError::Corrupt(format!("stored timestamp unreadable: {e}")))
}

pub(super) fn opt_ts(s: Option<String>) -> StoreResult<Option<DateTime<Utc>>> {
    s.as_deref().map(parse_ts).transpose()
}

/// A JSON document read back from storage.
pub(super) fn read_json<T: serde::de::DeserializeOwned>(s: &str) -> StoreResult<T> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("stored JSON could not be read: {e}")))
}

pub(super) fn obj(s: &str) -> StoreResult<JsonObject> {
    read_json(s)
}

pub(super) fn opt_obj(s: Option<String>) -> StoreResult<Option<JsonObject>> {
    s.as_deref().map(obj).transpose()
}

pub(super) fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".to_owned())
}

pub(super) fn as_obj(v: Value) -> JsonObject {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

pub(super) fn intent_from_row(r: &AnyRow) -> StoreResult<Intent> {
    let mut i = Intent::default();
    i.id = r.try_get("id")?;
    i.title = r.try_get("title")?;
    i.description = r.try_get("description")?;
    i.created_by = r.try_get("created_by")?;
    i.parent_id = r.try_get("parent_id")?;
    i.depends_on = read_json(&r.try_get::<String, _>("depends_on")?)?;
    i.constraints = obj(&r.try_get::<String, _>("constraints_doc")?)?;
    i.state = obj(&r.try_get::<String, _>("state")?)?;
    i.status = IntentStatus::parse(&r.try_get::<String, _>("status")?);
    i.confidence = r.try_get("confidence")?;
    i.version = r.try_get("version")?;
    i.governance_policy = opt_obj(r.try_get("governance_policy")?)?;
    i.created_at = parse_ts(&r.try_get::<String, _>("created_at")?)?;
    i.updated_at = parse_ts(&r.try_get::<String, _>("updated_at")?)?;
    Ok(i)
}

pub(super) fn event_from_row(r: &AnyRow) -> StoreResult<IntentEvent> {
    let mut e = IntentEvent::new(
        r.try_get::<String, _>("id")?,
        r.try_get::<String, _>("intent_id")?,
        EventType::parse(&r.try_get::<String, _>("event_type")?),
        r.try_get::<String, _>("actor")?,
    );
    e.payload = obj(&r.try_get::<String, _>("payload")?)?;
    e.created_at = parse_ts(&r.try_get::<String, _>("created_at")?)?;
    // The tracing fields (RFC-0020), where the query selected them.
    e.trace_id = r.try_get::<Option<String>, _>("trace_id").ok().flatten();
    e.parent_event_id = r.try_get::<Option<String>, _>("parent_event_id").ok().flatten();
    Ok(e)
}

pub(super) fn lease_from_row(r: &AnyRow) -> StoreResult<Lease> {
    let mut l = Lease::new(
        r.try_get::<String, _>("id")?,
        r.try_get::<String, _>("intent_id")?,
        r.try_get::<String, _>("agent_id")?,
        r.try_get::<String, _>("scope")?,
        0,
    );
    l.acquired_at = parse_ts(&r.try_get::<String, _>("acquired_at")?)?;
    l.expires_at = parse_ts(&r.try_get::<String, _>("expires_at")?)?;
    l.released_at = opt_ts(r.try_get("released_at")?)?;
    Ok(l)
}

pub(super) fn portfolio_from_row(r: &AnyRow) -> StoreResult<Portfolio> {
    let mut p = Portfolio::default();
    p.id = r.try_get("id")?;
    p.name = r.try_get("name")?;
    p.description = r.try_get("description")?;
    p.created_by = r.try_get("created_by")?;
    p.status = PortfolioStatus::parse(&r.try_get::<String, _>("status")?);
    p.governance_policy = obj(&r.try_get::<String, _>("governance_policy")?)?;
    p.metadata = opt_obj(r.try_get("metadata")?)?;
    p.created_at = parse_ts(&r.try_get::<String, _>("created_at")?)?;
    p.updated_at = parse_ts(&r.try_get::<String, _>("updated_at")?)?;
    Ok(p)
}
